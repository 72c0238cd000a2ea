//! config.md: mounts (types, options, bind mounts, order, relative destinations, propagation,
//! recursive attributes, idmapped mounts); config-linux.md: rootfsPropagation; default
//! filesystems.

use super::*;
use crate::driver::hostmount::HostMount;
use crate::driver::registry::Test;
use crate::driver::requirements::Requirement::*;
use crate::test;

pub const TESTS: &[Test] = &[
    test!("mounts.default_proc", [Root], |c| default_fs(
        c, "/proc", "proc"
    )),
    test!("mounts.default_sysfs", [Root], |c| default_fs(
        c, "/sys", "sysfs"
    )),
    test!("mounts.default_devpts", [Root], |c| default_fs(
        c, "/dev/pts", "devpts"
    )),
    test!("mounts.default_shm", [Root], |c| default_fs(
        c, "/dev/shm", "tmpfs"
    )),
    test!("mounts.default_mqueue", [Root], |c| default_fs(
        c,
        "/dev/mqueue",
        "mqueue"
    )),
    test!("mounts.tmpfs_type", [Root], tmpfs_type),
    test!("mounts.tmpfs_mode", [Root], tmpfs_mode),
    test!("mounts.tmpfs_size", [Root], tmpfs_size),
    test!(
        "mounts.fs_specific_option_passed",
        [Root],
        fs_specific_option_passed
    ),
    test!("mounts.option_ro", [Root], |c| vfs_option(c, "ro", "ro")),
    test!("mounts.option_rw", [Root], |c| vfs_option(c, "rw", "rw")),
    test!("mounts.option_nosuid", [Root], |c| vfs_option(
        c, "nosuid", "nosuid"
    )),
    test!("mounts.option_nodev", [Root], |c| vfs_option(
        c, "nodev", "nodev"
    )),
    test!("mounts.option_noexec", [Root], |c| vfs_option(
        c, "noexec", "noexec"
    )),
    test!("mounts.option_noatime", [Root], |c| vfs_option(
        c, "noatime", "noatime"
    )),
    test!("mounts.option_nodiratime", [Root], |c| vfs_option(
        c,
        "nodiratime",
        "nodiratime"
    )),
    test!("mounts.option_relatime", [Root], |c| vfs_option(
        c, "relatime", "relatime"
    )),
    test!(
        "mounts.option_nosymfollow",
        [Root, KernelAtLeast(5, 10)],
        |c| vfs_option(c, "nosymfollow", "nosymfollow")
    ),
    test!("mounts.option_strictatime", [Root], strictatime),
    test!("mounts.option_sync", [Root], |c| super_option(
        c, "sync", "sync"
    )),
    test!("mounts.option_dirsync", [Root], |c| super_option(
        c, "dirsync", "dirsync"
    )),
    test!("mounts.option_suid_default", [Root], suid_default),
    test!("mounts.ro_enforced", [Root], ro_enforced),
    test!("mounts.noexec_enforced", [Root], noexec_enforced),
    test!("mounts.bind_dir", [Root], bind_dir),
    test!("mounts.bind_file", [Root], bind_file),
    test!("mounts.bind_ro", [Root], bind_ro),
    test!(
        "mounts.bind_writes_reach_host",
        [Root],
        bind_writes_reach_host
    ),
    test!("mounts.bind_relative_source", [Root], bind_relative_source),
    test!(
        "mounts.bind_missing_source_fails",
        [Root],
        bind_missing_source_fails
    ),
    test!("mounts.relative_destination", [Root], relative_destination),
    test!("mounts.destination_created", [Root], destination_created),
    test!("mounts.order_last_wins", [Root], order_last_wins),
    test!("mounts.order_nested", [Root], order_nested),
    test!("mounts.rbind_includes_submounts", [Root], rbind_submounts),
    test!(
        "mounts.bind_excludes_submounts",
        [Root],
        bind_excludes_submounts
    ),
    test!("mounts.rro_recursive", [Root, KernelAtLeast(5, 12)], |c| {
        recursive(c, "rro", "ro")
    }),
    test!(
        "mounts.rnosuid_recursive",
        [Root, KernelAtLeast(5, 12)],
        |c| recursive(c, "rnosuid", "nosuid")
    ),
    test!(
        "mounts.rnodev_recursive",
        [Root, KernelAtLeast(5, 12)],
        |c| recursive(c, "rnodev", "nodev")
    ),
    test!(
        "mounts.rnoexec_recursive",
        [Root, KernelAtLeast(5, 12)],
        |c| recursive(c, "rnoexec", "noexec")
    ),
    test!(
        "mounts.rnoatime_recursive",
        [Root, KernelAtLeast(5, 12)],
        |c| recursive(c, "rnoatime", "noatime")
    ),
    test!(
        "mounts.ro_bind_not_recursive",
        [Root],
        ro_bind_not_recursive
    ),
    test!("mounts.propagation_rprivate", [Root], |c| propagation(
        c, "rprivate", "private"
    )),
    test!("mounts.propagation_private", [Root], |c| propagation(
        c, "private", "private"
    )),
    test!("mounts.propagation_rslave", [Root], |c| propagation(
        c, "rslave", "slave"
    )),
    test!("mounts.propagation_slave", [Root], |c| propagation(
        c, "slave", "slave"
    )),
    test!("mounts.propagation_rshared", [Root], |c| propagation(
        c, "rshared", "shared"
    )),
    test!("mounts.propagation_shared", [Root], |c| propagation(
        c, "shared", "shared"
    )),
    test!("mounts.propagation_runbindable", [Root], |c| propagation(
        c,
        "runbindable",
        "unbindable"
    )),
    test!("mounts.propagation_unbindable", [Root], |c| propagation(
        c,
        "unbindable",
        "unbindable"
    )),
    test!(
        "mounts.rslave_receives_host_mounts",
        [Root],
        rslave_receives_host_mounts
    ),
    test!(
        "mounts.rprivate_ignores_host_mounts",
        [Root],
        rprivate_ignores_host_mounts
    ),
    test!("mounts.unknown_type_fails", [Root], unknown_type_fails),
    test!(
        "mounts.idmap_bind",
        [Root, UserNs, KernelAtLeast(5, 12)],
        idmap_bind
    ),
    test!("rootfs_propagation.private", [Root], |c| rootfs_prop(
        c, "private", "private"
    )),
    test!("rootfs_propagation.slave", [Root], |c| rootfs_prop(
        c, "slave", "slave"
    )),
    test!("rootfs_propagation.shared", [Root], |c| rootfs_prop(
        c, "shared", "shared"
    )),
    test!("rootfs_propagation.unbindable", [Root], |c| rootfs_prop(
        c,
        "unbindable",
        "unbindable"
    )),
    test!(
        "rootfs_propagation.slave_receives_host_mounts",
        [Root],
        rootfs_slave_receives
    ),
];

fn add_mount(s: &mut Value, dest: &str, ty: &str, source: &str, opts: &[&str]) {
    spec::push(
        s,
        "/mounts",
        json!({"destination": dest, "type": ty, "source": source, "options": opts}),
    );
}

fn default_fs(ctx: &Ctx, mp: &str, ty: &str) -> Result<()> {
    let r = report(ctx, &ctx.spec(&[]))?;
    let m = mount_at(&r, mp)?;
    ensure!(m.fstype == ty, "{mp} is {}, want {ty}", m.fstype);
    Ok(())
}

fn tmpfs_type(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    add_mount(&mut s, "/mnt/t", "tmpfs", "tmpfs", &[]);
    let r = report(ctx, &s)?;
    ensure!(mount_at(&r, "/mnt/t")?.fstype == "tmpfs", "not a tmpfs");
    Ok(())
}

fn tmpfs_mode(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&["--path", "/mnt/t"]);
    add_mount(&mut s, "/mnt/t", "tmpfs", "tmpfs", &["mode=700"]);
    let r = report(ctx, &s)?;
    let p = path(&r, "/mnt/t")?;
    ensure!(p.mode == 0o700, "mode {:o}", p.mode);
    Ok(())
}

fn tmpfs_size(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    add_mount(&mut s, "/mnt/t", "tmpfs", "tmpfs", &["size=1m"]);
    let r = report(ctx, &s)?;
    let m = mount_at(&r, "/mnt/t")?;
    ensure!(
        m.has_super("size=1024k"),
        "superblock options {:?}",
        m.super_options
    );
    Ok(())
}

fn fs_specific_option_passed(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    add_mount(&mut s, "/mnt/t", "tmpfs", "tmpfs", &["nr_inodes=1000"]);
    let r = report(ctx, &s)?;
    let m = mount_at(&r, "/mnt/t")?;
    ensure!(
        m.has_super("nr_inodes=1000"),
        "superblock options {:?}",
        m.super_options
    );
    Ok(())
}

fn vfs_option(ctx: &Ctx, opt: &str, want: &str) -> Result<()> {
    let mut s = ctx.spec(&[]);
    add_mount(&mut s, "/mnt/t", "tmpfs", "tmpfs", &[opt]);
    let r = report(ctx, &s)?;
    let m = mount_at(&r, "/mnt/t")?;
    ensure!(m.has(want), "option {opt}: mount options {:?}", m.options);
    Ok(())
}

fn super_option(ctx: &Ctx, opt: &str, want: &str) -> Result<()> {
    let mut s = ctx.spec(&[]);
    add_mount(&mut s, "/mnt/t", "tmpfs", "tmpfs", &[opt]);
    let r = report(ctx, &s)?;
    let m = mount_at(&r, "/mnt/t")?;
    ensure!(
        m.has_super(want) || m.has(want),
        "option {opt}: options {:?} / {:?}",
        m.options,
        m.super_options
    );
    Ok(())
}

fn strictatime(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    add_mount(&mut s, "/mnt/t", "tmpfs", "tmpfs", &["strictatime"]);
    let r = report(ctx, &s)?;
    let m = mount_at(&r, "/mnt/t")?;
    ensure!(
        !m.has("relatime") && !m.has("noatime"),
        "strictatime: mount options {:?}",
        m.options
    );
    Ok(())
}

fn suid_default(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    add_mount(&mut s, "/mnt/t", "tmpfs", "tmpfs", &[]);
    let r = report(ctx, &s)?;
    let m = mount_at(&r, "/mnt/t")?;
    ensure!(
        !m.has("nosuid") && !m.has("ro"),
        "a mount without options is {:?}",
        m.options
    );
    Ok(())
}

fn ro_enforced(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&["--path", "/mnt/t", "--try", "mkdir:/mnt/t/x"]);
    add_mount(&mut s, "/mnt/t", "tmpfs", "tmpfs", &["ro"]);
    let r = report(ctx, &s)?;
    expect_errno(&r, "mkdir:/mnt/t/x", libc::EROFS)
}

fn exec_source(ctx: &Ctx) -> Result<PathBuf> {
    let d = ctx.scratch("execsrc")?;
    let f = d.join("tool");
    std::fs::write(&f, "#!/bin/sh\n")?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755))?;
    Ok(d)
}

fn noexec_enforced(ctx: &Ctx) -> Result<()> {
    let src = exec_source(ctx)?;
    let mut s = ctx.spec(&["--path", "/mnt/x/tool", "--path", "/mnt/y/tool"]);
    add_mount(
        &mut s,
        "/mnt/x",
        "bind",
        &src.to_string_lossy(),
        &["rbind", "noexec"],
    );
    add_mount(&mut s, "/mnt/y", "bind", &src.to_string_lossy(), &["rbind"]);
    let r = report(ctx, &s)?;
    ensure!(
        path(&r, "/mnt/x/tool")?.exec == Some(Err(libc::EACCES)),
        "noexec: access(X_OK) {:?}",
        path(&r, "/mnt/x/tool")?.exec
    );
    ensure!(
        path(&r, "/mnt/y/tool")?.exec == Some(Ok(())),
        "exec: access(X_OK) {:?}",
        path(&r, "/mnt/y/tool")?.exec
    );
    Ok(())
}

fn bind_dir(ctx: &Ctx) -> Result<()> {
    let src = ctx.scratch("src")?;
    std::fs::write(src.join("hello"), "from the host")?;
    let mut s = ctx.spec(&["--file", "/data/hello"]);
    add_mount(&mut s, "/data", "none", &src.to_string_lossy(), &["bind"]);
    let r = report(ctx, &s)?;
    ensure!(
        file(&r, "/data/hello")? == "from the host",
        "bind content differs"
    );
    Ok(())
}

fn bind_file(ctx: &Ctx) -> Result<()> {
    let src = ctx.scratch("src")?.join("single");
    std::fs::write(&src, "one file")?;
    let mut s = ctx.spec(&["--file", "/etc/single", "--path", "/etc/single"]);
    add_mount(
        &mut s,
        "/etc/single",
        "bind",
        &src.to_string_lossy(),
        &["bind"],
    );
    let r = report(ctx, &s)?;
    ensure!(
        path(&r, "/etc/single")?.kind == "file",
        "destination is a {}",
        path(&r, "/etc/single")?.kind
    );
    ensure!(
        file(&r, "/etc/single")? == "one file",
        "bind content differs"
    );
    Ok(())
}

fn bind_ro(ctx: &Ctx) -> Result<()> {
    let src = ctx.scratch("src")?;
    let mut s = ctx.spec(&["--try", "mkdir:/data/x"]);
    add_mount(
        &mut s,
        "/data",
        "bind",
        &src.to_string_lossy(),
        &["rbind", "ro"],
    );
    let r = report(ctx, &s)?;
    expect_errno(&r, "mkdir:/data/x", libc::EROFS)?;
    ensure!(!src.join("x").exists(), "the write reached the host");
    Ok(())
}

fn bind_writes_reach_host(ctx: &Ctx) -> Result<()> {
    let src = ctx.scratch("src")?;
    let mut s = ctx.spec(&["--try", "mkdir:/data/made-inside"]);
    add_mount(
        &mut s,
        "/data",
        "bind",
        &src.to_string_lossy(),
        &["rbind", "rw"],
    );
    let r = report(ctx, &s)?;
    expect_ok(&r, "mkdir:/data/made-inside")?;
    ensure!(
        src.join("made-inside").is_dir(),
        "the directory made inside is not on the host"
    );
    Ok(())
}

fn bind_relative_source(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&["--file", "/data/hello"]);
    add_mount(&mut s, "/data", "bind", "relsrc", &["rbind"]);
    let b = ctx.bundle(&s)?;
    std::fs::create_dir(b.dir.join("relsrc"))?;
    std::fs::write(b.dir.join("relsrc/hello"), "relative")?;
    let r = ctx.run_report(&b)?;
    ensure!(
        file(&r, "/data/hello")? == "relative",
        "relative source not resolved against the bundle"
    );
    Ok(())
}

fn bind_missing_source_fails(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    let missing = ctx.dir.join("no-such-source");
    add_mount(
        &mut s,
        "/data",
        "bind",
        &missing.to_string_lossy(),
        &["rbind"],
    );
    expect_create_fails(ctx, &s)
}

fn relative_destination(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    add_mount(&mut s, "reldest", "tmpfs", "tmpfs", &[]);
    let r = report(ctx, &s)?;
    let m = mount_at(&r, "/reldest")?;
    ensure!(m.fstype == "tmpfs", "/reldest is {}", m.fstype);
    Ok(())
}

fn destination_created(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    add_mount(&mut s, "/does/not/exist/yet", "tmpfs", "tmpfs", &[]);
    let r = report(ctx, &s)?;
    mount_at(&r, "/does/not/exist/yet")?;
    Ok(())
}

fn order_last_wins(ctx: &Ctx) -> Result<()> {
    let (a, b) = (ctx.scratch("first")?, ctx.scratch("second")?);
    std::fs::write(a.join("first"), "1")?;
    std::fs::write(b.join("second"), "2")?;
    let mut s = ctx.spec(&["--path", "/data/first", "--path", "/data/second"]);
    add_mount(&mut s, "/data", "bind", &a.to_string_lossy(), &["rbind"]);
    add_mount(&mut s, "/data", "bind", &b.to_string_lossy(), &["rbind"]);
    let r = report(ctx, &s)?;
    ensure!(
        path(&r, "/data/second")?.exists(),
        "the second (last) mount is not visible at /data"
    );
    ensure!(
        !path(&r, "/data/first")?.exists(),
        "the first mount is visible over the last one"
    );
    Ok(())
}

fn order_nested(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    add_mount(&mut s, "/mnt/a", "tmpfs", "tmpfs", &["mode=755"]);
    add_mount(&mut s, "/mnt/a/b", "tmpfs", "tmpfs", &["mode=700"]);
    let r = report(ctx, &s)?;
    let (a, b) = (mount_at(&r, "/mnt/a")?, mount_at(&r, "/mnt/a/b")?);
    ensure!(
        b.parent == a.id,
        "/mnt/a/b (parent {}) is not mounted on /mnt/a (id {})",
        b.parent,
        a.id
    );
    Ok(())
}

/// A host directory with a tmpfs submount `sub` (unmounted when the guard drops).
fn source_with_submount(ctx: &Ctx) -> Result<(PathBuf, HostMount)> {
    let src = ctx.scratch("src")?;
    std::fs::create_dir(src.join("sub"))?;
    let g = HostMount::tmpfs(&src.join("sub"))?;
    Ok((src, g))
}

fn rbind_submounts(ctx: &Ctx) -> Result<()> {
    let (src, _g) = source_with_submount(ctx)?;
    let mut s = ctx.spec(&[]);
    add_mount(&mut s, "/data", "bind", &src.to_string_lossy(), &["rbind"]);
    let r = report(ctx, &s)?;
    let m = mount_at(&r, "/data/sub")?;
    ensure!(m.fstype == "tmpfs", "/data/sub is {}", m.fstype);
    Ok(())
}

fn bind_excludes_submounts(ctx: &Ctx) -> Result<()> {
    let (src, _g) = source_with_submount(ctx)?;
    let mut s = ctx.spec(&[]);
    add_mount(&mut s, "/data", "bind", &src.to_string_lossy(), &["bind"]);
    let r = report(ctx, &s)?;
    ensure!(
        mount_at(&r, "/data/sub").is_err(),
        "a non-recursive bind carried the submount"
    );
    Ok(())
}

fn recursive(ctx: &Ctx, opt: &str, want: &str) -> Result<()> {
    let (src, _g) = source_with_submount(ctx)?;
    let mut s = ctx.spec(&[]);
    add_mount(
        &mut s,
        "/data",
        "bind",
        &src.to_string_lossy(),
        &["rbind", opt],
    );
    let r = report(ctx, &s)?;
    for mp in ["/data", "/data/sub"] {
        let m = mount_at(&r, mp)?;
        ensure!(m.has(want), "{opt}: {mp} has options {:?}", m.options);
    }
    Ok(())
}

fn ro_bind_not_recursive(ctx: &Ctx) -> Result<()> {
    // `ro` maps to mount(2)'s MS_RDONLY on the bind mount itself; submounts keep their flags.
    let (src, _g) = source_with_submount(ctx)?;
    let mut s = ctx.spec(&[]);
    add_mount(
        &mut s,
        "/data",
        "bind",
        &src.to_string_lossy(),
        &["rbind", "ro"],
    );
    let r = report(ctx, &s)?;
    ensure!(mount_at(&r, "/data")?.has("ro"), "/data is not read-only");
    Ok(())
}

/// A host directory that is a shared mount, with its guard.
fn shared_source(ctx: &Ctx) -> Result<(PathBuf, HostMount)> {
    let src = ctx.scratch("shared")?;
    let g = HostMount::shared_self_bind(&src)?;
    Ok((src, g))
}

fn propagation(ctx: &Ctx, opt: &str, want: &str) -> Result<()> {
    let (src, _g) = shared_source(ctx)?;
    let mut s = ctx.spec(&[]);
    add_mount(
        &mut s,
        "/data",
        "bind",
        &src.to_string_lossy(),
        &["rbind", opt],
    );
    let r = report(ctx, &s)?;
    let m = mount_at(&r, "/data")?;
    ensure!(
        m.propagation() == want,
        "{opt}: /data is {} ({:?})",
        m.propagation(),
        m.optional
    );
    Ok(())
}

/// Starts a waiting container, then mounts a tmpfs at `host_dir/late` on the host and returns
/// whether the container's mount table shows it at `inside/late`.
fn sees_late_mount(ctx: &Ctx, s: &Value, host_dir: &std::path::Path, inside: &str) -> Result<bool> {
    std::fs::create_dir_all(host_dir.join("late"))?;
    let b = ctx.bundle(s)?;
    let c = ctx.create(&b)?;
    c.start()?;
    c.wait_report()?;
    let pid = c.pid()?;
    let _late = HostMount::tmpfs(&host_dir.join("late"))?;
    let mi = std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))?;
    let want = format!("{inside}/late");
    Ok(mi
        .lines()
        .filter_map(crate::driver::mountinfo::parse_line)
        .any(|m| m.mount_point == want))
}

fn rslave_receives_host_mounts(ctx: &Ctx) -> Result<()> {
    let (src, _g) = shared_source(ctx)?;
    let mut s = ctx.spec(&["--wait"]);
    add_mount(
        &mut s,
        "/data",
        "bind",
        &src.to_string_lossy(),
        &["rbind", "rslave"],
    );
    ensure!(
        sees_late_mount(ctx, &s, &src, "/data")?,
        "a mount made on the host after start is not visible in an rslave mount"
    );
    Ok(())
}

fn rprivate_ignores_host_mounts(ctx: &Ctx) -> Result<()> {
    let (src, _g) = shared_source(ctx)?;
    let mut s = ctx.spec(&["--wait"]);
    add_mount(
        &mut s,
        "/data",
        "bind",
        &src.to_string_lossy(),
        &["rbind", "rprivate"],
    );
    ensure!(
        !sees_late_mount(ctx, &s, &src, "/data")?,
        "a host mount propagated into an rprivate mount"
    );
    Ok(())
}

fn unknown_type_fails(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    add_mount(&mut s, "/mnt/t", "no-such-fs-type", "none", &[]);
    expect_create_fails(ctx, &s)
}

fn idmap_bind(ctx: &Ctx) -> Result<()> {
    let src = ctx.scratch("idsrc")?;
    std::fs::write(src.join("owned-by-root"), "x")?;
    let mut s = ctx.spec(&["--path", "/data/owned-by-root"]);
    with_userns(&mut s, 100000, 65536);
    // the mapped root cannot create directories in a rootfs owned by host root
    spec::push(
        &mut s,
        "/mounts",
        json!({
            "destination": "/data", "type": "bind", "source": src, "options": ["rbind", "idmap"],
            "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
            "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]
        }),
    );
    let b = ctx.bundle(&s)?;
    std::fs::create_dir(b.rootfs().join("data"))?;
    let r = ctx.run_report(&b)?;
    let p = path(&r, "/data/owned-by-root")?;
    ensure!(
        p.uid == 0 && p.gid == 0,
        "through the idmapped mount the file is owned by {}:{}, want 0:0",
        p.uid,
        p.gid
    );
    Ok(())
}

/// Makes the rootfs a shared mount of its own (as an overlay rootfs of containerd is), so it
/// has a host peer group to receive from or not.
fn rootfs_prop_bundle(ctx: &Ctx, s: &Value) -> Result<(crate::driver::bundle::Bundle, HostMount)> {
    let b = ctx.bundle(s)?;
    let g = HostMount::shared_self_bind(&b.rootfs())?;
    Ok((b, g))
}

fn rootfs_prop(ctx: &Ctx, prop: &str, want: &str) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["linux"]["rootfsPropagation"] = json!(prop);
    let (b, _g) = rootfs_prop_bundle(ctx, &s)?;
    let r = ctx.run_report(&b)?;
    let m = mount_at(&r, "/")?;
    ensure!(
        m.propagation() == want,
        "rootfsPropagation {prop}: / is {} ({:?})",
        m.propagation(),
        m.optional
    );
    Ok(())
}

fn rootfs_slave_receives(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&["--wait"]);
    s["linux"]["rootfsPropagation"] = json!("slave");
    let (b, _g) = rootfs_prop_bundle(ctx, &s)?;
    let late = b.rootfs().join("mnt/late");
    std::fs::create_dir_all(&late)?;
    let c = ctx.create(&b)?;
    c.start()?;
    c.wait_report()?;
    let pid = c.pid()?;
    let _m = HostMount::tmpfs(&late)?;
    let mi = std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))?;
    let seen = mi
        .lines()
        .filter_map(crate::driver::mountinfo::parse_line)
        .any(|m| m.mount_point == "/mnt/late");
    ensure!(seen, "a mount made on the host under the rootfs after start is not visible with rootfsPropagation slave");
    Ok(())
}
