//! `linux.intelRdt` through the resctrl filesystem (config-linux.md "IntelRdt"): the container's
//! class of service is a directory of the resctrl mount (`closID`, or the container id), its
//! `schemata` written as the spec orders (l3CacheSchema, memBwSchema, then schemata lines), the
//! init's pid written to `tasks`, and, with `enableMonitoring`, a monitoring group. Planning is
//! pure; every file operation takes the resctrl root so tests use a temp dir.

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxIntelRdt;
use serde::{Deserialize, Serialize};

use crate::spec::InvalidSpec;

/// What to do in the resctrl filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RdtPlan {
    /// Directory name under the resctrl root ("" for the root itself, closID "/").
    pub clos: String,
    /// closID was not given: the directory is the container's own (created and removed by us).
    pub own: bool,
    /// Lines for the `schemata` file, in the order the spec requires.
    pub schemata: Vec<String>,
    pub monitoring: bool,
    /// Name of the monitoring group (the container id).
    pub mon_name: String,
}

/// What the state file keeps to undo it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedRdt {
    pub dir: PathBuf,
    /// Directories we created (removed at delete, deepest first).
    pub created: Vec<PathBuf>,
}

/// Errors touching resctrl.
#[derive(Debug, thiserror::Error)]
pub enum RdtError {
    #[error("linux.intelRdt: no resctrl filesystem is mounted on this host")]
    NoResctrl,
    #[error("linux.intelRdt.closID: {0} does not exist (a closID without schemata must name a pre-configured class)")]
    MissingClos(PathBuf),
    #[error("linux.intelRdt: the schemata of existing class {dir} differ from the config ({line:?} is not set there)")]
    Mismatch { dir: PathBuf, line: String },
    #[error("linux.intelRdt: {what} {path}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Validate and plan (pure).
pub fn plan(rdt: &LinuxIntelRdt, id: &str) -> Result<RdtPlan, InvalidSpec> {
    let mut schemata = Vec::new();
    if let Some(l3) = rdt.l3_cache_schema() {
        if l3.contains('\n') {
            return Err(InvalidSpec::new(
                "linux.intelRdt.l3CacheSchema",
                "must not contain newlines",
            ));
        }
        schemata.push(l3.clone());
    }
    if let Some(mb) = rdt.mem_bw_schema() {
        if mb.contains('\n') {
            return Err(InvalidSpec::new(
                "linux.intelRdt.memBwSchema",
                "must not contain newlines",
            ));
        }
        if !mb.starts_with("MB:") {
            return Err(InvalidSpec::new(
                "linux.intelRdt.memBwSchema",
                "must start with \"MB:\"",
            ));
        }
        schemata.push(mb.clone());
    }
    for (i, line) in rdt.schemata().iter().flatten().enumerate() {
        if line.contains('\n') {
            return Err(InvalidSpec::new(
                format!("linux.intelRdt.schemata[{i}]"),
                "must not contain newlines",
            ));
        }
        schemata.push(line.clone());
    }
    let (clos, own) = match rdt.clos_id().as_deref() {
        None | Some("") => (id.to_string(), true),
        Some("/") => (String::new(), false),
        Some(c) => {
            if c.contains('/') || c == "." || c == ".." {
                return Err(InvalidSpec::new(
                    "linux.intelRdt.closID",
                    format!("{c:?} is not a directory name"),
                ));
            }
            (c.to_string(), false)
        }
    };
    Ok(RdtPlan {
        clos,
        own,
        schemata,
        monitoring: rdt.enable_monitoring().unwrap_or(false),
        mon_name: id.to_string(),
    })
}

/// The resctrl mount point in a mountinfo text, if any (pure).
pub fn find_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        if post.split(' ').next() != Some("resctrl") {
            return None;
        }
        pre.split(' ').nth(4).map(PathBuf::from)
    })
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> RdtError + 'a {
    move |source| RdtError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// Set up the class (and monitoring group) under `root` and put `pid` in it.
pub fn apply(root: &Path, plan: &RdtPlan, pid: i32) -> Result<SavedRdt, RdtError> {
    let dir = root.join(&plan.clos);
    let mut created = Vec::new();
    if !dir.is_dir() {
        if !plan.own && plan.schemata.is_empty() {
            return Err(RdtError::MissingClos(dir));
        }
        std::fs::create_dir(&dir).map_err(io("creating", &dir))?;
        created.push(dir.clone());
    } else if !plan.own && !plan.schemata.is_empty() && created.is_empty() {
        // An existing class must already have what the config asks for.
        let current = std::fs::read_to_string(dir.join("schemata")).map_err(io("reading", &dir))?;
        let norm = |s: &str| s.replace(' ', "");
        for line in &plan.schemata {
            let want = norm(line);
            if !current.lines().any(|l| norm(l) == want) {
                return Err(RdtError::Mismatch {
                    dir: dir.clone(),
                    line: line.clone(),
                });
            }
        }
    }
    let result = (|| {
        if !created.is_empty() {
            for line in &plan.schemata {
                let f = dir.join("schemata");
                std::fs::write(&f, format!("{line}\n")).map_err(io("writing", &f))?;
            }
        }
        let tasks = dir.join("tasks");
        std::fs::write(&tasks, pid.to_string()).map_err(io("writing", &tasks))?;
        if plan.monitoring {
            let mon = dir.join("mon_groups").join(&plan.mon_name);
            std::fs::create_dir(&mon).map_err(io("creating", &mon))?;
            created.push(mon.clone());
            let t = mon.join("tasks");
            std::fs::write(&t, pid.to_string()).map_err(io("writing", &t))?;
        }
        Ok(())
    })();
    let saved = SavedRdt { dir, created };
    if let Err(e) = result {
        remove(&saved);
        return Err(e);
    }
    Ok(saved)
}

/// Remove what [`apply`] created.
pub fn remove(saved: &SavedRdt) {
    for d in saved.created.iter().rev() {
        if let Err(e) = std::fs::remove_dir(d) {
            if e.kind() != std::io::ErrorKind::NotFound {
                log::warn!("linux.intelRdt: removing {}: {e}", d.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rdt(v: serde_json::Value) -> LinuxIntelRdt {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn planning_rules() {
        let p = plan(&rdt(serde_json::json!({"l3CacheSchema": "L3:0=f", "memBwSchema": "MB:0=50", "schemata": ["L2:0=3"]})), "c1").unwrap();
        assert_eq!(p.schemata, vec!["L3:0=f", "MB:0=50", "L2:0=3"]);
        assert!(p.own);
        assert_eq!(p.clos, "c1");
        let p = plan(&rdt(serde_json::json!({"closID": "/"})), "c1").unwrap();
        assert_eq!(p.clos, "");
        assert!(!p.own);
        assert_eq!(
            plan(&rdt(serde_json::json!({"memBwSchema": "L3:0"})), "c")
                .unwrap_err()
                .path,
            "linux.intelRdt.memBwSchema"
        );
        assert_eq!(
            plan(&rdt(serde_json::json!({"closID": "a/b"})), "c")
                .unwrap_err()
                .path,
            "linux.intelRdt.closID"
        );
    }

    #[test]
    fn mount_lookup() {
        let mi = "22 1 0:20 / /sys rw - sysfs sysfs rw\n40 22 0:35 / /sys/fs/resctrl rw - resctrl resctrl rw\n";
        assert_eq!(find_mount(mi), Some(PathBuf::from("/sys/fs/resctrl")));
        assert_eq!(find_mount("22 1 0:20 / /sys rw - sysfs sysfs rw\n"), None);
    }

    #[test]
    fn apply_on_a_fake_resctrl_tree() {
        let root = tempfile::tempdir().unwrap();
        // An own class: created, schemata written in order, pid in tasks, removed after.
        let p = plan(
            &rdt(serde_json::json!({"l3CacheSchema": "L3:0=f", "enableMonitoring": true})),
            "c1",
        )
        .unwrap();
        // (The kernel makes mon_groups in every class; a plain temp dir has none.)
        let no_mon = RdtPlan {
            monitoring: false,
            ..p
        };
        let saved = apply(root.path(), &no_mon, 42).unwrap();
        assert_eq!(
            std::fs::read_to_string(root.path().join("c1/schemata")).unwrap(),
            "L3:0=f\n"
        );
        assert_eq!(
            std::fs::read_to_string(root.path().join("c1/tasks")).unwrap(),
            "42"
        );
        // In resctrl the interface files belong to the kernel and go with rmdir; a plain temp
        // dir needs them removed first.
        std::fs::remove_file(root.path().join("c1/schemata")).unwrap();
        std::fs::remove_file(root.path().join("c1/tasks")).unwrap();
        remove(&saved);
        assert!(!root.path().join("c1").exists());
        // A pre-configured class without schemata must exist.
        let p = plan(&rdt(serde_json::json!({"closID": "gold"})), "c2").unwrap();
        assert!(matches!(
            apply(root.path(), &p, 1),
            Err(RdtError::MissingClos(_))
        ));
        std::fs::create_dir(root.path().join("gold")).unwrap();
        let saved = apply(root.path(), &p, 7).unwrap();
        assert!(saved.created.is_empty());
        assert_eq!(
            std::fs::read_to_string(root.path().join("gold/tasks")).unwrap(),
            "7"
        );
        // An existing class whose schemata differ is an error.
        std::fs::write(root.path().join("gold/schemata"), "L3:0=3\n").unwrap();
        let p = plan(
            &rdt(serde_json::json!({"closID": "gold", "l3CacheSchema": "L3:0=f"})),
            "c3",
        )
        .unwrap();
        assert!(matches!(
            apply(root.path(), &p, 1),
            Err(RdtError::Mismatch { .. })
        ));
    }
}
