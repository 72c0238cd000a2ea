//! The benchmark's OCI bundles: a rootfs made of the static `/bin/busybox` (with `/bin/true`,
//! `/bin/sleep` and `/bin/sh` linking to it) and the config.json that `runc spec` writes,
//! adjusted to `terminal: false` and the variant's args, limits or seccomp profile.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use thiserror::Error;

/// Errors of bundle creation.
#[derive(Debug, Error)]
pub enum BundleError {
    /// A file or directory of the bundle could not be written.
    #[error("writing bundle file {path}")]
    Write {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The busybox binary could not be copied into the rootfs.
    #[error("copying {from} into the rootfs")]
    Busybox {
        /// The busybox binary.
        from: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// Which bundle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Variant {
    /// `/bin/true` with runc's default config.
    Base,
    /// `/bin/true` with memory, pids and cpu limits.
    Limits,
    /// `/bin/true` with a Docker-like seccomp profile.
    Seccomp,
    /// `/bin/sleep 86400`: a container that keeps running, for exec, state and the batch.
    Long,
}

impl Variant {
    /// Every variant.
    pub const ALL: [Variant; 4] = [
        Variant::Base,
        Variant::Limits,
        Variant::Seccomp,
        Variant::Long,
    ];

    /// A short name, used as the bundle's directory name.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Base => "base",
            Variant::Limits => "limits",
            Variant::Seccomp => "seccomp",
            Variant::Long => "long",
        }
    }

    /// Parses [`Variant::name`].
    pub fn from_name(name: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == name)
    }
}

/// Memory limit of the limits variant (`linux.resources.memory.limit`): 128 MiB.
pub const MEMORY_LIMIT: i64 = 128 << 20;
/// Pids limit of the limits variant (`linux.resources.pids.limit`).
pub const PIDS_LIMIT: i64 = 128;
/// CPU shares of the limits variant (`linux.resources.cpu.shares`).
pub const CPU_SHARES: u64 = 512;
/// CPU quota of the limits variant (`linux.resources.cpu.quota`), per period.
pub const CPU_QUOTA: i64 = 50_000;
/// CPU period of the limits variant (`linux.resources.cpu.period`).
pub const CPU_PERIOD: u64 = 100_000;

/// The config.json written by `runc spec` (runc 1.1), field for field.
pub fn runc_spec_config() -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": true,
            "user": { "uid": 0, "gid": 0 },
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": caps.clone(),
                "effective": caps.clone(),
                "permitted": caps.clone(),
                "ambient": caps
            },
            "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": true },
        "hostname": "runc",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
              "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
        ],
        "linux": {
            "resources": { "devices": [{ "allow": false, "access": "rwm" }] },
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "mount" }
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// The config.json of a variant; `seccomp` is the profile for [`Variant::Seccomp`].
pub fn config(variant: Variant, seccomp: &Value) -> Value {
    let mut config = runc_spec_config();
    config["process"]["terminal"] = json!(false);
    config["process"]["args"] = match variant {
        Variant::Long => json!(["/bin/sleep", "86400"]),
        _ => json!(["/bin/true"]),
    };
    match variant {
        Variant::Limits => {
            let resources = &mut config["linux"]["resources"];
            resources["memory"] = json!({ "limit": MEMORY_LIMIT });
            resources["pids"] = json!({ "limit": PIDS_LIMIT });
            resources["cpu"] =
                json!({ "shares": CPU_SHARES, "quota": CPU_QUOTA, "period": CPU_PERIOD });
        }
        Variant::Seccomp => config["linux"]["seccomp"] = seccomp.clone(),
        Variant::Base | Variant::Long => {}
    }
    config
}

/// Applets of busybox linked into the rootfs's `/bin`.
pub const APPLETS: &[&str] = &["true", "sleep", "sh"];
/// Empty directories created in the rootfs (mount points).
pub const DIRS: &[&str] = &["bin", "proc", "dev", "sys", "tmp", "etc"];

/// Writes a bundle at `dir` (which must not exist yet or be empty): `rootfs/` from `busybox`
/// and `config.json` from [`config`]. Returns `dir`.
pub fn write_bundle(
    dir: &Path,
    busybox: &Path,
    variant: Variant,
    seccomp: &Value,
) -> Result<PathBuf, BundleError> {
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BundleError::Write { path, source }
    };
    let rootfs = dir.join("rootfs");
    for sub in DIRS {
        let path = rootfs.join(sub);
        fs::create_dir_all(&path).map_err(write_err(&path))?;
    }
    let target = rootfs.join("bin/busybox");
    fs::copy(busybox, &target).map_err(|source| BundleError::Busybox {
        from: busybox.to_path_buf(),
        source,
    })?;
    for applet in APPLETS {
        let link = rootfs.join("bin").join(applet);
        std::os::unix::fs::symlink("busybox", &link).map_err(write_err(&link))?;
    }
    let path = dir.join("config.json");
    let text = serde_json::to_string_pretty(&config(variant, seccomp))
        .expect("a json Value always serializes");
    fs::write(&path, text).map_err(write_err(&path))?;
    Ok(dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_is_a_valid_oci_spec() {
        let profile = crate::seccomp_profile::docker_like_profile(&["read".to_string()]);
        for variant in Variant::ALL {
            let value = config(variant, &profile);
            let spec: oci_spec::runtime::Spec = serde_json::from_value(value).unwrap();
            let process = spec.process().as_ref().unwrap();
            assert_eq!(process.terminal(), Some(false));
            let args = process.args().as_ref().unwrap();
            assert_eq!(
                args[0],
                if variant == Variant::Long {
                    "/bin/sleep"
                } else {
                    "/bin/true"
                }
            );
            let linux = spec.linux().as_ref().unwrap();
            assert_eq!(linux.seccomp().is_some(), variant == Variant::Seccomp);
            let resources = linux.resources().as_ref().unwrap();
            assert_eq!(resources.memory().is_some(), variant == Variant::Limits);
        }
    }

    #[test]
    fn limits_name_the_documented_values() {
        let value = config(Variant::Limits, &json!({}));
        let r = &value["linux"]["resources"];
        assert_eq!(r["memory"]["limit"], 134_217_728);
        assert_eq!(r["pids"]["limit"], 128);
        assert_eq!(r["cpu"]["quota"], 50_000);
        assert_eq!(r["cpu"]["period"], 100_000);
        assert_eq!(r["cpu"]["shares"], 512);
    }

    #[test]
    fn variant_names_round_trip() {
        for variant in Variant::ALL {
            assert_eq!(Variant::from_name(variant.name()), Some(variant));
        }
        assert_eq!(Variant::from_name("nope"), None);
    }

    #[test]
    fn write_bundle_makes_rootfs_and_config() {
        let dir =
            std::env::temp_dir().join(format!("minke-bench-bundle-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        // Any regular file stands in for busybox here.
        let fake = std::env::current_exe().unwrap();
        write_bundle(&dir, &fake, Variant::Base, &json!({})).unwrap();
        let link = fs::read_link(dir.join("rootfs/bin/true")).unwrap();
        assert_eq!(link, Path::new("busybox"));
        assert!(dir.join("rootfs/proc").is_dir());
        let config: Value =
            serde_json::from_slice(&fs::read(dir.join("config.json")).unwrap()).unwrap();
        assert_eq!(config["process"]["args"], json!(["/bin/true"]));
        fs::remove_dir_all(&dir).unwrap();
    }
}
