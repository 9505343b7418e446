//! The eBPF program: on every `exec` on the machine (tracepoint `sched/sched_process_exec`),
//! writes an [`ExecEvent`] into the `events` ring buffer and logs an `info!` line, which user
//! space (`rust-app`) forwards to the `log` crate.

#![no_std]
#![no_main]

use bpfkit_ebpf::helpers::{current_comm, current_pid_tgid, current_uid_gid};
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
    let event = ExecEvent {
        pid,
        uid,
        // On failure the helper's buffer is zeroed: an empty name.
        comm: current_comm().unwrap_or([0; 16]),
    };
    info!(
        ctx,
        "exec pid {} uid {} comm {}",
        pid,
        uid,
        text(&event.comm)
    );
    // Copied into the ring buffer; for large events, `events.reserve` lets the program write
    // the record in place instead.
    if events.output(&event, 0).is_err() {
        info!(ctx, "ring buffer full: event of pid {} lost", pid);
    }
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
