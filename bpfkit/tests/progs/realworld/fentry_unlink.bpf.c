// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* libbpf-bootstrap's "fentry": logs unlinkat(2) calls and their results. The attach target is a
 * kernel function, found through kernel BTF at load time.
 * bpfkit-needs: btf-attach core */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("fentry/do_unlinkat")
int BPF_PROG(unlink_entry, int dfd, struct filename *name)
{
	pid_t pid = bpf_get_current_pid_tgid() >> 32;

	bpf_printk("fentry: pid = %d, filename = %s", pid, name->name);
	return 0;
}

SEC("fexit/do_unlinkat")
int BPF_PROG(unlink_exit, int dfd, struct filename *name, long ret)
{
	pid_t pid = bpf_get_current_pid_tgid() >> 32;

	bpf_printk("fexit: pid = %d, filename = %s, ret = %ld", pid, name->name, ret);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
