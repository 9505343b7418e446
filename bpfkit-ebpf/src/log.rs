//! Logging to user space: `info!(ctx, "pid {} opened {}", pid, text(&comm))`.
//!
//! Each call writes one record (the format of [`bpfkit_common::log`]) into the ring buffer
//! map `BPFKIT_LOGS`, which [`log_buffer!`](crate::log_buffer) defines once per object; user
//! space formats the records through the `log` crate with `bpfkit::log::EbpfLogger`.
//!
//! * **Levels filtered at load time.** A record is written only when its level is at most the
//!   `.rodata` global `BPFKIT_LOG_LEVEL` (1 = errors only ... 5 = everything, 0 = nothing;
//!   default 5), which user space sets before load (`EbpfLoader::set_global`). bpfkit freezes
//!   `.rodata`, so the verifier knows the value and never walks the code of disabled levels:
//!   they cost neither run time nor verifier work.
//! * **Everything is sized at compile time.** The format string (parsed at compile time: a
//!   wrong placeholder or argument count is a compile error) travels inline with the module
//!   path as target; each argument's size follows from its type, so the record is reserved at
//!   its exact size and filled with stores at constant offsets, as the verifier wants.
//!
//! Arguments: `u8`..`u64`, `i8`..`i64`, `usize`, `isize`, `bool`, `char`, byte arrays
//! `[u8; N]` (hex, or `{:ipv4}` / `{:ipv6}` / `{:mac}`), string literals, and NUL-padded text
//! such as a task's `comm` wrapped in [`text`]. Numbers take `{:x}`, `{:X}` and, for a `u32`
//! holding an address as a number, `{:ipv4}`.

use core::ffi::c_void;

#[doc(hidden)]
pub use bpfkit_common::log::text_words as __text_words;
use bpfkit_common::log::{arg_header_word, pad8, ArgKind, ARG_HEADER_LEN, HEADER_LEN};
pub use bpfkit_common::log::{Level, MAX_TEXT_LEN};

use crate::helpers::{bpf_ringbuf_reserve, bpf_ringbuf_submit};

/// Default size of the `BPFKIT_LOGS` ring buffer; user space may change it before load
/// (`EbpfLoader::set_max_entries("BPFKIT_LOGS", bytes)`).
pub const LOG_BUFFER_BYTES: usize = 64 * 1024;

// The map and the level live in the program's own crate, defined by `log_buffer!()`: a
// `#[no_mangle]` static here would be exported by every object that links bpfkit-ebpf, logging
// or not. The macros reach them by symbol name, resolved when bpf-linker links the object.
extern "C" {
    /// The `BPFKIT_LOGS` ring buffer map (only its address is used).
    static BPFKIT_LOGS: u8;
    /// The most verbose level written (a [`Level`] as a number, 0 for none).
    static BPFKIT_LOG_LEVEL: u8;
}

/// Defines, once per object, the `BPFKIT_LOGS` ring buffer the log macros write to and the
/// `.rodata` level `BPFKIT_LOG_LEVEL` (default: everything), next to `license!`:
/// `bpfkit_ebpf::log_buffer!();` or `bpfkit_ebpf::log_buffer!(256 * 1024);` for another size
/// (a power of two, a multiple of the page size). Using a log macro without it fails at link
/// time with an undefined `BPFKIT_LOGS`.
#[macro_export]
macro_rules! log_buffer {
    () => {
        $crate::log_buffer!($crate::log::LOG_BUFFER_BYTES);
    };
    ($bytes:expr) => {
        #[no_mangle]
        #[link_section = ".maps"]
        static BPFKIT_LOGS: $crate::maps::RingBuf<{ $bytes }> = $crate::maps::RingBuf::new();

        #[no_mangle]
        static BPFKIT_LOG_LEVEL: u8 = $crate::log::Level::Trace as u8;
    };
}

/// Whether records of `level` are written. After load the verifier knows the answer, so the
/// branch of a disabled level is never verified.
#[inline(always)]
pub fn enabled(level: Level) -> bool {
    // SAFETY: `log_buffer!` defines the symbol as a `u8` static that nothing writes after load
    // (it is in `.rodata`); the volatile read keeps the compiler from assuming its initial value.
    let most_verbose = unsafe { core::ptr::read_volatile(core::ptr::addr_of!(BPFKIT_LOG_LEVEL)) };
    (level as u8) <= most_verbose
}

/// A value a log macro can carry.
pub trait LogArg {
    /// The kind recorded for it.
    const KIND: ArgKind;

    /// Length of its value bytes (a compile-time constant after inlining for every
    /// implementation, as the ring buffer reservation needs).
    fn value_len(&self) -> usize;

    /// Writes its value bytes at `dst`, then zeroes up to the next multiple of 8.
    ///
    /// # Safety
    /// `dst` is 8-aligned and valid for `pad8(self.value_len())` bytes of writes.
    unsafe fn write_value(&self, dst: *mut u8);
}

/// Implements [`LogArg`] for integers, stored as 8 bytes.
macro_rules! number_arg {
    ($($ty:ty => $kind:ident as $wide:ty),* $(,)?) => {$(
        impl LogArg for $ty {
            const KIND: ArgKind = ArgKind::$kind;

            #[inline(always)]
            fn value_len(&self) -> usize {
                8
            }

            #[inline(always)]
            unsafe fn write_value(&self, dst: *mut u8) {
                // SAFETY: the caller gives 8 aligned, writable bytes. Signed values are
                // sign-extended first (`as i64`), then reinterpreted.
                unsafe { dst.cast::<u64>().write(*self as $wide as u64) };
            }
        }
    )*};
}

number_arg! {
    u8 => U8 as u64, u16 => U16 as u64, u32 => U32 as u64, u64 => U64 as u64, usize => U64 as u64,
    i8 => I8 as i64, i16 => I16 as i64, i32 => I32 as i64, i64 => I64 as i64, isize => I64 as i64,
}

impl LogArg for bool {
    const KIND: ArgKind = ArgKind::Bool;

    #[inline(always)]
    fn value_len(&self) -> usize {
        8
    }

    #[inline(always)]
    unsafe fn write_value(&self, dst: *mut u8) {
        // SAFETY: the caller gives 8 aligned, writable bytes.
        unsafe { dst.cast::<u64>().write(u64::from(*self)) };
    }
}

impl LogArg for char {
    const KIND: ArgKind = ArgKind::Char;

    #[inline(always)]
    fn value_len(&self) -> usize {
        8
    }

    #[inline(always)]
    unsafe fn write_value(&self, dst: *mut u8) {
        // SAFETY: the caller gives 8 aligned, writable bytes.
        unsafe { dst.cast::<u64>().write(u64::from(u32::from(*self))) };
    }
}

/// Copies `len` bytes from `src` to the 8-aligned `dst`, zeroing the padding after them.
///
/// # Safety
/// `src` readable for `len` bytes, `dst` 8-aligned and writable for `pad8(len)` bytes.
#[inline(always)]
unsafe fn write_bytes(src: *const u8, len: usize, dst: *mut u8) {
    if len % 8 != 0 {
        // SAFETY: the last word of the padded value lies within the caller's `pad8(len)` bytes
        // and is 8-aligned (dst is, and `len & !7` is a multiple of 8).
        unsafe { dst.add(len & !7).cast::<u64>().write(0) };
    }
    // SAFETY: both ranges are valid for `len` bytes (caller) and cannot overlap: `dst` is a
    // freshly reserved ring buffer record.
    unsafe { core::ptr::copy_nonoverlapping(src, dst, len) };
}

/// The longest text one argument carries (longer text is cut).
pub const MAX_TEXT_ARG: usize = 256;

/// Refuses, at compile time, arrays whose length does not fit the record's u16 length field.
struct FitsLength<const N: usize>;

impl<const N: usize> FitsLength<N> {
    const OK: () = assert!(N <= u16::MAX as usize, "log argument longer than 65535 bytes");
}

impl<const N: usize> LogArg for [u8; N] {
    const KIND: ArgKind = ArgKind::Bytes;

    #[inline(always)]
    fn value_len(&self) -> usize {
        let () = FitsLength::<N>::OK;
        N
    }

    #[inline(always)]
    unsafe fn write_value(&self, dst: *mut u8) {
        // SAFETY: forwarded from the caller; `self` is N readable bytes.
        unsafe { write_bytes(self.as_ptr(), N, dst) };
    }
}

impl LogArg for &str {
    const KIND: ArgKind = ArgKind::Str;

    #[inline(always)]
    fn value_len(&self) -> usize {
        // A literal's length folds to a constant; the cap keeps the u16 length field valid.
        if self.len() > MAX_TEXT_ARG {
            MAX_TEXT_ARG
        } else {
            self.len()
        }
    }

    #[inline(always)]
    unsafe fn write_value(&self, dst: *mut u8) {
        // SAFETY: value_len() <= self.len() readable bytes; the caller's room is for it.
        unsafe { write_bytes(self.as_ptr(), self.value_len(), dst) };
    }
}

/// NUL-padded text of fixed size, such as a task's `comm`: shown as text up to its first NUL.
/// Build it with [`text`].
#[derive(Clone, Copy)]
pub struct Text<'a, const N: usize>(&'a [u8; N]);

/// Marks a char array as text for a log argument: `info!(ctx, "comm {}", text(&comm))`.
#[inline(always)]
pub fn text<const N: usize>(bytes: &[u8; N]) -> Text<'_, N> {
    Text(bytes)
}

impl<const N: usize> LogArg for Text<'_, N> {
    const KIND: ArgKind = ArgKind::Str;

    #[inline(always)]
    fn value_len(&self) -> usize {
        let () = FitsLength::<N>::OK;
        N
    }

    #[inline(always)]
    unsafe fn write_value(&self, dst: *mut u8) {
        // SAFETY: forwarded from the caller; the array is N readable bytes.
        unsafe { write_bytes(self.0.as_ptr(), N, dst) };
    }
}

impl<T: LogArg + ?Sized> LogArg for &T {
    const KIND: ArgKind = T::KIND;

    #[inline(always)]
    fn value_len(&self) -> usize {
        (**self).value_len()
    }

    #[inline(always)]
    unsafe fn write_value(&self, dst: *mut u8) {
        // SAFETY: forwarded from the caller.
        unsafe { (**self).write_value(dst) }
    }
}

/// Size of one argument in a record: its header plus its padded value.
#[inline(always)]
fn encoded_len<A: LogArg>(arg: &A) -> usize {
    ARG_HEADER_LEN + pad8(arg.value_len())
}

/// Writes one argument (header and value) at `dst` and returns the bytes written.
///
/// # Safety
/// `dst` 8-aligned and writable for `encoded_len(arg)` bytes.
#[inline(always)]
unsafe fn write_arg<A: LogArg>(arg: &A, hint: u8, dst: *mut u8) -> usize {
    let len = arg.value_len();
    // SAFETY: the header word and then the value fit in the caller's room; both 8-aligned.
    unsafe {
        dst.cast::<u64>()
            .write(arg_header_word(A::KIND, hint, len as u16));
        arg.write_value(dst.add(ARG_HEADER_LEN));
    }
    ARG_HEADER_LEN + pad8(len)
}

/// The arguments of one log call, as a tuple of references (the macros build it).
pub trait LogArgs {
    /// Their total size in the record.
    fn encoded_len(&self) -> usize;

    /// Writes them in order at `dst`, argument `i` with `hints[i]`.
    ///
    /// # Safety
    /// `dst` 8-aligned and writable for `self.encoded_len()` bytes.
    unsafe fn write(&self, hints: &[u8], dst: *mut u8);
}

impl LogArgs for () {
    #[inline(always)]
    fn encoded_len(&self) -> usize {
        0
    }

    #[inline(always)]
    unsafe fn write(&self, _hints: &[u8], _dst: *mut u8) {}
}

/// Implements [`LogArgs`] for tuples.
macro_rules! tuple_args {
    ($(($($name:ident $index:tt),+))*) => {$(
        impl<$($name: LogArg),+> LogArgs for ($($name,)+) {
            #[inline(always)]
            fn encoded_len(&self) -> usize {
                0 $(+ encoded_len(&self.$index))+
            }

            #[inline(always)]
            unsafe fn write(&self, hints: &[u8], dst: *mut u8) {
                let mut offset = 0;
                $(
                    let hint = match hints.get($index) {
                        Some(hint) => *hint,
                        None => 0,
                    };
                    // SAFETY: the offsets add up to at most encoded_len(), the caller's room.
                    offset += unsafe { write_arg(&self.$index, hint, dst.add(offset)) };
                )+
                let _ = offset;
            }
        }
    )*};
}

tuple_args! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11)
}

/// 1 for each macro argument, to count them at compile time (used by the macros).
#[doc(hidden)]
pub const fn __one(_: &str) -> usize {
    1
}

/// The display hint bytes of a format string's `N` placeholders (used by the macros).
#[doc(hidden)]
pub const fn __hints<const N: usize>(format: &str) -> [u8; N] {
    let mut hints = [0u8; N];
    let mut i = 0;
    while i < N {
        hints[i] = bpfkit_common::log::placeholder_hint(format, i);
        i += 1;
    }
    hints
}

/// Whether `format` has exactly `args` well-formed placeholders (used by the macros).
#[doc(hidden)]
pub const fn __format_fits(format: &str, args: usize) -> bool {
    matches!(bpfkit_common::log::placeholder_count(format), Some(n) if n == args)
}

/// Writes one record: reserves its exact size, fills it and submits it. Nothing is written
/// when the ring buffer is full (the record is lost; user space cannot tell).
///
/// `text` is the target followed by the format string, as 8-byte words (the macros build it
/// at compile time).
#[doc(hidden)]
#[inline(always)]
pub fn __write_record<A: LogArgs>(
    level: Level,
    text: &[u64],
    target_len: u16,
    format_len: u16,
    hints: &[u8],
    args: &A,
) {
    let text_bytes = text.len() * 8;
    let total = HEADER_LEN + text_bytes + args.encoded_len();
    let arg_count = hints.len() as u8;
    // SAFETY: the map pointer is the `BPFKIT_LOGS` definition (`log_buffer!`), which the loader
    // relocates to the map;
    // `total` folds to a constant, as the verifier requires of the size.
    let record = unsafe {
        bpf_ringbuf_reserve(
            core::ptr::addr_of!(BPFKIT_LOGS).cast_mut().cast::<c_void>(),
            total as u64,
            0,
        )
    };
    if record.is_null() {
        return;
    }
    let record = record.cast::<u8>();
    // SAFETY: the record is `total` bytes, 8-aligned (ring buffer records are), exclusively
    // ours until submitted; the header, the text words and the arguments add up to `total`.
    unsafe {
        record.cast::<u64>().write(bpfkit_common::log::header_word(
            level, arg_count, target_len, format_len,
        ));
        let mut offset = HEADER_LEN;
        for word in text {
            record.add(offset).cast::<u64>().write(*word);
            offset += 8;
        }
        args.write(hints, record.add(offset));
        bpf_ringbuf_submit(record.cast(), 0);
    }
}

/// Logs at a [`Level`]: `log!(ctx, Level::Info, "pid {}", pid)`. The context is accepted for
/// symmetry with the other macros and not used.
#[macro_export]
macro_rules! log {
    ($ctx:expr, $level:expr, $format:literal $(, $arg:expr)* $(,)?) => {{
        let _ = &$ctx;
        const __LEVEL: $crate::log::Level = $level;
        if $crate::log::enabled(__LEVEL) {
            const __FORMAT: &str = $format;
            const __TARGET: &str = module_path!();
            const __TEXT: &str = concat!(module_path!(), $format);
            const __ARGS: usize = 0 $(+ $crate::log::__one(stringify!($arg)))*;
            const _: () = assert!(
                $crate::log::__format_fits(__FORMAT, __ARGS),
                "log format string: a placeholder is malformed, or their count differs from the arguments'"
            );
            const _: () = assert!(
                __TARGET.len() + __FORMAT.len() <= $crate::log::MAX_TEXT_LEN,
                "log target and format string are too long"
            );
            const __WORDS: [u64; __TEXT.len().div_ceil(8)] =
                $crate::log::__text_words(__TEXT);
            const __HINTS: [u8; __ARGS] = $crate::log::__hints(__FORMAT);
            $crate::log::__write_record(
                __LEVEL,
                &__WORDS,
                __TARGET.len() as u16,
                __FORMAT.len() as u16,
                &__HINTS,
                &($(&$arg,)*),
            );
        }
    }};
}

/// Logs an error: `error!(ctx, "lookup failed: {}", rc)`.
#[macro_export]
macro_rules! error {
    ($ctx:expr, $($rest:tt)+) => { $crate::log!($ctx, $crate::log::Level::Error, $($rest)+) };
}

/// Logs a warning: `warn!(ctx, "queue {} full", index)`.
#[macro_export]
macro_rules! warn {
    ($ctx:expr, $($rest:tt)+) => { $crate::log!($ctx, $crate::log::Level::Warn, $($rest)+) };
}

/// Logs information: `info!(ctx, "pid {} opened {}", pid, text(&name))`.
#[macro_export]
macro_rules! info {
    ($ctx:expr, $($rest:tt)+) => { $crate::log!($ctx, $crate::log::Level::Info, $($rest)+) };
}

/// Logs a debugging detail: `debug!(ctx, "from {:ipv4}", address)`.
#[macro_export]
macro_rules! debug {
    ($ctx:expr, $($rest:tt)+) => { $crate::log!($ctx, $crate::log::Level::Debug, $($rest)+) };
}

/// Logs a very verbose detail: `trace!(ctx, "flags {:x}", flags)`.
#[macro_export]
macro_rules! trace {
    ($ctx:expr, $($rest:tt)+) => { $crate::log!($ctx, $crate::log::Level::Trace, $($rest)+) };
}
