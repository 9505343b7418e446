//! Tracepoint `syscalls/sys_enter_getppid`: for the one thread user space names in `.rodata`,
//! writes a `SyscallEvent` to the `events` ring buffer and counts written and lost events in the
//! `stats` array.

#![no_std]
#![no_main]

use bpfkit_common::{tracepoint_stats, SyscallEvent};
use bpfkit_ebpf::atomic::Counter;
use bpfkit_ebpf::helpers::{current_comm_into, current_pid_tgid, ktime_ns};
use bpfkit_ebpf::macros::{map, tracepoint};
use bpfkit_ebpf::maps::{Array, RingBuf};
use bpfkit_ebpf::programs::TracePointContext;
use bpfkit_rust_test_progs as _;

/// The thread (kernel pid, user space's tid) to report; 0 reports nothing.
#[no_mangle]
static target_tid: u32 = 0;

/// Every call of the traced thread, starting from a non-zero value so that it lands in `.data`
/// (user space may change the start before load, and reads it after).
#[no_mangle]
static calls_seen: Counter = Counter::new(1000);

#[map]
static events: RingBuf<{ 64 * 1024 }> = RingBuf::new();

#[map]
static stats: Array<u64, { tracepoint_stats::LEN as usize }> = Array::new();

#[inline(always)]
fn bump(index: u32) {
    if let Some(value) = stats.get_ptr_mut(index) {
        // SAFETY: a live, 8-aligned u64 array value, updated by other CPUs only atomically.
        unsafe { bpfkit_ebpf::atomic::add_u64(value, 1) };
    }
}

#[tracepoint("syscalls/sys_enter_getppid")]
fn getppid_events(_ctx: TracePointContext) -> u32 {
    let pid_tgid = current_pid_tgid();
    let tid = pid_tgid as u32;
    let wanted = bpfkit_ebpf::global::read(&target_tid);
    if wanted == 0 || tid != wanted {
        return 0;
    }
    calls_seen.add(1);
    let Some(mut entry) = events.reserve::<SyscallEvent>(0) else {
        bump(tracepoint_stats::LOST);
        return 0;
    };
    let event = entry.as_mut_ptr();
    // SAFETY: the reserved record is exclusively ours and 8-aligned; every field is written
    // before submit (comm by the helper, which zeroes it on failure). Filling it in place avoids
    // a stack copy and the `memset` a zeroed temporary would need.
    unsafe {
        (*event).pid = (pid_tgid >> 32) as u32;
        (*event).tid = tid;
        (*event).timestamp_ns = ktime_ns();
        let _ = current_comm_into(&mut (*event).comm);
    }
    entry.submit(0);
    bump(tracepoint_stats::WRITTEN);
    0
}

bpfkit_ebpf::license!("Dual MIT/GPL");
