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
mod array_of_maps;
mod bloom_filter;
mod cgroup_storage;
mod cpu_map;
mod dev_map;
mod hash_map;
mod hash_of_maps;
mod inode_storage;
mod lpm_trie;
mod perf_event_array;
mod program_array;
mod queue;
mod ring_buf;
mod sk_storage;
mod sock_hash;
mod sock_map;
mod stack;
mod stack_trace;
mod task_storage;
mod xsk_map;

pub use array::{Array, PerCpuArray};
pub use array_of_maps::ArrayOfMaps;
pub use bloom_filter::BloomFilter;
pub use cgroup_storage::CgroupStorage;
pub use cpu_map::CpuMap;
pub use dev_map::{DevMap, DevMapHash};
pub use hash_map::{HashMap, LruHashMap, LruPerCpuHashMap, PerCpuHashMap};
pub use hash_of_maps::HashOfMaps;
pub use inode_storage::InodeStorage;
pub use lpm_trie::{LpmKey, LpmTrie};
pub use perf_event_array::{PerfEventArray, BPF_F_CURRENT_CPU};
pub use program_array::ProgramArray;
pub use queue::Queue;
pub use ring_buf::{RingBuf, RingBufEntry};
pub use sk_storage::{SkStorage, BPF_LOCAL_STORAGE_GET_F_CREATE};
pub use sock_hash::SockHash;
pub use sock_map::{SockMap, BPF_F_INGRESS};
pub use stack::Stack;
pub use stack_trace::{
    StackFrames, StackTrace, BPF_F_FAST_STACK_CMP, BPF_F_REUSE_STACKID, BPF_F_USER_STACK,
    PERF_MAX_STACK_DEPTH,
};
pub use task_storage::TaskStorage;
pub use xsk_map::XskMap;

/// The raw map pointer a helper takes, from a map static.
#[inline(always)]
fn map_pointer<M, P>(map: &M) -> *mut P {
    // The helpers type their map argument as `struct bpf_map *` or `void *`: either way it is
    // the address of the map definition, which the loader relocates.
    map as *const M as *mut P
}
