//! cgroups v1 and v2 behind one interface.
//!
//! The flow follows the rest of libcontainer: host facts are probed once, planning is pure, and
//! only the live [`Cgroup`] handle touches the cgroup filesystem.
//!
//! ```text
//!  /proc/self/mountinfo ─┐
//!  /proc/self/cgroup  ───┼─ detect() ──► CgroupHost   (mode, mount points, own cgroups,
//!  root files, hugepages ┘                              controllers and files the host has)
//!
//!  CgroupHost + id + linux ── plan() ──► CgroupPlan    (pure, serde: one directory per
//!                                                       hierarchy, ordered writes, device
//!                                                       policy; errors name the JSON field)
//!
//!  CgroupPlan ── Cgroup::create() ──► Cgroup ── saved() ──► SavedCgroup (kept in state.json)
//!                 mkdir (recorded), enable            │
//!                 controllers, write, devices         └── load() later: add_process, update,
//!                                                         freeze/thaw, pids, kill_all, stats,
//!                                                         oom_events, destroy
//! ```
//!
//! Modes: [`CgroupMode::Legacy`] (v1 controllers only), [`CgroupMode::Hybrid`] (v1 controllers
//! plus a cgroup2 mount, which is joined as well and carries whatever controllers are bound to
//! it, e.g. hugetlb) and [`CgroupMode::Unified`] (pure cgroup v2). See `docs/cgroups.md`.

mod cgroup;
mod common;
pub mod devices;
mod freezer;
mod fs;
mod host;
mod oom;
mod path;
mod plan;
mod stats;
mod v1;
mod v2;

use std::io;
use std::path::PathBuf;

pub use cgroup::{Cgroup, SavedCgroup, SavedDir};
pub use freezer::FreezerState;
pub use host::{
    detect, detect_at, detect_with_root, CgroupHost, CgroupMode, UnifiedHierarchy, V1Hierarchy,
};
pub use oom::{OomEvent, OomWatcher};
pub use plan::{plan, CgroupPlan, DevicePlan, Hierarchy, Op, PlannedDir, Target, Write};
pub use stats::{
    BlkioEntry, BlkioStats, CpuStats, CpuUsage, CpusetStats, HugetlbStats, IntelRdt, MemoryEntry,
    MemoryStats, PidsStats, Stats, Throttling,
};
pub use v2::{blkio_weight_to_io_weight, cpu_shares_to_weight, memory_swap_to_v2};

/// Errors of the cgroups module. Configuration errors name the JSON field they come from.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A value in the configuration is invalid, or valid but not applicable on this host.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },

    #[error("no usable cgroup filesystem: {0}")]
    NoCgroupFs(String),

    #[error("reading {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("parsing {}: {reason}", path.display())]
    Parse { path: PathBuf, reason: String },

    /// Writing a resource value failed; `field` is the JSON field the value came from.
    #[error("{field}: writing {value:?} to {}{}", path.display(), missing_hint(source))]
    Write {
        field: String,
        path: PathBuf,
        value: String,
        #[source]
        source: io::Error,
    },

    /// None of the files that could carry a value exists in the cgroup.
    #[error("{field}: not supported by this kernel (none of {} exists in {})", files.join(", "), dir.display())]
    NoSuchFile {
        field: String,
        files: Vec<String>,
        dir: PathBuf,
    },

    #[error("{field}: controller {controller} is not enabled in {}{}", dir.display(), reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default())]
    ControllerNotEnabled {
        field: String,
        controller: String,
        dir: PathBuf,
        /// The last failed attempt to enable a controller on the way down, if any.
        reason: Option<String>,
    },

    #[error("{signal} is not a signal number")]
    BadSignal { signal: i32 },

    #[error("creating cgroup {}", path.display())]
    Mkdir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("removing cgroup {}", path.display())]
    Rmdir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("opening {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("moving process {pid} into {}", path.display())]
    AddProcess {
        pid: i32,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("loading the device filter for {}", path.display())]
    BpfLoad {
        path: PathBuf,
        #[source]
        source: crate::sys::bpf::LoadError,
    },

    #[error("{op} device filter on {}", path.display())]
    Bpf {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("timed out after {waited_ms} ms waiting for {} to be {state}", path.display())]
    Timeout {
        path: PathBuf,
        state: &'static str,
        waited_ms: u128,
    },

    #[error("sending signal {signal} to process {pid}")]
    Signal {
        pid: i32,
        signal: i32,
        #[source]
        source: nix::Error,
    },

    #[error("{what} is not available: {reason}")]
    Unavailable { what: &'static str, reason: String },

    #[error("setting up the oom watcher on {}", path.display())]
    OomWatch {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn missing_hint(e: &io::Error) -> &'static str {
    if e.kind() == io::ErrorKind::NotFound {
        " (the file does not exist: not supported by this kernel or controller)"
    } else {
        ""
    }
}

impl CgroupError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        CgroupError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
