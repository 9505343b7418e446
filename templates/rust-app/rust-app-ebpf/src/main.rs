//! The eBPF program: on every `exec` on the machine (tracepoint `sched/sched_process_exec`),
//! writes an [`ExecEvent`] into the `events` ring buffer and logs an `info!` line, which user
//! space (`rust-app`) forwards to the `log` crate.

#![no_std]
#![no_main]

use bpfkit_ebpf::helpers::{current_comm_into, current_pid_tgid, current_uid_gid};
use bpfkit_ebpf::info;
use bpfkit_ebpf::log::text;
use bpfkit_ebpf::macros::{map, tracepoint};
use bpfkit_ebpf::maps::RingBuf;
use bpfkit_ebpf::programs::TracePointContext;
use rust_app_common::ExecEvent;

/// The events, read by user space in order (256 KiB: a power of two and a multiple of the page
/// size, as the kernel requires).
#[map]
static events: RingBuf<{ 256 * 1024 }> = RingBuf::new();

#[tracepoint("sched/sched_process_exec")]
fn rust_app(ctx: TracePointContext) -> u32 {
    // The upper half is the thread group id, user space's "pid"; the lower half of the other,
    // the uid.
    let pid = (current_pid_tgid() >> 32) as u32;
    let uid = current_uid_gid() as u32;
    let Some(mut entry) = events.reserve::<ExecEvent>(0) else {
        info!(
            ctx,
            "exec pid {} uid {} (ring buffer full, event lost)", pid, uid
        );
        return 0;
    };
    let event = entry.as_mut_ptr();
    // SAFETY: the reserved record is exclusively ours and aligned for an `ExecEvent`; every field
    // is written before submit (the comm by the helper, which zeroes it on failure).
    //
    // Why in place rather than `events.output(&ExecEvent { comm: [0; 16], .. }, 0)`: zeroing a
    // byte array on the stack compiles to a call to `memset`, which an eBPF program cannot make
    // (loading fails with "extern memset").
    unsafe {
        (*event).pid = pid;
        (*event).uid = uid;
        let _ = current_comm_into(&mut (*event).comm);
        info!(
            ctx,
            "exec pid {} uid {} comm {}",
            pid,
            uid,
            text(&(*event).comm)
        );
    }
    entry.submit(0);
    0
}

// The ring buffer `info!` writes into, read by `bpfkit::log::EbpfLogger`.
bpfkit_ebpf::log_buffer!();
// The kernel reads the license; a GPL-compatible one also allows the GPL-only helpers
// (bpf_probe_read_kernel, bpf_get_current_task, ...) should the program grow to need them.
bpfkit_ebpf::license!("Dual MIT/GPL");

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // eBPF cannot unwind or abort, and the verifier rejects a program that could loop forever:
    // code that could panic fails to load rather than misbehaving.
    loop {}
}
