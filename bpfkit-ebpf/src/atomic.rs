//! Atomic additions for counters shared between CPUs and with user space.
//!
//! The BPF targets have no compare-and-swap, so `core`'s atomic types offer no `fetch_add` there;
//! the BPF instruction set does have an atomic add (`BPF_ATOMIC | BPF_ADD`, the `lock xadd` of
//! older kernels), which this reaches through the compiler intrinsic. Relaxed ordering is what
//! the instruction gives without `BPF_FETCH`.

/// Atomically adds `value` to the `u64` at `target`.
///
/// # Safety
/// `target` must be valid for writes and 8-aligned (a map value or a global).
#[inline(always)]
pub unsafe fn add_u64(target: *mut u64, value: u64) {
    // SAFETY: the caller guarantees a valid, aligned target; the intrinsic performs one atomic
    // read-modify-write, whose returned old value is unused (so no BPF_FETCH is needed).
    unsafe {
        core::intrinsics::atomic_xadd::<u64, u64, { core::intrinsics::AtomicOrdering::Relaxed }>(
            target, value,
        );
    }
}

/// A `u64` counter global (`.bss` when zero-initialised, `.data` otherwise), incremented
/// atomically by programs and read by user space (`Ebpf::global::<u64>`).
#[repr(transparent)]
pub struct Counter(core::cell::UnsafeCell<u64>);

// SAFETY: every mutation is a single atomic add.
unsafe impl Sync for Counter {}

impl Counter {
    /// A counter starting at `initial`.
    pub const fn new(initial: u64) -> Counter {
        Counter(core::cell::UnsafeCell::new(initial))
    }

    /// Atomically adds `value`.
    #[inline(always)]
    pub fn add(&self, value: u64) {
        // SAFETY: the cell is a static's 8-aligned u64, mutated only atomically.
        unsafe { add_u64(self.0.get(), value) }
    }
}
