//! Global variables.
//!
//! A `#[no_mangle] static NAME: T = value;` of a type without interior mutability lands in
//! `.rodata`, which bpfkit lets user space set before load (`EbpfLoader::set_global`) and then
//! freezes, so the verifier treats it as a constant. The compiler would fold a plain read of the
//! static to its initial value, hence [`read`]. Statics of atomic types (`AtomicU64`) land in
//! `.bss`/`.data` and are shared with user space after load.

/// Reads a global that user space may have changed before load.
///
/// A volatile read keeps the compiler from replacing it with the initial value written in the
/// source.
#[inline(always)]
pub fn read<T: Copy>(global: &'static T) -> T {
    // SAFETY: `global` is a valid, aligned reference to a static that lives forever; the read
    // is volatile only so that it is not constant-folded.
    unsafe { core::ptr::read_volatile(global) }
}
