//! Ring buffers: records written by programs, read by user space in order.

use core::mem::{size_of, MaybeUninit};
use core::ptr;

use crate::bindings::BPF_MAP_TYPE_RINGBUF;
use crate::helpers::{
    bpf_ringbuf_discard, bpf_ringbuf_output, bpf_ringbuf_reserve, bpf_ringbuf_submit,
};

/// `BPF_MAP_TYPE_RINGBUF` of `BYTE_SIZE` bytes (a power of two, a multiple of the page size).
#[repr(C)]
pub struct RingBuf<const BYTE_SIZE: usize> {
    r#type: *const [i32; BPF_MAP_TYPE_RINGBUF],
    max_entries: *const [i32; BYTE_SIZE],
}

// SAFETY: the static holds only null pointers that nothing dereferences.
unsafe impl<const BYTE_SIZE: usize> Sync for RingBuf<BYTE_SIZE> {}

impl<const BYTE_SIZE: usize> RingBuf<BYTE_SIZE> {
    /// The map definition (for a `#[map]` static).
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        RingBuf {
            r#type: ptr::null(),
            max_entries: ptr::null(),
        }
    }

    /// Reserves room for one `T`, or `None` when the buffer is full. The entry must be written,
    /// then submitted; dropping it discards it (the verifier insists on one or the other).
    #[inline(always)]
    pub fn reserve<T>(&self, flags: u64) -> Option<RingBufEntry<T>> {
        // SAFETY: the map pointer is this ring buffer; the size is a compile-time constant, as the
        // verifier requires.
        let slot =
            unsafe { bpf_ringbuf_reserve(super::map_pointer(self), size_of::<T>() as u64, flags) };
        if slot.is_null() {
            None
        } else {
            Some(RingBufEntry { slot: slot.cast() })
        }
    }

    /// Copies `value` into the buffer as one record (reserve, copy and submit in one helper).
    #[inline(always)]
    pub fn output<T>(&self, value: &T, flags: u64) -> Result<(), i64> {
        // SAFETY: the data pointer is a valid reference to size_of::<T>() readable bytes; the
        // helper only reads them.
        let rc = unsafe {
            bpf_ringbuf_output(
                super::map_pointer(self),
                (value as *const T).cast_mut().cast(),
                size_of::<T>() as u64,
                flags,
            )
        };
        if rc < 0 {
            Err(rc)
        } else {
            Ok(())
        }
    }
}

/// A reserved ring buffer record, not yet visible to user space.
pub struct RingBufEntry<T> {
    slot: *mut MaybeUninit<T>,
}

impl<T> RingBufEntry<T> {
    /// Writes the record's contents.
    #[inline(always)]
    pub fn write(&mut self, value: T) {
        // SAFETY: the slot is a reserved, exclusively owned record of size_of::<T>() bytes, aligned
        // to 8 by the ring buffer.
        unsafe { (*self.slot).write(value) };
    }

    /// The record's memory, for filling it field by field (its contents start out undefined).
    #[inline(always)]
    pub fn as_mut_ptr(&mut self) -> *mut T {
        self.slot.cast()
    }

    /// Makes the record visible to user space (`flags`: `BPF_RB_NO_WAKEUP`, `BPF_RB_FORCE_WAKEUP`).
    #[inline(always)]
    pub fn submit(self, flags: u64) {
        let slot = self.slot;
        core::mem::forget(self);
        // SAFETY: the record was reserved and is released exactly once (Drop will not run).
        unsafe { bpf_ringbuf_submit(slot.cast(), flags) };
    }

    /// Gives the record back without user space seeing it.
    #[inline(always)]
    pub fn discard(self, flags: u64) {
        let slot = self.slot;
        core::mem::forget(self);
        // SAFETY: the record was reserved and is released exactly once (Drop will not run).
        unsafe { bpf_ringbuf_discard(slot.cast(), flags) };
    }
}

impl<T> Drop for RingBufEntry<T> {
    fn drop(&mut self) {
        // SAFETY: an entry not submitted is discarded here, exactly once.
        unsafe { bpf_ringbuf_discard(self.slot.cast(), 0) };
    }
}
