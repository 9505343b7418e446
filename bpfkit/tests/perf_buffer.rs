//! The perf buffer reader in the kernel, with `perf_output.bpf.o` (`progs/perf_output.bpf.c`):
//! a raw tracepoint program run with BPF_PROG_TEST_RUN on a chosen CPU, which writes numbered
//! records of a chosen length whose every byte user space can predict. Checked: every record
//! arrives intact, in order, in the buffer of the CPU that wrote it; records that straddle the
//! end of the ring are reassembled; a full ring makes the kernel report exactly the records it
//! refused; poll times out when nothing comes; dropping a buffer empties its map slot.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use bpfkit::maps::{MapData, PerfBufferError, PerfEventArray, PerfEventArrayBuffer};
use bpfkit::obj::consts::BPF_MAP_TYPE_ARRAY;
use bpfkit::programs::TestRunOptions;
use bpfkit::sys::{self, MapCreate};
use bpfkit::{Ebpf, EbpfLoader};

const OBJECT: &str = "perf_output.bpf.o";
const MAP: &str = "events";
/// `BPF_F_TEST_RUN_ON_CPU`.
const TEST_RUN_ON_CPU: u32 = 1;
/// Most records one run writes (`MAX_RECORDS` in the program).
const MAX_RECORDS: u32 = 64;

fn load() -> Ebpf {
    EbpfLoader::new()
        .load(&common::object(OBJECT))
        .unwrap_or_else(|e| panic!("loading {OBJECT}: {e}"))
}

fn events_map(ebpf: &Ebpf) -> PerfEventArray<&MapData> {
    PerfEventArray::try_from(ebpf.map(MAP).expect("map `events`")).expect("a perf event array")
}

/// Runs the program once on `cpu`: `count` records of `len` bytes numbered from `first`.
/// Returns (written, refused by the kernel).
fn emit(ebpf: &Ebpf, cpu: u32, first: u32, count: u32, len: u32) -> (u32, u32) {
    assert!(count <= MAX_RECORDS);
    let mut ctx = Vec::with_capacity(24);
    for arg in [u64::from(first), u64::from(count), u64::from(len)] {
        ctx.extend_from_slice(&arg.to_ne_bytes());
    }
    let out = ebpf
        .program("emit")
        .expect("program `emit`")
        .data()
        .test_run(&TestRunOptions {
            ctx_in: &ctx,
            data_out_capacity: Some(0),
            flags: TEST_RUN_ON_CPU,
            cpu,
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("test run on CPU {cpu}: {e}"));
    assert_ne!(out.retval, u32::MAX, "the program refused length {len}");
    (out.retval & 0xffff, out.retval >> 16)
}

/// The bytes record `seq` of `len` bytes written on `cpu` starts with (the kernel pads samples
/// so that their length + 4 is a multiple of 8).
fn expected(seq: u32, cpu: u32, len: u32) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(len as usize);
    bytes.extend_from_slice(&seq.to_ne_bytes());
    bytes.extend_from_slice(&cpu.to_ne_bytes());
    bytes.extend((8..len).map(|j| (seq.wrapping_add(j) & 0xff) as u8));
    bytes
}

/// The padded sample length of a `len`-byte record.
fn padded(len: u32) -> usize {
    ((len as usize + 4).div_ceil(8)) * 8 - 4
}

/// Checks one sample against record `seq` of `len` bytes from `cpu`.
fn check_sample(sample: &[u8], seq: u32, cpu: u32, len: u32) {
    assert_eq!(
        sample.len(),
        padded(len),
        "record {seq} (CPU {cpu}, {len} bytes): padded length"
    );
    assert_eq!(
        &sample[..len as usize],
        &expected(seq, cpu, len)[..],
        "record {seq} (CPU {cpu}, {len} bytes): contents"
    );
}

/// Reads every sample now in `buffer` as (copied, bytes).
fn read_all(buffer: &mut PerfEventArrayBuffer) -> Vec<(bool, Vec<u8>)> {
    let mut samples = Vec::new();
    while let Some(sample) = buffer.next() {
        samples.push((sample.was_copied(), sample.to_vec()));
    }
    samples
}

/// One buffer per online CPU, each program run pinned to one CPU: every CPU's buffer gets
/// exactly the records written on it, in order and intact, through the all-CPU `PerfBuffer`.
#[test]
fn perf_buffer_delivers_each_cpus_records_in_order() {
    require_root!();
    let ebpf = load();
    let mut buffers = events_map(&ebpf)
        .open_all(2)
        .expect("open on every online CPU");
    let online = sys::online_cpus().expect("online CPUs");
    assert_eq!(
        buffers
            .buffers()
            .iter()
            .map(|b| b.cpu())
            .collect::<Vec<_>>(),
        online,
        "one buffer per online CPU"
    );
    const LEN: u32 = 37;
    const PER_RUN: u32 = 10;
    for &cpu in &online {
        for run in 0..3 {
            let first = cpu * 1000 + run * PER_RUN;
            assert_eq!(emit(&ebpf, cpu, first, PER_RUN, LEN), (PER_RUN, 0));
        }
    }
    assert!(
        buffers.poll(Some(Duration::from_secs(5))).expect("poll"),
        "records are waiting"
    );
    let mut seen: Vec<(u32, Vec<u8>)> = Vec::new();
    let events = buffers.read_events(|cpu, sample| seen.push((cpu, sample.to_vec())));
    assert_eq!(events.read, online.len() * 30, "every record");
    assert_eq!(events.lost, 0);
    for &cpu in &online {
        let mine: Vec<&Vec<u8>> = seen
            .iter()
            .filter(|(c, _)| *c == cpu)
            .map(|(_, s)| s)
            .collect();
        assert_eq!(mine.len(), 30, "CPU {cpu}: 30 records");
        for (i, sample) in mine.iter().enumerate() {
            check_sample(sample, cpu * 1000 + i as u32, cpu, LEN);
        }
    }
    assert!(!buffers.has_pending(), "all read");
}

/// A one-page ring, filled and read in batches of varying odd and even lengths, hundreds of
/// times around: the records that straddle the end are reassembled (and only those are
/// copied), every byte of every record is right, nothing is lost.
#[test]
fn perf_buffer_reassembles_records_that_wrap_the_ring_end() {
    require_root!();
    let ebpf = load();
    let cpu = sys::online_cpus().expect("online CPUs")[0];
    let mut buffer = events_map(&ebpf).open(cpu, 1).expect("open");
    assert_eq!(buffer.size(), page_size() as u64);
    let ring = page_size();
    let mut seq = 0u32;
    let (mut copied, mut straddling) = (0, 0);
    // Where the next record starts: a fresh ring starts at 0.
    let mut position = 0usize;
    for batch in 0..200u32 {
        // 8..=64, odd lengths first: records of 16 to 80 bytes end at every 8-byte offset.
        let len = 8 + (batch * 13 + 29) % 57;
        let count = 30;
        assert_eq!(
            emit(&ebpf, cpu, seq, count, len),
            (count, 0),
            "batch {batch}"
        );
        assert!(buffer.poll(Some(Duration::from_secs(5))).expect("poll"));
        let samples = read_all(&mut buffer);
        assert_eq!(samples.len(), count as usize, "batch {batch}");
        for (was_copied, sample) in &samples {
            check_sample(sample, seq, cpu, len);
            // Header, u32 size, padded bytes.
            let record = 8 + 4 + sample.len();
            let straddles = position % ring + record > ring;
            assert_eq!(
                *was_copied,
                straddles,
                "record {seq} at ring offset {}",
                position % ring
            );
            copied += usize::from(*was_copied);
            straddling += usize::from(straddles);
            position += record;
            seq += 1;
        }
    }
    assert!(position > 50 * ring, "the ring went around many times");
    assert!(straddling > 30, "records straddled the end ({straddling})");
    assert_eq!(
        copied, straddling,
        "exactly the straddling records are copied"
    );
    assert_eq!(buffer.lost(), 0);
    assert_eq!(buffer.malformed(), 0);
}

/// Nobody reads a one-page ring while 5 × 64 records of 64 bytes (80 with headers, 51 fit) are
/// written: the kernel refuses the rest, and the `PERF_RECORD_LOST` it writes with the next
/// record that fits reports exactly as many as the program saw refused.
#[test]
fn perf_buffer_counts_lost_records() {
    require_root!();
    let ebpf = load();
    let cpu = sys::online_cpus().expect("online CPUs")[0];
    let mut buffer = events_map(&ebpf).open(cpu, 1).expect("open");
    let (mut written, mut refused) = (0, 0);
    for run in 0..5 {
        let (w, r) = emit(&ebpf, cpu, run * MAX_RECORDS, MAX_RECORDS, 64);
        written += w;
        refused += r;
    }
    assert!(refused > 0, "the ring filled up ({written} written)");
    assert_eq!(written + refused, 5 * MAX_RECORDS);
    let mut first = read_all(&mut buffer);
    assert_eq!(first.len(), written as usize, "every written record");
    // The first records written are those that fit.
    for (i, (_, sample)) in first.iter().enumerate() {
        check_sample(sample, i as u32, cpu, 64);
    }
    // The kernel reports the loss with the next record that fits.
    assert_eq!(emit(&ebpf, cpu, 9999, 1, 64), (1, 0));
    let events = buffer.read_events(|sample| first.push((false, sample.to_vec())));
    assert_eq!((events.read, events.lost), (1, u64::from(refused)));
    check_sample(&first[written as usize].1, 9999, cpu, 64);
    assert_eq!(buffer.lost(), u64::from(refused));
}

/// With nothing written, poll waits for its timeout and says no, for all CPUs and for one.
#[test]
fn perf_buffer_poll_times_out_without_data() {
    require_root!();
    let ebpf = load();
    let events = events_map(&ebpf);
    let mut buffers = events.open_all(1).expect("open");
    let start = Instant::now();
    assert!(!buffers
        .poll(Some(Duration::from_millis(150)))
        .expect("poll"));
    assert!(
        start.elapsed() >= Duration::from_millis(140),
        "{:?}",
        start.elapsed()
    );
    let buffer = &mut buffers.buffers_mut()[0];
    let start = Instant::now();
    assert!(!buffer.poll(Some(Duration::from_millis(100))).expect("poll"));
    assert!(
        start.elapsed() >= Duration::from_millis(90),
        "{:?}",
        start.elapsed()
    );
    assert!(buffer.next().is_none());
}

/// poll returns as soon as a record arrives from another thread, long before its timeout.
#[test]
fn perf_buffer_poll_wakes_on_data() {
    require_root!();
    let ebpf = load();
    let mut buffers = events_map(&ebpf).open_all(1).expect("open");
    let cpu = buffers.buffers()[0].cpu();
    let start = Instant::now();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(100));
            emit(&ebpf, cpu, 7, 1, 11);
        });
        assert!(buffers.poll(Some(Duration::from_secs(10))).expect("poll"));
    });
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    let mut seen = Vec::new();
    buffers.read_events(|_, sample| seen.push(sample.to_vec()));
    assert_eq!(seen.len(), 1);
    check_sample(&seen[0], 7, cpu, 11);
}

/// Dropping a buffer empties its slot: the program's output then fails (-ENOENT) instead of
/// filling a ring nobody reads.
#[test]
fn perf_buffer_drop_empties_the_map_slot() {
    require_root!();
    let ebpf = load();
    let cpu = sys::online_cpus().expect("online CPUs")[0];
    let buffer = events_map(&ebpf).open(cpu, 1).expect("open");
    assert_eq!(emit(&ebpf, cpu, 0, 3, 8), (3, 0), "slot set while open");
    drop(buffer);
    assert_eq!(emit(&ebpf, cpu, 0, 3, 8), (0, 3), "slot empty after drop");
}

/// The errors: page counts that are not powers of two, a CPU beyond the map, a map of another
/// type.
#[test]
fn perf_buffer_refuses_bad_arguments() {
    require_root!();
    let ebpf = load();
    let events = events_map(&ebpf);
    for pages in [0, 3, 12] {
        let error = events.open_all(pages).expect_err("not a power of two");
        assert!(
            matches!(error, PerfBufferError::InvalidPageCount { page_count } if page_count == pages),
            "{error}"
        );
        assert!(error.to_string().contains("power of two"), "{error}");
    }
    let slots = events.map().max_entries();
    let error = events.open(slots, 1).expect_err("no such slot");
    assert!(
        matches!(error, PerfBufferError::CpuOutOfRange { cpu, .. } if cpu == slots),
        "{error}"
    );
    let array = MapData::create(&MapCreate {
        map_type: BPF_MAP_TYPE_ARRAY,
        key_size: 4,
        value_size: 4,
        max_entries: 1,
        name: "not_perf",
        ..Default::default()
    })
    .expect("array");
    let error = PerfEventArray::try_from(&array).expect_err("an array is not a perf event array");
    assert!(
        error.to_string().contains("BPF_MAP_TYPE_PERF_EVENT_ARRAY"),
        "{error}"
    );
}

fn page_size() -> usize {
    bpfkit::sys::mmap::page_size()
}
