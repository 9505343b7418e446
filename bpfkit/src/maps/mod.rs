//! Typed access to BPF maps.
//!
//! [`MapData`] is the shared handle to one kernel map (its fd plus what the kernel says about
//! it). The typed views check the map type and the key/value sizes once, when they are built,
//! and then move `Pod` keys and values in and out:
//!
//! | view | map types |
//! |------|-----------|
//! | [`HashMap`] | `BPF_MAP_TYPE_HASH`, `BPF_MAP_TYPE_LRU_HASH` |
//! | [`LruHashMap`] | `BPF_MAP_TYPE_LRU_HASH` |
//! | [`PerCpuHashMap`] | `BPF_MAP_TYPE_PERCPU_HASH`, `BPF_MAP_TYPE_LRU_PERCPU_HASH` |
//! | [`LruPerCpuHashMap`] | `BPF_MAP_TYPE_LRU_PERCPU_HASH` |
//! | [`Array`] | `BPF_MAP_TYPE_ARRAY` |
//! | [`PerCpuArray`] | `BPF_MAP_TYPE_PERCPU_ARRAY` |
//! | [`RingBuf`] (reader) | `BPF_MAP_TYPE_RINGBUF` |
//! | [`Queue`] | `BPF_MAP_TYPE_QUEUE` |
//! | [`Stack`] | `BPF_MAP_TYPE_STACK` |
//! | [`BloomFilter`] | `BPF_MAP_TYPE_BLOOM_FILTER` |
//! | [`LpmTrie`] (keys [`lpm_trie::Key`]) | `BPF_MAP_TYPE_LPM_TRIE` |
//! | [`StackTraceMap`] | `BPF_MAP_TYPE_STACK_TRACE` |
//! | [`ProgramArray`] | `BPF_MAP_TYPE_PROG_ARRAY` |
//! | [`XskMap`] | `BPF_MAP_TYPE_XSKMAP` |
//! | [`DevMap`], [`DevMapHash`] | `BPF_MAP_TYPE_DEVMAP`, `BPF_MAP_TYPE_DEVMAP_HASH` |
//! | [`CpuMap`] | `BPF_MAP_TYPE_CPUMAP` |
//! | [`SockMap`], [`SockHash`] | `BPF_MAP_TYPE_SOCKMAP`, `BPF_MAP_TYPE_SOCKHASH` |
//! | [`ArrayOfMaps`], [`HashOfMaps`] | `BPF_MAP_TYPE_ARRAY_OF_MAPS`, `BPF_MAP_TYPE_HASH_OF_MAPS` |
//! | [`SkStorage`] | `BPF_MAP_TYPE_SK_STORAGE` (keyed by a socket fd) |
//! | [`TaskStorage`] | `BPF_MAP_TYPE_TASK_STORAGE` (keyed by a pidfd) |
//! | [`InodeStorage`] | `BPF_MAP_TYPE_INODE_STORAGE` (keyed by an fd open on the inode) |
//! | [`CgroupStorage`] | `BPF_MAP_TYPE_CGRP_STORAGE` (keyed by an fd of the cgroup directory) |
//! | [`PerfEventArray`] (opens [`PerfBuffer`] / [`PerfEventArrayBuffer`] readers) | `BPF_MAP_TYPE_PERF_EVENT_ARRAY` |
//! | `AsyncRingBuf`, `AsyncPerfBuffer`, `AsyncPerfEventArrayBuffer` (features `tokio`, `async-io`) | the readers above, awaited |
//!
//! Conventions shared by the views added for the kernel side's other map types (see each
//! module for its own decisions):
//!
//! * Updates take explicit [`UpdateFlags`] where the kernel gives them a meaning (as Aya's
//!   `set(index, value, flags)`): `NO_EXIST`, `EXIST`, `LOCK`, or the empty set.
//! * Lookups of something that may be absent return `Option` (`ENOENT` is `None`, never an
//!   error); removals return whether something was removed.
//! * Array-like maps check the index against `max_entries` before the syscall and answer
//!   [`MapError::OutOfBounds`], as [`Array`] does.
//! * Maps whose values are fds (program arrays, device, CPU, socket and AF_XDP socket maps,
//!   maps of maps) take any [`AsFd`]; when the kernel refuses the object behind the fd, the
//!   error is [`MapError::FdRejected`], which says what the map takes. What user space reads
//!   back is never an fd: it is the kernel's id of the object (or a socket cookie).
//! * Local storages are keyed by an fd of the object owning the value (socket, pidfd, file,
//!   cgroup directory): any fd of the same object reaches the same value.
//! * What a kernel is too old for is [`MapError::Unsupported`], naming the feature and the
//!   Linux release that brought it.
//!
//! Every view is generic over `T: Borrow<MapData>`, so it can borrow a map (`&MapData`,
//! `&mut MapData`) or own it (`MapData`):
//!
//! ```no_run
//! use bpfkit::maps::{HashMap, MapData};
//! use bpfkit::sys::MapCreate;
//! use bpfkit_obj::uapi::map_type::BPF_MAP_TYPE_HASH;
//!
//! let data = MapData::create(&MapCreate {
//!     map_type: BPF_MAP_TYPE_HASH, key_size: 4, value_size: 8, max_entries: 1024,
//!     name: "counts", ..Default::default()
//! })?;
//! let counts: HashMap<_, u32, u64> = HashMap::try_from(&data)?;
//! counts.insert(&6, &1)?;
//! assert_eq!(counts.get(&6)?, Some(1));
//! for entry in counts.iter() {
//!     let (port, count) = entry?;
//!     println!("{port}: {count}");
//! }
//! # Ok::<(), bpfkit::maps::MapError>(())
//! ```

/// `TryFrom<&MapData>`, `TryFrom<&mut MapData>` and `TryFrom<MapData>` for a typed view with
/// a checking `new` constructor. `View` alone is a view generic only over its handle.
macro_rules! try_from_map_data {
    ($ty:ident) => {
        try_from_map_data!($ty<>);
    };
    ($ty:ident < $($g:ident),* >) => {
        impl<'a, $($g: Pod),*> TryFrom<&'a MapData> for $ty<&'a MapData, $($g),*> {
            type Error = MapError;
            fn try_from(map: &'a MapData) -> Result<Self, MapError> {
                Self::new(map)
            }
        }
        impl<'a, $($g: Pod),*> TryFrom<&'a mut MapData> for $ty<&'a mut MapData, $($g),*> {
            type Error = MapError;
            fn try_from(map: &'a mut MapData) -> Result<Self, MapError> {
                Self::new(map)
            }
        }
        impl<$($g: Pod),*> TryFrom<MapData> for $ty<MapData, $($g),*> {
            type Error = MapError;
            fn try_from(map: MapData) -> Result<Self, MapError> {
                Self::new(map)
            }
        }
    };
}

mod array;
mod bloom_filter;
mod cpu_map;
mod dev_map;
mod fd_map;
mod hash_map;
mod local_storage;
pub mod lpm_trie;
mod map_of_maps;
mod per_cpu;
mod perf_buffer;
mod program_array;
mod queue_stack;
mod ring_buf;
mod sock_map;
mod stack_trace;
mod xsk_map;

#[cfg(test)]
mod tests;

use std::borrow::Borrow;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use bpfkit_obj::uapi::map_type;

use crate::pod::{bytes_of, read_pod, Pod};
use crate::sys::uapi::consts::{BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST};
use crate::sys::{self, MapCreate, MapHandle, MapInfo, SyscallError};

#[cfg(any(feature = "tokio", feature = "async-io"))]
pub use crate::runtime::{AsyncPerfBuffer, AsyncPerfEventArrayBuffer, AsyncRingBuf};
pub use array::{Array, PerCpuArray};
pub use bloom_filter::BloomFilter;
pub use cpu_map::{CpuMap, CpuMapValue};
pub use dev_map::{DevMap, DevMapHash, DevMapValue};
pub use hash_map::{HashMap, LruHashMap, LruPerCpuHashMap, PerCpuHashMap};
pub use local_storage::{CgroupStorage, InodeStorage, SkStorage, TaskStorage};
pub use lpm_trie::LpmTrie;
pub use map_of_maps::{ArrayOfMaps, HashOfMaps};
pub use per_cpu::PerCpuValues;
pub use perf_buffer::{
    Events, PerfBuffer, PerfBufferError, PerfEventArray, PerfEventArrayBuffer, PerfSample,
};
pub use program_array::ProgramArray;
pub use queue_stack::{Queue, Stack};
pub use ring_buf::{RingBuf, RingBufItem};
pub use sock_map::{SockHash, SockMap};
pub use stack_trace::StackTraceMap;
pub use xsk_map::XskMap;

/// Errors of the maps API.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// The map is not of a type this view handles.
    #[error("map `{name}` is a {actual}, expected {expected}")]
    WrongMapType {
        /// The map's name.
        name: String,
        /// The accepted type(s).
        expected: &'static str,
        /// The map's type.
        actual: String,
    },
    /// The map's key size differs from the key type's size.
    #[error("map `{name}` has {map_size}-byte keys but `{type_name}` is {type_size} bytes")]
    KeySizeMismatch {
        /// The map's name.
        name: String,
        /// Key size of the map.
        map_size: u32,
        /// The Rust key type.
        type_name: &'static str,
        /// Its size.
        type_size: usize,
    },
    /// The map's value size differs from the value type's size.
    #[error("map `{name}` has {map_size}-byte values but `{type_name}` is {type_size} bytes")]
    ValueSizeMismatch {
        /// The map's name.
        name: String,
        /// Value size of the map.
        map_size: u32,
        /// The Rust value type.
        type_name: &'static str,
        /// Its size.
        type_size: usize,
    },
    /// An array index at or beyond `max_entries`.
    #[error("index {index} is out of bounds for map `{name}` with {max_entries} entries")]
    OutOfBounds {
        /// The map's name.
        name: String,
        /// The index.
        index: u32,
        /// The map's capacity.
        max_entries: u32,
    },
    /// A per-CPU value does not have one entry per possible CPU.
    #[error("per-CPU value has {actual} entries, this machine has {expected} possible CPUs")]
    PerCpuCountMismatch {
        /// Possible CPUs.
        expected: usize,
        /// Entries given.
        actual: usize,
    },
    /// Batch inputs of different lengths.
    #[error("batch has {keys} keys but {values} values")]
    BatchLengthMismatch {
        /// Number of keys.
        keys: usize,
        /// Number of values.
        values: usize,
    },
    /// The kernel returned data of an unexpected size.
    #[error("map `{name}`: kernel returned {actual} bytes where {expected} were expected")]
    UnexpectedSize {
        /// The map's name.
        name: String,
        /// Expected bytes.
        expected: usize,
        /// Received bytes.
        actual: usize,
    },
    /// An fd-valued map refused the object behind the fd given as a value (a map fd where a
    /// program is expected, a socket of the wrong kind, a map of another shape, ...).
    #[error("map `{name}` refused the fd: it takes {expects}: {source}")]
    FdRejected {
        /// The map's name.
        name: String,
        /// What the map's values (or, for local storages, keys) must be.
        expects: &'static str,
        /// The kernel's refusal.
        #[source]
        source: SyscallError,
    },
    /// The operation needs a kernel feature that this kernel, or this map's layout, lacks.
    #[error("map `{name}`: {feature} is not supported: {reason}")]
    Unsupported {
        /// The map's name.
        name: String,
        /// What is missing.
        feature: &'static str,
        /// Why, and what would bring it (a Linux release, another value size).
        reason: String,
    },
    /// Reading `/sys/devices/system/cpu/possible` failed.
    #[error("cannot read the possible CPUs: {0}")]
    PossibleCpus(#[source] io::Error),
    /// A `bpf(2)` command failed.
    #[error(transparent)]
    Syscall(#[from] SyscallError),
}

impl MapError {
    /// The errno of a failed syscall, if that is what this error is.
    pub fn errno(&self) -> Option<i32> {
        match self {
            MapError::Syscall(err) | MapError::FdRejected { source: err, .. } => Some(err.errno()),
            _ => None,
        }
    }
}

/// `ENOTSUPP`, the kernel-internal "not supported" that some map operations leak to user space
/// (524; not in libc, which only knows `EOPNOTSUPP`).
pub(crate) const ENOTSUPP: i32 = 524;

/// Whether a failure with `errno` on a kernel at `running` (major, minor) means the feature
/// that arrived in `since` is missing. Kernels answer an unknown map command or layout with
/// `EINVAL`, `EOPNOTSUPP` or `ENOTSUPP`; on a kernel at least `since`, the same errnos mean a
/// bad argument, so they stay plain syscall errors.
pub(crate) fn means_too_old(errno: i32, running: (u32, u32), since: (u32, u32)) -> bool {
    matches!(errno, libc::EINVAL | libc::EOPNOTSUPP | ENOTSUPP) && running < since
}

/// Turns a failure of an operation that needs `feature` (Linux `since`) into
/// [`MapError::Unsupported`] when this kernel predates it, as the rest of bpfkit reports
/// missing kernel features.
pub(crate) fn feature_error(
    map: &MapData,
    err: MapError,
    feature: &'static str,
    since: (u32, u32),
) -> MapError {
    let (major, minor, _) = crate::features::kernel_version();
    match err.errno() {
        Some(errno) if means_too_old(errno, (major, minor), since) => MapError::Unsupported {
            name: map.name().to_owned(),
            feature,
            reason: format!(
                "it needs Linux {}.{}, this kernel is {major}.{minor} ({err})",
                since.0, since.1
            ),
        },
        _ => err,
    }
}

bitflags::bitflags! {
    /// Flags of an element update. The empty set is `BPF_ANY` (create or replace).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct UpdateFlags: u64 {
        /// Only create: fail with `EEXIST` if the key exists (`BPF_NOEXIST`).
        const NO_EXIST = BPF_NOEXIST;
        /// Only replace: fail with `ENOENT` if the key is missing (`BPF_EXIST`).
        const EXIST = BPF_EXIST;
        /// Copy under the value's `bpf_spin_lock` (`BPF_F_LOCK`).
        const LOCK = BPF_F_LOCK;
    }
}

/// The shared handle to a kernel map: its fd and the properties the kernel reports for it.
#[derive(Debug)]
pub struct MapData {
    fd: OwnedFd,
    info: MapInfo,
    value_buffer_size: usize,
}

impl MapData {
    /// Creates a map.
    pub fn create(attr: &MapCreate<'_>) -> Result<MapData, MapError> {
        MapData::from_fd(sys::map_create(attr)?)
    }

    /// Wraps an existing map fd, reading its properties from the kernel.
    pub fn from_fd(fd: OwnedFd) -> Result<MapData, MapError> {
        let info = sys::map_info(fd.as_fd())?;
        let value_buffer_size = if sys::is_per_cpu(info.map_type) {
            let cpus = sys::possible_cpus().map_err(MapError::PossibleCpus)?;
            sys::per_cpu_stride(info.value_size).saturating_mul(cpus)
        } else {
            info.value_size as usize
        };
        Ok(MapData {
            fd,
            info,
            value_buffer_size,
        })
    }

    /// Opens a map pinned on a bpffs.
    pub fn from_pin(path: impl AsRef<Path>) -> Result<MapData, MapError> {
        MapData::from_fd(sys::obj_get(path.as_ref(), 0)?)
    }

    /// Opens a map by its kernel id.
    pub fn from_id(id: u32) -> Result<MapData, MapError> {
        MapData::from_fd(sys::map_get_fd_by_id(id)?)
    }

    /// Pins the map at `path` on a bpffs.
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<(), MapError> {
        Ok(sys::obj_pin(self.fd.as_fd(), path.as_ref())?)
    }

    /// The map fd.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// What the kernel reported when the map was opened (type, id, sizes, flags, name).
    pub fn info(&self) -> &MapInfo {
        &self.info
    }

    /// The map's name (at most 15 bytes, as the kernel stores it).
    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// `BPF_MAP_TYPE_*`.
    pub fn map_type(&self) -> u32 {
        self.info.map_type
    }

    /// Key size in bytes.
    pub fn key_size(&self) -> u32 {
        self.info.key_size
    }

    /// Value size in bytes (one CPU's slot for per-CPU maps).
    pub fn value_size(&self) -> u32 {
        self.info.value_size
    }

    /// Capacity.
    pub fn max_entries(&self) -> u32 {
        self.info.max_entries
    }

    /// `BPF_F_*` map flags.
    pub fn map_flags(&self) -> u32 {
        self.info.map_flags
    }

    /// Makes the map read-only for user space (`BPF_MAP_FREEZE`).
    pub fn freeze(&self) -> Result<(), MapError> {
        Ok(sys::map_freeze(self.fd.as_fd())?)
    }

    /// The handle the element commands take.
    pub fn handle(&self) -> MapHandle<'_> {
        MapHandle::from_trusted_parts(
            self.fd.as_fd(),
            self.info.map_type,
            self.info.key_size,
            self.info.value_size,
            self.value_buffer_size,
        )
    }

    /// Bytes of one value as copied by the kernel (all CPUs for per-CPU maps).
    pub(crate) fn value_buffer_size(&self) -> usize {
        self.value_buffer_size
    }

    /// Checks the map type and sizes for a typed view.
    pub(crate) fn check<K, V>(
        &self,
        accepted: &[u32],
        expected: &'static str,
        key_size: Option<usize>,
    ) -> Result<(), MapError> {
        self.check_type_and_key::<K>(accepted, expected, key_size)?;
        self.check_value_size(std::any::type_name::<V>(), &[std::mem::size_of::<V>()])
    }

    /// The type and key checks of [`MapData::check`], for views whose value has several
    /// accepted layouts.
    pub(crate) fn check_type_and_key<K>(
        &self,
        accepted: &[u32],
        expected: &'static str,
        key_size: Option<usize>,
    ) -> Result<(), MapError> {
        if !accepted.contains(&self.info.map_type) {
            return Err(MapError::WrongMapType {
                name: self.info.name.clone(),
                expected,
                actual: map_type_name(self.info.map_type),
            });
        }
        if let Some(size) = key_size {
            if size != self.info.key_size as usize {
                return Err(MapError::KeySizeMismatch {
                    name: self.info.name.clone(),
                    map_size: self.info.key_size,
                    type_name: std::any::type_name::<K>(),
                    type_size: size,
                });
            }
        }
        Ok(())
    }

    /// Checks that the value size is one of `sizes` (the first is reported on a mismatch,
    /// with `type_name`).
    pub(crate) fn check_value_size(
        &self,
        type_name: &'static str,
        sizes: &[usize],
    ) -> Result<(), MapError> {
        if sizes.contains(&(self.info.value_size as usize)) {
            return Ok(());
        }
        Err(MapError::ValueSizeMismatch {
            name: self.info.name.clone(),
            map_size: self.info.value_size,
            type_name,
            type_size: sizes.first().copied().unwrap_or_default(),
        })
    }

    /// Looks up raw key bytes; `None` when absent.
    pub(crate) fn lookup_bytes(&self, key: &[u8], flags: u64) -> Result<Option<Vec<u8>>, MapError> {
        let mut value = vec![0u8; self.value_buffer_size];
        if sys::map_lookup_elem(&self.handle(), Some(key), &mut value, flags)? {
            Ok(Some(value))
        } else {
            Ok(None)
        }
    }

    pub(crate) fn update_bytes(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u64,
    ) -> Result<(), MapError> {
        Ok(sys::map_update_elem(
            &self.handle(),
            Some(key),
            value,
            flags,
        )?)
    }

    pub(crate) fn delete_bytes(&self, key: &[u8]) -> Result<bool, MapError> {
        Ok(sys::map_delete_elem(&self.handle(), key)?)
    }
}

impl AsFd for MapData {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn map_type_name(value: u32) -> String {
    map_type::name(value).map_or_else(|| format!("map type {value}"), str::to_owned)
}

/// Decodes one value from the bytes the kernel copied.
pub(crate) type Decode<V> = fn(&str, &[u8]) -> Result<V, MapError>;

pub(crate) fn decode_pod<V: Pod>(name: &str, bytes: &[u8]) -> Result<V, MapError> {
    read_pod(bytes).ok_or_else(|| MapError::UnexpectedSize {
        name: name.to_owned(),
        expected: std::mem::size_of::<V>(),
        actual: bytes.len(),
    })
}

/// Iterator over the keys of a hash map, built on `BPF_MAP_GET_NEXT_KEY`.
///
/// If the key the iterator stands on is deleted concurrently, the kernel restarts the walk from
/// the first key (that is how hash maps define "next" of a missing key), so a concurrent delete
/// can make keys appear twice but never stops the iteration with an error.
pub struct MapKeys<'a, K> {
    map: &'a MapData,
    cursor: Option<Vec<u8>>,
    done: bool,
    decode: Decode<K>,
}

impl<'a, K: Pod> MapKeys<'a, K> {
    pub(crate) fn new(map: &'a MapData) -> MapKeys<'a, K> {
        MapKeys::with_decode(map, decode_pod::<K>)
    }
}

impl<'a, K> MapKeys<'a, K> {
    /// Keys whose layout is not a plain `Pod` (LPM trie keys) bring their own decoder.
    pub(crate) fn with_decode(map: &'a MapData, decode: Decode<K>) -> MapKeys<'a, K> {
        MapKeys {
            map,
            cursor: None,
            done: false,
            decode,
        }
    }

    fn next_bytes(&mut self) -> Option<Result<Vec<u8>, MapError>> {
        if self.done {
            return None;
        }
        let mut next = vec![0u8; self.map.key_size() as usize];
        match sys::map_get_next_key(&self.map.handle(), self.cursor.as_deref(), &mut next) {
            Ok(true) => {
                self.cursor = Some(next.clone());
                Some(Ok(next))
            }
            Ok(false) => {
                self.done = true;
                None
            }
            Err(err) => {
                self.done = true;
                Some(Err(err.into()))
            }
        }
    }
}

impl<K> Iterator for MapKeys<'_, K> {
    type Item = Result<K, MapError>;

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.next_bytes()?;
        Some(bytes.and_then(|b| (self.decode)(self.map.name(), &b)))
    }
}

/// Iterator over the entries of a hash map: keys from [`MapKeys`], each looked up in turn.
/// An entry deleted between the two steps is skipped.
pub struct MapIter<'a, K, V> {
    keys: MapKeys<'a, K>,
    decode: Decode<V>,
}

impl<'a, K: Pod, V> MapIter<'a, K, V> {
    pub(crate) fn new(map: &'a MapData, decode: Decode<V>) -> MapIter<'a, K, V> {
        MapIter::with_keys(MapKeys::new(map), decode)
    }
}

impl<'a, K, V> MapIter<'a, K, V> {
    /// Entries over keys with their own decoder (see [`MapKeys::with_decode`]).
    pub(crate) fn with_keys(keys: MapKeys<'a, K>, decode: Decode<V>) -> MapIter<'a, K, V> {
        MapIter { keys, decode }
    }
}

impl<K, V> Iterator for MapIter<'_, K, V> {
    type Item = Result<(K, V), MapError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let key_bytes = match self.keys.next_bytes()? {
                Ok(bytes) => bytes,
                Err(err) => return Some(Err(err)),
            };
            let map = self.keys.map;
            let result = map.lookup_bytes(&key_bytes, 0).and_then(|value| {
                value
                    .map(|v| {
                        let key = (self.keys.decode)(map.name(), &key_bytes)?;
                        Ok((key, (self.decode)(map.name(), &v)?))
                    })
                    .transpose()
            });
            match result {
                Ok(Some(entry)) => return Some(Ok(entry)),
                Ok(None) => continue, // deleted since we saw its key
                Err(err) => {
                    self.keys.done = true;
                    return Some(Err(err));
                }
            }
        }
    }
}

/// Raw output of a batch walk: `count` keys and values, back to back.
pub(crate) struct RawBatch {
    pub(crate) keys: Vec<u8>,
    pub(crate) values: Vec<u8>,
    pub(crate) count: usize,
}

/// Walks the whole map with `BPF_MAP_LOOKUP_BATCH` (or the deleting variant).
///
/// Hash maps copy whole buckets, and answer `ENOSPC` when a bucket does not fit in `count`; the
/// batch then doubles and retries from the same position.
pub(crate) fn batch_walk(map: &MapData, delete: bool) -> Result<RawBatch, MapError> {
    let handle = map.handle();
    let key_size = map.key_size() as usize;
    let value_size = map.value_buffer_size();
    let token = sys::batch_token_size(&handle);
    let mut chunk = map.max_entries().clamp(1, 4096);
    let mut out = RawBatch {
        keys: Vec::new(),
        values: Vec::new(),
        count: 0,
    };
    let mut in_batch: Option<Vec<u8>> = None;
    loop {
        let mut out_batch = vec![0u8; token];
        let mut keys = vec![0u8; key_size.saturating_mul(chunk as usize)];
        let mut values = vec![0u8; value_size.saturating_mul(chunk as usize)];
        let call = if delete {
            sys::map_lookup_and_delete_batch
        } else {
            sys::map_lookup_batch
        };
        let result = call(
            &handle,
            in_batch.as_deref(),
            &mut out_batch,
            &mut keys,
            &mut values,
            chunk,
            0,
            0,
        );
        let result = match result {
            Ok(result) => result,
            Err(err) if err.errno() == libc::ENOSPC && chunk < u32::MAX / 2 => {
                chunk = chunk.saturating_mul(2);
                continue;
            }
            Err(err) => return Err(err.into()),
        };
        let n = result.count as usize;
        out.keys
            .extend_from_slice(keys.get(..n * key_size).unwrap_or_default());
        out.values
            .extend_from_slice(values.get(..n * value_size).unwrap_or_default());
        out.count += n;
        if result.done {
            return Ok(out);
        }
        in_batch = Some(out_batch);
    }
}

/// Decodes a raw batch into typed pairs.
pub(crate) fn decode_batch<K: Pod, V>(
    map: &MapData,
    raw: &RawBatch,
    decode: Decode<V>,
) -> Result<Vec<(K, V)>, MapError> {
    let key_size = map.key_size() as usize;
    let value_size = map.value_buffer_size();
    (0..raw.count)
        .map(|i| {
            let key = raw
                .keys
                .get(i * key_size..(i + 1) * key_size)
                .unwrap_or_default();
            let value = raw
                .values
                .get(i * value_size..(i + 1) * value_size)
                .unwrap_or_default();
            Ok((
                decode_pod::<K>(map.name(), key)?,
                decode(map.name(), value)?,
            ))
        })
        .collect()
}

/// Number of elements as the kernel's `u32` count.
pub(crate) fn batch_count(len: usize) -> Result<u32, MapError> {
    u32::try_from(len).map_err(|_| {
        MapError::Syscall(SyscallError::invalid(
            "BPF_MAP_UPDATE_BATCH",
            "more than 2^32 elements",
        ))
    })
}

/// Key bytes of a Pod key.
pub(crate) fn key_bytes<K: Pod>(key: &K) -> &[u8] {
    bytes_of(key)
}

/// Common constructor plumbing of the typed views.
pub(crate) fn borrow_checked<T: Borrow<MapData>, K, V>(
    inner: T,
    accepted: &[u32],
    expected: &'static str,
    key_size: Option<usize>,
) -> Result<T, MapError> {
    inner.borrow().check::<K, V>(accepted, expected, key_size)?;
    Ok(inner)
}
