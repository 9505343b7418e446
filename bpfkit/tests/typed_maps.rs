//! The typed views of every map type the kernel side defines, against the kernel: each view's
//! methods on a map made with `MapData::create` (or, for local storages and stack traces, which
//! need BTF or a program, from the committed `rust/maps_all.bpf.o`), with what the kernel did
//! checked by other means where there is one (program and map ids from `BPF_OBJ_GET_INFO`,
//! socket cookies from `SO_COOKIE`, values read through another fd of the same object).

#[macro_use]
mod common;

use std::fs::File;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::num::NonZeroU32;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

use bpfkit::maps::lpm_trie::Key;
use bpfkit::maps::{
    Array, ArrayOfMaps, BloomFilter, CgroupStorage, CpuMap, CpuMapValue, DevMap, DevMapHash,
    DevMapValue, HashOfMaps, InodeStorage, LpmTrie, MapData, MapError, ProgramArray, Queue,
    SkStorage, SockHash, SockMap, Stack, StackTraceMap, TaskStorage, UpdateFlags, XskMap,
};
use bpfkit::obj::consts::*;
use bpfkit::obj::insn::Insn;
use bpfkit::programs::TestRunOptions;
use bpfkit::sys::{self, MapCreate, ProgLoad};
use bpfkit::{Ebpf, EbpfLoader};

const MAPS_ALL: &str = "rust/maps_all.bpf.o";

const XDP_PASS: i32 = 2;

/// `PIDFD_THREAD` (= `O_EXCL`, kernel 6.9): a pidfd for a thread rather than a process.
const PIDFD_THREAD: libc::c_uint = libc::O_EXCL as libc::c_uint;

fn create(map_type: u32, key_size: u32, value_size: u32, max_entries: u32, name: &str) -> MapData {
    create_with(&MapCreate {
        map_type,
        key_size,
        value_size,
        max_entries,
        name,
        ..Default::default()
    })
}

fn create_with(attr: &MapCreate<'_>) -> MapData {
    MapData::create(attr).unwrap_or_else(|e| panic!("creating {}: {e}", attr.name))
}

/// Loads `r0 = retval; exit` as a program of `prog_type` for `expected_attach_type`.
fn load_program(prog_type: u32, expected_attach_type: u32, retval: i32, name: &str) -> OwnedFd {
    let insns = [
        Insn::new(0xb7, 0, 0, 0, retval),
        Insn::new(0x95, 0, 0, 0, 0),
    ];
    let (fd, _log) = sys::prog_load(&ProgLoad {
        prog_type,
        expected_attach_type,
        insns: &insns,
        license: "GPL",
        name,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("loading {name}: {e}"));
    fd
}

fn program_id(fd: BorrowedFd<'_>) -> NonZeroU32 {
    NonZeroU32::new(sys::prog_info(fd).expect("program info").id).expect("ids are not 0")
}

fn assert_out_of_bounds<T: std::fmt::Debug>(result: Result<T, MapError>, index: u32) {
    assert!(
        matches!(result, Err(MapError::OutOfBounds { index: i, .. }) if i == index),
        "index {index}: {result:?}"
    );
}

/// Asserts an fd refusal, whose message names the map and what it takes.
fn assert_fd_rejected<T: std::fmt::Debug>(result: Result<T, MapError>, map: &str, takes: &str) {
    match result {
        Err(err @ MapError::FdRejected { .. }) => {
            let message = err.to_string();
            assert!(
                message.starts_with(&format!("map `{map}` refused the fd: it takes ")),
                "{message}"
            );
            assert!(message.contains(takes), "{message}");
            assert!(err.errno().is_some(), "the kernel's errno is kept: {err:?}");
        }
        other => panic!("expected FdRejected from {map}, got {other:?}"),
    }
}

fn errno_of<T: std::fmt::Debug>(result: Result<T, MapError>) -> i32 {
    result
        .expect_err("the kernel refuses")
        .errno()
        .expect("a syscall error")
}

/// Queue: FIFO order, `E2BIG` when full, `EXIST` overwrites the oldest, peek leaves the element.
/// Stack: LIFO order, `EXIST` drops the bottom.
#[test]
fn queue_and_stack_push_pop_peek() {
    require_root!();
    let data = create(BPF_MAP_TYPE_QUEUE, 0, 4, 3, "tm_queue");
    let queue: Queue<_, u32> = Queue::try_from(&data).expect("queue");
    assert_eq!(queue.capacity(), 3);
    assert_eq!(queue.pop().expect("pop"), None, "empty");
    assert_eq!(queue.peek().expect("peek"), None, "empty");
    for value in [1, 2, 3] {
        queue.push(&value, UpdateFlags::empty()).expect("push");
    }
    assert_eq!(
        errno_of(queue.push(&4, UpdateFlags::empty())),
        libc::E2BIG,
        "full"
    );
    queue
        .push(&4, UpdateFlags::EXIST)
        .expect("push over the oldest");
    assert_eq!(queue.peek().expect("peek"), Some(2), "1 was dropped");
    assert_eq!(queue.peek().expect("peek again"), Some(2), "peek leaves it");
    let popped: Vec<u32> = std::iter::from_fn(|| queue.pop().expect("pop")).collect();
    assert_eq!(popped, [2, 3, 4], "oldest first");

    let data = create(BPF_MAP_TYPE_STACK, 0, 8, 3, "tm_stack");
    let stack: Stack<MapData, u64> = Stack::try_from(data).expect("stack (owned)");
    assert_eq!(stack.pop().expect("pop"), None);
    for value in [10, 20, 30] {
        stack.push(&value, UpdateFlags::empty()).expect("push");
    }
    assert_eq!(errno_of(stack.push(&40, UpdateFlags::empty())), libc::E2BIG);
    stack
        .push(&40, UpdateFlags::EXIST)
        .expect("push over the bottom");
    assert_eq!(stack.peek().expect("peek"), Some(40));
    let popped: Vec<u64> = std::iter::from_fn(|| stack.pop().expect("pop")).collect();
    assert_eq!(popped, [40, 30, 20], "newest first, 10 dropped");
}

/// Bloom filter: every inserted value is reported, absent ones (almost all) are not.
#[test]
fn bloom_filter_insert_and_contains() {
    require_root!();
    let data = create_with(&MapCreate {
        map_type: BPF_MAP_TYPE_BLOOM_FILTER,
        key_size: 0,
        value_size: 4,
        max_entries: 100,
        map_extra: 3,
        name: "tm_bloom",
        ..Default::default()
    });
    let bloom: BloomFilter<_, u32> = BloomFilter::try_from(&data).expect("bloom filter");
    assert!(!bloom.contains(&1).expect("contains"), "empty filter");
    for value in 1..=10 {
        bloom.insert(&value).expect("insert");
    }
    for value in 1..=10 {
        assert!(
            bloom.contains(&value).expect("contains"),
            "{value}: no false negatives"
        );
    }
    let false_positives = (1000..1100)
        .filter(|value| bloom.contains(value).expect("contains"))
        .count();
    assert!(
        false_positives <= 5,
        "{false_positives} of 100 absent values reported"
    );
}

/// LPM trie: longest-prefix answers, exact removal, iteration over the stored prefixes.
#[test]
fn lpm_trie_longest_prefix_match() {
    require_root!();
    let data = create_with(&MapCreate {
        map_type: BPF_MAP_TYPE_LPM_TRIE,
        key_size: 8,
        value_size: 4,
        max_entries: 16,
        map_flags: BPF_F_NO_PREALLOC,
        name: "tm_trie",
        ..Default::default()
    });
    let trie: LpmTrie<_, [u8; 4], u32> = LpmTrie::try_from(&data).expect("trie");
    let prefixes = [
        Key::new(8, [10, 0, 0, 0]),
        Key::new(16, [10, 1, 0, 0]),
        Key::new(24, [10, 1, 2, 0]),
    ];
    for key in &prefixes {
        trie.insert(key, &key.prefix_len, UpdateFlags::NO_EXIST)
            .expect("insert");
    }
    assert_eq!(
        errno_of(trie.insert(&prefixes[0], &0, UpdateFlags::NO_EXIST)),
        libc::EEXIST
    );
    let address = |a: [u8; 4]| Key::new(32, a);
    for (a, want) in [
        ([10, 1, 2, 3], Some(24)),
        ([10, 1, 9, 9], Some(16)),
        ([10, 200, 0, 1], Some(8)),
        ([192, 168, 0, 1], None),
    ] {
        assert_eq!(trie.get(&address(a)).expect("get"), want, "{a:?}");
    }
    let mut keys: Vec<Key<[u8; 4]>> = trie.keys().collect::<Result<_, _>>().expect("keys");
    keys.sort_by_key(|k| k.prefix_len);
    assert_eq!(keys, prefixes);
    let mut entries: Vec<(u32, u32)> = trie
        .iter()
        .map(|e| e.map(|(k, v)| (k.prefix_len, v)))
        .collect::<Result<_, _>>()
        .expect("iter");
    entries.sort_unstable();
    assert_eq!(entries, [(8, 8), (16, 16), (24, 24)]);

    assert!(
        !trie.remove(&Key::new(17, [10, 1, 0, 0])).expect("remove"),
        "removal is exact"
    );
    assert!(trie.remove(&prefixes[2]).expect("remove /24"));
    assert!(!trie.remove(&prefixes[2]).expect("remove again"));
    assert_eq!(trie.get(&address([10, 1, 2, 3])).expect("get"), Some(16));
}

/// Loads `maps_all` (every map, every program).
fn load_maps_all() -> Ebpf {
    EbpfLoader::new()
        .load(&common::object(MAPS_ALL))
        .unwrap_or_else(|e| panic!("loading {MAPS_ALL}: {e}"))
}

fn map_data<'a>(ebpf: &'a Ebpf, name: &str) -> &'a MapData {
    ebpf.map(name).unwrap_or_else(|| panic!("map {name}"))
}

/// A pidfd of the calling thread.
fn thread_pidfd() -> OwnedFd {
    // SAFETY: gettid takes no argument and cannot fail.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) };
    pidfd_open(tid as libc::pid_t, PIDFD_THREAD)
}

fn pidfd_open(pid: libc::pid_t, flags: libc::c_uint) -> OwnedFd {
    // SAFETY: pidfd_open takes a pid and flags; the result is checked.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, flags) };
    assert!(fd >= 0, "pidfd_open: {}", std::io::Error::last_os_error());
    // SAFETY: a new fd this function owns.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// `maps_task`'s record in `task_calls`: calls, stack id, perf output result.
type TaskRecord = [i64; 3];

/// Stack traces and task storage from a program: `maps_task` (run with BPF_PROG_TEST_RUN in
/// this thread) counts its runs in this thread's task storage and stores a kernel stack whose
/// id it records there; the views read both, then user space writes and removes task values.
#[test]
fn stack_trace_map_and_task_storage_from_a_program() {
    require_root!();
    let ebpf = load_maps_all();
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
    let tasks: TaskStorage<_, TaskRecord> =
        TaskStorage::try_from(map_data(&ebpf, "task_calls")).expect("task storage");
    let pidfd = thread_pidfd();
    let [calls, stack_id, _] = tasks
        .get(&pidfd)
        .expect("lookup")
        .expect("this thread has a record");
    assert_eq!(calls, 2);
    // Another pidfd of the same thread reaches the same value.
    let other_pidfd = thread_pidfd();
    assert_eq!(
        tasks.get(&other_pidfd).expect("lookup").map(|r| r[0]),
        Some(2)
    );

    assert!(stack_id >= 0, "bpf_get_stackid failed: {stack_id}");
    let stack_id = stack_id as u32;
    let stacks = StackTraceMap::try_from(map_data(&ebpf, "stacks")).expect("stack traces");
    assert_eq!(stacks.max_depth(), 127);
    let frames = stacks
        .get(stack_id)
        .expect("lookup")
        .expect("the stack is stored");
    assert!(!frames.is_empty() && frames.len() <= 127, "{frames:x?}");
    assert!(
        frames.iter().all(|&a| a >= 0xffff_0000_0000_0000),
        "kernel addresses, no zero: {frames:x?}"
    );
    let ids: Vec<u32> = stacks.stack_ids().collect::<Result<_, _>>().expect("ids");
    assert!(ids.contains(&stack_id), "{ids:?}");
    let stored: Vec<(u32, Vec<u64>)> = stacks.iter().collect::<Result<_, _>>().expect("iter");
    assert!(stored.contains(&(stack_id, frames.clone())));
    assert!(stacks.remove(stack_id).expect("remove"));
    assert_eq!(stacks.get(stack_id).expect("lookup"), None);
    assert!(!stacks.remove(stack_id).expect("remove again"));

    // User space: the main thread (a process pidfd names the thread-group leader, which is not
    // this test's thread) gets a value of its own; NO_EXIST refuses a second one.
    let process = pidfd_open(std::process::id() as libc::pid_t, 0);
    tasks
        .insert(&process, &[7, -1, 0], UpdateFlags::NO_EXIST)
        .expect("insert for the main thread");
    assert_eq!(
        errno_of(tasks.insert(&process, &[8, -1, 0], UpdateFlags::NO_EXIST)),
        libc::EEXIST
    );
    assert_eq!(tasks.get(&process).expect("lookup"), Some([7, -1, 0]));
    assert_eq!(tasks.get(&pidfd).expect("lookup").map(|r| r[0]), Some(2));
    assert!(tasks.remove(&process).expect("remove"));
    assert!(!tasks.remove(&process).expect("remove again"));
    assert!(tasks.remove(&pidfd).expect("remove this thread's"));
    assert_eq!(tasks.get(&other_pidfd).expect("lookup"), None);
    // A file is not a pidfd.
    let file = File::open("/proc/self/status").expect("open");
    assert_fd_rejected(tasks.get(&file), "task_calls", "pidfd");
}

/// A directory of this test's own under the temporary directory, removed with its contents on
/// drop.
struct TestDir {
    path: PathBuf,
}

impl TestDir {
    fn new(tag: &str) -> TestDir {
        let path = std::env::temp_dir().join(format!("bpfkit-typed-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        TestDir { path }
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A cgroup this test creates (cgroup v2), removed on drop.
struct TestCgroup {
    path: PathBuf,
}

impl TestCgroup {
    fn new(tag: &str) -> TestCgroup {
        let root = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
            .into_iter()
            .map(PathBuf::from)
            .find(|root| root.join("cgroup.controllers").exists())
            .expect("a cgroup v2 mount under /sys/fs/cgroup");
        let path = root.join(format!("bpfkit-typed-{tag}-{}", std::process::id()));
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        TestCgroup { path }
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// Socket, inode and cgroup storage from user space: a value written through one fd is read
/// through another fd of the same object, another object has none, NO_EXIST refuses a second
/// value, removal is seen through every fd, and an fd of the wrong kind of object is refused
/// with a message saying which fd the map takes.
#[test]
fn socket_inode_and_cgroup_storage_values_belong_to_the_object() {
    require_root!();
    let ebpf = load_maps_all();

    let sockets: SkStorage<_, u64> =
        SkStorage::try_from(map_data(&ebpf, "socket_messages")).expect("socket storage");
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let same_socket = socket.try_clone().expect("dup");
    let other_socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sockets
        .insert(&socket, &41, UpdateFlags::NO_EXIST)
        .expect("insert");
    assert_eq!(sockets.get(&same_socket).expect("get"), Some(41));
    assert_eq!(sockets.get(&other_socket).expect("get"), None);
    assert_eq!(
        errno_of(sockets.insert(&same_socket, &1, UpdateFlags::NO_EXIST)),
        libc::EEXIST
    );
    sockets
        .insert(&same_socket, &42, UpdateFlags::EXIST)
        .expect("replace");
    assert_eq!(sockets.get(&socket).expect("get"), Some(42));
    assert!(sockets.remove(&same_socket).expect("remove"));
    assert_eq!(sockets.get(&socket).expect("get"), None);
    assert!(!sockets.remove(&socket).expect("remove again"));
    let dir = TestDir::new("storage");
    let file = File::create(dir.path.join("file")).expect("create");
    assert_fd_rejected(
        sockets.insert(&file, &1, UpdateFlags::empty()),
        "socket_messages",
        "a socket fd",
    );

    let inodes: InodeStorage<_, u64> =
        InodeStorage::try_from(map_data(&ebpf, "inode_unlinks")).expect("inode storage");
    let reader = File::open(dir.path.join("file")).expect("open again");
    let other_file = File::create(dir.path.join("other")).expect("create");
    inodes
        .insert(&file, &7, UpdateFlags::NO_EXIST)
        .expect("insert");
    assert_eq!(inodes.get(&reader).expect("get"), Some(7));
    assert_eq!(inodes.get(&other_file).expect("get"), None);
    assert!(inodes.remove(&reader).expect("remove"));
    assert_eq!(inodes.get(&file).expect("get"), None);

    let cgroups: CgroupStorage<_, u64> =
        CgroupStorage::try_from(map_data(&ebpf, "cgroup_mkdirs")).expect("cgroup storage");
    let cgroup = TestCgroup::new("storage");
    let directory = File::open(&cgroup.path).expect("open the cgroup");
    let same_directory = File::open(&cgroup.path).expect("open the cgroup again");
    cgroups
        .insert(&directory, &3, UpdateFlags::NO_EXIST)
        .expect("insert");
    assert_eq!(cgroups.get(&same_directory).expect("get"), Some(3));
    assert!(cgroups.remove(&same_directory).expect("remove"));
    assert_eq!(cgroups.get(&directory).expect("get"), None);
    drop((directory, same_directory));
    let not_a_cgroup = File::open(&dir.path).expect("open a plain directory");
    assert_fd_rejected(cgroups.get(&not_a_cgroup), "cgroup_mkdirs", "cgroup");
}

/// Program array: holds a loaded program (read back as its id), refuses a map fd, empties.
#[test]
fn program_array_holds_programs() {
    require_root!();
    let data = create(BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, "tm_progs");
    let jumps = ProgramArray::try_from(&data).expect("program array");
    assert_eq!(jumps.len(), 4);
    let program = load_program(BPF_PROG_TYPE_SOCKET_FILTER, 0, 0, "tm_tail");
    assert_eq!(jumps.get(0).expect("get"), None);
    jumps
        .set(2, &program, UpdateFlags::empty())
        .expect("set a program");
    assert_eq!(
        jumps.get(2).expect("get"),
        Some(program_id(program.as_fd()).get())
    );
    let slots: Vec<(u32, u32)> = jumps.iter().collect::<Result<_, _>>().expect("iter");
    assert_eq!(slots, [(2, program_id(program.as_fd()).get())]);
    assert_fd_rejected(
        jumps.set(1, &data, UpdateFlags::empty()),
        "tm_progs",
        "loaded program",
    );
    // Program arrays take only BPF_ANY: the EINVAL is about the flags, not the fd.
    assert!(matches!(
        jumps.set(1, &program, UpdateFlags::NO_EXIST),
        Err(MapError::Syscall(e)) if e.errno() == libc::EINVAL
    ));
    assert_out_of_bounds(jumps.set(4, &program, UpdateFlags::empty()), 4);
    assert!(jumps.remove(2).expect("remove"));
    assert!(!jumps.remove(2).expect("remove again"));
    assert_eq!(jumps.get(2).expect("get"), None);
}

/// Device maps, both value layouts: a 4-byte map holds an ifindex and has no place for a
/// program; an 8-byte (`bpf_devmap_val`) map also holds a `BPF_XDP_DEVMAP` program, read back
/// as its id, and refuses a plain XDP program.
#[test]
fn dev_maps_hold_devices_and_programs() {
    require_root!();
    let loopback = 1;
    let plain = create(BPF_MAP_TYPE_DEVMAP, 4, 4, 4, "tm_devmap4");
    let devices = DevMap::try_from(&plain).expect("device map");
    assert!(!devices.has_programs());
    devices
        .set(1, loopback, None, UpdateFlags::empty())
        .expect("set");
    assert_eq!(
        devices.get(1).expect("get"),
        Some(DevMapValue {
            ifindex: loopback,
            program_id: None
        })
    );
    assert_eq!(devices.get(0).expect("get"), None);
    let devmap_program = load_program(BPF_PROG_TYPE_XDP, BPF_XDP_DEVMAP, XDP_PASS, "tm_devprog");
    let err = devices
        .set(
            0,
            loopback,
            Some(devmap_program.as_fd()),
            UpdateFlags::empty(),
        )
        .expect_err("no place for a program");
    assert!(
        matches!(&err, MapError::Unsupported { .. })
            && err.to_string().contains("bpf_devmap_val")
            && err.to_string().contains("Linux 5.8"),
        "{err}"
    );
    let entries: Vec<(u32, DevMapValue)> = devices.iter().collect::<Result<_, _>>().expect("iter");
    assert_eq!(entries.len(), 1);
    assert_out_of_bounds(devices.get(4), 4);
    assert!(devices.remove(1).expect("remove"));
    assert!(!devices.remove(1).expect("remove again"));

    let with_programs = create(BPF_MAP_TYPE_DEVMAP, 4, 8, 4, "tm_devmap8");
    let devices = DevMap::try_from(&with_programs).expect("device map");
    assert!(devices.has_programs());
    devices
        .set(
            0,
            loopback,
            Some(devmap_program.as_fd()),
            UpdateFlags::empty(),
        )
        .expect("set with a program");
    assert_eq!(
        devices.get(0).expect("get"),
        Some(DevMapValue {
            ifindex: loopback,
            program_id: Some(program_id(devmap_program.as_fd()))
        })
    );
    devices
        .set(1, loopback, None, UpdateFlags::empty())
        .expect("set without");
    assert_eq!(
        devices.get(1).expect("get").map(|v| v.program_id),
        Some(None)
    );
    let plain_xdp = load_program(BPF_PROG_TYPE_XDP, 0, XDP_PASS, "tm_plainxdp");
    assert_fd_rejected(
        devices.set(2, loopback, Some(plain_xdp.as_fd()), UpdateFlags::empty()),
        "tm_devmap8",
        "BPF_XDP_DEVMAP",
    );

    let hashed = create(BPF_MAP_TYPE_DEVMAP_HASH, 4, 8, 4, "tm_devhash");
    let by_index = DevMapHash::try_from(&hashed).expect("device hash");
    by_index
        .insert(
            loopback,
            loopback,
            Some(devmap_program.as_fd()),
            UpdateFlags::NO_EXIST,
        )
        .expect("insert");
    assert_eq!(
        errno_of(by_index.insert(loopback, loopback, None, UpdateFlags::NO_EXIST)),
        libc::EEXIST
    );
    let keys: Vec<u32> = by_index.keys().collect::<Result<_, _>>().expect("keys");
    assert_eq!(keys, [loopback]);
    let entries: Vec<(u32, DevMapValue)> = by_index.iter().collect::<Result<_, _>>().expect("iter");
    assert_eq!(
        entries,
        [(
            loopback,
            DevMapValue {
                ifindex: loopback,
                program_id: Some(program_id(devmap_program.as_fd()))
            }
        )]
    );
    assert!(by_index.remove(loopback).expect("remove"));
    assert!(!by_index.remove(loopback).expect("remove again"));
    assert_eq!(by_index.get(loopback).expect("get"), None);
}

/// CPU map, both value layouts: a queue size alone, or with a `BPF_XDP_CPUMAP` program.
#[test]
fn cpu_map_holds_queues_and_programs() {
    require_root!();
    let cpus = sys::possible_cpus().expect("possible CPUs") as u32;
    let plain = create(BPF_MAP_TYPE_CPUMAP, 4, 4, cpus, "tm_cpumap4");
    let queues = CpuMap::try_from(&plain).expect("CPU map");
    assert_eq!(queues.len(), cpus);
    assert!(!queues.has_programs());
    queues.set(0, 64, None, UpdateFlags::empty()).expect("set");
    assert_eq!(
        queues.get(0).expect("get"),
        Some(CpuMapValue {
            queue_size: 64,
            program_id: None
        })
    );
    let cpumap_program = load_program(BPF_PROG_TYPE_XDP, BPF_XDP_CPUMAP, XDP_PASS, "tm_cpuprog");
    assert!(matches!(
        queues.set(0, 64, Some(cpumap_program.as_fd()), UpdateFlags::empty()),
        Err(MapError::Unsupported { .. })
    ));
    assert_out_of_bounds(queues.set(cpus, 64, None, UpdateFlags::empty()), cpus);
    assert!(queues.remove(0).expect("remove"));
    assert!(!queues.remove(0).expect("remove again"));
    assert_eq!(queues.get(0).expect("get"), None);

    let with_programs = create(BPF_MAP_TYPE_CPUMAP, 4, 8, cpus, "tm_cpumap8");
    let queues = CpuMap::try_from(&with_programs).expect("CPU map");
    queues
        .set(0, 128, Some(cpumap_program.as_fd()), UpdateFlags::empty())
        .expect("set with a program");
    let entries: Vec<(u32, CpuMapValue)> = queues.iter().collect::<Result<_, _>>().expect("iter");
    assert_eq!(
        entries,
        [(
            0,
            CpuMapValue {
                queue_size: 128,
                program_id: Some(program_id(cpumap_program.as_fd()))
            }
        )]
    );
    let plain_xdp = load_program(BPF_PROG_TYPE_XDP, 0, XDP_PASS, "tm_plainxdp2");
    assert_fd_rejected(
        queues.set(0, 128, Some(plain_xdp.as_fd()), UpdateFlags::empty()),
        "tm_cpumap8",
        "BPF_XDP_CPUMAP",
    );
}

/// The socket's cookie, as `SO_COOKIE` reports it.
fn socket_cookie(socket: &impl AsRawFd) -> u64 {
    let mut cookie = 0u64;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: a u64 output buffer of the announced length, alive for the call.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_COOKIE,
            (&mut cookie as *mut u64).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "SO_COOKIE: {}", std::io::Error::last_os_error());
    cookie
}

/// Socket maps: hold established TCP sockets, report their cookies (8-byte values only),
/// refuse a file, and say when a slot was empty.
#[test]
fn sock_maps_hold_sockets_and_report_cookies() {
    require_root!();
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen on loopback");
    let client = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    let (server, _) = listener.accept().expect("accept");

    let data = create(BPF_MAP_TYPE_SOCKMAP, 4, 8, 4, "tm_sockmap");
    let sockets = SockMap::try_from(&data).expect("socket map");
    sockets.set(0, &server, UpdateFlags::empty()).expect("set");
    sockets
        .set(1, &client, UpdateFlags::NO_EXIST)
        .expect("set client");
    assert_eq!(sockets.get(0).expect("get"), Some(socket_cookie(&server)));
    assert_eq!(sockets.get(1).expect("get"), Some(socket_cookie(&client)));
    assert_eq!(sockets.get(2).expect("get"), None);
    let dir = TestDir::new("sockmap");
    let file = File::create(dir.path.join("file")).expect("create");
    assert_fd_rejected(
        sockets.set(2, &file, UpdateFlags::empty()),
        "tm_sockmap",
        "socket",
    );
    assert_out_of_bounds(sockets.set(4, &server, UpdateFlags::empty()), 4);
    assert!(sockets.remove(1).expect("remove"));
    assert!(!sockets.remove(1).expect("remove an empty slot"));

    let narrow = create(BPF_MAP_TYPE_SOCKMAP, 4, 4, 4, "tm_sockmap4");
    let narrow = SockMap::try_from(&narrow).expect("socket map of 4-byte values");
    narrow.set(0, &server, UpdateFlags::empty()).expect("set");
    let err = narrow.get(0).expect_err("no cookie in 4 bytes");
    assert!(
        matches!(&err, MapError::Unsupported { .. }) && err.to_string().contains("8-byte values"),
        "{err}"
    );

    let data = create(BPF_MAP_TYPE_SOCKHASH, 4, 8, 4, "tm_sockhash");
    let by_port: SockHash<_, u32> = SockHash::try_from(&data).expect("socket hash");
    let port = u32::from(client.local_addr().expect("address").port());
    by_port
        .insert(&port, &client, UpdateFlags::NO_EXIST)
        .expect("insert");
    assert_eq!(
        by_port.get(&port).expect("get"),
        Some(socket_cookie(&client))
    );
    assert_eq!(by_port.get(&(port + 1)).expect("get"), None);
    let keys: Vec<u32> = by_port.keys().collect::<Result<_, _>>().expect("keys");
    assert_eq!(keys, [port]);
    assert_fd_rejected(
        by_port.insert(&1, &file, UpdateFlags::empty()),
        "tm_sockhash",
        "socket",
    );
    assert!(by_port.remove(&port).expect("remove"));
    assert!(!by_port.remove(&port).expect("remove again"));
}

/// An `Array<u64, 4>`, the inner template of the maps of maps below.
fn inner_array(name: &str) -> MapData {
    create(BPF_MAP_TYPE_ARRAY, 4, 8, 4, name)
}

/// Maps of maps: hold inner maps of the template's shape (read back as ids matching
/// `MapData::info`, opened again by id), keep them alive after the caller drops its handle,
/// and refuse a map of another shape.
#[test]
fn maps_of_maps_hold_inner_maps() {
    require_root!();
    let template = inner_array("tm_template");
    let outer = create_with(&MapCreate {
        map_type: BPF_MAP_TYPE_ARRAY_OF_MAPS,
        key_size: 4,
        value_size: 4,
        max_entries: 2,
        inner_map_fd: Some(template.fd()),
        name: "tm_outer_array",
        ..Default::default()
    });
    let tables = ArrayOfMaps::try_from(&outer).expect("array of maps");
    let inner = inner_array("tm_inner0");
    let inner_id = inner.info().id;
    tables.set(0, &inner, UpdateFlags::empty()).expect("set");
    assert_eq!(tables.get(0).expect("get"), Some(inner_id));
    assert_eq!(tables.get(1).expect("get"), None);
    Array::<_, u64>::try_from(&inner)
        .expect("array")
        .set(3, &33)
        .expect("write through the caller's handle");
    drop(inner);
    let opened = tables
        .get_map(0)
        .expect("open")
        .expect("slot 0 holds a map");
    assert_eq!(opened.info().id, inner_id, "the outer map kept it alive");
    assert_eq!(
        Array::<_, u64>::try_from(&opened)
            .expect("array")
            .get(3)
            .expect("get"),
        33
    );
    let slots: Vec<(u32, u32)> = tables.iter().collect::<Result<_, _>>().expect("iter");
    assert_eq!(slots, [(0, inner_id)]);
    let wrong_shape = create(BPF_MAP_TYPE_HASH, 4, 8, 4, "tm_wrongshape");
    assert_fd_rejected(
        tables.set(1, &wrong_shape, UpdateFlags::empty()),
        "tm_outer_array",
        "inner map template",
    );
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    assert_fd_rejected(
        tables.set(1, &socket, UpdateFlags::empty()),
        "tm_outer_array",
        "inner map template",
    );
    assert_out_of_bounds(tables.get(2), 2);
    assert!(tables.remove(0).expect("remove"));
    assert!(!tables.remove(0).expect("remove again"));
    assert!(
        tables.get_map(0).expect("open").is_none(),
        "slot 0 is empty"
    );

    let outer = create_with(&MapCreate {
        map_type: BPF_MAP_TYPE_HASH_OF_MAPS,
        key_size: 4,
        value_size: 4,
        max_entries: 2,
        inner_map_fd: Some(template.fd()),
        name: "tm_outer_hash",
        ..Default::default()
    });
    let per_key: HashOfMaps<MapData, u32> = HashOfMaps::try_from(outer).expect("hash of maps");
    let inner = inner_array("tm_inner7");
    per_key
        .insert(&7, &inner, UpdateFlags::NO_EXIST)
        .expect("insert");
    assert_eq!(
        errno_of(per_key.insert(&7, &inner, UpdateFlags::NO_EXIST)),
        libc::EEXIST
    );
    assert_eq!(per_key.get(&7).expect("get"), Some(inner.info().id));
    assert_eq!(per_key.get(&8).expect("get"), None);
    assert_eq!(
        per_key.get_map(&7).expect("open").map(|m| m.info().id),
        Some(inner.info().id)
    );
    let keys: Vec<u32> = per_key.keys().collect::<Result<_, _>>().expect("keys");
    assert_eq!(keys, [7]);
    let entries: Vec<(u32, u32)> = per_key.iter().collect::<Result<_, _>>().expect("iter");
    assert_eq!(entries, [(7, inner.info().id)]);
    assert_fd_rejected(
        per_key.insert(&8, &wrong_shape, UpdateFlags::empty()),
        "tm_outer_hash",
        "inner map template",
    );
    assert!(per_key.remove(&7).expect("remove"));
    assert!(!per_key.remove(&7).expect("remove again"));
}

/// XSK map: holds a real AF_XDP socket (bound to queue 0 of a veth end), refuses a UDP socket,
/// and empties a slot (whether or not it held one: the kernel does not say).
#[test]
fn xsk_map_holds_af_xdp_sockets() {
    require_root!();
    let data = create(BPF_MAP_TYPE_XSKMAP, 4, 4, 2, "tm_xskmap");
    let sockets = XskMap::try_from(&data).expect("XSK map");
    assert_eq!(sockets.len(), 2);
    let udp = UdpSocket::bind("127.0.0.1:0").expect("bind");
    assert_fd_rejected(
        sockets.set(0, &udp, UpdateFlags::empty()),
        "tm_xskmap",
        "AF_XDP socket",
    );
    assert_out_of_bounds(sockets.set(2, &udp, UpdateFlags::empty()), 2);
    sockets.remove(1).expect("removing an empty slot succeeds");
    // Why `XskMap::remove` returns `()`: the kernel's delete of an empty slot succeeds.
    assert!(
        sys::map_delete_elem(&data.handle(), &1u32.to_ne_bytes()).expect("raw delete"),
        "BPF_MAP_DELETE_ELEM on an empty XSK slot returns 0"
    );

    let pair = common::VethPair::new();
    let ifindex = pair.right_ifindex();
    pair.right.run(|| {
        let xsk = common::xsk::XskSocket::bind(ifindex, 0)
            .unwrap_or_else(|e| panic!("AF_XDP socket: {e}"));
        assert_eq!(
            errno_of(sockets.set(0, xsk.fd(), UpdateFlags::EXIST)),
            libc::ENOENT,
            "EXIST on an empty slot"
        );
        sockets
            .set(0, xsk.fd(), UpdateFlags::NO_EXIST)
            .expect("set the AF_XDP socket");
        sockets
            .set(0, xsk.fd(), UpdateFlags::EXIST)
            .expect("the slot holds a socket");
        sockets.remove(0).expect("remove");
        assert_eq!(
            errno_of(sockets.set(0, xsk.fd(), UpdateFlags::EXIST)),
            libc::ENOENT,
            "the slot is empty again"
        );
    });
}
