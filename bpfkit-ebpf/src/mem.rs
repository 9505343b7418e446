//! `memset`, `memcpy`, `memmove` and `memcmp` for eBPF objects.
//!
//! The BPF backend turns ordinary Rust (zeroing a struct, copying an array, comparing slices)
//! into calls to these C functions once the sizes pass its inline-store limits, and nothing
//! else in an eBPF link defines them: without these the object has an undefined `memset` the
//! kernel cannot load. bpf-linker links them as static subprograms, so the verifier checks
//! them in the caller's context, with the caller's pointers and constant lengths.
//!
//! Unlike C's, `memset`, `memcpy` and `memmove` return nothing: the verifier refuses a function
//! that returns a pointer to the caller's stack, and code calling them for Rust never uses the
//! result.
//!
//! The loops use volatile accesses so LLVM cannot recognise them as the very idioms they
//! implement and turn them back into calls to themselves.

use core::ptr::{read_volatile, write_volatile};

/// Fills `len` bytes at `dest` with the low byte of `byte`.
///
/// # Safety
/// `dest` must be valid for writes of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn memset(dest: *mut u8, byte: i32, len: usize) {
    let value = byte as u8;
    let mut i = 0;
    while i < len {
        // SAFETY: i < len, and the caller guarantees dest..dest+len is writable.
        unsafe { write_volatile(dest.add(i), value) };
        i += 1;
    }
}

/// Copies `len` bytes from `src` to `dest`, which do not overlap.
///
/// # Safety
/// `src` must be valid for reads and `dest` for writes of `len` bytes, and they must not
/// overlap.
#[no_mangle]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, len: usize) {
    let mut i = 0;
    while i < len {
        // SAFETY: i < len, within both ranges the caller guarantees.
        unsafe { write_volatile(dest.add(i), read_volatile(src.add(i))) };
        i += 1;
    }
}

/// Copies `len` bytes from `src` to `dest`, which may overlap.
///
/// # Safety
/// `src` must be valid for reads and `dest` for writes of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, len: usize) {
    if (dest as usize) <= (src as usize) {
        // Forwards: each byte is read before a later write can reach it.
        // SAFETY: the caller's guarantees, passed on; a forward copy is correct for this overlap.
        unsafe { memcpy(dest, src, len) };
        return;
    }
    // Backwards, for a destination above the source.
    let mut i = len;
    while i > 0 {
        i -= 1;
        // SAFETY: i < len, within both ranges the caller guarantees.
        unsafe { write_volatile(dest.add(i), read_volatile(src.add(i))) };
    }
}

/// Compares `len` bytes: negative, zero or positive as `a` sorts before, equal to or after `b`.
///
/// # Safety
/// `a` and `b` must be valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, len: usize) -> i32 {
    let mut i = 0;
    while i < len {
        // SAFETY: i < len, within both ranges the caller guarantees.
        let (x, y) = unsafe { (read_volatile(a.add(i)), read_volatile(b.add(i))) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
        i += 1;
    }
    0
}

/// `bcmp`: like [`memcmp`], but only zero versus non-zero matters (LLVM emits it for `==`).
///
/// # Safety
/// `a` and `b` must be valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, len: usize) -> i32 {
    // SAFETY: the caller's guarantees, passed on.
    unsafe { memcmp(a, b, len) }
}
