//! Builds the eBPF program (`../rust-app-ebpf`) into `OUT_DIR/rust-app.bpf.o`, which
//! `src/main.rs` embeds with `include_bytes!`.
//!
//! bpfkit-build runs `cargo build` for the eBPF target with the Rust release it pins
//! (`bpfkit_build::PINNED_RUST`, through rustup, with its rust-src component) and bpf-linker;
//! when one of them is missing, the build fails with the command that installs it. The eBPF
//! crate is rebuilt when its sources, or those of the crates it uses, change.

fn main() {
    if let Err(error) = bpfkit_build::EbpfBuild::new("../rust-app-ebpf").build() {
        // cargo shows a failed build script's stderr; a panic would add a backtrace hint.
        eprintln!("error: building the eBPF program: {error}");
        std::process::exit(1);
    }
}
