//! The running kernel's release string, from `uname(2)`.

use std::ffi::CStr;
use std::io;

/// The kernel release, e.g. "6.18.44-fc-v657".
pub fn kernel_release() -> io::Result<String> {
    // SAFETY: `utsname` is plain old data, so all-zero bytes are a valid value.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is a valid, writable utsname for the duration of the call.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel NUL-terminates `release` within the array; `from_ptr` reads up to it.
    let release = unsafe { CStr::from_ptr(uts.release.as_ptr()) };
    Ok(release.to_string_lossy().into_owned())
}

/// The process's effective user id.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}
