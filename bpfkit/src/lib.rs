//! bpfkit
pub mod maps;
mod pod;
pub mod sys;
pub use pod::Pod;
