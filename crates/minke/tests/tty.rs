//! Root integration tests of the foreground terminal: `run` with `process.terminal` and no
//! console socket, and `exec --tty`, driven through a pseudo-terminal the test owns. minke runs
//! on the pty's slave (as its stdio and controlling terminal, through `setsid --ctty`); the test
//! reads and writes the master like a terminal emulator, resizes it, and checks that minke put
//! the terminal in raw mode, passed the new size on, and restored the settings at the end.

mod common;

use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use libcontainer::sys::{set_winsize, WinSize};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{tcgetattr, LocalFlags, Termios};
use serde_json::json;

struct Pty {
    master: OwnedFd,
    slave: OwnedFd,
}

fn pty(rows: u16, cols: u16) -> Pty {
    let r = nix::pty::openpty(None, None).expect("openpty");
    // openpty leaves both ends inheritable: keep them out of the other tests' runtimes.
    for fd in [&r.master, &r.slave] {
        nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )
        .unwrap();
    }
    set_winsize(r.master.as_fd(), WinSize { rows, cols }).unwrap();
    Pty {
        master: r.master,
        slave: r.slave,
    }
}

/// minke with `args`, on the pty's slave, in its own session with the slave as its
/// controlling terminal (so that resizing the pty sends it SIGWINCH).
fn spawn_on(p: &Pty, b: &Bundle, args: &[&str]) -> Child {
    let slave = || Stdio::from(p.slave.try_clone().unwrap());
    Command::new("setsid")
        .arg("--ctty")
        .arg(MINKE)
        .arg("--root")
        .arg(&b.root)
        .args(args)
        .current_dir(b.path())
        .stdin(slave())
        .stdout(slave())
        .stderr(slave())
        .spawn()
        .expect("setsid minke")
}

/// Read the master into `acc` until it contains `want` (10 s at most).
fn read_until(master: &OwnedFd, acc: &mut String, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !acc.contains(want) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "waited for {want:?}, got {acc:?}");
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        let ms = PollTimeout::try_from(left.as_millis().min(1000) as i32).unwrap();
        if poll(&mut fds, ms).unwrap() == 0 {
            continue;
        }
        let mut buf = [0u8; 4096];
        match nix::unistd::read(master.as_fd(), &mut buf) {
            Ok(0) | Err(nix::errno::Errno::EIO) => panic!("end of output before {want:?}: {acc:?}"),
            Ok(n) => acc.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => panic!("reading the pty: {e}"),
        }
    }
}

fn flags(t: &Termios) -> (u32, u32, u32) {
    (
        t.input_flags.bits(),
        t.output_flags.bits(),
        t.local_flags.bits(),
    )
}

/// Drive a process that prints its terminal size, reads a line, prints the size again: the
/// size comes from our terminal, a resize reaches it, input reaches it, the exit status and
/// the terminal settings come back.
fn drive(p: &Pty, mut child: Child) -> String {
    let before = tcgetattr(p.slave.as_fd()).unwrap();
    let mut out = String::new();
    read_until(&p.master, &mut out, "size:24 80");
    let during = tcgetattr(p.slave.as_fd()).unwrap();
    assert!(
        !during.local_flags.contains(LocalFlags::ICANON)
            && !during.local_flags.contains(LocalFlags::ECHO),
        "the caller's terminal is in raw mode while the container runs"
    );
    // The resize sends minke SIGWINCH before the input below is written: minke handles the
    // signal before the input, so the container sees the new size after its read.
    set_winsize(
        p.master.as_fd(),
        WinSize {
            rows: 40,
            cols: 120,
        },
    )
    .unwrap();
    nix::unistd::write(&p.master, b"hello\n").unwrap();
    read_until(&p.master, &mut out, "got:hello");
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(3),
        "the container's exit status: {out:?}"
    );
    let after = tcgetattr(p.slave.as_fd()).unwrap();
    assert_eq!(flags(&after), flags(&before), "terminal settings restored");
    out
}

const SCRIPT: &str = "echo size:$(stty size); read x; echo size:$(stty size); echo got:$x; exit 3";

#[test]
fn foreground_run_with_a_terminal() {
    let mut b = Bundle::new(&["sh", "-c", SCRIPT]);
    b.config["process"]["terminal"] = json!(true);
    b.write();
    let p = pty(24, 80);
    let bundle = b.path().to_str().unwrap().to_string();
    let child = spawn_on(&p, &b, &["run", "--bundle", &bundle, "tt"]);
    let out = drive(&p, child);
    assert!(
        out.contains("size:40 120"),
        "the resize reached the container: {out:?}"
    );
    assert!(b.leftovers().is_empty(), "run deleted the container");
}

#[test]
fn foreground_exec_with_a_terminal() {
    let b = Bundle::new(&["sleep", "60"]);
    assert!(b.create("te", &[]).status.success());
    assert!(b.cmd(&["start", "te"]).status.success());
    let p = pty(24, 80);
    let child = spawn_on(&p, &b, &["exec", "-t", "te", "sh", "-c", SCRIPT]);
    let out = drive(&p, child);
    assert!(
        out.contains("size:40 120"),
        "the resize reached the process: {out:?}"
    );
    assert_eq!(b.status("te"), "running");
}

#[test]
fn foreground_terminal_without_a_caller_terminal() {
    // stdin and stdout are pipes: no raw mode, no size to copy; the pty still carries the
    // output (with the terminal's \r\n) and the status comes back.
    let mut b = Bundle::new(&["sh", "-c", "tty; stty size; exit 5"]);
    b.config["process"]["terminal"] = json!(true);
    b.config["process"]["consoleSize"] = json!({"height": 12, "width": 34});
    b.write();
    let bundle = b.path().to_str().unwrap().to_string();
    let out = Command::new(MINKE)
        .arg("--root")
        .arg(&b.root)
        .args(["run", "--bundle", &bundle, "tp"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|c| c.wait_with_output())
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    let l: Vec<&str> = text.lines().collect();
    assert!(l[0].starts_with("/dev/pts/"), "{text:?}");
    assert_eq!(
        l[1], "12 34",
        "consoleSize applies when the caller has no terminal"
    );
    // A console socket in the foreground is refused, as runc does.
    let out = b.cmd(&[
        "run",
        "--console-socket",
        "/tmp/x.sock",
        "--bundle",
        &bundle,
        "tq",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("cannot use console socket if minke will not detach or allocate tty"));
}
