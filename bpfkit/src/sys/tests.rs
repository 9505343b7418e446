//! Kernel tests for the syscall layer. They need root; otherwise they print
//! `skipped: <test>: needs root` and pass, unless `BPFKIT_REQUIRE_KERNEL_TESTS=1`.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use bpfkit_obj::insn::Insn;
use bpfkit_obj::uapi::{attach_type, link_type, map_type, prog_type};

use super::netlink::{self, TcDirection};
use super::uapi::consts::*;
use super::*;

/// True when the test must be skipped (not root and kernel tests not required).
pub(crate) fn skip_without_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return false;
    }
    if std::env::var("BPFKIT_REQUIRE_KERNEL_TESTS").as_deref() == Ok("1") {
        panic!("{test}: needs root and BPFKIT_REQUIRE_KERNEL_TESTS=1");
    }
    println!("skipped: {test}: needs root");
    true
}

/// A bpffs mounted on a fresh directory; unmounted and removed on drop.
pub(crate) struct BpffsGuard {
    pub(crate) path: PathBuf,
}

impl BpffsGuard {
    pub(crate) fn mount(tag: &str) -> BpffsGuard {
        let path = std::env::temp_dir().join(format!("bpfkit-bpffs-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create mount point");
        let target = CString::new(path.as_os_str().as_bytes()).expect("path");
        let fstype = CString::new("bpf").expect("fstype");
        // SAFETY: all strings are NUL-terminated and live across the call; no data argument.
        let ret = unsafe {
            libc::mount(
                fstype.as_ptr(),
                target.as_ptr(),
                fstype.as_ptr(),
                0,
                std::ptr::null(),
            )
        };
        assert_eq!(ret, 0, "mount bpffs: {}", std::io::Error::last_os_error());
        BpffsGuard { path }
    }
}

impl Drop for BpffsGuard {
    fn drop(&mut self) {
        if let Ok(target) = CString::new(self.path.as_os_str().as_bytes()) {
            // SAFETY: NUL-terminated path; MNT_DETACH so a leaked fd cannot keep it busy.
            unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
        }
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// A network namespace with a veth pair (`veth0` <-> `veth1`, both up); deleted on drop.
pub(crate) struct NetnsGuard {
    pub(crate) name: String,
}

fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().expect("run ip");
    assert!(status.success(), "ip {args:?} failed");
}

impl NetnsGuard {
    pub(crate) fn with_veth(tag: &str) -> NetnsGuard {
        let name = format!("bpfkit-{}-{tag}", std::process::id());
        ip(&["netns", "add", &name]);
        let guard = NetnsGuard { name };
        ip(&[
            "-n",
            &guard.name,
            "link",
            "add",
            "veth0",
            "type",
            "veth",
            "peer",
            "name",
            "veth1",
        ]);
        ip(&["-n", &guard.name, "link", "set", "veth0", "up"]);
        ip(&["-n", &guard.name, "link", "set", "veth1", "up"]);
        guard
    }

    /// Runs `f` on a thread that entered the namespace.
    pub(crate) fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    let ns = std::fs::File::open(&path).expect("open netns");
                    // SAFETY: `ns` is an open netns file; setns only affects this thread.
                    let ret = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
                    assert_eq!(ret, 0, "setns: {}", std::io::Error::last_os_error());
                    f()
                })
                .join()
                .expect("netns thread panicked")
        })
    }
}

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// `r0 = imm; exit`.
pub(crate) fn return_imm(imm: i32) -> [Insn; 2] {
    [Insn::new(0xb7, 0, 0, 0, imm), Insn::new(0x95, 0, 0, 0, 0)]
}

pub(crate) fn load(
    prog_type: u32,
    expected_attach_type: u32,
    insns: &[Insn],
    name: &str,
) -> OwnedFd {
    let (fd, _) = prog_load(&ProgLoad {
        prog_type,
        expected_attach_type,
        insns,
        license: "GPL",
        name,
        ..Default::default()
    })
    .expect("load program");
    fd
}

fn hash_map(name: &str) -> OwnedFd {
    map_create(&MapCreate {
        map_type: map_type::BPF_MAP_TYPE_HASH,
        key_size: 4,
        value_size: 8,
        max_entries: 64,
        name,
        ..Default::default()
    })
    .expect("create hash map")
}

#[test]
fn hash_map_element_ops_and_iteration() {
    if skip_without_root("hash_map_element_ops_and_iteration") {
        return;
    }
    let fd = hash_map("sys_test-hash!");
    let map = MapHandle::new(fd.as_fd()).expect("handle");
    let info = map_info(fd.as_fd()).expect("info");
    assert_eq!(info.name, "sys_testhash");
    assert_eq!(
        (
            info.map_type,
            info.key_size,
            info.value_size,
            info.max_entries
        ),
        (1, 4, 8, 64)
    );

    for k in 1u32..=5 {
        map_update_elem(
            &map,
            Some(&k.to_ne_bytes()),
            &(u64::from(k) * 10).to_ne_bytes(),
            BPF_ANY,
        )
        .expect("update");
    }
    let mut value = [0u8; 8];
    assert!(map_lookup_elem(&map, Some(&3u32.to_ne_bytes()), &mut value, 0).expect("lookup"));
    assert_eq!(u64::from_ne_bytes(value), 30);
    assert!(!map_lookup_elem(&map, Some(&99u32.to_ne_bytes()), &mut value, 0).expect("lookup"));
    let exists = map_update_elem(&map, Some(&3u32.to_ne_bytes()), &value, BPF_NOEXIST)
        .expect_err("NOEXIST on existing key");
    assert_eq!(exists.errno(), libc::EEXIST);
    assert_eq!(exists.command, "BPF_MAP_UPDATE_ELEM");

    // Too-small buffers are refused before the kernel sees them.
    let short = map_lookup_elem(&map, Some(&[0u8; 2]), &mut value, 0).expect_err("short key");
    assert_eq!(short.errno(), libc::EINVAL);
    assert!(map_lookup_elem(&map, Some(&3u32.to_ne_bytes()), &mut [0u8; 4], 0).is_err());

    let mut keys = Vec::new();
    let mut cursor: Option<[u8; 4]> = None;
    let mut next = [0u8; 4];
    while map_get_next_key(&map, cursor.as_ref().map(|c| &c[..]), &mut next).expect("next key") {
        keys.push(u32::from_ne_bytes(next));
        cursor = Some(next);
    }
    keys.sort_unstable();
    assert_eq!(keys, vec![1, 2, 3, 4, 5]);

    assert!(map_delete_elem(&map, &2u32.to_ne_bytes()).expect("delete"));
    assert!(!map_delete_elem(&map, &2u32.to_ne_bytes()).expect("delete again"));
    assert!(
        map_lookup_and_delete_elem(&map, Some(&4u32.to_ne_bytes()), &mut value, 0)
            .expect("lookup and delete")
    );
    assert_eq!(u64::from_ne_bytes(value), 40);
    assert!(!map_lookup_elem(&map, Some(&4u32.to_ne_bytes()), &mut value, 0).expect("gone"));
}

#[test]
fn hash_map_batches() {
    if skip_without_root("hash_map_batches") {
        return;
    }
    let fd = hash_map("sys_batch");
    let map = MapHandle::new(fd.as_fd()).expect("handle");
    let keys: Vec<u8> = (0u32..20).flat_map(|k| k.to_ne_bytes()).collect();
    let values: Vec<u8> = (0u64..20).flat_map(|v| (v + 100).to_ne_bytes()).collect();
    assert_eq!(
        map_update_batch(&map, &keys, &values, 20, 0, 0).expect("update batch"),
        20
    );
    assert!(
        map_update_batch(&map, &keys, &values, 21, 0, 0).is_err(),
        "buffer too short"
    );

    let mut seen = Vec::new();
    let token_size = batch_token_size(&map);
    let mut in_batch: Option<Vec<u8>> = None;
    loop {
        let mut out = vec![0u8; token_size];
        let mut k = vec![0u8; 4 * 8];
        let mut v = vec![0u8; 8 * 8];
        let r = map_lookup_batch(&map, in_batch.as_deref(), &mut out, &mut k, &mut v, 8, 0, 0)
            .expect("lookup batch");
        for i in 0..r.count as usize {
            let key = u32::from_ne_bytes(k[i * 4..i * 4 + 4].try_into().expect("4"));
            let value = u64::from_ne_bytes(v[i * 8..i * 8 + 8].try_into().expect("8"));
            assert_eq!(value, u64::from(key) + 100);
            seen.push(key);
        }
        if r.done {
            break;
        }
        in_batch = Some(out);
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..20).collect::<Vec<_>>());

    let del: Vec<u8> = (0u32..5).flat_map(|k| k.to_ne_bytes()).collect();
    assert_eq!(
        map_delete_batch(&map, &del, 5, 0, 0).expect("delete batch"),
        5
    );

    let mut out = vec![0u8; token_size];
    let mut k = vec![0u8; 4 * 64];
    let mut v = vec![0u8; 8 * 64];
    let r = map_lookup_and_delete_batch(&map, None, &mut out, &mut k, &mut v, 64, 0, 0)
        .expect("lookup and delete batch");
    assert_eq!(
        r,
        BatchResult {
            count: 15,
            done: true
        }
    );
    let mut next = [0u8; 4];
    assert!(!map_get_next_key(&map, None, &mut next).expect("empty"));
}

#[test]
fn per_cpu_values_use_possible_cpus() {
    if skip_without_root("per_cpu_values_use_possible_cpus") {
        return;
    }
    let fd = map_create(&MapCreate {
        map_type: map_type::BPF_MAP_TYPE_PERCPU_ARRAY,
        key_size: 4,
        value_size: 4,
        max_entries: 2,
        name: "sys_percpu",
        ..Default::default()
    })
    .expect("create");
    let map = MapHandle::new(fd.as_fd()).expect("handle");
    let cpus = possible_cpus().expect("cpus");
    assert_eq!(map.value_buffer_size(), 8 * cpus);
    let values: Vec<u8> = (0..cpus as u64)
        .flat_map(|c| (c + 1).to_ne_bytes())
        .collect();
    map_update_elem(&map, Some(&1u32.to_ne_bytes()), &values, BPF_ANY).expect("update");
    let mut out = vec![0u8; 8 * cpus];
    assert!(map_lookup_elem(&map, Some(&1u32.to_ne_bytes()), &mut out, 0).expect("lookup"));
    assert_eq!(out, values);
    assert!(map_lookup_elem(&map, Some(&1u32.to_ne_bytes()), &mut [0u8; 4], 0).is_err());
}

#[test]
fn freeze_makes_map_read_only() {
    if skip_without_root("freeze_makes_map_read_only") {
        return;
    }
    let fd = map_create(&MapCreate {
        map_type: map_type::BPF_MAP_TYPE_ARRAY,
        key_size: 4,
        value_size: 4,
        max_entries: 1,
        name: "sys_frozen",
        ..Default::default()
    })
    .expect("create");
    let map = MapHandle::new(fd.as_fd()).expect("handle");
    map_update_elem(
        &map,
        Some(&0u32.to_ne_bytes()),
        &7u32.to_ne_bytes(),
        BPF_ANY,
    )
    .expect("update");
    map_freeze(fd.as_fd()).expect("freeze");
    let err = map_update_elem(
        &map,
        Some(&0u32.to_ne_bytes()),
        &8u32.to_ne_bytes(),
        BPF_ANY,
    )
    .expect_err("frozen");
    assert_eq!(err.errno(), libc::EPERM);
    let mut value = [0u8; 4];
    assert!(map_lookup_elem(&map, Some(&0u32.to_ne_bytes()), &mut value, 0).expect("lookup"));
    assert_eq!(u32::from_ne_bytes(value), 7);
}

#[test]
fn pin_and_get_on_bpffs() {
    if skip_without_root("pin_and_get_on_bpffs") {
        return;
    }
    let fs = BpffsGuard::mount("pin");
    let fd = hash_map("sys_pinned");
    let path = fs.path.join("pinned_map");
    obj_pin(fd.as_fd(), &path).expect("pin");
    let again = obj_get(&path, 0).expect("get");
    let a = map_info(fd.as_fd()).expect("info");
    let b = map_info(again.as_fd()).expect("info");
    assert_eq!(a.id, b.id);
    let by_id = map_get_fd_by_id(a.id).expect("by id");
    assert_eq!(map_info(by_id.as_fd()).expect("info").id, a.id);
    let missing = obj_get(&fs.path.join("nothing"), 0).expect_err("missing pin");
    assert_eq!(missing.errno(), libc::ENOENT);
    std::fs::remove_file(&path).expect("unpin");
    let _: &Path = &fs.path;
}

#[test]
fn socket_filter_load_and_test_run() {
    if skip_without_root("socket_filter_load_and_test_run") {
        return;
    }
    let prog = load(
        prog_type::BPF_PROG_TYPE_SOCKET_FILTER,
        0,
        &return_imm(7),
        "sys_sf",
    );
    let info = prog_info(prog.as_fd()).expect("info");
    assert_eq!(info.name, "sys_sf");
    assert_eq!(info.prog_type, prog_type::BPF_PROG_TYPE_SOCKET_FILTER);
    assert!(info.gpl_compatible);
    assert_eq!(info.xlated_prog_len, 16);
    assert!(prog_map_ids(prog.as_fd()).expect("map ids").is_empty());
    let by_id = prog_get_fd_by_id(info.id).expect("by id");
    assert_eq!(prog_info(by_id.as_fd()).expect("info").tag, info.tag);
    // Walking the id space finds it.
    let mut id = 0;
    let mut found = false;
    while let Some(next) = prog_get_next_id(id).expect("next id") {
        found |= next == info.id;
        id = next;
    }
    assert!(found);

    let packet = [0u8; 64];
    let mut out = [0u8; 64];
    let result = prog_test_run(&mut TestRun {
        prog_fd: prog.as_fd(),
        data_in: &packet,
        data_out: Some(&mut out),
        ctx_in: &[],
        ctx_out: None,
        repeat: 3,
        flags: 0,
        cpu: 0,
        batch_size: 0,
    })
    .expect("test run");
    assert_eq!(result.retval, 7);
    assert_eq!(result.data_size_out, 64);

    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp socket");
    attach_socket_filter(socket.as_fd(), prog.as_fd()).expect("SO_ATTACH_BPF");
    detach_socket_filter(socket.as_fd()).expect("SO_DETACH_BPF");
    assert!(
        detach_socket_filter(socket.as_fd()).is_err(),
        "nothing left to detach"
    );
}

#[test]
fn verifier_rejection_carries_the_log() {
    if skip_without_root("verifier_rejection_carries_the_log") {
        return;
    }
    // r0 = r2 (never initialised); exit
    let insns = [Insn::new(0xbf, 0, 2, 0, 0), Insn::new(0x95, 0, 0, 0, 0)];
    let err = prog_load(&ProgLoad {
        prog_type: prog_type::BPF_PROG_TYPE_SOCKET_FILTER,
        insns: &insns,
        license: "GPL",
        name: "sys_bad",
        ..Default::default()
    })
    .expect_err("verifier must reject");
    assert_eq!(err.source.errno(), libc::EACCES);
    assert!(err.log.contains("R2 !read_ok"), "log: {}", err.log);
    assert!(!err.log_truncated);
    assert!(err.to_string().contains("verifier: "), "{err}");

    // With an explicit level, the log comes back on success too.
    let (_fd, log) = prog_load(&ProgLoad {
        prog_type: prog_type::BPF_PROG_TYPE_SOCKET_FILTER,
        insns: &return_imm(0),
        license: "GPL",
        log_level: BPF_LOG_LEVEL2,
        ..Default::default()
    })
    .expect("load with log");
    assert!(log.contains("exit"), "log: {log}");
}

/// A BTF blob with one type, `int` (4 bytes, signed); `bad_kind` corrupts the type's kind.
fn tiny_btf(bad_kind: bool) -> Vec<u8> {
    let strings = b"\0int\0";
    let kind: u32 = if bad_kind { 31 } else { 1 };
    let types: Vec<u8> = [1u32, kind << 24, 4, (1 << 24) | 32]
        .iter()
        .flat_map(|w| w.to_ne_bytes())
        .collect();
    let mut out = Vec::new();
    out.extend_from_slice(&0xEB9F_u16.to_ne_bytes());
    out.extend_from_slice(&[1, 0]);
    for word in [
        24u32,
        0,
        types.len() as u32,
        types.len() as u32,
        strings.len() as u32,
    ] {
        out.extend_from_slice(&word.to_ne_bytes());
    }
    out.extend_from_slice(&types);
    out.extend_from_slice(strings);
    out
}

#[test]
fn btf_load_and_log() {
    if skip_without_root("btf_load_and_log") {
        return;
    }
    let fd = btf_load(&tiny_btf(false), 0).expect("load BTF");
    // The BTF can describe a map's key and value.
    let map = map_create(&MapCreate {
        map_type: map_type::BPF_MAP_TYPE_HASH,
        key_size: 4,
        value_size: 4,
        max_entries: 1,
        name: "sys_btf",
        btf_fd: Some(fd.as_fd()),
        btf_key_type_id: 1,
        btf_value_type_id: 1,
        ..Default::default()
    })
    .expect("map with BTF");
    assert_eq!(map_info(map.as_fd()).expect("info").btf_key_type_id, 1);
    let err = btf_load(&tiny_btf(true), 0).expect_err("bad kind");
    assert_eq!(err.source.errno(), libc::EINVAL);
    assert!(!err.log.is_empty());
}

#[test]
fn xdp_netlink_and_link() {
    if skip_without_root("xdp_netlink_and_link") {
        return;
    }
    let ns = NetnsGuard::with_veth("xdp");
    let pass = load(
        prog_type::BPF_PROG_TYPE_XDP,
        attach_type::BPF_XDP,
        &return_imm(2),
        "sys_xdp_pass",
    );
    let drop_ = load(
        prog_type::BPF_PROG_TYPE_XDP,
        attach_type::BPF_XDP,
        &return_imm(1),
        "sys_xdp_drop",
    );
    let pass_id = prog_info(pass.as_fd()).expect("info").id;
    let drop_id = prog_info(drop_.as_fd()).expect("info").id;
    ns.run(|| {
        let index = ifindex("veth0").expect("veth0");
        // Legacy netlink, generic mode.
        netlink::xdp_attach(index, pass.as_fd(), XDP_FLAGS_SKB_MODE, None).expect("attach");
        let q = netlink::xdp_query(index).expect("query");
        assert_eq!(q.attach_mode, XDP_ATTACHED_SKB);
        assert_eq!(q.prog_id, Some(pass_id));
        assert_eq!(q.skb_prog_id, Some(pass_id));
        // Replace only if `pass` is still attached; a wrong expectation fails with extack.
        netlink::xdp_attach(index, drop_.as_fd(), XDP_FLAGS_SKB_MODE, Some(pass.as_fd()))
            .expect("replace");
        let stale =
            netlink::xdp_attach(index, pass.as_fd(), XDP_FLAGS_SKB_MODE, Some(pass.as_fd()))
                .expect_err("stale replace");
        assert_eq!(stale.errno(), Some(libc::EEXIST));
        assert!(stale.message.is_some(), "extack expected: {stale}");
        assert_eq!(
            netlink::xdp_query(index).expect("query").prog_id,
            Some(drop_id)
        );
        netlink::xdp_detach(index, XDP_FLAGS_SKB_MODE, None).expect("detach");
        assert_eq!(
            netlink::xdp_query(index).expect("query").attach_mode,
            XDP_ATTACHED_NONE
        );

        // bpf_link.
        let link = link_create(&LinkCreate {
            prog_fd: pass.as_fd(),
            target: LinkTarget::Ifindex(index),
            attach_type: attach_type::BPF_XDP,
            flags: XDP_FLAGS_SKB_MODE,
            extra: LinkExtra::None,
        })
        .expect("link");
        let info = link_info(link.as_fd()).expect("link info");
        assert_eq!(info.link_type, link_type::BPF_LINK_TYPE_XDP);
        assert_eq!(info.prog_id, pass_id);
        assert_eq!(info.details, LinkDetails::Xdp { ifindex: index });
        assert_eq!(
            netlink::xdp_query(index).expect("query").prog_id,
            Some(pass_id)
        );
        // Netlink cannot replace a link-owned program.
        let busy = netlink::xdp_attach(index, drop_.as_fd(), XDP_FLAGS_SKB_MODE, None)
            .expect_err("link owns the hook");
        assert_eq!(busy.errno(), Some(libc::EBUSY));
        link_update(link.as_fd(), drop_.as_fd(), Some(pass.as_fd()), 0).expect("link update");
        assert_eq!(link_info(link.as_fd()).expect("info").prog_id, drop_id);
        let id = info.id;
        assert_eq!(
            link_info(link_get_fd_by_id(id).expect("by id").as_fd())
                .expect("info")
                .id,
            id
        );
        link_detach(link.as_fd()).expect("link detach");
        assert_eq!(
            netlink::xdp_query(index).expect("query").attach_mode,
            XDP_ATTACHED_NONE
        );
    });
}

#[test]
fn tc_clsact_cls_bpf_filters() {
    if skip_without_root("tc_clsact_cls_bpf_filters") {
        return;
    }
    let ns = NetnsGuard::with_veth("tc");
    let prog = load(
        prog_type::BPF_PROG_TYPE_SCHED_CLS,
        0,
        &return_imm(0),
        "sys_tc",
    );
    let prog_id = prog_info(prog.as_fd()).expect("info").id;
    ns.run(|| {
        let index = ifindex("veth0").expect("veth0");
        assert!(netlink::qdisc_add_clsact(index).expect("add clsact"));
        assert!(!netlink::qdisc_add_clsact(index).expect("exists"));
        let (prio, handle) = netlink::tc_filter_attach(
            index,
            TcDirection::Ingress,
            0,
            0,
            prog.as_fd(),
            "sys_tc_filter",
        )
        .expect("attach");
        assert!(prio > 0 && handle > 0, "{prio} {handle}");
        let (prio2, handle2) =
            netlink::tc_filter_attach(index, TcDirection::Egress, 7, 3, prog.as_fd(), "egress")
                .expect("attach egress");
        assert_eq!((prio2, handle2), (7, 3));
        let filters = netlink::tc_filter_query(index, TcDirection::Ingress).expect("query");
        assert_eq!(filters.len(), 1);
        assert_eq!(filters[0].priority, prio);
        assert_eq!(filters[0].handle, handle);
        assert_eq!(filters[0].prog_id, prog_id);
        assert_eq!(filters[0].name, "sys_tc_filter");
        netlink::tc_filter_detach(index, TcDirection::Ingress, prio, handle).expect("detach");
        assert!(netlink::tc_filter_query(index, TcDirection::Ingress)
            .expect("query")
            .is_empty());
        assert_eq!(
            netlink::tc_filter_query(index, TcDirection::Egress)
                .expect("query")
                .len(),
            1
        );
        let missing = netlink::tc_filter_detach(index, TcDirection::Ingress, prio, handle)
            .expect_err("already gone");
        assert!(missing.errno().is_some());
        netlink::qdisc_del_clsact(index).expect("delete clsact");
        // Without the qdisc the hook has no filters (the kernel answers with an empty dump).
        let after = netlink::tc_filter_query(index, TcDirection::Egress);
        assert!(!matches!(&after, Ok(f) if !f.is_empty()), "{after:?}");
    });
}

#[test]
fn tcx_links_ordering_and_query() {
    if skip_without_root("tcx_links_ordering_and_query") {
        return;
    }
    let ns = NetnsGuard::with_veth("tcx");
    let a = load(
        prog_type::BPF_PROG_TYPE_SCHED_CLS,
        attach_type::BPF_TCX_INGRESS,
        &return_imm(-1),
        "sys_tcx_a",
    );
    let b = load(
        prog_type::BPF_PROG_TYPE_SCHED_CLS,
        attach_type::BPF_TCX_INGRESS,
        &return_imm(-1),
        "sys_tcx_b",
    );
    let c = load(
        prog_type::BPF_PROG_TYPE_SCHED_CLS,
        attach_type::BPF_TCX_INGRESS,
        &return_imm(-1),
        "sys_tcx_c",
    );
    let id = |fd: &OwnedFd| prog_info(fd.as_fd()).expect("info").id;
    let (a_id, b_id, c_id) = (id(&a), id(&b), id(&c));
    ns.run(|| {
        let index = ifindex("veth0").expect("veth0");
        let target = LinkTarget::Ifindex(index);
        let create =
            |prog: &OwnedFd, flags: u32, relative: Option<Relative<'_>>, expected_revision: u64| {
                link_create(&LinkCreate {
                    prog_fd: prog.as_fd(),
                    target,
                    attach_type: attach_type::BPF_TCX_INGRESS,
                    flags,
                    extra: LinkExtra::Tcx {
                        relative,
                        expected_revision,
                    },
                })
            };
        let empty = prog_query(target, attach_type::BPF_TCX_INGRESS, 0).expect("query");
        assert!(empty.prog_ids.is_empty());
        let link_a = create(&a, 0, None, empty.revision).expect("link a");
        let link_b = create(&b, BPF_F_BEFORE, Some(Relative::LinkFd(link_a.as_fd())), 0)
            .expect("b before a");
        let info_a = link_info(link_a.as_fd()).expect("info");
        assert_eq!(
            info_a.details,
            LinkDetails::Tcx {
                ifindex: index,
                attach_type: attach_type::BPF_TCX_INGRESS
            }
        );
        let link_c = create(&c, BPF_F_AFTER, Some(Relative::ProgId(a_id)), 0).expect("c after a");
        let q = prog_query(target, attach_type::BPF_TCX_INGRESS, 0).expect("query");
        assert_eq!(q.prog_ids, vec![b_id, a_id, c_id]);
        let link_id = |fd: &OwnedFd| link_info(fd.as_fd()).expect("info").id;
        assert_eq!(
            q.link_ids,
            vec![link_id(&link_b), link_id(&link_a), link_id(&link_c)]
        );
        assert!(q.revision > empty.revision);
        let stale = create(&a, 0, None, empty.revision).expect_err("stale revision");
        assert_eq!(stale.errno(), libc::ESTALE);
        // A link detaches when its last fd closes; a `Command` forked by a test running in
        // parallel may hold a copy until it execs, so give the close a moment to be the last.
        let prog_ids_settle_to = |want: Vec<u32>| {
            let mut ids = Vec::new();
            for _ in 0..100 {
                ids = prog_query(target, attach_type::BPF_TCX_INGRESS, 0)
                    .expect("query")
                    .prog_ids;
                if ids == want {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            panic!("TCX programs are {ids:?}, expected {want:?}");
        };
        drop(link_b);
        prog_ids_settle_to(vec![a_id, c_id]);
        drop((link_a, link_c));
        prog_ids_settle_to(Vec::new());
    });
}

#[test]
fn fd_zero_is_duplicated_before_use() {
    // The kernel reads fd 0 as "no fd" in several attributes, so AttrFd replaces it by a
    // duplicate above 2. fd 0 is the harness's stdin; skip when it is closed.
    // SAFETY: F_GETFD only inspects fd 0.
    if unsafe { libc::fcntl(0, libc::F_GETFD) } < 0 {
        println!("skipped: fd_zero_is_duplicated_before_use: stdin is closed");
        return;
    }
    // SAFETY: fd 0 stays open for the whole test; we only borrow it.
    let stdin = unsafe { std::os::fd::BorrowedFd::borrow_raw(0) };
    let attr = super::syscall::AttrFd::new(stdin, "test").expect("dup fd 0");
    assert!(attr.raw() > 2);
    // Other fds are passed through unchanged.
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("socket");
    let attr = super::syscall::AttrFd::new(socket.as_fd(), "test").expect("fd");
    assert_eq!(attr.raw(), socket.as_raw_fd() as u32);
}
