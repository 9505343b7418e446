//! `epoll(7)`: one wait over many fds (a perf buffer's per-CPU events).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use super::syscall::owned_fd;

/// An epoll instance whose members are registered for `EPOLLIN`, each with a caller-chosen
/// token. Closed on drop.
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
    /// Reused by every [`wait`](Epoll::wait), so waiting does not allocate.
    events: Vec<libc::epoll_event>,
}

impl Epoll {
    /// `epoll_create1(EPOLL_CLOEXEC)`.
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes only flags; the result is checked before use.
        let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = owned_fd(i64::from(raw), "epoll_create1").map_err(|e| e.source)?;
        Ok(Epoll {
            fd,
            events: Vec::new(),
        })
    }

    /// Adds `fd` for readability (level-triggered), reported with `token`. The epoll set keeps
    /// watching the file until it is closed everywhere or the epoll instance is.
    pub fn add(&mut self, fd: BorrowedFd<'_>, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: both fds are live for the call; `event` is a valid epoll_event the kernel only
        // reads.
        let rc = unsafe {
            libc::epoll_ctl(
                self.fd.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                fd.as_raw_fd(),
                &mut event,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        // One slot per member: a wait can report all of them at once.
        self.events.push(libc::epoll_event { events: 0, u64: 0 });
        Ok(())
    }

    /// Waits until a member is readable or `timeout` passes (`None`: no limit; sub-millisecond
    /// timeouts round up to 1 ms so that they still wait). Calls `ready` with the token of each
    /// readable member and returns how many there were; EINTR counts as none.
    pub fn wait(
        &mut self,
        timeout: Option<Duration>,
        mut ready: impl FnMut(u64),
    ) -> io::Result<usize> {
        if self.events.is_empty() {
            // epoll_wait refuses maxevents 0; an empty set has nothing to report anyway.
            self.events.push(libc::epoll_event { events: 0, u64: 0 });
        }
        let max = libc::c_int::try_from(self.events.len()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `events` holds at least `max` writable epoll_event slots for the call; the
        // epoll fd is live.
        let n = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                self.events.as_mut_ptr(),
                max,
                timeout_millis(timeout),
            )
        };
        if n < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                return Ok(0);
            }
            return Err(error);
        }
        let n = usize::try_from(n).unwrap_or(0).min(self.events.len());
        for event in self.events.iter().take(n) {
            // Copied out: the struct is packed on x86-64, so no reference to the field.
            let token = { event.u64 };
            ready(token);
        }
        Ok(n)
    }
}

impl AsFd for Epoll {
    /// The epoll fd, itself readable while a member is: it can go into another epoll set or an
    /// async runtime's reactor.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The `timeout` argument of poll/epoll_wait: -1 for none, milliseconds rounded up otherwise.
pub(crate) fn timeout_millis(timeout: Option<Duration>) -> libc::c_int {
    match timeout {
        None => -1,
        Some(timeout) => {
            let mut millis = timeout.as_millis();
            if Duration::from_millis(millis as u64) < timeout {
                millis += 1;
            }
            libc::c_int::try_from(millis).unwrap_or(libc::c_int::MAX)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_round_up() {
        assert_eq!(timeout_millis(None), -1);
        assert_eq!(timeout_millis(Some(Duration::ZERO)), 0);
        assert_eq!(timeout_millis(Some(Duration::from_micros(1))), 1);
        assert_eq!(timeout_millis(Some(Duration::from_millis(20))), 20);
        assert_eq!(
            timeout_millis(Some(Duration::from_secs(u64::MAX))),
            libc::c_int::MAX
        );
    }

    #[test]
    fn reports_a_readable_socket_with_its_token() {
        let (reader, mut writer) = std::os::unix::net::UnixStream::pair().expect("socket pair");
        let mut epoll = Epoll::new().expect("epoll");
        epoll.add(reader.as_fd(), 7).expect("add");
        let mut tokens = Vec::new();
        let n = epoll
            .wait(Some(Duration::ZERO), |t| tokens.push(t))
            .expect("wait");
        assert_eq!((n, tokens.len()), (0, 0), "nothing written yet");
        std::io::Write::write_all(&mut writer, b"x").expect("write");
        let n = epoll
            .wait(Some(Duration::from_secs(5)), |t| tokens.push(t))
            .expect("wait");
        assert_eq!((n, tokens), (1, vec![7]));
    }
}
