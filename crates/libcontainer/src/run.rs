//! `run`: create + start, then (in the foreground) wait for the container's init, forwarding
//! the signals the runtime receives to it, and report its exit status.

use nix::errno::Errno;
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::container::{CreateRequest, Error, Runtime, Warnings};

/// Signals a foreground `run` forwards to the container (all but those that cannot be caught,
/// SIGCHLD which tells us about the init, and the job-control/fault signals).
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

/// Create and start; with `detach` return right away (0), otherwise wait for the init and
/// return its exit status (128 + n when killed by signal n), deleting the container after
/// unless `keep`.
pub fn run(
    rt: &Runtime,
    req: &CreateRequest,
    detach: bool,
    keep: bool,
) -> Result<(i32, Warnings), Error> {
    let mut sigfd = None;
    if !detach {
        // The init is our child (or, through an intermediate, reparented to us).
        nix::sys::prctl::set_child_subreaper(true).map_err(sys_err("becoming a subreaper"))?;
        let set = forwarded();
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
            .map_err(sys_err("blocking signals"))?;
        sigfd =
            Some(SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC).map_err(sys_err("signalfd"))?);
    }
    let (st, warnings) = rt.create(req)?;
    if let Err(e) = rt.start(&req.id) {
        let _ = rt.delete(&req.id, true);
        return Err(e);
    }
    let Some(sigfd) = sigfd else {
        return Ok((0, warnings));
    };
    let init = Pid::from_raw(st.pid);
    let status = loop {
        if let Some(code) = reap(init)? {
            break code;
        }
        let info = match sigfd.read_signal() {
            Ok(Some(i)) => i,
            Ok(None) | Err(Errno::EINTR) | Err(Errno::EAGAIN) => continue,
            Err(e) => return Err(sys_err("reading signals")(e)),
        };
        let signo = info.ssi_signo as i32;
        if signo != libc::SIGCHLD {
            if let Ok(sig) = Signal::try_from(signo) {
                let _ = kill(init, sig);
            }
        }
    };
    if !keep {
        rt.delete(&req.id, true)?;
    }
    Ok((status, warnings))
}

/// Reap every exited child; the init's exit status if it is among them.
fn reap(init: Pid) -> Result<Option<i32>, Error> {
    loop {
        match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, code)) if p == init => return Ok(Some(code)),
            Ok(WaitStatus::Signaled(p, sig, _)) if p == init => return Ok(Some(128 + sig as i32)),
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(_) => continue,
            Err(Errno::ECHILD) => return Ok(None),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(sys_err("waiting for the container")(e)),
        }
    }
}
