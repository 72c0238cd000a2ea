//! The pure part: configuration + host facts → [`CgroupPlan`].

use std::collections::BTreeSet;
use std::path::PathBuf;

use oci_spec::runtime::{Linux, LinuxResources};
use serde::{Deserialize, Serialize};

use super::devices::{self, DevicePolicy, SourcedRule};
use super::host::{CgroupHost, CgroupMode};
use super::{path, v1, v2, CgroupError};

/// A cgroup hierarchy the container joins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Hierarchy {
    /// A v1 hierarchy, named by the controllers bound to it.
    V1 { controllers: Vec<String> },
    /// The cgroup2 tree (pure v2, or the cgroup2 mount of a hybrid host).
    Unified,
}

impl Hierarchy {
    pub fn has(&self, controller: &str) -> bool {
        match self {
            Hierarchy::V1 { controllers } => controllers.iter().any(|c| c == controller),
            Hierarchy::Unified => false,
        }
    }
}

/// The container's directory in one hierarchy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedDir {
    pub hierarchy: Hierarchy,
    /// The hierarchy's mount point: directories are created from here down.
    pub mount_point: PathBuf,
    pub path: PathBuf,
}

/// Which directory a write goes to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Target {
    /// The v1 hierarchy holding this controller.
    Controller(String),
    /// The cgroup2 directory; the controller must be enabled for it (`cgroup` for core files).
    Unified(String),
}

/// How a value is written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Op {
    /// Write `value` to `file`; a missing file is an error.
    Set { file: String, value: String },
    /// Write to the first of the candidate files that exists (e.g. `io.bfq.weight`, then
    /// `io.weight` with a converted value); none existing is an error.
    SetFirst { candidates: Vec<(String, String)> },
    /// Write only if the file exists: for values the spec itself makes conditional on kernel
    /// support (hugetlb reservation limits) or that already hold without it (swap `max`/`0`
    /// where there is no swap accounting, as runc does).
    SetIfPresent { file: String, value: String },
    /// v1 `memory.limit_in_bytes` and `memory.memsw.limit_in_bytes`, ordered at apply time so
    /// that the limit never exceeds memory+swap (runc's order).
    V1MemoryLimits {
        limit: Option<i64>,
        swap: Option<i64>,
    },
    /// v1 `cpu.cfs_period_us` and `cpu.cfs_quota_us`; a period the kernel rejects before the
    /// new quota is in place is retried after it.
    V1CpuBandwidth {
        quota: Option<i64>,
        period: Option<u64>,
    },
    /// v1 `cpu.rt_period_us` and `cpu.rt_runtime_us`, with the same retry.
    V1CpuRt {
        runtime: Option<i64>,
        period: Option<u64>,
    },
    /// v2 `cpu.max`; a missing quota or period keeps the current one.
    V2CpuMax {
        quota: Option<i64>,
        period: Option<u64>,
    },
    /// `checkBeforeUpdate`: refuse a memory limit below the current usage.
    CheckMemoryUsage { limit: i64, usage_file: String },
}

/// One planned write and the JSON field it comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Write {
    pub field: String,
    pub target: Target,
    pub op: Op,
}

/// Device rules: the policy to enforce and the rules every update starts from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DevicePlan {
    /// The default devices, re-applied after every deny-all.
    pub base: Vec<SourcedRule>,
    pub policy: DevicePolicy,
}

/// Everything [`Cgroup::create`](super::Cgroup::create) needs, validated against the host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CgroupPlan {
    pub mode: CgroupMode,
    /// The cleaned `cgroupsPath` (or the default derived from the id).
    pub cgroups_path: String,
    pub dirs: Vec<PlannedDir>,
    pub writes: Vec<Write>,
    pub devices: DevicePlan,
    /// cgroup2 controllers the leaf needs enabled, with the field that needs each.
    pub unified_controllers: Vec<(String, String)>,
}

/// Plans the cgroups of container `id` from `linux` (its `cgroupsPath`, `resources` and
/// `devices`).
pub fn plan(host: &CgroupHost, id: &str, linux: Option<&Linux>) -> Result<CgroupPlan, CgroupError> {
    let inner = path::inner_path(id, linux.and_then(|l| l.cgroups_path().as_deref()))?;
    let mut dirs = Vec::new();
    for h in &host.v1 {
        dirs.push(PlannedDir {
            hierarchy: Hierarchy::V1 {
                controllers: h.controllers.clone(),
            },
            mount_point: h.mount_point.clone(),
            path: path::resolve(&h.mount_point, &h.mount_root, &h.own_cgroup, &inner, false),
        });
    }
    if let Some(u) = &host.unified {
        let below_parent = host.mode == CgroupMode::Unified;
        dirs.push(PlannedDir {
            hierarchy: Hierarchy::Unified,
            mount_point: u.mount_point.clone(),
            path: path::resolve(
                &u.mount_point,
                &u.mount_root,
                &u.own_cgroup,
                &inner,
                below_parent,
            ),
        });
    }

    let resources = linux.and_then(|l| l.resources().as_ref());
    let writes = match resources {
        Some(r) => plan_writes(host, r, false)?,
        None => Vec::new(),
    };
    let unified_controllers = unified_controllers(&writes);

    let base: Vec<SourcedRule> = devices::default_allowed()
        .into_iter()
        .map(|rule| SourcedRule {
            field: "default devices".into(),
            rule,
        })
        .collect();
    // `linux.devices` entries get no rule of their own: what the cgroup lets the container use
    // is `linux.resources.devices` on top of the default devices (as runc and crun do; a
    // deny-all there also covers devices created from `linux.devices`).
    let policy = device_policy(host, resources, &base)?.unwrap_or_else(|| {
        // No rules of the user's: the base rules on a new cgroup leave it allowing everything.
        DevicePolicy::default()
    });

    Ok(CgroupPlan {
        mode: host.mode,
        cgroups_path: inner.display(),
        dirs,
        writes,
        devices: DevicePlan { base, policy },
        unified_controllers,
    })
}

/// The device policy for `resources.devices` on top of `base`, if the resources have rules.
pub(crate) fn device_policy(
    host: &CgroupHost,
    resources: Option<&LinuxResources>,
    base: &[SourcedRule],
) -> Result<Option<DevicePolicy>, CgroupError> {
    let Some(rules) = resources.and_then(|r| r.devices().as_ref()) else {
        return Ok(None);
    };
    let mut user = Vec::with_capacity(rules.len());
    for (i, d) in rules.iter().enumerate() {
        user.push(SourcedRule {
            field: format!("linux.resources.devices[{i}]"),
            rule: devices::rule_from_spec(i, d)?,
        });
    }
    if host.mode.is_v1() && host.v1_hierarchy("devices").is_none() && !rules.is_empty() {
        return Err(CgroupError::invalid(
            "linux.resources.devices",
            "the devices controller is not mounted on this host",
        ));
    }
    DevicePolicy::from_rules(&devices::assemble(&user, base)).map(Some)
}

/// Validates and converts `resources` (without devices) for the host's mode, and checks that
/// every controller a write needs is there.
pub(crate) fn plan_writes(
    host: &CgroupHost,
    resources: &LinuxResources,
    update: bool,
) -> Result<Vec<Write>, CgroupError> {
    let resources = &super::common::zero_means_unset(resources);
    let writes = if host.mode.is_v1() {
        v1::writes(host, resources, update)?
    } else {
        v2::writes(host, resources, update)?
    };
    for w in &writes {
        match &w.target {
            Target::Controller(c) => {
                if host.v1_hierarchy(c).is_none() {
                    return Err(CgroupError::invalid(
                        &w.field,
                        format!("the {c} controller is not mounted on this host"),
                    ));
                }
            }
            Target::Unified(c) => {
                if c != "cgroup" && !host.unified_has(c) {
                    return Err(CgroupError::invalid(
                        &w.field,
                        format!("the {c} controller is not available in the cgroup2 hierarchy of this host"),
                    ));
                }
            }
        }
    }
    Ok(writes)
}

pub(crate) fn unified_controllers(writes: &[Write]) -> Vec<(String, String)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for w in writes {
        if let Target::Unified(c) = &w.target {
            if c != "cgroup" && seen.insert(c.clone()) {
                out.push((c.clone(), w.field.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::cgroups::host::{UnifiedHierarchy, V1Hierarchy};

    fn files(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// A host like the development machine: v1 controllers plus cgroup2 with hugetlb.
    pub(crate) fn hybrid_host() -> CgroupHost {
        let h = |c: &[&str], f: &[&str], own: &str| V1Hierarchy {
            controllers: c.iter().map(|s| s.to_string()).collect(),
            mount_point: PathBuf::from(format!("/sys/fs/cgroup/{}", c.join(","))),
            mount_root: "/".into(),
            own_cgroup: own.into(),
            files: files(f),
        };
        CgroupHost {
            mode: CgroupMode::Hybrid,
            v1: vec![
                h(
                    &["cpu"],
                    &[
                        "cpu.shares",
                        "cpu.cfs_quota_us",
                        "cpu.cfs_period_us",
                        "cpu.cfs_burst_us",
                        "cpu.rt_runtime_us",
                        "cpu.rt_period_us",
                        "cpu.idle",
                    ],
                    "/",
                ),
                h(&["cpuacct"], &[], "/"),
                h(&["cpuset"], &["cpuset.cpus"], "/"),
                h(
                    &["memory"],
                    &[
                        "memory.limit_in_bytes",
                        "memory.memsw.limit_in_bytes",
                        "memory.kmem.limit_in_bytes",
                        "memory.kmem.tcp.limit_in_bytes",
                    ],
                    "/process_api/abc",
                ),
                h(&["devices"], &[], "/"),
                h(&["freezer"], &[], "/"),
                h(&["blkio"], &[], "/"),
                h(&["pids"], &[], "/"),
                h(&["name=systemd"], &[], "/"),
            ],
            unified: Some(UnifiedHierarchy {
                mount_point: PathBuf::from("/sys/fs/cgroup/unified"),
                mount_root: "/".into(),
                own_cgroup: "/".into(),
                controllers: files(&["hugetlb"]),
                probe_controllers: BTreeSet::new(),
                probe_files: BTreeSet::new(),
            }),
            hugepage_sizes: vec!["2MB".into(), "1GB".into()],
            kernel: (6, 18),
        }
    }

    /// A pure v2 host like the test VM.
    pub(crate) fn v2_host() -> CgroupHost {
        CgroupHost {
            mode: CgroupMode::Unified,
            v1: vec![],
            unified: Some(UnifiedHierarchy {
                mount_point: PathBuf::from("/sys/fs/cgroup"),
                mount_root: "/".into(),
                own_cgroup: "/user.slice/session.scope".into(),
                controllers: files(&[
                    "cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc",
                ]),
                probe_controllers: BTreeSet::new(),
                probe_files: BTreeSet::new(),
            }),
            hugepage_sizes: vec!["2MB".into()],
            kernel: (6, 1),
        }
    }

    pub(crate) fn linux(json: &str) -> Linux {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn default_path_on_hybrid_follows_runc() {
        let p = plan(&hybrid_host(), "ctr", None).unwrap();
        assert_eq!(p.cgroups_path, "ctr");
        let paths: Vec<&Path> = p.dirs.iter().map(|d| d.path.as_path()).collect();
        assert!(paths.contains(&Path::new("/sys/fs/cgroup/memory/process_api/abc/ctr")));
        assert!(paths.contains(&Path::new("/sys/fs/cgroup/cpu/ctr")));
        assert!(paths.contains(&Path::new("/sys/fs/cgroup/name=systemd/ctr")));
        assert!(paths.contains(&Path::new("/sys/fs/cgroup/unified/ctr")));
        assert_eq!(p.dirs.len(), 10);
        assert!(p.writes.is_empty());
        assert_eq!(p.devices.policy, DevicePolicy::default());
    }

    #[test]
    fn absolute_path_on_v2() {
        let p = plan(
            &v2_host(),
            "ctr",
            Some(&linux(r#"{"cgroupsPath": "/a/b"}"#)),
        )
        .unwrap();
        assert_eq!(p.dirs.len(), 1);
        assert_eq!(p.dirs[0].path, Path::new("/sys/fs/cgroup/a/b"));
        let p = plan(&v2_host(), "ctr", Some(&linux(r#"{"cgroupsPath": "x"}"#))).unwrap();
        assert_eq!(p.dirs[0].path, Path::new("/sys/fs/cgroup/user.slice/x"));
    }

    #[test]
    fn plan_round_trips_through_json() {
        let l = linux(
            r#"{"resources": {"memory": {"limit": 33554432}, "pids": {"limit": 20},
                "devices": [{"allow": false, "access": "rwm"}, {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "rw"}]}}"#,
        );
        let p = plan(&v2_host(), "ctr", Some(&l)).unwrap();
        let back: CgroupPlan = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        assert!(!p.devices.policy.default_allow);
        assert_eq!(
            p.unified_controllers,
            vec![
                (
                    "memory".to_string(),
                    "linux.resources.memory.limit".to_string()
                ),
                ("pids".to_string(), "linux.resources.pids.limit".to_string())
            ]
        );
    }

    #[test]
    fn missing_controllers_are_errors_naming_the_field() {
        let l = linux(r#"{"resources": {"network": {"classID": 1048577}}}"#);
        let e = plan(&hybrid_host(), "c", Some(&l)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.network.classID: the net_cls controller is not mounted on this host"
        );
        let mut host = v2_host();
        host.unified.as_mut().unwrap().controllers.remove("pids");
        let e = plan(
            &host,
            "c",
            Some(&linux(r#"{"resources": {"pids": {"limit": 5}}}"#)),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.pids.limit: the pids controller is not available in the cgroup2 hierarchy of this host"
        );
    }

    #[test]
    fn linux_devices_are_not_allowed_by_themselves() {
        let l = linux(
            r#"{"devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}],
                "resources": {"devices": [{"allow": false, "access": "rwm"}]}}"#,
        );
        let p = plan(&hybrid_host(), "c", Some(&l)).unwrap();
        use crate::cgroups::devices::{Access, DeviceKind};
        assert!(!p
            .devices
            .policy
            .allows(DeviceKind::Char, 10, 229, Access::READ));
        assert!(p.devices.policy.allows(DeviceKind::Char, 1, 3, Access::ALL));
        assert!(!p
            .devices
            .policy
            .allows(DeviceKind::Char, 4, 1, Access::READ));
    }
}
