/* SPDX-License-Identifier: (MIT OR Apache-2.0) */
/* Shared by the bpfkit test programs: packet parsing on UAPI headers only, so the objects rebuild
 * without a vmlinux.h. */
#ifndef BPFKIT_TEST_COMMON_H
#define BPFKIT_TEST_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* The IP protocol of an Ethernet frame (IPv4 protocol or IPv6 next header), or -1 when the frame
 * is neither or is too short. */
static __always_inline int ip_protocol_of(void *data, void *data_end)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return -1;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end)
			return -1;
		return ip->protocol;
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		return ip6->nexthdr;
	}
	return -1;
}

/* The UDP header of an Ethernet + IPv4 frame, or NULL. */
static __always_inline struct udphdr *udp_header_of(void *data, void *data_end)
{
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct udphdr *udp;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return NULL;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_UDP || ip->ihl < 5)
		return NULL;
	udp = (void *)ip + ip->ihl * 4;
	if ((void *)(udp + 1) > data_end)
		return NULL;
	return udp;
}

#endif
