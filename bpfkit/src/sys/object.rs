//! Pinning, ids and `BPF_OBJ_GET_INFO_BY_FD`.

use std::ffi::CString;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use bpfkit_obj::uapi::{cmd, link_type};

use super::syscall::{bpf, command_name, name_from_bytes, owned_fd, AttrFd, SyscallError};
use super::uapi::{
    BpfLinkInfo, BpfMapInfo, BpfProgInfo, GetIdAttr, Info, InfoAttr, ObjAttr, BPF_TAG_SIZE,
};

fn c_path(path: &Path, command: &'static str) -> Result<CString, SyscallError> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| SyscallError::invalid(command, format!("path {path:?} contains a NUL byte")))
}

/// `BPF_OBJ_PIN`: pins a map, program or link at `path` on a bpffs.
pub fn obj_pin(fd: BorrowedFd<'_>, path: &Path) -> Result<(), SyscallError> {
    let name = command_name(cmd::BPF_OBJ_PIN);
    let path = c_path(path, name)?;
    let fd = AttrFd::new(fd, name)?;
    let mut attr = ObjAttr {
        pathname: path.as_ptr() as usize as u64,
        bpf_fd: fd.raw(),
        ..Default::default()
    };
    // SAFETY: `pathname` is a NUL-terminated string alive for the call.
    unsafe { bpf(cmd::BPF_OBJ_PIN, &mut attr) }.map(|_| ())
}

/// `BPF_OBJ_GET`: opens the object pinned at `path`. `file_flags`: 0, `BPF_F_RDONLY` or
/// `BPF_F_WRONLY`.
pub fn obj_get(path: &Path, file_flags: u32) -> Result<OwnedFd, SyscallError> {
    let name = command_name(cmd::BPF_OBJ_GET);
    let path = c_path(path, name)?;
    let mut attr = ObjAttr {
        pathname: path.as_ptr() as usize as u64,
        file_flags,
        ..Default::default()
    };
    // SAFETY: `pathname` is a NUL-terminated string alive for the call.
    let fd = unsafe { bpf(cmd::BPF_OBJ_GET, &mut attr) }?;
    owned_fd(fd, name)
}

fn fd_by_id(command: u32, id: u32) -> Result<OwnedFd, SyscallError> {
    let mut attr = GetIdAttr {
        id,
        ..Default::default()
    };
    // SAFETY: no pointers in the attribute.
    let fd = unsafe { bpf(command, &mut attr) }?;
    owned_fd(fd, command_name(command))
}

fn next_id(command: u32, start: u32) -> Result<Option<u32>, SyscallError> {
    let mut attr = GetIdAttr {
        id: start,
        ..Default::default()
    };
    // SAFETY: no pointers in the attribute.
    match unsafe { bpf(command, &mut attr) } {
        Ok(_) => Ok(Some(attr.next_id)),
        Err(err) if err.errno() == libc::ENOENT => Ok(None),
        Err(err) => Err(err),
    }
}

/// `BPF_PROG_GET_FD_BY_ID`.
pub fn prog_get_fd_by_id(id: u32) -> Result<OwnedFd, SyscallError> {
    fd_by_id(cmd::BPF_PROG_GET_FD_BY_ID, id)
}

/// `BPF_MAP_GET_FD_BY_ID`.
pub fn map_get_fd_by_id(id: u32) -> Result<OwnedFd, SyscallError> {
    fd_by_id(cmd::BPF_MAP_GET_FD_BY_ID, id)
}

/// `BPF_LINK_GET_FD_BY_ID`.
pub fn link_get_fd_by_id(id: u32) -> Result<OwnedFd, SyscallError> {
    fd_by_id(cmd::BPF_LINK_GET_FD_BY_ID, id)
}

/// `BPF_PROG_GET_NEXT_ID`: the first program id above `start`; `None` after the last.
pub fn prog_get_next_id(start: u32) -> Result<Option<u32>, SyscallError> {
    next_id(cmd::BPF_PROG_GET_NEXT_ID, start)
}

/// `BPF_MAP_GET_NEXT_ID`: the first map id above `start`; `None` after the last.
pub fn map_get_next_id(start: u32) -> Result<Option<u32>, SyscallError> {
    next_id(cmd::BPF_MAP_GET_NEXT_ID, start)
}

/// `BPF_LINK_GET_NEXT_ID`: the first link id above `start`; `None` after the last.
pub fn link_get_next_id(start: u32) -> Result<Option<u32>, SyscallError> {
    next_id(cmd::BPF_LINK_GET_NEXT_ID, start)
}

/// Fills `info` for `fd`. Pointer fields of `info` must be 0 or valid for the sizes given in
/// their companion count fields; callers in this module only pass such info structs.
///
/// # Safety
///
/// See above: every pointer in `info` is null or points at a buffer the kernel may fill.
unsafe fn get_info<I: Info>(fd: BorrowedFd<'_>, info: &mut I) -> Result<(), SyscallError> {
    let name = command_name(cmd::BPF_OBJ_GET_INFO_BY_FD);
    let fd = AttrFd::new(fd, name)?;
    let mut attr = InfoAttr {
        bpf_fd: fd.raw(),
        info_len: std::mem::size_of::<I>() as u32,
        info: info as *mut I as usize as u64,
    };
    // SAFETY: `info` is a live Info struct of `info_len` bytes; its pointers are the caller's
    // responsibility (see the function contract).
    unsafe { bpf(cmd::BPF_OBJ_GET_INFO_BY_FD, &mut attr) }.map(|_| ())
}

/// A program as described by the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgInfo {
    /// `BPF_PROG_TYPE_*`.
    pub prog_type: u32,
    /// Kernel-wide id.
    pub id: u32,
    /// Name (at most 15 bytes).
    pub name: String,
    /// Hash of the instructions, as shown by bpftool.
    pub tag: [u8; BPF_TAG_SIZE],
    /// Size of the JIT image in bytes.
    pub jited_prog_len: u32,
    /// Size of the translated instructions in bytes.
    pub xlated_prog_len: u32,
    /// Load time, nanoseconds since boot.
    pub load_time: u64,
    /// Uid that loaded it.
    pub created_by_uid: u32,
    /// Number of maps it uses.
    pub nr_map_ids: u32,
    /// Offload device (0: none).
    pub ifindex: u32,
    /// GPL-compatible license.
    pub gpl_compatible: bool,
    /// Id of its BTF (0: none).
    pub btf_id: u32,
    /// Run time total when `kernel.bpf_stats_enabled`.
    pub run_time_ns: u64,
    /// Run count when `kernel.bpf_stats_enabled`.
    pub run_cnt: u64,
    /// Instructions the verifier processed.
    pub verified_insns: u32,
    /// Object id of the BTF of the attach target.
    pub attach_btf_obj_id: u32,
    /// BTF type id of the attach target.
    pub attach_btf_id: u32,
}

/// Reads a program's info.
pub fn prog_info(fd: BorrowedFd<'_>) -> Result<ProgInfo, SyscallError> {
    let mut raw = BpfProgInfo::default();
    // SAFETY: all pointer fields are 0, so the kernel writes only the struct itself.
    unsafe { get_info(fd, &mut raw) }?;
    Ok(ProgInfo {
        prog_type: raw.prog_type,
        id: raw.id,
        name: name_from_bytes(&raw.name),
        tag: raw.tag,
        jited_prog_len: raw.jited_prog_len,
        xlated_prog_len: raw.xlated_prog_len,
        load_time: raw.load_time,
        created_by_uid: raw.created_by_uid,
        nr_map_ids: raw.nr_map_ids,
        ifindex: raw.ifindex,
        gpl_compatible: raw.flag_bits & 1 != 0,
        btf_id: raw.btf_id,
        run_time_ns: raw.run_time_ns,
        run_cnt: raw.run_cnt,
        verified_insns: raw.verified_insns,
        attach_btf_obj_id: raw.attach_btf_obj_id,
        attach_btf_id: raw.attach_btf_id,
    })
}

/// The ids of the maps a program uses.
pub fn prog_map_ids(fd: BorrowedFd<'_>) -> Result<Vec<u32>, SyscallError> {
    // The count can change between the two calls only for programs that bind maps later
    // (BPF_PROG_BIND_MAP), so loop until the buffer was large enough.
    let mut ids: Vec<u32> = Vec::new();
    loop {
        let mut raw = BpfProgInfo {
            nr_map_ids: ids.len() as u32,
            map_ids: super::syscall::mut_ptr_of(&mut ids),
            ..Default::default()
        };
        // SAFETY: `map_ids` points at `nr_map_ids` u32s (or is 0 with a count of 0).
        unsafe { get_info(fd, &mut raw) }?;
        let count = raw.nr_map_ids as usize;
        if count <= ids.len() {
            ids.truncate(count);
            return Ok(ids);
        }
        ids = vec![0; count];
    }
}

/// A map as described by the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapInfo {
    /// `BPF_MAP_TYPE_*`.
    pub map_type: u32,
    /// Kernel-wide id.
    pub id: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
    /// `BPF_F_*` map flags.
    pub map_flags: u32,
    /// Name (at most 15 bytes).
    pub name: String,
    /// Offload device (0: none).
    pub ifindex: u32,
    /// Id of its BTF (0: none).
    pub btf_id: u32,
    /// BTF type id of the key.
    pub btf_key_type_id: u32,
    /// BTF type id of the value.
    pub btf_value_type_id: u32,
    /// Type-specific extra.
    pub map_extra: u64,
}

/// Reads a map's info.
pub fn map_info(fd: BorrowedFd<'_>) -> Result<MapInfo, SyscallError> {
    let mut raw = BpfMapInfo::default();
    // SAFETY: BpfMapInfo's pointer-like field `hash` is 0 with `hash_size` 0.
    unsafe { get_info(fd, &mut raw) }?;
    Ok(MapInfo {
        map_type: raw.map_type,
        id: raw.id,
        key_size: raw.key_size,
        value_size: raw.value_size,
        max_entries: raw.max_entries,
        map_flags: raw.map_flags,
        name: name_from_bytes(&raw.name),
        ifindex: raw.ifindex,
        btf_id: raw.btf_id,
        btf_key_type_id: raw.btf_key_type_id,
        btf_value_type_id: raw.btf_value_type_id,
        map_extra: raw.map_extra,
    })
}

/// The per-type part of [`LinkInfo`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkDetails {
    /// XDP link.
    Xdp {
        /// Interface index.
        ifindex: u32,
    },
    /// TCX link.
    Tcx {
        /// Interface index.
        ifindex: u32,
        /// `BPF_TCX_INGRESS` / `BPF_TCX_EGRESS`.
        attach_type: u32,
    },
    /// Netkit link.
    Netkit {
        /// Interface index.
        ifindex: u32,
        /// `BPF_NETKIT_PRIMARY` / `BPF_NETKIT_PEER`.
        attach_type: u32,
    },
    /// Netfilter link.
    Netfilter {
        /// Protocol family.
        pf: u32,
        /// Hook number.
        hooknum: u32,
        /// Priority.
        priority: i32,
        /// `BPF_F_NETFILTER_*` flags.
        flags: u32,
    },
    /// Cgroup link.
    Cgroup {
        /// Cgroup id.
        cgroup_id: u64,
        /// Attach type.
        attach_type: u32,
    },
    /// Network namespace link (flow dissector, sk_lookup).
    Netns {
        /// Inode of the namespace.
        netns_ino: u32,
        /// Attach type.
        attach_type: u32,
    },
    /// fentry/fexit/fmod_ret/LSM/iter-target tracing link.
    Tracing {
        /// Attach type.
        attach_type: u32,
        /// Object id of the target (program or BTF object).
        target_obj_id: u32,
        /// BTF type id of the target.
        target_btf_id: u32,
        /// Cookie.
        cookie: u64,
    },
    /// struct_ops link.
    StructOps {
        /// The struct_ops map.
        map_id: u32,
    },
    /// sockmap link.
    Sockmap {
        /// The sockmap.
        map_id: u32,
        /// Attach type.
        attach_type: u32,
    },
    /// kprobe_multi link.
    KprobeMulti {
        /// Number of probed addresses.
        count: u32,
        /// `BPF_F_KPROBE_MULTI_*`.
        flags: u32,
        /// Missed runs.
        missed: u64,
    },
    /// uprobe_multi link.
    UprobeMulti {
        /// Number of probes.
        count: u32,
        /// `BPF_F_UPROBE_MULTI_*`.
        flags: u32,
        /// Target pid (0: all).
        pid: u32,
    },
    /// Any other link type (raw tracepoint, iter, perf event): no decoded details.
    Other,
}

/// A link as described by the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// `BPF_LINK_TYPE_*`.
    pub link_type: u32,
    /// Kernel-wide link id.
    pub id: u32,
    /// Id of the linked program.
    pub prog_id: u32,
    /// Type-specific details.
    pub details: LinkDetails,
}

/// Reads a native-endian u32/u64 at `offset` in the link info union.
fn union_u32(bytes: &[u8], offset: usize) -> u32 {
    bytes
        .get(offset..offset + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_ne_bytes)
        .unwrap_or(0)
}

fn union_u64(bytes: &[u8], offset: usize) -> u64 {
    bytes
        .get(offset..offset + 8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_ne_bytes)
        .unwrap_or(0)
}

pub(crate) fn decode_link_details(link_type: u32, union_bytes: &[u8]) -> LinkDetails {
    let u32_at = |o| union_u32(union_bytes, o);
    let u64_at = |o| union_u64(union_bytes, o);
    // Offsets are relative to the union, which starts at byte 16 of struct bpf_link_info.
    match link_type {
        link_type::BPF_LINK_TYPE_XDP => LinkDetails::Xdp { ifindex: u32_at(0) },
        link_type::BPF_LINK_TYPE_TCX => LinkDetails::Tcx {
            ifindex: u32_at(0),
            attach_type: u32_at(4),
        },
        link_type::BPF_LINK_TYPE_NETKIT => LinkDetails::Netkit {
            ifindex: u32_at(0),
            attach_type: u32_at(4),
        },
        link_type::BPF_LINK_TYPE_NETFILTER => LinkDetails::Netfilter {
            pf: u32_at(0),
            hooknum: u32_at(4),
            priority: u32_at(8) as i32,
            flags: u32_at(12),
        },
        link_type::BPF_LINK_TYPE_CGROUP => LinkDetails::Cgroup {
            cgroup_id: u64_at(0),
            attach_type: u32_at(8),
        },
        link_type::BPF_LINK_TYPE_NETNS => LinkDetails::Netns {
            netns_ino: u32_at(0),
            attach_type: u32_at(4),
        },
        link_type::BPF_LINK_TYPE_TRACING => LinkDetails::Tracing {
            attach_type: u32_at(0),
            target_obj_id: u32_at(4),
            target_btf_id: u32_at(8),
            cookie: u64_at(16),
        },
        link_type::BPF_LINK_TYPE_STRUCT_OPS => LinkDetails::StructOps { map_id: u32_at(0) },
        link_type::BPF_LINK_TYPE_SOCKMAP => LinkDetails::Sockmap {
            map_id: u32_at(0),
            attach_type: u32_at(4),
        },
        link_type::BPF_LINK_TYPE_KPROBE_MULTI => LinkDetails::KprobeMulti {
            count: u32_at(8),
            flags: u32_at(12),
            missed: u64_at(16),
        },
        link_type::BPF_LINK_TYPE_UPROBE_MULTI => LinkDetails::UprobeMulti {
            count: u32_at(36),
            flags: u32_at(40),
            pid: u32_at(44),
        },
        _ => LinkDetails::Other,
    }
}

/// Reads a link's info. Pointer-carrying parts (tracepoint names, probe addresses) are not
/// requested.
pub fn link_info(fd: BorrowedFd<'_>) -> Result<LinkInfo, SyscallError> {
    let mut raw = BpfLinkInfo::default();
    // SAFETY: the union is all zero, so every pointer field in it is 0 with a zero length; the
    // kernel fills only scalar fields.
    unsafe { get_info(fd, &mut raw) }?;
    let mut bytes = [0u8; 48];
    for (chunk, word) in bytes.chunks_exact_mut(8).zip(raw.union_bytes.iter()) {
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    Ok(LinkInfo {
        link_type: raw.link_type,
        id: raw.id,
        prog_id: raw.prog_id,
        details: decode_link_details(raw.link_type, &bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_details_decode_from_6_18_offsets() {
        let mut bytes = [0u8; 48];
        bytes[0..4].copy_from_slice(&7u32.to_ne_bytes());
        bytes[4..8].copy_from_slice(&46u32.to_ne_bytes());
        assert_eq!(
            decode_link_details(link_type::BPF_LINK_TYPE_TCX, &bytes),
            LinkDetails::Tcx {
                ifindex: 7,
                attach_type: 46
            }
        );
        assert_eq!(
            decode_link_details(link_type::BPF_LINK_TYPE_XDP, &bytes),
            LinkDetails::Xdp { ifindex: 7 }
        );
        bytes[8..12].copy_from_slice(&(-5i32).to_ne_bytes());
        bytes[12..16].copy_from_slice(&1u32.to_ne_bytes());
        assert_eq!(
            decode_link_details(link_type::BPF_LINK_TYPE_NETFILTER, &bytes),
            LinkDetails::Netfilter {
                pf: 7,
                hooknum: 46,
                priority: -5,
                flags: 1
            }
        );
        assert_eq!(decode_link_details(9999, &bytes), LinkDetails::Other);
    }
}
