//! Prints what bpfkit-obj sees in an object file: `cargo run -p bpfkit-obj --example dump -- file.o`.
use bpfkit_obj::{Disassembler, Object};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: dump <object.o>");
        std::process::exit(2);
    };
    let data = match std::fs::read(&path) {
        Ok(data) => data,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let object = match Object::parse_named(&data, &path) {
        Ok(object) => object,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "object {} license {:?} version {:?}",
        object.name, object.license, object.kernel_version
    );
    for (index, map) in object.maps.iter().enumerate() {
        println!("map {index}: {map:?}");
    }
    for reloc in object.relocations() {
        println!("reloc {reloc:?}");
    }
    for program in &object.programs {
        println!(
            "program {} section {:?} {:?}",
            program.name, program.section_name, program.section
        );
        match object.link_program(&program.name) {
            Ok(linked) => {
                let mut disasm = Disassembler::new();
                for reloc in &linked.map_relocations {
                    if let Some(map) = object.maps.get(reloc.map_index) {
                        disasm = disasm.map_name(reloc.insn_index, map.name.clone());
                    }
                }
                for f in &linked.functions {
                    println!("  function {f:?}");
                }
                for line in disasm.disassemble(&linked.instructions) {
                    println!("  {line}");
                }
            }
            Err(e) => println!("  link error: {e}"),
        }
    }
}
