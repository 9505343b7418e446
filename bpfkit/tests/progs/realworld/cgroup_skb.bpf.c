// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* cgroup_skb: counts egress bytes of a cgroup per IP version and refuses packets to a port set
 * in .rodata.
 * bpfkit-needs: none */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

const volatile __u16 blocked_port = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
} egress_bytes SEC(".maps");

SEC("cgroup_skb/egress")
int count_egress(struct __sk_buff *skb)
{
	__u32 slot = skb->protocol == bpf_htons(0x86DD) ? 1 : 0;
	__u64 *bytes = bpf_map_lookup_elem(&egress_bytes, &slot);
	struct iphdr ip;
	struct udphdr udp;

	if (bytes)
		__sync_fetch_and_add(bytes, skb->len);
	if (blocked_port == 0 || slot != 0)
		return 1;
	/* cgroup_skb sees the packet from the network header. */
	if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) || ip.protocol != IPPROTO_UDP)
		return 1;
	if (bpf_skb_load_bytes(skb, ip.ihl * 4, &udp, sizeof(udp)))
		return 1;
	return udp.dest == bpf_htons(blocked_port) ? 0 : 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
