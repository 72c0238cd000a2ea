//! Reading /proc: process status and start time (to tell a live container init from a reused
//! pid). Every function takes the proc root so tests can point it at a fake tree.

use std::path::Path;

use procfs::FromRead;

/// The fields of /proc/<pid>/stat that the runtime uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// R, S, D, Z, T, t, X, I, ...
    pub state: char,
    /// Start time in clock ticks after boot (field 22).
    pub start_time: u64,
    pub ppid: i32,
}

/// Errors reading /proc.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("process {pid} does not exist")]
    NoProcess { pid: i32 },
    #[error("reading /proc/{pid}/stat")]
    Read {
        pid: i32,
        #[source]
        source: procfs::ProcError,
    },
}

/// Parse the stat line of a process.
pub fn parse_stat(bytes: &[u8]) -> Result<ProcStat, procfs::ProcError> {
    let st = procfs::process::Stat::from_read(bytes)?;
    Ok(ProcStat {
        state: st.state,
        start_time: st.starttime,
        ppid: st.ppid,
    })
}

/// Read /proc/<pid>/stat under `proc_root`.
pub fn stat(proc_root: &Path, pid: i32) -> Result<ProcStat, ProcError> {
    let path = proc_root.join(pid.to_string()).join("stat");
    let bytes = std::fs::read(&path).map_err(|_| ProcError::NoProcess { pid })?;
    parse_stat(&bytes).map_err(|source| ProcError::Read { pid, source })
}

/// Poll a pidfd until the process exits (true) or `limit` passes (false).
pub fn wait_pidfd(pidfd: &std::os::fd::OwnedFd, limit: std::time::Duration) -> bool {
    use nix::errno::Errno;
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let deadline = std::time::Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return false;
        }
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        match poll(
            &mut fds,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        ) {
            Ok(0) => return false,
            Ok(_) => return true,
            Err(Errno::EINTR) => continue,
            Err(_) => return true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_spaces_and_parens() {
        let line = b"1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1000 10 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        let st = parse_stat(line).unwrap();
        assert_eq!(st.state, 'S');
        assert_eq!(st.start_time, 98765);
        assert_eq!(st.ppid, 1);
    }

    #[test]
    fn own_process() {
        let me = stat(Path::new("/proc"), std::process::id() as i32).unwrap();
        assert!(me.start_time > 0);
        assert!(matches!(
            stat(Path::new("/proc"), i32::MAX),
            Err(ProcError::NoProcess { .. })
        ));
    }
}
