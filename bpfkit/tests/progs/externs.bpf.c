/* SPDX-License-Identifier: (MIT OR Apache-2.0) */
/* .kconfig and .ksyms externs, read by BPF_PROG_SYSCALL programs and written to .bss so the test
 * compares them with what user space computes. Each program is non-autoload ("?") so a test loads
 * only the one it checks. */
#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>

/* Virtual externs the loader computes. */
extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern bool LINUX_HAS_BPF_COOKIE __kconfig;
extern bool LINUX_HAS_SYSCALL_WRAPPER __kconfig;
/* From the kernel's configuration. */
extern bool CONFIG_BPF_SYSCALL __kconfig;
extern enum libbpf_tristate CONFIG_DEBUG_INFO_BTF __kconfig;
extern int CONFIG_HZ __kconfig;
extern char CONFIG_LOCALVERSION[16] __kconfig;
/* Absent from every kernel: zero unless the loader overrides it. */
extern bool CONFIG_BPFKIT_NO_SUCH_OPTION __kconfig __weak;
extern long long CONFIG_BPFKIT_OVERRIDE __kconfig __weak;

/* Typeless: an address from /proc/kallsyms. */
extern const void _stext __ksym;
extern const void bpfkit_no_such_symbol __ksym __weak;
/* Typed (a per-CPU variable in kernel BTF). */
extern const int bpf_prog_active __ksym;
extern const int bpfkit_no_such_variable __ksym __weak;

/* A complete struct (not a forward declaration): kfunc prototypes are checked against kernel BTF
 * the way libbpf checks them, and a FWD does not match the kernel's STRUCT. */
struct task_struct {
	int placeholder;
};
extern struct task_struct *bpf_task_from_pid(int pid) __ksym;
extern void bpf_task_release(struct task_struct *task) __ksym;
extern void bpfkit_no_such_kfunc(void) __ksym __weak;

struct args {
	int pid;
};

__u64 kernel_version;
__u64 has_bpf_cookie;
__u64 has_syscall_wrapper;
__u64 bpf_syscall;
__u64 debug_info_btf;
__u64 hz;
char localversion[16];
__u64 absent_config;
__u64 override_value;

__u64 stext_address;
__u64 absent_symbol_address;
__u64 absent_variable_address;
__u64 prog_active_seen;
__u64 task_found;
__u64 absent_kfunc_present;

SEC("?syscall")
int read_kconfig(void *ctx)
{
	kernel_version = LINUX_KERNEL_VERSION;
	has_bpf_cookie = LINUX_HAS_BPF_COOKIE;
	has_syscall_wrapper = LINUX_HAS_SYSCALL_WRAPPER;
	bpf_syscall = CONFIG_BPF_SYSCALL;
	debug_info_btf = CONFIG_DEBUG_INFO_BTF;
	hz = CONFIG_HZ;
	__builtin_memcpy(localversion, CONFIG_LOCALVERSION, sizeof(localversion));
	absent_config = CONFIG_BPFKIT_NO_SUCH_OPTION;
	override_value = CONFIG_BPFKIT_OVERRIDE;
	return 0;
}

SEC("?syscall")
int read_ksyms(void *ctx)
{
	stext_address = (__u64)&_stext;
	absent_symbol_address = (__u64)&bpfkit_no_such_symbol;
	absent_variable_address = (__u64)&bpfkit_no_such_variable;
	return 0;
}

SEC("?syscall")
int read_percpu(void *ctx)
{
	const int *active = bpf_this_cpu_ptr(&bpf_prog_active);

	/* The running program itself does not count in bpf_prog_active for syscall programs; any
	 * readable value proves the typed ksym resolved to the per-CPU variable. */
	prog_active_seen = 1 + (*active > 0x7fffffff);
	return 0;
}

SEC("?syscall")
int call_kfuncs(struct args *ctx)
{
	struct task_struct *task = bpf_task_from_pid(ctx->pid);

	if (task) {
		task_found = 1;
		bpf_task_release(task);
	} else {
		task_found = 2;
	}
	/* A weak kfunc the kernel lacks has address 0, so the verifier prunes its (poisoned) call. */
	absent_kfunc_present = (__u64)&bpfkit_no_such_kfunc != 0;
	if (&bpfkit_no_such_kfunc)
		bpfkit_no_such_kfunc();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
