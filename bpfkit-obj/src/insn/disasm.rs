//! A disassembler printing instructions the way `bpftool prog dump xlated` does:
//!
//! ```text
//!    0: (b7) r0 = 0
//!    1: (18) r1 = map[counts]
//!    3: (85) call bpf_map_lookup_elem#1
//!    4: (15) if r0 == 0x0 goto pc+2
//!    5: (61) r2 = *(u32 *)(r0 +4)
//! ```
//!
//! Map references print the map name when the caller provides it ([`Disassembler::map_name`]),
//! otherwise the raw immediate.

use std::collections::HashMap;
use std::fmt::Write;

use super::helpers::helper_name;
use super::*;
use crate::consts::{
    BPF_PSEUDO_BTF_ID, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_FD,
    BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE, BPF_PSEUDO_MAP_VALUE,
};

/// `BPF_JMP | BPF_JCOND` with `src_reg = 0`: `may_goto`.
const BPF_JCOND: u8 = 0xe0;
/// Atomic load-acquire (`imm`), Linux 6.15.
const BPF_LOAD_ACQ: i32 = 0x100;
/// Atomic store-release (`imm`), Linux 6.15.
const BPF_STORE_REL: i32 = 0x110;

/// Prints instructions; holds the names to show for map references.
#[derive(Clone, Debug, Default)]
pub struct Disassembler {
    map_names: HashMap<usize, String>,
}

impl Disassembler {
    /// A disassembler without map names.
    pub fn new() -> Disassembler {
        Disassembler::default()
    }

    /// Shows `name` for the `ld_imm64` at `insn_index` when it references a map.
    pub fn map_name(mut self, insn_index: usize, name: impl Into<String>) -> Disassembler {
        self.map_names.insert(insn_index, name.into());
        self
    }

    /// One line per instruction (the second slot of an `ld_imm64` gets none), each prefixed with
    /// its index and opcode like bpftool: `   4: (15) if r0 == 0x0 goto pc+2`.
    pub fn disassemble(&self, insns: &[Insn]) -> Vec<String> {
        let mut lines = Vec::with_capacity(insns.len());
        let mut i = 0;
        while let Some(insn) = insns.get(i) {
            let next = insns.get(i + 1);
            lines.push(format!(
                "{i:4}: ({:02x}) {}",
                insn.code,
                self.format(i, insn, next)
            ));
            i += if insn.is_ld_imm64() { 2 } else { 1 };
        }
        lines
    }

    /// The text of one instruction (without index and opcode). `next` is the following slot,
    /// used by `ld_imm64`.
    pub fn format(&self, index: usize, insn: &Insn, next: Option<&Insn>) -> String {
        match insn.class() {
            BPF_ALU | BPF_ALU64 => format_alu(insn),
            BPF_LDX => format_ldx(insn),
            BPF_ST => format_st(insn),
            BPF_STX => format_stx(insn),
            BPF_LD => self.format_ld(index, insn, next),
            BPF_JMP | BPF_JMP32 => format_jmp(insn),
            _ => invalid(insn),
        }
    }

    fn format_ld(&self, index: usize, insn: &Insn, next: Option<&Insn>) -> String {
        let dst = insn.dst_reg();
        let size = size_name(insn.code);
        match insn.code & 0xe0 {
            BPF_IMM if insn.code == BPF_LD_IMM64 => {
                let Some(next) = next else {
                    return format!("r{dst} = <truncated ld_imm64>");
                };
                let value = (u64::from(next.imm as u32) << 32) | u64::from(insn.imm as u32);
                let map = |raw: i32| match self.map_names.get(&index) {
                    Some(name) => name.clone(),
                    None => format!("fd:{raw}"),
                };
                match insn.src_reg() {
                    BPF_PSEUDO_MAP_FD => format!("r{dst} = map[{}]", map(insn.imm)),
                    BPF_PSEUDO_MAP_VALUE => {
                        format!("r{dst} = map[{}][0]+{}", map(insn.imm), next.imm as u32)
                    }
                    BPF_PSEUDO_MAP_IDX => format!("r{dst} = map[idx:{}]", insn.imm),
                    BPF_PSEUDO_MAP_IDX_VALUE => {
                        format!("r{dst} = map[idx:{}][0]+{}", insn.imm, next.imm as u32)
                    }
                    BPF_PSEUDO_BTF_ID => format!("r{dst} = btf_id[{}]", insn.imm),
                    BPF_PSEUDO_FUNC => format!("r{dst} = func[pc{:+}]", insn.imm),
                    _ => format!("r{dst} = {value:#x}"),
                }
            }
            BPF_ABS => format!("r0 = *({size} *)skb[{}]", insn.imm),
            BPF_IND => format!("r0 = *({size} *)skb[r{} + {}]", insn.src_reg(), insn.imm),
            _ => invalid(insn),
        }
    }
}

fn invalid(insn: &Insn) -> String {
    format!("invalid opcode {:#04x}", insn.code)
}

fn size_name(code: u8) -> &'static str {
    match code & 0x18 {
        BPF_W => "u32",
        BPF_H => "u16",
        BPF_B => "u8",
        _ => "u64",
    }
}

fn size_bits(code: u8) -> u32 {
    match code & 0x18 {
        BPF_W => 32,
        BPF_H => 16,
        BPF_B => 8,
        _ => 64,
    }
}

fn alu_op(op: u8, signed: bool) -> Option<&'static str> {
    Some(match op {
        BPF_ADD => "+=",
        BPF_SUB => "-=",
        BPF_MUL => "*=",
        BPF_DIV if signed => "s/=",
        BPF_DIV => "/=",
        BPF_OR => "|=",
        BPF_AND => "&=",
        BPF_LSH => "<<=",
        BPF_RSH => ">>=",
        BPF_MOD if signed => "s%=",
        BPF_MOD => "%=",
        BPF_XOR => "^=",
        BPF_MOV => "=",
        BPF_ARSH => "s>>=",
        _ => return None,
    })
}

fn format_alu(insn: &Insn) -> String {
    let wide = insn.class() == BPF_ALU64;
    let r = if wide { 'r' } else { 'w' };
    let (dst, src) = (insn.dst_reg(), insn.src_reg());
    let op = insn.code & 0xf0;
    match op {
        BPF_END => {
            // ALU64 BPF_END is the unconditional byte swap (v4); ALU picks the target order.
            let kind = if wide {
                "bswap"
            } else if insn.code & BPF_X != 0 {
                "be"
            } else {
                "le"
            };
            format!("r{dst} = {kind}{} r{dst}", insn.imm)
        }
        BPF_NEG => format!("{r}{dst} = -{r}{dst}"),
        BPF_MOV if insn.code & BPF_X != 0 && insn.off != 0 => {
            if wide && insn.off == 1 {
                // Arena pointer cast (Linux 6.9): imm = dst address space << 16 | src address space.
                format!(
                    "r{dst} = addr_space_cast(r{src}, {}, {})",
                    insn.imm >> 16,
                    insn.imm & 0xffff
                )
            } else {
                format!("{r}{dst} = (s{}){r}{src}", insn.off)
            }
        }
        _ => {
            let signed = matches!(op, BPF_DIV | BPF_MOD) && insn.off == 1;
            let Some(text) = alu_op(op, signed) else {
                return invalid(insn);
            };
            if insn.code & BPF_X != 0 {
                format!("{r}{dst} {text} {r}{src}")
            } else {
                format!("{r}{dst} {text} {}", insn.imm)
            }
        }
    }
}

fn mem(insn: &Insn, reg: u8) -> String {
    format!("({} *)(r{reg} {:+})", size_name(insn.code), insn.off)
}

fn format_ldx(insn: &Insn) -> String {
    let (dst, src) = (insn.dst_reg(), insn.src_reg());
    match insn.code & 0xe0 {
        BPF_MEM => format!("r{dst} = *{}", mem(insn, src)),
        BPF_MEMSX => format!(
            "r{dst} = *(s{} *)(r{src} {:+})",
            size_bits(insn.code),
            insn.off
        ),
        _ => invalid(insn),
    }
}

fn format_st(insn: &Insn) -> String {
    match insn.code & 0xe0 {
        BPF_MEM => format!("*{} = {}", mem(insn, insn.dst_reg()), insn.imm),
        _ => invalid(insn),
    }
}

fn format_stx(insn: &Insn) -> String {
    let (dst, src) = (insn.dst_reg(), insn.src_reg());
    match insn.code & 0xe0 {
        BPF_MEM => format!("*{} = r{src}", mem(insn, dst)),
        BPF_ATOMIC => {
            let wide = insn.code & 0x18 == BPF_DW;
            let prefix = if wide { "atomic64" } else { "atomic" };
            let ptr = mem(insn, dst);
            let op = (insn.imm & !BPF_FETCH) as u8;
            let fetch = insn.imm & BPF_FETCH != 0;
            match insn.imm {
                BPF_XCHG => format!("r{src} = {prefix}_xchg({ptr}, r{src})"),
                BPF_CMPXCHG => format!("r0 = {prefix}_cmpxchg({ptr}, r0, r{src})"),
                BPF_LOAD_ACQ => format!(
                    "r{dst} = load_acquire(({} *)(r{src} {:+}))",
                    size_name(insn.code),
                    insn.off
                ),
                BPF_STORE_REL => format!("store_release({ptr}, r{src})"),
                _ => {
                    let (text, name) = match op {
                        BPF_ADD => ("+=", "add"),
                        BPF_AND => ("&=", "and"),
                        BPF_OR => ("|=", "or"),
                        BPF_XOR => ("^=", "xor"),
                        _ => return invalid(insn),
                    };
                    if fetch {
                        format!("r{src} = {prefix}_fetch_{name}({ptr}, r{src})")
                    } else {
                        format!("lock *{ptr} {text} r{src}")
                    }
                }
            }
        }
        _ => invalid(insn),
    }
}

fn format_jmp(insn: &Insn) -> String {
    let wide = insn.class() == BPF_JMP;
    let r = if wide { 'r' } else { 'w' };
    let (dst, src) = (insn.dst_reg(), insn.src_reg());
    let op = insn.code & 0xf0;
    match op {
        BPF_CALL if wide => match src {
            BPF_PSEUDO_CALL => format!("call pc{:+}", insn.imm),
            BPF_PSEUDO_KFUNC_CALL => format!("call kernel-function#{}", insn.imm),
            _ => match helper_name(insn.imm) {
                Some(name) => format!("call bpf_{name}#{}", insn.imm),
                None => format!("call unknown#{}", insn.imm),
            },
        },
        BPF_EXIT if wide => "exit".to_owned(),
        BPF_JA if wide => format!("goto pc{:+}", insn.off),
        BPF_JA => format!("gotol pc{:+}", insn.imm),
        BPF_JCOND if wide && src == 0 => format!("may_goto pc{:+}", insn.off),
        _ => {
            let cmp = match op {
                BPF_JEQ => "==",
                BPF_JGT => ">",
                BPF_JGE => ">=",
                BPF_JSET => "&",
                BPF_JNE => "!=",
                BPF_JSGT => "s>",
                BPF_JSGE => "s>=",
                BPF_JLT => "<",
                BPF_JLE => "<=",
                BPF_JSLT => "s<",
                BPF_JSLE => "s<=",
                _ => return invalid(insn),
            };
            let mut text = format!("if {r}{dst} {cmp} ");
            // Writing to a String cannot fail.
            let _ = if insn.code & BPF_X != 0 {
                write!(text, "{r}{src}")
            } else {
                write!(text, "{:#x}", insn.imm)
            };
            let _ = write!(text, " goto pc{:+}", insn.off);
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(insns: &[Insn]) -> String {
        Disassembler::new().disassemble(insns).remove(0)
    }

    fn one(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> String {
        let insn = Insn::new(code, dst, src, off, imm);
        Disassembler::new().format(0, &insn, None)
    }

    #[test]
    fn alu() {
        assert_eq!(line(&[Insn::new(0xb7, 0, 0, 0, 0)]), "   0: (b7) r0 = 0");
        assert_eq!(one(0xbf, 1, 2, 0, 0), "r1 = r2");
        assert_eq!(one(0xbc, 1, 2, 0, 0), "w1 = w2");
        assert_eq!(one(0x07, 3, 0, 0, -4), "r3 += -4");
        assert_eq!(one(0x04, 0, 0, 0, 1), "w0 += 1");
        assert_eq!(one(0x0f, 3, 1, 0, 0), "r3 += r1");
        assert_eq!(one(0xc7, 1, 0, 0, 32), "r1 s>>= 32");
        assert_eq!(one(0x87, 0, 0, 0, 0), "r0 = -r0");
        assert_eq!(one(0x84, 0, 0, 0, 0), "w0 = -w0");
        assert_eq!(one(0xa7, 0, 0, 0, 5), "r0 ^= 5");
        assert_eq!(one(0x3f, 1, 2, 1, 0), "r1 s/= r2");
        assert_eq!(one(0x9f, 1, 2, 0, 0), "r1 %= r2");
        assert_eq!(one(0xbf, 1, 2, 8, 0), "r1 = (s8)r2");
        assert_eq!(one(0xbc, 1, 2, 16, 0), "w1 = (s16)w2");
    }

    #[test]
    fn endianness() {
        assert_eq!(one(0xdc, 1, 0, 0, 16), "r1 = be16 r1");
        assert_eq!(one(0xd4, 1, 0, 0, 32), "r1 = le32 r1");
        assert_eq!(one(0xd7, 2, 0, 0, 64), "r2 = bswap64 r2");
    }

    #[test]
    fn memory() {
        assert_eq!(one(0x61, 2, 1, 4, 0), "r2 = *(u32 *)(r1 +4)");
        assert_eq!(one(0x79, 0, 10, -8, 0), "r0 = *(u64 *)(r10 -8)");
        assert_eq!(one(0x71, 0, 1, 0, 0), "r0 = *(u8 *)(r1 +0)");
        assert_eq!(one(0x69, 0, 1, 2, 0), "r0 = *(u16 *)(r1 +2)");
        assert_eq!(one(0x91, 0, 1, 0, 0), "r0 = *(s8 *)(r1 +0)");
        assert_eq!(one(0x63, 10, 1, -4, 0), "*(u32 *)(r10 -4) = r1");
        assert_eq!(one(0x7a, 10, 0, -8, 42), "*(u64 *)(r10 -8) = 42");
        assert_eq!(one(0x20, 0, 0, 0, 12), "r0 = *(u32 *)skb[12]");
        assert_eq!(one(0x48, 0, 1, 0, 2), "r0 = *(u16 *)skb[r1 + 2]");
    }

    #[test]
    fn atomics() {
        assert_eq!(one(0xdb, 1, 2, 0, 0x00), "lock *(u64 *)(r1 +0) += r2");
        assert_eq!(one(0xc3, 1, 2, 8, 0x40), "lock *(u32 *)(r1 +8) |= r2");
        assert_eq!(
            one(0xdb, 1, 2, 0, 0x01),
            "r2 = atomic64_fetch_add((u64 *)(r1 +0), r2)"
        );
        assert_eq!(
            one(0xc3, 1, 2, 0, 0xa1),
            "r2 = atomic_fetch_xor((u32 *)(r1 +0), r2)"
        );
        assert_eq!(
            one(0xdb, 1, 2, 0, 0xe1),
            "r2 = atomic64_xchg((u64 *)(r1 +0), r2)"
        );
        assert_eq!(
            one(0xdb, 1, 2, 0, 0xf1),
            "r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)"
        );
    }

    #[test]
    fn jumps_and_calls() {
        assert_eq!(one(0x15, 1, 0, 3, 0), "if r1 == 0x0 goto pc+3");
        assert_eq!(one(0x55, 1, 0, 3, 0), "if r1 != 0x0 goto pc+3");
        assert_eq!(one(0x2d, 1, 2, -5, 0), "if r1 > r2 goto pc-5");
        assert_eq!(one(0x16, 1, 0, 1, 7), "if w1 == 0x7 goto pc+1");
        assert_eq!(one(0x65, 1, 0, 1, 10), "if r1 s> 0xa goto pc+1");
        assert_eq!(one(0x45, 1, 0, 1, 1), "if r1 & 0x1 goto pc+1");
        assert_eq!(one(0x05, 0, 0, 3, 0), "goto pc+3");
        assert_eq!(one(0x06, 0, 0, 0, -100), "gotol pc-100");
        assert_eq!(
            line(&[Insn::new(0x85, 0, 0, 0, 1)]),
            "   0: (85) call bpf_map_lookup_elem#1"
        );
        assert_eq!(one(0x85, 0, 0, 0, 181), "call bpf_loop#181");
        assert_eq!(one(0x85, 0, 1, 0, 7), "call pc+7");
        assert_eq!(one(0x85, 0, 2, 0, 1234), "call kernel-function#1234");
        assert_eq!(one(0x85, 0, 0, 0, 9999), "call unknown#9999");
        assert_eq!(one(0x95, 0, 0, 0, 0), "exit");
        assert_eq!(one(0xe5, 0, 0, 4, 0), "may_goto pc+4");
    }

    #[test]
    fn ld_imm64() {
        let plain = [
            Insn::new(0x18, 1, 0, 0, 0x5678),
            Insn::new(0, 0, 0, 0, 0x1234),
        ];
        assert_eq!(line(&plain), "   0: (18) r1 = 0x123400005678");
        let map = [Insn::new(0x18, 1, BPF_PSEUDO_MAP_FD, 0, 7), Insn::default()];
        assert_eq!(
            Disassembler::new().disassemble(&map),
            vec!["   0: (18) r1 = map[fd:7]"]
        );
        let named = Disassembler::new().map_name(0, "counts").disassemble(&map);
        assert_eq!(named, vec!["   0: (18) r1 = map[counts]"]);
        let value = [
            Insn::new(0x18, 2, BPF_PSEUDO_MAP_VALUE, 0, 0),
            Insn::new(0, 0, 0, 0, 16),
        ];
        assert_eq!(
            Disassembler::new().map_name(0, ".bss").disassemble(&value),
            vec!["   0: (18) r2 = map[.bss][0]+16"]
        );
        let func = [Insn::new(0x18, 2, BPF_PSEUDO_FUNC, 0, 5), Insn::default()];
        assert_eq!(line(&func), "   0: (18) r2 = func[pc+5]");
        // The second slot has no line of its own; the next instruction keeps its index.
        let prog = [plain[0], plain[1], Insn::new(0x95, 0, 0, 0, 0)];
        assert_eq!(Disassembler::new().disassemble(&prog)[1], "   2: (95) exit");
        assert_eq!(line(&[plain[0]]), "   0: (18) r1 = <truncated ld_imm64>");
    }

    #[test]
    fn invalid_opcodes_do_not_panic() {
        for code in 0..=255u8 {
            for src in [0u8, 1, 2, 15] {
                let insn = Insn::new(code, 1, src, -1, i32::MIN);
                let text = Disassembler::new().format(0, &insn, Some(&insn));
                assert!(!text.is_empty());
            }
        }
        assert_eq!(one(0xff, 0, 0, 0, 0), "invalid opcode 0xff");
    }
}
