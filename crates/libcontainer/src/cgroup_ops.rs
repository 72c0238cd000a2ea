//! The cgroup commands of a running container, as [`Runtime`] methods: `pause`, `resume`,
//! `update`, `ps` ([`Runtime::pids`]) and `events` ([`Runtime::stats_event`],
//! [`Runtime::events`]). Error messages follow runc's where clients match on them ("container
//! not running", "container not paused").
//!
//! `update` takes a [`ResourceUpdate`]: only the fields it carries change. The update is merged
//! into the `linux.resources` of the config copy in the state directory (objects field by
//! field, arrays and values replaced), the merged resources are written to the cgroup (like
//! runc, every value again, so interdependent values such as memory and memory+swap or quota
//! and period are written together in the right order; device rules only when the update has
//! them), and then the merged config is saved so later updates start from it.
//!
//! `events` multiplexes three things with `poll`: the OOM watcher's descriptor, a pidfd of the
//! init (the loop ends when the container stops) and the stats interval.

use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::cgroups::{Cgroup, CgroupError, OomEvent, Stats};
use crate::container::{Error, Runtime};
use crate::resctrl::{self, RdtError, SavedRdt};
use crate::state::{self, liveness, ContainerState, Liveness, StateError, Status, CONFIG_COPY};
use crate::sys;

/// Errors of the cgroup commands.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    Runtime(#[from] Error),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error(transparent)]
    Rdt(#[from] RdtError),
    /// `resume` of a container that is not paused (runc's message).
    #[error("container not paused")]
    NotPaused,
    /// `events` of a stopped container (runc's message).
    #[error("container with id {0} is not running")]
    EventsNotRunning(String),
    /// The cgroup was frozen but holds no process (runc's check after `pause`).
    #[error("container process already exited")]
    AlreadyExited,
    #[error("container {0} has no cgroup")]
    NoCgroup(String),
    /// A resources document that is not a valid `linux.resources` object.
    #[error("{field}: {reason}")]
    BadResources { field: String, reason: String },
    #[error("duration interval must be greater than 0")]
    Interval,
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("{what}")]
    Sys {
        what: String,
        #[source]
        source: Errno,
    },
    #[error("corrupt config copy {}", path.display())]
    ConfigCopy {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// Applying an update failed; the previous values were written back.
    #[error("updating the resources of container {id}")]
    Update {
        id: String,
        #[source]
        source: CgroupError,
    },
}

impl From<StateError> for OpsError {
    fn from(e: StateError) -> Self {
        OpsError::Runtime(e.into())
    }
}

type Result<T, E = OpsError> = std::result::Result<T, E>;

const RESOURCES: &str = "linux.resources";

/// Fields where runc's configuration cannot say "absent" and `0` means "leave as is"
/// (`runc update -r` documents a template full of zeros).
const ZERO_IS_UNSET: &[(&str, &str)] = &[
    ("memory", "limit"),
    ("memory", "reservation"),
    ("memory", "swap"),
    ("memory", "kernel"),
    ("memory", "kernelTCP"),
    ("cpu", "shares"),
    ("cpu", "quota"),
    ("cpu", "period"),
    ("cpu", "realtimeRuntime"),
    ("cpu", "realtimePeriod"),
    ("blockIO", "weight"),
    ("blockIO", "leafWeight"),
];
/// String fields where `""` means "leave as is".
const EMPTY_IS_UNSET: &[(&str, &str)] = &[("cpu", "cpus"), ("cpu", "mems")];

/// A change to a running container's resources: the `linux.resources` fields to set (only those
/// present change) and the Intel RDT schemata of `--l3-cache-schema` / `--mem-bw-schema`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceUpdate {
    delta: Map<String, Value>,
    pub l3_cache_schema: Option<String>,
    pub mem_bw_schema: Option<String>,
}

impl ResourceUpdate {
    /// From a `linux.resources` JSON document (`update -r FILE`). Values that mean "unchanged"
    /// are dropped: `null`, the zeros runc treats as unset, empty cpu/mem lists and a `pids`
    /// object without `limit` (runtime-spec 1.3: absent means no change, `0` is a real limit).
    pub fn from_json(bytes: &[u8]) -> Result<ResourceUpdate> {
        let v: Value = serde_json::from_slice(bytes).map_err(|e| OpsError::BadResources {
            field: RESOURCES.into(),
            reason: e.to_string(),
        })?;
        Self::from_value(v)
    }

    /// From a JSON value shaped like `linux.resources` (see [`ResourceUpdate::from_json`]).
    pub fn from_value(v: Value) -> Result<ResourceUpdate> {
        let Value::Object(mut delta) = v else {
            return Err(OpsError::BadResources {
                field: RESOURCES.into(),
                reason: "must be a JSON object".into(),
            });
        };
        normalize(&mut delta);
        // runc: an unlimited memory limit without an explicit swap value makes swap unlimited
        // too (cgroup v1 would refuse memory+swap below the limit).
        if let Some(Value::Object(m)) = delta.get_mut("memory") {
            if m.get("limit").and_then(Value::as_i64) == Some(-1) && !m.contains_key("swap") {
                m.insert("swap".into(), Value::from(-1));
            }
        }
        parse_resources(&Value::Object(delta.clone()))?;
        Ok(ResourceUpdate {
            delta,
            l3_cache_schema: None,
            mem_bw_schema: None,
        })
    }

    /// From typed resources (an embedder's request): every field that is set changes, with
    /// the same rules for "unchanged" values as [`ResourceUpdate::from_json`].
    pub fn from_resources(r: &LinuxResources) -> Result<ResourceUpdate> {
        let v = serde_json::to_value(r).map_err(|e| OpsError::BadResources {
            field: RESOURCES.into(),
            reason: e.to_string(),
        })?;
        Self::from_value(v)
    }

    /// The `linux.resources` fields this update sets.
    pub fn delta(&self) -> &Map<String, Value> {
        &self.delta
    }

    /// Nothing to change.
    pub fn is_empty(&self) -> bool {
        self.delta.is_empty() && self.l3_cache_schema.is_none() && self.mem_bw_schema.is_none()
    }
}

/// Drops what means "unchanged" (pure; see [`ResourceUpdate::from_json`]).
fn normalize(r: &mut Map<String, Value>) {
    drop_nulls(r);
    for (obj, key) in ZERO_IS_UNSET {
        if let Some(Value::Object(o)) = r.get_mut(*obj) {
            if o.get(*key).and_then(Value::as_f64) == Some(0.0) {
                o.remove(*key);
            }
        }
    }
    for (obj, key) in EMPTY_IS_UNSET {
        if let Some(Value::Object(o)) = r.get_mut(*obj) {
            if o.get(*key).and_then(Value::as_str) == Some("") {
                o.remove(*key);
            }
        }
    }
    if let Some(Value::Object(p)) = r.get("pids") {
        if !p.contains_key("limit") {
            r.remove("pids");
        }
    }
}

fn drop_nulls(m: &mut Map<String, Value>) {
    m.retain(|_, v| !v.is_null());
    for v in m.values_mut() {
        if let Value::Object(o) = v {
            drop_nulls(o);
        }
    }
}

/// `delta` merged into `base`: objects field by field, everything else (values, arrays such as
/// the device rules or hugepage limits) replaced (pure).
pub fn merge(base: &mut Value, delta: &Value) {
    match (base, delta) {
        (Value::Object(b), Value::Object(d)) => {
            for (k, v) in d {
                match b.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, d) => *b = d.clone(),
    }
}

/// Parses a `linux.resources` value, naming the field of the first error.
fn parse_resources(v: &Value) -> Result<LinuxResources> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        OpsError::BadResources {
            field: if path == "." {
                RESOURCES.to_string()
            } else {
                format!("{RESOURCES}.{path}")
            },
            reason: e.into_inner().to_string(),
        }
    })
}

/// The saved resources merged with an update, and what to write to the cgroup (pure).
#[derive(Debug, Clone, PartialEq)]
pub struct UpdatePlan {
    /// The new `linux.resources` of the config copy.
    pub merged: Value,
    /// What [`Cgroup::update`] gets: the merged resources, without device rules unless the
    /// update changes them.
    pub apply: Value,
    /// What is written back if applying fails: the saved resources, without device rules.
    pub restore: Value,
}

/// Plans an update of `saved` (the config copy's `linux.resources`, or null) (pure).
pub fn plan_update(saved: &Value, update: &ResourceUpdate) -> UpdatePlan {
    let mut base = match saved {
        Value::Object(m) => {
            let mut m = m.clone();
            normalize(&mut m);
            Value::Object(m)
        }
        _ => Value::Object(Map::new()),
    };
    let restore = without_devices(&base);
    merge(&mut base, &Value::Object(update.delta.clone()));
    let apply = if update.delta.contains_key("devices") {
        base.clone()
    } else {
        without_devices(&base)
    };
    UpdatePlan {
        merged: base,
        apply,
        restore,
    }
}

fn without_devices(v: &Value) -> Value {
    let mut v = v.clone();
    if let Value::Object(m) = &mut v {
        m.remove("devices");
    }
    v
}

/// What `events` prints: runc's `{"type":"stats","id":...,"data":{...}}` and
/// `{"type":"oom","id":...}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Stats>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Stats,
    Oom,
}

impl Runtime {
    fn loaded_cgroup(&self, st: &ContainerState) -> Result<Cgroup> {
        self.cgroup(st)?
            .ok_or_else(|| OpsError::NoCgroup(st.id.clone()))
    }

    /// `pause <id>`: freezes every process of a created or running container.
    pub fn pause(&self, id: &str) -> Result<()> {
        let _lock = self.store.lock(id)?;
        let st = self.store.load(id)?;
        match self.status(&st) {
            Status::Created | Status::Running => {}
            _ => return Err(Error::NotRunning.into()),
        }
        let cg = self.loaded_cgroup(&st)?;
        cg.freeze()?;
        // The init may have exited between the status check and the freeze.
        if cg.pids()?.is_empty() {
            return Err(OpsError::AlreadyExited);
        }
        Ok(())
    }

    /// `resume <id>`: thaws a paused container.
    pub fn resume(&self, id: &str) -> Result<()> {
        let _lock = self.store.lock(id)?;
        let st = self.store.load(id)?;
        if self.status(&st) != Status::Paused {
            return Err(OpsError::NotPaused);
        }
        self.loaded_cgroup(&st)?.thaw()?;
        Ok(())
    }

    /// `ps <id>`: the host pids of every process in the container's cgroup.
    pub fn pids(&self, id: &str) -> Result<Vec<i32>> {
        let st = self.store.load(id)?;
        Ok(self.loaded_cgroup(&st)?.pids()?)
    }

    /// `update <id>`: applies `update` to a created, running or paused container and records
    /// the result in the config copy. On failure the previous values are written back.
    pub fn update(&self, id: &str, update: &ResourceUpdate) -> Result<()> {
        let _lock = self.store.lock(id)?;
        let mut st = self.store.load(id)?;
        if matches!(self.status(&st), Status::Stopped | Status::Creating) {
            return Err(Error::NotRunning.into());
        }
        let cg = self.loaded_cgroup(&st)?;
        let config_path = self.store.dir(id).join(CONFIG_COPY);
        let mut config = read_config_copy(&config_path)?;
        let saved = config
            .pointer("/linux/resources")
            .cloned()
            .unwrap_or(Value::Null);
        let plan = plan_update(&saved, update);

        if !update.delta.is_empty() {
            let apply = parse_resources(&plan.apply)?;
            if let Err(source) = cg.update(&apply) {
                match parse_resources(&plan.restore).map(|r| cg.update(&r)) {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => log::warn!("writing back the previous resources: {e}"),
                    Err(e) => log::warn!("writing back the previous resources: {e}"),
                }
                return Err(OpsError::Update {
                    id: id.to_string(),
                    source,
                });
            }
            set_resources(&mut config, plan.merged);
        }
        if update.l3_cache_schema.is_some() || update.mem_bw_schema.is_some() {
            let root = resctrl::find_mount(
                &std::fs::read_to_string(self.proc_root.join("self/mountinfo")).map_err(
                    |source| OpsError::Io {
                        what: "reading /proc/self/mountinfo".into(),
                        source,
                    },
                )?,
            );
            let root = root.ok_or(RdtError::NoResctrl)?;
            if let Some(new) = update_rdt(&root, &st, update)? {
                st.rdt = Some(new);
                self.store.save(&st)?;
            }
            set_rdt(&mut config, update);
        }
        write_config_copy(&config_path, &config)
    }

    /// `events --stats <id>`: one stats event.
    pub fn stats_event(&self, id: &str) -> Result<Event> {
        let st = self.store.load(id)?;
        if self.status(&st) == Status::Stopped {
            return Err(OpsError::EventsNotRunning(id.to_string()));
        }
        let cg = self.loaded_cgroup(&st)?;
        Ok(Event {
            kind: EventKind::Stats,
            id: id.to_string(),
            data: Some(cg.stats()?),
        })
    }

    /// `events <id>`: calls `emit` with a stats event every `interval` and an OOM event for
    /// each OOM notification, until the container's init exits or its cgroup is removed.
    /// Failing to read the stats is logged and the loop goes on (as runc does); an error from
    /// `emit` ends it.
    pub fn events(
        &self,
        id: &str,
        interval: Duration,
        mut emit: impl FnMut(&Event) -> io::Result<()>,
    ) -> Result<()> {
        if interval.is_zero() {
            return Err(OpsError::Interval);
        }
        let st = self.store.load(id)?;
        if self.status(&st) == Status::Stopped {
            return Err(OpsError::EventsNotRunning(id.to_string()));
        }
        let cg = self.loaded_cgroup(&st)?;
        let pidfd = match sys::pidfd_open(Pid::from_raw(st.pid)) {
            Ok(fd) => fd,
            Err(Errno::ESRCH) => return Err(OpsError::EventsNotRunning(id.to_string())),
            Err(source) => {
                return Err(OpsError::Sys {
                    what: format!("opening a pidfd for process {}", st.pid),
                    source,
                })
            }
        };
        if liveness(&self.proc_root, st.pid, st.pid_start_time) != Liveness::Alive {
            return Err(OpsError::EventsNotRunning(id.to_string()));
        }
        let mut oom = cg.oom_events()?;
        let emit_err = |source| OpsError::Io {
            what: "writing an event".into(),
            source,
        };
        let oom_event = || Event {
            kind: EventKind::Oom,
            id: id.to_string(),
            data: None,
        };
        let mut next = Instant::now() + interval;
        loop {
            let wait = next.saturating_duration_since(Instant::now());
            let (oom_ready, exited) = {
                let mut fds = [
                    PollFd::new(oom.as_fd(), PollFlags::POLLIN),
                    PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
                ];
                match poll(
                    &mut fds,
                    PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX),
                ) {
                    Ok(_) => {}
                    Err(Errno::EINTR) => continue,
                    Err(source) => {
                        return Err(OpsError::Sys {
                            what: "waiting for events".into(),
                            source,
                        })
                    }
                }
                let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
                (ready(&fds[0]), ready(&fds[1]))
            };
            if oom_ready || exited {
                // Report every pending OOM first: the OOM may be what ended the init.
                loop {
                    match oom.wait(Some(Duration::ZERO))? {
                        Some(OomEvent::Oom { .. }) => emit(&oom_event()).map_err(emit_err)?,
                        Some(OomEvent::Gone) => return Ok(()),
                        None => break,
                    }
                }
            }
            if exited {
                return Ok(());
            }
            if Instant::now() >= next {
                match cg.stats() {
                    Ok(data) => emit(&Event {
                        kind: EventKind::Stats,
                        id: id.to_string(),
                        data: Some(data),
                    })
                    .map_err(emit_err)?,
                    Err(e) => log::error!("{e}"),
                }
                next += interval;
                if next < Instant::now() {
                    next = Instant::now() + interval;
                }
            }
        }
    }
}

/// Applies `--l3-cache-schema` / `--mem-bw-schema` under the resctrl mount `root`: into the
/// container's class if it has one, else a new class of its own with the init in it (returned,
/// for the state file).
fn update_rdt(
    root: &Path,
    st: &ContainerState,
    update: &ResourceUpdate,
) -> Result<Option<SavedRdt>> {
    let lines: Vec<&String> = update
        .l3_cache_schema
        .iter()
        .chain(update.mem_bw_schema.iter())
        .collect();
    let mut rdt = Map::new();
    if let Some(l3) = &update.l3_cache_schema {
        rdt.insert("l3CacheSchema".into(), Value::from(l3.clone()));
    }
    if let Some(mb) = &update.mem_bw_schema {
        rdt.insert("memBwSchema".into(), Value::from(mb.clone()));
    }
    let spec: oci_spec::runtime::LinuxIntelRdt = serde_json::from_value(Value::Object(rdt))
        .map_err(|e| OpsError::BadResources {
            field: "linux.intelRdt".into(),
            reason: e.to_string(),
        })?;
    let plan = resctrl::plan(&spec, &st.id).map_err(|e| OpsError::BadResources {
        field: e.path,
        reason: e.msg,
    })?;
    match &st.rdt {
        Some(saved) => {
            let file = saved.dir.join("schemata");
            for line in lines {
                std::fs::write(&file, format!("{line}\n")).map_err(|source| RdtError::Io {
                    what: "writing",
                    path: file.clone(),
                    source,
                })?;
            }
            Ok(None)
        }
        None => Ok(Some(resctrl::apply(root, &plan, st.pid)?)),
    }
}

fn read_config_copy(path: &Path) -> Result<Value> {
    let bytes = std::fs::read(path).map_err(|source| OpsError::Io {
        what: format!("reading {}", path.display()),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| OpsError::ConfigCopy {
        path: path.to_path_buf(),
        source,
    })
}

fn write_config_copy(path: &Path, config: &Value) -> Result<()> {
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec(config).expect("a JSON value serialises");
    state::write_file_atomic(&tmp, path, &bytes, 0o600).map_err(|source| OpsError::Io {
        what: format!("writing {}", path.display()),
        source,
    })
}

/// The object at `key` of `v`, made an object if it is missing or not one.
fn object_at<'a>(v: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    let Value::Object(m) = v else { unreachable!() };
    let entry = m
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    let Value::Object(inner) = entry else {
        unreachable!()
    };
    inner
}

fn set_resources(config: &mut Value, resources: Value) {
    object_at(config, "linux").insert("resources".into(), resources);
}

fn set_rdt(config: &mut Value, update: &ResourceUpdate) {
    let linux = object_at(config, "linux");
    let rdt = linux
        .entry("intelRdt".to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(r) = rdt {
        if let Some(l3) = &update.l3_cache_schema {
            r.insert("l3CacheSchema".into(), Value::from(l3.clone()));
        }
        if let Some(mb) = &update.mem_bw_schema {
            r.insert("memBwSchema".into(), Value::from(mb.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn upd(v: Value) -> ResourceUpdate {
        ResourceUpdate::from_value(v).unwrap()
    }

    #[test]
    fn unchanged_values_are_dropped_from_an_update() {
        let u = upd(json!({
            "memory": {"limit": 0, "reservation": 0, "swap": 0, "kernel": 0, "kernelTCP": 0},
            "cpu": {"shares": 0, "quota": 0, "period": 0, "realtimeRuntime": 0,
                    "realtimePeriod": 0, "cpus": "", "mems": ""},
            "blockIO": {"weight": 0},
            "pids": {},
            "hugepageLimits": null
        }));
        assert_eq!(
            Value::Object(u.delta().clone()),
            json!({"memory": {}, "cpu": {}, "blockIO": {}})
        );
        // 0 is a real pids limit (runtime-spec 1.3); -1 is unlimited.
        let u = upd(json!({"pids": {"limit": 0}}));
        assert_eq!(u.delta()["pids"], json!({"limit": 0}));
        let u = upd(json!({"memory": {"limit": 33554432}, "cpu": {"cpus": "0"}}));
        assert_eq!(u.delta()["memory"], json!({"limit": 33554432}));
        assert_eq!(u.delta()["cpu"], json!({"cpus": "0"}));
        assert!(upd(json!({})).is_empty());
    }

    #[test]
    fn typed_resources_become_the_same_update() {
        let r: LinuxResources =
            serde_json::from_value(json!({"memory": {"limit": 1048576}, "pids": {"limit": 9}}))
                .unwrap();
        let u = ResourceUpdate::from_resources(&r).unwrap();
        assert_eq!(
            Value::Object(u.delta().clone()),
            json!({"memory": {"limit": 1048576}, "pids": {"limit": 9}})
        );
    }

    #[test]
    fn unlimited_memory_makes_swap_unlimited_unless_given() {
        let u = upd(json!({"memory": {"limit": -1}}));
        assert_eq!(u.delta()["memory"], json!({"limit": -1, "swap": -1}));
        let u = upd(json!({"memory": {"limit": -1, "swap": 100000000}}));
        assert_eq!(u.delta()["memory"]["swap"], json!(100000000));
    }

    #[test]
    fn bad_documents_name_the_field() {
        let e = ResourceUpdate::from_json(br#"{"memory": {"limit": "lots"}}"#).unwrap_err();
        assert!(
            e.to_string().starts_with("linux.resources.memory.limit: "),
            "{e}"
        );
        let e = ResourceUpdate::from_json(b"[1]").unwrap_err();
        assert_eq!(e.to_string(), "linux.resources: must be a JSON object");
        let e = ResourceUpdate::from_json(b"{").unwrap_err();
        assert!(e.to_string().starts_with("linux.resources: EOF"), "{e}");
    }

    #[test]
    fn merge_is_field_by_field_and_arrays_replace() {
        let mut base = json!({
            "memory": {"limit": 1, "swap": 2},
            "devices": [{"allow": false, "access": "rwm"}],
            "unified": {"memory.high": "5"}
        });
        merge(
            &mut base,
            &json!({"memory": {"limit": 3}, "devices": [], "unified": {"pids.max": "7"}}),
        );
        assert_eq!(
            base,
            json!({
                "memory": {"limit": 3, "swap": 2},
                "devices": [],
                "unified": {"memory.high": "5", "pids.max": "7"}
            })
        );
        let mut scalar = json!(1);
        merge(&mut scalar, &json!({"a": 1}));
        assert_eq!(scalar, json!({"a": 1}));
    }

    #[test]
    fn plan_keeps_saved_values_and_devices_only_when_asked() {
        let saved = json!({
            "memory": {"limit": 33554432},
            "pids": {"limit": 20},
            "cpu": {"quota": 50000, "period": 100000},
            "devices": [{"allow": false, "access": "rwm"}]
        });
        let p = plan_update(&saved, &upd(json!({"memory": {"limit": 67108864}})));
        assert_eq!(
            p.merged,
            json!({
                "memory": {"limit": 67108864},
                "pids": {"limit": 20},
                "cpu": {"quota": 50000, "period": 100000},
                "devices": [{"allow": false, "access": "rwm"}]
            })
        );
        assert!(p.apply.get("devices").is_none());
        assert_eq!(p.apply["cpu"], json!({"quota": 50000, "period": 100000}));
        assert_eq!(p.restore["memory"], json!({"limit": 33554432}));
        assert!(p.restore.get("devices").is_none());

        let rules = json!([{"allow": true, "access": "rwm"}]);
        let p = plan_update(&saved, &upd(json!({"devices": rules})));
        assert_eq!(p.apply["devices"], rules);
        assert_eq!(p.merged["devices"], rules);

        // A config without resources, and a saved "pids": {} that means no limit.
        let p = plan_update(&Value::Null, &upd(json!({"pids": {"limit": 5}})));
        assert_eq!(p.merged, json!({"pids": {"limit": 5}}));
        let p = plan_update(&json!({"pids": {}}), &upd(json!({"cpu": {"shares": 512}})));
        assert_eq!(p.apply, json!({"cpu": {"shares": 512}}));
        parse_resources(&p.apply).unwrap();
    }

    #[test]
    fn config_copy_gets_the_merged_resources_and_rdt() {
        let mut config = json!({"ociVersion": "1.3.0", "linux": {"namespaces": []}});
        set_resources(&mut config, json!({"pids": {"limit": 3}}));
        let u = ResourceUpdate {
            l3_cache_schema: Some("L3:0=f".into()),
            ..Default::default()
        };
        set_rdt(&mut config, &u);
        assert_eq!(
            config,
            json!({"ociVersion": "1.3.0", "linux": {
                "namespaces": [],
                "resources": {"pids": {"limit": 3}},
                "intelRdt": {"l3CacheSchema": "L3:0=f"}
            }})
        );
        let mut bare = json!({"ociVersion": "1.3.0"});
        set_resources(&mut bare, json!({}));
        assert_eq!(bare["linux"]["resources"], json!({}));

        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("config.json");
        write_config_copy(&p, &config).unwrap();
        assert_eq!(read_config_copy(&p).unwrap(), config);
        std::fs::write(&p, "{").unwrap();
        assert!(read_config_copy(&p)
            .unwrap_err()
            .to_string()
            .starts_with("corrupt config copy"));
    }

    fn state_with_rdt(rdt: Option<SavedRdt>) -> ContainerState {
        ContainerState {
            oci_version: "1.3.0".into(),
            id: "c1".into(),
            phase: state::Phase::Started,
            pid: 42,
            pid_start_time: 1,
            creator_pid: 0,
            creator_start_time: 0,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: String::new(),
            owner: String::new(),
            annotations: Default::default(),
            cgroup: None,
            private_namespaces: 0,
            user_namespace: false,
            hooks: None,
            rdt,
        }
    }

    #[test]
    fn rdt_update_on_a_fake_resctrl_tree() {
        let root = tempfile::tempdir().unwrap();
        let u = ResourceUpdate {
            l3_cache_schema: Some("L3:0=ff".into()),
            mem_bw_schema: Some("MB:0=50".into()),
            ..Default::default()
        };
        // No class yet: one of the container's own, with the init in it.
        let saved = update_rdt(root.path(), &state_with_rdt(None), &u)
            .unwrap()
            .unwrap();
        assert_eq!(saved.dir, root.path().join("c1"));
        assert_eq!(saved.created, vec![root.path().join("c1")]);
        assert_eq!(
            std::fs::read_to_string(root.path().join("c1/tasks")).unwrap(),
            "42"
        );
        // A class already: the lines go to its schemata (the kernel file takes one per write;
        // a plain file keeps the last).
        let st = state_with_rdt(Some(saved));
        let u = ResourceUpdate {
            mem_bw_schema: Some("MB:0=20".into()),
            ..Default::default()
        };
        assert!(update_rdt(root.path(), &st, &u).unwrap().is_none());
        assert_eq!(
            std::fs::read_to_string(root.path().join("c1/schemata")).unwrap(),
            "MB:0=20\n"
        );
        let bad = ResourceUpdate {
            mem_bw_schema: Some("L3:0=1".into()),
            ..Default::default()
        };
        let e = update_rdt(root.path(), &st, &bad).unwrap_err();
        assert!(
            e.to_string().starts_with("linux.intelRdt.memBwSchema: "),
            "{e}"
        );
    }

    #[test]
    fn events_have_runcs_shape() {
        let oom = Event {
            kind: EventKind::Oom,
            id: "c1".into(),
            data: None,
        };
        assert_eq!(
            serde_json::to_string(&oom).unwrap(),
            r#"{"type":"oom","id":"c1"}"#
        );
        let stats = Event {
            kind: EventKind::Stats,
            id: "c1".into(),
            data: Some(Stats::default()),
        };
        let v: Value = serde_json::to_value(&stats).unwrap();
        assert_eq!(v["type"], "stats");
        assert_eq!(v["id"], "c1");
        for key in [
            "cpu",
            "cpuset",
            "memory",
            "pids",
            "blkio",
            "hugetlb",
            "intel_rdt",
            "network_interfaces",
        ] {
            assert!(v["data"].get(key).is_some(), "data.{key} missing: {v}");
        }
    }
}
