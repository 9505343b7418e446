//! Run-time side of `#[kernel_struct]` (CO-RE for Rust programs).
//!
//! Each kernel field a program uses has slots in a `[u64; N]` table in `.rodata` (its byte
//! offset, whether it exists, its size) that the bpfkit loader fills from the kernel's BTF
//! before the map is created and frozen. Reading a slot is a volatile load from the frozen map,
//! which the verifier replaces by the constant it holds: `base + offset` costs one addition and
//! a branch on `exists` is pruned. The macro calls these functions; programs use the generated
//! accessors.

/// Slot `index` of a CO-RE table (0 when out of range, which the macro never produces).
#[inline(always)]
pub fn slot<const N: usize>(table: &'static [u64; N], index: usize) -> u64 {
    match table.get(index) {
        // SAFETY: a valid, aligned reference to a static; volatile so that the compiler does
        // not fold the zero the table holds in the object file.
        Some(value) => unsafe { core::ptr::read_volatile(value) },
        None => 0,
    }
}

/// Reads a `T` at `base + slot[offset_slot]` with `bpf_probe_read_kernel`, or returns `-ENOENT`
/// (-2) when `slot[exists_slot]` says the running kernel has no such field.
#[inline(always)]
pub fn read_field<T: Copy, const N: usize>(
    base: *const u8,
    table: &'static [u64; N],
    offset_slot: usize,
    exists_slot: usize,
) -> Result<T, i64> {
    const ENOENT: i64 = 2;
    if slot(table, exists_slot) == 0 {
        return Err(-ENOENT);
    }
    let offset = slot(table, offset_slot) as usize;
    crate::helpers::probe_read_kernel(base.wrapping_add(offset).cast::<T>())
}
