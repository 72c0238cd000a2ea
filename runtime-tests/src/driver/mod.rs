//! The driver: per-test context, runtime CLI, bundles, host facts, cgroups, and the runner.

pub mod bundle;
pub mod cgroups;
pub mod console;
pub mod expected;
pub mod host;
pub mod hostmount;
pub mod mountinfo;
pub mod registry;
pub mod requirements;
pub mod runner;
pub mod runtime;
pub mod schema;
pub mod spec;
mod sys;

use anyhow::{bail, ensure, Context, Result};
use bundle::Bundle;
use console::{Console, ConsoleSocket};
use host::Host;
use runtime::{Container, Outcome};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The background seccomp agent: yields (payload, number of descriptors received).
pub type AgentThread = std::thread::JoinHandle<Result<(Vec<u8>, usize)>>;

/// What a test gets: the host facts, the runtime, and a private directory and `--root`.
pub struct Ctx<'a> {
    pub host: &'a Host,
    pub runtime: PathBuf,
    pub runtime_name: String,
    /// the test's own directory (bundles, stdio files, logs); removed afterwards
    pub dir: PathBuf,
    /// the runtime's `--root`
    pub state_root: PathBuf,
    pub log_file: PathBuf,
    pub id_prefix: String,
    /// absolute cgroup path under which `@auto` cgroupsPaths are made (per run)
    pub cgroup_base: String,
    pub timeout: Duration,
    pub template: &'a Path,
    pub spec_dir: &'a Path,
    counter: AtomicU32,
}

impl<'a> Ctx<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        host: &'a Host,
        runtime: &Path,
        dir: PathBuf,
        id_prefix: String,
        cgroup_base: String,
        timeout: Duration,
        template: &'a Path,
        spec_dir: &'a Path,
    ) -> Result<Ctx<'a>> {
        fs::create_dir_all(&dir).with_context(|| format!("mkdir {}", dir.display()))?;
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))?;
        let state_root = dir.join("state");
        let log_file = dir.join("runtime.log");
        Ok(Ctx {
            host,
            runtime: runtime.to_path_buf(),
            runtime_name: runtime
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            dir,
            state_root,
            log_file,
            id_prefix,
            cgroup_base,
            timeout,
            template,
            spec_dir,
            counter: AtomicU32::new(0),
        })
    }

    pub fn next(&self) -> u32 {
        self.counter.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The base config running `/bin/probe report ARGS`.
    pub fn spec(&self, probe_args: &[&str]) -> serde_json::Value {
        spec::base(probe_args)
    }

    /// A fresh directory inside the test's directory (mode 0755).
    pub fn scratch(&self, name: &str) -> Result<PathBuf> {
        let d = self.dir.join(format!("{name}{}", self.next()));
        fs::create_dir_all(&d)?;
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755))?;
        Ok(d)
    }

    /// `create --console-socket`: returns the container and its terminal.
    pub fn create_with_console(&self, b: &Bundle) -> Result<(Container<'_>, Console)> {
        let sock_path = self.dir.join(format!("console{}.sock", self.next()));
        let sock = ConsoleSocket::bind(&sock_path)?;
        let c = runtime_container_guard(self, b);
        let bundle = b.dir.to_string_lossy().into_owned();
        let pid_file = c.pid_file.to_string_lossy().into_owned();
        let sp = sock_path.to_string_lossy().into_owned();
        let args = [
            "create",
            "--bundle",
            &bundle,
            "--pid-file",
            &pid_file,
            "--console-socket",
            &sp,
            &b.id,
        ];
        let mut cmd = self.command(&args);
        cmd.current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&c.stdout_path)?)
            .stderr(fs::File::create(&c.stderr_path)?);
        let display = format!("{} {}", self.runtime_name, args.join(" "));
        let mut child = cmd.spawn()?;
        let mut exited = None;
        let console = sock.accept(self.timeout, || match child.try_wait() {
            Ok(Some(s)) => {
                exited = Some(s);
                false
            }
            Ok(None) => true,
            Err(_) => false,
        });
        let status = match exited {
            Some(s) => s,
            None => self.wait_child(&mut child, &display)?,
        };
        let console = console.with_context(|| {
            format!(
                "`{display}` exited {status}: {}",
                fs::read_to_string(&c.stderr_path)
                    .unwrap_or_default()
                    .trim()
            )
        })?;
        if !status.success() {
            bail!("`{display}` failed ({status}): {}", c.stderr().trim());
        }
        Ok((c, console))
    }

    /// Acts as a seccomp agent on `listener` in the background: the returned thread accepts
    /// one connection (whenever the runtime makes it: during create or start), reads the
    /// payload, closes the received descriptors and returns (payload, number of descriptors).
    pub fn seccomp_agent(&self, listener: &Path) -> Result<AgentThread> {
        let sock = ConsoleSocket::bind(listener)?;
        let timeout = self.timeout;
        Ok(std::thread::spawn(move || {
            let (data, fds) = sock.accept_message(timeout, || true)?;
            Ok((data, fds.len()))
        }))
    }

    /// Checks that a failed create left nothing: `state` fails, no state entry in `--root`,
    /// no cgroup of the bundle's cgroupsPath, no process using the bundle.
    pub fn nothing_left(&self, b: &Bundle) -> Result<()> {
        let o: Outcome = self.exec(&["state", &b.id])?;
        ensure!(
            !o.success(),
            "`state {}` still succeeds: {}",
            b.id,
            o.stdout.trim()
        );
        if let Ok(rd) = fs::read_dir(&self.state_root) {
            let left: Vec<String> = rd
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(&b.id))
                .collect();
            ensure!(left.is_empty(), "state left in --root: {left:?}");
        }
        self.no_cgroup_left(b)?;
        let procs = processes_using(&b.dir);
        ensure!(
            procs.is_empty(),
            "processes still use the bundle: {procs:?}"
        );
        Ok(())
    }

    /// No directory of the bundle's cgroupsPath exists in any hierarchy.
    pub fn no_cgroup_left(&self, b: &Bundle) -> Result<()> {
        if let Some(p) = &b.cgroups_path {
            let left: Vec<PathBuf> = cgroups::dirs_for_path(self.host, p)
                .into_iter()
                .filter(|d| d.exists())
                .collect();
            ensure!(left.is_empty(), "cgroups left behind: {left:?}");
        }
        Ok(())
    }
}

fn runtime_container_guard<'c>(ctx: &'c Ctx<'c>, b: &Bundle) -> Container<'c> {
    Container::guard(ctx, b)
}

/// Pids whose cwd, root or command line points into `dir`.
pub fn processes_using(dir: &Path) -> Vec<i32> {
    let d = dir.to_string_lossy().into_owned();
    let mut v = Vec::new();
    let Ok(rd) = fs::read_dir("/proc") else {
        return v;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == std::process::id() as i32 {
            continue;
        }
        let p = e.path();
        let hit = ["cwd", "root"]
            .iter()
            .any(|l| fs::read_link(p.join(l)).is_ok_and(|t| t.to_string_lossy().starts_with(&d)))
            || fs::read(p.join("cmdline")).is_ok_and(|c| String::from_utf8_lossy(&c).contains(&d));
        if hit {
            v.push(pid);
        }
    }
    v
}
