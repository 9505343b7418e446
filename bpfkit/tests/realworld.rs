//! The realworld objects (libbpf-bootstrap style, built against vmlinux.h and libbpf's headers):
//! every one that bpftool loads on this kernel and needs nothing bpfkit lacks must load with
//! bpfkit too. bpftool's results are recorded by `cargo run -p xtask -- compat --write`.

#[macro_use]
mod common;

use bpfkit::EbpfLoader;

struct Expectation {
    object: String,
    bpftool_loads: bool,
    needs: Vec<String>,
}

fn expectations() -> Vec<Expectation> {
    let text = std::fs::read_to_string(common::object_path("realworld/bpftool-compat.txt"))
        .expect("bpftool-compat.txt");
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let mut fields = line.split_whitespace();
            let object = fields.next().expect("object name").to_string();
            let mut expectation = Expectation {
                object,
                bpftool_loads: false,
                needs: Vec::new(),
            };
            for field in fields {
                if let Some(result) = field.strip_prefix("bpftool=") {
                    expectation.bpftool_loads = result == "loads";
                } else if let Some(needs) = field.strip_prefix("needs=") {
                    expectation.needs = needs.split(',').map(str::to_string).collect();
                }
            }
            expectation
        })
        .collect()
}

#[test]
fn objects_bpftool_loads_load_with_bpfkit() {
    require_root!();
    let expectations = expectations();
    assert!(
        expectations.len() >= 6,
        "too few realworld objects recorded"
    );
    let mut failures = Vec::new();
    let mut checked = 0;
    for expectation in expectations
        .iter()
        .filter(|e| e.bpftool_loads && e.needs.iter().all(|n| n == "none"))
    {
        let path = common::object_path(&format!("realworld/{}", expectation.object));
        match EbpfLoader::new().load_file(&path) {
            Ok(ebpf) => {
                for program in ebpf.programs() {
                    assert!(
                        program.data().is_loaded(),
                        "{}: {} not loaded",
                        expectation.object,
                        program.name()
                    );
                }
                checked += 1;
            }
            Err(err) => failures.push(format!("{}: {err}", expectation.object)),
        }
    }
    assert!(
        failures.is_empty(),
        "bpftool loads these, bpfkit does not:\n{}",
        failures.join("\n")
    );
    assert!(checked >= 5, "only {checked} objects checked");
}

#[test]
fn objects_needing_missing_features_fail_cleanly() {
    require_root!();
    // Objects that need CO-RE or BTF attach targets either load (once bpfkit has the feature) or
    // fail with an error naming what is missing, never a panic or a bare errno.
    for expectation in expectations()
        .iter()
        .filter(|e| e.needs.iter().any(|n| n != "none"))
    {
        let path = common::object_path(&format!("realworld/{}", expectation.object));
        if let Err(err) = EbpfLoader::new().load_file(&path) {
            let message = err.to_string();
            let names_feature = ["CO-RE", "BTF", "core", "not supported", "rejected"]
                .iter()
                .any(|word| message.contains(word));
            assert!(
                names_feature,
                "{}: unhelpful error: {message}",
                expectation.object
            );
        }
    }
}
