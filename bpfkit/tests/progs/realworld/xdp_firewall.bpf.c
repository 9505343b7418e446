// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* XDP firewall: drops IPv4 packets whose source matches a prefix in an LPM trie, with per-CPU
 * verdict statistics. Written against UAPI headers, as in xdp-tutorial.
 * bpfkit-needs: none */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct ipv4_prefix {
	__u32 prefixlen;
	__u32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct ipv4_prefix);
	__type(value, __u32);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} blocked_sources SEC(".maps");

enum { STAT_PASS = 0, STAT_DROP = 1, STAT_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, STAT_MAX);
} verdicts SEC(".maps");

static __always_inline int account(__u32 stat, int verdict)
{
	__u64 *count = bpf_map_lookup_elem(&verdicts, &stat);

	if (count)
		*count += 1;
	return verdict;
}

SEC("xdp")
int xdp_firewall(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct ipv4_prefix key;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return account(STAT_PASS, XDP_PASS);
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return account(STAT_PASS, XDP_PASS);
	key.prefixlen = 32;
	key.addr = ip->saddr;
	if (bpf_map_lookup_elem(&blocked_sources, &key))
		return account(STAT_DROP, XDP_DROP);
	return account(STAT_PASS, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
