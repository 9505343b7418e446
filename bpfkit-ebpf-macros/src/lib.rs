//! Attribute macros of `bpfkit-ebpf`, re-exported from `bpfkit_ebpf::macros`.
//!
//! A program macro turns `fn name(ctx: SomeContext) -> Ret { .. }` into an `extern "C"` entry
//! point named `name`, placed in the ELF section libbpf expects for that program type (so the
//! object also loads with bpftool/libbpf), which wraps the raw context pointer in the typed
//! context and calls the user's function. `#[map]` places a static in the BTF-defined `.maps`
//! section under its own (unmangled) name.
//!
//! No parser crate is used (the workspace allows none): the macros only need the function or
//! static name and an optional string-literal argument, which are read from the token stream.

use proc_macro::{Delimiter, Group, Ident, Literal, Spacing, Span, TokenStream, TokenTree};

mod core;
mod table;

use table::{ProgramKind, Target};

/// Emits `compile_error!(message)` at `span`. Every token of the invocation carries `span`:
/// rustc reports the error at the span of the `compile_error!` path, so a path left at the
/// call site would point at the attribute instead of the offending token.
fn error(span: Span, message: &str) -> TokenStream {
    let path: TokenStream = "::core::compile_error!".parse().unwrap_or_default();
    let mut out: TokenStream = path
        .into_iter()
        .map(|mut token| {
            token.set_span(span);
            token
        })
        .collect();
    let mut literal = Literal::string(message);
    literal.set_span(span);
    let mut group = Group::new(
        Delimiter::Parenthesis,
        TokenStream::from(TokenTree::Literal(literal)),
    );
    group.set_span(span);
    out.extend([TokenTree::Group(group), punct(';')]);
    out
}

fn punct(c: char) -> TokenTree {
    TokenTree::Punct(proc_macro::Punct::new(c, Spacing::Alone))
}

/// The value of a string literal token (`"a/b"`), without escapes (section names need none).
fn string_literal(literal: &Literal) -> Option<String> {
    let text = literal.to_string();
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        return None;
    }
    Some(inner.to_string())
}

/// The attribute's argument: nothing, or one string literal.
fn parse_argument(attr: TokenStream) -> Result<Option<(String, Span)>, TokenStream> {
    let tokens: Vec<TokenTree> = attr.into_iter().collect();
    match tokens.as_slice() {
        [] => Ok(None),
        [TokenTree::Literal(literal)] => match string_literal(literal) {
            Some(value) => Ok(Some((value, literal.span()))),
            None => Err(error(
                literal.span(),
                "expected a plain string literal (no escapes)",
            )),
        },
        [first, ..] => Err(error(
            first.span(),
            "expected at most one string literal argument",
        )),
    }
}

/// The identifier following the keyword `keyword` (`fn`, `static`, skipping `mut`) in an item.
fn item_name(item: &TokenStream, keyword: &str) -> Option<Ident> {
    let mut tokens = item.clone().into_iter();
    while let Some(token) = tokens.next() {
        if let TokenTree::Ident(ident) = &token {
            if ident.to_string() == keyword {
                for next in tokens.by_ref() {
                    if let TokenTree::Ident(name) = next {
                        if name.to_string() != "mut" {
                            return Some(name);
                        }
                    } else {
                        return None;
                    }
                }
            }
        }
    }
    None
}

/// Builds the entry point for a program macro.
fn program(kind: &ProgramKind, attr: TokenStream, item: TokenStream) -> TokenStream {
    let argument = match parse_argument(attr) {
        Ok(argument) => argument,
        Err(error) => return error,
    };
    let section = match (&kind.target, argument) {
        (Target::None, None) => kind.section.to_string(),
        (Target::None, Some((_, span))) => {
            return error(span, &format!("#[{}] takes no argument", kind.attribute))
        }
        (Target::Required(what), None) => {
            return error(
                Span::call_site(),
                &format!(
                    "#[{}(\"...\")] needs the {what}, e.g. #[{}(\"{}\")]",
                    kind.attribute, kind.attribute, kind.example
                ),
            )
        }
        (Target::Required(_) | Target::Optional, Some((target, span))) => {
            if target.is_empty() || target.chars().any(char::is_whitespace) {
                return error(span, "the target must be non-empty and without whitespace");
            }
            format!("{}/{target}", kind.section)
        }
        (Target::Optional, None) => kind.section.to_string(),
        (Target::OneOf(choices), Some((choice, span))) => {
            if !choices.contains(&choice.as_str()) {
                return error(span, &format!("expected one of {choices:?}"));
            }
            format!("{}/{choice}", kind.section)
        }
        (Target::OneOf(choices), None) => {
            return error(
                Span::call_site(),
                &format!("#[{}] needs one of {choices:?}", kind.attribute),
            )
        }
    };
    let Some(name) = item_name(&item, "fn") else {
        return error(Span::call_site(), "expected a function");
    };
    // `unsafe extern "C"`: only the kernel calls it, with a valid context of the program type,
    // which the context wrapper relies on.
    let header = format!(
        "#[no_mangle] #[link_section = \"{section}\"] \
         pub unsafe extern \"C\" fn {name}(ctx: *mut ::core::ffi::c_void) -> {ret}",
        ret = kind.return_type,
    );
    let call = format!(
        "return {name}(unsafe {{ ::bpfkit_ebpf::programs::{context}::new(ctx) }});",
        context = kind.context
    );
    let (Ok(header), Ok(call)) = (header.parse::<TokenStream>(), call.parse::<TokenStream>())
    else {
        return error(
            Span::call_site(),
            "internal error: generated tokens do not parse",
        );
    };
    // The user's function stays as written, nested in the entry point's body, so its
    // diagnostics point at the user's code and its name cannot clash with the entry point.
    let mut body = call;
    body.extend(item);
    let mut out = header;
    out.extend([TokenTree::Group(Group::new(Delimiter::Brace, body))]);
    out
}

macro_rules! program_macros {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[proc_macro_attribute]
        pub fn $name(attr: TokenStream, item: TokenStream) -> TokenStream {
            match table::find(stringify!($name)) {
                Some(kind) => program(kind, attr, item),
                None => error(Span::call_site(), "internal error: no table entry"),
            }
        }
    )*};
}

program_macros! {
    /// XDP program: `SEC("xdp")`. Context `XdpContext`, returns `u32`.
    xdp;
    /// TC classifier: `SEC("tc")`. Context `TcContext`, returns `i32` (`TC_ACT_*`).
    classifier;
    /// Socket filter: `SEC("socket")`. Context `SkBuffContext`, returns `i64` (bytes kept, 0 drops).
    socket_filter;
    /// Tracepoint: `#[tracepoint("category/name")]` gives `SEC("tracepoint/category/name")`. Context `TracePointContext`.
    tracepoint;
    /// Raw tracepoint: `#[raw_tracepoint("sys_enter")]` gives `SEC("raw_tp/sys_enter")`. Context `RawTracePointContext`.
    raw_tracepoint;
    /// BTF tracepoint: `#[btf_tracepoint("sched_switch")]` gives `SEC("tp_btf/sched_switch")`. Context `BtfTracePointContext`.
    btf_tracepoint;
    /// Kprobe: `#[kprobe("do_unlinkat")]` gives `SEC("kprobe/do_unlinkat")` (no argument: `SEC("kprobe")`). Context `ProbeContext`.
    kprobe;
    /// Kretprobe: `SEC("kretprobe/FUNCTION")`. Context `ProbeContext`.
    kretprobe;
    /// Uprobe: `SEC("uprobe")`, or `SEC("uprobe/BINARY:FUNCTION")` with an argument. Context `ProbeContext`.
    uprobe;
    /// Uretprobe: `SEC("uretprobe")` or `SEC("uretprobe/BINARY:FUNCTION")`. Context `ProbeContext`.
    uretprobe;
    /// fentry: `SEC("fentry/FUNCTION")`. Context `BtfTracePointContext`.
    fentry;
    /// fexit: `SEC("fexit/FUNCTION")`. Context `BtfTracePointContext`.
    fexit;
    /// LSM: `SEC("lsm/HOOK")`. Context `BtfTracePointContext`, returns `i32`.
    lsm;
    /// Perf event: `SEC("perf_event")`. Context `PerfEventContext`.
    perf_event;
    /// cgroup skb: `#[cgroup_skb("ingress")]` / `("egress")`. Context `SkBuffContext`, returns `i32` (1 allow, 0 drop).
    cgroup_skb;
    /// cgroup sock: `#[cgroup_sock("sock_create")]` (also sock_release, post_bind4, post_bind6). Context `SockContext`.
    cgroup_sock;
    /// cgroup sock_addr: `#[cgroup_sock_addr("connect4")]` (bind, connect, sendmsg, recvmsg, getpeername, getsockname). Context `SockAddrContext`.
    cgroup_sock_addr;
    /// cgroup sockopt: `#[cgroup_sockopt("getsockopt")]` / `("setsockopt")`. Context `SockoptContext`.
    cgroup_sockopt;
    /// cgroup sysctl: `SEC("cgroup/sysctl")`. Context `SysctlContext`.
    cgroup_sysctl;
    /// cgroup device: `SEC("cgroup/dev")`. Context `DeviceContext`.
    cgroup_device;
    /// sock_ops: `SEC("sockops")`. Context `SockOpsContext`.
    sock_ops;
    /// sk_msg: `SEC("sk_msg")`. Context `SkMsgContext`.
    sk_msg;
    /// sk_skb stream parser: `SEC("sk_skb/stream_parser")`. Context `SkBuffContext`.
    stream_parser;
    /// sk_skb stream verdict: `SEC("sk_skb/stream_verdict")`. Context `SkBuffContext`.
    stream_verdict;
    /// sk_lookup: `SEC("sk_lookup")`. Context `SkLookupContext`.
    sk_lookup;
    /// Flow dissector: `SEC("flow_dissector")`. Context `FlowDissectorContext`.
    flow_dissector;
    /// Iterator: `#[iter("task")]` gives `SEC("iter/task")`. Context `IterContext`.
    iter;
}

/// Places a map static in the `.maps` section under its own name, unmangled, so that libbpf,
/// bpftool and bpfkit find it by the name written in the source:
/// `#[map] static counts: HashMap<u32, u64, 1024> = HashMap::new();`
#[proc_macro_attribute]
pub fn map(attr: TokenStream, item: TokenStream) -> TokenStream {
    if let Some(token) = attr.into_iter().next() {
        return error(
            token.span(),
            "#[map] takes no argument: the map is named after the static",
        );
    }
    if item_name(&item, "static").is_none() {
        return error(Span::call_site(), "#[map] applies to a static");
    }
    let mut out: TokenStream =
        "#[no_mangle] #[link_section = \".maps\"] #[allow(non_upper_case_globals)]"
            .parse()
            .unwrap_or_default();
    out.extend(item);
    out
}

/// CO-RE for Rust programs: `#[kernel_struct(name = "task_struct")] struct TaskStruct { pid: i32,
/// real_parent: *const TaskStruct, #[optional] maybe_absent: u64 }` turns the struct into an
/// opaque type with accessors (`TaskStruct::pid(ptr) -> Result<i32, i64>`, `pid_exists()`,
/// `pid_size()`, `pid_signed()` for integers, `type_exists()`, `type_size()`, `type_id()`,
/// `type_matches()`) that read each field at the offset the bpfkit loader resolved against the
/// kernel's BTF and wrote into a `.rodata` slot table. `name` may carry a flavor suffix
/// (`task_struct___old`). A field that may be absent is `#[optional]`; a `#[bitfield]` integer
/// is extracted with the kernel's shifts and sign-extended when the kernel's type is signed.
///
/// `#[path = "..."]` reads a member of an embedded struct or union (not through a pointer: that
/// is a separate read), optionally through array elements; the Rust field name stays the
/// accessor's name. Intermediate members are matched by name as libbpf does, so anonymous
/// unions of the kernel type need no mention:
///
/// ```ignore
/// #[kernel_struct(name = "task_struct")]
/// struct TaskStruct {
///     #[path = "se.sum_exec_runtime"]
///     sum_exec_runtime: u64,
///     signal: *const SignalStruct,
/// }
/// #[kernel_struct(name = "signal_struct")]
/// struct SignalStruct {
///     #[path = "rlim[7].rlim_cur"] // RLIMIT_NOFILE
///     nofile_cur: u64,
/// }
/// // TaskStruct::sum_exec_runtime(task)?;
/// // SignalStruct::nofile_cur(TaskStruct::signal(task)?)?;
/// ```
///
/// `type_id()` is the type's id in the kernel's BTF (for `struct btf_ptr`); `type_matches()`
/// applies libbpf's type-match rule to the declared required top-level integer and integer-array
/// members (C names: `u32` is `unsigned int`, `u64` `long long unsigned int`, `usize`
/// `long unsigned int`, `bool` `_Bool`, `[u8; N]` `char[N]`). There is no local type id: the
/// local BTF bpfkit matches against is synthetic and never loaded.
#[proc_macro_attribute]
pub fn kernel_struct(attr: TokenStream, item: TokenStream) -> TokenStream {
    core::kernel_struct(attr, item)
}

/// CO-RE enum values for Rust programs: `#[kernel_enum(name = "pid_type")] enum PidType {
/// PIDTYPE_TGID, #[optional] PIDTYPE_NEW }` gives `PidType::PIDTYPE_TGID() -> u64` (the running
/// kernel's value, resolved by the bpfkit loader into a `.rodata` slot) and
/// `PidType::PIDTYPE_TGID_exists() -> bool`, plus `type_exists()`, `type_size()`, `type_id()`
/// and `type_matches()`. An enumerator that may be absent is `#[optional]`. `name` may carry a
/// flavor suffix (`pid_type___v2`).
#[proc_macro_attribute]
pub fn kernel_enum(attr: TokenStream, item: TokenStream) -> TokenStream {
    core::kernel_enum(attr, item)
}
