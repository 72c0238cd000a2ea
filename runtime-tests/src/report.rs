//! The probe's report: what the container process sees, serialized as one JSON line.
//!
//! Shared by the probe (which fills it inside the container) and the driver (which parses it and
//! compares it with what config.json asked for). Only plain data lives here.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Prefix of the stdout line that carries the JSON report.
pub const REPORT_PREFIX: &str = "PROBE-REPORT ";
/// Prefix of the stdout line the probe prints when `--wait` ends on a signal.
pub const SIGNAL_PREFIX: &str = "PROBE-SIGNAL ";

/// Everything the probe observed, see `src/bin/probe/`.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct Report {
    pub args: Vec<String>,
    pub pid: i32,
    pub ppid: i32,
    /// real, effective, saved, filesystem (from /proc/self/status)
    pub uids: Vec<u32>,
    pub gids: Vec<u32>,
    pub groups: Vec<u32>,
    pub umask: Option<u32>,
    pub caps: Caps,
    pub no_new_privs: Option<u32>,
    /// 0 disabled, 1 strict, 2 filter
    pub seccomp: Option<u32>,
    pub seccomp_filters: Option<u32>,
    /// `RLIMIT_NOFILE` → limits; `None` means RLIM_INFINITY
    pub rlimits: BTreeMap<String, Rlimit>,
    pub hostname: String,
    pub domainname: String,
    pub machine: String,
    /// getcwd, or `Err(errno)`
    pub cwd: Option<Result<String, i32>>,
    pub env: Vec<String>,
    /// `pid` → `pid:[4026531836]` (readlink of /proc/self/ns/*)
    pub namespaces: BTreeMap<String, String>,
    pub uid_map: Option<String>,
    pub gid_map: Option<String>,
    pub setgroups: Option<String>,
    pub timens_offsets: Option<String>,
    pub monotonic_ns: i128,
    pub boottime_ns: i128,
    pub mountinfo: Vec<String>,
    /// lines of /proc/self/cgroup
    pub cgroup: Vec<String>,
    pub oom_score_adj: Option<i32>,
    /// open fds (other than the one used to list them) → readlink target
    pub fds: BTreeMap<i32, String>,
    pub tty: Tty,
    /// entries directly under /dev
    pub devices: BTreeMap<String, PathInfo>,
    /// the paths asked for with `--path`
    pub paths: BTreeMap<String, PathInfo>,
    /// the files asked for with `--file`: content (lossy utf-8, at most 64 KiB) or errno
    pub files: BTreeMap<String, Result<String, i32>>,
    /// the actions asked for with `--try`, in order
    pub tries: Vec<TryResult>,
    pub sched_policy: i32,
    /// nice value
    pub nice: i32,
    pub sched_priority: i32,
    /// raw ioprio_get(IOPRIO_WHO_PROCESS, 0)
    pub ioprio: i64,
    pub cpu_affinity: Vec<usize>,
    pub personality: i64,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caps {
    pub inheritable: u64,
    pub permitted: u64,
    pub effective: u64,
    pub bounding: u64,
    pub ambient: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rlimit {
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct Tty {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub rows: Option<u16>,
    pub cols: Option<u16>,
    /// readlink of /proc/self/fd/0
    pub stdin_target: Option<String>,
}

/// What `lstat` and a few `open`s tell about a path.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct PathInfo {
    /// errno of `lstat`, if it failed
    pub error: Option<i32>,
    /// file, dir, symlink, char, block, fifo, socket
    pub kind: String,
    /// permission bits (mode & 0o7777)
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub major: u64,
    pub minor: u64,
    pub link: Option<String>,
    /// Ok(bytes read, at most 64) or errno of open/read
    pub read: Option<Result<usize, i32>>,
    /// Ok(()) when the path can be opened for writing (dirs: a file can be created in it)
    pub write: Option<Result<(), i32>>,
    /// Ok when `access(X_OK)` succeeds
    pub exec: Option<Result<(), i32>>,
    pub entries: Option<Vec<String>>,
}

impl PathInfo {
    pub fn exists(&self) -> bool {
        self.error.is_none()
    }
}

/// One `--try` action: its spec and the syscall's result.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct TryResult {
    pub action: String,
    pub ret: i64,
    /// 0 on success
    pub errno: i32,
}
