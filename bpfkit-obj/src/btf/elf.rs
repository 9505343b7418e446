//! Finding the `.BTF` section of an ELF file, as distributions ship kernel BTF inside
//! `/boot/vmlinux-*` or debug packages when sysfs has none.

use object::{Object, ObjectSection};

use super::BtfError;

/// Byte range of the `.BTF` section inside the ELF file `data`; `Ok(None)` when the file has
/// no such section.
///
/// The range lets callers keep the BTF where it lies (for example in a memory mapping of the
/// whole vmlinux) instead of copying it out.
pub fn elf_btf_range(data: &[u8]) -> Result<Option<std::ops::Range<usize>>, BtfError> {
    let file = object::File::parse(data).map_err(|_| BtfError::NotElf)?;
    let Some(section) = file.section_by_name(".BTF") else {
        return Ok(None);
    };
    let compressed = section
        .compressed_file_range()
        .map_err(|_| BtfError::NotElf)?;
    if compressed.format != object::CompressionFormat::None {
        return Err(BtfError::CompressedSection);
    }
    let start = usize::try_from(compressed.offset).map_err(|_| BtfError::NotElf)?;
    let len = usize::try_from(compressed.uncompressed_size).map_err(|_| BtfError::NotElf)?;
    let end = start.checked_add(len).ok_or(BtfError::NotElf)?;
    if end > data.len() {
        return Err(BtfError::NotElf);
    }
    Ok(Some(start..end))
}

/// Whether `data` starts like an ELF file.
pub fn is_elf(data: &[u8]) -> bool {
    data.starts_with(b"\x7fELF")
}
