//! Async readers: the ring buffer, perf buffer and log readers, awaited on tokio (feature
//! `tokio`) or async-io (feature `async-io`: smol, async-std).
//!
//! One type, [`AsyncReader`], does the waiting for every reader; the runtimes differ only in how
//! an fd's readiness reaches a task, which is the [`Runtime`] marker (`Tokio`, `AsyncIo`):
//!
//! * The reader says whether it has data right now (a load of the producer position: cheap).
//! * If not, the task registers with the runtime's reactor for the reader's fd (ring buffer map
//!   fd, perf event fd, or a perf buffer's epoll fd) and sleeps until the kernel wakes it. No
//!   timer, no busy polling.
//! * A wakeup is only a hint (perf events signal each wakeup once; a ring buffer's oldest record
//!   may still be being written), so after each one the reader is asked again, and readiness is
//!   cleared before sleeping again when it has nothing.
//!
//! The reactor watches a duplicate of the reader's fd, so the reader itself stays an ordinary
//! value: [`AsyncReader::readable`] hands it back `&mut` once data is there, to be read with its
//! synchronous, zero-copy API.
//!
//! ```no_run
//! # #[cfg(feature = "tokio")]
//! # async fn f(ebpf: &mut bpfkit::Ebpf) -> Result<(), Box<dyn std::error::Error>> {
//! use bpfkit::maps::{AsyncRingBuf, RingBuf};
//! use bpfkit::runtime::Tokio;
//!
//! let ring = RingBuf::try_from(ebpf.take_map("events").ok_or("no map")?)?;
//! let mut events = AsyncRingBuf::<_, Tokio>::new(ring)?;
//! loop {
//!     let ring = events.readable().await?;
//!     while let Some(sample) = ring.next() {
//!         println!("{} bytes", sample.len());
//!     }
//! }
//! # }
//! ```

use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::task::{Context, Poll};

use crate::log::EbpfLogger;
use crate::maps::{MapData, PerfBuffer, PerfEventArrayBuffer, RingBuf};

mod private {
    use super::*;

    /// How a runtime's reactor reports an fd's readiness.
    pub trait Backend {
        /// The fd, registered with the reactor.
        type Registration: Send + Sync + fmt::Debug;

        /// Registers `fd` (a duplicate the registration owns).
        fn register(fd: OwnedFd) -> io::Result<Self::Registration>;

        /// `Ready(Ok(()))` once `has_data()` says yes, `Pending` (with the task's waker
        /// registered for the fd's next readiness) otherwise.
        fn poll_wait(
            registration: &Self::Registration,
            cx: &mut Context<'_>,
            has_data: &mut dyn FnMut() -> bool,
        ) -> Poll<io::Result<()>>;
    }

    /// What the async readers need of a reader.
    pub trait Source {
        /// The fd that polls readable when the kernel signals data.
        fn readiness_fd(&self) -> BorrowedFd<'_>;
        /// Gives consumed space back to the kernel before sleeping: a ring buffer producer wakes
        /// the reader only once the reader has caught up.
        fn before_wait(&mut self);
        /// Whether there is something to read now.
        fn has_data(&self) -> bool;
    }
}

/// An async runtime that [`AsyncReader`] can wait on: `Tokio` or `AsyncIo`. Sealed.
///
/// ```no_run
/// # fn f<R: bpfkit::runtime::Runtime>(buffer: bpfkit::maps::PerfEventArrayBuffer) -> std::io::Result<()> {
/// // Generic code over the runtime:
/// let reader = bpfkit::runtime::AsyncReader::<_, R>::new(buffer)?;
/// # Ok(()) }
/// ```
pub trait Runtime: private::Backend {}

/// A reader that [`AsyncReader`] can wait for: [`RingBuf`], [`PerfBuffer`],
/// [`PerfEventArrayBuffer`], [`EbpfLogger`]. Sealed.
///
/// ```no_run
/// # #[cfg(feature = "tokio")]
/// # fn f<S: bpfkit::runtime::AsyncSource>(reader: S) -> std::io::Result<()> {
/// let reader = bpfkit::runtime::AsyncReader::<S, bpfkit::runtime::Tokio>::new(reader)?;
/// # Ok(()) }
/// ```
pub trait AsyncSource: private::Source {}

/// A reader whose data is awaited on runtime `R`.
///
/// The aliases name the combinations: `AsyncRingBuf<T, R>`, `AsyncPerfBuffer<R>`,
/// `AsyncPerfEventArrayBuffer<R>`, `AsyncEbpfLogger<R>`.
///
/// ```no_run
/// # #[cfg(feature = "async-io")]
/// # fn f(ebpf: &bpfkit::Ebpf) -> Result<(), Box<dyn std::error::Error>> {
/// use bpfkit::maps::{AsyncPerfBuffer, PerfEventArray};
/// use bpfkit::runtime::AsyncIo;
///
/// let buffers = PerfEventArray::try_from(ebpf.map("events").ok_or("no map")?)?.open_all(8)?;
/// let mut events = AsyncPerfBuffer::<AsyncIo>::new(buffers)?;
/// async_io::block_on(async {
///     loop {
///         let buffers = events.readable().await?;
///         buffers.read_events(|cpu, sample| println!("CPU {cpu}: {} bytes", sample.len()));
///     }
/// })
/// # }
/// ```
pub struct AsyncReader<S, R: Runtime> {
    source: S,
    registration: R::Registration,
}

impl<S: fmt::Debug, R: Runtime> fmt::Debug for AsyncReader<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncReader")
            .field("source", &self.source)
            .field("registration", &self.registration)
            .finish()
    }
}

impl<S: AsyncSource, R: Runtime> AsyncReader<S, R> {
    /// Registers the reader's fd with the runtime's reactor. Call it from inside the runtime
    /// (tokio: a runtime with IO enabled, as `#[tokio::main]` builds).
    pub fn new(source: S) -> io::Result<Self> {
        let fd = source.readiness_fd().try_clone_to_owned()?;
        let registration = R::register(fd)?;
        Ok(AsyncReader {
            source,
            registration,
        })
    }

    /// Waits until the reader has data, then hands it out to be read (`next`, `read_events`,
    /// `drain` ...). Read everything before awaiting again. Cancel-safe: dropping the future
    /// loses nothing.
    pub async fn readable(&mut self) -> io::Result<&mut S> {
        self.source.before_wait();
        let source = &self.source;
        let registration = &self.registration;
        let mut has_data = || source.has_data();
        std::future::poll_fn(|cx| R::poll_wait(registration, cx, &mut has_data)).await?;
        Ok(&mut self.source)
    }

    /// The reader.
    pub fn get_ref(&self) -> &S {
        &self.source
    }

    /// The reader, to read without waiting.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.source
    }

    /// Unregisters and returns the reader.
    pub fn into_inner(self) -> S {
        self.source
    }
}

/// A [`RingBuf`] awaited on runtime `R` (see [`AsyncReader`]).
///
/// ```no_run
/// # #[cfg(feature = "tokio")]
/// # async fn f(map: bpfkit::maps::MapData) -> Result<(), Box<dyn std::error::Error>> {
/// use bpfkit::maps::{AsyncRingBuf, RingBuf};
/// let mut events = AsyncRingBuf::<_, bpfkit::runtime::Tokio>::new(RingBuf::try_from(map)?)?;
/// let ring = events.readable().await?;
/// while let Some(sample) = ring.next() {
///     println!("{sample:?}");
/// }
/// # Ok(()) }
/// ```
pub type AsyncRingBuf<T, R> = AsyncReader<RingBuf<T>, R>;

/// A [`PerfBuffer`] (every CPU, one epoll fd) awaited on runtime `R` (see [`AsyncReader`]).
///
/// ```no_run
/// # #[cfg(feature = "tokio")]
/// # async fn f(buffers: bpfkit::maps::PerfBuffer) -> Result<(), Box<dyn std::error::Error>> {
/// use bpfkit::maps::AsyncPerfBuffer;
/// let mut events = AsyncPerfBuffer::<bpfkit::runtime::Tokio>::new(buffers)?;
/// let events = events.readable().await?.read_events(|cpu, bytes| println!("{cpu}: {bytes:?}"));
/// println!("{} read, {} lost", events.read, events.lost);
/// # Ok(()) }
/// ```
pub type AsyncPerfBuffer<R> = AsyncReader<PerfBuffer, R>;

/// One CPU's [`PerfEventArrayBuffer`] awaited on runtime `R`, for a task per CPU (see
/// [`AsyncReader`]).
///
/// ```no_run
/// # #[cfg(feature = "tokio")]
/// # async fn f(buffers: bpfkit::maps::PerfBuffer) -> Result<(), Box<dyn std::error::Error>> {
/// use bpfkit::maps::AsyncPerfEventArrayBuffer;
/// for buffer in buffers.into_buffers() {
///     let mut buffer = AsyncPerfEventArrayBuffer::<bpfkit::runtime::Tokio>::new(buffer)?;
///     tokio::spawn(async move {
///         while let Ok(buffer) = buffer.readable().await {
///             let cpu = buffer.cpu();
///             buffer.read_events(|bytes| println!("CPU {cpu}: {bytes:?}"));
///         }
///     });
/// }
/// # Ok(()) }
/// ```
pub type AsyncPerfEventArrayBuffer<R> = AsyncReader<PerfEventArrayBuffer, R>;

/// An [`EbpfLogger`] awaited on runtime `R`; [`forward`](AsyncReader::forward) is the task
/// that forwards records to the `log` crate until it is cancelled.
///
/// ```no_run
/// # #[cfg(feature = "tokio")]
/// # async fn f(ebpf: &mut bpfkit::Ebpf) -> Result<(), Box<dyn std::error::Error>> {
/// use bpfkit::log::{AsyncEbpfLogger, EbpfLogger};
/// let mut logger = AsyncEbpfLogger::<bpfkit::runtime::Tokio>::new(EbpfLogger::init(ebpf)?)?;
/// let task = tokio::spawn(async move { logger.forward().await });
/// // ... run the programs; `task.abort()` (or dropping the runtime) stops forwarding.
/// # Ok(()) }
/// ```
pub type AsyncEbpfLogger<R> = AsyncReader<EbpfLogger, R>;

impl<R: Runtime> AsyncReader<EbpfLogger, R> {
    /// Forwards records to the `log` crate as they arrive, forever: returns only on an error
    /// of the reactor. Stop it by dropping the future (cancel or abort its task).
    pub async fn forward(&mut self) -> io::Result<std::convert::Infallible> {
        loop {
            self.readable().await?.drain();
        }
    }
}

impl<T: std::borrow::Borrow<MapData>> private::Source for RingBuf<T> {
    fn readiness_fd(&self) -> BorrowedFd<'_> {
        self.as_fd()
    }
    fn before_wait(&mut self) {
        self.commit();
    }
    fn has_data(&self) -> bool {
        self.has_ready()
    }
}
impl<T: std::borrow::Borrow<MapData>> AsyncSource for RingBuf<T> {}

impl private::Source for PerfEventArrayBuffer {
    fn readiness_fd(&self) -> BorrowedFd<'_> {
        self.as_fd()
    }
    fn before_wait(&mut self) {
        self.commit();
    }
    fn has_data(&self) -> bool {
        self.has_pending()
    }
}
impl AsyncSource for PerfEventArrayBuffer {}

impl private::Source for PerfBuffer {
    fn readiness_fd(&self) -> BorrowedFd<'_> {
        self.as_fd()
    }
    fn before_wait(&mut self) {
        for buffer in self.buffers_mut() {
            buffer.commit();
        }
    }
    fn has_data(&self) -> bool {
        self.has_pending()
    }
}
impl AsyncSource for PerfBuffer {}

impl private::Source for EbpfLogger {
    fn readiness_fd(&self) -> BorrowedFd<'_> {
        self.ring_buffer().as_fd()
    }
    fn before_wait(&mut self) {
        self.ring_buffer_mut().commit();
    }
    fn has_data(&self) -> bool {
        self.ring_buffer().has_ready()
    }
}
impl AsyncSource for EbpfLogger {}

/// tokio's reactor ([`tokio::io::unix::AsyncFd`]). Feature `tokio`.
///
/// ```no_run
/// # async fn f(ring: bpfkit::maps::RingBuf<bpfkit::maps::MapData>) -> std::io::Result<()> {
/// let mut ring = bpfkit::maps::AsyncRingBuf::<_, bpfkit::runtime::Tokio>::new(ring)?;
/// ring.readable().await?;
/// # Ok(()) }
/// ```
#[cfg(feature = "tokio")]
#[derive(Debug, Clone, Copy)]
pub enum Tokio {}

#[cfg(feature = "tokio")]
impl private::Backend for Tokio {
    type Registration = tokio::io::unix::AsyncFd<OwnedFd>;

    fn register(fd: OwnedFd) -> io::Result<Self::Registration> {
        // AsyncFd::new panics outside a runtime; say so as an error instead.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other(
                "no tokio runtime: create the async reader from inside one (with IO enabled)",
            ));
        }
        // Deprecated in tokio 1.54 for types whose `as_raw_fd` may change or close under the
        // AsyncFd (I/O safety); an `OwnedFd` the AsyncFd owns cannot. The replacement is
        // `unsafe`, which bpfkit keeps to `sys`, and needs tokio 1.54: this works with any 1.x.
        #[allow(deprecated)]
        tokio::io::unix::AsyncFd::with_interest(fd, tokio::io::Interest::READABLE)
    }

    fn poll_wait(
        registration: &Self::Registration,
        cx: &mut Context<'_>,
        has_data: &mut dyn FnMut() -> bool,
    ) -> Poll<io::Result<()>> {
        loop {
            if has_data() {
                return Poll::Ready(Ok(()));
            }
            let mut guard = match registration.poll_read_ready(cx) {
                Poll::Ready(Ok(guard)) => guard,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            };
            if has_data() {
                return Poll::Ready(Ok(()));
            }
            // Nothing behind this readiness (already read, or a wakeup for a record still
            // being written): clear it, so the next poll_read_ready sleeps until the kernel
            // signals again. tokio keeps the readiness if an event came in meanwhile.
            guard.clear_ready();
        }
    }
}

#[cfg(feature = "tokio")]
impl Runtime for Tokio {}

/// async-io's reactor ([`async_io::Async`]), which smol and async-std use. Feature `async-io`.
///
/// ```no_run
/// # fn f(ring: bpfkit::maps::RingBuf<bpfkit::maps::MapData>) -> std::io::Result<()> {
/// let mut ring = bpfkit::maps::AsyncRingBuf::<_, bpfkit::runtime::AsyncIo>::new(ring)?;
/// async_io::block_on(ring.readable())?;
/// # Ok(()) }
/// ```
#[cfg(feature = "async-io")]
#[derive(Debug, Clone, Copy)]
pub enum AsyncIo {}

#[cfg(feature = "async-io")]
impl private::Backend for AsyncIo {
    type Registration = async_io::Async<OwnedFd>;

    fn register(fd: OwnedFd) -> io::Result<Self::Registration> {
        // Also sets O_NONBLOCK on the shared file description, which none of these fds'
        // readers depend on (they are polled and mmapped, never read(2)).
        async_io::Async::new(fd)
    }

    fn poll_wait(
        registration: &Self::Registration,
        cx: &mut Context<'_>,
        has_data: &mut dyn FnMut() -> bool,
    ) -> Poll<io::Result<()>> {
        loop {
            if has_data() {
                return Poll::Ready(Ok(()));
            }
            // Ready only for an event delivered since this task last got Pending; an event that
            // carried nothing loops back here and then sleeps.
            match registration.poll_readable(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(feature = "async-io")]
impl Runtime for AsyncIo {}
