//! Facts about the host, gathered once before any test runs (the only probing I/O besides the
//! tests themselves). Every path is read relative to a `root` so unit tests can fake one.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// How cgroups are mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupMode {
    /// v1 controllers, maybe with a cgroup2 mount beside them (hybrid)
    V1,
    /// cgroup2 mounted at /sys/fs/cgroup
    V2,
    None,
}

#[derive(Debug, Clone)]
pub struct Host {
    pub root: PathBuf,
    pub euid: u32,
    pub cgroup_mode: CgroupMode,
    /// v1 controller (or `name=systemd`) → mount point
    pub v1_mounts: BTreeMap<String, PathBuf>,
    /// the cgroup2 mount point, also on a hybrid host
    pub v2_mount: Option<PathBuf>,
    /// controllers listed in the cgroup2 root's cgroup.controllers
    pub v2_controllers: Vec<String>,
    pub kernel: (u32, u32),
    pub arch: String,
    pub user_ns: bool,
    pub time_ns: bool,
    pub apparmor: bool,
    pub selinux: bool,
    pub seccomp: bool,
    pub cap_sys_resource: bool,
    pub cap_sys_admin: bool,
    /// major:minor of a real block device (not loop/ram/zram)
    pub block_device: Option<(u64, u64)>,
    /// whether that device's I/O scheduler is bfq (per-device weights need it)
    pub block_device_bfq: bool,
    /// hugepage sizes as the cgroup files name them (2MB, 1GB)
    pub hugepage_sizes: Vec<String>,
    /// the driver's own namespaces: `net` → `net:[4026531840]`
    pub namespaces: BTreeMap<String, String>,
    pub oom_score_adj: i32,
    pub busybox: PathBuf,
    pub busybox_applets: Vec<String>,
    /// files found in a scratch child cgroup, per v1 controller (a root cgroup lacks many)
    pub v1_child_files: BTreeMap<String, Vec<String>>,
}

impl Host {
    /// Reads the facts from the real machine.
    pub fn gather(busybox: &Path) -> Host {
        Self::gather_at(Path::new("/"), busybox)
    }

    pub fn gather_at(root: &Path, busybox: &Path) -> Host {
        let p = |rel: &str| root.join(rel.trim_start_matches('/'));
        let mountinfo = fs::read_to_string(p("/proc/self/mountinfo")).unwrap_or_default();
        let (v1_mounts, v2_mount) = cgroup_mounts(&mountinfo);
        let cgroup_mode = match &v2_mount {
            Some(m) if m == Path::new("/sys/fs/cgroup") => CgroupMode::V2,
            _ if !v1_mounts.is_empty() => CgroupMode::V1,
            _ => CgroupMode::None,
        };
        let v2_controllers = v2_mount
            .as_ref()
            .and_then(|m| {
                fs::read_to_string(p(&format!("{}/cgroup.controllers", m.display()))).ok()
            })
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        let status = fs::read_to_string(p("/proc/self/status")).unwrap_or_default();
        let field = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_string()))
                .unwrap_or_default()
        };
        let cap_eff = u64::from_str_radix(&field("CapEff:"), 16).unwrap_or(0);
        let euid = field("Uid:")
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(u32::MAX);
        let release = fs::read_to_string(p("/proc/sys/kernel/osrelease")).unwrap_or_default();
        let kernel = parse_kernel(&release);
        let mut namespaces = BTreeMap::new();
        for ns in ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"] {
            if let Ok(t) = fs::read_link(p(&format!("/proc/self/ns/{ns}"))) {
                namespaces.insert(ns.to_string(), t.to_string_lossy().into_owned());
            }
        }
        let busybox_applets = std::process::Command::new(busybox)
            .arg("--list")
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Host {
            root: root.to_path_buf(),
            euid,
            cgroup_mode,
            v1_child_files: BTreeMap::new(),
            v1_mounts,
            v2_mount,
            v2_controllers,
            kernel,
            arch: std::env::consts::ARCH.to_string(),
            user_ns: fs::read_to_string(p("/proc/sys/user/max_user_namespaces"))
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .is_some_and(|v| v > 0),
            time_ns: p("/proc/self/ns/time").exists(),
            apparmor: fs::read_to_string(p("/sys/module/apparmor/parameters/enabled"))
                .is_ok_and(|v| v.trim() == "Y"),
            selinux: p("/sys/fs/selinux/enforce").exists(),
            seccomp: !field("Seccomp:").is_empty(),
            cap_sys_resource: cap_eff & (1 << 24) != 0,
            cap_sys_admin: cap_eff & (1 << 21) != 0,
            block_device: block_device(&p("/sys/block")).map(|(d, _)| d),
            block_device_bfq: block_device(&p("/sys/block")).is_some_and(|(_, bfq)| bfq),
            hugepage_sizes: hugepage_sizes(&p("/sys/kernel/mm/hugepages")),
            namespaces,
            oom_score_adj: fs::read_to_string(p("/proc/self/oom_score_adj"))
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0),
            busybox: busybox.to_path_buf(),
            busybox_applets,
        }
    }

    /// Lists the files of a freshly made child cgroup of every v1 controller (then removes it):
    /// a root cgroup lacks files such as `blkio.bfq.weight`.
    pub fn scan_v1_child_files(&mut self, name: &str) {
        for (ctrl, mount) in &self.v1_mounts {
            let dir = mount.join(name);
            if fs::create_dir(&dir).is_err() {
                continue;
            }
            let files = fs::read_dir(&dir)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            let _ = fs::remove_dir(&dir);
            self.v1_child_files.insert(ctrl.clone(), files);
        }
    }

    pub fn v1_child_has(&self, ctrl: &str, file: &str) -> bool {
        self.v1_child_files
            .get(ctrl)
            .is_some_and(|f| f.iter().any(|x| x == file))
    }
}

fn parse_kernel(release: &str) -> (u32, u32) {
    let mut it = release.trim().split(|c: char| !c.is_ascii_digit());
    let major = it.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    let minor = it.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    (major, minor)
}

/// Parses mountinfo for cgroup mounts: v1 controller → mount point, and the cgroup2 mount.
pub fn cgroup_mounts(mountinfo: &str) -> (BTreeMap<String, PathBuf>, Option<PathBuf>) {
    let mut v1 = BTreeMap::new();
    let mut v2 = None;
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 5 || r.len() < 3 {
            continue;
        }
        let mnt = PathBuf::from(unescape(l[4]));
        match r[0] {
            "cgroup2" => {
                v2.get_or_insert(mnt);
            }
            "cgroup" => {
                for opt in r[2].split(',') {
                    let known = [
                        "cpu",
                        "cpuacct",
                        "cpuset",
                        "memory",
                        "devices",
                        "freezer",
                        "net_cls",
                        "net_prio",
                        "blkio",
                        "perf_event",
                        "hugetlb",
                        "pids",
                        "rdma",
                        "misc",
                    ];
                    if known.contains(&opt) || opt.starts_with("name=") {
                        v1.entry(opt.to_string()).or_insert_with(|| mnt.clone());
                    }
                }
            }
            _ => {}
        }
    }
    (v1, v2)
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first real block device: (major, minor) and whether its scheduler is bfq.
fn block_device(sys_block: &Path) -> Option<((u64, u64), bool)> {
    let mut names: Vec<String> = fs::read_dir(sys_block)
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("loop") && !n.starts_with("ram") && !n.starts_with("zram"))
        .collect();
    names.sort();
    let first = sys_block.join(names.first()?);
    let dev = fs::read_to_string(first.join("dev")).ok()?;
    let (a, b) = dev.trim().split_once(':')?;
    let bfq = fs::read_to_string(first.join("queue/scheduler")).is_ok_and(|s| s.contains("[bfq]"));
    Some(((a.parse().ok()?, b.parse().ok()?), bfq))
}

fn hugepage_sizes(dir: &Path) -> Vec<String> {
    let mut v: Vec<(u64, String)> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    let kb: u64 = n
                        .strip_prefix("hugepages-")?
                        .strip_suffix("kB")?
                        .parse()
                        .ok()?;
                    Some((kb, page_size_name(kb)))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v.into_iter().map(|(_, n)| n).collect()
}

/// 2048 kB → "2MB", 1048576 kB → "1GB", as the hugetlb cgroup files name them.
pub fn page_size_name(kb: u64) -> String {
    if kb >= 1 << 20 && kb & ((1 << 20) - 1) == 0 {
        format!("{}GB", kb >> 20)
    } else if kb >= 1 << 10 && kb & ((1 << 10) - 1) == 0 {
        format!("{}MB", kb >> 10)
    } else {
        format!("{kb}KB")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hybrid_cgroup_mounts() {
        let mi = "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n\
                  40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n\
                  41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n\
                  42 31 0:39 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
        let (v1, v2) = cgroup_mounts(mi);
        assert_eq!(v1["cpu"], PathBuf::from("/sys/fs/cgroup/cpu"));
        assert_eq!(v1["cpuacct"], PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(v1["name=systemd"], PathBuf::from("/sys/fs/cgroup/systemd"));
        assert_eq!(v2, Some(PathBuf::from("/sys/fs/cgroup/unified")));
    }

    #[test]
    fn names_page_sizes_like_cgroup_files() {
        assert_eq!(page_size_name(2048), "2MB");
        assert_eq!(page_size_name(1048576), "1GB");
        assert_eq!(page_size_name(64), "64KB");
    }

    #[test]
    fn unescapes_mountinfo() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/plain"), "/plain");
    }

    #[test]
    fn gathers_from_a_fake_root() {
        let d = std::env::temp_dir().join(format!("rt-host-test-{}", std::process::id()));
        let w = |rel: &str, s: &str| {
            let f = d.join(rel);
            fs::create_dir_all(f.parent().unwrap()).unwrap();
            fs::write(f, s).unwrap();
        };
        w(
            "proc/self/mountinfo",
            "1 0 0:1 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
        );
        w("sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n");
        w(
            "proc/self/status",
            "Uid:\t0\t0\t0\t0\nCapEff:\t000001ffffffffff\nSeccomp:\t0\n",
        );
        w("proc/sys/kernel/osrelease", "6.1.0-56-amd64\n");
        w("proc/sys/user/max_user_namespaces", "100\n");
        w(
            "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages",
            "0\n",
        );
        w("sys/block/vda/dev", "254:0\n");
        w("sys/block/loop0/dev", "7:0\n");
        let h = Host::gather_at(&d, Path::new("/nonexistent/busybox"));
        fs::remove_dir_all(&d).unwrap();
        assert_eq!(h.cgroup_mode, CgroupMode::V2);
        assert_eq!(h.v2_controllers, vec!["cpu", "memory", "pids"]);
        assert_eq!(h.kernel, (6, 1));
        assert!(h.user_ns && h.seccomp && h.cap_sys_resource);
        assert_eq!(h.block_device, Some((254, 0)));
        assert_eq!(h.hugepage_sizes, vec!["2MB"]);
        assert_eq!(h.euid, 0);
    }
}
