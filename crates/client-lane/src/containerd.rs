//! containerd: the lane's own daemon (private root, state and socket; the CRI plugin off) and
//! `ctr` driving the runc shim (`io.containerd.runc.v2`) with the runtime as its `BinaryName`
//! (`ctr run --runc-binary`).

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

use crate::client::{Client, ClientKind, Limits, Runtime, Stats, Status};
use crate::cmd::{args, poll, wait_timeout, Output, Runner};
use crate::pty::PtyRun;

/// The shim's default runtime root (`ctr run --runc-root` is not used: the lane runs the
/// runtime where a real node runs it).
pub const SHIM_RUNC_ROOT: &str = "/run/containerd/runc";

/// config.toml for the lane's containerd: everything under `dir`, the CRI plugin disabled (ctr
/// does not need it), the opt plugin kept out of /opt.
pub fn config_toml(dir: &Path, address: &Path) -> String {
    format!(
        r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "{address}"

[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"
"#,
        root = dir.join("root").display(),
        state = dir.join("state").display(),
        address = address.display(),
        opt = dir.join("opt").display(),
    )
}

/// The CRI plugin's runtime handler for minke, as docs/integration.md gives it (a Kubernetes
/// RuntimeClass with `handler: minke` selects it).
pub fn runtime_class_toml(binary: &Path) -> String {
    format!(
        r#"[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.minke]
  runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.minke.options]
    BinaryName = "{}"
    SystemdCgroup = false
"#,
        binary.display()
    )
}

/// Checks that containerd accepts [`runtime_class_toml`]: `containerd config dump` of a config
/// holding it must show the handler with its BinaryName. Nothing is started.
pub fn check_runtime_class(runner: &Runner, dir: &Path, binary: &Path) -> Result<()> {
    fs::create_dir_all(dir)?;
    let config = dir.join("runtime-class.toml");
    let toml = format!(
        "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\n\n{}",
        runtime_class_toml(binary),
        root = dir.join("root").display(),
        state = dir.join("state").display(),
    );
    fs::write(&config, toml)?;
    let out = runner.check(
        "containerd",
        &args(&["--config", &config.to_string_lossy(), "config", "dump"]),
    )?;
    let section = out
        .stdout
        .split("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.minke.options]")
        .nth(1)
        .context("containerd config dump does not show the minke handler's options")?;
    let want = format!("BinaryName = \"{}\"", binary.display());
    ensure!(
        section.lines().take(20).any(|l| l.trim() == want),
        "containerd config dump does not show {want} for the minke handler"
    );
    let runtime_type = "runtime_type = \"io.containerd.runc.v2\"";
    ensure!(
        out.stdout.contains(runtime_type),
        "containerd config dump lost {runtime_type}"
    );
    Ok(())
}

/// The lane's containerd.
pub struct Containerd<'r> {
    runner: &'r Runner,
    pub dir: PathBuf,
    pub address: PathBuf,
    pub namespace: String,
    pub image: String,
    /// Where rootfs-path containers (the limits scenario) get their rootfs.
    rootfs: PathBuf,
    child: Option<Child>,
    log: PathBuf,
    /// containerd's default spec (`ctr oci spec`), the base of `--config` runs.
    default_spec: Option<Value>,
}

impl<'r> Containerd<'r> {
    /// Starts containerd with its root, state and socket under `dir` and waits until it answers.
    pub fn start(
        runner: &'r Runner,
        dir: &Path,
        namespace: &str,
        image: &str,
        rootfs: &Path,
    ) -> Result<Self> {
        fs::create_dir_all(dir)?;
        let address = dir.join("containerd.sock");
        let config = dir.join("config.toml");
        fs::write(&config, config_toml(dir, &address))?;
        let log = dir.join("containerd.log");
        let log_file = File::create(&log)?;
        runner.note(&format!(
            "$ containerd --config {}  (daemon)",
            config.display()
        ));
        let child = Command::new("containerd")
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_file.try_clone()?))
            .stderr(Stdio::from(log_file))
            .spawn()
            .context("starting containerd")?;
        let mut ctd = Containerd {
            runner,
            dir: dir.to_path_buf(),
            address,
            namespace: namespace.to_string(),
            image: image.to_string(),
            rootfs: rootfs.to_path_buf(),
            child: Some(child),
            log,
            default_spec: None,
        };
        let up = poll(Duration::from_secs(30), || {
            if let Some(c) = ctd.child.as_mut() {
                if let Ok(Some(_)) = c.try_wait() {
                    return Some(false);
                }
            }
            let ok =
                ctd.address.exists() && ctd.ctr(&["version"]).map(|o| o.success()).unwrap_or(false);
            ok.then_some(true)
        });
        if up != Some(true) {
            let log = fs::read_to_string(&ctd.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            bail!(
                "containerd did not come up (log {}: {})",
                ctd.log.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            );
        }
        Ok(ctd)
    }

    /// The daemon's pid.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Runs `ctr --address A --namespace N args`.
    pub fn ctr(&self, list: &[&str]) -> Result<Output> {
        self.ctr_timeout(list, self.runner.timeout)
    }

    fn ctr_timeout(&self, list: &[&str], timeout: Duration) -> Result<Output> {
        self.runner.run_with("ctr", &self.ctr_args(list), timeout)
    }

    fn ctr_check(&self, list: &[&str]) -> Result<Output> {
        self.runner.check("ctr", &self.ctr_args(list))
    }

    fn ctr_args(&self, list: &[&str]) -> Vec<String> {
        let mut v = args(&[
            "--address",
            &self.address.to_string_lossy(),
            "--namespace",
            &self.namespace,
        ]);
        v.extend(list.iter().map(|s| s.to_string()));
        v
    }

    /// `ctr images import` of an OCI archive.
    pub fn import(&mut self, archive: &Path) -> Result<()> {
        self.ctr_check(&["images", "import", &archive.to_string_lossy()])?;
        let out = self.ctr_check(&["images", "ls", "-q"])?;
        ensure!(
            out.stdout.lines().any(|l| l.trim() == self.image),
            "ctr images import did not make {} (images: {:?})",
            self.image,
            out.stdout
        );
        let spec = self.ctr_check(&["oci", "spec"])?;
        self.default_spec =
            Some(serde_json::from_str(&spec.stdout).context("parsing `ctr oci spec`")?);
        Ok(())
    }

    /// Removes every container and image of the lane's namespace (a task is killed first).
    /// Returns the containers the scenarios left (each a problem).
    pub fn clear(&self) -> Result<Vec<String>> {
        let list = self.ctr_check(&["containers", "ls", "-q"])?;
        let mut problems = Vec::new();
        for id in list.stdout.lines().map(str::trim).filter(|l| !l.is_empty()) {
            problems.push(format!("container {id} left in containerd"));
            force_remove(self, id);
        }
        let left = self.ctr_check(&["containers", "ls", "-q"])?;
        ensure!(
            left.stdout.trim().is_empty(),
            "containers left in containerd: {}",
            left.stdout.trim()
        );
        let _ = self.ctr(&["images", "rm", &self.image]);
        Ok(problems)
    }

    /// Stops the daemon by its pid: SIGTERM, then SIGKILL if it is still there after 15 s.
    pub fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        self.runner
            .note(&format!("stopping containerd (pid {})", child.id()));
        let pid = Pid::from_raw(child.id() as i32);
        if let Ok(None) = child.try_wait() {
            let _ = kill(pid, Signal::SIGTERM);
        }
        match wait_timeout(&mut child, Duration::from_secs(15)) {
            Some(_) => Ok(()),
            None => bail!("containerd (pid {pid}) did not stop on SIGTERM within 15s: killed"),
        }
    }

    /// The root the shim runs the runtime with: `/run/containerd/runc/<namespace>`.
    pub fn runc_root(&self) -> PathBuf {
        Path::new(SHIM_RUNC_ROOT).join(&self.namespace)
    }

    /// A client for one runtime.
    pub fn client(&self, runtime: Runtime) -> Result<CtrClient<'_, 'r>> {
        let base = self.dir.join(format!("{}", runtime.kind));
        for d in ["fifo", "logs", "specs"] {
            fs::create_dir_all(base.join(d))?;
        }
        Ok(CtrClient {
            ctd: self,
            rt: runtime,
            base,
            exec_seq: 0,
        })
    }
}

impl Drop for Containerd<'_> {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// `ctr` with one runtime.
pub struct CtrClient<'c, 'r> {
    ctd: &'c Containerd<'r>,
    rt: Runtime,
    base: PathBuf,
    exec_seq: u32,
}

impl CtrClient<'_, '_> {
    fn fifo_dir(&self) -> String {
        self.base.join("fifo").to_string_lossy().into_owned()
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.base.join("logs").join(format!("{name}.log"))
    }

    fn binary(&self) -> String {
        self.rt.wrapper.to_string_lossy().into_owned()
    }

    /// `ctr task ls` as (id, pid, status).
    fn tasks(&self) -> Result<Vec<(String, u32, String)>> {
        let out = self.ctd.ctr_check(&["task", "ls"])?;
        Ok(parse_task_ls(&out.stdout))
    }

    fn task(&self, name: &str) -> Result<Option<(u32, Status)>> {
        Ok(self
            .tasks()?
            .into_iter()
            .find(|(id, _, _)| id == name)
            .map(|(_, pid, st)| (pid, parse_status(&st))))
    }

    fn wait_status(&self, name: &str, want: Status, timeout: Duration) -> Result<()> {
        let mut last = None;
        let reached = poll(timeout, || match self.task(name) {
            Ok(Some((_, s))) if s == want => Some(()),
            other => {
                last = Some(format!("{other:?}"));
                None
            }
        });
        reached.with_context(|| {
            format!(
                "task {name} did not become {want:?} within {}s (last: {})",
                timeout.as_secs(),
                last.unwrap_or_default()
            )
        })
    }

    fn exec_id(&mut self, name: &str) -> String {
        self.exec_seq += 1;
        format!("{name}-exec{}", self.exec_seq)
    }

    /// containerd's default spec with the process, rootfs, cgroup and limits of a `--config` run.
    fn config_spec(&self, name: &str, list: &[&str], limits: Limits) -> Result<Value> {
        let mut spec = self
            .ctd
            .default_spec
            .clone()
            .context("no default spec: the image was not imported")?;
        spec["root"] = json!({ "path": self.ctd.rootfs, "readonly": false });
        spec["process"]["args"] = json!(list);
        spec["process"]["env"] =
            json!(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]);
        spec["process"]["terminal"] = json!(false);
        spec["hostname"] = json!(name);
        spec["linux"]["cgroupsPath"] = json!(format!("/{}/{name}", self.ctd.namespace));
        spec["linux"]["resources"]["memory"] = json!({ "limit": limits.memory_bytes });
        spec["linux"]["resources"]["pids"] = json!({ "limit": limits.pids });
        Ok(spec)
    }
}

/// Parses `ctr task ls`: `TASK PID STATUS` rows.
pub fn parse_task_ls(text: &str) -> Vec<(String, u32, String)> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let id = w.next()?.to_string();
            let pid = w.next()?.parse().ok()?;
            let st = w.next()?.to_string();
            Some((id, pid, st))
        })
        .collect()
}

fn parse_status(s: &str) -> Status {
    match s {
        "CREATED" => Status::Created,
        "RUNNING" => Status::Running,
        "PAUSED" | "PAUSING" => Status::Paused,
        "STOPPED" => Status::Stopped,
        _ => Status::Other,
    }
}

/// The exit code `ctr task delete` reports: it warns "task X exit with non-zero exit code N"
/// and says nothing for 0.
pub fn parse_delete_exit(stderr: &str) -> Result<i32> {
    const MARK: &str = "exit with non-zero exit code ";
    match stderr.find(MARK) {
        None => Ok(0),
        Some(i) => {
            let digits: String = stderr[i + MARK.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits
                .parse()
                .with_context(|| format!("no exit code in {stderr:?}"))
        }
    }
}

/// Parses `ctr task metrics` (v1 or v2 names).
pub fn parse_metrics(text: &str) -> Stats {
    let mut stats = Stats::default();
    for line in text.lines() {
        let mut w = line.split_whitespace();
        let (Some(key), Some(value)) = (w.next(), w.next()) else {
            continue;
        };
        let Ok(v) = value.parse::<u64>() else {
            continue;
        };
        match key {
            "memory.usage_in_bytes" | "memory.usage" => stats.memory_usage = Some(v),
            "memory.limit_in_bytes" | "memory.usage_limit" => stats.memory_limit = Some(v),
            "pids.current" => stats.pids = Some(v),
            _ => {}
        }
    }
    stats
}

/// Kills and deletes a container's task and the container, ignoring errors.
fn force_remove(ctd: &Containerd<'_>, name: &str) {
    let short = Duration::from_secs(20);
    let _ = ctd.ctr_timeout(&["task", "kill", "-s", "SIGKILL", name], short);
    let _ = ctd.ctr_timeout(&["task", "delete", "--force", name], short);
    let _ = ctd.ctr_timeout(&["containers", "delete", name], short);
}

impl Client for CtrClient<'_, '_> {
    fn kind(&self) -> ClientKind {
        ClientKind::Containerd
    }

    fn runtime(&self) -> &Runtime {
        &self.rt
    }

    fn run(&mut self, name: &str, list: &[&str]) -> Result<Output> {
        let mut a = vec![
            "run".to_string(),
            "--rm".into(),
            "--fifo-dir".into(),
            self.fifo_dir(),
            "--runc-binary".into(),
            self.binary(),
            self.ctd.image.clone(),
            name.into(),
        ];
        a.extend(list.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        self.ctd.ctr(&refs)
    }

    fn run_detached(&mut self, name: &str, list: &[&str], limits: Option<Limits>) -> Result<()> {
        let log_uri = format!("file://{}", self.log_path(name).display());
        let binary = self.binary();
        let mut a: Vec<String> =
            args(&["run", "-d", "--log-uri", &log_uri, "--runc-binary", &binary]);
        match limits {
            Some(l) => {
                // ctr has no pids flag: the limits go in a whole spec (containerd's default
                // spec, the lane's rootfs), as `ctr run --config`.
                let spec = self.config_spec(name, list, l)?;
                let path = self.base.join("specs").join(format!("{name}.json"));
                fs::write(&path, serde_json::to_vec_pretty(&spec)?)?;
                a.extend(args(&["--config", &path.to_string_lossy(), name]));
            }
            None => {
                a.push(self.ctd.image.clone());
                a.push(name.to_string());
                a.extend(list.iter().map(|s| s.to_string()));
            }
        }
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        let out = self.ctd.ctr(&refs)?;
        ensure!(out.success(), "ctr run -d failed: {}", out.brief());
        self.wait_status(name, Status::Running, Duration::from_secs(20))
    }

    fn run_tty(&mut self, name: &str, list: &[&str]) -> Result<PtyRun> {
        let fifo = self.fifo_dir();
        let binary = self.binary();
        let mut a = self.ctd.ctr_args(&[
            "run",
            "-t",
            "--rm",
            "--fifo-dir",
            &fifo,
            "--runc-binary",
            &binary,
            &self.ctd.image,
            name,
        ]);
        a.extend(list.iter().map(|s| s.to_string()));
        PtyRun::spawn(self.ctd.runner, "ctr", &a)
    }

    fn exec(&mut self, name: &str, list: &[&str]) -> Result<Output> {
        let exec_id = self.exec_id(name);
        let fifo = self.fifo_dir();
        let mut a = vec![
            "task",
            "exec",
            "--exec-id",
            &exec_id,
            "--fifo-dir",
            &fifo,
            name,
        ];
        a.extend_from_slice(list);
        self.ctd.ctr(&a)
    }

    fn exec_tty(&mut self, name: &str, list: &[&str]) -> Result<PtyRun> {
        let exec_id = self.exec_id(name);
        let fifo = self.fifo_dir();
        let mut a = self.ctd.ctr_args(&[
            "task",
            "exec",
            "-t",
            "--exec-id",
            &exec_id,
            "--fifo-dir",
            &fifo,
            name,
        ]);
        a.extend(list.iter().map(|s| s.to_string()));
        PtyRun::spawn(self.ctd.runner, "ctr", &a)
    }

    fn processes(&mut self, name: &str) -> Result<Vec<String>> {
        let out = self.ctd.ctr_check(&["task", "ps", name])?;
        // `ctr task ps` lists host pids; their names come from /proc.
        let mut names = Vec::new();
        for line in out.stdout.lines().skip(1) {
            let Some(pid) = line.split_whitespace().next() else {
                continue;
            };
            let comm = fs::read_to_string(format!("/proc/{pid}/comm"))
                .with_context(|| format!("ctr task ps listed pid {pid}, which is gone"))?;
            names.push(comm.trim().to_string());
        }
        Ok(names)
    }

    fn pause(&mut self, name: &str) -> Result<()> {
        self.ctd.ctr_check(&["task", "pause", name]).map(drop)
    }

    fn resume(&mut self, name: &str) -> Result<()> {
        self.ctd.ctr_check(&["task", "resume", name]).map(drop)
    }

    fn status(&mut self, name: &str) -> Result<Status> {
        self.task(name)?
            .map(|(_, s)| s)
            .with_context(|| format!("ctr task ls does not list {name}"))
    }

    fn init_pid(&mut self, name: &str) -> Result<u32> {
        self.task(name)?
            .map(|(p, _)| p)
            .with_context(|| format!("ctr task ls does not list {name}"))
    }

    fn kill(&mut self, name: &str, signal: &str) -> Result<()> {
        let sig = format!("SIG{signal}");
        self.ctd
            .ctr_check(&["task", "kill", "-s", &sig, name])
            .map(drop)
    }

    fn stop(&mut self, name: &str, timeout: Duration) -> Result<()> {
        // ctr has no stop: what `docker stop -t` does, by hand.
        self.kill(name, "TERM")?;
        let stopped = poll(timeout, || {
            matches!(self.task(name), Ok(Some((_, Status::Stopped)))).then_some(())
        });
        if stopped.is_none() {
            self.kill(name, "KILL")?;
        }
        self.wait_status(name, Status::Stopped, Duration::from_secs(20))
    }

    fn wait_exit(&mut self, name: &str) -> Result<i32> {
        self.wait_status(name, Status::Stopped, Duration::from_secs(30))?;
        // ctr reports a detached task's exit status only when the task is deleted.
        let out = self.ctd.ctr(&["task", "delete", name])?;
        ensure!(out.success(), "ctr task delete failed: {}", out.brief());
        parse_delete_exit(&out.stderr)
    }

    fn remove(&mut self, name: &str, force: bool) -> Result<()> {
        if self.task(name)?.is_some() {
            let mut a = vec!["task", "delete"];
            if force {
                a.push("--force");
            }
            a.push(name);
            let out = self.ctd.ctr(&a)?;
            ensure!(out.success(), "ctr task delete failed: {}", out.brief());
        }
        self.ctd
            .ctr_check(&["containers", "delete", name])
            .map(drop)
    }

    fn exists(&mut self, name: &str) -> Result<bool> {
        let out = self.ctd.ctr_check(&["containers", "ls", "-q"])?;
        Ok(out.stdout.lines().any(|l| l.trim() == name))
    }

    fn logs(&mut self, name: &str) -> Result<String> {
        let path = self.log_path(name);
        match fs::read_to_string(&path) {
            Ok(s) => Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    fn stats(&mut self, name: &str) -> Result<Stats> {
        let out = self.ctd.ctr_check(&["task", "metrics", name])?;
        Ok(parse_metrics(&out.stdout))
    }

    fn runtime_id(&mut self, name: &str) -> Result<String> {
        Ok(name.to_string())
    }

    fn runtime_root(&self) -> PathBuf {
        self.ctd.runc_root()
    }

    fn expected_cgroup(&mut self, name: &str) -> Result<Option<String>> {
        // ctr's default cgroupsPath (and the one `--config` runs are given).
        Ok(Some(format!("/{}/{name}", self.ctd.namespace)))
    }

    fn missing_command_status(&self) -> Option<i32> {
        None
    }

    fn force_cleanup(&mut self, name: &str) {
        force_remove(self.ctd, name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_keeps_everything_under_the_lane_dir() {
        let t = config_toml(
            Path::new("/tmp/l/containerd"),
            Path::new("/tmp/l/containerd/c.sock"),
        );
        assert!(t.contains("root = \"/tmp/l/containerd/root\""));
        assert!(t.contains("state = \"/tmp/l/containerd/state\""));
        assert!(t.contains("address = \"/tmp/l/containerd/c.sock\""));
        assert!(t.contains("path = \"/tmp/l/containerd/opt\""));
        assert!(t.contains("disabled_plugins = [\"io.containerd.grpc.v1.cri\"]"));
    }

    #[test]
    fn the_docs_give_the_runtime_class_handler_the_lane_checks() {
        let docs = include_str!("../../../docs/integration.md");
        let snippet = runtime_class_toml(Path::new("/usr/local/bin/minke"));
        assert!(
            docs.contains(&snippet),
            "docs/integration.md lacks:\n{snippet}"
        );
    }

    #[test]
    fn task_ls_and_status_are_parsed() {
        let text =
            "TASK    PID      STATUS    \nt2      15153    RUNNING\nt3      0        STOPPED\n";
        assert_eq!(
            parse_task_ls(text),
            [
                ("t2".into(), 15153, "RUNNING".into()),
                ("t3".into(), 0, "STOPPED".into())
            ]
        );
        assert_eq!(parse_status("PAUSED"), Status::Paused);
    }

    #[test]
    fn delete_exit_code_comes_from_ctrs_warning() {
        let w = "time=\"2026-11-22T00:42:06Z\" level=warning msg=\"task t2 exit with non-zero exit code 137\"\n";
        assert_eq!(parse_delete_exit(w).unwrap(), 137);
        assert_eq!(parse_delete_exit("").unwrap(), 0);
    }

    #[test]
    fn metrics_of_v1_and_v2_are_read() {
        let v1 = "ID    TIMESTAMP\nt2    2026\n\nMETRIC                   VALUE\nmemory.usage_in_bytes    753664\nmemory.limit_in_bytes    9223372036854771712\npids.current             1\npids.limit               0\n";
        assert_eq!(
            parse_metrics(v1),
            Stats {
                memory_usage: Some(753664),
                memory_limit: Some(9223372036854771712),
                pids: Some(1)
            }
        );
        let v2 =
            "METRIC  VALUE\npids.current  2\nmemory.usage  4096\nmemory.usage_limit  67108864\n";
        assert_eq!(
            parse_metrics(v2),
            Stats {
                memory_usage: Some(4096),
                memory_limit: Some(67108864),
                pids: Some(2)
            }
        );
    }
}
