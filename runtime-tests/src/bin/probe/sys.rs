//! The few libc calls the probe needs that std does not wrap. Every `unsafe` block of the probe
//! lives here.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Result of a raw syscall: the return value, or the errno.
pub fn ret(r: libc::c_long) -> Result<i64, i32> {
    if r < 0 {
        Err(errno())
    } else {
        Ok(r)
    }
}

pub fn uname() -> (String, String, String) {
    // SAFETY: utsname is plain data; all-zero is a valid value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return Default::default();
    }
    let s = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    (s(&u.nodename), s(&u.domainname), s(&u.machine))
}

/// (soft, hard); `None` = RLIM_INFINITY
pub fn getrlimit(res: libc::__rlimit_resource_t) -> Option<(Option<u64>, Option<u64>)> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `r` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(res, &mut r) } != 0 {
        return None;
    }
    let f = |v: libc::rlim_t| {
        if v == libc::RLIM_INFINITY {
            None
        } else {
            Some(v)
        }
    };
    Some((f(r.rlim_cur), f(r.rlim_max)))
}

pub fn isatty(fd: i32) -> bool {
    // SAFETY: isatty only inspects the descriptor number.
    unsafe { libc::isatty(fd) == 1 }
}

pub fn winsize(fd: i32) -> Option<(u16, u16)> {
    let mut w = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into `w`, which is valid and writable.
    if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut w) } != 0 {
        return None;
    }
    Some((w.ws_row, w.ws_col))
}

pub fn clock_ns(clock: libc::clockid_t) -> i128 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec.
    if unsafe { libc::clock_gettime(clock, &mut t) } != 0 {
        return -1;
    }
    t.tv_sec as i128 * 1_000_000_000 + t.tv_nsec as i128
}

pub fn sched_getscheduler() -> i32 {
    // SAFETY: no pointers involved.
    unsafe { libc::sched_getscheduler(0) }
}

pub fn sched_priority() -> i32 {
    let mut p = libc::sched_param { sched_priority: 0 };
    // SAFETY: `p` is a valid, writable sched_param.
    if unsafe { libc::sched_getparam(0, &mut p) } != 0 {
        return -1;
    }
    p.sched_priority
}

/// The nice value (the raw syscall returns 20 - nice, never negative).
pub fn nice() -> i32 {
    // SAFETY: getpriority takes two integers.
    let r = unsafe { libc::syscall(libc::SYS_getpriority, libc::PRIO_PROCESS, 0) };
    if r < 0 {
        return i32::MIN;
    }
    20 - r as i32
}

pub fn ioprio_get() -> i64 {
    // SAFETY: ioprio_get takes two integers (IOPRIO_WHO_PROCESS = 1, self).
    let r = unsafe { libc::syscall(libc::SYS_ioprio_get, 1, 0) };
    r as i64
}

pub fn personality() -> i64 {
    // SAFETY: personality(0xffffffff) only queries the current persona.
    unsafe { libc::syscall(libc::SYS_personality, 0xffff_ffffu64) as i64 }
}

pub fn cpu_affinity() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; all-zero is a valid (empty) set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is valid and its size is passed.
    if unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) } != 0
    {
        return Vec::new();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `i` is below CPU_SETSIZE and `set` was filled by the kernel.
        .filter(|i| unsafe { libc::CPU_ISSET(*i, &set) })
        .collect()
}

fn cstr(s: &str) -> Result<CString, i32> {
    CString::new(s).map_err(|_| libc::EINVAL)
}

/// `access(path, X_OK)`
pub fn access_x(path: &str) -> Result<(), i32> {
    let p = cstr(path)?;
    // SAFETY: `p` is a valid NUL-terminated string.
    if unsafe { libc::access(p.as_ptr(), libc::X_OK) } == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

/// Blocks the signals a test may send, so that `--wait` can collect them with `sigwait` (a
/// container's pid 1 ignores signals it has no handler for).
pub fn block_signals(sigs: &[i32]) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigemptyset initializes it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t.
    unsafe { libc::sigemptyset(&mut set) };
    for s in sigs {
        // SAFETY: `set` is a valid, initialized sigset_t.
        unsafe { libc::sigaddset(&mut set, *s) };
    }
    // SAFETY: `set` is initialized; the old mask is not needed.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    set
}

pub fn sigwait(set: &libc::sigset_t) -> i32 {
    let mut sig = 0;
    loop {
        // SAFETY: `set` is an initialized sigset_t, `sig` is writable.
        let r = unsafe { libc::sigwait(set, &mut sig) };
        if r == 0 {
            return sig;
        }
    }
}

/// Runs one `--try` action: a raw syscall chosen by name, so a seccomp filter on exactly that
/// syscall is what decides the result.
pub fn try_action(spec: &str) -> Result<i64, i32> {
    let parts: Vec<&str> = spec.split(':').collect();
    let arg = |i: usize| -> Result<&str, i32> { parts.get(i).copied().ok_or(libc::EINVAL) };
    let num = |i: usize| -> Result<u64, i32> {
        let s = arg(i)?;
        let r = if let Some(h) = s.strip_prefix("0x") {
            u64::from_str_radix(h, 16)
        } else if let Some(o) = s.strip_prefix("0o") {
            u64::from_str_radix(o, 8)
        } else {
            s.parse()
        };
        r.map_err(|_| libc::EINVAL)
    };
    match parts[0] {
        "getcwd" => {
            let mut buf = [0u8; 4096];
            // SAFETY: `buf` is writable for its whole length.
            ret(unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) })
        }
        "getpriority" => {
            // getpriority[:WHICH:WHO] (default: this process)
            let (which, who) = if parts.len() >= 3 {
                (num(1)?, num(2)?)
            } else {
                (0, 0)
            };
            // SAFETY: integer arguments only.
            ret(unsafe { libc::syscall(libc::SYS_getpriority, which, who) })
        }
        "personality" => {
            let v = num(1)?;
            // SAFETY: integer argument only.
            ret(unsafe { libc::syscall(libc::SYS_personality, v) })
        }
        "sysinfo" => {
            // SAFETY: sysinfo is plain data; all-zero is valid.
            let mut si: libc::sysinfo = unsafe { std::mem::zeroed() };
            // SAFETY: `si` is writable.
            ret(unsafe { libc::syscall(libc::SYS_sysinfo, &mut si) })
        }
        "getppid" => {
            // SAFETY: no arguments.
            ret(unsafe { libc::syscall(libc::SYS_getppid) })
        }
        "mkdir" => {
            let p = cstr(arg(1)?)?;
            // SAFETY: `p` is NUL-terminated.
            ret(unsafe { libc::syscall(libc::SYS_mkdir, p.as_ptr(), 0o755) })
        }
        "chmod" => {
            let p = cstr(arg(1)?)?;
            let m = num(2)?;
            // SAFETY: `p` is NUL-terminated.
            ret(unsafe { libc::syscall(libc::SYS_chmod, p.as_ptr(), m) })
        }
        "chown" => {
            let p = cstr(arg(1)?)?;
            let (u, g) = (num(2)?, num(3)?);
            // SAFETY: `p` is NUL-terminated.
            ret(unsafe { libc::syscall(libc::SYS_chown, p.as_ptr(), u, g) })
        }
        "sethostname" => {
            let n = arg(1)?;
            // SAFETY: the pointer and length describe `n`.
            ret(unsafe { libc::syscall(libc::SYS_sethostname, n.as_ptr(), n.len()) })
        }
        "mknod" => {
            // mknod:PATH:c|b:MAJOR:MINOR
            let p = cstr(arg(1)?)?;
            let kind = if arg(2)? == "b" {
                libc::S_IFBLK
            } else {
                libc::S_IFCHR
            };
            let dev = libc::makedev(num(3)? as u32, num(4)? as u32);
            // SAFETY: `p` is NUL-terminated.
            ret(unsafe { libc::syscall(libc::SYS_mknod, p.as_ptr(), kind | 0o600, dev) })
        }
        "open-rw" | "open-r" | "open-w" => {
            let p = cstr(arg(1)?)?;
            let flags = match parts[0] {
                "open-rw" => libc::O_RDWR,
                "open-r" => libc::O_RDONLY,
                _ => libc::O_WRONLY,
            } | libc::O_NONBLOCK
                | libc::O_CLOEXEC;
            // SAFETY: `p` is NUL-terminated.
            let fd = ret(unsafe { libc::syscall(libc::SYS_open, p.as_ptr(), flags, 0) })?;
            // SAFETY: `fd` was just opened by us.
            unsafe { libc::close(fd as i32) };
            Ok(0)
        }
        "write-full" => {
            // write one byte to /dev/full-like files: mode tests
            let p = cstr(arg(1)?)?;
            // SAFETY: `p` is NUL-terminated.
            let fd = ret(unsafe { libc::syscall(libc::SYS_open, p.as_ptr(), libc::O_WRONLY) })?;
            let b = [0u8; 1];
            // SAFETY: `b` is readable for 1 byte; `fd` is ours.
            let r = ret(unsafe { libc::syscall(libc::SYS_write, fd, b.as_ptr(), 1) });
            // SAFETY: `fd` is ours.
            unsafe { libc::close(fd as i32) };
            r
        }
        "bind-tcp" => {
            // bind-tcp:PORT on 0.0.0.0 (CAP_NET_BIND_SERVICE for ports < 1024)
            let port = num(1)? as u16;
            // SAFETY: integer arguments only.
            let fd = ret(unsafe {
                libc::syscall(libc::SYS_socket, libc::AF_INET, libc::SOCK_STREAM, 0)
            })?;
            let addr = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: port.to_be(),
                sin_addr: libc::in_addr { s_addr: 0 },
                sin_zero: [0; 8],
            };
            // SAFETY: `addr` is a valid sockaddr_in and its size is passed.
            let r = ret(unsafe {
                libc::syscall(
                    libc::SYS_bind,
                    fd,
                    &addr as *const libc::sockaddr_in,
                    std::mem::size_of::<libc::sockaddr_in>(),
                )
            });
            // SAFETY: `fd` is ours.
            unsafe { libc::close(fd as i32) };
            r
        }
        "kill" => {
            // kill:PID:SIG
            let (pid, sig) = (num(1)? as i64, num(2)? as i64);
            // SAFETY: integer arguments only.
            ret(unsafe { libc::syscall(libc::SYS_kill, pid, sig) })
        }
        "setuid" => {
            let u = num(1)?;
            // SAFETY: integer argument only.
            ret(unsafe { libc::syscall(libc::SYS_setuid, u) })
        }
        "unshare" => {
            let f = num(1)?;
            // SAFETY: integer argument only.
            ret(unsafe { libc::syscall(libc::SYS_unshare, f) })
        }
        "socket" => {
            let (d, t) = (num(1)?, num(2)?);
            // SAFETY: integer arguments only.
            let fd = ret(unsafe { libc::syscall(libc::SYS_socket, d, t, 0) })?;
            // SAFETY: `fd` is ours.
            unsafe { libc::close(fd as i32) };
            Ok(0)
        }
        // not an action this probe knows: the driver checks for -1
        _ => Err(-1),
    }
}
