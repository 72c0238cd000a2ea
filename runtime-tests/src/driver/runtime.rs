//! Drives the runtime under test through its CLI, as containerd's runc shim does:
//! `RUNTIME --root R --log L --log-format json create --bundle B --pid-file P ID`, `start`,
//! `state`, `kill`, `delete`. Every command runs with a deadline; a `Container` guard deletes
//! its container (`kill KILL`, `delete -f`) when dropped, so a failing test leaves nothing behind.

use super::bundle::Bundle;
use super::Ctx;
use crate::report::{Report, REPORT_PREFIX, SIGNAL_PREFIX};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What one runtime command did.
#[derive(Debug)]
pub struct Outcome {
    pub cmd: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// the last `"level":"error"` message of `--log`, if any
    pub log_error: Option<String>,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Exit code, or 128+signal.
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| 128 + self.status.signal().unwrap_or(0))
    }

    /// The runtime's own explanation: log error, else the last stderr line.
    pub fn reason(&self) -> String {
        if let Some(e) = &self.log_error {
            return e.clone();
        }
        self.stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .to_string()
    }

    /// Fails with the runtime's reason unless the command succeeded.
    pub fn check(self) -> Result<Outcome> {
        if self.success() {
            Ok(self)
        } else {
            Err(anyhow!(
                "`{}` exited {}: {}",
                self.cmd,
                self.code(),
                self.reason()
            ))
        }
    }
}

/// Extracts the last error message from a logrus-style JSON log (runc, crun, minke).
pub fn last_log_error(log: &str) -> Option<String> {
    log.lines().rev().find_map(|l| {
        let v: Value = serde_json::from_str(l).ok()?;
        let level = v.get("level")?.as_str()?;
        if level == "error" || level == "fatal" {
            v.get("msg").and_then(Value::as_str).map(str::to_string)
        } else {
            None
        }
    })
}

impl Ctx<'_> {
    /// A runtime command with the private root and the json log.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.runtime);
        c.arg("--root").arg(&self.state_root);
        c.arg("--log")
            .arg(&self.log_file)
            .arg("--log-format")
            .arg("json");
        c.args(args);
        c
    }

    /// Runs a runtime command to completion (stdio in files, so a container that inherits them
    /// cannot hold a pipe open), killing it at the deadline.
    pub fn exec(&self, args: &[&str]) -> Result<Outcome> {
        let c = self.command(args);
        self.exec_cmd(c, &format!("{} {}", self.runtime_name, args.join(" ")))
    }

    pub fn exec_cmd(&self, mut c: Command, display: &str) -> Result<Outcome> {
        let n = self.next();
        let out = self.dir.join(format!("cmd{n}.out"));
        let err = self.dir.join(format!("cmd{n}.err"));
        c.stdin(Stdio::null())
            .stdout(fs::File::create(&out)?)
            .stderr(fs::File::create(&err)?);
        let log_len = fs::metadata(&self.log_file).map(|m| m.len()).unwrap_or(0);
        let mut child = c.spawn().with_context(|| format!("spawning `{display}`"))?;
        let status = self.wait_child(&mut child, display)?;
        let log = fs::read(&self.log_file).unwrap_or_default();
        let new_log =
            String::from_utf8_lossy(log.get(log_len as usize..).unwrap_or(&[])).into_owned();
        Ok(Outcome {
            cmd: display.to_string(),
            status,
            stdout: fs::read_to_string(&out).unwrap_or_default(),
            stderr: fs::read_to_string(&err).unwrap_or_default(),
            log_error: last_log_error(&new_log),
        })
    }

    pub fn wait_child(&self, child: &mut std::process::Child, display: &str) -> Result<ExitStatus> {
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Some(s) = child.try_wait()? {
                return Ok(s);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("`{display}` did not finish within {:?}", self.timeout);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// `create` that must succeed.
    pub fn create(&self, b: &Bundle) -> Result<Container<'_>> {
        let (c, o) = self.try_create(b)?;
        o.check()?;
        Ok(c)
    }

    /// `create`, returning the guard whatever happened (for tests that expect a failure).
    pub fn try_create(&self, b: &Bundle) -> Result<(Container<'_>, Outcome)> {
        self.try_create_with(b, &[])
    }

    pub fn try_create_with(&self, b: &Bundle, extra: &[&str]) -> Result<(Container<'_>, Outcome)> {
        let c = Container::guard(self, b);
        let bundle = b.dir.to_string_lossy().into_owned();
        let pid_file = c.pid_file.to_string_lossy().into_owned();
        let mut args = vec!["create", "--bundle", &bundle, "--pid-file", &pid_file];
        args.extend_from_slice(extra);
        args.push(&b.id);
        let mut cmd = self.command(&args);
        cmd.current_dir(&self.dir);
        // The container inherits create's stdio: give it files the test can read.
        cmd.stdin(Stdio::null())
            .stdout(fs::File::create(&c.stdout_path)?)
            .stderr(fs::File::create(&c.stderr_path)?);
        let log_len = fs::metadata(&self.log_file).map(|m| m.len()).unwrap_or(0);
        let display = format!("{} {}", self.runtime_name, args.join(" "));
        let mut child = cmd
            .spawn()
            .with_context(|| format!("spawning `{display}`"))?;
        let status = self.wait_child(&mut child, &display)?;
        let log = fs::read(&self.log_file).unwrap_or_default();
        let new_log =
            String::from_utf8_lossy(log.get(log_len as usize..).unwrap_or(&[])).into_owned();
        let o = Outcome {
            cmd: display,
            status,
            stdout: String::new(),
            stderr: fs::read_to_string(&c.stderr_path).unwrap_or_default(),
            log_error: last_log_error(&new_log),
        };
        Ok((c, o))
    }

    /// `run --bundle B ID` in the foreground: returns the outcome (exit code of the container)
    /// and what the container wrote to stdout.
    pub fn run(&self, b: &Bundle) -> Result<(Outcome, String)> {
        let c = Container::guard(self, b);
        let bundle = b.dir.to_string_lossy().into_owned();
        let args = ["run", "--bundle", &bundle, b.id.as_str()];
        let mut cmd = self.command(&args);
        cmd.current_dir(&self.dir);
        cmd.stdin(Stdio::null())
            .stdout(fs::File::create(&c.stdout_path)?)
            .stderr(fs::File::create(&c.stderr_path)?);
        let display = format!("{} {}", self.runtime_name, args.join(" "));
        let log_len = fs::metadata(&self.log_file).map(|m| m.len()).unwrap_or(0);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("spawning `{display}`"))?;
        let status = self.wait_child(&mut child, &display)?;
        let log = fs::read(&self.log_file).unwrap_or_default();
        let new_log =
            String::from_utf8_lossy(log.get(log_len as usize..).unwrap_or(&[])).into_owned();
        let out = c.stdout();
        let o = Outcome {
            cmd: display,
            status,
            stdout: out.clone(),
            stderr: fs::read_to_string(&c.stderr_path).unwrap_or_default(),
            log_error: last_log_error(&new_log),
        };
        drop(c);
        Ok((o, out))
    }

    /// Polls `cond` until it holds or the deadline passes.
    pub fn poll<T>(&self, what: &str, mut cond: impl FnMut() -> Result<Option<T>>) -> Result<T> {
        let deadline = Instant::now() + self.timeout;
        let mut pause = Duration::from_millis(2);
        loop {
            if let Some(v) = cond()? {
                return Ok(v);
            }
            if Instant::now() > deadline {
                bail!("timed out after {:?} waiting for {what}", self.timeout);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// Full round trip: create, start, wait for the report and for `stopped`, delete.
    pub fn run_report(&self, b: &Bundle) -> Result<Report> {
        let mut c = self.create(b)?;
        c.start()?;
        let r = c.wait_report()?;
        c.wait_status("stopped")?;
        c.delete()?;
        Ok(r)
    }
}

/// A created container; dropping it kills and force-deletes it.
pub struct Container<'c> {
    ctx: &'c Ctx<'c>,
    pub id: String,
    pub bundle: PathBuf,
    pub stdout_path: PathBuf,
    pub stderr_path: PathBuf,
    pub pid_file: PathBuf,
    pub deleted: bool,
}

impl<'c> Container<'c> {
    pub(crate) fn guard(ctx: &'c Ctx<'c>, b: &Bundle) -> Container<'c> {
        Container {
            ctx,
            id: b.id.clone(),
            bundle: b.dir.clone(),
            stdout_path: ctx.dir.join(format!("{}.stdout", b.id)),
            stderr_path: ctx.dir.join(format!("{}.stderr", b.id)),
            pid_file: ctx.dir.join(format!("{}.pid", b.id)),
            deleted: false,
        }
    }

    pub fn start(&self) -> Result<()> {
        self.ctx.exec(&["start", &self.id])?.check()?;
        Ok(())
    }

    pub fn try_start(&self) -> Result<Outcome> {
        self.ctx.exec(&["start", &self.id])
    }

    pub fn state(&self) -> Result<Value> {
        let o = self.ctx.exec(&["state", &self.id])?.check()?;
        serde_json::from_str(&o.stdout)
            .with_context(|| format!("state output is not JSON: {:?}", o.stdout))
    }

    pub fn status(&self) -> Result<String> {
        let s = self.state()?;
        s["status"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("state has no status: {s}"))
    }

    pub fn pid(&self) -> Result<i32> {
        let s = self.state()?;
        s["pid"]
            .as_i64()
            .map(|p| p as i32)
            .ok_or_else(|| anyhow!("state has no pid: {s}"))
    }

    /// Polls `state` until the status is `want`.
    pub fn wait_status(&self, want: &str) -> Result<()> {
        let mut last = String::new();
        self.ctx
            .poll(&format!("status {want}"), || {
                last = self.status()?;
                Ok((last == want).then_some(()))
            })
            .with_context(|| format!("last status was {last:?}"))
    }

    pub fn kill(&self, sig: &str) -> Result<Outcome> {
        self.ctx.exec(&["kill", &self.id, sig])
    }

    pub fn delete(&mut self) -> Result<()> {
        self.ctx.exec(&["delete", &self.id])?.check()?;
        self.deleted = true;
        Ok(())
    }

    pub fn try_delete(&mut self) -> Result<Outcome> {
        let o = self.ctx.exec(&["delete", &self.id])?;
        if o.success() {
            self.deleted = true;
        }
        Ok(o)
    }

    pub fn stdout(&self) -> String {
        fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Waits for the probe's report line on the container's stdout.
    pub fn wait_report(&self) -> Result<Report> {
        let line = self
            .ctx
            .poll("the probe's report", || {
                Ok(find_line(&self.stdout(), REPORT_PREFIX))
            })
            .with_context(|| format!("probe stderr: {}", self.stderr().trim()))?;
        parse_report(&line)
    }

    /// Waits for the probe's `PROBE-SIGNAL n` line.
    pub fn wait_signal_line(&self) -> Result<i32> {
        self.ctx.poll("the probe's signal line", || {
            Ok(find_line(&self.stdout(), SIGNAL_PREFIX).and_then(|n| n.trim().parse().ok()))
        })
    }
}

/// The rest of the first complete (newline-terminated) line that starts with `prefix`.
pub fn find_line(out: &str, prefix: &str) -> Option<String> {
    let complete = &out[..out.rfind('\n').map(|i| i + 1).unwrap_or(0)];
    complete.lines().find_map(|l| {
        l.trim_end_matches('\r')
            .strip_prefix(prefix)
            .map(str::to_string)
    })
}

pub fn parse_report(line: &str) -> Result<Report> {
    serde_json::from_str(line).with_context(|| {
        format!(
            "bad probe report: {}...",
            line.chars().take(200).collect::<String>()
        )
    })
}

/// Finds the report in captured output (e.g. of `run`).
pub fn report_in(out: &str) -> Result<Report> {
    let line = find_line(out, REPORT_PREFIX).ok_or_else(|| {
        anyhow!(
            "no probe report in output: {:?}",
            out.chars().take(400).collect::<String>()
        )
    })?;
    parse_report(&line)
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        let _ = self.ctx.exec(&["kill", &self.id, "KILL"]);
        let _ = self.ctx.exec(&["delete", "-f", &self.id]);
    }
}
