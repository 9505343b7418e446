//! What the running kernel supports.
//!
//! For now this is the kernel release, used to decide between an attachment API and its legacy
//! fallback when the kernel's error is ambiguous (EINVAL means both "unknown command" and "bad
//! argument"). Cached per process.

use std::sync::OnceLock;

/// The running kernel's version as (major, minor, patch), from `uname(2)`.
///
/// Returns `(0, 0, 0)` when the release string cannot be read, which makes every
/// [`kernel_at_least`] check false (the fallback paths then run).
pub fn kernel_version() -> (u32, u32, u32) {
    static VERSION: OnceLock<(u32, u32, u32)> = OnceLock::new();
    *VERSION.get_or_init(|| {
        crate::sys::kernel_release()
            .map(|r| parse_release(&r))
            .unwrap_or((0, 0, 0))
    })
}

/// Whether the running kernel is at least `major.minor`.
pub fn kernel_at_least(major: u32, minor: u32) -> bool {
    let (have_major, have_minor, _) = kernel_version();
    (have_major, have_minor) >= (major, minor)
}

/// Parses "6.18.44-fc-v657" into (6, 18, 44); missing parts are 0.
fn parse_release(release: &str) -> (u32, u32, u32) {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().ok());
    let mut next = || parts.next().flatten().unwrap_or(0);
    (next(), next(), next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_release_strings() {
        assert_eq!(parse_release("6.18.44-fc-v657"), (6, 18, 44));
        assert_eq!(parse_release("5.4.0"), (5, 4, 0));
        assert_eq!(parse_release("6.6"), (6, 6, 0));
        assert_eq!(parse_release("garbage"), (0, 0, 0));
    }

    #[test]
    fn running_kernel_has_a_version() {
        assert!(kernel_version().0 >= 3);
    }
}
