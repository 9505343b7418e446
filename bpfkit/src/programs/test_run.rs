//! `BPF_PROG_TEST_RUN`: run a loaded program on a given input without attaching it.

use std::os::fd::BorrowedFd;
use std::time::Duration;

use super::ProgramError;
use crate::sys;

/// Input for [`super::ProgramData::test_run`].
#[derive(Debug, Clone, Default)]
pub struct TestRunOptions<'a> {
    /// Packet (or other) data handed to the program.
    pub data_in: &'a [u8],
    /// Room for the data the program leaves behind; `None` means `data_in.len() + 256`, which
    /// leaves XDP programs room to grow the packet.
    pub data_out_capacity: Option<usize>,
    /// Context (`struct __sk_buff`, `struct xdp_md`, ...), empty for the kernel's default.
    pub ctx_in: &'a [u8],
    /// Room for the context the program leaves behind; 0 asks for none.
    pub ctx_out_capacity: usize,
    /// How many times to run; 0 and 1 both run once.
    pub repeat: u32,
    /// `BPF_F_TEST_*` flags.
    pub flags: u32,
    /// CPU to run on, with `BPF_F_TEST_RUN_ON_CPU`.
    pub cpu: u32,
}

/// What a test run returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRunOutput {
    /// The program's return value (e.g. `XDP_PASS`, `TC_ACT_SHOT`).
    pub retval: u32,
    /// Mean time of one run, as the kernel measured it.
    pub duration: Duration,
    /// The data after the run.
    pub data_out: Vec<u8>,
    /// The context after the run, when asked for.
    pub ctx_out: Vec<u8>,
}

pub(super) fn run(
    prog_fd: BorrowedFd<'_>,
    options: &TestRunOptions<'_>,
) -> Result<TestRunOutput, ProgramError> {
    let mut data_out = vec![
        0u8;
        options
            .data_out_capacity
            .unwrap_or(options.data_in.len() + 256)
    ];
    let mut ctx_out = vec![0u8; options.ctx_out_capacity];
    let mut attr = sys::TestRun {
        prog_fd,
        data_in: options.data_in,
        data_out: if data_out.is_empty() {
            None
        } else {
            Some(&mut data_out)
        },
        ctx_in: options.ctx_in,
        ctx_out: if ctx_out.is_empty() {
            None
        } else {
            Some(&mut ctx_out)
        },
        repeat: options.repeat,
        flags: options.flags,
        cpu: options.cpu,
        batch_size: 0,
    };
    let output = sys::prog_test_run(&mut attr)?;
    data_out.truncate(output.data_size_out as usize);
    ctx_out.truncate(output.ctx_size_out as usize);
    Ok(TestRunOutput {
        retval: output.retval,
        duration: Duration::from_nanos(u64::from(output.duration_ns)),
        data_out,
        ctx_out,
    })
}
