//! `check-template`: the project template (`templates/rust-app`) used the way a user would.
//!
//! `bpfkit new` writes a project into a temporary directory, with this checkout as its bpfkit;
//! the machine's default cargo builds it (its `build.rs` builds the eBPF crate through
//! bpfkit-build, with the pinned toolchain and bpf-linker); and its binary runs with `--check`,
//! which exits 0 only when the kernel program reported an exec the binary started, in the ring
//! buffer and in a log line. The project gets its own target directory in the temporary
//! directory, removed with it: the first build compiles bpfkit and, for the eBPF target, `core`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::TempDir;

/// The generated project's name: not the template's, so that the substitution is exercised.
const PROJECT: &str = "template-check";

/// Variables of the `cargo run` that started xtask which must not reach the generated
/// project's build: the toolchain rustup chose for this workspace, and its target directory.
const WORKSPACE_VARIABLES: [&str; 2] = ["RUSTUP_TOOLCHAIN", "CARGO_TARGET_DIR"];

/// Runs the three steps, printing each one's time.
pub fn check(root: &Path) -> Result<(), String> {
    if !is_root() {
        return Err(
            "check-template runs the generated program, which loads an eBPF program: run it as \
             root"
                .to_string(),
        );
    }
    let temp = TempDir::new("template")?;
    let project = temp.path.join(PROJECT);
    let target = temp.path.join("target");
    let start = Instant::now();

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let new = timed("bpfkit new", || {
        run(Command::new(&cargo)
            .current_dir(root)
            .args(["run", "-q", "-p", "bpfkit-cli", "--", "new"])
            .arg(&project)
            .arg("--bpfkit-path")
            .arg(root))
    })?;

    // `cargo` from the PATH, as the user types it: rustup's default toolchain.
    let build = timed("cargo build --release (the generated project)", || {
        let mut command = Command::new("cargo");
        for variable in WORKSPACE_VARIABLES {
            command.env_remove(variable);
        }
        run(command
            .current_dir(&project)
            .args(["build", "--release"])
            .env("CARGO_TARGET_DIR", &target))
    })?;

    let binary = target.join("release").join(PROJECT);
    let self_check = timed(&format!("{PROJECT} --check"), || {
        run(Command::new(&binary).arg("--check"))
    })?;

    println!(
        "template checked in {:.1} s (bpfkit new {:.1} s, build {:.1} s, --check {:.1} s)",
        start.elapsed().as_secs_f64(),
        new.as_secs_f64(),
        build.as_secs_f64(),
        self_check.as_secs_f64()
    );
    Ok(())
}

/// Runs `step`, announcing it; its duration, or the error prefixed with the step's name.
fn timed(name: &str, step: impl FnOnce() -> Result<(), String>) -> Result<Duration, String> {
    println!("check-template: {name}");
    let start = Instant::now();
    step().map_err(|e| format!("check-template: {name}: {e}"))?;
    Ok(start.elapsed())
}

/// Runs a command with its output shown (the build's progress, the check's verdict).
fn run(command: &mut Command) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed ({status}); its messages are above"
        ))
    }
}

/// Whether the effective user is root (`Uid:` in `/proc/self/status`: real, effective, ...).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|id| id == "0"))
        })
        .unwrap_or(false)
}
