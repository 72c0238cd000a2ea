//! podman with a private storage root, run root, tmp dir and network config dir, the cgroupfs
//! manager (no systemd here), the file events backend, and the runtime given by path
//! (`--runtime`). conmon runs the runtime; podman never passes `--root`, so the runtime keeps
//! its state in its default root.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{ensure, Context, Result};

use crate::client::{Client, ClientKind, Limits, Runtime, Stats, Status};
use crate::cmd::{args, poll, Output, Runner};
use crate::pty::PtyRun;

/// containers.conf for minke, as docs/integration.md gives it: the default runtime, its path,
/// JSON logs from conmon (`--log-format=json --log`) and the cgroupfs manager (minke refuses
/// `--systemd-cgroup`).
pub fn containers_conf(binary: &Path) -> String {
    format!(
        r#"[engine]
runtime = "minke"
cgroup_manager = "cgroupfs"
runtime_supports_json = ["crun", "runc", "kata", "runsc", "krun", "minke"]

[engine.runtimes]
minke = ["{}"]
"#,
        binary.display()
    )
}

/// The lane's podman setup.
pub struct Podman<'r> {
    runner: &'r Runner,
    global: Vec<String>,
    /// `--cgroup-parent` of every container: the lane's own subtree.
    pub cgroup_parent: String,
    pub image: String,
}

/// podman's global flags for a lane whose files are all under `dir`.
pub fn global_flags(dir: &Path) -> Vec<String> {
    let d = |s: &str| dir.join(s).to_string_lossy().into_owned();
    args(&[
        "--root",
        &d("root"),
        "--runroot",
        &d("runroot"),
        "--tmpdir",
        &d("tmp"),
        "--network-config-dir",
        &d("networks"),
        "--cgroup-manager",
        "cgroupfs",
        "--events-backend",
        "file",
    ])
}

impl<'r> Podman<'r> {
    pub fn new(runner: &'r Runner, dir: &Path, cgroup_parent: &str, image: &str) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Podman {
            runner,
            global: global_flags(dir),
            cgroup_parent: cgroup_parent.to_string(),
            image: image.to_string(),
        })
    }

    fn args_with(&self, runtime: Option<&Path>, list: &[&str]) -> Vec<String> {
        let mut v = self.global.clone();
        if let Some(rt) = runtime {
            v.push("--runtime".into());
            v.push(rt.to_string_lossy().into_owned());
        }
        v.extend(list.iter().map(|s| s.to_string()));
        v
    }

    /// `podman import` of a rootfs tar as the lane's image.
    pub fn import(&self, rootfs_tar: &Path) -> Result<()> {
        self.runner.check(
            "podman",
            &self.args_with(
                None,
                &[
                    "import",
                    "--quiet",
                    &rootfs_tar.to_string_lossy(),
                    &self.image,
                ],
            ),
        )?;
        Ok(())
    }

    /// Removes every container (forcibly) and every image of the lane's storage. Returns the
    /// containers the scenarios left (each a problem).
    pub fn clear(&self) -> Result<Vec<String>> {
        let before = self.runner.check(
            "podman",
            &self.args_with(None, &["ps", "--all", "--format", "{{.Names}}"]),
        )?;
        let problems: Vec<String> = before
            .stdout
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|n| format!("container {n} left in podman"))
            .collect();
        self.runner.check(
            "podman",
            &self.args_with(None, &["rm", "--all", "--force", "--time", "0"]),
        )?;
        let left = self
            .runner
            .check("podman", &self.args_with(None, &["ps", "--all", "--quiet"]))?;
        ensure!(
            left.stdout.trim().is_empty(),
            "containers left in podman: {}",
            left.stdout.trim()
        );
        self.runner.check(
            "podman",
            &self.args_with(None, &["rmi", "--all", "--force"]),
        )?;
        Ok(problems)
    }

    /// Checks that podman takes [`containers_conf`]: with it as CONTAINERS_CONF, `podman info`
    /// must name minke at `binary` as its OCI runtime (podman runs `binary --version`).
    pub fn check_containers_conf(&self, dir: &Path, binary: &Path) -> Result<()> {
        let conf = dir.join("containers.conf");
        std::fs::write(&conf, containers_conf(binary))?;
        let mut a = vec![
            format!("CONTAINERS_CONF={}", conf.display()),
            "podman".into(),
        ];
        a.extend(self.args_with(
            None,
            &[
                "info",
                "--format",
                "{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Path}}",
            ],
        ));
        let out = self.runner.check("env", &a)?;
        let want = format!("minke {}", binary.display());
        ensure!(
            out.stdout.trim() == want,
            "with the documented containers.conf podman reports runtime {:?}, expected {want:?}",
            out.stdout.trim()
        );
        Ok(())
    }

    pub fn client(&self, runtime: Runtime) -> PodmanClient<'_, 'r> {
        PodmanClient {
            p: self,
            rt: runtime,
        }
    }
}

/// podman with one runtime.
pub struct PodmanClient<'p, 'r> {
    p: &'p Podman<'r>,
    rt: Runtime,
}

impl PodmanClient<'_, '_> {
    fn args(&self, list: &[&str]) -> Vec<String> {
        self.p.args_with(Some(&self.rt.wrapper), list)
    }

    fn podman(&self, list: &[&str]) -> Result<Output> {
        self.p.runner.run("podman", &self.args(list))
    }

    fn podman_timeout(&self, list: &[&str], timeout: Duration) -> Result<Output> {
        self.p.runner.run_with("podman", &self.args(list), timeout)
    }

    fn check(&self, list: &[&str]) -> Result<Output> {
        self.p.runner.check("podman", &self.args(list))
    }

    fn inspect(&self, name: &str, format: &str) -> Result<String> {
        let out = self.check(&["inspect", "--format", format, name])?;
        Ok(out.stdout.trim().to_string())
    }

    /// The flags every lane container is run with: no network, ulimits this host can grant
    /// (it lacks CAP_SYS_RESOURCE and the hard nofile limit is 20000), the lane's cgroup parent,
    /// a log file podman can read back.
    fn run_flags(&self, name: &str) -> Vec<String> {
        args(&[
            "--name",
            name,
            "--network",
            "none",
            "--ulimit",
            "nofile=20000:20000",
            "--ulimit",
            "nproc=32768:32768",
            "--cgroup-parent",
            &self.p.cgroup_parent,
            "--log-driver",
            "k8s-file",
        ])
    }

    fn run_args(&self, name: &str, mode: &[&str], extra: &[String], list: &[&str]) -> Vec<String> {
        let mut a: Vec<String> = vec!["run".into()];
        a.extend(mode.iter().map(|s| s.to_string()));
        a.extend(self.run_flags(name));
        a.extend(extra.iter().cloned());
        a.push(self.p.image.clone());
        a.extend(list.iter().map(|s| s.to_string()));
        a
    }
}

fn parse_status(s: &str) -> Status {
    match s {
        "created" | "configured" | "initialized" => Status::Created,
        "running" => Status::Running,
        "paused" => Status::Paused,
        "exited" | "stopped" => Status::Stopped,
        _ => Status::Other,
    }
}

/// Parses `podman top NAME pid comm`: `PID COMMAND` rows.
pub fn parse_top(text: &str) -> Vec<String> {
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect()
}

/// Parses the lane's `podman stats` template: usage, limit, pids.
pub fn parse_stats(text: &str) -> Result<Stats> {
    let w: Vec<&str> = text.split_whitespace().collect();
    ensure!(w.len() == 3, "unexpected podman stats output {text:?}");
    let n = |s: &str| {
        s.parse::<u64>()
            .with_context(|| format!("{s:?} in podman stats"))
    };
    Ok(Stats {
        memory_usage: Some(n(w[0])?),
        memory_limit: Some(n(w[1])?),
        pids: Some(n(w[2])?),
    })
}

impl Client for PodmanClient<'_, '_> {
    fn kind(&self) -> ClientKind {
        ClientKind::Podman
    }

    fn runtime(&self) -> &Runtime {
        &self.rt
    }

    fn run(&mut self, name: &str, list: &[&str]) -> Result<Output> {
        let a = self.run_args(name, &["--rm"], &[], list);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        self.podman(&refs)
    }

    fn run_detached(&mut self, name: &str, list: &[&str], limits: Option<Limits>) -> Result<()> {
        let extra = match limits {
            Some(l) => args(&[
                "--memory",
                &l.memory_bytes.to_string(),
                "--pids-limit",
                &l.pids.to_string(),
            ]),
            None => Vec::new(),
        };
        let a = self.run_args(name, &["--detach"], &extra, list);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        let out = self.podman(&refs)?;
        ensure!(out.success(), "podman run --detach failed: {}", out.brief());
        let mut last = String::new();
        poll(Duration::from_secs(20), || {
            match self.inspect(name, "{{.State.Status}}") {
                Ok(s) if s == "running" => return Some(()),
                Ok(s) => last = s,
                Err(e) => last = format!("{e:#}"),
            }
            None
        })
        .with_context(|| format!("{name} did not become running within 20s (last: {last})"))
    }

    fn run_tty(&mut self, name: &str, list: &[&str]) -> Result<PtyRun> {
        let run = self.run_args(name, &["--rm", "--interactive", "--tty"], &[], list);
        let refs: Vec<&str> = run.iter().map(String::as_str).collect();
        PtyRun::spawn(self.p.runner, "podman", &self.args(&refs))
    }

    fn exec(&mut self, name: &str, list: &[&str]) -> Result<Output> {
        let mut a = vec!["exec", name];
        a.extend_from_slice(list);
        self.podman(&a)
    }

    fn exec_tty(&mut self, name: &str, list: &[&str]) -> Result<PtyRun> {
        let mut a = vec!["exec", "--interactive", "--tty", name];
        a.extend_from_slice(list);
        PtyRun::spawn(self.p.runner, "podman", &self.args(&a))
    }

    fn processes(&mut self, name: &str) -> Result<Vec<String>> {
        let out = self.check(&["top", name, "pid", "comm"])?;
        Ok(parse_top(&out.stdout))
    }

    fn pause(&mut self, name: &str) -> Result<()> {
        self.check(&["pause", name]).map(drop)
    }

    fn resume(&mut self, name: &str) -> Result<()> {
        self.check(&["unpause", name]).map(drop)
    }

    fn status(&mut self, name: &str) -> Result<Status> {
        Ok(parse_status(&self.inspect(name, "{{.State.Status}}")?))
    }

    fn init_pid(&mut self, name: &str) -> Result<u32> {
        let s = self.inspect(name, "{{.State.Pid}}")?;
        let pid: u32 = s.parse().with_context(|| format!("pid {s:?}"))?;
        ensure!(pid != 0, "podman reports no pid for {name}");
        Ok(pid)
    }

    fn kill(&mut self, name: &str, signal: &str) -> Result<()> {
        self.check(&["kill", "--signal", signal, name]).map(drop)
    }

    fn stop(&mut self, name: &str, timeout: Duration) -> Result<()> {
        let secs = timeout.as_secs().max(1).to_string();
        self.check(&["stop", "--time", &secs, name]).map(drop)
    }

    fn wait_exit(&mut self, name: &str) -> Result<i32> {
        let out = self.podman_timeout(&["wait", name], Duration::from_secs(30))?;
        ensure!(out.success(), "podman wait failed: {}", out.brief());
        out.stdout
            .trim()
            .parse()
            .with_context(|| format!("podman wait printed {:?}", out.stdout))
    }

    fn remove(&mut self, name: &str, force: bool) -> Result<()> {
        let mut a = vec!["rm"];
        if force {
            a.push("--force");
        }
        a.push(name);
        self.check(&a).map(drop)
    }

    fn exists(&mut self, name: &str) -> Result<bool> {
        let out = self.podman(&["container", "exists", name])?;
        match out.code {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => anyhow::bail!("podman container exists: {}", out.brief()),
        }
    }

    fn logs(&mut self, name: &str) -> Result<String> {
        let out = self.check(&["logs", name])?;
        Ok(format!("{}{}", out.stdout, out.stderr))
    }

    fn stats(&mut self, name: &str) -> Result<Stats> {
        let out = self.check(&[
            "stats",
            "--no-stream",
            "--format",
            "{{.ContainerStats.MemUsage}} {{.ContainerStats.MemLimit}} {{.ContainerStats.PIDs}}",
            name,
        ])?;
        parse_stats(&out.stdout)
    }

    fn runtime_id(&mut self, name: &str) -> Result<String> {
        self.inspect(name, "{{.Id}}")
    }

    fn runtime_root(&self) -> PathBuf {
        self.rt.default_root.clone()
    }

    fn expected_cgroup(&mut self, name: &str) -> Result<Option<String>> {
        // The cgroupfs manager puts a container at <cgroup-parent>/libpod-<id>.
        let id = self.runtime_id(name)?;
        Ok(Some(format!("{}/libpod-{id}", self.p.cgroup_parent)))
    }

    fn missing_command_status(&self) -> Option<i32> {
        Some(127)
    }

    fn force_cleanup(&mut self, name: &str) {
        let _ = self.podman_timeout(
            &["rm", "--force", "--time", "0", name],
            Duration::from_secs(30),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_flags_keep_podman_under_the_lane_dir() {
        let f = global_flags(Path::new("/tmp/l/podman"));
        let pairs: Vec<(&str, &str)> = f
            .chunks(2)
            .map(|c| (c[0].as_str(), c[1].as_str()))
            .collect();
        assert!(pairs.contains(&("--root", "/tmp/l/podman/root")));
        assert!(pairs.contains(&("--runroot", "/tmp/l/podman/runroot")));
        assert!(pairs.contains(&("--tmpdir", "/tmp/l/podman/tmp")));
        assert!(pairs.contains(&("--network-config-dir", "/tmp/l/podman/networks")));
        assert!(pairs.contains(&("--cgroup-manager", "cgroupfs")));
        assert!(pairs.contains(&("--events-backend", "file")));
    }

    #[test]
    fn the_docs_give_the_containers_conf_the_lane_checks() {
        let docs = include_str!("../../../docs/integration.md");
        let snippet = containers_conf(Path::new("/usr/local/bin/minke"));
        assert!(
            docs.contains(&snippet),
            "docs/integration.md lacks:\n{snippet}"
        );
    }

    #[test]
    fn top_and_stats_are_parsed() {
        assert_eq!(
            parse_top("PID         COMMAND\n1           sh\n6           sleep\n"),
            ["sh", "sleep"]
        );
        assert_eq!(
            parse_stats("606208 67108864 2\n").unwrap(),
            Stats {
                memory_usage: Some(606208),
                memory_limit: Some(67108864),
                pids: Some(2)
            }
        );
        assert!(parse_stats("1.2MB / 64MB").is_err());
        assert_eq!(parse_status("exited"), Status::Stopped);
    }
}
