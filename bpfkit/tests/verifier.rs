//! A program the verifier rejects: the error carries the whole log, and its summary the cause.

#[macro_use]
mod common;

use bpfkit::programs::ProgramError;
use bpfkit::{EbpfError, EbpfLoader, VerifierLogLevel};

const CAUSE: &str = "invalid access to packet";

#[test]
fn rejection_carries_the_verifier_log() {
    require_root!();
    let err = EbpfLoader::new()
        .load(&common::object("verifier_reject.bpf.o"))
        .expect_err("the verifier must reject it");
    let EbpfError::Program(ProgramError::Verifier(verifier)) = &err else {
        panic!("expected a verifier error, got {err:?}");
    };
    assert_eq!(verifier.program(), "unchecked_read");
    assert!(verifier.log().contains(CAUSE), "log:\n{}", verifier.log());
    assert_eq!(verifier.errno(), 13, "EACCES");
    // The short form names the program and the cause.
    let summary = err.to_string();
    assert!(
        summary.contains("unchecked_read") && summary.contains(CAUSE),
        "{summary}"
    );
}

#[test]
fn rejection_of_a_program_loaded_later_carries_the_log() {
    require_root!();
    let mut ebpf = EbpfLoader::new()
        .autoload(false)
        .verifier_log_level(VerifierLogLevel::DEBUG)
        .load(&common::object("verifier_reject.bpf.o"))
        .expect("without autoload, nothing is verified yet");
    match ebpf.load_program("unchecked_read") {
        Err(ProgramError::Verifier(verifier)) => {
            assert!(verifier.log().contains(CAUSE), "log:\n{}", verifier.log());
            // With a log level, the log holds the instructions the verifier walked too.
            assert!(
                verifier.log().lines().count() > 2,
                "log:\n{}",
                verifier.log()
            );
        }
        other => panic!("expected a verifier error, got {other:?}"),
    }
    assert!(!ebpf
        .program("unchecked_read")
        .expect("program")
        .data()
        .is_loaded());
}
