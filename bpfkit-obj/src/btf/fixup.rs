//! BTF as the kernel accepts it from an object.
//!
//! clang leaves every `DATASEC` with size 0 and its variables at offset 0: the real layout is only
//! in the ELF section headers and symbols, and libbpf fills it in before `BPF_BTF_LOAD`. Externs
//! need rewriting too: the kernel refuses `extern` linkage on FUNCs (kfunc declarations) and VARs
//! (`.kconfig`/`.ksyms`), FUNCs inside a DATASEC, and VARs of type void (typeless ksyms). The loader
//! resolves all externs itself, so their BTF only has to be acceptable. We do this on a copy, so
//! the parsed BTF stays as the file has it.

use super::{Btf, BtfError, BtfKind, Endian};

/// `BTF_VAR_GLOBAL_ALLOCATED`, `BTF_VAR_GLOBAL_EXTERN`.
const VAR_GLOBAL_ALLOCATED: u32 = 1;
const VAR_GLOBAL_EXTERN: u32 = 2;
/// `BTF_FUNC_STATIC`, `BTF_FUNC_GLOBAL`, `BTF_FUNC_EXTERN`.
const FUNC_STATIC: u32 = 0;
const FUNC_GLOBAL: u32 = 1;
const FUNC_EXTERN: u32 = 2;
/// Bytes of a type record's common header.
const TYPE_HEADER: usize = 12;

impl Btf {
    /// A copy of the raw BTF the kernel accepts: each `DATASEC`'s size and variable offsets taken
    /// from the ELF (`section_size(section)`, `symbol_offset(section, variable)`; variables whose
    /// symbol is unknown, such as externs, are laid out one after the other), extern FUNCs and
    /// the global FUNCs `make_static(name)` names (hidden subprograms) made static, extern VARs
    /// made global, FUNC entries dropped from DATASECs, and void-typed VARs
    /// given an `int` type.
    pub fn to_kernel_bytes(
        &self,
        make_static: impl Fn(&str) -> bool,
        section_size: impl Fn(&str) -> Option<u32>,
        symbol_offset: impl Fn(&str, &str) -> Option<u32>,
    ) -> Result<Vec<u8>, BtfError> {
        let endian = self.endian;
        let int_type = self.any_int_type();
        // The kernel wants named parameters in every FUNC's prototype; kfunc declarations have
        // none, so their parameters borrow the function's own name (a valid identifier), as
        // libbpf does with a name of its own.
        let mut extern_protos: Vec<(u32, u32)> = Vec::new();
        for ty in self.types().flatten() {
            if ty.kind() == BtfKind::Func && ty.vlen() as u32 == FUNC_EXTERN {
                if let Some(proto) = ty.referenced_type() {
                    extern_protos.push((proto, ty.name_offset()));
                }
            }
        }
        let mut types = Vec::with_capacity(self.types.len());
        for id in self.first_own_id()..self.type_count() {
            let ty = self.type_by_id(id)?;
            let start = self
                .own_record_offset(id)
                .ok_or(BtfError::TypeIdOutOfRange {
                    id,
                    max: self.type_count() - 1,
                })?;
            let end = self.own_record_offset(id + 1).unwrap_or(self.types.end);
            let mut record = self
                .raw()
                .get(start..end)
                .ok_or(BtfError::TruncatedType { id })?
                .to_vec();
            match ty.kind() {
                BtfKind::Func
                    if ty.vlen() as u32 == FUNC_EXTERN
                        || (ty.vlen() as u32 == FUNC_GLOBAL
                            && make_static(self.type_name(id).unwrap_or_default())) =>
                {
                    let info = read(&record, 4, endian)?;
                    write(&mut record, 4, (info & !0xffff) | FUNC_STATIC, endian)?;
                }
                BtfKind::Var => {
                    if read(&record, TYPE_HEADER, endian)? == VAR_GLOBAL_EXTERN {
                        write(&mut record, TYPE_HEADER, VAR_GLOBAL_ALLOCATED, endian)?;
                    }
                    if let (Some(int), true) =
                        (int_type, self.is_void(ty.referenced_type().unwrap_or(0)))
                    {
                        write(&mut record, 8, int, endian)?;
                    }
                }
                BtfKind::FuncProto => {
                    if let Some(&(_, name_off)) =
                        extern_protos.iter().find(|(proto, _)| *proto == id)
                    {
                        for param in 0..ty.vlen() {
                            let at = TYPE_HEADER + param * 8;
                            if read(&record, at, endian)? == 0
                                && read(&record, at + 4, endian)? != 0
                            {
                                write(&mut record, at, name_off, endian)?;
                            }
                        }
                    }
                }
                BtfKind::Datasec => {
                    record = self.datasec_for_kernel(
                        id,
                        &record,
                        int_type,
                        &section_size,
                        &symbol_offset,
                    )?
                }
                _ => {}
            }
            types.extend_from_slice(&record);
        }

        let hdr_len = self.header.hdr_len as usize;
        let strings = self
            .raw()
            .get(self.strings.clone())
            .ok_or(BtfError::BadStringSection)?;
        let mut out = self
            .raw()
            .get(..hdr_len)
            .ok_or(BtfError::TruncatedHeader {
                len: self.raw().len(),
            })?
            .to_vec();
        let type_len = u32::try_from(types.len()).map_err(|_| BtfError::TooManyTypes)?;
        write(&mut out, 8, 0, endian)?; // type_off
        write(&mut out, 12, type_len, endian)?;
        write(&mut out, 16, type_len, endian)?; // str_off: strings follow the types
        write(
            &mut out,
            20,
            u32::try_from(strings.len()).map_err(|_| BtfError::TooManyTypes)?,
            endian,
        )?;
        out.extend_from_slice(&types);
        out.extend_from_slice(strings);
        Ok(out)
    }

    /// A DATASEC record with its layout filled in and FUNC entries (kfunc declarations in
    /// `.ksyms`) left out.
    fn datasec_for_kernel(
        &self,
        id: u32,
        record: &[u8],
        int_type: Option<u32>,
        section_size: &impl Fn(&str) -> Option<u32>,
        symbol_offset: &impl Fn(&str, &str) -> Option<u32>,
    ) -> Result<Vec<u8>, BtfError> {
        let endian = self.endian;
        let section = self.type_name(id)?;
        let mut out = record
            .get(..TYPE_HEADER)
            .ok_or(BtfError::TruncatedType { id })?
            .to_vec();
        let mut entries: Vec<[u32; 3]> = Vec::new();
        let mut next_free = 0u32;
        for var in self.datasec_vars(id)? {
            if self.type_by_id(var.type_id)?.kind() != BtfKind::Var {
                continue;
            }
            let var_type = self.type_by_id(var.type_id)?.referenced_type().unwrap_or(0);
            // A typeless ksym becomes an int (see `to_kernel_bytes`), which needs room.
            let size = if int_type.is_some() && self.is_void(var_type) {
                var.size.max(4)
            } else {
                var.size
            };
            let var_name = self.type_name(var.type_id)?;
            let offset = symbol_offset(section, var_name).unwrap_or(next_free);
            entries.push([var.type_id, offset, size]);
            next_free = next_free.max(offset.saturating_add(size));
        }
        // The kernel wants the variables in offset order (`.kconfig` is laid out by alignment).
        entries.sort_by_key(|&[_, offset, _]| offset);
        for value in entries.iter().flatten() {
            out.extend_from_slice(&to_bytes(*value, endian));
        }
        let kept = u32::try_from(entries.len()).map_err(|_| BtfError::TooManyTypes)?;
        let info = read(record, 4, endian)?;
        write(&mut out, 4, (info & !0xffff) | kept, endian)?;
        let size = section_size(section).unwrap_or(next_free).max(next_free);
        write(&mut out, 8, size, endian)?;
        Ok(out)
    }

    /// Whether `id` is void, possibly behind const/volatile/typedef.
    fn is_void(&self, id: u32) -> bool {
        self.skip_mods_and_typedefs(id)
            .map(|id| id == 0)
            .unwrap_or(false)
    }

    /// A 4-byte INT type of this BTF, to stand in for void.
    fn any_int_type(&self) -> Option<u32> {
        self.types()
            .flatten()
            .find(|t| t.kind() == BtfKind::Int && t.size() == Some(4))
            .map(|t| t.id())
    }
}

fn to_bytes(value: u32, endian: Endian) -> [u8; 4] {
    match endian {
        Endian::Little => value.to_le_bytes(),
        Endian::Big => value.to_be_bytes(),
    }
}

fn read(data: &[u8], at: usize, endian: Endian) -> Result<u32, BtfError> {
    endian.read_u32(data, at).ok_or(BtfError::BadExt {
        reason: "type record out of bounds",
    })
}

fn write(data: &mut [u8], at: usize, value: u32, endian: Endian) -> Result<(), BtfError> {
    data.get_mut(at..at + 4)
        .ok_or(BtfError::BadExt {
            reason: "type record out of bounds",
        })?
        .copy_from_slice(&to_bytes(value, endian));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The extern rewrites, checked on the committed extern test object's BTF: no extern linkage
    /// left, no FUNC in a DATASEC, and the result parses.
    #[test]
    fn externs_become_acceptable_to_the_kernel() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../bpfkit/tests/objects/externs.bpf.o"
        );
        let Ok(bytes) = std::fs::read(path) else {
            println!("skipped: externs_become_acceptable_to_the_kernel: {path} not found");
            return;
        };
        let object = crate::Object::parse(&bytes).expect("object parses");
        let fixed = object
            .kernel_btf()
            .expect("object has BTF")
            .expect("fixup works");
        let btf = Btf::parse(&fixed).expect("fixed BTF parses");
        assert_eq!(
            btf.type_count(),
            object.btf.as_ref().unwrap().type_count(),
            "type ids are kept"
        );
        for ty in btf.types().flatten() {
            match ty.kind() {
                BtfKind::FuncProto => {
                    for param in 0..ty.vlen() {
                        let at = btf.own_record_offset(ty.id()).unwrap() + TYPE_HEADER + param * 8;
                        let (name, kind) = (
                            read(btf.raw(), at, btf.endian).unwrap(),
                            read(btf.raw(), at + 4, btf.endian).unwrap(),
                        );
                        assert!(name != 0 || kind == 0, "unnamed parameter in [{}]", ty.id());
                    }
                }
                BtfKind::Func => assert_ne!(
                    ty.vlen() as u32,
                    FUNC_EXTERN,
                    "extern FUNC [{}] left",
                    ty.id()
                ),
                BtfKind::Var => {
                    assert_ne!(
                        ty.linkage(),
                        Some(VAR_GLOBAL_EXTERN),
                        "extern VAR [{}] left",
                        ty.id()
                    );
                    assert!(
                        !btf.is_void(ty.referenced_type().unwrap()),
                        "void VAR [{}] left",
                        ty.id()
                    );
                }
                BtfKind::Datasec => {
                    let mut end = 0;
                    for var in btf.datasec_vars(ty.id()).unwrap() {
                        assert_eq!(btf.type_by_id(var.type_id).unwrap().kind(), BtfKind::Var);
                        assert!(
                            var.offset >= end,
                            "overlapping variables in {}",
                            btf.type_name(ty.id()).unwrap()
                        );
                        end = var.offset + var.size;
                    }
                    assert!(ty.size().unwrap() >= end);
                }
                _ => {}
            }
        }
    }
}
