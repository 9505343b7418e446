//! eBPF instructions.
//!
//! [`Insn`] has the kernel's `struct bpf_insn` layout (8 bytes, `#[repr(C)]`), so a slice of them is
//! what `BPF_PROG_LOAD` takes. `ld_imm64` spans two slots; the second carries the high 32 bits.

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
        Insn { code, regs: (dst & 0x0f) | (src << 4), off, imm }
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
            ((r >> 4) | (r << 4), i16::from_be_bytes([bytes[2], bytes[3]]), i32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]))
        } else {
            (bytes[1], i16::from_le_bytes([bytes[2], bytes[3]]), i32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]))
        };
        Insn { code: bytes[0], regs, off, imm }
    }

    /// Encodes this slot as 8 little-endian bytes.
    pub fn to_le_bytes(&self) -> [u8; 8] {
        let o = self.off.to_le_bytes();
        let i = self.imm.to_le_bytes();
        [self.code, self.regs, o[0], o[1], i[0], i[1], i[2], i[3]]
    }
}
