//! Every BTF-defined map type of bpfkit-ebpf, from the committed `rust/maps_all.bpf.o` (one map
//! of each): bpfkit parses and creates each with the type, sizes, limits, flags and `map_extra`
//! its Rust definition says; the programs using them pass the verifier, and the ones that can
//! run with BPF_PROG_TEST_RUN leave the effects user space expects (queue/stack order, bloom
//! filter and LPM trie answers, per-CPU values, maps of maps, redirects, task storage, stack
//! traces). bpftool (libbpf) loads the same object, which proves libbpf reads every definition.

#[macro_use]
mod common;

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;

use bpfkit::maps::lpm_trie::Key;
use bpfkit::maps::{
    Array, ArrayOfMaps, BloomFilter, CgroupStorage, CpuMap, DevMap, DevMapHash, HashOfMaps,
    LpmTrie, LruPerCpuHashMap, MapData, PerCpuHashMap, PerfEventArray, Queue, SkStorage, SockHash,
    SockMap, Stack, StackTraceMap, TaskStorage, UpdateFlags,
};
use bpfkit::obj::consts::*;
use bpfkit::obj::maps::MapKind;
use bpfkit::obj::Object;
use bpfkit::programs::TestRunOptions;
use bpfkit::sys::{self, MapCreate};
use bpfkit::{Ebpf, EbpfLoader};

const OBJECT: &str = "rust/maps_all.bpf.o";

/// `PERF_MAX_STACK_DEPTH` frames of 8 bytes: a stack trace value.
const STACK_TRACE_VALUE_SIZE: u32 = 127 * 8;

/// `results` bits, as `maps_all.rs` defines them.
const BLOOM_BEFORE: u64 = 1;
const BLOOM_AFTER: u64 = 2;

const XDP_PASS: u32 = 2;
const XDP_REDIRECT: u32 = 4;

/// `PIDFD_THREAD` (= `O_EXCL`, kernel 6.9): a pidfd for a thread rather than a process.
const PIDFD_THREAD: libc::c_uint = libc::O_EXCL as libc::c_uint;

/// One map's expected definition: name, type, key size, value size, max entries, flags, extra.
struct Expected {
    name: &'static str,
    map_type: u32,
    key_size: u32,
    value_size: u32,
    /// `None`: the number of possible CPUs (a perf event array left at 0 in the object).
    max_entries: Option<u32>,
    map_flags: u32,
    map_extra: u64,
}

const fn map(
    name: &'static str,
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
) -> Expected {
    Expected {
        name,
        map_type,
        key_size,
        value_size,
        max_entries: Some(max_entries),
        map_flags,
        map_extra: 0,
    }
}

/// What `maps_all.rs` declares, map by map.
fn expected_maps() -> Vec<Expected> {
    vec![
        map("results", BPF_MAP_TYPE_PERCPU_HASH, 4, 8, 64, 0),
        map("frames", BPF_MAP_TYPE_LRU_PERCPU_HASH, 4, 8, 16, 0),
        map("lengths_fifo", BPF_MAP_TYPE_QUEUE, 0, 4, 8, 0),
        map("lengths_lifo", BPF_MAP_TYPE_STACK, 0, 4, 8, 0),
        Expected {
            map_extra: 3,
            ..map("seen_lengths", BPF_MAP_TYPE_BLOOM_FILTER, 0, 4, 100, 0)
        },
        map("routes", BPF_MAP_TYPE_LPM_TRIE, 8, 4, 32, BPF_F_NO_PREALLOC),
        Expected {
            max_entries: None,
            ..map("samples", BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 0, 0)
        },
        map(
            "stacks",
            BPF_MAP_TYPE_STACK_TRACE,
            4,
            STACK_TRACE_VALUE_SIZE,
            128,
            0,
        ),
        map("sockets", BPF_MAP_TYPE_SOCKMAP, 4, 4, 4, 0),
        map("sockets_by_port", BPF_MAP_TYPE_SOCKHASH, 4, 4, 4, 0),
        map("devices", BPF_MAP_TYPE_DEVMAP, 4, 4, 4, 0),
        map("devices_by_index", BPF_MAP_TYPE_DEVMAP_HASH, 4, 4, 4, 0),
        map("cpus", BPF_MAP_TYPE_CPUMAP, 4, 4, 2, 0),
        map("xdp_sockets", BPF_MAP_TYPE_XSKMAP, 4, 4, 4, 0),
        map(
            "socket_messages",
            BPF_MAP_TYPE_SK_STORAGE,
            4,
            8,
            0,
            BPF_F_NO_PREALLOC,
        ),
        map(
            "task_calls",
            BPF_MAP_TYPE_TASK_STORAGE,
            4,
            24,
            0,
            BPF_F_NO_PREALLOC,
        ),
        map(
            "inode_unlinks",
            BPF_MAP_TYPE_INODE_STORAGE,
            4,
            8,
            0,
            BPF_F_NO_PREALLOC,
        ),
        map(
            "cgroup_mkdirs",
            BPF_MAP_TYPE_CGRP_STORAGE,
            4,
            8,
            0,
            BPF_F_NO_PREALLOC,
        ),
        map("outer_array", BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 2, 0),
        map("outer_hash", BPF_MAP_TYPE_HASH_OF_MAPS, 4, 4, 2, 0),
    ]
}

fn parse() -> Object {
    Object::parse_named(&common::object(OBJECT), OBJECT).unwrap_or_else(|e| panic!("{e}"))
}

/// Without the kernel: bpfkit-obj reads every Rust definition as libbpf would (BTF-defined,
/// the sizes and numbers of the const generics, the inner map template of both maps of maps).
#[test]
fn rust_map_definitions_parse() {
    let object = parse();
    let expected = expected_maps();
    assert_eq!(
        object
            .maps
            .iter()
            .filter(|m| m.kind == MapKind::Btf)
            .count(),
        expected.len(),
        "one BTF-defined map per declaration"
    );
    for want in &expected {
        let spec = object
            .map(want.name)
            .unwrap_or_else(|| panic!("map {}", want.name));
        assert_eq!(spec.kind, MapKind::Btf, "{}", want.name);
        assert_eq!(
            (
                spec.map_type,
                spec.key_size,
                spec.value_size,
                spec.max_entries,
                spec.map_flags,
                spec.map_extra
            ),
            (
                want.map_type,
                want.key_size,
                want.value_size,
                want.max_entries.unwrap_or(0),
                want.map_flags,
                want.map_extra
            ),
            "{}: (type, key, value, max entries, flags, extra)",
            want.name
        );
    }
    for outer in ["outer_array", "outer_hash"] {
        let inner = object
            .map(outer)
            .and_then(|m| m.inner.as_deref())
            .unwrap_or_else(|| panic!("{outer}: inner template"));
        assert_eq!(
            (
                inner.map_type,
                inner.key_size,
                inner.value_size,
                inner.max_entries
            ),
            (BPF_MAP_TYPE_ARRAY, 4, 8, 4),
            "{outer}: inner Array<u64, 4>"
        );
    }
    // Local storages need key and value BTF in the kernel: the object must carry both.
    for name in [
        "socket_messages",
        "task_calls",
        "inode_unlinks",
        "cgroup_mkdirs",
    ] {
        let spec = object.map(name).expect(name);
        assert!(
            spec.btf_key_type_id.is_some() && spec.btf_value_type_id.is_some(),
            "{name}: key and value BTF"
        );
    }
}

/// Loads the object with bpfkit (every map created, every program verified). The perf event
/// array is declared without a size: the loader gives it one slot per possible CPU, as libbpf.
fn load() -> Ebpf {
    EbpfLoader::new()
        .load(&common::object(OBJECT))
        .unwrap_or_else(|e| panic!("loading {OBJECT}: {e}"))
}

fn map_data<'a>(ebpf: &'a Ebpf, name: &str) -> &'a MapData {
    ebpf.map(name).unwrap_or_else(|| panic!("map {name}"))
}

/// In the kernel: every map has the definition the Rust source gives, as `BPF_OBJ_GET_INFO`
/// reports it.
#[test]
fn rust_maps_are_created_as_defined() {
    require_root!();
    let ebpf = load();
    let cpus = sys::possible_cpus().expect("possible CPUs") as u32;
    for want in expected_maps() {
        let info = map_data(&ebpf, want.name).info();
        // The kernel marks device maps read-only for programs itself (their lookups return
        // values programs must not change), whatever the definition asks.
        let kernel_flags = match want.map_type {
            BPF_MAP_TYPE_DEVMAP | BPF_MAP_TYPE_DEVMAP_HASH => want.map_flags | BPF_F_RDONLY_PROG,
            _ => want.map_flags,
        };
        assert_eq!(
            (
                info.map_type,
                info.key_size,
                info.value_size,
                info.max_entries,
                info.map_flags,
                info.map_extra
            ),
            (
                want.map_type,
                want.key_size,
                want.value_size,
                want.max_entries.unwrap_or(cpus),
                kernel_flags,
                want.map_extra
            ),
            "{}: (type, key, value, max entries, flags, extra)",
            want.name
        );
        // The kernel keeps 15 bytes of a name.
        let kernel_name = want.name.get(..15).unwrap_or(want.name);
        assert_eq!(info.name, kernel_name, "kernel name");
    }
    for name in [
        "maps_xdp",
        "maps_redirect",
        "maps_task",
        "maps_msg",
        "maps_verdict",
        "maps_mkdir",
    ] {
        let program = ebpf.program(name).unwrap_or_else(|| panic!("{name}"));
        assert!(program.data().is_loaded(), "{name} passed the verifier");
    }
}

/// An Ethernet + IPv4 frame of `length` bytes from `source`.
fn frame(length: usize, source: [u8; 4]) -> Vec<u8> {
    let mut frame = vec![0u8; length];
    frame[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    frame[14] = 0x45;
    frame[26..30].copy_from_slice(&source);
    frame
}

fn run_packet(ebpf: &Ebpf, program: &str, data: &[u8]) -> u32 {
    ebpf.program(program)
        .expect("program")
        .data()
        .test_run(&TestRunOptions {
            data_in: data,
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{program}: test run: {e}"))
        .retval
}

/// A new `Array<u64, 4>` (the inner shape of both maps of maps).
fn inner_array(name: &str) -> MapData {
    MapData::create(&MapCreate {
        map_type: BPF_MAP_TYPE_ARRAY,
        key_size: 4,
        value_size: 8,
        max_entries: 4,
        name,
        ..Default::default()
    })
    .expect("inner array")
}

/// Pops every value of a queue or stack of u32 from user space (`pop` is the view's).
fn pop_all(mut pop: impl FnMut() -> Result<Option<u32>, bpfkit::maps::MapError>) -> Vec<u32> {
    let mut values = Vec::new();
    while let Some(value) = pop().expect("pop") {
        values.push(value);
        assert!(values.len() <= 8, "more values than the map holds");
    }
    values
}

/// XDP with BPF_PROG_TEST_RUN: three frames of lengths 60, 61 and 62 go through queue, stack,
/// bloom filter (61 added by user space first), LPM trie (10.0.0.0/8 and 10.1.0.0/16), per-CPU
/// and LRU per-CPU hashes and the inner arrays of both maps of maps.
#[test]
fn rust_xdp_program_uses_queue_stack_bloom_lpm_per_cpu_and_map_in_map() {
    require_root!();
    let ebpf = load();
    let routes: LpmTrie<_, [u8; 4], u32> =
        LpmTrie::try_from(map_data(&ebpf, "routes")).expect("LPM trie");
    for (prefix_len, address, value) in [(8u32, [10, 0, 0, 0], 8u32), (16, [10, 1, 0, 0], 16)] {
        routes
            .insert(&Key::new(prefix_len, address), &value, UpdateFlags::empty())
            .expect("route");
    }
    let bloom: BloomFilter<_, u32> =
        BloomFilter::try_from(map_data(&ebpf, "seen_lengths")).expect("bloom filter");
    bloom.insert(&61).expect("bloom push");
    let by_index = inner_array("by_index");
    let by_key = inner_array("by_key");
    let outer_array = ArrayOfMaps::try_from(map_data(&ebpf, "outer_array")).expect("array of maps");
    let outer_hash: HashOfMaps<_, u32> =
        HashOfMaps::try_from(map_data(&ebpf, "outer_hash")).expect("hash of maps");
    outer_array
        .set(0, &by_index, UpdateFlags::empty())
        .expect("outer_array[0]");
    outer_hash
        .insert(&1, &by_key, UpdateFlags::empty())
        .expect("outer_hash[1]");

    let frames = [
        (60usize, [10, 1, 2, 3]),
        (61, [10, 200, 0, 1]),
        (62, [192, 168, 0, 1]),
    ];
    for (length, source) in frames {
        assert_eq!(
            run_packet(&ebpf, "maps_xdp", &frame(length, source)),
            XDP_PASS,
            "frame of {length} bytes"
        );
    }

    let fifo: Queue<_, u32> = Queue::try_from(map_data(&ebpf, "lengths_fifo")).expect("queue");
    assert_eq!(pop_all(|| fifo.pop()), [60, 61, 62], "queue: oldest first");
    let lifo: Stack<_, u32> = Stack::try_from(map_data(&ebpf, "lengths_lifo")).expect("stack");
    assert_eq!(pop_all(|| lifo.pop()), [62, 61, 60], "stack: newest first");

    // Each frame set its result on the CPU it ran on (a new key is zero on the others).
    let results: PerCpuHashMap<_, u32, u64> =
        PerCpuHashMap::try_from(map_data(&ebpf, "results")).expect("per-CPU hash");
    for (length, want) in [
        (60u32, BLOOM_AFTER | 16 << 8),
        (61, BLOOM_BEFORE | BLOOM_AFTER | 8 << 8),
        (62, BLOOM_AFTER),
    ] {
        let values = results
            .get(&length)
            .expect("lookup")
            .unwrap_or_else(|| panic!("no result for length {length}"));
        let result = values.iter().fold(0, |all, value| all | value);
        assert_eq!(result, want, "length {length}: bloom bits | LPM value << 8");
    }
    let frame_counts: LruPerCpuHashMap<_, u32, u64> =
        LruPerCpuHashMap::try_from(map_data(&ebpf, "frames")).expect("LRU per-CPU hash");
    let counted: u64 = frame_counts
        .get(&0)
        .expect("lookup")
        .expect("frames[0]")
        .iter()
        .sum();
    assert_eq!(counted, 3, "frames over all CPUs");

    // User space sees what the program added to the bloom filter.
    for length in [60u32, 62] {
        assert!(
            bloom.contains(&length).expect("bloom peek"),
            "bloom filter holds {length}"
        );
    }

    let by_index: Array<_, u64> = Array::try_from(&by_index).expect("array");
    assert_eq!(
        by_index.get(0).expect("slot 0"),
        60 + 61 + 62,
        "outer_array[0][0]"
    );
    let by_key: Array<_, u64> = Array::try_from(&by_key).expect("array");
    assert_eq!(by_key.get(1).expect("slot 1"), 3, "outer_hash[1][1]");
}

/// XDP redirects: with empty maps every `bpf_redirect_map` falls back to `XDP_PASS`; with an
/// entry in the device map (the loopback device), the device hash or the CPU map (CPU 0, with a
/// queue of 64 frames) the program redirects (a test run does not send the frame). The AF_XDP
/// socket map is only shown falling back here: `rust_xsk.rs` fills one with an AF_XDP socket
/// and receives the redirected frame.
#[test]
fn rust_xdp_redirect_maps_fall_back_then_redirect() {
    require_root!();
    let data = frame(64, [10, 0, 0, 1]);
    assert_eq!(run_packet(&load(), "maps_redirect", &data), XDP_PASS);
    let loopback = 1u32;
    for (map, key, value) in [
        ("devices", 0u32, loopback),
        ("devices_by_index", 1, loopback),
        ("cpus", 0, 64),
    ] {
        let ebpf = load();
        let target = map_data(&ebpf, map);
        let set = match map {
            "devices" => DevMap::try_from(target).expect("device map").set(
                key,
                value,
                None,
                UpdateFlags::empty(),
            ),
            "devices_by_index" => DevMapHash::try_from(target).expect("device hash").insert(
                key,
                value,
                None,
                UpdateFlags::empty(),
            ),
            _ => CpuMap::try_from(target).expect("CPU map").set(
                key,
                value,
                None,
                UpdateFlags::empty(),
            ),
        };
        set.unwrap_or_else(|e| panic!("{map}[{key}] = {value}: {e}"));
        assert_eq!(
            run_packet(&ebpf, "maps_redirect", &data),
            XDP_REDIRECT,
            "redirect through {map}"
        );
    }
}

/// `maps_task`'s record in `task_calls`: calls, stack id, perf output result.
fn task_calls(ebpf: &Ebpf) -> TaskStorage<&MapData, [i64; 3]> {
    TaskStorage::try_from(map_data(ebpf, "task_calls")).expect("task storage")
}

/// This thread's task storage key: a pidfd for the thread.
fn thread_pidfd() -> OwnedFd {
    // SAFETY: gettid takes no argument and cannot fail.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) };
    // SAFETY: pidfd_open takes a pid and flags; the result is checked.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, tid, PIDFD_THREAD) };
    assert!(fd >= 0, "pidfd_open: {}", std::io::Error::last_os_error());
    // SAFETY: a new fd this function owns.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// Raw tracepoint with BPF_PROG_TEST_RUN (which runs it in this thread): three runs count 3 in
/// this task's `task_calls`, store a kernel stack id whose trace is in `stacks`, and get
/// `-ENOENT` from the perf event array, which has no perf event set.
#[test]
fn rust_raw_tracepoint_uses_task_storage_stack_traces_and_perf_event_array() {
    require_root!();
    let ebpf = load();
    let program = ebpf.program("maps_task").expect("maps_task");
    for _ in 0..3 {
        let out = program
            .data()
            .test_run(&TestRunOptions {
                data_out_capacity: Some(0),
                ..Default::default()
            })
            .expect("test run");
        assert_eq!(out.retval, 0, "the task storage value was created");
    }
    let pidfd = thread_pidfd();
    let record = task_calls(&ebpf)
        .get(&pidfd)
        .expect("task storage lookup")
        .expect("this thread has a task_calls value");
    let field = |index: usize| record[index];
    assert_eq!(field(0), 3, "calls");
    assert_eq!(
        field(2),
        -i64::from(libc::ENOENT),
        "perf output without perf event"
    );
    let stack_id = field(1);
    assert!(stack_id >= 0, "bpf_get_stackid failed: {stack_id}");
    let stacks = StackTraceMap::try_from(map_data(&ebpf, "stacks")).expect("stack traces");
    assert_eq!(stacks.max_depth() * 8, STACK_TRACE_VALUE_SIZE);
    let frames = stacks
        .get(stack_id as u32)
        .expect("stack lookup")
        .unwrap_or_else(|| panic!("stack {stack_id} is stored"));
    let innermost = frames.first().copied().unwrap_or(0);
    assert!(
        innermost >= 0xffff_0000_0000_0000,
        "the innermost frame is a kernel address: {innermost:#x}"
    );
}

/// libbpf (through bpftool) reads every definition of the object, creates its maps (the inner
/// template of both maps of maps included) and loads all its programs.
#[test]
fn rust_maps_object_loads_with_bpftool() {
    require_root!();
    let bpffs = common::Bpffs::new();
    let pins = bpffs.path().join("progs");
    let path = common::object_path(OBJECT);
    common::run_ok(&[
        "bpftool",
        "prog",
        "loadall",
        path.to_str().expect("UTF-8"),
        pins.to_str().expect("UTF-8"),
    ]);
    for program in &parse().programs {
        assert!(
            Path::new(&pins).join(&program.name).exists(),
            "bpftool did not pin {}",
            program.name
        );
    }
}

/// Where the sk_msg test puts the server socket, which `maps_msg` redirects to.
#[derive(Clone, Copy, Debug)]
enum RedirectVia {
    /// `sockets[0]` (sockmap), with `sockets_by_port` empty.
    SockMap,
    /// `sockets_by_port[0]` (sockhash), tried first.
    SockHash,
}

/// A TCP connection on loopback: (client, server).
fn loopback_tcp_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen on loopback");
    let client =
        std::net::TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    (client, server)
}

/// Attaches program `name` to the `sockets` sockmap as `attach_type` (detached when the map
/// and program close).
fn attach_to_sockets(ebpf: &Ebpf, name: &str, attach_type: u32) {
    let program = ebpf
        .program(name)
        .unwrap_or_else(|| panic!("program {name}"));
    sys::prog_attach(
        sys::LinkTarget::Fd(map_data(ebpf, "sockets").fd()),
        program.data().fd().expect("loaded"),
        attach_type,
        0,
        None,
    )
    .unwrap_or_else(|e| panic!("attaching {name} to the sockmap: {e}"));
}

/// sk_msg on a loopback TCP connection: with `maps_msg` attached to `sockets` and the client in
/// `sockets[1]`, a message the client sends is counted in the client's `socket_messages` (socket
/// storage) and redirected to the server socket's send path (`via` says where the server
/// is): the client reads its own message back.
fn sk_msg_redirect(via: RedirectVia) {
    use std::io::{Read, Write};
    use std::time::Duration;

    let ebpf = load();
    let (mut client, server) = loopback_tcp_pair();
    let sockets = map_data(&ebpf, "sockets");
    attach_to_sockets(&ebpf, "maps_msg", BPF_SK_MSG_VERDICT);
    let socket_map = SockMap::try_from(sockets).expect("socket map");
    match via {
        RedirectVia::SockMap => socket_map
            .set(0, &server, UpdateFlags::empty())
            .expect("sockets[0]"),
        RedirectVia::SockHash => SockHash::<_, u32>::try_from(map_data(&ebpf, "sockets_by_port"))
            .expect("socket hash")
            .insert(&0, &server, UpdateFlags::empty())
            .expect("sockets_by_port[0]"),
    }
    socket_map
        .set(1, &client, UpdateFlags::empty())
        .expect("sockets[1]");

    client.write_all(b"ping").expect("send");
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut echoed = [0u8; 4];
    client
        .read_exact(&mut echoed)
        .expect("the message comes back out of the server socket");
    assert_eq!(&echoed, b"ping");

    let messages: SkStorage<_, u64> =
        SkStorage::try_from(map_data(&ebpf, "socket_messages")).expect("socket storage");
    let count = messages
        .get(&client)
        .expect("socket storage lookup")
        .expect("the client socket has a socket_messages value");
    assert_eq!(count, 1, "one message counted");
}

#[test]
fn rust_sk_msg_redirects_through_the_sockmap_and_counts_in_socket_storage() {
    require_root!();
    sk_msg_redirect(RedirectVia::SockMap);
}

#[test]
fn rust_sk_msg_redirects_through_the_sockhash() {
    require_root!();
    sk_msg_redirect(RedirectVia::SockHash);
}

/// A cgroup this test creates (cgroup v2), removed on drop.
struct TestCgroup {
    path: std::path::PathBuf,
}

impl TestCgroup {
    /// Creates `bpfkit-rust-maps-<pid>` under the cgroup v2 mount, or `None` without one.
    fn new() -> Option<TestCgroup> {
        let root = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
            .into_iter()
            .map(Path::new)
            .find(|root| root.join("cgroup.controllers").exists())?;
        let path = root.join(format!("bpfkit-rust-maps-{}", std::process::id()));
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        Some(TestCgroup { path })
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// BTF tracepoint `cgroup_mkdir`: attached, it gives the cgroup this test creates a
/// `cgroup_mkdirs` value (cgroup storage), which user space reads with the cgroup's fd as key.
#[test]
fn rust_btf_tracepoint_counts_a_new_cgroup_in_cgroup_storage() {
    require_root!();
    let ebpf = load();
    let program = ebpf.program("maps_mkdir").expect("maps_mkdir");
    let _link = sys::link_create(&sys::LinkCreate {
        prog_fd: program.data().fd().expect("loaded"),
        // A BTF tracepoint names its target by the program's attach BTF id: no target fd (the
        // ifindex shares the fd's place in the attribute, so 0 either way).
        target: sys::LinkTarget::Ifindex(0),
        attach_type: BPF_TRACE_RAW_TP,
        flags: 0,
        extra: sys::LinkExtra::None,
    })
    .expect("attach tp_btf/cgroup_mkdir");
    let Some(cgroup) = TestCgroup::new() else {
        panic!("no cgroup v2 mount under /sys/fs/cgroup");
    };
    let directory = std::fs::File::open(&cgroup.path).expect("open the cgroup");
    let mkdirs: CgroupStorage<_, u64> =
        CgroupStorage::try_from(map_data(&ebpf, "cgroup_mkdirs")).expect("cgroup storage");
    let count = mkdirs
        .get(&directory)
        .expect("cgroup storage lookup")
        .expect("the new cgroup has a cgroup_mkdirs value");
    assert_eq!(count, 1, "one mkdir");
}

/// Perf event array with a perf buffer on every online CPU (bpfkit's reader): `maps_task` (run
/// with BPF_PROG_TEST_RUN) writes its call count as a sample, which user space reads from the
/// buffer of the CPU it ran on.
#[test]
fn rust_perf_event_array_output_reaches_the_perf_ring() {
    require_root!();
    let ebpf = load();
    let samples = PerfEventArray::try_from(map_data(&ebpf, "samples")).expect("perf event array");
    let mut buffers = samples
        .open_all(1)
        .expect("perf buffers on every online CPU");
    let program = ebpf.program("maps_task").expect("maps_task");
    for _ in 0..2 {
        let out = program
            .data()
            .test_run(&TestRunOptions {
                data_out_capacity: Some(0),
                ..Default::default()
            })
            .expect("test run");
        assert_eq!(out.retval, 0);
    }
    let mut calls: Vec<u64> = Vec::new();
    let events = buffers.read_events(|_, sample| {
        assert!(sample.len() >= 8, "a u64 sample (padded to 8 bytes)");
        calls.push(u64::from_ne_bytes(sample[..8].try_into().expect("8 bytes")));
    });
    assert_eq!(events.lost, 0, "nothing lost");
    assert!(
        buffers.buffers().iter().all(|b| b.malformed() == 0),
        "every perf record lies inside its ring"
    );
    calls.sort_unstable();
    assert_eq!(calls, [1, 2], "one sample per run, carrying the call count");

    let pidfd = thread_pidfd();
    let record = task_calls(&ebpf)
        .get(&pidfd)
        .expect("task storage lookup")
        .expect("this thread has a task_calls value");
    assert_eq!(record[2], 0, "perf output succeeded");
}

/// sk_skb stream verdict on a loopback TCP connection: with `maps_verdict` attached to
/// `sockets` and only the server in `sockets[0]`, what the server receives is redirected
/// (`sockets_by_port` is empty, so through `sockets[0]`) out of the server's own send path:
/// the client gets its message back.
#[test]
fn rust_stream_verdict_redirects_through_the_sockmap() {
    use std::io::{Read, Write};
    use std::time::Duration;

    require_root!();
    let ebpf = load();
    let (mut client, server) = loopback_tcp_pair();
    let sockets = map_data(&ebpf, "sockets");
    attach_to_sockets(&ebpf, "maps_verdict", BPF_SK_SKB_STREAM_VERDICT);
    SockMap::try_from(sockets)
        .expect("socket map")
        .set(0, &server, UpdateFlags::empty())
        .expect("sockets[0] = server");

    client.write_all(b"pong").expect("send");
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut echoed = [0u8; 4];
    client
        .read_exact(&mut echoed)
        .expect("the server's received data is sent back by the redirect");
    assert_eq!(&echoed, b"pong");
}
