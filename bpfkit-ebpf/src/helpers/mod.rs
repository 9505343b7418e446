//! Helper functions: raw `bpf_*` bindings for every helper (generated from the kernel's own
//! definitions by `cargo run -p xtask -- gen-helpers`; unsafe, as the kernel declares them) and safe
//! wrappers for the common ones.

pub mod generated;

pub use generated::*;

/// The current task's thread group id (user space's "pid") in the upper 32 bits and thread id
/// in the lower 32 bits.
#[inline(always)]
pub fn current_pid_tgid() -> u64 {
    // SAFETY: takes no arguments and is allowed in every program type.
    unsafe { bpf_get_current_pid_tgid() }
}

/// The current task's gid in the upper 32 bits and uid in the lower 32 bits.
#[inline(always)]
pub fn current_uid_gid() -> u64 {
    // SAFETY: takes no arguments.
    unsafe { bpf_get_current_uid_gid() }
}

/// Nanoseconds since boot, not counting suspend (`CLOCK_MONOTONIC`).
#[inline(always)]
pub fn ktime_ns() -> u64 {
    // SAFETY: takes no arguments.
    unsafe { bpf_ktime_get_ns() }
}

/// The CPU the program runs on.
#[inline(always)]
pub fn smp_processor_id() -> u32 {
    // SAFETY: takes no arguments.
    unsafe { bpf_get_smp_processor_id() }
}

/// Writes the current task's `comm` (NUL-padded) into `buffer`; on error the kernel zeroes
/// the buffer and the negative error is returned.
#[inline(always)]
pub fn current_comm_into(buffer: &mut [u8; 16]) -> Result<(), i64> {
    // SAFETY: the buffer is a valid, writable 16-byte array, and its size is passed.
    let rc = unsafe { bpf_get_current_comm(buffer.as_mut_ptr().cast(), buffer.len() as u32) };
    if rc < 0 {
        Err(rc)
    } else {
        Ok(())
    }
}

/// The current task's `comm` (NUL-padded), or the kernel's negative error.
#[inline(always)]
pub fn current_comm() -> Result<[u8; 16], i64> {
    // 8-aligned so that zeroing it is two stores: the BPF backend lowers a byte-aligned 16-byte
    // zeroing into a call to `memset`, which no eBPF object can link.
    #[repr(C, align(8))]
    struct Comm([u8; 16]);
    let mut comm = Comm([0; 16]);
    current_comm_into(&mut comm.0)?;
    Ok(comm.0)
}

/// Reads a `T` from kernel memory at `source` (which may be any address: a fault gives an error).
#[inline(always)]
pub fn probe_read_kernel<T: Copy>(source: *const T) -> Result<T, i64> {
    let mut value = core::mem::MaybeUninit::<T>::uninit();
    // SAFETY: the destination is a writable local of size_of::<T>() bytes; the helper checks the
    // source address itself and zeroes the destination on failure.
    let rc = unsafe {
        bpf_probe_read_kernel(
            value.as_mut_ptr().cast(),
            core::mem::size_of::<T>() as u32,
            source.cast(),
        )
    };
    if rc < 0 {
        return Err(rc);
    }
    // SAFETY: the helper succeeded, so all size_of::<T>() bytes were written; T is Copy, plain data.
    Ok(unsafe { value.assume_init() })
}

/// Reads a `T` from user memory at `source` (a fault gives an error).
#[inline(always)]
pub fn probe_read_user<T: Copy>(source: *const T) -> Result<T, i64> {
    let mut value = core::mem::MaybeUninit::<T>::uninit();
    // SAFETY: as in probe_read_kernel.
    let rc = unsafe {
        bpf_probe_read_user(
            value.as_mut_ptr().cast(),
            core::mem::size_of::<T>() as u32,
            source.cast(),
        )
    };
    if rc < 0 {
        return Err(rc);
    }
    // SAFETY: the helper succeeded and wrote every byte.
    Ok(unsafe { value.assume_init() })
}
