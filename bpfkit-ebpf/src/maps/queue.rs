//! Queues (first in, first out) of values; see also [`super::Stack`].

use core::ffi::c_void;
use core::mem::MaybeUninit;
use core::ptr;

/// `BPF_MAP_TYPE_QUEUE` (kernel 4.20).
const BPF_MAP_TYPE_QUEUE: usize = 22;

/// The definition and push/pop/peek API shared by queues and stacks: keyless maps whose
/// helpers differ only in which end `pop` and `peek` take from.
macro_rules! push_pop_map {
    ($(#[$doc:meta])* $name:ident, $map_type:expr, $end:literal) => {
        $(#[$doc])*
        ///
        /// `FLAGS` is `map_flags` (0, or `BPF_F_NUMA_NODE`, ...). There is no key.
        #[repr(C)]
        pub struct $name<V, const MAX_ENTRIES: usize, const FLAGS: usize = 0> {
            r#type: *const [i32; $map_type],
            value: *const V,
            max_entries: *const [i32; MAX_ENTRIES],
            map_flags: *const [i32; FLAGS],
        }

        // SAFETY: the static holds only null pointers that nothing dereferences; the kernel
        // serialises pushes and pops.
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
                    value: ptr::null(),
                    max_entries: ptr::null(),
                    map_flags: ptr::null(),
                }
            }

            /// Adds `value`. `flags`: 0 fails with `-E2BIG` when full; `BPF_EXIST` (2) drops
            /// the oldest value to make room.
            #[inline(always)]
            pub fn push(&self, value: &V, flags: u64) -> Result<(), i64> {
                // SAFETY: the value is a valid reference of the map's value type; the helper
                // copies it.
                let rc = unsafe {
                    crate::helpers::bpf_map_push_elem(
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

            #[doc = concat!("Removes and returns the value at the ", $end, " end; `None` when empty.")]
            #[inline(always)]
            pub fn pop(&self) -> Option<V> {
                let mut value = MaybeUninit::<V>::uninit();
                // SAFETY: the helper writes exactly one V into the buffer on success.
                let rc = unsafe {
                    crate::helpers::bpf_map_pop_elem(
                        super::map_pointer(self),
                        value.as_mut_ptr().cast(),
                    )
                };
                // SAFETY: rc 0 means the helper filled the buffer.
                (rc == 0).then(|| unsafe { value.assume_init() })
            }

            #[doc = concat!("Returns a copy of the value at the ", $end, " end without removing it; `None` when empty.")]
            #[inline(always)]
            pub fn peek(&self) -> Option<V> {
                let mut value = MaybeUninit::<V>::uninit();
                // SAFETY: the helper writes exactly one V into the buffer on success.
                let rc = unsafe {
                    crate::helpers::bpf_map_peek_elem(
                        super::map_pointer(self),
                        value.as_mut_ptr().cast(),
                    )
                };
                // SAFETY: rc 0 means the helper filled the buffer.
                (rc == 0).then(|| unsafe { value.assume_init() })
            }
        }
    };
}

pub(super) use push_pop_map;

push_pop_map!(
    /// `BPF_MAP_TYPE_QUEUE` of at most `MAX_ENTRIES` values `V`: `pop` returns the oldest.
    Queue,
    BPF_MAP_TYPE_QUEUE,
    "oldest"
);
