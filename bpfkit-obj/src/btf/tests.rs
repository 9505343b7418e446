//! BTF reader tests on blobs built here, in both byte orders.

use super::*;

/// Builds BTF blobs type by type.
struct Builder {
    big: bool,
    types: Vec<u8>,
    strings: Vec<u8>,
}

impl Builder {
    fn new(big: bool) -> Builder {
        Builder {
            big,
            types: Vec::new(),
            strings: vec![0],
        }
    }

    fn s(&mut self, name: &str) -> u32 {
        if name.is_empty() {
            return 0;
        }
        let offset = self.strings.len() as u32;
        self.strings.extend_from_slice(name.as_bytes());
        self.strings.push(0);
        offset
    }

    fn word(&mut self, value: u32) {
        let bytes = if self.big {
            value.to_be_bytes()
        } else {
            value.to_le_bytes()
        };
        self.types.extend_from_slice(&bytes);
    }

    fn ty(&mut self, name: &str, kind: u32, vlen: u32, kind_flag: bool, size_or_type: u32) {
        let name = self.s(name);
        self.word(name);
        self.word((u32::from(kind_flag) << 31) | (kind << 24) | vlen);
        self.word(size_or_type);
    }

    fn build(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let w = |v: u32| {
            if self.big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        out.extend_from_slice(&if self.big { [0xeb, 0x9f] } else { [0x9f, 0xeb] });
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&w(24));
        out.extend_from_slice(&w(0));
        out.extend_from_slice(&w(self.types.len() as u32));
        out.extend_from_slice(&w(self.types.len() as u32));
        out.extend_from_slice(&w(self.strings.len() as u32));
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strings);
        out
    }
}

/// One type of every kind:
/// [1] int, [2] ptr->1, [3] array of 4 x [1] indexed by [1], [4] struct pair {a: int; b: int:3 at bit 32},
/// [5] union u {x: int}, [6] enum e {A=1, B=-1 (signed)}, [7] fwd struct f, [8] typedef t -> 4,
/// [9] volatile -> 8, [10] const -> 9, [11] restrict -> 2, [12] func_proto (int a) -> int,
/// [13] func main -> 12, [14] var v -> 10, [15] datasec .data {14 at 0 size 8}, [16] float (8),
/// [17] decl_tag "tag" -> 13 component -1, [18] type_tag "user" -> 1, [19] enum64 big {X = 1<<40}.
fn every_kind(big: bool) -> Vec<u8> {
    let mut b = Builder::new(big);
    b.ty("int", 1, 0, false, 4);
    b.word((1 << 24) | 32); // signed, 32 bits
    b.ty("", 2, 0, false, 1);
    b.ty("", 3, 0, false, 0);
    b.word(1);
    b.word(1);
    b.word(4);
    b.ty("pair", 4, 2, true, 8);
    let a = b.s("a");
    b.word(a);
    b.word(1);
    b.word(0);
    let bf = b.s("b");
    b.word(bf);
    b.word(1);
    b.word((3 << 24) | 32);
    b.ty("u", 5, 1, false, 4);
    let x = b.s("x");
    b.word(x);
    b.word(1);
    b.word(0);
    b.ty("e", 6, 2, true, 4);
    let ea = b.s("A");
    b.word(ea);
    b.word(1);
    let eb = b.s("B");
    b.word(eb);
    b.word(u32::MAX);
    b.ty("f", 7, 0, false, 0);
    b.ty("t", 8, 0, false, 4);
    b.ty("", 9, 0, false, 8);
    b.ty("", 10, 0, false, 9);
    b.ty("", 11, 0, false, 2);
    b.ty("", 13, 1, false, 1);
    let pa = b.s("a");
    b.word(pa);
    b.word(1);
    b.ty("main", 12, 1, false, 12);
    b.ty("v", 14, 0, false, 10);
    b.word(1);
    b.ty(".data", 15, 1, false, 8);
    b.word(14);
    b.word(0);
    b.word(8);
    b.ty("double", 16, 0, false, 8);
    b.ty("tag", 17, 0, false, 13);
    b.word(u32::MAX);
    b.ty("user", 18, 0, false, 1);
    b.ty("big", 19, 1, false, 8);
    let bx = b.s("X");
    b.word(bx);
    b.word(0);
    b.word(1 << 8);
    b.build()
}

#[test]
fn every_kind_both_byte_orders() {
    for big in [false, true] {
        let btf = Btf::parse(&every_kind(big)).unwrap();
        assert_eq!(btf.endian(), if big { Endian::Big } else { Endian::Little });
        assert_eq!(btf.type_count(), 20);
        let kinds: Vec<BtfKind> = btf.types().map(|t| t.unwrap().kind()).collect();
        assert_eq!(
            kinds,
            [
                BtfKind::Int,
                BtfKind::Ptr,
                BtfKind::Array,
                BtfKind::Struct,
                BtfKind::Union,
                BtfKind::Enum,
                BtfKind::Fwd,
                BtfKind::Typedef,
                BtfKind::Volatile,
                BtfKind::Const,
                BtfKind::Restrict,
                BtfKind::FuncProto,
                BtfKind::Func,
                BtfKind::Var,
                BtfKind::Datasec,
                BtfKind::Float,
                BtfKind::DeclTag,
                BtfKind::TypeTag,
                BtfKind::Enum64,
            ]
        );
        assert_eq!(btf.type_by_id(0).unwrap().kind(), BtfKind::Void);
        let int = btf.type_by_id(1).unwrap();
        assert_eq!(
            int.int_info(),
            Some(IntInfo {
                encoding: 1,
                offset: 0,
                bits: 32
            })
        );
        assert_eq!(btf.type_name(1).unwrap(), "int");
        assert_eq!(
            btf.array_info(3).unwrap(),
            ArrayInfo {
                element_type: 1,
                index_type: 1,
                nelems: 4
            }
        );
        let members = btf.members(10).unwrap(); // const -> volatile -> typedef -> struct pair
        assert_eq!(members.len(), 2);
        assert_eq!(btf.string_at(members[0].name_offset).unwrap(), "a");
        assert_eq!((members[1].bit_offset, members[1].bitfield_size), (32, 3));
        assert_eq!(btf.members(5).unwrap()[0].type_id, 1);
        let values: Vec<u64> = btf
            .type_by_id(6)
            .unwrap()
            .enum_values()
            .map(|v| v.value)
            .collect();
        assert_eq!(values, [1, u64::MAX]);
        let params: Vec<BtfParam> = btf.type_by_id(12).unwrap().params().collect();
        assert_eq!(params.len(), 1);
        assert_eq!(btf.type_by_id(13).unwrap().linkage(), Some(1));
        assert_eq!(btf.type_by_id(14).unwrap().linkage(), Some(1));
        assert_eq!(
            btf.datasec_vars(15).unwrap(),
            vec![BtfVarSecinfo {
                type_id: 14,
                offset: 0,
                size: 8
            }]
        );
        assert_eq!(btf.type_by_id(17).unwrap().decl_tag_component(), Some(-1));
        let big_values: Vec<u64> = btf
            .type_by_id(19)
            .unwrap()
            .enum_values()
            .map(|v| v.value)
            .collect();
        assert_eq!(big_values, [1 << 40]);
        assert!(btf.type_by_id(7).unwrap().size().is_none());
    }
}

#[test]
fn sizes_and_resolution() {
    let btf = Btf::parse(&every_kind(false)).unwrap();
    assert_eq!(btf.resolve_size(1).unwrap(), 4);
    assert_eq!(btf.resolve_size(2).unwrap(), 8);
    assert_eq!(btf.resolve_size(3).unwrap(), 16);
    assert_eq!(btf.resolve_size(10).unwrap(), 8); // const volatile typedef pair
    assert_eq!(btf.resolve_size(14).unwrap(), 8); // var of that
    assert_eq!(btf.resolve_size(16).unwrap(), 8);
    assert_eq!(btf.resolve_size(18).unwrap(), 4);
    assert!(matches!(
        btf.resolve_size(7),
        Err(BtfError::NoSize {
            kind: BtfKind::Fwd,
            ..
        })
    ));
    assert!(matches!(
        btf.resolve_size(13),
        Err(BtfError::NoSize {
            kind: BtfKind::Func,
            ..
        })
    ));
    assert!(matches!(
        btf.resolve_size(0),
        Err(BtfError::NoSize {
            kind: BtfKind::Void,
            ..
        })
    ));
    assert_eq!(btf.skip_mods_and_typedefs(10).unwrap(), 4);
    assert_eq!(btf.skip_mods_and_typedefs(18).unwrap(), 1);
    assert_eq!(btf.find_by_name_kind("pair", BtfKind::Struct), Some(4));
    assert_eq!(btf.find_by_name_kind("pair", BtfKind::Union), None);
    assert_eq!(btf.find_by_name_kind(".data", BtfKind::Datasec), Some(15));
    assert_eq!(btf.find_by_name("main"), Some(13));
    assert!(matches!(
        btf.members(1),
        Err(BtfError::UnexpectedKind { .. })
    ));
    assert!(matches!(
        btf.type_by_id(20),
        Err(BtfError::TypeIdOutOfRange { id: 20, max: 19 })
    ));
    assert!(matches!(
        btf.string_at(100_000),
        Err(BtfError::BadStringOffset { .. })
    ));
}

#[test]
fn loops_and_overflow_are_errors() {
    let mut b = Builder::new(false);
    b.ty("a", 8, 0, false, 2); // [1] typedef a -> 2
    b.ty("b", 8, 0, false, 1); // [2] typedef b -> 1
    b.ty("int", 1, 0, false, 4); // [3]
    b.word(32);
    b.ty("", 3, 0, false, 0); // [4] array of u32::MAX x [5]
    b.word(5);
    b.word(3);
    b.word(u32::MAX);
    b.ty("", 3, 0, false, 0); // [5] array of u32::MAX x [6]
    b.word(6);
    b.word(3);
    b.word(u32::MAX);
    b.ty("", 3, 0, false, 0); // [6] array of 16 x int
    b.word(3);
    b.word(3);
    b.word(16);
    let btf = Btf::parse(&b.build()).unwrap();
    assert!(matches!(
        btf.skip_mods_and_typedefs(1),
        Err(BtfError::ChainTooDeep { .. })
    ));
    assert!(matches!(
        btf.resolve_size(1),
        Err(BtfError::ChainTooDeep { .. })
    ));
    assert!(matches!(
        btf.resolve_size(4),
        Err(BtfError::SizeOverflow { .. })
    ));
}

#[test]
fn malformed_blobs() {
    let good = every_kind(false);
    assert!(matches!(
        Btf::parse(&good[..10]),
        Err(BtfError::TruncatedHeader { len: 10 })
    ));
    let mut bad_magic = good.clone();
    bad_magic[0] = 0;
    assert!(matches!(
        Btf::parse(&bad_magic),
        Err(BtfError::BadMagic { .. })
    ));
    let mut bad_version = good.clone();
    bad_version[2] = 2;
    assert!(matches!(
        Btf::parse(&bad_version),
        Err(BtfError::UnsupportedVersion { version: 2 })
    ));
    let mut bad_hdr = good.clone();
    bad_hdr[4] = 8;
    assert!(matches!(
        Btf::parse(&bad_hdr),
        Err(BtfError::BadHeaderLength { hdr_len: 8 })
    ));
    let mut huge_types = good.clone();
    huge_types[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        Btf::parse(&huge_types),
        Err(BtfError::SectionOutOfBounds {
            section: "type",
            ..
        })
    ));
    let mut bad_strings = good.clone();
    let last = bad_strings.len() - 1;
    bad_strings[last] = b'x';
    assert!(matches!(
        Btf::parse(&bad_strings),
        Err(BtfError::BadStringSection)
    ));
    // Type section cut in the middle of a record.
    let mut short_types = good.clone();
    let type_len = u32::from_le_bytes([good[12], good[13], good[14], good[15]]);
    short_types[12..16].copy_from_slice(&(type_len - 4).to_le_bytes());
    assert!(matches!(
        Btf::parse(&short_types),
        Err(BtfError::TruncatedType { .. })
    ));
    // Unknown kind 31 in the first type.
    let mut unknown = good.clone();
    unknown[24 + 7] = 31;
    assert!(matches!(
        Btf::parse(&unknown),
        Err(BtfError::UnknownKind { id: 1, kind: 31 })
    ));
    // A struct claiming 65535 members.
    let mut b = Builder::new(true);
    b.ty("s", 4, 0xffff, false, 4);
    assert!(matches!(
        Btf::parse(&b.build()),
        Err(BtfError::TruncatedType { id: 1 })
    ));
}

#[test]
fn every_truncation_and_byte_flip_is_handled() {
    for big in [false, true] {
        let good = every_kind(big);
        for len in 0..good.len() {
            let _ = Btf::parse(&good[..len]);
        }
        for i in 0..good.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bytes = good.clone();
                bytes[i] ^= flip;
                if let Ok(btf) = Btf::parse(&bytes) {
                    for id in 0..btf.type_count() + 1 {
                        let _ = btf.resolve_size(id);
                        let _ = btf.members(id);
                        let _ = btf.type_name(id);
                        if let Ok(ty) = btf.type_by_id(id) {
                            let _ = ty.enum_values().count()
                                + ty.params().count()
                                + ty.datasec_vars().count();
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn kernel_btf_parses_when_present() {
    let Ok(data) = std::fs::read("/sys/kernel/btf/vmlinux") else {
        println!("skipped: kernel_btf_parses_when_present: /sys/kernel/btf/vmlinux not readable");
        return;
    };
    let btf = Btf::parse(&data).unwrap();
    assert!(btf.type_count() > 1000);
    let task = btf
        .find_by_name_kind("task_struct", BtfKind::Struct)
        .unwrap();
    assert!(btf.resolve_size(task).unwrap() > 1000);
    let func_id = btf.find_by_name_kind("bpf_func_id", BtfKind::Enum).unwrap();
    let ty = btf.type_by_id(func_id).unwrap();
    let lookup = ty
        .enum_values()
        .find(|v| btf.string_at(v.name_offset).ok() == Some("BPF_FUNC_map_lookup_elem"));
    assert_eq!(lookup.map(|v| v.value), Some(1));
}
