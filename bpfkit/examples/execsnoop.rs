//! Showcase, Rust on both sides: prints every `exec` on the machine, live, for a few seconds.
//!
//! The eBPF program (`tests/rust-progs/src/bin/execsnoop.rs`, written in Rust with
//! `bpfkit-ebpf`) runs on the tracepoint `sched/sched_process_exec`; for each exec it writes an
//! event (pid, parent pid, comm, file name) into a ring buffer and an `info!` log record, which
//! [`EbpfLogger`] forwards to the `log` crate (printed on stderr here). The parent pid is read
//! from `task_struct` at offsets bpfkit resolves from the running kernel's BTF (CO-RE).
//!
//! ```sh
//! sudo cargo run --release -p bpfkit --example execsnoop             # 5 seconds
//! sudo cargo run --release -p bpfkit --example execsnoop -- --seconds 0   # until Ctrl-C
//! ```
//!
//! Tracing only: it changes nothing on the machine. It starts a few `/bin/true` itself so that
//! something shows. On exit (or Ctrl-C, which ends the process and so closes the link's fd) the
//! program is detached.

use std::error::Error;
use std::process::Command;
use std::time::{Duration, Instant};

use bpfkit::log::{level_value, EbpfLogger, LOG_LEVEL_GLOBAL};
use bpfkit::maps::RingBuf;
use bpfkit::programs::TracePoint;
use bpfkit::EbpfLoader;

/// The object, built from `tests/rust-progs/src/bin/execsnoop.rs` by
/// `cargo run -p xtask -- build-rust-progs`.
const OBJECT: &[u8] = include_bytes!("../tests/objects/rust/execsnoop.bpf.o");

/// How many `/bin/true` to start, and how far apart.
const OWN_EXECS: u32 = 3;
const OWN_EXEC_INTERVAL: Duration = Duration::from_millis(500);

/// Prints `log` records on stderr: `INFO execsnoop: exec pid 42 ...`.
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        eprintln!(
            "{:<5} {}: {}",
            record.level(),
            record.target(),
            record.args()
        );
    }

    fn flush(&self) {}
}

/// One event, as the eBPF program's `#[repr(C)] ExecEvent` lays it out: pid, ppid (u32 each),
/// comm (16 bytes), file name (256 bytes), both NUL-terminated.
#[derive(Debug)]
struct ExecEvent {
    pid: u32,
    ppid: u32,
    comm: String,
    filename: String,
}

impl ExecEvent {
    /// Decodes a ring buffer record; `None` when it is too short.
    fn parse(bytes: &[u8]) -> Option<ExecEvent> {
        let u32_at = |at: usize| -> Option<u32> {
            Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
        };
        Some(ExecEvent {
            pid: u32_at(0)?,
            ppid: u32_at(4)?,
            comm: c_string(bytes.get(8..24)?),
            filename: c_string(bytes.get(24..280)?),
        })
    }
}

/// The text up to the first NUL.
fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(bytes.get(..end).unwrap_or_default()).into_owned()
}

/// `--seconds N` (default 5; 0: until Ctrl-C).
fn run_time() -> Result<Option<Duration>, Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let mut seconds = 5;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = args.next().ok_or("--seconds needs a number")?;
                seconds = value
                    .parse()
                    .map_err(|_| format!("--seconds: `{value}` is not a number of seconds"))?;
            }
            "-h" | "--help" => {
                println!("usage: execsnoop [--seconds N]   (default 5; 0 runs until Ctrl-C)");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}` (try --help)").into()),
        }
    }
    Ok((seconds > 0).then(|| Duration::from_secs(seconds)))
}

fn main() -> Result<(), Box<dyn Error>> {
    let run_for = run_time()?;
    if bpfkit::sys::effective_uid() != 0 {
        return Err("this showcase loads a tracepoint program: run it as root".into());
    }
    log::set_logger(&StderrLogger).map_err(|e| e.to_string())?;
    log::set_max_level(log::LevelFilter::Info);

    let mut ebpf = EbpfLoader::new()
        // Levels above info are pruned by the verifier: the program only writes info anyway.
        .set_global(LOG_LEVEL_GLOBAL, &level_value(log::LevelFilter::Info), true)
        .load(OBJECT)?;
    let mut logger = EbpfLogger::init(&mut ebpf)?;
    let mut events = RingBuf::try_from(ebpf.take_map("events").ok_or("no map `events`")?)?;
    let program: &mut TracePoint = ebpf
        .program_mut("execsnoop")
        .ok_or("no program `execsnoop`")?
        .try_into()?;
    let link = program.attach("sched", "sched_process_exec")?;
    match run_for {
        Some(limit) => println!(
            "tracing sched/sched_process_exec for {} s (--seconds 0: until Ctrl-C)",
            limit.as_secs()
        ),
        None => println!("tracing sched/sched_process_exec until Ctrl-C"),
    }
    println!("{:>7} {:>7} {:<16} FILENAME", "PID", "PPID", "COMM");

    let start = Instant::now();
    let mut own_execs = 0;
    let mut seen = 0u64;
    loop {
        let elapsed = start.elapsed();
        if run_for.is_some_and(|limit| elapsed >= limit) {
            break;
        }
        if own_execs < OWN_EXECS && elapsed >= OWN_EXEC_INTERVAL * own_execs {
            // Something to show even on an idle machine.
            Command::new("/bin/true").status()?;
            own_execs += 1;
        }
        events.poll(Some(Duration::from_millis(100)))?;
        while let Some(record) = events.next() {
            match ExecEvent::parse(&record) {
                Some(event) => {
                    seen += 1;
                    println!(
                        "{:>7} {:>7} {:<16} {}",
                        event.pid, event.ppid, event.comm, event.filename
                    );
                }
                None => eprintln!("short event record ({} bytes)", record.len()),
            }
        }
        logger.drain();
    }
    drop(link);
    logger.drain();
    println!("{seen} execs seen; detached");
    Ok(())
}
