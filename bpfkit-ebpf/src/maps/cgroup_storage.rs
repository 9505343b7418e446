//! Cgroup-local storage: one value per cgroup, freed with the cgroup.

use core::ffi::c_void;
use core::ptr;

use crate::helpers::{bpf_cgrp_storage_delete, bpf_cgrp_storage_get};

use super::sk_storage::{local_storage, value_or_none, BPF_LOCAL_STORAGE_GET_F_CREATE};

/// `BPF_MAP_TYPE_CGRP_STORAGE` (kernel 6.2). The older `BPF_MAP_TYPE_CGROUP_STORAGE`, keyed by
/// the attachment and read with `bpf_get_local_storage`, is a different map.
const BPF_MAP_TYPE_CGRP_STORAGE: usize = 32;

local_storage!(
    /// `BPF_MAP_TYPE_CGRP_STORAGE`: a value `V` attached to each cgroup that a program asks for.
    CgroupStorage,
    BPF_MAP_TYPE_CGRP_STORAGE
);

impl<V> CgroupStorage<V> {
    /// The cgroup's value; with `create`, one is made when absent (a copy of `init`, or zeros).
    /// `None` when absent (and not created) or on allocation failure.
    ///
    /// # Safety
    /// `cgroup` must be a BTF `struct cgroup *` the verifier trusts (e.g. a BTF tracepoint
    /// argument, or `task->cgroups->dfl_cgrp` read through trusted pointers).
    #[inline(always)]
    pub unsafe fn get_ptr_mut(
        &self,
        cgroup: *mut c_void,
        init: Option<&V>,
        create: bool,
    ) -> Option<*mut V> {
        let init = init.map_or(ptr::null(), |value| value as *const V);
        let flags = if create {
            BPF_LOCAL_STORAGE_GET_F_CREATE
        } else {
            0
        };
        let map = super::map_pointer::<Self, c_void>(self);
        // `bpf.h` does not document this helper, so its binding is untyped: the arguments are
        // its prototype's (map, cgroup, init value, flags) as 64-bit registers.
        // SAFETY: the caller vouches for the cgroup pointer; init is null or a valid V.
        let value =
            unsafe { bpf_cgrp_storage_get(map as u64, cgroup as u64, init as u64, flags, 0) };
        value_or_none(value as *mut c_void)
    }

    /// Deletes the cgroup's value; `-ENOENT` when it has none.
    ///
    /// # Safety
    /// As for [`Self::get_ptr_mut`].
    #[inline(always)]
    pub unsafe fn remove(&self, cgroup: *mut c_void) -> Result<(), i64> {
        let map = super::map_pointer::<Self, c_void>(self);
        // SAFETY: the caller vouches for the cgroup pointer (untyped binding, see above).
        let rc = unsafe { bpf_cgrp_storage_delete(map as u64, cgroup as u64, 0, 0, 0) } as i64;
        if rc < 0 {
            Err(rc)
        } else {
            Ok(())
        }
    }
}
