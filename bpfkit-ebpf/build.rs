//! Chooses the traced architecture for `ProbeContext::arg`/`ret` (`struct pt_regs` differs per
//! architecture, and the eBPF target itself says nothing about the kernel it will run on).
//!
//! In order: a `--cfg bpf_target_arch="..."` the user passed in RUSTFLAGS, the
//! `BPFKIT_TARGET_ARCH` variable (for builds whose RUSTFLAGS are not the user's, such as
//! `bpfkit-build`'s), else the architecture of the machine building the program, which is the
//! kernel it traces unless cross-compiling.

use std::env;

/// Architectures whose `pt_regs` argument registers `ProbeContext` knows.
const SUPPORTED: [&str; 2] = ["x86_64", "aarch64"];

fn main() {
    println!("cargo:rerun-if-env-changed=BPFKIT_TARGET_ARCH");
    let arch = env::var("CARGO_CFG_BPF_TARGET_ARCH")
        .or_else(|_| env::var("BPFKIT_TARGET_ARCH"))
        .unwrap_or_else(|_| {
            // HOST is the triple of the machine running this build script, e.g.
            // x86_64-unknown-linux-gnu; its first component is the architecture.
            let host = env::var("HOST").unwrap_or_default();
            host.split('-').next().unwrap_or_default().to_owned()
        });
    if SUPPORTED.contains(&arch.as_str()) {
        println!("cargo:rustc-cfg=bpf_target_arch=\"{arch}\"");
    } else {
        println!(
            "cargo:warning=bpfkit-ebpf: no pt_regs layout for architecture `{arch}`, so \
             ProbeContext::arg/ret are not available; set BPFKIT_TARGET_ARCH to one of {SUPPORTED:?}"
        );
    }
}
