//! AF_XDP socket maps: redirect XDP frames to user-space AF_XDP sockets.

use core::ptr;

use crate::helpers::bpf_redirect_map;

use super::dev_map::redirect_map;

/// `BPF_MAP_TYPE_XSKMAP` (kernel 4.18).
const BPF_MAP_TYPE_XSKMAP: usize = 17;

redirect_map!(
    /// `BPF_MAP_TYPE_XSKMAP`: `MAX_ENTRIES` slots indexed by receive queue, each an AF_XDP
    /// socket fd (set by user space).
    XskMap,
    BPF_MAP_TYPE_XSKMAP
);
