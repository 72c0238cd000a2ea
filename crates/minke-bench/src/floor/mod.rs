//! The floor: a minimal OCI runtime that does only the unavoidable work for the benchmark's
//! bundle — clone3 with the bundle's namespaces, cgroup placement in every mounted hierarchy
//! (with the limits), the mounts, device nodes, pivot_root, masked and read-only paths,
//! hostname, loopback, rlimits, capabilities, no_new_privs, seccomp, execve, and for `create`
//! the exec fifo that `start` opens — behind the same command line as runc, so that the harness
//! times it exactly like a runtime (three processes per lifecycle: create, start, delete).
//!
//! Cgroups: v2 is joined at clone time (`CLONE_INTO_CGROUP`); each v1 hierarchy is joined by
//! the init itself writing `0` to `tasks` while it is single-threaded, which skips the
//! threadgroup lock whose first use after an idle spell waits for an RCU grace period. With
//! `--cgroup-join=parent` the parent writes the pid to each v1 `cgroup.procs` instead, as runc
//! and crun do, so the benchmark can show what that wait costs (see [`cgroups::Join`]).
//!
//! A bundle asking for what the floor does not implement (hooks, a terminal, user namespaces,
//! joining existing namespaces, …) is refused (see [`plan`]), never half-done. Two shortcuts
//! apply to every bundle and make the floor slightly optimistic: mount destinations are joined
//! to the rootfs without safe symlink resolution, and on cgroup v2 the device rules are not
//! enforced (that needs an eBPF program, which the floor does not load).

pub mod cgroups;
pub mod cli;
pub mod init;
pub mod mounts;
pub mod plan;
pub mod process;
pub mod rootfs;
pub mod state;

use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::{setns, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::unistd::{mkfifo, pipe2, Pid};
use oci_spec::runtime::Spec;
use thiserror::Error;

use crate::sys::{self, Forked};
use cgroups::{CgroupError, Join, Placement, Version};
use cli::{Cli, Command};
use plan::PlanError;
use state::{State, StateError, Status};

/// Where the floor finds /proc.
pub const PROC: &str = "/proc";

/// How long `delete` waits for a killed init to exit.
pub const KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors of the floor's commands.
#[derive(Debug, Error)]
pub enum FloorError {
    /// The command line.
    #[error(transparent)]
    Cli(#[from] cli::CliError),
    /// config.json could not be loaded.
    #[error("loading {path}")]
    Spec {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: oci_spec::OciSpecError,
    },
    /// The bundle asks for something the floor cannot do.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// Cgroups.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// State.
    #[error(transparent)]
    State(#[from] StateError),
    /// Process setup in `exec`.
    #[error(transparent)]
    Process(#[from] process::ProcessError),
    /// The init reported an error.
    #[error("container init: {0}")]
    Init(String),
    /// The container is not in a status that allows the command.
    #[error("container {id} is {status}")]
    WrongStatus {
        /// The container.
        id: String,
        /// Its status.
        status: &'static str,
    },
    /// The init did not exit after SIGKILL.
    #[error("container {0} did not exit within {KILL_TIMEOUT:?} of SIGKILL")]
    KillTimeout(String),
    /// A system call of a command's own (not of the container's setup) failed.
    #[error("{0}")]
    Sys(&'static str, #[source] io::Error),
}

fn sys_err<E: Into<io::Error>>(what: &'static str) -> impl FnOnce(E) -> FloorError {
    move |e| FloorError::Sys(what, e.into())
}

fn load_spec(bundle: &Path) -> Result<Spec, FloorError> {
    let path = bundle.join("config.json");
    Spec::load(&path).map_err(|source| FloorError::Spec { path, source })
}

/// Runs a parsed command; returns the process exit code.
pub fn execute(cli: Cli) -> Result<i32, FloorError> {
    let root = cli.root;
    let join = cli.join;
    match cli.command {
        Command::Version => {
            println!("minke-floor {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
        Command::Create {
            bundle,
            pid_file,
            id,
        } => {
            let (_, _, cleanup) = create(&root, &id, &bundle, pid_file.as_deref(), true, join)?;
            cleanup.disarm();
            Ok(0)
        }
        Command::Run {
            bundle,
            pid_file,
            id,
        } => run(&root, &id, &bundle, pid_file.as_deref(), join),
        Command::Start { id } => start(&root, &id).map(|()| 0),
        Command::State { id } => {
            let (dir, st) = state::load(&root, &id)?;
            let status = state::status(Path::new(PROC), &dir, &st);
            println!(
                "{}",
                serde_json::to_string_pretty(&state::oci_json(&st, status)).expect("json")
            );
            Ok(0)
        }
        Command::Kill { id, signal } => {
            let (dir, st) = state::load(&root, &id)?;
            match state::status(Path::new(PROC), &dir, &st) {
                Status::Stopped => Err(FloorError::WrongStatus {
                    id,
                    status: "not running",
                }),
                _ => kill(Pid::from_raw(st.pid), signal)
                    .map(|()| 0)
                    .map_err(sys_err("kill")),
            }
        }
        Command::Delete { id, force } => delete(&root, &id, force).map(|()| 0),
        Command::Exec { id, pid_file, args } => exec(&root, &id, pid_file.as_deref(), args, join),
        Command::List => list(&root).map(|()| 0),
    }
}

/// Undoes a half-made container when dropped, unless disarmed.
struct Cleanup {
    dir: Option<PathBuf>,
    cgroups: Vec<Placement>,
    child: Option<i32>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(pid) = self.child {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = sys::wait4(pid);
        }
        let _ = cgroups::remove(&self.cgroups);
        if let Some(dir) = &self.dir {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

impl Cleanup {
    fn disarm(mut self) {
        self.dir = None;
        self.cgroups.clear();
        self.child = None;
    }
}

/// create (`with_fifo`) or the first half of run: returns the init's pid and state.
fn create(
    root: &Path,
    id: &str,
    bundle: &Path,
    pid_file: Option<&Path>,
    with_fifo: bool,
    join: Join,
) -> Result<(i32, State, Cleanup), FloorError> {
    let bundle = fs::canonicalize(bundle).map_err(sys_err("resolving the bundle path"))?;
    let spec = load_spec(&bundle)?;
    let plan = plan::plan(&spec, &bundle)?;
    let dir = state::create_dir(root, id)?;
    let mut cleanup = Cleanup {
        dir: Some(dir.clone()),
        cgroups: Vec::new(),
        child: None,
    };

    let discovered = cgroups::discover(Path::new(PROC))?;
    let placements = cgroups::placements(&discovered, plan.cgroups_path.as_deref(), id)?;
    cleanup.cgroups = placements.clone();
    cgroups::create(&placements, plan.resources.as_ref())?;
    let v2_dir = placements
        .iter()
        .find(|p| p.version == Version::V2)
        .map(|p| p.dir.clone());
    let v2_fd: Option<OwnedFd> = match &v2_dir {
        Some(d) => Some(
            open(
                d,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(sys_err("opening the v2 cgroup"))?,
        ),
        None => None,
    };
    let has_v1 = placements.iter().any(|p| p.version == Version::V1);

    let fifo = if with_fifo {
        let path = state::fifo_path(&dir);
        mkfifo(&path, Mode::from_bits_truncate(0o622)).map_err(sys_err("creating exec.fifo"))?;
        Some(
            open(&path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
                .map_err(sys_err("opening exec.fifo"))?,
        )
    } else {
        None
    };
    let go = if has_v1 && join == Join::ParentProcs {
        Some(pipe2(OFlag::O_CLOEXEC).map_err(sys_err("pipe"))?)
    } else {
        None
    };
    let (report_read, report_write) = pipe2(OFlag::O_CLOEXEC).map_err(sys_err("pipe"))?;

    let flags = plan.clone_flags.bits() as u64;
    match sys::clone_process(flags, v2_fd.as_ref().map(|fd| fd.as_fd()))
        .map_err(sys_err("clone3"))?
    {
        Forked::Child => {
            // The child owns none of the parent's cleanup.
            std::mem::forget(cleanup);
            drop(report_read);
            let go_read = go.map(|(read, write)| {
                drop(write);
                read
            });
            init::run(
                &plan,
                &placements,
                init::Channels {
                    go: go_read,
                    self_join: join == Join::SelfTasks,
                    report: report_write,
                    fifo,
                },
            )
        }
        Forked::Parent(pid) => {
            cleanup.child = Some(pid);
            drop(report_write);
            drop(fifo);
            drop(v2_fd);
            if let Some((read, write)) = go {
                drop(read);
                // Without CLONE_INTO_CGROUP (no v2 hierarchy) every hierarchy is joined here.
                cgroups::add_process(&placements, pid, v2_dir.is_some())?;
                fs::File::from(write)
                    .write_all(&[1])
                    .map_err(sys_err("releasing the init"))?;
            }
            let mut report = Vec::new();
            fs::File::from(report_read)
                .read_to_end(&mut report)
                .map_err(sys_err("reading the init's report"))?;
            if report != [0] {
                let text = String::from_utf8_lossy(&report).into_owned();
                return Err(FloorError::Init(if text.is_empty() {
                    "exited without a report".into()
                } else {
                    text
                }));
            }
            let (start_time, _) = state::process_facts(Path::new(PROC), pid)
                .ok_or_else(|| FloorError::Init("exited right after its setup".into()))?;
            let st = State {
                id: id.to_string(),
                pid,
                start_time,
                bundle,
                cgroups: placements,
            };
            state::save(&dir, &st)?;
            if let Some(p) = pid_file {
                fs::write(p, pid.to_string()).map_err(sys_err("writing the pid file"))?;
            }
            Ok((pid, st, cleanup))
        }
    }
}

fn run(
    root: &Path,
    id: &str,
    bundle: &Path,
    pid_file: Option<&Path>,
    join: Join,
) -> Result<i32, FloorError> {
    let (pid, st, cleanup) = create(root, id, bundle, pid_file, false, join)?;
    let (status, _) = sys::wait4(pid).map_err(sys_err("waiting for the container"))?;
    cleanup.disarm();
    cgroups::remove(&st.cgroups)?;
    let dir = state::dir(root, id)?;
    fs::remove_dir_all(&dir).map_err(sys_err("removing the state directory"))?;
    Ok(exit_code(status))
}

/// The exit code a shell would report for `status` (128 + signal when killed).
fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Loads container `id` and checks that it is in status `want`.
fn load_in(root: &Path, id: &str, want: Status) -> Result<(PathBuf, State), FloorError> {
    let (dir, st) = state::load(root, id)?;
    let status = state::status(Path::new(PROC), &dir, &st);
    if status != want {
        return Err(FloorError::WrongStatus {
            id: id.to_string(),
            status: status.as_str(),
        });
    }
    Ok((dir, st))
}

fn start(root: &Path, id: &str) -> Result<(), FloorError> {
    let (dir, st) = load_in(root, id, Status::Created)?;
    let fifo = state::fifo_path(&dir);
    // The init waits in open(O_WRONLY); a non-blocking open for reading releases it without
    // risking to hang here if it died meanwhile: then its pidfd turns readable, not the fifo.
    let pidfd = sys::pidfd_open(st.pid).map_err(sys_err("pidfd_open"))?;
    let fd = open(
        &fifo,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(sys_err("opening exec.fifo"))?;
    let mut byte = [0u8; 1];
    loop {
        let mut fds = [
            PollFd::new(fd.as_fd(), PollFlags::POLLIN),
            PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(FloorError::Sys("poll", e.into())),
        }
        match nix::unistd::read(&fd, &mut byte) {
            Ok(1) => break,
            Ok(_) | Err(Errno::EAGAIN) => {
                let died = fds[1]
                    .revents()
                    .is_some_and(|r| r.contains(PollFlags::POLLIN));
                if died {
                    return Err(FloorError::Init("exited before it was started".into()));
                }
                if fds[0]
                    .revents()
                    .is_some_and(|r| r.contains(PollFlags::POLLHUP))
                {
                    return Err(FloorError::Init("closed exec.fifo without writing".into()));
                }
            }
            Err(e) => return Err(FloorError::Sys("reading exec.fifo", e.into())),
        }
    }
    fs::remove_file(&fifo).map_err(sys_err("removing exec.fifo"))
}

/// Waits until `pid` has exited (it may stay a zombie of another parent).
fn wait_exit(id: &str, pid: i32) -> Result<(), FloorError> {
    let fd = match sys::pidfd_open(pid) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(()),
        Err(e) => return Err(FloorError::Sys("pidfd_open", e)),
    };
    let deadline = Instant::now() + KILL_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(FloorError::KillTimeout(id.to_string()));
        }
        let ms =
            PollTimeout::try_from(left.as_millis().min(60_000) as i32).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, ms) {
            Ok(n) if n > 0 => return Ok(()),
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(e) => return Err(FloorError::Sys("poll", e.into())),
        }
    }
}

/// Removes cgroup directories; if one is still busy (processes of the container other than
/// its init, which the kernel kills when the init dies, not all at once), kill what is left in
/// it and retry until the kill timeout.
fn remove_cgroups(id: &str, placements: &[Placement]) -> Result<(), FloorError> {
    let deadline = Instant::now() + KILL_TIMEOUT;
    loop {
        match cgroups::remove(placements) {
            Ok(()) => return Ok(()),
            Err(CgroupError::Io { source, .. })
                if source.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline =>
            {
                for p in placements {
                    let procs = fs::read_to_string(p.dir.join("cgroup.procs")).unwrap_or_default();
                    for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                        wait_exit(id, pid)?;
                    }
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn delete(root: &Path, id: &str, force: bool) -> Result<(), FloorError> {
    let (dir, st) = state::load(root, id)?;
    match state::status(Path::new(PROC), &dir, &st) {
        Status::Stopped => {}
        Status::Running if !force => {
            return Err(FloorError::WrongStatus {
                id: id.to_string(),
                status: "running",
            })
        }
        Status::Created | Status::Running => {
            kill(Pid::from_raw(st.pid), Signal::SIGKILL).map_err(sys_err("kill"))?;
            wait_exit(id, st.pid)?;
        }
    }
    remove_cgroups(id, &st.cgroups)?;
    fs::remove_dir_all(&dir).map_err(sys_err("removing the state directory"))
}

/// Namespace files of /proc/PID/ns, in the order `exec` joins them (mount last: it changes the
/// root the other paths are resolved in).
const NAMESPACES: &[(CloneFlags, &str)] = &[
    (CloneFlags::CLONE_NEWIPC, "ipc"),
    (CloneFlags::CLONE_NEWUTS, "uts"),
    (CloneFlags::CLONE_NEWNET, "net"),
    (CloneFlags::CLONE_NEWPID, "pid"),
    (CloneFlags::CLONE_NEWCGROUP, "cgroup"),
    (CloneFlags::CLONE_NEWNS, "mnt"),
];

fn exec(
    root: &Path,
    id: &str,
    pid_file: Option<&Path>,
    args: Vec<String>,
    join: Join,
) -> Result<i32, FloorError> {
    let (_, st) = load_in(root, id, Status::Running)?;
    let spec = load_spec(&st.bundle)?;
    let full = plan::plan(&spec, &st.bundle)?;
    let mut process = full.process;
    process.args = args
        .iter()
        .map(|a| std::ffi::CString::new(a.as_str()).map_err(|_| PlanError::Nul("exec args".into())))
        .collect::<Result<_, _>>()?;
    let mut wanted = full.clone_flags;
    if full.cgroup_ns {
        wanted |= CloneFlags::CLONE_NEWCGROUP;
    }
    let mut fds = Vec::new();
    for (flag, name) in NAMESPACES {
        if wanted.contains(*flag) {
            let path = format!("{PROC}/{}/ns/{name}", st.pid);
            let fd = open(
                path.as_str(),
                OFlag::O_RDONLY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(sys_err("opening a namespace"))?;
            fds.push((*flag, fd));
        }
    }
    // ParentProcs: this process joins every hierarchy and its child inherits them. SelfTasks:
    // the child is born in the v2 cgroup (CLONE_INTO_CGROUP) and moves itself into the v1 ones.
    let v2_fd: Option<OwnedFd> = match join {
        Join::ParentProcs => {
            cgroups::add_process(&st.cgroups, std::process::id() as i32, false)?;
            None
        }
        Join::SelfTasks => match st.cgroups.iter().find(|p| p.version == Version::V2) {
            Some(p) => Some(
                open(
                    &p.dir,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(sys_err("opening the v2 cgroup"))?,
            ),
            None => None,
        },
    };
    // The mount namespace is joined by the child: after it, /proc is the container's, where
    // this process (outside its pid namespace) has no /proc/self.
    let mnt = fds
        .iter()
        .position(|(flag, _)| *flag == CloneFlags::CLONE_NEWNS)
        .map(|i| fds.remove(i));
    for (flag, fd) in &fds {
        setns(fd, *flag).map_err(sys_err("setns"))?;
    }
    drop(fds);
    match sys::clone_process(0, v2_fd.as_ref().map(|fd| fd.as_fd())).map_err(sys_err("fork"))? {
        Forked::Child => {
            let result: Result<(), FloorError> = (|| {
                if join == Join::SelfTasks {
                    cgroups::join_self_v1(&st.cgroups)?;
                }
                if let Some((flag, fd)) = &mnt {
                    setns(fd, *flag).map_err(sys_err("setns"))?;
                }
                let filter = process::prepare(&process)?;
                if let Some(f) = &filter {
                    process::load_seccomp(f)?;
                }
                Err(process::exec(&process).into())
            })();
            if let Err(e) = result {
                eprintln!("minke-floor exec: {}", init::chain(&e));
            }
            std::process::exit(127)
        }
        Forked::Parent(pid) => {
            if let Some(p) = pid_file {
                if let Err(e) = fs::write(p, pid.to_string()) {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                    let _ = sys::wait4(pid);
                    return Err(FloorError::Sys("writing the pid file", e));
                }
            }
            let (status, _) = sys::wait4(pid).map_err(sys_err("waiting for the process"))?;
            Ok(exit_code(status))
        }
    }
}

fn list(root: &Path) -> Result<(), FloorError> {
    println!("ID\tPID\tSTATUS\tBUNDLE");
    let entries = match fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(FloorError::Sys("reading the state root", e)),
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    for id in ids {
        let Ok((dir, st)) = state::load(root, &id) else {
            continue;
        };
        let status = state::status(Path::new(PROC), &dir, &st);
        let pid = if status == Status::Stopped { 0 } else { st.pid };
        println!("{id}\t{pid}\t{}\t{}", status.as_str(), st.bundle.display());
    }
    Ok(())
}

/// The floor's `main`: parses `args` (without the program name), runs, and returns the exit
/// code, printing errors as `minke-floor: a: b: c`.
pub fn main(args: &[String]) -> i32 {
    match cli::parse(args).map_err(FloorError::from).and_then(execute) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("minke-floor: {}", init::chain(&e));
            1
        }
    }
}
