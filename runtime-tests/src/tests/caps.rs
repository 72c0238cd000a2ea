//! config.md: process.capabilities. After execve the kernel recomputes the sets: bounding and
//! inheritable are kept as configured; for a non-root user permitted = effective = ambient; for
//! root permitted = effective = bounding ∪ inheritable. The tests check exactly that.

use super::*;
use crate::driver::registry::Test;
use crate::driver::requirements::Requirement::*;
use crate::test;

pub const TESTS: &[Test] = &[
    test!("caps.bounding_exact", [Root], bounding_exact),
    test!("caps.inheritable_exact", [Root], inheritable_exact),
    test!(
        "caps.root_effective_is_bounding",
        [Root],
        root_effective_is_bounding
    ),
    test!("caps.ambient_nonroot", [Root], ambient_nonroot),
    test!(
        "caps.nonroot_without_ambient_has_none",
        [Root],
        nonroot_without_ambient
    ),
    test!("caps.all_sets_empty", [Root], all_sets_empty),
    test!(
        "caps.no_capabilities_object",
        [Root],
        no_capabilities_object
    ),
    test!(
        "caps.dropped_chown_enforced",
        [Root],
        dropped_chown_enforced
    ),
    test!("caps.kept_chown_works", [Root], kept_chown_works),
    test!(
        "caps.net_bind_service_enforced",
        [Root],
        net_bind_service_enforced
    ),
    test!(
        "caps.ambient_net_bind_service_works",
        [Root],
        ambient_net_bind_service_works
    ),
    test!(
        "caps.unknown_name_not_fatal",
        [Root],
        unknown_name_not_fatal
    ),
];

fn set_caps(
    s: &mut Value,
    bounding: &[&str],
    effective: &[&str],
    permitted: &[&str],
    inheritable: &[&str],
    ambient: &[&str],
) {
    s["process"]["capabilities"] = json!({
        "bounding": bounding, "effective": effective, "permitted": permitted,
        "inheritable": inheritable, "ambient": ambient,
    });
}

fn same(what: &str, got: u64, want: u64) -> Result<()> {
    ensure!(
        got == want,
        "{what} is {:?}, want {:?}",
        cap_names(got),
        cap_names(want)
    );
    Ok(())
}

fn bounding_exact(ctx: &Ctx) -> Result<()> {
    let set = ["CAP_CHOWN", "CAP_KILL", "CAP_SYS_CHROOT"];
    let mut s = ctx.spec(&[]);
    set_caps(&mut s, &set, &set, &set, &[], &[]);
    let r = report(ctx, &s)?;
    same("bounding", r.caps.bounding, cap_mask(&set)?)
}

fn inheritable_exact(ctx: &Ctx) -> Result<()> {
    let set = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    let inh = ["CAP_NET_BIND_SERVICE"];
    let mut s = ctx.spec(&[]);
    set_caps(&mut s, &set, &set, &set, &inh, &[]);
    let r = report(ctx, &s)?;
    same("inheritable", r.caps.inheritable, cap_mask(&inh)?)
}

fn root_effective_is_bounding(ctx: &Ctx) -> Result<()> {
    let set = ["CAP_CHOWN", "CAP_FOWNER", "CAP_KILL"];
    let mut s = ctx.spec(&[]);
    set_caps(&mut s, &set, &set, &set, &[], &[]);
    let r = report(ctx, &s)?;
    same("effective", r.caps.effective, cap_mask(&set)?)?;
    same("permitted", r.caps.permitted, cap_mask(&set)?)?;
    same("ambient", r.caps.ambient, 0)
}

fn ambient_nonroot(ctx: &Ctx) -> Result<()> {
    let set = ["CAP_NET_BIND_SERVICE", "CAP_KILL"];
    let amb = ["CAP_NET_BIND_SERVICE"];
    let mut s = ctx.spec(&[]);
    s["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    set_caps(&mut s, &set, &set, &set, &set, &amb);
    let r = report(ctx, &s)?;
    same("ambient", r.caps.ambient, cap_mask(&amb)?)?;
    same("effective", r.caps.effective, cap_mask(&amb)?)?;
    same("permitted", r.caps.permitted, cap_mask(&amb)?)
}

fn nonroot_without_ambient(ctx: &Ctx) -> Result<()> {
    let set = ["CAP_NET_BIND_SERVICE", "CAP_KILL"];
    let mut s = ctx.spec(&[]);
    s["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    set_caps(&mut s, &set, &set, &set, &[], &[]);
    let r = report(ctx, &s)?;
    same("effective", r.caps.effective, 0)?;
    same("bounding", r.caps.bounding, cap_mask(&set)?)
}

fn all_sets_empty(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    set_caps(&mut s, &[], &[], &[], &[], &[]);
    let r = report(ctx, &s)?;
    ensure!(
        r.caps == Default::default(),
        "capabilities left: {:?}",
        r.caps
    );
    Ok(())
}

fn no_capabilities_object(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    spec::remove(&mut s, "/process/capabilities");
    let r = report(ctx, &s)?;
    ensure!(
        r.caps.effective == 0 && r.caps.bounding == 0,
        "without `capabilities` the process has {:?} / bounding {:?}",
        cap_names(r.caps.effective),
        cap_names(r.caps.bounding)
    );
    Ok(())
}

fn dropped_chown_enforced(ctx: &Ctx) -> Result<()> {
    let set = ["CAP_KILL"];
    let mut s = ctx.spec(&["--try", "chown:/etc/passwd:1000:1000"]);
    set_caps(&mut s, &set, &set, &set, &[], &[]);
    let r = report(ctx, &s)?;
    expect_errno(&r, "chown:/etc/passwd:1000:1000", libc::EPERM)
}

fn kept_chown_works(ctx: &Ctx) -> Result<()> {
    let set = ["CAP_CHOWN"];
    let mut s = ctx.spec(&["--try", "chown:/etc/passwd:1000:1000"]);
    set_caps(&mut s, &set, &set, &set, &[], &[]);
    let r = report(ctx, &s)?;
    expect_ok(&r, "chown:/etc/passwd:1000:1000")
}

fn net_bind_service_enforced(ctx: &Ctx) -> Result<()> {
    let set = ["CAP_KILL"];
    let mut s = ctx.spec(&["--try", "bind-tcp:80"]);
    set_caps(&mut s, &set, &set, &set, &[], &[]);
    let r = report(ctx, &s)?;
    expect_errno(&r, "bind-tcp:80", libc::EACCES)
}

fn ambient_net_bind_service_works(ctx: &Ctx) -> Result<()> {
    let set = ["CAP_NET_BIND_SERVICE"];
    let mut s = ctx.spec(&["--try", "bind-tcp:80"]);
    s["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    set_caps(&mut s, &set, &set, &set, &set, &set);
    let r = report(ctx, &s)?;
    expect_ok(&r, "bind-tcp:80")
}

fn unknown_name_not_fatal(ctx: &Ctx) -> Result<()> {
    // config.md: capabilities that cannot be mapped MUST be logged as a warning; runtimes
    // SHOULD NOT fail.
    let mut s = ctx.spec(&[]);
    let set = ["CAP_KILL", "CAP_NOT_A_CAPABILITY"];
    set_caps(&mut s, &set, &set, &set, &[], &[]);
    let r = report(ctx, &s)?;
    ensure!(
        r.caps.bounding & cap_mask(&["CAP_KILL"])? != 0,
        "CAP_KILL was dropped"
    );
    Ok(())
}
