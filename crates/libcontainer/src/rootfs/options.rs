//! Mount options of config.json (config.md "Linux mount options") turned into what the kernel
//! takes: mount(2) flags to set and clear, propagation changes, recursive attributes for
//! mount_setattr(2), the idmap request, `tmpcopyup`, and the filesystem-specific data string.
//! Pure: no syscalls.

use serde::{Deserialize, Serialize};

/// mount(2) flags (values from <linux/mount.h>; `libc` has them but as `c_ulong` per arch).
pub mod flags {
    pub const RDONLY: u64 = libc::MS_RDONLY;
    pub const NOSUID: u64 = libc::MS_NOSUID;
    pub const NODEV: u64 = libc::MS_NODEV;
    pub const NOEXEC: u64 = libc::MS_NOEXEC;
    pub const SYNCHRONOUS: u64 = libc::MS_SYNCHRONOUS;
    pub const REMOUNT: u64 = libc::MS_REMOUNT;
    pub const MANDLOCK: u64 = libc::MS_MANDLOCK;
    pub const DIRSYNC: u64 = libc::MS_DIRSYNC;
    pub const NOSYMFOLLOW: u64 = 256;
    pub const NOATIME: u64 = libc::MS_NOATIME;
    pub const NODIRATIME: u64 = libc::MS_NODIRATIME;
    pub const BIND: u64 = libc::MS_BIND;
    pub const REC: u64 = libc::MS_REC;
    pub const SILENT: u64 = libc::MS_SILENT;
    pub const UNBINDABLE: u64 = libc::MS_UNBINDABLE;
    pub const PRIVATE: u64 = libc::MS_PRIVATE;
    pub const SLAVE: u64 = libc::MS_SLAVE;
    pub const SHARED: u64 = libc::MS_SHARED;
    pub const RELATIME: u64 = libc::MS_RELATIME;
    pub const I_VERSION: u64 = libc::MS_I_VERSION;
    pub const STRICTATIME: u64 = libc::MS_STRICTATIME;
    pub const LAZYTIME: u64 = libc::MS_LAZYTIME;
    /// Flags that only make sense for (re)mounting a filesystem, as opposed to propagation.
    pub const ATIME_MASK: u64 = NOATIME | RELATIME | STRICTATIME;
}

/// mount_setattr(2) attributes (<linux/mount.h>).
pub mod attr {
    pub const RDONLY: u64 = 0x1;
    pub const NOSUID: u64 = 0x2;
    pub const NODEV: u64 = 0x4;
    pub const NOEXEC: u64 = 0x8;
    pub const ATIME_MASK: u64 = 0x70;
    pub const RELATIME: u64 = 0x00;
    pub const NOATIME: u64 = 0x10;
    pub const STRICTATIME: u64 = 0x20;
    pub const NODIRATIME: u64 = 0x80;
    pub const IDMAP: u64 = 0x100000;
    pub const NOSYMFOLLOW: u64 = 0x200000;
}

/// Recursive attributes to apply to a whole mount tree with `mount_setattr(AT_RECURSIVE)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecursiveAttrs {
    pub set: u64,
    pub clear: u64,
}

impl RecursiveAttrs {
    pub fn is_empty(&self) -> bool {
        self.set == 0 && self.clear == 0
    }
}

/// Which idmapping the mount asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdMap {
    /// `idmap`: the mount itself only.
    Single,
    /// `ridmap`: the whole tree.
    Recursive,
}

/// The parsed options of one mount.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountOptions {
    /// Flags for mount(2).
    pub flags: u64,
    /// Flags explicitly cleared by an option (e.g. `rw`, `suid`), needed for bind remounts where
    /// the remount must not keep the flags of the source mount that an option turned off.
    pub cleared: u64,
    /// Propagation changes, applied one after another after the mount (`MS_SHARED|MS_REC`, ...).
    pub propagation: Vec<u64>,
    /// `bind` or `rbind` was given.
    pub bind: bool,
    /// `rbind` was given.
    pub recursive_bind: bool,
    pub recursive: RecursiveAttrs,
    pub idmap: Option<IdMap>,
    pub tmpcopyup: bool,
    /// Filesystem-specific options, comma-joined, for mount(2)'s data argument.
    pub data: String,
}

/// An option the runtime cannot accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    #[error("{0:?} conflicts with {1:?}")]
    Conflict(String, String),
    #[error("empty option string")]
    Empty,
}

enum Kind {
    Set(u64),
    Clear(u64),
    Prop(u64),
    RecSet(u64),
    RecClear(u64),
    RecAtime(u64),
    Bind { recursive: bool },
    IdMap(IdMap),
    TmpCopyUp,
    Ignore,
}

fn classify(opt: &str) -> Option<Kind> {
    use Kind::*;
    Some(match opt {
        "defaults" => Ignore,
        "ro" => Set(flags::RDONLY),
        "rw" => Clear(flags::RDONLY),
        "suid" => Clear(flags::NOSUID),
        "nosuid" => Set(flags::NOSUID),
        "dev" => Clear(flags::NODEV),
        "nodev" => Set(flags::NODEV),
        "exec" => Clear(flags::NOEXEC),
        "noexec" => Set(flags::NOEXEC),
        "sync" => Set(flags::SYNCHRONOUS),
        "async" => Clear(flags::SYNCHRONOUS),
        "dirsync" => Set(flags::DIRSYNC),
        "remount" => Set(flags::REMOUNT),
        "mand" => Set(flags::MANDLOCK),
        "nomand" => Clear(flags::MANDLOCK),
        "atime" => Clear(flags::NOATIME),
        "noatime" => Set(flags::NOATIME),
        "diratime" => Clear(flags::NODIRATIME),
        "nodiratime" => Set(flags::NODIRATIME),
        "relatime" => Set(flags::RELATIME),
        "norelatime" => Clear(flags::RELATIME),
        "strictatime" => Set(flags::STRICTATIME),
        "nostrictatime" => Clear(flags::STRICTATIME),
        "lazytime" => Set(flags::LAZYTIME),
        "nolazytime" => Clear(flags::LAZYTIME),
        "iversion" => Set(flags::I_VERSION),
        "noiversion" => Clear(flags::I_VERSION),
        "silent" => Set(flags::SILENT),
        "loud" => Clear(flags::SILENT),
        "nosymfollow" => Set(flags::NOSYMFOLLOW),
        "symfollow" => Clear(flags::NOSYMFOLLOW),
        "bind" => Bind { recursive: false },
        "rbind" => Bind { recursive: true },
        "private" => Prop(flags::PRIVATE),
        "rprivate" => Prop(flags::PRIVATE | flags::REC),
        "shared" => Prop(flags::SHARED),
        "rshared" => Prop(flags::SHARED | flags::REC),
        "slave" => Prop(flags::SLAVE),
        "rslave" => Prop(flags::SLAVE | flags::REC),
        "unbindable" => Prop(flags::UNBINDABLE),
        "runbindable" => Prop(flags::UNBINDABLE | flags::REC),
        "rro" => RecSet(attr::RDONLY),
        "rrw" => RecClear(attr::RDONLY),
        "rnosuid" => RecSet(attr::NOSUID),
        "rsuid" => RecClear(attr::NOSUID),
        "rnodev" => RecSet(attr::NODEV),
        "rdev" => RecClear(attr::NODEV),
        "rnoexec" => RecSet(attr::NOEXEC),
        "rexec" => RecClear(attr::NOEXEC),
        "rnodiratime" => RecSet(attr::NODIRATIME),
        "rdiratime" => RecClear(attr::NODIRATIME),
        "rnosymfollow" => RecSet(attr::NOSYMFOLLOW),
        "rsymfollow" => RecClear(attr::NOSYMFOLLOW),
        "rrelatime" => RecAtime(attr::RELATIME),
        "rnoatime" => RecAtime(attr::NOATIME),
        "rstrictatime" => RecAtime(attr::STRICTATIME),
        // "Clear the atime bits" recursively: back to the kernel default, relatime.
        "ratime" | "rnorelatime" | "rnostrictatime" => RecAtime(attr::RELATIME),
        "idmap" => IdMap(self::IdMap::Single),
        "ridmap" => IdMap(self::IdMap::Recursive),
        "tmpcopyup" => TmpCopyUp,
        _ => return None,
    })
}

/// Parse a mount's `options` array.
pub fn parse(options: &[String]) -> Result<MountOptions, OptionError> {
    let mut out = MountOptions::default();
    let mut data: Vec<&str> = Vec::new();
    for opt in options {
        if opt.is_empty() {
            return Err(OptionError::Empty);
        }
        match classify(opt) {
            Some(Kind::Set(f)) => {
                // The atime family is mutually exclusive in the kernel: the last one wins.
                if f & flags::ATIME_MASK != 0 {
                    out.flags &= !flags::ATIME_MASK;
                }
                out.flags |= f;
                out.cleared &= !f;
            }
            Some(Kind::Clear(f)) => {
                out.flags &= !f;
                out.cleared |= f;
            }
            Some(Kind::Prop(p)) => out.propagation.push(p),
            Some(Kind::RecSet(a)) => {
                out.recursive.set |= a;
                out.recursive.clear &= !a;
            }
            Some(Kind::RecClear(a)) => {
                out.recursive.clear |= a;
                out.recursive.set &= !a;
            }
            Some(Kind::RecAtime(a)) => {
                out.recursive.clear |= attr::ATIME_MASK;
                out.recursive.set = (out.recursive.set & !attr::ATIME_MASK) | a;
            }
            Some(Kind::Bind { recursive }) => {
                out.bind = true;
                out.recursive_bind |= recursive;
            }
            Some(Kind::IdMap(m)) => {
                if let Some(prev) = out.idmap {
                    if prev != m {
                        return Err(OptionError::Conflict("idmap".into(), "ridmap".into()));
                    }
                }
                out.idmap = Some(m);
            }
            Some(Kind::TmpCopyUp) => out.tmpcopyup = true,
            Some(Kind::Ignore) => {}
            None => data.push(opt),
        }
    }
    out.data = data.join(",");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(opts: &[&str]) -> MountOptions {
        parse(&opts.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn plain_flags_and_data() {
        let o = p(&["nosuid", "noexec", "nodev", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, flags::NOSUID | flags::NOEXEC | flags::NODEV);
        assert_eq!(o.data, "mode=755,size=65536k");
        assert!(!o.bind);
    }

    #[test]
    fn later_option_wins() {
        let o = p(&["ro", "rw"]);
        assert_eq!(o.flags & flags::RDONLY, 0);
        assert_eq!(o.cleared & flags::RDONLY, flags::RDONLY);
        let o = p(&["rw", "ro"]);
        assert_eq!(o.flags & flags::RDONLY, flags::RDONLY);
        assert_eq!(o.cleared & flags::RDONLY, 0);
        let o = p(&["noatime", "strictatime"]);
        assert_eq!(o.flags & flags::ATIME_MASK, flags::STRICTATIME);
    }

    #[test]
    fn bind_and_propagation() {
        let o = p(&["rbind", "rprivate", "ro"]);
        assert!(o.bind && o.recursive_bind);
        assert_eq!(o.propagation, vec![flags::PRIVATE | flags::REC]);
        assert_eq!(o.flags, flags::RDONLY);
        let o = p(&["bind", "shared", "runbindable"]);
        assert!(o.bind && !o.recursive_bind);
        assert_eq!(
            o.propagation,
            vec![flags::SHARED, flags::UNBINDABLE | flags::REC]
        );
    }

    #[test]
    fn recursive_attributes() {
        let o = p(&["rbind", "rro", "rnosuid", "rnoatime"]);
        assert_eq!(o.recursive.set, attr::RDONLY | attr::NOSUID | attr::NOATIME);
        assert_eq!(o.recursive.clear, attr::ATIME_MASK);
        let o = p(&["rro", "rrw"]);
        assert_eq!(o.recursive.set & attr::RDONLY, 0);
        assert_eq!(o.recursive.clear & attr::RDONLY, attr::RDONLY);
    }

    #[test]
    fn idmap_and_tmpcopyup_are_not_data() {
        let o = p(&["idmap", "tmpcopyup", "defaults"]);
        assert_eq!(o.idmap, Some(IdMap::Single));
        assert!(o.tmpcopyup);
        assert_eq!(o.data, "");
        assert!(parse(&["idmap".into(), "ridmap".into()]).is_err());
        assert!(parse(&["".into()]).is_err());
    }
}
