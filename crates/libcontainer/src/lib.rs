//! libcontainer: the mechanics of the minke OCI runtime.
//!
//! The flow is `config.json → Spec → validate (pure) → Plan (pure) → processes execute the Plan
//! → state.json`. See `docs/architecture.md` at the top of the repository.
#![deny(unsafe_code)]

pub mod cgroups;
pub mod seccomp;
#[allow(unsafe_code)]
pub mod sys;
