//! Log records from Rust eBPF programs (`bpfkit_ebpf::info!` ...), forwarded to the `log`
//! crate.
//!
//! The programs write records (format: [`bpfkit_common::log`]) into their `BPFKIT_LOGS` ring
//! buffer; [`EbpfLogger`] reads them and hands each one to whatever logger the application
//! installed (`env_logger`, ...), with the record's level and its module path as target.
//!
//! Which levels the programs write at all is decided at load time, by the `.rodata` global
//! `BPFKIT_LOG_LEVEL`: the verifier then drops the code of the other levels.
//!
//! ```no_run
//! use bpfkit::log::{level_value, EbpfLogger, LOG_LEVEL_GLOBAL};
//! use bpfkit::EbpfLoader;
//!
//! # fn f(bytes: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! let mut ebpf = EbpfLoader::new()
//!     .set_global(LOG_LEVEL_GLOBAL, &level_value(log::LevelFilter::Info), true)
//!     .load(bytes)?;
//! let mut logger = EbpfLogger::init(&mut ebpf)?;
//! loop {
//!     logger.poll(Some(std::time::Duration::from_millis(200)))?; // waits, then logs what came
//! }
//! # }
//! ```
//!
//! With the feature `tokio` or `async-io`, `AsyncEbpfLogger` forwards records from a task,
//! woken by the kernel when records arrive, until the task is cancelled.

use std::fmt::Write as _;
use std::time::Duration;

pub use bpfkit_common::log::{DecodeError, Level as RecordLevel, Record as LogRecord};
use bpfkit_common::log::{Level, Record};

use crate::maps::{MapData, MapError, RingBuf};
#[cfg(any(feature = "tokio", feature = "async-io"))]
pub use crate::runtime::AsyncEbpfLogger;
use crate::Ebpf;

/// Name of the ring buffer map the eBPF side writes records into.
pub const LOG_MAP_NAME: &str = bpfkit_common::log::LOG_MAP_NAME;
/// Name of the `.rodata` global with the most verbose level written; set it before load with
/// `EbpfLoader::set_global(LOG_LEVEL_GLOBAL, &level_value(filter), true)`.
pub const LOG_LEVEL_GLOBAL: &str = bpfkit_common::log::LOG_LEVEL_GLOBAL;

/// The `BPFKIT_LOG_LEVEL` value for a `log` level filter (`Off` = 0 ... `Trace` = 5).
pub fn level_value(filter: log::LevelFilter) -> u8 {
    match filter {
        log::LevelFilter::Off => 0,
        log::LevelFilter::Error => Level::Error as u8,
        log::LevelFilter::Warn => Level::Warn as u8,
        log::LevelFilter::Info => Level::Info as u8,
        log::LevelFilter::Debug => Level::Debug as u8,
        log::LevelFilter::Trace => Level::Trace as u8,
    }
}

/// The `log` crate's level of a record level.
pub fn log_level(level: Level) -> log::Level {
    match level {
        Level::Error => log::Level::Error,
        Level::Warn => log::Level::Warn,
        Level::Info => log::Level::Info,
        Level::Debug => log::Level::Debug,
        Level::Trace => log::Level::Trace,
    }
}

/// Errors of [`EbpfLogger`].
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The object has no `BPFKIT_LOGS` map (no `bpfkit_ebpf::log_buffer!()`), or it was taken.
    #[error("the object has no `{LOG_MAP_NAME}` ring buffer (add `bpfkit_ebpf::log_buffer!();` to the eBPF program)")]
    NoLogMap,
    /// The map could not be read as a ring buffer.
    #[error("log ring buffer: {0}")]
    Map(#[from] MapError),
}

/// Reads the log records of an eBPF object and forwards them to the `log` crate.
#[derive(Debug)]
pub struct EbpfLogger {
    ring: RingBuf<MapData>,
    malformed: u64,
}

impl EbpfLogger {
    /// Takes the object's `BPFKIT_LOGS` map (so `ebpf.map("BPFKIT_LOGS")` is `None` after).
    pub fn init(ebpf: &mut Ebpf) -> Result<EbpfLogger, LogError> {
        let map = ebpf.take_map(LOG_MAP_NAME).ok_or(LogError::NoLogMap)?;
        EbpfLogger::from_map(map)
    }

    /// Reads records from a `BPFKIT_LOGS` map obtained otherwise (pinned, by id).
    pub fn from_map(map: MapData) -> Result<EbpfLogger, LogError> {
        Ok(EbpfLogger {
            ring: RingBuf::try_from(map)?,
            malformed: 0,
        })
    }

    /// Calls `each` with every record ready now (or the reason it could not be decoded), in
    /// order; returns how many there were. Records are read in place, without copies.
    pub fn drain_with(&mut self, mut each: impl FnMut(Result<Record<'_>, DecodeError>)) -> usize {
        let mut count = 0;
        while let Some(sample) = self.ring.next() {
            let decoded = Record::decode(&sample);
            if decoded.is_err() {
                self.malformed += 1;
            }
            each(decoded);
            count += 1;
        }
        count
    }

    /// Forwards every record ready now to the installed `log` logger (records its filter
    /// disables are skipped); returns how many records were read. A record that cannot be
    /// decoded is reported as a warning with target `bpfkit::log`.
    pub fn drain(&mut self) -> usize {
        let logger = log::logger();
        self.drain_with(|decoded| match decoded {
            Ok(record) => {
                let level = log_level(record.level);
                let metadata = log::Metadata::builder()
                    .level(level)
                    .target(record.target)
                    .build();
                if logger.enabled(&metadata) {
                    logger.log(
                        &log::Record::builder()
                            .metadata(metadata)
                            .module_path(Some(record.target))
                            .args(format_args!("{}", record.message()))
                            .build(),
                    );
                }
            }
            Err(error) => log::warn!(target: "bpfkit::log", "unreadable eBPF log record: {error}"),
        })
    }

    /// Every record ready now as a line `"<LEVEL> <target>: <message>"` (`"INFO logging: pid
    /// 42 ..."`), or `"<unreadable: reason>"`; for tests and tools that print themselves.
    pub fn drain_to_strings(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        self.drain_with(|decoded| {
            let mut line = String::new();
            let _ = match decoded {
                Ok(record) => write!(
                    line,
                    "{} {}: {}",
                    log_level(record.level),
                    record.target,
                    record.message()
                ),
                Err(error) => write!(line, "<unreadable: {error}>"),
            };
            lines.push(line);
        });
        lines
    }

    /// Waits for records for at most `timeout` (`None`: no limit), then forwards what is
    /// ready with [`drain`](Self::drain); returns how many records were read.
    pub fn poll(&mut self, timeout: Option<Duration>) -> Result<usize, LogError> {
        self.ring.poll(timeout)?;
        Ok(self.drain())
    }

    /// Records read so far that could not be decoded.
    pub fn malformed_records(&self) -> u64 {
        self.malformed
    }

    /// The ring buffer (its fd can go into an epoll set: `AsFd`).
    pub fn ring_buffer(&self) -> &RingBuf<MapData> {
        &self.ring
    }

    /// The ring buffer, to commit the read position before waiting.
    #[cfg(any(feature = "tokio", feature = "async-io"))]
    pub(crate) fn ring_buffer_mut(&mut self) -> &mut RingBuf<MapData> {
        &mut self.ring
    }
}
