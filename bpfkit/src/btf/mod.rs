//! The running kernel's BTF, and what the loader looks up in it.
//!
//! Tracing (`fentry`, `fexit`, `fmod_ret`, `tp_btf`, `iter`) and LSM programs name a kernel
//! function or hook; the kernel wants the BTF id of that function in `attach_btf_id`. The kernel
//! BTF is read once per process and shared by every load.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use bpfkit_obj::btf::{Btf, BtfKind};
use bpfkit_obj::uapi::{attach_type, prog_type};

/// Where kernel BTF is looked for, in order: sysfs (5.4+ with CONFIG_DEBUG_INFO_BTF), then the
/// places distributions install a vmlinux with BTF.
fn candidate_paths() -> Vec<PathBuf> {
    let mut paths = vec![PathBuf::from("/sys/kernel/btf/vmlinux")];
    if let Ok(release) = crate::sys::kernel_release() {
        for pattern in [
            "/boot/vmlinux-{}",
            "/lib/modules/{}/vmlinux-{}",
            "/lib/modules/{}/build/vmlinux",
            "/usr/lib/modules/{}/kernel/vmlinux",
            "/usr/lib/debug/boot/vmlinux-{}",
            "/usr/lib/debug/lib/modules/{}/vmlinux",
        ] {
            paths.push(PathBuf::from(pattern.replace("{}", &release)));
        }
    }
    paths
}

/// Errors reading kernel BTF.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KernelBtfError {
    /// No file with kernel BTF was found.
    #[error("no kernel BTF found (looked in /sys/kernel/btf/vmlinux, /boot, /lib/modules, /usr/lib/debug): the kernel needs CONFIG_DEBUG_INFO_BTF (5.4+)")]
    NotFound,
    /// The file exists but could not be read or parsed.
    #[error("kernel BTF at `{path}`: {message}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// The running kernel's BTF, read and parsed once per process.
pub fn kernel_btf() -> Result<Arc<Btf>, KernelBtfError> {
    static KERNEL_BTF: OnceLock<Result<Arc<Btf>, KernelBtfError>> = OnceLock::new();
    KERNEL_BTF
        .get_or_init(|| {
            let path = candidate_paths()
                .into_iter()
                .find(|p| p.exists())
                .ok_or(KernelBtfError::NotFound)?;
            read_btf_file(&path).map(Arc::new)
        })
        .clone()
}

/// Reads a raw BTF file (as `/sys/kernel/btf/vmlinux`, or a btfhub-style `.btf` file).
pub fn read_btf_file(path: &Path) -> Result<Btf, KernelBtfError> {
    let unreadable = |message: String| KernelBtfError::Unreadable {
        path: path.to_path_buf(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| unreadable(e.to_string()))?;
    Btf::parse(&bytes).map_err(|e| unreadable(e.to_string()))
}

/// What a tracing or LSM program attaches to, as found in kernel BTF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AttachTargetError {
    /// The section names no target.
    Missing,
    /// Kernel BTF has no such function or hook.
    NotFound { kind: &'static str, name: String },
    /// A target type bpfkit does not resolve yet.
    Unsupported(&'static str),
}

/// The BTF name and kind the kernel expects for a program's attach target: `tp_btf/X` attaches
/// to the typedef `btf_trace_X`, `lsm/X` to the function `bpf_lsm_X`, `iter/X` to
/// `bpf_iter_X`, fentry/fexit/fmod_ret to the function itself.
pub(crate) fn attach_target_name(
    program_type: u32,
    expected_attach_type: Option<u32>,
    target: &str,
) -> Result<(String, BtfKind), AttachTargetError> {
    if target.is_empty() {
        return Err(AttachTargetError::Missing);
    }
    match (program_type, expected_attach_type) {
        (prog_type::BPF_PROG_TYPE_TRACING, Some(attach_type::BPF_TRACE_RAW_TP)) => {
            Ok((format!("btf_trace_{target}"), BtfKind::Typedef))
        }
        (prog_type::BPF_PROG_TYPE_TRACING, Some(attach_type::BPF_TRACE_ITER)) => {
            Ok((format!("bpf_iter_{target}"), BtfKind::Func))
        }
        (prog_type::BPF_PROG_TYPE_TRACING, _) => Ok((target.to_string(), BtfKind::Func)),
        (prog_type::BPF_PROG_TYPE_LSM, _) => Ok((format!("bpf_lsm_{target}"), BtfKind::Func)),
        (prog_type::BPF_PROG_TYPE_EXT, _) => Err(AttachTargetError::Unsupported(
            "freplace (its target is another BPF program)",
        )),
        (prog_type::BPF_PROG_TYPE_STRUCT_OPS, _) => {
            Err(AttachTargetError::Unsupported("struct_ops"))
        }
        _ => Err(AttachTargetError::Missing),
    }
}

/// The kernel BTF id of a tracing or LSM program's attach target.
pub(crate) fn attach_btf_id(
    btf: &Btf,
    program_type: u32,
    expected_attach_type: Option<u32>,
    target: &str,
) -> Result<u32, AttachTargetError> {
    let (name, kind) = attach_target_name(program_type, expected_attach_type, target)?;
    btf.find_by_name_kind(&name, kind)
        .ok_or(AttachTargetError::NotFound {
            kind: if kind == BtfKind::Typedef {
                "typedef"
            } else {
                "function"
            },
            name,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_names_follow_the_kernel_conventions() {
        let tracing = prog_type::BPF_PROG_TYPE_TRACING;
        assert_eq!(
            attach_target_name(tracing, Some(attach_type::BPF_TRACE_RAW_TP), "sched_switch"),
            Ok(("btf_trace_sched_switch".to_string(), BtfKind::Typedef))
        );
        assert_eq!(
            attach_target_name(tracing, Some(attach_type::BPF_TRACE_FENTRY), "do_unlinkat"),
            Ok(("do_unlinkat".to_string(), BtfKind::Func))
        );
        assert_eq!(
            attach_target_name(tracing, Some(attach_type::BPF_TRACE_ITER), "task"),
            Ok(("bpf_iter_task".to_string(), BtfKind::Func))
        );
        assert_eq!(
            attach_target_name(
                prog_type::BPF_PROG_TYPE_LSM,
                Some(attach_type::BPF_LSM_MAC),
                "file_open"
            ),
            Ok(("bpf_lsm_file_open".to_string(), BtfKind::Func))
        );
        assert_eq!(
            attach_target_name(tracing, None, ""),
            Err(AttachTargetError::Missing)
        );
        assert!(matches!(
            attach_target_name(prog_type::BPF_PROG_TYPE_EXT, None, "f"),
            Err(AttachTargetError::Unsupported(_))
        ));
    }

    #[test]
    fn running_kernel_targets_resolve() {
        let Ok(btf) = kernel_btf() else {
            println!("skipped: running_kernel_targets_resolve: no kernel BTF on this machine");
            return;
        };
        let tracing = prog_type::BPF_PROG_TYPE_TRACING;
        assert!(attach_btf_id(
            &btf,
            tracing,
            Some(attach_type::BPF_TRACE_RAW_TP),
            "sched_switch"
        )
        .is_ok());
        assert!(attach_btf_id(
            &btf,
            tracing,
            Some(attach_type::BPF_TRACE_FENTRY),
            "do_unlinkat"
        )
        .is_ok());
        assert_eq!(
            attach_btf_id(
                &btf,
                tracing,
                Some(attach_type::BPF_TRACE_FENTRY),
                "no_such_function_here"
            ),
            Err(AttachTargetError::NotFound {
                kind: "function",
                name: "no_such_function_here".to_string()
            })
        );
    }
}
