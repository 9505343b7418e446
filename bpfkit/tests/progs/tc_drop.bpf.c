// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* TC classifier dropping UDP datagrams to one destination port, set from user space in .rodata
 * before load. The same logic is offered for a netlink cls_bpf filter (SEC("tc")) and for a TCX
 * link (SEC("tcx/ingress")); TC_ACT_OK/TC_ACT_SHOT have the values of TCX_PASS/TCX_DROP. */
#include "common.h"
#include <linux/pkt_cls.h>

/* Port to drop, in host order; 0 drops nothing. */
const volatile __u16 drop_port = 0;

__u64 dropped = 0;
__u64 passed_udp = 0;

static __always_inline int classify(struct __sk_buff *skb)
{
	struct udphdr *udp = udp_header_of((void *)(long)skb->data, (void *)(long)skb->data_end);

	if (!udp)
		return TC_ACT_OK;
	if (drop_port != 0 && udp->dest == bpf_htons(drop_port)) {
		__sync_fetch_and_add(&dropped, 1);
		return TC_ACT_SHOT;
	}
	__sync_fetch_and_add(&passed_udp, 1);
	return TC_ACT_OK;
}

SEC("tc")
int tc_drop(struct __sk_buff *skb)
{
	return classify(skb);
}

SEC("tcx/ingress")
int tcx_drop(struct __sk_buff *skb)
{
	return classify(skb);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
