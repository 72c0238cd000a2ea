//! The processes that create and run a container, and the typed protocol between them.
//!
//! ```text
//!  minke create (parent)                 child (init, or intermediate)        minke start
//!  ─────────────────────                 ─────────────────────────────        ───────────
//!  plan, state dir, cgroup
//!  listen on <state>/init.sock
//!  clone(flags) ───────────────────────▶ (born in its namespaces, or none)
//!  [new userns in clone] write id maps
//!  place child in the cgroup
//!  ── Proceed ────────────────────────▶
//!                                        [two-stage] setns(joined ns, user last)
//!                                        [two-stage] unshare(NEWUSER)
//!  ◀──────────────────────── WriteIdMaps   (pid)
//!  write /proc/<pid>/{uid,gid}_map
//!  ── Proceed ────────────────────────▶
//!                                        [two-stage] unshare(rest), timens offsets
//!                                        [two-stage] fork ──▶ init (grandchild)
//!  ◀───────────────────────── InitPid      (intermediate exits)
//!                                        init: unshare(NEWCGROUP), setuid(0) in userns,
//!                                        hostname, mounts, /dev
//!  ◀──────────────────── RunCreateHooks
//!  prestart + createRuntime hooks
//!  ── CreateHooksDone{state} ─────────▶
//!                                        createContainer hooks, pivot_root,
//!                                        masked/readonly paths, sysctl, rlimits,
//!                                        exec path lookup, pty → console socket
//!  ◀──────────────────────────── Ready
//!  state.json (created), pid file, exit  init: accept() on init.sock
//!                                        ◀──────────────────── Start{state} ── connect
//!                                        startContainer hooks, setgroups/gid/uid,
//!                                        caps, no_new_privs, seccomp
//!                                        [notify] ── SeccompFd (SCM_RIGHTS) ──▶ to listener
//!                                        ── Executing ────────────────────────▶
//!                                        execve(process.args)  (socket closes: EOF) ──▶
//!                                        [execve failed] ── Failed(chain) ────▶
//!                                                                            poststart hooks
//!                                                                            state: started
//! ```
//! Any step that fails sends `Failed(ErrorChain)` and exits; the parent then kills what it
//! started, removes the cgroup and the state directory, and returns the chain as its error.
//! End of stream without `Ready` means the child died: the parent reports its exit status.

pub mod channel;
pub mod init;
pub mod parent;

use serde::{Deserialize, Serialize};

pub use channel::{Channel, ChannelError, ErrorChain};

/// Child (intermediate or init) → the `create` process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChildMsg {
    /// The sender unshared a user namespace: write uid/gid maps for `pid` (in the parent's
    /// pid namespace), then send `Proceed`.
    WriteIdMaps { pid: i32 },
    /// The intermediate forked the init; `pid` is in the parent's pid namespace.
    InitPid { pid: i32 },
    /// Mounts are done, pivot_root is not: run the prestart and createRuntime hooks.
    RunCreateHooks,
    /// The init is ready and waits for `start`.
    Ready,
    /// A warning for the runtime's log (e.g. ignored capabilities).
    Warn(String),
    /// Setup failed.
    Failed(ErrorChain),
}

/// The `create` process → child.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParentMsg {
    /// Go on (cgroup placement and/or id maps are in place).
    Proceed,
    /// prestart/createRuntime hooks ran; `state` is the state JSON for createContainer hooks.
    CreateHooksDone { state: String },
}

/// `start` → init.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StartMsg {
    /// Run the user process. `state` is the state JSON for the startContainer hooks (the pid
    /// in it is replaced by the init with its own pid, as the container sees it).
    Start { state: String },
}

/// Init → `start`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InitReply {
    /// The seccomp notify fd is attached (SCM_RIGHTS): send it to `listenerPath`.
    SeccompFd,
    /// Everything is set; execve comes next. EOF after this means execve succeeded.
    Executing,
    /// Start failed (a startContainer hook, a credential change, execve).
    Failed(ErrorChain),
}
