//! `run`: create + start, then (in the foreground) wait for the container's init, forwarding
//! the signals the runtime receives to it, and report its exit status.
//!
//! A foreground `run` whose `process.terminal` is true gets no `--console-socket` (runc refuses
//! one there): the runtime keeps the pty itself. The init allocates it inside the container as
//! usual and sends the master over an internal socketpair instead of the console socket; the
//! [`Foreground`] loop then puts the caller's terminal in raw mode, copies both directions,
//! passes window-size changes (SIGWINCH) on to the pty, and restores the terminal when the
//! process has exited. `exec` in the foreground waits through the same loop.

use std::io::{Stdin, Stdout};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::container::{CreateRequest, Error, Runtime, Warnings};
use crate::sys;

/// Signals a foreground runtime forwards to the container process (all but those that cannot
/// be caught, and the job-control/fault signals). SIGCHLD is in the set too: it tells the loop
/// to reap; SIGWINCH resizes the pty instead when the runtime holds one.
fn forwarded() -> SigSet {
    let mut set = SigSet::all();
    for s in [
        Signal::SIGKILL,
        Signal::SIGSTOP,
        Signal::SIGSEGV,
        Signal::SIGBUS,
        Signal::SIGILL,
        Signal::SIGFPE,
        Signal::SIGTRAP,
        Signal::SIGABRT,
        Signal::SIGSYS,
        Signal::SIGTTIN,
        Signal::SIGTTOU,
        Signal::SIGTSTP,
        Signal::SIGCONT,
    ] {
        set.remove(s);
    }
    set
}

fn sys_err(what: &str) -> impl FnOnce(Errno) -> Error + '_ {
    move |source| Error::Sys {
        what: what.to_string(),
        source,
    }
}

/// runc's rule for `--console-socket` (its `checkTerminal`): a detached runtime needs one to hand
/// a pty to, and a foreground one (or a process without a terminal) must not be given one.
pub fn check_terminal(terminal: bool, detach: bool, console_socket: bool) -> Result<(), String> {
    if detach && terminal && !console_socket {
        return Err(
            "cannot allocate tty if minke will detach without setting console socket".into(),
        );
    }
    if (!detach || !terminal) && console_socket {
        return Err("cannot use console socket if minke will not detach or allocate tty".into());
    }
    Ok(())
}

/// Create and start; with `detach` return right away (0), otherwise wait for the init and
/// return its exit status (128 + n when killed by signal n), deleting the container after
/// unless `keep`.
pub fn run(
    rt: &Runtime,
    req: &CreateRequest,
    detach: bool,
    keep: bool,
) -> Result<(i32, Warnings), Error> {
    if !detach && req.options.console_socket.is_some() {
        return Err(Error::Unsupported(
            "cannot use console socket if minke will not detach or allocate tty".into(),
        ));
    }
    let fg = if detach {
        None
    } else {
        Some(Foreground::prepare()?)
    };
    // In the foreground the init sends the pty master (if process.terminal) to us.
    let (ours, theirs) = if detach {
        (None, None)
    } else {
        let (a, b) = console_pair().map_err(sys_err("creating the console socket pair"))?;
        (Some(a), Some(b))
    };
    let (st, warnings) = rt.create_with_console(req, theirs)?;
    // create returned: the master is already queued, or the socket is at end of stream because
    // the process has no terminal.
    let master = match &ours {
        Some(sock) => match receive_master(sock.as_fd()) {
            Ok(m) => m,
            Err(e) => {
                let _ = rt.delete(&req.id, true);
                return Err(sys_err("receiving the pty master from the container")(e));
            }
        },
        None => None,
    };
    drop(ours);
    // Raw mode and the caller's window size before the process starts, so its first look at
    // the terminal already sees them.
    let tty = match master {
        Some(m) => match TtyProxy::new(m) {
            Ok(t) => Some(t),
            Err(e) => {
                let _ = rt.delete(&req.id, true);
                return Err(e);
            }
        },
        None => None,
    };
    if let Err(e) = rt.start(&req.id) {
        drop(tty);
        let _ = rt.delete(&req.id, true);
        return Err(e);
    }
    let Some(fg) = fg else {
        return Ok((0, warnings));
    };
    let status = fg.wait(Pid::from_raw(st.pid), tty)?;
    if !keep {
        rt.delete(&req.id, true)?;
    }
    Ok((status, warnings))
}

/// A socket pair for passing a pty master inside the runtime (close-on-exec both ends): ours
/// (non-blocking) and the one the container process sends on.
pub(crate) fn console_pair() -> Result<(OwnedFd, OwnedFd), Errno> {
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    let fl = fcntl(ours.as_fd(), FcntlArg::F_GETFL)?;
    fcntl(
        ours.as_fd(),
        FcntlArg::F_SETFL(OFlag::from_bits_retain(fl) | OFlag::O_NONBLOCK),
    )?;
    Ok((ours, theirs))
}

/// The master sent on our end of a console pair, or `None` if none was sent. Called once the
/// process that would send it is past that point (the init is ready, the exec'd process is
/// executing), so a master that was sent is already queued.
pub(crate) fn receive_master(sock: BorrowedFd<'_>) -> Result<Option<OwnedFd>, Errno> {
    let mut buf = [0u8; 256];
    match sys::recv_with_fds(sock, &mut buf) {
        Ok(None) | Err(Errno::EAGAIN) => Ok(None),
        Ok(Some((_, fds))) => fds.into_iter().next().map(Some).ok_or(Errno::EBADMSG),
        Err(e) => Err(e),
    }
}

/// The runtime waiting in the foreground for a container process: a subreaper (the process
/// may be a grandchild, reparented to us), with the forwarded signals blocked and read from a
/// signalfd. Make it before the process is started, so no signal is lost in between; the
/// signals stay blocked afterwards (the runtime exits after the wait).
pub(crate) struct Foreground {
    sigfd: SignalFd,
}

impl Foreground {
    pub(crate) fn prepare() -> Result<Foreground, Error> {
        nix::sys::prctl::set_child_subreaper(true).map_err(sys_err("becoming a subreaper"))?;
        let set = forwarded();
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
            .map_err(sys_err("blocking signals"))?;
        let sigfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .map_err(sys_err("signalfd"))?;
        Ok(Foreground { sigfd })
    }

    /// Wait for `target` (our child, or a descendant reparented to us) to exit, forwarding
    /// signals to it; with `tty`, proxy the pty to our stdio meanwhile. Returns its exit
    /// status, 128 + n if a signal n killed it.
    pub(crate) fn wait(&self, target: Pid, mut tty: Option<TtyProxy>) -> Result<i32, Error> {
        loop {
            if let Some(code) = reap(target)? {
                if let Some(t) = tty.as_mut() {
                    t.drain();
                }
                return Ok(code);
            }
            let mut fds = vec![PollFd::new(self.sigfd.as_fd(), PollFlags::POLLIN)];
            let slots = tty.as_ref().map(|t| t.poll_fds(&mut fds));
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(sys_err("waiting for the container process")(e)),
            }
            let revents: Vec<PollFlags> = fds
                .iter()
                .map(|f| f.revents().unwrap_or(PollFlags::empty()))
                .collect();
            drop(fds);
            if !revents[0].is_empty() {
                self.handle_signals(target, tty.as_ref())?;
            }
            if let (Some(t), Some(slots)) = (tty.as_mut(), slots) {
                t.handle(&slots, &revents);
            }
        }
    }

    fn handle_signals(&self, target: Pid, tty: Option<&TtyProxy>) -> Result<(), Error> {
        loop {
            let info = match self.sigfd.read_signal() {
                Ok(Some(i)) => i,
                Ok(None) | Err(Errno::EAGAIN) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(sys_err("reading signals")(e)),
            };
            let signo = info.ssi_signo as i32;
            match (signo, tty) {
                (libc::SIGCHLD, _) => {}
                (libc::SIGWINCH, Some(t)) => t.resize(),
                _ => {
                    if let Ok(sig) = Signal::try_from(signo) {
                        let _ = kill(target, sig);
                    }
                }
            }
        }
    }
}

/// Reap every exited child; the target's exit status if it is among them.
fn reap(target: Pid) -> Result<Option<i32>, Error> {
    loop {
        match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, code)) if p == target => return Ok(Some(code)),
            Ok(WaitStatus::Signaled(p, sig, _)) if p == target => {
                return Ok(Some(128 + sig as i32))
            }
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(_) => continue,
            Err(Errno::ECHILD) => return Ok(None),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(sys_err("waiting for the container")(e)),
        }
    }
}

/// Where the proxy's fds sit in the poll set of one round.
#[derive(Debug, Default)]
struct Slots {
    stdin: Option<usize>,
    master: Option<usize>,
}

/// The size of the caller's terminal (stdin's, else stdout's), if it has one.
pub(crate) fn caller_terminal_size() -> Option<sys::WinSize> {
    let (i, o) = (std::io::stdin(), std::io::stdout());
    sys::get_winsize(i.as_fd())
        .or_else(|_| sys::get_winsize(o.as_fd()))
        .ok()
}

/// Copies between the caller's stdio and the pty master. The master is non-blocking (it is
/// ours alone); stdin and stdout are the caller's open files, so their flags are left alone:
/// stdin is only read when poll says so, and output is written with a poll on EAGAIN.
/// Made, the caller's terminal is raw and the pty has its size; dropped, the terminal is back.
pub(crate) struct TtyProxy {
    master: OwnedFd,
    master_open: bool,
    stdin: Stdin,
    stdout: Stdout,
    stdin_open: bool,
    stdout_ok: bool,
    /// Input read from stdin not yet written to the master.
    pending: Vec<u8>,
    /// The caller's terminal settings, restored on drop (stdin was a terminal).
    saved: Option<Termios>,
}

impl TtyProxy {
    pub(crate) fn new(master: OwnedFd) -> Result<TtyProxy, Error> {
        let fl = fcntl(master.as_fd(), FcntlArg::F_GETFL).map_err(sys_err("pty master flags"))?;
        fcntl(
            master.as_fd(),
            FcntlArg::F_SETFL(OFlag::from_bits_retain(fl) | OFlag::O_NONBLOCK),
        )
        .map_err(sys_err("pty master flags"))?;
        let stdin = std::io::stdin();
        let saved = if nix::unistd::isatty(stdin.as_fd()).unwrap_or(false) {
            let t = tcgetattr(stdin.as_fd()).map_err(sys_err("reading the terminal settings"))?;
            let mut raw = t.clone();
            cfmakeraw(&mut raw);
            tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw)
                .map_err(sys_err("putting the terminal in raw mode"))?;
            Some(t)
        } else {
            None
        };
        let p = TtyProxy {
            master,
            master_open: true,
            stdin,
            stdout: std::io::stdout(),
            stdin_open: true,
            stdout_ok: true,
            pending: Vec::new(),
            saved,
        };
        p.resize();
        Ok(p)
    }

    /// Give the pty the size of the caller's terminal, if it has one.
    fn resize(&self) {
        if let Some(size) = caller_terminal_size() {
            let _ = sys::set_winsize(self.master.as_fd(), size);
        }
    }

    fn poll_fds<'a>(&'a self, fds: &mut Vec<PollFd<'a>>) -> Slots {
        let mut slots = Slots::default();
        if self.stdin_open && self.pending.is_empty() && self.master_open {
            slots.stdin = Some(fds.len());
            fds.push(PollFd::new(self.stdin.as_fd(), PollFlags::POLLIN));
        }
        if self.master_open {
            let mut ev = PollFlags::POLLIN;
            if !self.pending.is_empty() {
                ev |= PollFlags::POLLOUT;
            }
            slots.master = Some(fds.len());
            fds.push(PollFd::new(self.master.as_fd(), ev));
        }
        slots
    }

    fn handle(&mut self, slots: &Slots, revents: &[PollFlags]) {
        if let Some(i) = slots.stdin {
            if !revents[i].is_empty() {
                self.read_stdin();
            }
        }
        if let Some(i) = slots.master {
            let ev = revents[i];
            if ev.contains(PollFlags::POLLOUT) || !self.pending.is_empty() {
                self.flush_input();
            }
            if ev.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
                self.read_master();
            }
        }
    }

    fn read_stdin(&mut self) {
        let mut buf = [0u8; 4096];
        match nix::unistd::read(self.stdin.as_fd(), &mut buf) {
            Ok(0) => self.stdin_open = false,
            Ok(n) => {
                self.pending.extend_from_slice(&buf[..n]);
                self.flush_input();
            }
            Err(Errno::EINTR) | Err(Errno::EAGAIN) => {}
            Err(_) => self.stdin_open = false,
        }
    }

    fn flush_input(&mut self) {
        while !self.pending.is_empty() {
            match nix::unistd::write(self.master.as_fd(), &self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return,
                Err(_) => {
                    self.pending.clear();
                    return;
                }
            }
        }
    }

    /// One read from the master; end of stream (EIO once every slave fd is closed) stops it.
    fn read_master(&mut self) -> bool {
        let mut buf = [0u8; 16384];
        match nix::unistd::read(self.master.as_fd(), &mut buf) {
            Ok(0) | Err(Errno::EIO) => {
                self.master_open = false;
                false
            }
            Ok(n) => {
                self.write_out(&buf[..n]);
                true
            }
            Err(Errno::EINTR) => true,
            Err(Errno::EAGAIN) => false,
            Err(_) => {
                self.master_open = false;
                false
            }
        }
    }

    /// After the process exited: copy what it wrote. Polling the master first makes the kernel
    /// flush the pty's pending input buffer, so nothing written before the exit is lost.
    fn drain(&mut self) {
        while self.master_open {
            let mut fds = [PollFd::new(self.master.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::ZERO) {
                Ok(n) if n > 0 => {}
                Err(Errno::EINTR) => continue,
                _ => return,
            }
            if !self.read_master() {
                return;
            }
        }
    }

    fn write_out(&mut self, mut data: &[u8]) {
        while self.stdout_ok && !data.is_empty() {
            match nix::unistd::write(self.stdout.as_fd(), data) {
                Ok(n) => data = &data[n..],
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => {
                    let mut fds = [PollFd::new(self.stdout.as_fd(), PollFlags::POLLOUT)];
                    let _ = poll(&mut fds, PollTimeout::NONE);
                }
                // The caller's stdout went away: keep waiting for the process, drop its output.
                Err(_) => self.stdout_ok = false,
            }
        }
    }
}

impl Drop for TtyProxy {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = tcsetattr(self.stdin.as_fd(), SetArg::TCSANOW, t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_and_console_socket_rules_are_runcs() {
        assert!(check_terminal(false, false, false).is_ok());
        assert!(check_terminal(true, false, false).is_ok());
        assert!(check_terminal(true, true, true).is_ok());
        assert!(check_terminal(false, true, false).is_ok());
        assert_eq!(
            check_terminal(true, true, false).unwrap_err(),
            "cannot allocate tty if minke will detach without setting console socket"
        );
        for (terminal, detach) in [(true, false), (false, false), (false, true)] {
            assert_eq!(
                check_terminal(terminal, detach, true).unwrap_err(),
                "cannot use console socket if minke will not detach or allocate tty"
            );
        }
    }

    #[test]
    fn forwarded_signals() {
        let s = forwarded();
        assert!(s.contains(Signal::SIGTERM));
        assert!(s.contains(Signal::SIGCHLD));
        assert!(s.contains(Signal::SIGWINCH));
        assert!(!s.contains(Signal::SIGKILL));
        assert!(!s.contains(Signal::SIGTSTP));
    }

    #[test]
    fn master_is_received_or_end_of_stream() {
        let (a, b) = console_pair().unwrap();
        assert!(receive_master(a.as_fd()).unwrap().is_none(), "nothing sent");
        drop(b);
        assert!(
            receive_master(a.as_fd()).unwrap().is_none(),
            "end of stream"
        );
        let (a, b) = console_pair().unwrap();
        let f = std::fs::File::open("/proc/self/stat").unwrap();
        sys::send_with_fds(b.as_fd(), b"/dev/pts/0", &[f.as_fd()]).unwrap();
        assert!(receive_master(a.as_fd()).unwrap().is_some());
    }
}
