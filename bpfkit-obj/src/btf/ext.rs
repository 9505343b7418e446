//! `.BTF.ext`: per-instruction debug records (function info, line info) that travel with each
//! program to the kernel, so verifier logs and `bpftool prog dump` show functions and source lines.
//!
//! Layout: a header (magic, version, flags, hdr_len, then offset/length pairs for func_info,
//! line_info and, optionally, CO-RE relocations), each part starting with its record size and
//! holding per-section groups: `sec_name_off: u32, num_info: u32`, then `num_info` records. Record
//! offsets are in bytes within the ELF section; we keep instruction indexes.

use super::{Btf, BtfError, Endian};
use crate::relocation::LinkedFunction;

/// Size of a `bpf_func_info` record as the kernel takes it: insn_off, type_id.
pub const FUNC_INFO_REC_SIZE: u32 = 8;
/// Size of a `bpf_line_info` record: insn_off, file_name_off, line_off, line_col.
pub const LINE_INFO_REC_SIZE: u32 = 16;

/// One function record: the function starting at `insn` has BTF `FUNC` type `type_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuncInfo {
    /// Instruction index in its section.
    pub insn: u32,
    /// BTF `FUNC` type id.
    pub type_id: u32,
}

/// One line record: instruction `insn` comes from this source line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineInfo {
    /// Instruction index in its section.
    pub insn: u32,
    /// BTF string offset of the file name.
    pub file_name_off: u32,
    /// BTF string offset of the source line's text.
    pub line_off: u32,
    /// Line number (high 22 bits) and column (low 10 bits).
    pub line_col: u32,
}

/// Smallest `bpf_core_relo` record: insn_off, type_id, access_str_off, kind.
pub const CORE_RELO_REC_SIZE: u32 = 16;

/// One CO-RE relocation record (`struct bpf_core_relo`): the instruction at `insn` encodes some
/// aspect (`kind`) of local type `type_id` reached through the access string at
/// `access_str_off`, to be recomputed against the target kernel's BTF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoreRelo {
    /// Instruction index in its section.
    pub insn: u32,
    /// Local (object BTF) type id the access starts from.
    pub type_id: u32,
    /// BTF string offset of the access string (`"0:1:2"`).
    pub access_str_off: u32,
    /// Raw `enum bpf_core_relo_kind`; see `core_relo::CoreReloKind`.
    pub kind: u32,
}

/// The parsed `.BTF.ext` section.
#[derive(Clone, Debug, Default)]
pub struct BtfExt {
    /// Function records by ELF section name.
    pub func_info: Vec<(String, Vec<FuncInfo>)>,
    /// Line records by ELF section name.
    pub line_info: Vec<(String, Vec<LineInfo>)>,
    /// CO-RE relocation records by ELF section name (empty when the object has none).
    pub core_relos: Vec<(String, Vec<CoreRelo>)>,
    /// Why the CO-RE part could not be read, when it could not. Kept apart from a whole-section
    /// failure so func/line info stay usable, while relocating a program still refuses to run on
    /// records it could not read (skipping them would load unrelocated offsets).
    pub core_relo_error: Option<BtfError>,
}

/// Func and line info of one linked program, encoded for `BPF_PROG_LOAD` (host byte order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProgramExtInfo {
    /// `bpf_func_info` records, [`FUNC_INFO_REC_SIZE`] bytes each.
    pub func_info: Vec<u8>,
    /// `bpf_line_info` records, [`LINE_INFO_REC_SIZE`] bytes each.
    pub line_info: Vec<u8>,
}

impl BtfExt {
    /// Parses `.BTF.ext` bytes; section names are resolved in `btf`'s string table.
    pub fn parse(data: &[u8], btf: &Btf) -> Result<BtfExt, BtfError> {
        let endian = btf.endian();
        let word = |offset: usize| {
            endian.read_u32(data, offset).ok_or(BtfError::BadExt {
                reason: "truncated header",
            })
        };
        let magic = data.get(..2).ok_or(BtfError::BadExt {
            reason: "truncated header",
        })?;
        let expected_magic = match endian {
            Endian::Little => [0x9f, 0xeb],
            Endian::Big => [0xeb, 0x9f],
        };
        if magic != expected_magic {
            return Err(BtfError::BadExt {
                reason: "bad magic",
            });
        }
        let hdr_len = word(4)? as usize;
        if hdr_len < 24 || hdr_len > data.len() {
            return Err(BtfError::BadExt {
                reason: "bad header length",
            });
        }
        let part = |off_at: usize| -> Result<&[u8], BtfError> {
            let offset = word(off_at)? as usize;
            let len = word(off_at + 4)? as usize;
            let start = hdr_len.checked_add(offset).ok_or(BtfError::BadExt {
                reason: "part out of bounds",
            })?;
            let end = start.checked_add(len).ok_or(BtfError::BadExt {
                reason: "part out of bounds",
            })?;
            data.get(start..end).ok_or(BtfError::BadExt {
                reason: "part out of bounds",
            })
        };
        let func_part = part(8)?;
        let line_part = part(16)?;
        let field = |rec: &[u8], at: usize| endian.read_u32(rec, at).ok_or("truncated record");
        let func_info = parse_groups(func_part, btf, FUNC_INFO_REC_SIZE as usize, |rec| {
            Ok(FuncInfo {
                insn: field(rec, 0)? / 8,
                type_id: field(rec, 4)?,
            })
        })?;
        let line_info = parse_groups(line_part, btf, LINE_INFO_REC_SIZE as usize, |rec| {
            Ok(LineInfo {
                insn: field(rec, 0)? / 8,
                file_name_off: field(rec, 4)?,
                line_off: field(rec, 8)?,
                line_col: field(rec, 12)?,
            })
        })?;
        // The CO-RE part came later (header of 32 bytes instead of 24); older producers omit it.
        let (core_relos, core_relo_error) = if hdr_len >= 32 {
            match part(24).and_then(|core_part| {
                parse_groups(core_part, btf, CORE_RELO_REC_SIZE as usize, |rec| {
                    let insn_off = field(rec, 0)?;
                    // An offset inside an instruction cannot name one.
                    if insn_off % 8 != 0 {
                        return Err("CO-RE relocation offset is not a multiple of 8");
                    }
                    Ok(CoreRelo {
                        insn: insn_off / 8,
                        type_id: field(rec, 4)?,
                        access_str_off: field(rec, 8)?,
                        kind: field(rec, 12)?,
                    })
                })
            }) {
                Ok(groups) => (groups, None),
                Err(err) => (Vec::new(), Some(err)),
            }
        } else {
            (Vec::new(), None)
        };
        Ok(BtfExt {
            func_info,
            line_info,
            core_relos,
            core_relo_error,
        })
    }

    /// The CO-RE records of ELF section `section` (empty when it has none).
    pub fn core_relos_of(&self, section: &str) -> &[CoreRelo] {
        self.core_relos
            .iter()
            .find(|(name, _)| name == section)
            .map(|(_, records)| records.as_slice())
            .unwrap_or(&[])
    }

    /// The func and line info of a linked program: the records of each function it is made of,
    /// moved to where that function landed. Records are sorted by instruction, as the kernel
    /// requires.
    pub fn program_info(&self, functions: &[LinkedFunction]) -> ProgramExtInfo {
        let mut funcs: Vec<(u32, u32)> = Vec::new();
        let mut lines: Vec<(u32, [u32; 3])> = Vec::new();
        for function in functions {
            let start = function.section_insn as u64;
            let end = start + function.len as u64;
            let moved = |insn: u32| (function.start_insn as u64 + (u64::from(insn) - start)) as u32;
            let in_function = |insn: u32| (start..end).contains(&u64::from(insn));
            if let Some((_, records)) = self.func_info.iter().find(|(s, _)| *s == function.section)
            {
                funcs.extend(
                    records
                        .iter()
                        .filter(|r| in_function(r.insn))
                        .map(|r| (moved(r.insn), r.type_id)),
                );
            }
            if let Some((_, records)) = self.line_info.iter().find(|(s, _)| *s == function.section)
            {
                lines.extend(
                    records
                        .iter()
                        .filter(|r| in_function(r.insn))
                        .map(|r| (moved(r.insn), [r.file_name_off, r.line_off, r.line_col])),
                );
            }
        }
        funcs.sort_by_key(|&(insn, _)| insn);
        funcs.dedup_by_key(|&mut (insn, _)| insn);
        lines.sort_by_key(|&(insn, _)| insn);
        lines.dedup_by_key(|&mut (insn, _)| insn);
        let mut info = ProgramExtInfo::default();
        for (insn, type_id) in funcs {
            info.func_info.extend_from_slice(&insn.to_ne_bytes());
            info.func_info.extend_from_slice(&type_id.to_ne_bytes());
        }
        for (insn, rest) in lines {
            info.line_info.extend_from_slice(&insn.to_ne_bytes());
            for value in rest {
                info.line_info.extend_from_slice(&value.to_ne_bytes());
            }
        }
        info
    }
}

/// Reads `rec_size, (sec_name_off, num_info, records...)*`.
fn parse_groups<T>(
    part: &[u8],
    btf: &Btf,
    min_rec_size: usize,
    decode: impl Fn(&[u8]) -> Result<T, &'static str>,
) -> Result<Vec<(String, Vec<T>)>, BtfError> {
    let endian = btf.endian();
    let mut groups = Vec::new();
    if part.is_empty() {
        return Ok(groups);
    }
    let rec_size = endian.read_u32(part, 0).ok_or(BtfError::BadExt {
        reason: "truncated record size",
    })? as usize;
    if rec_size < min_rec_size {
        return Err(BtfError::BadExt {
            reason: "record size smaller than the kernel's",
        });
    }
    let mut offset = 4usize;
    while offset < part.len() {
        let name_off = endian.read_u32(part, offset).ok_or(BtfError::BadExt {
            reason: "truncated group",
        })?;
        let count = endian.read_u32(part, offset + 4).ok_or(BtfError::BadExt {
            reason: "truncated group",
        })? as usize;
        offset += 8;
        let bytes = count.checked_mul(rec_size).ok_or(BtfError::BadExt {
            reason: "record count overflows",
        })?;
        let records = part
            .get(
                offset..offset.checked_add(bytes).ok_or(BtfError::BadExt {
                    reason: "record count overflows",
                })?,
            )
            .ok_or(BtfError::BadExt {
                reason: "records beyond the section",
            })?;
        let decoded = records
            .chunks_exact(rec_size)
            .map(|rec| decode(rec).map_err(|reason| BtfError::BadExt { reason }))
            .collect::<Result<Vec<T>, BtfError>>()?;
        groups.push((btf.string_at(name_off)?.to_string(), decoded));
        offset += bytes;
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btf::builder::BtfBuilder;

    /// A `.BTF.ext` with one func_info record for `section` and the given CO-RE part bytes.
    fn ext_bytes(section_off: u32, core_part: &[u8], hdr_len: u32) -> Vec<u8> {
        let mut func = Vec::new();
        for word in [FUNC_INFO_REC_SIZE, section_off, 1, 0, 7] {
            func.extend_from_slice(&word.to_le_bytes());
        }
        let mut out = Vec::new();
        out.extend_from_slice(&[0x9f, 0xeb, 1, 0]);
        let func_len = func.len() as u32;
        let mut header = vec![hdr_len, 0, func_len, func_len, 0];
        if hdr_len >= 32 {
            header.extend_from_slice(&[func_len, core_part.len() as u32]);
        }
        for word in header {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(&func);
        out.extend_from_slice(core_part);
        out
    }

    fn core_part(section_off: u32, records: &[[u32; 4]], count: u32) -> Vec<u8> {
        let mut out = Vec::new();
        for word in [CORE_RELO_REC_SIZE, section_off, count] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        for record in records {
            for word in record {
                out.extend_from_slice(&word.to_le_bytes());
            }
        }
        out
    }

    #[test]
    fn core_relo_records_are_parsed_by_section() {
        let mut b = BtfBuilder::new();
        let section = b.add_string("kprobe/x");
        let access = b.add_string("0:1");
        let btf = Btf::parse(&b.finish()).unwrap();
        let part = core_part(section, &[[16, 3, access, 0], [40, 3, access, 2]], 2);
        let ext = BtfExt::parse(&ext_bytes(section, &part, 32), &btf).unwrap();
        assert!(ext.core_relo_error.is_none());
        let records = ext.core_relos_of("kprobe/x");
        assert_eq!(records.len(), 2);
        assert_eq!(
            records[1],
            CoreRelo {
                insn: 5,
                type_id: 3,
                access_str_off: access,
                kind: 2
            }
        );
        // An older 24-byte header has no CO-RE part at all.
        let ext = BtfExt::parse(&ext_bytes(section, &[], 24), &btf).unwrap();
        assert!(ext.core_relos.is_empty() && ext.core_relo_error.is_none());
        assert_eq!(ext.func_info.len(), 1);
    }

    #[test]
    fn malformed_core_relo_parts_keep_func_info_and_record_the_error() {
        let mut b = BtfBuilder::new();
        let section = b.add_string("kprobe/x");
        let btf = Btf::parse(&b.finish()).unwrap();
        let cases: Vec<Vec<u8>> = vec![
            // Offset not a multiple of 8.
            core_part(section, &[[13, 1, 0, 0]], 1),
            // Count larger than the records present.
            core_part(section, &[[8, 1, 0, 0]], 5),
            // Count that overflows when multiplied by the record size.
            core_part(section, &[], u32::MAX),
            // Section name offset outside the string table.
            core_part(1 << 20, &[[8, 1, 0, 0]], 1),
            // Record size smaller than a bpf_core_relo.
            {
                let mut part = core_part(section, &[[8, 1, 0, 0]], 1);
                part[..4].copy_from_slice(&8u32.to_le_bytes());
                part
            },
            // Truncated group header.
            vec![16, 0, 0, 0, 1, 0],
        ];
        for (i, part) in cases.iter().enumerate() {
            let ext = BtfExt::parse(&ext_bytes(section, part, 32), &btf).unwrap();
            assert!(ext.core_relo_error.is_some(), "case {i}");
            assert_eq!(ext.func_info.len(), 1, "case {i}");
        }
        // A CO-RE part pointing outside the section.
        let mut bytes = ext_bytes(section, &[], 32);
        bytes[28..32].copy_from_slice(&1000u32.to_le_bytes());
        let ext = BtfExt::parse(&bytes, &btf).unwrap();
        assert!(ext.core_relo_error.is_some());
    }
}
