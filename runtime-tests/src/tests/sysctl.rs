//! config-linux.md: sysctl.

use super::*;
use crate::driver::registry::Test;
use crate::driver::requirements::Requirement::*;
use crate::test;

pub const TESTS: &[Test] = &[
    test!("sysctl.net_ipv4_ip_forward", [Root], |c| one(
        c,
        "net.ipv4.ip_forward",
        "1"
    )),
    test!("sysctl.net_core_somaxconn", [Root], |c| one(
        c,
        "net.core.somaxconn",
        "256"
    )),
    test!("sysctl.net_ipv4_ping_group_range", [Root], |c| one(
        c,
        "net.ipv4.ping_group_range",
        "0\t2147483647"
    )),
    test!("sysctl.kernel_shm_rmid_forced", [Root], |c| one(
        c,
        "kernel.shm_rmid_forced",
        "1"
    )),
    test!("sysctl.kernel_msgmax", [Root], |c| one(
        c,
        "kernel.msgmax",
        "4096"
    )),
    test!("sysctl.fs_mqueue_queues_max", [Root], |c| one(
        c,
        "fs.mqueue.queues_max",
        "128"
    )),
    test!("sysctl.kernel_domainname", [Root], |c| one(
        c,
        "kernel.domainname",
        "sysctl.example"
    )),
    test!("sysctl.several", [Root], several),
    test!("sysctl.host_unchanged", [Root], host_unchanged),
    test!("sysctl.unknown_fails", [Root], unknown_fails),
];

fn proc_path(name: &str) -> String {
    format!("/proc/sys/{}", name.replace('.', "/"))
}

fn one(ctx: &Ctx, name: &str, value: &str) -> Result<()> {
    let p = proc_path(name);
    let mut s = ctx.spec(&["--file", &p]);
    s["linux"]["sysctl"] = json!({ name: value });
    let r = report(ctx, &s)?;
    let got = file(&r, &p)?.trim().to_string();
    ensure!(
        got == value,
        "{name} is {got:?} in the container, want {value:?}"
    );
    Ok(())
}

fn several(ctx: &Ctx) -> Result<()> {
    let (a, b) = (
        proc_path("net.ipv4.ip_forward"),
        proc_path("kernel.shm_rmid_forced"),
    );
    let mut s = ctx.spec(&["--file", &a, "--file", &b]);
    s["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"});
    let r = report(ctx, &s)?;
    ensure!(
        file(&r, &a)?.trim() == "1" && file(&r, &b)?.trim() == "1",
        "not every sysctl was applied"
    );
    Ok(())
}

fn host_unchanged(ctx: &Ctx) -> Result<()> {
    let p = "/proc/sys/net/ipv4/ip_forward";
    let before = std::fs::read_to_string(p)?;
    let want = if before.trim() == "1" { "0" } else { "1" };
    let mut s = ctx.spec(&[]);
    s["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": want});
    report(ctx, &s)?;
    let after = std::fs::read_to_string(p)?;
    ensure!(
        before == after,
        "the host's ip_forward changed from {before:?} to {after:?}"
    );
    Ok(())
}

fn unknown_fails(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["linux"]["sysctl"] = json!({"net.no_such_sysctl.value": "1"});
    expect_create_fails(ctx, &s)
}
