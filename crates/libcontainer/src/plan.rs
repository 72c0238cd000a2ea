//! The Plan: a validated [`Spec`] turned into the concrete operations the processes will perform,
//! with every path resolved and every option parsed. Building it is pure (no syscalls); the
//! processes that execute it receive it finished (the init is a fork of the runtime, so the plan
//! is already in its memory — nothing is re-parsed inside the container).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::{
    Hooks, LinuxCapabilities, LinuxIdMapping, LinuxNamespaceType, LinuxSeccomp, Spec,
};
use serde::{Deserialize, Serialize};

use crate::rootfs::options::{self, MountOptions};
use crate::spec::InvalidSpec;

/// How the runtime was asked to create the container (the CLI flags of `create`/`run`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateOptions {
    /// Use MS_MOVE + chroot instead of pivot_root (`--no-pivot`).
    pub no_pivot: bool,
    /// Do not create a new session keyring (`--no-new-keyring`).
    pub no_new_keyring: bool,
    /// Number of fds after stdio to pass to the container (`--preserve-fds`, plus `LISTEN_FDS`).
    pub preserve_fds: u32,
    /// `--console-socket`.
    pub console_socket: Option<PathBuf>,
    /// `--pid-file`.
    pub pid_file: Option<PathBuf>,
    /// Variables added to `process.env` (socket activation: `LISTEN_FDS`, `LISTEN_PID`).
    pub extra_env: Vec<String>,
}

/// Kinds of namespaces, as clone flags.
pub fn clone_flag(t: LinuxNamespaceType) -> libc::c_int {
    match t {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Time => libc::CLONE_NEWTIME,
    }
}

/// The name of a namespace kind as in /proc/<pid>/ns/<name>.
pub fn proc_ns_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// One uid or gid mapping line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMap {
    pub container: u32,
    pub host: u32,
    pub size: u32,
}

impl IdMap {
    fn from_spec(m: &LinuxIdMapping) -> Self {
        IdMap {
            container: m.container_id(),
            host: m.host_id(),
            size: m.size(),
        }
    }

    /// The text written to /proc/<pid>/{uid,gid}_map.
    pub fn to_proc(maps: &[IdMap]) -> String {
        maps.iter()
            .map(|m| format!("{} {} {}\n", m.container, m.host, m.size))
            .collect()
    }

    /// Map a container id to the host id, if the mapping covers it.
    pub fn to_host(maps: &[IdMap], id: u32) -> Option<u32> {
        maps.iter().find_map(|m| {
            (id >= m.container && (id - m.container) < m.size).then(|| m.host + (id - m.container))
        })
    }
}

/// Namespaces: what is created, what is joined, and how the processes are arranged for it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NamespacePlan {
    /// `CLONE_NEW*` flags of every namespace to create.
    pub new: libc::c_int,
    /// Namespaces joined by path, in the order they must be entered (user last).
    pub join: Vec<(NsKind, PathBuf)>,
    pub uid_map: Vec<IdMap>,
    pub gid_map: Vec<IdMap>,
    /// `linux.timeOffsets`: (clock name, seconds, nanoseconds).
    pub time_offsets: Vec<(String, i64, u32)>,
}

/// A namespace kind in a serialisable form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NsKind(pub libc::c_int);

impl NsKind {
    pub fn name(self) -> &'static str {
        match self.0 {
            libc::CLONE_NEWNS => "mnt",
            libc::CLONE_NEWCGROUP => "cgroup",
            libc::CLONE_NEWUTS => "uts",
            libc::CLONE_NEWIPC => "ipc",
            libc::CLONE_NEWUSER => "user",
            libc::CLONE_NEWPID => "pid",
            libc::CLONE_NEWNET => "net",
            libc::CLONE_NEWTIME => "time",
            _ => "unknown",
        }
    }
}

impl NamespacePlan {
    pub fn creates(&self, flag: libc::c_int) -> bool {
        self.new & flag != 0
    }
    pub fn joins(&self, flag: libc::c_int) -> bool {
        self.join.iter().any(|(k, _)| k.0 == flag)
    }
    /// Namespaces the init is in that are not the runtime's (created or joined).
    pub fn private(&self, flag: libc::c_int) -> bool {
        self.creates(flag) || self.joins(flag)
    }

    /// Can every namespace be created by the clone that makes the first child, with nothing to
    /// join and no time offsets to write first? Then no intermediate process is needed.
    /// The cgroup namespace is never created by clone: it must be unshared after the process
    /// has been moved into the container's cgroup, so that the cgroup is its root.
    pub fn single_clone(&self) -> bool {
        self.join.is_empty() && !self.creates(libc::CLONE_NEWTIME)
    }

    /// Flags for the first clone.
    pub fn clone_flags(&self) -> libc::c_int {
        if self.single_clone() {
            self.new & !libc::CLONE_NEWCGROUP
        } else {
            0
        }
    }

    /// Does the process that joined/unshared namespaces have to fork once more so that its child
    /// is inside the new (or joined) pid/time namespace?
    pub fn needs_second_fork(&self) -> bool {
        !self.single_clone()
            && (self.private(libc::CLONE_NEWPID) || self.creates(libc::CLONE_NEWTIME))
    }
}

/// One mount of `mounts`, resolved.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MountPlan {
    /// Index in config.json's `mounts`, for error messages.
    pub index: usize,
    /// Absolute destination inside the container (relative ones are taken relative to "/").
    pub destination: PathBuf,
    /// Source: for binds an absolute host path (relative ones are resolved against the bundle).
    pub source: Option<PathBuf>,
    pub fstype: String,
    pub options: MountOptions,
    pub uid_map: Vec<IdMap>,
    pub gid_map: Vec<IdMap>,
}

impl MountPlan {
    pub fn is_bind(&self) -> bool {
        self.options.bind
    }
}

/// A device node to create in the container's /dev.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicePlan {
    /// Absolute path inside the container.
    pub path: PathBuf,
    /// `S_IFCHR`, `S_IFBLK` or `S_IFIFO`.
    pub kind: u32,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// From `linux.devices` (an existing mismatching file is then an error), not a default.
    pub configured: bool,
}

/// The capability sets of the process; `None` means "empty set".
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CapsPlan {
    pub bounding: Vec<String>,
    pub effective: Vec<String>,
    pub inheritable: Vec<String>,
    pub permitted: Vec<String>,
    pub ambient: Vec<String>,
}

impl CapsPlan {
    fn from_spec(c: Option<&LinuxCapabilities>) -> Self {
        let names = |set: Option<&oci_spec::runtime::Capabilities>| -> Vec<String> {
            let mut v: Vec<String> = set
                .into_iter()
                .flatten()
                .map(|c| format!("CAP_{}", c.to_string().to_uppercase()))
                .collect();
            v.sort();
            v
        };
        match c {
            None => CapsPlan::default(),
            Some(c) => CapsPlan {
                bounding: names(c.bounding().as_ref()),
                effective: names(c.effective().as_ref()),
                inheritable: names(c.inheritable().as_ref()),
                permitted: names(c.permitted().as_ref()),
                ambient: names(c.ambient().as_ref()),
            },
        }
    }
}

/// An rlimit: (resource number, soft, hard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rlimit {
    pub resource: u32,
    #[serde(skip_deserializing)]
    pub name: &'static str,
    pub soft: u64,
    pub hard: u64,
}

/// The user-specified process.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProcessPlan {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub umask: Option<u32>,
    pub terminal: bool,
    pub console_size: Option<(u16, u16)>,
    /// The capability sets; `process.capabilities` absent means every set empty.
    pub caps: CapsPlan,
    pub rlimits: Vec<Rlimit>,
    pub no_new_privileges: bool,
    pub oom_score_adj: Option<i32>,
    pub apparmor_profile: Option<String>,
    pub selinux_label: Option<String>,
    /// scheduler, ioPriority, personality, memoryPolicy as kernel values.
    pub attrs: crate::procattrs::ProcAttrs,
}

/// Everything the processes need to create the container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub rootfs_readonly: bool,
    /// Propagation flags for the container's "/" (`linux.rootfsPropagation`, default rslave).
    pub rootfs_propagation: u64,
    /// The propagation was given explicitly (then it is also re-applied after pivot_root).
    pub rootfs_propagation_given: bool,
    pub namespaces: NamespacePlan,
    pub mounts: Vec<MountPlan>,
    pub devices: Vec<DevicePlan>,
    pub masked_paths: Vec<PathBuf>,
    pub readonly_paths: Vec<PathBuf>,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub sysctl: BTreeMap<String, String>,
    pub process: ProcessPlan,
    pub hooks: Option<Hooks>,
    pub seccomp: Option<LinuxSeccomp>,
    pub annotations: BTreeMap<String, String>,
    pub options: CreateOptions,
    /// `linux.mountLabel`: the SELinux context given to the container's mounts.
    pub mount_label: Option<String>,
    /// `linux.intelRdt`.
    pub rdt: Option<crate::resctrl::RdtPlan>,
    /// `linux.netDevices`, sorted by host name.
    pub net_devices: Vec<crate::netdev::NetDevice>,
}

/// The devices every container gets (config-linux.md, "Default Devices").
pub fn default_devices() -> Vec<DevicePlan> {
    let chr = |name: &str, major, minor| DevicePlan {
        path: PathBuf::from("/dev").join(name),
        kind: libc::S_IFCHR,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
        configured: false,
    };
    vec![
        chr("null", 1, 3),
        chr("zero", 1, 5),
        chr("full", 1, 7),
        chr("random", 1, 8),
        chr("urandom", 1, 9),
        chr("tty", 5, 0),
    ]
}

/// Make a container path absolute and free of `.`/`..` without touching the host (lexically;
/// the real resolution inside the rootfs happens with openat2(RESOLVE_IN_ROOT)).
pub fn clean_container_path(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

fn rlimit_of(t: oci_spec::runtime::PosixRlimitType) -> (u32, &'static str) {
    use oci_spec::runtime::PosixRlimitType as T;
    match t {
        T::RlimitCpu => (libc::RLIMIT_CPU, "RLIMIT_CPU"),
        T::RlimitFsize => (libc::RLIMIT_FSIZE, "RLIMIT_FSIZE"),
        T::RlimitData => (libc::RLIMIT_DATA, "RLIMIT_DATA"),
        T::RlimitStack => (libc::RLIMIT_STACK, "RLIMIT_STACK"),
        T::RlimitCore => (libc::RLIMIT_CORE, "RLIMIT_CORE"),
        T::RlimitRss => (libc::RLIMIT_RSS, "RLIMIT_RSS"),
        T::RlimitNproc => (libc::RLIMIT_NPROC, "RLIMIT_NPROC"),
        T::RlimitNofile => (libc::RLIMIT_NOFILE, "RLIMIT_NOFILE"),
        T::RlimitMemlock => (libc::RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"),
        T::RlimitAs => (libc::RLIMIT_AS, "RLIMIT_AS"),
        T::RlimitLocks => (libc::RLIMIT_LOCKS, "RLIMIT_LOCKS"),
        T::RlimitSigpending => (libc::RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"),
        T::RlimitMsgqueue => (libc::RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"),
        T::RlimitNice => (libc::RLIMIT_NICE, "RLIMIT_NICE"),
        T::RlimitRtprio => (libc::RLIMIT_RTPRIO, "RLIMIT_RTPRIO"),
        T::RlimitRttime => (libc::RLIMIT_RTTIME, "RLIMIT_RTTIME"),
    }
}

/// Build the plan. `bundle` must be absolute. The spec must have passed [`crate::spec::validate`].
pub fn build(
    id: &str,
    bundle: &Path,
    spec: &Spec,
    options: CreateOptions,
) -> Result<Plan, InvalidSpec> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| InvalidSpec::new("root", "required on Linux"))?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    let linux = spec.linux().as_ref();

    // Namespaces, joins ordered so that the user namespace is entered last (after joining the
    // others, which needs the runtime's privileges in the initial user namespace).
    let mut ns = NamespacePlan::default();
    let mut joins = Vec::new();
    for n in linux
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
    {
        let flag = clone_flag(n.typ());
        match n.path() {
            Some(p) => joins.push((NsKind(flag), p.clone())),
            None => ns.new |= flag,
        }
    }
    joins.sort_by_key(|(k, _)| k.0 == libc::CLONE_NEWUSER);
    ns.join = joins;
    if let Some(l) = linux {
        ns.uid_map = l
            .uid_mappings()
            .iter()
            .flatten()
            .map(IdMap::from_spec)
            .collect();
        ns.gid_map = l
            .gid_mappings()
            .iter()
            .flatten()
            .map(IdMap::from_spec)
            .collect();
        let mut offs: Vec<(String, i64, u32)> = l
            .time_offsets()
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.secs().unwrap_or(0), v.nanosecs().unwrap_or(0)))
            .collect();
        offs.sort();
        ns.time_offsets = offs;
    }

    let mut mounts = Vec::new();
    for (index, m) in spec.mounts().iter().flatten().enumerate() {
        let opts = options::parse(m.options().as_deref().unwrap_or(&[]))
            .map_err(|e| InvalidSpec::new(format!("mounts[{index}].options"), e.to_string()))?;
        let fstype = m.typ().clone().unwrap_or_default();
        let source = m.source().as_ref().map(|s| {
            if opts.bind && !s.is_absolute() {
                bundle.join(s)
            } else {
                s.clone()
            }
        });
        if !opts.bind && fstype.is_empty() {
            return Err(InvalidSpec::new(
                format!("mounts[{index}].type"),
                "required unless the mount is a bind mount",
            ));
        }
        mounts.push(MountPlan {
            index,
            destination: clean_container_path(m.destination()),
            source,
            fstype,
            uid_map: m
                .uid_mappings()
                .iter()
                .flatten()
                .map(IdMap::from_spec)
                .collect(),
            gid_map: m
                .gid_mappings()
                .iter()
                .flatten()
                .map(IdMap::from_spec)
                .collect(),
            options: opts,
        });
    }

    let mut devices = default_devices();
    for d in linux
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
    {
        use oci_spec::runtime::LinuxDeviceType as T;
        let kind = match d.typ() {
            T::C | T::U => libc::S_IFCHR,
            T::B => libc::S_IFBLK,
            T::P => libc::S_IFIFO,
            T::A => libc::S_IFCHR,
        };
        let dev = DevicePlan {
            path: clean_container_path(d.path()),
            kind,
            major: d.major() as u64,
            minor: d.minor() as u64,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
            configured: true,
        };
        // A configured device replaces a default one at the same path.
        devices.retain(|x| x.path != dev.path);
        devices.push(dev);
    }

    let (prop, prop_given) = match linux.and_then(|l| l.rootfs_propagation().as_deref()) {
        None | Some("") => (libc::MS_SLAVE | libc::MS_REC, false),
        Some(p) => {
            let o = options::parse(&[p.to_string()])
                .map_err(|e| InvalidSpec::new("linux.rootfsPropagation", e.to_string()))?;
            (o.propagation.first().copied().unwrap_or(0), true)
        }
    };

    let proc_ = spec
        .process()
        .as_ref()
        .ok_or_else(|| InvalidSpec::new("process", "must be set"))?;
    let user = proc_.user();
    let mut rlimits = Vec::new();
    for r in proc_.rlimits().iter().flatten() {
        let (resource, name) = rlimit_of(r.typ());
        rlimits.push(Rlimit {
            resource,
            name,
            soft: r.soft(),
            hard: r.hard(),
        });
    }
    let process = ProcessPlan {
        args: proc_.args().clone().unwrap_or_default(),
        env: {
            let mut env = proc_.env().clone().unwrap_or_default();
            env.extend(options.extra_env.iter().cloned());
            env
        },
        cwd: proc_.cwd().clone(),
        uid: user.uid(),
        gid: user.gid(),
        additional_gids: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask(),
        terminal: proc_.terminal().unwrap_or(false),
        console_size: proc_
            .console_size()
            .map(|b| (b.height() as u16, b.width() as u16)),
        caps: CapsPlan::from_spec(proc_.capabilities().as_ref()),
        rlimits,
        no_new_privileges: proc_.no_new_privileges().unwrap_or(false),
        oom_score_adj: proc_.oom_score_adj(),
        apparmor_profile: proc_.apparmor_profile().clone().filter(|s| !s.is_empty()),
        selinux_label: proc_.selinux_label().clone().filter(|s| !s.is_empty()),
        attrs: crate::procattrs::from_spec(spec)?,
    };

    Ok(Plan {
        id: id.to_string(),
        bundle: bundle.to_path_buf(),
        rootfs,
        rootfs_readonly: root.readonly().unwrap_or(false),
        rootfs_propagation: prop,
        rootfs_propagation_given: prop_given,
        namespaces: ns,
        mounts,
        devices,
        masked_paths: linux
            .and_then(|l| l.masked_paths().as_ref())
            .into_iter()
            .flatten()
            .map(|p| clean_container_path(Path::new(p)))
            .collect(),
        readonly_paths: linux
            .and_then(|l| l.readonly_paths().as_ref())
            .into_iter()
            .flatten()
            .map(|p| clean_container_path(Path::new(p)))
            .collect(),
        hostname: spec.hostname().clone(),
        domainname: spec.domainname().clone(),
        sysctl: linux
            .and_then(|l| l.sysctl().as_ref())
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        process,
        hooks: spec.hooks().clone(),
        seccomp: linux.and_then(|l| l.seccomp().clone()),
        annotations: spec
            .annotations()
            .as_ref()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        options,
        mount_label: linux
            .and_then(|l| l.mount_label().clone())
            .filter(|s| !s.is_empty()),
        rdt: linux
            .and_then(|l| l.intel_rdt().as_ref())
            .map(|r| crate::resctrl::plan(r, id))
            .transpose()?,
        net_devices: {
            let mut v: Vec<crate::netdev::NetDevice> = linux
                .and_then(|l| l.net_devices().as_ref())
                .into_iter()
                .flatten()
                .map(|(host, d)| crate::netdev::NetDevice {
                    host_name: host.clone(),
                    name: d
                        .name()
                        .clone()
                        .filter(|n| !n.is_empty())
                        .unwrap_or_else(|| host.clone()),
                })
                .collect();
            v.sort_by(|a, b| a.host_name.cmp(&b.host_name));
            v
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: serde_json::Value) -> Spec {
        crate::spec::parse(v.to_string().as_bytes()).unwrap()
    }

    fn base() -> serde_json::Value {
        serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs", "readonly": true},
            "process": {"cwd": "/", "args": ["sh"], "user": {"uid": 1, "gid": 2, "additionalGids": [3]}},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "cgroup"}]}
        })
    }

    #[test]
    fn relative_rootfs_and_bind_sources_are_bundle_relative() {
        let mut v = base();
        v["mounts"] = serde_json::json!([
            {"destination": "data", "source": "host/data", "options": ["rbind", "ro"]},
            {"destination": "/proc", "type": "proc", "source": "proc"}
        ]);
        let p = build("c", Path::new("/b"), &spec(v), CreateOptions::default()).unwrap();
        assert_eq!(p.rootfs, PathBuf::from("/b/rootfs"));
        assert!(p.rootfs_readonly);
        assert_eq!(p.mounts[0].destination, PathBuf::from("/data"));
        assert_eq!(p.mounts[0].source, Some(PathBuf::from("/b/host/data")));
        assert_eq!(p.mounts[1].source, Some(PathBuf::from("proc")));
        assert_eq!(p.process.additional_gids, vec![3]);
    }

    #[test]
    fn namespace_arrangement() {
        let p = build(
            "c",
            Path::new("/b"),
            &spec(base()),
            CreateOptions::default(),
        )
        .unwrap();
        assert!(p.namespaces.single_clone());
        assert_eq!(
            p.namespaces.clone_flags(),
            libc::CLONE_NEWPID | libc::CLONE_NEWNS
        );
        assert!(!p.namespaces.needs_second_fork());

        let mut v = base();
        v["linux"]["namespaces"] = serde_json::json!([
            {"type": "user", "path": "/proc/1/ns/user"},
            {"type": "network", "path": "/proc/1/ns/net"},
            {"type": "pid"}
        ]);
        let p = build("c", Path::new("/b"), &spec(v), CreateOptions::default()).unwrap();
        assert!(!p.namespaces.single_clone());
        assert_eq!(p.namespaces.clone_flags(), 0);
        assert!(p.namespaces.needs_second_fork());
        assert_eq!(p.namespaces.join.last().unwrap().0 .0, libc::CLONE_NEWUSER);
    }

    #[test]
    fn devices_override_defaults() {
        let mut v = base();
        v["linux"]["devices"] = serde_json::json!([
            {"type": "c", "path": "/dev/null", "major": 1, "minor": 3, "fileMode": 0o600, "uid": 5},
            {"type": "b", "path": "/dev/sda", "major": 8, "minor": 0}
        ]);
        let p = build("c", Path::new("/b"), &spec(v), CreateOptions::default()).unwrap();
        let null: Vec<_> = p
            .devices
            .iter()
            .filter(|d| d.path == Path::new("/dev/null"))
            .collect();
        assert_eq!(null.len(), 1);
        assert_eq!(null[0].mode, 0o600);
        assert_eq!(null[0].uid, 5);
        assert!(p
            .devices
            .iter()
            .any(|d| d.kind == libc::S_IFBLK && d.major == 8));
    }

    #[test]
    fn clean_paths() {
        assert_eq!(
            clean_container_path(Path::new("a/../../b/./c")),
            PathBuf::from("/b/c")
        );
        assert_eq!(clean_container_path(Path::new("/")), PathBuf::from("/"));
    }

    #[test]
    fn idmap_lookup() {
        let m = [IdMap {
            container: 0,
            host: 1000,
            size: 10,
        }];
        assert_eq!(IdMap::to_host(&m, 0), Some(1000));
        assert_eq!(IdMap::to_host(&m, 9), Some(1009));
        assert_eq!(IdMap::to_host(&m, 10), None);
        assert_eq!(IdMap::to_proc(&m), "0 1000 10\n");
    }

    #[test]
    fn mount_without_type_is_refused() {
        let mut v = base();
        v["mounts"] = serde_json::json!([{"destination": "/x", "source": "y"}]);
        let e = build("c", Path::new("/b"), &spec(v), CreateOptions::default()).unwrap_err();
        assert_eq!(e.path, "mounts[0].type");
    }
}
