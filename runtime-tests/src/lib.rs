//! minke's conformance suite.
//!
//! The driver (`runtime-tests`) builds a bundle per test, drives the runtime under test through
//! the OCI lifecycle exactly as containerd does, and checks what the probe (a static binary that
//! runs as the container process) reports against what config.json asked for.
#![deny(unsafe_code)]

pub mod driver;
pub mod report;
pub mod tests;
