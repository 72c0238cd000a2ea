//! The operations the rows are made of, each driven the way containerd's shim drives a runtime:
//! `create --bundle B --pid-file P ID`, `start ID`, wait for the init to exit (the harness is a
//! child subreaper and reaps it), `delete ID`; `run`, `exec`, `state`, `list`, `kill`.
//!
//! Every container created is tracked until it is deleted; whatever is left when the harness
//! stops (error, interrupt) is removed with `delete --force` and reaped.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use minke_bench::sys::{self, Rusage};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::cli::WaitMode;
use super::measure::{measure, Io, Measured};
use super::runtime::Runtime;

/// A container the harness created and has not deleted yet.
#[derive(Clone, Debug)]
struct Live {
    runtime: Runtime,
    id: String,
    pid: Option<i32>,
}

/// Shared state of the operations.
pub struct Ctx {
    /// Output files of the commands.
    pub io: Io,
    /// Longest wait for a command or for a container to exit.
    pub timeout: Duration,
    /// How to wait for a container's exit.
    pub wait: WaitMode,
    /// Where pid files go.
    pub scratch: PathBuf,
    live: Vec<Live>,
    counter: u64,
}

/// One lifecycle: create + start + wait for exit + delete.
#[derive(Clone, Copy, Debug, Default)]
pub struct Lifecycle {
    /// Whole lifecycle, spawn of create to reaping of delete.
    pub total: Duration,
    /// `create`.
    pub create: Duration,
    /// `start`.
    pub start: Duration,
    /// From `start`'s exit to the init reaped.
    pub wait: Duration,
    /// `delete`.
    pub delete: Duration,
    /// CPU of every command plus the init (until and after its exec).
    pub cpu: Duration,
    /// Page faults of the same.
    pub faults: u64,
    /// ru_maxrss of `create`.
    pub create_rss_kib: u64,
    /// ru_maxrss of the init, over the runtime code it ran before exec and the container
    /// process.
    pub init_rss_kib: u64,
    /// `state` calls made to detect the exit (state wait mode).
    pub state_polls: u32,
}

/// A created and started container.
pub struct Started {
    /// Its id.
    pub id: String,
    /// The init's pid.
    pub pid: i32,
    pidfd: OwnedFd,
    /// `create` plus `start`, including reading the pid file.
    pub elapsed: Duration,
}

fn add(total: &mut Rusage, more: &Rusage) {
    total.user += more.user;
    total.system += more.system;
    total.minor_faults += more.minor_faults;
    total.major_faults += more.major_faults;
    total.max_rss_kib = total.max_rss_kib.max(more.max_rss_kib);
}

impl Ctx {
    /// A context writing scratch files (pid files, command output) to `scratch`.
    pub fn new(scratch: &Path, timeout: Duration, wait: WaitMode) -> Result<Ctx> {
        Ok(Ctx {
            io: Io::new(scratch)?,
            timeout,
            wait,
            scratch: scratch.to_path_buf(),
            live: Vec::new(),
            counter: 0,
        })
    }

    fn next_id(&mut self, rt: &Runtime) -> String {
        self.counter += 1;
        format!("mb{}-{}-{}", std::process::id(), rt.name, self.counter)
    }

    fn run_cmd<S: AsRef<std::ffi::OsStr>>(&mut self, rt: &Runtime, args: &[S]) -> Result<Measured> {
        if sys::interrupted() {
            bail!("interrupted");
        }
        measure(&mut self.io, rt.command(args), self.timeout)
    }

    fn forget(&mut self, rt: &Runtime, id: &str) {
        self.live
            .retain(|l| !(l.runtime.name == rt.name && l.id == id));
    }

    /// Waits until the process behind `pidfd` exits, at most the timeout.
    fn wait_readable(&self, pidfd: &OwnedFd, pid: i32) -> Result<()> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!(
                    "container init {pid} did not exit within {:?}",
                    self.timeout
                );
            }
            let ms = PollTimeout::try_from(left.as_millis().min(60_000) as i32)
                .unwrap_or(PollTimeout::MAX);
            let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, ms) {
                Ok(n) if n > 0 => return Ok(()),
                Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(anyhow!(e).context("poll on pidfd")),
            }
        }
    }

    /// Reaps the init (the harness is its subreaper once the runtime's create exited).
    fn reap(pid: i32) -> Result<Rusage> {
        match sys::wait4(pid) {
            Ok((_, usage)) => Ok(usage),
            Err(e) if e.raw_os_error() == Some(libc::ECHILD) => {
                bail!("container init {pid} is not a child of the harness (not reparented to the subreaper)")
            }
            Err(e) => Err(anyhow!(e).context("wait4 on the container init")),
        }
    }

    /// Runs `state` until it reports "stopped"; returns the number of calls and their usage.
    fn poll_state(&mut self, rt: &Runtime, id: &str) -> Result<(u32, Rusage)> {
        let deadline = Instant::now() + self.timeout;
        let mut usage = Rusage::default();
        let mut calls = 0;
        loop {
            let m = self.run_cmd(rt, &["state", id])?;
            calls += 1;
            add(&mut usage, &m.usage);
            let out = self.io.stdout();
            let doc: serde_json::Value = serde_json::from_str(&out)
                .with_context(|| format!("{} state: not JSON: {out:?}", rt.name))?;
            if doc["status"] == "stopped" {
                return Ok((calls, usage));
            }
            if Instant::now() > deadline {
                bail!(
                    "{} state {id}: still {} after {:?}",
                    rt.name,
                    doc["status"],
                    self.timeout
                );
            }
        }
    }

    fn read_pid(&self, rt: &Runtime, pid_file: &Path) -> Result<i32> {
        let text = std::fs::read_to_string(pid_file).with_context(|| {
            format!(
                "{} create exited 0 but wrote no pid file {}",
                rt.name,
                pid_file.display()
            )
        })?;
        text.trim()
            .parse()
            .with_context(|| format!("{}: pid file holds {text:?}", rt.name))
    }

    /// `create` then `start` of `bundle`; the container is tracked until [`Ctx::stop`].
    pub fn create_start(
        &mut self,
        rt: &Runtime,
        bundle: &Path,
    ) -> Result<(Started, Measured, Measured)> {
        let id = self.next_id(rt);
        let pid_file = self.scratch.join(format!("{id}.pid"));
        let t0 = Instant::now();
        let create = self.run_cmd(
            rt,
            &[
                "create".as_ref(),
                "--bundle".as_ref(),
                bundle.as_os_str(),
                "--pid-file".as_ref(),
                pid_file.as_os_str(),
                id.as_ref(),
            ],
        );
        // Track before checking: a failed create may still have left state behind.
        self.live.push(Live {
            runtime: rt.clone(),
            id: id.clone(),
            pid: None,
        });
        let create = create?;
        let pid = self.read_pid(rt, &pid_file)?;
        let _ = std::fs::remove_file(&pid_file);
        if let Some(l) = self.live.iter_mut().find(|l| l.id == id) {
            l.pid = Some(pid);
        }
        let pidfd =
            sys::pidfd_open(pid).with_context(|| format!("pidfd_open of the init {pid}"))?;
        let start = self.run_cmd(rt, &["start", id.as_str()])?;
        let elapsed = t0.elapsed();
        Ok((
            Started {
                id,
                pid,
                pidfd,
                elapsed,
            },
            create,
            start,
        ))
    }

    /// One lifecycle of `bundle` (whose process exits by itself).
    pub fn lifecycle(&mut self, rt: &Runtime, bundle: &Path) -> Result<Lifecycle> {
        let t0 = Instant::now();
        let (started, create, start) = self.create_start(rt, bundle)?;
        let t_started = Instant::now();
        let mut usage = create.usage;
        add(&mut usage, &start.usage);
        let mut state_polls = 0;
        match self.wait {
            WaitMode::Pidfd => self.wait_readable(&started.pidfd, started.pid)?,
            WaitMode::State => {
                let (calls, polls) = self.poll_state(rt, &started.id)?;
                state_polls = calls;
                add(&mut usage, &polls);
            }
        }
        let init = Ctx::reap(started.pid)?;
        let wait = t_started.elapsed();
        if let Some(l) = self.live.iter_mut().find(|l| l.id == started.id) {
            l.pid = None;
        }
        let delete = self.run_cmd(rt, &["delete", started.id.as_str()])?;
        let total = t0.elapsed();
        self.forget(rt, &started.id);
        let init_rss_kib = init.max_rss_kib;
        add(&mut usage, &init);
        add(&mut usage, &delete.usage);
        Ok(Lifecycle {
            total,
            create: create.wall,
            start: start.wall,
            wait,
            delete: delete.wall,
            cpu: usage.cpu(),
            faults: usage.faults(),
            create_rss_kib: create.usage.max_rss_kib,
            init_rss_kib,
            state_polls,
        })
    }

    /// Checks, after the timing, that a command that exited 0 wrote a pid to `pid_file`, so
    /// that a runtime that does nothing is not taken for a fast one.
    fn check_pid_file(&self, rt: &Runtime, what: &str, pid_file: &Path) -> Result<()> {
        let text = std::fs::read_to_string(pid_file);
        let _ = std::fs::remove_file(pid_file);
        let text =
            text.with_context(|| format!("{} {what} exited 0 but wrote no pid file", rt.name))?;
        text.trim()
            .parse::<i32>()
            .with_context(|| format!("{} {what}: pid file holds {text:?}", rt.name))?;
        Ok(())
    }

    /// `run --bundle B --pid-file P ID` in the foreground (the runtime creates, starts, waits
    /// and deletes); the pid file is checked afterwards.
    pub fn run(&mut self, rt: &Runtime, bundle: &Path) -> Result<Measured> {
        let id = self.next_id(rt);
        let pid_file = self.scratch.join(format!("{id}.pid"));
        let args = [
            "run".as_ref(),
            "--bundle".as_ref(),
            bundle.as_os_str(),
            "--pid-file".as_ref(),
            pid_file.as_os_str(),
            id.as_ref(),
        ];
        let m = self.run_cmd(rt, &args);
        if m.is_err() {
            self.live.push(Live {
                runtime: rt.clone(),
                id: id.clone(),
                pid: None,
            });
        }
        let m = m?;
        self.check_pid_file(rt, "run", &pid_file)?;
        Ok(m)
    }

    /// `exec --pid-file P ID /bin/true` into a running container; the pid file is checked
    /// afterwards.
    pub fn exec_true(&mut self, rt: &Runtime, id: &str) -> Result<Measured> {
        let pid_file = self.scratch.join(format!("{id}.exec.pid"));
        let args = [
            "exec".as_ref(),
            "--pid-file".as_ref(),
            pid_file.as_os_str(),
            id.as_ref(),
            "/bin/true".as_ref(),
        ];
        let m = self.run_cmd(rt, &args)?;
        self.check_pid_file(rt, "exec", &pid_file)?;
        Ok(m)
    }

    /// `state ID` of a running container; its output is checked afterwards.
    pub fn state(&mut self, rt: &Runtime, id: &str) -> Result<Measured> {
        let m = self.run_cmd(rt, &["state", id])?;
        let out = self.io.stdout();
        let doc: serde_json::Value = serde_json::from_str(&out)
            .with_context(|| format!("{} state: not JSON: {out:?}", rt.name))?;
        if doc["status"] != "running" || doc["id"] != id {
            bail!("{} state {id}: expected it running, got {out}", rt.name);
        }
        Ok(m)
    }

    /// `list`; checked afterwards to name `expect`.
    pub fn list(&mut self, rt: &Runtime, expect: &str) -> Result<Measured> {
        let m = self.run_cmd(rt, &["list"])?;
        let out = self.io.stdout();
        if !out
            .lines()
            .any(|l| l.split_whitespace().next() == Some(expect))
        {
            bail!("{} list: {expect} missing from {out:?}", rt.name);
        }
        Ok(m)
    }

    /// Stops a started container the way containerd does: `kill ID KILL`, wait for the exit,
    /// reap, `delete ID`. Returns the time taken.
    pub fn stop(&mut self, rt: &Runtime, started: Started) -> Result<Duration> {
        let t0 = Instant::now();
        self.run_cmd(rt, &["kill", started.id.as_str(), "KILL"])?;
        self.wait_readable(&started.pidfd, started.pid)?;
        Ctx::reap(started.pid)?;
        if let Some(l) = self.live.iter_mut().find(|l| l.id == started.id) {
            l.pid = None;
        }
        self.run_cmd(rt, &["delete", started.id.as_str()])?;
        self.forget(rt, &started.id);
        Ok(t0.elapsed())
    }

    /// Removes every container still tracked: `delete --force`, then reaps its init. Returns
    /// what could not be cleaned.
    pub fn cleanup(&mut self) -> Vec<String> {
        self.cleanup_where(|_| true)
    }

    /// [`Ctx::cleanup`] of one runtime's containers only.
    pub fn cleanup_runtime(&mut self, name: &str) -> Vec<String> {
        self.cleanup_where(|l| l.runtime.name == name)
    }

    fn cleanup_where(&mut self, pick: impl Fn(&Live) -> bool) -> Vec<String> {
        let mut problems = Vec::new();
        let (picked, kept): (Vec<Live>, Vec<Live>) = std::mem::take(&mut self.live)
            .into_iter()
            .partition(|l| pick(l));
        self.live = kept;
        for l in picked {
            let pidfd = l.pid.and_then(|pid| sys::pidfd_open(pid).ok());
            let m = measure(
                &mut self.io,
                l.runtime.command(["delete", "--force", l.id.as_str()]),
                self.timeout,
            );
            if let Err(e) = m {
                let text = format!("{e:#}");
                let already_gone = text.contains("not exist")
                    || text.contains("does not exist")
                    || text.contains("not found");
                if !already_gone {
                    problems.push(format!("{} {}: {text}", l.runtime.name, l.id));
                }
            }
            if let (Some(pid), Some(fd)) = (l.pid, pidfd) {
                if self.wait_readable(&fd, pid).is_ok() {
                    let _ = sys::wait4(pid);
                } else {
                    problems.push(format!(
                        "{} {}: init {pid} still alive",
                        l.runtime.name, l.id
                    ));
                }
            }
        }
        while let Ok(Some(_)) = sys::reap_any_zombie() {}
        problems
    }

    /// Reaps processes that were reparented to the harness and have exited.
    pub fn reap_orphans(&self) {
        while let Ok(Some(_)) = sys::reap_any_zombie() {}
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        for problem in self.cleanup() {
            eprintln!("minke-bench: cleanup: {problem}");
        }
    }
}
