// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Exec tracing: every exec sends (pid, uid, comm) to user space through a ring buffer.
 * bpfkit-needs: none */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define COMM_LEN 16

struct exec_event {
	__u32 pid;
	__u32 uid;
	__u64 timestamp_ns;
	char comm[COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

const volatile __u32 min_uid = 0;
__u64 dropped_events = 0;

SEC("tp/sched/sched_process_exec")
int handle_exec(void *ctx)
{
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	struct exec_event *event;

	if (uid < min_uid)
		return 0;
	event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
	if (!event) {
		__sync_fetch_and_add(&dropped_events, 1);
		return 0;
	}
	event->pid = bpf_get_current_pid_tgid() >> 32;
	event->uid = uid;
	event->timestamp_ns = bpf_ktime_get_ns();
	bpf_get_current_comm(event->comm, sizeof(event->comm));
	bpf_ringbuf_submit(event, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
