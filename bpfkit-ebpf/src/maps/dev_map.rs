//! XDP redirect targets: device maps (by index or by hash), CPU maps and AF_XDP socket maps.
//! They share one shape (u32 keys and values, `bpf_redirect_map`), so one macro defines them.

use core::ptr;

use crate::helpers::bpf_redirect_map;

/// `BPF_MAP_TYPE_DEVMAP` (kernel 4.14).
const BPF_MAP_TYPE_DEVMAP: usize = 14;
/// `BPF_MAP_TYPE_DEVMAP_HASH` (kernel 5.4).
const BPF_MAP_TYPE_DEVMAP_HASH: usize = 25;

/// A map `bpf_redirect_map` redirects XDP frames through.
macro_rules! redirect_map {
    ($(#[$doc:meta])* $name:ident, $map_type:expr) => {
        $(#[$doc])*
        #[repr(C)]
        pub struct $name<const MAX_ENTRIES: usize, const FLAGS: usize = 0> {
            r#type: *const [i32; $map_type],
            key: *const u32,
            value: *const u32,
            max_entries: *const [i32; MAX_ENTRIES],
            map_flags: *const [i32; FLAGS],
        }

        // SAFETY: the static holds only null pointers that nothing dereferences.
        unsafe impl<const MAX_ENTRIES: usize, const FLAGS: usize> Sync
            for $name<MAX_ENTRIES, FLAGS>
        {
        }

        impl<const MAX_ENTRIES: usize, const FLAGS: usize> $name<MAX_ENTRIES, FLAGS> {
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

            /// Redirects the XDP frame to the entry `key`; returns the XDP action to return:
            /// `XDP_REDIRECT`, or when the entry is empty the action in the low two bits of
            /// `flags` (e.g. `XDP_PASS`; `XDP_ABORTED` when 0).
            #[inline(always)]
            pub fn redirect(&self, key: u32, flags: u64) -> u32 {
                // SAFETY: the map pointer is this map; the helper takes the key by value.
                let action = unsafe { bpf_redirect_map(super::map_pointer(self), key, flags) };
                action as u32
            }
        }
    };
}

pub(super) use redirect_map;

redirect_map!(
    /// `BPF_MAP_TYPE_DEVMAP`: `MAX_ENTRIES` slots indexed by `u32`, each a network device's
    /// ifindex (set by user space), for XDP redirects to other devices.
    DevMap,
    BPF_MAP_TYPE_DEVMAP
);
redirect_map!(
    /// `BPF_MAP_TYPE_DEVMAP_HASH`: like [`DevMap`], keyed by any `u32` (often the ifindex).
    DevMapHash,
    BPF_MAP_TYPE_DEVMAP_HASH
);
