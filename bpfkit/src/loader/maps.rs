//! Maps of an object: created (or reused from their pin), filled, frozen.

use std::os::fd::BorrowedFd;
use std::path::Path;

use bpfkit_obj::consts::{BPF_F_MMAPABLE, BPF_F_RDONLY_PROG};
use bpfkit_obj::uapi::map_type;
use bpfkit_obj::{DataSection, MapKind, MapSpec, Pinning};

use super::EbpfError;
use crate::maps::{MapData, MapError};
use crate::sys::MapCreate;

/// The file name of a map's pin: bpffs refuses names with dots, so `.bss` pins as `_bss` (the
/// same rule as libbpf).
pub fn pin_name(map_name: &str) -> String {
    map_name.replace('.', "_")
}

/// The name a map gets in the kernel: data maps are prefixed with (up to 8 characters of) the
/// object name, as libbpf does, so `bpftool map` tells them apart.
fn kernel_map_name(spec: &MapSpec, object_name: &str) -> String {
    match spec.kind {
        MapKind::Data(_) | MapKind::Kconfig => {
            let room = 15usize.saturating_sub(spec.name.len()).min(8);
            let prefix: String = object_name
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(room)
                .collect();
            format!("{prefix}{}", spec.name)
        }
        _ => spec.name.clone(),
    }
}

/// Creates one map (or reuses its pin), fills its initial contents and freezes `.rodata`.
pub(super) fn create_map(
    spec: &MapSpec,
    object_name: &str,
    pin_dir: &Path,
    btf_fd: Option<BorrowedFd<'_>>,
) -> Result<Option<MapData>, EbpfError> {
    let map_err = |source: MapError| EbpfError::Map {
        name: spec.name.clone(),
        source,
    };
    let pin = (spec.pinning == Pinning::ByName).then(|| pin_dir.join(pin_name(&spec.name)));
    if let Some(path) = &pin {
        if path.exists() {
            let map = MapData::from_pin(path).map_err(|source| EbpfError::Pin {
                name: spec.name.clone(),
                path: path.clone(),
                source,
            })?;
            check_pinned_compatible(spec, &map, path)?;
            return Ok(Some(map));
        }
    }
    // Map-in-map types need an inner map as a template; it can go once the outer map exists.
    let inner = match &spec.inner {
        Some(inner_spec) => Some(
            MapData::create(&map_create_attr(inner_spec, &inner_spec.name, None))
                .map_err(map_err)?,
        ),
        None => None,
    };
    let name = kernel_map_name(spec, object_name);
    let mut attr = map_create_attr(spec, &name, inner.as_ref());
    if let (Some(btf_fd), Some(value_type), true) = (
        btf_fd,
        spec.btf_value_type_id,
        map_takes_btf_types(spec.map_type),
    ) {
        attr.btf_fd = Some(btf_fd);
        attr.btf_key_type_id = spec.btf_key_type_id.unwrap_or(0);
        attr.btf_value_type_id = value_type;
    }
    let created = MapData::create(&attr).or_else(|err| {
        if attr.btf_fd.is_none() {
            return Err(err);
        }
        // As libbpf does: a kernel that refuses the map's BTF description may still take the map.
        log::debug!(
            "map `{}`: creating with BTF failed ({err}); retrying without BTF",
            spec.name
        );
        attr.btf_fd = None;
        attr.btf_key_type_id = 0;
        attr.btf_value_type_id = 0;
        MapData::create(&attr)
    });
    let map = match created {
        Ok(map) => map,
        // Kernels before 5.5 cannot mmap arrays; data maps work without it.
        Err(err)
            if matches!(spec.kind, MapKind::Data(_) | MapKind::Kconfig)
                && attr.map_flags & BPF_F_MMAPABLE != 0
                && err.errno() == Some(libc::EINVAL) =>
        {
            attr.map_flags &= !BPF_F_MMAPABLE;
            MapData::create(&attr).map_err(map_err)?
        }
        Err(err) => return Err(map_err(err)),
    };
    if let Some(data) = &spec.initial_data {
        map.update_bytes(&0u32.to_ne_bytes(), data, 0)
            .map_err(map_err)?;
    }
    if matches!(
        spec.kind,
        MapKind::Data(DataSection::Rodata) | MapKind::Kconfig
    ) || (matches!(spec.kind, MapKind::Data(_)) && spec.map_flags & BPF_F_RDONLY_PROG != 0)
    {
        // A frozen read-only map is a constant to the verifier: dead branches get pruned.
        map.freeze().map_err(map_err)?;
    }
    if let Some(path) = &pin {
        map.pin(path).map_err(|source| EbpfError::Pin {
            name: spec.name.clone(),
            path: path.clone(),
            source,
        })?;
    }
    Ok(Some(map))
}

/// Whether the kernel accepts BTF key/value types for this map type: those holding fds, stack
/// traces or raw records take none (libbpf leaves them out too), so asking would only fail once.
fn map_takes_btf_types(kind: u32) -> bool {
    !matches!(
        kind,
        map_type::BPF_MAP_TYPE_PROG_ARRAY
            | map_type::BPF_MAP_TYPE_PERF_EVENT_ARRAY
            | map_type::BPF_MAP_TYPE_CGROUP_ARRAY
            | map_type::BPF_MAP_TYPE_STACK_TRACE
            | map_type::BPF_MAP_TYPE_ARRAY_OF_MAPS
            | map_type::BPF_MAP_TYPE_HASH_OF_MAPS
            | map_type::BPF_MAP_TYPE_DEVMAP
            | map_type::BPF_MAP_TYPE_DEVMAP_HASH
            | map_type::BPF_MAP_TYPE_CPUMAP
            | map_type::BPF_MAP_TYPE_XSKMAP
            | map_type::BPF_MAP_TYPE_SOCKMAP
            | map_type::BPF_MAP_TYPE_SOCKHASH
            | map_type::BPF_MAP_TYPE_REUSEPORT_SOCKARRAY
            | map_type::BPF_MAP_TYPE_QUEUE
            | map_type::BPF_MAP_TYPE_STACK
            | map_type::BPF_MAP_TYPE_RINGBUF
            | map_type::BPF_MAP_TYPE_USER_RINGBUF
    )
}

/// A perf event array declared without a size gets one slot per possible CPU (libbpf's rule: the
/// kernel refuses 0 entries).
fn effective_max_entries(spec: &MapSpec) -> u32 {
    if spec.map_type == map_type::BPF_MAP_TYPE_PERF_EVENT_ARRAY && spec.max_entries == 0 {
        if let Ok(cpus) = crate::sys::possible_cpus() {
            return u32::try_from(cpus).unwrap_or(u32::MAX);
        }
    }
    spec.max_entries
}

fn map_create_attr<'a>(spec: &MapSpec, name: &'a str, inner: Option<&'a MapData>) -> MapCreate<'a> {
    MapCreate {
        map_type: spec.map_type,
        key_size: spec.key_size,
        value_size: spec.value_size,
        max_entries: effective_max_entries(spec),
        map_flags: spec.map_flags,
        inner_map_fd: inner.map(|m| m.fd()),
        numa_node: spec.numa_node,
        name,
        map_extra: spec.map_extra,
        ..MapCreate::default()
    }
}

/// A pinned map is reused only when it is the same kind of map (libbpf's rule).
fn check_pinned_compatible(spec: &MapSpec, map: &MapData, path: &Path) -> Result<(), EbpfError> {
    let info = map.info();
    let mut differences = Vec::new();
    let mut compare = |what: &str, want: u32, have: u32| {
        if want != have {
            differences.push(format!("{what}: object {want}, pinned {have}"));
        }
    };
    compare("type", spec.map_type, info.map_type);
    compare("key size", spec.key_size, info.key_size);
    compare("value size", spec.value_size, info.value_size);
    // Per-CPU and map-in-map sizes are reported differently; entries and flags must agree.
    if spec.map_type != map_type::BPF_MAP_TYPE_RINGBUF {
        compare("max entries", spec.max_entries, info.max_entries);
    }
    compare("flags", spec.map_flags, info.map_flags);
    if differences.is_empty() {
        Ok(())
    } else {
        Err(EbpfError::PinnedMapMismatch {
            name: spec.name.clone(),
            path: path.to_path_buf(),
            detail: differences.join(", "),
        })
    }
}
