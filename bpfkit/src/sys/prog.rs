//! `BPF_PROG_LOAD` (with the verifier log policy), `BPF_PROG_TEST_RUN` and `BPF_BTF_LOAD`.

use std::ffi::CString;
use std::os::fd::{BorrowedFd, OwnedFd};

use bpfkit_obj::insn::Insn;
use bpfkit_obj::uapi::cmd;

use super::syscall::{
    bpf, command_name, mut_ptr_of, name_from_bytes, object_name, owned_fd, ptr_of, AttrFd,
    SyscallError,
};
use super::uapi::{BtfLoadAttr, ProgLoadAttr, TestRunAttr};

/// First size of the verifier log buffer when a log is needed.
const LOG_START_SIZE: usize = 64 * 1024;
/// Largest verifier log buffer we allocate.
const LOG_MAX_SIZE: usize = 256 * 1024 * 1024;

/// Parameters of `BPF_PROG_LOAD`.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProgLoad<'a> {
    /// `BPF_PROG_TYPE_*`.
    pub prog_type: u32,
    /// `BPF_*` attach type the program will be attached with (0 when the type needs none).
    pub expected_attach_type: u32,
    /// The instructions, relocated.
    pub insns: &'a [Insn],
    /// License string, e.g. `"GPL"`.
    pub license: &'a str,
    /// Kernel version for old kprobe programs.
    pub kern_version: u32,
    /// `BPF_F_*` program flags.
    pub prog_flags: u32,
    /// Name; truncated to 15 bytes, characters outside `[A-Za-z0-9_.]` dropped.
    pub name: &'a str,
    /// Device for offloaded or device-bound programs.
    pub prog_ifindex: u32,
    /// BTF object with the program's functions and lines.
    pub prog_btf_fd: Option<BorrowedFd<'a>>,
    /// `bpf_func_info` records.
    pub func_info: &'a [u8],
    /// Size of one func_info record.
    pub func_info_rec_size: u32,
    /// `bpf_line_info` records.
    pub line_info: &'a [u8],
    /// Size of one line_info record.
    pub line_info_rec_size: u32,
    /// BTF type id of the attach target (fentry, LSM, struct_ops, ...).
    pub attach_btf_id: u32,
    /// BTF object (module) holding `attach_btf_id`; vmlinux when `None`.
    pub attach_btf_obj_fd: Option<BorrowedFd<'a>>,
    /// Program to attach to (freplace, fentry on a BPF program). Exclusive with
    /// `attach_btf_obj_fd`.
    pub attach_prog_fd: Option<BorrowedFd<'a>>,
    /// fds referenced by `BPF_PSEUDO_MAP_IDX` and kfunc calls into modules.
    pub fd_array: &'a [i32],
    /// Verifier log level: 0 loads without a log first and retries with level 1 on failure.
    pub log_level: u32,
}

/// A failed program load: the syscall error and the verifier's log.
#[derive(Debug, thiserror::Error)]
#[error("{source}{}", log_summary(.log))]
pub struct ProgLoadError {
    /// The `BPF_PROG_LOAD` error.
    #[source]
    pub source: SyscallError,
    /// The whole verifier log (empty when the kernel wrote none).
    pub log: String,
    /// The log did not fit in the largest buffer we allow (256 MiB) and is cut.
    pub log_truncated: bool,
}

/// The last non-empty line of a verifier log, which names the reason for a rejection.
fn log_summary(log: &str) -> String {
    match log.lines().rev().find(|line| !line.trim().is_empty()) {
        Some(line) => format!(": verifier: {line}"),
        None => String::new(),
    }
}

/// Result of one load attempt.
struct Attempt {
    result: Result<OwnedFd, SyscallError>,
    log: String,
    /// Size the kernel says the whole log needs (0 when unknown, before 6.4).
    true_size: u32,
}

struct LoadInputs<'a> {
    attr: ProgLoadAttr,
    _license: CString,
    _fds: [AttrFd; 2],
    _borrow: std::marker::PhantomData<&'a ()>,
}

fn prepare<'a>(load: &ProgLoad<'a>) -> Result<LoadInputs<'a>, SyscallError> {
    let name = command_name(cmd::BPF_PROG_LOAD);
    if load.attach_btf_obj_fd.is_some() && load.attach_prog_fd.is_some() {
        return Err(SyscallError::invalid(
            name,
            "attach_btf_obj_fd and attach_prog_fd share one field; give only one",
        ));
    }
    let license = CString::new(load.license)
        .map_err(|_| SyscallError::invalid(name, "license contains a NUL byte"))?;
    let count = |len: usize, what: &str| {
        u32::try_from(len).map_err(|_| SyscallError::invalid(name, format!("too many {what}")))
    };
    let records = |bytes: &[u8], rec_size: u32, what: &str| -> Result<u32, SyscallError> {
        if bytes.is_empty() {
            return Ok(0);
        }
        if rec_size == 0 || bytes.len() % rec_size as usize != 0 {
            return Err(SyscallError::invalid(
                name,
                format!(
                    "{what} is {} bytes, not a multiple of its record size {rec_size}",
                    bytes.len()
                ),
            ));
        }
        count(bytes.len() / rec_size as usize, what)
    };
    let btf = AttrFd::optional(load.prog_btf_fd, name)?;
    let attach = AttrFd::optional(load.attach_btf_obj_fd.or(load.attach_prog_fd), name)?;
    let attr = ProgLoadAttr {
        prog_type: load.prog_type,
        insn_cnt: count(load.insns.len(), "instructions")?,
        insns: ptr_of(load.insns),
        license: license.as_ptr() as usize as u64,
        kern_version: load.kern_version,
        prog_flags: load.prog_flags,
        prog_name: object_name(load.name),
        prog_ifindex: load.prog_ifindex,
        expected_attach_type: load.expected_attach_type,
        prog_btf_fd: btf.raw(),
        func_info_rec_size: if load.func_info.is_empty() {
            0
        } else {
            load.func_info_rec_size
        },
        func_info: ptr_of(load.func_info),
        func_info_cnt: records(load.func_info, load.func_info_rec_size, "func_info")?,
        line_info_rec_size: if load.line_info.is_empty() {
            0
        } else {
            load.line_info_rec_size
        },
        line_info: ptr_of(load.line_info),
        line_info_cnt: records(load.line_info, load.line_info_rec_size, "line_info")?,
        attach_btf_id: load.attach_btf_id,
        attach_fd: attach.raw(),
        fd_array: ptr_of(load.fd_array),
        // fd_array_cnt (6.14+) makes the kernel bind every listed map up front; older kernels
        // reject the field, and the entries are found through the instructions anyway.
        fd_array_cnt: 0,
        ..Default::default()
    };
    Ok(LoadInputs {
        attr,
        _license: license,
        _fds: [btf, attach],
        _borrow: std::marker::PhantomData,
    })
}

fn attempt(inputs: &LoadInputs<'_>, log_level: u32, log: &mut [u8]) -> Attempt {
    let mut attr = inputs.attr;
    if log_level > 0 && !log.is_empty() {
        attr.log_level = log_level;
        attr.log_size = u32::try_from(log.len()).unwrap_or(u32::MAX);
        attr.log_buf = mut_ptr_of(log);
    }
    // SAFETY: insns, license, func_info, line_info and fd_array point at slices borrowed by
    // `ProgLoad` for 'a with counts derived from their lengths; the license CString and the
    // fds live in `inputs`; `log_buf` is `log.len()` writable bytes.
    let result = unsafe { bpf(cmd::BPF_PROG_LOAD, &mut attr) }
        .and_then(|fd| owned_fd(fd, command_name(cmd::BPF_PROG_LOAD)));
    let text = if attr.log_buf != 0 {
        name_from_bytes(log)
    } else {
        String::new()
    };
    Attempt {
        result,
        log: text,
        true_size: attr.log_true_size,
    }
}

/// Loads a program.
///
/// Log policy: with `log_level == 0` the first attempt runs without a log (the fast path);
/// if it fails, the load is retried with log level 1 to collect the verifier's explanation.
/// With `log_level > 0` the log is requested from the start and returned on success too.
/// The log buffer starts at 64 KiB and grows when the kernel says it was too small (`ENOSPC`,
/// or `log_true_size` above the buffer size on 6.4+; otherwise ×4), up to 256 MiB.
///
/// Returns the program fd and the log (empty when no log was requested).
pub fn prog_load(load: &ProgLoad<'_>) -> Result<(OwnedFd, String), ProgLoadError> {
    let inputs = prepare(load).map_err(|source| ProgLoadError {
        source,
        log: String::new(),
        log_truncated: false,
    })?;
    let mut log = Vec::new();
    if load.log_level == 0 {
        let first = attempt(&inputs, 0, &mut log);
        match first.result {
            Ok(fd) => return Ok((fd, String::new())),
            // Rejections that a verifier log cannot explain are returned as they are.
            Err(err) if matches!(err.errno(), libc::EPERM | libc::EBADF | libc::E2BIG) => {
                return Err(ProgLoadError {
                    source: err,
                    log: String::new(),
                    log_truncated: false,
                });
            }
            Err(_) => {}
        }
    }
    let level = if load.log_level == 0 {
        1
    } else {
        load.log_level
    };
    load_with_log(&inputs, level, &mut log)
}

fn load_with_log(
    inputs: &LoadInputs<'_>,
    level: u32,
    log: &mut Vec<u8>,
) -> Result<(OwnedFd, String), ProgLoadError> {
    let mut size = LOG_START_SIZE;
    loop {
        log.clear();
        log.resize(size, 0);
        let outcome = attempt(inputs, level, log);
        let too_small = match &outcome.result {
            Err(err) if err.errno() == libc::ENOSPC => true,
            _ => outcome.true_size as usize > size,
        };
        if too_small && size < LOG_MAX_SIZE {
            let wanted = if outcome.true_size as usize > size {
                outcome.true_size as usize
            } else {
                size.saturating_mul(4)
            };
            size = wanted.min(LOG_MAX_SIZE);
            continue;
        }
        return match outcome.result {
            Ok(fd) => Ok((fd, outcome.log)),
            Err(source) => Err(ProgLoadError {
                source,
                log: outcome.log,
                log_truncated: too_small,
            }),
        };
    }
}

/// Parameters of `BPF_PROG_TEST_RUN`.
#[derive(Debug)]
pub struct TestRun<'a> {
    /// The program.
    pub prog_fd: BorrowedFd<'a>,
    /// Input packet (or other data).
    pub data_in: &'a [u8],
    /// Buffer for the output packet.
    pub data_out: Option<&'a mut [u8]>,
    /// Input context (e.g. `struct __sk_buff`, `struct xdp_md`).
    pub ctx_in: &'a [u8],
    /// Buffer for the output context.
    pub ctx_out: Option<&'a mut [u8]>,
    /// Number of runs (0 and 1 both run once); duration is averaged.
    pub repeat: u32,
    /// `BPF_F_TEST_*` flags.
    pub flags: u32,
    /// CPU with `BPF_F_TEST_RUN_ON_CPU`.
    pub cpu: u32,
    /// Batch size for XDP live frames mode.
    pub batch_size: u32,
}

/// Output of `BPF_PROG_TEST_RUN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestRunOutput {
    /// The program's return value.
    pub retval: u32,
    /// Average run time in nanoseconds.
    pub duration_ns: u32,
    /// Bytes of output data (may exceed the buffer, which then holds a prefix).
    pub data_size_out: u32,
    /// Bytes of output context.
    pub ctx_size_out: u32,
}

/// Runs a program on test input.
pub fn prog_test_run(run: &mut TestRun<'_>) -> Result<TestRunOutput, SyscallError> {
    let name = command_name(cmd::BPF_PROG_TEST_RUN);
    let len = |len: usize, what: &str| {
        u32::try_from(len).map_err(|_| SyscallError::invalid(name, format!("{what} too large")))
    };
    let fd = AttrFd::new(run.prog_fd, name)?;
    let (data_out, data_size_out) = match run.data_out.as_deref_mut() {
        Some(buf) => (mut_ptr_of(buf), len(buf.len(), "data_out")?),
        None => (0, 0),
    };
    let (ctx_out, ctx_size_out) = match run.ctx_out.as_deref_mut() {
        Some(buf) => (mut_ptr_of(buf), len(buf.len(), "ctx_out")?),
        None => (0, 0),
    };
    let mut attr = TestRunAttr {
        prog_fd: fd.raw(),
        data_size_in: len(run.data_in.len(), "data_in")?,
        data_size_out,
        data_in: ptr_of(run.data_in),
        data_out,
        repeat: run.repeat,
        ctx_size_in: len(run.ctx_in.len(), "ctx_in")?,
        ctx_size_out,
        ctx_in: ptr_of(run.ctx_in),
        ctx_out,
        flags: run.flags,
        cpu: run.cpu,
        batch_size: run.batch_size,
        ..Default::default()
    };
    // SAFETY: inputs are borrowed slices with their lengths; outputs are exclusively borrowed
    // buffers whose lengths are passed as data_size_out / ctx_size_out, which the kernel
    // respects (it copies at most that many bytes and reports ENOSPC otherwise).
    unsafe { bpf(cmd::BPF_PROG_TEST_RUN, &mut attr) }?;
    Ok(TestRunOutput {
        retval: attr.retval,
        duration_ns: attr.duration,
        data_size_out: attr.data_size_out,
        ctx_size_out: attr.ctx_size_out,
    })
}

/// A failed BTF load with the kernel's BTF log.
#[derive(Debug, thiserror::Error)]
#[error("{source}{}", log_summary(.log))]
pub struct BtfLoadError {
    /// The `BPF_BTF_LOAD` error.
    #[source]
    pub source: SyscallError,
    /// The kernel's BTF verifier log.
    pub log: String,
}

/// Loads BTF into the kernel. With `log_level == 0` the first attempt has no log; a failure
/// is retried with a log (growing like [`prog_load`]'s) so the error explains itself.
pub fn btf_load(data: &[u8], log_level: u32) -> Result<OwnedFd, BtfLoadError> {
    let name = command_name(cmd::BPF_BTF_LOAD);
    let size = u32::try_from(data.len()).map_err(|_| BtfLoadError {
        source: SyscallError::invalid(name, "BTF larger than 4 GiB"),
        log: String::new(),
    })?;
    let run = |level: u32, log: &mut Vec<u8>| {
        let mut attr = BtfLoadAttr {
            btf: ptr_of(data),
            btf_size: size,
            ..Default::default()
        };
        if level > 0 {
            attr.btf_log_level = level;
            attr.btf_log_size = u32::try_from(log.len()).unwrap_or(u32::MAX);
            attr.btf_log_buf = mut_ptr_of(log);
        }
        // SAFETY: `btf` is `data` with its length; `btf_log_buf` is `log.len()` writable bytes.
        let result = unsafe { bpf(cmd::BPF_BTF_LOAD, &mut attr) }.and_then(|fd| owned_fd(fd, name));
        (result, attr.btf_log_true_size)
    };
    let mut log = Vec::new();
    if log_level == 0 {
        if let (Ok(fd), _) = run(0, &mut log) {
            return Ok(fd);
        }
    }
    let level = log_level.max(1);
    let mut buf_size = LOG_START_SIZE;
    loop {
        log.clear();
        log.resize(buf_size, 0);
        let (result, true_size) = run(level, &mut log);
        let too_small = match &result {
            Err(err) if err.errno() == libc::ENOSPC => true,
            _ => true_size as usize > buf_size,
        };
        if too_small && buf_size < LOG_MAX_SIZE {
            buf_size = if true_size as usize > buf_size {
                true_size as usize
            } else {
                buf_size.saturating_mul(4)
            }
            .min(LOG_MAX_SIZE);
            continue;
        }
        return result.map_err(|source| BtfLoadError {
            source,
            log: name_from_bytes(&log),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_error_display_shows_last_log_line() {
        let err = ProgLoadError {
            source: SyscallError::from_errno("BPF_PROG_LOAD", libc::EACCES),
            log: "0: (bf) r0 = r1\n1: (95) exit\nR0 !read_ok\n\n".into(),
            log_truncated: false,
        };
        assert_eq!(
            err.to_string(),
            "BPF_PROG_LOAD failed: Permission denied (os error 13): verifier: R0 !read_ok"
        );
        let quiet = ProgLoadError {
            source: SyscallError::from_errno("BPF_PROG_LOAD", libc::EPERM),
            log: String::new(),
            log_truncated: false,
        };
        assert_eq!(
            quiet.to_string(),
            "BPF_PROG_LOAD failed: Operation not permitted (os error 1)"
        );
    }

    #[test]
    fn record_sizes_are_checked() {
        let load = ProgLoad {
            func_info: &[0; 10],
            func_info_rec_size: 8,
            ..Default::default()
        };
        let err = prepare(&load).err().map(|e| e.errno());
        assert_eq!(err, Some(libc::EINVAL));
    }
}
