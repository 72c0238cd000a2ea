//! Leaving nothing behind. The clients write outside the directories the lane gives them
//! (containerd: `/run/containerd/{s,fifo,runc}`, a `/<namespace>` cgroup; podman:
//! `/run/containers`, `/var/lib/containers/cache`, `<cgroup-parent>/conmon`; the runtimes' default
//! roots). The lane notes which of those paths exist before it starts and, at the end, removes
//! the ones it made, then reports (and clears) whatever else it left: processes, mounts,
//! cgroups. Every leftover found is a lane problem, so a leak fails the run.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::mount::{umount2, MntFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::cgroup::Mounts;
use crate::cmd::{poll, Runner};
use crate::wrapper::Call;

/// How the lane may remove a host path it made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// A directory: removed only if empty (anything in it — a shim's socket, a container's
    /// state — is a leftover, reported; or another user's, left alone).
    IfEmpty,
    /// A file the clients write there and never remove.
    File,
}

/// Host paths the clients create outside the lane's directories, deepest first. Only files the
/// clients are known to leave are removed outright, so a daemon or engine that started after the
/// lane and shares these directories loses nothing.
pub const HOST_PATHS: &[(&str, Removal)] = &[
    ("/run/containerd/s", Removal::IfEmpty),
    ("/run/containerd/fifo", Removal::IfEmpty),
    ("/run/containerd/runc", Removal::IfEmpty),
    ("/run/containerd", Removal::IfEmpty),
    ("/run/containers/networks", Removal::IfEmpty),
    ("/run/containers", Removal::IfEmpty),
    (
        "/var/lib/containers/cache/blob-info-cache-v1.boltdb",
        Removal::File,
    ),
    ("/var/lib/containers/cache", Removal::IfEmpty),
    ("/var/lib/containers", Removal::IfEmpty),
    ("/run/libpod", Removal::IfEmpty),
    ("/etc/cni/net.d/cni.lock", Removal::File),
];

/// Which of the host paths existed before the lane ran.
#[derive(Debug, Clone)]
pub struct HostSnapshot {
    existed: Vec<(PathBuf, Removal, bool)>,
}

impl HostSnapshot {
    /// Notes [`HOST_PATHS`] and the given extra paths (the runtimes' default roots).
    pub fn take(extra_roots: &[PathBuf]) -> HostSnapshot {
        let mut existed: Vec<(PathBuf, Removal, bool)> = HOST_PATHS
            .iter()
            .map(|(p, r)| (PathBuf::from(p), *r, Path::new(p).exists()))
            .collect();
        for root in extra_roots {
            existed.push((root.clone(), Removal::IfEmpty, root.exists()));
        }
        HostSnapshot { existed }
    }

    /// Removes the paths the lane made; returns the problems (a made path that could not go).
    pub fn restore(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (path, removal, existed) in &self.existed {
            if *existed || fs::symlink_metadata(path).is_err() {
                continue;
            }
            let res = match removal {
                Removal::File => fs::remove_file(path),
                Removal::IfEmpty => fs::remove_dir(path),
            };
            if let Err(e) = res {
                let what = match fs::read_dir(path) {
                    Ok(rd) => rd
                        .filter_map(|e| e.ok())
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join(", "),
                    Err(_) => String::new(),
                };
                problems.push(format!(
                    "{} left behind ({e}; holds: {what})",
                    path.display()
                ));
            }
        }
        problems
    }
}

/// Removes a directory the lane owns outright (e.g. `/run/containerd/runc/<namespace>`);
/// anything inside it is reported.
pub fn remove_owned_dir(path: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let Ok(rd) = fs::read_dir(path) else {
        return problems;
    };
    let inside: Vec<String> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if !inside.is_empty() {
        problems.push(format!(
            "{} still holds container state: {}",
            path.display(),
            inside.join(", ")
        ));
    }
    if let Err(e) = fs::remove_dir_all(path) {
        problems.push(format!("removing {}: {e}", path.display()));
    }
    problems
}

/// Containers a runtime still keeps state for. Every `create` a client issued (from the
/// wrapper's log) names an id and a root (its `--root`, or the runtime's default); a state
/// directory still there is reported and removed with `<runtime> --root R delete --force ID`.
pub fn runtime_state_leftovers(
    runner: &Runner,
    binary: &Path,
    default_root: &Path,
    calls: &[Call],
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for call in calls {
        let Some(id) = call.created_id() else {
            continue;
        };
        let root = call
            .flag("--root")
            .map_or(default_root.to_path_buf(), PathBuf::from);
        let state = root.join(id);
        if !seen.insert(state.clone()) || !state.exists() {
            continue;
        }
        problems.push(format!("runtime state left behind: {}", state.display()));
        let args = vec![
            "--root".to_string(),
            root.to_string_lossy().into_owned(),
            "delete".into(),
            "--force".into(),
            id.to_string(),
        ];
        match runner.run(&binary.to_string_lossy(), &args) {
            Ok(out) if out.success() => {}
            Ok(out) => problems.push(format!(
                "{} delete --force {id}: {}",
                binary.display(),
                out.brief()
            )),
            Err(e) => problems.push(format!("{e:#}")),
        }
    }
    problems
}

/// Console sockets the clients made for the runtime (`--console-socket` in the argv logs) and
/// left: conmon leaves its `/tmp/conmon-term.*` when the runtime's create or exec failed. Each is
/// reported and removed, with its directory if that is the shim's own (`/tmp/pty<N>`).
pub fn console_socket_leftovers(calls: &[Call]) -> Vec<String> {
    let mut problems = Vec::new();
    for call in calls {
        let Some(sock) = call.flag("--console-socket").map(PathBuf::from) else {
            continue;
        };
        if fs::symlink_metadata(&sock).is_err() {
            continue;
        }
        problems.push(format!(
            "{} left the console socket {}",
            call.caller,
            sock.display()
        ));
        let _ = fs::remove_file(&sock);
        if let Some(dir) = sock.parent() {
            let ours = dir
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("pty"));
            if ours {
                let _ = fs::remove_dir(dir);
            }
        }
    }
    problems
}

/// Processes whose command line mentions one of `markers` (the lane's temp dir, its
/// containerd namespace): shims and conmons the lane started that outlived their containers.
/// They are reported and killed by pid.
pub fn kill_leftover_processes(proc: &Path, markers: &[String]) -> Vec<String> {
    let me = std::process::id();
    let mut problems = Vec::new();
    let Ok(rd) = fs::read_dir(proc) else {
        return problems;
    };
    for entry in rd.filter_map(|e| e.ok()) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(raw) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        if markers.iter().any(|m| cmdline.contains(m.as_str())) {
            problems.push(format!("process {pid} left running: {}", cmdline.trim()));
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
    problems
}

/// Mount points under `dir` (deepest first), reported and detached.
pub fn unmount_under(mountinfo: &str, dir: &Path) -> Vec<String> {
    let mut points = mounts_under(mountinfo, dir);
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    let mut problems = Vec::new();
    for p in points {
        problems.push(format!("mount left at {}", p.display()));
        if let Err(e) = umount2(&p, MntFlags::MNT_DETACH) {
            problems.push(format!("unmounting {}: {e}", p.display()));
        }
    }
    problems
}

/// The mount points in `mountinfo` at or under `dir`.
pub fn mounts_under(mountinfo: &str, dir: &Path) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(PathBuf::from)
        .filter(|p| p.starts_with(dir))
        .collect()
}

/// The lane's cgroup subtrees (`/<containerd namespace>`, `<podman cgroup parent>`) in every
/// hierarchy: any directory in them but the expected ones (the subtree itself and
/// `expected_children`, e.g. podman's `conmon`) is a container's cgroup left behind, reported;
/// processes still in one are reported and killed (every frozen cgroup is thawed first, or
/// SIGKILL would wait); then every directory is removed.
pub fn remove_cgroup_subtrees(
    mounts: &Mounts,
    subtrees: &[String],
    expected_children: &[&str],
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut tops = Vec::new();
    for h in &mounts.hierarchies {
        for sub in subtrees {
            let top = h.mountpoint.join(sub.trim_start_matches('/'));
            if top.exists() {
                tops.push(top);
            }
        }
    }
    let mut all: Vec<(PathBuf, PathBuf)> = Vec::new();
    for top in &tops {
        let mut dirs = Vec::new();
        collect_dirs(top, &mut dirs);
        all.extend(dirs.into_iter().map(|d| (top.clone(), d)));
    }
    // Thaw everything, then kill what is left, then remove (deepest first).
    for (_, d) in &all {
        write_existing(&d.join("freezer.state"), "THAWED");
        write_existing(&d.join("cgroup.freeze"), "0");
    }
    for (top, d) in &all {
        let rel = d.strip_prefix(top).unwrap_or(d);
        let expected =
            rel.as_os_str().is_empty() || expected_children.iter().any(|c| rel == Path::new(c));
        if !expected {
            problems.push(format!("cgroup left behind: {}", d.display()));
        }
        let pids = cgroup_pids(d);
        if !pids.is_empty() {
            problems.push(format!("processes left in {}: {pids:?}", d.display()));
            for p in &pids {
                let _ = kill(Pid::from_raw(*p as i32), Signal::SIGKILL);
            }
        }
    }
    all.sort_by_key(|(_, d)| std::cmp::Reverse(d.components().count()));
    for (_, d) in &all {
        poll(Duration::from_secs(10), || {
            cgroup_pids(d).is_empty().then_some(())
        });
        if let Err(e) = fs::remove_dir(d) {
            problems.push(format!("removing cgroup {}: {e}", d.display()));
        }
    }
    problems
}

/// Writes a cgroup file if the hierarchy has it (never creates one).
fn write_existing(path: &Path, value: &str) {
    use std::io::Write;
    if let Ok(mut f) = fs::OpenOptions::new().write(true).open(path) {
        let _ = f.write_all(value.as_bytes());
    }
}

fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    out.push(dir.to_path_buf());
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.filter_map(|e| e.ok()) {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                collect_dirs(&e.path(), out);
            }
        }
    }
}

fn cgroup_pids(dir: &Path) -> Vec<u32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::Hierarchy;

    #[test]
    fn restore_removes_only_what_was_made() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old-root");
        let new_empty = dir.path().join("new-root");
        let new_full = dir.path().join("new-full");
        fs::create_dir(&old).unwrap();
        let snap = HostSnapshot {
            existed: vec![
                (old.clone(), Removal::IfEmpty, true),
                (new_empty.clone(), Removal::IfEmpty, false),
                (new_full.clone(), Removal::IfEmpty, false),
                (dir.path().join("never"), Removal::IfEmpty, false),
                (dir.path().join("new-file"), Removal::File, false),
            ],
        };
        fs::create_dir(&new_empty).unwrap();
        fs::create_dir_all(new_full.join("ctr-state")).unwrap();
        fs::write(dir.path().join("new-file"), "cache").unwrap();
        let problems = snap.restore();
        assert!(old.exists());
        assert!(!new_empty.exists());
        assert!(new_full.exists());
        assert!(!dir.path().join("new-file").exists());
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("ctr-state"), "{problems:?}");
    }

    #[test]
    fn console_sockets_left_are_reported_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let shim_dir = dir.path().join("pty123");
        fs::create_dir(&shim_dir).unwrap();
        let shim_sock = shim_dir.join("pty.sock");
        let conmon_sock = dir.path().join("conmon-term.ABC");
        fs::write(&shim_sock, "").unwrap();
        fs::write(&conmon_sock, "").unwrap();
        let log = format!(
            "containerd-shim\t --root /r create --bundle /b --console-socket {} c1\n\
             conmon\t create --bundle /b --pid-file /p --console-socket {} c2\n\
             conmon\t exec --pid-file /p --console-socket {} c3\n",
            shim_sock.display(),
            conmon_sock.display(),
            dir.path().join("conmon-term.gone").display(),
        );
        let problems = console_socket_leftovers(&crate::wrapper::parse_log(&log));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[1].starts_with("conmon left the console socket"));
        assert!(!shim_sock.exists() && !shim_dir.exists() && !conmon_sock.exists());
        assert!(dir.path().exists());
    }

    #[test]
    fn mounts_under_the_lane_dir_are_found() {
        let mi = "\
1 0 0:1 / / rw - ext4 /dev/vda rw
2 1 0:2 / /tmp/lane/podman/root/overlay rw - ext4 /dev/vda rw
3 1 0:3 / /tmp/lane-other rw - tmpfs tmpfs rw
4 1 0:4 / /tmp/lane/containerd/state/x/rootfs rw - overlay overlay rw
";
        let found = mounts_under(mi, Path::new("/tmp/lane"));
        assert_eq!(
            found,
            [
                PathBuf::from("/tmp/lane/podman/root/overlay"),
                PathBuf::from("/tmp/lane/containerd/state/x/rootfs")
            ]
        );
    }

    #[test]
    fn cgroup_subtrees_report_unexpected_children_and_go() {
        let dir = tempfile::tempdir().unwrap();
        let mnt = dir.path().join("memory");
        fs::create_dir_all(mnt.join("lane-parent/conmon")).unwrap();
        fs::create_dir_all(mnt.join("lane-parent/libpod-abc")).unwrap();
        fs::create_dir_all(mnt.join("lane-ns")).unwrap();
        let mounts = Mounts {
            hierarchies: vec![Hierarchy {
                controllers: vec!["memory".into()],
                mountpoint: mnt.clone(),
            }],
        };
        let problems = remove_cgroup_subtrees(
            &mounts,
            &["/lane-parent".into(), "/lane-ns".into(), "/absent".into()],
            &["conmon"],
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("libpod-abc"));
        assert!(!mnt.join("lane-parent").exists());
        assert!(!mnt.join("lane-ns").exists());
    }
}
