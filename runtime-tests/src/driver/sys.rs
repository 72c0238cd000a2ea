//! The driver's only `unsafe`: taking ownership of a descriptor received over SCM_RIGHTS.
#![allow(unsafe_code)]

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Wraps a descriptor that `recvmsg` just installed in this process.
pub fn own_received_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: the kernel installed `fd` in our table for this SCM_RIGHTS message; nothing else
    // refers to it, so this OwnedFd is its only owner.
    unsafe { OwnedFd::from_raw_fd(fd) }
}
