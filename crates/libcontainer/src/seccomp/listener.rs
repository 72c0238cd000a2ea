//! Handing the notify fd to the seccomp agent at `linux.seccomp.listenerPath`
//! (config-linux.md, "The Container Process State").
//!
//! One connection per container process: the `ContainerProcessState` JSON as the payload, the
//! seccomp fd as `SCM_RIGHTS` in the first `sendmsg`, then the connection is closed.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;

use nix::sys::socket::{
    connect, send, sendmsg, socket, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType,
    UnixAddr,
};
use oci_spec::runtime::{ContainerProcessState, State, SECCOMP_FD_NAME};

use super::SeccompError;

/// The message for the agent: `state` of the container, `pid` of the process whose filter
/// produced the fd, `fds: ["seccompFd"]`, and `metadata` = `linux.seccomp.listenerMetadata`.
pub fn process_state(state: &State, pid: i32, metadata: Option<&str>) -> ContainerProcessState {
    let mut message = ContainerProcessState::default();
    message
        .set_version(state.version().clone())
        .set_fds(vec![SECCOMP_FD_NAME.to_string()])
        .set_pid(pid)
        .set_metadata(metadata.map(str::to_owned))
        .set_state(state.clone());
    message
}

fn listener_err<'a>(
    path: &'a Path,
    step: &'static str,
) -> impl FnOnce(nix::errno::Errno) -> SeccompError + 'a {
    move |source| SeccompError::Listener {
        path: path.to_owned(),
        step,
        source,
    }
}

/// Send `state` and the notify fd `fd` to the agent listening on `listener_path`.
///
/// `state.fds` must be exactly `["seccompFd"]` (use [`process_state`]), since that is the one fd
/// sent. The connection is closed when this returns.
pub fn send_to_listener(
    listener_path: &Path,
    state: &ContainerProcessState,
    fd: BorrowedFd<'_>,
) -> Result<(), SeccompError> {
    if state.fds() != &[SECCOMP_FD_NAME] {
        return Err(SeccompError::ListenerState {
            reason: format!(
                "fds must be [{SECCOMP_FD_NAME:?}], the one fd sent, not {:?}",
                state.fds()
            ),
        });
    }
    let payload = serde_json::to_vec(state).map_err(SeccompError::ListenerEncode)?;
    let addr =
        UnixAddr::new(listener_path).map_err(listener_err(listener_path, "invalid socket path"))?;
    let sock = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(listener_err(listener_path, "creating a socket"))?;
    connect(sock.as_raw_fd(), &addr).map_err(listener_err(listener_path, "connecting"))?;

    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(&payload)];
    let mut sent =
        sendmsg::<UnixAddr>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None).map_err(
            listener_err(listener_path, "sending the state and the seccomp fd"),
        )?;
    // A stream socket may take less than all of it; the rest goes without fds, as the spec allows.
    while sent < payload.len() {
        let n = send(sock.as_raw_fd(), &payload[sent..], MsgFlags::MSG_NOSIGNAL)
            .map_err(listener_err(listener_path, "sending the rest of the state"))?;
        if n == 0 {
            return Err(
                listener_err(listener_path, "sending the rest of the state")(
                    nix::errno::Errno::EPIPE,
                ),
            );
        }
        sent += n;
    }
    drop(sock);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{IoSliceMut, Read};
    use std::os::fd::{AsFd, OwnedFd};
    use std::os::unix::net::UnixListener;

    use nix::sys::socket::{recvmsg, ControlMessageOwned};
    use oci_spec::runtime::ContainerState;

    fn state() -> State {
        let mut s = State::default();
        s.set_version("1.3.0".into())
            .set_id("c1".into())
            .set_status(ContainerState::Creating)
            .set_pid(Some(4422))
            .set_bundle("/b".into());
        s
    }

    #[test]
    fn message_shape() {
        let m = process_state(&state(), 4422, Some("MKNOD=/dev/null"));
        let v: serde_json::Value = serde_json::to_value(&m).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "ociVersion": "1.3.0", "fds": ["seccompFd"], "pid": 4422, "metadata": "MKNOD=/dev/null",
                "state": {"ociVersion": "1.3.0", "id": "c1", "status": "creating", "pid": 4422, "bundle": "/b"}
            })
        );
        let v = serde_json::to_value(process_state(&state(), 1, None)).unwrap();
        assert!(v.get("metadata").is_none());
    }

    #[test]
    fn sends_state_and_fd_then_closes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.sock");
        let listener = UnixListener::bind(&path).unwrap();
        // any fd will do to check the transport: send one end of a pipe and read through it
        let (r, w) = nix::unistd::pipe().unwrap();
        let message = process_state(&state(), 4422, Some("meta"));
        send_to_listener(&path, &message, w.as_fd()).unwrap();
        drop(w);

        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 4096];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<UnixAddr>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .unwrap();
        let mut received = Vec::new();
        for c in msg.cmsgs().unwrap() {
            if let ControlMessageOwned::ScmRights(fds) = c {
                received.extend(fds);
            }
        }
        let len = msg.bytes;
        assert_eq!(received.len(), 1);
        let mut payload = buf[..len].to_vec();
        conn.read_to_end(&mut payload).unwrap(); // EOF: the runtime closed the connection
        let got: ContainerProcessState = serde_json::from_slice(&payload).unwrap();
        assert_eq!(got, message);

        // the fd that arrived is the pipe's write end: write through it
        let passed = std::fs::File::from(owned(received[0]));
        use std::io::Write;
        (&passed).write_all(b"x").unwrap();
        drop(passed);
        let mut out = String::new();
        std::fs::File::from(r).read_to_string(&mut out).unwrap();
        assert_eq!(out, "x");
    }

    /// Take ownership of a descriptor received with SCM_RIGHTS by duplicating it through
    /// /proc/self/fd (keeps this test free of `unsafe`), then closing the original.
    fn owned(raw: std::os::fd::RawFd) -> OwnedFd {
        let dup = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/self/fd/{raw}"))
            .unwrap();
        nix::unistd::close(raw).unwrap();
        OwnedFd::from(dup)
    }

    #[test]
    fn refuses_a_state_naming_other_fds() {
        let (_r, w) = nix::unistd::pipe().unwrap();
        let mut m = process_state(&state(), 1, None);
        m.set_fds(vec![]);
        let err = send_to_listener(Path::new("/nonexistent/sock"), &m, w.as_fd()).unwrap_err();
        assert!(err.to_string().contains("fds must be"), "{err}");
    }

    #[test]
    fn connect_failure_names_the_path() {
        let (_r, w) = nix::unistd::pipe().unwrap();
        let m = process_state(&state(), 1, None);
        let err = send_to_listener(Path::new("/nonexistent/sock"), &m, w.as_fd()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "seccomp listener /nonexistent/sock: connecting"
        );
    }
}
