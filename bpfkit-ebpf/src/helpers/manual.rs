//! Hand-written raw helper bindings, until the generated ones (from the kernel's own helper
//! definitions) land in `generated.rs`; then these are reconciled with them and removed.
//!
//! A helper is called by number: LLVM's BPF backend turns a call through a function pointer whose
//! value is the constant helper id into `call <id>`. The signatures are those of the kernel's
//! `bpf.h` helper documentation.

use core::ffi::c_void;

/// Declares `pub unsafe fn name(args) -> ret` calling helper `id`.
macro_rules! helper {
    ($(#[$doc:meta])* $id:literal fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// The arguments must be what the kernel documents for this helper; the verifier rejects
        /// a program that breaks its rules, but pointer arguments are trusted to be valid.
        #[inline(always)]
        pub unsafe fn $name($($arg: $ty),*) -> $ret {
            // SAFETY: helper ids are fixed by the kernel ABI; the transmuted "address" is never
            // dereferenced, the BPF backend emits `call <id>` for it.
            let function: unsafe extern "C" fn($($ty),*) -> $ret =
                unsafe { core::mem::transmute::<usize, unsafe extern "C" fn($($ty),*) -> $ret>($id) };
            unsafe { function($($arg),*) }
        }
    };
}

helper!(
    /// `void *bpf_map_lookup_elem(void *map, const void *key)` (helper 1).
    1 fn bpf_map_lookup_elem(map: *mut c_void, key: *const c_void) -> *mut c_void
);
helper!(
    /// `long bpf_map_update_elem(void *map, const void *key, const void *value, u64 flags)` (helper 2).
    2 fn bpf_map_update_elem(map: *mut c_void, key: *const c_void, value: *const c_void, flags: u64) -> i64
);
helper!(
    /// `long bpf_map_delete_elem(void *map, const void *key)` (helper 3).
    3 fn bpf_map_delete_elem(map: *mut c_void, key: *const c_void) -> i64
);
helper!(
    /// `u64 bpf_ktime_get_ns(void)` (helper 5).
    5 fn bpf_ktime_get_ns() -> u64
);
helper!(
    /// `u32 bpf_get_smp_processor_id(void)` (helper 8).
    8 fn bpf_get_smp_processor_id() -> u32
);
helper!(
    /// `long bpf_tail_call(void *ctx, struct bpf_map *prog_array_map, u32 index)` (helper 12):
    /// does not return on success.
    12 fn bpf_tail_call(ctx: *mut c_void, prog_array_map: *mut c_void, index: u32) -> i64
);
helper!(
    /// `u64 bpf_get_current_pid_tgid(void)`: tgid in the upper 32 bits, pid in the lower (helper 14).
    14 fn bpf_get_current_pid_tgid() -> u64
);
helper!(
    /// `u64 bpf_get_current_uid_gid(void)`: gid in the upper 32 bits, uid in the lower (helper 15).
    15 fn bpf_get_current_uid_gid() -> u64
);
helper!(
    /// `long bpf_get_current_comm(void *buf, u32 size_of_buf)` (helper 16).
    16 fn bpf_get_current_comm(buf: *mut c_void, size_of_buf: u32) -> i64
);
helper!(
    /// `long bpf_skb_load_bytes(const void *skb, u32 offset, void *to, u32 len)` (helper 26).
    26 fn bpf_skb_load_bytes(skb: *const c_void, offset: u32, to: *mut c_void, len: u32) -> i64
);
helper!(
    /// `long bpf_probe_read_user(void *dst, u32 size, const void *unsafe_ptr)` (helper 112).
    112 fn bpf_probe_read_user(dst: *mut c_void, size: u32, unsafe_ptr: *const c_void) -> i64
);
helper!(
    /// `long bpf_probe_read_kernel(void *dst, u32 size, const void *unsafe_ptr)` (helper 113).
    113 fn bpf_probe_read_kernel(dst: *mut c_void, size: u32, unsafe_ptr: *const c_void) -> i64
);
helper!(
    /// `long bpf_ringbuf_output(void *ringbuf, void *data, u64 size, u64 flags)` (helper 130).
    130 fn bpf_ringbuf_output(ringbuf: *mut c_void, data: *mut c_void, size: u64, flags: u64) -> i64
);
helper!(
    /// `void *bpf_ringbuf_reserve(void *ringbuf, u64 size, u64 flags)` (helper 131).
    131 fn bpf_ringbuf_reserve(ringbuf: *mut c_void, size: u64, flags: u64) -> *mut c_void
);
helper!(
    /// `void bpf_ringbuf_submit(void *data, u64 flags)` (helper 132).
    132 fn bpf_ringbuf_submit(data: *mut c_void, flags: u64) -> ()
);
helper!(
    /// `void bpf_ringbuf_discard(void *data, u64 flags)` (helper 133).
    133 fn bpf_ringbuf_discard(data: *mut c_void, flags: u64) -> ()
);
