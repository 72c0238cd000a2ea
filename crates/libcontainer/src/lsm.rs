//! Linux security module labels of the container process. AppArmor: `process.apparmorProfile`
//! becomes the process's profile at execve (written to its `attr/apparmor/exec`, through the
//! runtime's private procfs handle, never the container's /proc). SELinux labels are refused:
//! no host minke runs on has SELinux yet, so that path could not be tested.

use std::path::Path;

use crate::rootfs::ProcFs;

/// Errors applying a label.
#[derive(Debug, thiserror::Error)]
pub enum LsmError {
    #[error("process.apparmorProfile: {profile:?} given but AppArmor is not enabled on this host")]
    NoAppArmor { profile: String },
    #[error("process.apparmorProfile: setting {profile:?} for the process's execve")]
    AppArmorExec {
        profile: String,
        #[source]
        source: nix::errno::Errno,
    },
}

/// Is AppArmor an active LSM? Its per-LSM attribute directory answers reads only then.
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/proc/self/attr/apparmor/current").is_ok()
        || std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|s| s.trim() == "Y")
}

/// Check, before anything is created, that a requested profile can be applied here.
pub fn check_apparmor(profile: Option<&str>) -> Result<(), LsmError> {
    match profile {
        Some(p) if !apparmor_enabled() => Err(LsmError::NoAppArmor {
            profile: p.to_string(),
        }),
        _ => Ok(()),
    }
}

/// Make `profile` the calling thread's AppArmor profile from its next execve on.
pub fn apparmor_exec(proc: &ProcFs, profile: &str) -> Result<(), LsmError> {
    let value = format!("exec {profile}");
    let res = proc
        .write(
            Path::new("thread-self/attr/apparmor/exec"),
            value.as_bytes(),
        )
        // Kernels before the per-LSM directories (5.8) only have attr/exec.
        .or_else(|_| proc.write(Path::new("thread-self/attr/exec"), value.as_bytes()));
    res.map_err(|source| LsmError::AppArmorExec {
        profile: profile.to_string(),
        source,
    })
}
