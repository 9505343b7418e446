//! Building the Rust eBPF test programs into committed objects, and checking they are current.
//!
//! `bpfkit/tests/rust-progs` is a cargo workspace of its own; each `src/bin/<name>.rs` is one
//! eBPF object, installed as `bpfkit/tests/objects/rust/<name>.bpf.o`. The build uses a pinned
//! Rust release with `RUSTC_BOOTSTRAP=1` (for `-Z build-std=core` and the atomic-add intrinsic)
//! rather than a moving nightly, so that another machine with the same release and bpf-linker
//! 0.10.4 produces the same bytes. Absolute paths (the checkout, the toolchain's library
//! sources, the target directory) are remapped, and the build runs twice into different target
//! directories to prove the result does not depend on them.
//!
//! The DWARF is stripped from the installed objects (`llvm-objcopy-19 --strip-debug`): it holds
//! mangled symbol names whose hashes cargo derives from the absolute paths of path dependencies
//! outside the programs' workspace (`bpfkit-ebpf`, `bpfkit-common`), so it differs between
//! checkouts. The kernel, libbpf and bpfkit need only the BTF, which bpf-linker generated from
//! that DWARF and which stays, with line info naming remapped (relative) source paths.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::TempDir;

/// The Rust release that builds the committed objects (its LLVM is the one bpf-linker loads).
const TOOLCHAIN: &str = bpfkit_build::PINNED_RUST;
/// The programs' cargo workspace, relative to the workspace root.
const PROGS_DIR: &str = "bpfkit/tests/rust-progs";
/// Where the objects go, relative to the workspace root.
const OBJECTS_DIR: &str = "bpfkit/tests/objects/rust";
/// Records the toolchain the committed objects were built with.
const TOOLCHAIN_FILE: &str = "bpfkit/tests/objects/rust/TOOLCHAIN";

/// Strips the DWARF after linking (the C side's clang-19 comes with it, from llvm-19).
const OBJCOPY: &str = "llvm-objcopy-19";

/// How to install each piece, for the error messages.
const INSTALL_HELP: &str = "the Rust eBPF toolchain is:
  rustup toolchain install 1.95.0 --profile minimal
  rustup component add rust-src --toolchain 1.95.0
  cargo install bpf-linker --version 0.10.4 --locked
  apt-get install llvm-19   (for llvm-objcopy-19)";

/// The toolchain found on this machine.
struct Toolchain {
    /// `rustc -V` of the pinned release.
    rustc_version: String,
    /// The release's sysroot (its library sources are under `lib/rustlib/src/rust`).
    sysroot: PathBuf,
    /// `bpf-linker --version`.
    linker_version: String,
}

impl Toolchain {
    /// Finds every piece, or says which one is missing and how to install it.
    fn find() -> Result<Toolchain, String> {
        let pinned = bpfkit_build::Toolchain::Release(TOOLCHAIN.to_string());
        let rustc_version = bpfkit_build::rustc_version(&pinned).map_err(|e| e.to_string())?;
        let sysroot = bpfkit_build::check_toolchain(&pinned).map_err(|e| e.to_string())?;
        let linker_version = bpfkit_build::check_bpf_linker().map_err(|e| e.to_string())?;
        output(Command::new(OBJCOPY).arg("--version"), OBJCOPY)?;
        Ok(Toolchain {
            rustc_version,
            sysroot,
            linker_version,
        })
    }

    /// The contents of [`TOOLCHAIN_FILE`].
    fn record(&self) -> String {
        format!("{}\n{}\n", self.rustc_version, self.linker_version)
    }
}

/// Runs a version/info command and returns its trimmed stdout, or an error naming `what` and how
/// to install the toolchain.
fn output(command: &mut Command, what: &str) -> Result<String, String> {
    let out = command
        .output()
        .map_err(|e| format!("cannot run {what}: {e}; {INSTALL_HELP}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} is missing or broken ({}): {}; {INSTALL_HELP}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The program names: the stems of `src/bin/*.rs`, sorted.
fn discover(root: &Path) -> Result<Vec<String>, String> {
    let bin_dir = root.join(PROGS_DIR).join("src/bin");
    let entries =
        fs::read_dir(&bin_dir).map_err(|e| format!("reading {}: {e}", bin_dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| format!("reading {}: {e}", bin_dir.display()))?
            .path();
        if path.extension().is_some_and(|ext| ext == "rs") {
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                names.push(stem.to_string());
            }
        }
    }
    names.sort();
    if names.is_empty() {
        return Err(format!("no programs in {}", bin_dir.display()));
    }
    Ok(names)
}

/// `--remap-path-prefix` arguments that replace every absolute path rustc would embed.
fn remap_flags(root: &Path, toolchain: &Toolchain, target_dir: &Path) -> Vec<String> {
    let mut prefixes = vec![
        (
            toolchain.sysroot.join("lib/rustlib/src/rust"),
            "/rustc/src".to_string(),
        ),
        (target_dir.to_path_buf(), "/target".to_string()),
        (root.to_path_buf(), "/bpfkit".to_string()),
    ];
    // rustup may hand out the sysroot through a symlink (`1.95.0` -> `stable-...`).
    if let Ok(canonical) = toolchain.sysroot.canonicalize() {
        if canonical != toolchain.sysroot {
            prefixes.push((
                canonical.join("lib/rustlib/src/rust"),
                "/rustc/src".to_string(),
            ));
        }
    }
    prefixes
        .into_iter()
        .map(|(from, to)| format!("--remap-path-prefix={}={to}", from.display()))
        .collect()
}

/// Runs cargo on the programs' workspace for `target` and returns the directory holding the
/// linked objects. The flags, the environment clean-up and RUSTC_BOOTSTRAP are those users'
/// build.rs get from bpfkit-build; `rustflags` adds, for instance, the path remapping only
/// reproducible committed objects need; `arch` sets the traced architecture of `pt_regs`.
fn cargo_build(
    root: &Path,
    target: bpfkit_build::Target,
    target_dir: &Path,
    rustflags: Vec<String>,
    arch: Option<&str>,
) -> Result<PathBuf, String> {
    let mut command = bpfkit_build::EbpfBuild::new(root.join(PROGS_DIR))
        .target(target)
        .toolchain(bpfkit_build::Toolchain::Release(TOOLCHAIN.to_string()))
        .release(true)
        .locked(true)
        .extra_rustflags(rustflags)
        .cargo_command(target_dir);
    if let Some(arch) = arch {
        command.env("BPFKIT_TARGET_ARCH", arch);
    }
    let out = command
        .output()
        .map_err(|e| format!("cannot run cargo for Rust {TOOLCHAIN}: {e}; {INSTALL_HELP}"))?;
    if !out.status.success() {
        return Err(format!(
            "building {PROGS_DIR} for {} failed ({}):\n{}",
            target.triple(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(target_dir.join(target.triple()).join("release"))
}

/// Builds every program into `target_dir` and returns `(name, object bytes)`.
fn build_into(
    root: &Path,
    toolchain: &Toolchain,
    target_dir: &Path,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let release = cargo_build(
        root,
        bpfkit_build::Target::BpfEl,
        target_dir,
        remap_flags(root, toolchain, target_dir),
        None,
    )?;
    discover(root)?
        .into_iter()
        .map(|name| {
            let linked = release.join(&name);
            let stripped = release.join(object_file_name(&name));
            let out = Command::new(OBJCOPY)
                .arg("--strip-debug")
                .arg(&linked)
                .arg(&stripped)
                .output()
                .map_err(|e| format!("cannot run {OBJCOPY}: {e}; {INSTALL_HELP}"))?;
            if !out.status.success() {
                return Err(format!(
                    "{OBJCOPY} --strip-debug {}: {}",
                    linked.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            let bytes =
                fs::read(&stripped).map_err(|e| format!("reading {}: {e}", stripped.display()))?;
            Ok((name, bytes))
        })
        .collect()
}

/// Fails when an object embeds one of the machine's absolute paths.
fn check_no_absolute_paths(name: &str, object: &[u8], paths: &[&Path]) -> Result<(), String> {
    for path in paths {
        let text = path.display().to_string();
        if !text.is_empty() && object.windows(text.len()).any(|w| w == text.as_bytes()) {
            return Err(format!(
                "{name}: the object embeds the absolute path {text}"
            ));
        }
    }
    Ok(())
}

/// Builds twice (two target directories), checks the builds agree and hold no absolute path.
fn build_checked(root: &Path, toolchain: &Toolchain) -> Result<Vec<(String, Vec<u8>)>, String> {
    let first_dir = TempDir::new("rust-a")?;
    let second_dir = TempDir::new("rust-b")?;
    let first = build_into(root, toolchain, &first_dir.path)?;
    let second = build_into(root, toolchain, &second_dir.path)?;
    let canonical_sysroot = toolchain.sysroot.canonicalize().unwrap_or_default();
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    for ((name, a), (_, b)) in first.iter().zip(&second) {
        if a != b {
            return Err(format!(
                "{name}: two builds differ: the build is not reproducible"
            ));
        }
        check_no_absolute_paths(
            name,
            a,
            &[
                root,
                &toolchain.sysroot,
                &canonical_sysroot,
                &first_dir.path,
                &home,
            ],
        )?;
    }
    Ok(first)
}

/// `build-rust-progs`: rebuilds every object and installs it, with the toolchain record.
pub fn build(root: &Path) -> Result<(), String> {
    let toolchain = Toolchain::find()?;
    let objects = build_checked(root, &toolchain)?;
    let objects_dir = root.join(OBJECTS_DIR);
    fs::create_dir_all(&objects_dir)
        .map_err(|e| format!("creating {}: {e}", objects_dir.display()))?;
    for stale in stale_objects(&objects_dir, &objects)? {
        fs::remove_file(&stale).map_err(|e| format!("removing {}: {e}", stale.display()))?;
        println!("removed   {}", stale.display());
    }
    for (name, bytes) in &objects {
        let target = objects_dir.join(object_file_name(name));
        let changed = fs::read(&target).map(|old| old != *bytes).unwrap_or(true);
        fs::write(&target, bytes).map_err(|e| format!("writing {}: {e}", target.display()))?;
        println!(
            "{} {}",
            if changed { "updated  " } else { "unchanged" },
            target.strip_prefix(root).unwrap_or(&target).display()
        );
    }
    let record = root.join(TOOLCHAIN_FILE);
    fs::write(&record, toolchain.record())
        .map_err(|e| format!("writing {}: {e}", record.display()))?;
    println!("{} Rust objects built reproducibly", objects.len());
    Ok(())
}

/// `check-rust-progs`: rebuilds and fails when a committed object (or the toolchain record)
/// is not what the sources build to.
pub fn check(root: &Path) -> Result<(), String> {
    let toolchain = Toolchain::find()?;
    let recorded_path = root.join(TOOLCHAIN_FILE);
    let recorded = fs::read_to_string(&recorded_path)
        .map_err(|e| format!("reading {}: {e}", recorded_path.display()))?;
    if recorded != toolchain.record() {
        return Err(format!(
            "the committed Rust objects were built with\n{recorded}this machine has\n{}\
             (install the recorded toolchain, or rebuild with `cargo run -p xtask -- build-rust-progs`)",
            toolchain.record()
        ));
    }
    let objects = build_checked(root, &toolchain)?;
    let objects_dir = root.join(OBJECTS_DIR);
    let mut problems = Vec::new();
    for (name, bytes) in &objects {
        let committed = objects_dir.join(object_file_name(name));
        match fs::read(&committed) {
            Ok(old) if old == *bytes => {}
            Ok(_) => problems.push(format!(
                "{}: differs from what {PROGS_DIR}/src/bin/{name}.rs builds to",
                committed.display()
            )),
            Err(e) => problems.push(format!("{}: {e}", committed.display())),
        }
    }
    for stale in stale_objects(&objects_dir, &objects)? {
        problems.push(format!(
            "{}: no program builds this object",
            stale.display()
        ));
    }
    if problems.is_empty() {
        println!("{} Rust objects are current", objects.len());
        Ok(())
    } else {
        Err(format!(
            "stale Rust objects (run `cargo run -p xtask -- build-rust-progs`):\n  {}",
            problems.join("\n  ")
        ))
    }
}

/// `check-bpfeb`: builds every Rust test program for `bpfeb-unknown-none` (the big-endian eBPF
/// target, for s390x-like kernels) and checks that bpfkit-obj reads each object as the same
/// programs, maps and CO-RE slot records as the committed little-endian one. The build also
/// selects the aarch64 `pt_regs` layout, so both of `ProbeContext`'s architectures compile in CI.
pub fn check_bpfeb(root: &Path) -> Result<(), String> {
    Toolchain::find()?;
    let target_dir = TempDir::new("rust-bpfeb")?;
    let release = cargo_build(
        root,
        bpfkit_build::Target::BpfEb,
        &target_dir.path,
        Vec::new(),
        Some("aarch64"),
    )?;
    let names = discover(root)?;
    for name in &names {
        let big = read_object(&release.join(name))?;
        let little = read_object(&root.join(OBJECTS_DIR).join(object_file_name(name)))?;
        compare_objects(name, &big, &little)?;
    }
    println!(
        "{} Rust objects build for bpfeb-unknown-none and read as their bpfel twins",
        names.len()
    );
    Ok(())
}

fn read_object(path: &Path) -> Result<bpfkit_obj::Object, String> {
    let bytes = fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    bpfkit_obj::Object::parse(&bytes).map_err(|e| format!("parsing {}: {e}", path.display()))
}

/// The endian-independent parts of two builds of one program must agree.
fn compare_objects(
    name: &str,
    big: &bpfkit_obj::Object,
    little: &bpfkit_obj::Object,
) -> Result<(), String> {
    let endian = big.btf.as_ref().map(|btf| btf.endian());
    if endian != Some(bpfkit_obj::btf::Endian::Big) {
        return Err(format!(
            "{name}: the bpfeb object's BTF is {endian:?}, not big-endian"
        ));
    }
    let programs = |object: &bpfkit_obj::Object| -> Vec<(String, String)> {
        object
            .programs
            .iter()
            .map(|p| (p.name.clone(), p.section_name.clone()))
            .collect()
    };
    if programs(big) != programs(little) {
        return Err(format!(
            "{name}: programs differ between bpfeb {:?} and bpfel {:?}",
            programs(big),
            programs(little)
        ));
    }
    let maps = |object: &bpfkit_obj::Object| -> Vec<String> {
        object
            .maps
            .iter()
            .map(|m| {
                format!(
                    "{} type {} key {} value {} entries {} flags {:#x} extra {}",
                    m.name,
                    m.map_type,
                    m.key_size,
                    m.value_size,
                    m.max_entries,
                    m.map_flags,
                    m.map_extra
                )
            })
            .collect()
    };
    if maps(big) != maps(little) {
        return Err(format!(
            "{name}: maps differ:\n  bpfeb {:?}\n  bpfel {:?}",
            maps(big),
            maps(little)
        ));
    }
    if big.rust_core != little.rust_core {
        return Err(format!(
            "{name}: the .bpfkit.core records differ between bpfeb and bpfel"
        ));
    }
    Ok(())
}

/// `<name>.bpf.o`.
fn object_file_name(name: &str) -> String {
    format!("{name}.bpf.o")
}

/// Objects in the directory that no program builds.
fn stale_objects(
    objects_dir: &Path,
    objects: &[(String, Vec<u8>)],
) -> Result<Vec<PathBuf>, String> {
    let Ok(entries) = fs::read_dir(objects_dir) else {
        return Ok(Vec::new());
    };
    let mut stale = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| format!("reading {}: {e}", objects_dir.display()))?
            .path();
        let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if file_name.ends_with(".bpf.o")
            && !objects
                .iter()
                .any(|(name, _)| object_file_name(name) == file_name)
        {
            stale.push(path);
        }
    }
    Ok(stale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_program_has_an_object_name() {
        assert_eq!(object_file_name("xdp_count"), "xdp_count.bpf.o");
    }

    #[test]
    fn absolute_paths_are_found() {
        let object = b"\0\0/home/user/src/bpfkit/x.rs\0";
        assert!(check_no_absolute_paths("p", object, &[Path::new("/home/user")]).is_err());
        assert!(check_no_absolute_paths("p", object, &[Path::new("/work")]).is_ok());
    }

    #[test]
    fn committed_objects_match_the_programs() {
        let root = crate::workspace_root();
        let names = discover(&root).expect("the Rust programs");
        for name in &names {
            let object = root.join(OBJECTS_DIR).join(object_file_name(name));
            assert!(object.exists(), "{} is missing", object.display());
        }
        let objects: Vec<(String, Vec<u8>)> =
            names.iter().map(|n| (n.clone(), Vec::new())).collect();
        assert_eq!(
            stale_objects(&root.join(OBJECTS_DIR), &objects).expect("listing"),
            Vec::<PathBuf>::new()
        );
    }
}
