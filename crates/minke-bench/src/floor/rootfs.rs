//! The container's filesystem view, done by the init in its new mount namespace: mounts of the
//! bundle, device nodes and /dev symlinks, pivot_root, masked and read-only paths, read-only
//! root.
//!
//! Paths of `mounts[].destination` are joined to the rootfs without resolving symlinks inside
//! it (a real runtime must resolve them safely; the floor's bundle is the benchmark's own).

use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Component, Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode};
use nix::sys::statvfs::statvfs;
use nix::unistd::{chdir, chown, pivot_root, Gid, Uid};
use thiserror::Error;

use super::cgroups::{Placement, Version};
use super::mounts::flags_from_statvfs;
use super::plan::{MountKind, MountStep, Plan, DEV_SYMLINKS};

/// Errors of rootfs setup; each names the step and the path.
#[derive(Debug, Error)]
pub enum RootfsError {
    /// mount(2) failed.
    #[error("mounting {what} on {target}")]
    Mount {
        /// What was mounted.
        what: String,
        /// Where.
        target: PathBuf,
        /// The cause.
        #[source]
        source: nix::Error,
    },
    /// A mount point or node could not be created.
    #[error("creating {path}")]
    Create {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// mknod(2) or chown(2) of a device failed.
    #[error("creating device {path}")]
    Device {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: nix::Error,
    },
    /// pivot_root or the unmount of the old root failed.
    #[error("{step} of the rootfs {rootfs}")]
    Pivot {
        /// Which step.
        step: &'static str,
        /// The rootfs.
        rootfs: PathBuf,
        /// The cause.
        #[source]
        source: nix::Error,
    },
}

/// `path` (absolute, inside the container) below `rootfs`, ignoring `..` and `.`.
pub fn in_rootfs(rootfs: &Path, path: &Path) -> PathBuf {
    let relative: PathBuf = path
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    rootfs.join(relative)
}

fn do_mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
    what: &str,
) -> Result<(), RootfsError> {
    mount(source, target, fstype, flags, data).map_err(|source| RootfsError::Mount {
        what: what.to_string(),
        target: target.to_path_buf(),
        source,
    })
}

fn mkdir_all(path: &Path) -> Result<(), RootfsError> {
    fs::create_dir_all(path).map_err(|source| RootfsError::Create {
        path: path.to_path_buf(),
        source,
    })
}

/// Remounts a bind mount with `flags`, keeping the flags it already has.
fn remount_bind(target: &Path, flags: MsFlags) -> Result<(), RootfsError> {
    let kept = statvfs(target)
        .map(|s| flags_from_statvfs(s.flags()))
        .unwrap_or(MsFlags::empty());
    do_mount(
        None,
        target,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags | (kept & !MsFlags::MS_RDONLY),
        None,
        "remount",
    )
}

fn mount_step(rootfs: &Path, step: &MountStep, cgroups: &[Placement]) -> Result<(), RootfsError> {
    let target = in_rootfs(rootfs, &step.destination);
    let opts = &step.options;
    let data = (!opts.data.is_empty()).then_some(opts.data.as_str());
    match &step.kind {
        MountKind::Fs { source, fstype } => {
            mkdir_all(&target)?;
            do_mount(
                Some(Path::new(source)),
                &target,
                Some(fstype),
                opts.flags,
                data,
                fstype,
            )?;
        }
        MountKind::Bind { source } => {
            if source.is_dir() {
                mkdir_all(&target)?;
            } else {
                if let Some(parent) = target.parent() {
                    mkdir_all(parent)?;
                }
                if !target.exists() {
                    fs::File::create(&target).map_err(|e| RootfsError::Create {
                        path: target.clone(),
                        source: e,
                    })?;
                }
            }
            let rec = if opts.recursive {
                MsFlags::MS_REC
            } else {
                MsFlags::empty()
            };
            do_mount(
                Some(source),
                &target,
                None,
                MsFlags::MS_BIND | rec,
                None,
                "bind",
            )?;
            if !opts.flags.is_empty() {
                remount_bind(&target, opts.flags)?;
            }
        }
        MountKind::CgroupTree => mount_cgroups(&target, opts.flags, cgroups)?,
    }
    if !opts.propagation.is_empty() {
        do_mount(None, &target, None, opts.propagation, None, "propagation")?;
    }
    Ok(())
}

/// v1: a tmpfs with a read-only bind of the container's directory of each v1 hierarchy, named
/// after the hierarchy's mount point; v2 only: a bind of the container's v2 directory.
fn mount_cgroups(target: &Path, flags: MsFlags, cgroups: &[Placement]) -> Result<(), RootfsError> {
    mkdir_all(target)?;
    let v1: Vec<&Placement> = cgroups
        .iter()
        .filter(|p| p.version == Version::V1)
        .collect();
    let rdonly = flags & MsFlags::MS_RDONLY;
    let other = flags & !MsFlags::MS_RDONLY;
    if v1.is_empty() {
        if let Some(v2) = cgroups.iter().find(|p| p.version == Version::V2) {
            do_mount(
                Some(&v2.dir),
                target,
                None,
                MsFlags::MS_BIND,
                None,
                "cgroup2 bind",
            )?;
            remount_bind(target, flags)?;
        }
        return Ok(());
    }
    do_mount(
        Some(Path::new("tmpfs")),
        target,
        Some("tmpfs"),
        other,
        Some("mode=755"),
        "cgroup tmpfs",
    )?;
    for placement in v1 {
        let Some(name) = placement.mountpoint.file_name() else {
            continue;
        };
        let sub = target.join(name);
        mkdir_all(&sub)?;
        do_mount(
            Some(&placement.dir),
            &sub,
            None,
            MsFlags::MS_BIND,
            None,
            "cgroup bind",
        )?;
        remount_bind(&sub, flags)?;
    }
    if !rdonly.is_empty() {
        do_mount(
            None,
            target,
            None,
            MsFlags::MS_REMOUNT | flags,
            Some("mode=755"),
            "cgroup tmpfs remount",
        )?;
    }
    Ok(())
}

fn create_devices(plan: &Plan) -> Result<(), RootfsError> {
    for dev in &plan.devices {
        let path = in_rootfs(&plan.rootfs, &dev.path);
        if let Some(parent) = path.parent() {
            mkdir_all(parent)?;
        }
        let device = makedev(dev.major, dev.minor);
        mknod(&path, dev.kind, Mode::from_bits_truncate(dev.mode), device).map_err(|source| {
            RootfsError::Device {
                path: path.clone(),
                source,
            }
        })?;
        if dev.uid != 0 || dev.gid != 0 {
            chown(
                &path,
                Some(Uid::from_raw(dev.uid)),
                Some(Gid::from_raw(dev.gid)),
            )
            .map_err(|source| RootfsError::Device {
                path: path.clone(),
                source,
            })?;
        }
    }
    for (link, target) in DEV_SYMLINKS {
        let path = in_rootfs(&plan.rootfs, Path::new(link));
        match symlink(target, &path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(source) => return Err(RootfsError::Create { path, source }),
        }
    }
    Ok(())
}

fn pivot(rootfs: &Path) -> Result<(), RootfsError> {
    let err = |step| {
        let rootfs = rootfs.to_path_buf();
        move |source| RootfsError::Pivot {
            step,
            rootfs,
            source,
        }
    };
    chdir(rootfs).map_err(err("chdir"))?;
    // With "." as both arguments the old root ends up stacked on the new one, at "/".
    pivot_root(".", ".").map_err(err("pivot_root"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(err("unmounting the old root"))?;
    chdir("/").map_err(err("chdir to the new root"))
}

fn mask(path: &Path) -> Result<(), RootfsError> {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => do_mount(
            Some(Path::new("tmpfs")),
            path,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None,
            "masking tmpfs",
        ),
        Ok(_) => do_mount(
            Some(Path::new("/dev/null")),
            path,
            None,
            MsFlags::MS_BIND,
            None,
            "/dev/null",
        ),
        Err(_) => Ok(()),
    }
}

fn make_readonly(path: &Path) -> Result<(), RootfsError> {
    if fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    do_mount(
        Some(path),
        path,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
        "read-only bind",
    )?;
    remount_bind(path, MsFlags::MS_RDONLY)
}

/// Sets up the container's filesystem: runs in the init, in its new mount namespace, before
/// pivot_root and ends inside the new root.
pub fn setup(plan: &Plan, cgroups: &[Placement]) -> Result<(), RootfsError> {
    let rootfs = &plan.rootfs;
    do_mount(
        None,
        Path::new("/"),
        None,
        plan.propagation,
        None,
        "root propagation",
    )?;
    do_mount(
        Some(rootfs),
        rootfs,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
        "rootfs bind",
    )?;
    for step in &plan.mounts {
        mount_step(rootfs, step, cgroups)?;
    }
    create_devices(plan)?;
    pivot(rootfs)?;
    for path in &plan.masked {
        mask(path)?;
    }
    for path in &plan.readonly {
        make_readonly(path)?;
    }
    if plan.readonly_root {
        remount_bind(Path::new("/"), MsFlags::MS_RDONLY)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_rootfs_stays_below_the_rootfs() {
        let r = Path::new("/b/rootfs");
        assert_eq!(
            in_rootfs(r, Path::new("/dev/pts")),
            Path::new("/b/rootfs/dev/pts")
        );
        assert_eq!(
            in_rootfs(r, Path::new("/../../etc")),
            Path::new("/b/rootfs/etc")
        );
        assert_eq!(in_rootfs(r, Path::new("/")), Path::new("/b/rootfs"));
    }
}
