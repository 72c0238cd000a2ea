//! Root integration tests: what the process inside sees — namespaces, root filesystem, mounts,
//! /dev, hostname, process settings, file descriptors, terminal.

mod common;

use std::process::{Command, Stdio};

use common::*;
use serde_json::json;

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

#[test]
fn output_matches_runc() {
    let mut b = Bundle::new(&["sh", "-c", "hostname; id; grep Cap /proc/self/status"]);
    let minke = b.run_ok("m");
    b.runtime = "runc".into();
    let runc = b.run_ok("r");
    assert_eq!(minke, runc);
    assert!(
        minke.starts_with("minke\nuid=0 gid=0\nCapInh:\t0000000000000000\n"),
        "{minke}"
    );
}

#[test]
fn every_namespace_is_new() {
    let b = Bundle::new(&[
        "sh",
        "-c",
        "for n in pid net ipc uts mnt cgroup user; do readlink /proc/self/ns/$n; done",
    ]);
    let mut b = b;
    b.config["linux"]["namespaces"] = json!([
        {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"},
        {"type": "mount"}, {"type": "cgroup"}, {"type": "user"}
    ]);
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    // sysfs needs no change: the network namespace is the container's own.
    let out = b.run_ok("ns");
    let inside = lines(&out);
    for (i, n) in ["pid", "net", "ipc", "uts", "mnt", "cgroup", "user"]
        .iter()
        .enumerate()
    {
        assert_ne!(
            inside[i],
            ns_inode("self", n),
            "{n} namespace is the host's"
        );
    }
}

#[test]
fn user_namespace_mappings() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "id; cat /proc/self/uid_map /proc/self/gid_map; stat -c '%u %g' /bin/busybox",
    ]);
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 1000}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 1000}]);
    let out = b.run_ok("u");
    let l = lines(&out);
    assert_eq!(l[0], "uid=0 gid=0");
    assert_eq!(
        l[1].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "1000"]
    );
    assert_eq!(
        l[2].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "1000"]
    );
    // Host root's files are not mapped: they show as the overflow id.
    assert_eq!(l[3], "65534 65534");
}

#[test]
fn joined_namespace_by_path_and_time_offsets() {
    // A network namespace to join, held by a sleeping process of ours.
    let mut holder = Command::new("unshare")
        .args(["--net", "sleep", "60"])
        .spawn()
        .expect("unshare");
    let path = format!("/proc/{}/ns/net", holder.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ns_inode(&holder.id().to_string(), "net") == ns_inode("self", "net") {
        assert!(
            std::time::Instant::now() < deadline,
            "unshare did not create a namespace"
        );
        std::thread::yield_now();
    }
    let want = ns_inode(&holder.id().to_string(), "net");
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "readlink /proc/self/ns/net; echo $$; cut -d' ' -f1 /proc/uptime",
    ]);
    b.config["linux"]["namespaces"] = json!([
        {"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"},
        {"type": "network", "path": path}, {"type": "time"}
    ]);
    b.config["linux"]["timeOffsets"] =
        json!({"boottime": {"secs": 864000}, "monotonic": {"secs": 3600}});
    // cut is not in our applet list: use busybox directly.
    b.config["process"]["args"] = json!([
        "sh",
        "-c",
        "readlink /proc/self/ns/net; echo $$; busybox cut -d' ' -f1 /proc/uptime"
    ]);
    let out = b.run_ok("j");
    let l = lines(&out);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(l[0], want, "joined network namespace");
    assert_eq!(l[1], "1", "the init is pid 1 of a new pid namespace");
    let uptime: f64 = l[2].parse().unwrap();
    let host: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        uptime > host + 863000.0,
        "boottime offset not applied: {uptime} vs {host}"
    );
}

#[test]
fn rootfs_readonly_and_relative_or_absolute_path() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "touch /x 2>&1 || echo ro; touch /tmp/y && echo tmp-rw",
    ]);
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
    let out = b.run_ok("ro");
    assert!(out.contains("ro\n") && out.contains("tmp-rw"), "{out}");
    b.config["root"] = json!({"path": b.rootfs().to_str().unwrap(), "readonly": false});
    b.config["process"]["args"] = json!(["sh", "-c", "touch /x && echo rw"]);
    assert_eq!(b.run_ok("rw"), "rw\n");
    assert!(b.rootfs().join("x").exists());
}

#[test]
fn mounts_options_binds_and_relative_destination() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "grep -E ' /(data|one|rel|opts) ' /proc/self/mountinfo; cat /one; ls /data",
    ]);
    let host_dir = b.path().join("hostdir");
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::write(host_dir.join("f"), "x").unwrap();
    std::fs::write(b.path().join("onefile"), "hello\n").unwrap();
    let onefile = b.path().join("onefile");
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/data", "source": "hostdir", "options": ["rbind", "ro"]}));
    mounts.push(json!({"destination": "/one", "source": onefile, "options": ["bind"]}));
    mounts.push(json!({"destination": "rel", "type": "tmpfs", "source": "tmpfs"}));
    mounts.push(json!({"destination": "/opts", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "noexec", "mode=700", "size=1m"]}));
    let out = b.run_ok("m");
    let find = |mp: &str| {
        out.lines()
            .find(|l| l.split(' ').nth(4) == Some(mp))
            .unwrap_or_else(|| panic!("{mp} not mounted: {out}"))
            .to_string()
    };
    assert!(
        find("/data").split(' ').nth(5).unwrap().starts_with("ro"),
        "{out}"
    );
    find("/one");
    find("/rel");
    let opts = find("/opts");
    assert!(opts.contains("nosuid,nodev,noexec"), "{opts}");
    assert!(
        opts.contains("mode=700") && opts.contains("size=1024k"),
        "{opts}"
    );
    assert!(out.contains("hello\n") && out.contains("f\n"), "{out}");
}

#[test]
fn dev_has_default_devices_and_links() {
    let b = Bundle::new(&["sh", "-c", "for d in null zero full random urandom tty; do stat -c '%n %F %t:%T %a' /dev/$d; done; for l in fd stdin stdout stderr ptmx; do echo $l $(readlink /dev/$l); done; grep -E ' /dev/(pts|shm|mqueue) ' /proc/self/mountinfo | wc -l"]);
    let out = b.run_ok("d");
    let l = lines(&out);
    let want = [
        ("null", "1:3"),
        ("zero", "1:5"),
        ("full", "1:7"),
        ("random", "1:8"),
        ("urandom", "1:9"),
        ("tty", "5:0"),
    ];
    for (i, (name, dev)) in want.iter().enumerate() {
        assert_eq!(
            l[i],
            format!("/dev/{name} character special file {dev} 666")
        );
    }
    assert_eq!(l[6], "fd /proc/self/fd");
    assert_eq!(l[7], "stdin /proc/self/fd/0");
    assert_eq!(l[8], "stdout /proc/self/fd/1");
    assert_eq!(l[9], "stderr /proc/self/fd/2");
    assert_eq!(l[10], "ptmx pts/ptmx");
    assert_eq!(l[11], "3");
}

#[test]
fn hostname_env_cwd_and_user() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "hostname; echo $FOO; echo $HOME; pwd; id; umask",
    ]);
    b.config["hostname"] = json!("box1");
    b.config["process"]["env"] = json!(["PATH=/bin", "FOO=bar baz"]);
    b.config["process"]["cwd"] = json!("/work/dir");
    b.config["process"]["user"] =
        json!({"uid": 1234, "gid": 567, "additionalGids": [8, 9], "umask": 63});
    let out = b.run_ok("u");
    assert_eq!(
        out,
        "box1\nbar baz\n/\n/work/dir\nuid=1234 gid=567 groups=8,9\n0077\n"
    );
}

#[test]
fn only_stdio_and_preserved_fds_reach_the_process() {
    let b = Bundle::new(&["ls", "/proc/self/fd"]);
    b.write();
    // Hand the runtime an inherited fd 3 (as shims do with their sockets) through a shell.
    let run = |extra: &str| {
        let script = format!(
            "exec 3</etc/hostname; exec {MINKE} --root {} run {extra} --bundle {} fds",
            b.root.display(),
            b.path().display()
        );
        let out = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // ls itself opens the directory, as fd 3: the leaked fd 3 did not reach it.
    assert_eq!(lines(&run("")), ["0", "1", "2", "3"]);
    // The preserved fd 3 is passed; ls then opens 4.
    assert_eq!(lines(&run("--preserve-fds 1")), ["0", "1", "2", "3", "4"]);
}

#[test]
fn no_pivot_works() {
    // With MS_MOVE + chroot the root mount is the rootfs moved onto "/", as with runc.
    let b = Bundle::new(&[
        "sh",
        "-c",
        "ls /bin/busybox && awk '$5 == \"/\" { print $4 }' /proc/self/mountinfo",
    ]);
    let bp = b.path().to_str().unwrap().to_string();
    let out = b.cmd(&["run", "--no-pivot", "--bundle", &bp, "np"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("/bin/busybox\n{}\n", b.rootfs().display())
    );
}

#[test]
fn terminal_with_console_socket() {
    use std::os::unix::net::UnixListener;
    let mut b = Bundle::new(&["sh", "-c", "tty; stty size"]);
    b.config["process"]["terminal"] = json!(true);
    b.config["process"]["consoleSize"] = json!({"height": 33, "width": 111});
    let sock = b.path().join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let out = b.create("t", &["--console-socket", sock.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (conn, _) = listener.accept().unwrap();
    let mut buf = [0u8; 64];
    let (n, mut fds) = libcontainer::sys::recv_with_fds(std::os::fd::AsFd::as_fd(&conn), &mut buf)
        .unwrap()
        .expect("a message on the console socket");
    let name = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(name.starts_with("/dev/pts/"), "{name}");
    let master = std::fs::File::from(fds.pop().expect("the pty master was sent"));
    assert!(b.cmd(&["start", "t"]).status.success());
    let mut text = String::new();
    let mut chunk = [0u8; 256];
    loop {
        match std::io::Read::read(&mut &master, &mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&chunk[..n])),
        }
    }
    assert_eq!(text.replace('\r', ""), format!("{name}\n33 111\n"));
    b.wait_status("t", "stopped");
}
