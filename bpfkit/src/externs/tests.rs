use super::*;

fn kconfig_extern(
    name: &str,
    value_type: KconfigType,
    offset: u32,
    size: u32,
    signed: bool,
    weak: bool,
) -> Extern {
    Extern {
        name: name.to_string(),
        essential_name: name.to_string(),
        weak,
        btf_id: 1,
        kind: ExternKind::Kconfig(KconfigExtern {
            value_type,
            offset,
            size,
            align: size.min(8),
            signed,
        }),
    }
}

/// Externs laid out at distinct offsets of a 40-byte map value.
fn sample_externs() -> Vec<Extern> {
    vec![
        kconfig_extern("CONFIG_LONG", KconfigType::Int, 0, 8, true, false),
        kconfig_extern("CONFIG_INT", KconfigType::Int, 8, 4, false, true),
        kconfig_extern("CONFIG_TRI", KconfigType::Tristate, 12, 4, false, true),
        kconfig_extern("CONFIG_SHORT", KconfigType::Int, 16, 2, true, true),
        kconfig_extern("CONFIG_BOOL", KconfigType::Bool, 18, 1, false, true),
        kconfig_extern("CONFIG_CHAR", KconfigType::Char, 19, 1, false, true),
        kconfig_extern("CONFIG_STR", KconfigType::CharArray, 20, 6, false, true),
        kconfig_extern("CONFIG_ABSENT", KconfigType::Bool, 26, 1, false, true),
    ]
}

fn fill(
    externs: &[Extern],
    overrides: &[(&str, &str)],
    config: Option<&str>,
) -> Result<Vec<u8>, ExternError> {
    let overrides: Vec<(String, String)> = overrides
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let mut data = vec![0u8; 40];
    let config = config.map(|c| (c.to_string(), "test".to_string()));
    fill_kconfig(externs, &overrides, &mut data, || Ok(config))?;
    Ok(data)
}

fn read(data: &[u8], offset: usize, size: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes[..size].copy_from_slice(&data[offset..offset + size]);
    u64::from_le_bytes(bytes)
}

const CONFIG: &str = "\
# Automatically generated file; DO NOT EDIT.
CONFIG_LONG=-1
CONFIG_INT=0x10
CONFIG_TRI=m
# CONFIG_ABSENT is not set
CONFIG_SHORT=-32768
CONFIG_BOOL=y
CONFIG_CHAR=m
CONFIG_STR=\"abcdefgh\"
CONFIG_UNUSED=\"whatever\"
";

#[test]
fn config_values_convert_like_libbpf() {
    let data = fill(&sample_externs(), &[], Some(CONFIG)).unwrap();
    assert_eq!(read(&data, 0, 8), u64::MAX);
    assert_eq!(read(&data, 8, 4), 16);
    assert_eq!(read(&data, 12, 4), 2, "m is TRI_MODULE");
    assert_eq!(read(&data, 16, 2) as u16 as i16, -32768);
    assert_eq!(data[18], 1);
    assert_eq!(data[19], b'm');
    // Six bytes: five characters and the NUL.
    assert_eq!(&data[20..26], b"abcde\0");
    assert_eq!(data[26], 0, "commented-out option is absent: weak is zero");
}

#[test]
fn overrides_win_over_the_kernel_config() {
    let data = fill(
        &sample_externs(),
        &[
            ("CONFIG_TRI", "y"),
            ("CONFIG_INT", "017"),
            ("CONFIG_ABSENT", "y"),
        ],
        Some(CONFIG),
    )
    .unwrap();
    assert_eq!(read(&data, 12, 4), 1);
    assert_eq!(read(&data, 8, 4), 0o17, "leading 0 is octal");
    assert_eq!(data[26], 1);
}

#[test]
fn strong_absent_extern_is_named() {
    let externs = vec![kconfig_extern(
        "CONFIG_MISSING",
        KconfigType::Bool,
        0,
        1,
        false,
        false,
    )];
    let err = fill(&externs, &[], Some(CONFIG)).unwrap_err();
    assert!(
        matches!(&err, ExternError::Unresolved { name, section: ".kconfig", .. } if name == "CONFIG_MISSING"),
        "{err}"
    );
    // No config file at all: the same error, and weak externs stay zero.
    assert!(matches!(
        fill(&externs, &[], None),
        Err(ExternError::Unresolved { .. })
    ));
    assert_eq!(
        fill(&sample_externs()[1..], &[], None).unwrap(),
        vec![0; 40]
    );
}

#[test]
fn values_that_do_not_fit_are_refused() {
    let cases: &[(&str, &str)] = &[
        ("CONFIG_BOOL", "m"),          // module needs tristate or char
        ("CONFIG_BOOL", "2"),          // not boolean
        ("CONFIG_INT", "y"),           // letter into an int
        ("CONFIG_INT", "0x100000000"), // does not fit in 4 unsigned bytes
        ("CONFIG_INT", "-1"),          // negative into unsigned
        ("CONFIG_SHORT", "32768"),     // above i16::MAX
        ("CONFIG_SHORT", "-32769"),    // below i16::MIN
        ("CONFIG_TRI", "1"),           // number into tristate
        ("CONFIG_STR", "5"),           // number into char array
        ("CONFIG_INT", "\"x\""),       // string into int
        ("CONFIG_STR", "\"open"),      // unterminated string
        ("CONFIG_INT", "12abc"),       // not a number
    ];
    for (name, value) in cases {
        let err = fill(&sample_externs(), &[(name, value)], None).unwrap_err();
        assert!(
            matches!(&err, ExternError::KconfigValue { name: n, .. } if n == name),
            "{name}={value}: {err}"
        );
    }
    // The limits themselves fit.
    let data = fill(
        &sample_externs(),
        &[
            ("CONFIG_SHORT", "32767"),
            ("CONFIG_INT", "4294967295"),
            ("CONFIG_CHAR", "255"),
            ("CONFIG_LONG", "0xffffffffffffffff"),
        ],
        None,
    )
    .unwrap();
    assert_eq!(read(&data, 16, 2), 32767);
    assert_eq!(read(&data, 8, 4), u64::from(u32::MAX));
    assert_eq!(data[19], 255);
}

#[test]
fn malformed_config_lines_are_errors() {
    for text in ["CONFIG_INT\n", "CONFIG_INT=\n"] {
        let err = fill(&sample_externs(), &[], Some(text)).unwrap_err();
        assert!(matches!(err, ExternError::ConfigSyntax { .. }), "{err}");
    }
}

#[test]
fn virtual_externs() {
    let externs = vec![
        kconfig_extern("LINUX_KERNEL_VERSION", KconfigType::Int, 0, 4, false, false),
        kconfig_extern(
            "LINUX_HAS_SYSCALL_WRAPPER",
            KconfigType::Bool,
            4,
            1,
            false,
            false,
        ),
        kconfig_extern("LINUX_FUTURE_THING", KconfigType::Bool, 5, 1, false, true),
    ];
    let data = fill(&externs, &[("LINUX_KERNEL_VERSION", "1")], None).unwrap();
    // Virtual values are computed, not overridable (libbpf's order).
    assert_eq!(read(&data, 0, 4), u64::from(running_kernel_version_code()));
    assert_eq!(data[4], u8::from(kernel_has_syscall_wrapper()));
    assert_eq!(data[5], 0, "unknown weak LINUX_ extern stays zero");

    let strong_unknown = vec![kconfig_extern(
        "LINUX_FUTURE_THING",
        KconfigType::Bool,
        0,
        1,
        false,
        false,
    )];
    assert!(matches!(
        fill(&strong_unknown, &[], None),
        Err(ExternError::UnknownVirtual { .. })
    ));
    let other = vec![kconfig_extern(
        "MY_SETTING",
        KconfigType::Bool,
        0,
        1,
        false,
        true,
    )];
    assert!(matches!(
        fill(&other, &[], None),
        Err(ExternError::UnknownVirtual { .. })
    ));
}

#[test]
fn version_codes() {
    assert_eq!(kernel_version_code(6, 18, 44), 0x06122c);
    assert_eq!(kernel_version_code(4, 14, 300), (4 << 16) + (14 << 8) + 255);
    assert_eq!(parse_version("5.15.131"), (5, 15, 131));
}

#[test]
fn numbers_parse_like_strtoull() {
    assert_eq!(parse_number("250"), Some(250));
    assert_eq!(parse_number("0x1F"), Some(31));
    assert_eq!(parse_number("010"), Some(8));
    assert_eq!(parse_number("0"), Some(0));
    assert_eq!(parse_number("-2"), Some(u64::MAX - 1));
    assert_eq!(parse_number(""), None);
    assert_eq!(parse_number("0x"), None);
    assert_eq!(parse_number("09"), None);
}

fn ksym(name: &str) -> Extern {
    Extern {
        name: name.to_string(),
        essential_name: name.split("___").next().unwrap_or(name).to_string(),
        weak: false,
        btf_id: 1,
        kind: ExternKind::Ksym(KsymKind::Typeless),
    }
}

#[test]
fn kallsyms_lookup() {
    let text = "\
ffffffff81000000 T _stext
ffffffff81000010 t helper.llvm.123456
ffffffffc0001000 t module_sym\t[some_module]
ffffffff81000020 T other
";
    let (stext, helper, module) = (ksym("_stext"), ksym("helper___v2"), ksym("module_sym"));
    let wanted = [&stext, &helper, &module];
    let found = kallsyms_addresses(text, &wanted).unwrap();
    assert_eq!(found.get("_stext"), Some(&0xffff_ffff_8100_0000));
    assert_eq!(found.get("helper"), Some(&0xffff_ffff_8100_0010));
    assert_eq!(found.get("module_sym"), Some(&0xffff_ffff_c000_1000));

    let twice = "ffffffff81000000 t dup\nffffffff81000040 t dup\n";
    let dup = ksym("dup");
    assert!(matches!(
        kallsyms_addresses(twice, &[&dup]),
        Err(ExternError::Ambiguous { .. })
    ));
    let hidden = "0000000000000000 T _stext\n0000000000000000 T other\n";
    assert!(matches!(
        kallsyms_addresses(hidden, &[&stext]),
        Err(ExternError::Kallsyms(_))
    ));
}

/// `printf 'hello hello hello\n' | gzip -n -9`: one fixed-Huffman block with a back-reference.
const HELLO_GZ: &[u8] = &[
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57,
    0xc8, 0x40, 0x90, 0x5c, 0x00, 0x3b, 0x7c, 0x8a, 0xdf, 0x12, 0x00, 0x00, 0x00,
];

/// Python's `gzip.compress(text, 9, mtime=0)` of [`dynamic_text`]: a dynamic-Huffman block.
const DYNAMIC_GZ_HEX: &str = "1f8b08000000000002036d923b6e02411005731f8313ccf4eb9e4f40846444c212907307db896f6f799a842dd25197b4b5af4edbf5f3727e6cb7fb65bb3ecaf1f0fdf3550e1fa797e77afcddbd185eb450ab7bd6711978698b75dbb31d97032f73b14df8e682d34a8f6a0b1f0e5cbca54a8d85d712e01b8fa95347f2d6c04ffe731a594ddefb9e372e6454324fbe0df05cc9a8643df931c17329a392cab31a24276ea537d13dab13b213c7129594e559203d712c5149599f75e4e71ccba9e4999f4df4e71ccba9e4d99f2afa738ee554f2ec4f427fceb1824a91fd29d05f70aca052647feae82f38565029b23f4df4171c2bfe95fe002be0f546f0040000";

fn dynamic_text() -> Vec<u8> {
    (0..60)
        .flat_map(|i| {
            let value = if i % 3 != 0 {
                "y".to_string()
            } else {
                format!("\"str{}\"", i * 7)
            };
            format!("CONFIG_OPTION_{i}={value}\n").into_bytes()
        })
        .collect()
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// A gzip member holding `data` in one stored (uncompressed) block.
fn stored_gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 3];
    out.extend_from_slice(b"name\0"); // FNAME
    out.push(1); // BFINAL, BTYPE 00
    let len = data.len() as u16;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&inflate_crc(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn inflate_crc(data: &[u8]) -> u32 {
    // Bitwise CRC-32, independent of the table the reader uses.
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn gunzip_fixed_dynamic_and_stored_blocks() {
    assert_eq!(gunzip(HELLO_GZ).unwrap(), b"hello hello hello\n");
    assert_eq!(gunzip(&hex(DYNAMIC_GZ_HEX)).unwrap(), dynamic_text());
    let stored = stored_gzip(b"CONFIG_A=y\n");
    assert_eq!(gunzip(&stored).unwrap(), b"CONFIG_A=y\n");
    // Two members concatenate, as zcat does.
    let mut two = stored_gzip(b"one\n");
    two.extend_from_slice(HELLO_GZ);
    assert_eq!(gunzip(&two).unwrap(), b"one\nhello hello hello\n");
}

#[test]
fn gunzip_rejects_corruption_without_panicking() {
    assert_eq!(gunzip(b"plain text"), Err(InflateError::NotGzip));
    let mut bad_crc = HELLO_GZ.to_vec();
    let at = bad_crc.len() - 8;
    bad_crc[at] ^= 1;
    assert_eq!(gunzip(&bad_crc), Err(InflateError::Trailer("CRC-32")));
    let dynamic = hex(DYNAMIC_GZ_HEX);
    // Every truncation and every single-byte corruption gives an error or (rarely) other bytes,
    // never a panic.
    for len in 0..dynamic.len() {
        assert!(gunzip(&dynamic[..len]).is_err(), "truncated at {len}");
    }
    for at in 10..dynamic.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut copy = dynamic.clone();
            copy[at] ^= flip;
            let _ = gunzip(&copy);
        }
    }
}

#[test]
fn gunzip_matches_the_running_kernel_config() {
    // Whatever /proc/config.gz holds (when the kernel exposes it) inflates to a config.
    let Ok(compressed) = std::fs::read("/proc/config.gz") else {
        println!("skipped: gunzip_matches_the_running_kernel_config: no /proc/config.gz");
        return;
    };
    let text = String::from_utf8(gunzip(&compressed).unwrap()).unwrap();
    assert!(text.lines().any(|l| l.starts_with("CONFIG_")));
}
