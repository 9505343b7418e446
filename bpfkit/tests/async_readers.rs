//! The async readers in the kernel, on tokio and on async-io (features `tokio` and `async-io`,
//! which bpfkit's dev-dependency on itself turns on for `cargo test --workspace`).
//!
//! Each test first shows the reader does not complete while nothing is written (it sleeps:
//! bounded by a timer here, never inside the reader), then that it wakes when another thread
//! makes a program write: the perf buffer (all CPUs, and one CPU), the ring buffer, and the log
//! forwarder task.

#![cfg(any(feature = "tokio", feature = "async-io"))]

#[macro_use]
mod common;

use std::cell::Cell;
use std::future::Future;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use bpfkit::log::{level_value, EbpfLogger, LOG_LEVEL_GLOBAL, LOG_MAP_NAME};
use bpfkit::maps::{MapData, PerfEventArray, RingBuf};
use bpfkit::runtime::{AsyncReader, AsyncSource, Runtime};
use bpfkit::sys;
use bpfkit::{Ebpf, EbpfLoader};

const PERF_OBJECT: &str = "perf_output.bpf.o";
const LOG_OBJECT: &str = "rust/logging.bpf.o";
/// `BPF_F_TEST_RUN_ON_CPU`.
const TEST_RUN_ON_CPU: u32 = 1;
/// What the async readers get to notice data, at most (they take microseconds).
const WAKE_LIMIT: Duration = Duration::from_secs(10);
/// How long a reader must stay asleep when nothing is written.
const QUIET: Duration = Duration::from_millis(150);
/// When the helper thread writes, after the reader went to sleep.
const WRITE_DELAY: Duration = Duration::from_millis(100);

fn load_perf() -> Ebpf {
    EbpfLoader::new()
        .load(&common::object(PERF_OBJECT))
        .unwrap_or_else(|e| panic!("loading {PERF_OBJECT}: {e}"))
}

/// A program's fd, owned: the writer threads run it without borrowing the `Ebpf`.
fn program_fd(ebpf: &Ebpf, name: &str) -> OwnedFd {
    ebpf.program(name)
        .unwrap_or_else(|| panic!("program `{name}`"))
        .data()
        .fd()
        .expect("loaded")
        .try_clone_to_owned()
        .expect("dup")
}

/// BPF_PROG_TEST_RUN of `program` with a context or packet, on `cpu` when given.
fn test_run(program: &OwnedFd, ctx_in: &[u8], data_in: &[u8], cpu: Option<u32>) -> u32 {
    sys::prog_test_run(&mut sys::TestRun {
        prog_fd: program.as_fd(),
        data_in,
        data_out: None,
        ctx_in,
        ctx_out: None,
        repeat: 0,
        flags: if cpu.is_some() { TEST_RUN_ON_CPU } else { 0 },
        cpu: cpu.unwrap_or(0),
        batch_size: 0,
    })
    .expect("test run")
    .retval
}

/// `count` records of `len` bytes from `first`, written on `cpu` by `perf_output`'s `emit`.
fn emit(program: &OwnedFd, cpu: u32, first: u32, count: u32, len: u32) {
    let mut ctx = Vec::with_capacity(24);
    for arg in [u64::from(first), u64::from(count), u64::from(len)] {
        ctx.extend_from_slice(&arg.to_ne_bytes());
    }
    assert_eq!(
        test_run(program, &ctx, &[], Some(cpu)),
        count,
        "all written"
    );
}

/// The sequence number and CPU at the start of a record.
fn seq_and_cpu(sample: &[u8]) -> (u32, u32) {
    let word = |at: usize| u32::from_ne_bytes(sample[at..at + 4].try_into().expect("4 bytes"));
    (word(0), word(4))
}

/// The logging object, logging at every level for this process.
fn load_logging() -> Ebpf {
    EbpfLoader::new()
        .set_global(
            LOG_LEVEL_GLOBAL,
            &level_value(log::LevelFilter::Trace),
            true,
        )
        .set_global("test_pid", &std::process::id(), true)
        .load(&common::object(LOG_OBJECT))
        .unwrap_or_else(|e| panic!("loading {LOG_OBJECT}: {e}"))
}

/// One run of `logging`'s `log_packet`: five records, one per level.
fn log_once(program: &OwnedFd) {
    let mut packet = [0u8; 64];
    packet[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    assert_eq!(test_run(program, &[], &packet, None), 2, "XDP_PASS");
}

/// Polls `future` until it completes or `limit` passes on the runtime's timer.
trait Timeouts {
    async fn within<F: Future>(limit: Duration, future: F) -> Option<F::Output>;
}

/// Waits for `reader` with nothing written (it must still be asleep after [`QUIET`]), then
/// while `write` runs on another thread after [`WRITE_DELAY`]: the reader is asleep in the
/// reactor when the program writes, and must be woken. Returns the reader, readable.
async fn sleeps_then_wakes<S: AsyncSource, R: Runtime + Timeouts>(
    reader: &mut AsyncReader<S, R>,
    write: impl FnOnce() + Send + 'static,
) -> &mut S {
    let polls = Cell::new(0);
    assert!(
        R::within(QUIET, counted(&polls, reader.readable()))
            .await
            .is_none(),
        "readable with nothing written"
    );
    // Asleep means polled once to register, then only when the runtime is woken (by the timer
    // here): a reader that spun would be polled thousands of times.
    assert!(
        polls.get() <= 3,
        "polled {} times while nothing came",
        polls.get()
    );
    let writer = std::thread::spawn(move || {
        std::thread::sleep(WRITE_DELAY);
        write();
    });
    polls.set(0);
    let readable = R::within(WAKE_LIMIT, counted(&polls, reader.readable())).await;
    writer.join().expect("the writer thread");
    assert!(
        polls.get() <= 4,
        "polled {} times until data came",
        polls.get()
    );
    readable.expect("the reader woke up").expect("readable")
}

/// `future`, counting in `polls` how often it is polled.
async fn counted<F: Future>(polls: &Cell<u32>, future: F) -> F::Output {
    let mut future = pin!(future);
    std::future::poll_fn(|cx| {
        polls.set(polls.get() + 1);
        future.as_mut().poll(cx)
    })
    .await
}

/// The perf buffer of every CPU, awaited: sleeps, then returns every record of the two CPUs
/// written on, in order.
async fn perf_buffer_wakes<R: Runtime + Timeouts>() {
    let ebpf = load_perf();
    let events = PerfEventArray::try_from(ebpf.map("events").expect("map")).expect("perf array");
    let buffers = events.open_all(1).expect("open");
    let cpus: Vec<u32> = buffers.buffers().iter().map(|b| b.cpu()).collect();
    let mut reader = AsyncReader::<_, R>::new(buffers).expect("register");
    let program = program_fd(&ebpf, "emit");
    let writer_cpus = cpus.clone();
    let buffers = sleeps_then_wakes(&mut reader, move || {
        for cpu in writer_cpus {
            emit(&program, cpu, cpu * 100, 5, 21);
        }
    })
    .await;
    let mut seen = Vec::new();
    let events = buffers.read_events(|cpu, sample| {
        let (seq, written_on) = seq_and_cpu(sample);
        assert_eq!(written_on, cpu, "in the buffer of the CPU that wrote it");
        seen.push(seq);
    });
    assert_eq!(events.lost, 0);
    let expected: Vec<u32> = cpus
        .iter()
        .flat_map(|&c| (0..5).map(move |i| c * 100 + i))
        .collect();
    assert_eq!(seen, expected, "every record, each CPU's in order");
    // Drained: waiting again sleeps.
    assert!(R::within(QUIET, reader.readable()).await.is_none());
}

/// One CPU's perf buffer, awaited.
async fn perf_cpu_buffer_wakes<R: Runtime + Timeouts>() {
    let ebpf = load_perf();
    let events = PerfEventArray::try_from(ebpf.map("events").expect("map")).expect("perf array");
    let cpu = bpfkit::sys::online_cpus().expect("online")[0];
    let mut reader =
        AsyncReader::<_, R>::new(events.open(cpu, 1).expect("open")).expect("register");
    let program = program_fd(&ebpf, "emit");
    let buffer = sleeps_then_wakes(&mut reader, move || emit(&program, cpu, 40, 3, 9)).await;
    let mut seen = Vec::new();
    buffer.read_events(|sample| seen.push(seq_and_cpu(sample)));
    assert_eq!(seen, [(40, cpu), (41, cpu), (42, cpu)]);
}

/// A ring buffer (the logging object's), awaited: the five records of one run.
async fn ring_buffer_wakes<R: Runtime + Timeouts>() {
    let mut ebpf = load_logging();
    let map: MapData = ebpf.take_map(LOG_MAP_NAME).expect("log map");
    let mut reader =
        AsyncReader::<_, R>::new(RingBuf::try_from(map).expect("ring")).expect("register");
    let program = program_fd(&ebpf, "log_packet");
    let ring = sleeps_then_wakes(&mut reader, move || log_once(&program)).await;
    let mut levels = Vec::new();
    while let Some(sample) = ring.next() {
        let record = bpfkit::log::LogRecord::decode(&sample).expect("a log record");
        levels.push(bpfkit::log::log_level(record.level));
    }
    assert_eq!(
        levels,
        [
            log::Level::Error,
            log::Level::Warn,
            log::Level::Info,
            log::Level::Debug,
            log::Level::Trace
        ]
    );
    assert!(R::within(QUIET, reader.readable()).await.is_none());
}

/// The log forwarder, awaited: the lines of one run.
async fn logger_wakes<R: Runtime + Timeouts>() {
    let mut ebpf = load_logging();
    let logger = EbpfLogger::init(&mut ebpf).expect("logger");
    let mut reader = AsyncReader::<_, R>::new(logger).expect("register");
    let program = program_fd(&ebpf, "log_packet");
    let logger = sleeps_then_wakes(&mut reader, move || log_once(&program)).await;
    let lines = logger.drain_to_strings();
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert!(lines[0].starts_with("ERROR logging: "), "{lines:?}");
}

#[cfg(feature = "tokio")]
mod on_tokio {
    use super::*;
    use bpfkit::runtime::Tokio;

    impl Timeouts for Tokio {
        async fn within<F: Future>(limit: Duration, future: F) -> Option<F::Output> {
            tokio::time::timeout(limit, future).await.ok()
        }
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
            .block_on(future)
    }

    #[test]
    fn tokio_perf_buffer_wakes_on_data() {
        require_root!();
        block_on(perf_buffer_wakes::<Tokio>());
    }

    #[test]
    fn tokio_perf_cpu_buffer_wakes_on_data() {
        require_root!();
        block_on(perf_cpu_buffer_wakes::<Tokio>());
    }

    #[test]
    fn tokio_ring_buffer_wakes_on_data() {
        require_root!();
        block_on(ring_buffer_wakes::<Tokio>());
    }

    #[test]
    fn tokio_logger_wakes_on_data() {
        require_root!();
        block_on(logger_wakes::<Tokio>());
    }

    /// The forwarder task hands the records to the `log` crate until it is aborted.
    #[test]
    fn tokio_logger_task_forwards_until_aborted() {
        require_root!();
        let captured = capture::install();
        block_on(async {
            let mut ebpf = load_logging();
            let logger = EbpfLogger::init(&mut ebpf).expect("logger");
            let mut logger = bpfkit::log::AsyncEbpfLogger::<Tokio>::new(logger).expect("register");
            let task = tokio::spawn(async move { logger.forward().await });
            log_once(&program_fd(&ebpf, "log_packet"));
            let deadline = tokio::time::Instant::now() + WAKE_LIMIT;
            while captured.lock().expect("lock").len() < 5 {
                assert!(tokio::time::Instant::now() < deadline, "forwarded in time");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            task.abort();
            assert!(task.await.expect_err("aborted").is_cancelled());
        });
        let lines = captured.lock().expect("lock").clone();
        assert_eq!(lines.len(), 5, "{lines:?}");
        assert!(lines[2].starts_with("INFO logging: pid "), "{lines:?}");
    }

    /// Outside a runtime, building a tokio reader is an error, not a panic.
    #[test]
    fn tokio_reader_outside_a_runtime_is_an_error() {
        require_root!();
        let ebpf = load_perf();
        let events =
            PerfEventArray::try_from(ebpf.map("events").expect("map")).expect("perf array");
        let buffers = events.open_all(1).expect("open");
        let error = AsyncReader::<_, Tokio>::new(buffers).expect_err("no runtime");
        assert!(error.to_string().contains("no tokio runtime"), "{error}");
    }

    /// A `log` logger that keeps the lines logged with target `logging` (the program's).
    mod capture {
        use std::sync::{Arc, Mutex, OnceLock};

        struct Capture(Arc<Mutex<Vec<String>>>);

        impl log::Log for Capture {
            fn enabled(&self, _: &log::Metadata<'_>) -> bool {
                true
            }
            fn log(&self, record: &log::Record<'_>) {
                if record.target() == "logging" {
                    if let Ok(mut lines) = self.0.lock() {
                        lines.push(format!(
                            "{} {}: {}",
                            record.level(),
                            record.target(),
                            record.args()
                        ));
                    }
                }
            }
            fn flush(&self) {}
        }

        pub fn install() -> Arc<Mutex<Vec<String>>> {
            static LINES: OnceLock<Arc<Mutex<Vec<String>>>> = OnceLock::new();
            LINES
                .get_or_init(|| {
                    let lines = Arc::new(Mutex::new(Vec::new()));
                    log::set_logger(Box::leak(Box::new(Capture(lines.clone()))))
                        .expect("the only logger");
                    log::set_max_level(log::LevelFilter::Trace);
                    lines
                })
                .clone()
        }
    }
}

#[cfg(feature = "async-io")]
mod on_async_io {
    use super::*;
    use bpfkit::runtime::AsyncIo;

    impl Timeouts for AsyncIo {
        async fn within<F: Future>(limit: Duration, future: F) -> Option<F::Output> {
            let mut future = pin!(future);
            let mut timer = async_io::Timer::after(limit);
            std::future::poll_fn(|cx| {
                if let Poll::Ready(output) = future.as_mut().poll(cx) {
                    return Poll::Ready(Some(output));
                }
                match std::pin::Pin::new(&mut timer).poll(cx) {
                    Poll::Ready(_) => Poll::Ready(None),
                    Poll::Pending => Poll::Pending,
                }
            })
            .await
        }
    }

    #[test]
    fn async_io_perf_buffer_wakes_on_data() {
        require_root!();
        async_io::block_on(perf_buffer_wakes::<AsyncIo>());
    }

    #[test]
    fn async_io_perf_cpu_buffer_wakes_on_data() {
        require_root!();
        async_io::block_on(perf_cpu_buffer_wakes::<AsyncIo>());
    }

    #[test]
    fn async_io_ring_buffer_wakes_on_data() {
        require_root!();
        async_io::block_on(ring_buffer_wakes::<AsyncIo>());
    }

    #[test]
    fn async_io_logger_wakes_on_data() {
        require_root!();
        async_io::block_on(logger_wakes::<AsyncIo>());
    }
}
