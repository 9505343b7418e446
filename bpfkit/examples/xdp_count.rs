//! Showcase: count packets per IP protocol with XDP, on a veth pair between two network
//! namespaces this program creates (and deletes on exit). Safe on any machine: nothing touches
//! the host's interfaces, and traffic stays between the two namespaces.
//!
//! ```sh
//! sudo cargo run --release -p bpfkit --example xdp_count
//! ```

// The namespace and veth guards are the ones the kernel tests use.
#[allow(unused_macros)]
#[path = "../tests/common/mod.rs"]
mod common;

use std::error::Error;
use std::net::UdpSocket;

use bpfkit::maps::HashMap;
use bpfkit::programs::{Xdp, XdpFlags};
use bpfkit::Ebpf;
use common::VethPair;

/// The object, compiled from `tests/progs/xdp_count.bpf.c` with clang.
const OBJECT: &[u8] = include_bytes!("../tests/objects/xdp_count.bpf.o");

fn protocol_name(protocol: u32) -> String {
    match protocol {
        1 => "ICMP".to_string(),
        6 => "TCP".to_string(),
        17 => "UDP".to_string(),
        other => format!("IP protocol {other}"),
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    if bpfkit::sys::effective_uid() != 0 {
        return Err(
            "this showcase loads an XDP program and creates network namespaces: run it as root"
                .into(),
        );
    }
    let pair = VethPair::new();
    println!(
        "created namespaces {} ({}) and {} ({}), joined by a veth pair",
        pair.left.name(),
        VethPair::LEFT_ADDR,
        pair.right.name(),
        VethPair::RIGHT_ADDR
    );

    let mut ebpf = Ebpf::load(OBJECT)?;
    let ifindex = pair.right_ifindex();
    let xdp: &mut Xdp = ebpf
        .program_mut("xdp_count")
        .ok_or("no program xdp_count")?
        .try_into()?;
    let info = xdp.info()?;
    let link = pair.right.run(|| xdp.attach(ifindex, XdpFlags::SKB_MODE))?;
    println!(
        "attached XDP program `xdp_count` (id {}, {} instructions) to {} with a {}",
        info.id,
        xdp.instruction_count(),
        VethPair::RIGHT_IF,
        if link.is_bpf_link() {
            "bpf_link"
        } else {
            "netlink attachment"
        }
    );

    println!(
        "sending 4 pings and 3 UDP datagrams from {} to {}",
        VethPair::LEFT_ADDR,
        VethPair::RIGHT_ADDR
    );
    pair.left.ping(VethPair::RIGHT_ADDR, 4);
    pair.left.run(|| -> std::io::Result<()> {
        let socket = UdpSocket::bind((VethPair::LEFT_ADDR, 0))?;
        for i in 0..3u8 {
            socket.send_to(&[i; 16], (VethPair::RIGHT_ADDR, 9))?;
        }
        Ok(())
    })?;

    let counts: HashMap<_, u32, u64> =
        HashMap::try_from(ebpf.map("counts").ok_or("no map counts")?)?;
    println!(
        "packets the XDP program saw arriving on {}:",
        VethPair::RIGHT_IF
    );
    let mut rows: Vec<(u32, u64)> = counts.iter().collect::<Result<_, _>>()?;
    rows.sort();
    for (protocol, packets) in rows {
        println!("  {:<8} {packets}", protocol_name(protocol));
    }

    drop(link);
    let still_attached = pair
        .right
        .run(|| bpfkit::sys::netlink::xdp_query(ifindex))?
        .prog_id;
    println!(
        "link dropped: XDP program on {} now: {}",
        VethPair::RIGHT_IF,
        match still_attached {
            Some(id) => format!("id {id} (unexpected)"),
            None => "none".to_string(),
        }
    );
    println!("removing the namespaces");
    Ok(())
}
