//! The loader: from an object file to maps and programs in the kernel.
//!
//! [`EbpfLoader`] collects what may change before load (global variables, map sizes, the pin
//! directory, the verifier log level), then [`EbpfLoader::load`] parses the object, creates its
//! maps, relocates and loads its programs, and fills prog arrays and map-in-map slots. The result
//! is an [`Ebpf`], from which programs and maps are taken by name.
//!
//! `program.rs` loads one program, `maps.rs` creates the maps.

mod maps;
mod program;

use maps::create_map;
pub use maps::pin_name;
use program::{load_object_btf, load_program};

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bitflags::bitflags;
use bpfkit_obj::btf::Btf;
use bpfkit_obj::uapi::prog_type;
use bpfkit_obj::{InitialValue, MapKind, Object};

use crate::externs::KsymValue;

use crate::maps::{MapData, MapError};
use crate::programs::{Program, ProgramData, ProgramError, VerifierError};
use crate::Pod;

/// Where maps pinned by name go when the loader is given no pin path (libbpf's default).
const DEFAULT_PIN_PATH: &str = "/sys/fs/bpf";

bitflags! {
    /// How much the verifier writes to its log (`BPF_LOG_*`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct VerifierLogLevel: u32 {
        /// The instructions the verifier walked, with register states at branches.
        const DEBUG = 1;
        /// Register states at every instruction.
        const VERBOSE = 2;
        /// Statistics: instructions processed, states, time.
        const STATS = 4;
    }
}

/// Errors from [`EbpfLoader::load`] and the [`Ebpf`] accessors.
#[derive(Debug, thiserror::Error)]
pub enum EbpfError {
    /// The object file could not be read.
    #[error("reading `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The object is malformed.
    #[error(transparent)]
    Parse(#[from] bpfkit_obj::ParseError),
    /// A global variable given to the loader does not exist in the object.
    #[error("global variable `{name}` is not in the object's .data, .rodata or .bss sections")]
    UnknownGlobal {
        /// The variable's name.
        name: String,
    },
    /// A global variable's value has the wrong size.
    #[error("global variable `{name}` is {expected} bytes, the value given is {actual}")]
    GlobalSize {
        /// The variable's name.
        name: String,
        /// Its size in the object.
        expected: usize,
        /// The size of the value given.
        actual: usize,
    },
    /// `set_max_entries` named a map that the object does not have.
    #[error("no map named `{name}` in the object (set_max_entries)")]
    UnknownMap {
        /// The map's name.
        name: String,
    },
    /// Creating, filling, pinning or reusing a map failed.
    #[error("map `{name}`: {source}")]
    Map {
        /// The map's name.
        name: String,
        /// What went wrong.
        #[source]
        source: MapError,
    },
    /// Pinning a map, or opening its pin, failed.
    #[error("map `{name}`: pin `{path}`: {source}")]
    Pin {
        /// The map's name.
        name: String,
        /// The pin path.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: MapError,
    },
    /// A map pinned under the pin path does not match the object's definition.
    #[error("map `{name}`: the map pinned at `{path}` does not match the object's definition ({detail})")]
    PinnedMapMismatch {
        /// The map's name.
        name: String,
        /// The pin.
        path: PathBuf,
        /// What differs.
        detail: String,
    },
    /// A `.values` slot names a map or program the object does not have or could not load.
    #[error("map `{map}` slot {slot}: {detail}")]
    InitialValue {
        /// The map holding the slot.
        map: String,
        /// The slot's index.
        slot: u32,
        /// What is wrong.
        detail: String,
    },
    /// The target BTF given to the loader cannot be read.
    #[error("target BTF: {0}")]
    TargetBtf(#[source] crate::btf::KernelBtfError),
    /// A CO-RE slot of a Rust program (`#[kernel_struct]`) is malformed or cannot be resolved.
    #[error("Rust CO-RE: {0}")]
    RustCore(#[from] bpfkit_obj::rust_core::RustCoreError),
    /// A program failed to load.
    #[error(transparent)]
    Program(#[from] ProgramError),
    /// A `.kconfig` or `.ksyms` extern could not be resolved.
    #[error(transparent)]
    Extern(#[from] crate::externs::ExternError),
}

impl From<VerifierError> for EbpfError {
    fn from(err: VerifierError) -> EbpfError {
        EbpfError::Program(ProgramError::Verifier(Box::new(err)))
    }
}

/// Builds an [`Ebpf`] with settings applied before anything reaches the kernel.
///
/// ```no_run
/// # fn run() -> Result<(), bpfkit::EbpfError> {
/// use bpfkit::{EbpfLoader, VerifierLogLevel};
/// let ebpf = EbpfLoader::new()
///     .set_global("target_port", &4242u16, true)
///     .set_max_entries("counts", 1024)
///     .pin_path("/sys/fs/bpf/myapp")
///     .verifier_log_level(VerifierLogLevel::STATS)
///     .load_file("myprog.bpf.o")?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct EbpfLoader {
    globals: Vec<(String, Vec<u8>, bool)>,
    max_entries: Vec<(String, u32)>,
    pin_path: Option<PathBuf>,
    log_level: VerifierLogLevel,
    autoload: bool,
    name: Option<String>,
    kconfig: Vec<(String, String)>,
    target_btf: Option<PathBuf>,
}

impl Default for EbpfLoader {
    fn default() -> Self {
        EbpfLoader::new()
    }
}

impl EbpfLoader {
    /// A loader with default settings: every autoload program loads, no log unless a load fails.
    pub fn new() -> EbpfLoader {
        EbpfLoader {
            globals: Vec::new(),
            max_entries: Vec::new(),
            pin_path: None,
            log_level: VerifierLogLevel::empty(),
            autoload: true,
            name: None,
            target_btf: None,
            kconfig: Vec::new(),
        }
    }

    /// Sets the initial value of the global variable `name` (in `.rodata`, `.data`, `.bss` or a
    /// custom data section). Values in `.rodata` are constants to the verifier, so branches on
    /// them are pruned. With `must_exist` false, a variable the object lacks is ignored.
    pub fn set_global<T: Pod>(mut self, name: &str, value: &T, must_exist: bool) -> Self {
        self.globals.push((
            name.to_string(),
            crate::pod::bytes_of(value).to_vec(),
            must_exist,
        ));
        self
    }

    /// Same as [`EbpfLoader::set_global`] with the value's raw bytes.
    pub fn set_global_bytes(mut self, name: &str, value: &[u8], must_exist: bool) -> Self {
        self.globals
            .push((name.to_string(), value.to_vec(), must_exist));
        self
    }

    /// Overrides the `max_entries` of the map `name`.
    pub fn set_max_entries(mut self, name: &str, max_entries: u32) -> Self {
        self.max_entries.push((name.to_string(), max_entries));
        self
    }

    /// The bpffs directory where maps declared with `LIBBPF_PIN_BY_NAME` are pinned, and reused
    /// from when a compatible pin already exists. Default: `/sys/fs/bpf`.
    pub fn pin_path(mut self, path: impl AsRef<Path>) -> Self {
        self.pin_path = Some(path.as_ref().to_path_buf());
        self
    }

    /// The verifier log level for every program load. With none (the default), a log is asked for
    /// only after a load fails, so a successful load pays nothing for it.
    pub fn verifier_log_level(mut self, level: VerifierLogLevel) -> Self {
        self.log_level = level;
        self
    }

    /// Whether [`EbpfLoader::load`] loads the programs (default true). With false, only maps are
    /// created and each program loads with [`Ebpf::load_program`].
    pub fn autoload(mut self, autoload: bool) -> Self {
        self.autoload = autoload;
        self
    }

    /// Resolves CO-RE relocations against this BTF file (raw BTF, as btfhub ships, or an ELF
    /// vmlinux) instead of the running kernel's BTF, for kernels built without BTF.
    pub fn target_btf(mut self, path: impl AsRef<Path>) -> Self {
        self.target_btf = Some(path.as_ref().to_path_buf());
        self
    }

    /// The object's name, used as the prefix of global data map names in the kernel
    /// (`name.rodata`). Defaults to the file stem with `load_file`, else "bpfkit".
    pub fn object_name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// Sets the value of the `.kconfig` extern `name` (`CONFIG_*`), written as in a kernel
    /// config: `y`, `m`, `n`, a number (`250`, `0x10`, `-1`) or a quoted string (`"\"abc\""`). It
    /// wins over the running kernel's configuration; the value must suit the extern's C type
    /// (libbpf's conversions), else loading fails naming it. Names the object does not use are
    /// ignored.
    pub fn set_kconfig(mut self, name: &str, value: &str) -> Self {
        self.kconfig.push((name.to_string(), value.to_string()));
        self
    }

    /// Reads, parses and loads the object file at `path`.
    pub fn load_file(&self, path: impl AsRef<Path>) -> Result<Ebpf, EbpfError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| EbpfError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .map(|s| s.split('.').next().unwrap_or(s).to_string());
        let mut loader = self.clone();
        if loader.name.is_none() {
            loader.name = stem;
        }
        loader.load(&bytes)
    }

    /// Parses and loads an object from its bytes.
    ///
    /// Rust programs' CO-RE slots (`#[kernel_struct]`, described in the `.bpfkit.core` section)
    /// are resolved against the target BTF here and written into `.rodata` before it is created.
    pub fn load(&self, bytes: &[u8]) -> Result<Ebpf, EbpfError> {
        let mut object = Object::parse(bytes)?;
        object.name = self.name.clone().unwrap_or_else(|| "bpfkit".to_string());
        self.load_object(object)
    }

    /// Loads an already parsed (and possibly edited) object, resolving its Rust CO-RE slots
    /// ([`Object::rust_core`]) like [`EbpfLoader::load`] does.
    pub fn load_object(&self, mut object: Object) -> Result<Ebpf, EbpfError> {
        self.apply_settings(&mut object)?;
        let externs = crate::externs::resolve(&object, &self.kconfig)?;
        if let Some(kconfig) = &externs.kconfig {
            if let Some(spec) = object
                .maps
                .iter_mut()
                .find(|m| matches!(m.kind, MapKind::Kconfig))
            {
                spec.initial_data = Some(kconfig.clone());
            }
        }
        let pin_path = self
            .pin_path
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_PIN_PATH));

        let target_btf = match &self.target_btf {
            Some(path) => Some(Arc::new(
                crate::btf::read_btf_file(path).map_err(EbpfError::TargetBtf)?,
            )),
            None => None,
        };
        if !object.rust_core.is_empty() {
            resolve_rust_core(&mut object, target_btf.as_ref())?;
        }
        let btf_fd = load_object_btf(&object);
        let mut maps = Vec::with_capacity(object.maps.len());
        for spec in &object.maps {
            let btf = btf_fd.as_ref().map(|fd| fd.as_fd());
            maps.push(create_map(spec, &object.name, &pin_path, btf)?);
        }
        let programs = object
            .programs
            .iter()
            .map(|spec| {
                let (prog_type, attach) = spec
                    .section
                    .as_ref()
                    .map(|s| (s.prog_type, s.expected_attach_type))
                    .unwrap_or((prog_type::BPF_PROG_TYPE_UNSPEC, None));
                Program::from_data(ProgramData::new(
                    &spec.name,
                    &spec.section_name,
                    prog_type,
                    attach,
                ))
            })
            .collect();
        let mut ebpf = Ebpf {
            object,
            maps,
            programs,
            log_level: self.log_level,
            pending_slots: Vec::new(),
            btf_fd,
            ksyms: externs.ksyms,
            target_btf,
        };
        ebpf.fill_map_slots()?;
        if self.autoload {
            let autoload: Vec<String> = ebpf
                .object
                .programs
                .iter()
                .filter(|p| p.section.as_ref().map_or(true, |s| s.autoload))
                .map(|p| p.name.clone())
                .collect();
            for name in autoload {
                ebpf.load_program(&name)?;
            }
        }
        Ok(ebpf)
    }

    /// Writes global variable values and map sizes into the object before anything is created.
    fn apply_settings(&self, object: &mut Object) -> Result<(), EbpfError> {
        for (name, value, must_exist) in &self.globals {
            let Some(var) = object.global_variable(name) else {
                if *must_exist {
                    return Err(EbpfError::UnknownGlobal { name: name.clone() });
                }
                continue;
            };
            if var.size as usize != value.len() {
                return Err(EbpfError::GlobalSize {
                    name: name.clone(),
                    expected: var.size as usize,
                    actual: value.len(),
                });
            }
            let start = var.offset as usize;
            let data = object
                .maps
                .get_mut(var.map_index)
                .and_then(|m| m.initial_data.as_mut())
                .and_then(|d| d.get_mut(start..start + value.len()))
                .ok_or_else(|| EbpfError::UnknownGlobal { name: name.clone() })?;
            data.copy_from_slice(value);
        }
        for (name, max_entries) in &self.max_entries {
            let spec = object
                .maps
                .iter_mut()
                .find(|m| &m.name == name)
                .ok_or_else(|| EbpfError::UnknownMap { name: name.clone() })?;
            spec.max_entries = *max_entries;
        }
        Ok(())
    }
}

/// Writes the values of Rust CO-RE slots into `.rodata`'s initial data (before the map is
/// created and frozen), resolved against the loader's target BTF or else the kernel's (vmlinux,
/// then module BTFs when a described type is not in vmlinux).
fn resolve_rust_core(object: &mut Object, target_btf: Option<&Arc<Btf>>) -> Result<(), EbpfError> {
    use bpfkit_obj::core_relo::CoreReloKind;
    use bpfkit_obj::rust_core::{resolve, RustCoreError};
    let target = match target_btf {
        Some(btf) => btf.clone(),
        None => crate::btf::kernel_btf().map_err(EbpfError::TargetBtf)?,
    };
    let records = &object.rust_core;
    let first = resolve(records, &[target.as_ref()]);
    // A type vmlinux lacks may live in a module: as for C CO-RE, module BTF is read only then
    // (and never with a user-given target BTF), and the search redone with vmlinux first.
    let type_missing = match &first {
        Ok(slots) => slots
            .iter()
            .any(|slot| slot.kind == CoreReloKind::TypeExists && slot.value == 0),
        Err(RustCoreError::Unresolved { .. }) => true,
        Err(_) => false,
    };
    let slots = if target_btf.is_none() && type_missing {
        let modules: Vec<Arc<Btf>> = match crate::btf::ModuleBtfs::kernel() {
            Ok(modules) => modules.map(|(_, btf)| btf).collect(),
            Err(_) => Vec::new(),
        };
        if modules.is_empty() {
            first?
        } else {
            let mut targets: Vec<&Btf> = vec![target.as_ref()];
            targets.extend(modules.iter().map(|btf| btf.as_ref()));
            resolve(records, &targets)?
        }
    } else {
        first?
    };
    let endian = object
        .btf
        .as_ref()
        .map_or_else(bpfkit_obj::btf::Endian::native, Btf::endian);
    bpfkit_obj::rust_core::apply(object, &slots, endian)?;
    Ok(())
}

/// A program slot of a prog array whose program is not loaded yet.
#[derive(Debug)]
struct PendingSlot {
    map_index: usize,
    slot: u32,
    program: String,
}

/// An object's maps and programs, in the kernel.
///
/// ```no_run
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let bytes = std::fs::read("xdp_count.bpf.o")?;
/// let mut ebpf = bpfkit::Ebpf::load(&bytes)?;
/// for program in ebpf.programs() {
///     println!("{} ({})", program.name(), program.type_name());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Ebpf {
    object: Object,
    /// Indexed like `object.maps`; `None` for maps taken out.
    maps: Vec<Option<MapData>>,
    /// Indexed like `object.programs`.
    programs: Vec<Program>,
    log_level: VerifierLogLevel,
    pending_slots: Vec<PendingSlot>,
    /// The object's BTF in the kernel, shared by its maps and programs; `None` when the object
    /// has none or the kernel refused it.
    btf_fd: Option<OwnedFd>,
    /// What each `.ksyms` extern resolved to, for programs loaded later.
    ksyms: HashMap<String, KsymValue>,
    /// BTF that CO-RE relocations resolve against instead of the running kernel's.
    target_btf: Option<Arc<Btf>>,
}

impl Ebpf {
    /// Loads an object with the default settings ([`EbpfLoader::new`]).
    pub fn load(bytes: &[u8]) -> Result<Ebpf, EbpfError> {
        EbpfLoader::new().load(bytes)
    }

    /// Loads an object file with the default settings.
    pub fn load_file(path: impl AsRef<Path>) -> Result<Ebpf, EbpfError> {
        EbpfLoader::new().load_file(path)
    }

    /// The parsed object the maps and programs came from.
    pub fn object(&self) -> &Object {
        &self.object
    }

    /// The program called `name`.
    pub fn program(&self, name: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.name() == name)
    }

    /// The program called `name`, mutably (to convert it to a typed handle).
    pub fn program_mut(&mut self, name: &str) -> Option<&mut Program> {
        self.programs.iter_mut().find(|p| p.name() == name)
    }

    /// Every program, in object order.
    pub fn programs(&self) -> impl Iterator<Item = &Program> {
        self.programs.iter()
    }

    /// The map called `name` (for data sections: `.data`, `.rodata`, `.bss`, `.data.custom`).
    pub fn map(&self, name: &str) -> Option<&MapData> {
        let index = self.map_index(name)?;
        self.maps.get(index)?.as_ref()
    }

    /// The map called `name`, mutably.
    pub fn map_mut(&mut self, name: &str) -> Option<&mut MapData> {
        let index = self.map_index(name)?;
        self.maps.get_mut(index)?.as_mut()
    }

    /// Takes the map called `name` out of the collection, to own it. Programs loaded later that
    /// reference it fail to load.
    pub fn take_map(&mut self, name: &str) -> Option<MapData> {
        let index = self.map_index(name)?;
        self.maps.get_mut(index)?.take()
    }

    /// Every map still in the collection, with its name.
    pub fn maps(&self) -> impl Iterator<Item = (&str, &MapData)> {
        self.object
            .maps
            .iter()
            .zip(&self.maps)
            .filter_map(|(spec, map)| Some((spec.name.as_str(), map.as_ref()?)))
    }

    fn map_index(&self, name: &str) -> Option<usize> {
        self.object.maps.iter().position(|m| m.name == name)
    }

    /// Reads the global variable `name` from its data map.
    pub fn global<T: Pod>(&self, name: &str) -> Result<T, EbpfError> {
        let (map, offset) = self.global_location(name, std::mem::size_of::<T>())?;
        let value = map
            .lookup_bytes(&0u32.to_ne_bytes(), 0)
            .map_err(|source| EbpfError::Map {
                name: name.to_string(),
                source,
            })?;
        value
            .as_deref()
            .unwrap_or_default()
            .get(offset..offset + std::mem::size_of::<T>())
            .and_then(crate::pod::read_pod::<T>)
            .ok_or_else(|| EbpfError::UnknownGlobal {
                name: name.to_string(),
            })
    }

    /// Writes the global variable `name` in its data map (`.data`, `.bss`; `.rodata` is frozen).
    pub fn set_global<T: Pod>(&self, name: &str, value: &T) -> Result<(), EbpfError> {
        let (map, offset) = self.global_location(name, std::mem::size_of::<T>())?;
        let map_err = |source| EbpfError::Map {
            name: name.to_string(),
            source,
        };
        let mut bytes = map
            .lookup_bytes(&0u32.to_ne_bytes(), 0)
            .map_err(map_err)?
            .unwrap_or_default();
        let slot = bytes
            .get_mut(offset..offset + std::mem::size_of::<T>())
            .ok_or_else(|| EbpfError::UnknownGlobal {
                name: name.to_string(),
            })?;
        slot.copy_from_slice(crate::pod::bytes_of(value));
        map.update_bytes(&0u32.to_ne_bytes(), &bytes, 0)
            .map_err(map_err)
    }

    fn global_location(&self, name: &str, size: usize) -> Result<(&MapData, usize), EbpfError> {
        let var = self
            .object
            .global_variable(name)
            .ok_or_else(|| EbpfError::UnknownGlobal {
                name: name.to_string(),
            })?;
        if var.size as usize != size {
            return Err(EbpfError::GlobalSize {
                name: name.to_string(),
                expected: var.size as usize,
                actual: size,
            });
        }
        let map = self
            .maps
            .get(var.map_index)
            .and_then(Option::as_ref)
            .ok_or_else(|| EbpfError::UnknownGlobal {
                name: name.to_string(),
            })?;
        Ok((map, var.offset as usize))
    }

    /// Loads the program `name` into the kernel (programs that were not autoloaded), and puts it
    /// in the prog array slots that name it. Loading a loaded program does nothing.
    pub fn load_program(&mut self, name: &str) -> Result<(), ProgramError> {
        let index = self
            .object
            .programs
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| ProgramError::NotLoaded {
                name: name.to_string(),
            })?;
        if self.programs[index].data().is_loaded() {
            return Ok(());
        }
        let spec = &self.object.programs[index];
        let btf_fd = self.btf_fd.as_ref().map(|fd| fd.as_fd());
        let (fd, count, log) = load_program(
            &self.object,
            spec,
            &self.maps,
            &self.ksyms,
            btf_fd,
            self.target_btf.as_deref(),
            self.log_level,
        )?;
        {
            let data = self.programs[index].data_mut();
            data.instruction_count = count;
            data.verifier_log = log;
            data.fd = Some(fd);
        }
        self.fill_program_slots(name)?;
        Ok(())
    }

    /// Fills `.values` slots: inner maps now, programs as they load.
    fn fill_map_slots(&mut self) -> Result<(), EbpfError> {
        for (map_index, spec) in self.object.maps.iter().enumerate() {
            for (slot, value) in &spec.initial_slots {
                match value {
                    InitialValue::Map(inner) => {
                        let inner_map = self
                            .map_index(inner)
                            .and_then(|i| self.maps.get(i)?.as_ref())
                            .ok_or_else(|| EbpfError::InitialValue {
                                map: spec.name.clone(),
                                slot: *slot,
                                detail: format!("map `{inner}` is not in the object"),
                            })?;
                        let outer = self.maps[map_index].as_ref().ok_or_else(|| {
                            EbpfError::InitialValue {
                                map: spec.name.clone(),
                                slot: *slot,
                                detail: "the map was not created".to_string(),
                            }
                        })?;
                        let fd = inner_map.fd().as_raw_fd() as u32;
                        outer
                            .update_bytes(&slot.to_ne_bytes(), &fd.to_ne_bytes(), 0)
                            .map_err(|source| EbpfError::Map {
                                name: spec.name.clone(),
                                source,
                            })?;
                    }
                    InitialValue::Program(program) => {
                        self.pending_slots.push(PendingSlot {
                            map_index,
                            slot: *slot,
                            program: program.clone(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    fn fill_program_slots(&mut self, program: &str) -> Result<(), ProgramError> {
        let Some(prog) = self.program(program) else {
            return Ok(());
        };
        let Ok(fd) = prog.data().fd() else {
            return Ok(());
        };
        let fd = fd.as_raw_fd() as u32;
        for pending in self.pending_slots.iter().filter(|p| p.program == program) {
            let Some(map) = self.maps.get(pending.map_index).and_then(Option::as_ref) else {
                continue;
            };
            map.update_bytes(&pending.slot.to_ne_bytes(), &fd.to_ne_bytes(), 0)
                .map_err(|err| ProgramError::Unsupported {
                    name: program.to_string(),
                    feature: format!(
                        "its slot {} in prog array `{}`",
                        pending.slot, self.object.maps[pending.map_index].name
                    ),
                    reason: err.to_string(),
                })?;
        }
        self.pending_slots.retain(|p| p.program != program);
        Ok(())
    }
}
