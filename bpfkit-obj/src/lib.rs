//! bpfkit-obj
pub mod uapi;
pub mod insn;
