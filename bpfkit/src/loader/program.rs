//! One program: link, relocate (maps, externs, CO-RE), resolve its attach target, load.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use bpfkit_obj::btf::ext::{FUNC_INFO_REC_SIZE, LINE_INFO_REC_SIZE};
use bpfkit_obj::btf::Btf;
use bpfkit_obj::consts::{
    BPF_PSEUDO_BTF_ID, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE,
};
use bpfkit_obj::core_relo::CoreReport;
use bpfkit_obj::insn::Insn;
use bpfkit_obj::uapi::prog_type;
use bpfkit_obj::{ExternRelocKind, LinkedProgram, MapRelocKind, Object, ProgramSpec};

use super::VerifierLogLevel;
use crate::externs::KsymValue;
use crate::maps::MapData;
use crate::programs::{ProgramError, VerifierError};
use crate::sys::{self, ProgLoad};

/// `BPF_JMP | BPF_CALL`.
const BPF_JMP_CALL: u8 = 0x85;
/// Base of the helper number a call of an absent weak kfunc is turned into (libbpf's value, so
/// verifier messages read the same).
const POISON_CALL_KFUNC_BASE: i32 = 2_002_000_000;

/// Links, relocates and loads one program; returns its fd, instruction count and the verifier
/// log when one was asked for.
pub(super) fn load_program(
    object: &Object,
    spec: &ProgramSpec,
    maps: &[Option<MapData>],
    ksyms: &HashMap<String, KsymValue>,
    btf_fd: Option<BorrowedFd<'_>>,
    target_btf: Option<&Btf>,
    log_level: VerifierLogLevel,
) -> Result<(OwnedFd, usize, Option<String>), ProgramError> {
    let section = spec
        .section
        .as_ref()
        .ok_or_else(|| ProgramError::UnknownSection {
            name: spec.name.clone(),
            section: spec.section_name.clone(),
        })?;
    let attach_btf_id = if needs_kernel_btf_target(section.prog_type) {
        Some(resolve_attach_target(spec, section)?)
    } else {
        None
    };
    let mut linked =
        object
            .link_program(&spec.name)
            .map_err(|source| ProgramError::Relocation {
                name: spec.name.clone(),
                source,
            })?;
    let core_report = relocate_core(object, spec, &mut linked, target_btf)?;
    let mut insns: Vec<Insn> = linked.instructions.clone();
    for reloc in &linked.map_relocations {
        let map_name = object
            .maps
            .get(reloc.map_index)
            .map(|m| m.name.as_str())
            .unwrap_or("?");
        let missing = |reason| ProgramError::MissingMap {
            program: spec.name.clone(),
            map: map_name.to_string(),
            reason,
        };
        let map = maps
            .get(reloc.map_index)
            .and_then(Option::as_ref)
            .ok_or_else(|| missing("it was taken out of the collection or not created"))?;
        let fd = map.fd().as_raw_fd();
        let insn_index = reloc.insn_index;
        match reloc.kind {
            MapRelocKind::Fd => {
                let insn = insns
                    .get_mut(insn_index)
                    .ok_or_else(|| missing("relocation outside the program"))?;
                insn.set_src_reg(BPF_PSEUDO_MAP_FD);
                insn.imm = fd;
            }
            MapRelocKind::Value { offset } => {
                let insn = insns
                    .get_mut(insn_index)
                    .ok_or_else(|| missing("relocation outside the program"))?;
                insn.set_src_reg(BPF_PSEUDO_MAP_VALUE);
                insn.imm = fd;
                let next = insns
                    .get_mut(insn_index + 1)
                    .ok_or_else(|| missing("relocation outside the program"))?;
                next.imm = offset as i32;
            }
        }
    }
    patch_externs(object, spec, &linked, ksyms, &mut insns)?;
    // Func and line info only mean something next to the object's BTF.
    let ext_info = if btf_fd.is_some() {
        object.program_ext_info(&linked)
    } else {
        Default::default()
    };
    let attr = ProgLoad {
        prog_btf_fd: btf_fd,
        func_info: &ext_info.func_info,
        func_info_rec_size: FUNC_INFO_REC_SIZE,
        line_info: &ext_info.line_info,
        line_info_rec_size: LINE_INFO_REC_SIZE,
        prog_type: section.prog_type,
        expected_attach_type: section.expected_attach_type.unwrap_or(0),
        insns: &insns,
        license: &spec.license,
        kern_version: spec.kernel_version.unwrap_or(0),
        prog_flags: section.flags,
        name: &spec.name,
        log_level: log_level.bits(),
        attach_btf_id: attach_btf_id.unwrap_or(0),
        ..ProgLoad::default()
    };
    match sys::prog_load(&attr) {
        Ok((fd, log)) => Ok((
            fd,
            insns.len(),
            if log_level.is_empty() {
                None
            } else {
                Some(log)
            },
        )),
        Err(err) => {
            // A verifier failure at a poisoned instruction is a CO-RE relocation the target
            // kernel cannot satisfy: say which, in words.
            let note = core_report
                .as_ref()
                .and_then(|report| report.explain_verifier_log(&err.log));
            let error = VerifierError::new(&spec.name, err.source, err.log, err.log_truncated);
            Err(ProgramError::Verifier(Box::new(match note {
                Some(note) => error.with_note(note),
                None => error,
            })))
        }
    }
}

/// Applies the program's CO-RE relocations against the target BTF (the user's, else the running
/// kernel's, read only when the program has relocations). Returns the report, or `None` when
/// the program has no relocations.
fn relocate_core(
    object: &Object,
    spec: &ProgramSpec,
    linked: &mut LinkedProgram,
    target_btf: Option<&Btf>,
) -> Result<Option<CoreReport>, ProgramError> {
    let has_relocations = object.btf_ext.as_ref().is_some_and(|ext| {
        linked
            .functions
            .iter()
            .any(|f| !ext.core_relos_of(&f.section).is_empty())
    });
    if !has_relocations {
        return Ok(None);
    }
    let kernel;
    let target = match target_btf {
        Some(btf) => btf,
        None => {
            kernel = crate::btf::kernel_btf().map_err(|err| ProgramError::Unsupported {
                name: spec.name.clone(),
                feature: "CO-RE relocations".to_string(),
                reason: format!(
                    "{err}; give the loader a target BTF file (EbpfLoader::target_btf)"
                ),
            })?;
            &*kernel
        }
    };
    let core_error = |source| ProgramError::Core {
        name: spec.name.clone(),
        source,
    };
    let unrelocated = linked.clone();
    let report =
        bpfkit_obj::core_relo::relocate_core(linked, object, &[target]).map_err(core_error)?;
    // Types that vmlinux lacks may live in a module: only then is module BTF read (each module
    // once per process; a broken module file is skipped), and the relocation redone with vmlinux
    // first, as libbpf searches.
    if target_btf.is_some() || report.poisoned().next().is_none() {
        return Ok(Some(report));
    }
    let modules: Vec<Arc<Btf>> = match crate::btf::ModuleBtfs::kernel() {
        Ok(modules) => modules.map(|(_, btf)| btf).collect(),
        Err(_) => Vec::new(),
    };
    if modules.is_empty() {
        return Ok(Some(report));
    }
    let mut targets: Vec<&Btf> = vec![target];
    targets.extend(modules.iter().map(|btf| &**btf));
    *linked = unrelocated;
    bpfkit_obj::core_relo::relocate_core(linked, object, &targets)
        .map(Some)
        .map_err(core_error)
}

/// Puts what each `.ksyms` extern resolved to into the instructions that use it (libbpf's
/// `RELO_EXTERN_LD64` and `RELO_EXTERN_CALL`).
fn patch_externs(
    object: &Object,
    spec: &ProgramSpec,
    linked: &LinkedProgram,
    ksyms: &HashMap<String, KsymValue>,
    insns: &mut [Insn],
) -> Result<(), ProgramError> {
    for reloc in &linked.extern_relocations {
        let bad = |reason: &str| ProgramError::Unsupported {
            name: spec.name.clone(),
            feature: format!("extern `{}`", reloc.name),
            reason: reason.to_string(),
        };
        let value = *ksyms
            .get(&reloc.name)
            .ok_or_else(|| bad("it was not resolved when the object loaded"))?;
        let index = reloc.insn_index;
        match reloc.kind {
            ExternRelocKind::Load => {
                let (src_reg, low, high) = match value {
                    // vmlinux: the second slot holds the BTF object fd, 0 for vmlinux.
                    KsymValue::BtfId(id) => (BPF_PSEUDO_BTF_ID, id as i32, 0),
                    KsymValue::Address(address) => {
                        (0, address as u32 as i32, (address >> 32) as i32)
                    }
                    KsymValue::Absent => (0, 0, 0),
                };
                let insn = insns
                    .get_mut(index)
                    .ok_or_else(|| bad("relocation outside the program"))?;
                insn.set_src_reg(src_reg);
                insn.imm = low;
                insns
                    .get_mut(index + 1)
                    .ok_or_else(|| bad("relocation outside the program"))?
                    .imm = high;
            }
            ExternRelocKind::Call => {
                let insn = insns
                    .get_mut(index)
                    .ok_or_else(|| bad("relocation outside the program"))?;
                match value {
                    KsymValue::BtfId(id) => {
                        insn.set_src_reg(BPF_PSEUDO_KFUNC_CALL);
                        insn.imm = id as i32;
                        // The index of the BTF object in fd_array: 0 is vmlinux.
                        insn.off = 0;
                    }
                    _ => {
                        // A weak kfunc the kernel lacks: an invalid helper call with a number
                        // that names the extern (libbpf's poisoning), so only a reachable call
                        // fails, with "invalid func unknown#2002000000+index".
                        let ext_index = object
                            .externs()
                            .iter()
                            .position(|e| e.name == reloc.name)
                            .unwrap_or(0);
                        insn.code = BPF_JMP_CALL;
                        insn.regs = 0;
                        insn.off = 0;
                        insn.imm = POISON_CALL_KFUNC_BASE.saturating_add(ext_index as i32);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Loads the object's BTF into the kernel. Failure is not fatal (libbpf behaves the same): maps
/// and programs load without it, though programs that need it (callbacks, global functions with
/// typed arguments) will then be refused with the verifier's reason.
pub(super) fn load_object_btf(object: &Object) -> Option<OwnedFd> {
    // Older kernels lack some BTF kinds; the probes say which, and those are rewritten the way
    // such kernels accept (libbpf's sanitizing).
    let features = crate::features::btf_features();
    let prepared = object.kernel_btf()?.and_then(|raw| {
        if features.needs_sanitizing() {
            Btf::parse(&raw)?.sanitized(&features)
        } else {
            Ok(raw)
        }
    });
    let raw = match prepared {
        Ok(raw) => raw,
        Err(err) => {
            log::warn!("object BTF cannot be prepared for the kernel, loading without it: {err}");
            return None;
        }
    };
    match sys::btf_load(&raw, 0) {
        Ok(fd) => Some(fd),
        Err(err) => {
            log::warn!("the kernel refused the object's BTF, loading without it: {err}");
            None
        }
    }
}

/// The kernel BTF id of the function or hook a tracing/LSM program names in its section.
fn resolve_attach_target(
    spec: &ProgramSpec,
    section: &bpfkit_obj::SectionDef,
) -> Result<u32, ProgramError> {
    use crate::btf::AttachTargetError;
    let target = section.attach_target.as_deref().unwrap_or("");
    let unsupported = |feature: String, reason: String| ProgramError::Unsupported {
        name: spec.name.clone(),
        feature,
        reason,
    };
    let btf = crate::btf::kernel_btf()
        .map_err(|err| unsupported(format!("`{}` programs", section.kind), err.to_string()))?;
    crate::btf::attach_btf_id(
        &btf,
        section.prog_type,
        section.expected_attach_type,
        target,
    )
    .map_err(|err| match err {
        AttachTargetError::Missing => unsupported(
            format!("section `{}`", spec.section_name),
            "it names no attach target (expected e.g. `fentry/do_unlinkat`)".to_string(),
        ),
        AttachTargetError::NotFound { kind, name } => unsupported(
            format!("attach target `{target}`"),
            format!("the running kernel's BTF has no {kind} `{name}`"),
        ),
        AttachTargetError::Unsupported(what) => unsupported(
            what.to_string(),
            "not implemented by bpfkit yet".to_string(),
        ),
    })
}

/// Tracing, LSM, extension and struct_ops programs name a kernel function or type that must be
/// found in kernel BTF at load time.
fn needs_kernel_btf_target(prog_type: u32) -> bool {
    matches!(
        prog_type,
        prog_type::BPF_PROG_TYPE_TRACING
            | prog_type::BPF_PROG_TYPE_LSM
            | prog_type::BPF_PROG_TYPE_EXT
            | prog_type::BPF_PROG_TYPE_STRUCT_OPS
    )
}
