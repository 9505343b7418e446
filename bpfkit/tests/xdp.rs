//! XDP on a veth inside a network namespace: counting per IP protocol, bpf_link and netlink
//! attachment, detach on drop, and atomic replacement.

#[macro_use]
mod common;

use bpfkit::maps::HashMap;
use bpfkit::programs::{Xdp, XdpFlags};
use bpfkit::Ebpf;
use common::VethPair;

/// IPPROTO_ICMP: the key ping's echo requests are counted under.
const ICMP: u32 = 1;
const UDP: u32 = 17;
const TCP: u32 = 6;
/// xdp_count_v2 counts under 1000 + protocol.
const V2_OFFSET: u32 = 1000;

fn load() -> Ebpf {
    Ebpf::load(&common::object("xdp_count.bpf.o")).expect("loading xdp_count.bpf.o")
}

fn count(ebpf: &Ebpf, protocol: u32) -> u64 {
    let counts: HashMap<_, u32, u64> =
        HashMap::try_from(ebpf.map("counts").expect("map `counts`")).expect("a hash map");
    counts
        .get(&protocol)
        .expect("looking up a count")
        .unwrap_or(0)
}

/// `ip -d link` mentions xdp (`xdpgeneric`, `prog/xdp id ...`) only when a program is attached.
fn xdp_details(pair: &VethPair) -> String {
    pair.right.link_details(VethPair::RIGHT_IF)
}

/// The generic-mode XDP program on `ifindex`, as netlink reports it (call inside the namespace).
fn attached_program(ifindex: u32) -> Option<u32> {
    bpfkit::sys::netlink::xdp_query(ifindex)
        .expect("XDP query")
        .skb_prog_id
}

/// Attaches xdp_count to the right end, pings it from the left, detaches, and checks the counts:
/// the program sees the echo requests arriving on the right interface (the replies leave through
/// it, which XDP does not see), and nothing else (IPv6 is off in the test namespaces).
fn counts_pings(netlink: bool) {
    let pair = VethPair::new();
    let ifindex = pair.right_ifindex();
    let mut ebpf = load();
    let pings = 5;
    pair.right.run(|| {
        let program: &mut Xdp = ebpf
            .program_mut("xdp_count")
            .expect("program")
            .try_into()
            .expect("an XDP program");
        let link = if netlink {
            program
                .attach_netlink(ifindex, XdpFlags::SKB_MODE)
                .expect("netlink attach")
        } else {
            program
                .attach(ifindex, XdpFlags::SKB_MODE)
                .expect("bpf_link attach")
        };
        assert_eq!(link.is_bpf_link(), !netlink);
        let details = xdp_details(&pair);
        assert!(
            details.contains("xdpgeneric") && details.contains("xdp_count"),
            "{details}"
        );
        let program_id = program.info().expect("program info").id;
        assert_eq!(
            attached_program(ifindex),
            Some(program_id),
            "netlink query of the interface"
        );
        pair.left.ping(VethPair::RIGHT_ADDR, pings);
        drop(link);
        assert_eq!(
            attached_program(ifindex),
            None,
            "still attached after the link was dropped"
        );
    });
    assert_eq!(count(&ebpf, ICMP), u64::from(pings));
    assert_eq!(count(&ebpf, UDP), 0);
    assert_eq!(count(&ebpf, TCP), 0);

    let details = xdp_details(&pair);
    assert!(
        !details.contains("xdp"),
        "still attached after the link was dropped:\n{details}"
    );
    // Detached for real: more pings are not counted.
    pair.left.ping(VethPair::RIGHT_ADDR, 2);
    assert_eq!(count(&ebpf, ICMP), u64::from(pings));
}

#[test]
fn xdp_link_counts_pings_per_protocol() {
    require_root!();
    counts_pings(false);
}

#[test]
fn xdp_netlink_counts_pings_per_protocol() {
    require_root!();
    counts_pings(true);
}

/// Replaces xdp_count with xdp_count_v2 on the same attachment: packets before the update are
/// counted by the first, after it by the second.
fn atomic_replace(netlink: bool) {
    let pair = VethPair::new();
    let ifindex = pair.right_ifindex();
    let mut ebpf = load();
    let (before, after) = (3u32, 4u32);
    pair.right.run(|| {
        let first: &mut Xdp = ebpf
            .program_mut("xdp_count")
            .expect("program")
            .try_into()
            .expect("XDP");
        let mut link = if netlink {
            first
                .attach_netlink(ifindex, XdpFlags::SKB_MODE)
                .expect("netlink attach")
        } else {
            first.attach(ifindex, XdpFlags::SKB_MODE).expect("attach")
        };
        pair.left.ping(VethPair::RIGHT_ADDR, before);

        let second: &Xdp = ebpf
            .program("xdp_count_v2")
            .expect("program")
            .try_into()
            .expect("XDP");
        link.update(second).expect("atomic replace");
        assert_eq!(
            attached_program(ifindex),
            Some(second.info().expect("info").id)
        );
        let details = xdp_details(&pair);
        assert!(details.contains("xdp_count_v2"), "{details}");
        pair.left.ping(VethPair::RIGHT_ADDR, after);
        drop(link);
    });
    assert_eq!(count(&ebpf, ICMP), u64::from(before));
    assert_eq!(count(&ebpf, V2_OFFSET + ICMP), u64::from(after));
    // v2 also counts non-IP frames (ARP), so at least the pings.
    let v2_packets: u64 = ebpf.global("v2_packets").expect("v2_packets");
    assert!(
        v2_packets >= u64::from(after),
        "v2 saw {v2_packets} packets"
    );
    let details = xdp_details(&pair);
    assert!(!details.contains("xdp"), "{details}");
}

#[test]
fn xdp_link_atomic_replace() {
    require_root!();
    atomic_replace(false);
}

#[test]
fn xdp_netlink_atomic_replace() {
    require_root!();
    atomic_replace(true);
}

/// A pinned link outlives its handle (and would outlive the process); reopened from the pin, an
/// explicit detach removes it.
#[test]
fn pinned_xdp_link_survives_drop_until_detached() {
    require_root!();
    let pair = VethPair::new();
    let bpffs = common::Bpffs::new();
    let pin = bpffs.path().join("xdp_link");
    let ifindex = pair.right_ifindex();
    let mut ebpf = load();
    pair.right.run(|| {
        let program: &mut Xdp = ebpf
            .program_mut("xdp_count")
            .expect("program")
            .try_into()
            .expect("XDP");
        let program_id = program.info().expect("info").id;
        let link = program.attach(ifindex, XdpFlags::SKB_MODE).expect("attach");
        link.fd_link().expect("a bpf_link").pin(&pin).expect("pin");
        drop(link);
        assert_eq!(
            attached_program(ifindex),
            Some(program_id),
            "a pinned link stays attached"
        );
        let reopened = bpfkit::links::FdLink::from_pin(&pin).expect("reopen the pin");
        drop(reopened);
        assert_eq!(
            attached_program(ifindex),
            Some(program_id),
            "dropping a reopened pin keeps it"
        );
        bpfkit::links::FdLink::from_pin(&pin)
            .expect("reopen the pin")
            .detach()
            .expect("detach");
        assert_eq!(attached_program(ifindex), None, "detached");
    });
    std::fs::remove_file(&pin).expect("unpin");
}
