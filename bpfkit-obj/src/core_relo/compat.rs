//! Which target types may stand in for a local type: libbpf's compatibility rules
//! (`bpf_core_types_are_compat`, `bpf_core_fields_are_compat`) and the stricter TYPE_MATCHES
//! relation (`bpf_core_types_match`), re-expressed over the lazy [`Btf`] views.
//!
//! Every walk is bounded (recursion level and chain depth, as libbpf bounds them) so BTF with
//! reference loops ends in an error instead of a hang.

use crate::btf::{Btf, BtfError, BtfKind, BtfType};

/// How many links one comparison follows before calling the chain a loop (libbpf's bound).
const MAX_DEPTH: u32 = 32;
/// How deeply nested function prototypes / struct members one comparison descends.
const MAX_LEVEL: u32 = 32;

/// Failure of a comparison: malformed BTF or a chain too deep to be real.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompatError {
    /// A type could not be read.
    #[error(transparent)]
    Btf(#[from] BtfError),
    /// The comparison descended past the nesting bound (a loop in the BTF, most likely).
    #[error("type comparison nested deeper than {MAX_LEVEL} levels (reference loop?)")]
    TooDeep,
}

/// The part of a name before its last flavor separator: `task_struct___old` -> `task_struct`.
/// A separator is `___` between a non-underscore and a non-underscore (or the end), as libbpf
/// defines it, so `__u32` or `a____b` keep their full name.
pub fn essential_name(name: &str) -> &str {
    let bytes = name.as_bytes();
    for i in (0..bytes.len()).rev() {
        let at = |k: usize| i.checked_add(k).and_then(|j| bytes.get(j)).copied();
        let separator = at(0) != Some(b'_')
            && at(1) == Some(b'_')
            && at(2) == Some(b'_')
            && at(3) == Some(b'_')
            && at(4) != Some(b'_');
        if separator {
            return name.get(..i + 1).unwrap_or(name);
        }
    }
    name
}

/// Whether two names are equal once flavors are dropped.
fn names_equal_modulo_flavor(local: &str, target: &str) -> bool {
    essential_name(local) == essential_name(target)
}

fn is_any_enum(kind: BtfKind) -> bool {
    matches!(kind, BtfKind::Enum | BtfKind::Enum64)
}

fn is_composite(kind: BtfKind) -> bool {
    matches!(kind, BtfKind::Struct | BtfKind::Union)
}

/// Same kind, or both enums of either width: the kinds that may relocate to each other.
pub fn kinds_core_compatible(local: BtfKind, target: BtfKind) -> bool {
    local == target || (is_any_enum(local) && is_any_enum(target))
}

fn skip<'b>(btf: &'b Btf, id: u32) -> Result<(u32, BtfType<'b>), BtfError> {
    let resolved = btf.skip_mods_and_typedefs(id)?;
    Ok((resolved, btf.type_by_id(resolved)?))
}

fn int_bit_offset(ty: &BtfType<'_>) -> u8 {
    ty.int_info().map_or(0, |info| info.offset)
}

fn int_signed(ty: &BtfType<'_>) -> bool {
    ty.int_info().is_some_and(|info| info.encoding & 1 != 0)
}

fn name_of<'b>(btf: &'b Btf, ty: &BtfType<'_>) -> Result<&'b str, BtfError> {
    btf.string_at(ty.name_offset())
}

fn referenced(ty: &BtfType<'_>) -> u32 {
    ty.referenced_type().unwrap_or(0)
}

fn array_element(ty: &BtfType<'_>) -> Result<u32, BtfError> {
    ty.array()
        .map(|a| a.element_type)
        .ok_or(BtfError::TruncatedType { id: ty.id() })
}

/// libbpf's `bpf_core_types_are_compat`: may target type `target_id` stand in for local type
/// `local_id` in a type-based relocation (TYPE_EXISTS, TYPE_SIZE, TYPE_ID_TARGET)?
///
/// Names were matched by the candidate search; here kinds must agree (enum and enum64 mix),
/// integers must not be the deprecated bit-offset kind, pointers and arrays compare what they
/// point to / hold, function prototypes compare arity, parameters and return type.
pub fn types_are_compatible(
    local: &Btf,
    local_id: u32,
    target: &Btf,
    target_id: u32,
) -> Result<bool, CompatError> {
    types_are_compatible_at(local, local_id, target, target_id, MAX_LEVEL)
}

fn types_are_compatible_at(
    local: &Btf,
    mut local_id: u32,
    target: &Btf,
    mut target_id: u32,
    level: u32,
) -> Result<bool, CompatError> {
    // The unskipped kinds must agree too: a typedef does not stand in for a struct.
    let local_type = local.type_by_id(local_id)?;
    let target_type = target.type_by_id(target_id)?;
    if !kinds_core_compatible(local_type.kind(), target_type.kind()) {
        return Ok(false);
    }
    for _ in 0..MAX_DEPTH {
        let (lid, local_type) = skip(local, local_id)?;
        let (tid, target_type) = skip(target, target_id)?;
        if !kinds_core_compatible(local_type.kind(), target_type.kind()) {
            return Ok(false);
        }
        match local_type.kind() {
            BtfKind::Void
            | BtfKind::Struct
            | BtfKind::Union
            | BtfKind::Enum
            | BtfKind::Enum64
            | BtfKind::Fwd => return Ok(true),
            BtfKind::Int => {
                return Ok(int_bit_offset(&local_type) == 0 && int_bit_offset(&target_type) == 0)
            }
            BtfKind::Ptr => {
                local_id = referenced(&local_type);
                target_id = referenced(&target_type);
            }
            BtfKind::Array => {
                local_id = array_element(&local_type)?;
                target_id = array_element(&target_type)?;
            }
            BtfKind::FuncProto => {
                let local_params: Vec<_> = local_type.params().collect();
                let target_params: Vec<_> = target_type.params().collect();
                if local_params.len() != target_params.len() {
                    return Ok(false);
                }
                for (lp, tp) in local_params.iter().zip(&target_params) {
                    if level == 0 {
                        return Err(CompatError::TooDeep);
                    }
                    let lp_id = local.skip_mods_and_typedefs(lp.type_id)?;
                    let tp_id = target.skip_mods_and_typedefs(tp.type_id)?;
                    if !types_are_compatible_at(local, lp_id, target, tp_id, level - 1)? {
                        return Ok(false);
                    }
                }
                local_id = local.skip_mods_and_typedefs(referenced(&local_type))?;
                target_id = target.skip_mods_and_typedefs(referenced(&target_type))?;
            }
            // Anything else (func, var, datasec, float ...) is never a CO-RE subject.
            _ => {
                log::debug!(
                    "CO-RE: unexpected kind {} compared, local [{lid}], target [{tid}]",
                    local_type.kind()
                );
                return Ok(false);
            }
        }
    }
    Err(CompatError::TooDeep)
}

/// libbpf's `bpf_core_fields_are_compat`: may the target field of type `target_id` be accessed
/// where the program accesses a local field of type `local_id`?
///
/// Any struct/union matches any struct/union (the access string goes on inside them), pointers
/// and floats always match, enums and forward declarations match by flavor-less name (or when
/// one side is anonymous), integers of any size and sign match unless bit-offset encoded, and
/// arrays compare their elements.
pub fn fields_are_compatible(
    local: &Btf,
    mut local_id: u32,
    target: &Btf,
    mut target_id: u32,
) -> Result<bool, CompatError> {
    for _ in 0..MAX_DEPTH {
        let (_, local_type) = skip(local, local_id)?;
        let (_, target_type) = skip(target, target_id)?;
        if is_composite(local_type.kind()) && is_composite(target_type.kind()) {
            return Ok(true);
        }
        if !kinds_core_compatible(local_type.kind(), target_type.kind()) {
            return Ok(false);
        }
        match local_type.kind() {
            BtfKind::Ptr | BtfKind::Float => return Ok(true),
            BtfKind::Fwd | BtfKind::Enum | BtfKind::Enum64 => {
                let local_name = essential_name(name_of(local, &local_type)?);
                let target_name = essential_name(name_of(target, &target_type)?);
                return Ok(local_name.is_empty()
                    || target_name.is_empty()
                    || local_name == target_name);
            }
            BtfKind::Int => {
                return Ok(int_bit_offset(&local_type) == 0 && int_bit_offset(&target_type) == 0)
            }
            BtfKind::Array => {
                local_id = array_element(&local_type)?;
                target_id = array_element(&target_type)?;
            }
            _ => return Ok(false),
        }
    }
    Err(CompatError::TooDeep)
}

/// libbpf's `bpf_core_names_match`: an anonymous target matches only an anonymous local;
/// otherwise the flavor-less names must be equal.
fn names_match(
    local: &Btf,
    local_off: u32,
    target: &Btf,
    target_off: u32,
) -> Result<bool, BtfError> {
    let local_name = local.string_at(local_off)?;
    let target_name = target.string_at(target_off)?;
    if target_name.is_empty() {
        return Ok(local_name.is_empty());
    }
    Ok(names_equal_modulo_flavor(local_name, target_name))
}

/// libbpf's `bpf_core_types_match` (TYPE_MATCHES, `bpf_core_type_matches()`): a stricter
/// relation than compatibility, meant to tell apart layouts of the same named type:
///
/// - modifiers and typedefs are skipped, names are compared without flavors at every level;
/// - integers match when size and signedness match;
/// - enums match when sizes match and every local enumerator has a same-named target one
///   (values are not compared; enum and enum64 mix);
/// - structs/unions match when every local member has a same-named target member whose type
///   matches recursively; behind a pointer only the kind is checked, and a forward declaration
///   of the same kind (struct or union) is accepted;
/// - pointers and arrays (same element count) compare what they refer to;
/// - function prototypes compare arity, parameters and return type.
pub fn types_match(
    local: &Btf,
    local_id: u32,
    target: &Btf,
    target_id: u32,
) -> Result<bool, CompatError> {
    types_match_at(local, local_id, target, target_id, false, MAX_LEVEL)
}

fn types_match_at(
    local: &Btf,
    mut local_id: u32,
    target: &Btf,
    mut target_id: u32,
    mut behind_ptr: bool,
    level: u32,
) -> Result<bool, CompatError> {
    if level == 0 {
        return Err(CompatError::TooDeep);
    }
    for _ in 0..MAX_DEPTH {
        let (_, local_type) = skip(local, local_id)?;
        let (_, target_type) = skip(target, target_id)?;
        if !names_match(
            local,
            local_type.name_offset(),
            target,
            target_type.name_offset(),
        )? {
            return Ok(false);
        }
        let local_kind = local_type.kind();
        let target_kind = target_type.kind();
        match local_kind {
            BtfKind::Void => return Ok(target_kind == BtfKind::Void),
            BtfKind::Fwd => {
                let local_union = local_type.kind_flag();
                if local_kind == target_kind {
                    return Ok(local_union == target_type.kind_flag());
                }
                // A forward declaration behind a pointer stands for the full type of its kind.
                return Ok(behind_ptr
                    && ((target_kind == BtfKind::Struct && !local_union)
                        || (target_kind == BtfKind::Union && local_union)));
            }
            BtfKind::Enum | BtfKind::Enum64 => {
                if !is_any_enum(target_kind) {
                    return Ok(false);
                }
                return Ok(enums_match(local, &local_type, target, &target_type)?);
            }
            BtfKind::Struct | BtfKind::Union => {
                if behind_ptr {
                    if local_kind == target_kind {
                        return Ok(true);
                    }
                    return Ok(target_kind == BtfKind::Fwd
                        && (local_kind == BtfKind::Union) == target_type.kind_flag());
                }
                if local_kind != target_kind {
                    return Ok(false);
                }
                return composites_match(
                    local,
                    &local_type,
                    target,
                    &target_type,
                    behind_ptr,
                    level,
                );
            }
            BtfKind::Int => {
                if target_kind != BtfKind::Int {
                    return Ok(false);
                }
                return Ok(local_type.size() == target_type.size()
                    && int_signed(&local_type) == int_signed(&target_type));
            }
            BtfKind::Ptr => {
                if target_kind != BtfKind::Ptr {
                    return Ok(false);
                }
                behind_ptr = true;
                local_id = referenced(&local_type);
                target_id = referenced(&target_type);
            }
            BtfKind::Array => {
                if target_kind != BtfKind::Array {
                    return Ok(false);
                }
                let (Some(la), Some(ta)) = (local_type.array(), target_type.array()) else {
                    return Ok(false);
                };
                if la.nelems != ta.nelems {
                    return Ok(false);
                }
                local_id = la.element_type;
                target_id = ta.element_type;
            }
            BtfKind::FuncProto => {
                if target_kind != BtfKind::FuncProto {
                    return Ok(false);
                }
                let local_params: Vec<_> = local_type.params().collect();
                let target_params: Vec<_> = target_type.params().collect();
                if local_params.len() != target_params.len() {
                    return Ok(false);
                }
                for (lp, tp) in local_params.iter().zip(&target_params) {
                    if !types_match_at(
                        local,
                        lp.type_id,
                        target,
                        tp.type_id,
                        behind_ptr,
                        level - 1,
                    )? {
                        return Ok(false);
                    }
                }
                local_id = referenced(&local_type);
                target_id = referenced(&target_type);
            }
            _ => return Ok(false),
        }
    }
    Err(CompatError::TooDeep)
}

fn enums_match(
    local: &Btf,
    local_type: &BtfType<'_>,
    target: &Btf,
    target_type: &BtfType<'_>,
) -> Result<bool, BtfError> {
    if local_type.size() != target_type.size() || local_type.vlen() > target_type.vlen() {
        return Ok(false);
    }
    for local_value in local_type.enum_values() {
        let mut found = false;
        for target_value in target_type.enum_values() {
            if names_match(
                local,
                local_value.name_offset,
                target,
                target_value.name_offset,
            )? {
                found = true;
                break;
            }
        }
        if !found {
            return Ok(false);
        }
    }
    Ok(true)
}

fn composites_match(
    local: &Btf,
    local_type: &BtfType<'_>,
    target: &Btf,
    target_type: &BtfType<'_>,
    behind_ptr: bool,
    level: u32,
) -> Result<bool, CompatError> {
    if local_type.vlen() > target_type.vlen() {
        return Ok(false);
    }
    for local_member in local_type.members() {
        let mut found = false;
        for target_member in target_type.members() {
            if !names_match(
                local,
                local_member.name_offset,
                target,
                target_member.name_offset,
            )? {
                continue;
            }
            if types_match_at(
                local,
                local_member.type_id,
                target,
                target_member.type_id,
                behind_ptr,
                level - 1,
            )? {
                found = true;
                break;
            }
        }
        if !found {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn essential_names_follow_libbpf() {
        assert_eq!(essential_name("task_struct___old"), "task_struct");
        assert_eq!(essential_name("task_struct___a___b"), "task_struct___a");
        assert_eq!(essential_name("task_struct"), "task_struct");
        assert_eq!(essential_name("__u32"), "__u32");
        assert_eq!(essential_name("a____b"), "a____b");
        assert_eq!(essential_name("a___"), "a");
        assert_eq!(essential_name("___x"), "___x");
        assert_eq!(essential_name(""), "");
    }
}
