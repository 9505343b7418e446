//! Kernel `bpf_link`s: attachments that live as long as a file descriptor (or a pin).
//!
//! Each program type's link (e.g. [`crate::programs::XdpLink`]) wraps an [`FdLink`] when the
//! kernel supports links for it, or a legacy attachment (netlink, `PROG_ATTACH`) otherwise. All of
//! them detach when dropped, unless pinned or explicitly kept.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::sys::{self, SyscallError};

/// A `bpf_link` file descriptor. Dropping it detaches the program, unless the link was pinned
/// (or opened from a pin) or kept.
///
/// The kernel detaches a link when its last fd closes; a child process forked meanwhile (a
/// `std::process::Command`, say) holds a copy of the fd until it execs or exits, which would keep
/// the program attached. So the drop asks the kernel to detach (`BPF_LINK_DETACH`) before closing,
/// and the program is gone when the drop returns.
#[derive(Debug)]
#[must_use = "dropping the link detaches the program"]
pub struct FdLink {
    fd: OwnedFd,
    /// Pinned links belong to their pin: dropping the handle only closes it.
    pinned: AtomicBool,
}

impl FdLink {
    pub(crate) fn new(fd: OwnedFd) -> FdLink {
        FdLink {
            fd,
            pinned: AtomicBool::new(false),
        }
    }

    /// Opens a link pinned at `path` on a bpffs. Dropping the handle leaves it attached.
    pub fn from_pin(path: impl AsRef<Path>) -> Result<FdLink, SyscallError> {
        Ok(FdLink {
            fd: sys::obj_get(path.as_ref(), 0)?,
            pinned: AtomicBool::new(true),
        })
    }

    /// Pins the link at `path` on a bpffs: the attachment then outlives this handle and this
    /// process, until the pin is removed.
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<(), SyscallError> {
        sys::obj_pin(self.fd.as_fd(), path.as_ref())?;
        self.pinned.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// The kernel's description of the link (id, type, program id, target).
    pub fn info(&self) -> Result<sys::LinkInfo, SyscallError> {
        sys::link_info(self.as_fd())
    }

    /// Atomically replaces the attached program with `new_program`.
    pub fn update(&self, new_program: BorrowedFd<'_>) -> Result<(), SyscallError> {
        sys::link_update(self.as_fd(), new_program, None, 0)
    }

    /// Detaches the program now, even when the link is pinned or shared.
    pub fn detach(self) -> Result<(), SyscallError> {
        let result = sys::link_detach(self.as_fd());
        // Detached already: the drop only has to close.
        self.pinned.store(true, Ordering::Relaxed);
        result
    }

    /// Leaves the program attached for as long as this process lives, without keeping a handle.
    pub fn keep(self) {
        // Forgetting the handle skips the drop: the fd stays open (and the link attached) until
        // the process exits.
        std::mem::forget(self);
    }
}

impl AsFd for FdLink {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for FdLink {
    fn drop(&mut self) {
        if self.pinned.load(Ordering::Relaxed) {
            return;
        }
        // Links that cannot be detached explicitly (EOPNOTSUPP on some types and kernels) go
        // when the fd closes, just below.
        if let Err(err) = sys::link_detach(self.fd.as_fd()) {
            if err.errno() != libc::EOPNOTSUPP && err.errno() != libc::EINVAL {
                log::debug!("BPF_LINK_DETACH on drop failed: {err}");
            }
        }
    }
}
