//! Task-local storage: one value per task (thread), freed when the task exits.

use core::ffi::c_void;
use core::ptr;

use crate::helpers::{bpf_task_storage_delete, bpf_task_storage_get};

use super::sk_storage::{local_storage, value_or_none, BPF_LOCAL_STORAGE_GET_F_CREATE};

/// `BPF_MAP_TYPE_TASK_STORAGE` (kernel 5.11).
const BPF_MAP_TYPE_TASK_STORAGE: usize = 29;

local_storage!(
    /// `BPF_MAP_TYPE_TASK_STORAGE`: a value `V` attached to each task that a program asks for.
    TaskStorage,
    BPF_MAP_TYPE_TASK_STORAGE
);

impl<V> TaskStorage<V> {
    /// The task's value; with `create`, one is made when absent (a copy of `init`, or zeros).
    /// `None` when absent (and not created) or on allocation failure.
    ///
    /// # Safety
    /// `task` must be a BTF `struct task_struct *` the verifier trusts (for example from
    /// `bpf_get_current_task_btf()` or a BTF tracepoint/LSM argument).
    #[inline(always)]
    pub unsafe fn get_ptr_mut(
        &self,
        task: *mut c_void,
        init: Option<&V>,
        create: bool,
    ) -> Option<*mut V> {
        let init = init.map_or(ptr::null_mut(), |value| (value as *const V).cast_mut());
        let flags = if create {
            BPF_LOCAL_STORAGE_GET_F_CREATE
        } else {
            0
        };
        // SAFETY: the caller vouches for the task pointer; init is null or a valid V.
        let value = unsafe {
            bpf_task_storage_get(super::map_pointer(self), task.cast(), init.cast(), flags)
        };
        value_or_none(value)
    }

    /// Deletes the task's value; `-ENOENT` when it has none.
    ///
    /// # Safety
    /// As for [`Self::get_ptr_mut`].
    #[inline(always)]
    pub unsafe fn remove(&self, task: *mut c_void) -> Result<(), i64> {
        // SAFETY: the caller vouches for the task pointer.
        let rc = unsafe { bpf_task_storage_delete(super::map_pointer(self), task.cast()) };
        if rc < 0 {
            Err(rc)
        } else {
            Ok(())
        }
    }
}
