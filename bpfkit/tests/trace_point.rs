//! Tracepoint attachment through `bpfkit::programs::TracePoint`: the Rust program
//! `tracepoint_events` counts this thread's `getppid` calls (`syscalls/sys_enter_getppid`) in its
//! `stats` array; the count follows the calls while attached and stops growing once the link is
//! dropped. The tracefs lookup mounts (and unmounts) a private instance when none is mounted.

#[macro_use]
mod common;

use std::os::fd::AsFd;

use bpfkit::maps::Array;
use bpfkit::programs::{tracepoint_id, ProgramError, TracePoint, TracepointError};
use bpfkit::{Ebpf, EbpfLoader};

/// Index of the "events written" counter in `stats` (`bpfkit_common::tracepoint_stats::WRITTEN`).
const WRITTEN: u32 = bpfkit_common::tracepoint_stats::WRITTEN;

fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions and cannot fail.
    let tid = unsafe { libc::gettid() };
    u32::try_from(tid).expect("a positive tid")
}

fn getppid_times(count: usize) {
    for _ in 0..count {
        // SAFETY: getppid has no preconditions.
        unsafe { libc::getppid() };
    }
}

/// Loads `tracepoint_events` reporting this thread.
fn load() -> Ebpf {
    EbpfLoader::new()
        .set_global("target_tid", &gettid(), true)
        .load(&common::object("rust/tracepoint_events.bpf.o"))
        .expect("loading rust/tracepoint_events.bpf.o")
}

fn written(ebpf: &Ebpf) -> u64 {
    let stats: Array<_, u64> = Array::try_from(ebpf.map("stats").expect("map")).expect("array");
    stats.get(WRITTEN).expect("stats[WRITTEN]")
}

/// Our private tracefs mounts still present (none may be left behind).
fn private_tracefs_mounts() -> Vec<String> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let marker = format!("bpfkit-tracefs-{}-", std::process::id());
    mounts
        .lines()
        .filter(|line| line.contains(&marker))
        .map(str::to_string)
        .collect()
}

#[test]
fn tracepoint_attach_counts_calls_and_drop_detaches() {
    require_root!();
    const CALLS: usize = 7;
    let mut ebpf = load();
    let program: &mut TracePoint = ebpf
        .program_mut("getppid_events")
        .expect("program")
        .try_into()
        .expect("a tracepoint program");
    let link = program
        .attach("syscalls", "sys_enter_getppid")
        .expect("attaching to syscalls/sys_enter_getppid");
    assert!(
        private_tracefs_mounts().is_empty(),
        "the private tracefs was unmounted after reading the id"
    );
    let info = link
        .fd_link()
        .expect("this kernel (5.15+) makes a perf bpf_link")
        .info()
        .expect("link info");
    assert_eq!(
        info.link_type,
        bpfkit::obj::consts::BPF_LINK_TYPE_PERF_EVENT
    );
    getppid_times(CALLS);
    assert_eq!(written(&ebpf), CALLS as u64);
    drop(link);
    getppid_times(CALLS);
    assert_eq!(
        written(&ebpf),
        CALLS as u64,
        "no growth after the link is dropped"
    );
}

/// The legacy path (kernels before 5.15): `PERF_EVENT_IOC_SET_BPF` + `ENABLE` on the perf event,
/// detached when the event's fd closes.
#[test]
fn tracepoint_legacy_perf_ioctl_attach_counts_and_detaches() {
    require_root!();
    const CALLS: usize = 4;
    let ebpf = load();
    let program = ebpf.program("getppid_events").expect("program");
    let id = tracepoint_id("syscalls", "sys_enter_getppid").expect("tracepoint id");
    let perf_event = bpfkit::sys::perf_event_open_tracepoint(id).expect("perf_event_open");
    bpfkit::sys::perf_event_set_bpf(perf_event.as_fd(), program.data().fd().expect("loaded"))
        .expect("PERF_EVENT_IOC_SET_BPF");
    bpfkit::sys::perf_event_enable(perf_event.as_fd()).expect("PERF_EVENT_IOC_ENABLE");
    getppid_times(CALLS);
    assert_eq!(written(&ebpf), CALLS as u64);
    drop(perf_event);
    getppid_times(CALLS);
    assert_eq!(
        written(&ebpf),
        CALLS as u64,
        "no growth after the perf event closed"
    );
}

#[test]
fn unknown_tracepoints_are_named_in_the_error() {
    require_root!();
    let error =
        tracepoint_id("syscalls", "sys_enter_no_such_call").expect_err("no such tracepoint");
    assert!(
        matches!(
            error,
            ProgramError::Tracepoint(TracepointError::NotFound { ref tracepoint, .. })
                if tracepoint == "syscalls/sys_enter_no_such_call"
        ),
        "{error}"
    );
    assert!(private_tracefs_mounts().is_empty());
    let error = tracepoint_id("..", "x").expect_err("a path escape");
    assert!(matches!(
        error,
        ProgramError::Tracepoint(TracepointError::BadName { .. })
    ));
}

#[test]
fn other_program_types_are_not_tracepoints() {
    require_root!();
    let mut ebpf = EbpfLoader::new()
        .load(&common::object("rust/xdp_count.bpf.o"))
        .expect("loading rust/xdp_count.bpf.o");
    let program = ebpf.program_mut("xdp_count").expect("program");
    let result: Result<&mut TracePoint, _> = program.try_into();
    assert!(matches!(result, Err(ProgramError::WrongType { .. })));
}

/// The README's showcase object (`rust/execsnoop.bpf.o`): a `/bin/true` this test starts shows
/// up as a ring buffer event with its pid, our pid as parent (read through Rust CO-RE), its comm
/// and file name, and as an info log record.
#[test]
fn execsnoop_reports_a_child_exec_with_a_log_record() {
    require_root!();
    use bpfkit::log::{level_value, EbpfLogger, LOG_LEVEL_GLOBAL};
    let mut ebpf = EbpfLoader::new()
        .set_global(LOG_LEVEL_GLOBAL, &level_value(log::LevelFilter::Info), true)
        .load(&common::object("rust/execsnoop.bpf.o"))
        .expect("loading rust/execsnoop.bpf.o");
    let mut logger = EbpfLogger::init(&mut ebpf).expect("the log buffer");
    let mut events =
        bpfkit::maps::RingBuf::try_from(ebpf.take_map("events").expect("events")).expect("ring");
    let program: &mut TracePoint = ebpf
        .program_mut("execsnoop")
        .expect("program")
        .try_into()
        .expect("a tracepoint program");
    let link = program
        .attach("sched", "sched_process_exec")
        .expect("attaching");
    let child = std::process::Command::new("/bin/true")
        .spawn()
        .expect("spawning /bin/true");
    let child_pid = child.id();
    let status = child.wait_with_output().expect("waiting").status;
    assert!(status.success());
    drop(link);

    let mut found = false;
    while let Some(record) = events.next() {
        let bytes: &[u8] = &record;
        assert_eq!(bytes.len(), 280, "ExecEvent is 280 bytes");
        let pid = u32::from_ne_bytes(bytes[0..4].try_into().expect("4 bytes"));
        if pid != child_pid {
            continue;
        }
        let ppid = u32::from_ne_bytes(bytes[4..8].try_into().expect("4 bytes"));
        assert_eq!(ppid, std::process::id(), "the parent is this test process");
        assert!(
            bytes[8..24].starts_with(b"true\0"),
            "comm {:?}",
            &bytes[8..24]
        );
        assert!(bytes[24..].starts_with(b"/bin/true\0"), "file name");
        found = true;
    }
    assert!(found, "an event for pid {child_pid}");
    let lines = logger.drain_to_strings();
    let expected = format!(
        "INFO execsnoop: exec pid {child_pid} ppid {} comm true",
        std::process::id()
    );
    assert!(lines.contains(&expected), "{expected:?} not in {lines:?}");
}
