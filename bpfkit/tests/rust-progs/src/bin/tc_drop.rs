//! TC classifier dropping UDP datagrams to one destination port, set from user space in
//! `.rodata` before load; counts what it drops and passes in `.bss`.

#![no_std]
#![no_main]

use bpfkit_ebpf::atomic::Counter;
use bpfkit_ebpf::bindings::tc_action::{TC_ACT_OK, TC_ACT_SHOT};
use bpfkit_ebpf::macros::classifier;
use bpfkit_ebpf::programs::TcContext;
use bpfkit_rust_test_progs as _;

/// Port to drop, in host order; 0 drops nothing.
#[no_mangle]
static drop_port: u16 = 0;

/// Datagrams dropped.
#[no_mangle]
static dropped: Counter = Counter::new(0);
/// UDP datagrams let through.
#[no_mangle]
static passed_udp: Counter = Counter::new(0);

#[classifier]
fn tc_drop(ctx: TcContext) -> i32 {
    let Some(port) = bpfkit_rust_test_progs::udp_dest_port_of(&ctx) else {
        return TC_ACT_OK;
    };
    let wanted = bpfkit_ebpf::global::read(&drop_port);
    if wanted != 0 && port == wanted {
        dropped.add(1);
        return TC_ACT_SHOT;
    }
    passed_udp.add(1);
    TC_ACT_OK
}

bpfkit_ebpf::license!("Dual MIT/GPL");
