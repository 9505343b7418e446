//! Memory mappings: read-only mappings of files, so large read-only inputs (kernel BTF: ~5 MB) are used
//! where they lie instead of being copied onto the heap.
//!
//! `/sys/kernel/btf/vmlinux` can be mapped since Linux 6.16; the kernel then hands out its own
//! BTF pages, which are neither copied nor counted as the process's resident memory.
//!
//! [`SharedMapping`] maps BPF ring buffers (shared with the kernel), read by
//! `maps::RingBuf`.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// A private, read-only mapping of a whole file, unmapped on drop.
#[derive(Debug)]
pub struct Mmap {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is PROT_READ and MAP_PRIVATE: nothing (in this process) writes through it,
// so shared references to its bytes from any thread are sound; `Mmap` only hands out `&[u8]`.
unsafe impl Send for Mmap {}
// SAFETY: as above, the bytes are immutable for the mapping's whole life.
unsafe impl Sync for Mmap {}

impl Mmap {
    /// Maps the whole of `file` (its length as `fstat` reports it) read-only and private.
    ///
    /// Fails with `InvalidInput` for an empty file (nothing to map), and with the kernel's error
    /// when the file does not support `mmap` (sysfs BTF before 6.16): read it instead then.
    pub fn map(file: &File) -> io::Result<Mmap> {
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file too large to map"))?;
        if len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "empty file: nothing to map",
            ));
        }
        // SAFETY: a fresh mapping chosen by the kernel (address hint null), so no existing memory
        // is replaced; `fd` is valid for the call (borrowed from `file`); the result is checked
        // against MAP_FAILED before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast::<u8>())
            .ok_or_else(|| io::Error::other("mmap returned a null mapping"))?;
        Ok(Mmap { ptr, len })
    }

    /// Length of the mapping in bytes (the file's length).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty (never: empty files are refused).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl AsRef<[u8]> for Mmap {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `ptr` points to `len` readable bytes mapped by `map` and kept mapped until
        // `drop`; they are never written (PROT_READ), and the returned slice borrows `self`, so it
        // cannot outlive the mapping. Bytes past the end of the file within the last page are
        // not part of the slice. (A file truncated while mapped would raise SIGBUS on access:
        // sysfs BTF files never change size, and other callers map files they own.)
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly the mapping created in `map`, unmapped only here; no
        // borrowed slice can outlive `self`.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// A shared mapping of part of a BPF map (a ring buffer's consumer page, or its producer page
/// and data area), unmapped on drop.
///
/// The kernel writes the memory while it is mapped, so its position words are only read and
/// written atomically ([`load_acquire_u64`](SharedMapping::load_acquire_u64) ...), as the
/// ring buffer protocol requires (libbpf uses `smp_load_acquire` / `smp_store_release`).
#[derive(Debug)]
pub struct SharedMapping {
    ptr: NonNull<u8>,
    len: usize,
    writable: bool,
}

// SAFETY: every access goes through atomics or through slices whose bytes the ring buffer
// protocol keeps unchanged while they are borrowed; the pointer itself is just an address.
unsafe impl Send for SharedMapping {}
// SAFETY: as above.
unsafe impl Sync for SharedMapping {}

/// The system's page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}

impl SharedMapping {
    /// Maps `len` bytes of `fd` from `offset` (a multiple of the page size), `MAP_SHARED`,
    /// read-write when `writable` else read-only.
    pub fn map(
        fd: BorrowedFd<'_>,
        len: usize,
        offset: usize,
        writable: bool,
    ) -> io::Result<SharedMapping> {
        if len == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty mapping"));
        }
        let offset = libc::off_t::try_from(offset)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset too large"))?;
        let protection = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        // SAFETY: a fresh mapping chosen by the kernel (null hint), replacing nothing; the fd is
        // valid for the call; the result is checked against MAP_FAILED before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                protection,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                offset,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast::<u8>())
            .ok_or_else(|| io::Error::other("mmap returned a null mapping"))?;
        Ok(SharedMapping { ptr, len, writable })
    }

    /// Length of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty (never: empty mappings are refused).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The address of `size` bytes at `offset`, when they lie inside the mapping and
    /// `offset` is a multiple of `size` (so that atomics on it are aligned: the mapping starts
    /// on a page boundary).
    // Inlined: readers call these once or twice per record, from other crates' loops.
    #[inline]
    fn aligned(&self, offset: usize, size: usize) -> Option<*mut u8> {
        let end = offset.checked_add(size)?;
        if end > self.len || offset % size != 0 {
            return None;
        }
        // SAFETY: offset + size <= len, so the result stays inside the mapping.
        Some(unsafe { self.ptr.as_ptr().add(offset) })
    }

    /// Reads the u64 at `offset` with acquire ordering; `None` when out of range or unaligned.
    #[inline]
    pub fn load_acquire_u64(&self, offset: usize) -> Option<u64> {
        let ptr = self.aligned(offset, 8)?;
        // SAFETY: 8 aligned bytes inside the mapping, which lives as long as `self`; the kernel
        // writes them concurrently, so they are accessed only as an atomic.
        let atomic = unsafe { &*(ptr as *const AtomicU64) };
        Some(atomic.load(Ordering::Acquire))
    }

    /// Reads the u32 at `offset` with acquire ordering; `None` when out of range or unaligned.
    #[inline]
    pub fn load_acquire_u32(&self, offset: usize) -> Option<u32> {
        let ptr = self.aligned(offset, 4)?;
        // SAFETY: as in load_acquire_u64, for 4 aligned bytes.
        let atomic = unsafe { &*(ptr as *const AtomicU32) };
        Some(atomic.load(Ordering::Acquire))
    }

    /// Writes the u64 at `offset` with release ordering; `None` when out of range, unaligned or
    /// the mapping is read-only.
    #[inline]
    pub fn store_release_u64(&self, offset: usize, value: u64) -> Option<()> {
        if !self.writable {
            return None;
        }
        let ptr = self.aligned(offset, 8)?;
        // SAFETY: 8 aligned bytes inside a writable mapping that lives as long as `self`,
        // shared with the kernel and therefore accessed only as an atomic.
        let atomic = unsafe { &*(ptr as *const AtomicU64) };
        atomic.store(value, Ordering::Release);
        Some(())
    }

    /// The `len` bytes at `offset`, when inside the mapping.
    ///
    /// The caller vouches that nobody writes them while the slice is borrowed: for a ring
    /// buffer, a committed sample the consumer position has not passed yet.
    #[inline]
    pub fn bytes(&self, offset: usize, len: usize) -> Option<&[u8]> {
        let end = offset.checked_add(len)?;
        if end > self.len {
            return None;
        }
        // SAFETY: the range lies inside the mapping, which outlives the borrow of `self`; the
        // kernel does not write a ring buffer sample until the consumer position passes it,
        // which the caller does only after dropping the slice.
        Some(unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(offset), len) })
    }
}

impl Drop for SharedMapping {
    fn drop(&mut self) {
        // SAFETY: exactly the mapping created in `map`, unmapped only here; no borrow of it
        // outlives `self`.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// Waits until `fd` is readable (a ring buffer map fd: records are available), for at most
/// `timeout` (`None`: no limit). Returns whether it became readable; EINTR counts as "not yet".
pub fn wait_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    let millis = match timeout {
        None => -1,
        Some(timeout) => libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX),
    };
    let mut poll_fd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd that lives across the call, with the count 1.
    let ret = unsafe { libc::poll(&mut poll_fd, 1, millis) };
    if ret < 0 {
        let error = io::Error::last_os_error();
        if error.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(error);
    }
    Ok(ret > 0 && poll_fd.revents & libc::POLLIN != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn maps_a_regular_file() {
        let path = std::env::temp_dir().join(format!("bpfkit-mmap-{}", std::process::id()));
        struct Remove<'a>(&'a std::path::Path);
        impl Drop for Remove<'_> {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(self.0);
            }
        }
        let _cleanup = Remove(&path);
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(b"hello mapping"))
            .expect("write temp file");
        let map = Mmap::map(&File::open(&path).expect("open")).expect("map");
        assert_eq!(map.as_ref(), b"hello mapping");
        assert_eq!(map.len(), 13);

        std::fs::File::create(&path).expect("truncate");
        let empty = Mmap::map(&File::open(&path).expect("open"));
        assert_eq!(
            empty.map(|_| ()).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }
}
