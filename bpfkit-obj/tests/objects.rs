//! Parsing and linking the committed clang-19 objects in `tests/fixtures/` (sources next to them;
//! `make -C bpfkit-obj/tests/fixtures` rebuilds them).

use bpfkit_obj::consts::*;
use bpfkit_obj::insn::BPF_LD_IMM64;
use bpfkit_obj::{
    DataSection, Disassembler, InitialValue, Insn, MapKind, MapRelocKind, Object, Pinning,
    RelocationError, RelocationKind,
};

const PROGRAMS: &[u8] = include_bytes!("fixtures/programs.bpf.o");
const PROGRAMS_BE: &[u8] = include_bytes!("fixtures/programs.bpfeb.o");
const MAPS: &[u8] = include_bytes!("fixtures/maps_btf.bpf.o");
const MAPS_BE: &[u8] = include_bytes!("fixtures/maps_btf.bpfeb.o");
const LEGACY: &[u8] = include_bytes!("fixtures/legacy_maps.bpf.o");
const GLOBALS: &[u8] = include_bytes!("fixtures/globals.bpf.o");
const GLOBALS_BE: &[u8] = include_bytes!("fixtures/globals.bpfeb.o");
const EXTERNS: &[u8] = include_bytes!("fixtures/externs.bpf.o");

fn names(object: &Object) -> Vec<&str> {
    object.programs.iter().map(|p| p.name.as_str()).collect()
}

fn linked_names(object: &Object, program: &str) -> Vec<(String, String)> {
    let linked = object.link_program(program).unwrap();
    linked
        .functions
        .iter()
        .map(|f| (f.name.clone(), f.section.clone()))
        .collect()
}

/// Follows every pseudo call / function reference of a linked program and checks it lands on the
/// start of a linked function.
fn assert_calls_resolve(object: &Object, program: &str) {
    let linked = object.link_program(program).unwrap();
    let starts: Vec<usize> = linked.functions.iter().map(|f| f.start_insn).collect();
    let mut i = 0;
    while i < linked.instructions.len() {
        let insn = linked.instructions[i];
        let is_func_ref = insn.code == BPF_LD_IMM64 && insn.src_reg() == BPF_PSEUDO_FUNC;
        if insn.is_pseudo_call() || is_func_ref {
            let target = i as i64 + i64::from(insn.imm) + 1;
            assert!(
                starts.contains(&(target as usize)),
                "{program}: insn {i} targets {target}, starts {starts:?}"
            );
        }
        i += if insn.is_ld_imm64() { 2 } else { 1 };
    }
}

#[test]
fn programs_and_sections() {
    let object = Object::parse_named(PROGRAMS, "/some/dir/programs.bpf.o").unwrap();
    assert_eq!(object.name, "programs");
    assert_eq!(object.license, "Dual MIT/GPL");
    assert_eq!(object.kernel_version, Some(0x060c00));
    // .text functions are subprograms, not programs; two programs share "xdp".
    assert_eq!(
        names(&object),
        [
            "xdp_first",
            "xdp_second",
            "tc_main",
            "tp_loop",
            "socket_entry",
            "not_autoloaded"
        ]
    );
    let xdp = object.program("xdp_first").unwrap();
    assert_eq!(xdp.section_name, "xdp");
    assert_eq!(xdp.section.as_ref().unwrap().prog_type, BPF_PROG_TYPE_XDP);
    assert_eq!(xdp.license, "Dual MIT/GPL");
    assert_eq!(xdp.instructions.len(), 8);
    assert!(xdp.autoload());
    let lazy = object.program("not_autoloaded").unwrap();
    assert!(!lazy.autoload());
    assert_eq!(
        lazy.section.as_ref().unwrap().attach_target.as_deref(),
        Some("sched/sched_switch")
    );
    let tp = object.program("tp_loop").unwrap().section.clone().unwrap();
    assert_eq!((tp.prog_type, tp.kind), (BPF_PROG_TYPE_TRACEPOINT, "tp"));
    assert_eq!(Object::parse(PROGRAMS).unwrap().name, "obj");
    assert!(object.program("text_global").is_none());
    let functions: Vec<(&str, &str, bool)> = object.functions().collect();
    assert!(functions.contains(&("tc_static_helper", "tc", false)));
    assert!(functions.contains(&("text_global", ".text", false)));
}

#[test]
fn linking_appends_each_subprogram_once_transitively() {
    let object = Object::parse(PROGRAMS).unwrap();
    let s = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    // Static .text call chain resolved through a section-symbol relocation, then pc-relative.
    assert_eq!(
        linked_names(&object, "xdp_first"),
        [
            s("xdp_first", "xdp"),
            s("text_static_mid", ".text"),
            s("text_static_leaf", ".text")
        ]
    );
    // Global .text function by symbol, static function in another section ("tc"), and the chain
    // below text_global appended once even though two paths reach it.
    assert_eq!(
        linked_names(&object, "xdp_second"),
        [
            s("xdp_second", "xdp"),
            s("text_global", ".text"),
            s("tc_static_helper", "tc"),
            s("text_static_mid", ".text"),
            s("text_static_leaf", ".text"),
        ]
    );
    // An unrelocated pc-relative call inside "tc", then into .text.
    assert_eq!(
        linked_names(&object, "tc_main"),
        [
            s("tc_main", "tc"),
            s("tc_static_helper", "tc"),
            s("text_global", ".text"),
            s("text_static_mid", ".text"),
            s("text_static_leaf", ".text"),
        ]
    );
    for program in names(&object) {
        assert_calls_resolve(&object, program);
        let linked = object.link_program(program).unwrap();
        let total: usize = linked.functions.iter().map(|f| f.len).sum();
        assert_eq!(total, linked.instructions.len());
        assert!(linked.map_relocations.is_empty());
    }
    let exact = object.link_program("tc_main").unwrap();
    // tc_main's call at 1 goes to tc_static_helper at 3; helper's call (at 3) to text_global at 6.
    assert_eq!(
        (exact.instructions[1].imm, exact.instructions[3].imm),
        (1, 2)
    );
    assert_eq!(exact.functions[1].start_insn, 3);
    assert!(matches!(
        object.link_program("text_global"),
        Err(RelocationError::ProgramNotFound { .. })
    ));
}

#[test]
fn bpf_loop_callback_becomes_pseudo_func() {
    let object = Object::parse(PROGRAMS).unwrap();
    let linked = object.link_program("tp_loop").unwrap();
    assert_eq!(linked.functions[1].name, "loop_callback");
    let (index, insn) = linked
        .instructions
        .iter()
        .enumerate()
        .find(|(_, i)| i.is_ld_imm64())
        .unwrap();
    assert_eq!(insn.src_reg(), BPF_PSEUDO_FUNC);
    assert_eq!(
        index as i64 + i64::from(insn.imm) + 1,
        linked.functions[1].start_insn as i64
    );
    let text = Disassembler::new()
        .disassemble(&linked.instructions)
        .join("\n");
    assert!(text.contains("(18) r2 = func[pc+5]"), "{text}");
    assert!(text.contains("(85) call bpf_loop#181"), "{text}");
    let relocs = object.relocations();
    assert!(relocs.iter().any(|r| r.section == "tp/syscalls/sys_enter_getpid"
        && matches!(&r.kind, RelocationKind::FunctionAddress { target_section, target_insn: 6 } if target_section == ".text")));
}

#[test]
fn big_endian_objects_match_little_endian() {
    let le = Object::parse(PROGRAMS).unwrap();
    let be = Object::parse(PROGRAMS_BE).unwrap();
    assert_eq!(names(&le), names(&be));
    assert_eq!(be.kernel_version, Some(0x060c00));
    for program in names(&le) {
        let a = le.link_program(program).unwrap();
        let b = be.link_program(program).unwrap();
        assert_eq!(a, b, "{program}");
    }
    let maps_le = Object::parse(MAPS).unwrap();
    let maps_be = Object::parse(MAPS_BE).unwrap();
    assert_eq!(maps_le.maps.len(), maps_be.maps.len());
    for (a, b) in maps_le.maps.iter().zip(&maps_be.maps) {
        assert_eq!(
            (
                a.name.as_str(),
                a.map_type,
                a.key_size,
                a.value_size,
                a.max_entries,
                a.map_flags,
                &a.initial_slots
            ),
            (
                b.name.as_str(),
                b.map_type,
                b.key_size,
                b.value_size,
                b.max_entries,
                b.map_flags,
                &b.initial_slots
            )
        );
    }
    let globals = Object::parse(GLOBALS_BE).unwrap();
    let data = globals.map(".data").unwrap();
    assert_eq!(data.initial_data.as_deref(), Some(&5u64.to_be_bytes()[..]));
    let rodata = globals.map(".rodata").unwrap();
    assert_eq!(
        rodata.initial_data.as_deref(),
        Some(&4242u16.to_be_bytes()[..])
    );
}

#[test]
fn btf_map_attributes() {
    let object = Object::parse(MAPS).unwrap();
    assert!(object.btf.is_some());
    let flows = object.map("flows").unwrap();
    assert_eq!(flows.kind, MapKind::Btf);
    assert_eq!(
        (
            flows.map_type,
            flows.key_size,
            flows.value_size,
            flows.max_entries,
            flows.map_flags
        ),
        (BPF_MAP_TYPE_HASH, 16, 16, 1024, BPF_F_NO_PREALLOC)
    );
    assert_eq!(flows.pinning, Pinning::ByName);
    let btf = object.btf.as_ref().unwrap();
    assert_eq!(
        btf.type_name(flows.btf_key_type_id.unwrap()).unwrap(),
        "flow_key"
    );
    assert_eq!(
        btf.type_name(flows.btf_value_type_id.unwrap()).unwrap(),
        "flow_stats"
    );

    let sized = object.map("sized_array").unwrap();
    assert_eq!(
        (sized.key_size, sized.value_size, sized.max_entries),
        (4, 8, 16)
    );
    assert_eq!(sized.numa_node, Some(0));
    assert_ne!(sized.map_flags & BPF_F_NUMA_NODE, 0);
    assert_eq!(
        (sized.btf_key_type_id, sized.btf_value_type_id),
        (None, None)
    );

    let bloom = object.map("bloom").unwrap();
    assert_eq!(
        (
            bloom.map_type,
            bloom.key_size,
            bloom.value_size,
            bloom.map_extra
        ),
        (BPF_MAP_TYPE_BLOOM_FILTER, 0, 4, 3)
    );
    let events = object.map("events").unwrap();
    assert_eq!(
        (events.map_type, events.max_entries),
        (BPF_MAP_TYPE_RINGBUF, 4096)
    );
    assert_eq!(events.pinning, Pinning::None);
}

#[test]
fn map_in_map_and_prog_array_values() {
    let object = Object::parse(MAPS).unwrap();
    let outer = object.map("outer").unwrap();
    assert_eq!(
        (
            outer.map_type,
            outer.key_size,
            outer.value_size,
            outer.max_entries
        ),
        (BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 4)
    );
    let inner = outer.inner.as_ref().unwrap();
    assert_eq!(
        (
            inner.name.as_str(),
            inner.map_type,
            inner.key_size,
            inner.value_size
        ),
        ("outer.inner", BPF_MAP_TYPE_ARRAY, 4, 8)
    );
    assert_eq!(
        outer.initial_slots,
        [
            (0, InitialValue::Map("inner_one".into())),
            (2, InitialValue::Map("inner_two".into()))
        ]
    );
    let jumps = object.map("jumps").unwrap();
    assert_eq!(
        (jumps.map_type, jumps.key_size, jumps.value_size),
        (BPF_MAP_TYPE_PROG_ARRAY, 4, 4)
    );
    assert_eq!(
        jumps.initial_slots,
        [
            (0, InitialValue::Program("tail_one".into())),
            (2, InitialValue::Program("tail_two".into()))
        ]
    );
    // The program that uses the maps references each of them by fd.
    let linked = object.link_program("use_maps").unwrap();
    let used: Vec<&str> = linked
        .map_relocations
        .iter()
        .map(|r| object.maps[r.map_index].name.as_str())
        .collect();
    assert_eq!(
        used,
        ["flows", "sized_array", "bloom", "outer", "events", "jumps"]
    );
    for reloc in &linked.map_relocations {
        assert_eq!(reloc.kind, MapRelocKind::Fd);
        assert_eq!(
            linked.instructions[reloc.insn_index].src_reg(),
            BPF_PSEUDO_MAP_FD
        );
    }
}

#[test]
fn legacy_maps_section() {
    let object = Object::parse(LEGACY).unwrap();
    assert_eq!(object.maps.len(), 2);
    let hash = &object.maps[0];
    assert_eq!(hash.name, "legacy_hash");
    assert_eq!(hash.kind, MapKind::Legacy);
    assert_eq!(
        (
            hash.map_type,
            hash.key_size,
            hash.value_size,
            hash.max_entries
        ),
        (BPF_MAP_TYPE_HASH, 4, 8, 128)
    );
    let percpu = object.map("legacy_percpu").unwrap();
    assert_eq!(
        (percpu.map_type, percpu.value_size, percpu.max_entries),
        (BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8)
    );
    let linked = object.link_program("legacy_user").unwrap();
    let indices: Vec<(usize, usize)> = linked
        .map_relocations
        .iter()
        .map(|r| (r.insn_index, r.map_index))
        .collect();
    assert_eq!(indices, [(5, 0), (17, 0), (23, 1)]);
    let text = Disassembler::new()
        .map_name(5, "legacy_hash")
        .disassemble(&linked.instructions);
    assert!(text.contains(&"   5: (18) r1 = map[legacy_hash]".to_owned()));
    assert!(text.contains(&"   7: (85) call bpf_map_lookup_elem#1".to_owned()));
}

#[test]
fn global_data_maps_and_variables() {
    let object = Object::parse(GLOBALS).unwrap();
    let kinds: Vec<(&str, MapKind)> = object
        .maps
        .iter()
        .map(|m| (m.name.as_str(), m.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            (".data", MapKind::Data(DataSection::Data)),
            (".rodata", MapKind::Data(DataSection::Rodata)),
            (".data.custom", MapKind::Data(DataSection::Data)),
            (".rodata.custom", MapKind::Data(DataSection::Rodata)),
            (".bss", MapKind::Data(DataSection::Bss)),
        ]
    );
    for map in &object.maps {
        assert_eq!(
            (map.map_type, map.key_size, map.max_entries),
            (BPF_MAP_TYPE_ARRAY, 4, 1)
        );
        assert_ne!(map.map_flags & BPF_F_MMAPABLE, 0);
        let rodata = matches!(map.kind, MapKind::Data(DataSection::Rodata));
        assert_eq!(
            map.map_flags & BPF_F_RDONLY_PROG != 0,
            rodata,
            "{}",
            map.name
        );
        assert_eq!(
            map.initial_data.as_ref().map(Vec::len),
            Some(map.value_size as usize)
        );
        let btf = object.btf.as_ref().unwrap();
        assert_eq!(
            btf.type_name(map.btf_value_type_id.unwrap()).unwrap(),
            map.name
        );
    }
    assert_eq!(
        object.map(".data").unwrap().initial_data.as_deref(),
        Some(&5u64.to_le_bytes()[..])
    );
    assert_eq!(
        object.map(".bss").unwrap().initial_data.as_deref(),
        Some(&[0u8; 24][..])
    );
    assert_eq!(
        object
            .map(".rodata.custom")
            .unwrap()
            .initial_data
            .as_deref(),
        Some(&77u32.to_le_bytes()[..])
    );

    let bss = object.map_index(".bss").unwrap();
    let scratch = object.global_variable("scratch").unwrap();
    assert_eq!(
        (scratch.map_index, scratch.offset, scratch.size),
        (bss, 8, 16)
    );
    let port = object.global_variable("target_port").unwrap();
    assert_eq!(
        (port.map_index, port.offset, port.size),
        (object.map_index(".rodata").unwrap(), 0, 2)
    );
    assert_eq!(
        object.global_variable("custom_counter").unwrap().map_index,
        object.map_index(".data.custom").unwrap()
    );
    assert!(object.global_variable("nope").is_none());

    let linked = object.link_program("xdp_globals").unwrap();
    let scratch_ref = linked
        .map_relocations
        .iter()
        .find(|r| r.map_index == bss && r.kind == MapRelocKind::Value { offset: 8 })
        .unwrap();
    let ld = linked.instructions[scratch_ref.insn_index];
    assert_eq!(
        (
            ld.src_reg(),
            ld.imm,
            linked.instructions[scratch_ref.insn_index + 1].imm
        ),
        (BPF_PSEUDO_MAP_VALUE, 0, 8)
    );
    assert_eq!(linked.map_relocations.len(), 6);
}

#[test]
fn externs_link_into_the_kconfig_map_and_extern_relocations() {
    let object = Object::parse(EXTERNS).unwrap();
    let kconfig_index = object.map_index(".kconfig").unwrap();
    let kconfig = &object.maps[kconfig_index];
    assert_eq!((kconfig.kind, kconfig.value_size), (MapKind::Kconfig, 4));
    let version = object.extern_by_name("LINUX_KERNEL_VERSION").unwrap();
    assert_eq!(version.kconfig().map(|k| (k.offset, k.size)), Some((0, 4)));

    // A .kconfig extern is a value reference into the .kconfig map.
    let linked = object.link_program("uses_kconfig").unwrap();
    let reloc = linked
        .map_relocations
        .iter()
        .find(|r| r.map_index == kconfig_index)
        .unwrap();
    assert_eq!(reloc.kind, MapRelocKind::Value { offset: 0 });
    assert_eq!(
        linked.instructions[reloc.insn_index].src_reg(),
        BPF_PSEUDO_MAP_VALUE
    );
    assert!(linked.extern_relocations.is_empty());

    // A .ksyms extern is left for the loader, which knows the kernel.
    let ksym = object.extern_by_name("bpf_prog_active").unwrap();
    assert_eq!(ksym.section(), ".ksyms");
    let linked = object.link_program("uses_ksym").unwrap();
    assert_eq!(linked.extern_relocations.len(), 1);
    let reloc = &linked.extern_relocations[0];
    assert_eq!(
        (reloc.name.as_str(), reloc.kind),
        ("bpf_prog_active", bpfkit_obj::ExternRelocKind::Load)
    );
    assert!(linked.instructions[reloc.insn_index].is_ld_imm64());
}

#[test]
fn insn_round_trip() {
    let object = Object::parse(PROGRAMS_BE).unwrap();
    for program in &object.programs {
        for insn in &program.instructions {
            let bytes = insn.to_le_bytes();
            assert_eq!(Insn::from_bytes(bytes, false), *insn);
        }
    }
}

/// bpf-linker gives Rust's `memset`/`memcpy`/... global BTF linkage but hidden ELF visibility;
/// the kernel must get them as static functions (verified in the caller's context, as libbpf
/// arranges), while the entry point stays global.
#[test]
fn hidden_subprograms_become_static_in_the_kernel_btf() {
    const STACK_MEMORY: &[u8] =
        include_bytes!("../../bpfkit/tests/objects/rust/stack_memory.bpf.o");
    const BTF_FUNC_STATIC: u32 = 0;
    const BTF_FUNC_GLOBAL: u32 = 1;
    let object = Object::parse(STACK_MEMORY).unwrap();
    let linkage_in = |btf: &bpfkit_obj::Btf, name: &str| {
        let id = btf
            .find_by_name_kind(name, bpfkit_obj::btf::BtfKind::Func)
            .unwrap_or_else(|| panic!("no FUNC {name}"));
        btf.type_by_id(id).unwrap().linkage()
    };
    let file_btf = object.btf.as_ref().unwrap();
    assert_eq!(linkage_in(file_btf, "memset"), Some(BTF_FUNC_GLOBAL));
    let kernel_btf = bpfkit_obj::Btf::parse(&object.kernel_btf().unwrap().unwrap()).unwrap();
    for helper in ["memset", "memcpy", "memmove"] {
        assert_eq!(
            linkage_in(&kernel_btf, helper),
            Some(BTF_FUNC_STATIC),
            "{helper}"
        );
    }
    assert_eq!(
        linkage_in(&kernel_btf, "stack_memory"),
        Some(BTF_FUNC_GLOBAL)
    );
}
