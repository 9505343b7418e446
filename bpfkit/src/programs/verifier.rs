//! Verifier rejections: the whole log, summarised for people.

use std::fmt;

use crate::sys::SyscallError;

/// A program the kernel refused to load.
///
/// It carries the whole verifier log; `Display` prints a short summary (the cause and the last
/// meaningful lines) and [`VerifierError::log`] returns everything.
///
/// ```no_run
/// # fn run(ebpf: &mut bpfkit::Ebpf) {
/// match ebpf.load_program("xdp_prog") {
///     Err(bpfkit::programs::ProgramError::Verifier(err)) => {
///         eprintln!("{err}");           // a few lines
///         eprintln!("{}", err.log());   // the whole log
///     }
///     _ => {}
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct VerifierError {
    program: String,
    source: SyscallError,
    log: String,
    log_truncated: bool,
    note: Option<String>,
}

/// How many meaningful lines of the log `Display` shows.
const SUMMARY_LINES: usize = 3;

impl VerifierError {
    pub(crate) fn new(
        program: &str,
        source: SyscallError,
        log: String,
        log_truncated: bool,
    ) -> Self {
        VerifierError {
            program: program.to_string(),
            source,
            log,
            log_truncated,
            note: None,
        }
    }

    /// Adds what bpfkit knows about the failure (e.g. the CO-RE relocation behind a poisoned
    /// instruction), shown first.
    pub(crate) fn with_note(mut self, note: String) -> Self {
        self.note = Some(note);
        self
    }

    /// bpfkit's explanation of the failure, when it has one (an unsatisfied CO-RE relocation).
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    /// The program's name.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// The whole verifier log.
    pub fn log(&self) -> &str {
        &self.log
    }

    /// Whether the kernel cut the log short (it did not fit even the largest buffer).
    pub fn log_truncated(&self) -> bool {
        self.log_truncated
    }

    /// The errno the kernel returned.
    pub fn errno(&self) -> i32 {
        self.source.errno()
    }

    /// The syscall failure behind the rejection.
    pub fn syscall_error(&self) -> &SyscallError {
        &self.source
    }

    /// The meaningful lines at the end of the log: the verifier's statistics lines ("processed N
    /// insns", "verification time", ...) and blank lines are left out, since the cause stands
    /// just before them.
    pub fn summary_lines(&self) -> Vec<&str> {
        let meaningful: Vec<&str> = self
            .log
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.trim().is_empty() && !is_statistics_line(l))
            .collect();
        let start = meaningful.len().saturating_sub(SUMMARY_LINES);
        meaningful[start..].to_vec()
    }

    /// A hint for the rejections whose log says little.
    fn hint(&self) -> Option<&'static str> {
        let errno = self.errno();
        if errno == libc::EPERM && self.log.trim().is_empty() {
            if crate::sys::effective_uid() == 0 {
                return Some(
                    "EPERM with an empty log while running as root: kernel lockdown (see \
                     /sys/kernel/security/lockdown) or a security module forbids this program type",
                );
            }
            return Some(
                "EPERM with an empty log: the process lacks CAP_BPF/CAP_SYS_ADMIN (plus CAP_PERFMON or \
                 CAP_NET_ADMIN for some types), or kernel lockdown forbids this program type",
            );
        }
        if self.log.contains("unknown func") {
            return Some(
                "the program calls a helper this kernel does not have for this program type",
            );
        }
        if self.log.contains("invalid func unknown#195896080") {
            return Some("an unresolved CO-RE relocation was reached");
        }
        None
    }
}

fn is_statistics_line(line: &str) -> bool {
    let line = line.trim_start();
    [
        "processed ",
        "verification time",
        "stack depth",
        "max_states_per_insn",
        "mark_read",
        "peak_states",
    ]
    .iter()
    .any(|prefix| line.starts_with(prefix))
}

impl fmt::Display for VerifierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "program `{}` was rejected by the kernel: {}",
            self.program, self.source.source
        )?;
        if let Some(note) = &self.note {
            write!(f, "\n  {note}")?;
        }
        let lines = self.summary_lines();
        let total = self
            .log
            .lines()
            .filter(|l| !l.trim().is_empty() && !is_statistics_line(l))
            .count();
        for line in &lines {
            write!(f, "\n  {line}")?;
        }
        if total > lines.len() {
            write!(
                f,
                "\n  ({} earlier log lines omitted; VerifierError::log() has them all)",
                total - lines.len()
            )?;
        }
        if self.log_truncated {
            write!(f, "\n  (the kernel truncated the log)")?;
        }
        if let Some(hint) = self.hint() {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for VerifierError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(log: &str, errno: i32) -> VerifierError {
        let source = SyscallError {
            command: "BPF_PROG_LOAD",
            source: std::io::Error::from_raw_os_error(errno),
        };
        VerifierError::new("demo", source, log.to_string(), false)
    }

    #[test]
    fn summary_skips_statistics_and_keeps_the_cause() {
        let log = "func#0 @0\n0: R1=ctx() R10=fp0\n0: (61) r2 = *(u32 *)(r1 +0)\n1: (71) r0 = *(u8 *)(r2 +0)\n\
                   R2 invalid mem access 'scalar'\n\nprocessed 2 insns (limit 1000000) max_states_per_insn 0\n";
        let err = error(log, libc::EACCES);
        let lines = err.summary_lines();
        assert_eq!(
            lines.last().copied(),
            Some("R2 invalid mem access 'scalar'")
        );
        assert_eq!(lines.len(), SUMMARY_LINES);
        let text = err.to_string();
        assert!(text.contains("program `demo` was rejected"), "{text}");
        assert!(text.contains("R2 invalid mem access 'scalar'"), "{text}");
        assert!(text.contains("2 earlier log lines omitted"), "{text}");
        assert_eq!(err.log(), log);
    }

    #[test]
    fn empty_eperm_log_gets_a_hint() {
        let text = error("", libc::EPERM).to_string();
        assert!(text.contains("lockdown"), "{text}");
        assert!(text.contains("hint: EPERM with an empty log"), "{text}");
    }
}
