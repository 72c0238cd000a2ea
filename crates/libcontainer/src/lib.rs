//! libcontainer: the mechanics of the minke OCI runtime.
//!
//! The flow is `config.json → Spec → validate (pure) → Plan (pure) → processes execute the Plan
//! → state.json`. See `docs/architecture.md` at the top of the repository. The entry point for
//! embedders is [`container::Runtime`].
#![deny(unsafe_code)]

pub mod capabilities;
pub mod cgroup_ops;
pub mod cgroups;
pub mod container;
pub mod exec;
pub mod features;
pub mod hooks;
pub mod lsm;
pub mod netdev;
pub mod plan;
pub mod proc;
pub mod procattrs;
pub mod process;
pub mod resctrl;
pub mod rootfs;
pub mod run;
pub mod seccomp;
pub mod selfexe;
pub mod spec;
pub mod state;
#[allow(unsafe_code)]
pub mod sys;
pub mod tty;

pub use container::{CreateRequest, Error, Runtime, StateReport};
pub use plan::CreateOptions;
