//! Raw tracepoint, run with BPF_PROG_TEST_RUN in the caller's task: builds values on the eBPF
//! stack the way ordinary Rust does (a zeroed struct, a copied array, `current_comm()` by
//! value), which LLVM lowers to `memset`/`memcpy`/`memmove`/`memcmp` calls that bpfkit-ebpf
//! provides, and stores the results in `last` for user space to compare.

#![no_std]
#![no_main]

use bpfkit_ebpf::helpers::{current_comm, current_pid_tgid};
use bpfkit_ebpf::macros::{map, raw_tracepoint};
use bpfkit_ebpf::maps::Array;
use bpfkit_ebpf::programs::RawTracePointContext;
use bpfkit_rust_test_progs as _;

/// What one run saw. Large and byte-aligned on purpose: zeroing or copying it is a memory
/// function call for the BPF backend, not a few stores.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Snapshot {
    /// The task's `comm`, from `current_comm()`.
    pub comm: [u8; 16],
    /// `comm` copied twice over, shifted by one byte (an overlapping move).
    pub shifted: [u8; 33],
    /// 1 when `comm` equals its copy in `shifted` (a byte comparison).
    pub equal: u8,
    /// A run of bytes left zero by the initializer.
    pub zeros: [u8; 78],
    /// The thread id.
    pub tid: u32,
}

#[map]
static last: Array<Snapshot, 1> = Array::new();

#[raw_tracepoint("sys_enter")]
fn stack_memory(_ctx: RawTracePointContext) -> i32 {
    let mut snapshot = Snapshot {
        comm: [0; 16],
        shifted: [0; 33],
        equal: 0,
        zeros: [0; 78],
        tid: current_pid_tgid() as u32,
    };
    snapshot.comm = match current_comm() {
        Ok(comm) => comm,
        Err(_) => return 1,
    };
    snapshot.shifted[1..17].copy_from_slice(&snapshot.comm);
    // An overlapping copy within one array: memmove.
    snapshot.shifted.copy_within(1..17, 17);
    snapshot.equal = (snapshot.shifted[17..33] == snapshot.comm) as u8;
    match last.get_ptr_mut(0) {
        Some(slot) => {
            // SAFETY: the lookup returned a valid pointer to the array's value.
            unsafe { *slot = snapshot };
            0
        }
        None => 1,
    }
}

bpfkit_ebpf::license!("Dual MIT/GPL");
