//! Root integration tests of `libcontainer::cgroups` on the real cgroup filesystem.
//!
//! Each test plans and creates a cgroup through the public API, moves a gated busybox shell
//! into it (the shell blocks on stdin until the test has called `add_process`), checks the
//! kernel files and that the limits bite, and removes everything, also when it fails (the
//! `Fixture` guard kills its processes and destroys the cgroup on drop).
//!
//! They run on the v1 hybrid development host (`cargo test -p libcontainer --test
//! cgroups_root`) and under pure cgroup v2 in the VM lane (`make test-cgroupv2`). A check that
//! only exists in one mode says so on stderr in the other mode.

use std::fs;
use std::io::Write as _;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use libcontainer::cgroups::{
    self, Cgroup, CgroupHost, CgroupMode, FreezerState, Hierarchy, OomEvent,
};
use oci_spec::runtime::{Linux, LinuxResources};

const BUSYBOX: &str = "/bin/busybox";
const TIMEOUT: Duration = Duration::from_secs(20);

fn root_host(test: &str) -> Option<CgroupHost> {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIP {test}: needs root to create cgroups");
        return None;
    }
    let host = cgroups::detect().expect("detecting the cgroup mode");
    eprintln!("{test}: host mode {:?}", host.mode);
    Some(host)
}

fn linux(json: serde_json::Value) -> Linux {
    serde_json::from_value(json).expect("test config parses")
}

fn unique(test: &str) -> String {
    format!("minke-test-{}-{test}", std::process::id())
}

/// Enabling hugetlb on the cgroup2 mount of a hybrid host writes its root's
/// `cgroup.subtree_control`; this puts it back as it was, even when the test panics. Tests
/// that do it hold the lock so they do not undo each other.
struct HugetlbRestore {
    ctl: Option<PathBuf>,
    _lock: std::sync::MutexGuard<'static, ()>,
}

static HUGETLB_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl HugetlbRestore {
    fn new(host: &CgroupHost) -> HugetlbRestore {
        let lock = HUGETLB_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let ctl = match (&host.unified, host.mode) {
            (Some(u), CgroupMode::Hybrid) => {
                let p = u.mount_point.join("cgroup.subtree_control");
                let on = fs::read_to_string(&p)
                    .is_ok_and(|s| s.split_whitespace().any(|c| c == "hugetlb"));
                (!on).then_some(p)
            }
            _ => None,
        };
        HugetlbRestore { ctl, _lock: lock }
    }
}

impl Drop for HugetlbRestore {
    fn drop(&mut self) {
        if let Some(p) = &self.ctl {
            if let Err(e) = fs::write(p, "-hugetlb") {
                eprintln!("restoring {}: {e}", p.display());
            }
        }
    }
}

/// Polls `f` until it returns `Some` or the timeout passes.
fn poll<T>(what: &str, mut f: impl FnMut() -> Result<Option<T>>) -> Result<T> {
    let start = Instant::now();
    let mut delay = Duration::from_millis(1);
    loop {
        if let Some(v) = f()? {
            return Ok(v);
        }
        if start.elapsed() > TIMEOUT {
            bail!("timed out after {TIMEOUT:?} waiting for {what}");
        }
        thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(50));
    }
}

/// A cgroup and the processes a test put in it; cleaned up on drop.
struct Fixture {
    cg: Option<Cgroup>,
    dirs: Vec<PathBuf>,
    children: Vec<Child>,
    tmp: tempfile::TempDir,
}

impl Fixture {
    fn create(host: &CgroupHost, id: &str, l: &Linux) -> Result<Fixture> {
        let plan = cgroups::plan(host, id, Some(l))?;
        let cg = Cgroup::create(host, &plan)?;
        Ok(Fixture {
            dirs: plan.dirs.iter().map(|d| d.path.clone()).collect(),
            cg: Some(cg),
            children: Vec::new(),
            tmp: tempfile::tempdir()?,
        })
    }

    fn cg(&self) -> &Cgroup {
        self.cg.as_ref().expect("cgroup present until drop")
    }

    /// The container's directory in the hierarchy holding `controller` (v1) or the cgroup2 one.
    fn dir(&self, controller: &str) -> PathBuf {
        let cg = self.cg();
        let found = cg.paths().find(|(h, _)| match h {
            Hierarchy::V1 { .. } => h.has(controller),
            Hierarchy::Unified => cg.mode() == CgroupMode::Unified,
        });
        found
            .map(|(_, p)| p.to_path_buf())
            .unwrap_or_else(|| panic!("no directory for {controller}"))
    }

    fn read(&self, controller: &str, file: &str) -> String {
        let p = self.dir(controller).join(file);
        fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
            .trim()
            .to_string()
    }

    /// Starts `script` in busybox sh, moves it into the cgroup, then lets it run.
    fn run(&mut self, script: &str) -> Result<usize> {
        let mut child = Command::new(BUSYBOX)
            .args(["sh", "-c", &format!("read -r _gate || exit 97; {script}")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("spawning busybox")?;
        let pid = child.id() as i32;
        let added = self.cg().add_process(pid);
        let mut stdin = child.stdin.take().expect("piped stdin");
        self.children.push(child);
        added?;
        stdin.write_all(b"go\n")?;
        Ok(self.children.len() - 1)
    }

    /// Waits for child `i` to exit; returns its stdout and its wait status.
    fn finish(&mut self, i: usize) -> Result<(String, std::process::ExitStatus)> {
        let child = &mut self.children[i];
        let status = poll("the process to exit", || Ok(child.try_wait()?))?;
        let mut out = String::new();
        if let Some(mut s) = child.stdout.take() {
            std::io::Read::read_to_string(&mut s, &mut out)?;
        }
        Ok((out, status))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Kills what is left, destroys the cgroup and checks no directory remains.
    fn teardown(&mut self) -> Result<()> {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.children.clear();
        if let Some(cg) = self.cg.take() {
            let _ = cg.kill_all(libc::SIGKILL);
            poll("the cgroup to empty", || {
                Ok(cg.pids()?.is_empty().then_some(()))
            })?;
            cg.destroy()?;
        }
        for d in &self.dirs {
            ensure!(!d.exists(), "{} is left after destroy", d.display());
        }
        Ok(())
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            eprintln!("cleanup failed: {e:#}");
            if !thread::panicking() {
                panic!("cleanup failed: {e:#}");
            }
        }
    }
}

#[test]
fn detects_the_host_mode() {
    let Some(host) = root_host("detects_the_host_mode") else {
        return;
    };
    let pure_v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    if pure_v2 {
        assert_eq!(host.mode, CgroupMode::Unified);
        assert!(host
            .unified
            .as_ref()
            .unwrap()
            .controllers
            .contains("memory"));
    } else {
        assert!(host.mode.is_v1());
        assert!(host.v1_hierarchy("memory").is_some());
        assert!(host.v1_hierarchy("devices").is_some());
        assert_eq!(host.mode == CgroupMode::Hybrid, host.unified.is_some());
    }
}

#[test]
fn acceptance_values_are_in_the_files_and_destroy_cleans_every_hierarchy() -> Result<()> {
    let Some(host) = root_host("acceptance") else {
        return Ok(());
    };
    let top = unique("accept");
    let l = linux(serde_json::json!({
        "cgroupsPath": format!("/{top}/nested/ctr"),
        "resources": {
            "memory": {"limit": 33554432},
            "pids": {"limit": 20},
            "cpu": {"quota": 50000, "period": 100000},
            "devices": [
                {"allow": false, "access": "rwm"},
                {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "rw"}
            ]
        }
    }));
    let mut fx = Fixture::create(&host, "acceptance", &l)?;
    assert_eq!(
        fx.dirs.len(),
        host.v1.len() + usize::from(host.unified.is_some())
    );
    for d in &fx.dirs {
        assert!(d.ends_with(format!("{top}/nested/ctr")), "{}", d.display());
        assert!(d.is_dir());
    }
    if host.mode == CgroupMode::Unified {
        assert_eq!(fx.read("memory", "memory.max"), "33554432");
        assert_eq!(fx.read("pids", "pids.max"), "20");
        assert_eq!(fx.read("cpu", "cpu.max"), "50000 100000");
        let dir = fs::File::open(fx.dir("devices"))?;
        let progs = libcontainer::sys::bpf::query_cgroup_device(dir.as_fd())?;
        assert_eq!(progs.len(), 1, "one device filter attached");
        assert!(fx.cg().clone_into_fd().is_some());
    } else {
        assert_eq!(fx.read("memory", "memory.limit_in_bytes"), "33554432");
        assert_eq!(fx.read("pids", "pids.max"), "20");
        assert_eq!(fx.read("cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(fx.read("cpu", "cpu.cfs_period_us"), "100000");
        let list = fx.read("devices", "devices.list");
        assert!(!list.contains("a *:* rwm"), "deny-by-default: {list}");
        assert!(
            list.lines().any(|l| l == "c 1:5 rwm"),
            "/dev/zero allowed: {list}"
        );
        assert!(
            !list
                .lines()
                .any(|l| l.starts_with("c 1:3 ") && (l.contains('r') || l.contains('w'))),
            "/dev/null not readable or writable: {list}"
        );
        // Legacy v1 has no cgroup2 directory to clone into; a hybrid host does (its cgroup2
        // mount), which create uses with CLONE_INTO_CGROUP.
        assert_eq!(
            fx.cg().clone_into_fd().is_some(),
            host.mode == libcontainer::cgroups::CgroupMode::Hybrid
        );
        eprintln!(
            "acceptance: the eBPF device filter check runs only on cgroup v2 (this host is {:?})",
            host.mode
        );
    }
    let i = fx.run("echo $$")?;
    let (out, status) = fx.finish(i)?;
    assert!(status.success(), "{status:?}");
    assert!(!out.trim().is_empty());

    // The cpu quota bites: a busy loop gets throttled.
    fx.run("while true; do :; done")?;
    let (t0, u0) = (Instant::now(), cpu_usage(fx.cg())?);
    let throttled = poll("throttled periods", || {
        let t = fx.cg().stats()?.cpu.throttling;
        Ok((t.throttled_periods > 0).then_some(t))
    })?;
    // Printed for the docs, not asserted: timings are the machine's business.
    thread::sleep(Duration::from_millis(500));
    let share = (cpu_usage(fx.cg())? - u0) as f64 / t0.elapsed().as_nanos() as f64;
    eprintln!(
        "acceptance: busy loop throttled in {} of {} periods, used {share:.2} cpu (quota 0.50)",
        throttled.throttled_periods, throttled.periods
    );
    fx.teardown()?;
    for h in host
        .v1
        .iter()
        .map(|h| h.mount_point.clone())
        .chain(host.unified.iter().map(|u| u.mount_point.clone()))
    {
        assert!(
            !h.join(&top).exists(),
            "{} left behind",
            h.join(&top).display()
        );
    }
    Ok(())
}

#[test]
fn pids_limit_stops_forks() -> Result<()> {
    let Some(host) = root_host("pids") else {
        return Ok(());
    };
    let l = linux(serde_json::json!({
        "cgroupsPath": format!("/{}", unique("pids")),
        "resources": {"pids": {"limit": 5}}
    }));
    let mut fx = Fixture::create(&host, "pids", &l)?;
    fx.run("i=0; while [ $i -lt 20 ]; do sleep 1000 & i=$((i+1)); done; wait")?;
    let refused = poll("a refused fork in pids.events", || {
        let events = fx.read("pids", "pids.events");
        let max: u64 = events
            .lines()
            .find_map(|l| l.strip_prefix("max "))
            .context("pids.events has max")?
            .parse()?;
        Ok((max > 0).then_some(max))
    })?;
    let current: u64 = fx.read("pids", "pids.current").parse()?;
    assert!(current <= 5, "pids.current {current} exceeds the limit");
    eprintln!("pids: {refused} forks refused, {current} processes at the limit of 5");
    let stats = fx.cg().stats()?;
    assert_eq!(stats.pids.limit, 5);
    Ok(())
}

#[test]
fn memory_limit_oom_kills_and_the_watcher_reports_it() -> Result<()> {
    let Some(host) = root_host("oom") else {
        return Ok(());
    };
    let mut memory = serde_json::json!({"limit": 33554432});
    if host.mode.is_v1()
        && host
            .v1_hierarchy("memory")
            .is_some_and(|h| h.files.contains("memory.memsw.limit_in_bytes"))
    {
        memory["swap"] = serde_json::json!(33554432); // no escape into swap
    }
    let l = linux(serde_json::json!({
        "cgroupsPath": format!("/{}", unique("oom")),
        "resources": {"memory": memory}
    }));
    let mut fx = Fixture::create(&host, "oom", &l)?;
    let mut watcher = fx.cg().oom_events()?;
    let i = fx.run("dd if=/dev/zero of=/dev/null bs=96M count=1 2>/dev/null; echo dd=$?")?;
    let ev = watcher.wait(Some(TIMEOUT))?;
    assert!(
        matches!(ev, Some(OomEvent::Oom { .. })),
        "expected an oom event, got {ev:?}"
    );
    let (out, _) = fx.finish(i)?;
    assert_eq!(out.trim(), "dd=137", "dd was killed by SIGKILL");
    let kills = if host.mode == CgroupMode::Unified {
        fx.read("memory", "memory.events")
    } else {
        fx.read("memory", "memory.oom_control")
    };
    let n: u64 = kills
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .context("oom_kill counter")?
        .parse()?;
    assert!(n >= 1, "{kills}");
    eprintln!(
        "oom: watcher saw {ev:?}, kernel counted {n} oom kill(s), shell printed {}",
        out.trim()
    );
    Ok(())
}

fn cpu_usage(cg: &Cgroup) -> Result<u64> {
    Ok(cg.stats()?.cpu.usage.total)
}

#[test]
fn freeze_stops_progress_and_thaw_resumes_it() -> Result<()> {
    let Some(host) = root_host("freeze") else {
        return Ok(());
    };
    let l = linux(serde_json::json!({"cgroupsPath": format!("/{}", unique("freeze"))}));
    let mut fx = Fixture::create(&host, "freeze", &l)?;
    let counter = fx.path("counter");
    fx.run(&format!(
        "i=0; while true; do i=$((i+1)); echo $i > {}; done",
        counter.display()
    ))?;
    let read_counter = || -> Result<Option<u64>> {
        Ok(fs::read_to_string(&counter)
            .ok()
            .and_then(|s| s.trim().parse().ok()))
    };
    let mut before = poll("the loop to count", read_counter)?;
    assert_eq!(fx.cg().freezer_state()?, FreezerState::Thawed);

    fx.cg().freeze()?;
    assert_eq!(fx.cg().freezer_state()?, FreezerState::Frozen);
    let (c1, u1) = (fs::read_to_string(&counter)?, cpu_usage(fx.cg())?);
    // Measuring the absence of progress needs an interval; nothing waits for a state here.
    thread::sleep(Duration::from_millis(300));
    let (c2, u2) = (fs::read_to_string(&counter)?, cpu_usage(fx.cg())?);
    assert_eq!(c1, c2, "the counter moved while frozen");
    assert_eq!(u1, u2, "cpu time was used while frozen");

    fx.cg().thaw()?;
    assert_eq!(fx.cg().freezer_state()?, FreezerState::Thawed);
    // The loop may have been frozen between truncating and writing the file.
    if let Ok(v) = c2.trim().parse() {
        before = v;
    }
    let after = poll("the loop to count again", || {
        Ok(read_counter()?.filter(|v| *v > before))
    })?;
    eprintln!(
        "freeze: counter file {:?} and cpu usage {u2} ns unchanged for 300 ms while frozen; counter passed {before} to {after} after thaw",
        c2.trim()
    );
    Ok(())
}

#[test]
fn device_rules_block_a_mknod_node_and_update_replaces_them() -> Result<()> {
    let Some(host) = root_host("devices") else {
        return Ok(());
    };
    let l = linux(serde_json::json!({
        "cgroupsPath": format!("/{}", unique("devices")),
        "resources": {"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "rw"}
        ]}
    }));
    let mut fx = Fixture::create(&host, "devices", &l)?;
    let (null, zero) = (fx.path("null-node"), fx.path("zero-node"));
    for (p, minor) in [(&null, 3), (&zero, 5)] {
        nix::sys::stat::mknod(
            p.as_path(),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o666),
            nix::sys::stat::makedev(1, minor),
        )?;
    }
    let script = format!(
        "cat {n}; echo null=$?; head -c 4 {z} | wc -c; echo > {n}; echo write=$?",
        n = null.display(),
        z = zero.display()
    );
    let i = fx.run(&script)?;
    let (out, _) = fx.finish(i)?;
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["null=1", "4", "write=1"],
        "{out}"
    );

    // Update to the plain deny-all: the defaults (with /dev/null) are allowed again.
    let r: LinuxResources = serde_json::from_value(
        serde_json::json!({"devices": [{"allow": false, "access": "rwm"}]}),
    )?;
    fx.cg().update(&r)?;
    if host.mode == CgroupMode::Unified {
        let dir = fs::File::open(fx.dir("devices"))?;
        let progs = libcontainer::sys::bpf::query_cgroup_device(dir.as_fd())?;
        assert_eq!(progs.len(), 1, "the old filter was replaced, not stacked");
    } else {
        assert!(fx
            .read("devices", "devices.list")
            .lines()
            .any(|l| l == "c 1:3 rwm"));
    }
    let i = fx.run(&script)?;
    let (out, _) = fx.finish(i)?;
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["null=0", "4", "write=0"],
        "{out}"
    );
    eprintln!("devices: /dev/null node denied (cat and write failed), allowed again after update; mode {:?}", host.mode);
    Ok(())
}

#[test]
fn a_deny_that_would_cut_into_an_allowed_wildcard_is_refused_before_anything_is_made() -> Result<()>
{
    let Some(host) = root_host("hole") else {
        return Ok(());
    };
    let path = format!("/{}", unique("hole"));
    let l = linux(serde_json::json!({
        "cgroupsPath": path,
        "resources": {"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "rwm"}
        ]}
    }));
    let e = cgroups::plan(&host, "hole", Some(&l))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("linux.resources.devices[1]: cannot deny c 1:3 rwm while c *:* m is allowed"),
        "{e}"
    );
    Ok(())
}

#[test]
fn update_changes_the_files() -> Result<()> {
    let Some(host) = root_host("update") else {
        return Ok(());
    };
    let l = linux(serde_json::json!({
        "cgroupsPath": format!("/{}", unique("update")),
        "resources": {"memory": {"limit": 67108864}, "pids": {"limit": 10}, "cpu": {"shares": 512}}
    }));
    let fx = Fixture::create(&host, "update", &l)?;
    let r: LinuxResources = serde_json::from_value(serde_json::json!({
        "memory": {"limit": 33554432, "checkBeforeUpdate": true},
        "pids": {"limit": -1},
        "cpu": {"shares": 1024, "quota": 25000}
    }))?;
    fx.cg().update(&r)?;
    if host.mode == CgroupMode::Unified {
        assert_eq!(fx.read("memory", "memory.max"), "33554432");
        assert_eq!(fx.read("pids", "pids.max"), "max");
        assert_eq!(
            fx.read("cpu", "cpu.weight"),
            cgroups::cpu_shares_to_weight(1024).to_string()
        );
        assert_eq!(fx.read("cpu", "cpu.max"), "25000 100000");
    } else {
        assert_eq!(fx.read("memory", "memory.limit_in_bytes"), "33554432");
        assert_eq!(fx.read("pids", "pids.max"), "max");
        assert_eq!(fx.read("cpu", "cpu.shares"), "1024");
        assert_eq!(fx.read("cpu", "cpu.cfs_quota_us"), "25000");
    }
    // A value the host cannot apply is an error naming the field, and changes nothing.
    let bad: LinuxResources = serde_json::from_value(serde_json::json!({"pids": {"limit": -5}}))?;
    let e = fx.cg().update(&bad).unwrap_err().to_string();
    assert!(e.starts_with("linux.resources.pids.limit: "), "{e}");
    assert_eq!(fx.read("pids", "pids.max"), "max");
    Ok(())
}

#[test]
fn default_path_and_membership_follow_runc() -> Result<()> {
    let Some(host) = root_host("default") else {
        return Ok(());
    };
    let id = unique("default");
    let plan = cgroups::plan(&host, &id, None)?;
    let own = fs::read_to_string("/proc/self/cgroup")?;
    for d in &plan.dirs {
        assert!(d.path.ends_with(&id), "{}", d.path.display());
    }
    let mut fx = Fixture::create(&host, &id, &Linux::default())?;
    let i = fx.run("cat /proc/self/cgroup")?;
    let (out, _) = fx.finish(i)?;
    for line in out.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (
            parts.next(),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        // Every hierarchy this process's parent is in has the container's directory...
        assert!(path.ends_with(&id), "not in the container cgroup: {line}");
        // ...below where runc puts it: the own cgroup (v1) or its parent (pure v2).
        let parent_own = own
            .lines()
            .find(|l| l.split(':').nth(1) == Some(ctrls))
            .and_then(|l| l.splitn(3, ':').nth(2))
            .context("own cgroup line")?;
        let base = if host.mode == CgroupMode::Unified {
            Path::new(parent_own)
                .parent()
                .unwrap_or(Path::new("/"))
                .to_path_buf()
        } else {
            PathBuf::from(parent_own)
        };
        assert_eq!(Path::new(path), base.join(&id), "{line}");
    }
    Ok(())
}

#[test]
fn destroy_keeps_directories_it_did_not_make() -> Result<()> {
    let Some(host) = root_host("keep") else {
        return Ok(());
    };
    let top = unique("keep");
    let mounts: Vec<PathBuf> = host
        .v1
        .iter()
        .map(|h| h.mount_point.clone())
        .chain(host.unified.iter().map(|u| u.mount_point.clone()))
        .collect();
    for m in &mounts {
        fs::create_dir(m.join(&top))?;
    }
    let result = (|| -> Result<()> {
        let l = linux(serde_json::json!({"cgroupsPath": format!("/{top}/ctr")}));
        let mut fx = Fixture::create(&host, "keep", &l)?;
        let saved = fx.cg().saved();
        for d in &saved.dirs {
            assert_eq!(d.created, vec![d.path.clone()], "only the leaf was made");
        }
        fx.teardown()?;
        for m in &mounts {
            assert!(
                m.join(&top).is_dir(),
                "{} was removed",
                m.join(&top).display()
            );
        }
        Ok(())
    })();
    for m in &mounts {
        fs::remove_dir(m.join(&top))?;
    }
    result
}

#[test]
fn kill_all_signals_every_process_and_pids_lists_them() -> Result<()> {
    let Some(host) = root_host("killall") else {
        return Ok(());
    };
    let l = linux(serde_json::json!({"cgroupsPath": format!("/{}", unique("killall"))}));
    let mut fx = Fixture::create(&host, "killall", &l)?;
    let i = fx.run("sleep 1000 & sleep 1000 & echo started; wait")?;
    let pids = poll("three processes", || {
        let p = fx.cg().pids()?;
        Ok((p.len() == 3).then_some(p))
    })?;
    assert!(pids.contains(&(fx.children[i].id() as i32)));
    fx.cg().kill_all(libc::SIGKILL)?;
    poll("the cgroup to empty", || {
        Ok(fx.cg().pids()?.is_empty().then_some(()))
    })?;
    let (_, status) = fx.finish(i)?;
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    eprintln!(
        "kill_all: {} processes killed via {}",
        pids.len(),
        if host.mode == CgroupMode::Unified {
            "cgroup.kill"
        } else {
            "freeze + kill + thaw"
        }
    );
    Ok(())
}

#[test]
fn stats_have_the_runc_events_shape() -> Result<()> {
    let Some(host) = root_host("stats") else {
        return Ok(());
    };
    let l = linux(serde_json::json!({
        "cgroupsPath": format!("/{}", unique("stats")),
        "resources": {"memory": {"limit": 67108864}, "pids": {"limit": 50}}
    }));
    let mut fx = Fixture::create(&host, "stats", &l)?;
    let data = fx.path("data");
    fx.run(&format!(
        "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; head -c 1048576 /dev/zero > {}; sleep 1000",
        data.display()
    ))?;
    // cpu time and page cache charged to the cgroup
    poll("some cpu time and memory", || {
        let s = fx.cg().stats()?;
        Ok((s.cpu.usage.total > 0 && s.memory.usage.usage > 0).then_some(()))
    })?;
    let s = fx.cg().stats()?;
    let json = serde_json::to_value(&s)?;
    for key in [
        "cpu",
        "cpuset",
        "memory",
        "pids",
        "blkio",
        "hugetlb",
        "intel_rdt",
        "network_interfaces",
    ] {
        assert!(json.get(key).is_some(), "missing {key}: {json}");
    }
    assert_eq!(s.memory.usage.limit, 67108864);
    assert!(s.memory.usage.usage > 0);
    assert!(s.pids.current >= 1);
    assert_eq!(s.pids.limit, 50);
    assert!(!s.memory.raw.is_empty());
    eprintln!("stats: {}", serde_json::to_string(&json)?);
    Ok(())
}

#[test]
fn hugetlb_limits_land_where_the_host_has_hugetlb() -> Result<()> {
    let Some(host) = root_host("hugetlb") else {
        return Ok(());
    };
    if !host.hugepage_sizes.iter().any(|s| s == "2MB") {
        eprintln!("SKIP hugetlb: the kernel has no 2MB huge pages");
        return Ok(());
    }
    let where_ = if host.v1_hierarchy("hugetlb").is_some() {
        "v1"
    } else if host.unified_has("hugetlb") {
        "cgroup2"
    } else {
        eprintln!("SKIP hugetlb: no hugetlb controller on this host");
        return Ok(());
    };
    let _restore = HugetlbRestore::new(&host);
    let result = (|| -> Result<()> {
        let l = linux(serde_json::json!({
            "cgroupsPath": format!("/{}", unique("hugetlb")),
            "resources": {"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}
        }));
        let fx = Fixture::create(&host, "hugetlb", &l)?;
        let (dir, file) = if where_ == "v1" {
            (fx.dir("hugetlb"), "hugetlb.2MB.limit_in_bytes")
        } else {
            let u = fx
                .cg()
                .paths()
                .find(|(h, _)| **h == Hierarchy::Unified)
                .map(|(_, p)| p.to_path_buf());
            (u.context("cgroup2 dir")?, "hugetlb.2MB.max")
        };
        assert_eq!(fs::read_to_string(dir.join(file))?.trim(), "4194304");
        eprintln!("hugetlb: {} = 4194304 ({where_})", dir.join(file).display());
        Ok(())
    })();
    result
}

/// The first real disk (`vd*`, `sd*`, `nvme*`, `xvd*`) as `major:minor`.
fn a_disk() -> Option<(i64, i64)> {
    let mut names: Vec<String> = fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| ["vd", "sd", "nvme", "xvd"].iter().any(|p| n.starts_with(p)))
        .collect();
    names.sort();
    let dev = fs::read_to_string(format!("/sys/block/{}/dev", names.first()?)).ok()?;
    let (ma, mi) = dev.trim().split_once(':')?;
    Some((ma.parse().ok()?, mi.parse().ok()?))
}

#[test]
fn every_resource_this_host_supports_reaches_its_file() -> Result<()> {
    let Some(host) = root_host("every") else {
        return Ok(());
    };
    let disk = a_disk();
    let mut r = serde_json::json!({
        "memory": {"limit": 67108864, "reservation": 33554432, "swap": 134217728},
        "cpu": {"shares": 512, "quota": 40000, "period": 80000, "burst": 10000, "idle": 0, "cpus": "0", "mems": "0"},
        "pids": {"limit": 7},
        "blockIO": {"weight": 300},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 8388608}]
    });
    // (hierarchy controller, file, expected content or a line it must contain)
    let mut expect: Vec<(&str, String, String)> = Vec::new();
    let mut e = |c: &'static str, f: &str, v: String| expect.push((c, f.to_string(), v));
    if let Some((ma, mi)) = disk {
        r["blockIO"]["throttleReadBpsDevice"] =
            serde_json::json!([{"major": ma, "minor": mi, "rate": 1048576}]);
        r["blockIO"]["throttleWriteBpsDevice"] =
            serde_json::json!([{"major": ma, "minor": mi, "rate": 2097152}]);
        r["blockIO"]["throttleReadIOPSDevice"] =
            serde_json::json!([{"major": ma, "minor": mi, "rate": 100}]);
        r["blockIO"]["throttleWriteIOPSDevice"] =
            serde_json::json!([{"major": ma, "minor": mi, "rate": 200}]);
    } else {
        eprintln!("every: no disk in /sys/block, block io throttling is not exercised here");
    }
    if host.mode == CgroupMode::Unified {
        r["unified"] = serde_json::json!({"memory.high": "50331648"});
        e("memory", "memory.max", "67108864".into());
        e("memory", "memory.low", "33554432".into());
        e("memory", "memory.swap.max", "67108864".into());
        e("memory", "memory.high", "50331648".into());
        e(
            "cpu",
            "cpu.weight",
            cgroups::cpu_shares_to_weight(512).to_string(),
        );
        e("cpu", "cpu.max", "40000 80000".into());
        e("cpu", "cpu.max.burst", "10000".into());
        e("cpu", "cpu.idle", "0".into());
        e("cpu", "cpuset.cpus", "0".into());
        e("cpu", "cpuset.mems", "0".into());
        e("pids", "pids.max", "7".into());
        e(
            "io",
            "io.weight",
            format!("default {}", cgroups::blkio_weight_to_io_weight(300)),
        );
        e("hugetlb", "hugetlb.2MB.max", "8388608".into());
        e("hugetlb", "hugetlb.2MB.rsvd.max", "8388608".into());
        if let Some((ma, mi)) = disk {
            e(
                "io",
                "io.max",
                format!("{ma}:{mi} rbps=1048576 wbps=2097152 riops=100 wiops=200"),
            );
        }
    } else {
        r["memory"]["kernelTCP"] = serde_json::json!(16777216);
        r["memory"]["swappiness"] = serde_json::json!(30);
        r["memory"]["disableOOMKiller"] = serde_json::json!(false);
        r["memory"]["useHierarchy"] = serde_json::json!(true);
        r["cpu"]["realtimePeriod"] = serde_json::json!(500000);
        r["cpu"]["realtimeRuntime"] = serde_json::json!(0);
        e("memory", "memory.limit_in_bytes", "67108864".into());
        e("memory", "memory.soft_limit_in_bytes", "33554432".into());
        e("memory", "memory.memsw.limit_in_bytes", "134217728".into());
        e(
            "memory",
            "memory.kmem.tcp.limit_in_bytes",
            "16777216".into(),
        );
        e("memory", "memory.swappiness", "30".into());
        e("memory", "memory.oom_control", "oom_kill_disable 0".into());
        e("memory", "memory.use_hierarchy", "1".into());
        e("cpu", "cpu.shares", "512".into());
        e("cpu", "cpu.cfs_quota_us", "40000".into());
        e("cpu", "cpu.cfs_period_us", "80000".into());
        e("cpu", "cpu.cfs_burst_us", "10000".into());
        e("cpu", "cpu.idle", "0".into());
        e("cpu", "cpu.rt_period_us", "500000".into());
        e("cpu", "cpu.rt_runtime_us", "0".into());
        e("cpuset", "cpuset.cpus", "0".into());
        e("cpuset", "cpuset.mems", "0".into());
        e("pids", "pids.max", "7".into());
        e("blkio", "blkio.bfq.weight", "300".into());
        if let Some((ma, mi)) = disk {
            e(
                "blkio",
                "blkio.throttle.read_bps_device",
                format!("{ma}:{mi} 1048576"),
            );
            e(
                "blkio",
                "blkio.throttle.write_bps_device",
                format!("{ma}:{mi} 2097152"),
            );
            e(
                "blkio",
                "blkio.throttle.read_iops_device",
                format!("{ma}:{mi} 100"),
            );
            e(
                "blkio",
                "blkio.throttle.write_iops_device",
                format!("{ma}:{mi} 200"),
            );
        }
        e("hugetlb", "hugetlb.2MB.max", "8388608".into());
    }
    // Leave out what this host's kernel does not offer (saying so), so the test also runs on
    // other machines; refusals are covered by the next test.
    let v1_has = |c: &str, names: &[&str]| {
        host.v1_hierarchy(c)
            .is_some_and(|h| names.iter().any(|n| h.mount_point.join(n).exists()))
    };
    let mut lacking: Vec<(&str, &str, &str)> = Vec::new(); // (resource group, key, file)
    if host.mode.is_v1() {
        if !v1_has("memory", &["memory.memsw.limit_in_bytes"]) {
            lacking.push(("memory", "swap", "memory.memsw.limit_in_bytes"));
        }
        if !v1_has("memory", &["memory.kmem.tcp.limit_in_bytes"]) {
            lacking.push(("memory", "kernelTCP", "memory.kmem.tcp.limit_in_bytes"));
        }
        for (key, file) in [("burst", "cpu.cfs_burst_us"), ("idle", "cpu.idle")] {
            if !v1_has("cpu", &[file]) {
                lacking.push(("cpu", key, file));
            }
        }
        if !v1_has("cpu", &["cpu.rt_runtime_us"]) {
            lacking.push(("cpu", "realtimeRuntime", "cpu.rt_runtime_us"));
            lacking.push(("cpu", "realtimePeriod", "cpu.rt_period_us"));
        }
        if !v1_has("blkio", &["blkio.weight", "blkio.bfq.weight"]) {
            lacking.push(("blockIO", "weight", "blkio.bfq.weight"));
        }
    } else {
        let u = host.unified.as_ref().context("cgroup2 mount")?;
        if !u.mount_point.join("io.cost.qos").exists() {
            lacking.push(("blockIO", "weight", "io.weight"));
        }
        for (key, file) in [("burst", "cpu.max.burst"), ("idle", "cpu.idle")] {
            if u.lacks("cpu", file) {
                lacking.push(("cpu", key, file));
            }
        }
    }
    let hugetlb = host.hugepage_sizes.iter().any(|s| s == "2MB")
        && (host.v1_hierarchy("hugetlb").is_some() || host.unified_has("hugetlb"));
    if !hugetlb {
        r.as_object_mut()
            .context("object")?
            .remove("hugepageLimits");
        expect.retain(|(c, _, _)| *c != "hugetlb");
        eprintln!("every: skipping hugepageLimits: no 2MB huge pages or no hugetlb controller");
    }
    for (group, key, file) in lacking {
        r[group].as_object_mut().context("object")?.remove(key);
        expect.retain(|(_, f, _)| f != file);
        eprintln!("every: skipping {group}.{key}: this kernel has no {file}");
    }
    let _restore = HugetlbRestore::new(&host);
    let result = (|| -> Result<()> {
        let l = linux(
            serde_json::json!({"cgroupsPath": format!("/{}", unique("every")), "resources": r}),
        );
        let fx = Fixture::create(&host, "every", &l)?;
        let unified = fx
            .cg()
            .paths()
            .find(|(h, _)| **h == Hierarchy::Unified)
            .map(|(_, p)| p.to_path_buf());
        for (c, file, want) in &expect {
            let dir = if (host.mode == CgroupMode::Unified || *c == "hugetlb")
                && host.v1_hierarchy(c).is_none()
            {
                unified.clone().context("cgroup2 dir")?
            } else {
                fx.dir(c)
            };
            let got = fs::read_to_string(dir.join(file))?;
            assert!(
                got.trim() == want || got.lines().any(|l| l.trim() == want),
                "{file}: want {want:?}, got {got:?}"
            );
        }
        eprintln!(
            "every: {} files checked in mode {:?}",
            expect.len(),
            host.mode
        );
        Ok(())
    })();
    result
}

#[test]
fn values_the_host_cannot_apply_are_errors_naming_the_field_and_leave_nothing() -> Result<()> {
    let Some(host) = root_host("refused") else {
        return Ok(());
    };
    let mut cases: Vec<(serde_json::Value, String)> = Vec::new();
    if host.mode == CgroupMode::Unified {
        for (r, field) in [
            (
                serde_json::json!({"memory": {"swappiness": 10}}),
                "linux.resources.memory.swappiness",
            ),
            (
                serde_json::json!({"memory": {"kernel": 1048576}}),
                "linux.resources.memory.kernel",
            ),
            (
                serde_json::json!({"cpu": {"realtimeRuntime": 1000}}),
                "linux.resources.cpu.realtimeRuntime",
            ),
            (
                serde_json::json!({"network": {"classID": 1}}),
                "linux.resources.network.classID",
            ),
            (
                serde_json::json!({"blockIO": {"leafWeight": 100}}),
                "linux.resources.blockIO.leafWeight",
            ),
            (
                serde_json::json!({"rdma": {"nosuchdev0": {"hcaHandles": 1}}}),
                "linux.resources.rdma.nosuchdev0",
            ),
        ] {
            cases.push((r, field.to_string()));
        }
    } else {
        cases.push((
            serde_json::json!({"unified": {"memory.high": "1G"}}),
            "linux.resources.unified".into(),
        ));
        cases.push((
            serde_json::json!({"blockIO": {"leafWeight": 100}}),
            "linux.resources.blockIO.leafWeight".into(),
        ));
        if host.v1_hierarchy("net_cls").is_none() {
            cases.push((
                serde_json::json!({"network": {"classID": 1}}),
                "linux.resources.network.classID".into(),
            ));
        }
        if host.v1_hierarchy("rdma").is_none() {
            cases.push((
                serde_json::json!({"rdma": {"mlx5_0": {"hcaHandles": 1}}}),
                "linux.resources.rdma.mlx5_0".into(),
            ));
        }
        if host.kernel >= (6, 1) {
            cases.push((
                serde_json::json!({"memory": {"kernel": 1048576}}),
                "linux.resources.memory.kernel".into(),
            ));
        }
    }
    for (i, (r, field)) in cases.iter().enumerate() {
        let top = unique(&format!("refused{i}"));
        let l = linux(serde_json::json!({"cgroupsPath": format!("/{top}/ctr"), "resources": r}));
        let err = cgroups::plan(&host, "refused", Some(&l)).and_then(|p| {
            Cgroup::create(&host, &p).map(|cg| {
                let _ = cg.destroy();
            })
        });
        let msg = match err {
            Ok(()) => bail!("{r} was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(msg.starts_with(&format!("{field}: ")), "{msg}");
        for m in host
            .v1
            .iter()
            .map(|h| &h.mount_point)
            .chain(host.unified.iter().map(|u| &u.mount_point))
        {
            assert!(
                !m.join(&top).exists(),
                "{} left after a failed create",
                m.join(&top).display()
            );
        }
        eprintln!("refused: {msg}");
    }
    Ok(())
}

#[test]
fn kill_all_keeps_a_paused_container_paused_except_for_sigkill() -> Result<()> {
    let Some(host) = root_host("paused") else {
        return Ok(());
    };
    let l = linux(serde_json::json!({"cgroupsPath": format!("/{}", unique("paused"))}));
    let mut fx = Fixture::create(&host, "paused", &l)?;
    let i = fx.run("sleep 1000 & wait")?;
    poll("two processes", || {
        Ok((fx.cg().pids()?.len() == 2).then_some(()))
    })?;
    fx.cg().freeze()?;
    fx.cg().kill_all(libc::SIGTERM)?;
    if host.mode == CgroupMode::Unified {
        // The v2 freezer lets fatal signals through: the processes die, the cgroup stays frozen.
        poll("the cgroup to empty", || {
            Ok(fx.cg().pids()?.is_empty().then_some(()))
        })?;
        poll("the empty cgroup to report frozen", || {
            Ok((fx.cg().freezer_state()? == FreezerState::Frozen).then_some(()))
        })?;
        eprintln!("paused: v2 delivered SIGTERM to frozen tasks; the cgroup stayed frozen");
    } else {
        assert_eq!(
            fx.cg().freezer_state()?,
            FreezerState::Frozen,
            "SIGTERM must not resume a paused container"
        );
        assert_eq!(
            fx.cg().pids()?.len(),
            2,
            "frozen processes cannot act on SIGTERM yet"
        );
        eprintln!("paused: v1 kept SIGTERM pending in frozen tasks; the cgroup stayed frozen");
    }
    fx.cg().kill_all(libc::SIGKILL)?;
    poll("the cgroup to empty", || {
        Ok(fx.cg().pids()?.is_empty().then_some(()))
    })?;
    let (_, status) = fx.finish(i)?;
    assert!(!status.success());
    Ok(())
}
