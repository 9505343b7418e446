//! TC classifiers (`SEC("tc")`, `SEC("tcx/ingress")`, `SEC("classifier")`, ...).
//!
//! Two ways to attach: TCX links (6.6), ordered relative to other programs on the same hook, and
//! the legacy netlink way, a direct-action `cls_bpf` filter under a `clsact` qdisc.
//! [`SchedClassifier::attach`] takes TCX and falls back to netlink on older kernels.

use std::os::fd::AsFd;

use bpfkit_obj::uapi::attach_type::{BPF_TCX_EGRESS, BPF_TCX_INGRESS};

use super::{ProgramData, ProgramError};
use crate::links::FdLink;
use crate::sys::uapi::consts::{BPF_F_AFTER, BPF_F_BEFORE, BPF_F_ID, BPF_F_LINK};
use crate::sys::{self, netlink::TcDirection, LinkCreate, LinkExtra, LinkTarget, Relative};

/// Which side of the interface the classifier sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcAttachType {
    /// Packets received by the interface.
    Ingress,
    /// Packets sent by the interface.
    Egress,
}

impl TcAttachType {
    fn tcx_attach_type(self) -> u32 {
        match self {
            TcAttachType::Ingress => BPF_TCX_INGRESS,
            TcAttachType::Egress => BPF_TCX_EGRESS,
        }
    }

    fn direction(self) -> TcDirection {
        match self {
            TcAttachType::Ingress => TcDirection::Ingress,
            TcAttachType::Egress => TcDirection::Egress,
        }
    }
}

/// Where a TCX program goes among the programs already on the hook.
#[derive(Debug, Clone, Copy)]
pub enum LinkOrder<'a> {
    /// Before every other program.
    First,
    /// After every other program (the default).
    Last,
    /// Just before the program of this link.
    Before(&'a TcxLink),
    /// Just after the program of this link.
    After(&'a TcxLink),
    /// Just before the program with this kernel id.
    BeforeProgramId(u32),
    /// Just after the program with this kernel id.
    AfterProgramId(u32),
}

/// Options of a netlink (`cls_bpf`) attachment.
#[derive(Debug, Clone, Copy, Default)]
pub struct TcOptions {
    /// Filter priority; 0 lets the kernel choose.
    pub priority: u16,
    /// Filter handle; 0 lets the kernel choose.
    pub handle: u32,
}

/// A loaded TC classifier.
#[derive(Debug)]
pub struct SchedClassifier {
    pub(crate) data: ProgramData,
}

impl SchedClassifier {
    /// Attaches to the interface with a TCX link, or with a netlink `cls_bpf` filter on kernels
    /// before 6.6.
    pub fn attach(&self, ifindex: u32, attach_type: TcAttachType) -> Result<TcLink, ProgramError> {
        match self.attach_tcx(ifindex, attach_type, LinkOrder::Last) {
            Ok(link) => Ok(TcLink::Tcx(link)),
            Err(ProgramError::Syscall(err))
                if err.errno() == libc::EINVAL && !crate::features::kernel_at_least(6, 6) =>
            {
                Ok(TcLink::Netlink(self.attach_netlink(
                    ifindex,
                    attach_type,
                    TcOptions::default(),
                )?))
            }
            Err(err) => Err(err),
        }
    }

    /// Attaches with a TCX link (kernel 6.6), placed as `order` says.
    pub fn attach_tcx(
        &self,
        ifindex: u32,
        attach_type: TcAttachType,
        order: LinkOrder<'_>,
    ) -> Result<TcxLink, ProgramError> {
        let (flags, relative) = match order {
            LinkOrder::First => (BPF_F_BEFORE, None),
            LinkOrder::Last => (BPF_F_AFTER, None),
            LinkOrder::Before(link) => (
                BPF_F_BEFORE | BPF_F_LINK,
                Some(Relative::LinkFd(link.link.as_fd())),
            ),
            LinkOrder::After(link) => (
                BPF_F_AFTER | BPF_F_LINK,
                Some(Relative::LinkFd(link.link.as_fd())),
            ),
            LinkOrder::BeforeProgramId(id) => (BPF_F_BEFORE | BPF_F_ID, Some(Relative::ProgId(id))),
            LinkOrder::AfterProgramId(id) => (BPF_F_AFTER | BPF_F_ID, Some(Relative::ProgId(id))),
        };
        let attr = LinkCreate {
            prog_fd: self.data.fd()?,
            target: LinkTarget::Ifindex(ifindex),
            attach_type: attach_type.tcx_attach_type(),
            flags,
            extra: LinkExtra::Tcx {
                relative,
                expected_revision: 0,
            },
        };
        let fd = sys::link_create(&attr)?;
        Ok(TcxLink {
            link: FdLink::new(fd),
        })
    }

    /// Attaches as a direct-action `cls_bpf` filter under the interface's `clsact` qdisc, which is
    /// created when missing. Dropping the returned link removes the filter; the qdisc stays, since
    /// other filters may use it.
    pub fn attach_netlink(
        &self,
        ifindex: u32,
        attach_type: TcAttachType,
        options: TcOptions,
    ) -> Result<TcNetlinkLink, ProgramError> {
        let prog_fd = self.data.fd()?;
        sys::netlink::qdisc_add_clsact(ifindex)?;
        let direction = attach_type.direction();
        let (priority, handle) = sys::netlink::tc_filter_attach(
            ifindex,
            direction,
            options.priority,
            options.handle,
            prog_fd,
            &self.data.name,
        )?;
        Ok(TcNetlinkLink {
            ifindex,
            direction,
            priority,
            handle,
            attached: true,
        })
    }
}

/// A TC classifier attached either way.
#[derive(Debug)]
#[must_use = "dropping the link detaches the program"]
pub enum TcLink {
    /// With a TCX link.
    Tcx(TcxLink),
    /// With a netlink filter.
    Netlink(TcNetlinkLink),
}

/// A classifier attached with a TCX link. Dropping it detaches the program (unless pinned).
#[derive(Debug)]
#[must_use = "dropping the link detaches the program"]
pub struct TcxLink {
    link: FdLink,
}

impl TcxLink {
    /// The underlying `bpf_link`: pin it, read its info, update it, or keep it.
    pub fn fd_link(&self) -> &FdLink {
        &self.link
    }

    /// Atomically replaces the program, keeping its place in the order.
    pub fn update(&self, new_program: &SchedClassifier) -> Result<(), ProgramError> {
        Ok(self.link.update(new_program.data.fd()?)?)
    }

    /// Detaches now.
    pub fn detach(self) -> Result<(), ProgramError> {
        Ok(self.link.detach()?)
    }

    /// Leaves the program attached until the process exits.
    pub fn keep(self) {
        self.link.keep()
    }

    /// Turns this into the plain link.
    pub fn into_fd_link(self) -> FdLink {
        self.link
    }
}

/// A classifier attached as a netlink `cls_bpf` filter. Dropping it removes the filter.
#[derive(Debug)]
#[must_use = "dropping the link removes the filter"]
pub struct TcNetlinkLink {
    ifindex: u32,
    direction: TcDirection,
    priority: u16,
    handle: u32,
    attached: bool,
}

impl TcNetlinkLink {
    /// The filter's priority.
    pub fn priority(&self) -> u16 {
        self.priority
    }

    /// The filter's handle.
    pub fn handle(&self) -> u32 {
        self.handle
    }

    /// Removes the filter now.
    pub fn detach(mut self) -> Result<(), ProgramError> {
        self.attached = false;
        Ok(sys::netlink::tc_filter_detach(
            self.ifindex,
            self.direction,
            self.priority,
            self.handle,
        )?)
    }

    /// Leaves the filter in place, beyond this process.
    pub fn keep(mut self) {
        self.attached = false;
    }
}

impl Drop for TcNetlinkLink {
    fn drop(&mut self) {
        if self.attached {
            if let Err(err) = sys::netlink::tc_filter_detach(
                self.ifindex,
                self.direction,
                self.priority,
                self.handle,
            ) {
                log::warn!("removing a TC filter failed: {err}");
            }
        }
    }
}
