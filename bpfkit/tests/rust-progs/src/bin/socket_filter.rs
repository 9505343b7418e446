//! Socket filter for a UDP socket, the Rust twin of the C `socket_filter`: drops datagrams whose
//! payload starts with 'x', keeps the rest, and counts both in `filter_stats`. On a UDP socket
//! the filter sees the datagram from its UDP header on.

#![no_std]
#![no_main]

use bpfkit_ebpf::macros::{map, socket_filter};
use bpfkit_ebpf::maps::Array;
use bpfkit_ebpf::programs::SkBuffContext;
use bpfkit_rust_test_progs as _;

/// Slots of `filter_stats`.
const KEPT: u32 = 0;
const DROPPED: u32 = 1;
/// The UDP header's length: the payload starts after it.
const UDP_HEADER: u32 = 8;

#[map]
static filter_stats: Array<u64, 2> = Array::new();

#[inline(always)]
fn bump(slot: u32) {
    if let Some(value) = filter_stats.get_ptr_mut(slot) {
        // SAFETY: a live, 8-aligned u64 array value, updated by other CPUs only atomically.
        unsafe { bpfkit_ebpf::atomic::add_u64(value, 1) };
    }
}

#[socket_filter]
fn udp_filter(ctx: SkBuffContext) -> i64 {
    if ctx.load_bytes::<u8>(UDP_HEADER) == Ok(b'x') {
        bump(DROPPED);
        return 0;
    }
    bump(KEPT);
    i64::from(ctx.len())
}

bpfkit_ebpf::license!("Dual MIT/GPL");
