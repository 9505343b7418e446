//! CO-RE relocation against real BTF of kernels other than the running one: Debian's 6.1 amd64
//! and arm64 kernels (`tests/kernels/`, made by `scripts/extract-kernel-btf.py`), and, when it
//! can be read, the running kernel's `/sys/kernel/btf/vmlinux` for comparison.
//!
//! Every relocation of the fixture object is checked against the truth read from the same BTF
//! through the plain `Btf` API (member walks, sizes, enumerators), never against numbers written
//! here; the tests then show that the kernels really differ and that the relocations follow.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use bpfkit_obj::btf::builder::{BtfBuilder, MemberSpec, INT_SIGNED};
use bpfkit_obj::btf::ext::CoreRelo;
use bpfkit_obj::btf::{essential_name, BtfFeatures, BtfKind, BtfMember};
use bpfkit_obj::core_relo::{
    relocate_core, CoreOutcome, CoreReloKind, CoreRelocationReport, CoreReport, CoreResolver,
    POISON_HELPER_ID,
};
use bpfkit_obj::{Btf, Object};

const OBJECT: &[u8] = include_bytes!("core/core_relo.bpf.o");
const DEBIAN_AMD64: &str = "debian-6.1.0-56-amd64";
const DEBIAN_ARM64: &str = "debian-6.1.0-56-arm64";
const RUNNING: &str = "/sys/kernel/btf/vmlinux";

/// `tests/kernels/<name>.btf.gz`, decompressed by the system's gzip (no new dependency).
fn decompress_committed(name: &str) -> Option<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/kernels")
        .join(format!("{name}.btf.gz"));
    match Command::new("gzip").arg("-dc").arg(&path).output() {
        Ok(output) => {
            assert!(
                output.status.success(),
                "gzip -dc {}: {}",
                path.display(),
                String::from_utf8_lossy(&output.stderr)
            );
            Some(output.stdout)
        }
        Err(err) => {
            println!("skipped: {name}: cannot run gzip: {err}");
            None
        }
    }
}

/// A committed kernel's BTF, decompressed and parsed once per test binary.
fn committed(name: &'static str) -> Option<&'static Btf> {
    static AMD64: OnceLock<Option<Btf>> = OnceLock::new();
    static ARM64: OnceLock<Option<Btf>> = OnceLock::new();
    let cell = match name {
        DEBIAN_AMD64 => &AMD64,
        DEBIAN_ARM64 => &ARM64,
        other => panic!("no committed kernel {other}"),
    };
    cell.get_or_init(|| {
        decompress_committed(name).map(|bytes| {
            Btf::from_vec(bytes).unwrap_or_else(|err| panic!("{name} does not parse: {err}"))
        })
    })
    .as_ref()
}

/// The running kernel's BTF, when this machine exposes it.
fn running(test: &str) -> Option<&'static Btf> {
    static RUNNING_BTF: OnceLock<Option<Btf>> = OnceLock::new();
    let btf = RUNNING_BTF
        .get_or_init(|| {
            std::fs::read(RUNNING)
                .ok()
                .map(|bytes| Btf::from_vec(bytes).expect("running kernel BTF parses"))
        })
        .as_ref();
    if btf.is_none() {
        println!("skipped: {test}: no {RUNNING} to compare with");
    }
    btf
}

/// Both committed kernels, by name; empty (with a printed line) when gzip is missing.
fn debian_kernels() -> Vec<(&'static str, &'static Btf)> {
    [DEBIAN_AMD64, DEBIAN_ARM64]
        .into_iter()
        .filter_map(|name| committed(name).map(|btf| (name, btf)))
        .collect()
}

/// Every kernel to relocate against: the committed ones, plus the running one if readable.
fn all_kernels(test: &str) -> Vec<(&'static str, &'static Btf)> {
    let mut kernels = debian_kernels();
    if let Some(btf) = running(test) {
        kernels.push(("running", btf));
    }
    kernels
}

// ---------------------------------------------------------------------------------------------
// The truth, read from a BTF through the plain API.

/// What a relocation must give on a kernel: a value, or a poisoned instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    Value(u64),
    Poisoned,
}

fn want_of(relocation: &CoreRelocationReport) -> Want {
    match relocation.resolution.outcome {
        CoreOutcome::Relocated { value, .. } => Want::Value(value),
        CoreOutcome::Poisoned { .. } => Want::Poisoned,
    }
}

fn name_of(btf: &Btf, offset: u32) -> &str {
    btf.string_at(offset).expect("string offset in range")
}

/// The value of enumerator `value_name` of enum `enum_name`, if the kernel has it.
fn enum_value(btf: &Btf, enum_name: &str, value_name: &str) -> Option<u64> {
    let id = btf.find_by_name_kind(enum_name, BtfKind::Enum)?;
    btf.type_by_id(id)
        .ok()?
        .enum_values()
        .find(|v| name_of(btf, v.name_offset) == value_name)
        .map(|v| v.value)
}

/// A named member of a struct or union, searched through anonymous members as C does; the bit
/// offset returned is from the start of `struct_id`.
fn find_member(btf: &Btf, struct_id: u32, name: &str) -> Option<(u64, BtfMember)> {
    for member in btf.members(struct_id).ok()? {
        let member_name = name_of(btf, member.name_offset);
        if member_name == name {
            return Some((u64::from(member.bit_offset), member));
        }
        if member_name.is_empty() {
            let inner = btf.skip_mods_and_typedefs(member.type_id).ok()?;
            if let Some((offset, found)) = find_member(btf, inner, name) {
                return Some((u64::from(member.bit_offset) + offset, found));
            }
        }
    }
    None
}

/// A field reached by a path such as `tasks.next` or `comm[3]` from `root`: its bit offset, its
/// member record (for bitfields), and its type.
struct Field {
    bit_offset: u64,
    bitfield_size: u64,
    type_id: u32,
}

fn walk_path(btf: &Btf, root: u32, path: &str) -> Option<Field> {
    let mut field = Field {
        bit_offset: 0,
        bitfield_size: 0,
        type_id: root,
    };
    for step in path.split('.') {
        let (name, index) = match step.split_once('[') {
            Some((name, rest)) => (name, Some(rest.trim_end_matches(']').parse::<u64>().ok()?)),
            None => (step, None),
        };
        let container = btf.skip_mods_and_typedefs(field.type_id).ok()?;
        let (offset, member) = find_member(btf, container, name)?;
        field = Field {
            bit_offset: field.bit_offset + offset,
            bitfield_size: u64::from(member.bitfield_size),
            type_id: member.type_id,
        };
        if let Some(index) = index {
            let array = btf
                .array_info(btf.skip_mods_and_typedefs(field.type_id).ok()?)
                .ok()?;
            if index >= u64::from(array.nelems) {
                return None;
            }
            let element_size = btf.resolve_size(array.element_type).ok()?;
            field.bit_offset += index * element_size * 8;
            field.type_id = array.element_type;
        }
    }
    Some(field)
}

/// Independent statement of libbpf's bitfield load: the smallest power-of-two load, at least the
/// storage type's size, aligned to itself, covering every bit of the field.
fn bitfield_load(bit_offset: u64, bits: u64, storage: u64) -> (u64, u64) {
    let mut size = storage.max(1);
    loop {
        let offset = bit_offset / 8 / size * size;
        if bit_offset + bits <= (offset + size) * 8 {
            return (offset, size);
        }
        size *= 2;
    }
}

fn is_signed(btf: &Btf, type_id: u32) -> bool {
    let Ok(resolved) = btf.skip_mods_and_typedefs(type_id) else {
        return false;
    };
    let Ok(ty) = btf.type_by_id(resolved) else {
        return false;
    };
    match ty.kind() {
        BtfKind::Int => ty.int_info().is_some_and(|info| info.encoding & 1 != 0),
        BtfKind::Enum | BtfKind::Enum64 => ty.kind_flag(),
        _ => false,
    }
}

/// A field relocation's truth: the field reached by `path` (after the root type's name) in the
/// target type named like the local root, flavors ignored.
fn field_truth(target: &Btf, root: &str, path: &str, kind: CoreReloKind) -> Want {
    let field = target
        .find_by_name_kind(essential_name(root), BtfKind::Struct)
        .and_then(|id| walk_path(target, id, path));
    let Some(field) = field else {
        return if kind == CoreReloKind::FieldExists {
            Want::Value(0)
        } else {
            Want::Poisoned
        };
    };
    let size = target.resolve_size(field.type_id).expect("field size");
    let (load_offset, load_size) = if field.bitfield_size == 0 {
        (field.bit_offset / 8, size)
    } else {
        bitfield_load(field.bit_offset, field.bitfield_size, size)
    };
    let bits = if field.bitfield_size == 0 {
        size * 8
    } else {
        field.bitfield_size
    };
    let value = match kind {
        CoreReloKind::FieldByteOffset => load_offset,
        CoreReloKind::FieldByteSize => load_size,
        CoreReloKind::FieldExists => 1,
        CoreReloKind::FieldSigned => u64::from(is_signed(target, field.type_id)),
        // Every target here is little-endian.
        CoreReloKind::FieldLshiftU64 => 64 - (field.bit_offset - load_offset * 8 + bits),
        CoreReloKind::FieldRshiftU64 => 64 - bits,
        other => panic!("{other} is not a field relocation"),
    };
    Want::Value(value)
}

/// The BTF kind a local type of `local_kind` is looked up as in the target.
fn lookup_kind(local_kind: BtfKind) -> BtfKind {
    match local_kind {
        BtfKind::Enum64 => BtfKind::Enum,
        other => other,
    }
}

/// Reduced statement of TYPE_MATCHES for the fixture's structs: the target struct exists and
/// each local member exists there by name, pointer where the local one is a pointer, integer
/// where it is an integer.
fn struct_matches(local: &Btf, local_id: u32, target: &Btf, target_id: u32) -> bool {
    let kind_of = |btf: &Btf, id: u32| {
        btf.skip_mods_and_typedefs(id)
            .and_then(|id| btf.type_by_id(id))
            .map(|ty| ty.kind())
            .ok()
    };
    let Ok(local_members) = local.members(local_id) else {
        return false;
    };
    local_members.iter().all(|local_member| {
        let name = name_of(local, local_member.name_offset);
        find_member(target, target_id, name).is_some_and(|(_, target_member)| {
            kind_of(local, local_member.type_id) == kind_of(target, target_member.type_id)
        })
    })
}

/// What relocation `relocation` of the fixture must give against `target`.
fn truth(target: &Btf, local: &Btf, relocation: &CoreRelocationReport) -> Want {
    use CoreReloKind::*;
    let r = &relocation.resolution;
    let local_type = local.type_by_id(r.local_type_id).expect("local type");
    let local_kind = local_type.kind();
    let essential = essential_name(&r.local_type_name);
    let target_id = target.find_by_name_kind(essential, lookup_kind(local_kind));
    match r.kind {
        FieldByteOffset | FieldByteSize | FieldExists | FieldSigned | FieldLshiftU64
        | FieldRshiftU64 => {
            let (root, path) = r.path.split_once('.').expect("field path has a dot");
            field_truth(target, root, path, r.kind)
        }
        TypeIdLocal => Want::Value(u64::from(r.local_type_id)),
        TypeIdTarget => Want::Value(target_id.map_or(0, u64::from)),
        TypeExists => Want::Value(u64::from(target_id.is_some())),
        TypeSize => {
            Want::Value(target_id.map_or(0, |id| target.resolve_size(id).expect("type size")))
        }
        TypeMatches => {
            Want::Value(u64::from(target_id.is_some_and(|id| {
                struct_matches(local, r.local_type_id, target, id)
            })))
        }
        EnumvalExists | EnumvalValue => {
            let (_, value_name) = r.path.split_once("::").expect("enum path has ::");
            let value = target_id.and_then(|id| {
                target
                    .type_by_id(id)
                    .ok()?
                    .enum_values()
                    .find(|v| name_of(target, v.name_offset) == essential_name(value_name))
                    .map(|v| v.value)
            });
            match (r.kind, value) {
                (EnumvalExists, value) => Want::Value(u64::from(value.is_some())),
                (_, Some(value)) => Want::Value(value),
                (_, None) => Want::Poisoned,
            }
        }
    }
}

/// Relocates `program` of the fixture against `target` and checks every result and every
/// patched instruction against the truth.
fn relocate_and_check(name: &str, target: &Btf, program: &str) -> CoreReport {
    let object = Object::parse(OBJECT).unwrap();
    let local = object.btf.as_ref().unwrap();
    let mut linked = object.link_program(program).unwrap();
    let report = relocate_core(&mut linked, &object, &[target])
        .unwrap_or_else(|err| panic!("{name}: {err}"));
    assert!(!report.relocations.is_empty());
    for relocation in &report.relocations {
        let want = truth(target, local, relocation);
        assert_eq!(want_of(relocation), want, "{name}: {relocation}");
        let insn = linked.instructions[relocation.insn_index];
        match want {
            Want::Poisoned => {
                assert_eq!(insn.code, 0x85, "{name}: {relocation}: not a call");
                assert_eq!(insn.imm, POISON_HELPER_ID, "{name}: {relocation}");
            }
            Want::Value(value) => match insn.code & 7 {
                // ALU/ALU64 immediates and the 64-bit immediate load carry the value itself.
                0x04 | 0x07 => {
                    assert_eq!(i64::from(insn.imm) as u64, value, "{name}: {relocation}")
                }
                0x00 => {
                    let next = linked.instructions[relocation.insn_index + 1];
                    let wide = u64::from(insn.imm as u32) | (u64::from(next.imm as u32) << 32);
                    assert_eq!(wide, value, "{name}: {relocation}");
                }
                // Loads and stores carry a field offset.
                0x01..=0x03 => assert_eq!(insn.off as u64, value, "{name}: {relocation}"),
                _ => {}
            },
        }
    }
    report
}

fn value_of(report: &CoreReport, path: &str, kind: CoreReloKind) -> Want {
    report
        .relocations
        .iter()
        .find(|r| r.resolution.path == path && r.resolution.kind == kind)
        .map(want_of)
        .unwrap_or_else(|| panic!("no {kind} relocation of {path}"))
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[test]
fn every_relocation_matches_each_kernels_btf() {
    let kernels = all_kernels("every_relocation_matches_each_kernels_btf");
    for (name, btf) in kernels {
        let report = relocate_and_check(name, btf, "core_all");
        let kinds: BTreeSet<u32> = report
            .relocations
            .iter()
            .map(|r| r.resolution.kind.to_raw())
            .collect();
        assert_eq!(kinds.len(), 13, "{name}: every kind exercised");
        relocate_and_check(name, btf, "core_direct");
        let unguarded = relocate_and_check(name, btf, "core_unguarded");
        assert_eq!(unguarded.poisoned().count(), 1, "{name}");
    }
}

#[test]
fn arena_map_type_is_missing_on_6_1() {
    let object = Object::parse(OBJECT).unwrap();
    let local = object.btf.as_ref().unwrap();
    let arena = "bpf_map_type___local::BPF_MAP_TYPE_ARENA___local";
    for (name, btf) in debian_kernels() {
        // The truth first: 6.1's enum bpf_map_type has no ARENA (it came in 6.9).
        let map_type = btf
            .find_by_name_kind("bpf_map_type", BtfKind::Enum)
            .unwrap();
        let names: Vec<&str> = btf
            .type_by_id(map_type)
            .unwrap()
            .enum_values()
            .map(|v| name_of(btf, v.name_offset))
            .collect();
        assert!(names.contains(&"BPF_MAP_TYPE_BLOOM_FILTER"), "{name}");
        assert!(!names.contains(&"BPF_MAP_TYPE_ARENA"), "{name}");

        let report = relocate_and_check(name, btf, "core_all");
        assert_eq!(
            value_of(&report, arena, CoreReloKind::EnumvalExists),
            Want::Value(0),
            "{name}"
        );
        assert_eq!(
            value_of(&report, arena, CoreReloKind::EnumvalValue),
            Want::Poisoned,
            "{name}"
        );
        let poisoned: Vec<&str> = report
            .poisoned()
            .map(|r| r.resolution.path.as_str())
            .collect();
        assert!(poisoned.contains(&arena), "{name}: {poisoned:?}");
        // The local type id does not depend on the target.
        let local_id = local
            .find_by_name_kind("task_struct", BtfKind::Struct)
            .unwrap();
        assert_eq!(
            value_of(&report, "task_struct", CoreReloKind::TypeIdLocal),
            Want::Value(u64::from(local_id))
        );
    }
    let Some(running) = running("arena_map_type_is_missing_on_6_1") else {
        return;
    };
    let report = relocate_and_check("running", running, "core_all");
    if let Some(value) = enum_value(running, "bpf_map_type", "BPF_MAP_TYPE_ARENA") {
        assert_eq!(
            value_of(&report, arena, CoreReloKind::EnumvalExists),
            Want::Value(1)
        );
        assert_eq!(
            value_of(&report, arena, CoreReloKind::EnumvalValue),
            Want::Value(value)
        );
    }
}

/// The same CO-RE read lands at different offsets on each kernel, each the kernel's own.
#[test]
fn task_struct_layout_differs_between_kernels() {
    let mut kernels = debian_kernels();
    if kernels.len() < 2 {
        return;
    }
    // The running kernel is compared only when it is of a later generation (it has ARENA, 6.9+):
    // on a machine running Debian's 6.1 itself the layouts would rightly be the same.
    let newer_running = running("task_struct_layout_differs_between_kernels").filter(|btf| {
        let arena = enum_value(btf, "bpf_map_type", "BPF_MAP_TYPE_ARENA");
        if arena.is_none() {
            println!("skipped: running kernel comparison: it predates 6.9");
        }
        arena.is_some()
    });
    if let Some(btf) = newer_running {
        kernels.push(("running", btf));
    }
    let reports: Vec<(&str, CoreReport)> = kernels
        .iter()
        .map(|(name, btf)| (*name, relocate_and_check(name, btf, "core_all")))
        .collect();
    let column = |path: &str, kind| -> Vec<Want> {
        reports
            .iter()
            .map(|(_, report)| value_of(report, path, kind))
            .collect()
    };
    let sizes = column("task_struct", CoreReloKind::TypeSize);
    let pids = column("task_struct.pid", CoreReloKind::FieldByteOffset);
    let comms = column("task_struct.comm[3]", CoreReloKind::FieldByteOffset);
    let ids = column("task_struct", CoreReloKind::TypeIdTarget);
    for (index, (name, _)) in reports.iter().enumerate() {
        println!(
            "{name}: task_struct size {:?}, pid at {:?}, comm[3] at {:?}, BTF id {:?}",
            sizes[index], pids[index], comms[index], ids[index]
        );
    }
    // amd64 and arm64 of the same release: a different task_struct (thread_info, thread_struct
    // and config differ), so different sizes, field offsets and type ids.
    assert_ne!(sizes[0], sizes[1], "task_struct size amd64 vs arm64");
    assert_ne!(pids[0], pids[1], "pid offset amd64 vs arm64");
    assert_ne!(comms[0], comms[1], "comm offset amd64 vs arm64");
    assert_ne!(ids[0], ids[1], "task_struct BTF id amd64 vs arm64");
    // And a later kernel's task_struct is neither of Debian's 6.1 layouts.
    if sizes.len() == 3 {
        for debian in 0..2 {
            let debian_name = reports[debian].0;
            assert_ne!(
                sizes[2], sizes[debian],
                "task_struct size: running vs {debian_name}"
            );
            assert_ne!(
                pids[2], pids[debian],
                "pid offset: running vs {debian_name}"
            );
        }
    }
}

/// libbpf's `__state`/`state` idiom (5.14 renamed the field) through type flavors:
/// `task_struct___new` has `__state`, `task_struct___old` has `state`; both match the kernel's
/// `task_struct` by essential name, and only the field the kernel has resolves.
#[test]
fn state_flavors_resolve_like_libbpf() {
    let mut b = BtfBuilder::new();
    let uint = b.add_int("unsigned int", 4, 0);
    let long = b.add_int("long", 8, INT_SIGNED);
    let new = b.add_struct(
        "task_struct___new",
        4,
        &[MemberSpec::new("__state", uint, 0)],
    );
    let old = b.add_struct("task_struct___old", 8, &[MemberSpec::new("state", long, 0)]);
    let first_member = b.add_string("0:0");
    let whole_type = b.add_string("0");
    let local = Btf::parse(&b.finish()).unwrap();

    for (name, target) in all_kernels("state_flavors_resolve_like_libbpf") {
        let targets = [target];
        let mut resolver = CoreResolver::new(&local, &targets);
        let task = target
            .find_by_name_kind("task_struct", BtfKind::Struct)
            .unwrap();
        // Both flavors find the one task_struct.
        for flavor in [new, old] {
            assert_eq!(resolver.candidates(flavor).unwrap(), &[(0, task)], "{name}");
        }
        let resolve = |resolver: &mut CoreResolver, type_id, kind: CoreReloKind| {
            let relo = CoreRelo {
                insn: 0,
                type_id,
                access_str_off: if kind.is_field_based() {
                    first_member
                } else {
                    whole_type
                },
                kind: kind.to_raw(),
            };
            let resolution = resolver
                .resolve(&relo)
                .unwrap_or_else(|err| panic!("{name}: {err}"));
            match resolution.outcome {
                CoreOutcome::Relocated { value, .. } => Want::Value(value),
                CoreOutcome::Poisoned { .. } => Want::Poisoned,
            }
        };
        let (state_bits, state) = find_member(target, task, "__state")
            .unwrap_or_else(|| panic!("{name}: task_struct.__state"));
        assert!(find_member(target, task, "state").is_none(), "{name}");

        assert_eq!(
            resolve(&mut resolver, new, CoreReloKind::FieldExists),
            Want::Value(1),
            "{name}"
        );
        assert_eq!(
            resolve(&mut resolver, new, CoreReloKind::FieldByteOffset),
            Want::Value(state_bits / 8),
            "{name}"
        );
        assert_eq!(
            resolve(&mut resolver, new, CoreReloKind::FieldByteSize),
            Want::Value(target.resolve_size(state.type_id).unwrap()),
            "{name}"
        );
        assert_eq!(
            resolve(&mut resolver, new, CoreReloKind::FieldSigned),
            Want::Value(0),
            "{name}"
        );
        assert_eq!(
            resolve(&mut resolver, old, CoreReloKind::FieldExists),
            Want::Value(0),
            "{name}"
        );
        assert_eq!(
            resolve(&mut resolver, old, CoreReloKind::FieldByteOffset),
            Want::Poisoned,
            "{name}"
        );
        // The flavored types exist as task_struct does.
        assert_eq!(
            resolve(&mut resolver, old, CoreReloKind::TypeIdTarget),
            Want::Value(u64::from(task)),
            "{name}"
        );
    }
}

#[test]
fn whole_btf_decodes_and_names_are_found() {
    for (name, btf) in debian_kernels() {
        assert_eq!(btf.header().version, 1);
        let mut count = 0u32;
        let mut sampled = Vec::new();
        for ty in btf.types() {
            let ty = ty.unwrap_or_else(|err| panic!("{name}: {err}"));
            count += 1;
            let type_name = name_of(btf, ty.name_offset());
            // A spread of named types to look up by name afterwards.
            if !type_name.is_empty() && ty.id() % 499 == 0 {
                sampled.push((ty.id(), type_name.to_owned(), ty.kind()));
            }
        }
        assert_eq!(count + 1, btf.type_count(), "{name}: ids 1..type_count");
        assert!(sampled.len() > 100, "{name}: {}", sampled.len());
        for (id, type_name, kind) in &sampled {
            let found = btf
                .find_by_name_kind(type_name, *kind)
                .unwrap_or_else(|| panic!("{name}: {kind} {type_name} not found"));
            let found_type = btf.type_by_id(found).unwrap();
            assert_eq!(found_type.kind(), *kind, "{name}: {type_name}");
            assert_eq!(btf.type_name(found).unwrap(), type_name, "{name}");
            // Kernel BTF is deduplicated, but a name may still have several types of one kind;
            // the one found is then one of them.
            if found != *id {
                println!("{name}: {kind} {type_name}: ids {found} and {id}");
            }
        }
        for (type_name, kind) in [
            ("task_struct", BtfKind::Struct),
            ("list_head", BtfKind::Struct),
            ("bpf_map_type", BtfKind::Enum),
            ("pid_t", BtfKind::Typedef),
            ("pt_regs", BtfKind::Struct),
            ("bpf_map_lookup_elem", BtfKind::Func),
        ] {
            let id = btf
                .find_by_name_kind(type_name, kind)
                .unwrap_or_else(|| panic!("{name}: {kind} {type_name}"));
            assert_eq!(btf.type_name(id).unwrap(), type_name);
            assert_eq!(btf.type_by_id(id).unwrap().kind(), kind);
        }
        assert!(btf.find_by_name("bpfkit_no_such_type").is_none());
        assert!(btf
            .find_by_name_kind("task_struct", BtfKind::Union)
            .is_none());
    }
}

/// Architecture shows through the BTF: arm64's `pt_regs` wraps `user_pt_regs` (`regs[31]`,
/// `sp`, `pc`), amd64's has `ip` and `sp` directly.
#[test]
fn architectures_differ_in_pt_regs() {
    let (Some(amd64), Some(arm64)) = (committed(DEBIAN_AMD64), committed(DEBIAN_ARM64)) else {
        return;
    };
    let pt_regs = |btf: &Btf| btf.find_by_name_kind("pt_regs", BtfKind::Struct).unwrap();
    assert!(find_member(amd64, pt_regs(amd64), "ip").is_some());
    assert!(find_member(amd64, pt_regs(amd64), "pc").is_none());
    assert!(amd64
        .find_by_name_kind("user_pt_regs", BtfKind::Struct)
        .is_none());
    assert!(find_member(arm64, pt_regs(arm64), "pc").is_some());
    assert!(find_member(arm64, pt_regs(arm64), "ip").is_none());
    let user_pt_regs = arm64
        .find_by_name_kind("user_pt_regs", BtfKind::Struct)
        .unwrap();
    let regs = walk_path(arm64, user_pt_regs, "regs").unwrap();
    let regs_array = arm64.skip_mods_and_typedefs(regs.type_id).unwrap();
    assert_eq!(arm64.array_info(regs_array).unwrap().nelems, 31);
}

#[test]
fn writer_round_trips_real_kernel_btf() {
    for (name, btf) in debian_kernels() {
        let written = btf.to_bytes().unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(written.len(), btf.raw().len(), "{name}");
        assert!(written == btf.raw(), "{name}: written BTF differs");
        let again = Btf::from_vec(written).unwrap();
        assert_eq!(again.type_count(), btf.type_count());
        assert_eq!(
            again.find_by_name_kind("task_struct", BtfKind::Struct),
            btf.find_by_name_kind("task_struct", BtfKind::Struct)
        );
    }
}

/// Sanitized for a kernel without any of the newer kinds, real kernel BTF keeps every type id
/// and uses only the kinds Linux 4.18 knew.
#[test]
fn sanitizer_handles_real_kernel_btf() {
    let old_kinds = [
        BtfKind::Int,
        BtfKind::Ptr,
        BtfKind::Array,
        BtfKind::Struct,
        BtfKind::Union,
        BtfKind::Enum,
        BtfKind::Fwd,
        BtfKind::Typedef,
        BtfKind::Volatile,
        BtfKind::Const,
        BtfKind::Restrict,
    ];
    for (name, btf) in debian_kernels() {
        let sanitized = Btf::from_vec(btf.sanitized(&BtfFeatures::NONE).unwrap()).unwrap();
        // Like libbpf, one type is added when ENUM64 is present: the INT `enum64_placeholder`
        // the union members replacing an ENUM64 point to.
        let has_enum64 = btf
            .types()
            .any(|ty| ty.is_ok_and(|ty| ty.kind() == BtfKind::Enum64));
        assert_eq!(
            sanitized.type_count(),
            btf.type_count() + u32::from(has_enum64),
            "{name}"
        );
        if has_enum64 {
            let placeholder = btf.type_count();
            assert_eq!(
                sanitized.type_name(placeholder).unwrap(),
                "enum64_placeholder"
            );
            assert_eq!(
                sanitized.type_by_id(placeholder).unwrap().kind(),
                BtfKind::Int
            );
        }
        let mut rewritten = 0;
        for (before, after) in btf.types().zip(sanitized.types()) {
            let (before, after) = (before.unwrap(), after.unwrap());
            assert!(
                old_kinds.contains(&after.kind()),
                "{name}: {}",
                after.kind()
            );
            if before.kind() != after.kind() {
                rewritten += 1;
            }
        }
        assert!(rewritten > 1000, "{name}: only {rewritten} types rewritten");
        // Nothing to do for a kernel that has everything.
        assert!(
            btf.sanitized(&BtfFeatures::ALL).unwrap() == btf.raw(),
            "{name}"
        );
    }
}

/// Ids of the structs named `name`, by linear scan (not the name index).
fn structs_named(btf: &Btf, name: &str) -> Vec<u32> {
    btf.types()
        .filter_map(Result::ok)
        .filter(|ty| ty.kind() == BtfKind::Struct && name_of(btf, ty.name_offset()) == name)
        .map(|ty| ty.id())
        .collect()
}

/// The structs named `name` that have `field` with a kind a local `local_kind` field is
/// compatible with (composite with composite, otherwise the same kind), with its byte offset.
fn field_candidates(btf: &Btf, name: &str, field: &str, local_kind: BtfKind) -> Vec<(u32, u64)> {
    let composite = |kind| matches!(kind, BtfKind::Struct | BtfKind::Union);
    structs_named(btf, name)
        .into_iter()
        .filter_map(|id| {
            let (bit_offset, member) = find_member(btf, id, field)?;
            let kind = btf
                .skip_mods_and_typedefs(member.type_id)
                .and_then(|id| btf.type_by_id(id))
                .ok()?
                .kind();
            let compatible = kind == local_kind || (composite(kind) && composite(local_kind));
            compatible.then_some((id, bit_offset / 8))
        })
        .collect()
}

/// Kernel BTF has several structs under one name (`irq_info`, `getdents_callback`, ...): CO-RE
/// keeps the candidates whose field matches, accepts several that agree, and refuses ones that
/// disagree (libbpf: "relocation decision ambiguous") instead of picking one.
#[test]
fn same_named_kernel_structs_are_disambiguated_or_refused() {
    use bpfkit_obj::core_relo::CoreFailure;
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let void_ptr = b.add_ptr(0);
    let irq_info = b.add_struct("irq_info", 4, &[MemberSpec::new("irq", int, 0)]);
    let dir_context = b.add_struct("dir_context", 8, &[MemberSpec::new("actor", void_ptr, 0)]);
    let getdents = b.add_struct(
        "getdents_callback",
        16,
        &[
            MemberSpec::new("ctx", dir_context, 0),
            MemberSpec::new("current_dir", void_ptr, 8),
        ],
    );
    // The kernel's `ctx` is an embedded struct: a pointer does not match it anywhere.
    let getdents_ptr = b.add_struct(
        "getdents_callback___ptr",
        8,
        &[MemberSpec::new("ctx", void_ptr, 0)],
    );
    let first = b.add_string("0:0");
    let second = b.add_string("0:1");
    let local = Btf::parse(&b.finish()).unwrap();
    // (local type, access string, struct name, field, local field kind)
    let cases = [
        (irq_info, first, "irq_info", "irq", BtfKind::Int),
        (getdents, first, "getdents_callback", "ctx", BtfKind::Struct),
        (
            getdents,
            second,
            "getdents_callback",
            "current_dir",
            BtfKind::Ptr,
        ),
        (
            getdents_ptr,
            first,
            "getdents_callback",
            "ctx",
            BtfKind::Ptr,
        ),
    ];
    let (mut ambiguous, mut agreeing, mut narrowed, mut unmatched) = (0, 0, 0, 0);
    for (name, target) in all_kernels("same_named_kernel_structs_are_disambiguated_or_refused") {
        let targets = [target];
        let mut resolver = CoreResolver::new(&local, &targets);
        for (type_id, access, struct_name, field, local_kind) in cases {
            let same_named = structs_named(target, struct_name).len();
            let fitting = field_candidates(target, struct_name, field, local_kind);
            let offsets: BTreeSet<u64> = fitting.iter().map(|(_, offset)| *offset).collect();
            let relo = CoreRelo {
                insn: 0,
                type_id,
                access_str_off: access,
                kind: CoreReloKind::FieldByteOffset.to_raw(),
            };
            let result = resolver.resolve(&relo);
            let case = format!("{name}: {struct_name}.{field}: candidates {fitting:?}");
            println!(
                "{case}, of {same_named}: {:?}",
                result.as_ref().map(|r| &r.outcome)
            );
            match offsets.len() {
                0 => {
                    assert!(
                        matches!(result.map(|r| r.outcome), Ok(CoreOutcome::Poisoned { .. })),
                        "{case}"
                    );
                    if same_named > 0 {
                        unmatched += 1;
                    }
                }
                1 => {
                    let resolution = result.unwrap_or_else(|err| panic!("{case}: {err}"));
                    let offset = offsets.first().copied();
                    assert!(
                        matches!(resolution.outcome, CoreOutcome::Relocated { value, .. } if Some(value) == offset),
                        "{case}: {:?}",
                        resolution.outcome
                    );
                    if fitting.len() > 1 {
                        agreeing += 1;
                    }
                    // Fewer fitting than same-named structs: the field picked the candidate.
                    if fitting.len() < same_named {
                        narrowed += 1;
                    }
                }
                _ => {
                    match result {
                        Err(CoreFailure::Ambiguous { .. }) => {}
                        other => panic!("{case}: {other:?}"),
                    }
                    ambiguous += 1;
                }
            }
        }
    }
    if !debian_kernels().is_empty() {
        // Debian 6.1 has two int-compatible `irq_info.irq` at different offsets, two
        // `getdents_callback`s that agree on `ctx`, and only one with `current_dir`.
        assert!(ambiguous > 0, "no ambiguous case exercised");
        assert!(agreeing > 0, "no agreeing candidates exercised");
        assert!(narrowed > 0, "no candidate narrowed by its field");
        assert!(
            unmatched > 0,
            "no same-named struct refused for its field's kind"
        );
    }
}
