//! Development tasks for the bpfkit workspace.
//!
//! ```text
//! cargo run -p xtask -- build-test-progs   rebuild bpfkit/tests/objects from bpfkit/tests/progs
//! cargo run -p xtask -- check-test-progs   fail if a committed object is not what its source builds to
//! cargo run -p xtask -- build-rust-progs   rebuild bpfkit/tests/objects/rust from bpfkit/tests/rust-progs
//! cargo run -p xtask -- check-rust-progs   fail if a committed Rust object is not what its source builds to
//! cargo run -p xtask -- check-template     `bpfkit new`, build the project and run its self-check (root)
//! cargo run -p xtask -- compat [--bpfkit BIN] [--write]
//!                                          which realworld objects bpftool (and bpfkit) load
//! ```
//!
//! The compiled test objects are committed so that `cargo test` needs no C toolchain; these tasks
//! keep them honest. Only the standard library is used, and external tools (clang-19, bpftool)
//! are run as commands.

mod compat;
mod elf;
mod helpers;
mod progs;
mod rust_progs;
mod template;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: cargo run -p xtask -- <task>
tasks:
  build-test-progs          rebuild every bpfkit/tests/objects/**/*.o from bpfkit/tests/progs
                            (clang-19, pinned flags; built twice to prove the output is reproducible)
  check-test-progs          rebuild into a temporary directory and fail if a committed object differs
  build-rust-progs          rebuild every bpfkit/tests/objects/rust/*.bpf.o from bpfkit/tests/rust-progs
                            (Rust 1.95.0 + RUSTC_BOOTSTRAP=1, -Z build-std=core, bpf-linker 0.10.4;
                            built twice to prove the output is reproducible)
  check-rust-progs          rebuild them and fail if a committed Rust object differs
  check-bpfeb               build the Rust test programs for bpfeb-unknown-none (and the aarch64
                            pt_regs layout) and check they parse as their committed bpfel twins
  check-template            write a project with `bpfkit new` into a temporary directory, build it
                            with the default cargo (its build.rs builds the eBPF crate) and run it
                            with --check, which needs the kernel program's event (needs root)
  gen-helpers [--bpf-h PATH] [--btf PATH] [--check]
                            write bpfkit-ebpf/src/helpers/generated.rs, the raw bindings of every
                            helper, from the kernel's bpf.h and BTF (--check: fail when stale)
  compat [--bpfkit BIN] [--write]
                            load each realworld object with `bpftool prog loadall` (on a private
                            bpffs) and with `bpfkit load`; --write records bpftool's results in
                            bpfkit/tests/objects/realworld/bpftool-compat.txt (needs root)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    let result = match args.first().map(String::as_str) {
        Some("build-test-progs") => progs::build(&root),
        Some("check-test-progs") => progs::check(&root),
        Some("build-rust-progs") => rust_progs::build(&root),
        Some("check-rust-progs") => rust_progs::check(&root),
        Some("check-bpfeb") => rust_progs::check_bpfeb(&root),
        Some("check-template") => template::check(&root),
        Some("compat") => compat::parse_args(args.get(1..).unwrap_or_default())
            .and_then(|options| compat::run(&root, &options)),
        Some("gen-helpers") => helpers::parse_args(args.get(1..).unwrap_or_default())
            .and_then(|options| helpers::run(&root, &options)),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("expected a task\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: xtask lives in `<root>/xtask`.
fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}

/// A temporary directory removed when dropped (std has none).
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new(label: &str) -> Result<TempDir, String> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("bpfkit-xtask-{label}-{}-{n}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path)
                .map_err(|e| format!("removing stale {}: {e}", path.display()))?;
        }
        std::fs::create_dir_all(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a leftover temp dir is harmless, and Drop cannot report.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
