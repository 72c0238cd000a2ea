//! Mount options of `mounts[].options` turned into mount(2) flags and data (pure).

use nix::mount::MsFlags;
use thiserror::Error;

/// Errors of mount option parsing.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum MountOptionError {
    /// An option the floor does not implement (idmap, ID-mapped or recursive attributes).
    #[error("mounts[{index}].options: {option:?} is not supported by the floor")]
    Unsupported {
        /// Index of the mount in `mounts`.
        index: usize,
        /// The option.
        option: String,
    },
}

/// What one mount's options ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for mount(2) (a bind mount gets them in a second, remount call).
    pub flags: MsFlags,
    /// Propagation flags, applied by a separate mount(2) call after the mount.
    pub propagation: MsFlags,
    /// `bind` or `rbind` was given.
    pub bind: bool,
    /// `rbind` was given.
    pub recursive: bool,
    /// Filesystem-specific options, comma-joined, for mount(2)'s data.
    pub data: String,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            propagation: MsFlags::empty(),
            bind: false,
            recursive: false,
            data: String::new(),
        }
    }
}

/// Parses the options of mount number `index`.
pub fn parse(index: usize, options: &[String]) -> Result<MountOptions, MountOptionError> {
    let mut out = MountOptions::default();
    let mut data = Vec::new();
    for option in options {
        let (set, clear) = match option.as_str() {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "bind" => {
                out.bind = true;
                continue;
            }
            "rbind" => {
                out.bind = true;
                out.recursive = true;
                continue;
            }
            other => {
                if let Some(p) = propagation(other) {
                    out.propagation |= p;
                    continue;
                }
                if other == "idmap" || other == "ridmap" || is_recursive_attr(other) {
                    return Err(MountOptionError::Unsupported {
                        index,
                        option: other.to_string(),
                    });
                }
                data.push(other.to_string());
                continue;
            }
        };
        out.flags = (out.flags | set) & !clear;
    }
    out.data = data.join(",");
    Ok(out)
}

fn propagation(option: &str) -> Option<MsFlags> {
    Some(match option {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

/// `rro`, `rnosuid`, … (recursive mount attributes, mount_setattr(2)).
fn is_recursive_attr(option: &str) -> bool {
    matches!(
        option,
        "rro"
            | "rrw"
            | "rnosuid"
            | "rsuid"
            | "rnodev"
            | "rdev"
            | "rnoexec"
            | "rexec"
            | "rnoatime"
            | "ratime"
            | "rrelatime"
            | "rnorelatime"
            | "rstrictatime"
            | "rnostrictatime"
            | "rnodiratime"
            | "rdiratime"
            | "rnosymfollow"
            | "rsymfollow"
    )
}

/// Flags that a bind remount must keep from the mount it changes (the kernel refuses to clear
/// locked ones), as reported by statvfs.
pub fn flags_from_statvfs(flags: nix::sys::statvfs::FsFlags) -> MsFlags {
    use nix::sys::statvfs::FsFlags;
    let mut out = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if flags.contains(fs) {
            out |= ms;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn runc_dev_tmpfs() {
        let o = parse(
            1,
            &opts(&["nosuid", "strictatime", "mode=755", "size=65536k"]),
        )
        .unwrap();
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data, "mode=755,size=65536k");
        assert!(!o.bind);
    }

    #[test]
    fn devpts_keeps_its_data() {
        let o = parse(
            2,
            &opts(&[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ]),
        )
        .unwrap();
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC);
        assert_eq!(o.data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
    }

    #[test]
    fn later_options_win() {
        let o = parse(0, &opts(&["ro", "rw", "nodev", "dev", "noexec"])).unwrap();
        assert_eq!(o.flags, MsFlags::MS_NOEXEC);
    }

    #[test]
    fn bind_and_propagation() {
        let o = parse(0, &opts(&["rbind", "ro", "rslave"])).unwrap();
        assert!(o.bind && o.recursive);
        assert_eq!(o.flags, MsFlags::MS_RDONLY);
        assert_eq!(o.propagation, MsFlags::MS_SLAVE | MsFlags::MS_REC);
        assert_eq!(o.data, "");
    }

    #[test]
    fn recursive_attributes_are_refused() {
        let err = parse(3, &opts(&["rro"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "mounts[3].options: \"rro\" is not supported by the floor"
        );
        assert!(parse(0, &opts(&["idmap"])).is_err());
    }

    #[test]
    fn statvfs_flags_map_to_mount_flags() {
        use nix::sys::statvfs::FsFlags;
        let f = flags_from_statvfs(FsFlags::ST_RDONLY | FsFlags::ST_NOSUID | FsFlags::ST_NOEXEC);
        assert_eq!(
            f,
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC
        );
    }
}
