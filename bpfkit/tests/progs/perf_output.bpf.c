// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Writes records user space can check byte for byte into a perf event array, for the perf buffer
 * reader's tests. Run with BPF_PROG_TEST_RUN (optionally on a chosen CPU); the context is three
 * u64 arguments: the first sequence number, how many records (at most MAX_RECORDS) and their
 * length (8 to MAX_LEN bytes; odd lengths make the kernel pad the sample, and records then end at
 * every offset of the ring, so some straddle its end).
 *
 * Record: u32 sequence number, u32 CPU, then byte j (j >= 8) = (sequence + j) & 0xff.
 * Returns (records written) | (records the kernel refused, e.g. ring full) << 16. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAX_RECORDS 64
#define MAX_LEN 64

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events SEC(".maps");

SEC("raw_tp")
int emit(__u64 *ctx)
{
	__u8 record[MAX_LEN];
	__u32 first = ctx[0];
	__u32 count = ctx[1];
	__u64 len = ctx[2];
	__u32 cpu = bpf_get_smp_processor_id();
	__u32 written = 0, refused = 0;

	if (len < 8 || len > MAX_LEN)
		return -1;
	for (__u32 i = 0; i < MAX_RECORDS; i++) {
		__u32 seq = first + i;

		if (i >= count)
			break;
		*(__u32 *)&record[0] = seq;
		*(__u32 *)&record[4] = cpu;
#pragma unroll
		for (__u32 j = 8; j < MAX_LEN; j++)
			record[j] = (seq + j) & 0xff;
		if (bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, record, len) == 0)
			written++;
		else
			refused++;
	}
	return written | refused << 16;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
