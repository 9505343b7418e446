//! Socket maps: sockets (added by user space or sock_ops programs) that sk_msg and sk_skb
//! programs redirect data to.

use core::ptr;

use crate::helpers::{bpf_msg_redirect_map, bpf_sk_redirect_map};
use crate::programs::{SkBuffContext, SkMsgContext};

/// `BPF_MAP_TYPE_SOCKMAP` (kernel 4.14).
const BPF_MAP_TYPE_SOCKMAP: usize = 15;

/// `BPF_F_INGRESS`: redirect to the target socket's receive queue instead of its send path.
pub const BPF_F_INGRESS: u64 = 1;

/// `BPF_MAP_TYPE_SOCKMAP` of `MAX_ENTRIES` sockets indexed by `u32` (values are socket fds when
/// written from user space).
#[repr(C)]
pub struct SockMap<const MAX_ENTRIES: usize, const FLAGS: usize = 0> {
    r#type: *const [i32; BPF_MAP_TYPE_SOCKMAP],
    key: *const u32,
    value: *const u32,
    max_entries: *const [i32; MAX_ENTRIES],
    map_flags: *const [i32; FLAGS],
}

// SAFETY: the static holds only null pointers that nothing dereferences.
unsafe impl<const MAX_ENTRIES: usize, const FLAGS: usize> Sync for SockMap<MAX_ENTRIES, FLAGS> {}

impl<const MAX_ENTRIES: usize, const FLAGS: usize> SockMap<MAX_ENTRIES, FLAGS> {
    /// The map definition (for a `#[map]` static).
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        SockMap {
            r#type: ptr::null(),
            key: ptr::null(),
            value: ptr::null(),
            max_entries: ptr::null(),
            map_flags: ptr::null(),
        }
    }

    /// From an sk_msg program: redirects the message to the socket at `index` (`flags`: 0 for
    /// its send path, [`BPF_F_INGRESS`] for its receive queue). Returns the verdict to return
    /// (`SK_PASS` when the redirect is set up, `SK_DROP` otherwise).
    #[inline(always)]
    pub fn redirect_msg(&self, ctx: &SkMsgContext, index: u32, flags: u64) -> u32 {
        // SAFETY: the context is the sk_msg program's own; the map pointer is this sockmap.
        let verdict = unsafe {
            bpf_msg_redirect_map(ctx.as_ptr().cast(), super::map_pointer(self), index, flags)
        };
        verdict as u32
    }

    /// From an sk_skb program: redirects the packet to the socket at `index` (`flags`: 0 or
    /// [`BPF_F_INGRESS`]). Returns the verdict to return (`SK_PASS` or `SK_DROP`).
    #[inline(always)]
    pub fn redirect_skb(&self, ctx: &SkBuffContext, index: u32, flags: u64) -> u32 {
        // SAFETY: the context is the sk_skb program's own; the map pointer is this sockmap.
        let verdict = unsafe {
            bpf_sk_redirect_map(ctx.as_ptr().cast(), super::map_pointer(self), index, flags)
        };
        verdict as u32
    }
}
