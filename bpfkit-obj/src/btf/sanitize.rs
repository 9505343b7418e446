//! Sanitizing object BTF for kernels that predate some BTF kinds.
//!
//! An older kernel rejects the whole blob when it meets one unknown kind, and with it the
//! program's func and line info. Each kind a kernel lacks is therefore rewritten into one it
//! has, keeping every record's length (so no type id moves) and the sizes the verifier checks:
//!
//! | kernel lacks ([`BtfFeatures`] field, since) | rewrite                                            |
//! |---------------------------------------------|----------------------------------------------------|
//! | `datasec` (5.2)                             | `VAR` -> 1-byte `INT`; `DATASEC` -> `STRUCT` of its variables, name made an identifier |
//! | `func` (5.0)                                | `FUNC` -> `TYPEDEF`; `FUNC_PROTO` -> 4-byte `ENUM`  |
//! | `func_global` (5.6)                         | global `FUNC` linkage -> static                    |
//! | `float` (5.13)                              | `FLOAT` -> anonymous empty `STRUCT` of its size     |
//! | `decl_tag` (5.16)                           | `DECL_TAG` -> 1-byte `INT`                          |
//! | `type_tag` (5.17)                           | `TYPE_TAG` -> `CONST`                               |
//! | `enum64` (6.0)                              | `ENUM64` -> `UNION` of 1-byte ints; signed flag of `ENUM` cleared |
//!
//! This is the set of rewrites libbpf applies before `BPF_BTF_LOAD`.

use super::{Btf, BtfError, BtfKind, BtfWriter};

/// Which BTF kinds the target kernel accepts; `false` fields are sanitized away.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BtfFeatures {
    /// `BTF_KIND_VAR` and `BTF_KIND_DATASEC` (Linux 5.2).
    pub datasec: bool,
    /// `BTF_KIND_FUNC` and `BTF_KIND_FUNC_PROTO` (Linux 5.0).
    pub func: bool,
    /// `BTF_FUNC_GLOBAL` linkage of `FUNC` (Linux 5.6).
    pub func_global: bool,
    /// `BTF_KIND_FLOAT` (Linux 5.13).
    pub float: bool,
    /// `BTF_KIND_DECL_TAG` (Linux 5.16).
    pub decl_tag: bool,
    /// `BTF_KIND_TYPE_TAG` (Linux 5.17).
    pub type_tag: bool,
    /// `BTF_KIND_ENUM64` and signed `ENUM` (Linux 6.0).
    pub enum64: bool,
}

impl BtfFeatures {
    /// Everything supported: sanitizing changes nothing.
    pub const ALL: BtfFeatures = BtfFeatures {
        datasec: true,
        func: true,
        func_global: true,
        float: true,
        decl_tag: true,
        type_tag: true,
        enum64: true,
    };

    /// Nothing beyond the kinds of the first BTF kernels (4.18): every rewrite applies.
    pub const NONE: BtfFeatures = BtfFeatures {
        datasec: false,
        func: false,
        func_global: false,
        float: false,
        decl_tag: false,
        type_tag: false,
        enum64: false,
    };

    /// Whether any rewrite applies.
    pub fn needs_sanitizing(&self) -> bool {
        *self != BtfFeatures::ALL
    }
}

impl Default for BtfFeatures {
    fn default() -> BtfFeatures {
        BtfFeatures::ALL
    }
}

/// `BTF_INT_ENC(encoding 0, offset 0, 8 bits)`: a plain byte.
const INT_BYTE: u32 = 8;
/// `BTF_FUNC_STATIC`.
const FUNC_STATIC: u16 = 0;

impl Btf {
    /// This BTF written out with every kind `features` lacks rewritten into one the kernel
    /// accepts (see the module documentation). The parsed BTF is left as it is.
    pub fn sanitized(&self, features: &BtfFeatures) -> Result<Vec<u8>, BtfError> {
        let mut out = BtfWriter::from_btf(self);
        if !features.needs_sanitizing() {
            return out.finish();
        }
        // Added lazily, once, like the kernel types it stands for.
        let mut enum64_member_type = None;
        for id in self.first_own_id()..self.type_count() {
            let ty = self.type_by_id(id)?;
            let vlen = u16::try_from(ty.vlen()).map_err(|_| BtfError::TruncatedType { id })?;
            match ty.kind() {
                BtfKind::Var if !features.datasec => byte_int(&mut out, id)?,
                BtfKind::DeclTag if !features.decl_tag => byte_int(&mut out, id)?,
                BtfKind::Datasec if !features.datasec => {
                    // A struct name must be a C identifier: ".data" becomes "_data",
                    // "?.rodata" "__rodata". A new string, since others may share the old one.
                    let name: String = self
                        .string_at(ty.name_offset())?
                        .chars()
                        .map(|c| if c == '.' || c == '?' { '_' } else { c })
                        .collect();
                    let name_offset = out.add_string(&name)?;
                    out.set_word(id, 0, name_offset)?;
                    out.set_info(id, BtfKind::Struct, vlen, false)?;
                    for (index, var) in ty.datasec_vars().enumerate() {
                        // secinfo {type, offset, size} -> member {name, type, bit offset}; the
                        // member keeps the variable's name.
                        let var_name = self.type_by_id(var.type_id)?.name_offset();
                        let bit_offset = var
                            .offset
                            .checked_mul(8)
                            .ok_or(BtfError::SizeOverflow { id })?;
                        let base = 3 + index * 3;
                        out.set_word(id, base, var_name)?;
                        out.set_word(id, base + 1, var.type_id)?;
                        out.set_word(id, base + 2, bit_offset)?;
                    }
                }
                BtfKind::FuncProto if !features.func => {
                    // Parameters {name, type} read as enumerators {name, value}; the kernel
                    // insists on a 4-byte enum.
                    out.set_info(id, BtfKind::Enum, vlen, false)?;
                    out.set_word(id, 2, 4)?;
                }
                BtfKind::Func if !features.func => {
                    out.set_info(id, BtfKind::Typedef, 0, false)?;
                }
                BtfKind::Func if !features.func_global => {
                    out.set_info(id, BtfKind::Func, FUNC_STATIC, false)?;
                }
                BtfKind::Float if !features.float => {
                    // "float" is no valid struct name, so the struct is anonymous.
                    out.set_word(id, 0, 0)?;
                    out.set_info(id, BtfKind::Struct, 0, false)?;
                }
                BtfKind::TypeTag if !features.type_tag => {
                    out.set_word(id, 0, 0)?;
                    out.set_info(id, BtfKind::Const, 0, false)?;
                }
                BtfKind::Enum if !features.enum64 => {
                    // Signed enums (kind_flag) came with ENUM64.
                    out.set_info(id, BtfKind::Enum, vlen, false)?;
                }
                BtfKind::Enum64 if !features.enum64 => {
                    let member_type = match enum64_member_type {
                        Some(member_type) => member_type,
                        None => {
                            let name = out.add_string("enum64_placeholder")?;
                            let new = out.add_type(name, BtfKind::Int, 0, false, 1, &[INT_BYTE])?;
                            enum64_member_type = Some(new);
                            new
                        }
                    };
                    // {name, value low, value high} -> {name, type, offset 0}: a union of the
                    // enumerator names, as large as the enum.
                    out.set_info(id, BtfKind::Union, vlen, false)?;
                    for index in 0..usize::from(vlen) {
                        let base = 3 + index * 3;
                        out.set_word(id, base + 1, member_type)?;
                        out.set_word(id, base + 2, 0)?;
                    }
                }
                _ => {}
            }
        }
        out.finish()
    }
}

/// Turns the record `id` (a `VAR` or `DECL_TAG`, both with one extra word) into a 1-byte `INT`:
/// a size of 1 is never larger than what the variable took, which the kernel would reject.
fn byte_int(out: &mut BtfWriter, id: u32) -> Result<(), BtfError> {
    out.set_info(id, BtfKind::Int, 0, false)?;
    out.set_word(id, 2, 1)?;
    out.set_word(id, 3, INT_BYTE)
}
