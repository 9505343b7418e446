//! Device maps: `DevMap` (`BPF_MAP_TYPE_DEVMAP`, indexed) and `DevMapHash`
//! (`BPF_MAP_TYPE_DEVMAP_HASH`, keyed by any `u32`), where XDP programs redirect frames to
//! network devices.
//!
//! A value is either a 4-byte ifindex, or (Linux 5.8) the 8-byte `struct bpf_devmap_val`: the
//! ifindex and a program to run on each frame before it leaves (an XDP program loaded with
//! expected attach type `BPF_XDP_DEVMAP`). The map's value size says which; the views accept
//! both.
//!
//! Decisions:
//! * `set`/`insert` take the ifindex and an optional program fd; a program on a map of 4-byte
//!   values is [`MapError::Unsupported`] (no place for it), and a program the kernel refuses,
//!   or an ifindex it cannot find, is [`MapError::FdRejected`].
//! * `get` returns a [`DevMapValue`]: the ifindex and the program's id (the kernel gives ids
//!   back, not fds).

use std::borrow::Borrow;
use std::num::NonZeroU32;
use std::os::fd::BorrowedFd;

use bpfkit_obj::uapi::map_type::{BPF_MAP_TYPE_DEVMAP, BPF_MAP_TYPE_DEVMAP_HASH};

use super::array::check_index;
use super::fd_map::{
    decode_with_program, encode_with_program, occupied, remove_looked_up, update_with_fd, value_fd,
    WITH_PROGRAM_SIZE,
};
use super::{MapData, MapError, MapIter, MapKeys, UpdateFlags};

/// What a device map's values must be, for [`MapError::FdRejected`].
const EXPECTS: &str = "an existing interface's index and, optionally, the fd of an XDP program \
                       loaded with expected attach type BPF_XDP_DEVMAP";

/// An entry of a device map, as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DevMapValue {
    /// The target device.
    pub ifindex: u32,
    /// The id of the program run before the frame is sent (struct-form maps only).
    pub program_id: Option<NonZeroU32>,
}

fn check(map: &MapData, accepted: u32, expected: &'static str) -> Result<(), MapError> {
    map.check_type_and_key::<u32>(&[accepted], expected, Some(4))?;
    map.check_value_size("u32 (ifindex) or bpf_devmap_val", &[4, WITH_PROGRAM_SIZE])
}

fn decode(name: &str, bytes: &[u8]) -> Result<DevMapValue, MapError> {
    let (ifindex, program_id) = decode_with_program(name, bytes)?;
    Ok(DevMapValue {
        ifindex,
        program_id,
    })
}

fn get(map: &MapData, key: &[u8]) -> Result<Option<DevMapValue>, MapError> {
    map.lookup_bytes(key, 0)?
        .map(|bytes| decode(map.name(), &bytes))
        .transpose()
}

fn set(
    map: &MapData,
    key: &[u8],
    ifindex: u32,
    program: Option<BorrowedFd<'_>>,
    flags: UpdateFlags,
) -> Result<(), MapError> {
    let program = program.map(value_fd).transpose()?;
    let value = encode_with_program(
        map,
        ifindex,
        program.as_ref(),
        "a program per device map entry",
        "bpf_devmap_val",
        (5, 8),
    )?;
    update_with_fd(map, key, &value, flags, EXPECTS)
}

/// A `BPF_MAP_TYPE_DEVMAP`: `len()` slots indexed by `u32`, each empty or naming a device.
///
/// ```no_run
/// # use bpfkit::maps::{DevMap, MapData, UpdateFlags};
/// # fn f(data: &MapData) -> Result<(), Box<dyn std::error::Error>> {
/// let ports = DevMap::try_from(data)?;
/// let eth1 = bpfkit::sys::ifindex("eth1")?;
/// ports.set(0, eth1, None, UpdateFlags::empty())?;
/// assert_eq!(ports.get(0)?.map(|v| v.ifindex), Some(eth1));
/// ports.remove(0)?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DevMap<T> {
    inner: T,
}

impl<T: Borrow<MapData>> DevMap<T> {
    fn new(inner: T) -> Result<Self, MapError> {
        check(inner.borrow(), BPF_MAP_TYPE_DEVMAP, "BPF_MAP_TYPE_DEVMAP")?;
        Ok(DevMap { inner })
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

    /// Whether the values are `struct bpf_devmap_val` (and so can carry a program).
    pub fn has_programs(&self) -> bool {
        self.map().value_size() as usize == WITH_PROGRAM_SIZE
    }

    /// Sends what is redirected to slot `index` to device `ifindex`, running `program` on each
    /// frame first when given (struct-form maps only).
    pub fn set(
        &self,
        index: u32,
        ifindex: u32,
        program: Option<BorrowedFd<'_>>,
        flags: UpdateFlags,
    ) -> Result<(), MapError> {
        let map = self.map();
        set(map, &check_index(map, index)?, ifindex, program, flags)
    }

    /// Slot `index`, `None` when empty.
    pub fn get(&self, index: u32) -> Result<Option<DevMapValue>, MapError> {
        let map = self.map();
        get(map, &check_index(map, index)?)
    }

    /// Empties slot `index`; `false` if it was empty.
    pub fn remove(&self, index: u32) -> Result<bool, MapError> {
        let map = self.map();
        remove_looked_up(map, &check_index(map, index)?)
    }

    /// The occupied slots as `(index, value)`, in index order.
    pub fn iter(&self) -> impl Iterator<Item = Result<(u32, DevMapValue), MapError>> + '_ {
        occupied(self.len(), move |index| self.get(index))
    }
}

try_from_map_data!(DevMap);

/// A `BPF_MAP_TYPE_DEVMAP_HASH` (Linux 5.4): devices keyed by any `u32`, often the ifindex
/// itself.
///
/// ```no_run
/// # use bpfkit::maps::{DevMapHash, MapData, UpdateFlags};
/// # fn f(data: &MapData, ifindex: u32) -> Result<(), bpfkit::maps::MapError> {
/// let devices = DevMapHash::try_from(data)?;
/// devices.insert(ifindex, ifindex, None, UpdateFlags::NO_EXIST)?;
/// for entry in devices.iter() {
///     let (key, value) = entry?;
///     println!("{key} -> {}", value.ifindex);
/// }
/// devices.remove(ifindex)?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DevMapHash<T> {
    inner: T,
}

impl<T: Borrow<MapData>> DevMapHash<T> {
    fn new(inner: T) -> Result<Self, MapError> {
        check(
            inner.borrow(),
            BPF_MAP_TYPE_DEVMAP_HASH,
            "BPF_MAP_TYPE_DEVMAP_HASH",
        )?;
        Ok(DevMapHash { inner })
    }

    /// The underlying map.
    pub fn map(&self) -> &MapData {
        self.inner.borrow()
    }

    /// Gives the underlying map handle back.
    pub fn into_inner(self) -> T {
        self.inner
    }

    /// Whether the values are `struct bpf_devmap_val` (and so can carry a program).
    pub fn has_programs(&self) -> bool {
        self.map().value_size() as usize == WITH_PROGRAM_SIZE
    }

    /// Sends what is redirected to `key` to device `ifindex`, running `program` on each frame
    /// first when given (struct-form maps only).
    pub fn insert(
        &self,
        key: u32,
        ifindex: u32,
        program: Option<BorrowedFd<'_>>,
        flags: UpdateFlags,
    ) -> Result<(), MapError> {
        set(self.map(), &key.to_ne_bytes(), ifindex, program, flags)
    }

    /// The entry of `key`, or `None`.
    pub fn get(&self, key: u32) -> Result<Option<DevMapValue>, MapError> {
        get(self.map(), &key.to_ne_bytes())
    }

    /// Removes `key`; `false` if it was not there.
    pub fn remove(&self, key: u32) -> Result<bool, MapError> {
        remove_looked_up(self.map(), &key.to_ne_bytes())
    }

    /// Iterates over the keys.
    pub fn keys(&self) -> MapKeys<'_, u32> {
        MapKeys::new(self.map())
    }

    /// Iterates over `(key, value)` pairs.
    pub fn iter(&self) -> MapIter<'_, u32, DevMapValue> {
        MapIter::new(self.map(), decode)
    }
}

try_from_map_data!(DevMapHash);
