//! Root integration tests of `exec`: what the exec'd process sees (namespaces, cgroup, user,
//! env, cwd, capabilities, seccomp, rlimits, fds), its exit status, every flag, and exec into
//! created, paused and stopped containers. Behaviour follows runc 1.1 (checked by hand against
//! Debian's runc on the same host; the messages are runc's).

mod common;

use std::io::{BufRead, BufReader};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use libcontainer::Runtime;
use serde_json::json;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `exec` with `args` (options, id, command): stdout, stderr, exit code.
fn exec(b: &Bundle, args: &[&str]) -> (String, String, i32) {
    let mut all = vec!["exec"];
    all.extend_from_slice(args);
    let out = b.cmd(&all);
    (
        text(&out.stdout),
        text(&out.stderr),
        out.status.code().unwrap_or(-1),
    )
}

/// `exec` that must succeed; its stdout.
fn exec_ok(b: &Bundle, args: &[&str]) -> String {
    let (out, err, code) = exec(b, args);
    assert_eq!(code, 0, "exec {args:?}: stdout {out:?} stderr {err:?}");
    out
}

/// Create and start a container running `sleep 60` (or the bundle's args); its init pid.
fn running(b: &Bundle, id: &str) -> String {
    let out = b.create(id, &[]);
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let out = b.cmd(&["start", id]);
    assert!(out.status.success(), "start: {}", text(&out.stderr));
    init_pid(b, id)
}

fn init_pid(b: &Bundle, id: &str) -> String {
    b.state(id).expect("state")["pid"].to_string()
}

/// A status line of /proc/<pid>/status ("CapBnd", "NoNewPrivs", ...).
fn status_field(pid: &str, field: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{field}:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Wait (10 s at most) until a process we did not spawn is gone.
fn wait_gone(pid: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
    {
        assert!(Instant::now() < deadline, "process {pid} did not exit");
        std::thread::yield_now();
    }
}

/// The exec'd process of a `--detach --pid-file` run.
fn read_pid_file(p: &Path) -> String {
    let pid = std::fs::read_to_string(p).expect("pid file");
    assert!(
        !pid.is_empty() && pid.bytes().all(|c| c.is_ascii_digit()),
        "pid file must be bare digits: {pid:?}"
    );
    pid
}

#[test]
fn joins_every_namespace_and_the_cgroup_of_the_init() {
    let mut b = Bundle::new(&["sleep", "60"]);
    b.config["linux"]["namespaces"] = json!([
        {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"},
        {"type": "mount"}, {"type": "cgroup"}, {"type": "user"}, {"type": "time"}
    ]);
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 300000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 300000, "size": 65536}]);
    b.config["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 7200}});
    let init = running(&b, "ns");
    let pid_file = b.path().join("exec.pid");
    exec_ok(
        &b,
        &[
            "--detach",
            "--pid-file",
            pid_file.to_str().unwrap(),
            "ns",
            "sleep",
            "60",
        ],
    );
    let pid = read_pid_file(&pid_file);
    for ns in ["user", "mnt", "uts", "ipc", "net", "pid", "cgroup", "time"] {
        assert_eq!(ns_inode(&pid, ns), ns_inode(&init, ns), "{ns} namespace");
        assert_ne!(
            ns_inode(&pid, ns),
            ns_inode("self", ns),
            "{ns} is the host's"
        );
    }
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap(),
        std::fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap(),
        "the exec'd process is in the container's cgroup"
    );
    // Same root directory as the init (inside the container's mount namespace).
    assert_eq!(
        std::fs::metadata(format!("/proc/{pid}/root/bin/busybox"))
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .unwrap(),
        std::fs::metadata(b.rootfs().join("bin/busybox"))
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .unwrap()
    );
    // Inside: root of the user namespace, a small pid, the cgroup namespace's root.
    let out = exec_ok(
        &b,
        &[
            "ns",
            "sh",
            "-c",
            "id -u; echo $$; grep -c ':/$' /proc/self/cgroup; wc -l < /proc/self/cgroup",
        ],
    );
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], "0");
    assert!(l[1].parse::<u32>().unwrap() < 100, "pid {} in the ns", l[1]);
    assert_eq!(l[2].trim(), l[3].trim(), "every cgroup line is the ns root");
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid.parse().unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    );
    wait_gone(&pid);
}

#[test]
fn exit_status_signals_and_start_errors() {
    let b = Bundle::new(&["sleep", "60"]);
    running(&b, "st");
    assert_eq!(exec(&b, &["st", "sh", "-c", "exit 7"]).2, 7);
    assert_eq!(exec(&b, &["st", "sh", "-c", "kill -9 $$"]).2, 137);
    let (_, err, code) = exec(&b, &["st", "nosuch"]);
    assert_eq!(code, 255);
    assert!(
        err.contains("exec failed: unable to start container process: exec: ")
            && err.contains("nosuch")
            && err.contains("executable file not found in $PATH"),
        "{err}"
    );
    let (_, err, code) = exec(&b, &["st", "/etc"]);
    assert_eq!(code, 255);
    assert!(err.contains("permission denied"), "{err}");
    let (_, err, code) = exec(&b, &["st"]);
    assert_eq!(code, 255);
    assert!(err.contains("process.args: must not be empty"), "{err}");
}

#[test]
fn signals_reach_the_exec_process_in_the_foreground() {
    let b = Bundle::new(&["sleep", "60"]);
    running(&b, "sig");
    let mut child = Command::new(MINKE)
        .arg("--root")
        .arg(&b.root)
        .args(["exec", "sig", "sh", "-c", "echo ready; exec sleep 60"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 15), "SIGTERM was forwarded");
    assert_eq!(
        b.status("sig"),
        "running",
        "the container was not signalled"
    );
}

#[test]
fn user_env_cwd_and_groups() {
    let b = Bundle::new(&["sleep", "60"]);
    running(&b, "u");
    let out = exec_ok(
        &b,
        &[
            "-u",
            "1000:1001",
            "-g",
            "5",
            "--additional-gids",
            "6",
            "-e",
            "FOO=bar",
            "--env",
            "TERM=dumb",
            "--cwd",
            "/tmp",
            "u",
            "sh",
            "-c",
            "id; pwd; env",
        ],
    );
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], "uid=1000 gid=1001 groups=5,6");
    assert_eq!(l[1], "/tmp");
    let env: Vec<&str> = l[2..].to_vec();
    assert!(env.contains(&"FOO=bar"), "{env:?}");
    assert!(env.contains(&"TERM=dumb"), "later value wins: {env:?}");
    assert!(!env.contains(&"TERM=xterm"), "{env:?}");
    assert!(env.contains(&"HOME=/"), "{env:?}");
    // --user without a gid keeps the container's gid.
    assert_eq!(exec_ok(&b, &["-u", "7", "u", "id"]), "uid=7 gid=0\n");
    // runc's words for bad values.
    let (_, err, code) = exec(&b, &["-u", "abc", "u", "id"]);
    assert_eq!(code, 255);
    assert!(err.contains("parsing abc as int for uid failed"), "{err}");
    let (_, err, _) = exec(&b, &["-g", "-1", "u", "id"]);
    assert!(
        err.contains("additional-gids must be a positive number -1"),
        "{err}"
    );
    let (_, err, _) = exec(&b, &["--cwd", "tmp", "u", "pwd"]);
    assert!(
        err.contains("process.cwd: ")
            && err.contains("tmp")
            && err.contains("must be an absolute path"),
        "{err}"
    );
    let (_, err, code) = exec(&b, &["--cwd", "/nonexistent", "u", "pwd"]);
    assert_eq!(code, 255);
    assert!(
        err.contains("process.cwd: changing to /nonexistent"),
        "{err}"
    );
}

#[test]
fn capabilities_no_new_privs_and_labels() {
    let b = Bundle::new(&["sleep", "60"]);
    let init = running(&b, "caps");
    let out = exec_ok(&b, &["caps", "cat", "/proc/self/status"]);
    let field = |out: &str, f: &str| {
        out.lines()
            .find_map(|l| {
                l.strip_prefix(&format!("{f}:"))
                    .map(|v| v.trim().to_string())
            })
            .unwrap()
    };
    for f in [
        "CapBnd",
        "CapEff",
        "CapPrm",
        "CapInh",
        "CapAmb",
        "NoNewPrivs",
    ] {
        assert_eq!(
            field(&out, f),
            status_field(&init, f),
            "{f}: the container's settings"
        );
    }
    assert_eq!(field(&out, "NoNewPrivs"), "1");
    let out = exec_ok(
        &b,
        &[
            "--cap",
            "CAP_SYS_ADMIN",
            "-c",
            "CAP_NET_RAW",
            "caps",
            "cat",
            "/proc/self/status",
        ],
    );
    let bnd = u64::from_str_radix(&field(&out, "CapBnd"), 16).unwrap();
    let init_bnd = u64::from_str_radix(&status_field(&init, "CapBnd"), 16).unwrap();
    assert_eq!(bnd, init_bnd | (1 << 21) | (1 << 13));
    assert_eq!(field(&out, "CapEff"), field(&out, "CapBnd"));
    assert_eq!(
        field(&out, "CapAmb"),
        status_field(&init, "CapAmb"),
        "no inheritable set in the config: --cap does not touch ambient"
    );
    let (out, err, code) = exec(&b, &["--cap", "CAP_BOGUS", "caps", "true"]);
    assert_eq!(code, 0, "{out} {err}");
    assert!(
        err.contains("ignoring unknown or unavailable capabilities: [CAP_BOGUS]"),
        "{err}"
    );
    // AppArmor: applied where the host has it (the profile shows in attr/current), refused,
    // naming the field, where it does not.
    if libcontainer::lsm::apparmor_enabled() {
        let (out, err, code) = exec(
            &b,
            &[
                "--apparmor",
                "unconfined",
                "caps",
                "cat",
                "/proc/self/attr/current",
            ],
        );
        assert_eq!(code, 0, "{err}");
        assert!(out.starts_with("unconfined"), "{out}");
    } else {
        let (_, err, code) = exec(&b, &["--apparmor", "unconfined", "caps", "true"]);
        assert_eq!(code, 255);
        assert!(err.contains("process.apparmorProfile"), "{err}");
    }
    let (_, err, code) = exec(
        &b,
        &["--process-label", "system_u:system_r:x", "caps", "true"],
    );
    assert_eq!(code, 255);
    assert!(err.contains("process.selinuxLabel"), "{err}");
}

#[test]
fn no_new_privs_flag_and_rlimits() {
    let mut b = Bundle::new(&["sleep", "60"]);
    b.config["process"]["noNewPrivileges"] = json!(false);
    // Lower than the host's, so no CAP_SYS_RESOURCE is needed (runc applies them to exec too).
    b.config["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 777, "hard": 1000},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 4096}
    ]);
    running(&b, "nnp");
    let nnp = |extra: &[&str]| {
        let mut a = extra.to_vec();
        a.extend_from_slice(&["nnp", "grep", "NoNewPrivs", "/proc/self/status"]);
        exec_ok(&b, &a)
    };
    assert_eq!(nnp(&[]), "NoNewPrivs:\t0\n");
    assert_eq!(nnp(&["--no-new-privs"]), "NoNewPrivs:\t1\n");
    let out = exec_ok(
        &b,
        &[
            "nnp",
            "grep",
            "-E",
            "open files|core file",
            "/proc/self/limits",
        ],
    );
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(
        rows.iter()
            .any(|r| r.contains(&"core") && r[4..6] == ["0", "4096"]),
        "{out}"
    );
    assert!(
        rows.iter()
            .any(|r| r.contains(&"open") && r[3..5] == ["777", "1000"]),
        "{out}"
    );
}

#[test]
fn seccomp_of_the_container_applies() {
    let mut b = Bundle::new(&["sleep", "60"]);
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    });
    running(&b, "sc");
    let (out, err, code) = exec(
        &b,
        &[
            "sc",
            "sh",
            "-c",
            "grep Seccomp: /proc/self/status; mkdir /tmp/x",
        ],
    );
    assert_eq!(out, "Seccomp:\t2\n");
    assert_ne!(code, 0);
    assert!(err.contains("Operation not permitted"), "{err}");
}

#[test]
fn only_stdio_and_preserved_fds_reach_the_process() {
    let b = Bundle::new(&["sleep", "60"]);
    running(&b, "fds");
    // An inherited fd 3, as the shims leave their sockets open.
    let run = |extra: &str| {
        let script = format!(
            "exec 3</etc/hostname; exec {MINKE} --root {} exec {extra} fds ls /proc/self/fd",
            b.root.display()
        );
        let out = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    // ls opens the directory itself as fd 3.
    assert_eq!(run(""), "0\n1\n2\n3\n");
    assert_eq!(run("--preserve-fds 1"), "0\n1\n2\n3\n4\n");
    // The runtime's own fds (its log file here) are not the caller's to preserve.
    let log = b.path().join("exec-log.json");
    let out = Command::new(MINKE)
        .arg("--root")
        .arg(&b.root)
        .arg("--log")
        .arg(&log)
        .args([
            "exec",
            "--preserve-fds",
            "2",
            "fds",
            "ls",
            "-l",
            "/proc/self/fd",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stdout).contains("exec-log.json"),
        "{}",
        text(&out.stdout)
    );
    // The preserved fd is the caller's file.
    let script = format!(
        "exec 3</etc/hostname; exec {MINKE} --root {} exec --preserve-fds 1 fds cat /proc/self/fd/3",
        b.root.display()
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert_eq!(
        text(&out.stdout),
        std::fs::read_to_string("/etc/hostname").unwrap()
    );
}

#[test]
fn exec_into_a_created_container() {
    let b = Bundle::new(&["sh", "-c", "echo init ran"]);
    let out = b.create("cr", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = exec_ok(
        &b,
        &[
            "cr",
            "sh",
            "-c",
            "echo $$; cat /proc/1/cmdline | tr '\\0' ' '",
        ],
    );
    let l: Vec<&str> = out.lines().collect();
    assert_ne!(l[0], "1", "the exec'd process is not the container's init");
    assert!(
        l[1].contains("minke"),
        "pid 1 is the waiting init: {:?}",
        l[1]
    );
    assert_eq!(b.status("cr"), "created");
    let out = b.cmd(&["start", "cr"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    b.wait_status("cr", "stopped");
}

#[test]
fn exec_into_stopped_missing_and_paused_containers() {
    let b = Bundle::new(&["sleep", "60"]);
    let (_, err, code) = exec(&b, &["nosuch", "true"]);
    assert_eq!(code, 255);
    assert!(
        err.contains("exec failed: container does not exist"),
        "{err}"
    );

    running(&b, "p");
    let out = b.cmd(&["pause", "p"]);
    assert!(out.status.success(), "pause: {}", text(&out.stderr));
    // Resume even if an assertion below fails, so the container can be deleted.
    struct Resume<'a>(&'a Bundle);
    impl Drop for Resume<'_> {
        fn drop(&mut self) {
            let _ = self.0.cmd(&["resume", "p"]);
        }
    }
    let resume = Resume(&b);
    assert_eq!(b.status("p"), "paused");
    let (_, err, code) = exec(&b, &["p", "true"]);
    assert_eq!(code, 255);
    assert!(
        err.contains("cannot exec in a paused container (use --ignore-paused to override)"),
        "{err}"
    );
    // With --ignore-paused it goes ahead and runs once the container is resumed.
    let out_path = b.path().join("ignore-paused.out");
    let mut child = Command::new(MINKE)
        .arg("--root")
        .arg(&b.root)
        .args(["exec", "--ignore-paused", "p", "echo", "ran"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    drop(resume);
    let status = child.wait().unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read_to_string(&out_path).unwrap(), "ran\n");

    let out = b.cmd(&["kill", "p", "KILL"]);
    assert!(out.status.success());
    b.wait_status("p", "stopped");
    let (_, err, code) = exec(&b, &["p", "true"]);
    assert_eq!(code, 255);
    assert!(
        err.contains("exec failed: cannot exec in a stopped container"),
        "{err}"
    );
}

#[test]
fn process_file_as_podman_and_containerd_pass_it() {
    let b = Bundle::new(&["sleep", "60"]);
    running(&b, "pf");
    let process = json!({
        "terminal": false,
        "user": {"uid": 1000, "gid": 1000, "additionalGids": [10]},
        "args": ["sh", "-c", "id; pwd; echo $X; grep CapBnd /proc/self/status"],
        "env": ["PATH=/bin", "X=from-file"],
        "cwd": "/tmp",
        "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]},
        "noNewPrivileges": true
    });
    let file = b.path().join("process.json");
    std::fs::write(&file, process.to_string()).unwrap();
    let f = file.to_str().unwrap();
    let out = exec_ok(&b, &["--process", f, "pf"]);
    assert_eq!(
        out,
        "uid=1000 gid=1000 groups=10\n/tmp\nfrom-file\nCapBnd:\t0000000000000020\n"
    );
    // What the file leaves out comes from the container's process: its capabilities (as
    // runc 1.1.5: CapEff 0000000020000420 for `runc spec`'s set, checked side by side),
    // no_new_privs and rlimits.
    let init = init_pid(&b, "pf");
    std::fs::write(
        &file,
        json!({
            "user": {"uid": 0, "gid": 0},
            "args": ["sh", "-c", "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; ulimit -n"],
            "env": ["PATH=/bin"],
            "cwd": "/"
        })
        .to_string(),
    )
    .unwrap();
    let out = exec_ok(&b, &["--process", f, "pf"]);
    let nofile = std::fs::read_to_string(format!("/proc/{init}/limits"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3).map(str::to_string))
        .unwrap();
    assert_eq!(
        out,
        format!(
            "CapEff:\t{}\nNoNewPrivs:\t{}\n{nofile}\n",
            status_field(&init, "CapEff"),
            status_field(&init, "NoNewPrivs")
        )
    );
    // Flags that would shape the process conflict with the file.
    std::fs::write(&file, process.to_string()).unwrap();
    let (_, err, code) = exec(&b, &["-p", f, "--env", "A=1", "pf"]);
    assert_eq!(code, 255);
    assert!(
        err.contains("--env cannot be combined with --process"),
        "{err}"
    );
    let (_, err, _) = exec(&b, &["-p", f, "pf", "ls"]);
    assert!(
        err.contains("a command cannot be combined with --process"),
        "{err}"
    );
    // Errors name the file and the field.
    std::fs::write(
        &file,
        json!({"args": ["true"], "user": {"uid": 0, "gid": 0}}).to_string(),
    )
    .unwrap();
    let (_, err, code) = exec(&b, &["-p", f, "pf"]);
    assert_eq!(code, 255);
    assert!(
        err.contains(&format!(
            "--process {f}: process.cwd: required field is missing"
        )),
        "{err}"
    );
    std::fs::write(&file, "[1]").unwrap();
    let (_, err, _) = exec(&b, &["-p", f, "pf"]);
    assert!(err.contains("must be a JSON object"), "{err}");
}

#[test]
fn tty_with_console_socket_detached() {
    use std::os::unix::net::UnixListener;
    let b = Bundle::new(&["sleep", "60"]);
    running(&b, "t");
    let sock = b.path().join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let s = sock.to_str().unwrap();
    // Without a socket a detached tty has nowhere to go; a socket without a tty is refused.
    let (_, err, code) = exec(&b, &["-d", "-t", "t", "true"]);
    assert_eq!(code, 255);
    assert!(
        err.contains("cannot allocate tty if minke will detach without setting console socket"),
        "{err}"
    );
    let (_, err, _) = exec(&b, &["-d", "--console-socket", s, "t", "true"]);
    assert!(
        err.contains("cannot use console socket if minke will not detach or allocate tty"),
        "{err}"
    );
    let pid_file = b.path().join("tty.pid");
    exec_ok(
        &b,
        &[
            "-d",
            "-t",
            "--console-socket",
            s,
            "--pid-file",
            pid_file.to_str().unwrap(),
            "t",
            "sh",
            "-c",
            "tty; stty size; exit 0",
        ],
    );
    let (conn, _) = listener.accept().unwrap();
    let mut buf = [0u8; 64];
    let (n, mut fds) = libcontainer::sys::recv_with_fds(conn.as_fd(), &mut buf)
        .unwrap()
        .expect("a message on the console socket");
    let name = text(&buf[..n]);
    assert!(name.starts_with("/dev/pts/"), "{name}");
    let master = std::fs::File::from(fds.pop().expect("the pty master was sent"));
    let mut out = String::new();
    let mut chunk = [0u8; 256];
    loop {
        match std::io::Read::read(&mut &master, &mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.push_str(&text(&chunk[..n])),
        }
    }
    let l: Vec<String> = out.replace('\r', "").lines().map(String::from).collect();
    assert_eq!(l[0], name);
    read_pid_file(&pid_file);
}

#[test]
fn sub_cgroup() {
    let b = Bundle::new(&["sleep", "60"]);
    let init = running(&b, "cg");
    let rt = Runtime::new(&b.root);
    let st = rt.store.load("cg").unwrap();
    let cg = rt.cgroup(&st).unwrap().expect("a cgroup");
    let dirs: Vec<(libcontainer::cgroups::Hierarchy, PathBuf)> = cg
        .paths()
        .map(|(h, p)| (h.clone(), p.to_path_buf()))
        .collect();
    for (_, d) in &dirs {
        let sub = d.join("sub");
        std::fs::create_dir(&sub).unwrap();
        // A new v1 cpuset admits no process until it has cpus and mems (as with runc, the
        // sub-cgroup is the caller's to set up).
        for f in ["cpuset.cpus", "cpuset.mems"] {
            if let (Ok(v), true) = (std::fs::read_to_string(d.join(f)), sub.join(f).exists()) {
                std::fs::write(sub.join(f), v.trim()).unwrap();
            }
        }
    }
    let cgroup_of = |pid: &str| -> Vec<String> {
        std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    };
    let run_in = |args: &[&str]| -> String {
        let pid_file = b.path().join("sub.pid");
        let _ = std::fs::remove_file(&pid_file);
        let mut a = vec!["-d", "--pid-file", pid_file.to_str().unwrap()];
        a.extend_from_slice(args);
        a.extend_from_slice(&["cg", "sleep", "60"]);
        exec_ok(&b, &a);
        read_pid_file(&pid_file)
    };
    let kill = |pid: &str| {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid.parse().unwrap()),
            nix::sys::signal::Signal::SIGKILL,
        );
        wait_gone(pid);
    };
    // The path alone: every hierarchy.
    let pid = run_in(&["--cgroup", "sub"]);
    for (mine, theirs) in cgroup_of(&pid).iter().zip(cgroup_of(&init)) {
        let want = if theirs.ends_with('/') {
            format!("{theirs}sub")
        } else {
            format!("{theirs}/sub")
        };
        assert_eq!(*mine, want);
    }
    kill(&pid);
    let v2 = cg.mode() == libcontainer::cgroups::CgroupMode::Unified;
    if v2 {
        // cgroup v2 has one hierarchy: a controller prefix is refused.
        let (_, err, code) = exec(&b, &["--cgroup", "memory:sub", "cg", "true"]);
        assert_eq!(code, 255);
        assert!(err.contains("cgroup v2 takes a single path"), "{err}");
    } else {
        // v1: only the named controller's hierarchy moves.
        let pid = run_in(&["--cgroup", "memory:/sub"]);
        for (mine, theirs) in cgroup_of(&pid).iter().zip(cgroup_of(&init)) {
            if theirs.contains(":memory:") {
                assert_eq!(*mine, format!("{theirs}/sub"));
            } else {
                assert_eq!(*mine, theirs);
            }
        }
        kill(&pid);
        let (_, err, _) = exec(&b, &["--cgroup", "nosuchctl:sub", "cg", "true"]);
        assert!(err.contains("unknown controller nosuchctl"), "{err}");
    }
    let (_, err, code) = exec(&b, &["--cgroup", "../x", "cg", "true"]);
    assert_eq!(code, 255);
    assert!(err.contains("../x is not a sub cgroup path"), "{err}");
    let (_, err, _) = exec(&b, &["--cgroup", "missing", "cg", "true"]);
    assert!(err.contains("no such cgroup directory"), "{err}");
}

#[test]
fn seccomp_notify_fd_of_the_exec_process_goes_to_the_listener() {
    use std::os::unix::net::UnixListener;
    let mut b = Bundle::new(&["sleep", "60"]);
    let sock = b.path().join("agent.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    listener.set_nonblocking(true).unwrap();
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock,
        "listenerMetadata": "from-the-test",
        "syscalls": [{"names": ["setdomainname"], "action": "SCMP_ACT_NOTIFY"}]
    });
    let init = running(&b, "n");
    let next = || {
        let (conn, _) = listener
            .accept()
            .expect("the runtime connected to listenerPath");
        conn.set_nonblocking(false).unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let (n, fds) = libcontainer::sys::recv_with_fds(conn.as_fd(), &mut buf)
            .unwrap()
            .expect("a message");
        assert_eq!(fds.len(), 1, "the notify fd");
        serde_json::from_slice::<serde_json::Value>(&buf[..n]).unwrap()
    };
    assert_eq!(next()["pid"].to_string(), init, "the init's fd, at start");
    let pid_file = b.path().join("n.pid");
    exec_ok(
        &b,
        &[
            "-d",
            "--pid-file",
            pid_file.to_str().unwrap(),
            "n",
            "sleep",
            "60",
        ],
    );
    let msg = next();
    assert_eq!(msg["pid"].to_string(), read_pid_file(&pid_file));
    assert_eq!(msg["metadata"], "from-the-test");
    assert_eq!(msg["fds"], json!(["seccompFd"]));
    assert_eq!(msg["state"]["status"], "running");
    assert_eq!(msg["state"]["pid"].to_string(), init);
}

#[test]
fn exec_into_a_no_pivot_container_sees_its_root() {
    // With MS_MOVE + chroot the mount namespace's root is not the container's root by itself:
    // exec enters the init's root directory.
    let b = Bundle::new(&["sleep", "60"]);
    let bp = b.path().to_str().unwrap().to_string();
    let out = b.cmd(&["run", "--detach", "--no-pivot", "--bundle", &bp, "np"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = exec_ok(&b, &["np", "sh", "-c", "ls /; readlink /proc/1/root"]);
    let l: Vec<&str> = out.lines().collect();
    assert!(
        l.contains(&"bin") && !l.contains(&"work") && !l.contains(&"usr"),
        "{out}"
    );
    assert_eq!(l.last(), Some(&"/"));
}

#[test]
fn process_attributes_and_exec_cpu_affinity() {
    // The scheduler, I/O priority (and personality, memory policy) of the process object, as
    // for the init; execCPUAffinity, which only applies to exec'd processes.
    let mut b = Bundle::new(&["sleep", "60"]);
    b.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
    b.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6});
    let mine = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).unwrap();
    let cpus: Vec<usize> = (0..nix::sched::CpuSet::count())
        .filter(|&c| mine.is_set(c).unwrap_or(false))
        .collect();
    let (first, last) = (cpus[0].to_string(), cpus[cpus.len() - 1].to_string());
    b.config["process"]["execCPUAffinity"] = json!({"initial": first, "final": last});
    running(&b, "pa");
    let script = "ionice -p $$; awk '{print $41, $19}' /proc/self/stat; \
                  grep Cpus_allowed_list /proc/self/status | cut -f2";
    let out = exec_ok(&b, &["pa", "sh", "-c", script]);
    assert_eq!(
        out,
        format!("best-effort: prio 6\n{} 7\n{last}\n", libc::SCHED_BATCH)
    );
    // "initial" is applied to the runtime's process that moves into the cgroup: a CPU that
    // does not exist is refused, naming the field. (Without "final", the kernel decides the
    // affinity once the process is in the cgroup, as the spec says: on cgroup v2 a cpuset
    // resets it.)
    let process = json!({
        "args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0},
        "execCPUAffinity": {"initial": "4000"}
    });
    let file = b.path().join("aff.json");
    std::fs::write(&file, process.to_string()).unwrap();
    let (_, err, code) = exec(&b, &["-p", file.to_str().unwrap(), "pa"]);
    assert_eq!(code, 255);
    assert!(
        err.contains("process.execCPUAffinity.initial: sched_setaffinity"),
        "{err}"
    );
}
