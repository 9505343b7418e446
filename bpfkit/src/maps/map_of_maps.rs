//! Maps of maps: `ArrayOfMaps` (`BPF_MAP_TYPE_ARRAY_OF_MAPS`) and `HashOfMaps`
//! (`BPF_MAP_TYPE_HASH_OF_MAPS`), whose values are other maps.
//!
//! Decisions:
//! * `set`/`insert` take the inner map (a [`MapData`], or any [`AsFd`]); the kernel only
//!   accepts a map shaped like the template the outer map was created with (type, key and
//!   value sizes, and max entries unless `BPF_F_INNER_MAP`), anything else is
//!   [`MapError::FdRejected`]. The outer map keeps the inner map alive: the caller's handle
//!   can be dropped.
//! * `get` returns the inner map's id (what the kernel reports, as in [`MapData::info`]);
//!   `get_map` opens it with [`MapData::from_id`] (needs `CAP_SYS_ADMIN`, as every open by
//!   id). Between the lookup and the open, the slot can change: the map opened is the one
//!   whose id was read, or the open fails if it is gone.

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::os::fd::AsFd;

use bpfkit_obj::uapi::map_type::{BPF_MAP_TYPE_ARRAY_OF_MAPS, BPF_MAP_TYPE_HASH_OF_MAPS};

use super::array::check_index;
use super::fd_map::{lookup_u32, occupied, set_fd};
use super::{
    borrow_checked, decode_pod, key_bytes, MapData, MapError, MapIter, MapKeys, UpdateFlags,
};
use crate::pod::Pod;

/// What a map of maps' values must be, for [`MapError::FdRejected`].
const EXPECTS: &str = "the fd of a map with the inner map template's type, key and value sizes \
                       and max entries";

/// Opens the map whose id `id` is, when there is one.
fn open(id: Option<u32>) -> Result<Option<MapData>, MapError> {
    id.map(MapData::from_id).transpose()
}

/// A `BPF_MAP_TYPE_ARRAY_OF_MAPS`: `len()` slots indexed by `u32`, each empty or holding a map.
///
/// ```no_run
/// # use bpfkit::maps::{Array, ArrayOfMaps, MapData, UpdateFlags};
/// # fn f(outer: &MapData, inner: &MapData) -> Result<(), bpfkit::maps::MapError> {
/// let tables = ArrayOfMaps::try_from(outer)?;
/// tables.set(0, inner, UpdateFlags::empty())?;
/// assert_eq!(tables.get(0)?, Some(inner.info().id));
/// if let Some(map) = tables.get_map(0)? {
///     let table: Array<_, u64> = Array::try_from(map)?;
///     println!("{}", table.get(0)?);
/// }
/// tables.remove(0)?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ArrayOfMaps<T> {
    inner: T,
}

impl<T: Borrow<MapData>> ArrayOfMaps<T> {
    fn new(inner: T) -> Result<Self, MapError> {
        let inner = borrow_checked::<T, u32, u32>(
            inner,
            &[BPF_MAP_TYPE_ARRAY_OF_MAPS],
            "BPF_MAP_TYPE_ARRAY_OF_MAPS",
            Some(4),
        )?;
        Ok(ArrayOfMaps { inner })
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

    /// True for a zero-sized array.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Puts `map` in slot `index`, replacing what was there.
    pub fn set(&self, index: u32, map: impl AsFd, flags: UpdateFlags) -> Result<(), MapError> {
        let outer = self.map();
        set_fd(
            outer,
            &check_index(outer, index)?,
            map.as_fd(),
            flags,
            EXPECTS,
        )
    }

    /// The id of the map in slot `index`, `None` when empty.
    pub fn get(&self, index: u32) -> Result<Option<u32>, MapError> {
        let map = self.map();
        lookup_u32(map, &check_index(map, index)?)
    }

    /// Opens the map in slot `index`, `None` when empty.
    pub fn get_map(&self, index: u32) -> Result<Option<MapData>, MapError> {
        open(self.get(index)?)
    }

    /// Empties slot `index`; `false` if it was empty.
    pub fn remove(&self, index: u32) -> Result<bool, MapError> {
        let map = self.map();
        map.delete_bytes(&check_index(map, index)?)
    }

    /// The occupied slots as `(index, inner map id)`, in index order.
    pub fn iter(&self) -> impl Iterator<Item = Result<(u32, u32), MapError>> + '_ {
        occupied(self.len(), move |index| self.get(index))
    }
}

try_from_map_data!(ArrayOfMaps);

/// A `BPF_MAP_TYPE_HASH_OF_MAPS`: maps keyed by `K`.
///
/// ```no_run
/// # use bpfkit::maps::{HashOfMaps, MapData, UpdateFlags};
/// # fn f(outer: &MapData, inner: &MapData) -> Result<(), bpfkit::maps::MapError> {
/// let per_tenant: HashOfMaps<_, u32> = HashOfMaps::try_from(outer)?;
/// per_tenant.insert(&7, inner, UpdateFlags::NO_EXIST)?;
/// for entry in per_tenant.iter() {
///     let (tenant, map_id) = entry?;
///     println!("{tenant}: map {map_id}");
/// }
/// let opened: Option<MapData> = per_tenant.get_map(&7)?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct HashOfMaps<T, K> {
    inner: T,
    _key: PhantomData<K>,
}

impl<T: Borrow<MapData>, K: Pod> HashOfMaps<T, K> {
    fn new(inner: T) -> Result<Self, MapError> {
        let inner = borrow_checked::<T, K, u32>(
            inner,
            &[BPF_MAP_TYPE_HASH_OF_MAPS],
            "BPF_MAP_TYPE_HASH_OF_MAPS",
            Some(std::mem::size_of::<K>()),
        )?;
        Ok(HashOfMaps {
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

    /// Stores `map` under `key` (`NO_EXIST`, `EXIST` as for hash maps).
    pub fn insert(&self, key: &K, map: impl AsFd, flags: UpdateFlags) -> Result<(), MapError> {
        set_fd(self.map(), key_bytes(key), map.as_fd(), flags, EXPECTS)
    }

    /// The id of the map under `key`, or `None`.
    pub fn get(&self, key: &K) -> Result<Option<u32>, MapError> {
        lookup_u32(self.map(), key_bytes(key))
    }

    /// Opens the map under `key`, `None` when absent.
    pub fn get_map(&self, key: &K) -> Result<Option<MapData>, MapError> {
        open(self.get(key)?)
    }

    /// Removes `key`; `false` if it was not there.
    pub fn remove(&self, key: &K) -> Result<bool, MapError> {
        self.map().delete_bytes(key_bytes(key))
    }

    /// Iterates over the keys.
    pub fn keys(&self) -> MapKeys<'_, K> {
        MapKeys::new(self.map())
    }

    /// Iterates over `(key, inner map id)` pairs.
    pub fn iter(&self) -> MapIter<'_, K, u32> {
        MapIter::new(self.map(), decode_pod::<u32>)
    }
}

try_from_map_data!(HashOfMaps<K>);
