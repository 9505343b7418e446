//! XDP, run with BPF_PROG_TEST_RUN: exercises the safe helper wrappers `trace_printk`,
//! `csum_diff` and `redirect`, leaving what they returned in `.bss`.

#![no_std]
#![no_main]

use bpfkit_ebpf::atomic::Counter;
use bpfkit_ebpf::helpers::{csum_diff, redirect, trace_printk};
use bpfkit_ebpf::macros::xdp;
use bpfkit_ebpf::programs::XdpContext;
use bpfkit_rust_test_progs as _;

/// Interface to redirect to, set before load.
#[no_mangle]
static redirect_ifindex: u32 = 0;

/// Bytes `trace_printk` wrote.
#[no_mangle]
static printk_bytes: Counter = Counter::new(0);
/// `csum_diff` of one word replaced by another, and of the same with a zero word appended
/// (which must not change it); 1 is added so a result of 0 is told from "not run".
#[no_mangle]
static csum_one_word: Counter = Counter::new(0);
#[no_mangle]
static csum_two_words: Counter = Counter::new(0);

#[xdp]
fn helpers_demo(_ctx: XdpContext) -> u32 {
    let written = trace_printk(c"bpfkit helpers_demo %d\n", [7, 0, 0]);
    if written > 0 {
        printk_bytes.add(written as u64);
    }
    let one = csum_diff(&[0x0102_0304], &[0x0a0b_0c0d], 0);
    let two = csum_diff(&[0x0102_0304, 0], &[0x0a0b_0c0d, 0], 0);
    if one >= 0 && two >= 0 {
        csum_one_word.add(one as u64 + 1);
        csum_two_words.add(two as u64 + 1);
    }
    redirect(bpfkit_ebpf::global::read(&redirect_ifindex), 0) as u32
}

bpfkit_ebpf::license!("Dual MIT/GPL");
