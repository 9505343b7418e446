//! Tracepoint programs (`SEC("tracepoint/<category>/<name>")`, `BPF_PROG_TYPE_TRACEPOINT`):
//! attached to a perf event opened on the tracepoint.
//!
//! The tracepoint's id comes from tracefs (`events/<category>/<name>/id`), looked up at
//! `/sys/kernel/tracing` and then `/sys/kernel/debug/tracing`. When neither is mounted, a tracefs
//! instance is mounted on a private temporary directory just long enough to read the id, and
//! unmounted again: the machine's mount table is left as it was. That needs `CAP_SYS_ADMIN`,
//! which loading a tracepoint program (`CAP_PERFMON` + `CAP_BPF`) usually comes with; when the
//! mount fails too, the error says how to mount tracefs.
//!
//! Attachment prefers a perf `bpf_link` (`BPF_LINK_CREATE` with `BPF_PERF_EVENT`, 5.15) and
//! falls back to `PERF_EVENT_IOC_SET_BPF` + `PERF_EVENT_IOC_ENABLE` on older kernels. Either
//! way the returned [`TracePointLink`] detaches when dropped.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use bpfkit_obj::uapi::attach_type::BPF_PERF_EVENT;

use super::{io_error, ProgramData, ProgramError};
use crate::links::FdLink;
use crate::sys::{self, LinkCreate, LinkExtra, LinkTarget};

/// The kernel's internal `ENOTSUPP`, which some bpf(2) paths leak to user space.
const ENOTSUPP: i32 = 524;

/// Where tracefs is usually mounted, in the order they are tried.
const TRACEFS_ROOTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// A loaded tracepoint program.
///
/// ```no_run
/// # fn run(ebpf: &mut bpfkit::Ebpf) -> Result<(), Box<dyn std::error::Error>> {
/// let program: &mut bpfkit::programs::TracePoint =
///     ebpf.program_mut("exec_events").ok_or("missing")?.try_into()?;
/// let link = program.attach("sched", "sched_process_exec")?; // detached when dropped
/// # drop(link); Ok(()) }
/// ```
#[derive(Debug)]
pub struct TracePoint {
    pub(crate) data: ProgramData,
}

impl TracePoint {
    /// Attaches the program to tracepoint `category/name` (e.g. `"syscalls"`,
    /// `"sys_enter_getppid"`). It runs on every CPU, for every process, until the returned link
    /// is dropped.
    pub fn attach(&self, category: &str, name: &str) -> Result<TracePointLink, ProgramError> {
        let id = tracepoint_id(category, name)?;
        self.attach_by_id(id)
    }

    /// Attaches to the tracepoint with perf event id `id` (the number in tracefs'
    /// `events/<category>/<name>/id`).
    pub fn attach_by_id(&self, id: u64) -> Result<TracePointLink, ProgramError> {
        let program = self.data.fd()?;
        let perf_event = sys::perf_event_open_tracepoint(id)
            .map_err(io_error("perf_event_open (tracepoint)"))?;
        let link = sys::link_create(&LinkCreate {
            prog_fd: program,
            target: LinkTarget::Fd(perf_event.as_fd()),
            attach_type: BPF_PERF_EVENT,
            flags: 0,
            extra: LinkExtra::None,
        });
        match link {
            // The link holds its own reference to the perf event: ours can close.
            Ok(fd) => Ok(TracePointLink {
                inner: TracePointLinkInner::Link(FdLink::new(fd)),
            }),
            // Kernels before 5.15 know no perf links (EINVAL for the attach type, or the
            // command itself missing).
            Err(err) if matches!(err.errno(), libc::EINVAL | libc::EOPNOTSUPP | ENOTSUPP) => {
                log::debug!("perf bpf_link unavailable ({err}), using PERF_EVENT_IOC_SET_BPF");
                sys::perf_event_set_bpf(perf_event.as_fd(), program)
                    .map_err(io_error("PERF_EVENT_IOC_SET_BPF"))?;
                sys::perf_event_enable(perf_event.as_fd())
                    .map_err(io_error("PERF_EVENT_IOC_ENABLE"))?;
                Ok(TracePointLink {
                    inner: TracePointLinkInner::PerfEvent(perf_event),
                })
            }
            Err(err) => Err(err.into()),
        }
    }
}

/// A tracepoint attachment; dropping it detaches the program.
#[derive(Debug)]
#[must_use = "dropping the link detaches the program"]
pub struct TracePointLink {
    inner: TracePointLinkInner,
}

#[derive(Debug)]
enum TracePointLinkInner {
    /// A perf `bpf_link` (5.15+).
    Link(FdLink),
    /// The perf event the program was set on with `PERF_EVENT_IOC_SET_BPF`; the kernel detaches
    /// the program when the event's last fd closes.
    PerfEvent(OwnedFd),
}

impl TracePointLink {
    /// The `bpf_link`, when the kernel made one (5.15+), e.g. to pin it or read its info.
    pub fn fd_link(&self) -> Option<&FdLink> {
        match &self.inner {
            TracePointLinkInner::Link(link) => Some(link),
            TracePointLinkInner::PerfEvent(_) => None,
        }
    }

    /// Leaves the program attached for as long as this process lives.
    pub fn keep(self) {
        // Forgetting the handle skips every drop: the link (or perf event) fd stays open, and
        // the program attached, until the process exits.
        std::mem::forget(self);
    }
}

impl Drop for TracePointLinkInner {
    fn drop(&mut self) {
        // A forked child may hold a copy of the perf event fd until it execs: disabling the
        // event stops the program now rather than when the last copy closes. (FdLink detaches
        // itself in its own Drop.)
        if let TracePointLinkInner::PerfEvent(fd) = self {
            if let Err(err) = sys::perf_event_disable(fd.as_fd()) {
                log::debug!("PERF_EVENT_IOC_DISABLE on drop failed: {err}");
            }
        }
    }
}

/// Reads the perf event id of tracepoint `category/name` from tracefs, mounting a private
/// instance when none is mounted.
pub fn tracepoint_id(category: &str, name: &str) -> Result<u64, ProgramError> {
    validate_component(category)?;
    validate_component(name)?;
    for root in TRACEFS_ROOTS {
        let root = Path::new(root);
        // `events` exists only when tracefs is mounted there (the bare directory is empty).
        if root.join("events").is_dir() {
            return read_id(root, category, name);
        }
    }
    let private = PrivateTracefs::mount()?;
    read_id(&private.path, category, name)
}

/// Refuses names that would leave `events/` (`..`, `/`) or are empty.
fn validate_component(component: &str) -> Result<(), ProgramError> {
    if component.is_empty() || component.contains('/') || component == "." || component == ".." {
        return Err(ProgramError::Tracepoint(TracepointError::BadName {
            name: component.to_string(),
        }));
    }
    Ok(())
}

/// Reads and parses `<root>/events/<category>/<name>/id`.
fn read_id(root: &Path, category: &str, name: &str) -> Result<u64, ProgramError> {
    let path = root.join("events").join(category).join(name).join("id");
    let text = std::fs::read_to_string(&path).map_err(|source| {
        ProgramError::Tracepoint(if source.kind() == std::io::ErrorKind::NotFound {
            TracepointError::NotFound {
                tracepoint: format!("{category}/{name}"),
                path: path.clone(),
            }
        } else {
            TracepointError::ReadId {
                path: path.clone(),
                source,
            }
        })
    })?;
    parse_id(&text).ok_or_else(|| {
        ProgramError::Tracepoint(TracepointError::BadId {
            path,
            contents: text.trim().to_string(),
        })
    })
}

/// The decimal id in a tracefs `id` file.
fn parse_id(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// A tracefs instance on a fresh temporary directory, unmounted and removed on drop.
struct PrivateTracefs {
    path: PathBuf,
}

impl PrivateTracefs {
    fn mount() -> Result<PrivateTracefs, ProgramError> {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let unique = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("bpfkit-tracefs-{}-{unique}", std::process::id()));
        std::fs::create_dir(&path).map_err(io_error("creating a tracefs mount point"))?;
        if let Err(source) = sys::mount_tracefs(&path) {
            let _ = std::fs::remove_dir(&path);
            return Err(ProgramError::Tracepoint(TracepointError::NoTracefs {
                source,
            }));
        }
        Ok(PrivateTracefs { path })
    }
}

impl Drop for PrivateTracefs {
    fn drop(&mut self) {
        if let Err(err) = sys::unmount(&self.path) {
            log::warn!(
                "unmounting the private tracefs at {}: {err}",
                self.path.display()
            );
            return;
        }
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// Why a tracepoint could not be found.
#[derive(Debug, thiserror::Error)]
pub enum TracepointError {
    /// The category or name is empty or contains `/`, `.` or `..`.
    #[error("`{name}` is not a tracepoint category or name")]
    BadName {
        /// What was given.
        name: String,
    },
    /// No tracefs is mounted and mounting a private one failed.
    #[error(
        "no tracefs is mounted at /sys/kernel/tracing or /sys/kernel/debug/tracing, and mounting \
         a private one failed ({source}); mount it with `mount -t tracefs tracefs /sys/kernel/tracing` \
         (needs CAP_SYS_ADMIN and a kernel with CONFIG_TRACING)"
    )]
    NoTracefs {
        /// The mount error.
        #[source]
        source: std::io::Error,
    },
    /// The kernel has no such tracepoint.
    #[error("the kernel has no tracepoint {tracepoint} ({} does not exist)", path.display())]
    NotFound {
        /// `category/name`.
        tracepoint: String,
        /// The id file looked for.
        path: PathBuf,
    },
    /// The id file could not be read.
    #[error("reading {}: {source}", path.display())]
    ReadId {
        /// The id file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The id file did not hold a number.
    #[error("{} holds `{contents}`, not a tracepoint id", path.display())]
    BadId {
        /// The id file.
        path: PathBuf,
        /// What it held.
        contents: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_with_their_newline() {
        assert_eq!(parse_id("1234\n"), Some(1234));
        assert_eq!(parse_id("x\n"), None);
        assert_eq!(parse_id(""), None);
    }

    #[test]
    fn names_that_leave_events_are_refused() {
        for bad in ["", ".", "..", "a/b"] {
            assert!(matches!(
                validate_component(bad),
                Err(ProgramError::Tracepoint(TracepointError::BadName { .. }))
            ));
        }
        assert!(validate_component("sys_enter_getppid").is_ok());
    }

    #[test]
    fn the_no_tracefs_error_says_how_to_mount_it() {
        let error = TracepointError::NoTracefs {
            source: std::io::Error::from_raw_os_error(libc::EPERM),
        }
        .to_string();
        assert!(
            error.contains("mount -t tracefs tracefs /sys/kernel/tracing"),
            "{error}"
        );
        assert!(error.contains("Operation not permitted"), "{error}");
    }

    #[test]
    fn missing_tracepoints_are_named() {
        let dir = std::env::temp_dir().join(format!("bpfkit-tp-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("events/cat/name")).unwrap();
        std::fs::write(dir.join("events/cat/name/id"), "42\n").unwrap();
        std::fs::create_dir_all(dir.join("events/cat/bad")).unwrap();
        std::fs::write(dir.join("events/cat/bad/id"), "nope").unwrap();
        let found = read_id(&dir, "cat", "name");
        let missing = read_id(&dir, "cat", "other");
        let bad = read_id(&dir, "cat", "bad");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(found.unwrap(), 42);
        let message = missing.unwrap_err().to_string();
        assert!(message.contains("no tracepoint cat/other"), "{message}");
        assert!(bad.unwrap_err().to_string().contains("holds `nope`"));
    }
}
