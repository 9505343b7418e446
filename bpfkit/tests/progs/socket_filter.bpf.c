// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Socket filter for a UDP socket: drops datagrams whose payload starts with 'x', keeps the rest.
 * On a UDP socket the filter sees the datagram from its UDP header on. */
#include <linux/bpf.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>

enum verdict_slot { KEPT = 0, DROPPED = 1 };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
} filter_stats SEC(".maps");

static __always_inline void bump(__u32 slot)
{
	__u64 *value = bpf_map_lookup_elem(&filter_stats, &slot);

	if (value)
		__sync_fetch_and_add(value, 1);
}

SEC("socket")
int udp_filter(struct __sk_buff *skb)
{
	char first = 0;

	if (bpf_skb_load_bytes(skb, sizeof(struct udphdr), &first, 1) == 0 && first == 'x') {
		bump(DROPPED);
		return 0;
	}
	bump(KEPT);
	return skb->len;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
