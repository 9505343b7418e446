//! Programs: entry points of the object.

use crate::insn::Insn;
use crate::section::SectionDef;

/// One program (entry point) of the object, as written: its own instructions, unrelocated.
/// [`crate::Object::link_program`] adds the subprograms it calls and lists its map references.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramSpec {
    /// Function symbol name.
    pub name: String,
    /// ELF section name, as written (including a leading `?`).
    pub section_name: String,
    /// What the section name means; `None` when libbpf's table does not know it.
    pub section: Option<SectionDef>,
    /// The function's own instructions.
    pub instructions: Vec<Insn>,
    /// The object's license.
    pub license: String,
    /// The object's `version` section, when present.
    pub kernel_version: Option<u32>,
}

impl ProgramSpec {
    /// Whether the loader should load this program by default (`false` for `SEC("?...")` and
    /// for sections the table does not know, which have no program type).
    pub fn autoload(&self) -> bool {
        self.section.as_ref().is_some_and(|s| s.autoload)
    }
}
