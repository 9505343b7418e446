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

/// An integer type a `#[bitfield]` field can be read as.
pub trait BitfieldValue: Copy {
    /// The value from the extracted bits (already shifted into the low bits; sign-extended
    /// when the kernel's type is signed, whatever the Rust type).
    fn from_bits(bits: u64) -> Self;
}

macro_rules! bitfield_values {
    ($($ty:ty),*) => {$(
        impl BitfieldValue for $ty {
            #[inline(always)]
            fn from_bits(bits: u64) -> Self {
                // Truncation is the point: the bits fit the declared type.
                bits as $ty
            }
        }
    )*};
}

bitfield_values!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

impl BitfieldValue for bool {
    #[inline(always)]
    fn from_bits(bits: u64) -> Self {
        bits != 0
    }
}

/// Reads a bitfield the way libbpf's `BPF_CORE_READ_BITFIELD_PROBED` does: the field's
/// storage unit (`size` bytes at the byte offset) goes into a 64-bit value, then the left and
/// right shifts the loader computed isolate the bits. Slots from `first`: byte offset, exists,
/// byte size, signed, left shift, right shift. The right shift is arithmetic when the kernel's
/// type is signed (the FIELD_SIGNED slot), as `BPF_CORE_READ_BITFIELD` does, so the sign follows
/// the running kernel, not the Rust type. `-ENOENT` (-2) when the field is absent.
#[inline(always)]
pub fn read_bitfield<T: BitfieldValue, const N: usize>(
    base: *const u8,
    table: &'static [u64; N],
    first: usize,
) -> Result<T, i64> {
    const ENOENT: i64 = 2;
    const EINVAL: i64 = 22;
    if slot(table, first + 1) == 0 {
        return Err(-ENOENT);
    }
    let offset = slot(table, first) as usize;
    let size = slot(table, first + 2);
    if size == 0 || size > 8 {
        return Err(-EINVAL);
    }
    let mut bits: u64 = 0;
    // The storage unit lands in the low-order bytes of `bits` on either byte order, as the
    // shifts (computed for a u64 container) expect.
    let skip = if cfg!(target_endian = "big") {
        8 - size as usize
    } else {
        0
    };
    // SAFETY: the destination is `size` (1..=8) bytes inside the local `bits` starting at
    // `skip`; the helper checks the kernel source address and zeroes the destination on error.
    let rc = unsafe {
        crate::helpers::bpf_probe_read_kernel(
            (&mut bits as *mut u64).cast::<u8>().add(skip).cast(),
            size as u32,
            base.wrapping_add(offset).cast(),
        )
    };
    if rc < 0 {
        return Err(rc);
    }
    let signed = slot(table, first + 3) != 0;
    let lshift = slot(table, first + 4) as u32;
    let rshift = slot(table, first + 5) as u32;
    let shifted = bits.wrapping_shl(lshift);
    let value = if signed {
        ((shifted as i64).wrapping_shr(rshift)) as u64
    } else {
        shifted.wrapping_shr(rshift)
    };
    Ok(T::from_bits(value))
}
