//! XDP programs (`SEC("xdp")`, `SEC("xdp.frags")`, ...): attached to a network interface.
//!
//! The kernel's XDP `bpf_link` (5.9) is used first; on kernels without it, the legacy netlink
//! attachment (`IFLA_XDP`) takes over. Both detach when the returned [`XdpLink`] is dropped.

use std::os::fd::{AsFd, OwnedFd};

use bitflags::bitflags;
use bpfkit_obj::uapi::attach_type::BPF_XDP;

use super::{ProgramData, ProgramError};
use crate::links::FdLink;
use crate::sys::uapi::consts::XDP_FLAGS_REPLACE;
use crate::sys::{self, LinkCreate, LinkExtra, LinkTarget};

bitflags! {
    /// Where and how XDP runs (`XDP_FLAGS_*`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct XdpFlags: u32 {
        /// Fail instead of replacing a program already attached (netlink only; links never replace).
        const UPDATE_IF_NOEXIST = 1 << 0;
        /// Generic XDP, in the kernel's receive path: works on every interface.
        const SKB_MODE = 1 << 1;
        /// Native XDP, in the driver.
        const DRV_MODE = 1 << 2;
        /// Offloaded to the NIC.
        const HW_MODE = 1 << 3;
    }
}

/// A loaded XDP program.
#[derive(Debug)]
pub struct Xdp {
    pub(crate) data: ProgramData,
}

impl Xdp {
    /// Attaches to the interface `ifindex` with a `bpf_link`, or with netlink on kernels older than
    /// 5.9. The program stays attached until the returned link is dropped.
    pub fn attach(&self, ifindex: u32, flags: XdpFlags) -> Result<XdpLink, ProgramError> {
        let attr = LinkCreate {
            prog_fd: self.data.fd()?,
            target: LinkTarget::Ifindex(ifindex),
            attach_type: BPF_XDP,
            // Links reject UPDATE_IF_NOEXIST: they never replace anything anyway.
            flags: (flags - XdpFlags::UPDATE_IF_NOEXIST).bits(),
            extra: LinkExtra::None,
        };
        match sys::link_create(&attr) {
            Ok(fd) => Ok(XdpLink {
                inner: XdpLinkInner::Fd(FdLink::new(fd)),
            }),
            // Kernels before 5.9 do not know BPF_XDP in LINK_CREATE and answer EINVAL.
            Err(err) if err.errno() == libc::EINVAL && !crate::features::kernel_at_least(5, 9) => {
                self.attach_netlink(ifindex, flags)
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Attaches with the legacy netlink interface (`IFLA_XDP`), which any kernel with XDP has.
    /// Unlike a link, such an attachment survives the process unless detached; the returned
    /// [`XdpLink`] detaches it when dropped.
    pub fn attach_netlink(&self, ifindex: u32, flags: XdpFlags) -> Result<XdpLink, ProgramError> {
        let prog_fd = self.data.fd()?;
        sys::netlink::xdp_attach(ifindex, prog_fd, flags.bits(), None)?;
        let prog_fd = prog_fd
            .try_clone_to_owned()
            .map_err(super::io_error("dup of the program fd"))?;
        Ok(XdpLink {
            inner: XdpLinkInner::Netlink {
                ifindex,
                flags,
                prog_fd: Some(prog_fd),
            },
        })
    }
}

/// An XDP program attached to an interface. Dropping it detaches the program.
#[derive(Debug)]
#[must_use = "dropping the link detaches the program"]
pub struct XdpLink {
    inner: XdpLinkInner,
}

#[derive(Debug)]
enum XdpLinkInner {
    Fd(FdLink),
    /// `prog_fd` is the attached program, checked on detach so we never remove someone else's;
    /// `None` once kept.
    Netlink {
        ifindex: u32,
        flags: XdpFlags,
        prog_fd: Option<OwnedFd>,
    },
}

impl XdpLink {
    /// Atomically replaces the attached program with `new_program`: packets never see the
    /// interface without a program.
    pub fn update(&mut self, new_program: &Xdp) -> Result<(), ProgramError> {
        let new_fd = new_program.data.fd()?;
        match &mut self.inner {
            XdpLinkInner::Fd(link) => link.update(new_fd)?,
            XdpLinkInner::Netlink {
                ifindex,
                flags,
                prog_fd,
            } => {
                let old = prog_fd.as_ref().map(|fd| fd.as_fd());
                let replace_flag = if old.is_some() { XDP_FLAGS_REPLACE } else { 0 };
                let mode = (*flags - XdpFlags::UPDATE_IF_NOEXIST).bits();
                sys::netlink::xdp_attach(*ifindex, new_fd, mode | replace_flag, old)?;
                *prog_fd = Some(
                    new_fd
                        .try_clone_to_owned()
                        .map_err(super::io_error("dup of the program fd"))?,
                );
            }
        }
        Ok(())
    }

    /// Whether this is a `bpf_link` (rather than a netlink attachment).
    pub fn is_bpf_link(&self) -> bool {
        matches!(self.inner, XdpLinkInner::Fd(_))
    }

    /// The underlying `bpf_link`, to pin it or read its info; `None` for netlink attachments.
    pub fn fd_link(&self) -> Option<&FdLink> {
        match &self.inner {
            XdpLinkInner::Fd(link) => Some(link),
            XdpLinkInner::Netlink { .. } => None,
        }
    }

    /// Detaches now, reporting errors that `Drop` would only log.
    pub fn detach(mut self) -> Result<(), ProgramError> {
        self.detach_inner()
    }

    /// Leaves the program attached after this handle is gone (for a `bpf_link`, until the
    /// process exits; pin it to keep it longer).
    pub fn keep(mut self) {
        match &mut self.inner {
            XdpLinkInner::Fd(_) => {
                let inner = std::mem::replace(
                    &mut self.inner,
                    XdpLinkInner::Netlink {
                        ifindex: 0,
                        flags: XdpFlags::empty(),
                        prog_fd: None,
                    },
                );
                if let XdpLinkInner::Fd(link) = inner {
                    link.keep();
                }
            }
            XdpLinkInner::Netlink { prog_fd, .. } => *prog_fd = None,
        }
    }

    fn detach_inner(&mut self) -> Result<(), ProgramError> {
        match &mut self.inner {
            // Closing the fd (in Drop) detaches; an explicit detach also covers pinned links.
            XdpLinkInner::Fd(link) => Ok(sys::link_detach(link.as_fd())?),
            XdpLinkInner::Netlink {
                ifindex,
                flags,
                prog_fd,
            } => match prog_fd.take() {
                Some(fd) => {
                    let mode = (*flags - XdpFlags::UPDATE_IF_NOEXIST).bits();
                    Ok(sys::netlink::xdp_detach(
                        *ifindex,
                        mode | XDP_FLAGS_REPLACE,
                        Some(fd.as_fd()),
                    )?)
                }
                None => Ok(()),
            },
        }
    }
}

impl Drop for XdpLink {
    fn drop(&mut self) {
        // A bpf_link detaches by itself when its fd closes (unless pinned): nothing to do here.
        if let XdpLinkInner::Netlink { .. } = self.inner {
            if let Err(err) = self.detach_inner() {
                log::warn!("detaching an XDP program failed: {err}");
            }
        }
    }
}
