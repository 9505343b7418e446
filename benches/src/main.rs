//! bpfkit benchmarks against libbpf (1.7, vendored by `libbpf-sys`) and Aya (`aya-obj`).
//!
//! ```text
//! cargo run --release --manifest-path benches/Cargo.toml -- btf [runs]
//! cargo run --release --manifest-path benches/Cargo.toml -- load [runs] [object.bpf.o] [program]
//! cargo run --release --manifest-path benches/Cargo.toml -- load-phases [runs] [object.bpf.o] [program]
//! cargo run --release --manifest-path benches/Cargo.toml -- readers [records] [rounds]
//! ```
//!
//! `btf`: kernel BTF load + lookup of `task_struct` by name + byte offset of its `pid` member.
//! Each library runs in a fresh child process (this binary re-executed), so one library's
//! allocations and page-cache mappings do not count against another: the child reports the
//! median time of `runs` repetitions and the growth of its peak resident memory (VmHWM) over its
//! resident memory before the first repetition.
//!
//! `load` (root): object open from bytes in memory + CO-RE relocation against the running kernel's
//! BTF + map creation + program load + close, by each library in a fresh child process. The
//! first iteration ("cold") includes reading kernel BTF; bpfkit keeps it for the process, libbpf
//! and Aya read it again on every load, as their users would see. See `load.rs`. `load-phases`
//! splits bpfkit's load into its phases (`phases.rs`).
//!
//! `readers` (root): the cost of draining `records` (default 100000) events of 16 and 256 bytes
//! from a ring buffer and from a perf buffer (one CPU's ring), produced by
//! `fixtures/readers.bpf.o` through BPF_PROG_TEST_RUN, by each library in a fresh child process:
//! median of `rounds` (default 20) produce-then-drain rounds, each checked (count, lengths, lost,
//! sum of sequence numbers). See `readers.rs`.

mod load;
mod phases;
mod readers;

use std::ffi::{CStr, CString};
use std::process::Command;
use std::time::{Duration, Instant};

const TYPE_NAME: &str = "task_struct";
const MEMBER_NAME: &str = "pid";

/// What one child measured.
struct Measurement {
    median: Duration,
    min: Duration,
    peak_growth_kib: u64,
    offset: u32,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("child") => child(&args[2..]),
        Some("child-load") => load::child(&args[2..]),
        Some("load") => load::parent(&args[2..]),
        Some("load-phases") => phases::run(&args[2..]),
        Some("child-readers") => readers::child(&args[2..]),
        Some("readers") => readers::parent(&args[2..]),
        Some("btf") => {
            let runs = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(50);
            parent_btf(runs)
        }
        _ => {
            eprintln!("usage: bpfkit-bench btf [runs] | load [runs] [object.bpf.o] [program] | load-phases [runs] [object.bpf.o] [program] | readers [records] [rounds]");
            std::process::exit(2);
        }
    }
}

fn parent_btf(runs: usize) {
    println!(
        "kernel BTF load + find `{TYPE_NAME}` + offset of `{MEMBER_NAME}`, median of {runs} runs, one fresh process per library"
    );
    let mut results = Vec::new();
    for library in ["bpfkit", "libbpf", "aya"] {
        let exe = std::env::current_exe().expect("own path");
        let output = Command::new(exe)
            .args(["child", library, &runs.to_string()])
            .output()
            .expect("run child");
        if !output.status.success() {
            eprintln!(
                "{library}: failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            continue;
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let fields: Vec<u64> = text
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        let [median_ns, min_ns, peak_kib, offset] = fields[..] else {
            eprintln!("{library}: unexpected output {text:?}");
            continue;
        };
        let m = Measurement {
            median: Duration::from_nanos(median_ns),
            min: Duration::from_nanos(min_ns),
            peak_growth_kib: peak_kib,
            offset: offset as u32,
        };
        println!(
            "{library:>7}: median {:>8.3} ms  (min {:>8.3} ms)  peak RSS growth {:>7} KiB  offset of {MEMBER_NAME}: {}",
            m.median.as_secs_f64() * 1e3,
            m.min.as_secs_f64() * 1e3,
            m.peak_growth_kib,
            if m.offset == u32::MAX { "n/a".to_string() } else { m.offset.to_string() },
        );
        results.push((library, m));
    }
    let Some((_, ours)) = results.iter().find(|(l, _)| *l == "bpfkit") else {
        return;
    };
    for (library, theirs) in results.iter().filter(|(l, _)| *l != "bpfkit") {
        println!(
            "bpfkit / {library}: time {:.2}x, peak memory {:.2}x",
            ours.median.as_secs_f64() / theirs.median.as_secs_f64(),
            ours.peak_growth_kib as f64 / theirs.peak_growth_kib.max(1) as f64,
        );
    }
}

/// Runs one library `runs` times; prints "median_ns min_ns peak_growth_kib offset".
fn child(args: &[String]) {
    let library = args.first().map(String::as_str).unwrap_or("");
    let runs: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(50);
    let once: fn() -> u32 = match library {
        "bpfkit" => bpfkit_once,
        "libbpf" => libbpf_once,
        "aya" => aya_once,
        other => {
            eprintln!("unknown library {other}");
            std::process::exit(2);
        }
    };
    let rss_before = status_kib("VmRSS:");
    let mut times = Vec::with_capacity(runs);
    let mut offset = 0;
    for run in 0..runs.max(1) {
        let start = Instant::now();
        offset = once();
        times.push(start.elapsed());
        if run == 0 {
            // Peak after the first (cold) run is what the BTF costs; later runs free and
            // reallocate the same amount.
            let peak = status_kib("VmHWM:").saturating_sub(rss_before);
            PEAK.with(|p| p.set(peak));
        }
    }
    times.sort();
    let median = times[times.len() / 2];
    let peak = PEAK.with(|p| p.get());
    println!(
        "{} {} {} {}",
        median.as_nanos(),
        times[0].as_nanos(),
        peak,
        offset
    );
}

thread_local! {
    static PEAK: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// A `kB` field of /proc/self/status.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn bpfkit_once() -> u32 {
    use bpfkit_obj::btf::BtfKind;
    // The uncached path of `bpfkit::btf::kernel_btf()`, so every run really loads.
    let btf = bpfkit::btf::read_btf_file(std::path::Path::new("/sys/kernel/btf/vmlinux"))
        .expect("kernel BTF");
    let id = btf
        .find_by_name_kind(TYPE_NAME, BtfKind::Struct)
        .expect("task_struct");
    let member = btf
        .members(id)
        .expect("members")
        .into_iter()
        .find(|m| btf.string_at(m.name_offset).ok() == Some(MEMBER_NAME))
        .expect("pid");
    member.bit_offset / 8
}

fn libbpf_once() -> u32 {
    use libbpf_sys as sys;
    let name = CString::new(TYPE_NAME).expect("name");
    // SAFETY: libbpf C API used as documented: the BTF object is checked for NULL, only read
    // while alive, and freed once.
    unsafe {
        let btf = sys::btf__load_vmlinux_btf();
        assert!(!btf.is_null(), "libbpf: no vmlinux BTF");
        let id = sys::btf__find_by_name_kind(btf, name.as_ptr(), sys::BTF_KIND_STRUCT);
        assert!(id > 0, "libbpf: no task_struct");
        let ty = sys::btf__type_by_id(btf, id as u32);
        let info = (*ty).info;
        let vlen = (info & 0xffff) as usize;
        let kind_flag = info >> 31 == 1;
        let members = ty.add(1).cast::<sys::btf_member>();
        let mut offset = u32::MAX;
        for i in 0..vlen {
            let member = &*members.add(i);
            let member_name = CStr::from_ptr(sys::btf__name_by_offset(btf, member.name_off));
            if member_name.to_bytes() == MEMBER_NAME.as_bytes() {
                let bits = if kind_flag {
                    member.offset & 0xff_ffff
                } else {
                    member.offset
                };
                offset = bits / 8;
                break;
            }
        }
        sys::btf__free(btf);
        offset
    }
}

fn aya_once() -> u32 {
    let btf = aya_obj::btf::Btf::from_sys_fs().expect("aya: kernel BTF");
    btf.id_by_type_name_kind(TYPE_NAME, aya_obj::btf::BtfKind::Struct)
        .expect("aya: task_struct");
    // aya-obj exposes no member access in its public API: the lookup by name is as far as a
    // user can go, so Aya's figure leaves out the member walk (in its favour).
    std::hint::black_box(&btf);
    u32::MAX
}
