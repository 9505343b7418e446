//! Views of single BTF type records, decoded on demand from the raw bytes.

use super::{BtfError, Endian};

/// The kind of a BTF type (`BTF_KIND_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BtfKind {
    /// Type id 0: `void`.
    Void,
    /// `BTF_KIND_INT`.
    Int,
    /// `BTF_KIND_PTR`.
    Ptr,
    /// `BTF_KIND_ARRAY`.
    Array,
    /// `BTF_KIND_STRUCT`.
    Struct,
    /// `BTF_KIND_UNION`.
    Union,
    /// `BTF_KIND_ENUM` (32-bit values).
    Enum,
    /// `BTF_KIND_FWD` (forward declaration of a struct or union).
    Fwd,
    /// `BTF_KIND_TYPEDEF`.
    Typedef,
    /// `BTF_KIND_VOLATILE`.
    Volatile,
    /// `BTF_KIND_CONST`.
    Const,
    /// `BTF_KIND_RESTRICT`.
    Restrict,
    /// `BTF_KIND_FUNC`.
    Func,
    /// `BTF_KIND_FUNC_PROTO`.
    FuncProto,
    /// `BTF_KIND_VAR`.
    Var,
    /// `BTF_KIND_DATASEC`.
    Datasec,
    /// `BTF_KIND_FLOAT`.
    Float,
    /// `BTF_KIND_DECL_TAG`.
    DeclTag,
    /// `BTF_KIND_TYPE_TAG`.
    TypeTag,
    /// `BTF_KIND_ENUM64`.
    Enum64,
}

impl BtfKind {
    /// Kind from its `BTF_KIND_*` number; `None` for unknown numbers (0 is only valid for id 0).
    pub fn from_raw(raw: u32) -> Option<BtfKind> {
        Some(match raw {
            1 => BtfKind::Int,
            2 => BtfKind::Ptr,
            3 => BtfKind::Array,
            4 => BtfKind::Struct,
            5 => BtfKind::Union,
            6 => BtfKind::Enum,
            7 => BtfKind::Fwd,
            8 => BtfKind::Typedef,
            9 => BtfKind::Volatile,
            10 => BtfKind::Const,
            11 => BtfKind::Restrict,
            12 => BtfKind::Func,
            13 => BtfKind::FuncProto,
            14 => BtfKind::Var,
            15 => BtfKind::Datasec,
            16 => BtfKind::Float,
            17 => BtfKind::DeclTag,
            18 => BtfKind::TypeTag,
            19 => BtfKind::Enum64,
            _ => return None,
        })
    }

    /// The `BTF_KIND_*` number.
    pub fn to_raw(self) -> u32 {
        match self {
            BtfKind::Void => 0,
            BtfKind::Int => 1,
            BtfKind::Ptr => 2,
            BtfKind::Array => 3,
            BtfKind::Struct => 4,
            BtfKind::Union => 5,
            BtfKind::Enum => 6,
            BtfKind::Fwd => 7,
            BtfKind::Typedef => 8,
            BtfKind::Volatile => 9,
            BtfKind::Const => 10,
            BtfKind::Restrict => 11,
            BtfKind::Func => 12,
            BtfKind::FuncProto => 13,
            BtfKind::Var => 14,
            BtfKind::Datasec => 15,
            BtfKind::Float => 16,
            BtfKind::DeclTag => 17,
            BtfKind::TypeTag => 18,
            BtfKind::Enum64 => 19,
        }
    }

    /// Size in bytes of the kind-specific data that follows the 12-byte common header.
    pub(crate) fn extra_len(self, vlen: usize) -> Option<usize> {
        match self {
            BtfKind::Void => Some(0),
            BtfKind::Int | BtfKind::Var | BtfKind::DeclTag => Some(4),
            BtfKind::Array => Some(12),
            BtfKind::Struct | BtfKind::Union | BtfKind::Datasec | BtfKind::Enum64 => {
                vlen.checked_mul(12)
            }
            BtfKind::Enum | BtfKind::FuncProto => vlen.checked_mul(8),
            BtfKind::Ptr
            | BtfKind::Fwd
            | BtfKind::Typedef
            | BtfKind::Volatile
            | BtfKind::Const
            | BtfKind::Restrict
            | BtfKind::Func
            | BtfKind::Float
            | BtfKind::TypeTag => Some(0),
        }
    }

    /// Whether the type's third word is a size (otherwise it is a referenced type id).
    pub fn has_size(self) -> bool {
        matches!(
            self,
            BtfKind::Int
                | BtfKind::Struct
                | BtfKind::Union
                | BtfKind::Enum
                | BtfKind::Datasec
                | BtfKind::Float
                | BtfKind::Enum64
        )
    }

    /// Whether the third word is a referenced type id.
    pub fn has_type_ref(self) -> bool {
        matches!(
            self,
            BtfKind::Ptr
                | BtfKind::Typedef
                | BtfKind::Volatile
                | BtfKind::Const
                | BtfKind::Restrict
                | BtfKind::Func
                | BtfKind::FuncProto
                | BtfKind::Var
                | BtfKind::DeclTag
                | BtfKind::TypeTag
        )
    }
}

impl std::fmt::Display for BtfKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            BtfKind::Void => "void",
            BtfKind::Int => "int",
            BtfKind::Ptr => "ptr",
            BtfKind::Array => "array",
            BtfKind::Struct => "struct",
            BtfKind::Union => "union",
            BtfKind::Enum => "enum",
            BtfKind::Fwd => "fwd",
            BtfKind::Typedef => "typedef",
            BtfKind::Volatile => "volatile",
            BtfKind::Const => "const",
            BtfKind::Restrict => "restrict",
            BtfKind::Func => "func",
            BtfKind::FuncProto => "func_proto",
            BtfKind::Var => "var",
            BtfKind::Datasec => "datasec",
            BtfKind::Float => "float",
            BtfKind::DeclTag => "decl_tag",
            BtfKind::TypeTag => "type_tag",
            BtfKind::Enum64 => "enum64",
        };
        f.write_str(name)
    }
}

/// One BTF type record, borrowed from the BTF blob. Kind-specific data is decoded by the accessors.
#[derive(Clone, Copy, Debug)]
pub struct BtfType<'a> {
    pub(crate) id: u32,
    pub(crate) kind: BtfKind,
    pub(crate) name_offset: u32,
    pub(crate) info: u32,
    pub(crate) size_or_type: u32,
    pub(crate) extra: &'a [u8],
    pub(crate) endian: Endian,
}

/// `INT` encoding details.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntInfo {
    /// `BTF_INT_SIGNED` (1), `BTF_INT_CHAR` (2), `BTF_INT_BOOL` (4) bits.
    pub encoding: u8,
    /// Bit offset of the value inside its storage.
    pub offset: u8,
    /// Number of value bits.
    pub bits: u8,
}

/// `ARRAY` details.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArrayInfo {
    /// Element type id.
    pub element_type: u32,
    /// Index type id.
    pub index_type: u32,
    /// Number of elements.
    pub nelems: u32,
}

/// A member of a `STRUCT` or `UNION`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BtfMember {
    /// Offset of the member name in the string section.
    pub name_offset: u32,
    /// Member type id.
    pub type_id: u32,
    /// Offset of the member from the start of the struct, in bits.
    pub bit_offset: u32,
    /// Bitfield width in bits; 0 when the member is not a bitfield.
    pub bitfield_size: u32,
}

/// A value of an `ENUM` or `ENUM64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BtfEnumValue {
    /// Offset of the enumerator name in the string section.
    pub name_offset: u32,
    /// The value as 64 bits (sign-extended for signed 32-bit enums).
    pub value: u64,
}

/// A parameter of a `FUNC_PROTO`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BtfParam {
    /// Offset of the parameter name in the string section (0 when unnamed).
    pub name_offset: u32,
    /// Parameter type id (0 for a trailing `...`).
    pub type_id: u32,
}

/// A variable of a `DATASEC`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BtfVarSecinfo {
    /// `VAR` (or `FUNC` for extern functions) type id.
    pub type_id: u32,
    /// Offset of the variable in the section.
    pub offset: u32,
    /// Size of the variable in bytes.
    pub size: u32,
}

impl<'a> BtfType<'a> {
    /// Type id of this record.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Kind of this record.
    pub fn kind(&self) -> BtfKind {
        self.kind
    }

    /// Offset of the name in the string section (0 for anonymous types).
    pub fn name_offset(&self) -> u32 {
        self.name_offset
    }

    /// `vlen`: number of members / values / parameters / variables; linkage for `FUNC`.
    pub fn vlen(&self) -> usize {
        (self.info & 0xffff) as usize
    }

    /// `kind_flag`: bitfield encoding for structs, union for `FWD`, signedness for enums.
    pub fn kind_flag(&self) -> bool {
        self.info >> 31 == 1
    }

    /// Size in bytes for kinds that carry one (`INT`, `STRUCT`, `UNION`, `ENUM`, `ENUM64`,
    /// `DATASEC`, `FLOAT`).
    pub fn size(&self) -> Option<u32> {
        self.kind.has_size().then_some(self.size_or_type)
    }

    /// Referenced type id for `PTR`, `TYPEDEF`, modifiers, `FUNC`, `FUNC_PROTO` (return type), `VAR`,
    /// `DECL_TAG` and `TYPE_TAG`.
    pub fn referenced_type(&self) -> Option<u32> {
        self.kind.has_type_ref().then_some(self.size_or_type)
    }

    fn word(&self, index: usize) -> u32 {
        // The extra bytes were length-checked against the kind and vlen when the offset table was
        // built, so a short read can only come from a caller asking for a word beyond them; 0 is
        // returned rather than panicking.
        let start = index * 4;
        match self.extra.get(start..start + 4) {
            Some(b) => self.endian.u32([b[0], b[1], b[2], b[3]]),
            None => 0,
        }
    }

    /// `INT` details.
    pub fn int_info(&self) -> Option<IntInfo> {
        if self.kind != BtfKind::Int {
            return None;
        }
        let raw = self.word(0);
        Some(IntInfo {
            encoding: ((raw >> 24) & 0x0f) as u8,
            offset: ((raw >> 16) & 0xff) as u8,
            bits: (raw & 0xff) as u8,
        })
    }

    /// `ARRAY` details.
    pub fn array(&self) -> Option<ArrayInfo> {
        if self.kind != BtfKind::Array {
            return None;
        }
        Some(ArrayInfo {
            element_type: self.word(0),
            index_type: self.word(1),
            nelems: self.word(2),
        })
    }

    /// Members of a `STRUCT` or `UNION` (empty for other kinds).
    pub fn members(&self) -> impl Iterator<Item = BtfMember> + 'a {
        let this = *self;
        let count = if matches!(self.kind, BtfKind::Struct | BtfKind::Union) {
            self.vlen()
        } else {
            0
        };
        (0..count).map(move |i| {
            let raw_offset = this.word(i * 3 + 2);
            let (bit_offset, bitfield_size) = if this.kind_flag() {
                (raw_offset & 0x00ff_ffff, raw_offset >> 24)
            } else {
                (raw_offset, 0)
            };
            BtfMember {
                name_offset: this.word(i * 3),
                type_id: this.word(i * 3 + 1),
                bit_offset,
                bitfield_size,
            }
        })
    }

    /// Values of an `ENUM` or `ENUM64` (empty for other kinds).
    pub fn enum_values(&self) -> impl Iterator<Item = BtfEnumValue> + 'a {
        let this = *self;
        let count = if matches!(self.kind, BtfKind::Enum | BtfKind::Enum64) {
            self.vlen()
        } else {
            0
        };
        (0..count).map(move |i| match this.kind {
            BtfKind::Enum64 => {
                let low = u64::from(this.word(i * 3 + 1));
                let high = u64::from(this.word(i * 3 + 2));
                BtfEnumValue {
                    name_offset: this.word(i * 3),
                    value: (high << 32) | low,
                }
            }
            _ => {
                let raw = this.word(i * 2 + 1);
                // kind_flag marks a signed enum: sign-extend so negative values compare naturally.
                let value = if this.kind_flag() {
                    i64::from(raw as i32) as u64
                } else {
                    u64::from(raw)
                };
                BtfEnumValue {
                    name_offset: this.word(i * 2),
                    value,
                }
            }
        })
    }

    /// Parameters of a `FUNC_PROTO` (empty for other kinds).
    pub fn params(&self) -> impl Iterator<Item = BtfParam> + 'a {
        let this = *self;
        let count = if self.kind == BtfKind::FuncProto {
            self.vlen()
        } else {
            0
        };
        (0..count).map(move |i| BtfParam {
            name_offset: this.word(i * 2),
            type_id: this.word(i * 2 + 1),
        })
    }

    /// Linkage of a `VAR` (0 static, 1 global, 2 extern) or `FUNC` (0 static, 1 global, 2 extern).
    pub fn linkage(&self) -> Option<u32> {
        match self.kind {
            BtfKind::Var => Some(self.word(0)),
            BtfKind::Func => Some(self.info & 0xffff),
            _ => None,
        }
    }

    /// Variables of a `DATASEC` (empty for other kinds).
    pub fn datasec_vars(&self) -> impl Iterator<Item = BtfVarSecinfo> + 'a {
        let this = *self;
        let count = if self.kind == BtfKind::Datasec {
            self.vlen()
        } else {
            0
        };
        (0..count).map(move |i| BtfVarSecinfo {
            type_id: this.word(i * 3),
            offset: this.word(i * 3 + 1),
            size: this.word(i * 3 + 2),
        })
    }

    /// Component index of a `DECL_TAG` (-1 for the declaration itself).
    pub fn decl_tag_component(&self) -> Option<i32> {
        (self.kind == BtfKind::DeclTag).then(|| self.word(0) as i32)
    }
}

/// Reads the kind, vlen and total record length of the type starting at `data[0]`.
pub(crate) fn record_len(
    data: &[u8],
    endian: Endian,
    id: u32,
) -> Result<(BtfKind, usize), BtfError> {
    let info_bytes = data.get(4..8).ok_or(BtfError::TruncatedType { id })?;
    let info = endian.u32([info_bytes[0], info_bytes[1], info_bytes[2], info_bytes[3]]);
    let raw_kind = (info >> 24) & 0x1f;
    let kind = BtfKind::from_raw(raw_kind).ok_or(BtfError::UnknownKind { id, kind: raw_kind })?;
    let vlen = (info & 0xffff) as usize;
    let extra = kind.extra_len(vlen).ok_or(BtfError::TruncatedType { id })?;
    let total = extra
        .checked_add(12)
        .ok_or(BtfError::TruncatedType { id })?;
    if data.len() < total {
        return Err(BtfError::TruncatedType { id });
    }
    Ok((kind, total))
}

/// Record shape by raw kind number, two bits per kind, in 4-byte words: the fixed data after
/// the 12-byte header (`int`, `var`, `decl_tag`: 1; `array`: 3) and the data per `vlen` entry
/// (`enum`, `func_proto`: 2; `struct`, `union`, `datasec`, `enum64`: 3). Packed into integers
/// so the walk over 100k+ kernel records computes each length with shifts instead of a load:
/// each record's position depends on the previous one's length, so this is the critical path.
const FIXED_WORDS: u64 = (1 << 2) | (3 << (2 * 3)) | (1 << (2 * 14)) | (1 << (2 * 17));
const ENTRY_WORDS: u64 = (3 << (2 * 4))
    | (3 << (2 * 5))
    | (2 << (2 * 6))
    | (2 << (2 * 13))
    | (3 << (2 * 15))
    | (3 << (2 * 19));
/// Bit set of the known kinds, 1 to 19.
const KNOWN_KINDS: u32 = ((1 << 20) - 1) & !1;

/// Walks the type section `types` of `data` and returns the absolute offset and the raw kind of
/// each record (the first being type `first_id`), checking that every record has a known kind
/// and fits.
pub(crate) fn record_offsets(
    data: &[u8],
    types: std::ops::Range<usize>,
    endian: Endian,
    first_id: u32,
) -> Result<(Vec<u32>, Vec<u8>), BtfError> {
    match endian {
        Endian::Little => walk_records::<false>(data, types, first_id),
        Endian::Big => walk_records::<true>(data, types, first_id),
    }
}

fn walk_records<const BIG: bool>(
    data: &[u8],
    types: std::ops::Range<usize>,
    first_id: u32,
) -> Result<(Vec<u32>, Vec<u8>), BtfError> {
    let section = data
        .get(types.clone())
        .ok_or(BtfError::TruncatedType { id: first_id })?;
    // Records are at least 12 bytes: this bounds the count, so ids and offsets cannot overflow
    // below and the vectors never regrow. The unused tail of a large allocation is never touched
    // (so never resident) and is given back by `shrink_to_fit`.
    let max_records = section.len() / 12 + 1;
    if u32::try_from(types.end).is_err()
        || u32::try_from(max_records)
            .ok()
            .and_then(|n| n.checked_add(first_id))
            .is_none()
    {
        return Err(BtfError::TooManyTypes);
    }
    let mut offsets = Vec::with_capacity(max_records);
    let mut kinds = Vec::with_capacity(max_records);
    let mut at = 0usize;
    while let Some(&[a, b, c, d]) = section.get(at + 4..at + 8) {
        let info = if BIG {
            u32::from_be_bytes([a, b, c, d])
        } else {
            u32::from_le_bytes([a, b, c, d])
        };
        let raw_kind = (info >> 24) & 0x1f;
        let shift = 2 * raw_kind;
        let words =
            ((FIXED_WORDS >> shift) & 3) + ((ENTRY_WORDS >> shift) & 3) * u64::from(info & 0xffff);
        let len = 12 + 4 * words as usize;
        if KNOWN_KINDS & (1 << raw_kind) == 0 {
            let id = first_id + offsets.len() as u32;
            return Err(BtfError::UnknownKind { id, kind: raw_kind });
        }
        if section.len() - at < len {
            let id = first_id + offsets.len() as u32;
            return Err(BtfError::TruncatedType { id });
        }
        offsets.push((types.start + at) as u32);
        kinds.push(raw_kind as u8);
        at += len;
    }
    if at < section.len() {
        // Fewer than 8 bytes left: a record header cut short.
        let id = first_id + offsets.len() as u32;
        return Err(BtfError::TruncatedType { id });
    }
    offsets.shrink_to_fit();
    kinds.shrink_to_fit();
    Ok((offsets, kinds))
}
