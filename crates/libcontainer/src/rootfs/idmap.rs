//! Idmapped bind mounts (`idmap`/`ridmap`, spec 1.2): built by the runtime in its own
//! namespaces, as a detached mount tree (`open_tree(OPEN_TREE_CLONE)`) given an id mapping with
//! `mount_setattr(MOUNT_ATTR_IDMAP)`, then handed (as an fd) to the container's init, which
//! attaches it at the destination with `move_mount`. The mapping comes from a user namespace
//! made for it: a short-lived child unshares one, the runtime writes its maps and keeps an fd of
//! it.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;

use super::options::{attr, IdMap as IdMapKind};
use crate::plan::{IdMap, MountPlan, Plan};
use crate::sys::{self, Forked};

const OPEN_TREE_CLONE: u32 = 1;
const OPEN_TREE_CLOEXEC: u32 = libc::O_CLOEXEC as u32;

/// Errors preparing an idmapped mount.
#[derive(Debug, thiserror::Error)]
pub enum IdmapError {
    #[error("mounts[{index}]: idmap/ridmap is only supported on bind mounts")]
    NotBind { index: usize },
    #[error("mounts[{index}]: idmap needs uidMappings and gidMappings, or a user namespace with mappings")]
    NoMapping { index: usize },
    #[error("mounts[{index}]: {step}")]
    Step {
        index: usize,
        step: &'static str,
        #[source]
        source: Errno,
    },
    #[error("mounts[{index}]: writing the id maps of the mapping's user namespace")]
    Maps {
        index: usize,
        #[source]
        source: std::io::Error,
    },
}

/// Detached idmapped trees, by mount index.
pub type IdmappedTrees = BTreeMap<usize, OwnedFd>;

/// The maps a mount uses: its own, else the container's user namespace maps.
fn maps_for<'a>(m: &'a MountPlan, plan: &'a Plan) -> Option<(&'a [IdMap], &'a [IdMap])> {
    if !m.uid_map.is_empty() && !m.gid_map.is_empty() {
        return Some((&m.uid_map, &m.gid_map));
    }
    let ns = &plan.namespaces;
    if !ns.uid_map.is_empty() && !ns.gid_map.is_empty() {
        return Some((&ns.uid_map, &ns.gid_map));
    }
    None
}

/// Build every idmapped mount of the plan (in the runtime, before the container exists).
pub fn prepare(plan: &Plan) -> Result<IdmappedTrees, IdmapError> {
    let mut out = IdmappedTrees::new();
    for m in plan.mounts.iter().filter(|m| m.options.idmap.is_some()) {
        let index = m.index;
        if !m.is_bind() {
            return Err(IdmapError::NotBind { index });
        }
        let (uids, gids) = maps_for(m, plan).ok_or(IdmapError::NoMapping { index })?;
        let userns = mapping_userns(index, uids, gids)?;
        let source = m.source.as_ref().ok_or(IdmapError::NotBind { index })?;
        let cpath = CString::new(source.as_os_str().as_bytes()).map_err(|_| IdmapError::Step {
            index,
            step: "source path has a NUL byte",
            source: Errno::EINVAL,
        })?;
        let cwd = nix::fcntl::open(
            ".",
            nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|source| IdmapError::Step {
            index,
            step: "opening the working directory",
            source,
        })?;
        let mut flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC;
        if m.options.recursive_bind {
            flags |= libc::AT_RECURSIVE as u32;
        }
        let tree =
            sys::open_tree(cwd.as_fd(), &cpath, flags).map_err(|source| IdmapError::Step {
                index,
                step: "open_tree of the source",
                source,
            })?;
        let mut at = libc::AT_EMPTY_PATH as u32;
        if m.options.idmap == Some(IdMapKind::Recursive) {
            at |= libc::AT_RECURSIVE as u32;
        }
        sys::mount_setattr(tree.as_fd(), &CString::default(), at, attr::IDMAP, 0, 0, Some(userns.as_fd()))
            .map_err(|source| IdmapError::Step {
                index,
                step: "mount_setattr(MOUNT_ATTR_IDMAP) (does the source filesystem support idmapped mounts?)",
                source,
            })?;
        out.insert(index, tree);
    }
    Ok(out)
}

/// A user namespace with these maps, as an fd. A child unshares it and waits; the runtime
/// writes the maps, opens the namespace, and lets the child go.
fn mapping_userns(index: usize, uids: &[IdMap], gids: &[IdMap]) -> Result<OwnedFd, IdmapError> {
    let step = |step| {
        move |source| IdmapError::Step {
            index,
            step,
            source,
        }
    };
    let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(step("pipe"))?;
    sys::assert_single_threaded().map_err(step("fork"))?;
    let child = match sys::clone_fork(libc::CLONE_NEWUSER, None)
        .map_err(step("creating a user namespace"))?
    {
        Forked::Child => {
            drop(wr);
            let mut b = [0u8; 1];
            let _ = nix::unistd::read(&rd, &mut b);
            sys::exit_immediately(0);
        }
        Forked::Parent(pid) => pid,
    };
    drop(rd);
    let result = (|| {
        for (file, maps) in [("uid_map", uids), ("gid_map", gids)] {
            std::fs::write(
                format!("/proc/{}/{file}", child.as_raw()),
                IdMap::to_proc(maps),
            )
            .map_err(|source| IdmapError::Maps { index, source })?;
        }
        nix::fcntl::open(
            format!("/proc/{}/ns/user", child.as_raw()).as_str(),
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(step("opening the mapping's user namespace"))
    })();
    drop(wr);
    let _ = nix::sys::wait::waitpid(child, None);
    result
}
