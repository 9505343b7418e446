//! Hash maps: `HashMap`, `LruHashMap`, `PerCpuHashMap`, `LruPerCpuHashMap`.

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::ops::Deref;

use bpfkit_obj::uapi::map_type::{
    BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH,
    BPF_MAP_TYPE_PERCPU_HASH,
};

use super::{
    batch_count, batch_walk, borrow_checked, decode_batch, decode_pod, key_bytes, MapData,
    MapError, MapIter, MapKeys, PerCpuValues, UpdateFlags,
};
use crate::pod::{slice_bytes, Pod};
use crate::sys;

/// A `BPF_MAP_TYPE_HASH` (or `BPF_MAP_TYPE_LRU_HASH`) map with `K` keys and `V` values.
///
/// ```no_run
/// # use bpfkit::maps::{HashMap, MapData, UpdateFlags};
/// # fn f(data: &MapData) -> Result<(), bpfkit::maps::MapError> {
/// let ports: HashMap<_, u16, u64> = HashMap::try_from(data)?;
/// ports.insert(&443, &0)?;
/// ports.insert_with_flags(&80, &0, UpdateFlags::NO_EXIST)?; // fails if 80 is present
/// if let Some(hits) = ports.get(&443)? { println!("{hits}"); }
/// ports.insert_batch(&[22, 25], &[0, 0])?;
/// let all: Vec<(u16, u64)> = ports.get_batch()?;            // one syscall per few thousand entries
/// for key in ports.keys() { println!("{}", key?); }
/// ports.remove(&443)?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct HashMap<T, K, V> {
    inner: T,
    _types: PhantomData<(K, V)>,
}

impl<T: Borrow<MapData>, K: Pod, V: Pod> HashMap<T, K, V> {
    fn new(inner: T) -> Result<Self, MapError> {
        let inner = borrow_checked::<T, K, V>(
            inner,
            &[BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH],
            "BPF_MAP_TYPE_HASH or BPF_MAP_TYPE_LRU_HASH",
            Some(std::mem::size_of::<K>()),
        )?;
        Ok(HashMap {
            inner,
            _types: PhantomData,
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

    /// The value of `key`, or `None`.
    pub fn get(&self, key: &K) -> Result<Option<V>, MapError> {
        let map = self.map();
        map.lookup_bytes(key_bytes(key), 0)?
            .map(|v| decode_pod(map.name(), &v))
            .transpose()
    }

    /// Inserts or replaces the value of `key`.
    pub fn insert(&self, key: &K, value: &V) -> Result<(), MapError> {
        self.insert_with_flags(key, value, UpdateFlags::empty())
    }

    /// Inserts with `NO_EXIST` (create only), `EXIST` (replace only) and/or `LOCK`.
    pub fn insert_with_flags(
        &self,
        key: &K,
        value: &V,
        flags: UpdateFlags,
    ) -> Result<(), MapError> {
        self.map()
            .update_bytes(key_bytes(key), crate::pod::bytes_of(value), flags.bits())
    }

    /// Removes `key`; `false` if it was not there.
    pub fn remove(&self, key: &K) -> Result<bool, MapError> {
        self.map().delete_bytes(key_bytes(key))
    }

    /// Iterates over `(key, value)` pairs. See [`MapKeys`] for behaviour under concurrent
    /// deletion.
    pub fn iter(&self) -> MapIter<'_, K, V> {
        MapIter::new(self.map(), decode_pod::<V>)
    }

    /// Iterates over the keys.
    pub fn keys(&self) -> MapKeys<'_, K> {
        MapKeys::new(self.map())
    }

    /// Every entry, read with `BPF_MAP_LOOKUP_BATCH` (5.6+).
    pub fn get_batch(&self) -> Result<Vec<(K, V)>, MapError> {
        let raw = batch_walk(self.map(), false)?;
        decode_batch(self.map(), &raw, decode_pod::<V>)
    }

    /// Every entry, removing them (`BPF_MAP_LOOKUP_AND_DELETE_BATCH`, 5.6+).
    pub fn get_and_remove_batch(&self) -> Result<Vec<(K, V)>, MapError> {
        let raw = batch_walk(self.map(), true)?;
        decode_batch(self.map(), &raw, decode_pod::<V>)
    }

    /// Inserts `keys[i] -> values[i]` with one `BPF_MAP_UPDATE_BATCH` (5.6+).
    pub fn insert_batch(&self, keys: &[K], values: &[V]) -> Result<(), MapError> {
        if keys.len() != values.len() {
            return Err(MapError::BatchLengthMismatch {
                keys: keys.len(),
                values: values.len(),
            });
        }
        let count = batch_count(keys.len())?;
        sys::map_update_batch(
            &self.map().handle(),
            slice_bytes(keys),
            slice_bytes(values),
            count,
            0,
            0,
        )?;
        Ok(())
    }

    /// Removes `keys` with one `BPF_MAP_DELETE_BATCH` (5.6+); returns how many were removed.
    /// The kernel stops at the first missing key (`ENOENT`).
    pub fn remove_batch(&self, keys: &[K]) -> Result<u32, MapError> {
        let count = batch_count(keys.len())?;
        Ok(sys::map_delete_batch(
            &self.map().handle(),
            slice_bytes(keys),
            count,
            0,
            0,
        )?)
    }
}

try_from_map_data!(HashMap<K, V>);

/// A `BPF_MAP_TYPE_LRU_HASH` map: a [`HashMap`] whose least recently used entries are evicted
/// when it is full. All methods come from [`HashMap`] through `Deref`.
#[derive(Debug)]
pub struct LruHashMap<T, K, V>(HashMap<T, K, V>);

impl<T: Borrow<MapData>, K: Pod, V: Pod> LruHashMap<T, K, V> {
    fn new(inner: T) -> Result<Self, MapError> {
        let inner = borrow_checked::<T, K, V>(
            inner,
            &[BPF_MAP_TYPE_LRU_HASH],
            "BPF_MAP_TYPE_LRU_HASH",
            Some(std::mem::size_of::<K>()),
        )?;
        Ok(LruHashMap(HashMap {
            inner,
            _types: PhantomData,
        }))
    }
}

impl<T, K, V> Deref for LruHashMap<T, K, V> {
    type Target = HashMap<T, K, V>;

    fn deref(&self) -> &HashMap<T, K, V> {
        &self.0
    }
}

try_from_map_data!(LruHashMap<K, V>);

/// A `BPF_MAP_TYPE_PERCPU_HASH` (or `BPF_MAP_TYPE_LRU_PERCPU_HASH`) map: each key has one `V`
/// per possible CPU.
///
/// ```no_run
/// # use bpfkit::maps::{MapData, PerCpuHashMap, PerCpuValues};
/// # fn f(data: &MapData) -> Result<(), bpfkit::maps::MapError> {
/// let counters: PerCpuHashMap<_, u32, u64> = PerCpuHashMap::try_from(data)?;
/// counters.insert(&1, &PerCpuValues::splat(0)?)?;
/// if let Some(per_cpu) = counters.get(&1)? {
///     let total: u64 = per_cpu.iter().sum();
///     println!("{total}");
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PerCpuHashMap<T, K, V> {
    inner: T,
    _types: PhantomData<(K, V)>,
}

impl<T: Borrow<MapData>, K: Pod, V: Pod> PerCpuHashMap<T, K, V> {
    fn new(inner: T) -> Result<Self, MapError> {
        let inner = borrow_checked::<T, K, V>(
            inner,
            &[BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH],
            "BPF_MAP_TYPE_PERCPU_HASH or BPF_MAP_TYPE_LRU_PERCPU_HASH",
            Some(std::mem::size_of::<K>()),
        )?;
        Ok(PerCpuHashMap {
            inner,
            _types: PhantomData,
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

    /// The per-CPU values of `key`, or `None`.
    pub fn get(&self, key: &K) -> Result<Option<PerCpuValues<V>>, MapError> {
        let map = self.map();
        map.lookup_bytes(key_bytes(key), 0)?
            .map(|v| PerCpuValues::from_kernel_bytes(map.name(), &v))
            .transpose()
    }

    /// Inserts or replaces the per-CPU values of `key`.
    pub fn insert(&self, key: &K, values: &PerCpuValues<V>) -> Result<(), MapError> {
        self.insert_with_flags(key, values, UpdateFlags::empty())
    }

    /// Inserts with `NO_EXIST`, `EXIST` and/or `LOCK`.
    pub fn insert_with_flags(
        &self,
        key: &K,
        values: &PerCpuValues<V>,
        flags: UpdateFlags,
    ) -> Result<(), MapError> {
        self.map()
            .update_bytes(key_bytes(key), &values.to_kernel_bytes()?, flags.bits())
    }

    /// Removes `key`; `false` if it was not there.
    pub fn remove(&self, key: &K) -> Result<bool, MapError> {
        self.map().delete_bytes(key_bytes(key))
    }

    /// Iterates over `(key, per-CPU values)` pairs.
    pub fn iter(&self) -> MapIter<'_, K, PerCpuValues<V>> {
        MapIter::new(self.map(), PerCpuValues::<V>::from_kernel_bytes)
    }

    /// Iterates over the keys.
    pub fn keys(&self) -> MapKeys<'_, K> {
        MapKeys::new(self.map())
    }

    /// Every entry, read with `BPF_MAP_LOOKUP_BATCH` (5.6+).
    pub fn get_batch(&self) -> Result<Vec<(K, PerCpuValues<V>)>, MapError> {
        let raw = batch_walk(self.map(), false)?;
        decode_batch(self.map(), &raw, PerCpuValues::<V>::from_kernel_bytes)
    }

    /// Every entry, removing them (`BPF_MAP_LOOKUP_AND_DELETE_BATCH`, 5.6+).
    pub fn get_and_remove_batch(&self) -> Result<Vec<(K, PerCpuValues<V>)>, MapError> {
        let raw = batch_walk(self.map(), true)?;
        decode_batch(self.map(), &raw, PerCpuValues::<V>::from_kernel_bytes)
    }

    /// Inserts `keys[i] -> values[i]` with one `BPF_MAP_UPDATE_BATCH` (5.6+).
    pub fn insert_batch(&self, keys: &[K], values: &[PerCpuValues<V>]) -> Result<(), MapError> {
        if keys.len() != values.len() {
            return Err(MapError::BatchLengthMismatch {
                keys: keys.len(),
                values: values.len(),
            });
        }
        let count = batch_count(keys.len())?;
        let mut bytes = Vec::new();
        for value in values {
            bytes.extend_from_slice(&value.to_kernel_bytes()?);
        }
        sys::map_update_batch(&self.map().handle(), slice_bytes(keys), &bytes, count, 0, 0)?;
        Ok(())
    }

    /// Removes `keys` with one `BPF_MAP_DELETE_BATCH` (5.6+); returns how many were removed.
    pub fn remove_batch(&self, keys: &[K]) -> Result<u32, MapError> {
        let count = batch_count(keys.len())?;
        Ok(sys::map_delete_batch(
            &self.map().handle(),
            slice_bytes(keys),
            count,
            0,
            0,
        )?)
    }
}

try_from_map_data!(PerCpuHashMap<K, V>);

/// A `BPF_MAP_TYPE_LRU_PERCPU_HASH` map; all methods come from [`PerCpuHashMap`].
#[derive(Debug)]
pub struct LruPerCpuHashMap<T, K, V>(PerCpuHashMap<T, K, V>);

impl<T: Borrow<MapData>, K: Pod, V: Pod> LruPerCpuHashMap<T, K, V> {
    fn new(inner: T) -> Result<Self, MapError> {
        let inner = borrow_checked::<T, K, V>(
            inner,
            &[BPF_MAP_TYPE_LRU_PERCPU_HASH],
            "BPF_MAP_TYPE_LRU_PERCPU_HASH",
            Some(std::mem::size_of::<K>()),
        )?;
        Ok(LruPerCpuHashMap(PerCpuHashMap {
            inner,
            _types: PhantomData,
        }))
    }
}

impl<T, K, V> Deref for LruPerCpuHashMap<T, K, V> {
    type Target = PerCpuHashMap<T, K, V>;

    fn deref(&self) -> &PerCpuHashMap<T, K, V> {
        &self.0
    }
}

try_from_map_data!(LruPerCpuHashMap<K, V>);
