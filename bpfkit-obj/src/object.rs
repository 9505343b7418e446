//! `Object`: an eBPF ELF file turned into plain data.

use std::collections::{BTreeMap, HashMap};

use object::elf::{FileHeader64, SectionHeader64, Sym64, STV_HIDDEN, STV_INTERNAL};
use object::read::elf::{FileHeader, Rel, SectionHeader, Sym};
use object::Endianness;

use crate::btf::ext::{BtfExt, ProgramExtInfo};
use crate::btf::{Btf, BtfError, BtfKind, Endian};
use crate::error::{ParseError, RelocationError};
use crate::externs::{self, Extern, UndefinedSymbol};
use crate::insn::Insn;
use crate::maps::{self, DataSection, InitialValue, MapSpec, ValuesLayout};
use crate::program::ProgramSpec;
use crate::relocation::{self, GlobalVariable, LinkedProgram, RelocationInfo, RelocationKind};
use crate::section::parse_section;

const EM_BPF: u16 = 247;
const SHT_PROGBITS: u32 = 1;
const SHT_SYMTAB: u32 = 2;
const SHT_NOBITS: u32 = 8;
const SHT_REL: u32 = 9;
const SHF_EXECINSTR: u64 = 0x4;
const STT_NOTYPE: u8 = 0;
const STT_OBJECT: u8 = 1;
const STT_FUNC: u8 = 2;
const STT_SECTION: u8 = 3;
const STB_GLOBAL: u8 = 1;
const STB_WEAK: u8 = 2;
const SHN_UNDEF: u16 = 0;
const SHN_LORESERVE: u16 = 0xff00;
/// The kernel refuses array values above `INT_MAX` bytes, so a bigger data section can never load;
/// refusing it here also keeps a forged `.bss` size from asking for a huge allocation.
const MAX_DATA_SECTION: u64 = i32::MAX as u64;

/// A parsed eBPF object file: programs, maps, BTF and relocations, without any kernel state.
#[derive(Clone, Debug)]
pub struct Object {
    /// Object name: the file name up to its first `.` when known, else `"obj"`.
    pub name: String,
    /// Contents of the `license` section, `""` when absent.
    pub license: String,
    /// Contents of the `version` section.
    pub kernel_version: Option<u32>,
    /// Entry points (not `.text` subprograms), in file order.
    pub programs: Vec<ProgramSpec>,
    /// Legacy maps, BTF-defined maps, then global data maps, in file order.
    pub maps: Vec<MapSpec>,
    /// The `.BTF` section.
    pub btf: Option<Btf>,
    /// The `.BTF.ext` section; `None` when absent or malformed (it is optional debug data, so a
    /// bad one is logged and ignored, as libbpf does).
    pub btf_ext: Option<BtfExt>,
    pub(crate) functions: Vec<Function>,
    pub(crate) code_sections: Vec<CodeSection>,
    globals: Vec<(String, GlobalVariable)>,
    /// What the CO-RE slots of Rust programs mean (the `.bpfkit.core` sections, see
    /// [`crate::rust_core`]); empty for C objects. The loader resolves them before load.
    pub rust_core: Vec<crate::rust_core::CoreRecord>,
    /// `.kconfig` and `.ksyms` externs, in symbol table order.
    externs: Vec<Extern>,
    /// Section sizes and symbol offsets by section name, to fill in BTF `DATASEC`s for the kernel.
    section_layouts: HashMap<String, SectionLayout>,
}

/// Size of a section and where its symbols are.
#[derive(Clone, Debug, Default)]
struct SectionLayout {
    size: u32,
    symbols: HashMap<String, u32>,
}

/// A function symbol in a code section.
#[derive(Clone, Debug)]
pub(crate) struct Function {
    pub name: String,
    /// Index in `Object::code_sections`.
    pub code_section: usize,
    /// First instruction in the section.
    pub start: usize,
    /// Number of instruction slots.
    pub len: usize,
    /// Entry point (global function outside `.text`).
    pub is_program: bool,
    /// A global subprogram with hidden or internal ELF visibility (bpf-linker gives Rust's
    /// helpers such as `memset` that): the kernel gets it as a static function, as libbpf does,
    /// so the verifier checks it in each caller's context rather than on its own.
    pub hidden: bool,
}

/// An executable section.
#[derive(Clone, Debug)]
pub(crate) struct CodeSection {
    pub name: String,
    pub insns: Vec<Insn>,
    /// Relocations by instruction index in the section.
    pub relocs: BTreeMap<usize, Reloc>,
}

/// A classified relocation in code.
#[derive(Clone, Debug)]
pub(crate) struct Reloc {
    pub symbol: String,
    pub target: RelocTarget,
}

#[derive(Clone, Debug)]
pub(crate) enum RelocTarget {
    Map { map_index: usize },
    Data { map_index: usize, offset: u32 },
    Call { code_section: usize, insn: i64 },
    FunctionAddress { code_section: usize, insn: i64 },
    Extern { kind: &'static str },
}

/// A symbol, decoded once.
#[derive(Clone, Debug)]
struct Symbol {
    name: String,
    kind: u8,
    bind: u8,
    /// `STV_*`, the low bits of `st_other`.
    visibility: u8,
    shndx: u16,
    value: u64,
    size: u64,
}

/// A section header, decoded once.
#[derive(Clone, Debug)]
struct Section<'d> {
    name: String,
    sh_type: u32,
    flags: u64,
    size: u64,
    info: u32,
    /// File contents (empty for `SHT_NOBITS`).
    data: &'d [u8],
    header: &'d SectionHeader64<Endianness>,
}

/// Where each BTF map variable sits in `.maps`.
#[derive(Clone, Copy, Debug)]
struct BtfMapLocation {
    map_index: usize,
    offset: u64,
    size: u64,
    values: Option<ValuesLayout>,
}

fn malformed(context: impl Into<String>, error: object::read::Error) -> ParseError {
    ParseError::Malformed {
        context: context.into(),
        message: error.to_string(),
    }
}

fn data_section_kind(name: &str) -> Option<DataSection> {
    let matches = |base: &str| {
        name == base
            || name
                .strip_prefix(base)
                .is_some_and(|rest| rest.starts_with('.'))
    };
    if matches(".data") {
        Some(DataSection::Data)
    } else if matches(".rodata") {
        Some(DataSection::Rodata)
    } else if matches(".bss") {
        Some(DataSection::Bss)
    } else {
        None
    }
}

impl Object {
    /// Parses an eBPF ELF object (little- or big-endian). Any input gives either an `Object` or a
    /// typed error.
    pub fn parse(data: &[u8]) -> Result<Object, ParseError> {
        Object::parse_named(data, "obj")
    }

    /// Like [`Object::parse`], naming the object after `file_name` (its base name up to the first
    /// `.`, as libbpf does: `/x/counter.bpf.o` is `counter`).
    pub fn parse_named(data: &[u8], file_name: &str) -> Result<Object, ParseError> {
        let base = file_name.rsplit('/').next().unwrap_or(file_name);
        let stem = base.split('.').next().unwrap_or(base);
        let name = if stem.is_empty() { "obj" } else { stem };
        Parser::new(data)?.run(name.to_owned())
    }

    /// The program (entry point) named `name`.
    pub fn program(&self, name: &str) -> Option<&ProgramSpec> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// The map named `name`.
    pub fn map(&self, name: &str) -> Option<&MapSpec> {
        self.maps.iter().find(|m| m.name == name)
    }

    /// Index in [`Object::maps`] of the map named `name`.
    pub fn map_index(&self, name: &str) -> Option<usize> {
        self.maps.iter().position(|m| m.name == name)
    }

    /// Program `name` plus every subprogram it reaches (transitively), with calls and
    /// `BPF_PSEUDO_FUNC` references fixed and map references listed (not yet patched with fds).
    pub fn link_program(&self, name: &str) -> Result<LinkedProgram, RelocationError> {
        relocation::link(self, name)
    }

    /// The object's `.kconfig` and `.ksyms` externs (what the loader must resolve).
    pub fn externs(&self) -> &[Extern] {
        &self.externs
    }

    /// The extern named `name`.
    pub fn extern_by_name(&self, name: &str) -> Option<&Extern> {
        self.externs.iter().find(|e| e.name == name)
    }

    /// A global variable by symbol name: its data map, offset and size.
    pub fn global_variable(&self, name: &str) -> Option<GlobalVariable> {
        self.globals
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, g)| *g)
    }

    /// The object's BTF as `BPF_BTF_LOAD` takes it (`DATASEC` layouts filled in from the ELF);
    /// `None` when the object has no BTF.
    pub fn kernel_btf(&self) -> Option<Result<Vec<u8>, BtfError>> {
        let btf = self.btf.as_ref()?;
        let layouts = &self.section_layouts;
        let hidden = |name: &str| {
            self.functions
                .iter()
                .any(|f| f.hidden && !f.is_program && f.name == name)
        };
        Some(btf.to_kernel_bytes(
            hidden,
            |section| layouts.get(section).map(|l| l.size),
            |section, symbol| {
                layouts
                    .get(section)
                    .and_then(|l| l.symbols.get(symbol).copied())
            },
        ))
    }

    /// Func and line info for a linked program, ready for `BPF_PROG_LOAD`; empty without
    /// `.BTF.ext`.
    pub fn program_ext_info(&self, program: &LinkedProgram) -> ProgramExtInfo {
        self.btf_ext
            .as_ref()
            .map(|ext| ext.program_info(&program.functions))
            .unwrap_or_default()
    }

    /// Every relocation in code, in section and instruction order (for `bpfkit inspect`).
    pub fn relocations(&self) -> Vec<RelocationInfo> {
        let mut out = Vec::new();
        for section in &self.code_sections {
            for (&insn_index, reloc) in &section.relocs {
                let target_name = |i: usize| {
                    self.code_sections
                        .get(i)
                        .map(|s| s.name.clone())
                        .unwrap_or_default()
                };
                let kind = match &reloc.target {
                    RelocTarget::Map { map_index } => RelocationKind::MapFd {
                        map_index: *map_index,
                    },
                    RelocTarget::Data { map_index, offset } => RelocationKind::MapValue {
                        map_index: *map_index,
                        offset: *offset,
                    },
                    RelocTarget::Call { code_section, insn } => RelocationKind::Call {
                        target_section: target_name(*code_section),
                        target_insn: *insn,
                    },
                    RelocTarget::FunctionAddress { code_section, insn } => {
                        RelocationKind::FunctionAddress {
                            target_section: target_name(*code_section),
                            target_insn: *insn,
                        }
                    }
                    RelocTarget::Extern { kind } => RelocationKind::Extern { kind },
                };
                out.push(RelocationInfo {
                    section: section.name.clone(),
                    insn_index,
                    symbol: reloc.symbol.clone(),
                    kind,
                });
            }
        }
        out
    }

    /// Names of all functions (programs and subprograms) with their section, for inspection.
    pub fn functions(&self) -> impl Iterator<Item = (&str, &str, bool)> + '_ {
        self.functions.iter().map(|f| {
            let section = self
                .code_sections
                .get(f.code_section)
                .map(|s| s.name.as_str())
                .unwrap_or("");
            (f.name.as_str(), section, f.is_program)
        })
    }
}

struct Parser<'d> {
    endian: Endian,
    sections: Vec<Section<'d>>,
    symbols: Vec<Symbol>,
    data: &'d [u8],
    elf_endian: Endianness,
}

impl<'d> Parser<'d> {
    fn new(data: &'d [u8]) -> Result<Parser<'d>, ParseError> {
        if data.get(..4) != Some(b"\x7fELF".as_slice()) {
            return Err(ParseError::NotElf);
        }
        if data.len() < 64 {
            return Err(ParseError::Truncated {
                what: format!("ELF header ({} bytes, needs 64)", data.len()),
            });
        }
        if data[4] != 2 {
            return Err(ParseError::WrongMachine {
                reason: format!("ELF class {} (eBPF objects are 64-bit)", data[4]),
            });
        }
        let header =
            FileHeader64::<Endianness>::parse(data).map_err(|e| malformed("ELF header", e))?;
        let elf_endian = header.endian().map_err(|e| malformed("ELF header", e))?;
        let machine = header.e_machine(elf_endian);
        if machine != EM_BPF {
            return Err(ParseError::WrongMachine {
                reason: format!("e_machine {machine}, expected EM_BPF ({EM_BPF})"),
            });
        }
        let endian = if elf_endian == Endianness::Big {
            Endian::Big
        } else {
            Endian::Little
        };

        let shoff = header.e_shoff(elf_endian);
        let table_size =
            u64::from(header.e_shnum(elf_endian)) * u64::from(header.e_shentsize(elf_endian));
        if shoff
            .checked_add(table_size)
            .map_or(true, |end| end > data.len() as u64)
        {
            return Err(ParseError::Truncated {
                what: format!("section header table at offset {shoff}"),
            });
        }
        let table = header
            .sections(elf_endian, data)
            .map_err(|e| malformed("section headers", e))?;
        let mut sections = Vec::with_capacity(table.len());
        for (index, sh) in table.iter().enumerate() {
            let name = table
                .section_name(elf_endian, sh)
                .map_err(|e| malformed(format!("name of section {index}"), e))?;
            let name = String::from_utf8_lossy(name).into_owned();
            let sh_type = sh.sh_type(elf_endian);
            let size = sh.sh_size(elf_endian);
            let contents = if sh_type == SHT_NOBITS {
                &[][..]
            } else {
                let offset = sh.sh_offset(elf_endian);
                if offset
                    .checked_add(size)
                    .map_or(true, |end| end > data.len() as u64)
                {
                    return Err(ParseError::Truncated {
                        what: format!(
                            "section {name} ({size} bytes at offset {offset}, file is {} bytes)",
                            data.len()
                        ),
                    });
                }
                sh.data(elf_endian, data)
                    .map_err(|e| malformed(format!("section {name}"), e))?
            };
            sections.push(Section {
                name,
                sh_type,
                flags: sh.sh_flags(elf_endian),
                size,
                info: sh.sh_info(elf_endian),
                data: contents,
                header: sh,
            });
        }

        let symtab = table
            .symbols(elf_endian, data, SHT_SYMTAB)
            .map_err(|e| malformed("symbol table", e))?;
        let strings = symtab.strings();
        let mut symbols = Vec::with_capacity(symtab.len());
        for (index, sym) in symtab.symbols().iter().enumerate() {
            let sym: &Sym64<Endianness> = sym;
            let shndx = sym.st_shndx(elf_endian);
            let kind = sym.st_type();
            let raw_name =
                strings
                    .get(sym.st_name(elf_endian))
                    .map_err(|()| ParseError::Malformed {
                        context: format!("name of symbol {index}"),
                        message: "bad string offset".into(),
                    })?;
            let mut name = String::from_utf8_lossy(raw_name).into_owned();
            if shndx != SHN_UNDEF && shndx < SHN_LORESERVE && usize::from(shndx) >= sections.len() {
                return Err(ParseError::BadSectionIndex {
                    index: usize::from(shndx),
                    what: format!("symbol {index} ({name})"),
                });
            }
            if kind == STT_SECTION && name.is_empty() {
                name = sections
                    .get(usize::from(shndx))
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
            }
            symbols.push(Symbol {
                name,
                kind,
                bind: sym.st_bind(),
                visibility: sym.st_other() & 0x3,
                shndx,
                value: sym.st_value(elf_endian),
                size: sym.st_size(elf_endian),
            });
        }
        Ok(Parser {
            endian,
            sections,
            symbols,
            data,
            elf_endian,
        })
    }

    fn section_index(&self, name: &str) -> Option<usize> {
        self.sections.iter().position(|s| s.name == name)
    }

    fn run(self, name: String) -> Result<Object, ParseError> {
        let license = match self
            .section_index("license")
            .and_then(|i| self.sections.get(i))
        {
            Some(section) => {
                let end = section
                    .data
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or(ParseError::BadLicense)?;
                std::str::from_utf8(&section.data[..end])
                    .map_err(|_| ParseError::BadLicense)?
                    .to_owned()
            }
            None => String::new(),
        };
        let kernel_version = match self
            .section_index("version")
            .and_then(|i| self.sections.get(i))
        {
            Some(section) if section.data.len() == 4 => self.endian.read_u32(section.data, 0),
            Some(section) => return Err(ParseError::BadVersion { size: section.size }),
            None => None,
        };
        let btf = match self
            .section_index(".BTF")
            .and_then(|i| self.sections.get(i))
        {
            Some(section) => Some(Btf::parse(section.data)?),
            None => None,
        };

        let mut maps = Vec::new();
        // (ELF section index, offset) -> map index, for legacy and BTF maps.
        let mut map_at: HashMap<(usize, u64), usize> = HashMap::new();
        self.legacy_maps(&mut maps, &mut map_at)?;
        let btf_maps = self.btf_maps(btf.as_ref(), &mut maps, &mut map_at)?;
        let mut data_maps: HashMap<usize, usize> = HashMap::new();
        for (index, section) in self.sections.iter().enumerate() {
            let Some(kind) = data_section_kind(&section.name) else {
                continue;
            };
            if section.flags & SHF_EXECINSTR != 0 || section.size == 0 {
                continue;
            }
            if section.size > MAX_DATA_SECTION {
                return Err(ParseError::SizeOverflow {
                    what: format!(
                        "data section {} is {} bytes, the kernel allows {MAX_DATA_SECTION}",
                        section.name, section.size
                    ),
                });
            }
            let contents = if section.sh_type == SHT_NOBITS {
                vec![0; section.size as usize]
            } else {
                section.data.to_vec()
            };
            data_maps.insert(index, maps.len());
            maps.push(maps::data_map(&section.name, kind, contents, btf.as_ref())?);
        }
        let externs = match &btf {
            Some(btf) => externs::collect(btf, &self.undefined_symbols())?,
            None => Vec::new(),
        };
        let mut section_layouts = self.section_layouts();
        if let Some(btf) = &btf {
            if let Some(id) = btf.find_by_name_kind(".kconfig", BtfKind::Datasec) {
                if !btf.datasec_vars(id)?.is_empty() {
                    let mut spec = maps::kconfig_map(btf, id)?;
                    // The layout the loader fills (libbpf's); the kernel sees the same one in BTF.
                    let mut layout = SectionLayout::default();
                    for ext in &externs {
                        if let Some(k) = ext.kconfig() {
                            layout.symbols.insert(ext.name.clone(), k.offset);
                            layout.size = layout.size.max(k.offset.saturating_add(k.size));
                        }
                    }
                    spec.value_size = layout.size.max(1);
                    section_layouts.insert(".kconfig".to_owned(), layout);
                    maps.push(spec);
                }
            }
        }

        let (code_sections, functions, code_index) = self.code()?;
        let btf_ext = match (
            btf.as_ref(),
            self.section_index(".BTF.ext")
                .and_then(|i| self.sections.get(i)),
        ) {
            (Some(btf), Some(section)) => match BtfExt::parse(section.data, btf) {
                Ok(ext) => Some(ext),
                Err(err) => {
                    log::warn!("ignoring malformed .BTF.ext: {err}");
                    None
                }
            },
            _ => None,
        };
        // The linker may keep one `.bpfkit.core` section per record, all of that name.
        let mut rust_core = Vec::new();
        for section in self
            .sections
            .iter()
            .filter(|s| s.name == crate::rust_core::SECTION_NAME)
        {
            rust_core.extend(crate::rust_core::parse_section(section.data)?);
        }
        let mut object = Object {
            name,
            license: license.clone(),
            kernel_version,
            programs: Vec::new(),
            maps,
            btf,
            btf_ext,
            functions,
            code_sections,
            globals: Vec::new(),
            rust_core,
            externs,
            section_layouts,
        };
        self.relocations(&mut object, &code_index, &map_at, &data_maps, &btf_maps)?;
        object.globals = self.globals(&data_maps)?;

        let mut seen = std::collections::HashSet::new();
        for func in object.functions.iter().filter(|f| f.is_program) {
            if !seen.insert(func.name.clone()) {
                return Err(ParseError::DuplicateProgram {
                    name: func.name.clone(),
                });
            }
            let section = &object.code_sections[func.code_section];
            object.programs.push(ProgramSpec {
                name: func.name.clone(),
                section_name: section.name.clone(),
                section: parse_section(&section.name),
                instructions: section
                    .insns
                    .get(func.start..func.start + func.len)
                    .unwrap_or(&[])
                    .to_vec(),
                license: license.clone(),
                kernel_version,
            });
        }
        Ok(object)
    }

    fn legacy_maps(
        &self,
        maps: &mut Vec<MapSpec>,
        map_at: &mut HashMap<(usize, u64), usize>,
    ) -> Result<(), ParseError> {
        let Some(index) = self.section_index("maps") else {
            return Ok(());
        };
        let section = &self.sections[index];
        let mut defs: Vec<&Symbol> = self
            .symbols
            .iter()
            .filter(|s| {
                usize::from(s.shndx) == index && s.kind != STT_SECTION && !s.name.is_empty()
            })
            .collect();
        if defs.is_empty() {
            return Ok(());
        }
        defs.sort_by_key(|s| s.value);
        let count = defs.len() as u64;
        if section.size % count != 0 || section.data.is_empty() {
            return Err(ParseError::BadMapDefinition {
                map: "maps".into(),
                reason: format!(
                    "legacy maps section of {} bytes cannot hold {count} equal definitions",
                    section.size
                ),
            });
        }
        let def_size = section.size / count;
        for sym in defs {
            let def = sym
                .value
                .checked_add(def_size)
                .and_then(|end| section.data.get(sym.value as usize..end as usize))
                .ok_or_else(|| ParseError::BadMapDefinition {
                    map: sym.name.clone(),
                    reason: format!(
                        "definition at offset {} runs past the maps section",
                        sym.value
                    ),
                })?;
            let spec = maps::parse_legacy_def(&sym.name, def, self.endian)?;
            spec.validate()?;
            map_at.insert((index, sym.value), maps.len());
            maps.push(spec);
        }
        Ok(())
    }

    fn btf_maps(
        &self,
        btf: Option<&Btf>,
        maps: &mut Vec<MapSpec>,
        map_at: &mut HashMap<(usize, u64), usize>,
    ) -> Result<Vec<BtfMapLocation>, ParseError> {
        let Some(index) = self.section_index(".maps") else {
            return Ok(Vec::new());
        };
        let btf = btf.ok_or(ParseError::MissingBtfForMaps)?;
        let datasec = btf
            .find_by_name_kind(".maps", BtfKind::Datasec)
            .ok_or(ParseError::MissingBtfForMaps)?;
        let mut vars = btf.datasec_vars(datasec)?;
        let mut locations = Vec::new();
        // clang leaves DATASEC offsets at 0 (libbpf fixes them up from the symbol table), so each
        // variable's place in the section comes from its ELF symbol.
        let symbol_offset = |name: &str| {
            self.symbols
                .iter()
                .find(|s| usize::from(s.shndx) == index && s.kind != STT_SECTION && s.name == name)
                .map(|s| (s.value, s.size))
        };
        let mut placed = Vec::with_capacity(vars.len());
        for var in vars.drain(..) {
            let var_type = btf.type_by_id(var.type_id)?;
            let name = btf.string_at(var_type.name_offset())?.to_owned();
            let (offset, size) =
                symbol_offset(&name).unwrap_or((u64::from(var.offset), u64::from(var.size)));
            placed.push((offset, size, var));
        }
        placed.sort_by_key(|(offset, _, _)| *offset);
        for (offset, size, var) in placed {
            let var_type = btf.type_by_id(var.type_id)?;
            if var_type.kind() != BtfKind::Var {
                return Err(ParseError::BadMapDefinition {
                    map: ".maps".into(),
                    reason: format!(
                        "DATASEC entry [{}] is a {}, expected a variable",
                        var.type_id,
                        var_type.kind()
                    ),
                });
            }
            let name = btf.string_at(var_type.name_offset())?.to_owned();
            let def_type = var_type.referenced_type().unwrap_or(0);
            let (spec, values) = maps::parse_btf_def(btf, &name, def_type, false)?;
            spec.validate()?;
            map_at.insert((index, offset), maps.len());
            locations.push(BtfMapLocation {
                map_index: maps.len(),
                offset,
                size,
                values,
            });
            maps.push(spec);
        }
        Ok(locations)
    }

    /// Code sections and their functions. Returns also ELF index -> code section index.
    #[allow(clippy::type_complexity)]
    fn code(&self) -> Result<(Vec<CodeSection>, Vec<Function>, HashMap<usize, usize>), ParseError> {
        let mut code_sections = Vec::new();
        let mut functions = Vec::new();
        let mut code_index = HashMap::new();
        for (index, section) in self.sections.iter().enumerate() {
            if section.sh_type != SHT_PROGBITS || section.flags & SHF_EXECINSTR == 0 {
                continue;
            }
            let insns = Insn::decode_all(section.data, self.endian == Endian::Big).ok_or(
                ParseError::BadCodeSectionSize {
                    section: section.name.clone(),
                    size: section.size,
                },
            )?;
            let code_section = code_sections.len();
            code_index.insert(index, code_section);
            let mut funcs: Vec<&Symbol> = self
                .symbols
                .iter()
                .filter(|s| s.kind == STT_FUNC && usize::from(s.shndx) == index && s.size > 0)
                .collect();
            funcs.sort_by_key(|s| s.value);
            for sym in funcs {
                let bad = |reason: String| ParseError::BadFunction {
                    name: sym.name.clone(),
                    section: section.name.clone(),
                    reason,
                };
                if sym.value % 8 != 0 || sym.size % 8 != 0 {
                    return Err(bad(format!(
                        "offset {} / size {} are not whole instructions",
                        sym.value, sym.size
                    )));
                }
                if sym
                    .value
                    .checked_add(sym.size)
                    .map_or(true, |end| end > section.size)
                {
                    return Err(bad(format!(
                        "offset {} + size {} is beyond the section ({} bytes)",
                        sym.value, sym.size, section.size
                    )));
                }
                let is_global = sym.bind == STB_GLOBAL || sym.bind == STB_WEAK;
                functions.push(Function {
                    name: sym.name.clone(),
                    code_section,
                    start: (sym.value / 8) as usize,
                    len: (sym.size / 8) as usize,
                    is_program: section.name != ".text" && is_global,
                    hidden: is_global && matches!(sym.visibility, STV_INTERNAL | STV_HIDDEN),
                });
            }
            code_sections.push(CodeSection {
                name: section.name.clone(),
                insns,
                relocs: BTreeMap::new(),
            });
        }
        Ok((code_sections, functions, code_index))
    }

    /// Undefined global or weak untyped symbols: the candidates for externs (libbpf's
    /// `sym_is_extern`).
    fn undefined_symbols(&self) -> Vec<UndefinedSymbol<'_>> {
        self.symbols
            .iter()
            .filter(|s| {
                s.shndx == SHN_UNDEF
                    && (s.bind == STB_GLOBAL || s.bind == STB_WEAK)
                    && s.kind == STT_NOTYPE
                    && !s.name.is_empty()
            })
            .map(|s| UndefinedSymbol {
                name: &s.name,
                weak: s.bind == STB_WEAK,
            })
            .collect()
    }

    fn extern_kind(btf: Option<&Btf>, name: &str) -> &'static str {
        let Some(btf) = btf else { return "unknown" };
        for (section, kind) in [(".kconfig", ".kconfig"), (".ksyms", ".ksyms")] {
            let Some(id) = btf.find_by_name_kind(section, BtfKind::Datasec) else {
                continue;
            };
            let Ok(vars) = btf.datasec_vars(id) else {
                continue;
            };
            if vars
                .iter()
                .any(|v| btf.type_name(v.type_id).ok() == Some(name))
            {
                return kind;
            }
        }
        "unknown"
    }

    fn relocations(
        &self,
        object: &mut Object,
        code_index: &HashMap<usize, usize>,
        map_at: &HashMap<(usize, u64), usize>,
        data_maps: &HashMap<usize, usize>,
        btf_maps: &[BtfMapLocation],
    ) -> Result<(), ParseError> {
        let maps_section = self.section_index(".maps");
        for section in &self.sections {
            if section.sh_type != SHT_REL {
                continue;
            }
            let target_index = section.info as usize;
            let target =
                self.sections
                    .get(target_index)
                    .ok_or_else(|| ParseError::BadSectionIndex {
                        index: target_index,
                        what: format!("sh_info of relocation section {}", section.name),
                    })?;
            let is_code = code_index.contains_key(&target_index);
            let is_maps = maps_section == Some(target_index);
            if !is_code && !is_maps {
                // Relocations of debug info, .BTF and .BTF.ext are for linkers; nothing to do.
                continue;
            }
            let rels = match section.header.rel(self.elf_endian, self.data) {
                Ok(Some((rels, _))) => rels,
                Ok(None) => continue,
                Err(e) => return Err(malformed(format!("relocation section {}", section.name), e)),
            };
            for (number, rel) in rels.iter().enumerate() {
                let offset = rel.r_offset(self.elf_endian);
                let sym_index = rel.r_sym(self.elf_endian) as usize;
                let symbol =
                    self.symbols
                        .get(sym_index)
                        .ok_or_else(|| ParseError::SymbolOutOfRange {
                            section: section.name.clone(),
                            relocation: number,
                            symbol: sym_index,
                            count: self.symbols.len(),
                        })?;
                if offset >= target.size {
                    return Err(ParseError::RelocationOutOfRange {
                        section: target.name.clone(),
                        relocation: number,
                        offset,
                        size: target.size,
                    });
                }
                if offset % 8 != 0 {
                    return Err(ParseError::RelocationMisaligned {
                        section: target.name.clone(),
                        relocation: number,
                        offset,
                    });
                }
                if is_maps {
                    self.map_value_relocation(
                        object,
                        target_index,
                        offset,
                        symbol,
                        code_index,
                        map_at,
                        btf_maps,
                    )?;
                } else {
                    let code_section = code_index[&target_index];
                    let insn_index = (offset / 8) as usize;
                    let reloc = self.code_relocation(
                        object,
                        code_section,
                        insn_index,
                        symbol,
                        code_index,
                        map_at,
                        data_maps,
                    )?;
                    if let Some(section) = object.code_sections.get_mut(code_section) {
                        section.relocs.insert(insn_index, reloc);
                    }
                }
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn code_relocation(
        &self,
        object: &Object,
        code_section: usize,
        insn_index: usize,
        symbol: &Symbol,
        code_index: &HashMap<usize, usize>,
        map_at: &HashMap<(usize, u64), usize>,
        data_maps: &HashMap<usize, usize>,
    ) -> Result<Reloc, ParseError> {
        let section = &object.code_sections[code_section];
        let bad = |reason: String| ParseError::BadRelocation {
            section: section.name.clone(),
            insn_index,
            symbol: symbol.name.clone(),
            reason,
        };
        // The offset was checked against the section size, which is a whole number of slots.
        let insn = section
            .insns
            .get(insn_index)
            .copied()
            .ok_or_else(|| bad("instruction out of range".into()))?;
        let is_call = insn.code == crate::insn::BPF_JMP | crate::insn::BPF_CALL;
        if !is_call && !insn.is_ld_imm64() {
            return Err(bad(format!(
                "instruction {:#04x} is neither a call nor an ld_imm64",
                insn.code
            )));
        }
        let reloc = |target| {
            Ok(Reloc {
                symbol: symbol.name.clone(),
                target,
            })
        };
        if symbol.shndx == SHN_UNDEF {
            return reloc(RelocTarget::Extern {
                kind: Self::extern_kind(object.btf.as_ref(), &symbol.name),
            });
        }
        if symbol.shndx >= SHN_LORESERVE {
            return Err(bad(format!(
                "symbol in special section {:#x} (uninitialised global?)",
                symbol.shndx
            )));
        }
        let sym_section = usize::from(symbol.shndx);
        let sym_section_name = self
            .sections
            .get(sym_section)
            .map(|s| s.name.as_str())
            .unwrap_or("?");
        let imm = i64::from(insn.imm);
        let value = i64::try_from(symbol.value)
            .map_err(|_| bad(format!("symbol value {} too large", symbol.value)))?;

        if is_call {
            if insn.src_reg() != crate::consts::BPF_PSEUDO_CALL {
                return Err(bad(format!(
                    "call with src_reg {} cannot be relocated",
                    insn.src_reg()
                )));
            }
            let target_section = *code_index.get(&sym_section).ok_or_else(|| {
                bad(format!(
                    "call target is in non-code section {sym_section_name}"
                ))
            })?;
            if value % 8 != 0 {
                return Err(bad(format!(
                    "call target offset {value} is not on an instruction boundary"
                )));
            }
            // As libbpf: target = symbol offset in instructions + imm + 1 (imm is -1 for calls
            // against function symbols, the section-relative offset for section symbols).
            return reloc(RelocTarget::Call {
                code_section: target_section,
                insn: value / 8 + imm + 1,
            });
        }

        if let Some(&target_section) = code_index.get(&sym_section) {
            // Address of a function (bpf_loop callback ...): byte offset symbol value + imm.
            if value % 8 != 0 || imm % 8 != 0 {
                return Err(bad(format!(
                    "function address {value}+{imm} is not on an instruction boundary"
                )));
            }
            return reloc(RelocTarget::FunctionAddress {
                code_section: target_section,
                insn: (value + imm) / 8,
            });
        }
        if let Some(&map_index) = data_maps.get(&sym_section) {
            let offset = value
                .checked_add(imm)
                .ok_or_else(|| bad("offset overflows".into()))?;
            let size = object
                .maps
                .get(map_index)
                .map(|m| i64::from(m.value_size))
                .unwrap_or(0);
            if offset < 0 || offset > size {
                return Err(bad(format!(
                    "offset {offset} is outside {sym_section_name} ({size} bytes)"
                )));
            }
            return reloc(RelocTarget::Data {
                map_index,
                offset: offset as u32,
            });
        }
        if sym_section_name == "maps" || sym_section_name == ".maps" {
            // A named map symbol carries its offset; a section symbol has it in imm.
            let offset = if symbol.kind == STT_SECTION {
                value + imm
            } else {
                value
            };
            let map_index = u64::try_from(offset)
                .ok()
                .and_then(|o| map_at.get(&(sym_section, o)))
                .ok_or_else(|| bad(format!("no map at offset {offset} of {sym_section_name}")))?;
            return reloc(RelocTarget::Map {
                map_index: *map_index,
            });
        }
        Err(bad(format!(
            "symbol in section {sym_section_name} cannot be referenced from code"
        )))
    }

    #[allow(clippy::too_many_arguments)]
    fn map_value_relocation(
        &self,
        object: &mut Object,
        maps_section: usize,
        offset: u64,
        symbol: &Symbol,
        code_index: &HashMap<usize, usize>,
        map_at: &HashMap<(usize, u64), usize>,
        btf_maps: &[BtfMapLocation],
    ) -> Result<(), ParseError> {
        let bad = |reason: String| ParseError::BadRelocation {
            section: ".maps".into(),
            insn_index: (offset / 8) as usize,
            symbol: symbol.name.clone(),
            reason,
        };
        let location = btf_maps
            .iter()
            .find(|l| offset >= l.offset && offset - l.offset < l.size)
            .ok_or_else(|| bad(format!("offset {offset} is not inside a map definition")))?;
        let map_name = object
            .maps
            .get(location.map_index)
            .map(|m| m.name.clone())
            .unwrap_or_default();
        let values = location
            .values
            .ok_or_else(|| bad(format!("map {map_name} has no values member")))?;
        let slot_offset = (offset - location.offset)
            .checked_sub(u64::from(values.offset))
            .ok_or_else(|| {
                bad(format!(
                    "offset {offset} is before the values of {map_name}"
                ))
            })?;
        if slot_offset % 8 != 0 {
            return Err(bad(format!("offset {offset} is not a slot of {map_name}")));
        }
        let slot =
            u32::try_from(slot_offset / 8).map_err(|_| bad("slot index overflows".into()))?;
        let Some(map) = object.maps.get(location.map_index) else {
            return Ok(());
        };
        if slot >= map.max_entries {
            return Err(ParseError::BadMapDefinition {
                map: map_name,
                reason: format!(
                    "initial value for slot {slot} beyond max_entries {}",
                    map.max_entries
                ),
            });
        }
        let value = if map.is_map_in_map() {
            if usize::from(symbol.shndx) != maps_section {
                return Err(bad("map-in-map values must be maps of .maps".into()));
            }
            let index = map_at
                .get(&(maps_section, symbol.value))
                .ok_or_else(|| bad(format!("no map at offset {} of .maps", symbol.value)))?;
            InitialValue::Map(
                object
                    .maps
                    .get(*index)
                    .map(|m| m.name.clone())
                    .unwrap_or_default(),
            )
        } else {
            let code_section = code_index
                .get(&usize::from(symbol.shndx))
                .ok_or_else(|| bad("prog array values must be programs".into()))?;
            let program = object
                .functions
                .iter()
                .find(|f| {
                    f.code_section == *code_section
                        && f.start as u64 * 8 == symbol.value
                        && f.is_program
                })
                .ok_or_else(|| bad("prog array value is not a program entry point".into()))?;
            InitialValue::Program(program.name.clone())
        };
        if let Some(map) = object.maps.get_mut(location.map_index) {
            map.initial_slots.retain(|(s, _)| *s != slot);
            map.initial_slots.push((slot, value));
            map.initial_slots.sort_by_key(|(s, _)| *s);
        }
        Ok(())
    }

    /// Sizes of the sections and offsets of their symbols, by section name.
    fn section_layouts(&self) -> HashMap<String, SectionLayout> {
        let mut layouts: HashMap<String, SectionLayout> = HashMap::new();
        for section in &self.sections {
            let size = u32::try_from(section.size).unwrap_or(u32::MAX);
            layouts.entry(section.name.clone()).or_default().size = size;
        }
        for sym in &self.symbols {
            let Some(section) = self.sections.get(usize::from(sym.shndx)) else {
                continue;
            };
            if sym.name.is_empty() {
                continue;
            }
            let offset = u32::try_from(sym.value).unwrap_or(u32::MAX);
            layouts
                .entry(section.name.clone())
                .or_default()
                .symbols
                .insert(sym.name.clone(), offset);
        }
        layouts
    }

    fn globals(
        &self,
        data_maps: &HashMap<usize, usize>,
    ) -> Result<Vec<(String, GlobalVariable)>, ParseError> {
        let mut globals = Vec::new();
        for sym in &self.symbols {
            let Some(&map_index) = data_maps.get(&usize::from(sym.shndx)) else {
                continue;
            };
            if sym.kind != STT_OBJECT || sym.name.is_empty() {
                continue;
            }
            let section_size = self
                .sections
                .get(usize::from(sym.shndx))
                .map(|s| s.size)
                .unwrap_or(0);
            if sym
                .value
                .checked_add(sym.size)
                .map_or(true, |end| end > section_size)
            {
                return Err(ParseError::BadSymbol {
                    name: sym.name.clone(),
                    reason: format!(
                        "offset {} + size {} is beyond its section ({section_size} bytes)",
                        sym.value, sym.size
                    ),
                });
            }
            // Both fit: the section is at most MAX_DATA_SECTION bytes.
            globals.push((
                sym.name.clone(),
                GlobalVariable {
                    map_index,
                    offset: sym.value as u32,
                    size: sym.size as u32,
                },
            ));
        }
        Ok(globals)
    }
}
