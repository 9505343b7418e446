//! `#[kernel_struct(name = "task_struct")]`: CO-RE for Rust programs.
//!
//! The struct written by the user lists the kernel fields the program needs, with their Rust
//! types. The macro replaces it with an opaque type of the same name and emits:
//! * a slot table `__bpfkit_core_<Ident>: [u64; N]` in `.rodata` (slot 0: type exists, slot 1:
//!   type size, then per field: byte offset, exists, byte size), zero until the loader writes
//!   the values resolved against the kernel's BTF;
//! * a record in `.bpfkit.core` saying what each slot means (format in bpfkit-obj's
//!   `rust_core` module; the two encoders are checked against each other by bpfkit's tests on
//!   the compiled test object);
//! * accessors: `Ident::field(ptr) -> Result<T, i64>`, `Ident::field_exists() -> bool`,
//!   `Ident::field_size() -> u64`, `Ident::type_exists()`, `Ident::type_size()`.

use proc_macro::{Delimiter, Span, TokenStream, TokenTree};

use crate::{error, string_literal};

/// Libbpf's `enum bpf_core_relo_kind` values used by the slots.
const FIELD_BYTE_OFFSET: u8 = 0;
const FIELD_BYTE_SIZE: u8 = 1;
const FIELD_EXISTS: u8 = 2;
const FIELD_LSHIFT_U64: u8 = 4;
const FIELD_RSHIFT_U64: u8 = 5;
const TYPE_EXISTS: u8 = 8;
const TYPE_SIZE: u8 = 9;
/// Slot flag: 0 instead of a load error when unresolvable.
const OPTIONAL: u8 = 1;

struct Field {
    name: String,
    ty: TokenStream,
    optional: bool,
    /// `#[bitfield]`: read through the left/right shift slots.
    bitfield: bool,
    /// (field_type, elem_size, count) of the record format.
    encoding: (u8, u8, u16),
}

/// The record's field-type code for a Rust type, or an error message.
fn encode_type(tokens: &[TokenTree]) -> Result<(u8, u8, u16), String> {
    fn int(name: &str) -> Option<(u8, u8)> {
        Some(match name {
            "u8" | "bool" => (1, 1),
            "i8" => (2, 1),
            "u16" => (1, 2),
            "i16" => (2, 2),
            "u32" => (1, 4),
            "i32" => (2, 4),
            "u64" | "usize" => (1, 8),
            "i64" | "isize" => (2, 8),
            _ => return None,
        })
    }
    match tokens {
        [TokenTree::Ident(ident)] => {
            int(&ident.to_string()).map(|(ty, size)| (ty, size, 0)).ok_or_else(|| {
                format!("unsupported field type `{ident}`: use an integer, bool, a raw pointer or an integer array")
            })
        }
        [TokenTree::Punct(star), TokenTree::Ident(qualifier), ..]
            if star.as_char() == '*' && matches!(qualifier.to_string().as_str(), "const" | "mut") =>
        {
            Ok((3, 8, 0))
        }
        [TokenTree::Group(group)] if group.delimiter() == Delimiter::Bracket => {
            let inner: Vec<TokenTree> = group.stream().into_iter().collect();
            match inner.as_slice() {
                [TokenTree::Ident(elem), TokenTree::Punct(semi), TokenTree::Literal(len)]
                    if semi.as_char() == ';' =>
                {
                    let (ty, size) = int(&elem.to_string())
                        .ok_or_else(|| format!("unsupported array element `{elem}`: use an integer"))?;
                    let count: u16 = len
                        .to_string()
                        .trim_end_matches("usize")
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| "array length must be a literal from 1 to 65535".to_string())?;
                    Ok((ty + 3, size, count))
                }
                _ => Err("arrays must be written `[integer; length]`".into()),
            }
        }
        _ => Err("unsupported field type: use an integer, bool, a raw pointer or an integer array".into()),
    }
}

/// `name = "..."` from the attribute.
fn kernel_name(attr: TokenStream) -> Result<String, TokenStream> {
    let tokens: Vec<TokenTree> = attr.into_iter().collect();
    match tokens.as_slice() {
        [TokenTree::Ident(key), TokenTree::Punct(eq), TokenTree::Literal(value)]
            if key.to_string() == "name" && eq.as_char() == '=' =>
        {
            match string_literal(value) {
                Some(name) if is_identifier(&name) && name.len() < 256 => Ok(name),
                _ => Err(error(
                    value.span(),
                    "the kernel type name must be an identifier, e.g. \"task_struct___old\"",
                )),
            }
        }
        _ => Err(error(
            Span::call_site(),
            "expected #[kernel_struct(name = \"kernel_type_name\")]",
        )),
    }
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Splits the struct body into fields: `[#[optional]] [pub] name: Type,`.
fn parse_fields(body: TokenStream) -> Result<Vec<Field>, TokenStream> {
    let mut fields = Vec::new();
    let mut tokens = body.into_iter().peekable();
    loop {
        let mut optional = false;
        let mut bitfield = false;
        // Attributes and visibility.
        loop {
            match tokens.peek() {
                Some(TokenTree::Punct(p)) if p.as_char() == '#' => {
                    let span = p.span();
                    tokens.next();
                    match tokens.next() {
                        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Bracket => {
                            let text = g.stream().to_string();
                            match text.trim() {
                                "optional" => optional = true,
                                "bitfield" => bitfield = true,
                                other if other.starts_with("doc") => {}
                                _ => {
                                    return Err(error(
                                        g.span(),
                                        "only #[optional], #[bitfield] and doc comments are allowed on kernel fields",
                                    ))
                                }
                            }
                        }
                        _ => return Err(error(span, "expected an attribute")),
                    }
                }
                Some(TokenTree::Ident(i)) if i.to_string() == "pub" => {
                    tokens.next();
                    if let Some(TokenTree::Group(g)) = tokens.peek() {
                        if g.delimiter() == Delimiter::Parenthesis {
                            tokens.next();
                        }
                    }
                }
                _ => break,
            }
        }
        let name = match tokens.next() {
            None => break,
            Some(TokenTree::Ident(name)) => name,
            Some(other) => return Err(error(other.span(), "expected a field name")),
        };
        match tokens.next() {
            Some(TokenTree::Punct(p)) if p.as_char() == ':' => {}
            _ => return Err(error(name.span(), "expected `:` and the field type")),
        }
        let mut ty = Vec::new();
        for token in tokens.by_ref() {
            if matches!(&token, TokenTree::Punct(p) if p.as_char() == ',') {
                break;
            }
            ty.push(token);
        }
        let encoding = encode_type(&ty).map_err(|message| error(name.span(), &message))?;
        if bitfield && !matches!(encoding.0, 1 | 2) {
            return Err(error(name.span(), "#[bitfield] applies to integer fields"));
        }
        let name_text = name.to_string();
        let name_text = name_text
            .strip_prefix("r#")
            .unwrap_or(&name_text)
            .to_string();
        if name_text.len() > 255 {
            return Err(error(name.span(), "field name too long"));
        }
        fields.push(Field {
            name: name_text,
            ty: ty.into_iter().collect(),
            optional,
            bitfield,
            encoding,
        });
    }
    Ok(fields)
}

fn push_str(out: &mut Vec<u8>, text: &str) {
    out.push(text.len() as u8);
    out.extend_from_slice(text.as_bytes());
}

fn push_slot(out: &mut Vec<u8>, kind: u8, flags: u8, field: Option<&Field>) {
    out.push(kind);
    out.push(flags);
    match field {
        Some(field) => {
            push_str(out, &field.name);
            out.push(field.encoding.0);
            out.push(field.encoding.1);
            out.extend_from_slice(&field.encoding.2.to_le_bytes());
        }
        None => out.extend_from_slice(&[0, 0, 0, 0, 0]),
    }
}

/// The `.bpfkit.core` record (see bpfkit-obj `rust_core`).
fn encode_record(table: &str, type_name: &str, is_union: bool, fields: &[Field]) -> Vec<u8> {
    let mut out = b"BKCO".to_vec();
    out.extend_from_slice(&[1, 0, 0, 0]);
    push_str(&mut out, table);
    push_str(&mut out, type_name);
    out.push(u8::from(is_union));
    out.push(slot_total(fields) as u8);
    push_slot(&mut out, TYPE_EXISTS, OPTIONAL, None);
    push_slot(&mut out, TYPE_SIZE, OPTIONAL, None);
    for field in fields {
        let flags = if field.optional { OPTIONAL } else { 0 };
        push_slot(&mut out, FIELD_BYTE_OFFSET, flags, Some(field));
        push_slot(&mut out, FIELD_EXISTS, OPTIONAL, Some(field));
        push_slot(&mut out, FIELD_BYTE_SIZE, flags, Some(field));
        if field.bitfield {
            push_slot(&mut out, FIELD_LSHIFT_U64, flags, Some(field));
            push_slot(&mut out, FIELD_RSHIFT_U64, flags, Some(field));
        }
    }
    let len = (out.len() as u16).to_le_bytes();
    out[6] = len[0];
    out[7] = len[1];
    out
}

/// Slots of one field: offset, exists, size, and for bitfields left and right shifts.
fn field_slots(field: &Field) -> usize {
    if field.bitfield {
        5
    } else {
        3
    }
}

/// Slots of a whole table: type exists, type size, then the fields'.
fn slot_total(fields: &[Field]) -> usize {
    2 + fields.iter().map(field_slots).sum::<usize>()
}

/// The macro body.
pub fn kernel_struct(attr: TokenStream, item: TokenStream) -> TokenStream {
    let type_name = match kernel_name(attr) {
        Ok(name) => name,
        Err(error) => return error,
    };
    let tokens: Vec<TokenTree> = item.into_iter().collect();
    let keyword = tokens.iter().position(
        |t| matches!(t, TokenTree::Ident(i) if matches!(i.to_string().as_str(), "struct" | "union")),
    );
    let Some(keyword) = keyword else {
        return error(
            Span::call_site(),
            "#[kernel_struct] applies to a struct or union",
        );
    };
    let is_union = tokens[keyword].to_string() == "union";
    let (Some(TokenTree::Ident(ident)), Some(TokenTree::Group(body))) =
        (tokens.get(keyword + 1), tokens.get(keyword + 2))
    else {
        return error(
            Span::call_site(),
            "expected `struct Name { field: Type, .. }` (no generics)",
        );
    };
    if body.delimiter() != Delimiter::Brace {
        return error(body.span(), "expected named fields in braces");
    }
    let fields = match parse_fields(body.stream()) {
        Ok(fields) => fields,
        Err(error) => return error,
    };
    if slot_total(&fields) > 255 {
        return error(
            ident.span(),
            "too many fields: a kernel struct has at most 255 slots (3 per field, 5 per bitfield)",
        );
    }
    // Outer attributes (docs) and visibility are kept on the opaque replacement.
    let prefix: TokenStream = tokens[..keyword].iter().cloned().collect();
    let table = format!("__bpfkit_core_{ident}");
    let descriptor = format!("__bpfkit_core_desc_{ident}");
    let slots = slot_total(&fields);
    let record = encode_record(&table, &type_name, is_union, &fields);
    let bytes: Vec<String> = record.iter().map(|b| format!("{b}u8")).collect();
    let mut code = format!(
        "struct {ident} {{ _opaque: [u8; 0] }}
        #[no_mangle] #[link_section = \".rodata\"] #[allow(non_upper_case_globals)]
        static {table}: [u64; {slots}] = [0u64; {slots}];
        #[no_mangle] #[used] #[link_section = \".bpfkit.core\"] #[allow(non_upper_case_globals)]
        static {descriptor}: [u8; {len}] = [{bytes}];
        #[allow(dead_code)]
        impl {ident} {{
            /// 1 when the kernel has the type `{type_name}` (flavor suffix ignored).
            #[inline(always)]
            pub fn type_exists() -> bool {{ ::bpfkit_ebpf::core_read::slot(&{table}, 0) != 0 }}
            /// Size in bytes of `{type_name}` in the kernel (0 when absent).
            #[inline(always)]
            pub fn type_size() -> u64 {{ ::bpfkit_ebpf::core_read::slot(&{table}, 1) }}
        ",
        len = record.len(),
        bytes = bytes.join(","),
    );
    // The struct keyword was `struct`/`union`; the opaque type is always a struct.
    let _ = is_union;
    let mut typed: Vec<(String, TokenStream)> = Vec::new();
    let mut offset = 2;
    for (i, field) in fields.iter().enumerate() {
        let first = offset;
        offset += field_slots(field);
        let offset = first;
        let name = &field.name;
        let read = if field.bitfield {
            format!(
                "::bpfkit_ebpf::core_read::read_bitfield(this.cast::<u8>(), &{table}, {offset})"
            )
        } else {
            format!(
                "::bpfkit_ebpf::core_read::read_field(this.cast::<u8>(), &{table}, {offset}, {exists})",
                exists = offset + 1
            )
        };
        code.push_str(&format!(
            "/// Reads `{type_name}.{name}` at its offset in the running kernel (error when absent
            /// or unreadable).
            #[inline(always)]
            pub fn {name}(this: *const Self) -> ::core::result::Result<__BPFKIT_FIELD_TYPE_{i}, i64> {{
                {read}
            }}
            /// Whether the running kernel's `{type_name}` has `{name}`.
            #[inline(always)]
            pub fn {name}_exists() -> bool {{ ::bpfkit_ebpf::core_read::slot(&{table}, {exists}) != 0 }}
            /// Byte size of `{type_name}.{name}` in the running kernel (0 when absent).
            #[inline(always)]
            pub fn {name}_size() -> u64 {{ ::bpfkit_ebpf::core_read::slot(&{table}, {size}) }}
            ",
            exists = offset + 1,
            size = offset + 2,
        ));
        typed.push((format!("__BPFKIT_FIELD_TYPE_{i}"), field.ty.clone()));
    }
    code.push('}');
    // Field types are spliced as tokens (they may name other kernel structs or Self).
    let mut text = code;
    for (placeholder, ty) in typed.iter().rev() {
        text = text.replace(placeholder, &ty.to_string());
    }
    let Ok(generated) = text.parse::<TokenStream>() else {
        return error(
            Span::call_site(),
            "internal error: generated tokens do not parse",
        );
    };
    let mut out: TokenStream = "#[repr(C)]".parse().unwrap_or_default();
    out.extend(prefix);
    out.extend(generated);
    out
}

const ENUMVAL_EXISTS: u8 = 10;
const ENUMVAL_VALUE: u8 = 11;
/// Record type flag: the kernel type is an enum.
const TYPE_ENUM: u8 = 2;
/// Field type of an enumerator slot.
const ENUMERATOR: u8 = 6;

/// `#[kernel_enum(name = "pid_type")] enum PidType { PIDTYPE_TGID, #[optional] PIDTYPE_NEW }`:
/// per enumerator a value slot and an existence slot.
pub fn kernel_enum(attr: TokenStream, item: TokenStream) -> TokenStream {
    let type_name = match kernel_name(attr) {
        Ok(name) => name,
        Err(error) => return error,
    };
    let tokens: Vec<TokenTree> = item.into_iter().collect();
    let keyword = tokens
        .iter()
        .position(|t| matches!(t, TokenTree::Ident(i) if i.to_string() == "enum"));
    let Some(keyword) = keyword else {
        return error(Span::call_site(), "#[kernel_enum] applies to an enum");
    };
    let (Some(TokenTree::Ident(ident)), Some(TokenTree::Group(body))) =
        (tokens.get(keyword + 1), tokens.get(keyword + 2))
    else {
        return error(Span::call_site(), "expected `enum Name { VARIANT, .. }`");
    };
    // Variants: `[#[optional]] NAME,` (no values: the kernel's are what the program reads).
    let mut variants: Vec<(String, bool)> = Vec::new();
    let mut optional = false;
    let mut body_tokens = body.stream().into_iter();
    while let Some(token) = body_tokens.next() {
        match token {
            TokenTree::Punct(p) if p.as_char() == '#' => match body_tokens.next() {
                Some(TokenTree::Group(g)) => {
                    let text = g.stream().to_string();
                    match text.trim() {
                        "optional" => optional = true,
                        other if other.starts_with("doc") => {}
                        _ => return error(
                            g.span(),
                            "only #[optional] and doc comments are allowed on kernel enumerators",
                        ),
                    }
                }
                _ => return error(p.span(), "expected an attribute"),
            },
            TokenTree::Ident(name) => {
                let text = name.to_string();
                if text.len() > 255 || variants.iter().any(|(v, _)| *v == text) {
                    return error(
                        name.span(),
                        "enumerator names must be unique and shorter than 256 bytes",
                    );
                }
                variants.push((text, optional));
                optional = false;
                match body_tokens.next() {
                    None => break,
                    Some(TokenTree::Punct(p)) if p.as_char() == ',' => {}
                    Some(other) => {
                        return error(other.span(), "kernel enumerators take no value or fields")
                    }
                }
            }
            other => return error(other.span(), "expected an enumerator name"),
        }
    }
    let slots = 2 + 2 * variants.len();
    if slots > 255 {
        return error(ident.span(), "at most 126 enumerators per kernel enum");
    }
    let table = format!("__bpfkit_core_{ident}");
    let descriptor = format!("__bpfkit_core_desc_{ident}");
    let mut record = b"BKCO".to_vec();
    record.extend_from_slice(&[1, 0, 0, 0]);
    push_str(&mut record, &table);
    push_str(&mut record, &type_name);
    record.push(TYPE_ENUM);
    record.push(slots as u8);
    push_slot(&mut record, TYPE_EXISTS, OPTIONAL, None);
    push_slot(&mut record, TYPE_SIZE, OPTIONAL, None);
    for (name, optional) in &variants {
        for (kind, flags) in [
            (ENUMVAL_VALUE, if *optional { OPTIONAL } else { 0 }),
            (ENUMVAL_EXISTS, OPTIONAL),
        ] {
            record.push(kind);
            record.push(flags);
            push_str(&mut record, name);
            record.extend_from_slice(&[ENUMERATOR, 0, 0, 0]);
        }
    }
    let len = (record.len() as u16).to_le_bytes();
    record[6] = len[0];
    record[7] = len[1];
    let bytes: Vec<String> = record.iter().map(|b| format!("{b}u8")).collect();
    let mut code = format!(
        "struct {ident};
        #[no_mangle] #[link_section = \".rodata\"] #[allow(non_upper_case_globals)]
        static {table}: [u64; {slots}] = [0u64; {slots}];
        #[no_mangle] #[used] #[link_section = \".bpfkit.core\"] #[allow(non_upper_case_globals)]
        static {descriptor}: [u8; {len}] = [{bytes}];
        #[allow(dead_code, non_snake_case)]
        impl {ident} {{
            /// 1 when the kernel has the enum `{type_name}` (flavor suffix ignored).
            #[inline(always)]
            pub fn type_exists() -> bool {{ ::bpfkit_ebpf::core_read::slot(&{table}, 0) != 0 }}
            /// Size in bytes of `{type_name}` in the kernel (0 when absent).
            #[inline(always)]
            pub fn type_size() -> u64 {{ ::bpfkit_ebpf::core_read::slot(&{table}, 1) }}
        ",
        len = record.len(),
        bytes = bytes.join(","),
    );
    for (i, (name, _)) in variants.iter().enumerate() {
        let value = 2 + 2 * i;
        code.push_str(&format!(
            "/// The running kernel's value of `{type_name}::{name}` (0 when absent).
            #[inline(always)]
            pub fn {name}() -> u64 {{ ::bpfkit_ebpf::core_read::slot(&{table}, {value}) }}
            /// Whether the running kernel's `{type_name}` has `{name}`.
            #[inline(always)]
            pub fn {name}_exists() -> bool {{ ::bpfkit_ebpf::core_read::slot(&{table}, {exists}) != 0 }}
            ",
            exists = value + 1,
        ));
    }
    code.push('}');
    let Ok(generated) = code.parse::<TokenStream>() else {
        return error(
            Span::call_site(),
            "internal error: generated tokens do not parse",
        );
    };
    let prefix: TokenStream = tokens
        .get(..keyword)
        .unwrap_or_default()
        .iter()
        .cloned()
        .collect();
    let mut out = prefix;
    out.extend(generated);
    out
}
