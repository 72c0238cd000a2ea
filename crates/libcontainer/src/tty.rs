//! The container's terminal (`process.terminal`): a pty allocated inside the container's own
//! devpts, its master sent to the caller over `--console-socket` with SCM_RIGHTS (as runc
//! does), its slave checked to be a real devpts node before it becomes the process's stdio and
//! /dev/console.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::socket::{connect, socket, AddressFamily, SockFlag, SockType, UnixAddr};
use nix::sys::stat::{fstat, SFlag};

use crate::rootfs::{self, Leaf, DEVPTS_SUPER_MAGIC};
use crate::sys::{self, WinSize};

/// Errors of terminal setup.
#[derive(Debug, thiserror::Error)]
pub enum TtyError {
    #[error("connecting to console socket {path}")]
    Connect {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("process.terminal: {what}")]
    Pty {
        what: &'static str,
        #[source]
        source: Errno,
    },
    #[error("process.terminal: sending the pty master over the console socket")]
    Send(#[source] Errno),
}

/// Connect to the caller's console socket. Done in the runtime's mount namespace, before the
/// container's root is entered; the connected socket is inherited by the init.
pub fn connect_console_socket(path: &Path) -> Result<OwnedFd, TtyError> {
    let err = |source| TtyError::Connect {
        path: path.to_path_buf(),
        source,
    };
    let sock = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(err)?;
    let addr = short_unix_addr(path).map_err(err)?;
    connect(std::os::fd::AsRawFd::as_raw_fd(&sock), &addr).map_err(err)?;
    Ok(sock)
}

/// A unix socket address for `path`; when the path is too long for `sun_path`, go through
/// /proc/self/fd/<dirfd>/<name> (kept short) with the directory held open by the caller's
/// process for the duration of the connect/bind. Returns the address (and leaks no fd: the dir
/// handle is stored in a thread-local for the process lifetime of this short-lived program).
pub fn short_unix_addr(path: &Path) -> Result<UnixAddr, Errno> {
    if path.as_os_str().len() < 100 {
        return UnixAddr::new(path);
    }
    let dir = path.parent().ok_or(Errno::ENAMETOOLONG)?;
    let name = path.file_name().ok_or(Errno::ENAMETOOLONG)?;
    let dfd = nix::fcntl::open(
        dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    let short = PathBuf::from(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&dfd)
    ))
    .join(name);
    let addr = UnixAddr::new(&short)?;
    HELD_DIRS.with(|h| h.borrow_mut().push(dfd));
    Ok(addr)
}

thread_local! {
    static HELD_DIRS: std::cell::RefCell<Vec<OwnedFd>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A pty allocated in the container.
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    /// The slave's path inside the container (/dev/pts/N).
    pub slave_path: PathBuf,
}

/// In the init, after pivot_root: allocate a pty from the container's /dev/ptmx and check that
/// both ends live on a devpts filesystem and the slave is a pty slave device.
pub fn open_pty(root: BorrowedFd<'_>, size: Option<(u16, u16)>) -> Result<Pty, TtyError> {
    let perr = |what| move |source| TtyError::Pty { what, source };
    // Opened directly, confined to the root: reopening an O_PATH handle through
    // /proc/self/fd would trust the container's /proc to resolve it.
    let master = nix::fcntl::openat2(
        root,
        Path::new("dev/ptmx"),
        nix::fcntl::OpenHow::new()
            .flags(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
            .resolve(
                nix::fcntl::ResolveFlag::RESOLVE_IN_ROOT
                    | nix::fcntl::ResolveFlag::RESOLVE_NO_MAGICLINKS,
            ),
    )
    .map_err(perr("opening /dev/ptmx"))?;
    if sys::fs_magic(master.as_fd()).map_err(perr("checking /dev/ptmx"))? != DEVPTS_SUPER_MAGIC {
        return Err(TtyError::Pty {
            what: "/dev/ptmx is not on the container's devpts (mount devpts on /dev/pts)",
            source: Errno::EXDEV,
        });
    }
    sys::unlock_pty(master.as_fd()).map_err(perr("unlocking the pty"))?;
    let slave = sys::open_pty_peer(
        master.as_fd(),
        libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
    )
    .map_err(perr("opening the pty slave"))?;
    let st = fstat(slave.as_fd()).map_err(perr("checking the pty slave"))?;
    let is_chr = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR;
    let major = nix::sys::stat::major(st.st_rdev);
    if !is_chr
        || !(136..=143).contains(&major)
        || sys::fs_magic(slave.as_fd()).map_err(perr("checking the pty slave"))?
            != DEVPTS_SUPER_MAGIC
    {
        return Err(TtyError::Pty {
            what: "the pty slave is not a devpts node",
            source: Errno::EXDEV,
        });
    }
    let index = nix::sys::stat::minor(st.st_rdev) + (major - 136) * 256;
    if let Some((rows, cols)) = size {
        sys::set_winsize(master.as_fd(), WinSize { rows, cols })
            .map_err(perr("setting consoleSize"))?;
    }
    Ok(Pty {
        master,
        slave,
        slave_path: PathBuf::from(format!("/dev/pts/{index}")),
    })
}

/// Send the master to the console socket, with the slave's name as the message (runc's format).
pub fn send_master(socket: BorrowedFd<'_>, pty: &Pty) -> Result<(), TtyError> {
    sys::send_with_fds(
        socket,
        pty.slave_path.as_os_str().as_bytes(),
        &[pty.master.as_fd()],
    )
    .map_err(TtyError::Send)
}

/// Bind the slave onto /dev/console (created if missing) in the current root: from the open
/// slave to the resolved handle on /dev/console, no path in between (the source is the checked
/// devpts node itself, whatever the container did to /dev/pts or /proc — CVE-2025-52565).
pub fn bind_console(root: BorrowedFd<'_>, pty: &Pty) -> Result<(), TtyError> {
    let perr = |what| move |source| TtyError::Pty { what, source };
    let target = rootfs::ensure_in_root(root, Path::new("/dev/console"), Leaf::File)
        .map_err(perr("creating /dev/console"))?;
    rootfs::bind_handle(pty.slave.as_fd(), target.as_fd(), false, 0)
        .map_err(perr("binding the pty onto /dev/console"))
}

/// Make the slave the process's stdio and controlling terminal (the process is a session
/// leader by then).
pub fn make_stdio(slave: BorrowedFd<'_>) -> Result<(), TtyError> {
    let perr = |what| move |source| TtyError::Pty { what, source };
    nix::unistd::dup2_stdin(slave).map_err(perr("making the pty the process's stdin"))?;
    nix::unistd::dup2_stdout(slave).map_err(perr("making the pty the process's stdout"))?;
    nix::unistd::dup2_stderr(slave).map_err(perr("making the pty the process's stderr"))?;
    sys::set_controlling_terminal(slave).map_err(perr("making the pty the controlling terminal"))
}
