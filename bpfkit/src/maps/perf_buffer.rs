//! Perf buffers: reading what programs write with `bpf_perf_event_output` into a
//! `BPF_MAP_TYPE_PERF_EVENT_ARRAY`, without copies.
//!
//! A perf event array holds, in slot `cpu`, a `PERF_COUNT_SW_BPF_OUTPUT` perf event opened on
//! that CPU; a program running on a CPU writes into the ring of that CPU's event
//! (`BPF_F_CURRENT_CPU`). So a reader opens one event per online CPU, maps its ring, and stores
//! the event fd in the map ([`PerfEventArray::open`], [`PerfEventArray::open_all`]).
//!
//! The ring (`struct perf_event_mmap_page`, then 2^n data pages) is a single-producer,
//! single-consumer queue of records: the kernel advances `data_head` after writing, user space
//! advances `data_tail` after reading, and the kernel never overwrites bytes `data_tail` has not
//! passed (it counts a lost record instead). `data_head` is read with acquire ordering (the
//! record bytes it covers are then visible) and `data_tail` written with release ordering (our
//! reads of the bytes it frees are done), as libbpf's perf_buffer does. Records are 8-byte
//! aligned, so their 8-byte header never straddles the end of the ring, but their body can: only
//! then is the record copied, into a buffer the reader keeps.
//!
//! Records: `PERF_RECORD_SAMPLE` (a u32 length, then the program's bytes, padded by the kernel so
//! that length + 4 is a multiple of 8: a sample is at least as long as what the program wrote,
//! with up to 7 padding bytes) and `PERF_RECORD_LOST` (how many samples did not fit). Others are
//! skipped.
//!
//! As in [`RingBuf`](super::RingBuf), `data_tail` is written once per batch rather than per
//! record: when the ring is found empty, when a batch has consumed a quarter of it, before
//! waiting, and on drop.

use std::borrow::Borrow;
use std::io;
use std::ops::Deref;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use bpfkit_obj::uapi::map_type::BPF_MAP_TYPE_PERF_EVENT_ARRAY;

use super::{map_type_name, MapData, MapError};
use crate::sys::mmap::{page_size, wait_readable, SharedMapping};
use crate::sys::{self, Epoll, MapHandle, SyscallError};

/// Offset of `data_head` in `struct perf_event_mmap_page`.
const DATA_HEAD: usize = 1024;
/// Offset of `data_tail`.
const DATA_TAIL: usize = 1032;
/// Length of `struct perf_event_header` (u32 type, u16 misc, u16 size).
const HEADER_LEN: usize = 8;
/// `PERF_RECORD_LOST`: u64 id, u64 lost.
const PERF_RECORD_LOST: u32 = 2;
/// `PERF_RECORD_SAMPLE`: with `PERF_SAMPLE_RAW` only, u32 size then the raw bytes.
const PERF_RECORD_SAMPLE: u32 = 9;

/// Errors of the perf buffer readers.
///
/// ```no_run
/// # fn f(events: &bpfkit::maps::PerfEventArray<&bpfkit::maps::MapData>) {
/// use bpfkit::maps::PerfBufferError;
/// match events.open_all(3) {
///     Err(PerfBufferError::InvalidPageCount { page_count }) => assert_eq!(page_count, 3),
///     other => panic!("{other:?}"),
/// }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
pub enum PerfBufferError {
    /// The map is not a perf event array (or another map error).
    #[error(transparent)]
    Map(#[from] MapError),
    /// The ring size is not a power of two number of pages.
    #[error(
        "perf buffer page count {page_count} is invalid: the kernel maps a power of two (1, 2, 4, \
         ...) of data pages"
    )]
    InvalidPageCount {
        /// The count asked for.
        page_count: usize,
    },
    /// The CPU has no slot in the map.
    #[error("CPU {cpu} has no slot in perf event array `{name}` ({max_entries} entries)")]
    CpuOutOfRange {
        /// The CPU.
        cpu: u32,
        /// The map's name.
        name: String,
        /// Its number of slots.
        max_entries: u32,
    },
    /// Reading `/sys/devices/system/cpu/online` failed.
    #[error("cannot read the online CPUs: {0}")]
    OnlineCpus(#[source] io::Error),
    /// `perf_event_open` refused the BPF output event.
    #[error("perf_event_open(PERF_COUNT_SW_BPF_OUTPUT) on CPU {cpu}: {source}")]
    PerfEventOpen {
        /// The CPU.
        cpu: u32,
        /// The OS error (EACCES/EPERM: needs CAP_PERFMON or a lower `perf_event_paranoid`).
        #[source]
        source: io::Error,
    },
    /// The ring could not be mapped.
    #[error(
        "mapping the {len}-byte perf ring of CPU {cpu}: {source} (ENOMEM/EPERM: rings beyond \
         /proc/sys/kernel/perf_event_mlock_kb need CAP_IPC_LOCK)"
    )]
    Mmap {
        /// The CPU.
        cpu: u32,
        /// Bytes asked for (metadata page and data pages).
        len: usize,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Storing the event fd in the map failed.
    #[error("storing the perf event of CPU {cpu} in perf event array `{name}`: {source}")]
    SetSlot {
        /// The CPU.
        cpu: u32,
        /// The map's name.
        name: String,
        /// The failed `BPF_MAP_UPDATE_ELEM`.
        #[source]
        source: SyscallError,
    },
    /// Waiting for records failed.
    #[error("{operation} on the perf buffer: {source}")]
    Wait {
        /// `poll`, `epoll_ctl`, `epoll_wait`, ...
        operation: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// What one read pass found.
///
/// ```no_run
/// # fn f(buffers: &mut bpfkit::maps::PerfBuffer) {
/// let events = buffers.read_events(|_cpu, _sample| {});
/// println!("{} samples read, {} lost", events.read, events.lost);
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Events {
    /// Samples handed to the callback.
    pub read: usize,
    /// Samples the kernel dropped because the ring was full, as its `PERF_RECORD_LOST` records
    /// reported during this pass.
    pub lost: u64,
}

/// A view of a `BPF_MAP_TYPE_PERF_EVENT_ARRAY` map that opens perf buffers on it.
///
/// ```no_run
/// # fn f(ebpf: &bpfkit::Ebpf) -> Result<(), Box<dyn std::error::Error>> {
/// use bpfkit::maps::PerfEventArray;
/// use std::time::Duration;
///
/// let events = PerfEventArray::try_from(ebpf.map("events").ok_or("no map")?)?;
/// let mut buffers = events.open_all(8)?; // 8 data pages per online CPU
/// loop {
///     buffers.poll(Some(Duration::from_millis(100)))?;
///     let events = buffers.read_events(|cpu, sample| println!("CPU {cpu}: {} bytes", sample.len()));
///     if events.lost > 0 {
///         eprintln!("{} samples lost", events.lost);
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct PerfEventArray<T> {
    map: T,
}

impl<T: Borrow<MapData>> PerfEventArray<T> {
    fn new(map: T) -> Result<Self, MapError> {
        let data = map.borrow();
        if data.map_type() != BPF_MAP_TYPE_PERF_EVENT_ARRAY {
            return Err(MapError::WrongMapType {
                name: data.name().to_owned(),
                expected: "BPF_MAP_TYPE_PERF_EVENT_ARRAY",
                actual: map_type_name(data.map_type()),
            });
        }
        Ok(PerfEventArray { map })
    }

    /// The map.
    pub fn map(&self) -> &MapData {
        self.map.borrow()
    }

    /// Opens the perf buffer of `cpu`: a BPF output event on that CPU with a ring of
    /// `page_count` data pages (a power of two), stored in slot `cpu` of the map (replacing
    /// what was there). Programs running on that CPU write there from now on.
    ///
    /// The buffer owns a duplicate of the map's fd, so it does not borrow this view.
    pub fn open(
        &self,
        cpu: u32,
        page_count: usize,
    ) -> Result<PerfEventArrayBuffer, PerfBufferError> {
        self.open_with(cpu, page_count, 1)
    }

    /// [`open`](Self::open), waking pollers only every `wakeup_events` samples instead of on
    /// each one: fewer wakeups under load, at the price of samples waiting in the ring until
    /// the count is reached (a poll timeout then still finds them).
    pub fn open_with(
        &self,
        cpu: u32,
        page_count: usize,
        wakeup_events: u32,
    ) -> Result<PerfEventArrayBuffer, PerfBufferError> {
        let data = self.map.borrow();
        if cpu >= data.max_entries() {
            return Err(PerfBufferError::CpuOutOfRange {
                cpu,
                name: data.name().to_owned(),
                max_entries: data.max_entries(),
            });
        }
        let ring_len = ring_len(page_count, page_size())?;
        let event = sys::perf_event_open_bpf_output(cpu, wakeup_events)
            .map_err(|source| PerfBufferError::PerfEventOpen { cpu, source })?;
        let ring = SharedMapping::map(event.as_fd(), ring_len, 0, true).map_err(|source| {
            PerfBufferError::Mmap {
                cpu,
                len: ring_len,
                source,
            }
        })?;
        let map_fd = data
            .fd()
            .try_clone_to_owned()
            .map_err(|source| PerfBufferError::SetSlot {
                cpu,
                name: data.name().to_owned(),
                source: SyscallError {
                    command: "fcntl(F_DUPFD_CLOEXEC)",
                    source,
                },
            })?;
        let mut buffer = PerfEventArrayBuffer {
            cpu,
            ring,
            data_offset: page_size(),
            data_size: (ring_len - page_size()) as u64,
            tail: 0,
            head: 0,
            committed: 0,
            scratch: Vec::new(),
            lost: 0,
            malformed: 0,
            slot: None,
            event,
        };
        // A fresh event's ring starts empty at 0, but read what the kernel says.
        buffer.tail = buffer.ring.load_acquire_u64(DATA_TAIL).unwrap_or(0);
        buffer.head = buffer.tail;
        buffer.committed = buffer.tail;
        let value = (buffer.event.as_raw_fd() as u32).to_ne_bytes();
        sys::map_update_elem(
            &slot_handle(map_fd.as_fd(), data),
            Some(&cpu.to_ne_bytes()),
            &value,
            0,
        )
        .map_err(|source| PerfBufferError::SetSlot {
            cpu,
            name: data.name().to_owned(),
            source,
        })?;
        buffer.slot = Some(Slot {
            map_fd,
            key_size: data.key_size(),
            value_size: data.value_size(),
        });
        Ok(buffer)
    }

    /// Opens a perf buffer on every online CPU ([`open`](Self::open) each), waited on together
    /// by one epoll set.
    pub fn open_all(&self, page_count: usize) -> Result<PerfBuffer, PerfBufferError> {
        self.open_all_with(page_count, 1)
    }

    /// [`open_all`](Self::open_all) with [`open_with`](Self::open_with)'s `wakeup_events`.
    pub fn open_all_with(
        &self,
        page_count: usize,
        wakeup_events: u32,
    ) -> Result<PerfBuffer, PerfBufferError> {
        // Checked first so that a bad count fails before any event is opened.
        ring_len(page_count, page_size())?;
        let cpus = sys::online_cpus().map_err(PerfBufferError::OnlineCpus)?;
        let buffers = cpus
            .into_iter()
            .map(|cpu| self.open_with(cpu, page_count, wakeup_events))
            .collect::<Result<Vec<_>, _>>()?;
        PerfBuffer::from_buffers(buffers)
    }
}

impl<'a> TryFrom<&'a MapData> for PerfEventArray<&'a MapData> {
    type Error = MapError;
    fn try_from(map: &'a MapData) -> Result<Self, MapError> {
        Self::new(map)
    }
}

impl<'a> TryFrom<&'a mut MapData> for PerfEventArray<&'a mut MapData> {
    type Error = MapError;
    fn try_from(map: &'a mut MapData) -> Result<Self, MapError> {
        Self::new(map)
    }
}

impl TryFrom<MapData> for PerfEventArray<MapData> {
    type Error = MapError;
    fn try_from(map: MapData) -> Result<Self, MapError> {
        Self::new(map)
    }
}

/// Bytes to map for `page_count` data pages: the metadata page plus the data pages.
fn ring_len(page_count: usize, page: usize) -> Result<usize, PerfBufferError> {
    let invalid = || PerfBufferError::InvalidPageCount { page_count };
    if !page_count.is_power_of_two() {
        return Err(invalid());
    }
    page_count
        .checked_add(1)
        .and_then(|pages| pages.checked_mul(page))
        .ok_or_else(invalid)
}

/// The element handle of a perf event array through `fd` (key and value: u32).
fn slot_handle<'a>(fd: BorrowedFd<'a>, data: &MapData) -> MapHandle<'a> {
    MapHandle::from_trusted_parts(
        fd,
        data.map_type(),
        data.key_size(),
        data.value_size(),
        data.value_size() as usize,
    )
}

/// The map slot a buffer filled, emptied on drop.
#[derive(Debug)]
struct Slot {
    map_fd: OwnedFd,
    key_size: u32,
    value_size: u32,
}

/// One CPU's perf buffer: its BPF output event, stored in the map, and its mapped ring.
///
/// ```no_run
/// # fn f(events: &bpfkit::maps::PerfEventArray<&bpfkit::maps::MapData>) -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
///
/// let mut cpu0 = events.open(0, 4)?; // CPU 0, 4 data pages
/// cpu0.poll(Some(Duration::from_secs(1)))?;
/// while let Some(sample) = cpu0.next() {
///     println!("{} bytes", sample.len()); // in place in the ring, unless it wrapped around
/// }
/// println!("{} lost so far", cpu0.lost());
/// # Ok(()) }
/// ```
///
/// Dropping it empties its slot of the map (as libbpf's `perf_buffer__free` does): otherwise the
/// map would keep the event, and its ring, alive, and programs would go on filling a ring nobody
/// reads; with the slot empty they get `-ENOENT` instead. (So do not open two buffers on the same
/// CPU of one map: dropping the older one would empty the newer one's slot.) Then the ring is
/// unmapped and the event closed.
///
/// `AsFd` gives the event fd, which polls readable when the kernel wakes readers.
#[derive(Debug)]
pub struct PerfEventArrayBuffer {
    cpu: u32,
    /// Metadata page, then the data pages; read-write (we write `data_tail`).
    ring: SharedMapping,
    /// Offset of the data pages in `ring` (one page).
    data_offset: usize,
    /// Size of the data area (a power of two).
    data_size: u64,
    /// How far records have been consumed.
    tail: u64,
    /// `data_head` as last read: the records before it are readable. Read again only when
    /// `tail` reaches it, so a batch costs one acquire load rather than one per record.
    head: u64,
    /// The position last written to `data_tail`.
    committed: u64,
    /// Where a record that wraps around the end of the ring is reassembled.
    scratch: Vec<u8>,
    /// Samples the kernel reported lost, in total.
    lost: u64,
    /// Records that made no sense (never seen from a real kernel), in total.
    malformed: u64,
    /// Emptied on drop; `None` only while `open` builds the buffer.
    slot: Option<Slot>,
    event: OwnedFd,
}

/// Where a sample's bytes are.
#[derive(Debug, Clone, Copy)]
enum Location {
    /// In the ring, at this offset of the mapping.
    Ring(usize),
    /// In `scratch`, at this offset (the record wrapped).
    Scratch(usize),
}

impl PerfEventArrayBuffer {
    /// The CPU whose samples this buffer receives.
    pub fn cpu(&self) -> u32 {
        self.cpu
    }

    /// Samples the kernel dropped because this ring was full, since the buffer was opened (as
    /// far as its `PERF_RECORD_LOST` records have been read).
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Records skipped because their header made no sense (a corrupted ring); 0 in practice.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// Size of the data area in bytes.
    pub fn size(&self) -> u64 {
        self.data_size
    }

    /// Bytes the kernel has written that are not consumed yet.
    pub fn pending_bytes(&self) -> u64 {
        self.ring
            .load_acquire_u64(DATA_HEAD)
            .map_or(0, |head| head.wrapping_sub(self.tail))
    }

    /// Whether records are waiting.
    pub fn has_pending(&self) -> bool {
        self.pending_bytes() != 0
    }

    /// Writes the consumed position for the kernel, if it moved since the last write.
    #[inline]
    pub fn commit(&mut self) {
        if self.tail != self.committed {
            // The mapping is writable and DATA_TAIL 8-aligned inside it: this cannot fail.
            let _ = self.ring.store_release_u64(DATA_TAIL, self.tail);
            self.committed = self.tail;
        }
    }

    /// Copies `len` bytes at ring position `position` into `out`, across the end if needed.
    fn copy_out(&self, position: u64, out: &mut [u8]) -> Option<()> {
        let offset = (position & (self.data_size - 1)) as usize;
        let first = out.len().min(self.data_size as usize - offset);
        let (head, rest) = out.split_at_mut(first);
        head.copy_from_slice(self.ring.bytes(self.data_offset + offset, first)?);
        rest.copy_from_slice(self.ring.bytes(self.data_offset, rest.len())?);
        Some(())
    }

    /// Gives up on everything written so far (after a record that makes no sense: its size
    /// cannot be trusted to find the next one).
    fn skip_to(&mut self, head: u64) {
        self.malformed += 1;
        self.tail = head;
        self.commit();
    }

    /// The next sample, or `None` when the ring is empty. Lost-record notices are counted in
    /// [`lost`](Self::lost) on the way, other records skipped. The sample borrows the buffer
    /// and lies in the ring itself unless it wraps around the ring's end (then it is copied
    /// once); dropping it consumes it.
    #[allow(clippy::should_implement_trait)] // a lending iterator: samples borrow the buffer
    #[inline]
    pub fn next(&mut self) -> Option<PerfSample<'_>> {
        loop {
            if self.head == self.tail {
                self.head = self.ring.load_acquire_u64(DATA_HEAD)?;
            }
            let head = self.head;
            let available = head.wrapping_sub(self.tail);
            if available == 0 {
                self.commit();
                return None;
            }
            if available > self.data_size {
                // The kernel never gets more than a ring ahead of data_tail.
                self.skip_to(head);
                return None;
            }
            let offset = (self.tail & (self.data_size - 1)) as usize;
            // 8-aligned positions in a ring whose size is a multiple of 8: the header is
            // contiguous, and read in place. (Only a position left unaligned by a record that
            // makes no sense could put it across the end; then it is copied out.)
            let header = match self
                .ring
                .bytes(self.data_offset + offset, HEADER_LEN)
                .filter(|_| offset + HEADER_LEN <= self.data_size as usize)
                .and_then(|bytes| bytes.first_chunk::<HEADER_LEN>())
            {
                Some(bytes) => u64::from_ne_bytes(*bytes),
                None => {
                    let mut bytes = [0u8; HEADER_LEN];
                    self.copy_out(self.tail, &mut bytes)?;
                    u64::from_ne_bytes(bytes)
                }
            };
            // `struct perf_event_header { u32 type; u16 misc; u16 size; }`, native-endian.
            let header = header.to_ne_bytes();
            let kind = u32::from_ne_bytes([header[0], header[1], header[2], header[3]]);
            let size = u64::from(u16::from_ne_bytes([header[6], header[7]]));
            if size < HEADER_LEN as u64 || size > available {
                self.skip_to(head);
                return None;
            }
            let record_end = self.tail + size;
            match kind {
                PERF_RECORD_SAMPLE => {
                    let body_len = size as usize - HEADER_LEN;
                    let location = if offset + size as usize <= self.data_size as usize {
                        Location::Ring(self.data_offset + offset + HEADER_LEN)
                    } else {
                        // The record wraps: reassemble its body (after the header).
                        let mut scratch = std::mem::take(&mut self.scratch);
                        scratch.resize(body_len, 0);
                        let copied = self.copy_out(self.tail + HEADER_LEN as u64, &mut scratch);
                        self.scratch = scratch;
                        copied?;
                        Location::Scratch(0)
                    };
                    let body = self.body(location, body_len)?;
                    let raw_len = body
                        .get(..4)
                        .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize)
                        // get(..4) succeeded, so body_len >= 4.
                        .filter(|&len| len <= body_len - 4);
                    let Some(len) = raw_len else {
                        self.malformed += 1;
                        self.tail = record_end;
                        continue;
                    };
                    let start = match location {
                        Location::Ring(at) => Location::Ring(at + 4),
                        Location::Scratch(at) => Location::Scratch(at + 4),
                    };
                    return Some(PerfSample {
                        buffer: self,
                        start,
                        len,
                        record_end,
                    });
                }
                PERF_RECORD_LOST => {
                    let mut body = [0u8; 16];
                    if size < (HEADER_LEN + 16) as u64 {
                        self.malformed += 1;
                    } else {
                        self.copy_out(self.tail + HEADER_LEN as u64, &mut body)?;
                        let mut count = [0u8; 8];
                        count.copy_from_slice(&body[8..16]);
                        self.lost = self.lost.saturating_add(u64::from_ne_bytes(count));
                    }
                    self.tail = record_end;
                }
                _ => self.tail = record_end,
            }
        }
    }

    /// The `len` bytes at `location`.
    #[inline]
    fn body(&self, location: Location, len: usize) -> Option<&[u8]> {
        match location {
            Location::Ring(at) => self.ring.bytes(at, len),
            Location::Scratch(at) => self.scratch.get(at..at.checked_add(len)?),
        }
    }

    /// Calls `each` with every sample ready now, in order; returns how many there were and how
    /// many the kernel reported lost meanwhile.
    #[inline]
    pub fn read_events(&mut self, mut each: impl FnMut(&[u8])) -> Events {
        let lost_before = self.lost;
        let mut read = 0;
        while let Some(sample) = self.next() {
            each(&sample);
            read += 1;
        }
        Events {
            read,
            lost: self.lost - lost_before,
        }
    }

    /// Waits until records are waiting or `timeout` passes (`None`: no limit); returns whether
    /// records are waiting (or the kernel woke us). Read them all with [`next`](Self::next)
    /// before waiting again: the kernel signals each wakeup once.
    pub fn poll(&mut self, timeout: Option<Duration>) -> Result<bool, PerfBufferError> {
        self.commit();
        if self.has_pending() {
            return Ok(true);
        }
        let woken =
            wait_readable(self.event.as_fd(), timeout).map_err(|source| PerfBufferError::Wait {
                operation: "poll",
                source,
            })?;
        Ok(woken || self.has_pending())
    }
}

impl AsFd for PerfEventArrayBuffer {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.event.as_fd()
    }
}

impl Drop for PerfEventArrayBuffer {
    fn drop(&mut self) {
        self.commit();
        if let Some(slot) = &self.slot {
            let handle = MapHandle::from_trusted_parts(
                slot.map_fd.as_fd(),
                BPF_MAP_TYPE_PERF_EVENT_ARRAY,
                slot.key_size,
                slot.value_size,
                slot.value_size as usize,
            );
            // Already empty (someone else cleared it) or the map is gone: nothing to undo.
            let _ = sys::map_delete_elem(&handle, &self.cpu.to_ne_bytes());
        }
        // Then `ring` is unmapped and `event` closed, as the fields drop.
    }
}

/// One sample, read in place (or from the reassembly buffer when it wrapped); consumed when
/// dropped.
///
/// ```no_run
/// # fn f(buffer: &mut bpfkit::maps::PerfEventArrayBuffer) {
/// if let Some(sample) = buffer.next() {
///     let bytes: &[u8] = &sample; // derefs to the raw bytes, kernel padding included
///     println!("{bytes:02x?}");
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct PerfSample<'a> {
    buffer: &'a mut PerfEventArrayBuffer,
    start: Location,
    len: usize,
    record_end: u64,
}

impl PerfSample<'_> {
    /// Whether the sample wrapped around the end of the ring and was copied to be contiguous.
    pub fn was_copied(&self) -> bool {
        matches!(self.start, Location::Scratch(_))
    }
}

impl Deref for PerfSample<'_> {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        // Checked in `next`; the kernel does not overwrite the record before data_tail passes it,
        // which happens only after this sample is dropped.
        self.buffer.body(self.start, self.len).unwrap_or(&[])
    }
}

impl Drop for PerfSample<'_> {
    #[inline]
    fn drop(&mut self) {
        let buffer = &mut *self.buffer;
        buffer.tail = self.record_end;
        // A long batch gives space back now and then, so the kernel does not drop samples.
        if buffer.tail.wrapping_sub(buffer.committed) > buffer.data_size / 4 {
            buffer.commit();
        }
    }
}

/// Perf buffers of several CPUs (normally every online CPU, from [`PerfEventArray::open_all`]),
/// waited on with one epoll set.
///
/// ```no_run
/// # fn f(ebpf: &bpfkit::Ebpf) -> Result<(), Box<dyn std::error::Error>> {
/// use bpfkit::maps::PerfEventArray;
/// use std::time::Duration;
///
/// let mut buffers = PerfEventArray::try_from(ebpf.map("events").ok_or("no map")?)?.open_all(4)?;
/// while buffers.poll(Some(Duration::from_secs(1)))? {
///     for buffer in buffers.buffers_mut() {
///         let cpu = buffer.cpu();
///         while let Some(sample) = buffer.next() {
///             println!("CPU {cpu}: {:?}", &sample[..]);
///         }
///     }
/// }
/// # Ok(()) }
/// ```
///
/// `AsFd` gives the epoll fd, readable while any CPU's ring is: one fd for another epoll set or
/// an async reactor.
#[derive(Debug)]
pub struct PerfBuffer {
    buffers: Vec<PerfEventArrayBuffer>,
    epoll: Epoll,
}

impl PerfBuffer {
    /// Waits on `buffers` together (one epoll set over their event fds).
    pub fn from_buffers(buffers: Vec<PerfEventArrayBuffer>) -> Result<PerfBuffer, PerfBufferError> {
        let wait_error = |operation| move |source| PerfBufferError::Wait { operation, source };
        let mut epoll = Epoll::new().map_err(wait_error("epoll_create1"))?;
        for (index, buffer) in buffers.iter().enumerate() {
            epoll
                .add(buffer.as_fd(), index as u64)
                .map_err(wait_error("epoll_ctl"))?;
        }
        Ok(PerfBuffer { buffers, epoll })
    }

    /// The per-CPU buffers.
    pub fn buffers(&self) -> &[PerfEventArrayBuffer] {
        &self.buffers
    }

    /// The per-CPU buffers, to read one by one.
    pub fn buffers_mut(&mut self) -> &mut [PerfEventArrayBuffer] {
        &mut self.buffers
    }

    /// Takes the per-CPU buffers back (for example to hand each to its own thread or task).
    pub fn into_buffers(self) -> Vec<PerfEventArrayBuffer> {
        self.buffers
    }

    /// Whether any ring has records waiting.
    pub fn has_pending(&self) -> bool {
        self.buffers.iter().any(PerfEventArrayBuffer::has_pending)
    }

    /// Samples lost on all CPUs so far (as reported by the records read).
    pub fn lost(&self) -> u64 {
        self.buffers.iter().map(PerfEventArrayBuffer::lost).sum()
    }

    /// Waits until some ring has records or `timeout` passes (`None`: no limit); returns
    /// whether records are waiting. Read every buffer before waiting again
    /// ([`read_events`](Self::read_events)): the kernel signals each wakeup once.
    pub fn poll(&mut self, timeout: Option<Duration>) -> Result<bool, PerfBufferError> {
        for buffer in &mut self.buffers {
            buffer.commit();
        }
        if self.has_pending() {
            return Ok(true);
        }
        // Which fds were reported matters little: a wakeup can be consumed by someone polling
        // the epoll fd itself, so every ring is checked afterwards anyway.
        self.epoll
            .wait(timeout, |_| {})
            .map_err(|source| PerfBufferError::Wait {
                operation: "epoll_wait",
                source,
            })?;
        Ok(self.has_pending())
    }

    /// Calls `each(cpu, sample)` with every sample ready now, CPU by CPU, each CPU's in
    /// order; returns how many there were and how many the kernel reported lost meanwhile.
    pub fn read_events(&mut self, mut each: impl FnMut(u32, &[u8])) -> Events {
        let mut total = Events::default();
        for buffer in &mut self.buffers {
            let cpu = buffer.cpu;
            let events = buffer.read_events(|sample| each(cpu, sample));
            total.read += events.read;
            total.lost += events.lost;
        }
        total
    }
}

impl AsFd for PerfBuffer {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_lengths() {
        assert_eq!(ring_len(1, 4096).ok(), Some(8192));
        assert_eq!(ring_len(8, 4096).ok(), Some(9 * 4096));
        for bad in [0, 3, 6, 100] {
            assert!(
                matches!(ring_len(bad, 4096), Err(PerfBufferError::InvalidPageCount { page_count }) if page_count == bad),
                "{bad}"
            );
        }
        assert!(ring_len(1 << (usize::BITS - 1), 4096).is_err(), "overflow");
        let message = ring_len(3, 4096).unwrap_err().to_string();
        assert!(message.contains("power of two"), "{message}");
    }
}
