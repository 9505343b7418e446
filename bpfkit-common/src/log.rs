//! The log record format: what `bpfkit_ebpf::log::info!` and friends write into the
//! `BPFKIT_LOGS` ring buffer, and what `bpfkit::log::EbpfLogger` reads back.
//!
//! A record is self-contained (the format string travels inline, so no table has to be
//! found in the object) and every part of it starts on an 8-byte boundary, so the eBPF side
//! writes whole aligned words at offsets the compiler knows, which the verifier checks cheaply:
//!
//! ```text
//! header   u8 version (RECORD_VERSION), u8 level, u8 argument count, u8 0,
//!          u16 target length, u16 format length                     (8 bytes)
//! text     target bytes then format bytes, zero-padded to a multiple of 8
//! each argument:
//!          u8 kind (ArgKind), u8 display hint (DisplayHint), u16 value length, u32 0
//!          value bytes, zero-padded to a multiple of 8
//! ```
//!
//! Multi-byte numbers are in the byte order of the machine (the kernel and its user space
//! share it). Integer values are always 8 bytes (sign- or zero-extended); the kind says which
//! Rust type they came from.
//!
//! Placeholders in the format string are `{}`, `{:x}`, `{:X}`, `{:ipv4}`, `{:ipv6}` and
//! `{:mac}`; `{{` and `}}` are literal braces. The display hint of each argument comes from its
//! placeholder (parsed at compile time on the eBPF side by [`placeholder_hint`]).

use core::fmt;

/// The version byte of records in this format.
pub const RECORD_VERSION: u8 = 1;
/// Length of the record header.
pub const HEADER_LEN: usize = 8;
/// Length of each argument's header.
pub const ARG_HEADER_LEN: usize = 8;
/// The longest target or format string a record carries.
pub const MAX_TEXT_LEN: usize = 1024;
/// The most arguments one record carries.
pub const MAX_ARGS: usize = 16;
/// Name of the ring buffer map the eBPF side writes records into.
pub const LOG_MAP_NAME: &str = "BPFKIT_LOGS";
/// Name of the `.rodata` global holding the most verbose [`Level`] the eBPF side writes
/// (0 = nothing).
pub const LOG_LEVEL_GLOBAL: &str = "BPFKIT_LOG_LEVEL";

/// Rounds `len` up to a multiple of 8.
pub const fn pad8(len: usize) -> usize {
    (len + 7) & !7
}

/// Severity of a record; the numbers are the `log` crate's (`Error` is 1, the most severe).
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Something failed.
    Error = 1,
    /// Something is suspicious.
    Warn = 2,
    /// Normal operation.
    Info = 3,
    /// Detail for debugging.
    Debug = 4,
    /// Very verbose detail.
    Trace = 5,
}

impl Level {
    /// The level of a record's level byte, `None` for anything else.
    pub const fn from_u8(value: u8) -> Option<Level> {
        match value {
            1 => Some(Level::Error),
            2 => Some(Level::Warn),
            3 => Some(Level::Info),
            4 => Some(Level::Debug),
            5 => Some(Level::Trace),
            _ => None,
        }
    }
}

/// The Rust type an argument came from.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArgKind {
    /// `u8`, stored as 8 bytes.
    U8 = 1,
    /// `u16`, stored as 8 bytes.
    U16 = 2,
    /// `u32`, stored as 8 bytes.
    U32 = 3,
    /// `u64` or `usize`, 8 bytes.
    U64 = 4,
    /// `i8`, sign-extended to 8 bytes.
    I8 = 5,
    /// `i16`, sign-extended to 8 bytes.
    I16 = 6,
    /// `i32`, sign-extended to 8 bytes.
    I32 = 7,
    /// `i64` or `isize`, 8 bytes.
    I64 = 8,
    /// `bool`, 8 bytes (0 or 1).
    Bool = 9,
    /// `char`, its code point in 8 bytes.
    Char = 10,
    /// Text (a `&str`, or a NUL-padded char array such as a task's `comm`): shown up to the
    /// first NUL, invalid UTF-8 replaced.
    Str = 11,
    /// Raw bytes (`[u8; N]`): hex by default, or an address with the IPv4/IPv6/MAC hints.
    Bytes = 12,
}

impl ArgKind {
    /// The kind of a kind byte, `None` for anything else.
    pub const fn from_u8(value: u8) -> Option<ArgKind> {
        Some(match value {
            1 => ArgKind::U8,
            2 => ArgKind::U16,
            3 => ArgKind::U32,
            4 => ArgKind::U64,
            5 => ArgKind::I8,
            6 => ArgKind::I16,
            7 => ArgKind::I32,
            8 => ArgKind::I64,
            9 => ArgKind::Bool,
            10 => ArgKind::Char,
            11 => ArgKind::Str,
            12 => ArgKind::Bytes,
            _ => return None,
        })
    }
}

/// How an argument is shown, from its placeholder.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisplayHint {
    /// `{}`: numbers in decimal, text as text, bytes in lower-case hex.
    Default = 0,
    /// `{:x}`: lower-case hex.
    LowerHex = 1,
    /// `{:X}`: upper-case hex.
    UpperHex = 2,
    /// `{:ipv4}`: a `u32` holding the address as a number (`Ipv4Addr::from(u32)`), or 4 bytes
    /// in network order.
    Ipv4 = 3,
    /// `{:ipv6}`: 16 bytes in network order.
    Ipv6 = 4,
    /// `{:mac}`: 6 bytes, `aa:bb:cc:dd:ee:ff`.
    Mac = 5,
}

impl DisplayHint {
    /// The hint of a hint byte, `None` for anything else.
    pub const fn from_u8(value: u8) -> Option<DisplayHint> {
        Some(match value {
            0 => DisplayHint::Default,
            1 => DisplayHint::LowerHex,
            2 => DisplayHint::UpperHex,
            3 => DisplayHint::Ipv4,
            4 => DisplayHint::Ipv6,
            5 => DisplayHint::Mac,
            _ => return None,
        })
    }
}

/// One token of a format string, from [`next_token`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    /// The string is finished.
    End,
    /// Literal text `format[start..end]`; `next` is where the following token starts.
    Literal {
        /// First byte of the text.
        start: usize,
        /// One past its last byte.
        end: usize,
        /// Start of the next token.
        next: usize,
    },
    /// A placeholder with its display hint.
    Placeholder {
        /// The hint its spec names.
        hint: DisplayHint,
        /// Start of the next token.
        next: usize,
    },
    /// A malformed placeholder or a lone `}` at byte `at`.
    Invalid {
        /// Where the problem starts.
        at: usize,
    },
}

/// Whether `spec` (the bytes between `{:` and `}`) equals `name`.
const fn spec_is(format: &[u8], start: usize, end: usize, name: &[u8]) -> bool {
    if end - start != name.len() {
        return false;
    }
    let mut i = 0;
    while i < name.len() {
        if format[start + i] != name[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The token of `format` starting at byte `pos`. A `const fn`, so the eBPF side parses its
/// format strings at compile time; user space walks the same tokens when formatting.
///
/// `{{` and `}}` come back as one-byte literals (the brace itself).
pub const fn next_token(format: &[u8], pos: usize) -> Token {
    if pos >= format.len() {
        return Token::End;
    }
    let byte = format[pos];
    if byte == b'{' {
        if pos + 1 < format.len() && format[pos + 1] == b'{' {
            return Token::Literal {
                start: pos,
                end: pos + 1,
                next: pos + 2,
            };
        }
        // Find the closing brace.
        let mut close = pos + 1;
        while close < format.len() && format[close] != b'}' {
            close += 1;
        }
        if close >= format.len() {
            return Token::Invalid { at: pos };
        }
        let next = close + 1;
        if close == pos + 1 {
            return Token::Placeholder {
                hint: DisplayHint::Default,
                next,
            };
        }
        if format[pos + 1] != b':' {
            return Token::Invalid { at: pos };
        }
        let spec = pos + 2;
        let hint = if spec_is(format, spec, close, b"") {
            DisplayHint::Default
        } else if spec_is(format, spec, close, b"x") {
            DisplayHint::LowerHex
        } else if spec_is(format, spec, close, b"X") {
            DisplayHint::UpperHex
        } else if spec_is(format, spec, close, b"ipv4") {
            DisplayHint::Ipv4
        } else if spec_is(format, spec, close, b"ipv6") {
            DisplayHint::Ipv6
        } else if spec_is(format, spec, close, b"mac") {
            DisplayHint::Mac
        } else {
            return Token::Invalid { at: pos };
        };
        return Token::Placeholder { hint, next };
    }
    if byte == b'}' {
        if pos + 1 < format.len() && format[pos + 1] == b'}' {
            return Token::Literal {
                start: pos,
                end: pos + 1,
                next: pos + 2,
            };
        }
        return Token::Invalid { at: pos };
    }
    let mut end = pos;
    while end < format.len() && format[end] != b'{' && format[end] != b'}' {
        end += 1;
    }
    Token::Literal {
        start: pos,
        end,
        next: end,
    }
}

/// Number of placeholders in `format`, or `None` when it is malformed.
pub const fn placeholder_count(format: &str) -> Option<usize> {
    let bytes = format.as_bytes();
    let mut pos = 0;
    let mut count = 0;
    loop {
        match next_token(bytes, pos) {
            Token::End => return Some(count),
            Token::Literal { next, .. } => pos = next,
            Token::Placeholder { next, .. } => {
                count += 1;
                pos = next;
            }
            Token::Invalid { .. } => return None,
        }
    }
}

/// The hint byte of placeholder `index` in `format` (0, the default, when there is none).
pub const fn placeholder_hint(format: &str, index: usize) -> u8 {
    let bytes = format.as_bytes();
    let mut pos = 0;
    let mut count = 0;
    loop {
        match next_token(bytes, pos) {
            Token::End | Token::Invalid { .. } => return DisplayHint::Default as u8,
            Token::Literal { next, .. } => pos = next,
            Token::Placeholder { hint, next } => {
                if count == index {
                    return hint as u8;
                }
                count += 1;
                pos = next;
            }
        }
    }
}

/// `text` as native-endian 8-byte words, zero-padded: `WORDS` must be `pad8(text.len()) / 8`.
/// Used at compile time so the eBPF side stores whole words.
pub const fn text_words<const WORDS: usize>(text: &str) -> [u64; WORDS] {
    let bytes = text.as_bytes();
    let mut words = [0u64; WORDS];
    let mut word = 0;
    while word < WORDS {
        let mut chunk = [0u8; 8];
        let mut i = 0;
        while i < 8 {
            let at = word * 8 + i;
            if at < bytes.len() {
                chunk[i] = bytes[at];
            }
            i += 1;
        }
        words[word] = u64::from_ne_bytes(chunk);
        word += 1;
    }
    words
}

/// The header word of a record.
pub const fn header_word(level: Level, arg_count: u8, target_len: u16, format_len: u16) -> u64 {
    let target = target_len.to_ne_bytes();
    let format = format_len.to_ne_bytes();
    u64::from_ne_bytes([
        RECORD_VERSION,
        level as u8,
        arg_count,
        0,
        target[0],
        target[1],
        format[0],
        format[1],
    ])
}

/// The header word of an argument.
pub const fn arg_header_word(kind: ArgKind, hint: u8, value_len: u16) -> u64 {
    let len = value_len.to_ne_bytes();
    u64::from_ne_bytes([kind as u8, hint, len[0], len[1], 0, 0, 0, 0])
}

/// Why a record could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The record ends before the part named.
    Truncated(&'static str),
    /// The version byte is not [`RECORD_VERSION`].
    UnknownVersion(u8),
    /// The level byte is not a [`Level`].
    UnknownLevel(u8),
    /// An argument's kind byte is not an [`ArgKind`].
    UnknownKind(u8),
    /// An argument's hint byte is not a [`DisplayHint`].
    UnknownHint(u8),
    /// The target or format string is not UTF-8.
    NotUtf8(&'static str),
    /// The format string is malformed at this byte.
    BadFormat(usize),
    /// The format string's placeholders and the arguments do not match.
    ArgumentCount {
        /// Placeholders in the format string.
        placeholders: usize,
        /// Arguments in the record.
        arguments: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated(part) => write!(f, "log record truncated in its {part}"),
            DecodeError::UnknownVersion(v) => write!(
                f,
                "log record version {v}, this reader knows version {RECORD_VERSION}"
            ),
            DecodeError::UnknownLevel(v) => write!(f, "unknown log level {v}"),
            DecodeError::UnknownKind(v) => write!(f, "unknown log argument kind {v}"),
            DecodeError::UnknownHint(v) => write!(f, "unknown log display hint {v}"),
            DecodeError::NotUtf8(part) => write!(f, "log record {part} is not UTF-8"),
            DecodeError::BadFormat(at) => write!(f, "malformed format string at byte {at}"),
            DecodeError::ArgumentCount {
                placeholders,
                arguments,
            } => write!(
                f,
                "format string has {placeholders} placeholders but the record {arguments} arguments"
            ),
        }
    }
}

/// One argument of a decoded record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arg<'a> {
    /// The Rust type it came from.
    pub kind: ArgKind,
    /// How to show it.
    pub hint: DisplayHint,
    /// Its value bytes (8 for numbers, bool and char).
    pub value: &'a [u8],
}

/// A decoded record, borrowing the bytes it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Its severity.
    pub level: Level,
    /// Where it was logged (the module path of the eBPF program).
    pub target: &'a str,
    /// The format string.
    pub format: &'a str,
    arg_count: usize,
    args: &'a [u8],
}

/// Bytes `bytes[start..start + len]`, or `Truncated(part)`.
fn take<'a>(
    bytes: &'a [u8],
    start: usize,
    len: usize,
    part: &'static str,
) -> Result<&'a [u8], DecodeError> {
    start
        .checked_add(len)
        .and_then(|end| bytes.get(start..end))
        .ok_or(DecodeError::Truncated(part))
}

/// Reads a native-endian u16 at `at`.
fn read_u16(bytes: &[u8], at: usize, part: &'static str) -> Result<u16, DecodeError> {
    let raw = take(bytes, at, 2, part)?;
    Ok(u16::from_ne_bytes([raw[0], raw[1]]))
}

/// The 8 value bytes of a number argument as a u64.
fn value_u64(value: &[u8]) -> Option<u64> {
    Some(u64::from_ne_bytes(value.get(..8)?.try_into().ok()?))
}

impl<'a> Record<'a> {
    /// Decodes a record, checking every length against `bytes` and the format string against
    /// the arguments. Trailing bytes (ring buffer padding) are ignored.
    pub fn decode(bytes: &'a [u8]) -> Result<Record<'a>, DecodeError> {
        let header = take(bytes, 0, HEADER_LEN, "header")?;
        if header[0] != RECORD_VERSION {
            return Err(DecodeError::UnknownVersion(header[0]));
        }
        let level = Level::from_u8(header[1]).ok_or(DecodeError::UnknownLevel(header[1]))?;
        let arg_count = usize::from(header[2]);
        let target_len = usize::from(read_u16(header, 4, "header")?);
        let format_len = usize::from(read_u16(header, 6, "header")?);
        let target = take(bytes, HEADER_LEN, target_len, "target")?;
        let format = take(bytes, HEADER_LEN + target_len, format_len, "format string")?;
        let target = core::str::from_utf8(target).map_err(|_| DecodeError::NotUtf8("target"))?;
        let format =
            core::str::from_utf8(format).map_err(|_| DecodeError::NotUtf8("format string"))?;
        let args_start = HEADER_LEN + pad8(target_len + format_len);
        let args = bytes
            .get(args_start..)
            .ok_or(DecodeError::Truncated("text padding"))?;
        let record = Record {
            level,
            target,
            format,
            arg_count,
            args,
        };
        // Walk every argument once so that a decoded record formats without surprises.
        let mut seen = 0;
        for arg in record.args() {
            arg?;
            seen += 1;
        }
        let placeholders = placeholder_count(format).ok_or_else(|| {
            let mut pos = 0;
            loop {
                match next_token(format.as_bytes(), pos) {
                    Token::Invalid { at } => break DecodeError::BadFormat(at),
                    Token::Literal { next, .. } | Token::Placeholder { next, .. } => pos = next,
                    Token::End => break DecodeError::BadFormat(format.len()),
                }
            }
        })?;
        if placeholders != seen {
            return Err(DecodeError::ArgumentCount {
                placeholders,
                arguments: seen,
            });
        }
        Ok(record)
    }

    /// The arguments in order.
    pub fn args(&self) -> Args<'a> {
        Args {
            bytes: self.args,
            remaining: self.arg_count,
        }
    }

    /// Writes the formatted message (the format string with its placeholders replaced).
    pub fn write_message<W: fmt::Write>(&self, out: &mut W) -> fmt::Result {
        let format = self.format.as_bytes();
        let mut args = self.args();
        let mut pos = 0;
        loop {
            match next_token(format, pos) {
                Token::End | Token::Invalid { .. } => return Ok(()),
                Token::Literal { start, end, next } => {
                    out.write_str(self.format.get(start..end).unwrap_or(""))?;
                    pos = next;
                }
                Token::Placeholder { next, .. } => {
                    if let Some(Ok(arg)) = args.next() {
                        write!(out, "{arg}")?;
                    }
                    pos = next;
                }
            }
        }
    }

    /// The formatted message as a `Display` value.
    pub fn message(&self) -> Message<'_, 'a> {
        Message(self)
    }
}

/// A record's formatted message, from [`Record::message`].
pub struct Message<'r, 'a>(&'r Record<'a>);

impl fmt::Display for Message<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.write_message(f)
    }
}

/// Iterator over a record's arguments.
#[derive(Debug, Clone)]
pub struct Args<'a> {
    bytes: &'a [u8],
    remaining: usize,
}

impl<'a> Iterator for Args<'a> {
    type Item = Result<Arg<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let result = (|| {
            let header = take(self.bytes, 0, ARG_HEADER_LEN, "argument header")?;
            let kind = ArgKind::from_u8(header[0]).ok_or(DecodeError::UnknownKind(header[0]))?;
            let hint =
                DisplayHint::from_u8(header[1]).ok_or(DecodeError::UnknownHint(header[1]))?;
            let len = usize::from(read_u16(header, 2, "argument header")?);
            let value = take(self.bytes, ARG_HEADER_LEN, len, "argument value")?;
            if !matches!(kind, ArgKind::Str | ArgKind::Bytes) && len != 8 {
                return Err(DecodeError::Truncated("argument value"));
            }
            self.bytes = self.bytes.get(ARG_HEADER_LEN + pad8(len)..).unwrap_or(&[]);
            Ok(Arg { kind, hint, value })
        })();
        if result.is_err() {
            // Nothing after a broken argument can be trusted.
            self.remaining = 0;
        }
        Some(result)
    }
}

/// Writes `bytes` as hex, upper- or lower-case, with an optional separator.
fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8], upper: bool, sep: &str) -> fmt::Result {
    for (i, byte) in bytes.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        if upper {
            write!(f, "{byte:02X}")?;
        } else {
            write!(f, "{byte:02x}")?;
        }
    }
    Ok(())
}

impl fmt::Display for Arg<'_> {
    /// Shows the value as its hint says; a hint that does not fit the value (an IPv6 hint on a
    /// `u8`) falls back to the default display.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = matches!(self.hint, DisplayHint::LowerHex | DisplayHint::UpperHex);
        let upper = self.hint == DisplayHint::UpperHex;
        match self.kind {
            ArgKind::Str => {
                let end = self
                    .value
                    .iter()
                    .position(|&b| b == 0)
                    .unwrap_or(self.value.len());
                let text = self.value.get(..end).unwrap_or(self.value);
                if hex {
                    return write_hex(f, text, upper, "");
                }
                for chunk in text.utf8_chunks() {
                    f.write_str(chunk.valid())?;
                    if !chunk.invalid().is_empty() {
                        f.write_str("\u{fffd}")?;
                    }
                }
                Ok(())
            }
            ArgKind::Bytes => match (self.hint, self.value.len()) {
                (DisplayHint::Ipv4, 4) => {
                    let octets: [u8; 4] = self.value.try_into().map_err(|_| fmt::Error)?;
                    write!(f, "{}", core::net::Ipv4Addr::from(octets))
                }
                (DisplayHint::Ipv6, 16) => {
                    let octets: [u8; 16] = self.value.try_into().map_err(|_| fmt::Error)?;
                    write!(f, "{}", core::net::Ipv6Addr::from(octets))
                }
                (DisplayHint::Mac, _) => write_hex(f, self.value, false, ":"),
                _ => write_hex(f, self.value, upper, ""),
            },
            kind => {
                let raw = value_u64(self.value).ok_or(fmt::Error)?;
                match kind {
                    ArgKind::Bool => return f.write_str(if raw != 0 { "true" } else { "false" }),
                    ArgKind::Char => {
                        let c = u32::try_from(raw)
                            .ok()
                            .and_then(char::from_u32)
                            .unwrap_or('\u{fffd}');
                        return write!(f, "{c}");
                    }
                    _ => {}
                }
                let signed = matches!(
                    kind,
                    ArgKind::I8 | ArgKind::I16 | ArgKind::I32 | ArgKind::I64
                );
                match self.hint {
                    DisplayHint::Ipv4 if kind == ArgKind::U32 => {
                        let address = u32::try_from(raw).map_err(|_| fmt::Error)?;
                        write!(f, "{}", core::net::Ipv4Addr::from(address))
                    }
                    // Hex shows the bits of the original width, as `{:x}` of the Rust type does.
                    DisplayHint::LowerHex | DisplayHint::UpperHex => {
                        let bits = match kind {
                            ArgKind::U8 | ArgKind::I8 => 8,
                            ArgKind::U16 | ArgKind::I16 => 16,
                            ArgKind::U32 | ArgKind::I32 => 32,
                            _ => 64,
                        };
                        let masked = if bits == 64 {
                            raw
                        } else {
                            raw & ((1u64 << bits) - 1)
                        };
                        if upper {
                            write!(f, "{masked:X}")
                        } else {
                            write!(f, "{masked:x}")
                        }
                    }
                    _ if signed => write!(f, "{}", raw as i64),
                    _ => write!(f, "{raw}"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::{String, ToString};
    use std::vec::Vec;

    /// Builds a record the way the eBPF side lays it out.
    fn encode(level: Level, target: &str, format: &str, args: &[(ArgKind, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(
            &header_word(
                level,
                args.len() as u8,
                target.len() as u16,
                format.len() as u16,
            )
            .to_ne_bytes(),
        );
        let mut text = Vec::from(target.as_bytes());
        text.extend_from_slice(format.as_bytes());
        text.resize(pad8(text.len()), 0);
        out.extend_from_slice(&text);
        for (index, (kind, value)) in args.iter().enumerate() {
            let hint = placeholder_hint(format, index);
            out.extend_from_slice(&arg_header_word(*kind, hint, value.len() as u16).to_ne_bytes());
            let mut padded = Vec::from(*value);
            padded.resize(pad8(value.len()), 0);
            out.extend_from_slice(&padded);
        }
        out
    }

    fn message(bytes: &[u8]) -> String {
        Record::decode(bytes)
            .expect("decodes")
            .message()
            .to_string()
    }

    #[test]
    fn formats_every_kind_and_hint() {
        let bytes = encode(
            Level::Info,
            "logging",
            "pid {} opened {} from {:ipv4} {:ipv4} mac {:mac} v6 {:ipv6} flags {:x}/{:X} d={} {} {} {{ok}} {} {:X} {:ipv6}",
            &[
                (ArgKind::U32, &1234u64.to_ne_bytes()),
                (ArgKind::Str, b"cat\0\0\0\0\0\0\0\0\0\0\0\0\0"),
                (ArgKind::Bytes, &[10, 0, 0, 1]),
                (ArgKind::U32, &0xc0a8_0102u64.to_ne_bytes()),
                (ArgKind::Bytes, &[0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x0f]),
                (
                    ArgKind::Bytes,
                    &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                ),
                (ArgKind::U16, &0xbeefu64.to_ne_bytes()),
                (ArgKind::I8, &(-1i64).to_ne_bytes()),
                (ArgKind::I32, &(-42i64).to_ne_bytes()),
                (ArgKind::Bool, &1u64.to_ne_bytes()),
                (ArgKind::Char, &u64::from('λ').to_ne_bytes()),
                (ArgKind::Bytes, &[1, 2, 0xab]),
                (ArgKind::Bytes, &[0xcd, 0xef]),
                // A hint that does not fit the value falls back to the default.
                (ArgKind::Bytes, &[7, 8]),
            ],
        );
        let record = Record::decode(&bytes).expect("decodes");
        assert_eq!(record.level, Level::Info);
        assert_eq!(record.target, "logging");
        assert_eq!(
            record.message().to_string(),
            "pid 1234 opened cat from 10.0.0.1 192.168.1.2 mac aa:bb:cc:dd:ee:0f v6 2001:db8::1 \
             flags beef/FF d=-42 true λ {ok} 0102ab CDEF 0708"
        );
    }

    #[test]
    fn parses_placeholders_at_compile_time() {
        const COUNT: Option<usize> = placeholder_count("a {} b {:mac} {{}}");
        const HINT: u8 = placeholder_hint("a {} b {:mac}", 1);
        assert_eq!(COUNT, Some(2));
        assert_eq!(HINT, DisplayHint::Mac as u8);
        assert_eq!(placeholder_count("{:nope}"), None);
        assert_eq!(placeholder_count("{"), None);
        assert_eq!(placeholder_count("}"), None);
        assert_eq!(placeholder_count("{x}"), None);
        assert_eq!(placeholder_count("plain"), Some(0));
        assert_eq!(placeholder_hint("{}", 5), 0);
    }

    #[test]
    fn text_words_pad_with_zeros() {
        let words: [u64; 2] = text_words("abcdefghi");
        let mut bytes = Vec::new();
        for word in words {
            bytes.extend_from_slice(&word.to_ne_bytes());
        }
        assert_eq!(&bytes, b"abcdefghi\0\0\0\0\0\0\0");
    }

    #[test]
    fn refuses_broken_records_without_panicking() {
        let good = encode(
            Level::Warn,
            "t",
            "x={}",
            &[(ArgKind::U64, &7u64.to_ne_bytes())],
        );
        assert_eq!(message(&good), "x=7");
        // Every truncation is an error, never a panic.
        for len in 0..good.len() {
            assert!(Record::decode(&good[..len]).is_err(), "length {len}");
        }
        let mut bad_version = good.clone();
        bad_version[0] = 9;
        assert_eq!(
            Record::decode(&bad_version),
            Err(DecodeError::UnknownVersion(9))
        );
        let mut bad_level = good.clone();
        bad_level[1] = 0;
        assert_eq!(
            Record::decode(&bad_level),
            Err(DecodeError::UnknownLevel(0))
        );
        let mut bad_kind = good.clone();
        bad_kind[16] = 77;
        assert_eq!(Record::decode(&bad_kind), Err(DecodeError::UnknownKind(77)));
        let mut bad_count = good.clone();
        bad_count[2] = 0;
        assert_eq!(
            Record::decode(&bad_count),
            Err(DecodeError::ArgumentCount {
                placeholders: 1,
                arguments: 0
            })
        );
        // A number whose length is not 8.
        let short_number = encode(Level::Warn, "t", "x={}", &[(ArgKind::U64, &[1, 2])]);
        assert!(Record::decode(&short_number).is_err());
        // Random bytes.
        let mut state = 0x1234_5678u32;
        for _ in 0..2000 {
            let mut noise = good.clone();
            for byte in noise.iter_mut() {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                if state % 5 == 0 {
                    *byte = state as u8;
                }
            }
            if let Ok(record) = Record::decode(&noise) {
                let _ = record.message().to_string();
            }
        }
    }
}
