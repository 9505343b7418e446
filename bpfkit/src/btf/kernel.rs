//! Finding and loading kernel BTF: vmlinux (memory-mapped, once per process), kernel modules
//! (split BTF, each only when asked), fallbacks for kernels without sysfs BTF, and user-supplied
//! BTF files (btfhub style).

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use bpfkit_obj::btf::{elf_btf_range, is_elf, Btf, BtfStorage};

use crate::sys::Mmap;

/// Directory of the kernel's BTF files: `vmlinux` plus one split BTF file per loaded module.
pub const SYSFS_BTF_DIR: &str = "/sys/kernel/btf";

/// Errors finding or reading kernel BTF.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KernelBtfError {
    /// No file with kernel BTF was found.
    #[error("no kernel BTF found (looked in /sys/kernel/btf/vmlinux, /boot, /lib/modules, /usr/lib/debug): the kernel needs CONFIG_DEBUG_INFO_BTF (5.4+), or pass a BTF file for this kernel (btfhub)")]
    NotFound,
    /// The file exists but could not be read or parsed.
    #[error("kernel BTF at `{path}`: {message}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// Where to take the target kernel's BTF from (for CO-RE relocations and kernel type lookups).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BtfSource {
    /// The running kernel: `/sys/kernel/btf/vmlinux`, else the usual vmlinux files.
    #[default]
    Kernel,
    /// A file: raw BTF (as `/sys/kernel/btf/vmlinux` or a btfhub `.btf`) or an ELF file with a
    /// `.BTF` section (a vmlinux image).
    File(PathBuf),
}

impl BtfSource {
    /// Loads the BTF: the running kernel's is shared (loaded once per process), a file's is
    /// loaded on each call.
    pub fn load(&self) -> Result<Arc<Btf>, KernelBtfError> {
        match self {
            BtfSource::Kernel => kernel_btf(),
            BtfSource::File(path) => read_btf_file(path).map(Arc::new),
        }
    }
}

/// Where kernel BTF is looked for, in order: sysfs (5.4+ with CONFIG_DEBUG_INFO_BTF), then the
/// places distributions install a vmlinux with BTF (ELF files).
pub fn candidate_paths() -> Vec<PathBuf> {
    let mut paths = vec![Path::new(SYSFS_BTF_DIR).join("vmlinux")];
    if let Ok(release) = crate::sys::kernel_release() {
        for pattern in [
            "/boot/vmlinux-{}",
            "/lib/modules/{}/vmlinux-{}",
            "/lib/modules/{}/build/vmlinux",
            "/lib/modules/{}/vmlinux",
            "/usr/lib/modules/{}/kernel/vmlinux",
            "/usr/lib/debug/boot/vmlinux-{}",
            "/usr/lib/debug/boot/vmlinux-{}.debug",
            "/usr/lib/debug/lib/modules/{}/vmlinux",
        ] {
            paths.push(PathBuf::from(pattern.replace("{}", &release)));
        }
    }
    paths
}

/// The running kernel's BTF, memory-mapped and parsed once per process.
pub fn kernel_btf() -> Result<Arc<Btf>, KernelBtfError> {
    static KERNEL_BTF: OnceLock<Result<Arc<Btf>, KernelBtfError>> = OnceLock::new();
    KERNEL_BTF
        .get_or_init(|| load_first(&candidate_paths()).map(Arc::new))
        .clone()
}

/// The first of `paths` that exists, loaded; a candidate that exists but cannot be read is
/// skipped with a warning when a later one works.
fn load_first(paths: &[PathBuf]) -> Result<Btf, KernelBtfError> {
    let mut first_error = None;
    for path in paths.iter().filter(|p| p.exists()) {
        match read_btf_file(path) {
            Ok(btf) => return Ok(btf),
            Err(err) => {
                log::warn!("skipping kernel BTF candidate: {err}");
                first_error.get_or_insert(err);
            }
        }
    }
    Err(first_error.unwrap_or(KernelBtfError::NotFound))
}

/// Bytes of a file: mapped when the file allows it (sysfs BTF since 6.16, regular files), read
/// otherwise.
fn file_storage(path: &Path) -> Result<Arc<dyn AsRef<[u8]> + Send + Sync>, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let size = file.metadata().map_err(|e| e.to_string())?.len();
    if size > 0 {
        match Mmap::map(&file) {
            Ok(map) => return Ok(Arc::new(map)),
            Err(err) => log::debug!("mmap of {} failed ({err}), reading it", path.display()),
        }
    }
    // sysfs may report a size of 0 or refuse mmap: read whatever the file yields.
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    Ok(Arc::new(bytes))
}

/// A window on shared bytes: the `.BTF` section inside a mapped vmlinux ELF file.
struct SubRange {
    whole: Arc<dyn AsRef<[u8]> + Send + Sync>,
    range: std::ops::Range<usize>,
}

impl AsRef<[u8]> for SubRange {
    fn as_ref(&self) -> &[u8] {
        (*self.whole)
            .as_ref()
            .get(self.range.clone())
            .unwrap_or_default()
    }
}

/// Reads a BTF file without copying it: raw BTF (`/sys/kernel/btf/vmlinux`, a btfhub `.btf`)
/// or an ELF file whose `.BTF` section holds it (a vmlinux image).
pub fn read_btf_file(path: &Path) -> Result<Btf, KernelBtfError> {
    let unreadable = |message: String| KernelBtfError::Unreadable {
        path: path.to_path_buf(),
        message,
    };
    let storage = file_storage(path).map_err(unreadable)?;
    let storage = elf_or_raw(storage).map_err(unreadable)?;
    Btf::from_shared(storage).map_err(|e| unreadable(e.to_string()))
}

/// The BTF part of a file's bytes: the `.BTF` section of an ELF file, else the whole file.
fn elf_or_raw(storage: BtfStorage) -> Result<BtfStorage, String> {
    if !is_elf((*storage).as_ref()) {
        return Ok(storage);
    }
    let range = elf_btf_range((*storage).as_ref())
        .map_err(|e| e.to_string())?
        .ok_or("ELF file without a .BTF section (kernel built without CONFIG_DEBUG_INFO_BTF?)")?;
    Ok(Arc::new(SubRange {
        whole: storage,
        range,
    }))
}

/// Reads split BTF (a kernel module's) from `path` on top of `base`.
pub fn read_split_btf_file(path: &Path, base: Arc<Btf>) -> Result<Btf, KernelBtfError> {
    let unreadable = |message: String| KernelBtfError::Unreadable {
        path: path.to_path_buf(),
        message,
    };
    let storage = file_storage(path).map_err(unreadable)?;
    Btf::from_shared_split(storage, base).map_err(|e| unreadable(e.to_string()))
}

/// The BTF of the loaded kernel module `name` (`/sys/kernel/btf/<name>`), split on the
/// running kernel's BTF. Loaded on first request and then shared for the life of the process.
pub fn module_btf(name: &str) -> Result<Arc<Btf>, KernelBtfError> {
    static MODULES: OnceLock<Mutex<HashMap<String, Arc<Btf>>>> = OnceLock::new();
    let cache = MODULES.get_or_init(Default::default);
    if let Some(btf) = cache.lock().ok().and_then(|m| m.get(name).cloned()) {
        return Ok(btf);
    }
    if name.is_empty() || name.contains('/') || name == "vmlinux" {
        return Err(KernelBtfError::Unreadable {
            path: Path::new(SYSFS_BTF_DIR).join(name),
            message: "not a kernel module name".to_string(),
        });
    }
    let btf = Arc::new(read_split_btf_file(
        &Path::new(SYSFS_BTF_DIR).join(name),
        kernel_btf()?,
    )?);
    if let Ok(mut modules) = cache.lock() {
        modules.insert(name.to_string(), Arc::clone(&btf));
    }
    Ok(btf)
}

/// The BTF of each kernel module, loaded one at a time as the iteration reaches it, so a search
/// that stops early (vmlinux answered, or the first module did) loads nothing more. A module
/// whose file is empty or broken is skipped with a warning: it never fails the caller's load.
pub struct ModuleBtfs {
    dir: PathBuf,
    base: Arc<Btf>,
    /// Whether modules come from the running kernel (and its per-process cache).
    kernel: bool,
    names: std::vec::IntoIter<String>,
}

impl ModuleBtfs {
    /// The running kernel's modules, from `/sys/kernel/btf`.
    pub fn kernel() -> Result<ModuleBtfs, KernelBtfError> {
        let mut modules = ModuleBtfs::in_dir(Path::new(SYSFS_BTF_DIR), kernel_btf()?);
        modules.kernel = true;
        Ok(modules)
    }

    /// Modules in `dir` (every file but `vmlinux`), split on `base`; names in sorted order.
    pub fn in_dir(dir: &Path, base: Arc<Btf>) -> ModuleBtfs {
        let mut names: Vec<String> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .flatten()
                .filter_map(|entry| entry.file_name().into_string().ok())
                .filter(|name| name != "vmlinux")
                .collect(),
            Err(err) => {
                log::warn!("cannot list module BTF in {}: {err}", dir.display());
                Vec::new()
            }
        };
        names.sort();
        ModuleBtfs {
            dir: dir.to_path_buf(),
            base,
            kernel: false,
            names: names.into_iter(),
        }
    }
}

impl Iterator for ModuleBtfs {
    /// Module name and its BTF.
    type Item = (String, Arc<Btf>);

    fn next(&mut self) -> Option<(String, Arc<Btf>)> {
        for name in self.names.by_ref() {
            let loaded = if self.kernel {
                module_btf(&name)
            } else {
                read_split_btf_file(&self.dir.join(&name), Arc::clone(&self.base)).map(Arc::new)
            };
            match loaded {
                Ok(btf) => return Some((name, btf)),
                Err(err) => log::warn!("skipping BTF of module `{name}`: {err}"),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfkit_obj::btf::{BtfKind, BtfWriter, Endian};

    /// A temporary directory removed on drop, even when the test fails.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!(
                "bpfkit-kbtf-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create temp dir");
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Base BTF: [1] int, [2] struct base_s {x: int}.
    fn base_blob() -> Vec<u8> {
        let mut w = BtfWriter::new(Endian::native());
        let int = w.add_string("int").unwrap();
        let int = w.add_type(int, BtfKind::Int, 0, false, 4, &[32]).unwrap();
        let (s, x) = (w.add_string("base_s").unwrap(), w.add_string("x").unwrap());
        w.add_type(s, BtfKind::Struct, 1, false, 4, &[x, int, 0])
            .unwrap();
        w.finish().unwrap()
    }

    /// Module BTF on top of `base_blob`: [3] typedef `name` -> base [2].
    fn module_blob(base: &Btf, name: &str) -> Vec<u8> {
        let mut strings = name.as_bytes().to_vec();
        strings.push(0);
        let name_offset = base.header().str_len;
        let ne = |v: u32| match Endian::native() {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        };
        let mut out = match Endian::native() {
            Endian::Little => vec![0x9f, 0xeb, 1, 0],
            Endian::Big => vec![0xeb, 0x9f, 1, 0],
        };
        for v in [24u32, 0, 12, 12, strings.len() as u32] {
            out.extend_from_slice(&ne(v));
        }
        for v in [name_offset, 8 << 24, 2] {
            out.extend_from_slice(&ne(v));
        }
        out.extend_from_slice(&strings);
        out
    }

    #[test]
    fn broken_and_empty_module_files_are_skipped() {
        let dir = TempDir::new("modules");
        let base = Arc::new(Btf::parse(&base_blob()).unwrap());
        let good = module_blob(&base, "good_t");
        std::fs::write(dir.0.join("a_good"), &good).unwrap();
        std::fs::write(dir.0.join("b_empty"), b"").unwrap();
        std::fs::write(dir.0.join("c_truncated"), &good[..good.len() - 7]).unwrap();
        std::fs::write(dir.0.join("d_garbage"), b"not BTF at all, not even close").unwrap();
        std::fs::write(dir.0.join("vmlinux"), base_blob()).unwrap();
        std::fs::write(dir.0.join("e_good"), module_blob(&base, "other_t")).unwrap();

        let loaded: Vec<(String, Arc<Btf>)> =
            ModuleBtfs::in_dir(&dir.0, Arc::clone(&base)).collect();
        let names: Vec<&str> = loaded.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a_good", "e_good"]);
        let (_, first) = &loaded[0];
        assert_eq!(first.find_by_name_kind("good_t", BtfKind::Typedef), Some(3));
        assert_eq!(first.skip_mods_and_typedefs(3).unwrap(), 2);
        assert_eq!(first.type_name(2).unwrap(), "base_s");

        // Reading one of the broken files on its own is a typed error naming the file.
        let err = read_split_btf_file(&dir.0.join("c_truncated"), Arc::clone(&base)).unwrap_err();
        assert!(err.to_string().contains("c_truncated"), "{err}");
        assert!(read_split_btf_file(&dir.0.join("b_empty"), base).is_err());
    }

    #[test]
    fn iteration_is_lazy() {
        let dir = TempDir::new("lazy");
        let base = Arc::new(Btf::parse(&base_blob()).unwrap());
        std::fs::write(dir.0.join("a"), module_blob(&base, "a_t")).unwrap();
        std::fs::write(dir.0.join("b"), module_blob(&base, "b_t")).unwrap();
        let mut modules = ModuleBtfs::in_dir(&dir.0, base);
        let (first, _) = modules.next().unwrap();
        assert_eq!(first, "a");
        // "b" is read only when reached: removing it now makes the iteration end.
        std::fs::remove_file(dir.0.join("b")).unwrap();
        assert!(modules.next().is_none());
    }

    #[test]
    fn raw_and_elf_btf_files_load_from_a_btf_source() {
        let dir = TempDir::new("files");
        let raw = dir.0.join("kernel.btf");
        std::fs::write(&raw, base_blob()).unwrap();
        let btf = BtfSource::File(raw).load().unwrap();
        assert_eq!(btf.find_by_name_kind("base_s", BtfKind::Struct), Some(2));

        // An ELF file with a .BTF section, as a vmlinux image is.
        let elf = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/objects/calls.bpf.o");
        let from_elf = read_btf_file(Path::new(elf)).unwrap();
        let object = bpfkit_obj::Object::parse(&std::fs::read(elf).unwrap()).unwrap();
        assert_eq!(from_elf.raw(), object.btf.unwrap().raw());

        let empty = dir.0.join("empty.btf");
        std::fs::write(&empty, b"").unwrap();
        assert!(matches!(
            BtfSource::File(empty).load(),
            Err(KernelBtfError::Unreadable { .. })
        ));
        let missing = BtfSource::File(dir.0.join("missing")).load().unwrap_err();
        assert!(missing.to_string().contains("missing"), "{missing}");
    }

    #[test]
    fn fallback_takes_the_first_readable_candidate() {
        let dir = TempDir::new("fallback");
        let broken = dir.0.join("broken");
        std::fs::write(&broken, b"\x7fELF but not really").unwrap();
        let good = dir.0.join("good");
        std::fs::write(&good, base_blob()).unwrap();
        let btf = load_first(&[dir.0.join("absent"), broken.clone(), good]).unwrap();
        assert_eq!(btf.type_count(), 3);
        assert!(matches!(
            load_first(&[dir.0.join("absent")]),
            Err(KernelBtfError::NotFound)
        ));
        assert!(matches!(
            load_first(&[broken]),
            Err(KernelBtfError::Unreadable { .. })
        ));
    }

    #[test]
    fn kernel_btf_is_mapped_not_copied() {
        let Ok(btf) = kernel_btf() else {
            println!("skipped: kernel_btf_is_mapped_not_copied: no kernel BTF");
            return;
        };
        let id = btf
            .find_by_name_kind("task_struct", BtfKind::Struct)
            .expect("task_struct");
        assert!(btf
            .members(id)
            .unwrap()
            .iter()
            .any(|m| btf.string_at(m.name_offset).ok() == Some("pid")));
        // Same process, same BTF.
        assert!(Arc::ptr_eq(&btf, &kernel_btf().unwrap()));
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
        assert!(
            maps.contains("/sys/kernel/btf/vmlinux"),
            "vmlinux BTF should be memory-mapped"
        );
        // The lookup structures stay small: offsets, kinds, and the struct name index.
        assert!(btf.index_memory() < 2 << 20, "{}", btf.index_memory());
    }
}
