//! Root integration tests, one per config.json field (issue "every field of config.json"):
//! each sets the field, runs a container, and checks what the process inside sees. Where
//! Debian's runc 1.1.5 implements the field, the same check runs against runc too
//! (`on_both`), so the expectation itself is confirmed.

mod common;

use std::process::Command;

use common::*;
use serde_json::{json, Value};

/// Run the bundle with minke and with runc; both must succeed with the same stdout.
fn on_both(b: &mut Bundle, id: &str) -> String {
    let minke = b.run_ok(&format!("{id}-m"));
    b.runtime = "runc".into();
    let runc = b.run_ok(&format!("{id}-r"));
    b.runtime = MINKE.into();
    assert_eq!(minke, runc, "minke and runc disagree");
    minke
}

fn mounts(b: &mut Bundle) -> &mut Vec<Value> {
    b.config["mounts"].as_array_mut().unwrap()
}

fn namespaces(b: &mut Bundle) -> &mut Vec<Value> {
    b.config["linux"]["namespaces"].as_array_mut().unwrap()
}

fn expect_create_error(b: &Bundle, contains: &str) {
    let out = b.create("bad", &[]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "accepted; expected error with {contains:?}"
    );
    assert!(err.contains(contains), "{err}");
    assert!(b.leftovers().is_empty(), "left behind: {:?}", b.leftovers());
}

#[test]
fn capabilities_each_set() {
    let mut b = Bundle::new(&["grep", "Cap", "/proc/self/status"]);
    b.config["process"]["capabilities"] = json!({
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETPCAP"],
        "effective": ["CAP_KILL", "CAP_CHOWN"],
        "permitted": ["CAP_KILL", "CAP_CHOWN"],
        "inheritable": ["CAP_KILL"],
        "ambient": ["CAP_KILL"]
    });
    let out = on_both(&mut b, "caps");
    assert_eq!(
        out,
        "CapInh:\t0000000000000020\nCapPrm:\t0000000000000021\nCapEff:\t0000000000000021\nCapBnd:\t0000000000002121\nCapAmb:\t0000000000000020\n"
    );
}

#[test]
fn capabilities_for_a_non_root_user() {
    let mut b = Bundle::new(&["grep", "Cap", "/proc/self/status"]);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.config["process"]["capabilities"] = json!({
        "bounding": ["CAP_NET_BIND_SERVICE"], "effective": ["CAP_NET_BIND_SERVICE"],
        "permitted": ["CAP_NET_BIND_SERVICE"], "inheritable": ["CAP_NET_BIND_SERVICE"],
        "ambient": ["CAP_NET_BIND_SERVICE"]
    });
    let out = on_both(&mut b, "ucaps");
    assert!(out.contains("CapAmb:\t0000000000000400"), "{out}");
}

#[test]
fn rlimits() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "grep -E 'open files|core file' /proc/self/limits",
    ]);
    b.config["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 1024}
    ]);
    let out = on_both(&mut b, "rl");
    let norm: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        norm,
        [
            "Max core file size 0 1024 bytes",
            "Max open files 100 200 files"
        ]
    );
    // Raising a hard limit above ours needs CAP_SYS_RESOURCE, which this host's runtime lacks:
    // a clear error naming the field, nothing left behind.
    let ours = std::fs::read_to_string("/proc/self/limits").unwrap();
    let hard: u64 = ours
        .lines()
        .find(|l| l.starts_with("Max processes"))
        .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        .unwrap_or(u64::MAX);
    if hard != u64::MAX {
        b.config["process"]["rlimits"] =
            json!([{"type": "RLIMIT_NPROC", "soft": hard + 1, "hard": hard + 1}]);
        if have_cap_sys_resource() {
            b.config["process"]["args"] =
                json!(["sh", "-c", "grep 'Max processes' /proc/self/limits"]);
            assert!(b.run_ok("rlup").contains(&(hard + 1).to_string()));
        } else {
            expect_create_error(&b, "process.rlimits: setting RLIMIT_NPROC");
        }
    }
}

#[test]
fn no_new_privileges() {
    let mut b = Bundle::new(&["grep", "NoNewPrivs", "/proc/self/status"]);
    b.config["process"]["noNewPrivileges"] = json!(true);
    assert_eq!(on_both(&mut b, "nnp1"), "NoNewPrivs:\t1\n");
    b.config["process"]["noNewPrivileges"] = json!(false);
    assert_eq!(on_both(&mut b, "nnp0"), "NoNewPrivs:\t0\n");
}

#[test]
fn oom_score_adj() {
    let mut b = Bundle::new(&["cat", "/proc/self/oom_score_adj"]);
    b.config["process"]["oomScoreAdj"] = json!(500);
    assert_eq!(on_both(&mut b, "oom"), "500\n");
    // Lowering below the runtime's own value needs CAP_SYS_RESOURCE (absent here).
    let ours: i32 = std::fs::read_to_string("/proc/self/oom_score_adj")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    if ours > -1000 {
        b.config["process"]["oomScoreAdj"] = json!(ours - 1);
        if have_cap_sys_resource() {
            assert_eq!(b.run_ok("oomdown").trim(), (ours - 1).to_string());
        } else {
            expect_create_error(&b, "process.oomScoreAdj");
        }
    }
}

/// (policy, nice) from /proc/self/stat: fields 41 and 19.
const SCHED_FIELDS: &str = "awk '{print $41, $19}' /proc/self/stat";

#[test]
fn scheduler() {
    // runc 1.1.5 does not implement process.scheduler (it came with runc 1.2).
    let mut b = Bundle::new(&["sh", "-c", SCHED_FIELDS]);
    b.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
    assert_eq!(b.run_ok("sb"), format!("{} 7\n", libc::SCHED_BATCH));
    b.config["process"]["scheduler"] = json!({"policy": "SCHED_IDLE"});
    assert_eq!(b.run_ok("si"), format!("{} 0\n", libc::SCHED_IDLE));
    b.config["process"]["scheduler"] =
        json!({"policy": "SCHED_FIFO", "priority": 3, "flags": ["SCHED_FLAG_RESET_ON_FORK"]});
    // A real-time policy in a cgroup v1 cpu controller needs real-time runtime for the group
    // (a new group has none); on cgroup v2 the field is an error, so only set it on v1.
    if std::path::Path::new("/sys/fs/cgroup/cpu/cpu.rt_runtime_us").exists() {
        b.config["linux"]["resources"]["cpu"] =
            json!({"realtimeRuntime": 10000, "realtimePeriod": 1000000});
    }
    // A real-time policy: stat shows SCHED_FIFO; the flag makes children go back to normal.
    b.config["process"]["args"] = json!([
        "sh",
        "-c",
        "awk '{print $41}' /proc/self/stat; awk '{print $41}' /proc/$$/stat"
    ]);
    let out = b.run_ok("sf");
    assert_eq!(
        out,
        format!("{}\n{}\n", libc::SCHED_OTHER, libc::SCHED_FIFO)
    );
    b.config["process"]["scheduler"] = json!({"policy": "SCHED_RR"});
    expect_create_error(&b, "process.scheduler.priority");
}

#[test]
fn io_priority() {
    // runc 1.1.5 does not implement process.ioPriority (runc 1.2 does).
    let mut b = Bundle::new(&["ionice", "-p", "1"]);
    b.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0});
    assert_eq!(b.run_ok("io1").trim(), "idle");
    b.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6});
    assert_eq!(b.run_ok("io2").trim(), "best-effort: prio 6");
    b.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 9});
    expect_create_error(&b, "process.ioPriority.priority");
}

#[test]
fn personality() {
    // runc 1.1.5 does not implement linux.personality.
    let mut b = Bundle::new(&["uname", "-m"]);
    b.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    let out = b.run_ok("p32");
    assert!(
        matches!(out.trim(), "i686" | "i386" | "armv8l" | "armv7l"),
        "{out}"
    );
    b.config["linux"]["personality"] = json!({"domain": "LINUX"});
    assert_eq!(b.run_ok("p64").trim(), std::env::consts::ARCH);
    b.config["linux"]["personality"] = json!({"domain": "LINUX", "flags": ["X"]});
    expect_create_error(&b, "linux.personality.flags");
}

#[test]
fn memory_policy() {
    // runc 1.1.5 does not implement linux.memoryPolicy. /proc/self/numa_maps shows the
    // policy of each mapping (the stack is allocated after the policy is set).
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "grep -m1 stack /proc/self/numa_maps | cut -d' ' -f2",
    ]);
    b.config["process"]["args"] = json!([
        "sh",
        "-c",
        "grep -m1 stack /proc/self/numa_maps | busybox cut -d' ' -f2"
    ]);
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0"});
    assert_eq!(b.run_ok("mp1").trim(), "bind:0");
    b.config["linux"]["memoryPolicy"] =
        json!({"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]});
    assert_eq!(b.run_ok("mp2").trim(), "interleave=static:0");
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND"});
    expect_create_error(&b, "linux.memoryPolicy.nodes");
}

#[test]
fn devices_nodes_with_mode_and_owner() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "stat -c '%n %F %t:%T %a %u:%g' /dev/myrand /dev/sub/blk /dev/fifo",
    ]);
    b.config["linux"]["devices"] = json!([
        {"path": "/dev/myrand", "type": "c", "major": 1, "minor": 8, "fileMode": 0o640, "uid": 5, "gid": 6},
        {"path": "/dev/sub/blk", "type": "b", "major": 7, "minor": 0, "fileMode": 0o600},
        {"path": "/dev/fifo", "type": "p", "fileMode": 0o666}
    ]);
    // Without a device cgroup rule for these, v1 still lets stat see them.
    let out = on_both(&mut b, "dev");
    assert_eq!(
        out,
        "/dev/myrand character special file 1:8 640 5:6\n/dev/sub/blk block special file 7:0 600 0:0\n/dev/fifo fifo 0:0 666 0:0\n"
    );
}

#[test]
fn devices_in_a_user_namespace_are_bound_from_the_host() {
    // In a user namespace nodes cannot be made: the host's node at the same path is bound.
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "stat -c '%F %t:%T' /dev/null /dev/zero; echo x > /dev/null && echo writable",
    ]);
    namespaces(&mut b).push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 300000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 300000, "size": 65536}]);
    b.config["linux"]["devices"] =
        json!([{"path": "/dev/zero", "type": "c", "major": 1, "minor": 5}]);
    let out = on_both(&mut b, "udev");
    assert_eq!(
        out,
        "character special file 1:3\ncharacter special file 1:5\nwritable\n"
    );
}

#[test]
fn masked_and_readonly_paths() {
    let mut b = Bundle::new(&["sh", "-c", "cat /proc/uptime 2>&1 | wc -c; ls /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/domainname 2>/dev/null || echo ro; touch /etc/x 2>/dev/null || echo etc-ro; cat /etc/hostname"]);
    b.config["root"]["readonly"] = json!(false);
    std::fs::create_dir_all(b.rootfs().join("etc")).unwrap();
    std::fs::write(b.rootfs().join("etc/hostname"), "h\n").unwrap();
    b.config["linux"]["maskedPaths"] = json!(["/proc/uptime", "/sys/firmware", "/does/not/exist"]);
    b.config["linux"]["readonlyPaths"] = json!(["/proc/sys", "/etc", "/also/missing"]);
    let out = on_both(&mut b, "mask");
    assert_eq!(out, "0\n0\nro\netc-ro\nh\n");
}

#[test]
fn sysctl_namespaced_keys() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax /proc/sys/kernel/domainname",
    ]);
    b.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shmmax": "12345678", "kernel.domainname": "example.org"});
    let out = on_both(&mut b, "sysctl");
    assert_eq!(out, "1\n12345678\nexample.org\n");
    assert_ne!(
        std::fs::read_to_string("/proc/sys/kernel/shmmax")
            .unwrap()
            .trim(),
        "12345678",
        "the host's shmmax must not change"
    );
    b.config["linux"]["sysctl"] = json!({"vm.swappiness": "10"});
    expect_create_error(&b, "linux.sysctl.vm.swappiness");
    b.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    namespaces(&mut b).retain(|n| n["type"] != "network");
    expect_create_error(&b, "needs a network namespace");
}

#[test]
fn hostname_and_domainname() {
    let mut b = Bundle::new(&["sh", "-c", "hostname; cat /proc/sys/kernel/domainname"]);
    b.config["hostname"] = json!("box");
    b.config["domainname"] = json!("example.com");
    // runc 1.1.5 ignores `domainname` (it came in runc 1.2): minke only.
    assert_eq!(b.run_ok("uts"), "box\nexample.com\n");
    b.config.as_object_mut().unwrap().remove("domainname");
    assert_eq!(on_both(&mut b, "uts2"), "box\n(none)\n");
    namespaces(&mut b).retain(|n| n["type"] != "uts");
    expect_create_error(&b, "hostname: cannot be set without a UTS namespace");
}

#[test]
fn mount_propagation_and_recursive_attributes() {
    let mut b = Bundle::new(&["sh", "-c", "grep -E ' /(shared|rro|rro/sub) ' /proc/self/mountinfo | awk '{print $5, $6, $7}'; touch /rro/sub/x 2>/dev/null || echo sub-ro"]);
    let host = b.path().join("src");
    std::fs::create_dir_all(host.join("sub")).unwrap();
    // A submount below the source, so that the recursive attribute has something to reach.
    let sub = host.join("sub");
    assert!(Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(&sub)
        .status()
        .unwrap()
        .success());
    struct Umount(std::path::PathBuf);
    impl Drop for Umount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _guard = Umount(sub.clone());
    let hs = host.to_str().unwrap().to_string();
    mounts(&mut b).push(json!({"destination": "/shared", "type": "tmpfs", "source": "tmpfs", "options": ["rshared"]}));
    mounts(&mut b).push(json!({"destination": "/rro", "source": hs, "options": ["rbind", "rro"]}));
    // runc 1.1.5 implements rro too; the check is on minke only because runc's mountinfo
    // shows its rslave root differently in the optional fields.
    let out = b.run_ok("prop");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("/shared ") && l.contains("shared:")),
        "{out}"
    );
    assert!(lines.iter().any(|l| l.starts_with("/rro ro,")), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("/rro/sub ro,")), "{out}");
    assert!(out.ends_with("sub-ro\n"), "{out}");
}

#[test]
fn rootfs_propagation() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "awk '$5 == \"/\" {print $7}' /proc/self/mountinfo",
    ]);
    b.config["linux"]["rootfsPropagation"] = json!("private");
    assert_eq!(
        b.run_ok("rpp").trim(),
        "-",
        "a private root has no optional fields"
    );
    b.config["linux"]["rootfsPropagation"] = json!("bogus");
    expect_create_error(&b, "linux.rootfsPropagation");
}

#[test]
fn idmap_bind_mount() {
    // runc 1.1.5 ignores idmap; the kernel's mapping: on-disk uid 0 shows as hostID 1000.
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "stat -c '%u:%g' /idm/f; grep ' /idm ' /proc/self/mountinfo | grep -c idmapped",
    ]);
    let src = b.path().join("idsrc");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), "x").unwrap();
    mounts(&mut b).push(json!({
        "destination": "/idm", "source": src, "options": ["bind", "idmap"],
        "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}],
        "gidMappings": [{"containerID": 0, "hostID": 2000, "size": 10}]
    }));
    // Idmapped mounts need filesystem support (ext4 here; not the VM lane's overlay root on
    // Linux 6.1): there the refusal must be the clear error naming the mount.
    let (out, err, code) = b.run("idm");
    if code == 0 {
        assert_eq!(out, "1000:2000\n1\n");
    } else {
        assert!(
            err.contains("mounts[7]: mount_setattr(MOUNT_ATTR_IDMAP) (does the source filesystem support idmapped mounts?)"),
            "{err}"
        );
        eprintln!(
            "idmap_bind_mount: no idmapped mounts on this filesystem; checked the error instead"
        );
        assert!(b.leftovers().is_empty());
    }
    // idmap without mappings and without a user namespace is an error.
    mounts(&mut b)
        .last_mut()
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove("uidMappings");
    mounts(&mut b)
        .last_mut()
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove("gidMappings");
    expect_create_error(&b, "mounts[7]: idmap needs uidMappings and gidMappings");
}

#[test]
fn tmpcopyup() {
    let mut b = Bundle::new(&["sh", "-c", "cat /data/a /data/d/b; readlink /data/l; grep -c ' /data tmpfs' /proc/self/mounts; touch /data/new && echo writable"]);
    let d = b.rootfs().join("data");
    std::fs::create_dir_all(d.join("d")).unwrap();
    std::fs::write(d.join("a"), "A\n").unwrap();
    std::fs::write(d.join("d/b"), "B\n").unwrap();
    std::os::unix::fs::symlink("a", d.join("l")).unwrap();
    mounts(&mut b).push(json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]}));
    assert_eq!(on_both(&mut b, "tcu"), "A\nB\na\n1\nwritable\n");
    assert!(!d.join("new").exists(), "the write went to the tmpfs");
}

#[test]
fn net_devices_are_moved_renamed_and_up() {
    // runc 1.1.5 does not implement linux.netDevices. A veth pair: one end goes in.
    let host_end = format!("mk{}a", std::process::id() % 100000);
    let peer = format!("mk{}b", std::process::id() % 100000);
    assert!(Command::new("ip")
        .args(["link", "add", &host_end, "type", "veth", "peer", "name", &peer])
        .status()
        .unwrap()
        .success());
    struct Del(String);
    impl Drop for Del {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["link", "del", &self.0]).output();
        }
    }
    let _del = Del(peer.clone());
    assert!(Command::new("ip")
        .args(["addr", "add", "10.98.7.1/24", "dev", &host_end])
        .status()
        .unwrap()
        .success());
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "ip -o addr show dev ctr0 | awk '{print $4}'; ip -o link show ctr0 | grep -c ',UP'",
    ]);
    b.config["linux"]["netDevices"] = json!({ host_end.clone(): {"name": "ctr0"} });
    let out = b.run_ok("nd");
    assert_eq!(out, "10.98.7.1/24\n1\n");
    // Gone from the host while it was in the container (and destroyed with its namespace).
    let show = Command::new("ip")
        .args(["link", "show", &host_end])
        .output()
        .unwrap();
    assert!(!show.status.success());
    // A device that does not exist: an error naming it, nothing left behind.
    b.config["linux"]["netDevices"] = json!({"nosuchdev0": {}});
    expect_create_error(
        &b,
        "linux.netDevices.nosuchdev0: no such network device on the host",
    );
    // netDevices without a network namespace of the container's own.
    b.config["linux"]["netDevices"] = json!({ host_end: {} });
    namespaces(&mut b).retain(|n| n["type"] != "network");
    expect_create_error(&b, "linux.netDevices: needs a network namespace");
}

#[test]
fn session_keyring() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "grep ' _ses.kr1:' /proc/keys | awk '{print $4, $5, $8, $9}'",
    ]);
    b.config["linux"]["maskedPaths"] = json!([]);
    b.config["linux"]["readonlyPaths"] = json!([]);
    // The same permissions as runc gives its session keyrings.
    let out = b.run_ok("kr1");
    assert_eq!(out, "perm 3f1b0000 keyring _ses.kr1:\n");
    let bp = b.path().to_str().unwrap().to_string();
    b.config["process"]["args"] = json!(["sh", "-c", "grep -c ' _ses.kr2:' /proc/keys"]);
    let out = b.cmd(&["run", "--no-new-keyring", "--bundle", &bp, "kr2"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0\n");
}

#[test]
fn hooks_order_namespaces_and_state() {
    let mut b = Bundle::new(&["true"]);
    b.config["root"]["readonly"] = json!(false);
    let out = b.path().join("hooks.out");
    let hook = b.path().join("hook.sh");
    std::fs::write(&hook, "#!/bin/sh\n{ printf '%s ' \"$1\"; cat; echo \" mnt=$(readlink /proc/self/ns/mnt) env=$E\"; } >> \"$2\"\n").unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let h = |name: &str| json!({"path": hook, "args": ["hook.sh", name, out], "env": ["E=ok"]});
    b.config["hooks"] = json!({
        "prestart": [h("prestart")], "createRuntime": [h("createRuntime")],
        "createContainer": [h("createContainer")],
        "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "echo startContainer $(cat) >> /start.out"]}],
        "poststart": [h("poststart")], "poststop": [h("poststop")]
    });
    b.run_ok("hk");
    let text = std::fs::read_to_string(&out).unwrap();
    let host_mnt = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let names: Vec<&str> = lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        names,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "poststart",
            "poststop"
        ]
    );
    let state = |l: &str| -> Value {
        let j = &l[l.find('{').unwrap()..=l.rfind('}').unwrap()];
        serde_json::from_str(j).unwrap()
    };
    for (l, status, in_host) in [
        (lines[0], "creating", true),
        (lines[1], "creating", true),
        (lines[2], "creating", false),
        (lines[3], "running", true),
        (lines[4], "stopped", true),
    ] {
        let s = state(l);
        assert_eq!(s["status"], status, "{l}");
        assert_eq!(s["id"], "hk");
        assert!(l.ends_with("env=ok"), "hook env: {l}");
        assert_eq!(
            l.contains(&host_mnt.to_string_lossy().to_string()),
            in_host,
            "{l}"
        );
    }
    // createContainer sees the container's pid (1), the runtime-namespace hooks the host pid.
    assert_eq!(state(lines[2])["pid"], 1);
    assert!(state(lines[0])["pid"].as_i64().unwrap() > 1);
    assert!(state(lines[4]).get("pid").is_none());
    let start = std::fs::read_to_string(b.rootfs().join("start.out")).unwrap();
    assert!(
        start.starts_with("startContainer {")
            && start.contains("\"status\":\"created\"")
            && start.contains("\"pid\":1"),
        "{start}"
    );
}

#[test]
fn hook_failures() {
    let mut b = Bundle::new(&["sleep", "60"]);
    let marker = b.path().join("poststop.ran");
    let poststop =
        json!({"path": "/bin/sh", "args": ["sh", "-c", format!("touch {}", marker.display())]});
    // A failing createRuntime hook fails create, leaves nothing, and poststop hooks still run.
    b.config["hooks"] =
        json!({"createRuntime": [{"path": "/bin/false"}], "poststop": [poststop.clone()]});
    expect_create_error(
        &b,
        "createRuntime hook #0 (/bin/false) exited with status 1",
    );
    assert!(marker.exists(), "poststop hooks run after a failed create");
    // A failing poststart hook stops the container and fails start (spec 1.3).
    b.config["hooks"] = json!({"poststart": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 4"]}]});
    assert!(b.create("ps", &[]).status.success());
    let out = b.cmd(&["start", "ps"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("poststart hook #0 (/bin/sh) exited with status 4"));
    b.wait_status("ps", "stopped");
    assert!(b.cmd(&["delete", "ps"]).status.success());
    // A hook that outlives its timeout is killed and fails the operation.
    b.config["hooks"] = json!({"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "exec sleep 30"], "timeout": 1}]});
    expect_create_error(&b, "prestart hook #0 (/bin/sh) timed out after 1s");
    // A failing poststop hook only warns: delete succeeds.
    b.config["hooks"] = json!({"poststop": [{"path": "/bin/false"}]});
    assert!(b.create("pst", &[]).status.success());
    let out = b.cmd(&["delete", "--force", "pst"]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("level=warning"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A failing startContainer hook fails start and stops the container.
    b.config["hooks"] = json!({"startContainer": [{"path": "/bin/false"}]});
    assert!(b.create("sc", &[]).status.success());
    let out = b.cmd(&["start", "sc"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("startContainer hook #0 (/bin/false)"));
    b.wait_status("sc", "stopped");
}

#[test]
fn host_facilities_this_host_lacks_are_errors_and_apparmor() {
    let mut b = Bundle::new(&["cat", "/proc/self/attr/current"]);
    b.config["process"]["apparmorProfile"] = json!("unconfined");
    if libcontainer::lsm::apparmor_enabled() {
        // Where the host has AppArmor (the cgroup v2 VM lane), the profile is applied.
        assert!(b.run_ok("aa").starts_with("unconfined"));
    } else {
        expect_create_error(&b, "process.apparmorProfile");
    }
    b.config["process"]["args"] = json!(["true"]);
    b.config["process"]
        .as_object_mut()
        .unwrap()
        .remove("apparmorProfile");
    b.config["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0");
    expect_create_error(&b, "process.selinuxLabel");
    b.config["process"]
        .as_object_mut()
        .unwrap()
        .remove("selinuxLabel");
    b.config["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0");
    expect_create_error(&b, "linux.mountLabel");
    b.config["linux"]
        .as_object_mut()
        .unwrap()
        .remove("mountLabel");
    b.config["linux"]["intelRdt"] = json!({"closID": "gold"});
    expect_create_error(
        &b,
        "linux.intelRdt: no resctrl filesystem is mounted on this host",
    );
}
