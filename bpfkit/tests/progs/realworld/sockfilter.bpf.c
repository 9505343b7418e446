// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* libbpf-bootstrap's "sockfilter" idea: a raw-socket filter that reports the IP protocol of each
 * IPv4 packet through a ring buffer and lets every packet through.
 * bpfkit-needs: none */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>

struct packet_event {
	__u32 ip_protocol;
	__u32 length;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} packets SEC(".maps");

/* The classic-BPF style loads; `llvm.bpf.load.byte` is the LD_ABS instruction. */
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");

SEC("socket")
int socket_handler(struct __sk_buff *skb)
{
	struct packet_event *event;
	__u32 protocol;

	if (load_half(skb, offsetof(struct ethhdr, h_proto)) != ETH_P_IP)
		return skb->len;
	/* LD_ABS may end the program, so it must not run while a ring buffer record is held. */
	protocol = load_byte(skb, ETH_HLEN + offsetof(struct iphdr, protocol));
	event = bpf_ringbuf_reserve(&packets, sizeof(*event), 0);
	if (!event)
		return skb->len;
	event->ip_protocol = protocol;
	event->length = skb->len;
	bpf_ringbuf_submit(event, 0);
	return skb->len;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
