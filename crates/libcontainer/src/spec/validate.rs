//! Pure validation of a parsed [`Spec`]: a table of small checks, each naming the JSON path of
//! what it rejects. Nothing here touches the host; host-dependent checks (does this kernel have
//! time namespaces? is there SELinux?) happen when the plan meets the host facts.

use std::collections::HashSet;
use std::path::Path;

use oci_spec::runtime::{LinuxDeviceType, LinuxNamespaceType, Spec};

/// A rule of the runtime spec that the config breaks, with the JSON path of the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {msg}")]
pub struct InvalidSpec {
    pub path: String,
    pub msg: String,
}

impl InvalidSpec {
    pub fn new(path: impl Into<String>, msg: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            msg: msg.into(),
        }
    }
}

type Check = fn(&Spec) -> Result<(), InvalidSpec>;

/// Every check, in the order their errors should be reported.
const CHECKS: &[(&str, Check)] = &[
    ("ociVersion", check_version),
    ("root", check_root),
    ("linux.resources.hugepageLimits", check_hugepages),
    ("mounts", check_mounts),
    ("linux.namespaces", check_namespaces),
    ("linux id mappings", check_id_mappings),
    ("hostname", check_hostname),
    ("linux.timeOffsets", check_time_offsets),
    ("linux.devices", check_devices),
    ("linux paths", check_linux_paths),
    ("linux.rootfsPropagation", check_rootfs_propagation),
    ("hooks", check_hooks),
    ("linux.sysctl", check_sysctl),
    ("linux.netDevices", check_net_devices),
    ("process.rlimits", check_rlimits),
    ("process", check_process),
];

/// Run every check; the first failure is returned.
pub fn validate(spec: &Spec) -> Result<(), InvalidSpec> {
    for (_, check) in CHECKS {
        check(spec)?;
    }
    Ok(())
}

/// Is `v` a SemVer 2.0.0 version string (MAJOR.MINOR.PATCH[-pre][+build])?
fn is_semver(v: &str) -> bool {
    let core_end = v.find(['-', '+']).unwrap_or(v.len());
    let (core, rest) = v.split_at(core_end);
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3 {
        return false;
    }
    let numeric_ok = |p: &str| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (p == "0" || !p.starts_with('0'))
    };
    if !parts.iter().all(|p| numeric_ok(p)) {
        return false;
    }
    let ident_ok = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|id| {
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    };
    let (pre, build) = match rest.find('+') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    if let Some(pre) = pre.strip_prefix('-') {
        if !ident_ok(pre) {
            return false;
        }
    } else if !pre.is_empty() {
        return false;
    }
    build.is_none_or(ident_ok)
}

fn check_version(spec: &Spec) -> Result<(), InvalidSpec> {
    let v = spec.version();
    if !is_semver(v) {
        return Err(InvalidSpec::new(
            "ociVersion",
            format!("{v:?} is not a SemVer 2.0.0 version"),
        ));
    }
    if !v.starts_with("1.") {
        return Err(InvalidSpec::new(
            "ociVersion",
            format!("{v:?}: only version 1.x of the runtime spec is supported"),
        ));
    }
    Ok(())
}

fn check_root(spec: &Spec) -> Result<(), InvalidSpec> {
    let Some(root) = spec.root() else {
        return Err(InvalidSpec::new("root", "required on Linux"));
    };
    if root.path().as_os_str().is_empty() {
        return Err(InvalidSpec::new("root.path", "must not be empty"));
    }
    Ok(())
}

fn check_process(spec: &Spec) -> Result<(), InvalidSpec> {
    let Some(p) = spec.process() else {
        return Err(InvalidSpec::new(
            "process",
            "must be set (the container has nothing to run)",
        ));
    };
    match p.args() {
        Some(args) if !args.is_empty() => {
            if args[0].is_empty() {
                return Err(InvalidSpec::new("process.args[0]", "must not be empty"));
            }
        }
        _ => return Err(InvalidSpec::new("process.args", "must not be empty")),
    }
    if !p.cwd().is_absolute() {
        return Err(InvalidSpec::new(
            "process.cwd",
            format!("{:?} must be an absolute path", p.cwd()),
        ));
    }
    for (i, e) in p.env().iter().flatten().enumerate() {
        match e.split_once('=') {
            Some((k, _)) if !k.is_empty() => {}
            _ => {
                return Err(InvalidSpec::new(
                    format!("process.env[{i}]"),
                    format!("{e:?} is not of the form KEY=value"),
                ))
            }
        }
        if e.contains('\0') {
            return Err(InvalidSpec::new(
                format!("process.env[{i}]"),
                "must not contain a NUL byte",
            ));
        }
    }
    if let Some(args) = p.args() {
        if let Some(i) = args.iter().position(|a| a.contains('\0')) {
            return Err(InvalidSpec::new(
                format!("process.args[{i}]"),
                "must not contain a NUL byte",
            ));
        }
    }
    if p.console_size().is_some() && p.terminal() != Some(true) {
        // Allowed by the spec (it is simply unused), nothing to reject.
    }
    if let Some(adj) = p.oom_score_adj() {
        if !(-1000..=1000).contains(&adj) {
            return Err(InvalidSpec::new(
                "process.oomScoreAdj",
                format!("{adj} is outside -1000..1000"),
            ));
        }
    }
    Ok(())
}

fn check_rlimits(spec: &Spec) -> Result<(), InvalidSpec> {
    let Some(p) = spec.process() else {
        return Ok(());
    };
    let mut seen = HashSet::new();
    for (i, r) in p.rlimits().iter().flatten().enumerate() {
        if !seen.insert(format!("{:?}", r.typ())) {
            return Err(InvalidSpec::new(
                format!("process.rlimits[{i}].type"),
                format!("{:?} is given more than once", r.typ()),
            ));
        }
        if r.soft() > r.hard() {
            return Err(InvalidSpec::new(
                format!("process.rlimits[{i}]"),
                format!("soft limit {} exceeds hard limit {}", r.soft(), r.hard()),
            ));
        }
    }
    Ok(())
}

fn check_mounts(spec: &Spec) -> Result<(), InvalidSpec> {
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if m.destination().as_os_str().is_empty() {
            return Err(InvalidSpec::new(
                format!("mounts[{i}].destination"),
                "must not be empty",
            ));
        }
        let opts = m.options().clone().unwrap_or_default();
        let is_bind = opts.iter().any(|o| o == "bind" || o == "rbind");
        if is_bind && m.source().is_none() {
            return Err(InvalidSpec::new(
                format!("mounts[{i}].source"),
                "required for a bind mount",
            ));
        }
        if let Err(e) = crate::rootfs::options::parse(&opts) {
            return Err(InvalidSpec::new(
                format!("mounts[{i}].options"),
                e.to_string(),
            ));
        }
        let has_idmap = opts.iter().any(|o| o == "idmap" || o == "ridmap");
        let has_maps = m.uid_mappings().is_some() || m.gid_mappings().is_some();
        if has_maps && !has_idmap {
            return Err(InvalidSpec::new(
                format!("mounts[{i}].uidMappings"),
                "only allowed with the idmap or ridmap option",
            ));
        }
        if has_idmap && m.uid_mappings().is_some() != m.gid_mappings().is_some() {
            return Err(InvalidSpec::new(
                format!("mounts[{i}]"),
                "uidMappings and gidMappings must be given together",
            ));
        }
    }
    Ok(())
}

fn namespaces(spec: &Spec) -> impl Iterator<Item = &oci_spec::runtime::LinuxNamespace> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
}

fn has_namespace(spec: &Spec, typ: LinuxNamespaceType) -> bool {
    namespaces(spec).any(|n| n.typ() == typ)
}

fn check_namespaces(spec: &Spec) -> Result<(), InvalidSpec> {
    let mut seen = HashSet::new();
    for (i, ns) in namespaces(spec).enumerate() {
        if !seen.insert(ns.typ()) {
            return Err(InvalidSpec::new(
                format!("linux.namespaces[{i}].type"),
                format!("namespace {:?} is given more than once", ns.typ()),
            ));
        }
        if let Some(p) = ns.path() {
            if !p.is_absolute() {
                return Err(InvalidSpec::new(
                    format!("linux.namespaces[{i}].path"),
                    format!("{p:?} must be an absolute path"),
                ));
            }
        }
    }
    Ok(())
}

fn check_id_mappings(spec: &Spec) -> Result<(), InvalidSpec> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let user_ns = namespaces(spec).find(|n| n.typ() == LinuxNamespaceType::User);
    let new_user_ns = user_ns.is_some_and(|n| n.path().is_none());
    let has_maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    if has_maps && user_ns.is_none() {
        return Err(InvalidSpec::new(
            "linux.uidMappings",
            "id mappings are given but there is no user namespace",
        ));
    }
    if new_user_ns {
        for (key, maps) in [
            ("linux.uidMappings", linux.uid_mappings()),
            ("linux.gidMappings", linux.gid_mappings()),
        ] {
            match maps {
                Some(m) if !m.is_empty() => {
                    for (i, map) in m.iter().enumerate() {
                        if map.size() == 0 {
                            return Err(InvalidSpec::new(
                                format!("{key}[{i}].size"),
                                "must be greater than zero",
                            ));
                        }
                    }
                }
                _ => {
                    return Err(InvalidSpec::new(
                        key,
                        "required when a new user namespace is created",
                    ))
                }
            }
        }
    }
    Ok(())
}

fn check_hostname(spec: &Spec) -> Result<(), InvalidSpec> {
    // A UTS namespace of the container's own: new, or joined by path (then the hostname is set
    // in the joined namespace, as runc does).
    let private_uts = has_namespace(spec, LinuxNamespaceType::Uts);
    for (field, value) in [
        ("hostname", spec.hostname()),
        ("domainname", spec.domainname()),
    ] {
        let Some(v) = value else { continue };
        if v.is_empty() {
            continue;
        }
        if !private_uts {
            return Err(InvalidSpec::new(
                field,
                "cannot be set without a UTS namespace of the container's own (linux.namespaces)",
            ));
        }
        if v.len() > 64 {
            return Err(InvalidSpec::new(field, "is longer than 64 bytes"));
        }
    }
    Ok(())
}

fn check_time_offsets(spec: &Spec) -> Result<(), InvalidSpec> {
    let Some(offsets) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref())
    else {
        return Ok(());
    };
    if offsets.is_empty() {
        return Ok(());
    }
    let time_ns = namespaces(spec).find(|n| n.typ() == LinuxNamespaceType::Time);
    if !time_ns.is_some_and(|n| n.path().is_none()) {
        return Err(InvalidSpec::new(
            "linux.timeOffsets",
            "needs a new time namespace (linux.namespaces)",
        ));
    }
    for (clock, off) in offsets {
        if clock != "monotonic" && clock != "boottime" {
            return Err(InvalidSpec::new(
                format!("linux.timeOffsets.{clock}"),
                "only monotonic and boottime clocks can be offset",
            ));
        }
        if off.nanosecs().unwrap_or(0) >= 1_000_000_000 {
            return Err(InvalidSpec::new(
                format!("linux.timeOffsets.{clock}.nanosecs"),
                "must be below 1000000000",
            ));
        }
    }
    Ok(())
}

fn check_devices(spec: &Spec) -> Result<(), InvalidSpec> {
    let devices = spec.linux().as_ref().and_then(|l| l.devices().as_ref());
    for (i, d) in devices.into_iter().flatten().enumerate() {
        let p = d.path();
        if !p.is_absolute() {
            return Err(InvalidSpec::new(
                format!("linux.devices[{i}].path"),
                format!("{p:?} must be an absolute path"),
            ));
        }
        match d.typ() {
            LinuxDeviceType::A => {
                return Err(InvalidSpec::new(
                    format!("linux.devices[{i}].type"),
                    "must be one of c, b, u or p",
                ))
            }
            LinuxDeviceType::P => {}
            _ => {
                if d.major() < 0 || d.minor() < 0 {
                    return Err(InvalidSpec::new(
                        format!("linux.devices[{i}]"),
                        "major and minor are required for a character or block device",
                    ));
                }
            }
        }
        if let Some(mode) = d.file_mode() {
            if mode & !0o7777 != 0 {
                return Err(InvalidSpec::new(
                    format!("linux.devices[{i}].fileMode"),
                    "must only hold permission bits (0 to 07777)",
                ));
            }
        }
    }
    Ok(())
}

fn check_linux_paths(spec: &Spec) -> Result<(), InvalidSpec> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    for (key, paths) in [
        ("linux.maskedPaths", linux.masked_paths()),
        ("linux.readonlyPaths", linux.readonly_paths()),
    ] {
        for (i, p) in paths.iter().flatten().enumerate() {
            if !Path::new(p).is_absolute() {
                return Err(InvalidSpec::new(
                    format!("{key}[{i}]"),
                    format!("{p:?} must be an absolute path"),
                ));
            }
        }
    }
    Ok(())
}

fn check_rootfs_propagation(spec: &Spec) -> Result<(), InvalidSpec> {
    let prop = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref());
    match prop {
        None | Some("") => Ok(()),
        Some(
            "shared" | "slave" | "private" | "unbindable" | "rshared" | "rslave" | "rprivate"
            | "runbindable",
        ) => Ok(()),
        Some(other) => Err(InvalidSpec::new(
            "linux.rootfsPropagation",
            format!("{other:?} is not a propagation mode"),
        )),
    }
}

/// The path under /proc/sys a sysctl key names: dots separate components, unless the key
/// uses slashes (then dots are part of names, e.g. `net/ipv4/conf/eth0.1/forwarding`).
pub fn sysctl_path(key: &str) -> String {
    if key.contains('/') {
        key.trim_matches('/').to_string()
    } else {
        key.replace('.', "/")
    }
}

/// Only keys of a namespace the container has of its own may be set, as runc decides: IPC keys
/// need an IPC namespace, `net.*` a network namespace, `kernel.domainname` a UTS namespace
/// (`kernel.hostname` is refused in favour of `hostname`); everything else is host-wide.
fn check_sysctl(spec: &Spec) -> Result<(), InvalidSpec> {
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    let mut keys: Vec<&String> = sysctl.keys().collect();
    keys.sort();
    for key in keys {
        let field = format!("linux.sysctl.{key}");
        let path = sysctl_path(key);
        if path.is_empty()
            || path
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(InvalidSpec::new(field, "is not a valid sysctl name"));
        }
        let dotted = path.replace('/', ".");
        const IPC_KEYS: [&str; 8] = [
            "kernel.msgmax",
            "kernel.msgmnb",
            "kernel.msgmni",
            "kernel.sem",
            "kernel.shmall",
            "kernel.shmmax",
            "kernel.shmmni",
            "kernel.shm_rmid_forced",
        ];
        let need = if IPC_KEYS.contains(&dotted.as_str()) || dotted.starts_with("fs.mqueue.") {
            (LinuxNamespaceType::Ipc, "an IPC")
        } else if dotted.starts_with("net.") {
            (LinuxNamespaceType::Network, "a network")
        } else if dotted == "kernel.domainname" {
            (LinuxNamespaceType::Uts, "a UTS")
        } else if dotted == "kernel.hostname" {
            return Err(InvalidSpec::new(field, "use the hostname field instead"));
        } else {
            return Err(InvalidSpec::new(
                field,
                "is not in a namespace of the container's own (it would change the host)",
            ));
        };
        if !has_namespace(spec, need.0) {
            return Err(InvalidSpec::new(
                field,
                format!(
                    "needs {} namespace of the container's own (linux.namespaces)",
                    need.1
                ),
            ));
        }
    }
    Ok(())
}

fn check_net_devices(spec: &Spec) -> Result<(), InvalidSpec> {
    let Some(devs) = spec.linux().as_ref().and_then(|l| l.net_devices().as_ref()) else {
        return Ok(());
    };
    if devs.is_empty() {
        return Ok(());
    }
    if !has_namespace(spec, LinuxNamespaceType::Network) {
        return Err(InvalidSpec::new(
            "linux.netDevices",
            "needs a network namespace of the container's own (linux.namespaces)",
        ));
    }
    let valid = |n: &str| {
        !n.is_empty()
            && n.len() < 16
            && n != "."
            && n != ".."
            && !n.chars().any(|c| c == '/' || c == ':' || c.is_whitespace())
    };
    let mut keys: Vec<&String> = devs.keys().collect();
    keys.sort();
    for host in keys {
        if !valid(host) {
            return Err(InvalidSpec::new(
                format!("linux.netDevices.{host}"),
                "is not a valid interface name",
            ));
        }
        if let Some(n) = devs[host].name() {
            if !n.is_empty() && !valid(n) {
                return Err(InvalidSpec::new(
                    format!("linux.netDevices.{host}.name"),
                    format!("{n:?} is not a valid interface name"),
                ));
            }
        }
    }
    Ok(())
}

fn check_hooks(spec: &Spec) -> Result<(), InvalidSpec> {
    let Some(hooks) = spec.hooks() else {
        return Ok(());
    };
    let kinds = [
        ("prestart", hooks.prestart()),
        ("createRuntime", hooks.create_runtime()),
        ("createContainer", hooks.create_container()),
        ("startContainer", hooks.start_container()),
        ("poststart", hooks.poststart()),
        ("poststop", hooks.poststop()),
    ];
    for (kind, list) in kinds {
        for (i, h) in list.iter().flatten().enumerate() {
            if !h.path().is_absolute() {
                return Err(InvalidSpec::new(
                    format!("hooks.{kind}[{i}].path"),
                    format!("{:?} must be an absolute path", h.path()),
                ));
            }
            if let Some(t) = h.timeout() {
                if t <= 0 {
                    return Err(InvalidSpec::new(
                        format!("hooks.{kind}[{i}].timeout"),
                        "must be greater than zero",
                    ));
                }
            }
        }
    }
    Ok(())
}

fn check_hugepages(spec: &Spec) -> Result<(), InvalidSpec> {
    let limits = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.hugepage_limits().as_ref());
    for (i, h) in limits.into_iter().flatten().enumerate() {
        let size = h.page_size();
        let ok = size.len() >= 3
            && size.ends_with('B')
            && matches!(size.as_bytes()[size.len() - 2], b'K' | b'M' | b'G')
            && size.as_bytes()[0] != b'0'
            && size[..size.len() - 2].bytes().all(|b| b.is_ascii_digit());
        if !ok {
            return Err(InvalidSpec::new(
                format!("linux.resources.hugepageLimits[{i}].pageSize"),
                format!("{size:?} does not match <size>KB|MB|GB (e.g. 2MB)"),
            ));
        }
    }
    Ok(())
}

/// Is the user namespace requested (new or joined)?
pub fn wants_user_namespace(spec: &Spec) -> bool {
    has_namespace(spec, LinuxNamespaceType::User)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse;

    fn base() -> serde_json::Value {
        serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "process": {"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0}},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}]}
        })
    }

    fn check(v: serde_json::Value) -> Result<(), InvalidSpec> {
        let spec = parse(v.to_string().as_bytes()).expect("parses");
        validate(&spec)
    }

    fn with(mut v: serde_json::Value, f: impl FnOnce(&mut serde_json::Value)) -> serde_json::Value {
        f(&mut v);
        v
    }

    #[test]
    fn base_is_valid() {
        check(base()).unwrap();
    }

    #[test]
    fn semver() {
        for ok in [
            "1.0.0",
            "1.3.0",
            "1.0.2-dev",
            "1.2.0-rc.1+build.5",
            "10.20.30",
        ] {
            assert!(is_semver(ok), "{ok}");
        }
        for bad in ["1.0", "01.0.0", "1.0.0-", "a.b.c", "1.0.0+", "", "1..0"] {
            assert!(!is_semver(bad), "{bad}");
        }
        let e = check(with(base(), |v| v["ociVersion"] = "1.0".into())).unwrap_err();
        assert_eq!(e.path, "ociVersion");
        let e = check(with(base(), |v| v["ociVersion"] = "2.0.0".into())).unwrap_err();
        assert_eq!(e.path, "ociVersion");
    }

    #[test]
    fn process_rules() {
        let e = check(with(base(), |v| {
            v["process"]["args"] = serde_json::json!([])
        }))
        .unwrap_err();
        assert_eq!(e.to_string(), "process.args: must not be empty");
        let e = check(with(base(), |v| v["process"]["cwd"] = "rel".into())).unwrap_err();
        assert_eq!(e.path, "process.cwd");
        let e = check(with(base(), |v| {
            v["process"]["env"] = serde_json::json!(["A=1", "B"])
        }))
        .unwrap_err();
        assert_eq!(e.path, "process.env[1]");
        let e = check(with(base(), |v| {
            v.as_object_mut().unwrap().remove("process");
        }))
        .unwrap_err();
        assert_eq!(e.path, "process");
        let e = check(with(base(), |v| v["process"]["oomScoreAdj"] = 1001.into())).unwrap_err();
        assert_eq!(e.path, "process.oomScoreAdj");
    }

    #[test]
    fn rlimits() {
        let e = check(with(base(), |v| {
            v["process"]["rlimits"] = serde_json::json!([
                {"type": "RLIMIT_NOFILE", "soft": 10, "hard": 10},
                {"type": "RLIMIT_NOFILE", "soft": 10, "hard": 10}
            ])
        }))
        .unwrap_err();
        assert_eq!(e.path, "process.rlimits[1].type");
        let e = check(with(
            base(),
            |v| {
                v["process"]["rlimits"] =
                    serde_json::json!([{"type": "RLIMIT_NOFILE", "soft": 11, "hard": 10}])
            },
        ))
        .unwrap_err();
        assert_eq!(e.path, "process.rlimits[0]");
    }

    #[test]
    fn namespace_rules() {
        let e = check(with(base(), |v| {
            v["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}, {"type": "pid"}])
        }))
        .unwrap_err();
        assert_eq!(e.path, "linux.namespaces[1].type");
        let e = check(with(base(), |v| {
            v["linux"]["namespaces"] = serde_json::json!([{"type": "network", "path": "x"}])
        }))
        .unwrap_err();
        assert_eq!(e.path, "linux.namespaces[0].path");
        let e = check(with(base(), |v| {
            v["linux"]["namespaces"] = serde_json::json!([{"type": "user"}])
        }))
        .unwrap_err();
        assert_eq!(e.path, "linux.uidMappings");
        let e =
            check(with(
                base(),
                |v| {
                    v["linux"]["uidMappings"] =
                        serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 1}])
                },
            ))
            .unwrap_err();
        assert_eq!(e.path, "linux.uidMappings");
    }

    #[test]
    fn hostname_needs_uts() {
        check(with(base(), |v| v["hostname"] = "box".into())).unwrap();
        let e = check(with(base(), |v| {
            v["hostname"] = "box".into();
            v["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}]);
        }))
        .unwrap_err();
        assert_eq!(e.path, "hostname");
    }

    #[test]
    fn time_offsets_need_time_ns() {
        let e = check(with(base(), |v| {
            v["linux"]["timeOffsets"] = serde_json::json!({"monotonic": {"secs": 1}})
        }))
        .unwrap_err();
        assert_eq!(e.path, "linux.timeOffsets");
        let e = check(with(base(), |v| {
            v["linux"]["namespaces"] = serde_json::json!([{"type": "time"}]);
            v["linux"]["timeOffsets"] = serde_json::json!({"realtime": {"secs": 1}})
        }))
        .unwrap_err();
        assert_eq!(e.path, "linux.timeOffsets.realtime");
    }

    #[test]
    fn hugepage_page_size_pattern() {
        let e = check(with(
            base(),
            |v| {
                v["linux"]["resources"] =
                    serde_json::json!({"hugepageLimits": [{"pageSize": "64kB", "limit": 1}]})
            },
        ))
        .unwrap_err();
        assert_eq!(e.path, "linux.resources.hugepageLimits[0].pageSize");
        check(with(
            base(),
            |v| {
                v["linux"]["resources"] =
                    serde_json::json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]})
            },
        ))
        .unwrap();
    }

    #[test]
    fn device_rules() {
        let e = check(with(
            base(),
            |v| {
                v["linux"]["devices"] =
                    serde_json::json!([{"type": "c", "path": "dev/x", "major": 1, "minor": 3}])
            },
        ))
        .unwrap_err();
        assert_eq!(e.path, "linux.devices[0].path");
        let e = check(with(base(), |v| {
            v["linux"]["devices"] = serde_json::json!([{"type": "a", "path": "/dev/x"}])
        }))
        .unwrap_err();
        assert_eq!(e.path, "linux.devices[0].type");
    }

    #[test]
    fn sysctl_only_namespaced_keys() {
        let with_ns = |ns: serde_json::Value, key: &str| {
            check(with(base(), |v| {
                v["linux"]["namespaces"] = ns;
                v["linux"]["sysctl"] = serde_json::json!({key: "1"});
            }))
        };
        let all = serde_json::json!([{"type": "ipc"}, {"type": "network"}, {"type": "uts"}, {"type": "mount"}]);
        for ok in [
            "net.ipv4.ip_forward",
            "kernel.shmmax",
            "fs.mqueue.msg_max",
            "kernel.domainname",
            "net/ipv4/conf/eth0.1/forwarding",
        ] {
            with_ns(all.clone(), ok).unwrap();
        }
        let e = with_ns(
            serde_json::json!([{"type": "mount"}]),
            "net.ipv4.ip_forward",
        )
        .unwrap_err();
        assert_eq!(e.path, "linux.sysctl.net.ipv4.ip_forward");
        assert!(e.msg.contains("network namespace"));
        assert!(with_ns(serde_json::json!([{"type": "mount"}]), "kernel.sem").is_err());
        assert!(with_ns(all.clone(), "vm.swappiness").is_err());
        assert!(with_ns(all.clone(), "kernel.hostname").is_err());
        assert!(with_ns(all, "net.ipv4/../../x").is_err());
        assert_eq!(sysctl_path("net.ipv4.ip_forward"), "net/ipv4/ip_forward");
    }

    #[test]
    fn mounts_and_hooks() {
        let e =
            check(with(
                base(),
                |v| v["mounts"] = serde_json::json!([{"destination": "/a", "options": ["bind"]}]),
            ))
            .unwrap_err();
        assert_eq!(e.path, "mounts[0].source");
        let e = check(with(base(), |v| {
            v["hooks"] = serde_json::json!({"poststart": [{"path": "rel"}]})
        }))
        .unwrap_err();
        assert_eq!(e.path, "hooks.poststart[0].path");
        let e = check(with(
            base(),
            |v| v["hooks"] = serde_json::json!({"poststop": [{"path": "/bin/true", "timeout": 0}]}),
        ))
        .unwrap_err();
        assert_eq!(e.path, "hooks.poststop[0].timeout");
        let e = check(with(base(), |v| {
            v["linux"]["rootfsPropagation"] = "bogus".into()
        }))
        .unwrap_err();
        assert_eq!(e.path, "linux.rootfsPropagation");
    }
}
