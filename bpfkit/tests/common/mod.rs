//! Shared helpers of the kernel tests: root check, network namespaces joined by a veth pair, a
//! private bpffs, and the committed test objects.
//!
//! Every guard here undoes what it did when dropped, including when the test panics. Network
//! traffic stays inside namespaces the test created (10.201.0.0/24 exists only there) or on
//! loopback.

// Each test file uses its own subset of these helpers.
#![allow(dead_code)]

pub mod xsk;

use std::ffi::CString;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Set to make kernel tests fail, instead of skip, when they cannot run (CI sets it).
pub const REQUIRE_ENV: &str = "BPFKIT_REQUIRE_KERNEL_TESTS";

/// Returns from the calling test unless it can use the kernel (root): prints
/// `skipped: <test>: needs root ...` on stdout and stderr, or panics when
/// `BPFKIT_REQUIRE_KERNEL_TESTS=1`. Test files declare `#[macro_use] mod common;`.
macro_rules! require_root {
    () => {{
        fn here() {}
        let name = ::std::any::type_name_of_val(&here);
        let name = name.strip_suffix("::here").unwrap_or(name);
        if !$crate::common::kernel_test(name) {
            return;
        }
    }};
}

/// Whether the kernel test `name` can run. When it cannot, says so (bypassing the test
/// harness's output capture, so the line is visible in a normal `cargo test` run) and returns
/// false, or panics when [`REQUIRE_ENV`] is set.
pub fn kernel_test(name: &str) -> bool {
    if bpfkit::sys::effective_uid() == 0 {
        return true;
    }
    if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
        panic!("{name}: needs root, and {REQUIRE_ENV}=1 says kernel tests must run");
    }
    let line = skip_message(name);
    // Written to the real stdout/stderr rather than with println!, which the harness captures.
    let _ = writeln!(std::io::stdout(), "{line}");
    let _ = writeln!(std::io::stderr(), "{line}");
    false
}

/// The line printed for a skipped kernel test.
pub fn skip_message(name: &str) -> String {
    format!("skipped: {name}: needs root (set {REQUIRE_ENV}=1 to fail instead)")
}

/// Runs a command; panics with its output when it cannot start or fails.
pub fn run_ok(args: &[&str]) -> String {
    let output = run(args);
    if !output.status.success() {
        panic!(
            "`{}` failed ({}):\n{}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs a command and returns its output, whatever its exit status.
pub fn run(args: &[&str]) -> Output {
    let (program, rest) = args.split_first().expect("a command");
    Command::new(program)
        .args(rest)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{}`: {e}", args.join(" ")))
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique_suffix() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A network namespace (`ip netns add bpfkit-<pid>-<n>`), deleted on drop.
#[derive(Debug)]
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// Creates a namespace with its loopback up and IPv6 off (so no neighbour discovery or
    /// router solicitation traffic adds to what the tests count).
    pub fn new() -> NetNs {
        let name = format!("bpfkit-{}", unique_suffix());
        run_ok(&["ip", "netns", "add", &name]);
        let ns = NetNs { name };
        ns.exec_ok(&["ip", "link", "set", "lo", "up"]);
        for key in [
            "net.ipv6.conf.all.disable_ipv6",
            "net.ipv6.conf.default.disable_ipv6",
        ] {
            // A kernel without IPv6 has no such keys, and then no IPv6 traffic either.
            let _ = ns.exec(&["sysctl", "-qw", &format!("{key}=1")]);
        }
        ns
    }

    /// The namespace's name, as `ip netns` knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `f` on a thread that entered this namespace: sockets, netlink and ifindex lookups made
    /// by `f` act inside it. Links to interfaces of this namespace must be dropped inside `f` too.
    pub fn run<R: Send, F: FnOnce() -> R + Send>(&self, f: F) -> R {
        let path = format!("/run/netns/{}", self.name);
        std::thread::scope(|scope| {
            let thread = scope.spawn(move || {
                let file =
                    std::fs::File::open(&path).unwrap_or_else(|e| panic!("opening {path}: {e}"));
                // SAFETY: the fd is a valid, open namespace file for the duration of the call, and
                // setns only changes this thread's network namespace.
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns({path}): {}", std::io::Error::last_os_error());
                f()
            });
            match thread.join() {
                Ok(value) => value,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    /// Runs a command inside the namespace (`ip netns exec`).
    pub fn exec(&self, args: &[&str]) -> Output {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(args);
        run(&full)
    }

    /// Runs a command inside the namespace; panics when it fails; returns its stdout.
    pub fn exec_ok(&self, args: &[&str]) -> String {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(args);
        run_ok(&full)
    }

    /// The index of interface `name` inside the namespace.
    pub fn ifindex(&self, name: &str) -> u32 {
        let c_name = CString::new(name).expect("interface name without NUL");
        // SAFETY: c_name is a valid NUL-terminated string that outlives the call.
        let index = self.run(|| unsafe { libc::if_nametoindex(c_name.as_ptr()) });
        assert_ne!(index, 0, "no interface {name} in namespace {}", self.name);
        index
    }

    /// `ip -d link show dev <name>` inside the namespace.
    pub fn link_details(&self, name: &str) -> String {
        self.exec_ok(&["ip", "-d", "link", "show", "dev", name])
    }

    /// Pings `address` from inside the namespace `count` times; panics unless every reply came.
    pub fn ping(&self, address: Ipv4Addr, count: u32) {
        let out = self.exec_ok(&[
            "ping",
            "-n",
            "-q",
            "-c",
            &count.to_string(),
            "-i",
            "0.05",
            "-W",
            "2",
            &address.to_string(),
        ]);
        assert!(
            out.contains(&format!("{count} packets transmitted, {count} received")),
            "ping: {out}"
        );
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // Deleting the namespace destroys its interfaces, and with them their peers.
        let output = run(&["ip", "netns", "del", &self.name]);
        if !output.status.success() {
            eprintln!(
                "deleting namespace {}: {}",
                self.name,
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

/// Two namespaces joined by a veth pair: `left` holds [`VethPair::LEFT_IF`] with
/// [`VethPair::LEFT_ADDR`], `right` holds [`VethPair::RIGHT_IF`] with [`VethPair::RIGHT_ADDR`].
/// Traffic between the two addresses crosses the veth (two addresses in one namespace would be
/// delivered through loopback instead).
#[derive(Debug)]
pub struct VethPair {
    pub left: NetNs,
    pub right: NetNs,
}

impl VethPair {
    pub const LEFT_IF: &'static str = "bk0";
    pub const RIGHT_IF: &'static str = "bk1";
    pub const LEFT_ADDR: Ipv4Addr = Ipv4Addr::new(10, 201, 0, 1);
    pub const RIGHT_ADDR: Ipv4Addr = Ipv4Addr::new(10, 201, 0, 2);

    /// Creates both namespaces, the veth pair between them, addresses, and brings links up.
    pub fn new() -> VethPair {
        let pair = VethPair {
            left: NetNs::new(),
            right: NetNs::new(),
        };
        run_ok(&[
            "ip",
            "link",
            "add",
            Self::LEFT_IF,
            "netns",
            pair.left.name(),
            "type",
            "veth",
            "peer",
            "name",
            Self::RIGHT_IF,
            "netns",
            pair.right.name(),
        ]);
        for (ns, interface, address) in [
            (&pair.left, Self::LEFT_IF, Self::LEFT_ADDR),
            (&pair.right, Self::RIGHT_IF, Self::RIGHT_ADDR),
        ] {
            ns.exec_ok(&[
                "ip",
                "addr",
                "add",
                &format!("{address}/24"),
                "dev",
                interface,
            ]);
            ns.exec_ok(&["ip", "link", "set", interface, "up"]);
        }
        pair
    }

    /// The right interface's index (in the right namespace).
    pub fn right_ifindex(&self) -> u32 {
        self.right.ifindex(Self::RIGHT_IF)
    }
}

/// A fresh bpffs mounted on a temporary directory; unmounted and removed on drop.
#[derive(Debug)]
pub struct Bpffs {
    path: PathBuf,
}

impl Bpffs {
    pub fn new() -> Bpffs {
        let path = std::env::temp_dir().join(format!("bpfkit-bpffs-{}", unique_suffix()));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        let target =
            CString::new(path.as_os_str().as_encoded_bytes()).expect("temp path without NUL");
        let bpf = CString::new("bpf").expect("literal");
        // SAFETY: every pointer is a valid NUL-terminated string alive for the call; bpffs takes no
        // mount data, so NULL is allowed.
        let rc = unsafe {
            libc::mount(
                bpf.as_ptr(),
                target.as_ptr(),
                bpf.as_ptr(),
                0,
                std::ptr::null(),
            )
        };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            let _ = std::fs::remove_dir(&path);
            panic!("mounting a bpffs on {}: {err}", path.display());
        }
        Bpffs { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the mount is listed in /proc/self/mountinfo as a bpf filesystem.
    pub fn is_mounted(path: &Path) -> bool {
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let wanted = path.display().to_string();
        mounts.lines().any(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let fs_type = line
                .split(" - ")
                .nth(1)
                .and_then(|rest| rest.split(' ').next());
            fields.get(4) == Some(&wanted.as_str()) && fs_type == Some("bpf")
        })
    }
}

impl Drop for Bpffs {
    fn drop(&mut self) {
        if let Ok(target) = CString::new(self.path.as_os_str().as_encoded_bytes()) {
            // SAFETY: target is a valid NUL-terminated path alive for the call. MNT_DETACH so that
            // a pin still open elsewhere cannot keep the mount busy.
            let rc = unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
            if rc != 0 {
                eprintln!(
                    "unmounting {}: {}",
                    self.path.display(),
                    std::io::Error::last_os_error()
                );
                return;
            }
        }
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// The path of a committed test object, e.g. `object_path("xdp_count.bpf.o")`.
pub fn object_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/objects")
        .join(name)
}

/// The bytes of a committed test object.
pub fn object(name: &str) -> Vec<u8> {
    let path = object_path(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "reading {}: {e} (rebuild with `cargo run -p xtask -- build-test-progs`)",
            path.display()
        )
    })
}

/// A UDP socket bound to `address:port` with a receive timeout, for traffic tests.
pub fn udp_socket(address: Ipv4Addr, port: u16) -> UdpSocket {
    let socket = UdpSocket::bind(SocketAddr::from((address, port)))
        .unwrap_or_else(|e| panic!("binding {address}:{port}: {e}"));
    socket
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("set_read_timeout");
    socket
}

/// Sends `count` datagrams from the left namespace of `pair` to each of `ports` on the right
/// address, and returns how many arrived on each port, in order. Must run inside the right
/// namespace (where the receiving sockets are bound).
pub fn udp_exchange<const N: usize>(pair: &VethPair, ports: [u16; N], count: usize) -> [usize; N] {
    let receivers = ports.map(|port| udp_socket(VethPair::RIGHT_ADDR, port));
    pair.left.run(|| {
        let sender = udp_socket(VethPair::LEFT_ADDR, 0);
        for i in 0..count {
            let payload = format!("datagram {i}");
            for port in ports {
                sender
                    .send_to(payload.as_bytes(), (VethPair::RIGHT_ADDR, port))
                    .expect("send");
            }
        }
    });
    receivers.map(|socket| drain(&socket).len())
}

/// Receives every datagram queued on `socket` until it stays quiet for its read timeout.
pub fn drain(socket: &UdpSocket) -> Vec<Vec<u8>> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 2048];
    while let Ok(len) = socket.recv(&mut buffer) {
        received.push(buffer[..len].to_vec());
    }
    received
}
