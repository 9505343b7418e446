//! Write eBPF programs in Rust, loadable by bpfkit and by libbpf/bpftool alike.
//!
//! * [`macros`]: `#[xdp]`, `#[classifier]`, `#[tracepoint("cat/name")]`, ... turn a function into
//!   a program entry point in the section libbpf expects; `#[map]` places a map in `.maps`.
//! * [`maps`]: BTF-defined maps ([`maps::HashMap`], [`maps::Array`], [`maps::PerCpuArray`],
//!   [`maps::RingBuf`]) whose type, sizes and limits are carried by their BTF type, the way
//!   libbpf's `__uint`/`__type` macros do it in C.
//! * [`programs`]: typed contexts; packet contexts give bounds-checked access the verifier accepts.
//! * [`helpers`]: raw `bpf_*` helper bindings and safe wrappers for the common ones.
//! * [`global`]: reading `.rodata` constants that user space sets before load.
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//!
//! use bpfkit_ebpf::{bindings::xdp_action::XDP_PASS, macros::{map, xdp}, maps::HashMap};
//! use bpfkit_ebpf::programs::XdpContext;
//!
//! #[map]
//! static counts: HashMap<u32, u64, 1024> = HashMap::new();
//!
//! #[xdp]
//! fn count(ctx: XdpContext) -> u32 {
//!     let key = u32::from(ctx.load::<u8>(23).unwrap_or(0)); // IPv4 protocol, bounds-checked
//!     if let Some(value) = counts.get_ptr_mut(&key) {
//!         unsafe { bpfkit_ebpf::atomic::add_u64(value, 1) };
//!     }
//!     XDP_PASS
//! }
//!
//! bpfkit_ebpf::license!("Dual MIT/GPL");
//!
//! #[panic_handler]
//! fn panic(_: &core::panic::PanicInfo) -> ! {
//!     loop {}
//! }
//! ```
//!
//! Build for `bpfel-unknown-none` (or `bpfeb-unknown-none`) with nightly,
//! `-Z build-std=core` and bpf-linker, with debug info on so that bpf-linker emits BTF (the
//! `xtask build-rust-progs` task shows the exact command).

#![no_std]
// The atomic add intrinsic (see `atomic`): the BPF targets have no CAS, so core offers no fetch_add.
#![allow(internal_features)]
#![feature(core_intrinsics)]
#![deny(missing_docs)]

pub mod atomic;
pub mod bindings;
pub mod core_read;
pub mod global;
pub mod helpers;
pub mod log;
pub mod maps;
pub mod mem;
pub mod programs;

/// The attribute macros: program entry points and `#[map]`.
pub mod macros {
    pub use bpfkit_ebpf_macros::{
        btf_tracepoint, cgroup_device, cgroup_skb, cgroup_sock, cgroup_sock_addr, cgroup_sockopt,
        cgroup_sysctl, classifier, fentry, fexit, flow_dissector, iter, kernel_enum, kernel_struct,
        kprobe, kretprobe, lsm, map, perf_event, raw_tracepoint, sk_lookup, sk_msg, sock_ops,
        socket_filter, stream_parser, stream_verdict, tracepoint, uprobe, uretprobe, xdp,
    };
}

/// Declares the `license` section the kernel reads to allow GPL-only helpers:
/// `bpfkit_ebpf::license!("Dual MIT/GPL");`
#[macro_export]
macro_rules! license {
    ($license:literal) => {
        #[no_mangle]
        #[link_section = "license"]
        #[used]
        static LICENSE: [u8; $license.len() + 1] = {
            let text = $license.as_bytes();
            let mut bytes = [0u8; $license.len() + 1];
            let mut i = 0;
            while i < text.len() {
                bytes[i] = text[i];
                i += 1;
            }
            bytes
        };
    };
}
