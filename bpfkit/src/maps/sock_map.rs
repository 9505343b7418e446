//! Socket maps: `SockMap` (`BPF_MAP_TYPE_SOCKMAP`, indexed) and `SockHash`
//! (`BPF_MAP_TYPE_SOCKHASH`, keyed by any `K`), where sk_msg and sk_skb programs redirect data
//! between sockets.
//!
//! Decisions:
//! * `set`/`insert` take the socket (any [`AsFd`]: a `TcpStream`, `UdpSocket`, `UnixStream`,
//!   ...); a socket the kernel cannot hold (e.g. a TCP socket neither listening nor
//!   established) or a non-socket fd is [`MapError::FdRejected`].
//! * The maps accept 4- or 8-byte values (the fd is written as a `u32` or `u64` accordingly).
//!   What user space reads back is the socket's cookie (Linux 5.6), which the kernel only
//!   returns into 8-byte values; `get` on a map of 4-byte values is
//!   [`MapError::Unsupported`].
//! * [`SockMap::remove`] says `false` for an empty slot; the kernel answers it with `EINVAL`
//!   (not `ENOENT`), which the view translates after its own bounds check.

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::os::fd::AsFd;

use bpfkit_obj::uapi::map_type::{BPF_MAP_TYPE_SOCKHASH, BPF_MAP_TYPE_SOCKMAP};

use super::array::check_index;
use super::fd_map::set_fd;
use super::{decode_pod, feature_error, key_bytes, MapData, MapError, MapKeys, UpdateFlags};
use crate::pod::Pod;

/// What a socket map's values must be, for [`MapError::FdRejected`].
const EXPECTS: &str = "the fd of a socket of a supported kind (TCP listening or established, \
                       UDP, Unix, vsock)";

fn check<K>(map: &MapData, accepted: u32, expected: &'static str) -> Result<(), MapError> {
    map.check_type_and_key::<K>(&[accepted], expected, Some(std::mem::size_of::<K>()))?;
    map.check_value_size("u32 or u64 (socket fd)", &[4, 8])
}

/// The cookie of the socket at `key`.
fn cookie(map: &MapData, key: &[u8]) -> Result<Option<u64>, MapError> {
    if map.value_size() != 8 {
        return Err(MapError::Unsupported {
            name: map.name().to_owned(),
            feature: "reading a socket map from user space",
            reason: format!(
                "the kernel returns the socket's cookie, which needs 8-byte values; this map has \
                 {}-byte values",
                map.value_size()
            ),
        });
    }
    map.lookup_bytes(key, 0)
        .map_err(|err| feature_error(map, err, "socket cookies from socket map lookups", (5, 6)))?
        .map(|bytes| decode_pod::<u64>(map.name(), &bytes))
        .transpose()
}

/// A `BPF_MAP_TYPE_SOCKMAP`: `len()` slots indexed by `u32`, each empty or holding a socket.
///
/// ```no_run
/// # use std::net::TcpStream;
/// # use bpfkit::maps::{MapData, SockMap, UpdateFlags};
/// # fn f(data: &MapData, stream: &TcpStream) -> Result<(), bpfkit::maps::MapError> {
/// let sockets = SockMap::try_from(data)?;
/// sockets.set(0, stream, UpdateFlags::empty())?;
/// let cookie = sockets.get(0)?; // the socket's cookie (maps of 8-byte values)
/// sockets.remove(0)?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct SockMap<T> {
    inner: T,
}

impl<T: Borrow<MapData>> SockMap<T> {
    fn new(inner: T) -> Result<Self, MapError> {
        check::<u32>(inner.borrow(), BPF_MAP_TYPE_SOCKMAP, "BPF_MAP_TYPE_SOCKMAP")?;
        Ok(SockMap { inner })
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

    /// Puts `socket` in slot `index` (`NO_EXIST`, `EXIST` as for arrays).
    pub fn set(&self, index: u32, socket: impl AsFd, flags: UpdateFlags) -> Result<(), MapError> {
        let map = self.map();
        set_fd(
            map,
            &check_index(map, index)?,
            socket.as_fd(),
            flags,
            EXPECTS,
        )
    }

    /// The cookie of the socket in slot `index`, `None` when empty (8-byte values only).
    pub fn get(&self, index: u32) -> Result<Option<u64>, MapError> {
        let map = self.map();
        cookie(map, &check_index(map, index)?)
    }

    /// Empties slot `index`; `false` if it was empty.
    pub fn remove(&self, index: u32) -> Result<bool, MapError> {
        let map = self.map();
        match map.delete_bytes(&check_index(map, index)?) {
            // In range (checked above), so EINVAL means the slot held no socket.
            Err(err) if err.errno() == Some(libc::EINVAL) => Ok(false),
            other => other,
        }
    }
}

try_from_map_data!(SockMap);

/// A `BPF_MAP_TYPE_SOCKHASH` of sockets keyed by `K`.
///
/// ```no_run
/// # use std::net::TcpStream;
/// # use bpfkit::maps::{MapData, SockHash, UpdateFlags};
/// # fn f(data: &MapData, stream: &TcpStream) -> Result<(), Box<dyn std::error::Error>> {
/// let by_port: SockHash<_, u32> = SockHash::try_from(data)?;
/// let port = u32::from(stream.local_addr()?.port());
/// by_port.insert(&port, stream, UpdateFlags::NO_EXIST)?;
/// for port in by_port.keys() { println!("{}", port?); }
/// by_port.remove(&port)?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct SockHash<T, K> {
    inner: T,
    _key: PhantomData<K>,
}

impl<T: Borrow<MapData>, K: Pod> SockHash<T, K> {
    fn new(inner: T) -> Result<Self, MapError> {
        check::<K>(
            inner.borrow(),
            BPF_MAP_TYPE_SOCKHASH,
            "BPF_MAP_TYPE_SOCKHASH",
        )?;
        Ok(SockHash {
            inner,
            _key: PhantomData,
        })
    }

    /// The underlying map.
    pub fn map(&self) -> &MapData {
        self.inner.borrow()
    }

    /// Gives the underlying map handle back.
    pub fn into_inner(self) -> T {
        self.inner
    }

    /// Stores `socket` under `key` (`NO_EXIST`, `EXIST` as for hash maps).
    pub fn insert(&self, key: &K, socket: impl AsFd, flags: UpdateFlags) -> Result<(), MapError> {
        set_fd(self.map(), key_bytes(key), socket.as_fd(), flags, EXPECTS)
    }

    /// The cookie of the socket under `key`, or `None` (8-byte values only).
    pub fn get(&self, key: &K) -> Result<Option<u64>, MapError> {
        cookie(self.map(), key_bytes(key))
    }

    /// Removes `key`; `false` if it was not there.
    pub fn remove(&self, key: &K) -> Result<bool, MapError> {
        self.map().delete_bytes(key_bytes(key))
    }

    /// Iterates over the keys.
    pub fn keys(&self) -> MapKeys<'_, K> {
        MapKeys::new(self.map())
    }
}

try_from_map_data!(SockHash<K>);
