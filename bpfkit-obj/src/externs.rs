//! Externs: symbols an object uses but does not define, resolved by the loader.
//!
//! clang marks them as undefined ELF symbols and describes them in BTF: variables in the
//! `.kconfig` `DATASEC` (kernel configuration values the loader writes into a read-only `.kconfig`
//! map), and variables or functions in the `.ksyms` `DATASEC` (kernel symbols: typed variables
//! resolved to kernel BTF ids, typeless ones to addresses from `/proc/kallsyms`, and kfuncs). The
//! rules are libbpf's (`bpf_object__collect_externs`): the ELF symbol must be global or weak and
//! untyped, and its BTF must say which section it belongs to.

use crate::btf::{Btf, BtfError, BtfKind};
use crate::error::ParseError;

/// `BTF_INT_SIGNED` and `BTF_INT_BOOL` bits of an `INT`'s encoding.
const BTF_INT_SIGNED: u8 = 1;
const BTF_INT_BOOL: u8 = 4;
/// How deep [`types_are_compatible`] follows pointers, arrays and prototypes (libbpf's limit).
const MAX_COMPAT_DEPTH: u32 = 32;

/// An extern the object declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extern {
    /// Symbol name as written in the program (`CONFIG_HZ`, `bpf_task_acquire___v2`).
    pub name: String,
    /// The name looked up in the kernel: `name` without a `___flavor` suffix (ksyms only; libbpf
    /// lets one object declare several flavors of a kfunc and pick the one that exists).
    pub essential_name: String,
    /// Declared `__weak`: absent means zero instead of an error.
    pub weak: bool,
    /// Its `VAR` (or, for kfuncs, `FUNC`) in the object's BTF.
    pub btf_id: u32,
    /// Kconfig value or kernel symbol.
    pub kind: ExternKind,
}

/// What an extern is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExternKind {
    /// A `.kconfig` value, stored in the `.kconfig` map.
    Kconfig(KconfigExtern),
    /// A `.ksyms` kernel symbol.
    Ksym(KsymKind),
}

/// Where a `.kconfig` extern lives in the `.kconfig` map and how its value is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KconfigExtern {
    /// How a configuration value converts into it.
    pub value_type: KconfigType,
    /// Byte offset in the `.kconfig` map's value.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
    /// Alignment in bytes (decides the layout).
    pub align: u32,
    /// For integers: whether the C type is signed (decides the range check).
    pub signed: bool,
}

/// The C types a Kconfig value can be read into (libbpf's `kcfg_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KconfigType {
    /// `bool`: `y` is true, `n` false.
    Bool,
    /// `char`: the letter itself (`y`, `m`, `n`) or a number that fits.
    Char,
    /// `enum libbpf_tristate`: `n` 0, `y` 1, `m` 2.
    Tristate,
    /// A 2-, 4- or 8-byte integer (or 1-byte via `Char`).
    Int,
    /// `char[N]`: a quoted string, truncated to `N - 1` bytes plus a NUL.
    CharArray,
}

/// What a `.ksyms` extern refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KsymKind {
    /// A kernel variable with a type (`extern struct rq runqueues __ksym;`): resolved to the kernel
    /// BTF `VAR` of that name, whose type must be compatible with `type_id` (in object BTF, after
    /// modifiers and typedefs).
    Typed {
        /// The variable's type in the object's BTF.
        type_id: u32,
    },
    /// A `void` symbol (`extern const void init_task __ksym;`): its address from
    /// `/proc/kallsyms`.
    Typeless,
    /// A kernel function (kfunc): resolved to the kernel BTF `FUNC`, whose prototype must be
    /// compatible with `proto_id`.
    Function {
        /// The `FUNC_PROTO` the object declared.
        proto_id: u32,
    },
}

impl Extern {
    /// The `.kconfig` placement, for Kconfig externs.
    pub fn kconfig(&self) -> Option<&KconfigExtern> {
        match &self.kind {
            ExternKind::Kconfig(k) => Some(k),
            ExternKind::Ksym(_) => None,
        }
    }

    /// `".kconfig"` or `".ksyms"`.
    pub fn section(&self) -> &'static str {
        match self.kind {
            ExternKind::Kconfig(_) => ".kconfig",
            ExternKind::Ksym(_) => ".ksyms",
        }
    }
}

/// An undefined ELF symbol that may be an extern.
pub(crate) struct UndefinedSymbol<'a> {
    pub name: &'a str,
    pub weak: bool,
}

/// Collects the externs among `symbols`, laying out `.kconfig` as libbpf does (alignment
/// descending, then size ascending, then name). Symbols that BTF places in neither section are
/// skipped: linking a program that uses one reports it.
pub(crate) fn collect(
    btf: &Btf,
    symbols: &[UndefinedSymbol<'_>],
) -> Result<Vec<Extern>, ParseError> {
    let kconfig = section_vars(btf, ".kconfig")?;
    let ksyms = section_vars(btf, ".ksyms")?;
    let mut externs = Vec::new();
    for symbol in symbols {
        let bad = |reason: String| ParseError::BadSymbol {
            name: symbol.name.to_owned(),
            reason,
        };
        if let Some(&(_, var_id)) = kconfig.iter().find(|(n, _)| n == symbol.name) {
            let var = btf.type_by_id(var_id)?;
            let type_id = var.referenced_type().unwrap_or(0);
            let size = btf
                .resolve_size(type_id)
                .map_err(|e| bad(format!(".kconfig extern has no size: {e}")))?;
            let size =
                u32::try_from(size).map_err(|_| bad(format!(".kconfig extern of {size} bytes")))?;
            let (value_type, signed) = kconfig_type(btf, type_id)?.ok_or_else(|| {
                bad(
                    ".kconfig externs must be bool, char, an integer of 1, 2, 4 or 8 bytes, \
                     enum libbpf_tristate or a char array"
                        .into(),
                )
            })?;
            let align = match value_type {
                KconfigType::CharArray => 1,
                _ => size.clamp(1, 8),
            };
            externs.push(Extern {
                name: symbol.name.to_owned(),
                essential_name: symbol.name.to_owned(),
                weak: symbol.weak,
                btf_id: var_id,
                kind: ExternKind::Kconfig(KconfigExtern {
                    value_type,
                    offset: 0,
                    size,
                    align,
                    signed,
                }),
            });
        } else if let Some(&(_, id)) = ksyms.iter().find(|(n, _)| n == symbol.name) {
            let ty = btf.type_by_id(id)?;
            let target = ty.referenced_type().unwrap_or(0);
            let kind = if ty.kind() == BtfKind::Func {
                KsymKind::Function { proto_id: target }
            } else {
                match btf.skip_mods_and_typedefs(target)? {
                    0 => KsymKind::Typeless,
                    type_id => KsymKind::Typed { type_id },
                }
            };
            let essential_name = match symbol.name.find("___") {
                Some(end) if end > 0 => symbol.name[..end].to_owned(),
                _ => symbol.name.to_owned(),
            };
            externs.push(Extern {
                name: symbol.name.to_owned(),
                essential_name,
                weak: symbol.weak,
                btf_id: id,
                kind: ExternKind::Ksym(kind),
            });
        }
    }
    layout_kconfig(&mut externs);
    Ok(externs)
}

/// Assigns `.kconfig` offsets; returns the size of the map value.
pub(crate) fn layout_kconfig(externs: &mut [Extern]) -> u32 {
    let mut order: Vec<usize> = (0..externs.len())
        .filter(|&i| externs[i].kconfig().is_some())
        .collect();
    order.sort_by(|&a, &b| {
        let (ka, kb) = (externs[a].kconfig(), externs[b].kconfig());
        let key = |k: Option<&KconfigExtern>| k.map(|k| (k.align, k.size)).unwrap_or((0, 0));
        let ((align_a, size_a), (align_b, size_b)) = (key(ka), key(kb));
        align_b
            .cmp(&align_a)
            .then(size_a.cmp(&size_b))
            .then_with(|| externs[a].name.cmp(&externs[b].name))
    });
    let mut end: u32 = 0;
    for index in order {
        if let ExternKind::Kconfig(k) = &mut externs[index].kind {
            let offset = end.div_ceil(k.align).saturating_mul(k.align);
            k.offset = offset;
            end = offset.saturating_add(k.size);
        }
    }
    end
}

/// `(variable name, type id)` of each entry of the `DATASEC` `section`.
fn section_vars(btf: &Btf, section: &str) -> Result<Vec<(String, u32)>, BtfError> {
    let Some(id) = btf.find_by_name_kind(section, BtfKind::Datasec) else {
        return Ok(Vec::new());
    };
    btf.datasec_vars(id)?
        .into_iter()
        .map(|v| Ok((btf.type_name(v.type_id)?.to_owned(), v.type_id)))
        .collect()
}

/// How a Kconfig value is stored in type `id` (libbpf's `find_kcfg_type`); `None` when the type
/// cannot hold one.
fn kconfig_type(btf: &Btf, id: u32) -> Result<Option<(KconfigType, bool)>, BtfError> {
    let id = btf.skip_mods_and_typedefs(id)?;
    let ty = btf.type_by_id(id)?;
    let size = ty.size().unwrap_or(0);
    Ok(match ty.kind() {
        BtfKind::Int => {
            let encoding = ty.int_info().map(|i| i.encoding).unwrap_or(0);
            let signed = encoding & BTF_INT_SIGNED != 0;
            if encoding & BTF_INT_BOOL != 0 {
                (size == 1).then_some((KconfigType::Bool, false))
            } else if size == 1 {
                Some((KconfigType::Char, signed))
            } else if matches!(size, 2 | 4 | 8) {
                Some((KconfigType::Int, signed))
            } else {
                None
            }
        }
        BtfKind::Enum | BtfKind::Enum64 => {
            let tristate = btf.type_name(id)? == "libbpf_tristate"
                && (ty.kind() == BtfKind::Enum64 || size == 4);
            tristate.then_some((KconfigType::Tristate, false))
        }
        BtfKind::Array => {
            let Some(array) = ty.array() else {
                return Ok(None);
            };
            let element = kconfig_type(btf, array.element_type)?;
            (array.nelems > 0 && matches!(element, Some((KconfigType::Char, _))))
                .then_some((KconfigType::CharArray, false))
        }
        _ => None,
    })
}

/// Whether type `local_id` of `local` and `target_id` of `target` are compatible for an extern
/// (libbpf's `bpf_core_types_are_compat`): after modifiers and typedefs, kinds must match (any
/// enum matches any enum); structs, unions, enums and forward declarations match regardless of
/// members; integers match unless they are bitfield-like; pointers and arrays compare what they
/// point to; function prototypes compare every parameter and the return type. Names are not
/// compared below the root.
pub fn types_are_compatible(
    local: &Btf,
    local_id: u32,
    target: &Btf,
    target_id: u32,
) -> Result<bool, BtfError> {
    compatible(local, local_id, target, target_id, MAX_COMPAT_DEPTH)
}

fn compatible(
    local: &Btf,
    local_id: u32,
    target: &Btf,
    target_id: u32,
    depth: u32,
) -> Result<bool, BtfError> {
    let Some(depth) = depth.checked_sub(1) else {
        return Err(BtfError::ChainTooDeep { id: local_id });
    };
    let local_ty = local.type_by_id(local.skip_mods_and_typedefs(local_id)?)?;
    let target_ty = target.type_by_id(target.skip_mods_and_typedefs(target_id)?)?;
    let is_enum = |k: BtfKind| matches!(k, BtfKind::Enum | BtfKind::Enum64);
    if local_ty.kind() != target_ty.kind()
        && !(is_enum(local_ty.kind()) && is_enum(target_ty.kind()))
    {
        return Ok(false);
    }
    match local_ty.kind() {
        BtfKind::Void
        | BtfKind::Struct
        | BtfKind::Union
        | BtfKind::Enum
        | BtfKind::Enum64
        | BtfKind::Fwd
        | BtfKind::Float => Ok(true),
        BtfKind::Int => Ok(local_ty.int_info().map(|i| i.offset) == Some(0)
            && target_ty.int_info().map(|i| i.offset) == Some(0)),
        BtfKind::Ptr => compatible(
            local,
            local_ty.referenced_type().unwrap_or(0),
            target,
            target_ty.referenced_type().unwrap_or(0),
            depth,
        ),
        BtfKind::Array => {
            let (Some(a), Some(b)) = (local_ty.array(), target_ty.array()) else {
                return Ok(false);
            };
            compatible(local, a.element_type, target, b.element_type, depth)
        }
        BtfKind::FuncProto => {
            let local_params: Vec<_> = local_ty.params().collect();
            let target_params: Vec<_> = target_ty.params().collect();
            if local_params.len() != target_params.len() {
                return Ok(false);
            }
            for (a, b) in local_params.iter().zip(&target_params) {
                if !compatible(local, a.type_id, target, b.type_id, depth)? {
                    return Ok(false);
                }
            }
            compatible(
                local,
                local_ty.referenced_type().unwrap_or(0),
                target,
                target_ty.referenced_type().unwrap_or(0),
                depth,
            )
        }
        _ => Ok(false),
    }
}
