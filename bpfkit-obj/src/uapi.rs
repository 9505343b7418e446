//! Kernel UAPI enumerations (program, map, attach, link types; bpf commands), taken from the
//! Linux 6.18 UAPI (`include/uapi/linux/bpf.h`). Plain constants: the object model needs them to
//! describe sections and maps, the syscall layer to fill attributes.
#![allow(missing_docs)]

/// `enum bpf_prog_type`.
pub mod prog_type {
    pub const BPF_PROG_TYPE_UNSPEC: u32 = 0;
    pub const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;
    pub const BPF_PROG_TYPE_KPROBE: u32 = 2;
    pub const BPF_PROG_TYPE_SCHED_CLS: u32 = 3;
    pub const BPF_PROG_TYPE_SCHED_ACT: u32 = 4;
    pub const BPF_PROG_TYPE_TRACEPOINT: u32 = 5;
    pub const BPF_PROG_TYPE_XDP: u32 = 6;
    pub const BPF_PROG_TYPE_PERF_EVENT: u32 = 7;
    pub const BPF_PROG_TYPE_CGROUP_SKB: u32 = 8;
    pub const BPF_PROG_TYPE_CGROUP_SOCK: u32 = 9;
    pub const BPF_PROG_TYPE_LWT_IN: u32 = 10;
    pub const BPF_PROG_TYPE_LWT_OUT: u32 = 11;
    pub const BPF_PROG_TYPE_LWT_XMIT: u32 = 12;
    pub const BPF_PROG_TYPE_SOCK_OPS: u32 = 13;
    pub const BPF_PROG_TYPE_SK_SKB: u32 = 14;
    pub const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
    pub const BPF_PROG_TYPE_SK_MSG: u32 = 16;
    pub const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;
    pub const BPF_PROG_TYPE_CGROUP_SOCK_ADDR: u32 = 18;
    pub const BPF_PROG_TYPE_LWT_SEG6LOCAL: u32 = 19;
    pub const BPF_PROG_TYPE_LIRC_MODE2: u32 = 20;
    pub const BPF_PROG_TYPE_SK_REUSEPORT: u32 = 21;
    pub const BPF_PROG_TYPE_FLOW_DISSECTOR: u32 = 22;
    pub const BPF_PROG_TYPE_CGROUP_SYSCTL: u32 = 23;
    pub const BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE: u32 = 24;
    pub const BPF_PROG_TYPE_CGROUP_SOCKOPT: u32 = 25;
    pub const BPF_PROG_TYPE_TRACING: u32 = 26;
    pub const BPF_PROG_TYPE_STRUCT_OPS: u32 = 27;
    pub const BPF_PROG_TYPE_EXT: u32 = 28;
    pub const BPF_PROG_TYPE_LSM: u32 = 29;
    pub const BPF_PROG_TYPE_SK_LOOKUP: u32 = 30;
    pub const BPF_PROG_TYPE_SYSCALL: u32 = 31;
    pub const BPF_PROG_TYPE_NETFILTER: u32 = 32;
    pub const __MAX_BPF_PROG_TYPE: u32 = 33;
    /// Name of a value, for messages.
    pub fn name(value: u32) -> Option<&'static str> {
        match value {
            BPF_PROG_TYPE_UNSPEC => Some("BPF_PROG_TYPE_UNSPEC"),
            BPF_PROG_TYPE_SOCKET_FILTER => Some("BPF_PROG_TYPE_SOCKET_FILTER"),
            BPF_PROG_TYPE_KPROBE => Some("BPF_PROG_TYPE_KPROBE"),
            BPF_PROG_TYPE_SCHED_CLS => Some("BPF_PROG_TYPE_SCHED_CLS"),
            BPF_PROG_TYPE_SCHED_ACT => Some("BPF_PROG_TYPE_SCHED_ACT"),
            BPF_PROG_TYPE_TRACEPOINT => Some("BPF_PROG_TYPE_TRACEPOINT"),
            BPF_PROG_TYPE_XDP => Some("BPF_PROG_TYPE_XDP"),
            BPF_PROG_TYPE_PERF_EVENT => Some("BPF_PROG_TYPE_PERF_EVENT"),
            BPF_PROG_TYPE_CGROUP_SKB => Some("BPF_PROG_TYPE_CGROUP_SKB"),
            BPF_PROG_TYPE_CGROUP_SOCK => Some("BPF_PROG_TYPE_CGROUP_SOCK"),
            BPF_PROG_TYPE_LWT_IN => Some("BPF_PROG_TYPE_LWT_IN"),
            BPF_PROG_TYPE_LWT_OUT => Some("BPF_PROG_TYPE_LWT_OUT"),
            BPF_PROG_TYPE_LWT_XMIT => Some("BPF_PROG_TYPE_LWT_XMIT"),
            BPF_PROG_TYPE_SOCK_OPS => Some("BPF_PROG_TYPE_SOCK_OPS"),
            BPF_PROG_TYPE_SK_SKB => Some("BPF_PROG_TYPE_SK_SKB"),
            BPF_PROG_TYPE_CGROUP_DEVICE => Some("BPF_PROG_TYPE_CGROUP_DEVICE"),
            BPF_PROG_TYPE_SK_MSG => Some("BPF_PROG_TYPE_SK_MSG"),
            BPF_PROG_TYPE_RAW_TRACEPOINT => Some("BPF_PROG_TYPE_RAW_TRACEPOINT"),
            BPF_PROG_TYPE_CGROUP_SOCK_ADDR => Some("BPF_PROG_TYPE_CGROUP_SOCK_ADDR"),
            BPF_PROG_TYPE_LWT_SEG6LOCAL => Some("BPF_PROG_TYPE_LWT_SEG6LOCAL"),
            BPF_PROG_TYPE_LIRC_MODE2 => Some("BPF_PROG_TYPE_LIRC_MODE2"),
            BPF_PROG_TYPE_SK_REUSEPORT => Some("BPF_PROG_TYPE_SK_REUSEPORT"),
            BPF_PROG_TYPE_FLOW_DISSECTOR => Some("BPF_PROG_TYPE_FLOW_DISSECTOR"),
            BPF_PROG_TYPE_CGROUP_SYSCTL => Some("BPF_PROG_TYPE_CGROUP_SYSCTL"),
            BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE => Some("BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE"),
            BPF_PROG_TYPE_CGROUP_SOCKOPT => Some("BPF_PROG_TYPE_CGROUP_SOCKOPT"),
            BPF_PROG_TYPE_TRACING => Some("BPF_PROG_TYPE_TRACING"),
            BPF_PROG_TYPE_STRUCT_OPS => Some("BPF_PROG_TYPE_STRUCT_OPS"),
            BPF_PROG_TYPE_EXT => Some("BPF_PROG_TYPE_EXT"),
            BPF_PROG_TYPE_LSM => Some("BPF_PROG_TYPE_LSM"),
            BPF_PROG_TYPE_SK_LOOKUP => Some("BPF_PROG_TYPE_SK_LOOKUP"),
            BPF_PROG_TYPE_SYSCALL => Some("BPF_PROG_TYPE_SYSCALL"),
            BPF_PROG_TYPE_NETFILTER => Some("BPF_PROG_TYPE_NETFILTER"),
            _ => None,
        }
    }
}

/// `enum bpf_map_type`.
pub mod map_type {
    pub const BPF_MAP_TYPE_UNSPEC: u32 = 0;
    pub const BPF_MAP_TYPE_HASH: u32 = 1;
    pub const BPF_MAP_TYPE_ARRAY: u32 = 2;
    pub const BPF_MAP_TYPE_PROG_ARRAY: u32 = 3;
    pub const BPF_MAP_TYPE_PERF_EVENT_ARRAY: u32 = 4;
    pub const BPF_MAP_TYPE_PERCPU_HASH: u32 = 5;
    pub const BPF_MAP_TYPE_PERCPU_ARRAY: u32 = 6;
    pub const BPF_MAP_TYPE_STACK_TRACE: u32 = 7;
    pub const BPF_MAP_TYPE_CGROUP_ARRAY: u32 = 8;
    pub const BPF_MAP_TYPE_LRU_HASH: u32 = 9;
    pub const BPF_MAP_TYPE_LRU_PERCPU_HASH: u32 = 10;
    pub const BPF_MAP_TYPE_LPM_TRIE: u32 = 11;
    pub const BPF_MAP_TYPE_ARRAY_OF_MAPS: u32 = 12;
    pub const BPF_MAP_TYPE_HASH_OF_MAPS: u32 = 13;
    pub const BPF_MAP_TYPE_DEVMAP: u32 = 14;
    pub const BPF_MAP_TYPE_SOCKMAP: u32 = 15;
    pub const BPF_MAP_TYPE_CPUMAP: u32 = 16;
    pub const BPF_MAP_TYPE_XSKMAP: u32 = 17;
    pub const BPF_MAP_TYPE_SOCKHASH: u32 = 18;
    pub const BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED: u32 = 19;
    pub const BPF_MAP_TYPE_CGROUP_STORAGE: u32 = 19;
    pub const BPF_MAP_TYPE_REUSEPORT_SOCKARRAY: u32 = 20;
    pub const BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE_DEPRECATED: u32 = 21;
    pub const BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE: u32 = 21;
    pub const BPF_MAP_TYPE_QUEUE: u32 = 22;
    pub const BPF_MAP_TYPE_STACK: u32 = 23;
    pub const BPF_MAP_TYPE_SK_STORAGE: u32 = 24;
    pub const BPF_MAP_TYPE_DEVMAP_HASH: u32 = 25;
    pub const BPF_MAP_TYPE_STRUCT_OPS: u32 = 26;
    pub const BPF_MAP_TYPE_RINGBUF: u32 = 27;
    pub const BPF_MAP_TYPE_INODE_STORAGE: u32 = 28;
    pub const BPF_MAP_TYPE_TASK_STORAGE: u32 = 29;
    pub const BPF_MAP_TYPE_BLOOM_FILTER: u32 = 30;
    pub const BPF_MAP_TYPE_USER_RINGBUF: u32 = 31;
    pub const BPF_MAP_TYPE_CGRP_STORAGE: u32 = 32;
    pub const BPF_MAP_TYPE_ARENA: u32 = 33;
    pub const __MAX_BPF_MAP_TYPE: u32 = 34;
    /// Name of a value, for messages.
    pub fn name(value: u32) -> Option<&'static str> {
        match value {
            BPF_MAP_TYPE_UNSPEC => Some("BPF_MAP_TYPE_UNSPEC"),
            BPF_MAP_TYPE_HASH => Some("BPF_MAP_TYPE_HASH"),
            BPF_MAP_TYPE_ARRAY => Some("BPF_MAP_TYPE_ARRAY"),
            BPF_MAP_TYPE_PROG_ARRAY => Some("BPF_MAP_TYPE_PROG_ARRAY"),
            BPF_MAP_TYPE_PERF_EVENT_ARRAY => Some("BPF_MAP_TYPE_PERF_EVENT_ARRAY"),
            BPF_MAP_TYPE_PERCPU_HASH => Some("BPF_MAP_TYPE_PERCPU_HASH"),
            BPF_MAP_TYPE_PERCPU_ARRAY => Some("BPF_MAP_TYPE_PERCPU_ARRAY"),
            BPF_MAP_TYPE_STACK_TRACE => Some("BPF_MAP_TYPE_STACK_TRACE"),
            BPF_MAP_TYPE_CGROUP_ARRAY => Some("BPF_MAP_TYPE_CGROUP_ARRAY"),
            BPF_MAP_TYPE_LRU_HASH => Some("BPF_MAP_TYPE_LRU_HASH"),
            BPF_MAP_TYPE_LRU_PERCPU_HASH => Some("BPF_MAP_TYPE_LRU_PERCPU_HASH"),
            BPF_MAP_TYPE_LPM_TRIE => Some("BPF_MAP_TYPE_LPM_TRIE"),
            BPF_MAP_TYPE_ARRAY_OF_MAPS => Some("BPF_MAP_TYPE_ARRAY_OF_MAPS"),
            BPF_MAP_TYPE_HASH_OF_MAPS => Some("BPF_MAP_TYPE_HASH_OF_MAPS"),
            BPF_MAP_TYPE_DEVMAP => Some("BPF_MAP_TYPE_DEVMAP"),
            BPF_MAP_TYPE_SOCKMAP => Some("BPF_MAP_TYPE_SOCKMAP"),
            BPF_MAP_TYPE_CPUMAP => Some("BPF_MAP_TYPE_CPUMAP"),
            BPF_MAP_TYPE_XSKMAP => Some("BPF_MAP_TYPE_XSKMAP"),
            BPF_MAP_TYPE_SOCKHASH => Some("BPF_MAP_TYPE_SOCKHASH"),
            BPF_MAP_TYPE_CGROUP_STORAGE => Some("BPF_MAP_TYPE_CGROUP_STORAGE"),
            BPF_MAP_TYPE_REUSEPORT_SOCKARRAY => Some("BPF_MAP_TYPE_REUSEPORT_SOCKARRAY"),
            BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE => Some("BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE"),
            BPF_MAP_TYPE_QUEUE => Some("BPF_MAP_TYPE_QUEUE"),
            BPF_MAP_TYPE_STACK => Some("BPF_MAP_TYPE_STACK"),
            BPF_MAP_TYPE_SK_STORAGE => Some("BPF_MAP_TYPE_SK_STORAGE"),
            BPF_MAP_TYPE_DEVMAP_HASH => Some("BPF_MAP_TYPE_DEVMAP_HASH"),
            BPF_MAP_TYPE_STRUCT_OPS => Some("BPF_MAP_TYPE_STRUCT_OPS"),
            BPF_MAP_TYPE_RINGBUF => Some("BPF_MAP_TYPE_RINGBUF"),
            BPF_MAP_TYPE_INODE_STORAGE => Some("BPF_MAP_TYPE_INODE_STORAGE"),
            BPF_MAP_TYPE_TASK_STORAGE => Some("BPF_MAP_TYPE_TASK_STORAGE"),
            BPF_MAP_TYPE_BLOOM_FILTER => Some("BPF_MAP_TYPE_BLOOM_FILTER"),
            BPF_MAP_TYPE_USER_RINGBUF => Some("BPF_MAP_TYPE_USER_RINGBUF"),
            BPF_MAP_TYPE_CGRP_STORAGE => Some("BPF_MAP_TYPE_CGRP_STORAGE"),
            BPF_MAP_TYPE_ARENA => Some("BPF_MAP_TYPE_ARENA"),
            _ => None,
        }
    }
}

/// `enum bpf_attach_type`.
pub mod attach_type {
    pub const BPF_CGROUP_INET_INGRESS: u32 = 0;
    pub const BPF_CGROUP_INET_EGRESS: u32 = 1;
    pub const BPF_CGROUP_INET_SOCK_CREATE: u32 = 2;
    pub const BPF_CGROUP_SOCK_OPS: u32 = 3;
    pub const BPF_SK_SKB_STREAM_PARSER: u32 = 4;
    pub const BPF_SK_SKB_STREAM_VERDICT: u32 = 5;
    pub const BPF_CGROUP_DEVICE: u32 = 6;
    pub const BPF_SK_MSG_VERDICT: u32 = 7;
    pub const BPF_CGROUP_INET4_BIND: u32 = 8;
    pub const BPF_CGROUP_INET6_BIND: u32 = 9;
    pub const BPF_CGROUP_INET4_CONNECT: u32 = 10;
    pub const BPF_CGROUP_INET6_CONNECT: u32 = 11;
    pub const BPF_CGROUP_INET4_POST_BIND: u32 = 12;
    pub const BPF_CGROUP_INET6_POST_BIND: u32 = 13;
    pub const BPF_CGROUP_UDP4_SENDMSG: u32 = 14;
    pub const BPF_CGROUP_UDP6_SENDMSG: u32 = 15;
    pub const BPF_LIRC_MODE2: u32 = 16;
    pub const BPF_FLOW_DISSECTOR: u32 = 17;
    pub const BPF_CGROUP_SYSCTL: u32 = 18;
    pub const BPF_CGROUP_UDP4_RECVMSG: u32 = 19;
    pub const BPF_CGROUP_UDP6_RECVMSG: u32 = 20;
    pub const BPF_CGROUP_GETSOCKOPT: u32 = 21;
    pub const BPF_CGROUP_SETSOCKOPT: u32 = 22;
    pub const BPF_TRACE_RAW_TP: u32 = 23;
    pub const BPF_TRACE_FENTRY: u32 = 24;
    pub const BPF_TRACE_FEXIT: u32 = 25;
    pub const BPF_MODIFY_RETURN: u32 = 26;
    pub const BPF_LSM_MAC: u32 = 27;
    pub const BPF_TRACE_ITER: u32 = 28;
    pub const BPF_CGROUP_INET4_GETPEERNAME: u32 = 29;
    pub const BPF_CGROUP_INET6_GETPEERNAME: u32 = 30;
    pub const BPF_CGROUP_INET4_GETSOCKNAME: u32 = 31;
    pub const BPF_CGROUP_INET6_GETSOCKNAME: u32 = 32;
    pub const BPF_XDP_DEVMAP: u32 = 33;
    pub const BPF_CGROUP_INET_SOCK_RELEASE: u32 = 34;
    pub const BPF_XDP_CPUMAP: u32 = 35;
    pub const BPF_SK_LOOKUP: u32 = 36;
    pub const BPF_XDP: u32 = 37;
    pub const BPF_SK_SKB_VERDICT: u32 = 38;
    pub const BPF_SK_REUSEPORT_SELECT: u32 = 39;
    pub const BPF_SK_REUSEPORT_SELECT_OR_MIGRATE: u32 = 40;
    pub const BPF_PERF_EVENT: u32 = 41;
    pub const BPF_TRACE_KPROBE_MULTI: u32 = 42;
    pub const BPF_LSM_CGROUP: u32 = 43;
    pub const BPF_STRUCT_OPS: u32 = 44;
    pub const BPF_NETFILTER: u32 = 45;
    pub const BPF_TCX_INGRESS: u32 = 46;
    pub const BPF_TCX_EGRESS: u32 = 47;
    pub const BPF_TRACE_UPROBE_MULTI: u32 = 48;
    pub const BPF_CGROUP_UNIX_CONNECT: u32 = 49;
    pub const BPF_CGROUP_UNIX_SENDMSG: u32 = 50;
    pub const BPF_CGROUP_UNIX_RECVMSG: u32 = 51;
    pub const BPF_CGROUP_UNIX_GETPEERNAME: u32 = 52;
    pub const BPF_CGROUP_UNIX_GETSOCKNAME: u32 = 53;
    pub const BPF_NETKIT_PRIMARY: u32 = 54;
    pub const BPF_NETKIT_PEER: u32 = 55;
    pub const BPF_TRACE_KPROBE_SESSION: u32 = 56;
    pub const BPF_TRACE_UPROBE_SESSION: u32 = 57;
    pub const __MAX_BPF_ATTACH_TYPE: u32 = 58;
    /// Name of a value, for messages.
    pub fn name(value: u32) -> Option<&'static str> {
        match value {
            BPF_CGROUP_INET_INGRESS => Some("BPF_CGROUP_INET_INGRESS"),
            BPF_CGROUP_INET_EGRESS => Some("BPF_CGROUP_INET_EGRESS"),
            BPF_CGROUP_INET_SOCK_CREATE => Some("BPF_CGROUP_INET_SOCK_CREATE"),
            BPF_CGROUP_SOCK_OPS => Some("BPF_CGROUP_SOCK_OPS"),
            BPF_SK_SKB_STREAM_PARSER => Some("BPF_SK_SKB_STREAM_PARSER"),
            BPF_SK_SKB_STREAM_VERDICT => Some("BPF_SK_SKB_STREAM_VERDICT"),
            BPF_CGROUP_DEVICE => Some("BPF_CGROUP_DEVICE"),
            BPF_SK_MSG_VERDICT => Some("BPF_SK_MSG_VERDICT"),
            BPF_CGROUP_INET4_BIND => Some("BPF_CGROUP_INET4_BIND"),
            BPF_CGROUP_INET6_BIND => Some("BPF_CGROUP_INET6_BIND"),
            BPF_CGROUP_INET4_CONNECT => Some("BPF_CGROUP_INET4_CONNECT"),
            BPF_CGROUP_INET6_CONNECT => Some("BPF_CGROUP_INET6_CONNECT"),
            BPF_CGROUP_INET4_POST_BIND => Some("BPF_CGROUP_INET4_POST_BIND"),
            BPF_CGROUP_INET6_POST_BIND => Some("BPF_CGROUP_INET6_POST_BIND"),
            BPF_CGROUP_UDP4_SENDMSG => Some("BPF_CGROUP_UDP4_SENDMSG"),
            BPF_CGROUP_UDP6_SENDMSG => Some("BPF_CGROUP_UDP6_SENDMSG"),
            BPF_LIRC_MODE2 => Some("BPF_LIRC_MODE2"),
            BPF_FLOW_DISSECTOR => Some("BPF_FLOW_DISSECTOR"),
            BPF_CGROUP_SYSCTL => Some("BPF_CGROUP_SYSCTL"),
            BPF_CGROUP_UDP4_RECVMSG => Some("BPF_CGROUP_UDP4_RECVMSG"),
            BPF_CGROUP_UDP6_RECVMSG => Some("BPF_CGROUP_UDP6_RECVMSG"),
            BPF_CGROUP_GETSOCKOPT => Some("BPF_CGROUP_GETSOCKOPT"),
            BPF_CGROUP_SETSOCKOPT => Some("BPF_CGROUP_SETSOCKOPT"),
            BPF_TRACE_RAW_TP => Some("BPF_TRACE_RAW_TP"),
            BPF_TRACE_FENTRY => Some("BPF_TRACE_FENTRY"),
            BPF_TRACE_FEXIT => Some("BPF_TRACE_FEXIT"),
            BPF_MODIFY_RETURN => Some("BPF_MODIFY_RETURN"),
            BPF_LSM_MAC => Some("BPF_LSM_MAC"),
            BPF_TRACE_ITER => Some("BPF_TRACE_ITER"),
            BPF_CGROUP_INET4_GETPEERNAME => Some("BPF_CGROUP_INET4_GETPEERNAME"),
            BPF_CGROUP_INET6_GETPEERNAME => Some("BPF_CGROUP_INET6_GETPEERNAME"),
            BPF_CGROUP_INET4_GETSOCKNAME => Some("BPF_CGROUP_INET4_GETSOCKNAME"),
            BPF_CGROUP_INET6_GETSOCKNAME => Some("BPF_CGROUP_INET6_GETSOCKNAME"),
            BPF_XDP_DEVMAP => Some("BPF_XDP_DEVMAP"),
            BPF_CGROUP_INET_SOCK_RELEASE => Some("BPF_CGROUP_INET_SOCK_RELEASE"),
            BPF_XDP_CPUMAP => Some("BPF_XDP_CPUMAP"),
            BPF_SK_LOOKUP => Some("BPF_SK_LOOKUP"),
            BPF_XDP => Some("BPF_XDP"),
            BPF_SK_SKB_VERDICT => Some("BPF_SK_SKB_VERDICT"),
            BPF_SK_REUSEPORT_SELECT => Some("BPF_SK_REUSEPORT_SELECT"),
            BPF_SK_REUSEPORT_SELECT_OR_MIGRATE => Some("BPF_SK_REUSEPORT_SELECT_OR_MIGRATE"),
            BPF_PERF_EVENT => Some("BPF_PERF_EVENT"),
            BPF_TRACE_KPROBE_MULTI => Some("BPF_TRACE_KPROBE_MULTI"),
            BPF_LSM_CGROUP => Some("BPF_LSM_CGROUP"),
            BPF_STRUCT_OPS => Some("BPF_STRUCT_OPS"),
            BPF_NETFILTER => Some("BPF_NETFILTER"),
            BPF_TCX_INGRESS => Some("BPF_TCX_INGRESS"),
            BPF_TCX_EGRESS => Some("BPF_TCX_EGRESS"),
            BPF_TRACE_UPROBE_MULTI => Some("BPF_TRACE_UPROBE_MULTI"),
            BPF_CGROUP_UNIX_CONNECT => Some("BPF_CGROUP_UNIX_CONNECT"),
            BPF_CGROUP_UNIX_SENDMSG => Some("BPF_CGROUP_UNIX_SENDMSG"),
            BPF_CGROUP_UNIX_RECVMSG => Some("BPF_CGROUP_UNIX_RECVMSG"),
            BPF_CGROUP_UNIX_GETPEERNAME => Some("BPF_CGROUP_UNIX_GETPEERNAME"),
            BPF_CGROUP_UNIX_GETSOCKNAME => Some("BPF_CGROUP_UNIX_GETSOCKNAME"),
            BPF_NETKIT_PRIMARY => Some("BPF_NETKIT_PRIMARY"),
            BPF_NETKIT_PEER => Some("BPF_NETKIT_PEER"),
            BPF_TRACE_KPROBE_SESSION => Some("BPF_TRACE_KPROBE_SESSION"),
            BPF_TRACE_UPROBE_SESSION => Some("BPF_TRACE_UPROBE_SESSION"),
            _ => None,
        }
    }
}

/// `enum bpf_link_type`.
pub mod link_type {
    pub const BPF_LINK_TYPE_UNSPEC: u32 = 0;
    pub const BPF_LINK_TYPE_RAW_TRACEPOINT: u32 = 1;
    pub const BPF_LINK_TYPE_TRACING: u32 = 2;
    pub const BPF_LINK_TYPE_CGROUP: u32 = 3;
    pub const BPF_LINK_TYPE_ITER: u32 = 4;
    pub const BPF_LINK_TYPE_NETNS: u32 = 5;
    pub const BPF_LINK_TYPE_XDP: u32 = 6;
    pub const BPF_LINK_TYPE_PERF_EVENT: u32 = 7;
    pub const BPF_LINK_TYPE_KPROBE_MULTI: u32 = 8;
    pub const BPF_LINK_TYPE_STRUCT_OPS: u32 = 9;
    pub const BPF_LINK_TYPE_NETFILTER: u32 = 10;
    pub const BPF_LINK_TYPE_TCX: u32 = 11;
    pub const BPF_LINK_TYPE_UPROBE_MULTI: u32 = 12;
    pub const BPF_LINK_TYPE_NETKIT: u32 = 13;
    pub const BPF_LINK_TYPE_SOCKMAP: u32 = 14;
    pub const __MAX_BPF_LINK_TYPE: u32 = 15;
    /// Name of a value, for messages.
    pub fn name(value: u32) -> Option<&'static str> {
        match value {
            BPF_LINK_TYPE_UNSPEC => Some("BPF_LINK_TYPE_UNSPEC"),
            BPF_LINK_TYPE_RAW_TRACEPOINT => Some("BPF_LINK_TYPE_RAW_TRACEPOINT"),
            BPF_LINK_TYPE_TRACING => Some("BPF_LINK_TYPE_TRACING"),
            BPF_LINK_TYPE_CGROUP => Some("BPF_LINK_TYPE_CGROUP"),
            BPF_LINK_TYPE_ITER => Some("BPF_LINK_TYPE_ITER"),
            BPF_LINK_TYPE_NETNS => Some("BPF_LINK_TYPE_NETNS"),
            BPF_LINK_TYPE_XDP => Some("BPF_LINK_TYPE_XDP"),
            BPF_LINK_TYPE_PERF_EVENT => Some("BPF_LINK_TYPE_PERF_EVENT"),
            BPF_LINK_TYPE_KPROBE_MULTI => Some("BPF_LINK_TYPE_KPROBE_MULTI"),
            BPF_LINK_TYPE_STRUCT_OPS => Some("BPF_LINK_TYPE_STRUCT_OPS"),
            BPF_LINK_TYPE_NETFILTER => Some("BPF_LINK_TYPE_NETFILTER"),
            BPF_LINK_TYPE_TCX => Some("BPF_LINK_TYPE_TCX"),
            BPF_LINK_TYPE_UPROBE_MULTI => Some("BPF_LINK_TYPE_UPROBE_MULTI"),
            BPF_LINK_TYPE_NETKIT => Some("BPF_LINK_TYPE_NETKIT"),
            BPF_LINK_TYPE_SOCKMAP => Some("BPF_LINK_TYPE_SOCKMAP"),
            _ => None,
        }
    }
}

/// `enum bpf_cmd`.
pub mod cmd {
    pub const BPF_MAP_CREATE: u32 = 0;
    pub const BPF_MAP_LOOKUP_ELEM: u32 = 1;
    pub const BPF_MAP_UPDATE_ELEM: u32 = 2;
    pub const BPF_MAP_DELETE_ELEM: u32 = 3;
    pub const BPF_MAP_GET_NEXT_KEY: u32 = 4;
    pub const BPF_PROG_LOAD: u32 = 5;
    pub const BPF_OBJ_PIN: u32 = 6;
    pub const BPF_OBJ_GET: u32 = 7;
    pub const BPF_PROG_ATTACH: u32 = 8;
    pub const BPF_PROG_DETACH: u32 = 9;
    pub const BPF_PROG_TEST_RUN: u32 = 10;
    pub const BPF_PROG_RUN: u32 = 10;
    pub const BPF_PROG_GET_NEXT_ID: u32 = 11;
    pub const BPF_MAP_GET_NEXT_ID: u32 = 12;
    pub const BPF_PROG_GET_FD_BY_ID: u32 = 13;
    pub const BPF_MAP_GET_FD_BY_ID: u32 = 14;
    pub const BPF_OBJ_GET_INFO_BY_FD: u32 = 15;
    pub const BPF_PROG_QUERY: u32 = 16;
    pub const BPF_RAW_TRACEPOINT_OPEN: u32 = 17;
    pub const BPF_BTF_LOAD: u32 = 18;
    pub const BPF_BTF_GET_FD_BY_ID: u32 = 19;
    pub const BPF_TASK_FD_QUERY: u32 = 20;
    pub const BPF_MAP_LOOKUP_AND_DELETE_ELEM: u32 = 21;
    pub const BPF_MAP_FREEZE: u32 = 22;
    pub const BPF_BTF_GET_NEXT_ID: u32 = 23;
    pub const BPF_MAP_LOOKUP_BATCH: u32 = 24;
    pub const BPF_MAP_LOOKUP_AND_DELETE_BATCH: u32 = 25;
    pub const BPF_MAP_UPDATE_BATCH: u32 = 26;
    pub const BPF_MAP_DELETE_BATCH: u32 = 27;
    pub const BPF_LINK_CREATE: u32 = 28;
    pub const BPF_LINK_UPDATE: u32 = 29;
    pub const BPF_LINK_GET_FD_BY_ID: u32 = 30;
    pub const BPF_LINK_GET_NEXT_ID: u32 = 31;
    pub const BPF_ENABLE_STATS: u32 = 32;
    pub const BPF_ITER_CREATE: u32 = 33;
    pub const BPF_LINK_DETACH: u32 = 34;
    pub const BPF_PROG_BIND_MAP: u32 = 35;
    pub const BPF_TOKEN_CREATE: u32 = 36;
    pub const BPF_PROG_STREAM_READ_BY_FD: u32 = 37;
    pub const __MAX_BPF_CMD: u32 = 38;
    /// Name of a value, for messages.
    pub fn name(value: u32) -> Option<&'static str> {
        match value {
            BPF_MAP_CREATE => Some("BPF_MAP_CREATE"),
            BPF_MAP_LOOKUP_ELEM => Some("BPF_MAP_LOOKUP_ELEM"),
            BPF_MAP_UPDATE_ELEM => Some("BPF_MAP_UPDATE_ELEM"),
            BPF_MAP_DELETE_ELEM => Some("BPF_MAP_DELETE_ELEM"),
            BPF_MAP_GET_NEXT_KEY => Some("BPF_MAP_GET_NEXT_KEY"),
            BPF_PROG_LOAD => Some("BPF_PROG_LOAD"),
            BPF_OBJ_PIN => Some("BPF_OBJ_PIN"),
            BPF_OBJ_GET => Some("BPF_OBJ_GET"),
            BPF_PROG_ATTACH => Some("BPF_PROG_ATTACH"),
            BPF_PROG_DETACH => Some("BPF_PROG_DETACH"),
            BPF_PROG_TEST_RUN => Some("BPF_PROG_TEST_RUN"),
            BPF_PROG_GET_NEXT_ID => Some("BPF_PROG_GET_NEXT_ID"),
            BPF_MAP_GET_NEXT_ID => Some("BPF_MAP_GET_NEXT_ID"),
            BPF_PROG_GET_FD_BY_ID => Some("BPF_PROG_GET_FD_BY_ID"),
            BPF_MAP_GET_FD_BY_ID => Some("BPF_MAP_GET_FD_BY_ID"),
            BPF_OBJ_GET_INFO_BY_FD => Some("BPF_OBJ_GET_INFO_BY_FD"),
            BPF_PROG_QUERY => Some("BPF_PROG_QUERY"),
            BPF_RAW_TRACEPOINT_OPEN => Some("BPF_RAW_TRACEPOINT_OPEN"),
            BPF_BTF_LOAD => Some("BPF_BTF_LOAD"),
            BPF_BTF_GET_FD_BY_ID => Some("BPF_BTF_GET_FD_BY_ID"),
            BPF_TASK_FD_QUERY => Some("BPF_TASK_FD_QUERY"),
            BPF_MAP_LOOKUP_AND_DELETE_ELEM => Some("BPF_MAP_LOOKUP_AND_DELETE_ELEM"),
            BPF_MAP_FREEZE => Some("BPF_MAP_FREEZE"),
            BPF_BTF_GET_NEXT_ID => Some("BPF_BTF_GET_NEXT_ID"),
            BPF_MAP_LOOKUP_BATCH => Some("BPF_MAP_LOOKUP_BATCH"),
            BPF_MAP_LOOKUP_AND_DELETE_BATCH => Some("BPF_MAP_LOOKUP_AND_DELETE_BATCH"),
            BPF_MAP_UPDATE_BATCH => Some("BPF_MAP_UPDATE_BATCH"),
            BPF_MAP_DELETE_BATCH => Some("BPF_MAP_DELETE_BATCH"),
            BPF_LINK_CREATE => Some("BPF_LINK_CREATE"),
            BPF_LINK_UPDATE => Some("BPF_LINK_UPDATE"),
            BPF_LINK_GET_FD_BY_ID => Some("BPF_LINK_GET_FD_BY_ID"),
            BPF_LINK_GET_NEXT_ID => Some("BPF_LINK_GET_NEXT_ID"),
            BPF_ENABLE_STATS => Some("BPF_ENABLE_STATS"),
            BPF_ITER_CREATE => Some("BPF_ITER_CREATE"),
            BPF_LINK_DETACH => Some("BPF_LINK_DETACH"),
            BPF_PROG_BIND_MAP => Some("BPF_PROG_BIND_MAP"),
            BPF_TOKEN_CREATE => Some("BPF_TOKEN_CREATE"),
            BPF_PROG_STREAM_READ_BY_FD => Some("BPF_PROG_STREAM_READ_BY_FD"),
            _ => None,
        }
    }
}
