//! eBPF instructions.
//!
//! [`Insn`] has the kernel's `struct bpf_insn` layout (8 bytes, `#[repr(C)]`), so a slice of them is
//! what `BPF_PROG_LOAD` takes. `ld_imm64` spans two slots; the second carries the high 32 bits.

pub mod disasm;
pub mod helpers;

// Instruction classes (low 3 bits of `code`).
/// Class: non-standard loads (`ld_imm64`, legacy packet access).
pub const BPF_LD: u8 = 0x00;
/// Class: loads from memory into a register.
pub const BPF_LDX: u8 = 0x01;
/// Class: stores of an immediate.
pub const BPF_ST: u8 = 0x02;
/// Class: stores of a register (and atomics).
pub const BPF_STX: u8 = 0x03;
/// Class: 32-bit arithmetic.
pub const BPF_ALU: u8 = 0x04;
/// Class: 64-bit jumps, calls, exit.
pub const BPF_JMP: u8 = 0x05;
/// Class: 32-bit jumps.
pub const BPF_JMP32: u8 = 0x06;
/// Class: 64-bit arithmetic.
pub const BPF_ALU64: u8 = 0x07;

// Size (bits 3-4) of loads and stores.
/// 4 bytes.
pub const BPF_W: u8 = 0x00;
/// 2 bytes.
pub const BPF_H: u8 = 0x08;
/// 1 byte.
pub const BPF_B: u8 = 0x10;
/// 8 bytes.
pub const BPF_DW: u8 = 0x18;

// Mode (bits 5-7) of loads and stores.
/// Immediate (`ld_imm64`).
pub const BPF_IMM: u8 = 0x00;
/// Legacy absolute packet load.
pub const BPF_ABS: u8 = 0x20;
/// Legacy indirect packet load.
pub const BPF_IND: u8 = 0x40;
/// Memory access.
pub const BPF_MEM: u8 = 0x60;
/// Sign-extending memory load.
pub const BPF_MEMSX: u8 = 0x80;
/// Atomic operation.
pub const BPF_ATOMIC: u8 = 0xc0;

// Source operand (bit 3) of ALU and jumps.
/// Operand is `imm`.
pub const BPF_K: u8 = 0x00;
/// Operand is `src_reg`.
pub const BPF_X: u8 = 0x08;

// ALU operations (bits 4-7).
/// `+=`
pub const BPF_ADD: u8 = 0x00;
/// `-=`
pub const BPF_SUB: u8 = 0x10;
/// `*=`
pub const BPF_MUL: u8 = 0x20;
/// `/=`
pub const BPF_DIV: u8 = 0x30;
/// `|=`
pub const BPF_OR: u8 = 0x40;
/// `&=`
pub const BPF_AND: u8 = 0x50;
/// `<<=`
pub const BPF_LSH: u8 = 0x60;
/// `>>=` (logical)
pub const BPF_RSH: u8 = 0x70;
/// `= -dst`
pub const BPF_NEG: u8 = 0x80;
/// `%=`
pub const BPF_MOD: u8 = 0x90;
/// `^=`
pub const BPF_XOR: u8 = 0xa0;
/// `=`
pub const BPF_MOV: u8 = 0xb0;
/// `s>>=` (arithmetic)
pub const BPF_ARSH: u8 = 0xc0;
/// Byte swap.
pub const BPF_END: u8 = 0xd0;

// Jump operations (bits 4-7).
/// Unconditional jump.
pub const BPF_JA: u8 = 0x00;
/// `==`
pub const BPF_JEQ: u8 = 0x10;
/// `>` unsigned
pub const BPF_JGT: u8 = 0x20;
/// `>=` unsigned
pub const BPF_JGE: u8 = 0x30;
/// `&`
pub const BPF_JSET: u8 = 0x40;
/// `!=`
pub const BPF_JNE: u8 = 0x50;
/// `>` signed
pub const BPF_JSGT: u8 = 0x60;
/// `>=` signed
pub const BPF_JSGE: u8 = 0x70;
/// Call.
pub const BPF_CALL: u8 = 0x80;
/// Return.
pub const BPF_EXIT: u8 = 0x90;
/// `<` unsigned
pub const BPF_JLT: u8 = 0xa0;
/// `<=` unsigned
pub const BPF_JLE: u8 = 0xb0;
/// `<` signed
pub const BPF_JSLT: u8 = 0xc0;
/// `<=` signed
pub const BPF_JSLE: u8 = 0xd0;

/// Opcode of `ld_imm64` (`BPF_LD | BPF_IMM | BPF_DW`).
pub const BPF_LD_IMM64: u8 = BPF_LD | BPF_IMM | BPF_DW;

// Atomic operations (in `imm`).
/// Fetch flag: the old value is returned in `src_reg`.
pub const BPF_FETCH: i32 = 0x01;
/// Exchange.
pub const BPF_XCHG: i32 = 0xe0 | BPF_FETCH;
/// Compare and exchange (with `r0`).
pub const BPF_CMPXCHG: i32 = 0xf0 | BPF_FETCH;

/// One eBPF instruction slot, laid out like the kernel's `struct bpf_insn`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Insn {
    /// Opcode: class, size/source, operation.
    pub code: u8,
    /// Destination register in the low nibble, source register in the high nibble.
    pub regs: u8,
    /// Signed offset (jumps, memory accesses).
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

impl Insn {
    /// Size of one instruction slot in bytes.
    pub const SIZE: usize = 8;

    /// Builds an instruction from its parts.
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (dst & 0x0f) | (src << 4),
            off,
            imm,
        }
    }

    /// Destination register.
    pub const fn dst_reg(&self) -> u8 {
        self.regs & 0x0f
    }

    /// Source register (also the pseudo kind of `ld_imm64` and calls).
    pub const fn src_reg(&self) -> u8 {
        self.regs >> 4
    }

    /// Sets the destination register.
    pub fn set_dst_reg(&mut self, reg: u8) {
        self.regs = (self.regs & 0xf0) | (reg & 0x0f);
    }

    /// Sets the source register.
    pub fn set_src_reg(&mut self, reg: u8) {
        self.regs = (self.regs & 0x0f) | (reg << 4);
    }

    /// Decodes one slot from 8 bytes in the given byte order.
    pub fn from_bytes(bytes: [u8; 8], big_endian: bool) -> Insn {
        let (regs, off, imm) = if big_endian {
            // Big-endian objects store dst in the high nibble.
            let r = bytes[1];
            (
                r.rotate_left(4),
                i16::from_be_bytes([bytes[2], bytes[3]]),
                i32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            )
        } else {
            (
                bytes[1],
                i16::from_le_bytes([bytes[2], bytes[3]]),
                i32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            )
        };
        Insn {
            code: bytes[0],
            regs,
            off,
            imm,
        }
    }

    /// Instruction class (`BPF_LD` ... `BPF_ALU64`).
    pub const fn class(&self) -> u8 {
        self.code & 0x07
    }

    /// Whether this is the first slot of an `ld_imm64` (the next slot belongs to it).
    pub const fn is_ld_imm64(&self) -> bool {
        self.code == BPF_LD_IMM64
    }

    /// Whether this is a call to a BPF subprogram (`src_reg = BPF_PSEUDO_CALL`).
    pub const fn is_pseudo_call(&self) -> bool {
        self.code == BPF_JMP | BPF_CALL && self.src_reg() == crate::consts::BPF_PSEUDO_CALL
    }

    /// Decodes a byte slice of whole instructions; `None` when its length is not a multiple of 8.
    pub fn decode_all(bytes: &[u8], big_endian: bool) -> Option<Vec<Insn>> {
        if bytes.len() % Insn::SIZE != 0 {
            return None;
        }
        Some(
            bytes
                .chunks_exact(Insn::SIZE)
                .map(|c| {
                    Insn::from_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]], big_endian)
                })
                .collect(),
        )
    }

    /// Encodes this slot as 8 little-endian bytes.
    pub fn to_le_bytes(&self) -> [u8; 8] {
        let o = self.off.to_le_bytes();
        let i = self.imm.to_le_bytes();
        [self.code, self.regs, o[0], o[1], i[0], i[1], i[2], i[3]]
    }
}
