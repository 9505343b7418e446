//! Compatibility of the realworld objects: which ones bpftool (libbpf) loads on this kernel, and
//! whether `bpfkit load` loads the same ones.
//!
//! bpftool pins what it loads, so it gets a private bpffs mounted on a temporary directory, which
//! is unmounted again afterwards. Needs root.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::progs::{self, Source};
use crate::TempDir;

/// Where `--write` records bpftool's results, read by `bpfkit/tests/realworld.rs`.
const RESULTS_FILE: &str = "bpfkit/tests/objects/realworld/bpftool-compat.txt";
const OBJECTS_DIR: &str = "bpfkit/tests/objects";

/// Command-line options of `compat`.
#[derive(Debug, Default)]
pub struct Options {
    /// The `bpfkit` binary to compare with; built with cargo when not given.
    bpfkit: Option<PathBuf>,
    /// Whether to skip bpfkit entirely.
    no_bpfkit: bool,
    /// Whether to record bpftool's results in `RESULTS_FILE`.
    write: bool,
}

pub fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut options = Options::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bpfkit" => {
                options.bpfkit = Some(PathBuf::from(args.next().ok_or("--bpfkit needs a path")?))
            }
            "--no-bpfkit" => options.no_bpfkit = true,
            "--write" => options.write = true,
            other => return Err(format!("compat: unknown argument {other}")),
        }
    }
    Ok(options)
}

/// A private bpffs, unmounted on drop (before its directory is removed).
struct Bpffs {
    dir: TempDir,
}

impl Bpffs {
    fn mount() -> Result<Bpffs, String> {
        let dir = TempDir::new("bpffs")?;
        run_quiet(
            Command::new("mount")
                .args(["-t", "bpf", "bpf"])
                .arg(&dir.path),
        )
        .map_err(|e| format!("mounting a bpffs (compat needs root): {e}"))?;
        Ok(Bpffs { dir })
    }
}

impl Drop for Bpffs {
    fn drop(&mut self) {
        if let Err(err) = run_quiet(Command::new("umount").arg(&self.dir.path)) {
            eprintln!("xtask: unmounting {}: {err}", self.dir.path.display());
        }
    }
}

fn run_quiet(command: &mut Command) -> Result<String, String> {
    let output = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let mut message = String::from_utf8_lossy(&output.stderr).into_owned();
        message.push_str(&String::from_utf8_lossy(&output.stdout));
        Err(message)
    }
}

/// The last line of a tool's error output that says something.
fn last_meaningful_line(text: &str) -> String {
    const NOISE: [&str; 4] = [
        "Warning:",
        "If it used to work",
        "libbpf: failed to load object",
        "Error: failed to",
    ];
    text.lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty() && !NOISE.iter().any(|noise| line.starts_with(noise)))
        .unwrap_or("failed")
        .to_string()
}

pub fn run(root: &Path, options: &Options) -> Result<(), String> {
    let sources: Vec<Source> = progs::discover(root)?
        .into_iter()
        .filter(|s| s.object.starts_with("realworld"))
        .collect();
    let bpfkit = match (&options.bpfkit, options.no_bpfkit) {
        (_, true) => None,
        (Some(path), false) => Some(path.clone()),
        (None, false) => Some(build_bpfkit(root)?),
    };
    let bpffs = Bpffs::mount()?;
    let mut record = String::from(
        "# Which realworld objects `bpftool prog loadall` (libbpf) loads on the kernel below, and what\n\
         # bpfkit features each needs. Written by `cargo run -p xtask -- compat --write`.\n",
    );
    let _ = writeln!(record, "# kernel {}", kernel_release());
    let mut regressions = Vec::new();
    println!("{:<32} {:<8} {:<18} bpfkit", "object", "bpftool", "needs");
    for source in &sources {
        let object = root.join(OBJECTS_DIR).join(&source.object);
        let stem = source
            .object
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("obj")
            .replace('.', "_");
        let pin_dir = bpffs.dir.path.join(&stem);
        let bpftool = run_quiet(
            Command::new("bpftool")
                .args(["prog", "loadall"])
                .arg(&object)
                .arg(&pin_dir),
        );
        // The pins are all that keeps the programs loaded: remove them now.
        if pin_dir.exists() {
            std::fs::remove_dir_all(&pin_dir)
                .map_err(|e| format!("removing {}: {e}", pin_dir.display()))?;
        }
        let bpftool_loads = bpftool.is_ok();
        let needs = source.needs.join(",");
        let bpfkit_result = match &bpfkit {
            None => "-".to_string(),
            Some(binary) => match run_quiet(Command::new(binary).arg("load").arg(&object)) {
                Ok(_) => "loads".to_string(),
                Err(err) => {
                    if bpftool_loads && source.needs.iter().all(|n| n == "none") {
                        regressions.push(source.object.display().to_string());
                    }
                    format!("fails: {}", last_meaningful_line(&err))
                }
            },
        };
        let bpftool_text = if bpftool_loads {
            "loads".to_string()
        } else {
            "fails".to_string()
        };
        println!(
            "{:<32} {:<8} {:<18} {}",
            source.object.display(),
            bpftool_text,
            needs,
            bpfkit_result
        );
        if let Err(err) = &bpftool {
            println!("    bpftool: {}", last_meaningful_line(err));
        }
        let file_name = source
            .object
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?");
        let _ = writeln!(record, "{file_name} bpftool={bpftool_text} needs={needs}");
    }
    drop(bpffs);
    if options.write {
        let path = root.join(RESULTS_FILE);
        std::fs::write(&path, record).map_err(|e| format!("writing {}: {e}", path.display()))?;
        println!("recorded in {RESULTS_FILE}");
    }
    if regressions.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "bpftool loads these objects, which need nothing bpfkit lacks, but bpfkit does not: {}",
            regressions.join(", ")
        ))
    }
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Builds the CLI and returns the path of its binary.
fn build_bpfkit(root: &Path) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    run_quiet(
        Command::new(cargo)
            .current_dir(root)
            .args(["build", "-q", "-p", "bpfkit-cli"]),
    )
    .map_err(|e| format!("building bpfkit-cli: {e}"))?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let binary = target_dir.join("debug").join("bpfkit");
    if binary.exists() {
        Ok(binary)
    } else {
        Err(format!(
            "built bpfkit-cli but found no binary at {}",
            binary.display()
        ))
    }
}
