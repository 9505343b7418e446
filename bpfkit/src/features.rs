//! What the running kernel supports.
//!
//! * The kernel release, used to decide between an attachment API and its legacy fallback when
//!   the kernel's error is ambiguous (EINVAL means both "unknown command" and "bad argument").
//! * BTF kinds ([`BtfFeature`]): probed by loading a tiny BTF blob that uses the kind with
//!   `BPF_BTF_LOAD`, the way libbpf does; [`btf_features`] feeds object BTF sanitizing.
//!
//! Every answer is computed once per process.

use std::sync::OnceLock;

use bpfkit_obj::btf::{BtfFeatures, BtfKind, BtfWriter, Endian};

/// A BTF capability that arrived in a known kernel release.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BtfFeature {
    /// `BPF_BTF_LOAD` itself (Linux 4.18).
    Btf,
    /// `BTF_KIND_FUNC` and `BTF_KIND_FUNC_PROTO` (Linux 5.0).
    Func,
    /// `BTF_KIND_VAR` and `BTF_KIND_DATASEC` (Linux 5.2).
    Datasec,
    /// Global linkage of `BTF_KIND_FUNC` (Linux 5.6).
    FuncGlobal,
    /// `BTF_KIND_FLOAT` (Linux 5.13).
    Float,
    /// `BTF_KIND_DECL_TAG` (Linux 5.16).
    DeclTag,
    /// `BTF_KIND_TYPE_TAG` (Linux 5.17).
    TypeTag,
    /// `BTF_KIND_ENUM64` and signed enums (Linux 6.0).
    Enum64,
}

impl BtfFeature {
    /// Every BTF feature, oldest first.
    pub const ALL: [BtfFeature; 8] = [
        BtfFeature::Btf,
        BtfFeature::Func,
        BtfFeature::Datasec,
        BtfFeature::FuncGlobal,
        BtfFeature::Float,
        BtfFeature::DeclTag,
        BtfFeature::TypeTag,
        BtfFeature::Enum64,
    ];

    /// The kernel release (major, minor) that brought the feature.
    pub fn since(self) -> (u32, u32) {
        match self {
            BtfFeature::Btf => (4, 18),
            BtfFeature::Func => (5, 0),
            BtfFeature::Datasec => (5, 2),
            BtfFeature::FuncGlobal => (5, 6),
            BtfFeature::Float => (5, 13),
            BtfFeature::DeclTag => (5, 16),
            BtfFeature::TypeTag => (5, 17),
            BtfFeature::Enum64 => (6, 0),
        }
    }

    /// What the feature is, in words ("BTF_KIND_FLOAT").
    pub fn name(self) -> &'static str {
        match self {
            BtfFeature::Btf => "BTF (BPF_BTF_LOAD)",
            BtfFeature::Func => "BTF_KIND_FUNC/FUNC_PROTO",
            BtfFeature::Datasec => "BTF_KIND_VAR/DATASEC",
            BtfFeature::FuncGlobal => "global BTF_KIND_FUNC linkage",
            BtfFeature::Float => "BTF_KIND_FLOAT",
            BtfFeature::DeclTag => "BTF_KIND_DECL_TAG",
            BtfFeature::TypeTag => "BTF_KIND_TYPE_TAG",
            BtfFeature::Enum64 => "BTF_KIND_ENUM64",
        }
    }

    /// The smallest BTF blob that uses the feature (and only features older than it).
    pub fn probe_blob(self) -> Vec<u8> {
        // Built with the writer, which cannot fail on these fixed, well-formed types; an error
        // would only make the probe report the feature missing.
        probe_blob(self).unwrap_or_default()
    }
}

impl std::fmt::Display for BtfFeature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (major, minor) = self.since();
        write!(f, "{} (Linux {major}.{minor})", self.name())
    }
}

fn probe_blob(feature: BtfFeature) -> Result<Vec<u8>, bpfkit_obj::btf::BtfError> {
    let mut w = BtfWriter::new(Endian::native());
    let int_name = w.add_string("int")?;
    // [1] int: 4 bytes, signed, 32 bits.
    let int = w.add_type(int_name, BtfKind::Int, 0, false, 4, &[(1 << 24) | 32])?;
    match feature {
        BtfFeature::Btf => {}
        BtfFeature::Func | BtfFeature::FuncGlobal => {
            let param = w.add_string("x")?;
            let proto = w.add_type(0, BtfKind::FuncProto, 1, false, int, &[param, int])?;
            let name = w.add_string("probe")?;
            let linkage = u16::from(feature == BtfFeature::FuncGlobal);
            w.add_type(name, BtfKind::Func, linkage, false, proto, &[])?;
        }
        BtfFeature::Datasec => {
            let name = w.add_string("x")?;
            let var = w.add_type(name, BtfKind::Var, 0, false, int, &[1])?;
            let section = w.add_string(".data")?;
            w.add_type(section, BtfKind::Datasec, 1, false, 4, &[var, 0, 4])?;
        }
        BtfFeature::Float => {
            let name = w.add_string("float")?;
            w.add_type(name, BtfKind::Float, 0, false, 4, &[])?;
        }
        BtfFeature::DeclTag => {
            let name = w.add_string("x")?;
            let var = w.add_type(name, BtfKind::Var, 0, false, int, &[1])?;
            let tag = w.add_string("tag")?;
            w.add_type(tag, BtfKind::DeclTag, 0, false, var, &[u32::MAX])?;
        }
        BtfFeature::TypeTag => {
            let tag = w.add_string("tag")?;
            let tagged = w.add_type(tag, BtfKind::TypeTag, 0, false, int, &[])?;
            w.add_type(0, BtfKind::Ptr, 0, false, tagged, &[])?;
        }
        BtfFeature::Enum64 => {
            let name = w.add_string("e")?;
            let value = w.add_string("v")?;
            w.add_type(name, BtfKind::Enum64, 1, false, 8, &[value, 0, 1])?;
        }
    }
    w.finish()
}

/// Whether the running kernel has `feature`, probed once per process with `BPF_BTF_LOAD`.
///
/// Without the privilege to load BTF (`EPERM`/`EACCES`), the answer falls back to comparing
/// the kernel release with [`BtfFeature::since`].
pub fn has_btf_feature(feature: BtfFeature) -> bool {
    static PROBED: [OnceLock<bool>; 8] = [const { OnceLock::new() }; 8];
    let index = BtfFeature::ALL
        .iter()
        .position(|f| *f == feature)
        .unwrap_or(0);
    match PROBED.get(index) {
        Some(slot) => *slot.get_or_init(|| probe_btf_feature(feature)),
        None => probe_btf_feature(feature),
    }
}

fn probe_btf_feature(feature: BtfFeature) -> bool {
    let blob = feature.probe_blob();
    match crate::sys::btf_load(&blob, 0) {
        Ok(_fd) => true,
        Err(err) => {
            let errno = err.source.errno();
            if errno == libc::EPERM || errno == libc::EACCES {
                let (major, minor) = feature.since();
                log::debug!("cannot probe {feature} ({err}); going by the kernel release");
                kernel_at_least(major, minor)
            } else {
                log::debug!("kernel lacks {feature}: {err}");
                false
            }
        }
    }
}

/// Which BTF kinds the running kernel accepts, for sanitizing object BTF before loading it.
pub fn btf_features() -> BtfFeatures {
    BtfFeatures {
        datasec: has_btf_feature(BtfFeature::Datasec),
        func: has_btf_feature(BtfFeature::Func),
        func_global: has_btf_feature(BtfFeature::FuncGlobal),
        float: has_btf_feature(BtfFeature::Float),
        decl_tag: has_btf_feature(BtfFeature::DeclTag),
        type_tag: has_btf_feature(BtfFeature::TypeTag),
        enum64: has_btf_feature(BtfFeature::Enum64),
    }
}

/// The running kernel's version as (major, minor, patch), from `uname(2)`.
///
/// Returns `(0, 0, 0)` when the release string cannot be read, which makes every
/// [`kernel_at_least`] check false (the fallback paths then run).
pub fn kernel_version() -> (u32, u32, u32) {
    static VERSION: OnceLock<(u32, u32, u32)> = OnceLock::new();
    *VERSION.get_or_init(|| {
        crate::sys::kernel_release()
            .map(|r| parse_release(&r))
            .unwrap_or((0, 0, 0))
    })
}

/// Whether the running kernel is at least `major.minor`.
pub fn kernel_at_least(major: u32, minor: u32) -> bool {
    let (have_major, have_minor, _) = kernel_version();
    (have_major, have_minor) >= (major, minor)
}

/// Parses "6.18.44-fc-v657" into (6, 18, 44); missing parts are 0.
fn parse_release(release: &str) -> (u32, u32, u32) {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().ok());
    let mut next = || parts.next().flatten().unwrap_or(0);
    (next(), next(), next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_release_strings() {
        assert_eq!(parse_release("6.18.44-fc-v657"), (6, 18, 44));
        assert_eq!(parse_release("5.4.0"), (5, 4, 0));
        assert_eq!(parse_release("6.6"), (6, 6, 0));
        assert_eq!(parse_release("garbage"), (0, 0, 0));
    }

    #[test]
    fn probe_blobs_parse_and_use_their_kind() {
        use bpfkit_obj::btf::Btf;
        for feature in BtfFeature::ALL {
            let btf = Btf::parse(&feature.probe_blob()).expect("probe blob parses");
            let kinds: Vec<BtfKind> = btf.types().flatten().map(|t| t.kind()).collect();
            let wanted = match feature {
                BtfFeature::Btf => BtfKind::Int,
                BtfFeature::Func | BtfFeature::FuncGlobal => BtfKind::Func,
                BtfFeature::Datasec => BtfKind::Datasec,
                BtfFeature::Float => BtfKind::Float,
                BtfFeature::DeclTag => BtfKind::DeclTag,
                BtfFeature::TypeTag => BtfKind::TypeTag,
                BtfFeature::Enum64 => BtfKind::Enum64,
            };
            assert!(kinds.contains(&wanted), "{feature}: {kinds:?}");
        }
        assert_eq!(BtfFeature::Float.to_string(), "BTF_KIND_FLOAT (Linux 5.13)");
    }

    #[test]
    fn running_kernel_has_every_btf_feature() {
        if crate::sys::effective_uid() != 0 {
            if std::env::var("BPFKIT_REQUIRE_KERNEL_TESTS").as_deref() == Ok("1") {
                panic!("running_kernel_has_every_btf_feature needs root");
            }
            println!("skipped: running_kernel_has_every_btf_feature: needs root");
            return;
        }
        // The test kernel is 6.18: everything up to ENUM64 (6.0) must probe as present.
        for feature in BtfFeature::ALL {
            let (major, minor) = feature.since();
            if kernel_at_least(major, minor) {
                assert!(has_btf_feature(feature), "{feature} should be supported");
            }
        }
        assert_eq!(btf_features(), BtfFeatures::ALL);
    }

    #[test]
    fn sanitized_object_btf_loads_into_the_kernel() {
        use bpfkit_obj::btf::Btf;
        if crate::sys::effective_uid() != 0 {
            if std::env::var("BPFKIT_REQUIRE_KERNEL_TESTS").as_deref() == Ok("1") {
                panic!("sanitized_object_btf_loads_into_the_kernel needs root");
            }
            println!("skipped: sanitized_object_btf_loads_into_the_kernel: needs root");
            return;
        }
        let objects: [(&str, &[u8]); 3] = [
            ("calls", include_bytes!("../tests/objects/calls.bpf.o")),
            ("maps", include_bytes!("../tests/objects/maps.bpf.o")),
            (
                "xdp_count",
                include_bytes!("../tests/objects/xdp_count.bpf.o"),
            ),
        ];
        let one_missing = |f: fn(&mut BtfFeatures)| {
            let mut features = BtfFeatures::ALL;
            f(&mut features);
            features
        };
        let variants = [
            BtfFeatures::ALL,
            BtfFeatures::NONE,
            one_missing(|f| f.datasec = false),
            one_missing(|f| f.func = false),
            one_missing(|f| f.func_global = false),
            one_missing(|f| f.float = false),
            one_missing(|f| f.decl_tag = false),
            one_missing(|f| f.type_tag = false),
            one_missing(|f| f.enum64 = false),
        ];
        for (name, bytes) in objects {
            let object = bpfkit_obj::Object::parse(bytes).expect("object parses");
            let kernel_bytes = object
                .kernel_btf()
                .expect("object has BTF")
                .expect("DATASEC fix-up");
            let btf = Btf::parse(&kernel_bytes).expect("fixed-up BTF parses");
            for features in variants {
                let sanitized = btf.sanitized(&features).expect("sanitize");
                if let Err(err) = crate::sys::btf_load(&sanitized, 1) {
                    panic!("{name} with {features:?}: {err}\n{}", err.log);
                }
            }
        }
    }

    #[test]
    fn running_kernel_has_a_version() {
        assert!(kernel_version().0 >= 3);
    }
}
