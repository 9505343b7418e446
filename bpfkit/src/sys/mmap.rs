//! Read-only memory mappings of files, so large read-only inputs (kernel BTF: ~5 MB) are used
//! where they lie instead of being copied onto the heap.
//!
//! `/sys/kernel/btf/vmlinux` can be mapped since Linux 6.16; the kernel then hands out its own
//! BTF pages, which are neither copied nor counted as the process's resident memory.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;

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
