//! The scenarios: each is written once against [`Client`] and runs for every engine and
//! runtime. A scenario returns `Err(reason)` on the first thing that is not as it should be.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use clap::ValueEnum;

use crate::cgroup::{all_dirs, Files, Membership, Mounts};
use crate::client::{Client, Limits, Status};
use crate::cmd::{poll, Runner};
use crate::pty::{COLS, ROWS};

/// The lane's scenarios, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Scenario {
    /// a one-shot command: output, exit status 0, only stdio and no `_OCI_*` variables inside
    OneShot,
    /// a container exiting 3: the client reports 3; a missing command: the client says so
    ExitNonzero,
    /// run detached, then exec: output, status, same namespaces and cgroup as the init, only
    /// stdio, no `_OCI_*` variables
    Exec,
    /// the client's process listing (`ctr task ps`, `podman top`)
    Ps,
    /// pause (status paused, cgroup frozen) and resume (running, thawed, still working)
    PauseResume,
    /// SIGTERM through the client reaches the container's trap: exit status 7
    Kill,
    /// forced delete of a running container: gone from the client, the runtime and the cgroups
    Delete,
    /// the container's stdout and stderr read back through the client
    Logs,
    /// memory and pids usage read through the client
    Stats,
    /// run with a terminal: a tty of the client's size, input reaches the container
    Tty,
    /// exec with a terminal into a running container
    ExecTty,
    /// memory and pids limits reach the cgroup files at the path the client asked for
    Limits,
    /// stop with a timeout on a container that ignores SIGTERM: killed, exit status 137
    StopTimeout,
}

impl Scenario {
    pub fn all() -> Vec<Scenario> {
        Scenario::value_variants().to_vec()
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.to_possible_value().expect("no scenario is hidden");
        f.write_str(v.get_name())
    }
}

/// The container names a scenario uses, `name` first.
pub fn names(scenario: Scenario, name: &str) -> Vec<String> {
    match scenario {
        Scenario::ExitNonzero => vec![name.to_string(), format!("{name}-missing")],
        _ => vec![name.to_string()],
    }
}

/// What every scenario may use beside the client.
pub struct Ctx<'a> {
    pub runner: &'a Runner,
    pub mounts: &'a Mounts,
    pub proc: &'a Path,
}

// Processes whose output is checked stay 0.3 s after printing it (`sleep 0.3`): on a loaded
// machine (load average ~14 on 2 cores) `ctr run` / `ctr task exec` twice printed nothing at
// all for a process that printed and exited at once, with the right exit status, once with runc
// and once with minke: a race on ctr's side of its FIFOs, not the runtime's. A process that
// lingers a moment has not shown it since.

/// A container that idles and exits 7 on SIGTERM; "ready" once the trap is set.
const SERVE: &str = "trap 'exit 7' TERM; echo ready; sleep 1000 & wait";
/// A container that ignores SIGTERM.
const IGNORE_TERM: &str = "trap '' TERM; echo ready; sleep 1000 & wait";

const MEMORY_LIMIT: u64 = 64 << 20;
const PIDS_LIMIT: u64 = 32;

/// The script of the terminal scenarios: it reports whether stdio is a tty and its size (once
/// the client has passed its terminal's size on), then reads a line and exits 4.
fn tty_script() -> String {
    format!(
        "[ -t 0 ] && [ -t 1 ] && echo tty-yes; i=0; \
         while [ \"$(stty size)\" != '{ROWS} {COLS}' ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; \
         echo \"size=$(stty size)\"; echo READY; read line; echo \"got:$line\"; exit 4"
    )
}

pub fn run(scenario: Scenario, c: &mut dyn Client, ctx: &Ctx<'_>, name: &str) -> Result<()> {
    match scenario {
        Scenario::OneShot => one_shot(c, name),
        Scenario::ExitNonzero => exit_nonzero(c, name),
        Scenario::Exec => exec(c, name),
        Scenario::Ps => ps(c, name),
        Scenario::PauseResume => pause_resume(c, ctx, name),
        Scenario::Kill => kill(c, name),
        Scenario::Delete => delete(c, ctx, name),
        Scenario::Logs => logs(c, name),
        Scenario::Stats => stats(c, name),
        Scenario::Tty => tty(c, ctx, name),
        Scenario::ExecTty => exec_tty(c, ctx, name),
        Scenario::Limits => limits(c, ctx, name),
        Scenario::StopTimeout => stop_timeout(c, name),
    }
}

fn one_shot(c: &mut dyn Client, name: &str) -> Result<()> {
    let script = format!("echo hello-from-lane; echo to-stderr >&2; {FDS_AND_ENV}; sleep 0.3");
    let out = c.run(name, &["sh", "-c", &script])?;
    ensure!(
        out.success(),
        "the one-shot container failed: {}",
        out.brief()
    );
    ensure!(
        out.stdout.lines().next() == Some("hello-from-lane"),
        "stdout does not start with hello-from-lane: {:?}",
        out.stdout
    );
    ensure!(
        out.stderr.contains("to-stderr"),
        "the container's stderr did not reach the client's stderr: {:?}",
        out.stderr
    );
    check_fds_and_env(&out.stdout, "the container's process")
}

/// Prints the shell's open fds and its `_OCI_*` variables between marker lines.
const FDS_AND_ENV: &str =
    "echo fds-begin; ls /proc/$$/fd; echo fds-end; env | grep '^_OCI'; echo env-end";

/// What [`FDS_AND_ENV`] printed must be fds 0 1 2 only and no `_OCI_*` variable: the clients
/// hand the runtime more (the shim's socket, conmon's sync pipes and their variables).
fn check_fds_and_env(stdout: &str, who: &str) -> Result<()> {
    let fds = between(stdout, "fds-begin", "fds-end")?;
    ensure!(
        fds == ["0", "1", "2"],
        "{who} has fds {fds:?}, expected only 0 1 2 (leaked from the client?)"
    );
    let env = between(stdout, "fds-end", "env-end")?;
    ensure!(env.is_empty(), "_OCI_* variables reached {who}: {env:?}");
    Ok(())
}

/// The lines of `text` between the line `from` and the line `to`.
fn between(text: &str, from: &str, to: &str) -> Result<Vec<String>> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let a = lines.iter().position(|l| *l == from);
    let b = lines.iter().position(|l| *l == to);
    match (a, b) {
        (Some(a), Some(b)) if a < b => Ok(lines[a + 1..b].iter().map(|s| s.to_string()).collect()),
        _ => bail!("the output lacks {from}/{to}: {text:?}"),
    }
}

fn exit_nonzero(c: &mut dyn Client, name: &str) -> Result<()> {
    let out = c.run(name, &["sh", "-c", "echo exiting; sleep 0.3; exit 3"])?;
    ensure!(
        out.code == Some(3),
        "the client reported {} for a container that exits 3 ({})",
        out.status_text(),
        out.brief()
    );
    ensure!(
        out.stdout.contains("exiting"),
        "no output: {:?}",
        out.stdout
    );
    let missing = c.run(&names(Scenario::ExitNonzero, name)[1], &["/no/such/binary"])?;
    check_missing_command(c, &missing, "run")
}

/// A client's view of a missing command: a failure whose text says so (podman turns that text
/// into its exit status 127).
fn check_missing_command(c: &dyn Client, out: &crate::cmd::Output, what: &str) -> Result<()> {
    ensure!(!out.success(), "{what} of a missing binary succeeded");
    let text = format!("{}{}", out.stdout, out.stderr).to_lowercase();
    ensure!(
        text.contains("no such file") || text.contains("not found"),
        "{what} of a missing binary did not say so: {}",
        out.brief()
    );
    if let Some(want) = c.missing_command_status() {
        ensure!(
            out.code == Some(want),
            "{what} of a missing binary: the client exited {}, expected {want}: {}",
            out.status_text(),
            out.brief()
        );
    }
    Ok(())
}

/// Waits until the container printed "ready" (its trap is set).
fn wait_ready(c: &mut dyn Client, name: &str) -> Result<()> {
    let mut last = String::new();
    poll(Duration::from_secs(20), || match c.logs(name) {
        Ok(l) if l.contains("ready") => Some(()),
        Ok(l) => {
            last = l;
            None
        }
        Err(e) => {
            last = format!("{e:#}");
            None
        }
    })
    .with_context(|| format!("the container did not print \"ready\" within 20s (logs: {last:?})"))
}

fn exec(c: &mut dyn Client, name: &str) -> Result<()> {
    c.run_detached(name, &["sh", "-c", SERVE], None)?;
    let script = format!(
        "echo exec-out; echo exec-err >&2; \
         [ \"$(cat /proc/self/cgroup)\" = \"$(cat /proc/1/cgroup)\" ] && echo same-cgroup; \
         [ \"$(readlink /proc/self/ns/mnt)\" = \"$(readlink /proc/1/ns/mnt)\" ] && echo same-mntns; \
         echo \"pid1=$(cat /proc/1/comm)\"; {FDS_AND_ENV}; sleep 0.3; exit 5"
    );
    let out = c.exec(name, &["sh", "-c", &script])?;
    ensure!(
        out.code == Some(5),
        "exec of a process exiting 5 gave {}",
        out.brief()
    );
    for want in ["exec-out", "same-cgroup", "same-mntns", "pid1=sh"] {
        ensure!(
            out.stdout.lines().any(|l| l.trim() == want),
            "the exec'd process did not print {want:?}: {:?}",
            out.stdout
        );
    }
    ensure!(
        out.stderr.contains("exec-err"),
        "exec stderr lost: {:?}",
        out.stderr
    );
    check_fds_and_env(&out.stdout, "the exec'd process")?;
    let ok = c.exec(name, &["true"])?;
    ensure!(ok.success(), "exec true: {}", ok.brief());
    let missing = c.exec(name, &["/no/such/binary"])?;
    check_missing_command(c, &missing, "exec")?;
    ensure!(
        c.status(name)? == Status::Running,
        "the container is not running after the execs"
    );
    c.remove(name, true)
}

fn ps(c: &mut dyn Client, name: &str) -> Result<()> {
    c.run_detached(name, &["sh", "-c", SERVE], None)?;
    wait_ready(c, name)?;
    let procs = c.processes(name)?;
    ensure!(
        procs.iter().any(|p| p == "sh") && procs.iter().any(|p| p == "sleep"),
        "the listing does not show the container's sh and sleep: {procs:?}"
    );
    c.remove(name, true)
}

fn pause_resume(c: &mut dyn Client, ctx: &Ctx<'_>, name: &str) -> Result<()> {
    c.run_detached(name, &["sh", "-c", SERVE], None)?;
    let pid = c.init_pid(name)?;
    let files = Files {
        mounts: ctx.mounts,
        membership: Membership::read(ctx.proc, pid)?,
    };
    c.pause(name)?;
    let st = c.status(name)?;
    ensure!(st == Status::Paused, "after pause the client says {st:?}");
    ensure!(files.frozen()?, "after pause the cgroup is not frozen");
    c.resume(name)?;
    let st = c.status(name)?;
    ensure!(st == Status::Running, "after resume the client says {st:?}");
    ensure!(!files.frozen()?, "after resume the cgroup is still frozen");
    let out = c.exec(name, &["sh", "-c", "echo alive; sleep 0.3"])?;
    ensure!(
        out.success() && out.stdout.contains("alive"),
        "exec after resume: {}",
        out.brief()
    );
    c.remove(name, true)
}

fn kill(c: &mut dyn Client, name: &str) -> Result<()> {
    c.run_detached(name, &["sh", "-c", SERVE], None)?;
    wait_ready(c, name)?;
    c.kill(name, "TERM")?;
    let code = c.wait_exit(name)?;
    ensure!(
        code == 7,
        "after SIGTERM the container exited {code}, expected 7 (its trap)"
    );
    c.remove(name, false)?;
    ensure!(
        !c.exists(name)?,
        "the client still lists the container after removal"
    );
    Ok(())
}

fn delete(c: &mut dyn Client, ctx: &Ctx<'_>, name: &str) -> Result<()> {
    c.run_detached(name, &["sh", "-c", SERVE], None)?;
    let pid = c.init_pid(name)?;
    let membership = Membership::read(ctx.proc, pid)?;
    let dirs = all_dirs(ctx.mounts, &membership);
    ensure!(!dirs.is_empty(), "no cgroup directory found for pid {pid}");
    let id = c.runtime_id(name)?;
    let root = c.runtime_root();
    ensure!(
        root.join(&id).exists(),
        "the runtime's state {} is not there while the container runs",
        root.join(&id).display()
    );
    c.remove(name, true)?;
    ensure!(!c.exists(name)?, "the client still lists the container");
    let gone = poll(Duration::from_secs(10), || {
        (!ctx.proc.join(pid.to_string()).exists()).then_some(())
    });
    ensure!(
        gone.is_some(),
        "the container's init (pid {pid}) is still there"
    );
    for d in &dirs {
        ensure!(!d.exists(), "the cgroup {} is left behind", d.display());
    }
    ensure!(
        !root.join(&id).exists(),
        "the runtime's state {} is left behind",
        root.join(&id).display()
    );
    let rt = c.runtime().binary.to_string_lossy().into_owned();
    let state = ctx.runner.run(
        &rt,
        &[
            "--root".into(),
            root.to_string_lossy().into_owned(),
            "state".into(),
            id.clone(),
        ],
    )?;
    ensure!(
        !state.success(),
        "`{rt} state {id}` still answers after the delete: {}",
        state.stdout.trim()
    );
    Ok(())
}

fn logs(c: &mut dyn Client, name: &str) -> Result<()> {
    let script = "trap 'exit 0' TERM; echo log-line-1; echo log-err-2 >&2; echo log-line-3; sleep 1000 & wait";
    c.run_detached(name, &["sh", "-c", script], None)?;
    let want = ["log-line-1", "log-err-2", "log-line-3"];
    let mut last = String::new();
    let seen = poll(Duration::from_secs(20), || match c.logs(name) {
        Ok(l) if want.iter().all(|w| l.contains(w)) => Some(()),
        Ok(l) => {
            last = l;
            None
        }
        Err(e) => {
            last = format!("{e:#}");
            None
        }
    });
    ensure!(
        seen.is_some(),
        "the logs do not show {want:?} within 20s: {last:?}"
    );
    c.remove(name, true)
}

fn stats(c: &mut dyn Client, name: &str) -> Result<()> {
    c.run_detached(name, &["sh", "-c", SERVE], None)?;
    wait_ready(c, name)?;
    let s = c.stats(name)?;
    ensure!(
        matches!(s.memory_usage, Some(u) if u > 0),
        "no memory usage in the stats: {s:?}"
    );
    ensure!(
        matches!(s.pids, Some(p) if p >= 2),
        "the stats do not count the container's 2 processes: {s:?}"
    );
    c.remove(name, true)
}

/// Plays the user on a terminal client running [`tty_script`].
fn drive_terminal(run: crate::pty::PtyRun, ctx: &Ctx<'_>) -> Result<()> {
    let mut run = run;
    run.wait_for("READY", Duration::from_secs(30))?;
    run.type_text("hello-tty\r")?;
    let (code, screen) = run.finish(ctx.runner, Duration::from_secs(30))?;
    ensure!(
        code == 4,
        "the terminal client exited {code}, expected 4; screen: {screen:?}"
    );
    ensure!(
        screen.contains("tty-yes"),
        "stdin/stdout are not a tty: {screen:?}"
    );
    let size = format!("size={ROWS} {COLS}");
    ensure!(
        screen.contains(&size),
        "the container's terminal is not {ROWS}x{COLS}: {screen:?}"
    );
    ensure!(
        screen.contains("got:hello-tty"),
        "typed input did not reach the container: {screen:?}"
    );
    Ok(())
}

fn tty(c: &mut dyn Client, ctx: &Ctx<'_>, name: &str) -> Result<()> {
    let script = tty_script();
    let run = c.run_tty(name, &["sh", "-c", &script])?;
    drive_terminal(run, ctx)?;
    let gone = poll(Duration::from_secs(10), || {
        (!c.exists(name).unwrap_or(true)).then_some(())
    });
    ensure!(
        gone.is_some(),
        "the --rm terminal container is still listed"
    );
    Ok(())
}

fn exec_tty(c: &mut dyn Client, ctx: &Ctx<'_>, name: &str) -> Result<()> {
    c.run_detached(name, &["sh", "-c", SERVE], None)?;
    let script = tty_script();
    let run = c.exec_tty(name, &["sh", "-c", &script])?;
    drive_terminal(run, ctx)?;
    ensure!(
        c.status(name)? == Status::Running,
        "the container is not running after the terminal exec"
    );
    c.remove(name, true)
}

fn limits(c: &mut dyn Client, ctx: &Ctx<'_>, name: &str) -> Result<()> {
    let limits = Limits {
        memory_bytes: MEMORY_LIMIT,
        pids: PIDS_LIMIT,
    };
    c.run_detached(name, &["sh", "-c", SERVE], Some(limits))?;
    let pid = c.init_pid(name)?;
    let membership = Membership::read(ctx.proc, pid)?;
    if let Some(expected) = c.expected_cgroup(name)? {
        for (ctrls, path) in &membership.lines {
            ensure!(
                *path == expected,
                "the init sits in {path} for {:?}, the client asked for {expected}",
                ctrls.join(",")
            );
        }
    }
    let files = Files {
        mounts: ctx.mounts,
        membership,
    };
    let mem = files.memory_limit()?;
    ensure!(
        mem == Some(MEMORY_LIMIT),
        "memory limit in the cgroup is {mem:?}, expected {MEMORY_LIMIT}"
    );
    let pids = files.pids_limit()?;
    ensure!(
        pids == Some(PIDS_LIMIT),
        "pids limit in the cgroup is {pids:?}, expected {PIDS_LIMIT}"
    );
    c.remove(name, true)
}

fn stop_timeout(c: &mut dyn Client, name: &str) -> Result<()> {
    c.run_detached(name, &["sh", "-c", IGNORE_TERM], None)?;
    wait_ready(c, name)?;
    c.stop(name, Duration::from_secs(2))?;
    let code = c.wait_exit(name)?;
    ensure!(
        code == 137,
        "a container ignoring SIGTERM exited {code} after stop, expected 137 (SIGKILL)"
    );
    c.remove(name, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn between_takes_the_marked_lines() {
        let t = "a\nfds-begin\n0\n1\n2\nfds-end\nenv-end\n";
        assert_eq!(between(t, "fds-begin", "fds-end").unwrap(), ["0", "1", "2"]);
        assert!(between(t, "fds-end", "env-end").unwrap().is_empty());
        assert!(between(t, "x", "fds-end").is_err());
    }

    #[test]
    fn only_stdio_and_no_oci_variables_pass() {
        let clean = "x\nfds-begin\n0\n1\n2\nfds-end\nenv-end\n";
        assert!(check_fds_and_env(clean, "p").is_ok());
        let leaked = "fds-begin\n0\n1\n2\n3\nfds-end\nenv-end\n";
        let err = check_fds_and_env(leaked, "p").unwrap_err().to_string();
        assert!(err.contains("[\"0\", \"1\", \"2\", \"3\"]"), "{err}");
        let env = "fds-begin\n0\n1\n2\nfds-end\n_OCI_SYNCPIPE=3\nenv-end\n";
        let err = check_fds_and_env(env, "p").unwrap_err().to_string();
        assert!(err.contains("_OCI_SYNCPIPE=3"), "{err}");
    }

    #[test]
    fn scenario_names_are_the_cli_names() {
        assert_eq!(Scenario::StopTimeout.to_string(), "stop-timeout");
        assert_eq!(Scenario::all().len(), 13);
        assert_eq!(Scenario::all()[0], Scenario::OneShot);
    }

    #[test]
    fn the_tty_script_waits_for_the_lanes_size() {
        assert!(tty_script().contains(&format!("'{ROWS} {COLS}'")));
    }
}
