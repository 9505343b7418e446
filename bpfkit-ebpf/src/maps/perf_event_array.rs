//! Perf event arrays: per-CPU perf buffers that programs write samples into.

use core::mem::size_of;
use core::ptr;

use crate::helpers::bpf_perf_event_output;

/// `BPF_MAP_TYPE_PERF_EVENT_ARRAY` (kernel 4.3).
const BPF_MAP_TYPE_PERF_EVENT_ARRAY: usize = 4;

/// `BPF_F_CURRENT_CPU`: write to the buffer of the CPU the program runs on.
pub const BPF_F_CURRENT_CPU: u64 = 0xffff_ffff;

/// `BPF_MAP_TYPE_PERF_EVENT_ARRAY`: one perf event fd per CPU (set by user space), indexed by
/// CPU number. `MAX_ENTRIES` 0 lets the loader (bpfkit or libbpf) use the number of possible CPUs.
///
/// Keys and values are 4-byte (`key_size`/`value_size` members, as libbpf's definitions have).
#[repr(C)]
pub struct PerfEventArray<const MAX_ENTRIES: usize = 0, const FLAGS: usize = 0> {
    r#type: *const [i32; BPF_MAP_TYPE_PERF_EVENT_ARRAY],
    key_size: *const [i32; 4],
    value_size: *const [i32; 4],
    max_entries: *const [i32; MAX_ENTRIES],
    map_flags: *const [i32; FLAGS],
}

// SAFETY: the static holds only null pointers that nothing dereferences.
unsafe impl<const MAX_ENTRIES: usize, const FLAGS: usize> Sync
    for PerfEventArray<MAX_ENTRIES, FLAGS>
{
}

impl<const MAX_ENTRIES: usize, const FLAGS: usize> PerfEventArray<MAX_ENTRIES, FLAGS> {
    /// The map definition (for a `#[map]` static).
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        PerfEventArray {
            r#type: ptr::null(),
            key_size: ptr::null(),
            value_size: ptr::null(),
            max_entries: ptr::null(),
            map_flags: ptr::null(),
        }
    }

    /// Writes `sample` to this CPU's perf buffer ([`BPF_F_CURRENT_CPU`]).
    ///
    /// # Safety
    /// `ctx` must be the context pointer the kernel passed to the calling program.
    #[inline(always)]
    pub unsafe fn output<T>(&self, ctx: *mut core::ffi::c_void, sample: &T) -> Result<(), i64> {
        // SAFETY: the caller passes its own context.
        unsafe { self.output_at(ctx, sample, BPF_F_CURRENT_CPU) }
    }

    /// Writes `sample` to the buffer at index `flags & 0xffffffff` ([`BPF_F_CURRENT_CPU`] for
    /// this CPU's); the kernel's negative error on failure (`-ENOENT` when no perf event is set
    /// at that index).
    ///
    /// # Safety
    /// `ctx` must be the context pointer the kernel passed to the calling program.
    #[inline(always)]
    pub unsafe fn output_at<T>(
        &self,
        ctx: *mut core::ffi::c_void,
        sample: &T,
        flags: u64,
    ) -> Result<(), i64> {
        // SAFETY: the sample is a valid reference to size_of::<T>() readable bytes, which the
        // helper copies; the caller vouches for the context.
        let rc = unsafe {
            bpf_perf_event_output(
                ctx,
                super::map_pointer(self),
                flags,
                (sample as *const T).cast_mut().cast(),
                size_of::<T>() as u64,
            )
        };
        if rc < 0 {
            Err(rc)
        } else {
            Ok(())
        }
    }
}
