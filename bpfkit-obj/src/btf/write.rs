//! Writing BTF: [`BtfWriter`] holds a type and a string section being assembled, either from
//! scratch (feature probes, tests) or copied from a parsed [`Btf`] to be edited (sanitizing).

use super::{Btf, BtfError, BtfKind, Endian, BTF_MAGIC, HEADER_LEN};

/// A BTF blob under construction. Type records are kept as raw words in the target byte order,
/// so a copy of an existing blob round-trips byte for byte.
#[derive(Clone, Debug)]
pub struct BtfWriter {
    endian: Endian,
    types: Vec<u8>,
    strings: Vec<u8>,
    /// Offset in `types` of each record, by `id - first_id`.
    records: Vec<usize>,
    /// Id of the first record here (1, or the base's type count for split BTF).
    first_id: u32,
    /// String offsets below this belong to the base (split BTF).
    first_string: u32,
}

impl BtfWriter {
    /// An empty standalone BTF: no types besides `void`, the string section holding only "".
    pub fn new(endian: Endian) -> BtfWriter {
        BtfWriter {
            endian,
            types: Vec::new(),
            strings: vec![0],
            records: Vec::new(),
            first_id: 1,
            first_string: 0,
        }
    }

    /// A copy of `btf`'s own types and strings (for split BTF, not the base's: the output is
    /// split BTF again, valid on top of the same base).
    pub fn from_btf(btf: &Btf) -> BtfWriter {
        let types = btf.own_types_bytes().to_vec();
        let records = btf
            .type_offsets
            .iter()
            .map(|&offset| (offset as usize).saturating_sub(btf.types.start))
            .collect();
        BtfWriter {
            endian: btf.endian(),
            types,
            strings: btf.own_strings().to_vec(),
            records,
            first_id: btf.first_id,
            first_string: btf.first_string,
        }
    }

    /// Byte order of the output.
    pub fn endian(&self) -> Endian {
        self.endian
    }

    /// The id the next added type gets.
    pub fn next_id(&self) -> u32 {
        // `add_type` refuses to go beyond u32 ids.
        self.first_id + self.records.len() as u32
    }

    /// Appends a string and returns its offset ("" is always offset 0, never duplicated).
    pub fn add_string(&mut self, value: &str) -> Result<u32, BtfError> {
        if value.is_empty() && self.first_string == 0 {
            return Ok(0);
        }
        let local = u32::try_from(self.strings.len()).map_err(|_| BtfError::TooManyTypes)?;
        let offset = local
            .checked_add(self.first_string)
            .ok_or(BtfError::TooManyTypes)?;
        self.strings.extend_from_slice(value.as_bytes());
        self.strings.push(0);
        Ok(offset)
    }

    fn encode(&self, value: u32) -> [u8; 4] {
        match self.endian {
            Endian::Little => value.to_le_bytes(),
            Endian::Big => value.to_be_bytes(),
        }
    }

    /// Appends a type record: the common header (`name_offset`, the info word made of `kind`,
    /// `vlen` and `kind_flag`, then `size_or_type`) followed by `extra` words, which must match
    /// what `kind` and `vlen` require. Returns the new type's id.
    pub fn add_type(
        &mut self,
        name_offset: u32,
        kind: BtfKind,
        vlen: u16,
        kind_flag: bool,
        size_or_type: u32,
        extra: &[u32],
    ) -> Result<u32, BtfError> {
        let id = self.next_id();
        let expected = kind
            .extra_len(usize::from(vlen))
            .ok_or(BtfError::TruncatedType { id })?;
        if kind == BtfKind::Void || extra.len() * 4 != expected {
            return Err(BtfError::TruncatedType { id });
        }
        id.checked_add(1).ok_or(BtfError::TooManyTypes)?;
        let info = (u32::from(kind_flag) << 31) | (kind.to_raw() << 24) | u32::from(vlen);
        self.records.push(self.types.len());
        for word in [name_offset, info, size_or_type].iter().chain(extra) {
            let bytes = self.encode(*word);
            self.types.extend_from_slice(&bytes);
        }
        Ok(id)
    }

    /// Word `index` of type `id`'s record (0: name offset, 1: info, 2: size or type, 3...: the
    /// kind-specific data).
    pub fn word(&self, id: u32, index: usize) -> Option<u32> {
        let at = self.word_at(id, index)?;
        self.endian.read_u32(&self.types, at)
    }

    /// Overwrites word `index` of type `id`'s record (see [`BtfWriter::word`]).
    pub fn set_word(&mut self, id: u32, index: usize, value: u32) -> Result<(), BtfError> {
        let at = self
            .word_at(id, index)
            .ok_or(BtfError::TruncatedType { id })?;
        let bytes = self.encode(value);
        self.types
            .get_mut(at..at + 4)
            .ok_or(BtfError::TruncatedType { id })?
            .copy_from_slice(&bytes);
        Ok(())
    }

    /// Byte offset in the type section of word `index` of `id`, checked against the record's
    /// length so an edit never spills into the next record.
    fn word_at(&self, id: u32, index: usize) -> Option<usize> {
        let position = id.checked_sub(self.first_id)? as usize;
        let start = *self.records.get(position)?;
        let end = self
            .records
            .get(position + 1)
            .copied()
            .unwrap_or(self.types.len());
        let at = start.checked_add(index.checked_mul(4)?)?;
        (at + 4 <= end).then_some(at)
    }

    /// The info word of `id` rebuilt with a new kind, vlen and kind flag.
    pub fn set_info(
        &mut self,
        id: u32,
        kind: BtfKind,
        vlen: u16,
        kind_flag: bool,
    ) -> Result<(), BtfError> {
        let info = (u32::from(kind_flag) << 31) | (kind.to_raw() << 24) | u32::from(vlen);
        self.set_word(id, 1, info)
    }

    /// The finished blob: a version-1 header, the type section, then the string section.
    pub fn finish(&self) -> Result<Vec<u8>, BtfError> {
        let type_len = u32::try_from(self.types.len()).map_err(|_| BtfError::TooManyTypes)?;
        let str_len = u32::try_from(self.strings.len()).map_err(|_| BtfError::TooManyTypes)?;
        let mut out = Vec::with_capacity(HEADER_LEN + self.types.len() + self.strings.len());
        let magic = match self.endian {
            Endian::Little => BTF_MAGIC.to_le_bytes(),
            Endian::Big => BTF_MAGIC.to_be_bytes(),
        };
        out.extend_from_slice(&magic);
        out.extend_from_slice(&[1, 0]); // version 1, no flags
        for word in [HEADER_LEN as u32, 0, type_len, type_len, str_len] {
            out.extend_from_slice(&self.encode(word));
        }
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strings);
        Ok(out)
    }
}

impl Btf {
    /// The BTF written back out: a version-1 header, then this BTF's own types and strings.
    /// A blob with the usual layout (24-byte header, types then strings) comes back unchanged.
    pub fn to_bytes(&self) -> Result<Vec<u8>, BtfError> {
        BtfWriter::from_btf(self).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// int, a struct with a bitfield, a float, a signed enum, an enum64, in `endian`.
    fn sample(endian: Endian) -> Vec<u8> {
        let mut w = BtfWriter::new(endian);
        let int = w.add_string("int").unwrap();
        let int = w
            .add_type(int, BtfKind::Int, 0, false, 4, &[(1 << 24) | 32])
            .unwrap();
        let (s, a, b) = (
            w.add_string("s").unwrap(),
            w.add_string("a").unwrap(),
            w.add_string("b").unwrap(),
        );
        w.add_type(
            s,
            BtfKind::Struct,
            2,
            true,
            8,
            &[a, int, 0, b, int, (3 << 24) | 32],
        )
        .unwrap();
        let f = w.add_string("double").unwrap();
        w.add_type(f, BtfKind::Float, 0, false, 8, &[]).unwrap();
        let (e, v) = (w.add_string("e").unwrap(), w.add_string("V").unwrap());
        w.add_type(e, BtfKind::Enum, 1, true, 4, &[v, u32::MAX])
            .unwrap();
        let e64 = w.add_string("e64").unwrap();
        w.add_type(e64, BtfKind::Enum64, 1, false, 8, &[v, 0, 1])
            .unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn written_btf_parses_back_in_both_byte_orders() {
        for endian in [Endian::Little, Endian::Big] {
            let blob = sample(endian);
            let btf = Btf::parse(&blob).unwrap();
            assert_eq!(btf.endian(), endian);
            assert_eq!(btf.type_count(), 6);
            let s = btf.find_by_name_kind("s", BtfKind::Struct).unwrap();
            let members = btf.members(s).unwrap();
            assert_eq!(members[1].bit_offset, 32);
            assert_eq!(members[1].bitfield_size, 3);
            let e = btf.type_by_id(4).unwrap();
            assert_eq!(e.enum_values().next().unwrap().value, u64::MAX);
            assert_eq!(btf.to_bytes().unwrap(), blob, "round trip");
        }
    }

    #[test]
    fn writer_refuses_records_of_the_wrong_length() {
        let mut w = BtfWriter::new(Endian::Little);
        assert!(w.add_type(0, BtfKind::Int, 0, false, 4, &[]).is_err());
        assert!(w
            .add_type(0, BtfKind::Struct, 1, false, 4, &[1, 2])
            .is_err());
        assert!(w.add_type(0, BtfKind::Void, 0, false, 0, &[]).is_err());
        let id = w.add_type(0, BtfKind::Ptr, 0, false, 0, &[]).unwrap();
        assert_eq!(w.word(id, 2), Some(0));
        assert_eq!(w.word(id, 3), None, "no word beyond the record");
        assert!(w.set_word(id, 3, 1).is_err());
        assert!(w.set_word(id + 1, 0, 1).is_err());
    }

    #[test]
    fn clang_object_btf_round_trips() {
        let object = include_bytes!("../../../bpfkit/tests/objects/calls.bpf.o");
        let parsed = crate::Object::parse(object).unwrap();
        let btf = parsed.btf.as_ref().expect("calls.bpf.o has BTF");
        assert_eq!(btf.to_bytes().unwrap(), btf.raw());
        let again = Btf::parse(&btf.to_bytes().unwrap()).unwrap();
        assert_eq!(again.type_count(), btf.type_count());
    }

    #[test]
    fn kernel_btf_round_trips() {
        let Ok(raw) = std::fs::read("/sys/kernel/btf/vmlinux") else {
            println!("skipped: kernel_btf_round_trips: no /sys/kernel/btf/vmlinux");
            return;
        };
        let btf = Btf::from_vec(raw.clone()).unwrap();
        assert_eq!(btf.to_bytes().unwrap(), raw);
    }
}
