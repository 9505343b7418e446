//! The libbpf `SEC()` naming convention: which program type, expected attach type and load flags a
//! program gets from the name of its ELF section.
//!
//! The table follows libbpf 1.7's `section_defs[]`, in the same order (the first match wins, so
//! longer prefixes precede shorter ones). Three matching rules, as in libbpf:
//! - `"name"`: the section name must be exactly `name`;
//! - `"name/"`: the section name must start with `name/` (the rest is the attach target);
//! - `"name+"`: either exactly `name` or `name/<target>`.
//!
//! A leading `?` (`SEC("?xdp")`) marks the program as not loaded by default.

use crate::consts::*;

/// What a section name says about its programs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SectionDef {
    /// `BPF_PROG_TYPE_*`.
    pub prog_type: u32,
    /// `BPF_*` attach type given at load time, when the section implies one.
    pub expected_attach_type: Option<u32>,
    /// The part after the prefix and its `/`, e.g. `"sched/sched_switch"` for
    /// `tracepoint/sched/sched_switch`; `None` when the section is just the prefix.
    pub attach_target: Option<String>,
    /// `false` for sections written with the `?` prefix.
    pub autoload: bool,
    /// The program may sleep (`BPF_F_SLEEPABLE` is in `flags`).
    pub sleepable: bool,
    /// `BPF_PROG_LOAD` flags implied by the section (`BPF_F_SLEEPABLE`, `BPF_F_XDP_HAS_FRAGS`).
    pub flags: u32,
    /// The libbpf prefix that matched, without its `+`/`/` marker, e.g. `"tp_btf"`, `"xdp.frags"`.
    pub kind: &'static str,
    /// libbpf cookie bits of the matched entry (see [`SecFlags`]).
    pub sec_flags: SecFlags,
}

/// libbpf's per-entry cookie bits (`enum sec_def_flags`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SecFlags(pub u32);

impl SecFlags {
    /// No flags.
    pub const NONE: SecFlags = SecFlags(0);
    /// The expected attach type may be dropped on kernels that do not know it.
    pub const EXP_ATTACH_OPT: SecFlags = SecFlags(1);
    /// Historically attachable through `BPF_PROG_ATTACH`.
    pub const ATTACHABLE: SecFlags = SecFlags(2);
    /// `ATTACHABLE | EXP_ATTACH_OPT`.
    pub const ATTACHABLE_OPT: SecFlags = SecFlags(3);
    /// The attach target is a BTF id (kernel function, tracepoint, another program).
    pub const ATTACH_BTF: SecFlags = SecFlags(4);
    /// Sleepable program.
    pub const SLEEPABLE: SecFlags = SecFlags(8);
    /// XDP program that handles multi-buffer packets.
    pub const XDP_FRAGS: SecFlags = SecFlags(16);
    /// USDT probe (attach type is chosen at attach time).
    pub const USDT: SecFlags = SecFlags(32);

    /// Whether all bits of `other` are set.
    pub const fn contains(self, other: SecFlags) -> bool {
        self.0 & other.0 == other.0
    }

    const fn union(self, other: SecFlags) -> SecFlags {
        SecFlags(self.0 | other.0)
    }
}

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct SectionPattern {
    /// The libbpf pattern, with its trailing `+` or `/` when it has one.
    pub pattern: &'static str,
    /// `BPF_PROG_TYPE_*`.
    pub prog_type: u32,
    /// Expected attach type; libbpf writes 0 for "none", which is also `BPF_CGROUP_INET_INGRESS`,
    /// so the table keeps the distinction explicit.
    pub expected_attach_type: Option<u32>,
    /// Cookie bits.
    pub flags: SecFlags,
}

const fn def(
    pattern: &'static str,
    prog_type: u32,
    attach: Option<u32>,
    flags: SecFlags,
) -> SectionPattern {
    SectionPattern {
        pattern,
        prog_type,
        expected_attach_type: attach,
        flags,
    }
}

const NONE: SecFlags = SecFlags::NONE;
const ATT: SecFlags = SecFlags::ATTACHABLE;
const ATT_OPT: SecFlags = SecFlags::ATTACHABLE_OPT;
const BTF: SecFlags = SecFlags::ATTACH_BTF;
const SLEEP: SecFlags = SecFlags::SLEEPABLE;
const BTF_SLEEP: SecFlags = SecFlags::ATTACH_BTF.union(SecFlags::SLEEPABLE);
const FRAGS: SecFlags = SecFlags::XDP_FRAGS;
const USDT: SecFlags = SecFlags::USDT;
const USDT_SLEEP: SecFlags = SecFlags::USDT.union(SecFlags::SLEEPABLE);

/// libbpf 1.7 `section_defs[]`, in order.
pub static SECTION_TABLE: &[SectionPattern] = &[
    def("socket", BPF_PROG_TYPE_SOCKET_FILTER, None, NONE),
    def(
        "sk_reuseport/migrate",
        BPF_PROG_TYPE_SK_REUSEPORT,
        Some(BPF_SK_REUSEPORT_SELECT_OR_MIGRATE),
        ATT,
    ),
    def(
        "sk_reuseport",
        BPF_PROG_TYPE_SK_REUSEPORT,
        Some(BPF_SK_REUSEPORT_SELECT),
        ATT,
    ),
    def("kprobe+", BPF_PROG_TYPE_KPROBE, None, NONE),
    def("uprobe+", BPF_PROG_TYPE_KPROBE, None, NONE),
    def("uprobe.s+", BPF_PROG_TYPE_KPROBE, None, SLEEP),
    def("kretprobe+", BPF_PROG_TYPE_KPROBE, None, NONE),
    def("uretprobe+", BPF_PROG_TYPE_KPROBE, None, NONE),
    def("uretprobe.s+", BPF_PROG_TYPE_KPROBE, None, SLEEP),
    def(
        "kprobe.multi+",
        BPF_PROG_TYPE_KPROBE,
        Some(BPF_TRACE_KPROBE_MULTI),
        NONE,
    ),
    def(
        "kretprobe.multi+",
        BPF_PROG_TYPE_KPROBE,
        Some(BPF_TRACE_KPROBE_MULTI),
        NONE,
    ),
    def(
        "kprobe.session+",
        BPF_PROG_TYPE_KPROBE,
        Some(BPF_TRACE_KPROBE_SESSION),
        NONE,
    ),
    def(
        "uprobe.multi+",
        BPF_PROG_TYPE_KPROBE,
        Some(BPF_TRACE_UPROBE_MULTI),
        NONE,
    ),
    def(
        "uretprobe.multi+",
        BPF_PROG_TYPE_KPROBE,
        Some(BPF_TRACE_UPROBE_MULTI),
        NONE,
    ),
    def(
        "uprobe.session+",
        BPF_PROG_TYPE_KPROBE,
        Some(BPF_TRACE_UPROBE_SESSION),
        NONE,
    ),
    def(
        "uprobe.multi.s+",
        BPF_PROG_TYPE_KPROBE,
        Some(BPF_TRACE_UPROBE_MULTI),
        SLEEP,
    ),
    def(
        "uretprobe.multi.s+",
        BPF_PROG_TYPE_KPROBE,
        Some(BPF_TRACE_UPROBE_MULTI),
        SLEEP,
    ),
    def(
        "uprobe.session.s+",
        BPF_PROG_TYPE_KPROBE,
        Some(BPF_TRACE_UPROBE_SESSION),
        SLEEP,
    ),
    def("ksyscall+", BPF_PROG_TYPE_KPROBE, None, NONE),
    def("kretsyscall+", BPF_PROG_TYPE_KPROBE, None, NONE),
    def("usdt+", BPF_PROG_TYPE_KPROBE, None, USDT),
    def("usdt.s+", BPF_PROG_TYPE_KPROBE, None, USDT_SLEEP),
    // "tc/ingress" and "tc/egress" are libbpf's aliases of the tcx sections.
    def(
        "tc/ingress",
        BPF_PROG_TYPE_SCHED_CLS,
        Some(BPF_TCX_INGRESS),
        NONE,
    ),
    def(
        "tc/egress",
        BPF_PROG_TYPE_SCHED_CLS,
        Some(BPF_TCX_EGRESS),
        NONE,
    ),
    def(
        "tcx/ingress",
        BPF_PROG_TYPE_SCHED_CLS,
        Some(BPF_TCX_INGRESS),
        NONE,
    ),
    def(
        "tcx/egress",
        BPF_PROG_TYPE_SCHED_CLS,
        Some(BPF_TCX_EGRESS),
        NONE,
    ),
    def("tc", BPF_PROG_TYPE_SCHED_CLS, None, NONE),
    def("classifier", BPF_PROG_TYPE_SCHED_CLS, None, NONE),
    def("action", BPF_PROG_TYPE_SCHED_ACT, None, NONE),
    def(
        "netkit/primary",
        BPF_PROG_TYPE_SCHED_CLS,
        Some(BPF_NETKIT_PRIMARY),
        NONE,
    ),
    def(
        "netkit/peer",
        BPF_PROG_TYPE_SCHED_CLS,
        Some(BPF_NETKIT_PEER),
        NONE,
    ),
    def("tracepoint+", BPF_PROG_TYPE_TRACEPOINT, None, NONE),
    def("tp+", BPF_PROG_TYPE_TRACEPOINT, None, NONE),
    def("raw_tracepoint+", BPF_PROG_TYPE_RAW_TRACEPOINT, None, NONE),
    def("raw_tp+", BPF_PROG_TYPE_RAW_TRACEPOINT, None, NONE),
    def(
        "raw_tracepoint.w+",
        BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE,
        None,
        NONE,
    ),
    def(
        "raw_tp.w+",
        BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE,
        None,
        NONE,
    ),
    def(
        "tp_btf+",
        BPF_PROG_TYPE_TRACING,
        Some(BPF_TRACE_RAW_TP),
        BTF,
    ),
    def(
        "fentry+",
        BPF_PROG_TYPE_TRACING,
        Some(BPF_TRACE_FENTRY),
        BTF,
    ),
    def(
        "fmod_ret+",
        BPF_PROG_TYPE_TRACING,
        Some(BPF_MODIFY_RETURN),
        BTF,
    ),
    def("fexit+", BPF_PROG_TYPE_TRACING, Some(BPF_TRACE_FEXIT), BTF),
    def(
        "fentry.s+",
        BPF_PROG_TYPE_TRACING,
        Some(BPF_TRACE_FENTRY),
        BTF_SLEEP,
    ),
    def(
        "fmod_ret.s+",
        BPF_PROG_TYPE_TRACING,
        Some(BPF_MODIFY_RETURN),
        BTF_SLEEP,
    ),
    def(
        "fexit.s+",
        BPF_PROG_TYPE_TRACING,
        Some(BPF_TRACE_FEXIT),
        BTF_SLEEP,
    ),
    def("freplace+", BPF_PROG_TYPE_EXT, None, BTF),
    def("lsm+", BPF_PROG_TYPE_LSM, Some(BPF_LSM_MAC), BTF),
    def("lsm.s+", BPF_PROG_TYPE_LSM, Some(BPF_LSM_MAC), BTF_SLEEP),
    def("lsm_cgroup+", BPF_PROG_TYPE_LSM, Some(BPF_LSM_CGROUP), BTF),
    def("iter+", BPF_PROG_TYPE_TRACING, Some(BPF_TRACE_ITER), BTF),
    def(
        "iter.s+",
        BPF_PROG_TYPE_TRACING,
        Some(BPF_TRACE_ITER),
        BTF_SLEEP,
    ),
    def("syscall", BPF_PROG_TYPE_SYSCALL, None, SLEEP),
    def(
        "xdp.frags/devmap",
        BPF_PROG_TYPE_XDP,
        Some(BPF_XDP_DEVMAP),
        FRAGS,
    ),
    def("xdp/devmap", BPF_PROG_TYPE_XDP, Some(BPF_XDP_DEVMAP), ATT),
    def(
        "xdp.frags/cpumap",
        BPF_PROG_TYPE_XDP,
        Some(BPF_XDP_CPUMAP),
        FRAGS,
    ),
    def("xdp/cpumap", BPF_PROG_TYPE_XDP, Some(BPF_XDP_CPUMAP), ATT),
    def("xdp.frags", BPF_PROG_TYPE_XDP, Some(BPF_XDP), FRAGS),
    def("xdp", BPF_PROG_TYPE_XDP, Some(BPF_XDP), ATT_OPT),
    def("perf_event", BPF_PROG_TYPE_PERF_EVENT, None, NONE),
    def("lwt_in", BPF_PROG_TYPE_LWT_IN, None, NONE),
    def("lwt_out", BPF_PROG_TYPE_LWT_OUT, None, NONE),
    def("lwt_xmit", BPF_PROG_TYPE_LWT_XMIT, None, NONE),
    def("lwt_seg6local", BPF_PROG_TYPE_LWT_SEG6LOCAL, None, NONE),
    def(
        "sockops",
        BPF_PROG_TYPE_SOCK_OPS,
        Some(BPF_CGROUP_SOCK_OPS),
        ATT_OPT,
    ),
    def(
        "sk_skb/stream_parser",
        BPF_PROG_TYPE_SK_SKB,
        Some(BPF_SK_SKB_STREAM_PARSER),
        ATT_OPT,
    ),
    def(
        "sk_skb/stream_verdict",
        BPF_PROG_TYPE_SK_SKB,
        Some(BPF_SK_SKB_STREAM_VERDICT),
        ATT_OPT,
    ),
    def(
        "sk_skb/verdict",
        BPF_PROG_TYPE_SK_SKB,
        Some(BPF_SK_SKB_VERDICT),
        ATT_OPT,
    ),
    def("sk_skb", BPF_PROG_TYPE_SK_SKB, None, NONE),
    def(
        "sk_msg",
        BPF_PROG_TYPE_SK_MSG,
        Some(BPF_SK_MSG_VERDICT),
        ATT_OPT,
    ),
    def(
        "lirc_mode2",
        BPF_PROG_TYPE_LIRC_MODE2,
        Some(BPF_LIRC_MODE2),
        ATT_OPT,
    ),
    def(
        "flow_dissector",
        BPF_PROG_TYPE_FLOW_DISSECTOR,
        Some(BPF_FLOW_DISSECTOR),
        ATT_OPT,
    ),
    def(
        "cgroup_skb/ingress",
        BPF_PROG_TYPE_CGROUP_SKB,
        Some(BPF_CGROUP_INET_INGRESS),
        ATT_OPT,
    ),
    def(
        "cgroup_skb/egress",
        BPF_PROG_TYPE_CGROUP_SKB,
        Some(BPF_CGROUP_INET_EGRESS),
        ATT_OPT,
    ),
    def("cgroup/skb", BPF_PROG_TYPE_CGROUP_SKB, None, NONE),
    def(
        "cgroup/sock_create",
        BPF_PROG_TYPE_CGROUP_SOCK,
        Some(BPF_CGROUP_INET_SOCK_CREATE),
        ATT,
    ),
    def(
        "cgroup/sock_release",
        BPF_PROG_TYPE_CGROUP_SOCK,
        Some(BPF_CGROUP_INET_SOCK_RELEASE),
        ATT,
    ),
    def(
        "cgroup/sock",
        BPF_PROG_TYPE_CGROUP_SOCK,
        Some(BPF_CGROUP_INET_SOCK_CREATE),
        ATT_OPT,
    ),
    def(
        "cgroup/post_bind4",
        BPF_PROG_TYPE_CGROUP_SOCK,
        Some(BPF_CGROUP_INET4_POST_BIND),
        ATT,
    ),
    def(
        "cgroup/post_bind6",
        BPF_PROG_TYPE_CGROUP_SOCK,
        Some(BPF_CGROUP_INET6_POST_BIND),
        ATT,
    ),
    def(
        "cgroup/bind4",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_INET4_BIND),
        ATT,
    ),
    def(
        "cgroup/bind6",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_INET6_BIND),
        ATT,
    ),
    def(
        "cgroup/connect4",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_INET4_CONNECT),
        ATT,
    ),
    def(
        "cgroup/connect6",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_INET6_CONNECT),
        ATT,
    ),
    def(
        "cgroup/connect_unix",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_UNIX_CONNECT),
        ATT,
    ),
    def(
        "cgroup/sendmsg4",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_UDP4_SENDMSG),
        ATT,
    ),
    def(
        "cgroup/sendmsg6",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_UDP6_SENDMSG),
        ATT,
    ),
    def(
        "cgroup/sendmsg_unix",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_UNIX_SENDMSG),
        ATT,
    ),
    def(
        "cgroup/recvmsg4",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_UDP4_RECVMSG),
        ATT,
    ),
    def(
        "cgroup/recvmsg6",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_UDP6_RECVMSG),
        ATT,
    ),
    def(
        "cgroup/recvmsg_unix",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_UNIX_RECVMSG),
        ATT,
    ),
    def(
        "cgroup/getpeername4",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_INET4_GETPEERNAME),
        ATT,
    ),
    def(
        "cgroup/getpeername6",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_INET6_GETPEERNAME),
        ATT,
    ),
    def(
        "cgroup/getpeername_unix",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_UNIX_GETPEERNAME),
        ATT,
    ),
    def(
        "cgroup/getsockname4",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_INET4_GETSOCKNAME),
        ATT,
    ),
    def(
        "cgroup/getsockname6",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_INET6_GETSOCKNAME),
        ATT,
    ),
    def(
        "cgroup/getsockname_unix",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        Some(BPF_CGROUP_UNIX_GETSOCKNAME),
        ATT,
    ),
    def(
        "cgroup/sysctl",
        BPF_PROG_TYPE_CGROUP_SYSCTL,
        Some(BPF_CGROUP_SYSCTL),
        ATT,
    ),
    def(
        "cgroup/getsockopt",
        BPF_PROG_TYPE_CGROUP_SOCKOPT,
        Some(BPF_CGROUP_GETSOCKOPT),
        ATT,
    ),
    def(
        "cgroup/setsockopt",
        BPF_PROG_TYPE_CGROUP_SOCKOPT,
        Some(BPF_CGROUP_SETSOCKOPT),
        ATT,
    ),
    def(
        "cgroup/dev",
        BPF_PROG_TYPE_CGROUP_DEVICE,
        Some(BPF_CGROUP_DEVICE),
        ATT_OPT,
    ),
    def("struct_ops+", BPF_PROG_TYPE_STRUCT_OPS, None, NONE),
    def("struct_ops.s+", BPF_PROG_TYPE_STRUCT_OPS, None, SLEEP),
    def(
        "sk_lookup",
        BPF_PROG_TYPE_SK_LOOKUP,
        Some(BPF_SK_LOOKUP),
        ATT,
    ),
    def(
        "netfilter",
        BPF_PROG_TYPE_NETFILTER,
        Some(BPF_NETFILTER),
        NONE,
    ),
];

impl SectionPattern {
    /// If `name` matches this row, the attach target part (`Some(None)` when there is none).
    fn matches<'n>(&self, name: &'n str) -> Option<Option<&'n str>> {
        if let Some(prefix) = self.pattern.strip_suffix('+') {
            let rest = name.strip_prefix(prefix)?;
            if rest.is_empty() {
                return Some(None);
            }
            return rest.strip_prefix('/').map(Some);
        }
        if self.pattern.ends_with('/') {
            // No such row today, but libbpf supports it: a mandatory "prefix/target".
            return name.strip_prefix(self.pattern).map(Some);
        }
        (name == self.pattern).then_some(None)
    }

    /// The pattern without its `+` or `/` marker.
    pub fn kind(&self) -> &'static str {
        self.pattern.trim_end_matches(['+', '/'])
    }
}

/// Looks up a section name in the libbpf table; `None` when no row matches.
pub fn parse_section(name: &str) -> Option<SectionDef> {
    let (autoload, name) = match name.strip_prefix('?') {
        Some(rest) => (false, rest),
        None => (true, name),
    };
    SECTION_TABLE.iter().find_map(|row| {
        let target = row.matches(name)?;
        let sleepable = row.flags.contains(SecFlags::SLEEPABLE);
        let mut flags = 0;
        if sleepable {
            flags |= BPF_F_SLEEPABLE;
        }
        if row.flags.contains(SecFlags::XDP_FRAGS) {
            flags |= BPF_F_XDP_HAS_FRAGS;
        }
        Some(SectionDef {
            prog_type: row.prog_type,
            expected_attach_type: row.expected_attach_type,
            attach_target: target.filter(|t| !t.is_empty()).map(str::to_owned),
            autoload,
            sleepable,
            flags,
            kind: row.kind(),
            sec_flags: row.flags,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str) -> SectionDef {
        parse_section(name).unwrap_or_else(|| panic!("{name} should match"))
    }

    #[test]
    fn socket_and_reuseport() {
        assert_eq!(p("socket").prog_type, BPF_PROG_TYPE_SOCKET_FILTER);
        assert!(
            parse_section("socket/foo").is_none(),
            "exact rows take no target"
        );
        let m = p("sk_reuseport/migrate");
        assert_eq!(
            m.expected_attach_type,
            Some(BPF_SK_REUSEPORT_SELECT_OR_MIGRATE)
        );
        assert_eq!(
            p("sk_reuseport").expected_attach_type,
            Some(BPF_SK_REUSEPORT_SELECT)
        );
    }

    #[test]
    fn kprobe_family() {
        let k = p("kprobe/do_sys_open");
        assert_eq!((k.prog_type, k.kind), (BPF_PROG_TYPE_KPROBE, "kprobe"));
        assert_eq!(k.attach_target.as_deref(), Some("do_sys_open"));
        assert_eq!(p("kprobe").attach_target, None);
        assert!(
            parse_section("kprobex").is_none(),
            "a '+' row needs '/' after the prefix"
        );
        assert_eq!(p("kretprobe/x").kind, "kretprobe");
        assert_eq!(p("uprobe.s/bin:fn").flags, BPF_F_SLEEPABLE);
        assert!(p("uretprobe.s/bin:fn").sleepable);
        assert_eq!(
            p("kprobe.multi/vfs_*").expected_attach_type,
            Some(BPF_TRACE_KPROBE_MULTI)
        );
        assert_eq!(p("kretprobe.multi/vfs_*").kind, "kretprobe.multi");
        assert_eq!(
            p("kprobe.session/f").expected_attach_type,
            Some(BPF_TRACE_KPROBE_SESSION)
        );
        assert_eq!(
            p("uprobe.multi/b:f").expected_attach_type,
            Some(BPF_TRACE_UPROBE_MULTI)
        );
        assert!(p("uprobe.multi.s/b:f").sleepable);
        assert!(p("uretprobe.multi.s/b:f").sleepable);
        assert_eq!(
            p("uprobe.session/b:f").expected_attach_type,
            Some(BPF_TRACE_UPROBE_SESSION)
        );
        assert!(p("uprobe.session.s/b:f").sleepable);
        assert_eq!(p("ksyscall/openat").kind, "ksyscall");
        assert_eq!(p("kretsyscall/openat").kind, "kretsyscall");
        assert!(p("usdt/bin:prov:name").sec_flags.contains(SecFlags::USDT));
        assert!(p("usdt.s/bin:prov:name").sleepable);
    }

    #[test]
    fn tc_family() {
        assert_eq!(p("tc/ingress").expected_attach_type, Some(BPF_TCX_INGRESS));
        assert_eq!(p("tc/egress").expected_attach_type, Some(BPF_TCX_EGRESS));
        assert_eq!(p("tcx/ingress").expected_attach_type, Some(BPF_TCX_INGRESS));
        assert_eq!(p("tcx/egress").expected_attach_type, Some(BPF_TCX_EGRESS));
        let tc = p("tc");
        assert_eq!(
            (tc.prog_type, tc.expected_attach_type),
            (BPF_PROG_TYPE_SCHED_CLS, None)
        );
        assert_eq!(p("classifier").prog_type, BPF_PROG_TYPE_SCHED_CLS);
        assert_eq!(p("action").prog_type, BPF_PROG_TYPE_SCHED_ACT);
        assert_eq!(
            p("netkit/primary").expected_attach_type,
            Some(BPF_NETKIT_PRIMARY)
        );
        assert_eq!(p("netkit/peer").expected_attach_type, Some(BPF_NETKIT_PEER));
        assert!(parse_section("tc/other").is_none());
    }

    #[test]
    fn tracepoints() {
        let tp = p("tracepoint/sched/sched_switch");
        assert_eq!(tp.prog_type, BPF_PROG_TYPE_TRACEPOINT);
        assert_eq!(tp.attach_target.as_deref(), Some("sched/sched_switch"));
        assert_eq!(p("tp/syscalls/sys_enter_getpid").kind, "tp");
        assert_eq!(
            p("raw_tracepoint/sched_switch").prog_type,
            BPF_PROG_TYPE_RAW_TRACEPOINT
        );
        assert_eq!(p("raw_tp/sched_switch").kind, "raw_tp");
        assert_eq!(
            p("raw_tracepoint.w/x").prog_type,
            BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE
        );
        assert_eq!(
            p("raw_tp.w/x").prog_type,
            BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE
        );
        let btf = p("tp_btf/sched_switch");
        assert_eq!(
            (btf.prog_type, btf.expected_attach_type),
            (BPF_PROG_TYPE_TRACING, Some(BPF_TRACE_RAW_TP))
        );
        assert!(btf.sec_flags.contains(SecFlags::ATTACH_BTF));
    }

    #[test]
    fn tracing_and_lsm() {
        assert_eq!(
            p("fentry/do_unlinkat").expected_attach_type,
            Some(BPF_TRACE_FENTRY)
        );
        assert_eq!(
            p("fmod_ret/x").expected_attach_type,
            Some(BPF_MODIFY_RETURN)
        );
        assert_eq!(p("fexit/x").expected_attach_type, Some(BPF_TRACE_FEXIT));
        for s in [
            "fentry.s/x",
            "fmod_ret.s/x",
            "fexit.s/x",
            "lsm.s/file_open",
            "iter.s/task",
        ] {
            let d = p(s);
            assert!(d.sleepable && d.flags == BPF_F_SLEEPABLE, "{s}");
        }
        assert_eq!(p("freplace/handler").prog_type, BPF_PROG_TYPE_EXT);
        assert_eq!(p("lsm/file_open").expected_attach_type, Some(BPF_LSM_MAC));
        assert_eq!(
            p("lsm_cgroup/socket_bind").expected_attach_type,
            Some(BPF_LSM_CGROUP)
        );
        assert_eq!(p("iter/task").expected_attach_type, Some(BPF_TRACE_ITER));
        let sys = p("syscall");
        assert!(sys.sleepable && sys.prog_type == BPF_PROG_TYPE_SYSCALL);
        assert_eq!(p("struct_ops/init").prog_type, BPF_PROG_TYPE_STRUCT_OPS);
        assert_eq!(p("struct_ops").attach_target, None);
        assert!(p("struct_ops.s/x").sleepable);
    }

    #[test]
    fn xdp_family() {
        let x = p("xdp");
        assert_eq!(
            (x.expected_attach_type, x.flags, x.sec_flags),
            (Some(BPF_XDP), 0, SecFlags::ATTACHABLE_OPT)
        );
        let f = p("xdp.frags");
        assert_eq!(
            (f.expected_attach_type, f.flags),
            (Some(BPF_XDP), BPF_F_XDP_HAS_FRAGS)
        );
        assert_eq!(p("xdp/devmap").expected_attach_type, Some(BPF_XDP_DEVMAP));
        assert_eq!(p("xdp/cpumap").expected_attach_type, Some(BPF_XDP_CPUMAP));
        assert_eq!(p("xdp.frags/devmap").flags, BPF_F_XDP_HAS_FRAGS);
        assert_eq!(p("xdp.frags/cpumap").kind, "xdp.frags/cpumap");
        assert!(parse_section("xdp/other").is_none());
    }

    #[test]
    fn networking_misc() {
        assert_eq!(p("perf_event").prog_type, BPF_PROG_TYPE_PERF_EVENT);
        assert_eq!(p("lwt_in").prog_type, BPF_PROG_TYPE_LWT_IN);
        assert_eq!(p("lwt_out").prog_type, BPF_PROG_TYPE_LWT_OUT);
        assert_eq!(p("lwt_xmit").prog_type, BPF_PROG_TYPE_LWT_XMIT);
        assert_eq!(p("lwt_seg6local").prog_type, BPF_PROG_TYPE_LWT_SEG6LOCAL);
        assert_eq!(p("sockops").expected_attach_type, Some(BPF_CGROUP_SOCK_OPS));
        assert_eq!(
            p("sk_skb/stream_parser").expected_attach_type,
            Some(BPF_SK_SKB_STREAM_PARSER)
        );
        assert_eq!(
            p("sk_skb/stream_verdict").expected_attach_type,
            Some(BPF_SK_SKB_STREAM_VERDICT)
        );
        assert_eq!(
            p("sk_skb/verdict").expected_attach_type,
            Some(BPF_SK_SKB_VERDICT)
        );
        assert_eq!(p("sk_skb").expected_attach_type, None);
        assert_eq!(p("sk_msg").expected_attach_type, Some(BPF_SK_MSG_VERDICT));
        assert_eq!(p("lirc_mode2").expected_attach_type, Some(BPF_LIRC_MODE2));
        assert_eq!(
            p("flow_dissector").expected_attach_type,
            Some(BPF_FLOW_DISSECTOR)
        );
        assert_eq!(p("sk_lookup").expected_attach_type, Some(BPF_SK_LOOKUP));
        assert_eq!(p("netfilter").expected_attach_type, Some(BPF_NETFILTER));
    }

    #[test]
    fn cgroup_family() {
        let expect = [
            (
                "cgroup_skb/ingress",
                BPF_PROG_TYPE_CGROUP_SKB,
                Some(BPF_CGROUP_INET_INGRESS),
            ),
            (
                "cgroup_skb/egress",
                BPF_PROG_TYPE_CGROUP_SKB,
                Some(BPF_CGROUP_INET_EGRESS),
            ),
            ("cgroup/skb", BPF_PROG_TYPE_CGROUP_SKB, None),
            (
                "cgroup/sock_create",
                BPF_PROG_TYPE_CGROUP_SOCK,
                Some(BPF_CGROUP_INET_SOCK_CREATE),
            ),
            (
                "cgroup/sock_release",
                BPF_PROG_TYPE_CGROUP_SOCK,
                Some(BPF_CGROUP_INET_SOCK_RELEASE),
            ),
            (
                "cgroup/sock",
                BPF_PROG_TYPE_CGROUP_SOCK,
                Some(BPF_CGROUP_INET_SOCK_CREATE),
            ),
            (
                "cgroup/post_bind4",
                BPF_PROG_TYPE_CGROUP_SOCK,
                Some(BPF_CGROUP_INET4_POST_BIND),
            ),
            (
                "cgroup/post_bind6",
                BPF_PROG_TYPE_CGROUP_SOCK,
                Some(BPF_CGROUP_INET6_POST_BIND),
            ),
            (
                "cgroup/bind4",
                BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                Some(BPF_CGROUP_INET4_BIND),
            ),
            (
                "cgroup/bind6",
                BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                Some(BPF_CGROUP_INET6_BIND),
            ),
            (
                "cgroup/connect4",
                BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                Some(BPF_CGROUP_INET4_CONNECT),
            ),
            (
                "cgroup/connect6",
                BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                Some(BPF_CGROUP_INET6_CONNECT),
            ),
            (
                "cgroup/connect_unix",
                BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                Some(BPF_CGROUP_UNIX_CONNECT),
            ),
            (
                "cgroup/sendmsg4",
                BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                Some(BPF_CGROUP_UDP4_SENDMSG),
            ),
            (
                "cgroup/sendmsg6",
                BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                Some(BPF_CGROUP_UDP6_SENDMSG),
            ),
            (
                "cgroup/sendmsg_unix",
                BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                Some(BPF_CGROUP_UNIX_SENDMSG),
            ),
            (
                "cgroup/recvmsg4",
                BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                Some(BPF_CGROUP_UDP4_RECVMSG),
            ),
            (
                "cgroup/recvmsg6",
                BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                Some(BPF_CGROUP_UDP6_RECVMSG),
            ),
            (
                "cgroup/recvmsg_unix",
                BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                Some(BPF_CGROUP_UNIX_RECVMSG),
            ),
            (
                "cgroup/getpeername4",
                BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                Some(BPF_CGROUP_INET4_GETPEERNAME),
            ),
            (
                "cgroup/getpeername6",
                BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                Some(BPF_CGROUP_INET6_GETPEERNAME),
            ),
            (
                "cgroup/getpeername_unix",
                BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                Some(BPF_CGROUP_UNIX_GETPEERNAME),
            ),
            (
                "cgroup/getsockname4",
                BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                Some(BPF_CGROUP_INET4_GETSOCKNAME),
            ),
            (
                "cgroup/getsockname6",
                BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                Some(BPF_CGROUP_INET6_GETSOCKNAME),
            ),
            (
                "cgroup/getsockname_unix",
                BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                Some(BPF_CGROUP_UNIX_GETSOCKNAME),
            ),
            (
                "cgroup/sysctl",
                BPF_PROG_TYPE_CGROUP_SYSCTL,
                Some(BPF_CGROUP_SYSCTL),
            ),
            (
                "cgroup/getsockopt",
                BPF_PROG_TYPE_CGROUP_SOCKOPT,
                Some(BPF_CGROUP_GETSOCKOPT),
            ),
            (
                "cgroup/setsockopt",
                BPF_PROG_TYPE_CGROUP_SOCKOPT,
                Some(BPF_CGROUP_SETSOCKOPT),
            ),
            (
                "cgroup/dev",
                BPF_PROG_TYPE_CGROUP_DEVICE,
                Some(BPF_CGROUP_DEVICE),
            ),
        ];
        for (name, prog_type, attach) in expect {
            let d = p(name);
            assert_eq!(
                (d.prog_type, d.expected_attach_type, d.kind),
                (prog_type, attach, name),
                "{name}"
            );
        }
    }

    #[test]
    fn non_autoload_prefix_and_unknown() {
        let d = p("?xdp");
        assert!(!d.autoload);
        assert_eq!(d.prog_type, BPF_PROG_TYPE_XDP);
        assert!(p("xdp").autoload);
        let t = p("?tracepoint/sched/sched_switch");
        assert_eq!(t.attach_target.as_deref(), Some("sched/sched_switch"));
        assert!(parse_section("").is_none());
        assert!(parse_section("?").is_none());
        assert!(parse_section("my_custom_section").is_none());
        assert!(parse_section(".text").is_none());
    }

    #[test]
    fn first_match_wins() {
        // "sk_reuseport/migrate" precedes "sk_reuseport", "xdp.frags/devmap" precedes "xdp.frags",
        // and "uprobe.s" must not be taken for "uprobe" + garbage.
        assert_eq!(p("uprobe.s/b:f").kind, "uprobe.s");
        assert_eq!(p("uprobe/b:f").kind, "uprobe");
        assert_eq!(p("xdp.frags/devmap").kind, "xdp.frags/devmap");
        assert_eq!(p("iter.s/task").kind, "iter.s");
    }
}
