//! Pause and resume: v1 `freezer.state`, v2 `cgroup.freeze` + `cgroup.events`.

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::fs::{read_optional, read_string, write_field};
use super::CgroupError;

/// How long freezing or thawing may take before it is reported as a failure.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The freezer state of a cgroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FreezerState {
    Thawed,
    /// Asked to freeze, not all tasks frozen yet.
    Freezing,
    Frozen,
}

pub(crate) fn state(dir: &Path, v2: bool) -> Result<FreezerState, CgroupError> {
    if v2 {
        let freeze_path = dir.join("cgroup.freeze");
        let Some(wanted) = read_optional(&freeze_path)? else {
            return Err(CgroupError::Unavailable {
                what: "the freezer",
                reason: format!(
                    "{} does not exist (Linux 5.2 or later is needed)",
                    freeze_path.display()
                ),
            });
        };
        let frozen = events_frozen(dir)?;
        Ok(match (wanted.trim() == "1", frozen) {
            (_, true) => FreezerState::Frozen,
            (true, false) => FreezerState::Freezing,
            (false, false) => FreezerState::Thawed,
        })
    } else {
        let path = dir.join("freezer.state");
        parse_v1_state(&path, &read_string(&path)?)
    }
}

fn parse_v1_state(path: &Path, text: &str) -> Result<FreezerState, CgroupError> {
    match text.trim() {
        "THAWED" => Ok(FreezerState::Thawed),
        "FREEZING" => Ok(FreezerState::Freezing),
        "FROZEN" => Ok(FreezerState::Frozen),
        other => Err(CgroupError::Parse {
            path: path.to_path_buf(),
            reason: format!("unknown freezer state {other:?}"),
        }),
    }
}

fn events_frozen(dir: &Path) -> Result<bool, CgroupError> {
    let path = dir.join("cgroup.events");
    let events = super::fs::read_flat_keyed(&path)?;
    Ok(events.get("frozen").copied() == Some(1))
}

/// Freezes the cgroup and waits until every task is frozen; on timeout it thaws again and
/// reports the failure, so a container is never left half frozen.
pub(crate) fn freeze(dir: &Path, v2: bool) -> Result<(), CgroupError> {
    let (file, value) = if v2 {
        ("cgroup.freeze", "1")
    } else {
        ("freezer.state", "FROZEN")
    };
    write_field(dir, file, value, "pause")?;
    let start = Instant::now();
    let mut delay = Duration::from_micros(500);
    let mut polls = 0u32;
    loop {
        if state(dir, v2)? == FreezerState::Frozen {
            return Ok(());
        }
        if start.elapsed() > TIMEOUT {
            let _ = thaw(dir, v2);
            return Err(CgroupError::Timeout {
                path: dir.to_path_buf(),
                state: "frozen",
                waited_ms: start.elapsed().as_millis(),
            });
        }
        polls += 1;
        if !v2 && polls == 16 {
            polls = 0;
            // The v1 freezer can give up on a task that was busy (FREEZING sticks); asking
            // again makes it retry.
            write_field(dir, file, value, "pause")?;
        }
        thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(10));
    }
}

/// Thaws the cgroup and waits until it reports thawed.
pub(crate) fn thaw(dir: &Path, v2: bool) -> Result<(), CgroupError> {
    let (file, value) = if v2 {
        ("cgroup.freeze", "0")
    } else {
        ("freezer.state", "THAWED")
    };
    write_field(dir, file, value, "resume")?;
    let start = Instant::now();
    let mut delay = Duration::from_micros(500);
    loop {
        if state(dir, v2)? == FreezerState::Thawed {
            return Ok(());
        }
        if start.elapsed() > TIMEOUT {
            return Err(CgroupError::Timeout {
                path: dir.to_path_buf(),
                state: "thawed",
                waited_ms: start.elapsed().as_millis(),
            });
        }
        thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn v1_states() {
        let p = Path::new("freezer.state");
        assert_eq!(parse_v1_state(p, "FROZEN\n").unwrap(), FreezerState::Frozen);
        assert_eq!(
            parse_v1_state(p, "FREEZING\n").unwrap(),
            FreezerState::Freezing
        );
        assert_eq!(parse_v1_state(p, "THAWED\n").unwrap(), FreezerState::Thawed);
        assert!(parse_v1_state(p, "SLEEPY").is_err());
    }

    #[test]
    fn v2_state_combines_request_and_events() {
        let t = tempfile::tempdir().unwrap();
        let set = |freeze: &str, frozen: &str| {
            fs::write(t.path().join("cgroup.freeze"), freeze).unwrap();
            fs::write(
                t.path().join("cgroup.events"),
                format!("populated 1\nfrozen {frozen}\n"),
            )
            .unwrap();
        };
        set("1", "0");
        assert_eq!(state(t.path(), true).unwrap(), FreezerState::Freezing);
        set("1", "1");
        assert_eq!(state(t.path(), true).unwrap(), FreezerState::Frozen);
        set("0", "0");
        assert_eq!(state(t.path(), true).unwrap(), FreezerState::Thawed);
        fs::remove_file(t.path().join("cgroup.freeze")).unwrap();
        assert!(state(t.path(), true)
            .unwrap_err()
            .to_string()
            .contains("Linux 5.2"));
    }

    #[test]
    fn freezing_a_fake_v1_cgroup_that_reports_frozen() {
        // A plain file takes the write and reads back what was written, like an idle cgroup.
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("freezer.state"), "THAWED\n").unwrap();
        freeze(t.path(), false).unwrap();
        assert_eq!(state(t.path(), false).unwrap(), FreezerState::Frozen);
        thaw(t.path(), false).unwrap();
        assert_eq!(state(t.path(), false).unwrap(), FreezerState::Thawed);
    }
}
