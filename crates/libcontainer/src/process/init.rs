//! The child side of `create`: the process cloned by the runtime becomes the container's init
//! (possibly through an intermediate that joins namespaces and forks once more). It executes
//! the [`Plan`] it already holds in memory, reports to the parent over its channel, then waits
//! on the start socket and execs the user process. See the sequence diagram in `process`.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::stat::Mode;

use super::{Channel, ChildMsg, ErrorChain, InitReply, ParentMsg, StartMsg};
use crate::capabilities::{self, CapMasks};
use crate::hooks::{self, HookKind};
use crate::plan::{IdMap, Plan};
use crate::rootfs::{self, CgroupMountInfo};
use crate::sys::{self, Forked};
use crate::tty;

/// Everything the child needs besides the plan, prepared by the parent before clone.
pub struct ChildArgs<'a> {
    pub plan: &'a Plan,
    pub chan: Channel<ChildMsg, ParentMsg>,
    /// The listening start socket (bound at `<state>/init.sock` by the parent).
    pub listener: OwnedFd,
    /// Connected `--console-socket`, when `process.terminal` is set.
    pub console: Option<OwnedFd>,
    /// Other fds of the runtime that must stay open until exec (the log file).
    pub keep: Vec<RawFd>,
    pub cgroup_mounts: CgroupMountInfo,
    pub caps: CapMasks,
    pub last_cap: u8,
    /// v1 `tasks` files to write `0` to (join the cgroup ourselves), right after `Proceed`.
    pub v1_tasks: Vec<std::path::PathBuf>,
    /// Network devices the runtime moves into the container's namespace (then configured here).
    pub net_devices: Vec<crate::netdev::DeviceFacts>,
    /// Detached idmapped mount trees built by the runtime, by mount index.
    pub idmapped: rootfs::idmap::IdmappedTrees,
    /// The compiled seccomp filter, installed just before execve (taken once).
    pub seccomp: std::cell::Cell<Option<crate::seccomp::Filter>>,
}

/// Why the container's init could not be set up or started.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("the runtime went away")]
    ParentGone,
    #[error("unexpected message from the runtime: {0}")]
    Protocol(String),
    #[error(transparent)]
    Channel(#[from] super::ChannelError),
    #[error("joining the {kind} namespace {path}")]
    Setns {
        kind: &'static str,
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("creating namespaces ({what})")]
    Unshare {
        what: String,
        #[source]
        source: Errno,
    },
    #[error("linux.timeOffsets: writing /proc/self/timens_offsets")]
    TimeOffsets(#[source] std::io::Error),
    #[error("fork of the container init")]
    Fork(#[source] Errno),
    #[error("becoming root in the user namespace")]
    UserNsRoot(#[source] Errno),
    #[error("{field}: setting it to {value:?}")]
    Uts {
        field: &'static str,
        value: String,
        #[source]
        source: Errno,
    },
    #[error(transparent)]
    Rootfs(#[from] rootfs::RootfsError),
    #[error(transparent)]
    Procfs(#[from] rootfs::procfs::ProcFsError),
    #[error(transparent)]
    Hook(#[from] hooks::HookError),
    #[error("process.rlimits: setting {name} to soft {soft}, hard {hard}")]
    Rlimit {
        name: &'static str,
        soft: u64,
        hard: u64,
        #[source]
        source: Errno,
    },
    #[error("process.oomScoreAdj: writing {0}")]
    OomScoreAdj(i32, #[source] std::io::Error),
    #[error("joining a new session keyring")]
    Keyring(#[source] Errno),
    #[error("exec: {arg0:?}: {msg}")]
    Exec { arg0: String, msg: String },
    #[error(transparent)]
    Tty(#[from] tty::TtyError),
    #[error("process.terminal is true but no --console-socket was given")]
    NoConsoleSocket,
    #[error("process.user: {what}")]
    User {
        what: String,
        #[source]
        source: Errno,
    },
    #[error(transparent)]
    Caps(#[from] capabilities::CapsError),
    #[error("process.cwd: changing to {path}")]
    Cwd {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("process.cwd {0} is outside the container's root")]
    CwdEscaped(PathBuf),
    #[error("process.noNewPrivileges: setting no_new_privs")]
    NoNewPrivs(#[source] Errno),
    #[error("waiting for start on the init socket")]
    Accept(#[source] Errno),
    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::SeccompError),
    #[error(transparent)]
    ProcAttr(#[from] crate::procattrs::ProcAttrError),
    #[error(transparent)]
    NetDev(#[from] crate::netdev::NetDevError),
    #[error(transparent)]
    Lsm(#[from] crate::lsm::LsmError),
    #[error("joining the container's cgroup: writing {0}")]
    JoinCgroup(std::path::PathBuf, #[source] std::io::Error),
    #[error("{0}")]
    Other(String),
}

type Result<T, E = InitError> = std::result::Result<T, E>;

/// Entry point of the cloned child. Never returns.
pub fn child_main(args: ChildArgs<'_>) -> ! {
    match run(&args) {
        Ok(never) => match never {},
        Err(e) => {
            let _ = args.chan.send(&ChildMsg::Failed(ErrorChain::capture(&e)));
            sys::exit_immediately(1)
        }
    }
}

fn expect_proceed(chan: &Channel<ChildMsg, ParentMsg>) -> Result<()> {
    match chan.recv()? {
        Some(ParentMsg::Proceed) => Ok(()),
        Some(other) => Err(InitError::Protocol(format!("{other:?}"))),
        None => Err(InitError::ParentGone),
    }
}

/// Close every fd the container must not inherit, keeping stdio, the preserved fds, and ours
/// (which are all close-on-exec and vanish at execve).
fn close_inherited_fds(a: &ChildArgs<'_>) -> Result<()> {
    let mut keep: Vec<RawFd> = vec![a.chan.as_fd().as_raw_fd(), a.listener.as_raw_fd()];
    if let Some(c) = &a.console {
        keep.push(c.as_raw_fd());
    }
    keep.extend(a.keep.iter().copied());
    keep.extend(a.idmapped.values().map(|fd| fd.as_raw_fd()));
    close_fds_except(3 + a.plan.options.preserve_fds, &keep)
        .map_err(|e| InitError::Other(format!("closing inherited fds: {e}")))
}

/// Close every fd from `first` on, except those in `keep`.
///
/// Used twice: on entry (fds the runtime inherited from its caller), and right before the
/// user process is executed, for the runtime's own fds. Those are all close-on-exec, but
/// execve resolves its path, and the process's cwd is resolved, while they are still open: a
/// `/proc/self/fd/N/..` in either (planted in the image, or swapped in by a process in the
/// container after the checks at create) would walk out through a runtime fd otherwise
/// (CVE-2024-21626). Closing is for fds no live Rust object will use again: the caller never
/// returns to code that drops the owners (it execs or exits).
pub(crate) fn close_fds_except(first: u32, keep: &[RawFd]) -> Result<(), Errno> {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter(|&&fd| fd >= 0)
        .map(|&fd| fd as u32)
        .filter(|&fd| fd >= first)
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut from = first;
    for fd in keep {
        if fd > from {
            sys::close_range(from, fd - 1, false)?;
        }
        from = fd + 1;
    }
    sys::close_range(from, u32::MAX, false)
}

fn run(a: &ChildArgs<'_>) -> Result<Infallible> {
    sys::reset_signal_dispositions();
    close_inherited_fds(a)?;
    expect_proceed(&a.chan)?;
    for path in &a.v1_tasks {
        std::fs::write(path, "0").map_err(|e| InitError::JoinCgroup(path.clone(), e))?;
    }
    let ns = &a.plan.namespaces;
    if !ns.single_clone() {
        enter_namespaces(a)?;
    }
    init_main(a)
}

/// Two-stage arrangement: join namespaces by path (user last), unshare the new ones (user
/// first, with its id maps written by the parent), then fork so that the init is inside the
/// new or joined pid/time namespace.
fn enter_namespaces(a: &ChildArgs<'_>) -> Result<()> {
    let ns = &a.plan.namespaces;
    for (kind, path) in &ns.join {
        let f = nix::fcntl::open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()).map_err(
            |source| InitError::Setns {
                kind: kind.name(),
                path: path.clone(),
                source,
            },
        )?;
        setns(f.as_fd(), CloneFlags::from_bits_retain(kind.0)).map_err(|source| {
            InitError::Setns {
                kind: kind.name(),
                path: path.clone(),
                source,
            }
        })?;
    }
    let mut flags = ns.new & !libc::CLONE_NEWCGROUP;
    if flags & libc::CLONE_NEWUSER != 0 {
        unshare(CloneFlags::CLONE_NEWUSER).map_err(|source| InitError::Unshare {
            what: "user".into(),
            source,
        })?;
        a.chan.send(&ChildMsg::WriteIdMaps {
            pid: nix::unistd::getpid().as_raw(),
        })?;
        expect_proceed(&a.chan)?;
        flags &= !libc::CLONE_NEWUSER;
    }
    if flags != 0 {
        unshare(CloneFlags::from_bits_retain(flags)).map_err(|source| InitError::Unshare {
            what: ns_names(flags),
            source,
        })?;
    }
    if ns.creates(libc::CLONE_NEWTIME) && !ns.time_offsets.is_empty() {
        let text: String = ns
            .time_offsets
            .iter()
            .map(|(clock, s, n)| format!("{clock} {s} {n}\n"))
            .collect();
        // One write per line: the kernel takes one offset per write.
        for line in text.lines() {
            std::fs::write("/proc/self/timens_offsets", line).map_err(InitError::TimeOffsets)?;
        }
    }
    if ns.needs_second_fork() {
        match sys::fork().map_err(InitError::Fork)? {
            Forked::Child => {}
            Forked::Parent(pid) => {
                let _ = a.chan.send(&ChildMsg::InitPid { pid: pid.as_raw() });
                sys::exit_immediately(0);
            }
        }
    }
    Ok(())
}

fn ns_names(flags: libc::c_int) -> String {
    [
        libc::CLONE_NEWNS,
        libc::CLONE_NEWUTS,
        libc::CLONE_NEWIPC,
        libc::CLONE_NEWPID,
        libc::CLONE_NEWNET,
        libc::CLONE_NEWTIME,
        libc::CLONE_NEWCGROUP,
    ]
    .iter()
    .filter(|f| flags & **f != 0)
    .map(|f| crate::plan::NsKind(*f).name())
    .collect::<Vec<_>>()
    .join(", ")
}

fn init_main(a: &ChildArgs<'_>) -> Result<Infallible> {
    let plan = a.plan;
    let ns = &plan.namespaces;
    let in_userns = ns.private(libc::CLONE_NEWUSER);
    if in_userns && (ns.joins(libc::CLONE_NEWUSER) || IdMap::to_host(&ns.uid_map, 0).is_some()) {
        sys::raw_setresgid(0).map_err(InitError::UserNsRoot)?;
        sys::raw_setresuid(0).map_err(InitError::UserNsRoot)?;
    }
    if ns.creates(libc::CLONE_NEWCGROUP) {
        unshare(CloneFlags::CLONE_NEWCGROUP).map_err(|source| InitError::Unshare {
            what: "cgroup".into(),
            source,
        })?;
    }
    if let Some(h) = plan.hostname.as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).map_err(|source| InitError::Uts {
            field: "hostname",
            value: h.to_string(),
            source,
        })?;
    }
    if let Some(d) = plan.domainname.as_deref().filter(|d| !d.is_empty()) {
        sys::setdomainname(d).map_err(|source| InitError::Uts {
            field: "domainname",
            value: d.to_string(),
            source,
        })?;
    }
    // Our own procfs for the writes to /proc (oom_score_adj, sysctls), made now: we are in
    // the container's pid namespace, and no container mount exists yet to hide parts of /proc
    // (which would make the kernel refuse a new procfs in a user namespace).
    let proc = rootfs::ProcFs::open()?;
    if let Some(adj) = plan.process.oom_score_adj {
        proc.write(Path::new("self/oom_score_adj"), adj.to_string().as_bytes())
            .map_err(|e| InitError::OomScoreAdj(adj, std::io::Error::from(e)))?;
    }
    if !plan.options.no_new_keyring {
        let name = CString::new(format!("_ses.{}", plan.id)).unwrap_or_default();
        match sys::join_session_keyring(&name) {
            Ok(()) => {
                // A new keyring's permissions (possessor: all; owner: view, read, link) plus
                // search for its owner, as runc sets them; group and others get nothing.
                sys::session_keyring_setperm(0x3f1b_0000).map_err(InitError::Keyring)?;
            }
            // Kernels without keyrings, or a seccomp'd runtime: runc treats ENOSYS as "none".
            Err(Errno::ENOSYS) => {}
            Err(e) => return Err(InitError::Keyring(e)),
        }
    }

    let prepared = rootfs::prepare(plan, &a.cgroup_mounts, in_userns, &a.idmapped)?;
    a.chan.send(&ChildMsg::RunCreateHooks)?;
    let state = match a.chan.recv()? {
        Some(ParentMsg::CreateHooksDone { state }) => state,
        Some(other) => return Err(InitError::Protocol(format!("{other:?}"))),
        None => return Err(InitError::ParentGone),
    };
    crate::netdev::configure(&a.net_devices)?;
    hooks::run_all(
        HookKind::CreateContainer,
        plan.hooks.as_ref(),
        &state_with_own_pid(&state),
    )?;
    rootfs::enter(&prepared, plan)?;
    drop(prepared);
    rootfs::finalize(plan, &proc)?;

    for r in &plan.process.rlimits {
        sys::setrlimit(r.resource, r.soft, r.hard).map_err(|source| InitError::Rlimit {
            name: r.name,
            soft: r.soft,
            hard: r.hard,
            source,
        })?;
    }
    crate::procattrs::apply(&plan.process.attrs)?;
    let root = nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| InitError::Other(format!("opening the new root: {e}")))?;
    let exe = resolve_executable(root.as_fd(), plan)?;
    let env = environment(root.as_fd(), plan);
    let groups = supplementary_groups(root.as_fd(), plan);

    if plan.process.terminal {
        let console = a.console.as_ref().ok_or(InitError::NoConsoleSocket)?;
        nix::unistd::setsid().map_err(|source| InitError::User {
            what: "setsid".into(),
            source,
        })?;
        let pty = tty::open_pty(root.as_fd(), plan.process.console_size)?;
        tty::bind_console(root.as_fd(), &pty)?;
        tty::send_master(console.as_fd(), &pty)?;
        tty::make_stdio(pty.slave.as_fd())?;
    }
    fix_stdio_ownership(plan);

    a.chan.send(&ChildMsg::Ready)?;
    wait_for_start(a, &exe, &env, &groups, &proc)
}

/// Replace the "pid" of a state JSON with our own pid (as the container sees it).
pub(crate) fn state_with_own_pid(state: &str) -> Vec<u8> {
    match serde_json::from_str::<serde_json::Value>(state) {
        Ok(mut v) => {
            v["pid"] = serde_json::Value::from(nix::unistd::getpid().as_raw());
            serde_json::to_vec(&v).unwrap_or_else(|_| state.as_bytes().to_vec())
        }
        Err(_) => state.as_bytes().to_vec(),
    }
}

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Find the executable the way execvp would, inside the new root, and check it is runnable.
pub(crate) fn resolve_executable(root: BorrowedFd<'_>, plan: &Plan) -> Result<CString> {
    let arg0 = &plan.process.args[0];
    let err = |msg: &str| InitError::Exec {
        arg0: arg0.clone(),
        msg: msg.to_string(),
    };
    let check = |p: &Path| -> std::result::Result<(), Errno> {
        let fd = rootfs::open_in_root(root, p)?;
        let st = nix::sys::stat::fstat(fd.as_fd())?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(Errno::EACCES);
        }
        if st.st_mode & 0o111 == 0 {
            return Err(Errno::EACCES);
        }
        Ok(())
    };
    if arg0.contains('/') {
        let p = if Path::new(arg0).is_absolute() {
            PathBuf::from(arg0)
        } else {
            plan.process.cwd.join(arg0)
        };
        return match check(&p) {
            Ok(()) => Ok(CString::new(arg0.as_bytes()).map_err(|_| err("invalid path"))?),
            Err(Errno::ENOENT) => Err(err("no such file or directory")),
            Err(Errno::EACCES) => Err(err("permission denied")),
            Err(e) => Err(err(e.desc())),
        };
    }
    let path_var = plan
        .process
        .env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    let mut denied = false;
    for dir in path_var.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = Path::new(dir).join(arg0);
        let cand = if cand.is_absolute() {
            cand
        } else {
            plan.process.cwd.join(cand)
        };
        match check(&cand) {
            Ok(()) => {
                return CString::new(cand.as_os_str().as_bytes()).map_err(|_| err("invalid path"))
            }
            Err(Errno::EACCES) => denied = true,
            Err(_) => {}
        }
    }
    if denied {
        Err(err("permission denied"))
    } else {
        Err(err("executable file not found in $PATH"))
    }
}

/// Read a small file of the container (after pivot_root), confined to its root.
fn read_in_root(root: BorrowedFd<'_>, path: &str) -> Option<String> {
    let fd = nix::fcntl::openat2(
        root,
        Path::new(path.trim_start_matches('/')),
        nix::fcntl::OpenHow::new()
            .flags(OFlag::O_RDONLY | OFlag::O_CLOEXEC)
            .resolve(
                nix::fcntl::ResolveFlag::RESOLVE_IN_ROOT
                    | nix::fcntl::ResolveFlag::RESOLVE_NO_MAGICLINKS,
            ),
    )
    .ok()?;
    let mut s = String::new();
    std::io::Read::read_to_string(&mut std::fs::File::from(fd), &mut s).ok()?;
    Some(s)
}

/// The user's passwd entry (name, home), if the image has one.
fn passwd_entry(root: BorrowedFd<'_>, uid: u32) -> Option<(String, String)> {
    let text = read_in_root(root, "/etc/passwd")?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 7 && f[2].parse::<u32>().ok() == Some(uid))
            .then(|| (f[0].to_string(), f[5].to_string()))
    })
}

/// process.env, plus HOME from the image's /etc/passwd (or "/") when not given, as runc does.
pub(crate) fn environment(root: BorrowedFd<'_>, plan: &Plan) -> Vec<CString> {
    let mut env: Vec<String> = plan.process.env.clone();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        let home = passwd_entry(root, plan.process.uid)
            .map(|(_, h)| h)
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "/".into());
        env.push(format!("HOME={home}"));
    }
    env.into_iter()
        .filter_map(|e| CString::new(e).ok())
        .collect()
}

/// Supplementary groups: the user's groups in the image's /etc/group, then additionalGids.
pub(crate) fn supplementary_groups(root: BorrowedFd<'_>, plan: &Plan) -> Vec<u32> {
    let mut groups = Vec::new();
    if let Some((name, _)) = passwd_entry(root, plan.process.uid) {
        if let Some(text) = read_in_root(root, "/etc/group") {
            for l in text.lines() {
                let f: Vec<&str> = l.split(':').collect();
                if f.len() >= 4 && f[3].split(',').any(|m| m == name) {
                    if let Ok(g) = f[2].parse::<u32>() {
                        groups.push(g);
                    }
                }
            }
        }
    }
    for g in &plan.process.additional_gids {
        if !groups.contains(g) {
            groups.push(*g);
        }
    }
    groups
}

/// Give the container user its stdio (pipes made by root are otherwise not reopenable through
/// /proc/self/fd by a non-root process), except /dev/null.
pub(crate) fn fix_stdio_ownership(plan: &Plan) {
    let (uid, gid) = (plan.process.uid, plan.process.gid);
    if uid == 0 && gid == 0 {
        return;
    }
    fn fix<F: AsFd + Copy>(fd: F, uid: u32, gid: u32) {
        let Ok(st) = nix::sys::stat::fstat(fd) else {
            return;
        };
        let is_chr = st.st_mode & libc::S_IFMT == libc::S_IFCHR;
        if is_chr
            && nix::sys::stat::major(st.st_rdev) == 1
            && nix::sys::stat::minor(st.st_rdev) == 3
        {
            return;
        }
        if st.st_uid == uid && st.st_gid == gid {
            return;
        }
        let _ = nix::unistd::fchown(
            fd,
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
        );
    }
    let (i, o, e) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    fix(i.as_fd(), uid, gid);
    fix(o.as_fd(), uid, gid);
    fix(e.as_fd(), uid, gid);
}

fn wait_for_start(
    a: &ChildArgs<'_>,
    exe: &CString,
    env: &[CString],
    groups: &[u32],
    proc: &rootfs::ProcFs,
) -> Result<Infallible> {
    sys::exit_on_termination_signals()
        .map_err(|e| InitError::Other(format!("installing signal handlers: {e}")))?;
    loop {
        let conn = sys::accept_cloexec(a.listener.as_fd()).map_err(InitError::Accept)?;
        let chan: Channel<InitReply, StartMsg> = Channel::from_fd(conn);
        let state = match chan.recv() {
            Ok(Some(StartMsg::Start { state })) => state,
            _ => continue,
        };
        match start(a, &chan, &state, exe, env, groups, proc) {
            Ok(never) => match never {},
            Err(e) => {
                let _ = chan.send(&InitReply::Failed(ErrorChain::capture(&e)));
                sys::exit_immediately(1);
            }
        }
    }
}

/// The `start` operation inside the container: hooks, credentials, capabilities, no_new_privs,
/// seccomp, execve — in that order.
fn start(
    a: &ChildArgs<'_>,
    chan: &Channel<InitReply, StartMsg>,
    state: &str,
    exe: &CString,
    env: &[CString],
    groups: &[u32],
    proc: &rootfs::ProcFs,
) -> Result<Infallible> {
    let plan = a.plan;
    let p = &plan.process;
    hooks::run_all(
        HookKind::StartContainer,
        plan.hooks.as_ref(),
        &state_with_own_pid(state),
    )?;

    // AppArmor: the profile the process gets at execve (after the hooks, which the init execs
    // and which must not run under it); set through our own procfs handle, before its fd goes.
    if let Some(profile) = &p.apparmor_profile {
        crate::lsm::apparmor_exec(proc, profile)?;
    }
    let filter = a.seccomp.take();
    let args: Vec<CString> = p
        .args
        .iter()
        .filter_map(|s| CString::new(s.as_bytes()).ok())
        .collect();
    // From here on only this start channel (to report a failure) and the log are needed: close
    // the rest of the runtime's fds (the create channel, the start listener, the console
    // socket, idmapped trees, the procfs handle, the root handle) before the cwd and the
    // executable's path are resolved.
    let mut keep = vec![chan.as_fd().as_raw_fd()];
    keep.extend(a.keep.iter().copied());
    close_fds_except(3 + plan.options.preserve_fds, &keep)
        .map_err(|e| InitError::Other(format!("closing the runtime's fds: {e}")))?;
    chan.send(&InitReply::Executing)?;
    // Without no_new_privs the kernel only takes a filter from a task with CAP_SYS_ADMIN: then
    // it goes in before privileges are dropped (as runc does), and the rest of the setup runs
    // under it; with no_new_privs it goes in last, right before execve.
    let mut filter = filter;
    if !p.no_new_privileges {
        if let Some(f) = filter.take() {
            install_seccomp(f, chan)?;
        }
    }
    // No `process.capabilities` means empty sets (as runc and crun): the process gets none.
    capabilities::drop_bounding(&a.caps, a.last_cap)?;
    change_user(plan, groups)?;
    capabilities::apply_sets(&a.caps, a.last_cap)?;
    if let Some(mask) = p.umask {
        sys::set_umask(mask);
    }
    change_dir(&p.cwd)?;
    if p.no_new_privileges {
        nix::sys::prctl::set_no_new_privs().map_err(InitError::NoNewPrivs)?;
    }
    if let Some(f) = filter {
        install_seccomp(f, chan)?;
    }
    let err = nix::unistd::execve(exe, &args, env).unwrap_err();
    Err(InitError::Exec {
        arg0: p.args[0].clone(),
        msg: err.desc().to_lowercase(),
    })
}

/// Load the filter; a notify fd goes to `start` (in the runtime's namespaces), which passes it
/// to linux.seccomp.listenerPath.
pub(crate) fn install_seccomp(
    filter: crate::seccomp::Filter,
    chan: &Channel<InitReply, StartMsg>,
) -> Result<()> {
    let notify = filter.install()?;
    if let Some(fd) = notify {
        chan.send_with_fds(&InitReply::SeccompFd, &[fd.as_fd()])?;
    }
    Ok(())
}

/// setgroups, setgid, setuid — keeping the permitted capabilities across the uid change so
/// the configured sets can be applied afterwards.
pub(crate) fn change_user(plan: &Plan, groups: &[u32]) -> Result<()> {
    let p = &plan.process;
    let uerr = |what: &str| {
        let what = what.to_string();
        move |source| InitError::User { what, source }
    };
    nix::sys::prctl::set_keepcaps(true).map_err(uerr("keeping capabilities across setuid"))?;
    let setgroups_allowed = !plan.namespaces.private(libc::CLONE_NEWUSER)
        || std::fs::read_to_string("/proc/self/setgroups")
            .map(|s| s.trim() != "deny")
            .unwrap_or(true);
    if setgroups_allowed {
        sys::raw_setgroups(groups).map_err(uerr("setgroups (additionalGids)"))?;
    } else if !p.additional_gids.is_empty() {
        return Err(InitError::User {
            what: "additionalGids cannot be set: setgroups is denied in this user namespace".into(),
            source: Errno::EPERM,
        });
    }
    sys::raw_setresgid(p.gid).map_err(uerr(&format!("setgid {}", p.gid)))?;
    sys::raw_setresuid(p.uid).map_err(uerr(&format!("setuid {}", p.uid)))?;
    nix::sys::prctl::set_keepcaps(false).map_err(uerr("resetting keepcaps"))?;
    Ok(())
}

/// chdir to process.cwd (created during rootfs setup), then check that the resulting working
/// directory is inside the container root (a leaked host directory fd could otherwise give the
/// process a cwd outside it — CVE-2024-21626).
pub(crate) fn change_dir(cwd: &Path) -> Result<()> {
    nix::unistd::chdir(cwd).map_err(|source| InitError::Cwd {
        path: cwd.to_path_buf(),
        source,
    })?;
    match nix::unistd::getcwd() {
        Ok(p) if p.is_absolute() => Ok(()),
        Ok(_) => Err(InitError::CwdEscaped(cwd.to_path_buf())),
        // getcwd fails with ENOENT when the cwd is unreachable from the root.
        Err(_) => Err(InitError::CwdEscaped(cwd.to_path_buf())),
    }
}
