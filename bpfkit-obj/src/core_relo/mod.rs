//! CO-RE (Compile Once, Run Everywhere) relocation: rewrites a program's field offsets, sizes,
//! type ids and enum values, recorded by clang against the object's own BTF, into the values of
//! the kernel it is about to run on.
//!
//! The semantics are libbpf's (`relo_core.c`): each `bpf_core_relo` record names an instruction,
//! a local type and an access string; candidates of the same *essential* name (flavor suffix
//! `___x` dropped) are searched in the target BTFs — vmlinux first, module BTFs only when vmlinux
//! has none; each candidate that fits gives a value, and all fitting candidates must agree.
//! When nothing fits, existence checks get 0 and everything else *poisons* its instruction
//! (a call to the non-existent helper `0xbad2310`), so code guarded by `bpf_core_field_exists()`
//! still loads while unguarded use fails verification at a recognisable spot.
//!
//! Pure: no syscalls. The caller provides the target BTFs ([`crate::Btf`] values).
//!
//! ```no_run
//! # fn demo(object: &bpfkit_obj::Object, vmlinux: &bpfkit_obj::Btf) -> Result<(), Box<dyn std::error::Error>> {
//! let mut program = object.link_program("handle_exec")?;
//! let report = bpfkit_obj::core_relo::relocate_core(&mut program, object, &[vmlinux])?;
//! for relocation in &report.relocations {
//!     println!("{relocation}");
//! }
//! # Ok(()) }
//! ```

mod compat;
mod spec;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;

pub use compat::{
    essential_name, fields_are_compatible, types_are_compatible, types_match, CompatError,
};

use crate::btf::ext::CoreRelo;
use crate::btf::{Btf, BtfError, BtfKind};
use crate::insn::{
    Insn, BPF_ALU, BPF_ALU64, BPF_B, BPF_CALL, BPF_DW, BPF_H, BPF_JMP, BPF_K, BPF_LD, BPF_LDX,
    BPF_LD_IMM64, BPF_ST, BPF_STX, BPF_W,
};
use crate::relocation::LinkedProgram;
use crate::Object;
use spec::{Matched, Spec, Value};

/// Helper id libbpf writes into a poisoned instruction (`0xbad2310`, "bad relo"); the verifier
/// reports `invalid func unknown#195896080` if such an instruction is reachable.
pub const POISON_HELPER_ID: i32 = 0x0bad_2310;

/// What a relocation recomputes (`enum bpf_core_relo_kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CoreReloKind {
    /// Byte offset of a field (`BPF_CORE_READ`, `__builtin_preserve_access_index`).
    FieldByteOffset,
    /// Byte size of a field (`bpf_core_field_size`).
    FieldByteSize,
    /// 1 if the field exists (`bpf_core_field_exists`).
    FieldExists,
    /// 1 if the field is signed.
    FieldSigned,
    /// Left shift for bitfield extraction (`BPF_CORE_READ_BITFIELD`).
    FieldLshiftU64,
    /// Right shift for bitfield extraction.
    FieldRshiftU64,
    /// The type's id in the object's own BTF (`bpf_core_type_id_local`).
    TypeIdLocal,
    /// The type's id in the target BTF (`bpf_core_type_id_kernel`).
    TypeIdTarget,
    /// 1 if the type exists in the target (`bpf_core_type_exists`).
    TypeExists,
    /// Size of the type in the target (`bpf_core_type_size`).
    TypeSize,
    /// 1 if the enumerator exists (`bpf_core_enum_value_exists`).
    EnumvalExists,
    /// The enumerator's value (`bpf_core_enum_value`).
    EnumvalValue,
    /// 1 if the target type has a matching layout (`bpf_core_type_matches`).
    TypeMatches,
}

impl CoreReloKind {
    /// From the raw `bpf_core_relo.kind`.
    pub fn from_raw(raw: u32) -> Option<CoreReloKind> {
        Some(match raw {
            0 => CoreReloKind::FieldByteOffset,
            1 => CoreReloKind::FieldByteSize,
            2 => CoreReloKind::FieldExists,
            3 => CoreReloKind::FieldSigned,
            4 => CoreReloKind::FieldLshiftU64,
            5 => CoreReloKind::FieldRshiftU64,
            6 => CoreReloKind::TypeIdLocal,
            7 => CoreReloKind::TypeIdTarget,
            8 => CoreReloKind::TypeExists,
            9 => CoreReloKind::TypeSize,
            10 => CoreReloKind::EnumvalExists,
            11 => CoreReloKind::EnumvalValue,
            12 => CoreReloKind::TypeMatches,
            _ => return None,
        })
    }

    /// The raw `bpf_core_relo.kind`.
    pub fn to_raw(self) -> u32 {
        match self {
            CoreReloKind::FieldByteOffset => 0,
            CoreReloKind::FieldByteSize => 1,
            CoreReloKind::FieldExists => 2,
            CoreReloKind::FieldSigned => 3,
            CoreReloKind::FieldLshiftU64 => 4,
            CoreReloKind::FieldRshiftU64 => 5,
            CoreReloKind::TypeIdLocal => 6,
            CoreReloKind::TypeIdTarget => 7,
            CoreReloKind::TypeExists => 8,
            CoreReloKind::TypeSize => 9,
            CoreReloKind::EnumvalExists => 10,
            CoreReloKind::EnumvalValue => 11,
            CoreReloKind::TypeMatches => 12,
        }
    }

    /// Short name, as libbpf prints it (`byte_off`, `type_matches`, ...).
    pub fn name(self) -> &'static str {
        match self {
            CoreReloKind::FieldByteOffset => "byte_off",
            CoreReloKind::FieldByteSize => "byte_sz",
            CoreReloKind::FieldExists => "field_exists",
            CoreReloKind::FieldSigned => "signed",
            CoreReloKind::FieldLshiftU64 => "lshift_u64",
            CoreReloKind::FieldRshiftU64 => "rshift_u64",
            CoreReloKind::TypeIdLocal => "local_type_id",
            CoreReloKind::TypeIdTarget => "target_type_id",
            CoreReloKind::TypeExists => "type_exists",
            CoreReloKind::TypeSize => "type_size",
            CoreReloKind::EnumvalExists => "enumval_exists",
            CoreReloKind::EnumvalValue => "enumval_value",
            CoreReloKind::TypeMatches => "type_matches",
        }
    }

    /// Field relocations (offset, size, existence, signedness, shifts).
    pub fn is_field_based(self) -> bool {
        matches!(
            self,
            CoreReloKind::FieldByteOffset
                | CoreReloKind::FieldByteSize
                | CoreReloKind::FieldExists
                | CoreReloKind::FieldSigned
                | CoreReloKind::FieldLshiftU64
                | CoreReloKind::FieldRshiftU64
        )
    }

    /// Type relocations (ids, existence, size, match).
    pub fn is_type_based(self) -> bool {
        matches!(
            self,
            CoreReloKind::TypeIdLocal
                | CoreReloKind::TypeIdTarget
                | CoreReloKind::TypeExists
                | CoreReloKind::TypeSize
                | CoreReloKind::TypeMatches
        )
    }

    /// Enumerator relocations.
    pub fn is_enumval_based(self) -> bool {
        matches!(
            self,
            CoreReloKind::EnumvalExists | CoreReloKind::EnumvalValue
        )
    }
}

impl fmt::Display for CoreReloKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why one relocation could not be computed or applied (as opposed to *poisoned*, which is a
/// normal outcome).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreFailure {
    /// The record's kind number is not one of the 13 kinds.
    #[error("unknown CO-RE relocation kind {kind}")]
    UnknownKind {
        /// Raw kind.
        kind: u32,
    },
    /// The access string is not a list of indexes.
    #[error("bad access string {access:?}: {reason}")]
    BadAccessString {
        /// The string.
        access: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The access string does not fit the local type.
    #[error("access string {access:?} does not fit the local type: {reason}")]
    AccessMismatch {
        /// The string.
        access: String,
        /// What is wrong.
        reason: String,
    },
    /// Candidate search needs a name; the local type is anonymous.
    #[error("{kind} relocations need a named type, the local type is anonymous")]
    AnonymousType {
        /// Relocation kind.
        kind: CoreReloKind,
    },
    /// Several target candidates fit but give different answers.
    #[error(
        "ambiguous: candidate {first} gives {first_value}, candidate {second} gives {second_value}"
    )]
    Ambiguous {
        /// First candidate, `btf#index [id] name`.
        first: String,
        /// Its result.
        first_value: String,
        /// Disagreeing candidate.
        second: String,
        /// Its result.
        second_value: String,
    },
    /// A bitfield that no single load of up to 8 bytes covers.
    #[error("bitfield `{path}` cannot be read with one load of at most 8 bytes")]
    BitfieldTooWide {
        /// Access path.
        path: String,
    },
    /// Shift/size relocations do not apply to an array element.
    #[error("{kind} cannot be applied to an array element")]
    ArrayAccess {
        /// Relocation kind.
        kind: CoreReloKind,
    },
    /// Internal kind dispatch mismatch (a record whose kind changed meaning).
    #[error("{kind} is not computed this way")]
    UnexpectedKind {
        /// Relocation kind.
        kind: CoreReloKind,
    },
    /// An offset or size that does not fit the arithmetic.
    #[error("offset or size overflows")]
    TargetOverflow,
    /// Type comparison nested past its bound.
    #[error("type comparison nested too deeply (reference loop?)")]
    TooDeep,
    /// Malformed BTF (local or target).
    #[error(transparent)]
    Btf(#[from] BtfError),
    /// The record points outside the function's instructions.
    #[error("instruction {insn} is outside the program ({len} instructions)")]
    InstructionOutOfRange {
        /// Instruction index in the linked program.
        insn: usize,
        /// Program length.
        len: usize,
    },
    /// The instruction is not one a CO-RE relocation can patch.
    #[error("instruction {insn} (opcode {code:#04x}) cannot take this relocation: {reason}")]
    UnexpectedInstruction {
        /// Instruction index.
        insn: usize,
        /// Opcode.
        code: u8,
        /// What is wrong.
        reason: &'static str,
    },
    /// The instruction does not hold the value the local BTF says it should: the record and the
    /// code disagree, so patching would be guesswork.
    #[error("instruction {insn} holds {found}, the local BTF says {expected}")]
    UnexpectedValue {
        /// Instruction index.
        insn: usize,
        /// Value in the instruction.
        found: u64,
        /// Value computed from the local BTF.
        expected: u64,
    },
    /// The target value does not fit the instruction field.
    #[error("value {value} does not fit the instruction's {field}")]
    ValueTooLarge {
        /// Value.
        value: u64,
        /// `"offset"` or `"immediate"`.
        field: &'static str,
    },
}

/// Failure of [`relocate_core`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// The `.BTF.ext` CO-RE records could not be read.
    #[error("cannot read the CO-RE relocations in .BTF.ext: {0}")]
    MalformedExt(BtfError),
    /// The object has CO-RE records but no `.BTF` section to interpret them.
    #[error("the object has CO-RE relocations but no .BTF section")]
    MissingBtf,
    /// One relocation failed.
    #[error(transparent)]
    Relocation(Box<CoreRelocationError>),
}

/// One relocation that could not be computed or applied, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "CO-RE relocation #{index} ({kind}) of `{path}` at instruction {insn} (function `{function}`): {source}"
)]
pub struct CoreRelocationError {
    /// Index of the record in its section.
    pub index: usize,
    /// Function the instruction belongs to.
    pub function: String,
    /// Instruction index in the linked program.
    pub insn: usize,
    /// Relocation kind name (or the raw number when unknown).
    pub kind: String,
    /// Access path (`task_struct.pid`) or, when it could not be resolved, type and raw string.
    pub path: String,
    /// Why.
    pub source: CoreFailure,
}

/// A target type a relocation was resolved against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreTarget {
    /// Index in the `targets` slice given to the resolver (0 is normally vmlinux).
    pub btf_index: usize,
    /// Type id in that BTF.
    pub type_id: u32,
    /// Its access path there (`task_struct.pid`), or the type name for type relocations.
    pub path: String,
}

/// The result of one relocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoreOutcome {
    /// The instruction now carries `value`.
    Relocated {
        /// New value.
        value: u64,
        /// Where it came from; `None` when nothing matched and 0 was the answer (existence
        /// checks, type size of a missing type) or for local type ids.
        target: Option<CoreTarget>,
    },
    /// The instruction was replaced by a call to helper [`POISON_HELPER_ID`].
    Poisoned {
        /// Why, in plain words.
        reason: String,
    },
}

/// What one relocation computed, before it is written into an instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreResolution {
    /// Kind.
    pub kind: CoreReloKind,
    /// Local root type id.
    pub local_type_id: u32,
    /// Local root type name (`"<anon>"` when anonymous).
    pub local_type_name: String,
    /// The access as names: `task_struct.pid`, `arr[2].x`, `color::RED`, `task_struct`.
    pub path: String,
    /// The access string as recorded.
    pub access: String,
    /// Value computed from the local BTF: what the compiler put in the instruction.
    pub local_value: u64,
    /// Relocated value or poison.
    pub outcome: CoreOutcome,
    /// Whether the instruction's value is checked against `local_value` before patching.
    pub validate: bool,
    /// Field byte size on each side, for resizing loads/stores (0 when not applicable).
    pub local_mem_size: u32,
    /// See `local_mem_size`.
    pub target_mem_size: u32,
    /// Changing the load size would change the value read (signed or non-integer field whose
    /// size differs): memory-access instructions get poisoned instead.
    pub mem_size_mismatch: bool,
}

/// One applied relocation, for the loader's error messages and `bpfkit inspect`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreRelocationReport {
    /// Function the instruction belongs to.
    pub function: String,
    /// ELF section of that function.
    pub section: String,
    /// Instruction index in the section.
    pub section_insn: usize,
    /// Instruction index in the linked program.
    pub insn_index: usize,
    /// The computed relocation (its `outcome` updated if patching poisoned the instruction).
    pub resolution: CoreResolution,
}

impl fmt::Display for CoreRelocationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.resolution;
        write!(
            f,
            "insn {} ({}): {} of `{}`: ",
            self.insn_index, self.function, r.kind, r.path
        )?;
        match &r.outcome {
            CoreOutcome::Relocated { value, target } => {
                write!(f, "{} -> {}", r.local_value, value)?;
                if let Some(target) = target {
                    write!(
                        f,
                        " (target btf#{} [{}] {})",
                        target.btf_index, target.type_id, target.path
                    )?;
                }
                Ok(())
            }
            CoreOutcome::Poisoned { reason } => write!(f, "poisoned because {reason}"),
        }
    }
}

/// Every CO-RE relocation applied to one linked program.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoreReport {
    /// In the order applied.
    pub relocations: Vec<CoreRelocationReport>,
}

impl CoreReport {
    /// The poisoned relocation at linked instruction `insn_index`, if any.
    pub fn poisoned_at(&self, insn_index: usize) -> Option<&CoreRelocationReport> {
        self.relocations.iter().find(|r| {
            matches!(r.resolution.outcome, CoreOutcome::Poisoned { .. })
                && (r.insn_index == insn_index
                    // An ld_imm64 is poisoned in both slots.
                    || r.insn_index.checked_add(1) == Some(insn_index))
        })
    }

    /// Relocations that poisoned their instruction.
    pub fn poisoned(&self) -> impl Iterator<Item = &CoreRelocationReport> {
        self.relocations
            .iter()
            .filter(|r| matches!(r.resolution.outcome, CoreOutcome::Poisoned { .. }))
    }

    /// If the verifier rejected the program on a poisoned instruction, a sentence naming the
    /// relocation: type, access path, instruction, and why it could not be satisfied.
    ///
    /// The verifier logs the failing instruction as `N: (85) call unknown#195896080` followed by
    /// `invalid func unknown#195896080`; the last such `N` before that error is the culprit.
    pub fn explain_verifier_log(&self, log: &str) -> Option<String> {
        let marker = format!("unknown#{POISON_HELPER_ID}");
        let mut last_insn: Option<usize> = None;
        for line in log.lines() {
            let trimmed = line.trim_start();
            if trimmed.starts_with("invalid func") && trimmed.contains(&marker) {
                let report = match last_insn {
                    Some(insn) => self.poisoned_at(insn),
                    None => None,
                }
                .or_else(|| {
                    // Without a usable instruction line, a single poisoned relocation is still
                    // unambiguous.
                    let mut poisoned = self.poisoned();
                    let first = poisoned.next();
                    if poisoned.next().is_some() {
                        None
                    } else {
                        first
                    }
                })?;
                return Some(poisoned_sentence(report));
            }
            if trimmed.contains(&marker) {
                let digits: String = trimmed.chars().take_while(|c| c.is_ascii_digit()).collect();
                if trimmed[digits.len()..].starts_with(':') {
                    last_insn = digits.parse().ok();
                }
            }
        }
        None
    }
}

fn poisoned_sentence(report: &CoreRelocationReport) -> String {
    let r = &report.resolution;
    let reason = match &r.outcome {
        CoreOutcome::Poisoned { reason } => reason.as_str(),
        CoreOutcome::Relocated { .. } => "it was relocated",
    };
    format!(
        "instruction {} of function `{}` uses CO-RE relocation {} of `{}` (local type `{}`), which \
         cannot be satisfied on this kernel: {reason}; guard the access with \
         bpf_core_field_exists()/bpf_core_type_exists() or provide a matching type flavor",
        report.insn_index, report.function, r.kind, r.path, r.local_type_name
    )
}

/// Computes CO-RE relocations of one local BTF against an ordered list of target BTFs, caching
/// the candidate search per local type.
pub struct CoreResolver<'a> {
    local: &'a Btf,
    targets: &'a [&'a Btf],
    /// Candidates by local type id: (target index, type id).
    candidates: HashMap<u32, Vec<(usize, u32)>>,
}

impl<'a> CoreResolver<'a> {
    /// A resolver for programs whose BTF is `local`, against `targets` in priority order
    /// (vmlinux, then module BTFs; or a user-supplied BTF alone).
    pub fn new(local: &'a Btf, targets: &'a [&'a Btf]) -> CoreResolver<'a> {
        CoreResolver {
            local,
            targets,
            candidates: HashMap::new(),
        }
    }

    /// Target types named like local type `local_id` (flavors ignored) of a relocatable kind,
    /// from the first target BTF that has any (libbpf looks at modules only when vmlinux has
    /// no candidate).
    pub fn candidates(&mut self, local_id: u32) -> Result<&[(usize, u32)], CoreFailure> {
        if !self.candidates.contains_key(&local_id) {
            let found = find_candidates(self.local, local_id, self.targets)?;
            self.candidates.insert(local_id, found);
        }
        Ok(self
            .candidates
            .get(&local_id)
            .map(Vec::as_slice)
            .unwrap_or(&[]))
    }

    /// Computes one relocation record (libbpf `bpf_core_calc_relo_insn`).
    pub fn resolve(&mut self, relo: &CoreRelo) -> Result<CoreResolution, CoreFailure> {
        let kind = CoreReloKind::from_raw(relo.kind)
            .ok_or(CoreFailure::UnknownKind { kind: relo.kind })?;
        let local = self.local;
        let local_type = local.type_by_id(relo.type_id)?;
        let local_name = local.string_at(local_type.name_offset())?;
        let access = local.string_at(relo.access_str_off)?;
        let local_spec = spec::parse_spec(local, relo.type_id, access, kind)?;
        let path = local_spec.path(kind);
        let mut resolution = CoreResolution {
            kind,
            local_type_id: relo.type_id,
            local_type_name: if local_name.is_empty() {
                "<anon>".to_owned()
            } else {
                local_name.to_owned()
            },
            path: path.clone(),
            access: access.to_owned(),
            local_value: 0,
            outcome: CoreOutcome::Relocated {
                value: 0,
                target: None,
            },
            validate: true,
            local_mem_size: 0,
            target_mem_size: 0,
            mem_size_mismatch: false,
        };

        if kind == CoreReloKind::TypeIdLocal {
            // Ids can be renumbered when objects are linked together: no check.
            resolution.validate = false;
            resolution.local_value = u64::from(relo.type_id);
            resolution.outcome = CoreOutcome::Relocated {
                value: u64::from(relo.type_id),
                target: None,
            };
            return Ok(resolution);
        }
        if local_name.is_empty() {
            return Err(CoreFailure::AnonymousType { kind });
        }

        let candidates = self.candidates(relo.type_id)?.to_vec();
        // (candidate spec, computed result, description) of the first fitting candidate.
        let mut chosen: Option<(Spec<'a>, Computed, CoreTarget)> = None;
        for (btf_index, target_id) in candidates {
            let Some(target) = self.targets.get(btf_index).copied() else {
                continue;
            };
            let candidate = match spec::match_spec(&local_spec, kind, target, target_id)? {
                Matched::Yes(candidate) => candidate,
                Matched::No => continue,
            };
            let computed = compute(kind, &local_spec, Some(&candidate), &path)?;
            let described = CoreTarget {
                btf_index,
                type_id: target_id,
                path: candidate.path(kind),
            };
            match &chosen {
                None => chosen = Some((candidate, computed, described)),
                Some((first_spec, first, first_target)) => {
                    let offsets_differ =
                        kind.is_field_based() && candidate.bit_offset != first_spec.bit_offset;
                    if offsets_differ || computed.target_key() != first.target_key() {
                        return Err(CoreFailure::Ambiguous {
                            first: format!(
                                "btf#{} [{}] {}",
                                first_target.btf_index, first_target.type_id, first_target.path
                            ),
                            first_value: first.describe(first_spec.bit_offset, kind),
                            second: format!("btf#{btf_index} [{target_id}] {}", described.path),
                            second_value: computed.describe(candidate.bit_offset, kind),
                        });
                    }
                }
            }
        }

        let (computed, target) = match chosen {
            Some((_, computed, target)) => (computed, Some(target)),
            None => (compute(kind, &local_spec, None, &path)?, None),
        };
        resolution.local_value = computed.local.value;
        resolution.validate = computed.local.validate;
        resolution.outcome = match computed.target {
            Value::Known(value) => {
                resolution.target_mem_size = value.mem_size;
                CoreOutcome::Relocated {
                    value: value.value,
                    // Existence checks that found nothing carry no target.
                    target,
                }
            }
            Value::Poison(reason) => CoreOutcome::Poisoned { reason },
        };
        resolution.local_mem_size = computed.local.mem_size;
        resolution.mem_size_mismatch = computed.mem_size_mismatch;
        Ok(resolution)
    }
}

/// Local and target values of one relocation for one candidate.
struct Computed {
    local: spec::FieldValue,
    target: Value,
    mem_size_mismatch: bool,
}

impl Computed {
    /// What must agree between candidates: poison or not, and the value.
    fn target_key(&self) -> (bool, u64) {
        match &self.target {
            Value::Known(v) => (false, v.value),
            Value::Poison(_) => (true, 0),
        }
    }

    fn describe(&self, bit_offset: u64, kind: CoreReloKind) -> String {
        match &self.target {
            Value::Known(v) if kind.is_field_based() => {
                format!("{} (bit offset {bit_offset})", v.value)
            }
            Value::Known(v) => v.value.to_string(),
            Value::Poison(reason) => format!("failure ({reason})"),
        }
    }
}

fn compute(
    kind: CoreReloKind,
    local: &Spec<'_>,
    target: Option<&Spec<'_>>,
    path: &str,
) -> Result<Computed, CoreFailure> {
    let value_of = |s: Option<&Spec<'_>>| -> Result<Value, CoreFailure> {
        if kind.is_field_based() {
            spec::field_value(kind, s, path)
        } else if kind.is_type_based() {
            spec::type_value(kind, s)
        } else {
            spec::enum_value(kind, s, path)
        }
    };
    let local_value = match value_of(Some(local))? {
        Value::Known(v) => v,
        // The local side always exists; a poison here means the record contradicts itself.
        Value::Poison(reason) => {
            return Err(CoreFailure::AccessMismatch {
                access: String::new(),
                reason,
            })
        }
    };
    let target_value = value_of(target)?;
    let mut mem_size_mismatch = false;
    if let (Value::Known(t), Some(target_spec)) = (&target_value, target) {
        if kind.is_field_based() && local_value.mem_size != t.mem_size {
            // Resizing a load keeps the value only for pointers (32-bit kernels) and unsigned
            // integers (zero extension); anything else would read garbage.
            let local_type = local.btf.type_by_id(local_value.mem_type_id)?;
            let target_type = target_spec.btf.type_by_id(t.mem_type_id)?;
            let both_ptr = local_type.kind() == BtfKind::Ptr && target_type.kind() == BtfKind::Ptr;
            let unsigned_int =
                |ty: &crate::btf::BtfType<'_>| ty.int_info().is_some_and(|i| i.encoding & 1 == 0);
            let both_unsigned = unsigned_int(&local_type) && unsigned_int(&target_type);
            mem_size_mismatch = !(both_ptr || both_unsigned);
        }
    }
    Ok(Computed {
        local: local_value,
        target: target_value,
        mem_size_mismatch,
    })
}

fn find_candidates(
    local: &Btf,
    local_id: u32,
    targets: &[&Btf],
) -> Result<Vec<(usize, u32)>, CoreFailure> {
    let local_type = local.type_by_id(local_id)?;
    let local_name = local.string_at(local_type.name_offset())?;
    let wanted = essential_name(local_name);
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    // Kinds a target type may have to be a candidate: the local kind, and either enum kind
    // for an enum (they convert into each other across kernels).
    let kinds = match local_type.kind() {
        BtfKind::Enum | BtfKind::Enum64 => vec![BtfKind::Enum, BtfKind::Enum64],
        other => vec![other],
    };
    for (index, target) in targets.iter().enumerate() {
        // The per-kind name index (hash of the essential name) finds them without walking
        // every type of a big kernel BTF.
        let mut found: Vec<(usize, u32)> = kinds
            .iter()
            .flat_map(|&kind| target.candidates_by_essential_name(local_name, kind))
            .map(|id| (index, id))
            .collect();
        if !found.is_empty() {
            found.sort_unstable();
            return Ok(found);
        }
    }
    Ok(Vec::new())
}

fn size_bytes(code: u8) -> u32 {
    match code & 0x18 {
        BPF_DW => 8,
        BPF_W => 4,
        BPF_H => 2,
        _ => 1,
    }
}

fn size_code(bytes: u32) -> Option<u8> {
    match bytes {
        8 => Some(BPF_DW),
        4 => Some(BPF_W),
        2 => Some(BPF_H),
        1 => Some(BPF_B),
        _ => None,
    }
}

fn poison(insns: &mut [Insn], index: usize) {
    let wide = insns.get(index).is_some_and(|i| i.code == BPF_LD_IMM64);
    let call = Insn::new(BPF_JMP | BPF_CALL, 0, 0, 0, POISON_HELPER_ID);
    if let Some(slot) = insns.get_mut(index) {
        *slot = call;
    }
    // The second ld_imm64 slot would otherwise read as "unknown opcode 00".
    if wide {
        if let Some(slot) = index.checked_add(1).and_then(|i| insns.get_mut(i)) {
            *slot = call;
        }
    }
}

/// Writes `resolution` into instruction `index` of `insns` (libbpf `bpf_core_patch_insn`):
/// ALU/ALU64 immediates, LDX/ST/STX offsets (and access size when the field's size changed
/// safely), or the 64-bit immediate of an `ld_imm64`; poisons when the resolution says so or
/// when a load/store size cannot be adjusted. Returns the final outcome.
pub fn patch_instruction(
    insns: &mut [Insn],
    index: usize,
    resolution: &CoreResolution,
) -> Result<CoreOutcome, CoreFailure> {
    let len = insns.len();
    let insn = *insns
        .get(index)
        .ok_or(CoreFailure::InstructionOutOfRange { insn: index, len })?;
    let new_value = match &resolution.outcome {
        CoreOutcome::Poisoned { .. } => {
            poison(insns, index);
            return Ok(resolution.outcome.clone());
        }
        CoreOutcome::Relocated { value, .. } => *value,
    };
    let expected = resolution.local_value;
    let class = insn.code & 0x07;
    let unexpected = |found: u64| CoreFailure::UnexpectedValue {
        insn: index,
        found,
        expected,
    };
    match class {
        BPF_ALU | BPF_ALU64 => {
            if insn.code & 0x08 != BPF_K {
                return Err(CoreFailure::UnexpectedInstruction {
                    insn: index,
                    code: insn.code,
                    reason: "register-source ALU instruction has no immediate",
                });
            }
            // The immediate is sign-extended, as the C comparison with a 64-bit value does.
            let current = i64::from(insn.imm) as u64;
            if resolution.validate && current != expected {
                return Err(unexpected(current));
            }
            // Fits when the 32-bit immediate reproduces the value, zero- or sign-extended.
            let fits =
                new_value <= u64::from(u32::MAX) || (new_value as i64) >= i64::from(i32::MIN);
            if !fits {
                return Err(CoreFailure::ValueTooLarge {
                    value: new_value,
                    field: "immediate",
                });
            }
            if let Some(slot) = insns.get_mut(index) {
                slot.imm = new_value as i32;
            }
        }
        BPF_LDX | BPF_ST | BPF_STX => {
            let current = i64::from(insn.off) as u64;
            if resolution.validate && current != expected {
                return Err(unexpected(current));
            }
            if new_value > i16::MAX as u64 {
                return Err(CoreFailure::ValueTooLarge {
                    value: new_value,
                    field: "offset",
                });
            }
            if resolution.mem_size_mismatch {
                poison(insns, index);
                return Ok(CoreOutcome::Poisoned {
                    reason: format!(
                        "field `{}` changed size from {} to {} bytes and is neither a pointer nor an \
                         unsigned integer, so the load/store cannot be resized safely",
                        resolution.path, resolution.local_mem_size, resolution.target_mem_size
                    ),
                });
            }
            let mut patched = insn;
            patched.off = new_value as i16;
            if resolution.local_mem_size != resolution.target_mem_size {
                if size_bytes(insn.code) != resolution.local_mem_size {
                    return Err(CoreFailure::UnexpectedInstruction {
                        insn: index,
                        code: insn.code,
                        reason: "access size differs from the field's local size",
                    });
                }
                let size = size_code(resolution.target_mem_size).ok_or(
                    CoreFailure::UnexpectedInstruction {
                        insn: index,
                        code: insn.code,
                        reason: "the target field size is not 1, 2, 4 or 8 bytes",
                    },
                )?;
                patched.code = (insn.code & !0x18) | size;
            }
            if let Some(slot) = insns.get_mut(index) {
                *slot = patched;
            }
        }
        BPF_LD => {
            let next = index.checked_add(1).and_then(|i| insns.get(i)).copied();
            let well_formed = insn.code == BPF_LD_IMM64
                && insn.src_reg() == 0
                && insn.off == 0
                && next.is_some_and(|n| n.code == 0 && n.regs == 0 && n.off == 0);
            let Some(next) = next.filter(|_| well_formed) else {
                return Err(CoreFailure::UnexpectedInstruction {
                    insn: index,
                    code: insn.code,
                    reason: "not a plain ld_imm64",
                });
            };
            let current = u64::from(insn.imm as u32) | (u64::from(next.imm as u32) << 32);
            if resolution.validate && current != expected {
                return Err(unexpected(current));
            }
            if let Some(slot) = insns.get_mut(index) {
                slot.imm = new_value as u32 as i32;
            }
            if let Some(slot) = insns.get_mut(index + 1) {
                slot.imm = (new_value >> 32) as u32 as i32;
            }
        }
        _ => {
            return Err(CoreFailure::UnexpectedInstruction {
                insn: index,
                code: insn.code,
                reason: "only ALU immediates, memory offsets and ld_imm64 are relocatable",
            })
        }
    }
    Ok(resolution.outcome.clone())
}

/// Applies every CO-RE relocation of the functions making up `program` (as laid out by
/// [`Object::link_program`]), resolving against `targets` in priority order (vmlinux first, then
/// module BTFs; or a single user-supplied BTF).
///
/// Unsatisfiable relocations poison their instruction (see [`POISON_HELPER_ID`]) and are listed
/// in the report with the reason; hard failures (malformed records, ambiguity, an instruction
/// that does not hold what the local BTF says) are errors naming the relocation.
pub fn relocate_core(
    program: &mut LinkedProgram,
    object: &Object,
    targets: &[&Btf],
) -> Result<CoreReport, CoreError> {
    let mut report = CoreReport::default();
    let Some(ext) = object.btf_ext.as_ref() else {
        return Ok(report);
    };
    if let Some(err) = &ext.core_relo_error {
        return Err(CoreError::MalformedExt(err.clone()));
    }
    let uses_core = program
        .functions
        .iter()
        .any(|f| !ext.core_relos_of(&f.section).is_empty());
    if !uses_core {
        return Ok(report);
    }
    let local = object.btf.as_ref().ok_or(CoreError::MissingBtf)?;
    let mut resolver = CoreResolver::new(local, targets);
    for function in &program.functions {
        let start = function.section_insn;
        let end = start.saturating_add(function.len);
        for (index, relo) in ext.core_relos_of(&function.section).iter().enumerate() {
            let section_insn = relo.insn as usize;
            if !(start..end).contains(&section_insn) {
                continue;
            }
            let insn_index = function.start_insn + (section_insn - start);
            let fail = |source: CoreFailure, path: String| {
                CoreError::Relocation(Box::new(CoreRelocationError {
                    index,
                    function: function.name.clone(),
                    insn: insn_index,
                    kind: CoreReloKind::from_raw(relo.kind)
                        .map(|k| k.name().to_owned())
                        .unwrap_or_else(|| format!("kind {}", relo.kind)),
                    path,
                    source,
                }))
            };
            let raw_path = || {
                let name = local.type_name(relo.type_id).unwrap_or("<bad type id>");
                let access = local
                    .string_at(relo.access_str_off)
                    .unwrap_or("<bad string offset>");
                format!("[{}] {} + {}", relo.type_id, name, access)
            };
            let mut resolution = resolver.resolve(relo).map_err(|e| fail(e, raw_path()))?;
            let outcome = patch_instruction(&mut program.instructions, insn_index, &resolution)
                .map_err(|e| fail(e, resolution.path.clone()))?;
            if let CoreOutcome::Poisoned { reason } = &outcome {
                log::debug!(
                    "CO-RE: poisoned insn {insn_index} ({}) of `{}`: {reason}",
                    resolution.kind,
                    resolution.path
                );
            }
            resolution.outcome = outcome;
            report.relocations.push(CoreRelocationReport {
                function: function.name.clone(),
                section: function.section.clone(),
                section_insn,
                insn_index,
                resolution,
            });
        }
    }
    Ok(report)
}
