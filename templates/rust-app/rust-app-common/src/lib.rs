//! Types shared by the eBPF program (`rust-app-ebpf`) and user space (`rust-app`).
//!
//! One definition describes the bytes on both sides: the kernel program writes an [`ExecEvent`]
//! into the `events` ring buffer, user space decodes the record with [`ExecEvent::from_bytes`].
//! Keep shared types `#[repr(C)]`, made of integers and integer arrays, and free of padding.
//!
//! Ring buffer records reach user space as bytes, so decoding them needs no trait. A type used
//! as a map key or value from user space (`bpfkit::maps::HashMap<_, K, V>`) must implement
//! `bpfkit::Pod` instead; see that trait's documentation for the contract it asks you to keep.

#![no_std]

/// Bytes of a task's `comm` (the kernel's `TASK_COMM_LEN`).
pub const COMM_LEN: usize = 16;

/// One `exec`, written by the eBPF program on the tracepoint `sched/sched_process_exec`.
///
/// The layout is fixed: 4 + 4 + 16 = 24 bytes, no padding.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecEvent {
    /// The process (thread group id, user space's "pid") that exec'ed.
    pub pid: u32,
    /// Its user id.
    pub uid: u32,
    /// Its new `comm` (the executed file's name, cut to 15 bytes), NUL-padded.
    pub comm: [u8; COMM_LEN],
}

impl ExecEvent {
    /// The size of one record in the ring buffer.
    pub const SIZE: usize = core::mem::size_of::<ExecEvent>();

    /// Decodes a record from its bytes (native byte order), or `None` when it is too short.
    pub fn from_bytes(bytes: &[u8]) -> Option<ExecEvent> {
        let u32_at = |at: usize| Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
        Some(ExecEvent {
            pid: u32_at(0)?,
            uid: u32_at(4)?,
            comm: bytes.get(8..8 + COMM_LEN)?.try_into().ok()?,
        })
    }

    /// The `comm` up to its first NUL.
    pub fn comm_bytes(&self) -> &[u8] {
        let end = self
            .comm
            .iter()
            .position(|&byte| byte == 0)
            .unwrap_or(COMM_LEN);
        self.comm.get(..end).unwrap_or(&self.comm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_24_bytes_and_decodes_from_them() {
        assert_eq!(ExecEvent::SIZE, 24);
        let mut bytes = [0u8; ExecEvent::SIZE];
        bytes[0..4].copy_from_slice(&42u32.to_ne_bytes());
        bytes[4..8].copy_from_slice(&1000u32.to_ne_bytes());
        bytes[8..12].copy_from_slice(b"true");
        let event = ExecEvent::from_bytes(&bytes).expect("24 bytes decode");
        assert_eq!((event.pid, event.uid), (42, 1000));
        assert_eq!(event.comm_bytes(), b"true");
        assert_eq!(ExecEvent::from_bytes(&bytes[..23]), None);
    }
}
