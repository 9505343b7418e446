//! Inode-local storage: one value per inode, for LSM programs.

use core::ffi::c_void;
use core::ptr;

use crate::helpers::{bpf_inode_storage_delete, bpf_inode_storage_get};

use super::sk_storage::{local_storage, value_or_none, BPF_LOCAL_STORAGE_GET_F_CREATE};

/// `BPF_MAP_TYPE_INODE_STORAGE` (kernel 5.10).
const BPF_MAP_TYPE_INODE_STORAGE: usize = 28;

local_storage!(
    /// `BPF_MAP_TYPE_INODE_STORAGE`: a value `V` attached to each inode that a program asks for.
    InodeStorage,
    BPF_MAP_TYPE_INODE_STORAGE
);

impl<V> InodeStorage<V> {
    /// The inode's value; with `create`, one is made when absent (a copy of `init`, or zeros).
    /// `None` when absent (and not created) or on allocation failure.
    ///
    /// # Safety
    /// `inode` must be a BTF `struct inode *` the verifier trusts (an LSM hook argument).
    #[inline(always)]
    pub unsafe fn get_ptr_mut(
        &self,
        inode: *mut c_void,
        init: Option<&V>,
        create: bool,
    ) -> Option<*mut V> {
        let init = init.map_or(ptr::null_mut(), |value| (value as *const V).cast_mut());
        let flags = if create {
            BPF_LOCAL_STORAGE_GET_F_CREATE
        } else {
            0
        };
        // SAFETY: the caller vouches for the inode pointer; init is null or a valid V.
        let value =
            unsafe { bpf_inode_storage_get(super::map_pointer(self), inode, init.cast(), flags) };
        value_or_none(value)
    }

    /// Deletes the inode's value; `-ENOENT` when it has none.
    ///
    /// # Safety
    /// As for [`Self::get_ptr_mut`].
    #[inline(always)]
    pub unsafe fn remove(&self, inode: *mut c_void) -> Result<(), i64> {
        // SAFETY: the caller vouches for the inode pointer.
        let rc = unsafe { bpf_inode_storage_delete(super::map_pointer(self), inode) };
        if rc < 0 {
            Err(i64::from(rc))
        } else {
            Ok(())
        }
    }
}
