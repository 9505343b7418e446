//! Our own `#[repr(C)]` definitions of the parts of the kernel's BPF UAPI that bpfkit uses.
//!
//! Layouts follow `union bpf_attr`, `struct bpf_prog_info`, `struct bpf_map_info` and
//! `struct bpf_link_info` of Linux 6.18 (checked against the running kernel's BTF). Debian's
//! 6.1 headers are deliberately not used: they lack TCX, netkit, BPF tokens and arenas.
//!
//! Every attribute struct spells out its padding as named `_pad*` fields, so that every byte we
//! hand to the kernel is initialised (the kernel rejects non-zero bytes it does not know about),
//! and ends at the end of its command's member of `union bpf_attr`, rounded up to 8 bytes. The
//! kernel zero-extends a shorter attribute to its own `sizeof(union bpf_attr)`, so each command
//! passes only its own struct.
//!
//! Pointers travel as `u64` (`__aligned_u64` in the UAPI); the safe wrappers in [`crate::sys`]
//! are what guarantees they point at live buffers of the announced size.

pub use bpfkit_obj::consts::BPF_OBJ_NAME_LEN;

/// Length of a program tag (`BPF_TAG_SIZE`).
pub const BPF_TAG_SIZE: usize = 8;

/// Marker for the attribute structs accepted by [`crate::sys::bpf`].
///
/// # Safety
///
/// Implementors must be `#[repr(C)]`, contain no implicit padding (every byte is a named field,
/// so none is left uninitialised) and match the kernel's layout for the commands they are used
/// with.
pub unsafe trait Attr: Sized {}

/// Marker for the info structs filled by `BPF_OBJ_GET_INFO_BY_FD`.
///
/// # Safety
///
/// Same contract as [`Attr`]; in addition every byte pattern must be a valid value, since the
/// kernel writes into it.
pub unsafe trait Info: Sized + Default {}

/// `BPF_MAP_CREATE` attributes.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
#[allow(missing_docs)]
pub struct MapCreateAttr {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub inner_map_fd: u32,
    pub numa_node: u32,
    pub map_name: [u8; BPF_OBJ_NAME_LEN],
    pub map_ifindex: u32,
    pub btf_fd: u32,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
    pub btf_vmlinux_value_type_id: u32,
    pub map_extra: u64,
    pub value_type_btf_obj_fd: i32,
    pub map_token_fd: i32,
    pub excl_prog_hash: u64,
    pub excl_prog_hash_size: u32,
    pub _pad0: u32,
}

/// Attributes of the element commands: `BPF_MAP_LOOKUP_ELEM`, `BPF_MAP_UPDATE_ELEM`,
/// `BPF_MAP_DELETE_ELEM`, `BPF_MAP_GET_NEXT_KEY`, `BPF_MAP_LOOKUP_AND_DELETE_ELEM` and
/// `BPF_MAP_FREEZE`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
#[allow(missing_docs)]
pub struct MapElemAttr {
    pub map_fd: u32,
    pub _pad0: u32,
    pub key: u64,
    /// `value` or `next_key`, depending on the command.
    pub value_or_next_key: u64,
    pub flags: u64,
}

/// Attributes of the `BPF_MAP_*_BATCH` commands.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
#[allow(missing_docs)]
pub struct MapBatchAttr {
    pub in_batch: u64,
    pub out_batch: u64,
    pub keys: u64,
    pub values: u64,
    pub count: u32,
    pub map_fd: u32,
    pub elem_flags: u64,
    pub flags: u64,
}

/// `BPF_PROG_LOAD` attributes.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
#[allow(missing_docs)]
pub struct ProgLoadAttr {
    pub prog_type: u32,
    pub insn_cnt: u32,
    pub insns: u64,
    pub license: u64,
    pub log_level: u32,
    pub log_size: u32,
    pub log_buf: u64,
    pub kern_version: u32,
    pub prog_flags: u32,
    pub prog_name: [u8; BPF_OBJ_NAME_LEN],
    pub prog_ifindex: u32,
    pub expected_attach_type: u32,
    pub prog_btf_fd: u32,
    pub func_info_rec_size: u32,
    pub func_info: u64,
    pub func_info_cnt: u32,
    pub line_info_rec_size: u32,
    pub line_info: u64,
    pub line_info_cnt: u32,
    pub attach_btf_id: u32,
    /// `attach_prog_fd` or `attach_btf_obj_fd` (a union in the UAPI).
    pub attach_fd: u32,
    pub core_relo_cnt: u32,
    pub fd_array: u64,
    pub core_relos: u64,
    pub core_relo_rec_size: u32,
    /// Output (6.4+): the log size the whole verifier log needs, NUL included.
    pub log_true_size: u32,
    pub prog_token_fd: i32,
    pub fd_array_cnt: u32,
    pub signature: u64,
    pub signature_size: u32,
    pub keyring_id: i32,
}

/// `BPF_OBJ_PIN` / `BPF_OBJ_GET` attributes.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
#[allow(missing_docs)]
pub struct ObjAttr {
    pub pathname: u64,
    pub bpf_fd: u32,
    pub file_flags: u32,
    pub path_fd: i32,
    pub _pad0: u32,
}

/// `BPF_PROG_ATTACH` / `BPF_PROG_DETACH` attributes.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
#[allow(missing_docs)]
pub struct ProgAttachAttr {
    /// `target_fd` or `target_ifindex`.
    pub target: u32,
    pub attach_bpf_fd: u32,
    pub attach_type: u32,
    pub attach_flags: u32,
    pub replace_bpf_fd: u32,
    /// `relative_fd` or `relative_id`.
    pub relative: u32,
    pub expected_revision: u64,
}

/// `BPF_PROG_TEST_RUN` attributes.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
#[allow(missing_docs)]
pub struct TestRunAttr {
    pub prog_fd: u32,
    pub retval: u32,
    pub data_size_in: u32,
    pub data_size_out: u32,
    pub data_in: u64,
    pub data_out: u64,
    pub repeat: u32,
    pub duration: u32,
    pub ctx_size_in: u32,
    pub ctx_size_out: u32,
    pub ctx_in: u64,
    pub ctx_out: u64,
    pub flags: u32,
    pub cpu: u32,
    pub batch_size: u32,
    pub _pad0: u32,
}

/// Attributes of `BPF_*_GET_NEXT_ID` and `BPF_*_GET_FD_BY_ID`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
#[allow(missing_docs)]
pub struct GetIdAttr {
    /// `start_id`, `prog_id`, `map_id`, `btf_id` or `link_id`.
    pub id: u32,
    pub next_id: u32,
    pub open_flags: u32,
    pub fd_by_id_token_fd: i32,
}

/// `BPF_OBJ_GET_INFO_BY_FD` attributes.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
#[allow(missing_docs)]
pub struct InfoAttr {
    pub bpf_fd: u32,
    pub info_len: u32,
    pub info: u64,
}

/// `BPF_PROG_QUERY` attributes.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
#[allow(missing_docs)]
pub struct QueryAttr {
    /// `target_fd` or `target_ifindex`.
    pub target: u32,
    pub attach_type: u32,
    pub query_flags: u32,
    pub attach_flags: u32,
    pub prog_ids: u64,
    /// `prog_cnt` / `count`: capacity in, number of programs out.
    pub count: u32,
    pub _pad0: u32,
    pub prog_attach_flags: u64,
    pub link_ids: u64,
    pub link_attach_flags: u64,
    pub revision: u64,
}

/// `BPF_BTF_LOAD` attributes.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
#[allow(missing_docs)]
pub struct BtfLoadAttr {
    pub btf: u64,
    pub btf_log_buf: u64,
    pub btf_size: u32,
    pub btf_log_size: u32,
    pub btf_log_level: u32,
    pub btf_log_true_size: u32,
    pub btf_flags: u32,
    pub btf_token_fd: i32,
}

/// `link_create.tcx`, `link_create.netkit` and `link_create.cgroup`: a position relative to
/// another program or link, and the expected revision of the attachment list.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
#[allow(missing_docs)]
pub struct LinkRelativeExtra {
    /// `relative_fd` or `relative_id`.
    pub relative: u32,
    pub _pad0: u32,
    pub expected_revision: u64,
}

/// `link_create.perf_event`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
#[allow(missing_docs)]
pub struct LinkPerfEventExtra {
    pub bpf_cookie: u64,
}

/// `link_create.tracing`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
#[allow(missing_docs)]
pub struct LinkTracingExtra {
    pub target_btf_id: u32,
    pub _pad0: u32,
    pub cookie: u64,
}

/// `link_create.netfilter`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
#[allow(missing_docs)]
pub struct LinkNetfilterExtra {
    pub pf: u32,
    pub hooknum: u32,
    pub priority: i32,
    pub flags: u32,
}

/// The anonymous `struct { iter_info; iter_info_len; }` of `link_create`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
#[allow(missing_docs)]
pub struct LinkIterExtra {
    pub iter_info: u64,
    pub iter_info_len: u32,
    pub _pad0: u32,
}

/// `link_create.kprobe_multi`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
#[allow(missing_docs)]
pub struct LinkKprobeMultiExtra {
    pub flags: u32,
    pub cnt: u32,
    pub syms: u64,
    pub addrs: u64,
    pub cookies: u64,
}

/// `link_create.uprobe_multi`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
#[allow(missing_docs)]
pub struct LinkUprobeMultiExtra {
    pub path: u64,
    pub offsets: u64,
    pub ref_ctr_offsets: u64,
    pub cookies: u64,
    pub cnt: u32,
    pub flags: u32,
    pub pid: u32,
    pub _pad0: u32,
}

/// The per-attach-type union at the end of `link_create`.
///
/// `raw` covers the whole union, so starting from `raw: [0; 6]` and then assigning one variant
/// leaves every other byte zero.
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(missing_docs)]
pub union LinkCreateExtra {
    pub raw: [u64; 6],
    pub target_btf_id: u32,
    pub iter: LinkIterExtra,
    pub perf_event: LinkPerfEventExtra,
    pub kprobe_multi: LinkKprobeMultiExtra,
    pub tracing: LinkTracingExtra,
    pub netfilter: LinkNetfilterExtra,
    pub tcx: LinkRelativeExtra,
    pub uprobe_multi: LinkUprobeMultiExtra,
    pub netkit: LinkRelativeExtra,
    pub cgroup: LinkRelativeExtra,
}

impl Default for LinkCreateExtra {
    fn default() -> Self {
        LinkCreateExtra { raw: [0; 6] }
    }
}

impl core::fmt::Debug for LinkCreateExtra {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // SAFETY: `raw` spans the whole union and every byte pattern is a valid `[u64; 6]`;
        // the union is always initialised through `Default` (all zero) before a variant is set.
        let raw = unsafe { self.raw };
        f.debug_struct("LinkCreateExtra")
            .field("raw", &raw)
            .finish()
    }
}

/// `BPF_LINK_CREATE` attributes.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
#[allow(missing_docs)]
pub struct LinkCreateAttr {
    /// `prog_fd` or `map_fd`.
    pub prog_fd: u32,
    /// `target_fd` or `target_ifindex`.
    pub target: u32,
    pub attach_type: u32,
    pub flags: u32,
    pub extra: LinkCreateExtra,
}

/// `BPF_LINK_UPDATE` attributes.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
#[allow(missing_docs)]
pub struct LinkUpdateAttr {
    pub link_fd: u32,
    /// `new_prog_fd` or `new_map_fd`.
    pub new_prog_fd: u32,
    pub flags: u32,
    /// `old_prog_fd` or `old_map_fd`.
    pub old_prog_fd: u32,
}

/// `BPF_LINK_DETACH` attributes.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
#[allow(missing_docs)]
pub struct LinkDetachAttr {
    pub link_fd: u32,
    pub _pad0: u32,
}

// SAFETY: all of the above are #[repr(C)] with explicit padding fields (checked by the size and
// offset tests in this module) and match the 6.18 `union bpf_attr` members named in their docs.
unsafe impl Attr for MapCreateAttr {}
// SAFETY: see above.
unsafe impl Attr for MapElemAttr {}
// SAFETY: see above.
unsafe impl Attr for MapBatchAttr {}
// SAFETY: see above.
unsafe impl Attr for ProgLoadAttr {}
// SAFETY: see above.
unsafe impl Attr for ObjAttr {}
// SAFETY: see above.
unsafe impl Attr for ProgAttachAttr {}
// SAFETY: see above.
unsafe impl Attr for TestRunAttr {}
// SAFETY: see above.
unsafe impl Attr for GetIdAttr {}
// SAFETY: see above.
unsafe impl Attr for InfoAttr {}
// SAFETY: see above.
unsafe impl Attr for QueryAttr {}
// SAFETY: see above.
unsafe impl Attr for BtfLoadAttr {}
// SAFETY: see above; the union's largest variants (`raw`, `kprobe_multi`, `uprobe_multi`) are
// 48 bytes with explicit padding, so the union has no padding of its own.
unsafe impl Attr for LinkCreateAttr {}
// SAFETY: see above.
unsafe impl Attr for LinkUpdateAttr {}
// SAFETY: see above.
unsafe impl Attr for LinkDetachAttr {}

/// `struct bpf_prog_info`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
#[allow(missing_docs)]
pub struct BpfProgInfo {
    pub prog_type: u32,
    pub id: u32,
    pub tag: [u8; BPF_TAG_SIZE],
    pub jited_prog_len: u32,
    pub xlated_prog_len: u32,
    pub jited_prog_insns: u64,
    pub xlated_prog_insns: u64,
    pub load_time: u64,
    pub created_by_uid: u32,
    pub nr_map_ids: u32,
    pub map_ids: u64,
    pub name: [u8; BPF_OBJ_NAME_LEN],
    pub ifindex: u32,
    /// Bit 0: `gpl_compatible`.
    pub flag_bits: u32,
    pub netns_dev: u64,
    pub netns_ino: u64,
    pub nr_jited_ksyms: u32,
    pub nr_jited_func_lens: u32,
    pub jited_ksyms: u64,
    pub jited_func_lens: u64,
    pub btf_id: u32,
    pub func_info_rec_size: u32,
    pub func_info: u64,
    pub nr_func_info: u32,
    pub nr_line_info: u32,
    pub line_info: u64,
    pub jited_line_info: u64,
    pub nr_jited_line_info: u32,
    pub line_info_rec_size: u32,
    pub jited_line_info_rec_size: u32,
    pub nr_prog_tags: u32,
    pub prog_tags: u64,
    pub run_time_ns: u64,
    pub run_cnt: u64,
    pub recursion_misses: u64,
    pub verified_insns: u32,
    pub attach_btf_obj_id: u32,
    pub attach_btf_id: u32,
    pub _pad0: u32,
}

/// `struct bpf_map_info`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
#[allow(missing_docs)]
pub struct BpfMapInfo {
    pub map_type: u32,
    pub id: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub name: [u8; BPF_OBJ_NAME_LEN],
    pub ifindex: u32,
    pub btf_vmlinux_value_type_id: u32,
    pub netns_dev: u64,
    pub netns_ino: u64,
    pub btf_id: u32,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
    pub btf_vmlinux_id: u32,
    pub map_extra: u64,
    pub hash: u64,
    pub hash_size: u32,
    pub _pad0: u32,
}

/// `struct bpf_link_info`; the per-type union is kept as raw bytes and decoded field by field
/// (see [`crate::sys::LinkInfo`]).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
#[allow(missing_docs)]
pub struct BpfLinkInfo {
    pub link_type: u32,
    pub id: u32,
    pub prog_id: u32,
    pub _pad0: u32,
    pub union_bytes: [u64; 6],
}

// SAFETY: #[repr(C)], explicit padding, only integers and integer arrays (every byte pattern is
// valid); layouts checked by the tests below against the 6.18 BTF.
unsafe impl Info for BpfProgInfo {}
// SAFETY: see above.
unsafe impl Info for BpfMapInfo {}
// SAFETY: see above.
unsafe impl Info for BpfLinkInfo {}

/// Flags and special values from `include/uapi/linux/bpf.h` (6.18).
pub mod consts {
    // Shared with the object model: map flags, program load flags, pseudo registers.
    pub use bpfkit_obj::consts::*;

    // BPF_MAP_UPDATE_ELEM / LOOKUP flags.
    /// Create a new element or update an existing one.
    pub const BPF_ANY: u64 = 0;
    /// Create a new element only if it did not exist.
    pub const BPF_NOEXIST: u64 = 1;
    /// Update an existing element only.
    pub const BPF_EXIST: u64 = 2;
    /// Take the element's `bpf_spin_lock` while copying.
    pub const BPF_F_LOCK: u64 = 4;

    // BPF_MAP_CREATE map_flags.
    /// Keep perf event array elements when the file is closed.
    pub const BPF_F_PRESERVE_ELEMS: u32 = 1 << 11;
    /// Create a map that is used as an inner map with differing max_entries.
    pub const BPF_F_INNER_MAP: u32 = 1 << 12;
    /// Create a map usable only through links (struct_ops); also the attach flag `BPF_F_LINK`.
    pub const BPF_F_LINK: u32 = 1 << 13;
    /// `path_fd` of `BPF_OBJ_PIN` / `BPF_OBJ_GET` is valid.
    pub const BPF_F_PATH_FD: u32 = 1 << 14;
    /// `value_type_btf_obj_fd` is valid.
    pub const BPF_F_VTYPE_BTF_OBJ_FD: u32 = 1 << 15;
    /// A BPF token fd is passed.
    pub const BPF_F_TOKEN_FD: u32 = 1 << 16;
    /// Arena: fault on access to unmapped pages.
    pub const BPF_F_SEGV_ON_FAULT: u32 = 1 << 17;
    /// Arena: do not convert user pointers.
    pub const BPF_F_NO_USER_CONV: u32 = 1 << 18;

    // Attach flags (BPF_PROG_ATTACH, BPF_LINK_CREATE).
    /// Cgroup: allow a descendant to override.
    pub const BPF_F_ALLOW_OVERRIDE: u32 = 1 << 0;
    /// Cgroup: allow multiple programs.
    pub const BPF_F_ALLOW_MULTI: u32 = 1 << 1;
    /// Replace the program given in `replace_bpf_fd` / `old_prog_fd`.
    pub const BPF_F_REPLACE: u32 = 1 << 2;
    /// Insert before the relative program or link (or first).
    pub const BPF_F_BEFORE: u32 = 1 << 3;
    /// Insert after the relative program or link (or last).
    pub const BPF_F_AFTER: u32 = 1 << 4;
    /// `relative` is an id, not an fd.
    pub const BPF_F_ID: u32 = 1 << 5;
    /// Cgroup: run before the parent's programs.
    pub const BPF_F_PREORDER: u32 = 1 << 6;

    // BPF_PROG_QUERY query_flags.
    /// Query the effective programs of a cgroup.
    pub const BPF_F_QUERY_EFFECTIVE: u32 = 1 << 0;

    // BPF_PROG_LOAD prog_flags.
    /// Testing: check register invariants.
    pub const BPF_F_TEST_REG_INVARIANTS: u32 = 1 << 7;

    // BPF_PROG_TEST_RUN flags.
    /// Run on the CPU given in `cpu`.
    pub const BPF_F_TEST_RUN_ON_CPU: u32 = 1 << 0;
    /// XDP live frames mode.
    pub const BPF_F_TEST_XDP_LIVE_FRAMES: u32 = 1 << 1;
    /// skb: CHECKSUM_COMPLETE.
    pub const BPF_F_TEST_SKB_CHECKSUM_COMPLETE: u32 = 1 << 2;

    // Netfilter link flags.
    /// Netfilter link: enable IP defragmentation before the program.
    pub const BPF_F_NETFILTER_IP_DEFRAG: u32 = 1 << 0;
    /// kprobe_multi: return probe.
    pub const BPF_F_KPROBE_MULTI_RETURN: u32 = 1 << 0;
    /// uprobe_multi: return probe.
    pub const BPF_F_UPROBE_MULTI_RETURN: u32 = 1 << 0;

    // Pseudo source registers.

    // Verifier log levels.
    /// Log the verification of a failing program.
    pub const BPF_LOG_LEVEL1: u32 = 1;
    /// Log every instruction.
    pub const BPF_LOG_LEVEL2: u32 = 2;
    /// Log statistics.
    pub const BPF_LOG_STATS: u32 = 4;
    /// Do not rotate the log (6.4+): truncate at the end instead.
    pub const BPF_LOG_FIXED: u32 = 8;

    // XDP flags (include/uapi/linux/if_link.h).
    /// Fail if a program is already attached.
    pub const XDP_FLAGS_UPDATE_IF_NOEXIST: u32 = 1 << 0;
    /// Generic (skb) mode.
    pub const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
    /// Native driver mode.
    pub const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
    /// Hardware offload mode.
    pub const XDP_FLAGS_HW_MODE: u32 = 1 << 3;
    /// Replace the program given in `IFLA_XDP_EXPECTED_FD`.
    pub const XDP_FLAGS_REPLACE: u32 = 1 << 4;
    /// All mode bits.
    pub const XDP_FLAGS_MODES: u32 = XDP_FLAGS_SKB_MODE | XDP_FLAGS_DRV_MODE | XDP_FLAGS_HW_MODE;

    // XDP attach modes reported by IFLA_XDP_ATTACHED.
    /// No program attached.
    pub const XDP_ATTACHED_NONE: u8 = 0;
    /// Driver mode.
    pub const XDP_ATTACHED_DRV: u8 = 1;
    /// Generic mode.
    pub const XDP_ATTACHED_SKB: u8 = 2;
    /// Hardware mode.
    pub const XDP_ATTACHED_HW: u8 = 3;
    /// More than one mode.
    pub const XDP_ATTACHED_MULTI: u8 = 4;
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    // Expected values come from the running 6.18 kernel's BTF (`/tmp/vmlinux.h`), compiled with
    // `offsetof` on `union bpf_attr` and the info structs.

    #[test]
    fn map_attrs_match_6_18() {
        assert_eq!(size_of::<MapCreateAttr>(), 96);
        assert_eq!(offset_of!(MapCreateAttr, map_name), 28);
        assert_eq!(offset_of!(MapCreateAttr, map_ifindex), 44);
        assert_eq!(offset_of!(MapCreateAttr, btf_vmlinux_value_type_id), 60);
        assert_eq!(offset_of!(MapCreateAttr, map_extra), 64);
        assert_eq!(offset_of!(MapCreateAttr, map_token_fd), 76);
        assert_eq!(offset_of!(MapCreateAttr, excl_prog_hash_size), 88);
        assert_eq!(size_of::<MapElemAttr>(), 32);
        assert_eq!(offset_of!(MapElemAttr, key), 8);
        assert_eq!(offset_of!(MapElemAttr, flags), 24);
        assert_eq!(size_of::<MapBatchAttr>(), 56);
        assert_eq!(offset_of!(MapBatchAttr, count), 32);
        assert_eq!(offset_of!(MapBatchAttr, map_fd), 36);
        assert_eq!(offset_of!(MapBatchAttr, flags), 48);
    }

    #[test]
    fn prog_load_attr_matches_6_18() {
        assert_eq!(size_of::<ProgLoadAttr>(), 168);
        assert_eq!(offset_of!(ProgLoadAttr, log_buf), 32);
        assert_eq!(offset_of!(ProgLoadAttr, prog_name), 48);
        assert_eq!(offset_of!(ProgLoadAttr, expected_attach_type), 68);
        assert_eq!(offset_of!(ProgLoadAttr, func_info), 80);
        assert_eq!(offset_of!(ProgLoadAttr, line_info), 96);
        assert_eq!(offset_of!(ProgLoadAttr, attach_fd), 112);
        assert_eq!(offset_of!(ProgLoadAttr, fd_array), 120);
        assert_eq!(offset_of!(ProgLoadAttr, log_true_size), 140);
        assert_eq!(offset_of!(ProgLoadAttr, fd_array_cnt), 148);
        assert_eq!(offset_of!(ProgLoadAttr, keyring_id), 164);
    }

    #[test]
    fn other_attrs_match_6_18() {
        assert_eq!(offset_of!(ObjAttr, path_fd), 16);
        assert_eq!(offset_of!(ProgAttachAttr, expected_revision), 24);
        assert_eq!(size_of::<ProgAttachAttr>(), 32);
        assert_eq!(offset_of!(TestRunAttr, batch_size), 72);
        assert_eq!(offset_of!(TestRunAttr, ctx_out), 56);
        assert_eq!(offset_of!(GetIdAttr, fd_by_id_token_fd), 12);
        assert_eq!(offset_of!(InfoAttr, info), 8);
        assert_eq!(offset_of!(QueryAttr, count), 24);
        assert_eq!(offset_of!(QueryAttr, link_ids), 40);
        assert_eq!(offset_of!(QueryAttr, revision), 56);
        assert_eq!(offset_of!(BtfLoadAttr, btf_token_fd), 36);
        assert_eq!(size_of::<BtfLoadAttr>(), 40);
        assert_eq!(offset_of!(LinkUpdateAttr, old_prog_fd), 12);
    }

    #[test]
    fn link_create_attr_matches_6_18() {
        assert_eq!(size_of::<LinkCreateAttr>(), 64);
        assert_eq!(offset_of!(LinkCreateAttr, extra), 16);
        // Offsets inside the union, relative to its start at 16.
        assert_eq!(16 + offset_of!(LinkRelativeExtra, expected_revision), 24);
        assert_eq!(16 + offset_of!(LinkNetfilterExtra, flags), 28);
        assert_eq!(16 + offset_of!(LinkTracingExtra, cookie), 24);
        assert_eq!(16 + offset_of!(LinkKprobeMultiExtra, cookies), 40);
        assert_eq!(16 + offset_of!(LinkUprobeMultiExtra, pid), 56);
        assert_eq!(size_of::<LinkCreateExtra>(), 48);
    }

    #[test]
    fn info_structs_match_6_18() {
        assert_eq!(size_of::<BpfProgInfo>(), 232);
        assert_eq!(offset_of!(BpfProgInfo, name), 64);
        assert_eq!(offset_of!(BpfProgInfo, netns_dev), 88);
        assert_eq!(offset_of!(BpfProgInfo, verified_insns), 216);
        assert_eq!(offset_of!(BpfProgInfo, attach_btf_id), 224);
        assert_eq!(size_of::<BpfMapInfo>(), 104);
        assert_eq!(offset_of!(BpfMapInfo, name), 24);
        assert_eq!(offset_of!(BpfMapInfo, map_extra), 80);
        assert_eq!(offset_of!(BpfMapInfo, hash_size), 96);
        assert_eq!(size_of::<BpfLinkInfo>(), 64);
        assert_eq!(offset_of!(BpfLinkInfo, union_bytes), 16);
    }
}
