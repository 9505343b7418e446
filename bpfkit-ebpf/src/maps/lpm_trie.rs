//! Longest-prefix-match tries (routing tables and the like).

use core::ffi::c_void;
use core::ptr;

use crate::helpers::{bpf_map_delete_elem, bpf_map_lookup_elem, bpf_map_update_elem};

/// `BPF_MAP_TYPE_LPM_TRIE` (kernel 4.11).
const BPF_MAP_TYPE_LPM_TRIE: usize = 11;
/// `BPF_F_NO_PREALLOC`: the kernel requires it for LPM tries.
const BPF_F_NO_PREALLOC: usize = 1;

/// An LPM trie key: the number of significant leading bits of `data`, then the data itself
/// (compared most significant byte first: store addresses in network byte order).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct LpmKey<K> {
    /// How many leading bits of `data` count (at most `8 * size_of::<K>()`).
    pub prefix_len: u32,
    /// The key bytes.
    pub data: K,
}

impl<K> LpmKey<K> {
    /// A key for `data` with `prefix_len` significant bits.
    #[inline(always)]
    pub const fn new(prefix_len: u32, data: K) -> Self {
        LpmKey { prefix_len, data }
    }
}

/// `BPF_MAP_TYPE_LPM_TRIE` with keys [`LpmKey<K>`] and values `V`, at most `MAX_ENTRIES` prefixes.
/// `FLAGS` defaults to `BPF_F_NO_PREALLOC`, which the kernel requires.
#[repr(C)]
pub struct LpmTrie<K, V, const MAX_ENTRIES: usize, const FLAGS: usize = BPF_F_NO_PREALLOC> {
    r#type: *const [i32; BPF_MAP_TYPE_LPM_TRIE],
    key: *const LpmKey<K>,
    value: *const V,
    max_entries: *const [i32; MAX_ENTRIES],
    map_flags: *const [i32; FLAGS],
}

// SAFETY: the static holds only null pointers that nothing dereferences; the kernel
// synchronises updates.
unsafe impl<K, V, const MAX_ENTRIES: usize, const FLAGS: usize> Sync
    for LpmTrie<K, V, MAX_ENTRIES, FLAGS>
{
}

impl<K, V, const MAX_ENTRIES: usize, const FLAGS: usize> LpmTrie<K, V, MAX_ENTRIES, FLAGS> {
    /// The map definition (for a `#[map]` static).
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        LpmTrie {
            r#type: ptr::null(),
            key: ptr::null(),
            value: ptr::null(),
            max_entries: ptr::null(),
            map_flags: ptr::null(),
        }
    }

    /// A pointer to the value of the longest stored prefix matching `key` (its `prefix_len` is
    /// the longest prefix to try, usually all bits), or `None` when no prefix matches.
    #[inline(always)]
    pub fn get_ptr_mut(&self, key: &LpmKey<K>) -> Option<*mut V> {
        // SAFETY: the map pointer is this map; the key is a valid reference of the key type.
        let value = unsafe {
            bpf_map_lookup_elem(super::map_pointer(self), (key as *const LpmKey<K>).cast())
        };
        if value.is_null() {
            None
        } else {
            Some(value.cast())
        }
    }

    /// A reference to the value of the longest matching prefix, or `None`.
    ///
    /// # Safety
    /// User space or another CPU may change or delete the entry while the reference is held.
    #[inline(always)]
    pub unsafe fn get(&self, key: &LpmKey<K>) -> Option<&V> {
        // SAFETY: a non-null lookup result points at a live value of type V.
        self.get_ptr_mut(key).map(|value| unsafe { &*value })
    }

    /// Stores `value` for the prefix `key` (`flags`: `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`).
    #[inline(always)]
    pub fn insert(&self, key: &LpmKey<K>, value: &V, flags: u64) -> Result<(), i64> {
        // SAFETY: key and value are valid references of the map's key and value types.
        let rc = unsafe {
            bpf_map_update_elem(
                super::map_pointer(self),
                (key as *const LpmKey<K>).cast(),
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

    /// Removes the exact prefix `key`; `-ENOENT` when it is not stored.
    #[inline(always)]
    pub fn remove(&self, key: &LpmKey<K>) -> Result<(), i64> {
        // SAFETY: the key is a valid reference of the map's key type.
        let rc = unsafe {
            bpf_map_delete_elem(super::map_pointer(self), (key as *const LpmKey<K>).cast())
        };
        if rc < 0 {
            Err(rc)
        } else {
            Ok(())
        }
    }
}
