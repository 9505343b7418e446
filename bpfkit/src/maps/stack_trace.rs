//! `StackTraceMap`: a `BPF_MAP_TYPE_STACK_TRACE`, where `bpf_get_stackid` stores stacks.
//!
//! Keys are stack ids (`u32`, what `bpf_get_stackid` returned to the program); a value is an
//! array of `value_size / 8` instruction addresses, innermost frame first, zero-filled after
//! the last frame.
//!
//! Decisions:
//! * [`StackTraceMap::get`] returns the frames up to the first zero (a zero address is never a
//!   frame), as `Option<Vec<u64>>`: `None` when no stack has that id, like the other views'
//!   lookups.
//! * Maps created with `BPF_F_STACK_BUILD_ID` store `struct bpf_stack_build_id` records instead
//!   of addresses; the view refuses them with [`MapError::Unsupported`] rather than misread
//!   them.

use std::borrow::Borrow;

use bpfkit_obj::uapi::map_type::BPF_MAP_TYPE_STACK_TRACE;

use super::{MapData, MapError, MapIter, MapKeys};

/// `BPF_F_STACK_BUILD_ID`: values are build id + offset records, not addresses.
const BPF_F_STACK_BUILD_ID: u32 = 1 << 5;

/// The frames of a stack value: 8-byte addresses up to the first zero.
pub(crate) fn decode_frames(name: &str, bytes: &[u8]) -> Result<Vec<u64>, MapError> {
    if bytes.len() % 8 != 0 {
        return Err(MapError::UnexpectedSize {
            name: name.to_owned(),
            expected: bytes.len().div_ceil(8) * 8,
            actual: bytes.len(),
        });
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|frame| {
            let mut address = [0u8; 8];
            address.copy_from_slice(frame);
            u64::from_ne_bytes(address)
        })
        .take_while(|&address| address != 0)
        .collect())
}

/// A `BPF_MAP_TYPE_STACK_TRACE` map.
///
/// ```no_run
/// # use bpfkit::maps::{MapData, StackTraceMap};
/// # fn f(data: &MapData, stack_id: u32) -> Result<(), bpfkit::maps::MapError> {
/// let stacks = StackTraceMap::try_from(data)?;
/// if let Some(frames) = stacks.get(stack_id)? {
///     for address in frames {
///         println!("{address:#x}");
///     }
/// }
/// for id in stacks.stack_ids() {
///     stacks.remove(id?)?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct StackTraceMap<T> {
    inner: T,
}

impl<T: Borrow<MapData>> StackTraceMap<T> {
    fn new(inner: T) -> Result<Self, MapError> {
        let map = inner.borrow();
        map.check_type_and_key::<u32>(
            &[BPF_MAP_TYPE_STACK_TRACE],
            "BPF_MAP_TYPE_STACK_TRACE",
            Some(4),
        )?;
        if map.map_flags() & BPF_F_STACK_BUILD_ID != 0 {
            return Err(MapError::Unsupported {
                name: map.name().to_owned(),
                feature: "build-id stack traces (BPF_F_STACK_BUILD_ID)",
                reason: "StackTraceMap reads instruction addresses".to_owned(),
            });
        }
        if map.value_size() == 0 || map.value_size() % 8 != 0 {
            return Err(MapError::ValueSizeMismatch {
                name: map.name().to_owned(),
                map_size: map.value_size(),
                type_name: "[u64; PERF_MAX_STACK_DEPTH]",
                type_size: 127 * 8,
            });
        }
        Ok(StackTraceMap { inner })
    }

    /// The underlying map.
    pub fn map(&self) -> &MapData {
        self.inner.borrow()
    }

    /// Gives the underlying map handle back.
    pub fn into_inner(self) -> T {
        self.inner
    }

    /// Most frames a stack holds (`value_size / 8`).
    pub fn max_depth(&self) -> u32 {
        self.map().value_size() / 8
    }

    /// The frames of stack `stack_id`, innermost first; `None` when no stack has that id.
    pub fn get(&self, stack_id: u32) -> Result<Option<Vec<u64>>, MapError> {
        let map = self.map();
        map.lookup_bytes(&stack_id.to_ne_bytes(), 0)?
            .map(|bytes| decode_frames(map.name(), &bytes))
            .transpose()
    }

    /// Removes stack `stack_id` (its id can then be reused); `false` if there was none.
    pub fn remove(&self, stack_id: u32) -> Result<bool, MapError> {
        self.map().delete_bytes(&stack_id.to_ne_bytes())
    }

    /// Iterates over the ids of the stored stacks.
    pub fn stack_ids(&self) -> MapKeys<'_, u32> {
        MapKeys::new(self.map())
    }

    /// Iterates over `(stack id, frames)` pairs.
    pub fn iter(&self) -> MapIter<'_, u32, Vec<u64>> {
        MapIter::new(self.map(), decode_frames)
    }
}

try_from_map_data!(StackTraceMap);
