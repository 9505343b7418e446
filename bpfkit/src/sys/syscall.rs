//! The `bpf(2)` entry point, its error type and file-descriptor plumbing.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use bpfkit_obj::uapi::cmd;

use super::uapi::Attr;

/// How many times [`bpf`] tries a command that fails with `EINTR` or `EAGAIN`. The verifier
/// returns `EAGAIN` when it is interrupted by a signal during a long verification, so a few
/// retries are useful; more than that means the condition is not transient.
const MAX_ATTEMPTS: u32 = 10;

/// A failed `bpf(2)` command (or a request bpfkit refused to send because it could not be
/// expressed safely, reported with `EINVAL`).
#[derive(Debug, thiserror::Error)]
#[error("{command} failed: {source}")]
pub struct SyscallError {
    /// The command, e.g. `"BPF_MAP_CREATE"`.
    pub command: &'static str,
    /// The OS error.
    #[source]
    pub source: io::Error,
}

impl SyscallError {
    /// Builds an error for `command` from an errno.
    pub fn from_errno(command: &'static str, errno: i32) -> SyscallError {
        SyscallError {
            command,
            source: io::Error::from_raw_os_error(errno),
        }
    }

    /// Builds an `EINVAL`-like error with an explanatory message, for requests rejected before
    /// they reach the kernel.
    pub fn invalid(command: &'static str, message: impl Into<String>) -> SyscallError {
        SyscallError {
            command,
            source: io::Error::new(io::ErrorKind::InvalidInput, message.into()),
        }
    }

    /// The errno (`EINVAL` for errors raised by bpfkit before the call).
    pub fn errno(&self) -> i32 {
        self.source.raw_os_error().unwrap_or(libc::EINVAL)
    }
}

/// The name of a `bpf(2)` command, for messages.
pub fn command_name(command: u32) -> &'static str {
    match command {
        cmd::BPF_MAP_CREATE => "BPF_MAP_CREATE",
        cmd::BPF_MAP_LOOKUP_ELEM => "BPF_MAP_LOOKUP_ELEM",
        cmd::BPF_MAP_UPDATE_ELEM => "BPF_MAP_UPDATE_ELEM",
        cmd::BPF_MAP_DELETE_ELEM => "BPF_MAP_DELETE_ELEM",
        cmd::BPF_MAP_GET_NEXT_KEY => "BPF_MAP_GET_NEXT_KEY",
        cmd::BPF_PROG_LOAD => "BPF_PROG_LOAD",
        cmd::BPF_OBJ_PIN => "BPF_OBJ_PIN",
        cmd::BPF_OBJ_GET => "BPF_OBJ_GET",
        cmd::BPF_PROG_ATTACH => "BPF_PROG_ATTACH",
        cmd::BPF_PROG_DETACH => "BPF_PROG_DETACH",
        cmd::BPF_PROG_TEST_RUN => "BPF_PROG_TEST_RUN",
        cmd::BPF_PROG_GET_NEXT_ID => "BPF_PROG_GET_NEXT_ID",
        cmd::BPF_MAP_GET_NEXT_ID => "BPF_MAP_GET_NEXT_ID",
        cmd::BPF_PROG_GET_FD_BY_ID => "BPF_PROG_GET_FD_BY_ID",
        cmd::BPF_MAP_GET_FD_BY_ID => "BPF_MAP_GET_FD_BY_ID",
        cmd::BPF_OBJ_GET_INFO_BY_FD => "BPF_OBJ_GET_INFO_BY_FD",
        cmd::BPF_PROG_QUERY => "BPF_PROG_QUERY",
        cmd::BPF_RAW_TRACEPOINT_OPEN => "BPF_RAW_TRACEPOINT_OPEN",
        cmd::BPF_BTF_LOAD => "BPF_BTF_LOAD",
        cmd::BPF_BTF_GET_FD_BY_ID => "BPF_BTF_GET_FD_BY_ID",
        cmd::BPF_TASK_FD_QUERY => "BPF_TASK_FD_QUERY",
        cmd::BPF_MAP_LOOKUP_AND_DELETE_ELEM => "BPF_MAP_LOOKUP_AND_DELETE_ELEM",
        cmd::BPF_MAP_FREEZE => "BPF_MAP_FREEZE",
        cmd::BPF_BTF_GET_NEXT_ID => "BPF_BTF_GET_NEXT_ID",
        cmd::BPF_MAP_LOOKUP_BATCH => "BPF_MAP_LOOKUP_BATCH",
        cmd::BPF_MAP_LOOKUP_AND_DELETE_BATCH => "BPF_MAP_LOOKUP_AND_DELETE_BATCH",
        cmd::BPF_MAP_UPDATE_BATCH => "BPF_MAP_UPDATE_BATCH",
        cmd::BPF_MAP_DELETE_BATCH => "BPF_MAP_DELETE_BATCH",
        cmd::BPF_LINK_CREATE => "BPF_LINK_CREATE",
        cmd::BPF_LINK_UPDATE => "BPF_LINK_UPDATE",
        cmd::BPF_LINK_GET_FD_BY_ID => "BPF_LINK_GET_FD_BY_ID",
        cmd::BPF_LINK_GET_NEXT_ID => "BPF_LINK_GET_NEXT_ID",
        cmd::BPF_ENABLE_STATS => "BPF_ENABLE_STATS",
        cmd::BPF_ITER_CREATE => "BPF_ITER_CREATE",
        cmd::BPF_LINK_DETACH => "BPF_LINK_DETACH",
        cmd::BPF_PROG_BIND_MAP => "BPF_PROG_BIND_MAP",
        cmd::BPF_TOKEN_CREATE => "BPF_TOKEN_CREATE",
        cmd::BPF_PROG_STREAM_READ_BY_FD => "BPF_PROG_STREAM_READ_BY_FD",
        _ => "BPF_UNKNOWN_COMMAND",
    }
}

/// Runs one `bpf(2)` command with `attr`, retrying `EINTR` and `EAGAIN` (bounded).
///
/// Returns the syscall's non-negative result (a new fd for the commands that create one).
///
/// # Safety
///
/// Every pointer field in `attr` must be 0 or point to memory that is valid for the access the
/// kernel makes for `command` (reads of the announced length for inputs, writes for outputs)
/// for the duration of the call, and every fd field must be an open fd of the right kind or
/// 0 where the command allows it. The safe wrappers in [`crate::sys`] uphold this.
pub unsafe fn bpf<A: Attr>(command: u32, attr: &mut A) -> Result<i64, SyscallError> {
    let name = command_name(command);
    let size = std::mem::size_of::<A>();
    let mut attempt = 0;
    loop {
        attempt += 1;
        // SAFETY: `attr` is a live, exclusively borrowed #[repr(C)] struct of `size` bytes with
        // no uninitialised padding (contract of `Attr`); the caller guarantees its pointers.
        let ret =
            unsafe { libc::syscall(libc::SYS_bpf, command as libc::c_long, attr as *mut A, size) };
        if ret >= 0 {
            return Ok(ret as i64);
        }
        let err = io::Error::last_os_error();
        let errno = err.raw_os_error().unwrap_or(0);
        if (errno == libc::EINTR || errno == libc::EAGAIN) && attempt < MAX_ATTEMPTS {
            continue;
        }
        return Err(SyscallError {
            command: name,
            source: err,
        });
    }
}

/// Wraps an fd returned by the kernel, moving it above 2 if it landed on 0, 1 or 2 (which
/// happens when a process closed its standard streams). An fd 0 would otherwise later be read
/// as "no fd" by the kernel.
pub(crate) fn owned_fd(raw: i64, command: &'static str) -> Result<OwnedFd, SyscallError> {
    let raw = i32::try_from(raw)
        .map_err(|_| SyscallError::invalid(command, format!("kernel returned fd {raw}")))?;
    // SAFETY: the kernel just created `raw` for us; nobody else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    if raw > 2 {
        return Ok(fd);
    }
    dup_above_stdio(fd.as_raw_fd()).map_err(|source| SyscallError { command, source })
    // `fd` (the low one) is closed here.
}

/// `fcntl(F_DUPFD_CLOEXEC, 3)`.
fn dup_above_stdio(raw: i32) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC only reads `raw`; on success it returns a new fd we own.
    let dup = unsafe { libc::fcntl(raw, libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `dup` is a fresh fd owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}

/// An fd as it goes into an attribute: the raw number, plus a duplicate kept alive for the call
/// when the original was 0 (which the kernel would read as "none").
pub(crate) struct AttrFd {
    raw: u32,
    _dup: Option<OwnedFd>,
}

impl AttrFd {
    /// Prepares `fd` for an attribute of `command`.
    pub(crate) fn new(fd: BorrowedFd<'_>, command: &'static str) -> Result<AttrFd, SyscallError> {
        let raw = fd.as_raw_fd();
        if raw != 0 {
            return Ok(AttrFd {
                raw: raw as u32,
                _dup: None,
            });
        }
        let dup = dup_above_stdio(raw).map_err(|source| SyscallError { command, source })?;
        Ok(AttrFd {
            raw: dup.as_raw_fd() as u32,
            _dup: Some(dup),
        })
    }

    /// Like [`AttrFd::new`] for an optional fd; `None` becomes 0.
    pub(crate) fn optional(
        fd: Option<BorrowedFd<'_>>,
        command: &'static str,
    ) -> Result<AttrFd, SyscallError> {
        match fd {
            Some(fd) => AttrFd::new(fd, command),
            None => Ok(AttrFd { raw: 0, _dup: None }),
        }
    }

    /// The number to put in the attribute.
    pub(crate) fn raw(&self) -> u32 {
        self.raw
    }
}

/// A slice's address as the kernel's `__aligned_u64` pointer (0 for an empty slice, so the
/// kernel never sees a dangling address).
pub(crate) fn ptr_of<T>(slice: &[T]) -> u64 {
    if slice.is_empty() {
        0
    } else {
        slice.as_ptr() as usize as u64
    }
}

/// A mutable slice's address as a kernel pointer (0 when empty).
pub(crate) fn mut_ptr_of<T>(slice: &mut [T]) -> u64 {
    if slice.is_empty() {
        0
    } else {
        slice.as_mut_ptr() as usize as u64
    }
}

/// Copies an object name into the kernel's 16-byte field: at most 15 bytes, keeping only
/// `[A-Za-z0-9_.]` (what the kernel accepts), NUL-terminated.
pub(crate) fn object_name(name: &str) -> [u8; super::uapi::BPF_OBJ_NAME_LEN] {
    let mut out = [0u8; super::uapi::BPF_OBJ_NAME_LEN];
    let accepted = name
        .bytes()
        .filter(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.');
    for (slot, byte) in out
        .iter_mut()
        .take(super::uapi::BPF_OBJ_NAME_LEN - 1)
        .zip(accepted)
    {
        *slot = byte;
    }
    out
}

/// Reads a NUL-terminated name out of a fixed kernel buffer.
pub(crate) fn name_from_bytes(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(bytes.get(..end).unwrap_or_default()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_display_names_command_and_errno() {
        let err = SyscallError::from_errno("BPF_MAP_CREATE", libc::EPERM);
        assert_eq!(
            err.to_string(),
            "BPF_MAP_CREATE failed: Operation not permitted (os error 1)"
        );
        assert_eq!(err.errno(), libc::EPERM);
        let invalid = SyscallError::invalid("BPF_PROG_LOAD", "license contains a NUL byte");
        assert_eq!(
            invalid.to_string(),
            "BPF_PROG_LOAD failed: license contains a NUL byte"
        );
        assert_eq!(invalid.errno(), libc::EINVAL);
    }

    #[test]
    fn command_names() {
        assert_eq!(command_name(cmd::BPF_LINK_CREATE), "BPF_LINK_CREATE");
        assert_eq!(command_name(cmd::BPF_PROG_LOAD), "BPF_PROG_LOAD");
        assert_eq!(command_name(9999), "BPF_UNKNOWN_COMMAND");
    }

    #[test]
    fn object_names_are_truncated_and_filtered() {
        assert_eq!(&object_name("counts")[..7], b"counts\0");
        let long = object_name("a_very_long_map_name_indeed");
        assert_eq!(&long[..15], b"a_very_long_map");
        assert_eq!(long[15], 0);
        assert_eq!(&object_name("x-y/z.bss!")[..7], b"xyz.bss");
        assert_eq!(name_from_bytes(b"abc\0\0\0"), "abc");
        assert_eq!(name_from_bytes(b"abcdef"), "abcdef");
    }

    #[test]
    fn empty_slices_become_null() {
        let empty: [u8; 0] = [];
        assert_eq!(ptr_of(&empty), 0);
        assert_ne!(ptr_of(&[1u8]), 0);
    }
}
