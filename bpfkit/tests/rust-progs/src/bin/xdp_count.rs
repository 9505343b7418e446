//! XDP: counts received packets per IP protocol, with the map layout of the C `xdp_count`
//! (`counts`: hash, u32 protocol -> u64 packets, 2048 entries).

#![no_std]
#![no_main]

use bpfkit_ebpf::bindings::{xdp_action::XDP_PASS, BPF_NOEXIST};
use bpfkit_ebpf::macros::{map, xdp};
use bpfkit_ebpf::maps::HashMap;
use bpfkit_ebpf::programs::XdpContext;
use bpfkit_rust_test_progs as _;

#[map]
static counts: HashMap<u32, u64, 2048> = HashMap::new();

#[inline(always)]
fn add_one(value: *mut u64) {
    // SAFETY: the pointer is a live map value of type u64, 8-aligned, shared with other CPUs
    // only through atomic operations.
    unsafe { bpfkit_ebpf::atomic::add_u64(value, 1) };
}

#[inline(always)]
fn count(key: u32) {
    if let Some(value) = counts.get_ptr_mut(&key) {
        add_one(value);
        return;
    }
    // A local, not `&1`: a promoted constant would land in `.rodata.cst8`, a section of its own.
    let one: u64 = 1;
    // Another CPU may have created the entry in between: then add to it.
    if counts.insert(&key, &one, BPF_NOEXIST).is_err() {
        if let Some(value) = counts.get_ptr_mut(&key) {
            add_one(value);
        }
    }
}

#[xdp]
fn xdp_count(ctx: XdpContext) -> u32 {
    if let Some(protocol) = bpfkit_rust_test_progs::ip_protocol_of(&ctx) {
        count(u32::from(protocol));
    }
    XDP_PASS
}

bpfkit_ebpf::license!("Dual MIT/GPL");
