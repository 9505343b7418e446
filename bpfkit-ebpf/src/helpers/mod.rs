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
    // zeroing into a call to `memset` (the byte loop in `crate::mem`), which costs more.
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

/// Writes a line to the kernel's trace pipe (`bpf_trace_printk`): for debugging only, it is slow
/// and shared by every program; prefer the `info!` family for anything users read. `fmt` takes at
/// most three `%` conversions; it must be a C string literal (`c"pid %d\n"`) so it lives in
/// read-only memory, as the verifier requires.
#[inline(always)]
pub fn trace_printk(fmt: &core::ffi::CStr, args: [u64; 3]) -> i64 {
    let bytes = fmt.to_bytes_with_nul();
    // SAFETY: `fmt` is a NUL-terminated string of `bytes.len()` bytes that outlives the call; the
    // helper reads no further than the size passed.
    unsafe { bpf_trace_printk(fmt.as_ptr(), bytes.len() as u32, args[0], args[1], args[2]) }
}

/// Redirects the packet to the interface `ifindex` (`bpf_redirect`, XDP and TC); returns the
/// program's verdict (`XDP_REDIRECT` / `TC_ACT_REDIRECT`), or an error verdict for bad flags.
#[inline(always)]
pub fn redirect(ifindex: u32, flags: u64) -> i64 {
    // SAFETY: takes no pointers; the kernel checks the index and the flags.
    unsafe { bpf_redirect(ifindex, flags) }
}

/// The checksum difference between two runs of 32-bit words (`bpf_csum_diff`), seeded with
/// `seed`: the value to fold into a checksum after replacing `from` with `to`. Returns the new
/// checksum or a negative error.
#[inline(always)]
pub fn csum_diff(from: &[u32], to: &[u32], seed: u32) -> i64 {
    // SAFETY: both slices are valid for reads of the byte sizes passed; the helper only reads.
    unsafe {
        bpf_csum_diff(
            from.as_ptr() as *mut u32,
            core::mem::size_of_val(from) as u32,
            to.as_ptr() as *mut u32,
            core::mem::size_of_val(to) as u32,
            seed,
        )
    }
}
