//! The features document of the runtime spec (features.md, features-linux.md): what minke
//! implements, and nothing more. Every list here is backed by code that handles each entry,
//! and `crates/minke/tests/features.rs` checks the claims against real containers:
//!
//! - `hooks`: the six hook kinds, all run (see `hooks`).
//! - `mountOptions`: every option `rootfs::options` turns into a mount flag, propagation
//!   change, recursive attribute, idmapping (`idmap`/`ridmap`, on bind mounts) or `tmpcopyup`
//!   (on tmpfs); filesystem data strings are not listed, as the spec asks.
//! - `linux.namespaces`: all eight kinds, created or joined by path.
//! - `linux.capabilities`: the capabilities of the running kernel (up to `cap_last_cap`);
//!   names the kernel does not know are dropped with a warning, as runc does.
//! - `linux.cgroup`: v1 (including hybrid hosts) and v2 through the cgroupfs driver, RDMA
//!   limits on both; no systemd driver.
//! - `linux.seccomp`: `seccomp::features()` (actions, operators, libseccomp's architectures,
//!   the flags the running kernel accepts).
//! - `linux.intelRdt`: resctrl classes with schemata and monitoring groups (a host without a
//!   resctrl mount refuses the field).
//! - `linux.memoryPolicy`: every mode and flag of the spec, applied with set_mempolicy (a mode
//!   the kernel is too old for is refused by it, naming the field).
//! - `linux.mountExtensions.idmap`, `linux.netDevices`: implemented.
//! - AppArmor: `enabled` when the host has AppArmor active (profiles are applied then, and
//!   refused otherwise); SELinux labels: not implemented (`enabled: false`; refused).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::seccomp::{self, SeccompFeatures};

/// The oldest and newest `ociVersion` minke accepts (any 1.x is accepted; 1.3.0 is the
/// version implemented).
pub const OCI_VERSION_MIN: &str = "1.0.0";
pub const OCI_VERSION_MAX: &str = crate::state::OCI_VERSION;

/// Hook kinds minke runs.
pub const HOOKS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// Mount options minke recognises and applies (sorted).
pub const MOUNT_OPTIONS: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "idmap",
    "iversion",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "noiversion",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "ratime",
    "rbind",
    "rdev",
    "rdiratime",
    "relatime",
    "remount",
    "rexec",
    "ridmap",
    "rnoatime",
    "rnodev",
    "rnodiratime",
    "rnoexec",
    "rnorelatime",
    "rnostrictatime",
    "rnosuid",
    "rnosymfollow",
    "ro",
    "rprivate",
    "rrelatime",
    "rro",
    "rrw",
    "rshared",
    "rslave",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "tmpcopyup",
    "unbindable",
];

/// Namespace types of `linux.namespaces` minke creates and joins.
pub const NAMESPACES: [&str; 8] = [
    "cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time",
];

/// `{"enabled": bool}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enabled {
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CgroupFeatures {
    pub v1: bool,
    pub v2: bool,
    pub systemd: bool,
    pub systemd_user: bool,
    pub rdma: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntelRdtFeatures {
    pub enabled: bool,
    pub schemata: bool,
    pub monitoring: bool,
}

/// `linux.memoryPolicy` modes minke applies.
pub const MEMORY_POLICY_MODES: [&str; 7] = [
    "MPOL_DEFAULT",
    "MPOL_BIND",
    "MPOL_INTERLEAVE",
    "MPOL_WEIGHTED_INTERLEAVE",
    "MPOL_PREFERRED",
    "MPOL_PREFERRED_MANY",
    "MPOL_LOCAL",
];

/// `linux.memoryPolicy` flags minke applies.
pub const MEMORY_POLICY_FLAGS: [&str; 3] = [
    "MPOL_F_NUMA_BALANCING",
    "MPOL_F_RELATIVE_NODES",
    "MPOL_F_STATIC_NODES",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryPolicyFeatures {
    pub modes: Vec<String>,
    pub flags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountExtensions {
    pub idmap: Enabled,
}

/// The `linux` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxFeatures {
    pub namespaces: Vec<String>,
    pub capabilities: Vec<String>,
    pub cgroup: CgroupFeatures,
    pub seccomp: SeccompFeatures,
    pub apparmor: Enabled,
    pub selinux: Enabled,
    pub intel_rdt: IntelRdtFeatures,
    pub memory_policy: MemoryPolicyFeatures,
    pub mount_extensions: MountExtensions,
    pub net_devices: Enabled,
}

/// The features document. Every property is present (the schema does not allow `null`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Features {
    pub oci_version_min: String,
    pub oci_version_max: String,
    pub hooks: Vec<String>,
    pub mount_options: Vec<String>,
    pub linux: LinuxFeatures,
    pub annotations: BTreeMap<String, String>,
}

/// The capability names of a kernel whose highest capability is `last_cap`, in number order.
pub fn capabilities(last_cap: u8) -> Vec<String> {
    let mut all: Vec<caps::Capability> = caps::all()
        .into_iter()
        .filter(|c| c.index() <= last_cap)
        .collect();
    all.sort_by_key(|c| c.index());
    all.into_iter().map(|c| c.to_string()).collect()
}

/// The document for this host (capabilities and seccomp flags follow the running kernel).
/// The caller adds its own annotations (version, commit).
pub fn features() -> Features {
    let mut annotations = BTreeMap::new();
    annotations.insert(
        "io.github.seccomp.libseccomp.version".to_string(),
        seccomp::libseccomp_version(),
    );
    Features {
        oci_version_min: OCI_VERSION_MIN.into(),
        oci_version_max: OCI_VERSION_MAX.into(),
        hooks: HOOKS.iter().map(|s| s.to_string()).collect(),
        mount_options: MOUNT_OPTIONS.iter().map(|s| s.to_string()).collect(),
        linux: LinuxFeatures {
            namespaces: NAMESPACES.iter().map(|s| s.to_string()).collect(),
            capabilities: capabilities(crate::capabilities::last_cap()),
            cgroup: CgroupFeatures {
                v1: true,
                v2: true,
                systemd: false,
                systemd_user: false,
                rdma: true,
            },
            seccomp: seccomp::features(),
            apparmor: Enabled {
                enabled: crate::lsm::apparmor_enabled(),
            },
            selinux: Enabled { enabled: false },
            intel_rdt: IntelRdtFeatures {
                enabled: true,
                schemata: true,
                monitoring: true,
            },
            memory_policy: MemoryPolicyFeatures {
                modes: MEMORY_POLICY_MODES.iter().map(|s| s.to_string()).collect(),
                flags: MEMORY_POLICY_FLAGS.iter().map(|s| s.to_string()).collect(),
            },
            mount_extensions: MountExtensions {
                idmap: Enabled { enabled: true },
            },
            net_devices: Enabled { enabled: true },
        },
        annotations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::options::{self, flags};

    fn parse(o: &str) -> options::MountOptions {
        options::parse(&[o.to_string()]).unwrap()
    }

    #[test]
    fn every_listed_mount_option_is_recognised_not_passed_as_data() {
        let mut sorted = MOUNT_OPTIONS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, MOUNT_OPTIONS, "sorted and unique");
        for o in MOUNT_OPTIONS {
            assert_eq!(parse(o).data, "", "{o} would go to the filesystem as data");
        }
        assert!(parse("idmap").idmap.is_some() && parse("ridmap").idmap.is_some());
        assert!(parse("tmpcopyup").tmpcopyup);
        // A few that must do something specific.
        assert_eq!(parse("ro").flags, flags::RDONLY);
        assert_eq!(parse("rw").cleared, flags::RDONLY);
        assert!(parse("rbind").recursive_bind);
        assert_eq!(parse("rslave").propagation, vec![flags::SLAVE | flags::REC]);
        assert!(!parse("rro").recursive.is_empty());
    }

    #[test]
    fn options_minke_does_not_know_are_not_listed() {
        for o in ["acl", "noacl"] {
            assert_eq!(parse(o).data, o, "{o} is filesystem data to minke");
            assert!(!MOUNT_OPTIONS.contains(&o), "{o}");
        }
    }

    #[test]
    fn memory_policy_names_are_the_specs() {
        for m in MEMORY_POLICY_MODES {
            serde_json::from_value::<oci_spec::runtime::MemoryPolicyModeType>(m.into())
                .unwrap_or_else(|e| panic!("{m}: {e}"));
        }
        for f in MEMORY_POLICY_FLAGS {
            serde_json::from_value::<oci_spec::runtime::MemoryPolicyFlagType>(f.into())
                .unwrap_or_else(|e| panic!("{f}: {e}"));
        }
    }

    #[test]
    fn capabilities_follow_the_kernel() {
        let c = capabilities(37);
        assert_eq!(c.first().map(String::as_str), Some("CAP_CHOWN"));
        assert_eq!(c.last().map(String::as_str), Some("CAP_AUDIT_READ"));
        assert_eq!(c.len(), 38);
        assert!(capabilities(40).contains(&"CAP_CHECKPOINT_RESTORE".to_string()));
    }

    #[test]
    fn document_shape() {
        let v = serde_json::to_value(features()).unwrap();
        assert_eq!(v["ociVersionMin"], "1.0.0");
        assert_eq!(v["ociVersionMax"], "1.3.0");
        assert_eq!(v["hooks"].as_array().unwrap().len(), 6);
        assert_eq!(v["linux"]["namespaces"].as_array().unwrap().len(), 8);
        assert_eq!(v["linux"]["cgroup"]["systemdUser"], false);
        assert_eq!(v["linux"]["mountExtensions"]["idmap"]["enabled"], true);
        assert_eq!(v["linux"]["intelRdt"]["enabled"], true);
        assert_eq!(v["linux"]["selinux"]["enabled"], false);
        assert_eq!(
            v["linux"]["memoryPolicy"]["modes"]
                .as_array()
                .unwrap()
                .len(),
            7
        );
        assert_eq!(v["linux"]["seccomp"]["enabled"], true);
        assert!(v["annotations"]["io.github.seccomp.libseccomp.version"].is_string());
        // No nulls anywhere: the schema types every property.
        fn no_nulls(v: &serde_json::Value, at: &str) {
            match v {
                serde_json::Value::Null => panic!("null at {at}"),
                serde_json::Value::Object(m) => m
                    .iter()
                    .for_each(|(k, x)| no_nulls(x, &format!("{at}.{k}"))),
                serde_json::Value::Array(a) => a.iter().for_each(|x| no_nulls(x, at)),
                _ => {}
            }
        }
        no_nulls(&v, "");
    }
}
