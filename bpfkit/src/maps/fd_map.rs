//! Shared plumbing of the maps whose values are fds (program arrays, device, CPU, socket and
//! AF_XDP socket maps, maps of maps) and of the local storages whose keys are fds.
//!
//! The kernel reads the fd out of the value (or key) during the update and keeps its own
//! reference to the object; the fd itself is not stored. So every view here:
//! * puts the fd's number in the value through [`AttrFd`], which keeps a duplicate above fd 0
//!   alive for the call when the caller's fd is 0 (device and CPU maps read a program fd of 0
//!   as "no program");
//! * turns the kernel's refusal of the object behind the fd into [`MapError::FdRejected`],
//!   which names what the map takes (a bare `EINVAL` says nothing about the fd);
//! * reads back ids (of programs, maps) or socket cookies, never fds.

use std::num::NonZeroU32;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::{decode_pod, MapData, MapError, UpdateFlags, ENOTSUPP};
use crate::sys::{AttrFd, SyscallError};

/// The command whose attribute carries the value, for messages.
const UPDATE: &str = "BPF_MAP_UPDATE_ELEM";

/// The errnos with which the kernel refuses the object behind an fd: not an fd (`EBADF`), not a
/// socket (`ENOTSOCK`), a socket or object of a kind the map does not hold (`EOPNOTSUPP`,
/// `ENOTSUPP`, `EAFNOSUPPORT`, `EPROTONOSUPPORT`), or an object of the wrong type or shape
/// (`EINVAL`). `EINVAL` also answers flags a map does not accept (program arrays take only the
/// empty set), so it only counts as a refusal of the fd when no flags were given.
pub(super) fn is_fd_refusal(errno: i32, flags: UpdateFlags) -> bool {
    match errno {
        libc::EBADF
        | libc::ENOTSOCK
        | libc::EOPNOTSUPP
        | ENOTSUPP
        | libc::EAFNOSUPPORT
        | libc::EPROTONOSUPPORT => true,
        libc::EINVAL => flags.is_empty(),
        _ => false,
    }
}

/// Wraps a failed update or lookup that involved an fd.
pub(super) fn fd_error(
    map: &MapData,
    err: MapError,
    flags: UpdateFlags,
    expects: &'static str,
) -> MapError {
    match err {
        MapError::Syscall(source) if is_fd_refusal(source.errno(), flags) => {
            rejected(map, source, expects)
        }
        other => other,
    }
}

/// [`MapError::FdRejected`] for a refusal the errno alone does not identify (see
/// [`super::CpuMap::set`]).
pub(super) fn rejected(map: &MapData, source: SyscallError, expects: &'static str) -> MapError {
    MapError::FdRejected {
        name: map.name().to_owned(),
        expects,
        source,
    }
}

/// The number the kernel reads from a value as an fd, kept valid (and non-zero) for the call.
pub(super) fn value_fd(fd: BorrowedFd<'_>) -> Result<AttrFd, MapError> {
    Ok(AttrFd::new(fd, UPDATE)?)
}

/// Writes `value`, which embeds an fd, at `key`.
pub(super) fn update_with_fd(
    map: &MapData,
    key: &[u8],
    value: &[u8],
    flags: UpdateFlags,
    expects: &'static str,
) -> Result<(), MapError> {
    map.update_bytes(key, value, flags.bits())
        .map_err(|err| fd_error(map, err, flags, expects))
}

/// Stores `fd` as the whole value at `key`: a `u32`, or a `u64` in the maps that accept 8-byte
/// values (socket maps).
pub(super) fn set_fd(
    map: &MapData,
    key: &[u8],
    fd: BorrowedFd<'_>,
    flags: UpdateFlags,
    expects: &'static str,
) -> Result<(), MapError> {
    let fd = value_fd(fd)?;
    let value = if map.value_size() == 8 {
        u64::from(fd.raw()).to_ne_bytes().to_vec()
    } else {
        fd.raw().to_ne_bytes().to_vec()
    };
    update_with_fd(map, key, &value, flags, expects)
}

/// Reads a value the kernel reports as a `u32` (an object id), `None` when the slot is empty.
pub(super) fn lookup_u32(map: &MapData, key: &[u8]) -> Result<Option<u32>, MapError> {
    map.lookup_bytes(key, 0)?
        .map(|bytes| decode_pod::<u32>(map.name(), &bytes))
        .transpose()
}

/// Size of `struct bpf_devmap_val` and `struct bpf_cpumap_val`: a `u32`, then a program (fd in,
/// id out).
pub(super) const WITH_PROGRAM_SIZE: usize = 8;

/// Encodes the value of a device or CPU map: `first` (ifindex, queue size) alone for 4-byte
/// values, or followed by the program's fd (-1: none, as libbpf writes it) for the struct form.
/// A program on a map of 4-byte values is [`MapError::Unsupported`]: the kernel would have no
/// place for it.
pub(super) fn encode_with_program(
    map: &MapData,
    first: u32,
    program: Option<&AttrFd>,
    feature: &'static str,
    struct_name: &'static str,
    since: (u32, u32),
) -> Result<Vec<u8>, MapError> {
    let mut value = first.to_ne_bytes().to_vec();
    if map.value_size() as usize == WITH_PROGRAM_SIZE {
        let fd = program.map_or(-1, |fd| fd.raw() as i32);
        value.extend_from_slice(&fd.to_ne_bytes());
    } else if program.is_some() {
        return Err(MapError::Unsupported {
            name: map.name().to_owned(),
            feature,
            reason: format!(
                "the map has {}-byte values; a program per entry needs 8-byte `{struct_name}` \
                 values (Linux {}.{})",
                map.value_size(),
                since.0,
                since.1
            ),
        });
    }
    Ok(value)
}

/// Decodes a device or CPU map value: the `u32`, and the id of the entry's program when the
/// values are the struct form and one is set.
pub(super) fn decode_with_program(
    name: &str,
    bytes: &[u8],
) -> Result<(u32, Option<NonZeroU32>), MapError> {
    let first = decode_pod::<u32>(name, bytes)?;
    let program = match bytes.get(4..) {
        Some(rest) if !rest.is_empty() => NonZeroU32::new(decode_pod::<u32>(name, rest)?),
        _ => None,
    };
    Ok((first, program))
}

/// The key of a local storage: the fd's number as the kernel's `int`.
pub(super) fn fd_key(fd: BorrowedFd<'_>) -> [u8; 4] {
    fd.as_raw_fd().to_ne_bytes()
}

/// The occupied slots of an array-like map as `(index, value)`, in index order: every index is
/// looked up, since `BPF_MAP_GET_NEXT_KEY` on an array lists empty slots too.
pub(super) fn occupied<'a, V: 'a>(
    len: u32,
    get: impl Fn(u32) -> Result<Option<V>, MapError> + 'a,
) -> impl Iterator<Item = Result<(u32, V), MapError>> + 'a {
    (0..len).filter_map(move |index| match get(index) {
        Ok(Some(value)) => Some(Ok((index, value))),
        Ok(None) => None,
        Err(err) => Some(Err(err)),
    })
}

/// Empties a slot of a device or CPU map, saying whether it was occupied. Their delete succeeds
/// on an empty slot too, so the answer comes from a lookup just before (a concurrent update
/// between the two can make it stale, as any answer about a shared map).
pub(super) fn remove_looked_up(map: &MapData, key: &[u8]) -> Result<bool, MapError> {
    let occupied = map.lookup_bytes(key, 0)?.is_some();
    map.delete_bytes(key)?;
    Ok(occupied)
}
