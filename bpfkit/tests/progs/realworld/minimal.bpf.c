// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* libbpf-bootstrap's "minimal": print from write(2) calls of one process, chosen in .rodata.
 * bpfkit-needs: none */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile int target_pid = 0;

SEC("tp/syscalls/sys_enter_write")
int handle_write(void *ctx)
{
	int pid = bpf_get_current_pid_tgid() >> 32;

	if (target_pid != 0 && pid != target_pid)
		return 0;
	bpf_printk("write(2) from pid %d", pid);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
