//! BTF map attributes as the kernel reports them, pinning by name, legacy maps, map-in-map with
//! initial inner maps, and a prog array with initial programs used by a tail call.

#[macro_use]
mod common;

use bpfkit::maps::{Array, HashMap, MapData};
use bpfkit::programs::TestRunOptions;
use bpfkit::{Ebpf, EbpfLoader};
use common::Bpffs;

// UAPI values (include/uapi/linux/bpf.h).
const BPF_MAP_TYPE_HASH: u32 = 1;
const BPF_MAP_TYPE_ARRAY: u32 = 2;
const BPF_MAP_TYPE_PROG_ARRAY: u32 = 3;
const BPF_MAP_TYPE_ARRAY_OF_MAPS: u32 = 12;
const BPF_MAP_TYPE_HASH_OF_MAPS: u32 = 13;
const BPF_MAP_TYPE_BLOOM_FILTER: u32 = 30;
const BPF_F_NO_PREALLOC: u32 = 1;
const BPF_F_NUMA_NODE: u32 = 1 << 2;
const XDP_ABORTED: u32 = 0;
const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;
const XDP_TX: u32 = 3;
/// What read_inner stores when an outer slot is empty.
const NOT_FOUND: u32 = 0xdead_beef;

fn load_in(bpffs: &Bpffs) -> Ebpf {
    EbpfLoader::new()
        .pin_path(bpffs.path())
        .load(&common::object("maps.bpf.o"))
        .expect("loading maps.bpf.o")
}

fn map<'a>(ebpf: &'a Ebpf, name: &str) -> &'a MapData {
    ebpf.map(name).unwrap_or_else(|| panic!("no map {name}"))
}

fn run(ebpf: &Ebpf, program: &str) -> u32 {
    let packet = [0u8; 64];
    ebpf.program(program)
        .unwrap_or_else(|| panic!("no program {program}"))
        .data()
        .test_run(&TestRunOptions {
            data_in: &packet,
            repeat: 1,
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("test run of {program}: {e}"))
        .retval
}

/// (type, key size, value size, max entries, flags) as the kernel reports them.
fn shape(ebpf: &Ebpf, name: &str) -> (u32, u32, u32, u32, u32) {
    let info = map(ebpf, name).info();
    (
        info.map_type,
        info.key_size,
        info.value_size,
        info.max_entries,
        info.map_flags,
    )
}

#[test]
fn btf_map_attributes_reach_the_kernel() {
    require_root!();
    let bpffs = Bpffs::new();
    let ebpf = load_in(&bpffs);
    assert_eq!(
        shape(&ebpf, "typed_hash"),
        (BPF_MAP_TYPE_HASH, 4, 8, 32, BPF_F_NO_PREALLOC),
        "key/value by type"
    );
    assert_eq!(
        shape(&ebpf, "sized_array"),
        (BPF_MAP_TYPE_ARRAY, 4, 24, 3, 0),
        "key_size/value_size"
    );
    assert_eq!(
        shape(&ebpf, "numa_hash"),
        (BPF_MAP_TYPE_HASH, 4, 4, 8, BPF_F_NUMA_NODE),
        "numa_node"
    );
    assert_eq!(
        ebpf.object().map("numa_hash").expect("spec").numa_node,
        Some(0)
    );
    assert_eq!(
        shape(&ebpf, "bloom"),
        (BPF_MAP_TYPE_BLOOM_FILTER, 0, 4, 64, 0),
        "bloom filter"
    );
    assert_eq!(
        map(&ebpf, "bloom").info().map_extra,
        3,
        "map_extra (hash functions)"
    );
    assert_eq!(shape(&ebpf, "outer_array").0, BPF_MAP_TYPE_ARRAY_OF_MAPS);
    assert_eq!(shape(&ebpf, "outer_hash").0, BPF_MAP_TYPE_HASH_OF_MAPS);
    assert_eq!(
        shape(&ebpf, "jump_table"),
        (BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0)
    );
    assert_eq!(run(&ebpf, "use_attributes"), XDP_PASS);
    let typed: HashMap<_, u32, u64> = HashMap::try_from(map(&ebpf, "typed_hash")).expect("hash");
    assert_eq!(typed.get(&0).expect("lookup"), Some(1));
}

#[test]
fn max_entries_can_be_changed_before_load() {
    require_root!();
    let bpffs = Bpffs::new();
    let ebpf = EbpfLoader::new()
        .pin_path(bpffs.path())
        .set_max_entries("typed_hash", 100)
        .load(&common::object("maps.bpf.o"))
        .expect("load");
    assert_eq!(shape(&ebpf, "typed_hash").3, 100);
}

#[test]
fn legacy_maps_are_created_and_used() {
    require_root!();
    let bpffs = Bpffs::new();
    let ebpf = load_in(&bpffs);
    assert_eq!(
        shape(&ebpf, "legacy_hash"),
        (BPF_MAP_TYPE_HASH, 4, 8, 16, BPF_F_NO_PREALLOC)
    );
    assert_eq!(
        shape(&ebpf, "legacy_array"),
        (BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0)
    );
    assert_eq!(run(&ebpf, "use_legacy"), XDP_PASS);
    assert_eq!(run(&ebpf, "use_legacy"), XDP_PASS);
    let array: Array<_, u64> = Array::try_from(map(&ebpf, "legacy_array")).expect("array");
    assert_eq!(array.get(1).expect("lookup"), 2);
    let hash: HashMap<_, u32, u64> = HashMap::try_from(map(&ebpf, "legacy_hash")).expect("hash");
    assert_eq!(hash.get(&1).expect("lookup"), Some(2));
}

#[test]
fn pinning_by_name_pins_under_the_pin_path_and_reuses() {
    require_root!();
    let bpffs = Bpffs::new();
    let pin = bpffs.path().join("pinned_counts");
    let first = load_in(&bpffs);
    assert!(pin.exists(), "{} was not created", pin.display());
    // Only maps marked LIBBPF_PIN_BY_NAME are pinned.
    assert!(!bpffs.path().join("typed_hash").exists());
    let counts: HashMap<_, u32, u64> =
        HashMap::try_from(map(&first, "pinned_counts")).expect("hash");
    counts.insert(&7, &99).expect("insert");

    let second = load_in(&bpffs);
    let first_id = map(&first, "pinned_counts").info().id;
    let second_id = map(&second, "pinned_counts").info().id;
    assert_eq!(
        first_id, second_id,
        "the second load must reuse the pinned map"
    );
    // Maps that are not pinned are created afresh.
    assert_ne!(
        map(&first, "typed_hash").info().id,
        map(&second, "typed_hash").info().id
    );
    let reused: HashMap<_, u32, u64> =
        HashMap::try_from(map(&second, "pinned_counts")).expect("hash");
    assert_eq!(reused.get(&7).expect("lookup"), Some(99));

    // The pin outlives both loads.
    drop(first);
    drop(second);
    let from_pin = MapData::from_pin(&pin).expect("opening the pin");
    assert_eq!(from_pin.info().id, first_id);
}

#[test]
fn map_in_map_slots_hold_the_initial_inner_maps() {
    require_root!();
    let bpffs = Bpffs::new();
    let ebpf = load_in(&bpffs);
    let inner_a: Array<_, u32> = Array::try_from(map(&ebpf, "inner_a")).expect("array");
    let inner_b: Array<_, u32> = Array::try_from(map(&ebpf, "inner_b")).expect("array");
    inner_a.set(0, &11).expect("set");
    inner_b.set(0, &22).expect("set");
    assert_eq!(run(&ebpf, "read_inner"), XDP_PASS);
    let read = |name: &str| {
        ebpf.global::<u32>(name)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    assert_eq!(read("via_array_0"), 11, "outer_array[0] = inner_a");
    assert_eq!(read("via_array_1"), 22, "outer_array[1] = inner_b");
    assert_eq!(read("via_hash_3"), 22, "outer_hash[3] = inner_b");
    assert_eq!(
        read("via_hash_0"),
        NOT_FOUND,
        "outer_hash[0] was not initialised"
    );
}

#[test]
fn prog_array_initial_programs_serve_tail_calls() {
    require_root!();
    let bpffs = Bpffs::new();
    let ebpf = load_in(&bpffs);
    for (slot, verdict) in [
        (1u32, XDP_TX),
        (2, XDP_DROP),
        (3, XDP_ABORTED),
        (0, XDP_ABORTED),
    ] {
        ebpf.set_global("tail_slot", &slot).expect("tail_slot");
        assert_eq!(run(&ebpf, "tail_entry"), verdict, "slot {slot}");
    }
    assert_eq!(
        ebpf.global::<u64>("tail_hits").expect("tail_hits"),
        2,
        "two slots hold programs"
    );
}
