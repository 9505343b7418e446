//! The loader: from an object file to maps and programs in the kernel.
//!
//! [`EbpfLoader`] collects what may change before load (global variables, map sizes, the pin
//! directory, the verifier log level), then [`EbpfLoader::load`] parses the object, creates its
//! maps, relocates and loads its programs, and fills prog arrays and map-in-map slots. The result
//! is an [`Ebpf`], from which programs and maps are taken by name.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bitflags::bitflags;
use bpfkit_obj::btf::ext::{FUNC_INFO_REC_SIZE, LINE_INFO_REC_SIZE};
use bpfkit_obj::btf::Btf;
use bpfkit_obj::consts::{
    BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, BPF_PSEUDO_BTF_ID, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_FD,
    BPF_PSEUDO_MAP_VALUE,
};
use bpfkit_obj::core_relo::CoreReport;
use bpfkit_obj::insn::Insn;
use bpfkit_obj::uapi::{map_type, prog_type};
use bpfkit_obj::{
    DataSection, ExternRelocKind, InitialValue, LinkedProgram, MapKind, MapRelocKind, MapSpec,
    Object, Pinning, ProgramSpec,
};

use crate::externs::KsymValue;

use crate::maps::{MapData, MapError};
use crate::programs::{Program, ProgramData, ProgramError, VerifierError};
use crate::sys::{self, MapCreate, ProgLoad};
use crate::Pod;

/// `BPF_JMP | BPF_CALL`.
const BPF_JMP_CALL: u8 = 0x85;
/// Base of the helper number a call of an absent weak kfunc is turned into (libbpf's value, so
/// verifier messages read the same).
const POISON_CALL_KFUNC_BASE: i32 = 2_002_000_000;
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
    pub fn load(&self, bytes: &[u8]) -> Result<Ebpf, EbpfError> {
        let mut object = Object::parse(bytes)?;
        object.name = self.name.clone().unwrap_or_else(|| "bpfkit".to_string());
        self.load_object(object)
    }

    /// Loads an already parsed (and possibly edited) object.
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

/// Links, relocates and loads one program; returns its fd, instruction count and the verifier
/// log when one was asked for.
fn load_program(
    object: &Object,
    spec: &ProgramSpec,
    maps: &[Option<MapData>],
    ksyms: &HashMap<String, KsymValue>,
    btf_fd: Option<BorrowedFd<'_>>,
    target_btf: Option<&Btf>,
    log_level: VerifierLogLevel,
) -> Result<(OwnedFd, usize, Option<String>), ProgramError> {
    let section = spec
        .section
        .as_ref()
        .ok_or_else(|| ProgramError::UnknownSection {
            name: spec.name.clone(),
            section: spec.section_name.clone(),
        })?;
    let attach_btf_id = if needs_kernel_btf_target(section.prog_type) {
        Some(resolve_attach_target(spec, section)?)
    } else {
        None
    };
    let mut linked =
        object
            .link_program(&spec.name)
            .map_err(|source| ProgramError::Relocation {
                name: spec.name.clone(),
                source,
            })?;
    let core_report = relocate_core(object, spec, &mut linked, target_btf)?;
    let mut insns: Vec<Insn> = linked.instructions.clone();
    for reloc in &linked.map_relocations {
        let map_name = object
            .maps
            .get(reloc.map_index)
            .map(|m| m.name.as_str())
            .unwrap_or("?");
        let missing = |reason| ProgramError::MissingMap {
            program: spec.name.clone(),
            map: map_name.to_string(),
            reason,
        };
        let map = maps
            .get(reloc.map_index)
            .and_then(Option::as_ref)
            .ok_or_else(|| missing("it was taken out of the collection or not created"))?;
        let fd = map.fd().as_raw_fd();
        let insn_index = reloc.insn_index;
        match reloc.kind {
            MapRelocKind::Fd => {
                let insn = insns
                    .get_mut(insn_index)
                    .ok_or_else(|| missing("relocation outside the program"))?;
                insn.set_src_reg(BPF_PSEUDO_MAP_FD);
                insn.imm = fd;
            }
            MapRelocKind::Value { offset } => {
                let insn = insns
                    .get_mut(insn_index)
                    .ok_or_else(|| missing("relocation outside the program"))?;
                insn.set_src_reg(BPF_PSEUDO_MAP_VALUE);
                insn.imm = fd;
                let next = insns
                    .get_mut(insn_index + 1)
                    .ok_or_else(|| missing("relocation outside the program"))?;
                next.imm = offset as i32;
            }
        }
    }
    patch_externs(object, spec, &linked, ksyms, &mut insns)?;
    // Func and line info only mean something next to the object's BTF.
    let ext_info = if btf_fd.is_some() {
        object.program_ext_info(&linked)
    } else {
        Default::default()
    };
    let attr = ProgLoad {
        prog_btf_fd: btf_fd,
        func_info: &ext_info.func_info,
        func_info_rec_size: FUNC_INFO_REC_SIZE,
        line_info: &ext_info.line_info,
        line_info_rec_size: LINE_INFO_REC_SIZE,
        prog_type: section.prog_type,
        expected_attach_type: section.expected_attach_type.unwrap_or(0),
        insns: &insns,
        license: &spec.license,
        kern_version: spec.kernel_version.unwrap_or(0),
        prog_flags: section.flags,
        name: &spec.name,
        log_level: log_level.bits(),
        attach_btf_id: attach_btf_id.unwrap_or(0),
        ..ProgLoad::default()
    };
    match sys::prog_load(&attr) {
        Ok((fd, log)) => Ok((
            fd,
            insns.len(),
            if log_level.is_empty() {
                None
            } else {
                Some(log)
            },
        )),
        Err(err) => {
            // A verifier failure at a poisoned instruction is a CO-RE relocation the target
            // kernel cannot satisfy: say which, in words.
            let note = core_report
                .as_ref()
                .and_then(|report| report.explain_verifier_log(&err.log));
            let error = VerifierError::new(&spec.name, err.source, err.log, err.log_truncated);
            Err(ProgramError::Verifier(Box::new(match note {
                Some(note) => error.with_note(note),
                None => error,
            })))
        }
    }
}

/// Applies the program's CO-RE relocations against the target BTF (the user's, else the running
/// kernel's, read only when the program has relocations). Returns the report, or `None` when
/// the program has no relocations.
fn relocate_core(
    object: &Object,
    spec: &ProgramSpec,
    linked: &mut LinkedProgram,
    target_btf: Option<&Btf>,
) -> Result<Option<CoreReport>, ProgramError> {
    let has_relocations = object.btf_ext.as_ref().is_some_and(|ext| {
        linked
            .functions
            .iter()
            .any(|f| !ext.core_relos_of(&f.section).is_empty())
    });
    if !has_relocations {
        return Ok(None);
    }
    let kernel;
    let target = match target_btf {
        Some(btf) => btf,
        None => {
            kernel = crate::btf::kernel_btf().map_err(|err| ProgramError::Unsupported {
                name: spec.name.clone(),
                feature: "CO-RE relocations".to_string(),
                reason: format!(
                    "{err}; give the loader a target BTF file (EbpfLoader::target_btf)"
                ),
            })?;
            &*kernel
        }
    };
    let core_error = |source| ProgramError::Core {
        name: spec.name.clone(),
        source,
    };
    let unrelocated = linked.clone();
    let report =
        bpfkit_obj::core_relo::relocate_core(linked, object, &[target]).map_err(core_error)?;
    // Types that vmlinux lacks may live in a module: only then is module BTF read (each module
    // once per process; a broken module file is skipped), and the relocation redone with vmlinux
    // first, as libbpf searches.
    if target_btf.is_some() || report.poisoned().next().is_none() {
        return Ok(Some(report));
    }
    let modules: Vec<Arc<Btf>> = match crate::btf::ModuleBtfs::kernel() {
        Ok(modules) => modules.map(|(_, btf)| btf).collect(),
        Err(_) => Vec::new(),
    };
    if modules.is_empty() {
        return Ok(Some(report));
    }
    let mut targets: Vec<&Btf> = vec![target];
    targets.extend(modules.iter().map(|btf| &**btf));
    *linked = unrelocated;
    bpfkit_obj::core_relo::relocate_core(linked, object, &targets)
        .map(Some)
        .map_err(core_error)
}

/// Puts what each `.ksyms` extern resolved to into the instructions that use it (libbpf's
/// `RELO_EXTERN_LD64` and `RELO_EXTERN_CALL`).
fn patch_externs(
    object: &Object,
    spec: &ProgramSpec,
    linked: &LinkedProgram,
    ksyms: &HashMap<String, KsymValue>,
    insns: &mut [Insn],
) -> Result<(), ProgramError> {
    for reloc in &linked.extern_relocations {
        let bad = |reason: &str| ProgramError::Unsupported {
            name: spec.name.clone(),
            feature: format!("extern `{}`", reloc.name),
            reason: reason.to_string(),
        };
        let value = *ksyms
            .get(&reloc.name)
            .ok_or_else(|| bad("it was not resolved when the object loaded"))?;
        let index = reloc.insn_index;
        match reloc.kind {
            ExternRelocKind::Load => {
                let (src_reg, low, high) = match value {
                    // vmlinux: the second slot holds the BTF object fd, 0 for vmlinux.
                    KsymValue::BtfId(id) => (BPF_PSEUDO_BTF_ID, id as i32, 0),
                    KsymValue::Address(address) => {
                        (0, address as u32 as i32, (address >> 32) as i32)
                    }
                    KsymValue::Absent => (0, 0, 0),
                };
                let insn = insns
                    .get_mut(index)
                    .ok_or_else(|| bad("relocation outside the program"))?;
                insn.set_src_reg(src_reg);
                insn.imm = low;
                insns
                    .get_mut(index + 1)
                    .ok_or_else(|| bad("relocation outside the program"))?
                    .imm = high;
            }
            ExternRelocKind::Call => {
                let insn = insns
                    .get_mut(index)
                    .ok_or_else(|| bad("relocation outside the program"))?;
                match value {
                    KsymValue::BtfId(id) => {
                        insn.set_src_reg(BPF_PSEUDO_KFUNC_CALL);
                        insn.imm = id as i32;
                        // The index of the BTF object in fd_array: 0 is vmlinux.
                        insn.off = 0;
                    }
                    _ => {
                        // A weak kfunc the kernel lacks: an invalid helper call with a number
                        // that names the extern (libbpf's poisoning), so only a reachable call
                        // fails, with "invalid func unknown#2002000000+index".
                        let ext_index = object
                            .externs()
                            .iter()
                            .position(|e| e.name == reloc.name)
                            .unwrap_or(0);
                        insn.code = BPF_JMP_CALL;
                        insn.regs = 0;
                        insn.off = 0;
                        insn.imm = POISON_CALL_KFUNC_BASE.saturating_add(ext_index as i32);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Loads the object's BTF into the kernel. Failure is not fatal (libbpf behaves the same): maps
/// and programs load without it, though programs that need it (callbacks, global functions with
/// typed arguments) will then be refused with the verifier's reason.
fn load_object_btf(object: &Object) -> Option<OwnedFd> {
    // Older kernels lack some BTF kinds; the probes say which, and those are rewritten the way
    // such kernels accept (libbpf's sanitizing).
    let features = crate::features::btf_features();
    let prepared = object.kernel_btf()?.and_then(|raw| {
        if features.needs_sanitizing() {
            Btf::parse(&raw)?.sanitized(&features)
        } else {
            Ok(raw)
        }
    });
    let raw = match prepared {
        Ok(raw) => raw,
        Err(err) => {
            log::warn!("object BTF cannot be prepared for the kernel, loading without it: {err}");
            return None;
        }
    };
    match sys::btf_load(&raw, 0) {
        Ok(fd) => Some(fd),
        Err(err) => {
            log::warn!("the kernel refused the object's BTF, loading without it: {err}");
            None
        }
    }
}

/// The kernel BTF id of the function or hook a tracing/LSM program names in its section.
fn resolve_attach_target(
    spec: &ProgramSpec,
    section: &bpfkit_obj::SectionDef,
) -> Result<u32, ProgramError> {
    use crate::btf::AttachTargetError;
    let target = section.attach_target.as_deref().unwrap_or("");
    let unsupported = |feature: String, reason: String| ProgramError::Unsupported {
        name: spec.name.clone(),
        feature,
        reason,
    };
    let btf = crate::btf::kernel_btf()
        .map_err(|err| unsupported(format!("`{}` programs", section.kind), err.to_string()))?;
    crate::btf::attach_btf_id(
        &btf,
        section.prog_type,
        section.expected_attach_type,
        target,
    )
    .map_err(|err| match err {
        AttachTargetError::Missing => unsupported(
            format!("section `{}`", spec.section_name),
            "it names no attach target (expected e.g. `fentry/do_unlinkat`)".to_string(),
        ),
        AttachTargetError::NotFound { kind, name } => unsupported(
            format!("attach target `{target}`"),
            format!("the running kernel's BTF has no {kind} `{name}`"),
        ),
        AttachTargetError::Unsupported(what) => unsupported(
            what.to_string(),
            "not implemented by bpfkit yet".to_string(),
        ),
    })
}

/// Tracing, LSM, extension and struct_ops programs name a kernel function or type that must be
/// found in kernel BTF at load time.
fn needs_kernel_btf_target(prog_type: u32) -> bool {
    matches!(
        prog_type,
        prog_type::BPF_PROG_TYPE_TRACING
            | prog_type::BPF_PROG_TYPE_LSM
            | prog_type::BPF_PROG_TYPE_EXT
            | prog_type::BPF_PROG_TYPE_STRUCT_OPS
    )
}

/// The file name of a map's pin: bpffs refuses names with dots, so `.bss` pins as `_bss` (the
/// same rule as libbpf).
pub fn pin_name(map_name: &str) -> String {
    map_name.replace('.', "_")
}

/// The name a map gets in the kernel: data maps are prefixed with (up to 8 characters of) the
/// object name, as libbpf does, so `bpftool map` tells them apart.
fn kernel_map_name(spec: &MapSpec, object_name: &str) -> String {
    match spec.kind {
        MapKind::Data(_) | MapKind::Kconfig => {
            let room = 15usize.saturating_sub(spec.name.len()).min(8);
            let prefix: String = object_name
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(room)
                .collect();
            format!("{prefix}{}", spec.name)
        }
        _ => spec.name.clone(),
    }
}

/// Creates one map (or reuses its pin), fills its initial contents and freezes `.rodata`.
fn create_map(
    spec: &MapSpec,
    object_name: &str,
    pin_dir: &Path,
    btf_fd: Option<BorrowedFd<'_>>,
) -> Result<Option<MapData>, EbpfError> {
    let map_err = |source: MapError| EbpfError::Map {
        name: spec.name.clone(),
        source,
    };
    let pin = (spec.pinning == Pinning::ByName).then(|| pin_dir.join(pin_name(&spec.name)));
    if let Some(path) = &pin {
        if path.exists() {
            let map = MapData::from_pin(path).map_err(|source| EbpfError::Pin {
                name: spec.name.clone(),
                path: path.clone(),
                source,
            })?;
            check_pinned_compatible(spec, &map, path)?;
            return Ok(Some(map));
        }
    }
    // Map-in-map types need an inner map as a template; it can go once the outer map exists.
    let inner = match &spec.inner {
        Some(inner_spec) => Some(
            MapData::create(&map_create_attr(inner_spec, &inner_spec.name, None))
                .map_err(map_err)?,
        ),
        None => None,
    };
    let name = kernel_map_name(spec, object_name);
    let mut attr = map_create_attr(spec, &name, inner.as_ref());
    if let (Some(btf_fd), Some(value_type), true) = (
        btf_fd,
        spec.btf_value_type_id,
        map_takes_btf_types(spec.map_type),
    ) {
        attr.btf_fd = Some(btf_fd);
        attr.btf_key_type_id = spec.btf_key_type_id.unwrap_or(0);
        attr.btf_value_type_id = value_type;
    }
    let created = MapData::create(&attr).or_else(|err| {
        if attr.btf_fd.is_none() {
            return Err(err);
        }
        // As libbpf does: a kernel that refuses the map's BTF description may still take the map.
        log::debug!(
            "map `{}`: creating with BTF failed ({err}); retrying without BTF",
            spec.name
        );
        attr.btf_fd = None;
        attr.btf_key_type_id = 0;
        attr.btf_value_type_id = 0;
        MapData::create(&attr)
    });
    let map = match created {
        Ok(map) => map,
        // Kernels before 5.5 cannot mmap arrays; data maps work without it.
        Err(err)
            if matches!(spec.kind, MapKind::Data(_) | MapKind::Kconfig)
                && attr.map_flags & BPF_F_MMAPABLE != 0
                && err.errno() == Some(libc::EINVAL) =>
        {
            attr.map_flags &= !BPF_F_MMAPABLE;
            MapData::create(&attr).map_err(map_err)?
        }
        Err(err) => return Err(map_err(err)),
    };
    if let Some(data) = &spec.initial_data {
        map.update_bytes(&0u32.to_ne_bytes(), data, 0)
            .map_err(map_err)?;
    }
    if matches!(
        spec.kind,
        MapKind::Data(DataSection::Rodata) | MapKind::Kconfig
    ) || (matches!(spec.kind, MapKind::Data(_)) && spec.map_flags & BPF_F_RDONLY_PROG != 0)
    {
        // A frozen read-only map is a constant to the verifier: dead branches get pruned.
        map.freeze().map_err(map_err)?;
    }
    if let Some(path) = &pin {
        map.pin(path).map_err(|source| EbpfError::Pin {
            name: spec.name.clone(),
            path: path.clone(),
            source,
        })?;
    }
    Ok(Some(map))
}

/// Whether the kernel accepts BTF key/value types for this map type: those holding fds, stack
/// traces or raw records take none (libbpf leaves them out too), so asking would only fail once.
fn map_takes_btf_types(kind: u32) -> bool {
    !matches!(
        kind,
        map_type::BPF_MAP_TYPE_PROG_ARRAY
            | map_type::BPF_MAP_TYPE_PERF_EVENT_ARRAY
            | map_type::BPF_MAP_TYPE_CGROUP_ARRAY
            | map_type::BPF_MAP_TYPE_STACK_TRACE
            | map_type::BPF_MAP_TYPE_ARRAY_OF_MAPS
            | map_type::BPF_MAP_TYPE_HASH_OF_MAPS
            | map_type::BPF_MAP_TYPE_DEVMAP
            | map_type::BPF_MAP_TYPE_DEVMAP_HASH
            | map_type::BPF_MAP_TYPE_CPUMAP
            | map_type::BPF_MAP_TYPE_XSKMAP
            | map_type::BPF_MAP_TYPE_SOCKMAP
            | map_type::BPF_MAP_TYPE_SOCKHASH
            | map_type::BPF_MAP_TYPE_REUSEPORT_SOCKARRAY
            | map_type::BPF_MAP_TYPE_QUEUE
            | map_type::BPF_MAP_TYPE_STACK
            | map_type::BPF_MAP_TYPE_RINGBUF
            | map_type::BPF_MAP_TYPE_USER_RINGBUF
    )
}

fn map_create_attr<'a>(spec: &MapSpec, name: &'a str, inner: Option<&'a MapData>) -> MapCreate<'a> {
    MapCreate {
        map_type: spec.map_type,
        key_size: spec.key_size,
        value_size: spec.value_size,
        max_entries: spec.max_entries,
        map_flags: spec.map_flags,
        inner_map_fd: inner.map(|m| m.fd()),
        numa_node: spec.numa_node,
        name,
        map_extra: spec.map_extra,
        ..MapCreate::default()
    }
}

/// A pinned map is reused only when it is the same kind of map (libbpf's rule).
fn check_pinned_compatible(spec: &MapSpec, map: &MapData, path: &Path) -> Result<(), EbpfError> {
    let info = map.info();
    let mut differences = Vec::new();
    let mut compare = |what: &str, want: u32, have: u32| {
        if want != have {
            differences.push(format!("{what}: object {want}, pinned {have}"));
        }
    };
    compare("type", spec.map_type, info.map_type);
    compare("key size", spec.key_size, info.key_size);
    compare("value size", spec.value_size, info.value_size);
    // Per-CPU and map-in-map sizes are reported differently; entries and flags must agree.
    if spec.map_type != map_type::BPF_MAP_TYPE_RINGBUF {
        compare("max entries", spec.max_entries, info.max_entries);
    }
    compare("flags", spec.map_flags, info.map_flags);
    if differences.is_empty() {
        Ok(())
    } else {
        Err(EbpfError::PinnedMapMismatch {
            name: spec.name.clone(),
            path: path.to_path_buf(),
            detail: differences.join(", "),
        })
    }
}
