//! config-linux.md: cgroupsPath (absolute, relative, nested) and helpers shared by the v1 and v2
//! resource tests.

use super::*;
use crate::driver::cgroups::{self, CgroupDirs};
use crate::driver::registry::Test;
use crate::driver::requirements::Requirement::*;
use crate::test;

pub const TESTS: &[Test] = &[
    test!("cgroups.path_absolute", [Root], path_absolute),
    test!("cgroups.path_nested_absolute", [Root], path_nested_absolute),
    test!(
        "cgroups.path_relative_consistent",
        [Root],
        path_relative_consistent
    ),
    test!(
        "cgroups.process_in_cgroup_procs",
        [Root],
        process_in_cgroup_procs
    ),
    test!(
        "cgroups.no_resources_still_placed",
        [Root],
        no_resources_still_placed
    ),
];

/// Removes the cgroup directories of a cgroupsPath when dropped (after the container is gone).
pub struct CgroupGuard(pub Vec<PathBuf>);

impl Drop for CgroupGuard {
    fn drop(&mut self) {
        for d in &self.0 {
            cgroups::remove_tree(d);
        }
    }
}

/// Creates a container with `resources` merged into the base config (and optionally another
/// cgroupsPath), then runs `check` on its cgroup directories while it exists.
pub fn with_resources(
    ctx: &Ctx,
    resources: Value,
    cgroups_path: Option<&str>,
    check: impl FnOnce(&CgroupDirs) -> Result<()>,
) -> Result<()> {
    let mut s = ctx.spec(&["--wait"]);
    spec::merge(&mut s["linux"]["resources"], &resources);
    let _guard = cgroups_path.map(|p| CgroupGuard(cgroups::dirs_for_path(ctx.host, p)));
    if let Some(p) = cgroups_path {
        s["linux"]["cgroupsPath"] = json!(p);
    }
    let b = ctx.bundle(&s)?;
    let c = ctx.create(&b)?;
    let dirs = CgroupDirs::of_pid(ctx.host, c.pid()?)?;
    check(&dirs)
}

/// `(controller, path)` lines the runtime should manage: every v1 controller the host mounts
/// (not `name=` hierarchies) and the cgroup2 line in unified mode.
fn managed(ctx: &Ctx, d: &CgroupDirs) -> Vec<(String, String)> {
    d.paths
        .iter()
        .filter(|(c, _)| {
            if c.is_empty() {
                ctx.host.cgroup_mode == crate::driver::host::CgroupMode::V2
            } else {
                !c.starts_with("name=")
                    && [
                        "cpu", "memory", "pids", "devices", "cpuset", "blkio", "freezer",
                    ]
                    .contains(&c.as_str())
            }
        })
        .map(|(c, p)| (c.clone(), p.clone()))
        .collect()
}

fn path_absolute(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&ctx.spec(&["--wait"]))?;
    let want = b.cgroups_path.clone().unwrap_or_default();
    let c = ctx.create(&b)?;
    let d = CgroupDirs::of_pid(ctx.host, c.pid()?)?;
    let m = managed(ctx, &d);
    ensure!(
        !m.is_empty(),
        "the container is in no managed cgroup: {:?}",
        d.paths
    );
    let off: Vec<&(String, String)> = m.iter().filter(|(_, p)| *p != want).collect();
    ensure!(
        off.is_empty(),
        "cgroupsPath {want}: the container is at {off:?}"
    );
    Ok(())
}

fn path_nested_absolute(ctx: &Ctx) -> Result<()> {
    let p = format!("{}/nested/deeper/{}", ctx.cgroup_base, ctx.id_prefix);
    let mut s = ctx.spec(&["--wait"]);
    s["linux"]["cgroupsPath"] = json!(p);
    let b = ctx.bundle(&s)?;
    let c = ctx.create(&b)?;
    let d = CgroupDirs::of_pid(ctx.host, c.pid()?)?;
    let off: Vec<(String, String)> = managed(ctx, &d)
        .into_iter()
        .filter(|(_, x)| *x != p)
        .collect();
    ensure!(
        off.is_empty(),
        "cgroupsPath {p}: the container is at {off:?}"
    );
    Ok(())
}

fn path_relative_consistent(ctx: &Ctx) -> Result<()> {
    // config-linux.md: given the same cgroupsPath the runtime MUST attach to the same place.
    let rel = format!(
        "{}-rel/{}",
        ctx.cgroup_base.trim_start_matches('/'),
        ctx.id_prefix
    );
    let mut seen = Vec::new();
    let mut made = Vec::new();
    for _ in 0..2 {
        let mut s = ctx.spec(&["--wait"]);
        s["linux"]["cgroupsPath"] = json!(rel);
        let b = ctx.bundle(&s)?;
        let mut c = ctx.create(&b)?;
        let d = CgroupDirs::of_pid(ctx.host, c.pid()?)?;
        made.extend(d.v1.values().cloned());
        made.extend(d.v2.clone());
        seen.push(managed(ctx, &d));
        c.kill("KILL")?.check()?;
        c.wait_status("stopped")?;
        c.delete()?;
    }
    // remove what the runtime may have left above the relative path
    let _g = CgroupGuard(
        made.iter()
            .filter_map(|d| {
                let s = d.to_string_lossy();
                s.find(&format!("{}-rel", ctx.cgroup_base.trim_start_matches('/')))
                    .map(|i| {
                        PathBuf::from(&s[..i])
                            .join(format!("{}-rel", ctx.cgroup_base.trim_start_matches('/')))
                    })
            })
            .collect(),
    );
    ensure!(
        seen[0] == seen[1],
        "same relative cgroupsPath, different places: {:?} vs {:?}",
        seen[0],
        seen[1]
    );
    ensure!(
        seen[0].iter().all(|(_, p)| p.ends_with(&rel)),
        "relative cgroupsPath {rel} not used: {:?}",
        seen[0]
    );
    Ok(())
}

fn process_in_cgroup_procs(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&ctx.spec(&["--wait"]))?;
    let c = ctx.create(&b)?;
    let pid = c.pid()?;
    let d = CgroupDirs::of_pid(ctx.host, pid)?;
    let dir =
        d.v1.get("pids")
            .or(d.v2.as_ref())
            .ok_or_else(|| anyhow!("no pids/cgroup2 cgroup"))?;
    let procs = cgroups::read(&dir.join("cgroup.procs"))?;
    ensure!(
        procs.lines().any(|l| l.trim() == pid.to_string()),
        "pid {pid} not in {}/cgroup.procs: {procs:?}",
        dir.display()
    );
    Ok(())
}

fn no_resources_still_placed(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&["--wait"]);
    spec::remove(&mut s, "/linux/resources");
    let b = ctx.bundle(&s)?;
    let want = b.cgroups_path.clone().unwrap_or_default();
    let c = ctx.create(&b)?;
    let d = CgroupDirs::of_pid(ctx.host, c.pid()?)?;
    let m = managed(ctx, &d);
    ensure!(
        m.iter().any(|(_, p)| *p == want),
        "without resources the container is not in {want}: {m:?}"
    );
    Ok(())
}
