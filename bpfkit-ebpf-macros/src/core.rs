//! `#[kernel_struct(name = "task_struct")]`: CO-RE for Rust programs.
//!
//! The struct written by the user lists the kernel fields the program needs, with their Rust
//! types. The macro replaces it with an opaque type of the same name and emits:
//! * a slot table `__bpfkit_core_<Ident>: [u64; N]` in `.rodata` (slot 0: type exists, slot 1:
//!   type size, slot 2: kernel BTF type id, slot 3: type matches, then per field: byte offset,
//!   exists, byte size, signedness for integers, left and right shifts for bitfields), zero until
//!   the loader writes the values resolved against the kernel's BTF;
//! * a record in `.bpfkit.core` saying what each slot means (format in bpfkit-obj's
//!   `rust_core` module; the two encoders are checked against each other by bpfkit's tests on
//!   the compiled test object);
//! * accessors: `Ident::field(ptr) -> Result<T, i64>`, `Ident::field_exists() -> bool`,
//!   `Ident::field_size() -> u64`, `Ident::field_signed() -> bool` (integers),
//!   `Ident::type_exists()`, `Ident::type_size()`, `Ident::type_id()`, `Ident::type_matches()`.
//!
//! `#[path = "se.sum_exec_runtime"]` on a field reads a member of an embedded struct or union
//! (or an array element, `rlim[7].rlim_cur`) at its offset from the start of the kernel type;
//! the Rust field name stays the accessor name.

use proc_macro::{Delimiter, Span, TokenStream, TokenTree};

use crate::{error, string_literal};

/// Libbpf's `enum bpf_core_relo_kind` values used by the slots.
const FIELD_BYTE_OFFSET: u8 = 0;
const FIELD_BYTE_SIZE: u8 = 1;
const FIELD_EXISTS: u8 = 2;
const FIELD_SIGNED: u8 = 3;
const FIELD_LSHIFT_U64: u8 = 4;
const FIELD_RSHIFT_U64: u8 = 5;
const TYPE_ID_TARGET: u8 = 7;
const TYPE_EXISTS: u8 = 8;
const TYPE_SIZE: u8 = 9;
const TYPE_MATCHES: u8 = 12;
/// Record format version (bpfkit-obj's `rust_core::FORMAT_VERSION`).
const FORMAT_VERSION: u8 = 2;
/// Type slots at the start of every table: exists, size, target id, matches.
const TYPE_SLOTS: usize = 4;
/// Field-type codes of integers the FIELD_SIGNED slot applies to: unsigned, signed, bool,
/// unsigned long, signed long.
const INTEGER_CODES: [u8; 5] = [1, 2, 7, 8, 9];
/// Same limits as bpfkit-obj's `rust_core::parse_path`.
const MAX_PATH_STEPS: usize = 32;
const MAX_PATH_INDEX: u32 = 65_535;
/// Slot flag: 0 instead of a load error when unresolvable.
const OPTIONAL: u8 = 1;

struct Field {
    name: String,
    /// `#[path = "..."]`, or the field name: what the record describes.
    path: String,
    /// The path ends in an array index: no signedness or shift slots (libbpf has none for
    /// array elements).
    indexed: bool,
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
            "u8" => (1, 1),
            "bool" => (7, 1),
            "i8" => (2, 1),
            "u16" => (1, 2),
            "i16" => (2, 2),
            "u32" => (1, 4),
            "i32" => (2, 4),
            "u64" => (1, 8),
            "i64" => (2, 8),
            // C `long`: the same slot values as u64/i64, another C name for TYPE_MATCHES.
            "usize" => (8, 8),
            "isize" => (9, 8),
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
                        .filter(|(ty, _)| matches!(ty, 1 | 2))
                        .ok_or_else(|| format!("unsupported array element `{elem}`: use u8..u64 or i8..i64"))?;
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

/// Checks a field path, `ident ('[' index ']')* ('.' ident ('[' index ']')*)*`; returns whether
/// it ends in an array index. Mirrors bpfkit-obj's `rust_core::parse_path`, which reads it back.
fn check_path(text: &str) -> Result<bool, String> {
    if text.is_empty() {
        return Err(
            "the path is empty: write member names separated by dots, e.g. \"se.sum_exec_runtime\""
                .into(),
        );
    }
    if text.len() > 255 {
        return Err("the path is longer than 255 bytes".into());
    }
    let mut steps = 0usize;
    let mut indexed = false;
    for part in text.split('.') {
        let (name, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
        if name.is_empty() {
            return Err(
                "a member name is missing (two dots, a dot at an end, or an index without a name)"
                    .into(),
            );
        }
        if !is_identifier(name) {
            return Err(format!(
                "`{name}` is not a member name: write member names separated by dots, with optional array indexes, e.g. \"rlim[7].rlim_cur\" (pointers are separate reads)"
            ));
        }
        steps += 1;
        indexed = false;
        while !rest.is_empty() {
            let index = rest
                .strip_prefix('[')
                .and_then(|r| r.split_once(']'))
                .filter(|(digits, _)| {
                    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
                });
            let Some((digits, after)) = index else {
                return Err(format!(
                    "expected `[index]` with a decimal index after `{name}`"
                ));
            };
            if digits
                .parse::<u32>()
                .ok()
                .filter(|i| *i <= MAX_PATH_INDEX)
                .is_none()
            {
                return Err(format!("array index {digits} is above {MAX_PATH_INDEX}"));
            }
            steps += 1;
            indexed = true;
            rest = after;
        }
    }
    if steps > MAX_PATH_STEPS {
        return Err(format!("the path has more than {MAX_PATH_STEPS} steps"));
    }
    Ok(indexed)
}

/// `path = "a.b"` inside `#[...]`: the path text, or an error at the offending token.
fn path_attribute(group: &proc_macro::Group) -> Result<Option<(String, bool)>, TokenStream> {
    let tokens: Vec<TokenTree> = group.stream().into_iter().collect();
    match tokens.first() {
        Some(TokenTree::Ident(key)) if key.to_string() == "path" => {}
        _ => return Ok(None),
    }
    match tokens.as_slice() {
        [_, TokenTree::Punct(eq), TokenTree::Literal(value)] if eq.as_char() == '=' => {
            let text = string_literal(value).ok_or_else(|| {
                error(
                    value.span(),
                    "expected a plain string literal, e.g. #[path = \"se.sum_exec_runtime\"]",
                )
            })?;
            let indexed = check_path(&text).map_err(|message| error(value.span(), &message))?;
            Ok(Some((text, indexed)))
        }
        _ => Err(error(
            group.span(),
            "expected #[path = \"member.member\"], e.g. #[path = \"se.sum_exec_runtime\"]",
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
        let mut path: Option<(String, bool)> = None;
        // Attributes and visibility.
        loop {
            match tokens.peek() {
                Some(TokenTree::Punct(p)) if p.as_char() == '#' => {
                    let span = p.span();
                    tokens.next();
                    match tokens.next() {
                        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Bracket => {
                            if let Some(found) = path_attribute(&g)? {
                                if path.is_some() {
                                    return Err(error(g.span(), "a field has one #[path]"));
                                }
                                path = Some(found);
                                continue;
                            }
                            let text = g.stream().to_string();
                            match text.trim() {
                                "optional" => optional = true,
                                "bitfield" => bitfield = true,
                                other if other.starts_with("doc") => {}
                                _ => {
                                    return Err(error(
                                        g.span(),
                                        "only #[optional], #[bitfield], #[path = \"a.b\"] and doc comments are allowed on kernel fields",
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
        if bitfield && !INTEGER_CODES.contains(&encoding.0) {
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
        let (path, indexed) = path.unwrap_or_else(|| (name_text.clone(), false));
        if bitfield && indexed {
            return Err(error(
                name.span(),
                "#[bitfield] applies to a member, not to an array element",
            ));
        }
        fields.push(Field {
            name: name_text,
            path,
            indexed,
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
            push_str(out, &field.path);
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
    out.extend_from_slice(&[FORMAT_VERSION, 0, 0, 0]);
    push_str(&mut out, table);
    push_str(&mut out, type_name);
    out.push(u8::from(is_union));
    out.push(slot_total(fields) as u8);
    push_type_slots(&mut out);
    for field in fields {
        let flags = if field.optional { OPTIONAL } else { 0 };
        push_slot(&mut out, FIELD_BYTE_OFFSET, flags, Some(field));
        push_slot(&mut out, FIELD_EXISTS, OPTIONAL, Some(field));
        push_slot(&mut out, FIELD_BYTE_SIZE, flags, Some(field));
        if has_signed_slot(field) {
            push_slot(&mut out, FIELD_SIGNED, flags, Some(field));
        }
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

/// The four type slots every table starts with; all optional (an absent type gives 0s).
fn push_type_slots(out: &mut Vec<u8>) {
    for kind in [TYPE_EXISTS, TYPE_SIZE, TYPE_ID_TARGET, TYPE_MATCHES] {
        push_slot(out, kind, OPTIONAL, None);
    }
}

/// Integer members (not array elements) get a FIELD_SIGNED slot.
fn has_signed_slot(field: &Field) -> bool {
    INTEGER_CODES.contains(&field.encoding.0) && !field.indexed
}

/// Slots of one field: offset, exists, size, signedness for integers, and for bitfields left
/// and right shifts.
fn field_slots(field: &Field) -> usize {
    3 + usize::from(has_signed_slot(field)) + if field.bitfield { 2 } else { 0 }
}

/// Slots of a whole table: the type slots, then the fields'.
fn slot_total(fields: &[Field]) -> usize {
    TYPE_SLOTS + fields.iter().map(field_slots).sum::<usize>()
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
            "too many fields: a kernel struct has at most 255 slots (4 for the type, 3 per field, 4 per integer, 6 per bitfield)",
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
            /// Id of `{type_name}` in the kernel's BTF (0 when absent), e.g. for the `type_id`
            /// of `struct btf_ptr` (`bpf_snprintf_btf`, `bpf_seq_printf_btf`).
            #[inline(always)]
            pub fn type_id() -> u32 {{ ::bpfkit_ebpf::core_read::slot(&{table}, 2) as u32 }}
            /// Whether the kernel's `{type_name}` has the declared required integer and integer
            /// array members with the same C types (libbpf's `bpf_core_type_matches`; pointers,
            /// paths and optional fields are not compared).
            #[inline(always)]
            pub fn type_matches() -> bool {{ ::bpfkit_ebpf::core_read::slot(&{table}, 3) != 0 }}
        ",
        len = record.len(),
        bytes = bytes.join(","),
    );
    // The struct keyword was `struct`/`union`; the opaque type is always a struct.
    let _ = is_union;
    let mut typed: Vec<(String, TokenStream)> = Vec::new();
    let mut offset = TYPE_SLOTS;
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
        let path = &field.path;
        if has_signed_slot(field) {
            code.push_str(&format!(
                "/// Whether the running kernel's `{type_name}.{path}` is a signed integer (or
                /// enum); bitfield reads sign-extend by it.
                #[inline(always)]
                pub fn {name}_signed() -> bool {{ ::bpfkit_ebpf::core_read::slot(&{table}, {signed}) != 0 }}
                ",
                signed = offset + 3,
            ));
        }
        code.push_str(&format!(
            "/// Reads `{type_name}.{path}` at its offset in the running kernel (error when absent
            /// or unreadable).
            #[inline(always)]
            pub fn {name}(this: *const Self) -> ::core::result::Result<__BPFKIT_FIELD_TYPE_{i}, i64> {{
                {read}
            }}
            /// Whether the running kernel's `{type_name}` has `{path}`.
            #[inline(always)]
            pub fn {name}_exists() -> bool {{ ::bpfkit_ebpf::core_read::slot(&{table}, {exists}) != 0 }}
            /// Byte size of `{type_name}.{path}` in the running kernel (0 when absent).
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
    let slots = TYPE_SLOTS + 2 * variants.len();
    if slots > 255 {
        return error(ident.span(), "at most 125 enumerators per kernel enum");
    }
    let table = format!("__bpfkit_core_{ident}");
    let descriptor = format!("__bpfkit_core_desc_{ident}");
    let mut record = b"BKCO".to_vec();
    record.extend_from_slice(&[FORMAT_VERSION, 0, 0, 0]);
    push_str(&mut record, &table);
    push_str(&mut record, &type_name);
    record.push(TYPE_ENUM);
    record.push(slots as u8);
    push_type_slots(&mut record);
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
            /// Id of `{type_name}` in the kernel's BTF (0 when absent).
            #[inline(always)]
            pub fn type_id() -> u32 {{ ::bpfkit_ebpf::core_read::slot(&{table}, 2) as u32 }}
            /// Whether the kernel's `{type_name}` has the declared required enumerators and
            /// the local size, 4 bytes (libbpf's `bpf_core_type_matches`).
            #[inline(always)]
            pub fn type_matches() -> bool {{ ::bpfkit_ebpf::core_read::slot(&{table}, 3) != 0 }}
        ",
        len = record.len(),
        bytes = bytes.join(","),
    );
    for (i, (name, _)) in variants.iter().enumerate() {
        let value = TYPE_SLOTS + 2 * i;
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
