//! Where a container sits in the cgroup tree, read the way an engine reads it: from
//! `/proc/<pid>/cgroup` and the host's cgroup mounts (v1, hybrid or v2). Everything takes the
//! proc root so tests can use a temp dir.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// One mounted hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// v1 controllers (and `name=...`), empty for cgroup2.
    pub controllers: Vec<String>,
    pub mountpoint: PathBuf,
}

impl Hierarchy {
    pub fn is_v2(&self) -> bool {
        self.controllers.is_empty()
    }
}

/// The host's cgroup mounts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mounts {
    pub hierarchies: Vec<Hierarchy>,
}

impl Mounts {
    /// Reads `<proc>/self/mountinfo`.
    pub fn read(proc: &Path) -> Result<Mounts> {
        let path = proc.join("self/mountinfo");
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        Ok(Mounts::parse(&text))
    }

    /// Parses mountinfo: the cgroup and cgroup2 mounts (the first mount of each hierarchy).
    pub fn parse(mountinfo: &str) -> Mounts {
        let mut hierarchies: Vec<Hierarchy> = Vec::new();
        for line in mountinfo.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            if left.len() < 5 || right.len() < 3 {
                continue;
            }
            let mountpoint = PathBuf::from(unescape(left[4]));
            let h = match right[0] {
                "cgroup2" => Hierarchy {
                    controllers: Vec::new(),
                    mountpoint,
                },
                "cgroup" => {
                    let controllers: Vec<String> = right[2]
                        .split(',')
                        .filter(|o| is_controller_option(o))
                        .map(str::to_string)
                        .collect();
                    if controllers.is_empty() {
                        continue;
                    }
                    Hierarchy {
                        controllers,
                        mountpoint,
                    }
                }
                _ => continue,
            };
            if !hierarchies.iter().any(|x| x.controllers == h.controllers) {
                hierarchies.push(h);
            }
        }
        Mounts { hierarchies }
    }

    /// Whether the host is pure cgroup v2.
    pub fn pure_v2(&self) -> bool {
        !self.hierarchies.is_empty() && self.hierarchies.iter().all(Hierarchy::is_v2)
    }

    fn v1_with(&self, controller: &str) -> Option<&Hierarchy> {
        self.hierarchies
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == controller))
    }

    fn v2(&self) -> Option<&Hierarchy> {
        self.hierarchies.iter().find(|h| h.is_v2())
    }
}

fn is_controller_option(opt: &str) -> bool {
    const NOT_CONTROLLERS: [&str; 11] = [
        "rw",
        "xattr",
        "cpuset_v2_mode",
        "favordynmods",
        "ro",
        "nosuid",
        "nodev",
        "noexec",
        "relatime",
        "clone_children",
        "noprefix",
    ];
    !NOT_CONTROLLERS.contains(&opt) && !opt.starts_with("release_agent=") && !opt.is_empty()
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v as char);
            i += 4;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// A process's cgroups: `(controllers, path)` per line of `/proc/<pid>/cgroup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub lines: Vec<(Vec<String>, String)>,
}

impl Membership {
    pub fn read(proc: &Path, pid: u32) -> Result<Membership> {
        let path = proc.join(format!("{pid}/cgroup"));
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        Ok(Membership::parse(&text))
    }

    pub fn parse(text: &str) -> Membership {
        let lines = text
            .lines()
            .filter_map(|l| {
                let mut parts = l.splitn(3, ':');
                let _id = parts.next()?;
                let ctrls = parts.next()?;
                let path = parts.next()?;
                let ctrls = if ctrls.is_empty() {
                    Vec::new()
                } else {
                    ctrls.split(',').map(str::to_string).collect()
                };
                Some((ctrls, path.to_string()))
            })
            .collect();
        Membership { lines }
    }

    /// The path in the v1 hierarchy of `controller`, or in the v2 hierarchy.
    fn path_of(&self, controllers: &[String]) -> Option<&str> {
        self.lines
            .iter()
            .find(|(c, _)| c == controllers)
            .map(|(_, p)| p.as_str())
    }
}

/// Where a controller's files for a process are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerDir {
    pub dir: PathBuf,
    pub v2: bool,
}

/// The directory holding `controller`'s files for the process with `membership`: its v1
/// hierarchy if the controller is mounted as v1, else the unified hierarchy.
pub fn controller_dir(
    mounts: &Mounts,
    membership: &Membership,
    controller: &str,
) -> Result<ControllerDir> {
    let (h, v2) = match mounts.v1_with(controller) {
        Some(h) => (h, false),
        None => match mounts.v2() {
            Some(h) => (h, true),
            None => bail!("no cgroup hierarchy has the {controller} controller"),
        },
    };
    let Some(path) = membership.path_of(&h.controllers) else {
        bail!(
            "the process is in no cgroup of the hierarchy at {}",
            h.mountpoint.display()
        );
    };
    Ok(ControllerDir {
        dir: h.mountpoint.join(path.trim_start_matches('/')),
        v2,
    })
}

/// Every directory of the process's cgroups (one per hierarchy).
pub fn all_dirs(mounts: &Mounts, membership: &Membership) -> Vec<PathBuf> {
    mounts
        .hierarchies
        .iter()
        .filter_map(|h| {
            membership
                .path_of(&h.controllers)
                .map(|p| h.mountpoint.join(p.trim_start_matches('/')))
        })
        .collect()
}

/// The limits and freezer state read from a container's cgroup files.
pub struct Files<'a> {
    pub mounts: &'a Mounts,
    pub membership: Membership,
}

impl Files<'_> {
    fn read(&self, controller: &str, v1_file: &str, v2_file: &str) -> Result<String> {
        let d = controller_dir(self.mounts, &self.membership, controller)?;
        let path = d.dir.join(if d.v2 { v2_file } else { v1_file });
        let s = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        Ok(s.trim().to_string())
    }

    /// `memory.limit_in_bytes` (v1) or `memory.max` (v2); `None` for unlimited.
    pub fn memory_limit(&self) -> Result<Option<u64>> {
        let s = self.read("memory", "memory.limit_in_bytes", "memory.max")?;
        parse_limit(&s, 1 << 62)
    }

    /// `pids.max` (`None` for "max").
    pub fn pids_limit(&self) -> Result<Option<u64>> {
        let s = self.read("pids", "pids.max", "pids.max")?;
        parse_limit(&s, u64::MAX)
    }

    /// Whether the freezer holds the cgroup frozen: v1 `freezer.state` is FROZEN, v2
    /// `cgroup.events` says `frozen 1`.
    pub fn frozen(&self) -> Result<bool> {
        let s = self.read("freezer", "freezer.state", "cgroup.events")?;
        Ok(s == "FROZEN" || s.lines().any(|l| l.trim() == "frozen 1"))
    }
}

/// A limit file's value: "max" (v2) or a v1 value at or above `unlimited_from` means none.
fn parse_limit(s: &str, unlimited_from: u64) -> Result<Option<u64>> {
    if s == "max" {
        return Ok(None);
    }
    let v: u64 = s.parse().with_context(|| format!("{s:?} is not a limit"))?;
    Ok((v < unlimited_from).then_some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
25 1 0:23 / / rw,relatime - ext4 /dev/vda rw
30 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:28 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
33 30 0:29 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
34 30 0:30 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
35 30 0:31 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
36 30 0:32 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
37 30 0:28 / /mnt/again rw,relatime - cgroup cgroup rw,memory
";

    const V2: &str = "36 25 0:32 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n";

    #[test]
    fn hybrid_mounts_are_parsed_once_per_hierarchy() {
        let m = Mounts::parse(HYBRID);
        let names: Vec<_> = m
            .hierarchies
            .iter()
            .map(|h| h.controllers.join(","))
            .collect();
        assert_eq!(
            names,
            ["cpu", "memory", "pids", "freezer", "name=systemd", ""]
        );
        assert!(!m.pure_v2());
        assert!(Mounts::parse(V2).pure_v2());
    }

    #[test]
    fn controller_dirs_follow_the_v1_hierarchy_or_fall_back_to_v2() {
        let m = Mounts::parse(HYBRID);
        let who = Membership::parse("4:memory:/ns/ctr\n8:pids:/ns/ctr\n0::/ns/ctr\n");
        let mem = controller_dir(&m, &who, "memory").unwrap();
        assert_eq!(
            mem,
            ControllerDir {
                dir: "/sys/fs/cgroup/memory/ns/ctr".into(),
                v2: false
            }
        );
        // hugetlb is only on the unified hierarchy here.
        let huge = controller_dir(&m, &who, "hugetlb").unwrap();
        assert_eq!(
            huge,
            ControllerDir {
                dir: "/sys/fs/cgroup/unified/ns/ctr".into(),
                v2: true
            }
        );
        let v2 = Mounts::parse(V2);
        let who2 = Membership::parse("0::/lane/libpod-abc\n");
        assert_eq!(
            controller_dir(&v2, &who2, "memory").unwrap().dir,
            PathBuf::from("/sys/fs/cgroup/lane/libpod-abc")
        );
        let dirs = all_dirs(&m, &who);
        assert!(dirs.contains(&PathBuf::from("/sys/fs/cgroup/pids/ns/ctr")));
        assert!(dirs.contains(&PathBuf::from("/sys/fs/cgroup/unified/ns/ctr")));
    }

    #[test]
    fn limits_and_freezer_are_read_from_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (d, f, v) in [
            ("memory/c", "memory.limit_in_bytes", "67108864\n"),
            ("pids/c", "pids.max", "32\n"),
            ("freezer/c", "freezer.state", "FROZEN\n"),
        ] {
            fs::create_dir_all(root.join(d)).unwrap();
            fs::write(root.join(d).join(f), v).unwrap();
        }
        let mounts = Mounts {
            hierarchies: ["memory", "pids", "freezer"]
                .iter()
                .map(|c| Hierarchy {
                    controllers: vec![c.to_string()],
                    mountpoint: root.join(c),
                })
                .collect(),
        };
        let files = Files {
            mounts: &mounts,
            membership: Membership::parse("1:memory:/c\n2:pids:/c\n3:freezer:/c\n"),
        };
        assert_eq!(files.memory_limit().unwrap(), Some(64 << 20));
        assert_eq!(files.pids_limit().unwrap(), Some(32));
        assert!(files.frozen().unwrap());
        fs::write(
            root.join("memory/c/memory.limit_in_bytes"),
            "9223372036854771712\n",
        )
        .unwrap();
        fs::write(root.join("pids/c/pids.max"), "max\n").unwrap();
        assert_eq!(files.memory_limit().unwrap(), None);
        assert_eq!(files.pids_limit().unwrap(), None);
    }

    #[test]
    fn mountinfo_octal_escapes_are_undone() {
        assert_eq!(unescape(r"/a\040b"), "/a b");
        assert_eq!(unescape(r"/plain"), "/plain");
    }
}
