/* SPDX-License-Identifier: (MIT OR Apache-2.0) */
/* A strong (non-weak) Kconfig extern no kernel has: loading must fail naming it. */
#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>

extern bool CONFIG_BPFKIT_REQUIRED_BUT_ABSENT __kconfig;

__u64 seen;

SEC("syscall")
int needs_absent_config(void *ctx)
{
	seen = CONFIG_BPFKIT_REQUIRED_BUT_ABSENT;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
