//! Resolving an object's externs against the running kernel, the way libbpf does
//! (`bpf_object__resolve_externs`).
//!
//! - `.kconfig` externs become the contents of the read-only `.kconfig` map: the virtual
//!   `LINUX_KERNEL_VERSION`, `LINUX_HAS_BPF_COOKIE` and `LINUX_HAS_SYSCALL_WRAPPER`, then values set
//!   with [`crate::EbpfLoader::set_kconfig`], then the kernel's own configuration
//!   (`/boot/config-$(uname -r)`, else `/proc/config.gz`). Values convert as libbpf converts them
//!   ([`KconfigType`]).
//! - `.ksyms` externs: typed variables and kfuncs become kernel BTF ids (their types checked for
//!   compatibility), typeless symbols become addresses from `/proc/kallsyms`.
//!
//! Weak externs the kernel lacks are zero (a weak kfunc call is poisoned, so it fails only if the
//! verifier finds it reachable); a strong one is an [`ExternError`] naming it.

mod inflate;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use bpfkit_obj::btf::{Btf, BtfKind};
use bpfkit_obj::externs::types_are_compatible;
use bpfkit_obj::{Extern, ExternKind, KconfigExtern, KconfigType, KsymKind, Object};

pub use inflate::{gunzip, InflateError};

/// Errors resolving externs.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ExternError {
    /// A strong (non-`__weak`) extern the kernel does not provide.
    #[error("extern `{name}` ({section}) is not resolved: {reason}; declare it __weak to accept its absence")]
    Unresolved {
        /// The extern's name.
        name: String,
        /// `.kconfig` or `.ksyms`.
        section: &'static str,
        /// Where it was looked for.
        reason: String,
    },
    /// A Kconfig value that does not fit the extern's C type.
    #[error("extern `{name}` (.kconfig): value `{value}` {reason}")]
    KconfigValue {
        /// The extern's name.
        name: String,
        /// The value as written.
        value: String,
        /// Why it does not fit.
        reason: String,
    },
    /// A `.kconfig` extern that is neither `CONFIG_*` nor a known `LINUX_*` name (libbpf accepts
    /// unknown `LINUX_*` names only when weak).
    #[error("extern `{name}` (.kconfig): unknown virtual extern (only CONFIG_*, LINUX_KERNEL_VERSION, LINUX_HAS_BPF_COOKIE and LINUX_HAS_SYSCALL_WRAPPER are filled)")]
    UnknownVirtual {
        /// The extern's name.
        name: String,
    },
    /// A malformed line in the kernel configuration or in an override.
    #[error("kernel config {source_name}: cannot parse `{line}`: {reason}")]
    ConfigSyntax {
        /// The file, or "override".
        source_name: String,
        /// The line.
        line: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The kernel configuration file exists but cannot be read.
    #[error("kernel config `{path}`: {message}")]
    ConfigUnreadable {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Kernel BTF is needed (typed ksyms, kfuncs) and cannot be read.
    #[error("extern `{name}` (.ksyms) needs kernel BTF: {source}")]
    KernelBtf {
        /// The extern that needed it.
        name: String,
        /// Why kernel BTF is unavailable.
        #[source]
        source: crate::btf::KernelBtfError,
    },
    /// A typed ksym or kfunc whose declared type does not match the kernel's.
    #[error("extern `{name}` (.ksyms): its declared type is incompatible with kernel BTF {kind} [{kernel_id}]")]
    Incompatible {
        /// The extern's name.
        name: String,
        /// "variable" or "function".
        kind: &'static str,
        /// The kernel BTF id it was compared with.
        kernel_id: u32,
    },
    /// The object's BTF is malformed where an extern is described.
    #[error("extern `{name}`: {message}")]
    Btf {
        /// The extern's name.
        name: String,
        /// The BTF error.
        message: String,
    },
    /// `/proc/kallsyms` lists a typeless ksym at two addresses.
    #[error("extern `{name}` (.ksyms): /proc/kallsyms has it at {first:#x} and {second:#x}")]
    Ambiguous {
        /// The extern's name.
        name: String,
        /// One address.
        first: u64,
        /// Another.
        second: u64,
    },
    /// `/proc/kallsyms` cannot be read, or shows only zero addresses (not root, or
    /// `kernel.kptr_restrict` hides them).
    #[error("/proc/kallsyms: {0}")]
    Kallsyms(String),
}

/// What a `.ksyms` extern resolved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KsymValue {
    /// A `VAR` or `FUNC` id in vmlinux BTF.
    BtfId(u32),
    /// An address from `/proc/kallsyms`.
    Address(u64),
    /// A weak extern the kernel lacks: zero, and poisoned calls.
    Absent,
}

/// An object's externs, resolved.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResolvedExterns {
    /// Contents of the `.kconfig` map; `None` when the object has no `.kconfig` externs.
    pub kconfig: Option<Vec<u8>>,
    /// Each `.ksyms` extern by name.
    pub ksyms: HashMap<String, KsymValue>,
}

/// `KERNEL_VERSION(a, b, c)` as the kernel's `LINUX_VERSION_CODE` encodes it (the patch level is
/// capped at 255, as the kernel's own macro does since 4.14.256 and 4.9.256).
pub fn kernel_version_code(major: u32, minor: u32, patch: u32) -> u32 {
    (major << 16) + (minor << 8) + patch.min(255)
}

/// The running kernel's `LINUX_KERNEL_VERSION`: Ubuntu's `/proc/version_signature` when present
/// (its `uname` release does not carry the upstream patch level), else `uname -r`.
pub fn running_kernel_version_code() -> u32 {
    if let Ok(signature) = std::fs::read_to_string("/proc/version_signature") {
        // "Ubuntu 5.15.0-91.101-generic 5.15.131"
        if let Some(upstream) = signature.split_whitespace().nth(2) {
            let (a, b, c) = parse_version(upstream);
            if a > 0 {
                return kernel_version_code(a, b, c);
            }
        }
    }
    let (a, b, c) = crate::features::kernel_version();
    kernel_version_code(a, b, c)
}

fn parse_version(text: &str) -> (u32, u32, u32) {
    let mut parts = text
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().ok());
    let mut next = || parts.next().flatten().unwrap_or(0);
    (next(), next(), next())
}

/// Whether the kernel has `bpf_get_attach_cookie` (5.15), probed once per process by loading a
/// tracepoint program that calls it (libbpf's `LINUX_HAS_BPF_COOKIE` probe).
pub fn kernel_has_bpf_cookie() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        use bpfkit_obj::insn::Insn;
        const BPF_FUNC_GET_ATTACH_COOKIE: i32 = 174;
        let call = Insn {
            code: 0x85,
            regs: 0,
            off: 0,
            imm: BPF_FUNC_GET_ATTACH_COOKIE,
        };
        let exit = Insn {
            code: 0x95,
            regs: 0,
            off: 0,
            imm: 0,
        };
        let insns = [call, exit];
        crate::sys::prog_load(&crate::sys::ProgLoad {
            prog_type: bpfkit_obj::uapi::prog_type::BPF_PROG_TYPE_TRACEPOINT,
            insns: &insns,
            license: "GPL",
            name: "probe_cookie",
            ..Default::default()
        })
        .is_ok()
    })
}

/// The prefix the architecture gives syscall entry points (`__x64_sys_bpf`), as libbpf lists them.
fn syscall_prefix() -> Option<&'static str> {
    match std::env::consts::ARCH {
        "x86_64" => Some("x64"),
        "x86" => Some("ia32"),
        "s390x" => Some("s390x"),
        "arm" => Some("arm"),
        "aarch64" => Some("arm64"),
        "mips" | "mips64" => Some("mips"),
        "riscv64" | "riscv32" => Some("riscv"),
        "powerpc" => Some("powerpc"),
        "powerpc64" => Some("powerpc64"),
        _ => None,
    }
}

/// Whether syscalls enter through per-architecture wrappers taking `struct pt_regs *` (4.17 on
/// x86-64), which changes how a kprobe on a syscall reads its arguments. Detected from kernel
/// BTF (a `__<arch>_sys_bpf` function), falling back to `/proc/kallsyms`; cached per process.
pub fn kernel_has_syscall_wrapper() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        let Some(prefix) = syscall_prefix() else {
            return false;
        };
        let name = format!("__{prefix}_sys_bpf");
        if let Ok(btf) = crate::btf::kernel_btf() {
            return btf.find_by_name_kind(&name, BtfKind::Func).is_some();
        }
        std::fs::read_to_string("/proc/kallsyms").is_ok_and(|text| {
            text.lines()
                .any(|line| line.split_whitespace().nth(2) == Some(name.as_str()))
        })
    })
}

/// Resolves every extern of `object`. `overrides` are `(CONFIG_NAME, value)` pairs written as in
/// a kernel config (`y`, `m`, `n`, a number, a quoted string); they win over the kernel's config.
pub(crate) fn resolve(
    object: &Object,
    overrides: &[(String, String)],
) -> Result<ResolvedExterns, ExternError> {
    let externs = object.externs();
    let mut resolved = ResolvedExterns::default();
    if let Some(kconfig_map) = object
        .maps
        .iter()
        .find(|m| m.kind == bpfkit_obj::MapKind::Kconfig)
    {
        let mut data = vec![0u8; kconfig_map.value_size as usize];
        fill_kconfig(externs, overrides, &mut data, read_kernel_config)?;
        resolved.kconfig = Some(data);
    }
    if externs
        .iter()
        .any(|e| matches!(e.kind, ExternKind::Ksym(_)))
    {
        resolved.ksyms = resolve_ksyms(object)?;
    }
    Ok(resolved)
}

/// The running kernel's configuration text, and where it came from; `None` when the machine has
/// neither file.
fn read_kernel_config() -> Result<Option<(String, String)>, ExternError> {
    let unreadable = |path: &str, message: String| ExternError::ConfigUnreadable {
        path: PathBuf::from(path),
        message,
    };
    if let Ok(release) = crate::sys::kernel_release() {
        let path = format!("/boot/config-{release}");
        if let Ok(text) = std::fs::read(&path) {
            return Ok(Some((String::from_utf8_lossy(&text).into_owned(), path)));
        }
    }
    let path = "/proc/config.gz";
    match std::fs::read(path) {
        Ok(compressed) => {
            let text = gunzip(&compressed).map_err(|e| unreadable(path, e.to_string()))?;
            Ok(Some((
                String::from_utf8_lossy(&text).into_owned(),
                path.to_string(),
            )))
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(unreadable(path, err.to_string())),
    }
}

/// Fills the `.kconfig` map value: virtual externs, then overrides, then the kernel config
/// (read through `read_config` only when a `CONFIG_` extern is still unset).
fn fill_kconfig(
    externs: &[Extern],
    overrides: &[(String, String)],
    data: &mut [u8],
    read_config: impl FnOnce() -> Result<Option<(String, String)>, ExternError>,
) -> Result<(), ExternError> {
    let kconfig: Vec<(&Extern, &KconfigExtern)> = externs
        .iter()
        .filter_map(|e| e.kconfig().map(|k| (e, k)))
        .collect();
    let mut set = vec![false; kconfig.len()];
    for (index, (ext, k)) in kconfig.iter().enumerate() {
        let name = ext.name.as_str();
        if name.starts_with("CONFIG_") {
            continue;
        }
        let value = match name {
            "LINUX_KERNEL_VERSION" => u64::from(running_kernel_version_code()),
            "LINUX_HAS_BPF_COOKIE" => u64::from(kernel_has_bpf_cookie()),
            "LINUX_HAS_SYSCALL_WRAPPER" => u64::from(kernel_has_syscall_wrapper()),
            _ if name.starts_with("LINUX_") && ext.weak => continue,
            _ => {
                return Err(ExternError::UnknownVirtual {
                    name: name.to_string(),
                })
            }
        };
        set_number(ext, k, slot(data, k, name)?, value, &value.to_string())?;
        set[index] = true;
    }
    for (name, value) in overrides {
        apply_value(&kconfig, &mut set, data, name, value)?;
    }
    if set.iter().any(|s| !s) {
        if let Some((text, source)) = read_config()? {
            apply_config_text(&kconfig, &mut set, data, &text, &source)?;
        }
    }
    for ((ext, _), done) in kconfig.iter().zip(&set) {
        if !done && !ext.weak {
            return Err(ExternError::Unresolved {
                name: ext.name.clone(),
                section: ".kconfig",
                reason: "neither the kernel config (/boot/config-$(uname -r), /proc/config.gz) \
                         nor an override sets it"
                    .to_string(),
            });
        }
    }
    Ok(())
}

/// Applies every `CONFIG_X=value` line of a kernel config to the externs not yet set. Comments
/// (`# CONFIG_X is not set`) and blank lines are skipped, as libbpf skips them: such a value is
/// absent, so zero for a weak extern.
fn apply_config_text(
    kconfig: &[(&Extern, &KconfigExtern)],
    set: &mut [bool],
    data: &mut [u8],
    text: &str,
    source: &str,
) -> Result<(), ExternError> {
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if !line.starts_with("CONFIG_") {
            continue;
        }
        let syntax = |reason| ExternError::ConfigSyntax {
            source_name: source.to_string(),
            line: line.to_string(),
            reason,
        };
        let (name, value) = line.split_once('=').ok_or_else(|| syntax("no `=`"))?;
        if value.is_empty() {
            return Err(syntax("no value after `=`"));
        }
        apply_value(kconfig, set, data, name, value)?;
    }
    Ok(())
}

/// Sets the extern `name` (if the object has it and it is not set yet) from a config value.
fn apply_value(
    kconfig: &[(&Extern, &KconfigExtern)],
    set: &mut [bool],
    data: &mut [u8],
    name: &str,
    value: &str,
) -> Result<(), ExternError> {
    let Some(index) = kconfig.iter().position(|(e, _)| e.name == name) else {
        return Ok(());
    };
    if set.get(index).copied().unwrap_or(true) {
        return Ok(());
    }
    let (ext, k) = kconfig[index];
    let bad = |reason: &str| ExternError::KconfigValue {
        name: name.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let out = slot(data, k, name)?;
    match value.as_bytes().first() {
        Some(&letter @ (b'y' | b'n' | b'm')) if value.len() == 1 => match k.value_type {
            KconfigType::Bool if letter == b'm' => {
                return Err(bad(
                    "is a module (m), which needs a tristate or char extern",
                ))
            }
            KconfigType::Bool => out[0] = u8::from(letter == b'y'),
            KconfigType::Tristate => {
                let tristate: u32 = match letter {
                    b'y' => 1,
                    b'm' => 2,
                    _ => 0,
                };
                write_number(out, u64::from(tristate));
            }
            KconfigType::Char => out[0] = letter,
            KconfigType::Int | KconfigType::CharArray => {
                return Err(bad("is y/m/n, which needs a bool, tristate or char extern"))
            }
        },
        Some(b'"') => {
            if k.value_type != KconfigType::CharArray {
                return Err(bad("is a string, which needs a char array extern"));
            }
            let inner = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .ok_or_else(|| bad("is an unterminated string"))?;
            let bytes = inner.as_bytes();
            // Truncated to leave room for the NUL, as libbpf does (it warns).
            let len = bytes.len().min(out.len().saturating_sub(1));
            if len < bytes.len() {
                log::warn!(
                    "extern `{name}` (.kconfig): string of {} bytes truncated to {len}",
                    bytes.len()
                );
            }
            out.fill(0);
            out[..len].copy_from_slice(&bytes[..len]);
        }
        _ => {
            let number = parse_number(value).ok_or_else(|| bad("is not a valid integer"))?;
            if !matches!(k.value_type, KconfigType::Int | KconfigType::Char) {
                return Err(bad("is an integer, which needs an integer or char extern"));
            }
            set_number(ext, k, out, number, value)?;
        }
    }
    set[index] = true;
    Ok(())
}

/// The extern's bytes in the map value.
fn slot<'d>(
    data: &'d mut [u8],
    k: &KconfigExtern,
    name: &str,
) -> Result<&'d mut [u8], ExternError> {
    let start = k.offset as usize;
    data.get_mut(start..start + k.size as usize)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ExternError::Btf {
            name: name.to_string(),
            message: format!("placed at {}+{} outside the .kconfig map", k.offset, k.size),
        })
}

/// Stores a number into an integer, char or bool extern, checking that it fits (libbpf's
/// `set_kcfg_value_num` and `is_kcfg_value_in_range`).
fn set_number(
    ext: &Extern,
    k: &KconfigExtern,
    out: &mut [u8],
    value: u64,
    written: &str,
) -> Result<(), ExternError> {
    let bad = |reason: String| ExternError::KconfigValue {
        name: ext.name.clone(),
        value: written.to_string(),
        reason,
    };
    match k.value_type {
        KconfigType::Int | KconfigType::Char => {}
        KconfigType::Bool if value <= 1 => {}
        KconfigType::Bool => return Err(bad("is not a boolean (0 or 1)".to_string())),
        KconfigType::Tristate | KconfigType::CharArray => {
            return Err(bad(
                "is a number, which needs an integer, char or bool extern".to_string(),
            ))
        }
    }
    let bits = k.size.saturating_mul(8);
    let fits = if bits >= 64 {
        true
    } else if k.signed {
        // -2^(n-1) <= v < 2^(n-1), computed on the two's complement bits.
        value.wrapping_add(1u64 << (bits - 1)) < (1u64 << bits)
    } else {
        value >> bits == 0
    };
    if !fits {
        return Err(bad(format!("does not fit in {} bytes", k.size)));
    }
    write_number(out, value);
    Ok(())
}

/// Writes the low `out.len()` bytes of `value` in native byte order (the map is read by BPF code
/// on this machine).
fn write_number(out: &mut [u8], value: u64) {
    let bytes = value.to_ne_bytes();
    let len = out.len().min(8);
    if cfg!(target_endian = "big") {
        out[..len].copy_from_slice(&bytes[8 - len..]);
    } else {
        out[..len].copy_from_slice(&bytes[..len]);
    }
}

/// Parses an integer as C's `strtoull(s, .., 0)` does for Kconfig values: decimal, `0x` hex or
/// `0` octal, optionally negative (wrapping, so `-1` is all ones).
fn parse_number(text: &str) -> Option<u64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let value = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        u64::from_str_radix(hex, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        u64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse::<u64>().ok()?
    };
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// Resolves `.ksyms` externs: typed ones and kfuncs through kernel BTF, typeless ones through
/// `/proc/kallsyms`.
fn resolve_ksyms(object: &Object) -> Result<HashMap<String, KsymValue>, ExternError> {
    let mut values = HashMap::new();
    let typeless: Vec<&Extern> = object
        .externs()
        .iter()
        .filter(|e| e.kind == ExternKind::Ksym(KsymKind::Typeless))
        .collect();
    if !typeless.is_empty() {
        let text = std::fs::read_to_string("/proc/kallsyms")
            .map_err(|e| ExternError::Kallsyms(e.to_string()))?;
        let found = kallsyms_addresses(&text, &typeless)?;
        for ext in typeless {
            match found.get(ext.essential_name.as_str()) {
                Some(&address) => {
                    values.insert(ext.name.clone(), KsymValue::Address(address));
                }
                None if ext.weak => {
                    values.insert(ext.name.clone(), KsymValue::Absent);
                }
                None => {
                    return Err(ExternError::Unresolved {
                        name: ext.name.clone(),
                        section: ".ksyms",
                        reason: "/proc/kallsyms has no such symbol".to_string(),
                    })
                }
            }
        }
    }
    let local_btf = object.btf.as_ref();
    for ext in object.externs() {
        let ExternKind::Ksym(kind) = ext.kind else {
            continue;
        };
        let (local_type, kernel_kind, kind_name) = match kind {
            KsymKind::Typeless => continue,
            KsymKind::Typed { type_id } => (type_id, BtfKind::Var, "variable"),
            KsymKind::Function { proto_id } => (proto_id, BtfKind::Func, "function"),
        };
        let kernel = crate::btf::kernel_btf().map_err(|source| ExternError::KernelBtf {
            name: ext.name.clone(),
            source,
        })?;
        let Some(kernel_id) = kernel.find_by_name_kind(&ext.essential_name, kernel_kind) else {
            if ext.weak {
                values.insert(ext.name.clone(), KsymValue::Absent);
                continue;
            }
            return Err(ExternError::Unresolved {
                name: ext.name.clone(),
                section: ".ksyms",
                reason: format!(
                    "the kernel's BTF has no {kind_name} `{}` (symbols of kernel modules are not \
                     searched by bpfkit yet)",
                    ext.essential_name
                ),
            });
        };
        let compatible = match local_btf {
            Some(local) => {
                check_compatible(local, local_type, &kernel, kernel_id).map_err(|message| {
                    ExternError::Btf {
                        name: ext.name.clone(),
                        message,
                    }
                })?
            }
            None => false,
        };
        if !compatible {
            // libbpf forgives an incompatible weak kfunc (treated as absent), not a variable.
            if ext.weak && kernel_kind == BtfKind::Func {
                values.insert(ext.name.clone(), KsymValue::Absent);
                continue;
            }
            return Err(ExternError::Incompatible {
                name: ext.name.clone(),
                kind: kind_name,
                kernel_id,
            });
        }
        values.insert(ext.name.clone(), KsymValue::BtfId(kernel_id));
    }
    Ok(values)
}

/// Compares a declared type with the kernel's `VAR` or `FUNC` `kernel_id`.
fn check_compatible(
    local: &Btf,
    local_type: u32,
    kernel: &Btf,
    kernel_id: u32,
) -> Result<bool, String> {
    let target = kernel
        .type_by_id(kernel_id)
        .map_err(|e| e.to_string())?
        .referenced_type()
        .unwrap_or(0);
    types_are_compatible(local, local_type, kernel, target).map_err(|e| e.to_string())
}

/// Addresses of the `wanted` symbols in `/proc/kallsyms` text ("ffffffff81000000 T _stext",
/// optionally followed by "[module]"). A `.llvm.<hash>` suffix (ThinLTO's renaming of static
/// symbols) is ignored, as libbpf ignores it.
fn kallsyms_addresses<'a>(
    text: &str,
    wanted: &[&'a Extern],
) -> Result<HashMap<&'a str, u64>, ExternError> {
    let mut found: HashMap<&'a str, u64> = HashMap::new();
    let mut any_nonzero = false;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(address), Some(_kind), Some(name)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let Ok(address) = u64::from_str_radix(address, 16) else {
            continue;
        };
        any_nonzero |= address != 0;
        let name = name.split_once(".llvm.").map_or(name, |(base, _)| base);
        let Some(ext) = wanted.iter().find(|e| e.essential_name == name) else {
            continue;
        };
        match found.get(ext.essential_name.as_str()) {
            Some(&first) if first != address => {
                return Err(ExternError::Ambiguous {
                    name: ext.name.clone(),
                    first,
                    second: address,
                })
            }
            _ => {
                found.insert(ext.essential_name.as_str(), address);
            }
        }
    }
    if !found.is_empty() && !any_nonzero {
        return Err(ExternError::Kallsyms(
            "every address reads as zero (needs root, or kernel.kptr_restrict hides them)"
                .to_string(),
        ));
    }
    Ok(found)
}

#[cfg(test)]
mod tests;
