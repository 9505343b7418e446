//! BTF as the kernel accepts it from an object.
//!
//! clang leaves every `DATASEC` with size 0 and its variables at offset 0: the real layout is only
//! in the ELF section headers and symbols, and libbpf fills it in before `BPF_BTF_LOAD`. We do the
//! same on a copy, so the parsed BTF stays as the file has it.

use super::{Btf, BtfError, BtfKind, Endian};

/// `BTF_VAR_STATIC`, `BTF_VAR_GLOBAL_ALLOCATED`, `BTF_VAR_GLOBAL_EXTERN`.
const VAR_GLOBAL_ALLOCATED: u32 = 1;
const VAR_GLOBAL_EXTERN: u32 = 2;
/// Bytes of a type record's common header, and of one `btf_var_secinfo`.
const TYPE_HEADER: usize = 12;
const SECINFO: usize = 12;

impl Btf {
    /// A copy of the raw BTF with each `DATASEC`'s size and variable offsets taken from the ELF:
    /// `section_size(section)` and `symbol_offset(section, variable)`. Variables whose symbol is
    /// unknown are laid out one after the other; extern variables (resolved by the loader, not by
    /// the kernel) become plain globals, which the kernel accepts.
    pub fn to_kernel_bytes(
        &self,
        section_size: impl Fn(&str) -> Option<u32>,
        symbol_offset: impl Fn(&str, &str) -> Option<u32>,
    ) -> Result<Vec<u8>, BtfError> {
        let mut data = self.raw().to_vec();
        let endian = self.endian;
        for id in self.first_own_id()..self.type_count() {
            let ty = self.type_by_id(id)?;
            let record = self
                .own_record_offset(id)
                .ok_or(BtfError::TypeIdOutOfRange {
                    id,
                    max: self.type_count() - 1,
                })?;
            match ty.kind() {
                BtfKind::Var => {
                    if read(&data, record + TYPE_HEADER, endian)? == VAR_GLOBAL_EXTERN {
                        write(
                            &mut data,
                            record + TYPE_HEADER,
                            VAR_GLOBAL_ALLOCATED,
                            endian,
                        )?;
                    }
                }
                BtfKind::Datasec => {
                    let section = self.type_name(id)?.to_string();
                    let vars = self.datasec_vars(id)?;
                    let mut next_free = 0u32;
                    for (index, var) in vars.iter().enumerate() {
                        let var_name = self.type_name(var.type_id)?;
                        let offset = symbol_offset(&section, var_name).unwrap_or(next_free);
                        let at = record + TYPE_HEADER + index * SECINFO + 4;
                        write(&mut data, at, offset, endian)?;
                        next_free = next_free.max(offset.saturating_add(var.size));
                    }
                    let size = section_size(&section).unwrap_or(next_free).max(next_free);
                    write(&mut data, record + 8, size, endian)?;
                }
                _ => {}
            }
        }
        Ok(data)
    }
}

fn read(data: &[u8], at: usize, endian: Endian) -> Result<u32, BtfError> {
    endian.read_u32(data, at).ok_or(BtfError::BadExt {
        reason: "type record out of bounds",
    })
}

fn write(data: &mut [u8], at: usize, value: u32, endian: Endian) -> Result<(), BtfError> {
    let bytes = match endian {
        Endian::Little => value.to_le_bytes(),
        Endian::Big => value.to_be_bytes(),
    };
    data.get_mut(at..at + 4)
        .ok_or(BtfError::BadExt {
            reason: "type record out of bounds",
        })?
        .copy_from_slice(&bytes);
    Ok(())
}
