//! TC classifiers dropping UDP datagrams to one port, attached with TCX and with netlink to the
//! receiving end of a veth pair; shown by traffic between two namespaces.

#[macro_use]
mod common;

use bpfkit::programs::{LinkOrder, SchedClassifier, TcAttachType, TcOptions};
use bpfkit::{Ebpf, EbpfLoader};
use common::VethPair;

const DROPPED_PORT: u16 = 4242;
const KEPT_PORT: u16 = 4243;
const DATAGRAMS: usize = 5;

fn load() -> Ebpf {
    EbpfLoader::new()
        .set_global("drop_port", &DROPPED_PORT, true)
        .load(&common::object("tc_drop.bpf.o"))
        .expect("loading tc_drop.bpf.o")
}

/// How many of `DATAGRAMS` datagrams per port arrived on (dropped port, kept port). Runs inside
/// the right namespace.
fn exchange(pair: &VethPair) -> (usize, usize) {
    let [dropped, kept] = common::udp_exchange(pair, [DROPPED_PORT, KEPT_PORT], DATAGRAMS);
    (dropped, kept)
}

fn counters(ebpf: &Ebpf) -> (u64, u64) {
    (
        ebpf.global("dropped").expect("dropped"),
        ebpf.global("passed_udp").expect("passed_udp"),
    )
}

#[test]
fn tcx_drops_one_udp_port() {
    require_root!();
    let pair = VethPair::new();
    let ifindex = pair.right_ifindex();
    let mut ebpf = load();
    // Resolve the neighbours first, so no datagram waits on ARP.
    pair.left.ping(VethPair::RIGHT_ADDR, 1);
    pair.right.run(|| {
        assert_eq!(
            exchange(&pair),
            (DATAGRAMS, DATAGRAMS),
            "without the classifier, both ports receive"
        );
        let program: &mut SchedClassifier = ebpf
            .program_mut("tcx_drop")
            .expect("program")
            .try_into()
            .expect("a classifier");
        let link = program
            .attach_tcx(ifindex, TcAttachType::Ingress, LinkOrder::Last)
            .expect("TCX attach");
        assert_eq!(
            exchange(&pair),
            (0, DATAGRAMS),
            "with the classifier, only the kept port receives"
        );
        drop(link);
        assert_eq!(
            exchange(&pair),
            (DATAGRAMS, DATAGRAMS),
            "after detach, both ports receive again"
        );
    });
    assert_eq!(counters(&ebpf), (DATAGRAMS as u64, DATAGRAMS as u64));
}

#[test]
fn netlink_tc_drops_one_udp_port() {
    require_root!();
    let pair = VethPair::new();
    let ifindex = pair.right_ifindex();
    let mut ebpf = load();
    pair.left.ping(VethPair::RIGHT_ADDR, 1);
    pair.right.run(|| {
        let program: &mut SchedClassifier = ebpf
            .program_mut("tc_drop")
            .expect("program")
            .try_into()
            .expect("a classifier");
        let link = program
            .attach_netlink(ifindex, TcAttachType::Ingress, TcOptions::default())
            .expect("netlink attach");
        let filters =
            pair.right
                .exec_ok(&["tc", "filter", "show", "dev", VethPair::RIGHT_IF, "ingress"]);
        assert!(
            filters.contains("tc_drop") && filters.contains("direct-action"),
            "{filters}"
        );
        assert_eq!(
            exchange(&pair),
            (0, DATAGRAMS),
            "with the filter, only the kept port receives"
        );
        drop(link);
        let filters =
            pair.right
                .exec_ok(&["tc", "filter", "show", "dev", VethPair::RIGHT_IF, "ingress"]);
        assert!(
            !filters.contains("tc_drop"),
            "filter left behind:\n{filters}"
        );
        assert_eq!(
            exchange(&pair),
            (DATAGRAMS, DATAGRAMS),
            "after detach, both ports receive again"
        );
    });
    assert_eq!(counters(&ebpf), (DATAGRAMS as u64, DATAGRAMS as u64));
}

#[test]
fn drop_port_zero_drops_nothing() {
    require_root!();
    // Without the .rodata setting the program is loaded with drop_port = 0.
    let pair = VethPair::new();
    let ifindex = pair.right_ifindex();
    let mut ebpf = Ebpf::load(&common::object("tc_drop.bpf.o")).expect("load");
    pair.left.ping(VethPair::RIGHT_ADDR, 1);
    pair.right.run(|| {
        let program: &mut SchedClassifier = ebpf
            .program_mut("tcx_drop")
            .expect("program")
            .try_into()
            .expect("a classifier");
        let link = program
            .attach_tcx(ifindex, TcAttachType::Ingress, LinkOrder::Last)
            .expect("TCX attach");
        assert_eq!(exchange(&pair), (DATAGRAMS, DATAGRAMS));
        drop(link);
    });
    assert_eq!(counters(&ebpf), (0, 2 * DATAGRAMS as u64));
}
