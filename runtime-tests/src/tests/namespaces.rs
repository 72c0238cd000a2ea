//! config-linux.md: namespaces (new, inherited, joined by path), user namespace mappings,
//! time offsets.

use super::*;
use crate::driver::registry::Test;
use crate::driver::requirements::Requirement::*;
use crate::test;

pub const TESTS: &[Test] = &[
    test!("namespaces.new_pid", [Root], |c| new_ns(c, "pid", "pid")),
    test!("namespaces.new_network", [Root], |c| new_ns(
        c, "network", "net"
    )),
    test!("namespaces.new_ipc", [Root], |c| new_ns(c, "ipc", "ipc")),
    test!("namespaces.new_uts", [Root], |c| new_ns(c, "uts", "uts")),
    test!("namespaces.new_mount", [Root], |c| new_ns(
        c, "mount", "mnt"
    )),
    test!("namespaces.new_cgroup", [Root], |c| new_ns(
        c, "cgroup", "cgroup"
    )),
    test!("namespaces.new_user", [Root, UserNs], |c| new_ns(
        c, "user", "user"
    )),
    test!("namespaces.new_time", [Root, TimeNs], |c| new_ns(
        c, "time", "time"
    )),
    test!("namespaces.inherit_pid", [Root], |c| inherit_ns(
        c, "pid", "pid"
    )),
    test!("namespaces.inherit_network", [Root], |c| inherit_ns(
        c, "network", "net"
    )),
    test!("namespaces.inherit_ipc", [Root], |c| inherit_ns(
        c, "ipc", "ipc"
    )),
    test!("namespaces.inherit_uts", [Root], |c| inherit_ns(
        c, "uts", "uts"
    )),
    test!("namespaces.inherit_cgroup", [Root], |c| inherit_ns(
        c, "cgroup", "cgroup"
    )),
    test!("namespaces.inherit_user", [Root], |c| inherit_ns(
        c, "user", "user"
    )),
    test!("namespaces.inherit_time", [Root, TimeNs], |c| inherit_ns(
        c, "time", "time"
    )),
    test!("namespaces.join_network", [Root], |c| join_ns(
        c, "network", "net"
    )),
    test!("namespaces.join_ipc", [Root], |c| join_ns(c, "ipc", "ipc")),
    test!("namespaces.join_uts", [Root], |c| join_ns(c, "uts", "uts")),
    test!("namespaces.join_pid", [Root], |c| join_ns(c, "pid", "pid")),
    test!("namespaces.join_cgroup", [Root], |c| join_ns(
        c, "cgroup", "cgroup"
    )),
    test!("namespaces.join_user", [Root, UserNs], |c| join_ns(
        c, "user", "user"
    )),
    test!("namespaces.join_time", [Root, TimeNs], |c| join_ns(
        c, "time", "time"
    )),
    test!("namespaces.join_pid_not_init", [Root], join_pid_not_init),
    test!(
        "namespaces.pid_ns_init_is_pid_1",
        [Root],
        pid_ns_init_is_pid_1
    ),
    test!(
        "namespaces.path_wrong_type_fails",
        [Root],
        path_wrong_type_fails
    ),
    test!("namespaces.path_missing_fails", [Root], path_missing_fails),
    test!(
        "namespaces.duplicate_type_fails",
        [Root],
        duplicate_type_fails
    ),
    test!(
        "namespaces.network_only_loopback",
        [Root],
        network_only_loopback
    ),
    test!("namespaces.cgroup_ns_root", [Root], cgroup_ns_root),
    test!("namespaces.user_uid_map", [Root, UserNs], user_uid_map),
    test!("namespaces.user_gid_map", [Root, UserNs], user_gid_map),
    test!(
        "namespaces.user_multiple_ranges",
        [Root, UserNs],
        user_multiple_ranges
    ),
    test!(
        "namespaces.user_root_is_host_id",
        [Root, UserNs],
        user_root_is_host_id
    ),
    test!(
        "namespaces.user_rootfs_files_unmapped",
        [Root, UserNs],
        user_rootfs_files_unmapped
    ),
    test!(
        "namespaces.time_offsets_file",
        [Root, TimeNs],
        time_offsets_file
    ),
    test!(
        "namespaces.time_offsets_clocks",
        [Root, TimeNs],
        time_offsets_clocks
    ),
];

/// Adds what a namespace kind needs besides its entry (mappings for user).
fn prepare(s: &mut Value, kind: &str) {
    if kind == "user" {
        with_userns(s, 100000, 65536);
    } else {
        spec::add_ns(s, kind, None);
    }
}

fn new_ns(ctx: &Ctx, kind: &str, link: &str) -> Result<()> {
    let mut s = ctx.spec(&[]);
    prepare(&mut s, kind);
    let r = report(ctx, &s)?;
    let (inner, outer) = (ns_of(&r, link)?, host_ns(ctx, link)?);
    ensure!(
        inner != outer,
        "the container shares the runtime's {kind} namespace {inner}"
    );
    Ok(())
}

fn inherit_ns(ctx: &Ctx, kind: &str, link: &str) -> Result<()> {
    let mut s = ctx.spec(&[]);
    spec::drop_ns(&mut s, kind);
    if kind == "network" {
        // sysfs cannot be mounted fresh without a network namespace of one's own
        if let Some(m) = s["mounts"].as_array_mut() {
            m.retain(|m| m["destination"] != "/sys");
        }
    }
    if kind == "uts" {
        // a hostname needs a UTS namespace of the container's own
        spec::remove(&mut s, "/hostname");
    }
    let r = report(ctx, &s)?;
    let (inner, outer) = (ns_of(&r, link)?, host_ns(ctx, link)?);
    ensure!(
        inner == outer,
        "the container has {kind} namespace {inner}, the runtime's is {outer}"
    );
    Ok(())
}

/// Starts a holder container with a new namespace of `kind`; returns it with its pid.
fn holder<'c>(ctx: &'c Ctx, kind: &str) -> Result<(crate::driver::runtime::Container<'c>, i32)> {
    let mut s = ctx.spec(&["--wait"]);
    prepare(&mut s, kind);
    let b = ctx.bundle(&s)?;
    let c = ctx.create(&b)?;
    c.start()?;
    c.wait_report()?;
    let pid = c.pid()?;
    Ok((c, pid))
}

fn join_ns(ctx: &Ctx, kind: &str, link: &str) -> Result<()> {
    let (_h, hpid) = holder(ctx, kind)?;
    let want = pid_ns(hpid, link)?;
    let mut s = ctx.spec(&[]);
    if kind == "user" {
        with_userns(&mut s, 100000, 65536);
    }
    spec::add_ns(&mut s, kind, Some(&format!("/proc/{hpid}/ns/{link}")));
    let r = report(ctx, &s)?;
    let got = ns_of(&r, link)?;
    ensure!(
        got == want,
        "joined {kind} namespace is {got}, the holder's is {want}"
    );
    Ok(())
}

fn join_pid_not_init(ctx: &Ctx) -> Result<()> {
    let (_h, hpid) = holder(ctx, "pid")?;
    let mut s = ctx.spec(&[]);
    spec::add_ns(&mut s, "pid", Some(&format!("/proc/{hpid}/ns/pid")));
    let r = report(ctx, &s)?;
    ensure!(
        r.pid != 1,
        "a process joining an existing pid namespace is its pid 1"
    );
    Ok(())
}

fn pid_ns_init_is_pid_1(ctx: &Ctx) -> Result<()> {
    let r = report(ctx, &ctx.spec(&[]))?;
    ensure!(
        r.pid == 1,
        "the container process is pid {} in its new pid namespace",
        r.pid
    );
    Ok(())
}

fn path_wrong_type_fails(ctx: &Ctx) -> Result<()> {
    let (_h, hpid) = holder(ctx, "ipc")?;
    let mut s = ctx.spec(&[]);
    spec::add_ns(&mut s, "network", Some(&format!("/proc/{hpid}/ns/ipc")));
    expect_create_fails(ctx, &s)
}

fn path_missing_fails(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    spec::add_ns(&mut s, "network", Some("/proc/999999999/ns/net"));
    expect_create_fails(ctx, &s)
}

fn duplicate_type_fails(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    spec::push(&mut s, "/linux/namespaces", json!({"type": "ipc"}));
    expect_create_fails(ctx, &s)
}

fn network_only_loopback(ctx: &Ctx) -> Result<()> {
    let r = report(ctx, &ctx.spec(&["--file", "/proc/net/dev"]))?;
    let devs: Vec<&str> = file(&r, "/proc/net/dev")?
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    ensure!(
        devs == ["lo"],
        "a new network namespace has interfaces {devs:?}"
    );
    Ok(())
}

fn cgroup_ns_root(ctx: &Ctx) -> Result<()> {
    let r = report(ctx, &ctx.spec(&[]))?;
    let bad: Vec<&String> = r
        .cgroup
        .iter()
        .filter(|l| {
            let path = l.splitn(3, ':').nth(2).unwrap_or("");
            // v1 hierarchies the runtime does not manage (name=systemd...) may sit elsewhere
            path != "/" && !l.contains("name=")
        })
        .collect();
    ensure!(
        bad.is_empty(),
        "in a new cgroup namespace the container's cgroups are not \"/\": {bad:?}"
    );
    Ok(())
}

fn user_uid_map(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    with_userns(&mut s, 100000, 65536);
    let r = report(ctx, &s)?;
    let m: Vec<String> = r
        .uid_map
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    ensure!(m == ["0", "100000", "65536"], "uid_map is {m:?}");
    Ok(())
}

fn user_gid_map(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    with_userns(&mut s, 100000, 65536);
    let r = report(ctx, &s)?;
    let m: Vec<String> = r
        .gid_map
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    ensure!(m == ["0", "100000", "65536"], "gid_map is {m:?}");
    Ok(())
}

fn user_multiple_ranges(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    spec::add_ns(&mut s, "user", None);
    let maps = json!([
        {"containerID": 0, "hostID": 200000, "size": 1000},
        {"containerID": 1000, "hostID": 300000, "size": 64536}
    ]);
    s["linux"]["uidMappings"] = maps.clone();
    s["linux"]["gidMappings"] = maps;
    let r = report(ctx, &s)?;
    let lines: Vec<Vec<String>> = r
        .uid_map
        .unwrap_or_default()
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect();
    let want: Vec<Vec<String>> = vec![
        vec!["0".into(), "200000".into(), "1000".into()],
        vec!["1000".into(), "300000".into(), "64536".into()],
    ];
    ensure!(lines == want, "uid_map is {lines:?}");
    Ok(())
}

fn user_root_is_host_id(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&["--wait"]);
    with_userns(&mut s, 100000, 65536);
    let b = ctx.bundle(&s)?;
    let c = ctx.create(&b)?;
    c.start()?;
    let r = c.wait_report()?;
    ensure!(r.uids.first() == Some(&0), "inside, uid is {:?}", r.uids);
    let pid = c.pid()?;
    let st = read_host(std::path::Path::new(&format!("/proc/{pid}/status")))?;
    let uid = st
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .unwrap_or("")
        .split_whitespace()
        .next()
        .unwrap_or("");
    ensure!(
        uid == "100000",
        "on the host the container's root is uid {uid}"
    );
    Ok(())
}

fn user_rootfs_files_unmapped(ctx: &Ctx) -> Result<()> {
    // The runtime SHOULD NOT chown the rootfs: files owned by host root are unmapped (65534).
    let mut s = ctx.spec(&["--path", "/bin/busybox"]);
    with_userns(&mut s, 100000, 65536);
    let b = ctx.bundle(&s)?;
    let r = ctx.run_report(&b)?;
    let p = path(&r, "/bin/busybox")?;
    ensure!(
        p.uid == 65534,
        "/bin/busybox is owned by {} inside (want the overflow uid 65534)",
        p.uid
    );
    let host_uid =
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(b.rootfs().join("bin/busybox"))?);
    ensure!(
        host_uid == 0,
        "the runtime changed the rootfs owner to {host_uid} on the host"
    );
    Ok(())
}

fn time_spec(ctx: &Ctx, extra: &[&str]) -> Value {
    let mut s = ctx.spec(extra);
    spec::add_ns(&mut s, "time", None);
    s["linux"]["timeOffsets"] = json!({
        "monotonic": {"secs": 86400, "nanosecs": 0},
        "boottime": {"secs": 172800, "nanosecs": 0}
    });
    s
}

fn time_offsets_file(ctx: &Ctx) -> Result<()> {
    let r = report(ctx, &time_spec(ctx, &[]))?;
    let t = r.timens_offsets.unwrap_or_default();
    let norm: Vec<Vec<&str>> = t.lines().map(|l| l.split_whitespace().collect()).collect();
    ensure!(
        norm.contains(&vec!["monotonic", "86400", "0"]),
        "timens_offsets: {t:?}"
    );
    ensure!(
        norm.contains(&vec!["boottime", "172800", "0"]),
        "timens_offsets: {t:?}"
    );
    Ok(())
}

fn now_ns(clock: nix::time::ClockId) -> Result<i128> {
    let t = nix::time::clock_gettime(clock)?;
    Ok(t.tv_sec() as i128 * 1_000_000_000 + t.tv_nsec() as i128)
}

fn time_offsets_clocks(ctx: &Ctx) -> Result<()> {
    let before = now_ns(nix::time::ClockId::CLOCK_MONOTONIC)?;
    let r = report(ctx, &time_spec(ctx, &[]))?;
    let after = now_ns(nix::time::ClockId::CLOCK_MONOTONIC)?;
    let off = 86400i128 * 1_000_000_000;
    // The probe read its clock between our two reads, so it lies in [before, after] + offset.
    ensure!(
        r.monotonic_ns >= before + off && r.monotonic_ns <= after + off,
        "container monotonic clock {} is not host clock + 86400 s (host {}..{})",
        r.monotonic_ns,
        before,
        after
    );
    Ok(())
}
