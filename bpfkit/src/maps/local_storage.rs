//! Local storages: one value per kernel object, created by programs or user space, freed with
//! the object. `SkStorage` (sockets, `BPF_MAP_TYPE_SK_STORAGE`, Linux 5.2), `TaskStorage`
//! (tasks, `BPF_MAP_TYPE_TASK_STORAGE`, 5.11), `InodeStorage` (inodes,
//! `BPF_MAP_TYPE_INODE_STORAGE`, 5.10) and `CgroupStorage` (cgroups,
//! `BPF_MAP_TYPE_CGRP_STORAGE`, 6.2).
//!
//! From user space the key is an fd of the owning object, as the kernel reads it (a 4-byte
//! `int`): a socket fd, a pidfd (`pidfd_open(2)`; with `PIDFD_THREAD` for one thread), any fd
//! open on the inode, or an fd of the cgroup's directory. The value belongs to the object, so
//! every fd of the same object reaches it.
//!
//! Decisions:
//! * The four views share one implementation and differ only in the map type they accept and
//!   the fd they document; they take any [`AsFd`] as key.
//! * `get`, `insert(fd, &V, flags)` (`NO_EXIST`, `EXIST`, `LOCK`), `remove`; there is no
//!   iteration: the kernel does not walk local storages from user space.
//! * An fd of the wrong kind of object is [`MapError::FdRejected`].
//! * The older `BPF_MAP_TYPE_CGROUP_STORAGE`, keyed by (cgroup inode id, attach type) and read
//!   by programs with `bpf_get_local_storage`, is a different map, which the kernel side of
//!   bpfkit does not define; `CgroupStorage` is the 6.2 one.
//! * Local storages can only be created with key and value BTF, so they come from an object
//!   (`Ebpf::map`) rather than `MapData::create` without BTF.

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::os::fd::{AsFd, BorrowedFd};

use bpfkit_obj::uapi::map_type::{
    BPF_MAP_TYPE_CGRP_STORAGE, BPF_MAP_TYPE_INODE_STORAGE, BPF_MAP_TYPE_SK_STORAGE,
    BPF_MAP_TYPE_TASK_STORAGE,
};

use super::fd_map::{fd_error, fd_key};
use super::{decode_pod, MapData, MapError, UpdateFlags};
use crate::pod::{bytes_of, Pod};

fn get<V: Pod>(
    map: &MapData,
    fd: BorrowedFd<'_>,
    expects: &'static str,
) -> Result<Option<V>, MapError> {
    map.lookup_bytes(&fd_key(fd), 0)
        .map_err(|err| fd_error(map, err, UpdateFlags::empty(), expects))?
        .map(|bytes| decode_pod(map.name(), &bytes))
        .transpose()
}

fn insert<V: Pod>(
    map: &MapData,
    fd: BorrowedFd<'_>,
    value: &V,
    flags: UpdateFlags,
    expects: &'static str,
) -> Result<(), MapError> {
    map.update_bytes(&fd_key(fd), bytes_of(value), flags.bits())
        .map_err(|err| fd_error(map, err, flags, expects))
}

fn remove(map: &MapData, fd: BorrowedFd<'_>, expects: &'static str) -> Result<bool, MapError> {
    map.delete_bytes(&fd_key(fd))
        .map_err(|err| fd_error(map, err, UpdateFlags::empty(), expects))
}

macro_rules! local_storage {
    (
        $(#[$doc:meta])*
        $name:ident, $map_type:ident, $fd:literal, $expects:literal
    ) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name<T, V> {
            inner: T,
            _value: PhantomData<V>,
        }

        impl<T: Borrow<MapData>, V: Pod> $name<T, V> {
            fn new(inner: T) -> Result<Self, MapError> {
                let map = inner.borrow();
                map.check_type_and_key::<i32>(&[$map_type], stringify!($map_type), Some(4))?;
                map.check_value_size(std::any::type_name::<V>(), &[std::mem::size_of::<V>()])?;
                Ok($name {
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

            #[doc = concat!("The value of the object behind `fd` (", $fd, "), or `None`.")]
            pub fn get(&self, fd: impl AsFd) -> Result<Option<V>, MapError> {
                get(self.map(), fd.as_fd(), $expects)
            }

            #[doc = concat!("Sets the value of the object behind `fd` (", $fd, "); `NO_EXIST`, ")]
            /// `EXIST` and `LOCK` as for hash maps.
            pub fn insert(&self, fd: impl AsFd, value: &V, flags: UpdateFlags) -> Result<(), MapError> {
                insert(self.map(), fd.as_fd(), value, flags, $expects)
            }

            /// Removes the object's value; `false` if it had none.
            pub fn remove(&self, fd: impl AsFd) -> Result<bool, MapError> {
                remove(self.map(), fd.as_fd(), $expects)
            }
        }

        try_from_map_data!($name<V>);
    };
}

local_storage!(
    /// A `BPF_MAP_TYPE_SK_STORAGE`: a `V` per socket, keyed by a socket fd.
    ///
    /// ```no_run
    /// # use std::net::TcpStream;
    /// # use bpfkit::maps::{MapData, SkStorage, UpdateFlags};
    /// # fn f(data: &MapData, stream: &TcpStream) -> Result<(), bpfkit::maps::MapError> {
    /// let messages: SkStorage<_, u64> = SkStorage::try_from(data)?;
    /// messages.insert(stream, &0, UpdateFlags::NO_EXIST)?;
    /// let count = messages.get(stream)?;
    /// messages.remove(stream)?;
    /// # Ok(()) }
    /// ```
    SkStorage,
    BPF_MAP_TYPE_SK_STORAGE,
    "a socket fd",
    "a socket fd as key"
);

local_storage!(
    /// A `BPF_MAP_TYPE_TASK_STORAGE`: a `V` per task, keyed by a pidfd.
    ///
    /// ```no_run
    /// # use std::os::fd::OwnedFd;
    /// # use bpfkit::maps::{MapData, TaskStorage, UpdateFlags};
    /// # fn f(data: &MapData, pidfd: &OwnedFd) -> Result<(), bpfkit::maps::MapError> {
    /// // `pidfd` from pidfd_open(pid, 0), or pidfd_open(tid, PIDFD_THREAD) for one thread.
    /// let calls: TaskStorage<_, [i64; 3]> = TaskStorage::try_from(data)?;
    /// if let Some([count, ..]) = calls.get(pidfd)? {
    ///     println!("{count} calls");
    /// }
    /// # Ok(()) }
    /// ```
    TaskStorage,
    BPF_MAP_TYPE_TASK_STORAGE,
    "a pidfd",
    "a pidfd (pidfd_open) as key"
);

local_storage!(
    /// A `BPF_MAP_TYPE_INODE_STORAGE`: a `V` per inode, keyed by any fd open on the inode.
    ///
    /// ```no_run
    /// # use std::fs::File;
    /// # use bpfkit::maps::{InodeStorage, MapData, UpdateFlags};
    /// # fn f(data: &MapData) -> Result<(), Box<dyn std::error::Error>> {
    /// let marks: InodeStorage<_, u64> = InodeStorage::try_from(data)?;
    /// marks.insert(&File::open("/etc/hostname")?, &1, UpdateFlags::empty())?;
    /// // Another fd of the same file sees the value:
    /// assert_eq!(marks.get(&File::open("/etc/hostname")?)?, Some(1));
    /// # Ok(()) }
    /// ```
    InodeStorage,
    BPF_MAP_TYPE_INODE_STORAGE,
    "any fd open on the inode",
    "an fd open on a file (of a filesystem with BPF LSM inode storage) as key"
);

local_storage!(
    /// A `BPF_MAP_TYPE_CGRP_STORAGE` (Linux 6.2): a `V` per cgroup, keyed by an fd of the
    /// cgroup's directory.
    ///
    /// ```no_run
    /// # use std::fs::File;
    /// # use bpfkit::maps::{CgroupStorage, MapData};
    /// # fn f(data: &MapData) -> Result<(), Box<dyn std::error::Error>> {
    /// let mkdirs: CgroupStorage<_, u64> = CgroupStorage::try_from(data)?;
    /// let cgroup = File::open("/sys/fs/cgroup/system.slice")?;
    /// println!("{:?}", mkdirs.get(&cgroup)?);
    /// # Ok(()) }
    /// ```
    CgroupStorage,
    BPF_MAP_TYPE_CGRP_STORAGE,
    "an fd of the cgroup's directory",
    "an fd of a cgroup v2 directory as key"
);
