//! Relocations against synthetic target BTF built with [`BtfBuilder`]: every kind, layouts that
//! moved, flavors, missing fields and types, bitfields, changed enums, TYPE_MATCHES, ambiguity,
//! candidate search order, instruction patching, malformed input.

use super::*;
use crate::btf::builder::{BtfBuilder, MemberSpec, INT_SIGNED};
use crate::insn::{BPF_MEM, BPF_MOV};

/// A relocation record plus the BTF it refers to.
struct Local {
    builder: BtfBuilder,
}

impl Local {
    fn new() -> Local {
        Local {
            builder: BtfBuilder::new(),
        }
    }
    fn relo(&mut self, kind: CoreReloKind, type_id: u32, access: &str) -> CoreRelo {
        CoreRelo {
            insn: 0,
            type_id,
            access_str_off: self.builder.add_string(access),
            kind: kind.to_raw(),
        }
    }
    fn btf(&self) -> Btf {
        Btf::parse(&self.builder.finish()).expect("local BTF parses")
    }
}

fn parse(builder: &BtfBuilder) -> Btf {
    Btf::parse(&builder.finish()).expect("target BTF parses")
}

/// Resolves `relo` in `local` against `targets`, returning (local value, outcome).
fn resolve(local: &Btf, targets: &[&Btf], relo: &CoreRelo) -> Result<CoreResolution, CoreFailure> {
    CoreResolver::new(local, targets).resolve(relo)
}

fn value_of(resolution: &CoreResolution) -> u64 {
    match &resolution.outcome {
        CoreOutcome::Relocated { value, .. } => *value,
        CoreOutcome::Poisoned { reason } => panic!("unexpectedly poisoned: {reason}"),
    }
}

fn is_poisoned(resolution: &CoreResolution) -> bool {
    matches!(resolution.outcome, CoreOutcome::Poisoned { .. })
}

/// local: struct task_struct { int pid; int tgid; unsigned long flags; }
fn local_task(local: &mut Local, name: &str) -> u32 {
    let b = &mut local.builder;
    let int = b.add_int("int", 4, INT_SIGNED);
    let ulong = b.add_int("unsigned long", 8, 0);
    b.add_struct(
        name,
        16,
        &[
            MemberSpec::new("pid", int, 0),
            MemberSpec::new("tgid", int, 4),
            MemberSpec::new("flags", ulong, 8),
        ],
    )
}

/// target: struct task_struct { void *stack; unsigned int flags; int pid; int tgid; } —
/// everything moved, `flags` shrank to 4 bytes.
fn target_task() -> (Btf, u32) {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let uint = b.add_int("unsigned int", 4, 0);
    let void_ptr = b.add_ptr(0);
    let task = b.add_struct(
        "task_struct",
        24,
        &[
            MemberSpec::new("stack", void_ptr, 0),
            MemberSpec::new("flags", uint, 8),
            MemberSpec::new("pid", int, 12),
            MemberSpec::new("tgid", int, 16),
        ],
    );
    (parse(&b), task)
}

#[test]
fn field_offset_size_exists_signed_follow_a_moved_field() {
    let mut local = Local::new();
    let task = local_task(&mut local, "task_struct");
    let offset = local.relo(CoreReloKind::FieldByteOffset, task, "0:1");
    let size = local.relo(CoreReloKind::FieldByteSize, task, "0:2");
    let exists = local.relo(CoreReloKind::FieldExists, task, "0:1");
    let signed = local.relo(CoreReloKind::FieldSigned, task, "0:0");
    let unsigned = local.relo(CoreReloKind::FieldSigned, task, "0:2");
    let local_btf = local.btf();
    let (target, target_task_id) = target_task();

    let r = resolve(&local_btf, &[&target], &offset).unwrap();
    assert_eq!(r.path, "task_struct.tgid");
    assert_eq!(r.local_value, 4);
    assert_eq!(value_of(&r), 16);
    match &r.outcome {
        CoreOutcome::Relocated {
            target: Some(t), ..
        } => {
            assert_eq!((t.btf_index, t.type_id), (0, target_task_id));
            assert_eq!(t.path, "task_struct.tgid");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!((r.local_mem_size, r.target_mem_size), (4, 4));

    let r = resolve(&local_btf, &[&target], &size).unwrap();
    assert_eq!((r.local_value, value_of(&r)), (8, 4));
    let r = resolve(&local_btf, &[&target], &exists).unwrap();
    assert_eq!((r.local_value, value_of(&r)), (1, 1));
    let r = resolve(&local_btf, &[&target], &signed).unwrap();
    assert_eq!((r.local_value, value_of(&r)), (1, 1));
    let r = resolve(&local_btf, &[&target], &unsigned).unwrap();
    assert_eq!((r.local_value, value_of(&r)), (0, 0));
}

#[test]
fn flavored_local_type_matches_the_plain_target_and_missing_fields_poison() {
    let mut local = Local::new();
    let b = &mut local.builder;
    let int = b.add_int("int", 4, INT_SIGNED);
    // The pre-5.14 name of task_struct::__state.
    let old = b.add_struct("task_struct___old", 4, &[MemberSpec::new("state", int, 0)]);
    let new = b.add_struct("task_struct___new", 4, &[MemberSpec::new("pid", int, 0)]);
    let state_exists = local.relo(CoreReloKind::FieldExists, old, "0:0");
    let state_offset = local.relo(CoreReloKind::FieldByteOffset, old, "0:0");
    let pid_offset = local.relo(CoreReloKind::FieldByteOffset, new, "0:0");
    let local_btf = local.btf();
    let (target, _) = target_task();

    let r = resolve(&local_btf, &[&target], &state_exists).unwrap();
    assert_eq!((r.local_value, value_of(&r)), (1, 0));
    let r = resolve(&local_btf, &[&target], &state_offset).unwrap();
    assert!(is_poisoned(&r), "{r:?}");
    assert_eq!(r.path, "task_struct___old.state");
    let r = resolve(&local_btf, &[&target], &pid_offset).unwrap();
    assert_eq!(value_of(&r), 12);
}

#[test]
fn field_of_incompatible_kind_does_not_match() {
    let mut local = Local::new();
    let b = &mut local.builder;
    let int = b.add_int("int", 4, INT_SIGNED);
    let s = b.add_struct("task_struct", 4, &[MemberSpec::new("stack", int, 0)]);
    // Target `stack` is a pointer: an int access must not be relocated onto it.
    let exists = local.relo(CoreReloKind::FieldExists, s, "0:0");
    let local_btf = local.btf();
    let (target, _) = target_task();
    let r = resolve(&local_btf, &[&target], &exists).unwrap();
    assert_eq!(value_of(&r), 0);
}

#[test]
fn bitfields_moved_resized_and_changed_sign() {
    let mut local = Local::new();
    let b = &mut local.builder;
    let uint = b.add_int("unsigned int", 4, 0);
    let s = b.add_struct(
        "flags_holder",
        4,
        &[
            MemberSpec::bitfield("a", uint, 0, 3),
            MemberSpec::bitfield("b", uint, 3, 5),
            MemberSpec::bitfield("c", uint, 8, 4),
        ],
    );
    let relos: Vec<_> = [
        CoreReloKind::FieldByteOffset,
        CoreReloKind::FieldByteSize,
        CoreReloKind::FieldLshiftU64,
        CoreReloKind::FieldRshiftU64,
        CoreReloKind::FieldSigned,
    ]
    .into_iter()
    .map(|kind| local.relo(kind, s, "0:1"))
    .collect();
    let straddling = local.relo(CoreReloKind::FieldLshiftU64, s, "0:2");
    let straddling_size = local.relo(CoreReloKind::FieldByteSize, s, "0:2");
    let local_btf = local.btf();

    let mut t = BtfBuilder::new();
    let uint = t.add_int("unsigned int", 4, 0);
    let int = t.add_int("int", 4, INT_SIGNED);
    t.add_struct(
        "flags_holder",
        8,
        &[
            MemberSpec::bitfield("a", uint, 0, 3),
            // b: now signed, 7 bits wide at bit 12.
            MemberSpec::bitfield("b", int, 12, 7),
            // c: now straddles the first 4-byte unit (bits 30..34).
            MemberSpec::bitfield("c", uint, 30, 4),
        ],
    );
    let target = parse(&t);

    let values: Vec<(u64, u64)> = relos
        .iter()
        .map(|relo| {
            let r = resolve(&local_btf, &[&target], relo).unwrap();
            (r.local_value, value_of(&r))
        })
        .collect();
    // Local b: bits 3..8 of a 4-byte unit at 0. Target b: bits 12..19.
    assert_eq!(values[0], (0, 0), "byte offset");
    assert_eq!(values[1], (4, 4), "byte size");
    assert_eq!(values[2], (64 - 8, 64 - 19), "lshift");
    assert_eq!(values[3], (64 - 5, 64 - 7), "rshift");
    assert_eq!(values[4], (0, 1), "signed");

    // Bits 30..34 need an 8-byte load at offset 0.
    let r = resolve(&local_btf, &[&target], &straddling).unwrap();
    assert_eq!(value_of(&r), 64 - 34);
    let r = resolve(&local_btf, &[&target], &straddling_size).unwrap();
    assert_eq!(value_of(&r), 8);
    assert!(
        !r.validate,
        "bitfield values are not validated, as in libbpf"
    );
}

#[test]
fn enum_values_changed_and_removed() {
    let mut local = Local::new();
    let b = &mut local.builder;
    let state = b.add_enum(
        "proc_state",
        4,
        false,
        &[("RUNNING", 0), ("SLEEPING", 1), ("ZOMBIE", 2)],
    );
    let big = b.add_enum64("big_flags", 8, false, &[("HIGH", 1 << 33)]);
    let value_running = local.relo(CoreReloKind::EnumvalValue, state, "0");
    let value_sleeping = local.relo(CoreReloKind::EnumvalValue, state, "1");
    let exists_zombie = local.relo(CoreReloKind::EnumvalExists, state, "2");
    let value_zombie = local.relo(CoreReloKind::EnumvalValue, state, "2");
    let value_high = local.relo(CoreReloKind::EnumvalValue, big, "0");
    let local_btf = local.btf();

    let mut t = BtfBuilder::new();
    // Values renumbered, ZOMBIE gone, a flavored variant name still matches.
    t.add_enum(
        "proc_state",
        4,
        true,
        &[("SLEEPING___v2", 4), ("RUNNING", -3)],
    );
    // 32-bit enum became 64-bit and the value moved.
    t.add_enum64("big_flags", 8, false, &[("HIGH", 1 << 40)]);
    let target = parse(&t);

    let r = resolve(&local_btf, &[&target], &value_running).unwrap();
    assert_eq!(r.path, "proc_state::RUNNING");
    assert_eq!((r.local_value, value_of(&r)), (0, (-3i64) as u64));
    let r = resolve(&local_btf, &[&target], &value_sleeping).unwrap();
    assert_eq!((r.local_value, value_of(&r)), (1, 4));
    let r = resolve(&local_btf, &[&target], &exists_zombie).unwrap();
    assert_eq!((r.local_value, value_of(&r)), (1, 0));
    let r = resolve(&local_btf, &[&target], &value_zombie).unwrap();
    assert!(is_poisoned(&r));
    let r = resolve(&local_btf, &[&target], &value_high).unwrap();
    assert_eq!((r.local_value, value_of(&r)), (1 << 33, 1 << 40));
}

#[test]
fn type_relocations_present_and_missing() {
    let mut local = Local::new();
    let task = local_task(&mut local, "task_struct");
    let b = &mut local.builder;
    let int = b.add_int("int", 4, INT_SIGNED);
    let gone = b.add_struct("gone_struct", 4, &[MemberSpec::new("x", int, 0)]);
    let kinds = [
        CoreReloKind::TypeExists,
        CoreReloKind::TypeSize,
        CoreReloKind::TypeIdTarget,
        CoreReloKind::TypeIdLocal,
    ];
    let present: Vec<_> = kinds.iter().map(|&k| local.relo(k, task, "0")).collect();
    let missing: Vec<_> = kinds.iter().map(|&k| local.relo(k, gone, "0")).collect();
    let local_btf = local.btf();
    let (target, target_id) = target_task();

    let got: Vec<(u64, u64)> = present
        .iter()
        .map(|relo| {
            let r = resolve(&local_btf, &[&target], relo).unwrap();
            (r.local_value, value_of(&r))
        })
        .collect();
    assert_eq!(got[0], (1, 1));
    assert_eq!(got[1], (16, 24));
    assert_eq!(got[2], (u64::from(task), u64::from(target_id)));
    assert_eq!(got[3], (u64::from(task), u64::from(task)));

    let got: Vec<u64> = missing
        .iter()
        .map(|relo| value_of(&resolve(&local_btf, &[&target], relo).unwrap()))
        .collect();
    assert_eq!(got, vec![0, 0, 0, u64::from(gone)]);
}

#[test]
fn type_matches_positive_and_negative() {
    // local: struct sk { unsigned int mark; struct other *next; enum kind k; }
    let mut local = Local::new();
    let b = &mut local.builder;
    let uint = b.add_int("unsigned int", 4, 0);
    let other = b.add_struct("other", 4, &[]);
    let other_ptr = b.add_ptr(other);
    let kind = b.add_enum("kind", 4, false, &[("K_A", 0)]);
    let sk = b.add_struct(
        "sk",
        24,
        &[
            MemberSpec::new("mark", uint, 0),
            MemberSpec::new("next", other_ptr, 8),
            MemberSpec::new("k", kind, 16),
        ],
    );
    let matches = local.relo(CoreReloKind::TypeMatches, sk, "0");
    let local_btf = local.btf();

    // Same members in another order, extra members, `other` only forward-declared behind the
    // pointer, enum with more values: matches.
    let mut t = BtfBuilder::new();
    let uint = t.add_int("unsigned int", 4, 0);
    let fwd = t.add_fwd("other", false);
    let fwd_ptr = t.add_ptr(fwd);
    let kind = t.add_enum("kind", 4, false, &[("K_B", 1), ("K_A", 7)]);
    let extra = t.add_int("long", 8, INT_SIGNED);
    t.add_struct(
        "sk",
        40,
        &[
            MemberSpec::new("k", kind, 0),
            MemberSpec::new("extra", extra, 8),
            MemberSpec::new("next", fwd_ptr, 16),
            MemberSpec::new("mark", uint, 24),
        ],
    );
    let good = parse(&t);
    let r = resolve(&local_btf, &[&good], &matches).unwrap();
    assert_eq!((r.local_value, value_of(&r)), (1, 1));

    // `mark` became signed: no match (TYPE_EXISTS would still say 1).
    let mut t = BtfBuilder::new();
    let int = t.add_int("int", 4, INT_SIGNED);
    let other = t.add_struct("other", 4, &[]);
    let other_ptr = t.add_ptr(other);
    let kind = t.add_enum("kind", 4, false, &[("K_A", 0)]);
    t.add_struct(
        "sk",
        24,
        &[
            MemberSpec::new("mark", int, 0),
            MemberSpec::new("next", other_ptr, 8),
            MemberSpec::new("k", kind, 16),
        ],
    );
    let signed = parse(&t);
    let r = resolve(&local_btf, &[&signed], &matches).unwrap();
    assert_eq!(value_of(&r), 0);

    // The enum lost K_A: no match.
    let mut t = BtfBuilder::new();
    let uint = t.add_int("unsigned int", 4, 0);
    let other = t.add_struct("other", 4, &[]);
    let other_ptr = t.add_ptr(other);
    let kind = t.add_enum("kind", 4, false, &[("K_B", 0)]);
    t.add_struct(
        "sk",
        24,
        &[
            MemberSpec::new("mark", uint, 0),
            MemberSpec::new("next", other_ptr, 8),
            MemberSpec::new("k", kind, 16),
        ],
    );
    let no_variant = parse(&t);
    let r = resolve(&local_btf, &[&no_variant], &matches).unwrap();
    assert_eq!(value_of(&r), 0);
}

#[test]
fn arrays_and_anonymous_members() {
    // local: struct pkt { int hdr; union { int a; long b; }; int arr[4]; }
    let mut local = Local::new();
    let b = &mut local.builder;
    let int = b.add_int("int", 4, INT_SIGNED);
    let long = b.add_int("long", 8, INT_SIGNED);
    let anon = b.add_union(
        "",
        8,
        &[MemberSpec::new("a", int, 0), MemberSpec::new("b", long, 0)],
    );
    let arr = b.add_array(int, int, 4);
    let pkt = b.add_struct(
        "pkt",
        24,
        &[
            MemberSpec::new("hdr", int, 0),
            MemberSpec::new("", anon, 8),
            MemberSpec::new("arr", arr, 16),
        ],
    );
    let b_offset = local.relo(CoreReloKind::FieldByteOffset, pkt, "0:1:1");
    let elem_offset = local.relo(CoreReloKind::FieldByteOffset, pkt, "0:2:3");
    let elem_size = local.relo(CoreReloKind::FieldByteSize, pkt, "0:2:3");
    let second_object = local.relo(CoreReloKind::FieldByteOffset, pkt, "1:0");
    let elem_out_of_target = local.relo(CoreReloKind::FieldExists, pkt, "0:2:3");
    let local_btf = local.btf();

    // target: struct pkt { long pad; int hdr; struct { int x; union { int a; long b; }; }; int arr[2]; }
    let mut t = BtfBuilder::new();
    let int = t.add_int("int", 4, INT_SIGNED);
    let long = t.add_int("long", 8, INT_SIGNED);
    let inner = t.add_union(
        "",
        8,
        &[MemberSpec::new("a", int, 0), MemberSpec::new("b", long, 0)],
    );
    let outer = t.add_struct(
        "",
        16,
        &[MemberSpec::new("x", int, 0), MemberSpec::new("", inner, 8)],
    );
    let arr = t.add_array(int, int, 2);
    t.add_struct(
        "pkt",
        48,
        &[
            MemberSpec::new("pad", long, 0),
            MemberSpec::new("hdr", int, 8),
            MemberSpec::new("", outer, 16),
            MemberSpec::new("arr", arr, 32),
        ],
    );
    let target = parse(&t);

    let r = resolve(&local_btf, &[&target], &b_offset).unwrap();
    assert_eq!(r.path, "pkt.b");
    assert_eq!((r.local_value, value_of(&r)), (8, 24));
    // arr[3] exists locally but the target array has 2 elements: not found.
    let r = resolve(&local_btf, &[&target], &elem_offset).unwrap();
    assert_eq!(r.path, "pkt.arr[3]");
    assert!(is_poisoned(&r));
    let r = resolve(&local_btf, &[&target], &elem_out_of_target).unwrap();
    assert_eq!(value_of(&r), 0);
    let r = resolve(&local_btf, &[&target], &elem_size).unwrap();
    assert!(is_poisoned(&r));
    // p[1].hdr: steps over a whole target object.
    let r = resolve(&local_btf, &[&target], &second_object).unwrap();
    assert_eq!(r.path, "pkt[1].hdr");
    assert_eq!((r.local_value, value_of(&r)), (24, 48 + 8));
}

#[test]
fn array_element_offsets_relocate() {
    let mut local = Local::new();
    let b = &mut local.builder;
    let int = b.add_int("int", 4, INT_SIGNED);
    let arr = b.add_array(int, int, 4);
    let s = b.add_struct("ring", 16, &[MemberSpec::new("slots", arr, 0)]);
    let offset = local.relo(CoreReloKind::FieldByteOffset, s, "0:0:2");
    let size = local.relo(CoreReloKind::FieldByteSize, s, "0:0:2");
    let shift = local.relo(CoreReloKind::FieldLshiftU64, s, "0:0:2");
    let local_btf = local.btf();
    let mut t = BtfBuilder::new();
    let long = t.add_int("long", 8, INT_SIGNED);
    let arr = t.add_array(long, long, 8);
    t.add_struct(
        "ring",
        72,
        &[
            MemberSpec::new("head", long, 0),
            MemberSpec::new("slots", arr, 8),
        ],
    );
    let target = parse(&t);
    let r = resolve(&local_btf, &[&target], &offset).unwrap();
    assert_eq!((r.local_value, value_of(&r)), (8, 8 + 16));
    assert_eq!((r.local_mem_size, r.target_mem_size), (4, 8));
    assert!(
        r.mem_size_mismatch,
        "signed int grew: load cannot be resized"
    );
    let r = resolve(&local_btf, &[&target], &size).unwrap();
    assert_eq!((r.local_value, value_of(&r)), (4, 8));
    assert!(matches!(
        resolve(&local_btf, &[&target], &shift),
        Err(CoreFailure::ArrayAccess { .. })
    ));
}

#[test]
fn ambiguous_candidates_are_an_error_and_agreeing_ones_are_not() {
    let mut local = Local::new();
    let task = local_task(&mut local, "task_struct");
    let offset = local.relo(CoreReloKind::FieldByteOffset, task, "0:0");
    let local_btf = local.btf();

    let build = |second_offset: u32| {
        let mut t = BtfBuilder::new();
        let int = t.add_int("int", 4, INT_SIGNED);
        t.add_struct("task_struct", 8, &[MemberSpec::new("pid", int, 0)]);
        t.add_struct(
            "task_struct___rt",
            8,
            &[MemberSpec::new("pid", int, second_offset)],
        );
        parse(&t)
    };
    let ambiguous = build(4);
    let err = resolve(&local_btf, &[&ambiguous], &offset).unwrap_err();
    assert!(matches!(err, CoreFailure::Ambiguous { .. }), "{err:?}");
    assert!(err.to_string().contains("task_struct___rt"), "{err}");
    let agreeing = build(0);
    let r = resolve(&local_btf, &[&agreeing], &offset).unwrap();
    assert_eq!(value_of(&r), 0);
}

#[test]
fn modules_are_searched_only_when_vmlinux_has_no_candidate() {
    let mut local = Local::new();
    let b = &mut local.builder;
    let int = b.add_int("int", 4, INT_SIGNED);
    let nf = b.add_struct("nf_conn", 8, &[MemberSpec::new("mark", int, 0)]);
    let task = local_task(&mut local, "task_struct");
    let nf_offset = local.relo(CoreReloKind::FieldByteOffset, nf, "0:0");
    let nf_id = local.relo(CoreReloKind::TypeIdTarget, nf, "0");
    let task_offset = local.relo(CoreReloKind::FieldByteOffset, task, "0:0");
    let local_btf = local.btf();

    let (vmlinux, _) = target_task();
    let mut m = BtfBuilder::new();
    let int = m.add_int("int", 4, INT_SIGNED);
    let module_nf = m.add_struct("nf_conn", 16, &[MemberSpec::new("mark", int, 12)]);
    m.add_struct("task_struct", 8, &[MemberSpec::new("pid", int, 4)]);
    let module = parse(&m);
    let targets = [&vmlinux, &module];

    let r = resolve(&local_btf, &targets, &nf_offset).unwrap();
    assert_eq!(value_of(&r), 12);
    let r = resolve(&local_btf, &targets, &nf_id).unwrap();
    assert_eq!(value_of(&r), u64::from(module_nf));
    match &r.outcome {
        CoreOutcome::Relocated {
            target: Some(t), ..
        } => assert_eq!(t.btf_index, 1),
        other => panic!("{other:?}"),
    }
    // vmlinux has task_struct: the module's copy is ignored (no ambiguity).
    let r = resolve(&local_btf, &targets, &task_offset).unwrap();
    assert_eq!(value_of(&r), 12);
}

#[test]
fn malformed_records_are_typed_errors() {
    let mut local = Local::new();
    let task = local_task(&mut local, "task_struct");
    let anon = local.builder.add_struct("", 4, &[]);
    let cases = vec![
        (local.relo(CoreReloKind::FieldByteOffset, task, ""), "empty"),
        (
            local.relo(CoreReloKind::FieldByteOffset, task, "0:"),
            "trailing colon",
        ),
        (
            local.relo(CoreReloKind::FieldByteOffset, task, ":0"),
            "leading colon",
        ),
        (
            local.relo(CoreReloKind::FieldByteOffset, task, "0:-1"),
            "negative",
        ),
        (
            local.relo(CoreReloKind::FieldByteOffset, task, "0:x"),
            "not a number",
        ),
        (
            local.relo(CoreReloKind::FieldByteOffset, task, "0:99"),
            "no such member",
        ),
        (
            local.relo(CoreReloKind::FieldByteOffset, task, "0:0:0"),
            "int has no fields",
        ),
        (
            local.relo(CoreReloKind::FieldByteOffset, task, "99999999999"),
            "overflow",
        ),
        (
            local.relo(CoreReloKind::TypeSize, task, "0:1"),
            "type relo with path",
        ),
        (
            local.relo(CoreReloKind::EnumvalValue, task, "0"),
            "enum relo on struct",
        ),
        (local.relo(CoreReloKind::TypeExists, anon, "0"), "anonymous"),
        (
            CoreRelo {
                insn: 0,
                type_id: 9999,
                access_str_off: 0,
                kind: 0,
            },
            "type id out of range",
        ),
        (
            CoreRelo {
                insn: 0,
                type_id: task,
                access_str_off: 1 << 30,
                kind: 0,
            },
            "string offset out of range",
        ),
        (
            CoreRelo {
                insn: 0,
                type_id: task,
                access_str_off: 0,
                kind: 13,
            },
            "unknown kind",
        ),
    ];
    let mut deep = String::from("0");
    for _ in 0..70 {
        deep.push_str(":0");
    }
    let deep = local.relo(CoreReloKind::FieldByteOffset, task, &deep);
    let local_btf = local.btf();
    let (target, _) = target_task();
    for (relo, what) in cases.iter().chain([(deep, "too deep")].iter()) {
        let result = resolve(&local_btf, &[&target], relo);
        assert!(result.is_err(), "{what}: {result:?}");
    }
}

#[test]
fn reference_loops_in_target_btf_end_in_errors() {
    let mut local = Local::new();
    let b = &mut local.builder;
    let int = b.add_int("int", 4, INT_SIGNED);
    let arr = b.add_array(int, int, 1);
    let s = b.add_struct("loopy", 4, &[MemberSpec::new("x", arr, 0)]);
    let exists = local.relo(CoreReloKind::FieldExists, s, "0:0");
    let matches = local.relo(CoreReloKind::TypeMatches, s, "0");
    let local_btf = local.btf();
    // Target: x's type is a typedef that refers to itself; the struct holds an anonymous
    // member whose type is the struct itself.
    let mut t = BtfBuilder::new();
    let self_typedef = t.next_id();
    t.add_typedef("t", self_typedef);
    let me = t.next_id();
    t.add_struct(
        "loopy",
        4,
        &[
            MemberSpec::new("", me, 0),
            MemberSpec::new("x", self_typedef, 0),
        ],
    );
    let target = parse(&t);
    assert!(resolve(&local_btf, &[&target], &exists).is_err());
    assert!(resolve(&local_btf, &[&target], &matches).is_err());
}

fn resolution(kind: CoreReloKind, local_value: u64, outcome: CoreOutcome) -> CoreResolution {
    CoreResolution {
        kind,
        local_type_id: 1,
        local_type_name: "t".into(),
        path: "t.f".into(),
        access: "0:0".into(),
        local_value,
        outcome,
        validate: true,
        local_mem_size: 0,
        target_mem_size: 0,
        mem_size_mismatch: false,
    }
}

fn relocated(value: u64) -> CoreOutcome {
    CoreOutcome::Relocated {
        value,
        target: None,
    }
}

#[test]
fn patching_alu_ldx_and_ld_imm64() {
    // r1 = 4 (ALU64 mov imm)
    let mut insns = vec![Insn::new(BPF_ALU64 | BPF_MOV | BPF_K, 1, 0, 0, 4)];
    let r = resolution(CoreReloKind::FieldByteOffset, 4, relocated(16));
    patch_instruction(&mut insns, 0, &r).unwrap();
    assert_eq!(insns[0].imm, 16);
    // Wrong original value: refused.
    let r = resolution(CoreReloKind::FieldByteOffset, 8, relocated(16));
    assert!(matches!(
        patch_instruction(&mut insns, 0, &r),
        Err(CoreFailure::UnexpectedValue {
            found: 16,
            expected: 8,
            ..
        })
    ));

    // r0 = *(u32 *)(r1 + 8) growing to an unsigned 8-byte field: offset and size change.
    let ldx_w = BPF_LDX | BPF_MEM | BPF_W;
    let mut insns = vec![Insn::new(ldx_w, 0, 1, 8, 0)];
    let mut r = resolution(CoreReloKind::FieldByteOffset, 8, relocated(24));
    r.local_mem_size = 4;
    r.target_mem_size = 8;
    patch_instruction(&mut insns, 0, &r).unwrap();
    assert_eq!(insns[0].off, 24);
    assert_eq!(insns[0].code, BPF_LDX | BPF_MEM | BPF_DW);
    // Same growth of a signed field: poisoned instead.
    let mut insns = vec![Insn::new(ldx_w, 0, 1, 8, 0)];
    r.mem_size_mismatch = true;
    let outcome = patch_instruction(&mut insns, 0, &r).unwrap();
    assert!(matches!(outcome, CoreOutcome::Poisoned { .. }));
    assert_eq!(insns[0].code, BPF_JMP | BPF_CALL);
    assert_eq!(insns[0].imm, POISON_HELPER_ID);
    // Offset beyond i16.
    let mut insns = vec![Insn::new(ldx_w, 0, 1, 8, 0)];
    let r = resolution(CoreReloKind::FieldByteOffset, 8, relocated(40000));
    assert!(matches!(
        patch_instruction(&mut insns, 0, &r),
        Err(CoreFailure::ValueTooLarge { .. })
    ));

    // ld_imm64 carrying a 64-bit enum value.
    let mut insns = vec![
        Insn::new(BPF_LD_IMM64, 2, 0, 0, 0),
        Insn::new(0, 0, 0, 0, 2),
    ];
    let r = resolution(
        CoreReloKind::EnumvalValue,
        2 << 32,
        relocated((1 << 40) | 5),
    );
    patch_instruction(&mut insns, 0, &r).unwrap();
    assert_eq!((insns[0].imm, insns[1].imm), (5, 1 << 8));
    // Poisoned ld_imm64: both slots become the poison call.
    let r = resolution(
        CoreReloKind::EnumvalValue,
        0,
        CoreOutcome::Poisoned {
            reason: "gone".into(),
        },
    );
    patch_instruction(&mut insns, 0, &r).unwrap();
    assert!(insns.iter().all(|i| i.imm == POISON_HELPER_ID));

    // Out of range and unpatchable instructions.
    let r = resolution(CoreReloKind::FieldByteOffset, 0, relocated(1));
    assert!(patch_instruction(&mut [], 0, &r).is_err());
    let mut exit = vec![Insn::new(BPF_JMP | 0x90, 0, 0, 0, 0)];
    assert!(patch_instruction(&mut exit, 0, &r).is_err());
    let mut alu_reg = vec![Insn::new(BPF_ALU64 | BPF_MOV | 0x08, 1, 2, 0, 0)];
    assert!(patch_instruction(&mut alu_reg, 0, &r).is_err());
    // A truncated ld_imm64 (no second slot).
    let mut half = vec![Insn::new(BPF_LD_IMM64, 2, 0, 0, 0)];
    assert!(patch_instruction(&mut half, 0, &r).is_err());
}

#[test]
fn verifier_log_at_a_poisoned_instruction_is_explained() {
    let report = CoreReport {
        relocations: vec![
            CoreRelocationReport {
                function: "prog".into(),
                section: "kprobe/x".into(),
                section_insn: 3,
                insn_index: 3,
                resolution: resolution(CoreReloKind::FieldByteOffset, 4, relocated(8)),
            },
            CoreRelocationReport {
                function: "prog".into(),
                section: "kprobe/x".into(),
                section_insn: 7,
                insn_index: 7,
                resolution: resolution(
                    CoreReloKind::FieldByteOffset,
                    4,
                    CoreOutcome::Poisoned {
                        reason: "field `t.f` does not exist in the target kernel's types".into(),
                    },
                ),
            },
        ],
    };
    let log = "0: R1=ctx() R10=fp0\n\
               0: (b7) r0 = 0\n\
               7: (85) call unknown#195896080\n\
               invalid func unknown#195896080\n\
               processed 8 insns\n";
    let text = report.explain_verifier_log(log).expect("explained");
    assert!(text.contains("instruction 7"), "{text}");
    assert!(text.contains("`t.f`"), "{text}");
    assert!(text.contains("does not exist"), "{text}");
    assert!(report
        .explain_verifier_log("R1 invalid mem access")
        .is_none());
    assert!(report.poisoned_at(7).is_some());
    assert!(report.poisoned_at(3).is_none());
}
