//! A minimal AF_XDP socket for the kernel tests (test code only: bpfkit itself has no AF_XDP
//! support): a UMEM of [`FRAMES`] frames, a fill ring holding all of them, a receive ring, and a
//! completion ring (which the kernel requires before binding, though nothing is sent here).
//! The socket is bound in copy mode (`XDP_COPY`), which works on any device and with an XDP
//! program attached in generic (skb) mode.
//!
//! Everything is released when the [`XskSocket`] drops, on every path: the socket is closed
//! first (the kernel stops writing to the rings and the UMEM), then the rings and the UMEM are
//! unmapped.

use std::ffi::c_void;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Frames in the UMEM, and entries in each ring (a power of two, as rings must have).
pub const FRAMES: u32 = 16;
/// Size of a UMEM frame (a chunk: a power of two between 2048 and the page size).
pub const FRAME_SIZE: u32 = 4096;

/// A memory mapping, unmapped on drop.
struct Mapping {
    address: NonNull<u8>,
    len: usize,
}

impl Mapping {
    /// Maps `len` bytes: anonymous memory with `fd` `None`, else the region of `fd` at `offset`
    /// (an AF_XDP ring), shared and prefaulted.
    fn new(len: usize, fd: Option<BorrowedFd<'_>>, offset: libc::off_t) -> io::Result<Mapping> {
        let (flags, raw_fd) = match fd {
            Some(fd) => (libc::MAP_SHARED | libc::MAP_POPULATE, fd.as_raw_fd()),
            None => (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1),
        };
        // SAFETY: a new mapping at an address the kernel picks, so no existing memory is
        // affected; the result is checked before use and unmapped only by Drop.
        let address = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                raw_fd,
                offset,
            )
        };
        if address == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let address = NonNull::new(address.cast::<u8>())
            .ok_or_else(|| io::Error::other("mmap returned a null address"))?;
        Ok(Mapping { address, len })
    }

    /// A pointer `offset` bytes into the mapping.
    fn at(&self, offset: u64) -> *mut u8 {
        let offset = usize::try_from(offset).expect("an offset that fits in usize");
        assert!(
            offset < self.len,
            "offset {offset} outside a mapping of {}",
            self.len
        );
        // SAFETY: inside the mapping, as just checked.
        unsafe { self.address.as_ptr().add(offset) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once; no reference into it outlives
        // the struct that owns it.
        unsafe { libc::munmap(self.address.as_ptr().cast::<c_void>(), self.len) };
    }
}

/// One mapped AF_XDP ring: a producer index, a consumer index and `FRAMES` entries of `T`.
struct Ring<T> {
    mapping: Mapping,
    offsets: libc::xdp_ring_offset,
    _entry: std::marker::PhantomData<T>,
}

impl<T: Copy> Ring<T> {
    /// Maps the ring at page offset `pgoff` of the socket, laid out as `offsets` says.
    fn map(
        fd: BorrowedFd<'_>,
        offsets: libc::xdp_ring_offset,
        pgoff: libc::off_t,
    ) -> io::Result<Ring<T>> {
        let len = offsets.desc as usize + FRAMES as usize * size_of::<T>();
        Ok(Ring {
            mapping: Mapping::new(len, Some(fd), pgoff)?,
            offsets,
            _entry: std::marker::PhantomData,
        })
    }

    /// The ring's index at `offset`, shared with the kernel.
    fn index(&self, offset: u64) -> &AtomicU32 {
        // SAFETY: the kernel places the u32 producer and consumer indexes 4-aligned inside the
        // mapping, which lives as long as `self`; AtomicU32 has u32's layout, and the kernel
        // only accesses them atomically too (smp_load_acquire / smp_store_release).
        unsafe { &*self.mapping.at(offset).cast::<AtomicU32>() }
    }

    fn producer(&self) -> &AtomicU32 {
        self.index(self.offsets.producer)
    }

    fn consumer(&self) -> &AtomicU32 {
        self.index(self.offsets.consumer)
    }

    /// A pointer to entry `index` (taken modulo the ring size).
    fn entry(&self, index: u32) -> *mut T {
        let slot = u64::from(index % FRAMES) * size_of::<T>() as u64;
        self.mapping.at(self.offsets.desc + slot).cast::<T>()
    }
}

/// An AF_XDP socket bound to one queue of one interface, with its UMEM and rings.
pub struct XskSocket {
    // Dropped first: closing the socket detaches it from the rings and the UMEM.
    fd: OwnedFd,
    rx: Ring<libc::xdp_desc>,
    fill: Ring<u64>,
    umem: Mapping,
}

impl XskSocket {
    /// Creates an AF_XDP socket in the calling thread's network namespace and binds it in copy
    /// mode to queue `queue` of interface `ifindex`, with every UMEM frame in the fill ring.
    pub fn bind(ifindex: u32, queue: u32) -> io::Result<XskSocket> {
        // SAFETY: socket takes no pointers; the result is checked.
        let raw = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(context("socket(AF_XDP)"));
        }
        // SAFETY: a new fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        let umem = Mapping::new((FRAMES * FRAME_SIZE) as usize, None, 0)
            .map_err(|e| with_context("mmap of the UMEM", e))?;
        let registration = libc::xdp_umem_reg {
            addr: umem.address.as_ptr() as u64,
            len: umem.len as u64,
            chunk_size: FRAME_SIZE,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        };
        set_option(
            fd.as_fd(),
            libc::XDP_UMEM_REG,
            &registration,
            "XDP_UMEM_REG",
        )?;
        for (option, name) in [
            (libc::XDP_UMEM_FILL_RING, "XDP_UMEM_FILL_RING"),
            (libc::XDP_UMEM_COMPLETION_RING, "XDP_UMEM_COMPLETION_RING"),
            (libc::XDP_RX_RING, "XDP_RX_RING"),
        ] {
            set_option(fd.as_fd(), option, &(FRAMES as libc::c_int), name)?;
        }

        let offsets = mmap_offsets(fd.as_fd())?;
        let rx = Ring::map(fd.as_fd(), offsets.rx, libc::XDP_PGOFF_RX_RING)
            .map_err(|e| with_context("mmap of the RX ring", e))?;
        let fill = Ring::map(
            fd.as_fd(),
            offsets.fr,
            libc::XDP_UMEM_PGOFF_FILL_RING as libc::off_t,
        )
        .map_err(|e| with_context("mmap of the fill ring", e))?;
        let socket = XskSocket { fd, rx, fill, umem };
        // Every frame is free for the kernel to receive into.
        for frame in 0..FRAMES {
            socket.give_frame(u64::from(frame * FRAME_SIZE));
        }

        let address = libc::sockaddr_xdp {
            sxdp_family: libc::AF_XDP as u16,
            sxdp_flags: libc::XDP_COPY,
            sxdp_ifindex: ifindex,
            sxdp_queue_id: queue,
            sxdp_shared_umem_fd: 0,
        };
        // SAFETY: address is a sockaddr_xdp of the length passed, alive for the call.
        let rc = unsafe {
            libc::bind(
                socket.fd.as_raw_fd(),
                (&address as *const libc::sockaddr_xdp).cast::<libc::sockaddr>(),
                size_of::<libc::sockaddr_xdp>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(context(&format!(
                "bind(AF_XDP, ifindex {ifindex}, queue {queue}, XDP_COPY)"
            )));
        }
        Ok(socket)
    }

    /// Puts the frame at UMEM offset `address` in the fill ring (one slot is always free: the
    /// ring holds as many entries as the UMEM has frames).
    fn give_frame(&self, address: u64) {
        let producer = self.fill.producer().load(Ordering::Relaxed);
        // SAFETY: an entry of the mapped fill ring, which only user space writes.
        unsafe { self.fill.entry(producer).write(address) };
        // Release: the kernel must see the address before the index that publishes it.
        self.fill
            .producer()
            .store(producer.wrapping_add(1), Ordering::Release);
    }

    /// The socket, for an XSK map entry.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Waits up to `timeout` for frames, then takes every frame in the receive ring: their
    /// bytes (copied out of the UMEM), each frame going back to the fill ring.
    pub fn receive(&self, timeout: Duration) -> io::Result<Vec<Vec<u8>>> {
        let mut poll = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one pollfd, alive for the call.
        if unsafe { libc::poll(&mut poll, 1, millis) } < 0 {
            return Err(context("poll on the AF_XDP socket"));
        }
        let mut frames = Vec::new();
        // Acquire: the descriptors and frame bytes the kernel wrote before publishing them.
        let producer = self.rx.producer().load(Ordering::Acquire);
        let mut consumer = self.rx.consumer().load(Ordering::Relaxed);
        while consumer != producer {
            // SAFETY: an entry the kernel published (between consumer and producer).
            let desc = unsafe { self.rx.entry(consumer).read() };
            let start = usize::try_from(desc.addr).expect("UMEM offset");
            let end = start + desc.len as usize;
            assert!(
                end <= self.umem.len,
                "descriptor {}+{} outside the UMEM",
                desc.addr,
                desc.len
            );
            // SAFETY: bytes inside the UMEM (checked just above) that the kernel finished
            // writing before it published the descriptor; it does not write the frame again
            // until user space returns it to the fill ring, below.
            let bytes = unsafe {
                std::slice::from_raw_parts(self.umem.address.as_ptr().add(start), desc.len as usize)
            };
            frames.push(bytes.to_vec());
            self.give_frame(desc.addr - desc.addr % u64::from(FRAME_SIZE));
            consumer = consumer.wrapping_add(1);
        }
        // Release: done reading those entries before the kernel may reuse them.
        self.rx.consumer().store(consumer, Ordering::Release);
        Ok(frames)
    }

    /// The socket's counters (`XDP_STATISTICS`), for failure messages.
    pub fn statistics(&self) -> io::Result<libc::xdp_statistics> {
        get_option(self.fd.as_fd(), libc::XDP_STATISTICS, "XDP_STATISTICS")
    }
}

/// `setsockopt(SOL_XDP, option, value)`.
fn set_option<T>(fd: BorrowedFd<'_>, option: libc::c_int, value: &T, name: &str) -> io::Result<()> {
    // SAFETY: value points to a T of the size passed, alive for the call.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_XDP,
            option,
            (value as *const T).cast::<c_void>(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(context(&format!("setsockopt({name})")));
    }
    Ok(())
}

/// `getsockopt(SOL_XDP, option)` into a `T`, which must be a plain C struct of integers.
fn get_option<T: Copy>(fd: BorrowedFd<'_>, option: libc::c_int, name: &str) -> io::Result<T> {
    let mut value = std::mem::MaybeUninit::<T>::zeroed();
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: value has room for the length passed; both outlive the call.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_XDP,
            option,
            value.as_mut_ptr().cast::<c_void>(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(context(&format!("getsockopt({name})")));
    }
    // SAFETY: zero-initialised, then (partly) written by the kernel: a valid T, as every bit
    // pattern is for a struct of integers.
    Ok(unsafe { value.assume_init() })
}

/// Where the rings' indexes and entries are in their mappings.
fn mmap_offsets(fd: BorrowedFd<'_>) -> io::Result<libc::xdp_mmap_offsets> {
    get_option(fd, libc::XDP_MMAP_OFFSETS, "XDP_MMAP_OFFSETS")
}

/// The last OS error, saying what failed.
fn context(what: &str) -> io::Error {
    with_context(what, io::Error::last_os_error())
}

fn with_context(what: &str, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{what}: {error}"))
}
