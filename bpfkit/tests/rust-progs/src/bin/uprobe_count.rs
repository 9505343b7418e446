//! Uprobe: counts calls of the probed user function made by one process (its tgid set by user
//! space in `.rodata`), in the `.bss` counter `calls`, and sums their first argument (read from
//! `pt_regs` for the architecture the build script chose) in `argument_sum`.

#![no_std]
#![no_main]

use bpfkit_ebpf::atomic::Counter;
use bpfkit_ebpf::helpers::current_pid_tgid;
use bpfkit_ebpf::macros::uprobe;
use bpfkit_ebpf::programs::ProbeContext;
use bpfkit_rust_test_progs as _;

/// The process (tgid) whose calls count; 0 counts nothing.
#[no_mangle]
static target_tgid: u32 = 0;

/// Calls seen.
#[no_mangle]
static calls: Counter = Counter::new(0);

/// Sum of the first arguments of the calls seen.
#[no_mangle]
static argument_sum: Counter = Counter::new(0);

#[uprobe]
fn count_calls(ctx: ProbeContext) -> u32 {
    let tgid = (current_pid_tgid() >> 32) as u32;
    let wanted = bpfkit_ebpf::global::read(&target_tgid);
    if wanted != 0 && tgid == wanted {
        calls.add(1);
        argument_sum.add(ctx.arg(0).unwrap_or(0));
    }
    0
}

bpfkit_ebpf::license!("Dual MIT/GPL");
