//! Program arrays: the jump tables of tail calls.

use core::ffi::c_void;
use core::ptr;

use crate::bindings::BPF_MAP_TYPE_PROG_ARRAY;
use crate::helpers::bpf_tail_call;

/// `BPF_MAP_TYPE_PROG_ARRAY` of `MAX_ENTRIES` slots, each empty or holding a program (set from
/// user space with the program's fd) that [`ProgramArray::tail_call`] jumps to.
#[repr(C)]
pub struct ProgramArray<const MAX_ENTRIES: usize> {
    r#type: *const [i32; BPF_MAP_TYPE_PROG_ARRAY],
    key: *const u32,
    value: *const u32,
    max_entries: *const [i32; MAX_ENTRIES],
}

// SAFETY: the static holds only null pointers that nothing dereferences.
unsafe impl<const MAX_ENTRIES: usize> Sync for ProgramArray<MAX_ENTRIES> {}

impl<const MAX_ENTRIES: usize> ProgramArray<MAX_ENTRIES> {
    /// The map definition (for a `#[map]` static).
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        ProgramArray {
            r#type: ptr::null(),
            key: ptr::null(),
            value: ptr::null(),
            max_entries: ptr::null(),
        }
    }

    /// Jumps to the program in slot `index`, which runs with the same context and whose return
    /// value becomes the caller's; does not return then. Returns the kernel's negative error
    /// when the slot is empty, out of range, or the tail call limit (33) is reached.
    ///
    /// # Safety
    /// `ctx` must be the context pointer the kernel passed to the calling program (its
    /// `as_ptr()`), and the program in the slot must be of the same type.
    #[inline(always)]
    pub unsafe fn tail_call(&self, ctx: *mut c_void, index: u32) -> i64 {
        // SAFETY: the caller passes its own context; the map pointer is this program array.
        unsafe { bpf_tail_call(ctx, super::map_pointer(self), index) }
    }
}
