//! minke-bench: the side-by-side start-up benchmark of OCI runtimes (issue 8).
//!
//! The library holds what the harness (`minke-bench`) and the floor (`minke-floor`) share: the
//! bundle and its seccomp profile, order statistics, a seeded shuffle, the floor itself, and the
//! only module with `unsafe` ([`sys`]). See `docs/performance.md` for how to run it and what
//! each row measures.
#![deny(unsafe_code)]

pub mod bundle;
pub mod floor;
pub mod rng;
pub mod seccomp_profile;
pub mod stats;
#[allow(unsafe_code)]
pub mod sys;
