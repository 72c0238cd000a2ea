//! The `create` side of the protocol: clone the child, give it its id maps and cgroup, run the
//! runtime-namespace hooks when it asks, and wait until it is ready (or failed).

use std::os::fd::{OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use super::init::{child_main, ChildArgs};
use super::{Channel, ChildMsg, ErrorChain, ParentMsg};
use crate::capabilities::CapMasks;
use crate::hooks::{self, HookKind};
use crate::plan::{IdMap, Plan};
use crate::rootfs::CgroupMountInfo;
use crate::sys::{self, Forked};

/// Errors on the runtime's side of create.
#[derive(Debug, thiserror::Error)]
pub enum ParentError {
    #[error("the runtime process has more than one thread; cannot fork safely")]
    Threads,
    #[error("creating the container process")]
    Clone(#[source] Errno),
    #[error("making the runtime process non-dumpable")]
    Dumpable(#[source] Errno),
    #[error(transparent)]
    Channel(#[from] super::ChannelError),
    #[error("writing {file} of process {pid}")]
    IdMap {
        file: &'static str,
        pid: i32,
        #[source]
        source: std::io::Error,
    },
    #[error("placing the container process in its cgroup")]
    Cgroup(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("unable to start container process")]
    Init(#[source] ErrorChain),
    #[error("container init exited during setup ({0})")]
    InitDied(String),
    #[error("unexpected message from the container process: {0}")]
    Protocol(String),
    #[error(transparent)]
    Hook(#[from] hooks::HookError),
    #[error(transparent)]
    Setup(Box<dyn std::error::Error + Send + Sync>),
}

/// What the parent hands over to the child (all fds are close-on-exec).
pub struct SpawnArgs<'a> {
    pub plan: &'a Plan,
    pub listener: OwnedFd,
    pub console: Option<OwnedFd>,
    pub keep: Vec<RawFd>,
    pub cgroup_mounts: CgroupMountInfo,
    pub caps: CapMasks,
    pub last_cap: u8,
    /// cgroup v2 directory to clone straight into (CLONE_INTO_CGROUP).
    pub clone_into: Option<std::os::fd::BorrowedFd<'a>>,
    pub seccomp: Option<crate::seccomp::Filter>,
    pub idmapped: crate::rootfs::idmap::IdmappedTrees,
    pub net_devices: Vec<crate::netdev::DeviceFacts>,
    /// The v1 `tasks` files the child writes `0` to, to join its cgroup itself; used only when
    /// the child starts in the runtime's user namespace (it must be able to write them).
    pub v1_tasks: Vec<std::path::PathBuf>,
    /// The container has a cgroup2 directory (pure v2 or hybrid).
    pub has_unified: bool,
}

/// Callbacks into the runtime during create.
pub trait CreateHost {
    /// Put the (single-threaded) child `pid` into the container's cgroup: the hierarchies it
    /// is not in yet. `cloned_into`: it was cloned straight into the cgroup2 directory;
    /// `v1_by_child`: it moves itself into the v1 hierarchies.
    fn place_in_cgroup(
        &mut self,
        pid: Pid,
        cloned_into: bool,
        v1_by_child: bool,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
    /// The state JSON for hooks, with `pid` as the init pid.
    fn hook_state(&self, pid: Pid) -> String;
    /// The init is in all its namespaces (just before the prestart/createRuntime hooks): do
    /// what the runtime must do from outside, such as moving network devices in.
    fn namespaces_ready(
        &mut self,
        init: Pid,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

/// A spawned container init.
#[derive(Debug, Clone, Copy)]
pub struct Spawned {
    pub init: Pid,
}

/// Kills what was started if setup does not finish.
struct Guard {
    pids: Vec<Pid>,
    /// The direct child, which we must reap.
    child: Option<Pid>,
    armed: bool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        for p in &self.pids {
            let _ = kill(*p, Signal::SIGKILL);
        }
        if let Some(c) = self.child {
            let _ = waitpid(c, None);
        }
    }
}

fn write_maps(pid: Pid, plan: &Plan) -> Result<(), ParentError> {
    let ns = &plan.namespaces;
    for (file, maps) in [("uid_map", &ns.uid_map), ("gid_map", &ns.gid_map)] {
        std::fs::write(
            format!("/proc/{}/{file}", pid.as_raw()),
            IdMap::to_proc(maps),
        )
        .map_err(|source| ParentError::IdMap {
            file,
            pid: pid.as_raw(),
            source,
        })?;
    }
    Ok(())
}

fn describe(status: Result<WaitStatus, Errno>) -> String {
    match status {
        Ok(WaitStatus::Exited(_, code)) => format!("exit status {code}"),
        Ok(WaitStatus::Signaled(_, sig, _)) => format!("killed by {sig}"),
        Ok(other) => format!("{other:?}"),
        Err(e) => format!("wait: {e}"),
    }
}

/// Clone the container process and drive it until it is ready to be started.
pub fn spawn(args: SpawnArgs<'_>, host: &mut dyn CreateHost) -> Result<Spawned, ParentError> {
    let plan = args.plan;
    let ns = &plan.namespaces;
    let (parent_end, child_end) = Channel::<ParentMsg, ChildMsg>::pair()?;
    sys::assert_single_threaded().map_err(|_| ParentError::Threads)?;
    let flags = ns.clone_flags();
    // A child still in our user namespace moves itself into the v1 hierarchies (see
    // `Cgroup::v1_task_files`); one born in a new user namespace cannot, so we move it.
    let self_join = flags & libc::CLONE_NEWUSER == 0;
    let v1_tasks = if self_join { args.v1_tasks } else { Vec::new() };
    let has_unified = args.has_unified;
    // Non-dumpable before the clone, so that the child is so from its first instruction, before
    // it is in any of the container's namespaces: until it execs the user process it runs this
    // binary with the runtime's fds and memory, and a process in the container (a
    // startContainer hook, an `exec`) without CAP_SYS_PTRACE must not open its /proc/<pid>/exe,
    // fd/, mem or environ (CVE-2019-5736, CVE-2016-9962). execve makes the user process
    // dumpable again as usual.
    nix::sys::prctl::set_dumpable(false).map_err(ParentError::Dumpable)?;
    let forked = sys::clone_fork(flags, args.clone_into).map_err(ParentError::Clone)?;
    let child = match forked {
        Forked::Child => {
            drop(parent_end);
            child_main(ChildArgs {
                plan,
                chan: child_end,
                listener: args.listener,
                console: args.console,
                keep: args.keep,
                cgroup_mounts: args.cgroup_mounts,
                caps: args.caps,
                last_cap: args.last_cap,
                seccomp: std::cell::Cell::new(args.seccomp),
                idmapped: args.idmapped,
                net_devices: args.net_devices,
                v1_tasks,
            })
        }
        Forked::Parent(pid) => pid,
    };
    drop(child_end);
    drop(args.listener);
    drop(args.console);
    drop(args.idmapped);
    let mut guard = Guard {
        pids: vec![child],
        child: Some(child),
        armed: true,
    };
    let chan = parent_end;

    if flags & libc::CLONE_NEWUSER != 0 {
        write_maps(child, plan)?;
    }
    // What the child does not join itself (the v1 hierarchies when `self_join`) and was not
    // cloned into (the cgroup2 directory) we move it into; a v2-only host cloned into its
    // cgroup with a self-joining child has nothing left.
    let cloned_into = args.clone_into.is_some();
    if !(self_join && (cloned_into || !has_unified)) {
        host.place_in_cgroup(child, cloned_into, self_join)
            .map_err(ParentError::Cgroup)?;
    }
    chan.send(&ParentMsg::Proceed)?;

    let mut init = child;
    loop {
        let msg = match chan.recv()? {
            Some(m) => m,
            None => {
                // The child closed its end: it died (or the intermediate exited before
                // handing over the init, which is also a death for us).
                let status = if guard.child == Some(child) {
                    guard.child = None;
                    describe(waitpid(child, None))
                } else {
                    "no status: not our child".into()
                };
                return Err(ParentError::InitDied(status));
            }
        };
        match msg {
            ChildMsg::WriteIdMaps { pid } => {
                write_maps(Pid::from_raw(pid), plan)?;
                chan.send(&ParentMsg::Proceed)?;
            }
            ChildMsg::InitPid { pid } => {
                init = Pid::from_raw(pid);
                guard.pids.push(init);
                // Reap the intermediate, which exits right after sending this.
                if guard.child == Some(child) {
                    guard.child = None;
                    let _ = waitpid(child, None);
                }
            }
            ChildMsg::RunCreateHooks => {
                host.namespaces_ready(init).map_err(ParentError::Setup)?;
                let state = host.hook_state(init);
                hooks::run_all(HookKind::Prestart, plan.hooks.as_ref(), state.as_bytes())?;
                hooks::run_all(
                    HookKind::CreateRuntime,
                    plan.hooks.as_ref(),
                    state.as_bytes(),
                )?;
                chan.send(&ParentMsg::CreateHooksDone { state })?;
            }
            ChildMsg::Ready => break,
            ChildMsg::Warn(w) => log::warn!("{w}"),
            ChildMsg::Failed(chain) => {
                if guard.child == Some(child) {
                    guard.child = None;
                    let _ = waitpid(child, None);
                }
                return Err(ParentError::Init(chain));
            }
        }
    }
    guard.armed = false;
    Ok(Spawned { init })
}
