//! `BloomFilter`: a `BPF_MAP_TYPE_BLOOM_FILTER` (Linux 5.16).
//!
//! A bloom filter has no keys and its values cannot be read back or removed: user space adds
//! a value (`BPF_MAP_UPDATE_ELEM` with a NULL key, flags must be `BPF_ANY`, so `insert` takes
//! none) and asks whether one may be present (`BPF_MAP_LOOKUP_ELEM` with a NULL key and the
//! value as input). "Definitely absent" is `ENOENT`, which is `false` here; `true` means
//! "possibly present", with the false-positive rate that the map's `map_extra` (number of hash
//! functions) and `max_entries` give.

use std::borrow::Borrow;
use std::marker::PhantomData;

use bpfkit_obj::uapi::map_type::BPF_MAP_TYPE_BLOOM_FILTER;

use super::{borrow_checked, MapData, MapError};
use crate::pod::{bytes_of, Pod};
use crate::sys;

/// A `BPF_MAP_TYPE_BLOOM_FILTER` of `V`.
///
/// ```no_run
/// # use bpfkit::maps::{BloomFilter, MapData};
/// # fn f(data: &MapData) -> Result<(), bpfkit::maps::MapError> {
/// let seen: BloomFilter<_, u32> = BloomFilter::try_from(data)?;
/// seen.insert(&61)?;
/// assert!(seen.contains(&61)?);         // no false negatives
/// let maybe = seen.contains(&62)?;      // false, or rarely a false positive
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct BloomFilter<T, V> {
    inner: T,
    _value: PhantomData<V>,
}

impl<T: Borrow<MapData>, V: Pod> BloomFilter<T, V> {
    fn new(inner: T) -> Result<Self, MapError> {
        let inner = borrow_checked::<T, (), V>(
            inner,
            &[BPF_MAP_TYPE_BLOOM_FILTER],
            "BPF_MAP_TYPE_BLOOM_FILTER",
            Some(0),
        )?;
        Ok(BloomFilter {
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

    /// Adds `value`.
    pub fn insert(&self, value: &V) -> Result<(), MapError> {
        Ok(sys::map_update_elem(
            &self.map().handle(),
            None,
            bytes_of(value),
            0,
        )?)
    }

    /// Whether `value` may have been added: `false` is certain, `true` may be a false
    /// positive.
    pub fn contains(&self, value: &V) -> Result<bool, MapError> {
        // The kernel reads the value to test from the value buffer.
        let mut needle = bytes_of(value).to_vec();
        Ok(sys::map_lookup_elem(
            &self.map().handle(),
            None,
            &mut needle,
            0,
        )?)
    }
}

try_from_map_data!(BloomFilter<V>);
