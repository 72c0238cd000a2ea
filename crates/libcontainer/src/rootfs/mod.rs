//! The container's root filesystem: mounts, /dev, pivot_root, masked and read-only paths.
//!
//! Every path inside the rootfs is resolved with `openat2(RESOLVE_IN_ROOT)` from a handle on
//! the rootfs, never by string concatenation: a symlink planted in the rootfs (at a mount
//! destination, /dev, /proc) resolves inside the rootfs and cannot make us mount over, or
//! write to, the host. Before pivot_root, mounts target the resolved handle through
//! `/proc/self/fd/N` of the runtime's /proc; after it (masked and read-only paths, the
//! console), they go from handle to handle with `open_tree`/`fsmount` + `move_mount`, so the
//! container's /proc is never trusted to resolve anything, and the runtime's writes to /proc
//! (sysctls) go through a private procfs handle ([`procfs`]).

pub mod idmap;
pub mod options;
pub mod procfs;

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{fstat, mknodat, Mode, SFlag};
use nix::unistd::{chdir, chroot, fchdir, fchownat, pivot_root, symlinkat, Gid, Uid};

use crate::plan::{DevicePlan, MountPlan, Plan};
use crate::sys;
use options::flags;
pub use procfs::ProcFs;

/// `statfs` magic numbers of the filesystems we check.
pub const PROC_SUPER_MAGIC: i64 = 0x9fa0;
pub const DEVPTS_SUPER_MAGIC: i64 = 0x1cd1;
pub const TMPFS_MAGIC: i64 = 0x0102_1994;

/// What went wrong while building the root filesystem.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("root.path {path}: not usable as a root filesystem")]
    BadRootfs {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("mounts[{index}]: mounting {source_desc} on {dest} (type {fstype:?})")]
    Mount {
        index: usize,
        source_desc: String,
        dest: PathBuf,
        fstype: String,
        #[source]
        source: Errno,
    },
    #[error("mounts[{index}]: {what} {dest}")]
    MountStep {
        index: usize,
        what: &'static str,
        dest: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("{what} {path}")]
    Path {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("linux.devices: {path} already exists in the rootfs and is not the requested device")]
    DeviceExists { path: PathBuf },
    #[error("linux.devices: creating {path}")]
    Device {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("{0}")]
    Unsupported(String),
    #[error("pivot_root into {path}")]
    Pivot {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("linux.sysctl.{key}: writing {value:?}")]
    Sysctl {
        key: String,
        value: String,
        #[source]
        source: std::io::Error,
    },
}

/// `path` (absolute inside the container) made relative for openat2 on the rootfs handle.
/// `..` components are kept: RESOLVE_IN_ROOT confines them to the root.
fn rel(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| matches!(c, Component::Normal(_) | Component::ParentDir))
        .collect()
}

fn how(flags: OFlag) -> OpenHow {
    OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS)
}

/// Open `path` inside `root` (O_PATH), symlinks resolved inside `root`.
pub fn open_in_root(root: BorrowedFd<'_>, path: &Path) -> Result<OwnedFd, Errno> {
    let r = rel(path);
    let p: &Path = if r.as_os_str().is_empty() {
        Path::new(".")
    } else {
        &r
    };
    openat2(root, p, how(OFlag::O_PATH))
}

/// The magic-link path that refers to an open fd (what mount(2) targets). Only for use before
/// pivot_root, while `/proc` is the runtime's.
pub fn fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Kind of object to create at a missing mount point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaf {
    Dir,
    File,
}

/// Open `path` inside `root`, creating missing directories (mode 0755) and, if `leaf` is
/// `File`, an empty file at the end. A dangling symlink on the way is followed inside `root`
/// (its target is created there). Returns an O_PATH handle on the final object.
pub fn ensure_in_root(root: BorrowedFd<'_>, path: &Path, leaf: Leaf) -> Result<OwnedFd, Errno> {
    ensure_inner(root, &rel(path), leaf, 0)
}

fn ensure_inner(
    root: BorrowedFd<'_>,
    path: &Path,
    leaf: Leaf,
    depth: u32,
) -> Result<OwnedFd, Errno> {
    if depth > 40 {
        return Err(Errno::ELOOP);
    }
    match open_in_root(root, path) {
        Err(Errno::ENOENT) => {}
        other => return other,
    }
    let comps: Vec<Component<'_>> = path.components().collect();
    let mut i = 0;
    while i < comps.len() {
        let prefix: PathBuf = comps[..=i].iter().collect();
        match open_in_root(root, &prefix) {
            Ok(_) => {
                i += 1;
                continue;
            }
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        let Component::Normal(name) = comps[i] else {
            return Err(Errno::ENOENT);
        };
        let parent_path: PathBuf = comps[..i].iter().collect();
        let parent = open_in_root(root, &parent_path)?;
        let dirfd = reopen_dir(parent.as_fd())?;
        match nix::fcntl::readlinkat(dirfd.as_fd(), Path::new(name)) {
            Ok(target) => {
                // A dangling symlink: continue at its target, inside root.
                let target = PathBuf::from(target);
                let mut next = if target.is_absolute() {
                    rel(&target)
                } else {
                    parent_path.join(target)
                };
                for c in &comps[i + 1..] {
                    next.push(c);
                }
                return ensure_inner(root, &next, leaf, depth + 1);
            }
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        let last = i + 1 == comps.len();
        if last && leaf == Leaf::File {
            match nix::fcntl::openat(
                dirfd.as_fd(),
                Path::new(name),
                OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_WRONLY
                    | OFlag::O_CLOEXEC
                    | OFlag::O_NOFOLLOW,
                Mode::from_bits_truncate(0o644),
            ) {
                Ok(_) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(e),
            }
        } else {
            match nix::sys::stat::mkdirat(
                dirfd.as_fd(),
                Path::new(name),
                Mode::from_bits_truncate(0o755),
            ) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(e),
            }
        }
        i += 1;
    }
    open_in_root(root, path)
}

/// Turn an O_PATH directory handle into one usable with *at() calls that need a real dir fd.
fn reopen_dir(fd: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    openat2(
        fd,
        Path::new("."),
        OpenHow::new()
            .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_NO_MAGICLINKS),
    )
}

/// Fail with ELOOP if the last component of `path` (its parents resolved inside `root`) is a
/// symlink; a missing path is fine (it will be created as a directory).
fn refuse_symlink_leaf(root: BorrowedFd<'_>, path: &Path) -> Result<(), Errno> {
    let r = rel(path);
    if r.as_os_str().is_empty() {
        return Ok(());
    }
    match openat2(root, &r, how(OFlag::O_PATH | OFlag::O_NOFOLLOW)) {
        Ok(fd) => {
            let st = fstat(fd.as_fd())?;
            if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK {
                Err(Errno::ELOOP)
            } else {
                Ok(())
            }
        }
        Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(e),
    }
}

fn is_dir(fd: BorrowedFd<'_>) -> bool {
    fstat(fd)
        .map(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR)
        .unwrap_or(false)
}

/// The container's host-side view of its cgroup placement, for `cgroup` mounts without a
/// cgroup namespace (bind mounts of the container's own cgroup directories).
#[derive(Debug, Clone, Default)]
pub struct CgroupMountInfo {
    /// (mount point under /sys/fs/cgroup, e.g. "cpu,cpuacct" or "" for v2, host dir to bind).
    pub binds: Vec<(String, PathBuf)>,
    /// The host is cgroup v2 only.
    pub unified: bool,
    /// v1 hierarchy names (mount point names and their mount options) for cgroup namespaces.
    pub v1_hierarchies: Vec<(String, String)>,
}

/// Everything done to the rootfs before pivot_root.
pub struct Prepared {
    /// Handle on the rootfs directory (the bind mount of itself).
    pub root: OwnedFd,
}

/// Set up propagation, bind the rootfs onto itself, perform every mount, create /dev.
/// `idmapped` holds the detached idmapped trees the runtime built for `idmap` mounts.
pub fn prepare(
    plan: &Plan,
    cg: &CgroupMountInfo,
    in_userns: bool,
    idmapped: &idmap::IdmappedTrees,
) -> Result<Prepared, RootfsError> {
    let rootfs = &plan.rootfs;
    // Nothing of ours may propagate to the host: make the whole tree slave (or what
    // rootfsPropagation asks) first.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::from_bits_retain(plan.rootfs_propagation),
        None::<&str>,
    )
    .map_err(|source| RootfsError::Path {
        what: "setting propagation of / in the container's mount namespace",
        path: "/".into(),
        source,
    })?;
    // pivot_root refuses a new root whose parent mount is shared. A recursive slave/private
    // propagation (the default rslave) already left no shared mount; anything else — a shared
    // or a non-recursive propagation, which leaves the submounts shared — needs the rootfs's
    // parent mount made private (as runc does).
    if plan.rootfs_propagation & flags::SHARED != 0 || plan.rootfs_propagation & flags::REC == 0 {
        make_parent_private(rootfs, plan.rootfs_propagation & flags::SLAVE != 0)?;
    }
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|source| RootfsError::BadRootfs {
        path: rootfs.clone(),
        source,
    })?;
    let root = nix::fcntl::open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|source| RootfsError::BadRootfs {
        path: rootfs.clone(),
        source,
    })?;

    for m in &plan.mounts {
        mount_one(root.as_fd(), m, cg, plan, idmapped)?;
    }
    create_devices(root.as_fd(), &plan.devices, in_userns)?;
    dev_symlinks(root.as_fd(), plan)?;
    // A missing process.cwd is created now, as root and before any read-only remount (runc
    // does the same); the process changes into it later, as its own user.
    ensure_in_root(root.as_fd(), &plan.process.cwd, Leaf::Dir).map_err(|source| {
        RootfsError::Path {
            what: "process.cwd: creating",
            path: plan.process.cwd.clone(),
            source,
        }
    })?;
    Ok(Prepared { root })
}

/// Make the mount containing the rootfs non-shared, as pivot_root needs: a slave when the
/// container's root is to be a slave (so host mounts still propagate into it), else private.
fn make_parent_private(rootfs: &Path, slave: bool) -> Result<(), RootfsError> {
    // The mount point containing the rootfs: the longest mountinfo mount point it is under.
    let info = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| RootfsError::Path {
        what: "reading",
        path: "/proc/self/mountinfo".into(),
        source: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
    })?;
    let mut best = PathBuf::from("/");
    for line in info.lines() {
        let mp = line.split(' ').nth(4).unwrap_or("/");
        let mp = PathBuf::from(mp.replace("\\040", " "));
        if rootfs.starts_with(&mp) && mp.as_os_str().len() > best.as_os_str().len() {
            best = mp;
        }
    }
    let prop = if slave {
        MsFlags::MS_SLAVE
    } else {
        MsFlags::MS_PRIVATE
    };
    mount(None::<&str>, &best, None::<&str>, prop, None::<&str>).map_err(|source| {
        RootfsError::Path {
            what: "making the rootfs parent mount non-shared",
            path: best,
            source,
        }
    })
}

fn mount_err(m: &MountPlan, source: Errno) -> RootfsError {
    RootfsError::Mount {
        index: m.index,
        source_desc: m
            .source
            .as_ref()
            .map(|s| s.display().to_string())
            .unwrap_or_else(|| "none".into()),
        dest: m.destination.clone(),
        fstype: m.fstype.clone(),
        source,
    }
}

fn step_err<'a>(m: &'a MountPlan, what: &'static str) -> impl FnOnce(Errno) -> RootfsError + 'a {
    move |source| RootfsError::MountStep {
        index: m.index,
        what,
        dest: m.destination.clone(),
        source,
    }
}

fn mount_one(
    root: BorrowedFd<'_>,
    m: &MountPlan,
    cg: &CgroupMountInfo,
    plan: &Plan,
    idmapped: &idmap::IdmappedTrees,
) -> Result<(), RootfsError> {
    if m.is_bind() {
        return mount_bind(root, m, idmapped.get(&m.index));
    }
    if m.options.idmap.is_some() {
        return Err(RootfsError::Unsupported(format!(
            "mounts[{}].options: idmap/ridmap is only supported on bind mounts",
            m.index
        )));
    }
    match m.fstype.as_str() {
        "cgroup" | "cgroup2" => return mount_cgroup(root, m, cg, plan),
        _ => {}
    }
    if m.fstype == "proc" || m.fstype == "sysfs" {
        // As runc: procfs and sysfs go on an ordinary directory, never through a symlink the
        // image planted there (it would put them, and the masks meant for them, elsewhere).
        refuse_symlink_leaf(root, &m.destination).map_err(step_err(
            m,
            "procfs and sysfs must be mounted on a directory, not a symlink:",
        ))?;
    }
    let target = ensure_in_root(root, &m.destination, Leaf::Dir)
        .map_err(step_err(m, "creating mount point"))?;
    if m.fstype == "proc" || m.fstype == "sysfs" || m.fstype == "mqueue" || m.fstype == "devpts" {
        // These are only ever mounted on real directories.
        if !is_dir(target.as_fd()) {
            return Err(step_err(m, "mount point is not a directory:")(
                Errno::ENOTDIR,
            ));
        }
    }
    let mut mflags = m.options.flags & !flags::REMOUNT;
    let remount = m.options.flags & flags::REMOUNT != 0;
    if remount {
        mflags |= flags::REMOUNT;
    }
    let source = m.source.clone().unwrap_or_else(|| PathBuf::from(&m.fstype));
    // linux.mountLabel: the SELinux context of the filesystems the container mounts.
    let mut data_s = m.options.data.clone();
    if let Some(label) = &plan.mount_label {
        if !matches!(
            m.fstype.as_str(),
            "proc" | "sysfs" | "cgroup" | "cgroup2" | "mqueue"
        ) {
            if !data_s.is_empty() {
                data_s.push(',');
            }
            data_s.push_str(&format!("context=\"{label}\""));
        }
    }
    let data = (!data_s.is_empty()).then_some(data_s.as_str());
    // tmpcopyup: keep a handle on the directory being covered, to copy it into the tmpfs.
    let covered = if m.options.tmpcopyup {
        if m.fstype != "tmpfs" {
            return Err(RootfsError::Unsupported(format!(
                "mounts[{}].options: tmpcopyup only applies to tmpfs mounts",
                m.index
            )));
        }
        Some(reopen_dir(target.as_fd()).map_err(step_err(m, "opening the directory to copy up"))?)
    } else {
        None
    };
    let res = mount(
        Some(&source),
        &fd_path(target.as_fd()),
        Some(m.fstype.as_str()),
        MsFlags::from_bits_retain(mflags),
        data,
    );
    res.map_err(|e| mount_err(m, e))?;
    if let Some(old) = covered {
        let new = open_in_root(root, &m.destination)
            .and_then(|fd| reopen_dir(fd.as_fd()))
            .map_err(step_err(m, "opening the new tmpfs"))?;
        copy_tree(old.as_fd(), new.as_fd()).map_err(step_err(m, "copying up the contents of"))?;
    }
    apply_propagation_and_attrs(root, m)
}

/// Copy a directory tree (files, directories, symlinks, device nodes, fifos, with modes and
/// owners) from one open directory to another, never following a symlink.
fn copy_tree(src: BorrowedFd<'_>, dst: BorrowedFd<'_>) -> Result<(), Errno> {
    use nix::dir::{Dir, Type};
    use nix::fcntl::{openat, readlinkat, AtFlags};
    use nix::sys::stat::fstatat;
    let mut dir = Dir::from_fd(nix::unistd::dup(src)?)?;
    let entries: Vec<(std::ffi::CString, Option<Type>)> = dir
        .iter()
        .filter_map(|e| e.ok())
        .map(|e| (e.file_name().to_owned(), e.file_type()))
        .filter(|(n, _)| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    for (name, _) in entries {
        let name = Path::new(std::ffi::OsStr::from_bytes(name.as_bytes()));
        let st = fstatat(src, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
        let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
        let kind = st.st_mode & libc::S_IFMT;
        match kind {
            libc::S_IFDIR => {
                nix::sys::stat::mkdirat(dst, name, mode)?;
                let s = openat(
                    src,
                    name,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )?;
                let d = openat(
                    dst,
                    name,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )?;
                copy_tree(s.as_fd(), d.as_fd())?;
            }
            libc::S_IFREG => {
                let s = openat(
                    src,
                    name,
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )?;
                let d = openat(
                    dst,
                    name,
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    mode,
                )?;
                let (mut s, mut d) = (std::fs::File::from(s), std::fs::File::from(d));
                std::io::copy(&mut s, &mut d)
                    .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
            }
            libc::S_IFLNK => {
                let target = readlinkat(src, name)?;
                symlinkat(target.as_os_str(), dst, name)?;
            }
            libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO | libc::S_IFSOCK => {
                mknodat(dst, name, SFlag::from_bits_truncate(kind), mode, st.st_rdev)?;
            }
            _ => continue,
        }
        fchownat(
            dst,
            name,
            Some(Uid::from_raw(st.st_uid)),
            Some(Gid::from_raw(st.st_gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )?;
        if kind != libc::S_IFLNK {
            // Restore set-id bits the chown cleared, and the exact mode despite the umask.
            nix::sys::stat::fchmodat(
                dst,
                name,
                mode,
                nix::sys::stat::FchmodatFlags::NoFollowSymlink,
            )
            .or_else(|e| {
                if e == Errno::EOPNOTSUPP {
                    Ok(())
                } else {
                    Err(e)
                }
            })?;
        }
    }
    Ok(())
}

fn mount_bind(
    root: BorrowedFd<'_>,
    m: &MountPlan,
    idmapped: Option<&OwnedFd>,
) -> Result<(), RootfsError> {
    let source = m
        .source
        .as_ref()
        .expect("validated: bind mounts have a source");
    let src_is_dir = std::fs::metadata(source)
        .map(|md| md.is_dir())
        .map_err(|e| mount_err(m, Errno::from_raw(e.raw_os_error().unwrap_or(libc::ENOENT))))?;
    let leaf = if src_is_dir { Leaf::Dir } else { Leaf::File };
    let target =
        ensure_in_root(root, &m.destination, leaf).map_err(step_err(m, "creating mount point"))?;
    if let Some(tree) = idmapped {
        // The runtime built the idmapped tree; attach it here.
        const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
        const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;
        let empty = CString::default();
        crate::sys::move_mount(
            tree.as_fd(),
            &empty,
            target.as_fd(),
            &empty,
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
        .map_err(|e| mount_err(m, e))?;
    } else {
        let mut bflags = MsFlags::MS_BIND;
        if m.options.recursive_bind {
            bflags |= MsFlags::MS_REC;
        }
        mount(
            Some(source),
            &fd_path(target.as_fd()),
            None::<&str>,
            bflags,
            None::<&str>,
        )
        .map_err(|e| mount_err(m, e))?;
    }
    // Per-mount flags (ro, nosuid, ...) need a remount of the new bind mount.
    let wanted = m.options.flags & !(flags::REMOUNT | flags::BIND | flags::REC);
    if wanted != 0 || m.options.cleared != 0 {
        let t = open_in_root(root, &m.destination).map_err(step_err(m, "reopening"))?;
        remount_bind(t.as_fd(), wanted, m.options.cleared)
            .map_err(step_err(m, "remounting with its options"))?;
    }
    apply_propagation_and_attrs(root, m)
}

/// Remount a bind mount with `set` flags, keeping the per-mount flags it already has (locked
/// ones cannot be cleared anyway) unless `clear` names them.
pub fn remount_bind(target: BorrowedFd<'_>, set: u64, clear: u64) -> Result<(), Errno> {
    let current = nix::sys::statvfs::fstatvfs(target)?.flags();
    let mut keep = 0u64;
    use nix::sys::statvfs::FsFlags;
    for (f, m) in [
        (FsFlags::ST_NOSUID, flags::NOSUID),
        (FsFlags::ST_NODEV, flags::NODEV),
        (FsFlags::ST_NOEXEC, flags::NOEXEC),
        (FsFlags::ST_RDONLY, flags::RDONLY),
        (FsFlags::ST_NOATIME, flags::NOATIME),
        (FsFlags::ST_NODIRATIME, flags::NODIRATIME),
        (FsFlags::ST_RELATIME, flags::RELATIME),
    ] {
        if current.contains(f) {
            keep |= m;
        }
    }
    if set & flags::ATIME_MASK != 0 {
        keep &= !flags::ATIME_MASK;
    }
    let all = ((keep & !clear) | set) | flags::REMOUNT | flags::BIND;
    mount(
        None::<&str>,
        &fd_path(target),
        None::<&str>,
        MsFlags::from_bits_retain(all),
        None::<&str>,
    )
}

fn apply_propagation_and_attrs(root: BorrowedFd<'_>, m: &MountPlan) -> Result<(), RootfsError> {
    if m.options.propagation.is_empty() && m.options.recursive.is_empty() {
        return Ok(());
    }
    let t = open_in_root(root, &m.destination).map_err(step_err(m, "reopening"))?;
    for p in &m.options.propagation {
        mount(
            None::<&str>,
            &fd_path(t.as_fd()),
            None::<&str>,
            MsFlags::from_bits_retain(*p),
            None::<&str>,
        )
        .map_err(step_err(m, "changing propagation of"))?;
    }
    if !m.options.recursive.is_empty() {
        let empty = CString::default();
        crate::sys::mount_setattr(
            t.as_fd(),
            &empty,
            (libc::AT_EMPTY_PATH | libc::AT_RECURSIVE) as u32,
            m.options.recursive.set,
            m.options.recursive.clear,
            0,
            None,
        )
        .map_err(step_err(m, "setting recursive mount attributes on"))?;
    }
    Ok(())
}

fn mount_cgroup(
    root: BorrowedFd<'_>,
    m: &MountPlan,
    cg: &CgroupMountInfo,
    plan: &Plan,
) -> Result<(), RootfsError> {
    let target = ensure_in_root(root, &m.destination, Leaf::Dir)
        .map_err(step_err(m, "creating mount point"))?;
    let ro = m.options.flags & flags::RDONLY;
    let base =
        (m.options.flags & (flags::NOSUID | flags::NODEV | flags::NOEXEC | flags::RELATIME)) | ro;
    let cgroupns = plan.namespaces.private(libc::CLONE_NEWCGROUP);
    if cg.unified {
        if cgroupns || m.fstype == "cgroup2" {
            mount(
                Some("cgroup2"),
                &fd_path(target.as_fd()),
                Some("cgroup2"),
                MsFlags::from_bits_retain(base),
                None::<&str>,
            )
            .map_err(|e| mount_err(m, e))?;
        } else {
            let host = cg
                .binds
                .first()
                .map(|b| b.1.clone())
                .unwrap_or_else(|| "/sys/fs/cgroup".into());
            mount(
                Some(&host),
                &fd_path(target.as_fd()),
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(|e| mount_err(m, e))?;
            let t = open_in_root(root, &m.destination).map_err(step_err(m, "reopening"))?;
            remount_bind(t.as_fd(), base, 0).map_err(step_err(m, "remounting"))?;
        }
        return apply_propagation_and_attrs(root, m);
    }
    // cgroup v1: a tmpfs with one mount per hierarchy, as runc lays it out.
    mount(
        Some("tmpfs"),
        &fd_path(target.as_fd()),
        Some("tmpfs"),
        MsFlags::from_bits_retain(base & !flags::RDONLY),
        Some("mode=755"),
    )
    .map_err(|e| mount_err(m, e))?;
    if cgroupns {
        for (name, opts) in &cg.v1_hierarchies {
            let sub = m.destination.join(name);
            let t = ensure_in_root(root, &sub, Leaf::Dir)
                .map_err(step_err(m, "creating cgroup hierarchy dir"))?;
            mount(
                Some("cgroup"),
                &fd_path(t.as_fd()),
                Some("cgroup"),
                MsFlags::from_bits_retain(base),
                Some(opts.as_str()),
            )
            .map_err(|e| mount_err(m, e))?;
        }
    } else {
        for (name, host) in &cg.binds {
            let sub = m.destination.join(name);
            let t = ensure_in_root(root, &sub, Leaf::Dir)
                .map_err(step_err(m, "creating cgroup hierarchy dir"))?;
            mount(
                Some(host),
                &fd_path(t.as_fd()),
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(|e| mount_err(m, e))?;
            let t = open_in_root(root, &sub).map_err(step_err(m, "reopening"))?;
            remount_bind(t.as_fd(), base, 0).map_err(step_err(m, "remounting"))?;
        }
    }
    if ro != 0 {
        // The tmpfs itself read-only last, once the hierarchy dirs exist.
        let t = open_in_root(root, &m.destination).map_err(step_err(m, "reopening"))?;
        mount(
            None::<&str>,
            &fd_path(t.as_fd()),
            None::<&str>,
            MsFlags::from_bits_retain(base | flags::REMOUNT),
            Some("mode=755"),
        )
        .map_err(step_err(m, "remounting read-only"))?;
    }
    apply_propagation_and_attrs(root, m)
}

fn create_devices(
    root: BorrowedFd<'_>,
    devices: &[DevicePlan],
    in_userns: bool,
) -> Result<(), RootfsError> {
    let old = nix::sys::stat::umask(Mode::empty());
    let res = devices
        .iter()
        .try_for_each(|d| create_device(root, d, in_userns));
    nix::sys::stat::umask(old);
    res
}

fn create_device(root: BorrowedFd<'_>, d: &DevicePlan, in_userns: bool) -> Result<(), RootfsError> {
    let err = |source| RootfsError::Device {
        path: d.path.clone(),
        source,
    };
    let parent = d.path.parent().unwrap_or(Path::new("/"));
    let name = d.path.file_name().ok_or_else(|| err(Errno::EINVAL))?;
    let pfd = ensure_in_root(root, parent, Leaf::Dir).map_err(err)?;
    let dirfd = reopen_dir(pfd.as_fd()).map_err(err)?;
    if in_userns {
        // mknod is not allowed in a user namespace: bind the host's node instead.
        let target = ensure_in_root(root, &d.path, Leaf::File).map_err(err)?;
        return mount(
            Some(&d.path),
            &fd_path(target.as_fd()),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(err);
    }
    // Something already there: the same device is kept; anything else is an error for a
    // configured device (config-linux.md: "If a file already exists at path that does not
    // match the requested device, the runtime MUST generate an error") and is replaced for a
    // default one (an image's stale /dev entry).
    match nix::sys::stat::fstatat(
        dirfd.as_fd(),
        Path::new(name),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    ) {
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(err(e)),
        Ok(st) => {
            let same = st.st_mode & libc::S_IFMT == d.kind
                && (d.kind == libc::S_IFIFO
                    || (nix::sys::stat::major(st.st_rdev) == d.major
                        && nix::sys::stat::minor(st.st_rdev) == d.minor));
            if same {
                return set_device_owner_mode(dirfd.as_fd(), name, d).map_err(err);
            }
            if d.configured {
                return Err(RootfsError::DeviceExists {
                    path: d.path.clone(),
                });
            }
            nix::unistd::unlinkat(
                dirfd.as_fd(),
                Path::new(name),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            )
            .map_err(err)?;
        }
    }
    let kind = SFlag::from_bits_truncate(d.kind);
    let dev = nix::sys::stat::makedev(d.major, d.minor);
    mknodat(
        dirfd.as_fd(),
        Path::new(name),
        kind,
        Mode::from_bits_truncate(d.mode),
        dev,
    )
    .map_err(err)?;
    set_device_owner_mode(dirfd.as_fd(), name, d).map_err(err)
}

/// Owner and mode of a device node as configured (chmod after chown: chown clears set-id bits,
/// and mknod's mode went through the umask).
fn set_device_owner_mode(
    dirfd: BorrowedFd<'_>,
    name: &std::ffi::OsStr,
    d: &DevicePlan,
) -> Result<(), Errno> {
    fchownat(
        dirfd,
        Path::new(name),
        Some(Uid::from_raw(d.uid)),
        Some(Gid::from_raw(d.gid)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )?;
    nix::sys::stat::fchmodat(
        dirfd,
        Path::new(name),
        Mode::from_bits_truncate(d.mode),
        nix::sys::stat::FchmodatFlags::NoFollowSymlink,
    )
    .or_else(|e| {
        if e == Errno::EOPNOTSUPP {
            Ok(())
        } else {
            Err(e)
        }
    })
}

fn dev_symlinks(root: BorrowedFd<'_>, plan: &Plan) -> Result<(), RootfsError> {
    let dev = match open_in_root(root, Path::new("/dev")) {
        Ok(fd) if is_dir(fd.as_fd()) => fd,
        _ => return Ok(()),
    };
    let dirfd = reopen_dir(dev.as_fd()).map_err(|source| RootfsError::Path {
        what: "opening",
        path: "/dev".into(),
        source,
    })?;
    let has_proc = plan
        .mounts
        .iter()
        .any(|m| m.fstype == "proc" && m.destination == Path::new("/proc"));
    if has_proc {
        for (target, name) in [
            ("/proc/self/fd", "fd"),
            ("/proc/self/fd/0", "stdin"),
            ("/proc/self/fd/1", "stdout"),
            ("/proc/self/fd/2", "stderr"),
        ] {
            match symlinkat(target, dirfd.as_fd(), name) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(source) => {
                    return Err(RootfsError::Path {
                        what: "creating symlink",
                        path: PathBuf::from("/dev").join(name),
                        source,
                    })
                }
            }
        }
    }
    let has_devpts = plan
        .mounts
        .iter()
        .any(|m| m.fstype == "devpts" && m.destination == Path::new("/dev/pts"));
    if has_devpts {
        match nix::unistd::unlinkat(
            dirfd.as_fd(),
            "ptmx",
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        ) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(source) => {
                return Err(RootfsError::Path {
                    what: "removing",
                    path: "/dev/ptmx".into(),
                    source,
                })
            }
        }
        symlinkat("pts/ptmx", dirfd.as_fd(), "ptmx").map_err(|source| RootfsError::Path {
            what: "creating symlink",
            path: "/dev/ptmx".into(),
            source,
        })?;
    }
    Ok(())
}

/// Make `root` the process's root: pivot_root (default) or MS_MOVE + chroot (`--no-pivot`).
pub fn enter(prepared: &Prepared, plan: &Plan) -> Result<(), RootfsError> {
    let err = |source| RootfsError::Pivot {
        path: plan.rootfs.clone(),
        source,
    };
    let old_root = nix::fcntl::open(
        "/",
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(err)?;
    fchdir(prepared.root.as_fd()).map_err(err)?;
    if plan.options.no_pivot {
        mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>).map_err(err)?;
        chroot(".").map_err(err)?;
    } else {
        // pivot_root(".", "."): the old root ends up stacked on top of the new one at "/".
        // Go to the old root (through a handle taken before; "." after the pivot is not
        // guaranteed to be it), make it a slave so that detaching it does not propagate to
        // the host, then detach it. Only the old root's tree is touched: the container's
        // mounts keep the propagation they were given.
        pivot_root(".", ".").map_err(err)?;
        fchdir(old_root.as_fd()).map_err(err)?;
        mount(
            None::<&str>,
            ".",
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(err)?;
        umount2(".", MntFlags::MNT_DETACH).map_err(err)?;
    }
    drop(old_root);
    chdir("/").map_err(err)?;
    if plan.rootfs_propagation_given {
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::from_bits_retain(plan.rootfs_propagation),
            None::<&str>,
        )
        .map_err(|source| RootfsError::Path {
            what: "setting linux.rootfsPropagation on",
            path: "/".into(),
            source,
        })?;
    }
    Ok(())
}

/// After pivot_root: sysctls, read-only paths, masked paths, and the read-only root.
///
/// Nothing here goes through the container's /proc: sysctls are written through `proc`, a
/// private procfs handle, and every mount is made from one open handle onto another with
/// `open_tree`/`fsmount` + `move_mount` (no `/proc/self/fd/N` path the container's /proc
/// would resolve).
pub fn finalize(plan: &Plan, proc: &ProcFs) -> Result<(), RootfsError> {
    let root = nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|source| RootfsError::Path {
        what: "opening",
        path: "/".into(),
        source,
    })?;
    // sysctls first: /proc/sys is usually among the read-only paths.
    for (key, value) in &plan.sysctl {
        write_sysctl(proc, key, value)?;
    }
    for p in &plan.readonly_paths {
        let fd = match open_in_root(root.as_fd(), p) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => continue,
            Err(source) => {
                return Err(RootfsError::Path {
                    what: "linux.readonlyPaths: opening",
                    path: p.clone(),
                    source,
                })
            }
        };
        bind_handle(
            fd.as_fd(),
            fd.as_fd(),
            true,
            sys::MOUNT_ATTR_RDONLY
                | sys::MOUNT_ATTR_NOSUID
                | sys::MOUNT_ATTR_NODEV
                | sys::MOUNT_ATTR_NOEXEC,
        )
        .map_err(|source| RootfsError::Path {
            what: "linux.readonlyPaths: binding read-only",
            path: p.clone(),
            source,
        })?;
    }
    for p in &plan.masked_paths {
        let fd = match open_in_root(root.as_fd(), p) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => continue,
            Err(source) => {
                return Err(RootfsError::Path {
                    what: "linux.maskedPaths: opening",
                    path: p.clone(),
                    source,
                })
            }
        };
        let res = if is_dir(fd.as_fd()) {
            mount_empty_tmpfs_ro(fd.as_fd())
        } else {
            let null = open_dev_null(root.as_fd()).map_err(|source| RootfsError::Path {
                what: "linux.maskedPaths: /dev/null is not usable for",
                path: p.clone(),
                source,
            })?;
            bind_handle(null.as_fd(), fd.as_fd(), false, 0)
        };
        res.map_err(|source| RootfsError::Path {
            what: "linux.maskedPaths: masking",
            path: p.clone(),
            source,
        })?;
    }
    if plan.rootfs_readonly {
        let empty = CString::default();
        sys::mount_setattr(
            root.as_fd(),
            &empty,
            libc::AT_EMPTY_PATH as u32,
            sys::MOUNT_ATTR_RDONLY,
            0,
            0,
            None,
        )
        .map_err(|source| RootfsError::Path {
            what: "root.readonly: remounting read-only",
            path: "/".into(),
            source,
        })?;
    }
    Ok(())
}

/// Bind mount what `src` refers to (recursively with `recursive`) onto what `dst` refers to,
/// adding the `MOUNT_ATTR_*` flags `attrs` to the new mount, with no path on the way: a
/// detached copy (`open_tree`), its attributes set while it is attached nowhere, then
/// `move_mount` onto the handle.
pub fn bind_handle(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    recursive: bool,
    attrs: u64,
) -> Result<(), Errno> {
    let empty = CString::default();
    let mut flags = sys::OPEN_TREE_CLONE | libc::O_CLOEXEC as u32 | libc::AT_EMPTY_PATH as u32;
    if recursive {
        flags |= libc::AT_RECURSIVE as u32;
    }
    let tree = sys::open_tree(src, &empty, flags)?;
    if attrs != 0 {
        sys::mount_setattr(
            tree.as_fd(),
            &empty,
            libc::AT_EMPTY_PATH as u32,
            attrs,
            0,
            0,
            None,
        )?;
    }
    sys::move_mount(
        tree.as_fd(),
        &empty,
        dst,
        &empty,
        sys::MOVE_MOUNT_F_EMPTY_PATH | sys::MOVE_MOUNT_T_EMPTY_PATH,
    )
}

/// Cover the directory `dst` refers to with a new, empty, read-only tmpfs.
fn mount_empty_tmpfs_ro(dst: BorrowedFd<'_>) -> Result<(), Errno> {
    let ctx = sys::fsopen(c"tmpfs")?;
    sys::fsconfig_create(ctx.as_fd())?;
    let mnt = sys::fsmount(ctx.as_fd(), sys::MOUNT_ATTR_RDONLY)?;
    let empty = CString::default();
    sys::move_mount(
        mnt.as_fd(),
        &empty,
        dst,
        &empty,
        sys::MOVE_MOUNT_F_EMPTY_PATH | sys::MOVE_MOUNT_T_EMPTY_PATH,
    )
}

/// Open the container's /dev/null and check it is the real character device 1:3.
pub fn open_dev_null(root: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    let fd = open_in_root(root, Path::new("/dev/null"))?;
    let st = fstat(fd.as_fd())?;
    let is_chr = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR;
    if !is_chr || nix::sys::stat::major(st.st_rdev) != 1 || nix::sys::stat::minor(st.st_rdev) != 3 {
        return Err(Errno::EPERM);
    }
    Ok(fd)
}

/// Write a sysctl through the private procfs handle (never the container's /proc). The
/// namespaced sysctls (net, ipc, uts) act on the namespaces of the writing process — the init,
/// which is in the container's.
fn write_sysctl(proc: &ProcFs, key: &str, value: &str) -> Result<(), RootfsError> {
    let path = Path::new("sys").join(crate::spec::validate::sysctl_path(key));
    proc.write(&path, value.as_bytes())
        .map_err(|e| RootfsError::Sysctl {
            key: key.to_string(),
            value: value.to_string(),
            source: std::io::Error::from_raw_os_error(e as i32),
        })
}

/// The path as bytes, for CString conversions.
pub fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rel_strips_root() {
        assert_eq!(rel(Path::new("/a/b")), PathBuf::from("a/b"));
        assert_eq!(rel(Path::new("/a/../b")), PathBuf::from("a/../b"));
        assert_eq!(rel(Path::new("/")), PathBuf::from(""));
    }

    #[test]
    fn dev_null_must_be_the_null_device() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("dev")).unwrap();
        std::fs::create_dir_all(root.join("proc/sys/kernel")).unwrap();
        let rfd =
            nix::fcntl::open(root, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
        // Missing: the error says so.
        assert_eq!(open_dev_null(rfd.as_fd()).unwrap_err(), Errno::ENOENT);
        // A regular file, and a symlink to a "proc file" (CVE-2025-31133): never a mask source.
        std::fs::write(root.join("proc/sys/kernel/core_pattern"), "|/x").unwrap();
        std::os::unix::fs::symlink("/proc/sys/kernel/core_pattern", root.join("dev/null")).unwrap();
        assert_eq!(open_dev_null(rfd.as_fd()).unwrap_err(), Errno::EPERM);
        std::fs::remove_file(root.join("dev/null")).unwrap();
        std::fs::write(root.join("dev/null"), "").unwrap();
        assert_eq!(open_dev_null(rfd.as_fd()).unwrap_err(), Errno::EPERM);
    }

    #[test]
    fn ensure_in_root_stays_inside_and_follows_symlinks_inside() {
        let base = std::env::temp_dir().join(format!("minke-rootfs-{}", std::process::id()));
        let root = base.join("root");
        let outside = base.join("outside");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        // A symlink in the rootfs pointing at an absolute host path: must resolve inside root.
        std::os::unix::fs::symlink(&outside, root.join("evil")).unwrap();
        let rfd =
            nix::fcntl::open(&root, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
        let fd = ensure_in_root(rfd.as_fd(), Path::new("/evil/sub"), Leaf::Dir).unwrap();
        assert!(is_dir(fd.as_fd()));
        assert!(!outside.join("sub").exists(), "created on the host");
        assert!(root
            .join(outside.strip_prefix("/").unwrap())
            .join("sub")
            .is_dir());
        // A dangling absolute symlink: its target is created inside root.
        std::os::unix::fs::symlink("/nowhere/deep", root.join("dangling")).unwrap();
        ensure_in_root(rfd.as_fd(), Path::new("/dangling/x"), Leaf::Dir).unwrap();
        assert!(root.join("nowhere/deep/x").is_dir());
        assert!(!Path::new("/nowhere").exists());
        // A file leaf.
        let f = ensure_in_root(rfd.as_fd(), Path::new("/etc/hostname"), Leaf::File).unwrap();
        assert!(!is_dir(f.as_fd()));
        assert!(root.join("etc/hostname").is_file());
        // `..` cannot climb out.
        let up = open_in_root(rfd.as_fd(), Path::new("/../../..")).unwrap();
        let st_up = fstat(up.as_fd()).unwrap();
        let st_root = fstat(rfd.as_fd()).unwrap();
        assert_eq!(st_up.st_ino, st_root.st_ino);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
