//! config.md: process (args, env, cwd, user, umask, additionalGids, terminal, consoleSize,
//! noNewPrivileges, oomScoreAdj, scheduler, ioPriority) and config-linux personality;
//! runtime-linux.md: file descriptors.

use super::*;
use crate::driver::registry::Test;
use crate::driver::requirements::Requirement::*;
use crate::test;

pub const TESTS: &[Test] = &[
    test!("process.args_exact", [Root], args_exact),
    test!("process.args_path_lookup", [Root], args_path_lookup),
    test!(
        "process.args_missing_binary_fails",
        [Root],
        args_missing_binary_fails
    ),
    test!("process.env_exact", [Root], env_exact),
    test!("process.env_empty_value", [Root], env_empty_value),
    test!("process.cwd", [Root], cwd),
    test!("process.cwd_nested", [Root], cwd_nested),
    test!("process.user_uid", [Root], user_uid),
    test!("process.user_gid", [Root], user_gid),
    test!("process.additional_gids", [Root], additional_gids),
    test!(
        "process.user_nonroot_file_access",
        [Root],
        user_nonroot_file_access
    ),
    test!("process.umask_027", [Root], |c| umask(c, 0o027)),
    test!("process.umask_077", [Root], |c| umask(c, 0o077)),
    test!("process.umask_000", [Root], |c| umask(c, 0)),
    test!("process.no_new_privileges_true", [Root], |c| nnp(c, true)),
    test!("process.no_new_privileges_false", [Root], |c| nnp(c, false)),
    test!("process.oom_score_adj_positive", [Root], |c| oom(c, 500)),
    test!("process.oom_score_adj_max", [Root], |c| oom(c, 1000)),
    test!(
        "process.oom_score_adj_negative",
        [Root, CapSysResource],
        |c| oom(c, -500)
    ),
    test!("process.oom_score_adj_unset_unchanged", [Root], oom_unset),
    test!("process.terminal_is_tty", [Root], terminal_is_tty),
    test!(
        "process.terminal_false_not_tty",
        [Root],
        terminal_false_not_tty
    ),
    test!(
        "process.terminal_stdin_is_pty",
        [Root],
        terminal_stdin_is_pty
    ),
    test!("process.console_size", [Root], console_size),
    test!(
        "process.console_size_ignored_without_terminal",
        [Root],
        console_size_ignored
    ),
    test!("process.fds_only_stdio", [Root], fds_only_stdio),
    test!("process.stdio_passed_through", [Root], stdio_passed_through),
    test!("process.scheduler_batch", [Root], |c| scheduler(
        c,
        "SCHED_BATCH",
        libc::SCHED_BATCH,
        0
    )),
    test!("process.scheduler_idle", [Root], |c| scheduler(
        c,
        "SCHED_IDLE",
        libc::SCHED_IDLE,
        0
    )),
    test!("process.scheduler_nice", [Root], |c| scheduler(
        c,
        "SCHED_OTHER",
        libc::SCHED_OTHER,
        7
    )),
    test!("process.io_priority_best_effort", [Root], |c| io_priority(
        c,
        "IOPRIO_CLASS_BE",
        2,
        6
    )),
    test!("process.io_priority_idle", [Root], |c| io_priority(
        c,
        "IOPRIO_CLASS_IDLE",
        3,
        0
    )),
    test!(
        "process.personality_linux32",
        [Root, Arch("x86_64")],
        personality_linux32
    ),
    test!(
        "process.apparmor_profile",
        [Root, AppArmor],
        apparmor_profile
    ),
    test!("process.selinux_label", [Root, SeLinux], selinux_label),
];

fn args_exact(ctx: &Ctx) -> Result<()> {
    let args = [
        "/bin/probe",
        "report",
        "--file",
        "/etc/with space",
        "--path",
        "/x'\"$HOME",
    ];
    let mut s = ctx.spec(&[]);
    s["process"]["args"] = json!(args);
    let r = report(ctx, &s)?;
    ensure!(r.args == args, "argv is {:?}", r.args);
    Ok(())
}

fn args_path_lookup(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["process"]["args"] = json!(["probe", "report"]);
    s["process"]["env"] = json!(["PATH=/nowhere:/bin"]);
    let r = report(ctx, &s)?;
    ensure!(r.args[0] == "probe", "argv[0] is {:?}", r.args[0]);
    Ok(())
}

fn args_missing_binary_fails(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["process"]["args"] = json!(["/bin/no-such-binary"]);
    refused_by_create_or_start(ctx, &s, "a missing binary")
}

fn env_exact(ctx: &Ctx) -> Result<()> {
    let env = [spec::PATH_ENV, "TERM=xterm", "FOO=bar baz", "MULTI=a=b=c"];
    let mut s = ctx.spec(&[]);
    s["process"]["env"] = json!(env);
    let r = report(ctx, &s)?;
    for e in env {
        ensure!(
            r.env.iter().any(|x| x == e),
            "{e:?} missing from the environment {:?}",
            r.env
        );
    }
    let extra: Vec<&String> = r
        .env
        .iter()
        .filter(|x| !env.contains(&x.as_str()) && !x.starts_with("HOME="))
        .collect();
    ensure!(
        extra.is_empty(),
        "the environment has entries nobody asked for: {extra:?}"
    );
    Ok(())
}

fn env_empty_value(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    spec::push(&mut s, "/process/env", json!("EMPTY="));
    let r = report(ctx, &s)?;
    ensure!(
        r.env.iter().any(|x| x == "EMPTY="),
        "EMPTY= missing: {:?}",
        r.env
    );
    Ok(())
}

fn cwd(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["process"]["cwd"] = json!("/tmp");
    let r = report(ctx, &s)?;
    ensure!(r.cwd == Some(Ok("/tmp".into())), "cwd {:?}", r.cwd);
    Ok(())
}

fn cwd_nested(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["process"]["cwd"] = json!("/var/lib/work");
    let b = ctx.bundle(&s)?;
    std::fs::create_dir_all(b.rootfs().join("var/lib/work"))?;
    let r = ctx.run_report(&b)?;
    ensure!(r.cwd == Some(Ok("/var/lib/work".into())), "cwd {:?}", r.cwd);
    Ok(())
}

fn user_uid(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let r = report(ctx, &s)?;
    ensure!(r.uids == [1000, 1000, 1000, 1000], "uids {:?}", r.uids);
    Ok(())
}

fn user_gid(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["process"]["user"] = json!({"uid": 1000, "gid": 2000});
    let r = report(ctx, &s)?;
    ensure!(r.gids == [2000, 2000, 2000, 2000], "gids {:?}", r.gids);
    Ok(())
}

fn additional_gids(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [5, 3000, 4000]});
    let r = report(ctx, &s)?;
    for g in [5, 3000, 4000] {
        ensure!(
            r.groups.contains(&g),
            "group {g} missing from {:?}",
            r.groups
        );
    }
    Ok(())
}

fn user_nonroot_file_access(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&["--path", "/root-only", "--path", "/tmp"]);
    s["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let b = ctx.bundle(&s)?;
    let f = b.rootfs().join("root-only");
    std::fs::write(&f, "secret")?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600))?;
    let r = ctx.run_report(&b)?;
    let p = path(&r, "/root-only")?;
    ensure!(
        p.read == Some(Err(libc::EACCES)),
        "uid 1000 reading a 0600 root file: {:?}",
        p.read
    );
    ensure!(
        path(&r, "/tmp")?.write == Some(Ok(())),
        "uid 1000 cannot write /tmp"
    );
    Ok(())
}

fn umask(ctx: &Ctx, m: u32) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["process"]["user"]["umask"] = json!(m);
    let r = report(ctx, &s)?;
    ensure!(
        r.umask == Some(m),
        "umask {:?}, want {m:o}",
        r.umask.map(|u| format!("{u:o}"))
    );
    Ok(())
}

fn nnp(ctx: &Ctx, on: bool) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["process"]["noNewPrivileges"] = json!(on);
    let r = report(ctx, &s)?;
    ensure!(
        r.no_new_privs == Some(on as u32),
        "NoNewPrivs is {:?}",
        r.no_new_privs
    );
    Ok(())
}

fn oom(ctx: &Ctx, v: i32) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["process"]["oomScoreAdj"] = json!(v);
    let r = report(ctx, &s)?;
    ensure!(
        r.oom_score_adj == Some(v),
        "oom_score_adj {:?}, want {v}",
        r.oom_score_adj
    );
    Ok(())
}

fn oom_unset(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    spec::remove(&mut s, "/process/oomScoreAdj");
    let r = report(ctx, &s)?;
    let want = ctx.host.oom_score_adj;
    ensure!(
        r.oom_score_adj == Some(want),
        "oom_score_adj {:?}, the runtime's is {want}",
        r.oom_score_adj
    );
    Ok(())
}

fn terminal_report(ctx: &Ctx, s: &mut Value) -> Result<crate::report::Report> {
    s["process"]["terminal"] = json!(true);
    let b = ctx.bundle(s)?;
    let (c, con) = ctx.create_with_console(&b)?;
    c.start()?;
    let line = ctx.poll("the report on the terminal", || {
        Ok(crate::driver::runtime::find_line(
            &con.output(),
            crate::report::REPORT_PREFIX,
        ))
    })?;
    crate::driver::runtime::parse_report(&line)
}

fn terminal_is_tty(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    let r = terminal_report(ctx, &mut s)?;
    ensure!(
        r.tty.stdin && r.tty.stdout && r.tty.stderr,
        "stdio are not terminals: {:?}",
        r.tty
    );
    Ok(())
}

fn terminal_stdin_is_pty(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    let r = terminal_report(ctx, &mut s)?;
    let t = r.tty.stdin_target.clone().unwrap_or_default();
    ensure!(
        t.starts_with("/dev/pts/") || t == "/dev/console",
        "stdin is {t:?}, not a pty"
    );
    Ok(())
}

fn terminal_false_not_tty(ctx: &Ctx) -> Result<()> {
    let r = report(ctx, &ctx.spec(&[]))?;
    ensure!(
        !r.tty.stdin && !r.tty.stdout && !r.tty.stderr,
        "stdio are terminals: {:?}",
        r.tty
    );
    Ok(())
}

fn console_size(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["process"]["consoleSize"] = json!({"height": 33, "width": 101});
    let r = terminal_report(ctx, &mut s)?;
    ensure!(
        r.tty.rows == Some(33) && r.tty.cols == Some(101),
        "window is {:?}x{:?}",
        r.tty.rows,
        r.tty.cols
    );
    Ok(())
}

fn console_size_ignored(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["process"]["consoleSize"] = json!({"height": 33, "width": 101});
    let r = report(ctx, &s)?;
    ensure!(!r.tty.stdout, "stdout is a terminal");
    Ok(())
}

fn fds_only_stdio(ctx: &Ctx) -> Result<()> {
    let r = report(ctx, &ctx.spec(&[]))?;
    let fds: Vec<i32> = r.fds.keys().copied().collect();
    ensure!(fds == [0, 1, 2], "open descriptors {:?}", r.fds);
    Ok(())
}

fn stdio_passed_through(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&ctx.spec(&[]))?;
    let c = ctx.create(&b)?;
    c.start()?;
    let r = c.wait_report()?;
    let want = std::fs::canonicalize(&c.stdout_path)?;
    let got = r.fds.get(&1).cloned().unwrap_or_default();
    ensure!(
        got.ends_with(&*want.to_string_lossy()) || got.contains(&*b.id),
        "stdout is {got:?}, create's was {}",
        want.display()
    );
    Ok(())
}

fn scheduler(ctx: &Ctx, policy: &str, want: i32, nice: i32) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["process"]["scheduler"] = json!({"policy": policy, "nice": nice});
    let r = report(ctx, &s)?;
    ensure!(
        r.sched_policy == want,
        "scheduling policy {} want {want} ({policy})",
        r.sched_policy
    );
    if policy == "SCHED_OTHER" || policy == "SCHED_BATCH" {
        ensure!(r.nice == nice, "nice {} want {nice}", r.nice);
    }
    Ok(())
}

fn io_priority(ctx: &Ctx, class: &str, class_no: i64, prio: i64) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["process"]["ioPriority"] = json!({"class": class, "priority": prio});
    let r = report(ctx, &s)?;
    let got_class = r.ioprio >> 13;
    ensure!(
        got_class == class_no,
        "I/O class {got_class} (raw {}), want {class_no} ({class})",
        r.ioprio
    );
    if class_no != 3 {
        ensure!(
            r.ioprio & 0x1fff == prio,
            "I/O priority {} want {prio}",
            r.ioprio & 0x1fff
        );
    }
    Ok(())
}

fn personality_linux32(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["linux"]["personality"] = json!({"domain": "LINUX32"});
    let r = report(ctx, &s)?;
    ensure!(
        r.machine == "i686",
        "uname machine is {:?} under LINUX32",
        r.machine
    );
    Ok(())
}

fn apparmor_profile(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&["--file", "/proc/self/attr/current"]);
    s["process"]["apparmorProfile"] = json!("unconfined");
    let r = report(ctx, &s)?;
    let cur = file(&r, "/proc/self/attr/current")?;
    ensure!(
        cur.trim().starts_with("unconfined"),
        "AppArmor profile {cur:?}"
    );
    Ok(())
}

fn selinux_label(ctx: &Ctx) -> Result<()> {
    let label = "system_u:system_r:container_t:s0:c1,c2";
    let mut s = ctx.spec(&["--file", "/proc/self/attr/current"]);
    s["process"]["selinuxLabel"] = json!(label);
    let r = report(ctx, &s)?;
    let cur = file(&r, "/proc/self/attr/current")?;
    ensure!(
        cur.trim_end_matches('\0').trim() == label,
        "SELinux label {cur:?}"
    );
    Ok(())
}
