// CO-RE fixture: every relocation kind, through the bpf_core_read.h macros, on *local* type
// definitions marked preserve_access_index (no vmlinux.h needed). Relocated against the running
// kernel's BTF and against synthetic BTF by bpfkit-obj/tests/core.rs.
//
// Each result lands in results[] (.bss) so a kernel test can run the program and compare.
//
// With -DBPFKIT_NO_TYPE_MATCHES (the load benchmark, benches/fixtures) the TYPE_MATCHES relocations
// and the non-autoload programs are left out, so Aya 0.14, which rejects kind 12, can load it too.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct list_head {
	struct list_head *next;
	struct list_head *prev;
} __attribute__((preserve_access_index));

#ifndef BPFKIT_NO_TYPE_MATCHES
/* Same name, wrong layout: TYPE_MATCHES must say no. */
struct list_head___bad {
	int next;
} __attribute__((preserve_access_index));
#endif

/* A subset of the kernel's task_struct, in another order, plus a field no kernel has. */
struct task_struct {
	int pid;
	int tgid;
	unsigned int flags;
	char comm[16];
	unsigned int in_execve : 1;
	unsigned int sched_reset_on_fork : 1;
	struct list_head tasks;
	int bpfkit_missing_field;
} __attribute__((preserve_access_index));

/* The pre-5.14 flavor: `state` was renamed `__state`. */
struct task_struct___old {
	long state;
} __attribute__((preserve_access_index));

struct bpfkit_no_such_type {
	int x;
} __attribute__((preserve_access_index));

enum bpf_map_type___local {
	BPF_MAP_TYPE_HASH___local = 1,
	BPF_MAP_TYPE_ARENA___local = 99,
	BPF_MAP_TYPE_BPFKIT_GONE___local = 1000,
};

__u64 results[32];

SEC("raw_tp/sys_enter")
int core_all(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();

	results[0] = BPF_CORE_READ(t, pid);
	results[1] = bpf_core_field_exists(t->pid);
	results[2] = bpf_core_field_size(t->comm);
	results[3] = BPF_CORE_READ_BITFIELD_PROBED(t, in_execve);
	results[4] = bpf_core_type_exists(struct task_struct);
	results[5] = bpf_core_type_size(struct task_struct);
	results[6] = bpf_core_type_id_local(struct task_struct);
	results[7] = bpf_core_type_id_kernel(struct task_struct);
#ifndef BPFKIT_NO_TYPE_MATCHES
	results[8] = bpf_core_type_matches(struct list_head);
	results[9] = bpf_core_type_matches(struct list_head___bad);
#endif
	results[10] = bpf_core_enum_value_exists(enum bpf_map_type___local, BPF_MAP_TYPE_ARENA___local);
	results[11] = bpf_core_enum_value(enum bpf_map_type___local, BPF_MAP_TYPE_ARENA___local);
	results[12] = bpf_core_enum_value_exists(enum bpf_map_type___local,
						 BPF_MAP_TYPE_BPFKIT_GONE___local);
	results[13] = bpf_core_type_exists(struct bpfkit_no_such_type);
	results[14] = bpf_core_field_exists(((struct task_struct___old *)t)->state);
	/* Guarded: relocation poisons the read, the guard makes it dead code. */
	if (bpf_core_field_exists(t->bpfkit_missing_field))
		results[15] = BPF_CORE_READ(t, bpfkit_missing_field);
	else
		results[15] = 77;
	results[16] = __builtin_preserve_field_info(t->pid, BPF_FIELD_SIGNED);
	results[17] = (__u64)BPF_CORE_READ(t, tasks.next);
	results[18] = bpf_core_field_offset(t->comm[3]);
	results[19] = bpf_core_field_offset(t->tgid);
	return 0;
}

#ifndef BPFKIT_NO_TYPE_MATCHES
/* Unguarded use of a field no kernel has: poisoned, so the verifier must reject it. */
SEC("?raw_tp/sys_enter")
int core_unguarded(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();

	results[20] = BPF_CORE_READ(t, bpfkit_missing_field);
	return 0;
}

/* Direct loads through a BTF pointer: the CO-RE offset lands in LDX instructions. */
SEC("?tp_btf/sched_switch")
int core_direct(unsigned long long *ctx)
{
	struct task_struct *prev = (void *)ctx[1];

	results[21] = prev->pid;
	results[22] = prev->flags;
	return 0;
}
#endif

char LICENSE[] SEC("license") = "GPL";
