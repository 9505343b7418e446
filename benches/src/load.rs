//! `load`: object open + CO-RE relocation + map creation + program load + close.
//!
//! Each library runs in a fresh child process (this binary re-executed with `child-load`), so
//! the first iteration pays for everything a process pays once (kernel BTF, feature probes) and
//! is reported apart ("cold") from the median of the following iterations ("warm").
//!
//! Without an object argument it measures two: `bpfkit-obj/tests/core/core_relo.bpf.o`, one
//! autoload raw_tp program, `core_all`, with 26 CO-RE relocations of every kind, a `.bss` map, and
//! two non-autoload programs that no library loads (Aya 0.14 refuses the object: it does not know
//! TYPE_MATCHES, relocation kind 12); then `benches/fixtures/core_no_match.bpf.o`, the same
//! program without its two TYPE_MATCHES relocations, which Aya loads too. Aya is 0.14.0, the
//! newest that builds with rustc 1.95 (0.15 and 0.16 need 1.98). To show the comparison is fair,
//! every child reads the loaded
//! program's translated (verifier-rewritten) instructions back from the kernel and prints their
//! count and a hash with map ids masked: the same hash means the same program reached the kernel.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The fixture with CO-RE relocations of every kind.
pub const DEFAULT_OBJECT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../bpfkit-obj/tests/core/core_relo.bpf.o"
);
/// Its one autoload program (also the name in the Aya-compatible variant).
pub const DEFAULT_PROGRAM: &str = "core_all";
/// `DEFAULT_OBJECT` without its TYPE_MATCHES relocations, which Aya cannot apply.
const WITHOUT_TYPE_MATCHES: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/core_no_match.bpf.o");

const LIBRARIES: [&str; 3] = ["bpfkit", "libbpf", "aya"];

/// What a child measured.
struct LoadMeasurement {
    cold: Duration,
    warm_median: Duration,
    warm_min: Duration,
    peak_growth_kib: u64,
    translated: Translated,
}

/// The loaded program as the kernel holds it after verification.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Translated {
    instructions: u64,
    hash: u64,
}

/// `load [runs] [object] [program]`: runs one child per library and prints the table; without
/// an object, for the CO-RE fixture and then for its variant Aya can load.
pub fn parent(args: &[String]) {
    let runs: usize = args.first().and_then(|r| r.parse().ok()).unwrap_or(50);
    let program = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| DEFAULT_PROGRAM.to_string());
    match args.get(1) {
        Some(object) => compare(runs, object, &program),
        None => {
            compare(runs, DEFAULT_OBJECT, &program);
            println!();
            compare(runs, WITHOUT_TYPE_MATCHES, &program);
        }
    }
}

fn compare(runs: usize, object: &str, program: &str) {
    let shown = std::fs::canonicalize(object).unwrap_or_else(|_| PathBuf::from(object));
    println!(
        "open from memory + CO-RE + maps + load + close of `{}` (program `{program}`), \
         one fresh process per library: cold = 1st iteration, warm = median of the next {runs}",
        shown.display()
    );
    let exe = std::env::current_exe().expect("own path");
    let mut results: Vec<(&str, LoadMeasurement)> = Vec::new();
    for library in LIBRARIES {
        let output = Command::new(&exe)
            .args(["child-load", library, &runs.to_string(), object, program])
            .output()
            .expect("run child");
        let text = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            println!(
                "{library:>7}: failed: {}{}",
                text.trim(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
            continue;
        }
        if let Some(reason) = text.trim().strip_prefix("cannot-load ") {
            println!("{library:>7}: cannot load this object: {reason}");
            continue;
        }
        let fields: Vec<u64> = text
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        let [cold, median, min, peak, instructions, hash] = fields[..] else {
            println!("{library:>7}: unexpected output {text:?}");
            continue;
        };
        let measurement = LoadMeasurement {
            cold: Duration::from_nanos(cold),
            warm_median: Duration::from_nanos(median),
            warm_min: Duration::from_nanos(min),
            peak_growth_kib: peak,
            translated: Translated { instructions, hash },
        };
        results.push((library, measurement));
    }
    println!(
        "{:>7}  {:>10}  {:>11}  {:>10}  {:>13}  {:>18}",
        "library", "cold ms", "warm ms", "warm min", "peak RSS KiB", "xlated insns/hash"
    );
    for (library, m) in &results {
        println!(
            "{library:>7}  {:>10.3}  {:>11.3}  {:>10.3}  {:>13}  {:>5} {:016x}",
            ms(m.cold),
            ms(m.warm_median),
            ms(m.warm_min),
            m.peak_growth_kib,
            m.translated.instructions,
            m.translated.hash
        );
    }
    let Some((_, ours)) = results.iter().find(|(l, _)| *l == "bpfkit") else {
        return;
    };
    for (library, theirs) in results.iter().filter(|(l, _)| *l != "bpfkit") {
        println!(
            "bpfkit / {library}: cold {:.2}x, warm {:.2}x{}",
            ours.cold.as_secs_f64() / theirs.cold.as_secs_f64(),
            ours.warm_median.as_secs_f64() / theirs.warm_median.as_secs_f64(),
            if ours.translated == theirs.translated {
                "  (same translated program)"
            } else {
                "  (DIFFERENT translated program: the comparison is not like for like)"
            }
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A library's load: returns the loaded program's fd and a value that closes everything when
/// dropped.
type LoadOnce = fn(&[u8], &str) -> Result<Box<dyn Loaded>, String>;

/// Everything one iteration created; dropping it closes it all.
trait Loaded {
    fn program_fd(&self) -> RawFd;
}

/// `child-load library runs object program`: prints
/// "cold_ns warm_median_ns warm_min_ns peak_growth_kib xlated_insns xlated_hash", or
/// "cannot-load reason" when the library cannot load the object at all.
pub fn child(args: &[String]) {
    let library = args.first().map(String::as_str).unwrap_or("");
    let runs: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(50);
    let object = args.get(2).map(String::as_str).unwrap_or(DEFAULT_OBJECT);
    let program = args.get(3).map(String::as_str).unwrap_or(DEFAULT_PROGRAM);
    let once: LoadOnce = match library {
        "bpfkit" => bpfkit_load,
        "libbpf" => libbpf_load,
        "aya" => aya_load,
        other => {
            eprintln!("unknown library {other}");
            std::process::exit(2);
        }
    };
    if library == "libbpf" {
        // libbpf prints warnings and info to stderr by default; bpfkit and Aya log through the
        // `log` crate, which without a logger costs nothing. Silence libbpf the same way.
        // SAFETY: clearing the print callback is allowed at any time.
        unsafe {
            libbpf_sys::libbpf_set_print(None);
        }
    }
    let bytes = std::fs::read(object).unwrap_or_else(|err| {
        eprintln!("{object}: {err}");
        std::process::exit(1);
    });
    let rss_before = crate::status_kib("VmRSS:");
    let mut cold = Duration::ZERO;
    let mut peak_growth_kib = 0;
    let mut warm = Vec::with_capacity(runs);
    let mut translated = None;
    for iteration in 0..=runs {
        let start = Instant::now();
        let loaded = match once(&bytes, program) {
            Ok(loaded) => loaded,
            Err(reason) if iteration == 0 => {
                println!("cannot-load {}", reason.replace('\n', " "));
                return;
            }
            Err(reason) => {
                eprintln!("{library}: iteration {iteration} failed: {reason}");
                std::process::exit(1);
            }
        };
        let loaded_after = start.elapsed();
        // Reading the program back is not part of the measured work.
        let this = translated_program(loaded.program_fd());
        let close_start = Instant::now();
        drop(loaded);
        let elapsed = loaded_after + close_start.elapsed();
        match translated {
            None => translated = Some(this),
            Some(first) if first != this => {
                eprintln!("{library}: iteration {iteration} loaded a different program");
                std::process::exit(1);
            }
            Some(_) => {}
        }
        if iteration == 0 {
            cold = elapsed;
            peak_growth_kib = crate::status_kib("VmHWM:").saturating_sub(rss_before);
        } else {
            warm.push(elapsed);
        }
    }
    warm.sort();
    let median = warm.get(warm.len() / 2).copied().unwrap_or(cold);
    let min = warm.first().copied().unwrap_or(cold);
    let translated = translated.unwrap_or(Translated {
        instructions: 0,
        hash: 0,
    });
    println!(
        "{} {} {} {} {} {}",
        cold.as_nanos(),
        median.as_nanos(),
        min.as_nanos(),
        peak_growth_kib,
        translated.instructions,
        translated.hash
    );
}

/// Holding the `Ebpf` keeps its maps and programs open.
struct BpfkitLoaded {
    _ebpf: bpfkit::Ebpf,
    fd: RawFd,
}

impl Loaded for BpfkitLoaded {
    fn program_fd(&self) -> RawFd {
        self.fd
    }
}

fn bpfkit_load(bytes: &[u8], program: &str) -> Result<Box<dyn Loaded>, String> {
    let ebpf = bpfkit::EbpfLoader::new()
        .load(bytes)
        .map_err(|err| err.to_string())?;
    let fd = ebpf
        .program(program)
        .ok_or_else(|| format!("no program `{program}`"))?
        .data()
        .fd()
        .map_err(|err| err.to_string())?
        .as_raw_fd();
    Ok(Box::new(BpfkitLoaded { _ebpf: ebpf, fd }))
}

struct LibbpfLoaded(*mut libbpf_sys::bpf_object, RawFd);

impl Loaded for LibbpfLoaded {
    fn program_fd(&self) -> RawFd {
        self.1
    }
}

impl Drop for LibbpfLoaded {
    fn drop(&mut self) {
        // SAFETY: the object came from bpf_object__open_mem, is closed once, here.
        unsafe { libbpf_sys::bpf_object__close(self.0) }
    }
}

fn libbpf_load(bytes: &[u8], program: &str) -> Result<Box<dyn Loaded>, String> {
    use libbpf_sys as sys;
    let name = CString::new(program).map_err(|err| err.to_string())?;
    // SAFETY: libbpf's documented API: the buffer outlives the open (libbpf copies what it
    // keeps), every returned pointer is checked, and the object is closed once by the guard.
    unsafe {
        let object =
            sys::bpf_object__open_mem(bytes.as_ptr().cast(), bytes.len() as _, std::ptr::null());
        if object.is_null() {
            return Err(format!(
                "bpf_object__open_mem: {}",
                std::io::Error::last_os_error()
            ));
        }
        let mut guard = LibbpfLoaded(object, -1);
        let err = sys::bpf_object__load(object);
        if err != 0 {
            return Err(format!(
                "bpf_object__load: {}",
                std::io::Error::from_raw_os_error(-err)
            ));
        }
        let prog = sys::bpf_object__find_program_by_name(object, name.as_ptr());
        if prog.is_null() {
            return Err(format!("no program `{program}`"));
        }
        guard.1 = sys::bpf_program__fd(prog);
        Ok(Box::new(guard))
    }
}

/// Holding the `Ebpf` keeps its maps and programs open.
struct AyaLoaded {
    _ebpf: aya::Ebpf,
    fd: RawFd,
}

impl Loaded for AyaLoaded {
    fn program_fd(&self) -> RawFd {
        self.fd
    }
}

fn aya_load(bytes: &[u8], program: &str) -> Result<Box<dyn Loaded>, String> {
    use aya::programs::RawTracePoint;
    let mut ebpf =
        aya::Ebpf::load(bytes).map_err(|err| format!("Ebpf::load: {}", error_chain(&err)))?;
    let prog: &mut RawTracePoint = ebpf
        .program_mut(program)
        .ok_or_else(|| format!("no program `{program}`"))?
        .try_into()
        .map_err(|err| format!("{program} is not a raw tracepoint: {err}"))?;
    prog.load()
        .map_err(|err| format!("RawTracePoint::load: {err}"))?;
    let fd = prog
        .fd()
        .map_err(|err| err.to_string())?
        .as_fd()
        .as_raw_fd();
    Ok(Box::new(AyaLoaded { _ebpf: ebpf, fd }))
}

/// The kernel's translated instructions of a loaded program (BPF_OBJ_GET_INFO_BY_FD, through
/// libbpf's wrapper for all three libraries alike): their count, and an FNV-1a hash with the
/// map ids the kernel writes into map-referencing `ld_imm64`s left out (each load creates new
/// maps).
fn translated_program(fd: RawFd) -> Translated {
    use libbpf_sys as sys;
    // SAFETY: bpf_prog_info is plain integers; the kernel writes at most `len` bytes of it and
    // at most `xlated_prog_len` bytes into the buffer whose address and size we give it.
    unsafe {
        let mut info: sys::bpf_prog_info = std::mem::zeroed();
        let mut len = std::mem::size_of::<sys::bpf_prog_info>() as u32;
        if sys::bpf_prog_get_info_by_fd(fd, &mut info, &mut len) != 0 {
            return Translated {
                instructions: 0,
                hash: 0,
            };
        }
        let size = info.xlated_prog_len as usize;
        let mut code = vec![0u8; size];
        let mut info: sys::bpf_prog_info = std::mem::zeroed();
        info.xlated_prog_len = size as u32;
        info.xlated_prog_insns = code.as_mut_ptr() as u64;
        let mut len = std::mem::size_of::<sys::bpf_prog_info>() as u32;
        if sys::bpf_prog_get_info_by_fd(fd, &mut info, &mut len) != 0 {
            return Translated {
                instructions: 0,
                hash: 0,
            };
        }
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for insn in code.chunks_exact(8) {
            let mut insn: [u8; 8] = insn.try_into().unwrap_or([0; 8]);
            // ld_imm64 whose src_reg names a map: imm is the map's id.
            if insn[0] == 0x18 && insn[1] >> 4 != 0 {
                insn[4..8].fill(0);
            }
            for byte in insn {
                hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        Translated {
            instructions: (size / 8) as u64,
            hash,
        }
    }
}

/// An error and its sources, so "BTF error" says which.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
