//! Root integration tests of the floor: real containers from the benchmark's bundles, cleaned up
//! even when a test fails (`Env`'s drop force-deletes whatever is left in its state root).

use std::io::{Read, Seek, SeekFrom};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use minke_bench::bundle::{self, Variant};
use minke_bench::floor::cgroups::{self, Placement, Version};
use minke_bench::floor::state;
use minke_bench::{seccomp_profile, sys};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use serde_json::{json, Value};

const FLOOR: &str = env!("CARGO_BIN_EXE_minke-floor");

struct Env {
    tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Env {
    fn new() -> Env {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the floor's integration tests create containers: run them as root"
        );
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("state");
        Env { tmp, root }
    }

    /// A bundle of `variant`, its config changed by `patch`.
    fn bundle(&self, name: &str, variant: Variant, patch: impl FnOnce(&mut Value)) -> PathBuf {
        let dir = self.tmp.path().join(name);
        let profile =
            seccomp_profile::docker_like_profile(&seccomp_profile::x86_64_syscall_names());
        bundle::write_bundle(&dir, Path::new("/bin/busybox"), variant, &profile).unwrap();
        let path = dir.join("config.json");
        let mut config: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        patch(&mut config);
        std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
        dir
    }

    /// Runs the floor with stdout and stderr to files: a created container's init inherits
    /// them and outlives the command, so pipes would never see EOF.
    fn floor(&self, args: &[&str]) -> Output {
        let mut out = tempfile::tempfile().unwrap();
        let mut err = tempfile::tempfile().unwrap();
        let status = Command::new(FLOOR)
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(err.try_clone().unwrap())
            .status()
            .unwrap();
        let read = |f: &mut std::fs::File| {
            let mut bytes = Vec::new();
            f.seek(SeekFrom::Start(0)).unwrap();
            f.read_to_end(&mut bytes).unwrap();
            bytes
        };
        Output {
            status,
            stdout: read(&mut out),
            stderr: read(&mut err),
        }
    }

    /// `create --bundle B --pid-file P ID`, which must succeed; the init's pid from the file.
    fn create(&self, bundle: &Path, id: &str) -> i32 {
        let pid_file = self.tmp.path().join("pid");
        self.ok(&[
            "create",
            "--bundle",
            bundle.to_str().unwrap(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            id,
        ]);
        std::fs::read_to_string(&pid_file).unwrap().parse().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.floor(args);
        assert!(out.status.success(), "minke-floor {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    fn status(&self, id: &str) -> String {
        let doc: Value = serde_json::from_str(&self.ok(&["state", id])).unwrap();
        doc["status"].as_str().unwrap().to_string()
    }

    fn placements(&self, id: &str) -> Vec<Placement> {
        state::load(&self.root, id).unwrap().1.cgroups
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Ok(entries) = std::fs::read_dir(&self.root) {
            for entry in entries.flatten() {
                let id = entry.file_name().to_string_lossy().into_owned();
                let _ = self.floor(&["delete", "--force", &id]);
            }
        }
    }
}

fn sh(script: &str) -> impl FnOnce(&mut Value) + '_ {
    move |c: &mut Value| c["process"]["args"] = json!(["/bin/sh", "-c", script])
}

/// Waits until `pid` exits, at most 10 s.
fn wait_exit(pid: i32) {
    let Ok(fd) = sys::pidfd_open(pid) else { return };
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    let n = poll(&mut fds, PollTimeout::from(10_000u16)).unwrap();
    assert_eq!(n, 1, "pid {pid} still alive after 10 s");
}

/// The directories the floor would use for `id` in this process's cgroups.
fn expected_cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let discovered = cgroups::discover(Path::new("/proc")).unwrap();
    cgroups::placements(&discovered, None, id)
        .unwrap()
        .into_iter()
        .map(|p| p.dir)
        .collect()
}

/// What `ls /sys/fs/cgroup` shows in the container: one directory per v1 hierarchy (`None` on a
/// pure v2 host, where it shows the container's v2 cgroup files).
fn expected_cgroup_listing() -> Option<String> {
    let discovered = cgroups::discover(Path::new("/proc")).unwrap();
    let mut v1: Vec<String> = discovered
        .iter()
        .filter(|(h, _)| h.version == Version::V1)
        .map(|(h, _)| {
            h.mountpoint
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    v1.sort();
    (!v1.is_empty()).then(|| v1.join(" "))
}

#[test]
fn run_true_leaves_nothing_behind() {
    let env = Env::new();
    let b = env.bundle("b", Variant::Base, |_| {});
    let id = format!("floor-run-{}", std::process::id());
    env.ok(&["run", "--bundle", b.to_str().unwrap(), &id]);
    assert!(!env.root.join(&id).exists());
    for dir in expected_cgroup_dirs(&id) {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}

#[test]
fn the_container_sees_its_own_world() {
    let env = Env::new();
    let script = "echo pid=$$; hostname; grep -E 'CapBnd|Seccomp:' /proc/self/status; \
                  touch /x 2>/dev/null && echo rootfs=rw || echo rootfs=ro; \
                  ls /dev/null /dev/zero /dev/pts/ptmx >/dev/null && echo devices=ok; \
                  cat /sys/class/net/lo/flags; ls /sys/fs/cgroup | tr '\\n' ' '; echo; \
                  sed -n 's/^[0-9]*:pids://p' /proc/self/cgroup; ulimit -n";
    let b = env.bundle("b", Variant::Base, sh(script));
    let id = format!("floor-world-{}", std::process::id());
    let out = env.ok(&["run", "--bundle", b.to_str().unwrap(), &id]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "pid=1", "{out}");
    assert_eq!(lines[1], "runc", "{out}");
    assert_eq!(lines[2], "CapBnd:\t0000000020000420", "{out}");
    assert_eq!(lines[3], "Seccomp:\t0", "{out}");
    assert_eq!(lines[4], "rootfs=ro", "{out}");
    assert_eq!(lines[5], "devices=ok", "{out}");
    // IFF_UP | IFF_LOOPBACK
    assert_eq!(lines[6], "0x9", "{out}");
    match expected_cgroup_listing() {
        Some(listing) => assert_eq!(lines[7].trim(), listing, "{out}"),
        None => assert!(lines[7].contains("cgroup.procs"), "{out}"),
    }
    assert!(lines[8].ends_with(&format!("/{id}")), "{out}");
    assert_eq!(lines[9], "1024", "{out}");
}

#[test]
fn both_ways_of_joining_cgroups_place_init_and_exec() {
    let env = Env::new();
    let b = env.bundle("b", Variant::Long, |_| {});
    let script = "sed -n 's/^[0-9]*:pids://p; s/^0:://p' /proc/self/cgroup";
    for join in ["--cgroup-join=self", "--cgroup-join=parent"] {
        let id = format!("floor-join-{}-{}", &join[14..], std::process::id());
        let with_join = |args: &[&str]| {
            let mut all = vec![join];
            all.extend_from_slice(args);
            env.floor(&all)
        };
        let created = with_join(&["create", "--bundle", b.to_str().unwrap(), &id]);
        assert!(created.status.success(), "{created:?}");
        let pid = state::load(&env.root, &id).unwrap().1.pid;
        let init = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        for line in init.lines() {
            assert!(line.ends_with(&format!("/{id}")), "{join}: init in {line}");
        }
        assert!(with_join(&["start", &id]).status.success());
        let exec = with_join(&["exec", &id, "/bin/sh", "-c", script]);
        assert!(exec.status.success(), "{exec:?}");
        for line in String::from_utf8_lossy(&exec.stdout).lines() {
            assert!(line.ends_with(&format!("/{id}")), "{join}: exec in {line}");
        }
        env.ok(&["delete", "--force", &id]);
    }
}

#[test]
fn the_seccomp_profile_is_loaded() {
    let env = Env::new();
    let b = env.bundle("b", Variant::Seccomp, sh("grep Seccomp: /proc/self/status"));
    let id = format!("floor-seccomp-{}", std::process::id());
    let out = env.ok(&["run", "--bundle", b.to_str().unwrap(), &id]);
    assert_eq!(out.trim(), "Seccomp:\t2");
}

#[test]
fn limits_are_written_and_removed() {
    let env = Env::new();
    let b = env.bundle("b", Variant::Limits, |_| {});
    let id = format!("floor-limits-{}", std::process::id());
    env.ok(&["create", "--bundle", b.to_str().unwrap(), &id]);
    let placements = env.placements(&id);
    let read = |p: &Placement, file: &str| {
        std::fs::read_to_string(p.dir.join(file))
            .unwrap()
            .trim()
            .to_string()
    };
    let with = |controller: &str| {
        placements
            .iter()
            .find(|p| p.controllers.contains(controller))
            .unwrap()
    };
    match with("memory").version {
        Version::V1 => {
            assert_eq!(read(with("memory"), "memory.limit_in_bytes"), "134217728");
            assert_eq!(read(with("cpu"), "cpu.shares"), "512");
            assert_eq!(read(with("cpu"), "cpu.cfs_quota_us"), "50000");
            assert_eq!(read(with("cpu"), "cpu.cfs_period_us"), "100000");
            assert_eq!(read(with("devices"), "devices.list").lines().count(), 12);
        }
        Version::V2 => {
            assert_eq!(read(with("memory"), "memory.max"), "134217728");
            assert_eq!(read(with("cpu"), "cpu.max"), "50000 100000");
        }
    }
    assert_eq!(read(with("pids"), "pids.max"), "128");
    env.ok(&["delete", "--force", &id]);
    for p in &placements {
        assert!(!p.dir.exists(), "{} left behind", p.dir.display());
    }
}

#[test]
fn create_start_exec_kill_delete() {
    let env = Env::new();
    let b = env.bundle("b", Variant::Long, |_| {});
    let id = format!("floor-life-{}", std::process::id());
    let pid = env.create(&b, &id);
    assert_eq!(env.status(&id), "created");
    assert!(env.ok(&["list"]).contains(&format!("{id}\t{pid}\tcreated")));
    env.ok(&["start", &id]);
    assert_eq!(env.status(&id), "running");
    let exec_pid = env.tmp.path().join("exec.pid");
    let out = env.floor(&[
        "exec",
        "--pid-file",
        exec_pid.to_str().unwrap(),
        &id,
        "/bin/sh",
        "-c",
        "hostname; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "runc");
    assert!(
        std::fs::read_to_string(&exec_pid)
            .unwrap()
            .parse::<i32>()
            .unwrap()
            > 0
    );
    let refused = env.floor(&["delete", &id]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("is running"),
        "{refused:?}"
    );
    env.ok(&["kill", &id, "KILL"]);
    wait_exit(pid);
    assert_eq!(env.status(&id), "stopped");
    env.ok(&["delete", &id]);
    assert!(!env.root.join(&id).exists());
    let gone = env.floor(&["state", &id]);
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("does not exist"),
        "{gone:?}"
    );
}

#[test]
fn start_after_the_init_died_fails() {
    let env = Env::new();
    let b = env.bundle("b", Variant::Base, |_| {});
    let id = format!("floor-dead-{}", std::process::id());
    let pid = env.create(&b, &id);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_exit(pid);
    let out = env.floor(&["start", &id]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is stopped"),
        "{out:?}"
    );
    env.ok(&["delete", &id]);
}

#[test]
fn unsupported_config_is_refused_without_leftovers() {
    let env = Env::new();
    let b = env.bundle("b", Variant::Base, |c| {
        c["process"]["terminal"] = json!(true)
    });
    let id = format!("floor-refused-{}", std::process::id());
    let out = env.floor(&["run", "--bundle", b.to_str().unwrap(), &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("process.terminal: not supported by the floor"),
        "{out:?}"
    );
    assert!(!env.root.join(&id).exists());
}

#[test]
fn an_init_failure_is_reported_and_cleaned_up() {
    let env = Env::new();
    let b = env.bundle("b", Variant::Base, |c| {
        c["process"]["cwd"] = json!("/no/such/dir")
    });
    let id = format!("floor-initfail-{}", std::process::id());
    let out = env.floor(&["run", "--bundle", b.to_str().unwrap(), &id]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("container init: process.cwd: chdir to /no/such/dir"),
        "{err}"
    );
    assert!(!env.root.join(&id).exists());
    for dir in expected_cgroup_dirs(&id) {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}
