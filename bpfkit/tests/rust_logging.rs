//! Logging from Rust eBPF programs (`rust-progs/src/bin/logging.rs`, an XDP program run with
//! BPF_PROG_TEST_RUN) to user space: the records that arrive at each `BPFKIT_LOG_LEVEL`, their
//! formatted text with every display hint, the verifier's work shrinking as levels are turned
//! off, forwarding through the `log` crate, and the ring buffer reader across wrap-arounds.

#[macro_use]
mod common;

use std::os::fd::{AsFd, AsRawFd};
use std::sync::Mutex;
use std::time::Duration;

use bpfkit::log::{level_value, EbpfLogger, LOG_LEVEL_GLOBAL, LOG_MAP_NAME};
use bpfkit::maps::RingBuf;
use bpfkit::programs::TestRunOptions;
use bpfkit::{Ebpf, EbpfLoader};

const OBJECT: &str = "rust/logging.bpf.o";
const PROGRAM: &str = "log_packet";
const XDP_PASS: u32 = 2;
const PACKET_LEN: usize = 64;

/// Ethernet (source aa:bb:cc:dd:ee:0f), IPv4 10.0.0.1 -> 10.0.0.2, UDP 4242 -> 0xbeef.
fn packet() -> [u8; PACKET_LEN] {
    let mut packet = [0u8; PACKET_LEN];
    packet[0..6].copy_from_slice(&[0xff; 6]);
    packet[6..12].copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x0f]);
    packet[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    packet[14] = 0x45;
    packet[16..18].copy_from_slice(&((PACKET_LEN - 14) as u16).to_be_bytes());
    packet[22] = 64;
    packet[23] = 17;
    packet[26..30].copy_from_slice(&[10, 0, 0, 1]);
    packet[30..34].copy_from_slice(&[10, 0, 0, 2]);
    packet[34..36].copy_from_slice(&4242u16.to_be_bytes());
    packet[36..38].copy_from_slice(&0xbeefu16.to_be_bytes());
    packet
}

/// The lines the program logs for [`packet`], most severe first (one per level).
fn expected_lines(pid: u32) -> [String; 5] {
    [
        "ERROR logging: error code -22 (EINVAL)".to_string(),
        format!("WARN logging: packet of {PACKET_LEN} bytes from aa:bb:cc:dd:ee:0f"),
        format!("INFO logging: pid {pid} saw 10.0.0.1 -> 10.0.0.2"),
        "DEBUG logging: ports 4242 -> beef ok=true name bpfkit-log".to_string(),
        "TRACE logging: v6 2001:db8::1 tag λ FF".to_string(),
    ]
}

fn load(filter: log::LevelFilter, pid: u32) -> Ebpf {
    EbpfLoader::new()
        .set_global(LOG_LEVEL_GLOBAL, &level_value(filter), true)
        .set_global("test_pid", &pid, true)
        .load(&common::object(OBJECT))
        .unwrap_or_else(|e| panic!("loading at {filter}: {e}"))
}

fn run(ebpf: &Ebpf, repeat: u32) {
    let packet = packet();
    let out = ebpf
        .program(PROGRAM)
        .expect("program")
        .data()
        .test_run(&TestRunOptions {
            data_in: &packet,
            repeat,
            ..Default::default()
        })
        .expect("test run");
    assert_eq!(out.retval, XDP_PASS);
}

fn verified_insns(ebpf: &Ebpf) -> u32 {
    let fd = ebpf
        .program(PROGRAM)
        .expect("program")
        .data()
        .fd()
        .expect("loaded");
    bpfkit::sys::prog_info(fd)
        .expect("prog info")
        .verified_insns
}

/// At each level, exactly the records of that level and the more severe ones arrive, with
/// their arguments formatted; and the verifier walks fewer instructions for each level turned
/// off, none of the logging code at `Off`.
#[test]
fn rust_logging_filters_levels_at_load_time() {
    require_root!();
    let pid = std::process::id();
    let expected = expected_lines(pid);
    let filters = [
        log::LevelFilter::Off,
        log::LevelFilter::Error,
        log::LevelFilter::Warn,
        log::LevelFilter::Info,
        log::LevelFilter::Debug,
        log::LevelFilter::Trace,
    ];
    let mut verified = Vec::new();
    for (enabled, filter) in filters.into_iter().enumerate() {
        let mut ebpf = load(filter, pid);
        verified.push(verified_insns(&ebpf));
        let mut logger = EbpfLogger::init(&mut ebpf).expect("logger");
        assert!(ebpf.map(LOG_MAP_NAME).is_none(), "init takes the map");
        run(&ebpf, 1);
        let lines = logger.drain_to_strings();
        assert_eq!(lines, expected[..enabled], "at level {filter}");
        assert_eq!(logger.malformed_records(), 0);
        assert!(logger.drain_to_strings().is_empty(), "each record once");
    }
    eprintln!("verified instructions, Off..Trace: {verified:?}");
    for pair in verified.windows(2) {
        assert!(
            pair[0] < pair[1],
            "each enabled level adds verified instructions: {verified:?} (Off..Trace)"
        );
    }
}

/// A logger capturing what reaches the `log` crate.
struct Capture(Mutex<Vec<(log::Level, String, String)>>);

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record<'_>) {
        if let Ok(mut records) = self.0.lock() {
            records.push((
                record.level(),
                record.target().to_string(),
                record.args().to_string(),
            ));
        }
    }

    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

/// `drain` and `poll` forward records to the installed logger with their level and target,
/// skipping what the logger's filter disables (here: debug and trace).
#[test]
fn rust_logging_forwards_to_the_log_crate() {
    require_root!();
    log::set_logger(&CAPTURE).expect("the only logger of this test binary");
    log::set_max_level(log::LevelFilter::Trace);
    let pid = std::process::id();
    let mut ebpf = load(log::LevelFilter::Trace, pid);
    let mut logger = EbpfLogger::init(&mut ebpf).expect("logger");
    assert_eq!(
        logger.poll(Some(Duration::from_millis(10))).expect("poll"),
        0,
        "nothing logged yet"
    );
    run(&ebpf, 1);
    assert_eq!(logger.poll(None).expect("poll"), 5, "all five records read");
    let captured = std::mem::take(&mut *CAPTURE.0.lock().expect("lock"));
    let expected = expected_lines(pid);
    let wanted: Vec<(log::Level, String, String)> =
        [log::Level::Error, log::Level::Warn, log::Level::Info]
            .into_iter()
            .zip(&expected)
            .map(|(level, line)| {
                let message = line.split_once(": ").expect("line format").1;
                (level, "logging".to_string(), message.to_string())
            })
            .collect();
    assert_eq!(captured, wanted);
}

/// The reader on its own: records written by many program runs come out in order and whole,
/// across several wrap-arounds of the ring; `poll` says when records are waiting.
#[test]
fn rust_ring_buffer_reader_wraps_around() {
    require_root!();
    let pid = std::process::id();
    let ebpf = load(log::LevelFilter::Trace, pid);
    let map = ebpf.map(LOG_MAP_NAME).expect("log map");
    let mut ring = RingBuf::try_from(map).expect("ring buffer");
    assert_eq!(ring.as_fd().as_raw_fd(), map.fd().as_raw_fd());
    assert!(!ring.poll(Some(Duration::from_millis(10))).expect("poll"));

    let size = map.max_entries() as u64;
    let mut record_sizes = Vec::new();
    run(&ebpf, 1);
    assert!(ring.poll(Some(Duration::ZERO)).expect("poll"));
    let mut per_run = 0u64;
    while let Some(sample) = ring.next() {
        // Header (8) plus the sample padded to 8.
        per_run += 8 + (sample.len() as u64).div_ceil(8) * 8;
        record_sizes.push(sample.len());
    }
    assert_eq!(record_sizes.len(), 5);
    // Runs per batch that fit in the ring with room to spare, then enough batches to wrap.
    let runs = (size / per_run / 2).max(1) as u32;
    let batches = (3 * size / (per_run * u64::from(runs))) + 1;
    let expected = expected_lines(pid);
    for batch in 0..batches {
        run(&ebpf, runs);
        let mut count = 0usize;
        while let Some(sample) = ring.next() {
            let record = bpfkit_common::log::Record::decode(&sample)
                .unwrap_or_else(|e| panic!("batch {batch} record {count}: {e}"));
            let line = format!(
                "{} {}: {}",
                bpfkit::log::log_level(record.level),
                record.target,
                record.message()
            );
            assert_eq!(line, expected[count % 5], "batch {batch} record {count}");
            count += 1;
        }
        assert_eq!(count, runs as usize * 5, "batch {batch}");
    }
    assert_eq!(ring.pending_bytes(), 0);
}

/// Compatibility: bpftool (libbpf) loads the logging object and runs its program; bpfkit
/// reads the records from the pinned `BPFKIT_LOGS` map (libbpf left `BPFKIT_LOG_LEVEL` and
/// `test_pid` at their defaults: every level, pid 0).
#[test]
fn rust_logging_object_loads_with_bpftool() {
    require_root!();
    let bpffs = common::Bpffs::new();
    let progs = bpffs.path().join("progs");
    let maps = bpffs.path().join("maps");
    let object = common::object_path(OBJECT);
    let text = |path: &std::path::Path| path.to_str().expect("UTF-8 path").to_string();
    common::run_ok(&[
        "bpftool",
        "prog",
        "loadall",
        &text(&object),
        &text(&progs),
        "pinmaps",
        &text(&maps),
    ]);
    // The packet goes to a file outside the bpffs (which holds only BPF objects).
    let packet_path =
        std::env::temp_dir().join(format!("bpfkit-log-packet-{}", std::process::id()));
    struct Remove(std::path::PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _cleanup = Remove(packet_path.clone());
    std::fs::write(&packet_path, packet()).expect("writing the packet");
    common::run_ok(&[
        "bpftool",
        "prog",
        "run",
        "pinned",
        &text(&progs.join(PROGRAM)),
        "data_in",
        &text(&packet_path),
        "repeat",
        "1",
    ]);
    let map = bpfkit::maps::MapData::from_pin(maps.join(LOG_MAP_NAME)).expect("pinned log map");
    let mut logger = EbpfLogger::from_map(map).expect("logger");
    assert_eq!(logger.drain_to_strings(), expected_lines(0));
}

/// A discarded record (reserved by the program, then given back) is skipped by the reader:
/// only the record logged after it arrives, once per run.
#[test]
fn rust_ring_buffer_reader_skips_discarded_records() {
    require_root!();
    let ebpf = load(log::LevelFilter::Trace, std::process::id());
    let map = ebpf.map(LOG_MAP_NAME).expect("log map");
    let mut ring = RingBuf::try_from(map).expect("ring buffer");
    let packet = packet();
    ebpf.program("discard_then_log")
        .expect("program")
        .data()
        .test_run(&TestRunOptions {
            data_in: &packet,
            repeat: 3,
            ..Default::default()
        })
        .expect("test run");
    // Three discarded records of 8 + 32 bytes and three log records are pending.
    let mut messages = Vec::new();
    while let Some(sample) = ring.next() {
        let record = bpfkit_common::log::Record::decode(&sample).expect("a log record");
        messages.push(record.message().to_string());
    }
    assert_eq!(messages, ["after a discarded record 7"; 3]);
    assert_eq!(ring.pending_bytes(), 0);
}
