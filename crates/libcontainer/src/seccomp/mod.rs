//! seccomp filters (filled by the seccomp issue).
