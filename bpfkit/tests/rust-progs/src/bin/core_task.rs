//! CO-RE for Rust: reads the current task's `pid`, `tgid` and `real_parent->tgid` at offsets
//! the bpfkit loader resolved from the kernel's BTF, plus a field no kernel has, guarded by its
//! `_exists()` accessor, members of embedded structs (`se.sum_exec_runtime`, `loginuid.val`),
//! an array element's member behind a pointer (`signal->rlim[RLIMIT_NOFILE].rlim_cur`), the
//! signedness, type id and type-match slots. Run with BPF_PROG_TEST_RUN, the raw tracepoint
//! program runs in the caller's task; it stores what it read in `results`.

#![no_std]
#![no_main]

use bpfkit_ebpf::helpers::bpf_get_current_task;
use bpfkit_ebpf::macros::{kernel_enum, kernel_struct, map, raw_tracepoint};
use bpfkit_ebpf::maps::Array;
use bpfkit_ebpf::programs::RawTracePointContext;
use bpfkit_rust_test_progs as _;

/// The part of the kernel's `task_struct` this program needs.
#[kernel_struct(name = "task_struct")]
struct TaskStruct {
    pid: i32,
    tgid: i32,
    real_parent: *const TaskStruct,
    /// A one-bit bitfield, set by `sched_setscheduler(SCHED_RESET_ON_FORK)`.
    #[bitfield]
    sched_reset_on_fork: u32,
    /// No kernel has this field: its accessors are guarded by `_exists()`.
    #[optional]
    bpfkit_no_such_field: u64,
    /// A member of the embedded `struct sched_entity se`.
    #[path = "se.sum_exec_runtime"]
    sum_exec_runtime: u64,
    /// `kuid_t loginuid`: a typedef of an anonymous struct holding `val`.
    #[path = "loginuid.val"]
    loginuid: u32,
    /// In an anonymous union of `sched_entity` since the EEVDF scheduler (6.6); absent before.
    #[optional]
    #[path = "se.vlag"]
    vlag: i64,
    signal: *const SignalStruct,
}

/// The signal struct a task points to.
#[kernel_struct(name = "signal_struct")]
struct SignalStruct {
    /// `rlim[RLIMIT_NOFILE].rlim_cur` (RLIMIT_NOFILE is 7 on every architecture but alpha,
    /// mips, sparc).
    #[path = "rlim[7].rlim_cur"]
    nofile_cur: u64,
}

/// `pid` declared as a u64: field slots still resolve (libbpf's field rules ignore integer
/// sizes) but the type does not match.
#[kernel_struct(name = "task_struct___wrong")]
struct TaskStructWrong {
    pid: u64,
}

/// A flavor of the same kernel type: `task_struct___old` matches `task_struct`.
#[kernel_struct(name = "task_struct___old")]
struct TaskStructOld {
    comm: [u8; 16],
}

/// Enumerator values of the running kernel, listed out of the kernel's order (the local
/// positions are not the values).
#[kernel_enum(name = "pid_type")]
#[allow(non_camel_case_types)]
enum PidType {
    PIDTYPE_MAX,
    PIDTYPE_SID,
    PIDTYPE_TGID,
    /// No kernel has it.
    #[optional]
    PIDTYPE_BPFKIT_NONE,
}

/// Slots: 0 pid, 1 tgid, 2 parent tgid, 3 absent-field value (or u64::MAX when guarded off),
/// 4 absent field exists, 5 task_struct size, 6 comm size (from the flavored type), 7 runs,
/// 8 `sched_reset_on_fork` (u64::MAX when unreadable), 9 PIDTYPE_TGID, 10 PIDTYPE_MAX,
/// 11 PIDTYPE_SID, 12 whether PIDTYPE_BPFKIT_NONE exists, 13 whether pid_type exists,
/// 14 se.sum_exec_runtime, 15 loginuid.val, 16 signal->rlim[7].rlim_cur, 17 se.vlag exists,
/// 18 se.vlag signed, 19 pid signed, 20 se.sum_exec_runtime signed, 21 sched_reset_on_fork
/// signed, 22 task_struct type id, 23 TaskStruct type matches, 24 TaskStructWrong type matches,
/// 25 TaskStructWrong pid exists, 26 TaskStructOld type matches, 27 PidType type matches,
/// 28 pid_type type id (u64::MAX for unreadable values).
#[map]
static results: Array<u64, 29> = Array::new();

fn store(index: u32, value: u64) {
    if let Some(slot) = results.get_ptr_mut(index) {
        // SAFETY: a valid pointer into the array's value, returned by the lookup helper.
        unsafe { *slot = value };
    }
}

#[raw_tracepoint("sys_enter")]
fn core_task(_ctx: RawTracePointContext) -> i32 {
    // SAFETY: the helper takes no argument and returns the current task's address.
    let task = unsafe { bpf_get_current_task() } as *const TaskStruct;
    store(0, TaskStruct::pid(task).map_or(u64::MAX, |v| v as u64));
    store(1, TaskStruct::tgid(task).map_or(u64::MAX, |v| v as u64));
    if let Ok(parent) = TaskStruct::real_parent(task) {
        store(2, TaskStruct::tgid(parent).map_or(u64::MAX, |v| v as u64));
    }
    let absent = if TaskStruct::bpfkit_no_such_field_exists() {
        TaskStruct::bpfkit_no_such_field(task).unwrap_or(u64::MAX - 1)
    } else {
        u64::MAX
    };
    store(3, absent);
    store(4, TaskStruct::bpfkit_no_such_field_exists() as u64);
    store(5, TaskStruct::type_size());
    store(6, TaskStructOld::comm_size());
    store(7, 1);
    store(
        8,
        TaskStruct::sched_reset_on_fork(task).map_or(u64::MAX, u64::from),
    );
    store(9, PidType::PIDTYPE_TGID());
    store(10, PidType::PIDTYPE_MAX());
    store(11, PidType::PIDTYPE_SID());
    store(12, PidType::PIDTYPE_BPFKIT_NONE_exists() as u64);
    store(13, PidType::type_exists() as u64);
    store(14, TaskStruct::sum_exec_runtime(task).unwrap_or(u64::MAX));
    store(15, TaskStruct::loginuid(task).map_or(u64::MAX, u64::from));
    let nofile = TaskStruct::signal(task).and_then(|signal| SignalStruct::nofile_cur(signal));
    store(16, nofile.unwrap_or(u64::MAX));
    store(17, TaskStruct::vlag_exists() as u64);
    store(18, TaskStruct::vlag_signed() as u64);
    store(19, TaskStruct::pid_signed() as u64);
    store(20, TaskStruct::sum_exec_runtime_signed() as u64);
    store(21, TaskStruct::sched_reset_on_fork_signed() as u64);
    store(22, u64::from(TaskStruct::type_id()));
    store(23, TaskStruct::type_matches() as u64);
    store(24, TaskStructWrong::type_matches() as u64);
    store(25, TaskStructWrong::pid_exists() as u64);
    store(26, TaskStructOld::type_matches() as u64);
    store(27, PidType::type_matches() as u64);
    store(28, u64::from(PidType::type_id()));
    0
}

bpfkit_ebpf::license!("Dual MIT/GPL");
