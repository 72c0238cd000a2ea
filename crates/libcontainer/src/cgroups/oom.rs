//! OOM notifications: v1 registers an eventfd on `memory.oom_control` through
//! `cgroup.event_control`; v2 watches `memory.events` (and `cgroup.events`) with inotify and
//! reports each rise of the `oom_kill` counter.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use super::fs::{read_flat_keyed, write_raw};
use super::CgroupError;

/// What the watcher saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OomEvent {
    /// The cgroup hit its memory limit and the OOM killer acted (`count` events since the last
    /// report; on v1 the kernel may coalesce several into one).
    Oom { count: u64 },
    /// The cgroup was removed (v1) or has no processes left (v2): no more events will come.
    Gone,
}

enum Source {
    V1 {
        efd: EventFd,
        _oom_control: File,
        dir: PathBuf,
    },
    V2 {
        inotify: Inotify,
        dir: PathBuf,
        last_oom_kill: u64,
    },
}

/// A subscription to a cgroup's OOM events; see [`Cgroup::oom_events`](super::Cgroup::oom_events).
pub struct OomWatcher {
    source: Source,
}

impl std::fmt::Debug for OomWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, dir) = match &self.source {
            Source::V1 { dir, .. } => ("v1", dir),
            Source::V2 { dir, .. } => ("v2", dir),
        };
        f.debug_struct("OomWatcher")
            .field("kind", &kind)
            .field("dir", dir)
            .finish()
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CgroupError + '_ {
    move |source| CgroupError::OomWatch {
        path: path.to_path_buf(),
        source,
    }
}

fn nix_err(path: &Path) -> impl FnOnce(nix::Error) -> CgroupError + '_ {
    move |e| CgroupError::OomWatch {
        path: path.to_path_buf(),
        source: e.into(),
    }
}

impl OomWatcher {
    pub(crate) fn v1(dir: &Path) -> Result<OomWatcher, CgroupError> {
        let oom_path = dir.join("memory.oom_control");
        let oom_control = File::open(&oom_path).map_err(io_err(&oom_path))?;
        let efd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC).map_err(nix_err(dir))?;
        let control = dir.join("cgroup.event_control");
        write_raw(
            &control,
            &format!("{} {}", efd.as_fd().as_raw_fd(), oom_control.as_raw_fd()),
        )
        .map_err(io_err(&control))?;
        Ok(OomWatcher {
            source: Source::V1 {
                efd,
                _oom_control: oom_control,
                dir: dir.to_path_buf(),
            },
        })
    }

    pub(crate) fn v2(dir: &Path) -> Result<OomWatcher, CgroupError> {
        let inotify =
            Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK).map_err(nix_err(dir))?;
        for f in ["memory.events", "cgroup.events"] {
            let path = dir.join(f);
            inotify
                .add_watch(&path, AddWatchFlags::IN_MODIFY)
                .map_err(nix_err(&path))?;
        }
        let last_oom_kill = oom_kills(dir)?;
        Ok(OomWatcher {
            source: Source::V2 {
                inotify,
                dir: dir.to_path_buf(),
                last_oom_kill,
            },
        })
    }

    /// The descriptor that becomes readable when there may be an event, for callers that
    /// multiplex (e.g. `events` also printing stats on an interval).
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.source {
            Source::V1 { efd, .. } => efd.as_fd(),
            Source::V2 { inotify, .. } => inotify.as_fd(),
        }
    }

    /// Waits for the next event; `None` if `timeout` passed first (`None` waits forever).
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<Option<OomEvent>, CgroupError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            // A deadline already passed still polls once, so `wait(Some(Duration::ZERO))`
            // takes an event that is ready without blocking.
            let remaining = match deadline {
                Some(d) => PollTimeout::try_from(d.saturating_duration_since(Instant::now()))
                    .unwrap_or(PollTimeout::MAX),
                None => PollTimeout::NONE,
            };
            let ready = {
                let mut fds = [PollFd::new(self.as_fd(), PollFlags::POLLIN)];
                match poll(&mut fds, remaining) {
                    Ok(n) => n > 0,
                    Err(nix::errno::Errno::EINTR) => false,
                    Err(e) => return Err(nix_err(self.dir())(e)),
                }
            };
            if !ready {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(None);
                }
                continue;
            }
            if let Some(ev) = self.consume()? {
                return Ok(Some(ev));
            }
        }
    }

    fn dir(&self) -> &Path {
        match &self.source {
            Source::V1 { dir, .. } | Source::V2 { dir, .. } => dir,
        }
    }

    fn consume(&mut self) -> Result<Option<OomEvent>, CgroupError> {
        match &mut self.source {
            Source::V1 { efd, dir, .. } => {
                let count = efd.read().map_err(nix_err(dir))?;
                // The kernel also signals the eventfd when the cgroup is removed.
                if !dir.join("memory.oom_control").exists() {
                    return Ok(Some(OomEvent::Gone));
                }
                Ok(Some(OomEvent::Oom { count }))
            }
            Source::V2 {
                inotify,
                dir,
                last_oom_kill,
            } => {
                match inotify.read_events() {
                    Ok(_) | Err(nix::errno::Errno::EAGAIN) => {}
                    Err(e) => return Err(nix_err(dir)(e)),
                }
                let Ok(now) = oom_kills(dir) else {
                    return Ok(Some(OomEvent::Gone));
                };
                if now > *last_oom_kill {
                    let count = now - *last_oom_kill;
                    *last_oom_kill = now;
                    return Ok(Some(OomEvent::Oom { count }));
                }
                match read_flat_keyed(&dir.join("cgroup.events")) {
                    Ok(ev) if ev.get("populated") == Some(&0) => Ok(Some(OomEvent::Gone)),
                    Ok(_) => Ok(None),
                    Err(_) => Ok(Some(OomEvent::Gone)),
                }
            }
        }
    }
}

fn oom_kills(dir: &Path) -> Result<u64, CgroupError> {
    Ok(read_flat_keyed(&dir.join("memory.events"))?
        .get("oom_kill")
        .copied()
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn v2_reports_rises_of_oom_kill_and_the_end() {
        let t = tempfile::tempdir().unwrap();
        let events = |oom_kill: u64, populated: u64| {
            fs::write(
                t.path().join("memory.events"),
                format!("low 0\nhigh 0\nmax 4\noom 1\noom_kill {oom_kill}\n"),
            )
            .unwrap();
            fs::write(
                t.path().join("cgroup.events"),
                format!("populated {populated}\nfrozen 0\n"),
            )
            .unwrap();
        };
        events(1, 1);
        let mut w = OomWatcher::v2(t.path()).unwrap();
        assert_eq!(w.wait(Some(Duration::from_millis(20))).unwrap(), None);
        assert_eq!(w.wait(Some(Duration::ZERO)).unwrap(), None);
        events(3, 1);
        assert_eq!(
            w.wait(Some(Duration::from_secs(10))).unwrap(),
            Some(OomEvent::Oom { count: 2 })
        );
        // A zero timeout takes an event that is already there.
        events(4, 1);
        assert_eq!(
            w.wait(Some(Duration::ZERO)).unwrap(),
            Some(OomEvent::Oom { count: 1 })
        );
        events(3, 0);
        assert_eq!(
            w.wait(Some(Duration::from_secs(10))).unwrap(),
            Some(OomEvent::Gone)
        );
    }

    #[test]
    fn v1_needs_the_control_files() {
        let t = tempfile::tempdir().unwrap();
        let e = OomWatcher::v1(t.path()).unwrap_err();
        assert!(
            e.to_string().starts_with("setting up the oom watcher on "),
            "{e}"
        );
    }
}
