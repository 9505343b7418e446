// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* bpf-to-bpf calls and global data. `calls_main` (an XDP program, run with BPF_PROG_TEST_RUN)
 * sums 0..loop_iterations-1 with bpf_loop, adds a constant from .rodata.custom, scales the sum in a
 * static subprogram by a .rodata multiplier set before load, adds one in a global function, adds
 * a .data.custom value, and leaves the result and counters in .bss / .data. The test computes the
 * expected values from the same formula:
 *   result = (sum(0..loop_iterations) + custom_offset) * multiplier + 1 + custom_addend
 * and custom_addend grows by one after each run. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Set from user space before load; the verifier sees them as constants. */
const volatile __u32 multiplier = 1;
const volatile __u32 loop_iterations = 4;

/* .rodata.custom and .data.custom: custom data sections are separate maps. */
const volatile __u64 custom_offset SEC(".rodata.custom") = 11;
__u64 custom_addend SEC(".data.custom") = 7;

/* .bss */
__u64 runs = 0;
__u64 last_result = 0;
__u64 last_loop_sum = 0;

/* .data: starts non-zero so the test sees the initial contents were loaded. */
__u64 total = 100;

struct loop_state {
	__u64 sum;
};

static long add_index(__u32 index, void *data)
{
	struct loop_state *state = data;

	state->sum += index;
	return 0;
}

/* A static subprogram: verified as part of its caller. */
static __noinline __u64 scale(__u64 value)
{
	return value * multiplier;
}

/* A global function: the verifier checks it once, on its own, from its BTF signature. */
__noinline __u64 add_one(__u64 value)
{
	return value + 1;
}

SEC("xdp")
int calls_main(struct xdp_md *ctx)
{
	struct loop_state state = { .sum = 0 };
	__u64 result;

	bpf_loop(loop_iterations, add_index, &state, 0);
	result = add_one(scale(state.sum + custom_offset)) + custom_addend;

	last_loop_sum = state.sum;
	last_result = result;
	total += result;
	custom_addend += 1;
	__sync_fetch_and_add(&runs, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
