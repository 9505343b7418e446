//! bpfkit
pub mod sys;
