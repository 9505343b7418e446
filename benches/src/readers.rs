//! `readers`: the cost of consuming events from a ring buffer and from a perf buffer.
//!
//! The producer is `fixtures/readers.bpf.o`: an XDP program run with BPF_PROG_TEST_RUN and
//! `repeat = N`, which writes one fixed-size record (16 or 256 bytes: a u64 sequence number,
//! then zeros) per run to a `BPF_MAP_TYPE_RINGBUF` (`bpf_ringbuf_output`) or a
//! `BPF_MAP_TYPE_PERF_EVENT_ARRAY` (`bpf_perf_event_output`, `BPF_F_CURRENT_CPU`). The same
//! libbpf call (`bpf_prog_test_run_opts`) produces for every library, and the child pins itself to
//! CPU 0 (`sched_setaffinity`) first, so every perf record lands in CPU 0's ring (the test run
//! stays on the calling CPU) and the consumer reads where the producer wrote. Each library loads
//! the object itself (setting the ring buffer's size from N) and opens its reader once, before
//! the first round; for the perf buffer, on every online CPU (as libbpf's `perf_buffer__new` does).
//!
//! One round: produce N records (not timed), then time the draining of all N: bpfkit's
//! `RingBuf::next` loop / `PerfBuffer::read_events`; libbpf's `ring_buffer__consume` /
//! `perf_buffer__consume` with a callback; Aya's `RingBuf::next` loop /
//! `PerfEventArrayBuffer::for_each` (Aya 0.14's perf reader lends the samples in place, as two
//! slices when a sample wraps; it has no `read_events` into `BytesMut` any more). Every consumer
//! reads each record's first 8 bytes (the sequence number) into a sum and checks its length.
//! After each round the child checks that it read exactly N records of the expected length,
//! that the kernel reported none lost and that the sum is that of the N sequence numbers the
//! round wrote; any mismatch aborts the run. The rings are sized so that N records fit.
//!
//! A warm-up round comes first and is not counted (the first touch of the rings' pages); the
//! child prints the median and minimum of the `rounds` timed rounds and the checksum over all
//! of them, which the parent compares across libraries.

use std::ffi::{c_int, c_void, CString};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::process::Command;
use std::time::{Duration, Instant};

const OBJECT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/readers.bpf.o");
const LIBRARIES: [&str; 3] = ["bpfkit", "libbpf", "aya"];
const SIZES: [usize; 2] = [16, 256];
/// The CPU the child (producer and consumer) runs on.
const CPU: usize = 0;
/// The packet each test run hands the XDP program (it does not look at it).
const PACKET: [u8; 64] = [0; 64];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ring,
    Perf,
}

impl Kind {
    fn parse(name: &str) -> Option<Kind> {
        match name {
            "ring" => Some(Kind::Ring),
            "perf" => Some(Kind::Perf),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Ring => "ring",
            Kind::Perf => "perf",
        }
    }

    /// The producing program for records of `size` bytes.
    fn program(self, size: usize) -> String {
        format!("{}_{size}", self.name())
    }

    /// The length a reader sees for a `size`-byte record: exact in a ring buffer; in a perf
    /// buffer padded by the kernel so that length + 4 is a multiple of 8.
    fn sample_len(self, size: usize) -> usize {
        match self {
            Kind::Ring => size,
            Kind::Perf => (size + 4).div_ceil(8) * 8 - 4,
        }
    }
}

/// Ring buffer bytes for `records` records of `size` bytes (8-byte header, 8-aligned), as a
/// power of two.
fn ring_bytes(records: usize, size: usize) -> u32 {
    let needed = records * (8 + size.div_ceil(8) * 8);
    needed.max(4096).next_power_of_two() as u32
}

/// Perf ring data pages for `records` records of `size` bytes (8-byte header, u32 length, the
/// padded sample), as a power of two with at least a page to spare (the kernel never fills a
/// perf ring completely).
fn perf_pages(records: usize, size: usize) -> usize {
    let record = 8 + Kind::Perf.sample_len(size) + 4;
    let page = 4096;
    ((records * record).div_ceil(page) + 1).next_power_of_two()
}

/// What a consumer saw in one drain.
#[derive(Default, Debug, Clone, Copy)]
struct Tally {
    records: u64,
    /// Sum of each record's first 8 bytes (its sequence number).
    sum: u64,
    /// Records whose length was not the expected one.
    wrong_length: u64,
    /// Records the kernel reported lost.
    lost: u64,
    /// The expected length (set before the drain).
    expected_len: usize,
}

impl Tally {
    #[inline(always)]
    fn sample(&mut self, sample: &[u8]) {
        self.records += 1;
        if sample.len() != self.expected_len {
            self.wrong_length += 1;
        }
        if let Some(first) = sample.first_chunk::<8>() {
            self.sum = self.sum.wrapping_add(u64::from_ne_bytes(*first));
        }
    }

    /// A sample given as two pieces (Aya's, when it wraps around the end of the ring).
    #[inline(always)]
    fn split_sample(&mut self, head: &[u8], tail: &[u8]) {
        if tail.is_empty() {
            return self.sample(head);
        }
        self.records += 1;
        if head.len() + tail.len() != self.expected_len {
            self.wrong_length += 1;
        }
        let mut first = [0u8; 8];
        for (byte, value) in first.iter_mut().zip(head.iter().chain(tail)) {
            *byte = *value;
        }
        self.sum = self.sum.wrapping_add(u64::from_ne_bytes(first));
    }
}

/// `readers [records] [rounds]`: one child per library, map kind and record size.
pub fn parent(args: &[String]) {
    let records: usize = args.first().and_then(|r| r.parse().ok()).unwrap_or(100_000);
    let rounds: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(20);
    println!(
        "consuming {records} records produced by BPF_PROG_TEST_RUN (repeat = {records}) on CPU \
         {CPU}; median of {rounds} rounds after a warm-up, one fresh process per library"
    );
    println!(
        "{:>5} {:>5}  {:>7}  {:>10}  {:>10}  {:>9}  {:>10}  {:>9}  {:>9}",
        "map",
        "bytes",
        "library",
        "median ms",
        "min ms",
        "ns/record",
        "Mrecords/s",
        "/ libbpf",
        "/ aya"
    );
    let exe = std::env::current_exe().expect("own path");
    let mut failed = false;
    for kind in [Kind::Ring, Kind::Perf] {
        for size in SIZES {
            let mut results: Vec<(&str, Duration, Duration, u64)> = Vec::new();
            for library in LIBRARIES {
                let output = Command::new(&exe)
                    .args([
                        "child-readers",
                        library,
                        kind.name(),
                        &size.to_string(),
                        &records.to_string(),
                        &rounds.to_string(),
                    ])
                    .output()
                    .expect("run child");
                let text = String::from_utf8_lossy(&output.stdout);
                if !output.status.success() {
                    println!(
                        "{:>5} {size:>5}  {library:>7}  FAILED: {}{}",
                        kind.name(),
                        text.trim(),
                        String::from_utf8_lossy(&output.stderr).trim()
                    );
                    failed = true;
                    continue;
                }
                let fields: Vec<u64> = text
                    .split_whitespace()
                    .filter_map(|f| f.parse().ok())
                    .collect();
                let [median, min, checksum] = fields[..] else {
                    println!("{library}: unexpected output {text:?}");
                    failed = true;
                    continue;
                };
                results.push((
                    library,
                    Duration::from_nanos(median),
                    Duration::from_nanos(min),
                    checksum,
                ));
            }
            if let Some((_, _, _, first)) = results.first() {
                if results.iter().any(|(_, _, _, sum)| sum != first) {
                    println!("checksums differ between libraries: {results:?}");
                    failed = true;
                }
            }
            let of = |name: &str| {
                results
                    .iter()
                    .find(|(l, ..)| *l == name)
                    .map(|(_, median, ..)| median.as_secs_f64())
            };
            for (library, median, min, _) in &results {
                let per_record = median.as_secs_f64() * 1e9 / records as f64;
                let ratio = |other: Option<f64>| match (library, other) {
                    (&"bpfkit", Some(other)) => format!("{:.2}x", median.as_secs_f64() / other),
                    _ => String::new(),
                };
                println!(
                    "{:>5} {size:>5}  {library:>7}  {:>10.3}  {:>10.3}  {:>9.2}  {:>10.1}  {:>9}  {:>9}",
                    kind.name(),
                    median.as_secs_f64() * 1e3,
                    min.as_secs_f64() * 1e3,
                    per_record,
                    1e3 / per_record,
                    ratio(of("libbpf")),
                    ratio(of("aya")),
                );
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}

/// A library's reader, opened on the loaded object, and the producer.
struct Setup {
    /// Drains the reader into the tally. It owns the loaded object (programs, maps, readers),
    /// so everything stays open as long as it lives.
    consume: Box<dyn FnMut(&mut Tally)>,
    /// The producing program, valid while `consume` lives.
    program_fd: RawFd,
}

/// `child-readers library kind size records rounds`: prints "median_ns min_ns checksum".
pub fn child(args: &[String]) {
    let library = args.first().map(String::as_str).unwrap_or("");
    let kind = args.get(1).and_then(|k| Kind::parse(k)).unwrap_or_else(|| {
        eprintln!("kind: ring or perf");
        std::process::exit(2)
    });
    let size: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(16);
    let records: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(100_000);
    let rounds: usize = args.get(4).and_then(|r| r.parse().ok()).unwrap_or(20);
    if !SIZES.contains(&size) || records == 0 || records > i32::MAX as usize {
        eprintln!("size: 16 or 256; records: 1 to {}", i32::MAX);
        std::process::exit(2);
    }
    pin_to_cpu(CPU);
    let bytes = std::fs::read(OBJECT).unwrap_or_else(|err| fail(format!("{OBJECT}: {err}")));
    let setup = match library {
        "bpfkit" => bpfkit_setup(&bytes, kind, size, records),
        "libbpf" => libbpf_setup(&bytes, kind, size, records),
        "aya" => aya_setup(&bytes, kind, size, records),
        other => fail(format!("unknown library {other}")),
    };
    let Setup {
        mut consume,
        program_fd,
    } = setup;
    let expected_len = kind.sample_len(size);
    let mut times = Vec::with_capacity(rounds);
    let mut checksum = 0u64;
    let mut sequence = 0u64;
    for round in 0..=rounds {
        produce(program_fd, records);
        let mut tally = Tally {
            expected_len,
            ..Tally::default()
        };
        let start = Instant::now();
        consume(&mut tally);
        let elapsed = start.elapsed();
        // Sequence numbers first..=last were written this round.
        let n = records as u64;
        let first = sequence + 1;
        let expected_sum = n.wrapping_mul(first).wrapping_add(n * (n - 1) / 2);
        sequence += n;
        if tally.records != n
            || tally.lost != 0
            || tally.wrong_length != 0
            || tally.sum != expected_sum
        {
            fail(format!(
                "{library} {} {size}: round {round}: read {} records (expected {n}), {} lost, \
                 {} of the wrong length (expected {expected_len} bytes), sum {} (expected \
                 {expected_sum})",
                kind.name(),
                tally.records,
                tally.lost,
                tally.wrong_length,
                tally.sum,
            ));
        }
        checksum = checksum.wrapping_add(tally.sum);
        if round > 0 {
            times.push(elapsed);
        }
    }
    times.sort();
    let median = times.get(times.len() / 2).copied().unwrap_or_default();
    let min = times.first().copied().unwrap_or_default();
    println!("{} {} {checksum}", median.as_nanos(), min.as_nanos());
}

fn fail(message: String) -> ! {
    eprintln!("{message}");
    std::process::exit(1);
}

fn pin_to_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET writes inside it; sched_setaffinity
    // reads `size_of::<cpu_set_t>()` bytes of it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            fail(format!(
                "sched_setaffinity(CPU {cpu}): {}",
                std::io::Error::last_os_error()
            ));
        }
    }
}

/// Runs the producer `records` times (one record each), through libbpf's wrapper of
/// BPF_PROG_TEST_RUN for every library.
fn produce(program_fd: RawFd, records: usize) {
    // SAFETY: the options struct is zero-initialised with its size set, as libbpf's OPTS
    // macros do; `data_in` points to PACKET (static) for the call; no output buffers.
    unsafe {
        let mut opts: libbpf_sys::bpf_test_run_opts = std::mem::zeroed();
        opts.sz = std::mem::size_of::<libbpf_sys::bpf_test_run_opts>() as _;
        opts.data_in = PACKET.as_ptr().cast();
        opts.data_size_in = PACKET.len() as u32;
        opts.repeat = records as c_int;
        let err = libbpf_sys::bpf_prog_test_run_opts(program_fd, &mut opts);
        if err != 0 {
            fail(format!(
                "BPF_PROG_TEST_RUN: {}",
                std::io::Error::from_raw_os_error(-err)
            ));
        }
    }
}

fn bpfkit_setup(bytes: &[u8], kind: Kind, size: usize, records: usize) -> Setup {
    use bpfkit::maps::{PerfEventArray, RingBuf};
    let mut ebpf = bpfkit::EbpfLoader::new()
        .set_max_entries("ring", ring_bytes(records, size))
        .load(bytes)
        .unwrap_or_else(|err| fail(format!("bpfkit load: {err}")));
    let program = kind.program(size);
    let program_fd = ebpf
        .program(&program)
        .unwrap_or_else(|| fail(format!("no program {program}")))
        .data()
        .fd()
        .unwrap_or_else(|err| fail(err.to_string()))
        .as_raw_fd();
    let consume: Box<dyn FnMut(&mut Tally)> = match kind {
        Kind::Ring => {
            let map = ebpf.take_map("ring").expect("map `ring`");
            let mut ring =
                RingBuf::try_from(map).unwrap_or_else(|err| fail(format!("RingBuf: {err}")));
            Box::new(move |tally: &mut Tally| {
                while let Some(sample) = ring.next() {
                    tally.sample(&sample);
                }
            })
        }
        Kind::Perf => {
            let array = PerfEventArray::try_from(ebpf.map("perf").expect("map `perf`"))
                .unwrap_or_else(|err| fail(format!("PerfEventArray: {err}")));
            let mut buffers = array
                .open_all(perf_pages(records, size))
                .unwrap_or_else(|err| fail(format!("open_all: {err}")));
            Box::new(move |tally: &mut Tally| {
                let events = buffers.read_events(|_cpu, sample| tally.sample(sample));
                tally.lost += events.lost;
            })
        }
    };
    // The program and the perf event array stay open as long as the consumer.
    let mut ebpf = Some(ebpf);
    let mut consume = consume;
    Setup {
        consume: Box::new(move |tally| {
            let _keep = &mut ebpf;
            consume(tally)
        }),
        program_fd,
    }
}

/// libbpf's object and reader, freed on drop.
struct Libbpf {
    object: *mut libbpf_sys::bpf_object,
    ring: *mut libbpf_sys::ring_buffer,
    perf: *mut libbpf_sys::perf_buffer,
}

impl Drop for Libbpf {
    fn drop(&mut self) {
        // SAFETY: each pointer is null or came from its constructor, and is freed once, here,
        // readers before the object whose maps they read.
        unsafe {
            if !self.ring.is_null() {
                libbpf_sys::ring_buffer__free(self.ring);
            }
            if !self.perf.is_null() {
                libbpf_sys::perf_buffer__free(self.perf);
            }
            libbpf_sys::bpf_object__close(self.object);
        }
    }
}

// The callbacks' context is a heap cell holding a pointer to the tally of the drain in
// progress (libbpf fixes the context when the reader is created).

unsafe extern "C" fn libbpf_ring_sample(
    ctx: *mut c_void,
    data: *mut c_void,
    size: libbpf_sys::size_t,
) -> c_int {
    // SAFETY: ctx is the cell; `consume` points it at a live tally for the drain; libbpf hands
    // `size` readable bytes.
    unsafe {
        let tally = &mut **ctx.cast::<*mut Tally>();
        tally.sample(std::slice::from_raw_parts(data.cast::<u8>(), size as usize));
    }
    0
}

unsafe extern "C" fn libbpf_perf_sample(
    ctx: *mut c_void,
    _cpu: c_int,
    data: *mut c_void,
    size: u32,
) {
    // SAFETY: as in libbpf_ring_sample.
    unsafe {
        let tally = &mut **ctx.cast::<*mut Tally>();
        tally.sample(std::slice::from_raw_parts(data.cast::<u8>(), size as usize));
    }
}

unsafe extern "C" fn libbpf_perf_lost(ctx: *mut c_void, _cpu: c_int, count: u64) {
    // SAFETY: as in libbpf_ring_sample.
    unsafe {
        let tally = &mut **ctx.cast::<*mut Tally>();
        tally.lost += count;
    }
}

fn libbpf_setup(bytes: &[u8], kind: Kind, size: usize, records: usize) -> Setup {
    use libbpf_sys as sys;
    // SAFETY: libbpf silences its logging (no callback).
    unsafe {
        sys::libbpf_set_print(None);
    }
    let program = CString::new(kind.program(size)).expect("name");
    // SAFETY: libbpf's documented API; every returned pointer is checked; the object and the
    // readers are freed once by `Libbpf`'s drop. The perf buffer's context is a pointer to a
    // heap cell holding the current tally pointer, set by `consume` before each drain; the ring
    // buffer's likewise.
    unsafe {
        let object =
            sys::bpf_object__open_mem(bytes.as_ptr().cast(), bytes.len() as _, std::ptr::null());
        if object.is_null() {
            fail(format!(
                "bpf_object__open_mem: {}",
                std::io::Error::last_os_error()
            ));
        }
        let mut state = Libbpf {
            object,
            ring: std::ptr::null_mut(),
            perf: std::ptr::null_mut(),
        };
        let ring_name = CString::new("ring").expect("name");
        let ring_map = sys::bpf_object__find_map_by_name(object, ring_name.as_ptr());
        if ring_map.is_null()
            || sys::bpf_map__set_max_entries(ring_map, ring_bytes(records, size)) != 0
        {
            fail("libbpf: cannot size map `ring`".into());
        }
        let err = sys::bpf_object__load(object);
        if err != 0 {
            fail(format!(
                "bpf_object__load: {}",
                std::io::Error::from_raw_os_error(-err)
            ));
        }
        let prog = sys::bpf_object__find_program_by_name(object, program.as_ptr());
        if prog.is_null() {
            fail(format!("no program {program:?}"));
        }
        let program_fd = sys::bpf_program__fd(prog);
        let cell: *mut *mut Tally = Box::into_raw(Box::new(std::ptr::null_mut()));
        match kind {
            Kind::Ring => {
                let fd = sys::bpf_map__fd(ring_map);
                state.ring = sys::ring_buffer__new(
                    fd,
                    Some(libbpf_ring_sample),
                    cell.cast(),
                    std::ptr::null(),
                );
                if state.ring.is_null() {
                    fail(format!(
                        "ring_buffer__new: {}",
                        std::io::Error::last_os_error()
                    ));
                }
            }
            Kind::Perf => {
                let perf_name = CString::new("perf").expect("name");
                let fd = sys::bpf_object__find_map_fd_by_name(object, perf_name.as_ptr());
                state.perf = sys::perf_buffer__new(
                    fd,
                    perf_pages(records, size) as _,
                    Some(libbpf_perf_sample),
                    Some(libbpf_perf_lost),
                    cell.cast(),
                    std::ptr::null(),
                );
                if state.perf.is_null() {
                    fail(format!(
                        "perf_buffer__new: {}",
                        std::io::Error::last_os_error()
                    ));
                }
            }
        }
        Setup {
            consume: Box::new(move |tally: &mut Tally| {
                // The whole `state` (not just its pointers) lives as long as the closure.
                let state = &state;
                *cell = tally;
                let consumed = if !state.ring.is_null() {
                    sys::ring_buffer__consume(state.ring)
                } else {
                    sys::perf_buffer__consume(state.perf)
                };
                if consumed < 0 {
                    fail(format!(
                        "libbpf consume: {}",
                        std::io::Error::from_raw_os_error(-consumed)
                    ));
                }
                *cell = std::ptr::null_mut();
            }),
            program_fd,
        }
    }
}

fn aya_setup(bytes: &[u8], kind: Kind, size: usize, records: usize) -> Setup {
    use aya::maps::perf::PerfEvent;
    use aya::maps::{PerfEventArray, RingBuf};
    use aya::programs::Xdp;
    let mut ebpf = aya::EbpfLoader::new()
        .map_max_entries("ring", ring_bytes(records, size))
        .load(bytes)
        .unwrap_or_else(|err| fail(format!("aya load: {err}")));
    let program = kind.program(size);
    let xdp: &mut Xdp = ebpf
        .program_mut(&program)
        .unwrap_or_else(|| fail(format!("no program {program}")))
        .try_into()
        .unwrap_or_else(|err| fail(format!("{program}: {err}")));
    xdp.load()
        .unwrap_or_else(|err| fail(format!("Xdp::load: {err}")));
    let program_fd = xdp
        .fd()
        .unwrap_or_else(|err| fail(err.to_string()))
        .as_fd()
        .as_raw_fd();
    let consume: Box<dyn FnMut(&mut Tally)> = match kind {
        Kind::Ring => {
            let map = ebpf.take_map("ring").expect("map `ring`");
            let mut ring =
                RingBuf::try_from(map).unwrap_or_else(|err| fail(format!("RingBuf: {err}")));
            Box::new(move |tally: &mut Tally| {
                while let Some(sample) = ring.next() {
                    tally.sample(&sample);
                }
            })
        }
        Kind::Perf => {
            let map = ebpf.take_map("perf").expect("map `perf`");
            let mut array = PerfEventArray::try_from(map)
                .unwrap_or_else(|err| fail(format!("PerfEventArray: {err}")));
            let cpus = aya::util::online_cpus()
                .unwrap_or_else(|(path, err)| fail(format!("{path}: {err}")));
            let mut buffers = cpus
                .into_iter()
                .map(|cpu| {
                    array
                        .open(cpu, Some(perf_pages(records, size)))
                        .unwrap_or_else(|err| fail(format!("PerfEventArray::open({cpu}): {err}")))
                })
                .collect::<Vec<_>>();
            Box::new(move |tally: &mut Tally| {
                for buffer in &mut buffers {
                    buffer.for_each(|event| match event {
                        PerfEvent::Sample { head, tail } => tally.split_sample(head, tail),
                        PerfEvent::Lost { count } => tally.lost += count,
                    });
                }
            })
        }
    };
    let mut ebpf = Some(ebpf);
    let mut consume = consume;
    Setup {
        consume: Box::new(move |tally| {
            let _keep = &mut ebpf;
            consume(tally)
        }),
        program_fd,
    }
}
