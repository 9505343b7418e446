//! Kernel UAPI constants the library and programs need (values from the kernel's `bpf.h`,
//! `pkt_cls.h` and `if_ether.h`).

/// `BPF_MAP_TYPE_HASH`.
pub const BPF_MAP_TYPE_HASH: usize = 1;
/// `BPF_MAP_TYPE_ARRAY`.
pub const BPF_MAP_TYPE_ARRAY: usize = 2;
/// `BPF_MAP_TYPE_PROG_ARRAY`.
pub const BPF_MAP_TYPE_PROG_ARRAY: usize = 3;
/// `BPF_MAP_TYPE_PERCPU_ARRAY`.
pub const BPF_MAP_TYPE_PERCPU_ARRAY: usize = 6;
/// `BPF_MAP_TYPE_LRU_HASH`.
pub const BPF_MAP_TYPE_LRU_HASH: usize = 9;
/// `BPF_MAP_TYPE_RINGBUF`.
pub const BPF_MAP_TYPE_RINGBUF: usize = 27;

/// `BPF_ANY`: create or update.
pub const BPF_ANY: u64 = 0;
/// `BPF_NOEXIST`: create only.
pub const BPF_NOEXIST: u64 = 1;
/// `BPF_EXIST`: update only.
pub const BPF_EXIST: u64 = 2;

/// XDP verdicts.
pub mod xdp_action {
    /// Drop with a trace event.
    pub const XDP_ABORTED: u32 = 0;
    /// Drop.
    pub const XDP_DROP: u32 = 1;
    /// Let the packet continue to the network stack.
    pub const XDP_PASS: u32 = 2;
    /// Send back out of the same interface.
    pub const XDP_TX: u32 = 3;
    /// Redirect (after `bpf_redirect*`).
    pub const XDP_REDIRECT: u32 = 4;
}

/// TC classifier verdicts (`TC_ACT_*`; TCX uses the same values for pass and drop).
pub mod tc_action {
    /// Use the default action of the qdisc.
    pub const TC_ACT_UNSPEC: i32 = -1;
    /// Let the packet through.
    pub const TC_ACT_OK: i32 = 0;
    /// Drop.
    pub const TC_ACT_SHOT: i32 = 2;
    /// Redirect (after `bpf_redirect`).
    pub const TC_ACT_REDIRECT: i32 = 7;
}

/// `ETH_P_IP`, in host order.
pub const ETH_P_IP: u16 = 0x0800;
/// `ETH_P_IPV6`, in host order.
pub const ETH_P_IPV6: u16 = 0x86DD;
/// `IPPROTO_UDP`.
pub const IPPROTO_UDP: u8 = 17;
