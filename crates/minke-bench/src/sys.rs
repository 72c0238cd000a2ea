//! The only module of minke-bench with `unsafe`: thin, documented syscall wrappers that the
//! harness and the floor need and that nix does not offer (clone3 with `CLONE_INTO_CGROUP`,
//! pidfd_open, wait4 with its rusage, the loopback ioctl, a SIGINT flag).
//!
//! Every wrapper has a safe signature: file descriptors come and go as `OwnedFd`/`BorrowedFd`,
//! results as plain Rust values.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Resource usage of a reaped process (and of the descendants it reaped itself), from wait4.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Rusage {
    /// User CPU time.
    pub user: Duration,
    /// System CPU time.
    pub system: Duration,
    /// `ru_maxrss`: the largest resident set, in KiB, of the process over all the images it
    /// executed, or of a descendant it waited for, whichever is larger.
    pub max_rss_kib: u64,
    /// Minor page faults.
    pub minor_faults: u64,
    /// Major page faults.
    pub major_faults: u64,
}

impl Rusage {
    /// User plus system CPU time.
    pub fn cpu(&self) -> Duration {
        self.user + self.system
    }

    /// Minor plus major page faults.
    pub fn faults(&self) -> u64 {
        self.minor_faults + self.major_faults
    }

    fn from_raw(ru: &libc::rusage) -> Rusage {
        fn tv(t: libc::timeval) -> Duration {
            Duration::from_secs(t.tv_sec.max(0) as u64)
                + Duration::from_micros(t.tv_usec.max(0) as u64)
        }
        Rusage {
            user: tv(ru.ru_utime),
            system: tv(ru.ru_stime),
            max_rss_kib: ru.ru_maxrss.max(0) as u64,
            minor_faults: ru.ru_minflt.max(0) as u64,
            major_faults: ru.ru_majflt.max(0) as u64,
        }
    }
}

/// Waits for the child `pid` to terminate and reaps it, returning its exit status and rusage.
pub fn wait4(pid: i32) -> io::Result<(ExitStatus, Rusage)> {
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is a plain C struct of integers for which all-zero bytes is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: wait4(2) writes one c_int to `status` and one `rusage` to `ru`; both pointers
        // come from live, exclusively borrowed locals of the right types.
        let r = unsafe {
            libc::syscall(
                libc::SYS_wait4,
                pid as libc::c_long,
                &mut status as *mut libc::c_int,
                0 as libc::c_long,
                &mut ru as *mut libc::rusage,
            )
        };
        if r >= 0 {
            return Ok((ExitStatus::from_raw(status), Rusage::from_raw(&ru)));
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Reaps one already-terminated child of this process, if there is one, without blocking.
/// Returns its pid.
pub fn reap_any_zombie() -> io::Result<Option<i32>> {
    let mut status: libc::c_int = 0;
    // SAFETY: waitpid(2) writes one c_int through the pointer, which points at a live local.
    let r = unsafe { libc::waitpid(-1, &mut status as *mut libc::c_int, libc::WNOHANG) };
    match r {
        0 => Ok(None),
        r if r > 0 => Ok(Some(r)),
        _ => {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::ECHILD) {
                Ok(None)
            } else {
                Err(err)
            }
        }
    }
}

/// Opens a pidfd for `pid` (pidfd_open(2)); it becomes readable when the process exits.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes two integers and no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::c_long, 0 as libc::c_long) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// clone3's `CLONE_INTO_CGROUP` (include/uapi/linux/sched.h), a 64-bit flag.
pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Which side of a [`clone_process`] call we are on.
#[derive(Debug, PartialEq, Eq)]
pub enum Forked {
    /// The parent, with the child's pid.
    Parent(i32),
    /// The new child process.
    Child,
}

/// Number of threads of the calling process, from `/proc/self/stat`.
fn thread_count() -> io::Result<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Field 20 (num_threads); the fields after the last ')' start at field 3.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    after
        .split_whitespace()
        .nth(17)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "cannot parse /proc/self/stat"))
}

/// Creates a child process like fork(2), with `flags` (`CLONE_NEW*`) given to clone3(2) and, if
/// `cgroup` is a cgroup v2 directory, the child born in that cgroup (`CLONE_INTO_CGROUP`).
/// The child's exit signal is SIGCHLD. Refuses to run in a multi-threaded process, where a
/// forked child could inherit locks held by other threads.
pub fn clone_process(flags: u64, cgroup: Option<BorrowedFd<'_>>) -> io::Result<Forked> {
    if thread_count()? != 1 {
        return Err(io::Error::other(
            "clone_process needs a single-threaded process",
        ));
    }
    let mut all_flags = flags;
    let mut cgroup_fd = 0u64;
    if let Some(fd) = cgroup {
        all_flags |= CLONE_INTO_CGROUP;
        cgroup_fd = fd.as_raw_fd() as u64;
    }
    // SAFETY: clone_args is a plain C struct of integers; all-zero is its documented default.
    let mut args: libc::clone_args = unsafe { std::mem::zeroed() };
    args.flags = all_flags;
    args.exit_signal = libc::SIGCHLD as u64;
    args.cgroup = cgroup_fd;
    // SAFETY: without CLONE_VM and with a zero stack, clone3 behaves like fork: the child runs on
    // a copy-on-write copy of this stack and returns 0 here. `args` is a valid, initialized
    // clone_args whose size we pass. The process is single-threaded (checked above), so the
    // child cannot inherit a lock held by another thread.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut libc::clone_args,
            std::mem::size_of::<libc::clone_args>(),
        )
    };
    match r {
        0 => Ok(Forked::Child),
        pid if pid > 0 => Ok(Forked::Parent(pid as i32)),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Brings the interface `name` (e.g. `lo`) up in the calling process's network namespace, as
/// runc and crun do for the loopback of a new network namespace.
pub fn set_interface_up(socket: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    let bytes = name.to_bytes();
    if bytes.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name too long",
        ));
    }
    // SAFETY: ifreq is a plain C struct/union of integers; all-zero bytes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the NUL-terminated name and writes the flags into the ifreq
    // we own; the descriptor is a live socket borrowed for the call.
    if unsafe {
        libc::ioctl(
            socket.as_raw_fd(),
            libc::SIOCGIFFLAGS,
            &mut req as *mut libc::ifreq,
        )
    } < 0
    {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: after a successful SIOCGIFFLAGS the union holds the flags member.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    req.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
    // SAFETY: SIOCSIFFLAGS reads the ifreq we own; the descriptor is a live borrowed socket.
    if unsafe {
        libc::ioctl(
            socket.as_raw_fd(),
            libc::SIOCSIFFLAGS,
            &req as *const libc::ifreq,
        )
    } < 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A new private mount namespace, a copy of the caller's with `hide` lazily unmounted, kept
/// alive by the returned descriptor (for `setns`). Used to give crun 1.8 the pure-v1 view it
/// needs on a hybrid host without the exec chain of a wrapper script.
pub fn mount_ns_without(hide: &Path) -> io::Result<OwnedFd> {
    use nix::fcntl::OFlag;
    use nix::mount::{mount, umount2, MntFlags, MsFlags};
    let (ready_r, ready_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let (done_r, done_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    match clone_process(libc::CLONE_NEWNS as u64, None)? {
        Forked::Child => {
            drop(ready_r);
            drop(done_w);
            let none: Option<&str> = None;
            let ok = mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none).is_ok()
                && umount2(hide, MntFlags::MNT_DETACH).is_ok();
            let _ = nix::unistd::write(&ready_w, &[u8::from(ok)]);
            let mut byte = [0u8; 1];
            // Returns at EOF, once the parent holds the namespace.
            let _ = nix::unistd::read(&done_r, &mut byte);
            // SAFETY: _exit(2) ends this forked copy at once, without running the atexit
            // handlers or flushing the stdio buffers it shares with the parent.
            unsafe { libc::_exit(0) }
        }
        Forked::Parent(pid) => {
            drop(ready_w);
            drop(done_r);
            let mut byte = [0u8; 1];
            let n = nix::unistd::read(&ready_r, &mut byte)?;
            let ns = if n == 1 && byte[0] == 1 {
                std::fs::File::open(format!("/proc/{pid}/ns/mnt")).map(OwnedFd::from)
            } else {
                Err(io::Error::other(format!(
                    "unmounting {} in a new mount namespace failed",
                    hide.display()
                )))
            };
            drop(done_w);
            wait4(pid)?;
            ns
        }
    }
}

/// Makes `cmd` start through fork + exec with a hook run in the child before exec: `setns`
/// into `mount_ns` when given, nothing otherwise. Every command of the harness goes through
/// this, so that all runtimes are spawned the same way whether or not they need a namespace.
pub fn spawn_in(cmd: &mut Command, mount_ns: Option<Arc<OwnedFd>>) {
    let hook = move || -> io::Result<()> {
        if let Some(ns) = &mount_ns {
            // SAFETY: setns(2) takes a descriptor, kept open by the Arc this closure owns, and a
            // flag; it is async-signal-safe, as code between fork and exec must be.
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNS) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    };
    // SAFETY: the hook runs in the forked child before exec; it allocates nothing and makes at
    // most one async-signal-safe system call.
    unsafe {
        cmd.pre_exec(hook);
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_signal: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Makes SIGINT and SIGTERM set a flag (see [`interrupted`]) instead of killing the process, so
/// that the harness can stop between measurements and clean up what it created.
pub fn catch_interrupts() -> io::Result<()> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let action = SigAction::new(
        SigHandler::Handler(on_interrupt),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { sigaction(signal, &action) }.map_err(io::Error::from)?;
    }
    Ok(())
}

/// Whether SIGINT or SIGTERM arrived since [`catch_interrupts`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_count_sees_the_test_threads() {
        // The test harness runs tests on worker threads, so the count is at least 1.
        assert!(thread_count().unwrap() >= 1);
    }

    #[test]
    #[allow(clippy::zombie_processes)] // reaped by wait4, which clippy does not know
    fn wait4_reports_exit_status_and_cpu() {
        let child = std::process::Command::new("/bin/sh")
            .args(["-c", "exit 3"])
            .spawn()
            .unwrap();
        let (status, usage) = wait4(child.id() as i32).unwrap();
        assert_eq!(status.code(), Some(3));
        assert!(usage.max_rss_kib > 0);
        assert!(usage.minor_faults > 0);
    }

    #[test]
    #[allow(clippy::zombie_processes)] // reaped by wait4, which clippy does not know
    fn pidfd_becomes_readable_when_the_process_exits() {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd;
        let child = std::process::Command::new("/bin/true").spawn().unwrap();
        let fd = pidfd_open(child.id() as i32).unwrap();
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        let n = poll(&mut fds, PollTimeout::from(10_000u16)).unwrap();
        assert_eq!(n, 1);
        let (status, _) = wait4(child.id() as i32).unwrap();
        assert!(status.success());
    }

    #[test]
    fn spawn_in_runs_commands_with_and_without_a_namespace() {
        let mut plain = Command::new("/bin/true");
        spawn_in(&mut plain, None);
        assert!(plain.status().unwrap().success());
        // Entering our own mount namespace is always allowed to root and a no-op.
        if nix::unistd::geteuid().is_root() {
            let own = Arc::new(OwnedFd::from(
                std::fs::File::open("/proc/self/ns/mnt").unwrap(),
            ));
            let mut cmd = Command::new("/bin/true");
            spawn_in(&mut cmd, Some(own));
            assert!(cmd.status().unwrap().success());
        }
    }

    #[test]
    fn clone_process_refuses_a_multithreaded_process() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let helper = std::thread::spawn(move || rx.recv());
        let err = clone_process(0, None).unwrap_err();
        assert!(err.to_string().contains("single-threaded"), "{err}");
        tx.send(()).unwrap();
        helper.join().unwrap().unwrap();
    }
}
