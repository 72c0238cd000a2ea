//! Real filters in real processes: each test re-runs itself as a child that installs a filter
//! compiled from a profile (with `no_new_privs`, so no privilege is needed) and reports what its
//! syscalls did. Syscall numbers and errnos are x86_64's.
#![cfg(target_arch = "x86_64")]

mod seccomp_support;

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::net::UnixListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use libcontainer::seccomp;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::{ContainerProcessState, ContainerState, State};
use seccomp_support::*;

/// pids this large cannot exist (PID_MAX_LIMIT is 2^22): `kill` on them fails with ESRCH unless
/// the filter answers first, so its two arguments are free test inputs without side effects.
const NO_PID: i32 = 0x4000_0000;

fn probe_kill(pid: i32, sig: Option<Signal>) -> String {
    outcome(kill(Pid::from_raw(pid), sig))
}

fn io_outcome<T>(r: std::io::Result<T>) -> String {
    match r {
        Ok(_) => "ok".to_string(),
        Err(e) => e.raw_os_error().unwrap_or(-1).to_string(),
    }
}

#[test]
fn errno_action_returns_errno_ret() {
    let out = run("errno_action_returns_errno_ret", "", |_| {
        install(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
                {"names":["getcwd"],"action":"SCMP_ACT_ERRNO","errnoRet":123},
                {"names":["mkdir"],"action":"SCMP_ACT_ERRNO"},
                {"names":["chdir"],"action":"SCMP_ACT_ERRNO","errnoRet":0}]}"#,
        );
        report("getcwd", outcome(nix::unistd::getcwd()));
        report(
            "mkdir",
            outcome(nix::unistd::mkdir(
                "/nonexistent/dir",
                nix::sys::stat::Mode::empty(),
            )),
        );
        report("chdir", outcome(nix::unistd::chdir("/nonexistent/dir")));
        report(
            "rmdir_allowed",
            io_outcome(std::fs::remove_dir("/nonexistent/dir")),
        );
    });
    out.assert_exited_ok();
    assert_eq!(out.get("getcwd"), "123");
    assert_eq!(
        out.get("mkdir"),
        libc::EPERM.to_string(),
        "errnoRet defaults to EPERM"
    );
    assert_eq!(
        out.get("chdir"),
        "ok",
        "errnoRet 0 skips the syscall and returns 0"
    );
    assert_eq!(out.get("rmdir_allowed"), libc::ENOENT.to_string());
}

/// Enough for the child to report and exit; the largest of them is tgkill (234).
const CHILD_NEEDS: &str = r#"["write","exit_group","exit","futex","rt_sigreturn","rt_sigprocmask",
    "sigaltstack","munmap","mmap","mprotect","madvise","brk","getpid","gettid","tgkill","sched_yield","close"]"#;

#[test]
fn default_errno_ret_and_enosys_for_newer_syscalls() {
    let test = "default_errno_ret_and_enosys_for_newer_syscalls";
    let body = |param: &str| {
        let (default, arches) = param.split_once(' ').unwrap();
        install(&format!(
            r#"{{{default},{arches}"syscalls":[{{"names":{CHILD_NEEDS},"action":"SCMP_ACT_ALLOW"}}]}}"#
        ));
        report("close", outcome(nix::unistd::close(RawFd::from(1000))));
        // pipe2 (293) and fchmodat (268) are numbered above every syscall of the profile
        report(
            "pipe2",
            outcome(nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)),
        );
        report(
            "fchmodat",
            outcome(nix::sys::stat::fchmodat(
                nix::fcntl::AT_FDCWD,
                "/nonexistent/file",
                nix::sys::stat::Mode::empty(),
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )),
        );
        // getcwd (79) is below: the default action
        report("getcwd", outcome(nix::unistd::getcwd()));
    };
    let arch = r#""architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],"#;

    let out = run(
        test,
        &format!(r#""defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":71 {arch}"#),
        body,
    );
    out.assert_exited_ok();
    assert_eq!(
        out.get("close"),
        libc::EBADF.to_string(),
        "an allowed syscall runs"
    );
    assert_eq!(out.get("getcwd"), "71", "defaultErrnoRet");
    assert_eq!(out.get("pipe2"), libc::ENOSYS.to_string());
    assert_eq!(out.get("fchmodat"), libc::ENOSYS.to_string());

    // runc 1.1.5 only patches the architectures listed in the profile
    let out = run(
        test,
        r#""defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":71 "#,
        body,
    );
    out.assert_exited_ok();
    assert_eq!(out.get("pipe2"), "71");
    assert_eq!(out.get("getcwd"), "71");

    // with a killing default, a newer syscall still only gets ENOSYS; an older one kills
    let out = run(
        test,
        &format!(r#""defaultAction":"SCMP_ACT_KILL_PROCESS" {arch}"#),
        body,
    );
    out.assert_killed_by(libc::SIGSYS);
    assert_eq!(out.get("pipe2"), libc::ENOSYS.to_string());
    assert!(!out.results.contains_key("getcwd"));
}

#[test]
fn kill_actions_kill_with_sigsys() {
    let test = "kill_actions_kill_with_sigsys";
    let body = |action: &str| {
        install(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["getcwd"],"action":"{action}"}}]}}"#
        ));
        let before = threads();
        std::thread::spawn(|| {
            let r = nix::unistd::getcwd();
            report("thread_returned", outcome(r));
        });
        // the thread is gone once the count drops back
        wait_for(Duration::from_secs(10), || threads() == before);
        report("process_survived", "yes");
    };
    for action in ["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"] {
        let out = run(test, action, body);
        out.assert_exited_ok();
        assert_eq!(
            out.get("process_survived"),
            "yes",
            "{action} kills only the thread"
        );
        assert!(
            !out.results.contains_key("thread_returned"),
            "{action}: the thread must die"
        );
    }
    let out = run(test, "SCMP_ACT_KILL_PROCESS", body);
    out.assert_killed_by(libc::SIGSYS);
    assert!(!out.results.contains_key("process_survived"));
}

#[test]
fn kill_of_a_single_threaded_process_is_death_by_sigsys() {
    // the filter survives execve: busybox is single-threaded, so killing its thread kills it
    let test = "kill_of_a_single_threaded_process_is_death_by_sigsys";
    for action in [
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_KILL_PROCESS",
    ] {
        let out = run(test, action, |action| {
            let argv = [c"busybox", c"mkdir", c"/nonexistent/dir"];
            install(&format!(
                r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["mkdir","mkdirat"],"action":"{action}"}}]}}"#
            ));
            let err = nix::unistd::execv(c"/bin/busybox", &argv).unwrap_err();
            report("execv", err);
        });
        out.assert_killed_by(libc::SIGSYS);
    }
}

#[test]
fn trap_delivers_sigsys() {
    let test = "trap_delivers_sigsys";
    let body = |param: &str| {
        let trapped = Arc::new(AtomicBool::new(false));
        if param == "handler" {
            signal_hook::flag::register(libc::SIGSYS, Arc::clone(&trapped)).unwrap();
        }
        install(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getcwd"],"action":"SCMP_ACT_TRAP"}]}"#,
        );
        let _ = nix::unistd::getcwd();
        report("trapped", trapped.load(Ordering::SeqCst));
    };
    let out = run(test, "handler", body);
    out.assert_exited_ok();
    assert_eq!(out.get("trapped"), "true");
    let out = run(test, "no handler", body);
    out.assert_killed_by(libc::SIGSYS);
}

#[test]
fn log_and_allow_let_the_syscall_run() {
    let out = run("log_and_allow_let_the_syscall_run", "", |_| {
        install(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
                {"names":["getcwd"],"action":"SCMP_ACT_LOG"},
                {"names":["rmdir"],"action":"SCMP_ACT_ALLOW"},
                {"names":["write","exit_group","futex","munmap","mmap","brk","madvise","sigaltstack","exit","rt_sigprocmask"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        report("getcwd", outcome(nix::unistd::getcwd()));
        report("rmdir", io_outcome(std::fs::remove_dir("/nonexistent/dir")));
        report(
            "mkdir",
            outcome(nix::unistd::mkdir(
                "/nonexistent/dir",
                nix::sys::stat::Mode::empty(),
            )),
        );
    });
    out.assert_exited_ok();
    assert_eq!(out.get("getcwd"), "ok");
    assert_eq!(out.get("rmdir"), libc::ENOENT.to_string());
    assert_eq!(out.get("mkdir"), libc::EPERM.to_string());
}

#[test]
fn trace_without_a_tracer_is_enosys() {
    let out = run("trace_without_a_tracer_is_enosys", "", |_| {
        install(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
                {"names":["getcwd"],"action":"SCMP_ACT_TRACE","errnoRet":5}]}"#,
        );
        report("getcwd", outcome(nix::unistd::getcwd()));
    });
    out.assert_exited_ok();
    assert_eq!(out.get("getcwd"), libc::ENOSYS.to_string());
}

/// Which `kill(pid, sig)` probes the rule `args` matches (they fail with EDQUOT, 122; the
/// others with ESRCH).
fn matched_pids(
    test: &str,
    args: &str,
    probes: &[(i32, Option<Signal>)],
) -> Vec<(i32, Option<Signal>)> {
    let param = serde_json::json!({"args": args, "probes": probes.iter().map(|(p, s)| (*p, s.map(|s| s as i32).unwrap_or(0))).collect::<Vec<_>>()});
    let out = run(test, &param.to_string(), |param| {
        let v: serde_json::Value = serde_json::from_str(param).unwrap();
        install(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["kill"],"action":"SCMP_ACT_ERRNO","errnoRet":122,"args":{}}}]}}"#,
            v["args"].as_str().unwrap()
        ));
        for p in v["probes"].as_array().unwrap() {
            let (pid, sig) = (p[0].as_i64().unwrap() as i32, p[1].as_i64().unwrap() as i32);
            let sig = if sig == 0 {
                None
            } else {
                Some(Signal::try_from(sig).unwrap())
            };
            report(&format!("{pid}/{}", p[1]), probe_kill(pid, sig));
        }
    });
    out.assert_exited_ok();
    probes
        .iter()
        .copied()
        .filter(|(pid, sig)| {
            let r = out.get(&format!("{pid}/{}", sig.map(|s| s as i32).unwrap_or(0)));
            assert!(r == "122" || r == libc::ESRCH.to_string(), "unexpected {r}");
            r == "122"
        })
        .collect()
}

#[test]
fn every_comparison_operator_on_a_real_argument() {
    let test = "every_comparison_operator_on_a_real_argument";
    let (a, b, c) = (NO_PID + 100, NO_PID + 101, NO_PID + 102);
    let probes = [(a, None), (b, None), (c, None)];
    for (op, expected) in [
        ("SCMP_CMP_NE", vec![a, c]),
        ("SCMP_CMP_LT", vec![a]),
        ("SCMP_CMP_LE", vec![a, b]),
        ("SCMP_CMP_EQ", vec![b]),
        ("SCMP_CMP_GE", vec![b, c]),
        ("SCMP_CMP_GT", vec![c]),
    ] {
        let args = format!(r#"[{{"index":0,"value":{b},"op":"{op}"}}]"#);
        let got: Vec<i32> = matched_pids(test, &args, &probes)
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(got, expected, "{op}");
    }
    // (pid & 0xf0) == 0x60
    let masked: Vec<(i32, Option<Signal>)> = [0x5f, 0x60, 0x65, 0x6f, 0x70, 0x160]
        .iter()
        .map(|o| (NO_PID + o, None))
        .collect();
    let args = r#"[{"index":0,"value":240,"valueTwo":96,"op":"SCMP_CMP_MASKED_EQ"}]"#;
    let got: Vec<i32> = matched_pids(test, args, &masked)
        .into_iter()
        .map(|p| p.0 - NO_PID)
        .collect();
    assert_eq!(got, [0x60, 0x65, 0x6f, 0x160]);
}

#[test]
fn conditions_and_across_arguments_or_on_a_repeated_index() {
    let test = "conditions_and_across_arguments_or_on_a_repeated_index";
    let usr1 = Some(Signal::SIGUSR1);
    let probes = [
        (NO_PID + 101, usr1),
        (NO_PID + 101, None),
        (NO_PID + 100, usr1),
    ];
    let args = format!(
        r#"[{{"index":0,"value":{},"op":"SCMP_CMP_EQ"}},{{"index":1,"value":{},"op":"SCMP_CMP_EQ"}}]"#,
        NO_PID + 101,
        libc::SIGUSR1
    );
    assert_eq!(
        matched_pids(test, &args, &probes),
        [(NO_PID + 101, usr1)],
        "AND"
    );

    // index 0 twice: runc makes every condition its own rule, so they are OR'ed
    let probes = [
        (NO_PID + 200, None),
        (NO_PID + 10, None),
        (NO_PID + 75, usr1),
        (NO_PID + 75, None),
    ];
    let args = format!(
        r#"[{{"index":0,"value":{},"op":"SCMP_CMP_GE"}},{{"index":0,"value":{},"op":"SCMP_CMP_LE"}},
            {{"index":1,"value":{},"op":"SCMP_CMP_EQ"}}]"#,
        NO_PID + 100,
        NO_PID + 50,
        libc::SIGUSR1
    );
    assert_eq!(
        matched_pids(test, &args, &probes),
        probes[..3].to_vec(),
        "OR"
    );
}

#[test]
fn tsync_filters_every_thread() {
    let test = "tsync_filters_every_thread";
    let body = |flags: &str| {
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (res_tx, res_rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            go_rx.recv().unwrap();
            res_tx.send(outcome(nix::unistd::getcwd())).unwrap();
        });
        install(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","flags":{flags},
                "syscalls":[{{"names":["getcwd"],"action":"SCMP_ACT_ERRNO","errnoRet":123}}]}}"#
        ));
        report("this_thread", outcome(nix::unistd::getcwd()));
        go_tx.send(()).unwrap();
        report("other_thread", res_rx.recv().unwrap());
    };
    let out = run(test, r#"["SECCOMP_FILTER_FLAG_TSYNC"]"#, body);
    out.assert_exited_ok();
    assert_eq!(out.get("this_thread"), "123");
    assert_eq!(out.get("other_thread"), "123");
    let out = run(test, "[]", body);
    out.assert_exited_ok();
    assert_eq!(out.get("this_thread"), "123");
    assert_eq!(
        out.get("other_thread"),
        "ok",
        "without TSYNC only the calling thread is filtered"
    );
}

#[test]
fn log_and_spec_allow_flags_load() {
    let out = run("log_and_spec_allow_flags_load", "", |_| {
        install(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
                "syscalls":[{"names":["getcwd"],"action":"SCMP_ACT_ERRNO","errnoRet":123}]}"#,
        );
        report("getcwd", outcome(nix::unistd::getcwd()));
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let mode = status
            .lines()
            .find(|l| l.starts_with("Seccomp:"))
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string();
        report("seccomp_mode", mode);
    });
    out.assert_exited_ok();
    assert_eq!(out.get("getcwd"), "123");
    assert_eq!(out.get("seccomp_mode"), "2", "SECCOMP_MODE_FILTER");
}

#[test]
fn install_without_no_new_privs_needs_cap_sys_admin() {
    let out = run(
        "install_without_no_new_privs_needs_cap_sys_admin",
        "",
        |_| {
            let filter = compile(
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getcwd"],"action":"SCMP_ACT_ERRNO"}]}"#,
            );
            // drop CAP_SYS_ADMIN (if held) and do not set no_new_privs
            caps::drop(
                None,
                caps::CapSet::Effective,
                caps::Capability::CAP_SYS_ADMIN,
            )
            .unwrap();
            match filter.install() {
                Ok(_) => report("install", "ok"),
                Err(e) => report("install", e),
            }
        },
    );
    out.assert_exited_ok();
    assert_eq!(
        out.get("install"),
        "loading the seccomp filter: no_new_privs is not set and CAP_SYS_ADMIN is missing"
    );
}

/// Receive the container process state and the fd from one connection on `listener`.
fn accept_state(listener: &UnixListener) -> (ContainerProcessState, RawFd) {
    listener.set_nonblocking(true).unwrap();
    let mut conn = None;
    assert!(wait_for(CHILD_TIMEOUT, || {
        conn = listener.accept().ok();
        conn.is_some()
    }));
    let (conn, _) = conn.unwrap();
    conn.set_nonblocking(false).unwrap();
    let mut payload = Vec::new();
    let mut fds = Vec::new();
    loop {
        let mut buf = vec![0u8; 8192];
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = nix::sys::socket::recvmsg::<nix::sys::socket::UnixAddr>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .unwrap();
        for c in msg.cmsgs().unwrap() {
            if let nix::sys::socket::ControlMessageOwned::ScmRights(r) = c {
                fds.extend(r);
            }
        }
        let n = msg.bytes;
        if n == 0 {
            break; // the runtime closed the connection after one state
        }
        payload.extend_from_slice(&buf[..n]);
    }
    assert_eq!(fds.len(), 1, "exactly the seccomp fd");
    (serde_json::from_slice(&payload).unwrap(), fds[0])
}

#[test]
fn notify_goes_to_the_listener_which_answers() {
    let test = "notify_goes_to_the_listener_which_answers";
    if let Some(path) = child_param(test) {
        let fd = install(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"{path}","listenerMetadata":"meta data",
                "syscalls":[{{"names":["getppid"],"action":"SCMP_ACT_NOTIFY"}}]}}"#
        ))
        .expect("a notify fd");
        let pid = std::process::id() as i32;
        let mut state = State::default();
        state
            .set_version("1.3.0".into())
            .set_id("seccomp-notify".into())
            .set_status(ContainerState::Created)
            .set_pid(Some(pid))
            .set_bundle("/bundle".into());
        let message = seccomp::process_state(&state, pid, Some("meta data"));
        seccomp::send_to_listener(std::path::Path::new(&path), &message, fd.as_fd()).unwrap();
        drop(fd);
        report("tid", nix::unistd::gettid());
        report("getppid", nix::unistd::getppid());
        std::process::exit(0);
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let child = spawn_child(test, path.to_str().unwrap());
    let child_pid = child.id() as i32;
    let agent = std::thread::spawn(move || {
        let (state, fd) = accept_state(&listener);
        let req = libseccomp::ScmpNotifReq::receive(fd).unwrap();
        let name = req.data.syscall.get_name().unwrap();
        libseccomp::ScmpNotifResp::new_val(req.id, 4242, libseccomp::ScmpNotifRespFlags::empty())
            .respond(fd)
            .unwrap();
        nix::unistd::close(fd).unwrap();
        (state, name, req.pid)
    });
    let out = finish(child);
    let (state, name, req_pid) = agent.join().unwrap();
    out.assert_exited_ok();
    assert_eq!(
        out.get("getppid"),
        "4242",
        "the listener chose the return value"
    );
    assert_eq!(name, "getppid");
    assert_eq!(
        req_pid.to_string(),
        out.get("tid"),
        "the notification names the calling thread"
    );
    assert_eq!(state.fds(), &["seccompFd"]);
    assert_eq!(state.metadata().as_deref(), Some("meta data"));
    assert_eq!(*state.pid(), child_pid);
    assert_eq!(state.state().id(), "seccomp-notify");
    assert_eq!(state.state().pid(), &Some(child_pid));
}

#[test]
fn compile_rejects_unsupported_or_invalid_profiles_with_the_field() {
    let err = |json: &str| {
        seccomp::compile(&serde_json::from_str(json).unwrap())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#),
        "linux.seccomp.listenerPath: required because linux.seccomp.syscalls[0] uses SCMP_ACT_NOTIFY"
    );
    // libseccomp 2.5 cannot add big-endian s390x to a little-endian filter
    let e = err(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86","SCMP_ARCH_S390X"]}"#,
    );
    assert!(
        e.starts_with("linux.seccomp.architectures[1]: libseccomp rejected SCMP_ARCH_S390X"),
        "{e}"
    );
}

/// Whether `signal` is pending for thread `tid` of process `pid`.
fn signal_pending(pid: i32, tid: u32, signal: Signal) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")) else {
        return false;
    };
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("SigPnd:"))
        .map(|m| u64::from_str_radix(m.trim(), 16).unwrap())
        .unwrap_or(0);
    mask & (1 << (signal as i32 - 1)) != 0
}

#[test]
fn wait_killable_recv_keeps_a_received_notification_through_signals() {
    // The notifying thread gets SIGUSR1 (it has a handler) after the agent received the
    // notification. With SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV it keeps waiting (the signal
    // stays pending) and the agent's answer on that notification arrives; without the flag the
    // signal interrupts the wait, the notification is withdrawn and the syscall is restarted as
    // a new notification.
    let test = "wait_killable_recv_keeps_a_received_notification_through_signals";
    if let Some(param) = child_param(test) {
        let (flags, path) = param.split_once(' ').unwrap();
        let got_signal = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(libc::SIGUSR1, Arc::clone(&got_signal)).unwrap();
        let fd = install(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"{path}","flags":{flags},
                "syscalls":[{{"names":["getppid"],"action":"SCMP_ACT_NOTIFY"}}]}}"#
        ))
        .expect("a notify fd");
        let pid = std::process::id() as i32;
        let mut state = State::default();
        state
            .set_version("1.3.0".into())
            .set_id("killable".into())
            .set_pid(Some(pid));
        seccomp::send_to_listener(
            std::path::Path::new(path),
            &seccomp::process_state(&state, pid, None),
            fd.as_fd(),
        )
        .unwrap();
        drop(fd);
        // a helper thread signals this thread once the parent says the agent has the notification
        let me = nix::sys::pthread::pthread_self();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut byte = [0u8; 1];
            std::io::stdin().read_exact(&mut byte).unwrap();
            nix::sys::pthread::pthread_kill(me, Signal::SIGUSR1).unwrap();
        });
        report("getppid", nix::unistd::getppid());
        report("got_signal", got_signal.load(Ordering::SeqCst));
        std::process::exit(0);
    }

    for killable in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let flags = if killable {
            r#"["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]"#
        } else {
            "[]"
        };
        let mut child = spawn_child(test, &format!("{flags} {}", path.display()));
        let child_pid = child.id() as i32;
        let mut stdin = child.stdin.take().unwrap();
        let (_, fd) = accept_state(&listener);
        let first = libseccomp::ScmpNotifReq::receive(fd).unwrap();
        std::io::Write::write_all(&mut stdin, b"!").unwrap();
        let answered = if killable {
            assert!(
                wait_for(CHILD_TIMEOUT, || signal_pending(
                    child_pid,
                    first.pid,
                    Signal::SIGUSR1
                )),
                "SIGUSR1 should stay pending during a killable wait"
            );
            libseccomp::notify_id_valid(fd, first.id).expect("the notification is still there");
            first.id
        } else {
            assert!(
                wait_for(CHILD_TIMEOUT, || libseccomp::notify_id_valid(fd, first.id)
                    .is_err()),
                "the signal should withdraw the notification"
            );
            let again = libseccomp::ScmpNotifReq::receive(fd).unwrap();
            assert_ne!(again.id, first.id);
            again.id
        };
        libseccomp::ScmpNotifResp::new_val(answered, 42, libseccomp::ScmpNotifRespFlags::empty())
            .respond(fd)
            .unwrap();
        let out = finish(child);
        nix::unistd::close(fd).unwrap();
        out.assert_exited_ok();
        assert_eq!(out.get("getppid"), "42", "killable: {killable}");
        assert_eq!(out.get("got_signal"), "true", "killable: {killable}");
    }
}
