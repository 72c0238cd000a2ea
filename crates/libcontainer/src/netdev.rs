//! `linux.netDevices` (config-linux.md "Network Devices"): host network devices moved into the
//! container's network namespace, renamed as asked, with their permanent global addresses kept
//! and the link set up. A minimal rtnetlink client: message building and parsing are pure and
//! unit-tested; the socket is a plain NETLINK_ROUTE datagram socket.
//!
//! Who does what: the runtime reads each device's hardware address and addresses in the host
//! namespace before the container exists, and moves the device into the container's network
//! namespace once it exists (RTM_SETLINK with IFLA_NET_NS_FD and IFLA_IFNAME). The init then,
//! inside the namespace, finds the device again (by hardware address, since a `%d` template
//! lets the kernel pick the name), re-adds the addresses and sets the link up.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{
    bind, recv, send, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol,
    SockType,
};
use serde::{Deserialize, Serialize};

const RTM_GETLINK: u16 = 18;
const RTM_SETLINK: u16 = 19;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_NET_NS_FD: u16 = 28;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_FLAGS: u16 = 8;
const IFA_F_PERMANENT: u32 = 0x80;
const RT_SCOPE_UNIVERSE: u8 = 0;
const IFF_UP: u32 = 0x1;

/// One device to move: host name, name in the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetDevice {
    pub host_name: String,
    pub name: String,
}

/// An address to restore inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Addr {
    pub family: u8,
    pub prefix_len: u8,
    pub flags: u32,
    pub scope: u8,
    pub address: Vec<u8>,
    pub local: Vec<u8>,
}

/// What the runtime learned about a device on the host, before moving it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceFacts {
    pub device: NetDevice,
    pub index: i32,
    pub hwaddr: Vec<u8>,
    pub addrs: Vec<Addr>,
}

/// Errors of network device handling.
#[derive(Debug, thiserror::Error)]
pub enum NetDevError {
    #[error("linux.netDevices.{name}: no such network device on the host")]
    NoDevice { name: String },
    #[error("linux.netDevices.{name}: {step}")]
    Netlink {
        name: String,
        step: &'static str,
        #[source]
        source: Errno,
    },
    #[error("linux.netDevices.{name}: the moved device was not found in the container's network namespace")]
    Lost { name: String },
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Builds one netlink request.
struct Msg {
    buf: Vec<u8>,
}

impl Msg {
    fn new(ty: u16, flags: u16, seq: u32) -> Msg {
        let mut buf = vec![0u8; 16];
        buf[4..6].copy_from_slice(&ty.to_ne_bytes());
        buf[6..8].copy_from_slice(&flags.to_ne_bytes());
        buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        Msg { buf }
    }
    fn raw(mut self, bytes: &[u8]) -> Msg {
        self.buf.extend_from_slice(bytes);
        self
    }
    /// struct ifinfomsg.
    fn ifinfo(self, index: i32, flags: u32, change: u32) -> Msg {
        let mut b = [0u8; 16];
        b[4..8].copy_from_slice(&index.to_ne_bytes());
        b[8..12].copy_from_slice(&flags.to_ne_bytes());
        b[12..16].copy_from_slice(&change.to_ne_bytes());
        self.raw(&b)
    }
    /// struct ifaddrmsg.
    fn ifaddr(self, family: u8, prefix: u8, flags: u8, scope: u8, index: i32) -> Msg {
        let mut b = [0u8; 8];
        b[0] = family;
        b[1] = prefix;
        b[2] = flags;
        b[3] = scope;
        b[4..8].copy_from_slice(&index.to_ne_bytes());
        self.raw(&b)
    }
    fn attr(mut self, ty: u16, data: &[u8]) -> Msg {
        let len = 4 + data.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }
    fn finish(mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

/// A parsed message: type and payload (after the netlink header).
#[derive(Debug)]
struct Reply<'a> {
    ty: u16,
    payload: &'a [u8],
}

fn parse_messages(buf: &[u8]) -> Vec<Reply<'_>> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 16 <= buf.len() {
        let len = u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap_or([0; 4])) as usize;
        if len < 16 || off + len > buf.len() {
            break;
        }
        let ty = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
        out.push(Reply {
            ty,
            payload: &buf[off + 16..off + len],
        });
        off += align4(len);
    }
    out
}

fn parse_attrs(mut b: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let len = u16::from_ne_bytes([b[0], b[1]]) as usize;
        let ty = u16::from_ne_bytes([b[2], b[3]]) & 0x3fff;
        if len < 4 || len > b.len() {
            break;
        }
        out.push((ty, &b[4..len]));
        b = &b[align4(len).min(b.len())..];
    }
    out
}

/// A NETLINK_ROUTE socket in the caller's network namespace.
struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

impl Netlink {
    fn open() -> Result<Netlink, Errno> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))?;
        Ok(Netlink { fd, seq: 1 })
    }

    /// Send a request and collect the replies until the ACK (or DONE for dumps); a negative
    /// errno in an NLMSG_ERROR is returned as the error.
    fn request(&mut self, msg: Msg) -> Result<Vec<(u16, Vec<u8>)>, Errno> {
        self.seq += 1;
        let mut bytes = msg.finish();
        bytes[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        send(self.fd.as_raw_fd(), &bytes, MsgFlags::empty())?;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty())?;
            for r in parse_messages(&buf[..n]) {
                match r.ty {
                    NLMSG_DONE => return Ok(out),
                    NLMSG_ERROR => {
                        let code = i32::from_ne_bytes(
                            r.payload
                                .get(0..4)
                                .and_then(|b| b.try_into().ok())
                                .unwrap_or([0; 4]),
                        );
                        return if code == 0 {
                            Ok(out)
                        } else {
                            Err(Errno::from_raw(-code))
                        };
                    }
                    ty => out.push((ty, r.payload.to_vec())),
                }
            }
        }
    }

    /// Every link: (index, name, hardware address).
    fn links(&mut self) -> Result<Vec<(i32, String, Vec<u8>)>, Errno> {
        let replies =
            self.request(Msg::new(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 0).ifinfo(0, 0, 0))?;
        let mut out = Vec::new();
        for (_, p) in replies {
            if p.len() < 16 {
                continue;
            }
            let index = i32::from_ne_bytes(p[4..8].try_into().unwrap_or([0; 4]));
            let (mut name, mut hw) = (String::new(), Vec::new());
            for (ty, data) in parse_attrs(&p[16..]) {
                match ty {
                    IFLA_IFNAME => {
                        name = String::from_utf8_lossy(data)
                            .trim_end_matches('\0')
                            .to_string()
                    }
                    IFLA_ADDRESS => hw = data.to_vec(),
                    _ => {}
                }
            }
            out.push((index, name, hw));
        }
        Ok(out)
    }

    /// The permanent, global-scope addresses of a link.
    fn permanent_addrs(&mut self, index: i32) -> Result<Vec<Addr>, Errno> {
        let replies = self
            .request(Msg::new(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 0).ifaddr(0, 0, 0, 0, 0))?;
        let mut out = Vec::new();
        for (_, p) in replies {
            if p.len() < 8 {
                continue;
            }
            let idx = i32::from_ne_bytes(p[4..8].try_into().unwrap_or([0; 4]));
            if idx != index {
                continue;
            }
            let mut a = Addr {
                family: p[0],
                prefix_len: p[1],
                flags: p[2] as u32,
                scope: p[3],
                address: vec![],
                local: vec![],
            };
            for (ty, data) in parse_attrs(&p[8..]) {
                match ty {
                    IFA_ADDRESS => a.address = data.to_vec(),
                    IFA_LOCAL => a.local = data.to_vec(),
                    IFA_FLAGS if data.len() >= 4 => {
                        a.flags = u32::from_ne_bytes(data[..4].try_into().unwrap_or([0; 4]))
                    }
                    _ => {}
                }
            }
            if a.flags & IFA_F_PERMANENT != 0 && a.scope == RT_SCOPE_UNIVERSE {
                out.push(a);
            }
        }
        Ok(out)
    }
}

/// In the runtime's namespace, before the container exists: what each device is.
pub fn inspect(devices: &[NetDevice]) -> Result<Vec<DeviceFacts>, NetDevError> {
    if devices.is_empty() {
        return Ok(vec![]);
    }
    let nl_err = |name: &str, step| {
        let name = name.to_string();
        move |source| NetDevError::Netlink { name, step, source }
    };
    let mut nl = Netlink::open().map_err(nl_err("*", "opening a netlink socket"))?;
    let links = nl.links().map_err(nl_err("*", "listing links"))?;
    let mut out = Vec::new();
    for d in devices {
        let Some((index, _, hw)) = links.iter().find(|(_, n, _)| *n == d.host_name) else {
            return Err(NetDevError::NoDevice {
                name: d.host_name.clone(),
            });
        };
        let addrs = nl
            .permanent_addrs(*index)
            .map_err(nl_err(&d.host_name, "listing addresses"))?;
        out.push(DeviceFacts {
            device: d.clone(),
            index: *index,
            hwaddr: hw.clone(),
            addrs,
        });
    }
    Ok(out)
}

/// In the runtime's namespace: move the devices into the namespace `netns` (renaming them).
pub fn move_into(facts: &[DeviceFacts], netns: BorrowedFd<'_>) -> Result<(), NetDevError> {
    if facts.is_empty() {
        return Ok(());
    }
    let mut nl = Netlink::open().map_err(|source| NetDevError::Netlink {
        name: "*".into(),
        step: "opening a netlink socket",
        source,
    })?;
    for f in facts {
        let mut name = f.device.name.clone().into_bytes();
        name.push(0);
        let fd = (netns.as_raw_fd() as u32).to_ne_bytes();
        let msg = Msg::new(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, 0)
            .ifinfo(f.index, 0, 0)
            .attr(IFLA_NET_NS_FD, &fd)
            .attr(IFLA_IFNAME, &name);
        nl.request(msg).map_err(|source| NetDevError::Netlink {
            name: f.device.host_name.clone(),
            step: if source == Errno::EEXIST {
                "a device with that name already exists in the container"
            } else {
                "moving it into the container's network namespace"
            },
            source,
        })?;
    }
    Ok(())
}

/// In the container's network namespace: restore the addresses and set the links up.
pub fn configure(facts: &[DeviceFacts]) -> Result<(), NetDevError> {
    if facts.is_empty() {
        return Ok(());
    }
    let err = |name: &str, step| {
        let name = name.to_string();
        move |source| NetDevError::Netlink { name, step, source }
    };
    let mut nl = Netlink::open().map_err(err("*", "opening a netlink socket in the container"))?;
    let links = nl
        .links()
        .map_err(err("*", "listing links in the container"))?;
    for f in facts {
        let found = links.iter().find(|(_, n, hw)| {
            if f.hwaddr.iter().any(|b| *b != 0) {
                *hw == f.hwaddr
            } else {
                *n == f.device.name
            }
        });
        let Some((index, _, _)) = found else {
            return Err(NetDevError::Lost {
                name: f.device.host_name.clone(),
            });
        };
        for a in &f.addrs {
            let mut msg = Msg::new(
                RTM_NEWADDR,
                NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
                0,
            )
            .ifaddr(
                a.family,
                a.prefix_len,
                (a.flags & 0xff) as u8,
                a.scope,
                *index,
            );
            if !a.local.is_empty() {
                msg = msg.attr(IFA_LOCAL, &a.local);
            }
            if !a.address.is_empty() {
                msg = msg.attr(IFA_ADDRESS, &a.address);
            }
            msg = msg.attr(IFA_FLAGS, &a.flags.to_ne_bytes());
            nl.request(msg)
                .map_err(err(&f.device.host_name, "restoring an address"))?;
        }
        nl.request(
            Msg::new(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, 0).ifinfo(*index, IFF_UP, IFF_UP),
        )
        .map_err(err(&f.device.host_name, "setting the link up"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_layout() {
        let m = Msg::new(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, 7)
            .ifinfo(5, IFF_UP, IFF_UP)
            .attr(IFLA_IFNAME, b"eth1\0")
            .finish();
        // header 16 + ifinfomsg 16 + attr (4 + 5, padded to 12)
        assert_eq!(m.len(), 44);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()), 44);
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), RTM_SETLINK);
        assert_eq!(i32::from_ne_bytes(m[20..24].try_into().unwrap()), 5);
        let attrs = parse_attrs(&m[32..]);
        assert_eq!(attrs, vec![(IFLA_IFNAME, &b"eth1\0"[..])]);
    }

    #[test]
    fn parses_several_messages_and_stops_on_garbage() {
        let a = Msg::new(16, 0, 1).ifinfo(1, 0, 0).finish();
        let b = Msg::new(NLMSG_DONE, 0, 1).raw(&[0, 0, 0, 0]).finish();
        let mut buf = a.clone();
        buf.extend_from_slice(&b);
        buf.extend_from_slice(&[1, 2, 3]);
        let msgs = parse_messages(&buf);
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[1].ty, NLMSG_DONE);
    }

    #[test]
    fn lists_links_of_this_namespace() {
        // Reading is allowed to anyone; every namespace has a loopback device.
        let mut nl = Netlink::open().unwrap();
        let links = nl.links().unwrap();
        assert!(links.iter().any(|(_, n, _)| n == "lo"), "{links:?}");
    }
}
