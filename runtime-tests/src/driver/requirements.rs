//! What a test needs from the host, declared in the registry and checked once per run.
//! An unmet requirement makes the test `skip` with the reason; it never passes.

use super::host::{CgroupMode, Host};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    Root,
    /// v1 controllers are mounted (a v1 or hybrid host)
    CgroupV1,
    /// cgroup2 is mounted at /sys/fs/cgroup (unified mode)
    CgroupV2,
    /// this v1 controller is mounted
    V1Controller(&'static str),
    /// this file exists in a child cgroup of the v1 controller
    V1File(&'static str, &'static str),
    /// this controller is available at the cgroup2 root (unified mode)
    V2Controller(&'static str),
    UserNs,
    TimeNs,
    Seccomp,
    AppArmor,
    SeLinux,
    /// the driver holds CAP_SYS_RESOURCE (raise hard rlimits, lower oom_score_adj)
    CapSysResource,
    /// a real block device for per-device blkio/io rules
    BlockDevice,
    /// a block device whose I/O scheduler is bfq (per-device weights)
    BfqDevice,
    /// a hugepage size that the hugetlb cgroup files name (2MB)
    HugePageSize(&'static str),
    KernelAtLeast(u32, u32),
    /// this path exists on the host (a device a user-namespaced runtime must bind-mount)
    HostPath(&'static str),
    Arch(&'static str),
}

impl Requirement {
    /// `Err(reason)` when the host lacks it.
    pub fn check(&self, h: &Host) -> Result<(), String> {
        let ok = |b: bool, why: String| if b { Ok(()) } else { Err(why) };
        match self {
            Requirement::Root => ok(h.euid == 0, "needs root".into()),
            Requirement::CgroupV1 => ok(
                h.cgroup_mode == CgroupMode::V1,
                "needs cgroup v1 controllers (host is not v1/hybrid)".into(),
            ),
            Requirement::CgroupV2 => ok(
                h.cgroup_mode == CgroupMode::V2,
                "needs cgroup v2 in unified mode (host is not)".into(),
            ),
            Requirement::V1Controller(c) => {
                Requirement::CgroupV1.check(h)?;
                ok(
                    h.v1_mounts.contains_key(*c),
                    format!("needs the v1 {c} controller mounted"),
                )
            }
            Requirement::V1File(c, f) => {
                Requirement::V1Controller(c).check(h)?;
                ok(
                    h.v1_child_has(c, f),
                    format!("needs {f} in v1 {c} cgroups (kernel/host lacks it)"),
                )
            }
            Requirement::V2Controller(c) => {
                Requirement::CgroupV2.check(h)?;
                ok(
                    h.v2_controllers.iter().any(|x| x == c),
                    format!("needs the {c} controller in cgroup2"),
                )
            }
            Requirement::UserNs => ok(h.user_ns, "needs user namespaces".into()),
            Requirement::TimeNs => ok(h.time_ns, "needs time namespaces (kernel >= 5.6)".into()),
            Requirement::Seccomp => ok(h.seccomp, "needs seccomp".into()),
            Requirement::AppArmor => ok(h.apparmor, "needs AppArmor enabled on the host".into()),
            Requirement::SeLinux => ok(h.selinux, "needs SELinux enabled on the host".into()),
            Requirement::CapSysResource => ok(
                h.cap_sys_resource,
                "needs CAP_SYS_RESOURCE in the driver (host limit: this sandbox drops it)".into(),
            ),
            Requirement::BlockDevice => ok(h.block_device.is_some(), "needs a block device".into()),
            Requirement::BfqDevice => ok(
                h.block_device_bfq,
                "needs a block device using the bfq I/O scheduler (host limit)".into(),
            ),
            Requirement::HugePageSize(s) => ok(
                h.hugepage_sizes.iter().any(|x| x == s),
                format!("needs {s} huge pages"),
            ),
            Requirement::KernelAtLeast(a, b) => ok(
                h.kernel >= (*a, *b),
                format!(
                    "needs kernel >= {a}.{b} (host has {}.{})",
                    h.kernel.0, h.kernel.1
                ),
            ),
            Requirement::HostPath(p) => ok(
                h.root.join(p.trim_start_matches('/')).exists(),
                format!("needs {p} on the host"),
            ),
            Requirement::Arch(a) => ok(h.arch == *a, format!("needs {a} (host is {})", h.arch)),
        }
    }
}

/// The first unmet requirement's reason.
pub fn unmet(reqs: &[Requirement], h: &Host) -> Option<String> {
    reqs.iter().find_map(|r| r.check(h).err())
}
