//! Root integration tests of the cgroup commands (`update`, `pause`, `resume`, `ps`,
//! `events`) and of the acceptance limits, driving the real binary.
//!
//! Every behavioural test runs twice, on minke and on runc (the `Bundle.runtime` field switches
//! the binary), so an expectation is checked against the reference runtime; where runc 1.1.5
//! behaves differently on purpose, the difference is declared in [`Rt`] with its reason. The
//! tests run on the v1 hybrid development host and under pure cgroup v2 in the VM lane
//! (`make test-cgroupv2`). Every container gets its own absolute `cgroupsPath`; [`Case`]
//! deletes the containers and checks that no directory of theirs is left in any hierarchy,
//! and on failure removes what is left.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Write as _};
use std::os::fd::AsFd;
use std::os::unix::fs::{symlink, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use libcontainer::cgroups::{self, CgroupHost, CgroupMode};
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(20);
const MIB: u64 = 1 << 20;

/// A runtime under test and what it does differently, each with its reason.
struct Rt {
    name: &'static str,
    path: &'static str,
    /// Whether a user rule denying a default device (`c 1:3 rw` after deny-all) is enforced.
    /// runc 1.1.5 appends its default devices after the user's rules, so /dev/null stays
    /// allowed (measured on both hierarchies; see docs/cgroups.md "Devices").
    denies_default_devices: bool,
    /// Whether a quota-only update keeps the period of an earlier update on cgroup v2.
    /// runc 1.1.5 zeroes its saved quota and period when an update sets neither, so after
    /// such an update a quota-only one writes `cpu.max` with the default period 100000
    /// (measured in the VM lane; on v1 it writes only `cpu.cfs_quota_us`, so the kernel keeps
    /// the period).
    keeps_period_on_v2: bool,
}

const MINKE_RT: Rt = Rt {
    name: "minke",
    path: MINKE,
    denies_default_devices: true,
    keeps_period_on_v2: true,
};
const RUNC_RT: Rt = Rt {
    name: "runc",
    path: "runc",
    denies_default_devices: false,
    keeps_period_on_v2: false,
};

/// Runs a test body on minke and on runc: `name::minke` and `name::runc`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn minke() {
                super::$name(&super::MINKE_RT)
            }
            #[test]
            fn runc() {
                super::$name(&super::RUNC_RT)
            }
        }
    )*};
}

on_both!(
    acceptance_values_show_in_the_cgroup_files,
    acceptance_device_rule_blocks_dev_null,
    acceptance_pids_limit_stops_a_fork_bomb,
    acceptance_memory_limit_oom_kills_and_events_reports_it,
    acceptance_cpu_quota_throttles,
    update_changes_the_files_of_a_running_container,
    pause_and_resume_change_state_and_stop_progress,
    kill_of_a_paused_container,
    delete_force_of_a_paused_container,
    events_prints_stats_once_per_interval,
    ps_lists_the_containers_processes,
);

/// Polls `f` until it returns `Some` (20 s at most).
fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    let mut delay = Duration::from_millis(1);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "timed out after {TIMEOUT:?} waiting for {what}"
        );
        thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(50));
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A bundle for one runtime, a host directory bound at /out in the container, and the
/// cgroups of the containers it made (each at `/<prefix>-<id>`).
struct Case {
    b: Bundle,
    rt: &'static Rt,
    host: CgroupHost,
    prefix: String,
    tops: Vec<String>,
}

impl Case {
    /// A busybox bundle running `args` with CAP_MKNOD, `mknod` and `dd` applets and /out.
    fn new(rt: &'static Rt, test: &str, args: &[&str]) -> Case {
        let mut b = Bundle::new(args);
        b.runtime = rt.path.to_string();
        let rootfs = b.rootfs();
        for applet in ["mknod", "dd"] {
            symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
        }
        fs::create_dir(rootfs.join("out")).unwrap();
        let out = b.path().join("out");
        fs::create_dir(&out).unwrap();
        b.config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/out", "type": "bind", "source": out, "options": ["rbind", "rw"]
        }));
        for set in ["bounding", "effective", "permitted"] {
            b.config["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_MKNOD"));
        }
        let host = cgroups::detect().expect("detecting the cgroup mode");
        Case {
            b,
            rt,
            host,
            prefix: format!("minke-it-{}-{}-{test}", std::process::id(), rt.name),
            tops: Vec::new(),
        }
    }

    /// With the acceptance resources: memory 32M (and no swap beyond it, so the allocator
    /// cannot escape into swap), pids 20, cpu quota 50000/100000, /dev/null denied (rw).
    fn acceptance(rt: &'static Rt, test: &str, args: &[&str]) -> Case {
        let mut c = Case::new(rt, test, args);
        c.b.config["linux"]["resources"] = json!({
            "memory": {"limit": 32 * MIB, "swap": 32 * MIB},
            "pids": {"limit": 20},
            "cpu": {"quota": 50000, "period": 100000},
            "devices": [
                {"allow": false, "access": "rwm"},
                {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "rw"}
            ]
        });
        c
    }

    fn out(&self, name: &str) -> PathBuf {
        self.b.path().join("out").join(name)
    }

    fn top(&self, id: &str) -> String {
        format!("{}-{id}", self.prefix)
    }

    /// Every directory a container's cgroup could have: each hierarchy's mount point joined
    /// with its cgroupsPath.
    fn all_dirs(&self, id: &str) -> Vec<PathBuf> {
        let top = self.top(id);
        self.host
            .v1
            .iter()
            .map(|h| h.mount_point.join(&top))
            .chain(self.host.unified.iter().map(|u| u.mount_point.join(&top)))
            .collect()
    }

    /// The container's directory for `controller`.
    fn dir(&self, id: &str, controller: &str) -> PathBuf {
        let top = self.top(id);
        if self.host.mode == CgroupMode::Unified {
            return self.host.unified.as_ref().unwrap().mount_point.join(top);
        }
        self.host
            .v1_hierarchy(controller)
            .unwrap_or_else(|| panic!("no v1 hierarchy for {controller}"))
            .mount_point
            .join(top)
    }

    fn read(&self, id: &str, controller: &str, file: &str) -> String {
        let p = self.dir(id, controller).join(file);
        fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
            .trim()
            .to_string()
    }

    fn v2(&self) -> bool {
        self.host.mode == CgroupMode::Unified
    }

    /// Runs the runtime; asserts success; stdout.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.b.cmd(args);
        assert!(
            o.status.success(),
            "{} {args:?} failed: {}",
            self.rt.name,
            text(&o.stderr)
        );
        text(&o.stdout)
    }

    /// Runs the runtime; asserts failure; stderr.
    fn fails(&self, args: &[&str]) -> String {
        let o = self.b.cmd(args);
        assert!(
            !o.status.success(),
            "{} {args:?} succeeded: {}",
            self.rt.name,
            text(&o.stdout)
        );
        text(&o.stderr)
    }

    /// Sets the cgroupsPath for container `id` (before create or run).
    fn use_cgroup(&mut self, id: &str) {
        let top = self.top(id);
        self.b.config["linux"]["cgroupsPath"] = json!(format!("/{top}"));
        self.tops.push(id.to_string());
    }

    /// `create` + `start` of container `id`; its init pid.
    fn start(&mut self, id: &str) -> i64 {
        self.use_cgroup(id);
        let bundle = self.b.path().to_str().unwrap().to_string();
        self.ok(&["create", "--bundle", &bundle, id]);
        self.ok(&["start", id]);
        self.b.state(id).unwrap()["pid"].as_i64().unwrap()
    }

    /// `run` in the foreground: stdout, stderr and exit code.
    fn run(&mut self, id: &str) -> (String, String, i32) {
        self.use_cgroup(id);
        self.b.run(id)
    }

    /// `events --stats`, parsed.
    fn stats(&self, id: &str) -> Value {
        let out = self.ok(&["events", "--stats", id]);
        assert_eq!(out.lines().count(), 1, "one line: {out}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    }

    /// `events --interval D id` in the background.
    fn events(&self, id: &str, interval: &str) -> Events {
        let mut child = Command::new(self.rt.path)
            .arg("--root")
            .arg(&self.b.root)
            .args(["events", "--interval", interval, id])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(self.b.path().join(".events-stderr")).unwrap())
            .spawn()
            .expect("running events");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        Events { child, rx }
    }

    fn kill_and_delete(&self, id: &str) {
        self.ok(&["kill", id, "KILL"]);
        self.b.wait_status(id, "stopped");
        self.ok(&["delete", id]);
    }

    /// Deletes every container left and checks no cgroup directory of any is left.
    fn finish(mut self) {
        for id in self.b.leftovers() {
            self.ok(&["delete", "--force", &id]);
        }
        let tops = std::mem::take(&mut self.tops);
        for id in &tops {
            for d in self.all_dirs(id) {
                assert!(
                    !d.exists(),
                    "{}: {} is left after delete",
                    self.rt.name,
                    d.display()
                );
            }
        }
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        // After a failure: remove the containers, then whatever cgroup directory is left
        // (they are this test's own, uniquely named).
        for id in self.b.leftovers() {
            let _ = Command::new(&self.b.runtime)
                .arg("--root")
                .arg(&self.b.root)
                .args(["delete", "--force", &id])
                .output();
        }
        for id in &self.tops {
            for d in self.all_dirs(id) {
                if d.exists() {
                    eprintln!("removing leftover {}", d.display());
                    let _ = fs::remove_dir(&d);
                }
            }
        }
    }
}

/// A background `events` process and the lines it printed; killed on drop.
struct Events {
    child: Child,
    rx: Receiver<(Instant, String)>,
}

impl Events {
    /// The next event, parsed, and when it arrived.
    fn next(&self) -> (Instant, Value) {
        self.next_before(Instant::now() + TIMEOUT)
    }

    fn next_before(&self, deadline: Instant) -> (Instant, Value) {
        let (t, line) = self
            .rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|e| panic!("no event in time: {e}"));
        let v = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        (t, v)
    }

    /// The next event of type `kind` (within the timeout), skipping others.
    fn next_of(&self, kind: &str) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        let mut seen = Vec::new();
        loop {
            let Ok((_, line)) = self
                .rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            else {
                panic!("no {kind} event in {TIMEOUT:?}; saw {seen:?}");
            };
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["type"] == kind {
                return v;
            }
            seen.push(v["type"].clone());
        }
    }

    /// Waits for the process to exit; the rest of its output and its status.
    fn exit(&mut self) -> (Vec<Value>, ExitStatus) {
        let status = poll("events to exit", || self.child.try_wait().unwrap());
        let mut rest = Vec::new();
        while let Ok((_, line)) = self.rx.recv_timeout(Duration::from_secs(5)) {
            rest.push(serde_json::from_str(&line).unwrap());
        }
        (rest, status)
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The keys of runc's `events --stats` data object.
const STATS_KEYS: [&str; 8] = [
    "blkio",
    "cpu",
    "cpuset",
    "hugetlb",
    "intel_rdt",
    "memory",
    "network_interfaces",
    "pids",
];

fn check_stats_event(v: &Value, id: &str) {
    assert_eq!(v["type"], "stats", "{v}");
    assert_eq!(v["id"], id, "{v}");
    let mut keys: Vec<&str> = v["data"]
        .as_object()
        .unwrap_or_else(|| panic!("data is an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, STATS_KEYS, "{v}");
    assert!(v["data"]["cpu"]["usage"].is_object(), "{v}");
    assert!(v["data"]["memory"]["usage"].is_object(), "{v}");
}

fn acceptance_values_show_in_the_cgroup_files(rt: &'static Rt) {
    let mut c = Case::acceptance(rt, "files", &["sleep", "1000"]);
    let pid = c.start("c");
    if c.v2() {
        assert_eq!(c.read("c", "memory", "memory.max"), (32 * MIB).to_string());
        if c.dir("c", "memory").join("memory.swap.max").exists() {
            assert_eq!(c.read("c", "memory", "memory.swap.max"), "0");
        }
        assert_eq!(c.read("c", "pids", "pids.max"), "20");
        assert_eq!(c.read("c", "cpu", "cpu.max"), "50000 100000");
        let dir = fs::File::open(c.dir("c", "devices")).unwrap();
        let progs = libcontainer::sys::bpf::query_cgroup_device(dir.as_fd()).unwrap();
        assert!(!progs.is_empty(), "a device filter is attached");
    } else {
        assert_eq!(
            c.read("c", "memory", "memory.limit_in_bytes"),
            (32 * MIB).to_string()
        );
        if c.dir("c", "memory")
            .join("memory.memsw.limit_in_bytes")
            .exists()
        {
            assert_eq!(
                c.read("c", "memory", "memory.memsw.limit_in_bytes"),
                (32 * MIB).to_string()
            );
        }
        assert_eq!(c.read("c", "pids", "pids.max"), "20");
        assert_eq!(c.read("c", "cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(c.read("c", "cpu", "cpu.cfs_period_us"), "100000");
        let list = c.read("c", "devices", "devices.list");
        assert!(!list.contains("a *:* rwm"), "deny by default: {list}");
        let null_rw = list
            .lines()
            .any(|l| l.starts_with("c 1:3 ") && (l.contains('r') || l.contains('w')));
        assert_eq!(null_rw, !rt.denies_default_devices, "{list}");
    }
    // The init is in the cgroup, and `events --stats` reports the limits.
    let procs = c.read("c", "pids", "cgroup.procs");
    assert!(
        procs.lines().any(|l| l == pid.to_string()),
        "init {pid} not in {procs}"
    );
    let ev = c.stats("c");
    check_stats_event(&ev, "c");
    assert_eq!(ev["data"]["pids"]["limit"], 20, "{ev}");
    assert_eq!(ev["data"]["memory"]["usage"]["limit"], 32 * MIB, "{ev}");
    c.kill_and_delete("c");
    c.finish();
}

fn acceptance_device_rule_blocks_dev_null(rt: &'static Rt) {
    let mut c = Case::acceptance(
        rt,
        "devices",
        &[
            "sh",
            "-c",
            "cat /dev/null; echo null=$?; mknod /dev/node c 1 3; echo mknod=$?; \
             cat /dev/node; echo node=$?; echo x > /dev/node; echo write=$?; \
             head -c 4 /dev/zero | wc -c",
        ],
    );
    let (out, err, code) = c.run("d");
    assert_eq!(code, 0, "{out} {err}");
    let want: [&str; 5] = if rt.denies_default_devices {
        ["null=1", "mknod=0", "node=1", "write=1", "4"]
    } else {
        ["null=0", "mknod=0", "node=0", "write=0", "4"]
    };
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        want,
        "stdout {out:?} stderr {err:?}"
    );
    if rt.denies_default_devices {
        assert!(err.contains("Operation not permitted"), "{err}");
    }
    eprintln!(
        "{}: devices ({:?}): {}",
        rt.name,
        c.host.mode,
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    c.finish();
}

fn acceptance_pids_limit_stops_a_fork_bomb(rt: &'static Rt) {
    // The bomb is a pipeline of 60 sleeps in a child shell, which gives up when a fork fails;
    // the init then replaces itself with sleep (exec does not fork) so the processes stay for
    // the checks. (Not `sleep &`: ash starts background jobs on /dev/null, which the
    // acceptance rules deny.)
    let bomb = vec!["sleep 1000"; 60].join(" | ");
    let script =
        format!("sh -c '{bomb}' 2>/out/bomb.err; echo bomb=$? > /out/res; exec sleep 1000");
    let mut c = Case::acceptance(rt, "pids", &["sh", "-c", &script]);
    c.start("p");
    let res = poll("the bomb to end", || {
        fs::read_to_string(c.out("res"))
            .ok()
            .filter(|s| s.ends_with('\n'))
    });
    assert_ne!(res.trim(), "bomb=0", "the bomb was not stopped");
    let err = fs::read_to_string(c.out("bomb.err")).unwrap();
    assert!(err.contains("can't fork"), "{err}");
    let current: u64 = c.read("p", "pids", "pids.current").parse().unwrap();
    assert!(current <= 20, "pids.current {current} over the limit");
    let events = c.read("p", "pids", "pids.events");
    let refused: u64 = events
        .lines()
        .find_map(|l| l.strip_prefix("max "))
        .unwrap_or_else(|| panic!("pids.events: {events}"))
        .parse()
        .unwrap();
    assert!(refused >= 1, "{events}");
    let ev = c.stats("p");
    assert!(ev["data"]["pids"]["current"].as_u64().unwrap() <= 20);
    eprintln!(
        "{}: fork bomb: {} ({refused} forks refused), {current} processes at the limit of 20",
        rt.name,
        res.trim()
    );
    c.kill_and_delete("p");
    c.finish();
}

fn acceptance_memory_limit_oom_kills_and_events_reports_it(rt: &'static Rt) {
    let mut c = Case::acceptance(
        rt,
        "oom",
        &[
            "sh",
            "-c",
            // (Not /dev/null: the acceptance rules deny it.)
            "read go < /out/go; dd if=/dev/zero of=/dev/zero bs=96M count=1; \
             echo dd=$? > /out/res; exec sleep 1000",
        ],
    );
    let go = c.out("go");
    nix::unistd::mkfifo(&go, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    c.start("o");
    let ev = c.events("o", "1s");
    // The first stats event means the OOM watch is in place (both runtimes set it up first).
    check_stats_event(&ev.next_of("stats"), "o");
    let mut fifo = poll("the container to wait on the fifo", || {
        fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&go)
            .ok()
    });
    fifo.write_all(b"go\n").unwrap();
    drop(fifo);
    let oom = ev.next_of("oom");
    assert_eq!(oom, json!({"type": "oom", "id": "o"}));
    let res = poll("dd to end", || {
        fs::read_to_string(c.out("res"))
            .ok()
            .filter(|s| s.ends_with('\n'))
    });
    assert_eq!(res.trim(), "dd=137", "dd was killed by SIGKILL");
    eprintln!(
        "{}: oom: events printed {oom}, shell printed {}",
        rt.name,
        res.trim()
    );
    c.kill_and_delete("o");
    c.finish();
}

fn acceptance_cpu_quota_throttles(rt: &'static Rt) {
    let mut c = Case::acceptance(rt, "cpu", &["sh", "-c", "while :; do :; done"]);
    // On a loaded machine a group of the default weight may never get the half core it is
    // allowed, and then is never throttled: the largest weight lets it reach its quota.
    c.b.config["linux"]["resources"]["cpu"]["shares"] = json!(262144);
    c.start("q");
    let throttling = poll("throttled periods in events --stats", || {
        let ev = c.stats("q");
        let t = ev["data"]["cpu"]["throttling"].clone();
        (t["throttledPeriods"].as_u64().unwrap_or(0) > 0).then_some(t)
    });
    eprintln!(
        "{}: cpu quota 50000/100000: throttling {throttling}",
        rt.name
    );
    c.kill_and_delete("q");
    c.finish();
}

fn update_changes_the_files_of_a_running_container(rt: &'static Rt) {
    let mut c = Case::new(rt, "update", &["sleep", "1000"]);
    c.b.config["linux"]["resources"]["memory"] = json!({"limit": 32 * MIB});
    c.b.config["linux"]["resources"]["pids"] = json!({"limit": 20});
    c.b.config["linux"]["resources"]["cpu"] = json!({"quota": 50000, "period": 100000});
    c.start("u");
    let files = |c: &Case| -> Vec<String> {
        if c.v2() {
            vec![
                c.read("u", "memory", "memory.max"),
                c.read("u", "pids", "pids.max"),
                c.read("u", "cpu", "cpu.max"),
            ]
        } else {
            vec![
                c.read("u", "memory", "memory.limit_in_bytes"),
                c.read("u", "pids", "pids.max"),
                format!(
                    "{} {}",
                    c.read("u", "cpu", "cpu.cfs_quota_us"),
                    c.read("u", "cpu", "cpu.cfs_period_us")
                ),
            ]
        }
    };
    assert_eq!(
        files(&c),
        [(32 * MIB).to_string(), "20".into(), "50000 100000".into()]
    );

    // Individual flags.
    c.ok(&[
        "update",
        "--memory",
        "64M",
        "--pids-limit",
        "30",
        "--cpu-quota",
        "20000",
        "--cpu-period",
        "200000",
        "--cpu-share",
        "512",
        "u",
    ]);
    assert_eq!(
        files(&c),
        [(64 * MIB).to_string(), "30".into(), "20000 200000".into()]
    );
    if c.v2() {
        // runc's conversion: 1 + (512 - 2) * 9999 / 262142.
        assert_eq!(c.read("u", "cpu", "cpu.weight"), "20");
    } else {
        assert_eq!(c.read("u", "cpu", "cpu.shares"), "512");
    }

    // A resources file: only the fields given change.
    let file = c.b.path().join("resources.json");
    fs::write(
        &file,
        json!({"memory": {"limit": 48 * MIB}, "pids": {"limit": 25}}).to_string(),
    )
    .unwrap();
    c.ok(&["update", "-r", file.to_str().unwrap(), "u"]);
    assert_eq!(
        files(&c),
        [(48 * MIB).to_string(), "25".into(), "20000 200000".into()]
    );

    // From stdin.
    let mut child = Command::new(rt.path)
        .arg("--root")
        .arg(&c.b.root)
        .args(["update", "-r", "-", "u"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json!({"cpu": {"quota": 30000}}).to_string().as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "update -r -: {}", text(&o.stderr));
    let cpu = if c.v2() && !rt.keeps_period_on_v2 {
        "30000 100000"
    } else {
        "30000 200000"
    };
    assert_eq!(files(&c), [(48 * MIB).to_string(), "25".into(), cpu.into()]);

    // A later update starts from the updated configuration, not the original one.
    c.ok(&["update", "--memory", "40M", "u"]);
    assert_eq!(files(&c), [(40 * MIB).to_string(), "25".into(), cpu.into()]);
    let ev = c.stats("u");
    assert_eq!(ev["data"]["pids"]["limit"], 25);
    assert_eq!(ev["data"]["memory"]["usage"]["limit"], 40 * MIB);

    c.ok(&["kill", "u", "KILL"]);
    c.b.wait_status("u", "stopped");
    let err = c.fails(&["update", "--memory", "64M", "u"]);
    assert!(err.contains("container not running"), "{err}");
    c.ok(&["delete", "u"]);
    c.finish();
}

fn pause_and_resume_change_state_and_stop_progress(rt: &'static Rt) {
    // The loop appends a line per round: the file's length is its progress.
    let mut c = Case::new(
        rt,
        "pause",
        &[
            "sh",
            "-c",
            "i=0; while :; do i=$((i+1)); echo $i >> /out/counter; done",
        ],
    );
    // Keep the busy loop from taking a whole core of the shared machine.
    c.b.config["linux"]["resources"]["cpu"] = json!({"quota": 20000, "period": 100000});
    let pid = c.start("p");
    let counter = c.out("counter");
    let len = || fs::metadata(&counter).map(|m| m.len()).unwrap_or(0);
    poll("the loop to count", || (len() > 0).then_some(()));
    let err = c.fails(&["resume", "p"]);
    assert!(err.contains("container not paused"), "{err}");

    c.ok(&["pause", "p"]);
    assert_eq!(c.b.status("p"), "paused");
    let err = c.fails(&["pause", "p"]);
    assert!(err.contains("container not running"), "{err}");
    let frozen = if c.v2() {
        c.read("p", "freezer", "cgroup.freeze")
    } else {
        c.read("p", "freezer", "freezer.state")
    };
    assert!(frozen == "1" || frozen == "FROZEN", "{frozen}");
    let cpu = || {
        c.stats("p")["data"]["cpu"]["usage"]["total"]
            .as_u64()
            .unwrap()
    };
    let (l1, u1) = (len(), cpu());
    // Measuring the absence of progress needs an interval; nothing waits for a state here.
    thread::sleep(Duration::from_millis(300));
    let (l2, u2) = (len(), cpu());
    assert_eq!(l1, l2, "the counter file grew while paused");
    assert_eq!(u1, u2, "cpu time was used while paused");
    let listed: Vec<i64> = serde_json::from_str(&c.ok(&["ps", "--format", "json", "p"])).unwrap();
    assert!(listed.contains(&pid), "{listed:?}");
    // A paused container can be updated and stays paused.
    c.ok(&["update", "--pids-limit", "50", "p"]);
    assert_eq!(c.read("p", "pids", "pids.max"), "50");
    assert_eq!(c.b.status("p"), "paused");

    c.ok(&["resume", "p"]);
    assert_eq!(c.b.status("p"), "running");
    let l3 = poll("the loop to count again", || {
        Some(len()).filter(|l| *l > l2)
    });
    eprintln!(
        "{}: pause: counter file stayed at {l2} bytes and cpu usage at {u2} ns for 300 ms; {l3} bytes after resume",
        rt.name
    );
    c.kill_and_delete("p");
    c.finish();
}

fn kill_of_a_paused_container(rt: &'static Rt) {
    let mut c = Case::new(rt, "killpaused", &["sleep", "1000"]);
    c.start("k");
    c.ok(&["pause", "k"]);
    // The init (pid 1 of its namespace, no handler) drops SIGTERM: still paused.
    c.ok(&["kill", "k", "TERM"]);
    assert_eq!(c.b.status("k"), "paused");
    // SIGKILL works on a paused container: the runtime thaws it so the init can die.
    c.ok(&["kill", "k", "KILL"]);
    c.b.wait_status("k", "stopped");
    c.ok(&["delete", "k"]);
    c.finish();
}

fn delete_force_of_a_paused_container(rt: &'static Rt) {
    let mut c = Case::new(
        rt,
        "delpaused",
        &["sh", "-c", "sleep 1000 & sleep 1001 & exec sleep 1002"],
    );
    let pid = c.start("f");
    let pids = poll("three processes", || {
        let v: Vec<i64> = serde_json::from_str(&c.ok(&["ps", "-f", "json", "f"])).ok()?;
        (v.len() == 3).then_some(v)
    });
    c.ok(&["pause", "f"]);
    let err = c.fails(&["delete", "f"]);
    assert!(err.contains("paused"), "{err}");
    c.ok(&["delete", "--force", "f"]);
    assert!(c.b.state("f").is_none());
    for p in pids {
        let stat = fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        assert!(
            stat.is_empty() || stat.contains(") Z"),
            "process {p} (init {pid}) still alive: {stat}"
        );
    }
    c.finish();
}

fn events_prints_stats_once_per_interval(rt: &'static Rt) {
    let mut c = Case::new(rt, "events", &["sleep", "1000"]);
    c.start("e");
    let interval = Duration::from_secs(1);
    let spawned = Instant::now();
    let mut ev = c.events("e", "1s");
    let mut times = Vec::new();
    for _ in 0..3 {
        let (t, v) = ev.next();
        check_stats_event(&v, "e");
        times.push(t - spawned);
    }
    // Once per interval: the n-th event cannot come before n intervals have passed (a slow
    // machine can only make it later, so this bound holds anywhere).
    for (n, t) in times.iter().enumerate() {
        assert!(*t >= interval * (n as u32 + 1), "event {n} after {t:?}");
    }
    eprintln!(
        "{}: events: 3 stats events at {times:?} after starting (interval 1s)",
        rt.name
    );
    c.kill_and_delete("e");
    // Both runtimes end `events` by the time the container is deleted.
    let (_, status) = ev.exit();
    assert!(status.success(), "{status:?}");
    c.finish();
}

fn ps_lists_the_containers_processes(rt: &'static Rt) {
    let mut c = Case::new(rt, "ps", &["sh", "-c", "sleep 1000 & exec sleep 1001"]);
    let pid = c.start("s");
    let pids = poll("two processes", || {
        let v: Vec<i64> = serde_json::from_str(&c.ok(&["ps", "--format", "json", "s"])).ok()?;
        (v.len() == 2).then_some(v)
    });
    assert!(pids.contains(&pid), "{pids:?}");
    let table = c.ok(&["ps", "s"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].split_whitespace().any(|h| h == "PID"), "{table}");
    assert!(lines.iter().any(|l| l.ends_with("sleep 1000")), "{table}");
    assert!(lines.iter().any(|l| l.ends_with("sleep 1001")), "{table}");
    // ps options after the id.
    let table = c.ok(&["ps", "s", "-o", "pid,args"]);
    let mut got: Vec<String> = table
        .lines()
        .skip(1)
        .map(|l| l.trim().to_string())
        .collect();
    got.sort();
    let mut want: Vec<String> = pids
        .iter()
        .map(|p| {
            let args = fs::read_to_string(format!("/proc/{p}/cmdline"))
                .unwrap()
                .trim_end_matches('\0')
                .replace('\0', " ");
            format!("{p} {args}")
        })
        .collect();
    want.sort();
    assert_eq!(got, want, "{table}");
    c.kill_and_delete("s");
    c.finish();
}

/// minke ends `events` when the container stops (runc 1.1.5 on cgroup v1 waits until the
/// cgroup is removed by `delete`), and refuses what runc refuses.
#[test]
fn events_ends_when_the_container_stops_and_refuses_a_stopped_one() {
    let mut c = Case::new(&MINKE_RT, "eventsend", &["sleep", "1000"]);
    c.start("x");
    let err = c.fails(&["events", "--interval", "0s", "x"]);
    assert!(
        err.contains("duration interval must be greater than 0"),
        "{err}"
    );
    let err = c.fails(&["events", "--interval", "5q", "x"]);
    assert!(err.contains("--interval"), "{err}");
    let mut ev = c.events("x", "1s");
    // Its first event shows it is watching.
    check_stats_event(&ev.next().1, "x");
    c.ok(&["kill", "x", "KILL"]);
    let (rest, status) = ev.exit();
    assert!(status.success(), "{status:?}");
    assert!(rest.iter().all(|v| v["type"] == "stats"), "{rest:?}");
    assert_eq!(c.b.status("x"), "stopped");
    let err = c.fails(&["events", "--stats", "x"]);
    assert!(err.contains("container with id x is not running"), "{err}");
    let err = c.fails(&["events", "x"]);
    assert!(err.contains("container with id x is not running"), "{err}");
    c.ok(&["delete", "x"]);
    c.finish();
}

/// What minke refuses in `update` (runc ignores or warns): flags with `-r`, values the host
/// cannot apply, and the record of an update survives for `events`.
#[test]
fn update_refuses_what_it_cannot_apply() {
    let mut c = Case::new(&MINKE_RT, "updaterefuse", &["sleep", "1000"]);
    c.b.config["linux"]["resources"]["pids"] = json!({"limit": 20});
    c.start("r");
    let err = c.fails(&["update", "-r", "-", "--memory", "1M", "r"]);
    assert!(
        err.contains("--resources cannot be combined with --memory"),
        "{err}"
    );
    let err = c.fails(&["update", "--memory", "lots", "r"]);
    assert!(err.contains("invalid value for --memory"), "{err}");
    let err = c.fails(&["update", "--cpu-share", "1", "r"]);
    assert!(err.contains("linux.resources.cpu.shares"), "{err}");
    let err = c.fails(&["update", "--l3-cache-schema", "L3:0=f", "r"]);
    assert!(err.contains("linux.intelRdt"), "{err}");
    if c.v2() {
        let err = c.fails(&["update", "--kernel-memory-tcp", "1M", "r"]);
        assert!(err.contains("linux.resources.memory.kernelTCP"), "{err}");
    } else {
        let err = c.fails(&["update", "--kernel-memory", "100M", "r"]);
        assert!(err.contains("linux.resources.memory.kernel"), "{err}");
    }
    // Refused updates changed nothing.
    assert_eq!(c.read("r", "pids", "pids.max"), "20");
    let saved: Value =
        serde_json::from_slice(&fs::read(c.b.root.join("r/config.json")).unwrap()).unwrap();
    assert_eq!(saved["linux"]["resources"]["pids"], json!({"limit": 20}));
    // An accepted one is recorded; `"pids": {}` leaves the limit alone.
    let file = c.b.path().join("r.json");
    fs::write(
        &file,
        r#"{"pids": {}, "memory": {"limit": 0}, "cpu": {"shares": 512}}"#,
    )
    .unwrap();
    c.ok(&["update", "-r", file.to_str().unwrap(), "r"]);
    assert_eq!(c.read("r", "pids", "pids.max"), "20");
    let saved: Value =
        serde_json::from_slice(&fs::read(c.b.root.join("r/config.json")).unwrap()).unwrap();
    assert_eq!(saved["linux"]["resources"]["cpu"]["shares"], 512);
    assert_eq!(saved["linux"]["resources"]["pids"], json!({"limit": 20}));
    c.kill_and_delete("r");
    c.finish();
}

#[test]
fn runc_is_installed() {
    // The comparison tests need it; fail loudly rather than skip.
    let o = Command::new(RUNC_RT.path)
        .arg("--version")
        .output()
        .expect("runc must be installed for the comparison tests");
    assert!(o.status.success());
    assert!(Path::new(BUSYBOX).exists());
}

/// Two containers under a parent cgroup the first one created: deleting the first must not
/// take the second's cgroup with it. The second has stopped (its cgroup is empty, which an
/// rmdir would not refuse), yet its cgroup is still its own until it is deleted — containerd
/// reads memory.events of a stopped container for its OOM report.
#[test]
fn a_shared_parent_cgroup_outlives_the_container_that_made_it() {
    let mut b = Bundle::new(&["sleep", "60"]);
    let parent = format!("minke-shared-{}", std::process::id());
    b.config["linux"]["cgroupsPath"] = json!(format!("/{parent}/first"));
    assert!(b.create("first", &[]).status.success());
    b.config["linux"]["cgroupsPath"] = json!(format!("/{parent}/second"));
    b.config["process"]["args"] = json!(["true"]);
    assert!(b.create("second", &[]).status.success());
    assert!(b.cmd(&["start", "second"]).status.success());
    b.wait_status("second", "stopped");
    assert!(b.cmd(&["delete", "--force", "first"]).status.success());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let hierarchies: Vec<String> = mounts
        .lines()
        .filter(|l| l.contains(" - cgroup"))
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .collect();
    for mp in &hierarchies {
        let p = Path::new(mp).join(&parent);
        assert!(
            !p.join("first").exists(),
            "{}/first left behind",
            p.display()
        );
        assert!(
            p.join("second").is_dir(),
            "{}/second was removed with the first container",
            p.display()
        );
    }
    assert!(b.cmd(&["delete", "second"]).status.success());
    // Nothing of either container is left. The parent, made by the first container while the
    // second still had its cgroup in it, is left (empty): neither may remove what it did not
    // make or what was in use (runc leaves parents behind too). The test removes it.
    for mp in &hierarchies {
        let p = Path::new(mp).join(&parent);
        assert!(
            !p.join("second").exists(),
            "{}/second left behind",
            p.display()
        );
        let _ = std::fs::remove_dir(&p);
    }
}
