//! Maps of maps: outer maps whose values are other maps (of one declared inner shape).

use core::ptr;

use crate::helpers::bpf_map_lookup_elem;

/// `BPF_MAP_TYPE_ARRAY_OF_MAPS` (kernel 4.12).
const BPF_MAP_TYPE_ARRAY_OF_MAPS: usize = 12;

/// `BPF_MAP_TYPE_ARRAY_OF_MAPS` of `MAX_ENTRIES` slots indexed by `u32`, each empty or holding a
/// map shaped like `Inner` (a map definition type of this module, e.g. `Array<u64, 4>`).
///
/// `values` is libbpf's `__array(values, Inner)`: a zero-length array of pointers to the inner
/// definition, which gives the inner map's template (the loader creates one to build the outer).
#[repr(C)]
pub struct ArrayOfMaps<Inner, const MAX_ENTRIES: usize, const FLAGS: usize = 0> {
    r#type: *const [i32; BPF_MAP_TYPE_ARRAY_OF_MAPS],
    key: *const u32,
    max_entries: *const [i32; MAX_ENTRIES],
    map_flags: *const [i32; FLAGS],
    values: [*const Inner; 0],
}

// SAFETY: the static holds only null pointers (and no values) that nothing dereferences.
unsafe impl<Inner, const MAX_ENTRIES: usize, const FLAGS: usize> Sync
    for ArrayOfMaps<Inner, MAX_ENTRIES, FLAGS>
{
}

impl<Inner, const MAX_ENTRIES: usize, const FLAGS: usize> ArrayOfMaps<Inner, MAX_ENTRIES, FLAGS> {
    /// The map definition (for a `#[map]` static).
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        ArrayOfMaps {
            r#type: ptr::null(),
            key: ptr::null(),
            max_entries: ptr::null(),
            map_flags: ptr::null(),
            values: [],
        }
    }

    /// The inner map in slot `index`, or `None` when the slot is empty or out of range. Its
    /// methods (e.g. `get_ptr_mut`) act on that map.
    #[inline(always)]
    pub fn get(&self, index: u32) -> Option<&Inner> {
        // SAFETY: the map pointer is this map; the key is a valid u32.
        let inner =
            unsafe { bpf_map_lookup_elem(super::map_pointer(self), (&index as *const u32).cast()) };
        // SAFETY: a non-null result is the inner map itself, which the verifier lets helpers
        // take as their map argument; the map types' methods only pass their address to helpers.
        (!inner.is_null()).then(|| unsafe { &*inner.cast::<Inner>() })
    }
}
