//! Bloom filters: set membership with false positives but no false negatives.

use core::ffi::c_void;
use core::ptr;

use crate::helpers::{bpf_map_peek_elem, bpf_map_push_elem};

/// `BPF_MAP_TYPE_BLOOM_FILTER` (kernel 5.16).
const BPF_MAP_TYPE_BLOOM_FILTER: usize = 30;

/// `BPF_MAP_TYPE_BLOOM_FILTER` sized for `MAX_ENTRIES` values `V`, with `HASHES` hash functions
/// (1 to 15; `map_extra`, as libbpf's `__uint(map_extra, n)`; 0 lets the kernel use 5).
#[repr(C)]
pub struct BloomFilter<V, const MAX_ENTRIES: usize, const HASHES: usize = 5, const FLAGS: usize = 0>
{
    r#type: *const [i32; BPF_MAP_TYPE_BLOOM_FILTER],
    value: *const V,
    max_entries: *const [i32; MAX_ENTRIES],
    map_flags: *const [i32; FLAGS],
    map_extra: *const [i32; HASHES],
}

// SAFETY: the static holds only null pointers that nothing dereferences; the kernel sets bits
// atomically.
unsafe impl<V, const MAX_ENTRIES: usize, const HASHES: usize, const FLAGS: usize> Sync
    for BloomFilter<V, MAX_ENTRIES, HASHES, FLAGS>
{
}

impl<V, const MAX_ENTRIES: usize, const HASHES: usize, const FLAGS: usize>
    BloomFilter<V, MAX_ENTRIES, HASHES, FLAGS>
{
    /// The map definition (for a `#[map]` static).
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        BloomFilter {
            r#type: ptr::null(),
            value: ptr::null(),
            max_entries: ptr::null(),
            map_flags: ptr::null(),
            map_extra: ptr::null(),
        }
    }

    /// Adds `value` to the set (`bpf_map_push_elem`; `flags` must be `BPF_ANY`).
    #[inline(always)]
    pub fn insert(&self, value: &V, flags: u64) -> Result<(), i64> {
        // SAFETY: the value is a valid reference of the map's value type; the helper reads it.
        let rc = unsafe {
            bpf_map_push_elem(
                super::map_pointer(self),
                (value as *const V).cast::<c_void>(),
                flags,
            )
        };
        if rc < 0 {
            Err(rc)
        } else {
            Ok(())
        }
    }

    /// Whether `value` may be in the set (`bpf_map_peek_elem`): `false` is certain, `true` may
    /// be a false positive.
    #[inline(always)]
    pub fn contains(&self, value: &V) -> bool {
        // SAFETY: the helper only reads the value for a bloom filter (it is the needle, not an
        // output buffer), and the reference is valid for the value type's size.
        let rc = unsafe {
            bpf_map_peek_elem(
                super::map_pointer(self),
                (value as *const V).cast_mut().cast(),
            )
        };
        rc == 0
    }
}
