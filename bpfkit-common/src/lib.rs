//! Types shared by eBPF programs written with `bpfkit-ebpf` and the user-space code that loads
//! them with `bpfkit`.
//!
//! Everything here is `#![no_std]`, `#[repr(C)]` and free of padding, so the same definition
//! describes the bytes on both sides: the kernel program writes them into a map or ring buffer,
//! and user space reads them back with `bpfkit::Pod` views.

#![no_std]

pub mod log;

/// One event of the Rust tracepoint test program: a process made the traced system call.
///
/// Written into a ring buffer by `bpfkit/tests/rust-progs` (`tracepoint_events`), read by the
/// kernel tests. The layout is fixed: 4 + 4 + 8 + 16 bytes, no padding.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyscallEvent {
    /// The thread group id (user space's "pid") of the caller.
    pub pid: u32,
    /// The thread id of the caller.
    pub tid: u32,
    /// `bpf_ktime_get_ns()` when the event was written.
    pub timestamp_ns: u64,
    /// The caller's `comm`, NUL-padded.
    pub comm: [u8; 16],
}

impl SyscallEvent {
    /// The size of the record in the ring buffer.
    pub const SIZE: usize = core::mem::size_of::<SyscallEvent>();

    /// Decodes a record from its bytes in native byte order, or `None` when `bytes` is too short.
    pub fn from_bytes(bytes: &[u8]) -> Option<SyscallEvent> {
        let pid = u32::from_ne_bytes(bytes.get(0..4)?.try_into().ok()?);
        let tid = u32::from_ne_bytes(bytes.get(4..8)?.try_into().ok()?);
        let timestamp_ns = u64::from_ne_bytes(bytes.get(8..16)?.try_into().ok()?);
        let comm = bytes.get(16..32)?.try_into().ok()?;
        Some(SyscallEvent {
            pid,
            tid,
            timestamp_ns,
            comm,
        })
    }

    /// The `comm` up to its first NUL.
    pub fn comm_bytes(&self) -> &[u8] {
        let end = self
            .comm
            .iter()
            .position(|&byte| byte == 0)
            .unwrap_or(self.comm.len());
        self.comm.get(..end).unwrap_or(&self.comm)
    }
}

/// Keys of the `stats` array of the Rust tracepoint test program.
pub mod tracepoint_stats {
    /// Events written to the ring buffer.
    pub const WRITTEN: u32 = 0;
    /// Events lost because the ring buffer was full.
    pub const LOST: u32 = 1;
    /// Number of slots in the array.
    pub const LEN: u32 = 2;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_round_trips_through_bytes() {
        let mut bytes = [0u8; SyscallEvent::SIZE];
        bytes[0..4].copy_from_slice(&7u32.to_ne_bytes());
        bytes[4..8].copy_from_slice(&9u32.to_ne_bytes());
        bytes[8..16].copy_from_slice(&123u64.to_ne_bytes());
        bytes[16..20].copy_from_slice(b"test");
        let event = SyscallEvent::from_bytes(&bytes).expect("32 bytes decode");
        assert_eq!((event.pid, event.tid, event.timestamp_ns), (7, 9, 123));
        assert_eq!(event.comm_bytes(), b"test");
        assert_eq!(SyscallEvent::SIZE, 32);
        assert!(SyscallEvent::from_bytes(&bytes[..31]).is_none());
    }
}
