//! Running one runtime command and measuring it: wall time from spawn to reaping, and the
//! rusage wait4 returns for it (which covers the descendants it reaped itself).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::AsFd;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use minke_bench::sys::{self, Rusage};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// Files that receive the runtimes' stdout and stderr (files, not pipes: a container's init
/// inherits them and may outlive the command).
pub struct Io {
    out: File,
    err: File,
}

impl Io {
    /// Creates `stdout` and `stderr` files in `dir`.
    pub fn new(dir: &Path) -> Result<Io> {
        let open = |name: &str| {
            let path = dir.join(name);
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .with_context(|| format!("creating {}", path.display()))
        };
        Ok(Io {
            out: open("stdout")?,
            err: open("stderr")?,
        })
    }

    fn reset(&mut self) -> Result<()> {
        for f in [&mut self.out, &mut self.err] {
            f.set_len(0)?;
            f.seek(SeekFrom::Start(0))?;
        }
        Ok(())
    }

    fn read(file: &mut File) -> String {
        let mut text = String::new();
        if file.seek(SeekFrom::Start(0)).is_ok() {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    /// What the last command wrote to stdout.
    pub fn stdout(&mut self) -> String {
        Io::read(&mut self.out)
    }

    /// The end of what the last command wrote to stderr, on one line.
    pub fn stderr_tail(&mut self) -> String {
        let text = Io::read(&mut self.err);
        let text = text.trim();
        let start = text.char_indices().rev().nth(400).map_or(0, |(i, _)| i);
        text[start..].replace('\n', " | ")
    }
}

/// One measured command.
#[derive(Clone, Copy, Debug)]
pub struct Measured {
    /// From just before spawn to just after wait4 returned.
    pub wall: Duration,
    /// Its rusage.
    pub usage: Rusage,
}

/// Runs `cmd` with stdout and stderr to `io`, waits at most `timeout` for it (then kills it),
/// and returns the measurement. Fails if it does not exit with status 0.
pub fn measure(io: &mut Io, mut cmd: Command, timeout: Duration) -> Result<Measured> {
    io.reset()?;
    let what = format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    cmd.stdout(io.out.try_clone()?).stderr(io.err.try_clone()?);
    let started = Instant::now();
    let child = cmd.spawn().with_context(|| format!("spawning {what}"))?;
    let pid = child.id() as i32;
    let pidfd = sys::pidfd_open(pid).context("pidfd_open")?;
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    let ready = loop {
        let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        match poll(
            &mut fds,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        ) {
            Ok(n) => break n > 0,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(anyhow!(e).context("poll")),
        }
    };
    if !ready {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = sys::wait4(pid);
        bail!("{what}: no exit within {timeout:?}, killed");
    }
    let (status, usage) = sys::wait4(pid).context("wait4")?;
    let wall = started.elapsed();
    if !status.success() {
        bail!("{what}: {status}: {}", io.stderr_tail());
    }
    Ok(Measured { wall, usage })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_and_captures() {
        let tmp = tempfile::tempdir().unwrap();
        let mut io = Io::new(tmp.path()).unwrap();
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "echo out; echo err >&2"]);
        let m = measure(&mut io, cmd, Duration::from_secs(10)).unwrap();
        assert!(m.wall > Duration::ZERO);
        assert!(m.usage.max_rss_kib > 0);
        assert_eq!(io.stdout(), "out\n");
        assert_eq!(io.stderr_tail(), "err");
    }

    #[test]
    fn a_failure_carries_stderr() {
        let tmp = tempfile::tempdir().unwrap();
        let mut io = Io::new(tmp.path()).unwrap();
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "echo first >&2; echo boom >&2; exit 2"]);
        let err = measure(&mut io, cmd, Duration::from_secs(10))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("exit status: 2") && err.ends_with("first | boom"),
            "{err}"
        );
    }

    #[test]
    fn a_hanging_command_is_killed() {
        let tmp = tempfile::tempdir().unwrap();
        let mut io = Io::new(tmp.path()).unwrap();
        let mut cmd = Command::new("/bin/sleep");
        cmd.arg("30");
        let err = measure(&mut io, cmd, Duration::from_millis(100))
            .unwrap_err()
            .to_string();
        assert!(err.contains("killed"), "{err}");
    }
}
