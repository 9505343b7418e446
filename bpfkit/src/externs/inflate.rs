//! A small gzip reader (RFC 1952 around RFC 1951 DEFLATE), for `/proc/config.gz`.
//!
//! Written for clarity rather than speed: Huffman codes are decoded bit by bit with canonical
//! code tables (the approach of zlib's `puff`), which reads a kernel config (about 25 KiB
//! compressed, 150 KiB plain) in well under a millisecond's worth of work per kilobyte. Every read
//! is bounds-checked; corrupt input gives an [`InflateError`], never a panic.

/// Output larger than this is refused: no kernel config comes close, and it stops a
/// decompression bomb from exhausting memory.
const MAX_OUTPUT: usize = 64 << 20;
/// Longest Huffman code DEFLATE allows.
const MAX_BITS: usize = 15;

/// Why gzip data could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    /// The data does not start with the gzip magic and the deflate method.
    #[error("not gzip data (bad magic or compression method)")]
    NotGzip,
    /// The data ends early.
    #[error("gzip data is truncated")]
    Truncated,
    /// A block type 3, a bad stored length, a bad code table or a back-reference before the
    /// start.
    #[error("corrupt deflate stream: {0}")]
    Corrupt(&'static str),
    /// The CRC-32 or length in the gzip trailer does not match what was decompressed.
    #[error("gzip trailer mismatch ({0})")]
    Trailer(&'static str),
    /// The decompressed data would exceed 64 MiB.
    #[error("decompressed data exceeds 64 MiB")]
    TooLarge,
}

/// Decompresses a gzip file (every member, concatenated, as `zcat` does).
pub fn gunzip(data: &[u8]) -> Result<Vec<u8>, InflateError> {
    let mut out = Vec::new();
    let mut rest = data;
    loop {
        let body = gzip_header(rest)?;
        let start = out.len();
        let consumed = inflate_into(body, &mut out)?;
        let trailer = body
            .get(consumed..consumed + 8)
            .ok_or(InflateError::Truncated)?;
        let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        let size = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
        let member = out.get(start..).unwrap_or_default();
        if crc32(member) != crc {
            return Err(InflateError::Trailer("CRC-32"));
        }
        if member.len() as u32 != size {
            return Err(InflateError::Trailer("length"));
        }
        rest = body.get(consumed + 8..).unwrap_or_default();
        // Trailing zero padding (tape-style) ends the file like the end of data does.
        if rest.iter().all(|&b| b == 0) {
            return Ok(out);
        }
    }
}

/// Skips a gzip member header; returns the deflate stream after it.
fn gzip_header(data: &[u8]) -> Result<&[u8], InflateError> {
    const FHCRC: u8 = 2;
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    let header = data.get(..10).ok_or(InflateError::Truncated)?;
    if header[0] != 0x1f || header[1] != 0x8b || header[2] != 8 {
        return Err(InflateError::NotGzip);
    }
    let flags = header[3];
    let mut pos = 10usize;
    if flags & FEXTRA != 0 {
        let len = data.get(pos..pos + 2).ok_or(InflateError::Truncated)?;
        pos += 2 + usize::from(u16::from_le_bytes([len[0], len[1]]));
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let end = data
                .get(pos..)
                .and_then(|d| d.iter().position(|&b| b == 0))
                .ok_or(InflateError::Truncated)?;
            pos += end + 1;
        }
    }
    if flags & FHCRC != 0 {
        pos += 2;
    }
    data.get(pos..).ok_or(InflateError::Truncated)
}

/// Reads bits least significant first, as DEFLATE packs them.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    buffer: u32,
    count: u32,
}

impl Bits<'_> {
    fn need(&mut self, n: u32) -> Result<u32, InflateError> {
        while self.count < n {
            let byte = *self.data.get(self.pos).ok_or(InflateError::Truncated)?;
            self.pos += 1;
            self.buffer |= u32::from(byte) << self.count;
            self.count += 8;
        }
        let value = self.buffer & ((1u32 << n) - 1);
        self.buffer >>= n;
        self.count -= n;
        Ok(value)
    }

    /// Drops the bits left in the current byte (stored blocks start on a byte boundary).
    fn align(&mut self) {
        self.buffer = 0;
        self.count = 0;
    }
}

/// A canonical Huffman code: how many codes of each length, and the symbols in code order.
struct Huffman {
    counts: [u16; MAX_BITS + 1],
    symbols: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Result<Huffman, InflateError> {
        let mut counts = [0u16; MAX_BITS + 1];
        for &len in lengths {
            let slot = counts
                .get_mut(usize::from(len))
                .ok_or(InflateError::Corrupt("code length above 15"))?;
            *slot += 1;
        }
        // More codes of some length than the code space has room for cannot be decoded.
        let mut left: i32 = 1;
        for &count in counts.iter().skip(1) {
            left = (left << 1) - i32::from(count);
            if left < 0 {
                return Err(InflateError::Corrupt("over-subscribed code"));
            }
        }
        let mut offsets = [0u16; MAX_BITS + 2];
        for len in 1..=MAX_BITS {
            offsets[len + 1] = offsets[len] + counts[len];
        }
        let mut symbols = vec![0u16; lengths.len()];
        for (symbol, &len) in lengths.iter().enumerate() {
            if len != 0 {
                let slot = &mut offsets[usize::from(len)];
                if let Some(s) = symbols.get_mut(usize::from(*slot)) {
                    *s = symbol as u16;
                }
                *slot += 1;
            }
        }
        Ok(Huffman { counts, symbols })
    }

    fn decode(&self, bits: &mut Bits<'_>) -> Result<u16, InflateError> {
        // `code` is the code read so far, `first` the first code of the current length, `index`
        // where that length's symbols start.
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for &count in self.counts.iter().skip(1) {
            code |= bits.need(1)? as i32;
            let count = i32::from(count);
            if code - first < count {
                return self
                    .symbols
                    .get((index + code - first) as usize)
                    .copied()
                    .ok_or(InflateError::Corrupt("bad code"));
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err(InflateError::Corrupt("bad code"))
    }
}

const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// The order code length code lengths are stored in.
const CODE_LENGTH_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// Inflates one raw DEFLATE stream, appending to `out`; returns the bytes consumed.
fn inflate_into(data: &[u8], out: &mut Vec<u8>) -> Result<usize, InflateError> {
    let mut bits = Bits {
        data,
        pos: 0,
        buffer: 0,
        count: 0,
    };
    let start = out.len();
    loop {
        let last = bits.need(1)? == 1;
        match bits.need(2)? {
            0 => stored(&mut bits, out)?,
            1 => {
                let mut lengths = [0u8; 288];
                lengths[..144].fill(8);
                lengths[144..256].fill(9);
                lengths[256..280].fill(7);
                lengths[280..].fill(8);
                let literals = Huffman::new(&lengths)?;
                let distances = Huffman::new(&[5u8; 30])?;
                codes(&mut bits, out, start, &literals, &distances)?;
            }
            2 => {
                let (literals, distances) = dynamic_tables(&mut bits)?;
                codes(&mut bits, out, start, &literals, &distances)?;
            }
            _ => return Err(InflateError::Corrupt("block type 3")),
        }
        if last {
            return Ok(bits.pos);
        }
    }
}

fn stored(bits: &mut Bits<'_>, out: &mut Vec<u8>) -> Result<(), InflateError> {
    bits.align();
    let header = bits
        .data
        .get(bits.pos..bits.pos + 4)
        .ok_or(InflateError::Truncated)?;
    let len = u16::from_le_bytes([header[0], header[1]]);
    let complement = u16::from_le_bytes([header[2], header[3]]);
    if len != !complement {
        return Err(InflateError::Corrupt("stored block length check"));
    }
    bits.pos += 4;
    let block = bits
        .data
        .get(bits.pos..bits.pos + usize::from(len))
        .ok_or(InflateError::Truncated)?;
    if out.len() + block.len() > MAX_OUTPUT {
        return Err(InflateError::TooLarge);
    }
    out.extend_from_slice(block);
    bits.pos += usize::from(len);
    Ok(())
}

fn dynamic_tables(bits: &mut Bits<'_>) -> Result<(Huffman, Huffman), InflateError> {
    let literal_count = bits.need(5)? as usize + 257;
    let distance_count = bits.need(5)? as usize + 1;
    let code_length_count = bits.need(4)? as usize + 4;
    if literal_count > 286 || distance_count > 30 {
        return Err(InflateError::Corrupt("too many codes"));
    }
    let mut code_lengths = [0u8; 19];
    for &index in CODE_LENGTH_ORDER.iter().take(code_length_count) {
        code_lengths[index] = bits.need(3)? as u8;
    }
    let code_length_code = Huffman::new(&code_lengths)?;
    let total = literal_count + distance_count;
    let mut lengths = Vec::with_capacity(total);
    while lengths.len() < total {
        let symbol = code_length_code.decode(bits)?;
        let (value, repeat) = match symbol {
            0..=15 => (symbol as u8, 1),
            16 => {
                let previous = *lengths
                    .last()
                    .ok_or(InflateError::Corrupt("repeat with no previous length"))?;
                (previous, 3 + bits.need(2)? as usize)
            }
            17 => (0, 3 + bits.need(3)? as usize),
            _ => (0, 11 + bits.need(7)? as usize),
        };
        if lengths.len() + repeat > total {
            return Err(InflateError::Corrupt("code lengths overrun"));
        }
        lengths.resize(lengths.len() + repeat, value);
    }
    if lengths.get(256) == Some(&0) {
        return Err(InflateError::Corrupt("no end-of-block code"));
    }
    let literals = Huffman::new(&lengths[..literal_count])?;
    let distances = Huffman::new(&lengths[literal_count..])?;
    Ok((literals, distances))
}

fn codes(
    bits: &mut Bits<'_>,
    out: &mut Vec<u8>,
    start: usize,
    literals: &Huffman,
    distances: &Huffman,
) -> Result<(), InflateError> {
    loop {
        let symbol = literals.decode(bits)?;
        match symbol {
            0..=255 => {
                if out.len() >= MAX_OUTPUT {
                    return Err(InflateError::TooLarge);
                }
                out.push(symbol as u8);
            }
            256 => return Ok(()),
            _ => {
                let index = usize::from(symbol - 257);
                let (base, extra) = LENGTH_BASE
                    .get(index)
                    .zip(LENGTH_EXTRA.get(index))
                    .ok_or(InflateError::Corrupt("bad length symbol"))?;
                let length = usize::from(*base) + bits.need(u32::from(*extra))? as usize;
                let index = usize::from(distances.decode(bits)?);
                let (base, extra) = DIST_BASE
                    .get(index)
                    .zip(DIST_EXTRA.get(index))
                    .ok_or(InflateError::Corrupt("bad distance symbol"))?;
                let distance = usize::from(*base) + bits.need(u32::from(*extra))? as usize;
                if distance > out.len() - start {
                    return Err(InflateError::Corrupt("distance before the start"));
                }
                if out.len() + length > MAX_OUTPUT {
                    return Err(InflateError::TooLarge);
                }
                // Byte by byte: a copy may overlap what it produces (distance < length).
                for _ in 0..length {
                    let byte = out[out.len() - distance];
                    out.push(byte);
                }
            }
        }
    }
}

/// CRC-32 (IEEE, reflected, as gzip uses).
fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &byte in data {
        crc = TABLE[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}
