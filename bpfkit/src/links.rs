//! Kernel `bpf_link`s: attachments that live as long as a file descriptor (or a pin).
//!
//! Each program type's link (e.g. [`crate::programs::XdpLink`]) wraps an [`FdLink`] when the
//! kernel supports links for it, or a legacy attachment (netlink, `PROG_ATTACH`) otherwise. All of
//! them detach when dropped, unless pinned or explicitly kept.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::sys::{self, SyscallError};

/// A `bpf_link` file descriptor. Closing the last reference detaches the program, so dropping
/// this detaches it unless the link was pinned.
#[derive(Debug)]
#[must_use = "dropping the link detaches the program"]
pub struct FdLink {
    fd: OwnedFd,
}

impl FdLink {
    pub(crate) fn new(fd: OwnedFd) -> FdLink {
        FdLink { fd }
    }

    /// Opens a link pinned at `path` on a bpffs.
    pub fn from_pin(path: impl AsRef<Path>) -> Result<FdLink, SyscallError> {
        Ok(FdLink {
            fd: sys::obj_get(path.as_ref(), 0)?,
        })
    }

    /// Pins the link at `path` on a bpffs: the attachment then outlives this handle and this
    /// process, until the pin is removed.
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<(), SyscallError> {
        sys::obj_pin(self.fd.as_fd(), path.as_ref())
    }

    /// The kernel's description of the link (id, type, program id, target).
    pub fn info(&self) -> Result<sys::LinkInfo, SyscallError> {
        sys::link_info(self.fd.as_fd())
    }

    /// Atomically replaces the attached program with `new_program`.
    pub fn update(&self, new_program: BorrowedFd<'_>) -> Result<(), SyscallError> {
        sys::link_update(self.fd.as_fd(), new_program, None, 0)
    }

    /// Detaches the program now, even when the link is pinned or shared.
    pub fn detach(self) -> Result<(), SyscallError> {
        sys::link_detach(self.fd.as_fd())
    }

    /// Leaves the program attached for as long as this process lives, without keeping a handle.
    pub fn keep(self) {
        // The fd stays open (and the link attached) until the process exits.
        std::mem::forget(self.fd);
    }
}

impl AsFd for FdLink {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl From<FdLink> for OwnedFd {
    fn from(link: FdLink) -> OwnedFd {
        link.fd
    }
}
