//! Malformed objects, made by editing the valid fixtures: each gives a typed error, never a panic.
//! Ends with a few thousand deterministic pseudo-random mutations fed to parse and link.

use bpfkit_obj::{BtfError, Object, ParseError};

const PROGRAMS: &[u8] = include_bytes!("fixtures/programs.bpf.o");
const PROGRAMS_BE: &[u8] = include_bytes!("fixtures/programs.bpfeb.o");
const MAPS: &[u8] = include_bytes!("fixtures/maps_btf.bpf.o");
const MAPS_BE: &[u8] = include_bytes!("fixtures/maps_btf.bpfeb.o");
const LEGACY: &[u8] = include_bytes!("fixtures/legacy_maps.bpf.o");
const GLOBALS: &[u8] = include_bytes!("fixtures/globals.bpf.o");
const GLOBALS_BE: &[u8] = include_bytes!("fixtures/globals.bpfeb.o");
const EXTERNS: &[u8] = include_bytes!("fixtures/externs.bpf.o");

/// A little-endian ELF64 being edited in place.
struct Elf(Vec<u8>);

impl Elf {
    fn new(bytes: &[u8]) -> Elf {
        Elf(bytes.to_vec())
    }
    fn u16(&self, at: usize) -> u16 {
        u16::from_le_bytes([self.0[at], self.0[at + 1]])
    }
    fn u32(&self, at: usize) -> u32 {
        u32::from_le_bytes(self.0[at..at + 4].try_into().unwrap())
    }
    fn u64(&self, at: usize) -> u64 {
        u64::from_le_bytes(self.0[at..at + 8].try_into().unwrap())
    }
    fn put_u16(&mut self, at: usize, v: u16) {
        self.0[at..at + 2].copy_from_slice(&v.to_le_bytes());
    }
    fn put_u32(&mut self, at: usize, v: u32) {
        self.0[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
    fn put_u64(&mut self, at: usize, v: u64) {
        self.0[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }
    /// File offset of section header `index`.
    fn shdr(&self, index: usize) -> usize {
        self.u64(0x28) as usize + index * usize::from(self.u16(0x3a))
    }
    fn section_count(&self) -> usize {
        usize::from(self.u16(0x3c))
    }
    fn section_name(&self, index: usize) -> String {
        let strtab = self.shdr(usize::from(self.u16(0x3e)));
        let start = self.u64(strtab + 24) as usize + self.u32(self.shdr(index)) as usize;
        let end = start + self.0[start..].iter().position(|&b| b == 0).unwrap();
        String::from_utf8(self.0[start..end].to_vec()).unwrap()
    }
    /// Header offset of the section called `name`.
    fn section(&self, name: &str) -> usize {
        let index = (0..self.section_count())
            .find(|&i| self.section_name(i) == name)
            .unwrap();
        self.shdr(index)
    }
    /// File offset of the contents of section `name`.
    fn contents(&self, name: &str) -> usize {
        self.u64(self.section(name) + 24) as usize
    }
    /// File offset of symbol `name` in .symtab.
    fn symbol(&self, name: &str) -> usize {
        let symtab = self.section(".symtab");
        let strtab = self.contents(".strtab");
        let (start, size) = (
            self.u64(symtab + 24) as usize,
            self.u64(symtab + 32) as usize,
        );
        (start..start + size)
            .step_by(24)
            .find(|&sym| {
                let name_start = strtab + self.u32(sym) as usize;
                self.0[name_start..].starts_with(name.as_bytes())
                    && self.0[name_start + name.len()] == 0
            })
            .unwrap()
    }
    fn parse(&self) -> Result<Object, ParseError> {
        Object::parse(&self.0)
    }
}

#[test]
fn not_elf_and_wrong_machine() {
    assert_eq!(Object::parse(b"").unwrap_err(), ParseError::NotElf);
    assert_eq!(
        Object::parse(b"hello world, not an object").unwrap_err(),
        ParseError::NotElf
    );
    let mut elf = Elf::new(PROGRAMS);
    elf.put_u16(0x12, 62); // EM_X86_64
    assert!(
        matches!(elf.parse(), Err(ParseError::WrongMachine { reason }) if reason.contains("62"))
    );
    let mut elf32 = Elf::new(PROGRAMS);
    elf32.0[4] = 1;
    assert!(matches!(
        elf32.parse(),
        Err(ParseError::WrongMachine { .. })
    ));
}

#[test]
fn truncated_files() {
    assert!(matches!(
        Object::parse(&PROGRAMS[..40]),
        Err(ParseError::Truncated { .. })
    ));
    // The section header table is at the end of clang's objects.
    assert!(matches!(
        Object::parse(&PROGRAMS[..PROGRAMS.len() - 10]),
        Err(ParseError::Truncated { .. })
    ));
    // A section claiming more bytes than the file has.
    let mut elf = Elf::new(PROGRAMS);
    let xdp = elf.section("xdp");
    elf.put_u64(xdp + 32, 1 << 40);
    assert!(matches!(elf.parse(), Err(ParseError::Truncated { what }) if what.contains("xdp")));
    for len in (0..PROGRAMS.len()).step_by(7) {
        assert!(Object::parse(&PROGRAMS[..len]).is_err());
    }
}

#[test]
fn unaligned_input_is_fine() {
    let mut shifted = vec![0u8];
    shifted.extend_from_slice(PROGRAMS);
    assert_eq!(Object::parse(&shifted[1..]).unwrap().programs.len(), 6);
}

#[test]
fn bad_section_indices() {
    let mut elf = Elf::new(PROGRAMS);
    let sym = elf.symbol("xdp_first");
    elf.put_u16(sym + 6, 999);
    assert!(matches!(
        elf.parse(),
        Err(ParseError::BadSectionIndex { index: 999, .. })
    ));
    let mut elf = Elf::new(PROGRAMS);
    let rel = elf.section(".relxdp");
    elf.put_u32(rel + 44, 500); // sh_info
    assert!(matches!(
        elf.parse(),
        Err(ParseError::BadSectionIndex { index: 500, .. })
    ));
}

#[test]
fn relocation_errors() {
    let rel_of = |elf: &Elf| elf.contents(".relxdp");
    let mut elf = Elf::new(PROGRAMS);
    let rel = rel_of(&elf);
    elf.put_u64(rel, 0x10000);
    assert!(matches!(
        elf.parse(),
        Err(ParseError::RelocationOutOfRange {
            offset: 0x10000,
            ..
        })
    ));
    let mut elf = Elf::new(PROGRAMS);
    let rel = rel_of(&elf);
    elf.put_u64(rel, 12);
    assert!(matches!(
        elf.parse(),
        Err(ParseError::RelocationMisaligned { offset: 12, .. })
    ));
    let mut elf = Elf::new(PROGRAMS);
    let rel = rel_of(&elf);
    let info = elf.u64(rel + 8);
    elf.put_u64(rel + 8, (0xffff << 32) | (info & 0xffff_ffff));
    assert!(matches!(
        elf.parse(),
        Err(ParseError::SymbolOutOfRange { symbol: 0xffff, .. })
    ));
    // A relocation on an instruction that is neither a call nor an ld_imm64.
    let mut elf = Elf::new(PROGRAMS);
    let rel = rel_of(&elf);
    elf.put_u64(rel, 0);
    assert!(matches!(
        elf.parse(),
        Err(ParseError::BadRelocation { insn_index: 0, .. })
    ));
    // A call whose target is not the start of a function links to a typed error.
    let mut elf = Elf::new(PROGRAMS);
    let code = elf.contents("xdp");
    elf.put_u32(code + 8 + 4, 1); // xdp_first's call: .text symbol + imm 1 + 1 = insn 2, inside text_global
    let object = elf.parse().unwrap();
    assert!(matches!(
        object.link_program("xdp_first"),
        Err(bpfkit_obj::RelocationError::BadCallTarget { target: 2, .. })
    ));
}

#[test]
fn map_errors() {
    // struct bpf_map_def of legacy_hash: type, key_size, value_size, max_entries, flags.
    let mut elf = Elf::new(LEGACY);
    let def = elf.contents("maps");
    elf.put_u32(def, 200);
    assert!(
        matches!(elf.parse(), Err(ParseError::UnknownMapType { map_type: 200, map }) if map == "legacy_hash")
    );
    let mut elf = Elf::new(LEGACY);
    let def = elf.contents("maps");
    elf.put_u32(def, 2); // ARRAY
    elf.put_u32(def + 8, 4096);
    elf.put_u32(def + 12, u32::MAX);
    assert!(matches!(elf.parse(), Err(ParseError::SizeOverflow { .. })));
    let mut elf = Elf::new(LEGACY);
    let def = elf.contents("maps");
    elf.put_u32(def + 4, u32::MAX);
    assert!(matches!(elf.parse(), Err(ParseError::SizeOverflow { .. })));
    // A .bss claiming far more than the kernel allows.
    let mut elf = Elf::new(GLOBALS);
    let bss = elf.section(".bss");
    elf.put_u64(bss + 32, u64::MAX / 2);
    assert!(matches!(elf.parse(), Err(ParseError::SizeOverflow { .. })));
    // A .maps section without .BTF: rename ".BTF" to ".BTX" in the section name table.
    let mut elf = Elf::new(MAPS);
    let btf_header = elf.section(".BTF");
    let name_off = elf.u32(btf_header) as usize;
    let shstrtab = elf.shdr(usize::from(elf.u16(0x3e)));
    let at = elf.u64(shstrtab + 24) as usize + name_off;
    assert_eq!(&elf.0[at..at + 4], b".BTF");
    elf.0[at + 3] = b'X';
    assert_eq!(elf.parse().unwrap_err(), ParseError::MissingBtfForMaps);
    // Corrupt BTF magic: a typed BTF error.
    let mut elf = Elf::new(MAPS);
    let btf = elf.contents(".BTF");
    elf.0[btf] = 0;
    assert!(matches!(
        elf.parse(),
        Err(ParseError::Btf(BtfError::BadMagic { .. }))
    ));
}

#[test]
fn code_and_function_errors() {
    let mut elf = Elf::new(PROGRAMS);
    let xdp = elf.section("xdp");
    let size = elf.u64(xdp + 32);
    elf.put_u64(xdp + 32, size - 4);
    assert!(matches!(
        elf.parse(),
        Err(ParseError::BadCodeSectionSize { .. })
    ));
    let mut elf = Elf::new(PROGRAMS);
    let sym = elf.symbol("xdp_second");
    elf.put_u64(sym + 16, 1 << 20); // st_size
    assert!(
        matches!(elf.parse(), Err(ParseError::BadFunction { name, .. }) if name == "xdp_second")
    );
    let mut elf = Elf::new(PROGRAMS);
    let sym = elf.symbol("xdp_second");
    elf.put_u64(sym + 8, 4); // st_value not on an instruction
    assert!(matches!(elf.parse(), Err(ParseError::BadFunction { .. })));
    let mut elf = Elf::new(PROGRAMS);
    let version = elf.section("version");
    elf.put_u64(version + 32, 3);
    assert!(matches!(
        elf.parse(),
        Err(ParseError::BadVersion { size: 3 })
    ));
    let mut elf = Elf::new(PROGRAMS);
    let license = elf.contents("license");
    let len = elf.u64(elf.section("license") + 32) as usize;
    elf.0[license..license + len].fill(b'A');
    assert_eq!(elf.parse().unwrap_err(), ParseError::BadLicense);
}

/// xorshift64*: deterministic, dependency-free pseudo-random numbers.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn exercise(bytes: &[u8]) -> bool {
    match Object::parse(bytes) {
        Ok(object) => {
            for program in &object.programs {
                if let Ok(linked) = object.link_program(&program.name) {
                    let _ = bpfkit_obj::Disassembler::new().disassemble(&linked.instructions);
                }
            }
            let _ = object.relocations();
            true
        }
        Err(error) => {
            // Every error renders.
            assert!(!error.to_string().is_empty());
            false
        }
    }
}

#[test]
fn pseudo_random_mutations_never_panic() {
    let fixtures = [
        PROGRAMS,
        PROGRAMS_BE,
        MAPS,
        MAPS_BE,
        LEGACY,
        GLOBALS,
        GLOBALS_BE,
        EXTERNS,
    ];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut parsed = 0;
    let rounds = 4000;
    for round in 0..rounds {
        let mut bytes = fixtures[round % fixtures.len()].to_vec();
        let mutations = 1 + rng.below(8);
        for _ in 0..mutations {
            let at = rng.below(bytes.len());
            match rng.below(6) {
                0 => bytes[at] ^= 1 << rng.below(8),
                1 => bytes[at] = rng.next() as u8,
                2 => {
                    // A random 32-bit word: hits sizes, offsets and indices.
                    let end = (at + 4).min(bytes.len());
                    let word = (rng.next() as u32).to_le_bytes();
                    bytes[at..end].copy_from_slice(&word[..end - at]);
                }
                3 => {
                    let interesting = [
                        0u32,
                        1,
                        7,
                        8,
                        0xff,
                        0xffff,
                        0x7fff_ffff,
                        0x8000_0000,
                        u32::MAX,
                    ];
                    let end = (at + 4).min(bytes.len());
                    let word = interesting[rng.below(interesting.len())].to_le_bytes();
                    bytes[at..end].copy_from_slice(&word[..end - at]);
                }
                4 => bytes.truncate(at.max(1)),
                _ => {
                    let len = rng.below(64).min(bytes.len() - at);
                    let from = rng.below(bytes.len() - len + 1);
                    let chunk = bytes[from..from + len].to_vec();
                    bytes[at..at + len].copy_from_slice(&chunk);
                }
            }
        }
        if exercise(&bytes) {
            parsed += 1;
        }
    }
    // Some mutations hit bytes nothing reads (padding, debug info): those objects still parse.
    assert!(parsed > 0 && parsed < rounds, "parsed {parsed} of {rounds}");
}
