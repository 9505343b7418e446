//! Linking: a program plus every subprogram it reaches, with calls and function references fixed
//! and map references listed for the loader.
//!
//! Semantics follow libbpf's `bpf_object__reloc_code`: each reachable function is appended once,
//! in the order first reached; a `call` (`src_reg = BPF_PSEUDO_CALL`) or a function address
//! (`ld_imm64`, `src_reg = BPF_PSEUDO_FUNC`) gets `imm = target - (insn + 1)` in the linked program.

use std::collections::HashMap;

use crate::consts::*;
use crate::error::RelocationError;
use crate::externs::{ExternKind, KsymKind};
use crate::insn::{Insn, BPF_CALL, BPF_JMP, BPF_LD_IMM64};
use crate::maps::MapKind;
use crate::object::{Object, RelocTarget};

/// How an `ld_imm64` refers to a map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapRelocKind {
    /// The map itself (`src_reg = BPF_PSEUDO_MAP_FD`): the loader puts the map fd in `imm`.
    Fd,
    /// An address inside the map's single value (`src_reg = BPF_PSEUDO_MAP_VALUE`): the loader
    /// puts the map fd in `imm`; the next slot's `imm` already holds `offset`.
    Value {
        /// Byte offset in the value.
        offset: u32,
    },
}

/// An `ld_imm64` of the linked program that needs a map fd.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MapRelocation {
    /// Index of the first slot of the `ld_imm64` in [`LinkedProgram::instructions`].
    pub insn_index: usize,
    /// Index in [`Object::maps`].
    pub map_index: usize,
    /// Fd or value reference.
    pub kind: MapRelocKind,
}

/// Where a function ended up in a linked program (for BTF `func_info`/`line_info` later).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LinkedFunction {
    /// Function symbol name.
    pub name: String,
    /// ELF section it came from.
    pub section: String,
    /// Index in the section of its first instruction.
    pub section_insn: usize,
    /// Index of its first instruction in the linked program.
    pub start_insn: usize,
    /// Number of instruction slots.
    pub len: usize,
}

/// How an instruction uses a `.ksyms` extern.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExternRelocKind {
    /// An `ld_imm64` of the symbol's address. The loader makes it `src_reg = BPF_PSEUDO_BTF_ID`
    /// with the kernel BTF id (typed variables, kfunc addresses), or a plain 64-bit constant
    /// with the `/proc/kallsyms` address (typeless symbols) or 0 (weak symbols the kernel lacks).
    Load,
    /// A call of a kfunc: the linker already set `src_reg = BPF_PSEUDO_KFUNC_CALL`; the loader
    /// puts the kernel BTF `FUNC` id in `imm` (or poisons the call when a weak kfunc is absent).
    Call,
}

/// An instruction of the linked program that refers to a `.ksyms` extern. (`.kconfig` externs
/// need no entry here: they are plain [`MapRelocKind::Value`] references into the `.kconfig` map.)
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExternRelocation {
    /// Index of the instruction (first slot of an `ld_imm64`) in [`LinkedProgram::instructions`].
    pub insn_index: usize,
    /// The extern's symbol name ([`Object::extern_by_name`]).
    pub name: String,
    /// Address load or kfunc call.
    pub kind: ExternRelocKind,
}

/// A program ready for the loader: only map fds and kernel symbols remain to be filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkedProgram {
    /// Instructions: the program, then each reached subprogram.
    pub instructions: Vec<Insn>,
    /// `ld_imm64`s to patch with map fds.
    pub map_relocations: Vec<MapRelocation>,
    /// Instructions that use `.ksyms` externs, to patch with what the kernel has.
    pub extern_relocations: Vec<ExternRelocation>,
    /// Layout, program first.
    pub functions: Vec<LinkedFunction>,
}

/// What a relocation in code refers to, for inspection.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RelocationKind {
    /// A map (fd reference).
    MapFd {
        /// Index in [`Object::maps`].
        map_index: usize,
    },
    /// A global variable (value reference into a data map).
    MapValue {
        /// Index in [`Object::maps`].
        map_index: usize,
        /// Byte offset in the value.
        offset: u32,
    },
    /// A call to a function.
    Call {
        /// Section of the callee.
        target_section: String,
        /// Instruction index of the callee in its section.
        target_insn: i64,
    },
    /// The address of a function (callback).
    FunctionAddress {
        /// Section of the function.
        target_section: String,
        /// Instruction index of the function in its section.
        target_insn: i64,
    },
    /// An extern (`.kconfig` value or `.ksyms` kernel symbol), resolved by the loader.
    Extern {
        /// `".kconfig"`, `".ksyms"` or `"unknown"`.
        kind: &'static str,
    },
}

/// One relocation of the object, for `bpfkit inspect`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RelocationInfo {
    /// Relocated (code) section.
    pub section: String,
    /// Instruction index in that section.
    pub insn_index: usize,
    /// Symbol name (the section name for section symbols).
    pub symbol: String,
    /// What it refers to.
    pub kind: RelocationKind,
}

/// A global variable: a symbol in a data section.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GlobalVariable {
    /// Index of the data map in [`Object::maps`].
    pub map_index: usize,
    /// Byte offset in the map's value.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
}

fn is_ld_imm64(insn: &Insn) -> bool {
    insn.code == BPF_LD_IMM64
}

fn is_pseudo_call(insn: &Insn) -> bool {
    insn.code == BPF_JMP | BPF_CALL && insn.src_reg() == BPF_PSEUDO_CALL
}

/// Links program `name` of `object`.
pub(crate) fn link(object: &Object, name: &str) -> Result<LinkedProgram, RelocationError> {
    let entry = object
        .functions
        .iter()
        .position(|f| f.is_program && f.name == name)
        .ok_or_else(|| RelocationError::ProgramNotFound {
            name: name.to_owned(),
        })?;
    let too_large = |insns: usize| RelocationError::TooLarge {
        program: name.to_owned(),
        insns,
    };

    let mut out: Vec<Insn> = Vec::new();
    let mut map_relocations = Vec::new();
    let mut extern_relocations = Vec::new();
    let mut functions: Vec<LinkedFunction> = Vec::new();
    let mut placed: HashMap<usize, usize> = HashMap::new();
    let mut order: Vec<usize> = vec![entry];

    let append = |func_index: usize, out: &mut Vec<Insn>, functions: &mut Vec<LinkedFunction>| {
        let func = &object.functions[func_index];
        let section = &object.code_sections[func.code_section];
        let start = out.len();
        // Function bounds were checked against the section at parse time.
        out.extend_from_slice(
            section
                .insns
                .get(func.start..func.start + func.len)
                .unwrap_or(&[]),
        );
        functions.push(LinkedFunction {
            name: func.name.clone(),
            section: section.name.clone(),
            section_insn: func.start,
            start_insn: start,
            len: func.len,
        });
        start
    };
    placed.insert(entry, append(entry, &mut out, &mut functions));

    let mut next = 0;
    while let Some(&func_index) = order.get(next) {
        next += 1;
        let func = &object.functions[func_index];
        let section = &object.code_sections[func.code_section];
        let base = placed[&func_index];
        let mut j = 0;
        while j < func.len {
            let section_insn = func.start + j;
            let out_index = base + j;
            let insn = out[out_index];
            let reloc = section.relocs.get(&section_insn);
            let wide = is_ld_imm64(&insn);
            if wide && j + 1 >= func.len {
                return Err(RelocationError::TruncatedLdImm64 {
                    program: name.to_owned(),
                    function: func.name.clone(),
                    insn_index: j,
                });
            }

            // Which function does this instruction reach, if any?
            let target: Option<(usize, i64)> = match reloc.map(|r| &r.target) {
                Some(RelocTarget::Call {
                    code_section,
                    insn: target,
                }) if is_pseudo_call(&insn) => Some((*code_section, *target)),
                Some(RelocTarget::FunctionAddress {
                    code_section,
                    insn: target,
                }) if wide => Some((*code_section, *target)),
                None if is_pseudo_call(&insn) || (wide && insn.src_reg() == BPF_PSEUDO_FUNC) => {
                    // Already pc-relative inside the section (static calls clang resolved itself).
                    Some((
                        func.code_section,
                        section_insn as i64 + i64::from(insn.imm) + 1,
                    ))
                }
                _ => None,
            };

            if let Some((target_section, target_insn)) = target {
                let callee = object
                    .functions
                    .iter()
                    .position(|f| f.code_section == target_section && target_insn == f.start as i64)
                    .ok_or_else(|| RelocationError::BadCallTarget {
                        program: name.to_owned(),
                        function: func.name.clone(),
                        insn_index: j,
                        section: object.code_sections[target_section].name.clone(),
                        target: target_insn,
                    })?;
                let callee_start = match placed.get(&callee) {
                    Some(&start) => start,
                    None => {
                        let start = append(callee, &mut out, &mut functions);
                        placed.insert(callee, start);
                        order.push(callee);
                        start
                    }
                };
                let relative = callee_start as i64 - out_index as i64 - 1;
                let relative = i32::try_from(relative).map_err(|_| too_large(out.len()))?;
                out[out_index].imm = relative;
                if wide {
                    out[out_index].set_src_reg(BPF_PSEUDO_FUNC);
                    out[out_index + 1].imm = 0;
                }
            } else if let Some(reloc) = reloc {
                match &reloc.target {
                    RelocTarget::Map { map_index } => {
                        out[out_index].set_src_reg(BPF_PSEUDO_MAP_FD);
                        out[out_index].imm = 0;
                        map_relocations.push(MapRelocation {
                            insn_index: out_index,
                            map_index: *map_index,
                            kind: MapRelocKind::Fd,
                        });
                    }
                    RelocTarget::Data { map_index, offset } => {
                        out[out_index].set_src_reg(BPF_PSEUDO_MAP_VALUE);
                        out[out_index].imm = 0;
                        out[out_index + 1].imm = *offset as i32;
                        map_relocations.push(MapRelocation {
                            insn_index: out_index,
                            map_index: *map_index,
                            kind: MapRelocKind::Value { offset: *offset },
                        });
                    }
                    RelocTarget::Extern { kind } => {
                        let misuse = |reason: &str| RelocationError::ExternMisuse {
                            program: name.to_owned(),
                            symbol: reloc.symbol.clone(),
                            insn_index: out_index,
                            reason: reason.to_owned(),
                        };
                        let ext = object.extern_by_name(&reloc.symbol).ok_or_else(|| {
                            RelocationError::UnsupportedExtern {
                                program: name.to_owned(),
                                symbol: reloc.symbol.clone(),
                                kind,
                            }
                        })?;
                        match (&ext.kind, wide) {
                            (ExternKind::Kconfig(k), true) => {
                                let map_index = object
                                    .maps
                                    .iter()
                                    .position(|m| m.kind == MapKind::Kconfig)
                                    .ok_or_else(|| misuse("the object has no .kconfig map"))?;
                                // As libbpf: the address is the extern's place in the map.
                                out[out_index].set_src_reg(BPF_PSEUDO_MAP_VALUE);
                                out[out_index].imm = 0;
                                out[out_index + 1].imm = k.offset as i32;
                                map_relocations.push(MapRelocation {
                                    insn_index: out_index,
                                    map_index,
                                    kind: MapRelocKind::Value { offset: k.offset },
                                });
                            }
                            (ExternKind::Kconfig(_), false) => {
                                return Err(misuse("a .kconfig value cannot be called"));
                            }
                            (ExternKind::Ksym(_), true) => {
                                out[out_index].set_src_reg(0);
                                out[out_index].imm = 0;
                                out[out_index + 1].imm = 0;
                                extern_relocations.push(ExternRelocation {
                                    insn_index: out_index,
                                    name: ext.name.clone(),
                                    kind: ExternRelocKind::Load,
                                });
                            }
                            (ExternKind::Ksym(KsymKind::Function { .. }), false) => {
                                out[out_index].set_src_reg(BPF_PSEUDO_KFUNC_CALL);
                                out[out_index].imm = 0;
                                out[out_index].off = 0;
                                extern_relocations.push(ExternRelocation {
                                    insn_index: out_index,
                                    name: ext.name.clone(),
                                    kind: ExternRelocKind::Call,
                                });
                            }
                            (ExternKind::Ksym(_), false) => {
                                return Err(misuse("a kernel variable cannot be called"));
                            }
                        }
                    }
                    // A call relocation on a non-call instruction was rejected at parse time.
                    RelocTarget::Call { .. } | RelocTarget::FunctionAddress { .. } => {}
                }
            }
            j += if wide { 2 } else { 1 };
        }
    }
    if out.len() > i32::MAX as usize {
        return Err(too_large(out.len()));
    }
    Ok(LinkedProgram {
        instructions: out,
        map_relocations,
        extern_relocations,
        functions,
    })
}
