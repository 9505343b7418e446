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

// Without the kernel: the pieces of the views that are pure encoding and error mapping.

#[test]
fn kernel_too_old_only_for_its_errnos_and_older_releases() {
    assert!(means_too_old(libc::EINVAL, (5, 4), (5, 8)));
    assert!(means_too_old(libc::EOPNOTSUPP, (5, 5), (5, 6)));
    assert!(means_too_old(ENOTSUPP, (4, 15), (4, 16)));
    // On a kernel that has the feature, the same errno is a bad argument.
    assert!(!means_too_old(libc::EINVAL, (5, 8), (5, 8)));
    assert!(!means_too_old(libc::EINVAL, (6, 18), (5, 8)));
    // Other errnos never mean "too old".
    assert!(!means_too_old(libc::ENOENT, (4, 0), (5, 8)));
    assert!(!means_too_old(libc::EPERM, (4, 0), (5, 8)));
}

#[test]
fn fd_refusals_are_told_from_other_failures() {
    use super::fd_map::is_fd_refusal;
    for errno in [
        libc::EBADF,
        libc::ENOTSOCK,
        libc::EOPNOTSUPP,
        ENOTSUPP,
        libc::EAFNOSUPPORT,
    ] {
        assert!(is_fd_refusal(errno, UpdateFlags::NO_EXIST), "{errno}");
    }
    // EINVAL is the fd's fault only when no flags could have caused it.
    assert!(is_fd_refusal(libc::EINVAL, UpdateFlags::empty()));
    assert!(!is_fd_refusal(libc::EINVAL, UpdateFlags::NO_EXIST));
    assert!(!is_fd_refusal(libc::EEXIST, UpdateFlags::empty()));
    assert!(!is_fd_refusal(libc::E2BIG, UpdateFlags::empty()));
}

#[test]
fn error_messages_name_the_map_and_the_cause() {
    let rejected = MapError::FdRejected {
        name: "jumps".to_owned(),
        expects: "the fd of a loaded program",
        source: SyscallError::from_errno("BPF_MAP_UPDATE_ELEM", libc::EINVAL),
    };
    assert!(
        rejected
            .to_string()
            .starts_with("map `jumps` refused the fd: it takes the fd of a loaded program: BPF_MAP_UPDATE_ELEM failed"),
        "{rejected}"
    );
    assert_eq!(rejected.errno(), Some(libc::EINVAL));
    let unsupported = MapError::Unsupported {
        name: "devices".to_owned(),
        feature: "a program per device map entry",
        reason: "it needs Linux 5.8".to_owned(),
    };
    assert_eq!(
        unsupported.to_string(),
        "map `devices`: a program per device map entry is not supported: it needs Linux 5.8"
    );
    assert_eq!(unsupported.errno(), None);
}

#[test]
fn lpm_keys_have_no_padding_after_the_prefix_length() {
    use super::lpm_trie::Key;
    let key = Key::new(24, [192u8, 168, 1, 0]);
    let bytes = key.to_bytes();
    assert_eq!(bytes.len(), Key::<[u8; 4]>::size());
    assert_eq!(&bytes[..4], &24u32.to_ne_bytes());
    assert_eq!(&bytes[4..], &[192, 168, 1, 0]);
    assert_eq!(Key::<[u8; 4]>::decode("t", &bytes).expect("decode"), key);
    // An 8-aligned key type still starts right after the 4-byte prefix length.
    let wide = Key::new(64, 0x0102_0304_0506_0708u64);
    let bytes = wide.to_bytes();
    assert_eq!(bytes.len(), 12);
    assert_eq!(&bytes[4..], &0x0102_0304_0506_0708u64.to_ne_bytes());
    assert_eq!(Key::<u64>::decode("t", &bytes).expect("decode"), wide);
    assert!(Key::<u64>::decode("t", &bytes[..11]).is_err());
}

#[test]
fn stack_frames_stop_at_the_first_zero() {
    use super::stack_trace::decode_frames;
    let mut value = Vec::new();
    for frame in [0xffff_ffff_8100_0000u64, 0xffff_ffff_8200_0000, 0, 0x1234] {
        value.extend_from_slice(&frame.to_ne_bytes());
    }
    assert_eq!(
        decode_frames("s", &value).expect("frames"),
        vec![0xffff_ffff_8100_0000, 0xffff_ffff_8200_0000]
    );
    assert_eq!(
        decode_frames("s", &[0u8; 16]).expect("empty"),
        Vec::<u64>::new()
    );
    assert!(matches!(
        decode_frames("s", &[1u8; 12]),
        Err(MapError::UnexpectedSize { actual: 12, .. })
    ));
}

#[test]
fn device_and_cpu_values_decode_both_layouts() {
    use super::fd_map::decode_with_program;
    assert_eq!(
        decode_with_program("d", &7u32.to_ne_bytes()).expect("ifindex only"),
        (7, None)
    );
    let mut value = 7u32.to_ne_bytes().to_vec();
    value.extend_from_slice(&0u32.to_ne_bytes());
    assert_eq!(
        decode_with_program("d", &value).expect("no program"),
        (7, None)
    );
    value[4..].copy_from_slice(&42u32.to_ne_bytes());
    assert_eq!(
        decode_with_program("d", &value).expect("program"),
        (7, std::num::NonZeroU32::new(42))
    );
}

#[test]
fn new_views_refuse_other_map_types() {
    if skip_without_root("new_views_refuse_other_map_types") {
        return;
    }
    let hash = create(BPF_MAP_TYPE_HASH, 4, 4, 4, "maps_nothash");
    let err = Queue::<_, u32>::try_from(&hash).expect_err("a queue over a hash");
    assert_eq!(
        err.to_string(),
        "map `maps_nothash` is a BPF_MAP_TYPE_HASH, expected BPF_MAP_TYPE_QUEUE"
    );
    let wrong = [
        Stack::<_, u32>::try_from(&hash).map(drop),
        BloomFilter::<_, u32>::try_from(&hash).map(drop),
        LpmTrie::<_, u32, u32>::try_from(&hash).map(drop),
        StackTraceMap::try_from(&hash).map(drop),
        ProgramArray::try_from(&hash).map(drop),
        XskMap::try_from(&hash).map(drop),
        DevMap::try_from(&hash).map(drop),
        DevMapHash::try_from(&hash).map(drop),
        CpuMap::try_from(&hash).map(drop),
        SockMap::try_from(&hash).map(drop),
        SockHash::<_, u32>::try_from(&hash).map(drop),
        ArrayOfMaps::try_from(&hash).map(drop),
        HashOfMaps::<_, u32>::try_from(&hash).map(drop),
        SkStorage::<_, u32>::try_from(&hash).map(drop),
        TaskStorage::<_, u32>::try_from(&hash).map(drop),
        InodeStorage::<_, u32>::try_from(&hash).map(drop),
        CgroupStorage::<_, u32>::try_from(&hash).map(drop),
    ];
    for (i, result) in wrong.into_iter().enumerate() {
        assert!(
            matches!(result, Err(MapError::WrongMapType { .. })),
            "view {i}: {result:?}"
        );
    }
    // Sizes are checked too: an LPM trie of 8-byte keys is `Key<u32>`, not `Key<u64>`.
    let trie = MapData::create(&MapCreate {
        map_type: BPF_MAP_TYPE_LPM_TRIE,
        key_size: 8,
        value_size: 4,
        max_entries: 4,
        map_flags: crate::sys::uapi::consts::BPF_F_NO_PREALLOC,
        name: "maps_trie_size",
        ..Default::default()
    })
    .expect("trie");
    let err = LpmTrie::<_, u64, u32>::try_from(&trie).expect_err("key size");
    assert!(
        matches!(
            err,
            MapError::KeySizeMismatch {
                map_size: 8,
                type_size: 12,
                ..
            }
        ),
        "{err}"
    );
    let queue = create(BPF_MAP_TYPE_QUEUE, 0, 8, 4, "maps_queue_size");
    assert!(matches!(
        Queue::<_, u32>::try_from(&queue),
        Err(MapError::ValueSizeMismatch { map_size: 8, .. })
    ));
}
