//! Queues and stacks: `Queue` (FIFO) and `Stack` (LIFO).
//!
//! Both map types have no keys: the kernel's element commands take a NULL key. `push` is
//! `BPF_MAP_UPDATE_ELEM`, `pop` is `BPF_MAP_LOOKUP_AND_DELETE_ELEM` and `peek` is
//! `BPF_MAP_LOOKUP_ELEM`; an empty map answers `ENOENT`, which the views return as `None`.
//! When the map is full, a push fails with `E2BIG` unless it is given [`UpdateFlags::EXIST`],
//! with which the kernel drops the oldest (queue) or bottom (stack) element to make room. Both
//! types came with Linux 4.20, user space pops with them, so there is no older kernel on which
//! a view could exist but an operation be missing.

use std::borrow::Borrow;
use std::marker::PhantomData;

use bpfkit_obj::uapi::map_type::{BPF_MAP_TYPE_QUEUE, BPF_MAP_TYPE_STACK};

use super::{borrow_checked, decode_pod, MapData, MapError, UpdateFlags};
use crate::pod::{bytes_of, Pod};
use crate::sys;

/// Pushes onto a queue or stack.
fn push<V: Pod>(map: &MapData, value: &V, flags: UpdateFlags) -> Result<(), MapError> {
    Ok(sys::map_update_elem(
        &map.handle(),
        None,
        bytes_of(value),
        flags.bits(),
    )?)
}

/// Reads the next element of a queue or stack, removing it when `remove`.
fn take<V: Pod>(map: &MapData, remove: bool) -> Result<Option<V>, MapError> {
    let mut value = vec![0u8; map.value_buffer_size()];
    let call = if remove {
        sys::map_lookup_and_delete_elem
    } else {
        sys::map_lookup_elem
    };
    if call(&map.handle(), None, &mut value, 0)? {
        decode_pod(map.name(), &value).map(Some)
    } else {
        Ok(None)
    }
}

/// A `BPF_MAP_TYPE_QUEUE` of `V`: first in, first out.
///
/// ```no_run
/// # use bpfkit::maps::{MapData, Queue, UpdateFlags};
/// # fn f(data: &MapData) -> Result<(), bpfkit::maps::MapError> {
/// let lengths: Queue<_, u32> = Queue::try_from(data)?;
/// lengths.push(&60, UpdateFlags::empty())?;
/// lengths.push(&61, UpdateFlags::EXIST)?; // when full, drops the oldest instead of failing
/// assert_eq!(lengths.peek()?, Some(60));
/// while let Some(length) = lengths.pop()? {
///     println!("{length}");
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Queue<T, V> {
    inner: T,
    _value: PhantomData<V>,
}

impl<T: Borrow<MapData>, V: Pod> Queue<T, V> {
    fn new(inner: T) -> Result<Self, MapError> {
        let inner = borrow_checked::<T, (), V>(
            inner,
            &[BPF_MAP_TYPE_QUEUE],
            "BPF_MAP_TYPE_QUEUE",
            Some(0),
        )?;
        Ok(Queue {
            inner,
            _value: PhantomData,
        })
    }

    /// The underlying map.
    pub fn map(&self) -> &MapData {
        self.inner.borrow()
    }

    /// Gives the underlying map handle back.
    pub fn into_inner(self) -> T {
        self.inner
    }

    /// Capacity (`max_entries`).
    pub fn capacity(&self) -> u32 {
        self.map().max_entries()
    }

    /// Appends `value`. With [`UpdateFlags::EXIST`] a full queue drops its oldest element;
    /// without, it fails with `E2BIG`.
    pub fn push(&self, value: &V, flags: UpdateFlags) -> Result<(), MapError> {
        push(self.map(), value, flags)
    }

    /// Removes and returns the oldest element, `None` when empty.
    pub fn pop(&self) -> Result<Option<V>, MapError> {
        take(self.map(), true)
    }

    /// The oldest element, left in place; `None` when empty.
    pub fn peek(&self) -> Result<Option<V>, MapError> {
        take(self.map(), false)
    }
}

try_from_map_data!(Queue<V>);

/// A `BPF_MAP_TYPE_STACK` of `V`: last in, first out.
///
/// ```no_run
/// # use bpfkit::maps::{MapData, Stack, UpdateFlags};
/// # fn f(data: &MapData) -> Result<(), bpfkit::maps::MapError> {
/// let frames: Stack<_, u64> = Stack::try_from(data)?;
/// frames.push(&1, UpdateFlags::empty())?;
/// frames.push(&2, UpdateFlags::empty())?;
/// assert_eq!(frames.pop()?, Some(2));
/// assert_eq!(frames.peek()?, Some(1));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Stack<T, V> {
    inner: T,
    _value: PhantomData<V>,
}

impl<T: Borrow<MapData>, V: Pod> Stack<T, V> {
    fn new(inner: T) -> Result<Self, MapError> {
        let inner = borrow_checked::<T, (), V>(
            inner,
            &[BPF_MAP_TYPE_STACK],
            "BPF_MAP_TYPE_STACK",
            Some(0),
        )?;
        Ok(Stack {
            inner,
            _value: PhantomData,
        })
    }

    /// The underlying map.
    pub fn map(&self) -> &MapData {
        self.inner.borrow()
    }

    /// Gives the underlying map handle back.
    pub fn into_inner(self) -> T {
        self.inner
    }

    /// Capacity (`max_entries`).
    pub fn capacity(&self) -> u32 {
        self.map().max_entries()
    }

    /// Pushes `value` on top. With [`UpdateFlags::EXIST`] a full stack drops its bottom
    /// element; without, it fails with `E2BIG`.
    pub fn push(&self, value: &V, flags: UpdateFlags) -> Result<(), MapError> {
        push(self.map(), value, flags)
    }

    /// Removes and returns the top element, `None` when empty.
    pub fn pop(&self) -> Result<Option<V>, MapError> {
        take(self.map(), true)
    }

    /// The top element, left in place; `None` when empty.
    pub fn peek(&self) -> Result<Option<V>, MapError> {
        take(self.map(), false)
    }
}

try_from_map_data!(Stack<V>);
