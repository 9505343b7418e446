//! `.kconfig` and `.ksyms` externs in the running kernel: values the loader computes are read
//! back from `.bss` after BPF_PROG_TEST_RUN and compared with what user space computes.

#[macro_use]
mod common;

use bpfkit::externs::{gunzip, kernel_has_syscall_wrapper, running_kernel_version_code};
use bpfkit::programs::TestRunOptions;
use bpfkit::{Ebpf, EbpfError, EbpfLoader};

fn load(loader: EbpfLoader, program: &str) -> Ebpf {
    let mut ebpf = loader
        .load(&common::object("externs.bpf.o"))
        .unwrap_or_else(|e| panic!("load externs.bpf.o: {e}"));
    ebpf.load_program(program)
        .unwrap_or_else(|e| panic!("load {program}: {e:#}"));
    ebpf
}

fn run(ebpf: &Ebpf, program: &str, ctx: &[u8]) {
    let out = ebpf
        .program(program)
        .expect("program")
        .data()
        .test_run(&TestRunOptions {
            ctx_in: ctx,
            // Syscall programs take no packet: the kernel refuses a data_out buffer.
            data_out_capacity: Some(0),
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("test run {program}: {e}"));
    assert_eq!(out.retval, 0);
}

fn global(ebpf: &Ebpf, name: &str) -> u64 {
    ebpf.global::<u64>(name)
        .unwrap_or_else(|e| panic!("reading {name}: {e}"))
}

/// The running kernel's configuration, as user space reads it independently of the loader's
/// search order (plain file first, then /proc/config.gz).
fn kernel_config() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    if let Ok(text) = std::fs::read_to_string(format!("/boot/config-{}", release.trim())) {
        return text;
    }
    let compressed = std::fs::read("/proc/config.gz").expect("no kernel config on this machine");
    String::from_utf8(gunzip(&compressed).expect("inflate /proc/config.gz")).expect("utf-8")
}

fn config_value(config: &str, name: &str) -> Option<String> {
    config.lines().find_map(|line| {
        line.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('='))
            .map(str::to_string)
    })
}

#[test]
fn kconfig_values_match_the_running_kernel() {
    require_root!();
    let ebpf = load(
        EbpfLoader::new().set_kconfig("CONFIG_BPFKIT_OVERRIDE", "-42"),
        "read_kconfig",
    );
    run(&ebpf, "read_kconfig", &[]);

    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    let mut parts = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (a, b, c) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    let expected_version = (a << 16) + (b << 8) + c.min(255);
    assert_eq!(global(&ebpf, "kernel_version"), u64::from(expected_version));
    assert_eq!(running_kernel_version_code(), expected_version);

    let config = kernel_config();
    let bpf_syscall = config_value(&config, "CONFIG_BPF_SYSCALL");
    assert_eq!(
        global(&ebpf, "bpf_syscall"),
        u64::from(bpf_syscall.as_deref() == Some("y"))
    );
    let btf = match config_value(&config, "CONFIG_DEBUG_INFO_BTF").as_deref() {
        Some("y") => 1,
        Some("m") => 2,
        _ => 0,
    };
    assert_eq!(global(&ebpf, "debug_info_btf"), btf);
    let hz: u64 = config_value(&config, "CONFIG_HZ")
        .expect("CONFIG_HZ")
        .parse()
        .expect("number");
    assert_eq!(global(&ebpf, "hz") as i32 as i64, hz as i64);
    let localversion = config_value(&config, "CONFIG_LOCALVERSION").unwrap_or_default();
    let localversion = localversion.trim_matches('"');
    let bytes = ebpf
        .global::<[u8; 16]>("localversion")
        .expect("localversion");
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(16);
    let expected = &localversion.as_bytes()[..localversion.len().min(15)];
    assert_eq!(&bytes[..end], expected);

    // Weak and absent: zero. Overridden: the loader's value, sign-extended into a long long.
    assert_eq!(global(&ebpf, "absent_config"), 0);
    assert_eq!(global(&ebpf, "override_value") as i64, -42);

    let wrapper = std::fs::read_to_string("/proc/kallsyms")
        .expect("kallsyms")
        .lines()
        .any(|l| l.ends_with(" __x64_sys_bpf"));
    if cfg!(target_arch = "x86_64") {
        assert_eq!(global(&ebpf, "has_syscall_wrapper"), u64::from(wrapper));
    }
    assert_eq!(
        global(&ebpf, "has_syscall_wrapper"),
        u64::from(kernel_has_syscall_wrapper())
    );
    // bpf_get_attach_cookie exists since 5.15.
    assert_eq!(
        global(&ebpf, "has_bpf_cookie"),
        u64::from((a, b) >= (5, 15))
    );
}

#[test]
fn kconfig_override_of_the_wrong_type_is_refused() {
    require_root!();
    let err = EbpfLoader::new()
        .set_kconfig("CONFIG_BPFKIT_OVERRIDE", "\"text\"")
        .load(&common::object("externs.bpf.o"))
        .expect_err("a string into a long long");
    let message = err.to_string();
    assert!(matches!(err, EbpfError::Extern(_)), "{message}");
    assert!(message.contains("CONFIG_BPFKIT_OVERRIDE"), "{message}");
}

#[test]
fn strong_absent_kconfig_extern_is_an_error_naming_it() {
    require_root!();
    let err = EbpfLoader::new()
        .load(&common::object("externs_missing.bpf.o"))
        .expect_err("absent strong extern");
    let message = err.to_string();
    assert!(matches!(err, EbpfError::Extern(_)), "{message}");
    assert!(
        message.contains("CONFIG_BPFKIT_REQUIRED_BUT_ABSENT"),
        "{message}"
    );
    // An override supplies it.
    let ebpf = EbpfLoader::new()
        .set_kconfig("CONFIG_BPFKIT_REQUIRED_BUT_ABSENT", "y")
        .load(&common::object("externs_missing.bpf.o"))
        .expect("load with override");
    run(&ebpf, "needs_absent_config", &[]);
    assert_eq!(global(&ebpf, "seen"), 1);
}

#[test]
fn typeless_ksyms_come_from_kallsyms() {
    require_root!();
    let ebpf = load(EbpfLoader::new(), "read_ksyms");
    run(&ebpf, "read_ksyms", &[]);
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").expect("kallsyms");
    let stext = kallsyms
        .lines()
        .find_map(|l| {
            let mut f = l.split_whitespace();
            let (addr, _, name) = (f.next()?, f.next()?, f.next()?);
            (name == "_stext").then(|| u64::from_str_radix(addr, 16).ok())?
        })
        .expect("_stext in kallsyms");
    assert_ne!(stext, 0, "run as root: kallsyms hides addresses otherwise");
    assert_eq!(global(&ebpf, "stext_address"), stext);
    assert_eq!(global(&ebpf, "absent_symbol_address"), 0);
    assert_eq!(global(&ebpf, "absent_variable_address"), 0);
}

#[test]
fn typed_per_cpu_ksym_resolves_through_kernel_btf() {
    require_root!();
    let mut ebpf = EbpfLoader::new()
        .load(&common::object("externs.bpf.o"))
        .expect("load externs.bpf.o");
    let loaded = ebpf.load_program("read_percpu");
    let kallsyms_all =
        config_value(&kernel_config(), "CONFIG_KALLSYMS_ALL").as_deref() == Some("y");
    if kallsyms_all {
        loaded.expect("load read_percpu");
        run(&ebpf, "read_percpu", &[]);
        assert_eq!(global(&ebpf, "prog_active_seen"), 1);
    } else {
        // The verifier finds a typed ksym's address with kallsyms_lookup_name(), which knows only
        // functions without CONFIG_KALLSYMS_ALL. Its refusal names the variable it read from the
        // BTF id in the instruction: the loader encoded BPF_PSEUDO_BTF_ID with the right id.
        let message = loaded.expect_err("no data symbols in kallsyms").to_string();
        assert!(
            message.contains("failed to find the address for kernel symbol 'bpf_prog_active'"),
            "{message}"
        );
    }
}

#[test]
fn kfunc_calls_resolve_and_weak_absent_kfunc_is_pruned() {
    require_root!();
    let ebpf = load(EbpfLoader::new(), "call_kfuncs");
    run(&ebpf, "call_kfuncs", &std::process::id().to_ne_bytes());
    assert_eq!(global(&ebpf, "task_found"), 1);
    assert_eq!(global(&ebpf, "absent_kfunc_present"), 0);
    // No task has a negative pid.
    run(&ebpf, "call_kfuncs", &(-5i32).to_ne_bytes());
    assert_eq!(global(&ebpf, "task_found"), 2);
    // The object's BTF reached the kernel even though it declares kfuncs and externs (their
    // BTF is rewritten the way libbpf does), so the program carries it.
    let info = ebpf
        .program("call_kfuncs")
        .expect("program")
        .data()
        .info()
        .expect("info");
    assert_ne!(info.btf_id, 0, "program loaded without the object's BTF");
}
