//! config-linux.md: maskedPaths and readonlyPaths.

use super::*;
use crate::driver::registry::Test;
use crate::driver::requirements::Requirement::*;
use crate::test;

pub const TESTS: &[Test] = &[
    test!(
        "paths.masked_file_reads_empty",
        [Root],
        masked_file_reads_empty
    ),
    test!(
        "paths.masked_file_not_writable",
        [Root],
        masked_file_not_writable
    ),
    test!("paths.masked_dir_empty", [Root], masked_dir_empty),
    test!("paths.masked_proc_file", [Root], masked_proc_file),
    test!(
        "paths.masked_missing_ignored",
        [Root],
        masked_missing_ignored
    ),
    test!(
        "paths.unmasked_file_readable",
        [Root],
        unmasked_file_readable
    ),
    test!("paths.readonly_file", [Root], readonly_file),
    test!("paths.readonly_dir", [Root], readonly_dir),
    test!("paths.readonly_proc_sys", [Root], readonly_proc_sys),
    test!(
        "paths.readonly_file_still_readable",
        [Root],
        readonly_still_readable
    ),
];

fn with_secret(ctx: &Ctx, s: &Value) -> Result<crate::driver::bundle::Bundle> {
    let b = ctx.bundle(s)?;
    std::fs::write(b.rootfs().join("secret"), "top secret")?;
    std::fs::create_dir(b.rootfs().join("secret-dir"))?;
    std::fs::write(b.rootfs().join("secret-dir/inner"), "inner secret")?;
    Ok(b)
}

fn masked_file_reads_empty(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&["--path", "/secret"]);
    spec::push(&mut s, "/linux/maskedPaths", json!("/secret"));
    let r = ctx.run_report(&with_secret(ctx, &s)?)?;
    let p = path(&r, "/secret")?;
    ensure!(
        matches!(p.read, Some(Ok(0)) | Some(Err(_))),
        "a masked file reads {:?} bytes",
        p.read
    );
    Ok(())
}

fn masked_file_not_writable(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&["--file", "/secret"]);
    spec::push(&mut s, "/linux/maskedPaths", json!("/secret"));
    let b = with_secret(ctx, &s)?;
    let r = ctx.run_report(&b)?;
    ensure!(
        r.files.get("/secret") != Some(&Ok("top secret".into())),
        "the masked file's content is visible"
    );
    ensure!(
        read_host(&b.rootfs().join("secret"))? == "top secret",
        "the host file changed"
    );
    Ok(())
}

fn masked_dir_empty(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&["--path", "/secret-dir"]);
    spec::push(&mut s, "/linux/maskedPaths", json!("/secret-dir"));
    let r = ctx.run_report(&with_secret(ctx, &s)?)?;
    let p = path(&r, "/secret-dir")?;
    ensure!(
        p.entries.as_deref().unwrap_or_default().is_empty(),
        "a masked directory lists {:?}",
        p.entries
    );
    Ok(())
}

fn masked_proc_file(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&["--path", "/proc/timer_list"]);
    spec::push(&mut s, "/linux/maskedPaths", json!("/proc/timer_list"));
    let r = report(ctx, &s)?;
    let p = path(&r, "/proc/timer_list")?;
    ensure!(
        matches!(p.read, Some(Ok(0)) | Some(Err(_))),
        "/proc/timer_list reads {:?} bytes",
        p.read
    );
    Ok(())
}

fn masked_missing_ignored(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    spec::push(&mut s, "/linux/maskedPaths", json!("/no/such/path"));
    report(ctx, &s)?;
    Ok(())
}

fn unmasked_file_readable(ctx: &Ctx) -> Result<()> {
    let s = ctx.spec(&["--file", "/secret"]);
    let r = ctx.run_report(&with_secret(ctx, &s)?)?;
    ensure!(
        file(&r, "/secret")? == "top secret",
        "an unmasked file is not readable"
    );
    Ok(())
}

fn readonly_file(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&["--path", "/secret"]);
    spec::push(&mut s, "/linux/readonlyPaths", json!("/secret"));
    let r = ctx.run_report(&with_secret(ctx, &s)?)?;
    ensure!(
        path(&r, "/secret")?.write == Some(Err(libc::EROFS)),
        "write to a read-only path: {:?}",
        path(&r, "/secret")?.write
    );
    Ok(())
}

fn readonly_dir(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&["--try", "mkdir:/secret-dir/new"]);
    spec::push(&mut s, "/linux/readonlyPaths", json!("/secret-dir"));
    let r = ctx.run_report(&with_secret(ctx, &s)?)?;
    expect_errno(&r, "mkdir:/secret-dir/new", libc::EROFS)
}

fn readonly_proc_sys(ctx: &Ctx) -> Result<()> {
    let r = report(ctx, &ctx.spec(&["--path", "/proc/sys/kernel/hostname"]))?;
    ensure!(
        path(&r, "/proc/sys/kernel/hostname")?.write == Some(Err(libc::EROFS)),
        "/proc/sys is writable: {:?}",
        path(&r, "/proc/sys/kernel/hostname")?.write
    );
    Ok(())
}

fn readonly_still_readable(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&["--file", "/secret"]);
    spec::push(&mut s, "/linux/readonlyPaths", json!("/secret"));
    let r = ctx.run_report(&with_secret(ctx, &s)?)?;
    ensure!(
        file(&r, "/secret")? == "top secret",
        "a read-only path is not readable"
    );
    Ok(())
}
