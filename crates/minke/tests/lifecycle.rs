//! Root integration tests: the lifecycle as containerd and admins drive it, state, errors.

mod common;

use std::process::Command;

use common::*;
use serde_json::json;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn containerd_style_drive() {
    let b = Bundle::new(&["sleep", "60"]);
    let pid_file = b.path().join("init.pid");
    let pf = pid_file.to_str().unwrap();
    let out = b.create("c1", &["--pid-file", pf]);
    assert!(out.status.success(), "create: {}", stderr(&out));
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert!(!pid.ends_with('\n'), "pid file must be bare digits");
    let state = b.state("c1").unwrap();
    assert_eq!(state["status"], "created");
    assert_eq!(state["pid"].to_string(), pid);
    assert_eq!(state["id"], "c1");
    assert_eq!(state["ociVersion"], "1.3.0");
    assert_eq!(state["bundle"], b.path().to_str().unwrap());
    // The init waits in its namespaces: its pid namespace differs from ours already.
    assert_ne!(ns_inode(&pid, "pid_for_children"), ns_inode("self", "pid"));

    let out = b.cmd(&["start", "c1"]);
    assert!(out.status.success(), "start: {}", stderr(&out));
    assert_eq!(b.status("c1"), "running");
    let out = b.cmd(&["start", "c1"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("cannot start an already running container"));

    let out = b.cmd(&["delete", "c1"]);
    assert!(
        !out.status.success(),
        "delete of a running container must fail"
    );
    assert!(stderr(&out).contains("cannot delete container c1 that is not stopped: running"));

    let out = b.cmd(&["kill", "c1", "9"]);
    assert!(out.status.success(), "kill: {}", stderr(&out));
    b.wait_status("c1", "stopped");
    assert_eq!(b.state("c1").unwrap()["pid"], 0);
    let out = b.cmd(&["kill", "c1", "KILL"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("container not running"),
        "{}",
        stderr(&out)
    );
    let out = b.cmd(&["start", "c1"]);
    assert!(stderr(&out).contains("cannot start a container that has stopped"));

    let out = b.cmd(&["delete", "c1"]);
    assert!(out.status.success(), "delete: {}", stderr(&out));
    assert!(b.leftovers().is_empty());
    let out = b.cmd(&["state", "c1"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("container does not exist"));
}

#[test]
fn exited_container_is_reported_stopped_without_any_call() {
    let b = Bundle::new(&["true"]);
    assert!(b.create("c", &[]).status.success());
    assert!(b.cmd(&["start", "c"]).status.success());
    b.wait_status("c", "stopped");
    assert!(b.cmd(&["delete", "c"]).status.success());
}

#[test]
fn kill_signal_names_and_created_containers() {
    let b = Bundle::new(&["sleep", "60"]);
    for (i, sig) in ["TERM", "SIGTERM", "15", "sigterm"].iter().enumerate() {
        let id = format!("k{i}");
        assert!(b.create(&id, &[]).status.success());
        // A created container (init still waiting for start) dies from SIGTERM, as with runc.
        let out = b.cmd(&["kill", &id, sig]);
        assert!(out.status.success(), "kill {sig}: {}", stderr(&out));
        b.wait_status(&id, "stopped");
        assert!(b.cmd(&["delete", &id]).status.success());
    }
    assert!(b.create("k", &[]).status.success());
    let out = b.cmd(&["kill", "k", "FOO"]);
    assert!(!out.status.success());
    // logrus text format escapes the quotes.
    assert!(
        stderr(&out).contains(r#"unknown signal \"FOO\""#),
        "{}",
        stderr(&out)
    );
    // runtime.md: delete of a container that is not stopped fails — `created` included — and
    // has no effect; --force kills it first.
    let out = b.cmd(&["delete", "k"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("cannot delete container k that is not stopped: created"));
    assert_eq!(b.status("k"), "created");
    assert!(b.cmd(&["delete", "--force", "k"]).status.success());
    assert!(b.leftovers().is_empty());
}

#[test]
fn delete_force_kills_a_running_container() {
    let b = Bundle::new(&["sleep", "60"]);
    assert!(b.create("f", &[]).status.success());
    let pid = b.state("f").unwrap()["pid"].as_i64().unwrap();
    assert!(b.cmd(&["start", "f"]).status.success());
    let out = b.cmd(&["delete", "--force", "f"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(b.leftovers().is_empty());
    // The init is gone (or a zombie waiting for its reaper).
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z"),
        "init still alive: {stat}"
    );
}

#[test]
fn duplicate_and_invalid_ids() {
    let b = Bundle::new(&["sleep", "60"]);
    assert!(b.create("dup", &[]).status.success());
    let out = b.create("dup", &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("container with id dup already exists"),
        "{}",
        stderr(&out)
    );
    // The first container is untouched.
    assert_eq!(b.status("dup"), "created");
    for bad in ["a/b", "..", ""] {
        let out = b.create(bad, &[]);
        assert!(!out.status.success(), "id {bad:?} accepted");
        assert!(
            stderr(&out).contains("invalid container id"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(b.leftovers(), vec!["dup".to_string()]);
    for cmd in ["state", "start", "kill", "delete"] {
        let out = b.cmd(&[cmd, "nosuch"]);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("container does not exist"),
            "{cmd}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn list_shows_containers() {
    let b = Bundle::new(&["sleep", "60"]);
    let out = b.cmd(&["list", "--format", "json"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "null");
    assert!(b.create("l1", &[]).status.success());
    assert!(b.create("l2", &[]).status.success());
    let out = b.cmd(&["list", "-q"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "l1\nl2\n");
    let out = b.cmd(&["list", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[0]["status"], "created");
    assert_eq!(v[0]["owner"], "root");
    let out = b.cmd(&["list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("ID          PID         STATUS      BUNDLE"),
        "{text}"
    );
}

#[test]
fn run_exit_status_and_signals() {
    let b = Bundle::new(&["sh", "-c", "exit 7"]);
    let (_, _, code) = b.run("r1");
    assert_eq!(code, 7);
    assert!(
        b.leftovers().is_empty(),
        "run without --keep deletes the container"
    );

    // A signal sent to the foreground runtime reaches the container's process.
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "trap 'echo got-term; exit 3' TERM; echo ready; while true; do sleep 0.05; done",
    ]);
    b.write();
    let mut child = Command::new(MINKE)
        .arg("--root")
        .arg(&b.root)
        .args(["run", "--bundle", b.path().to_str().unwrap(), "r2"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut buf = [0u8; 6];
    std::io::Read::read_exact(&mut out, &mut buf).unwrap();
    assert_eq!(&buf, b"ready\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert_eq!(rest, "got-term\n");
    assert_eq!(status.code(), Some(3));

    // Killed by a signal (outside a pid namespace: pid 1 of a namespace ignores its own kill).
    b.config["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "uts"}]);
    b.config["process"]["args"] = json!(["sh", "-c", "kill -KILL $$"]);
    let (_, _, code) = b.run("r3");
    assert_eq!(code, 128 + 9);
}

#[test]
fn run_detached_and_keep() {
    let b = Bundle::new(&["sleep", "60"]);
    let bp = b.path().to_str().unwrap().to_string();
    let out = b.cmd(&["run", "-d", "--bundle", &bp, "d1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(b.status("d1"), "running");
    let mut b2 = Bundle::new(&["true"]);
    b2.config["process"]["args"] = json!(["true"]);
    let bp2 = b2.path().to_str().unwrap().to_string();
    let out = b2.cmd(&["run", "--keep", "--bundle", &bp2, "k1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(b2.status("k1"), "stopped");
}

#[test]
fn init_failure_reports_cause_and_leaves_nothing() {
    let mut b = Bundle::new(&["nonexistent-binary"]);
    let out = b.create("e1", &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("exec: \\\"nonexistent-binary\\\": executable file not found in $PATH"),
        "{err}"
    );
    assert!(b.leftovers().is_empty(), "left behind: {:?}", b.leftovers());
    // A mount that fails inside the init: the whole chain reaches the caller.
    b.config["process"]["args"] = json!(["true"]);
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/bad", "type": "nosuchfs", "source": "none"}));
    let out = b.create("e2", &[]);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("unable to start container process"), "{err}");
    assert!(err.contains("mounts[7]: mounting none on /bad"), "{err}");
    assert!(err.contains("No such device"), "{err}");
    assert!(b.leftovers().is_empty());
}

#[test]
fn json_log_last_line_is_the_error() {
    let b = Bundle::new(&["true"]);
    let log = b.path().join("log.json");
    b.write();
    let out = Command::new(MINKE)
        .arg("--root")
        .arg(&b.root)
        .arg("--log")
        .arg(&log)
        .args(["--log-format", "json", "kill", "nosuch", "9"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "error");
    assert_eq!(last["msg"], "container does not exist");
    assert!(last["time"].as_str().unwrap().ends_with('Z'));
    // With a log file, stderr still gets the plain message (podman reads it).
    assert_eq!(stderr(&out).trim(), "container does not exist");
}

#[test]
fn bad_configs_are_refused_and_leave_nothing() {
    // `shared/` beside the project's root, as on every development and CI machine.
    let dir = shared_dir().join("runtime-spec/schema/test/config/bad");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("the spec's bad configs") {
        let path = entry.unwrap().path();
        let b = Bundle::new(&["true"]);
        std::fs::write(b.path().join("config.json"), std::fs::read(&path).unwrap()).unwrap();
        let out = Command::new(MINKE)
            .arg("--root")
            .arg(&b.root)
            .args(["create", "--bundle", b.path().to_str().unwrap(), "bad"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{} accepted", path.display());
        let err = stderr(&out);
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(
            b.leftovers().is_empty(),
            "{} left state behind",
            path.display()
        );
        seen += 1;
    }
    assert!(seen >= 4);
    // A missing rootfs, a missing bundle, and an invalid field each name what is wrong.
    let mut b = Bundle::new(&["true"]);
    b.config["root"]["path"] = json!("nope");
    let err = stderr(&b.create("x", &[]));
    assert!(
        err.contains("root.path") && err.contains("no such file or directory"),
        "{err}"
    );
    b.config["root"]["path"] = json!("rootfs");
    b.config["process"]["args"] = json!([]);
    let err = stderr(&b.create("x", &[]));
    assert!(err.contains("process.args: must not be empty"), "{err}");
    b.config["process"]["args"] = json!(["true"]);
    b.config["linux"]["resources"] = json!({"hugepageLimits": [{"pageSize": "64kB", "limit": 1}]});
    let err = stderr(&b.create("x", &[]));
    assert!(
        err.contains("linux.resources.hugepageLimits[0].pageSize"),
        "{err}"
    );
    let out = b.cmd(&["create", "--bundle", "/nonexistent/bundle", "x"]);
    assert!(stderr(&out).contains("bundle /nonexistent/bundle"));
    assert!(b.leftovers().is_empty());
}

#[test]
fn pid_reuse_is_not_taken_for_the_container() {
    let b = Bundle::new(&["true"]);
    assert!(b.create("p", &[]).status.success());
    assert!(b.cmd(&["start", "p"]).status.success());
    b.wait_status("p", "stopped");
    // Point the state at a live process that is not the container (our own pid): the start
    // time differs, so the container must still be reported stopped and not be signalled.
    let path = b.root.join("p/state.json");
    let mut st: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    st["pid"] = json!(std::process::id());
    std::fs::write(&path, serde_json::to_vec(&st).unwrap()).unwrap();
    assert_eq!(b.status("p"), "stopped");
    let out = b.cmd(&["kill", "p", "KILL"]);
    assert!(stderr(&out).contains("container not running"));
    assert!(b.cmd(&["delete", "p"]).status.success());
}

#[test]
fn usage_errors_reach_the_log_and_force_delete_of_nothing_succeeds() {
    let b = Bundle::new(&["true"]);
    let log = b.path().join("usage.json");
    let out = Command::new(MINKE)
        .arg("--root")
        .arg(&b.root)
        .arg("--log")
        .arg(&log)
        .args(["--log-format", "json", "bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(&log).expect("the usage error is logged");
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "error");
    assert!(last["msg"].as_str().unwrap().contains("bogus"), "{last}");
    // As runc: `delete --force` of a container that does not exist succeeds; without --force
    // it is an error.
    assert!(b.cmd(&["delete", "--force", "nosuch"]).status.success());
    let out = b.cmd(&["delete", "nosuch"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("container does not exist"));
}
