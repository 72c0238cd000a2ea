//! config.md: root (path, readonly).

use super::*;
use crate::driver::registry::Test;
use crate::driver::requirements::Requirement::*;
use crate::test;

pub const TESTS: &[Test] = &[
    test!("root.readonly", [Root], readonly),
    test!("root.readonly_mount_flag", [Root], readonly_mount_flag),
    test!("root.writable_by_default", [Root], writable_by_default),
    test!(
        "root.readonly_false_writable",
        [Root],
        readonly_false_writable
    ),
    test!("root.relative_path", [Root], relative_path),
    test!("root.absolute_path", [Root], absolute_path),
    test!("root.missing_path_fails", [Root], missing_path_fails),
    test!("root.is_the_rootfs", [Root], is_the_rootfs),
    test!("root.host_not_visible", [Root], host_not_visible),
];

fn readonly(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[
        "--path",
        "/",
        "--path",
        "/etc/passwd",
        "--try",
        "mkdir:/newdir",
    ]);
    s["root"]["readonly"] = json!(true);
    let r = report(ctx, &s)?;
    ensure!(
        path(&r, "/")?.write == Some(Err(libc::EROFS)),
        "/ write: {:?}",
        path(&r, "/")?.write
    );
    ensure!(
        path(&r, "/etc/passwd")?.write == Some(Err(libc::EROFS)),
        "/etc/passwd write: {:?}",
        path(&r, "/etc/passwd")?.write
    );
    expect_errno(&r, "mkdir:/newdir", libc::EROFS)
}

fn readonly_mount_flag(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["root"]["readonly"] = json!(true);
    let r = report(ctx, &s)?;
    let m = mount_at(&r, "/")?;
    ensure!(m.has("ro"), "/ is mounted {:?}", m.options);
    Ok(())
}

fn writable_by_default(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&["--path", "/", "--try", "mkdir:/newdir"]);
    spec::remove(&mut s, "/root/readonly");
    let r = report(ctx, &s)?;
    ensure!(
        path(&r, "/")?.write == Some(Ok(())),
        "/ write: {:?}",
        path(&r, "/")?.write
    );
    expect_ok(&r, "mkdir:/newdir")
}

fn readonly_false_writable(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&["--path", "/"]);
    s["root"]["readonly"] = json!(false);
    let r = report(ctx, &s)?;
    ensure!(
        path(&r, "/")?.write == Some(Ok(())),
        "/ write: {:?}",
        path(&r, "/")?.write
    );
    ensure!(!mount_at(&r, "/")?.has("ro"), "/ is read-only");
    Ok(())
}

fn relative_path(ctx: &Ctx) -> Result<()> {
    // a rootfs under another name, relative to the bundle
    let b = ctx.bundle(&ctx.spec(&["--path", "/marker"]))?;
    std::fs::rename(b.rootfs(), b.dir.join("other-root"))?;
    std::fs::write(b.dir.join("other-root/marker"), "x")?;
    let mut s: Value = serde_json::from_slice(&std::fs::read(b.config_path())?)?;
    s["root"]["path"] = json!("other-root");
    b.write_config(&s)?;
    let r = ctx.run_report(&b)?;
    ensure!(
        path(&r, "/marker")?.exists(),
        "the relative root.path was not used"
    );
    Ok(())
}

fn absolute_path(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&ctx.spec(&["--path", "/marker"]))?;
    std::fs::write(b.rootfs().join("marker"), "x")?;
    let mut s: Value = serde_json::from_slice(&std::fs::read(b.config_path())?)?;
    s["root"]["path"] = json!(b.rootfs());
    b.write_config(&s)?;
    let r = ctx.run_report(&b)?;
    ensure!(
        path(&r, "/marker")?.exists(),
        "the absolute root.path was not used"
    );
    Ok(())
}

fn missing_path_fails(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["root"]["path"] = json!("no-such-rootfs");
    expect_create_fails(ctx, &s)
}

fn is_the_rootfs(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&ctx.spec(&["--file", "/etc/marker"]))?;
    std::fs::write(b.rootfs().join("etc/marker"), "rootfs-marker")?;
    let r = ctx.run_report(&b)?;
    ensure!(
        file(&r, "/etc/marker")? == "rootfs-marker",
        "the container does not see its rootfs"
    );
    Ok(())
}

fn host_not_visible(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&ctx.spec(&[]))?;
    let host_path = b.dir.to_string_lossy().into_owned();
    let mut s: Value = serde_json::from_slice(&std::fs::read(b.config_path())?)?;
    spec::probe_args(&mut s, &["--path", &host_path]);
    b.write_config(&s)?;
    let r = ctx.run_report(&b)?;
    ensure!(
        !path(&r, &host_path)?.exists(),
        "the host path {host_path} is visible in the container"
    );
    Ok(())
}
