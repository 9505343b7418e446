//! eBPF programs written in Rust (`bpfkit/tests/rust-progs`, built with bpfkit-ebpf and
//! bpf-linker into the committed `objects/rust/*.bpf.o`), loaded by bpfkit and shown working:
//! XDP counting over a veth pair, a TC classifier dropping one UDP port set in `.rodata`, and a
//! tracepoint writing ring buffer records for this test's thread. The same objects also load
//! with bpftool (libbpf), and their BTF-defined maps parse like clang's.

#[macro_use]
mod common;

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use bpfkit::maps::{Array, HashMap};
use bpfkit::obj::consts::{
    BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_RINGBUF, BPF_PERF_EVENT,
    BPF_PROG_TYPE_SCHED_CLS, BPF_PROG_TYPE_TRACEPOINT, BPF_PROG_TYPE_XDP,
};
use bpfkit::obj::maps::MapKind;
use bpfkit::obj::Object;
use bpfkit::programs::{LinkOrder, SchedClassifier, SocketFilter, TcAttachType, Xdp, XdpFlags};
use bpfkit::sys::{LinkCreate, LinkExtra, LinkTarget};
use bpfkit::{Ebpf, EbpfLoader};
use common::VethPair;

/// The Rust objects, relative to `tests/objects`.
const RUST_OBJECTS: [&str; 7] = [
    "rust/xdp_count.bpf.o",
    "rust/tail_calls.bpf.o",
    "rust/uprobe_count.bpf.o",
    "rust/socket_filter.bpf.o",
    "rust/tc_drop.bpf.o",
    "rust/tracepoint_events.bpf.o",
    "rust/stack_memory.bpf.o",
];

/// `PERF_FLAG_FD_CLOEXEC`, for `perf_event_open`.
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;

const ICMP: u32 = 1;
const UDP: u32 = 17;

fn parse(name: &str) -> Object {
    Object::parse_named(&common::object(name), name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Without the kernel: the maps, globals and programs bpf-linker emitted from the Rust sources
/// are what the C versions give (same map layout as C `xdp_count`, `.rodata`/`.bss` globals,
/// the libbpf section names).
#[test]
fn rust_objects_parse_like_clang_ones() {
    let rust = parse("rust/xdp_count.bpf.o");
    let clang = parse("xdp_count.bpf.o");
    let (rust_counts, clang_counts) = (
        rust.map("counts").expect("Rust `counts`"),
        clang.map("counts").expect("C `counts`"),
    );
    assert_eq!(rust_counts.kind, MapKind::Btf, "a BTF-defined map");
    for (what, r, c) in [
        ("type", rust_counts.map_type, clang_counts.map_type),
        ("key size", rust_counts.key_size, clang_counts.key_size),
        (
            "value size",
            rust_counts.value_size,
            clang_counts.value_size,
        ),
        (
            "max entries",
            rust_counts.max_entries,
            clang_counts.max_entries,
        ),
        ("flags", rust_counts.map_flags, clang_counts.map_flags),
    ] {
        assert_eq!(r, c, "`counts` {what}: Rust vs C");
    }
    assert_eq!(rust_counts.map_type, BPF_MAP_TYPE_HASH);
    let program = rust.program("xdp_count").expect("program xdp_count");
    assert_eq!(program.section_name, "xdp");
    assert_eq!(
        program.section.as_ref().map(|s| s.prog_type),
        Some(BPF_PROG_TYPE_XDP)
    );

    let tc = parse("rust/tc_drop.bpf.o");
    let program = tc.program("tc_drop").expect("program tc_drop");
    assert_eq!(program.section_name, "tc");
    assert_eq!(
        program.section.as_ref().map(|s| s.prog_type),
        Some(BPF_PROG_TYPE_SCHED_CLS)
    );
    let drop_port = tc.global_variable("drop_port").expect("global drop_port");
    assert_eq!(tc.maps[drop_port.map_index].name, ".rodata");
    assert_eq!(drop_port.size, 2);
    for counter in ["dropped", "passed_udp"] {
        let variable = tc.global_variable(counter).expect(counter);
        assert_eq!(tc.maps[variable.map_index].name, ".bss", "{counter}");
        assert_eq!(variable.size, 8, "{counter}");
    }

    let tracepoint = parse("rust/tracepoint_events.bpf.o");
    let program = tracepoint.program("getppid_events").expect("program");
    assert_eq!(
        program.section_name,
        "tracepoint/syscalls/sys_enter_getppid"
    );
    assert_eq!(
        program.section.as_ref().map(|s| s.prog_type),
        Some(BPF_PROG_TYPE_TRACEPOINT)
    );
    let calls_seen = tracepoint
        .global_variable("calls_seen")
        .expect("global calls_seen");
    assert_eq!(tracepoint.maps[calls_seen.map_index].name, ".data");
    let events = tracepoint.map("events").expect("ring buffer `events`");
    assert_eq!(
        (
            events.map_type,
            events.key_size,
            events.value_size,
            events.max_entries
        ),
        (BPF_MAP_TYPE_RINGBUF, 0, 0, 64 * 1024)
    );
    let stats = tracepoint.map("stats").expect("array `stats`");
    assert_eq!(
        (
            stats.map_type,
            stats.key_size,
            stats.value_size,
            stats.max_entries
        ),
        (BPF_MAP_TYPE_ARRAY, 4, 8, 2)
    );
}

/// Every program macro of bpfkit-ebpf (one program each in `sections.bpf.o`) emits the section
/// name libbpf uses, which bpfkit-obj's libbpf-derived section table maps to the program type and
/// expected attach type libbpf would give it.
#[test]
fn rust_program_macros_emit_libbpf_section_names() {
    use bpfkit::obj::consts::*;
    let object = parse("rust/sections.bpf.o");
    // (program, section, program type, expected attach type)
    let expected: [(&str, &str, u32, Option<u32>); 27] = [
        ("sec_xdp", "xdp", BPF_PROG_TYPE_XDP, None),
        ("sec_tc", "tc", BPF_PROG_TYPE_SCHED_CLS, None),
        ("sec_socket", "socket", BPF_PROG_TYPE_SOCKET_FILTER, None),
        (
            "sec_tracepoint",
            "tracepoint/sched/sched_process_exec",
            BPF_PROG_TYPE_TRACEPOINT,
            None,
        ),
        (
            "sec_raw_tracepoint",
            "raw_tp/sys_enter",
            BPF_PROG_TYPE_RAW_TRACEPOINT,
            None,
        ),
        (
            "sec_btf_tracepoint",
            "tp_btf/sched_switch",
            BPF_PROG_TYPE_TRACING,
            Some(BPF_TRACE_RAW_TP),
        ),
        (
            "sec_kprobe",
            "kprobe/do_unlinkat",
            BPF_PROG_TYPE_KPROBE,
            None,
        ),
        (
            "sec_kretprobe",
            "kretprobe/do_unlinkat",
            BPF_PROG_TYPE_KPROBE,
            None,
        ),
        ("sec_uprobe", "uprobe", BPF_PROG_TYPE_KPROBE, None),
        ("sec_uretprobe", "uretprobe", BPF_PROG_TYPE_KPROBE, None),
        (
            "sec_fentry",
            "fentry/do_unlinkat",
            BPF_PROG_TYPE_TRACING,
            Some(BPF_TRACE_FENTRY),
        ),
        (
            "sec_fexit",
            "fexit/do_unlinkat",
            BPF_PROG_TYPE_TRACING,
            Some(BPF_TRACE_FEXIT),
        ),
        (
            "sec_lsm",
            "lsm/file_open",
            BPF_PROG_TYPE_LSM,
            Some(BPF_LSM_MAC),
        ),
        (
            "sec_perf_event",
            "perf_event",
            BPF_PROG_TYPE_PERF_EVENT,
            None,
        ),
        (
            "sec_cgroup_skb",
            "cgroup_skb/ingress",
            BPF_PROG_TYPE_CGROUP_SKB,
            Some(BPF_CGROUP_INET_INGRESS),
        ),
        (
            "sec_cgroup_sock",
            "cgroup/sock_create",
            BPF_PROG_TYPE_CGROUP_SOCK,
            Some(BPF_CGROUP_INET_SOCK_CREATE),
        ),
        (
            "sec_cgroup_sock_addr",
            "cgroup/connect4",
            BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            Some(BPF_CGROUP_INET4_CONNECT),
        ),
        (
            "sec_cgroup_sockopt",
            "cgroup/getsockopt",
            BPF_PROG_TYPE_CGROUP_SOCKOPT,
            Some(BPF_CGROUP_GETSOCKOPT),
        ),
        (
            "sec_cgroup_sysctl",
            "cgroup/sysctl",
            BPF_PROG_TYPE_CGROUP_SYSCTL,
            Some(BPF_CGROUP_SYSCTL),
        ),
        (
            "sec_cgroup_device",
            "cgroup/dev",
            BPF_PROG_TYPE_CGROUP_DEVICE,
            Some(BPF_CGROUP_DEVICE),
        ),
        (
            "sec_sock_ops",
            "sockops",
            BPF_PROG_TYPE_SOCK_OPS,
            Some(BPF_CGROUP_SOCK_OPS),
        ),
        (
            "sec_sk_msg",
            "sk_msg",
            BPF_PROG_TYPE_SK_MSG,
            Some(BPF_SK_MSG_VERDICT),
        ),
        (
            "sec_stream_parser",
            "sk_skb/stream_parser",
            BPF_PROG_TYPE_SK_SKB,
            Some(BPF_SK_SKB_STREAM_PARSER),
        ),
        (
            "sec_stream_verdict",
            "sk_skb/stream_verdict",
            BPF_PROG_TYPE_SK_SKB,
            Some(BPF_SK_SKB_STREAM_VERDICT),
        ),
        (
            "sec_sk_lookup",
            "sk_lookup",
            BPF_PROG_TYPE_SK_LOOKUP,
            Some(BPF_SK_LOOKUP),
        ),
        (
            "sec_flow_dissector",
            "flow_dissector",
            BPF_PROG_TYPE_FLOW_DISSECTOR,
            Some(BPF_FLOW_DISSECTOR),
        ),
        (
            "sec_iter",
            "iter/task",
            BPF_PROG_TYPE_TRACING,
            Some(BPF_TRACE_ITER),
        ),
    ];
    for (name, section, prog_type, attach_type) in expected {
        let program = object
            .program(name)
            .unwrap_or_else(|| panic!("no program {name}"));
        assert_eq!(program.section_name, section, "{name}");
        let definition = program
            .section
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: section {section} not recognised"));
        assert_eq!(definition.prog_type, prog_type, "{name}: program type");
        if attach_type.is_some() {
            assert_eq!(
                definition.expected_attach_type, attach_type,
                "{name}: attach type"
            );
        }
    }
    assert_eq!(object.programs.len(), 27, "one program per macro");

    let recent = object.map("recent").expect("LRU hash `recent`");
    assert_eq!(
        (
            recent.map_type,
            recent.key_size,
            recent.value_size,
            recent.max_entries
        ),
        (BPF_MAP_TYPE_LRU_HASH, 4, 8, 128)
    );
    let per_cpu = object.map("per_cpu_hits").expect("per-CPU array");
    assert_eq!(
        (
            per_cpu.map_type,
            per_cpu.key_size,
            per_cpu.value_size,
            per_cpu.max_entries
        ),
        (BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 4)
    );
}

/// The programs of `sections.bpf.o` pass the verifier, one by one. fentry, fexit and LSM are
/// left out: this kernel refuses BPF trampolines with EPERM to every loader (bpftool cannot load
/// the C `fentry_unlink` either, see `objects/realworld/bpftool-compat.txt`).
#[test]
fn rust_section_programs_load() {
    require_root!();
    let trampolines = ["sec_fentry", "sec_fexit", "sec_lsm"];
    let mut ebpf = EbpfLoader::new()
        .autoload(false)
        .load(&common::object("rust/sections.bpf.o"))
        .expect("creating the maps");
    let names: Vec<String> = parse("rust/sections.bpf.o")
        .programs
        .iter()
        .map(|p| p.name.clone())
        .filter(|name| !trampolines.contains(&name.as_str()))
        .collect();
    assert_eq!(names.len(), 24);
    for name in &names {
        ebpf.load_program(name)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            ebpf.program(name).expect("program").data().is_loaded(),
            "{name}"
        );
    }
}

/// XDP: pings across a veth pair are counted under ICMP by the Rust program, in the same map
/// layout the C program uses.
#[test]
fn rust_xdp_counts_pings_per_protocol() {
    require_root!();
    let pair = VethPair::new();
    let ifindex = pair.right_ifindex();
    let mut ebpf = Ebpf::load(&common::object("rust/xdp_count.bpf.o")).expect("loading");
    let pings = 4;
    pair.right.run(|| {
        let program: &mut Xdp = ebpf
            .program_mut("xdp_count")
            .expect("program")
            .try_into()
            .expect("an XDP program");
        let link = program
            .attach(ifindex, XdpFlags::SKB_MODE)
            .expect("XDP attach");
        pair.left.ping(VethPair::RIGHT_ADDR, pings);
        drop(link);
    });
    let counts: HashMap<_, u32, u64> =
        HashMap::try_from(ebpf.map("counts").expect("map `counts`")).expect("a u32 -> u64 hash");
    assert_eq!(counts.get(&ICMP).expect("lookup"), Some(u64::from(pings)));
    assert_eq!(counts.get(&UDP).expect("lookup"), None);
}

const DROPPED_PORT: u16 = 4252;
const KEPT_PORT: u16 = 4253;
const DATAGRAMS: usize = 4;

/// How many of `DATAGRAMS` datagrams per port arrived on (dropped port, kept port). Runs inside
/// the right namespace.
fn exchange(pair: &VethPair) -> (usize, usize) {
    let [dropped, kept] = common::udp_exchange(pair, [DROPPED_PORT, KEPT_PORT], DATAGRAMS);
    (dropped, kept)
}

/// TC: the Rust classifier drops the port user space wrote into its `.rodata` before load, and
/// counts in `.bss` what it dropped and passed.
#[test]
fn rust_tc_drops_the_udp_port_set_in_rodata() {
    require_root!();
    let pair = VethPair::new();
    let ifindex = pair.right_ifindex();
    let mut ebpf = EbpfLoader::new()
        .set_global("drop_port", &DROPPED_PORT, true)
        .load(&common::object("rust/tc_drop.bpf.o"))
        .expect("loading");
    pair.left.ping(VethPair::RIGHT_ADDR, 1);
    pair.right.run(|| {
        let program: &mut SchedClassifier = ebpf
            .program_mut("tc_drop")
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
        assert_eq!(exchange(&pair), (DATAGRAMS, DATAGRAMS), "after detach");
    });
    let dropped: u64 = ebpf.global("dropped").expect("dropped");
    let passed: u64 = ebpf.global("passed_udp").expect("passed_udp");
    assert_eq!((dropped, passed), (DATAGRAMS as u64, DATAGRAMS as u64));
}

/// Socket filter: on a loopback UDP socket, the Rust filter drops the datagrams whose payload
/// starts with 'x' (read with `bpf_skb_load_bytes`, as socket filters cannot read the packet
/// directly) and counts kept and dropped ones.
#[test]
fn rust_socket_filter_drops_datagrams_starting_with_x() {
    require_root!();
    let mut ebpf = Ebpf::load(&common::object("rust/socket_filter.bpf.o")).expect("loading");
    let receiver = common::udp_socket(std::net::Ipv4Addr::LOCALHOST, 0);
    let address = receiver.local_addr().expect("local_addr");
    let sender =
        std::net::UdpSocket::bind((std::net::Ipv4Addr::LOCALHOST, 0)).expect("bind sender");
    let filter: &mut SocketFilter = ebpf
        .program_mut("udp_filter")
        .expect("program")
        .try_into()
        .expect("a socket filter");
    let link = filter.attach(&receiver).expect("SO_ATTACH_BPF");
    for payload in [b"keep 1".as_slice(), b"xdrop", b"keep 2 x", b"x"] {
        sender.send_to(payload, address).expect("send");
    }
    assert_eq!(
        common::drain(&receiver),
        vec![b"keep 1".to_vec(), b"keep 2 x".to_vec()]
    );
    drop(link);
    let stats: Array<_, u64> =
        Array::try_from(ebpf.map("filter_stats").expect("map")).expect("an array");
    assert_eq!(
        (stats.get(0).expect("kept"), stats.get(1).expect("dropped")),
        (2, 2)
    );
}

/// Tail calls: with slot 0 of the Rust program array empty, `tail_entry` falls through and
/// passes; once user space puts `tail_target` there, the same run ends in `tail_target`, which
/// drops. Run with BPF_PROG_TEST_RUN, no network needed.
#[test]
fn rust_tail_call_jumps_through_the_program_array() {
    require_root!();
    let ebpf = Ebpf::load(&common::object("rust/tail_calls.bpf.o")).expect("loading");
    let packet = [0u8; 64];
    let run = || {
        ebpf.program("tail_entry")
            .expect("program")
            .data()
            .test_run(&bpfkit::programs::TestRunOptions {
                data_in: &packet,
                repeat: 1,
                ..Default::default()
            })
            .expect("test run")
            .retval
    };
    const XDP_DROP: u32 = 1;
    const XDP_PASS: u32 = 2;
    assert_eq!(run(), XDP_PASS, "empty slot: no jump");

    let target_fd = ebpf
        .program("tail_target")
        .expect("program")
        .data()
        .fd()
        .expect("loaded")
        .as_raw_fd();
    let jump_table = ebpf.map("jump_table").expect("program array");
    bpfkit::sys::map_update_elem(
        &jump_table.handle(),
        Some(&0u32.to_ne_bytes()),
        &target_fd.to_ne_bytes(),
        0,
    )
    .expect("placing tail_target in slot 0");
    assert_eq!(run(), XDP_DROP, "the jump reached tail_target");

    let entry_runs: u64 = ebpf.global("entry_runs").expect("entry_runs");
    let target_runs: u64 = ebpf.global("target_runs").expect("target_runs");
    assert_eq!((entry_runs, target_runs), (2, 1));
}

/// A tracefs mounted on a private temporary directory (the machine's own may be unmounted);
/// unmounted on drop.
struct Tracefs {
    path: PathBuf,
}

impl Tracefs {
    fn new() -> Tracefs {
        let path = std::env::temp_dir().join(format!(
            "bpfkit-tracefs-{}-{}",
            std::process::id(),
            gettid()
        ));
        std::fs::create_dir_all(&path).expect("creating the tracefs mount point");
        let target = CString::new(path.as_os_str().as_encoded_bytes()).expect("path without NUL");
        let fs_type = CString::new("tracefs").expect("literal");
        // SAFETY: every pointer is a valid NUL-terminated string alive for the call; tracefs
        // takes no mount data.
        let rc = unsafe {
            libc::mount(
                fs_type.as_ptr(),
                target.as_ptr(),
                fs_type.as_ptr(),
                0,
                std::ptr::null(),
            )
        };
        if rc != 0 {
            let error = std::io::Error::last_os_error();
            let _ = std::fs::remove_dir(&path);
            panic!("mounting tracefs on {}: {error}", path.display());
        }
        Tracefs { path }
    }

    /// The perf event id of tracepoint `category/name`.
    fn tracepoint_id(&self, category: &str, name: &str) -> u64 {
        let file = self
            .path
            .join("events")
            .join(category)
            .join(name)
            .join("id");
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        text.trim()
            .parse()
            .unwrap_or_else(|e| panic!("{}: {text:?}: {e}", file.display()))
    }
}

impl Drop for Tracefs {
    fn drop(&mut self) {
        if let Ok(target) = CString::new(self.path.as_os_str().as_encoded_bytes()) {
            // SAFETY: a valid NUL-terminated path alive for the call.
            unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
        }
        let _ = std::fs::remove_dir(&self.path);
    }
}

fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions and cannot fail.
    let tid = unsafe { libc::gettid() };
    u32::try_from(tid).expect("a positive tid")
}

/// `perf_event_open` of a tracepoint, on CPU 0 for every process (a BPF program attached to a
/// tracepoint event runs on every CPU regardless).
fn open_tracepoint_event(id: u64) -> OwnedFd {
    /// `PERF_TYPE_TRACEPOINT`.
    const PERF_TYPE_TRACEPOINT: u32 = 2;
    /// Bytes of the attribute passed: `PERF_ATTR_SIZE_VER5`, known to every kernel with BPF links.
    const ATTR_SIZE: usize = 112;
    let mut attr = [0u8; ATTR_SIZE];
    attr[0..4].copy_from_slice(&PERF_TYPE_TRACEPOINT.to_ne_bytes());
    attr[4..8].copy_from_slice(&(ATTR_SIZE as u32).to_ne_bytes());
    attr[8..16].copy_from_slice(&id.to_ne_bytes()); // config
    attr[16..24].copy_from_slice(&1u64.to_ne_bytes()); // sample_period
    attr[48..52].copy_from_slice(&1u32.to_ne_bytes()); // wakeup_events
                                                       // SAFETY: attr is a perf_event_attr of the size its `size` field states, alive for the call;
                                                       // pid -1 / cpu 0 / no group is a valid combination for a tracepoint.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr.as_ptr(),
            -1 as libc::pid_t,
            0 as libc::c_int,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    assert!(
        fd >= 0,
        "perf_event_open(tracepoint {id}): {}",
        std::io::Error::last_os_error()
    );
    let fd = i32::try_from(fd).expect("an fd fits in i32");
    // SAFETY: the kernel just returned this fd, and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// A memory mapping, unmapped on drop.
struct Mapping {
    address: *mut libc::c_void,
    len: usize,
}

impl Mapping {
    fn new(fd: BorrowedFd<'_>, len: usize, protection: libc::c_int, offset: usize) -> Mapping {
        // SAFETY: a fresh shared mapping of the map fd at an address the kernel picks; nothing
        // aliases it in Rust, and it is unmapped only by Drop.
        let address = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                protection,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                libc::off_t::try_from(offset).expect("offset fits"),
            )
        };
        assert!(
            address != libc::MAP_FAILED,
            "mmap of the ring buffer: {}",
            std::io::Error::last_os_error()
        );
        Mapping { address, len }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping was made by Mapping::new with this length and is unmapped once.
        unsafe { libc::munmap(self.address, self.len) };
    }
}

/// Drains a BPF ring buffer through its memory mappings, the way libbpf's `ring_buffer__poll`
/// does: a writable consumer page, then the producer page and the data area (mapped twice in a
/// row by the kernel so that records never wrap). bpfkit has no ring buffer reader yet.
fn drain_ring_buffer(map_fd: BorrowedFd<'_>, data_size: usize) -> Vec<Vec<u8>> {
    /// Set in a record's length while the producer writes it.
    const BUSY: u32 = 1 << 31;
    /// Set in a record's length when it was discarded.
    const DISCARD: u32 = 1 << 30;
    /// Record header: u32 length (with the flags above), u32 page offset.
    const HEADER: usize = 8;
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).expect("page size");
    let consumer = Mapping::new(map_fd, page, libc::PROT_READ | libc::PROT_WRITE, 0);
    let producer = Mapping::new(map_fd, page + 2 * data_size, libc::PROT_READ, page);
    let consumer_pos = consumer.address.cast::<u64>();
    let producer_pos = producer.address.cast::<u64>();
    // SAFETY (for the raw accesses below): the positions are the first u64 of their pages, and
    // every record read lies within the doubly mapped data area, since its offset is masked to
    // data_size and its length is at most data_size. The kernel writes the producer position
    // and records concurrently, so they are read with acquire ordering, as libbpf does.
    let load_acquire = |pointer: *const u64| unsafe {
        std::sync::atomic::AtomicU64::from_ptr(pointer.cast_mut())
            .load(std::sync::atomic::Ordering::Acquire)
    };
    let data = producer.address.cast::<u8>().wrapping_add(page);
    let mut records = Vec::new();
    let mut position = load_acquire(consumer_pos);
    let end = load_acquire(producer_pos);
    while position < end {
        let offset = usize::try_from(position).expect("position fits") & (data_size - 1);
        let header = data.wrapping_add(offset);
        // SAFETY: see above; the length word is read atomically because the kernel commits a
        // record by clearing BUSY in it.
        let length_word = unsafe {
            std::sync::atomic::AtomicU32::from_ptr(header.cast::<u32>())
                .load(std::sync::atomic::Ordering::Acquire)
        };
        if length_word & BUSY != 0 {
            break;
        }
        let length = (length_word & !(BUSY | DISCARD)) as usize;
        if length_word & DISCARD == 0 {
            // SAFETY: see above.
            let bytes = unsafe { std::slice::from_raw_parts(header.wrapping_add(HEADER), length) };
            records.push(bytes.to_vec());
        }
        position += u64::try_from((HEADER + length).next_multiple_of(8)).expect("fits");
        // SAFETY: the consumer position is ours to write; release so the kernel sees it after
        // the record was read.
        unsafe {
            std::sync::atomic::AtomicU64::from_ptr(consumer_pos)
                .store(position, std::sync::atomic::Ordering::Release)
        };
    }
    records
}

/// The fields of `bpfkit_common::SyscallEvent` (pid, tid, timestamp, comm), decoded from a ring
/// buffer record.
fn decode_event(record: &[u8]) -> (u32, u32, u64, Vec<u8>) {
    assert_eq!(record.len(), 32, "a SyscallEvent is 32 bytes");
    let u32_at = |at: usize| u32::from_ne_bytes(record[at..at + 4].try_into().expect("4 bytes"));
    let timestamp = u64::from_ne_bytes(record[8..16].try_into().expect("8 bytes"));
    let comm = &record[16..32];
    let end = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
    (u32_at(0), u32_at(4), timestamp, comm[..end].to_vec())
}

/// Tracepoint: every `getppid` this thread makes while the Rust program is attached becomes one
/// ring buffer record naming this process and thread (other threads' and processes' calls are
/// filtered out by the tid user space put in `.rodata`), the `stats` array counts them, and so
/// does the `.data` counter `calls_seen` from the start value user space set before load.
#[test]
fn rust_tracepoint_writes_ring_buffer_events_for_our_thread() {
    require_root!();
    const CALLS: usize = 5;
    const RING_SIZE: usize = 64 * 1024;
    let tid = gettid();
    let tracefs = Tracefs::new();
    let id = tracefs.tracepoint_id("syscalls", "sys_enter_getppid");
    const CALLS_SEEN_START: u64 = 7000;
    let ebpf = EbpfLoader::new()
        .set_global("target_tid", &tid, true)
        .set_global("calls_seen", &CALLS_SEEN_START, true)
        .load(&common::object("rust/tracepoint_events.bpf.o"))
        .expect("loading");
    let program = ebpf.program("getppid_events").expect("program");
    let perf_event = open_tracepoint_event(id);
    let link = bpfkit::sys::link_create(&LinkCreate {
        prog_fd: program.data().fd().expect("loaded"),
        target: LinkTarget::Fd(perf_event.as_fd()),
        attach_type: BPF_PERF_EVENT,
        flags: 0,
        extra: LinkExtra::None,
    })
    .expect("BPF_LINK_CREATE on the perf event");
    for _ in 0..CALLS {
        // SAFETY: getppid has no preconditions.
        unsafe { libc::getppid() };
    }
    drop(link);
    // Detached: this call is not reported.
    // SAFETY: as above.
    unsafe { libc::getppid() };

    let stats: Array<_, u64> = Array::try_from(ebpf.map("stats").expect("map")).expect("array");
    assert_eq!(stats.get(0).expect("written"), CALLS as u64);
    assert_eq!(stats.get(1).expect("lost"), 0);
    let calls_seen: u64 = ebpf.global("calls_seen").expect(".data global calls_seen");
    assert_eq!(calls_seen, CALLS_SEEN_START + CALLS as u64);

    let records = drain_ring_buffer(ebpf.map("events").expect("map").fd(), RING_SIZE);
    assert_eq!(records.len(), CALLS, "one record per call");
    let comm = std::fs::read("/proc/thread-self/comm").expect("our comm");
    let comm = comm.strip_suffix(b"\n").unwrap_or(&comm);
    let mut last_timestamp = 0;
    for record in &records {
        let (pid, record_tid, timestamp, record_comm) = decode_event(record);
        assert_eq!(pid, std::process::id());
        assert_eq!(record_tid, tid);
        assert_eq!(record_comm, comm);
        assert!(timestamp >= last_timestamp, "records come in order");
        last_timestamp = timestamp;
    }
    assert!(
        drain_ring_buffer(ebpf.map("events").expect("map").fd(), RING_SIZE).is_empty(),
        "the consumer position was advanced"
    );
}

/// The function the uprobe test probes: exported unmangled and never inlined, so it has a
/// symbol in the test binary and every call really enters it.
#[no_mangle]
#[inline(never)]
pub extern "C" fn bpfkit_rust_uprobe_target(value: u64) -> u64 {
    std::hint::black_box(value).wrapping_add(1)
}

/// The file offset of the code of function `symbol` in the ELF64 little-endian file `path` (a
/// uprobe is placed by file offset): the symbol's address, moved from its executable `PT_LOAD`
/// segment's addresses to that segment's file offsets.
fn function_file_offset(path: &Path, symbol: &str) -> u64 {
    let elf = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let u16_at = |at: usize| u16::from_le_bytes(elf[at..at + 2].try_into().expect("2 bytes"));
    let u32_at = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().expect("4 bytes"));
    let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().expect("8 bytes"));
    let as_usize = |value: u64| usize::try_from(value).expect("fits in usize");
    assert_eq!(&elf[..6], b"\x7fELF\x02\x01", "an ELF64 little-endian file");
    // Section headers: find the symbol table (SHT_SYMTAB = 2) and its string table.
    let (shoff, shentsize, shnum) = (
        as_usize(u64_at(0x28)),
        usize::from(u16_at(0x3a)),
        usize::from(u16_at(0x3c)),
    );
    let section = |index: usize| shoff + index * shentsize;
    let symtab = (0..shnum)
        .map(section)
        .find(|&header| u32_at(header + 4) == 2)
        .expect("the test binary has a symbol table");
    let strtab = section(as_usize(u64::from(u32_at(symtab + 0x28))));
    let (symbols, symbols_size) = (
        as_usize(u64_at(symtab + 0x18)),
        as_usize(u64_at(symtab + 0x20)),
    );
    let strings = as_usize(u64_at(strtab + 0x18));
    let address = (symbols..symbols + symbols_size)
        .step_by(24)
        .find(|&entry| {
            let name = strings + as_usize(u64::from(u32_at(entry)));
            elf[name..].split(|&b| b == 0).next() == Some(symbol.as_bytes())
        })
        .map(|entry| u64_at(entry + 8))
        .unwrap_or_else(|| panic!("no symbol {symbol} in {}", path.display()));
    // Program headers: the executable PT_LOAD (type 1, flag PF_X = 1) holding the address.
    let (phoff, phentsize, phnum) = (
        as_usize(u64_at(0x20)),
        usize::from(u16_at(0x36)),
        usize::from(u16_at(0x38)),
    );
    (0..phnum)
        .map(|index| phoff + index * phentsize)
        .find(|&header| {
            let (vaddr, memsz) = (u64_at(header + 0x10), u64_at(header + 0x28));
            u32_at(header) == 1
                && u32_at(header + 4) & 1 != 0
                && (vaddr..vaddr + memsz).contains(&address)
        })
        .map(|header| address - u64_at(header + 0x10) + u64_at(header + 8))
        .unwrap_or_else(|| panic!("{symbol} is in no executable segment"))
}

/// `perf_event_open` of a uprobe at `offset` in `binary`, for process `pid` on any CPU.
fn open_uprobe_event(binary: &Path, offset: u64, pid: libc::pid_t) -> OwnedFd {
    /// Bytes of the attribute passed: `PERF_ATTR_SIZE_VER5`.
    const ATTR_SIZE: usize = 112;
    let pmu_type_file = "/sys/bus/event_source/devices/uprobe/type";
    let pmu_type: u32 = std::fs::read_to_string(pmu_type_file)
        .unwrap_or_else(|e| panic!("reading {pmu_type_file}: {e}"))
        .trim()
        .parse()
        .expect("a PMU type number");
    let path = CString::new(binary.as_os_str().as_encoded_bytes()).expect("path without NUL");
    let mut attr = [0u8; ATTR_SIZE];
    attr[0..4].copy_from_slice(&pmu_type.to_ne_bytes());
    attr[4..8].copy_from_slice(&(ATTR_SIZE as u32).to_ne_bytes());
    attr[16..24].copy_from_slice(&1u64.to_ne_bytes()); // sample_period
    attr[48..52].copy_from_slice(&1u32.to_ne_bytes()); // wakeup_events
    attr[56..64].copy_from_slice(&(path.as_ptr() as u64).to_ne_bytes()); // config1: uprobe_path
    attr[64..72].copy_from_slice(&offset.to_ne_bytes()); // config2: probe_offset
                                                         // SAFETY: attr is a perf_event_attr of the size its `size` field states; config1 points at
                                                         // `path`, a NUL-terminated string alive for the call; pid + any CPU is a valid combination.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr.as_ptr(),
            pid,
            -1 as libc::c_int,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    assert!(
        fd >= 0,
        "perf_event_open(uprobe {}+{offset:#x}): {}",
        binary.display(),
        std::io::Error::last_os_error()
    );
    let fd = i32::try_from(fd).expect("an fd fits in i32");
    // SAFETY: the kernel just returned this fd, and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Uprobe: the Rust program attached to a function of this test binary counts exactly the calls
/// this process makes while it is attached, and reads their first argument from `pt_regs`.
#[test]
fn rust_uprobe_counts_calls_of_a_test_binary_function() {
    require_root!();
    const CALLS: u64 = 6;
    let binary = std::fs::read_link("/proc/self/exe").expect("our binary");
    let offset = function_file_offset(&binary, "bpfkit_rust_uprobe_target");
    let pid = std::process::id();
    let ebpf = EbpfLoader::new()
        .set_global("target_tgid", &pid, true)
        .load(&common::object("rust/uprobe_count.bpf.o"))
        .expect("loading");
    let program = ebpf.program("count_calls").expect("program");
    let perf_event = open_uprobe_event(
        &binary,
        offset,
        libc::pid_t::try_from(pid).expect("pid fits"),
    );
    let link = bpfkit::sys::link_create(&LinkCreate {
        prog_fd: program.data().fd().expect("loaded"),
        target: LinkTarget::Fd(perf_event.as_fd()),
        attach_type: BPF_PERF_EVENT,
        flags: 0,
        extra: LinkExtra::None,
    })
    .expect("BPF_LINK_CREATE on the uprobe");
    let mut sum = 0u64;
    for i in 0..CALLS {
        sum = sum.wrapping_add(bpfkit_rust_uprobe_target(i));
    }
    drop(link);
    // Detached: not counted.
    sum = sum.wrapping_add(bpfkit_rust_uprobe_target(100));
    assert_eq!(sum, (1..=CALLS).sum::<u64>() + 101);
    let calls: u64 = ebpf.global("calls").expect("calls");
    assert_eq!(calls, CALLS);
    let argument_sum: u64 = ebpf.global("argument_sum").expect("argument_sum");
    assert_eq!(
        argument_sum,
        (0..CALLS).sum::<u64>(),
        "ProbeContext::arg(0) of each call"
    );
}

/// Compatibility: bpftool (libbpf) loads every Rust object, maps and programs alike, and pins
/// its programs.
#[test]
fn rust_objects_load_with_bpftool() {
    require_root!();
    for name in RUST_OBJECTS {
        let bpffs = common::Bpffs::new();
        let pins = bpffs.path().join("progs");
        let path = common::object_path(name);
        let path_text = path.to_str().expect("UTF-8 path");
        let pins_text = pins.to_str().expect("UTF-8 path");
        common::run_ok(&["bpftool", "prog", "loadall", path_text, pins_text]);
        let object = parse(name);
        for program in &object.programs {
            assert!(
                Path::new(&pins).join(&program.name).exists(),
                "{name}: bpftool did not pin {}",
                program.name
            );
        }
    }
}

/// The safe helper wrappers in a Rust program run with BPF_PROG_TEST_RUN: `redirect` gives the
/// XDP_REDIRECT verdict, `trace_printk` reports the bytes it wrote, and `csum_diff` of the same
/// change is the same with a zero word appended.
#[test]
fn rust_helper_wrappers_run() {
    require_root!();
    let loopback = bpfkit::sys::ifindex("lo").expect("lo");
    let ebpf = EbpfLoader::new()
        .set_global("redirect_ifindex", &loopback, true)
        .load(&common::object("rust/helpers_demo.bpf.o"))
        .expect("loading");
    let program = ebpf.program("helpers_demo").expect("program").data();
    let packet = [0u8; 64];
    let options = bpfkit::programs::TestRunOptions {
        data_in: &packet,
        ..Default::default()
    };
    let output = program.test_run(&options).expect("test run");
    const XDP_REDIRECT: u32 = 4;
    assert_eq!(output.retval, XDP_REDIRECT);
    let printed: u64 = ebpf.global("printk_bytes").expect("printk_bytes");
    assert_eq!(printed, "bpfkit helpers_demo 7\n".len() as u64);
    let one: u64 = ebpf.global("csum_one_word").expect("csum_one_word");
    let two: u64 = ebpf.global("csum_two_words").expect("csum_two_words");
    assert_ne!(one, 0, "csum_diff failed");
    assert_eq!(one, two);
}

/// `Snapshot` of `stack_memory.rs`, as the program stores it.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct StackMemorySnapshot {
    comm: [u8; 16],
    shifted: [u8; 33],
    equal: u8,
    zeros: [u8; 78],
    tid: u32,
}

// SAFETY: repr(C) bytes and a u32 at offset 128 (16 + 33 + 1 + 78): no padding, and every bit
// pattern is valid.
unsafe impl bpfkit::Pod for StackMemorySnapshot {}

/// Ordinary Rust on the eBPF stack (a zeroed struct, array copies, an overlapping move, a slice
/// comparison, `current_comm()` returned by value) becomes `memset`/`memcpy`/`memmove`/`bcmp`
/// calls, which bpfkit-ebpf defines: the object links, verifies, and computes the right bytes.
#[test]
fn rust_stack_memory_functions_link_verify_and_compute() {
    require_root!();
    let object = parse("rust/stack_memory.bpf.o");
    let names: Vec<&str> = object.functions().map(|(name, _, _)| name).collect();
    for function in ["memset", "memcpy", "memmove"] {
        assert!(
            names.contains(&function),
            "{function} not linked in: {names:?}"
        );
    }
    let ebpf = Ebpf::load(&common::object("rust/stack_memory.bpf.o")).expect("loading");
    // A thread of our own, so that its comm (the thread name) is known.
    let (snapshot, tid) = std::thread::Builder::new()
        .name("bpfkit-stackmem".to_string())
        .spawn(move || {
            let out = ebpf
                .program("stack_memory")
                .expect("program")
                .data()
                .test_run(&bpfkit::programs::TestRunOptions {
                    data_out_capacity: Some(0),
                    ..Default::default()
                })
                .expect("test run");
            assert_eq!(out.retval, 0, "the program found no comm or no map slot");
            let last: Array<_, StackMemorySnapshot> =
                Array::try_from(ebpf.map("last").expect("map last")).expect("array");
            // SAFETY: gettid takes no argument and cannot fail.
            let tid = unsafe { libc::syscall(libc::SYS_gettid) } as u32;
            (last.get(0).expect("lookup"), tid)
        })
        .expect("spawning")
        .join()
        .expect("the thread panicked");
    let mut comm = [0u8; 16];
    comm[..15].copy_from_slice(b"bpfkit-stackmem");
    assert_eq!(snapshot.comm, comm, "current_comm() of the running thread");
    assert_eq!(snapshot.shifted[0], 0);
    assert_eq!(
        snapshot.shifted[1..17],
        comm,
        "memcpy into the middle of an array"
    );
    assert_eq!(
        snapshot.shifted[17..33],
        comm,
        "memmove of an overlapping range"
    );
    assert_eq!(snapshot.equal, 1, "the byte comparison");
    assert!(
        snapshot.zeros.iter().all(|&b| b == 0),
        "memset left {:?}",
        snapshot.zeros
    );
    assert_eq!(snapshot.tid, tid);
}
