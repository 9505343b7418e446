//! The name index: every named type of a BTF as one `u64`, `(hash of essential name) << 32 |
//! type id`, sorted. Eight bytes per named type, built once on the first lookup by name and then
//! binary-searched; hash collisions are settled by comparing the names themselves.
//!
//! The *essential* name is the name without a CO-RE flavor suffix (`task_struct___old` ->
//! `task_struct`), so the same index answers exact lookups and CO-RE candidate searches.

use super::{Btf, BtfKind};

/// Where the name offset sits in a type record (its first word).
const NAME_OFFSET_AT: usize = 0;
/// One index per raw kind number (`BTF_KIND_*` fit in 5 bits).
pub(super) const KIND_SLOTS: usize = 32;

/// The name without its CO-RE flavor: everything before the last `___` that has a
/// non-underscore character on both sides (`a___b` -> `a`, `a____b` and `___a` unchanged).
pub fn essential_name(name: &str) -> &str {
    let bytes = name.as_bytes();
    let len = essential_len(bytes);
    // `essential_len` cuts just before an ASCII underscore, always a character boundary.
    name.get(..len).unwrap_or(name)
}

/// Length of the essential part of `name` (see [`essential_name`]).
fn essential_len(name: &[u8]) -> usize {
    // A separator at `i` is `X___Y`: name[i] is not '_', name[i+1..i+4] is "___", name[i+4] is
    // not '_'. The last one wins, as CO-RE flavors are stripped from the end.
    let mut i = name.len().saturating_sub(5) + 1;
    while i > 0 {
        i -= 1;
        if let Some(window) = name.get(i..i + 5) {
            if window[0] != b'_' && &window[1..4] == b"___" && window[4] != b'_' {
                return i + 1;
            }
        }
    }
    name.len()
}

const LOW_BITS: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
const UNDERSCORES: u64 = 0x5f5f_5f5f_5f5f_5f5f;

/// 0x80 in every byte of `v` that is zero, 0 in the others (exact: no carries between bytes).
fn zero_bytes(v: u64) -> u64 {
    !(((v & LOW_BITS).wrapping_add(LOW_BITS)) | v | LOW_BITS)
}

/// Eight bytes of `bytes` from `at`, little-endian, zero-padded past the end.
fn load(bytes: &[u8], at: usize) -> u64 {
    if let Some(chunk) = bytes.get(at..at.saturating_add(8)) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        return u64::from_le_bytes(word);
    }
    let mut word = [0u8; 8];
    let rest = bytes.get(at..).unwrap_or_default();
    if let Some(head) = word.get_mut(..rest.len()) {
        head.copy_from_slice(rest);
    }
    u64::from_le_bytes(word)
}

/// Length of the key part of the NUL-terminated name at the start of `tail`: up to the first
/// `___` or the terminator (the end of `tail` counts as one).
///
/// Why the first `___` and not the flavor separator itself: the essential name `E` never ends
/// with `_` and a flavor `___Y` starts right after it, so `E` and `E___Y` share their first
/// `___` (inside `E`, or where the flavor begins): equal essential names give equal keys, which
/// is all the index needs (candidates are then checked by their real essential names). And it is
/// found eight bytes at a time.
fn key_len(tail: &[u8]) -> usize {
    let mut at = 0usize;
    // Underscores ending the previous word, for a `___` that straddles two words.
    let mut carry = 0usize;
    loop {
        let word = load(tail, at);
        let zeros = zero_bytes(word);
        let underscores = zero_bytes(word ^ UNDERSCORES);
        let leading = ((!underscores & HIGH_BITS).trailing_zeros() / 8) as usize;
        if carry > 0 && carry + leading >= 3 {
            return at - carry;
        }
        let triples = underscores & (underscores >> 8) & (underscores >> 16);
        let stop = (zeros | triples).trailing_zeros() / 8;
        if stop < 8 {
            return at + stop as usize;
        }
        carry = ((!underscores & HIGH_BITS).leading_zeros() / 8) as usize;
        at += 8;
    }
}

/// The index key of the name at the start of `tail` (NUL-terminated): a hash of its first
/// [`key_len`] bytes, mixed eight bytes at a time.
fn name_key(tail: &[u8]) -> u32 {
    let len = key_len(tail);
    let mut hash: u64 = 0;
    let mut at = 0;
    while at < len {
        let mut word = load(tail, at);
        let left = len - at;
        if left < 8 {
            word &= (1u64 << (left * 8)) - 1;
        }
        hash = (hash.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
        at += 8;
    }
    hash ^= hash >> 29;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    (hash >> 32) as u32
}

/// [`name_key`] of a name given without its terminator.
fn key_of(name: &[u8]) -> u32 {
    let mut terminated = Vec::with_capacity(name.len() + 8);
    terminated.extend_from_slice(name);
    terminated.extend_from_slice(&[0; 8]);
    name_key(&terminated)
}

/// Sorts index entries: an in-place radix pass on the top bits of the hash (entries land in
/// buckets of about eight), then each bucket on its own. No second buffer, so
/// building the index never needs twice its size.
fn sort_entries(entries: &mut [u64]) {
    if entries.len() < 1024 {
        entries.sort_unstable();
        return;
    }
    // About eight entries per bucket, at most 8192 buckets (64 KiB of counters).
    let bits = (usize::BITS - entries.len().leading_zeros())
        .saturating_sub(3)
        .min(13);
    let buckets = 1usize << bits;
    let bucket = |entry: u64| (entry >> (64 - bits)) as usize;
    let mut ends = vec![0usize; buckets];
    for &entry in entries.iter() {
        ends[bucket(entry)] += 1;
    }
    let mut total = 0;
    for end in ends.iter_mut() {
        total += *end;
        *end = total;
    }
    // next[b]: first slot of bucket b not yet holding one of its own entries.
    let mut next: Vec<usize> = std::iter::once(0)
        .chain(ends.iter().copied())
        .take(buckets)
        .collect();
    for b in 0..buckets {
        while next[b] < ends[b] {
            let mut entry = entries[next[b]];
            loop {
                let home = bucket(entry);
                if home == b {
                    break;
                }
                std::mem::swap(&mut entry, &mut entries[next[home]]);
                next[home] += 1;
            }
            entries[next[b]] = entry;
            next[b] += 1;
        }
    }
    let mut start = 0;
    for &end in ends.iter() {
        entries[start..end].sort_unstable();
        start = end;
    }
}

impl Btf {
    /// The sorted name index of this BTF's own types of `kind`, built on first use.
    fn name_index(&self, kind: BtfKind) -> &[u64] {
        let Some(slot) = self.name_index.get(kind.to_raw() as usize) else {
            return &[];
        };
        slot.get_or_init(|| {
            let mut built = self.build_name_indexes(1 << kind.to_raw());
            std::mem::take(&mut built[kind.to_raw() as usize])
        })
    }

    /// Makes sure the index of every kind is built, in one walk over the types.
    fn all_name_indexes(&self) {
        let missing = self
            .name_index
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.get().is_none())
            .fold(0u32, |mask, (raw, _)| mask | 1 << raw);
        if missing == 0 {
            return;
        }
        let built = self.build_name_indexes(missing);
        for (raw, entries) in built.into_iter().enumerate() {
            if missing & (1 << raw) != 0 {
                if let Some(slot) = self.name_index.get(raw) {
                    // Another thread may have built it meanwhile: same contents, keep theirs.
                    let _ = slot.set(entries);
                }
            }
        }
    }

    /// Builds the name indexes of the kinds whose bit is set in `kinds` (bit = raw kind
    /// number), in one walk over the type records. Only names of those kinds are read, so a
    /// first lookup of a struct hashes struct names only (~1/10 of kernel BTF's names).
    fn build_name_indexes(&self, kinds: u32) -> Vec<Vec<u64>> {
        let raw = self.raw();
        let endian = self.endian;
        let own_strings = self.own_strings();
        let mut indexes: Vec<Vec<u64>> = (0..KIND_SLOTS).map(|_| Vec::new()).collect();
        for (position, (&record, &raw_kind)) in
            self.type_offsets.iter().zip(&self.type_kinds).enumerate()
        {
            if kinds & (1 << raw_kind) == 0 {
                continue;
            }
            let Some(name_offset) = endian.read_u32(raw, record as usize + NAME_OFFSET_AT) else {
                continue;
            };
            if name_offset == 0 {
                continue;
            }
            // Own strings are read in place (the hot path); split BTF may name types with base
            // strings.
            let hashed = match name_offset.checked_sub(self.first_string) {
                Some(local) => own_strings.get(local as usize..).map(name_key),
                None => self.string_bytes_at(name_offset).map(key_of),
            };
            // Unreadable names are not indexed: lookups cannot match them anyway.
            let (Some(hashed), Some(index)) = (hashed, indexes.get_mut(usize::from(raw_kind)))
            else {
                continue;
            };
            // `position` < type count, which the constructor proved fits in u32.
            let id = self.first_id + position as u32;
            index.push((u64::from(hashed) << 32) | u64::from(id));
        }
        for index in indexes.iter_mut() {
            sort_entries(index);
            index.shrink_to_fit();
        }
        indexes
    }

    /// Ids of this BTF's own named types whose essential-name hash is `hashed`, in id order.
    fn ids_with_hash(&self, hashed: u32, kind: BtfKind) -> impl Iterator<Item = u32> + '_ {
        let index = self.name_index(kind);
        let key = u64::from(hashed) << 32;
        let start = index.partition_point(|&entry| entry < key);
        index
            .get(start..)
            .unwrap_or_default()
            .iter()
            .take_while(move |&&entry| (entry >> 32) as u32 == hashed)
            .map(|&entry| entry as u32)
    }

    fn own_name_bytes(&self, id: u32) -> Option<&[u8]> {
        let record = self.own_record_offset(id)?;
        let name_offset = self.endian.read_u32(self.raw(), record + NAME_OFFSET_AT)?;
        self.string_bytes_at(name_offset)
    }

    /// First own type named exactly `name` (and of `kind`, when given).
    pub(super) fn index_lookup(&self, name: &str, kind: Option<BtfKind>) -> Option<u32> {
        let wanted = name.as_bytes();
        let hashed = key_of(wanted);
        match kind {
            Some(kind) => self
                .ids_with_hash(hashed, kind)
                .find(|&id| self.own_name_bytes(id) == Some(wanted)),
            None => {
                self.all_name_indexes();
                // The lowest id over every kind's index.
                (1..=19)
                    .filter_map(BtfKind::from_raw)
                    .filter_map(|kind| {
                        self.ids_with_hash(hashed, kind)
                            .find(|&id| self.own_name_bytes(id) == Some(wanted))
                    })
                    .min()
            }
        }
    }

    /// CO-RE candidates: this BTF's own types of `kind` whose essential name (flavor suffix
    /// removed) equals the essential name of `name`, in id order. For split BTF the base is not
    /// searched: look there separately (the base is usually searched first anyway).
    pub fn candidates_by_essential_name<'a>(
        &'a self,
        name: &str,
        kind: BtfKind,
    ) -> impl Iterator<Item = u32> + 'a {
        let wanted = essential_name(name).as_bytes().to_vec();
        let hashed = key_of(&wanted);
        self.ids_with_hash(hashed, kind).filter(move |&id| {
            self.own_name_bytes(id).is_some_and(|candidate| {
                candidate.get(..essential_len(candidate)) == Some(&wanted[..])
            })
        })
    }

    /// Bytes of heap memory the lookup structures use: the per-type offset table and, once
    /// built, the name index. The BTF bytes themselves are not counted (they may be mapped).
    pub fn index_memory(&self) -> usize {
        let index: usize = self
            .name_index
            .iter()
            .filter_map(|slot| slot.get())
            .map(|index| index.capacity() * 8)
            .sum();
        self.type_offsets.capacity() * 4 + self.type_kinds.capacity() + index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn essential_names_strip_the_last_flavor() {
        assert_eq!(essential_name("task_struct"), "task_struct");
        assert_eq!(essential_name("task_struct___old"), "task_struct");
        assert_eq!(essential_name("a___b___c"), "a___b");
        assert_eq!(essential_name("a____b"), "a____b");
        assert_eq!(essential_name("___a"), "___a");
        assert_eq!(essential_name("a___"), "a___");
        assert_eq!(essential_name("x___y"), "x");
        assert_eq!(essential_name(""), "");
    }

    #[test]
    fn flavored_names_share_the_key_of_their_essential_name() {
        for (name, essential) in [
            ("task_struct___old", "task_struct"),
            ("a___b___c", "a___b"),
            ("abcdefg___x", "abcdefg"),
            ("abcdefgh___x", "abcdefgh"),
            ("abcdef_g___x", "abcdef_g"),
            (
                "a_very_long_structure_name___with_flavor",
                "a_very_long_structure_name",
            ),
        ] {
            assert_eq!(essential_name(name), essential);
            assert_eq!(
                key_of(name.as_bytes()),
                key_of(essential.as_bytes()),
                "{name}"
            );
        }
        // Straddling `___` at every position of a word boundary.
        for prefix in 1..12 {
            let essential = "x".repeat(prefix);
            let flavored = format!("{essential}___flavor");
            assert_eq!(key_len(format!("{flavored}\0").as_bytes()), prefix);
            assert_eq!(key_of(flavored.as_bytes()), key_of(essential.as_bytes()));
        }
        assert_ne!(key_of(b"task_struct"), key_of(b"task_struct2"));
        assert_eq!(key_len(b"abc"), 3);
        assert_eq!(key_len(b"abc\0def"), 3);
    }

    #[test]
    fn radix_sort_orders_like_a_plain_sort() {
        let mut entries: Vec<u64> = (0..20_000u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (i % 7))
            .collect();
        let mut expected = entries.clone();
        expected.sort_unstable();
        sort_entries(&mut entries);
        assert_eq!(entries, expected);
    }

    use crate::btf::{BtfError, BtfWriter, Endian};
    use std::sync::Arc;

    /// Base: [1] int, [2] struct task_struct {pid: int}, [3] struct task_struct___old, [4] typedef
    /// task_struct -> 2, [5] anonymous ptr -> 2.
    fn base() -> Btf {
        let mut w = BtfWriter::new(Endian::Little);
        let int = w.add_string("int").unwrap();
        let int = w.add_type(int, BtfKind::Int, 0, false, 4, &[32]).unwrap();
        let task = w.add_string("task_struct").unwrap();
        let pid = w.add_string("pid").unwrap();
        w.add_type(task, BtfKind::Struct, 1, false, 4, &[pid, int, 0])
            .unwrap();
        let old = w.add_string("task_struct___old").unwrap();
        w.add_type(old, BtfKind::Struct, 0, false, 0, &[]).unwrap();
        w.add_type(task, BtfKind::Typedef, 0, false, 2, &[])
            .unwrap();
        w.add_type(0, BtfKind::Ptr, 0, false, 2, &[]).unwrap();
        Btf::parse(&w.finish().unwrap()).unwrap()
    }

    #[test]
    fn lookups_go_through_the_index() {
        let btf = base();
        assert_eq!(
            btf.find_by_name_kind("task_struct", BtfKind::Struct),
            Some(2)
        );
        assert_eq!(
            btf.find_by_name_kind("task_struct", BtfKind::Typedef),
            Some(4)
        );
        assert_eq!(
            btf.find_by_name_kind("task_struct___old", BtfKind::Struct),
            Some(3)
        );
        assert_eq!(
            btf.find_by_name_kind("task_struct___new", BtfKind::Struct),
            None
        );
        assert_eq!(btf.find_by_name_kind("task_struct", BtfKind::Union), None);
        assert_eq!(btf.find_by_name("task_struct"), Some(2));
        assert_eq!(btf.find_by_name("int"), Some(1));
        assert_eq!(btf.find_by_name("nope"), None);
        assert_eq!(btf.find_by_name_kind("", BtfKind::Ptr), Some(5));
        let candidates: Vec<u32> = btf
            .candidates_by_essential_name("task_struct___mine", BtfKind::Struct)
            .collect();
        assert_eq!(candidates, vec![2, 3]);
        let typedefs: Vec<u32> = btf
            .candidates_by_essential_name("task_struct", BtfKind::Typedef)
            .collect();
        assert_eq!(typedefs, vec![4]);
        assert!(btf.index_memory() > 0);
    }

    /// Module BTF on top of `base`: its own string section (not starting with NUL), types
    /// [6] struct mod_state {task: ptr to base [2]} naming a base string for one member,
    /// [7] struct task_struct___mod.
    fn module(base: &Btf) -> Vec<u8> {
        let base_strings = base.header().str_len;
        let mut strings = Vec::new();
        let mod_state = base_strings;
        strings.extend_from_slice(b"mod_state\0");
        let flavored = base_strings + strings.len() as u32;
        strings.extend_from_slice(b"task_struct___mod\0");
        let mut types = Vec::new();
        let mut word = |v: u32| types.extend_from_slice(&v.to_le_bytes());
        // [6] struct mod_state { pid (base string "pid" at its offset): ptr [5] at 0 }, size 8
        let pid = base
            .type_by_id(2)
            .unwrap()
            .members()
            .next()
            .unwrap()
            .name_offset;
        for v in [mod_state, (4 << 24) | 1, 8, pid, 5, 0] {
            word(v);
        }
        // [7] struct task_struct___mod, empty
        for v in [flavored, 4 << 24, 0] {
            word(v);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&[0x9f, 0xeb, 1, 0]);
        for v in [
            24u32,
            0,
            types.len() as u32,
            types.len() as u32,
            strings.len() as u32,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&types);
        out.extend_from_slice(&strings);
        out
    }

    #[test]
    fn split_btf_continues_ids_and_strings_of_its_base() {
        let base = Arc::new(base());
        let split = Btf::parse_split(&module(&base), Arc::clone(&base)).unwrap();
        assert_eq!(split.first_own_id(), 6);
        assert_eq!(split.type_count(), 8);
        assert_eq!(split.type_name(6).unwrap(), "mod_state");
        assert_eq!(
            split.type_name(2).unwrap(),
            "task_struct",
            "base types by id"
        );
        let member = split.members(6).unwrap()[0];
        assert_eq!(split.string_at(member.name_offset).unwrap(), "pid");
        assert_eq!(split.resolve_size(member.type_id).unwrap(), 8);
        // Base first, then own types.
        assert_eq!(
            split.find_by_name_kind("task_struct", BtfKind::Struct),
            Some(2)
        );
        assert_eq!(
            split.find_by_name_kind("mod_state", BtfKind::Struct),
            Some(6)
        );
        assert_eq!(split.find_by_name("mod_state"), Some(6));
        // CO-RE candidates: only the module's own.
        let own: Vec<u32> = split
            .candidates_by_essential_name("task_struct", BtfKind::Struct)
            .collect();
        assert_eq!(own, vec![7]);
        assert_eq!(split.own_types().count(), 2);
        assert_eq!(split.types().count(), 7);
        // Written back out, it is split BTF again.
        let again = Btf::parse_split(&split.to_bytes().unwrap(), base).unwrap();
        assert_eq!(again.type_name(7).unwrap(), "task_struct___mod");
    }

    #[test]
    fn split_btf_must_match_the_base_byte_order() {
        let base = Arc::new(base());
        let mut blob = module(&base);
        // Same module, big-endian header: refused before any type is read.
        blob[0] = 0xeb;
        blob[1] = 0x9f;
        for field in 1..6 {
            let at = 4 * field;
            let v = u32::from_le_bytes(blob[at..at + 4].try_into().unwrap());
            blob[at..at + 4].copy_from_slice(&v.to_be_bytes());
        }
        assert!(matches!(
            Btf::parse_split(&blob, base),
            Err(BtfError::SplitEndianMismatch)
        ));
    }
}
