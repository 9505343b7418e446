//! bpf-to-bpf calls (static and global functions, a function in another section), bpf_loop,
//! .rodata settings applied before load, and .bss/.data/custom data sections, observed through
//! BPF_PROG_TEST_RUN.

#[macro_use]
mod common;

use bpfkit::programs::TestRunOptions;
use bpfkit::{Ebpf, EbpfLoader};

const XDP_PASS: u32 = 2;
/// Initial values in calls.bpf.c.
const CUSTOM_OFFSET: u64 = 11;
const CUSTOM_ADDEND: u64 = 7;
const TOTAL: u64 = 100;

/// What calls_main computes, from the C source's formula.
fn expected_result(multiplier: u64, loop_iterations: u64, addend: u64) -> u64 {
    let loop_sum: u64 = (0..loop_iterations).sum();
    (loop_sum + CUSTOM_OFFSET) * multiplier + 1 + addend
}

fn run(ebpf: &Ebpf, program: &str) -> u32 {
    let packet = [0u8; 64];
    let output = ebpf
        .program(program)
        .expect("program")
        .data()
        .test_run(&TestRunOptions {
            data_in: &packet,
            repeat: 1,
            ..Default::default()
        })
        .expect("test run");
    output.retval
}

fn global(ebpf: &Ebpf, name: &str) -> u64 {
    ebpf.global::<u64>(name)
        .unwrap_or_else(|e| panic!("reading {name}: {e}"))
}

#[test]
fn rodata_settings_change_behaviour_and_counters_accumulate() {
    require_root!();
    let (multiplier, iterations) = (3u32, 5u32);
    let ebpf = EbpfLoader::new()
        .set_global("multiplier", &multiplier, true)
        .set_global("loop_iterations", &iterations, true)
        .load(&common::object("calls.bpf.o"))
        .expect("load");
    // Initial contents of every data section are in the kernel before the first run.
    assert_eq!(global(&ebpf, "runs"), 0);
    assert_eq!(global(&ebpf, "total"), TOTAL);
    assert_eq!(global(&ebpf, "custom_addend"), CUSTOM_ADDEND);
    assert_eq!(global(&ebpf, "custom_offset"), CUSTOM_OFFSET);
    assert_eq!(
        ebpf.global::<u32>("multiplier").expect("multiplier"),
        multiplier
    );
    for section in [".rodata", ".data", ".bss", ".data.custom", ".rodata.custom"] {
        assert!(ebpf.map(section).is_some(), "no map for {section}");
    }

    let first = expected_result(u64::from(multiplier), u64::from(iterations), CUSTOM_ADDEND);
    let second = expected_result(
        u64::from(multiplier),
        u64::from(iterations),
        CUSTOM_ADDEND + 1,
    );
    assert_eq!(run(&ebpf, "calls_main"), XDP_PASS);
    assert_eq!(
        global(&ebpf, "last_loop_sum"),
        (0..u64::from(iterations)).sum::<u64>()
    );
    assert_eq!(global(&ebpf, "last_result"), first);
    assert_eq!(run(&ebpf, "calls_main"), XDP_PASS);
    assert_eq!(global(&ebpf, "last_result"), second);
    assert_eq!(global(&ebpf, "runs"), 2);
    assert_eq!(global(&ebpf, "total"), TOTAL + first + second);
    assert_eq!(global(&ebpf, "custom_addend"), CUSTOM_ADDEND + 2);

    // User space writes to .bss reach the program.
    ebpf.set_global("runs", &40u64).expect("writing .bss");
    run(&ebpf, "calls_main");
    assert_eq!(global(&ebpf, "runs"), 41);
    // .rodata is frozen after load.
    assert!(
        ebpf.set_global("multiplier", &9u32).is_err(),
        ".rodata must be read-only after load"
    );
}

#[test]
fn default_rodata_gives_the_default_result() {
    require_root!();
    let ebpf = Ebpf::load(&common::object("calls.bpf.o")).expect("load");
    assert_eq!(run(&ebpf, "calls_main"), XDP_PASS);
    assert_eq!(
        global(&ebpf, "last_result"),
        expected_result(1, 4, CUSTOM_ADDEND)
    );
}

#[test]
fn setting_an_unknown_global_fails_before_load() {
    require_root!();
    let result = EbpfLoader::new()
        .set_global("no_such_variable", &1u32, true)
        .load(&common::object("calls.bpf.o"));
    let err = result.expect_err("an unknown global must be an error");
    assert!(err.to_string().contains("no_such_variable"), "{err}");
    // Optional settings of absent variables are ignored.
    EbpfLoader::new()
        .set_global("no_such_variable", &1u32, false)
        .load(&common::object("calls.bpf.o"))
        .expect("load");
}

#[test]
fn calls_into_another_section() {
    require_root!();
    let ebpf = Ebpf::load(&common::object("calls_sections.bpf.o")).expect("load");
    let packet_len = 64u64;
    assert_eq!(run(&ebpf, "cross_section"), XDP_PASS);
    // section_result = triple(len) + triple_plus_one(2) = 3 * len + 7
    assert_eq!(
        global(&ebpf, "section_result"),
        3 * packet_len + (3 * 2 + 1)
    );
}

/// The object's BTF and `.BTF.ext` reach the kernel with each program: `bpftool prog dump
/// xlated` shows the C source lines, and the program carries the BTF.
#[test]
fn programs_carry_func_and_line_info() {
    require_root!();
    let ebpf = bpfkit::Ebpf::load(&common::object("calls.bpf.o")).expect("load");
    let program = ebpf.program("calls_main").expect("program").data();
    let info = program.info().expect("info");
    assert_ne!(info.btf_id, 0, "the program has no BTF");
    let dump = common::run_ok(&[
        "bpftool",
        "prog",
        "dump",
        "xlated",
        "id",
        &info.id.to_string(),
    ]);
    let source_lines = dump
        .lines()
        .filter(|l| l.trim_start().starts_with("; "))
        .count();
    assert!(source_lines > 3, "no source lines in:\n{dump}");
    // Function info names the subprograms appended to the program.
    assert!(dump.contains("add_one"), "{dump}");
}
