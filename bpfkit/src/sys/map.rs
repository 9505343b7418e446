//! Map commands: create, element access, iteration, batches, freeze.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use bpfkit_obj::uapi::{cmd, map_type};

use super::object::{map_info, MapInfo};
use super::syscall::{
    bpf, command_name, mut_ptr_of, object_name, owned_fd, ptr_of, AttrFd, SyscallError,
};
use super::uapi::{MapBatchAttr, MapCreateAttr, MapElemAttr};

/// Parameters of `BPF_MAP_CREATE`.
///
/// ```no_run
/// use bpfkit::sys::{map_create, MapCreate};
/// use bpfkit_obj::uapi::map_type::BPF_MAP_TYPE_HASH;
/// let fd = map_create(&MapCreate {
///     map_type: BPF_MAP_TYPE_HASH, key_size: 4, value_size: 8, max_entries: 128,
///     name: "counts", ..Default::default()
/// })?;
/// # Ok::<(), bpfkit::sys::SyscallError>(())
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct MapCreate<'a> {
    /// `BPF_MAP_TYPE_*`.
    pub map_type: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
    /// `BPF_F_*` map flags (see [`super::uapi::consts`]).
    pub map_flags: u32,
    /// Template inner map for map-in-map types.
    pub inner_map_fd: Option<BorrowedFd<'a>>,
    /// NUMA node; sets `BPF_F_NUMA_NODE`.
    pub numa_node: Option<u32>,
    /// Name; truncated to 15 bytes, characters outside `[A-Za-z0-9_.]` dropped.
    pub name: &'a str,
    /// Device for offloaded maps (0: none).
    pub map_ifindex: u32,
    /// BTF object describing key and value.
    pub btf_fd: Option<BorrowedFd<'a>>,
    /// BTF type id of the key (with `btf_fd`).
    pub btf_key_type_id: u32,
    /// BTF type id of the value (with `btf_fd`).
    pub btf_value_type_id: u32,
    /// Kernel BTF type id of a struct_ops value.
    pub btf_vmlinux_value_type_id: u32,
    /// Type-specific extra (bloom filter hash count, arena address).
    pub map_extra: u64,
}

/// Creates a map.
pub fn map_create(attr: &MapCreate<'_>) -> Result<OwnedFd, SyscallError> {
    let name = command_name(cmd::BPF_MAP_CREATE);
    let inner = AttrFd::optional(attr.inner_map_fd, name)?;
    let btf = AttrFd::optional(attr.btf_fd, name)?;
    let mut raw = MapCreateAttr {
        map_type: attr.map_type,
        key_size: attr.key_size,
        value_size: attr.value_size,
        max_entries: attr.max_entries,
        map_flags: attr.map_flags,
        inner_map_fd: inner.raw(),
        map_name: object_name(attr.name),
        map_ifindex: attr.map_ifindex,
        btf_fd: btf.raw(),
        btf_key_type_id: attr.btf_key_type_id,
        btf_value_type_id: attr.btf_value_type_id,
        btf_vmlinux_value_type_id: attr.btf_vmlinux_value_type_id,
        map_extra: attr.map_extra,
        ..Default::default()
    };
    if let Some(node) = attr.numa_node {
        raw.numa_node = node;
        raw.map_flags |= super::uapi::consts::BPF_F_NUMA_NODE;
    }
    // SAFETY: the attribute holds no pointers; fds are live for the call (`inner`, `btf`).
    let fd = unsafe { bpf(cmd::BPF_MAP_CREATE, &mut raw) }?;
    owned_fd(fd, name)
}

/// A map fd together with the sizes the kernel uses when copying keys and values, read from
/// the kernel. Element and batch commands take a `MapHandle` so that they can check buffer
/// lengths before the kernel writes into them.
#[derive(Debug, Clone, Copy)]
pub struct MapHandle<'a> {
    fd: BorrowedFd<'a>,
    map_type: u32,
    key_size: u32,
    value_size: u32,
    value_buffer_size: usize,
}

impl<'a> MapHandle<'a> {
    /// Reads the map's type and sizes with `BPF_OBJ_GET_INFO_BY_FD`.
    pub fn new(fd: BorrowedFd<'a>) -> Result<MapHandle<'a>, SyscallError> {
        let info = map_info(fd)?;
        MapHandle::from_info(fd, &info)
    }

    /// Builds a handle from info the kernel returned for this very fd.
    pub(crate) fn from_info(
        fd: BorrowedFd<'a>,
        info: &MapInfo,
    ) -> Result<MapHandle<'a>, SyscallError> {
        let value_buffer_size = if is_per_cpu(info.map_type) {
            let cpus = super::possible_cpus().map_err(|source| SyscallError {
                command: "BPF_MAP_LOOKUP_ELEM",
                source,
            })?;
            per_cpu_stride(info.value_size)
                .checked_mul(cpus)
                .ok_or_else(|| SyscallError::invalid("BPF_MAP_LOOKUP_ELEM", "value too large"))?
        } else {
            info.value_size as usize
        };
        Ok(MapHandle {
            fd,
            map_type: info.map_type,
            key_size: info.key_size,
            value_size: info.value_size,
            value_buffer_size,
        })
    }

    /// Builds a handle from sizes that bpfkit read from the kernel for this fd earlier (the
    /// maps module caches them in `MapData`).
    pub(crate) fn from_trusted_parts(
        fd: BorrowedFd<'a>,
        map_type: u32,
        key_size: u32,
        value_size: u32,
        value_buffer_size: usize,
    ) -> MapHandle<'a> {
        MapHandle {
            fd,
            map_type,
            key_size,
            value_size,
            value_buffer_size,
        }
    }

    /// The map fd.
    pub fn fd(&self) -> BorrowedFd<'a> {
        self.fd
    }

    /// `BPF_MAP_TYPE_*`.
    pub fn map_type(&self) -> u32 {
        self.map_type
    }

    /// Key size in bytes.
    pub fn key_size(&self) -> u32 {
        self.key_size
    }

    /// Value size in bytes (of one CPU's slot for per-CPU maps).
    pub fn value_size(&self) -> u32 {
        self.value_size
    }

    /// Bytes the kernel copies for one value from user space's point of view: `value_size`,
    /// or for per-CPU maps `round_up(value_size, 8) * possible CPUs`.
    pub fn value_buffer_size(&self) -> usize {
        self.value_buffer_size
    }

    fn check_key(&self, command: u32, key: Option<&[u8]>) -> Result<u64, SyscallError> {
        match key {
            None => Ok(0),
            Some(key) if key.len() >= self.key_size as usize => Ok(ptr_of(key)),
            Some(key) => Err(SyscallError::invalid(
                command_name(command),
                format!(
                    "key buffer is {} bytes, the map's key size is {}",
                    key.len(),
                    self.key_size
                ),
            )),
        }
    }

    fn check_value_len(&self, command: u32, len: usize) -> Result<(), SyscallError> {
        if len >= self.value_buffer_size {
            Ok(())
        } else {
            Err(SyscallError::invalid(
                command_name(command),
                format!(
                    "value buffer is {len} bytes, the map needs {}",
                    self.value_buffer_size
                ),
            ))
        }
    }
}

impl AsFd for MapHandle<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd
    }
}

/// Whether the kernel copies one value per possible CPU for this map type.
pub(crate) fn is_per_cpu(map_type: u32) -> bool {
    matches!(
        map_type,
        map_type::BPF_MAP_TYPE_PERCPU_HASH
            | map_type::BPF_MAP_TYPE_LRU_PERCPU_HASH
            | map_type::BPF_MAP_TYPE_PERCPU_ARRAY
            | map_type::BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE
    )
}

/// Size of one CPU's slot in a per-CPU value buffer: the value size rounded up to 8 bytes.
pub(crate) fn per_cpu_stride(value_size: u32) -> usize {
    (value_size as usize).div_ceil(8) * 8
}

fn elem_op(
    command: u32,
    map: &MapHandle<'_>,
    key: u64,
    value: u64,
    flags: u64,
) -> Result<(), SyscallError> {
    let fd = AttrFd::new(map.fd, command_name(command))?;
    let mut attr = MapElemAttr {
        map_fd: fd.raw(),
        key,
        value_or_next_key: value,
        flags,
        ..Default::default()
    };
    // SAFETY: callers checked `key` and `value` against the map's key size and value buffer
    // size (from the kernel's own info for this fd) and keep the buffers borrowed for the call.
    unsafe { bpf(command, &mut attr) }.map(|_| ())
}

fn ok_unless_enoent(result: Result<(), SyscallError>) -> Result<bool, SyscallError> {
    match result {
        Ok(()) => Ok(true),
        Err(err) if err.errno() == libc::ENOENT => Ok(false),
        Err(err) => Err(err),
    }
}

/// `BPF_MAP_LOOKUP_ELEM`: copies the value of `key` into `value`. `Ok(false)` when the key does
/// not exist. `key` is `None` for maps without keys (queue, stack, bloom filter peek).
pub fn map_lookup_elem(
    map: &MapHandle<'_>,
    key: Option<&[u8]>,
    value: &mut [u8],
    flags: u64,
) -> Result<bool, SyscallError> {
    let command = cmd::BPF_MAP_LOOKUP_ELEM;
    let key = map.check_key(command, key)?;
    map.check_value_len(command, value.len())?;
    ok_unless_enoent(elem_op(command, map, key, mut_ptr_of(value), flags))
}

/// `BPF_MAP_LOOKUP_AND_DELETE_ELEM`: like [`map_lookup_elem`], then deletes the element (pops
/// from queues and stacks with `key = None`).
pub fn map_lookup_and_delete_elem(
    map: &MapHandle<'_>,
    key: Option<&[u8]>,
    value: &mut [u8],
    flags: u64,
) -> Result<bool, SyscallError> {
    let command = cmd::BPF_MAP_LOOKUP_AND_DELETE_ELEM;
    let key = map.check_key(command, key)?;
    map.check_value_len(command, value.len())?;
    ok_unless_enoent(elem_op(command, map, key, mut_ptr_of(value), flags))
}

/// `BPF_MAP_UPDATE_ELEM` with `BPF_ANY`, `BPF_NOEXIST` or `BPF_EXIST` (optionally `| BPF_F_LOCK`).
pub fn map_update_elem(
    map: &MapHandle<'_>,
    key: Option<&[u8]>,
    value: &[u8],
    flags: u64,
) -> Result<(), SyscallError> {
    let command = cmd::BPF_MAP_UPDATE_ELEM;
    let key = map.check_key(command, key)?;
    map.check_value_len(command, value.len())?;
    elem_op(command, map, key, ptr_of(value), flags)
}

/// `BPF_MAP_DELETE_ELEM`. `Ok(false)` when the key did not exist.
pub fn map_delete_elem(map: &MapHandle<'_>, key: &[u8]) -> Result<bool, SyscallError> {
    let command = cmd::BPF_MAP_DELETE_ELEM;
    let key = map.check_key(command, Some(key))?;
    ok_unless_enoent(elem_op(command, map, key, 0, 0))
}

/// `BPF_MAP_GET_NEXT_KEY`: writes the key following `key` (the first key for `None`, or when
/// `key` no longer exists in a hash map, which is how iteration restarts after a concurrent
/// delete) into `next_key`. `Ok(false)` at the end.
pub fn map_get_next_key(
    map: &MapHandle<'_>,
    key: Option<&[u8]>,
    next_key: &mut [u8],
) -> Result<bool, SyscallError> {
    let command = cmd::BPF_MAP_GET_NEXT_KEY;
    let key = map.check_key(command, key)?;
    if next_key.len() < map.key_size as usize {
        return Err(SyscallError::invalid(
            command_name(command),
            format!(
                "next_key buffer is {} bytes, key size is {}",
                next_key.len(),
                map.key_size
            ),
        ));
    }
    ok_unless_enoent(elem_op(command, map, key, mut_ptr_of(next_key), 0))
}

/// `BPF_MAP_FREEZE`: makes the map read-only for user space.
pub fn map_freeze(map: BorrowedFd<'_>) -> Result<(), SyscallError> {
    let fd = AttrFd::new(map, "BPF_MAP_FREEZE")?;
    let mut attr = MapElemAttr {
        map_fd: fd.raw(),
        ..Default::default()
    };
    // SAFETY: no pointers in the attribute.
    unsafe { bpf(cmd::BPF_MAP_FREEZE, &mut attr) }.map(|_| ())
}

/// Result of a lookup batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchResult {
    /// Elements copied into the key and value buffers.
    pub count: u32,
    /// The map has no more elements after these (the kernel answered `ENOENT`).
    pub done: bool,
}

struct BatchBuffers {
    keys: u64,
    values: u64,
}

fn check_batch(
    command: u32,
    map: &MapHandle<'_>,
    count: u32,
    keys_len: usize,
    values_len: Option<usize>,
) -> Result<(), SyscallError> {
    let name = command_name(command);
    let need_keys = (map.key_size as usize)
        .checked_mul(count as usize)
        .ok_or_else(|| SyscallError::invalid(name, "batch too large"))?;
    if keys_len < need_keys {
        return Err(SyscallError::invalid(
            name,
            format!("keys buffer is {keys_len} bytes, {count} keys need {need_keys}"),
        ));
    }
    if let Some(values_len) = values_len {
        let need_values = map
            .value_buffer_size
            .checked_mul(count as usize)
            .ok_or_else(|| SyscallError::invalid(name, "batch too large"))?;
        if values_len < need_values {
            return Err(SyscallError::invalid(
                name,
                format!("values buffer is {values_len} bytes, {count} values need {need_values}"),
            ));
        }
    }
    Ok(())
}

/// Size of the opaque batch position token: hash maps use a 32-bit bucket index, the generic
/// implementation (arrays, LPM tries) a key.
pub fn batch_token_size(map: &MapHandle<'_>) -> usize {
    (map.key_size as usize).max(4)
}

#[allow(clippy::too_many_arguments)]
fn lookup_batch(
    command: u32,
    map: &MapHandle<'_>,
    in_batch: Option<&[u8]>,
    out_batch: &mut [u8],
    keys: &mut [u8],
    values: &mut [u8],
    count: u32,
    elem_flags: u64,
    flags: u64,
) -> Result<BatchResult, SyscallError> {
    let name = command_name(command);
    check_batch(command, map, count, keys.len(), Some(values.len()))?;
    let token = batch_token_size(map);
    if out_batch.len() < token || in_batch.is_some_and(|b| b.len() < token) {
        return Err(SyscallError::invalid(
            name,
            format!("batch tokens must be {token} bytes"),
        ));
    }
    let buffers = BatchBuffers {
        keys: mut_ptr_of(keys),
        values: mut_ptr_of(values),
    };
    let fd = AttrFd::new(map.fd, name)?;
    let mut attr = MapBatchAttr {
        in_batch: in_batch.map_or(0, ptr_of),
        out_batch: mut_ptr_of(out_batch),
        keys: buffers.keys,
        values: buffers.values,
        count,
        map_fd: fd.raw(),
        elem_flags,
        flags,
    };
    // SAFETY: buffer lengths were checked against count * key size, count * value buffer size
    // and the token size; all buffers stay borrowed for the call.
    match unsafe { bpf(command, &mut attr) } {
        Ok(_) => Ok(BatchResult {
            count: attr.count,
            done: false,
        }),
        // ENOENT: the walk reached the end; `count` still says how many were copied.
        Err(err) if err.errno() == libc::ENOENT => Ok(BatchResult {
            count: attr.count,
            done: true,
        }),
        Err(err) => Err(err),
    }
}

/// `BPF_MAP_LOOKUP_BATCH`: copies up to `count` elements, starting after the position
/// `in_batch` (`None`: from the start), and writes the position to resume from into
/// `out_batch` (at least [`batch_token_size`] bytes). `ENOSPC` means a hash bucket holds more
/// elements than `count`: retry with a larger `count`.
#[allow(clippy::too_many_arguments)]
pub fn map_lookup_batch(
    map: &MapHandle<'_>,
    in_batch: Option<&[u8]>,
    out_batch: &mut [u8],
    keys: &mut [u8],
    values: &mut [u8],
    count: u32,
    elem_flags: u64,
    flags: u64,
) -> Result<BatchResult, SyscallError> {
    lookup_batch(
        cmd::BPF_MAP_LOOKUP_BATCH,
        map,
        in_batch,
        out_batch,
        keys,
        values,
        count,
        elem_flags,
        flags,
    )
}

/// `BPF_MAP_LOOKUP_AND_DELETE_BATCH`: like [`map_lookup_batch`], deleting what it returns.
#[allow(clippy::too_many_arguments)]
pub fn map_lookup_and_delete_batch(
    map: &MapHandle<'_>,
    in_batch: Option<&[u8]>,
    out_batch: &mut [u8],
    keys: &mut [u8],
    values: &mut [u8],
    count: u32,
    elem_flags: u64,
    flags: u64,
) -> Result<BatchResult, SyscallError> {
    lookup_batch(
        cmd::BPF_MAP_LOOKUP_AND_DELETE_BATCH,
        map,
        in_batch,
        out_batch,
        keys,
        values,
        count,
        elem_flags,
        flags,
    )
}

/// `BPF_MAP_UPDATE_BATCH`: writes `count` keys and values; returns how many were written
/// (on error, the elements before the failing one were written).
pub fn map_update_batch(
    map: &MapHandle<'_>,
    keys: &[u8],
    values: &[u8],
    count: u32,
    elem_flags: u64,
    flags: u64,
) -> Result<u32, SyscallError> {
    let command = cmd::BPF_MAP_UPDATE_BATCH;
    check_batch(command, map, count, keys.len(), Some(values.len()))?;
    let fd = AttrFd::new(map.fd, command_name(command))?;
    let mut attr = MapBatchAttr {
        keys: ptr_of(keys),
        values: ptr_of(values),
        count,
        map_fd: fd.raw(),
        elem_flags,
        flags,
        ..Default::default()
    };
    // SAFETY: buffer lengths checked above; the kernel only reads them.
    unsafe { bpf(command, &mut attr) }.map(|_| attr.count)
}

/// `BPF_MAP_DELETE_BATCH`: deletes `count` keys; returns how many were deleted (a missing key
/// stops the batch with `ENOENT`).
pub fn map_delete_batch(
    map: &MapHandle<'_>,
    keys: &[u8],
    count: u32,
    elem_flags: u64,
    flags: u64,
) -> Result<u32, SyscallError> {
    let command = cmd::BPF_MAP_DELETE_BATCH;
    check_batch(command, map, count, keys.len(), None)?;
    let fd = AttrFd::new(map.fd, command_name(command))?;
    let mut attr = MapBatchAttr {
        keys: ptr_of(keys),
        count,
        map_fd: fd.raw(),
        elem_flags,
        flags,
        ..Default::default()
    };
    // SAFETY: key buffer length checked above; the kernel only reads it.
    unsafe { bpf(command, &mut attr) }.map(|_| attr.count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_cpu_slots_are_rounded_to_8() {
        assert_eq!(per_cpu_stride(1), 8);
        assert_eq!(per_cpu_stride(8), 8);
        assert_eq!(per_cpu_stride(12), 16);
        assert_eq!(per_cpu_stride(0), 0);
        assert!(is_per_cpu(map_type::BPF_MAP_TYPE_PERCPU_ARRAY));
        assert!(!is_per_cpu(map_type::BPF_MAP_TYPE_HASH));
    }
}
