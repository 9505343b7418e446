//! `RingBuf`: reading a `BPF_MAP_TYPE_RINGBUF` map from user space, without copies.
//!
//! The kernel lets user space map a ring buffer in two parts: the consumer page (the position
//! up to which user space has read), read-write; and the producer page (the position up to
//! which programs have reserved) followed by the data area, read-only. The data area is mapped
//! twice in a row, so a record that wraps around the end is still contiguous.
//!
//! Each record starts with an 8-byte header: a u32 length whose bit 31 says the record is
//! still being written (`BUSY`) and bit 30 that it was discarded (`DISCARD`), then a u32 the
//! kernel uses to find its page. Records are padded to 8 bytes.
//!
//! The consumer position is what tells the kernel that space can be reused, and writing it is
//! a store to memory the kernel reads on every reservation. So the position is kept locally
//! while samples are consumed and written once per batch: when the ring is found empty (this
//! is also what re-arms the kernel's wakeups), when a batch has consumed a quarter of the ring,
//! on [`RingBuf::commit`] and when the reader is dropped.

use std::borrow::Borrow;
use std::io;
use std::ops::Deref;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use bpfkit_obj::uapi::map_type::BPF_MAP_TYPE_RINGBUF;

use super::{map_type_name, MapData, MapError};
use crate::sys::mmap::{page_size, wait_readable, SharedMapping};
use crate::sys::SyscallError;

/// Bit 31 of a record's length: the producer has not submitted or discarded it yet.
const BUSY_BIT: u32 = 1 << 31;
/// Bit 30: the record was discarded; skip it.
const DISCARD_BIT: u32 = 1 << 30;
/// Length of the kernel's record header.
const RECORD_HEADER_LEN: u64 = 8;

/// What the length word of a record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecordHeader {
    /// Still being written: stop here, the records after it are not readable yet either.
    Busy,
    /// Discarded: skip `total` bytes.
    Discarded {
        /// Header plus padded sample.
        total: u64,
    },
    /// A sample of `len` bytes; the next record starts `total` bytes further.
    Ready {
        /// Sample length.
        len: u32,
        /// Header plus padded sample.
        total: u64,
    },
}

/// Decodes a record's length word.
fn parse_header(word: u32) -> RecordHeader {
    if word & BUSY_BIT != 0 {
        return RecordHeader::Busy;
    }
    let len = word & !(BUSY_BIT | DISCARD_BIT);
    let total = (u64::from(len) + RECORD_HEADER_LEN + 7) & !7;
    if word & DISCARD_BIT != 0 {
        RecordHeader::Discarded { total }
    } else {
        RecordHeader::Ready { len, total }
    }
}

/// Turns an mmap failure into the maps API's error.
fn mmap_error(source: io::Error) -> MapError {
    MapError::Syscall(SyscallError {
        command: "mmap",
        source,
    })
}

/// A reader of a `BPF_MAP_TYPE_RINGBUF` map.
///
/// ```no_run
/// # fn f(ebpf: &mut bpfkit::Ebpf) -> Result<(), bpfkit::maps::MapError> {
/// use bpfkit::maps::RingBuf;
/// use std::time::Duration;
///
/// let mut events = RingBuf::try_from(ebpf.take_map("events").unwrap())?;
/// loop {
///     events.poll(Some(Duration::from_millis(100)))?;
///     while let Some(sample) = events.next() {
///         println!("{} bytes", sample.len()); // `sample` borrows the ring: no copy
///     }
/// }
/// # }
/// ```
///
/// `AsFd` gives the map's fd, which becomes readable when records arrive, for an epoll set or
/// an async runtime.
#[derive(Debug)]
pub struct RingBuf<T> {
    map: T,
    /// The consumer page, read-write.
    consumer: SharedMapping,
    /// The producer page, then the data area twice.
    producer: SharedMapping,
    /// Offset of the data area in `producer` (one page).
    data_offset: usize,
    /// Size of the data area minus one (the size is a power of two).
    mask: u64,
    /// How far samples have been consumed.
    position: u64,
    /// The producer position as last read: records before it have been reserved. Read again
    /// only when `position` reaches it, so a batch costs one acquire load of it rather than one
    /// per record (each record's own header is still read with acquire ordering: that is what
    /// says it is complete).
    produced: u64,
    /// The position last written to the consumer page.
    committed: u64,
}

impl<T: Borrow<MapData>> RingBuf<T> {
    fn new(map: T) -> Result<Self, MapError> {
        let data = map.borrow();
        if data.map_type() != BPF_MAP_TYPE_RINGBUF {
            return Err(MapError::WrongMapType {
                name: data.name().to_owned(),
                expected: "BPF_MAP_TYPE_RINGBUF",
                actual: map_type_name(data.map_type()),
            });
        }
        let size = data.max_entries() as usize;
        let page = page_size();
        let consumer = SharedMapping::map(data.fd(), page, 0, true).map_err(mmap_error)?;
        let producer_len = size
            .checked_mul(2)
            .and_then(|len| len.checked_add(page))
            .ok_or_else(|| mmap_error(io::Error::other("ring buffer too large to map")))?;
        let producer =
            SharedMapping::map(data.fd(), producer_len, page, false).map_err(mmap_error)?;
        let position = consumer
            .load_acquire_u64(0)
            .ok_or_else(|| mmap_error(io::Error::other("consumer page too small")))?;
        Ok(RingBuf {
            map,
            consumer,
            producer,
            data_offset: page,
            mask: (size as u64).wrapping_sub(1),
            position,
            produced: position,
            committed: position,
        })
    }

    /// The map.
    pub fn map(&self) -> &MapData {
        self.map.borrow()
    }

    /// The next sample, or `None` when none is ready (the ring is empty, or the oldest record
    /// is still being written). Discarded records are skipped. The sample borrows the ring;
    /// dropping it consumes it.
    #[allow(clippy::should_implement_trait)] // a lending iterator: samples borrow the ring
    #[inline]
    pub fn next(&mut self) -> Option<RingBufItem<'_, T>> {
        loop {
            if self.position >= self.produced {
                self.produced = self.producer.load_acquire_u64(0)?;
                if self.position >= self.produced {
                    self.commit();
                    return None;
                }
            }
            let header_at = self.data_offset + (self.position & self.mask) as usize;
            let word = self.producer.load_acquire_u32(header_at)?;
            match parse_header(word) {
                RecordHeader::Busy => {
                    self.commit();
                    return None;
                }
                RecordHeader::Discarded { total } => self.position += total,
                RecordHeader::Ready { len, total } => {
                    let start = header_at + RECORD_HEADER_LEN as usize;
                    // Inside the double mapping for any sane length; a length past it would be
                    // a kernel bug, reported as an empty ring rather than a panic.
                    self.producer.bytes(start, len as usize)?;
                    return Some(RingBufItem {
                        next_position: self.position + total,
                        start,
                        len: len as usize,
                        ring: self,
                    });
                }
            }
        }
    }

    /// Writes the consumed position for the kernel, if it moved since the last write.
    #[inline]
    pub fn commit(&mut self) {
        if self.position != self.committed {
            // The consumer page is writable and 8 aligned at 0: this cannot fail.
            let _ = self.consumer.store_release_u64(0, self.position);
            self.committed = self.position;
        }
    }

    /// Bytes waiting to be read (the producer's position minus ours).
    pub fn pending_bytes(&self) -> u64 {
        self.producer
            .load_acquire_u64(0)
            .map_or(0, |produced| produced.saturating_sub(self.position))
    }

    /// Whether [`next`](Self::next) has something to look at: records were produced past our
    /// position and the oldest is not still being written. (A discarded oldest record counts:
    /// `next` then skips it, and may find nothing after it.)
    #[cfg(any(feature = "tokio", feature = "async-io"))]
    pub(crate) fn has_ready(&self) -> bool {
        let Some(produced) = self.producer.load_acquire_u64(0) else {
            return false;
        };
        if self.position >= produced {
            return false;
        }
        let header_at = self.data_offset + (self.position & self.mask) as usize;
        self.producer
            .load_acquire_u32(header_at)
            .is_some_and(|word| parse_header(word) != RecordHeader::Busy)
    }

    /// Waits until records are ready or `timeout` passes (`None`: no limit); returns whether
    /// records are ready. Call [`next`](Self::next) until it returns `None` before waiting
    /// again: the kernel wakes readers only after they have caught up.
    pub fn poll(&mut self, timeout: Option<Duration>) -> Result<bool, MapError> {
        self.commit();
        if self.pending_bytes() > 0 {
            return Ok(true);
        }
        wait_readable(self.map.borrow().fd(), timeout).map_err(|source| {
            MapError::Syscall(SyscallError {
                command: "poll",
                source,
            })
        })
    }
}

impl<T> Drop for RingBuf<T> {
    fn drop(&mut self) {
        if self.position != self.committed {
            let _ = self.consumer.store_release_u64(0, self.position);
        }
    }
}

impl<T: Borrow<MapData>> AsFd for RingBuf<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.map.borrow().fd()
    }
}

impl<'a> TryFrom<&'a MapData> for RingBuf<&'a MapData> {
    type Error = MapError;
    fn try_from(map: &'a MapData) -> Result<Self, MapError> {
        Self::new(map)
    }
}

impl<'a> TryFrom<&'a mut MapData> for RingBuf<&'a mut MapData> {
    type Error = MapError;
    fn try_from(map: &'a mut MapData) -> Result<Self, MapError> {
        Self::new(map)
    }
}

impl TryFrom<MapData> for RingBuf<MapData> {
    type Error = MapError;
    fn try_from(map: MapData) -> Result<Self, MapError> {
        Self::new(map)
    }
}

/// One sample, read in place in the ring; consumed when dropped.
#[derive(Debug)]
pub struct RingBufItem<'a, T> {
    ring: &'a mut RingBuf<T>,
    start: usize,
    len: usize,
    next_position: u64,
}

impl<T> Deref for RingBufItem<'_, T> {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        // Checked in `next`; the kernel does not write the sample until we move past it.
        self.ring
            .producer
            .bytes(self.start, self.len)
            .unwrap_or(&[])
    }
}

impl<T> Drop for RingBufItem<'_, T> {
    #[inline]
    fn drop(&mut self) {
        let ring = &mut *self.ring;
        ring.position = self.next_position;
        // A long batch gives space back now and then, so that producers do not stall.
        if ring.position.wrapping_sub(ring.committed) > (ring.mask + 1) / 4 {
            let _ = ring.consumer.store_release_u64(0, ring.position);
            ring.committed = ring.position;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_headers_decode() {
        assert_eq!(parse_header(BUSY_BIT | 16), RecordHeader::Busy);
        assert_eq!(
            parse_header(BUSY_BIT | DISCARD_BIT | 16),
            RecordHeader::Busy
        );
        assert_eq!(
            parse_header(DISCARD_BIT | 5),
            RecordHeader::Discarded { total: 16 }
        );
        assert_eq!(parse_header(32), RecordHeader::Ready { len: 32, total: 40 });
        assert_eq!(parse_header(1), RecordHeader::Ready { len: 1, total: 16 });
        assert_eq!(parse_header(0), RecordHeader::Ready { len: 0, total: 8 });
        // The largest length the bits allow does not overflow.
        assert_eq!(
            parse_header(DISCARD_BIT - 1),
            RecordHeader::Ready {
                len: DISCARD_BIT - 1,
                total: u64::from(DISCARD_BIT) + 8
            }
        );
    }
}
