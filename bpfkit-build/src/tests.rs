use super::*;

fn args(command: &Command) -> Vec<String> {
    command
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

fn env(command: &Command, name: &str) -> Option<Option<String>> {
    command
        .get_envs()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.map(|v| v.to_string_lossy().into_owned()))
}

#[test]
fn the_command_builds_with_build_std_on_the_chosen_toolchain() {
    let build = EbpfBuild::new("/src/my-ebpf").target(Target::BpfEl);
    let command = build.cargo_command(Path::new("/out/t"));
    assert_eq!(command.get_program(), "rustup");
    assert_eq!(
        args(&command),
        [
            "run",
            PINNED_RUST,
            "cargo",
            "build",
            "--target",
            "bpfel-unknown-none",
            "-Z",
            "build-std=core",
            "--target-dir",
            "/out/t",
            "--release",
        ]
    );
    assert_eq!(command.get_current_dir(), Some(Path::new("/src/my-ebpf")));
    assert_eq!(
        env(&command, "RUSTC_BOOTSTRAP"),
        Some(Some("1".to_string()))
    );
    assert_eq!(
        env(&command, "CARGO_ENCODED_RUSTFLAGS"),
        Some(Some(
            "-C\u{1f}debuginfo=2\u{1f}-C\u{1f}link-arg=--btf".to_string()
        ))
    );
    for cleared in CLEARED_VARIABLES {
        if cleared != "CARGO_ENCODED_RUSTFLAGS" {
            assert_eq!(env(&command, cleared), Some(None), "{cleared} is removed");
        }
    }
}

#[test]
fn big_endian_debug_locked_nightly() {
    let command = EbpfBuild::new("/src/x")
        .target(Target::BpfEb)
        .release(false)
        .locked(true)
        .toolchain(Toolchain::Nightly)
        .extra_rustflags(["--remap-path-prefix=/src=/x".to_string()])
        .cargo_command(Path::new("/t"));
    assert_eq!(
        env(&command, "CARGO_ENCODED_RUSTFLAGS"),
        Some(Some(
            "-C\u{1f}debuginfo=2\u{1f}-C\u{1f}link-arg=--btf\u{1f}--remap-path-prefix=/src=/x"
                .to_string()
        ))
    );
    let args = args(&command);
    assert_eq!(args.get(1).map(String::as_str), Some("nightly"));
    assert!(args.contains(&"bpfeb-unknown-none".to_string()));
    assert!(args.contains(&"--locked".to_string()));
    assert!(!args.contains(&"--release".to_string()));
}

#[test]
fn relative_crate_paths_are_relative_to_the_manifest_dir() {
    // Cargo sets CARGO_MANIFEST_DIR for tests too: this crate's directory.
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let command = EbpfBuild::new("../ebpf").cargo_command(Path::new("/t"));
    assert_eq!(
        command.get_current_dir(),
        Some(manifest_dir.join("../ebpf").as_path())
    );
}

#[test]
fn errors_name_the_missing_piece_and_its_install_command() {
    let toolchain = BuildError::MissingToolchain {
        toolchain: "1.95.0".into(),
        detail: "toolchain '1.95.0' is not installed".into(),
    }
    .to_string();
    assert!(
        toolchain
            .contains("rustup toolchain install 1.95.0 --profile minimal --component rust-src"),
        "{toolchain}"
    );
    let rust_src = BuildError::MissingRustSrc {
        toolchain: "nightly".into(),
        looked_for: "/x/core/Cargo.toml".into(),
    }
    .to_string();
    assert!(
        rust_src.contains("rustup component add rust-src --toolchain nightly"),
        "{rust_src}"
    );
    let linker = BuildError::MissingBpfLinker {
        detail: "No such file or directory (os error 2)".into(),
    }
    .to_string();
    assert!(
        linker.contains("cargo install bpf-linker --version 0.10.4 --locked"),
        "{linker}"
    );
    let wrong = check_bpf_linker_version("bpf-linker 0.9.13").expect_err("another version");
    let wrong = wrong.to_string();
    assert!(wrong.contains("found `bpf-linker 0.9.13`"), "{wrong}");
    assert!(
        wrong.contains("--version 0.10.4 --locked --force"),
        "{wrong}"
    );
    assert!(check_bpf_linker_version("bpf-linker 0.10.4").is_ok());
}

#[test]
fn rust_src_is_looked_for_in_the_sysroot() {
    let sysroot = std::env::temp_dir().join(format!("bpfkit-build-sysroot-{}", std::process::id()));
    let core = sysroot.join("lib/rustlib/src/rust/library/core");
    std::fs::create_dir_all(&core).expect("temp dir");
    let missing = check_rust_src("1.95.0", &sysroot);
    std::fs::write(core.join("Cargo.toml"), "[package]\n").expect("write");
    let present = check_rust_src("1.95.0", &sysroot);
    let _ = std::fs::remove_dir_all(&sysroot);
    assert!(matches!(missing, Err(BuildError::MissingRustSrc { .. })));
    assert!(present.is_ok());
}

#[test]
fn no_out_dir_outside_build_scripts() {
    if std::env::var_os("OUT_DIR").is_some() {
        return; // only meaningful where cargo did not set it
    }
    let error = EbpfBuild::new("/nonexistent")
        .print_cargo_directives(false)
        .build()
        .expect_err("no OUT_DIR");
    assert!(matches!(error, BuildError::NoOutDir), "{error}");
}

#[test]
fn a_missing_crate_is_named_as_such_not_as_a_missing_toolchain() {
    let out = std::env::temp_dir().join(format!("bpfkit-build-nocrate-{}", std::process::id()));
    let error = EbpfBuild::new("/nonexistent/my-ebpf")
        .out_dir(&out)
        .print_cargo_directives(false)
        .build()
        .expect_err("no crate there");
    assert!(matches!(error, BuildError::NoCrate { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("no eBPF crate at /nonexistent/my-ebpf"),
        "{message}"
    );
    assert!(message.contains("CARGO_MANIFEST_DIR"), "{message}");
}

#[test]
fn dep_info_prerequisites_are_every_source_after_the_target() {
    let text = "/t/release/prog: /src/prog/src/main.rs /src/common/src/lib.rs \
                /src/with\\ space/lib.rs /src/back\\\\slash.rs\n\n\
                /t/release/prog.d:\n\
                /other: /src/x.rs\n";
    assert_eq!(
        parse_dep_info(text),
        [
            "/src/prog/src/main.rs",
            "/src/common/src/lib.rs",
            "/src/with space/lib.rs",
            "/src/back\\slash.rs",
            "/src/x.rs",
        ]
        .map(PathBuf::from)
    );
}

#[test]
fn dependency_sources_come_from_each_objects_dep_info() {
    let dir = std::env::temp_dir().join(format!("bpfkit-build-depinfo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("a.d"), "/t/a: /src/a.rs /src/common.rs\n").expect("write");
    std::fs::write(dir.join("b.d"), "/t/b: /src/common.rs /src/b.rs\n").expect("write");
    let objects = [
        ("a".to_string(), dir.join("a")),
        ("b".to_string(), dir.join("b")),
    ];
    let sources = dependency_sources(&dir, &objects);
    let missing = dependency_sources(&dir, &[("c".to_string(), dir.join("c"))]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        sources.expect("both dep-info files read"),
        ["/src/a.rs", "/src/b.rs", "/src/common.rs"].map(PathBuf::from)
    );
    assert!(matches!(missing, Err(BuildError::Io { .. })));
}

#[test]
fn only_bpf_elf_files_count_as_objects() {
    let mut elf = vec![0u8; 64];
    elf[0..4].copy_from_slice(b"\x7fELF");
    elf[5] = 1;
    elf[18..20].copy_from_slice(&EM_BPF.to_le_bytes());
    assert!(is_bpf_elf(&elf));
    elf[5] = 2;
    assert!(
        !is_bpf_elf(&elf),
        "big-endian header with a little-endian machine"
    );
    elf[18..20].copy_from_slice(&EM_BPF.to_be_bytes());
    assert!(is_bpf_elf(&elf));
    elf[18..20].copy_from_slice(&62u16.to_be_bytes()); // x86-64
    assert!(!is_bpf_elf(&elf));
    assert!(!is_bpf_elf(b"\x7fELF"));
    assert!(!is_bpf_elf(b""));
}

/// Builds the repository's own Rust test programs with the helper when the toolchain is
/// installed (CI installs it), and checks the objects are eBPF ELF files.
#[test]
fn builds_the_repositorys_rust_programs_when_the_toolchain_is_installed() {
    if check_toolchain(&Toolchain::default()).is_err() || check_bpf_linker().is_err() {
        println!("skipped: builds_the_repositorys_rust_programs: no eBPF toolchain");
        return;
    }
    let out = std::env::temp_dir().join(format!("bpfkit-build-out-{}", std::process::id()));
    std::fs::create_dir_all(&out).expect("temp dir");
    let result = EbpfBuild::new("../bpfkit/tests/rust-progs")
        .target(Target::BpfEl)
        .locked(true)
        .out_dir(&out)
        .print_cargo_directives(false)
        .build();
    let objects = result.as_ref().map(|objects| {
        objects
            .iter()
            .map(|path| (path.clone(), std::fs::read(path).unwrap_or_default()))
            .collect::<Vec<_>>()
    });
    let built = out.join("bpfkit-ebpf-target/bpfel-unknown-none/release");
    let sources = bpf_objects_in(&built).and_then(|found| dependency_sources(&built, &found));
    let _ = std::fs::remove_dir_all(&out);
    let objects = objects.unwrap_or_else(|e| panic!("building: {e}"));
    let names: Vec<String> = objects
        .iter()
        .filter_map(|(p, _)| p.file_name()?.to_str().map(str::to_string))
        .collect();
    assert!(names.contains(&"execsnoop.bpf.o".to_string()), "{names:?}");
    assert!(names.contains(&"xdp_count.bpf.o".to_string()), "{names:?}");
    // The rerun-if-changed lines: a change to a path dependency (here bpfkit-common, outside the
    // programs' crate) must rebuild the objects.
    let sources = sources.unwrap_or_else(|e| panic!("dep-info: {e}"));
    let common = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bpfkit-common/src/lib.rs");
    let common = common.canonicalize().expect("bpfkit-common exists");
    assert!(
        sources
            .iter()
            .any(|s| s.canonicalize().ok().as_ref() == Some(&common)),
        "{} is among {sources:?}",
        common.display()
    );
    assert!(
        sources.iter().any(|s| s.ends_with("src/bin/execsnoop.rs")),
        "{sources:?}"
    );
    for (path, bytes) in &objects {
        assert!(is_bpf_elf(bytes), "{} is an eBPF ELF", path.display());
        // `--btf` reached bpf-linker: BTF-defined maps need the `.BTF` section.
        assert!(
            bytes.windows(5).any(|w| w == b".BTF\0"),
            "{} has a .BTF section",
            path.display()
        );
    }
}
