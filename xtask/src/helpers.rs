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
                options.btf = rest
                    .next()
                    .map(PathBuf::from)
                    .ok_or("--btf needs a path")?;
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
    std::fs::write(&output, formatted)
        .map_err(|e| format!("writing {}: {e}", output.display()))?;
    println!("{}: {}", OUTPUT, generated.summary);
    Ok(())
}

/// Compares the committed file with what the inputs generate now.
fn check(output: &Path, formatted: &str, fingerprint: &str) -> Result<(), String> {
    let committed = std::fs::read_to_string(output)
        .map_err(|e| format!("reading {}: {e} (run `gen-helpers` to create it)", output.display()))?;
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
            format!("first difference at line {}:\n  committed: {old}\n  generated: {new}", index + 1)
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
         {} helpers (highest id {highest}): {typed} with their documented signature, {} \
         untyped because `bpf.h` does not document them{}.{}",
        typed + untyped.len(),
        untyped.len(),
        if untyped.is_empty() {
            String::new()
        } else {
            format!(" ({})", untyped.join(", "))
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
    let docs = [format!(
        "The kernel knows this helper, but the `bpf.h` these bindings were generated from does \
         not document it, so its signature is untyped: pass every argument as a `u64` (the \
         kernel ignores the ones past the helper's own count) and read the result as a `u64`. \
         See the helper's documentation in a newer `include/uapi/linux/bpf.h`."
    )];
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
        let innermost = if self.const_pointee { "*const " } else { "*mut " };
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
            return Err(format!("`{name}` mixed with `{}` in `{text}`", words.join(" ")))
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
    let close = line.rfind(')').filter(|&close| close > open).ok_or("no `)`")?;
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
        && type_words
            .iter()
            .all(|w| matches!(*w, "const" | "volatile" | "struct" | "union" | "enum" | "unsigned" | "signed"));
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
        return Err(format!("bpf.h has no `{DOCS_START}` block; is it the UAPI linux/bpf.h?"));
    }
    let mut helpers: Vec<HelperDoc> = Vec::new();
    // Lines of the current helper's sections, blank lines as empty strings.
    let mut description: Vec<String> = Vec::new();
    let mut returns: Vec<String> = Vec::new();
    let mut section = Section::None;
    let mut pending_prototype: Option<String> = None;

    let finish = |helpers: &mut Vec<HelperDoc>,
                  description: &mut Vec<String>,
                  returns: &mut Vec<String>| {
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
        } else if body.starts_with(' ') && body.chars().nth(1).is_some_and(|c| !c.is_whitespace())
        {
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
        let in_code_span = units.iter().map(|unit| unit.matches('`').count()).sum::<usize>() % 2 == 1;
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
    let body = body.get(..body.find('}').ok_or("unterminated enum")?).unwrap_or_default();
    let mut values = Vec::new();
    let mut next = 0i64;
    for item in body.split(',').map(str::trim).filter(|item| !item.is_empty()) {
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
        .get(str_start..str_start.checked_add(str_len).ok_or("BTF strings overflow")?)
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
            1 | 14 | 17 => 4,                   // INT, VAR, DECL_TAG
            3 => 12,                            // ARRAY
            4 | 5 | 15 | 19 => vlen * 12,       // STRUCT, UNION, DATASEC, ENUM64
            6 | 13 => vlen * 8,                 // ENUM, FUNC_PROTO
            2 | 7..=12 | 16 | 18 => 0,          // PTR, FWD, TYPEDEF, qualifiers, FUNC, FLOAT, TYPE_TAG
            other => return Err(format!("unknown BTF kind {other} at byte {offset}")),
        };
        let members = offset + 12;
        if (kind == BTF_KIND_ENUM || kind == BTF_KIND_ENUM64) && string(name_off)? == name {
            let mut values = Vec::with_capacity(vlen);
            for index in 0..vlen {
                let value = if kind == BTF_KIND_ENUM {
                    let at = members + index * 8;
                    // Signedness is in kind_flag; helper ids are small and positive either way.
                    (string(word(at)?)?.to_string(), i64::from(word(at + 4)? as i32))
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
