//! Harness for root integration tests: busybox bundles in temp dirs, a private --root per
//! test, and guards that delete containers and temp dirs even when a test fails.
#![allow(dead_code)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const MINKE: &str = env!("CARGO_BIN_EXE_minke");
pub const BUSYBOX: &str = "/bin/busybox";

/// Fail loudly (never skip silently) when the environment cannot run these tests.
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the integration tests run real containers and must run as root"
    );
    assert!(
        Path::new(BUSYBOX).exists(),
        "{BUSYBOX} is missing: install busybox-static"
    );
}

/// A bundle (config.json + busybox rootfs) and a private state root, removed on drop after
/// force-deleting every container left in the root.
pub struct Bundle {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub config: Value,
    pub runtime: String,
}

impl Bundle {
    /// A bundle with minke's default config (`minke spec`), terminal off, `args` as given.
    pub fn new(args: &[&str]) -> Bundle {
        require_root();
        let dir = tempfile::Builder::new()
            .prefix("minke-it-")
            .tempdir()
            .expect("tempdir");
        make_rootfs(&dir.path().join("rootfs"));
        let out = Command::new(MINKE)
            .args(["spec", "--bundle"])
            .arg(dir.path())
            .output()
            .expect("minke spec");
        assert!(
            out.status.success(),
            "minke spec: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut config: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap())
                .unwrap();
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(args);
        let root = dir.path().join("state");
        Bundle {
            dir,
            root,
            config,
            runtime: MINKE.to_string(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    /// Write config.json from `self.config`.
    pub fn write(&self) {
        std::fs::write(
            self.path().join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    /// Run the runtime with `--root <private root>` and `args`; stdin is /dev/null. Its
    /// stdout/stderr go to files, not pipes: a created container's init inherits them and
    /// keeps them open, so waiting for EOF on a pipe would wait for the container.
    pub fn cmd(&self, args: &[&str]) -> Output {
        self.write();
        let out_path = self.path().join(".stdout");
        let err_path = self.path().join(".stderr");
        let mut child = Command::new(&self.runtime)
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .current_dir(self.path())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .spawn()
            .expect("running the runtime");
        let status = child.wait().expect("waiting for the runtime");
        Output {
            status,
            stdout: std::fs::read(&out_path).unwrap_or_default(),
            stderr: std::fs::read(&err_path).unwrap_or_default(),
        }
    }

    /// `run --bundle B ID`: stdout, stderr and exit code.
    pub fn run(&self, id: &str) -> (String, String, i32) {
        let b = self.path().to_str().unwrap().to_string();
        let out = self.cmd(&["run", "--bundle", &b, id]);
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.status.code().unwrap_or(-1),
        )
    }

    /// `run` that must succeed; its stdout.
    pub fn run_ok(&self, id: &str) -> String {
        let (out, err, code) = self.run(id);
        assert_eq!(code, 0, "run failed: stdout {out:?} stderr {err:?}");
        out
    }

    pub fn create(&self, id: &str, extra: &[&str]) -> Output {
        let b = self.path().to_str().unwrap().to_string();
        let mut args = vec!["create", "--bundle", &b];
        args.extend_from_slice(extra);
        args.push(id);
        self.cmd(&args)
    }

    pub fn state(&self, id: &str) -> Option<Value> {
        let out = self.cmd(&["state", id]);
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).expect("state is JSON"))
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)
            .map(|s| s["status"].as_str().unwrap_or("").to_string())
            .unwrap_or_else(|| "gone".into())
    }

    /// Poll `state` until the status is `want` (10 s at most).
    pub fn wait_status(&self, id: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.status(id);
            if s == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{id}: status {s}, waited for {want}"
            );
            std::thread::yield_now();
        }
    }

    /// Names of the containers left in this bundle's root.
    pub fn leftovers(&self) -> Vec<String> {
        std::fs::read_dir(&self.root)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        for id in self.leftovers() {
            let _ = Command::new(&self.runtime)
                .arg("--root")
                .arg(&self.root)
                .args(["delete", "--force", &id])
                .output();
        }
    }
}

/// A minimal root filesystem: busybox and its applets as symlinks.
pub fn make_rootfs(rootfs: &Path) {
    let bin = rootfs.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(BUSYBOX, bin.join("busybox")).unwrap();
    for applet in [
        "sh", "true", "false", "id", "hostname", "grep", "cat", "ls", "sleep", "echo", "readlink",
        "stat", "touch", "mkdir", "umask", "pwd", "env", "head", "wc", "kill", "ps", "test", "awk",
        "sed", "tr", "mount", "stty", "tty", "ionice", "uname", "cut", "taskset", "ip", "timeout",
        "nproc",
    ] {
        let _ = symlink("busybox", bin.join(applet));
    }
    for d in ["proc", "sys", "dev", "etc", "tmp"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
}

/// The `shared/` directory beside the project (runtime-spec, tools): `$MINKE_SHARED`, else the
/// first ancestor of this crate that has `shared/runtime-spec` (git worktrees live deeper).
pub fn shared_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("MINKE_SHARED") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("shared"))
        .find(|s| s.join("runtime-spec").is_dir())
        .expect("shared/runtime-spec beside the project (or set MINKE_SHARED)")
}

/// Does this process have CAP_SYS_RESOURCE (raising hard rlimits, lowering oom_score_adj)?
/// The development and CI hosts lack it; the cgroup v2 VM's root has it.
pub fn have_cap_sys_resource() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << 24) != 0)
}

/// Inode of a namespace link of a process (host side).
pub fn ns_inode(pid: &str, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}
