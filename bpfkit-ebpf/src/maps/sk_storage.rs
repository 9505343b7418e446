//! Socket-local storage: one value per socket, freed with the socket.

use core::ffi::c_void;
use core::ptr;

use crate::helpers::{bpf_sk_storage_delete, bpf_sk_storage_get};

/// `BPF_MAP_TYPE_SK_STORAGE` (kernel 5.2).
const BPF_MAP_TYPE_SK_STORAGE: usize = 24;

/// `BPF_LOCAL_STORAGE_GET_F_CREATE`: create the value when the object has none.
pub const BPF_LOCAL_STORAGE_GET_F_CREATE: u64 = 1;

/// The definition shared by the local storage maps, as libbpf writes it: `map_flags`
/// `BPF_F_NO_PREALLOC` (the kernel requires it), an `int` key and a value type (the kernel needs
/// both as BTF), and no `max_entries` (it must be 0).
macro_rules! local_storage {
    ($(#[$doc:meta])* $name:ident, $map_type:expr) => {
        $(#[$doc])*
        #[repr(C)]
        pub struct $name<V> {
            r#type: *const [i32; $map_type],
            map_flags: *const [i32; 1],
            key: *const i32,
            value: *const V,
        }

        // SAFETY: the static holds only null pointers that nothing dereferences.
        unsafe impl<V> Sync for $name<V> {}

        impl<V> $name<V> {
            /// The map definition (for a `#[map]` static).
            #[allow(clippy::new_without_default)]
            pub const fn new() -> Self {
                $name {
                    r#type: ptr::null(),
                    map_flags: ptr::null(),
                    key: ptr::null(),
                    value: ptr::null(),
                }
            }
        }
    };
}

pub(super) use local_storage;

/// A storage lookup result as an option.
#[inline(always)]
pub(super) fn value_or_none<V>(value: *mut c_void) -> Option<*mut V> {
    if value.is_null() {
        None
    } else {
        Some(value.cast())
    }
}

local_storage!(
    /// `BPF_MAP_TYPE_SK_STORAGE`: a value `V` attached to each socket that a program asks for.
    SkStorage,
    BPF_MAP_TYPE_SK_STORAGE
);

impl<V> SkStorage<V> {
    /// The socket's value; with `create`, one is made when absent (a copy of `init`, or zeros).
    /// `None` when absent (and not created) or on allocation failure.
    ///
    /// # Safety
    /// `sk` must be a socket pointer the verifier accepts for `bpf_sk_storage_get` (a
    /// `struct bpf_sock *` from the context, or a BTF `struct sock *`).
    #[inline(always)]
    pub unsafe fn get_ptr_mut(
        &self,
        sk: *mut c_void,
        init: Option<&V>,
        create: bool,
    ) -> Option<*mut V> {
        let init = init.map_or(ptr::null_mut(), |value| (value as *const V).cast_mut());
        let flags = if create {
            BPF_LOCAL_STORAGE_GET_F_CREATE
        } else {
            0
        };
        // SAFETY: the caller vouches for the socket pointer; init is null or a valid V.
        let value = unsafe { bpf_sk_storage_get(super::map_pointer(self), sk, init.cast(), flags) };
        value_or_none(value)
    }

    /// Deletes the socket's value; `-ENOENT` when it has none.
    ///
    /// # Safety
    /// As for [`Self::get_ptr_mut`].
    #[inline(always)]
    pub unsafe fn remove(&self, sk: *mut c_void) -> Result<(), i64> {
        // SAFETY: the caller vouches for the socket pointer.
        let rc = unsafe { bpf_sk_storage_delete(super::map_pointer(self), sk) };
        if rc < 0 {
            Err(rc)
        } else {
            Ok(())
        }
    }
}
