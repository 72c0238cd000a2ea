//! The features document of the runtime spec (features.md, features-linux.md): what minke
//! implements, and nothing more. Every list here is backed by code that handles each entry,
//! and `crates/minke/tests/features.rs` checks the claims against real containers:
//!
//! - `hooks`: the six hook kinds, all run (see `hooks`).
//! - `mountOptions`: every option `rootfs::options` turns into a mount flag, propagation
//!   change or recursive attribute (filesystem data strings are not listed, as the spec asks).
//!   `idmap`, `ridmap` and `tmpcopyup` are parsed but refused at mount time, so they are not
//!   listed; `mountExtensions.idmap.enabled` is false for the same reason.
//! - `linux.namespaces`: all eight kinds, created or joined by path.
//! - `linux.capabilities`: the capabilities of the running kernel (up to `cap_last_cap`);
//!   names the kernel does not know are dropped with a warning, as runc does.
//! - `linux.cgroup`: v1 (including hybrid hosts) and v2 through the cgroupfs driver, RDMA
//!   limits on both; no systemd driver.
//! - `linux.seccomp`: `seccomp::features()` (actions, operators, libseccomp's architectures,
//!   the flags the running kernel accepts).
//! - AppArmor, SELinux, Intel RDT, memory policies and network devices: not implemented
//!   (`enabled: false`, empty lists).

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
    pub intel_rdt: Enabled,
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
            apparmor: Enabled { enabled: false },
            selinux: Enabled { enabled: false },
            intel_rdt: Enabled { enabled: false },
            memory_policy: MemoryPolicyFeatures {
                modes: vec![],
                flags: vec![],
            },
            mount_extensions: MountExtensions {
                idmap: Enabled { enabled: false },
            },
            net_devices: Enabled { enabled: false },
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
            let p = parse(o);
            assert_eq!(p.data, "", "{o} would go to the filesystem as data");
            assert!(
                p.idmap.is_none() && !p.tmpcopyup,
                "{o} is refused at mount time"
            );
        }
        // A few that must do something specific.
        assert_eq!(parse("ro").flags, flags::RDONLY);
        assert_eq!(parse("rw").cleared, flags::RDONLY);
        assert!(parse("rbind").recursive_bind);
        assert_eq!(parse("rslave").propagation, vec![flags::SLAVE | flags::REC]);
        assert!(!parse("rro").recursive.is_empty());
    }

    #[test]
    fn options_refused_at_mount_time_are_not_listed() {
        for o in ["idmap", "ridmap", "tmpcopyup", "acl", "noacl"] {
            assert!(!MOUNT_OPTIONS.contains(&o), "{o}");
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
        assert_eq!(v["linux"]["mountExtensions"]["idmap"]["enabled"], false);
        assert_eq!(v["linux"]["intelRdt"]["enabled"], false);
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
