//! Links (`BPF_LINK_CREATE`, `BPF_LINK_UPDATE`, `BPF_LINK_DETACH`) and legacy attachment
//! (`BPF_PROG_ATTACH`, `BPF_PROG_DETACH`, `BPF_PROG_QUERY`).

use std::os::fd::{BorrowedFd, OwnedFd};

use bpfkit_obj::uapi::cmd;

use super::syscall::{bpf, command_name, mut_ptr_of, owned_fd, ptr_of, AttrFd, SyscallError};
use super::uapi::consts::{BPF_F_ID, BPF_F_LINK, BPF_F_REPLACE};
use super::uapi::{
    LinkCreateAttr, LinkCreateExtra, LinkDetachAttr, LinkIterExtra, LinkKprobeMultiExtra,
    LinkNetfilterExtra, LinkPerfEventExtra, LinkRelativeExtra, LinkTracingExtra, LinkUpdateAttr,
    ProgAttachAttr, QueryAttr,
};

/// What a program is attached to: an fd (cgroup, netns, perf event, map, BPF program) or a
/// network interface index (XDP, TCX, netkit).
#[derive(Debug, Clone, Copy)]
pub enum LinkTarget<'a> {
    /// A target fd.
    Fd(BorrowedFd<'a>),
    /// A network interface.
    Ifindex(u32),
}

/// A program or link that a new attachment is placed relative to (TCX, netkit, cgroup
/// mprog). The variant sets `BPF_F_ID` / `BPF_F_LINK`; the caller sets `BPF_F_BEFORE` or
/// `BPF_F_AFTER` in the flags.
#[derive(Debug, Clone, Copy)]
pub enum Relative<'a> {
    /// A program, by fd.
    ProgFd(BorrowedFd<'a>),
    /// A program, by id.
    ProgId(u32),
    /// A link, by fd.
    LinkFd(BorrowedFd<'a>),
    /// A link, by id.
    LinkId(u32),
}

/// Attach-type-specific parameters of `BPF_LINK_CREATE`.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub enum LinkExtra<'a> {
    /// Nothing (XDP, cgroup without ordering, netns, ...).
    #[default]
    None,
    /// `target_btf_id` (freplace, LSM cgroup).
    TargetBtfId(u32),
    /// Iterator info (`union bpf_iter_link_info`, as bytes).
    Iter(&'a [u8]),
    /// TCX ordering: position and the revision the attachment list must still have (0: any).
    Tcx {
        /// Position relative to another program or link.
        relative: Option<Relative<'a>>,
        /// Expected revision (0: don't check).
        expected_revision: u64,
    },
    /// Netkit ordering, as for TCX.
    Netkit {
        /// Position relative to another program or link.
        relative: Option<Relative<'a>>,
        /// Expected revision (0: don't check).
        expected_revision: u64,
    },
    /// Cgroup ordering (6.15+), as for TCX.
    Cgroup {
        /// Position relative to another program or link.
        relative: Option<Relative<'a>>,
        /// Expected revision (0: don't check).
        expected_revision: u64,
    },
    /// Netfilter hook.
    Netfilter {
        /// Protocol family (`NFPROTO_IPV4`, ...).
        pf: u32,
        /// Hook (`NF_INET_LOCAL_IN`, ...).
        hooknum: u32,
        /// Priority among hooks.
        priority: i32,
        /// `BPF_F_NETFILTER_IP_DEFRAG`.
        flags: u32,
    },
    /// fentry/fexit/fmod_ret/LSM cookie.
    TracingCookie {
        /// Target BTF id (0: the one given at load).
        target_btf_id: u32,
        /// Cookie for `bpf_get_attach_cookie`.
        cookie: u64,
    },
    /// Perf event (kprobe, uprobe, tracepoint via perf) cookie.
    PerfEventCookie(u64),
    /// kprobe_multi by addresses.
    KprobeMulti {
        /// `BPF_F_KPROBE_MULTI_RETURN`.
        flags: u32,
        /// Kernel addresses to probe.
        addrs: &'a [u64],
        /// One cookie per address, or empty.
        cookies: &'a [u64],
    },
}

/// Parameters of `BPF_LINK_CREATE`.
#[derive(Debug, Clone, Copy)]
pub struct LinkCreate<'a> {
    /// The program.
    pub prog_fd: BorrowedFd<'a>,
    /// What to attach to.
    pub target: LinkTarget<'a>,
    /// `BPF_*` attach type.
    pub attach_type: u32,
    /// Flags (`BPF_F_BEFORE`, `BPF_F_AFTER`, `XDP_FLAGS_*` for XDP, ...).
    pub flags: u32,
    /// Attach-type-specific parameters.
    pub extra: LinkExtra<'a>,
}

fn relative_parts(
    relative: Option<Relative<'_>>,
    command: &'static str,
) -> Result<(Option<AttrFd>, u32, u32), SyscallError> {
    Ok(match relative {
        None => (None, 0, 0),
        Some(Relative::ProgFd(fd)) => {
            let fd = AttrFd::new(fd, command)?;
            let raw = fd.raw();
            (Some(fd), raw, 0)
        }
        Some(Relative::ProgId(id)) => (None, id, BPF_F_ID),
        Some(Relative::LinkFd(fd)) => {
            let fd = AttrFd::new(fd, command)?;
            let raw = fd.raw();
            (Some(fd), raw, BPF_F_LINK)
        }
        Some(Relative::LinkId(id)) => (None, id, BPF_F_ID | BPF_F_LINK),
    })
}

fn target_parts(
    target: LinkTarget<'_>,
    command: &'static str,
) -> Result<(Option<AttrFd>, u32), SyscallError> {
    Ok(match target {
        LinkTarget::Fd(fd) => {
            let fd = AttrFd::new(fd, command)?;
            let raw = fd.raw();
            (Some(fd), raw)
        }
        LinkTarget::Ifindex(index) => (None, index),
    })
}

/// Creates a link; dropping the returned fd detaches it (unless it is pinned).
pub fn link_create(link: &LinkCreate<'_>) -> Result<OwnedFd, SyscallError> {
    let name = command_name(cmd::BPF_LINK_CREATE);
    let prog = AttrFd::new(link.prog_fd, name)?;
    let (_target_fd, target) = target_parts(link.target, name)?;
    let mut flags = link.flags;
    let mut extra = LinkCreateExtra::default();
    let mut _relative_fd = None;
    match link.extra {
        LinkExtra::None => {}
        LinkExtra::TargetBtfId(id) => extra.target_btf_id = id,
        LinkExtra::Iter(info) => {
            let iter_info_len = u32::try_from(info.len())
                .map_err(|_| SyscallError::invalid(name, "iterator info too large"))?;
            extra.iter = LinkIterExtra {
                iter_info: ptr_of(info),
                iter_info_len,
                _pad0: 0,
            };
        }
        LinkExtra::Tcx {
            relative,
            expected_revision,
        }
        | LinkExtra::Netkit {
            relative,
            expected_revision,
        }
        | LinkExtra::Cgroup {
            relative,
            expected_revision,
        } => {
            let (fd, relative, relative_flags) = relative_parts(relative, name)?;
            _relative_fd = fd;
            flags |= relative_flags;
            // tcx, netkit and cgroup share this layout at the same offset.
            extra.tcx = LinkRelativeExtra {
                relative,
                _pad0: 0,
                expected_revision,
            };
        }
        LinkExtra::Netfilter {
            pf,
            hooknum,
            priority,
            flags,
        } => {
            extra.netfilter = LinkNetfilterExtra {
                pf,
                hooknum,
                priority,
                flags,
            };
        }
        LinkExtra::TracingCookie {
            target_btf_id,
            cookie,
        } => {
            extra.tracing = LinkTracingExtra {
                target_btf_id,
                _pad0: 0,
                cookie,
            };
        }
        LinkExtra::PerfEventCookie(bpf_cookie) => {
            extra.perf_event = LinkPerfEventExtra { bpf_cookie };
        }
        LinkExtra::KprobeMulti {
            flags,
            addrs,
            cookies,
        } => {
            if !cookies.is_empty() && cookies.len() != addrs.len() {
                return Err(SyscallError::invalid(
                    name,
                    "kprobe_multi needs one cookie per address",
                ));
            }
            let cnt = u32::try_from(addrs.len())
                .map_err(|_| SyscallError::invalid(name, "too many kprobe addresses"))?;
            extra.kprobe_multi = LinkKprobeMultiExtra {
                flags,
                cnt,
                syms: 0,
                addrs: ptr_of(addrs),
                cookies: ptr_of(cookies),
            };
        }
    }
    let mut attr = LinkCreateAttr {
        prog_fd: prog.raw(),
        target,
        attach_type: link.attach_type,
        flags,
        extra,
    };
    // SAFETY: the only pointers are iterator info and kprobe address/cookie arrays, borrowed
    // for 'a with their lengths; fds are held open by the AttrFd values above.
    let fd = unsafe { bpf(cmd::BPF_LINK_CREATE, &mut attr) }?;
    owned_fd(fd, name)
}

/// `BPF_LINK_UPDATE`: atomically replaces a link's program; with `old_prog`, only if that is
/// still the current one (`BPF_F_REPLACE` is set for you).
pub fn link_update(
    link: BorrowedFd<'_>,
    new_prog: BorrowedFd<'_>,
    old_prog: Option<BorrowedFd<'_>>,
    flags: u32,
) -> Result<(), SyscallError> {
    let name = command_name(cmd::BPF_LINK_UPDATE);
    let link = AttrFd::new(link, name)?;
    let new_prog = AttrFd::new(new_prog, name)?;
    let old = AttrFd::optional(old_prog, name)?;
    let mut attr = LinkUpdateAttr {
        link_fd: link.raw(),
        new_prog_fd: new_prog.raw(),
        flags: if old_prog.is_some() {
            flags | BPF_F_REPLACE
        } else {
            flags
        },
        old_prog_fd: old.raw(),
    };
    // SAFETY: no pointers; fds are open for the call.
    unsafe { bpf(cmd::BPF_LINK_UPDATE, &mut attr) }.map(|_| ())
}

/// `BPF_LINK_DETACH`: detaches a link while its fd stays open (it becomes defunct).
pub fn link_detach(link: BorrowedFd<'_>) -> Result<(), SyscallError> {
    let link = AttrFd::new(link, command_name(cmd::BPF_LINK_DETACH))?;
    let mut attr = LinkDetachAttr {
        link_fd: link.raw(),
        _pad0: 0,
    };
    // SAFETY: no pointers.
    unsafe { bpf(cmd::BPF_LINK_DETACH, &mut attr) }.map(|_| ())
}

fn attach_op(
    command: u32,
    target: LinkTarget<'_>,
    prog: Option<BorrowedFd<'_>>,
    attach_type: u32,
    flags: u32,
    replace: Option<BorrowedFd<'_>>,
) -> Result<(), SyscallError> {
    let name = command_name(command);
    let (_target_fd, target) = target_parts(target, name)?;
    let prog = AttrFd::optional(prog, name)?;
    let replace_fd = AttrFd::optional(replace, name)?;
    let mut attr = ProgAttachAttr {
        target,
        attach_bpf_fd: prog.raw(),
        attach_type,
        attach_flags: if replace.is_some() {
            flags | BPF_F_REPLACE
        } else {
            flags
        },
        replace_bpf_fd: replace_fd.raw(),
        ..Default::default()
    };
    // SAFETY: no pointers; fds are open for the call.
    unsafe { bpf(command, &mut attr) }.map(|_| ())
}

/// `BPF_PROG_ATTACH` (cgroup, sockmap, flow dissector, lirc, and TCX without links). With
/// `replace`, `BPF_F_REPLACE` is set.
pub fn prog_attach(
    target: LinkTarget<'_>,
    prog: BorrowedFd<'_>,
    attach_type: u32,
    flags: u32,
    replace: Option<BorrowedFd<'_>>,
) -> Result<(), SyscallError> {
    attach_op(
        cmd::BPF_PROG_ATTACH,
        target,
        Some(prog),
        attach_type,
        flags,
        replace,
    )
}

/// `BPF_PROG_DETACH`. `prog` may be `None` for attach points holding a single program.
pub fn prog_detach(
    target: LinkTarget<'_>,
    prog: Option<BorrowedFd<'_>>,
    attach_type: u32,
    flags: u32,
) -> Result<(), SyscallError> {
    attach_op(cmd::BPF_PROG_DETACH, target, prog, attach_type, flags, None)
}

/// Result of `BPF_PROG_QUERY`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgQuery {
    /// Attached programs, in run order.
    pub prog_ids: Vec<u32>,
    /// For each program, the id of the link holding it (0 when attached without a link).
    /// Same length as `prog_ids`; all 0 for attach points that do not report link ids.
    pub link_ids: Vec<u32>,
    /// Attach flags (cgroup).
    pub attach_flags: u32,
    /// Revision of the attachment list (TCX, netkit), for `expected_revision`.
    pub revision: u64,
}

/// `BPF_PROG_QUERY`: the programs attached at `target` with `attach_type`.
pub fn prog_query(
    target: LinkTarget<'_>,
    attach_type: u32,
    query_flags: u32,
) -> Result<ProgQuery, SyscallError> {
    let name = command_name(cmd::BPF_PROG_QUERY);
    let (_target_fd, target) = target_parts(target, name)?;
    let mut prog_ids: Vec<u32> = Vec::new();
    let mut link_ids: Vec<u32> = Vec::new();
    // Ask for the count first, then fetch; loop because programs may be attached between
    // the two calls (the kernel answers ENOSPC when the buffer is too small).
    loop {
        let capacity = prog_ids.len() as u32;
        let mut attr = QueryAttr {
            target,
            attach_type,
            query_flags,
            prog_ids: mut_ptr_of(&mut prog_ids),
            count: capacity,
            link_ids: mut_ptr_of(&mut link_ids),
            ..Default::default()
        };
        // SAFETY: `prog_ids` and `link_ids` both hold `count` u32s (or are 0 with count 0).
        let result = unsafe { bpf(cmd::BPF_PROG_QUERY, &mut attr) };
        let count = attr.count as usize;
        match result {
            Ok(_) if count <= prog_ids.len() && (count == 0 || capacity > 0) => {
                prog_ids.truncate(count);
                link_ids.truncate(count);
                return Ok(ProgQuery {
                    prog_ids,
                    link_ids,
                    attach_flags: attr.attach_flags,
                    revision: attr.revision,
                });
            }
            Ok(_) => {}
            Err(err) if err.errno() == libc::ENOSPC => {}
            Err(err) => return Err(err),
        }
        let grow = count.max(prog_ids.len().saturating_mul(2)).max(1);
        prog_ids = vec![0; grow];
        link_ids = vec![0; grow];
    }
}
