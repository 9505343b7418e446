//! AF_XDP: `xsk_redirect` sends the UDP datagrams for [`XSK_PORT`] to the AF_XDP socket that
//! user space put in `xsk_sockets` for the receive queue they arrived on; with that slot empty
//! they take the fallback action, `XDP_PASS` (the kernel's network stack). Every other frame
//! (ARP above all, which the sender needs first) passes untouched. `actions` counts the actions
//! returned for the port's datagrams, indexed by action.

#![no_std]
#![no_main]

use bpfkit_ebpf::bindings::xdp_action::XDP_PASS;
use bpfkit_ebpf::macros::{map, xdp};
use bpfkit_ebpf::maps::{Array, XskMap};
use bpfkit_ebpf::programs::XdpContext;
use bpfkit_rust_test_progs as _;

/// The UDP destination port whose datagrams go to the AF_XDP socket (the test sends to it).
const XSK_PORT: u16 = 47_001;

#[map]
static xsk_sockets: XskMap<4> = XskMap::new();
#[map]
static actions: Array<u64, 8> = Array::new();

#[xdp]
fn xsk_redirect(ctx: XdpContext) -> u32 {
    if bpfkit_rust_test_progs::xdp_udp_dest_port_of(&ctx) != Some(XSK_PORT) {
        return XDP_PASS;
    }
    // An AF_XDP socket is bound to one queue of one device: the queue the frame came in on is
    // the slot to look in.
    let action = xsk_sockets.redirect(ctx.rx_queue_index(), u64::from(XDP_PASS));
    if let Some(count) = actions.get_ptr_mut(action) {
        // SAFETY: a live, 8-aligned u64 array value, shared between CPUs: added to atomically.
        unsafe { bpfkit_ebpf::atomic::add_u64(count, 1) };
    }
    action
}

bpfkit_ebpf::license!("Dual MIT/GPL");
