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

/// A fresh directory under the temp dir for one `new` test, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(label: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("bpfkit-cli-new-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// This checkout, absolute: what `new` writes into the manifests by default.
fn checkout() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

#[test]
fn new_writes_the_template_with_the_names_and_the_bpfkit_path() {
    let scratch = Scratch::new("names");
    let dir = scratch.0.join("my-probe");
    let output = bpfkit(&["new", dir.to_str().unwrap()]);
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    assert!(
        text.contains(&format!("cd {} && cargo build --release", dir.display())),
        "{text}"
    );
    assert!(text.contains("sudo ./target/release/my-probe"), "{text}");

    let mut files = Vec::new();
    let mut pending = vec![dir.clone()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path.strip_prefix(&dir).unwrap().display().to_string());
            }
        }
    }
    files.sort();
    assert_eq!(
        files,
        [
            ".gitignore",
            "Cargo.toml",
            "README.md",
            "my-probe-common/Cargo.toml",
            "my-probe-common/src/lib.rs",
            "my-probe-ebpf/Cargo.toml",
            "my-probe-ebpf/src/main.rs",
            "my-probe/Cargo.toml",
            "my-probe/build.rs",
            "my-probe/src/main.rs",
        ]
    );
    let read = |path: &str| std::fs::read_to_string(dir.join(path)).unwrap();
    for file in &files {
        let contents = read(file);
        assert!(
            !contents.contains("rust-app") && !contents.contains("rust_app"),
            "{file} still names the template"
        );
        assert!(
            !contents.contains("../../../"),
            "{file} has a relative bpfkit path"
        );
    }
    let user = read("my-probe/Cargo.toml");
    assert!(user.contains("name = \"my-probe\""), "{user}");
    let bpfkit_dependency = format!("bpfkit = {{ path = \"{}/bpfkit\" }}", checkout().display());
    assert!(user.contains(&bpfkit_dependency), "{user}");
    assert!(read("my-probe/src/main.rs").contains("use my_probe_common::ExecEvent;"));
    assert!(read("my-probe/src/main.rs").contains("\"/my-probe.bpf.o\""));
    assert!(read("my-probe-ebpf/src/main.rs").contains("fn my_probe("));
    assert!(read("Cargo.toml").contains("members = [\"my-probe\", \"my-probe-common\"]"));
}

#[test]
fn new_takes_the_name_and_bpfkit_path_given() {
    let scratch = Scratch::new("options");
    // Relative to the working directory (this crate's), and made absolute in the manifests.
    let output = Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .arg("new")
        .arg(scratch.0.join("project"))
        .args(["--name", "probe_2", "--bpfkit-path", ".."])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let manifest =
        std::fs::read_to_string(scratch.0.join("project/probe_2-ebpf/Cargo.toml")).unwrap();
    assert!(manifest.contains("name = \"probe_2-ebpf\""), "{manifest}");
    let dependency = format!("path = \"{}/bpfkit-ebpf\"", checkout().display());
    assert!(manifest.contains(&dependency), "{manifest}");
}

#[test]
fn new_refuses_names_that_are_not_crate_names() {
    let scratch = Scratch::new("bad-names");
    for (dir, name) in [
        ("Upper", None),
        ("ok", Some("2fast")),
        ("ok", Some("fn")),
        ("ok", Some("my probe")),
    ] {
        let dir = scratch.0.join(dir);
        let mut args = vec!["new", dir.to_str().unwrap()];
        args.extend(name.iter().flat_map(|name| ["--name", name]));
        let output = bpfkit(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        let error = String::from_utf8_lossy(&output.stderr);
        assert!(error.contains("cannot be the project name"), "{error}");
        assert!(!dir.exists(), "{} was created", dir.display());
    }
}

#[test]
fn new_refuses_a_non_empty_directory_and_a_tree_without_bpfkit() {
    let scratch = Scratch::new("refuse");
    let existing = scratch.0.join("Cargo.toml");
    std::fs::write(&existing, "mine\n").unwrap();
    let output = bpfkit(&["new", scratch.0.to_str().unwrap(), "--name", "probe"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not empty"));
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "mine\n");

    let empty = scratch.0.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let output = bpfkit(&[
        "new",
        empty.to_str().unwrap(),
        "--bpfkit-path",
        scratch.0.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not a bpfkit source tree"));
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
}
