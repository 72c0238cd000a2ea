//! The container's init, from clone to execve.
//!
//! ```text
//!  parent (create/run)                         child (init, new namespaces)
//!  ───────────────────                         ────────────────────────────
//!  mkdir cgroups + limits
//!  clone3(CLONE_NEW*, INTO_CGROUP v2) ───────▶ Join::SelfTasks: write 0 to each v1 `tasks`
//!  Join::ParentProcs: write pid to                Join::ParentProcs: wait on `go`
//!  v1 cgroup.procs, then `go` ───────────────▶
//!                                              unshare(cgroup ns) if asked
//!                                              lo up, hostname, mounts, devices,
//!                                              pivot_root, masked/ro paths, ro root,
//!                                              rlimits, ids, caps, nnp, seccomp build
//!  read `report` until EOF ◀─────────────────── report: 0 = ready, else the error
//!  save state, pid file, exit (create)          create: open exec.fifo for writing,
//!                                                      blocks until `start` reads it
//!                                              seccomp load, execve
//! ```

use std::ffi::CString;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::sched::{unshare, CloneFlags};
use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
use nix::unistd::sethostname;
use thiserror::Error;

use super::cgroups::{self, CgroupError, Placement};
use super::plan::Plan;
use super::process::{self, ProcessError};
use super::rootfs::{self, RootfsError};

/// Errors of the init's setup.
#[derive(Debug, Error)]
pub enum InitError {
    /// The parent went away before saying `go`.
    #[error("the parent exited before placing the init in its cgroups")]
    NoGo,
    /// Reading `go` failed.
    #[error("waiting for the parent")]
    Go(#[source] std::io::Error),
    /// unshare of the cgroup namespace failed.
    #[error("linux.namespaces: unsharing the cgroup namespace")]
    CgroupNs(#[source] nix::Error),
    /// Bringing the loopback up failed.
    #[error("linux.namespaces: bringing lo up in the new network namespace")]
    Loopback(#[source] std::io::Error),
    /// sethostname failed.
    #[error("hostname: setting it")]
    Hostname(#[source] nix::Error),
    /// Rootfs setup.
    #[error(transparent)]
    Rootfs(#[from] RootfsError),
    /// Process setup.
    #[error(transparent)]
    Process(#[from] ProcessError),
    /// Joining the v1 cgroups failed.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// Waiting on exec.fifo failed.
    #[error("waiting for start on exec.fifo")]
    Fifo(#[source] std::io::Error),
}

/// The init's ends of its channels to the parent.
pub struct Channels {
    /// Read end of `go`, when the parent moves the init into its v1 cgroups after the clone.
    pub go: Option<OwnedFd>,
    /// The init moves itself into its v1 cgroups ([`super::cgroups::Join::SelfTasks`]).
    pub self_join: bool,
    /// Write end of `report`.
    pub report: OwnedFd,
    /// An O_PATH descriptor of exec.fifo (create), or `None` (run).
    pub fifo: Option<OwnedFd>,
}

/// The error and its causes on one line, `a: b: c`.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn setup(
    plan: &Plan,
    cgroups: &[Placement],
    go: Option<OwnedFd>,
    self_join: bool,
) -> Result<Option<libseccomp::ScmpFilterContext>, InitError> {
    if self_join {
        cgroups::join_self_v1(cgroups)?;
    }
    if let Some(go) = go {
        let mut byte = [0u8; 1];
        let n = std::fs::File::from(go)
            .read(&mut byte)
            .map_err(InitError::Go)?;
        if n != 1 {
            return Err(InitError::NoGo);
        }
    }
    if plan.cgroup_ns {
        unshare(CloneFlags::CLONE_NEWCGROUP).map_err(InitError::CgroupNs)?;
    }
    if plan.clone_flags.contains(CloneFlags::CLONE_NEWNET) {
        let sock = socket(
            AddressFamily::Inet,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(|e| InitError::Loopback(e.into()))?;
        let lo = CString::new("lo").expect("no NUL in a literal");
        crate::sys::set_interface_up(sock.as_fd(), &lo).map_err(InitError::Loopback)?;
    }
    if let Some(name) = &plan.hostname {
        sethostname(name).map_err(InitError::Hostname)?;
    }
    // Device nodes get exactly their mode; the process's umask is set in `process::prepare`.
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    rootfs::setup(plan, cgroups)?;
    Ok(process::prepare(&plan.process)?)
}

fn wait_for_start(fifo: OwnedFd) -> Result<(), InitError> {
    // Reopen the O_PATH descriptor for writing: blocks until `start` opens the fifo to read.
    let path = format!("/proc/self/fd/{}", fifo.as_raw_fd());
    let mut file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(InitError::Fifo)?;
    file.write_all(b"0").map_err(InitError::Fifo)?;
    Ok(())
}

/// The init: sets everything up, reports to the parent, waits for `start` (create) and
/// executes the container process. Never returns.
pub fn run(plan: &Plan, cgroups: &[Placement], channels: Channels) -> ! {
    let mut report = std::fs::File::from(channels.report);
    let filter = match setup(plan, cgroups, channels.go, channels.self_join) {
        Ok(filter) => filter,
        Err(e) => {
            let _ = report.write_all(chain(&e).as_bytes());
            std::process::exit(1);
        }
    };
    if report.write_all(&[0]).is_err() {
        std::process::exit(1);
    }
    drop(report);
    if let Some(fifo) = channels.fifo {
        if let Err(e) = wait_for_start(fifo) {
            eprintln!("minke-floor init: {}", chain(&e));
            std::process::exit(1);
        }
    }
    if let Some(filter) = &filter {
        if let Err(e) = process::load_seccomp(filter) {
            eprintln!("minke-floor init: {}", chain(&e));
            std::process::exit(1);
        }
    }
    let err = process::exec(&plan.process);
    eprintln!("minke-floor init: {}", chain(&err));
    std::process::exit(127)
}
