//! BTF (BPF Type Format) reader.
//!
//! [`Btf`] keeps the raw blob and an offset table (type id -> byte offset of its record); each type
//! is decoded only when asked for, as a borrowed [`BtfType`] view. That keeps parsing of a large
//! blob (the kernel's is ~5 MB with 100k+ types) cheap and is the shape later extensions need
//! (`.BTF.ext`, CO-RE, memory-mapped kernel BTF with a lazily built index).
//!
//! Both byte orders are accepted: the magic `0xeB9F` tells which one the producer used.

pub mod builder;
mod elf;
pub mod ext;
mod fixup;
mod index;
mod sanitize;
mod types;
mod write;

use std::sync::{Arc, OnceLock};

pub use elf::{elf_btf_range, is_elf};
pub use index::essential_name;
pub use sanitize::BtfFeatures;
pub use write::BtfWriter;

pub use types::{
    ArrayInfo, BtfEnumValue, BtfKind, BtfMember, BtfParam, BtfType, BtfVarSecinfo, IntInfo,
};

/// BTF magic number, as read in the producer's byte order.
pub const BTF_MAGIC: u16 = 0xeb9f;
/// Size of the version-1 header.
const HEADER_LEN: usize = 24;
/// How many typedef/modifier/array links a resolution may follow before giving up; the same
/// bound libbpf uses, so a reference loop cannot hang us.
const MAX_RESOLVE_DEPTH: usize = 32;

/// Malformed or unexpected BTF.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BtfError {
    /// Fewer bytes than a header.
    #[error("BTF is truncated: {len} bytes, the header alone needs {HEADER_LEN}")]
    TruncatedHeader {
        /// Bytes available.
        len: usize,
    },
    /// The magic number is neither byte order of `0xeB9F`.
    #[error("bad BTF magic {magic:#06x}")]
    BadMagic {
        /// The first two bytes, little-endian.
        magic: u16,
    },
    /// Only version 1 exists.
    #[error("unsupported BTF version {version}")]
    UnsupportedVersion {
        /// Version byte.
        version: u8,
    },
    /// Header length smaller than the version-1 header or beyond the data.
    #[error("bad BTF header length {hdr_len}")]
    BadHeaderLength {
        /// `hdr_len` field.
        hdr_len: u32,
    },
    /// The type or string section lies outside the blob.
    #[error(
        "BTF {section} section (offset {offset}, length {len}) lies outside the {total}-byte blob"
    )]
    SectionOutOfBounds {
        /// `"type"` or `"string"`.
        section: &'static str,
        /// Offset after the header.
        offset: u32,
        /// Length.
        len: u32,
        /// Bytes after the header.
        total: usize,
    },
    /// The `.BTF.ext` section (or a type record being fixed up) is malformed.
    #[error("malformed .BTF.ext: {reason}")]
    BadExt {
        /// What is wrong.
        reason: &'static str,
    },
    /// The string section must start with an empty string and end with a NUL.
    #[error("malformed BTF string section")]
    BadStringSection,
    /// A type record does not fit in the type section.
    #[error("BTF type [{id}] is truncated")]
    TruncatedType {
        /// Type id.
        id: u32,
    },
    /// A type record has an unknown kind number.
    #[error("BTF type [{id}] has unknown kind {kind}")]
    UnknownKind {
        /// Type id.
        id: u32,
        /// Raw kind.
        kind: u32,
    },
    /// More types than ids.
    #[error("too many BTF types")]
    TooManyTypes,
    /// A type id beyond the last type.
    #[error("BTF type id {id} out of range (last id is {max})")]
    TypeIdOutOfRange {
        /// Requested id.
        id: u32,
        /// Largest valid id.
        max: u32,
    },
    /// A name offset beyond the string section or a name that is not valid UTF-8.
    #[error("bad BTF string offset {offset}")]
    BadStringOffset {
        /// Offset into the string section.
        offset: u32,
    },
    /// A type of the wrong kind for the operation.
    #[error("BTF type [{id}] is a {kind}, expected {expected}")]
    UnexpectedKind {
        /// Type id.
        id: u32,
        /// Its kind.
        kind: BtfKind,
        /// What was needed.
        expected: &'static str,
    },
    /// A chain of references longer than the resolution bound (probably a loop).
    #[error("BTF type [{id}]: reference chain too deep (loop?)")]
    ChainTooDeep {
        /// Starting type id.
        id: u32,
    },
    /// A size that does not fit in 64 bits (array of arrays ...).
    #[error("BTF type [{id}]: size overflows")]
    SizeOverflow {
        /// Type id.
        id: u32,
    },
    /// An ELF file was expected (kernel BTF in a vmlinux image) but this is not a readable one.
    #[error("not a readable ELF file")]
    NotElf,
    /// The ELF `.BTF` section is compressed.
    #[error("the ELF .BTF section is compressed, which is not supported")]
    CompressedSection,
    /// Split BTF whose byte order differs from its base's.
    #[error("split BTF and its base BTF have different byte orders")]
    SplitEndianMismatch,
    /// The type has no size (function, forward declaration, void).
    #[error("BTF type [{id}] ({kind}) has no size")]
    NoSize {
        /// Type id.
        id: u32,
        /// Its kind.
        kind: BtfKind,
    },
}

/// Byte order of a BTF blob (or an ELF object).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endian {
    /// Little-endian.
    Little,
    /// Big-endian.
    Big,
}

impl Endian {
    /// The byte order of the machine running this code.
    pub fn native() -> Endian {
        if cfg!(target_endian = "big") {
            Endian::Big
        } else {
            Endian::Little
        }
    }

    /// Decodes a `u32`.
    pub fn u32(self, bytes: [u8; 4]) -> u32 {
        match self {
            Endian::Little => u32::from_le_bytes(bytes),
            Endian::Big => u32::from_be_bytes(bytes),
        }
    }

    /// Decodes a `u16`.
    pub fn u16(self, bytes: [u8; 2]) -> u16 {
        match self {
            Endian::Little => u16::from_le_bytes(bytes),
            Endian::Big => u16::from_be_bytes(bytes),
        }
    }

    /// Reads a `u32` at `offset` of `data`, `None` when out of bounds.
    pub fn read_u32(self, data: &[u8], offset: usize) -> Option<u32> {
        let end = offset.checked_add(4)?;
        let b = data.get(offset..end)?;
        Some(self.u32([b[0], b[1], b[2], b[3]]))
    }

    /// Reads a `u64` at `offset` of `data`, `None` when out of bounds.
    pub fn read_u64(self, data: &[u8], offset: usize) -> Option<u64> {
        let end = offset.checked_add(8)?;
        let b = data.get(offset..end)?;
        let bytes = [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
        Some(match self {
            Endian::Little => u64::from_le_bytes(bytes),
            Endian::Big => u64::from_be_bytes(bytes),
        })
    }
}

/// The fixed BTF header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BtfHeader {
    /// Format version (1).
    pub version: u8,
    /// Header flags (none defined).
    pub flags: u8,
    /// Header length in bytes.
    pub hdr_len: u32,
    /// Offset of the type section after the header.
    pub type_off: u32,
    /// Length of the type section.
    pub type_len: u32,
    /// Offset of the string section after the header.
    pub str_off: u32,
    /// Length of the string section.
    pub str_len: u32,
}

/// Bytes a [`Btf`] reads from: an owned buffer, or shared storage such as a memory mapping of
/// `/sys/kernel/btf/vmlinux`. Shared so that clones of a `Btf` (and split BTF on top of it) never
/// copy the blob.
pub type BtfStorage = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// A parsed BTF blob: the raw bytes plus an index of where each type starts.
///
/// Split BTF (kernel module BTF) has a base: its type ids continue after the base's last id and
/// its string offsets after the base's string section, and it may refer to base types and
/// strings. Lookups by id and by string offset go to the base transparently.
#[derive(Clone)]
pub struct Btf {
    storage: BtfStorage,
    endian: Endian,
    header: BtfHeader,
    /// Absolute range of the type section in the storage.
    types: std::ops::Range<usize>,
    /// Absolute range of the string section in the storage.
    strings: std::ops::Range<usize>,
    /// `type_offsets[id - first_id]` is the absolute offset of type `id`. Four bytes per type:
    /// the largest per-type cost of a kernel BTF that is otherwise only mapped.
    type_offsets: Vec<u32>,
    /// Raw kind number of each own type, by `id - first_id`: one byte each, so building the
    /// name index of one kind reads only that kind's records.
    type_kinds: Vec<u8>,
    /// The BTF this one extends (split BTF), `None` for standalone BTF.
    base: Option<Arc<Btf>>,
    /// First type id stored here: 1 for standalone BTF (0 is `void`), the base's type count
    /// for split BTF.
    first_id: u32,
    /// String offsets below this one are the base's.
    first_string: u32,
    /// Per kind: sorted `(hash of essential name) << 32 | type id` of this BTF's own named
    /// types of that kind, built on the first lookup by name of that kind.
    name_index: [OnceLock<Vec<u64>>; index::KIND_SLOTS],
}

impl std::fmt::Debug for Btf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Btf")
            .field("len", &self.raw().len())
            .field("endian", &self.endian)
            .field("header", &self.header)
            .field("first_id", &self.first_id)
            .field("type_count", &self.type_count())
            .field("split", &self.base.is_some())
            .finish()
    }
}

impl Btf {
    /// Parses a raw BTF blob (the contents of a `.BTF` section or `/sys/kernel/btf/vmlinux`).
    ///
    /// Validates the header, the section bounds, the string section framing and the length of
    /// every type record; references between types and names are checked when they are used.
    pub fn parse(data: &[u8]) -> Result<Btf, BtfError> {
        Btf::from_storage(Arc::new(data.to_vec()), None)
    }

    /// Parses BTF from an owned buffer, without copying it.
    pub fn from_vec(data: Vec<u8>) -> Result<Btf, BtfError> {
        Btf::from_storage(Arc::new(data), None)
    }

    /// Parses BTF kept in shared storage (a memory mapping, an `Arc<Vec<u8>>` ...), without
    /// copying it.
    pub fn from_shared(storage: BtfStorage) -> Result<Btf, BtfError> {
        Btf::from_storage(storage, None)
    }

    /// Parses split BTF (as `/sys/kernel/btf/<module>`) on top of `base`: its ids start at
    /// `base.type_count()` and its string offsets at the end of the base's string section.
    pub fn parse_split(data: &[u8], base: Arc<Btf>) -> Result<Btf, BtfError> {
        Btf::from_storage(Arc::new(data.to_vec()), Some(base))
    }

    /// [`Btf::parse_split`] over shared storage, without copying it.
    pub fn from_shared_split(storage: BtfStorage, base: Arc<Btf>) -> Result<Btf, BtfError> {
        Btf::from_storage(storage, Some(base))
    }

    fn from_storage(storage: BtfStorage, base: Option<Arc<Btf>>) -> Result<Btf, BtfError> {
        let data: &[u8] = (*storage).as_ref();
        if data.len() < HEADER_LEN {
            return Err(BtfError::TruncatedHeader { len: data.len() });
        }
        let endian = match [data[0], data[1]] {
            [0x9f, 0xeb] => Endian::Little,
            [0xeb, 0x9f] => Endian::Big,
            [a, b] => {
                return Err(BtfError::BadMagic {
                    magic: u16::from_le_bytes([a, b]),
                })
            }
        };
        let word = |offset: usize| {
            endian
                .read_u32(data, offset)
                .ok_or(BtfError::TruncatedHeader { len: data.len() })
        };
        let header = BtfHeader {
            version: data[2],
            flags: data[3],
            hdr_len: word(4)?,
            type_off: word(8)?,
            type_len: word(12)?,
            str_off: word(16)?,
            str_len: word(20)?,
        };
        if header.version != 1 {
            return Err(BtfError::UnsupportedVersion {
                version: header.version,
            });
        }
        let hdr_len = header.hdr_len as usize;
        if hdr_len < HEADER_LEN || hdr_len > data.len() {
            return Err(BtfError::BadHeaderLength {
                hdr_len: header.hdr_len,
            });
        }
        let total = data.len() - hdr_len;
        let section = |name: &'static str, offset: u32, len: u32| {
            let start = (offset as usize).checked_add(hdr_len);
            let end = start.and_then(|s| s.checked_add(len as usize));
            match (start, end) {
                (Some(start), Some(end)) if end <= data.len() => Ok(start..end),
                _ => Err(BtfError::SectionOutOfBounds {
                    section: name,
                    offset,
                    len,
                    total,
                }),
            }
        };
        let types = section("type", header.type_off, header.type_len)?;
        let strings = section("string", header.str_off, header.str_len)?;
        // The first string must be the empty name and the last byte a terminator, so any offset
        // inside the section finds a NUL before the end. Split BTF's strings continue the
        // base's, whose first string is the empty one, so only the terminator is required there.
        if let Some(string_bytes) = data.get(strings.clone()) {
            let bad_start = base.is_none() && string_bytes.first().is_some_and(|&b| b != 0);
            if !string_bytes.is_empty() && (bad_start || string_bytes.last() != Some(&0)) {
                return Err(BtfError::BadStringSection);
            }
        }
        let (first_id, first_string) = match &base {
            Some(base) => {
                if base.endian != endian {
                    return Err(BtfError::SplitEndianMismatch);
                }
                let base_strings = base.first_string.checked_add(base.header.str_len);
                (
                    base.type_count(),
                    base_strings.ok_or(BtfError::TooManyTypes)?,
                )
            }
            None => (1, 0),
        };

        let (type_offsets, type_kinds) =
            types::record_offsets(data, types.clone(), endian, first_id)?;
        Ok(Btf {
            storage,
            endian,
            header,
            types,
            strings,
            type_offsets,
            type_kinds,
            base,
            first_id,
            first_string,
            name_index: std::array::from_fn(|_| OnceLock::new()),
        })
    }

    /// The header.
    pub fn header(&self) -> &BtfHeader {
        &self.header
    }

    /// Byte order of the blob.
    pub fn endian(&self) -> Endian {
        self.endian
    }

    /// The raw blob, as parsed (for split BTF, only its own part).
    pub fn raw(&self) -> &[u8] {
        (*self.storage).as_ref()
    }

    /// Number of type ids, including the implicit `void` (id 0) and, for split BTF, the base's.
    pub fn type_count(&self) -> u32 {
        // The constructor proved every id fits in u32.
        self.first_id + self.type_offsets.len() as u32
    }

    /// The first type id this BTF stores itself: 1, or the base's type count for split BTF.
    pub fn first_own_id(&self) -> u32 {
        self.first_id
    }

    /// The base of split BTF.
    pub fn base(&self) -> Option<&Arc<Btf>> {
        self.base.as_ref()
    }

    /// Absolute offset of the record of one of this BTF's own types.
    pub(crate) fn own_record_offset(&self, id: u32) -> Option<usize> {
        let index = id.checked_sub(self.first_id)?;
        self.type_offsets
            .get(index as usize)
            .map(|&offset| offset as usize)
    }

    /// The raw string section of this BTF (without its base's).
    pub(crate) fn own_strings(&self) -> &[u8] {
        self.raw().get(self.strings.clone()).unwrap_or_default()
    }

    /// The raw type section of this BTF (without its base's).
    pub(crate) fn own_types_bytes(&self) -> &[u8] {
        self.raw().get(self.types.clone()).unwrap_or_default()
    }

    /// Iterates over this BTF's own types (for split BTF, not the base's).
    pub fn own_types(&self) -> impl Iterator<Item = Result<BtfType<'_>, BtfError>> + '_ {
        (self.first_id..self.type_count()).map(move |id| self.type_by_id(id))
    }

    /// The type with id `id` (0 is `void`).
    pub fn type_by_id(&self, id: u32) -> Result<BtfType<'_>, BtfError> {
        if id == 0 {
            return Ok(BtfType {
                id,
                kind: BtfKind::Void,
                name_offset: 0,
                info: 0,
                size_or_type: 0,
                extra: &[],
                endian: self.endian,
            });
        }
        if id < self.first_id {
            if let Some(base) = &self.base {
                return base.type_by_id(id);
            }
        }
        let out_of_range = BtfError::TypeIdOutOfRange {
            id,
            max: self.type_count() - 1,
        };
        let offset = self.own_record_offset(id).ok_or(out_of_range)?;
        let record = self
            .raw()
            .get(offset..self.types.end)
            .ok_or(BtfError::TruncatedType { id })?;
        let (kind, len) = types::record_len(record, self.endian, id)?;
        let word = |i: usize| {
            self.endian
                .read_u32(record, i * 4)
                .ok_or(BtfError::TruncatedType { id })
        };
        Ok(BtfType {
            id,
            kind,
            name_offset: word(0)?,
            info: word(1)?,
            size_or_type: word(2)?,
            extra: record.get(12..len).ok_or(BtfError::TruncatedType { id })?,
            endian: self.endian,
        })
    }

    /// Iterates over all types in id order, starting at id 1.
    pub fn types(&self) -> impl Iterator<Item = Result<BtfType<'_>, BtfError>> + '_ {
        (1..self.type_count()).map(move |id| self.type_by_id(id))
    }

    /// The NUL-terminated string at `offset` in the string section.
    pub fn string_at(&self, offset: u32) -> Result<&str, BtfError> {
        let bad = BtfError::BadStringOffset { offset };
        let bytes = self.string_bytes_at(offset).ok_or(bad.clone())?;
        std::str::from_utf8(bytes).map_err(|_| bad)
    }

    /// The bytes of the NUL-terminated string at `offset` (without the NUL), looking in the base
    /// for split BTF.
    pub(crate) fn string_bytes_at(&self, offset: u32) -> Option<&[u8]> {
        if offset < self.first_string {
            return self.base.as_ref()?.string_bytes_at(offset);
        }
        let local = offset - self.first_string;
        let tail = self.own_strings().get(local as usize..)?;
        let end = tail.iter().position(|&b| b == 0)?;
        tail.get(..end)
    }

    /// Name of type `id` ("" for anonymous types and void).
    pub fn type_name(&self, id: u32) -> Result<&str, BtfError> {
        let ty = self.type_by_id(id)?;
        self.string_at(ty.name_offset)
    }

    /// Follows typedefs and modifiers (`const`, `volatile`, `restrict`, type tags) to the
    /// underlying type id.
    pub fn skip_mods_and_typedefs(&self, id: u32) -> Result<u32, BtfError> {
        let mut current = id;
        for _ in 0..MAX_RESOLVE_DEPTH {
            let ty = self.type_by_id(current)?;
            match ty.kind {
                BtfKind::Typedef
                | BtfKind::Volatile
                | BtfKind::Const
                | BtfKind::Restrict
                | BtfKind::TypeTag => {
                    current = ty.size_or_type;
                }
                _ => return Ok(current),
            }
        }
        Err(BtfError::ChainTooDeep { id })
    }

    /// Size in bytes of type `id`, following typedefs, modifiers, variables and arrays.
    pub fn resolve_size(&self, id: u32) -> Result<u64, BtfError> {
        let mut current = id;
        let mut multiplier: u64 = 1;
        for _ in 0..MAX_RESOLVE_DEPTH {
            let ty = self.type_by_id(current)?;
            match ty.kind {
                BtfKind::Int
                | BtfKind::Struct
                | BtfKind::Union
                | BtfKind::Enum
                | BtfKind::Enum64
                | BtfKind::Datasec
                | BtfKind::Float => {
                    return multiplier
                        .checked_mul(u64::from(ty.size_or_type))
                        .ok_or(BtfError::SizeOverflow { id });
                }
                // Pointers are 8 bytes on BPF.
                BtfKind::Ptr => {
                    return multiplier
                        .checked_mul(8)
                        .ok_or(BtfError::SizeOverflow { id })
                }
                BtfKind::Typedef
                | BtfKind::Volatile
                | BtfKind::Const
                | BtfKind::Restrict
                | BtfKind::TypeTag
                | BtfKind::Var
                | BtfKind::DeclTag => current = ty.size_or_type,
                BtfKind::Array => {
                    let array = ty.array().ok_or(BtfError::TruncatedType { id: current })?;
                    multiplier = multiplier
                        .checked_mul(u64::from(array.nelems))
                        .ok_or(BtfError::SizeOverflow { id })?;
                    current = array.element_type;
                }
                kind @ (BtfKind::Void | BtfKind::Fwd | BtfKind::Func | BtfKind::FuncProto) => {
                    return Err(BtfError::NoSize { id: current, kind });
                }
            }
        }
        Err(BtfError::ChainTooDeep { id })
    }

    /// First type with this name and kind (lowest id; for split BTF the base is searched
    /// first). Uses the name index, built on the first call.
    pub fn find_by_name_kind(&self, name: &str, kind: BtfKind) -> Option<u32> {
        if name.is_empty() {
            // Anonymous types are not indexed.
            return self
                .types()
                .flatten()
                .find_map(|ty| (ty.kind == kind && ty.name_offset == 0).then_some(ty.id));
        }
        if let Some(found) = self
            .base
            .as_ref()
            .and_then(|base| base.find_by_name_kind(name, kind))
        {
            return Some(found);
        }
        self.index_lookup(name, Some(kind))
    }

    /// First type with this name, any kind (lowest id; base first for split BTF).
    pub fn find_by_name(&self, name: &str) -> Option<u32> {
        if name.is_empty() {
            return None;
        }
        if let Some(found) = self.base.as_ref().and_then(|base| base.find_by_name(name)) {
            return Some(found);
        }
        self.index_lookup(name, None)
    }

    /// Members of the struct or union `id` (after skipping typedefs and modifiers).
    pub fn members(&self, id: u32) -> Result<Vec<BtfMember>, BtfError> {
        let resolved = self.skip_mods_and_typedefs(id)?;
        let ty = self.type_by_id(resolved)?;
        match ty.kind {
            BtfKind::Struct | BtfKind::Union => Ok(ty.members().collect()),
            kind => Err(BtfError::UnexpectedKind {
                id: resolved,
                kind,
                expected: "struct or union",
            }),
        }
    }

    /// Array details of type `id` (after skipping typedefs and modifiers).
    pub fn array_info(&self, id: u32) -> Result<ArrayInfo, BtfError> {
        let resolved = self.skip_mods_and_typedefs(id)?;
        let ty = self.type_by_id(resolved)?;
        ty.array().ok_or(BtfError::UnexpectedKind {
            id: resolved,
            kind: ty.kind,
            expected: "array",
        })
    }

    /// Variables of the `DATASEC` `id`.
    pub fn datasec_vars(&self, id: u32) -> Result<Vec<BtfVarSecinfo>, BtfError> {
        let ty = self.type_by_id(id)?;
        match ty.kind {
            BtfKind::Datasec => Ok(ty.datasec_vars().collect()),
            kind => Err(BtfError::UnexpectedKind {
                id,
                kind,
                expected: "datasec",
            }),
        }
    }
}

#[cfg(test)]
mod tests;
