//! Helpers for the seccomp integration tests: run a piece of a test in a fresh process (this
//! test binary re-executed for that one test, with an env var saying "you are the child"),
//! install a filter there, and report observations back on stdout.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use libcontainer::seccomp;

const CHILD_ENV: &str = "MINKE_SECCOMP_TEST_CHILD";
const PARAM_ENV: &str = "MINKE_SECCOMP_TEST_PARAM";
const RESULT_PREFIX: &str = "MINKE-RESULT ";

/// How long a child may run before the test gives up on it.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(30);

/// What a child did.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub results: BTreeMap<String, String>,
    pub output: String,
}

impl Outcome {
    /// A reported value; panics with the whole output when it is missing.
    pub fn get(&self, key: &str) -> &str {
        self.results.get(key).unwrap_or_else(|| {
            panic!(
                "child did not report {key:?}; status {:?}; output:\n{}",
                self.status, self.output
            )
        })
    }

    pub fn assert_exited_ok(&self) {
        assert_eq!(
            self.status.code(),
            Some(0),
            "child failed; output:\n{}",
            self.output
        );
    }

    pub fn assert_killed_by(&self, signal: i32) {
        assert_eq!(
            self.status.signal(),
            Some(signal),
            "status {:?}; output:\n{}",
            self.status,
            self.output
        );
    }
}

/// The parameter the parent gave, when this process is the child for `test`.
pub fn child_param(test: &str) -> Option<String> {
    match std::env::var(CHILD_ENV) {
        Ok(t) if t == test => Some(std::env::var(PARAM_ENV).unwrap_or_default()),
        _ => None,
    }
}

/// Start this test binary again, running only `test`, as the child with `param`.
/// Its stdin is a pipe the parent may write to (closed when the `Child` is finished).
pub fn spawn_child(test: &str, param: &str) -> Child {
    Command::new(std::env::current_exe().expect("test binary path"))
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, test)
        .env(PARAM_ENV, param)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("re-executing the test binary")
}

/// Wait (bounded) for a child and collect what it reported.
pub fn finish(mut child: Child) -> Outcome {
    drop(child.stdin.take());
    let deadline = Instant::now() + CHILD_TIMEOUT;
    loop {
        if child.try_wait().expect("waiting for the child").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child
                .wait_with_output()
                .expect("collecting the killed child");
            panic!(
                "child timed out after {CHILD_TIMEOUT:?}; output:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child
        .wait_with_output()
        .expect("collecting the child's output");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let results = stdout
        .lines()
        // the harness may print "test name ... " on the same line
        .filter_map(|l| {
            l.find(RESULT_PREFIX)
                .map(|at| &l[at + RESULT_PREFIX.len()..])
        })
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Outcome {
        status: out.status,
        results,
        output: format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
    }
}

/// In the parent: run `test` as a child with `param` and return its outcome.
/// In the child: run `body(param)`, then exit 0 (never returns).
pub fn run(test: &str, param: &str, body: impl FnOnce(&str)) -> Outcome {
    if let Some(p) = child_param(test) {
        body(&p);
        std::process::exit(0);
    }
    finish(spawn_child(test, param))
}

/// Child side: report `key=value` to the parent.
pub fn report(key: &str, value: impl std::fmt::Display) {
    println!("{RESULT_PREFIX}{key}={value}");
}

/// Child side: `ok` or the errno number of a nix result.
pub fn outcome<T>(r: nix::Result<T>) -> String {
    match r {
        Ok(_) => "ok".to_string(),
        Err(e) => (e as i32).to_string(),
    }
}

/// Child side: no core files from the deliberate SIGSYS deaths, `no_new_privs` so no privilege
/// is needed, then compile and install `json`.
pub fn install(json: &str) -> Option<OwnedFd> {
    let filter = compile(json);
    prepare();
    filter.install().expect("installing the filter")
}

/// Child side: what `install` does before loading.
pub fn prepare() {
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0)
        .expect("RLIMIT_CORE");
    nix::sys::prctl::set_no_new_privs().expect("no_new_privs");
}

pub fn compile(json: &str) -> seccomp::Filter {
    let spec: oci_spec::runtime::LinuxSeccomp =
        serde_json::from_str(json).expect("test profile parses");
    seccomp::compile(&spec).expect("profile compiles")
}

/// Number of threads of this process.
pub fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .count()
}

/// Poll `cond` until it holds or `timeout` passes.
pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    cond()
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}
