//! `.BTF.ext` parsing and CO-RE resolution on any bytes.
//!
//! Input layout: a little-endian `u32` length, that many bytes of BTF, then `.BTF.ext` bytes.
//! When the BTF part does not parse, the CO-RE fixture's own BTF is used, so the ext parser and
//! the relocation engine still see well-formed types with fuzzed records (and vice versa).
//! Every record is resolved against the BTF itself and a copy of it as a "module", and the
//! result patched into a scratch program: errors are fine, panics and hangs are not.
#![no_main]

use bpfkit_obj::btf::ext::BtfExt;
use bpfkit_obj::core_relo::{patch_instruction, CoreResolver};
use bpfkit_obj::{Btf, Insn};
use libfuzzer_sys::fuzz_target;

const FALLBACK: &[u8] = include_bytes!("../seeds/parse_btf_ext/core_relo.btf");

fuzz_target!(|data: &[u8]| {
    let Some(len) = data.get(..4) else { return };
    let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    let (btf_bytes, ext_bytes) = match data.get(4..).and_then(|rest| {
        let btf = rest.get(..len)?;
        Some((btf, rest.get(len..)?))
    }) {
        Some(parts) => parts,
        None => (FALLBACK, data.get(4..).unwrap_or(&[])),
    };
    let btf = match Btf::parse(btf_bytes) {
        Ok(btf) => btf,
        Err(_) => match Btf::parse(FALLBACK) {
            Ok(btf) => btf,
            Err(_) => return,
        },
    };
    let Ok(ext) = BtfExt::parse(ext_bytes, &btf) else { return };
    let targets = [&btf, &btf];
    let mut resolver = CoreResolver::new(&btf, &targets);
    let mut scratch = vec![Insn::new(0, 0, 0, 0, 0); 64];
    for (_, records) in &ext.core_relos {
        // Bound the work per input.
        for relo in records.iter().take(256) {
            if let Ok(resolution) = resolver.resolve(relo) {
                let index = relo.insn as usize % scratch.len();
                let _ = patch_instruction(&mut scratch, index, &resolution);
            }
        }
    }
});
