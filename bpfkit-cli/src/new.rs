//! `bpfkit new DIR`: writes a project from the repository's template `templates/rust-app`.
//!
//! The template is a buildable project named `rust-app` whose bpfkit dependencies are relative
//! paths into this checkout; its files are embedded here as they are, and written with the
//! names (`rust-app`, `rust_app`) replaced by the new project's and the relative bpfkit paths
//! by an absolute one. The template directory stays the one source of truth: a test checks that
//! every file in it is embedded.

use std::path::{Path, PathBuf};

/// The template's project name, as a package name and as a Rust identifier.
const TEMPLATE_NAME: &str = "rust-app";
const TEMPLATE_IDENT: &str = "rust_app";

/// How the template's manifests reach the bpfkit crates: each crate directory is
/// `templates/rust-app/<crate>`, three levels below the checkout's root.
const TEMPLATE_BPFKIT_PATH: &str = "path = \"../../../";

/// The bpfkit source tree this binary was built from (the default `--bpfkit-path`).
const SOURCE_TREE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// Crates of the checkout the template depends on: a `--bpfkit-path` must hold them.
const BPFKIT_CRATES: [&str; 3] = ["bpfkit", "bpfkit-build", "bpfkit-ebpf"];

/// Embeds a template file under its path relative to the template's root.
macro_rules! template_files {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../templates/rust-app/", $path)))),*]
    };
}

/// Every file of `templates/rust-app`, by path relative to it (with the template's names).
const FILES: &[(&str, &str)] = template_files![
    ".gitignore",
    "Cargo.toml",
    "README.md",
    "rust-app/Cargo.toml",
    "rust-app/build.rs",
    "rust-app/src/main.rs",
    "rust-app-common/Cargo.toml",
    "rust-app-common/src/lib.rs",
    "rust-app-ebpf/Cargo.toml",
    "rust-app-ebpf/src/main.rs",
];

/// Names cargo or Rust refuse for a package whose binary and library carry the name.
const RESERVED_NAMES: &[&str] = &[
    // Keywords (strict and reserved) cannot be crate names.
    "abstract",
    "as",
    "async",
    "await",
    "become",
    "box",
    "break",
    "const",
    "continue",
    "crate",
    "do",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "final",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "macro",
    "match",
    "mod",
    "move",
    "mut",
    "override",
    "priv",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "try",
    "type",
    "typeof",
    "unsafe",
    "unsized",
    "use",
    "virtual",
    "where",
    "while",
    "yield",
    // The standard library's crates.
    "alloc",
    "core",
    "proc_macro",
    "proc-macro",
    "std",
    "test",
    // Directories of cargo's target directory, which a binary may not be named after.
    "build",
    "deps",
    "examples",
    "incremental",
];

/// What `bpfkit new` was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOptions {
    /// The project directory (created; must be empty if it exists).
    pub dir: PathBuf,
    /// The project name (default: the directory's name).
    pub name: Option<String>,
    /// The bpfkit checkout (default: the one this binary was built from).
    pub bpfkit_path: Option<PathBuf>,
}

/// Parses `new DIR [--name NAME] [--bpfkit-path PATH]` (the arguments after `new`).
pub fn parse_args(args: &[String], usage: &str) -> Result<NewOptions, String> {
    let mut dir = None;
    let mut name = None;
    let mut bpfkit_path = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--name" => name = Some(args.next().ok_or("--name needs a name")?.clone()),
            "--bpfkit-path" => {
                bpfkit_path = Some(PathBuf::from(
                    args.next().ok_or("--bpfkit-path needs a directory")?,
                ))
            }
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}\n{usage}")),
            path if dir.is_none() => dir = Some(PathBuf::from(path)),
            extra => return Err(format!("unexpected argument {extra}\n{usage}")),
        }
    }
    Ok(NewOptions {
        dir: dir.ok_or(format!("new needs a directory\n{usage}"))?,
        name,
        bpfkit_path,
    })
}

/// Writes the project and prints what to run next.
pub fn run(options: &NewOptions) -> Result<(), String> {
    let name = match &options.name {
        Some(name) => name.clone(),
        None => default_name(&options.dir)?,
    };
    validate_name(&name)?;
    let bpfkit = bpfkit_tree(
        options
            .bpfkit_path
            .as_deref()
            .unwrap_or(Path::new(SOURCE_TREE)),
    )?;
    let bpfkit_text = bpfkit.to_str().ok_or(format!(
        "the bpfkit path {} is not UTF-8, which Cargo.toml cannot hold",
        bpfkit.display()
    ))?;
    check_empty_or_missing(&options.dir)?;
    for (path, contents) in FILES {
        let target = options.dir.join(render(path, &name, bpfkit_text));
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("creating {}: {e}", parent.display()))?;
        }
        std::fs::write(&target, render(contents, &name, bpfkit_text))
            .map_err(|e| format!("writing {}: {e}", target.display()))?;
    }
    let dir = shell_word(&options.dir.display().to_string());
    println!(
        "Created `{name}` in {dir}, with bpfkit from {}:",
        bpfkit.display()
    );
    println!("  {name}-ebpf    the eBPF program (Rust, bpfkit-ebpf)");
    println!("  {name}         user space: builds it, loads and attaches it, prints its events");
    println!("  {name}-common  the types both share");
    println!(
        "Next (the first build also compiles core for the eBPF target; the tools it needs are \
         in README.md):"
    );
    println!("  cd {dir} && cargo build --release");
    println!("  sudo ./target/release/{name}    (--check: a self-test, exits 0 when it works)");
    Ok(())
}

/// The name of `dir`'s last component, resolved (`.` is the current directory's name).
fn default_name(dir: &Path) -> Result<String, String> {
    let resolved = dir
        .canonicalize()
        .or_else(|_| std::path::absolute(dir))
        .map_err(|e| format!("resolving {}: {e}", dir.display()))?;
    resolved
        .file_name()
        .and_then(|name| name.to_str())
        .map(str::to_string)
        .ok_or(format!(
            "cannot take a project name from {}: pass --name",
            dir.display()
        ))
}

/// A package name cargo accepts for all three crates, and a Rust identifier once `-` is `_`:
/// lowercase ASCII letters, digits, `-` and `_`, starting with a letter.
pub fn validate_name(name: &str) -> Result<(), String> {
    let problem = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > 64 {
        Some("it is longer than 64 characters")
    } else if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        Some("it must start with a lowercase ASCII letter")
    } else if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        Some("only lowercase ASCII letters, digits, `-` and `_` are allowed")
    } else if RESERVED_NAMES.contains(&name) {
        Some("it is reserved by Rust or cargo")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(format!(
            "`{name}` cannot be the project name: {problem} (choose another with --name)"
        )),
        None => Ok(()),
    }
}

/// The bpfkit checkout at `path`, absolute, or why it is not one.
fn bpfkit_tree(path: &Path) -> Result<PathBuf, String> {
    let absolute = path.canonicalize().map_err(|e| {
        format!(
            "the bpfkit source tree {}: {e} (pass the checkout with --bpfkit-path)",
            path.display()
        )
    })?;
    for krate in BPFKIT_CRATES {
        if !absolute.join(krate).join("Cargo.toml").is_file() {
            return Err(format!(
                "{} is not a bpfkit source tree: it has no {krate}/Cargo.toml (pass the \
                 checkout with --bpfkit-path)",
                absolute.display()
            ));
        }
    }
    Ok(absolute)
}

/// Refuses a directory with anything in it (or a path that is not a directory).
fn check_empty_or_missing(dir: &Path) -> Result<(), String> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                Err(format!(
                    "{} is not empty: `bpfkit new` writes only into a new or empty directory",
                    dir.display()
                ))
            } else {
                Ok(())
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("{}: {e}", dir.display())),
    }
}

/// A template file (or path) for project `name`: the template's names replaced, and the
/// manifests' relative bpfkit paths made `bpfkit` (an absolute path). One pass over the text,
/// so that a replacement is never replaced again (a name containing `rust_app`, a bpfkit path
/// containing `rust-app`).
fn render(template: &str, name: &str, bpfkit: &str) -> String {
    let ident = name.replace('-', "_");
    let bpfkit_path = format!("path = \"{}/", toml_escape(bpfkit));
    let replacements = [
        (TEMPLATE_BPFKIT_PATH, bpfkit_path.as_str()),
        (TEMPLATE_NAME, name),
        (TEMPLATE_IDENT, ident.as_str()),
    ];
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    'text: while !rest.is_empty() {
        for (from, to) in replacements {
            if let Some(after) = rest.strip_prefix(from) {
                out.push_str(to);
                rest = after;
                continue 'text;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// `text` as the inside of a TOML basic string.
fn toml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// `text` quoted for a POSIX shell when it needs it, for the commands printed.
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The template's directory in this checkout.
    fn template_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates/rust-app")
    }

    /// Files under `dir`, relative to `root`, except build output and lock files (which a
    /// build of the template in place leaves there).
    fn files_under(root: &Path, dir: &Path, files: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("template directory") {
            let path = entry.expect("entry").path();
            let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if file_name != "target" {
                    files_under(root, &path, files);
                }
            } else if file_name != "Cargo.lock" {
                let relative = path.strip_prefix(root).expect("under the root");
                files.push(relative.to_str().expect("UTF-8").to_string());
            }
        }
    }

    #[test]
    fn every_template_file_is_embedded() {
        let root = template_dir();
        let mut on_disk = Vec::new();
        files_under(&root, &root, &mut on_disk);
        on_disk.sort();
        let mut embedded: Vec<String> = FILES.iter().map(|(path, _)| path.to_string()).collect();
        embedded.sort();
        assert_eq!(
            embedded, on_disk,
            "FILES in bpfkit-cli/src/new.rs must list templates/rust-app"
        );
    }

    #[test]
    fn every_bpfkit_dependency_of_the_template_is_a_replaced_path() {
        let manifests: Vec<&str> = FILES
            .iter()
            .filter(|(path, _)| path.ends_with("Cargo.toml"))
            .map(|(_, contents)| *contents)
            .collect();
        let bpfkit_dependencies = manifests
            .iter()
            .flat_map(|m| m.lines())
            .filter(|line| line.starts_with("bpfkit"))
            .collect::<Vec<_>>();
        assert_eq!(bpfkit_dependencies.len(), 3, "{bpfkit_dependencies:?}");
        for line in bpfkit_dependencies {
            assert!(line.contains(TEMPLATE_BPFKIT_PATH), "{line}");
            let rendered = render(line, "x", "/src/bpfkit");
            assert!(
                rendered.contains("path = \"/src/bpfkit/bpfkit"),
                "{rendered}"
            );
        }
    }

    #[test]
    fn names_and_paths_are_replaced_in_one_pass() {
        let template = "name = \"rust-app\"\nuse rust_app_common::X;\nb = { path = \"../../../bpfkit\" }\nc = { path = \"../x\" }";
        assert_eq!(
            render(template, "rust_app2", "/home/rust-app/bpfkit"),
            "name = \"rust_app2\"\nuse rust_app2_common::X;\n\
             b = { path = \"/home/rust-app/bpfkit/bpfkit\" }\nc = { path = \"../x\" }"
        );
        assert_eq!(
            render("rust-app-ebpf/src", "my-probe", "/b"),
            "my-probe-ebpf/src"
        );
    }

    #[test]
    fn paths_are_escaped_for_toml() {
        assert_eq!(toml_escape(r#"/a "b"\c"#), r#"/a \"b\"\\c"#);
        assert_eq!(toml_escape("/a\nb"), "/a\\u000Ab");
    }

    #[test]
    fn names_must_be_crate_names() {
        for good in ["my-probe", "execsnoop", "a", "x_2-y"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in [
            "", "My-Probe", "2fast", "-x", "_x", "my probe", "café", "fn", "core", "deps",
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?} is refused");
        }
        assert!(validate_name(&"a".repeat(65)).is_err());
    }

    #[test]
    fn commands_quote_paths_when_needed() {
        assert_eq!(shell_word("/tmp/my-probe"), "/tmp/my-probe");
        assert_eq!(shell_word("/tmp/my probe"), "'/tmp/my probe'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
