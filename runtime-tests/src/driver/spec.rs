//! The base config.json every test starts from, and small helpers to edit it as plain JSON
//! (plain JSON on purpose: bad-config tests need wrong types that a typed spec cannot hold).

use serde_json::{json, Value};

/// Placeholder for `linux.cgroupsPath`: the bundle builder replaces it with an absolute path
/// unique to the container, so every cgroup a test makes can be found and cleaned up.
pub const AUTO_CGROUP: &str = "@auto";

pub const DEFAULT_CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

pub const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A config like `runc spec` writes, running `/bin/probe report` with the given extra args.
pub fn base(probe_args: &[&str]) -> Value {
    let mut args = vec!["/bin/probe".to_string(), "report".to_string()];
    args.extend(probe_args.iter().map(|s| s.to_string()));
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": [PATH_ENV, "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": DEFAULT_CAPS,
                "effective": DEFAULT_CAPS,
                "permitted": DEFAULT_CAPS
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "probe",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]}
        ],
        "linux": {
            "cgroupsPath": AUTO_CGROUP,
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

fn parse_ptr(ptr: &str) -> Vec<String> {
    ptr.split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// Sets the value at a JSON pointer, creating objects on the way (`/a/b/0` indexes arrays).
pub fn set(v: &mut Value, ptr: &str, new: Value) {
    let toks = parse_ptr(ptr);
    let mut cur = v;
    for (i, t) in toks.iter().enumerate() {
        let last = i + 1 == toks.len();
        if let Value::Array(a) = cur {
            let idx: usize = t.parse().expect("array index in pointer");
            if last {
                if idx < a.len() {
                    a[idx] = new;
                } else {
                    a.push(new);
                }
                return;
            }
            cur = &mut a[idx];
            continue;
        }
        if !cur.is_object() {
            *cur = Value::Object(Default::default());
        }
        let obj = cur.as_object_mut().expect("object");
        if last {
            obj.insert(t.clone(), new);
            return;
        }
        cur = obj
            .entry(t.clone())
            .or_insert_with(|| Value::Object(Default::default()));
    }
    *cur = new;
}

/// Removes the value at a JSON pointer (no-op when absent).
pub fn remove(v: &mut Value, ptr: &str) {
    let toks = parse_ptr(ptr);
    let Some((last, parents)) = toks.split_last() else {
        return;
    };
    let mut cur = v;
    for t in parents {
        cur = match cur {
            Value::Object(o) => match o.get_mut(t) {
                Some(x) => x,
                None => return,
            },
            Value::Array(a) => match t.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(x) => x,
                None => return,
            },
            _ => return,
        };
    }
    match cur {
        Value::Object(o) => {
            o.remove(last);
        }
        Value::Array(a) => {
            if let Ok(i) = last.parse::<usize>() {
                if i < a.len() {
                    a.remove(i);
                }
            }
        }
        _ => {}
    }
}

/// Appends to the array at a JSON pointer (creating it).
pub fn push(v: &mut Value, ptr: &str, item: Value) {
    if !matches!(v.pointer(ptr), Some(Value::Array(_))) {
        set(v, ptr, Value::Array(Vec::new()));
    }
    v.pointer_mut(ptr)
        .and_then(Value::as_array_mut)
        .expect("array")
        .push(item);
}

/// Replaces the probe's extra arguments (after `/bin/probe report`).
pub fn probe_args(v: &mut Value, extra: &[&str]) {
    let mut args = vec![json!("/bin/probe"), json!("report")];
    args.extend(extra.iter().map(|s| json!(s)));
    set(v, "/process/args", Value::Array(args));
}

/// Removes the namespace of this type from `linux.namespaces`.
pub fn drop_ns(v: &mut Value, ty: &str) {
    if let Some(a) = v
        .pointer_mut("/linux/namespaces")
        .and_then(Value::as_array_mut)
    {
        a.retain(|n| n["type"] != ty);
    }
}

/// Adds (or replaces) a namespace entry.
pub fn add_ns(v: &mut Value, ty: &str, path: Option<&str>) {
    drop_ns(v, ty);
    let mut n = json!({"type": ty});
    if let Some(p) = path {
        n["path"] = json!(p);
    }
    push(v, "/linux/namespaces", n);
}

/// Shallow-merges `patch` into `v` recursively (objects merge, everything else replaces).
pub fn merge(v: &mut Value, patch: &Value) {
    match (v, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, pv) in b {
                match a.get_mut(k) {
                    Some(av) => merge(av, pv),
                    None => {
                        a.insert(k.clone(), pv.clone());
                    }
                }
            }
        }
        (v, p) => *v = p.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_creates_objects_and_indexes_arrays() {
        let mut v = json!({"a": [1, 2]});
        set(&mut v, "/b/c", json!(3));
        set(&mut v, "/a/1", json!(5));
        set(&mut v, "/a/2", json!(6));
        assert_eq!(v, json!({"a": [1, 5, 6], "b": {"c": 3}}));
    }

    #[test]
    fn remove_and_push() {
        let mut v = json!({"a": {"b": 1, "c": [1]}});
        remove(&mut v, "/a/b");
        remove(&mut v, "/x/y");
        push(&mut v, "/a/c", json!(2));
        push(&mut v, "/d", json!("e"));
        assert_eq!(v, json!({"a": {"c": [1, 2]}, "d": ["e"]}));
    }

    #[test]
    fn namespace_helpers() {
        let mut v = base(&[]);
        drop_ns(&mut v, "network");
        add_ns(&mut v, "pid", Some("/proc/1/ns/pid"));
        let ns = v["linux"]["namespaces"].as_array().unwrap();
        assert!(!ns.iter().any(|n| n["type"] == "network"));
        assert_eq!(ns.last().unwrap()["path"], "/proc/1/ns/pid");
    }

    #[test]
    fn merge_is_recursive() {
        let mut v = json!({"a": {"b": 1, "c": 2}, "d": [1]});
        merge(&mut v, &json!({"a": {"b": 9}, "d": [2]}));
        assert_eq!(v, json!({"a": {"b": 9, "c": 2}, "d": [2]}));
    }
}
