//! The `--console-socket` side: receives the pty master that the runtime sends over SCM_RIGHTS
//! and collects what the container writes to its terminal.

use super::sys::own_received_fd;
use anyhow::{anyhow, bail, Context, Result};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use std::fs::File;
use std::io::{IoSliceMut, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct ConsoleSocket {
    listener: UnixListener,
}

/// A received pty master and everything read from it so far.
pub struct Console {
    pub master: Arc<OwnedFd>,
    buf: Arc<Mutex<Vec<u8>>>,
}

impl ConsoleSocket {
    /// Waits for the runtime's connection while `alive` says it may still come.
    fn accept_stream(
        &self,
        timeout: Duration,
        alive: &mut impl FnMut() -> bool,
    ) -> Result<UnixStream> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.listener.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false)?;
                    return Ok(s);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if !alive() {
                        bail!("the runtime exited without connecting to the socket");
                    }
                    if Instant::now() > deadline {
                        bail!("timed out waiting for the runtime on the socket");
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    pub fn bind(path: &Path) -> Result<ConsoleSocket> {
        let listener =
            UnixListener::bind(path).with_context(|| format!("bind {}", path.display()))?;
        listener.set_nonblocking(true)?;
        Ok(ConsoleSocket { listener })
    }

    /// Accepts the runtime's connection; `alive` tells whether the runtime may still connect.
    pub fn accept(&self, timeout: Duration, mut alive: impl FnMut() -> bool) -> Result<Console> {
        let stream = self.accept_stream(timeout, &mut alive)?;
        let master = receive_fd(&stream)?;
        Ok(Console::new(master))
    }
}

impl ConsoleSocket {
    /// Accepts one connection and reads everything sent on it: the payload and the descriptors
    /// of the first message (a seccomp agent's view of `listenerPath`).
    pub fn accept_message(
        &self,
        timeout: Duration,
        mut alive: impl FnMut() -> bool,
    ) -> Result<(Vec<u8>, Vec<OwnedFd>)> {
        let stream = self.accept_stream(timeout, &mut alive)?;
        stream.set_read_timeout(Some(timeout))?;
        let (mut data, fds) = receive(&stream)?;
        let mut rest = Vec::new();
        let _ = (&stream).read_to_end(&mut rest);
        data.extend(rest);
        Ok((data, fds))
    }
}

fn receive(stream: &UnixStream) -> Result<(Vec<u8>, Vec<OwnedFd>)> {
    let mut data = vec![0u8; 65536];
    let mut iov = [IoSliceMut::new(&mut data)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 8]);
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .context("recvmsg")?;
    let mut fds = Vec::new();
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(v) = c {
            fds.extend(v.into_iter().map(own_received_fd));
        }
    }
    let n = msg.bytes;
    data.truncate(n);
    Ok((data, fds))
}

fn receive_fd(stream: &UnixStream) -> Result<OwnedFd> {
    let mut data = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut data)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .context("recvmsg on the console socket")?;
    let mut fds = Vec::new();
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(v) = c {
            fds.extend(v.into_iter().map(own_received_fd));
        }
    }
    let mut it = fds.into_iter();
    let first = it
        .next()
        .ok_or_else(|| anyhow!("no descriptor received on the console socket"))?;
    Ok(first)
}

impl Console {
    fn new(master: OwnedFd) -> Console {
        let master = Arc::new(master);
        let buf = Arc::new(Mutex::new(Vec::new()));
        let (m, b) = (master.clone(), buf.clone());
        std::thread::spawn(move || {
            let Ok(dup) = m.try_clone() else { return };
            let mut f = File::from(dup);
            let mut chunk = [0u8; 4096];
            while let Ok(n) = f.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                if let Ok(mut g) = b.lock() {
                    g.extend_from_slice(&chunk[..n]);
                }
            }
        });
        Console { master, buf }
    }

    pub fn output(&self) -> String {
        let g = self.buf.lock().map(|g| g.clone()).unwrap_or_default();
        String::from_utf8_lossy(&g).into_owned()
    }
}
