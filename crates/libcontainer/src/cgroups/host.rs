//! Host facts: which cgroup hierarchies are mounted where, which cgroup this process is in, and
//! which controllers and interface files the kernel offers. Probed once; planning is pure.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::CgroupError;

/// How the host mounts cgroups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupMode {
    /// Only v1 hierarchies.
    Legacy,
    /// v1 controller hierarchies plus a cgroup2 mount (usually `/sys/fs/cgroup/unified`).
    Hybrid,
    /// Pure cgroup v2.
    Unified,
}

impl CgroupMode {
    pub fn is_v1(self) -> bool {
        !matches!(self, CgroupMode::Unified)
    }
}

/// One mounted v1 hierarchy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct V1Hierarchy {
    /// Controllers bound to it, e.g. `["cpu", "cpuacct"]` or `["name=systemd"]`.
    pub controllers: Vec<String>,
    /// Where it is mounted (already prefixed with the probing root).
    pub mount_point: PathBuf,
    /// The cgroup the mount shows at its top (mountinfo's root field, `/` normally).
    pub mount_root: String,
    /// This process's cgroup in the hierarchy (from `/proc/self/cgroup`).
    pub own_cgroup: String,
    /// Which of [`V1_OPTIONAL_FILES`] exist at the mount point (what the kernel offers for
    /// this controller beyond the files every kernel has).
    pub files: BTreeSet<String>,
}

/// The v1 interface files whose presence the planner depends on (they come and go with kernel
/// versions and configs). They are checked by name: listing the mount point would also read
/// every sibling cgroup there, so each command would cost more the more containers the host
/// runs (measured: +3 ms per create with 600 containers).
pub const V1_OPTIONAL_FILES: &[&str] = &[
    "memory.kmem.limit_in_bytes",
    "memory.kmem.tcp.limit_in_bytes",
    "memory.memsw.limit_in_bytes",
    "cpu.cfs_burst_us",
    "cpu.rt_runtime_us",
    "cpu.idle",
];

impl V1Hierarchy {
    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }

    /// A stable key naming the hierarchy: its controllers joined with commas.
    pub fn key(&self) -> String {
        self.controllers.join(",")
    }
}

/// The cgroup2 mount (the whole tree in unified mode, the extra mount in hybrid mode).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnifiedHierarchy {
    pub mount_point: PathBuf,
    pub mount_root: String,
    pub own_cgroup: String,
    /// Controllers available at the mount point (`cgroup.controllers`).
    pub controllers: BTreeSet<String>,
    /// Controllers enabled in a non-root cgroup probed for interface files (this process's own
    /// cgroup, else the first child of the mount point). The root cgroup lacks most files, so
    /// this is how the kernel's features (cpu.idle, cpu.max.burst, memory.swap.max, ...) are
    /// seen; empty when there was no such cgroup.
    pub probe_controllers: BTreeSet<String>,
    /// Interface files of that probed cgroup.
    pub probe_files: BTreeSet<String>,
}

impl UnifiedHierarchy {
    /// Whether the probe shows that the kernel lacks `file` of `controller` (false when the
    /// probe cannot tell).
    pub fn lacks(&self, controller: &str, file: &str) -> bool {
        self.probe_controllers.contains(controller) && !self.probe_files.contains(file)
    }
}

/// A non-root cgroup below `mount_point` with controllers enabled: `own` if it is one, else
/// the first child directory.
fn probe_dir(mount_point: &Path, mount_root: &str, own: &str) -> Option<PathBuf> {
    let controllers = |d: &Path| {
        fs::read_to_string(d.join("cgroup.controllers"))
            .map(|s| {
                s.split_whitespace()
                    .map(str::to_string)
                    .collect::<BTreeSet<String>>()
            })
            .unwrap_or_default()
    };
    let own_rel = own
        .strip_prefix(mount_root)
        .unwrap_or("")
        .trim_start_matches('/');
    if !own_rel.is_empty() {
        let d = mount_point.join(own_rel);
        if !controllers(&d).is_empty() {
            return Some(d);
        }
    }
    // A child's cgroup.controllers is its parent's cgroup.subtree_control: with none enabled
    // at the top (a hybrid host's cgroup2 mount) no child has any, and otherwise every direct
    // child has the same ones, so the first child found will do. (Reading every sibling
    // cgroup would make each create cost grow with the number of containers.)
    let enabled = fs::read_to_string(mount_point.join("cgroup.subtree_control")).ok()?;
    if enabled.trim().is_empty() {
        return None;
    }
    fs::read_dir(mount_point)
        .ok()?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .find(|d| !controllers(d).is_empty())
}

/// What [`detect`] found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupHost {
    pub mode: CgroupMode,
    pub v1: Vec<V1Hierarchy>,
    pub unified: Option<UnifiedHierarchy>,
    /// Huge page sizes the kernel supports, in the `2MB`/`1GB` form used by cgroup file names.
    pub hugepage_sizes: Vec<String>,
    /// Kernel `(major, minor)` version.
    pub kernel: (u32, u32),
}

impl CgroupHost {
    /// The v1 hierarchy a controller is mounted in.
    pub fn v1_hierarchy(&self, controller: &str) -> Option<&V1Hierarchy> {
        self.v1.iter().find(|h| h.has(controller))
    }

    /// Whether the cgroup2 mount offers `controller`.
    pub fn unified_has(&self, controller: &str) -> bool {
        self.unified
            .as_ref()
            .is_some_and(|u| u.controllers.contains(controller))
    }
}

/// Probes the running host.
pub fn detect() -> Result<CgroupHost, CgroupError> {
    detect_with_root(Path::new("/"))
}

/// Like [`detect`], reading `/proc` and the cgroup mounts below `root` (a temp dir in tests).
pub fn detect_with_root(root: &Path) -> Result<CgroupHost, CgroupError> {
    let mountinfo_path = under(root, "/proc/self/mountinfo");
    let mountinfo = read(&mountinfo_path)?;
    let cgroup_path = under(root, "/proc/self/cgroup");
    let self_cgroup = read(&cgroup_path)?;
    detect_at(&mountinfo, &self_cgroup, root)
}

/// Builds the host facts from the text of `/proc/self/mountinfo` and `/proc/self/cgroup`.
/// Parsing is pure; the probes (files at each mount point, `cgroup.controllers`, huge page sizes,
/// kernel release) read below `root`, so unit tests point it at a fake cgroup tree.
pub fn detect_at(
    mountinfo: &str,
    self_cgroup: &str,
    root: &Path,
) -> Result<CgroupHost, CgroupError> {
    let mounts = parse_mountinfo(mountinfo)?;
    let own = parse_proc_cgroup(self_cgroup)?;

    let mut v1: Vec<V1Hierarchy> = Vec::new();
    let mut unified: Option<UnifiedHierarchy> = None;
    for m in &mounts {
        match m.fstype.as_str() {
            "cgroup" => {
                let controllers = v1_controllers(&m.super_opts);
                if controllers.is_empty() || v1.iter().any(|h| h.controllers == controllers) {
                    continue; // a second mount (bind) of a hierarchy we already have
                }
                let own_cgroup = own
                    .iter()
                    .find(|(ctrls, _)| ctrls.iter().any(|c| controllers.contains(c)))
                    .map(|(_, p)| p.clone())
                    .unwrap_or_else(|| "/".to_string());
                let mount_point = under(root, &m.mount_point);
                let files = V1_OPTIONAL_FILES
                    .iter()
                    .filter(|f| {
                        f.split_once('.')
                            .is_some_and(|(c, _)| controllers.iter().any(|h| h == c))
                    })
                    .filter(|f| mount_point.join(f).exists())
                    .map(|f| f.to_string())
                    .collect();
                v1.push(V1Hierarchy {
                    controllers,
                    mount_point,
                    mount_root: m.root.clone(),
                    own_cgroup,
                    files,
                });
            }
            "cgroup2" if unified.is_none() => {
                let own_cgroup = own
                    .iter()
                    .find(|(ctrls, _)| ctrls.is_empty())
                    .map(|(_, p)| p.clone())
                    .unwrap_or_else(|| "/".to_string());
                let mount_point = under(root, &m.mount_point);
                let controllers = fs::read_to_string(mount_point.join("cgroup.controllers"))
                    .map(|s| s.split_whitespace().map(str::to_string).collect())
                    .unwrap_or_default();
                let (probe_controllers, probe_files) =
                    match probe_dir(&mount_point, &m.root, &own_cgroup) {
                        Some(d) => (
                            fs::read_to_string(d.join("cgroup.controllers"))
                                .map(|s| s.split_whitespace().map(str::to_string).collect())
                                .unwrap_or_default(),
                            list_files(&d),
                        ),
                        None => (BTreeSet::new(), BTreeSet::new()),
                    };
                unified = Some(UnifiedHierarchy {
                    mount_point,
                    mount_root: m.root.clone(),
                    own_cgroup,
                    controllers,
                    probe_controllers,
                    probe_files,
                });
            }
            _ => {}
        }
    }

    let has_v1_controller = v1
        .iter()
        .any(|h| h.controllers.iter().any(|c| !c.starts_with("name=")));
    let mode = match (has_v1_controller, unified.is_some()) {
        (true, true) => CgroupMode::Hybrid,
        (true, false) => CgroupMode::Legacy,
        (false, true) => {
            // Named-only v1 hierarchies next to a full cgroup2 tree are not joined.
            v1.clear();
            CgroupMode::Unified
        }
        (false, false) => {
            return Err(CgroupError::NoCgroupFs(
                "neither cgroup v1 controllers nor cgroup2 are mounted".into(),
            ))
        }
    };

    Ok(CgroupHost {
        mode,
        v1,
        unified,
        hugepage_sizes: hugepage_sizes(&under(root, "/sys/kernel/mm/hugepages")),
        kernel: fs::read_to_string(under(root, "/proc/sys/kernel/osrelease"))
            .ok()
            .and_then(|s| parse_kernel_version(&s))
            .unwrap_or((0, 0)),
    })
}

/// `root` + an absolute path.
pub(crate) fn under(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
}

fn read(path: &Path) -> Result<String, CgroupError> {
    fs::read_to_string(path).map_err(|source| CgroupError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn list_files(dir: &Path) -> BTreeSet<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return BTreeSet::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect()
}

fn hugepage_sizes(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut sizes: Vec<(u64, String)> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|name| {
            let kb: u64 = name
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            Some((kb, hugepage_size_name(kb * 1024)))
        })
        .collect();
    sizes.sort();
    sizes.into_iter().map(|(_, n)| n).collect()
}

/// `2097152` → `2MB`, the spelling used in hugetlb file names.
pub(crate) fn hugepage_size_name(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = bytes;
    let mut unit = 0;
    while v >= 1024 && v & 1023 == 0 && unit < UNITS.len() - 1 {
        v /= 1024;
        unit += 1;
    }
    format!("{v}{}", UNITS[unit])
}

fn parse_kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.trim().split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The fields of one mountinfo line this module needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mount {
    pub root: String,
    pub mount_point: String,
    pub fstype: String,
    pub super_opts: String,
}

pub(crate) fn parse_mountinfo(text: &str) -> Result<Vec<Mount>, CgroupError> {
    let bad = |line: &str, why: &str| CgroupError::Parse {
        path: PathBuf::from("/proc/self/mountinfo"),
        reason: format!("{why} in line {line:?}"),
    };
    let mut mounts = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (left, right) = line
            .split_once(" - ")
            .ok_or_else(|| bad(line, "missing separator"))?;
        let left: Vec<&str> = left.split(' ').collect();
        if left.len() < 6 {
            return Err(bad(line, "too few fields"));
        }
        let mut right = right.split(' ');
        let fstype = right.next().ok_or_else(|| bad(line, "missing fstype"))?;
        let _source = right.next();
        let super_opts = right.next().unwrap_or("");
        mounts.push(Mount {
            root: unescape(left[3]),
            mount_point: unescape(left[4]),
            fstype: fstype.to_string(),
            super_opts: super_opts.to_string(),
        });
    }
    Ok(mounts)
}

/// Undoes mountinfo's octal escapes (`\040` for a space, ...).
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() {
            let oct = &bytes[i + 1..i + 4];
            if oct.iter().all(|b| (b'0'..=b'7').contains(b)) {
                let v = oct
                    .iter()
                    .fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
                if let Ok(v) = u8::try_from(v) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn v1_controllers(super_opts: &str) -> Vec<String> {
    const NOT_CONTROLLERS: [&str; 8] = [
        "rw",
        "ro",
        "noprefix",
        "xattr",
        "clone_children",
        "cpuset_v2_mode",
        "favordynmods",
        "none",
    ];
    super_opts
        .split(',')
        .filter(|o| {
            !o.is_empty() && !NOT_CONTROLLERS.contains(o) && !o.starts_with("release_agent=")
        })
        .map(str::to_string)
        .collect()
}

/// Parses `/proc/self/cgroup`: `(controllers, path)` per line; cgroup2's line has no controllers.
pub(crate) fn parse_proc_cgroup(text: &str) -> Result<Vec<(Vec<String>, String)>, CgroupError> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut parts = line.splitn(3, ':');
        let (Some(_id), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(CgroupError::Parse {
                path: PathBuf::from("/proc/self/cgroup"),
                reason: format!("malformed line {line:?}"),
            });
        };
        let ctrls = ctrls
            .split(',')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        out.push((ctrls, path.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const HYBRID_MOUNTINFO: &str = "\
22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    const HYBRID_CGROUP: &str = "\
9:name=systemd:/
8:pids:/
4:memory:/process_api/abc
2:cpuacct:/
1:cpu:/
0::/
";

    #[test]
    fn parses_mountinfo_fields_and_escapes() {
        let m = parse_mountinfo("36 35 0:31 /a\\040b /sys/fs/cgroup/x\\011y rw shared:1 - cgroup cgroup rw,cpu,cpuacct\n")
            .unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].root, "/a b");
        assert_eq!(m[0].mount_point, "/sys/fs/cgroup/x\ty");
        assert_eq!(m[0].fstype, "cgroup");
        assert_eq!(v1_controllers(&m[0].super_opts), vec!["cpu", "cpuacct"]);
        assert!(parse_mountinfo("garbage line").is_err());
    }

    #[test]
    fn controllers_ignore_mount_options() {
        assert_eq!(
            v1_controllers("rw,xattr,release_agent=/x,name=systemd"),
            vec!["name=systemd"]
        );
        assert_eq!(v1_controllers("rw,cpuset,cpuset_v2_mode"), vec!["cpuset"]);
    }

    #[test]
    fn parses_proc_self_cgroup() {
        let own = parse_proc_cgroup(HYBRID_CGROUP).unwrap();
        assert_eq!(
            own[2],
            (vec!["memory".to_string()], "/process_api/abc".to_string())
        );
        assert_eq!(own[5], (vec![], "/".to_string()));
        assert!(parse_proc_cgroup("nonsense").is_err());
    }

    #[test]
    fn detects_hybrid_with_own_cgroups_and_files() {
        let tmp = tempfile::tempdir().unwrap();
        let mem = tmp.path().join("sys/fs/cgroup/memory");
        fs::create_dir_all(&mem).unwrap();
        fs::write(mem.join("memory.limit_in_bytes"), "0").unwrap();
        fs::write(mem.join("memory.memsw.limit_in_bytes"), "0").unwrap();
        fs::write(mem.join("cpu.idle"), "0").unwrap(); // not this hierarchy's controller
        fs::create_dir(mem.join("some-container")).unwrap();
        let uni = tmp.path().join("sys/fs/cgroup/unified");
        fs::create_dir_all(&uni).unwrap();
        fs::write(uni.join("cgroup.controllers"), "hugetlb\n").unwrap();
        let hp = tmp.path().join("sys/kernel/mm/hugepages");
        fs::create_dir_all(hp.join("hugepages-2048kB")).unwrap();
        fs::create_dir_all(hp.join("hugepages-1048576kB")).unwrap();
        fs::create_dir_all(tmp.path().join("proc/sys/kernel")).unwrap();
        fs::write(tmp.path().join("proc/sys/kernel/osrelease"), "6.18.44-fc\n").unwrap();

        let host = detect_at(HYBRID_MOUNTINFO, HYBRID_CGROUP, tmp.path()).unwrap();
        assert_eq!(host.mode, CgroupMode::Hybrid);
        assert_eq!(host.v1.len(), 5);
        let m = host.v1_hierarchy("memory").unwrap();
        assert_eq!(m.own_cgroup, "/process_api/abc");
        assert_eq!(m.mount_point, mem);
        // Only the optional files, by name, and only the hierarchy's own.
        assert_eq!(
            m.files,
            BTreeSet::from(["memory.memsw.limit_in_bytes".to_string()])
        );
        assert_eq!(
            host.v1_hierarchy("name=systemd").unwrap().key(),
            "name=systemd"
        );
        assert!(host.unified_has("hugetlb"));
        assert!(!host.unified_has("memory"));
        assert_eq!(host.hugepage_sizes, vec!["2MB", "1GB"]);
        assert_eq!(host.kernel, (6, 18));
    }

    #[test]
    fn detects_unified_and_legacy() {
        let tmp = tempfile::tempdir().unwrap();
        let v2 = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        let host = detect_at(v2, "0::/user.slice/x.scope\n", tmp.path()).unwrap();
        assert_eq!(host.mode, CgroupMode::Unified);
        assert_eq!(
            host.unified.as_ref().unwrap().own_cgroup,
            "/user.slice/x.scope"
        );
        assert!(host.v1.is_empty());

        let legacy = "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
        let host = detect_at(legacy, "2:cpu,cpuacct:/a\n", tmp.path()).unwrap();
        assert_eq!(host.mode, CgroupMode::Legacy);
        assert_eq!(host.v1[0].key(), "cpu,cpuacct");
        assert_eq!(host.v1[0].own_cgroup, "/a");

        let err = detect_at("1 0 0:1 / / rw - ext4 /dev/vda rw\n", "", tmp.path()).unwrap_err();
        assert!(err.to_string().contains("no usable cgroup filesystem"));
    }

    #[test]
    fn v2_features_are_probed_in_a_non_root_cgroup() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("sys/fs/cgroup");
        fs::create_dir_all(root.join("user.slice/s.scope")).unwrap();
        fs::write(root.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        fs::write(
            root.join("user.slice/s.scope/cgroup.controllers"),
            "cpu memory\n",
        )
        .unwrap();
        fs::write(root.join("user.slice/s.scope/cpu.max"), "max 100000\n").unwrap();
        let v2 = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let host = detect_at(v2, "0::/user.slice/s.scope\n", tmp.path()).unwrap();
        let u = host.unified.unwrap();
        assert!(u.lacks("cpu", "cpu.idle"));
        assert!(!u.lacks("cpu", "cpu.max"));
        assert!(
            !u.lacks("pids", "pids.max"),
            "pids is not enabled there: unknown"
        );
        // No non-root cgroup with controllers: nothing is known to be missing.
        let empty = tempfile::tempdir().unwrap();
        let host = detect_at(v2, "0::/\n", empty.path()).unwrap();
        assert!(!host.unified.unwrap().lacks("cpu", "cpu.idle"));
    }

    #[test]
    fn hugepage_names() {
        assert_eq!(hugepage_size_name(64 * 1024), "64KB");
        assert_eq!(hugepage_size_name(2 * 1024 * 1024), "2MB");
        assert_eq!(hugepage_size_name(1024 * 1024 * 1024), "1GB");
        assert_eq!(parse_kernel_version("6.1.0-56-amd64"), Some((6, 1)));
    }
}
