// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* One map per BTF map attribute, legacy SEC("maps") maps, map-in-map with initial inner maps, and
 * a prog array with initial programs. The XDP programs are run with BPF_PROG_TEST_RUN. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* libbpf 1.0 removed `struct bpf_map_def`; legacy objects define it themselves. */
struct legacy_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct legacy_map_def legacy_hash SEC("maps") = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 16,
	.map_flags = BPF_F_NO_PREALLOC,
};

struct legacy_map_def legacy_array SEC("maps") = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 4,
};

/* key/value given by type. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} typed_hash SEC(".maps");

/* key/value given by size. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, 24);
	__uint(max_entries, 3);
} sized_array SEC(".maps");

/* numa_node is only honoured with BPF_F_NUMA_NODE (as with libbpf). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 8);
	__uint(map_flags, BPF_F_NUMA_NODE);
	__uint(numa_node, 0);
} numa_hash SEC(".maps");

/* map_extra: the number of hash functions of a bloom filter. */
struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__type(value, __u32);
	__uint(max_entries, 64);
	__uint(map_extra, 3);
} bloom SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pinned_counts SEC(".maps");

struct inner_array {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
};

struct inner_array inner_a SEC(".maps");
struct inner_array inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner_array);
} outer_array SEC(".maps") = {
	.values = { &inner_a, &inner_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner_array);
} outer_hash SEC(".maps") = {
	.values = { [3] = &inner_b },
};

/* Written by read_inner: what each outer slot's inner map holds at index 0, or NOT_FOUND. */
#define NOT_FOUND 0xdeadbeef
__u32 via_array_0 = 0;
__u32 via_array_1 = 0;
__u32 via_hash_3 = 0;
__u32 via_hash_0 = 0;

static __always_inline __u32 inner_value(void *outer, __u32 key)
{
	__u32 zero = 0, *value;
	void *inner = bpf_map_lookup_elem(outer, &key);

	if (!inner)
		return NOT_FOUND;
	value = bpf_map_lookup_elem(inner, &zero);
	return value ? *value : NOT_FOUND;
}

SEC("xdp")
int read_inner(struct xdp_md *ctx)
{
	via_array_0 = inner_value(&outer_array, 0);
	via_array_1 = inner_value(&outer_array, 1);
	via_hash_3 = inner_value(&outer_hash, 3);
	via_hash_0 = inner_value(&outer_hash, 0);
	return XDP_PASS;
}

/* Tail calls: tail_entry jumps to jump_table[tail_slot]; each target returns its own verdict. */
__u32 tail_slot = 0;
__u64 tail_hits = 0;

SEC("xdp")
int tail_to_tx(struct xdp_md *ctx)
{
	__sync_fetch_and_add(&tail_hits, 1);
	return XDP_TX;
}

SEC("xdp")
int tail_to_drop(struct xdp_md *ctx)
{
	__sync_fetch_and_add(&tail_hits, 1);
	return XDP_DROP;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, int(void *));
} jump_table SEC(".maps") = {
	.values = {
		[1] = (void *)&tail_to_tx,
		[2] = (void *)&tail_to_drop,
	},
};

SEC("xdp")
int tail_entry(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &jump_table, tail_slot);
	/* Empty slot: the tail call falls through. */
	return XDP_ABORTED;
}

/* Uses the legacy maps, so relocations against SEC("maps") symbols are exercised. */
SEC("xdp")
int use_legacy(struct xdp_md *ctx)
{
	__u32 key = 1;
	__u64 *slot = bpf_map_lookup_elem(&legacy_array, &key);
	__u64 one = 1, *seen;

	if (slot)
		__sync_fetch_and_add(slot, 1);
	seen = bpf_map_lookup_elem(&legacy_hash, &key);
	if (seen)
		__sync_fetch_and_add(seen, 1);
	else
		bpf_map_update_elem(&legacy_hash, &key, &one, BPF_NOEXIST);
	return XDP_PASS;
}

/* Touches the remaining maps so they are referenced from code, as real objects do. */
SEC("xdp")
int use_attributes(struct xdp_md *ctx)
{
	__u32 key = 0, value = 42;
	__u64 one = 1;

	bpf_map_update_elem(&typed_hash, &key, &one, BPF_ANY);
	bpf_map_update_elem(&numa_hash, &key, &value, BPF_ANY);
	bpf_map_push_elem(&bloom, &value, BPF_ANY);
	bpf_map_update_elem(&pinned_counts, &key, &one, BPF_ANY);
	return bpf_map_lookup_elem(&sized_array, &key) ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
