//! `runtime-tests`: the conformance driver. See docs/conformance.md.

use anyhow::{bail, Context, Result};
use clap::Parser;
use runtime_tests::driver::expected::{default_file, Expected};
use runtime_tests::driver::registry;
use runtime_tests::driver::runner::{self, Options};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "runtime-tests",
    about = "Checks an OCI runtime against the runtime-spec, from inside its containers"
)]
struct Cli {
    /// the runtime under test (runc's CLI: create/start/state/kill/delete/run/features)
    #[arg(long, required_unless_present = "list")]
    runtime: Option<PathBuf>,
    /// run only this test; an id or a prefix of ids (repeatable)
    #[arg(short = 't', long = "test")]
    tests: Vec<String>,
    /// list the test ids (with requirements) and exit
    #[arg(long)]
    list: bool,
    /// expected-failures file (default: runtime-tests/expected/<runtime>.txt by basename)
    #[arg(long)]
    expected: Option<PathBuf>,
    /// the static probe binary (default: `probe` beside this program)
    #[arg(long)]
    probe: Option<PathBuf>,
    /// a statically linked busybox for the rootfs
    #[arg(long, default_value = "/bin/busybox")]
    busybox: PathBuf,
    /// the runtime-spec checkout (schemas, bad configs) (default: shared/runtime-spec found
    /// from the current directory upwards, or $RUNTIME_SPEC_DIR)
    #[arg(long)]
    spec_dir: Option<PathBuf>,
    /// tests to run in parallel
    #[arg(short = 'j', long, default_value_t = 1)]
    jobs: usize,
    /// deadline of each runtime command and each wait, in seconds
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// where bundles are made (a per-run directory is created inside)
    #[arg(long, default_value = "/tmp")]
    work_dir: PathBuf,
    /// keep the per-test directories (bundles, logs) for debugging
    #[arg(long)]
    keep: bool,
}

fn find_spec_dir() -> Option<PathBuf> {
    if let Ok(d) = std::env::var("RUNTIME_SPEC_DIR") {
        return Some(PathBuf::from(d));
    }
    let cwd = std::env::current_dir().ok()?;
    for dir in cwd.ancestors() {
        for cand in [
            dir.join("shared/runtime-spec"),
            dir.join("../shared/runtime-spec"),
        ] {
            if cand.join("schema/config-schema.json").exists() {
                return cand.canonicalize().ok();
            }
        }
    }
    None
}

fn main() {
    match real_main() {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("runtime-tests: {e:#}");
            std::process::exit(2);
        }
    }
}

fn real_main() -> Result<bool> {
    let cli = Cli::parse();
    let all = registry::all();
    let tests = registry::select(&all, &cli.tests);
    if tests.is_empty() {
        bail!("no test matches {:?} (see --list)", cli.tests);
    }
    if cli.list {
        for t in &tests {
            if t.requires.is_empty() {
                println!("{}", t.id);
            } else {
                println!("{}  requires {:?}", t.id, t.requires);
            }
        }
        return Ok(true);
    }
    let runtime = cli.runtime.context("--runtime is required")?;
    let runtime = if runtime.components().count() == 1 && !runtime.exists() {
        // a bare name: look it up in PATH like a shell would
        std::env::var_os("PATH")
            .and_then(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join(&runtime))
                    .find(|c| c.exists())
            })
            .unwrap_or(runtime)
    } else {
        runtime
    };
    if !runtime.exists() {
        bail!("runtime {} not found", runtime.display());
    }
    // absolute, but not resolved: the basename picks the expected file (crun-v1 → crun.txt)
    let runtime = std::path::absolute(&runtime)?;
    let expected_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("expected");
    let expected_path = cli
        .expected
        .unwrap_or_else(|| default_file(&expected_dir, &runtime));
    let expected = if expected_path.exists() {
        Expected::load(&expected_path)?
    } else {
        eprintln!(
            "runtime-tests: no expected-failures file {}; every failure counts",
            expected_path.display()
        );
        Expected::default()
    };
    let probe = match cli.probe {
        Some(p) => p,
        None => std::env::current_exe()?
            .parent()
            .context("locating the probe")?
            .join("probe"),
    };
    let spec_dir = cli
        .spec_dir
        .or_else(find_spec_dir)
        .context("runtime-spec not found: pass --spec-dir (shared/runtime-spec)")?;
    runner::run(Options {
        runtime,
        probe,
        busybox: cli.busybox,
        expected,
        tests,
        jobs: cli.jobs,
        timeout: Duration::from_secs(cli.timeout),
        work_dir: cli.work_dir,
        keep: cli.keep,
        spec_dir,
    })
}
