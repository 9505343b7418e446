//! `rust-app`: prints every `exec` on the machine as the eBPF program (`rust-app-ebpf`) reports
//! it, through a ring buffer, and forwards the program's log lines to the `log` crate.
//!
//! ```text
//! sudo ./target/release/rust-app               until Ctrl-C
//! sudo ./target/release/rust-app --seconds 10
//! sudo ./target/release/rust-app --check       self-test: starts /bin/true and exits 0 once the
//!                                              program reported that exec and logged it
//! ```
//!
//! It only traces: the program is detached when the process exits.

use std::error::Error;
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bpfkit::log::{level_value, EbpfLogger, LOG_LEVEL_GLOBAL};
use bpfkit::maps::{MapData, RingBuf};
use bpfkit::programs::{TracePoint, TracePointLink};
use bpfkit::{Ebpf, EbpfLoader};
use rust_app_common::ExecEvent;

/// The eBPF object, built by `build.rs` from `../rust-app-ebpf`.
const OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/rust-app.bpf.o"));
/// The program: its function's name in `rust-app-ebpf/src/main.rs`.
const PROGRAM: &str = "rust_app";
/// The ring buffer of [`ExecEvent`]s.
const EVENTS_MAP: &str = "events";
/// The tracepoint the program attaches to.
const TRACEPOINT: (&str, &str) = ("sched", "sched_process_exec");
/// How long `--check` waits for its exec to show.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one wait for records lasts (Ctrl-C and the time limit are noticed in between).
const POLL_INTERVAL: Duration = Duration::from_millis(100);

const USAGE: &str = "usage: rust-app [--seconds N | --check]
  (no option)   print every exec on the machine until Ctrl-C
  --seconds N   ... for N seconds
  --check       self-test: start /bin/true, exit 0 once its exec event and log line arrived
                (within 5 s), 1 otherwise
Loading eBPF programs needs root (or CAP_BPF + CAP_PERFMON).";

/// What the command line asks for.
enum Mode {
    /// Print events, for this long (`None`: until Ctrl-C).
    Watch(Option<Duration>),
    /// The self-test.
    Check,
}

fn main() -> ExitCode {
    let mode = match parse_args(std::env::args().skip(1)) {
        Ok(Some(mode)) => mode,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("rust-app: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
    let result = match mode {
        Mode::Watch(limit) => watch(limit),
        Mode::Check => check(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("rust-app: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The mode, or `None` for `--help`.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Mode>, String> {
    let mut mode = Mode::Watch(None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--check" => mode = Mode::Check,
            "--seconds" => {
                let value = args.next().ok_or("--seconds needs a number")?;
                let seconds: u64 = value
                    .parse()
                    .map_err(|_| format!("--seconds: `{value}` is not a number of seconds"))?;
                mode = Mode::Watch(Some(Duration::from_secs(seconds)));
            }
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Some(mode))
}

/// Prints `log` records (the eBPF program's, forwarded by [`EbpfLogger`], and bpfkit's own) on
/// stderr; in `--check` mode it also keeps them, so the check can tell that the program's line
/// came through.
struct Logger {
    keep: AtomicBool,
    kept: Mutex<Vec<String>>,
}

static LOGGER: Logger = Logger {
    keep: AtomicBool::new(false),
    kept: Mutex::new(Vec::new()),
};

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format!(
            "{:<5} {}: {}",
            record.level(),
            record.target(),
            record.args()
        );
        eprintln!("{line}");
        if self.keep.load(Ordering::Relaxed) {
            // A poisoned lock only means another thread panicked while pushing: keep going.
            self.kept
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(line);
        }
    }

    fn flush(&self) {}
}

impl Logger {
    /// Whether a kept line contains `text`.
    fn kept_line_containing(&self, text: &str) -> Option<String> {
        self.kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .find(|line| line.contains(text))
            .cloned()
    }
}

/// The loaded and attached program with the two ring buffers it writes; dropping it detaches
/// the program and frees everything.
struct Tracer {
    events: RingBuf<MapData>,
    logger: EbpfLogger,
    // Fields drop in order: the link before the object that owns the program.
    _link: TracePointLink,
    _ebpf: Ebpf,
}

impl Tracer {
    /// Loads the object, takes its ring buffers and attaches the program.
    fn start() -> Result<Tracer, Box<dyn Error>> {
        if bpfkit::sys::effective_uid() != 0 {
            return Err("loading an eBPF program needs root: run it with sudo".into());
        }
        let mut ebpf = EbpfLoader::new()
            // The verifier prunes the program's log calls above this level.
            .set_global(LOG_LEVEL_GLOBAL, &level_value(log::LevelFilter::Info), true)
            .load(OBJECT)?;
        let logger = EbpfLogger::init(&mut ebpf)?;
        let events = RingBuf::try_from(
            ebpf.take_map(EVENTS_MAP)
                .ok_or(format!("the object has no map `{EVENTS_MAP}`"))?,
        )?;
        let program: &mut TracePoint = ebpf
            .program_mut(PROGRAM)
            .ok_or(format!("the object has no program `{PROGRAM}`"))?
            .try_into()?;
        let link = program.attach(TRACEPOINT.0, TRACEPOINT.1)?;
        Ok(Tracer {
            events,
            logger,
            _link: link,
            _ebpf: ebpf,
        })
    }

    /// Waits up to [`POLL_INTERVAL`] for records, forwards the log lines that came and calls
    /// `each` with every event.
    fn poll(&mut self, mut each: impl FnMut(&ExecEvent)) -> Result<(), Box<dyn Error>> {
        self.events.poll(Some(POLL_INTERVAL))?;
        while let Some(record) = self.events.next() {
            match ExecEvent::from_bytes(&record) {
                Some(event) => each(&event),
                None => log::warn!("short event record ({} bytes)", record.len()),
            }
        }
        self.logger.drain();
        Ok(())
    }
}

/// Prints every exec, for `limit` or until Ctrl-C (which ends the process, and so detaches).
fn watch(limit: Option<Duration>) -> Result<(), Box<dyn Error>> {
    let mut tracer = Tracer::start()?;
    match limit {
        Some(limit) => println!(
            "tracing {}/{} for {} s",
            TRACEPOINT.0,
            TRACEPOINT.1,
            limit.as_secs()
        ),
        None => println!("tracing {}/{} until Ctrl-C", TRACEPOINT.0, TRACEPOINT.1),
    }
    println!("{:>7} {:>7} COMM", "PID", "UID");
    let start = Instant::now();
    loop {
        if limit.is_some_and(|limit| start.elapsed() >= limit) {
            return Ok(());
        }
        tracer.poll(|event| {
            println!(
                "{:>7} {:>7} {}",
                event.pid,
                event.uid,
                String::from_utf8_lossy(event.comm_bytes())
            );
        })?;
    }
}

/// The self-test: runs `/bin/true` and waits for the program to report that very process, in
/// the ring buffer and in a log line.
fn check() -> Result<(), Box<dyn Error>> {
    LOGGER.keep.store(true, Ordering::Relaxed);
    let mut tracer = Tracer::start()?;
    let mut child = Command::new("/bin/true")
        .spawn()
        .map_err(|e| format!("starting /bin/true: {e}"))?;
    let pid = child.id();
    child
        .wait()
        .map_err(|e| format!("waiting for /bin/true: {e}"))?;
    // The program's line: "exec pid <pid> uid <uid> comm true". Other processes' execs come
    // through too; only this pid counts.
    let wanted_line = format!("exec pid {pid} uid ");
    let mut event = None;
    let mut line = None;
    let start = Instant::now();
    while (event.is_none() || line.is_none()) && start.elapsed() < CHECK_TIMEOUT {
        tracer.poll(|seen| {
            if seen.pid == pid {
                event = Some(*seen);
            }
        })?;
        if line.is_none() {
            line = LOGGER.kept_line_containing(&wanted_line);
        }
    }
    match (event, line) {
        (Some(event), Some(line)) if event.comm_bytes() == b"true" => {
            println!(
                "check passed: exec event for pid {pid} (comm true, uid {}) and log line `{line}`",
                event.uid
            );
            Ok(())
        }
        (Some(event), Some(_)) => Err(format!(
            "check failed: the event for pid {pid} has comm `{}`, expected `true`",
            String::from_utf8_lossy(event.comm_bytes())
        )
        .into()),
        (None, _) => Err(format!(
            "check failed: no exec event for /bin/true (pid {pid}) in the ring buffer within {} s",
            CHECK_TIMEOUT.as_secs()
        )
        .into()),
        (Some(_), None) => Err(format!(
            "check failed: the exec event for pid {pid} arrived, but no log line containing \
             `{wanted_line}` within {} s",
            CHECK_TIMEOUT.as_secs()
        )
        .into()),
    }
}
