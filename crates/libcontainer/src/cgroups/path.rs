//! `linux.cgroupsPath` → one directory per hierarchy, with runc's cgroupfs conventions:
//!
//! * absolute (`/a/b`): below the hierarchy's mount point;
//! * relative (`a/b`): v1 (and the cgroup2 mount of a hybrid host) below this process's own
//!   cgroup in that hierarchy; pure v2 below the *parent* of this process's cgroup (its own
//!   cgroup usually has processes, so controllers cannot be enabled below it);
//! * absent: the relative path `<container id>`.
//!
//! Paths are cleaned lexically the way runc does it: `.` and empty components are dropped and
//! `..` can never climb above the start.

use std::path::{Path, PathBuf};

use super::CgroupError;

const FIELD: &str = "linux.cgroupsPath";

/// A cleaned cgroups path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Inner {
    pub absolute: bool,
    pub components: Vec<String>,
}

impl Inner {
    /// The cleaned path as text (`/a/b` or `a/b`).
    pub fn display(&self) -> String {
        let joined = self.components.join("/");
        if self.absolute {
            format!("/{joined}")
        } else {
            joined
        }
    }
}

fn clean(path: &str) -> Inner {
    let mut components: Vec<String> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                components.pop();
            }
            c => components.push(c.to_string()),
        }
    }
    Inner {
        absolute: path.starts_with('/'),
        components,
    }
}

/// The cleaned `cgroupsPath`, or the default for container `id`.
pub(crate) fn inner_path(id: &str, cgroups_path: Option<&Path>) -> Result<Inner, CgroupError> {
    match cgroups_path {
        Some(p) => {
            let s = p
                .to_str()
                .ok_or_else(|| CgroupError::invalid(FIELD, "is not valid UTF-8"))?;
            if s.contains('\n') {
                return Err(CgroupError::invalid(FIELD, "must not contain a newline"));
            }
            let inner = clean(s);
            if inner.components.is_empty() {
                return Err(CgroupError::invalid(
                    FIELD,
                    format!("{s:?} resolves to the root of the cgroup hierarchy"),
                ));
            }
            Ok(inner)
        }
        None => {
            if id.is_empty() || id == "." || id == ".." || id.contains('/') || id.contains('\n') {
                return Err(CgroupError::invalid(
                    "id",
                    format!(
                        "{id:?} cannot name a cgroup (needed because linux.cgroupsPath is absent)"
                    ),
                ));
            }
            Ok(Inner {
                absolute: false,
                components: vec![id.to_string()],
            })
        }
    }
}

/// The directory for `inner` in a hierarchy mounted at `mount_point` whose top is the cgroup
/// `mount_root`, where this process is in `own_cgroup`. `below_parent` selects pure v2's rule of
/// starting at the parent of the own cgroup.
pub(crate) fn resolve(
    mount_point: &Path,
    mount_root: &str,
    own_cgroup: &str,
    inner: &Inner,
    below_parent: bool,
) -> PathBuf {
    let mut dir = mount_point.to_path_buf();
    if !inner.absolute {
        let own = clean(own_cgroup).components;
        let top = clean(mount_root).components;
        let mut rel: Vec<String> = if own.starts_with(&top) {
            own[top.len()..].to_vec()
        } else {
            Vec::new()
        };
        if below_parent {
            rel.pop();
        }
        for c in rel {
            dir.push(c);
        }
    }
    for c in &inner.components {
        dir.push(c);
    }
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inner(s: &str) -> Inner {
        inner_path("ctr", Some(Path::new(s))).unwrap()
    }

    #[test]
    fn cleans_like_runc() {
        assert_eq!(inner("/a/../b/./c/").display(), "/b/c");
        assert_eq!(inner("../../etc/x").display(), "etc/x");
        assert_eq!(inner("a//b").components, vec!["a", "b"]);
        assert!(inner_path("c", Some(Path::new("/"))).is_err());
        assert!(inner_path("c", Some(Path::new("a/.."))).is_err());
    }

    #[test]
    fn default_is_the_id_relative() {
        let i = inner_path("abc", None).unwrap();
        assert_eq!(
            i,
            Inner {
                absolute: false,
                components: vec!["abc".into()]
            }
        );
        let e = inner_path("a/b", None).unwrap_err();
        assert!(e.to_string().starts_with("id: "), "{e}");
    }

    #[test]
    fn absolute_is_below_the_mount_point() {
        let p = resolve(
            Path::new("/sys/fs/cgroup/memory"),
            "/",
            "/own/x",
            &inner("/a/b"),
            false,
        );
        assert_eq!(p, Path::new("/sys/fs/cgroup/memory/a/b"));
    }

    #[test]
    fn relative_v1_is_below_the_own_cgroup() {
        let p = resolve(
            Path::new("/sys/fs/cgroup/memory"),
            "/",
            "/process_api/h",
            &inner("c"),
            false,
        );
        assert_eq!(p, Path::new("/sys/fs/cgroup/memory/process_api/h/c"));
        // a mount showing a subtree: the own path is taken relative to the mount's root
        let p = resolve(
            Path::new("/sys/fs/cgroup/cpu"),
            "/docker/x",
            "/docker/x/y",
            &inner("c"),
            false,
        );
        assert_eq!(p, Path::new("/sys/fs/cgroup/cpu/y/c"));
    }

    #[test]
    fn relative_v2_is_below_the_parent_of_the_own_cgroup() {
        let p = resolve(
            Path::new("/sys/fs/cgroup"),
            "/",
            "/user.slice/s.scope",
            &inner("c"),
            true,
        );
        assert_eq!(p, Path::new("/sys/fs/cgroup/user.slice/c"));
        let p = resolve(Path::new("/sys/fs/cgroup"), "/", "/", &inner("c/d"), true);
        assert_eq!(p, Path::new("/sys/fs/cgroup/c/d"));
    }
}
