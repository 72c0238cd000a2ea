//! config.md: process.rlimits.

use super::*;
use crate::driver::registry::Test;
use crate::driver::requirements::Requirement::*;
use crate::report::Rlimit;
use crate::test;

const INF: u64 = u64::MAX;

pub const TESTS: &[Test] = &[
    test!("rlimits.as", [Root], |c| one(c, "RLIMIT_AS", 1 << 40, INF)),
    test!("rlimits.core", [Root], |c| one(
        c,
        "RLIMIT_CORE",
        4096,
        8192
    )),
    test!("rlimits.cpu", [Root], |c| one(c, "RLIMIT_CPU", 3600, 7200)),
    test!("rlimits.data", [Root], |c| one(
        c,
        "RLIMIT_DATA",
        1 << 36,
        1 << 37
    )),
    test!("rlimits.fsize", [Root], |c| one(
        c,
        "RLIMIT_FSIZE",
        1 << 30,
        1 << 31
    )),
    test!("rlimits.locks", [Root], |c| one(
        c,
        "RLIMIT_LOCKS",
        100,
        200
    )),
    test!("rlimits.memlock", [Root], |c| one(
        c,
        "RLIMIT_MEMLOCK",
        4096,
        65536
    )),
    test!("rlimits.msgqueue", [Root], |c| one(
        c,
        "RLIMIT_MSGQUEUE",
        4096,
        8192
    )),
    test!("rlimits.nice", [Root], |c| one(c, "RLIMIT_NICE", 0, 0)),
    test!("rlimits.nofile", [Root], |c| one(
        c,
        "RLIMIT_NOFILE",
        512,
        1000
    )),
    test!("rlimits.nproc", [Root], |c| one(
        c,
        "RLIMIT_NPROC",
        500,
        1000
    )),
    test!("rlimits.rss", [Root], |c| one(
        c,
        "RLIMIT_RSS",
        1 << 30,
        INF
    )),
    test!("rlimits.rtprio", [Root], |c| one(c, "RLIMIT_RTPRIO", 0, 0)),
    test!("rlimits.rttime", [Root], |c| one(
        c,
        "RLIMIT_RTTIME",
        100000,
        200000
    )),
    test!("rlimits.sigpending", [Root], |c| one(
        c,
        "RLIMIT_SIGPENDING",
        100,
        200
    )),
    test!("rlimits.stack", [Root], |c| one(
        c,
        "RLIMIT_STACK",
        1 << 20,
        1 << 23
    )),
    test!("rlimits.soft_below_hard", [Root], |c| one(
        c,
        "RLIMIT_NOFILE",
        64,
        4096
    )),
    test!("rlimits.raise_hard", [Root, CapSysResource], |c| one(
        c,
        "RLIMIT_NOFILE",
        1 << 20,
        1 << 20
    )),
    test!("rlimits.several", [Root], several),
    test!("rlimits.duplicate_fails", [Root], duplicate_fails),
    test!("rlimits.unknown_type_fails", [Root], unknown_type_fails),
    test!(
        "rlimits.soft_above_hard_fails",
        [Root],
        soft_above_hard_fails
    ),
];

fn lim(v: u64) -> Option<u64> {
    (v != INF).then_some(v)
}

fn one(ctx: &Ctx, ty: &str, soft: u64, hard: u64) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["process"]["rlimits"] = json!([{"type": ty, "soft": soft, "hard": hard}]);
    let r = report(ctx, &s)?;
    let got = r
        .rlimits
        .get(ty)
        .copied()
        .ok_or_else(|| anyhow!("the probe could not read {ty}"))?;
    let want = Rlimit {
        soft: lim(soft),
        hard: lim(hard),
    };
    ensure!(got == want, "{ty} is {got:?}, want {want:?}");
    Ok(())
}

fn several(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
        {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400}
    ]);
    let r = report(ctx, &s)?;
    for (t, so, ha) in [
        ("RLIMIT_NOFILE", 100, 200),
        ("RLIMIT_CORE", 0, 0),
        ("RLIMIT_NPROC", 300, 400),
    ] {
        let got = r.rlimits.get(t).copied().unwrap_or_default();
        ensure!(
            got == Rlimit {
                soft: Some(so),
                hard: Some(ha)
            },
            "{t} is {got:?}"
        );
    }
    Ok(())
}

fn duplicate_fails(ctx: &Ctx) -> Result<()> {
    // The second entry only lowers the limits, so applying both would work even without
    // CAP_SYS_RESOURCE: only a duplicate check can refuse this.
    let mut s = ctx.spec(&[]);
    s["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 300, "hard": 400},
        {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}
    ]);
    expect_create_fails(ctx, &s)
}

fn unknown_type_fails(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["process"]["rlimits"] = json!([{"type": "RLIMIT_NOT_A_LIMIT", "soft": 1, "hard": 1}]);
    expect_create_fails(ctx, &s)
}

fn soft_above_hard_fails(ctx: &Ctx) -> Result<()> {
    // setrlimit(2) refuses soft > hard, so the runtime cannot apply it and MUST error.
    let mut s = ctx.spec(&[]);
    s["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 2000, "hard": 1000}]);
    let b = ctx.bundle(&s)?;
    let (c, o) = ctx.try_create(&b)?;
    if !o.success() {
        drop(c);
        return ctx.nothing_left(&b);
    }
    let st = c.try_start()?;
    if st.success() {
        let r = c.wait_report();
        bail!(
            "the container started with an impossible rlimit: {:?}",
            r.ok().and_then(|r| r.rlimits.get("RLIMIT_NOFILE").copied())
        );
    }
    Ok(())
}
