//! `gen-helpers`: raw Rust bindings for every eBPF helper, generated from the kernel's own
//! definitions.
//!
//! Two inputs, each trusted for what it is authoritative on:
//! - the UAPI `bpf.h`, whose comment block documents each helper with its C prototype and whose
//!   `___BPF_FUNC_MAPPER` (6.2+, explicit ids) or `__BPF_FUNC_MAPPER` (older, ids by position)
//!   lists the ids. It gives the signatures and the documentation.
//! - the running kernel's BTF (raw, as in `/sys/kernel/btf/vmlinux`, or its C dump), whose
//!   `enum bpf_func_id` says which helpers exist and under which id. It decides what is emitted:
//!   a helper the header does not document still gets a binding, with an untyped signature.
//!
//! The output is run through `rustfmt` and depends only on the two inputs, so `--check` can
//! regenerate it and compare byte for byte. The file records a fingerprint of the inputs it was
//! generated from; on a machine whose header or kernel differ, `--check` says so instead of
//! failing, because it cannot know what the committed inputs would produce there.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where the generated bindings live, relative to the workspace root.
pub const OUTPUT: &str = "bpfkit-ebpf/src/helpers/generated.rs";
/// The header read when `--bpf-h` is not given (Debian's linux-libc-dev).
const DEFAULT_BPF_H: &str = "/usr/include/linux/bpf.h";
/// The BTF read when `--btf` is not given: the running kernel's.
const DEFAULT_BTF: &str = "/sys/kernel/btf/vmlinux";
/// eBPF passes helper arguments in R1..R5, so no helper takes more than five.
const MAX_HELPER_ARGS: usize = 5;
/// The line of `bpf.h` after which the helper documentation starts.
const DOCS_START: &str = "Start of BPF helper function descriptions:";
/// The prefix of the `fingerprint` line in the generated file.
const FINGERPRINT_PREFIX: &str = "//! Inputs fingerprint: ";
/// Doc comments are wrapped to this many characters of text.
const DOC_WIDTH: usize = 92;

/// What `gen-helpers` was asked to do.
#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    bpf_h: PathBuf,
    btf: PathBuf,
    check: bool,
}

/// Parses `[--bpf-h PATH] [--btf PATH] [--check]`.
pub fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        bpf_h: PathBuf::from(DEFAULT_BPF_H),
        btf: PathBuf::from(DEFAULT_BTF),
        check: false,
    };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--bpf-h" => {
                options.bpf_h = rest
                    .next()
                    .map(PathBuf::from)
                    .ok_or("--bpf-h needs a path")?;
            }
            "--btf" => {
                options.btf = rest.next().map(PathBuf::from).ok_or("--btf needs a path")?;
            }
            "--check" => options.check = true,
            other => return Err(format!("gen-helpers: unexpected argument `{other}`")),
        }
    }
    Ok(options)
}

/// Generates the bindings and writes them to [`OUTPUT`], or with `--check` compares them.
pub fn run(root: &Path, options: &Options) -> Result<(), String> {
    let header = std::fs::read_to_string(&options.bpf_h)
        .map_err(|e| format!("reading {}: {e}", options.bpf_h.display()))?;
    let btf = std::fs::read(&options.btf)
        .map_err(|e| format!("reading {}: {e}", options.btf.display()))?;
    let generated = generate(&header, &btf)?;
    let formatted = rustfmt(&generated.source, root)?;
    let output = root.join(OUTPUT);
    if options.check {
        return check(&output, &formatted, &generated.fingerprint);
    }
    if let Some(dir) = output.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    std::fs::write(&output, formatted).map_err(|e| format!("writing {}: {e}", output.display()))?;
    println!("{}: {}", OUTPUT, generated.summary);
    Ok(())
}

/// Compares the committed file with what the inputs generate now.
fn check(output: &Path, formatted: &str, fingerprint: &str) -> Result<(), String> {
    let committed = std::fs::read_to_string(output).map_err(|e| {
        format!(
            "reading {}: {e} (run `gen-helpers` to create it)",
            output.display()
        )
    })?;
    if committed == formatted {
        println!("{OUTPUT} is current");
        return Ok(());
    }
    let committed_fingerprint = committed
        .lines()
        .find_map(|line| line.strip_prefix(FINGERPRINT_PREFIX))
        .map(str::trim);
    if committed_fingerprint.is_some_and(|committed| committed != fingerprint) {
        // Another header or kernel: what the committed inputs would generate is unknowable here.
        println!(
            "{OUTPUT} was generated from other inputs (fingerprint {} there, {fingerprint} here: \
             another bpf.h or kernel); not checked",
            committed_fingerprint.unwrap_or_default()
        );
        return Ok(());
    }
    let difference = committed
        .lines()
        .zip(formatted.lines())
        .enumerate()
        .find(|(_, (old, new))| old != new)
        .map(|(index, (old, new))| {
            format!(
                "first difference at line {}:\n  committed: {old}\n  generated: {new}",
                index + 1
            )
        })
        .unwrap_or_else(|| "the files differ in length".to_string());
    Err(format!(
        "{OUTPUT} is stale; run `cargo run -p xtask -- gen-helpers` and commit it\n{difference}"
    ))
}

/// Runs `rustfmt` over generated source (from `root`, so a workspace `rustfmt.toml` applies).
fn rustfmt(source: &str, root: &Path) -> Result<String, String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2021", "--emit", "stdout"])
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running rustfmt: {e} (rustup component add rustfmt)"))?;
    let mut stdin = child.stdin.take().ok_or("rustfmt has no stdin")?;
    // rustfmt reads all its input before writing, so writing first cannot deadlock on a full pipe.
    stdin
        .write_all(source.as_bytes())
        .map_err(|e| format!("writing to rustfmt: {e}"))?;
    drop(stdin);
    let output = child
        .wait_with_output()
        .map_err(|e| format!("waiting for rustfmt: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "rustfmt rejected the generated code ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8(output.stdout).map_err(|e| format!("rustfmt output is not UTF-8: {e}"))
}

/// Generated source (not yet formatted) with what it was made from.
#[derive(Debug)]
pub struct Generated {
    /// The Rust source.
    pub source: String,
    /// Identifies the inputs, so `--check` can tell a stale file from a different machine.
    pub fingerprint: String,
    /// One line for the console: how many helpers, how many untyped.
    pub summary: String,
}

/// Builds the bindings from the text of `bpf.h` and the kernel BTF (raw or its C dump).
pub fn generate(header: &str, btf: &[u8]) -> Result<Generated, String> {
    let docs = parse_helper_docs(header)?;
    let mapper = parse_func_mapper(header)?;
    let kernel_ids = kernel_func_ids(btf)?;

    // Some helpers are overloaded by program type and documented once per variant.
    let mut documented: BTreeMap<&str, Vec<&HelperDoc>> = BTreeMap::new();
    for doc in &docs {
        documented.entry(doc.name.as_str()).or_default().push(doc);
    }
    let header_ids: BTreeMap<&str, u32> = mapper.iter().map(|(n, id)| (n.as_str(), *id)).collect();
    let kernel_names: BTreeSet<&str> = kernel_ids.iter().map(|(n, _)| n.as_str()).collect();
    for (name, kernel_id) in &kernel_ids {
        if let Some(header_id) = header_ids.get(name.as_str()) {
            if header_id != kernel_id {
                return Err(format!(
                    "bpf.h gives helper {name} id {header_id} but the kernel's BTF says \
                     {kernel_id}; the header does not describe this kernel's helper ABI"
                ));
            }
        }
    }

    let mut records = BTreeSet::new();
    let mut bodies = String::new();
    let mut untyped = Vec::new();
    let mut typed = 0usize;
    for (name, id) in &kernel_ids {
        if name == "unspec" {
            continue; // Id 0 is "no helper", not a helper.
        }
        match documented.get(name.as_str()) {
            Some(variants) => {
                emit_typed(&mut bodies, variants, *id, &mut records)?;
                typed += 1;
            }
            None => {
                emit_untyped(&mut bodies, name, *id);
                untyped.push(format!("{name} ({id})"));
            }
        }
    }
    let unknown_to_kernel: Vec<&str> = documented
        .keys()
        .copied()
        .filter(|name| !kernel_names.contains(name))
        .collect();

    let fingerprint = format!(
        "bpf.h {:016x}, kernel ids {:016x}",
        fnv1a64(helper_section(header).as_bytes()),
        fnv1a64(
            kernel_ids
                .iter()
                .map(|(name, id)| format!("{name}={id}\n"))
                .collect::<String>()
                .as_bytes()
        )
    );
    let highest = kernel_ids.iter().map(|(_, id)| *id).max().unwrap_or(0);
    let mut module_docs = String::new();
    let _ = write!(
        module_docs,
        "Raw bindings for every eBPF helper the kernel knows, one `unsafe fn` and one id \
         constant each.\n\
         \n\
         GENERATED by `cargo run -p xtask -- gen-helpers [--bpf-h PATH] [--btf PATH]` \
         (defaults: `{DEFAULT_BPF_H}`, `{DEFAULT_BTF}`); do not edit. \
         `cargo run -p xtask -- gen-helpers --check` fails when this file is stale.\n\
         \n\
         The kernel's BTF (`enum bpf_func_id`) decides which helpers exist and their ids; \
         `bpf.h` gives their C prototypes and documentation. Each binding calls its helper the way \
         eBPF does: through a function pointer whose address is the helper id, which LLVM lowers \
         to `call <id>`.\n\
         \n\
         C types map as follows: `u8`..`u64`/`__u64`/`__be32`/`__wsum`/`size_t` to the unsigned \
         integer of that width, `s8`..`s64`/`int`/`long` to the signed one, `char` to `c_char`, \
         `void *` to `*mut c_void` (`const` pointees to `*const`), pointers to kernel structs to \
         pointers to the opaque `#[repr(C)]` types declared here (cast with `.cast()`), function \
         pointers to `*mut c_void`, and the variadic tail of `bpf_trace_printk` to `u64` \
         arguments up to the five that eBPF passes.\n\
         \n\
         {} helpers (highest id {highest}): {typed} with their documented signature{}.{}",
        typed + untyped.len(),
        if untyped.is_empty() {
            String::new()
        } else {
            format!(
                ", {} untyped because `bpf.h` does not document them ({})",
                untyped.len(),
                untyped.join(", ")
            )
        },
        if unknown_to_kernel.is_empty() {
            String::new()
        } else {
            format!(
                " Documented in `bpf.h` but unknown to the kernel, so left out: {}.",
                unknown_to_kernel.join(", ")
            )
        }
    );
    let mut source = String::new();
    for (index, paragraph) in module_docs.split("\n\n").enumerate() {
        if index > 0 {
            source.push_str("//!\n");
        }
        for line in wrap(paragraph, DOC_WIDTH) {
            let _ = writeln!(source, "//! {line}");
        }
    }
    let _ = writeln!(source, "//!\n{FINGERPRINT_PREFIX}{fingerprint}");
    source.push_str(
        "\n#![allow(non_camel_case_types, non_upper_case_globals)]\n\n\
         use core::ffi::{c_char, c_void};\n\n",
    );
    for record in &records {
        let _ = writeln!(
            source,
            "/// The kernel's `struct {record}`, opaque: helpers only take pointers to it.\n\
             #[repr(C)]\npub struct {record} {{ _opaque: [u8; 0] }}\n"
        );
    }
    source.push_str(&bodies);
    let summary = format!(
        "{} helpers, {typed} typed, {} untyped{}",
        typed + untyped.len(),
        untyped.len(),
        if untyped.is_empty() {
            String::new()
        } else {
            format!(" ({})", untyped.join(", "))
        }
    );
    Ok(Generated {
        source,
        fingerprint,
        summary,
    })
}

/// Emits the id constant and the binding of a documented helper; with several variants
/// (overloads by program type), the arguments where they differ become untyped pointers.
fn emit_typed(
    out: &mut String,
    variants: &[&HelperDoc],
    id: u32,
    records: &mut BTreeSet<String>,
) -> Result<(), String> {
    let first = variants.first().ok_or("a helper without documentation")?;
    let context = |e: String| format!("bpf_{}: {e} (in `{}`)", first.name, first.prototype);
    let signature = merge_overloads(variants).map_err(context)?;
    let mut params: Vec<(String, String)> = Vec::new();
    for (index, param) in signature.params.iter().enumerate() {
        let name = match &param.name {
            Some(name) => rust_ident(name),
            None => format!("arg{}", index + 1),
        };
        let ty = param.ty.to_rust(records).map_err(context)?;
        params.push((name, ty));
    }
    if signature.variadic {
        // Varargs are just more registers: fill the remaining ones with 64-bit values.
        for index in params.len()..MAX_HELPER_ARGS {
            params.push((format!("arg{}", index + 1), "u64".to_string()));
        }
    }
    if params.len() > MAX_HELPER_ARGS {
        return Err(context(format!(
            "{} arguments, but eBPF passes at most {MAX_HELPER_ARGS}",
            params.len()
        )));
    }
    let mut seen = BTreeSet::new();
    for (name, _) in &params {
        if name == "helper_fn" || !seen.insert(name.as_str()) {
            return Err(context(format!("argument name `{name}` is taken")));
        }
    }
    let ret = match signature.ret {
        CType {
            base: Base::Void,
            pointer_depth: 0,
            ..
        } => String::new(),
        ref ty => format!(" -> {}", ty.to_rust(records).map_err(context)?),
    };

    let mut docs = Vec::new();
    if variants.len() > 1 {
        docs.push(format!(
            "Overloaded by program type: the kernel documents {} variants, so the arguments in \
             which they differ are untyped pointers here.",
            variants.len()
        ));
    }
    for variant in variants {
        if variants.len() > 1 {
            docs.push(format!("Variant `{}`:", variant.prototype));
        }
        match &variant.description {
            Some(description) => docs.push(description.clone()),
            None => docs.push(format!("Calls the `bpf_{}` helper.", variant.name)),
        }
        if let Some(returns) = &variant.returns {
            docs.push(format!("Returns: {returns}"));
        }
        if variants.len() == 1 {
            docs.push(format!("C prototype: `{}`", variant.prototype));
        }
    }
    emit_binding(out, &first.name, id, &docs, &params, &ret);
    Ok(())
}

/// One signature for all documented variants of a helper: where their types differ (always
/// pointers: contexts and sockets), `void *`; where their names differ, no name.
fn merge_overloads(variants: &[&HelperDoc]) -> Result<Signature, String> {
    let (first, rest) = variants
        .split_first()
        .ok_or("a helper without documentation")?;
    let mut merged = first.signature.clone();
    for variant in rest {
        let other = &variant.signature;
        if other.params.len() != merged.params.len()
            || other.variadic != merged.variadic
            || other.ret != merged.ret
        {
            return Err(format!(
                "overloads differ in more than pointer arguments: `{}`",
                variant.prototype
            ));
        }
        for (param, other_param) in merged.params.iter_mut().zip(&other.params) {
            if param.name != other_param.name {
                param.name = None;
            }
            if param.ty != other_param.ty {
                if param.ty.pointer_depth == 0 || other_param.ty.pointer_depth == 0 {
                    return Err(format!(
                        "overloads differ in a non-pointer argument: `{}`",
                        variant.prototype
                    ));
                }
                param.ty = CType {
                    base: Base::Void,
                    pointer_depth: 1,
                    const_pointee: param.ty.const_pointee && other_param.ty.const_pointee,
                };
            }
        }
    }
    Ok(merged)
}

/// Emits the id constant and the binding of a helper the header does not document.
fn emit_untyped(out: &mut String, name: &str, id: u32) {
    let docs = [
        "The kernel knows this helper, but the `bpf.h` these bindings were generated from does \
         not document it, so its signature is untyped: pass every argument as a `u64` (the \
         kernel ignores the ones past the helper's own count) and read the result as a `u64`. \
         See the helper's documentation in a newer `include/uapi/linux/bpf.h`."
            .to_string(),
    ];
    let params: Vec<(String, String)> = (1..=MAX_HELPER_ARGS)
        .map(|index| (format!("arg{index}"), "u64".to_string()))
        .collect();
    emit_binding(out, name, id, &docs, &params, " -> u64");
}

/// Emits `BPF_FUNC_<name>` and `bpf_<name>`; `docs` are paragraphs already in Markdown.
fn emit_binding(
    out: &mut String,
    name: &str,
    id: u32,
    docs: &[String],
    params: &[(String, String)],
    ret: &str,
) {
    let _ = writeln!(
        out,
        "/// Helper id of [`bpf_{name}()`].\npub const BPF_FUNC_{name}: u32 = {id};\n"
    );
    for (index, paragraph) in docs.iter().enumerate() {
        if index > 0 {
            out.push_str("///\n");
        }
        for line in wrap(paragraph, DOC_WIDTH) {
            let _ = writeln!(out, "/// {line}");
        }
    }
    out.push_str(
        "///\n/// # Safety\n///\n\
         /// This calls the kernel helper directly. The verifier checks the kinds of the arguments \
         when the\n/// program loads; everything else the helper's documentation asks of them \
         (valid pointers,\n/// sizes, flags, program types) is the caller's to uphold.\n",
    );
    let arg_list: Vec<String> = params.iter().map(|(n, t)| format!("{n}: {t}")).collect();
    let arg_types: Vec<&str> = params.iter().map(|(_, t)| t.as_str()).collect();
    let arg_names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
    let _ = writeln!(
        out,
        "#[inline(always)]\n\
         pub unsafe fn bpf_{name}({}){ret} {{\n\
         // SAFETY: eBPF calls helpers by id, and LLVM lowers a call through this address\n\
         // to `call {id}`; the signature mirrors the helper's prototype.\n\
         let helper_fn: unsafe extern \"C\" fn({}){ret} = unsafe {{ core::mem::transmute({id}usize) }};\n\
         // SAFETY: the caller upholds the helper's contract (see `# Safety`).\n\
         unsafe {{ helper_fn({}) }}\n}}\n",
        arg_list.join(", "),
        arg_types.join(", "),
        arg_names.join(", "),
    );
}

/// A Rust identifier for a C parameter name: Rust keywords get a trailing underscore.
fn rust_ident(name: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "as", "async", "await", "box", "break", "const", "continue", "crate", "dyn", "else",
        "enum", "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match",
        "mod", "move", "mut", "priv", "pub", "ref", "return", "self", "static", "struct", "super",
        "trait", "true", "try", "type", "unsafe", "use", "where", "while", "yield",
    ];
    if KEYWORDS.contains(&name) {
        format!("{name}_")
    } else {
        name.to_string()
    }
}

/// One documented helper.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HelperDoc {
    /// The name without `bpf_`, as in `BPF_FUNC_<name>`.
    name: String,
    /// The C prototype line, verbatim.
    prototype: String,
    signature: Signature,
    /// First paragraph of the Description, as Markdown on one line.
    description: Option<String>,
    /// First paragraph of the Return section, as Markdown on one line.
    returns: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Signature {
    ret: CType,
    params: Vec<Param>,
    /// Ends with `...`.
    variadic: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Param {
    name: Option<String>,
    ty: CType,
}

/// A C type as helper prototypes spell them: a base type under some pointers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CType {
    base: Base,
    pointer_depth: usize,
    /// `const` applies to what the (innermost) pointer points at.
    const_pointee: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Base {
    Void,
    Char,
    /// An integer, by its Rust name.
    Integer(&'static str),
    /// `struct`/`union` with this name.
    Record(String),
    /// A C function pointer: to the kernel it is just an address.
    Function,
}

impl CType {
    /// The Rust spelling; records used through pointers are collected for declaration.
    fn to_rust(&self, records: &mut BTreeSet<String>) -> Result<String, String> {
        if self.pointer_depth == 0 {
            return match &self.base {
                Base::Void => Err("`void` used as a value type".to_string()),
                Base::Char => Ok("c_char".to_string()),
                Base::Integer(rust) => Ok((*rust).to_string()),
                Base::Record(name) => Err(format!(
                    "`{name}` passed by value; helpers take records only by pointer"
                )),
                Base::Function => Ok("*mut c_void".to_string()),
            };
        }
        let pointee = match &self.base {
            Base::Void | Base::Function => "c_void".to_string(),
            Base::Char => "c_char".to_string(),
            Base::Integer(rust) => (*rust).to_string(),
            Base::Record(name) => {
                records.insert(name.clone());
                name.clone()
            }
        };
        let innermost = if self.const_pointee {
            "*const "
        } else {
            "*mut "
        };
        Ok(format!(
            "{}{innermost}{pointee}",
            "*mut ".repeat(self.pointer_depth.saturating_sub(1))
        ))
    }
}

/// The Rust integer for a C integer type name, `None` when it is not one.
fn integer_type(c: &str) -> Option<&'static str> {
    Some(match c {
        "u8" | "__u8" | "unsigned char" => "u8",
        "s8" | "__s8" | "signed char" => "i8",
        "u16" | "__u16" | "__be16" | "__le16" | "__sum16" | "unsigned short" => "u16",
        "s16" | "__s16" | "short" => "i16",
        "u32" | "__u32" | "__be32" | "__le32" | "__wsum" | "unsigned" | "unsigned int" => "u32",
        "s32" | "__s32" | "int" | "signed int" | "signed" => "i32",
        "u64" | "__u64" | "__be64" | "__le64" | "unsigned long" | "unsigned long long"
        | "size_t" | "__kernel_size_t" => "u64",
        "s64" | "__s64" | "long" | "long long" | "signed long" | "ssize_t" => "i64",
        _ => return None,
    })
}

/// Parses a C type such as `const struct bpf_dynptr *` or `unsigned long *`.
fn parse_ctype(text: &str) -> Result<CType, String> {
    let spaced = text.replace('*', " * ");
    let mut words = spaced.split_whitespace();
    let mut base_words: Vec<&str> = Vec::new();
    let mut record = None;
    let mut pointer_depth = 0usize;
    let mut const_pointee = false;
    while let Some(word) = words.next() {
        match word {
            "*" => pointer_depth += 1,
            // A qualifier after a `*` qualifies the pointer itself, which Rust does not express.
            "const" if pointer_depth == 0 => const_pointee = true,
            "const" | "volatile" | "restrict" | "__restrict" => {}
            "struct" | "union" => {
                let name = words
                    .next()
                    .filter(|name| is_c_ident(name))
                    .ok_or_else(|| format!("`{word}` without a name in `{text}`"))?;
                record = Some(name.to_string());
            }
            "enum" => {
                // C enums are `int`-sized.
                words.next();
                base_words.push("int");
            }
            other if is_c_ident(other) => base_words.push(other),
            other => return Err(format!("unexpected `{other}` in type `{text}`")),
        }
    }
    let base = match (record, base_words.as_slice()) {
        (Some(name), []) => Base::Record(name),
        (None, ["void"]) => Base::Void,
        (None, ["char"]) => Base::Char,
        (None, []) => return Err(format!("no type in `{text}`")),
        (None, words) => {
            let joined = words.join(" ");
            Base::Integer(integer_type(&joined).ok_or_else(|| {
                format!("no Rust mapping for C type `{joined}`; add it to integer_type()")
            })?)
        }
        (Some(name), words) => {
            return Err(format!(
                "`{name}` mixed with `{}` in `{text}`",
                words.join(" ")
            ))
        }
    };
    Ok(CType {
        base,
        pointer_depth,
        const_pointee,
    })
}

fn is_c_ident(word: &str) -> bool {
    !word.is_empty()
        && !word.starts_with(|c: char| c.is_ascii_digit())
        && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses a prototype line such as `long bpf_map_delete_elem(struct bpf_map *map, const void *key)`.
fn parse_prototype(line: &str) -> Result<(String, Signature), String> {
    let open = line.find('(').ok_or("no `(`")?;
    let close = line
        .rfind(')')
        .filter(|&close| close > open)
        .ok_or("no `)`")?;
    let head = line.get(..open).ok_or("bad `(`")?.trim_end();
    let name_start = head
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let full_name = head.get(name_start..).unwrap_or_default();
    let name = full_name
        .strip_prefix("bpf_")
        .filter(|name| is_c_ident(name))
        .ok_or_else(|| format!("`{full_name}` is not a `bpf_` helper name"))?;
    let ret = parse_ctype(head.get(..name_start).unwrap_or_default())?;
    let inside = line.get(open + 1..close).unwrap_or_default().trim();
    let mut params = Vec::new();
    let mut variadic = false;
    if !inside.is_empty() && inside != "void" {
        for piece in split_top_level(inside) {
            let piece = piece.trim();
            if variadic {
                return Err("parameters after `...`".to_string());
            }
            if piece == "..." {
                variadic = true;
                continue;
            }
            params.push(parse_param(piece)?);
        }
    }
    Ok((
        name.to_string(),
        Signature {
            ret,
            params,
            variadic,
        },
    ))
}

/// Splits a parameter list at the commas not nested in parentheses (function pointer types).
fn split_top_level(list: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (index, c) in list.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                pieces.push(list.get(start..index).unwrap_or_default());
                start = index + 1;
            }
            _ => {}
        }
    }
    pieces.push(list.get(start..).unwrap_or_default());
    pieces
}

/// Parses one parameter: `const void *key`, `u64 flags`, `u32`, `long (*cb)(u32, void *)`, `u8 a[16]`.
fn parse_param(text: &str) -> Result<Param, String> {
    if let Some(star) = text.find("(*") {
        // A function pointer `ret (*name)(args)`: only its name matters.
        let rest = text.get(star + 2..).unwrap_or_default();
        let name = rest.split(')').next().unwrap_or_default().trim();
        return Ok(Param {
            name: is_c_ident(name).then(|| name.to_string()),
            ty: CType {
                base: Base::Function,
                pointer_depth: 0,
                const_pointee: false,
            },
        });
    }
    let (text, array) = match text.find('[') {
        Some(bracket) => (text.get(..bracket).unwrap_or_default().trim_end(), true),
        None => (text, false),
    };
    let name_start = text
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let (type_text, name) = text.split_at(name_start);
    let type_words: Vec<&str> = type_text.split_whitespace().collect();
    // Without a name the last word belongs to the type (`u32`, `unsigned long`, `struct x`).
    let unnamed = !type_text.contains('*')
        && type_words.iter().all(|w| {
            matches!(
                *w,
                "const" | "volatile" | "struct" | "union" | "enum" | "unsigned" | "signed"
            )
        });
    let (mut ty, name) = if unnamed {
        (parse_ctype(text)?, None)
    } else {
        (parse_ctype(type_text)?, Some(name.to_string()))
    };
    if array {
        ty.pointer_depth += 1; // Arrays decay to pointers in parameters.
    }
    Ok(Param { name, ty })
}

/// The text of the helper documentation block: from [`DOCS_START`] to the end of the comment.
fn helper_section(header: &str) -> &str {
    let Some(start) = header.find(DOCS_START) else {
        return "";
    };
    let rest = header.get(start..).unwrap_or_default();
    let end = rest.find("\n */").unwrap_or(rest.len());
    rest.get(..end).unwrap_or(rest)
}

/// Where a documentation line belongs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Description,
    Return,
}

/// Parses every documented helper in `bpf.h`.
fn parse_helper_docs(header: &str) -> Result<Vec<HelperDoc>, String> {
    let section_text = helper_section(header);
    if section_text.is_empty() {
        return Err(format!(
            "bpf.h has no `{DOCS_START}` block; is it the UAPI linux/bpf.h?"
        ));
    }
    let mut helpers: Vec<HelperDoc> = Vec::new();
    // Lines of the current helper's sections, blank lines as empty strings.
    let mut description: Vec<String> = Vec::new();
    let mut returns: Vec<String> = Vec::new();
    let mut section = Section::None;
    let mut pending_prototype: Option<String> = None;

    let finish =
        |helpers: &mut Vec<HelperDoc>, description: &mut Vec<String>, returns: &mut Vec<String>| {
            if let Some(last) = helpers.last_mut() {
                last.description = first_paragraph(description);
                last.returns = first_paragraph(returns);
            }
            description.clear();
            returns.clear();
        };

    for line in section_text.lines().skip(1) {
        let Some(body) = line.strip_prefix(" *") else {
            continue;
        };
        if let Some(prototype) = pending_prototype.as_mut() {
            // A prototype continued on the next line.
            prototype.push(' ');
            prototype.push_str(body.trim());
        } else if body.starts_with(' ') && body.chars().nth(1).is_some_and(|c| !c.is_whitespace()) {
            finish(&mut helpers, &mut description, &mut returns);
            section = Section::None;
            pending_prototype = Some(body.trim().to_string());
        } else {
            let text = body.trim();
            match (text, section) {
                ("Description", _) => section = Section::Description,
                ("Return", _) => section = Section::Return,
                (_, Section::Description) => description.push(text.to_string()),
                (_, Section::Return) => returns.push(text.to_string()),
                (_, Section::None) => {}
            }
            continue;
        }
        let prototype = pending_prototype.take().unwrap_or_default();
        if prototype.matches('(').count() > prototype.matches(')').count() {
            pending_prototype = Some(prototype);
            continue;
        }
        let (name, signature) = parse_prototype(&prototype)
            .map_err(|e| format!("bpf.h prototype `{prototype}`: {e}"))?;
        helpers.push(HelperDoc {
            name,
            prototype,
            signature,
            description: None,
            returns: None,
        });
    }
    if let Some(prototype) = pending_prototype {
        return Err(format!("bpf.h prototype `{prototype}` never closes"));
    }
    finish(&mut helpers, &mut description, &mut returns);
    Ok(helpers)
}

/// The first non-empty paragraph of documentation lines, converted to one line of Markdown.
/// When that paragraph only says the helper is overloaded, the next one (what this variant
/// does) is added.
fn first_paragraph(lines: &[String]) -> Option<String> {
    let mut paragraphs = lines
        .split(|line| line.is_empty())
        .filter(|paragraph| !paragraph.is_empty())
        .map(|paragraph| paragraph.join(" "));
    let mut text = paragraphs.next()?;
    if text.starts_with("Helper is overloaded") {
        if let Some(next) = paragraphs.next() {
            text.push(' ');
            text.push_str(&next);
        }
    }
    Some(rst_to_markdown(&text))
}

/// The header's prose is reStructuredText (for its man page). Its `*emphasis*` and `**strong**`
/// read the same in Markdown; what must change is the RST escape `\ ` (used to glue `()` to a
/// name), and the characters Markdown would read as links, HTML or autolinks.
fn rst_to_markdown(text: &str) -> String {
    let text = text.replace("\\ ", "");
    let mut words = Vec::new();
    for word in text.split_whitespace() {
        if word.starts_with("http://") || word.starts_with("https://") {
            let url = word.trim_end_matches(['.', ',', ';', ')']);
            let tail = word.get(url.len()..).unwrap_or_default();
            words.push(format!("<{url}>{tail}"));
            continue;
        }
        let mut escaped = String::with_capacity(word.len());
        for c in word.chars() {
            if matches!(c, '[' | ']' | '<' | '>') {
                escaped.push('\\');
            }
            escaped.push(c);
        }
        words.push(escaped);
    }
    words.join(" ")
}

/// Wraps Markdown text into lines of at most `width` characters (longer words stay whole). A
/// word Markdown would read as block syntax at the start of a line (`-`, `+`, `#`, `1.`, `|`...)
/// stays on the line before it.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut units: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        let starts_block = word.starts_with(['#', '>', '|', '='])
            || word.starts_with("```")
            || matches!(word, "-" | "+" | "*")
            || word.chars().all(|c| c == '-')
            || (word.ends_with(['.', ')'])
                && word.len() > 1
                && word
                    .get(..word.len() - 1)
                    .is_some_and(|digits| digits.chars().all(|c| c.is_ascii_digit())));
        // Breaking inside a code span would let its text be read as block syntax, and splits
        // C types such as `void *` where they are least readable.
        let in_code_span = units
            .iter()
            .map(|unit| unit.matches('`').count())
            .sum::<usize>()
            % 2
            == 1;
        match units.last_mut() {
            Some(last) if starts_block || in_code_span => {
                last.push(' ');
                last.push_str(word);
            }
            _ => units.push(word.to_string()),
        }
    }
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for unit in units {
        if !current.is_empty() && current.len() + 1 + unit.len() > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&unit);
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// The helper names and ids `bpf.h` lists in its mapper macro, in order.
fn parse_func_mapper(header: &str) -> Result<Vec<(String, u32)>, String> {
    // 6.2+ spells out ids: `FN(map_lookup_elem, 1, ##ctx)`; before, ids are positions: `FN(unspec)`.
    let start = header
        .find("#define ___BPF_FUNC_MAPPER(")
        .or_else(|| header.find("#define __BPF_FUNC_MAPPER("))
        .ok_or("bpf.h has no __BPF_FUNC_MAPPER")?;
    let mut entries = Vec::new();
    for line in header.get(start..).unwrap_or_default().lines().skip(1) {
        let trimmed = line.trim();
        if let Some(args) = trimmed.strip_prefix("FN(") {
            let args = args.split(')').next().unwrap_or_default();
            let mut parts = args.split(',').map(str::trim);
            let name = parts.next().unwrap_or_default();
            if !is_c_ident(name) {
                return Err(format!("bpf.h mapper entry `{trimmed}` has no helper name"));
            }
            let id = match parts.next() {
                Some(id) => id
                    .parse::<u32>()
                    .map_err(|e| format!("bpf.h mapper entry `{trimmed}`: id: {e}"))?,
                None => u32::try_from(entries.len())
                    .map_err(|_| "bpf.h mapper has too many entries".to_string())?,
            };
            entries.push((name.to_string(), id));
        }
        if !trimmed.ends_with('\\') {
            break;
        }
    }
    if entries.is_empty() {
        return Err("bpf.h mapper lists no helpers".to_string());
    }
    Ok(entries)
}

/// The helper names (without `BPF_FUNC_`) and ids of the kernel's `enum bpf_func_id`, by id.
fn kernel_func_ids(btf: &[u8]) -> Result<Vec<(String, u32)>, String> {
    let mut ids = if btf.starts_with(&[0x9f, 0xeb]) || btf.starts_with(&[0xeb, 0x9f]) {
        btf_enum_values(btf, "bpf_func_id")?
    } else {
        let text = std::str::from_utf8(btf)
            .map_err(|_| "the BTF input is neither raw BTF nor a C dump (vmlinux.h)")?;
        c_enum_values(text, "bpf_func_id")?
    };
    ids.retain(|(name, _)| !name.starts_with("__"));
    let mut helpers = Vec::new();
    for (name, value) in ids {
        let helper = name
            .strip_prefix("BPF_FUNC_")
            .ok_or_else(|| format!("enum bpf_func_id has `{name}`, not a BPF_FUNC_ name"))?;
        let id = u32::try_from(value).map_err(|_| format!("{name} = {value} is out of range"))?;
        helpers.push((helper.to_string(), id));
    }
    helpers.sort_by_key(|(_, id)| *id);
    if helpers.is_empty() {
        return Err("enum bpf_func_id is empty".to_string());
    }
    Ok(helpers)
}

/// The enumerators of `enum <name>` in a C header (as `bpftool btf dump ... format c` writes).
fn c_enum_values(text: &str, name: &str) -> Result<Vec<(String, i64)>, String> {
    let opening = format!("enum {name} {{");
    let start = text
        .find(&opening)
        .ok_or_else(|| format!("no `{opening}` in the BTF C dump"))?;
    let body = text.get(start + opening.len()..).unwrap_or_default();
    let body = body
        .get(..body.find('}').ok_or("unterminated enum")?)
        .unwrap_or_default();
    let mut values = Vec::new();
    let mut next = 0i64;
    for item in body
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        let (enumerator, value) = match item.split_once('=') {
            Some((enumerator, value)) => (
                enumerator.trim(),
                value
                    .trim()
                    .parse::<i64>()
                    .map_err(|e| format!("enum {name}: `{item}`: {e}"))?,
            ),
            None => (item, next),
        };
        next = value.saturating_add(1);
        values.push((enumerator.to_string(), value));
    }
    Ok(values)
}

/// BTF kinds this reader needs to step over or read.
const BTF_KIND_ENUM: u32 = 6;
const BTF_KIND_ENUM64: u32 = 19;

/// The enumerators of the enum named `name` in raw BTF.
fn btf_enum_values(btf: &[u8], name: &str) -> Result<Vec<(String, i64)>, String> {
    let little = btf.starts_with(&[0x9f, 0xeb]);
    let word = |offset: usize| -> Result<u32, String> {
        let bytes: [u8; 4] = btf
            .get(offset..offset.checked_add(4).ok_or("BTF offset overflows")?)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| format!("BTF is truncated at byte {offset}"))?;
        Ok(if little {
            u32::from_le_bytes(bytes)
        } else {
            u32::from_be_bytes(bytes)
        })
    };
    let to_usize = |v: u32| usize::try_from(v).map_err(|_| "BTF offset too large".to_string());
    let header_len = to_usize(word(4)?)?;
    let type_start = header_len
        .checked_add(to_usize(word(8)?)?)
        .ok_or("BTF type offset overflows")?;
    let type_end = type_start
        .checked_add(to_usize(word(12)?)?)
        .ok_or("BTF type length overflows")?;
    let str_start = header_len
        .checked_add(to_usize(word(16)?)?)
        .ok_or("BTF string offset overflows")?;
    let str_len = to_usize(word(20)?)?;
    let strings = btf
        .get(
            str_start
                ..str_start
                    .checked_add(str_len)
                    .ok_or("BTF strings overflow")?,
        )
        .ok_or("BTF string section is out of bounds")?;
    let string = |offset: u32| -> Result<&str, String> {
        let tail = strings
            .get(to_usize(offset)?..)
            .ok_or_else(|| format!("BTF string offset {offset} is out of bounds"))?;
        let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        std::str::from_utf8(tail.get(..end).unwrap_or_default())
            .map_err(|_| format!("BTF string at {offset} is not UTF-8"))
    };

    let mut offset = type_start;
    while offset < type_end {
        let name_off = word(offset)?;
        let info = word(offset + 4)?;
        let kind = (info >> 24) & 0x1f;
        let vlen = to_usize(info & 0xffff)?;
        let trailing = match kind {
            1 | 14 | 17 => 4,             // INT, VAR, DECL_TAG
            3 => 12,                      // ARRAY
            4 | 5 | 15 | 19 => vlen * 12, // STRUCT, UNION, DATASEC, ENUM64
            6 | 13 => vlen * 8,           // ENUM, FUNC_PROTO
            2 | 7..=12 | 16 | 18 => 0,    // PTR, FWD, TYPEDEF, qualifiers, FUNC, FLOAT, TYPE_TAG
            other => return Err(format!("unknown BTF kind {other} at byte {offset}")),
        };
        let members = offset + 12;
        if (kind == BTF_KIND_ENUM || kind == BTF_KIND_ENUM64) && string(name_off)? == name {
            let mut values = Vec::with_capacity(vlen);
            for index in 0..vlen {
                let value = if kind == BTF_KIND_ENUM {
                    let at = members + index * 8;
                    // Signedness is in kind_flag; helper ids are small and positive either way.
                    (
                        string(word(at)?)?.to_string(),
                        i64::from(word(at + 4)? as i32),
                    )
                } else {
                    let at = members + index * 12;
                    let low = u64::from(word(at + 4)?);
                    let high = u64::from(word(at + 8)?);
                    (string(word(at)?)?.to_string(), ((high << 32) | low) as i64)
                };
                values.push(value);
            }
            return Ok(values);
        }
        offset = members
            .checked_add(trailing)
            .ok_or("BTF type offset overflows")?;
    }
    Err(format!("the kernel BTF has no `enum {name}`"))
}

/// FNV-1a, 64 bits: a stable fingerprint with nothing but std.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `bpf.h` in miniature, in the 6.2+ style: explicit ids, an overloaded helper, a variadic
    /// one, a prototype split over two lines, and a helper (`old_gone`) the kernel below lacks.
    const HEADER: &str = "\
/* unrelated comment */
/*
 * Start of BPF helper function descriptions:
 *
 * void *bpf_map_lookup_elem(struct bpf_map *map, const void *key)
 * \tDescription
 * \t\tPerform a lookup in *map* for an entry associated to *key*.
 * \t\tSecond line of [the] first paragraph.
 *
 * \t\tSecond paragraph, not emitted.
 * \tReturn
 * \t\tMap value associated to *key*, or **NULL** if no entry was
 * \t\tfound.
 *
 * long bpf_trace_printk(const char *fmt, u32 fmt_size, ...)
 * \tDescription
 * \t\tA printk; see **bpf_probe_read_user**\\ () and https://example.invalid/doc.
 * \tReturn
 * \t\tThe number of bytes written.
 *
 * u64 bpf_get_socket_cookie(struct sk_buff *skb)
 * \tDescription
 * \t\tCookie of the socket of *skb*.
 * \tReturn
 * \t\tThe cookie.
 *
 * u64 bpf_get_socket_cookie(struct sock *sk)
 * \tDescription
 * \t\tCookie of *sk*.
 * \tReturn
 * \t\tThe cookie, or 0.
 *
 * long bpf_for_each_map_elem(struct bpf_map *map, long (*callback_fn)(u32 index, void *ctx), void *ctx,
 *\t\t\t     unsigned long *flags)
 * \tDescription
 * \t\tCalls *callback_fn* for every element.
 * \tReturn
 * \t\tThe number of elements visited.
 *
 * u64 bpf_ktime_get_ns(void)
 * \tDescription
 * \t\tTime since boot.
 * \tReturn
 * \t\tCurrent *ktime*.
 *
 * long bpf_old_gone(u32 type)
 * \tDescription
 * \t\tA helper this kernel no longer has.
 * \tReturn
 * \t\t0.
 */
#define ___BPF_FUNC_MAPPER(FN, ctx...)\t\t\\
\tFN(unspec, 0, ##ctx)\t\t\t\t\\
\tFN(map_lookup_elem, 1, ##ctx)\t\t\t\\
\tFN(ktime_get_ns, 5, ##ctx)\t\t\t\\
\tFN(trace_printk, 6, ##ctx)\t\t\t\\
\tFN(get_socket_cookie, 46, ##ctx)\t\t\\
\tFN(for_each_map_elem, 164, ##ctx)\t\t\\
\tFN(old_gone, 300, ##ctx)\t\t\t\\
\t/* */
";

    /// The kernel's ids for [`HEADER`]: no `old_gone`, and `brand_new`, which the header lacks.
    const KERNEL_IDS: &[(&str, i64)] = &[
        ("BPF_FUNC_unspec", 0),
        ("BPF_FUNC_map_lookup_elem", 1),
        ("BPF_FUNC_ktime_get_ns", 5),
        ("BPF_FUNC_trace_printk", 6),
        ("BPF_FUNC_get_socket_cookie", 46),
        ("BPF_FUNC_for_each_map_elem", 164),
        ("BPF_FUNC_brand_new", 212),
        ("__BPF_FUNC_MAX_ID", 213),
    ];

    /// Raw BTF holding an `int`, a one-member struct (to be stepped over), and `enum <name>`
    /// with `values`, as ENUM or ENUM64, in either byte order.
    fn raw_btf(name: &str, values: &[(&str, i64)], enum64: bool, little: bool) -> Vec<u8> {
        let mut strings = vec![0u8];
        let mut add_string = |s: &str| {
            let offset = strings.len() as u32;
            strings.extend_from_slice(s.as_bytes());
            strings.push(0);
            offset
        };
        let int_name = add_string("int");
        let struct_name = add_string("pair");
        let member_name = add_string("first");
        let enum_name = add_string(name);
        let enumerators: Vec<(u32, i64)> =
            values.iter().map(|(n, v)| (add_string(n), *v)).collect();
        let mut types: Vec<u32> = vec![
            int_name,
            1 << 24,
            4,
            32, // INT, 32 bits
            struct_name,
            (4 << 24) | 1,
            4,
            member_name,
            1,
            0, // STRUCT { int first; }
        ];
        let kind = if enum64 { 19 } else { 6 };
        types.extend([
            enum_name,
            (kind << 24) | values.len() as u32,
            if enum64 { 8 } else { 4 },
        ]);
        for (name_off, value) in enumerators {
            types.push(name_off);
            types.push(value as u32);
            if enum64 {
                types.push((value >> 32) as u32);
            }
        }
        let word = |v: u32| {
            if little {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        };
        let type_len = (types.len() * 4) as u32;
        let mut btf = Vec::new();
        btf.extend_from_slice(&if little {
            0xeb9fu16.to_le_bytes()
        } else {
            0xeb9fu16.to_be_bytes()
        });
        btf.extend_from_slice(&[1, 0]);
        for v in [24, 0, type_len, type_len, strings.len() as u32] {
            btf.extend_from_slice(&word(v));
        }
        for v in types {
            btf.extend_from_slice(&word(v));
        }
        btf.extend_from_slice(&strings);
        btf
    }

    fn kernel_btf() -> Vec<u8> {
        raw_btf("bpf_func_id", KERNEL_IDS, false, true)
    }

    fn rust_type(c: &str) -> Result<String, String> {
        parse_ctype(c)?.to_rust(&mut BTreeSet::new())
    }

    #[test]
    fn c_types_map_to_rust() {
        for (c, rust) in [
            ("u64", "u64"),
            ("__u64", "u64"),
            ("long", "i64"),
            ("int", "i32"),
            ("s32", "i32"),
            ("__be16", "u16"),
            ("__wsum", "u32"),
            ("size_t", "u64"),
            ("void *", "*mut c_void"),
            ("const void *", "*const c_void"),
            ("char *", "*mut c_char"),
            ("const char *", "*const c_char"),
            ("unsigned long *", "*mut u64"),
            ("__be32 *", "*mut u32"),
            ("struct bpf_map *", "*mut bpf_map"),
            ("const struct bpf_dynptr *", "*const bpf_dynptr"),
            ("void **", "*mut *mut c_void"),
            ("void * const", "*mut c_void"),
        ] {
            assert_eq!(rust_type(c).as_deref(), Ok(rust), "{c}");
        }
        let mut records = BTreeSet::new();
        let ty = parse_ctype("struct sk_buff *").and_then(|t| t.to_rust(&mut records));
        assert_eq!(ty.as_deref(), Ok("*mut sk_buff"));
        assert!(
            records.contains("sk_buff"),
            "pointed-at structs get an opaque declaration"
        );
    }

    #[test]
    fn unmappable_c_types_are_errors_not_guesses() {
        assert!(rust_type("foo_t").unwrap_err().contains("foo_t"));
        assert!(rust_type("struct sk_buff")
            .unwrap_err()
            .contains("by value"));
        assert!(rust_type("void").is_err());
        assert!(rust_type("").is_err());
    }

    #[test]
    fn prototypes_parse_including_varargs_function_pointers_and_arrays() {
        let (name, signature) = parse_prototype(
            "long bpf_map_update_elem(struct bpf_map *map, const void *key, const void *value, u64 flags)",
        )
        .unwrap();
        assert_eq!(name, "map_update_elem");
        assert_eq!(signature.params.len(), 4);
        assert_eq!(signature.params[3].name.as_deref(), Some("flags"));
        assert_eq!(signature.params[1].ty, parse_ctype("const void *").unwrap());
        assert!(!signature.variadic);

        let (_, printk) =
            parse_prototype("long bpf_trace_printk(const char *fmt, u32 fmt_size, ...)").unwrap();
        assert!(printk.variadic);
        assert_eq!(printk.params.len(), 2);

        let (name, none) = parse_prototype("u64 bpf_ktime_get_ns(void)").unwrap();
        assert_eq!(name, "ktime_get_ns");
        assert!(none.params.is_empty());

        let (_, callback) =
            parse_prototype("long bpf_loop(u32 nr_loops, long (*callback_fn)(u32 index, void *ctx), void *ctx, u64 flags)")
                .unwrap();
        assert_eq!(callback.params.len(), 4);
        assert_eq!(callback.params[1].name.as_deref(), Some("callback_fn"));
        assert_eq!(callback.params[1].ty.base, Base::Function);

        let (_, unnamed) = parse_prototype("u32 bpf_x(u32, unsigned long, u8 bytes[16])").unwrap();
        assert_eq!(unnamed.params[0].name, None);
        assert_eq!(unnamed.params[1].ty.base, Base::Integer("u64"));
        assert_eq!(unnamed.params[2].ty.pointer_depth, 1);

        assert!(parse_prototype("long not_a_helper(u32 x)").is_err());
        assert!(parse_prototype("long bpf_broken(u32 x").is_err());
    }

    #[test]
    fn the_doc_block_yields_prototypes_and_first_paragraphs() {
        let docs = parse_helper_docs(HEADER).unwrap();
        let names: Vec<&str> = docs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "map_lookup_elem",
                "trace_printk",
                "get_socket_cookie",
                "get_socket_cookie",
                "for_each_map_elem",
                "ktime_get_ns",
                "old_gone"
            ]
        );
        let lookup = &docs[0];
        assert_eq!(
            lookup.description.as_deref(),
            Some("Perform a lookup in *map* for an entry associated to *key*. Second line of \\[the\\] first paragraph.")
        );
        assert_eq!(
            lookup.returns.as_deref(),
            Some("Map value associated to *key*, or **NULL** if no entry was found.")
        );
        assert_eq!(
            docs[1].description.as_deref(),
            Some("A printk; see **bpf_probe_read_user**() and <https://example.invalid/doc>.")
        );
        let split = &docs[4];
        assert!(
            split
                .prototype
                .ends_with("void *ctx, unsigned long *flags)"),
            "{}",
            split.prototype
        );
        assert_eq!(split.signature.params.len(), 4);
    }

    #[test]
    fn a_header_without_the_doc_block_is_rejected() {
        assert!(parse_helper_docs("#define X 1\n")
            .unwrap_err()
            .contains(DOCS_START));
    }

    #[test]
    fn the_mapper_gives_ids_in_both_header_styles() {
        let explicit = parse_func_mapper(HEADER).unwrap();
        assert_eq!(explicit.get(1), Some(&("map_lookup_elem".to_string(), 1)));
        assert_eq!(explicit.last(), Some(&("old_gone".to_string(), 300)));
        // Before 6.2 the ids are positions.
        let positional = parse_func_mapper(
            "#define __BPF_FUNC_MAPPER(FN)\t\\\n\tFN(unspec),\t\\\n\tFN(map_lookup_elem),\t\\\n\tFN(map_update_elem),\t\\\n\t/* */\n#define OTHER(FN) FN(nope),\n",
        )
        .unwrap();
        let expected: Vec<(String, u32)> = [
            ("unspec", 0),
            ("map_lookup_elem", 1),
            ("map_update_elem", 2),
        ]
        .iter()
        .map(|(n, i)| (n.to_string(), *i))
        .collect();
        assert_eq!(positional, expected);
        assert!(parse_func_mapper("nothing here").is_err());
    }

    #[test]
    fn raw_btf_enums_are_read_in_both_byte_orders_and_widths() {
        let values = [("A", 0), ("B", 7), ("C", -1)];
        for (enum64, little) in [(false, true), (false, false), (true, true), (true, false)] {
            let btf = raw_btf("letters", &values, enum64, little);
            let read = btf_enum_values(&btf, "letters").unwrap();
            let expected: Vec<(String, i64)> =
                values.iter().map(|(n, v)| (n.to_string(), *v)).collect();
            assert_eq!(read, expected, "enum64 {enum64}, little {little}");
            assert!(btf_enum_values(&btf, "absent")
                .unwrap_err()
                .contains("absent"));
        }
    }

    #[test]
    fn truncated_btf_is_an_error_not_a_panic() {
        let btf = kernel_btf();
        for len in 0..btf.len() {
            let truncated = btf.get(..len).unwrap();
            // Too short to hold the enum: every prefix must fail cleanly.
            assert!(kernel_func_ids(truncated).is_err(), "prefix of {len} bytes");
        }
    }

    #[test]
    fn kernel_ids_come_from_raw_btf_or_its_c_dump() {
        let from_raw = kernel_func_ids(&kernel_btf()).unwrap();
        let dump = "enum other { X = 1 };\nenum bpf_func_id {\n\tBPF_FUNC_unspec = 0,\n\tBPF_FUNC_map_lookup_elem = 1,\n\tBPF_FUNC_ktime_get_ns = 5,\n\tBPF_FUNC_trace_printk = 6,\n\tBPF_FUNC_get_socket_cookie = 46,\n\tBPF_FUNC_for_each_map_elem = 164,\n\tBPF_FUNC_brand_new = 212,\n\t__BPF_FUNC_MAX_ID = 213,\n};\n";
        let from_dump = kernel_func_ids(dump.as_bytes()).unwrap();
        assert_eq!(from_raw, from_dump);
        assert_eq!(from_raw.first(), Some(&("unspec".to_string(), 0)));
        assert_eq!(from_raw.last(), Some(&("brand_new".to_string(), 212)));
        assert!(!from_raw.iter().any(|(name, _)| name.contains("MAX")));
    }

    #[test]
    fn generation_follows_the_kernel_and_types_what_the_header_documents() {
        let generated = generate(HEADER, &kernel_btf()).unwrap();
        let source = &generated.source;
        assert!(source.contains("pub const BPF_FUNC_map_lookup_elem: u32 = 1;"));
        assert!(source.contains(
            "pub unsafe fn bpf_map_lookup_elem(map: *mut bpf_map, key: *const c_void) -> *mut c_void {"
        ));
        assert!(source.contains("core::mem::transmute(1usize)"));
        assert!(source.contains("pub unsafe fn bpf_ktime_get_ns() -> u64 {"));
        // Varargs become u64 registers up to five arguments.
        assert!(source.contains(
            "pub unsafe fn bpf_trace_printk(fmt: *const c_char, fmt_size: u32, arg3: u64, arg4: u64, arg5: u64) -> i64 {"
        ));
        // Overloads differing in the context pointer take an untyped pointer.
        assert!(source.contains("pub unsafe fn bpf_get_socket_cookie(arg1: *mut c_void) -> u64 {"));
        assert!(source.contains("Variant `u64 bpf_get_socket_cookie(struct sock *sk)`"));
        // Function pointers are addresses.
        assert!(source.contains(
            "pub unsafe fn bpf_for_each_map_elem(map: *mut bpf_map, callback_fn: *mut c_void, ctx: *mut c_void, flags: *mut u64) -> i64 {"
        ));
        // In the kernel, not documented: untyped. Documented, not in the kernel: left out.
        assert!(source.contains("pub const BPF_FUNC_brand_new: u32 = 212;"));
        assert!(source.contains(
            "pub unsafe fn bpf_brand_new(arg1: u64, arg2: u64, arg3: u64, arg4: u64, arg5: u64) -> u64 {"
        ));
        assert!(!source.contains("fn bpf_old_gone"));
        assert!(source.contains("left out: old_gone"));
        assert!(!source.contains("fn bpf_unspec"));
        assert!(source.contains("pub struct bpf_map {"));
        // Only records a binding still names are declared: the merged overloads name none.
        assert!(!source.contains("pub struct sk_buff") && !source.contains("pub struct sock "));
        assert_eq!(
            generated.summary,
            "6 helpers, 5 typed, 1 untyped (brand_new (212))"
        );
    }

    #[test]
    fn generation_is_deterministic_and_tracks_its_inputs() {
        let once = generate(HEADER, &kernel_btf()).unwrap();
        let twice = generate(HEADER, &kernel_btf()).unwrap();
        assert_eq!(once.source, twice.source);
        let mut other_ids = KERNEL_IDS.to_vec();
        other_ids.push(("BPF_FUNC_newer", 213));
        let other = generate(HEADER, &raw_btf("bpf_func_id", &other_ids, false, true)).unwrap();
        assert_ne!(once.fingerprint, other.fingerprint);
        assert!(once
            .source
            .contains(&format!("{FINGERPRINT_PREFIX}{}", once.fingerprint)));
    }

    #[test]
    fn a_header_disagreeing_with_the_kernel_on_an_id_is_rejected() {
        let mut ids = KERNEL_IDS.to_vec();
        ids[1] = ("BPF_FUNC_map_lookup_elem", 2);
        let error = generate(HEADER, &raw_btf("bpf_func_id", &ids, false, true)).unwrap_err();
        assert!(
            error.contains("map_lookup_elem") && error.contains("id 1"),
            "{error}"
        );
    }

    #[test]
    fn doc_wrapping_never_starts_a_line_with_block_syntax_or_splits_code() {
        let text = "a list - like dash, 1. numbered # hash > quote and `void *` with `long x(u32 a, u64 b)` end";
        for width in 1..40 {
            for line in wrap(text, width) {
                assert!(
                    !(line.starts_with("- ")
                        || line.starts_with("1. ")
                        || line.starts_with('#')
                        || line.starts_with('>')),
                    "width {width}: {line:?}"
                );
                assert_eq!(line.matches('`').count() % 2, 0, "width {width}: {line:?}");
            }
        }
        assert_eq!(wrap("one two three", 7), ["one two", "three"]);
    }

    #[test]
    fn arguments_parse() {
        let args =
            |list: &[&str]| parse_args(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            args(&[]),
            Ok(Options {
                bpf_h: PathBuf::from(DEFAULT_BPF_H),
                btf: PathBuf::from(DEFAULT_BTF),
                check: false
            })
        );
        assert_eq!(
            args(&["--bpf-h", "a.h", "--btf", "b", "--check"]),
            Ok(Options {
                bpf_h: PathBuf::from("a.h"),
                btf: PathBuf::from("b"),
                check: true
            })
        );
        assert!(args(&["--btf"]).is_err());
        assert!(args(&["--frobnicate"]).is_err());
    }

    #[test]
    fn check_fails_on_a_stale_file_and_defers_on_other_inputs() {
        let dir = crate::TempDir::new("helpers-check").unwrap();
        let path = dir.path.join("generated.rs");
        let current = format!("{FINGERPRINT_PREFIX}abc\nfn a() {{}}\n");
        std::fs::write(&path, &current).unwrap();
        assert!(check(&path, &current, "abc").is_ok());
        let error = check(
            &path,
            &format!("{FINGERPRINT_PREFIX}abc\nfn b() {{}}\n"),
            "abc",
        )
        .unwrap_err();
        assert!(
            error.contains("stale") && error.contains("line 2"),
            "{error}"
        );
        // Generated here from another header or kernel: not comparable, so not a failure.
        assert!(check(
            &path,
            &format!("{FINGERPRINT_PREFIX}xyz\nfn b() {{}}\n"),
            "xyz"
        )
        .is_ok());
        assert!(check(&dir.path.join("missing.rs"), &current, "abc").is_err());
    }

    /// Compiles `generated` as a module of a `#![no_std]` library for the host, warnings denied.
    fn compile_for_host(label: &str, generated: &str) -> Result<(), String> {
        let dir = crate::TempDir::new(label)?;
        std::fs::write(dir.path.join("generated.rs"), generated).map_err(|e| e.to_string())?;
        std::fs::write(dir.path.join("lib.rs"), "#![no_std]\npub mod generated;\n")
            .map_err(|e| e.to_string())?;
        let output = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string()))
            .args([
                "--edition",
                "2021",
                "--crate-type",
                "lib",
                "-D",
                "warnings",
                "--out-dir",
            ])
            .arg(&dir.path)
            .arg(dir.path.join("lib.rs"))
            .output()
            .map_err(|e| format!("running rustc: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    #[test]
    fn generated_code_from_the_miniature_header_compiles_as_no_std() {
        let generated = generate(HEADER, &kernel_btf()).unwrap();
        let formatted = rustfmt(&generated.source, &crate::workspace_root()).unwrap();
        compile_for_host("helpers-mini", &formatted).unwrap();
    }

    fn committed_bindings() -> String {
        let path = crate::workspace_root().join(OUTPUT);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    }

    #[test]
    fn the_committed_bindings_compile_as_no_std_on_the_host() {
        compile_for_host("helpers-committed", &committed_bindings()).unwrap();
    }

    /// Every `bpf_<name>` in the committed file with its argument count and `BPF_FUNC_<name>` id.
    fn committed_helpers(source: &str) -> Vec<(String, usize, u32)> {
        let mut ids = BTreeMap::new();
        for line in source.lines() {
            if let Some(rest) = line.strip_prefix("pub const BPF_FUNC_") {
                let (name, id) = rest.split_once(": u32 = ").unwrap();
                ids.insert(
                    name.to_string(),
                    id.trim_end_matches(';').parse::<u32>().unwrap(),
                );
            }
        }
        let mut helpers = Vec::new();
        for (index, _) in source.match_indices("pub unsafe fn bpf_") {
            let rest = &source[index + "pub unsafe fn bpf_".len()..];
            let open = rest.find('(').unwrap();
            let name = &rest[..open];
            let close = open + rest[open..].find(')').unwrap();
            let arity = rest[open..close].matches(':').count();
            helpers.push((name.to_string(), arity, ids[name]));
        }
        assert_eq!(helpers.len(), ids.len(), "one function per id constant");
        helpers
    }

    #[test]
    fn the_committed_bindings_call_each_helper_by_its_id_on_bpf() {
        const TEST: &str = "the_committed_bindings_call_each_helper_by_its_id_on_bpf";
        let sysroot = Command::new("rustc")
            .args(["+nightly", "--print", "sysroot"])
            .env_remove("RUSTUP_TOOLCHAIN")
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
        let has_rust_src = sysroot
            .as_ref()
            .is_some_and(|root| root.join("lib/rustlib/src/rust/library/core").is_dir());
        if !has_rust_src {
            assert!(
                std::env::var("BPFKIT_REQUIRE_EBPF_TOOLCHAIN").as_deref() != Ok("1"),
                "{TEST}: needs the nightly toolchain with rust-src"
            );
            println!("skipped: {TEST}: needs the nightly toolchain with rust-src");
            return;
        }
        let source = committed_bindings();
        let helpers = committed_helpers(&source);
        let dir = crate::TempDir::new("helpers-bpf").unwrap();
        std::fs::create_dir_all(dir.path.join("src")).unwrap();
        std::fs::write(dir.path.join("src/generated.rs"), &source).unwrap();
        std::fs::write(
            dir.path.join("Cargo.toml"),
            "[package]\nname = \"helpers-bpf-check\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             [workspace]\n[profile.release]\npanic = \"abort\"\n",
        )
        .unwrap();
        // One probe per helper, calling it with zeroed arguments; each must become `call <id>`.
        let mut lib = String::from("#![no_std]\npub mod generated;\n");
        for (name, arity, _) in &helpers {
            let args = vec!["core::mem::zeroed()"; *arity].join(", ");
            let _ = writeln!(
                lib,
                "#[no_mangle]\npub fn probe_{name}() {{ unsafe {{ let _ = generated::bpf_{name}({args}); }} }}"
            );
        }
        std::fs::write(dir.path.join("src/lib.rs"), lib).unwrap();
        let output = Command::new("cargo")
            .args([
                "+nightly",
                "rustc",
                "--release",
                "--target",
                "bpfel-unknown-none",
                "-Z",
                "build-std=core",
            ])
            .args(["--", "--emit=asm", "-D", "warnings"])
            .current_dir(&dir.path)
            .env("CARGO_TARGET_DIR", dir.path.join("target"))
            .env_remove("RUSTUP_TOOLCHAIN")
            .env_remove("RUSTC")
            .env_remove("RUSTC_WRAPPER")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let deps = dir.path.join("target/bpfel-unknown-none/release/deps");
        let asm_path = std::fs::read_dir(&deps)
            .unwrap()
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .find(|path| path.extension().is_some_and(|ext| ext == "s"))
            .expect("rustc wrote no assembly");
        let asm = std::fs::read_to_string(asm_path).unwrap();
        for (name, _, id) in &helpers {
            let label = format!("\nprobe_{name}:\n");
            let start = asm
                .find(&label)
                .unwrap_or_else(|| panic!("no probe_{name} in the assembly"));
            let body = &asm[start + label.len()..];
            let body = &body[..body.find("\n\texit").unwrap_or(body.len())];
            let calls: Vec<&str> = body
                .lines()
                .filter(|line| line.trim_start().starts_with("call "))
                .collect();
            assert_eq!(calls, [format!("\tcall {id}")], "bpf_{name}");
        }
    }
}
