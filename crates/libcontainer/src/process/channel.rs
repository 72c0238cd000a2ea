//! A typed, one-direction-per-type message channel over a `SOCK_SEQPACKET` unix socket.
//!
//! `Channel<S, R>` sends `S` and receives `R`; [`Channel::pair`] returns the two ends with the
//! types swapped, so the compiler refuses a message sent the wrong way. Messages are JSON (one
//! per datagram, so no framing is needed); file descriptors travel as SCM_RIGHTS on the same
//! datagram. Each pair of processes gets its own socketpair: no channel is ever shared by more
//! than two processes at a time.

use std::marker::PhantomData;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::sys;

/// Largest message we accept (state JSON with many annotations fits easily).
const MAX_MESSAGE: usize = 256 * 1024;

/// Errors of the channel.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("creating socket pair")]
    Socket(#[source] Errno),
    #[error("sending message")]
    Send(#[source] Errno),
    #[error("receiving message")]
    Recv(#[source] Errno),
    #[error("malformed message")]
    Decode(#[source] serde_json::Error),
}

/// Both ends of a channel: the first sends `S`, the second sends `R`.
pub type ChannelPair<S, R> = (Channel<S, R>, Channel<R, S>);

/// One end of a typed channel.
pub struct Channel<S, R> {
    fd: OwnedFd,
    _types: PhantomData<fn(S) -> R>,
}

impl<S, R> std::fmt::Debug for Channel<S, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel").field("fd", &self.fd).finish()
    }
}

impl<S: Serialize + DeserializeOwned, R: Serialize + DeserializeOwned> Channel<S, R> {
    /// A connected pair of ends: this one sends `S`, the other sends `R`.
    pub fn pair() -> Result<ChannelPair<S, R>, ChannelError> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(ChannelError::Socket)?;
        Ok((Channel::from_fd(a), Channel::from_fd(b)))
    }
}

impl<S: Serialize, R: DeserializeOwned> Channel<S, R> {
    /// Wrap a connected SEQPACKET socket (e.g. an accepted connection).
    pub fn from_fd(fd: OwnedFd) -> Self {
        Channel {
            fd,
            _types: PhantomData,
        }
    }

    pub fn send(&self, msg: &S) -> Result<(), ChannelError> {
        self.send_with_fds(msg, &[])
    }

    pub fn send_with_fds(&self, msg: &S, fds: &[BorrowedFd<'_>]) -> Result<(), ChannelError> {
        let bytes = serde_json::to_vec(msg).map_err(ChannelError::Decode)?;
        sys::send_with_fds(self.fd.as_fd(), &bytes, fds).map_err(ChannelError::Send)
    }

    /// The next message, or `None` when the other end is closed (e.g. the process exited).
    pub fn recv(&self) -> Result<Option<R>, ChannelError> {
        Ok(self.recv_with_fds()?.map(|(m, _)| m))
    }

    pub fn recv_with_fds(&self) -> Result<Option<(R, Vec<OwnedFd>)>, ChannelError> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        match sys::recv_with_fds(self.fd.as_fd(), &mut buf) {
            Ok(None) => Ok(None),
            Ok(Some((n, fds))) => {
                let msg = serde_json::from_slice(&buf[..n]).map_err(ChannelError::Decode)?;
                Ok(Some((msg, fds)))
            }
            // The peer died with data unread: same as end of stream for us.
            Err(Errno::ECONNRESET) => Ok(None),
            Err(e) => Err(ChannelError::Recv(e)),
        }
    }

    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// An error that crossed a process boundary: its whole cause chain, outermost first.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorChain(pub Vec<String>);

impl ErrorChain {
    /// Capture `err` and all its sources.
    pub fn capture(err: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = vec![err.to_string()];
        let mut cur = err.source();
        while let Some(e) = cur {
            let s = e.to_string();
            // thiserror's `transparent` and "{0}" displays repeat the inner message; skip dups.
            if chain.last() != Some(&s) {
                chain.push(s);
            }
            cur = e.source();
        }
        ErrorChain(chain)
    }
}

impl std::fmt::Display for ErrorChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(": "))
    }
}

impl std::error::Error for ErrorChain {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq)]
    enum Ping {
        Hello(u32),
    }
    #[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq)]
    enum Pong {
        Back(String),
    }

    #[test]
    fn typed_roundtrip_with_fds_and_eof() {
        let (a, b) = Channel::<Ping, Pong>::pair().unwrap();
        a.send(&Ping::Hello(7)).unwrap();
        assert_eq!(b.recv().unwrap(), Some(Ping::Hello(7)));
        let f = std::fs::File::open("/dev/null").unwrap();
        b.send_with_fds(&Pong::Back("x".into()), &[f.as_fd()])
            .unwrap();
        let (m, fds) = a.recv_with_fds().unwrap().unwrap();
        assert_eq!(m, Pong::Back("x".into()));
        assert_eq!(fds.len(), 1);
        drop(b);
        assert_eq!(a.recv().unwrap(), None);
    }

    #[test]
    fn error_chain_capture() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let e = Outer(std::io::Error::from_raw_os_error(libc::ENOENT));
        let c = ErrorChain::capture(&e);
        assert_eq!(c.0[0], "outer");
        assert!(c.to_string().starts_with("outer: No such file"));
    }
}
