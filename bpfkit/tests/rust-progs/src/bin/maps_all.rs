//! One map of every BTF-defined map type bpfkit-ebpf offers, and programs using them:
//!
//! * `maps_xdp` (run with BPF_PROG_TEST_RUN): pushes each frame's length into `lengths_fifo`
//!   (queue) and `lengths_lifo` (stack), tests and adds it to `seen_lengths` (bloom filter),
//!   looks the IPv4 source up in `routes` (LPM trie), and records the results per frame length in
//!   `results` (per-CPU hash); counts frames in `frames` (LRU per-CPU hash) and, through the
//!   map-in-maps `outer_array[0]` and `outer_hash[1]`, in their inner arrays.
//! * `maps_redirect`: tries `devices`, `devices_by_index`, `cpus` and `xdp_sockets`; with empty
//!   entries every redirect falls back to `XDP_PASS`, which it returns.
//! * `maps_task` (raw tracepoint, run with BPF_PROG_TEST_RUN in the caller's task): counts calls
//!   in `task_calls` (task storage), stores the kernel stack id from `stacks` and the result of a
//!   `samples` (perf event array) write there too.
//! * `maps_msg` (sk_msg) and `maps_verdict` (sk_skb stream verdict): redirect through `sockets`
//!   and `sockets_by_port`, counting messages per socket in `socket_messages` (socket storage).
//! * `maps_mkdir` (BTF tracepoint `cgroup_mkdir`): counts new cgroups in `cgroup_mkdirs` (cgroup
//!   storage).
//!
//! `inode_unlinks` (inode storage) is only defined: on Linux 6.18 its helper is offered to LSM
//! programs only, which this test kernel refuses to load (EPERM), and one program that cannot
//! load would make `bpftool prog loadall` fail for the whole object. `inode_storage.rs` holds the
//! programs that call it (see `tests/rust_inode_storage.rs` for what the kernel does with them).

#![no_std]
#![no_main]

use bpfkit_ebpf::bindings::xdp_action::{XDP_DROP, XDP_PASS};
use bpfkit_ebpf::helpers::bpf_get_current_task_btf;
use bpfkit_ebpf::macros::{btf_tracepoint, map, raw_tracepoint, sk_msg, stream_verdict, xdp};
use bpfkit_ebpf::maps::{
    Array, ArrayOfMaps, BloomFilter, CgroupStorage, CpuMap, DevMap, DevMapHash, HashOfMaps,
    InodeStorage, LpmKey, LpmTrie, LruPerCpuHashMap, PerCpuHashMap, PerfEventArray, Queue,
    SkStorage, SockHash, SockMap, Stack, StackTrace, TaskStorage, XskMap,
};
use bpfkit_ebpf::programs::{
    BtfTracePointContext, RawTracePointContext, SkBuffContext, SkMsgContext, XdpContext,
};
use bpfkit_rust_test_progs as _;

/// `results` bit: the bloom filter held the frame length before this frame added it.
const FRAME_RESULT_BLOOM_BEFORE: u64 = 1;
/// `results` bit: the bloom filter holds the frame length after this frame added it.
const FRAME_RESULT_BLOOM_AFTER: u64 = 2;
// Bits 8 and up of a `results` value: the value `routes` gave for the IPv4 source (0: none).

/// A task's `task_calls` value (the user-space test reads it with the same layout).
#[repr(C)]
pub struct TaskRecord {
    /// Runs of `maps_task` in this task.
    calls: u64,
    /// The last `bpf_get_stackid` result: a `stacks` key, or a negative error.
    stack_id: i64,
    /// The last `samples` write: 0, or a negative error (`-ENOENT` with no perf event set).
    perf_output: i64,
}

/// The inner map shape of both maps of maps.
type Counters = Array<u64, 4>;

#[map]
static results: PerCpuHashMap<u32, u64, 64> = PerCpuHashMap::new();
#[map]
static frames: LruPerCpuHashMap<u32, u64, 16> = LruPerCpuHashMap::new();
#[map]
static lengths_fifo: Queue<u32, 8> = Queue::new();
#[map]
static lengths_lifo: Stack<u32, 8> = Stack::new();
#[map]
static seen_lengths: BloomFilter<u32, 100, 3> = BloomFilter::new();
#[map]
static routes: LpmTrie<[u8; 4], u32, 32> = LpmTrie::new();
#[map]
static samples: PerfEventArray = PerfEventArray::new();
#[map]
static stacks: StackTrace<128> = StackTrace::new();
#[map]
static sockets: SockMap<4> = SockMap::new();
#[map]
static sockets_by_port: SockHash<u32, 4> = SockHash::new();
#[map]
static devices: DevMap<4> = DevMap::new();
#[map]
static devices_by_index: DevMapHash<4> = DevMapHash::new();
#[map]
static cpus: CpuMap<2> = CpuMap::new();
#[map]
static xdp_sockets: XskMap<4> = XskMap::new();
#[map]
static socket_messages: SkStorage<u64> = SkStorage::new();
#[map]
static task_calls: TaskStorage<TaskRecord> = TaskStorage::new();
#[map]
static inode_unlinks: InodeStorage<u64> = InodeStorage::new();
#[map]
static cgroup_mkdirs: CgroupStorage<u64> = CgroupStorage::new();
#[map]
static outer_array: ArrayOfMaps<Counters, 2> = ArrayOfMaps::new();
#[map]
static outer_hash: HashOfMaps<u32, Counters, 2> = HashOfMaps::new();

/// Ethernet header length, then the offset of the IPv4 source address.
const IPV4_SOURCE: usize = 14 + 12;

#[inline(always)]
fn add(counter: *mut u64, amount: u64) {
    // SAFETY: a live, 8-aligned u64 map value; atomically updated because array values are
    // shared between CPUs.
    unsafe { bpfkit_ebpf::atomic::add_u64(counter, amount) };
}

#[xdp]
fn maps_xdp(ctx: XdpContext) -> u32 {
    let length = (ctx.data_end() - ctx.data()) as u32;
    if lengths_fifo.push(&length, 0).is_err() || lengths_lifo.push(&length, 0).is_err() {
        return XDP_DROP;
    }
    let mut result: u64 = 0;
    if seen_lengths.contains(&length) {
        result |= FRAME_RESULT_BLOOM_BEFORE;
    }
    if seen_lengths.insert(&length, 0).is_ok() && seen_lengths.contains(&length) {
        result |= FRAME_RESULT_BLOOM_AFTER;
    }
    if let Some(source) = ctx.load::<[u8; 4]>(IPV4_SOURCE) {
        // SAFETY: read only; user space fills the trie before running the program.
        if let Some(prefix) = unsafe { routes.get(&LpmKey::new(32, source)) } {
            result |= u64::from(*prefix) << 8;
        }
    }
    if results.insert(&length, &result, 0).is_err() {
        return XDP_DROP;
    }
    let key: u32 = 0;
    match frames.get_ptr_mut(&key) {
        // SAFETY: this CPU's value: no other CPU writes it.
        Some(count) => unsafe { *count += 1 },
        None => {
            let one: u64 = 1;
            let _ = frames.insert(&key, &one, 0);
        }
    }
    if let Some(inner) = outer_array.get(0) {
        if let Some(counter) = inner.get_ptr_mut(0) {
            add(counter, u64::from(length));
        }
    }
    let hash_key: u32 = 1;
    if let Some(inner) = outer_hash.get(&hash_key) {
        if let Some(counter) = inner.get_ptr_mut(1) {
            add(counter, 1);
        }
    }
    XDP_PASS
}

#[xdp]
fn maps_redirect(_ctx: XdpContext) -> u32 {
    let fallback = u64::from(XDP_PASS);
    for action in [
        devices.redirect(0, fallback),
        devices_by_index.redirect(1, fallback),
        cpus.redirect(0, fallback),
        xdp_sockets.redirect(0, fallback),
    ] {
        if action != XDP_PASS {
            return action;
        }
    }
    XDP_PASS
}

#[raw_tracepoint("sys_enter")]
fn maps_task(ctx: RawTracePointContext) -> i32 {
    // SAFETY: no arguments; returns the current task as a trusted BTF pointer.
    let task = unsafe { bpf_get_current_task_btf() };
    // SAFETY: a trusted task pointer from the helper above.
    let Some(record) = (unsafe { task_calls.get_ptr_mut(task.cast(), None, true) }) else {
        return 1;
    };
    // SAFETY: the task's own storage, written only by programs running in this task.
    unsafe {
        (*record).calls += 1;
        (*record).stack_id = match stacks.get_stackid(ctx.as_ptr(), 0) {
            Ok(id) => i64::from(id),
            Err(error) => error,
        };
        let calls = (*record).calls;
        (*record).perf_output = match samples.output(ctx.as_ptr(), &calls) {
            Ok(()) => 0,
            Err(error) => error,
        };
    }
    0
}

/// Offset of `sk` in `struct sk_msg_md`.
const SK_MSG_SK: usize = 72;

#[sk_msg]
fn maps_msg(ctx: SkMsgContext) -> u32 {
    // SAFETY: `sk` is a field of the sk_msg context at this offset (read as the verifier wants:
    // one aligned 8-byte context load).
    let sk = unsafe {
        core::ptr::read_volatile(ctx.as_ptr().cast::<u8>().add(SK_MSG_SK).cast::<*mut u8>())
    };
    if !sk.is_null() {
        // SAFETY: a socket pointer from the context, checked for null.
        if let Some(count) = unsafe { socket_messages.get_ptr_mut(sk.cast(), None, true) } {
            add(count, 1);
        }
    }
    let port: u32 = 0;
    if sockets_by_port.redirect_msg(&ctx, &port, 0) == 1 {
        return 1;
    }
    sockets.redirect_msg(&ctx, 0, 0)
}

#[stream_verdict]
fn maps_verdict(ctx: SkBuffContext) -> u32 {
    let port: u32 = 0;
    if sockets_by_port.redirect_skb(&ctx, &port, 0) == 1 {
        return 1;
    }
    sockets.redirect_skb(&ctx, 0, 0)
}

#[btf_tracepoint("cgroup_mkdir")]
fn maps_mkdir(ctx: BtfTracePointContext) -> i32 {
    let cgroup = ctx.arg(0) as *mut core::ffi::c_void;
    // SAFETY: the tracepoint's first argument is the new cgroup's trusted `struct cgroup *`.
    if let Some(count) = unsafe { cgroup_mkdirs.get_ptr_mut(cgroup, None, true) } {
        add(count, 1);
    }
    0
}

bpfkit_ebpf::license!("Dual MIT/GPL");
