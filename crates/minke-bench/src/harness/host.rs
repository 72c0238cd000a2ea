//! Facts about the host recorded with every run.

use std::path::Path;

/// `uname -r`.
pub fn kernel() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// CPUs this process may use.
pub fn cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The first three fields of `/proc/loadavg` under `proc_root`.
pub fn loadavg(proc_root: &Path) -> String {
    std::fs::read_to_string(proc_root.join("loadavg"))
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// `v2`, `hybrid` or `v1`, from the layout under `cgroup_root` (`/sys/fs/cgroup`).
pub fn cgroup_mode(cgroup_root: &Path) -> &'static str {
    if cgroup_root.join("cgroup.controllers").exists() {
        "v2"
    } else if cgroup_root.join("unified/cgroup.controllers").exists() {
        "hybrid"
    } else {
        "v1"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_mode_from_layout() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(cgroup_mode(tmp.path()), "v1");
        std::fs::create_dir(tmp.path().join("unified")).unwrap();
        std::fs::write(tmp.path().join("unified/cgroup.controllers"), "").unwrap();
        assert_eq!(cgroup_mode(tmp.path()), "hybrid");
        std::fs::write(tmp.path().join("cgroup.controllers"), "").unwrap();
        assert_eq!(cgroup_mode(tmp.path()), "v2");
    }

    #[test]
    fn loadavg_takes_three_fields() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("loadavg"), "0.49 0.46 0.22 1/91 11326\n").unwrap();
        assert_eq!(loadavg(tmp.path()), "0.49 0.46 0.22");
    }
}
