//! The README's showcase: on every `exec` (tracepoint `sched/sched_process_exec`), writes an
//! `ExecEvent` (pid, parent's tgid, new comm, file name) to the `events` ring buffer and logs an
//! info record. The parent comes from `task_struct->real_parent->tgid`, at offsets the bpfkit
//! loader resolves from the running kernel's BTF (CO-RE for Rust).
//!
//! User space: `bpfkit/examples/execsnoop.rs`, which declares the same `#[repr(C)]` event.

#![no_std]
#![no_main]

use core::ffi::c_void;

use bpfkit_ebpf::helpers::{
    bpf_get_current_task, bpf_probe_read_kernel_str, current_comm_into, current_pid_tgid,
};
use bpfkit_ebpf::info;
use bpfkit_ebpf::log::text;
use bpfkit_ebpf::macros::{kernel_struct, map, tracepoint};
use bpfkit_ebpf::maps::RingBuf;
use bpfkit_ebpf::programs::TracePointContext;
use bpfkit_rust_test_progs as _;

/// Room for the executed file's name (longer names are cut, NUL-terminated).
const FILENAME_LEN: usize = 256;

/// One exec, as user space reads it from `events` (no padding: 4 + 4 + 16 + 256 bytes).
#[repr(C)]
pub struct ExecEvent {
    /// The process (tgid) that exec'ed.
    pub pid: u32,
    /// Its parent's tgid (0 when unreadable).
    pub ppid: u32,
    /// The task's new `comm`.
    pub comm: [u8; 16],
    /// The file name passed to exec, NUL-terminated.
    pub filename: [u8; FILENAME_LEN],
}

/// The part of the kernel's `task_struct` needed for the parent's pid.
#[kernel_struct(name = "task_struct")]
struct TaskStruct {
    tgid: i32,
    real_parent: *const TaskStruct,
}

/// `__data_loc char[] filename` in the tracepoint record (from its `format` file): a u32 whose
/// low 16 bits are the string's offset in the record.
const FILENAME_DATA_LOC: usize = 8;

#[map]
static events: RingBuf<{ 256 * 1024 }> = RingBuf::new();

#[tracepoint("sched/sched_process_exec")]
fn execsnoop(ctx: TracePointContext) -> u32 {
    let pid = (current_pid_tgid() >> 32) as u32;
    // SAFETY: the helper takes no argument and returns the current task's address.
    let task = unsafe { bpf_get_current_task() } as *const TaskStruct;
    let ppid = TaskStruct::real_parent(task)
        .and_then(|parent| TaskStruct::tgid(parent))
        .map_or(0, |tgid| tgid as u32);
    let Some(mut entry) = events.reserve::<ExecEvent>(0) else {
        info!(ctx, "exec pid {} ppid {} (ring buffer full)", pid, ppid);
        return 0;
    };
    let event = entry.as_mut_ptr();
    let filename_offset = ctx
        .read_at::<u32>(FILENAME_DATA_LOC)
        .map_or(0, |loc| loc & 0xffff);
    // SAFETY: the reserved record is exclusively ours and aligned; every field is written before
    // submit (comm by the helper, which zeroes it on failure; the file name by the other, which
    // NUL-terminates it). Filling the record in place avoids the `memset` a zeroed stack
    // temporary would need (eBPF has no memset to call).
    unsafe {
        (*event).pid = pid;
        (*event).ppid = ppid;
        let _ = current_comm_into(&mut (*event).comm);
        (*event).filename[0] = 0;
        if filename_offset != 0 {
            bpf_probe_read_kernel_str(
                (*event).filename.as_mut_ptr().cast::<c_void>(),
                FILENAME_LEN as u32,
                ctx.as_ptr()
                    .cast::<u8>()
                    .wrapping_add(filename_offset as usize)
                    .cast::<c_void>(),
            );
        }
        info!(
            ctx,
            "exec pid {} ppid {} comm {}",
            pid,
            ppid,
            text(&(*event).comm)
        );
    }
    entry.submit(0);
    0
}

bpfkit_ebpf::log_buffer!();
bpfkit_ebpf::license!("Dual MIT/GPL");
