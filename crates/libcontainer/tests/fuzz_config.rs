//! A structure-aware fuzzer over everything minke does with a config.json before it touches
//! the system: `spec::parse` → `spec::validate` → `plan::build` → `cgroups::plan` (on fake
//! hybrid, v2 and probed-v2 hosts) → `seccomp::validate` / `lower` / `compile` (BPF generation
//! only, nothing is installed).
//!
//! The property: no input makes any of them panic (including arithmetic overflow, which debug
//! builds check), and every rejection is an error value with a message. Inputs are mutations of
//! good configs at the JSON-value level (a value replaced by one of another type, a huge or
//! boundary number, an odd string, a key removed, renamed or added, a subtree copied from
//! elsewhere, deep nesting), plus a few byte-level mutations of the serialised text. A coarse
//! feedback loop keeps every input whose outcome (the stage it reached and its error message
//! with numbers and quoted values blanked) was not seen before, and mutates those further.
//!
//! Environment:
//! - `MINKE_FUZZ_SECONDS` (default 10): how long to run.
//! - `MINKE_FUZZ_SEED`: the RNG seed (default: from the clock; printed, to replay a run).
//! - `MINKE_FUZZ_CORPUS`: a directory to load the corpus from and save it to.
//!
//! A panicking input is written to `$CARGO_TARGET_TMPDIR/fuzz-config/crash-*.json` and the
//! test fails listing them. `make fuzz FUZZ_SECONDS=600` runs it long; `make test` runs it for
//! a bounded time.

#![recursion_limit = "512"]

use std::collections::HashSet;
use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use libcontainer::cgroups::{self, CgroupHost, CgroupMode};
use libcontainer::cgroups::{UnifiedHierarchy, V1Hierarchy};
use libcontainer::plan::{self, CreateOptions};
use libcontainer::{seccomp, spec};
use serde_json::{json, Map, Value};

// ---------------------------------------------------------------------------------------------
// Random numbers (splitmix64: small, fast, good enough to pick mutations)

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

// ---------------------------------------------------------------------------------------------
// Seeds and dictionaries

/// A config that exercises every part of the spec minke reads.
fn rich_seed() -> Value {
    json!({
        "ociVersion": "1.3.0",
        "process": {
            "terminal": false,
            "consoleSize": {"height": 24, "width": 80},
            "user": {"uid": 1000, "gid": 1000, "umask": 18, "additionalGids": [5, 6]},
            "args": ["sh", "-c", "echo hi"],
            "env": ["PATH=/usr/bin:/bin", "TERM=xterm"],
            "cwd": "/work",
            "capabilities": {
                "bounding": ["CAP_NET_BIND_SERVICE", "CAP_KILL", "CAP_AUDIT_WRITE"],
                "effective": ["CAP_NET_BIND_SERVICE"],
                "inheritable": ["CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
                "ambient": ["CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [
                {"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024},
                {"type": "RLIMIT_NPROC", "hard": 100, "soft": 50}
            ],
            "noNewPrivileges": true,
            "oomScoreAdj": 100,
            "scheduler": {"policy": "SCHED_OTHER", "nice": 5, "flags": ["SCHED_FLAG_RESET_ON_FORK"]},
            "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4},
            "execCPUAffinity": {"initial": "0", "final": "0-1"}
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "fuzz",
        "domainname": "example.org",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
            {"destination": "/data", "type": "bind", "source": "/tmp",
             "options": ["rbind", "rprivate", "ro", "nosymfollow", "rro", "rnoexec"]},
            {"destination": "/idm", "type": "bind", "source": "/tmp",
             "options": ["bind", "idmap"],
             "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
             "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]},
            {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
             "options": ["tmpcopyup", "size=1m"]}
        ],
        "hooks": {
            "prestart": [{"path": "/usr/bin/true", "args": ["true"], "env": ["A=1"], "timeout": 5}],
            "createRuntime": [{"path": "/usr/bin/true"}],
            "createContainer": [{"path": "/usr/bin/true"}],
            "startContainer": [{"path": "/bin/true"}],
            "poststart": [{"path": "/usr/bin/true"}],
            "poststop": [{"path": "/usr/bin/true", "timeout": 1}]
        },
        "annotations": {"org.example.key": "value"},
        "linux": {
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"},
                {"type": "mount"}, {"type": "cgroup"}, {"type": "user"}, {"type": "time"}
            ],
            "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
            "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
            "timeOffsets": {"monotonic": {"secs": 10, "nanosecs": 5}, "boottime": {"secs": -3}},
            "devices": [
                {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                 "fileMode": 438, "uid": 0, "gid": 0},
                {"path": "/dev/sda", "type": "b", "major": 8, "minor": 0}
            ],
            "netDevices": {"eth1": {"name": "ceth1"}},
            "cgroupsPath": "/fuzz/ctr",
            "resources": {
                "devices": [
                    {"allow": false, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"},
                    {"allow": true, "type": "b", "major": 8, "access": "r"}
                ],
                "memory": {"limit": 536870912, "reservation": 268435456, "swap": 1073741824,
                            "kernel": 0, "kernelTCP": 0, "swappiness": 10,
                            "disableOOMKiller": false, "useHierarchy": true,
                            "checkBeforeUpdate": true},
                "cpu": {"shares": 1024, "quota": 100000, "burst": 1000, "period": 100000,
                        "realtimeRuntime": 0, "realtimePeriod": 0, "cpus": "0-1", "mems": "0",
                        "idle": 0},
                "pids": {"limit": 100},
                "blockIO": {
                    "weight": 500, "leafWeight": 300,
                    "weightDevice": [{"major": 8, "minor": 0, "weight": 600, "leafWeight": 200}],
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                    "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}]
                },
                "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}],
                "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
                "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
                "unified": {"memory.high": "max", "io.weight": "default 100"}
            },
            "intelRdt": {"closID": "guaranteed", "l3CacheSchema": "L3:0=7f0", "memBwSchema": "MB:0=20"},
            "sysctl": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "12345"},
            "seccomp": {
                "defaultAction": "SCMP_ACT_ERRNO",
                "defaultErrnoRet": 38,
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
                "listenerPath": "/run/listener.sock",
                "listenerMetadata": "meta",
                "syscalls": [
                    {"names": ["read", "write", "exit_group", "futex"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                    {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
                    {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"},
                    {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                    {"names": ["ptrace"], "action": "SCMP_ACT_TRACE", "errnoRet": 5},
                    {"names": ["reboot"], "action": "SCMP_ACT_KILL_PROCESS"},
                    {"names": ["not_a_syscall", "mount"], "action": "SCMP_ACT_LOG"},
                    {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"},
                              {"index": 1, "value": 1, "op": "SCMP_CMP_GE"}]}
                ]
            },
            "rootfsPropagation": "rslave",
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/sys/firmware"],
            "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"],
            "mountLabel": "system_u:object_r:container_file_t:s0",
            "personality": {"domain": "LINUX", "flags": []},
            "memoryPolicy": {"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}
        }
    })
}

/// The smallest config minke runs.
fn minimal_seed() -> Value {
    json!({
        "ociVersion": "1.3.0",
        "process": {"cwd": "/", "args": ["true"], "user": {"uid": 0, "gid": 0}},
        "root": {"path": "rootfs"},
        "linux": {"namespaces": [{"type": "mount"}]}
    })
}

/// The spec's own good example configs, from `../shared` beside the project's root.
fn spec_examples() -> Vec<Value> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        here.join("../../../shared/runtime-spec/schema/test/config/good"),
        here.join("../../../../shared/runtime-spec/schema/test/config/good"),
        PathBuf::from("/work/shared/runtime-spec/schema/test/config/good"),
    ];
    let Some(dir) = candidates.iter().find(|d| d.is_dir()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if let Ok(v) = serde_json::from_slice(&std::fs::read(e.path()).unwrap_or_default()) {
            out.push(v);
        }
    }
    out
}

/// Strings worth trying anywhere: names the code matches on, paths that escape, malformed
/// numbers and lists, long and odd text.
fn string_dictionary(seeds: &[Value]) -> Vec<String> {
    let mut d: BTreeSet<String> = [
        "",
        " ",
        "/",
        ".",
        "..",
        "../..",
        "/../../etc",
        "/proc/self/fd/3",
        "//",
        "a/../..",
        "relative/path",
        "\\",
        "\u{0}",
        "a\u{0}b",
        "\u{feff}",
        "é",
        "🦀",
        "%s%n",
        "-1",
        "0",
        "18446744073709551616",
        "1e400",
        "0x10",
        "-",
        "0-",
        "-0",
        "1-0",
        "0-1,",
        ",",
        "0,,1",
        "4294967295-4294967296",
        "max",
        "default",
        "none",
        "rw",
        "rwm",
        "rwx",
        "a",
        "c",
        "b",
        "u",
        "p",
        "*",
        "true",
        "null",
        "CAP_SYS_ADMIN",
        "CAP_",
        "cap_net_raw",
        "CAP_LAST_CAP",
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_TRAP",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_LOG",
        "SCMP_ACT_NOTIFY",
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ",
        "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_NATIVE",
        "SCMP_ARCH_S390X",
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        "RLIMIT_CORE",
        "RLIMIT_RTTIME",
        "RLIMIT_NOPE",
        "pid",
        "network",
        "user",
        "time",
        "cgroup",
        "mount",
        "uts",
        "ipc",
        "bind",
        "rbind",
        "ro",
        "rro",
        "idmap",
        "ridmap",
        "shared",
        "rshared",
        "private",
        "unbindable",
        "slave",
        "remount",
        "size=",
        "mode=7777",
        "uid=-1",
        "SCHED_DEADLINE",
        "SCHED_FIFO",
        "SCHED_RR",
        "SCHED_BATCH",
        "SCHED_IDLE",
        "IOPRIO_CLASS_RT",
        "IOPRIO_CLASS_IDLE",
        "MPOL_BIND",
        "MPOL_DEFAULT",
        "MPOL_LOCAL",
        "LINUX32",
        "monotonic",
        "realtime",
        "kernel.msgmax",
        "net.core.somaxconn",
        "fs.protected_symlinks",
        "kernel/shmmax",
        "net..ipv4",
        "1GB",
        "64KB",
        "3MB",
        "memory.max",
        "cgroup.procs",
        "../memory.max",
        "cpu.weight",
        "L3:0=ff;1=ff",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    d.insert("x".repeat(5000));
    d.insert("/a".repeat(3000));
    fn collect(v: &Value, d: &mut BTreeSet<String>) {
        match v {
            Value::String(s) => {
                d.insert(s.clone());
            }
            Value::Array(a) => a.iter().for_each(|x| collect(x, d)),
            Value::Object(o) => {
                for (k, x) in o {
                    d.insert(k.clone());
                    collect(x, d);
                }
            }
            _ => {}
        }
    }
    for s in seeds {
        collect(s, &mut d);
    }
    d.into_iter().collect()
}

/// Subtrees of the seeds by key, to splice a plausible value of another field anywhere.
fn subtrees(seeds: &[Value]) -> Vec<Value> {
    fn collect(v: &Value, out: &mut Vec<Value>) {
        out.push(v.clone());
        match v {
            Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
            Value::Object(o) => o.values().for_each(|x| collect(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for s in seeds {
        collect(s, &mut out);
    }
    out
}

const NUMBERS: &[i128] = &[
    0,
    1,
    -1,
    2,
    7,
    8,
    63,
    64,
    255,
    256,
    1023,
    1024,
    4095,
    65535,
    65536,
    1 << 31,
    (1 << 31) - 1,
    -(1 << 31),
    1 << 32,
    (1 << 32) - 1,
    (1 << 53) + 1,
    i64::MAX as i128,
    i64::MIN as i128,
    u64::MAX as i128,
    (u64::MAX - 1) as i128,
    -1000,
    1000,
    1001,
    -1001,
    9999999999,
];

// ---------------------------------------------------------------------------------------------
// Mutations

struct Mutator {
    strings: Vec<String>,
    subtrees: Vec<Value>,
}

fn number(n: i128) -> Value {
    if let Ok(v) = u64::try_from(n) {
        Value::from(v)
    } else if let Ok(v) = i64::try_from(n) {
        Value::from(v)
    } else {
        Value::from(n as f64)
    }
}

/// Count the nodes of a value (to pick one uniformly).
fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(o) => o.values().map(count).sum(),
        _ => 0,
    }
}

/// The `n`-th node in pre-order (`n` counts down to it).
fn nth_mut<'a>(v: &'a mut Value, n: &mut usize) -> Option<&'a mut Value> {
    if *n == 0 {
        return Some(v);
    }
    *n -= 1;
    match v {
        Value::Array(a) => a.iter_mut().find_map(|x| nth_mut(x, n)),
        Value::Object(o) => o.values_mut().find_map(|x| nth_mut(x, n)),
        _ => None,
    }
}

impl Mutator {
    fn random_scalar(&self, rng: &mut Rng) -> Value {
        match rng.below(6) {
            0 => Value::Null,
            1 => Value::Bool(rng.chance(50)),
            2 => number(*rng.pick(NUMBERS)),
            3 => json!(rng.pick(&[0.5, -0.0, 1e308, -1e308, 1.0e-300, 3.0, 4294967296.5])),
            _ => Value::String(rng.pick(&self.strings).clone()),
        }
    }

    fn tweak_number(&self, v: &Value, rng: &mut Rng) -> Value {
        let n: i128 = v
            .as_i64()
            .map(i128::from)
            .or_else(|| v.as_u64().map(i128::from))
            .unwrap_or(0);
        let m = match rng.below(7) {
            0 => n + 1,
            1 => n - 1,
            2 => -n,
            3 => n.saturating_mul(1 << 32),
            4 => n ^ (1 << rng.below(64)),
            5 => *rng.pick(NUMBERS),
            _ => n.saturating_mul(1000),
        };
        number(m.clamp(i64::MIN as i128, u64::MAX as i128))
    }

    fn tweak_string(&self, s: &str, rng: &mut Rng) -> String {
        match rng.below(9) {
            0 => format!("{s}/.."),
            1 => format!("/{s}"),
            2 => s.to_uppercase(),
            3 => s.to_lowercase(),
            4 => format!("{s}{s}"),
            5 => {
                let cut = rng.below(s.len() + 1);
                s.get(..cut).unwrap_or(s).to_string()
            }
            6 => format!("{s}\u{0}"),
            7 => format!("{s},{}", rng.pick(&self.strings)),
            _ => s.replace('_', "-"),
        }
    }

    /// One structural mutation somewhere in `v`. Most keep the JSON type of the node (so that
    /// the typed parse accepts the input and the later stages get to see it); some do not.
    fn mutate_once(&self, v: &mut Value, rng: &mut Rng) {
        let mut k = rng.below(count(v));
        let node = nth_mut(v, &mut k).expect("index below the node count");
        match rng.below(28) {
            // A value of another type.
            0 | 1 => *node = self.random_scalar(rng),
            // The same type, another value.
            2..=7 => {
                *node = match node {
                    Value::Number(_) => self.tweak_number(node, rng),
                    Value::String(s) if rng.chance(50) => Value::String(self.tweak_string(s, rng)),
                    Value::String(_) => Value::String(rng.pick(&self.strings).clone()),
                    Value::Bool(b) => Value::Bool(!*b),
                    _ => node.clone(),
                }
            }
            // Remove a key or an element.
            8..=12 => match node {
                Value::Object(o) if !o.is_empty() => {
                    let k = o.keys().nth(rng.below(o.len())).cloned().unwrap();
                    o.remove(&k);
                }
                Value::Array(a) if !a.is_empty() => {
                    a.remove(rng.below(a.len()));
                }
                _ => *node = Value::Null,
            },
            // Duplicate an element / add a key.
            13..=15 => match node {
                Value::Array(a) if !a.is_empty() => {
                    let x = a[rng.below(a.len())].clone();
                    a.push(x);
                }
                Value::Object(o) => {
                    let k = rng.pick(&self.strings).clone();
                    o.insert(k, self.random_scalar(rng));
                }
                _ => *node = Value::Array(vec![node.clone()]),
            },
            // Splice in a subtree from a seed (same-typed ones preferred).
            16..=19 => {
                for _ in 0..8 {
                    let x = rng.pick(&self.subtrees);
                    if std::mem::discriminant(x) == std::mem::discriminant(node) {
                        *node = x.clone();
                        return;
                    }
                }
                *node = rng.pick(&self.subtrees).clone();
            }
            // Rename a key (typos, case, a dictionary word).
            20 | 21 => {
                if let Value::Object(o) = node {
                    if let Some(k) = o.keys().nth(rng.below(o.len().max(1))).cloned() {
                        let x = o.remove(&k).unwrap();
                        let nk = if rng.chance(50) {
                            self.tweak_string(&k, rng)
                        } else {
                            rng.pick(&self.strings).clone()
                        };
                        o.insert(nk, x);
                    }
                }
            }
            // Empty containers of the same kind.
            22 | 23 => {
                *node = match node {
                    Value::Array(_) => Value::Array(vec![]),
                    Value::Object(_) => Value::Object(Map::new()),
                    Value::String(_) => Value::String(String::new()),
                    Value::Number(_) => Value::from(0),
                    _ => Value::Null,
                }
            }
            // Deep nesting.
            24 => {
                let depth = 1 + rng.below(200);
                let mut x = node.clone();
                for i in 0..depth {
                    x = if i % 2 == 0 {
                        Value::Array(vec![x])
                    } else {
                        json!({ "k": x })
                    };
                }
                *node = x;
            }
            // Many elements (of a small one).
            25 => {
                if let Value::Array(a) = node {
                    if let Some(first) = a.first().cloned().filter(|f| count(f) < 20) {
                        for _ in 0..1 + rng.below(300) {
                            a.push(first.clone());
                        }
                    }
                }
            }
            // Huge and boundary numbers where numbers are.
            _ => {
                if node.is_number() {
                    *node = number(*rng.pick(NUMBERS));
                } else {
                    *node = self.random_scalar(rng);
                }
            }
        }
    }

    /// Bytes for one run: a few structural mutations, sometimes followed by a byte-level one.
    fn input(&self, parent: &Value, rng: &mut Rng) -> (Value, Vec<u8>) {
        let mut v = parent.clone();
        for _ in 0..1 + rng.below(3) {
            self.mutate_once(&mut v, rng);
        }
        let mut bytes = serde_json::to_vec(&v).expect("a Value serialises");
        if rng.chance(8) && !bytes.is_empty() {
            let i = rng.below(bytes.len());
            match rng.below(4) {
                0 => bytes[i] ^= 1 << rng.below(8),
                1 => bytes.truncate(i),
                2 => bytes.insert(i, *rng.pick(b"{}[]\",:0-\\e")),
                _ => {
                    bytes.remove(i);
                }
            }
        }
        (v, bytes)
    }
}

// ---------------------------------------------------------------------------------------------
// The target

fn files(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn hybrid_host() -> CgroupHost {
    let h = |c: &[&str], f: &[&str]| V1Hierarchy {
        controllers: c.iter().map(|s| s.to_string()).collect(),
        mount_point: PathBuf::from(format!("/sys/fs/cgroup/{}", c.join(","))),
        mount_root: "/".into(),
        own_cgroup: "/user.slice".into(),
        files: files(f),
    };
    CgroupHost {
        mode: CgroupMode::Hybrid,
        v1: vec![
            h(
                &["cpu", "cpuacct"],
                &[
                    "cpu.shares",
                    "cpu.cfs_quota_us",
                    "cpu.cfs_period_us",
                    "cpu.cfs_burst_us",
                    "cpu.rt_runtime_us",
                    "cpu.rt_period_us",
                    "cpu.idle",
                ],
            ),
            h(&["cpuset"], &["cpuset.cpus", "cpuset.mems"]),
            h(
                &["memory"],
                &[
                    "memory.limit_in_bytes",
                    "memory.memsw.limit_in_bytes",
                    "memory.kmem.limit_in_bytes",
                    "memory.kmem.tcp.limit_in_bytes",
                    "memory.swappiness",
                ],
            ),
            h(&["devices"], &[]),
            h(&["freezer"], &[]),
            h(&["blkio"], &["blkio.weight", "blkio.leaf_weight"]),
            h(&["pids"], &["pids.max"]),
            h(&["net_cls", "net_prio"], &[]),
            h(&["rdma"], &[]),
            h(&["name=systemd"], &[]),
        ],
        unified: Some(UnifiedHierarchy {
            mount_point: PathBuf::from("/sys/fs/cgroup/unified"),
            mount_root: "/".into(),
            own_cgroup: "/".into(),
            controllers: files(&["hugetlb"]),
            probe_controllers: BTreeSet::new(),
            probe_files: BTreeSet::new(),
        }),
        hugepage_sizes: vec!["2MB".into(), "1GB".into()],
        kernel: (6, 18),
    }
}

fn v2_host(probed: bool) -> CgroupHost {
    let controllers = files(&[
        "cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc",
    ]);
    CgroupHost {
        mode: CgroupMode::Unified,
        v1: vec![],
        unified: Some(UnifiedHierarchy {
            mount_point: PathBuf::from("/sys/fs/cgroup"),
            mount_root: "/".into(),
            own_cgroup: "/user.slice/session.scope".into(),
            controllers: controllers.clone(),
            probe_controllers: if probed { controllers } else { BTreeSet::new() },
            probe_files: if probed {
                files(&[
                    "cpu.max",
                    "cpu.weight",
                    "memory.max",
                    "memory.high",
                    "pids.max",
                ])
            } else {
                BTreeSet::new()
            },
        }),
        hugepage_sizes: vec!["2MB".into()],
        kernel: (5, 10),
    }
}

/// What one input did: for each stage it reached, its error (the whole chain) if it rejected
/// the input. parse → validate → plan stop at the first rejection; then the cgroup plans (one
/// per fake host: a config can be fine on v2 and not on v1) and the seccomp chain run on their
/// own.
#[derive(Debug, Default)]
struct Outcome {
    stages: Vec<(&'static str, Option<String>)>,
}

impl Outcome {
    fn errors(&self) -> impl Iterator<Item = &String> {
        self.stages.iter().filter_map(|(_, e)| e.as_ref())
    }
    fn last_stage(&self) -> &'static str {
        match self.stages.iter().find(|(_, e)| e.is_some()) {
            Some((s, _)) => s,
            None => "accepted",
        }
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn run_one(bytes: &[u8], hosts: &[(&'static str, CgroupHost)]) -> Outcome {
    let mut o = Outcome::default();
    fn record<T, E: std::error::Error>(
        o: &mut Outcome,
        stage: &'static str,
        r: Result<T, E>,
    ) -> Option<T> {
        match r {
            Ok(t) => {
                o.stages.push((stage, None));
                Some(t)
            }
            Err(e) => {
                o.stages.push((stage, Some(chain(&e))));
                None
            }
        }
    }
    let Some((spec, _warnings)) = record(&mut o, "parse", spec::parse_with_warnings(bytes)) else {
        return o;
    };
    if record(&mut o, "validate", spec::validate(&spec)).is_none() {
        return o;
    }
    let built = plan::build(
        "fuzz",
        Path::new("/bundle"),
        &spec,
        CreateOptions::default(),
    );
    if record(&mut o, "plan", built).is_none() {
        return o;
    }
    for (name, host) in hosts {
        record(
            &mut o,
            name,
            cgroups::plan(host, "fuzz", spec.linux().as_ref()),
        );
    }
    if let Some(sc) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        let _ = record(&mut o, "seccomp-validate", seccomp::validate(sc))
            .and_then(|_| record(&mut o, "seccomp-lower", seccomp::lower(sc)))
            .and_then(|_| record(&mut o, "seccomp-compile", seccomp::compile(sc)));
    }
    o
}

/// The outcome with its variable parts (numbers, quoted values) blanked, as a coarse stand-in
/// for coverage.
fn signature(o: &Outcome) -> String {
    let mut out = String::new();
    for (stage, e) in &o.stages {
        out.push_str(stage);
        let Some(e) = e else {
            out.push_str(" ok; ");
            continue;
        };
        out.push_str(": ");
        let mut in_quote = false;
        let mut last_digit = false;
        for c in e.chars().take(200) {
            if c == '"' {
                in_quote = !in_quote;
                out.push('"');
                continue;
            }
            if in_quote {
                continue;
            }
            if c.is_ascii_digit() {
                if !last_digit {
                    out.push('#');
                }
                last_digit = true;
                continue;
            }
            last_digit = false;
            out.push(c);
        }
        out.push_str("; ");
    }
    out
}

/// A problem with a rejection: not a message one can act on.
fn message_problem(e: &str) -> Option<&'static str> {
    if e.trim().is_empty() {
        return Some("empty error message");
    }
    if e.contains("panicked") {
        return Some("error message carries a panic");
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The driver

thread_local! {
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

fn hash(bytes: &[u8]) -> u64 {
    // FNV-1a: a stable file name for a crashing input.
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

#[test]
fn config_pipeline_never_panics() {
    let seconds: u64 = std::env::var("MINKE_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let seed: u64 = std::env::var("MINKE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    let corpus_dir = std::env::var_os("MINKE_FUZZ_CORPUS").map(PathBuf::from);
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-config");
    std::fs::create_dir_all(&out_dir).unwrap();
    println!("fuzz: seed {seed}, {seconds} s (MINKE_FUZZ_SEED={seed} replays this run)");

    let mut seeds = vec![rich_seed(), minimal_seed()];
    seeds.extend(spec_examples());
    let mutator = Mutator {
        strings: string_dictionary(&seeds),
        subtrees: subtrees(&seeds),
    };
    let hosts = [
        ("cgroups-hybrid", hybrid_host()),
        ("cgroups-v2", v2_host(false)),
        ("cgroups-v2-probed", v2_host(true)),
    ];

    // The seeds themselves must get through (the rich one everywhere but in the cgroup plans,
    // where v1-only and v2-only fields meet): otherwise the fuzzer would only explore the
    // rejections of a broken base.
    for (i, s) in seeds.iter().take(2).enumerate() {
        let o = run_one(&serde_json::to_vec(s).unwrap(), &hosts);
        for (stage, e) in &o.stages {
            assert!(
                e.is_none() || stage.starts_with("cgroups"),
                "seed {i} rejected at {stage}: {e:?}"
            );
        }
        assert!(o.stages.len() >= 6, "seed {i}: {o:?}");
    }

    let mut corpus: Vec<Value> = seeds.clone();
    let mut deep: Vec<Value> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut loaded = 0;
    if let Some(dir) = &corpus_dir {
        std::fs::create_dir_all(dir).unwrap();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
                continue;
            };
            let outcome = run_one(&bytes, &hosts);
            seen.insert(signature(&outcome));
            loaded += 1;
            if outcome.stages.len() > 1 {
                deep.push(v);
            } else {
                corpus.push(v);
            }
        }
        println!(
            "fuzz: loaded {loaded} corpus entries from {}",
            dir.display()
        );
    }

    std::panic::set_hook(Box::new(|info| {
        let msg = info.to_string();
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(msg));
    }));

    let mut rng = Rng(seed);
    let mut per_stage: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut crashes: Vec<(PathBuf, String)> = Vec::new();
    let mut bad_messages: Vec<String> = Vec::new();
    let started = Instant::now();
    let budget = Duration::from_secs(seconds);
    let mut iterations: u64 = 0;
    while started.elapsed() < budget {
        iterations += 1;
        // Parents: mostly inputs that got past the typed parse (their mutations reach the
        // later stages), some that did not, some seeds.
        let parent = match rng.below(10) {
            0..=6 if !deep.is_empty() => rng.pick(&deep),
            7 => rng.pick(&corpus),
            _ => rng.pick(&seeds),
        };
        let (value, bytes) = mutator.input(parent, &mut rng);
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| run_one(&bytes, &hosts)));
        match result {
            Ok(outcome) => {
                *per_stage.entry(outcome.last_stage()).or_default() += 1;
                for e in outcome.errors() {
                    if let Some(problem) = message_problem(e) {
                        if bad_messages.len() < 20 {
                            bad_messages.push(format!("{problem}: {e:?}"));
                        }
                    }
                }
                if seen.insert(signature(&outcome)) && corpus.len() + deep.len() < 20_000 {
                    if let Some(dir) = &corpus_dir {
                        let name = format!("{:016x}.json", hash(&bytes));
                        let _ = std::fs::write(dir.join(name), &bytes);
                    }
                    // Keep what parses as JSON and stays small; byte-mangled inputs are not
                    // mutated further.
                    if bytes.len() < 32 * 1024 && serde_json::from_slice::<Value>(&bytes).is_ok() {
                        if outcome.stages.len() > 1 {
                            deep.push(value);
                        } else {
                            corpus.push(value);
                        }
                    }
                }
            }
            Err(_) => {
                let msg = LAST_PANIC
                    .with(|p| p.borrow_mut().take())
                    .unwrap_or_else(|| "panic".into());
                let path = out_dir.join(format!("crash-{:016x}.json", hash(&bytes)));
                std::fs::write(&path, &bytes).unwrap();
                if crashes.len() < 50 {
                    crashes.push((path, msg));
                }
            }
        }
    }
    let _ = std::panic::take_hook();
    let elapsed = started.elapsed().as_secs_f64();
    let summary = json!({
        "seed": seed,
        "seconds": elapsed,
        "iterations": iterations,
        "iterations_per_second": iterations as f64 / elapsed,
        "distinct_outcomes": seen.len(),
        "corpus_entries": corpus.len() + deep.len(),
        "corpus_past_parse": deep.len(),
        "corpus_loaded": loaded,
        "outcomes_by_stage": per_stage,
        "crashes": crashes.len(),
    });
    println!("fuzz: {}", serde_json::to_string_pretty(&summary).unwrap());
    std::fs::write(
        out_dir.join("summary.json"),
        serde_json::to_vec_pretty(&summary).unwrap(),
    )
    .unwrap();
    assert!(
        crashes.is_empty(),
        "{} panicking input(s):\n{}",
        crashes.len(),
        crashes
            .iter()
            .map(|(p, m)| format!("{}: {m}", p.display()))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        bad_messages.is_empty(),
        "rejections without a usable message:\n{}",
        bad_messages.join("\n")
    );
    assert!(iterations > 0);
}
