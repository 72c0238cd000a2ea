//! seccomp filters from `linux.seccomp` (config-linux.md, "Seccomp"), runc 1.1.5-compatible.
//!
//! ```text
//! LinuxSeccomp ──validate──▶ ok            pure: rules between fields, JSON paths in errors
//!      │
//!      └──lower──▶ Plan                    pure: one rule per name, runc's splitting/skipping
//!                   │
//!   compile ────────┴─ kernel check ─▶ libseccomp ctx ─▶ exported BPF
//!                      (flags, actions)                   + -ENOSYS prologue ─▶ Filter
//!   (before privileges are dropped; allocates)
//!
//!   Filter::install ─▶ seccomp(SECCOMP_SET_MODE_FILTER, flags, prog) ─▶ Option<notify fd>
//!   (last step before execve; no allocation)
//!
//!   send_to_listener(listenerPath, ContainerProcessState, fd)   from `minke start`, host side
//! ```
//!
//! See `docs/seccomp.md` for the order of operations at exec time and the runc notes.

mod bpf;
mod compile;
mod enosys;
mod features;
mod listener;
mod rules;
mod validate;

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use oci_spec::runtime::LinuxSeccomp;

use crate::sys::seccomp as sys;

pub use features::{features, SeccompFeatures};
pub use listener::{process_state, send_to_listener};
pub use rules::{lower, Action, Condition, Origin, Plan, Rule};
pub use validate::validate;

/// Errors of this module. Configuration errors name the JSON path.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("{field}: {what} is not supported by the running kernel")]
    Unsupported { field: String, what: String },
    #[error("{field}: libseccomp rejected {what}")]
    Libseccomp {
        field: String,
        what: String,
        #[source]
        source: libseccomp::error::SeccompError,
    },
    #[error("exporting the seccomp program: {reason}")]
    Export { reason: String },
    #[error("exporting the seccomp program")]
    ExportIo(#[source] std::io::Error),
    #[error(
        "linux.seccomp: the filter has {len} instructions, more than the kernel's limit of {max}"
    )]
    TooLarge { len: usize, max: usize },
    #[error("loading the seccomp filter: no_new_privs is not set and CAP_SYS_ADMIN is missing")]
    LoadPermission(#[source] nix::errno::Errno),
    #[error("loading the seccomp filter")]
    Load(#[source] nix::errno::Errno),
    #[error("loading the seccomp filter: thread {tid} could not be synchronised (SECCOMP_FILTER_FLAG_TSYNC)")]
    ThreadSync { tid: i64 },
    #[error("seccomp listener {}: {step}", path.display())]
    Listener {
        path: PathBuf,
        step: &'static str,
        #[source]
        source: nix::errno::Errno,
    },
    #[error("seccomp listener: encoding the container process state")]
    ListenerEncode(#[source] serde_json::Error),
    #[error("seccomp listener: {reason}")]
    ListenerState { reason: String },
}

/// A compiled filter, ready to load.
pub struct Filter {
    program: Vec<libc::sock_filter>,
    flags: u32,
    needs_listener: bool,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter")
            .field("instructions", &self.program.len())
            .field("flags", &format_args!("{:#x}", self.flags))
            .field("needs_listener", &self.needs_listener)
            .finish()
    }
}

/// Build the filter for `seccomp`: validate, lower, check the kernel supports the flags and
/// actions used, let libseccomp generate the program and put the `-ENOSYS` prologue in front.
pub fn compile(seccomp: &LinuxSeccomp) -> Result<Filter, SeccompError> {
    let plan = lower(seccomp)?;
    for origin in &plan.redundant {
        log::debug!("seccomp: {origin} has the default action, skipped");
    }
    compile::check_kernel(&plan)?;
    let program = compile::program(&plan)?;
    Ok(Filter {
        program: program.into_iter().map(bpf::Insn::to_raw).collect(),
        flags: plan.load_flags,
        needs_listener: plan.needs_listener,
    })
}

impl Filter {
    /// Load the filter for the calling thread (all threads with `SECCOMP_FILTER_FLAG_TSYNC`).
    /// Returns the notify fd when a rule uses `SCMP_ACT_NOTIFY`. Does one syscall and no
    /// allocation: it is meant to run right before `execve`. Needs `no_new_privs` or
    /// `CAP_SYS_ADMIN`.
    ///
    /// On success the program's memory is deliberately not freed: `free` may call `brk` or
    /// `munmap`, which the new filter may forbid (or kill for), and `execve` reclaims it anyway.
    pub fn install(self) -> Result<Option<OwnedFd>, SeccompError> {
        let loaded = sys::set_mode_filter(self.flags, &self.program).map_err(|e| match e {
            sys::LoadError::Errno(nix::errno::Errno::EACCES) => {
                SeccompError::LoadPermission(nix::errno::Errno::EACCES)
            }
            sys::LoadError::Errno(errno) => SeccompError::Load(errno),
            sys::LoadError::ThreadNotSynchronised(tid) => SeccompError::ThreadSync { tid },
        })?;
        std::mem::forget(self.program);
        Ok(loaded)
    }

    /// Whether [`Filter::install`] will return a notify fd to send to `listenerPath`.
    pub fn needs_listener(&self) -> bool {
        self.needs_listener
    }

    /// Number of BPF instructions (for logs and tests).
    pub fn len(&self) -> usize {
        self.program.len()
    }

    /// Whether the program is empty (never, for a compiled filter).
    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }
}

#[cfg(test)]
mod tests;

/// The version of the libseccomp library minke is linked against (for `--version`).
pub fn libseccomp_version() -> String {
    match libseccomp::ScmpVersion::current() {
        Ok(v) => format!("{}.{}.{}", v.major, v.minor, v.micro),
        Err(_) => "unknown".into(),
    }
}
