//! Hash maps, plain and per-CPU: the same definition and helpers, only the map type differs.
//! In a per-CPU map each key has one value per CPU and a program sees its own CPU's, so plain
//! (non-atomic) updates through `get_ptr_mut` are safe there.

use core::ffi::c_void;
use core::ptr;

use crate::bindings::{BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH};

/// `BPF_MAP_TYPE_PERCPU_HASH` (kernel 4.6).
const BPF_MAP_TYPE_PERCPU_HASH: usize = 5;
/// `BPF_MAP_TYPE_LRU_PERCPU_HASH` (kernel 4.10).
const BPF_MAP_TYPE_LRU_PERCPU_HASH: usize = 10;
use crate::helpers::{bpf_map_delete_elem, bpf_map_lookup_elem, bpf_map_update_elem};

macro_rules! hash_map {
    ($(#[$doc:meta])* $name:ident, $map_type:expr) => {
        $(#[$doc])*
        ///
        /// `FLAGS` is `map_flags` (`BPF_F_*`), 0 by default.
        #[repr(C)]
        pub struct $name<K, V, const MAX_ENTRIES: usize, const FLAGS: usize = 0> {
            r#type: *const [i32; $map_type],
            key: *const K,
            value: *const V,
            max_entries: *const [i32; MAX_ENTRIES],
            map_flags: *const [i32; FLAGS],
        }

        // SAFETY: the static holds only null pointers that nothing dereferences; every access to
        // the map goes through helpers, which the kernel synchronises.
        unsafe impl<K, V, const MAX_ENTRIES: usize, const FLAGS: usize> Sync
            for $name<K, V, MAX_ENTRIES, FLAGS>
        {
        }

        impl<K, V, const MAX_ENTRIES: usize, const FLAGS: usize> $name<K, V, MAX_ENTRIES, FLAGS> {
            /// The map definition (for a `#[map]` static).
            #[allow(clippy::new_without_default)]
            pub const fn new() -> Self {
                $name {
                    r#type: ptr::null(),
                    key: ptr::null(),
                    value: ptr::null(),
                    max_entries: ptr::null(),
                    map_flags: ptr::null(),
                }
            }

            /// A pointer to the value of `key` inside the map (this CPU's, in a per-CPU map), or
            /// `None` when absent. Writes through it are seen by user space; in a shared map other
            /// CPUs may access it concurrently (use atomics for counters).
            #[inline(always)]
            pub fn get_ptr_mut(&self, key: &K) -> Option<*mut V> {
                // SAFETY: the map pointer is this map; the key is a valid reference of the key type.
                let value = unsafe {
                    bpf_map_lookup_elem(super::map_pointer(self), (key as *const K).cast())
                };
                if value.is_null() {
                    None
                } else {
                    Some(value.cast())
                }
            }

            /// A reference to the value of `key` (this CPU's, in a per-CPU map), or `None` when
            /// absent.
            ///
            /// # Safety
            /// Another CPU or user space may change or delete the value while the reference is
            /// held; the caller accepts reading a value being changed.
            #[inline(always)]
            pub unsafe fn get(&self, key: &K) -> Option<&V> {
                // SAFETY: a non-null lookup result points at a live value of type V; the caller
                // accepts concurrent changes.
                self.get_ptr_mut(key).map(|value| unsafe { &*value })
            }

            /// Inserts or replaces (`flags`: `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`); in a per-CPU
            /// map this sets this CPU's value and a new key starts at zero on the other CPUs. The
            /// kernel's negative error on failure.
            #[inline(always)]
            pub fn insert(&self, key: &K, value: &V, flags: u64) -> Result<(), i64> {
                // SAFETY: key and value are valid references of the map's key and value types.
                let rc = unsafe {
                    bpf_map_update_elem(
                        super::map_pointer(self),
                        (key as *const K).cast(),
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

            /// Removes `key` (every CPU's value, in a per-CPU map); the kernel's negative error
            /// (`-ENOENT` when absent) on failure.
            #[inline(always)]
            pub fn remove(&self, key: &K) -> Result<(), i64> {
                // SAFETY: the key is a valid reference of the map's key type.
                let rc = unsafe {
                    bpf_map_delete_elem(super::map_pointer(self), (key as *const K).cast())
                };
                if rc < 0 {
                    Err(rc)
                } else {
                    Ok(())
                }
            }
        }
    };
}

hash_map!(
    /// `BPF_MAP_TYPE_HASH` with keys `K` and values `V`, at most `MAX_ENTRIES` entries.
    HashMap,
    BPF_MAP_TYPE_HASH
);
hash_map!(
    /// `BPF_MAP_TYPE_LRU_HASH`: a hash map that evicts the least recently used entry when full.
    LruHashMap,
    BPF_MAP_TYPE_LRU_HASH
);
hash_map!(
    /// `BPF_MAP_TYPE_PERCPU_HASH` with keys `K` and per-CPU values `V`, at most `MAX_ENTRIES` keys.
    PerCpuHashMap,
    BPF_MAP_TYPE_PERCPU_HASH
);
hash_map!(
    /// `BPF_MAP_TYPE_LRU_PERCPU_HASH`: a per-CPU hash map that evicts the least recently used key
    /// when full.
    LruPerCpuHashMap,
    BPF_MAP_TYPE_LRU_PERCPU_HASH
);
