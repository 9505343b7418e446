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
//! record  = magic "BKCO" | version u8 (1) | flags u8 (0) | length u16 LE (whole record)
//!           | table_symbol str | type_name str | type_flags u8 (bit 0: union, bit 1: enum)
//!           | slot_count u8
//!           | slot * slot_count
//! slot    = kind u8 (libbpf's enum bpf_core_relo_kind) | flags u8 (bit 0: optional)
//!           | field str (empty for type-based kinds) | field_type u8 | elem_size u8 | count u16 LE
//! str     = length u8 | UTF-8 bytes
//! field_type: 0 none, 1 unsigned integer, 2 signed integer, 3 pointer, 4 array of unsigned
//!             integers, 5 array of signed integers (elem_size bytes each, count elements),
//!             6 enumerator (the `field` is its name; ENUMVAL kinds, enum records only)
//! ```
//!
//! Slot `i` of a record lives at byte `8 * i` of the `.rodata` symbol `table_symbol`.
//!
//! Resolution reuses the C CO-RE engine unchanged: [`local_btf`] builds a small BTF holding, for
//! each record, a struct named `type_name` whose members are the described fields (integers of
//! the given size and signedness, pointers, arrays), and every slot becomes a [`CoreRelo`] with
//! access string `0:<member>` (or `0` for type kinds). [`CoreResolver`] then applies libbpf's
//! rules: flavors (`task_struct___old`), field compatibility, existence, sizes, signedness.

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
/// The only format version this crate reads and the macro writes.
pub const FORMAT_VERSION: u8 = 1;
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
    #[error(".bpfkit.core: record at byte {offset} has format version {version}, bpfkit reads version {FORMAT_VERSION}")]
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
    /// An integer of `size` bytes.
    Int {
        /// 1, 2, 4 or 8.
        size: u8,
        /// `i*` rather than `u*`.
        signed: bool,
    },
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

/// A field a slot refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDesc {
    /// Member name in the kernel type.
    pub name: String,
    /// Its local type.
    pub ty: FieldType,
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
    if version != FORMAT_VERSION {
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
        let type_kind = matches!(
            kind,
            CoreReloKind::TypeExists | CoreReloKind::TypeSize | CoreReloKind::TypeMatches
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
            if !is_identifier(&name) {
                return Err(r.malformed(format!(
                    "slot {index}: field name {name:?} is not an identifier"
                )));
            }
            let size_ok = matches!(elem_size, 1 | 2 | 4 | 8);
            let ty = match ty {
                1 | 2 if size_ok => FieldType::Int {
                    size: elem_size,
                    signed: ty == 2,
                },
                3 => FieldType::Pointer,
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

/// The synthetic local BTF of `records`, and per record the CO-RE relocation of each slot.
pub fn local_btf(records: &[CoreRecord]) -> Result<(Btf, Vec<Vec<CoreRelo>>), RustCoreError> {
    let mut builder = BtfBuilder::new();
    let mut int_types: HashMap<(u8, bool), u32> = HashMap::new();
    let mut int_type = |builder: &mut BtfBuilder, size: u8, signed: bool| -> u32 {
        *int_types.entry((size, signed)).or_insert_with(|| {
            let name = format!("{}{}", if signed { "i" } else { "u" }, u32::from(size) * 8);
            builder.add_int(&name, u32::from(size), if signed { 1 } else { 0 })
        })
    };
    let mut relos = Vec::with_capacity(records.len());
    for record in records {
        // Members in first-use order; offsets are irrelevant to the target side, but must be valid.
        let mut members: Vec<(&str, FieldType)> = Vec::new();
        for slot in &record.slots {
            if let Some(field) = &slot.field {
                if !members.iter().any(|(name, _)| *name == field.name) {
                    members.push((&field.name, field.ty));
                }
            }
        }
        if record.is_enum {
            // Local values are the enumerators' positions; only their names matter to matching.
            let enumerators: Vec<(&str, i32)> = members
                .iter()
                .enumerate()
                .map(|(index, (name, _))| (*name, i32::try_from(index).unwrap_or(i32::MAX)))
                .collect();
            let type_id = builder.add_enum(&record.type_name, 4, false, &enumerators);
            relos.push(slot_relos(&mut builder, record, &members, type_id));
            continue;
        }
        let mut specs = Vec::with_capacity(members.len());
        let mut offset = 0u32;
        for (name, ty) in &members {
            let (type_id, size) = match *ty {
                FieldType::Int { size, signed } => {
                    (int_type(&mut builder, size, signed), u32::from(size))
                }
                FieldType::Pointer | FieldType::Enumerator => (builder.add_ptr(0), 8),
                FieldType::Array {
                    elem_size,
                    signed,
                    count,
                } => {
                    let elem = int_type(&mut builder, elem_size, signed);
                    let index = int_type(&mut builder, 4, false);
                    (
                        builder.add_array(elem, index, u32::from(count)),
                        u32::from(elem_size) * u32::from(count),
                    )
                }
            };
            if record.is_union {
                specs.push(MemberSpec::new(name, type_id, 0));
                offset = offset.max(size);
            } else {
                specs.push(MemberSpec::new(name, type_id, offset));
                offset = offset.saturating_add(size.div_ceil(8) * 8);
            }
        }
        let type_id = if record.is_union {
            builder.add_union(&record.type_name, offset, &specs)
        } else {
            builder.add_struct(&record.type_name, offset, &specs)
        };
        relos.push(slot_relos(&mut builder, record, &members, type_id));
    }
    Ok((Btf::from_vec(builder.finish())?, relos))
}

/// The CO-RE relocation of each slot of `record`, whose local type is `type_id` with `members`
/// (fields or enumerators) in that order: access `0:<member>` (`<index>` for an enumerator),
/// or `0` for type slots.
fn slot_relos(
    builder: &mut BtfBuilder,
    record: &CoreRecord,
    members: &[(&str, FieldType)],
    type_id: u32,
) -> Vec<CoreRelo> {
    record
        .slots
        .iter()
        .map(|slot| {
            let access = match &slot.field {
                Some(field) => {
                    let member = members
                        .iter()
                        .position(|(name, _)| *name == field.name)
                        .unwrap_or(0);
                    // Enumerators are named by their index alone (libbpf's access strings).
                    if record.is_enum {
                        member.to_string()
                    } else {
                        format!("0:{member}")
                    }
                }
                None => "0".to_owned(),
            };
            CoreRelo {
                insn: 0,
                type_id,
                access_str_off: builder.add_string(&access),
                kind: slot.kind.to_raw(),
            }
        })
        .collect()
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
    /// a one-bit bitfield at that bit offset).
    fn target(members: &[(&str, u32, &str)], size: u32) -> Btf {
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, 1);
        let long = b.add_int("unsigned long", 8, 0);
        let ch = b.add_int("char", 1, 1);
        let comm = b.add_array(ch, int, 16);
        let fwd = b.add_fwd("task_struct", false);
        let ptr = b.add_ptr(fwd);
        let uint = b.add_int("unsigned int", 4, 0);
        let specs: Vec<MemberSpec> = members
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
                    _ => comm,
                };
                MemberSpec::new(name, id, *offset)
            })
            .collect();
        b.add_struct("task_struct", size, &specs);
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

    #[test]
    fn the_macro_records_parse_and_encode_back_identically() {
        let records = records();
        assert_eq!(records.len(), 3);
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
        // type exists, type size, then (offset, exists, size) per field, plus the left and
        // right shifts of the bitfield.
        assert_eq!(task.slots.len(), 2 + 3 + 3 + 3 + 5 + 3);
        assert_eq!(task.slots[2].kind, CoreReloKind::FieldByteOffset);
        assert_eq!(
            task.slots[2].field,
            Some(FieldDesc {
                name: "pid".into(),
                ty: FieldType::Int {
                    size: 4,
                    signed: true
                }
            })
        );
        assert!(!task.slots[2].optional);
        assert_eq!(
            task.slots[8].field.as_ref().map(|f| f.ty),
            Some(FieldType::Pointer)
        );
        assert_eq!(task.slots[14].kind, CoreReloKind::FieldLshiftU64);
        assert_eq!(task.slots[15].kind, CoreReloKind::FieldRshiftU64);
        assert_eq!(
            task.slots[16].field.as_ref().map(|f| f.name.as_str()),
            Some("bpfkit_no_such_field")
        );
        assert!(task.slots[16].optional, "#[optional] field's offset");
        assert!(task.slots[18].optional, "#[optional] field's size");
        assert!(!task.slots[13].optional, "a required field's size");
        assert_eq!(by_name("task_struct___old").type_name, "task_struct___old");
        assert_eq!(
            by_name("task_struct___old").slots[2]
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
        assert_eq!(pid_type.slots.len(), 2 + 2 * 4);
        assert_eq!(pid_type.slots[2].kind, CoreReloKind::EnumvalValue);
        assert_eq!(pid_type.slots[3].kind, CoreReloKind::EnumvalExists);
        assert_eq!(pid_type.slot_path(2), "pid_type::PIDTYPE_MAX");
        assert!(pid_type.slots[8].optional, "#[optional] enumerator");
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
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, 1);
        let fwd = b.add_fwd("task_struct", false);
        let ptr = b.add_ptr(fwd);
        let ch = b.add_int("char", 1, 1);
        let comm = b.add_array(ch, int, 16);
        let uint = b.add_int("unsigned int", 4, 0);
        b.add_struct(
            "task_struct",
            48,
            &[
                MemberSpec::new("pid", int, 0),
                MemberSpec::new("tgid", int, 4),
                MemberSpec::new("real_parent", ptr, 8),
                MemberSpec::new("comm", comm, 16),
                MemberSpec::bitfield("sched_reset_on_fork", uint, 256, 1),
            ],
        );
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
        let at = var.offset as usize + 2 * 8;
        assert_eq!(data[at..at + 8], 0x5c8u64.to_le_bytes());
        let at = var.offset as usize + 3 * 8;
        assert_eq!(data[at..at + 8], 1u64.to_le_bytes());
        // A slot index beyond its table is an error, not a panic.
        let mut bad = slots[0].clone();
        bad.index = 1000;
        assert!(matches!(
            apply(&mut object, &[bad], Endian::Little),
            Err(RustCoreError::Table { .. })
        ));
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
        newer[4] = 2;
        assert!(matches!(
            parse_section(&newer),
            Err(RustCoreError::UnsupportedVersion { version: 2, .. })
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
