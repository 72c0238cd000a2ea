//! client-lane: runs minke under the container engines people use — containerd (through `ctr`
//! and the runc shim, `io.containerd.runc.v2`, with the runtime as its `BinaryName`) and podman
//! (`--runtime PATH`, through conmon) — and runs every scenario again with runc, the reference,
//! so a failure is known to be minke's.
//!
//! It starts its own containerd (private root, state and socket) and gives podman private
//! storage, so it needs no daemon of the host and leaves nothing behind: see `cleanup`. The
//! runtimes are given to the clients through an argv-logging wrapper (`wrapper`), so the exact
//! command lines each client issued end up in `<out>/argv-<client>-<runtime>.log`.
//!
//! Output: one line per (client, runtime, scenario), summary lines, and the exit status 0 (all
//! passed, nothing left), 1 (minke fails a scenario runc passes) or 2 (anything else).

#![deny(unsafe_code)]

mod cgroup;
mod cleanup;
mod client;
mod cmd;
mod containerd;
mod image;
mod podman;
mod pty;
mod report;
mod scenario;
mod wrapper;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use nix::sys::signal::{SigSet, Signal};

use cgroup::Mounts;
use client::{Client, ClientKind, Runtime, RuntimeKind};
use cmd::Runner;
use containerd::Containerd;
use podman::Podman;
use report::{Outcome, Verdict};
use scenario::{Ctx, Scenario};

/// The image both clients run.
const IMAGE: &str = "localhost/minke-lane/busybox:latest";

#[derive(Debug, Parser)]
#[command(
    name = "client-lane",
    about = "Drive minke and runc through containerd (ctr) and podman; one line per scenario"
)]
struct Opts {
    /// the minke binary under test
    #[arg(long)]
    minke: PathBuf,
    /// the reference runtime
    #[arg(long, default_value = "/usr/sbin/runc")]
    runc: PathBuf,
    /// engines to drive
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [ClientKind::Containerd, ClientKind::Podman])]
    clients: Vec<ClientKind>,
    /// runtimes to run the scenarios with
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [RuntimeKind::Runc, RuntimeKind::Minke])]
    runtimes: Vec<RuntimeKind>,
    /// scenarios to run (default: all)
    #[arg(long, value_enum, value_delimiter = ',')]
    scenarios: Vec<Scenario>,
    /// where the transcript and the runtimes' argv logs go
    #[arg(long, default_value = "target/client-lane")]
    out: PathBuf,
    /// the busybox-static binary the image is made from
    #[arg(long, default_value = "/bin/busybox")]
    busybox: PathBuf,
    /// timeout of one client command, in seconds
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

fn main() {
    let opts = Opts::parse();
    // SIGINT/SIGTERM/SIGHUP are taken by a thread, so an interrupted lane still stops its
    // daemons and cleans up (children get the default mask back when spawned).
    let interrupted = Arc::new(AtomicBool::new(false));
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(s);
    }
    if let Err(e) = set.thread_block() {
        eprintln!("client-lane: blocking signals: {e}");
        std::process::exit(2);
    }
    let flag = Arc::clone(&interrupted);
    std::thread::spawn(move || {
        if let Ok(sig) = set.wait() {
            eprintln!("client-lane: {sig}: finishing the current scenario, then cleaning up");
            flag.store(true, Ordering::SeqCst);
        }
    });
    match lane(&opts, &interrupted) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("client-lane: {e:#}");
            std::process::exit(2);
        }
    }
}

/// Finds `program` in PATH.
fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

fn version_line(runner: &Runner, program: &str, flag: &str) -> String {
    runner
        .run(program, &[flag.to_string()])
        .ok()
        .and_then(|o| o.stdout.lines().next().map(str::to_string))
        .unwrap_or_else(|| format!("{program}: no version"))
}

/// The runtimes' default `--root` (podman passes none).
fn default_root(kind: RuntimeKind) -> PathBuf {
    match kind {
        RuntimeKind::Runc => PathBuf::from("/run/runc"),
        RuntimeKind::Minke => PathBuf::from("/run/minke"),
    }
}

struct Lane<'a> {
    opts: &'a Opts,
    runner: &'a Runner,
    tmp: PathBuf,
    out: PathBuf,
    mounts: Mounts,
    binaries: BTreeMap<RuntimeKind, PathBuf>,
    scenarios: Vec<Scenario>,
    interrupted: &'a AtomicBool,
    outcomes: Vec<Outcome>,
    problems: Vec<String>,
}

fn lane(opts: &Opts, interrupted: &AtomicBool) -> Result<i32> {
    if !nix::unistd::geteuid().is_root() {
        bail!("the client lane runs containers: run it as root");
    }
    let mut needed = vec!["setsid"];
    if opts.clients.contains(&ClientKind::Containerd) {
        needed.extend(["containerd", "ctr", "containerd-shim-runc-v2"]);
    }
    if opts.clients.contains(&ClientKind::Podman) {
        needed.extend(["podman", "conmon"]);
    }
    let missing: Vec<&str> = needed.into_iter().filter(|p| which(p).is_none()).collect();
    if !missing.is_empty() {
        bail!("not installed (or not in PATH): {}", missing.join(", "));
    }
    let mut binaries = BTreeMap::new();
    for kind in &opts.runtimes {
        let given = match kind {
            RuntimeKind::Runc => &opts.runc,
            RuntimeKind::Minke => &opts.minke,
        };
        let path = fs::canonicalize(given)
            .with_context(|| format!("the {kind} binary {}", given.display()))?;
        binaries.insert(*kind, path);
    }

    fs::create_dir_all(&opts.out)?;
    let out = fs::canonicalize(&opts.out)?;
    let runner = Runner::new(
        &out.join("transcript.log"),
        Duration::from_secs(opts.timeout),
    )?;
    let mut versions = vec![];
    for (kind, path) in &binaries {
        let flag = "--version";
        versions.push(format!(
            "{kind}: {}",
            version_line(&runner, &path.to_string_lossy(), flag)
        ));
    }
    if opts.clients.contains(&ClientKind::Containerd) {
        versions.push(version_line(&runner, "containerd", "--version"));
    }
    if opts.clients.contains(&ClientKind::Podman) {
        versions.push(version_line(&runner, "podman", "--version"));
        versions.push(version_line(&runner, "conmon", "--version"));
    }
    let mounts = Mounts::read(Path::new("/proc"))?;
    versions.push(format!(
        "cgroups: {}",
        if mounts.pure_v2() {
            "v2"
        } else {
            "v1 or hybrid"
        }
    ));
    println!("# {}", versions.join("; "));

    // From here on, everything the lane makes is removed by `clean_up` and `restore`.
    let roots: Vec<PathBuf> = opts.runtimes.iter().map(|k| default_root(*k)).collect();
    let snapshot = cleanup::HostSnapshot::take(&roots);
    let tmp = PathBuf::from(format!("/tmp/client-lane.{}", std::process::id()));
    fs::create_dir(&tmp).with_context(|| format!("creating {}", tmp.display()))?;

    let mut lane = Lane {
        opts,
        runner: &runner,
        tmp: tmp.clone(),
        out,
        mounts,
        binaries,
        scenarios: if opts.scenarios.is_empty() {
            Scenario::all()
        } else {
            opts.scenarios.clone()
        },
        interrupted,
        outcomes: Vec::new(),
        problems: Vec::new(),
    };
    let ns = format!("minke-lane-{}", std::process::id());
    let podman_parent = format!("/minke-lane-{}-podman", std::process::id());

    let result = lane.run_all(&ns, &podman_parent);
    if let Err(e) = &result {
        lane.problems.push(format!("{e:#}"));
    }
    if interrupted.load(Ordering::SeqCst) {
        lane.problems
            .push("interrupted: not every scenario ran".to_string());
    }
    lane.clean_up(&ns, &podman_parent);
    lane.problems.extend(snapshot.restore());

    let verdict = Verdict::of(&lane.outcomes, lane.problems.clone());
    println!("# transcript and runtime argv logs: {}", lane.out.display());
    // The last line is the plain "client-lane: N passed, M failed".
    for line in verdict.summary() {
        println!("{line}");
    }
    Ok(verdict.exit_code())
}

impl Lane<'_> {
    fn run_all(&mut self, ns: &str, podman_parent: &str) -> Result<()> {
        let rootfs = self.tmp.join("rootfs");
        image::build_rootfs(&self.opts.busybox, &rootfs)?;
        let rootfs_tar = self.tmp.join("rootfs.tar");
        image::tar_dir(&rootfs, &rootfs_tar)?;
        let oci = image::oci_archive(&rootfs_tar, IMAGE, &self.tmp.join("image-oci.tar"))?;
        self.runner.note(&format!(
            "image {IMAGE}: manifest {} ({} bytes)",
            oci.manifest.digest, oci.manifest.size
        ));
        for client in self.opts.clients.clone() {
            if self.interrupted.load(Ordering::SeqCst) {
                break;
            }
            let res = match client {
                ClientKind::Containerd => self.containerd(ns, &oci.path),
                ClientKind::Podman => self.podman(podman_parent, &rootfs_tar),
            };
            if let Err(e) = res {
                self.problems.push(format!("{client}: {e:#}"));
            }
        }
        Ok(())
    }

    fn runtime(&self, client: ClientKind, kind: RuntimeKind) -> Result<Runtime> {
        let binary = self.binaries[&kind].clone();
        let wrapper = self
            .tmp
            .join("wrap")
            .join(client.to_string())
            .join(kind.to_string())
            .join(kind.to_string());
        let argv_log = self.out.join(format!("argv-{client}-{kind}.log"));
        fs::write(&argv_log, "")?;
        wrapper::install(&wrapper, &binary, &argv_log)?;
        Ok(Runtime {
            kind,
            binary,
            wrapper,
            argv_log,
            default_root: default_root(kind),
        })
    }

    fn containerd(&mut self, ns: &str, archive: &Path) -> Result<()> {
        if let Some(minke) = self.binaries.get(&RuntimeKind::Minke) {
            let dir = self.tmp.join("containerd-config-check");
            match containerd::check_runtime_class(self.runner, &dir, minke) {
                Ok(()) => println!("# containerd accepts the documented RuntimeClass handler"),
                Err(e) => self.problems.push(format!("containerd config: {e:#}")),
            }
        }
        let rootfs = self.tmp.join("rootfs-config");
        image::build_rootfs(&self.opts.busybox, &rootfs)?;
        let setup = (|| -> Result<Containerd<'_>> {
            let mut ctd = Containerd::start(
                self.runner,
                &self.tmp.join("containerd"),
                ns,
                IMAGE,
                &rootfs,
            )?;
            ctd.import(archive)?;
            Ok(ctd)
        })();
        let mut ctd = match setup {
            Ok(c) => c,
            Err(e) => {
                self.fail_all(
                    ClientKind::Containerd,
                    &format!("containerd setup failed: {e:#}"),
                );
                return Err(e);
            }
        };
        if let Some(pid) = ctd.pid() {
            println!("# containerd pid {pid}, socket {}", ctd.address.display());
        }
        for kind in self.opts.runtimes.clone() {
            let rt = self.runtime(ClientKind::Containerd, kind)?;
            let mut client = ctd.client(rt)?;
            self.scenarios_for(&mut client);
        }
        let cleared = ctd.clear();
        let stopped = ctd.stop();
        self.problems
            .extend(cleanup::remove_owned_dir(&ctd.runc_root()));
        self.problems.extend(cleared?);
        stopped
    }

    fn podman(&mut self, parent: &str, rootfs_tar: &Path) -> Result<()> {
        let p = Podman::new(self.runner, &self.tmp.join("podman"), parent, IMAGE)?;
        if let Err(e) = p.import(rootfs_tar) {
            self.fail_all(ClientKind::Podman, &format!("podman setup failed: {e:#}"));
            return Err(e);
        }
        if let Some(minke) = self.binaries.get(&RuntimeKind::Minke) {
            match p.check_containers_conf(&self.tmp.join("podman"), minke) {
                Ok(()) => println!("# podman takes the documented containers.conf"),
                Err(e) => self.problems.push(format!("podman config: {e:#}")),
            }
        }
        for kind in self.opts.runtimes.clone() {
            let rt = self.runtime(ClientKind::Podman, kind)?;
            let mut client = p.client(rt);
            self.scenarios_for(&mut client);
        }
        self.problems.extend(p.clear()?);
        Ok(())
    }

    /// Marks every scenario of a client failed (its setup failed).
    fn fail_all(&mut self, client: ClientKind, reason: &str) {
        for kind in self.opts.runtimes.clone() {
            for s in self.scenarios.clone() {
                self.record(Outcome {
                    client,
                    runtime: kind,
                    scenario: s,
                    result: Err(reason.to_string()),
                    elapsed: Duration::ZERO,
                });
            }
        }
    }

    fn record(&mut self, o: Outcome) {
        println!("{}", o.line());
        let _ = std::io::stdout().flush();
        self.outcomes.push(o);
    }

    fn scenarios_for(&mut self, client: &mut dyn Client) {
        let ctx = Ctx {
            runner: self.runner,
            mounts: &self.mounts,
            proc: Path::new("/proc"),
        };
        let kind = client.kind();
        let rt = client.runtime().kind;
        let mut outcomes = Vec::new();
        for s in self.scenarios.clone() {
            if self.interrupted.load(Ordering::SeqCst) {
                break;
            }
            let name = format!("{s}-{rt}");
            self.runner
                .note(&format!("\n=== {kind} {rt} {s} (container {name})"));
            let argv_before = fs::metadata(&client.runtime().argv_log)
                .map(|m| m.len())
                .unwrap_or(0);
            let started = Instant::now();
            let res = catch_unwind(AssertUnwindSafe(|| scenario::run(s, client, &ctx, &name)));
            let result = match res {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(format!("{e:#}")),
                Err(panic) => Err(format!(
                    "the scenario panicked: {}",
                    panic
                        .downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| panic.downcast_ref::<&str>().copied())
                        .unwrap_or("?")
                )),
            };
            let elapsed = started.elapsed();
            for n in scenario::names(s, &name) {
                if result.is_err() || client.exists(&n).unwrap_or(true) {
                    self.runner
                        .note(&format!("--- cleaning up {n} after the scenario"));
                    client.force_cleanup(&n);
                }
            }
            if result.is_err() {
                let calls = fs::read(&client.runtime().argv_log)
                    .map(|b| String::from_utf8_lossy(&b[argv_before as usize..]).into_owned())
                    .unwrap_or_default();
                self.runner.note(&format!(
                    "--- runtime calls of the failed scenario:\n{calls}"
                ));
            }
            let o = Outcome {
                client: kind,
                runtime: rt,
                scenario: s,
                result,
                elapsed,
            };
            println!("{}", o.line());
            let _ = std::io::stdout().flush();
            outcomes.push(o);
        }
        self.outcomes.extend(outcomes);
        self.write_call_summary(client.runtime(), kind);
    }

    /// `<out>/calls-<client>-<runtime>.txt`: each distinct (caller, subcommand, flags) with its
    /// count, from the argv log.
    fn write_call_summary(&mut self, rt: &Runtime, client: ClientKind) {
        let text = fs::read_to_string(&rt.argv_log).unwrap_or_default();
        let calls = wrapper::parse_log(&text);
        let mut shapes: BTreeMap<String, usize> = BTreeMap::new();
        for c in &calls {
            let flags: Vec<&str> = c
                .args
                .iter()
                .filter(|a| a.starts_with('-'))
                .map(String::as_str)
                .collect();
            let shape = format!(
                "{:<16} {:<8} {}",
                c.caller,
                c.subcommand().unwrap_or("-"),
                flags.join(" ")
            );
            *shapes.entry(shape).or_default() += 1;
        }
        let mut out = String::new();
        for (shape, n) in shapes {
            out.push_str(&format!("{n:>4}  {shape}\n"));
        }
        let path = self.out.join(format!("calls-{client}-{}.txt", rt.kind));
        if let Err(e) = fs::write(&path, out) {
            self.problems
                .push(format!("writing {}: {e}", path.display()));
        }
    }

    /// Whatever the clients left: processes, mounts, cgroups, the temp dir.
    fn clean_up(&mut self, ns: &str, podman_parent: &str) {
        for client in &self.opts.clients {
            for kind in &self.opts.runtimes {
                let log = self.out.join(format!("argv-{client}-{kind}.log"));
                let calls = wrapper::parse_log(&fs::read_to_string(&log).unwrap_or_default());
                self.problems.extend(cleanup::runtime_state_leftovers(
                    self.runner,
                    &self.binaries[kind],
                    &default_root(*kind),
                    &calls,
                ));
                self.problems
                    .extend(cleanup::console_socket_leftovers(&calls));
            }
        }
        let markers = vec![
            self.tmp.to_string_lossy().into_owned(),
            format!("-namespace {ns} "),
        ];
        self.problems.extend(cleanup::kill_leftover_processes(
            Path::new("/proc"),
            &markers,
        ));
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        self.problems
            .extend(cleanup::unmount_under(&mountinfo, &self.tmp));
        self.problems.extend(cleanup::remove_cgroup_subtrees(
            &self.mounts,
            &[format!("/{ns}"), podman_parent.to_string()],
            &["conmon"],
        ));
        self.problems.extend(cleanup::remove_owned_dir(
            &Path::new(containerd::SHIM_RUNC_ROOT).join(ns),
        ));
        if let Err(e) = fs::remove_dir_all(&self.tmp) {
            self.problems
                .push(format!("removing {}: {e}", self.tmp.display()));
        }
    }
}
