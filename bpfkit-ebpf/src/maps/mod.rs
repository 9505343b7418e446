//! BTF-defined maps.
//!
//! libbpf describes a map by the BTF type of a variable in the `.maps` section: a struct whose
//! members are pointers, `type` and `max_entries` (and `map_flags`) to arrays whose *length* is
//! the value (`int (*type)[BPF_MAP_TYPE_HASH]`), `key` and `value` to the key and value types.
//! The map types here have exactly that layout, with the numbers as const generics, so the
//! compiler's debug info (which bpf-linker turns into BTF) says what C's `__uint`/`__type` say.
//! The static itself is all null pointers; the loader replaces references to it by the map.
//!
//! Declare a map with `#[map]`, which names it after the static:
//! `#[map] static counts: HashMap<u32, u64, 1024> = HashMap::new();`

mod array;
mod hash_map;
mod program_array;
mod ring_buf;

pub use array::{Array, PerCpuArray};
pub use hash_map::{HashMap, LruHashMap};
pub use program_array::ProgramArray;
pub use ring_buf::{RingBuf, RingBufEntry};

/// The raw map pointer a helper takes, from a map static.
#[inline(always)]
fn map_pointer<M, P>(map: &M) -> *mut P {
    // The helpers type their map argument as `struct bpf_map *` or `void *`: either way it is
    // the address of the map definition, which the loader relocates.
    map as *const M as *mut P
}
