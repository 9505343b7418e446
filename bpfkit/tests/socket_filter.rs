//! A socket filter on a UDP socket bound to loopback: datagrams starting with 'x' never arrive.

#[macro_use]
mod common;

use std::net::{Ipv4Addr, UdpSocket};

use bpfkit::maps::Array;
use bpfkit::programs::SocketFilter;
use bpfkit::Ebpf;

const KEPT_SLOT: u32 = 0;
const DROPPED_SLOT: u32 = 1;

#[test]
fn socket_filter_drops_datagrams_starting_with_x() {
    require_root!();
    let mut ebpf = Ebpf::load(&common::object("socket_filter.bpf.o")).expect("load");
    let receiver = common::udp_socket(Ipv4Addr::LOCALHOST, 0);
    let address = receiver.local_addr().expect("local_addr");
    let sender = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind sender");
    let send = |payload: &[u8]| {
        sender.send_to(payload, address).expect("send");
    };

    let filter: &mut SocketFilter = ebpf
        .program_mut("udp_filter")
        .expect("program")
        .try_into()
        .expect("a socket filter");
    let link = filter.attach(&receiver).expect("SO_ATTACH_BPF");
    for payload in [
        b"keep 1".as_slice(),
        b"xdrop 1",
        b"keep 2",
        b"x",
        b"keep 3 x",
        b"xx",
    ] {
        send(payload);
    }
    let received = common::drain(&receiver);
    assert_eq!(
        received,
        vec![b"keep 1".to_vec(), b"keep 2".to_vec(), b"keep 3 x".to_vec()]
    );

    link.detach().expect("SO_DETACH_BPF");
    send(b"xafter");
    assert_eq!(
        common::drain(&receiver),
        vec![b"xafter".to_vec()],
        "detached: nothing is filtered"
    );

    let stats: Array<_, u64> =
        Array::try_from(ebpf.map("filter_stats").expect("map")).expect("an array");
    assert_eq!(stats.get(KEPT_SLOT).expect("kept"), 3);
    assert_eq!(stats.get(DROPPED_SLOT).expect("dropped"), 3);
}

#[test]
fn dropping_the_link_detaches_the_filter() {
    require_root!();
    let mut ebpf = Ebpf::load(&common::object("socket_filter.bpf.o")).expect("load");
    let receiver = common::udp_socket(Ipv4Addr::LOCALHOST, 0);
    let address = receiver.local_addr().expect("local_addr");
    let sender = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind sender");
    let filter: &mut SocketFilter = ebpf
        .program_mut("udp_filter")
        .expect("program")
        .try_into()
        .expect("a socket filter");
    {
        let _link = filter.attach(&receiver).expect("SO_ATTACH_BPF");
        sender.send_to(b"xdropped", address).expect("send");
        assert!(common::drain(&receiver).is_empty());
    }
    sender.send_to(b"xkept", address).expect("send");
    assert_eq!(common::drain(&receiver), vec![b"xkept".to_vec()]);
}
