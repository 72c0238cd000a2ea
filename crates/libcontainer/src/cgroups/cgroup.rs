//! The live handle: creates the planned directories, writes resources, enforces device rules,
//! and serves the later commands (update, pause/resume, ps, kill --all, events, delete).

use std::fs;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use super::devices::{ebpf, DevicePolicy, SourcedRule};
use super::freezer::{self, FreezerState};
use super::fs::{read_string, read_u64, write_field, write_raw};
use super::host::{CgroupHost, CgroupMode};
use super::oom::OomWatcher;
use super::plan::{self, CgroupPlan, Hierarchy, Op, Target, Write};
use super::stats::{self, Stats};
use super::CgroupError;
use crate::sys::bpf;

/// The container's directory in one hierarchy and the directories this runtime created for it
/// (top-down), which are the only ones it will ever remove.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedDir {
    pub hierarchy: Hierarchy,
    pub path: PathBuf,
    pub created: Vec<PathBuf>,
}

/// What `state.json` keeps so later commands can [`Cgroup::load`] the handle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedCgroup {
    pub mode: CgroupMode,
    pub cgroups_path: String,
    pub dirs: Vec<SavedDir>,
    /// Device rules every update of `linux.resources.devices` starts from.
    pub device_base: Vec<SourcedRule>,
}

impl SavedCgroup {
    /// The freezer state, read straight from the saved directories: no host probing, so that
    /// `state` and `list` stay cheap (they ask this of every container).
    pub fn freezer_state(&self) -> Result<FreezerState, CgroupError> {
        let v2 = self.mode == CgroupMode::Unified;
        let dir = self.dirs.iter().find(|d| {
            if v2 {
                d.hierarchy == Hierarchy::Unified
            } else {
                d.hierarchy.has("freezer")
            }
        });
        match dir {
            Some(d) => freezer::state(&d.path, v2),
            None => Err(unavailable(
                "the freezer",
                "no freezer directory is recorded",
            )),
        }
    }
}

/// A container's cgroups.
#[derive(Debug)]
pub struct Cgroup {
    host: CgroupHost,
    saved: SavedCgroup,
    /// v2: the leaf directory, for clone3(CLONE_INTO_CGROUP) and device filters.
    leaf: Option<OwnedFd>,
    /// Hybrid: the container's directory in the cgroup2 mount, for clone3(CLONE_INTO_CGROUP).
    hybrid_unified: Option<OwnedFd>,
}

const RMDIR_ATTEMPTS: u32 = 25;

impl Cgroup {
    /// Creates every planned directory (recording which ones it made), enables the cgroup2
    /// controllers the plan needs, writes the resources and enforces the device rules. On error
    /// it removes what it made.
    pub fn create(host: &CgroupHost, plan: &CgroupPlan) -> Result<Cgroup, CgroupError> {
        let mut cg = Cgroup {
            host: host.clone(),
            saved: SavedCgroup {
                mode: plan.mode,
                cgroups_path: plan.cgroups_path.clone(),
                dirs: Vec::new(),
                device_base: plan.devices.base.clone(),
            },
            leaf: None,
            hybrid_unified: None,
        };
        match cg.create_inner(plan) {
            Ok(()) => Ok(cg),
            Err(e) => {
                if let Err(cleanup) = cg.destroy() {
                    log::warn!("cleaning up after a failed cgroup setup: {cleanup}");
                }
                Err(e)
            }
        }
    }

    fn create_inner(&mut self, plan: &CgroupPlan) -> Result<(), CgroupError> {
        for d in &plan.dirs {
            let rel = d.path.strip_prefix(&d.mount_point).map_err(|_| {
                CgroupError::invalid(
                    "linux.cgroupsPath",
                    format!(
                        "{} is outside {}",
                        d.path.display(),
                        d.mount_point.display()
                    ),
                )
            })?;
            self.saved.dirs.push(SavedDir {
                hierarchy: d.hierarchy.clone(),
                path: d.path.clone(),
                created: Vec::new(),
            });
            let idx = self.saved.dirs.len() - 1;
            let cpuset = d.hierarchy.has("cpuset");
            // A parent that exists when we look may be removed by another container's delete
            // before we make our directory in it (ENOENT): walk the chain again, a few times.
            let mut attempts = 0;
            'chain: loop {
                attempts += 1;
                let mut cur = d.mount_point.clone();
                for comp in rel.components() {
                    let next = cur.join(comp);
                    match fs::create_dir(&next) {
                        Ok(()) => self.saved.dirs[idx].created.push(next.clone()),
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                        Err(e) if e.kind() == io::ErrorKind::NotFound && attempts < 5 => {
                            continue 'chain;
                        }
                        Err(source) => return Err(CgroupError::Mkdir { path: next, source }),
                    }
                    if cpuset {
                        // A v1 cpuset starts with empty cpus/mems and then admits no process.
                        inherit_cpuset(&cur, &next)?;
                    }
                    cur = next;
                }
                break;
            }
        }
        if let Some(u) = plan.dirs.iter().find(|d| d.hierarchy == Hierarchy::Unified) {
            let all = plan.mode == CgroupMode::Unified;
            enable_controllers(&u.mount_point, &u.path, &plan.unified_controllers, all)?;
            if all {
                self.leaf = Some(open_dir(&u.path)?);
            } else {
                self.hybrid_unified = Some(open_dir(&u.path)?);
            }
        }
        self.apply_writes(&plan.writes)?;
        self.apply_devices(&plan.devices.policy)
    }

    /// Rebuilds the handle from what `state.json` kept.
    pub fn load(host: &CgroupHost, saved: &SavedCgroup) -> Result<Cgroup, CgroupError> {
        let leaf = match (
            saved.mode,
            saved
                .dirs
                .iter()
                .find(|d| d.hierarchy == Hierarchy::Unified),
        ) {
            (CgroupMode::Unified, Some(d)) if d.path.is_dir() => Some(open_dir(&d.path)?),
            _ => None,
        };
        Ok(Cgroup {
            host: host.clone(),
            saved: saved.clone(),
            leaf,
            hybrid_unified: None,
        })
    }

    pub fn saved(&self) -> SavedCgroup {
        self.saved.clone()
    }

    pub fn mode(&self) -> CgroupMode {
        self.saved.mode
    }

    /// The container's directory in every hierarchy.
    pub fn paths(&self) -> impl Iterator<Item = (&Hierarchy, &Path)> {
        self.saved
            .dirs
            .iter()
            .map(|d| (&d.hierarchy, d.path.as_path()))
    }

    /// The container's cgroup2 directory (pure v2, or the cgroup2 mount of a hybrid host), for
    /// clone3(CLONE_INTO_CGROUP): a child cloned into it needs no migration there, only (on a
    /// hybrid host) into the v1 hierarchies, see [`Cgroup::add_cloned_process`].
    pub fn clone_into_fd(&self) -> Option<BorrowedFd<'_>> {
        self.leaf
            .as_ref()
            .or(self.hybrid_unified.as_ref())
            .map(|f| f.as_fd())
    }

    /// The v1 `tasks` files a single-threaded process can write `0` to, to move itself. A
    /// thread moving itself is the one migration the kernel does without the global
    /// threadgroup lock, whose first write-locking after a quiet spell waits for an RCU grace
    /// period (7-19 ms on this kernel); moving another task, even by tid, takes it.
    pub fn v1_task_files(&self) -> Vec<PathBuf> {
        self.saved
            .dirs
            .iter()
            .filter(|d| matches!(d.hierarchy, Hierarchy::V1 { .. }))
            .map(|d| d.path.join("tasks"))
            .collect()
    }

    /// Place a *single-threaded* process, cloned into [`Cgroup::clone_into_fd`] when
    /// `cloned_into`, in the hierarchies it is not in yet, from outside (when it cannot move
    /// itself with [`Cgroup::v1_task_files`], e.g. it is already in a user namespace).
    /// `v1_by_child`: the process moves itself into the v1 hierarchies (`tasks` <- 0).
    pub fn add_cloned_process(
        &self,
        pid: i32,
        cloned_into: bool,
        v1_by_child: bool,
    ) -> Result<(), CgroupError> {
        for d in &self.saved.dirs {
            let file = match d.hierarchy {
                Hierarchy::Unified if cloned_into => continue,
                Hierarchy::V1 { .. } if v1_by_child => continue,
                Hierarchy::Unified | Hierarchy::V1 { .. } => "cgroup.procs",
            };
            let path = d.path.join(file);
            write_raw(&path, &pid.to_string()).map_err(|source| CgroupError::AddProcess {
                pid,
                path,
                source,
            })?;
        }
        Ok(())
    }

    /// Moves `pid` (with all its threads) into the container's cgroup in every hierarchy.
    pub fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        for d in &self.saved.dirs {
            let path = d.path.join("cgroup.procs");
            write_raw(&path, &pid.to_string()).map_err(|source| CgroupError::AddProcess {
                pid,
                path,
                source,
            })?;
        }
        Ok(())
    }

    /// Removes the directories this runtime created, deepest first, together with any cgroups
    /// the container made inside them; retries briefly while the kernel still reports EBUSY.
    /// A directory it did not create is never removed. Removing what is already gone succeeds.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        let mut first_err = None;
        for d in &self.saved.dirs {
            for dir in d.created.iter().rev() {
                // The container's own directory goes with whatever the container made in it. A
                // parent we created goes only if it is empty now: other containers may have
                // made theirs in it since, and those are not ours to remove.
                let res = if *dir == d.path {
                    remove_tree(dir)
                } else {
                    remove_if_empty(dir)
                };
                if let Err(e) = res {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Applies `resources` to the running container (`runc update`). Device rules, if given,
    /// are rebuilt on the saved base rules and replace the current policy.
    pub fn update(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        let writes = plan::plan_writes(&self.host, resources, true)?;
        if let Some(u) = self.dir(&Hierarchy::Unified) {
            let mount = self
                .host
                .unified
                .as_ref()
                .map(|u| u.mount_point.clone())
                .unwrap_or_else(|| u.to_path_buf());
            enable_controllers(&mount, u, &plan::unified_controllers(&writes), false)?;
        }
        self.apply_writes(&writes)?;
        if let Some(policy) =
            plan::device_policy(&self.host, Some(resources), &self.saved.device_base)?
        {
            self.apply_devices(&policy)?;
        }
        Ok(())
    }

    pub fn freeze(&self) -> Result<(), CgroupError> {
        let (dir, v2) = self.freezer_dir()?;
        freezer::freeze(dir, v2)
    }

    pub fn thaw(&self) -> Result<(), CgroupError> {
        let (dir, v2) = self.freezer_dir()?;
        freezer::thaw(dir, v2)
    }

    pub fn freezer_state(&self) -> Result<FreezerState, CgroupError> {
        let (dir, v2) = self.freezer_dir()?;
        freezer::state(dir, v2)
    }

    /// All processes in the container's cgroup and the cgroups below it (`runc ps`).
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        super::fs::collect_pids(self.procs_dir()?)
    }

    /// Sends `signal` to every process in the cgroup (`kill --all`). On v2 SIGKILL uses
    /// `cgroup.kill` where the kernel has it; otherwise the cgroup is frozen while the
    /// processes are listed and signalled, so none can fork away, and thawed afterwards
    /// unless it was paused before (SIGKILL always thaws, so the processes can die).
    pub fn kill_all(&self, signal: i32) -> Result<(), CgroupError> {
        let sig = nix::sys::signal::Signal::try_from(signal)
            .map_err(|_| CgroupError::BadSignal { signal })?;
        if self.saved.mode == CgroupMode::Unified && sig == nix::sys::signal::Signal::SIGKILL {
            if let Some(dir) = self.dir(&Hierarchy::Unified) {
                let kill = dir.join("cgroup.kill");
                if kill.exists() {
                    return write_raw(&kill, "1").map_err(|source| CgroupError::Write {
                        field: "kill --all".into(),
                        path: kill,
                        value: "1".into(),
                        source,
                    });
                }
            }
        }
        // A paused container stays paused unless the signal is SIGKILL, which frozen tasks
        // can only act on once thawed.
        let was_paused = self.freezer_state().ok() == Some(FreezerState::Frozen);
        let frozen = match self.freeze() {
            Ok(()) => true,
            Err(e) => {
                log::warn!("signalling without freezing first: {e}");
                false
            }
        };
        let mut result = Ok(());
        match self.pids() {
            Ok(pids) => {
                for pid in pids {
                    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig) {
                        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                        Err(source) => {
                            result = Err(CgroupError::Signal {
                                pid,
                                signal,
                                source,
                            });
                            break;
                        }
                    }
                }
            }
            Err(e) => result = Err(e),
        }
        if frozen && (!was_paused || sig == nix::sys::signal::Signal::SIGKILL) {
            self.thaw()?;
        }
        result
    }

    /// Statistics in the shape of runc's `events --stats` data.
    pub fn stats(&self) -> Result<Stats, CgroupError> {
        stats::read(&self.host, self.saved.mode, &self.saved.dirs)
    }

    /// A watcher for OOM events: v1 `memory.oom_control` via eventfd, v2 `memory.events`.
    pub fn oom_events(&self) -> Result<OomWatcher, CgroupError> {
        if self.saved.mode == CgroupMode::Unified {
            let dir = self
                .dir(&Hierarchy::Unified)
                .ok_or_else(|| unavailable("oom events", "no cgroup2 directory"))?;
            OomWatcher::v2(dir)
        } else {
            let dir = self
                .dir_with("memory")
                .ok_or_else(|| unavailable("oom events", "the memory controller is not mounted"))?;
            OomWatcher::v1(dir)
        }
    }

    fn dir(&self, h: &Hierarchy) -> Option<&Path> {
        self.saved
            .dirs
            .iter()
            .find(|d| &d.hierarchy == h)
            .map(|d| d.path.as_path())
    }

    fn dir_with(&self, controller: &str) -> Option<&Path> {
        self.saved
            .dirs
            .iter()
            .find(|d| d.hierarchy.has(controller))
            .map(|d| d.path.as_path())
    }

    fn freezer_dir(&self) -> Result<(&Path, bool), CgroupError> {
        if self.saved.mode == CgroupMode::Unified {
            let dir = self
                .dir(&Hierarchy::Unified)
                .ok_or_else(|| unavailable("the freezer", "no cgroup2 directory"))?;
            Ok((dir, true))
        } else {
            let dir = self.dir_with("freezer").ok_or_else(|| {
                unavailable("the freezer", "the freezer controller is not mounted")
            })?;
            Ok((dir, false))
        }
    }

    fn procs_dir(&self) -> Result<&Path, CgroupError> {
        if self.saved.mode == CgroupMode::Unified {
            return self
                .dir(&Hierarchy::Unified)
                .ok_or_else(|| unavailable("the process list", "no cgroup2 directory"));
        }
        ["pids", "freezer", "devices", "memory", "cpu"]
            .iter()
            .find_map(|c| self.dir_with(c))
            .or_else(|| self.saved.dirs.first().map(|d| d.path.as_path()))
            .ok_or_else(|| unavailable("the process list", "the container joined no cgroup"))
    }

    fn target_dir(&self, w: &Write) -> Result<&Path, CgroupError> {
        let dir = match &w.target {
            Target::Controller(c) => self.dir_with(c),
            Target::Unified(_) => self.dir(&Hierarchy::Unified),
        };
        dir.ok_or_else(|| {
            CgroupError::invalid(
                &w.field,
                "the container has no directory for this controller",
            )
        })
    }

    fn apply_writes(&self, writes: &[Write]) -> Result<(), CgroupError> {
        for w in writes {
            let dir = self.target_dir(w)?;
            apply_op(dir, &w.field, &w.op)?;
        }
        Ok(())
    }

    fn apply_devices(&self, policy: &DevicePolicy) -> Result<(), CgroupError> {
        const FIELD: &str = "linux.resources.devices";
        if self.saved.mode.is_v1() {
            let Some(dir) = self.dir_with("devices") else {
                if *policy == DevicePolicy::default() {
                    return Ok(());
                }
                return Err(CgroupError::invalid(
                    FIELD,
                    "the devices controller is not mounted on this host",
                ));
            };
            let list_path = dir.join("devices.list");
            let current =
                DevicePolicy::from_devices_list(&read_string(&list_path)?).map_err(|reason| {
                    CgroupError::Parse {
                        path: list_path,
                        reason,
                    }
                })?;
            if *policy == DevicePolicy::default() && current == DevicePolicy::default() {
                // Nothing to restrict; whatever the parent denies still applies hierarchically.
                return Ok(());
            }
            for (file, value) in policy.v1_transition(&current) {
                write_field(dir, file, &value, FIELD)?;
            }
            return Ok(());
        }
        let (Some(leaf), Some(dir)) = (self.leaf.as_ref(), self.dir(&Hierarchy::Unified)) else {
            return Err(unavailable(
                "device rules",
                "the cgroup2 directory is not open",
            ));
        };
        let bpf_err = |op: &'static str| {
            move |source: io::Error| CgroupError::Bpf {
                op,
                path: dir.to_path_buf(),
                source,
            }
        };
        let old = bpf::query_cgroup_device(leaf.as_fd()).map_err(bpf_err("listing the"))?;
        if *policy != DevicePolicy::default() {
            let prog = bpf::load_cgroup_device_prog(&ebpf::program(policy), ebpf::LICENSE)
                .map_err(|source| CgroupError::BpfLoad {
                    path: dir.to_path_buf(),
                    source,
                })?;
            bpf::attach_cgroup_device(leaf.as_fd(), prog.as_fd())
                .map_err(bpf_err("attaching the"))?;
        }
        // The new filter is in place before the old ones go: never a moment of less control.
        for id in old {
            let prog = bpf::prog_fd_by_id(id).map_err(bpf_err("opening an old"))?;
            bpf::detach_cgroup_device(leaf.as_fd(), prog.as_fd())
                .map_err(bpf_err("detaching an old"))?;
        }
        Ok(())
    }
}

fn unavailable(what: &'static str, reason: &str) -> CgroupError {
    CgroupError::Unavailable {
        what,
        reason: reason.to_string(),
    }
}

fn open_dir(path: &Path) -> Result<OwnedFd, CgroupError> {
    fs::File::open(path)
        .map(OwnedFd::from)
        .map_err(|source| CgroupError::Open {
            path: path.to_path_buf(),
            source,
        })
}

/// Copies `cpuset.cpus`/`cpuset.mems` from `parent` into `child` where the child's are empty.
fn inherit_cpuset(parent: &Path, child: &Path) -> Result<(), CgroupError> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let mine = read_string(&child.join(file))?;
        if mine.trim().is_empty() {
            let theirs = read_string(&parent.join(file))?;
            write_field(child, file, theirs.trim(), "linux.cgroupsPath")?;
        }
    }
    Ok(())
}

/// Enables cgroup2 controllers from the mount point down to the leaf's parent: every available
/// one when `all` (pure v2, like runc), else only the `needed` ones. Then checks that the leaf
/// has each needed controller, naming the field that needs it.
fn enable_controllers(
    mount_point: &Path,
    leaf: &Path,
    needed: &[(String, String)],
    all: bool,
) -> Result<(), CgroupError> {
    if needed.is_empty() && !all {
        return Ok(());
    }
    let rel = leaf.strip_prefix(mount_point).unwrap_or(Path::new(""));
    let mut cur = mount_point.to_path_buf();
    let mut last_failure: Option<(String, io::Error)> = None;
    for comp in rel.components() {
        let available = read_string(&cur.join("cgroup.controllers"))?;
        let enabled = read_string(&cur.join("cgroup.subtree_control"))?;
        let enabled: Vec<&str> = enabled.split_whitespace().collect();
        for c in available.split_whitespace() {
            let wanted = all || needed.iter().any(|(n, _)| n == c);
            if wanted && !enabled.contains(&c) {
                if let Err(e) = write_raw(&cur.join("cgroup.subtree_control"), &format!("+{c}")) {
                    last_failure = Some((
                        format!("{} +{c}", cur.join("cgroup.subtree_control").display()),
                        e,
                    ));
                }
            }
        }
        cur.push(comp);
    }
    let have = read_string(&leaf.join("cgroup.controllers"))?;
    for (c, field) in needed {
        if !have.split_whitespace().any(|h| h == c) {
            return Err(CgroupError::ControllerNotEnabled {
                field: field.clone(),
                controller: c.clone(),
                dir: leaf.to_path_buf(),
                reason: last_failure
                    .as_ref()
                    .map(|(what, e)| format!("writing {what}: {e}")),
            });
        }
    }
    Ok(())
}

fn apply_op(dir: &Path, field: &str, op: &Op) -> Result<(), CgroupError> {
    match op {
        Op::Set { file, value } => write_field(dir, file, value, field),
        Op::SetFirst { candidates } => {
            match candidates.iter().find(|(f, _)| dir.join(f).exists()) {
                Some((file, value)) => write_field(dir, file, value, field),
                None => Err(CgroupError::NoSuchFile {
                    field: field.to_string(),
                    files: candidates.iter().map(|(f, _)| f.clone()).collect(),
                    dir: dir.to_path_buf(),
                }),
            }
        }
        Op::SetIfPresent { file, value } => {
            if dir.join(file).exists() {
                write_field(dir, file, value, field)
            } else {
                Ok(())
            }
        }
        Op::V1MemoryLimits { limit, swap } => v1_memory(dir, *limit, *swap),
        Op::V1CpuBandwidth { quota, period } => v1_period_and_value(
            dir,
            ("cpu.cfs_period_us", "linux.resources.cpu.period", *period),
            ("cpu.cfs_quota_us", "linux.resources.cpu.quota", *quota),
        ),
        Op::V1CpuRt { runtime, period } => v1_period_and_value(
            dir,
            (
                "cpu.rt_period_us",
                "linux.resources.cpu.realtimePeriod",
                *period,
            ),
            (
                "cpu.rt_runtime_us",
                "linux.resources.cpu.realtimeRuntime",
                *runtime,
            ),
        ),
        Op::V2CpuMax { quota, period } => {
            let current = read_string(&dir.join("cpu.max"))?;
            let mut it = current.split_whitespace();
            let (cur_quota, cur_period) =
                (it.next().unwrap_or("max"), it.next().unwrap_or("100000"));
            let quota = quota.map_or(cur_quota.to_string(), |q| {
                if q == -1 {
                    "max".into()
                } else {
                    q.to_string()
                }
            });
            let period = period.map_or(cur_period.to_string(), |p| p.to_string());
            write_field(dir, "cpu.max", &format!("{quota} {period}"), field)
        }
        Op::CheckMemoryUsage { limit, usage_file } => {
            let usage = read_u64(&dir.join(usage_file))?;
            if usage > *limit as u64 {
                return Err(CgroupError::invalid(
                    "linux.resources.memory.limit",
                    format!("{limit} is below the current usage of {usage} bytes (checkBeforeUpdate is set)"),
                ));
            }
            Ok(())
        }
    }
}

/// runc's ordering: memory+swap first when it grows past the current limit (or goes
/// unlimited), else the limit first; the kernel refuses any moment where limit > memory+swap.
fn v1_memory(dir: &Path, limit: Option<i64>, swap: Option<i64>) -> Result<(), CgroupError> {
    const LIMIT: (&str, &str) = ("memory.limit_in_bytes", "linux.resources.memory.limit");
    const SWAP: (&str, &str) = ("memory.memsw.limit_in_bytes", "linux.resources.memory.swap");
    let write = |(file, field): (&str, &str), v: i64| write_field(dir, file, &v.to_string(), field);
    match (limit, swap) {
        (Some(l), Some(s)) => {
            let current = read_u64(&dir.join(LIMIT.0))?;
            if s == -1 || current < s as u64 {
                write(SWAP, s)?;
                write(LIMIT, l)
            } else {
                write(LIMIT, l)?;
                write(SWAP, s)
            }
        }
        (Some(l), None) => write(LIMIT, l),
        (None, Some(s)) => write(SWAP, s),
        (None, None) => Ok(()),
    }
}

/// Writes a period and a value bounded by it (quota, rt runtime). A period the kernel rejects
/// (EINVAL) before the new value is in place is written again afterwards, as runc does.
fn v1_period_and_value<P: ToString, V: ToString>(
    dir: &Path,
    period: (&str, &str, Option<P>),
    value: (&str, &str, Option<V>),
) -> Result<(), CgroupError> {
    let mut retry_period = None;
    if let Some(p) = &period.2 {
        let p = p.to_string();
        match write_field(dir, period.0, &p, period.1) {
            Ok(()) => {}
            Err(CgroupError::Write { source, .. })
                if source.raw_os_error() == Some(libc::EINVAL) && value.2.is_some() =>
            {
                retry_period = Some(p)
            }
            Err(e) => return Err(e),
        }
    }
    if let Some(v) = &value.2 {
        write_field(dir, value.0, &v.to_string(), value.1)?;
    }
    if let Some(p) = retry_period {
        write_field(dir, period.0, &p, period.1)?;
    }
    Ok(())
}

/// Removes `dir` and every cgroup below it, deepest first.
/// rmdir of a parent cgroup we created; one that still has child cgroups (EBUSY) or is gone
/// is left as it is.
fn remove_if_empty(dir: &Path) -> Result<(), CgroupError> {
    match fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY) | Some(libc::ENOTEMPTY)) => Ok(()),
        Err(source) => Err(CgroupError::Rmdir {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

fn remove_tree(dir: &Path) -> Result<(), CgroupError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(CgroupError::Read {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&e.path())?;
        }
    }
    let mut delay = Duration::from_millis(5);
    for attempt in 1..=RMDIR_ATTEMPTS {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < RMDIR_ATTEMPTS => {
                thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(100));
            }
            Err(source) => {
                return Err(CgroupError::Rmdir {
                    path: dir.to_path_buf(),
                    source,
                })
            }
        }
    }
    unreachable!("the last attempt returns")
}

#[cfg(test)]
mod tests {
    //! The writers against a temp dir laid out like a cgroup fs. (Directory creation and
    //! removal need a real cgroupfs, where directories come with their files: see the root
    //! integration tests in `tests/cgroups_*.rs`.)
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        for (f, v) in files {
            fs::write(t.path().join(f), v).unwrap();
        }
        t
    }
    fn read(t: &tempfile::TempDir, f: &str) -> String {
        fs::read_to_string(t.path().join(f)).unwrap()
    }

    #[test]
    fn set_first_picks_the_first_existing_file() {
        let t = dir_with(&[("io.weight", "default 100\n")]);
        let op = Op::SetFirst {
            candidates: vec![
                ("io.bfq.weight".into(), "500".into()),
                ("io.weight".into(), "4950".into()),
            ],
        };
        apply_op(t.path(), "linux.resources.blockIO.weight", &op).unwrap();
        assert_eq!(read(&t, "io.weight"), "4950");
        let e = apply_op(dir_with(&[]).path(), "linux.resources.blockIO.weight", &op).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("linux.resources.blockIO.weight: not supported by this kernel (none of io.bfq.weight, io.weight exists in "));
    }

    #[test]
    fn set_if_present_skips_missing_files_only() {
        let t = dir_with(&[("hugetlb.2MB.max", "max")]);
        let op = |f: &str| Op::SetIfPresent {
            file: f.into(),
            value: "4194304".into(),
        };
        apply_op(t.path(), "f", &op("hugetlb.2MB.rsvd.max")).unwrap();
        apply_op(t.path(), "f", &op("hugetlb.2MB.max")).unwrap();
        assert_eq!(read(&t, "hugetlb.2MB.max"), "4194304");
        assert!(!t.path().join("hugetlb.2MB.rsvd.max").exists());
    }

    #[test]
    fn v2_cpu_max_keeps_the_unset_half() {
        let t = dir_with(&[("cpu.max", "max 100000\n")]);
        apply_op(
            t.path(),
            "f",
            &Op::V2CpuMax {
                quota: Some(50000),
                period: None,
            },
        )
        .unwrap();
        assert_eq!(read(&t, "cpu.max"), "50000 100000");
        apply_op(
            t.path(),
            "f",
            &Op::V2CpuMax {
                quota: None,
                period: Some(200000),
            },
        )
        .unwrap();
        assert_eq!(read(&t, "cpu.max"), "50000 200000");
        apply_op(
            t.path(),
            "f",
            &Op::V2CpuMax {
                quota: Some(-1),
                period: None,
            },
        )
        .unwrap();
        assert_eq!(read(&t, "cpu.max"), "max 200000");
    }

    #[test]
    fn v1_memory_writes_both_files() {
        let t = dir_with(&[
            ("memory.limit_in_bytes", "9223372036854771712\n"),
            ("memory.memsw.limit_in_bytes", "9223372036854771712\n"),
        ]);
        v1_memory(t.path(), Some(1000), Some(2000)).unwrap();
        assert_eq!(read(&t, "memory.limit_in_bytes"), "1000");
        assert_eq!(read(&t, "memory.memsw.limit_in_bytes"), "2000");
        v1_memory(t.path(), Some(-1), Some(-1)).unwrap();
        assert_eq!(read(&t, "memory.limit_in_bytes"), "-1");
    }

    #[test]
    fn check_memory_usage_refuses_a_limit_below_usage() {
        let t = dir_with(&[("memory.current", "5000\n")]);
        let op = |limit| Op::CheckMemoryUsage {
            limit,
            usage_file: "memory.current".into(),
        };
        apply_op(t.path(), "f", &op(6000)).unwrap();
        let e = apply_op(t.path(), "f", &op(4000)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.memory.limit: 4000 is below the current usage of 5000 bytes (checkBeforeUpdate is set)"
        );
    }

    #[test]
    fn period_then_quota() {
        let t = dir_with(&[("cpu.cfs_period_us", "100000"), ("cpu.cfs_quota_us", "-1")]);
        v1_period_and_value(
            t.path(),
            ("cpu.cfs_period_us", "p", Some(50000u64)),
            ("cpu.cfs_quota_us", "q", Some(25000i64)),
        )
        .unwrap();
        assert_eq!(read(&t, "cpu.cfs_period_us"), "50000");
        assert_eq!(read(&t, "cpu.cfs_quota_us"), "25000");
    }

    #[test]
    fn saved_cgroup_round_trips_and_loads() {
        let t = tempfile::tempdir().unwrap();
        let saved = SavedCgroup {
            mode: CgroupMode::Hybrid,
            cgroups_path: "ctr".into(),
            dirs: vec![SavedDir {
                hierarchy: Hierarchy::V1 {
                    controllers: vec!["pids".into()],
                },
                path: t.path().join("ctr"),
                created: vec![t.path().join("ctr")],
            }],
            device_base: vec![],
        };
        let json = serde_json::to_string(&saved).unwrap();
        assert!(json.contains("\"created\""), "{json}");
        let back: SavedCgroup = serde_json::from_str(&json).unwrap();
        assert_eq!(back, saved);
        let host = crate::cgroups::plan::tests::hybrid_host();
        let cg = Cgroup::load(&host, &back).unwrap();
        assert!(cg.clone_into_fd().is_none());
        // destroy of something already gone succeeds; a made dir (empty here) is removed
        fs::create_dir(t.path().join("ctr")).unwrap();
        cg.destroy().unwrap();
        assert!(!t.path().join("ctr").exists());
        cg.destroy().unwrap();
    }

    #[test]
    fn destroy_never_touches_dirs_it_did_not_make() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("parent/ctr")).unwrap();
        let saved = SavedCgroup {
            mode: CgroupMode::Unified,
            cgroups_path: "parent/ctr".into(),
            dirs: vec![SavedDir {
                hierarchy: Hierarchy::Unified,
                path: t.path().join("parent/ctr"),
                created: vec![t.path().join("parent/ctr")],
            }],
            device_base: vec![],
        };
        let cg = Cgroup::load(&crate::cgroups::plan::tests::v2_host(), &saved).unwrap();
        assert!(cg.clone_into_fd().is_some());
        cg.destroy().unwrap();
        assert!(t.path().join("parent").is_dir());
        assert!(!t.path().join("parent/ctr").exists());
    }
}
