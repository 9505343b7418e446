//! `CpuMap`: a `BPF_MAP_TYPE_CPUMAP`, where XDP programs redirect frames to other CPUs.
//!
//! Slot `i` is CPU `i`; a value is the size of the CPU's frame queue, either as a 4-byte
//! `u32` or (Linux 5.9) as the 8-byte `struct bpf_cpumap_val`, which adds a program to run on
//! the frames on that CPU (an XDP program loaded with expected attach type `BPF_XDP_CPUMAP`).
//! The map's value size says which; the view accepts both, with the same decisions as the
//! device maps (see [`super::DevMap`]): an optional program fd in, a program id out.
//!
//! A queue size of 0 makes the kernel empty the slot, as [`CpuMap::remove`] does.
//!
//! The kernel answers a program it refuses for a CPU map entry with `ENOMEM` (it reports every
//! failure to build the entry that way); with a program given, `set` reports that as
//! [`MapError::FdRejected`], whose source keeps the errno.

use std::borrow::Borrow;
use std::num::NonZeroU32;
use std::os::fd::BorrowedFd;

use bpfkit_obj::uapi::map_type::BPF_MAP_TYPE_CPUMAP;

use super::array::check_index;
use super::fd_map::{
    decode_with_program, encode_with_program, occupied, rejected, remove_looked_up, update_with_fd,
    value_fd, WITH_PROGRAM_SIZE,
};
use super::{MapData, MapError, UpdateFlags};

/// What a CPU map's values must be, for [`MapError::FdRejected`].
const EXPECTS: &str = "a queue size for a possible CPU and, optionally, the fd of an XDP \
                       program loaded with expected attach type BPF_XDP_CPUMAP";

/// An entry of a CPU map, as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CpuMapValue {
    /// Frames the CPU's queue holds.
    pub queue_size: u32,
    /// The id of the program run on the CPU (struct-form maps only).
    pub program_id: Option<NonZeroU32>,
}

/// A `BPF_MAP_TYPE_CPUMAP`: one slot per CPU, each empty or holding a frame queue.
///
/// ```no_run
/// # use bpfkit::maps::{CpuMap, MapData, UpdateFlags};
/// # fn f(data: &MapData) -> Result<(), bpfkit::maps::MapError> {
/// let cpus = CpuMap::try_from(data)?;
/// cpus.set(1, 2048, None, UpdateFlags::empty())?; // CPU 1 takes redirected frames
/// assert_eq!(cpus.get(1)?.map(|v| v.queue_size), Some(2048));
/// cpus.remove(1)?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct CpuMap<T> {
    inner: T,
}

impl<T: Borrow<MapData>> CpuMap<T> {
    fn new(inner: T) -> Result<Self, MapError> {
        let map = inner.borrow();
        map.check_type_and_key::<u32>(&[BPF_MAP_TYPE_CPUMAP], "BPF_MAP_TYPE_CPUMAP", Some(4))?;
        map.check_value_size(
            "u32 (queue size) or bpf_cpumap_val",
            &[4, WITH_PROGRAM_SIZE],
        )?;
        Ok(CpuMap { inner })
    }

    /// The underlying map.
    pub fn map(&self) -> &MapData {
        self.inner.borrow()
    }

    /// Gives the underlying map handle back.
    pub fn into_inner(self) -> T {
        self.inner
    }

    /// Number of slots (`max_entries`).
    pub fn len(&self) -> u32 {
        self.map().max_entries()
    }

    /// True for a zero-sized map.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the values are `struct bpf_cpumap_val` (and so can carry a program).
    pub fn has_programs(&self) -> bool {
        self.map().value_size() as usize == WITH_PROGRAM_SIZE
    }

    /// Gives CPU `cpu` a queue of `queue_size` frames, running `program` on them when given
    /// (struct-form maps only).
    pub fn set(
        &self,
        cpu: u32,
        queue_size: u32,
        program: Option<BorrowedFd<'_>>,
        flags: UpdateFlags,
    ) -> Result<(), MapError> {
        let map = self.map();
        let key = check_index(map, cpu)?;
        let program = program.map(value_fd).transpose()?;
        let value = encode_with_program(
            map,
            queue_size,
            program.as_ref(),
            "a program per CPU map entry",
            "bpf_cpumap_val",
            (5, 9),
        )?;
        let has_program = program.is_some();
        update_with_fd(map, &key, &value, flags, EXPECTS).map_err(|err| match err {
            // The kernel builds the entry (queue, kthread, program) in one step that reports
            // any failure, a refused program included, as ENOMEM.
            MapError::Syscall(source) if has_program && source.errno() == libc::ENOMEM => {
                rejected(map, source, EXPECTS)
            }
            other => other,
        })
    }

    /// CPU `cpu`'s entry, `None` when empty.
    pub fn get(&self, cpu: u32) -> Result<Option<CpuMapValue>, MapError> {
        let map = self.map();
        let key = check_index(map, cpu)?;
        map.lookup_bytes(&key, 0)?
            .map(|bytes| {
                let (queue_size, program_id) = decode_with_program(map.name(), &bytes)?;
                Ok(CpuMapValue {
                    queue_size,
                    program_id,
                })
            })
            .transpose()
    }

    /// Empties CPU `cpu`'s slot; `false` if it was empty.
    pub fn remove(&self, cpu: u32) -> Result<bool, MapError> {
        let map = self.map();
        remove_looked_up(map, &check_index(map, cpu)?)
    }

    /// The occupied slots as `(cpu, value)`, in CPU order.
    pub fn iter(&self) -> impl Iterator<Item = Result<(u32, CpuMapValue), MapError>> + '_ {
        occupied(self.len(), move |cpu| self.get(cpu))
    }
}

try_from_map_data!(CpuMap);
