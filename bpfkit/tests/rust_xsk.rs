//! AF_XDP end to end with the Rust `xsk_redirect` program (`rust/xsk_redirect.bpf.o`): an AF_XDP
//! socket (test code in `common/xsk.rs`: UMEM, fill and receive rings, bound in copy mode to
//! queue 0 of the veth end) is put in the program's `XskMap`; a UDP datagram sent from the
//! peer namespace then lands in the socket's UMEM instead of the network stack. With the map
//! slot deleted, the same traffic takes the redirect's fallback action, `XDP_PASS`, and reaches
//! an ordinary UDP socket.

#[macro_use]
mod common;

use std::net::UdpSocket;
use std::time::Duration;

use bpfkit::maps::{Array, MapData, UpdateFlags, XskMap};
use bpfkit::programs::{Xdp, XdpFlags};
use bpfkit::Ebpf;
use common::xsk::XskSocket;
use common::VethPair;

const OBJECT: &str = "rust/xsk_redirect.bpf.o";

/// The UDP port `xsk_redirect` redirects (`XSK_PORT` in `xsk_redirect.rs`).
const XSK_PORT: u16 = 47_001;
/// The receive queue the socket binds to: a veth receives on queue 0.
const QUEUE: u32 = 0;

const XDP_PASS: u32 = 2;
const XDP_REDIRECT: u32 = 4;

/// Ethernet, IPv4 (no options) and UDP header lengths: where the UDP payload starts.
const ETH_HLEN: usize = 14;
const IPV4_HLEN: usize = 20;
const UDP_HLEN: usize = 8;
const PAYLOAD_OFFSET: usize = ETH_HLEN + IPV4_HLEN + UDP_HLEN;

fn load() -> Ebpf {
    Ebpf::load(&common::object(OBJECT)).unwrap_or_else(|e| panic!("loading {OBJECT}: {e}"))
}

fn map_data<'a>(ebpf: &'a Ebpf, name: &str) -> &'a MapData {
    ebpf.map(name).unwrap_or_else(|| panic!("map {name}"))
}

/// How many of the port's datagrams `xsk_redirect` returned `action` for.
fn action_count(ebpf: &Ebpf, action: u32) -> u64 {
    let actions: Array<_, u64> = Array::try_from(map_data(ebpf, "actions")).expect("an array");
    actions.get(action).expect("actions lookup")
}

/// Sends `payload` from the left namespace to the port on the right address.
fn send_from_left(pair: &VethPair, payload: &[u8]) {
    pair.left.run(|| {
        let sender = common::udp_socket(VethPair::LEFT_ADDR, 0);
        sender
            .send_to(payload, (VethPair::RIGHT_ADDR, XSK_PORT))
            .expect("send the datagram");
    });
}

/// Waits up to five seconds for one datagram on `socket`.
fn receive_datagram(socket: &UdpSocket) -> Option<Vec<u8>> {
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("set_read_timeout");
    let mut buffer = [0u8; 2048];
    let len = socket.recv(&mut buffer).ok()?;
    Some(buffer[..len].to_vec())
}

/// Checks that `frame` is the Ethernet + IPv4 + UDP frame of a datagram from the left to the
/// right address on the port, carrying `payload`.
fn assert_is_datagram(frame: &[u8], payload: &[u8]) {
    assert!(
        frame.len() >= PAYLOAD_OFFSET,
        "a frame of {} bytes: {frame:02x?}",
        frame.len()
    );
    assert_eq!(&frame[12..14], &[0x08, 0x00], "Ethernet type IPv4");
    assert_eq!(frame[ETH_HLEN], 0x45, "IPv4 without options");
    assert_eq!(frame[ETH_HLEN + 9], 17, "IP protocol UDP");
    assert_eq!(
        &frame[ETH_HLEN + 12..ETH_HLEN + 20],
        [VethPair::LEFT_ADDR.octets(), VethPair::RIGHT_ADDR.octets()].concat(),
        "IPv4 source and destination"
    );
    let udp = ETH_HLEN + IPV4_HLEN;
    assert_eq!(
        u16::from_be_bytes([frame[udp + 2], frame[udp + 3]]),
        XSK_PORT,
        "UDP destination port"
    );
    assert_eq!(&frame[PAYLOAD_OFFSET..], payload, "UDP payload in the UMEM");
}

/// The whole path: socket in `xsk_sockets[0]`, a datagram redirected into the UMEM (the UDP
/// socket on the same port gets nothing); slot deleted, the next datagram falls back to
/// `XDP_PASS` and reaches the UDP socket (and nothing more arrives in the UMEM).
#[test]
fn rust_xsk_map_redirects_a_datagram_into_an_af_xdp_socket_then_falls_back() {
    require_root!();
    let pair = VethPair::new();
    let ifindex = pair.right_ifindex();
    let ebpf = load();
    pair.right.run(|| {
        let xsk = XskSocket::bind(ifindex, QUEUE).unwrap_or_else(|e| panic!("AF_XDP socket: {e}"));
        // The fallback path's receiver, bound before any traffic so nothing is missed.
        let udp = common::udp_socket(VethPair::RIGHT_ADDR, XSK_PORT);
        let xsk_sockets = XskMap::try_from(map_data(&ebpf, "xsk_sockets")).expect("an XSK map");
        // An XSK map value is the socket's fd (a u32), as for every fd-valued map; the kernel
        // takes its own reference to the socket.
        xsk_sockets
            .set(QUEUE, xsk.fd(), UpdateFlags::empty())
            .unwrap_or_else(|e| panic!("xsk_sockets[{QUEUE}] = AF_XDP socket: {e}"));

        let program: &Xdp = ebpf
            .program("xsk_redirect")
            .expect("program")
            .try_into()
            .expect("an XDP program");
        let link = program
            .attach(ifindex, XdpFlags::SKB_MODE)
            .expect("attach in generic (skb) mode");

        let redirected = b"bpfkit AF_XDP: into the UMEM";
        send_from_left(&pair, redirected);
        let frames = xsk
            .receive(Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("AF_XDP receive: {e}"));
        assert_eq!(
            frames.len(),
            1,
            "one frame in the RX ring; statistics: {:?}",
            xsk.statistics()
        );
        assert_is_datagram(&frames[0], redirected);
        assert_eq!(
            common::drain(&udp),
            Vec::<Vec<u8>>::new(),
            "the redirected datagram bypassed the network stack"
        );
        assert_eq!(action_count(&ebpf, XDP_REDIRECT), 1, "one XDP_REDIRECT");
        assert_eq!(action_count(&ebpf, XDP_PASS), 0, "no fallback yet");

        // The kernel's delete succeeds on an empty XSK slot too, and user space cannot look
        // one up: BPF_EXIST, which fails with ENOENT on an empty slot, shows the socket is there.
        xsk_sockets
            .set(QUEUE, xsk.fd(), UpdateFlags::EXIST)
            .expect("the slot held the socket");
        xsk_sockets.remove(QUEUE).expect("delete xsk_sockets[0]");
        let passed = b"bpfkit AF_XDP: fallback to the stack";
        send_from_left(&pair, passed);
        assert_eq!(
            receive_datagram(&udp).as_deref(),
            Some(&passed[..]),
            "with the slot empty, XDP_PASS hands the datagram to the stack"
        );
        assert_eq!(
            xsk.receive(Duration::ZERO)
                .unwrap_or_else(|e| panic!("AF_XDP receive: {e}")),
            Vec::<Vec<u8>>::new(),
            "nothing more in the RX ring"
        );
        assert_eq!(action_count(&ebpf, XDP_PASS), 1, "one fallback XDP_PASS");
        assert_eq!(
            action_count(&ebpf, XDP_REDIRECT),
            1,
            "still one XDP_REDIRECT"
        );
        drop(link);
    });
}
