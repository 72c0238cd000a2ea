//! The probe: runs as the container process and prints one JSON report of what it sees.
//!
//! Linked statically (glibc, `-C target-feature=+crt-static`) so it runs in a rootfs that holds
//! nothing but busybox and itself. Usage:
//!
//! ```text
//! probe report [--path P]... [--file P]... [--try ACTION]... [--marker FILE] [--wait]
//! probe exit CODE
//! ```
//!
//! `report` appends `started PID` to the marker file (if any), runs the `--try` actions (raw
//! syscalls, see `sys::try_action`), then prints `PROBE-REPORT {json}`. With `--wait` it then
//! waits for SIGTERM/SIGINT/SIGHUP/SIGUSR1/SIGUSR2/SIGQUIT/SIGWINCH and prints `PROBE-SIGNAL N`.
#![deny(unsafe_code)]

mod sys;

use runtime_tests::report::{
    Caps, PathInfo, Report, Rlimit, TryResult, Tty, REPORT_PREFIX, SIGNAL_PREFIX,
};
use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("report") => report(&args),
        Some("exit") => {
            let code = args.get(2).and_then(|c| c.parse().ok()).unwrap_or(0);
            std::process::exit(code);
        }
        _ => {
            eprintln!("usage: probe report [--path P]... [--file P]... [--try A]... [--marker F] [--wait] | probe exit N");
            std::process::exit(2);
        }
    }
}

const WAIT_SIGNALS: [i32; 7] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGQUIT,
    libc::SIGWINCH,
];

fn report(args: &[String]) {
    let mut paths = Vec::new();
    let mut files = Vec::new();
    let mut tries = Vec::new();
    let mut marker = None;
    let mut wait = false;
    let mut i = 2;
    while i < args.len() {
        let val = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--path" => paths.push(val),
            "--file" => files.push(val),
            "--try" => tries.push(val),
            "--marker" => marker = Some(val),
            "--wait" => {
                wait = true;
                i += 1;
                continue;
            }
            other => {
                eprintln!("probe: unknown option {other}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    // Block first, so a signal sent as soon as the report is visible is not lost.
    let set = wait.then(|| sys::block_signals(&WAIT_SIGNALS));
    if let Some(m) = &marker {
        if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(m) {
            let _ = writeln!(f, "started {}", std::process::id());
        }
    }
    let tries = tries
        .iter()
        .map(|a| {
            let (ret, errno) = match sys::try_action(a) {
                Ok(r) => (r, 0),
                Err(e) => (-1, e),
            };
            TryResult {
                action: a.clone(),
                ret,
                errno,
            }
        })
        .collect();
    let mut r = collect(args, &paths, &files);
    r.tries = tries;
    let line = format!(
        "{REPORT_PREFIX}{}\n",
        serde_json::to_string(&r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    );
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.as_bytes());
    let _ = out.flush();
    drop(out);
    if let Some(set) = set {
        let sig = sys::sigwait(&set);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{SIGNAL_PREFIX}{sig}");
        let _ = out.flush();
    }
}

fn status_fields() -> BTreeMap<String, String> {
    fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn nums<T: std::str::FromStr>(s: Option<&String>) -> Vec<T> {
    s.map(|s| {
        s.split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect()
    })
    .unwrap_or_default()
}

fn hex(s: Option<&String>) -> u64 {
    s.and_then(|s| u64::from_str_radix(s, 16).ok()).unwrap_or(0)
}

fn errno_of(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(-1)
}

fn read_opt(p: &str) -> Option<String> {
    fs::read_to_string(p).ok()
}

const RLIMITS: [(&str, libc::__rlimit_resource_t); 16] = [
    ("RLIMIT_AS", libc::RLIMIT_AS),
    ("RLIMIT_CORE", libc::RLIMIT_CORE),
    ("RLIMIT_CPU", libc::RLIMIT_CPU),
    ("RLIMIT_DATA", libc::RLIMIT_DATA),
    ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE),
    ("RLIMIT_LOCKS", libc::RLIMIT_LOCKS),
    ("RLIMIT_MEMLOCK", libc::RLIMIT_MEMLOCK),
    ("RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE),
    ("RLIMIT_NICE", libc::RLIMIT_NICE),
    ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE),
    ("RLIMIT_NPROC", libc::RLIMIT_NPROC),
    ("RLIMIT_RSS", libc::RLIMIT_RSS),
    ("RLIMIT_RTPRIO", libc::RLIMIT_RTPRIO),
    ("RLIMIT_RTTIME", libc::RLIMIT_RTTIME),
    ("RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING),
    ("RLIMIT_STACK", libc::RLIMIT_STACK),
];

fn collect(args: &[String], paths: &[String], files: &[String]) -> Report {
    let st = status_fields();
    let (hostname, domainname, machine) = sys::uname();
    let mut r = Report {
        args: args.to_vec(),
        pid: std::process::id() as i32,
        ppid: st.get("PPid").and_then(|v| v.parse().ok()).unwrap_or(-1),
        uids: nums(st.get("Uid")),
        gids: nums(st.get("Gid")),
        groups: nums(st.get("Groups")),
        umask: st.get("Umask").and_then(|v| u32::from_str_radix(v, 8).ok()),
        caps: Caps {
            inheritable: hex(st.get("CapInh")),
            permitted: hex(st.get("CapPrm")),
            effective: hex(st.get("CapEff")),
            bounding: hex(st.get("CapBnd")),
            ambient: hex(st.get("CapAmb")),
        },
        no_new_privs: st.get("NoNewPrivs").and_then(|v| v.parse().ok()),
        seccomp: st.get("Seccomp").and_then(|v| v.parse().ok()),
        seccomp_filters: st.get("Seccomp_filters").and_then(|v| v.parse().ok()),
        hostname,
        domainname,
        machine,
        cwd: Some(
            std::env::current_dir()
                .map(|p| p.to_string_lossy().into_owned())
                .map_err(|e| errno_of(&e)),
        ),
        env: std::env::vars_os()
            .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
            .collect(),
        uid_map: read_opt("/proc/self/uid_map"),
        gid_map: read_opt("/proc/self/gid_map"),
        setgroups: read_opt("/proc/self/setgroups"),
        timens_offsets: read_opt("/proc/self/timens_offsets"),
        monotonic_ns: sys::clock_ns(libc::CLOCK_MONOTONIC),
        boottime_ns: sys::clock_ns(libc::CLOCK_BOOTTIME),
        mountinfo: read_opt("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect(),
        cgroup: read_opt("/proc/self/cgroup")
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect(),
        oom_score_adj: read_opt("/proc/self/oom_score_adj").and_then(|v| v.trim().parse().ok()),
        sched_policy: sys::sched_getscheduler(),
        nice: sys::nice(),
        sched_priority: sys::sched_priority(),
        ioprio: sys::ioprio_get(),
        cpu_affinity: sys::cpu_affinity(),
        personality: sys::personality(),
        ..Default::default()
    };
    for (name, res) in RLIMITS {
        if let Some((soft, hard)) = sys::getrlimit(res) {
            r.rlimits.insert(name.to_string(), Rlimit { soft, hard });
        }
    }
    for ns in [
        "cgroup",
        "ipc",
        "mnt",
        "net",
        "pid",
        "pid_for_children",
        "time",
        "time_for_children",
        "user",
        "uts",
    ] {
        if let Ok(t) = fs::read_link(format!("/proc/self/ns/{ns}")) {
            r.namespaces
                .insert(ns.to_string(), t.to_string_lossy().into_owned());
        }
    }
    r.fds = open_fds();
    r.tty = Tty {
        stdin: sys::isatty(0),
        stdout: sys::isatty(1),
        stderr: sys::isatty(2),
        rows: sys::winsize(1).map(|w| w.0),
        cols: sys::winsize(1).map(|w| w.1),
        stdin_target: fs::read_link("/proc/self/fd/0")
            .ok()
            .map(|p| p.to_string_lossy().into_owned()),
    };
    if let Ok(rd) = fs::read_dir("/dev") {
        for e in rd.flatten() {
            let p = e.path();
            let name = p.to_string_lossy().into_owned();
            r.devices.insert(name.clone(), path_info(&name, false));
        }
    }
    for p in paths {
        r.paths.insert(p.clone(), path_info(p, true));
    }
    for p in files {
        let v = fs::File::open(p).and_then(|f| {
            let mut buf = Vec::new();
            f.take(64 * 1024).read_to_end(&mut buf)?;
            Ok(String::from_utf8_lossy(&buf).into_owned())
        });
        r.files.insert(p.clone(), v.map_err(|e| errno_of(&e)));
    }
    r
}

fn open_fds() -> BTreeMap<i32, String> {
    // Collect names first, then readlink: the directory's own fd is closed by then.
    let names: Vec<i32> = match fs::read_dir("/proc/self/fd") {
        Ok(rd) => rd
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
            .collect(),
        Err(_) => return BTreeMap::new(),
    };
    names
        .into_iter()
        .filter_map(|fd| {
            fs::read_link(format!("/proc/self/fd/{fd}"))
                .ok()
                .map(|t| (fd, t.to_string_lossy().into_owned()))
        })
        .collect()
}

fn path_info(p: &str, probe_access: bool) -> PathInfo {
    let md = match fs::symlink_metadata(p) {
        Ok(m) => m,
        Err(e) => {
            return PathInfo {
                error: Some(errno_of(&e)),
                ..Default::default()
            };
        }
    };
    let ft = md.file_type();
    let kind = if ft.is_symlink() {
        "symlink"
    } else if ft.is_dir() {
        "dir"
    } else if ft.is_char_device() {
        "char"
    } else if ft.is_block_device() {
        "block"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else {
        "file"
    };
    let rdev = md.rdev();
    let mut info = PathInfo {
        error: None,
        kind: kind.to_string(),
        mode: md.mode() & 0o7777,
        uid: md.uid(),
        gid: md.gid(),
        major: libc::major(rdev) as u64,
        minor: libc::minor(rdev) as u64,
        link: fs::read_link(p)
            .ok()
            .map(|t| t.to_string_lossy().into_owned()),
        ..Default::default()
    };
    if !probe_access {
        return info;
    }
    if kind == "dir" {
        info.entries = fs::read_dir(p).ok().map(|rd| {
            let mut v: Vec<String> = rd
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        });
        info.read = Some(fs::read_dir(p).map(|_| 0).map_err(|e| errno_of(&e)));
        let tmp = format!(
            "{}/.probe-write-test-{}",
            p.trim_end_matches('/'),
            std::process::id()
        );
        info.write = Some(
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .map(|_| {
                    let _ = fs::remove_file(&tmp);
                })
                .map_err(|e| errno_of(&e)),
        );
    } else if kind != "fifo" && kind != "socket" {
        info.read = Some(
            fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(p)
                .and_then(|f| {
                    let mut buf = Vec::new();
                    f.take(64).read_to_end(&mut buf)?;
                    Ok(buf.len())
                })
                .map_err(|e| errno_of(&e)),
        );
        info.write = Some(
            fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(p)
                .map(|_| ())
                .map_err(|e| errno_of(&e)),
        );
    }
    info.exec = Some(sys::access_x(p));
    info
}
