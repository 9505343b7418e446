//! Arrays: every index below `MAX_ENTRIES` always has a (zero-initialised) value.

use core::ptr;

use crate::bindings::{BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_ARRAY};
use crate::helpers::bpf_map_lookup_elem;

macro_rules! array {
    ($(#[$doc:meta])* $name:ident, $map_type:expr) => {
        $(#[$doc])*
        #[repr(C)]
        pub struct $name<V, const MAX_ENTRIES: usize, const FLAGS: usize = 0> {
            r#type: *const [i32; $map_type],
            key: *const u32,
            value: *const V,
            max_entries: *const [i32; MAX_ENTRIES],
            map_flags: *const [i32; FLAGS],
        }

        // SAFETY: the static holds only null pointers that nothing dereferences; every access to
        // the map goes through helpers.
        unsafe impl<V, const MAX_ENTRIES: usize, const FLAGS: usize> Sync
            for $name<V, MAX_ENTRIES, FLAGS>
        {
        }

        impl<V, const MAX_ENTRIES: usize, const FLAGS: usize> $name<V, MAX_ENTRIES, FLAGS> {
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

            /// A pointer to the value at `index`, or `None` when `index >= MAX_ENTRIES`.
            #[inline(always)]
            pub fn get_ptr_mut(&self, index: u32) -> Option<*mut V> {
                // SAFETY: the map pointer is this map; the key is a valid u32.
                let value = unsafe {
                    bpf_map_lookup_elem(super::map_pointer(self), (&index as *const u32).cast())
                };
                if value.is_null() {
                    None
                } else {
                    Some(value.cast())
                }
            }

            /// A reference to the value at `index`, or `None` when out of range.
            ///
            /// # Safety
            /// The value may be changed concurrently (by user space, or other CPUs when shared).
            #[inline(always)]
            pub unsafe fn get(&self, index: u32) -> Option<&V> {
                // SAFETY: a non-null lookup result points at a live value of type V.
                self.get_ptr_mut(index).map(|value| unsafe { &*value })
            }
        }
    };
}

array!(
    /// `BPF_MAP_TYPE_ARRAY` of `MAX_ENTRIES` values `V`, indexed by `u32`.
    Array,
    BPF_MAP_TYPE_ARRAY
);
array!(
    /// `BPF_MAP_TYPE_PERCPU_ARRAY`: one array per CPU; a program sees its own CPU's, so plain
    /// (non-atomic) updates are safe.
    PerCpuArray,
    BPF_MAP_TYPE_PERCPU_ARRAY
);
