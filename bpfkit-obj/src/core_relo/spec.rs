//! Access specifications: what an access string (`"0:1:2"`) means in one BTF, how it maps onto
//! a candidate target type, and the value a relocation takes from it.
//!
//! Mirrors libbpf's two-level view: the *raw* spec is the access string itself (one index per
//! level, anonymous members included); the *accessors* keep only the meaningful steps — named
//! fields, array indexes, the enumerator — because those are what must be found again by name in
//! the target, where anonymous nesting may differ.

use super::compat::{self, CompatError};
use super::{CoreFailure, CoreReloKind};
use crate::btf::{Btf, BtfKind, BtfType};

/// Longest access string libbpf accepts (`BPF_CORE_SPEC_MAX_LEN`).
pub(crate) const MAX_SPEC_LEN: usize = 64;

/// One meaningful step of an access.
#[derive(Clone, Debug)]
pub(crate) struct Accessor<'b> {
    /// Struct/union holding the field, the enum holding the enumerator, or the array element type.
    pub type_id: u32,
    /// Member index, enumerator index or array index.
    pub idx: u32,
    /// Field or enumerator name; `None` for an array index.
    pub name: Option<&'b str>,
}

/// An access string resolved in one BTF.
#[derive(Clone, Debug)]
pub(crate) struct Spec<'b> {
    pub btf: &'b Btf,
    pub root_type_id: u32,
    pub raw: Vec<u32>,
    pub accessors: Vec<Accessor<'b>>,
    /// Bit offset of the accessed field from the start of the root object.
    pub bit_offset: u64,
}

impl<'b> Spec<'b> {
    fn empty(btf: &'b Btf, root_type_id: u32) -> Spec<'b> {
        Spec {
            btf,
            root_type_id,
            raw: Vec::new(),
            accessors: Vec::new(),
            bit_offset: 0,
        }
    }

    /// `task_struct.pid`, `arr[3].x`, `color::RED`, or just the type name for type relocations.
    pub fn path(&self, kind: CoreReloKind) -> String {
        let root_name = self
            .btf
            .type_name(self.root_type_id)
            .ok()
            .filter(|n| !n.is_empty())
            .unwrap_or("<anon>");
        let mut out = root_name.to_owned();
        if kind.is_enumval_based() {
            if let Some(name) = self.accessors.first().and_then(|a| a.name) {
                out.push_str("::");
                out.push_str(name);
            }
            return out;
        }
        for (i, accessor) in self.accessors.iter().enumerate() {
            match accessor.name {
                Some(name) => {
                    out.push('.');
                    out.push_str(name);
                }
                None if i > 0 || accessor.idx > 0 => {
                    out.push_str(&format!("[{}]", accessor.idx));
                }
                None => {}
            }
        }
        out
    }
}

fn bad_access(access: &str, reason: &'static str) -> CoreFailure {
    CoreFailure::BadAccessString {
        access: access.to_owned(),
        reason,
    }
}

fn member_at<'t>(ty: &BtfType<'t>, idx: u32) -> Option<crate::btf::BtfMember> {
    ty.members().nth(idx as usize)
}

/// A flexible array: the last member of a struct, declared with zero elements.
fn is_flex_array(btf: &Btf, previous: Option<&Accessor<'_>>, nelems: u32) -> bool {
    let Some(previous) = previous else {
        return false;
    };
    if previous.name.is_none() || nelems > 0 {
        return false;
    }
    btf.type_by_id(previous.type_id)
        .map(|t| t.vlen() > 0 && previous.idx as usize == t.vlen() - 1)
        .unwrap_or(false)
}

fn bits_of(size: u64, count: u32, access: &str) -> Result<u64, CoreFailure> {
    size.checked_mul(u64::from(count))
        .and_then(|bytes| bytes.checked_mul(8))
        .ok_or_else(|| bad_access(access, "offset overflows"))
}

/// Parses `access` for relocation `kind` on local type `type_id` (libbpf `bpf_core_parse_spec`).
pub(crate) fn parse_spec<'b>(
    btf: &'b Btf,
    type_id: u32,
    access: &str,
    kind: CoreReloKind,
) -> Result<Spec<'b>, CoreFailure> {
    if access.is_empty() {
        return Err(bad_access(access, "empty access string"));
    }
    let mut spec = Spec::empty(btf, type_id);
    if kind.is_type_based() {
        if access != "0" {
            return Err(bad_access(
                access,
                "type relocations take the access string \"0\"",
            ));
        }
        // Check the root id now, so a bad id is an error and not a silent "type missing".
        btf.type_by_id(type_id)?;
        return Ok(spec);
    }
    for piece in access.split(':') {
        if piece.is_empty() || !piece.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad_access(
                access,
                "expected colon-separated decimal indexes",
            ));
        }
        let index: u32 = piece
            .parse()
            .map_err(|_| bad_access(access, "index does not fit in 32 bits"))?;
        if spec.raw.len() == MAX_SPEC_LEN {
            return Err(bad_access(access, "more than 64 levels"));
        }
        spec.raw.push(index);
    }
    let first = spec.raw[0];
    let mut id = btf.skip_mods_and_typedefs(type_id)?;
    let root = btf.type_by_id(id)?;

    if kind.is_enumval_based() {
        if !matches!(root.kind(), BtfKind::Enum | BtfKind::Enum64) {
            return Err(CoreFailure::AccessMismatch {
                access: access.to_owned(),
                reason: format!("enum value relocation on a {}", root.kind()),
            });
        }
        if spec.raw.len() > 1 {
            return Err(bad_access(access, "enum value relocations take one index"));
        }
        let value =
            root.enum_values()
                .nth(first as usize)
                .ok_or_else(|| CoreFailure::AccessMismatch {
                    access: access.to_owned(),
                    reason: format!("enum has {} values, index {first} asked", root.vlen()),
                })?;
        spec.accessors.push(Accessor {
            type_id: id,
            idx: first,
            name: Some(btf.string_at(value.name_offset)?),
        });
        return Ok(spec);
    }

    // Field relocation: the first index steps over whole objects (`p[first]`).
    let size = btf.resolve_size(id)?;
    spec.bit_offset = bits_of(size, first, access)?;
    spec.accessors.push(Accessor {
        type_id: id,
        idx: first,
        name: None,
    });
    for level in 1..spec.raw.len() {
        let index = spec.raw[level];
        id = btf.skip_mods_and_typedefs(id)?;
        let ty = btf.type_by_id(id)?;
        match ty.kind() {
            BtfKind::Struct | BtfKind::Union => {
                let member = member_at(&ty, index).ok_or_else(|| CoreFailure::AccessMismatch {
                    access: access.to_owned(),
                    reason: format!("[{id}] has {} members, index {index} asked", ty.vlen()),
                })?;
                spec.bit_offset = spec
                    .bit_offset
                    .checked_add(u64::from(member.bit_offset))
                    .ok_or_else(|| bad_access(access, "offset overflows"))?;
                if member.name_offset != 0 {
                    let name = btf.string_at(member.name_offset)?;
                    if name.is_empty() {
                        return Err(CoreFailure::AccessMismatch {
                            access: access.to_owned(),
                            reason: format!("member {index} of [{id}] has an empty name"),
                        });
                    }
                    spec.accessors.push(Accessor {
                        type_id: id,
                        idx: index,
                        name: Some(name),
                    });
                }
                id = member.type_id;
            }
            BtfKind::Array => {
                let array = ty
                    .array()
                    .ok_or(crate::btf::BtfError::TruncatedType { id })?;
                let element = btf.skip_mods_and_typedefs(array.element_type)?;
                let flex = is_flex_array(btf, spec.accessors.last(), array.nelems);
                if !flex && index >= array.nelems {
                    return Err(CoreFailure::AccessMismatch {
                        access: access.to_owned(),
                        reason: format!(
                            "index {index} beyond the {} elements of array [{id}]",
                            array.nelems
                        ),
                    });
                }
                spec.accessors.push(Accessor {
                    type_id: element,
                    idx: index,
                    name: None,
                });
                let element_size = btf.resolve_size(element)?;
                spec.bit_offset = spec
                    .bit_offset
                    .checked_add(bits_of(element_size, index, access)?)
                    .ok_or_else(|| bad_access(access, "offset overflows"))?;
                id = element;
            }
            other => {
                return Err(CoreFailure::AccessMismatch {
                    access: access.to_owned(),
                    reason: format!("level {level} reaches [{id}], a {other}, which has no fields"),
                })
            }
        }
    }
    Ok(spec)
}

/// What a candidate check concluded.
pub(crate) enum Matched<'b> {
    /// The candidate fits; its spec.
    Yes(Spec<'b>),
    /// The candidate does not have the field / enumerator / shape.
    No,
}

/// Finds `local`'s field among the members of target type `target_id`, descending into
/// anonymous structs/unions (libbpf `bpf_core_match_member`). On success the target spec has
/// the new accessor and the returned id is the field's type.
fn match_member<'b>(
    local: &Spec<'_>,
    local_accessor: &Accessor<'_>,
    target: &'b Btf,
    target_id: u32,
    spec: &mut Spec<'b>,
) -> Result<Option<u32>, CoreFailure> {
    let target_id = target.skip_mods_and_typedefs(target_id)?;
    let target_type = target.type_by_id(target_id)?;
    if !matches!(target_type.kind(), BtfKind::Struct | BtfKind::Union) {
        return Ok(None);
    }
    let local_type = local.btf.type_by_id(local_accessor.type_id)?;
    let local_member =
        member_at(&local_type, local_accessor.idx).ok_or(crate::btf::BtfError::TruncatedType {
            id: local_accessor.type_id,
        })?;
    let local_name = local_accessor.name.unwrap_or("");
    for (i, member) in target_type.members().enumerate() {
        if spec.raw.len() == MAX_SPEC_LEN {
            return Err(CoreFailure::TooDeep);
        }
        // Speculatively descend; undone below when this member is not the one.
        spec.bit_offset = spec
            .bit_offset
            .checked_add(u64::from(member.bit_offset))
            .ok_or(CoreFailure::TargetOverflow)?;
        spec.raw.push(i as u32);
        let name = target.string_at(member.name_offset)?;
        if name.is_empty() {
            if let Some(found) = match_member(local, local_accessor, target, member.type_id, spec)?
            {
                return Ok(Some(found));
            }
        } else if name == local_name {
            let compatible = compat::fields_are_compatible(
                local.btf,
                local_member.type_id,
                target,
                member.type_id,
            )
            .map_err(compat_failure)?;
            if !compatible {
                return Ok(None);
            }
            spec.accessors.push(Accessor {
                type_id: target_id,
                idx: i as u32,
                name: Some(name),
            });
            return Ok(Some(member.type_id));
        }
        spec.bit_offset -= u64::from(member.bit_offset);
        spec.raw.pop();
    }
    Ok(None)
}

pub(crate) fn compat_failure(err: CompatError) -> CoreFailure {
    match err {
        CompatError::Btf(e) => CoreFailure::Btf(e),
        CompatError::TooDeep => CoreFailure::TooDeep,
    }
}

/// Checks candidate `target_id` of `target` against the local spec (libbpf `bpf_core_spec_match`).
pub(crate) fn match_spec<'b>(
    local: &Spec<'_>,
    kind: CoreReloKind,
    target: &'b Btf,
    target_id: u32,
) -> Result<Matched<'b>, CoreFailure> {
    let mut spec = Spec::empty(target, target_id);
    if kind.is_type_based() {
        let fits = if kind == CoreReloKind::TypeMatches {
            compat::types_match(local.btf, local.root_type_id, target, target_id)
        } else {
            compat::types_are_compatible(local.btf, local.root_type_id, target, target_id)
        }
        .map_err(compat_failure)?;
        return Ok(if fits {
            Matched::Yes(spec)
        } else {
            Matched::No
        });
    }

    if kind.is_enumval_based() {
        let Some(local_name) = local.accessors.first().and_then(|a| a.name) else {
            return Ok(Matched::No);
        };
        let enum_id = target.skip_mods_and_typedefs(target_id)?;
        let enum_type = target.type_by_id(enum_id)?;
        if !matches!(enum_type.kind(), BtfKind::Enum | BtfKind::Enum64) {
            return Ok(Matched::No);
        }
        let wanted = compat::essential_name(local_name);
        for (i, value) in enum_type.enum_values().enumerate() {
            let name = target.string_at(value.name_offset)?;
            if compat::essential_name(name) == wanted {
                spec.accessors.push(Accessor {
                    type_id: enum_id,
                    idx: i as u32,
                    name: Some(name),
                });
                spec.raw.push(i as u32);
                return Ok(Matched::Yes(spec));
            }
        }
        return Ok(Matched::No);
    }

    let mut target_id = target_id;
    for (i, local_accessor) in local.accessors.iter().enumerate() {
        target_id = target.skip_mods_and_typedefs(target_id)?;
        let target_type = target.type_by_id(target_id)?;
        if local_accessor.name.is_some() {
            match match_member(local, local_accessor, target, target_id, &mut spec)? {
                Some(next) => target_id = next,
                None => return Ok(Matched::No),
            }
        } else {
            // Array step. The root (i == 0) indexes over the root object itself.
            if i > 0 {
                let Some(array) = target_type.array() else {
                    return Ok(Matched::No);
                };
                let flex = is_flex_array(target, spec.accessors.last(), array.nelems);
                if !flex && local_accessor.idx >= array.nelems {
                    return Ok(Matched::No);
                }
                target_id = target.skip_mods_and_typedefs(array.element_type)?;
            }
            if spec.raw.len() == MAX_SPEC_LEN {
                return Err(CoreFailure::TooDeep);
            }
            spec.accessors.push(Accessor {
                type_id: target_id,
                idx: local_accessor.idx,
                name: None,
            });
            spec.raw.push(local_accessor.idx);
            let size = target.resolve_size(target_id)?;
            let bits = size
                .checked_mul(u64::from(local_accessor.idx))
                .and_then(|b| b.checked_mul(8))
                .ok_or(CoreFailure::TargetOverflow)?;
            spec.bit_offset = spec
                .bit_offset
                .checked_add(bits)
                .ok_or(CoreFailure::TargetOverflow)?;
        }
    }
    Ok(Matched::Yes(spec))
}

/// A relocation's value computed from one spec.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FieldValue {
    pub value: u64,
    /// Byte size of the accessed field, for load/store size adjustment (0 when not applicable).
    pub mem_size: u32,
    /// Type of the accessed field (after modifiers), with `mem_size`.
    pub mem_type_id: u32,
    /// Whether the instruction's current value must equal the local result.
    pub validate: bool,
}

/// Outcome of a value computation: a value, or "poison the instruction" with a reason.
pub(crate) enum Value {
    Known(FieldValue),
    Poison(String),
}

/// Field relocation value from `spec` (`None`: the field is missing in the target).
/// libbpf `bpf_core_calc_field_relo`.
pub(crate) fn field_value(
    kind: CoreReloKind,
    spec: Option<&Spec<'_>>,
    local_path: &str,
) -> Result<Value, CoreFailure> {
    if kind == CoreReloKind::FieldExists {
        return Ok(Value::Known(FieldValue {
            value: u64::from(spec.is_some()),
            validate: true,
            ..FieldValue::default()
        }));
    }
    let Some(spec) = spec else {
        return Ok(Value::Poison(format!(
            "field `{local_path}` does not exist in the target kernel's types"
        )));
    };
    let btf = spec.btf;
    let Some(last) = spec.accessors.last() else {
        return Err(CoreFailure::AccessMismatch {
            access: String::new(),
            reason: "empty field access".to_owned(),
        });
    };

    if last.name.is_none() {
        // `a[n]`: the element itself.
        let size = btf.resolve_size(last.type_id)?;
        let size32 = u32::try_from(size).map_err(|_| CoreFailure::TargetOverflow)?;
        let value = match kind {
            CoreReloKind::FieldByteOffset => FieldValue {
                value: spec.bit_offset / 8,
                mem_size: size32,
                mem_type_id: last.type_id,
                validate: true,
            },
            CoreReloKind::FieldByteSize => FieldValue {
                value: size,
                validate: true,
                ..FieldValue::default()
            },
            other => return Err(CoreFailure::ArrayAccess { kind: other }),
        };
        return Ok(Value::Known(value));
    }

    let holder = btf.type_by_id(last.type_id)?;
    let member = member_at(&holder, last.idx)
        .ok_or(crate::btf::BtfError::TruncatedType { id: last.type_id })?;
    let field_type_id = btf.skip_mods_and_typedefs(member.type_id)?;
    let field_type = btf.type_by_id(field_type_id)?;
    let bit_off = spec.bit_offset;
    let mut bit_size = u64::from(member.bitfield_size);
    let bitfield = bit_size > 0;
    let (byte_off, byte_size);
    if bitfield {
        // Smallest naturally aligned load, starting at the storage unit size, that holds all bits.
        let mut size = u64::from(field_type.size().unwrap_or(0));
        if size == 0 {
            return Err(CoreFailure::AccessMismatch {
                access: String::new(),
                reason: format!("bitfield of sizeless type [{field_type_id}]"),
            });
        }
        let mut off = bit_off / 8 / size * size;
        while bit_off.saturating_add(bit_size) - off * 8 > size * 8 {
            if size >= 8 {
                return Err(CoreFailure::BitfieldTooWide {
                    path: local_path.to_owned(),
                });
            }
            size *= 2;
            off = bit_off / 8 / size * size;
        }
        byte_off = off;
        byte_size = size;
    } else {
        byte_size = btf.resolve_size(field_type_id)?;
        byte_off = bit_off / 8;
        bit_size = byte_size
            .checked_mul(8)
            .ok_or(CoreFailure::TargetOverflow)?;
    }

    // Bitfield offsets and shifts depend on how the compiler split the storage, so libbpf
    // only checks the instruction's current value for non-bitfields, signedness and rshift.
    let mut result = FieldValue {
        validate: !bitfield,
        ..FieldValue::default()
    };
    match kind {
        CoreReloKind::FieldByteOffset => {
            result.value = byte_off;
            if !bitfield {
                result.mem_size =
                    u32::try_from(byte_size).map_err(|_| CoreFailure::TargetOverflow)?;
                result.mem_type_id = field_type_id;
            }
        }
        CoreReloKind::FieldByteSize => result.value = byte_size,
        CoreReloKind::FieldSigned => {
            let signed = match field_type.kind() {
                BtfKind::Enum | BtfKind::Enum64 => field_type.kind_flag(),
                BtfKind::Int => field_type.int_info().is_some_and(|i| i.encoding & 1 != 0),
                _ => false,
            };
            result.value = u64::from(signed);
            result.validate = true;
        }
        CoreReloKind::FieldLshiftU64 => {
            // Shift that brings the field's top bit to bit 63 of a 64-bit register loaded with
            // `byte_size` bytes, in the program's byte order.
            let value = match btf.endian() {
                crate::btf::Endian::Little => {
                    64u64.checked_sub(bit_off.saturating_add(bit_size) - byte_off * 8)
                }
                crate::btf::Endian::Big => {
                    (8u64.checked_sub(byte_size)).map(|s| s * 8 + (bit_off - byte_off * 8))
                }
            };
            result.value = value.ok_or(CoreFailure::BitfieldTooWide {
                path: local_path.to_owned(),
            })?;
        }
        CoreReloKind::FieldRshiftU64 => {
            result.value = 64u64
                .checked_sub(bit_size)
                .ok_or(CoreFailure::BitfieldTooWide {
                    path: local_path.to_owned(),
                })?;
            result.validate = true;
        }
        other => return Err(CoreFailure::UnexpectedKind { kind: other }),
    }
    Ok(Value::Known(result))
}

/// Type relocation value (libbpf `bpf_core_calc_type_relo`); a missing target gives 0.
pub(crate) fn type_value(
    kind: CoreReloKind,
    spec: Option<&Spec<'_>>,
) -> Result<Value, CoreFailure> {
    let Some(spec) = spec else {
        return Ok(Value::Known(FieldValue {
            value: 0,
            validate: true,
            ..FieldValue::default()
        }));
    };
    let mut result = FieldValue {
        validate: true,
        ..FieldValue::default()
    };
    match kind {
        CoreReloKind::TypeIdTarget => {
            result.value = u64::from(spec.root_type_id);
            // Ids embedded by the compiler are renumbered by linkers: nothing to check.
            result.validate = false;
        }
        CoreReloKind::TypeExists | CoreReloKind::TypeMatches => result.value = 1,
        CoreReloKind::TypeSize => result.value = spec.btf.resolve_size(spec.root_type_id)?,
        other => return Err(CoreFailure::UnexpectedKind { kind: other }),
    }
    Ok(Value::Known(result))
}

/// Enum value relocation value (libbpf `bpf_core_calc_enumval_relo`).
pub(crate) fn enum_value(
    kind: CoreReloKind,
    spec: Option<&Spec<'_>>,
    local_path: &str,
) -> Result<Value, CoreFailure> {
    let mut result = FieldValue {
        validate: true,
        ..FieldValue::default()
    };
    match kind {
        CoreReloKind::EnumvalExists => result.value = u64::from(spec.is_some()),
        CoreReloKind::EnumvalValue => {
            let Some(spec) = spec else {
                return Ok(Value::Poison(format!(
                    "enum value `{local_path}` does not exist in the target kernel's types"
                )));
            };
            let accessor = spec.accessors.first().ok_or(CoreFailure::TargetOverflow)?;
            let ty = spec.btf.type_by_id(accessor.type_id)?;
            let value = ty.enum_values().nth(accessor.idx as usize).ok_or(
                crate::btf::BtfError::TruncatedType {
                    id: accessor.type_id,
                },
            )?;
            result.value = match ty.kind() {
                // A 32-bit enumerator is a C `int`: sign-extended to 64 bits, as libbpf does.
                BtfKind::Enum => i64::from(value.value as u32 as i32) as u64,
                _ => value.value,
            };
        }
        other => return Err(CoreFailure::UnexpectedKind { kind: other }),
    }
    Ok(Value::Known(result))
}
