//! One trivial program per bpfkit-ebpf program macro, so the tests can check every section name
//! the macros emit against bpfkit's and libbpf's section tables; plus the map kinds the other
//! programs do not use (LRU hash, per-CPU array).

#![no_std]
#![no_main]

use bpfkit_ebpf::macros::{
    btf_tracepoint, cgroup_device, cgroup_skb, cgroup_sock, cgroup_sock_addr, cgroup_sockopt,
    cgroup_sysctl, classifier, fentry, fexit, flow_dissector, iter, kprobe, kretprobe, lsm, map,
    perf_event, raw_tracepoint, sk_lookup, sk_msg, sock_ops, socket_filter, stream_parser,
    stream_verdict, tracepoint, uprobe, uretprobe, xdp,
};
use bpfkit_ebpf::maps::{LruHashMap, PerCpuArray};
use bpfkit_ebpf::programs::*;
use bpfkit_rust_test_progs as _;

#[map]
static recent: LruHashMap<u32, u64, 128> = LruHashMap::new();

#[map]
static per_cpu_hits: PerCpuArray<u64, 4> = PerCpuArray::new();

#[xdp]
fn sec_xdp(_ctx: XdpContext) -> u32 {
    bpfkit_ebpf::bindings::xdp_action::XDP_PASS
}

#[classifier]
fn sec_tc(_ctx: TcContext) -> i32 {
    bpfkit_ebpf::bindings::tc_action::TC_ACT_OK
}

#[socket_filter]
fn sec_socket(ctx: SkBuffContext) -> i64 {
    // Per-CPU: the plain read-modify-write cannot race.
    if let Some(hits) = per_cpu_hits.get_ptr_mut(0) {
        // SAFETY: a live value of this CPU's array, not shared with other CPUs.
        unsafe { *hits += 1 };
    }
    i64::from(ctx.len())
}

#[tracepoint("sched/sched_process_exec")]
fn sec_tracepoint(_ctx: TracePointContext) -> u32 {
    0
}

#[raw_tracepoint("sys_enter")]
fn sec_raw_tracepoint(ctx: RawTracePointContext) -> i32 {
    // args[1] of sys_enter is the syscall number.
    let syscall = ctx.arg(1) as u32;
    let now = bpfkit_ebpf::helpers::ktime_ns();
    let _ = recent.insert(&syscall, &now, bpfkit_ebpf::bindings::BPF_ANY);
    0
}

#[btf_tracepoint("sched_switch")]
fn sec_btf_tracepoint(_ctx: BtfTracePointContext) -> i32 {
    0
}

#[kprobe("do_unlinkat")]
fn sec_kprobe(_ctx: ProbeContext) -> u32 {
    0
}

#[kretprobe("do_unlinkat")]
fn sec_kretprobe(_ctx: ProbeContext) -> u32 {
    0
}

#[uprobe]
fn sec_uprobe(_ctx: ProbeContext) -> u32 {
    0
}

#[uretprobe]
fn sec_uretprobe(_ctx: ProbeContext) -> u32 {
    0
}

#[fentry("do_unlinkat")]
fn sec_fentry(_ctx: BtfTracePointContext) -> i32 {
    0
}

#[fexit("do_unlinkat")]
fn sec_fexit(_ctx: BtfTracePointContext) -> i32 {
    0
}

#[lsm("file_open")]
fn sec_lsm(_ctx: BtfTracePointContext) -> i32 {
    0
}

#[perf_event]
fn sec_perf_event(_ctx: PerfEventContext) -> u32 {
    0
}

#[cgroup_skb("ingress")]
fn sec_cgroup_skb(_ctx: SkBuffContext) -> i32 {
    1
}

#[cgroup_sock("sock_create")]
fn sec_cgroup_sock(_ctx: SockContext) -> i32 {
    1
}

#[cgroup_sock_addr("connect4")]
fn sec_cgroup_sock_addr(_ctx: SockAddrContext) -> i32 {
    1
}

#[cgroup_sockopt("getsockopt")]
fn sec_cgroup_sockopt(_ctx: SockoptContext) -> i32 {
    1
}

#[cgroup_sysctl]
fn sec_cgroup_sysctl(_ctx: SysctlContext) -> i32 {
    1
}

#[cgroup_device]
fn sec_cgroup_device(_ctx: DeviceContext) -> i32 {
    1
}

#[sock_ops]
fn sec_sock_ops(_ctx: SockOpsContext) -> u32 {
    1
}

#[sk_msg]
fn sec_sk_msg(_ctx: SkMsgContext) -> u32 {
    1
}

#[stream_parser]
fn sec_stream_parser(ctx: SkBuffContext) -> u32 {
    ctx.len()
}

#[stream_verdict]
fn sec_stream_verdict(_ctx: SkBuffContext) -> u32 {
    1
}

#[sk_lookup]
fn sec_sk_lookup(_ctx: SkLookupContext) -> u32 {
    1
}

#[flow_dissector]
fn sec_flow_dissector(_ctx: FlowDissectorContext) -> u32 {
    0
}

#[iter("task")]
fn sec_iter(_ctx: IterContext) -> i32 {
    0
}

bpfkit_ebpf::license!("Dual MIT/GPL");
