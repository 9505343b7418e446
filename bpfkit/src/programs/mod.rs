//! Programs: one module per program type, over a shared [`ProgramData`] handle.
//!
//! [`crate::Ebpf`] hands out [`Program`]s by name; convert one to its typed handle to attach it:
//!
//! ```no_run
//! # fn run(ebpf: &mut bpfkit::Ebpf) -> Result<(), Box<dyn std::error::Error>> {
//! use bpfkit::programs::{Xdp, XdpFlags};
//! let xdp: &mut Xdp = ebpf.program_mut("xdp_count").ok_or("no such program")?.try_into()?;
//! let link = xdp.attach(bpfkit::sys::ifindex("veth0")?, XdpFlags::SKB_MODE)?;
//! // ... the program runs until `link` is dropped.
//! # drop(link); Ok(()) }
//! ```

mod socket_filter;
mod tc;
mod test_run;
mod trace_point;
mod verifier;
mod xdp;

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use bpfkit_obj::uapi::prog_type;

pub use socket_filter::{SocketFilter, SocketFilterLink};
pub use tc::{LinkOrder, SchedClassifier, TcAttachType, TcLink, TcNetlinkLink, TcOptions, TcxLink};
pub use test_run::{TestRunOptions, TestRunOutput};
pub use trace_point::{tracepoint_id, TracePoint, TracePointLink, TracepointError};
pub use verifier::VerifierError;
pub use xdp::{Xdp, XdpFlags, XdpLink};

use crate::sys::netlink::NetlinkError;
use crate::sys::{self, SyscallError};

/// Errors from loading, attaching or running a program.
#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    /// The verifier rejected the program; the error holds the whole log.
    #[error(transparent)]
    Verifier(#[from] Box<VerifierError>),
    /// The program has not been loaded into the kernel yet.
    #[error("program `{name}` is not loaded (its section is not autoload: call Ebpf::load_program first)")]
    NotLoaded {
        /// The program's name.
        name: String,
    },
    /// A typed handle was asked of a program of another type.
    #[error("program `{name}` is a {actual} program, not {expected}")]
    WrongType {
        /// The program's name.
        name: String,
        /// The type asked for.
        expected: &'static str,
        /// The program's type.
        actual: String,
    },
    /// libbpf would not know this program's type either.
    #[error("program `{name}`: unknown section name `{section}`, so its program type is unknown")]
    UnknownSection {
        /// The program's name.
        name: String,
        /// Its ELF section name.
        section: String,
    },
    /// A feature this program needs is not implemented by bpfkit yet, or not by this kernel.
    #[error("program `{name}`: {feature} is not supported: {reason}")]
    Unsupported {
        /// The program's name.
        name: String,
        /// What is missing.
        feature: String,
        /// Why, and what would bring it.
        reason: String,
    },
    /// Linking the program's instructions failed.
    #[error("program `{name}`: {source}")]
    Relocation {
        /// The program's name.
        name: String,
        /// What went wrong.
        #[source]
        source: bpfkit_obj::RelocationError,
    },
    /// A CO-RE relocation could not be computed (malformed records, ambiguous candidates, ...).
    /// Relocations that are merely unsatisfiable on the target kernel do not fail here: their
    /// instruction is poisoned, and only a reachable one fails, at the verifier.
    #[error("program `{name}`: {source}")]
    Core {
        /// The program's name.
        name: String,
        /// What went wrong.
        #[source]
        source: bpfkit_obj::core_relo::CoreError,
    },
    /// The program references a map that was not created (taken out of the collection, or a kind
    /// bpfkit cannot create yet).
    #[error("program `{program}` references map `{map}`, which is not available: {reason}")]
    MissingMap {
        /// The program's name.
        program: String,
        /// The map's name.
        map: String,
        /// Why it is missing.
        reason: &'static str,
    },
    /// A bpf(2) call failed.
    #[error(transparent)]
    Syscall(#[from] SyscallError),
    /// A netlink request (legacy XDP or TC attachment) failed.
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    /// A tracepoint could not be found (tracefs, its id file).
    #[error(transparent)]
    Tracepoint(#[from] TracepointError),
    /// A socket option call failed.
    #[error("{operation} failed: {source}")]
    Io {
        /// What was attempted.
        operation: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// What every program handle holds: its name, type and, once loaded, its file descriptor.
#[derive(Debug)]
pub struct ProgramData {
    pub(crate) name: String,
    pub(crate) section_name: String,
    pub(crate) prog_type: u32,
    pub(crate) expected_attach_type: Option<u32>,
    pub(crate) instruction_count: usize,
    pub(crate) verifier_log: Option<String>,
    pub(crate) fd: Option<OwnedFd>,
}

impl ProgramData {
    pub(crate) fn new(
        name: &str,
        section_name: &str,
        prog_type: u32,
        expected_attach_type: Option<u32>,
    ) -> Self {
        ProgramData {
            name: name.to_string(),
            section_name: section_name.to_string(),
            prog_type,
            expected_attach_type,
            instruction_count: 0,
            verifier_log: None,
            fd: None,
        }
    }

    /// The program's name (its function's symbol name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The ELF section it came from.
    pub fn section_name(&self) -> &str {
        &self.section_name
    }

    /// Its `BPF_PROG_TYPE_*`.
    pub fn prog_type(&self) -> u32 {
        self.prog_type
    }

    /// Its expected attach type, when the section implies one.
    pub fn expected_attach_type(&self) -> Option<u32> {
        self.expected_attach_type
    }

    /// Whether it is loaded into the kernel.
    pub fn is_loaded(&self) -> bool {
        self.fd.is_some()
    }

    /// How many instruction slots were sent to the kernel (the program plus its subprograms), 0
    /// before load.
    pub fn instruction_count(&self) -> usize {
        self.instruction_count
    }

    /// The verifier's log of a successful load, when a log level was set on the loader.
    pub fn verifier_log(&self) -> Option<&str> {
        self.verifier_log.as_deref()
    }

    /// The program's file descriptor.
    pub fn fd(&self) -> Result<BorrowedFd<'_>, ProgramError> {
        self.fd
            .as_ref()
            .map(|fd| fd.as_fd())
            .ok_or_else(|| ProgramError::NotLoaded {
                name: self.name.clone(),
            })
    }

    /// The kernel's description of the loaded program (id, tag, sizes, ...).
    pub fn info(&self) -> Result<sys::ProgInfo, ProgramError> {
        Ok(sys::prog_info(self.fd()?)?)
    }

    /// Pins the program at `path` on a bpffs, so it outlives this process.
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<(), ProgramError> {
        Ok(sys::obj_pin(self.fd()?, path.as_ref())?)
    }

    /// Runs the program once (or `repeat` times) on the given input with `BPF_PROG_TEST_RUN`.
    pub fn test_run(&self, options: &TestRunOptions<'_>) -> Result<TestRunOutput, ProgramError> {
        test_run::run(self.fd()?, options)
    }
}

/// A program of any type, as [`crate::Ebpf`] holds it.
#[derive(Debug)]
pub enum Program {
    /// `SEC("socket")`.
    SocketFilter(SocketFilter),
    /// `SEC("xdp")` and friends.
    Xdp(Xdp),
    /// `SEC("tc")`, `SEC("tcx/ingress")`, `SEC("classifier")`, ...
    SchedClassifier(SchedClassifier),
    /// `SEC("tracepoint/<category>/<name>")` (`BPF_PROG_TYPE_TRACEPOINT`).
    TracePoint(TracePoint),
    /// Any other type: it loads and can be test-run or pinned; its attach API comes with its own
    /// module.
    Other(ProgramData),
}

impl Program {
    pub(crate) fn from_data(data: ProgramData) -> Program {
        match data.prog_type {
            prog_type::BPF_PROG_TYPE_SOCKET_FILTER => Program::SocketFilter(SocketFilter { data }),
            prog_type::BPF_PROG_TYPE_XDP => Program::Xdp(Xdp { data }),
            prog_type::BPF_PROG_TYPE_SCHED_CLS => {
                Program::SchedClassifier(SchedClassifier { data })
            }
            prog_type::BPF_PROG_TYPE_TRACEPOINT => Program::TracePoint(TracePoint { data }),
            _ => Program::Other(data),
        }
    }

    /// The shared handle.
    pub fn data(&self) -> &ProgramData {
        match self {
            Program::SocketFilter(p) => &p.data,
            Program::Xdp(p) => &p.data,
            Program::SchedClassifier(p) => &p.data,
            Program::TracePoint(p) => &p.data,
            Program::Other(data) => data,
        }
    }

    pub(crate) fn data_mut(&mut self) -> &mut ProgramData {
        match self {
            Program::SocketFilter(p) => &mut p.data,
            Program::Xdp(p) => &mut p.data,
            Program::SchedClassifier(p) => &mut p.data,
            Program::TracePoint(p) => &mut p.data,
            Program::Other(data) => data,
        }
    }

    /// The program's name.
    pub fn name(&self) -> &str {
        self.data().name()
    }

    /// The program type's name, e.g. `BPF_PROG_TYPE_XDP`.
    pub fn type_name(&self) -> String {
        type_name(self.data().prog_type)
    }
}

/// A readable name for a program type number.
pub(crate) fn type_name(prog_type: u32) -> String {
    prog_type::name(prog_type)
        .map(str::to_string)
        .unwrap_or_else(|| format!("program type {prog_type}"))
}

/// Implements the conversions from [`Program`] to one typed handle, and `Deref` to its data.
macro_rules! typed_program {
    ($variant:ident, $ty:ident, $label:literal) => {
        impl<'a> TryFrom<&'a Program> for &'a $ty {
            type Error = ProgramError;
            fn try_from(program: &'a Program) -> Result<&'a $ty, ProgramError> {
                match program {
                    Program::$variant(p) => Ok(p),
                    other => Err(ProgramError::WrongType {
                        name: other.name().to_string(),
                        expected: $label,
                        actual: other.type_name(),
                    }),
                }
            }
        }

        impl<'a> TryFrom<&'a mut Program> for &'a mut $ty {
            type Error = ProgramError;
            fn try_from(program: &'a mut Program) -> Result<&'a mut $ty, ProgramError> {
                match program {
                    Program::$variant(p) => Ok(p),
                    other => Err(ProgramError::WrongType {
                        name: other.name().to_string(),
                        expected: $label,
                        actual: other.type_name(),
                    }),
                }
            }
        }

        impl std::ops::Deref for $ty {
            type Target = ProgramData;
            fn deref(&self) -> &ProgramData {
                &self.data
            }
        }
    };
}

typed_program!(SocketFilter, SocketFilter, "a socket filter");
typed_program!(Xdp, Xdp, "an XDP");
typed_program!(SchedClassifier, SchedClassifier, "a TC classifier");
typed_program!(TracePoint, TracePoint, "a tracepoint");

/// Wraps an OS error of a socket call.
pub(crate) fn io_error(operation: &'static str) -> impl FnOnce(std::io::Error) -> ProgramError {
    move |source| ProgramError::Io { operation, source }
}
