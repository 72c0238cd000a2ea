//! config-linux.md: linux.resources and unified on cgroup v2 — each value checked in the
//! container's cgroup files.

use super::cgroups_common::with_resources;
use super::*;
use crate::driver::registry::Test;
use crate::driver::requirements::Requirement::*;
use crate::test;

pub const TESTS: &[Test] = &[
    test!(
        "cgroups_v2.memory_max",
        [Root, V2Controller("memory")],
        |c| file(
            c,
            json!({"memory": {"limit": 268435456}}),
            "memory.max",
            "268435456"
        )
    ),
    test!(
        "cgroups_v2.memory_low",
        [Root, V2Controller("memory")],
        |c| file(
            c,
            json!({"memory": {"reservation": 134217728}}),
            "memory.low",
            "134217728"
        )
    ),
    test!(
        "cgroups_v2.memory_swap_max",
        [Root, V2Controller("memory")],
        |c| file(
            c,
            json!({"memory": {"limit": 268435456, "swap": 536870912}}),
            "memory.swap.max",
            "268435456"
        )
    ),
    test!(
        "cgroups_v2.memory_unlimited",
        [Root, V2Controller("memory")],
        |c| file(c, json!({"memory": {"limit": -1}}), "memory.max", "max")
    ),
    test!("cgroups_v2.cpu_max", [Root, V2Controller("cpu")], |c| file(
        c,
        json!({"cpu": {"quota": 50000, "period": 100000}}),
        "cpu.max",
        "50000 100000"
    )),
    test!(
        "cgroups_v2.cpu_max_unlimited_quota",
        [Root, V2Controller("cpu")],
        |c| file(
            c,
            json!({"cpu": {"quota": -1, "period": 200000}}),
            "cpu.max",
            "max 200000"
        )
    ),
    test!("cgroups_v2.cpu_burst", [Root, V2Controller("cpu")], |c| {
        file(
            c,
            json!({"cpu": {"quota": 50000, "period": 100000, "burst": 10000}}),
            "cpu.max.burst",
            "10000",
        )
    }),
    test!(
        "cgroups_v2.cpu_idle",
        [Root, V2Controller("cpu")],
        |c| file(c, json!({"cpu": {"idle": 1}}), "cpu.idle", "1")
    ),
    test!(
        "cgroups_v2.cpu_weight_from_shares",
        [Root, V2Controller("cpu")],
        cpu_weight_from_shares
    ),
    test!(
        "cgroups_v2.cpuset_cpus",
        [Root, V2Controller("cpuset")],
        |c| file(c, json!({"cpu": {"cpus": "0"}}), "cpuset.cpus", "0")
    ),
    test!(
        "cgroups_v2.cpuset_mems",
        [Root, V2Controller("cpuset")],
        |c| file(c, json!({"cpu": {"mems": "0"}}), "cpuset.mems", "0")
    ),
    test!("cgroups_v2.pids_max", [Root, V2Controller("pids")], |c| {
        file(c, json!({"pids": {"limit": 42}}), "pids.max", "42")
    }),
    test!(
        "cgroups_v2.pids_unlimited",
        [Root, V2Controller("pids")],
        |c| file(c, json!({"pids": {"limit": -1}}), "pids.max", "max")
    ),
    test!("cgroups_v2.pids_zero", [Root, V2Controller("pids")], |c| {
        file(c, json!({"pids": {"limit": 0}}), "pids.max", "0")
    }),
    test!(
        "cgroups_v2.hugetlb_max",
        [Root, V2Controller("hugetlb"), HugePageSize("2MB")],
        |c| file(
            c,
            json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}),
            "hugetlb.2MB.max",
            "4194304"
        )
    ),
    test!(
        "cgroups_v2.hugetlb_rsvd_max",
        [Root, V2Controller("hugetlb"), HugePageSize("2MB")],
        |c| file(
            c,
            json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}),
            "hugetlb.2MB.rsvd.max",
            "4194304"
        )
    ),
    test!(
        "cgroups_v2.io_weight",
        [Root, V2Controller("io")],
        io_weight
    ),
    test!(
        "cgroups_v2.io_max_rbps",
        [Root, V2Controller("io"), BlockDevice],
        |c| io_max(c, "throttleReadBpsDevice", "rbps")
    ),
    test!(
        "cgroups_v2.io_max_wiops",
        [Root, V2Controller("io"), BlockDevice],
        |c| io_max(c, "throttleWriteIOPSDevice", "wiops")
    ),
    test!(
        "cgroups_v2.unified_pids_max",
        [Root, V2Controller("pids")],
        |c| file(c, json!({"unified": {"pids.max": "33"}}), "pids.max", "33")
    ),
    test!(
        "cgroups_v2.unified_memory_high",
        [Root, V2Controller("memory")],
        |c| file(
            c,
            json!({"unified": {"memory.high": "104857600"}}),
            "memory.high",
            "104857600"
        )
    ),
    test!(
        "cgroups_v2.unified_unknown_controller_fails",
        [Root, CgroupV2],
        unified_unknown_fails
    ),
    test!("cgroups_v2.cgroupns_root", [Root, CgroupV2], cgroupns_root),
];

fn file(ctx: &Ctx, res: Value, name: &str, want: &str) -> Result<()> {
    with_resources(ctx, res, None, |d| {
        let got = d.v2_read(name)?;
        ensure!(got == want, "{name} is {got:?}, want {want:?}");
        Ok(())
    })
}

fn cpu_weight_from_shares(ctx: &Ctx) -> Result<()> {
    // config-linux.md: a runtime MAY convert v1 values for a v2 host, and MUST error if it
    // cannot. The maximum share maps to the maximum weight in every published conversion.
    let mut s = ctx.spec(&["--wait"]);
    s["linux"]["resources"]["cpu"] = json!({"shares": 262144});
    let b = ctx.bundle(&s)?;
    let (c, o) = ctx.try_create(&b)?;
    if !o.success() {
        drop(c);
        return ctx.nothing_left(&b);
    }
    let d = crate::driver::cgroups::CgroupDirs::of_pid(ctx.host, c.pid()?)?;
    let got = d.v2_read("cpu.weight")?;
    ensure!(
        got == "10000",
        "cpu.shares 262144 became cpu.weight {got:?}, want 10000"
    );
    Ok(())
}

fn io_weight(ctx: &Ctx) -> Result<()> {
    // blockIO.weight has blkio's scale (10-1000). io.bfq.weight has the same scale; io.weight
    // (1-10000) needs the conversion runtimes document for v1 values on v2 (config-linux.md:
    // the runtime MAY convert): 1 + (weight - 10) * 9999 / 990, so 500 -> 4950.
    with_resources(ctx, json!({"blockIO": {"weight": 500}}), None, |d| {
        let bfq =
            d.v2.as_ref()
                .is_some_and(|p| p.join("io.bfq.weight").exists());
        let (file, want) = if bfq {
            ("io.bfq.weight", "500")
        } else {
            ("io.weight", "4950")
        };
        let got = d.v2_read(file)?;
        ensure!(
            got.lines()
                .any(|l| l == format!("default {want}") || l == want),
            "{file} is {got:?}, want default {want}"
        );
        Ok(())
    })
}

fn io_max(ctx: &Ctx, key: &str, field: &str) -> Result<()> {
    let (ma, mi) = ctx
        .host
        .block_device
        .ok_or_else(|| anyhow!("no block device"))?;
    with_resources(
        ctx,
        json!({"blockIO": {key: [{"major": ma, "minor": mi, "rate": 1048576}]}}),
        None,
        |d| {
            let got = d.v2_read("io.max")?;
            let line = got
                .lines()
                .find(|l| l.starts_with(&format!("{ma}:{mi} ")))
                .unwrap_or("");
            ensure!(
                line.split_whitespace()
                    .any(|kv| kv == format!("{field}=1048576")),
                "io.max is {got:?}"
            );
            Ok(())
        },
    )
}

fn unified_unknown_fails(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["linux"]["resources"]["unified"] = json!({"nosuchcontroller.max": "1"});
    expect_create_fails(ctx, &s)
}

fn cgroupns_root(ctx: &Ctx) -> Result<()> {
    let r = report(ctx, &ctx.spec(&[]))?;
    ensure!(
        r.cgroup == ["0::/"],
        "/proc/self/cgroup in a new cgroup namespace: {:?}",
        r.cgroup
    );
    Ok(())
}
