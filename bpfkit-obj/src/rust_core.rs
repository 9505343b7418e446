//! CO-RE for Rust eBPF programs: the `.bpfkit.core` section and its resolution.
//!
//! rustc has no `preserve_access_index`, so a Rust object carries no `.BTF.ext` CO-RE records.
//! Instead `#[bpfkit_ebpf::kernel_struct]` gives every kernel field a Rust program uses a *slot*:
//! a `u64` in a table placed in `.rodata` (byte offset, existence, size, ...), read with a
//! volatile load. The loader writes each slot's value into `.rodata` before the map is created
//! and frozen, so the verifier sees constants: the access costs nothing at run time and branches
//! on absent fields are pruned.
//!
//! What each slot means is described in the section [`SECTION_NAME`], a concatenation of records
//! (one per `kernel_struct`, the linker appends them; zero bytes between records are padding):
//!
//! ```text
//! record  = magic "BKCO" | version u8 (2; 1 is read too) | flags u8 (0) | length u16 LE (whole record)
//!           | table_symbol str | type_name str | type_flags u8 (bit 0: union, bit 1: enum)
//!           | slot_count u8
//!           | slot * slot_count
//! slot    = kind u8 (libbpf's enum bpf_core_relo_kind) | flags u8 (bit 0: optional)
//!           | field str (empty for type-based kinds) | field_type u8 | elem_size u8 | count u16 LE
//! str     = length u8 | UTF-8 bytes
//! field   = path of the field from the start of the type: member names through embedded
//!           structs/unions, with array indexes: `pid`, `se.sum_exec_runtime`,
//!           `rlim[7].rlim_cur` (grammar: ident ('[' decimal ']')* ('.' ident ('[' decimal ']')*)*);
//!           for ENUMVAL kinds, the enumerator name
//! field_type: 0 none, 1 unsigned integer, 2 signed integer, 3 pointer, 4 array of unsigned
//!             integers, 5 array of signed integers (elem_size bytes each, count elements),
//!             6 enumerator (the `field` is its name; ENUMVAL kinds, enum records only),
//!             7 bool, 8 unsigned long (`usize`), 9 signed long (`isize`)
//! ```
//!
//! Version 2 added field paths, field types 7 to 9 and the TYPE_ID_TARGET kind; a version 1
//! record is a version 2 record without them, so both are read. Version 1 readers reject version
//! 2 records with a version error rather than a confusing "malformed" one.
//!
//! Slot `i` of a record lives at byte `8 * i` of the `.rodata` symbol `table_symbol`.
//!
//! Resolution reuses the C CO-RE engine unchanged: [`local_btf`] builds a small BTF holding, for
//! each record, a struct named `type_name` whose members are the described fields (integers of
//! the given size and signedness, pointers, arrays), with anonymous nested structs and arrays for
//! paths, and every slot becomes a [`CoreRelo`] with access string `0:<member>:<member>...`
//! (indexes of the path's steps in the local types, array indexes as is; `0` for type kinds).
//! [`CoreResolver`] then applies libbpf's rules: flavors (`task_struct___old`), field
//! compatibility, anonymous members of the target searched by name, existence, sizes,
//! signedness.
//!
//! TYPE_MATCHES uses a second local type of the same name, the *match view*: libbpf's type-match
//! rule compares names at every level (integers included), so its members are the record's
//! required top-level integer and integer-array members only, with C integer names (`u32` is
//! `unsigned int`, `u64` is `long long unsigned int`, `usize` is `long unsigned int`, `bool` is
//! `_Bool`, a byte array element is `char`, unsigned for `[u8; N]`, signed for `[i8; N]`; BTFs
//! disagree on the signedness of `char`: recent pahole encodes it unsigned, older amd64 BTFs
//! signed). Pointers, nested paths and optional fields are left out: the declaration names
//! neither the pointee nor the embedded types.
//!
//! TYPE_ID_LOCAL is not offered: the local BTF is synthetic, built at load time and never loaded
//! into the kernel, so its ids mean nothing to the program or to any helper.

use std::collections::HashMap;

use object::{Object as _, ObjectSection as _};

use crate::btf::builder::{BtfBuilder, MemberSpec};
use crate::btf::ext::CoreRelo;
use crate::btf::{Btf, BtfError, Endian};
use crate::core_relo::{CoreFailure, CoreOutcome, CoreReloKind, CoreResolver};
use crate::maps::MapKind;
use crate::Object;

/// Name of the ELF section describing the slots.
pub const SECTION_NAME: &str = ".bpfkit.core";
/// First bytes of every record.
pub const RECORD_MAGIC: [u8; 4] = *b"BKCO";
/// The format version the macro writes; version 1 (a subset) is read too.
pub const FORMAT_VERSION: u8 = 2;
/// Oldest format version this crate reads.
pub const MIN_FORMAT_VERSION: u8 = 1;
/// Most steps (member names and indexes) in a field path; libbpf's access strings stop at 64.
pub const MAX_PATH_STEPS: usize = 32;
/// Largest array index in a field path.
pub const MAX_PATH_INDEX: u32 = 65_535;
/// Size of a record's fixed header (magic, version, flags, length).
const HEADER_LEN: usize = 8;
/// Slot flag: an unresolvable slot is 0 instead of a load error.
pub const SLOT_OPTIONAL: u8 = 1;
/// Record type flag: the kernel type is a union.
pub const TYPE_UNION: u8 = 1;
/// Record type flag: the kernel type is an enum (its slots are enumerator values).
pub const TYPE_ENUM: u8 = 2;

/// Everything that can be wrong with a `.bpfkit.core` section or its resolution.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RustCoreError {
    /// The bytes end inside a record.
    #[error(".bpfkit.core: record at byte {offset} is truncated ({what})")]
    Truncated {
        /// Record start.
        offset: usize,
        /// The part that is missing.
        what: &'static str,
    },
    /// A record does not start with the magic bytes.
    #[error(".bpfkit.core: no record magic at byte {offset}")]
    BadMagic {
        /// Where a record was expected.
        offset: usize,
    },
    /// A record of a newer format.
    #[error(".bpfkit.core: record at byte {offset} has format version {version}, bpfkit reads versions {MIN_FORMAT_VERSION} to {FORMAT_VERSION}")]
    UnsupportedVersion {
        /// Record start.
        offset: usize,
        /// Its version.
        version: u8,
    },
    /// A field of a record holds an impossible value.
    #[error(".bpfkit.core: record at byte {offset}: {reason}")]
    Malformed {
        /// Record start.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// The ELF file could not be read to find the section.
    #[error("reading the ELF file for .bpfkit.core: {0}")]
    Elf(String),
    /// The synthetic local BTF could not be parsed back (a bug, reported rather than panicking).
    #[error("building the local BTF of the Rust CO-RE slots: {0}")]
    LocalBtf(#[from] BtfError),
    /// The CO-RE engine rejected a slot.
    #[error("CO-RE slot {path} ({kind}) of table `{table}`: {source}")]
    Resolve {
        /// Table symbol.
        table: String,
        /// `task_struct.pid`.
        path: String,
        /// Kind name.
        kind: &'static str,
        /// Why.
        source: Box<CoreFailure>,
    },
    /// A slot that is not optional has no match in the target BTF.
    #[error("CO-RE slot {path} ({kind}) cannot be resolved against the target BTF: {reason}; mark it #[optional] in the Rust declaration and guard it with its _exists() accessor if it may be absent")]
    Unresolved {
        /// `task_struct.pid`.
        path: String,
        /// Kind name.
        kind: &'static str,
        /// The engine's explanation.
        reason: String,
    },
    /// A field path of a record is not valid, or two fields use the same path (or a prefix of
    /// it) with different shapes, e.g. `se` as an integer and `se.vruntime`, or the same member
    /// with two types.
    #[error("Rust CO-RE type `{type_name}`: field path `{path}`: {reason}")]
    BadPath {
        /// Kernel type name.
        type_name: String,
        /// The path that does not fit.
        path: String,
        /// What clashes.
        reason: String,
    },
    /// The table symbol is not a `.rodata` global of the right size.
    #[error("CO-RE slot table `{table}`: {reason}")]
    Table {
        /// Table symbol.
        table: String,
        /// What is wrong.
        reason: String,
    },
}

/// The Rust type of a described field, as far as CO-RE compatibility checks care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// An integer of `size` bytes (`u8`..`u64`, `i8`..`i64`: C `char`, `short`, `int`,
    /// `long long`).
    Int {
        /// 1, 2, 4 or 8.
        size: u8,
        /// `i*` rather than `u*`.
        signed: bool,
    },
    /// `usize`/`isize`: C `long` (8 bytes), kept apart from `u64` only for TYPE_MATCHES, which
    /// compares C integer names.
    Long {
        /// `isize` rather than `usize`.
        signed: bool,
    },
    /// `bool` (C `_Bool`, one byte).
    Bool,
    /// A raw pointer (any pointee: libbpf only checks that both sides are pointers).
    Pointer,
    /// `[uN; count]` or `[iN; count]`.
    Array {
        /// Element size in bytes.
        elem_size: u8,
        /// Signed elements.
        signed: bool,
        /// Element count.
        count: u16,
    },
    /// An enumerator of an enum record.
    Enumerator,
}

impl FieldType {
    /// Integer-like (int, long, bool): what FIELD_SIGNED and bitfield shifts apply to.
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            FieldType::Int { .. } | FieldType::Long { .. } | FieldType::Bool
        )
    }
}

/// A field a slot refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDesc {
    /// Path of the field in the kernel type (`pid`, `se.sum_exec_runtime`, `rlim[7].rlim_cur`;
    /// see [`parse_path`]), or the enumerator name of an enum record.
    pub name: String,
    /// Its local type (for a path ending in an array index, the element's type).
    pub ty: FieldType,
}

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathStep {
    /// A named member of a struct or union (found in the target by name, through anonymous
    /// members as libbpf does).
    Member(String),
    /// An element of an array.
    Index(u32),
}

/// Parses a field path: `ident ('[' decimal ']')* ('.' ident ('[' decimal ']')*)*`, at most
/// [`MAX_PATH_STEPS`] steps, indexes up to [`MAX_PATH_INDEX`]. The error says what is wrong.
pub fn parse_path(text: &str) -> Result<Vec<PathStep>, String> {
    if text.is_empty() {
        return Err("empty field path".into());
    }
    let mut steps = Vec::new();
    for part in text.split('.') {
        let (name, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
        if !is_identifier(name) {
            return Err(format!(
                "`{name}` in field path `{text}` is not a member name"
            ));
        }
        steps.push(PathStep::Member(name.to_owned()));
        while !rest.is_empty() {
            let index = rest
                .strip_prefix('[')
                .and_then(|r| r.split_once(']'))
                .filter(|(digits, _)| {
                    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
                });
            let Some((digits, after)) = index else {
                return Err(format!(
                    "field path `{text}`: expected `[index]` after `{name}`"
                ));
            };
            let index = digits
                .parse::<u32>()
                .ok()
                .filter(|i| *i <= MAX_PATH_INDEX)
                .ok_or_else(|| {
                    format!("field path `{text}`: index {digits} is above {MAX_PATH_INDEX}")
                })?;
            steps.push(PathStep::Index(index));
            rest = after;
        }
    }
    if steps.len() > MAX_PATH_STEPS {
        return Err(format!(
            "field path `{text}` has more than {MAX_PATH_STEPS} steps"
        ));
    }
    Ok(steps)
}

/// One `u64` of a slot table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreSlot {
    /// What the value is.
    pub kind: CoreReloKind,
    /// 0 instead of an error when it cannot be resolved.
    pub optional: bool,
    /// The field, for field-based kinds.
    pub field: Option<FieldDesc>,
}

/// The slots of one `#[kernel_struct]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreRecord {
    /// Symbol of the `[u64; N]` table in `.rodata`.
    pub table_symbol: String,
    /// Kernel type name, flavor suffix allowed (`task_struct___old`).
    pub type_name: String,
    /// The kernel type is a union rather than a struct.
    pub is_union: bool,
    /// The kernel type is an enum; slots name enumerators.
    pub is_enum: bool,
    /// Slot `i` is the table's element `i`.
    pub slots: Vec<CoreSlot>,
}

impl CoreRecord {
    /// `type_name.field` (or `type_name`) of slot `index`, for messages.
    pub fn slot_path(&self, index: usize) -> String {
        match self.slots.get(index).and_then(|s| s.field.as_ref()) {
            Some(field) if field.ty == FieldType::Enumerator => {
                format!("{}::{}", self.type_name, field.name)
            }
            Some(field) => format!("{}.{}", self.type_name, field.name),
            None => self.type_name.clone(),
        }
    }

    /// Encodes the record as the macro does (used by tests and tools).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&RECORD_MAGIC);
        out.push(FORMAT_VERSION);
        out.push(0);
        out.extend_from_slice(&[0, 0]);
        push_str(&mut out, &self.table_symbol);
        push_str(&mut out, &self.type_name);
        out.push(
            if self.is_union { TYPE_UNION } else { 0 } | if self.is_enum { TYPE_ENUM } else { 0 },
        );
        out.push(u8::try_from(self.slots.len()).unwrap_or(u8::MAX));
        for slot in &self.slots {
            out.push(u8::try_from(slot.kind.to_raw()).unwrap_or(u8::MAX));
            out.push(if slot.optional { SLOT_OPTIONAL } else { 0 });
            let (name, ty, elem, count) = match &slot.field {
                None => ("", 0, 0, 0),
                Some(field) => match field.ty {
                    FieldType::Int { size, signed } => {
                        (field.name.as_str(), 1 + signed as u8, size, 0)
                    }
                    FieldType::Pointer => (field.name.as_str(), 3, 8, 0),
                    FieldType::Bool => (field.name.as_str(), 7, 1, 0),
                    FieldType::Long { signed } => (field.name.as_str(), 8 + signed as u8, 8, 0),
                    FieldType::Enumerator => (field.name.as_str(), 6, 0, 0),
                    FieldType::Array {
                        elem_size,
                        signed,
                        count,
                    } => (field.name.as_str(), 4 + signed as u8, elem_size, count),
                },
            };
            push_str(&mut out, name);
            out.push(ty);
            out.push(elem);
            out.extend_from_slice(&count.to_le_bytes());
        }
        let len = u16::try_from(out.len()).unwrap_or(u16::MAX).to_le_bytes();
        out[6] = len[0];
        out[7] = len[1];
        out
    }
}

fn push_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let len = bytes.len().min(usize::from(u8::MAX));
    out.push(len as u8);
    out.extend_from_slice(bytes.get(..len).unwrap_or_default());
}

/// A cursor over one record's bytes.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    record: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], RustCoreError> {
        let end = self.pos.checked_add(len);
        let bytes =
            end.and_then(|end| self.data.get(self.pos..end))
                .ok_or(RustCoreError::Truncated {
                    offset: self.record,
                    what,
                })?;
        self.pos += len;
        Ok(bytes)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, RustCoreError> {
        Ok(self.bytes(1, what)?.first().copied().unwrap_or(0))
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, RustCoreError> {
        let b = self.bytes(2, what)?;
        Ok(u16::from_le_bytes([
            b.first().copied().unwrap_or(0),
            b.get(1).copied().unwrap_or(0),
        ]))
    }

    fn str(&mut self, what: &'static str) -> Result<String, RustCoreError> {
        let len = self.u8(what)?;
        let bytes = self.bytes(usize::from(len), what)?;
        let text = std::str::from_utf8(bytes)
            .map_err(|_| self.malformed(format!("{what} is not UTF-8")))?;
        Ok(text.to_owned())
    }

    fn malformed(&self, reason: String) -> RustCoreError {
        RustCoreError::Malformed {
            offset: self.record,
            reason,
        }
    }
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Parses the contents of a `.bpfkit.core` section.
pub fn parse_section(data: &[u8]) -> Result<Vec<CoreRecord>, RustCoreError> {
    let mut records = Vec::new();
    let mut offset = 0usize;
    while offset < data.len() {
        if data.get(offset) == Some(&0) {
            offset += 1; // padding the linker may put between records
            continue;
        }
        let (record, len) = parse_record(data, offset)?;
        records.push(record);
        offset = offset.checked_add(len).ok_or(RustCoreError::Truncated {
            offset,
            what: "length",
        })?;
    }
    Ok(records)
}

fn parse_record(data: &[u8], offset: usize) -> Result<(CoreRecord, usize), RustCoreError> {
    let mut header = Reader {
        data,
        pos: offset,
        record: offset,
    };
    if header.bytes(4, "magic")? != RECORD_MAGIC {
        return Err(RustCoreError::BadMagic { offset });
    }
    let version = header.u8("version")?;
    if !(MIN_FORMAT_VERSION..=FORMAT_VERSION).contains(&version) {
        return Err(RustCoreError::UnsupportedVersion { offset, version });
    }
    if header.u8("flags")? != 0 {
        return Err(header.malformed("unknown record flags".into()));
    }
    let len = usize::from(header.u16("length")?);
    if len < HEADER_LEN {
        return Err(header.malformed(format!("record length {len} is shorter than its header")));
    }
    let body = offset
        .checked_add(len)
        .and_then(|end| data.get(..end))
        .ok_or(RustCoreError::Truncated {
            offset,
            what: "record body",
        })?;
    let mut r = Reader {
        data: body,
        pos: offset + HEADER_LEN,
        record: offset,
    };
    let table_symbol = r.str("table symbol")?;
    let type_name = r.str("type name")?;
    if !is_identifier(&table_symbol) || !is_identifier(&type_name) {
        return Err(r.malformed("table symbol and type name must be identifiers".into()));
    }
    let type_flags = r.u8("type flags")?;
    if type_flags & !(TYPE_UNION | TYPE_ENUM) != 0 || type_flags == TYPE_UNION | TYPE_ENUM {
        return Err(r.malformed(format!("bad type flags {type_flags:#x}")));
    }
    let is_enum = type_flags & TYPE_ENUM != 0;
    let slot_count = r.u8("slot count")?;
    let mut slots = Vec::with_capacity(usize::from(slot_count));
    for index in 0..slot_count {
        let raw_kind = r.u8("slot kind")?;
        let kind = CoreReloKind::from_raw(u32::from(raw_kind))
            .ok_or_else(|| r.malformed(format!("slot {index}: unknown kind {raw_kind}")))?;
        let flags = r.u8("slot flags")?;
        if flags & !SLOT_OPTIONAL != 0 {
            return Err(r.malformed(format!("slot {index}: unknown flags {flags:#x}")));
        }
        let name = r.str("field name")?;
        let ty = r.u8("field type")?;
        let elem_size = r.u8("field size")?;
        let count = r.u16("array length")?;
        let field_kind = matches!(
            kind,
            CoreReloKind::FieldByteOffset
                | CoreReloKind::FieldByteSize
                | CoreReloKind::FieldExists
                | CoreReloKind::FieldSigned
                | CoreReloKind::FieldLshiftU64
                | CoreReloKind::FieldRshiftU64
        );
        // TYPE_ID_LOCAL is refused: the local BTF is synthetic, its ids mean nothing.
        let type_kind = matches!(
            kind,
            CoreReloKind::TypeExists
                | CoreReloKind::TypeSize
                | CoreReloKind::TypeMatches
                | CoreReloKind::TypeIdTarget
        );
        let enumval_kind = matches!(
            kind,
            CoreReloKind::EnumvalExists | CoreReloKind::EnumvalValue
        );
        if (field_kind && is_enum) || (enumval_kind && !is_enum) {
            return Err(r.malformed(format!(
                "slot {index}: kind {} does not fit a {} record",
                kind.name(),
                if is_enum { "enum" } else { "struct or union" }
            )));
        }
        let field = if enumval_kind {
            if !is_identifier(&name) || ty != 6 || elem_size != 0 || count != 0 {
                return Err(r.malformed(format!(
                    "slot {index}: an enumerator slot needs an enumerator name and field type 6"
                )));
            }
            Some(FieldDesc {
                name,
                ty: FieldType::Enumerator,
            })
        } else if field_kind {
            let steps = parse_path(&name)
                .map_err(|reason| r.malformed(format!("slot {index}: {reason}")))?;
            let size_ok = matches!(elem_size, 1 | 2 | 4 | 8);
            let ty = match ty {
                1 | 2 if size_ok => FieldType::Int {
                    size: elem_size,
                    signed: ty == 2,
                },
                3 => FieldType::Pointer,
                7 if elem_size == 1 => FieldType::Bool,
                8 | 9 if elem_size == 8 => FieldType::Long { signed: ty == 9 },
                4 | 5 if size_ok && count > 0 => FieldType::Array {
                    elem_size,
                    signed: ty == 5,
                    count,
                },
                _ => {
                    return Err(r.malformed(format!(
                        "slot {index}: bad field type {ty} (size {elem_size}, count {count})"
                    )))
                }
            };
            // Signedness and shifts describe an integer member; libbpf has no value for them on an
            // array element (`a[1]`), so such a slot could never resolve.
            let ends_in_index = matches!(steps.last(), Some(PathStep::Index(_)));
            let integer_kind = matches!(
                kind,
                CoreReloKind::FieldSigned
                    | CoreReloKind::FieldLshiftU64
                    | CoreReloKind::FieldRshiftU64
            );
            if integer_kind && (ends_in_index || !ty.is_integer()) {
                return Err(r.malformed(format!(
                    "slot {index}: {} applies to an integer member, not to `{name}`",
                    kind.name()
                )));
            }
            Some(FieldDesc { name, ty })
        } else if type_kind {
            if !name.is_empty() || ty != 0 {
                return Err(r.malformed(format!("slot {index}: a type slot names no field")));
            }
            None
        } else {
            return Err(r.malformed(format!(
                "slot {index}: kind {} is not supported in Rust slots",
                kind.name()
            )));
        };
        slots.push(CoreSlot {
            kind,
            optional: flags & SLOT_OPTIONAL != 0,
            field,
        });
    }
    if r.pos != body.len() {
        return Err(r.malformed(format!("{} bytes after the last slot", body.len() - r.pos)));
    }
    Ok((
        CoreRecord {
            table_symbol,
            type_name,
            is_union: type_flags & TYPE_UNION != 0,
            is_enum,
            slots,
        },
        len,
    ))
}

/// Finds and parses the `.bpfkit.core` sections of an ELF object (the linker may keep one
/// section per record, all with this name); `Ok(None)` when it has none.
pub fn records_from_elf(elf: &[u8]) -> Result<Option<Vec<CoreRecord>>, RustCoreError> {
    let file = object::File::parse(elf).map_err(|e| RustCoreError::Elf(e.to_string()))?;
    let mut records: Option<Vec<CoreRecord>> = None;
    for section in file.sections() {
        if section.name().ok() != Some(SECTION_NAME) {
            continue;
        }
        let data = section
            .data()
            .map_err(|e| RustCoreError::Elf(e.to_string()))?;
        records
            .get_or_insert_with(Vec::new)
            .extend(parse_section(data)?);
    }
    Ok(records)
}

/// The local type at one position of a record's field tree.
#[derive(Clone, Debug, PartialEq, Eq)]
enum LocalType {
    /// Just created by a path step; the rest of the path says what it is.
    Pending,
    /// A declared field.
    Leaf(FieldType),
    /// An embedded struct (anonymous locally: only member names matter to field matching),
    /// members in first-use order.
    Composite(Vec<(String, LocalType)>),
    /// An array, long enough for the largest index used.
    Array { count: u32, elem: Box<LocalType> },
}

impl LocalType {
    /// The tree form of a declared field type: integer arrays are arrays of integer leaves, so
    /// that `comm: [u8; 16]` and `comm[0]: u8` describe the same member.
    fn of_field(ty: FieldType) -> LocalType {
        match ty {
            FieldType::Array {
                elem_size,
                signed,
                count,
            } => LocalType::Array {
                count: u32::from(count),
                elem: Box::new(LocalType::Leaf(FieldType::Int {
                    size: elem_size,
                    signed,
                })),
            },
            other => LocalType::Leaf(other),
        }
    }

    /// Puts `new` where `steps` lead from `self`, creating members and arrays on the way.
    fn insert(&mut self, steps: &[PathStep], new: &LocalType) -> Result<(), String> {
        match steps.split_first() {
            None => self.merge(new),
            Some((PathStep::Member(name), rest)) => {
                if *self == LocalType::Pending {
                    *self = LocalType::Composite(Vec::new());
                }
                let LocalType::Composite(members) = self else {
                    return Err(format!(
                        "`{name}` is a member of something declared as a field of its own"
                    ));
                };
                let at = match members.iter().position(|(n, _)| n == name) {
                    Some(at) => at,
                    None => {
                        members.push((name.clone(), LocalType::Pending));
                        members.len() - 1
                    }
                };
                match members.get_mut(at) {
                    Some((_, member)) => member.insert(rest, new),
                    None => Err("internal error: member vanished".into()),
                }
            }
            Some((PathStep::Index(index), rest)) => {
                if *self == LocalType::Pending {
                    *self = LocalType::Array {
                        count: 0,
                        elem: Box::new(LocalType::Pending),
                    };
                }
                let LocalType::Array { count, elem } = self else {
                    return Err(format!(
                        "`[{index}]` indexes something another field declares as no array"
                    ));
                };
                *count = (*count).max(index.saturating_add(1));
                elem.insert(rest, new)
            }
        }
    }

    /// Makes `self` also describe `new`: arrays keep the larger length, anything else must be
    /// equal.
    fn merge(&mut self, new: &LocalType) -> Result<(), String> {
        if *self == LocalType::Pending {
            *self = new.clone();
            return Ok(());
        }
        match (self, new) {
            (
                LocalType::Array { count, elem },
                LocalType::Array {
                    count: new_count,
                    elem: new_elem,
                },
            ) => {
                *count = (*count).max(*new_count);
                elem.merge(new_elem)
            }
            (old, new) if old == new => Ok(()),
            _ => Err("the same member is declared with two different types".into()),
        }
    }

    /// The access string of `steps` (`0:<member index>...`, array indexes as is).
    fn access(&self, steps: &[PathStep]) -> Option<String> {
        let mut out = String::from("0");
        let mut node = self;
        for step in steps {
            match (step, node) {
                (PathStep::Member(name), LocalType::Composite(members)) => {
                    let at = members.iter().position(|(n, _)| n == name)?;
                    out.push_str(&format!(":{at}"));
                    node = &members.get(at)?.1;
                }
                (PathStep::Index(index), LocalType::Array { elem, .. }) => {
                    out.push_str(&format!(":{index}"));
                    node = elem;
                }
                _ => return None,
            }
        }
        Some(out)
    }
}

/// Writes local types into a [`BtfBuilder`], sharing integer types.
struct Emitter {
    builder: BtfBuilder,
    ints: HashMap<&'static str, u32>,
}

/// BTF_INT_SIGNED / BTF_INT_BOOL encodings.
const INT_SIGNED: u8 = 1;
const INT_BOOL: u8 = 4;

impl Emitter {
    /// The C name, size and encoding of an integer field type, as GCC and pahole name them in
    /// kernel BTF (only TYPE_MATCHES looks at the names). A byte array element is `char`, the
    /// type of the kernel's strings, signed for `[i8; N]`.
    fn c_int(ty: FieldType, array_element: bool) -> Option<(&'static str, u32, u8)> {
        Some(match ty {
            FieldType::Bool => ("_Bool", 1, INT_BOOL),
            FieldType::Long { signed: false } => ("long unsigned int", 8, 0),
            FieldType::Long { signed: true } => ("long int", 8, INT_SIGNED),
            FieldType::Int { size, signed } => {
                let name = match (size, signed) {
                    (1, _) if array_element => "char",
                    (1, false) => "unsigned char",
                    (1, true) => "signed char",
                    (2, false) => "short unsigned int",
                    (2, true) => "short int",
                    (4, false) => "unsigned int",
                    (4, true) => "int",
                    (_, false) => "long long unsigned int",
                    (_, true) => "long long int",
                };
                (name, u32::from(size), if signed { INT_SIGNED } else { 0 })
            }
            _ => return None,
        })
    }

    fn int(&mut self, name: &'static str, size: u32, encoding: u8) -> u32 {
        let builder = &mut self.builder;
        *self
            .ints
            .entry(name)
            .or_insert_with(|| builder.add_int(name, size, encoding))
    }

    /// Adds `node` (and what it contains); returns its type id and byte size.
    fn emit(&mut self, node: &LocalType, array_element: bool) -> (u32, u32) {
        match node {
            // Never left in a finished tree; a byte keeps the BTF valid regardless.
            LocalType::Pending => (self.int("unsigned char", 1, 0), 1),
            LocalType::Leaf(ty) => match Self::c_int(*ty, array_element) {
                Some((name, size, encoding)) => (self.int(name, size, encoding), size),
                // Pointers: libbpf's field rules only check that both sides are pointers.
                None => (self.builder.add_ptr(0), 8),
            },
            LocalType::Composite(members) => {
                let (size, specs) = self.members(members, false);
                (self.builder.add_struct("", size, &specs), size)
            }
            LocalType::Array { count, elem } => {
                let (elem_id, elem_size) = self.emit(elem, true);
                let index = self.int("unsigned int", 4, 0);
                (
                    self.builder.add_array(elem_id, index, *count),
                    elem_size.saturating_mul(*count),
                )
            }
        }
    }

    /// Member specs laid out one after the other (8-byte aligned; the local offsets never
    /// reach the target side), or all at 0 for a union; returns the total size too.
    fn members(&mut self, members: &[(String, LocalType)], union: bool) -> (u32, Vec<MemberSpec>) {
        let mut specs = Vec::with_capacity(members.len());
        let mut offset = 0u32;
        for (name, ty) in members {
            let (type_id, size) = self.emit(ty, false);
            if union {
                specs.push(MemberSpec::new(name, type_id, 0));
                offset = offset.max(size);
            } else {
                specs.push(MemberSpec::new(name, type_id, offset));
                offset = offset.saturating_add(size.div_ceil(8).saturating_mul(8));
            }
        }
        (offset, specs)
    }
}

/// Whether a slot marks its field (or enumerator) `#[optional]`: existence slots are always
/// optional, so the other kinds tell.
fn field_is_optional(record: &CoreRecord, name: &str) -> bool {
    record.slots.iter().any(|slot| {
        slot.optional
            && !matches!(
                slot.kind,
                CoreReloKind::FieldExists | CoreReloKind::EnumvalExists
            )
            && slot.field.as_ref().is_some_and(|f| f.name == name)
    })
}

/// The synthetic local BTF of `records`, and per record the CO-RE relocation of each slot.
pub fn local_btf(records: &[CoreRecord]) -> Result<(Btf, Vec<Vec<CoreRelo>>), RustCoreError> {
    let mut emitter = Emitter {
        builder: BtfBuilder::new(),
        ints: HashMap::new(),
    };
    let mut relos = Vec::with_capacity(records.len());
    for record in records {
        let bad_path = |path: &str, reason: String| RustCoreError::BadPath {
            type_name: record.type_name.clone(),
            path: path.to_owned(),
            reason,
        };
        let mut accesses: Vec<String> = Vec::with_capacity(record.slots.len());
        let (type_id, match_id) = if record.is_enum {
            // Local values are the enumerators' positions; only their names matter to matching.
            let mut names: Vec<&str> = Vec::new();
            for slot in &record.slots {
                let access = match &slot.field {
                    Some(field) => {
                        let at = match names.iter().position(|n| *n == field.name) {
                            Some(at) => at,
                            None => {
                                names.push(&field.name);
                                names.len() - 1
                            }
                        };
                        // Enumerators are named by their index alone (libbpf's access strings).
                        at.to_string()
                    }
                    None => "0".to_owned(),
                };
                accesses.push(access);
            }
            let valued = |names: &[&str]| -> Vec<(String, i32)> {
                names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| ((*n).to_owned(), i32::try_from(i).unwrap_or(i32::MAX)))
                    .collect()
            };
            let all = valued(&names);
            let refs: Vec<(&str, i32)> = all.iter().map(|(n, v)| (n.as_str(), *v)).collect();
            let type_id = emitter.builder.add_enum(&record.type_name, 4, false, &refs);
            let required: Vec<&str> = names
                .iter()
                .copied()
                .filter(|n| !field_is_optional(record, n))
                .collect();
            let required = valued(&required);
            let refs: Vec<(&str, i32)> = required.iter().map(|(n, v)| (n.as_str(), *v)).collect();
            let match_id = emitter.builder.add_enum(&record.type_name, 4, false, &refs);
            (type_id, match_id)
        } else {
            let mut root = LocalType::Composite(Vec::new());
            let mut paths: Vec<Option<Vec<PathStep>>> = Vec::with_capacity(record.slots.len());
            for slot in &record.slots {
                let Some(field) = &slot.field else {
                    paths.push(None);
                    continue;
                };
                let steps = parse_path(&field.name).map_err(|e| bad_path(&field.name, e))?;
                root.insert(&steps, &LocalType::of_field(field.ty))
                    .map_err(|e| bad_path(&field.name, e))?;
                paths.push(Some(steps));
            }
            for (slot, steps) in record.slots.iter().zip(&paths) {
                let access = match (steps, &slot.field) {
                    (Some(steps), Some(field)) => root
                        .access(steps)
                        .ok_or_else(|| bad_path(&field.name, "not in the local type".into()))?,
                    _ => "0".to_owned(),
                };
                accesses.push(access);
            }
            let LocalType::Composite(members) = &root else {
                return Err(bad_path(&record.type_name, "root is not a struct".into()));
            };
            let (size, specs) = emitter.members(members, record.is_union);
            let add = |builder: &mut BtfBuilder, size: u32, specs: &[MemberSpec]| {
                if record.is_union {
                    builder.add_union(&record.type_name, size, specs)
                } else {
                    builder.add_struct(&record.type_name, size, specs)
                }
            };
            let type_id = add(&mut emitter.builder, size, &specs);
            // The match view: required top-level integers and integer arrays (see the module
            // documentation for why pointers and embedded types are left out).
            let optional_roots: Vec<&str> = record
                .slots
                .iter()
                .filter_map(|s| s.field.as_ref())
                .filter(|f| field_is_optional(record, &f.name))
                .filter_map(|f| f.name.split(['.', '[']).next())
                .collect();
            let is_int = |ty: &LocalType| matches!(ty, LocalType::Leaf(t) if t.is_integer());
            let matched: Vec<(String, LocalType)> = members
                .iter()
                .filter(|(name, ty)| {
                    !optional_roots.contains(&name.as_str())
                        && (is_int(ty)
                            || matches!(ty, LocalType::Array { elem, .. } if is_int(elem)))
                })
                .cloned()
                .collect();
            let (match_size, match_specs) = emitter.members(&matched, record.is_union);
            let match_id = add(&mut emitter.builder, match_size, &match_specs);
            (type_id, match_id)
        };
        let record_relos = record
            .slots
            .iter()
            .zip(accesses)
            .map(|(slot, access)| CoreRelo {
                insn: 0,
                type_id: if slot.kind == CoreReloKind::TypeMatches {
                    match_id
                } else {
                    type_id
                },
                access_str_off: emitter.builder.add_string(&access),
                kind: slot.kind.to_raw(),
            })
            .collect();
        relos.push(record_relos);
    }
    Ok((Btf::from_vec(emitter.builder.finish())?, relos))
}

/// One slot's resolved value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedSlot {
    /// Table symbol.
    pub table_symbol: String,
    /// Index in the table.
    pub index: usize,
    /// `task_struct.pid`.
    pub path: String,
    /// What the value is.
    pub kind: CoreReloKind,
    /// The value written into `.rodata`.
    pub value: u64,
    /// `false` when nothing in the target matched (the value is then 0).
    pub found: bool,
}

/// Resolves every slot of `records` against `targets` (vmlinux first, then modules, or one
/// user BTF), with libbpf's matching rules. A non-optional slot without a match is an error.
pub fn resolve(
    records: &[CoreRecord],
    targets: &[&Btf],
) -> Result<Vec<ResolvedSlot>, RustCoreError> {
    let (local, relos) = local_btf(records)?;
    let mut resolver = CoreResolver::new(&local, targets);
    let mut out = Vec::new();
    for (record, record_relos) in records.iter().zip(&relos) {
        for (index, (slot, relo)) in record.slots.iter().zip(record_relos).enumerate() {
            let path = record.slot_path(index);
            let resolution = resolver
                .resolve(relo)
                .map_err(|source| RustCoreError::Resolve {
                    table: record.table_symbol.clone(),
                    path: path.clone(),
                    kind: slot.kind.name(),
                    source: Box::new(source),
                })?;
            let (value, found) = match resolution.outcome {
                CoreOutcome::Relocated { value, target } => (value, target.is_some()),
                CoreOutcome::Poisoned { reason } => {
                    if !slot.optional {
                        return Err(RustCoreError::Unresolved {
                            path,
                            kind: slot.kind.name(),
                            reason,
                        });
                    }
                    (0, false)
                }
            };
            out.push(ResolvedSlot {
                table_symbol: record.table_symbol.clone(),
                index,
                path,
                kind: slot.kind,
                value,
                found,
            });
        }
    }
    Ok(out)
}

/// Writes resolved slot values into the initial data of the `.rodata` map holding each table.
pub fn apply(
    object: &mut Object,
    slots: &[ResolvedSlot],
    endian: Endian,
) -> Result<(), RustCoreError> {
    for slot in slots {
        let table_error = |reason: String| RustCoreError::Table {
            table: slot.table_symbol.clone(),
            reason,
        };
        let var = object
            .global_variable(&slot.table_symbol)
            .ok_or_else(|| table_error("no such global variable in the object".into()))?;
        let start = slot
            .index
            .checked_mul(8)
            .filter(|start| start + 8 <= var.size as usize)
            .ok_or_else(|| {
                table_error(format!(
                    "slot {} is beyond its {} bytes",
                    slot.index, var.size
                ))
            })?
            + var.offset as usize;
        let map = object
            .maps
            .get_mut(var.map_index)
            .ok_or_else(|| table_error("its map is missing".into()))?;
        if !matches!(map.kind, MapKind::Data(_)) || !map.name.starts_with(".rodata") {
            return Err(table_error(format!(
                "it is in `{}`, not in .rodata",
                map.name
            )));
        }
        let bytes = match endian {
            Endian::Little => slot.value.to_le_bytes(),
            Endian::Big => slot.value.to_be_bytes(),
        };
        map.initial_data
            .as_mut()
            .and_then(|data| data.get_mut(start..start + 8))
            .ok_or_else(|| table_error("outside the map's data".into()))?
            .copy_from_slice(&bytes);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btf::BtfKind;

    /// The committed Rust test program (`bpfkit/tests/rust-progs/src/bin/core_task.rs`), whose
    /// records the proc macro encoded.
    const CORE_TASK: &[u8] = include_bytes!("../../bpfkit/tests/objects/rust/core_task.bpf.o");

    fn records() -> Vec<CoreRecord> {
        records_from_elf(CORE_TASK)
            .expect("parsing .bpfkit.core")
            .expect("the object has the section")
    }

    fn value(slots: &[ResolvedSlot], path: &str, kind: CoreReloKind) -> u64 {
        slots
            .iter()
            .find(|s| s.path == path && s.kind == kind)
            .unwrap_or_else(|| panic!("no slot {path} {kind:?}"))
            .value
    }

    /// A target `task_struct` with the given members (name, byte offset, kind of type; for "bit",
    /// a one-bit bitfield at that bit offset), plus, unless listed, the embedded members the
    /// program reads by path (`se` with `sum_exec_runtime` and an anonymous union holding
    /// `vlag`, `loginuid` a typedef of an anonymous struct, `signal` pointing to a
    /// `signal_struct` with `rlim[16]`) at offsets from 0x400; no `pid_type`.
    fn target_builder(members: &[(&str, u32, &str)], size: u32) -> BtfBuilder {
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, 1);
        let long = b.add_int("unsigned long", 8, 0);
        let ch = b.add_int("char", 1, 0);
        let comm = b.add_array(ch, int, 16);
        let fwd = b.add_fwd("task_struct", false);
        let ptr = b.add_ptr(fwd);
        let uint = b.add_int("unsigned int", 4, 0);
        let ull = b.add_int("long long unsigned int", 8, 0);
        let sll = b.add_int("long long int", 8, 1);
        let u64_t = b.add_typedef("u64", ull);
        let s64_t = b.add_typedef("s64", sll);
        let lag = b.add_union(
            "",
            8,
            &[
                MemberSpec::new("vlag", s64_t, 0),
                MemberSpec::new("vprot", u64_t, 0),
            ],
        );
        let se = b.add_struct(
            "sched_entity",
            24,
            &[
                MemberSpec::new("exec_start", u64_t, 0),
                MemberSpec::new("sum_exec_runtime", u64_t, 8),
                MemberSpec::new("", lag, 16),
            ],
        );
        let uid_t = b.add_typedef("uid_t", uint);
        let kuid = b.add_struct("", 4, &[MemberSpec::new("val", uid_t, 0)]);
        let kuid_t = b.add_typedef("kuid_t", kuid);
        let rlimit = b.add_struct(
            "rlimit",
            16,
            &[
                MemberSpec::new("rlim_cur", long, 0),
                MemberSpec::new("rlim_max", long, 8),
            ],
        );
        let rlims = b.add_array(rlimit, int, 16);
        b.add_struct(
            "signal_struct",
            8 + 16 * 16,
            &[
                MemberSpec::new("nr_threads", int, 0),
                MemberSpec::new("rlim", rlims, 8),
            ],
        );
        let signal_fwd = b.add_fwd("signal_struct", false);
        let signal_ptr = b.add_ptr(signal_fwd);
        let mut specs: Vec<MemberSpec> = members
            .iter()
            .map(|(name, offset, ty)| {
                if *ty == "bit" {
                    // `offset` is a bit offset here.
                    return MemberSpec::bitfield(name, uint, *offset, 1);
                }
                let id = match *ty {
                    "int" => int,
                    "long" => long,
                    "ptr" => ptr,
                    "se" => se,
                    "kuid" => kuid_t,
                    "signal" => signal_ptr,
                    _ => comm,
                };
                MemberSpec::new(name, id, *offset)
            })
            .collect();
        for (name, offset, id) in [
            ("se", 0x400, se),
            ("loginuid", 0x418, kuid_t),
            ("signal", 0x420, signal_ptr),
        ] {
            if !members.iter().any(|m| m.0 == name) {
                specs.push(MemberSpec::new(name, id, offset));
            }
        }
        b.add_struct("task_struct", size, &specs);
        b
    }

    /// [`target_builder`] with a 4-byte `enum pid_type`.
    fn target(members: &[(&str, u32, &str)], size: u32) -> Btf {
        let mut b = target_builder(members, size);
        b.add_enum(
            "pid_type",
            4,
            false,
            &[
                ("PIDTYPE_PID", 0),
                ("PIDTYPE_TGID", 1),
                ("PIDTYPE_SID", 3),
                ("PIDTYPE_MAX", 4),
            ],
        );
        Btf::from_vec(b.finish()).expect("target BTF")
    }

    /// The members every test target has unless it says otherwise.
    const TASK: [(&str, u32, &str); 5] = [
        ("pid", 0, "int"),
        ("tgid", 4, "int"),
        ("real_parent", 8, "ptr"),
        ("comm", 16, "comm"),
        ("sched_reset_on_fork", 227, "bit"),
    ];

    #[test]
    fn the_macro_records_parse_and_encode_back_identically() {
        let records = records();
        assert_eq!(records.len(), 5);
        let by_name = |name: &str| {
            records
                .iter()
                .find(|r| r.type_name == name)
                .unwrap_or_else(|| panic!("no record for {name}"))
        };
        let task = by_name("task_struct");
        assert_eq!(task.table_symbol, "__bpfkit_core_TaskStruct");
        assert_eq!(task.type_name, "task_struct");
        assert!(!task.is_union);
        let kinds: Vec<CoreReloKind> = task.slots.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds[..4],
            [
                CoreReloKind::TypeExists,
                CoreReloKind::TypeSize,
                CoreReloKind::TypeIdTarget,
                CoreReloKind::TypeMatches
            ]
        );
        // The type slots, then (offset, exists, size) per field, signedness for integers,
        // and the left and right shifts of the bitfield: pid, tgid, real_parent,
        // sched_reset_on_fork, bpfkit_no_such_field, sum_exec_runtime, loginuid, vlag, signal.
        assert_eq!(task.slots.len(), 4 + 4 + 4 + 3 + 6 + 4 + 4 + 4 + 4 + 3);
        assert_eq!(task.slots[4].kind, CoreReloKind::FieldByteOffset);
        assert_eq!(
            task.slots[4].field,
            Some(FieldDesc {
                name: "pid".into(),
                ty: FieldType::Int {
                    size: 4,
                    signed: true
                }
            })
        );
        assert!(!task.slots[4].optional);
        assert_eq!(task.slots[7].kind, CoreReloKind::FieldSigned);
        assert_eq!(
            task.slots[12].field.as_ref().map(|f| f.ty),
            Some(FieldType::Pointer)
        );
        assert_eq!(task.slots[15].kind, CoreReloKind::FieldByteOffset);
        assert_eq!(task.slots[18].kind, CoreReloKind::FieldSigned);
        assert_eq!(task.slots[19].kind, CoreReloKind::FieldLshiftU64);
        assert_eq!(task.slots[20].kind, CoreReloKind::FieldRshiftU64);
        assert_eq!(
            task.slots[21].field.as_ref().map(|f| f.name.as_str()),
            Some("bpfkit_no_such_field")
        );
        assert!(task.slots[21].optional, "#[optional] field's offset");
        assert!(task.slots[23].optional, "#[optional] field's size");
        assert!(!task.slots[17].optional, "a required field's size");
        assert_eq!(task.slot_path(25), "task_struct.se.sum_exec_runtime");
        assert_eq!(task.slot_path(29), "task_struct.loginuid.val");
        assert_eq!(task.slot_path(33), "task_struct.se.vlag");
        let signal = by_name("signal_struct");
        assert_eq!(signal.slots.len(), 4 + 4);
        assert_eq!(signal.slot_path(4), "signal_struct.rlim[7].rlim_cur");
        assert_eq!(by_name("task_struct___old").type_name, "task_struct___old");
        assert_eq!(
            by_name("task_struct___old").slots[4]
                .field
                .as_ref()
                .map(|f| f.ty),
            Some(FieldType::Array {
                elem_size: 1,
                signed: false,
                count: 16
            })
        );
        let pid_type = by_name("pid_type");
        assert!(pid_type.is_enum && !pid_type.is_union);
        assert_eq!(pid_type.type_name, "pid_type");
        assert_eq!(pid_type.slots.len(), 4 + 2 * 4);
        assert_eq!(pid_type.slots[4].kind, CoreReloKind::EnumvalValue);
        assert_eq!(pid_type.slots[5].kind, CoreReloKind::EnumvalExists);
        assert_eq!(pid_type.slot_path(4), "pid_type::PIDTYPE_MAX");
        assert!(pid_type.slots[10].optional, "#[optional] enumerator");
        // The proc macro and this crate encode identically.
        let mut encoded = Vec::new();
        for record in &records {
            encoded.extend(record.encode());
        }
        assert_eq!(parse_section(&encoded).expect("re-parse"), records);
    }

    #[test]
    fn moved_fields_get_their_new_offsets() {
        let btf = target(
            &[
                ("comm", 0, "comm"),
                ("sched_reset_on_fork", 227, "bit"),
                ("tgid", 16, "int"),
                ("pid", 20, "int"),
                ("real_parent", 24, "ptr"),
            ],
            32,
        );
        let slots = resolve(&records(), &[&btf]).expect("resolving");
        assert_eq!(
            value(&slots, "task_struct.pid", CoreReloKind::FieldByteOffset),
            20
        );
        assert_eq!(
            value(&slots, "task_struct.tgid", CoreReloKind::FieldByteOffset),
            16
        );
        assert_eq!(
            value(
                &slots,
                "task_struct.real_parent",
                CoreReloKind::FieldByteOffset
            ),
            24
        );
        assert_eq!(
            value(
                &slots,
                "task_struct.real_parent",
                CoreReloKind::FieldByteSize
            ),
            8
        );
        assert_eq!(
            value(&slots, "task_struct.pid", CoreReloKind::FieldExists),
            1
        );
        assert_eq!(value(&slots, "task_struct", CoreReloKind::TypeSize), 32);
        // The one-bit field at bit 227 lives in the 4-byte unit at byte 28: shifting the
        // 64-bit container left by 60 then right by 63 leaves bit 3 of that unit.
        let bit = "task_struct.sched_reset_on_fork";
        assert_eq!(value(&slots, bit, CoreReloKind::FieldByteOffset), 28);
        assert_eq!(value(&slots, bit, CoreReloKind::FieldByteSize), 4);
        assert_eq!(value(&slots, bit, CoreReloKind::FieldLshiftU64), 60);
        assert_eq!(value(&slots, bit, CoreReloKind::FieldRshiftU64), 63);
        assert_eq!(value(&slots, "task_struct", CoreReloKind::TypeExists), 1);
        // The flavored record matches the same target type.
        assert_eq!(
            value(
                &slots,
                "task_struct___old.comm",
                CoreReloKind::FieldByteOffset
            ),
            0
        );
        assert_eq!(
            value(
                &slots,
                "task_struct___old.comm",
                CoreReloKind::FieldByteSize
            ),
            16
        );
        // Enumerators get the target's values, whatever their local positions.
        assert_eq!(
            value(&slots, "pid_type::PIDTYPE_MAX", CoreReloKind::EnumvalValue),
            4
        );
        assert_eq!(
            value(&slots, "pid_type::PIDTYPE_SID", CoreReloKind::EnumvalValue),
            3
        );
        assert_eq!(
            value(&slots, "pid_type::PIDTYPE_TGID", CoreReloKind::EnumvalValue),
            1
        );
        let none = "pid_type::PIDTYPE_BPFKIT_NONE";
        assert_eq!(value(&slots, none, CoreReloKind::EnumvalExists), 0);
        assert_eq!(value(&slots, none, CoreReloKind::EnumvalValue), 0);
    }

    #[test]
    fn an_absent_optional_field_resolves_to_zero_existence() {
        let btf = target(
            &[
                ("pid", 8, "int"),
                ("tgid", 12, "int"),
                ("real_parent", 16, "ptr"),
                ("comm", 24, "comm"),
                ("sched_reset_on_fork", 227, "bit"),
            ],
            40,
        );
        let slots = resolve(&records(), &[&btf]).expect("optional field absent");
        let path = "task_struct.bpfkit_no_such_field";
        assert_eq!(value(&slots, path, CoreReloKind::FieldExists), 0);
        assert_eq!(value(&slots, path, CoreReloKind::FieldByteOffset), 0);
        assert!(slots.iter().filter(|s| s.path == path).all(|s| !s.found));
        assert_eq!(
            value(&slots, "task_struct.pid", CoreReloKind::FieldByteOffset),
            8
        );
    }

    #[test]
    fn an_absent_required_field_is_an_error_naming_it() {
        let btf = target(
            &[
                ("tgid", 0, "int"),
                ("real_parent", 8, "ptr"),
                ("comm", 16, "comm"),
                ("sched_reset_on_fork", 227, "bit"),
            ],
            32,
        );
        match resolve(&records(), &[&btf]) {
            Err(RustCoreError::Unresolved { path, kind, .. }) => {
                assert_eq!(path, "task_struct.pid");
                assert_eq!(kind, CoreReloKind::FieldByteOffset.name());
            }
            other => panic!("expected Unresolved, got {other:?}"),
        }
    }

    #[test]
    fn an_absent_required_enumerator_is_an_error_naming_it() {
        let mut b = target_builder(&TASK, 48);
        // An enum64 pid_type without PIDTYPE_TGID: the kinds match (enum vs enum64), the
        // enumerator does not.
        b.add_enum64(
            "pid_type",
            8,
            false,
            &[("PIDTYPE_MAX", 4), ("PIDTYPE_SID", 3)],
        );
        let btf = Btf::from_vec(b.finish()).expect("target BTF");
        match resolve(&records(), &[&btf]) {
            Err(RustCoreError::Unresolved { path, .. }) => {
                assert_eq!(path, "pid_type::PIDTYPE_TGID")
            }
            other => panic!("expected Unresolved, got {other:?}"),
        }
    }

    #[test]
    fn an_incompatible_field_type_does_not_match() {
        // `real_parent` as an int: libbpf's field compatibility rejects a pointer against it.
        let btf = target(
            &[
                ("pid", 0, "int"),
                ("tgid", 4, "int"),
                ("real_parent", 8, "long"),
                ("comm", 16, "comm"),
                ("sched_reset_on_fork", 227, "bit"),
            ],
            32,
        );
        let err = resolve(&records(), &[&btf]).expect_err("pointer vs integer");
        assert!(err.to_string().contains("task_struct.real_parent"), "{err}");
    }

    #[test]
    fn apply_writes_little_endian_values_into_rodata() {
        let mut object = Object::parse(CORE_TASK).expect("object");
        let btf = target(
            &[
                ("pid", 0x5c8, "int"),
                ("tgid", 0x5cc, "int"),
                ("real_parent", 0x5d8, "ptr"),
                ("comm", 0x7a0, "comm"),
                ("sched_reset_on_fork", 227, "bit"),
            ],
            0x1000,
        );
        let slots = resolve(&records(), &[&btf]).expect("resolving");
        apply(&mut object, &slots, Endian::Little).expect("applying");
        let var = object
            .global_variable("__bpfkit_core_TaskStruct")
            .expect("table");
        let data = object.maps[var.map_index]
            .initial_data
            .as_ref()
            .expect("rodata data");
        let at = var.offset as usize + 4 * 8;
        assert_eq!(data[at..at + 8], 0x5c8u64.to_le_bytes());
        let at = var.offset as usize + 5 * 8;
        assert_eq!(data[at..at + 8], 1u64.to_le_bytes());
        // A slot index beyond its table is an error, not a panic.
        let mut bad = slots[0].clone();
        bad.index = 1000;
        assert!(matches!(
            apply(&mut object, &[bad], Endian::Little),
            Err(RustCoreError::Table { .. })
        ));
    }

    fn slot(kind: CoreReloKind, path: &str, ty: FieldType, optional: bool) -> CoreSlot {
        CoreSlot {
            kind,
            optional,
            field: Some(FieldDesc {
                name: path.into(),
                ty,
            }),
        }
    }

    fn type_slot(kind: CoreReloKind) -> CoreSlot {
        CoreSlot {
            kind,
            optional: true,
            field: None,
        }
    }

    fn record(type_name: &str, slots: Vec<CoreSlot>) -> CoreRecord {
        CoreRecord {
            table_symbol: format!("__bpfkit_core_{type_name}"),
            type_name: type_name.into(),
            is_union: false,
            is_enum: false,
            slots,
        }
    }

    const U64: FieldType = FieldType::Int {
        size: 8,
        signed: false,
    };

    #[test]
    fn nested_paths_resolve_through_embedded_structs_typedefs_and_arrays() {
        // `se` moved to 0x400 (sum_exec_runtime 8 bytes in), `loginuid` to 0x418, and
        // signal_struct's rlim array at 8 with 16-byte elements.
        let btf = target(&TASK, 0x428);
        let slots = resolve(&records(), &[&btf]).expect("resolving");
        let se = "task_struct.se.sum_exec_runtime";
        assert_eq!(value(&slots, se, CoreReloKind::FieldByteOffset), 0x408);
        assert_eq!(value(&slots, se, CoreReloKind::FieldByteSize), 8);
        assert_eq!(value(&slots, se, CoreReloKind::FieldExists), 1);
        let uid = "task_struct.loginuid.val";
        assert_eq!(value(&slots, uid, CoreReloKind::FieldByteOffset), 0x418);
        assert_eq!(value(&slots, uid, CoreReloKind::FieldByteSize), 4);
        let nofile = "signal_struct.rlim[7].rlim_cur";
        assert_eq!(
            value(&slots, nofile, CoreReloKind::FieldByteOffset),
            8 + 7 * 16
        );
        assert_eq!(value(&slots, nofile, CoreReloKind::FieldByteSize), 8);
        // `vlag` sits in an anonymous union of the target's sched_entity: found by name, as
        // libbpf searches anonymous members.
        let vlag = "task_struct.se.vlag";
        assert_eq!(value(&slots, vlag, CoreReloKind::FieldExists), 1);
        assert_eq!(value(&slots, vlag, CoreReloKind::FieldByteOffset), 0x410);
        // The whole local access: task_struct member `se` (index 5 locally: members in first-use
        // order) then member `vlag` (index 1 in the local anonymous struct of `se`).
        let (local, relos) = local_btf(&records()).expect("local BTF");
        let task = records()
            .iter()
            .position(|r| r.table_symbol == "__bpfkit_core_TaskStruct")
            .expect("task record");
        let relo = &relos[task][33];
        assert_eq!(
            local.string_at(relo.access_str_off).expect("access"),
            "0:5:1"
        );
    }

    #[test]
    fn a_nested_member_moves_with_its_renamed_embedded_type() {
        // The embedded type's name does not matter (only the root's does): a renamed
        // `sched_entity_v2` with sum_exec_runtime first, at another offset of task_struct.
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, 1);
        let ull = b.add_int("long long unsigned int", 8, 0);
        let se = b.add_struct(
            "sched_entity_v2",
            16,
            &[
                MemberSpec::new("sum_exec_runtime", ull, 0),
                MemberSpec::new("exec_start", ull, 8),
            ],
        );
        b.add_struct(
            "task_struct",
            64,
            &[
                MemberSpec::new("pid", int, 0),
                MemberSpec::new("se", se, 40),
            ],
        );
        let btf = Btf::from_vec(b.finish()).expect("target BTF");
        let rec = record(
            "task_struct",
            vec![
                slot(
                    CoreReloKind::FieldByteOffset,
                    "se.sum_exec_runtime",
                    U64,
                    false,
                ),
                slot(CoreReloKind::FieldSigned, "se.sum_exec_runtime", U64, false),
                slot(
                    CoreReloKind::FieldByteOffset,
                    "pid",
                    FieldType::Int {
                        size: 4,
                        signed: true,
                    },
                    false,
                ),
                slot(
                    CoreReloKind::FieldSigned,
                    "pid",
                    FieldType::Int {
                        size: 4,
                        signed: true,
                    },
                    false,
                ),
            ],
        );
        let slots = resolve(&[rec], &[&btf]).expect("resolving");
        assert_eq!(slots[0].value, 40);
        assert_eq!(slots[1].value, 0, "unsigned long long");
        assert_eq!(slots[2].value, 0);
        assert_eq!(slots[3].value, 1, "int is signed");
    }

    #[test]
    fn an_absent_nested_member_is_zero_when_optional_and_an_error_when_required() {
        let mut b = BtfBuilder::new();
        let ull = b.add_int("long long unsigned int", 8, 0);
        let se = b.add_struct("sched_entity", 8, &[MemberSpec::new("vruntime", ull, 0)]);
        b.add_struct("task_struct", 16, &[MemberSpec::new("se", se, 8)]);
        let btf = Btf::from_vec(b.finish()).expect("target BTF");
        let optional = record(
            "task_struct",
            vec![
                slot(CoreReloKind::FieldByteOffset, "se.vlag", U64, true),
                slot(CoreReloKind::FieldExists, "se.vlag", U64, true),
                slot(CoreReloKind::FieldByteOffset, "se.vruntime", U64, false),
            ],
        );
        let slots = resolve(&[optional], &[&btf]).expect("optional absent");
        assert_eq!((slots[0].value, slots[0].found), (0, false));
        assert_eq!(slots[1].value, 0);
        assert_eq!(slots[2].value, 8);
        let required = record(
            "task_struct",
            vec![slot(CoreReloKind::FieldByteOffset, "se.vlag", U64, false)],
        );
        match resolve(&[required], &[&btf]) {
            Err(RustCoreError::Unresolved { path, .. }) => assert_eq!(path, "task_struct.se.vlag"),
            other => panic!("expected Unresolved, got {other:?}"),
        }
        // A path through an integer, or indexing a struct, matches nothing.
        let through_int = record(
            "task_struct",
            vec![slot(CoreReloKind::FieldExists, "se.vruntime.x", U64, true)],
        );
        let mut past_array = record(
            "task_struct",
            vec![slot(CoreReloKind::FieldExists, "se[1].vruntime", U64, true)],
        );
        past_array.table_symbol.push_str("_2");
        let slots = resolve(&[through_int, past_array], &[&btf]).expect("existence slots");
        assert_eq!(slots[0].value, 0);
        assert_eq!(slots[1].value, 0);
    }

    #[test]
    fn signed_slots_follow_the_target_type_of_bitfields() {
        // Two 3-bit fields, a signed and an unsigned one, and a local declaration that has them
        // both unsigned: FIELD_SIGNED comes from the target, as BPF_CORE_READ_BITFIELD uses it.
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, 1);
        let uint = b.add_int("unsigned int", 4, 0);
        b.add_struct(
            "flags",
            4,
            &[
                MemberSpec::bitfield("level", int, 0, 3),
                MemberSpec::bitfield("mode", uint, 3, 3),
            ],
        );
        let btf = Btf::from_vec(b.finish()).expect("target BTF");
        let u32_ty = FieldType::Int {
            size: 4,
            signed: false,
        };
        let mut slots = Vec::new();
        for name in ["level", "mode"] {
            for kind in [
                CoreReloKind::FieldSigned,
                CoreReloKind::FieldLshiftU64,
                CoreReloKind::FieldRshiftU64,
            ] {
                slots.push(slot(kind, name, u32_ty, false));
            }
        }
        let resolved = resolve(&[record("flags", slots)], &[&btf]).expect("resolving");
        let values: Vec<u64> = resolved.iter().map(|s| s.value).collect();
        // level: bits 0..3 of the 4-byte unit -> << 61, >> 61; mode: bits 3..6 -> << 58, >> 61.
        assert_eq!(values, [1, 61, 61, 0, 58, 61]);
        // What read_bitfield does with them: -3 stored in `level` reads back as -3.
        let unit: u64 = 0b101 | (0b110 << 3);
        let level = ((unit << values[1]) as i64 >> values[2]) as i32;
        let mode = (unit << values[4]) >> values[5];
        assert_eq!((level, mode), (-3, 6));
    }

    #[test]
    fn type_id_target_is_the_kernel_id_and_zero_when_absent() {
        let btf = target(&TASK, 0x428);
        let slots = resolve(&records(), &[&btf]).expect("resolving");
        let task_id = btf
            .find_by_name_kind("task_struct", BtfKind::Struct)
            .expect("task_struct");
        assert_eq!(
            value(&slots, "task_struct", CoreReloKind::TypeIdTarget),
            u64::from(task_id)
        );
        let pid_type = btf
            .find_by_name_kind("pid_type", BtfKind::Enum)
            .expect("pid_type");
        assert_eq!(
            value(&slots, "pid_type", CoreReloKind::TypeIdTarget),
            u64::from(pid_type)
        );
        let absent = record("no_such_type", vec![type_slot(CoreReloKind::TypeIdTarget)]);
        let slots = resolve(&[absent], &[&btf]).expect("resolving");
        assert_eq!((slots[0].value, slots[0].found), (0, false));
    }

    #[test]
    fn type_matches_compares_the_declared_integer_members() {
        let btf = target(&TASK, 0x428);
        let slots = resolve(&records(), &[&btf]).expect("resolving");
        let matches = |table: &str| {
            slots
                .iter()
                .find(|s| s.table_symbol == table && s.kind == CoreReloKind::TypeMatches)
                .expect("type-matches slot")
                .value
        };
        // pid and tgid are `int`, sched_reset_on_fork `unsigned int` (a bitfield of it); the
        // pointers, paths and the optional field are not part of the match view.
        assert_eq!(matches("__bpfkit_core_TaskStruct"), 1);
        assert_eq!(
            matches("__bpfkit_core_TaskStructOld"),
            1,
            "u8 array is char[16]"
        );
        assert_eq!(
            matches("__bpfkit_core_PidType"),
            1,
            "optional enumerator left out"
        );
        assert_eq!(matches("__bpfkit_core_TaskStructWrong"), 0, "pid is no u64");
        // Field slots of the mismatching declaration still resolve: field rules ignore sizes.
        assert_eq!(
            value(&slots, "task_struct___wrong.pid", CoreReloKind::FieldExists),
            1
        );
        // Signedness matters too: `tgid: u32` does not match the target's `int tgid`.
        let mut b = target_builder(&TASK[1..], 0x428);
        b.add_enum(
            "pid_type",
            4,
            false,
            &[("PIDTYPE_TGID", 1), ("PIDTYPE_SID", 3), ("PIDTYPE_MAX", 4)],
        );
        let btf = Btf::from_vec(b.finish()).expect("target");
        let rec = record(
            "task_struct",
            vec![
                type_slot(CoreReloKind::TypeMatches),
                slot(
                    CoreReloKind::FieldExists,
                    "tgid",
                    FieldType::Int {
                        size: 4,
                        signed: false,
                    },
                    true,
                ),
            ],
        );
        let slots = resolve(&[rec], &[&btf]).expect("resolving");
        assert_eq!(slots[0].value, 0, "tgid is int, not unsigned int");
        assert_eq!(slots[1].value, 1, "but the field exists");
        // usize is C `unsigned long`, u64 `unsigned long long`.
        let mut b = BtfBuilder::new();
        let ul = b.add_int("long unsigned int", 8, 0);
        b.add_struct("thread_info", 8, &[MemberSpec::new("flags", ul, 0)]);
        let btf = Btf::from_vec(b.finish()).expect("target");
        for (ty, expected) in [(FieldType::Long { signed: false }, 1), (U64, 0)] {
            let rec = record(
                "thread_info",
                vec![
                    type_slot(CoreReloKind::TypeMatches),
                    slot(CoreReloKind::FieldByteOffset, "flags", ty, false),
                ],
            );
            let slots = resolve(&[rec], &[&btf]).expect("resolving");
            assert_eq!(slots[0].value, expected, "{ty:?}");
        }
    }

    #[test]
    fn flavored_enums_resolve_their_enumerators() {
        let btf = target(&TASK, 0x428);
        let mut rec = record(
            "pid_type___v2",
            vec![
                type_slot(CoreReloKind::TypeExists),
                slot(
                    CoreReloKind::EnumvalValue,
                    "PIDTYPE_SID",
                    FieldType::Enumerator,
                    false,
                ),
                slot(
                    CoreReloKind::EnumvalExists,
                    "PIDTYPE_NOPE",
                    FieldType::Enumerator,
                    true,
                ),
            ],
        );
        rec.is_enum = true;
        let slots = resolve(&[rec.clone()], &[&btf]).expect("resolving");
        assert_eq!(slots.iter().map(|s| s.value).collect::<Vec<_>>(), [1, 3, 0]);
        assert_eq!(parse_section(&rec.encode()).expect("round trip"), [rec]);
    }

    #[test]
    fn bad_paths_are_typed_errors() {
        for bad in [
            "",
            ".",
            "a.",
            ".a",
            "a..b",
            "1a",
            "a[",
            "a[]",
            "a[x]",
            "a[1",
            "a]",
            "a[1]b",
            "a[99999999999]",
            "a[65536]",
            "a-b",
            "a b",
            "é",
        ] {
            assert!(parse_path(bad).is_err(), "{bad:?} parsed");
            let rec = record(
                "t",
                vec![slot(CoreReloKind::FieldByteOffset, bad, U64, false)],
            );
            assert!(
                matches!(
                    parse_section(&rec.encode()),
                    Err(RustCoreError::Malformed { .. }) | Err(RustCoreError::Truncated { .. })
                ),
                "{bad:?}"
            );
            assert!(matches!(
                local_btf(&[rec]),
                Err(RustCoreError::BadPath { .. })
            ));
        }
        assert_eq!(
            parse_path("rlim[7].rlim_cur").expect("path"),
            [
                PathStep::Member("rlim".into()),
                PathStep::Index(7),
                PathStep::Member("rlim_cur".into())
            ]
        );
        assert!(parse_path(&vec!["a"; 33].join(".")).is_err(), "too deep");
        // Huge and deep local arrays: sizes saturate, the engine reports overflows; no panic.
        let deep = (0..8).map(|_| "a[65535]").collect::<Vec<_>>().join(".");
        for path in ["a[65535][65535][65535][65535][65535].b", deep.as_str()] {
            let rec = record(
                "task_struct",
                vec![slot(CoreReloKind::FieldByteOffset, path, U64, true)],
            );
            let parsed = parse_section(&rec.encode()).expect("valid path");
            let _ = resolve(&parsed, &[&target(&TASK, 64)]);
        }
        // Signedness and shifts do not apply to array elements.
        let rec = record(
            "t",
            vec![slot(CoreReloKind::FieldSigned, "bits[0]", U64, false)],
        );
        assert!(matches!(
            parse_section(&rec.encode()),
            Err(RustCoreError::Malformed { .. })
        ));
        // Two shapes for one member.
        for (a, b) in [
            ("se", "se.x"),
            ("se.x", "se"),
            ("a[1]", "a.b"),
            ("a", "a[0]"),
        ] {
            let rec = record(
                "t",
                vec![
                    slot(CoreReloKind::FieldByteOffset, a, U64, false),
                    slot(CoreReloKind::FieldByteOffset, b, U64, false),
                ],
            );
            assert!(
                matches!(local_btf(&[rec]), Err(RustCoreError::BadPath { .. })),
                "{a} and {b}"
            );
        }
        // One member declared as an array and by element: the same local array.
        let rec = record(
            "t",
            vec![
                slot(
                    CoreReloKind::FieldByteOffset,
                    "comm",
                    FieldType::Array {
                        elem_size: 1,
                        signed: false,
                        count: 16,
                    },
                    false,
                ),
                slot(
                    CoreReloKind::FieldByteOffset,
                    "comm[3]",
                    FieldType::Int {
                        size: 1,
                        signed: false,
                    },
                    false,
                ),
            ],
        );
        let (local, relos) = local_btf(&[rec]).expect("one array");
        assert_eq!(
            local.string_at(relos[0][1].access_str_off).expect("access"),
            "0:0:3"
        );
    }

    fn committed_kernel(name: &str) -> Option<Btf> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("tests/kernels/{name}.btf.gz"));
        match std::process::Command::new("gzip")
            .arg("-dc")
            .arg(&path)
            .output()
        {
            Ok(output) if output.status.success() => {
                Some(Btf::from_vec(output.stdout).expect("kernel BTF"))
            }
            other => {
                println!("skipped: {name}: gzip -dc failed: {other:?}");
                None
            }
        }
    }

    #[test]
    fn the_slots_resolve_against_debian_6_1_kernels() {
        for name in ["debian-6.1.0-56-amd64", "debian-6.1.0-56-arm64"] {
            let Some(btf) = committed_kernel(name) else {
                continue;
            };
            let slots = resolve(&records(), &[&btf]).unwrap_or_else(|e| panic!("{name}: {e}"));
            let task = btf
                .find_by_name_kind("task_struct", BtfKind::Struct)
                .expect("task_struct");
            let offset_of = |field: &str| -> u64 {
                let member = btf
                    .members(task)
                    .expect("members")
                    .into_iter()
                    .find(|m| btf.string_at(m.name_offset).ok() == Some(field))
                    .unwrap_or_else(|| panic!("{name}: no {field}"));
                u64::from(member.bit_offset / 8)
            };
            for field in ["pid", "tgid", "real_parent"] {
                let path = format!("task_struct.{field}");
                assert_eq!(
                    value(&slots, &path, CoreReloKind::FieldByteOffset),
                    offset_of(field),
                    "{name} {field}"
                );
                assert_eq!(value(&slots, &path, CoreReloKind::FieldExists), 1);
            }
            assert_eq!(
                value(
                    &slots,
                    "task_struct___old.comm",
                    CoreReloKind::FieldByteOffset
                ),
                offset_of("comm")
            );
            assert_eq!(
                value(
                    &slots,
                    "task_struct.bpfkit_no_such_field",
                    CoreReloKind::FieldExists
                ),
                0
            );
            assert_eq!(
                value(&slots, "task_struct", CoreReloKind::TypeSize),
                btf.resolve_size(task).expect("size")
            );
            // The one-bit field, from its bit offset: the 4-byte unit holding it, and the shifts
            // that bring its bit to the top of a u64 then down to bit 0.
            let bit_offset = btf
                .members(task)
                .expect("members")
                .into_iter()
                .find(|m| btf.string_at(m.name_offset).ok() == Some("sched_reset_on_fork"))
                .map(|m| u64::from(m.bit_offset))
                .expect("sched_reset_on_fork");
            let unit = bit_offset / 32 * 4;
            let bit = "task_struct.sched_reset_on_fork";
            assert_eq!(
                value(&slots, bit, CoreReloKind::FieldByteOffset),
                unit,
                "{name}"
            );
            assert_eq!(value(&slots, bit, CoreReloKind::FieldByteSize), 4);
            assert_eq!(
                value(&slots, bit, CoreReloKind::FieldLshiftU64),
                64 - (bit_offset + 1 - unit * 8)
            );
            assert_eq!(value(&slots, bit, CoreReloKind::FieldRshiftU64), 63);
            assert_eq!(
                value(&slots, bit, CoreReloKind::FieldSigned),
                0,
                "unsigned:1"
            );
            // Nested paths: the embedded member's offset plus the inner one.
            let member = |ty: u32, field: &str| {
                btf.members(ty)
                    .expect("members")
                    .into_iter()
                    .find(|m| btf.string_at(m.name_offset).ok() == Some(field))
                    .unwrap_or_else(|| panic!("{name}: no {field}"))
            };
            let se = btf
                .find_by_name_kind("sched_entity", BtfKind::Struct)
                .expect("sched_entity");
            let se_sum = offset_of("se") + u64::from(member(se, "sum_exec_runtime").bit_offset / 8);
            let path = "task_struct.se.sum_exec_runtime";
            assert_eq!(
                value(&slots, path, CoreReloKind::FieldByteOffset),
                se_sum,
                "{name}"
            );
            assert_eq!(value(&slots, path, CoreReloKind::FieldSigned), 0, "u64");
            assert_eq!(
                value(&slots, "task_struct.pid", CoreReloKind::FieldSigned),
                1,
                "pid_t"
            );
            assert_eq!(
                value(
                    &slots,
                    "task_struct.loginuid.val",
                    CoreReloKind::FieldByteOffset
                ),
                offset_of("loginuid"),
                "val is the only member of kuid_t"
            );
            // 6.1 predates EEVDF: no `vlag`, and the slot is optional.
            assert_eq!(
                value(&slots, "task_struct.se.vlag", CoreReloKind::FieldExists),
                0
            );
            let signal = btf
                .find_by_name_kind("signal_struct", BtfKind::Struct)
                .expect("signal_struct");
            let rlim = u64::from(member(signal, "rlim").bit_offset / 8);
            assert_eq!(
                value(
                    &slots,
                    "signal_struct.rlim[7].rlim_cur",
                    CoreReloKind::FieldByteOffset
                ),
                rlim + 7 * 16,
                "{name}"
            );
            assert_eq!(
                value(&slots, "task_struct", CoreReloKind::TypeIdTarget),
                u64::from(task)
            );
            let type_matches = |table: &str| {
                slots
                    .iter()
                    .find(|s| s.table_symbol == table && s.kind == CoreReloKind::TypeMatches)
                    .expect("type-matches slot")
                    .value
            };
            assert_eq!(type_matches("__bpfkit_core_TaskStruct"), 1, "{name}");
            // `comm: [u8; 16]` is an unsigned `char[16]`: older amd64 BTFs encode `char` signed.
            let char_id = btf.find_by_name_kind("char", BtfKind::Int).expect("char");
            let char_signed = btf
                .type_by_id(char_id)
                .expect("char")
                .int_info()
                .is_some_and(|i| i.encoding & 1 != 0);
            assert_eq!(
                type_matches("__bpfkit_core_TaskStructOld"),
                u64::from(!char_signed),
                "{name}"
            );
            assert_eq!(type_matches("__bpfkit_core_PidType"), 1, "{name}");
            assert_eq!(type_matches("__bpfkit_core_TaskStructWrong"), 0, "{name}");
        }
    }

    #[test]
    fn malformed_sections_are_typed_errors() {
        let good: Vec<u8> = records().iter().flat_map(CoreRecord::encode).collect();
        assert!(matches!(
            parse_section(b"XXXX"),
            Err(RustCoreError::BadMagic { offset: 0 })
        ));
        let mut newer = good.clone();
        newer[4] = FORMAT_VERSION + 1;
        assert!(matches!(
            parse_section(&newer),
            Err(RustCoreError::UnsupportedVersion { version: 3, .. })
        ));
        newer[4] = 0;
        assert!(matches!(
            parse_section(&newer),
            Err(RustCoreError::UnsupportedVersion { version: 0, .. })
        ));
        assert!(matches!(
            parse_section(&good[..good.len() - 1]),
            Err(RustCoreError::Truncated { .. })
        ));
        let mut bad_kind = records()[0].clone();
        bad_kind.slots[0].kind = CoreReloKind::EnumvalValue;
        assert!(matches!(
            parse_section(&bad_kind.encode()),
            Err(RustCoreError::Malformed { .. })
        ));
        // Zero padding between records is accepted.
        let mut padded = records()[0].encode();
        padded.extend([0, 0, 0]);
        padded.extend(records()[1].encode());
        assert_eq!(parse_section(&padded).expect("padded").len(), 2);
    }

    /// Every single-byte mutation, truncation and extension of a valid section parses or fails
    /// with an error, never panics; whatever parses also resolves without panicking.
    #[test]
    fn mutated_sections_never_panic() {
        let good: Vec<u8> = records().iter().flat_map(CoreRecord::encode).collect();
        let btf = target(
            &[
                ("pid", 0, "int"),
                ("tgid", 4, "int"),
                ("real_parent", 8, "ptr"),
                ("comm", 16, "comm"),
                ("sched_reset_on_fork", 227, "bit"),
            ],
            32,
        );
        let mut parsed = 0;
        for index in 0..good.len() {
            for replacement in [
                0u8,
                1,
                2,
                3,
                4,
                5,
                8,
                9,
                0x7f,
                0x80,
                0xff,
                good[index] ^ 0x10,
            ] {
                let mut mutated = good.clone();
                mutated[index] = replacement;
                if let Ok(records) = parse_section(&mutated) {
                    parsed += 1;
                    let _ = resolve(&records, &[&btf]);
                }
            }
            let _ = parse_section(&good[..index]);
        }
        let mut longer = good.clone();
        longer.extend(b"BKCO\x01\x00\xff\xff");
        assert!(parse_section(&longer).is_err());
        assert!(
            parsed > 0,
            "some mutations (e.g. of name characters) still parse"
        );
    }
}
