//! Map definitions: legacy `maps` section, BTF-defined `.maps`, and global data sections.

use crate::btf::{Btf, BtfKind};
use crate::consts::*;
use crate::error::ParseError;

/// Where a map definition came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapKind {
    /// `struct bpf_map_def` in the legacy `maps` section.
    Legacy,
    /// A BTF-described variable in `.maps`.
    Btf,
    /// A global data section turned into a one-entry array.
    Data(DataSection),
    /// The `.kconfig` extern area (described by BTF only; not handled by the loader yet).
    Kconfig,
}

/// The kind of global data section behind a data map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataSection {
    /// `.data` and `.data.*`: read-write, initialised.
    Data,
    /// `.rodata` and `.rodata.*`: read-only for programs, frozen after load.
    Rodata,
    /// `.bss` and `.bss.*`: read-write, zero-initialised.
    Bss,
}

/// libbpf's `pinning` attribute.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Pinning {
    /// `LIBBPF_PIN_NONE` (0).
    #[default]
    None,
    /// `LIBBPF_PIN_BY_NAME` (1): pinned under the loader's pin path by map name, reused if present.
    ByName,
}

/// One initial slot of a prog array or map-in-map (`.values = { ... }`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum InitialValue {
    /// Another map of the object, by name.
    Map(String),
    /// A program of the object, by name.
    Program(String),
}

/// A map as the object describes it, before it exists in the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapSpec {
    /// Symbol name; the section name (`.data`, `.rodata.foo` ...) for data maps.
    pub name: String,
    /// Where the definition came from.
    pub kind: MapKind,
    /// `BPF_MAP_TYPE_*`.
    pub map_type: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum number of entries.
    pub max_entries: u32,
    /// `BPF_F_*` map flags (`BPF_F_NUMA_NODE` is set when `numa_node` is).
    pub map_flags: u32,
    /// NUMA node to allocate on.
    pub numa_node: Option<u32>,
    /// Type-specific extra (bloom filter hash count, arena address ...).
    pub map_extra: u64,
    /// Pinning behaviour.
    pub pinning: Pinning,
    /// Inner map template of a map-in-map.
    pub inner: Option<Box<MapSpec>>,
    /// Initial contents of a data map (zeros for `.bss`).
    pub initial_data: Option<Vec<u8>>,
    /// Initial slots (`.values`): (index, what goes there).
    pub initial_slots: Vec<(u32, InitialValue)>,
    /// BTF type id of the key, when known.
    pub btf_key_type_id: Option<u32>,
    /// BTF type id of the value, when known (the `DATASEC` for data maps).
    pub btf_value_type_id: Option<u32>,
}

impl MapSpec {
    fn empty(name: &str, kind: MapKind) -> MapSpec {
        MapSpec {
            name: name.to_owned(),
            kind,
            map_type: BPF_MAP_TYPE_UNSPEC,
            key_size: 0,
            value_size: 0,
            max_entries: 0,
            map_flags: 0,
            numa_node: None,
            map_extra: 0,
            pinning: Pinning::None,
            inner: None,
            initial_data: None,
            initial_slots: Vec::new(),
            btf_key_type_id: None,
            btf_value_type_id: None,
        }
    }

    /// Whether this is a global data map (`.data`, `.rodata`, `.bss` and their `.*` variants).
    pub fn is_data(&self) -> bool {
        matches!(self.kind, MapKind::Data(_))
    }

    /// Whether the map holds other maps.
    pub fn is_map_in_map(&self) -> bool {
        matches!(
            self.map_type,
            BPF_MAP_TYPE_ARRAY_OF_MAPS | BPF_MAP_TYPE_HASH_OF_MAPS
        )
    }

    /// Checks what the object model can check without a kernel: a known map type, and sizes
    /// whose products do not overflow.
    pub(crate) fn validate(&self) -> Result<(), ParseError> {
        if self.map_type >= crate::uapi::map_type::__MAX_BPF_MAP_TYPE {
            return Err(ParseError::UnknownMapType {
                map: self.name.clone(),
                map_type: self.map_type,
            });
        }
        let entry =
            self.key_size
                .checked_add(self.value_size)
                .ok_or_else(|| ParseError::SizeOverflow {
                    what: format!(
                        "map {}: key_size {} + value_size {}",
                        self.name, self.key_size, self.value_size
                    ),
                })?;
        // Arrays allocate max_entries * round_up(value_size, 8) up front and the kernel keeps that
        // in 32 bits; hashes at least need each element (key + value) to be addressable.
        let per_entry = if matches!(
            self.map_type,
            BPF_MAP_TYPE_ARRAY | BPF_MAP_TYPE_PERCPU_ARRAY
        ) {
            u64::from(self.value_size).div_ceil(8) * 8
        } else {
            u64::from(entry)
        };
        if u64::from(self.max_entries).saturating_mul(per_entry) > u64::from(u32::MAX) {
            return Err(ParseError::SizeOverflow {
                what: format!(
                    "map {}: max_entries {} * entry size {} exceeds 4 GiB",
                    self.name, self.max_entries, per_entry
                ),
            });
        }
        if let Some(inner) = &self.inner {
            inner.validate()?;
        }
        Ok(())
    }
}

/// Where a BTF map's `.values` array lives inside its variable.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ValuesLayout {
    /// Byte offset of the `values` member inside the map variable.
    pub offset: u32,
}

/// Decodes a legacy `struct bpf_map_def` of `def.len()` bytes (libbpf accepts shorter definitions
/// with missing fields zero, and longer ones only when the extra bytes are zero).
pub(crate) fn parse_legacy_def(
    name: &str,
    def: &[u8],
    endian: crate::btf::Endian,
) -> Result<MapSpec, ParseError> {
    let field = |i: usize| endian.read_u32(def, i * 4).unwrap_or(0);
    if def.len() > 20 && def[20..].iter().any(|&b| b != 0) {
        return Err(ParseError::BadMapDefinition {
            map: name.to_owned(),
            reason: format!(
                "legacy definition is {} bytes and its fields beyond struct bpf_map_def are not zero",
                def.len()
            ),
        });
    }
    let mut spec = MapSpec::empty(name, MapKind::Legacy);
    spec.map_type = field(0);
    spec.key_size = field(1);
    spec.value_size = field(2);
    spec.max_entries = field(3);
    spec.map_flags = field(4);
    Ok(spec)
}

fn bad(map: &str, reason: impl Into<String>) -> ParseError {
    ParseError::BadMapDefinition {
        map: map.to_owned(),
        reason: reason.into(),
    }
}

/// Reads an integer attribute: `__uint(name, val)` is a pointer to an array of `val` elements;
/// `__ulong(name, val)` an enum whose single value is `val`.
fn btf_map_int(btf: &Btf, map: &str, field: &str, type_id: u32) -> Result<u64, ParseError> {
    let resolved = btf.skip_mods_and_typedefs(type_id)?;
    let ty = btf.type_by_id(resolved)?;
    match ty.kind() {
        BtfKind::Ptr => {
            let target = ty.referenced_type().unwrap_or(0);
            let array = btf.type_by_id(target)?;
            let info = array.array().ok_or_else(|| {
                bad(
                    map,
                    format!(
                        "attribute {field} is a pointer to a {}, not an array",
                        array.kind()
                    ),
                )
            })?;
            Ok(u64::from(info.nelems))
        }
        BtfKind::Enum | BtfKind::Enum64 => {
            let mut values = ty.enum_values();
            match (values.next(), values.next()) {
                (Some(v), None) => Ok(v.value),
                _ => Err(bad(
                    map,
                    format!("attribute {field} is an enum without exactly one value"),
                )),
            }
        }
        kind => Err(bad(
            map,
            format!("attribute {field} is a {kind}, expected __uint or __ulong"),
        )),
    }
}

fn btf_map_u32(btf: &Btf, map: &str, field: &str, type_id: u32) -> Result<u32, ParseError> {
    let value = btf_map_int(btf, map, field, type_id)?;
    u32::try_from(value).map_err(|_| ParseError::SizeOverflow {
        what: format!("map {map}: {field} = {value}"),
    })
}

/// Pointee of `__type(name, T)`.
fn btf_map_pointee(btf: &Btf, map: &str, field: &str, type_id: u32) -> Result<u32, ParseError> {
    let resolved = btf.skip_mods_and_typedefs(type_id)?;
    let ty = btf.type_by_id(resolved)?;
    match (ty.kind(), ty.referenced_type()) {
        (BtfKind::Ptr, Some(target)) => Ok(target),
        (kind, _) => Err(bad(
            map,
            format!("attribute {field} is a {kind}, expected a pointer (__type)"),
        )),
    }
}

fn set_size(map: &str, slot: &mut u32, field: &str, size: u32) -> Result<(), ParseError> {
    if *slot != 0 && *slot != size {
        return Err(bad(
            map,
            format!("{field} {size} conflicts with the earlier {}", *slot),
        ));
    }
    *slot = size;
    Ok(())
}

/// Parses a BTF map definition: the struct `struct_id` (after typedefs) of the `.maps` variable
/// `name`. `inner` is set for the template of a map-in-map's values.
pub(crate) fn parse_btf_def(
    btf: &Btf,
    name: &str,
    struct_id: u32,
    inner: bool,
) -> Result<(MapSpec, Option<ValuesLayout>), ParseError> {
    let resolved = btf.skip_mods_and_typedefs(struct_id)?;
    let def = btf.type_by_id(resolved)?;
    if def.kind() != BtfKind::Struct {
        return Err(bad(
            name,
            format!("definition is a {}, expected a struct", def.kind()),
        ));
    }
    let mut spec = MapSpec::empty(name, MapKind::Btf);
    let mut values = None;
    for member in def.members() {
        let field = btf.string_at(member.name_offset)?;
        match field {
            "type" => spec.map_type = btf_map_u32(btf, name, field, member.type_id)?,
            "max_entries" => spec.max_entries = btf_map_u32(btf, name, field, member.type_id)?,
            "map_flags" => spec.map_flags = btf_map_u32(btf, name, field, member.type_id)?,
            "numa_node" => {
                spec.numa_node = Some(btf_map_u32(btf, name, field, member.type_id)?);
                spec.map_flags |= BPF_F_NUMA_NODE;
            }
            "map_extra" => spec.map_extra = btf_map_int(btf, name, field, member.type_id)?,
            "key_size" => {
                let size = btf_map_u32(btf, name, field, member.type_id)?;
                set_size(name, &mut spec.key_size, field, size)?;
            }
            "value_size" => {
                let size = btf_map_u32(btf, name, field, member.type_id)?;
                set_size(name, &mut spec.value_size, field, size)?;
            }
            "key" | "value" => {
                let target = btf_map_pointee(btf, name, field, member.type_id)?;
                let size = btf.resolve_size(target)?;
                let size = u32::try_from(size).map_err(|_| ParseError::SizeOverflow {
                    what: format!("map {name}: {field} size {size}"),
                })?;
                if field == "key" {
                    set_size(name, &mut spec.key_size, "key_size", size)?;
                    spec.btf_key_type_id = Some(target);
                } else {
                    set_size(name, &mut spec.value_size, "value_size", size)?;
                    spec.btf_value_type_id = Some(target);
                }
            }
            "values" => {
                if inner {
                    return Err(bad(
                        name,
                        "inner map definitions cannot have values (multi-level map-in-map)",
                    ));
                }
                let is_map_in_map = spec.is_map_in_map();
                if !is_map_in_map && spec.map_type != BPF_MAP_TYPE_PROG_ARRAY {
                    return Err(bad(name, "values are only allowed in map-in-map and prog array definitions, after type"));
                }
                let array = btf.array_info(member.type_id)?;
                let element = btf.skip_mods_and_typedefs(array.element_type)?;
                let pointee = btf_map_pointee(btf, name, field, element)?;
                let pointee = btf.skip_mods_and_typedefs(pointee)?;
                let pointee_kind = btf.type_by_id(pointee)?.kind();
                if is_map_in_map {
                    if pointee_kind != BtfKind::Struct {
                        return Err(bad(
                            name,
                            format!("values point to a {pointee_kind}, expected a map definition"),
                        ));
                    }
                    let (inner_spec, _) =
                        parse_btf_def(btf, &format!("{name}.inner"), pointee, true)?;
                    spec.inner = Some(Box::new(inner_spec));
                } else if pointee_kind != BtfKind::FuncProto {
                    return Err(bad(
                        name,
                        format!("prog array values point to a {pointee_kind}, expected programs"),
                    ));
                }
                // Slots hold 4-byte fds.
                set_size(name, &mut spec.value_size, "value_size", 4)?;
                if member.bit_offset % 8 != 0 {
                    return Err(bad(name, "values member is not byte-aligned"));
                }
                values = Some(ValuesLayout {
                    offset: member.bit_offset / 8,
                });
            }
            "pinning" => {
                if inner {
                    return Err(bad(name, "inner map definitions cannot be pinned"));
                }
                spec.pinning = match btf_map_u32(btf, name, field, member.type_id)? {
                    0 => Pinning::None,
                    1 => Pinning::ByName,
                    other => return Err(bad(name, format!("unknown pinning value {other}"))),
                };
            }
            other => {
                return Err(ParseError::UnknownMapField {
                    map: name.to_owned(),
                    field: other.to_owned(),
                })
            }
        }
    }
    if spec.map_type == BPF_MAP_TYPE_UNSPEC {
        return Err(bad(name, "map type is not specified"));
    }
    Ok((spec, values))
}

/// Builds the map of a global data section.
pub(crate) fn data_map(
    section_name: &str,
    kind: DataSection,
    contents: Vec<u8>,
    btf: Option<&Btf>,
) -> Result<MapSpec, ParseError> {
    let value_size = u32::try_from(contents.len()).map_err(|_| ParseError::SizeOverflow {
        what: format!("data section {section_name} is {} bytes", contents.len()),
    })?;
    let mut spec = MapSpec::empty(section_name, MapKind::Data(kind));
    spec.map_type = BPF_MAP_TYPE_ARRAY;
    spec.key_size = 4;
    spec.value_size = value_size;
    spec.max_entries = 1;
    // Mmapable so user space can read and write globals directly; rodata is read-only to programs
    // (and frozen by the loader), which lets the verifier treat its contents as constants.
    spec.map_flags = BPF_F_MMAPABLE
        | if kind == DataSection::Rodata {
            BPF_F_RDONLY_PROG
        } else {
            0
        };
    spec.initial_data = Some(contents);
    spec.btf_value_type_id = btf.and_then(|b| b.find_by_name_kind(section_name, BtfKind::Datasec));
    spec.validate()?;
    Ok(spec)
}

/// The `.kconfig` map: externs described only by BTF. Laid out as libbpf does (by alignment,
/// then size, then name), though the loader does not fill it yet.
pub(crate) fn kconfig_map(btf: &Btf, datasec_id: u32) -> Result<MapSpec, ParseError> {
    let mut vars = Vec::new();
    for var in btf.datasec_vars(datasec_id)? {
        let ty = btf.type_by_id(var.type_id)?;
        let name = btf.string_at(ty.name_offset())?.to_owned();
        let size = btf.resolve_size(var.type_id)?;
        // Scalars align to their size; anything else (arrays of char) to 1, up to 8.
        let align = if size.is_power_of_two() && size <= 8 {
            size
        } else {
            1
        };
        vars.push((align, size, name));
    }
    vars.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut end: u64 = 0;
    for (align, size, _) in &vars {
        end = end
            .div_ceil(*align)
            .saturating_mul(*align)
            .saturating_add(*size);
    }
    let value_size = u32::try_from(end).map_err(|_| ParseError::SizeOverflow {
        what: format!(".kconfig is {end} bytes"),
    })?;
    let mut spec = MapSpec::empty(".kconfig", MapKind::Kconfig);
    spec.map_type = BPF_MAP_TYPE_ARRAY;
    spec.key_size = 4;
    spec.value_size = value_size;
    spec.max_entries = 1;
    spec.map_flags = BPF_F_MMAPABLE | BPF_F_RDONLY_PROG;
    spec.btf_value_type_id = Some(datasec_id);
    spec.validate()?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btf::Endian;

    fn words(values: &[u32], endian: Endian) -> Vec<u8> {
        values
            .iter()
            .flat_map(|v| match endian {
                Endian::Little => v.to_le_bytes(),
                Endian::Big => v.to_be_bytes(),
            })
            .collect()
    }

    #[test]
    fn legacy_definitions() {
        let def = words(
            &[BPF_MAP_TYPE_HASH, 4, 8, 64, BPF_F_NO_PREALLOC],
            Endian::Big,
        );
        let spec = parse_legacy_def("m", &def, Endian::Big).unwrap();
        assert_eq!(
            (
                spec.map_type,
                spec.key_size,
                spec.value_size,
                spec.max_entries
            ),
            (BPF_MAP_TYPE_HASH, 4, 8, 64)
        );
        assert_eq!(
            (spec.map_flags, spec.kind),
            (BPF_F_NO_PREALLOC, MapKind::Legacy)
        );
        // Shorter definitions leave the missing fields zero, as libbpf does.
        let short = parse_legacy_def(
            "m",
            &words(&[BPF_MAP_TYPE_ARRAY, 4], Endian::Little),
            Endian::Little,
        )
        .unwrap();
        assert_eq!(
            (short.map_type, short.key_size, short.value_size),
            (BPF_MAP_TYPE_ARRAY, 4, 0)
        );
        // Longer ones only with zero extra bytes.
        let mut long = words(&[BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0, 0, 0], Endian::Little);
        assert!(parse_legacy_def("m", &long, Endian::Little).is_ok());
        long[24] = 1;
        assert!(matches!(
            parse_legacy_def("m", &long, Endian::Little),
            Err(ParseError::BadMapDefinition { .. })
        ));
    }

    #[test]
    fn validation() {
        let mut spec = MapSpec::empty("m", MapKind::Btf);
        spec.map_type = BPF_MAP_TYPE_ARRAY;
        spec.key_size = 4;
        spec.value_size = 8;
        spec.max_entries = 1 << 20;
        assert!(spec.validate().is_ok());
        spec.max_entries = u32::MAX;
        assert!(matches!(
            spec.validate(),
            Err(ParseError::SizeOverflow { .. })
        ));
        spec.max_entries = 1;
        spec.map_type = 9999;
        assert!(matches!(
            spec.validate(),
            Err(ParseError::UnknownMapType { map_type: 9999, .. })
        ));
        spec.map_type = BPF_MAP_TYPE_HASH;
        spec.key_size = u32::MAX;
        assert!(matches!(
            spec.validate(),
            Err(ParseError::SizeOverflow { .. })
        ));
        // A bad inner template fails its outer map.
        let mut outer = MapSpec::empty("o", MapKind::Btf);
        outer.map_type = BPF_MAP_TYPE_ARRAY_OF_MAPS;
        outer.inner = Some(Box::new(spec));
        assert!(outer.validate().is_err());
    }

    #[test]
    fn data_maps() {
        let rodata = data_map(
            ".rodata.str1.1",
            DataSection::Rodata,
            b"hi\0".to_vec(),
            None,
        )
        .unwrap();
        assert_eq!(
            (
                rodata.map_type,
                rodata.key_size,
                rodata.value_size,
                rodata.max_entries
            ),
            (BPF_MAP_TYPE_ARRAY, 4, 3, 1)
        );
        assert_eq!(rodata.map_flags, BPF_F_MMAPABLE | BPF_F_RDONLY_PROG);
        assert!(rodata.is_data() && !rodata.is_map_in_map());
        let bss = data_map(".bss", DataSection::Bss, vec![0; 16], None).unwrap();
        assert_eq!(
            (bss.map_flags, bss.initial_data.as_deref()),
            (BPF_F_MMAPABLE, Some(&[0u8; 16][..]))
        );
    }
}
