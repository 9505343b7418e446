//! Hash maps whose values are other maps.

use core::ptr;

use crate::helpers::bpf_map_lookup_elem;

/// `BPF_MAP_TYPE_HASH_OF_MAPS` (kernel 4.12).
const BPF_MAP_TYPE_HASH_OF_MAPS: usize = 13;

/// `BPF_MAP_TYPE_HASH_OF_MAPS` with keys `K`, at most `MAX_ENTRIES`, each holding a map shaped
/// like `Inner` (see [`super::ArrayOfMaps`] for the `values` member).
#[repr(C)]
pub struct HashOfMaps<K, Inner, const MAX_ENTRIES: usize, const FLAGS: usize = 0> {
    r#type: *const [i32; BPF_MAP_TYPE_HASH_OF_MAPS],
    key: *const K,
    max_entries: *const [i32; MAX_ENTRIES],
    map_flags: *const [i32; FLAGS],
    values: [*const Inner; 0],
}

// SAFETY: the static holds only null pointers (and no values) that nothing dereferences.
unsafe impl<K, Inner, const MAX_ENTRIES: usize, const FLAGS: usize> Sync
    for HashOfMaps<K, Inner, MAX_ENTRIES, FLAGS>
{
}

impl<K, Inner, const MAX_ENTRIES: usize, const FLAGS: usize>
    HashOfMaps<K, Inner, MAX_ENTRIES, FLAGS>
{
    /// The map definition (for a `#[map]` static).
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        HashOfMaps {
            r#type: ptr::null(),
            key: ptr::null(),
            max_entries: ptr::null(),
            map_flags: ptr::null(),
            values: [],
        }
    }

    /// The inner map stored under `key`, or `None` when absent. Its methods act on that map.
    #[inline(always)]
    pub fn get(&self, key: &K) -> Option<&Inner> {
        // SAFETY: the map pointer is this map; the key is a valid reference of the key type.
        let inner =
            unsafe { bpf_map_lookup_elem(super::map_pointer(self), (key as *const K).cast()) };
        // SAFETY: a non-null result is the inner map itself, which the verifier lets helpers
        // take as their map argument; the map types' methods only pass their address to helpers.
        (!inner.is_null()).then(|| unsafe { &*inner.cast::<Inner>() })
    }
}
