// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* A program calling a function that lives in another executable section than .text and its own
 * (libbpf only links .text subprograms; bpfkit links any static function it reaches). Kept in its
 * own object so calls.bpf.c stays loadable by libbpf. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 section_result = 0;

static __noinline __attribute__((section(".text.helpers"))) __u64 triple(__u64 value)
{
	return value * 3;
}

/* .text subprogram calling into the other section too: calls chain across sections. */
static __noinline __u64 triple_plus_one(__u64 value)
{
	return triple(value) + 1;
}

SEC("xdp")
int cross_section(struct xdp_md *ctx)
{
	__u64 length = (long)ctx->data_end - (long)ctx->data;

	section_result = triple(length) + triple_plus_one(2);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
