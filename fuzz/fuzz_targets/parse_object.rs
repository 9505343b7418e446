//! Any bytes: `Object::parse` returns an object or an error, and every program of a parsed object
//! links (or fails to), and its BTF is rewritten for the kernel, without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(object) = bpfkit_obj::Object::parse(data) {
        for program in &object.programs {
            if let Ok(linked) = object.link_program(&program.name) {
                let _ = bpfkit_obj::Disassembler::new().disassemble(&linked.instructions);
            }
        }
        let _ = object.relocations();
        let _ = object.kernel_btf();
    }
});
