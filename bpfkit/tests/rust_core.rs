//! CO-RE for Rust programs (`#[kernel_struct]`): the committed `rust/core_task.bpf.o` reads the
//! current task's `pid`, `tgid` and `real_parent->tgid` at offsets the loader resolved from this
//! kernel's BTF and wrote into `.rodata`; a field no kernel has is guarded by `_exists()` and
//! the program still loads. Members of embedded structs are read by path and checked against
//! what user space knows (`se.sum_exec_runtime` between two thread CPU-time readings,
//! `loginuid.val` against /proc, `signal->rlim[RLIMIT_NOFILE].rlim_cur` against getrlimit), the
//! signedness, type id and type-match slots against this kernel's BTF. The same object loads
//! with bpftool (libbpf ignores `.bpfkit.core`).

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
    (0..29).map(|i| results.get(i).expect("slot")).collect()
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
    // signal_struct as the kernel has it, so that task_struct.pid is the first missing field.
    let ulong = builder.add_int("long unsigned int", 8, 0);
    let rlimit = builder.add_struct(
        "rlimit",
        16,
        &[
            MemberSpec::new("rlim_cur", ulong, 0),
            MemberSpec::new("rlim_max", ulong, 8),
        ],
    );
    let rlims = builder.add_array(rlimit, int, 16);
    builder.add_struct("signal_struct", 256, &[MemberSpec::new("rlim", rlims, 0)]);
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

/// This thread's CPU time in nanoseconds. Reading it folds the running slice into
/// `se.sum_exec_runtime` (the kernel's `task_sched_runtime` updates the current task first), so
/// a value the program reads in between lies between two readings.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Byte offset of member `name` of type `id` in `btf`.
fn member_offset(btf: &bpfkit::obj::Btf, id: u32, name: &str) -> Option<u32> {
    btf.members(id)
        .ok()?
        .into_iter()
        .find(|m| btf.string_at(m.name_offset).ok() == Some(name))
        .map(|m| m.bit_offset / 8)
}

/// Nested paths: a member of the embedded `sched_entity se`, the `val` of the `kuid_t`
/// typedef'd anonymous struct, and an array element's member behind the `signal` pointer.
#[test]
fn rust_core_reads_members_of_embedded_structs_by_path() {
    require_root!();
    let ebpf = Ebpf::load(&common::object(OBJECT)).expect("loading core_task");
    // A distinctive soft limit of open files, restored afterwards.
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit to write.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    let wanted = libc::rlimit {
        rlim_cur: limit.rlim_cur.min(limit.rlim_max).saturating_sub(3).max(64),
        rlim_max: limit.rlim_max,
    };
    // SAFETY: a valid rlimit, no higher than the hard limit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) }, 0);
    let before = thread_cpu_ns();
    let values = run_core_task(&ebpf);
    let after = thread_cpu_ns();
    // SAFETY: puts back the limit read above.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    assert!(
        before <= values[14] && values[14] <= after && values[14] > 0,
        "se.sum_exec_runtime {} not within [{before}, {after}]",
        values[14]
    );
    let loginuid: u64 = std::fs::read_to_string("/proc/self/loginuid")
        .expect("/proc/self/loginuid")
        .trim()
        .parse()
        .expect("a number");
    assert_eq!(values[15], loginuid, "loginuid.val");
    assert_eq!(
        values[16], wanted.rlim_cur,
        "signal->rlim[RLIMIT_NOFILE].rlim_cur"
    );
    // `se.vlag` lives in an anonymous union of sched_entity on this kernel: found by name
    // through it. Its existence agrees with the BTF, and s64 is signed.
    let kernel = bpfkit::btf::kernel_btf().expect("kernel BTF");
    let se = kernel
        .find_by_name_kind("sched_entity", bpfkit::obj::btf::BtfKind::Struct)
        .expect("sched_entity");
    let has_vlag = member_offset(&kernel, se, "vlag").is_some()
        || kernel.members(se).expect("members").into_iter().any(|m| {
            kernel.string_at(m.name_offset).ok() == Some("")
                && kernel
                    .skip_mods_and_typedefs(m.type_id)
                    .ok()
                    .and_then(|id| member_offset(&kernel, id, "vlag"))
                    .is_some()
        });
    assert_eq!(values[17], u64::from(has_vlag), "se.vlag exists");
    assert_eq!(
        values[18],
        u64::from(has_vlag),
        "se.vlag is signed when present"
    );
    // The offsets the loader resolved, against the BTF read independently.
    let bytes = common::object(OBJECT);
    let records = rust_core::records_from_elf(&bytes)
        .expect("records")
        .expect("section");
    let resolved = rust_core::resolve(&records, &[kernel.as_ref()]).expect("resolving");
    let offset = |path: &str| {
        resolved
            .iter()
            .find(|s| {
                s.path == path && s.kind == bpfkit::obj::core_relo::CoreReloKind::FieldByteOffset
            })
            .unwrap_or_else(|| panic!("no slot {path}"))
            .value
    };
    let task = kernel
        .find_by_name_kind("task_struct", bpfkit::obj::btf::BtfKind::Struct)
        .expect("task_struct");
    let se_at = member_offset(&kernel, task, "se").expect("task_struct.se");
    let sum_at = member_offset(&kernel, se, "sum_exec_runtime").expect("sum_exec_runtime");
    assert_eq!(
        offset("task_struct.se.sum_exec_runtime"),
        u64::from(se_at + sum_at)
    );
    assert_eq!(
        offset("task_struct.loginuid.val"),
        u64::from(member_offset(&kernel, task, "loginuid").expect("loginuid"))
    );
}

/// FIELD_SIGNED slots follow the kernel's integer encodings; TYPE_ID_TARGET is the id of the
/// type in /sys/kernel/btf/vmlinux; TYPE_MATCHES is true for the declarations whose integer
/// members have the kernel's C types and false for `pid: u64`.
#[test]
fn rust_core_signed_type_id_and_type_matches_slots_follow_the_kernel_btf() {
    use bpfkit::obj::btf::BtfKind;
    require_root!();
    let ebpf = Ebpf::load(&common::object(OBJECT)).expect("loading core_task");
    let values = run_core_task(&ebpf);
    let raw = std::fs::read("/sys/kernel/btf/vmlinux").expect("vmlinux BTF");
    let vmlinux = bpfkit::obj::Btf::parse(&raw).expect("parsing vmlinux BTF");
    let task = vmlinux
        .find_by_name_kind("task_struct", BtfKind::Struct)
        .expect("task_struct");
    let signed = |owner: u32, field: &str| -> u64 {
        let member = vmlinux
            .members(owner)
            .expect("members")
            .into_iter()
            .find(|m| vmlinux.string_at(m.name_offset).ok() == Some(field))
            .unwrap_or_else(|| panic!("no {field}"));
        let id = vmlinux
            .skip_mods_and_typedefs(member.type_id)
            .expect("type");
        let int = vmlinux
            .type_by_id(id)
            .expect("type")
            .int_info()
            .expect("an int");
        u64::from(int.encoding & 1)
    };
    let se = vmlinux
        .find_by_name_kind("sched_entity", BtfKind::Struct)
        .expect("sched_entity");
    assert_eq!(values[19], signed(task, "pid"), "pid signed");
    assert_eq!(values[19], 1);
    assert_eq!(
        values[20],
        signed(se, "sum_exec_runtime"),
        "sum_exec_runtime signed"
    );
    assert_eq!(values[20], 0);
    assert_eq!(
        values[21],
        signed(task, "sched_reset_on_fork"),
        "bitfield signed"
    );
    assert_eq!(values[22], u64::from(task), "task_struct's id in vmlinux");
    let pid_type = vmlinux
        .find_by_name_kind("pid_type", BtfKind::Enum)
        .expect("pid_type");
    assert_eq!(values[28], u64::from(pid_type), "pid_type's id in vmlinux");
    assert_eq!(
        values[23], 1,
        "TaskStruct's int, int and unsigned int members match"
    );
    assert_eq!(values[24], 0, "pid is no u64");
    assert_eq!(values[25], 1, "yet task_struct___wrong.pid exists");
    // comm: [u8; 16] is an unsigned char[16]; pahole encodes `char` unsigned since 1.2x.
    let char_id = vmlinux
        .find_by_name_kind("char", BtfKind::Int)
        .expect("char");
    let char_signed = vmlinux
        .type_by_id(char_id)
        .expect("char")
        .int_info()
        .is_some_and(|i| i.encoding & 1 != 0);
    assert_eq!(values[26], u64::from(!char_signed), "char[16] comm");
    assert_eq!(values[27], 1, "pid_type has the declared enumerators");
}
