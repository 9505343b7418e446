//! Stacks (last in, first out) of values.

use core::ffi::c_void;
use core::mem::MaybeUninit;
use core::ptr;

use super::queue::push_pop_map;

/// `BPF_MAP_TYPE_STACK` (kernel 4.20).
const BPF_MAP_TYPE_STACK: usize = 23;

push_pop_map!(
    /// `BPF_MAP_TYPE_STACK` of at most `MAX_ENTRIES` values `V`: `pop` returns the newest.
    Stack,
    BPF_MAP_TYPE_STACK,
    "newest"
);
