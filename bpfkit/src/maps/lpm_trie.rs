//! `LpmTrie`: a `BPF_MAP_TYPE_LPM_TRIE` (longest-prefix match), and its [`Key`].
//!
//! A trie key is the kernel's `struct bpf_lpm_trie_key_u8`: a `u32` prefix length, then the
//! data, compared bit by bit from its first byte (so IP addresses go in network byte order).
//! The map's key size is `4 + size_of::<K>()`.
//!
//! Decisions:
//! * [`Key<K>`] is `#[repr(C)]` like the kernel side's `LpmKey`, but its bytes are written and
//!   read field by field: a `K` aligned to 8 would put padding after `prefix_len` in a
//!   `repr(C)` struct, and the kernel expects the data right after the 4-byte prefix length.
//! * [`LpmTrie::get`] is the kernel's lookup, which is a longest-prefix match: the value of the
//!   most specific stored prefix that covers the key's first `prefix_len` bits (give a full
//!   length to match an address). [`LpmTrie::remove`] removes the exact prefix.
//! * [`LpmTrie::keys`] and [`LpmTrie::iter`] walk the stored prefixes with
//!   `BPF_MAP_GET_NEXT_KEY`, which tries have had since Linux 4.16; on an older kernel the
//!   walk ends with [`MapError::Unsupported`].

use std::borrow::Borrow;
use std::marker::PhantomData;

use bpfkit_obj::uapi::map_type::BPF_MAP_TYPE_LPM_TRIE;

use super::{decode_pod, feature_error, MapData, MapError, MapIter, MapKeys, UpdateFlags};
use crate::pod::{bytes_of, Pod};

/// A key of an [`LpmTrie`]: the first `prefix_len` bits of `data` count.
///
/// ```
/// use bpfkit::maps::lpm_trie::Key;
/// // 10.1.0.0/16, in network byte order as the kernel compares bytes first to last.
/// let key = Key::new(16, [10u8, 1, 0, 0]);
/// let bytes = key.to_bytes();
/// assert_eq!(bytes[..4], 16u32.to_ne_bytes());
/// assert_eq!(bytes[4..], [10, 1, 0, 0]);
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key<K> {
    /// How many leading bits of `data` count (at most `8 * size_of::<K>()`).
    pub prefix_len: u32,
    /// The key's data.
    pub data: K,
}

impl<K: Pod> Key<K> {
    /// A key for `data` with `prefix_len` significant bits.
    pub fn new(prefix_len: u32, data: K) -> Key<K> {
        Key { prefix_len, data }
    }

    /// The bytes the kernel reads: the prefix length (native byte order), then `data`, with no
    /// padding between them.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.prefix_len.to_ne_bytes().to_vec();
        bytes.extend_from_slice(bytes_of(&self.data));
        bytes
    }

    /// Size of a key in the map: `4 + size_of::<K>()`.
    pub const fn size() -> usize {
        4 + std::mem::size_of::<K>()
    }

    /// Decodes a key the kernel wrote.
    pub(crate) fn decode(name: &str, bytes: &[u8]) -> Result<Key<K>, MapError> {
        let prefix_len = decode_pod::<u32>(name, bytes)?;
        let data = decode_pod::<K>(name, bytes.get(4..).unwrap_or_default())?;
        Ok(Key { prefix_len, data })
    }
}

/// A `BPF_MAP_TYPE_LPM_TRIE` with [`Key<K>`] keys and `V` values.
///
/// ```no_run
/// # use bpfkit::maps::{LpmTrie, MapData, UpdateFlags};
/// # use bpfkit::maps::lpm_trie::Key;
/// # fn f(data: &MapData) -> Result<(), bpfkit::maps::MapError> {
/// let routes: LpmTrie<_, [u8; 4], u32> = LpmTrie::try_from(data)?;
/// routes.insert(&Key::new(8, [10, 0, 0, 0]), &8, UpdateFlags::empty())?;
/// routes.insert(&Key::new(16, [10, 1, 0, 0]), &16, UpdateFlags::empty())?;
/// // Longest-prefix match of a full address:
/// assert_eq!(routes.get(&Key::new(32, [10, 1, 2, 3]))?, Some(16));
/// assert_eq!(routes.get(&Key::new(32, [10, 2, 0, 1]))?, Some(8));
/// for key in routes.keys() {
///     let key = key?;
///     println!("{:?}/{}", key.data, key.prefix_len);
/// }
/// routes.remove(&Key::new(16, [10, 1, 0, 0]))?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LpmTrie<T, K, V> {
    inner: T,
    _types: PhantomData<(K, V)>,
}

impl<T: Borrow<MapData>, K: Pod, V: Pod> LpmTrie<T, K, V> {
    fn new(inner: T) -> Result<Self, MapError> {
        let map = inner.borrow();
        map.check_type_and_key::<Key<K>>(
            &[BPF_MAP_TYPE_LPM_TRIE],
            "BPF_MAP_TYPE_LPM_TRIE",
            Some(Key::<K>::size()),
        )?;
        map.check_value_size(std::any::type_name::<V>(), &[std::mem::size_of::<V>()])?;
        Ok(LpmTrie {
            inner,
            _types: PhantomData,
        })
    }

    /// The underlying map.
    pub fn map(&self) -> &MapData {
        self.inner.borrow()
    }

    /// Gives the underlying map handle back.
    pub fn into_inner(self) -> T {
        self.inner
    }

    /// The value of the longest stored prefix matching `key`, or `None`.
    pub fn get(&self, key: &Key<K>) -> Result<Option<V>, MapError> {
        let map = self.map();
        map.lookup_bytes(&key.to_bytes(), 0)?
            .map(|v| decode_pod(map.name(), &v))
            .transpose()
    }

    /// Stores `value` for the prefix `key` (`NO_EXIST`, `EXIST` as for hash maps).
    pub fn insert(&self, key: &Key<K>, value: &V, flags: UpdateFlags) -> Result<(), MapError> {
        self.map()
            .update_bytes(&key.to_bytes(), bytes_of(value), flags.bits())
    }

    /// Removes exactly the prefix `key`; `false` if it was not stored.
    pub fn remove(&self, key: &Key<K>) -> Result<bool, MapError> {
        self.map().delete_bytes(&key.to_bytes())
    }

    /// Iterates over the stored prefixes.
    pub fn keys(&self) -> impl Iterator<Item = Result<Key<K>, MapError>> + '_ {
        let map = self.map();
        MapKeys::with_decode(map, Key::<K>::decode)
            .map(move |key| key.map_err(|err| walk_error(map, err)))
    }

    /// Iterates over `(prefix, value)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = Result<(Key<K>, V), MapError>> + '_ {
        let map = self.map();
        let keys = MapKeys::with_decode(map, Key::<K>::decode);
        MapIter::with_keys(keys, decode_pod::<V>)
            .map(move |entry| entry.map_err(|err| walk_error(map, err)))
    }
}

/// Tries answer `BPF_MAP_GET_NEXT_KEY` since Linux 4.16.
fn walk_error(map: &MapData, err: MapError) -> MapError {
    feature_error(
        map,
        err,
        "iterating an LPM trie (BPF_MAP_GET_NEXT_KEY)",
        (4, 16),
    )
}

try_from_map_data!(LpmTrie<K, V>);
