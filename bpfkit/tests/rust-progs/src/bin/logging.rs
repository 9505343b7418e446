//! Logging from XDP, run with BPF_PROG_TEST_RUN: one record per level, with arguments taken
//! from the test packet (MAC and IPv4 addresses, UDP ports) and from `.rodata`, using every
//! display hint. `BPFKIT_LOG_LEVEL` (set by the test before load) decides which are written.
//! `discard_then_log` leaves a discarded record before its own.

#![no_std]
#![no_main]

use bpfkit_ebpf::bindings::xdp_action::XDP_PASS;
use bpfkit_ebpf::log::text;
use bpfkit_ebpf::macros::xdp;
use bpfkit_ebpf::programs::XdpContext;
use bpfkit_ebpf::{debug, error, info, trace, warn};
use bpfkit_rust_test_progs as _;

/// A process id chosen by the test, shown in the info record.
#[no_mangle]
static test_pid: u32 = 0;

/// Text shown by the debug record (NUL-padded like a task's `comm`).
const NAME: [u8; 16] = *b"bpfkit-log\0\0\0\0\0\0";

/// An IPv6 address (2001:db8::1) for the trace record.
const ADDRESS_V6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

const ETH_SOURCE: usize = 6;
const IPV4_SOURCE: usize = 14 + 12;
const IPV4_DESTINATION: usize = 14 + 16;
const UDP_SOURCE_PORT: usize = 14 + 20;
const UDP_DESTINATION_PORT: usize = 14 + 22;

#[xdp]
fn log_packet(ctx: XdpContext) -> u32 {
    let length = (ctx.data_end() - ctx.data()) as u32;
    error!(ctx, "error code {} ({})", -22i32, "EINVAL");
    let Some(source_mac) = ctx.load::<[u8; 6]>(ETH_SOURCE) else {
        return XDP_PASS;
    };
    warn!(ctx, "packet of {} bytes from {:mac}", length, source_mac);
    let (Some(source), Some(destination)) = (
        ctx.load::<[u8; 4]>(IPV4_SOURCE),
        ctx.load::<u32>(IPV4_DESTINATION),
    ) else {
        return XDP_PASS;
    };
    let pid = bpfkit_ebpf::global::read(&test_pid);
    info!(
        ctx,
        "pid {} saw {:ipv4} -> {:ipv4}",
        pid,
        source,
        u32::from_be(destination)
    );
    let (Some(source_port), Some(destination_port)) = (
        ctx.load::<u16>(UDP_SOURCE_PORT),
        ctx.load::<u16>(UDP_DESTINATION_PORT),
    ) else {
        return XDP_PASS;
    };
    debug!(
        ctx,
        "ports {} -> {:x} ok={} name {}",
        u16::from_be(source_port),
        u16::from_be(destination_port),
        true,
        text(&NAME)
    );
    trace!(ctx, "v6 {:ipv6} tag {} {:X}", ADDRESS_V6, 'λ', -1i8);
    XDP_PASS
}

/// Reserves a record in the log ring buffer and discards it, then logs: user space must skip
/// the discarded record (the ring buffer reader's DISCARD handling).
#[xdp]
fn discard_then_log(ctx: XdpContext) -> u32 {
    if let Some(entry) = BPFKIT_LOGS.reserve::<[u64; 4]>(0) {
        entry.discard(0);
    }
    info!(ctx, "after a discarded record {}", 7u32);
    XDP_PASS
}

bpfkit_ebpf::log_buffer!();
bpfkit_ebpf::license!("Dual MIT/GPL");
