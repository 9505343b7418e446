// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* A program the verifier must reject: it reads packet data without checking data_end first. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int unchecked_read(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;

	/* No `data + 101 > data_end` check: "invalid access to packet". */
	return data[100] == 0xff ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
