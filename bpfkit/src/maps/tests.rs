//! Kernel tests for the typed maps (root; otherwise they print a skip line).

use bpfkit_obj::uapi::map_type::*;

use super::*;
use crate::sys::tests::{skip_without_root, BpffsGuard};

fn create(map_type: u32, key_size: u32, value_size: u32, max_entries: u32, name: &str) -> MapData {
    MapData::create(&MapCreate {
        map_type,
        key_size,
        value_size,
        max_entries,
        name,
        ..Default::default()
    })
    .expect("create map")
}

#[test]
fn hash_map_ops_pin_and_reopen() {
    if skip_without_root("hash_map_ops_pin_and_reopen") {
        return;
    }
    let data = create(BPF_MAP_TYPE_HASH, 4, 8, 32, "maps_hash");
    assert_eq!(
        (
            data.name(),
            data.key_size(),
            data.value_size(),
            data.max_entries()
        ),
        ("maps_hash", 4, 8, 32)
    );
    let map: HashMap<_, u32, u64> = HashMap::try_from(&data).expect("typed");
    assert_eq!(map.get(&1).expect("get"), None);
    map.insert(&1, &10).expect("insert");
    map.insert(&2, &20).expect("insert");
    assert_eq!(map.get(&1).expect("get"), Some(10));
    let dup = map
        .insert_with_flags(&1, &11, UpdateFlags::NO_EXIST)
        .expect_err("exists");
    assert!(
        matches!(&dup, MapError::Syscall(e) if e.errno() == libc::EEXIST),
        "{dup}"
    );
    let missing = map
        .insert_with_flags(&3, &30, UpdateFlags::EXIST)
        .expect_err("missing");
    assert!(
        matches!(&missing, MapError::Syscall(e) if e.errno() == libc::ENOENT),
        "{missing}"
    );
    map.insert_with_flags(&1, &12, UpdateFlags::EXIST)
        .expect("replace");

    let mut entries: Vec<(u32, u64)> = map.iter().collect::<Result<_, _>>().expect("iter");
    entries.sort_unstable();
    assert_eq!(entries, vec![(1, 12), (2, 20)]);
    let mut keys: Vec<u32> = map.keys().collect::<Result<_, _>>().expect("keys");
    keys.sort_unstable();
    assert_eq!(keys, vec![1, 2]);

    // Pin, reopen from the pin as an owned MapData, see the same contents.
    let fs = BpffsGuard::mount("maps-hash");
    let pin = fs.path.join("hash");
    data.pin(&pin).expect("pin");
    let reopened = MapData::from_pin(&pin).expect("from pin");
    assert_eq!(reopened.info().id, data.info().id);
    let owned: HashMap<MapData, u32, u64> = HashMap::try_from(reopened).expect("typed owned");
    assert_eq!(owned.get(&2).expect("get"), Some(20));
    assert!(owned.remove(&2).expect("remove"));
    assert!(!owned.remove(&2).expect("remove again"));
    assert_eq!(map.get(&2).expect("get via first fd"), None);
    std::fs::remove_file(&pin).expect("unpin");

    // &mut MapData works too.
    let mut data = data;
    let by_mut: HashMap<&mut MapData, u32, u64> = HashMap::try_from(&mut data).expect("typed mut");
    assert_eq!(by_mut.get(&1).expect("get"), Some(12));
}

#[test]
fn iteration_survives_concurrent_deletion() {
    if skip_without_root("iteration_survives_concurrent_deletion") {
        return;
    }
    let data = create(BPF_MAP_TYPE_HASH, 4, 4, 64, "maps_iterdel");
    let map: HashMap<_, u32, u32> = HashMap::try_from(&data).expect("typed");
    for k in 0..20u32 {
        map.insert(&k, &k).expect("insert");
    }
    // Delete every key as soon as the iterator has produced it: the walk must still end
    // without an error and see every key at least once.
    let mut seen = std::collections::BTreeSet::new();
    for entry in map.iter() {
        let (k, v) = entry.expect("entry");
        assert_eq!(k, v);
        seen.insert(k);
        map.remove(&k).expect("remove");
    }
    assert_eq!(seen.len(), 20);
    assert_eq!(map.keys().count(), 0);
}

#[test]
fn hash_map_batches() {
    if skip_without_root("maps::hash_map_batches") {
        return;
    }
    let data = create(BPF_MAP_TYPE_HASH, 4, 8, 10_000, "maps_batch");
    let map: HashMap<_, u32, u64> = HashMap::try_from(&data).expect("typed");
    let keys: Vec<u32> = (0..5000).collect();
    let values: Vec<u64> = keys.iter().map(|k| u64::from(*k) * 3).collect();
    map.insert_batch(&keys, &values).expect("insert batch");
    assert!(matches!(
        map.insert_batch(&keys, &values[..1]),
        Err(MapError::BatchLengthMismatch { .. })
    ));
    let mut all = map.get_batch().expect("get batch");
    all.sort_unstable();
    assert_eq!(all.len(), 5000);
    assert!(all.iter().all(|(k, v)| *v == u64::from(*k) * 3));
    assert_eq!(map.remove_batch(&keys[..100]).expect("remove batch"), 100);
    let drained = map.get_and_remove_batch().expect("drain");
    assert_eq!(drained.len(), 4900);
    assert!(map.get_batch().expect("empty").is_empty());
}

#[test]
fn lru_hash_map() {
    if skip_without_root("lru_hash_map") {
        return;
    }
    let data = create(BPF_MAP_TYPE_LRU_HASH, 8, 4, 128, "maps_lru");
    let lru: LruHashMap<_, u64, u32> = LruHashMap::try_from(&data).expect("typed");
    for k in 0..1000u64 {
        lru.insert(&k, &1).expect("insert never fails: LRU evicts");
    }
    let count = lru.keys().count();
    assert!(count > 0 && count <= 128, "{count}");
    // HashMap accepts LRU maps too; LruHashMap refuses plain hash maps.
    assert!(HashMap::<_, u64, u32>::try_from(&data).is_ok());
    let plain = create(BPF_MAP_TYPE_HASH, 8, 4, 4, "maps_notlru");
    let err = LruHashMap::<_, u64, u32>::try_from(&plain).expect_err("wrong type");
    assert_eq!(
        err.to_string(),
        "map `maps_notlru` is a BPF_MAP_TYPE_HASH, expected BPF_MAP_TYPE_LRU_HASH"
    );
}

#[test]
fn per_cpu_hash_maps_and_batches() {
    if skip_without_root("per_cpu_hash_maps_and_batches") {
        return;
    }
    let cpus = crate::sys::possible_cpus().expect("cpus");
    let data = create(BPF_MAP_TYPE_PERCPU_HASH, 4, 4, 256, "maps_pchash");
    let map: PerCpuHashMap<_, u32, u32> = PerCpuHashMap::try_from(&data).expect("typed");
    let values = PerCpuValues::try_from((0..cpus as u32).map(|c| c + 100).collect::<Vec<_>>())
        .expect("values");
    map.insert(&7, &values).expect("insert");
    assert_eq!(map.get(&7).expect("get"), Some(values.clone()));
    let entries: Vec<_> = map.iter().collect::<Result<_, _>>().expect("iter");
    assert_eq!(entries, vec![(7, values.clone())]);

    let keys: Vec<u32> = (0..100).collect();
    let batch_values: Vec<PerCpuValues<u32>> = keys
        .iter()
        .map(|k| PerCpuValues::splat(*k).expect("splat"))
        .collect();
    map.insert_batch(&keys, &batch_values)
        .expect("insert batch");
    let mut all = map.get_batch().expect("get batch");
    all.sort_by_key(|(k, _)| *k);
    assert_eq!(all.len(), 100);
    assert!(all.iter().all(|(k, v)| v.iter().all(|x| x == k)));
    assert_eq!(map.remove_batch(&keys[..50]).expect("remove batch"), 50);
    assert_eq!(map.get_and_remove_batch().expect("drain").len(), 50);
    assert_eq!(map.keys().count(), 0);

    let lru = create(BPF_MAP_TYPE_LRU_PERCPU_HASH, 4, 8, 16, "maps_lrupc");
    let lru: LruPerCpuHashMap<_, u32, u64> = LruPerCpuHashMap::try_from(&lru).expect("typed");
    lru.insert(&1, &PerCpuValues::splat(5).expect("splat"))
        .expect("insert");
    assert_eq!(
        lru.get(&1).expect("get").map(|v| v.iter().sum::<u64>()),
        Some(5 * cpus as u64)
    );
}

#[test]
fn arrays() {
    if skip_without_root("arrays") {
        return;
    }
    let data = create(BPF_MAP_TYPE_ARRAY, 4, 8, 4, "maps_array");
    let array: Array<_, u64> = Array::try_from(&data).expect("typed");
    assert_eq!(array.len(), 4);
    assert_eq!(array.get(3).expect("get"), 0);
    array.set(2, &99).expect("set");
    assert_eq!(
        array.iter().collect::<Result<Vec<_>, _>>().expect("iter"),
        vec![0, 0, 99, 0]
    );
    let oob = array.get(4).expect_err("out of bounds");
    assert_eq!(
        oob.to_string(),
        "index 4 is out of bounds for map `maps_array` with 4 entries"
    );
    assert!(array.set(100, &1).is_err());

    let fs = BpffsGuard::mount("maps-array");
    let pin = fs.path.join("array");
    data.pin(&pin).expect("pin");
    let reopened: Array<MapData, u64> =
        Array::try_from(MapData::from_pin(&pin).expect("reopen")).expect("typed");
    assert_eq!(reopened.get(2).expect("get"), 99);
    std::fs::remove_file(&pin).expect("unpin");

    let cpus = crate::sys::possible_cpus().expect("cpus");
    let pc = create(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 2, "maps_pcarray");
    let pc: PerCpuArray<_, u32> = PerCpuArray::try_from(&pc).expect("typed");
    let values = PerCpuValues::try_from((1..=cpus as u32).collect::<Vec<_>>()).expect("values");
    pc.set(1, &values).expect("set");
    assert_eq!(pc.get(1).expect("get"), values);
    assert_eq!(pc.get(0).expect("get").iter().sum::<u32>(), 0);
    assert_eq!(pc.iter().count(), 2);
    assert!(pc.get(2).is_err());
}

#[test]
fn size_and_type_mismatches_are_reported() {
    if skip_without_root("size_and_type_mismatches_are_reported") {
        return;
    }
    let data = create(BPF_MAP_TYPE_HASH, 4, 8, 4, "maps_sizes");
    let err = HashMap::<_, u32, u32>::try_from(&data).expect_err("value size");
    assert!(
        matches!(
            &err,
            MapError::ValueSizeMismatch {
                map_size: 8,
                type_size: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "map `maps_sizes` has 8-byte values but `u32` is 4 bytes"
    );
    let err = HashMap::<_, u64, u64>::try_from(&data).expect_err("key size");
    assert_eq!(
        err.to_string(),
        "map `maps_sizes` has 4-byte keys but `u64` is 8 bytes"
    );
    let err = Array::<_, u64>::try_from(&data).expect_err("type");
    assert!(matches!(err, MapError::WrongMapType { .. }));
    let err = PerCpuHashMap::<_, u32, u64>::try_from(&data).expect_err("type");
    assert!(
        err.to_string()
            .contains("expected BPF_MAP_TYPE_PERCPU_HASH"),
        "{err}"
    );
    let frozen = create(BPF_MAP_TYPE_ARRAY, 4, 4, 1, "maps_frozen");
    frozen.freeze().expect("freeze");
    let array: Array<_, u32> = Array::try_from(&frozen).expect("typed");
    assert!(matches!(array.set(0, &1), Err(MapError::Syscall(e)) if e.errno() == libc::EPERM));
}
