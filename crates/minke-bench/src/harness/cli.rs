//! The harness's command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Side-by-side start-up benchmark of OCI runtimes: minke, runc, crun and the floor, interleaved
/// in the same run with the order shuffled every round. Needs root. Never asserts a time.
#[derive(Debug, Parser)]
#[command(name = "minke-bench", version)]
pub struct Cli {
    /// Run the benchmark (default) or write a bundle.
    #[command(subcommand)]
    pub command: Option<Sub>,
    /// Benchmark options (when no subcommand is given).
    #[command(flatten)]
    pub bench: BenchArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Sub {
    /// Write one of the benchmark's bundles to DIR (for profiling a runtime by hand).
    Bundle {
        /// Directory to create.
        dir: PathBuf,
        /// Which bundle.
        #[arg(long, value_enum, default_value_t = VariantArg::Base)]
        variant: VariantArg,
        /// The static busybox the rootfs is made of.
        #[arg(long, default_value = "/bin/busybox")]
        busybox: PathBuf,
    },
}

/// A bundle variant on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum VariantArg {
    /// /bin/true with runc's default config.
    Base,
    /// /bin/true with memory, pids and cpu limits.
    Limits,
    /// /bin/true with a Docker-like seccomp profile.
    Seccomp,
    /// /bin/sleep 86400.
    Long,
}

/// How the harness learns that a started container's process exited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WaitMode {
    /// pidfd_open on the pid from --pid-file, poll until it is readable (the harness is a child
    /// subreaper, like containerd's shim, and reaps the init).
    Pidfd,
    /// Run `state` in a loop until it says "stopped" (bounded by --timeout-ms).
    State,
}

/// Groups of rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    /// create + start + wait + delete of /bin/true, back to back.
    Lifecycle,
    /// The same with a pause before each measurement (the cgroup v1 RCU stall shows here).
    Isolated,
    /// `run` of /bin/true.
    Run,
    /// lifecycle and run with memory, pids and cpu limits.
    Limits,
    /// lifecycle and run with a Docker-like seccomp profile.
    Seccomp,
    /// exec of /bin/true into, state and list of a running container.
    Exec,
    /// N containers created and started one after another, then deleted.
    Batch,
    /// What a command costs before any runtime code: spawning /bin/true, and crun's wrapper
    /// around /bin/true when crun runs through one.
    Overhead,
}

/// Options of a benchmark run.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Measured rounds per row (each runtime once per round, order shuffled).
    #[arg(long, default_value_t = 30)]
    pub rounds: usize,
    /// Unrecorded rounds before each group of rows.
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Runtimes to compare, from runc, crun, crun-ns, floor, floor-procs, minke.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "runc,crun,crun-ns,floor,floor-procs,minke"
    )]
    pub runtimes: Vec<String>,
    /// Groups of rows to run.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "overhead,lifecycle,isolated,run,limits,seccomp,exec,batch"
    )]
    pub rows: Vec<Group>,
    /// minke binary (default: `minke` next to this program, i.e. target/release/minke).
    #[arg(long, env = "MINKE")]
    pub minke: Option<PathBuf>,
    /// runc binary.
    #[arg(long, default_value = "/usr/bin/runc")]
    pub runc: PathBuf,
    /// crun, or a wrapper of it (default: the first of ../shared/tools/crun-v1 beside the
    /// workspace, /work/shared/tools/crun-v1, /usr/bin/crun that exists; the wrapper is what
    /// makes crun 1.8 work on a hybrid cgroup host).
    #[arg(long)]
    pub crun: Option<PathBuf>,
    /// The crun binary itself, for its size (the wrapper is what runs).
    #[arg(long, default_value = "/usr/bin/crun")]
    pub crun_binary: PathBuf,
    /// The floor (default: `minke-floor` next to this program).
    #[arg(long)]
    pub floor: Option<PathBuf>,
    /// Static busybox for the bundles' rootfs.
    #[arg(long, default_value = "/bin/busybox")]
    pub busybox: PathBuf,
    /// How to wait for a started container to exit.
    #[arg(long, value_enum, default_value_t = WaitMode::Pidfd)]
    pub wait: WaitMode,
    /// Pause before each measurement of the isolated rows, in ms.
    #[arg(long, default_value_t = 50)]
    pub pause_ms: u64,
    /// Containers in the batch.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Batches per runtime (runtimes in shuffled order each time).
    #[arg(long, default_value_t = 1)]
    pub batch_repeats: usize,
    /// Longest wait for a container to exit or a command to finish its part, in ms.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// Seed of the shuffles (default: from the clock; printed and saved).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where to write the JSON report (default: target/bench/latest.json next to the binaries).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Scratch directory for bundles and state roots (default: a new one in the temp dir;
    /// removed at the end).
    #[arg(long)]
    pub workdir: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let cli = Cli::try_parse_from(["minke-bench"]).unwrap();
        assert!(cli.command.is_none());
        let b = cli.bench;
        assert_eq!(b.rounds, 30);
        assert_eq!(
            b.runtimes,
            ["runc", "crun", "crun-ns", "floor", "floor-procs", "minke"]
        );
        assert_eq!(b.rows.len(), 8);
        assert_eq!(b.wait, WaitMode::Pidfd);
        assert_eq!(b.batch, 100);
    }

    #[test]
    fn lists_and_subcommand() {
        let cli = Cli::try_parse_from([
            "minke-bench",
            "--rows",
            "run,exec",
            "--runtimes",
            "floor",
            "--rounds",
            "5",
        ])
        .unwrap();
        assert_eq!(cli.bench.rows, [Group::Run, Group::Exec]);
        assert_eq!(cli.bench.runtimes, ["floor"]);
        let cli = Cli::try_parse_from(["minke-bench", "bundle", "/tmp/b", "--variant", "seccomp"])
            .unwrap();
        assert!(matches!(
            cli.command,
            Some(Sub::Bundle {
                variant: VariantArg::Seccomp,
                ..
            })
        ));
        assert!(Cli::try_parse_from(["minke-bench", "--rows", "nope"]).is_err());
    }
}
