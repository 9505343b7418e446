//! Socket filters, the memlock rlimit, possible CPUs, interface indexes.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::OnceLock;

/// `SO_ATTACH_BPF`: attaches a socket filter program to a socket.
pub fn attach_socket_filter(socket: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> io::Result<()> {
    let prog_fd: libc::c_int = prog.as_raw_fd();
    // SAFETY: the option value is a c_int that lives across the call, with its exact size.
    let ret = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_BPF,
            &prog_fd as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `SO_DETACH_BPF`: removes the socket's filter program.
pub fn detach_socket_filter(socket: BorrowedFd<'_>) -> io::Result<()> {
    let unused: libc::c_int = 0;
    // SAFETY: as above; the kernel ignores the value for SO_DETACH_BPF.
    let ret = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_DETACH_BPF,
            &unused as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Raises `RLIMIT_MEMLOCK` to infinity, for kernels before 5.11 which charged BPF memory to it.
///
/// Opt-in only: bpfkit never calls it. Newer kernels account BPF memory to the memory cgroup,
/// and raising the limit needs `CAP_SYS_RESOURCE`.
pub fn bump_memlock_rlimit() -> io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: `limit` is a valid rlimit for the duration of the call.
    let ret = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &limit) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Parses a kernel CPU list such as `"0-3"`, `"0,2-3"` or `"0"` and counts the CPUs in it.
/// The kernel copies one per-CPU value slot per possible CPU (`for_each_possible_cpu`), so the
/// count, not the highest id, sizes per-CPU buffers.
pub(crate) fn parse_cpu_list(text: &str) -> io::Result<usize> {
    let invalid = || io::Error::new(io::ErrorKind::InvalidData, format!("bad CPU list {text:?}"));
    let mut count: usize = 0;
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let in_part = match part.split_once('-') {
            Some((start, end)) => {
                let start: usize = start.trim().parse().map_err(|_| invalid())?;
                let end: usize = end.trim().parse().map_err(|_| invalid())?;
                end.checked_sub(start)
                    .and_then(|d| d.checked_add(1))
                    .ok_or_else(invalid)?
            }
            None => {
                let _: usize = part.trim().parse().map_err(|_| invalid())?;
                1
            }
        };
        count = count.checked_add(in_part).ok_or_else(invalid)?;
    }
    if count == 0 {
        return Err(invalid());
    }
    Ok(count)
}

/// Most CPU ids a CPU list may name: the kernel's `NR_CPUS` tops out at 8192, so a longer list
/// is garbage, refused rather than allocated.
const MAX_CPU_IDS: usize = 1 << 16;

/// Parses a kernel CPU list (`"0-3"`, `"0,2-3"`) into its CPU ids, in order.
pub(crate) fn parse_cpu_ids(text: &str) -> io::Result<Vec<u32>> {
    let invalid = || io::Error::new(io::ErrorKind::InvalidData, format!("bad CPU list {text:?}"));
    let mut ids = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (start, end) = match part.split_once('-') {
            Some((start, end)) => (start, end),
            None => (part, part),
        };
        let start: u32 = start.trim().parse().map_err(|_| invalid())?;
        let end: u32 = end.trim().parse().map_err(|_| invalid())?;
        if end < start || (end - start) as usize >= MAX_CPU_IDS - ids.len().min(MAX_CPU_IDS) {
            return Err(invalid());
        }
        ids.extend(start..=end);
    }
    if ids.is_empty() {
        return Err(invalid());
    }
    Ok(ids)
}

/// The ids of the online CPUs (`/sys/devices/system/cpu/online`), read afresh on every call
/// since CPUs can come and go. Perf buffers open one event per online CPU: `perf_event_open`
/// refuses offline ones.
pub fn online_cpus() -> io::Result<Vec<u32>> {
    parse_cpu_ids(&std::fs::read_to_string("/sys/devices/system/cpu/online")?)
}

/// Number of possible CPUs (from `/sys/devices/system/cpu/possible`), which is the number of
/// slots in a per-CPU map value. Read once and cached.
pub fn possible_cpus() -> io::Result<usize> {
    static CACHE: OnceLock<usize> = OnceLock::new();
    if let Some(n) = CACHE.get() {
        return Ok(*n);
    }
    let text = std::fs::read_to_string("/sys/devices/system/cpu/possible")?;
    let n = parse_cpu_list(&text)?;
    Ok(*CACHE.get_or_init(|| n))
}

/// `if_nametoindex`: the index of a network interface.
pub fn ifindex(name: &str) -> io::Result<u32> {
    let c_name = CString::new(name).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name contains a NUL byte",
        )
    })?;
    // SAFETY: `c_name` is a valid NUL-terminated string for the call.
    let index = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
    if index == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-1\n").ok(), Some(2));
        assert_eq!(parse_cpu_list("0").ok(), Some(1));
        assert_eq!(parse_cpu_list("0,2-3").ok(), Some(3));
        assert_eq!(parse_cpu_list("0-3,8-11").ok(), Some(8));
        assert!(parse_cpu_list("").is_err());
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("x").is_err());
    }

    #[test]
    fn cpu_id_lists() {
        assert_eq!(parse_cpu_ids("0-1\n").ok(), Some(vec![0, 1]));
        assert_eq!(parse_cpu_ids("0").ok(), Some(vec![0]));
        assert_eq!(parse_cpu_ids("0,2-3").ok(), Some(vec![0, 2, 3]));
        assert!(parse_cpu_ids("").is_err());
        assert!(parse_cpu_ids("3-1").is_err());
        assert!(parse_cpu_ids("x").is_err());
        assert!(
            parse_cpu_ids("0-4294967295").is_err(),
            "absurd ranges are refused"
        );
        assert!(
            parse_cpu_ids("0-40000,0-40000").is_err(),
            "so are absurd totals"
        );
        assert!(online_cpus().is_ok_and(|ids| !ids.is_empty()));
    }

    #[test]
    fn possible_cpus_reads_sysfs() {
        let n = possible_cpus().map_err(|e| e.to_string());
        assert!(matches!(n, Ok(n) if n >= 1), "{n:?}");
    }

    #[test]
    fn loopback_has_an_index() {
        assert!(ifindex("lo").is_ok_and(|i| i > 0));
        assert!(ifindex("no-such-if-xyz").is_err());
    }
}
