//! The floor's per-container state: `ROOT/ID/state.json` (written atomically) and
//! `ROOT/ID/exec.fifo` while the container is created but not started. The status is derived:
//! the init is alive (same pid, same start time, not a zombie) and the fifo exists → created;
//! alive without it → running; else stopped.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use procfs::process::Stat;
use procfs::FromRead;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::cgroups::Placement;

/// Errors of state handling.
#[derive(Debug, Error)]
pub enum StateError {
    /// The id is empty or not a single path component.
    #[error("invalid container id {0:?}")]
    InvalidId(String),
    /// The container does not exist.
    #[error("container {0} does not exist")]
    NotFound(String),
    /// The container already exists.
    #[error("container {0} already exists")]
    Exists(String),
    /// A state file could not be read or written.
    #[error("{op} {path}")]
    Io {
        /// What was done.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// state.json is not valid.
    #[error("parsing {path}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

/// What `state.json` holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Container id.
    pub id: String,
    /// Pid of the init process.
    pub pid: i32,
    /// Its start time (field 22 of /proc/PID/stat), so that a reused pid is not mistaken for it.
    pub start_time: u64,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Its cgroups.
    pub cgroups: Vec<Placement>,
}

/// Container status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Created, not started.
    Created,
    /// Started, init alive.
    Running,
    /// Init gone.
    Stopped,
}

impl Status {
    /// The OCI name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Stopped => "stopped",
        }
    }
}

/// Checks that `id` is usable as a directory name.
pub fn validate_id(id: &str) -> Result<(), StateError> {
    if id.is_empty() || id == "." || id == ".." || id.contains('/') || id.contains('\0') {
        return Err(StateError::InvalidId(id.to_string()));
    }
    Ok(())
}

/// The container's state directory.
pub fn dir(root: &Path, id: &str) -> Result<PathBuf, StateError> {
    validate_id(id)?;
    Ok(root.join(id))
}

/// The fifo that `start` opens to release the init.
pub fn fifo_path(dir: &Path) -> PathBuf {
    dir.join("exec.fifo")
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StateError {
    let path = path.to_path_buf();
    move |source| StateError::Io { op, path, source }
}

/// Creates the state directory of a new container.
pub fn create_dir(root: &Path, id: &str) -> Result<PathBuf, StateError> {
    let dir = dir(root, id)?;
    fs::create_dir_all(root).map_err(io_err("creating", root))?;
    match fs::create_dir(&dir) {
        Ok(()) => Ok(dir),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            Err(StateError::Exists(id.to_string()))
        }
        Err(e) => Err(io_err("creating", &dir)(e)),
    }
}

/// Writes state.json atomically (temp file + rename).
pub fn save(dir: &Path, state: &State) -> Result<(), StateError> {
    let tmp = dir.join("state.json.tmp");
    let text = serde_json::to_vec(state).expect("State always serializes");
    fs::write(&tmp, text).map_err(io_err("writing", &tmp))?;
    let path = dir.join("state.json");
    fs::rename(&tmp, &path).map_err(io_err("renaming", &path))
}

/// Reads the state of container `id`.
pub fn load(root: &Path, id: &str) -> Result<(PathBuf, State), StateError> {
    let dir = dir(root, id)?;
    let path = dir.join("state.json");
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(StateError::NotFound(id.to_string()))
        }
        Err(e) => return Err(io_err("reading", &path)(e)),
    };
    let state =
        serde_json::from_slice(&bytes).map_err(|source| StateError::Parse { path, source })?;
    Ok((dir, state))
}

/// The start time and state letter of `pid`, from `proc_root/PID/stat`; `None` if it is gone.
pub fn process_facts(proc_root: &Path, pid: i32) -> Option<(u64, char)> {
    let bytes = fs::read(proc_root.join(pid.to_string()).join("stat")).ok()?;
    let stat = Stat::from_read(&bytes[..]).ok()?;
    Some((stat.starttime, stat.state))
}

/// The status of a container (pure given the facts).
pub fn status_from(state: &State, facts: Option<(u64, char)>, fifo_exists: bool) -> Status {
    match facts {
        Some((start, letter)) if start == state.start_time && letter != 'Z' && letter != 'X' => {
            if fifo_exists {
                Status::Created
            } else {
                Status::Running
            }
        }
        _ => Status::Stopped,
    }
}

/// The status of a container, probing `proc_root` and its fifo.
pub fn status(proc_root: &Path, dir: &Path, state: &State) -> Status {
    status_from(
        state,
        process_facts(proc_root, state.pid),
        fifo_path(dir).exists(),
    )
}

/// The OCI state document printed by `state`.
pub fn oci_json(state: &State, status: Status) -> serde_json::Value {
    let mut doc = serde_json::json!({
        "ociVersion": "1.0.2",
        "id": state.id,
        "status": status.as_str(),
        "bundle": state.bundle,
    });
    if status != Status::Stopped {
        doc["pid"] = serde_json::json!(state.pid);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            id: "c1".into(),
            pid: 42,
            start_time: 1000,
            bundle: "/b".into(),
            cgroups: vec![],
        }
    }

    #[test]
    fn ids_are_single_components() {
        assert!(validate_id("abc-1").is_ok());
        for bad in ["", ".", "..", "a/b", "a\0"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn status_needs_the_same_start_time_and_no_zombie() {
        let s = state();
        assert_eq!(status_from(&s, Some((1000, 'S')), true), Status::Created);
        assert_eq!(status_from(&s, Some((1000, 'R')), false), Status::Running);
        assert_eq!(status_from(&s, Some((1000, 'Z')), false), Status::Stopped);
        assert_eq!(status_from(&s, Some((999, 'S')), false), Status::Stopped);
        assert_eq!(status_from(&s, None, true), Status::Stopped);
    }

    #[test]
    fn save_load_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = create_dir(tmp.path(), "c1").unwrap();
        assert!(matches!(
            create_dir(tmp.path(), "c1"),
            Err(StateError::Exists(_))
        ));
        save(&dir, &state()).unwrap();
        let (loaded_dir, loaded) = load(tmp.path(), "c1").unwrap();
        assert_eq!(loaded_dir, dir);
        assert_eq!(loaded, state());
        assert!(matches!(
            load(tmp.path(), "nope"),
            Err(StateError::NotFound(_))
        ));
    }

    #[test]
    fn process_facts_of_self() {
        let (start, letter) = process_facts(Path::new("/proc"), std::process::id() as i32).unwrap();
        assert!(start > 0);
        // The test's main thread may be running or waiting for the test threads.
        assert!(letter == 'R' || letter == 'S', "{letter}");
        assert_eq!(process_facts(Path::new("/nonexistent"), 1), None);
    }

    #[test]
    fn oci_json_omits_pid_when_stopped() {
        let doc = oci_json(&state(), Status::Running);
        assert_eq!(doc["status"], "running");
        assert_eq!(doc["pid"], 42);
        assert!(oci_json(&state(), Status::Stopped).get("pid").is_none());
    }
}
