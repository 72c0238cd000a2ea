//! Raw `seccomp(2)`: load a prepared classic-BPF program and probe what the kernel supports.
//!
//! libseccomp can load filters itself, but minke prepends its own `-ENOSYS` prologue to the
//! program libseccomp generates and needs full control over the filter flags (`TSYNC_ESRCH`
//! together with `NEW_LISTENER`, `WAIT_KILLABLE_RECV`), so the final load is done here.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

/// `SECCOMP_SET_MODE_FILTER` operation of `seccomp(2)`.
const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
/// `SECCOMP_GET_ACTION_AVAIL` operation of `seccomp(2)`.
const SECCOMP_GET_ACTION_AVAIL: libc::c_ulong = 2;

/// `SECCOMP_FILTER_FLAG_TSYNC` (Linux 3.17).
pub const FLAG_TSYNC: u32 = 1 << 0;
/// `SECCOMP_FILTER_FLAG_LOG` (Linux 4.14).
pub const FLAG_LOG: u32 = 1 << 1;
/// `SECCOMP_FILTER_FLAG_SPEC_ALLOW` (Linux 4.17).
pub const FLAG_SPEC_ALLOW: u32 = 1 << 2;
/// `SECCOMP_FILTER_FLAG_NEW_LISTENER` (Linux 5.0).
pub const FLAG_NEW_LISTENER: u32 = 1 << 3;
/// `SECCOMP_FILTER_FLAG_TSYNC_ESRCH` (Linux 5.7).
pub const FLAG_TSYNC_ESRCH: u32 = 1 << 4;
/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` (Linux 5.19).
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

/// Why loading a filter failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadError {
    /// `seccomp(2)` failed with this errno.
    Errno(Errno),
    /// With `SECCOMP_FILTER_FLAG_TSYNC`, this thread could not be synchronised.
    ThreadNotSynchronised(i64),
}

/// Install `program` as a seccomp filter of the calling thread (all threads with
/// [`FLAG_TSYNC`]). With [`FLAG_NEW_LISTENER`] the kernel returns the notify fd, given back here.
///
/// Does not allocate: it is meant to run just before `execve`.
pub fn set_mode_filter(
    flags: u32,
    program: &[libc::sock_filter],
) -> Result<Option<OwnedFd>, LoadError> {
    let len = u16::try_from(program.len()).map_err(|_| LoadError::Errno(Errno::E2BIG))?;
    let fprog = libc::sock_fprog {
        len,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: `fprog` points to `program`, which is borrowed for the whole call and holds exactly
    // `len` initialised `sock_filter`s; the kernel only reads them (it copies the program).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            libc::c_ulong::from(flags),
            &fprog as *const libc::sock_fprog,
        )
    };
    if ret < 0 {
        return Err(LoadError::Errno(Errno::last()));
    }
    if flags & FLAG_NEW_LISTENER != 0 {
        let fd = RawFd::try_from(ret).map_err(|_| LoadError::Errno(Errno::EBADF))?;
        // SAFETY: with SECCOMP_FILTER_FLAG_NEW_LISTENER a non-negative return value is a new
        // file descriptor owned by nobody else; we take ownership of it exactly once.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }));
    }
    if ret > 0 {
        // Only TSYNC (without TSYNC_ESRCH) returns a positive value: the failing thread's id.
        return Err(LoadError::ThreadNotSynchronised(ret));
    }
    Ok(None)
}

/// Whether the running kernel knows every bit of `flags` for `SECCOMP_SET_MODE_FILTER`.
///
/// Probes with a NULL program: a kernel that accepts the flags fails the copy with `EFAULT`,
/// one that does not know a flag answers `EINVAL`. Nothing is ever installed.
pub fn filter_flags_supported(flags: u32) -> bool {
    // SAFETY: a NULL program pointer is never dereferenced in user space; the kernel validates
    // the flags and then fails to copy from the NULL address (EFAULT), so no filter is loaded.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            libc::c_ulong::from(flags),
            std::ptr::null::<libc::sock_fprog>(),
        )
    };
    ret < 0 && Errno::last() == Errno::EFAULT
}

/// Whether the running kernel implements the filter return action `action`
/// (a `SECCOMP_RET_*` value), asked with `SECCOMP_GET_ACTION_AVAIL`.
pub fn action_available(action: u32) -> bool {
    // SAFETY: the kernel reads one u32 from the pointer, which points to a live local.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_GET_ACTION_AVAIL,
            0 as libc::c_ulong,
            &action as *const u32,
        )
    };
    ret == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probing_flags_installs_nothing() {
        let filters = || {
            let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
            let line = status.lines().find(|l| l.starts_with("Seccomp_filters:"));
            line.map(str::to_owned)
        };
        let before = filters();
        assert!(filter_flags_supported(FLAG_TSYNC));
        assert!(filter_flags_supported(FLAG_LOG));
        assert!(!filter_flags_supported(1 << 30));
        assert_eq!(filters(), before, "a probe must never install a filter");
    }

    #[test]
    fn allow_action_is_available() {
        assert!(action_available(0x7fff_0000));
        assert!(!action_available(0x1234_0000));
    }
}
