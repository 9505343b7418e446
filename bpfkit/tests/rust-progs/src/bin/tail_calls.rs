//! Tail calls: `tail_entry` counts its runs and jumps to slot 0 of `jump_table`; when the slot
//! is empty it passes the packet itself. `tail_target`, placed in the slot by user space, counts
//! its runs and drops the packet.

#![no_std]
#![no_main]

use bpfkit_ebpf::atomic::Counter;
use bpfkit_ebpf::bindings::xdp_action::{XDP_DROP, XDP_PASS};
use bpfkit_ebpf::macros::{map, xdp};
use bpfkit_ebpf::maps::ProgramArray;
use bpfkit_ebpf::programs::XdpContext;
use bpfkit_rust_test_progs as _;

#[map]
static jump_table: ProgramArray<4> = ProgramArray::new();

/// Runs of `tail_entry`.
#[no_mangle]
static entry_runs: Counter = Counter::new(0);
/// Runs of `tail_target`.
#[no_mangle]
static target_runs: Counter = Counter::new(0);

#[xdp]
fn tail_entry(ctx: XdpContext) -> u32 {
    entry_runs.add(1);
    // SAFETY: our own context; the slot holds XDP programs only.
    let _ = unsafe { jump_table.tail_call(ctx.as_ptr(), 0) };
    XDP_PASS
}

#[xdp]
fn tail_target(_ctx: XdpContext) -> u32 {
    target_runs.add(1);
    XDP_DROP
}

bpfkit_ebpf::license!("Dual MIT/GPL");
