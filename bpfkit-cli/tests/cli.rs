//! The `bpfkit` binary, run as a user would: `inspect` without the kernel, `load` against it.

#[macro_use]
#[path = "../../bpfkit/tests/common/mod.rs"]
mod common;

use std::process::{Command, Output};

use common::Bpffs;

fn bpfkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .args(args)
        .output()
        .expect("the bpfkit binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A committed test object of the library's kernel tests.
fn object(name: &str) -> String {
    format!(
        "{}/../bpfkit/tests/objects/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn inspect_lists_programs_maps_and_relocations_without_the_kernel() {
    let output = bpfkit(&["inspect", &object("calls.bpf.o")]);
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    assert!(text.contains("calls_main"), "{text}");
    assert!(text.contains("BPF_PROG_TYPE_XDP"), "{text}");
    assert!(text.contains(".rodata"), "{text}");
    assert!(text.contains("value of map .rodata"), "{text}");
    assert!(text.contains("call .text+"), "{text}");
    assert!(text.contains("address of function .text+"), "{text}");
}

#[test]
fn inspect_disassembles_like_bpftool() {
    let output = bpfkit(&["inspect", "--disasm", &object("xdp_count.bpf.o")]);
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    assert!(text.contains("call bpf_map_lookup_elem#1"), "{text}");
    assert!(text.contains("exit"), "{text}");
}

#[test]
fn bad_usage_and_bad_objects_are_errors_not_panics() {
    let output = bpfkit(&["frobnicate"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("usage"));

    let dir = std::env::temp_dir().join(format!("bpfkit-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let garbage = dir.join("garbage.o");
    std::fs::write(&garbage, b"\x7fELF this is not an object").unwrap();
    for command in ["inspect", "load"] {
        let output = bpfkit(&[command, garbage.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(2), "{command}: {output:?}");
        assert!(
            !String::from_utf8_lossy(&output.stderr).contains("panicked"),
            "{output:?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn load_prints_one_line_per_program_and_exits_0() {
    require_root!();
    let output = bpfkit(&["load", &object("tc_drop.bpf.o")]);
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    let rows: Vec<&str> = text.lines().filter(|l| l.ends_with("loaded")).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(
        rows.iter().any(|r| r.starts_with("tc_drop ")
            && r.contains(" tc ")
            && r.contains("BPF_PROG_TYPE_SCHED_CLS")),
        "{text}"
    );
    assert!(
        rows.iter()
            .any(|r| r.starts_with("tcx_drop ") && r.contains("tcx/ingress")),
        "{text}"
    );
}

#[test]
fn load_of_a_rejected_program_exits_1_with_the_log_tail() {
    require_root!();
    let output = bpfkit(&["load", &object("verifier_reject.bpf.o")]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let text = stdout(&output);
    assert!(text.contains("FAILED"), "{text}");
    assert!(text.contains("--- verifier log"), "{text}");
    assert!(
        text.contains("outside of the packet") || text.contains("invalid access to packet"),
        "{text}"
    );
}

#[test]
fn load_json_reports_every_program() {
    require_root!();
    let output = bpfkit(&["load", "--json", &object("xdp_count.bpf.o")]);
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    assert!(
        text.starts_with('{') && text.trim_end().ends_with('}'),
        "{text}"
    );
    assert!(text.contains(r#""ok":true"#), "{text}");
    assert!(text.contains(r#""name":"xdp_count""#), "{text}");
    assert!(text.contains(r#""name":"xdp_count_v2""#), "{text}");
    assert_eq!(text.matches(r#""loaded":true"#).count(), 2, "{text}");
}

#[test]
fn load_pins_programs_and_maps_under_the_directory() {
    require_root!();
    let bpffs = Bpffs::new();
    let dir = bpffs.path().join("calls");
    let output = bpfkit(&[
        "load",
        "--pin",
        dir.to_str().unwrap(),
        &object("calls.bpf.o"),
    ]);
    assert!(output.status.success(), "{output:?}");
    assert!(dir.join("calls_main").exists());
    for map in ["_rodata", "_bss", "_data", "_data_custom", "_rodata_custom"] {
        assert!(dir.join("maps").join(map).exists(), "map pin {map} missing");
    }
    // The pins outlive the process: the program is still there, reopened by path.
    let reopened =
        bpfkit::maps::MapData::from_pin(dir.join("maps").join("_bss")).expect("reopen .bss");
    assert!(reopened.name().ends_with(".bss"), "{}", reopened.name());
}
