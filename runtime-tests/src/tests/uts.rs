//! config.md: hostname and domainname.

use super::*;
use crate::driver::registry::Test;
use crate::driver::requirements::Requirement::*;
use crate::test;

pub const TESTS: &[Test] = &[
    test!("uts.hostname", [Root], hostname),
    test!("uts.domainname", [Root], domainname),
    test!("uts.hostname_long", [Root], hostname_long),
    test!("uts.host_unchanged", [Root], host_unchanged),
];

fn hostname(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["hostname"] = json!("probe-host");
    let r = report(ctx, &s)?;
    ensure!(r.hostname == "probe-host", "hostname {:?}", r.hostname);
    Ok(())
}

fn domainname(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["domainname"] = json!("probe.example");
    let r = report(ctx, &s)?;
    ensure!(
        r.domainname == "probe.example",
        "domainname {:?}",
        r.domainname
    );
    Ok(())
}

fn hostname_long(ctx: &Ctx) -> Result<()> {
    let name = "h".repeat(64);
    let mut s = ctx.spec(&[]);
    s["hostname"] = json!(name);
    let r = report(ctx, &s)?;
    ensure!(r.hostname == name, "hostname {:?}", r.hostname);
    Ok(())
}

fn host_unchanged(ctx: &Ctx) -> Result<()> {
    let before = nix::unistd::gethostname()?;
    let mut s = ctx.spec(&[]);
    s["hostname"] = json!("not-the-host");
    s["domainname"] = json!("not.the.host");
    report(ctx, &s)?;
    let after = nix::unistd::gethostname()?;
    ensure!(
        before == after,
        "the host's hostname changed from {before:?} to {after:?}"
    );
    Ok(())
}
