//! Building the C test programs into the committed objects, and checking that they are current.
//!
//! Every `bpfkit/tests/progs/**/*.bpf.c` becomes `bpfkit/tests/objects/**/*.bpf.o`. Builds are
//! reproducible: clang runs from the workspace root on relative paths, with the compilation
//! directory and the root mapped to `.`, so no absolute path of this machine ends up in the DWARF
//! or BTF. Objects that include `vmlinux.h` also depend on the kernel whose BTF generated it; the
//! fingerprint of that header is committed next to them, and a check on another kernel says so
//! instead of failing.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::elf;
use crate::TempDir;

/// The compiler, pinned: other versions generate different (and differently verifiable) code.
const CLANG: &str = "clang-19";
/// Sources, relative to the workspace root.
const PROGS_DIR: &str = "bpfkit/tests/progs";
/// Committed objects, relative to the workspace root.
const OBJECTS_DIR: &str = "bpfkit/tests/objects";
/// Where the generated `vmlinux.h` goes (under the git-ignored `target/`).
const VMLINUX_INCLUDE_DIR: &str = "target/bpfkit-test-progs/include";
/// The kernel BTF `vmlinux.h` is generated from.
const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";
/// Records which `vmlinux.h` the committed objects that include it were built against.
const VMLINUX_FINGERPRINT: &str = "bpfkit/tests/objects/VMLINUX_FINGERPRINT";
/// Sub-directories of `PROGS_DIR` holding programs (the top level is "").
const PROG_SUBDIRS: [&str; 2] = ["", "realworld"];
/// The comment in realworld sources that says what bpfkit features the object needs.
const NEEDS_MARKER: &str = "bpfkit-needs:";

/// One C source and where its object goes.
#[derive(Debug, Clone)]
pub struct Source {
    /// Relative to the workspace root, e.g. `bpfkit/tests/progs/xdp_count.bpf.c`.
    pub source: PathBuf,
    /// Relative to the objects dir, e.g. `xdp_count.bpf.o` or `realworld/minimal.bpf.o`.
    pub object: PathBuf,
    /// Whether it includes the generated `vmlinux.h`.
    pub needs_vmlinux: bool,
    /// The words after `bpfkit-needs:` ("none", "core", "btf-attach"), empty when unmarked.
    pub needs: Vec<String>,
}

/// Rebuilds every object, twice, checks both builds agree byte for byte, and installs them.
pub fn build(root: &Path) -> Result<(), String> {
    let sources = discover(root)?;
    let vmlinux = generate_vmlinux(root)?;
    if vmlinux.is_none() && sources.iter().any(|s| s.needs_vmlinux) {
        return Err(format!(
            "some programs include vmlinux.h, which needs bpftool and {KERNEL_BTF}; cannot build them here"
        ));
    }
    let first = TempDir::new("build-a")?;
    let second = TempDir::new("build-b")?;
    for source in &sources {
        compile(root, source, &first.path.join(&source.object))?;
        compile(root, source, &second.path.join(&source.object))?;
        let a = read(&first.path.join(&source.object))?;
        let b = read(&second.path.join(&source.object))?;
        if a != b {
            return Err(format!(
                "{}: two builds differ: the build is not reproducible",
                source.source.display()
            ));
        }
        check_needs_marker(source, &a)?;
        check_no_absolute_paths(root, source, &a)?;
    }
    let objects_dir = root.join(OBJECTS_DIR);
    remove_stale_objects(&objects_dir, &sources)?;
    for source in &sources {
        let target = objects_dir.join(&source.object);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| format!("creating {}: {e}", parent.display()))?;
        }
        let bytes = read(&first.path.join(&source.object))?;
        let changed = fs::read(&target).map(|old| old != bytes).unwrap_or(true);
        fs::write(&target, &bytes).map_err(|e| format!("writing {}: {e}", target.display()))?;
        println!(
            "{} {}",
            if changed { "updated  " } else { "unchanged" },
            target.strip_prefix(root).unwrap_or(&target).display()
        );
    }
    if let Some(fingerprint) = vmlinux {
        let path = root.join(VMLINUX_FINGERPRINT);
        fs::write(&path, fingerprint.to_file())
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    println!("{} objects built reproducibly", sources.len());
    Ok(())
}

/// Rebuilds into a temporary directory and compares with the committed objects.
pub fn check(root: &Path) -> Result<(), String> {
    let sources = discover(root)?;
    let vmlinux = generate_vmlinux(root)?;
    let committed_fingerprint = fs::read_to_string(root.join(VMLINUX_FINGERPRINT))
        .ok()
        .and_then(|t| Fingerprint::parse(&t));
    let vmlinux_matches = match (&vmlinux, &committed_fingerprint) {
        (Some(now), Some(then)) => now.same_header(then),
        _ => false,
    };
    let out = TempDir::new("check")?;
    let objects_dir = root.join(OBJECTS_DIR);
    let mut problems = Vec::new();
    let mut skipped = Vec::new();
    for source in &sources {
        let committed = objects_dir.join(&source.object);
        if !committed.exists() {
            problems.push(format!(
                "{}: missing (run `cargo run -p xtask -- build-test-progs`)",
                committed.display()
            ));
            continue;
        }
        if source.needs_vmlinux && !vmlinux_matches {
            skipped.push(source.object.display().to_string());
            continue;
        }
        let built = out.path.join(&source.object);
        compile(root, source, &built)?;
        if read(&built)? != read(&committed)? {
            problems.push(format!(
                "{}: differs from what {} builds to",
                committed.display(),
                source.source.display()
            ));
        }
    }
    for stale in stale_objects(&objects_dir, &sources)? {
        problems.push(format!("{}: no source builds this object", stale.display()));
    }
    if !skipped.is_empty() {
        let why = match (&vmlinux, &committed_fingerprint) {
            (None, _) => format!("no vmlinux.h here (needs bpftool and {KERNEL_BTF})"),
            (Some(now), Some(then)) => {
                format!(
                    "they were built against the BTF of kernel {}, this is kernel {}",
                    then.kernel, now.kernel
                )
            }
            (Some(_), None) => format!("{VMLINUX_FINGERPRINT} is missing"),
        };
        println!(
            "not checked (they include vmlinux.h and {why}): {}",
            skipped.join(", ")
        );
    }
    if problems.is_empty() {
        println!(
            "{} objects checked, all current",
            sources.len() - skipped.len()
        );
        Ok(())
    } else {
        Err(format!(
            "test objects are not current:\n  {}",
            problems.join("\n  ")
        ))
    }
}

/// Every `*.bpf.c` under the program directories, sorted.
pub fn discover(root: &Path) -> Result<Vec<Source>, String> {
    let mut sources = Vec::new();
    for subdir in PROG_SUBDIRS {
        let dir = root.join(PROGS_DIR).join(subdir);
        let entries = fs::read_dir(&dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter(|name| name.ends_with(".bpf.c"))
            .collect();
        names.sort();
        for name in names {
            let source = Path::new(PROGS_DIR).join(subdir).join(&name);
            let text = fs::read_to_string(root.join(&source))
                .map_err(|e| format!("reading {}: {e}", source.display()))?;
            let object_name = format!("{}.o", name.trim_end_matches(".c"));
            sources.push(Source {
                object: Path::new(subdir).join(object_name),
                needs_vmlinux: text.contains("#include \"vmlinux.h\""),
                needs: needs_marker(&text),
                source,
            });
        }
    }
    if sources.is_empty() {
        return Err(format!("no *.bpf.c under {PROGS_DIR}"));
    }
    Ok(sources)
}

fn needs_marker(text: &str) -> Vec<String> {
    text.lines()
        .find_map(|line| line.split_once(NEEDS_MARKER).map(|(_, rest)| rest))
        .map(|rest| {
            rest.trim()
                .trim_end_matches("*/")
                .split_whitespace()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Compiles one source with the pinned flags.
fn compile(root: &Path, source: &Source, output: &Path) -> Result<(), String> {
    if let Some(parent) = output.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    let root_map = format!("-fdebug-prefix-map={}=.", root.display());
    let result = Command::new(CLANG)
        .current_dir(root)
        .args([
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-D__TARGET_ARCH_x86",
            "-Wall",
        ])
        .args([
            "-I",
            VMLINUX_INCLUDE_DIR,
            "-I",
            "/usr/include/x86_64-linux-gnu",
        ])
        // Reproducible debug info: no absolute paths of this checkout.
        .args(["-fdebug-compilation-dir=.", &root_map])
        .arg("-c")
        .arg(&source.source)
        .arg("-o")
        .arg(output)
        .output()
        .map_err(|e| format!("running {CLANG} (install it: apt-get install clang-19): {e}"))?;
    if !result.status.success() {
        return Err(format!(
            "{CLANG} failed on {}:\n{}",
            source.source.display(),
            String::from_utf8_lossy(&result.stderr)
        ));
    }
    let warnings = String::from_utf8_lossy(&result.stderr);
    if !warnings.trim().is_empty() {
        eprintln!("{warnings}");
    }
    Ok(())
}

/// The realworld objects say which bpfkit features they need; CO-RE must match what clang emitted.
fn check_needs_marker(source: &Source, object: &[u8]) -> Result<(), String> {
    if !source.object.starts_with("realworld") {
        return Ok(());
    }
    if source.needs.is_empty() {
        return Err(format!(
            "{}: realworld sources need a `{NEEDS_MARKER} ...` comment",
            source.source.display()
        ));
    }
    let core_relocations = elf::core_relocation_count(object)
        .map_err(|e| format!("{}: {e}", source.object.display()))?;
    let marked = source.needs.iter().any(|n| n == "core");
    if marked != (core_relocations > 0) {
        return Err(format!(
            "{}: marked {:?} but the object has {core_relocations} CO-RE relocations",
            source.source.display(),
            source.needs
        ));
    }
    Ok(())
}

fn check_no_absolute_paths(root: &Path, source: &Source, object: &[u8]) -> Result<(), String> {
    let root_text = root.display().to_string();
    if object
        .windows(root_text.len())
        .any(|w| w == root_text.as_bytes())
    {
        return Err(format!(
            "{}: the object embeds the checkout path {root_text}",
            source.source.display()
        ));
    }
    Ok(())
}

/// Writes `vmlinux.h` for the running kernel; `None` when bpftool or kernel BTF is missing.
fn generate_vmlinux(root: &Path) -> Result<Option<Fingerprint>, String> {
    if !Path::new(KERNEL_BTF).exists() {
        return Ok(None);
    }
    let output = match Command::new("bpftool")
        .args(["btf", "dump", "file", KERNEL_BTF, "format", "c"])
        .output()
    {
        Ok(output) if output.status.success() => output.stdout,
        Ok(output) => {
            return Err(format!(
                "bpftool btf dump failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Err(_) => return Ok(None),
    };
    let dir = root.join(VMLINUX_INCLUDE_DIR);
    fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let path = dir.join("vmlinux.h");
    if fs::read(&path).map(|old| old != output).unwrap_or(true) {
        fs::write(&path, &output).map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    Ok(Some(Fingerprint {
        kernel,
        bytes: output.len() as u64,
        fnv1a64: fnv1a64(&output),
    }))
}

/// Identifies a `vmlinux.h` without keeping it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    kernel: String,
    bytes: u64,
    fnv1a64: u64,
}

impl Fingerprint {
    fn to_file(&self) -> String {
        format!(
            "# The vmlinux.h (bpftool btf dump of {KERNEL_BTF}) the objects including it were built against.\n\
             kernel {}\nbytes {}\nfnv1a64 {:016x}\n",
            self.kernel, self.bytes, self.fnv1a64
        )
    }

    fn parse(text: &str) -> Option<Fingerprint> {
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
        };
        Some(Fingerprint {
            kernel: field("kernel ")?,
            bytes: field("bytes ")?.parse().ok()?,
            fnv1a64: u64::from_str_radix(&field("fnv1a64 ")?, 16).ok()?,
        })
    }

    /// The kernel release is informative only: the header's contents are what matter.
    fn same_header(&self, other: &Fingerprint) -> bool {
        self.bytes == other.bytes && self.fnv1a64 == other.fnv1a64
    }
}

/// FNV-1a, 64 bits: enough to tell two headers apart, and in no need of a dependency.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))
}

/// Committed `*.o` files that no source builds.
fn stale_objects(objects_dir: &Path, sources: &[Source]) -> Result<Vec<PathBuf>, String> {
    let mut stale = Vec::new();
    for subdir in PROG_SUBDIRS {
        let dir = objects_dir.join(subdir);
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "o") {
                let relative = Path::new(subdir).join(entry.file_name());
                if !sources.iter().any(|s| s.object == relative) {
                    stale.push(path);
                }
            }
        }
    }
    stale.sort();
    Ok(stale)
}

fn remove_stale_objects(objects_dir: &Path, sources: &[Source]) -> Result<(), String> {
    for path in stale_objects(objects_dir, sources)? {
        fs::remove_file(&path).map_err(|e| format!("removing {}: {e}", path.display()))?;
        println!("removed   {} (its source is gone)", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_round_trips() {
        let fingerprint = Fingerprint {
            kernel: "6.18.44".into(),
            bytes: 42,
            fnv1a64: fnv1a64(b"struct x;"),
        };
        assert_eq!(
            Fingerprint::parse(&fingerprint.to_file()),
            Some(fingerprint)
        );
    }

    #[test]
    fn fnv1a64_matches_the_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn needs_marker_is_read_from_a_comment() {
        assert_eq!(
            needs_marker("/* x\n * bpfkit-needs: btf-attach core */\n"),
            vec!["btf-attach", "core"]
        );
        assert_eq!(needs_marker(" * bpfkit-needs: none\n"), vec!["none"]);
        assert!(needs_marker("int x;").is_empty());
    }
}
