//! Protecting the runtime binary from the container (CVE-2019-5736).
//!
//! minke never re-executes itself to become the container's init: the init, the intermediate
//! and `exec`'s child are forks of the runtime process. Until they execve the user program,
//! their `/proc/<pid>/exe` is the runtime's binary, and a process in the container that can
//! open it (a startContainer hook, which runs with the full capability set, or a process with
//! CAP_SYS_PTRACE) holds a handle on the host's binary; once no process executes it any more,
//! reopening that handle for writing (through `/proc/self/fd/N`) would replace the binary the
//! host runs next as root.
//!
//! Two layers stop this:
//! - the runtime is non-dumpable before it forks into the container (`process::parent`), so a
//!   container process without CAP_SYS_PTRACE cannot open `/proc/<pid>/exe` at all;
//! - [`ensure_protected`], called by the binary before a command that enters a container,
//!   re-executes the runtime (same argv and environment) from a file that cannot be written:
//!   the binary seen through a private, read-only overlayfs of its own directory, built with
//!   `fsopen`/`fsmount` and attached nowhere. Nothing is copied; the overlay costs a mount
//!   context and one extra execve (see `docs/security.md` for the measured cost). Where
//!   overlayfs cannot be used, the binary is copied once into a sealed memfd instead.
//!
//! After the re-exec `/proc/self/exe` of every process the runtime forks is that read-only
//! file: opening it for writing fails with EROFS (overlay) or EPERM (sealed memfd).

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag, SealFlag};
use nix::sys::stat::{fstat, Mode};

use crate::sys;

/// The default directory used as the (empty) second layer of the overlay.
pub const DEFAULT_EMPTY_LOWER: &str = "/run/minke-exe-lower";

/// Set across the re-exec so that a process that is still not protected after it fails loudly
/// instead of re-executing forever; removed from the environment right away.
const REEXEC_MARK: &str = "_MINKE_EXE_REEXEC";

const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;
const MFD_EXEC: u32 = 0x10;

/// How the running binary is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// Executed from a read-only overlayfs view of the binary (no copy).
    ReadOnlyOverlay,
    /// Executed from a sealed memfd copy of the binary.
    SealedMemfd,
}

/// Why the binary could not be protected.
#[derive(Debug, thiserror::Error)]
pub enum SelfExeError {
    #[error("inspecting /proc/self/exe")]
    Inspect(#[source] std::io::Error),
    #[error("the runtime binary {0} was deleted or replaced since it was started")]
    Replaced(PathBuf),
    #[error("read-only overlay of {dir} ({step})")]
    Overlay {
        dir: PathBuf,
        step: &'static str,
        #[source]
        source: Errno,
    },
    #[error("{0}: not a root-owned directory, refusing it as the empty overlay layer")]
    BadLowerDir(PathBuf),
    #[error("sealed copy of the runtime binary ({step})")]
    Memfd {
        step: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("re-executing the runtime from its protected copy")]
    Exec(#[source] Errno),
    #[error("the runtime binary is still writable after re-executing from a protected copy")]
    StillWritable,
}

type Result<T, E = SelfExeError> = std::result::Result<T, E>;

/// The protection of the running binary, if any.
pub fn current_protection() -> Result<Option<Protection>> {
    let exe = File::open("/proc/self/exe").map_err(SelfExeError::Inspect)?;
    classify(exe.as_fd()).map_err(|e| SelfExeError::Inspect(e.into()))
}

/// How an open executable is protected (a read-only overlayfs mount, or a write-sealed memfd).
pub fn classify(fd: BorrowedFd<'_>) -> Result<Option<Protection>, Errno> {
    if sys::fs_magic(fd)? == OVERLAYFS_SUPER_MAGIC
        && nix::sys::statvfs::fstatvfs(fd)?
            .flags()
            .contains(nix::sys::statvfs::FsFlags::ST_RDONLY)
    {
        return Ok(Some(Protection::ReadOnlyOverlay));
    }
    let needed = SealFlag::F_SEAL_WRITE | SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW;
    match fcntl(fd, FcntlArg::F_GET_SEALS) {
        Ok(seals) if SealFlag::from_bits_truncate(seals).contains(needed) => {
            Ok(Some(Protection::SealedMemfd))
        }
        _ => Ok(None),
    }
}

/// Does this container need the re-exec of [`ensure_protected`], on top of the runtime being
/// non-dumpable? A non-dumpable process's `/proc/<pid>/exe` can only be opened with
/// CAP_SYS_PTRACE in the user namespace of its memory — the host's, since the runtime's forks
/// carry the runtime's mm. A container with a user namespace of its own never has that; one
/// without has it when:
/// - hooks run inside it before privileges are dropped (createContainer, startContainer: they
///   hold every capability), or
/// - CAP_SYS_PTRACE is in its bounding set (an absent `process.capabilities` means no
///   capabilities at all).
///
/// Pure.
pub fn needed_for(spec: &oci_spec::runtime::Spec) -> bool {
    use oci_spec::runtime::{Capability, LinuxNamespaceType};
    let own_userns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == LinuxNamespaceType::User));
    if own_userns {
        return false;
    }
    let hooks_inside = spec.hooks().as_ref().is_some_and(|h| {
        h.create_container().as_ref().is_some_and(|v| !v.is_empty())
            || h.start_container().as_ref().is_some_and(|v| !v.is_empty())
    });
    if hooks_inside {
        return true;
    }
    // No `process.capabilities` means empty sets, so no CAP_SYS_PTRACE.
    spec.process()
        .as_ref()
        .and_then(|p| p.capabilities().as_ref())
        .and_then(|c| c.bounding().as_ref())
        .is_some_and(|b| b.contains(&Capability::SysPtrace))
}

/// For `exec`: [`needed_for`] of the container's saved config, or the exec'd process is given
/// CAP_SYS_PTRACE (`--cap`) in a container without a user namespace of its own. A container
/// that cannot be loaded gets no process either, so needs no protection.
pub fn needed_for_exec(state_dir: &Path, added_caps: &[String]) -> bool {
    let Ok(spec) = crate::spec::load_copy(&state_dir.join(crate::state::CONFIG_COPY)) else {
        return false;
    };
    if needed_for(&spec) {
        return true;
    }
    let own_userns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| {
            ns.iter()
                .any(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::User)
        });
    !own_userns
        && added_caps.iter().any(|c| {
            c.trim_start_matches("CAP_")
                .eq_ignore_ascii_case("SYS_PTRACE")
        })
}

/// [`needed_for`] of the config.json in `bundle`. A config that cannot be loaded makes no
/// container (create refuses it), so it needs no protection either.
pub fn needed_for_bundle(bundle: &Path) -> bool {
    crate::spec::load(bundle).is_ok_and(|loaded| needed_for(&loaded.spec))
}

/// Return when the running binary is protected; otherwise re-execute it from a protected
/// copy (this function then does not return: the process starts over, protected). The
/// overlay uses `empty_lower`, an empty root-owned directory created if missing, as its
/// second layer (overlayfs needs two read-only layers).
pub fn ensure_protected(empty_lower: &Path) -> Result<Protection> {
    let reexecuted = std::env::var_os(REEXEC_MARK).is_some();
    if reexecuted {
        std::env::remove_var(REEXEC_MARK);
    }
    if let Some(p) = current_protection()? {
        return Ok(p);
    }
    if reexecuted {
        return Err(SelfExeError::StillWritable);
    }
    let exe = match overlay_view(empty_lower) {
        Ok(fd) => fd,
        Err(e) => {
            log::debug!("{}; falling back to a sealed memfd copy", error_chain(&e));
            sealed_copy()?
        }
    };
    Err(reexec(exe.as_fd()))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Execute `exe` with our argv and environment (plus the re-exec mark). Returns only on error.
fn reexec(exe: BorrowedFd<'_>) -> SelfExeError {
    let cstr = |s: &OsStr| CString::new(s.as_bytes()).ok();
    let args: Vec<CString> = std::env::args_os().filter_map(|a| cstr(&a)).collect();
    let mut env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            cstr(&kv)
        })
        .collect();
    env.push(CString::new(format!("{REEXEC_MARK}=1")).expect("no NUL"));
    match nix::unistd::execveat(exe, c"", &args, &env, nix::fcntl::AtFlags::AT_EMPTY_PATH) {
        Ok(never) => match never {},
        Err(e) => SelfExeError::Exec(e),
    }
}

/// Escape a path for overlayfs's `lowerdir` list (`\` and `:` are special there).
fn escape_lowerdir(p: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in p.as_os_str().as_bytes() {
        if b == b'\\' || b == b':' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

/// Create `dir` (mode 0700) if missing and check it is a root-owned directory, not a symlink.
fn prepare_lower(dir: &Path) -> Result<()> {
    match nix::unistd::mkdir(dir, Mode::from_bits_truncate(0o700)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(source) => {
            return Err(SelfExeError::Overlay {
                dir: dir.to_path_buf(),
                step: "creating the empty layer",
                source,
            })
        }
    }
    let md = std::fs::symlink_metadata(dir).map_err(SelfExeError::Inspect)?;
    if !md.is_dir() || md.uid() != 0 {
        return Err(SelfExeError::BadLowerDir(dir.to_path_buf()));
    }
    Ok(())
}

/// An `O_PATH` handle on the binary seen through a new read-only overlayfs of its directory
/// (top layer) and `empty_lower`, mounted nowhere.
pub fn overlay_view(empty_lower: &Path) -> Result<OwnedFd> {
    let exe_path = std::fs::read_link("/proc/self/exe").map_err(SelfExeError::Inspect)?;
    let (Some(dir), Some(name)) = (exe_path.parent(), exe_path.file_name()) else {
        return Err(SelfExeError::Replaced(exe_path));
    };
    let oerr = |step: &'static str| {
        let dir = dir.to_path_buf();
        move |source| SelfExeError::Overlay { dir, step, source }
    };
    prepare_lower(empty_lower)?;
    let ctx = sys::fsopen(c"overlay").map_err(oerr("fsopen"))?;
    let mut lowers = escape_lowerdir(dir);
    lowers.push(b':');
    lowers.extend(escape_lowerdir(empty_lower));
    let lowers = CString::new(lowers).map_err(|_| oerr("lowerdir")(Errno::EINVAL))?;
    sys::fsconfig_set_string(ctx.as_fd(), c"lowerdir", &lowers).map_err(oerr("lowerdir"))?;
    // xino only adds log noise when the layers are on different filesystems; kernels that
    // lack the option do without it.
    let _ = sys::fsconfig_set_string(ctx.as_fd(), c"xino", c"off");
    sys::fsconfig_create(ctx.as_fd()).map_err(oerr("creating the overlay"))?;
    let mnt = sys::fsmount(
        ctx.as_fd(),
        sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NODEV | sys::MOUNT_ATTR_NOSUID,
    )
    .map_err(oerr("fsmount"))?;
    let file = nix::fcntl::openat(
        mnt.as_fd(),
        Path::new(name),
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(oerr("opening the binary in it"))?;
    // The file found there must be the one we run (not something that replaced it in the
    // directory since, nor a file of the same name in the empty layer). overlayfs reports its
    // own device and inode numbers, so compare what it passes through from the lower file.
    let seen = fstat(file.as_fd()).map_err(oerr("checking the binary in it"))?;
    let running = std::fs::metadata("/proc/self/exe").map_err(SelfExeError::Inspect)?;
    if seen.st_size != running.size() as i64
        || seen.st_mtime != running.mtime()
        || seen.st_mtime_nsec != running.mtime_nsec()
    {
        return Err(SelfExeError::Replaced(exe_path));
    }
    Ok(file)
}

/// A sealed (no write, no resize, no further seal changes) memfd copy of the running binary.
pub fn sealed_copy() -> Result<OwnedFd> {
    use nix::sys::memfd::{memfd_create, MFdFlags};
    let merr = |step: &'static str| {
        move |e: Errno| SelfExeError::Memfd {
            step,
            source: e.into(),
        }
    };
    let base = MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING;
    // MFD_EXEC (Linux 6.3) says it is meant to be executed; older kernels refuse the flag.
    let fd = match memfd_create(c"minke", base | MFdFlags::from_bits_retain(MFD_EXEC)) {
        Err(Errno::EINVAL) => memfd_create(c"minke", base),
        other => other,
    }
    .map_err(merr("memfd_create"))?;
    let mut src = File::open("/proc/self/exe").map_err(|source| SelfExeError::Memfd {
        step: "opening /proc/self/exe",
        source,
    })?;
    let mut dst = File::from(fd);
    std::io::copy(&mut src, &mut dst).map_err(|source| SelfExeError::Memfd {
        step: "copying",
        source,
    })?;
    let fd = OwnedFd::from(dst);
    fcntl(
        fd.as_fd(),
        FcntlArg::F_ADD_SEALS(
            SealFlag::F_SEAL_SEAL
                | SealFlag::F_SEAL_SHRINK
                | SealFlag::F_SEAL_GROW
                | SealFlag::F_SEAL_WRITE,
        ),
    )
    .map_err(merr("sealing"))?;
    Ok(fd)
}

#[cfg(test)]
mod tests {

    fn spec(v: serde_json::Value) -> oci_spec::runtime::Spec {
        let mut base = serde_json::json!({
            "ociVersion": "1.3.0", "root": {"path": "r"},
            "process": {"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0},
                        "capabilities": {"bounding": ["CAP_KILL"]}},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}
        });
        for (k, val) in v.as_object().unwrap() {
            base[k] = val.clone();
        }
        crate::spec::parse(base.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn protection_is_needed_only_when_the_binary_is_reachable() {
        // Default-like config: no CAP_SYS_PTRACE, no in-container hooks: non-dumpable suffices.
        assert!(!needed_for(&spec(serde_json::json!({}))));
        // CAP_SYS_PTRACE in the bounding set without a user namespace: reachable.
        let ptrace = serde_json::json!({"process": {"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0},
            "capabilities": {"bounding": ["CAP_SYS_PTRACE"]}}});
        assert!(needed_for(&spec(ptrace.clone())));
        // Capabilities absent: the process gets none.
        let nocaps = serde_json::json!({"process": {"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0}}});
        assert!(!needed_for(&spec(nocaps)));
        // A user namespace of its own: its CAP_SYS_PTRACE does not reach the host's mm.
        let mut userns = ptrace;
        userns["linux"] = serde_json::json!({"namespaces": [{"type": "user"}, {"type": "mount"}],
            "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]});
        assert!(!needed_for(&spec(userns)));
        // Hooks inside the container run with every capability: reachable, unless the
        // container has a user namespace of its own.
        let hooks = serde_json::json!({"hooks": {"startContainer": [{"path": "/bin/true"}]}});
        assert!(needed_for(&spec(hooks.clone())));
        let mut hooks_userns = spec(hooks);
        let userns_linux: oci_spec::runtime::Linux = serde_json::from_value(serde_json::json!({
            "namespaces": [{"type": "user"}, {"type": "mount"}],
            "uidMappings": [{"containerID": 0, "hostID": 0, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": 0, "size": 1}]}))
        .unwrap();
        hooks_userns.set_linux(Some(userns_linux));
        assert!(!needed_for(&hooks_userns));
    }

    use super::*;

    #[test]
    fn lowerdir_escaping() {
        assert_eq!(escape_lowerdir(Path::new("/usr/bin")), b"/usr/bin".to_vec());
        assert_eq!(
            escape_lowerdir(Path::new("/a:b\\c")),
            b"/a\\:b\\\\c".to_vec()
        );
    }

    #[test]
    fn a_plain_file_is_not_protected_and_a_sealed_copy_is() {
        let f = tempfile::tempfile().unwrap();
        assert_eq!(classify(f.as_fd()), Ok(None));
        // The test binary's own sealed copy: writes are refused, whatever the open mode.
        let copy = sealed_copy().unwrap();
        assert_eq!(classify(copy.as_fd()), Ok(Some(Protection::SealedMemfd)));
        let rw = nix::fcntl::open(
            &PathBuf::from(format!(
                "/proc/self/fd/{}",
                std::os::fd::AsRawFd::as_raw_fd(&copy)
            )),
            OFlag::O_RDWR,
            Mode::empty(),
        )
        .unwrap();
        assert_eq!(nix::unistd::write(&rw, b"x"), Err(Errno::EPERM));
        assert_eq!(
            nix::unistd::ftruncate(&rw, 0),
            Err(Errno::EPERM),
            "a sealed copy cannot be truncated"
        );
    }
}
