//! Socket hashes: like socket maps, keyed by any type (e.g. a connection's 4-tuple).

use core::ptr;

use crate::helpers::{bpf_msg_redirect_hash, bpf_sk_redirect_hash};
use crate::programs::{SkBuffContext, SkMsgContext};

/// `BPF_MAP_TYPE_SOCKHASH` (kernel 4.18).
const BPF_MAP_TYPE_SOCKHASH: usize = 18;

/// `BPF_MAP_TYPE_SOCKHASH` of at most `MAX_ENTRIES` sockets keyed by `K` (values are socket fds
/// when written from user space).
#[repr(C)]
pub struct SockHash<K, const MAX_ENTRIES: usize, const FLAGS: usize = 0> {
    r#type: *const [i32; BPF_MAP_TYPE_SOCKHASH],
    key: *const K,
    value: *const u32,
    max_entries: *const [i32; MAX_ENTRIES],
    map_flags: *const [i32; FLAGS],
}

// SAFETY: the static holds only null pointers that nothing dereferences.
unsafe impl<K, const MAX_ENTRIES: usize, const FLAGS: usize> Sync
    for SockHash<K, MAX_ENTRIES, FLAGS>
{
}

impl<K, const MAX_ENTRIES: usize, const FLAGS: usize> SockHash<K, MAX_ENTRIES, FLAGS> {
    /// The map definition (for a `#[map]` static).
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        SockHash {
            r#type: ptr::null(),
            key: ptr::null(),
            value: ptr::null(),
            max_entries: ptr::null(),
            map_flags: ptr::null(),
        }
    }

    /// From an sk_msg program: redirects the message to the socket stored under `key` (`flags`:
    /// 0 or [`super::BPF_F_INGRESS`]). Returns the verdict to return (`SK_PASS` or `SK_DROP`).
    #[inline(always)]
    pub fn redirect_msg(&self, ctx: &SkMsgContext, key: &K, flags: u64) -> u32 {
        // SAFETY: the context is the sk_msg program's own; the key is a valid reference of the
        // key type, which the helper only reads.
        let verdict = unsafe {
            bpf_msg_redirect_hash(
                ctx.as_ptr().cast(),
                super::map_pointer(self),
                (key as *const K).cast_mut().cast(),
                flags,
            )
        };
        verdict as u32
    }

    /// From an sk_skb program: redirects the packet to the socket stored under `key` (`flags`:
    /// 0 or [`super::BPF_F_INGRESS`]). Returns the verdict to return (`SK_PASS` or `SK_DROP`).
    #[inline(always)]
    pub fn redirect_skb(&self, ctx: &SkBuffContext, key: &K, flags: u64) -> u32 {
        // SAFETY: the context is the sk_skb program's own; the key is a valid reference of the
        // key type, which the helper only reads.
        let verdict = unsafe {
            bpf_sk_redirect_hash(
                ctx.as_ptr().cast(),
                super::map_pointer(self),
                (key as *const K).cast_mut().cast(),
                flags,
            )
        };
        verdict as u32
    }
}
