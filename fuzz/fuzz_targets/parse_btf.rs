//! Any bytes: `Btf::parse` returns a BTF or an error, and every query on a parsed one is total.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(btf) = bpfkit_obj::Btf::parse(data) {
        // Bound the work per input: a valid blob can hold many types.
        for id in 0..btf.type_count().min(4096) + 1 {
            let _ = btf.resolve_size(id);
            let _ = btf.skip_mods_and_typedefs(id);
            let _ = btf.members(id);
            let _ = btf.array_info(id);
            let _ = btf.datasec_vars(id);
            if let Ok(ty) = btf.type_by_id(id) {
                let _ = btf.string_at(ty.name_offset());
                let _ = ty.members().count() + ty.enum_values().count() + ty.params().count();
                let _ = (ty.int_info(), ty.array(), ty.linkage(), ty.decl_tag_component());
            }
        }
    }
});
