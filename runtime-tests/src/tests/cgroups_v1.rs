//! config-linux.md: linux.resources on cgroup v1 — each value checked in the container's cgroup
//! files.

use super::cgroups_common::with_resources;
use super::*;
use crate::driver::cgroups::CgroupDirs;
use crate::driver::registry::Test;
use crate::driver::requirements::Requirement::*;
use crate::test;

pub const TESTS: &[Test] = &[
    test!(
        "cgroups_v1.memory_limit",
        [Root, V1Controller("memory")],
        |c| file(
            c,
            json!({"memory": {"limit": 268435456}}),
            "memory",
            "memory.limit_in_bytes",
            "268435456"
        )
    ),
    test!(
        "cgroups_v1.memory_reservation",
        [Root, V1Controller("memory")],
        |c| file(
            c,
            json!({"memory": {"reservation": 134217728}}),
            "memory",
            "memory.soft_limit_in_bytes",
            "134217728"
        )
    ),
    test!(
        "cgroups_v1.memory_swap",
        [Root, V1File("memory", "memory.memsw.limit_in_bytes")],
        |c| file(
            c,
            json!({"memory": {"limit": 268435456, "swap": 536870912}}),
            "memory",
            "memory.memsw.limit_in_bytes",
            "536870912"
        )
    ),
    test!(
        "cgroups_v1.memory_swappiness",
        [Root, V1Controller("memory")],
        |c| file(
            c,
            json!({"memory": {"swappiness": 42}}),
            "memory",
            "memory.swappiness",
            "42"
        )
    ),
    test!(
        "cgroups_v1.memory_disable_oom_killer",
        [Root, V1Controller("memory")],
        oom_killer
    ),
    test!(
        "cgroups_v1.memory_kernel_tcp",
        [Root, V1File("memory", "memory.kmem.tcp.limit_in_bytes")],
        |c| file(
            c,
            json!({"memory": {"kernelTCP": 67108864}}),
            "memory",
            "memory.kmem.tcp.limit_in_bytes",
            "67108864"
        )
    ),
    test!(
        "cgroups_v1.memory_unlimited",
        [Root, V1Controller("memory")],
        |c| file(
            c,
            json!({"memory": {"limit": -1}}),
            "memory",
            "memory.limit_in_bytes",
            "9223372036854771712"
        )
    ),
    test!("cgroups_v1.cpu_shares", [Root, V1Controller("cpu")], |c| {
        file(
            c,
            json!({"cpu": {"shares": 512}}),
            "cpu",
            "cpu.shares",
            "512",
        )
    }),
    test!("cgroups_v1.cpu_quota", [Root, V1Controller("cpu")], |c| {
        file(
            c,
            json!({"cpu": {"quota": 50000, "period": 100000}}),
            "cpu",
            "cpu.cfs_quota_us",
            "50000",
        )
    }),
    test!("cgroups_v1.cpu_period", [Root, V1Controller("cpu")], |c| {
        file(
            c,
            json!({"cpu": {"quota": 50000, "period": 200000}}),
            "cpu",
            "cpu.cfs_period_us",
            "200000",
        )
    }),
    test!(
        "cgroups_v1.cpu_burst",
        [Root, V1File("cpu", "cpu.cfs_burst_us")],
        |c| file(
            c,
            json!({"cpu": {"quota": 50000, "period": 100000, "burst": 10000}}),
            "cpu",
            "cpu.cfs_burst_us",
            "10000"
        )
    ),
    test!(
        "cgroups_v1.cpu_idle",
        [Root, V1File("cpu", "cpu.idle")],
        |c| file(c, json!({"cpu": {"idle": 1}}), "cpu", "cpu.idle", "1")
    ),
    test!(
        "cgroups_v1.cpu_realtime",
        [Root, V1File("cpu", "cpu.rt_runtime_us")],
        cpu_realtime
    ),
    test!(
        "cgroups_v1.cpuset_cpus",
        [Root, V1Controller("cpuset")],
        |c| file(
            c,
            json!({"cpu": {"cpus": "0"}}),
            "cpuset",
            "cpuset.cpus",
            "0"
        )
    ),
    test!(
        "cgroups_v1.cpuset_mems",
        [Root, V1Controller("cpuset")],
        |c| file(
            c,
            json!({"cpu": {"mems": "0"}}),
            "cpuset",
            "cpuset.mems",
            "0"
        )
    ),
    test!("cgroups_v1.pids_limit", [Root, V1Controller("pids")], |c| {
        file(c, json!({"pids": {"limit": 42}}), "pids", "pids.max", "42")
    }),
    test!(
        "cgroups_v1.pids_unlimited",
        [Root, V1Controller("pids")],
        |c| file(c, json!({"pids": {"limit": -1}}), "pids", "pids.max", "max")
    ),
    test!("cgroups_v1.pids_zero", [Root, V1Controller("pids")], |c| {
        file(c, json!({"pids": {"limit": 0}}), "pids", "pids.max", "0")
    }),
    test!(
        "cgroups_v1.blkio_weight",
        [Root, V1File("blkio", "blkio.bfq.weight")],
        blkio_weight
    ),
    test!(
        "cgroups_v1.blkio_weight_device",
        [Root, BfqDevice, V1File("blkio", "blkio.bfq.weight_device")],
        blkio_weight_device
    ),
    test!(
        "cgroups_v1.blkio_throttle_read_bps",
        [Root, BlockDevice, V1Controller("blkio")],
        |c| throttle(c, "throttleReadBpsDevice", "blkio.throttle.read_bps_device")
    ),
    test!(
        "cgroups_v1.blkio_throttle_write_bps",
        [Root, BlockDevice, V1Controller("blkio")],
        |c| throttle(
            c,
            "throttleWriteBpsDevice",
            "blkio.throttle.write_bps_device"
        )
    ),
    test!(
        "cgroups_v1.blkio_throttle_read_iops",
        [Root, BlockDevice, V1Controller("blkio")],
        |c| throttle(
            c,
            "throttleReadIOPSDevice",
            "blkio.throttle.read_iops_device"
        )
    ),
    test!(
        "cgroups_v1.blkio_throttle_write_iops",
        [Root, BlockDevice, V1Controller("blkio")],
        |c| throttle(
            c,
            "throttleWriteIOPSDevice",
            "blkio.throttle.write_iops_device"
        )
    ),
    test!(
        "cgroups_v1.devices_list",
        [Root, V1Controller("devices")],
        devices_list
    ),
    test!(
        "cgroups_v1.hugetlb_limit",
        [Root, V1Controller("hugetlb"), HugePageSize("2MB")],
        |c| file(
            c,
            json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}),
            "hugetlb",
            "hugetlb.2MB.limit_in_bytes",
            "4194304"
        )
    ),
    test!(
        "cgroups_v1.net_cls_classid",
        [Root, V1Controller("net_cls")],
        |c| file(
            c,
            json!({"network": {"classID": 1048577}}),
            "net_cls",
            "net_cls.classid",
            "1048577"
        )
    ),
    test!(
        "cgroups_v1.net_prio_ifpriomap",
        [Root, V1Controller("net_prio")],
        net_prio
    ),
    test!(
        "cgroups_v1.unified_refused",
        [Root, CgroupV1],
        unified_refused
    ),
];

fn file(ctx: &Ctx, res: Value, ctrl: &str, name: &str, want: &str) -> Result<()> {
    with_resources(ctx, res, None, |d| {
        let got = d.v1_read(ctrl, name)?;
        ensure!(got == want, "{name} is {got:?}, want {want:?}");
        Ok(())
    })
}

fn oom_killer(ctx: &Ctx) -> Result<()> {
    with_resources(
        ctx,
        json!({"memory": {"disableOOMKiller": true}}),
        None,
        |d| {
            let got = d.v1_read("memory", "memory.oom_control")?;
            ensure!(
                got.lines().any(|l| l == "oom_kill_disable 1"),
                "memory.oom_control: {got:?}"
            );
            Ok(())
        },
    )
}

fn cpu_realtime(ctx: &Ctx) -> Result<()> {
    // A real-time budget needs one in every ancestor: place the container right under the root.
    let p = format!("{}-rt-{}", ctx.cgroup_base, ctx.id_prefix);
    with_resources(
        ctx,
        json!({"cpu": {"realtimePeriod": 1000000, "realtimeRuntime": 10000}}),
        Some(&p),
        |d| {
            let rt = d.v1_read("cpu", "cpu.rt_runtime_us")?;
            let period = d.v1_read("cpu", "cpu.rt_period_us")?;
            ensure!(
                rt == "10000" && period == "1000000",
                "cpu.rt_runtime_us {rt:?}, cpu.rt_period_us {period:?}"
            );
            Ok(())
        },
    )
}

fn blkio_weight(ctx: &Ctx) -> Result<()> {
    with_resources(ctx, json!({"blockIO": {"weight": 500}}), None, |d| {
        let got = d
            .v1_read("blkio", "blkio.weight")
            .or_else(|_| d.v1_read("blkio", "blkio.bfq.weight"))?;
        ensure!(
            got == "500" || got.lines().any(|l| l == "default 500"),
            "blkio weight is {got:?}"
        );
        Ok(())
    })
}

fn dev(ctx: &Ctx) -> Result<(u64, u64)> {
    ctx.host
        .block_device
        .ok_or_else(|| anyhow!("no block device"))
}

fn blkio_weight_device(ctx: &Ctx) -> Result<()> {
    let (ma, mi) = dev(ctx)?;
    with_resources(
        ctx,
        json!({"blockIO": {"weightDevice": [{"major": ma, "minor": mi, "weight": 500}]}}),
        None,
        |d| {
            let got = d
                .v1_read("blkio", "blkio.weight_device")
                .or_else(|_| d.v1_read("blkio", "blkio.bfq.weight_device"))?;
            ensure!(
                got.lines().any(|l| l == format!("{ma}:{mi} 500")),
                "weight_device is {got:?}"
            );
            Ok(())
        },
    )
}

fn throttle(ctx: &Ctx, key: &str, name: &str) -> Result<()> {
    let (ma, mi) = dev(ctx)?;
    with_resources(
        ctx,
        json!({"blockIO": {key: [{"major": ma, "minor": mi, "rate": 1048576}]}}),
        None,
        |d| {
            let got = d.v1_read("blkio", name)?;
            ensure!(
                got.lines().any(|l| l == format!("{ma}:{mi} 1048576")),
                "{name} is {got:?}"
            );
            Ok(())
        },
    )
}

fn devices_list(ctx: &Ctx) -> Result<()> {
    let rules = json!({"devices": [
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}
    ]});
    with_resources(ctx, rules, None, |d: &CgroupDirs| {
        let got = d.v1_read("devices", "devices.list")?;
        ensure!(
            got.lines().any(|l| l == "c 10:229 rw"),
            "devices.list lacks c 10:229 rw: {got:?}"
        );
        ensure!(
            !got.lines().any(|l| l.starts_with("a ")),
            "devices.list still allows everything: {got:?}"
        );
        Ok(())
    })
}

fn net_prio(ctx: &Ctx) -> Result<()> {
    with_resources(
        ctx,
        json!({"network": {"priorities": [{"name": "lo", "priority": 5}]}}),
        None,
        |d| {
            let got = d.v1_read("net_prio", "net_prio.ifpriomap")?;
            ensure!(
                got.lines().any(|l| l == "lo 5"),
                "net_prio.ifpriomap: {got:?}"
            );
            Ok(())
        },
    )
}

fn unified_refused(ctx: &Ctx) -> Result<()> {
    // config-linux.md: the runtime MUST generate an error when `unified` refers to a controller
    // that is not present (on a v1 host there is no v2 pids controller).
    let mut s = ctx.spec(&[]);
    s["linux"]["resources"]["unified"] = json!({"pids.max": "10"});
    expect_create_fails(ctx, &s)
}
