//! CO-RE for Rust programs (`#[kernel_struct]`): the committed `rust/core_task.bpf.o` reads the
//! current task's `pid`, `tgid` and `real_parent->tgid` at offsets the loader resolved from this
//! kernel's BTF and wrote into `.rodata`; a field no kernel has is guarded by `_exists()` and
//! the program still loads. The same object loads with bpftool (libbpf ignores `.bpfkit.core`).

#[macro_use]
mod common;

use std::path::Path;

use bpfkit::maps::Array;
use bpfkit::obj::rust_core;
use bpfkit::programs::TestRunOptions;
use bpfkit::{Ebpf, EbpfError, EbpfLoader};

const OBJECT: &str = "rust/core_task.bpf.o";

fn gettid() -> u64 {
    // SAFETY: gettid takes no argument and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as u64 }
}

/// Runs `core_task` once in this thread and returns its `results` array.
fn run_core_task(ebpf: &Ebpf) -> Vec<u64> {
    let out = ebpf
        .program("core_task")
        .expect("program")
        .data()
        .test_run(&TestRunOptions {
            data_out_capacity: Some(0),
            ..Default::default()
        })
        .expect("test run");
    assert_eq!(out.retval, 0);
    let results: Array<_, u64> =
        Array::try_from(ebpf.map("results").expect("results")).expect("array");
    (0..14).map(|i| results.get(i).expect("slot")).collect()
}

#[test]
fn rust_core_reads_task_struct_fields_of_this_kernel() {
    require_root!();
    let ebpf = Ebpf::load(&common::object(OBJECT)).expect("loading core_task");
    let values = run_core_task(&ebpf);
    // SAFETY: getpid/getppid take no argument and cannot fail.
    let (pid, ppid) = unsafe { (libc::getpid() as u64, libc::getppid() as u64) };
    assert_eq!(values[0], gettid(), "task_struct.pid is the thread id");
    assert_eq!(values[1], pid, "task_struct.tgid is the process id");
    assert_eq!(
        values[2], ppid,
        "real_parent->tgid is the parent process id"
    );
    assert_eq!(values[3], u64::MAX, "the absent field was guarded off");
    assert_eq!(values[4], 0, "the absent field does not exist");
    let kernel = bpfkit::btf::kernel_btf().expect("kernel BTF");
    let task_struct = kernel
        .find_by_name_kind("task_struct", bpfkit::obj::btf::BtfKind::Struct)
        .expect("task_struct in vmlinux");
    assert_eq!(
        values[5],
        kernel.resolve_size(task_struct).expect("size") as u64
    );
    assert_eq!(values[6], 16, "task_struct___old.comm is task_struct.comm");
    assert_eq!(values[7], 1);
    // Enumerator values, looked up independently in the kernel's BTF.
    let pid_type = kernel
        .find_by_name_kind("pid_type", bpfkit::obj::btf::BtfKind::Enum)
        .expect("enum pid_type");
    let enumerator = |name: &str| -> u64 {
        kernel
            .type_by_id(pid_type)
            .expect("type")
            .enum_values()
            .find(|v| kernel.string_at(v.name_offset).ok() == Some(name))
            .unwrap_or_else(|| panic!("no {name}"))
            .value
    };
    assert_eq!(values[9], enumerator("PIDTYPE_TGID"));
    assert_eq!(values[10], enumerator("PIDTYPE_MAX"));
    assert_eq!(values[11], enumerator("PIDTYPE_SID"));
    assert_ne!(values[10], 0, "PIDTYPE_MAX is not its local position");
    assert_eq!(values[12], 0, "PIDTYPE_BPFKIT_NONE does not exist");
    assert_eq!(values[13], 1, "pid_type exists");
}

/// Puts this thread's scheduling policy back to plain SCHED_OTHER on drop.
struct ResetOnForkGuard;

impl ResetOnForkGuard {
    fn set(reset_on_fork: bool) {
        let param = libc::sched_param { sched_priority: 0 };
        let policy = libc::SCHED_OTHER
            | if reset_on_fork {
                libc::SCHED_RESET_ON_FORK
            } else {
                0
            };
        // SAFETY: `param` is a valid sched_param; pid 0 is the calling thread.
        let rc = unsafe { libc::sched_setscheduler(0, policy, &param) };
        assert_eq!(
            rc,
            0,
            "sched_setscheduler: {}",
            std::io::Error::last_os_error()
        );
    }
}

impl Drop for ResetOnForkGuard {
    fn drop(&mut self) {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: as in `set`; a failure leaves only this test thread's policy changed.
        unsafe { libc::sched_setscheduler(0, libc::SCHED_OTHER, &param) };
    }
}

/// A bitfield read through the resolved shifts: `task_struct.sched_reset_on_fork` follows
/// `sched_setscheduler(SCHED_RESET_ON_FORK)` on this thread.
#[test]
fn rust_core_reads_a_bitfield_set_by_sched_setscheduler() {
    require_root!();
    let ebpf = Ebpf::load(&common::object(OBJECT)).expect("loading core_task");
    let _guard = ResetOnForkGuard;
    ResetOnForkGuard::set(true);
    assert_eq!(run_core_task(&ebpf)[8], 1, "reset-on-fork set");
    ResetOnForkGuard::set(false);
    assert_eq!(run_core_task(&ebpf)[8], 0, "reset-on-fork cleared");
    ResetOnForkGuard::set(true);
    assert_eq!(run_core_task(&ebpf)[8], 1, "set again");
}

/// The `.rodata` the kernel got holds the resolved slot values (frozen, read back through the map).
#[test]
fn rust_core_slots_land_in_frozen_rodata() {
    require_root!();
    let bytes = common::object(OBJECT);
    let ebpf = Ebpf::load(&bytes).expect("loading core_task");
    let records = rust_core::records_from_elf(&bytes)
        .expect("records")
        .expect("section");
    let kernel = bpfkit::btf::kernel_btf().expect("kernel BTF");
    let resolved = rust_core::resolve(&records, &[kernel.as_ref()]).expect("resolving");
    let pid_offset = resolved
        .iter()
        .find(|s| {
            s.path == "task_struct.pid"
                && s.kind == bpfkit::obj::core_relo::CoreReloKind::FieldByteOffset
        })
        .expect("pid offset slot");
    let rodata = ebpf.map(".rodata").expect(".rodata map");
    let mut data = vec![0u8; rodata.value_size() as usize];
    let found =
        bpfkit::sys::map_lookup_elem(&rodata.handle(), Some(&0u32.to_ne_bytes()), &mut data, 0)
            .expect("reading .rodata");
    assert!(found);
    assert!(
        bpfkit::sys::map_update_elem(&rodata.handle(), Some(&0u32.to_ne_bytes()), &data, 0)
            .is_err(),
        ".rodata is frozen"
    );
    let var = ebpf
        .object()
        .global_variable("__bpfkit_core_TaskStruct")
        .expect("table");
    let at = var.offset as usize + pid_offset.index * 8;
    let value = u64::from_ne_bytes(data[at..at + 8].try_into().expect("8 bytes"));
    assert_eq!(value, pid_offset.value);
    assert!(value > 0, "pid is not the first field of task_struct");
}

/// A target BTF without `task_struct.pid` makes the load fail with a readable error naming the
/// field; the optional absent field alone never does.
#[test]
fn rust_core_unresolvable_required_field_fails_the_load_with_its_name() {
    use bpfkit::obj::btf::builder::{BtfBuilder, MemberSpec};
    let mut builder = BtfBuilder::new();
    let int = builder.add_int("int", 4, 1);
    builder.add_struct("task_struct", 8, &[MemberSpec::new("tgid", int, 0)]);
    builder.add_enum(
        "pid_type",
        4,
        false,
        &[("PIDTYPE_TGID", 1), ("PIDTYPE_SID", 3), ("PIDTYPE_MAX", 4)],
    );
    let dir = std::env::temp_dir().join(format!("bpfkit-rust-core-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("target.btf");
    std::fs::write(&path, builder.finish()).expect("writing BTF");
    let result = EbpfLoader::new()
        .target_btf(&path)
        .autoload(false)
        .load(&common::object(OBJECT));
    let _ = std::fs::remove_dir_all(&dir);
    match result {
        Err(EbpfError::RustCore(error)) => {
            let text = error.to_string();
            assert!(text.contains("task_struct.pid"), "{text}");
        }
        Err(other) => panic!("expected a Rust CO-RE error, got {other}"),
        Ok(_) => panic!("the load succeeded without task_struct.pid"),
    }
}

#[test]
fn rust_core_object_loads_with_bpftool() {
    require_root!();
    if common::run(&["bpftool", "version"]).status.code().is_none() {
        panic!("bpftool missing");
    }
    let bpffs = common::Bpffs::new();
    let pins = bpffs.path().join("progs");
    let path = common::object_path(OBJECT);
    common::run_ok(&[
        "bpftool",
        "prog",
        "loadall",
        path.to_str().expect("UTF-8"),
        pins.to_str().expect("UTF-8"),
    ]);
    assert!(Path::new(&pins).join("core_task").exists());
}

/// The slots are constants to the verifier: the guarded read of the absent field is dead code
/// it removes, so the kernel's program has one `bpf_probe_read_kernel` call fewer than the
/// object (checked with bpftool's dump of the translated program).
#[test]
fn rust_core_branches_on_slots_are_pruned_by_the_verifier() {
    require_root!();
    const CALL: u8 = 0x85;
    const PROBE_READ_KERNEL: i32 = 113;
    let ebpf = Ebpf::load(&common::object(OBJECT)).expect("loading core_task");
    let in_object = ebpf
        .object()
        .link_program("core_task")
        .expect("linking")
        .instructions
        .iter()
        .filter(|insn| insn.code == CALL && insn.imm == PROBE_READ_KERNEL)
        .count();
    let id = ebpf
        .program("core_task")
        .expect("program")
        .data()
        .info()
        .expect("program info")
        .id;
    let dump = common::run_ok(&["bpftool", "prog", "dump", "xlated", "id", &id.to_string()]);
    let in_kernel = dump.matches("bpf_probe_read_kernel").count();
    assert!(in_kernel > 0, "{dump}");
    assert_eq!(
        in_kernel,
        in_object - 1,
        "the read of the absent field should be pruned:\n{dump}"
    );
}

/// A parsed `Object` (here renamed, as an edited one would be) keeps its slot records, and
/// `load_object` resolves them.
#[test]
fn rust_core_parsed_object_loads_with_its_records() {
    require_root!();
    let bytes = common::object(OBJECT);
    let mut object = bpfkit::obj::Object::parse(&bytes).expect("parsing");
    object.name = "core_edit".to_string();
    let from_elf = rust_core::records_from_elf(&bytes)
        .expect("records")
        .expect("section");
    assert_eq!(object.rust_core, from_elf, "Object keeps every record");
    let ebpf = EbpfLoader::new().load_object(object).expect("loading");
    assert_eq!(run_core_task(&ebpf)[0], gettid());
}
