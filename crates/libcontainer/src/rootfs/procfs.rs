//! A private handle on procfs for the runtime's own writes to /proc (sysctls, oom_score_adj).
//!
//! The container's /proc is a mount inside a mount namespace that the image and, with a joined
//! mount namespace, other containers' processes can shape: a bind mount or a symlink over
//! `/proc/sys/net/ipv4/ip_forward` could turn "write 1 to a sysctl" into "write 1 to
//! /proc/sys/kernel/core_pattern" (the CVE-2025-52881 class). So the init writes through a
//! procfs instance nobody else can see: a fresh, detached one (`fsopen("proc")` + `fsmount`,
//! in the init's pid namespace, attached nowhere), or, where the kernel refuses that, the
//! runtime's own /proc opened before the container's root is entered. Every file is opened
//! beneath that handle without crossing a mount or following a magic link, and checked to be
//! on procfs before a byte is written.

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::fstat;

use super::PROC_SUPER_MAGIC;
use crate::sys;

/// The inode number of the root directory of every procfs instance.
pub const PROC_ROOT_INO: u64 = 1;

/// Where a [`ProcFs`] handle came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcSource {
    /// A new procfs instance made with `fsopen`/`fsmount`, attached to no mount namespace.
    Detached,
    /// The runtime's /proc, opened before the container's root was entered.
    RuntimeMount,
}

/// A handle on the root of a procfs instance the container cannot have tampered with.
#[derive(Debug)]
pub struct ProcFs {
    root: OwnedFd,
    source: ProcSource,
}

/// Why no trustworthy procfs handle could be had.
#[derive(Debug, thiserror::Error)]
pub enum ProcFsError {
    #[error("opening a private procfs instance ({step})")]
    Detached {
        step: &'static str,
        #[source]
        source: Errno,
    },
    #[error("opening the runtime's /proc")]
    Open(#[source] Errno),
    #[error("/proc of the runtime is not the root of a procfs (filesystem magic {magic:#x}, inode {ino})")]
    NotProcfs { magic: i64, ino: u64 },
}

impl ProcFs {
    /// A procfs handle for the calling process: a fresh detached instance (in the caller's pid
    /// namespace) when the kernel allows it, else the `/proc` of the caller's current mount
    /// namespace — which must then still be the runtime's (call this before pivot_root).
    pub fn open() -> Result<ProcFs, ProcFsError> {
        match Self::detached() {
            Ok(p) => Ok(p),
            Err(detached) => {
                log::debug!("{detached}; using the runtime's /proc");
                let fd = nix::fcntl::open(
                    "/proc",
                    OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    nix::sys::stat::Mode::empty(),
                )
                .map_err(ProcFsError::Open)?;
                Self::from_fd(fd, ProcSource::RuntimeMount)
            }
        }
    }

    /// A new procfs instance, attached nowhere (nosuid, nodev, noexec).
    pub fn detached() -> Result<ProcFs, ProcFsError> {
        let step = |step| move |source| ProcFsError::Detached { step, source };
        let ctx = sys::fsopen(c"proc").map_err(step("fsopen"))?;
        sys::fsconfig_create(ctx.as_fd()).map_err(step("fsconfig create"))?;
        let mnt = sys::fsmount(
            ctx.as_fd(),
            sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV | sys::MOUNT_ATTR_NOEXEC,
        )
        .map_err(step("fsmount"))?;
        Self::from_fd(mnt, ProcSource::Detached)
    }

    /// Wrap `fd` after checking that it is the root directory of a procfs.
    pub fn from_fd(fd: OwnedFd, source: ProcSource) -> Result<ProcFs, ProcFsError> {
        let magic = sys::fs_magic(fd.as_fd()).map_err(ProcFsError::Open)?;
        let ino = fstat(fd.as_fd()).map_err(ProcFsError::Open)?.st_ino;
        if magic != PROC_SUPER_MAGIC || ino != PROC_ROOT_INO {
            return Err(ProcFsError::NotProcfs { magic, ino });
        }
        Ok(ProcFs { root: fd, source })
    }

    pub fn source(&self) -> ProcSource {
        self.source
    }

    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// Open `rel` (relative to the procfs root, e.g. `sys/net/ipv4/ip_forward` or
    /// `self/oom_score_adj`) without leaving this procfs mount and without magic links, and
    /// check that what was opened is on procfs.
    pub fn open_file(&self, rel: &Path, flags: OFlag) -> Result<OwnedFd, Errno> {
        let rel = rel.strip_prefix("/").unwrap_or(rel);
        let fd = openat2(
            self.root.as_fd(),
            rel,
            OpenHow::new().flags(flags | OFlag::O_CLOEXEC).resolve(
                ResolveFlag::RESOLVE_BENEATH
                    | ResolveFlag::RESOLVE_NO_XDEV
                    | ResolveFlag::RESOLVE_NO_MAGICLINKS,
            ),
        )?;
        match sys::fs_magic(fd.as_fd())? {
            PROC_SUPER_MAGIC => Ok(fd),
            _ => Err(Errno::EXDEV),
        }
    }

    /// Write `value` to the procfs file `rel` in one write(2), as the kernel expects.
    pub fn write(&self, rel: &Path, value: &[u8]) -> Result<(), Errno> {
        let fd = self.open_file(rel, OFlag::O_WRONLY | OFlag::O_TRUNC)?;
        let n = nix::unistd::write(&fd, value)?;
        if n != value.len() {
            return Err(Errno::EIO);
        }
        Ok(())
    }

    /// Read the procfs file `rel`.
    pub fn read_to_string(&self, rel: &Path) -> Result<String, Errno> {
        let fd = self.open_file(rel, OFlag::O_RDONLY)?;
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::fs::File::from(fd), &mut s)
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
        Ok(s)
    }

    /// Reopen an open file (an `O_PATH` handle, say) with `flags` through this procfs's
    /// `self/fd/N`, never through the container's /proc.
    pub fn reopen(&self, fd: BorrowedFd<'_>, flags: OFlag) -> Result<OwnedFd, Errno> {
        use std::os::fd::AsRawFd;
        let path =
            CString::new(format!("self/fd/{}", fd.as_raw_fd())).map_err(|_| Errno::EINVAL)?;
        nix::fcntl::openat(
            self.root.as_fd(),
            path.as_c_str(),
            flags | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn refuses_what_is_not_the_root_of_a_procfs() {
        // A directory of another filesystem planted where /proc should be.
        let dir = tempfile::tempdir().unwrap();
        let fd = nix::fcntl::open(
            dir.path(),
            OFlag::O_PATH | OFlag::O_DIRECTORY,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap();
        assert!(matches!(
            ProcFs::from_fd(fd, ProcSource::RuntimeMount),
            Err(ProcFsError::NotProcfs { .. })
        ));
        // A subdirectory of a real procfs (a bind of /proc/sys over /proc would look like
        // this): on procfs, but not its root.
        let fd = nix::fcntl::open(
            "/proc/sys",
            OFlag::O_PATH | OFlag::O_DIRECTORY,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap();
        assert!(matches!(
            ProcFs::from_fd(fd, ProcSource::RuntimeMount),
            Err(ProcFsError::NotProcfs { .. })
        ));
    }

    #[test]
    fn files_are_read_beneath_the_handle_only() {
        let fd = nix::fcntl::open(
            "/proc",
            OFlag::O_PATH | OFlag::O_DIRECTORY,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap();
        let p = ProcFs::from_fd(fd, ProcSource::RuntimeMount).unwrap();
        let status = p.read_to_string(Path::new("self/status")).unwrap();
        assert!(status.contains(&format!("Pid:\t{}", std::process::id())));
        // Magic links and escapes are refused.
        assert_eq!(
            p.open_file(Path::new("self/cwd/Cargo.toml"), OFlag::O_RDONLY)
                .unwrap_err(),
            Errno::ELOOP
        );
        assert_eq!(
            p.open_file(Path::new("../etc/hostname"), OFlag::O_RDONLY)
                .unwrap_err(),
            Errno::EXDEV
        );
        assert_eq!(
            p.open_file(&PathBuf::from("/self/status"), OFlag::O_RDONLY)
                .map(drop),
            Ok(())
        );
    }
}
