//! The container operations of runtime.md (create, start, state, kill, delete) plus list, as
//! the library API that the `minke` binary — or a shim embedding this crate — calls. Each
//! operation is one function; errors are [`Error`], whose messages match runc's where clients
//! match on them ("container does not exist", "container not running", ...).

use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use nix::errno::Errno;
use nix::sys::socket::{bind, connect, listen, socket, AddressFamily, Backlog, SockFlag, SockType};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::capabilities;
use crate::cgroups::{
    self, Cgroup, CgroupError, CgroupHost, CgroupMode, FreezerState, Hierarchy, SavedCgroup,
};
use crate::hooks::{self, HookKind};
use crate::plan::{self, CreateOptions, Plan};
use crate::proc;
use crate::process::parent::{self, CreateHost, SpawnArgs};
use crate::process::{Channel, InitReply, StartMsg};
use crate::rootfs::CgroupMountInfo;
use crate::spec::{self, SpecError};
use crate::state::{
    self, derive_status, liveness, ContainerState, Liveness, Phase, StateError, Status, Store,
    CONFIG_COPY, OCI_VERSION, START_SOCKET,
};
use crate::sys;
use crate::tty;

/// Every way an operation can fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Invalid(#[from] spec::InvalidSpec),
    #[error("bundle {path}: {msg}")]
    Bundle { path: PathBuf, msg: String },
    #[error("root.path {path}: {msg}")]
    Rootfs { path: PathBuf, msg: String },
    #[error("{0}")]
    Unsupported(String),
    #[error(transparent)]
    Create(#[from] parent::ParentError),
    #[error(transparent)]
    Tty(#[from] tty::TtyError),
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}")]
    Sys {
        what: String,
        #[source]
        source: Errno,
    },
    #[error("container not running")]
    NotRunning,
    #[error("cannot start a container that has stopped")]
    StartStopped,
    #[error("cannot start an already running container")]
    StartRunning,
    #[error("cannot start a container in the {0} state")]
    StartWrongState(Status),
    #[error("cannot delete container {id} that is not stopped: {status}")]
    DeleteNotStopped { id: String, status: Status },
    #[error("unable to start container process")]
    Start(#[source] crate::process::ErrorChain),
    #[error("container init exited before running the process")]
    StartDied,
    #[error(transparent)]
    Hook(#[from] hooks::HookError),
    #[error("unable to signal init")]
    Signal(#[source] Errno),
    #[error("timed out waiting for the container to stop")]
    StopTimeout,
    #[error("talking to the container's init")]
    Channel(#[from] crate::process::ChannelError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::SeccompError),
    #[error("corrupt cgroup record in the state file")]
    CgroupRecord(#[source] serde_json::Error),
    #[error("container {0} is paused, resume it first")]
    Paused(String),
    #[error(transparent)]
    Rdt(#[from] crate::resctrl::RdtError),
    #[error(transparent)]
    Idmap(#[from] crate::rootfs::idmap::IdmapError),
    #[error(transparent)]
    NetDev(#[from] crate::netdev::NetDevError),
    #[error(transparent)]
    Lsm(#[from] crate::lsm::LsmError),
}

type Result<T, E = Error> = std::result::Result<T, E>;

fn sys_err(what: impl Into<String>) -> impl FnOnce(Errno) -> Error {
    let what = what.into();
    move |source| Error::Sys { what, source }
}

/// An io::Error as a lowercase message without Rust's "(os error N)" suffix.
pub fn io_msg(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => Errno::from_raw(code).desc().to_lowercase(),
        None => e.to_string(),
    }
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// The state document printed by `state` and `list` (the spec's state plus runc's extras).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateReport {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub annotations: BTreeMap<String, String>,
    pub owner: String,
}

/// The state passed to hooks (runtime.md "State"): only the spec's fields.
#[derive(Debug, Clone, Serialize)]
struct HookState<'a> {
    #[serde(rename = "ociVersion")]
    oci_version: &'a str,
    id: &'a str,
    status: Status,
    /// Absent once stopped (the spec requires it only for created and running).
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<i32>,
    bundle: &'a Path,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: &'a BTreeMap<String, String>,
}

/// The runtime: where state lives and where /proc is.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub store: Store,
    pub proc_root: PathBuf,
}

/// A request to create a container.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub id: String,
    pub bundle: PathBuf,
    pub options: CreateOptions,
    /// Fds (besides stdio) of the runtime that must stay open in the init until exec, such
    /// as the log file.
    pub keep_fds: Vec<RawFd>,
}

/// Warnings produced by an operation (to be logged by the caller).
pub type Warnings = Vec<String>;

impl Runtime {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Runtime {
            store: Store::new(root),
            proc_root: PathBuf::from("/proc"),
        }
    }

    /// The status of a loaded state, from live facts.
    pub fn status(&self, st: &ContainerState) -> Status {
        let init = liveness(&self.proc_root, st.pid, st.pid_start_time);
        let creator = liveness(&self.proc_root, st.creator_pid, st.creator_start_time);
        let frozen = init == Liveness::Alive
            && st
                .cgroup
                .as_ref()
                .and_then(|v| serde_json::from_value::<SavedCgroup>(v.clone()).ok())
                .is_some_and(|saved| saved.freezer_state().ok() == Some(FreezerState::Frozen));
        derive_status(st.phase, init, creator, frozen)
    }

    /// The container's cgroup handle, if it has one.
    pub fn cgroup(&self, st: &ContainerState) -> Result<Option<Cgroup>> {
        let Some(v) = &st.cgroup else { return Ok(None) };
        let saved: SavedCgroup = serde_json::from_value(v.clone()).map_err(Error::CgroupRecord)?;
        let host = cgroups::detect()?;
        Ok(Some(Cgroup::load(&host, &saved)?))
    }

    fn report(&self, st: &ContainerState, owner: String) -> StateReport {
        let status = self.status(st);
        StateReport {
            oci_version: st.oci_version.clone(),
            id: st.id.clone(),
            pid: if status == Status::Stopped { 0 } else { st.pid },
            status,
            bundle: st.bundle.clone(),
            rootfs: st.rootfs.clone(),
            created: st.created.clone(),
            annotations: st.annotations.clone(),
            owner,
        }
    }

    /// `state <id>`.
    pub fn state(&self, id: &str) -> Result<StateReport> {
        let st = self.store.load(id)?;
        Ok(self.report(&st, String::new()))
    }

    /// `list`: every container, with the owner of its state directory.
    pub fn list(&self) -> Result<Vec<StateReport>> {
        let mut out = Vec::new();
        for id in self.store.ids()? {
            let Ok(st) = self.store.load(&id) else {
                continue;
            };
            let owner = std::fs::metadata(self.store.dir(&id))
                .map(|m| user_name(m.uid()))
                .unwrap_or_default();
            out.push(self.report(&st, owner));
        }
        Ok(out)
    }

    fn hook_state(st: &ContainerState, status: Status, pid: i32) -> String {
        serde_json::to_string(&HookState {
            oci_version: OCI_VERSION,
            id: &st.id,
            status,
            pid: (pid > 0).then_some(pid),
            bundle: &st.bundle,
            annotations: &st.annotations,
        })
        .expect("state serialises")
    }

    /// `create`: returns once the init waits for `start`.
    pub fn create(&self, req: &CreateRequest) -> Result<(ContainerState, Warnings)> {
        self.create_with_console(req, None)
    }

    /// `create`, where `console` (one end of a socket pair held by the runtime) receives the pty
    /// master when `process.terminal` is set and no `--console-socket` was given: a foreground
    /// `run` proxies the terminal itself.
    pub(crate) fn create_with_console(
        &self,
        req: &CreateRequest,
        console: Option<OwnedFd>,
    ) -> Result<(ContainerState, Warnings)> {
        state::validate_id(&req.id)?;
        let bundle = absolute(&req.bundle)?;
        let md = std::fs::metadata(&bundle).map_err(|e| Error::Bundle {
            path: bundle.clone(),
            msg: io_msg(&e),
        })?;
        if !md.is_dir() {
            return Err(Error::Bundle {
                path: bundle,
                msg: "not a directory".into(),
            });
        }
        let loaded = spec::load(&bundle)?;
        let mut warnings = loaded.warnings.clone();
        spec::validate(&loaded.spec)?;
        let plan = plan::build(&req.id, &bundle, &loaded.spec, req.options.clone())?;
        check_host(&plan)?;
        let seccomp = match &plan.seccomp {
            Some(sc) => Some(crate::seccomp::compile(sc)?),
            None => None,
        };
        let net_devices = crate::netdev::inspect(&plan.net_devices)?;
        let cg_host = cgroups::detect()?;
        let cg_plan = cgroups::plan(&cg_host, &req.id, loaded.spec.linux().as_ref())?;
        let rootfs_md = std::fs::metadata(&plan.rootfs).map_err(|e| Error::Rootfs {
            path: plan.rootfs.clone(),
            msg: io_msg(&e),
        })?;
        if !rootfs_md.is_dir() {
            return Err(Error::Rootfs {
                path: plan.rootfs.clone(),
                msg: "not a directory".into(),
            });
        }
        let last_cap = capabilities::last_cap();
        let (mut caps, unknown) = capabilities::resolve(&plan.process.caps, last_cap);
        let not_raised = capabilities::effective_ambient(&mut caps);
        if !not_raised.is_empty() {
            // The default config asks for this; runc skips them silently. Say it at debug level.
            log::debug!(
                "process.capabilities.ambient: not raising [{}]: an ambient capability must also be permitted and inheritable",
                not_raised.join(" ")
            );
        }
        if !unknown.is_empty() {
            warnings.push(format!(
                "ignoring unknown or unavailable capabilities: [{}]",
                unknown.join(" ")
            ));
        }

        // From here on, everything made is undone on error.
        let lock = self.store.claim(&req.id)?;
        let mut cleanup = Cleanup {
            rt: self,
            id: req.id.clone(),
            cgroup: None,
            rdt: None,
            armed: true,
        };
        let me = proc::stat(&self.proc_root, std::process::id() as i32).map_err(|e| Error::Io {
            what: "reading own /proc stat".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let mut st = ContainerState {
            oci_version: OCI_VERSION.into(),
            id: req.id.clone(),
            phase: Phase::Creating,
            pid: 0,
            pid_start_time: 0,
            creator_pid: std::process::id() as i32,
            creator_start_time: me.start_time,
            bundle: bundle.clone(),
            rootfs: plan.rootfs.clone(),
            created: state::rfc3339_nanos(SystemTime::now()),
            owner: String::new(),
            annotations: plan.annotations.clone(),
            cgroup: None,
            private_namespaces: private_ns_flags(&plan),
            user_namespace: plan.namespaces.private(libc::CLONE_NEWUSER),
            hooks: plan.hooks.clone(),
            rdt: None,
        };
        self.store.save(&st)?;
        let dir = self.store.dir(&req.id);
        std::fs::write(dir.join(CONFIG_COPY), &loaded.raw).map_err(io_err("saving config.json"))?;
        let cg: &Cgroup = cleanup.cgroup.insert(Cgroup::create(&cg_host, &cg_plan)?);
        st.cgroup = Some(serde_json::to_value(cg.saved()).expect("cgroup record serialises"));
        self.store.save(&st)?;

        let listener = listen_start_socket(&dir)?;
        // The runtime's own console end is only used (and only kept open) when it is needed.
        let internal =
            console.filter(|_| plan.process.terminal && plan.options.console_socket.is_none());
        let console = match (&plan.process.terminal, &plan.options.console_socket) {
            (true, Some(path)) => Some(tty::connect_console_socket(path)?),
            (true, None) if internal.is_some() => internal,
            (true, None) => {
                return Err(Error::Unsupported(
                    "process.terminal is true but no --console-socket was given".into(),
                ))
            }
            (false, _) => None,
        };
        let mut host = Host {
            st: &st,
            cgroup: cg,
            net_devices: &net_devices,
        };
        let spawned = parent::spawn(
            SpawnArgs {
                plan: &plan,
                listener,
                console,
                keep: req.keep_fds.clone(),
                cgroup_mounts: cgroup_mount_info(&cg_host, cg),
                caps,
                last_cap,
                // Cloning into a cgroup charges the clone to its pids limit: with `pids.limit`
                // 0 the clone itself would fail (EAGAIN), a migration would not.
                clone_into: if pids_limit_zero(&loaded.spec) {
                    None
                } else {
                    cg.clone_into_fd()
                },
                has_unified: cg.paths().any(|(h, _)| *h == Hierarchy::Unified),
                seccomp,
                idmapped: crate::rootfs::idmap::prepare(&plan)?,
                net_devices: net_devices.clone(),
                v1_tasks: cg.v1_task_files(),
            },
            &mut host,
        );
        let spawned = match spawned {
            Ok(s) => s,
            Err(e) => {
                if is_hook_failure(&e) {
                    let state = Self::hook_state(&st, Status::Stopped, 0);
                    hooks::run_all_warn(
                        HookKind::Poststop,
                        plan.hooks.as_ref(),
                        state.as_bytes(),
                        |w| log::warn!("{w}"),
                    );
                }
                return Err(e.into());
            }
        };
        let init_stat =
            proc::stat(&self.proc_root, spawned.init.as_raw()).map_err(|e| Error::Io {
                what: "reading the init's /proc stat".into(),
                source: std::io::Error::other(e.to_string()),
            })?;
        if let (Some(rdt), Some(root)) = (&plan.rdt, resctrl_mount()) {
            let saved = crate::resctrl::apply(&root, rdt, spawned.init.as_raw())?;
            st.rdt = Some(saved.clone());
            cleanup.rdt = Some(saved);
        }
        st.phase = Phase::Created;
        st.pid = spawned.init.as_raw();
        st.pid_start_time = init_stat.start_time;
        st.creator_pid = 0;
        st.creator_start_time = 0;
        self.store.save(&st)?;
        if let Some(pf) = &plan.options.pid_file {
            state::write_pid_file(pf, st.pid)
                .map_err(io_err(format!("writing pid file {}", pf.display())))?;
        }
        cleanup.armed = false;
        drop(lock);
        Ok((st, warnings))
    }

    /// `start`: run the user process; returns once it has been executed and the poststart
    /// hooks ran.
    pub fn start(&self, id: &str) -> Result<()> {
        let _lock = self.store.lock(id)?;
        let mut st = self.store.load(id)?;
        match self.status(&st) {
            Status::Created => {}
            Status::Stopped => return Err(Error::StartStopped),
            Status::Running => return Err(Error::StartRunning),
            other => return Err(Error::StartWrongState(other)),
        }
        let dir = self.store.dir(id);
        let sock = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(sys_err("creating a socket"))?;
        let addr =
            tty::short_unix_addr(&dir.join(START_SOCKET)).map_err(sys_err("init socket path"))?;
        connect(sock.as_raw_fd(), &addr).map_err(sys_err("connecting to the container's init"))?;
        let chan: Channel<StartMsg, InitReply> = Channel::from_fd(sock);
        let state = Self::hook_state(&st, Status::Created, st.pid);
        chan.send(&StartMsg::Start { state })?;
        let mut executing = false;
        loop {
            match chan.recv_with_fds()? {
                None => break,
                Some((InitReply::Executing, _)) => executing = true,
                Some((InitReply::SeccompFd, fds)) => {
                    if let Err(e) = self.send_seccomp_fd(&st, fds) {
                        let _ = self.signal(&st, libc::SIGKILL);
                        return Err(e);
                    }
                }
                Some((InitReply::Failed(chain), _)) => return Err(Error::Start(chain)),
            }
        }
        if !executing {
            return Err(Error::StartDied);
        }
        st.phase = Phase::Started;
        self.store.save(&st)?;
        let _ = std::fs::remove_file(dir.join(START_SOCKET));
        let state = Self::hook_state(&st, Status::Running, st.pid);
        if let Err(e) = hooks::run_all(HookKind::Poststart, st.hooks.as_ref(), state.as_bytes()) {
            // Spec 1.3: a failing poststart hook stops the container and fails start.
            let _ = self.signal(&st, libc::SIGKILL);
            return Err(e.into());
        }
        Ok(())
    }

    /// Pass the init's seccomp notify fd to `linux.seccomp.listenerPath` with the state.
    fn send_seccomp_fd(&self, st: &ContainerState, fds: Vec<OwnedFd>) -> Result<()> {
        let fd = fds.into_iter().next().ok_or_else(|| {
            Error::Unsupported("linux.seccomp: the init sent no notify fd".into())
        })?;
        let loaded = spec::load_copy(&self.store.dir(&st.id).join(CONFIG_COPY))?;
        let sc = loaded
            .linux()
            .as_ref()
            .and_then(|l| l.seccomp().clone())
            .ok_or_else(|| {
                Error::Unsupported("linux.seccomp: missing in the saved config".into())
            })?;
        let path = sc.listener_path().clone().ok_or_else(|| {
            Error::Unsupported("linux.seccomp.listenerPath: required by SCMP_ACT_NOTIFY".into())
        })?;
        let mut state = oci_spec::runtime::State::default();
        state
            .set_version(OCI_VERSION.to_string())
            .set_id(st.id.clone())
            .set_status(oci_spec::runtime::ContainerState::Creating)
            .set_pid(Some(st.pid))
            .set_bundle(st.bundle.clone())
            .set_annotations(Some(st.annotations.clone().into_iter().collect()));
        let msg = crate::seccomp::process_state(&state, st.pid, sc.listener_metadata().as_deref());
        crate::seccomp::send_to_listener(&path, &msg, fd.as_fd())?;
        Ok(())
    }

    /// Send `signal` to the init, checking first that the pid still is the container's.
    fn signal(&self, st: &ContainerState, signal: i32) -> Result<()> {
        let pidfd = match sys::pidfd_open(Pid::from_raw(st.pid)) {
            Ok(fd) => fd,
            Err(Errno::ESRCH) => return Err(Error::NotRunning),
            Err(e) => return Err(Error::Signal(e)),
        };
        // The pidfd pins the process: if its start time matches now, it is our init.
        if liveness(&self.proc_root, st.pid, st.pid_start_time) != Liveness::Alive {
            return Err(Error::NotRunning);
        }
        sys::pidfd_send_signal(pidfd.as_fd(), signal).map_err(|e| match e {
            Errno::ESRCH => Error::NotRunning,
            e => Error::Signal(e),
        })
    }

    /// `kill <id> <signal>` (with `all`: every process of the container).
    pub fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        let st = self.store.load(id)?;
        let status = self.status(&st);
        match status {
            Status::Created | Status::Running | Status::Paused => {}
            _ => return Err(Error::NotRunning),
        }
        if all {
            if let Some(cg) = self.cgroup(&st)? {
                return Ok(cg.kill_all(signal)?);
            }
            for pid in self.container_pids(&st)? {
                if pid == st.pid {
                    continue;
                }
                let _ = self.signal_member(st.pid, pid, signal);
            }
        }
        self.signal(&st, signal)?;
        if status == Status::Paused && signal == libc::SIGKILL {
            // As runc: a frozen init acts on SIGKILL only once thawed (cgroup v1).
            if let Some(cg) = self.cgroup(&st)? {
                cg.thaw()?;
            }
        }
        Ok(())
    }

    /// Signal `pid`, found listed as a process of the container whose init is `init`, through
    /// a pidfd opened before checking (again) that it is in the init's pid namespace: a pid
    /// that exited and was reused since the listing is not signalled.
    fn signal_member(&self, init: i32, pid: i32, signal: i32) -> Result<()> {
        let pidfd = sys::pidfd_open(Pid::from_raw(pid)).map_err(Error::Signal)?;
        let ns_of = |p: i32| {
            std::fs::metadata(self.proc_root.join(p.to_string()).join("ns/pid"))
                .map(|m| (m.dev(), m.ino()))
        };
        match (ns_of(init), ns_of(pid)) {
            (Ok(a), Ok(b)) if a == b => {}
            _ => return Err(Error::NotRunning),
        }
        sys::pidfd_send_signal(pidfd.as_fd(), signal).map_err(Error::Signal)
    }

    /// Processes of the container: those in the init's pid namespace when it has its own.
    fn container_pids(&self, st: &ContainerState) -> Result<Vec<i32>> {
        if st.private_namespaces & libc::CLONE_NEWPID == 0 {
            return Ok(vec![st.pid]);
        }
        let ns_of = |pid: i32| {
            std::fs::metadata(self.proc_root.join(pid.to_string()).join("ns/pid")).map(|m| m.ino())
        };
        let Ok(target) = ns_of(st.pid) else {
            return Ok(vec![]);
        };
        let mut pids = Vec::new();
        for e in std::fs::read_dir(&self.proc_root)
            .map_err(io_err("listing /proc"))?
            .flatten()
        {
            if let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) {
                if ns_of(pid).ok() == Some(target) {
                    pids.push(pid);
                }
            }
        }
        Ok(pids)
    }

    /// `delete <id>`: remove a stopped container; with `force`, kill a live one first.
    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        let _lock = self.store.lock(id)?;
        let st = self.store.load(id)?;
        let status = self.status(&st);
        match status {
            Status::Stopped => {}
            // runtime.md: deleting a container that is not stopped MUST fail; `created` is not
            // stopped (runc 1.1 deletes it anyway; containerd retries with --force).
            Status::Creating if !force => {
                return Err(Error::DeleteNotStopped {
                    id: id.to_string(),
                    status,
                })
            }
            _ if force => self.kill_and_wait(&st)?,
            _ => {
                return Err(Error::DeleteNotStopped {
                    id: id.to_string(),
                    status,
                })
            }
        }
        self.destroy(&st);
        Ok(())
    }

    fn kill_and_wait(&self, st: &ContainerState) -> Result<()> {
        let pidfd = match sys::pidfd_open(Pid::from_raw(st.pid)) {
            Ok(fd) => fd,
            Err(_) => return Ok(()),
        };
        if liveness(&self.proc_root, st.pid, st.pid_start_time) != Liveness::Alive {
            return Ok(());
        }
        let _ = sys::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL);
        // Every other process of the container dies with its pid-namespace init; without a pid
        // namespace, signal them through the cgroup (which also thaws a paused container so
        // the signal can act), or one by one.
        if let Some(cg) = self.cgroup(st)? {
            cg.kill_all(libc::SIGKILL)?;
        } else if st.private_namespaces & libc::CLONE_NEWPID == 0 {
            for pid in self.container_pids(st)? {
                let _ = self.signal_member(st.pid, pid, libc::SIGKILL);
            }
        }
        if !proc::wait_pidfd(&pidfd, Duration::from_secs(10)) {
            return Err(Error::StopTimeout);
        }
        Ok(())
    }

    /// Undo create: cgroup, state directory, then poststop hooks (failures only warn).
    fn destroy(&self, st: &ContainerState) {
        match self.cgroup(st) {
            Ok(Some(cg)) => {
                // Processes left in a cgroup this container made (no pid namespace) go too.
                let saved = cg.saved();
                // Only when one is there: a container with its own pid namespace is empty once
                // its init is gone, and freezing, listing and thawing an empty cgroup would be
                // work on every delete.
                if saved.dirs.iter().all(|d| d.created.last() == Some(&d.path))
                    && cg.pids().map_or(true, |pids| !pids.is_empty())
                {
                    let _ = cg.kill_all(libc::SIGKILL);
                }
                if let Err(e) = cg.destroy() {
                    log::warn!("{e}");
                }
            }
            Ok(None) => {}
            Err(e) => log::warn!("{e}"),
        }
        if let Some(r) = &st.rdt {
            crate::resctrl::remove(r);
        }
        if let Err(e) = self.store.remove(&st.id) {
            log::warn!("{e}");
        }
        let state = Self::hook_state(st, Status::Stopped, 0);
        hooks::run_all_warn(
            HookKind::Poststop,
            st.hooks.as_ref(),
            state.as_bytes(),
            |w| log::warn!("{w}"),
        );
    }
}

/// Does this create failure come from a hook (then poststop hooks run, spec step 12-13)?
fn is_hook_failure(e: &parent::ParentError) -> bool {
    match e {
        parent::ParentError::Hook(_) => true,
        parent::ParentError::Init(chain) => chain
            .0
            .iter()
            .any(|s| s.starts_with("createContainer hook")),
        _ => false,
    }
}

struct Host<'a> {
    st: &'a ContainerState,
    cgroup: &'a Cgroup,
    net_devices: &'a [crate::netdev::DeviceFacts],
}

impl CreateHost for Host<'_> {
    fn place_in_cgroup(
        &mut self,
        pid: Pid,
        cloned_into: bool,
        v1_by_child: bool,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.cgroup
            .add_cloned_process(pid.as_raw(), cloned_into, v1_by_child)?;
        Ok(())
    }

    fn namespaces_ready(
        &mut self,
        init: Pid,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if self.net_devices.is_empty() {
            return Ok(());
        }
        let ns = std::fs::File::open(format!("/proc/{}/ns/net", init.as_raw()))?;
        crate::netdev::move_into(self.net_devices, ns.as_fd())?;
        Ok(())
    }

    fn hook_state(&self, pid: Pid) -> String {
        Runtime::hook_state(self.st, Status::Creating, pid.as_raw())
    }
}

/// Removes the cgroup and the state directory of a failed create.
struct Cleanup<'a> {
    rt: &'a Runtime,
    id: String,
    cgroup: Option<Cgroup>,
    rdt: Option<crate::resctrl::SavedRdt>,
    armed: bool,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if self.armed {
            if let Some(cg) = &self.cgroup {
                // The init (if any) was killed by the spawn guard; processes it may have
                // forked die with it (pid namespace) or here.
                let _ = cg.kill_all(libc::SIGKILL);
                if let Err(e) = cg.destroy() {
                    log::warn!("removing the cgroup of a failed create: {e}");
                }
            }
            if let Some(r) = &self.rdt {
                crate::resctrl::remove(r);
            }
            let _ = self.rt.store.remove(&self.id);
        }
    }
}

/// `linux.resources.pids.limit` is 0 (a real limit since spec 1.3).
fn pids_limit_zero(spec: &oci_spec::runtime::Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.pids().as_ref())
        .is_some_and(|p| p.limit() == 0)
}

/// How the container's `cgroup` mounts are laid out: which host directory to bind for each
/// hierarchy (without a cgroup namespace), or which hierarchies to mount (with one).
fn cgroup_mount_info(host: &CgroupHost, cg: &Cgroup) -> CgroupMountInfo {
    let mut info = CgroupMountInfo {
        unified: host.mode == CgroupMode::Unified,
        ..Default::default()
    };
    if info.unified {
        if let Some((_, p)) = cg.paths().find(|(h, _)| **h == Hierarchy::Unified) {
            info.binds.push((String::new(), p.to_path_buf()));
        }
        return info;
    }
    for h in &host.v1 {
        let Some(name) = h
            .mount_point
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
        else {
            continue;
        };
        let want = Hierarchy::V1 {
            controllers: h.controllers.clone(),
        };
        if let Some((_, p)) = cg.paths().find(|(hh, _)| **hh == want) {
            info.binds.push((name.clone(), p.to_path_buf()));
        }
        let opts = if h.controllers.iter().any(|c| c.starts_with("name=")) {
            format!("none,{}", h.controllers.join(","))
        } else {
            h.controllers.join(",")
        };
        info.v1_hierarchies.push((name, opts));
    }
    info
}

fn private_ns_flags(plan: &Plan) -> i32 {
    let ns = &plan.namespaces;
    ns.new | ns.join.iter().fold(0, |acc, (k, _)| acc | k.0)
}

/// Refuse what this host cannot do, naming the field.
pub(crate) fn check_host(plan: &Plan) -> Result<()> {
    if !plan.namespaces.private(libc::CLONE_NEWNS) {
        return Err(Error::Unsupported(
            "linux.namespaces: a mount namespace is required to set up the root filesystem".into(),
        ));
    }
    crate::lsm::check_apparmor(plan.process.apparmor_profile.as_deref())?;
    if plan.mount_label.is_some() && !Path::new("/sys/fs/selinux/enforce").exists() {
        return Err(Error::Unsupported(
            "linux.mountLabel: given but SELinux is not enabled on this host".into(),
        ));
    }
    if plan.rdt.is_some() && resctrl_mount().is_none() {
        return Err(crate::resctrl::RdtError::NoResctrl.into());
    }
    if let Some(l) = &plan.process.selinux_label {
        return Err(Error::Unsupported(format!(
            "process.selinuxLabel: {l:?} given but SELinux is not supported on this host"
        )));
    }
    Ok(())
}

/// Where resctrl is mounted in the runtime's mount namespace.
fn resctrl_mount() -> Option<PathBuf> {
    crate::resctrl::find_mount(&std::fs::read_to_string("/proc/self/mountinfo").ok()?)
}

/// The start socket: a SEQPACKET listener at `<dir>/init.sock`, inherited by the init.
fn listen_start_socket(dir: &Path) -> Result<OwnedFd> {
    let sock = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(sys_err("creating the start socket"))?;
    let path = dir.join(START_SOCKET);
    let addr = tty::short_unix_addr(&path).map_err(sys_err("start socket path"))?;
    bind(sock.as_raw_fd(), &addr).map_err(sys_err(format!("binding {}", path.display())))?;
    listen(&sock, Backlog::new(4).unwrap_or(Backlog::MAXCONN))
        .map_err(sys_err("listening on the start socket"))?;
    Ok(sock)
}

fn absolute(p: &Path) -> Result<PathBuf> {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(io_err("current directory"))?
            .join(p)
    };
    Ok(plan::clean_container_path(&abs))
}

/// The name of a host uid from /etc/passwd, or the number.
fn user_name(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| uid.to_string())
}
