//! CO-RE in the real kernel: a program using every relocation kind on local type definitions is
//! relocated against the running kernel's BTF, run, and its results compared with the truth read
//! from that BTF in user space. Unsatisfiable relocations in guarded code load; in unguarded code
//! the verifier's refusal is explained in words.

#[macro_use]
mod common;

use bpfkit::obj::btf::{Btf, BtfKind};
use bpfkit::programs::{ProgramError, TestRunOptions};
use bpfkit::{Ebpf, EbpfLoader};

fn object() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../bpfkit-obj/tests/core/core_relo.bpf.o"
    );
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Byte offset of `member` in the struct `id` of `btf`, and the member's bit offset.
fn member_bit_offset(btf: &Btf, id: u32, member: &str) -> u32 {
    btf.members(id)
        .expect("members")
        .into_iter()
        .find(|m| btf.string_at(m.name_offset).ok() == Some(member))
        .unwrap_or_else(|| panic!("no member {member}"))
        .bit_offset
}

fn results(ebpf: &Ebpf) -> [u64; 32] {
    ebpf.global("results").expect("results")
}

fn gettid() -> u64 {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name()?.to_str()?.parse().ok())
        .expect("thread id")
}

#[test]
fn every_relocation_kind_matches_the_running_kernel() {
    require_root!();
    let kernel = bpfkit::btf::kernel_btf().expect("kernel BTF");
    let task = kernel
        .find_by_name_kind("task_struct", BtfKind::Struct)
        .expect("task_struct");
    let arena = kernel
        .find_by_name_kind("bpf_map_type", BtfKind::Enum)
        .and_then(|id| kernel.type_by_id(id).ok())
        .and_then(|t| {
            t.enum_values()
                .find(|v| kernel.string_at(v.name_offset).ok() == Some("BPF_MAP_TYPE_ARENA"))
        })
        .map(|v| v.value)
        .expect("BPF_MAP_TYPE_ARENA (6.9+) in this kernel's BTF");

    let ebpf = Ebpf::load(&object()).expect("load: guarded relocations must not stop the load");
    let program = ebpf.program("core_all").expect("program").data();
    // raw_tp test runs take the tracepoint arguments as context and no packet.
    let options = TestRunOptions {
        ctx_in: &[0u8; 16],
        data_out_capacity: Some(0),
        ..Default::default()
    };
    program.test_run(&options).expect("test run");
    let r = results(&ebpf);

    let local = ebpf.object().btf.as_ref().expect("object BTF");
    assert_eq!(r[0], gettid(), "task->pid of the running thread");
    assert_eq!(r[1], 1, "pid exists");
    assert_eq!(r[2], 16, "comm is 16 bytes");
    assert_eq!(r[3], 0, "not in execve");
    assert_eq!(r[4], 1, "task_struct exists");
    assert_eq!(
        r[5],
        kernel.resolve_size(task).expect("size"),
        "sizeof(task_struct)"
    );
    assert_eq!(
        r[6],
        u64::from(
            local
                .find_by_name_kind("task_struct", BtfKind::Struct)
                .unwrap()
        ),
        "local id"
    );
    assert_eq!(r[7], u64::from(task), "kernel id");
    assert_eq!(r[8], 1, "list_head matches");
    assert_eq!(r[9], 0, "list_head___bad does not match");
    assert_eq!(r[10], 1, "BPF_MAP_TYPE_ARENA exists");
    assert_eq!(r[11], arena, "BPF_MAP_TYPE_ARENA value");
    assert_eq!(r[12], 0, "an enumerator no kernel has");
    assert_eq!(r[13], 0, "a type no kernel has");
    assert_eq!(r[14], 0, "task_struct___old.state is gone since 5.14");
    assert_eq!(
        r[15], 77,
        "the guarded branch ran, the poisoned read was pruned"
    );
    assert_eq!(r[16], 1, "pid is signed");
    assert_ne!(r[17], 0, "tasks.next is a kernel pointer");
    assert_eq!(
        r[18],
        u64::from(member_bit_offset(&kernel, task, "comm") / 8 + 3),
        "offsetof(comm[3])"
    );
    assert_eq!(
        r[19],
        u64::from(member_bit_offset(&kernel, task, "tgid") / 8),
        "offsetof(tgid)"
    );
}

#[test]
fn direct_btf_loads_are_relocated() {
    require_root!();
    let mut ebpf = Ebpf::load(&object()).expect("load");
    ebpf.load_program("core_direct")
        .expect("tp_btf program with CO-RE offsets in its loads");
}

#[test]
fn unguarded_poisoned_relocation_fails_in_plain_words() {
    require_root!();
    let mut ebpf = EbpfLoader::new().load(&object()).expect("load");
    let err = ebpf
        .load_program("core_unguarded")
        .expect_err("the verifier must reject it");
    let ProgramError::Verifier(verifier) = &err else {
        panic!("not a verifier error: {err}")
    };
    let note = verifier
        .note()
        .expect("an explanation of the poisoned relocation");
    assert!(note.contains("bpfkit_missing_field"), "{note}");
    let text = err.to_string();
    assert!(text.contains("bpfkit_missing_field"), "{text}");
    assert!(
        verifier.log().contains("195896080"),
        "the log still has the kernel's words"
    );
}

#[test]
fn relocations_use_a_target_btf_file_when_given() {
    require_root!();
    // The running kernel's own BTF, given as a file: the same results as the default.
    let ebpf = EbpfLoader::new()
        .target_btf("/sys/kernel/btf/vmlinux")
        .load(&object())
        .expect("load");
    let program = ebpf.program("core_all").expect("program").data();
    let options = TestRunOptions {
        ctx_in: &[0u8; 16],
        data_out_capacity: Some(0),
        ..Default::default()
    };
    program.test_run(&options).expect("test run");
    assert_eq!(results(&ebpf)[0], gettid());

    let missing = EbpfLoader::new()
        .target_btf("/nonexistent/vmlinux.btf")
        .load(&object());
    assert!(
        matches!(missing, Err(bpfkit::EbpfError::TargetBtf(_))),
        "{missing:?}"
    );
}
