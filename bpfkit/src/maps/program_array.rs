//! `ProgramArray`: a `BPF_MAP_TYPE_PROG_ARRAY`, the jump table of `bpf_tail_call`.
//!
//! Decisions:
//! * [`ProgramArray::set`] takes the fd of a loaded program (`ProgramData::fd()` of
//!   [`crate::programs`], or any [`AsFd`]); the kernel refuses anything else, and a program of
//!   another type than the array's owner (the type of the first program that used it), with
//!   [`MapError::FdRejected`]. The kernel accepts only the empty flag set here.
//! * What user space reads back is the program's id ([`ProgramArray::get`]), never an fd; open
//!   it with `bpfkit::sys::prog_get_fd_by_id` when needed.

use std::borrow::Borrow;
use std::os::fd::AsFd;

use bpfkit_obj::uapi::map_type::BPF_MAP_TYPE_PROG_ARRAY;

use super::array::check_index;
use super::fd_map::{lookup_u32, occupied, set_fd};
use super::{borrow_checked, MapData, MapError, UpdateFlags};

/// What a program array's values must be, for [`MapError::FdRejected`].
const EXPECTS: &str = "the fd of a loaded program, of the type of the programs using the array";

/// A `BPF_MAP_TYPE_PROG_ARRAY`: `len()` slots indexed by `u32`, each empty or holding a program.
///
/// ```no_run
/// # fn f(ebpf: &bpfkit::Ebpf) -> Result<(), Box<dyn std::error::Error>> {
/// use bpfkit::maps::{ProgramArray, UpdateFlags};
/// let jumps = ProgramArray::try_from(ebpf.map("jump_table").ok_or("no map")?)?;
/// let handler = ebpf.program("handle_tcp").ok_or("no program")?.data().fd()?;
/// jumps.set(6, handler, UpdateFlags::empty())?;
/// let id = jumps.get(6)?; // the program's id
/// jumps.remove(6)?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ProgramArray<T> {
    inner: T,
}

impl<T: Borrow<MapData>> ProgramArray<T> {
    fn new(inner: T) -> Result<Self, MapError> {
        let inner = borrow_checked::<T, u32, u32>(
            inner,
            &[BPF_MAP_TYPE_PROG_ARRAY],
            "BPF_MAP_TYPE_PROG_ARRAY",
            Some(4),
        )?;
        Ok(ProgramArray { inner })
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

    /// True for a zero-sized array.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Puts `program` in slot `index`, replacing what was there.
    pub fn set(&self, index: u32, program: impl AsFd, flags: UpdateFlags) -> Result<(), MapError> {
        let map = self.map();
        let key = check_index(map, index)?;
        set_fd(map, &key, program.as_fd(), flags, EXPECTS)
    }

    /// The id of the program in slot `index`, `None` when the slot is empty.
    pub fn get(&self, index: u32) -> Result<Option<u32>, MapError> {
        let map = self.map();
        lookup_u32(map, &check_index(map, index)?)
    }

    /// Empties slot `index`; `false` if it was empty.
    pub fn remove(&self, index: u32) -> Result<bool, MapError> {
        let map = self.map();
        map.delete_bytes(&check_index(map, index)?)
    }

    /// The occupied slots as `(index, program id)`, in index order.
    pub fn iter(&self) -> impl Iterator<Item = Result<(u32, u32), MapError>> + '_ {
        occupied(self.len(), move |index| self.get(index))
    }
}

try_from_map_data!(ProgramArray);
