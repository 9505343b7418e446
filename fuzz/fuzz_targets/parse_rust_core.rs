//! Any bytes as a `.bpfkit.core` section: parsing gives records or a typed error, and parsed
//! records build their local BTF and resolve (against that BTF itself, a target where every
//! described member exists) without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(records) = bpfkit_obj::rust_core::parse_section(data) {
        if let Ok((local, _)) = bpfkit_obj::rust_core::local_btf(&records) {
            let _ = bpfkit_obj::rust_core::resolve(&records, &[&local]);
        }
    }
});
