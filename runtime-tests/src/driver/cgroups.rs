//! Finds a container's cgroup directories on the host and reads their files.

use super::host::Host;
use anyhow::{anyhow, Context, Result};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The host directories of one process's cgroups.
#[derive(Debug, Clone, Default)]
pub struct CgroupDirs {
    /// v1 controller → directory
    pub v1: BTreeMap<String, PathBuf>,
    /// the cgroup2 directory (unified mode, or the unified mount of a hybrid host)
    pub v2: Option<PathBuf>,
    /// path inside the hierarchy per controller (`""` = cgroup2), as /proc/PID/cgroup says
    pub paths: BTreeMap<String, String>,
}

/// Parses /proc/PID/cgroup lines into controller → path (`""` for the cgroup2 line).
pub fn parse_proc_cgroup(text: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for l in text.lines() {
        let mut it = l.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        if ctrls.is_empty() {
            m.insert(String::new(), path.to_string());
        } else {
            for c in ctrls.split(',') {
                m.insert(c.to_string(), path.to_string());
            }
        }
    }
    m
}

impl CgroupDirs {
    pub fn of_pid(host: &Host, pid: i32) -> Result<CgroupDirs> {
        let text = fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .with_context(|| format!("reading /proc/{pid}/cgroup"))?;
        Ok(Self::from_paths(host, parse_proc_cgroup(&text)))
    }

    pub fn from_paths(host: &Host, paths: BTreeMap<String, String>) -> CgroupDirs {
        let mut d = CgroupDirs {
            paths,
            ..Default::default()
        };
        for (c, p) in &d.paths {
            let rel = p.trim_start_matches('/');
            if c.is_empty() {
                d.v2 = host.v2_mount.as_ref().map(|m| m.join(rel));
            } else if let Some(m) = host.v1_mounts.get(c) {
                d.v1.insert(c.clone(), m.join(rel));
            }
        }
        d
    }

    /// Reads `<v1 dir of ctrl>/<file>`, trimmed.
    pub fn v1_read(&self, ctrl: &str, file: &str) -> Result<String> {
        let d = self
            .v1
            .get(ctrl)
            .ok_or_else(|| anyhow!("process is in no v1 {ctrl} cgroup"))?;
        read(&d.join(file))
    }

    /// Reads `<cgroup2 dir>/<file>`, trimmed.
    pub fn v2_read(&self, file: &str) -> Result<String> {
        let d = self
            .v2
            .as_ref()
            .ok_or_else(|| anyhow!("process is in no cgroup2 cgroup"))?;
        read(&d.join(file))
    }
}

pub fn read(p: &Path) -> Result<String> {
    Ok(fs::read_to_string(p)
        .with_context(|| format!("reading {}", p.display()))?
        .trim()
        .to_string())
}

/// Every directory that a cgroupsPath names on this host (one per v1 hierarchy, plus cgroup2).
pub fn dirs_for_path(host: &Host, cgroups_path: &str) -> Vec<PathBuf> {
    let rel = cgroups_path.trim_start_matches('/');
    let mut v: Vec<PathBuf> = host.v1_mounts.values().map(|m| m.join(rel)).collect();
    if let Some(m) = &host.v2_mount {
        v.push(m.join(rel));
    }
    v.sort();
    v.dedup();
    v
}

/// Removes a cgroup tree bottom-up (only empty cgroups can be removed; errors are ignored:
/// whatever stays is reported by the leftover checks).
pub fn remove_tree(dir: &Path) {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path());
            }
        }
    }
    let _ = fs::remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v1_and_v2_lines() {
        let m = parse_proc_cgroup("9:name=systemd:/a\n4:memory:/x/a\n2:cpu,cpuacct:/a\n0::/a\n");
        assert_eq!(m["name=systemd"], "/a");
        assert_eq!(m["memory"], "/x/a");
        assert_eq!(m["cpu"], "/a");
        assert_eq!(m["cpuacct"], "/a");
        assert_eq!(m[""], "/a");
    }
}
