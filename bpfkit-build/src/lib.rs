//! Builds a Rust eBPF crate (one written with `bpfkit-ebpf`) from a user's `build.rs`, so the
//! user-space crate can `include_bytes!` the objects.
//!
//! ```no_run
//! // build.rs of the user-space crate, in its `fn main`:
//! let objects = bpfkit_build::EbpfBuild::new("../my-ebpf")
//!     .build()
//!     .unwrap_or_else(|error| panic!("{error}"));
//! // objects: OUT_DIR/<bin>.bpf.o for every binary of the eBPF crate
//! # let _ = objects;
//! // src/main.rs:
//! // const OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/my_prog.bpf.o"));
//! ```
//!
//! `bpfkit new DIR` (the `bpfkit` command, crate `bpfkit-cli`) writes a project laid out this
//! way: a user-space crate, its eBPF crate and a crate of types both share.
//!
//! # Defaults
//!
//! * **Release** build of the eBPF crate whatever the outer profile (the verifier rejects much
//!   of what unoptimised code does); [`EbpfBuild::release`] changes it.
//! * The Rust release [`PINNED_RUST`], through rustup ([`EbpfBuild::toolchain`]).
//! * The target of the byte order the outer build compiles for ([`Target::for_build_target`]).
//! * Objects in `OUT_DIR`, named after the eBPF crate's binaries: `OUT_DIR/<bin>.bpf.o`.
//! * The crate directory is relative to the build script's package (`CARGO_MANIFEST_DIR`).
//! * `cargo:rerun-if-changed` lines for the eBPF crate's `src`, `Cargo.toml` and `Cargo.lock`
//!   and every source file the objects were built from, path dependencies included (a crate of
//!   types shared with user space lies outside the eBPF crate's directory, and changes the
//!   object all the same).
//!
//! # The eBPF crate
//!
//! It is a binary crate (`#![no_std]`, `#![no_main]`, a `#[panic_handler]`), with
//! `panic = "abort"` in its profiles and not a member of the user-space workspace (it builds
//! for the eBPF target only): give it its own `[workspace]` table, or `exclude` it from the
//! outer one.
//!
//! # How it is built
//!
//! The eBPF crate is built with `rustup run <toolchain> cargo build --target
//! bpf{el,eb}-unknown-none -Z build-std=core` and `RUSTC_BOOTSTRAP=1` (build-std is unstable;
//! the variable lets a pinned stable release, rather than a moving nightly, do it), linked by
//! bpf-linker with `--btf` (maps and globals need BTF) and debug info for it. It gets its own
//! target directory inside `OUT_DIR`: sharing the outer build's would deadlock on its lock. The
//! first build compiles `core` for the eBPF target too; later ones reuse it.
//!
//! # Requirements
//!
//! What is missing is named with its install command: the toolchain, its `rust-src` component,
//! bpf-linker, or a bpf-linker of another version than [`BPF_LINKER_VERSION`]:
//!
//! ```text
//! rustup toolchain install 1.95.0 --profile minimal --component rust-src
//! cargo install bpf-linker --version 0.10.4 --locked
//! ```
//!
//! The repository's `xtask build-rust-progs` builds the committed test objects with the same
//! toolchain and flags, adding what only reproducible committed objects need (path remapping,
//! stripping the DWARF, a second build to compare).

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Rust release the bpfkit test objects are built with.
pub const PINNED_RUST: &str = "1.95.0";
/// The bpf-linker release bpfkit is tested with (it loads rustc's own LLVM).
pub const BPF_LINKER_VERSION: &str = "0.10.4";

/// Variables a build script inherits from the outer cargo that must not reach the eBPF build
/// (flags for the host target, the outer target directory, the outer toolchain).
const CLEARED_VARIABLES: [&str; 13] = [
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTDOCFLAGS",
    "CARGO_ENCODED_RUSTDOCFLAGS",
    "RUSTC",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTDOC",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "RUSTUP_TOOLCHAIN",
    "CARGO",
];

/// `EM_BPF`, the ELF machine of eBPF objects.
const EM_BPF: u16 = 247;

/// The eBPF target's byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Target {
    /// `bpfel-unknown-none`, little-endian (x86-64, arm64, riscv64, ...).
    #[default]
    BpfEl,
    /// `bpfeb-unknown-none`, big-endian (s390x, ...).
    BpfEb,
}

impl Target {
    /// The rustc target name.
    pub fn triple(self) -> &'static str {
        match self {
            Target::BpfEl => "bpfel-unknown-none",
            Target::BpfEb => "bpfeb-unknown-none",
        }
    }

    /// The target of the machine the build script builds for (`CARGO_CFG_TARGET_ENDIAN`),
    /// little-endian when unknown.
    pub fn for_build_target() -> Target {
        match std::env::var("CARGO_CFG_TARGET_ENDIAN").as_deref() {
            Ok("big") => Target::BpfEb,
            _ => Target::BpfEl,
        }
    }
}

/// Which Rust toolchain builds the eBPF crate (through rustup).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Toolchain {
    /// A release such as `"1.95.0"`, with `RUSTC_BOOTSTRAP=1` for the unstable `build-std`.
    Release(String),
    /// `nightly` (`RUSTC_BOOTSTRAP=1` is set too, and harmless there).
    Nightly,
}

impl Default for Toolchain {
    /// [`PINNED_RUST`], the release bpfkit's own objects are built and tested with.
    fn default() -> Self {
        Toolchain::Release(PINNED_RUST.to_string())
    }
}

impl Toolchain {
    /// The rustup toolchain name.
    pub fn name(&self) -> &str {
        match self {
            Toolchain::Release(version) => version,
            Toolchain::Nightly => "nightly",
        }
    }
}

/// Why the eBPF crate could not be built. `Display` names the missing piece and how to install
/// it.
#[derive(Debug)]
pub enum BuildError {
    /// rustup or the toolchain is not installed.
    MissingToolchain {
        /// The toolchain.
        toolchain: String,
        /// What running it said.
        detail: String,
    },
    /// The toolchain has no `rust-src` component (build-std needs core's sources).
    MissingRustSrc {
        /// The toolchain.
        toolchain: String,
        /// The file looked for.
        looked_for: PathBuf,
    },
    /// `bpf-linker` is not on the PATH.
    MissingBpfLinker {
        /// What running it said.
        detail: String,
    },
    /// `bpf-linker` is another version than [`BPF_LINKER_VERSION`].
    WrongBpfLinker {
        /// `bpf-linker --version` output.
        found: String,
    },
    /// There is no cargo package at the eBPF crate's directory.
    NoCrate {
        /// The directory given to [`EbpfBuild::new`], resolved.
        crate_dir: PathBuf,
    },
    /// `OUT_DIR` is not set: not running inside a build script, and no output directory given.
    NoOutDir,
    /// cargo failed building the eBPF crate.
    CargoFailed {
        /// The crate.
        crate_dir: PathBuf,
        /// cargo's exit status.
        status: String,
    },
    /// The build succeeded but produced no eBPF object (no binary target?).
    NoObjects {
        /// Where objects were looked for.
        dir: PathBuf,
    },
    /// A file operation failed.
    Io {
        /// What was attempted.
        operation: String,
        /// The OS error.
        source: std::io::Error,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::MissingToolchain { toolchain, detail } => write!(
                f,
                "the Rust toolchain `{toolchain}` (run through rustup) is not available ({detail}); \
                 install it with `rustup toolchain install {toolchain} --profile minimal \
                 --component rust-src` (rustup: https://rustup.rs)"
            ),
            BuildError::MissingRustSrc {
                toolchain,
                looked_for,
            } => write!(
                f,
                "the Rust toolchain `{toolchain}` has no rust-src component ({} is missing), \
                 which -Z build-std=core needs; install it with `rustup component add rust-src \
                 --toolchain {toolchain}`",
                looked_for.display()
            ),
            BuildError::MissingBpfLinker { detail } => write!(
                f,
                "bpf-linker is not installed ({detail}); install it with `cargo install \
                 bpf-linker --version {BPF_LINKER_VERSION} --locked`"
            ),
            BuildError::WrongBpfLinker { found } => write!(
                f,
                "found `{found}`, but bpfkit is built and tested with bpf-linker \
                 {BPF_LINKER_VERSION}; install it with `cargo install bpf-linker --version \
                 {BPF_LINKER_VERSION} --locked --force`"
            ),
            BuildError::NoCrate { crate_dir } => write!(
                f,
                "no eBPF crate at {} (it has no Cargo.toml); EbpfBuild::new takes the eBPF \
                 crate's directory, relative to the package of the build script \
                 (CARGO_MANIFEST_DIR)",
                crate_dir.display()
            ),
            BuildError::NoOutDir => write!(
                f,
                "OUT_DIR is not set: call EbpfBuild::build from a build script, or set an \
                 output directory with EbpfBuild::out_dir"
            ),
            BuildError::CargoFailed { crate_dir, status } => write!(
                f,
                "building the eBPF crate {} failed ({status}); cargo's messages are above",
                crate_dir.display()
            ),
            BuildError::NoObjects { dir } => write!(
                f,
                "the eBPF build produced no object in {} (does the crate have a binary target?)",
                dir.display()
            ),
            BuildError::Io { operation, source } => write!(f, "{operation}: {source}"),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn io_error(operation: impl Into<String>) -> impl FnOnce(std::io::Error) -> BuildError {
    let operation = operation.into();
    move |source| BuildError::Io { operation, source }
}

/// A build of one eBPF crate. See the [crate documentation](crate).
#[derive(Debug, Clone)]
pub struct EbpfBuild {
    crate_dir: PathBuf,
    target: Target,
    release: bool,
    toolchain: Toolchain,
    locked: bool,
    out_dir: Option<PathBuf>,
    print_cargo_directives: bool,
    extra_rustflags: Vec<String>,
}

impl EbpfBuild {
    /// A release build of the eBPF crate at `crate_dir` (relative paths are relative to the
    /// build script's package, `CARGO_MANIFEST_DIR`), for [`Target::for_build_target`], with
    /// the [default toolchain](Toolchain::default).
    pub fn new(crate_dir: impl AsRef<Path>) -> EbpfBuild {
        let crate_dir = crate_dir.as_ref();
        let crate_dir = match std::env::var_os("CARGO_MANIFEST_DIR") {
            Some(manifest_dir) if crate_dir.is_relative() => {
                PathBuf::from(manifest_dir).join(crate_dir)
            }
            _ => crate_dir.to_path_buf(),
        };
        EbpfBuild {
            crate_dir,
            target: Target::for_build_target(),
            release: true,
            toolchain: Toolchain::default(),
            locked: false,
            out_dir: None,
            print_cargo_directives: true,
            extra_rustflags: Vec::new(),
        }
    }

    /// Builds for `target` (byte order).
    pub fn target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    /// A release (default) or debug build. eBPF programs almost always need release: the
    /// verifier rejects much of what unoptimised code does.
    pub fn release(mut self, release: bool) -> Self {
        self.release = release;
        self
    }

    /// The toolchain to build with.
    pub fn toolchain(mut self, toolchain: Toolchain) -> Self {
        self.toolchain = toolchain;
        self
    }

    /// Passes `--locked` (the eBPF crate's `Cargo.lock` must be current).
    pub fn locked(mut self, locked: bool) -> Self {
        self.locked = locked;
        self
    }

    /// Where the objects go (default: `OUT_DIR`).
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// More rustflags, after the debug info and `--btf` ones (e.g. `--remap-path-prefix`).
    pub fn extra_rustflags(mut self, flags: impl IntoIterator<Item = String>) -> Self {
        self.extra_rustflags.extend(flags);
        self
    }

    /// Whether to print `cargo:rerun-if-changed` lines (default: yes; off outside build
    /// scripts).
    pub fn print_cargo_directives(mut self, print: bool) -> Self {
        self.print_cargo_directives = print;
        self
    }

    /// The profile directory name cargo uses.
    fn profile(&self) -> &'static str {
        if self.release {
            "release"
        } else {
            "debug"
        }
    }

    /// The rustflags: debug info, from which bpf-linker makes the BTF that BTF-defined maps,
    /// globals and func/line info need, then the extra ones.
    fn rustflags(&self) -> Vec<String> {
        let mut flags: Vec<String> = ["-C", "debuginfo=2", "-C", "link-arg=--btf"]
            .map(str::to_string)
            .to_vec();
        flags.extend(self.extra_rustflags.iter().cloned());
        flags
    }

    /// The `cargo build` command for the eBPF crate into `target_dir` (not run).
    pub fn cargo_command(&self, target_dir: &Path) -> Command {
        let mut command = Command::new("rustup");
        // Cleared first: the flags set below replace some of them.
        for variable in CLEARED_VARIABLES {
            command.env_remove(variable);
        }
        command
            .args(["run", self.toolchain.name(), "cargo", "build"])
            .args(["--target", self.target.triple(), "-Z", "build-std=core"])
            .arg("--target-dir")
            .arg(target_dir)
            .current_dir(&self.crate_dir)
            // build-std is unstable: allowed on a stable release on purpose.
            .env("RUSTC_BOOTSTRAP", "1")
            .env("CARGO_ENCODED_RUSTFLAGS", self.rustflags().join("\u{1f}"));
        if self.release {
            command.arg("--release");
        }
        if self.locked {
            command.arg("--locked");
        }
        command
    }

    /// Checks the toolchain, builds the crate and copies each binary's object to
    /// `<out dir>/<bin>.bpf.o`; returns their paths, sorted.
    pub fn build(&self) -> Result<Vec<PathBuf>, BuildError> {
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or(BuildError::NoOutDir)?,
        };
        if self.print_cargo_directives {
            // Before building: when the build fails, these still make cargo rerun the script
            // once the crate is fixed.
            for path in ["src", "Cargo.toml", "Cargo.lock"] {
                let path = self.crate_dir.join(path);
                if path.exists() {
                    println!("cargo:rerun-if-changed={}", path.display());
                }
            }
        }
        // Checked here, or spawning cargo in a missing directory fails with ENOENT, which reads
        // as a missing rustup.
        if !self.crate_dir.join("Cargo.toml").is_file() {
            return Err(BuildError::NoCrate {
                crate_dir: self.crate_dir.clone(),
            });
        }
        check_toolchain(&self.toolchain)?;
        check_bpf_linker()?;
        let target_dir = out_dir.join("bpfkit-ebpf-target");
        let status = self
            .cargo_command(&target_dir)
            // A build script's stdout is read by cargo as directives: the inner build's
            // messages go to stderr, where cargo shows them when the build fails.
            .stdout(std::process::Stdio::from(std::io::stderr()))
            .status()
            .map_err(|e| BuildError::MissingToolchain {
                toolchain: self.toolchain.name().to_string(),
                detail: format!("running rustup: {e}"),
            })?;
        if !status.success() {
            return Err(BuildError::CargoFailed {
                crate_dir: self.crate_dir.clone(),
                status: status.to_string(),
            });
        }
        let built = target_dir.join(self.target.triple()).join(self.profile());
        let found = bpf_objects_in(&built)?;
        if self.print_cargo_directives {
            for path in dependency_sources(&built, &found)? {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
        let mut objects = Vec::new();
        for (name, path) in found {
            let destination = out_dir.join(format!("{name}.bpf.o"));
            std::fs::copy(&path, &destination).map_err(io_error(format!(
                "copying {} to {}",
                path.display(),
                destination.display()
            )))?;
            objects.push(destination);
        }
        if objects.is_empty() {
            return Err(BuildError::NoObjects { dir: built });
        }
        objects.sort();
        Ok(objects)
    }
}

/// Runs a version command: its trimmed stdout, or why it failed.
fn version_output(command: &mut Command) -> Result<String, String> {
    let out = command.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Checks that `toolchain` runs (through rustup) and has rust-src; returns its sysroot.
pub fn check_toolchain(toolchain: &Toolchain) -> Result<PathBuf, BuildError> {
    let name = toolchain.name();
    let missing = |detail| BuildError::MissingToolchain {
        toolchain: name.to_string(),
        detail,
    };
    let sysroot = PathBuf::from(
        version_output(Command::new("rustup").args(["run", name, "rustc", "--print", "sysroot"]))
            .map_err(missing)?,
    );
    check_rust_src(name, &sysroot)?;
    Ok(sysroot)
}

/// `rustc -V` of `toolchain` (e.g. `rustc 1.95.0 (...)`), to record what built an object.
pub fn rustc_version(toolchain: &Toolchain) -> Result<String, BuildError> {
    version_output(Command::new("rustup").args(["run", toolchain.name(), "rustc", "-V"])).map_err(
        |detail| BuildError::MissingToolchain {
            toolchain: toolchain.name().to_string(),
            detail,
        },
    )
}

/// core's sources are in the sysroot.
fn check_rust_src(toolchain: &str, sysroot: &Path) -> Result<(), BuildError> {
    let core_manifest = sysroot.join("lib/rustlib/src/rust/library/core/Cargo.toml");
    if core_manifest.is_file() {
        Ok(())
    } else {
        Err(BuildError::MissingRustSrc {
            toolchain: toolchain.to_string(),
            looked_for: core_manifest,
        })
    }
}

/// Checks that bpf-linker runs and is [`BPF_LINKER_VERSION`]; returns its `--version` line.
pub fn check_bpf_linker() -> Result<String, BuildError> {
    let version = version_output(Command::new("bpf-linker").arg("--version"))
        .map_err(|detail| BuildError::MissingBpfLinker { detail })?;
    check_bpf_linker_version(&version)?;
    Ok(version)
}

/// `bpf-linker --version` prints `bpf-linker 0.10.4`.
fn check_bpf_linker_version(output: &str) -> Result<(), BuildError> {
    if output.split_whitespace().nth(1) == Some(BPF_LINKER_VERSION) {
        Ok(())
    } else {
        Err(BuildError::WrongBpfLinker {
            found: output.to_string(),
        })
    }
}

/// The eBPF ELF files (by name) directly in `dir`: the linked binaries, which have no extension
/// (cargo's other files there are directories, `.d` files and the like).
fn bpf_objects_in(dir: &Path) -> Result<Vec<(String, PathBuf)>, BuildError> {
    let entries = std::fs::read_dir(dir).map_err(io_error(format!("reading {}", dir.display())))?;
    let mut objects = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(io_error(format!("reading {}", dir.display())))?
            .path();
        if !path.is_file() || path.extension().is_some() {
            continue;
        }
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        let bytes =
            std::fs::read(&path).map_err(io_error(format!("reading {}", path.display())))?;
        if is_bpf_elf(&bytes) {
            objects.push((name, path));
        }
    }
    Ok(objects)
}

/// Every source file the objects were built from, by cargo's dep-info files
/// (`<dir>/<bin>.d`), sorted and without duplicates: the eBPF crate's own and those of its
/// dependencies. Path dependencies matter most: a crate of types shared with user space
/// changes the eBPF object too, yet lies outside the eBPF crate's directory, so without these
/// lines cargo would keep the stale object.
fn dependency_sources(
    dir: &Path,
    objects: &[(String, PathBuf)],
) -> Result<Vec<PathBuf>, BuildError> {
    let mut sources = Vec::new();
    for (name, _) in objects {
        let dep_info = dir.join(format!("{name}.d"));
        let text = std::fs::read_to_string(&dep_info)
            .map_err(io_error(format!("reading {}", dep_info.display())))?;
        sources.extend(parse_dep_info(&text));
    }
    sources.sort();
    sources.dedup();
    Ok(sources)
}

/// The prerequisites of a Makefile-style dep-info file (`target: dep dep ...`, one rule per
/// line), as cargo writes them: a space in a path is escaped as `\ `, a backslash as `\\`.
fn parse_dep_info(text: &str) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for line in text.lines() {
        let mut in_prerequisites = false;
        let mut word = String::new();
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => word.push(chars.next().unwrap_or('\\')),
                // A `:` before a blank or the line's end closes the targets.
                ':' if !in_prerequisites
                    && chars
                        .peek()
                        .map_or(true, |next| *next == ' ' || *next == '\t') =>
                {
                    in_prerequisites = true;
                    word.clear();
                }
                ' ' | '\t' => {
                    let word = std::mem::take(&mut word);
                    if in_prerequisites && !word.is_empty() {
                        paths.push(PathBuf::from(word));
                    }
                }
                _ => word.push(c),
            }
        }
        if in_prerequisites && !word.is_empty() {
            paths.push(PathBuf::from(word));
        }
    }
    paths
}

/// An ELF file whose machine is `EM_BPF` (either byte order).
fn is_bpf_elf(bytes: &[u8]) -> bool {
    let (Some(magic), Some(data), Some(machine)) =
        (bytes.get(0..4), bytes.get(5), bytes.get(18..20))
    else {
        return false;
    };
    let Ok(machine) = <[u8; 2]>::try_from(machine) else {
        return false;
    };
    let machine = match data {
        1 => u16::from_le_bytes(machine),
        2 => u16::from_be_bytes(machine),
        _ => return false,
    };
    magic == b"\x7fELF" && machine == EM_BPF
}

#[cfg(test)]
mod tests;
