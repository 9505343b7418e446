//! Shared by the Rust eBPF test programs: packet parsing and the panic handler.

#![no_std]

use bpfkit_ebpf::bindings::{ETH_P_IP, ETH_P_IPV6};
use bpfkit_ebpf::programs::{SkBuffContext, XdpContext};

/// Ethernet header length.
const ETH_HLEN: usize = 14;
/// Offset of the Ethernet type.
const ETH_PROTO: usize = 12;
/// Offset of the protocol in an IPv4 header.
const IPV4_PROTOCOL: usize = 9;
/// Offset of the next header in an IPv6 header.
const IPV6_NEXT_HEADER: usize = 6;
/// Offset of the destination port in a UDP header.
const UDP_DEST: usize = 2;

/// The IP protocol of an Ethernet frame (IPv4 protocol or IPv6 next header), or `None` when the
/// frame is neither or too short; the same logic as the C programs' `ip_protocol_of`.
#[inline(always)]
pub fn ip_protocol_of(ctx: &XdpContext) -> Option<u8> {
    let proto = u16::from_be(ctx.load::<u16>(ETH_PROTO)?);
    if proto == ETH_P_IP {
        // The whole 20-byte header must be there, as the C version checks `ip + 1`.
        ctx.ptr_at::<[u8; 20]>(ETH_HLEN)?;
        ctx.load::<u8>(ETH_HLEN + IPV4_PROTOCOL)
    } else if proto == ETH_P_IPV6 {
        ctx.ptr_at::<[u8; 40]>(ETH_HLEN)?;
        ctx.load::<u8>(ETH_HLEN + IPV6_NEXT_HEADER)
    } else {
        None
    }
}

/// `$name(ctx)`: the UDP destination port (host order) of an Ethernet + IPv4 frame, or `None`;
/// one body for the packet contexts, which share the bounds-checked `load`/`ptr_at`.
macro_rules! udp_dest_port {
    ($($(#[$doc:meta])* $name:ident: $context:ty;)*) => {$(
        $(#[$doc])*
        #[inline(always)]
        pub fn $name(ctx: &$context) -> Option<u16> {
            if u16::from_be(ctx.load::<u16>(ETH_PROTO)?) != ETH_P_IP {
                return None;
            }
            let version_ihl = ctx.load::<u8>(ETH_HLEN)?;
            ctx.ptr_at::<[u8; 20]>(ETH_HLEN)?;
            if ctx.load::<u8>(ETH_HLEN + IPV4_PROTOCOL)? != bpfkit_ebpf::bindings::IPPROTO_UDP {
                return None;
            }
            let ihl = usize::from(version_ihl & 0x0f);
            if ihl < 5 {
                return None;
            }
            let udp = ETH_HLEN + ihl * 4;
            ctx.load::<u16>(udp + UDP_DEST).map(u16::from_be)
        }
    )*};
}

udp_dest_port! {
    /// The UDP destination port of a socket buffer's frame (TC, socket filters).
    udp_dest_port_of: SkBuffContext;
    /// The UDP destination port of an XDP frame.
    xdp_udp_dest_port_of: XdpContext;
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // eBPF cannot unwind or abort; the verifier rejects any path that reaches a loop forever, so
    // a program that could panic fails to load instead of misbehaving.
    loop {}
}
