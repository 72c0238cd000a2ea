//! The only module with `unsafe`: thin, documented syscall wrappers.

pub mod bpf;
