//! Sanitizing object BTF for kernels that predate some BTF kinds.
//!
//! An older kernel rejects the whole blob when it meets one unknown kind, and with it the
//! program's func and line info. Each kind a kernel lacks is therefore rewritten into one it
//! has, keeping every record's length (so no type id moves) and the sizes the verifier checks:
//!
//! | kernel lacks ([`BtfFeatures`] field, since) | rewrite                                            |
//! |---------------------------------------------|----------------------------------------------------|
//! | `datasec` (5.2)                             | `VAR` -> 1-byte `INT`; `DATASEC` -> `STRUCT` of its variables, name made an identifier |
//! | `func` (5.0)                                | `FUNC` -> `TYPEDEF`; `FUNC_PROTO` -> 4-byte `ENUM` (unnamed parameters named `__unnamed`) |
//! | `func_global` (5.6)                         | global `FUNC` linkage -> static                    |
//! | `float` (5.13)                              | `FLOAT` -> anonymous empty `STRUCT` of its size     |
//! | `decl_tag` (5.16)                           | `DECL_TAG` -> 1-byte `INT`                          |
//! | `type_tag` (5.17)                           | `TYPE_TAG` -> `CONST`                               |
//! | `enum64` (6.0)                              | `ENUM64` -> `UNION` of 1-byte ints; signed flag of `ENUM` cleared |
//!
//! This is the set of rewrites libbpf applies before `BPF_BTF_LOAD`, except that unnamed
//! parameters get a name, so the result is also accepted by kernels that check enumerator names.

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
        let mut unnamed_param = None;
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
                    // insists on a 4-byte enum. Kernels since 5.1 also insist that every
                    // enumerator is named, which unnamed parameters (function pointers,
                    // `...`) are not: they get a placeholder name. (libbpf leaves them
                    // unnamed, which only the pre-5.0 kernels it targets here accept.)
                    out.set_info(id, BtfKind::Enum, vlen, false)?;
                    out.set_word(id, 2, 4)?;
                    for (index, param) in ty.params().enumerate() {
                        if param.name_offset == 0 {
                            let name = match unnamed_param {
                                Some(name) => name,
                                None => *unnamed_param.insert(out.add_string("__unnamed")?),
                            };
                            out.set_word(id, 3 + index * 2, name)?;
                        }
                    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btf::Endian;

    /// [1] int, [2] var x, [3] datasec ".data?x" {x at 4, size 4}, [4] func_proto (int a) -> int,
    /// [5] global func f, [6] float, [7] decl_tag on x, [8] type_tag -> int, [9] signed enum,
    /// [10] enum64 with two values.
    fn every_new_kind() -> Vec<u8> {
        let mut w = BtfWriter::new(Endian::Little);
        let s = |w: &mut BtfWriter, name: &str| w.add_string(name).unwrap();
        let int = s(&mut w, "int");
        let int = w
            .add_type(int, BtfKind::Int, 0, false, 4, &[(1 << 24) | 32])
            .unwrap();
        let x = s(&mut w, "x");
        let var = w.add_type(x, BtfKind::Var, 0, false, int, &[1]).unwrap();
        let data = s(&mut w, "?.data");
        w.add_type(data, BtfKind::Datasec, 1, false, 8, &[var, 4, 4])
            .unwrap();
        let a = s(&mut w, "a");
        let proto = w
            .add_type(0, BtfKind::FuncProto, 1, false, int, &[a, int])
            .unwrap();
        let f = s(&mut w, "f");
        w.add_type(f, BtfKind::Func, 1, false, proto, &[]).unwrap();
        let float = s(&mut w, "float");
        w.add_type(float, BtfKind::Float, 0, false, 4, &[]).unwrap();
        let tag = s(&mut w, "tag");
        w.add_type(tag, BtfKind::DeclTag, 0, false, var, &[u32::MAX])
            .unwrap();
        w.add_type(tag, BtfKind::TypeTag, 0, false, int, &[])
            .unwrap();
        let e = s(&mut w, "e");
        w.add_type(e, BtfKind::Enum, 1, true, 4, &[a, u32::MAX])
            .unwrap();
        let e64 = s(&mut w, "e64");
        w.add_type(e64, BtfKind::Enum64, 2, false, 8, &[a, 0, 1, x, 5, 0])
            .unwrap();
        w.finish().unwrap()
    }

    fn kinds(blob: &[u8]) -> Vec<BtfKind> {
        Btf::parse(blob)
            .unwrap()
            .types()
            .map(|t| t.unwrap().kind())
            .collect()
    }

    #[test]
    fn all_features_change_nothing() {
        let blob = every_new_kind();
        let btf = Btf::parse(&blob).unwrap();
        assert_eq!(btf.sanitized(&BtfFeatures::ALL).unwrap(), blob);
        assert!(!BtfFeatures::default().needs_sanitizing());
        assert!(BtfFeatures::NONE.needs_sanitizing());
    }

    #[test]
    fn no_datasec_turns_vars_into_ints_and_sections_into_structs() {
        let btf = Btf::parse(&every_new_kind()).unwrap();
        let features = BtfFeatures {
            datasec: false,
            ..BtfFeatures::ALL
        };
        let out = Btf::parse(&btf.sanitized(&features).unwrap()).unwrap();
        let var = out.type_by_id(2).unwrap();
        assert_eq!(var.kind(), BtfKind::Int);
        assert_eq!(var.size(), Some(1));
        assert_eq!(var.int_info().unwrap().bits, 8);
        assert_eq!(out.type_name(2).unwrap(), "x", "the name stays");
        let section = out.type_by_id(3).unwrap();
        assert_eq!(section.kind(), BtfKind::Struct);
        assert_eq!(out.type_name(3).unwrap(), "__data");
        assert_eq!(section.size(), Some(8));
        let members = out.members(3).unwrap();
        assert_eq!(members.len(), 1);
        assert_eq!(out.string_at(members[0].name_offset).unwrap(), "x");
        assert_eq!(members[0].type_id, 2);
        assert_eq!(members[0].bit_offset, 32);
        // Nothing else changed.
        assert_eq!(out.type_by_id(6).unwrap().kind(), BtfKind::Float);
        assert_eq!(out.type_by_id(5).unwrap().linkage(), Some(1));
    }

    #[test]
    fn no_func_turns_protos_into_enums_and_funcs_into_typedefs() {
        let btf = Btf::parse(&every_new_kind()).unwrap();
        let features = BtfFeatures {
            func: false,
            ..BtfFeatures::ALL
        };
        let out = Btf::parse(&btf.sanitized(&features).unwrap()).unwrap();
        let proto = out.type_by_id(4).unwrap();
        assert_eq!(proto.kind(), BtfKind::Enum);
        assert_eq!(proto.size(), Some(4));
        assert_eq!(proto.vlen(), 1);
        let value = proto.enum_values().next().unwrap();
        assert_eq!(out.string_at(value.name_offset).unwrap(), "a");
        assert_eq!(value.value, 1, "the parameter's type id");
        let func = out.type_by_id(5).unwrap();
        assert_eq!(func.kind(), BtfKind::Typedef);
        assert_eq!(func.vlen(), 0);
        assert_eq!(func.referenced_type(), Some(4));
        assert_eq!(out.type_name(5).unwrap(), "f");
    }

    #[test]
    fn no_global_func_makes_funcs_static() {
        let btf = Btf::parse(&every_new_kind()).unwrap();
        let features = BtfFeatures {
            func_global: false,
            ..BtfFeatures::ALL
        };
        let out = Btf::parse(&btf.sanitized(&features).unwrap()).unwrap();
        let func = out.type_by_id(5).unwrap();
        assert_eq!(func.kind(), BtfKind::Func);
        assert_eq!(func.linkage(), Some(0));
    }

    #[test]
    fn no_float_makes_anonymous_structs_of_the_same_size() {
        let btf = Btf::parse(&every_new_kind()).unwrap();
        let features = BtfFeatures {
            float: false,
            ..BtfFeatures::ALL
        };
        let out = Btf::parse(&btf.sanitized(&features).unwrap()).unwrap();
        let float = out.type_by_id(6).unwrap();
        assert_eq!(float.kind(), BtfKind::Struct);
        assert_eq!(float.name_offset(), 0);
        assert_eq!(float.size(), Some(4));
        assert_eq!(float.vlen(), 0);
    }

    #[test]
    fn no_tags_make_ints_and_consts() {
        let btf = Btf::parse(&every_new_kind()).unwrap();
        let features = BtfFeatures {
            decl_tag: false,
            type_tag: false,
            ..BtfFeatures::ALL
        };
        let out = Btf::parse(&btf.sanitized(&features).unwrap()).unwrap();
        let decl = out.type_by_id(7).unwrap();
        assert_eq!(decl.kind(), BtfKind::Int);
        assert_eq!(decl.size(), Some(1));
        let type_tag = out.type_by_id(8).unwrap();
        assert_eq!(type_tag.kind(), BtfKind::Const);
        assert_eq!(type_tag.name_offset(), 0);
        assert_eq!(type_tag.referenced_type(), Some(1));
        // VAR stays when only tags are missing.
        assert_eq!(out.type_by_id(2).unwrap().kind(), BtfKind::Var);
    }

    #[test]
    fn no_enum64_makes_unions_and_unsigned_enums() {
        let btf = Btf::parse(&every_new_kind()).unwrap();
        let features = BtfFeatures {
            enum64: false,
            ..BtfFeatures::ALL
        };
        let out = Btf::parse(&btf.sanitized(&features).unwrap()).unwrap();
        assert!(
            !out.type_by_id(9).unwrap().kind_flag(),
            "signed flag cleared"
        );
        let union = out.type_by_id(10).unwrap();
        assert_eq!(union.kind(), BtfKind::Union);
        assert_eq!(union.size(), Some(8));
        let members = out.members(10).unwrap();
        assert_eq!(members.len(), 2);
        // One placeholder byte type, appended after the original types.
        let placeholder = out.find_by_name_kind("enum64_placeholder", BtfKind::Int);
        assert_eq!(placeholder, Some(11));
        assert!(members.iter().all(|m| m.type_id == 11 && m.bit_offset == 0));
        assert_eq!(out.string_at(members[1].name_offset).unwrap(), "x");
    }

    #[test]
    fn nothing_supported_leaves_only_old_kinds() {
        let btf = Btf::parse(&every_new_kind()).unwrap();
        let out = btf.sanitized(&BtfFeatures::NONE).unwrap();
        let old = [
            BtfKind::Int,
            BtfKind::Struct,
            BtfKind::Union,
            BtfKind::Enum,
            BtfKind::Typedef,
            BtfKind::Const,
        ];
        assert!(
            kinds(&out).iter().all(|k| old.contains(k)),
            "{:?}",
            kinds(&out)
        );
        assert_eq!(kinds(&out).len(), 11);
    }

    #[test]
    fn unnamed_parameters_get_a_name_when_protos_become_enums() {
        let mut w = BtfWriter::new(Endian::Little);
        let int = w.add_string("int").unwrap();
        let int = w.add_type(int, BtfKind::Int, 0, false, 4, &[32]).unwrap();
        // int (*)(int, ...)
        w.add_type(0, BtfKind::FuncProto, 2, false, int, &[0, int, 0, 0])
            .unwrap();
        let btf = Btf::parse(&w.finish().unwrap()).unwrap();
        let out = Btf::parse(&btf.sanitized(&BtfFeatures::NONE).unwrap()).unwrap();
        let names: Vec<&str> = out
            .type_by_id(2)
            .unwrap()
            .enum_values()
            .map(|v| out.string_at(v.name_offset).unwrap())
            .collect();
        assert_eq!(names, ["__unnamed", "__unnamed"]);
    }

    #[test]
    fn mutated_btf_never_panics_in_lookups_writing_or_sanitizing() {
        let original = every_new_kind();
        // A fixed linear congruential sequence: reproducible mutations of every byte region.
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as usize
        };
        let mut parsed = 0;
        for _ in 0..5_000 {
            let mut blob = original.clone();
            for _ in 0..1 + next() % 4 {
                let at = 24 + next() % (blob.len() - 24);
                blob[at] = next() as u8;
            }
            let Ok(btf) = Btf::parse(&blob) else { continue };
            parsed += 1;
            let _ = btf.sanitized(&BtfFeatures::NONE);
            let _ = btf.to_bytes();
            let _ = btf.find_by_name("x");
            let _ = btf.find_by_name_kind("e64", BtfKind::Enum64);
            let _ = btf
                .candidates_by_essential_name("e___v", BtfKind::Enum)
                .count();
            for id in 0..btf.type_count() {
                let _ = btf.resolve_size(id);
                let _ = btf.type_name(id);
            }
        }
        assert!(
            parsed > 100,
            "mutations should mostly keep the blob parseable: {parsed}"
        );
    }
}
