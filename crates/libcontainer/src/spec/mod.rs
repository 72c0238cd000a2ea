//! Loading `config.json`: bytes → JSON → required-field check → typed [`Spec`], every error naming
//! the JSON path of the offending field. Validation of the typed spec is in [`validate`].

pub mod validate;

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use serde_json::Value;

pub use validate::{validate, InvalidSpec};

/// Why `config.json` could not be turned into a [`Spec`].
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("JSON specification file {path} not found")]
    NotFound { path: PathBuf },
    #[error("reading {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config.json: invalid JSON")]
    Json(#[source] serde_json::Error),
    #[error("config.json: {path}: {msg}")]
    Field { path: String, msg: String },
    #[error(transparent)]
    Invalid(#[from] InvalidSpec),
}

/// A parsed config.json.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub spec: Spec,
    /// The bytes as read (kept in the state directory: later commands see the config as it
    /// was at create time).
    pub raw: Vec<u8>,
    /// Things accepted but worth a warning (e.g. unknown capability names, dropped as runc does).
    pub warnings: Vec<String>,
}

/// Read and parse `<bundle>/config.json`.
pub fn load(bundle: &Path) -> Result<Loaded, SpecError> {
    let path = bundle.join("config.json");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SpecError::NotFound { path })
        }
        Err(source) => return Err(SpecError::Read { path, source }),
    };
    let (spec, warnings) = parse_with_warnings(&bytes)?;
    Ok(Loaded {
        spec,
        raw: bytes,
        warnings,
    })
}

/// Read the copy of config.json kept in a container's state directory.
pub fn load_copy(path: &Path) -> Result<Spec, SpecError> {
    let bytes = std::fs::read(path).map_err(|source| SpecError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&bytes)
}

/// Parse config.json bytes into a [`Spec`] (no semantic validation beyond types and required
/// fields; see [`validate`]).
pub fn parse(bytes: &[u8]) -> Result<Spec, SpecError> {
    parse_with_warnings(bytes).map(|(s, _)| s)
}

/// [`parse`], also returning warnings about what was dropped.
pub fn parse_with_warnings(bytes: &[u8]) -> Result<(Spec, Vec<String>), SpecError> {
    let mut value: Value = serde_json::from_slice(bytes).map_err(SpecError::Json)?;
    if !value.is_object() {
        return Err(SpecError::Field {
            path: "(root)".into(),
            msg: "must be a JSON object".into(),
        });
    }
    check_required(&value).map_err(|(path, msg)| SpecError::Field { path, msg })?;
    let warnings = drop_unknown_capabilities(&mut value);
    fix_scheduler_flag_names(&mut value);
    let spec = serde_path_to_error::deserialize::<_, Spec>(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        SpecError::Field {
            path: if path == "." { "(root)".into() } else { path },
            msg: inner,
        }
    })?;
    Ok((spec, warnings))
}

/// oci-spec 0.10 deserialises two of the spec's scheduler flags under other names
/// (`SCHED_RESET_ON_FORK`, `SCHED_FLAG_D_L_OVERRUN`); translate the spec's names to them so that
/// configs written to the spec parse.
fn fix_scheduler_flag_names(root: &mut Value) {
    let Some(Value::Array(flags)) = root
        .get_mut("process")
        .and_then(|p| p.get_mut("scheduler"))
        .and_then(|s| s.get_mut("flags"))
    else {
        return;
    };
    for f in flags {
        let renamed = match f.as_str() {
            Some("SCHED_FLAG_RESET_ON_FORK") => "SCHED_RESET_ON_FORK",
            Some("SCHED_FLAG_DL_OVERRUN") => "SCHED_FLAG_D_L_OVERRUN",
            _ => continue,
        };
        *f = Value::from(renamed);
    }
}

/// runc ignores capability names it does not know (with a warning) so that configs written
/// for newer kernels still run; do the same before the typed parse would reject them.
fn drop_unknown_capabilities(root: &mut Value) -> Vec<String> {
    let mut unknown = Vec::new();
    let Some(caps) = root
        .get_mut("process")
        .and_then(|p| p.get_mut("capabilities"))
        .and_then(|c| c.as_object_mut())
    else {
        return unknown;
    };
    for set in [
        "bounding",
        "effective",
        "inheritable",
        "permitted",
        "ambient",
    ] {
        if let Some(Value::Array(list)) = caps.get_mut(set) {
            list.retain(|v| {
                let known =
                    serde_json::from_value::<oci_spec::runtime::Capability>(v.clone()).is_ok();
                if !known {
                    let name = v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string());
                    if !unknown.contains(&name) {
                        unknown.push(name);
                    }
                }
                known || !v.is_string()
            });
        }
    }
    if unknown.is_empty() {
        vec![]
    } else {
        vec![format!(
            "ignoring unknown or unavailable capabilities: [{}]",
            unknown.join(" ")
        )]
    }
}

/// Required properties of the config schema (config-schema.json, defs*.json) that oci-spec would
/// otherwise fill with defaults. Each entry: JSON pointer-ish pattern and the required keys.
fn check_required(root: &Value) -> Result<(), (String, String)> {
    fn need(obj: &Value, path: &str, keys: &[&str]) -> Result<(), (String, String)> {
        let Some(map) = obj.as_object() else {
            return Err((path.to_string(), "must be an object".into()));
        };
        for k in keys {
            if !map.contains_key(*k) {
                let p = if path.is_empty() {
                    (*k).to_string()
                } else {
                    format!("{path}.{k}")
                };
                return Err((p, "required field is missing".into()));
            }
        }
        Ok(())
    }
    fn each<'a>(
        v: Option<&'a Value>,
        path: &str,
    ) -> Result<Vec<(String, &'a Value)>, (String, String)> {
        match v {
            None | Some(Value::Null) => Ok(vec![]),
            Some(Value::Array(items)) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, item)| (format!("{path}[{i}]"), item))
                .collect()),
            Some(_) => Err((path.to_string(), "must be an array".into())),
        }
    }
    fn present<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
        v.get(key).filter(|x| !x.is_null())
    }

    need(root, "", &["ociVersion"])?;
    if let Some(r) = present(root, "root") {
        need(r, "root", &["path"])?;
    }
    for (p, m) in each(root.get("mounts"), "mounts")? {
        need(m, &p, &["destination"])?;
        for (pp, idm) in each(m.get("uidMappings"), &format!("{p}.uidMappings"))? {
            need(idm, &pp, &["containerID", "hostID", "size"])?;
        }
        for (pp, idm) in each(m.get("gidMappings"), &format!("{p}.gidMappings"))? {
            need(idm, &pp, &["containerID", "hostID", "size"])?;
        }
    }
    if let Some(proc_) = present(root, "process") {
        // `user` is REQUIRED on POSIX platforms (config.md, "POSIX process").
        need(proc_, "process", &["cwd", "user"])?;
        if let Some(u) = present(proc_, "user") {
            need(u, "process.user", &["uid", "gid"])?;
        }
        if let Some(c) = present(proc_, "consoleSize") {
            need(c, "process.consoleSize", &["height", "width"])?;
        }
        if let Some(c) = present(proc_, "ioPriority") {
            need(c, "process.ioPriority", &["class"])?;
        }
        if let Some(c) = present(proc_, "scheduler") {
            need(c, "process.scheduler", &["policy"])?;
        }
        for (p, r) in each(proc_.get("rlimits"), "process.rlimits")? {
            need(r, &p, &["type", "soft", "hard"])?;
        }
    }
    if let Some(hooks) = present(root, "hooks") {
        for kind in [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop",
        ] {
            for (p, h) in each(hooks.get(kind), &format!("hooks.{kind}"))? {
                need(h, &p, &["path"])?;
            }
        }
    }
    if let Some(linux) = present(root, "linux") {
        for key in ["uidMappings", "gidMappings"] {
            for (p, m) in each(linux.get(key), &format!("linux.{key}"))? {
                need(m, &p, &["containerID", "hostID", "size"])?;
            }
        }
        for (p, n) in each(linux.get("namespaces"), "linux.namespaces")? {
            need(n, &p, &["type"])?;
        }
        for (p, d) in each(linux.get("devices"), "linux.devices")? {
            need(d, &p, &["type", "path"])?;
            if matches!(d.get("type").and_then(Value::as_str), Some("c" | "b" | "u")) {
                need(d, &p, &["major", "minor"])?;
            }
        }
        if let Some(sc) = present(linux, "seccomp") {
            need(sc, "linux.seccomp", &["defaultAction"])?;
            for (p, s) in each(sc.get("syscalls"), "linux.seccomp.syscalls")? {
                need(s, &p, &["names", "action"])?;
                for (pa, a) in each(s.get("args"), &format!("{p}.args"))? {
                    need(a, &pa, &["index", "value", "op"])?;
                }
            }
        }
        if let Some(res) = present(linux, "resources") {
            let base = "linux.resources";
            if let Some(pids) = present(res, "pids") {
                need(pids, &format!("{base}.pids"), &["limit"])?;
            }
            for (p, h) in each(res.get("hugepageLimits"), &format!("{base}.hugepageLimits"))? {
                need(h, &p, &["pageSize", "limit"])?;
            }
            for (p, d) in each(res.get("devices"), &format!("{base}.devices"))? {
                need(d, &p, &["allow"])?;
            }
            if let Some(bio) = present(res, "blockIO") {
                for key in [
                    "weightDevice",
                    "throttleReadBpsDevice",
                    "throttleWriteBpsDevice",
                    "throttleReadIOPSDevice",
                    "throttleWriteIOPSDevice",
                ] {
                    for (p, d) in each(bio.get(key), &format!("{base}.blockIO.{key}"))? {
                        need(d, &p, &["major", "minor"])?;
                    }
                }
            }
            if let Some(net) = present(res, "network") {
                for (p, pr) in each(net.get("priorities"), &format!("{base}.network.priorities"))? {
                    need(pr, &p, &["name", "priority"])?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> String {
        parse(json.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn minimal_parses() {
        let s = parse(br#"{"ociVersion":"1.0.0","root":{"path":"rootfs"}}"#).unwrap();
        assert_eq!(s.version(), "1.0.0");
    }

    #[test]
    fn invalid_json_is_reported() {
        assert!(err("{]").starts_with("config.json: invalid JSON"));
    }

    #[test]
    fn missing_required_fields_are_named() {
        assert_eq!(
            err(r#"{"root":{"path":"r"}}"#),
            "config.json: ociVersion: required field is missing"
        );
        assert_eq!(
            err(r#"{"ociVersion":"1.0.0","process":{"args":["sh"],"user":{"uid":0,"gid":0}}}"#),
            "config.json: process.cwd: required field is missing"
        );
        assert_eq!(
            err(r#"{"ociVersion":"1.0.0","mounts":[{"destination":"/a"},{"type":"tmpfs"}]}"#),
            "config.json: mounts[1].destination: required field is missing"
        );
        assert_eq!(
            err(r#"{"ociVersion":"1.0.0","linux":{"resources":{"hugepageLimits":[{"limit":1}]}}}"#),
            "config.json: linux.resources.hugepageLimits[0].pageSize: required field is missing"
        );
    }

    #[test]
    fn wrong_types_name_the_field() {
        let e = err(r#"{"ociVersion":"1.0.0","linux":{"netDevices":{"eth0":{"name":23}}}}"#);
        assert!(e.contains("linux.netDevices.eth0.name"), "{e}");
        let e = err(
            r#"{"ociVersion":"1.0.0","linux":{"resources":{"rdma":{"mlx5_1":{"hcaHandles":"x"}}}}}"#,
        );
        assert!(e.contains("linux.resources.rdma.mlx5_1.hcaHandles"), "{e}");
        let e = err(
            r#"{"ociVersion":"1.0.0","process":{"cwd":"/","args":"sh","user":{"uid":0,"gid":0}}}"#,
        );
        assert!(e.contains("process.args"), "{e}");
    }

    #[test]
    fn unknown_capabilities_are_dropped_with_a_warning() {
        let (s, w) = parse_with_warnings(
            br#"{"ociVersion":"1.0.0","process":{"cwd":"/","user":{"uid":0,"gid":0},"capabilities":{"bounding":["CAP_KILL","CAP_FOO"]}}}"#,
        )
        .unwrap();
        let b = s
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .as_ref()
            .unwrap();
        assert_eq!(b.bounding().as_ref().unwrap().len(), 1);
        assert_eq!(
            w,
            vec!["ignoring unknown or unavailable capabilities: [CAP_FOO]".to_string()]
        );
    }

    #[test]
    fn not_an_object() {
        assert_eq!(err("[]"), "config.json: (root): must be a JSON object");
    }
}
