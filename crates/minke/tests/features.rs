//! `minke features`: the document is valid against the spec's schema, and every claim in it is
//! checked against real containers: each listed namespace is created, each listed mount option
//! is accepted on a real mount, each listed hook kind runs, the listed capabilities can be set,
//! every listed seccomp action, operator, architecture and supported flag loads in one filter,
//! the cgroup manager of this host's mode applies limits (the v1 claim is checked on the hybrid
//! host, the v2 claim in the cgroup v2 VM lane, which runs this file too), every memory policy
//! mode and flag is applied, a network device is moved in, and Intel RDT is recognised (this
//! host has no resctrl: the field is refused for that reason). What it says minke does not do
//! (AppArmor and SELinux labels, the systemd driver) is refused.

mod common;

use std::os::fd::AsFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use libcontainer::cgroups::{CgroupMode, Hierarchy};
use libcontainer::Runtime;
use serde_json::{json, Value};

fn features() -> Value {
    let out = Command::new(MINKE).arg("features").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("features prints JSON")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|s| s.as_str().expect("a string").to_string())
        .collect()
}

/// The runtime spec's schemas, in `shared/` beside the project (as the Makefile finds them).
fn schema_dir() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .flat_map(|a| {
            [
                a.join("shared/runtime-spec/schema"),
                a.join("../shared/runtime-spec/schema"),
            ]
        })
        .chain([PathBuf::from("/work/shared/runtime-spec/schema")])
        .find(|d| d.join("features-schema.json").exists())
        .expect("the runtime spec's schema directory (shared/runtime-spec/schema) is missing")
}

fn schema_errors(schema: &str, v: &Value) -> Vec<String> {
    let path = schema_dir().join(schema).canonicalize().unwrap();
    let s: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let validator = jsonschema::options()
        .with_base_uri(format!("file://{}", path.display()))
        .build(&s)
        .unwrap_or_else(|e| panic!("compiling {}: {e}", path.display()));
    validator
        .iter_errors(v)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn document_is_valid_against_the_schema() {
    // The validator itself tells good from bad (the spec's own examples).
    let ex = |p: &str| -> Value {
        serde_json::from_slice(&std::fs::read(schema_dir().join("test/features").join(p)).unwrap())
            .unwrap()
    };
    assert!(schema_errors("features-schema.json", &ex("good/runc.json")).is_empty());
    assert!(!schema_errors(
        "features-schema.json",
        &ex("bad/missing-ociVersionMax.json")
    )
    .is_empty());

    let f = features();
    let errs = schema_errors("features-schema.json", &f);
    assert!(
        errs.is_empty(),
        "features does not match the schema: {errs:?}"
    );
    assert_eq!(f["ociVersionMin"], "1.0.0");
    assert_eq!(f["ociVersionMax"], "1.3.0");
    assert!(f["annotations"]["minke.version"].is_string());
    // The claims of what is not implemented.
    assert_eq!(
        f["linux"]["apparmor"]["enabled"],
        libcontainer::lsm::apparmor_enabled()
    );
    assert_eq!(f["linux"]["selinux"]["enabled"], false);
    assert_eq!(f["linux"]["cgroup"]["systemd"], false);
    assert_eq!(f["linux"]["cgroup"]["systemdUser"], false);
    // Implemented (checked below against containers).
    assert_eq!(f["linux"]["mountExtensions"]["idmap"]["enabled"], true);
    assert_eq!(f["linux"]["intelRdt"]["enabled"], true);
    assert_eq!(f["linux"]["netDevices"]["enabled"], true);
}

#[test]
fn every_listed_namespace_is_created() {
    let f = features();
    let listed = strings(&f["linux"]["namespaces"]);
    let proc_name = |n: &str| {
        match n {
            "mount" => "mnt",
            "network" => "net",
            other => other,
        }
        .to_string()
    };
    let script: String = listed
        .iter()
        .map(|n| format!("readlink /proc/self/ns/{};", proc_name(n)))
        .collect();
    let mut b = Bundle::new(&["sh", "-c", &script]);
    b.config["linux"]["namespaces"] =
        Value::Array(listed.iter().map(|n| json!({ "type": n })).collect());
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 400000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 400000, "size": 65536}]);
    let out = b.run_ok("ns");
    let inside: Vec<&str> = out.lines().collect();
    assert_eq!(inside.len(), listed.len(), "{out}");
    for (n, got) in listed.iter().zip(inside) {
        assert_ne!(
            got,
            ns_inode("self", &proc_name(n)),
            "{n}: the host's namespace"
        );
    }
}

/// Can the filesystem at `path` carry idmapped mounts on this kernel? ext4, xfs, btrfs: yes
/// (Linux 5.12+); tmpfs from 6.3; overlayfs (the cgroup v2 VM lane's only filesystem) not on
/// the kernels minke is tested on. The answer is the filesystem's, not the runtime's.
fn idmap_capable(path: &Path) -> bool {
    let st = nix::sys::statfs::statfs(path).unwrap();
    let release = nix::sys::utsname::uname().unwrap();
    let release = release.release().to_string_lossy().into_owned();
    let mut v = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse::<u32>().ok());
    let kernel = (v.next().unwrap(), v.next().unwrap());
    match st.filesystem_type() {
        nix::sys::statfs::OVERLAYFS_SUPER_MAGIC => false,
        nix::sys::statfs::TMPFS_MAGIC => kernel >= (6, 3),
        _ => true,
    }
}

#[test]
fn every_listed_mount_option_is_accepted() {
    let f = features();
    let listed = strings(&f["mountOptions"]);
    let mut b = Bundle::new(&["cat", "/proc/self/mountinfo"]);
    let src = b.path().join("bind-source");
    std::fs::create_dir(&src).unwrap();
    let idmap_mount = |dest: &str, o: &str| {
        json!({
            "destination": dest, "source": src, "options": ["rbind", o],
            "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}],
            "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}]
        })
    };
    let idmap_here = idmap_capable(&src);
    let mut checked = Vec::new();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    for (i, o) in listed.iter().enumerate() {
        let dest = format!("/m/{i}");
        match o.as_str() {
            "bind" | "rbind" => {
                mounts.push(json!({"destination": dest, "source": src, "options": [o]}))
            }
            "idmap" | "ridmap" if !idmap_here => continue,
            "idmap" | "ridmap" => mounts.push(idmap_mount(&dest, o)),
            "remount" => {
                // remount changes an existing mount: the one just before it.
                mounts.push(json!({"destination": dest, "type": "tmpfs", "source": "tmpfs"}));
                mounts.push(
                    json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": [o]}),
                );
            }
            _ => mounts.push(
                json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": [o]}),
            ),
        }
        checked.push((i, o.clone()));
    }
    let (out, err, code) = b.run("mo");
    assert_eq!(code, 0, "a listed mount option was refused: {err}");
    for (i, o) in &checked {
        assert!(
            out.contains(&format!(" /m/{i} ")),
            "option {o}: /m/{i} is not a mount point"
        );
    }
    if !idmap_here {
        // The filesystem under the test's bundle cannot be idmapped: minke tries, and the
        // kernel's refusal is reported for the mount.
        for o in ["idmap", "ridmap"] {
            let mut b = Bundle::new(&["true"]);
            let src = b.path().join("bind-source");
            std::fs::create_dir(&src).unwrap();
            b.config["mounts"].as_array_mut().unwrap().push(json!({
                "destination": "/idm", "source": src, "options": ["rbind", o],
                "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}],
                "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}]
            }));
            let (_, err, code) = b.run("idm");
            assert_ne!(code, 0);
            assert!(
                err.contains("mount_setattr(MOUNT_ATTR_IDMAP)") && err.contains("EINVAL"),
                "{o}: {err}"
            );
        }
    }
}

#[test]
fn every_listed_hook_kind_runs() {
    let f = features();
    let listed = strings(&f["hooks"]);
    let mut b = Bundle::new(&["true"]);
    // The same absolute path on the host and (bind-mounted) in the container, so hooks that
    // run in either namespace write to the same directory.
    let dir = b.path().join("hooks-out");
    std::fs::create_dir(&dir).unwrap();
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": dir, "source": dir, "options": ["rbind"]}));
    let mut hooks = serde_json::Map::new();
    for h in &listed {
        let cmd = format!("cat > {}/{h}", dir.display());
        hooks.insert(
            h.clone(),
            json!([{"path": "/bin/sh", "args": ["sh", "-c", cmd]}]),
        );
    }
    b.config["hooks"] = Value::Object(hooks);
    b.run_ok("hk");
    for h in &listed {
        let state: Value = serde_json::from_slice(
            &std::fs::read(dir.join(h)).unwrap_or_else(|_| panic!("hook {h} did not run")),
        )
        .unwrap_or_else(|e| panic!("hook {h} got no state on stdin: {e}"));
        assert_eq!(state["id"], "hk", "{h}");
    }
}

#[test]
fn listed_capabilities_can_be_set() {
    let f = features();
    let listed = strings(&f["linux"]["capabilities"]);
    let all: u64 = (0..listed.len()).fold(0, |m, i| m | (1 << i));
    // In a user namespace of its own the container starts from a full bounding set, so every
    // listed capability can be set whatever this test process holds (here it lacks
    // CAP_SYS_RESOURCE, which a container in the host's user namespace cannot get).
    let mut b = Bundle::new(&["grep", "^Cap", "/proc/self/status"]);
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 500000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 500000, "size": 65536}]);
    let set = Value::from(listed.clone());
    b.config["process"]["capabilities"] = json!({
        "bounding": set, "effective": set, "permitted": set, "inheritable": set, "ambient": set
    });
    let (out, err, code) = b.run("caps");
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("ignoring unknown"), "{err}");
    for line in out.lines() {
        let (name, hex) = line.split_once(':').unwrap();
        assert_eq!(
            u64::from_str_radix(hex.trim(), 16).unwrap(),
            all,
            "{name}: every listed capability"
        );
    }
    // A sample set alone, in the host's user namespace: exactly those bits.
    let mut b = Bundle::new(&["true"]);
    let sample = [
        "CAP_CHOWN",
        "CAP_NET_RAW",
        "CAP_SYS_ADMIN",
        listed.last().unwrap(),
    ];
    let mask = sample
        .iter()
        .map(|c| 1u64 << listed.iter().position(|l| l == c).unwrap())
        .fold(0, |m, b| m | b);
    let s = Value::from(sample.to_vec());
    b.config["process"]["capabilities"] = json!({"bounding": s, "effective": s, "permitted": s});
    b.config["process"]["args"] = json!(["grep", "^CapEff", "/proc/self/status"]);
    let out = b.run_ok("caps2");
    let hex = out.trim().split_once(':').unwrap().1.trim().to_string();
    assert_eq!(u64::from_str_radix(&hex, 16).unwrap(), mask);
}

#[test]
fn listed_seccomp_actions_operators_archs_and_flags_load() {
    let f = features();
    let sc = &f["linux"]["seccomp"];
    assert_eq!(sc["enabled"], true);
    // Syscalls nothing in the container calls, one per action; mkdir shows ERRNO at work.
    let targets = [
        ("SCMP_ACT_KILL", "acct"),
        ("SCMP_ACT_KILL_PROCESS", "swapon"),
        ("SCMP_ACT_KILL_THREAD", "swapoff"),
        ("SCMP_ACT_TRAP", "syncfs"),
        ("SCMP_ACT_ERRNO", "mkdir"),
        ("SCMP_ACT_TRACE", "pivot_root"),
        ("SCMP_ACT_LOG", "sethostname"),
        ("SCMP_ACT_NOTIFY", "setdomainname"),
        ("SCMP_ACT_ALLOW", "getpid"),
    ];
    let mut syscalls = Vec::new();
    for a in strings(&sc["actions"]) {
        let name = targets
            .iter()
            .find(|(x, _)| *x == a)
            .unwrap_or_else(|| panic!("no test syscall for listed action {a}"))
            .1;
        let mut names = vec![name];
        if name == "mkdir" {
            names.push("mkdirat");
        }
        syscalls.push(json!({"names": names, "action": a}));
    }
    for op in strings(&sc["operators"]) {
        let mut arg = json!({"index": 0, "value": 4000, "op": op});
        if op == "SCMP_CMP_MASKED_EQ" {
            arg["valueTwo"] = json!(4000);
        }
        syscalls.push(json!({"names": ["ioprio_set"], "action": "SCMP_ACT_ERRNO", "args": [arg]}));
    }
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "grep Seccomp: /proc/self/status; mkdir /tmp/x 2>/dev/null || echo mkdir refused",
    ]);
    let sock_path = b.path().join("seccomp-agent.sock");
    let listener = UnixListener::bind(&sock_path).unwrap();
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": sc["archs"],
        "flags": sc["supportedFlags"],
        "listenerPath": sock_path,
        "syscalls": syscalls
    });
    let (out, err, code) = b.run("sc");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "Seccomp:\t2\nmkdir refused\n");
    // SCMP_ACT_NOTIFY: the notify fd went to the listener with the state.
    listener.set_nonblocking(true).unwrap();
    let (conn, _) = listener
        .accept()
        .expect("the runtime connected to listenerPath");
    conn.set_nonblocking(false).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let (n, fds) = libcontainer::sys::recv_with_fds(conn.as_fd(), &mut buf)
        .unwrap()
        .expect("a message");
    let msg: Value = serde_json::from_slice(&buf[..n]).unwrap();
    assert_eq!(msg["fds"], json!(["seccompFd"]));
    assert_eq!(fds.len(), 1);
}

/// The claim for this host's cgroup mode (v1 here, v2 in the VM lane): limits land.
#[test]
fn cgroup_manager_of_this_host_applies_limits() {
    let f = features();
    let host = libcontainer::cgroups::detect().unwrap();
    let claim = match host.mode {
        CgroupMode::Unified => "v2",
        CgroupMode::Legacy | CgroupMode::Hybrid => "v1",
    };
    assert_eq!(f["linux"]["cgroup"][claim], true);
    let mut b = Bundle::new(&["sleep", "60"]);
    b.config["linux"]["resources"] = json!({
        "memory": {"limit": 67108864},
        "pids": {"limit": 42}
    });
    assert!(b.create("cg", &[]).status.success());
    let rt = Runtime::new(&b.root);
    let st = rt.store.load("cg").unwrap();
    let cg = rt.cgroup(&st).unwrap().expect("a cgroup");
    let file = |ctl: &str, v1: &str, v2: &str| -> String {
        let (h, p) = cg
            .paths()
            .find(|(h, _)| match host.mode {
                CgroupMode::Unified => **h == Hierarchy::Unified,
                _ => h.has(ctl),
            })
            .unwrap_or_else(|| panic!("no {ctl} hierarchy"));
        let name = if *h == Hierarchy::Unified { v2 } else { v1 };
        std::fs::read_to_string(p.join(name))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(
        file("memory", "memory.limit_in_bytes", "memory.max"),
        "67108864"
    );
    assert_eq!(file("pids", "pids.max", "pids.max"), "42");
    // systemd: false — the driver is refused.
    let out = Command::new(MINKE)
        .args(["--systemd-cgroup", "--root"])
        .arg(&b.root)
        .args(["state", "cg"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("systemd cgroup driver is not supported"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn what_is_not_claimed_is_refused() {
    type Edit = fn(&mut Value);
    let mut cases: Vec<(&str, Edit, &str)> = vec![];
    // AppArmor is claimed (and applied) only where the host has it.
    if !libcontainer::lsm::apparmor_enabled() {
        cases.push((
            "apparmor",
            |c: &mut Value| c["process"]["apparmorProfile"] = json!("unconfined"),
            "process.apparmorProfile",
        ));
    }
    cases.push((
        "selinux",
        |c: &mut Value| c["process"]["selinuxLabel"] = json!("system_u:system_r:c"),
        "process.selinuxLabel",
    ));
    for (what, edit, msg) in cases {
        let mut b = Bundle::new(&["true"]);
        edit(&mut b.config);
        let out = b.create(what, &[]);
        assert!(!out.status.success(), "{what} was accepted");
        assert!(stderr(&out).contains(msg), "{what}: {}", stderr(&out));
        assert!(
            b.leftovers().is_empty(),
            "{what}: a refused create left state"
        );
    }
}

#[test]
fn every_listed_memory_policy_mode_and_flag_is_applied() {
    let f = features();
    let mp = &f["linux"]["memoryPolicy"];
    let release = nix::sys::utsname::uname().unwrap();
    let release = release.release().to_string_lossy().into_owned();
    let mut v = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse::<u32>().ok());
    let kernel = (v.next().unwrap(), v.next().unwrap());
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "grep -m1 stack /proc/self/numa_maps | sed 's/^[0-9a-f]* //; s/ stack.*//'",
    ]);
    let mut run = |policy: Value| -> (String, String, i32) {
        b.config["linux"]["memoryPolicy"] = policy;
        b.run("mp")
    };
    for mode in strings(&mp["modes"]) {
        let policy = match mode.as_str() {
            "MPOL_DEFAULT" | "MPOL_LOCAL" => json!({ "mode": mode }),
            _ => json!({"mode": mode, "nodes": "0"}),
        };
        let (out, err, code) = run(policy);
        if mode == "MPOL_WEIGHTED_INTERLEAVE" && kernel < (6, 9) {
            // Recognised by minke; this kernel predates the mode and refuses it.
            assert_ne!(code, 0);
            assert!(err.contains("linux.memoryPolicy: set_mempolicy"), "{err}");
            continue;
        }
        assert_eq!(code, 0, "{mode}: {err}");
        let want = match mode.as_str() {
            "MPOL_DEFAULT" => "default",
            "MPOL_LOCAL" => "local",
            "MPOL_BIND" => "bind:0",
            "MPOL_INTERLEAVE" => "interleave:0",
            "MPOL_WEIGHTED_INTERLEAVE" => "weighted interleave:0",
            "MPOL_PREFERRED" => "prefer:0",
            "MPOL_PREFERRED_MANY" => "prefer (many):0",
            other => panic!("no expectation for {other}"),
        };
        assert_eq!(out.trim(), want, "{mode}");
    }
    for flag in strings(&mp["flags"]) {
        let (out, err, code) = run(json!({"mode": "MPOL_BIND", "nodes": "0", "flags": [flag]}));
        assert_eq!(code, 0, "{flag}: {err}");
        assert!(out.starts_with("bind"), "{flag}: {out}");
    }
}

#[test]
fn net_devices_and_intel_rdt_are_recognised() {
    // A veth pair: one end is moved into the container under a new name.
    let host_end = format!("mf{}a", std::process::id() % 100000);
    let peer = format!("mf{}b", std::process::id() % 100000);
    let ok = Command::new("ip")
        .args([
            "link", "add", &host_end, "type", "veth", "peer", "name", &peer,
        ])
        .status()
        .unwrap();
    assert!(ok.success(), "ip link add");
    struct Del(String);
    impl Drop for Del {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["link", "del", &self.0]).output();
        }
    }
    let _del = Del(peer.clone());
    let mut b = Bundle::new(&["sh", "-c", "ip -o link show ctr7 | grep -c ctr7"]);
    b.config["linux"]["netDevices"] = json!({ host_end.clone(): {"name": "ctr7"} });
    assert_eq!(b.run_ok("nd"), "1\n");

    // Intel RDT: implemented on resctrl; a host without it refuses the field for that reason.
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["intelRdt"] = json!({"closID": "minke-features-test"});
    let out = b.create("rdt", &[]);
    let resctrl = std::fs::read_to_string("/proc/mounts")
        .unwrap()
        .lines()
        .any(|l| l.split_whitespace().nth(2) == Some("resctrl"));
    if resctrl {
        // A closID without schemata must name an existing class: this one does not exist.
        assert!(
            stderr(&out).contains("linux.intelRdt.closID"),
            "{}",
            stderr(&out)
        );
    } else {
        assert!(
            stderr(&out).contains("linux.intelRdt: no resctrl filesystem is mounted on this host"),
            "{}",
            stderr(&out)
        );
    }
    assert!(!out.status.success());
    assert!(b.leftovers().is_empty());
}
