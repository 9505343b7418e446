//! Plain-old-data types: values that can be copied to and from map memory as raw bytes.

/// A type whose values can be viewed as bytes and rebuilt from any bytes of the right length.
///
/// Implemented for the integer and float types and arrays of `Pod`. Implement it for your own
/// `#[repr(C)]` structs to use them as map keys and values:
///
/// ```
/// #[repr(C)]
/// #[derive(Clone, Copy)]
/// struct FlowKey { saddr: u32, daddr: u32, sport: u16, dport: u16, proto: u32 }
/// // SAFETY: repr(C), only integer fields, no padding (4 + 4 + 2 + 2 + 4 = 16, 4-aligned).
/// unsafe impl bpfkit::Pod for FlowKey {}
/// ```
///
/// # Safety
///
/// Implementors must be `#[repr(C)]` or `#[repr(transparent)]` (or primitives), must have **no
/// padding bytes** (viewing padding as bytes would read uninitialised memory), and every byte
/// pattern of `size_of::<Self>()` bytes must be a valid value (so no `bool`, `char`, enums,
/// references or pointers).
pub unsafe trait Pod: Copy + 'static {}

macro_rules! impl_pod {
    ($($t:ty),*) => {
        $(
            // SAFETY: primitive integers and floats have no padding and accept every bit pattern.
            unsafe impl Pod for $t {}
        )*
    };
}

impl_pod!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64);

// SAFETY: an array of Pod has no padding between elements (size is a multiple of alignment)
// and every byte pattern is valid element-wise.
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}

/// Views a Pod value as its bytes.
pub(crate) fn bytes_of<T: Pod>(value: &T) -> &[u8] {
    // SAFETY: `T: Pod` has no padding, so all `size_of::<T>()` bytes behind the reference are
    // initialised; the slice borrows `value` and so cannot outlive it; u8 has alignment 1.
    unsafe { std::slice::from_raw_parts(value as *const T as *const u8, std::mem::size_of::<T>()) }
}

/// Views a slice of Pod values as bytes.
pub(crate) fn slice_bytes<T: Pod>(values: &[T]) -> &[u8] {
    // SAFETY: as in `bytes_of`; a slice of `T` is `len * size_of::<T>()` contiguous bytes with
    // no padding between elements.
    unsafe {
        std::slice::from_raw_parts(values.as_ptr() as *const u8, std::mem::size_of_val(values))
    }
}

/// Reads a Pod value from the start of `bytes`; `None` when there are too few bytes.
pub(crate) fn read_pod<T: Pod>(bytes: &[u8]) -> Option<T> {
    let src = bytes.get(..std::mem::size_of::<T>())?;
    // SAFETY: `src` holds exactly `size_of::<T>()` initialised bytes, any byte pattern is a
    // valid `T` (Pod contract), and `read_unaligned` has no alignment requirement.
    Some(unsafe { std::ptr::read_unaligned(src.as_ptr() as *const T) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let v: u32 = 0x0102_0304;
        assert_eq!(bytes_of(&v), &v.to_ne_bytes());
        assert_eq!(read_pod::<u32>(&v.to_ne_bytes()), Some(v));
        assert_eq!(read_pod::<u64>(&[0u8; 7]), None);
        let arr = [1u16, 2, 3];
        assert_eq!(bytes_of(&arr).len(), 6);
        assert_eq!(read_pod::<[u16; 3]>(bytes_of(&arr)), Some(arr));
        assert_eq!(slice_bytes(&[1u8, 2, 3]), &[1, 2, 3]);
        assert_eq!(slice_bytes(&[7u32, 8]).len(), 8);
        // Unaligned source bytes are fine.
        let mut buf = [0u8; 9];
        buf[1..9].copy_from_slice(&42u64.to_ne_bytes());
        assert_eq!(read_pod::<u64>(&buf[1..]), Some(42));
        assert_eq!(read_pod::<f64>(&1.5f64.to_ne_bytes()), Some(1.5));
    }
}
