//! Arrays: `Array` and `PerCpuArray`.

use std::borrow::Borrow;
use std::marker::PhantomData;

use bpfkit_obj::uapi::map_type::{BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_ARRAY};

use super::{borrow_checked, decode_pod, MapData, MapError, PerCpuValues, UpdateFlags};
use crate::pod::{bytes_of, Pod};

/// The key of `index` in an array-like map (arrays and the fd-valued arrays), checked against
/// `max_entries` so that callers get [`MapError::OutOfBounds`] rather than the kernel's `E2BIG`.
pub(super) fn check_index(map: &MapData, index: u32) -> Result<[u8; 4], MapError> {
    if index >= map.max_entries() {
        return Err(MapError::OutOfBounds {
            name: map.name().to_owned(),
            index,
            max_entries: map.max_entries(),
        });
    }
    Ok(index.to_ne_bytes())
}

/// Array elements always exist; a lookup that finds nothing means the kernel disagrees with
/// our bounds check, which we report as out of bounds.
fn must_exist(map: &MapData, index: u32, value: Option<Vec<u8>>) -> Result<Vec<u8>, MapError> {
    value.ok_or_else(|| MapError::OutOfBounds {
        name: map.name().to_owned(),
        index,
        max_entries: map.max_entries(),
    })
}

/// A `BPF_MAP_TYPE_ARRAY` map of `V`, indexed by `u32` from 0 to `len() - 1`. Elements always
/// exist (zero-initialised) and cannot be removed.
///
/// ```no_run
/// # use bpfkit::maps::{Array, MapData};
/// # fn f(data: &MapData) -> Result<(), bpfkit::maps::MapError> {
/// let config: Array<_, u32> = Array::try_from(data)?;
/// config.set(0, &1500)?;
/// assert_eq!(config.get(0)?, 1500);
/// let all: Vec<u32> = config.iter().collect::<Result<_, _>>()?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Array<T, V> {
    inner: T,
    _value: PhantomData<V>,
}

impl<T: Borrow<MapData>, V: Pod> Array<T, V> {
    fn new(inner: T) -> Result<Self, MapError> {
        let inner = borrow_checked::<T, u32, V>(
            inner,
            &[BPF_MAP_TYPE_ARRAY],
            "BPF_MAP_TYPE_ARRAY",
            Some(4),
        )?;
        Ok(Array {
            inner,
            _value: PhantomData,
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

    /// Number of elements (`max_entries`).
    pub fn len(&self) -> u32 {
        self.map().max_entries()
    }

    /// True for a zero-sized array.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element at `index`.
    pub fn get(&self, index: u32) -> Result<V, MapError> {
        let map = self.map();
        let key = check_index(map, index)?;
        let bytes = must_exist(map, index, map.lookup_bytes(&key, 0)?)?;
        decode_pod(map.name(), &bytes)
    }

    /// Sets the element at `index`.
    pub fn set(&self, index: u32, value: &V) -> Result<(), MapError> {
        self.set_with_flags(index, value, UpdateFlags::empty())
    }

    /// Sets with `LOCK` (`NO_EXIST` always fails on arrays: every element exists).
    pub fn set_with_flags(
        &self,
        index: u32,
        value: &V,
        flags: UpdateFlags,
    ) -> Result<(), MapError> {
        let map = self.map();
        let key = check_index(map, index)?;
        map.update_bytes(&key, bytes_of(value), flags.bits())
    }

    /// Iterates over the elements in index order.
    pub fn iter(&self) -> impl Iterator<Item = Result<V, MapError>> + '_ {
        (0..self.len()).map(move |index| self.get(index))
    }
}

try_from_map_data!(Array<V>);

/// A `BPF_MAP_TYPE_PERCPU_ARRAY` map: each index holds one `V` per possible CPU.
///
/// ```no_run
/// # use bpfkit::maps::{MapData, PerCpuArray, PerCpuValues};
/// # fn f(data: &MapData) -> Result<(), bpfkit::maps::MapError> {
/// let stats: PerCpuArray<_, u64> = PerCpuArray::try_from(data)?;
/// let packets: u64 = stats.get(0)?.iter().sum();
/// stats.set(0, &PerCpuValues::splat(0)?)?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PerCpuArray<T, V> {
    inner: T,
    _value: PhantomData<V>,
}

impl<T: Borrow<MapData>, V: Pod> PerCpuArray<T, V> {
    fn new(inner: T) -> Result<Self, MapError> {
        let inner = borrow_checked::<T, u32, V>(
            inner,
            &[BPF_MAP_TYPE_PERCPU_ARRAY],
            "BPF_MAP_TYPE_PERCPU_ARRAY",
            Some(4),
        )?;
        Ok(PerCpuArray {
            inner,
            _value: PhantomData,
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

    /// Number of elements (`max_entries`).
    pub fn len(&self) -> u32 {
        self.map().max_entries()
    }

    /// True for a zero-sized array.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The per-CPU values at `index`.
    pub fn get(&self, index: u32) -> Result<PerCpuValues<V>, MapError> {
        let map = self.map();
        let key = check_index(map, index)?;
        let bytes = must_exist(map, index, map.lookup_bytes(&key, 0)?)?;
        PerCpuValues::from_kernel_bytes(map.name(), &bytes)
    }

    /// Sets the per-CPU values at `index`.
    pub fn set(&self, index: u32, values: &PerCpuValues<V>) -> Result<(), MapError> {
        let map = self.map();
        let key = check_index(map, index)?;
        map.update_bytes(&key, &values.to_kernel_bytes()?, 0)
    }

    /// Iterates over the elements in index order.
    pub fn iter(&self) -> impl Iterator<Item = Result<PerCpuValues<V>, MapError>> + '_ {
        (0..self.len()).map(move |index| self.get(index))
    }
}

try_from_map_data!(PerCpuArray<V>);
