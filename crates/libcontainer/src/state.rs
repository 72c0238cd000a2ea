//! Container state on disk: `<root>/<id>/state.json`, written atomically, plus a per-container
//! lock. The status is never trusted from the file alone: it is derived from the recorded phase
//! and the live facts (is the init pid alive, with the same start time, not a zombie; is the
//! cgroup frozen), by the pure function [`derive_status`].

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::proc::{self, ProcStat};

/// The OCI version this runtime implements.
pub const OCI_VERSION: &str = "1.3.0";

/// The name of the state file inside a container's directory.
pub const STATE_FILE: &str = "state.json";
/// The socket the init listens on while it waits for `start`.
pub const START_SOCKET: &str = "init.sock";
/// Copy of config.json as it was at create time.
pub const CONFIG_COPY: &str = "config.json";

/// Where a container is in its life, as recorded by the runtime's own commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// `create` is under way (the creating process's pid is recorded).
    Creating,
    /// `create` finished; the init waits for `start`.
    Created,
    /// `start` saw the user process executed.
    Started,
}

/// The status reported to users (runtime.md "State"), plus `paused` as runc reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What the runtime keeps about a container between commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerState {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub phase: Phase,
    /// The init pid as seen from the runtime's pid namespace (0 while creating).
    pub pid: i32,
    /// The init's start time (field 22 of /proc/<pid>/stat), to recognise a reused pid.
    pub pid_start_time: u64,
    /// While creating: the creating runtime process, so a crashed create can be recognised.
    #[serde(default)]
    pub creator_pid: i32,
    #[serde(default)]
    pub creator_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 creation time.
    pub created: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The container's cgroup, as saved by the cgroup manager (opaque here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<serde_json::Value>,
    /// Namespace flags the container has of its own (created or joined), for `exec`.
    #[serde(default)]
    pub private_namespaces: i32,
    /// The container runs in a user namespace: needed by later commands (`exec`).
    #[serde(default)]
    pub user_namespace: bool,
    /// Hooks that later commands run (poststart, poststop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<oci_spec::runtime::Hooks>,
    /// linux.intelRdt: what delete undoes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rdt: Option<crate::resctrl::SavedRdt>,
}

/// The live facts [`derive_status`] combines with the recorded phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// The pid exists, has the recorded start time and is not a zombie.
    Alive,
    /// Gone, a zombie, or a different process now holds the pid.
    Dead,
}

/// The pure status table.
pub fn derive_status(phase: Phase, init: Liveness, creator: Liveness, frozen: bool) -> Status {
    match (phase, init) {
        (Phase::Creating, _) => match creator {
            Liveness::Alive => Status::Creating,
            // The creating command died half-way: nothing runs; delete cleans up.
            Liveness::Dead => Status::Stopped,
        },
        (_, Liveness::Dead) => Status::Stopped,
        (_, Liveness::Alive) if frozen => Status::Paused,
        (Phase::Created, Liveness::Alive) => Status::Created,
        (Phase::Started, Liveness::Alive) => Status::Running,
    }
}

/// Check a (pid, start time) pair against /proc.
pub fn liveness(proc_root: &Path, pid: i32, start_time: u64) -> Liveness {
    if pid <= 0 {
        return Liveness::Dead;
    }
    match proc::stat(proc_root, pid) {
        Ok(ProcStat {
            state,
            start_time: st,
            ..
        }) if st == start_time && state != 'Z' && state != 'X' => Liveness::Alive,
        _ => Liveness::Dead,
    }
}

/// Errors of the state store.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("container does not exist")]
    NotExist,
    #[error("container with id {0} already exists")]
    Exists(String),
    #[error("invalid container id {id:?}: {reason}")]
    InvalidId { id: String, reason: &'static str },
    #[error("{op} {path}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("corrupt state file {path}")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StateError + 'a {
    move |source| StateError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Check a container id: non-empty, no `/`, not `.` or `..`, printable, at most 1024 bytes.
pub fn validate_id(id: &str) -> Result<(), StateError> {
    let bad = |reason| {
        Err(StateError::InvalidId {
            id: id.to_string(),
            reason,
        })
    };
    if id.is_empty() {
        return bad("must not be empty");
    }
    if id == "." || id == ".." {
        return bad("must not be . or ..");
    }
    if id.contains('/') {
        return bad("must not contain /");
    }
    if id.len() > 1024 {
        return bad("is longer than 1024 bytes");
    }
    if id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return bad("must not contain whitespace or control characters");
    }
    Ok(())
}

/// The state root directory (`--root`).
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// An exclusive lock on one container's directory, held while a command changes it.
pub struct Lock {
    _flock: Flock<File>,
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Store { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    fn ensure_root(&self) -> Result<(), StateError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(io("creating state root", &self.root))
    }

    /// Claim a new container id: creates `<root>/<id>` (atomically: a second create of the
    /// same id fails) and returns it locked.
    pub fn claim(&self, id: &str) -> Result<Lock, StateError> {
        validate_id(id)?;
        self.ensure_root()?;
        let dir = self.dir(id);
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(StateError::Exists(id.to_string()))
            }
            Err(e) => return Err(io("creating", &dir)(e)),
        }
        self.lock_dir(&dir)
    }

    fn lock_dir(&self, dir: &Path) -> Result<Lock, StateError> {
        let f = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(dir)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    StateError::NotExist
                } else {
                    io("opening", dir)(e)
                }
            })?;
        let flock = Flock::lock(f, FlockArg::LockExclusive)
            .map_err(|(_, e)| io("locking", dir)(std::io::Error::from(e)))?;
        Ok(Lock { _flock: flock })
    }

    /// Lock an existing container (waits for a command holding the lock to finish).
    pub fn lock(&self, id: &str) -> Result<Lock, StateError> {
        validate_id(id)?;
        let lock = self.lock_dir(&self.dir(id))?;
        // The holder before us may have deleted it.
        if !self.dir(id).join(STATE_FILE).exists() && !self.dir(id).exists() {
            return Err(StateError::NotExist);
        }
        Ok(lock)
    }

    /// Read a container's state.
    pub fn load(&self, id: &str) -> Result<ContainerState, StateError> {
        validate_id(id).map_err(|_| StateError::NotExist)?;
        let path = self.dir(id).join(STATE_FILE);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StateError::NotExist),
            Err(e) => return Err(io("reading", &path)(e)),
        };
        serde_json::from_slice(&bytes).map_err(|source| StateError::Corrupt { path, source })
    }

    /// Write a container's state atomically (temp file + rename, fsync not needed: state is
    /// under /run, a tmpfs).
    pub fn save(&self, state: &ContainerState) -> Result<(), StateError> {
        let dir = self.dir(&state.id);
        let tmp = dir.join(".state.json.tmp");
        let path = dir.join(STATE_FILE);
        let bytes = serde_json::to_vec(state).expect("state serialises");
        write_file_atomic(&tmp, &path, &bytes, 0o600).map_err(io("writing", &path))
    }

    /// Remove a container's directory.
    pub fn remove(&self, id: &str) -> Result<(), StateError> {
        let dir = self.dir(id);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("removing", &dir)(e)),
        }
    }

    /// Ids of every container under the root (sorted).
    pub fn ids(&self) -> Result<Vec<String>, StateError> {
        let rd = match fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(io("listing", &self.root)(e)),
        };
        let mut ids: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| validate_id(n).is_ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

/// Write `bytes` to `tmp`, then rename it over `path`.
pub fn write_file_atomic(tmp: &Path, path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .custom_flags(libc::O_CLOEXEC)
        .open(tmp)?;
    f.write_all(bytes)?;
    drop(f);
    fs::rename(tmp, path)
}

/// Write the pid file the way containerd wants it: bare digits, no newline, atomically
/// (a temp file in the same directory, renamed).
pub fn write_pid_file(path: &Path, pid: i32) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    write_file_atomic(&tmp, path, pid.to_string().as_bytes(), 0o644)
}

/// Keep the borrow checker honest about the lock fd type.
impl Lock {
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self._flock.as_fd()
    }
}

/// RFC 3339 (UTC, with nanoseconds) of a time since the epoch: `2026-11-21T23:56:03.123456789Z`.
pub fn rfc3339_nanos(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let (date, time) = civil(d.as_secs());
    format!("{date}T{time}.{:09}Z", d.subsec_nanos())
}

/// RFC 3339 (UTC, seconds): `2026-11-21T23:56:03Z`, as logrus writes it.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let (date, time) = civil(d.as_secs());
    format!("{date}T{time}Z")
}

fn civil(secs: u64) -> (String, String) {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!("{:02}:{:02}:{:02}", rem / 3600, (rem % 3600) / 60, rem % 60),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_table() {
        use Liveness::*;
        assert_eq!(
            derive_status(Phase::Creating, Dead, Alive, false),
            Status::Creating
        );
        assert_eq!(
            derive_status(Phase::Creating, Dead, Dead, false),
            Status::Stopped
        );
        assert_eq!(
            derive_status(Phase::Created, Alive, Dead, false),
            Status::Created
        );
        assert_eq!(
            derive_status(Phase::Created, Dead, Dead, false),
            Status::Stopped
        );
        assert_eq!(
            derive_status(Phase::Started, Alive, Dead, false),
            Status::Running
        );
        assert_eq!(
            derive_status(Phase::Started, Alive, Dead, true),
            Status::Paused
        );
        assert_eq!(
            derive_status(Phase::Created, Alive, Dead, true),
            Status::Paused
        );
        assert_eq!(
            derive_status(Phase::Started, Dead, Dead, true),
            Status::Stopped
        );
    }

    #[test]
    fn ids() {
        for ok in ["a", "abc-123_x.y", &"f".repeat(64)] {
            validate_id(ok).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "a b", "a\nb"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn store_roundtrip_and_duplicates() {
        let tmp = std::env::temp_dir().join(format!("minke-state-test-{}", std::process::id()));
        let store = Store::new(&tmp);
        let lock = store.claim("c1").unwrap();
        assert!(matches!(store.claim("c1"), Err(StateError::Exists(_))));
        assert!(matches!(store.load("c1"), Err(StateError::NotExist)));
        let st = ContainerState {
            oci_version: OCI_VERSION.into(),
            id: "c1".into(),
            phase: Phase::Created,
            pid: 42,
            pid_start_time: 7,
            creator_pid: 0,
            creator_start_time: 0,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2026-01-01T00:00:00Z".into(),
            owner: String::new(),
            annotations: BTreeMap::new(),
            cgroup: None,
            private_namespaces: 0,
            user_namespace: false,
            hooks: None,
            rdt: None,
        };
        store.save(&st).unwrap();
        drop(lock);
        let back = store.load("c1").unwrap();
        assert_eq!(back.pid, 42);
        assert_eq!(store.ids().unwrap(), vec!["c1".to_string()]);
        store.remove("c1").unwrap();
        assert!(store.ids().unwrap().is_empty());
        fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn pid_file_has_no_newline() {
        let tmp = std::env::temp_dir().join(format!("minke-pidfile-{}", std::process::id()));
        write_pid_file(&tmp, 1234).unwrap();
        assert_eq!(fs::read_to_string(&tmp).unwrap(), "1234");
        fs::remove_file(&tmp).unwrap();
    }

    #[test]
    fn time_format() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::new(1_795_305_363, 5);
        assert_eq!(rfc3339(t), "2026-11-21T23:56:03Z");
        assert_eq!(rfc3339_nanos(t), "2026-11-21T23:56:03.000000005Z");
        assert_eq!(rfc3339(std::time::UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }
}
