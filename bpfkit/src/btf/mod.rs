//! The running kernel's BTF, and what the loader looks up in it.
//!
//! Tracing (`fentry`, `fexit`, `fmod_ret`, `tp_btf`, `iter`) and LSM programs name a kernel
//! function or hook; the kernel wants the BTF id of that function in `attach_btf_id`. The kernel
//! BTF is memory-mapped once per process and shared by every load; module BTF is loaded only when
//! a search reaches it (see [`ModuleBtfs`]).

mod kernel;

pub use kernel::{
    candidate_paths, kernel_btf, module_btf, read_btf_file, read_split_btf_file, BtfSource,
    KernelBtfError, ModuleBtfs, SYSFS_BTF_DIR,
};

use bpfkit_obj::btf::{Btf, BtfKind};
use bpfkit_obj::uapi::{attach_type, prog_type};

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
