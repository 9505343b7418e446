//! The program kinds: attribute name, libbpf section prefix, context type and return type.
//!
//! The section prefixes are those of libbpf's `section_defs` (the `SEC()` names bpftool and
//! bpfkit-obj's `section` module recognise); each macro emits the canonical spelling.

/// What follows the section prefix.
pub enum Target {
    /// Nothing: the section is the prefix alone.
    None,
    /// `prefix/<target>`, required; the string says what the target is.
    Required(&'static str),
    /// `prefix/<target>` when given, else the bare prefix (the caller names the target at attach).
    Optional,
    /// `prefix/<choice>` with one of these choices.
    OneOf(&'static [&'static str]),
}

/// One program macro.
pub struct ProgramKind {
    /// The attribute's name, e.g. `xdp`.
    pub attribute: &'static str,
    /// The libbpf section prefix, e.g. `tracepoint`.
    pub section: &'static str,
    /// What may follow the prefix.
    pub target: Target,
    /// An example target, for the error message when it is missing.
    pub example: &'static str,
    /// The context type in `bpfkit_ebpf::programs`.
    pub context: &'static str,
    /// The entry point's return type.
    pub return_type: &'static str,
}

const fn kind(
    attribute: &'static str,
    section: &'static str,
    target: Target,
    example: &'static str,
    context: &'static str,
    return_type: &'static str,
) -> ProgramKind {
    ProgramKind {
        attribute,
        section,
        target,
        example,
        context,
        return_type,
    }
}

/// Every program macro.
pub static KINDS: &[ProgramKind] = &[
    kind("xdp", "xdp", Target::None, "", "XdpContext", "u32"),
    kind("classifier", "tc", Target::None, "", "TcContext", "i32"),
    kind(
        "socket_filter",
        "socket",
        Target::None,
        "",
        "SkBuffContext",
        "i64",
    ),
    kind(
        "tracepoint",
        "tracepoint",
        Target::Required("tracepoint category/name"),
        "syscalls/sys_enter_openat",
        "TracePointContext",
        "u32",
    ),
    kind(
        "raw_tracepoint",
        "raw_tp",
        Target::Required("tracepoint name"),
        "sys_enter",
        "RawTracePointContext",
        "i32",
    ),
    kind(
        "btf_tracepoint",
        "tp_btf",
        Target::Required("tracepoint name"),
        "sched_switch",
        "BtfTracePointContext",
        "i32",
    ),
    kind(
        "kprobe",
        "kprobe",
        Target::Optional,
        "do_unlinkat",
        "ProbeContext",
        "u32",
    ),
    kind(
        "kretprobe",
        "kretprobe",
        Target::Optional,
        "do_unlinkat",
        "ProbeContext",
        "u32",
    ),
    kind(
        "uprobe",
        "uprobe",
        Target::Optional,
        "/usr/bin/bash:readline",
        "ProbeContext",
        "u32",
    ),
    kind(
        "uretprobe",
        "uretprobe",
        Target::Optional,
        "/usr/bin/bash:readline",
        "ProbeContext",
        "u32",
    ),
    kind(
        "fentry",
        "fentry",
        Target::Required("kernel function"),
        "do_unlinkat",
        "BtfTracePointContext",
        "i32",
    ),
    kind(
        "fexit",
        "fexit",
        Target::Required("kernel function"),
        "do_unlinkat",
        "BtfTracePointContext",
        "i32",
    ),
    kind(
        "lsm",
        "lsm",
        Target::Required("LSM hook"),
        "file_open",
        "BtfTracePointContext",
        "i32",
    ),
    kind(
        "perf_event",
        "perf_event",
        Target::None,
        "",
        "PerfEventContext",
        "u32",
    ),
    kind(
        "cgroup_skb",
        "cgroup_skb",
        Target::OneOf(&["ingress", "egress"]),
        "ingress",
        "SkBuffContext",
        "i32",
    ),
    kind(
        "cgroup_sock",
        "cgroup",
        Target::OneOf(&["sock_create", "sock_release", "post_bind4", "post_bind6"]),
        "sock_create",
        "SockContext",
        "i32",
    ),
    kind(
        "cgroup_sock_addr",
        "cgroup",
        Target::OneOf(&[
            "bind4",
            "bind6",
            "connect4",
            "connect6",
            "connect_unix",
            "sendmsg4",
            "sendmsg6",
            "sendmsg_unix",
            "recvmsg4",
            "recvmsg6",
            "recvmsg_unix",
            "getpeername4",
            "getpeername6",
            "getpeername_unix",
            "getsockname4",
            "getsockname6",
            "getsockname_unix",
        ]),
        "connect4",
        "SockAddrContext",
        "i32",
    ),
    kind(
        "cgroup_sockopt",
        "cgroup",
        Target::OneOf(&["getsockopt", "setsockopt"]),
        "getsockopt",
        "SockoptContext",
        "i32",
    ),
    kind(
        "cgroup_sysctl",
        "cgroup/sysctl",
        Target::None,
        "",
        "SysctlContext",
        "i32",
    ),
    kind(
        "cgroup_device",
        "cgroup/dev",
        Target::None,
        "",
        "DeviceContext",
        "i32",
    ),
    kind(
        "sock_ops",
        "sockops",
        Target::None,
        "",
        "SockOpsContext",
        "u32",
    ),
    kind("sk_msg", "sk_msg", Target::None, "", "SkMsgContext", "u32"),
    kind(
        "stream_parser",
        "sk_skb/stream_parser",
        Target::None,
        "",
        "SkBuffContext",
        "u32",
    ),
    kind(
        "stream_verdict",
        "sk_skb/stream_verdict",
        Target::None,
        "",
        "SkBuffContext",
        "u32",
    ),
    kind(
        "sk_lookup",
        "sk_lookup",
        Target::None,
        "",
        "SkLookupContext",
        "u32",
    ),
    kind(
        "flow_dissector",
        "flow_dissector",
        Target::None,
        "",
        "FlowDissectorContext",
        "u32",
    ),
    kind(
        "iter",
        "iter",
        Target::Required("iterator target"),
        "task",
        "IterContext",
        "i32",
    ),
];

/// The entry for an attribute name.
pub fn find(attribute: &str) -> Option<&'static ProgramKind> {
    KINDS.iter().find(|kind| kind.attribute == attribute)
}
