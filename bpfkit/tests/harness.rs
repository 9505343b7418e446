//! Tests of the kernel-test harness itself: the guards create what they say and leave nothing
//! behind.

#[macro_use]
mod common;

use common::{Bpffs, NetNs, VethPair};

fn namespaces() -> String {
    common::run_ok(&["ip", "netns", "list"])
}

#[test]
fn skip_message_names_the_test_and_the_override() {
    let line = common::skip_message("xdp::counts");
    assert_eq!(
        line,
        "skipped: xdp::counts: needs root (set BPFKIT_REQUIRE_KERNEL_TESTS=1 to fail instead)"
    );
}

#[test]
fn netns_is_created_usable_and_removed() {
    require_root!();
    let ns = NetNs::new();
    let name = ns.name().to_string();
    assert!(
        namespaces()
            .lines()
            .any(|l| l.split_whitespace().next() == Some(name.as_str())),
        "{}",
        namespaces()
    );
    assert!(std::path::Path::new(&format!("/run/netns/{name}")).exists());
    // Inside, only the loopback exists, and `run` sees the same interfaces as `exec`.
    let links = ns.exec_ok(&["ip", "-o", "link", "show"]);
    assert_eq!(links.lines().count(), 1, "{links}");
    let lo_via_sysfs: u32 = ns
        .exec_ok(&["cat", "/sys/class/net/lo/ifindex"])
        .trim()
        .parse()
        .expect("an ifindex");
    assert_eq!(ns.ifindex("lo"), lo_via_sysfs);
    drop(ns);
    assert!(
        !namespaces()
            .lines()
            .any(|l| l.split_whitespace().next() == Some(name.as_str())),
        "{}",
        namespaces()
    );
    assert!(!std::path::Path::new(&format!("/run/netns/{name}")).exists());
}

#[test]
fn veth_pair_carries_traffic_and_disappears() {
    require_root!();
    let pair = VethPair::new();
    let (left, right) = (pair.left.name().to_string(), pair.right.name().to_string());
    pair.left.ping(VethPair::RIGHT_ADDR, 2);
    pair.right.ping(VethPair::LEFT_ADDR, 2);
    // The interfaces exist only inside the namespaces, never in ours.
    let host_links = common::run_ok(&["ip", "-o", "link", "show"]);
    assert!(
        !host_links.contains(&format!(" {}@", VethPair::LEFT_IF)),
        "{host_links}"
    );
    assert!(pair.right.link_details(VethPair::RIGHT_IF).contains("veth"));
    // A socket made by `run` lives in the namespace: it can bind the namespace's address.
    let bound = pair.right.run(|| {
        common::udp_socket(VethPair::RIGHT_ADDR, 0)
            .local_addr()
            .map(|a| a.ip())
    });
    assert_eq!(
        bound.expect("local_addr"),
        std::net::IpAddr::V4(VethPair::RIGHT_ADDR)
    );
    drop(pair);
    let list = namespaces();
    assert!(!list.contains(&left) && !list.contains(&right), "{list}");
}

#[test]
fn run_propagates_panics_and_still_cleans_up() {
    require_root!();
    let ns = NetNs::new();
    let name = ns.name().to_string();
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ns.run(|| panic!("inside"))));
    assert!(result.is_err());
    drop(ns);
    assert!(!namespaces().contains(&name));
}

#[test]
fn bpffs_is_mounted_and_unmounted() {
    require_root!();
    let fs = Bpffs::new();
    let path = fs.path().to_path_buf();
    assert!(Bpffs::is_mounted(&path), "{} not a bpffs", path.display());
    std::fs::create_dir(path.join("subdir")).expect("bpffs allows directories");
    drop(fs);
    assert!(!Bpffs::is_mounted(&path));
    assert!(!path.exists());
}

#[test]
fn committed_objects_are_present() {
    for name in [
        "xdp_count.bpf.o",
        "tc_drop.bpf.o",
        "socket_filter.bpf.o",
        "calls.bpf.o",
        "maps.bpf.o",
        "verifier_reject.bpf.o",
    ] {
        let bytes = common::object(name);
        assert_eq!(bytes.get(..4), Some(b"\x7fELF".as_slice()), "{name}");
    }
}
