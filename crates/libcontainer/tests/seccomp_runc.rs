//! The same profiles under runc (`/usr/bin/runc`, a busybox bundle) and under minke's filter
//! (a child that installs it and execs the same busybox command): what the container sees must
//! be the same. Needs root (runc).
#![cfg(target_arch = "x86_64")]

mod seccomp_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use seccomp_support::*;

const RUNC: &str = "/usr/bin/runc";
const BUSYBOX: &str = "/bin/busybox";

/// A busybox bundle and runc state dir in a temp dir; the container is deleted on drop.
struct RuncBundle {
    dir: tempfile::TempDir,
    id: String,
}

impl RuncBundle {
    fn new(name: &str, profile: &serde_json::Value, script: &str) -> RuncBundle {
        let dir = tempfile::tempdir().expect("temp dir");
        let rootfs = dir.path().join("bundle/rootfs");
        for d in ["bin", "proc", "sys", "dev", "tmp"] {
            std::fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        std::fs::copy(BUSYBOX, rootfs.join("bin/busybox")).expect("copying busybox");
        let status = Command::new(RUNC)
            .args(["spec", "--bundle"])
            .arg(dir.path().join("bundle"))
            .status()
            .expect("runc spec");
        assert!(status.success());
        let path = dir.path().join("bundle/config.json");
        let mut config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        config["process"]["terminal"] = false.into();
        config["process"]["args"] = serde_json::json!([BUSYBOX, "sh", "-c", script]);
        config["root"]["readonly"] = false.into();
        config["linux"]["seccomp"] = profile.clone();
        std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
        // unique per test: tests run in parallel and runc names the cgroups after the id
        let id = format!("minke-{name}-{}", std::process::id());
        RuncBundle { dir, id }
    }

    fn state_root(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// `runc run`: the container's output (its stdout; runc's own messages go to stderr, shown
    /// on failure) and exit code.
    fn run(&self) -> (String, Option<i32>) {
        let out = Command::new(RUNC)
            .arg("--root")
            .arg(self.state_root())
            .args(["run", "--bundle"])
            .arg(self.dir.path().join("bundle"))
            .arg(&self.id)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("runc run");
        if !out.status.success() {
            eprintln!("runc stderr:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            out.status.code(),
        )
    }
}

impl Drop for RuncBundle {
    fn drop(&mut self) {
        // `run` normally removes the container; make sure even when the test failed midway
        let _ = Command::new(RUNC)
            .arg("--root")
            .arg(self.state_root())
            .args(["delete", "-f", &self.id])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Under minke: a child installs the filter for `profile` and execs `busybox sh -c script`.
fn run_minke(test: &str, profile: &serde_json::Value, script: &str) -> (String, Option<i32>) {
    let param = serde_json::json!({"profile": profile, "script": script}).to_string();
    let out = run(test, &param, |param| {
        let v: serde_json::Value = serde_json::from_str(param).unwrap();
        let script = std::ffi::CString::new(v["script"].as_str().unwrap()).unwrap();
        let busybox = std::ffi::CString::new(BUSYBOX).unwrap();
        let argv = [busybox.clone(), c"sh".into(), c"-c".into(), script];
        // the runtime's order: everything prepared, no_new_privs, the filter, execve
        install(&v["profile"].to_string());
        let err = nix::unistd::execv(&busybox, &argv).unwrap_err();
        report("execv", err);
    });
    // the test harness' own lines come first: keep what busybox printed
    let text = out
        .output
        .lines()
        .filter(|l| !l.starts_with("running 1 test") && !l.is_empty())
        .map(|l| l.strip_prefix(&format!("test {test} ... ")).unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    (text + "\n", out.status.code())
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().filter(|l| !l.is_empty()).collect()
}

fn compare(test: &str, profile: serde_json::Value, script: &str, expected: &[&str]) {
    assert!(is_root(), "{test} runs runc and needs root");
    assert!(
        Path::new(RUNC).exists(),
        "{RUNC} is required for the runc comparison"
    );
    // one stream, so the order of messages is kept
    let script = format!("exec 2>&1; {script}");
    let bundle = RuncBundle::new(test, &profile, &script);
    let (runc_out, runc_code) = bundle.run();
    let (minke_out, minke_code) = run_minke(test, &profile, &script);
    assert_eq!(lines(&runc_out), expected, "runc's output");
    assert_eq!(lines(&minke_out), expected, "minke's output");
    assert_eq!(runc_code, Some(0), "runc: {runc_out}");
    assert_eq!(minke_code, Some(0), "minke: {minke_out}");
}

#[test]
fn runc_same_errno_and_unknown_names_ignored() {
    compare(
        "runc_same_errno_and_unknown_names_ignored",
        serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["minke_no_such_syscall", "mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 122},
                {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO"}
            ]
        }),
        "/bin/busybox mkdir /tmp/d; echo rc=$?; /bin/busybox rmdir /nonexistent; echo rc=$?",
        &[
            "mkdir: can't create directory '/tmp/d': Disk quota exceeded",
            "rc=1",
            "rmdir: '/nonexistent': Operation not permitted",
            "rc=1",
        ],
    );
}

/// What runc's own init (Go) and busybox need once the filter is in place.
const ALLOWED: &[&str] = &[
    "execve",
    "brk",
    "arch_prctl",
    "set_tid_address",
    "write",
    "writev",
    "exit_group",
    "getuid",
    "geteuid",
    "getpid",
    "getppid",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "fork",
    "vfork",
    "clone",
    "wait4",
    "exit",
    "dup2",
    "fcntl",
    "close",
    "read",
    "open",
    "openat",
    "stat",
    "newfstatat",
    "fstat",
    "ioctl",
    "lseek",
    "mmap",
    "munmap",
    "uname",
    "getcwd",
    "access",
    "futex",
    "fstatfs",
    "statfs",
    "getdents64",
    "capget",
    "capset",
    "setgid",
    "setuid",
    "setgroups",
    "prctl",
    "sched_yield",
    "nanosleep",
    "epoll_pwait",
    "epoll_ctl",
    "tgkill",
    "gettid",
    "madvise",
    "sigaltstack",
    "mprotect",
    "readlinkat",
    "prlimit64",
];

#[test]
fn runc_same_default_errno_and_enosys_for_newer_syscalls() {
    // prlimit64 (302) is the highest syscall named: setns (308) is "newer than the profile" and
    // gets ENOSYS, mkdir (83) is just not allowed and gets the default EPERM
    compare(
        "runc_same_default_errno_and_enosys_for_newer_syscalls",
        serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ALLOWED, "action": "SCMP_ACT_ALLOW"}]
        }),
        "/bin/busybox mkdir /tmp/d; echo rc=$?; /bin/busybox nsenter -t $$ -n true; echo rc=$?",
        &[
            "mkdir: can't create directory '/tmp/d': Operation not permitted",
            "rc=1",
            "nsenter: setns(): can't reassociate to namespace 'net': Function not implemented",
            "rc=1",
        ],
    );
}

#[test]
fn runc_same_argument_conditions() {
    // personality(2) with a repeated index: runc ORs the conditions (arg0 <= 8 OR arg0 >= 0xffff0000)
    // so both the query (0xffffffff) and PER_LINUX32 (8) are refused, PER_SVR4-like values pass
    let profile = serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 122,
            "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_LE"},
                     {"index": 0, "value": 4294901760u64, "op": "SCMP_CMP_GE"}]}]
    });
    compare(
        "runc_same_argument_conditions",
        profile,
        "/bin/busybox linux32 /bin/busybox true; echo rc=$?; /bin/busybox uname -m; echo rc=$?",
        &[
            "linux32: personality(0x8): Disk quota exceeded",
            "rc=1",
            "x86_64",
            "rc=0",
        ],
    );
}
