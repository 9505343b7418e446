//! CPU maps: redirect XDP frames to another CPU, which builds the packets there.

use core::ptr;

use crate::helpers::bpf_redirect_map;

use super::dev_map::redirect_map;

/// `BPF_MAP_TYPE_CPUMAP` (kernel 4.15).
const BPF_MAP_TYPE_CPUMAP: usize = 16;

redirect_map!(
    /// `BPF_MAP_TYPE_CPUMAP`: `MAX_ENTRIES` slots indexed by CPU number, each a queue size
    /// (set by user space; 0 means the CPU is not a target).
    CpuMap,
    BPF_MAP_TYPE_CPUMAP
);
