//! Stack trace maps: call stacks collected by `bpf_get_stackid`, deduplicated by id.

use core::ffi::c_void;
use core::ptr;

use crate::helpers::bpf_get_stackid;

/// `BPF_MAP_TYPE_STACK_TRACE` (kernel 4.6).
const BPF_MAP_TYPE_STACK_TRACE: usize = 7;

/// `PERF_MAX_STACK_DEPTH`: the number of frames a stack trace value holds by default.
pub const PERF_MAX_STACK_DEPTH: usize = 127;

/// `BPF_F_USER_STACK`: collect the user-space stack instead of the kernel's.
pub const BPF_F_USER_STACK: u64 = 1 << 8;
/// `BPF_F_FAST_STACK_CMP`: compare stacks by hash only.
pub const BPF_F_FAST_STACK_CMP: u64 = 1 << 9;
/// `BPF_F_REUSE_STACKID`: on a hash collision, replace the older stack.
pub const BPF_F_REUSE_STACKID: u64 = 1 << 10;

/// A stack trace: instruction pointers, innermost first, zero after the last frame.
pub type StackFrames = [u64; PERF_MAX_STACK_DEPTH];

/// `BPF_MAP_TYPE_STACK_TRACE` of `MAX_ENTRIES` stacks: keys are stack ids (`u32`), values
/// [`StackFrames`].
#[repr(C)]
pub struct StackTrace<const MAX_ENTRIES: usize, const FLAGS: usize = 0> {
    r#type: *const [i32; BPF_MAP_TYPE_STACK_TRACE],
    key: *const u32,
    value: *const StackFrames,
    max_entries: *const [i32; MAX_ENTRIES],
    map_flags: *const [i32; FLAGS],
}

// SAFETY: the static holds only null pointers that nothing dereferences.
unsafe impl<const MAX_ENTRIES: usize, const FLAGS: usize> Sync for StackTrace<MAX_ENTRIES, FLAGS> {}

impl<const MAX_ENTRIES: usize, const FLAGS: usize> StackTrace<MAX_ENTRIES, FLAGS> {
    /// The map definition (for a `#[map]` static).
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        StackTrace {
            r#type: ptr::null(),
            key: ptr::null(),
            value: ptr::null(),
            max_entries: ptr::null(),
            map_flags: ptr::null(),
        }
    }

    /// Stores the current call stack (kernel's, or user's with [`BPF_F_USER_STACK`]; frames to
    /// skip in the low 8 bits of `flags`) and returns its id, the key user space looks it up by;
    /// the kernel's negative error on failure (`-EEXIST` on a collision without
    /// [`BPF_F_REUSE_STACKID`]).
    ///
    /// # Safety
    /// `ctx` must be the context pointer the kernel passed to the calling program.
    #[inline(always)]
    pub unsafe fn get_stackid(&self, ctx: *mut c_void, flags: u64) -> Result<u32, i64> {
        // SAFETY: the caller passes its own context; the map pointer is this stack trace map.
        let rc = unsafe { bpf_get_stackid(ctx, super::map_pointer(self), flags) };
        if rc < 0 {
            Err(rc)
        } else {
            Ok(rc as u32)
        }
    }
}
