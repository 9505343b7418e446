// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* XDP: counts received packets per IP protocol. `xdp_count` counts into key = protocol;
 * `xdp_count_v2` (the replacement in the atomic replace test) counts into key = 1000 + protocol and
 * also bumps a .bss counter, so the test can tell which program saw which packet. */
#include "common.h"

#define V2_KEY_OFFSET 1000

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2048);
} counts SEC(".maps");

/* Packets seen by xdp_count_v2, whatever their protocol. */
__u64 v2_packets = 0;

static __always_inline void count(__u32 key)
{
	__u64 one = 1, *value;

	value = bpf_map_lookup_elem(&counts, &key);
	if (value) {
		__sync_fetch_and_add(value, 1);
		return;
	}
	/* Another CPU may have created the entry in between: then add to it. */
	if (bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST) != 0) {
		value = bpf_map_lookup_elem(&counts, &key);
		if (value)
			__sync_fetch_and_add(value, 1);
	}
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	int protocol = ip_protocol_of((void *)(long)ctx->data, (void *)(long)ctx->data_end);

	if (protocol >= 0)
		count(protocol);
	return XDP_PASS;
}

SEC("xdp")
int xdp_count_v2(struct xdp_md *ctx)
{
	int protocol = ip_protocol_of((void *)(long)ctx->data, (void *)(long)ctx->data_end);

	__sync_fetch_and_add(&v2_packets, 1);
	if (protocol >= 0)
		count(V2_KEY_OFFSET + protocol);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
