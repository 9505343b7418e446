//! # bpfkit
//!
//! A pure-Rust eBPF library: parse eBPF objects, create their maps, relocate and load their
//! programs, attach them, and talk to them, speaking to the kernel directly (`bpf(2)`, netlink).
//! No libbpf, no C toolchain at build time.
//!
//! ```no_run
//! # fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use bpfkit::maps::HashMap;
//! use bpfkit::programs::{Xdp, XdpFlags};
//!
//! let mut ebpf = bpfkit::Ebpf::load_file("xdp_count.bpf.o")?;
//! let xdp: &mut Xdp = ebpf.program_mut("xdp_count").ok_or("no program")?.try_into()?;
//! let _link = xdp.attach(bpfkit::sys::ifindex("veth0")?, XdpFlags::SKB_MODE)?;
//! let counts: HashMap<_, u32, u64> = HashMap::try_from(ebpf.map("counts").ok_or("no map")?)?;
//! for entry in counts.iter() {
//!     let (protocol, packets) = entry?;
//!     println!("protocol {protocol}: {packets} packets");
//! }
//! # Ok(()) }
//! ```
//!
//! Layout: [`sys`] is the only module with raw syscalls; [`maps`] and [`programs`] hold one
//! module per map and program type; [`links`] the attachments; [`Ebpf`] and [`EbpfLoader`] the
//! loader. With the features `tokio` or `async-io` (both off by default), `runtime` awaits the
//! ring buffer, perf buffer and log readers. The object model (ELF, BTF, relocations, instructions) is the pure crate
//! [`bpfkit_obj`], re-exported as [`obj`].

#![deny(missing_docs)]

pub mod btf;
pub mod externs;
pub mod features;
pub mod links;
mod loader;
pub mod log;
pub mod maps;
mod pod;
pub mod programs;
#[cfg(any(feature = "tokio", feature = "async-io"))]
pub mod runtime;
pub mod sys;

pub use bpfkit_obj as obj;
pub use loader::{pin_name, Ebpf, EbpfError, EbpfLoader, VerifierLogLevel};
pub use pod::Pod;
