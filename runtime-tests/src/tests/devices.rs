//! config-linux.md: devices, default devices, the device allowlist's effect;
//! runtime-linux.md: /dev symbolic links.

use super::*;
use crate::driver::registry::Test;
use crate::driver::requirements::Requirement::*;
use crate::report::PathInfo;
use crate::test;

pub const TESTS: &[Test] = &[
    test!("devices.default_null", [Root], |c| default_dev(
        c,
        "/dev/null",
        1,
        3
    )),
    test!("devices.default_zero", [Root], |c| default_dev(
        c,
        "/dev/zero",
        1,
        5
    )),
    test!("devices.default_full", [Root], |c| default_dev(
        c,
        "/dev/full",
        1,
        7
    )),
    test!("devices.default_random", [Root], |c| default_dev(
        c,
        "/dev/random",
        1,
        8
    )),
    test!("devices.default_urandom", [Root], |c| default_dev(
        c,
        "/dev/urandom",
        1,
        9
    )),
    test!("devices.default_tty", [Root], |c| default_dev(
        c, "/dev/tty", 5, 0
    )),
    test!("devices.default_ptmx", [Root], default_ptmx),
    test!("devices.null_usable", [Root], null_usable),
    test!("devices.full_returns_enospc", [Root], full_returns_enospc),
    test!("devices.symlink_fd", [Root], |c| dev_symlink(
        c,
        "/dev/fd",
        "/proc/self/fd"
    )),
    test!("devices.symlink_stdin", [Root], |c| dev_symlink(
        c,
        "/dev/stdin",
        "/proc/self/fd/0"
    )),
    test!("devices.symlink_stdout", [Root], |c| dev_symlink(
        c,
        "/dev/stdout",
        "/proc/self/fd/1"
    )),
    test!("devices.symlink_stderr", [Root], |c| dev_symlink(
        c,
        "/dev/stderr",
        "/proc/self/fd/2"
    )),
    test!(
        "devices.console_with_terminal",
        [Root],
        console_with_terminal
    ),
    test!("devices.custom_char", [Root], custom_char),
    test!("devices.custom_block", [Root], custom_block),
    test!("devices.custom_fifo", [Root], custom_fifo),
    test!("devices.custom_file_mode", [Root], custom_file_mode),
    test!("devices.custom_owner", [Root], custom_owner),
    test!("devices.custom_outside_dev", [Root], custom_outside_dev),
    test!(
        "devices.custom_in_user_namespace",
        [Root, UserNs, HostPath("/dev/fuse")],
        custom_in_user_namespace
    ),
    test!(
        "devices.existing_file_mismatch_fails",
        [Root],
        existing_file_mismatch_fails
    ),
    test!(
        "devices.cgroup_deny_blocks_open",
        [Root],
        cgroup_deny_blocks_open
    ),
    test!(
        "devices.cgroup_allow_permits_open",
        [Root],
        cgroup_allow_permits_open
    ),
    test!(
        "devices.cgroup_allow_read_only",
        [Root],
        cgroup_allow_read_only
    ),
    test!("devices.cgroup_mknod_allowed", [Root], cgroup_mknod_allowed),
];

fn default_dev(ctx: &Ctx, p: &str, major: u64, minor: u64) -> Result<()> {
    let r = report(ctx, &ctx.spec(&["--path", p]))?;
    let i = path(&r, p)?;
    ensure!(i.exists(), "{p} is missing");
    ensure_node(i, p, "char", major, minor)
}

fn default_ptmx(ctx: &Ctx) -> Result<()> {
    let r = report(
        ctx,
        &ctx.spec(&["--path", "/dev/ptmx", "--path", "/dev/pts/ptmx"]),
    )?;
    let i = path(&r, "/dev/ptmx")?;
    let ok = match i.kind.as_str() {
        "symlink" => matches!(i.link.as_deref(), Some("pts/ptmx") | Some("/dev/pts/ptmx")),
        "char" => i.major == 5 && i.minor == 2,
        _ => false,
    };
    ensure!(
        ok,
        "/dev/ptmx is {} {:?} {}:{}",
        i.kind,
        i.link,
        i.major,
        i.minor
    );
    Ok(())
}

fn null_usable(ctx: &Ctx) -> Result<()> {
    let r = report(
        ctx,
        &ctx.spec(&["--path", "/dev/null", "--try", "open-rw:/dev/null"]),
    )?;
    expect_ok(&r, "open-rw:/dev/null")?;
    ensure!(
        path(&r, "/dev/null")?.read == Some(Ok(0)),
        "/dev/null read {:?}",
        path(&r, "/dev/null")?.read
    );
    Ok(())
}

fn full_returns_enospc(ctx: &Ctx) -> Result<()> {
    let r = report(ctx, &ctx.spec(&["--try", "write-full:/dev/full"]))?;
    expect_errno(&r, "write-full:/dev/full", libc::ENOSPC)
}

fn dev_symlink(ctx: &Ctx, p: &str, target: &str) -> Result<()> {
    let r = report(ctx, &ctx.spec(&["--path", p]))?;
    let i = path(&r, p)?;
    ensure!(
        i.kind == "symlink" && i.link.as_deref() == Some(target),
        "{p} is {} -> {:?}, want a symlink to {target}",
        i.kind,
        i.link
    );
    Ok(())
}

fn console_with_terminal(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&["--path", "/dev/console"]);
    s["process"]["terminal"] = json!(true);
    let b = ctx.bundle(&s)?;
    let (c, con) = ctx.create_with_console(&b)?;
    c.start()?;
    let line = ctx.poll("the report on the terminal", || {
        Ok(crate::driver::runtime::find_line(
            &con.output(),
            crate::report::REPORT_PREFIX,
        ))
    })?;
    let r = crate::driver::runtime::parse_report(&line)?;
    let i = path(&r, "/dev/console")?;
    ensure!(
        i.kind == "char" && (136..=143).contains(&i.major),
        "/dev/console is {} {}:{}, not the pty",
        i.kind,
        i.major,
        i.minor
    );
    Ok(())
}

fn add_dev(s: &mut Value, dev: Value) {
    spec::push(s, "/linux/devices", dev);
}

/// What the probe sees at the path of `dev` in a container whose config adds `dev` to
/// `linux.devices`, after `prepare` has shaped the rest of the config.
fn custom_node(ctx: &Ctx, dev: Value, prepare: impl FnOnce(&mut Value)) -> Result<PathInfo> {
    let p = dev["path"].as_str().expect("a device path").to_string();
    let mut s = ctx.spec(&["--path", &p]);
    prepare(&mut s);
    add_dev(&mut s, dev);
    let r = report(ctx, &s)?;
    Ok(path(&r, &p)?.clone())
}

/// `i` (the probe's view of `p`) is a device node of `kind` with these numbers.
fn ensure_node(i: &PathInfo, p: &str, kind: &str, major: u64, minor: u64) -> Result<()> {
    ensure!(
        i.kind == kind && i.major == major && i.minor == minor,
        "{p} is {} {}:{}, want {kind} {major}:{minor}",
        i.kind,
        i.major,
        i.minor
    );
    Ok(())
}

fn fuse() -> Value {
    json!({"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229})
}

fn custom_char(ctx: &Ctx) -> Result<()> {
    let i = custom_node(ctx, fuse(), |_| {})?;
    ensure_node(&i, "/dev/fuse", "char", 10, 229)
}

fn custom_block(ctx: &Ctx) -> Result<()> {
    let dev = json!({"path": "/dev/myloop", "type": "b", "major": 7, "minor": 200});
    let i = custom_node(ctx, dev, |_| {})?;
    ensure_node(&i, "/dev/myloop", "block", 7, 200)
}

fn custom_fifo(ctx: &Ctx) -> Result<()> {
    let i = custom_node(ctx, json!({"path": "/dev/myfifo", "type": "p"}), |_| {})?;
    ensure!(i.kind == "fifo", "/dev/myfifo is {}", i.kind);
    Ok(())
}

fn custom_file_mode(ctx: &Ctx) -> Result<()> {
    let mut dev = fuse();
    dev["fileMode"] = json!(0o640);
    let i = custom_node(ctx, dev, |_| {})?;
    ensure!(i.mode == 0o640, "/dev/fuse has mode {:o}, want 640", i.mode);
    Ok(())
}

fn custom_owner(ctx: &Ctx) -> Result<()> {
    let mut dev = fuse();
    dev["uid"] = json!(1234);
    dev["gid"] = json!(5678);
    let i = custom_node(ctx, dev, |_| {})?;
    ensure!(
        i.uid == 1234 && i.gid == 5678,
        "/dev/fuse is owned by {}:{}",
        i.uid,
        i.gid
    );
    Ok(())
}

fn custom_outside_dev(ctx: &Ctx) -> Result<()> {
    let dev = json!({"path": "/opt/devs/mynull", "type": "c", "major": 1, "minor": 3});
    let i = custom_node(ctx, dev, |_| {})?;
    ensure_node(&i, "/opt/devs/mynull", "char", 1, 3)
}

fn custom_in_user_namespace(ctx: &Ctx) -> Result<()> {
    // mknod is not allowed in a user namespace: the runtime must supply it another way
    let i = custom_node(ctx, fuse(), |s| with_userns(s, 100000, 65536))?;
    ensure_node(&i, "/dev/fuse", "char", 10, 229)
}

fn existing_file_mismatch_fails(ctx: &Ctx) -> Result<()> {
    // config-linux.md: if a file already exists at `path` that does not match the requested
    // device, the runtime MUST generate an error.
    let mut s = ctx.spec(&[]);
    add_dev(
        &mut s,
        json!({"path": "/opt/taken", "type": "c", "major": 1, "minor": 3}),
    );
    let b = ctx.bundle(&s)?;
    std::fs::create_dir_all(b.rootfs().join("opt"))?;
    std::fs::write(b.rootfs().join("opt/taken"), "a regular file")?;
    expect_bundle_refused(ctx, &b)
}

fn fuse_with_rules(ctx: &Ctx, rules: Value, tries: &[&str]) -> Result<crate::report::Report> {
    let mut args = vec![];
    for t in tries {
        args.push("--try");
        args.push(t);
    }
    let mut s = ctx.spec(&args);
    add_dev(
        &mut s,
        json!({"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}),
    );
    s["linux"]["resources"]["devices"] = rules;
    report(ctx, &s)
}

fn cgroup_deny_blocks_open(ctx: &Ctx) -> Result<()> {
    let r = fuse_with_rules(
        ctx,
        json!([{"allow": false, "access": "rwm"}]),
        &["open-rw:/dev/fuse"],
    )?;
    expect_errno(&r, "open-rw:/dev/fuse", libc::EPERM)
}

fn not_eperm(r: &crate::report::Report, action: &str) -> Result<()> {
    let t = tried(r, action)?;
    // Without a driver the open fails with ENODEV/ENXIO; only EPERM means the cgroup refused.
    ensure!(
        t.errno != libc::EPERM,
        "{action}: EPERM although the allowlist allows it"
    );
    Ok(())
}

fn cgroup_allow_permits_open(ctx: &Ctx) -> Result<()> {
    let rules = json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}
    ]);
    let r = fuse_with_rules(ctx, rules, &["open-rw:/dev/fuse"])?;
    not_eperm(&r, "open-rw:/dev/fuse")
}

fn cgroup_allow_read_only(ctx: &Ctx) -> Result<()> {
    let rules = json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "r"}
    ]);
    let r = fuse_with_rules(ctx, rules, &["open-r:/dev/fuse", "open-w:/dev/fuse"])?;
    not_eperm(&r, "open-r:/dev/fuse")?;
    expect_errno(&r, "open-w:/dev/fuse", libc::EPERM)
}

fn cgroup_mknod_allowed(ctx: &Ctx) -> Result<()> {
    let rules = json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "m"}
    ]);
    let r = fuse_with_rules(ctx, rules, &["mknod:/tmp/node:c:10:200"])?;
    expect_ok(&r, "mknod:/tmp/node:c:10:200")
}
