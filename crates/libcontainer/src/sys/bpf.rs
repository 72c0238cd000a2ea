//! bpf(2) for cgroup v2 device filters: load a `BPF_PROG_TYPE_CGROUP_DEVICE` program, attach it
//! to a cgroup directory, list what is attached, and detach it again.
//!
//! Only the raw system calls live here. The instructions are produced by
//! `cgroups::devices::ebpf`, which is safe code.

use std::ffi::CStr;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// `BPF_PROG_TYPE_CGROUP_DEVICE` from `include/uapi/linux/bpf.h`.
pub const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// `BPF_CGROUP_DEVICE` attach type.
pub const BPF_CGROUP_DEVICE: u32 = 6;
/// `BPF_F_ALLOW_MULTI`: several programs may be attached to one cgroup; all must allow.
pub const BPF_F_ALLOW_MULTI: u32 = 1 << 1;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;

/// One eBPF instruction, laid out like the kernel's `struct bpf_insn`
/// (`dst_reg` in the low nibble of `regs`, `src_reg` in the high nibble).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Insn {
    pub code: u8,
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

/// Why loading a program failed: the errno and, when the kernel gave one, the verifier's log.
#[derive(Debug, thiserror::Error)]
#[error("bpf(BPF_PROG_LOAD) failed{}", verifier_suffix(.log))]
pub struct LoadError {
    #[source]
    pub errno: io::Error,
    pub log: String,
}

fn verifier_suffix(log: &str) -> String {
    let log = log.trim();
    if log.is_empty() {
        String::new()
    } else {
        format!(" (verifier: {log})")
    }
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFdByIdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// Calls bpf(2) with `attr`, returning the non-negative result.
fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, exclusively borrowed `#[repr(C)]` struct whose layout is a prefix of
    // the kernel's `union bpf_attr` for `cmd`; we pass its exact size so the kernel reads and writes
    // only inside it. Any pointers stored inside it are set by the callers below to buffers that
    // outlive this call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            size_of::<T>() as libc::c_uint,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn owned_fd(raw: libc::c_long) -> io::Result<OwnedFd> {
    let raw = libc::c_int::try_from(raw)
        .map_err(|_| io::Error::other("bpf returned an out-of-range file descriptor"))?;
    // SAFETY: bpf(2) returned this descriptor to us just now for a successful BPF_PROG_LOAD or
    // BPF_PROG_GET_FD_BY_ID; nothing else owns it, so wrapping it transfers sole ownership.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Loads a cgroup device program. On failure the load is retried once with the verifier log
/// enabled so the error carries the kernel's explanation.
pub fn load_cgroup_device_prog(insns: &[Insn], license: &CStr) -> Result<OwnedFd, LoadError> {
    let insn_cnt = u32::try_from(insns.len()).map_err(|_| LoadError {
        errno: io::Error::from_raw_os_error(libc::E2BIG),
        log: String::new(),
    })?;
    let mut name = [0u8; 16];
    for (dst, src) in name.iter_mut().zip(b"minke_devices") {
        *dst = *src;
    }
    let attr = |log: &mut [u8]| ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: u32::from(!log.is_empty()),
        log_size: log.len() as u32,
        log_buf: if log.is_empty() {
            0
        } else {
            log.as_mut_ptr() as u64
        },
        prog_name: name,
        ..Default::default()
    };
    let mut first = attr(&mut []);
    match bpf(BPF_PROG_LOAD, &mut first) {
        Ok(fd) => owned_fd(fd).map_err(|errno| LoadError {
            errno,
            log: String::new(),
        }),
        Err(errno) => {
            let mut log = vec![0u8; 64 * 1024];
            let mut second = attr(&mut log);
            // The retry only exists to fetch the verifier log; its own result is discarded
            // unless it unexpectedly succeeds.
            if let Ok(fd) = bpf(BPF_PROG_LOAD, &mut second) {
                return owned_fd(fd).map_err(|errno| LoadError {
                    errno,
                    log: String::new(),
                });
            }
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            Err(LoadError {
                errno,
                log: String::from_utf8_lossy(&log[..end]).into_owned(),
            })
        }
    }
}

fn fd_u32(fd: BorrowedFd<'_>) -> u32 {
    // File descriptors are never negative.
    fd.as_raw_fd() as u32
}

/// Attaches `prog` to the cgroup directory `cgroup` as a device filter with `BPF_F_ALLOW_MULTI`.
pub fn attach_cgroup_device(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: fd_u32(cgroup),
        attach_bpf_fd: fd_u32(prog),
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map(|_| ())
}

/// Detaches the device filter `prog` from the cgroup directory `cgroup`.
pub fn detach_cgroup_device(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: fd_u32(cgroup),
        attach_bpf_fd: fd_u32(prog),
        attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    bpf(BPF_PROG_DETACH, &mut attr).map(|_| ())
}

/// Lists the ids of the device programs attached directly to the cgroup directory `cgroup`.
pub fn query_cgroup_device(cgroup: BorrowedFd<'_>) -> io::Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    loop {
        let mut attr = QueryAttr {
            target_fd: fd_u32(cgroup),
            attach_type: BPF_CGROUP_DEVICE,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..Default::default()
        };
        match bpf(BPF_PROG_QUERY, &mut attr) {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            // ENOSPC: more programs than room; prog_cnt now holds the real count.
            Err(e)
                if e.raw_os_error() == Some(libc::ENOSPC) && attr.prog_cnt as usize > ids.len() =>
            {
                ids = vec![0u32; attr.prog_cnt as usize];
            }
            Err(e) => return Err(e),
        }
    }
}

/// Opens a program by its id (needed to detach a program this process did not load).
pub fn prog_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut attr = GetFdByIdAttr {
        prog_id: id,
        ..Default::default()
    };
    owned_fd(bpf(BPF_PROG_GET_FD_BY_ID, &mut attr)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_the_kernel_abi() {
        assert_eq!(size_of::<Insn>(), 8);
        assert_eq!(size_of::<ProgLoadAttr>(), 72);
        assert_eq!(size_of::<AttachAttr>(), 20);
        assert_eq!(size_of::<QueryAttr>(), 32);
        assert_eq!(std::mem::offset_of!(QueryAttr, prog_ids), 16);
        assert_eq!(std::mem::offset_of!(QueryAttr, prog_cnt), 24);
        assert_eq!(std::mem::offset_of!(ProgLoadAttr, prog_name), 48);
        assert_eq!(std::mem::offset_of!(ProgLoadAttr, expected_attach_type), 68);
    }

    #[test]
    fn verifier_log_is_appended_only_when_present() {
        let e = LoadError {
            errno: io::Error::from_raw_os_error(libc::EACCES),
            log: String::new(),
        };
        assert_eq!(e.to_string(), "bpf(BPF_PROG_LOAD) failed");
        let e = LoadError {
            errno: io::Error::from_raw_os_error(libc::EACCES),
            log: "R0 !read_ok\n".into(),
        };
        assert_eq!(
            e.to_string(),
            "bpf(BPF_PROG_LOAD) failed (verifier: R0 !read_ok)"
        );
    }
}
