//! The only module with `unsafe`: thin, documented wrappers over the syscalls that `nix` does not
//! cover (or covers only as `unsafe fn`). Every function here is small, takes owned/borrowed fds
//! rather than raw integers where it can, and has one `// SAFETY:` comment per block.
//!
//! Everything above this module is `#![deny(unsafe_code)]`.

pub mod bpf;
pub mod seccomp;

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::unistd::Pid;

/// The result of a fork-like clone: which side of it we are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    /// In the parent: the child's pid (in the parent's pid namespace).
    Parent(Pid),
    /// In the child.
    Child,
}

/// `clone_args` for clone3(2) (the kernel's `struct clone_args`, version 2 layout).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Fork the calling process with `flags` (namespace `CLONE_NEW*` flags only), optionally straight
/// into the cgroup v2 directory `cgroup` (`CLONE_INTO_CGROUP`). The child continues on a copy of
/// the caller's stack, like fork(2); `SIGCHLD` is delivered to the parent when it exits.
///
/// The caller must be single-threaded: the child is a copy of the calling thread only. minke
/// never starts threads, and this is checked by [`assert_single_threaded`] at the call sites.
pub fn clone_fork(flags: libc::c_int, cgroup: Option<BorrowedFd<'_>>) -> Result<Forked, Errno> {
    let mut args = CloneArgs {
        flags: flags as u32 as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd.as_raw_fd() as u64;
    }
    // SAFETY: clone3 with a NULL stack behaves like fork(2): the child runs on a copy-on-write copy
    // of the caller's memory, including the stack, and returns 0 here. `args` is a valid, fully
    // initialised clone_args of the size we pass. The caller guarantees the process is
    // single-threaded, so no lock can be held by another thread at the time of the copy.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        -1 => {
            let err = Errno::last();
            if err == Errno::ENOSYS && cgroup.is_none() {
                return clone_fork_legacy(flags);
            }
            Err(err)
        }
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(Pid::from_raw(pid as i32))),
    }
}

fn clone_fork_legacy(flags: libc::c_int) -> Result<Forked, Errno> {
    // SAFETY: the raw clone syscall with a NULL stack is fork(2) with namespace flags; see
    // `clone_fork` for why the copy is sound (single-threaded caller).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
            0 as libc::c_ulong,
        )
    };
    match ret {
        -1 => Err(Errno::last()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(Pid::from_raw(pid as i32))),
    }
}

/// Plain fork(2) of a single-threaded process.
pub fn fork() -> Result<Forked, Errno> {
    clone_fork(0, None)
}

/// Fail loudly if the process has more than one thread: forking then would copy only this
/// thread and could leave locks held forever in the child.
pub fn assert_single_threaded() -> Result<(), Errno> {
    match std::fs::read_dir("/proc/self/task") {
        Ok(dir) => {
            if dir.count() > 1 {
                Err(Errno::EDEADLK)
            } else {
                Ok(())
            }
        }
        Err(_) => Ok(()),
    }
}

/// Leave the process immediately with `code`, without running atexit handlers or flushing stdio
/// buffers that were copied from the parent at fork time.
pub fn exit_immediately(code: i32) -> ! {
    // SAFETY: _exit(2) never returns and touches no memory of ours.
    unsafe { libc::_exit(code) }
}

/// close_range(2): close, or with `cloexec` mark close-on-exec, every fd in `first..=last`.
pub fn close_range(first: u32, last: u32, cloexec: bool) -> Result<(), Errno> {
    let flags: libc::c_uint = if cloexec {
        libc::CLOSE_RANGE_CLOEXEC
    } else {
        0
    };
    // SAFETY: close_range only affects this process's fd table; the caller decides which fds it
    // no longer uses, and no Rust object owns an fd in the range it closes (documented contract
    // of the callers, which only pass ranges that exclude the fds they keep).
    let ret = unsafe { libc::syscall(libc::SYS_close_range, first, last, flags) };
    Errno::result(ret).map(drop)
}

/// pidfd_open(2).
pub fn pidfd_open(pid: Pid) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open takes a pid and flags by value and returns a new fd or -1.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    let fd = Errno::result(ret)? as RawFd;
    // SAFETY: on success the kernel returned a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// pidfd_send_signal(2).
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, signal: i32) -> Result<(), Errno> {
    // SAFETY: the pidfd is a valid open fd for the duration of the call, info is NULL (the kernel
    // fills in a siginfo as kill(2) would), flags are 0.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    Errno::result(ret).map(drop)
}

/// setdomainname(2) (nix only wraps sethostname).
pub fn setdomainname(name: &str) -> Result<(), Errno> {
    // SAFETY: the pointer and length describe `name`'s bytes, valid for the call.
    let ret = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    Errno::result(ret).map(drop)
}

/// keyctl(KEYCTL_JOIN_SESSION_KEYRING, name): join or create a named session keyring.
pub fn join_session_keyring(name: &CStr) -> Result<(), Errno> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_int = 1;
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call; the other
    // arguments are unused by this keyctl operation.
    let ret =
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    Errno::result(ret).map(drop)
}

/// ioctl(TIOCGPTPEER): open the slave of a pty master without a path lookup.
pub fn open_pty_peer(master: BorrowedFd<'_>, flags: libc::c_int) -> Result<OwnedFd, Errno> {
    const TIOCGPTPEER: libc::c_ulong = 0x5441;
    // SAFETY: TIOCGPTPEER takes the open flags by value and returns a new fd or -1.
    let ret = unsafe { libc::ioctl(master.as_raw_fd(), TIOCGPTPEER as _, flags) };
    let fd = Errno::result(ret)?;
    // SAFETY: on success the kernel returned a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// ioctl(TIOCSPTLCK, 0): unlock a pty master's slave.
pub fn unlock_pty(master: BorrowedFd<'_>) -> Result<(), Errno> {
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int through the pointer, which points to a live local.
    let ret = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK as _, &unlock) };
    Errno::result(ret).map(drop)
}

/// ioctl(TIOCSCTTY): make the terminal on `fd` the controlling terminal of this session.
pub fn set_controlling_terminal(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: TIOCSCTTY takes an int argument by value (0: do not steal).
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY as _, 0) };
    Errno::result(ret).map(drop)
}

/// Terminal window size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WinSize {
    pub rows: u16,
    pub cols: u16,
}

/// ioctl(TIOCSWINSZ).
pub fn set_winsize(fd: BorrowedFd<'_>, size: WinSize) -> Result<(), Errno> {
    let ws = libc::winsize {
        ws_row: size.rows,
        ws_col: size.cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a struct winsize through the pointer, which points to a live local.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ as _, &ws) };
    Errno::result(ret).map(drop)
}

/// ioctl(TIOCGWINSZ).
pub fn get_winsize(fd: BorrowedFd<'_>) -> Result<WinSize, Errno> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a struct winsize through the pointer, which points to a live local.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ as _, &mut ws) };
    Errno::result(ret)?;
    Ok(WinSize {
        rows: ws.ws_row,
        cols: ws.ws_col,
    })
}

/// setresuid(2) / setresgid(2) are in nix; setgroups too. The raw syscall variants below are used
/// instead of libc's wrappers because glibc's set*id broadcast to all threads (via a signal), which
/// is pointless in a single-threaded init and would be wrong if used between clone and exec.
pub fn raw_setresuid(uid: u32) -> Result<(), Errno> {
    // SAFETY: the raw syscall takes three ids by value.
    let ret = unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) };
    Errno::result(ret).map(drop)
}

/// See [`raw_setresuid`].
pub fn raw_setresgid(gid: u32) -> Result<(), Errno> {
    // SAFETY: the raw syscall takes three ids by value.
    let ret = unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) };
    Errno::result(ret).map(drop)
}

/// See [`raw_setresuid`].
pub fn raw_setgroups(groups: &[u32]) -> Result<(), Errno> {
    // SAFETY: the pointer and length describe a live slice of gid_t-sized ids.
    let ret = unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) };
    Errno::result(ret).map(drop)
}

/// umask(2), which cannot fail.
pub fn set_umask(mask: u32) {
    // SAFETY: umask takes a mode by value and cannot fail.
    unsafe {
        libc::umask(mask as libc::mode_t);
    }
}

/// A signal set with every signal, for blocking them all around a critical window.
pub fn block_all_signals() -> Result<libc::sigset_t, Errno> {
    // SAFETY: sigset_t is plain data; sigfillset initialises it fully before use, and
    // sigprocmask writes the previous mask into a live local.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        Errno::result(libc::sigprocmask(libc::SIG_SETMASK, &all, &mut old))?;
        Ok(old)
    }
}

/// Restore a signal mask returned by [`block_all_signals`].
pub fn restore_signals(old: &libc::sigset_t) -> Result<(), Errno> {
    // SAFETY: `old` is a sigset previously filled in by sigprocmask.
    let ret = unsafe { libc::sigprocmask(libc::SIG_SETMASK, old, std::ptr::null_mut()) };
    Errno::result(ret).map(drop)
}

/// Reset every signal disposition to its default and unblock every signal (the runtime may have
/// blocked some to read them from a signalfd; the mask would survive execve).
pub fn reset_signal_dispositions() {
    // SAFETY: an empty sigset_t initialised by sigemptyset; sigprocmask reads it.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
    for sig in 1..libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: setting SIG_DFL for a valid signal number has no memory effects; invalid
        // numbers (the glibc-reserved RT signals) fail with EINVAL, which we ignore.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
}

/// mount_setattr(2) with a `struct mount_attr`.
pub fn mount_setattr(
    dirfd: BorrowedFd<'_>,
    path: &CStr,
    flags: u32,
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: Option<BorrowedFd<'_>>,
) -> Result<(), Errno> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let mut attr = MountAttr {
        attr_set,
        attr_clr,
        propagation,
        userns_fd: userns_fd.map(|fd| fd.as_raw_fd() as u64).unwrap_or(0),
    };
    // SAFETY: dirfd and path are valid for the call; `attr` is a live, fully initialised
    // struct mount_attr whose size we pass.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd.as_raw_fd(),
            path.as_ptr(),
            flags,
            &mut attr as *mut MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(ret).map(drop)
}

/// open_tree(2): get a detached (with `OPEN_TREE_CLONE`) copy of a mount tree as an fd.
pub fn open_tree(dirfd: BorrowedFd<'_>, path: &CStr, flags: u32) -> Result<OwnedFd, Errno> {
    // SAFETY: dirfd and path are valid for the call; flags are passed by value.
    let ret =
        unsafe { libc::syscall(libc::SYS_open_tree, dirfd.as_raw_fd(), path.as_ptr(), flags) };
    let fd = Errno::result(ret)? as RawFd;
    // SAFETY: on success the kernel returned a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// move_mount(2).
pub fn move_mount(
    from_dirfd: BorrowedFd<'_>,
    from_path: &CStr,
    to_dirfd: BorrowedFd<'_>,
    to_path: &CStr,
    flags: u32,
) -> Result<(), Errno> {
    // SAFETY: both fds and paths are valid for the duration of the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from_dirfd.as_raw_fd(),
            from_path.as_ptr(),
            to_dirfd.as_raw_fd(),
            to_path.as_ptr(),
            flags,
        )
    };
    Errno::result(ret).map(drop)
}

/// The start time of the calling process's clock for `CLOCK_BOOTTIME`-like comparisons is not
/// needed; `sysconf(_SC_CLK_TCK)` converts /proc/<pid>/stat start times to seconds.
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf takes a constant by value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as u64
    } else {
        100
    }
}

/// Does `fd` refer to a file on a filesystem with this `statfs` magic?
pub fn fs_magic(fd: BorrowedFd<'_>) -> Result<i64, Errno> {
    let st = nix::sys::statfs::fstatfs(fd)?;
    Ok(st.filesystem_type().0 as i64)
}

/// Send one datagram with `fds` attached as SCM_RIGHTS on a SOCK_SEQPACKET/DGRAM socket.
pub fn send_with_fds(
    sock: BorrowedFd<'_>,
    data: &[u8],
    fds: &[BorrowedFd<'_>],
) -> Result<(), Errno> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let iov = [std::io::IoSlice::new(data)];
    let cmsgs: Vec<ControlMessage<'_>> = if raw.is_empty() {
        vec![]
    } else {
        vec![ControlMessage::ScmRights(&raw)]
    };
    loop {
        match sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(_) => return Ok(()),
        }
    }
}

/// Receive one datagram and any fds attached to it (as close-on-exec `OwnedFd`s).
/// Returns `None` at end of stream.
pub fn recv_with_fds(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
) -> Result<Option<(usize, Vec<OwnedFd>)>, Errno> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut cmsg = nix::cmsg_space!([RawFd; 8]);
    loop {
        let mut iov = [std::io::IoSliceMut::new(buf)];
        let res = recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        );
        let msg = match res {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(m) => m,
        };
        let n = msg.bytes;
        let mut fds = Vec::new();
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(list) = c {
                for fd in list {
                    // SAFETY: the kernel just installed these fds in our table for this
                    // message; nothing else refers to them, so we take ownership.
                    fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
                }
            }
        }
        if msg.flags.contains(MsgFlags::MSG_TRUNC) || msg.flags.contains(MsgFlags::MSG_CTRUNC) {
            return Err(Errno::EMSGSIZE);
        }
        if n == 0 && fds.is_empty() {
            return Ok(None);
        }
        return Ok(Some((n, fds)));
    }
}

/// capset(2) of the calling thread's effective, permitted and inheritable sets at once (64-bit
/// masks), so the kernel checks the three new sets together.
pub fn capset(effective: u64, permitted: u64, inheritable: u64) -> Result<(), Errno> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut hdr = Header {
        version: VERSION_3,
        pid: 0,
    };
    let data = [
        Data {
            effective: effective as u32,
            permitted: permitted as u32,
            inheritable: inheritable as u32,
        },
        Data {
            effective: (effective >> 32) as u32,
            permitted: (permitted >> 32) as u32,
            inheritable: (inheritable >> 32) as u32,
        },
    ];
    // SAFETY: header and data are live, correctly laid out (version 3 takes two data structs)
    // for the duration of the call; the kernel only reads them.
    let ret = unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut Header, data.as_ptr()) };
    Errno::result(ret).map(drop)
}

/// accept4(2) with SOCK_CLOEXEC, retrying on EINTR.
pub fn accept_cloexec(listener: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    loop {
        match nix::sys::socket::accept4(
            listener.as_raw_fd(),
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        ) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            // SAFETY: accept4 returned a fresh fd that nothing else owns.
            Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd) }),
        }
    }
}

/// Install, for the usual termination signals, a handler that exits the process with
/// 128 + signal. Used by the container init while it waits for `start`: as pid 1 of its pid
/// namespace it would otherwise ignore every signal but SIGKILL, and `kill <id> TERM` of a
/// created container must stop it (as it does with runc).
pub fn exit_on_termination_signals() -> Result<(), Errno> {
    extern "C" fn on_signal(sig: libc::c_int) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(128 + sig) }
    }
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::all(),
    );
    for sig in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGALRM,
    ] {
        // SAFETY: the handler only calls _exit, which is async-signal-safe, and touches no
        // shared state.
        unsafe { sigaction(sig, &action) }?;
    }
    Ok(())
}

/// setrlimit(2) by raw resource number.
pub fn setrlimit(resource: u32, soft: u64, hard: u64) -> Result<(), Errno> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `lim` is a live, initialised struct for the duration of the call.
    let ret = unsafe { libc::setrlimit(resource as _, &lim) };
    Errno::result(ret).map(drop)
}

/// `struct sched_attr` for sched_setattr(2) (version SCHED_ATTR_SIZE_VER1, with util clamps).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SchedAttr {
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
}

/// sched_setattr(2) for the calling thread.
pub fn sched_setattr(attr: &SchedAttr) -> Result<(), Errno> {
    #[repr(C)]
    struct Raw {
        size: u32,
        sched_policy: u32,
        sched_flags: u64,
        sched_nice: i32,
        sched_priority: u32,
        sched_runtime: u64,
        sched_deadline: u64,
        sched_period: u64,
        sched_util_min: u32,
        sched_util_max: u32,
    }
    let mut raw = Raw {
        size: std::mem::size_of::<Raw>() as u32,
        sched_policy: attr.policy,
        sched_flags: attr.flags,
        sched_nice: attr.nice,
        sched_priority: attr.priority,
        sched_runtime: attr.runtime,
        sched_deadline: attr.deadline,
        sched_period: attr.period,
        sched_util_min: 0,
        sched_util_max: 1024,
    };
    // SAFETY: `raw` is a live, fully initialised struct sched_attr whose size field matches
    // its layout; the kernel only reads it. pid 0 is the calling thread, flags 0.
    let ret = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &mut raw as *mut Raw, 0) };
    Errno::result(ret).map(drop)
}

/// ioprio_set(IOPRIO_WHO_PROCESS, 0, ioprio) for the calling process.
pub fn ioprio_set(class: u32, level: u32) -> Result<(), Errno> {
    const IOPRIO_WHO_PROCESS: libc::c_int = 1;
    let value = ((class & 0x7) << 13) | (level & 0x1fff);
    // SAFETY: ioprio_set takes three integers by value.
    let ret = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    Errno::result(ret).map(drop)
}

/// personality(2): set the execution domain (and flags) of the calling process.
pub fn set_personality(persona: libc::c_ulong) -> Result<(), Errno> {
    // SAFETY: personality takes an integer by value.
    let ret = unsafe { libc::personality(persona) };
    Errno::result(ret).map(drop)
}

/// set_mempolicy(2) with a node bit mask (`maxnode` = the mask's bit count).
pub fn set_mempolicy(mode: i32, nodemask: &[libc::c_ulong]) -> Result<(), Errno> {
    let maxnode = (nodemask.len() * libc::c_ulong::BITS as usize) as libc::c_ulong;
    let ptr = if nodemask.is_empty() {
        std::ptr::null()
    } else {
        nodemask.as_ptr()
    };
    // SAFETY: the pointer and bit count describe a live slice (or NULL with 0 bits); the
    // kernel only reads it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_set_mempolicy,
            mode,
            ptr,
            if nodemask.is_empty() { 0 } else { maxnode + 1 },
        )
    };
    Errno::result(ret).map(drop)
}

/// keyctl(KEYCTL_SETPERM) on the session keyring.
pub fn session_keyring_setperm(perm: u32) -> Result<(), Errno> {
    const KEYCTL_SETPERM: libc::c_int = 5;
    const KEY_SPEC_SESSION_KEYRING: libc::c_int = -3;
    // SAFETY: keyctl with integer arguments only.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_SETPERM,
            KEY_SPEC_SESSION_KEYRING,
            perm,
        )
    };
    Errno::result(ret).map(drop)
}
