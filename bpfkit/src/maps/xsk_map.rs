//! `XskMap`: a `BPF_MAP_TYPE_XSKMAP`, where XDP programs redirect frames to AF_XDP sockets.
//!
//! Decisions:
//! * Slots are indexed by `u32`, usually the receive queue the socket is bound to (what the
//!   program passes to `bpf_redirect_map`). [`XskMap::set`] takes the AF_XDP socket (any
//!   [`AsFd`]); another kind of fd is [`MapError::FdRejected`].
//! * There is no `get`: the kernel refuses lookups of an XSK map from user space
//!   (`EOPNOTSUPP`); only programs can read it. For the same reason [`XskMap::remove`]
//!   returns `()`: the kernel's delete succeeds on empty slots, and nothing else can tell.

use std::borrow::Borrow;
use std::os::fd::AsFd;

use bpfkit_obj::uapi::map_type::BPF_MAP_TYPE_XSKMAP;

use super::array::check_index;
use super::fd_map::set_fd;
use super::{borrow_checked, MapData, MapError, UpdateFlags};

/// What an XSK map's values must be, for [`MapError::FdRejected`].
const EXPECTS: &str = "the fd of an AF_XDP socket bound to a device queue";

/// A `BPF_MAP_TYPE_XSKMAP`: `len()` slots, each empty or holding an AF_XDP socket.
///
/// ```no_run
/// # use std::os::fd::BorrowedFd;
/// # use bpfkit::maps::{MapData, UpdateFlags, XskMap};
/// # fn f(data: &MapData, xsk: BorrowedFd<'_>) -> Result<(), bpfkit::maps::MapError> {
/// let sockets = XskMap::try_from(data)?;
/// let queue = 0;
/// sockets.set(queue, xsk, UpdateFlags::empty())?; // frames of queue 0 now go to `xsk`
/// sockets.remove(queue)?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct XskMap<T> {
    inner: T,
}

impl<T: Borrow<MapData>> XskMap<T> {
    fn new(inner: T) -> Result<Self, MapError> {
        let inner = borrow_checked::<T, u32, u32>(
            inner,
            &[BPF_MAP_TYPE_XSKMAP],
            "BPF_MAP_TYPE_XSKMAP",
            Some(4),
        )?;
        Ok(XskMap { inner })
    }

    /// The underlying map.
    pub fn map(&self) -> &MapData {
        self.inner.borrow()
    }

    /// Gives the underlying map handle back.
    pub fn into_inner(self) -> T {
        self.inner
    }

    /// Number of slots (`max_entries`).
    pub fn len(&self) -> u32 {
        self.map().max_entries()
    }

    /// True for a zero-sized map.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Puts the AF_XDP `socket` in slot `index` (`NO_EXIST`, `EXIST` as for arrays).
    pub fn set(&self, index: u32, socket: impl AsFd, flags: UpdateFlags) -> Result<(), MapError> {
        let map = self.map();
        let key = check_index(map, index)?;
        set_fd(map, &key, socket.as_fd(), flags, EXPECTS)
    }

    /// Empties slot `index`. Unlike the other views' `remove`, this cannot say whether the
    /// slot held a socket: the kernel's delete succeeds on an empty slot too, and user space
    /// cannot look the slot up first.
    pub fn remove(&self, index: u32) -> Result<(), MapError> {
        let map = self.map();
        map.delete_bytes(&check_index(map, index)?).map(|_| ())
    }
}

try_from_map_data!(XskMap);
