//! `load-phases`: where bpfkit's load time goes, phase by phase, through the public API.
//!
//! Times, as medians of `runs` repetitions in this one process: parsing the object, reading
//! kernel BTF (uncached), linking the program, CO-RE relocation against the (cached) kernel BTF,
//! and the whole `EbpfLoader::load` + close; the remainder is the kernel's work (object BTF load,
//! map creation, verification) plus the loader's bookkeeping. Then it splits CO-RE relocation
//! further: the candidate search `relocate_core` does (one walk over every kernel type per
//! distinct local type, as `core_relo::find_candidates` does) against the hashed essential-name
//! index `Btf::candidates_by_essential_name` that kernel BTF already has.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bpfkit_obj::btf::{Btf, BtfKind};

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..runs.max(1))
            .map(|_| {
                let start = Instant::now();
                std::hint::black_box(f());
                start.elapsed()
            })
            .collect(),
    )
}

/// `load-phases [runs] [object] [program]`.
pub fn run(args: &[String]) {
    let runs: usize = args.first().and_then(|r| r.parse().ok()).unwrap_or(20);
    let path = args
        .get(1)
        .map(String::as_str)
        .unwrap_or(crate::load::DEFAULT_OBJECT);
    let program = args
        .get(2)
        .map(String::as_str)
        .unwrap_or(crate::load::DEFAULT_PROGRAM);
    let bytes = std::fs::read(path).expect("read object");

    let cold_kernel = {
        let start = Instant::now();
        let btf = bpfkit::btf::kernel_btf().expect("kernel BTF");
        // The first CO-RE lookups build the per-kind name index; count that in "cold" too.
        let _ = btf.find_by_name_kind("task_struct", BtfKind::Struct);
        start.elapsed()
    };
    let kernel = bpfkit::btf::kernel_btf().expect("kernel BTF");
    let object = bpfkit_obj::Object::parse(&bytes).expect("parse");

    let parse = time(runs, || bpfkit_obj::Object::parse(&bytes).expect("parse"));
    let read_kernel = time(runs, || {
        bpfkit::btf::read_btf_file(std::path::Path::new("/sys/kernel/btf/vmlinux"))
            .expect("kernel BTF")
    });
    let link = time(runs, || object.link_program(program).expect("link"));
    let targets: [&Btf; 1] = [&kernel];
    let mut relocation_count = 0;
    let core = time(runs, || {
        let mut linked = object.link_program(program).expect("link");
        let report =
            bpfkit_obj::core_relo::relocate_core(&mut linked, &object, &targets).expect("relocate");
        relocation_count = report.relocations.len();
    })
    .saturating_sub(link);
    let whole = time(runs, || {
        drop(bpfkit::EbpfLoader::new().load(&bytes).expect("load"));
    });

    // The local types the program's relocations name: one candidate search each.
    let local = object.btf.as_ref().expect("object BTF");
    let ext = object.btf_ext.as_ref().expect(".BTF.ext");
    let linked = object.link_program(program).expect("link");
    let sections: BTreeSet<&str> = linked
        .functions
        .iter()
        .map(|f| f.section.as_str())
        .collect();
    let mut local_types = BTreeSet::new();
    for section in sections {
        for relo in ext.core_relos_of(section) {
            local_types.insert(relo.type_id);
        }
    }
    let searches: Vec<(String, BtfKind)> = local_types
        .iter()
        .filter_map(|&id| {
            let ty = local.type_by_id(id).ok()?;
            let name = local.string_at(ty.name_offset()).ok()?;
            (!name.is_empty()).then(|| (name.to_string(), ty.kind()))
        })
        .collect();
    let linear = time(runs, || {
        searches
            .iter()
            .map(|(name, kind)| linear_candidates(&kernel, name, *kind))
            .sum::<usize>()
    });
    let indexed = time(runs, || {
        searches
            .iter()
            .map(|(name, kind)| indexed_candidates(&kernel, name, *kind))
            .sum::<usize>()
    });
    for (name, kind) in &searches {
        let a = linear_candidates(&kernel, name, *kind);
        let b = indexed_candidates(&kernel, name, *kind);
        if a != b {
            println!("note: `{name}` ({kind:?}): linear scan finds {a} candidates, the index {b}");
        }
    }

    let rows = [
        (
            "kernel BTF, first use in the process (mmap + index)",
            cold_kernel,
        ),
        ("kernel BTF, read_btf_file uncached", read_kernel),
        ("Object::parse", parse),
        ("Object::link_program", link),
        ("relocate_core (kernel BTF cached)", core),
        (
            "  its candidate search: a walk over all kernel types per local type",
            linear,
        ),
        (
            "  the same searches through Btf::candidates_by_essential_name",
            indexed,
        ),
        ("EbpfLoader::load + close, whole (warm)", whole),
        (
            "  rest: object BTF load, map create, verifier, bookkeeping",
            whole.saturating_sub(parse + link + core),
        ),
        (
            "  projected with the indexed candidate search",
            (whole + indexed).saturating_sub(linear),
        ),
    ];
    println!(
        "bpfkit load of `{program}`: {relocation_count} CO-RE relocations, {} distinct local types, {} kernel types; medians of {runs}",
        searches.len(),
        kernel.type_count()
    );
    for (what, took) in rows {
        println!("  {what:<70} {:>9.1} us", took.as_secs_f64() * 1e6);
    }
}

/// What `core_relo::find_candidates` does today: every type of a CO-RE compatible kind whose
/// name has the wanted essential name.
fn linear_candidates(target: &Btf, local_name: &str, local_kind: BtfKind) -> usize {
    let wanted = bpfkit_obj::btf::essential_name(local_name);
    target
        .types()
        .filter_map(Result::ok)
        .filter(|ty| compatible(ty.kind(), local_kind) && ty.name_offset() != 0)
        .filter(|ty| {
            target.string_at(ty.name_offset()).is_ok_and(|name| {
                name.starts_with(wanted) && bpfkit_obj::btf::essential_name(name) == wanted
            })
        })
        .count()
}

/// The same through the hashed index, one lookup per compatible kind.
fn indexed_candidates(target: &Btf, local_name: &str, local_kind: BtfKind) -> usize {
    let kinds: &[BtfKind] = if matches!(local_kind, BtfKind::Enum | BtfKind::Enum64) {
        &[BtfKind::Enum, BtfKind::Enum64]
    } else {
        std::slice::from_ref(&local_kind)
    };
    kinds
        .iter()
        .map(|&kind| {
            target
                .candidates_by_essential_name(local_name, kind)
                .count()
        })
        .sum()
}

fn compatible(a: BtfKind, b: BtfKind) -> bool {
    let enumish = |k| matches!(k, BtfKind::Enum | BtfKind::Enum64);
    a == b || (enumish(a) && enumish(b))
}
