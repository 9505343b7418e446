//! Socket filters (`SEC("socket")`): attached to one socket with `SO_ATTACH_BPF`.

use std::os::fd::{AsFd, BorrowedFd};

use super::{io_error, ProgramData, ProgramError};
use crate::sys;

/// A loaded socket filter program.
///
/// ```no_run
/// # fn run(ebpf: &mut bpfkit::Ebpf) -> Result<(), Box<dyn std::error::Error>> {
/// let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
/// let filter: &mut bpfkit::programs::SocketFilter = ebpf.program_mut("udp_filter").ok_or("missing")?.try_into()?;
/// let attached = filter.attach(&socket)?; // detached again when `attached` is dropped
/// # drop(attached); Ok(()) }
/// ```
#[derive(Debug)]
pub struct SocketFilter {
    pub(crate) data: ProgramData,
}

impl SocketFilter {
    /// Attaches the filter to `socket`. The socket keeps filtering until the returned guard is
    /// dropped (or [`SocketFilterLink::keep`] is called, or the socket closes).
    pub fn attach<'s, S: AsFd>(&self, socket: &'s S) -> Result<SocketFilterLink<'s>, ProgramError> {
        let socket = socket.as_fd();
        sys::attach_socket_filter(socket, self.data.fd()?).map_err(io_error("SO_ATTACH_BPF"))?;
        Ok(SocketFilterLink {
            socket: Some(socket),
        })
    }
}

/// A socket filter attached to a socket; dropping it detaches the filter.
#[derive(Debug)]
#[must_use = "dropping the link detaches the filter"]
pub struct SocketFilterLink<'s> {
    socket: Option<BorrowedFd<'s>>,
}

impl SocketFilterLink<'_> {
    /// Detaches now, reporting errors that `Drop` would ignore.
    pub fn detach(mut self) -> Result<(), ProgramError> {
        match self.socket.take() {
            Some(socket) => sys::detach_socket_filter(socket).map_err(io_error("SO_DETACH_BPF")),
            None => Ok(()),
        }
    }

    /// Leaves the filter on the socket for the socket's lifetime.
    pub fn keep(mut self) {
        self.socket = None;
    }
}

impl Drop for SocketFilterLink<'_> {
    fn drop(&mut self) {
        if let Some(socket) = self.socket.take() {
            if let Err(err) = sys::detach_socket_filter(socket) {
                log::warn!("detaching a socket filter failed: {err}");
            }
        }
    }
}
