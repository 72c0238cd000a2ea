//! Attack tests: each escape class that hit runc, crun or youki, attempted against minke from a
//! bundle, an image or a process inside the container. Every test says what the attack does
//! and why it would succeed without the protection it checks; each one was also run against
//! the code before the protection went in (see docs/security.md) and failed there.

mod common;

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn bundle_path(b: &Bundle) -> String {
    b.path().to_str().unwrap().to_string()
}

/// A host directory the container must never reach, with a marker file in it.
struct HostDir {
    dir: tempfile::TempDir,
}

const MARKER: &str = "HOST-MARKER";

impl HostDir {
    fn new() -> HostDir {
        let dir = tempfile::Builder::new()
            .prefix("minke-host-")
            .tempdir()
            .unwrap();
        std::fs::write(dir.path().join(MARKER), "precious\n").unwrap();
        HostDir { dir }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    /// The names in the directory: only the marker (and what the test put there) if nothing
    /// reached it.
    fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
    fn open_dir(&self) -> OwnedFd {
        nix::fcntl::open(
            self.path(),
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap()
    }
}

/// Is anything mounted at or below `p` in our (the host's) mount namespace?
fn host_mounts_under(p: &Path) -> Vec<String> {
    let p = p.to_str().unwrap();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|mp| *mp == p || mp.starts_with(&format!("{p}/")))
        .map(str::to_string)
        .collect()
}

/// Run the runtime like `Bundle::cmd`, handing it extra open fds at fixed numbers (not
/// close-on-exec), as a careless caller or a shim would leak them. stdout goes to `out`.
fn cmd_with_fds(b: &Bundle, args: &[&str], fds: &[(RawFd, BorrowedFd<'_>)], out: &Path) -> Output {
    b.write();
    let err_path = out.with_extension("err");
    // Park the sources far above the targets so that dup2 never clobbers one with another.
    let parked: Vec<(RawFd, OwnedFd)> = fds
        .iter()
        .map(|(to, fd)| {
            let high = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(100)).unwrap();
            // SAFETY: F_DUPFD_CLOEXEC returned a new fd that nothing else owns.
            (*to, unsafe {
                <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(high)
            })
        })
        .collect();
    let pairs: Vec<(RawFd, RawFd)> = parked
        .iter()
        .map(|(to, fd)| (fd.as_raw_fd(), *to))
        .collect();
    let mut cmd = Command::new(&b.runtime);
    cmd.arg("--root")
        .arg(&b.root)
        .args(args)
        .current_dir(b.path())
        .stdin(Stdio::null())
        .stdout(File::create(out).unwrap())
        .stderr(File::create(&err_path).unwrap());
    // SAFETY: between fork and exec the closure only calls dup2(2), which is
    // async-signal-safe, on fds that `parked` keeps open in the parent until spawn returns;
    // dup2 gives the new numbers no close-on-exec flag, so the runtime inherits them.
    unsafe {
        cmd.pre_exec(move || {
            for (from, to) in &pairs {
                if libc::dup2(*from, *to) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let status = cmd.status().expect("running the runtime");
    drop(parked);
    Output {
        status,
        stdout: std::fs::read(out).unwrap_or_default(),
        stderr: std::fs::read(&err_path).unwrap_or_default(),
    }
}

/// Poll for a file the container writes (`timeout` at most) and return its contents.
fn wait_for_file(p: &Path, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(s) = std::fs::read_to_string(p) {
            if s.ends_with('\n') {
                return s;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} did not appear within {timeout:?}",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn mounts(b: &mut Bundle) -> &mut Vec<Value> {
    b.config["mounts"].as_array_mut().unwrap()
}

/// A startContainer hook (it runs in the container, with the init's full privileges, before
/// the init drops them). The rootfs is made writable so that it can leave traces there.
fn start_hook(b: &mut Bundle, script: &str) {
    b.config["root"]["readonly"] = json!(false);
    b.config["hooks"] = json!({
        "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", script]}]
    });
}

/// `ls -l /proc/self/fd` lines as (fd, link target); the target is empty when ls could not
/// read the link (its own directory fd, closed by then).
fn fd_listing(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| l.starts_with('l'))
        .filter_map(|l| {
            let (left, target) = l.split_once(" -> ").unwrap_or((l, ""));
            let fd = left.split_whitespace().last()?.to_string();
            Some((fd, target.to_string()))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Leaked file descriptors (CVE-2024-21626, CVE-2016-9962 class)

/// The runtime is handed a file, a directory and a socket that its caller forgot to mark
/// close-on-exec, and runs with a --log file of its own. The container process must see only
/// stdio (and the directory `ls` itself opens): no inherited fd and no fd of the runtime
/// (log, state directory, start socket, channels). Without `close_inherited_fds` the three
/// leaked fds would be fds 3-5 of the process (the listing would show the host directory and
/// a socket); without close-on-exec/closing of the runtime's own fds, the log file would be.
#[test]
fn leaked_fds_never_reach_the_container() {
    let b = Bundle::new(&["ls", "-l", "/proc/self/fd"]);
    let host = HostDir::new();
    let file = File::open(host.path().join(MARKER)).unwrap();
    let dir = host.open_dir();
    let (sock, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let log = b.path().join("runtime.log");
    let log_s = log.to_str().unwrap().to_string();
    let bp = bundle_path(&b);
    let leaked = [(3, file.as_fd()), (4, dir.as_fd()), (5, sock.as_fd())];
    let check = |listing: &str| {
        let fds = fd_listing(listing);
        let names: Vec<&str> = fds.iter().map(|(n, _)| n.as_str()).collect();
        // 0-2 are stdio; 3 is the directory ls opened to list itself.
        assert_eq!(names, ["0", "1", "2", "3"], "{listing}");
        let (_, t3) = &fds[3];
        assert!(
            t3.is_empty() || t3.ends_with("/fd"),
            "fd 3 is not ls's own: {listing}"
        );
        for (_, target) in &fds {
            for bad in [
                host.path().to_str().unwrap(),
                "socket:",
                log_s.as_str(),
                b.root.to_str().unwrap(),
            ] {
                assert!(
                    !target.contains(bad),
                    "{bad} reached the container: {listing}"
                );
            }
        }
    };

    // run: the container is created and started by one runtime process.
    let out = cmd_with_fds(
        &b,
        &["--log", &log_s, "run", "--bundle", &bp, "leak-run"],
        &leaked,
        &b.path().join("run.out"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    check(&stdout(&out));

    // create + start: the created init must not hold the leaked fds either.
    let create_out = b.path().join("create.out");
    let out = cmd_with_fds(
        &b,
        &["--log", &log_s, "create", "--bundle", &bp, "leak-cs"],
        &leaked,
        &create_out,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let pid = b.state("leak-cs").unwrap()["pid"].as_i64().unwrap();
    let id = |st: nix::sys::stat::FileStat| (st.st_dev, st.st_ino);
    let leaked_ids: Vec<(u64, u64)> = [file.as_fd(), dir.as_fd(), sock.as_fd()]
        .iter()
        .map(|fd| id(nix::sys::stat::fstat(fd).unwrap()))
        .collect();
    for e in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
        let e = e.unwrap();
        let Ok(st) = nix::sys::stat::stat(&e.path()) else {
            continue;
        };
        assert!(
            !leaked_ids.contains(&id(st)),
            "the created init holds a leaked fd: {:?} -> {:?}",
            e.file_name(),
            std::fs::read_link(e.path())
        );
    }
    let out = cmd_with_fds(
        &b,
        &["--log", &log_s, "start", "leak-cs"],
        &leaked,
        &b.path().join("start.out"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    b.wait_status("leak-cs", "stopped");
    check(&std::fs::read_to_string(&create_out).unwrap());
}

// ---------------------------------------------------------------------------------------------
// Working directory and executable through /proc/self/fd (CVE-2024-21626)

/// runc's attacks 1 and 3: `process.cwd` = `/proc/self/fd/N`, or `process.args[0]` =
/// `/proc/self/fd/N/<host file>`, where fd N is a host directory the runtime holds (here: one
/// leaked to it at 3, 4 and 5). A runtime that chdir()s or execve()s the string would land in,
/// or run from, the host directory. minke resolves both inside the container with
/// RESOLVE_NO_MAGICLINKS at create and refuses them.
#[test]
fn cwd_and_executable_through_proc_self_fd_are_refused() {
    let mut b = Bundle::new(&["sh", "-c", "pwd; ls"]);
    let host = HostDir::new();
    let exe = host.path().join("HOST-EXE");
    std::fs::write(&exe, "#!/bin/sh\necho ESCAPED\n").unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let d = host.open_dir();
    let leaked = [(3, d.as_fd()), (4, d.as_fd()), (5, d.as_fd())];
    let bp = bundle_path(&b);
    for n in 3..=9 {
        for variant in ["cwd", "exe"] {
            b.config["process"]["cwd"] = json!("/");
            b.config["process"]["args"] = json!(["sh", "-c", "pwd; ls"]);
            match variant {
                "cwd" => b.config["process"]["cwd"] = json!(format!("/proc/self/fd/{n}")),
                _ => b.config["process"]["args"] = json!([format!("/proc/self/fd/{n}/HOST-EXE")]),
            }
            let id = format!("cwd-{variant}-{n}");
            let out = cmd_with_fds(
                &b,
                &["run", "--bundle", &bp, &id],
                &leaked,
                &b.path().join("out"),
            );
            let text = stdout(&out);
            assert!(
                !text.contains(MARKER) && !text.contains("ESCAPED"),
                "{id}: the process reached the host directory: {text}"
            );
            assert!(!out.status.success(), "{id}: accepted: {text}");
            let want = if variant == "cwd" {
                "process.cwd"
            } else {
                "exec"
            };
            assert!(stderr(&out).contains(want), "{id}: {}", stderr(&out));
        }
    }
    assert!(b.leftovers().is_empty());
    assert_eq!(host.entries(), ["HOST-EXE", MARKER].map(String::from));
}

/// The race variant: the cwd exists at create, then a process in the container (here a
/// startContainer hook) swaps it for a symlink to `/proc/self/fd/3`, fd 3 being a host
/// directory the caller passed with --preserve-fds. chdir() at start follows it into the host
/// directory; only the getcwd() check after chdir (`change_dir`) sees that the working
/// directory is not under the container's root and refuses to run the process.
#[test]
fn cwd_swapped_for_a_preserved_host_directory_is_refused_at_start() {
    let mut b = Bundle::new(&["sh", "-c", "pwd > /tmp/ran; ls >> /tmp/ran"]);
    b.config["process"]["cwd"] = json!("/work");
    start_hook(
        &mut b,
        "busybox rm -rf /work && busybox ln -s /proc/self/fd/3 /work",
    );
    let host = HostDir::new();
    let d = host.open_dir();
    let bp = bundle_path(&b);
    let out = cmd_with_fds(
        &b,
        &["create", "--preserve-fds", "1", "--bundle", &bp, "swap"],
        &[(3, d.as_fd())],
        &b.path().join("create.out"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = b.cmd(&["start", "swap"]);
    assert!(
        !out.status.success(),
        "start accepted a cwd outside the root"
    );
    assert!(
        stderr(&out).contains("outside the container's root"),
        "{}",
        stderr(&out)
    );
    assert!(!b.rootfs().join("tmp/ran").exists(), "the process ran");
}

/// A process in the container can see the init's fds until it execs (a startContainer hook,
/// with all capabilities, lists /proc/1/fd) and can point the cwd at one of them. The init
/// closes every runtime fd before it resolves the cwd and the executable, so the symlink
/// dangles and start fails; with the fds still open, chdir would follow the runtime's handle.
#[test]
fn runtime_fds_are_closed_before_cwd_and_executable_are_resolved() {
    let mut b = Bundle::new(&["sh", "-c", "pwd > /tmp/ran"]);
    b.config["process"]["cwd"] = json!("/work");
    start_hook(
        &mut b,
        "for f in /proc/1/fd/*; do n=${f##*/}; \
         if [ \"$n\" -ge 3 ] && [ -d \"$f\" ]; then echo $n > /found; busybox rm -rf /work; \
         busybox ln -s /proc/self/fd/$n /work; exit 0; fi; done; echo none > /found",
    );
    assert!(b.create("fdcwd", &[]).status.success());
    let out = b.cmd(&["start", "fdcwd"]);
    let found = std::fs::read_to_string(b.rootfs().join("found")).unwrap();
    assert_ne!(
        found.trim(),
        "none",
        "the init held no directory fd to aim at"
    );
    assert!(
        !out.status.success(),
        "start followed a runtime fd (fd {found})"
    );
    assert!(stderr(&out).contains("process.cwd"), "{}", stderr(&out));
    assert!(!b.rootfs().join("tmp/ran").exists());
}

// ---------------------------------------------------------------------------------------------
// Symlinks planted in the rootfs (CVE-2025-31133, -52565, -52881 class; CVE-2021-30465)

/// Mount destinations under symlinks the image planted, pointing at a host directory by its
/// absolute path and by `../../..`: a runtime that joins strings (or follows the symlinks
/// with the host's root) creates the mount points in the host directory and mounts there.
/// With RESOLVE_IN_ROOT the symlinks resolve inside the rootfs: the host directory stays
/// untouched and the mounts land in the rootfs.
#[test]
fn mount_destinations_behind_planted_symlinks_stay_in_the_rootfs() {
    let mut b = Bundle::new(&["sh", "-c", "cat /proc/self/mountinfo"]);
    let host = HostDir::new();
    let hp = host.path().to_str().unwrap().to_string();
    symlink(&hp, b.rootfs().join("abs")).unwrap();
    symlink(
        format!("../../../../../../../../../..{hp}"),
        b.rootfs().join("rel"),
    )
    .unwrap();
    let file = b.path().join("bindme");
    std::fs::write(&file, "bind source\n").unwrap();
    for (dest, kind) in [
        ("/abs/t1", "tmpfs"),
        ("/rel/t2", "tmpfs"),
        ("/abs/f1", "file"),
        ("/rel", "tmpfs"),
    ] {
        let m = if kind == "file" {
            json!({"destination": dest, "type": "bind", "source": file, "options": ["bind"]})
        } else {
            json!({"destination": dest, "type": "tmpfs", "source": "tmpfs"})
        };
        mounts(&mut b).push(m);
    }
    let out = b.run_ok("symdest");
    assert_eq!(
        host.entries(),
        [MARKER],
        "mount points were created on the host"
    );
    assert!(host_mounts_under(host.path()).is_empty());
    // The mounts are in the container, at the symlinks' targets inside the rootfs.
    let inside = b.rootfs().join(hp.trim_start_matches('/'));
    assert!(
        inside.join("t1").is_dir() && inside.join("t2").is_dir() && inside.join("f1").is_file()
    );
    for mp in ["t1", "t2", "f1"] {
        assert!(
            out.contains(&format!(" {hp}/{mp} ")),
            "{mp} is not mounted inside: {out}"
        );
    }
}

/// procfs and sysfs on a planted symlink (absolute or relative, at a host directory): a
/// runtime that follows it mounts procfs elsewhere than /proc (in the worst case on the host),
/// and every mask meant for /proc then misses. minke refuses, as runc does.
#[test]
fn proc_and_sys_on_planted_symlinks_are_refused() {
    let host = HostDir::new();
    let hp = host.path().to_str().unwrap().to_string();
    for (dir, target) in [
        ("proc", hp.clone()),
        ("proc", "../../../../../../..".to_string()),
        ("sys", hp.clone()),
    ] {
        let b = Bundle::new(&["true"]);
        std::fs::remove_dir(b.rootfs().join(dir)).unwrap();
        symlink(&target, b.rootfs().join(dir)).unwrap();
        let (_, err, code) = b.run("symproc");
        assert_ne!(code, 0, "/{dir} -> {target} accepted");
        assert!(
            err.contains("must be mounted on a directory, not a symlink"),
            "{err}"
        );
        assert!(b.leftovers().is_empty());
        assert_eq!(host.entries(), [MARKER]);
        assert!(host_mounts_under(host.path()).is_empty());
    }
}

/// /dev/null and /dev/console planted as symlinks to host files (CVE-2025-31133: masks made
/// with a "/dev/null" that was a symlink; CVE-2025-52565: the console bind mount redirected).
/// A runtime following them would bind a device over, or the pty onto, the host file. minke
/// replaces the image's /dev/null with a fresh node (or, in a user namespace, binds onto the
/// resolved-in-root path), binds the console from the open pty onto the handle resolved in
/// the root, and masks only with a /dev/null it checked to be char 1:3.
#[test]
fn dev_null_and_console_symlinks_do_not_reach_the_host() {
    use std::os::unix::net::UnixListener;
    let host = HostDir::new();
    let null_target = host.path().join("null-target");
    let console_target = host.path().join("console-target");
    std::fs::write(&null_target, "precious\n").unwrap();
    std::fs::write(&console_target, "precious\n").unwrap();
    for userns in [false, true] {
        let mut b = Bundle::new(&[
            "sh",
            "-c",
            "stat -L -c '%F %t:%T' /dev/null; stat -L -c '%F %t' /dev/console; echo done",
        ]);
        // The image's own /dev, not a tmpfs, so that the planted links are what the runtime
        // finds.
        mounts(&mut b).retain(|m| m["destination"] != "/dev");
        b.config["root"]["readonly"] = json!(false);
        symlink(&null_target, b.rootfs().join("dev/null")).unwrap();
        symlink(&console_target, b.rootfs().join("dev/console")).unwrap();
        b.config["process"]["terminal"] = json!(true);
        if userns {
            b.config["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "user"}));
            b.config["linux"]["uidMappings"] =
                json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
            b.config["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
        }
        let sock = b.path().join("console.sock");
        let listener = UnixListener::bind(&sock).unwrap();
        let out = b.create("symdev", &["--console-socket", sock.to_str().unwrap()]);
        assert!(out.status.success(), "userns={userns}: {}", stderr(&out));
        let (conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        let (_, mut fds) = libcontainer::sys::recv_with_fds(conn.as_fd(), &mut buf)
            .unwrap()
            .expect("a pty master");
        let master = File::from(fds.pop().unwrap());
        assert!(b.cmd(&["start", "symdev"]).status.success());
        let mut text = String::new();
        let mut chunk = [0u8; 256];
        while !text.contains("done") {
            match std::io::Read::read(&mut &master, &mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => text.push_str(&String::from_utf8_lossy(&chunk[..n])),
            }
        }
        let text = text.replace('\r', "");
        let l: Vec<&str> = text.lines().collect();
        assert_eq!(
            l[0], "character special file 1:3",
            "userns={userns}: {text}"
        );
        // The console is the pty (a devpts character device, major 136..143).
        assert!(l[1].starts_with("character special file 8"), "{text}");
        b.wait_status("symdev", "stopped");
        for f in [&null_target, &console_target] {
            assert_eq!(std::fs::read_to_string(f).unwrap(), "precious\n");
        }
        assert!(host_mounts_under(host.path()).is_empty());
    }
}

/// Masked and read-only paths that are symlinks: to a host path (it resolves inside the
/// rootfs, where it does not exist: nothing to mask, the host file is untouched) and to a
/// magic link (`/proc/self/fd/1`, which a string-following runtime would resolve to one of its
/// own fds: refused).
#[test]
fn masked_and_readonly_paths_behind_planted_symlinks() {
    let host = HostDir::new();
    let secret = host.path().join(MARKER);
    let mut b = Bundle::new(&["true"]);
    symlink(&secret, b.rootfs().join("etc/masked")).unwrap();
    symlink(&secret, b.rootfs().join("etc/readonly")).unwrap();
    b.config["linux"]["maskedPaths"]
        .as_array_mut()
        .unwrap()
        .push(json!("/etc/masked"));
    b.config["linux"]["readonlyPaths"]
        .as_array_mut()
        .unwrap()
        .push(json!("/etc/readonly"));
    b.run_ok("symmask");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "precious\n");
    assert!(host_mounts_under(host.path()).is_empty());

    for field in ["maskedPaths", "readonlyPaths"] {
        let mut b = Bundle::new(&["true"]);
        symlink("/proc/self/fd/1", b.rootfs().join("etc/magic")).unwrap();
        b.config["linux"][field]
            .as_array_mut()
            .unwrap()
            .push(json!("/etc/magic"));
        let (_, err, code) = b.run("symmagic");
        assert_ne!(code, 0, "{field} through a magic link accepted");
        assert!(
            err.contains(&format!("linux.{field}: opening /etc/magic")),
            "{err}"
        );
        assert!(b.leftovers().is_empty());
    }
}

/// CVE-2025-52881: the file under the container's /proc/sys that a sysctl is written to is
/// replaced by another procfs file (here the config bind-mounts a decoy process's
/// oom_score_adj over /proc/sys/net/ipv4/ip_forward; in the CVE a racing container did it
/// with /proc/sys/kernel/core_pattern). Both are on procfs, so a filesystem-type check passes
/// and a runtime writing through the container's /proc writes "1" into the decoy. minke writes
/// sysctls through a private procfs instance, where the path is the real sysctl.
#[test]
fn sysctls_are_written_through_a_private_procfs() {
    let mut decoy = Command::new("sleep").arg("60").spawn().unwrap();
    let adj = format!("/proc/{}/oom_score_adj", decoy.id());
    let before = std::fs::read_to_string(&adj).unwrap();
    let mut b = Bundle::new(&["cat", "/proc/sys/net/ipv4/ip_forward"]);
    mounts(&mut b).push(json!({
        "destination": "/proc/sys/net/ipv4/ip_forward",
        "type": "bind", "source": adj, "options": ["bind"]
    }));
    b.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    let res = b.run("sysctl-decoy");
    let after = std::fs::read_to_string(&adj).unwrap();
    let _ = decoy.kill();
    let _ = decoy.wait();
    assert_eq!(res.2, 0, "{res:?}");
    assert_eq!(after, before, "the sysctl value was written into the decoy");
    // The container sees the decoy's file at that path, as configured.
    assert_eq!(res.0, before);
}

/// Inode checks before trusting a node: a /dev/null that is not char 1:3 never masks
/// anything (CVE-2025-31133), and a pty that is not on devpts is refused (CVE-2025-52565).
#[test]
fn dev_null_and_the_pty_are_checked_before_use() {
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["devices"] =
        json!([{"path": "/dev/null", "type": "c", "major": 1, "minor": 5}]);
    let (_, err, code) = b.run("fakenull");
    assert_ne!(code, 0);
    assert!(
        err.contains("linux.maskedPaths: /dev/null is not usable"),
        "{err}"
    );

    use std::os::unix::net::UnixListener;
    let mut b = Bundle::new(&["true"]);
    mounts(&mut b).retain(|m| m["destination"] != "/dev" && m["destination"] != "/dev/pts");
    b.config["root"]["readonly"] = json!(false);
    std::fs::write(b.rootfs().join("dev/ptmx"), "not a pty\n").unwrap();
    b.config["process"]["terminal"] = json!(true);
    let sock = b.path().join("console.sock");
    let _listener = UnixListener::bind(&sock).unwrap();
    let out = b.create("fakepty", &["--console-socket", sock.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("/dev/ptmx is not on the container's devpts"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("dev/ptmx")).unwrap(),
        "not a pty\n"
    );
}

// ---------------------------------------------------------------------------------------------
// PID reuse

/// Every command that reads or signals a container checks the init's start time: point the
/// state at a live process that is not the container (a decoy of ours, same uid) and no
/// command may report it alive, signal it, start, pause, resume, update or watch it, or kill
/// it on delete.
#[test]
fn no_command_takes_a_reused_pid_for_the_container() {
    let b = Bundle::new(&["sleep", "60"]);
    assert!(b.create("reuse", &[]).status.success());
    let path = b.root.join("reuse/state.json");
    let saved = std::fs::read(&path).unwrap();
    let mut st: Value = serde_json::from_slice(&saved).unwrap();
    // Start times count clock ticks (10 ms): a decoy started in the init's own tick would be
    // indistinguishable — which real pid reuse cannot produce (the pid space would have to
    // wrap within the tick). Take one from a later tick.
    let start_of = |pid: u32| -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        after.split(' ').nth(19).unwrap().parse().unwrap()
    };
    let init_start = st["pid_start_time"].as_u64().unwrap();
    let mut decoy = Command::new("sleep").arg("60").spawn().unwrap();
    while start_of(decoy.id()) == init_start {
        let _ = decoy.kill();
        let _ = decoy.wait();
        decoy = Command::new("sleep").arg("60").spawn().unwrap();
    }
    st["pid"] = json!(decoy.id());
    std::fs::write(&path, serde_json::to_vec(&st).unwrap()).unwrap();

    assert_eq!(b.status("reuse"), "stopped");
    for args in [
        &["kill", "reuse", "KILL"][..],
        &["kill", "--all", "reuse", "KILL"][..],
    ] {
        let out = b.cmd(args);
        assert!(!out.status.success(), "{args:?} accepted");
        assert!(
            stderr(&out).contains("container not running"),
            "{}",
            stderr(&out)
        );
    }
    let out = b.cmd(&["start", "reuse"]);
    assert!(stderr(&out).contains("cannot start a container that has stopped"));
    for (args, want) in [
        (&["pause", "reuse"][..], "container not running"),
        (&["resume", "reuse"][..], "container not paused"),
        (
            &["update", "--pids-limit", "10", "reuse"][..],
            "container not running",
        ),
        (&["events", "--stats", "reuse"][..], "is not running"),
    ] {
        let out = b.cmd(args);
        assert!(!out.status.success(), "{args:?} accepted");
        assert!(stderr(&out).contains(want), "{args:?}: {}", stderr(&out));
    }
    let list = stdout(&b.cmd(&["list", "--format", "json"]));
    assert!(list.contains("\"stopped\""), "{list}");
    assert_eq!(decoy.try_wait().unwrap(), None, "the decoy was signalled");

    // delete of a "stopped" container removes it without touching the decoy; put the real
    // state back first so that the real init is cleaned up by delete --force.
    std::fs::write(&path, &saved).unwrap();
    assert_eq!(b.status("reuse"), "created");
    assert!(b.cmd(&["delete", "--force", "reuse"]).status.success());
    assert_eq!(decoy.try_wait().unwrap(), None, "the decoy was signalled");
    let _ = decoy.kill();
    let _ = decoy.wait();
}

// ---------------------------------------------------------------------------------------------
// Privilege lowering order

/// What the process sees in /proc/self/status is the configured identity with nothing left
/// over, which is only possible in the order setgroups → setgid → setuid → capabilities →
/// no_new_privs → seccomp: the supplementary groups are set (setgroups needs CAP_SETGID,
/// gone after setuid), the capabilities survive the change to uid 1000 (applied after it,
/// with keepcaps), and the seccomp profile — which makes setgroups, setresgid, setresuid,
/// capset and prctl fail with EPERM — is in place yet did not stop any of them: it was
/// installed last.
#[test]
fn privileges_are_lowered_in_order() {
    let mut b = Bundle::new(&[
        "grep",
        "-E",
        "^(Uid|Gid|Groups|Cap...|NoNewPrivs|Seccomp):",
        "/proc/self/status",
    ]);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20]});
    let caps = json!(["CAP_NET_BIND_SERVICE", "CAP_KILL"]);
    b.config["process"]["capabilities"] = json!({
        "bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps, "ambient": caps
    });
    b.config["process"]["noNewPrivileges"] = json!(true);
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{
            "names": ["setgroups", "setresgid", "setresuid", "setgid", "setuid", "capset", "prctl"],
            "action": "SCMP_ACT_ERRNO", "errnoRet": 1
        }]
    });
    let out = b.run_ok("privs");
    let field = |name: &str| -> String {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("{name} missing: {out}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(field("Uid"), "1000 1000 1000 1000");
    assert_eq!(field("Gid"), "1000 1000 1000 1000");
    assert_eq!(field("Groups"), "10 20");
    // CAP_KILL (5) and CAP_NET_BIND_SERVICE (10).
    let mask = format!("{:016x}", (1u64 << 5) | (1u64 << 10));
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(field(set), mask, "{set}: {out}");
    }
    assert_eq!(field("NoNewPrivs"), "1");
    assert_eq!(field("Seccomp"), "2");

    // Without no_new_privs the kernel takes the filter only from a task with CAP_SYS_ADMIN, so
    // it goes in before the user change (as with runc), and this profile then stops setgroups:
    // a clear error (at the first of those calls, the bounding-set drop), not a process
    // running with more privileges than configured.
    b.config["process"]["noNewPrivileges"] = json!(false);
    let (_, err, code) = b.run("privs2");
    assert_ne!(code, 0);
    assert!(
        err.contains("process.capabilities: dropping") && err.contains("Operation not permitted"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// The runtime binary (CVE-2019-5736)

/// A copy of the minke binary in a temp dir, used as the runtime under test so that an attack
/// that succeeds overwrites the copy, not the build's binary.
struct RuntimeCopy {
    _dir: tempfile::TempDir,
    path: PathBuf,
    original: Vec<u8>,
}

impl RuntimeCopy {
    fn new() -> RuntimeCopy {
        let dir = tempfile::Builder::new()
            .prefix("minke-exe-")
            .tempdir()
            .unwrap();
        let path = dir.path().join("minke");
        std::fs::copy(MINKE, &path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let original = std::fs::read(&path).unwrap();
        RuntimeCopy {
            _dir: dir,
            path,
            original,
        }
    }
    fn unchanged(&self) -> bool {
        std::fs::read(&self.path).unwrap() == self.original
    }
}

/// The worst case of CVE-2019-5736: a startContainer hook runs in the container with every
/// capability (CAP_SYS_PTRACE included) while the init is still the runtime binary. It opens
/// /proc/1/exe, keeps the fd in a background process, and tries to reopen it for writing
/// (through /proc/self/fd) until that stops failing with ETXTBSY — which, against a runtime
/// executed from its host file, happens as soon as the last runtime process exits, and the
/// host binary is overwritten. minke runs from a read-only overlay view of its binary, so the
/// reopen fails with EROFS and the host file stays as it was.
#[test]
fn runtime_binary_cannot_be_overwritten_from_the_container() {
    let rt = RuntimeCopy::new();
    let mut b = Bundle::new(&["sleep", "60"]);
    b.runtime = rt.path.to_str().unwrap().to_string();
    std::fs::create_dir(b.rootfs().join("attack")).unwrap();
    start_hook(
        &mut b,
        // The hook opens /proc/1/exe itself, while the init (pid 1) is still the runtime, and
        // leaves the fd to a background process that outlives the runtime.
        r#"cat /proc/1/exe > /dev/null 2>&1 || { echo open-refused > /attack/result; exit 0; }
        exec 3</proc/1/exe
        readlink /proc/$$/fd/3 > /attack/opened
        busybox setsid sh -c '
          while :; do
            if printf PWNED 2>/attack/err >/proc/self/fd/3; then echo overwritten > /attack/result; exit 0; fi
            grep -q "busy" /attack/err || break
            sleep 0.02
          done
          echo "write-refused: $(cat /attack/err)" > /attack/result
        ' </dev/null >/dev/null 2>&1 &"#,
    );
    assert!(b.create("exe", &[]).status.success());
    let out = b.cmd(&["start", "exe"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let result = wait_for_file(&b.rootfs().join("attack/result"), Duration::from_secs(30));
    // What the attack holds is the runtime's binary (through the overlay: "/minke").
    let opened = std::fs::read_to_string(b.rootfs().join("attack/opened")).unwrap_or_default();
    assert!(
        opened.trim_end().ends_with("/minke"),
        "the attack did not get hold of the runtime binary ({opened:?}): {result}"
    );
    assert!(
        rt.unchanged(),
        "the runtime binary was overwritten: {result}"
    );
    assert!(
        result.starts_with("write-refused") && result.contains("Read-only file system"),
        "{result}"
    );
}

/// The first layer: the runtime is non-dumpable before it forks into the container, so a
/// container process without CAP_SYS_PTRACE over the runtime cannot open the created init's
/// /proc/<pid>/exe, environ or fd/. The process here is a startContainer hook in a user
/// namespace that maps container root to host root: same uid as the init, all capabilities —
/// but only inside the user namespace. Against a dumpable init the same uid is enough and all
/// three open (the init keeps its uid, so nothing else would make it non-dumpable).
#[test]
fn the_init_is_not_dumpable_before_exec() {
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
    let attack = b.rootfs().join("attack");
    std::fs::create_dir(&attack).unwrap();
    start_hook(
        &mut b,
        "for f in exe environ; do if cat /proc/1/$f > /dev/null 2>/dev/null; then echo \"$f readable\"; \
         else echo \"$f refused\"; fi; done > /attack/result; \
         if readlink /proc/1/fd/0 > /dev/null 2>&1; then echo 'fd readable'; else echo 'fd refused'; fi >> /attack/result",
    );
    assert!(b.create("dump", &[]).status.success());
    assert!(b.cmd(&["start", "dump"]).status.success());
    let result = std::fs::read_to_string(attack.join("result")).unwrap();
    assert_eq!(result, "exe refused\nenviron refused\nfd refused\n");
}
