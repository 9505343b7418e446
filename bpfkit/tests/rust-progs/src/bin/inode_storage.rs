//! Inode storage from the two program types that have a trusted `struct inode *`, for the test
//! that shows what the kernel does with them (`bpfkit/tests/rust_inode_storage.rs`):
//!
//! * `dirty_inode_marks` (BTF tracepoint `writeback_mark_inode_dirty`, whose first argument is
//!   a trusted inode): counts in `inode_marks`. Linux 6.18 keeps inode storage in the BPF LSM's
//!   inode security blob and offers `bpf_inode_storage_get`/`_delete` to LSM programs only, so
//!   the verifier refuses this program ("program of this type cannot use helper
//!   bpf_inode_storage_get#145"), although BTF tracepoints load here.
//! * `unlink_marks` (LSM hook `inode_unlink`): the program type that may call the helper; the
//!   test kernel refuses every BPF LSM load with EPERM before verifying.
//!
//! Neither loads on the test kernel, which is why they are not in `maps_all` (bpftool loads
//! that object whole).

#![no_std]
#![no_main]

use core::ffi::c_void;

use bpfkit_ebpf::macros::{btf_tracepoint, lsm, map};
use bpfkit_ebpf::maps::InodeStorage;
use bpfkit_ebpf::programs::BtfTracePointContext;
use bpfkit_rust_test_progs as _;

#[map]
static inode_marks: InodeStorage<u64> = InodeStorage::new();

/// Adds one to the inode's `inode_marks` value, creating it (0) first when absent.
///
/// # Safety
/// `inode` must be a trusted BTF `struct inode *`.
#[inline(always)]
unsafe fn mark(inode: *mut c_void) {
    // SAFETY: the caller vouches for the inode pointer.
    if let Some(count) = unsafe { inode_marks.get_ptr_mut(inode, None, true) } {
        // SAFETY: the inode's live, 8-aligned u64 value, shared between CPUs: added atomically.
        unsafe { bpfkit_ebpf::atomic::add_u64(count, 1) };
    }
}

#[btf_tracepoint("writeback_mark_inode_dirty")]
fn dirty_inode_marks(ctx: BtfTracePointContext) -> i32 {
    // SAFETY: the tracepoint's first argument is the trusted `struct inode *` being dirtied.
    unsafe { mark(ctx.arg(0) as *mut c_void) };
    0
}

#[lsm("inode_unlink")]
fn unlink_marks(ctx: BtfTracePointContext) -> i32 {
    // SAFETY: the hook's first argument is the trusted `struct inode *` of the directory.
    unsafe { mark(ctx.arg(0) as *mut c_void) };
    // 0: allow the unlink.
    0
}

bpfkit_ebpf::license!("Dual MIT/GPL");
