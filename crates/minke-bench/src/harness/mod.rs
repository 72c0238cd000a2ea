//! The harness: runs the runtimes side by side and reports.

pub mod bench;
pub mod cli;
pub mod host;
pub mod measure;
pub mod ops;
pub mod report;
pub mod runtime;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::Parser;
use minke_bench::bundle::{self, Variant};
use minke_bench::{seccomp_profile, sys};

use cli::{BenchArgs, Cli, Sub, VariantArg};
use report::{Host, Report, Settings};

fn variant(v: VariantArg) -> Variant {
    match v {
        VariantArg::Base => Variant::Base,
        VariantArg::Limits => Variant::Limits,
        VariantArg::Seccomp => Variant::Seccomp,
        VariantArg::Long => Variant::Long,
    }
}

/// Removes the scratch directory at the end, whatever happens.
struct Workdir(PathBuf);

impl Drop for Workdir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            eprintln!("minke-bench: removing {}: {e}", self.0.display());
        }
    }
}

/// Parses the command line and runs.
pub fn main() -> Result<i32> {
    let cli = Cli::parse();
    match cli.command {
        Some(Sub::Bundle {
            dir,
            variant: v,
            busybox,
        }) => {
            let profile =
                seccomp_profile::docker_like_profile(&seccomp_profile::x86_64_syscall_names());
            bundle::write_bundle(&dir, &busybox, variant(v), &profile)
                .with_context(|| format!("writing the bundle {}", dir.display()))?;
            println!("{}", dir.display());
            Ok(0)
        }
        None => run(cli.bench),
    }
}

fn run(args: BenchArgs) -> Result<i32> {
    if !nix::unistd::geteuid().is_root() {
        bail!("the benchmark creates containers: run it as root");
    }
    if args.rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let t0 = Instant::now();
    let seed = args.seed.unwrap_or(started_unix.as_nanos() as u64);
    sys::catch_interrupts().context("installing the SIGINT handler")?;
    nix::sys::prctl::set_child_subreaper(true).context("becoming a child subreaper")?;

    let exe = std::env::current_exe().context("locating this program")?;
    let exe_dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let workdir_path = args.workdir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("minke-bench.{}", std::process::id()))
    });
    if workdir_path.exists() && std::fs::read_dir(&workdir_path)?.next().is_some() {
        bail!(
            "--workdir {} must be empty or absent (it is removed at the end)",
            workdir_path.display()
        );
    }
    std::fs::create_dir_all(&workdir_path)
        .with_context(|| format!("creating {}", workdir_path.display()))?;
    let workdir = Workdir(workdir_path);
    let scratch = workdir.0.join("scratch");
    std::fs::create_dir_all(&scratch)?;

    let profile = seccomp_profile::docker_like_profile(&seccomp_profile::x86_64_syscall_names());
    let mut bundles = BTreeMap::new();
    for v in Variant::ALL {
        let dir = workdir.0.join("bundles").join(v.name());
        bundle::write_bundle(&dir, &args.busybox, v, &profile)?;
        bundles.insert(v, dir);
    }

    let cgroup_mode = host::cgroup_mode(Path::new("/sys/fs/cgroup"));
    let crun_ns = if !args.runtimes.iter().any(|r| r == "crun-ns") {
        (None, String::new())
    } else if cgroup_mode == "hybrid" {
        let ns = sys::mount_ns_without(Path::new("/sys/fs/cgroup/unified"))
            .context("making crun-ns's mount namespace")?;
        let note = "crun itself, started by the harness in a private mount namespace where \
                    /sys/fs/cgroup/unified is unmounted: crun-v1's view, without its execs";
        (Some(std::sync::Arc::new(ns)), note.to_string())
    } else {
        (
            None,
            format!("crun itself (a {cgroup_mode} host needs no namespace)"),
        )
    };
    let paths = runtime::Paths {
        runc: args.runc.clone(),
        crun: args
            .crun
            .clone()
            .or_else(|| runtime::default_crun(&workspace)),
        crun_binary: args.crun_binary.clone(),
        crun_ns,
        floor: args
            .floor
            .clone()
            .unwrap_or_else(|| exe_dir.join("minke-floor")),
        minke: args.minke.clone().unwrap_or_else(|| exe_dir.join("minke")),
        minke_explicit: args.minke.is_some(),
    };
    let (runtimes, unavailable) =
        runtime::resolve(&args.runtimes, &paths, &workdir.0.join("state"))?;
    if runtimes.is_empty() {
        bail!("none of the runtimes can run: {unavailable:?}");
    }
    let load_before = host::loadavg(Path::new("/proc"));
    let ctx = ops::Ctx::new(&scratch, Duration::from_millis(args.timeout_ms), args.wait)?;
    let mut bench = bench::Bench::new(
        runtimes.clone(),
        ctx,
        bench::Plan {
            seed,
            rounds: args.rounds,
            warmup: args.warmup,
            pause: Duration::from_millis(args.pause_ms),
            batch: args.batch,
            batch_repeats: args.batch_repeats,
            bundles,
        },
    );
    eprintln!(
        "minke-bench: {} ({}), seed {seed}, scratch {}",
        runtimes
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        if unavailable.is_empty() {
            "all available".to_string()
        } else {
            format!("{} not available", unavailable.len())
        },
        workdir.0.display()
    );
    let mut interrupted = false;
    for &group in &args.rows {
        eprintln!("minke-bench: {group:?} …");
        if let Err(e) = bench.group(group, args.wait) {
            if sys::interrupted() {
                interrupted = true;
                break;
            }
            return Err(e.context(format!("group {group:?}")));
        }
    }
    bench.finish();
    for problem in bench.ctx.cleanup() {
        eprintln!("minke-bench: cleanup: {problem}");
    }
    let report = Report {
        schema: 1,
        started_unix: started_unix.as_secs(),
        duration_s: t0.elapsed().as_secs_f64(),
        host: Host {
            kernel: host::kernel(),
            cpus: host::cpus(),
            cgroups: cgroup_mode.to_string(),
            load_before,
            load_after: host::loadavg(Path::new("/proc")),
        },
        settings: Settings {
            rounds: args.rounds,
            warmup: args.warmup,
            seed,
            wait: args.wait,
            pause_ms: args.pause_ms,
            batch: args.batch,
            groups: args.rows.clone(),
        },
        runtimes,
        unavailable,
        rows: bench.rows.clone(),
        batches: bench.batches.clone(),
        interrupted,
    };
    drop(bench);
    print!("{}", report::render(&report));
    let json_path = args
        .json
        .clone()
        .unwrap_or_else(|| exe_dir.join("../bench/latest.json"));
    if let Some(parent) = json_path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing {}", json_path.display()))?;
    eprintln!("minke-bench: JSON report in {}", json_path.display());
    drop(workdir);
    Ok(if interrupted { 130 } else { 0 })
}
