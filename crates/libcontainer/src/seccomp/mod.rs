//! seccomp filters (the full implementation lands with the seccomp issue).

/// The version of the libseccomp library minke is linked against.
pub fn libseccomp_version() -> String {
    match libseccomp::ScmpVersion::current() {
        Ok(v) => format!("{}.{}.{}", v.major, v.minor, v.micro),
        Err(_) => "unknown".into(),
    }
}
