//! CO-RE relocation of a real clang object (`tests/core/core_relo.bpf.c`) against the running
//! kernel's BTF — every value checked against the same BTF read through the `Btf` API — and
//! against synthetic target BTF.

use std::collections::HashSet;

use bpfkit_obj::btf::builder::{BtfBuilder, MemberSpec, INT_SIGNED};
use bpfkit_obj::btf::{BtfKind, BtfMember};
use bpfkit_obj::core_relo::{
    relocate_core, CoreOutcome, CoreReloKind, CoreRelocationReport, CoreReport, POISON_HELPER_ID,
};
use bpfkit_obj::{Btf, Object};

const OBJECT: &[u8] = include_bytes!("core/core_relo.bpf.o");
const OBJECT_BE: &[u8] = include_bytes!("core/core_relo.bpfeb.o");
const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

fn kernel_btf(test: &str) -> Option<Btf> {
    match std::fs::read(VMLINUX) {
        Ok(bytes) => Some(Btf::parse(&bytes).expect("kernel BTF parses")),
        Err(err) => {
            println!("skipped: {test}: cannot read {VMLINUX}: {err}");
            None
        }
    }
}

fn named_member(btf: &Btf, struct_id: u32, name: &str) -> BtfMember {
    btf.members(struct_id)
        .unwrap()
        .into_iter()
        .find(|m| btf.string_at(m.name_offset).unwrap() == name)
        .unwrap_or_else(|| panic!("no member {name}"))
}

fn byte_offset(btf: &Btf, struct_id: u32, name: &str) -> u64 {
    u64::from(named_member(btf, struct_id, name).bit_offset / 8)
}

fn enumerator(btf: &Btf, enum_name: &str, value_name: &str) -> u64 {
    let id = btf.find_by_name_kind(enum_name, BtfKind::Enum).unwrap();
    btf.type_by_id(id)
        .unwrap()
        .enum_values()
        .find(|v| btf.string_at(v.name_offset).unwrap() == value_name)
        .map(|v| v.value)
        .unwrap()
}

/// Independent statement of libbpf's bitfield load rule: the smallest power-of-two load, at
/// least the storage type's size, aligned to itself, covering all the bits.
fn bitfield_load(bit_offset: u64, bits: u64, storage: u64) -> (u64, u64) {
    let mut size = storage;
    loop {
        let offset = bit_offset / 8 / size * size;
        if bit_offset + bits <= (offset + size) * 8 {
            return (offset, size);
        }
        size *= 2;
    }
}

/// What each relocation of `core_all` must resolve to, computed from `target`.
fn expected(
    target: &Btf,
    local: &Btf,
    relocation: &CoreRelocationReport,
    little_endian: bool,
) -> Option<u64> {
    use CoreReloKind::*;
    let task = target.find_by_name_kind("task_struct", BtfKind::Struct)?;
    let r = &relocation.resolution;
    let in_execve = named_member(target, task, "in_execve");
    let (bf_off, bf_size) = bitfield_load(
        u64::from(in_execve.bit_offset),
        u64::from(in_execve.bitfield_size),
        target.resolve_size(in_execve.type_id).unwrap(),
    );
    let value = match (r.path.as_str(), r.kind) {
        ("task_struct.pid", FieldByteOffset) => byte_offset(target, task, "pid"),
        ("task_struct.pid", FieldExists) => 1,
        ("task_struct.pid", FieldSigned) => 1,
        ("task_struct.tgid", FieldByteOffset) => byte_offset(target, task, "tgid"),
        ("task_struct.flags", FieldByteOffset) => byte_offset(target, task, "flags"),
        ("task_struct.comm", FieldByteSize) => target
            .resolve_size(named_member(target, task, "comm").type_id)
            .unwrap(),
        ("task_struct.comm[3]", FieldByteOffset) => byte_offset(target, task, "comm") + 3,
        ("task_struct.tasks.next", FieldByteOffset) => {
            let list = target.find_by_name_kind("list_head", BtfKind::Struct)?;
            byte_offset(target, task, "tasks") + byte_offset(target, list, "next")
        }
        ("task_struct.in_execve", FieldByteOffset) => bf_off,
        ("task_struct.in_execve", FieldByteSize) => bf_size,
        ("task_struct.in_execve", FieldSigned) => 0,
        ("task_struct.in_execve", FieldLshiftU64) => {
            let start = u64::from(in_execve.bit_offset) - bf_off * 8;
            let bits = u64::from(in_execve.bitfield_size);
            if little_endian {
                64 - (start + bits)
            } else {
                (8 - bf_size) * 8 + start
            }
        }
        ("task_struct.in_execve", FieldRshiftU64) => 64 - u64::from(in_execve.bitfield_size),
        ("task_struct", TypeExists) => 1,
        ("task_struct", TypeSize) => target.resolve_size(task).unwrap(),
        ("task_struct", TypeIdTarget) => u64::from(task),
        ("task_struct", TypeIdLocal) => u64::from(
            local
                .find_by_name_kind("task_struct", BtfKind::Struct)
                .unwrap(),
        ),
        ("list_head", TypeMatches) => 1,
        ("list_head___bad", TypeMatches) => 0,
        ("bpf_map_type___local::BPF_MAP_TYPE_ARENA___local", EnumvalExists) => 1,
        ("bpf_map_type___local::BPF_MAP_TYPE_ARENA___local", EnumvalValue) => {
            enumerator(target, "bpf_map_type", "BPF_MAP_TYPE_ARENA")
        }
        ("bpf_map_type___local::BPF_MAP_TYPE_BPFKIT_GONE___local", EnumvalExists) => 0,
        ("bpfkit_no_such_type", TypeExists) => 0,
        ("task_struct___old.state", FieldExists) => 0,
        ("task_struct.bpfkit_missing_field", FieldExists) => 0,
        _ => return None,
    };
    Some(value)
}

fn relocated_value(relocation: &CoreRelocationReport) -> Option<u64> {
    match relocation.resolution.outcome {
        CoreOutcome::Relocated { value, .. } => Some(value),
        CoreOutcome::Poisoned { .. } => None,
    }
}

/// Checks every relocation of `report` against `expected`, the one poisoned read, and that all
/// 13 kinds were exercised.
fn check_core_all(report: &CoreReport, target: &Btf, local: &Btf, little_endian: bool) {
    let mut kinds = HashSet::new();
    for relocation in &report.relocations {
        kinds.insert(relocation.resolution.kind);
        if relocation.resolution.path == "task_struct.bpfkit_missing_field"
            && relocation.resolution.kind == CoreReloKind::FieldByteOffset
        {
            assert!(
                matches!(relocation.resolution.outcome, CoreOutcome::Poisoned { .. }),
                "{relocation}"
            );
            continue;
        }
        let want = expected(target, local, relocation, little_endian)
            .unwrap_or_else(|| panic!("no expectation for {relocation}"));
        assert_eq!(relocated_value(relocation), Some(want), "{relocation}");
    }
    let all = [
        CoreReloKind::FieldByteOffset,
        CoreReloKind::FieldByteSize,
        CoreReloKind::FieldExists,
        CoreReloKind::FieldSigned,
        CoreReloKind::FieldLshiftU64,
        CoreReloKind::FieldRshiftU64,
        CoreReloKind::TypeIdLocal,
        CoreReloKind::TypeIdTarget,
        CoreReloKind::TypeExists,
        CoreReloKind::TypeSize,
        CoreReloKind::EnumvalExists,
        CoreReloKind::EnumvalValue,
        CoreReloKind::TypeMatches,
    ];
    for kind in all {
        assert!(kinds.contains(&kind), "kind {kind} not exercised");
    }
}

#[test]
fn object_carries_core_relocation_records() {
    let object = Object::parse(OBJECT).unwrap();
    let ext = object.btf_ext.as_ref().expect(".BTF.ext");
    assert!(ext.core_relo_error.is_none());
    assert!(ext.core_relos_of("raw_tp/sys_enter").len() >= 25);
    assert!(!ext.core_relos_of("?tp_btf/sched_switch").is_empty());
    assert!(ext.core_relos_of("no/such/section").is_empty());
}

#[test]
fn every_kind_against_the_running_kernel() {
    let Some(vmlinux) = kernel_btf("every_kind_against_the_running_kernel") else {
        return;
    };
    let object = Object::parse(OBJECT).unwrap();
    let local = object.btf.as_ref().unwrap();
    let mut program = object.link_program("core_all").unwrap();
    let before = program.instructions.clone();
    let report = relocate_core(&mut program, &object, &[&vmlinux]).unwrap();
    check_core_all(&report, &vmlinux, local, true);

    // The instructions carry the values: check the ones that are immediates or offsets.
    for relocation in &report.relocations {
        let insn = program.instructions[relocation.insn_index];
        match &relocation.resolution.outcome {
            CoreOutcome::Poisoned { .. } => {
                assert_eq!(insn.imm, POISON_HELPER_ID);
                assert_ne!(before[relocation.insn_index], insn);
            }
            CoreOutcome::Relocated { value, .. } => {
                let class = insn.code & 7;
                if class == 0x04 || class == 0x07 {
                    assert_eq!(i64::from(insn.imm) as u64, *value, "{relocation}");
                } else if class == 0x00 {
                    let next = program.instructions[relocation.insn_index + 1];
                    let wide = u64::from(insn.imm as u32) | (u64::from(next.imm as u32) << 32);
                    assert_eq!(wide, *value, "{relocation}");
                }
            }
        }
    }
    // Every report line is plain words.
    for relocation in &report.relocations {
        let line = relocation.to_string();
        println!("{line}");
        assert!(line.contains(&relocation.resolution.path), "{line}");
    }
}

#[test]
fn direct_loads_get_kernel_offsets() {
    let Some(vmlinux) = kernel_btf("direct_loads_get_kernel_offsets") else {
        return;
    };
    let object = Object::parse(OBJECT).unwrap();
    let mut program = object.link_program("core_direct").unwrap();
    let report = relocate_core(&mut program, &object, &[&vmlinux]).unwrap();
    let task = vmlinux
        .find_by_name_kind("task_struct", BtfKind::Struct)
        .unwrap();
    let mut checked = 0;
    for relocation in &report.relocations {
        let insn = program.instructions[relocation.insn_index];
        let field = relocation
            .resolution
            .path
            .trim_start_matches("task_struct.");
        if insn.code & 7 == 0x01 {
            // LDX: the offset is the kernel's, the size the field's.
            assert_eq!(
                insn.off as u64,
                byte_offset(&vmlinux, task, field),
                "{relocation}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 2, "{report:?}");
}

#[test]
fn unguarded_poisoned_read_is_explained() {
    let Some(vmlinux) = kernel_btf("unguarded_poisoned_read_is_explained") else {
        return;
    };
    let object = Object::parse(OBJECT).unwrap();
    let mut program = object.link_program("core_unguarded").unwrap();
    let report = relocate_core(&mut program, &object, &[&vmlinux]).unwrap();
    let poisoned: Vec<_> = report.poisoned().collect();
    assert_eq!(poisoned.len(), 1, "{report:?}");
    let insn = poisoned[0].insn_index;
    assert_eq!(program.instructions[insn].imm, POISON_HELPER_ID);
    // What the verifier prints when it reaches the poisoned call.
    let log = format!(
        "0: R1=ctx() R10=fp0\n{insn}: (85) call unknown#195896080\ninvalid func unknown#195896080\n"
    );
    let text = report.explain_verifier_log(&log).unwrap();
    assert!(text.contains("task_struct.bpfkit_missing_field"), "{text}");
    assert!(text.contains(&format!("instruction {insn}")), "{text}");
}

/// A kernel that does not exist: every field moved, `in_execve` elsewhere, enum renumbered,
/// `list_head` as expected.
fn synthetic_kernel() -> Btf {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let uint = b.add_int("unsigned int", 4, 0);
    let ulong = b.add_int("unsigned long", 8, 0);
    let char_ = b.add_int("char", 1, 2);
    let pid_t = b.add_typedef("pid_t", int);
    let comm = b.add_array(char_, int, 32);
    let list = b.next_id() + 1;
    let list_ptr = b.add_ptr(list);
    b.add_struct(
        "list_head",
        16,
        &[
            MemberSpec::new("next", list_ptr, 0),
            MemberSpec::new("prev", list_ptr, 8),
        ],
    );
    b.add_struct(
        "task_struct",
        4096,
        &[
            MemberSpec::new("stack", ulong, 0),
            MemberSpec::new("flags", uint, 100),
            MemberSpec::bitfield("sched_reset_on_fork", uint, 104 * 8, 1),
            MemberSpec::bitfield("in_execve", uint, 104 * 8 + 29, 1),
            MemberSpec::new("tasks", list, 200),
            MemberSpec::new("pid", pid_t, 1000),
            MemberSpec::new("tgid", pid_t, 1004),
            MemberSpec::new("comm", comm, 2000),
        ],
    );
    b.add_enum(
        "bpf_map_type",
        4,
        false,
        &[("BPF_MAP_TYPE_HASH", 1), ("BPF_MAP_TYPE_ARENA", 44)],
    );
    Btf::parse(&b.finish()).unwrap()
}

#[test]
fn every_kind_against_synthetic_btf() {
    let target = synthetic_kernel();
    let object = Object::parse(OBJECT).unwrap();
    let local = object.btf.as_ref().unwrap();
    let mut program = object.link_program("core_all").unwrap();
    let report = relocate_core(&mut program, &object, &[&target]).unwrap();
    check_core_all(&report, &target, local, true);
    // Spot checks against the numbers written above, not only against the BTF API.
    let value = |path: &str, kind| {
        report
            .relocations
            .iter()
            .find(|r| r.resolution.path == path && r.resolution.kind == kind)
            .and_then(relocated_value)
    };
    assert_eq!(
        value("task_struct.pid", CoreReloKind::FieldByteOffset),
        Some(1000)
    );
    assert_eq!(
        value("task_struct.comm", CoreReloKind::FieldByteSize),
        Some(32)
    );
    assert_eq!(
        value("task_struct.comm[3]", CoreReloKind::FieldByteOffset),
        Some(2003)
    );
    assert_eq!(
        value("task_struct.tasks.next", CoreReloKind::FieldByteOffset),
        Some(200)
    );
    assert_eq!(
        value("task_struct.in_execve", CoreReloKind::FieldLshiftU64),
        Some(64 - 30)
    );
    assert_eq!(
        value(
            "bpf_map_type___local::BPF_MAP_TYPE_ARENA___local",
            CoreReloKind::EnumvalValue
        ),
        Some(44)
    );
    assert_eq!(value("task_struct", CoreReloKind::TypeSize), Some(4096));
}

#[test]
fn big_endian_object_relocates() {
    let object = Object::parse(OBJECT_BE).unwrap();
    let local = object.btf.as_ref().unwrap();
    let mut b = BtfBuilder::with_endian(bpfkit_obj::btf::Endian::Big);
    // Reuse the little-endian synthetic layout through the builder in big-endian byte order.
    let int = b.add_int("int", 4, INT_SIGNED);
    let uint = b.add_int("unsigned int", 4, 0);
    b.add_struct(
        "task_struct",
        64,
        &[
            MemberSpec::new("pid", int, 8),
            MemberSpec::bitfield("in_execve", uint, 16 * 8 + 3, 1),
        ],
    );
    let target = Btf::parse(&b.finish()).unwrap();
    let mut program = object.link_program("core_all").unwrap();
    let report = relocate_core(&mut program, &object, &[&target]).unwrap();
    let find = |path: &str, kind| {
        report
            .relocations
            .iter()
            .find(|r| r.resolution.path == path && r.resolution.kind == kind)
            .unwrap_or_else(|| panic!("{path} {kind}"))
    };
    let pid = find("task_struct.pid", CoreReloKind::FieldByteOffset);
    assert_eq!(expected(&target, local, pid, false), relocated_value(pid));
    let shift = find("task_struct.in_execve", CoreReloKind::FieldLshiftU64);
    assert_eq!(
        expected(&target, local, shift, false),
        relocated_value(shift)
    );
    // A field missing from this small target: poisoned, not an error.
    let comm = find("task_struct.comm[3]", CoreReloKind::FieldByteOffset);
    assert!(matches!(
        comm.resolution.outcome,
        CoreOutcome::Poisoned { .. }
    ));
}

#[test]
fn no_targets_poisons_or_zeroes_everything() {
    let object = Object::parse(OBJECT).unwrap();
    let mut program = object.link_program("core_all").unwrap();
    let report = relocate_core(&mut program, &object, &[]).unwrap();
    for relocation in &report.relocations {
        let r = &relocation.resolution;
        match (r.kind, &r.outcome) {
            (CoreReloKind::TypeIdLocal, CoreOutcome::Relocated { value, .. }) => {
                assert_eq!(*value, u64::from(r.local_type_id))
            }
            (
                CoreReloKind::FieldByteOffset
                | CoreReloKind::FieldByteSize
                | CoreReloKind::FieldSigned
                | CoreReloKind::FieldLshiftU64
                | CoreReloKind::FieldRshiftU64
                | CoreReloKind::EnumvalValue,
                outcome,
            ) => assert!(
                matches!(outcome, CoreOutcome::Poisoned { .. }),
                "{relocation}"
            ),
            (_, outcome) => assert_eq!(
                outcome,
                &CoreOutcome::Relocated {
                    value: 0,
                    target: None
                },
                "{relocation}"
            ),
        }
    }
}

#[test]
fn broken_records_fail_with_the_relocation_named() {
    use bpfkit_obj::core_relo::{CoreError, CoreFailure};
    let target = synthetic_kernel();
    let object = Object::parse(OBJECT).unwrap();

    // Unreadable CO-RE part: refused rather than loading unrelocated offsets.
    let mut broken = object.clone();
    if let Some(ext) = broken.btf_ext.as_mut() {
        ext.core_relo_error = Some(bpfkit_obj::BtfError::BadExt {
            reason: "truncated record",
        });
    }
    let mut program = broken.link_program("core_all").unwrap();
    assert!(matches!(
        relocate_core(&mut program, &broken, &[&target]),
        Err(CoreError::MalformedExt(_))
    ));

    // Unknown kind number.
    let mut unknown = object.clone();
    let records = &mut unknown.btf_ext.as_mut().unwrap().core_relos;
    records[0].1[0].kind = 99;
    let mut program = unknown.link_program("core_all").unwrap();
    match relocate_core(&mut program, &unknown, &[&target]) {
        Err(CoreError::Relocation(err)) => {
            assert_eq!(err.function, "core_all");
            assert!(matches!(err.source, CoreFailure::UnknownKind { kind: 99 }));
            assert!(err.to_string().contains("task_struct"), "{err}");
        }
        other => panic!("{other:?}"),
    }

    // The instruction does not hold what the local BTF says: not patched blindly.
    let mut program = object.link_program("core_all").unwrap();
    let report = relocate_core(&mut program.clone(), &object, &[&target]).unwrap();
    let tgid = report
        .relocations
        .iter()
        .find(|r| r.resolution.path == "task_struct.tgid")
        .unwrap();
    program.instructions[tgid.insn_index].imm += 1;
    match relocate_core(&mut program, &object, &[&target]) {
        Err(CoreError::Relocation(err)) => {
            assert!(
                matches!(err.source, CoreFailure::UnexpectedValue { .. }),
                "{err}"
            );
            assert_eq!(err.path, "task_struct.tgid");
        }
        other => panic!("{other:?}"),
    }
}
