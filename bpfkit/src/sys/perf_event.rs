//! `perf_event_open(2)` for tracepoints and for the `PERF_COUNT_SW_BPF_OUTPUT` events behind
//! perf buffers, the perf ioctls that attach a BPF program to a perf
//! event on kernels without perf `bpf_link`s, and the private tracefs mount used to read a
//! tracepoint's id when the machine has no tracefs mounted.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

/// `PERF_TYPE_TRACEPOINT`: `config` is a tracepoint id from tracefs.
const PERF_TYPE_TRACEPOINT: u32 = 2;
/// `PERF_TYPE_SOFTWARE`: `config` is a `PERF_COUNT_SW_*` event.
const PERF_TYPE_SOFTWARE: u32 = 1;
/// `PERF_COUNT_SW_BPF_OUTPUT` (4.4): the event `bpf_perf_event_output` writes samples to.
const PERF_COUNT_SW_BPF_OUTPUT: u64 = 10;
/// `PERF_SAMPLE_RAW`: each sample carries the bytes the program passed.
const PERF_SAMPLE_RAW: u64 = 1 << 10;
/// `PERF_FLAG_FD_CLOEXEC`.
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;
/// `PERF_ATTR_SIZE_VER5` (4.1): every kernel that can run BPF on tracepoints accepts it, and the
/// fields set here all lie within it.
const PERF_ATTR_SIZE: usize = 112;
/// `PERF_EVENT_IOC_ENABLE`, `_IO('$', 0)`.
const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2400;
/// `PERF_EVENT_IOC_DISABLE`, `_IO('$', 1)`.
const PERF_EVENT_IOC_DISABLE: libc::c_ulong = 0x2401;
/// `PERF_EVENT_IOC_SET_BPF`, `_IOW('$', 8, __u32)` (4.1).
const PERF_EVENT_IOC_SET_BPF: libc::c_ulong = 0x4004_2408;

/// The bytes of a `struct perf_event_attr` for tracepoint `id`, counting every hit: type,
/// size, config = id, sample_period = 1, wakeup_events = 1 (what libbpf sets too).
fn tracepoint_attr(id: u64) -> [u8; PERF_ATTR_SIZE] {
    let mut attr = [0u8; PERF_ATTR_SIZE];
    // Offsets from `struct perf_event_attr`: type @0, size @4, config @8, sample_period @16,
    // wakeup_events @48. The array is 112 bytes, so every range is in bounds.
    attr[0..4].copy_from_slice(&PERF_TYPE_TRACEPOINT.to_ne_bytes());
    attr[4..8].copy_from_slice(&(PERF_ATTR_SIZE as u32).to_ne_bytes());
    attr[8..16].copy_from_slice(&id.to_ne_bytes());
    attr[16..24].copy_from_slice(&1u64.to_ne_bytes());
    attr[48..52].copy_from_slice(&1u32.to_ne_bytes());
    attr
}

/// The bytes of a `struct perf_event_attr` for a BPF output event: software event
/// `PERF_COUNT_SW_BPF_OUTPUT`, sample_period = 1, sample_type = `PERF_SAMPLE_RAW`, and a wakeup
/// every `wakeup_events` samples (at least 1). These are the settings of libbpf's perf_buffer.
fn bpf_output_attr(wakeup_events: u32) -> [u8; PERF_ATTR_SIZE] {
    let mut attr = [0u8; PERF_ATTR_SIZE];
    // Offsets from `struct perf_event_attr`: type @0, size @4, config @8, sample_period @16,
    // sample_type @24, wakeup_events @48; all inside the 112 bytes.
    attr[0..4].copy_from_slice(&PERF_TYPE_SOFTWARE.to_ne_bytes());
    attr[4..8].copy_from_slice(&(PERF_ATTR_SIZE as u32).to_ne_bytes());
    attr[8..16].copy_from_slice(&PERF_COUNT_SW_BPF_OUTPUT.to_ne_bytes());
    attr[16..24].copy_from_slice(&1u64.to_ne_bytes());
    attr[24..32].copy_from_slice(&PERF_SAMPLE_RAW.to_ne_bytes());
    attr[48..52].copy_from_slice(&wakeup_events.max(1).to_ne_bytes());
    attr
}

/// Opens a `PERF_COUNT_SW_BPF_OUTPUT` event for every process (pid -1) on `cpu`, close-on-exec:
/// the event a perf event array slot holds, and whose ring (mmap the fd) receives the samples
/// programs write with `bpf_perf_event_output` on that CPU. Readers polling the fd are woken
/// every `wakeup_events` samples (0 counts as 1).
pub fn perf_event_open_bpf_output(cpu: u32, wakeup_events: u32) -> io::Result<OwnedFd> {
    let attr = bpf_output_attr(wakeup_events);
    let cpu = libc::c_int::try_from(cpu)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "CPU number out of range"))?;
    // SAFETY: `attr` is a zero-initialised `perf_event_attr` whose `size` field states its real
    // length, alive for the whole call; the kernel only reads it. pid -1 with a given CPU and
    // no group fd (-1) is the valid "every process on this CPU" combination.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr.as_ptr(),
            -1 as libc::pid_t,
            cpu,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    super::syscall::owned_fd(fd, "perf_event_open").map_err(|e| e.source)
}

/// Opens a perf event on tracepoint `id` for every process (pid -1) on CPU 0, close-on-exec.
/// A BPF program attached to a tracepoint event runs on every CPU whatever the event's CPU, so one
/// event is enough.
pub fn perf_event_open_tracepoint(id: u64) -> io::Result<OwnedFd> {
    let attr = tracepoint_attr(id);
    // SAFETY: `attr` is a zero-initialised `perf_event_attr` whose `size` field states its real
    // length, alive for the whole call; the kernel only reads it (and copies at most `size`
    // bytes). pid -1 with cpu 0 and no group fd (-1) is a valid combination for a tracepoint.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr.as_ptr(),
            -1 as libc::pid_t,
            0 as libc::c_int,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| io::Error::other("perf_event_open: fd out of range"))?;
    // SAFETY: the kernel just returned this fd and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Runs one perf ioctl that takes an integer argument.
fn perf_ioctl(
    perf_event: BorrowedFd<'_>,
    request: libc::c_ulong,
    arg: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `perf_event` is a live fd borrowed for the call; the three requests used here
    // take an integer by value (SET_BPF: a program fd; ENABLE/DISABLE: 0), no pointer.
    let rc = unsafe { libc::ioctl(perf_event.as_raw_fd(), request as _, arg) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `PERF_EVENT_IOC_SET_BPF`: attaches `program` to the perf event (the legacy path, before perf
/// `bpf_link`s in 5.15). The program stays attached until the perf event fd closes.
pub fn perf_event_set_bpf(perf_event: BorrowedFd<'_>, program: BorrowedFd<'_>) -> io::Result<()> {
    perf_ioctl(perf_event, PERF_EVENT_IOC_SET_BPF, program.as_raw_fd())
}

/// `PERF_EVENT_IOC_ENABLE`.
pub fn perf_event_enable(perf_event: BorrowedFd<'_>) -> io::Result<()> {
    perf_ioctl(perf_event, PERF_EVENT_IOC_ENABLE, 0)
}

/// `PERF_EVENT_IOC_DISABLE`.
pub fn perf_event_disable(perf_event: BorrowedFd<'_>) -> io::Result<()> {
    perf_ioctl(perf_event, PERF_EVENT_IOC_DISABLE, 0)
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// Mounts a new tracefs instance on the existing directory `target` (needs `CAP_SYS_ADMIN`).
pub fn mount_tracefs(target: &Path) -> io::Result<()> {
    let target = c_path(target)?;
    let fs_type = c"tracefs";
    // SAFETY: every pointer is a valid NUL-terminated string alive for the call; tracefs takes
    // no mount data, so the null data pointer is allowed.
    let rc = unsafe {
        libc::mount(
            fs_type.as_ptr(),
            target.as_ptr(),
            fs_type.as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Lazily unmounts `target` (`MNT_DETACH`: nothing of ours keeps files open there, but another
/// process might have wandered in).
pub fn unmount(target: &Path) -> io::Result<()> {
    let target = c_path(target)?;
    // SAFETY: a valid NUL-terminated path alive for the call.
    let rc = unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracepoint_attr_layout() {
        let attr = tracepoint_attr(0x1234);
        assert_eq!(u32::from_ne_bytes(attr[0..4].try_into().unwrap()), 2);
        assert_eq!(u32::from_ne_bytes(attr[4..8].try_into().unwrap()), 112);
        assert_eq!(u64::from_ne_bytes(attr[8..16].try_into().unwrap()), 0x1234);
        assert_eq!(u64::from_ne_bytes(attr[16..24].try_into().unwrap()), 1);
        assert_eq!(u32::from_ne_bytes(attr[48..52].try_into().unwrap()), 1);
    }

    #[test]
    fn bpf_output_attr_layout() {
        let attr = bpf_output_attr(0);
        assert_eq!(u32::from_ne_bytes(attr[0..4].try_into().unwrap()), 1);
        assert_eq!(u64::from_ne_bytes(attr[8..16].try_into().unwrap()), 10);
        assert_eq!(u64::from_ne_bytes(attr[16..24].try_into().unwrap()), 1);
        assert_eq!(
            u64::from_ne_bytes(attr[24..32].try_into().unwrap()),
            1 << 10
        );
        assert_eq!(
            u32::from_ne_bytes(attr[48..52].try_into().unwrap()),
            1,
            "0 wakes as 1"
        );
        let attr = bpf_output_attr(16);
        assert_eq!(u32::from_ne_bytes(attr[48..52].try_into().unwrap()), 16);
    }
}
