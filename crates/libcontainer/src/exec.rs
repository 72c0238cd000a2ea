//! `exec`: a new process in an existing (created, running, or with `--ignore-paused` paused)
//! container, as runc's `exec` does it.
//!
//! The process is described by a `process` object: a `--process` file, or the container's own
//! (from the copy of config.json kept at create) with the flags applied as runc applies them.
//! That object replaces the process of the saved config, which is then parsed, validated and
//! planned like at create, so the same code resolves the executable, the environment, the
//! user and the capabilities, and every error names its JSON field.
//!
//! ```text
//!  minke exec (runtime)                   setns process (A)               exec'd process (B)
//!  ────────────────────                   ─────────────────               ──────────────────
//!  state; status (init pid + start time,
//!  pidfd); process object, plan, caps,
//!  seccomp compiled; namespaces that differ
//!  from ours; target cgroup directories
//!  [tty] console socket or socket pair
//!  clone (execCPUAffinity.initial) ────▶ born in the cgroup2 directory (v2, hybrid)
//!                                        [v1] moves itself: "0" → each tasks file
//!                                        setns(init pidfd, every ns at once;
//!                                        the kernel enters the user ns first)
//!                                        chroot to the init's root
//!                                        fork ──────────────────────────▶ (inside the pid ns)
//!  ◀──────────────────────── ExecPid{pid}
//!  reap A                                exit                             cpu affinity, rlimits,
//!                                                                         sched/ioprio/mempolicy;
//!                                                                         [tty] setsid,
//!                                                                         pty → console, ctty;
//!                                                                         exe lookup, env, groups
//!  ◀─────────────────────────────────────────────────────────── Executing
//!  [notify] ◀──────────────────────────────────────────────── SeccompFd   caps, user, umask,
//!  fd → linux.seccomp.listenerPath                                        cwd, nnp, seccomp
//!                                                                         execve (socket closes)
//!  EOF after Executing: started  [execve or a later step failed: ◀── Failed(chain)]
//!  --pid-file; --detach: return; else proxy the pty / forward signals, wait, exit status
//! ```
//!
//! The runtime, A and B talk over two socket pairs (runtime↔A, runtime↔B): no channel is shared
//! by three processes. A moves itself into the v1 hierarchies (writing `0` to `tasks`, the one
//! migration the kernel does without its global threadgroup lock, whose first write-lock after
//! a quiet spell waits for an RCU grace period) before it joins a user namespace that could not
//! write there. Only stdio and the `--preserve-fds` fds reach B's program; every other fd
//! is closed or close-on-exec.

use std::cell::Cell;
use std::collections::HashMap;
use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::capabilities::{self, CapMasks};
use crate::cgroups::{CgroupMode, Hierarchy};
use crate::container::Runtime;
use crate::plan::{self, CreateOptions, Plan};
use crate::process::init::{self, InitError};
use crate::process::{Channel, ChannelError, ErrorChain, InitReply, StartMsg};
use crate::run::{self, Foreground, TtyProxy};
use crate::seccomp::{self, Filter, SeccompError};
use crate::spec::{self, InvalidSpec, SpecError};
use crate::state::{liveness, ContainerState, Liveness, StateError, Status, CONFIG_COPY};
use crate::sys::{self, Forked};
use crate::tty::{self, TtyError};

/// The process-shaping flags of `exec` (ignored parts are refused with `--process`).
#[derive(Debug, Clone, Default)]
pub struct ProcessFlags {
    /// The command and its arguments.
    pub args: Vec<String>,
    /// `--cwd`.
    pub cwd: Option<PathBuf>,
    /// `--env`, appended to the container's (a later value of a name wins).
    pub env: Vec<String>,
    /// `--tty`.
    pub tty: bool,
    /// `--user uid[:gid]`.
    pub user: Option<String>,
    /// `--additional-gids`, appended to the container's.
    pub additional_gids: Vec<i64>,
    /// `--cap`: added to the bounding, effective and permitted sets (and ambient when the
    /// container's process has an inheritable set), as runc 1.1 does.
    pub caps: Vec<String>,
    /// `--no-new-privs`.
    pub no_new_privs: bool,
    /// `--apparmor`.
    pub apparmor: Option<String>,
    /// `--process-label`.
    pub process_label: Option<String>,
}

/// A request to run a process in a container.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    pub id: String,
    /// `--process FILE`: a `process` object of config.json.
    pub process_file: Option<PathBuf>,
    pub flags: ProcessFlags,
    /// `--console-socket`: receives the pty master when the process has a terminal.
    pub console_socket: Option<PathBuf>,
    /// `--detach`: return once the process runs.
    pub detach: bool,
    /// `--pid-file`: written (atomically, bare digits) once the process runs.
    pub pid_file: Option<PathBuf>,
    /// `--preserve-fds N`: fds 3..3+N reach the process.
    pub preserve_fds: u32,
    /// `--cgroup [controller[,controller]:]path`: a sub-cgroup of the container's.
    pub cgroup: Vec<String>,
    /// `--ignore-paused`: exec into a paused container (the process runs once it is resumed).
    pub ignore_paused: bool,
}

/// What became of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecOutcome {
    /// `--detach`: it runs; `pid` is in the runtime's pid namespace.
    Detached { pid: i32 },
    /// It exited with `status` (128 + n when a signal n killed it).
    Exited { pid: i32, status: i32 },
}

/// Every way `exec` can fail. The messages a client may match on are runc's.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("cannot exec in a stopped container")]
    Stopped,
    #[error("cannot exec in a paused container (use --ignore-paused to override)")]
    Paused,
    #[error("cannot exec in a container that is still being created")]
    Creating,
    #[error("{0}")]
    Flag(String),
    #[error("--process {path}: {msg}")]
    ProcessFile { path: PathBuf, msg: String },
    #[error("{path}: {msg}")]
    Process { path: String, msg: String },
    #[error("reading the container's saved config.json")]
    SavedConfig(#[source] SpecError),
    #[error("{0}")]
    Terminal(String),
    #[error(transparent)]
    Runtime(#[from] crate::container::Error),
    #[error("--cgroup: {0}")]
    SubCgroup(String),
    #[error("joining the container's cgroup: writing {}", path.display())]
    JoinCgroup {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error(transparent)]
    Seccomp(#[from] SeccompError),
    #[error(transparent)]
    Tty(#[from] TtyError),
    #[error(transparent)]
    Procfs(#[from] crate::rootfs::procfs::ProcFsError),
    #[error(transparent)]
    Lsm(#[from] crate::lsm::LsmError),
    #[error("{what}")]
    Sys {
        what: String,
        #[source]
        source: Errno,
    },
    #[error("writing pid file {}", path.display())]
    PidFile {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("talking to the exec'd process")]
    Channel(#[from] ChannelError),
    #[error("unable to start container process")]
    Start(#[source] ErrorChain),
    #[error("the exec'd process died during setup ({0})")]
    Died(String),
    // Errors of the processes inside the container (sent back as an `ErrorChain`).
    #[error("joining the container's namespaces ({names})")]
    Setns {
        names: String,
        #[source]
        source: Errno,
    },
    #[error("entering the container's root directory")]
    Chroot(#[source] Errno),
    #[error("fork into the container's pid namespace")]
    Fork(#[source] Errno),
    #[error("closing inherited fds")]
    CloseFds(#[source] Errno),
    #[error(transparent)]
    Init(#[from] InitError),
    #[error(transparent)]
    Caps(#[from] capabilities::CapsError),
    #[error(transparent)]
    ProcAttr(#[from] crate::procattrs::ProcAttrError),
}

type Result<T, E = ExecError> = std::result::Result<T, E>;

fn sys_err(what: impl Into<String>) -> impl FnOnce(Errno) -> ExecError {
    let what = what.into();
    move |source| ExecError::Sys { what, source }
}

/// Runtime → setns process: nothing (the setns process needs nothing more once cloned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuntimeMsg {}

/// Setns process → runtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetnsMsg {
    /// The exec'd process was forked; `pid` is in the runtime's pid namespace.
    ExecPid {
        pid: i32,
    },
    Failed(ErrorChain),
}

// ---------------------------------------------------------------------------------------------
// Pure: the process object, its checks, the cgroup directories, the namespaces to join.

fn object<'a>(v: &'a mut Value, key: &str) -> &'a mut serde_json::Map<String, Value> {
    let m = v.as_object_mut().expect("an object");
    let e = m
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Default::default()));
    if !e.is_object() {
        *e = Value::Object(Default::default());
    }
    e.as_object_mut().expect("an object")
}

fn push(arr: &mut Value, item: Value) {
    if !arr.is_array() {
        *arr = Value::Array(Vec::new());
    }
    arr.as_array_mut().expect("an array").push(item);
}

/// Parse `--user uid[:gid]` (runc's messages).
pub fn parse_user(s: &str) -> Result<(u32, Option<u32>)> {
    let (u, g) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    let gid = match g {
        Some(g) => Some(
            g.parse::<u32>()
                .map_err(|e| ExecError::Flag(format!("parsing {g} as int for gid failed: {e}")))?,
        ),
        None => None,
    };
    let uid = u
        .parse::<u32>()
        .map_err(|e| ExecError::Flag(format!("parsing {u} as int for uid failed: {e}")))?;
    Ok((uid, gid))
}

/// The exec'd process from the container's `process` object and the flags, as runc 1.1 builds
/// it: the command replaces `args`; `--cwd`, `--apparmor`, `--process-label`, `--user` replace
/// their fields; `--env`, `--additional-gids`, `--cap` add to theirs; `terminal` is `--tty`.
pub fn process_from_flags(container: &Value, f: &ProcessFlags) -> Result<Value> {
    let mut p = match container {
        Value::Object(_) => container.clone(),
        _ => Value::Object(Default::default()),
    };
    let obj = p.as_object_mut().expect("an object");
    obj.insert("args".into(), Value::from(f.args.clone()));
    if let Some(cwd) = &f.cwd {
        obj.insert(
            "cwd".into(),
            Value::from(cwd.to_string_lossy().into_owned()),
        );
    }
    if let Some(a) = &f.apparmor {
        obj.insert("apparmorProfile".into(), Value::from(a.clone()));
    }
    if let Some(l) = &f.process_label {
        obj.insert("selinuxLabel".into(), Value::from(l.clone()));
    }
    for e in &f.env {
        push(
            obj.entry("env").or_insert(Value::Null),
            Value::from(e.clone()),
        );
    }
    obj.insert("terminal".into(), Value::from(f.tty));
    if f.no_new_privs {
        obj.insert("noNewPrivileges".into(), Value::from(true));
    }
    // Without a capabilities object the process has none (as the container's): nothing to add to.
    if let Some(Value::Object(caps)) = obj.get_mut("capabilities") {
        let inheritable = caps.get("inheritable").is_some_and(|v| !v.is_null());
        for c in &f.caps {
            for set in ["bounding", "effective", "permitted"] {
                push(
                    caps.entry(set).or_insert(Value::Null),
                    Value::from(c.clone()),
                );
            }
            if inheritable {
                push(
                    caps.entry("ambient").or_insert(Value::Null),
                    Value::from(c.clone()),
                );
            }
        }
    }
    if let Some(u) = &f.user {
        let (uid, gid) = parse_user(u)?;
        let user = object(&mut p, "user");
        user.insert("uid".into(), Value::from(uid));
        if let Some(g) = gid {
            user.insert("gid".into(), Value::from(g));
        }
    }
    for g in &f.additional_gids {
        let g = u32::try_from(*g).map_err(|_| {
            ExecError::Flag(format!("additional-gids must be a positive number {g}"))
        })?;
        let user = object(&mut p, "user");
        push(
            user.entry("additionalGids").or_insert(Value::Null),
            Value::from(g),
        );
    }
    Ok(p)
}

/// A `--process` file takes from the container's `process` what it leaves out: `capabilities`
/// when absent or null (runc 1.1.5 does the same: checked side by side), `apparmorProfile` and
/// `selinuxLabel` when absent or empty (runc's security labels likewise default to the
/// container's), and — where runc 1.1.5 does not — `noNewPrivileges` when absent and `rlimits`
/// when absent or empty: runc then runs the process without no_new_privs and with its own
/// (Go-raised) rlimits, i.e. with more than the container's process has, by omission.
pub fn inherit_from_container(mut file_process: Value, container: &Value) -> Value {
    let (Some(obj), Some(from)) = (file_process.as_object_mut(), container.as_object()) else {
        return file_process;
    };
    let missing = |v: Option<&Value>| match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    };
    for key in [
        "capabilities",
        "noNewPrivileges",
        "apparmorProfile",
        "selinuxLabel",
        "rlimits",
    ] {
        if missing(obj.get(key)) {
            if let Some(v) = from.get(key) {
                obj.insert(key.into(), v.clone());
            }
        }
    }
    file_process
}

/// With `--process`, the process-shaping flags have nothing to apply to: refuse them rather
/// than ignore them. `--tty` may be given (podman does) when the file asks for a terminal.
pub fn check_process_file_flags(f: &ProcessFlags, file_process: &Value) -> Result<()> {
    let given: Vec<&str> = [
        (!f.args.is_empty(), "a command"),
        (f.cwd.is_some(), "--cwd"),
        (!f.env.is_empty(), "--env"),
        (f.user.is_some(), "--user"),
        (!f.additional_gids.is_empty(), "--additional-gids"),
        (!f.caps.is_empty(), "--cap"),
        (f.no_new_privs, "--no-new-privs"),
        (f.apparmor.is_some(), "--apparmor"),
        (f.process_label.is_some(), "--process-label"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect();
    if !given.is_empty() {
        return Err(ExecError::Flag(format!(
            "{} cannot be combined with --process (the process file describes the whole process)",
            given.join(", ")
        )));
    }
    if f.tty && file_process.get("terminal") != Some(&Value::Bool(true)) {
        return Err(ExecError::Flag(
            "--tty: the --process file does not set \"terminal\": true".into(),
        ));
    }
    Ok(())
}

/// The environment as execve gets it: one entry per name, at the place of its first
/// occurrence, with the value of its last (runc sets them one after the other).
pub fn dedup_env(env: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(env.len());
    let mut at: HashMap<String, usize> = HashMap::new();
    for e in env {
        let name = e.split_once('=').map(|(k, _)| k).unwrap_or(e);
        match at.get(name) {
            Some(&i) => out[i] = e.clone(),
            None => {
                at.insert(name.to_string(), out.len());
                out.push(e.clone());
            }
        }
    }
    out
}

/// A `--cgroup` path: relative to the container's cgroup, and staying below it.
fn sub_path(p: &str) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(ExecError::SubCgroup(format!(
                    "{p} is not a sub cgroup path"
                )))
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err(ExecError::SubCgroup(format!(
            "{p:?} is not a sub cgroup path"
        )));
    }
    Ok(out)
}

/// Where the exec'd process goes in each of the container's hierarchies (same order as
/// `dirs`): the container's directory, or a sub-cgroup of it named by `--cgroup`. runc 1.1's
/// forms: `path` alone (every hierarchy; the only form on cgroup v2) or one or more
/// `controller[,controller]:path` (v1). The directories must already exist.
pub fn exec_cgroup_dirs(
    dirs: &[(Hierarchy, PathBuf)],
    mode: CgroupMode,
    args: &[String],
) -> Result<Vec<PathBuf>> {
    let mut all: Option<PathBuf> = None;
    let mut by_ctrl: Vec<(String, PathBuf)> = Vec::new();
    for a in args {
        match a.split_once(':') {
            Some((ctrls, path)) => {
                if mode == CgroupMode::Unified {
                    return Err(ExecError::SubCgroup(format!(
                        "{a}: cgroup v2 takes a single path without a controller prefix"
                    )));
                }
                let path = sub_path(path)?;
                for c in ctrls.split(',') {
                    if c.is_empty() {
                        return Err(ExecError::SubCgroup(format!(
                            "invalid argument {a} (empty controller)"
                        )));
                    }
                    if by_ctrl.iter().any(|(x, _)| x == c) {
                        return Err(ExecError::SubCgroup(format!(
                            "controller {c} specified multiple times"
                        )));
                    }
                    if !dirs.iter().any(|(h, _)| h.has(c)) {
                        return Err(ExecError::SubCgroup(format!(
                            "unknown controller {c} (the container has no such hierarchy)"
                        )));
                    }
                    by_ctrl.push((c.to_string(), path.clone()));
                }
            }
            None => {
                if args.len() != 1 {
                    return Err(ExecError::SubCgroup(format!(
                        "invalid argument {a} (a path without a controller prefix must be the only --cgroup)"
                    )));
                }
                all = Some(sub_path(a)?);
            }
        }
    }
    let mut out = Vec::with_capacity(dirs.len());
    for (h, dir) in dirs {
        let sub = by_ctrl
            .iter()
            .filter(|(c, _)| h.has(c))
            .map(|(c, p)| (c, p))
            .collect::<Vec<_>>();
        let chosen = match (sub.as_slice(), &all) {
            ([], None) => dir.clone(),
            ([], Some(p)) => dir.join(p),
            ([(_, p)], _) => dir.join(p),
            (many, _) => {
                // Co-mounted controllers (cpu,cpuacct) named with different paths.
                let first = many[0].1;
                if many.iter().any(|(_, p)| *p != first) {
                    let names: Vec<&str> = many.iter().map(|(c, _)| c.as_str()).collect();
                    return Err(ExecError::SubCgroup(format!(
                        "controllers {} share a hierarchy but were given different paths",
                        names.join(", ")
                    )));
                }
                dir.join(first)
            }
        };
        out.push(chosen);
    }
    Ok(out)
}

/// Namespace kinds as in /proc/<pid>/ns, with their clone flags.
pub const NS_KINDS: [(&str, libc::c_int); 8] = [
    ("user", libc::CLONE_NEWUSER),
    ("mnt", libc::CLONE_NEWNS),
    ("uts", libc::CLONE_NEWUTS),
    ("ipc", libc::CLONE_NEWIPC),
    ("net", libc::CLONE_NEWNET),
    ("pid", libc::CLONE_NEWPID),
    ("cgroup", libc::CLONE_NEWCGROUP),
    ("time", libc::CLONE_NEWTIME),
];

/// Identity (device, inode) of each namespace of `NS_KINDS`, `None` where the kernel lacks it.
pub type NsIds = [Option<(u64, u64)>; 8];

/// The namespaces of `pid` (a directory name under `proc_root`, such as "self" or "1234").
pub fn ns_ids(proc_root: &Path, pid: &str) -> NsIds {
    let mut ids = [None; 8];
    for (i, (name, _)) in NS_KINDS.iter().enumerate() {
        ids[i] = std::fs::metadata(proc_root.join(pid).join("ns").join(name))
            .ok()
            .map(|m| (m.dev(), m.ino()));
    }
    ids
}

/// The namespaces to join: every one the init is in that differs from ours. (Joining one we
/// are already in is refused by the kernel for the user namespace, and pointless otherwise.)
pub fn namespaces_to_join(ours: &NsIds, init: &NsIds) -> libc::c_int {
    let mut flags = 0;
    for (i, (_, flag)) in NS_KINDS.iter().enumerate() {
        if let (Some(o), Some(t)) = (ours[i], init[i]) {
            if o != t {
                flags |= flag;
            }
        }
    }
    flags
}

fn ns_names(flags: libc::c_int) -> String {
    NS_KINDS
        .iter()
        .filter(|(_, f)| flags & f != 0)
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------
// The runtime side.

/// The exec'd process, planned.
struct Prepared {
    plan: Plan,
    spec: Spec,
    caps: CapMasks,
    last_cap: u8,
    /// `process.execCPUAffinity` (empty lists mean "leave it").
    affinity_initial: Option<String>,
    affinity_final: Option<String>,
}

/// Kills and reaps what was started if the exec does not get to the end of its setup.
struct Guard {
    setns: Option<Pid>,
    exec: Option<Pid>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(p) = self.exec {
            let _ = kill(p, Signal::SIGKILL);
        }
        if let Some(p) = self.setns {
            let _ = kill(p, Signal::SIGKILL);
            let _ = waitpid(p, None);
        }
    }
}

impl Runtime {
    /// `exec <id>`: start a process in the container; with `detach`, return once it runs,
    /// otherwise wait for it (forwarding signals, proxying its terminal) and return its status.
    pub fn exec(&self, req: &ExecRequest) -> Result<ExecOutcome> {
        let st = self.store.load(&req.id)?;
        let status = self.status(&st);
        match status {
            Status::Stopped => return Err(ExecError::Stopped),
            Status::Paused if !req.ignore_paused => return Err(ExecError::Paused),
            Status::Creating => return Err(ExecError::Creating),
            Status::Created | Status::Running | Status::Paused => {}
        }
        let mut prepared = self.prepare_exec(&st, req)?;
        if prepared.plan.process.terminal && !req.detach {
            // The pty is ours to proxy: it starts with the caller's size (the process may look
            // at it before we could resize it; later changes come as SIGWINCH).
            if let Some(size) = run::caller_terminal_size() {
                prepared.plan.process.console_size = Some((size.rows, size.cols));
            }
        }
        let plan = &prepared.plan;
        run::check_terminal(
            plan.process.terminal,
            req.detach,
            req.console_socket.is_some(),
        )
        .map_err(ExecError::Terminal)?;
        crate::container::check_host(plan)?;
        let seccomp = match &plan.seccomp {
            Some(sc) => Some(seccomp::compile(sc)?),
            None => None,
        };

        // Pin the init: a pidfd opened while the recorded start time matches is the init's, and
        // what we read through /proc after it is the init's as long as the pidfd says it lives.
        let init = Pid::from_raw(st.pid);
        let pidfd = match sys::pidfd_open(init) {
            Ok(fd) => fd,
            Err(Errno::ESRCH) => return Err(ExecError::Stopped),
            Err(e) => return Err(sys_err("opening a pidfd for the container's init")(e)),
        };
        if liveness(&self.proc_root, st.pid, st.pid_start_time) != Liveness::Alive {
            return Err(ExecError::Stopped);
        }
        let root = nix::fcntl::open(
            &self.proc_root.join(st.pid.to_string()).join("root"),
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(sys_err("opening the container's root directory"))?;
        let join = namespaces_to_join(
            &ns_ids(&self.proc_root, "self"),
            &ns_ids(&self.proc_root, &st.pid.to_string()),
        );
        let cgroup = self.cgroup(&st)?;
        // Where the process goes: the cgroup2 directory (cloned into), the v1 ones (A moves
        // itself there).
        let targets: Vec<(Hierarchy, PathBuf)> = match &cgroup {
            Some(cg) => {
                let dirs: Vec<(Hierarchy, PathBuf)> = cg
                    .paths()
                    .map(|(h, p)| (h.clone(), p.to_path_buf()))
                    .collect();
                let t = exec_cgroup_dirs(&dirs, cg.mode(), &req.cgroup)?;
                for d in &t {
                    if !d.is_dir() {
                        return Err(ExecError::SubCgroup(format!(
                            "{}: no such cgroup directory",
                            d.display()
                        )));
                    }
                }
                dirs.into_iter().map(|(h, _)| h).zip(t).collect()
            }
            None if !req.cgroup.is_empty() => {
                return Err(ExecError::SubCgroup(
                    "the container has no cgroup of its own".into(),
                ))
            }
            None => Vec::new(),
        };
        if sys::pidfd_send_signal(pidfd.as_fd(), 0).is_err() {
            return Err(ExecError::Stopped);
        }
        let clone_into = match targets.iter().find(|(h, _)| *h == Hierarchy::Unified) {
            Some((_, dir)) => Some(
                nix::fcntl::open(
                    dir,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(sys_err(format!("opening {}", dir.display())))?,
            ),
            None => None,
        };
        let v1_tasks: Vec<PathBuf> = targets
            .iter()
            .filter(|(h, _)| matches!(h, Hierarchy::V1 { .. }))
            .map(|(_, d)| d.join("tasks"))
            .collect();

        let fg = if req.detach {
            None
        } else {
            Some(Foreground::prepare()?)
        };
        let (console_ours, console_theirs) = match (&req.console_socket, plan.process.terminal) {
            (Some(path), true) => (None, Some(tty::connect_console_socket(path)?)),
            (None, true) => {
                let (a, b) =
                    run::console_pair().map_err(sys_err("creating the console socket pair"))?;
                (Some(a), Some(b))
            }
            (_, false) => (None, None),
        };

        let (setns_parent, setns_child) = Channel::<RuntimeMsg, SetnsMsg>::pair()?;
        let (exec_parent, exec_child) = Channel::<StartMsg, InitReply>::pair()?;
        sys::assert_single_threaded().map_err(|_| ExecError::Sys {
            what: "the runtime process has more than one thread; cannot fork safely".into(),
            source: Errno::EDEADLK,
        })?;
        // execCPUAffinity.initial: the runtime's process that becomes the exec'd process's parent
        // runs there before it moves into the container's cgroup; we lend it our own affinity
        // for the clone and take ours back right after.
        let own_affinity = match &prepared.affinity_initial {
            Some(list) => {
                let own = nix::sched::sched_getaffinity(Pid::from_raw(0))
                    .map_err(sys_err("reading the runtime's cpu affinity"))?;
                crate::procattrs::set_affinity("initial", list)?;
                Some(own)
            }
            None => None,
        };
        // Non-dumpable before the clone (CVE-2019-5736): the child carries the runtime's binary
        // into the container until it execs; without CAP_SYS_PTRACE over us, no process there
        // can open its /proc/<pid>/exe (see `selfexe`).
        nix::sys::prctl::set_dumpable(false).map_err(sys_err("making the runtime non-dumpable"))?;
        let forked = sys::clone_fork(0, clone_into.as_ref().map(|f| f.as_fd()));
        if let (Some(own), Ok(Forked::Parent(_)) | Err(_)) = (&own_affinity, &forked) {
            let _ = nix::sched::sched_setaffinity(Pid::from_raw(0), own);
        }
        let forked = forked.map_err(sys_err("creating the exec process"))?;
        let setns_pid = match forked {
            Forked::Child => {
                drop(setns_parent);
                drop(exec_parent);
                drop(console_ours);
                setns_main(Child {
                    plan,
                    affinity_final: prepared.affinity_final.as_deref(),
                    caps: prepared.caps,
                    last_cap: prepared.last_cap,
                    seccomp: Cell::new(seccomp),
                    pidfd,
                    root,
                    join,
                    v1_tasks,
                    to_runtime: setns_child,
                    to_runtime_exec: exec_child,
                    console: console_theirs,
                    preserve_fds: req.preserve_fds,
                })
            }
            Forked::Parent(pid) => pid,
        };
        drop(setns_child);
        drop(exec_child);
        drop(console_theirs);
        drop(clone_into);
        let mut guard = Guard {
            setns: Some(setns_pid),
            exec: None,
        };

        let pid = match setns_parent.recv()? {
            Some(SetnsMsg::ExecPid { pid }) => Pid::from_raw(pid),
            Some(SetnsMsg::Failed(chain)) => return Err(ExecError::Start(chain)),
            None => {
                guard.setns = None;
                return Err(ExecError::Died(describe(waitpid(setns_pid, None))));
            }
        };
        guard.exec = Some(pid);
        guard.setns = None;
        let _ = waitpid(setns_pid, None);

        let mut executing = false;
        loop {
            match exec_parent.recv_with_fds()? {
                None => break,
                Some((InitReply::Executing, _)) => executing = true,
                Some((InitReply::SeccompFd, fds)) => {
                    self.send_exec_seccomp_fd(&st, &prepared.spec, pid.as_raw(), status, fds)?
                }
                Some((InitReply::Failed(chain), _)) => return Err(ExecError::Start(chain)),
            }
        }
        if !executing {
            return Err(ExecError::Died("no report from the process".into()));
        }
        guard.exec = None;
        let master = match &console_ours {
            Some(s) => run::receive_master(s.as_fd())
                .map_err(sys_err("receiving the pty master from the container"))?,
            None => None,
        };
        drop(console_ours);
        let tty = match master {
            Some(m) => Some(TtyProxy::new(m)?),
            None => None,
        };
        if let Some(pf) = &req.pid_file {
            crate::state::write_pid_file(pf, pid.as_raw()).map_err(|e| ExecError::PidFile {
                path: pf.clone(),
                source: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
            })?;
        }
        match fg {
            None => Ok(ExecOutcome::Detached { pid: pid.as_raw() }),
            Some(fg) => {
                let status = fg.wait(pid, tty)?;
                Ok(ExecOutcome::Exited {
                    pid: pid.as_raw(),
                    status,
                })
            }
        }
    }

    /// The exec'd process: its `process` object merged into the saved config, parsed,
    /// validated and planned; capability masks resolved against this kernel.
    fn prepare_exec(&self, st: &ContainerState, req: &ExecRequest) -> Result<Prepared> {
        let saved_path = self.store.dir(&st.id).join(CONFIG_COPY);
        let raw = std::fs::read(&saved_path).map_err(|source| {
            ExecError::SavedConfig(SpecError::Read {
                path: saved_path.clone(),
                source,
            })
        })?;
        let mut config: Value =
            serde_json::from_slice(&raw).map_err(|e| ExecError::SavedConfig(SpecError::Json(e)))?;
        let process = match &req.process_file {
            Some(path) => {
                let bytes = std::fs::read(path).map_err(|e| ExecError::ProcessFile {
                    path: path.clone(),
                    msg: crate::container::io_msg(&e),
                })?;
                let v: Value =
                    serde_json::from_slice(&bytes).map_err(|e| ExecError::ProcessFile {
                        path: path.clone(),
                        msg: format!("invalid JSON: {e}"),
                    })?;
                if !v.is_object() {
                    return Err(ExecError::ProcessFile {
                        path: path.clone(),
                        msg: "must be a JSON object (a config.json process)".into(),
                    });
                }
                check_process_file_flags(&req.flags, &v)?;
                inherit_from_container(v, config.get("process").unwrap_or(&Value::Null))
            }
            None => process_from_flags(config.get("process").unwrap_or(&Value::Null), &req.flags)?,
        };
        config
            .as_object_mut()
            .ok_or_else(|| {
                ExecError::SavedConfig(SpecError::Field {
                    path: "(root)".into(),
                    msg: "must be a JSON object".into(),
                })
            })?
            .insert("process".into(), process);
        let field_err = |path: String, msg: String| match &req.process_file {
            Some(file) => ExecError::ProcessFile {
                path: file.clone(),
                msg: format!("{path}: {msg}"),
            },
            None => ExecError::Process { path, msg },
        };
        let bytes = serde_json::to_vec(&config).expect("JSON serialises");
        let (spec, warnings) = spec::parse_with_warnings(&bytes).map_err(|e| match e {
            SpecError::Field { path, msg } => field_err(path, msg),
            SpecError::Invalid(InvalidSpec { path, msg }) => field_err(path, msg),
            other => ExecError::SavedConfig(other),
        })?;
        for w in warnings {
            log::warn!("{w}");
        }
        spec::validate(&spec).map_err(|e| field_err(e.path, e.msg))?;
        let options = CreateOptions {
            preserve_fds: req.preserve_fds,
            console_socket: req.console_socket.clone(),
            pid_file: req.pid_file.clone(),
            ..Default::default()
        };
        let mut plan = plan::build(&st.id, &st.bundle, &spec, options)
            .map_err(|e| field_err(e.path, e.msg))?;
        plan.process.env = dedup_env(&plan.process.env);
        let last_cap = capabilities::last_cap();
        let (mut caps, unknown) = capabilities::resolve(&plan.process.caps, last_cap);
        capabilities::effective_ambient(&mut caps);
        if !unknown.is_empty() {
            log::warn!(
                "ignoring unknown or unavailable capabilities: [{}]",
                unknown.join(" ")
            );
        }
        let aff = spec
            .process()
            .as_ref()
            .and_then(|p| p.exec_cpu_affinity().clone());
        let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        Ok(Prepared {
            affinity_initial: aff.as_ref().and_then(|a| nonempty(a.initial())),
            affinity_final: aff.as_ref().and_then(|a| nonempty(a.cpu_affinity_final())),
            plan,
            spec,
            caps,
            last_cap,
        })
    }

    /// Pass the exec'd process's seccomp notify fd to `linux.seccomp.listenerPath`.
    fn send_exec_seccomp_fd(
        &self,
        st: &ContainerState,
        spec: &Spec,
        pid: i32,
        status: Status,
        fds: Vec<OwnedFd>,
    ) -> Result<()> {
        let fd = fds.into_iter().next().ok_or_else(|| ExecError::Sys {
            what: "linux.seccomp: the exec'd process sent no notify fd".into(),
            source: Errno::EBADMSG,
        })?;
        let sc = spec
            .linux()
            .as_ref()
            .and_then(|l| l.seccomp().clone())
            .ok_or_else(|| ExecError::Process {
                path: "linux.seccomp".into(),
                msg: "missing in the saved config".into(),
            })?;
        let path = sc
            .listener_path()
            .clone()
            .ok_or_else(|| ExecError::Process {
                path: "linux.seccomp.listenerPath".into(),
                msg: "required by SCMP_ACT_NOTIFY".into(),
            })?;
        let oci_status = match status {
            Status::Created => oci_spec::runtime::ContainerState::Created,
            // The spec's states have no "paused": a frozen container still runs.
            _ => oci_spec::runtime::ContainerState::Running,
        };
        let mut state = oci_spec::runtime::State::default();
        state
            .set_version(crate::state::OCI_VERSION.to_string())
            .set_id(st.id.clone())
            .set_status(oci_status)
            .set_pid(Some(st.pid))
            .set_bundle(st.bundle.clone())
            .set_annotations(Some(st.annotations.clone().into_iter().collect()));
        let msg = seccomp::process_state(&state, pid, sc.listener_metadata().as_deref());
        seccomp::send_to_listener(&path, &msg, fd.as_fd())?;
        Ok(())
    }
}

/// How a child ended, for an error message.
fn describe(status: nix::Result<nix::sys::wait::WaitStatus>) -> String {
    use nix::sys::wait::WaitStatus;
    match status {
        Ok(WaitStatus::Exited(_, code)) => format!("exit status {code}"),
        Ok(WaitStatus::Signaled(_, sig, _)) => format!("killed by {sig}"),
        Ok(other) => format!("{other:?}"),
        Err(e) => format!("wait: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The processes inside: A joins, B becomes the program.

/// What the setns process and the exec'd process hold (copies made by clone/fork).
struct Child<'a> {
    plan: &'a Plan,
    affinity_final: Option<&'a str>,
    caps: CapMasks,
    last_cap: u8,
    seccomp: Cell<Option<Filter>>,
    /// The init's pidfd: `setns` joins all its namespaces at once.
    pidfd: OwnedFd,
    /// The init's root directory (`/proc/<pid>/root`).
    root: OwnedFd,
    join: libc::c_int,
    /// v1 `tasks` files to write `0` to.
    v1_tasks: Vec<PathBuf>,
    to_runtime: Channel<SetnsMsg, RuntimeMsg>,
    to_runtime_exec: Channel<InitReply, StartMsg>,
    /// Where the pty master goes: `--console-socket`, or the runtime's socket pair.
    console: Option<OwnedFd>,
    preserve_fds: u32,
}

/// Entry point of the setns process (A). Never returns.
fn setns_main(c: Child<'_>) -> ! {
    match setns_stage(&c) {
        Ok(Forked::Parent(pid)) => {
            let _ = c.to_runtime.send(&SetnsMsg::ExecPid { pid: pid.as_raw() });
            sys::exit_immediately(0)
        }
        Ok(Forked::Child) => {
            let Child {
                plan,
                affinity_final,
                caps,
                last_cap,
                seccomp,
                pidfd,
                root,
                to_runtime,
                to_runtime_exec,
                console,
                ..
            } = c;
            // B keeps only its own channel: the setns channel must close when A exits.
            drop(to_runtime);
            drop(pidfd);
            drop(root);
            let b = ExecChild {
                plan,
                affinity_final,
                caps,
                last_cap,
                seccomp,
                chan: to_runtime_exec,
                console,
            };
            match exec_stage(&b) {
                Ok(never) => match never {},
                Err(e) => {
                    let _ = b.chan.send(&InitReply::Failed(ErrorChain::capture(&e)));
                    sys::exit_immediately(1)
                }
            }
        }
        Err(e) => {
            let _ = c
                .to_runtime
                .send(&SetnsMsg::Failed(ErrorChain::capture(&e)));
            sys::exit_immediately(1)
        }
    }
}

fn setns_stage(c: &Child<'_>) -> Result<Forked> {
    sys::reset_signal_dispositions();
    let mut keep = vec![
        c.to_runtime.as_fd().as_raw_fd(),
        c.to_runtime_exec.as_fd().as_raw_fd(),
        c.pidfd.as_raw_fd(),
        c.root.as_raw_fd(),
    ];
    if let Some(con) = &c.console {
        keep.push(con.as_raw_fd());
    }
    // Every fd above stdio and the preserved ones, except our own (close-on-exec).
    crate::process::init::close_fds_except(3 + c.preserve_fds, &keep)
        .map_err(ExecError::CloseFds)?;
    for path in &c.v1_tasks {
        std::fs::write(path, "0").map_err(|e| ExecError::JoinCgroup {
            path: path.clone(),
            source: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
        })?;
    }
    if c.join != 0 {
        nix::sched::setns(c.pidfd.as_fd(), CloneFlags::from_bits_retain(c.join)).map_err(
            |source| ExecError::Setns {
                names: ns_names(c.join),
                source,
            },
        )?;
    }
    // The mount namespace's root is the container's root after pivot_root; going through the
    // init's own root also covers --no-pivot (MS_MOVE + chroot).
    nix::unistd::fchdir(c.root.as_fd()).map_err(ExecError::Chroot)?;
    nix::unistd::chroot(".").map_err(ExecError::Chroot)?;
    sys::fork().map_err(ExecError::Fork)
}

/// The exec'd process (B), inside every namespace of the container.
struct ExecChild<'a> {
    plan: &'a Plan,
    affinity_final: Option<&'a str>,
    caps: CapMasks,
    last_cap: u8,
    seccomp: Cell<Option<Filter>>,
    chan: Channel<InitReply, StartMsg>,
    console: Option<OwnedFd>,
}

/// Everything the init's `start` does for the user process, in the same order, for B.
fn exec_stage(b: &ExecChild<'_>) -> Result<Infallible> {
    let plan = b.plan;
    let p = &plan.process;
    let root = nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(ExecError::Chroot)?;
    // In the container's cgroup by now: execCPUAffinity.final.
    if let Some(list) = b.affinity_final {
        crate::procattrs::set_affinity("final", list)?;
    }
    for r in &p.rlimits {
        sys::setrlimit(r.resource, r.soft, r.hard).map_err(|source| InitError::Rlimit {
            name: r.name,
            soft: r.soft,
            hard: r.hard,
            source,
        })?;
    }
    // scheduler, ioPriority, personality, memoryPolicy: as the init applies them.
    crate::procattrs::apply(&p.attrs)?;
    if p.terminal {
        let console = b.console.as_ref().ok_or(InitError::NoConsoleSocket)?;
        nix::unistd::setsid().map_err(|source| InitError::User {
            what: "setsid".into(),
            source,
        })?;
        let pty = tty::open_pty(root.as_fd(), p.console_size)?;
        tty::send_master(console.as_fd(), &pty)?;
        tty::make_stdio(pty.slave.as_fd())?;
    }
    let exe = init::resolve_executable(root.as_fd(), plan)?;
    let env = init::environment(root.as_fd(), plan);
    let groups = init::supplementary_groups(root.as_fd(), plan);
    init::fix_stdio_ownership(plan);
    let args: Vec<CString> = p
        .args
        .iter()
        .filter_map(|s| CString::new(s.as_bytes()).ok())
        .collect();

    // AppArmor, as in the init: the profile for the execve, through a procfs instance of our own
    // (made here, in the container's pid namespace), not the container's /proc.
    if let Some(profile) = &p.apparmor_profile {
        let proc = crate::rootfs::ProcFs::open()?;
        crate::lsm::apparmor_exec(&proc, profile)?;
    }
    b.chan.send(&InitReply::Executing)?;
    // As in the init: without no_new_privs the filter needs CAP_SYS_ADMIN, so it goes in first.
    let mut filter = b.seccomp.take();
    if !p.no_new_privileges {
        if let Some(f) = filter.take() {
            init::install_seccomp(f, &b.chan)?;
        }
    }
    // No `process.capabilities` means empty sets (as runc and crun): the process gets none.
    capabilities::drop_bounding(&b.caps, b.last_cap)?;
    init::change_user(plan, &groups)?;
    capabilities::apply_sets(&b.caps, b.last_cap)?;
    if let Some(mask) = p.umask {
        sys::set_umask(mask);
    }
    init::change_dir(&p.cwd)?;
    if p.no_new_privileges {
        nix::sys::prctl::set_no_new_privs().map_err(InitError::NoNewPrivs)?;
    }
    if let Some(f) = filter {
        init::install_seccomp(f, &b.chan)?;
    }
    let err = nix::unistd::execve(&exe, &args, &env).unwrap_err();
    Err(InitError::Exec {
        arg0: p.args[0].clone(),
        msg: err.desc().to_lowercase(),
    }
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn container_process() -> Value {
        json!({
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sleep", "60"],
            "env": ["PATH=/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_KILL"],
                "effective": ["CAP_KILL"],
                "permitted": ["CAP_KILL"]
            },
            "noNewPrivileges": false,
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]
        })
    }

    #[test]
    fn flags_apply_as_runc_applies_them() {
        let f = ProcessFlags {
            args: vec!["sh".into(), "-c".into(), "id".into()],
            cwd: Some("/tmp".into()),
            env: vec!["A=1".into(), "PATH=/usr/bin".into()],
            tty: false,
            user: Some("1000:1001".into()),
            additional_gids: vec![5, 6],
            caps: vec!["CAP_SYS_ADMIN".into()],
            no_new_privs: true,
            apparmor: None,
            process_label: None,
        };
        let p = process_from_flags(&container_process(), &f).unwrap();
        assert_eq!(p["args"], json!(["sh", "-c", "id"]));
        assert_eq!(p["cwd"], "/tmp");
        assert_eq!(
            p["env"],
            json!(["PATH=/bin", "TERM=xterm", "A=1", "PATH=/usr/bin"])
        );
        assert_eq!(
            p["terminal"], false,
            "terminal is --tty, not the container's"
        );
        assert_eq!(
            p["user"],
            json!({"uid": 1000, "gid": 1001, "additionalGids": [5, 6]})
        );
        assert_eq!(
            p["capabilities"]["bounding"],
            json!(["CAP_KILL", "CAP_SYS_ADMIN"])
        );
        assert_eq!(
            p["capabilities"]["permitted"],
            json!(["CAP_KILL", "CAP_SYS_ADMIN"])
        );
        assert!(
            p["capabilities"].get("ambient").is_none(),
            "no inheritable set: ambient is left alone"
        );
        assert_eq!(p["noNewPrivileges"], true);
        // rlimits stay the container's (runc applies them to exec'd processes too).
        assert_eq!(p["rlimits"][0]["soft"], 1024);
    }

    #[test]
    fn cap_goes_to_ambient_only_with_an_inheritable_set() {
        let mut c = container_process();
        c["capabilities"]["inheritable"] = json!([]);
        let f = ProcessFlags {
            args: vec!["true".into()],
            caps: vec!["CAP_NET_RAW".into()],
            ..Default::default()
        };
        let p = process_from_flags(&c, &f).unwrap();
        assert_eq!(p["capabilities"]["ambient"], json!(["CAP_NET_RAW"]));
        assert_eq!(p["capabilities"]["inheritable"], json!([]));
    }

    #[test]
    fn a_process_file_takes_what_it_leaves_out_from_the_container() {
        let container = json!({
            "args": ["sleep"],
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"]},
            "noNewPrivileges": true,
            "apparmorProfile": "p",
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]
        });
        let p = inherit_from_container(
            json!({"args": ["true"], "cwd": "/", "apparmorProfile": "", "rlimits": []}),
            &container,
        );
        assert_eq!(p["args"], json!(["true"]));
        assert_eq!(p["capabilities"], container["capabilities"]);
        assert_eq!(p["noNewPrivileges"], true);
        assert_eq!(p["apparmorProfile"], "p");
        assert_eq!(p["rlimits"], container["rlimits"]);
        assert!(p.get("selinuxLabel").is_none());
        // What the file gives is kept, even when it is less than the container's.
        let p = inherit_from_container(
            json!({"args": ["true"], "capabilities": {}, "noNewPrivileges": false}),
            &container,
        );
        assert_eq!(p["capabilities"], json!({}));
        assert_eq!(p["noNewPrivileges"], false);
    }

    #[test]
    fn user_without_gid_keeps_the_containers_gid() {
        let mut c = container_process();
        c["user"]["gid"] = json!(7);
        let f = ProcessFlags {
            args: vec!["id".into()],
            user: Some("1000".into()),
            ..Default::default()
        };
        let p = process_from_flags(&c, &f).unwrap();
        assert_eq!(p["user"]["uid"], 1000);
        assert_eq!(p["user"]["gid"], 7);
    }

    #[test]
    fn bad_user_and_gids_are_refused_with_runcs_words() {
        assert_eq!(parse_user("1:2").unwrap(), (1, Some(2)));
        assert_eq!(parse_user("3").unwrap(), (3, None));
        let e = parse_user("abc").unwrap_err().to_string();
        assert!(e.starts_with("parsing abc as int for uid failed"), "{e}");
        let e = parse_user("1:x").unwrap_err().to_string();
        assert!(e.starts_with("parsing x as int for gid failed"), "{e}");
        assert!(parse_user("-1").is_err());
        let f = ProcessFlags {
            args: vec!["id".into()],
            additional_gids: vec![-1],
            ..Default::default()
        };
        let e = process_from_flags(&container_process(), &f)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "additional-gids must be a positive number -1");
    }

    #[test]
    fn process_file_refuses_other_process_flags() {
        let file = json!({"terminal": true, "args": ["sh"], "cwd": "/"});
        let tty_only = ProcessFlags {
            tty: true,
            ..Default::default()
        };
        check_process_file_flags(&tty_only, &file).unwrap();
        let e = check_process_file_flags(&tty_only, &json!({"args": ["sh"], "cwd": "/"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--tty"), "{e}");
        let f = ProcessFlags {
            args: vec!["x".into()],
            env: vec!["A=1".into()],
            ..Default::default()
        };
        let e = check_process_file_flags(&f, &file).unwrap_err().to_string();
        assert!(
            e.starts_with("a command, --env cannot be combined with --process"),
            "{e}"
        );
    }

    #[test]
    fn env_later_value_wins_at_first_place() {
        let env: Vec<String> = ["PATH=/bin", "TERM=xterm", "A=1", "A=2", "PATH=/x:/bin"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(dedup_env(&env), vec!["PATH=/x:/bin", "TERM=xterm", "A=2"]);
    }

    fn v1_dirs() -> Vec<(Hierarchy, PathBuf)> {
        vec![
            (
                Hierarchy::V1 {
                    controllers: vec!["cpu".into(), "cpuacct".into()],
                },
                PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/c"),
            ),
            (
                Hierarchy::V1 {
                    controllers: vec!["memory".into()],
                },
                PathBuf::from("/sys/fs/cgroup/memory/c"),
            ),
            (
                Hierarchy::V1 {
                    controllers: vec!["name=systemd".into()],
                },
                PathBuf::from("/sys/fs/cgroup/systemd/c"),
            ),
            (
                Hierarchy::Unified,
                PathBuf::from("/sys/fs/cgroup/unified/c"),
            ),
        ]
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sub_cgroups_v1_forms() {
        let d = v1_dirs();
        let same = exec_cgroup_dirs(&d, CgroupMode::Hybrid, &[]).unwrap();
        assert_eq!(same, d.iter().map(|(_, p)| p.clone()).collect::<Vec<_>>());
        let all = exec_cgroup_dirs(&d, CgroupMode::Hybrid, &args(&["/sub/x"])).unwrap();
        assert!(all.iter().zip(&d).all(|(a, (_, p))| *a == p.join("sub/x")));
        let some = exec_cgroup_dirs(
            &d,
            CgroupMode::Hybrid,
            &args(&["memory:sub", "cpu,cpuacct:s2", "name=systemd:/s3"]),
        )
        .unwrap();
        assert_eq!(
            some,
            vec![
                PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/c/s2"),
                PathBuf::from("/sys/fs/cgroup/memory/c/sub"),
                PathBuf::from("/sys/fs/cgroup/systemd/c/s3"),
                PathBuf::from("/sys/fs/cgroup/unified/c"),
            ]
        );
    }

    #[test]
    fn sub_cgroups_refusals() {
        let d = v1_dirs();
        let err = |a: &[&str], mode| {
            exec_cgroup_dirs(&d, mode, &args(a))
                .unwrap_err()
                .to_string()
        };
        assert!(err(&["../x"], CgroupMode::Hybrid).contains("not a sub cgroup path"));
        assert!(err(&["memory:a/../../b"], CgroupMode::Hybrid).contains("not a sub cgroup path"));
        assert!(err(&["/"], CgroupMode::Hybrid).contains("not a sub cgroup path"));
        assert!(err(&["foo:x"], CgroupMode::Hybrid).contains("unknown controller foo"));
        assert!(err(&[":x"], CgroupMode::Hybrid).contains("empty controller"));
        assert!(err(&["memory:x", "memory:y"], CgroupMode::Hybrid)
            .contains("controller memory specified multiple times"));
        assert!(err(&["x", "memory:y"], CgroupMode::Hybrid).contains("must be the only"));
        assert!(err(&["cpu:a", "cpuacct:b"], CgroupMode::Hybrid).contains("share a hierarchy"));
        let v2 = vec![(Hierarchy::Unified, PathBuf::from("/sys/fs/cgroup/c"))];
        assert_eq!(
            exec_cgroup_dirs(&v2, CgroupMode::Unified, &args(&["sub"])).unwrap(),
            vec![PathBuf::from("/sys/fs/cgroup/c/sub")]
        );
        let e = exec_cgroup_dirs(&v2, CgroupMode::Unified, &args(&["memory:sub"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cgroup v2 takes a single path"), "{e}");
    }

    #[test]
    fn namespaces_that_differ_are_joined() {
        let ours: NsIds = [Some((4, 1)); 8];
        let mut init = ours;
        init[1] = Some((4, 2)); // mnt
        init[5] = Some((4, 3)); // pid
        init[7] = None; // no time namespaces on that kernel
        assert_eq!(
            namespaces_to_join(&ours, &init),
            libc::CLONE_NEWNS | libc::CLONE_NEWPID
        );
        assert_eq!(ns_names(libc::CLONE_NEWNS | libc::CLONE_NEWPID), "mnt, pid");
        assert_eq!(namespaces_to_join(&ours, &ours), 0);
    }

    #[test]
    fn own_namespaces_are_found() {
        let me = ns_ids(Path::new("/proc"), "self");
        assert!(me[0].is_some() && me[1].is_some() && me[5].is_some());
        let fake = tempfile::tempdir().unwrap();
        assert_eq!(ns_ids(fake.path(), "self"), [None; 8]);
    }
}
