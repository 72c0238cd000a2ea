//! The tests, one module per area. Each module exposes `TESTS`, a static table that the registry
//! concatenates. Shared helpers live here.

pub mod bad_config;
pub mod caps;
pub mod cgroups_common;
pub mod cgroups_v1;
pub mod cgroups_v2;
pub mod cli;
pub mod devices;
pub mod features;
pub mod hooks;
pub mod lifecycle;
pub mod mounts;
pub mod namespaces;
pub mod paths;
pub mod process;
pub mod rlimits;
pub mod root;
pub mod seccomp;
pub mod syscalls;
pub mod sysctl;
pub mod uts;

use crate::driver::bundle::Bundle;
use crate::driver::mountinfo::{self, Mount};
use crate::driver::spec;
use crate::driver::Ctx;
use crate::report::{Report, TryResult};
use anyhow::{anyhow, bail, ensure, Context, Result};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::str::FromStr;

/// Bind-mounts a fresh host directory at `dest` (rw); returns its host path.
pub fn bind_out(ctx: &Ctx, s: &mut Value, dest: &str) -> Result<PathBuf> {
    let d = ctx.scratch("out")?;
    spec::push(
        s,
        "/mounts",
        json!({"destination": dest, "type": "bind", "source": d, "options": ["rbind", "rw"]}),
    );
    Ok(d)
}

/// Runs the probe with `s` and returns its report.
/// A config that must not run: refused by `create` (which then leaves nothing behind) or, if
/// `create` accepts it, by `start`. `what` names it in the failure message.
pub fn refused_by_create_or_start(ctx: &Ctx, s: &Value, what: &str) -> Result<()> {
    let b = ctx.bundle(s)?;
    let (c, o) = ctx.try_create(&b)?;
    if !o.success() {
        drop(c);
        return ctx.nothing_left(&b);
    }
    let st = c.try_start()?;
    ensure!(!st.success(), "start of {what} succeeded");
    Ok(())
}

pub fn report(ctx: &Ctx, s: &Value) -> Result<Report> {
    let b = ctx.bundle(s)?;
    ctx.run_report(&b)
}

/// The mask of capability names (`CAP_CHOWN`...).
pub fn cap_mask(names: &[&str]) -> Result<u64> {
    names.iter().try_fold(0u64, |m, n| {
        let c = ::caps::Capability::from_str(n).map_err(|e| anyhow!("{n}: {e}"))?;
        Ok(m | c.bitmask())
    })
}

pub fn cap_names(mask: u64) -> Vec<String> {
    ::caps::all()
        .into_iter()
        .filter(|c| mask & c.bitmask() != 0)
        .map(|c| c.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

pub fn errno_name(e: i32) -> String {
    if e == 0 {
        "success".into()
    } else {
        format!("{:?}", nix::errno::Errno::from_raw(e))
    }
}

pub fn tried<'r>(r: &'r Report, action: &str) -> Result<&'r TryResult> {
    let t = r
        .tries
        .iter()
        .find(|t| t.action == action)
        .ok_or_else(|| anyhow!("the probe did not try {action}"))?;
    ensure!(t.errno != -1, "the probe does not know the action {action}");
    Ok(t)
}

/// The action failed with exactly `errno`.
pub fn expect_errno(r: &Report, action: &str, errno: i32) -> Result<()> {
    let t = tried(r, action)?;
    ensure!(
        t.errno == errno,
        "{action}: got {} (ret {}), want {}",
        errno_name(t.errno),
        t.ret,
        errno_name(errno)
    );
    Ok(())
}

pub fn expect_ok(r: &Report, action: &str) -> Result<()> {
    let t = tried(r, action)?;
    ensure!(
        t.errno == 0,
        "{action}: failed with {}",
        errno_name(t.errno)
    );
    Ok(())
}

/// `create` must fail, and leave nothing behind.
pub fn expect_create_fails(ctx: &Ctx, s: &Value) -> Result<()> {
    let b = ctx.bundle(s)?;
    expect_bundle_refused(ctx, &b)
}

pub fn expect_bundle_refused(ctx: &Ctx, b: &Bundle) -> Result<()> {
    let (c, o) = ctx.try_create(b)?;
    if o.success() {
        let st = c.status().unwrap_or_else(|e| format!("{e:#}"));
        bail!("create accepted the config (status {st})");
    }
    drop(c);
    ctx.nothing_left(b).context("after the refused create")
}

pub fn mounts(r: &Report) -> Vec<Mount> {
    mountinfo::parse(&r.mountinfo)
}

pub fn mount_at(r: &Report, mp: &str) -> Result<Mount> {
    mountinfo::find(&mounts(r), mp)
        .cloned()
        .ok_or_else(|| anyhow!("nothing mounted at {mp} in the container"))
}

/// The path info the probe gathered for `--path p`.
pub fn path<'r>(r: &'r Report, p: &str) -> Result<&'r crate::report::PathInfo> {
    r.paths
        .get(p)
        .ok_or_else(|| anyhow!("the probe did not look at {p}"))
}

/// Content of a `--file` the probe read.
pub fn file<'r>(r: &'r Report, p: &str) -> Result<&'r str> {
    match r.files.get(p) {
        Some(Ok(s)) => Ok(s.as_str()),
        Some(Err(e)) => bail!("reading {p} in the container: {}", errno_name(*e)),
        None => bail!("the probe did not read {p}"),
    }
}

/// A container id that names something the test expects to see in `state`.
pub fn ns_of(r: &Report, kind: &str) -> Result<String> {
    r.namespaces
        .get(kind)
        .cloned()
        .ok_or_else(|| anyhow!("the probe saw no {kind} namespace"))
}

pub fn host_ns(ctx: &Ctx, kind: &str) -> Result<String> {
    ctx.host
        .namespaces
        .get(kind)
        .cloned()
        .ok_or_else(|| anyhow!("the host has no {kind} namespace"))
}

/// Namespace link of a host process (`/proc/PID/ns/KIND`).
pub fn pid_ns(pid: i32, kind: &str) -> Result<String> {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .map(|p| p.to_string_lossy().into_owned())
        .with_context(|| format!("readlink /proc/{pid}/ns/{kind}"))
}

/// Reads a file written by a hook or the container into a host directory.
pub fn read_host(p: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
}

/// A user-namespaced config: uid/gid 0 in the container is `host` on the host.
pub fn with_userns(s: &mut Value, host: u32, size: u32) {
    spec::add_ns(s, "user", None);
    s["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": host, "size": size}]);
    s["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": host, "size": size}]);
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn cap_masks_round_trip() {
        let m = cap_mask(&["CAP_CHOWN", "CAP_KILL"]).unwrap();
        assert_eq!(m, (1 << 0) | (1 << 5));
        assert_eq!(cap_names(m), vec!["CAP_CHOWN", "CAP_KILL"]);
        assert!(cap_mask(&["CAP_NOPE"]).is_err());
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(1), "EPERM");
        assert_eq!(errno_name(0), "success");
    }
}
