//! Cgroup placement for the floor: find every mounted hierarchy (each v1 hierarchy and the v2
//! one, hybrid or not), compute the container's directory in each (pure), create them with the
//! limits of `linux.resources`, move a process in, remove them.
//!
//! Host facts come from a proc root (`/proc` in production) so the parsing is testable.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};
use procfs::process::MountInfos;
use procfs::{FromRead, ProcessCGroups};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Errors of cgroup discovery and placement.
#[derive(Debug, Error)]
pub enum CgroupError {
    /// A file under the proc root could not be read.
    #[error("reading {path}")]
    ReadProc {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// /proc/self/mountinfo or /proc/self/cgroup could not be parsed.
    #[error("parsing {what}: {message}")]
    Parse {
        /// Which file.
        what: &'static str,
        /// The parser's complaint.
        message: String,
    },
    /// No cgroup hierarchy is mounted.
    #[error("no cgroup hierarchy is mounted")]
    NoHierarchy,
    /// The process is not in any cgroup of a mounted hierarchy.
    #[error("this process has no cgroup in the hierarchy mounted at {0}")]
    NoOwnCgroup(PathBuf),
    /// `linux.cgroupsPath` escapes the hierarchy.
    #[error("linux.cgroupsPath: {0:?} must not contain '..'")]
    BadPath(String),
    /// A resource the floor does not implement.
    #[error("{0}: not supported by the floor")]
    Unsupported(&'static str),
    /// No mounted hierarchy has the controller a resource needs.
    #[error("{field}: no mounted hierarchy has the {controller} controller")]
    NoController {
        /// The JSON field.
        field: &'static str,
        /// The controller.
        controller: &'static str,
    },
    /// A cgroup file or directory operation failed.
    #[error("{op} {path}")]
    Io {
        /// What was done.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// Cgroup version of a hierarchy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Version {
    /// A v1 hierarchy.
    V1,
    /// The unified (v2) hierarchy.
    V2,
}

/// One mounted hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hierarchy {
    /// Where it is mounted.
    pub mountpoint: PathBuf,
    /// The root of the mount inside the hierarchy (mountinfo's 4th field).
    pub mount_root: PathBuf,
    /// v1 or v2.
    pub version: Version,
    /// Controllers bound to it (v1: from the superblock options, `name=` included; v2: from the
    /// root's `cgroup.controllers`).
    pub controllers: BTreeSet<String>,
}

/// The container's directory in one hierarchy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// Absolute path of the directory.
    pub dir: PathBuf,
    /// The hierarchy's version.
    pub version: Version,
    /// Controllers of the hierarchy.
    pub controllers: BTreeSet<String>,
    /// Where the hierarchy is mounted (the bind mount of `/sys/fs/cgroup` names the directory
    /// after its last component).
    pub mountpoint: PathBuf,
}

/// v1 superblock options that are not controllers.
const V1_NON_CONTROLLER_OPTIONS: &[&str] = &[
    "rw",
    "ro",
    "xattr",
    "noprefix",
    "clone_children",
    "cpuset_v2_mode",
    "favordynmods",
    "release_agent",
];

/// The mounted cgroup hierarchies listed in a mountinfo text, one per hierarchy (a hierarchy
/// mounted twice is listed once). v2 controllers are left empty (see [`discover`]).
pub fn parse_hierarchies(mountinfo: &[u8]) -> Result<Vec<Hierarchy>, CgroupError> {
    let infos = MountInfos::from_read(mountinfo).map_err(|e| CgroupError::Parse {
        what: "mountinfo",
        message: e.to_string(),
    })?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for info in infos.0 {
        let version = match info.fs_type.as_str() {
            "cgroup" => Version::V1,
            "cgroup2" => Version::V2,
            _ => continue,
        };
        if !seen.insert(info.majmin.clone()) {
            continue;
        }
        let mut controllers = BTreeSet::new();
        if version == Version::V1 {
            for (key, value) in &info.super_options {
                match (key.as_str(), value) {
                    ("name", Some(name)) => {
                        controllers.insert(format!("name={name}"));
                    }
                    (key, None) if !V1_NON_CONTROLLER_OPTIONS.contains(&key) => {
                        controllers.insert(key.to_string());
                    }
                    _ => {}
                }
            }
        }
        out.push(Hierarchy {
            mountpoint: info.mount_point,
            mount_root: PathBuf::from(info.root),
            version,
            controllers,
        });
    }
    Ok(out)
}

/// The calling process's cgroup path in `hierarchy`, from a /proc/self/cgroup text.
pub fn own_path(proc_cgroup: &[u8], hierarchy: &Hierarchy) -> Result<PathBuf, CgroupError> {
    let groups = ProcessCGroups::from_read(proc_cgroup).map_err(|e| CgroupError::Parse {
        what: "/proc/self/cgroup",
        message: e.to_string(),
    })?;
    groups
        .0
        .iter()
        .find(|g| match hierarchy.version {
            Version::V2 => g.hierarchy == 0 && g.controllers.iter().all(String::is_empty),
            Version::V1 => {
                g.hierarchy != 0
                    && g.controllers
                        .iter()
                        .any(|c| hierarchy.controllers.contains(c))
            }
        })
        .map(|g| PathBuf::from(&g.pathname))
        .ok_or_else(|| CgroupError::NoOwnCgroup(hierarchy.mountpoint.clone()))
}

/// The container's directory in `hierarchy`: `linux.cgroupsPath` when given (absolute: from
/// the hierarchy's root; relative: from this process's cgroup), else this process's cgroup
/// plus the container id, as runc does.
pub fn container_dir(
    hierarchy: &Hierarchy,
    own: &Path,
    cgroups_path: Option<&Path>,
    id: &str,
) -> Result<PathBuf, CgroupError> {
    let in_hierarchy = match cgroups_path {
        Some(p) => {
            if p.components().any(|c| c == Component::ParentDir) {
                return Err(CgroupError::BadPath(p.display().to_string()));
            }
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                own.join(p)
            }
        }
        None => own.join(id),
    };
    // Paths in /proc/self/cgroup are relative to the hierarchy's root; the mount may show a
    // subtree of it (mount_root), which then sits at the mountpoint.
    let below_mount = in_hierarchy
        .strip_prefix(&hierarchy.mount_root)
        .unwrap_or(&in_hierarchy);
    let relative: PathBuf = below_mount
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    Ok(hierarchy.mountpoint.join(relative))
}

/// Every mounted hierarchy with this process's cgroup in it, read from `proc_root`
/// (`/proc`); v2 controllers come from the root's `cgroup.controllers`.
pub fn discover(proc_root: &Path) -> Result<Vec<(Hierarchy, PathBuf)>, CgroupError> {
    let read = |name: &str| {
        let path = proc_root.join(name);
        fs::read(&path).map_err(|source| CgroupError::ReadProc { path, source })
    };
    let mountinfo = read("self/mountinfo")?;
    let proc_cgroup = read("self/cgroup")?;
    let mut out = Vec::new();
    for mut hierarchy in parse_hierarchies(&mountinfo)? {
        if hierarchy.version == Version::V2 {
            let path = hierarchy.mountpoint.join("cgroup.controllers");
            let text = fs::read_to_string(&path).map_err(|source| CgroupError::Io {
                op: "reading",
                path,
                source,
            })?;
            hierarchy.controllers = text.split_whitespace().map(str::to_string).collect();
        }
        let own = own_path(&proc_cgroup, &hierarchy)?;
        out.push((hierarchy, own));
    }
    if out.is_empty() {
        return Err(CgroupError::NoHierarchy);
    }
    Ok(out)
}

/// Placements of a container in every discovered hierarchy.
pub fn placements(
    discovered: &[(Hierarchy, PathBuf)],
    cgroups_path: Option<&Path>,
    id: &str,
) -> Result<Vec<Placement>, CgroupError> {
    discovered
        .iter()
        .map(|(h, own)| {
            Ok(Placement {
                dir: container_dir(h, own, cgroups_path, id)?,
                version: h.version,
                controllers: h.controllers.clone(),
                mountpoint: h.mountpoint.clone(),
            })
        })
        .collect()
}

/// One write of a limit: `value` into `file` of the hierarchy with `controller`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// The controller whose hierarchy gets the write.
    pub controller: &'static str,
    /// The JSON field it comes from, for errors.
    pub field: &'static str,
    /// The cgroup file.
    pub file: &'static str,
    /// The value.
    pub value: String,
}

fn w(
    controller: &'static str,
    field: &'static str,
    file: &'static str,
    value: impl ToString,
) -> Write {
    Write {
        controller,
        field,
        file,
        value: value.to_string(),
    }
}

/// Device rules every container gets besides those of the spec (the device nodes the runtime
/// creates, plus mknod of anything), in the v1 `devices.allow` syntax.
pub const DEFAULT_DEVICE_RULES: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
    "c 10:200 rwm",
];

fn device_rule(rule: &LinuxDeviceCgroup) -> (bool, String) {
    let kind = match rule.typ() {
        Some(LinuxDeviceType::B) => "b",
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => "c",
        Some(LinuxDeviceType::P) => "p",
        Some(LinuxDeviceType::A) | None => "a",
    };
    let num = |n: Option<i64>| n.map_or_else(|| "*".to_string(), |n| n.to_string());
    let access = rule.access().clone().unwrap_or_else(|| "rwm".to_string());
    let text = if kind == "a" {
        "a".to_string()
    } else {
        format!(
            "{kind} {}:{} {access}",
            num(rule.major()),
            num(rule.minor())
        )
    };
    (rule.allow(), text)
}

/// The limit writes for `resources` on a hierarchy of `version` (pure). Fields the floor does
/// not implement are refused rather than ignored. On v2, device rules need an eBPF program,
/// which the floor does not load: they produce no writes there.
pub fn resource_writes(
    version: Version,
    resources: &LinuxResources,
) -> Result<Vec<Write>, CgroupError> {
    let mut out = Vec::new();
    if resources.block_io().is_some() {
        return Err(CgroupError::Unsupported("linux.resources.blockIO"));
    }
    if resources
        .hugepage_limits()
        .as_ref()
        .is_some_and(|h| !h.is_empty())
    {
        return Err(CgroupError::Unsupported("linux.resources.hugepageLimits"));
    }
    if resources.network().is_some() || resources.rdma().is_some() || resources.unified().is_some()
    {
        return Err(CgroupError::Unsupported(
            "linux.resources.network/rdma/unified",
        ));
    }
    if let Some(mem) = resources.memory() {
        if mem.kernel().is_some() || mem.kernel_tcp().is_some() || mem.swappiness().is_some() {
            return Err(CgroupError::Unsupported(
                "linux.resources.memory.kernel/kernelTCP/swappiness",
            ));
        }
        if mem.disable_oom_killer().is_some()
            || mem.use_hierarchy().is_some()
            || mem.check_before_update().is_some()
        {
            return Err(CgroupError::Unsupported(
                "linux.resources.memory.disableOOMKiller",
            ));
        }
        let field = "linux.resources.memory";
        let limit_text = |v: i64| {
            if v < 0 {
                "max".to_string()
            } else {
                v.to_string()
            }
        };
        match version {
            Version::V1 => {
                if let Some(limit) = mem.limit() {
                    out.push(w("memory", field, "memory.limit_in_bytes", limit));
                }
                if let Some(swap) = mem.swap() {
                    out.push(w("memory", field, "memory.memsw.limit_in_bytes", swap));
                }
                if let Some(reservation) = mem.reservation() {
                    out.push(w(
                        "memory",
                        field,
                        "memory.soft_limit_in_bytes",
                        reservation,
                    ));
                }
            }
            Version::V2 => {
                if let Some(limit) = mem.limit() {
                    out.push(w("memory", field, "memory.max", limit_text(limit)));
                }
                if let Some(swap) = mem.swap() {
                    // v1 counts memory+swap, v2 swap alone.
                    let v2_swap = match (swap, mem.limit()) {
                        (s, _) if s < 0 => "max".to_string(),
                        (s, Some(l)) if l >= 0 => (s - l).max(0).to_string(),
                        (s, _) => s.to_string(),
                    };
                    out.push(w("memory", field, "memory.swap.max", v2_swap));
                }
                if let Some(reservation) = mem.reservation() {
                    out.push(w("memory", field, "memory.low", reservation));
                }
            }
        }
    }
    if let Some(pids) = resources.pids() {
        let value = if pids.limit() <= 0 {
            "max".to_string()
        } else {
            pids.limit().to_string()
        };
        out.push(w("pids", "linux.resources.pids.limit", "pids.max", value));
    }
    if let Some(cpu) = resources.cpu() {
        if cpu.realtime_runtime().is_some()
            || cpu.realtime_period().is_some()
            || cpu.idle().is_some()
        {
            return Err(CgroupError::Unsupported(
                "linux.resources.cpu.realtime*/idle",
            ));
        }
        let field = "linux.resources.cpu";
        match version {
            Version::V1 => {
                if let Some(shares) = cpu.shares() {
                    out.push(w("cpu", field, "cpu.shares", shares));
                }
                if let Some(period) = cpu.period() {
                    out.push(w("cpu", field, "cpu.cfs_period_us", period));
                }
                if let Some(quota) = cpu.quota() {
                    out.push(w("cpu", field, "cpu.cfs_quota_us", quota));
                }
            }
            Version::V2 => {
                if let Some(shares) = cpu.shares() {
                    // The usual mapping of shares [2, 262144] onto weight [1, 10000].
                    let shares = shares.clamp(2, 262_144);
                    out.push(w(
                        "cpu",
                        field,
                        "cpu.weight",
                        1 + ((shares - 2) * 9999) / 262_142,
                    ));
                }
                if cpu.quota().is_some() || cpu.period().is_some() {
                    let quota = match cpu.quota() {
                        Some(q) if q > 0 => q.to_string(),
                        _ => "max".to_string(),
                    };
                    out.push(w(
                        "cpu",
                        field,
                        "cpu.max",
                        format!("{quota} {}", cpu.period().unwrap_or(100_000)),
                    ));
                }
            }
        }
        if let Some(cpus) = cpu.cpus() {
            out.push(w("cpuset", field, "cpuset.cpus", cpus));
        }
        if let Some(mems) = cpu.mems() {
            out.push(w("cpuset", field, "cpuset.mems", mems));
        }
    }
    if version == Version::V1 {
        if let Some(rules) = resources.devices() {
            for rule in rules {
                let (allow, text) = device_rule(rule);
                let file = if allow {
                    "devices.allow"
                } else {
                    "devices.deny"
                };
                out.push(w("devices", "linux.resources.devices", file, text));
            }
            for rule in DEFAULT_DEVICE_RULES {
                out.push(w(
                    "devices",
                    "linux.resources.devices",
                    "devices.allow",
                    rule,
                ));
            }
        }
    }
    Ok(out)
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> CgroupError {
    let path = path.to_path_buf();
    move |source| CgroupError::Io { op, path, source }
}

fn write_file(path: &Path, value: &str) -> Result<(), CgroupError> {
    fs::write(path, value).map_err(io_err("writing", path))
}

/// Creates the container's directory in every hierarchy and applies the limits. On v1 an
/// empty cpuset inherits its parent's cpus and mems (else no task could join it); on v2 the
/// controllers a limit needs are enabled in the parent's `cgroup.subtree_control`.
pub fn create(
    placements: &[Placement],
    resources: Option<&LinuxResources>,
) -> Result<(), CgroupError> {
    for placement in placements {
        let writes = match resources {
            Some(r) => resource_writes(placement.version, r)?,
            None => Vec::new(),
        };
        fs::create_dir_all(&placement.dir).map_err(io_err("creating", &placement.dir))?;
        if placement.version == Version::V1 && placement.controllers.contains("cpuset") {
            inherit_cpuset(&placement.dir)?;
        }
        let mine: Vec<&Write> = writes
            .iter()
            .filter(|w| placement.controllers.contains(w.controller))
            .collect();
        if placement.version == Version::V2 && !mine.is_empty() {
            enable_controllers(&placement.dir, mine.iter().map(|w| w.controller))?;
        }
        for write in mine {
            write_file(&placement.dir.join(write.file), &write.value)?;
        }
    }
    if let Some(r) = resources {
        for (field, controller) in required_controllers(r) {
            if !placements
                .iter()
                .any(|p| p.controllers.contains(controller))
            {
                return Err(CgroupError::NoController { field, controller });
            }
        }
    }
    Ok(())
}

/// The controllers the limits of `resources` need, with the JSON field that needs each
/// (device rules are left out: on v2 they are not cgroup files).
pub fn required_controllers(resources: &LinuxResources) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    if let Some(mem) = resources.memory() {
        if mem.limit().is_some() || mem.swap().is_some() || mem.reservation().is_some() {
            out.push(("linux.resources.memory", "memory"));
        }
    }
    if resources.pids().is_some() {
        out.push(("linux.resources.pids", "pids"));
    }
    if let Some(cpu) = resources.cpu() {
        if cpu.shares().is_some() || cpu.quota().is_some() || cpu.period().is_some() {
            out.push(("linux.resources.cpu", "cpu"));
        }
        if cpu.cpus().is_some() || cpu.mems().is_some() {
            out.push(("linux.resources.cpu.cpus", "cpuset"));
        }
    }
    out
}

fn inherit_cpuset(dir: &Path) -> Result<(), CgroupError> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let path = dir.join(file);
        let current = fs::read_to_string(&path).map_err(io_err("reading", &path))?;
        if current.trim().is_empty() {
            let parent_path = parent.join(file);
            let value =
                fs::read_to_string(&parent_path).map_err(io_err("reading", &parent_path))?;
            write_file(&path, value.trim())?;
        }
    }
    Ok(())
}

fn enable_controllers<'a>(
    dir: &Path,
    controllers: impl Iterator<Item = &'a str>,
) -> Result<(), CgroupError> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    let path = parent.join("cgroup.subtree_control");
    let enabled = fs::read_to_string(&path).map_err(io_err("reading", &path))?;
    let wanted: BTreeSet<&str> = controllers.collect();
    let missing: Vec<String> = wanted
        .into_iter()
        .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
        .map(|c| format!("+{c}"))
        .collect();
    if !missing.is_empty() {
        write_file(&path, &missing.join(" "))?;
    }
    Ok(())
}

/// How a process gets into its v1 cgroups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Join {
    /// The process writes `0` to `tasks` of each v1 hierarchy itself. That moves only the
    /// calling thread (the whole process while it is single-threaded) and the kernel then skips
    /// the write lock of `cgroup_threadgroup_rwsem`, whose first use after an idle spell waits
    /// for an RCU grace period (7-19 ms on this host's kernel).
    SelfTasks,
    /// Another process writes the pid to `cgroup.procs`, as runc and crun do: takes the
    /// threadgroup write lock, so pays the RCU wait when the lock was idle.
    ParentProcs,
}

/// Moves the calling (single-threaded) process into the container's cgroup of every v1
/// placement, writing `0` to `tasks` ([`Join::SelfTasks`]).
pub fn join_self_v1(placements: &[Placement]) -> Result<(), CgroupError> {
    for placement in placements.iter().filter(|p| p.version == Version::V1) {
        write_file(&placement.dir.join("tasks"), "0")?;
    }
    Ok(())
}

/// Moves `pid` into the container's cgroup of every v1 placement (v2 placements are joined at
/// clone time with `CLONE_INTO_CGROUP`) when `v1_only`, else of every placement.
pub fn add_process(placements: &[Placement], pid: i32, v1_only: bool) -> Result<(), CgroupError> {
    for placement in placements
        .iter()
        .filter(|p| !v1_only || p.version == Version::V1)
    {
        write_file(&placement.dir.join("cgroup.procs"), &pid.to_string())?;
    }
    Ok(())
}

/// Removes the container's directories; missing ones are fine.
pub fn remove(placements: &[Placement]) -> Result<(), CgroupError> {
    for placement in placements {
        match fs::remove_dir(&placement.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(CgroupError::Io {
                    op: "removing",
                    path: placement.dir.clone(),
                    source,
                })
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder,
    };

    const HYBRID_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 31 0:32 / /mnt/memory-again rw,relatime - cgroup cgroup rw,memory
";

    const HYBRID_CGROUP: &str = "\
9:name=systemd:/
4:memory:/sandbox/abc
1:cpu:/
0::/
";

    fn hierarchies() -> Vec<Hierarchy> {
        parse_hierarchies(HYBRID_MOUNTINFO.as_bytes()).unwrap()
    }

    #[test]
    fn finds_each_hierarchy_once_with_its_controllers() {
        let h = hierarchies();
        let names: Vec<_> = h
            .iter()
            .map(|h| h.mountpoint.display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "/sys/fs/cgroup/cpu",
                "/sys/fs/cgroup/memory",
                "/sys/fs/cgroup/systemd",
                "/sys/fs/cgroup/unified"
            ]
        );
        assert_eq!(h[0].controllers, BTreeSet::from(["cpu".to_string()]));
        assert_eq!(
            h[2].controllers,
            BTreeSet::from(["name=systemd".to_string()])
        );
        assert_eq!(h[3].version, Version::V2);
    }

    #[test]
    fn own_paths_match_by_controller() {
        let h = hierarchies();
        let cg = HYBRID_CGROUP.as_bytes();
        assert_eq!(own_path(cg, &h[1]).unwrap(), Path::new("/sandbox/abc"));
        assert_eq!(own_path(cg, &h[2]).unwrap(), Path::new("/"));
        assert_eq!(own_path(cg, &h[3]).unwrap(), Path::new("/"));
        assert!(matches!(
            own_path(b"1:cpu:/\n", &h[1]),
            Err(CgroupError::NoOwnCgroup(_))
        ));
    }

    #[test]
    fn container_dir_follows_runc_defaults() {
        let h = &hierarchies()[1];
        let own = Path::new("/sandbox/abc");
        assert_eq!(
            container_dir(h, own, None, "c1").unwrap(),
            Path::new("/sys/fs/cgroup/memory/sandbox/abc/c1")
        );
        assert_eq!(
            container_dir(h, own, Some(Path::new("/a/b")), "c1").unwrap(),
            Path::new("/sys/fs/cgroup/memory/a/b")
        );
        assert_eq!(
            container_dir(h, own, Some(Path::new("x")), "c1").unwrap(),
            Path::new("/sys/fs/cgroup/memory/sandbox/abc/x")
        );
        assert!(container_dir(h, own, Some(Path::new("/a/../b")), "c1").is_err());
    }

    #[test]
    fn container_dir_strips_the_mount_root() {
        let mut h = hierarchies()[1].clone();
        h.mount_root = PathBuf::from("/sandbox");
        let dir = container_dir(&h, Path::new("/sandbox/abc"), None, "c1").unwrap();
        assert_eq!(dir, Path::new("/sys/fs/cgroup/memory/abc/c1"));
    }

    fn limits() -> LinuxResources {
        LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(1 << 20)
                    .build()
                    .unwrap(),
            )
            .pids(LinuxPidsBuilder::default().limit(64).build().unwrap())
            .cpu(
                LinuxCpuBuilder::default()
                    .shares(512u64)
                    .quota(50_000)
                    .period(100_000u64)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    #[test]
    fn v1_writes() {
        let writes = resource_writes(Version::V1, &limits()).unwrap();
        let files: Vec<_> = writes.iter().map(|w| (w.file, w.value.as_str())).collect();
        assert_eq!(
            files,
            [
                ("memory.limit_in_bytes", "1048576"),
                ("pids.max", "64"),
                ("cpu.shares", "512"),
                ("cpu.cfs_period_us", "100000"),
                ("cpu.cfs_quota_us", "50000"),
            ]
        );
    }

    #[test]
    fn v2_writes() {
        let writes = resource_writes(Version::V2, &limits()).unwrap();
        let files: Vec<_> = writes.iter().map(|w| (w.file, w.value.as_str())).collect();
        assert_eq!(
            files,
            [
                ("memory.max", "1048576"),
                ("pids.max", "64"),
                ("cpu.weight", "20"),
                ("cpu.max", "50000 100000")
            ]
        );
    }

    #[test]
    fn device_rules_on_v1_only() {
        let spec: oci_spec::runtime::Spec = serde_json::from_value(crate::bundle::config(
            crate::bundle::Variant::Base,
            &serde_json::json!({}),
        ))
        .unwrap();
        let resources = spec.linux().as_ref().unwrap().resources().as_ref().unwrap();
        let v1 = resource_writes(Version::V1, resources).unwrap();
        assert_eq!(v1[0].file, "devices.deny");
        assert_eq!(v1[0].value, "a");
        assert_eq!(v1.len(), 1 + DEFAULT_DEVICE_RULES.len());
        assert!(resource_writes(Version::V2, resources).unwrap().is_empty());
    }

    #[test]
    fn unsupported_fields_are_refused() {
        let r = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .swappiness(10u64)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let err = resource_writes(Version::V1, &r).unwrap_err();
        assert!(
            err.to_string().starts_with("linux.resources.memory"),
            "{err}"
        );
    }

    #[test]
    fn create_and_remove_against_a_temp_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let parent = tmp.path().join("cpuset");
        fs::create_dir_all(&parent).unwrap();
        fs::write(parent.join("cpuset.cpus"), "0-1\n").unwrap();
        fs::write(parent.join("cpuset.mems"), "0\n").unwrap();
        // A real cpuset directory comes with empty files; create them the way the kernel would.
        let dir = parent.join("c1");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("cpuset.cpus"), "").unwrap();
        fs::write(dir.join("cpuset.mems"), "").unwrap();
        let mem = tmp.path().join("memory/c1");
        let placements = vec![
            Placement {
                dir: dir.clone(),
                version: Version::V1,
                controllers: BTreeSet::from(["cpuset".to_string()]),
                mountpoint: parent.clone(),
            },
            Placement {
                dir: mem.clone(),
                version: Version::V1,
                controllers: BTreeSet::from(["memory".to_string()]),
                mountpoint: tmp.path().join("memory"),
            },
        ];
        let r = LinuxResourcesBuilder::default()
            .memory(LinuxMemoryBuilder::default().limit(4096).build().unwrap())
            .build()
            .unwrap();
        create(&placements, Some(&r)).unwrap();
        assert_eq!(fs::read_to_string(dir.join("cpuset.cpus")).unwrap(), "0-1");
        assert_eq!(
            fs::read_to_string(mem.join("memory.limit_in_bytes")).unwrap(),
            "4096"
        );
        add_process(&placements, 42, true).unwrap();
        assert_eq!(fs::read_to_string(mem.join("cgroup.procs")).unwrap(), "42");
        // A real cgroup directory holds only virtual files; empty the fake ones first.
        for d in [&dir, &mem] {
            for entry in fs::read_dir(d).unwrap() {
                fs::remove_file(entry.unwrap().path()).unwrap();
            }
        }
        remove(&placements).unwrap();
        assert!(!dir.exists() && !mem.exists());
        remove(&placements).unwrap();
    }

    #[test]
    fn a_limit_without_its_controller_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let placements = vec![Placement {
            dir: tmp.path().join("cpu/c1"),
            version: Version::V1,
            controllers: BTreeSet::from(["cpu".to_string()]),
            mountpoint: tmp.path().join("cpu"),
        }];
        let r = LinuxResourcesBuilder::default()
            .pids(LinuxPidsBuilder::default().limit(5).build().unwrap())
            .build()
            .unwrap();
        let err = create(&placements, Some(&r)).unwrap_err();
        assert!(
            matches!(
                err,
                CgroupError::NoController {
                    controller: "pids",
                    ..
                }
            ),
            "{err}"
        );
    }
}
