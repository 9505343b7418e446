//! A small BTF writer: builds raw BTF blobs type by type.
//!
//! It exists so tests (ours and users') can describe kernels that do not exist on the machine —
//! a field moved, a struct renamed, an enum value changed — and feed the result to [`Btf::parse`]
//! like any other blob. Ids are handed out in the order types are added, starting at 1, exactly as
//! they will be numbered in the output; [`BtfBuilder::next_id`] predicts the next one so a type can
//! refer to one added later (a struct holding a pointer to itself).
//!
//! [`Btf::parse`]: super::Btf::parse

use std::collections::HashMap;

use super::{BtfKind, Endian, BTF_MAGIC};

/// `BTF_INT_SIGNED` encoding bit.
pub const INT_SIGNED: u8 = 1;
/// `BTF_INT_CHAR` encoding bit.
pub const INT_CHAR: u8 = 2;
/// `BTF_INT_BOOL` encoding bit.
pub const INT_BOOL: u8 = 4;

/// One member of a struct or union being built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberSpec {
    /// Member name; empty for an anonymous embedded struct/union.
    pub name: String,
    /// Member type id.
    pub type_id: u32,
    /// Offset from the start of the enclosing type, in bits.
    pub bit_offset: u32,
    /// Bitfield width in bits, 0 for an ordinary member.
    pub bitfield_size: u32,
}

impl MemberSpec {
    /// An ordinary member at `byte_offset`.
    pub fn new(name: &str, type_id: u32, byte_offset: u32) -> MemberSpec {
        MemberSpec {
            name: name.to_owned(),
            type_id,
            bit_offset: byte_offset.saturating_mul(8),
            bitfield_size: 0,
        }
    }

    /// A bitfield of `bits` bits starting `bit_offset` bits into the enclosing type.
    pub fn bitfield(name: &str, type_id: u32, bit_offset: u32, bits: u32) -> MemberSpec {
        MemberSpec {
            name: name.to_owned(),
            type_id,
            bit_offset,
            bitfield_size: bits,
        }
    }
}

/// Builds a raw BTF blob.
#[derive(Clone, Debug)]
pub struct BtfBuilder {
    endian: Endian,
    types: Vec<u8>,
    strings: Vec<u8>,
    string_offsets: HashMap<String, u32>,
    next_id: u32,
}

impl Default for BtfBuilder {
    fn default() -> Self {
        BtfBuilder::new()
    }
}

impl BtfBuilder {
    /// An empty little-endian builder.
    pub fn new() -> BtfBuilder {
        BtfBuilder::with_endian(Endian::Little)
    }

    /// An empty builder writing in `endian` byte order.
    pub fn with_endian(endian: Endian) -> BtfBuilder {
        BtfBuilder {
            endian,
            types: Vec::new(),
            // Offset 0 is the empty name, as the format requires.
            strings: vec![0],
            string_offsets: HashMap::from([(String::new(), 0)]),
            next_id: 1,
        }
    }

    /// The id the next added type will get.
    pub fn next_id(&self) -> u32 {
        self.next_id
    }

    /// Adds `text` to the string section (once) and returns its offset.
    pub fn add_string(&mut self, text: &str) -> u32 {
        if let Some(&offset) = self.string_offsets.get(text) {
            return offset;
        }
        // Blobs built here are test-sized; offsets beyond u32 would be a misuse we clamp rather
        // than panic on (the parser then reports a bad offset).
        let offset = u32::try_from(self.strings.len()).unwrap_or(u32::MAX);
        self.strings.extend_from_slice(text.as_bytes());
        self.strings.push(0);
        self.string_offsets.insert(text.to_owned(), offset);
        offset
    }

    fn word(&mut self, value: u32) {
        let bytes = match self.endian {
            Endian::Little => value.to_le_bytes(),
            Endian::Big => value.to_be_bytes(),
        };
        self.types.extend_from_slice(&bytes);
    }

    /// Writes the common 12-byte header and returns the new type's id.
    fn header(
        &mut self,
        name: &str,
        kind: BtfKind,
        vlen: usize,
        kind_flag: bool,
        size_or_type: u32,
    ) -> u32 {
        let name_offset = self.add_string(name);
        let vlen = (vlen as u32) & 0xffff;
        let info = (u32::from(kind_flag) << 31) | ((kind.to_raw() & 0x1f) << 24) | vlen;
        self.word(name_offset);
        self.word(info);
        self.word(size_or_type);
        let id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        id
    }

    /// An integer of `size` bytes using all its bits; `encoding` is a mix of [`INT_SIGNED`],
    /// [`INT_CHAR`], [`INT_BOOL`].
    pub fn add_int(&mut self, name: &str, size: u32, encoding: u8) -> u32 {
        let bits = size.saturating_mul(8).min(128) as u8;
        self.add_int_bits(name, size, encoding, 0, bits)
    }

    /// An integer with explicit bit offset and width (the deprecated bitfield-like encoding).
    pub fn add_int_bits(
        &mut self,
        name: &str,
        size: u32,
        encoding: u8,
        offset: u8,
        bits: u8,
    ) -> u32 {
        let id = self.header(name, BtfKind::Int, 0, false, size);
        self.word((u32::from(encoding & 0x0f) << 24) | (u32::from(offset) << 16) | u32::from(bits));
        id
    }

    /// A floating-point type of `size` bytes.
    pub fn add_float(&mut self, name: &str, size: u32) -> u32 {
        self.header(name, BtfKind::Float, 0, false, size)
    }

    /// A pointer to `target`.
    pub fn add_ptr(&mut self, target: u32) -> u32 {
        self.header("", BtfKind::Ptr, 0, false, target)
    }

    /// An array of `nelems` elements of `element`, indexed by `index_type`.
    pub fn add_array(&mut self, element: u32, index_type: u32, nelems: u32) -> u32 {
        let id = self.header("", BtfKind::Array, 0, false, 0);
        self.word(element);
        self.word(index_type);
        self.word(nelems);
        id
    }

    fn add_composite(
        &mut self,
        kind: BtfKind,
        name: &str,
        size: u32,
        members: &[MemberSpec],
    ) -> u32 {
        // kind_flag switches the member offset word to "bitfield size << 24 | bit offset"; set it
        // only when needed, as clang does.
        let bitfields = members.iter().any(|m| m.bitfield_size != 0);
        let id = self.header(name, kind, members.len(), bitfields, size);
        for member in members {
            let name_offset = self.add_string(&member.name);
            self.word(name_offset);
            self.word(member.type_id);
            if bitfields {
                self.word((member.bitfield_size << 24) | (member.bit_offset & 0x00ff_ffff));
            } else {
                self.word(member.bit_offset);
            }
        }
        id
    }

    /// A struct of `size` bytes.
    pub fn add_struct(&mut self, name: &str, size: u32, members: &[MemberSpec]) -> u32 {
        self.add_composite(BtfKind::Struct, name, size, members)
    }

    /// A union of `size` bytes.
    pub fn add_union(&mut self, name: &str, size: u32, members: &[MemberSpec]) -> u32 {
        self.add_composite(BtfKind::Union, name, size, members)
    }

    /// A 32-bit-valued enum of `size` bytes.
    pub fn add_enum(&mut self, name: &str, size: u32, signed: bool, values: &[(&str, i32)]) -> u32 {
        let id = self.header(name, BtfKind::Enum, values.len(), signed, size);
        for (value_name, value) in values {
            let name_offset = self.add_string(value_name);
            self.word(name_offset);
            self.word(*value as u32);
        }
        id
    }

    /// A 64-bit-valued enum of `size` bytes.
    pub fn add_enum64(
        &mut self,
        name: &str,
        size: u32,
        signed: bool,
        values: &[(&str, u64)],
    ) -> u32 {
        let id = self.header(name, BtfKind::Enum64, values.len(), signed, size);
        for (value_name, value) in values {
            let name_offset = self.add_string(value_name);
            self.word(name_offset);
            self.word(*value as u32);
            self.word((*value >> 32) as u32);
        }
        id
    }

    /// A forward declaration of a struct (`is_union == false`) or union.
    pub fn add_fwd(&mut self, name: &str, is_union: bool) -> u32 {
        self.header(name, BtfKind::Fwd, 0, is_union, 0)
    }

    /// `typedef target name`.
    pub fn add_typedef(&mut self, name: &str, target: u32) -> u32 {
        self.header(name, BtfKind::Typedef, 0, false, target)
    }

    /// `volatile target`.
    pub fn add_volatile(&mut self, target: u32) -> u32 {
        self.header("", BtfKind::Volatile, 0, false, target)
    }

    /// `const target`.
    pub fn add_const(&mut self, target: u32) -> u32 {
        self.header("", BtfKind::Const, 0, false, target)
    }

    /// `restrict target`.
    pub fn add_restrict(&mut self, target: u32) -> u32 {
        self.header("", BtfKind::Restrict, 0, false, target)
    }

    /// A type tag (`__attribute__((btf_type_tag(name)))`) on `target`.
    pub fn add_type_tag(&mut self, name: &str, target: u32) -> u32 {
        self.header(name, BtfKind::TypeTag, 0, false, target)
    }

    /// A function prototype; a parameter of type 0 is a trailing `...`.
    pub fn add_func_proto(&mut self, return_type: u32, params: &[(&str, u32)]) -> u32 {
        let id = self.header("", BtfKind::FuncProto, params.len(), false, return_type);
        for (param_name, type_id) in params {
            let name_offset = self.add_string(param_name);
            self.word(name_offset);
            self.word(*type_id);
        }
        id
    }

    /// A function with prototype `proto`; `linkage` 0 static, 1 global, 2 extern.
    pub fn add_func(&mut self, name: &str, proto: u32, linkage: u16) -> u32 {
        // FUNC keeps its linkage in the vlen bits.
        self.header(name, BtfKind::Func, usize::from(linkage), false, proto)
    }

    /// A variable; `linkage` 0 static, 1 global, 2 extern.
    pub fn add_var(&mut self, name: &str, type_id: u32, linkage: u32) -> u32 {
        let id = self.header(name, BtfKind::Var, 0, false, type_id);
        self.word(linkage);
        id
    }

    /// A data section of `size` bytes holding `(var type id, offset, size)` entries.
    pub fn add_datasec(&mut self, name: &str, size: u32, vars: &[(u32, u32, u32)]) -> u32 {
        let id = self.header(name, BtfKind::Datasec, vars.len(), false, size);
        for &(type_id, offset, var_size) in vars {
            self.word(type_id);
            self.word(offset);
            self.word(var_size);
        }
        id
    }

    /// A declaration tag on `target` (`component` -1 for the declaration itself, else the
    /// member or parameter index).
    pub fn add_decl_tag(&mut self, name: &str, target: u32, component: i32) -> u32 {
        let id = self.header(name, BtfKind::DeclTag, 0, false, target);
        self.word(component as u32);
        id
    }

    /// The raw blob: header, type section, string section.
    pub fn finish(&self) -> Vec<u8> {
        let type_len = u32::try_from(self.types.len()).unwrap_or(u32::MAX);
        let str_len = u32::try_from(self.strings.len()).unwrap_or(u32::MAX);
        let mut out = Vec::with_capacity(24 + self.types.len() + self.strings.len());
        let half = match self.endian {
            Endian::Little => BTF_MAGIC.to_le_bytes(),
            Endian::Big => BTF_MAGIC.to_be_bytes(),
        };
        out.extend_from_slice(&half);
        out.push(1); // version
        out.push(0); // flags
        let words = [24u32, 0, type_len, type_len, str_len];
        for word in words {
            let bytes = match self.endian {
                Endian::Little => word.to_le_bytes(),
                Endian::Big => word.to_be_bytes(),
            };
            out.extend_from_slice(&bytes);
        }
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strings);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btf::Btf;

    #[test]
    fn every_kind_round_trips_through_the_parser() {
        for endian in [Endian::Little, Endian::Big] {
            let mut b = BtfBuilder::with_endian(endian);
            let int = b.add_int("int", 4, INT_SIGNED);
            let uint = b.add_int("unsigned int", 4, 0);
            let ptr = b.add_ptr(int);
            let array = b.add_array(int, uint, 7);
            let node = b.next_id() + 1;
            let node_ptr = b.add_ptr(node);
            let s = b.add_struct(
                "node",
                16,
                &[
                    MemberSpec::new("next", node_ptr, 0),
                    MemberSpec::bitfield("flags", uint, 64, 3),
                    MemberSpec::bitfield("mode", int, 67, 5),
                ],
            );
            assert_eq!(s, node);
            let u = b.add_union("u", 8, &[MemberSpec::new("p", ptr, 0)]);
            let e = b.add_enum("color", 4, true, &[("RED", -1), ("GREEN", 2)]);
            let e64 = b.add_enum64("big", 8, false, &[("HUGE", 1 << 40)]);
            let fwd = b.add_fwd("opaque", true);
            let td = b.add_typedef("node_t", s);
            let v = b.add_volatile(td);
            let c = b.add_const(v);
            let r = b.add_restrict(ptr);
            let tt = b.add_type_tag("user", int);
            let proto = b.add_func_proto(int, &[("a", int), ("", 0)]);
            let func = b.add_func("f", proto, 1);
            let var = b.add_var("counter", int, 1);
            let sec = b.add_datasec(".data", 4, &[(var, 0, 4)]);
            let float = b.add_float("double", 8);
            let tag = b.add_decl_tag("tag", s, 1);

            let btf = Btf::parse(&b.finish()).expect("parses");
            assert_eq!(btf.type_count(), tag + 1);
            assert_eq!(btf.type_name(int).unwrap(), "int");
            assert_eq!(btf.type_by_id(int).unwrap().int_info().unwrap().encoding, 1);
            assert_eq!(btf.type_by_id(ptr).unwrap().referenced_type(), Some(int));
            assert_eq!(btf.array_info(array).unwrap().nelems, 7);
            let members = btf.members(c).unwrap();
            assert_eq!(members.len(), 3);
            assert_eq!(members[1].bit_offset, 64);
            assert_eq!(members[1].bitfield_size, 3);
            assert_eq!(members[2].bit_offset, 67);
            assert_eq!(btf.members(u).unwrap()[0].type_id, ptr);
            let values: Vec<u64> = btf
                .type_by_id(e)
                .unwrap()
                .enum_values()
                .map(|v| v.value)
                .collect();
            assert_eq!(values, vec![u64::MAX, 2]);
            let values: Vec<u64> = btf
                .type_by_id(e64)
                .unwrap()
                .enum_values()
                .map(|v| v.value)
                .collect();
            assert_eq!(values, vec![1 << 40]);
            assert!(btf.type_by_id(fwd).unwrap().kind_flag());
            assert_eq!(btf.skip_mods_and_typedefs(c).unwrap(), s);
            assert_eq!(btf.type_by_id(r).unwrap().kind(), BtfKind::Restrict);
            assert_eq!(btf.type_by_id(tt).unwrap().kind(), BtfKind::TypeTag);
            assert_eq!(btf.type_by_id(proto).unwrap().params().count(), 2);
            assert_eq!(btf.type_by_id(func).unwrap().linkage(), Some(1));
            assert_eq!(btf.datasec_vars(sec).unwrap()[0].type_id, var);
            assert_eq!(btf.resolve_size(float).unwrap(), 8);
            assert_eq!(btf.type_by_id(tag).unwrap().decl_tag_component(), Some(1));
            assert_eq!(btf.endian(), endian);
        }
    }
}
