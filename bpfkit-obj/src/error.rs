//! Errors of the object model: [`ParseError`] for `Object::parse`, [`RelocationError`] for
//! `Object::link_program`. BTF has its own [`crate::btf::BtfError`].

use crate::btf::BtfError;

/// An ELF file that is not a usable eBPF object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The data does not start with the ELF magic.
    #[error("not an ELF file")]
    NotElf,
    /// An ELF file of another class, byte order encoding or machine.
    #[error("not an eBPF object: {reason}")]
    WrongMachine {
        /// What was found instead (e.g. "e_machine 62, expected EM_BPF (247)").
        reason: String,
    },
    /// The file ends before something it declares.
    #[error("truncated ELF: {what}")]
    Truncated {
        /// The structure that does not fit.
        what: String,
    },
    /// The `object` crate rejected a structure.
    #[error("malformed ELF ({context}): {message}")]
    Malformed {
        /// What was being read.
        context: String,
        /// The reader's message.
        message: String,
    },
    /// A section index (in a symbol, a relocation section's `sh_info`, `sh_link` ...) that does
    /// not name a section.
    #[error("bad section index {index} in {what}")]
    BadSectionIndex {
        /// The index.
        index: usize,
        /// Where it was found.
        what: String,
    },
    /// A relocation names a symbol beyond the symbol table.
    #[error("relocation #{relocation} in section {section} refers to symbol {symbol}, the table has {count}")]
    SymbolOutOfRange {
        /// Section whose relocations are read.
        section: String,
        /// Relocation number.
        relocation: usize,
        /// Symbol index.
        symbol: usize,
        /// Number of symbols.
        count: usize,
    },
    /// A relocation offset beyond the section.
    #[error("relocation #{relocation} in section {section}: offset {offset} is beyond the section ({size} bytes)")]
    RelocationOutOfRange {
        /// Relocated section.
        section: String,
        /// Relocation number.
        relocation: usize,
        /// `r_offset`.
        offset: u64,
        /// Section size.
        size: u64,
    },
    /// A relocation in code that does not point at the start of an instruction.
    #[error("relocation #{relocation} in section {section}: offset {offset} is not on an instruction boundary")]
    RelocationMisaligned {
        /// Relocated section.
        section: String,
        /// Relocation number.
        relocation: usize,
        /// `r_offset`.
        offset: u64,
    },
    /// A relocation this crate does not understand (on an instruction that takes none, against a
    /// symbol in a section it cannot point to ...).
    #[error(
        "section {section}, instruction {insn_index}: bad relocation against {symbol}: {reason}"
    )]
    BadRelocation {
        /// Relocated section.
        section: String,
        /// Instruction index in the section.
        insn_index: usize,
        /// Symbol name.
        symbol: String,
        /// What is wrong.
        reason: String,
    },
    /// An executable section whose size is not a whole number of instructions.
    #[error("code section {section} is {size} bytes, not a multiple of 8")]
    BadCodeSectionSize {
        /// Section name.
        section: String,
        /// Its size.
        size: u64,
    },
    /// A function symbol that does not describe whole instructions inside its section.
    #[error("function {name} in section {section}: {reason}")]
    BadFunction {
        /// Symbol name.
        name: String,
        /// Section name.
        section: String,
        /// What is wrong.
        reason: String,
    },
    /// A map type number this crate does not know (newer than Linux 6.18, or garbage).
    #[error("map {map}: unknown map type {map_type}")]
    UnknownMapType {
        /// Map name.
        map: String,
        /// The number.
        map_type: u32,
    },
    /// A size or count that overflows (a map's `max_entries * value_size`, a section size that
    /// does not fit in 32 bits ...).
    #[error("size overflow: {what}")]
    SizeOverflow {
        /// What overflowed.
        what: String,
    },
    /// A map definition that cannot be used.
    #[error("map {map}: {reason}")]
    BadMapDefinition {
        /// Map name.
        map: String,
        /// What is wrong.
        reason: String,
    },
    /// A BTF map definition field this crate does not know (libbpf rejects these too).
    #[error("map {map}: unknown field {field}")]
    UnknownMapField {
        /// Map name.
        map: String,
        /// Field name.
        field: String,
    },
    /// A `.maps` section but no `.BTF` to describe it.
    #[error("the object has a .maps section but no .BTF section to describe it")]
    MissingBtfForMaps,
    /// The `.BTF` section is malformed, or lacks what `.maps` needs.
    #[error("BTF: {0}")]
    Btf(#[from] BtfError),
    /// The `.bpfkit.core` section (Rust CO-RE slot records) is malformed.
    #[error(transparent)]
    RustCore(#[from] crate::rust_core::RustCoreError),
    /// The `license` section is not a NUL-terminated string.
    #[error("the license section is not a NUL-terminated UTF-8 string")]
    BadLicense,
    /// The `version` section is not 4 bytes.
    #[error("the version section is {size} bytes, expected 4")]
    BadVersion {
        /// Its size.
        size: u64,
    },
    /// A symbol that does not fit its section.
    #[error("symbol {name}: {reason}")]
    BadSymbol {
        /// Symbol name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// Two programs with the same name.
    #[error("duplicate program name {name}")]
    DuplicateProgram {
        /// The name.
        name: String,
    },
}

/// A program that cannot be linked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelocationError {
    /// No program (entry point) with that name.
    #[error("no program named {name}")]
    ProgramNotFound {
        /// The name asked for.
        name: String,
    },
    /// A reference to an extern that BTF places in neither `.kconfig` nor `.ksyms`.
    #[error("program {program}: extern {symbol}: {} are not supported yet", extern_feature(.kind))]
    UnsupportedExtern {
        /// Program being linked.
        program: String,
        /// Extern symbol name.
        symbol: String,
        /// What kind of extern: `".kconfig"` variable, `".ksyms"` kernel symbol or kfunc, or
        /// `"unknown"`.
        kind: &'static str,
    },
    /// An extern used in a way its kind does not allow (calling a `.kconfig` value ...).
    #[error("program {program}: instruction {insn_index} uses extern {symbol}: {reason}")]
    ExternMisuse {
        /// Program being linked.
        program: String,
        /// Extern symbol name.
        symbol: String,
        /// Instruction index in the linked program.
        insn_index: usize,
        /// What is wrong.
        reason: String,
    },
    /// A call or function reference whose target is not the start of a function.
    #[error("program {program}: instruction {insn_index} of {function} targets instruction {target} of section {section}, which does not start a function")]
    BadCallTarget {
        /// Program being linked.
        program: String,
        /// Function containing the call.
        function: String,
        /// Instruction index inside that function.
        insn_index: usize,
        /// Section of the target.
        section: String,
        /// Target instruction index in that section (negative when before its start).
        target: i64,
    },
    /// An `ld_imm64` whose second slot is missing.
    #[error("program {program}: ld_imm64 at instruction {insn_index} of {function} is truncated")]
    TruncatedLdImm64 {
        /// Program being linked.
        program: String,
        /// Function containing it.
        function: String,
        /// Instruction index inside that function.
        insn_index: usize,
    },
    /// The linked program is too large for 32-bit call offsets.
    #[error("program {program} is too large to link ({insns} instructions)")]
    TooLarge {
        /// Program being linked.
        program: String,
        /// Instructions so far.
        insns: usize,
    },
}

/// What resolving an extern of this kind involves, for messages.
fn extern_feature(kind: &str) -> &'static str {
    match kind {
        ".kconfig" => "Kconfig externs (.kconfig, a read-only mmapable map filled from the kernel config; Linux 5.5)",
        ".ksyms" => "kernel symbol externs (.ksyms: typed ksyms need BTF ids, Linux 5.10; kfuncs Linux 5.13)",
        _ => "extern symbols that BTF does not place in .kconfig or .ksyms",
    }
}
