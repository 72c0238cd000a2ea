//! The bundle's config.json turned into the list of things the floor must do (pure). Anything
//! the floor does not implement is refused here, so that it never looks cheaper than a runtime
//! by skipping work the bundle asks for.

use std::collections::HashSet;
use std::ffi::CString;
use std::path::{Path, PathBuf};

use caps::{Capability, CapsHashSet};
use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use nix::sys::resource::Resource;
use nix::sys::stat::SFlag;
use oci_spec::runtime::{
    LinuxDeviceType, LinuxNamespaceType, LinuxResources, LinuxSeccomp, PosixRlimitType, Spec,
};
use thiserror::Error;

use super::mounts::{self, MountOptionError, MountOptions};

/// Errors of planning.
#[derive(Debug, Error)]
pub enum PlanError {
    /// A required field is missing.
    #[error("{0}: missing")]
    Missing(&'static str),
    /// A field the floor does not implement is set.
    #[error("{0}: not supported by the floor")]
    Unsupported(String),
    /// A string holds a NUL byte.
    #[error("{0}: contains a NUL byte")]
    Nul(String),
    /// A capability name is unknown.
    #[error("process.capabilities.{set}: unknown capability {name:?}")]
    Capability {
        /// Which set.
        set: &'static str,
        /// The name.
        name: String,
    },
    /// A path must be absolute.
    #[error("{0}: must be an absolute path")]
    NotAbsolute(String),
    /// Mount options.
    #[error(transparent)]
    MountOption(#[from] MountOptionError),
}

/// What to mount where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountKind {
    /// A filesystem: mount(source, destination, fstype, flags, data).
    Fs {
        /// Source.
        source: String,
        /// Filesystem type.
        fstype: String,
    },
    /// A bind mount of a host path.
    Bind {
        /// The host path.
        source: PathBuf,
    },
    /// `type: cgroup`: the container's cgroups (a tmpfs with one read-only bind per v1
    /// hierarchy, or a bind of its v2 directory).
    CgroupTree,
}

/// One entry of `mounts`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountStep {
    /// Absolute path inside the container.
    pub destination: PathBuf,
    /// What.
    pub kind: MountKind,
    /// Parsed options.
    pub options: MountOptions,
}

/// A device node to create in the container's `/dev`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceNode {
    /// Absolute path inside the container.
    pub path: PathBuf,
    /// Character, block or fifo.
    pub kind: SFlag,
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

/// The device nodes every container gets (runtime-spec "Default Devices").
pub fn default_devices() -> Vec<DeviceNode> {
    [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .into_iter()
    .map(|(name, major, minor)| DeviceNode {
        path: Path::new("/dev").join(name),
        kind: SFlag::S_IFCHR,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

/// Symlinks every container gets in `/dev` (runtime-spec "Dev symbolic links"), as
/// (link, target).
pub const DEV_SYMLINKS: &[(&str, &str)] = &[
    ("/dev/fd", "/proc/self/fd"),
    ("/dev/stdin", "/proc/self/fd/0"),
    ("/dev/stdout", "/proc/self/fd/1"),
    ("/dev/stderr", "/proc/self/fd/2"),
    ("/dev/ptmx", "pts/ptmx"),
];

/// Capability sets of the process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CapsPlan {
    /// Bounding set.
    pub bounding: CapsHashSet,
    /// Effective set.
    pub effective: CapsHashSet,
    /// Permitted set.
    pub permitted: CapsHashSet,
    /// Inheritable set.
    pub inheritable: CapsHashSet,
    /// Ambient set.
    pub ambient: CapsHashSet,
}

/// The container process.
#[derive(Clone, Debug)]
pub struct ProcessPlan {
    /// argv.
    pub args: Vec<CString>,
    /// envp.
    pub env: Vec<CString>,
    /// `PATH` from `env`, for finding `args[0]` when it has no slash.
    pub path: Option<String>,
    /// Working directory inside the container.
    pub cwd: PathBuf,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Supplementary groups.
    pub additional_gids: Vec<u32>,
    /// umask (runc's default 0022 when unset).
    pub umask: u32,
    /// Resource limits: (resource, soft, hard).
    pub rlimits: Vec<(Resource, u64, u64)>,
    /// Capabilities; `None` leaves them as they are.
    pub caps: Option<CapsPlan>,
    /// `noNewPrivileges`.
    pub no_new_privileges: bool,
    /// The seccomp profile.
    pub seccomp: Option<LinuxSeccomp>,
}

/// Everything the floor does for one container.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The rootfs on the host.
    pub rootfs: PathBuf,
    /// `root.readonly`.
    pub readonly_root: bool,
    /// Namespaces created at clone time (all the requested ones except cgroup).
    pub clone_flags: CloneFlags,
    /// A cgroup namespace is requested: unshared by the child once it is in its cgroups.
    pub cgroup_ns: bool,
    /// `hostname`.
    pub hostname: Option<String>,
    /// `linux.rootfsPropagation` (rslave by default, as runc).
    pub propagation: MsFlags,
    /// `mounts`, in order.
    pub mounts: Vec<MountStep>,
    /// Device nodes: the defaults plus `linux.devices`.
    pub devices: Vec<DeviceNode>,
    /// `linux.maskedPaths`.
    pub masked: Vec<PathBuf>,
    /// `linux.readonlyPaths`.
    pub readonly: Vec<PathBuf>,
    /// The process.
    pub process: ProcessPlan,
    /// `linux.resources`.
    pub resources: Option<LinuxResources>,
    /// `linux.cgroupsPath`.
    pub cgroups_path: Option<PathBuf>,
}

fn cstring(field: &str, s: &str) -> Result<CString, PlanError> {
    CString::new(s).map_err(|_| PlanError::Nul(field.to_string()))
}

fn unsupported<T>(field: &str) -> Result<T, PlanError> {
    Err(PlanError::Unsupported(field.to_string()))
}

fn rlimit_resource(t: PosixRlimitType) -> Resource {
    match t {
        PosixRlimitType::RlimitCpu => Resource::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => Resource::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => Resource::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => Resource::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => Resource::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => Resource::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => Resource::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => Resource::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => Resource::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => Resource::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => Resource::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => Resource::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

fn cap_set(
    set: &'static str,
    caps: &Option<oci_spec::runtime::Capabilities>,
) -> Result<CapsHashSet, PlanError> {
    let mut out = HashSet::new();
    for cap in caps.iter().flatten() {
        // oci-spec displays capabilities without their CAP_ prefix.
        let short = cap.to_string();
        let name = if short.starts_with("CAP_") {
            short
        } else {
            format!("CAP_{short}")
        };
        let parsed: Capability = name.parse().map_err(|_| PlanError::Capability {
            set,
            name: name.clone(),
        })?;
        out.insert(parsed);
    }
    Ok(out)
}

/// The process part of a plan (also used by `exec`).
pub fn process_plan(spec: &Spec) -> Result<ProcessPlan, PlanError> {
    let process = spec
        .process()
        .as_ref()
        .ok_or(PlanError::Missing("process"))?;
    if process.terminal() == Some(true) {
        return unsupported("process.terminal");
    }
    if process.apparmor_profile().is_some() || process.selinux_label().is_some() {
        return unsupported("process.apparmorProfile/selinuxLabel");
    }
    if process.oom_score_adj().is_some()
        || process.io_priority().is_some()
        || process.scheduler().is_some()
    {
        return unsupported("process.oomScoreAdj/ioPriority/scheduler");
    }
    if process.exec_cpu_affinity().is_some() || process.user().username().is_some() {
        return unsupported("process.execCPUAffinity/user.username");
    }
    let args = process
        .args()
        .as_ref()
        .filter(|a| !a.is_empty())
        .ok_or(PlanError::Missing("process.args"))?;
    let env = process.env().clone().unwrap_or_default();
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .map(str::to_string);
    let cwd = process.cwd().clone();
    if !cwd.is_absolute() {
        return Err(PlanError::NotAbsolute("process.cwd".to_string()));
    }
    let rlimits = process
        .rlimits()
        .iter()
        .flatten()
        .map(|r| (rlimit_resource(r.typ()), r.soft(), r.hard()))
        .collect();
    let caps = match process.capabilities() {
        None => None,
        Some(c) => Some(CapsPlan {
            bounding: cap_set("bounding", c.bounding())?,
            effective: cap_set("effective", c.effective())?,
            permitted: cap_set("permitted", c.permitted())?,
            inheritable: cap_set("inheritable", c.inheritable())?,
            ambient: cap_set("ambient", c.ambient())?,
        }),
    };
    let user = process.user();
    Ok(ProcessPlan {
        args: args
            .iter()
            .map(|a| cstring("process.args", a))
            .collect::<Result<_, _>>()?,
        env: env
            .iter()
            .map(|e| cstring("process.env", e))
            .collect::<Result<_, _>>()?,
        path,
        cwd,
        uid: user.uid(),
        gid: user.gid(),
        additional_gids: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask().unwrap_or(0o022),
        rlimits,
        caps,
        no_new_privileges: process.no_new_privileges().unwrap_or(false),
        seccomp: spec.linux().as_ref().and_then(|l| l.seccomp().clone()),
    })
}

fn propagation_flags(value: Option<&str>) -> Result<MsFlags, PlanError> {
    Ok(match value {
        None | Some("") | Some("rslave") => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        Some("slave") => MsFlags::MS_SLAVE,
        Some("private") => MsFlags::MS_PRIVATE,
        Some("rprivate") => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        Some("shared") => MsFlags::MS_SHARED,
        Some("rshared") => MsFlags::MS_SHARED | MsFlags::MS_REC,
        Some("unbindable") => MsFlags::MS_UNBINDABLE,
        Some("runbindable") => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        Some(_) => return unsupported("linux.rootfsPropagation"),
    })
}

/// Plans a container of `spec` from the bundle at `bundle`.
pub fn plan(spec: &Spec, bundle: &Path) -> Result<Plan, PlanError> {
    if spec.hooks().is_some() {
        return unsupported("hooks");
    }
    if spec.domainname().is_some() {
        return unsupported("domainname");
    }
    let root = spec.root().as_ref().ok_or(PlanError::Missing("root"))?;
    let rootfs = bundle.join(root.path());
    let linux = spec.linux().as_ref().ok_or(PlanError::Missing("linux"))?;
    if linux.uid_mappings().is_some() || linux.gid_mappings().is_some() {
        return unsupported("linux.uidMappings/gidMappings");
    }
    if linux.sysctl().as_ref().is_some_and(|s| !s.is_empty()) {
        return unsupported("linux.sysctl");
    }
    if linux.intel_rdt().is_some() || linux.personality().is_some() || linux.mount_label().is_some()
    {
        return unsupported("linux.intelRdt/personality/mountLabel");
    }
    if linux.memory_policy().is_some()
        || linux.time_offsets().is_some()
        || linux.net_devices().is_some()
    {
        return unsupported("linux.memoryPolicy/timeOffsets/netDevices");
    }
    let mut clone_flags = CloneFlags::empty();
    let mut cgroup_ns = false;
    for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
        if ns.path().is_some() {
            return unsupported(&format!("linux.namespaces[{i}].path"));
        }
        match ns.typ() {
            LinuxNamespaceType::Cgroup => cgroup_ns = true,
            LinuxNamespaceType::User | LinuxNamespaceType::Time => {
                return unsupported(&format!("linux.namespaces[{i}].type"))
            }
            t => clone_flags |= CloneFlags::from_bits_truncate(t as i32),
        }
    }
    if !clone_flags.contains(CloneFlags::CLONE_NEWNS) {
        return unsupported("linux.namespaces without a mount namespace");
    }
    let mut mounts = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let destination = m.destination().clone();
        if !destination.is_absolute() {
            return Err(PlanError::NotAbsolute(format!("mounts[{i}].destination")));
        }
        let options = mounts::parse(i, m.options().as_deref().unwrap_or(&[]))?;
        let fstype = m.typ().clone().unwrap_or_default();
        let kind = if options.bind || fstype == "bind" {
            let source = m
                .source()
                .clone()
                .ok_or(PlanError::Missing("mounts[].source"))?;
            MountKind::Bind {
                source: if source.is_absolute() {
                    source
                } else {
                    bundle.join(source)
                },
            }
        } else if fstype == "cgroup" || fstype == "cgroup2" {
            MountKind::CgroupTree
        } else {
            let source = m
                .source()
                .as_ref()
                .map(|s| s.display().to_string())
                .unwrap_or_else(|| fstype.clone());
            MountKind::Fs { source, fstype }
        };
        mounts.push(MountStep {
            destination,
            kind,
            options,
        });
    }
    let mut devices = default_devices();
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => return unsupported(&format!("linux.devices[{i}].type")),
        };
        devices.retain(|existing| existing.path != *d.path());
        devices.push(DeviceNode {
            path: d.path().clone(),
            kind,
            major: d.major().max(0) as u64,
            minor: d.minor().max(0) as u64,
            mode: d.file_mode().unwrap_or(0o666),
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    Ok(Plan {
        rootfs,
        readonly_root: root.readonly().unwrap_or(false),
        clone_flags,
        cgroup_ns,
        hostname: spec.hostname().clone(),
        propagation: propagation_flags(linux.rootfs_propagation().as_deref())?,
        mounts,
        devices,
        masked: linux
            .masked_paths()
            .iter()
            .flatten()
            .map(PathBuf::from)
            .collect(),
        readonly: linux
            .readonly_paths()
            .iter()
            .flatten()
            .map(PathBuf::from)
            .collect(),
        process: process_plan(spec)?,
        resources: linux.resources().clone(),
        cgroups_path: linux.cgroups_path().clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::{config, Variant};
    use serde_json::json;

    fn spec(variant: Variant) -> Spec {
        let profile = crate::seccomp_profile::docker_like_profile(&["read".to_string()]);
        serde_json::from_value(config(variant, &profile)).unwrap()
    }

    #[test]
    fn plans_the_runc_default_bundle() {
        let p = plan(&spec(Variant::Base), Path::new("/b")).unwrap();
        assert_eq!(p.rootfs, Path::new("/b/rootfs"));
        assert!(p.readonly_root);
        assert_eq!(
            p.clone_flags,
            CloneFlags::CLONE_NEWPID
                | CloneFlags::CLONE_NEWNET
                | CloneFlags::CLONE_NEWIPC
                | CloneFlags::CLONE_NEWUTS
                | CloneFlags::CLONE_NEWNS
        );
        assert!(!p.cgroup_ns);
        assert_eq!(p.hostname.as_deref(), Some("runc"));
        assert_eq!(p.mounts.len(), 7);
        assert_eq!(p.mounts[6].kind, MountKind::CgroupTree);
        assert_eq!(
            p.mounts[0].kind,
            MountKind::Fs {
                source: "proc".to_string(),
                fstype: "proc".to_string()
            }
        );
        assert_eq!(p.devices.len(), 6);
        assert_eq!(p.masked.len(), 10);
        assert_eq!(p.readonly.len(), 5);
        assert_eq!(p.propagation, MsFlags::MS_SLAVE | MsFlags::MS_REC);
        let proc = &p.process;
        assert_eq!(proc.args, vec![CString::new("/bin/true").unwrap()]);
        assert!(proc.no_new_privileges);
        assert_eq!(proc.rlimits, vec![(Resource::RLIMIT_NOFILE, 1024, 1024)]);
        let caps = proc.caps.as_ref().unwrap();
        assert!(caps.bounding.contains(&Capability::CAP_KILL));
        assert_eq!(caps.bounding.len(), 3);
        assert!(caps.inheritable.is_empty());
        assert!(proc.path.as_deref().unwrap().contains("/bin"));
        assert!(proc.seccomp.is_none());
    }

    #[test]
    fn seccomp_and_limits_are_carried() {
        assert!(plan(&spec(Variant::Seccomp), Path::new("/b"))
            .unwrap()
            .process
            .seccomp
            .is_some());
        let p = plan(&spec(Variant::Limits), Path::new("/b")).unwrap();
        assert!(p.resources.unwrap().memory().is_some());
    }

    fn with(patch: impl FnOnce(&mut serde_json::Value)) -> Result<Plan, PlanError> {
        let mut value = config(Variant::Base, &json!({}));
        patch(&mut value);
        let spec: Spec = serde_json::from_value(value).unwrap();
        plan(&spec, Path::new("/b"))
    }

    #[test]
    fn refuses_what_it_does_not_do() {
        let err = with(|v| v["process"]["terminal"] = json!(true)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "process.terminal: not supported by the floor"
        );
        let err =
            with(|v| v["linux"]["namespaces"][0]["path"] = json!("/proc/1/ns/pid")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "linux.namespaces[0].path: not supported by the floor"
        );
        let err = with(|v| v["hooks"] = json!({"prestart": []})).unwrap_err();
        assert_eq!(err.to_string(), "hooks: not supported by the floor");
        let err = with(|v| v["linux"]["namespaces"] = json!([{"type": "user"}, {"type": "mount"}]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "linux.namespaces[0].type: not supported by the floor"
        );
        let err = with(|v| v["process"]["cwd"] = json!("rel")).unwrap_err();
        assert_eq!(err.to_string(), "process.cwd: must be an absolute path");
    }

    #[test]
    fn cgroup_namespace_is_unshared_later() {
        let p = with(|v| {
            v["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "cgroup"}))
        })
        .unwrap();
        assert!(p.cgroup_ns);
        assert!(!p.clone_flags.contains(CloneFlags::CLONE_NEWCGROUP));
    }

    #[test]
    fn bind_mounts_resolve_relative_sources_in_the_bundle() {
        let p = with(|v| {
            v["mounts"].as_array_mut().unwrap().push(json!({
                "destination": "/data", "type": "none", "source": "data", "options": ["rbind", "ro"]
            }))
        })
        .unwrap();
        let last = p.mounts.last().unwrap();
        assert_eq!(
            last.kind,
            MountKind::Bind {
                source: PathBuf::from("/b/data")
            }
        );
        assert!(last.options.recursive);
    }

    #[test]
    fn spec_devices_replace_defaults_with_the_same_path() {
        let p = with(|v| {
            v["linux"]["devices"] = json!([
                {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600},
                {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}
            ])
        })
        .unwrap();
        assert_eq!(p.devices.len(), 7);
        let null = p
            .devices
            .iter()
            .find(|d| d.path == Path::new("/dev/null"))
            .unwrap();
        assert_eq!(null.mode, 0o600);
    }
}
