//! Just enough ELF64 (little endian) to find `.BTF.ext` and count its CO-RE relocations, so the
//! build can check each realworld object's `bpfkit-needs:` marker against what clang emitted.

/// `.BTF.ext` magic.
const BTF_MAGIC: u16 = 0xeb9f;

/// Number of CO-RE relocation records in the object's `.BTF.ext` (0 when it has none).
pub fn core_relocation_count(object: &[u8]) -> Result<u64, String> {
    let Some(btf_ext) = section(object, ".BTF.ext")? else {
        return Ok(0);
    };
    if u16_at(btf_ext, 0)? != BTF_MAGIC {
        return Err("`.BTF.ext` has a bad magic".to_string());
    }
    let header_len = u32_at(btf_ext, 4)? as usize;
    // Headers before CO-RE support end before core_relo_off (at byte 24).
    if header_len < 32 {
        return Ok(0);
    }
    let offset = u32_at(btf_ext, 24)? as usize;
    let len = u32_at(btf_ext, 28)? as usize;
    let start = header_len
        .checked_add(offset)
        .ok_or("`.BTF.ext` offsets overflow")?;
    let end = start
        .checked_add(len)
        .ok_or("`.BTF.ext` offsets overflow")?;
    let relocations = btf_ext
        .get(start..end)
        .ok_or("`.BTF.ext` CO-RE section out of bounds")?;
    if relocations.is_empty() {
        return Ok(0);
    }
    let record_size = u32_at(relocations, 0)? as usize;
    let mut position = 4usize;
    let mut count = 0u64;
    // Per ELF section: name offset, record count, then the records.
    while position < relocations.len() {
        let records = u32_at(relocations, position + 4)? as usize;
        count += records as u64;
        let bytes = records
            .checked_mul(record_size)
            .ok_or("`.BTF.ext` record count overflows")?;
        position = position
            .checked_add(8 + bytes)
            .ok_or("`.BTF.ext` record count overflows")?;
    }
    Ok(count)
}

/// The contents of the section called `name`.
fn section<'a>(object: &'a [u8], name: &str) -> Result<Option<&'a [u8]>, String> {
    if object.get(0..4) != Some(b"\x7fELF".as_slice())
        || object.get(4) != Some(&2)
        || object.get(5) != Some(&1)
    {
        return Err("not a 64-bit little-endian ELF file".to_string());
    }
    let section_headers = u64_at(object, 0x28)? as usize;
    let entry_size = u16_at(object, 0x3a)? as usize;
    let count = u16_at(object, 0x3c)? as usize;
    let names_index = u16_at(object, 0x3e)? as usize;
    let header = |index: usize| -> Result<(u32, usize, usize), String> {
        let base = section_headers + index * entry_size;
        Ok((
            u32_at(object, base)?,
            u64_at(object, base + 24)? as usize,
            u64_at(object, base + 32)? as usize,
        ))
    };
    let (_, names_offset, names_size) = header(names_index)?;
    let names = object
        .get(names_offset..names_offset + names_size)
        .ok_or("section names out of bounds")?;
    for index in 0..count {
        let (name_offset, offset, size) = header(index)?;
        let Some(rest) = names.get(name_offset as usize..) else {
            continue;
        };
        let section_name = rest.split(|&b| b == 0).next().unwrap_or_default();
        if section_name == name.as_bytes() {
            return object
                .get(offset..offset + size)
                .map(Some)
                .ok_or_else(|| format!("section {name} out of bounds"));
        }
    }
    Ok(None)
}

fn bytes_at<const N: usize>(data: &[u8], offset: usize) -> Result<[u8; N], String> {
    data.get(offset..offset + N)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("truncated ELF data at offset {offset}"))
}

fn u16_at(data: &[u8], offset: usize) -> Result<u16, String> {
    bytes_at(data, offset).map(u16::from_le_bytes)
}

fn u32_at(data: &[u8], offset: usize) -> Result<u32, String> {
    bytes_at(data, offset).map(u32::from_le_bytes)
}

fn u64_at(data: &[u8], offset: usize) -> Result<u64, String> {
    bytes_at(data, offset).map(u64::from_le_bytes)
}
