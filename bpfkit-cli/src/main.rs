//! `bpfkit`: load and inspect eBPF objects, start a project.
//!
//! ```text
//! bpfkit load OBJECT [--pin DIR] [--json] [--log-level N] [--btf FILE]
//! bpfkit inspect OBJECT [--disasm]
//! bpfkit new DIR [--name NAME] [--bpfkit-path PATH]
//! ```

mod json;
mod new;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bpfkit::programs::ProgramError;
use bpfkit::{EbpfLoader, VerifierLogLevel};
use bpfkit_obj::Object;

use json::Json;

const USAGE: &str = "usage:
  bpfkit load OBJECT [--pin DIR] [--json] [--log-level N] [--btf FILE]
      create the object's maps and load every program (no attach); exit 0 only if all loaded.
      --pin DIR   pin programs at DIR/<program> and maps at DIR/maps/<map> (DIR on a bpffs;
                  bpffs refuses dots, so `.bss` pins as `_bss`)
      --json      one JSON document instead of text
      --log-level verifier log level (1 debug, 2 verbose, 4 stats) for every load
      --btf FILE  resolve CO-RE relocations against this BTF (raw or ELF) instead of the kernel's
  bpfkit inspect OBJECT [--disasm]
      programs, maps and relocations of the object, without the kernel
  bpfkit new DIR [--name NAME] [--bpfkit-path PATH]
      write a project into DIR (new or empty): an eBPF program in Rust (NAME-ebpf), the
      user-space program that builds, loads and attaches it (NAME) and their shared types
      (NAME-common)
      --name NAME         the crates' names (default: DIR's name)
      --bpfkit-path PATH  the bpfkit checkout the crates depend on (default: the one this
                          binary was built from)";

/// How many lines of a verifier log `load` prints for a program that failed.
const LOG_TAIL_LINES: usize = 20;

/// Prints the library's warnings (and, with `BPFKIT_LOG=debug`, its debug messages) to stderr.
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!(
                "bpfkit: {}: {}",
                record.level().as_str().to_lowercase(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;

fn main() -> ExitCode {
    let level = match std::env::var("BPFKIT_LOG").as_deref() {
        Ok("debug") => log::LevelFilter::Debug,
        Ok("trace") => log::LevelFilter::Trace,
        Ok("info") => log::LevelFilter::Info,
        _ => log::LevelFilter::Warn,
    };
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("load") => parse_load(&args[1..]).and_then(|opts| load(&opts)),
        Some("inspect") => {
            parse_inspect(&args[1..]).and_then(|(path, disasm)| inspect(&path, disasm))
        }
        Some("new") => new::parse_args(&args[1..], USAGE)
            .and_then(|options| new::run(&options))
            .map(|()| true),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(true)
        }
        _ => Err(format!("expected a command\n{USAGE}")),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("bpfkit: {message}");
            ExitCode::from(2)
        }
    }
}

struct LoadOptions {
    object: PathBuf,
    pin: Option<PathBuf>,
    json: bool,
    log_level: VerifierLogLevel,
    target_btf: Option<PathBuf>,
}

fn parse_load(args: &[String]) -> Result<LoadOptions, String> {
    let mut options = LoadOptions {
        object: PathBuf::new(),
        pin: None,
        json: false,
        log_level: VerifierLogLevel::empty(),
        target_btf: None,
    };
    let mut object = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => options.json = true,
            "--btf" => {
                options.target_btf = Some(PathBuf::from(args.next().ok_or("--btf needs a file")?))
            }
            "--pin" => {
                options.pin = Some(PathBuf::from(args.next().ok_or("--pin needs a directory")?))
            }
            "--log-level" => {
                let level: u32 = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--log-level needs a number")?;
                options.log_level = VerifierLogLevel::from_bits(level)
                    .ok_or(format!("unknown log level {level}"))?;
            }
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}\n{USAGE}")),
            path if object.is_none() => object = Some(PathBuf::from(path)),
            extra => return Err(format!("unexpected argument {extra}\n{USAGE}")),
        }
    }
    options.object = object.ok_or(format!("load needs an object file\n{USAGE}"))?;
    Ok(options)
}

fn parse_inspect(args: &[String]) -> Result<(PathBuf, bool), String> {
    let mut disasm = false;
    let mut object = None;
    for arg in args {
        match arg.as_str() {
            "--disasm" => disasm = true,
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}\n{USAGE}")),
            path if object.is_none() => object = Some(PathBuf::from(path)),
            extra => return Err(format!("unexpected argument {extra}\n{USAGE}")),
        }
    }
    Ok((
        object.ok_or(format!("inspect needs an object file\n{USAGE}"))?,
        disasm,
    ))
}

/// One program's outcome in `load`.
struct ProgramReport {
    name: String,
    section: String,
    type_name: String,
    instructions: usize,
    result: Result<&'static str, String>,
    log_tail: Vec<String>,
}

fn load(options: &LoadOptions) -> Result<bool, String> {
    let mut loader = EbpfLoader::new()
        .autoload(false)
        .verifier_log_level(options.log_level);
    if let Some(btf) = &options.target_btf {
        loader = loader.target_btf(btf);
    }
    if let Some(pin) = &options.pin {
        loader = loader.pin_path(pin.join("maps"));
        std::fs::create_dir_all(pin.join("maps"))
            .map_err(|e| format!("creating {}: {e}", pin.join("maps").display()))?;
    }
    let mut ebpf = loader
        .load_file(&options.object)
        .map_err(|e| format!("{}: {e}", options.object.display()))?;

    let names: Vec<(String, bool)> = ebpf
        .object()
        .programs
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.section.as_ref().map_or(true, |s| s.autoload),
            )
        })
        .collect();
    let mut reports = Vec::new();
    for (name, autoload) in names {
        let result = if autoload {
            ebpf.load_program(&name).map(|()| "loaded")
        } else {
            Ok("skipped (not autoload)")
        };
        let program = ebpf
            .program(&name)
            .ok_or_else(|| format!("program {name} vanished"))?;
        let data = program.data();
        // A program that failed to load still has a size: the linked instructions sent.
        let instructions = match data.instruction_count() {
            0 => ebpf
                .object()
                .link_program(&name)
                .map(|l| l.instructions.len())
                .unwrap_or(0),
            count => count,
        };
        let mut report = ProgramReport {
            name: name.clone(),
            section: data.section_name().to_string(),
            type_name: program.type_name(),
            instructions,
            result: Ok("loaded"),
            log_tail: Vec::new(),
        };
        report.result = match result {
            Ok(state) => Ok(state),
            Err(err) => {
                if let ProgramError::Verifier(verifier) = &err {
                    let lines: Vec<&str> = verifier.log().lines().collect();
                    report.log_tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..]
                        .iter()
                        .map(|l| l.to_string())
                        .collect();
                }
                Err(err.to_string())
            }
        };
        if let (Some(pin), Ok("loaded")) = (&options.pin, &report.result) {
            if let Err(err) = data.pin(pin.join(&name)) {
                report.result = Err(format!("loaded, but pinning failed: {err}"));
            }
        }
        reports.push(report);
    }
    if let Some(pin) = &options.pin {
        for (name, map) in ebpf.maps() {
            let path = pin.join("maps").join(bpfkit::pin_name(name));
            // Maps pinned by name were pinned (or reused) by the loader already.
            if !path.exists() {
                map.pin(&path)
                    .map_err(|e| format!("pinning map {name} at {}: {e}", path.display()))?;
            }
        }
    }

    let all_loaded = reports.iter().all(|r| r.result.is_ok());
    if options.json {
        print_load_json(&options.object, &reports, all_loaded);
    } else {
        print_load_text(&reports);
    }
    Ok(all_loaded)
}

fn print_load_text(reports: &[ProgramReport]) {
    let width = reports
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let section_width = reports
        .iter()
        .map(|r| r.section.len())
        .max()
        .unwrap_or(7)
        .max(7);
    println!(
        "{:<width$}  {:<section_width$}  {:<30}  {:>6}  RESULT",
        "NAME", "SECTION", "TYPE", "INSNS"
    );
    for r in reports {
        let result = match &r.result {
            Ok(state) => state.to_string(),
            Err(err) => format!("FAILED: {}", err.lines().next().unwrap_or("")),
        };
        println!(
            "{:<width$}  {:<section_width$}  {:<30}  {:>6}  {result}",
            r.name, r.section, r.type_name, r.instructions
        );
    }
    for r in reports.iter().filter(|r| r.result.is_err()) {
        println!(
            "\n{}: {}",
            r.name,
            r.result.as_ref().err().map(String::as_str).unwrap_or("")
        );
        if !r.log_tail.is_empty() {
            println!("--- verifier log (last {} lines) ---", r.log_tail.len());
            for line in &r.log_tail {
                println!("{line}");
            }
        }
    }
}

fn print_load_json(object: &Path, reports: &[ProgramReport], all_loaded: bool) {
    let programs = reports
        .iter()
        .map(|r| {
            Json::object([
                ("name", Json::str(&r.name)),
                ("section", Json::str(&r.section)),
                ("type", Json::str(&r.type_name)),
                ("instructions", Json::Number(r.instructions as i64)),
                (
                    "loaded",
                    Json::Bool(r.result.as_ref().is_ok_and(|s| *s == "loaded")),
                ),
                (
                    "result",
                    Json::str(match &r.result {
                        Ok(state) => state,
                        Err(err) => err,
                    }),
                ),
                (
                    "verifier_log_tail",
                    Json::Array(r.log_tail.iter().map(|l| Json::str(l)).collect()),
                ),
            ])
        })
        .collect();
    let doc = Json::object([
        ("object", Json::str(&object.display().to_string())),
        ("ok", Json::Bool(all_loaded)),
        ("programs", Json::Array(programs)),
    ]);
    println!("{doc}");
}

fn inspect(path: &Path, disasm: bool) -> Result<bool, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let object = Object::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    println!(
        "object: {}  license: {:?}  kernel version: {}",
        path.display(),
        object.license,
        object
            .kernel_version
            .map(|v| format!("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff))
            .unwrap_or_else(|| "-".to_string())
    );
    println!("\nprograms:");
    for program in &object.programs {
        let (type_name, attach, autoload) = match &program.section {
            Some(def) => (
                bpfkit_obj::uapi::prog_type::name(def.prog_type)
                    .unwrap_or("?")
                    .to_string(),
                def.expected_attach_type
                    .and_then(bpfkit_obj::uapi::attach_type::name)
                    .unwrap_or("-")
                    .to_string(),
                def.autoload,
            ),
            None => ("unknown section".to_string(), "-".to_string(), false),
        };
        println!(
            "  {:<24} section {:<28} {:<28} attach {:<24} insns {:<5}{}",
            program.name,
            program.section_name,
            type_name,
            attach,
            program.instructions.len(),
            if autoload { "" } else { " (not autoload)" }
        );
        if disasm {
            match object.link_program(&program.name) {
                Ok(linked) => {
                    let mut disassembler = bpfkit_obj::Disassembler::new();
                    for reloc in &linked.map_relocations {
                        if let Some(map) = object.maps.get(reloc.map_index) {
                            disassembler =
                                disassembler.map_name(reloc.insn_index, map.name.clone());
                        }
                    }
                    for line in disassembler.disassemble(&linked.instructions) {
                        println!("      {line}");
                    }
                }
                Err(err) => println!("      (cannot link: {err})"),
            }
        }
    }
    println!("\nmaps:");
    for map in &object.maps {
        println!(
            "  {:<24} {:<34} key {:<4} value {:<6} max_entries {:<8} flags {:#x}{}{}",
            map.name,
            bpfkit_obj::uapi::map_type::name(map.map_type).unwrap_or("?"),
            map.key_size,
            map.value_size,
            map.max_entries,
            map.map_flags,
            if map.pinning == bpfkit_obj::Pinning::ByName {
                "  pinned by name"
            } else {
                ""
            },
            map.inner
                .as_ref()
                .map(|i| format!(
                    "  inner {}",
                    bpfkit_obj::uapi::map_type::name(i.map_type).unwrap_or("?")
                ))
                .unwrap_or_default(),
        );
    }
    println!("\nrelocations:");
    for reloc in object.relocations() {
        println!(
            "  {:<20} insn {:<5} {:<24} {}",
            reloc.section,
            reloc.insn_index,
            reloc.symbol,
            describe_relocation(&object, &reloc.kind)
        );
    }
    Ok(true)
}

fn describe_relocation(object: &Object, kind: &bpfkit_obj::relocation::RelocationKind) -> String {
    use bpfkit_obj::relocation::RelocationKind;
    let map_name = |index: usize| {
        object
            .maps
            .get(index)
            .map(|m| m.name.as_str())
            .unwrap_or("?")
    };
    match kind {
        RelocationKind::MapFd { map_index } => format!("map {}", map_name(*map_index)),
        RelocationKind::MapValue { map_index, offset } => {
            format!("value of map {} at offset {offset}", map_name(*map_index))
        }
        RelocationKind::Call {
            target_section,
            target_insn,
        } => format!("call {target_section}+{target_insn}"),
        RelocationKind::FunctionAddress {
            target_section,
            target_insn,
        } => {
            format!("address of function {target_section}+{target_insn}")
        }
        RelocationKind::Extern { kind } => format!("{kind} extern (not resolved yet)"),
    }
}
