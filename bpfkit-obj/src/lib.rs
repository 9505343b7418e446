//! bpfkit-obj: the pure object model of bpfkit.
//!
//! Parses eBPF ELF objects produced by clang into plain data ([`Object`]): programs, maps (legacy,
//! BTF-defined, global data), BTF, relocations; links programs with their subprograms
//! ([`Object::link_program`]); decodes and prints instructions. No system calls: everything here
//! works on bytes and can be inspected or edited before anything touches a kernel.
#![warn(missing_docs)]

pub mod btf;
pub mod consts;
pub mod core_relo;
pub mod error;
pub mod externs;
pub mod insn;
pub mod maps;
mod object;
pub mod program;
pub mod relocation;
pub mod rust_core;
pub mod section;
pub mod uapi;

pub use btf::{Btf, BtfError};
pub use error::{ParseError, RelocationError};
pub use externs::{Extern, ExternKind, KconfigExtern, KconfigType, KsymKind};
pub use insn::disasm::Disassembler;
pub use insn::Insn;
pub use maps::{DataSection, InitialValue, MapKind, MapSpec, Pinning};
pub use object::Object;
pub use program::ProgramSpec;
pub use relocation::{
    ExternRelocKind, ExternRelocation, GlobalVariable, LinkedFunction, LinkedProgram, MapRelocKind,
    MapRelocation, RelocationInfo, RelocationKind,
};
pub use section::{parse_section, SectionDef};
