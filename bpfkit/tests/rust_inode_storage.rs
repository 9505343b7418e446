//! Inode storage (`InodeStorage` of bpfkit-ebpf) on the test kernel, from the committed
//! `rust/maps_all.bpf.o` (`inode_unlinks`) and `rust/inode_storage.bpf.o` (`inode_marks` and two
//! programs that call `bpf_inode_storage_get`).
//!
//! What Linux 6.18 allows, probed on the test kernel (the tests below assert it):
//! * bpfkit creates inode storage maps as the Rust definitions say (`BPF_MAP_TYPE_INODE_STORAGE`,
//!   `BPF_F_NO_PREALLOC`, no entries limit, key and value BTF), and user space reads and writes
//!   a value per inode, naming the inode by any fd open on it.
//! * `bpf_inode_storage_get`/`_delete` are offered to LSM programs only (inode storage lives in
//!   the BPF LSM's inode security blob; the series that would have moved it into `struct inode`
//!   for tracing programs is not in this kernel: its `struct inode` has no `i_bpf_storage`).
//!   The verifier refuses a BTF tracepoint calling it, even with a trusted inode argument:
//!   "program of this type cannot use helper bpf_inode_storage_get#145". (C probes give the
//!   same for `iter/task_file` and `syscall` programs.)
//! * An LSM program, which may call it, does not load on the test kernel: BPF_PROG_LOAD fails
//!   with EPERM and an empty verifier log, for any LSM program.
//!
//! Both program tests also carry the branch for a kernel that accepts the program: then they
//! attach it and check the value it stores, so they do not merely fail on such a kernel.

#[macro_use]
mod common;

use std::fs::File;
use std::io::Write as _;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use bpfkit::maps::{InodeStorage, MapData, UpdateFlags};
use bpfkit::obj::consts::*;
use bpfkit::programs::ProgramError;
use bpfkit::sys;
use bpfkit::{Ebpf, EbpfLoader};

const OBJECT: &str = "rust/inode_storage.bpf.o";
const MAPS_ALL: &str = "rust/maps_all.bpf.o";

/// What the verifier says about the helper in a program type that may not call it.
const HELPER_REFUSED: &str = "program of this type cannot use helper bpf_inode_storage_get#145";

/// Loads an object's maps (programs load one by one with `Ebpf::load_program`).
fn load_maps(object: &str) -> Ebpf {
    EbpfLoader::new()
        .autoload(false)
        .load(&common::object(object))
        .unwrap_or_else(|e| panic!("loading {object}: {e}"))
}

fn map_data<'a>(ebpf: &'a Ebpf, name: &str) -> &'a MapData {
    ebpf.map(name).unwrap_or_else(|| panic!("map {name}"))
}

/// A directory of this test's own under the temporary directory, removed with its contents on
/// drop.
struct TestDir {
    path: PathBuf,
}

impl TestDir {
    fn new() -> TestDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "bpfkit-inode-storage-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        TestDir { path }
    }

    /// Creates (or truncates) the file `name` in the directory.
    fn create(&self, name: &str) -> File {
        let path = self.path.join(name);
        File::create(&path).unwrap_or_else(|e| panic!("creating {}: {e}", path.display()))
    }

    /// Opens the file `name` again: another fd on the same inode.
    fn open(&self, name: &str) -> File {
        let path = self.path.join(name);
        File::open(&path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()))
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The inode storage of u64 `map`.
fn storage(map: &MapData) -> InodeStorage<&MapData, u64> {
    InodeStorage::try_from(map).expect("an inode storage of u64")
}

/// The inode's value in an inode storage of u64, named by an fd open on the inode.
fn value_of(map: &MapData, inode: &impl AsFd) -> Option<u64> {
    storage(map).get(inode).expect("inode storage lookup")
}

/// Both Rust inode storages are created as their definitions say, with the key and value BTF
/// the kernel requires of local storages (it refuses one without): the ids bpfkit passed are the
/// object's, naming a 4-byte key (the fd) and an 8-byte value (`u64`).
#[test]
fn rust_inode_storage_maps_are_created_with_no_prealloc_and_btf_key_and_value() {
    require_root!();
    for (object, name) in [(MAPS_ALL, "inode_unlinks"), (OBJECT, "inode_marks")] {
        let ebpf = load_maps(object);
        let info = map_data(&ebpf, name).info();
        assert_eq!(
            (
                info.map_type,
                info.key_size,
                info.value_size,
                info.max_entries,
                info.map_flags
            ),
            (BPF_MAP_TYPE_INODE_STORAGE, 4, 8, 0, BPF_F_NO_PREALLOC),
            "{object} {name}: (type, key, value, max entries, flags)"
        );
        assert_ne!(info.btf_id, 0, "{name}: created with the object's BTF");
        let spec = ebpf.object().map(name).expect("map spec");
        assert_eq!(
            (Some(info.btf_key_type_id), Some(info.btf_value_type_id)),
            (spec.btf_key_type_id, spec.btf_value_type_id),
            "{name}: the key and value type ids of the object"
        );
        let btf = ebpf.object().btf.as_ref().expect("object BTF");
        assert_eq!(
            (
                btf.resolve_size(info.btf_key_type_id).expect("key type"),
                btf.resolve_size(info.btf_value_type_id)
                    .expect("value type")
            ),
            (4, 8),
            "{name}: BTF key and value sizes"
        );
    }
}

/// From user space a value belongs to the inode, not to the fd: written through one fd, it is
/// read through another fd of the same file, is absent for another file, cannot be created
/// twice with BPF_NOEXIST, and is gone once deleted.
#[test]
fn rust_inode_storage_values_belong_to_the_inode() {
    require_root!();
    let ebpf = load_maps(OBJECT);
    let map = map_data(&ebpf, "inode_marks");
    let dir = TestDir::new();
    let writer = dir.create("marked");
    let reader = dir.open("marked");
    let other = dir.create("unmarked");
    let marks = storage(map);

    marks
        .insert(&writer, &0xb0f_c17, UpdateFlags::empty())
        .expect("set the inode's value through its first fd");
    assert_eq!(
        value_of(map, &reader),
        Some(0xb0f_c17),
        "read through another fd"
    );
    assert_eq!(value_of(map, &other), None, "another inode has no value");

    let again = marks
        .insert(&reader, &1, UpdateFlags::NO_EXIST)
        .expect_err("BPF_NOEXIST on an inode that has a value");
    assert_eq!(again.errno(), Some(libc::EEXIST), "{again}");

    assert!(marks.remove(&reader).expect("delete"), "the value existed");
    assert_eq!(value_of(map, &writer), None, "deleted for every fd");
}

/// The BTF tracepoint `writeback_mark_inode_dirty` gets a trusted inode, yet on 6.18 the
/// verifier refuses its call of `bpf_inode_storage_get`: the helper is for LSM programs. (On a
/// kernel that offers it to tracing programs, the attached program must count the writes to a
/// file in the file's inode storage.)
#[test]
fn rust_inode_storage_helper_is_refused_to_btf_tracepoints() {
    require_root!();
    let mut ebpf = load_maps(OBJECT);
    match ebpf.load_program("dirty_inode_marks") {
        Err(ProgramError::Verifier(error)) => {
            assert_eq!(error.errno(), libc::EINVAL, "{error}");
            let log = error.log();
            assert!(
                log.contains("trusted_ptr_inode"),
                "the argument is a trusted inode:\n{log}"
            );
            assert!(log.contains(HELPER_REFUSED), "log:\n{log}");
            let summary = error.to_string();
            assert!(
                summary.contains("dirty_inode_marks") && summary.contains(HELPER_REFUSED),
                "the short form names the program and the cause: {summary}"
            );
        }
        Err(other) => panic!("expected the verifier's refusal, got: {other}"),
        Ok(()) => counts_writes_in_inode_storage(&ebpf),
    }
}

/// For a kernel that lets tracing programs use inode storage: attaches `dirty_inode_marks` and
/// writes to a new file, whose inode must then have a count.
fn counts_writes_in_inode_storage(ebpf: &Ebpf) {
    let program = ebpf.program("dirty_inode_marks").expect("program");
    let _link = sys::link_create(&sys::LinkCreate {
        prog_fd: program.data().fd().expect("loaded"),
        target: sys::LinkTarget::Ifindex(0),
        attach_type: BPF_TRACE_RAW_TP,
        flags: 0,
        extra: sys::LinkExtra::None,
    })
    .expect("attach tp_btf/writeback_mark_inode_dirty");
    let dir = TestDir::new();
    let mut file = dir.create("written");
    file.write_all(b"dirty").expect("write");
    file.sync_all().expect("fsync");
    let count = value_of(map_data(ebpf, "inode_marks"), &file);
    assert!(
        count.is_some_and(|count| count >= 1),
        "the written file's inode was marked: {count:?}"
    );
}

/// The LSM program `unlink_marks` (the program type that may call the helper) is refused by the
/// test kernel before verification: EPERM, empty log, and bpfkit's message says so. (On a
/// kernel that loads it, the attached program must count an unlink in the directory's inode
/// storage.)
#[test]
fn rust_inode_storage_lsm_program_is_refused_with_eperm() {
    require_root!();
    let mut ebpf = load_maps(OBJECT);
    match ebpf.load_program("unlink_marks") {
        Err(ProgramError::Verifier(error)) => {
            assert_eq!(error.errno(), libc::EPERM, "{error}");
            assert_eq!(error.log(), "", "refused before the verifier ran");
            let summary = error.to_string();
            assert!(
                summary.contains("unlink_marks") && summary.contains("Operation not permitted"),
                "the short form names the program and the cause: {summary}"
            );
        }
        Err(other) => panic!("expected EPERM from BPF_PROG_LOAD, got: {other}"),
        Ok(()) => counts_unlinks_in_inode_storage(&ebpf),
    }
}

/// For a kernel that loads BPF LSM programs: attaches `unlink_marks` and removes a file from a
/// new directory, whose inode must then count one unlink.
fn counts_unlinks_in_inode_storage(ebpf: &Ebpf) {
    let program = ebpf.program("unlink_marks").expect("program");
    let _link = sys::link_create(&sys::LinkCreate {
        prog_fd: program.data().fd().expect("loaded"),
        target: sys::LinkTarget::Ifindex(0),
        attach_type: BPF_LSM_MAC,
        flags: 0,
        extra: sys::LinkExtra::None,
    })
    .expect("attach lsm/inode_unlink");
    let dir = TestDir::new();
    drop(dir.create("victim"));
    std::fs::remove_file(dir.path.join("victim")).expect("unlink");
    let directory = File::open(&dir.path).expect("open the directory");
    assert_eq!(
        value_of(map_data(ebpf, "inode_marks"), &directory),
        Some(1),
        "one unlink in the directory"
    );
}
