//! What a scenario asks of a container engine, so each scenario is written once and runs on
//! containerd (`ctr`) and podman alike.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::ValueEnum;

use crate::cmd::Output;
use crate::pty::PtyRun;

/// The engines the lane drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum ClientKind {
    Containerd,
    Podman,
}

impl fmt::Display for ClientKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClientKind::Containerd => "containerd",
            ClientKind::Podman => "podman",
        })
    }
}

/// The runtimes: minke under test, runc as the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum RuntimeKind {
    Runc,
    Minke,
}

impl fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RuntimeKind::Runc => "runc",
            RuntimeKind::Minke => "minke",
        })
    }
}

/// A runtime as one client sees it.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub kind: RuntimeKind,
    /// The real binary.
    pub binary: PathBuf,
    /// The argv-logging wrapper the client is given (named like the runtime).
    pub wrapper: PathBuf,
    /// The log the wrapper appends to.
    pub argv_log: PathBuf,
    /// The runtime's own default `--root` (podman passes none).
    pub default_root: PathBuf,
}

/// What a container's status is, as the client reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Stopped,
    Other,
}

/// Resource limits a container is run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub memory_bytes: u64,
    pub pids: u64,
}

/// Usage read through the client (`ctr task metrics`, `podman stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub memory_usage: Option<u64>,
    pub memory_limit: Option<u64>,
    pub pids: Option<u64>,
}

/// One container engine with one runtime. `name` is the lane's name of a container; the
/// engine may give it another id (see [`Client::runtime_id`]).
pub trait Client {
    fn kind(&self) -> ClientKind;
    fn runtime(&self) -> &Runtime;

    /// Runs a container in the foreground, removed when it exits; returns the client's output
    /// and status (the container's, passed through).
    fn run(&mut self, name: &str, args: &[&str]) -> Result<Output>;
    /// Runs a container in the background, with `limits` if given, and waits until it runs.
    fn run_detached(&mut self, name: &str, args: &[&str], limits: Option<Limits>) -> Result<()>;
    /// Runs a container in the foreground on a terminal (`-t`, stdin attached).
    fn run_tty(&mut self, name: &str, args: &[&str]) -> Result<PtyRun>;
    /// Runs a process in the running container; returns output and status.
    fn exec(&mut self, name: &str, args: &[&str]) -> Result<Output>;
    /// Runs a process in the running container on a terminal.
    fn exec_tty(&mut self, name: &str, args: &[&str]) -> Result<PtyRun>;
    /// The command names of the container's processes, from the client's listing (`ctr task
    /// ps`, `podman top`).
    fn processes(&mut self, name: &str) -> Result<Vec<String>>;
    fn pause(&mut self, name: &str) -> Result<()>;
    fn resume(&mut self, name: &str) -> Result<()>;
    fn status(&mut self, name: &str) -> Result<Status>;
    /// The container's init pid on the host.
    fn init_pid(&mut self, name: &str) -> Result<u32>;
    /// Sends a signal by name ("TERM", "KILL") through the client.
    fn kill(&mut self, name: &str, signal: &str) -> Result<()>;
    /// Stops the container the client's way: SIGTERM, then SIGKILL after `timeout`.
    fn stop(&mut self, name: &str, timeout: Duration) -> Result<()>;
    /// Waits until the container has exited and returns its exit status.
    fn wait_exit(&mut self, name: &str) -> Result<i32>;
    /// Removes the container; `force` removes a running one (killing it).
    fn remove(&mut self, name: &str, force: bool) -> Result<()>;
    /// Whether the client still knows the container.
    fn exists(&mut self, name: &str) -> Result<bool>;
    /// The container's output so far (`podman logs`, containerd's log file).
    fn logs(&mut self, name: &str) -> Result<String>;
    fn stats(&mut self, name: &str) -> Result<Stats>;
    /// The id the runtime knows the container by.
    fn runtime_id(&mut self, name: &str) -> Result<String>;
    /// The `--root` the client runs the runtime with.
    fn runtime_root(&self) -> PathBuf;
    /// The cgroup path the client asked for (`linux.cgroupsPath`), if it can be known.
    fn expected_cgroup(&mut self, name: &str) -> Result<Option<String>>;
    /// The exit status the client gives when the runtime says a command does not exist
    /// (podman maps the runtime's "no such file" / "not found" to 127); `None` where the client
    /// has no such mapping (ctr exits 1 for any failure).
    fn missing_command_status(&self) -> Option<i32>;
    /// Removes whatever is left of the container, ignoring errors (after a failed scenario).
    fn force_cleanup(&mut self, name: &str);
}
