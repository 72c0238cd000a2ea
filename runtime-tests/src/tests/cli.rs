//! runc command-line compatibility beyond the OCI operations, as containerd's runc shim and
//! podman use it: `run`, `delete --force`, `list`, `ps`, `exec`, `pause`/`resume`, `kill --all`,
//! `--version`.

use super::*;
use crate::driver::registry::Test;
use crate::driver::requirements::Requirement::*;
use crate::test;

pub const TESTS: &[Test] = &[
    test!("cli.run_foreground_report", [Root], run_foreground_report),
    test!("cli.run_exit_code", [Root], run_exit_code),
    test!(
        "cli.run_leaves_stopped_container",
        [Root],
        run_leaves_stopped
    ),
    test!("cli.delete_force_running", [Root], delete_force_running),
    test!("cli.delete_force_created", [Root], delete_force_created),
    test!("cli.list_shows_container", [Root], list_shows_container),
    test!("cli.list_json", [Root], list_json),
    test!("cli.ps_json_lists_init", [Root], ps_json_lists_init),
    test!("cli.exec_runs_in_container", [Root], exec_runs_in_container),
    test!("cli.exec_exit_code", [Root], exec_exit_code),
    test!("cli.exec_process_json", [Root], exec_process_json),
    test!("cli.pause_resume", [Root], pause_resume),
    test!("cli.kill_all", [Root], kill_all),
    test!("cli.version", [], version),
    test!("cli.state_after_host_kill", [Root], state_after_host_kill),
];

fn run_foreground_report(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&ctx.spec(&[]))?;
    let (o, out) = ctx.run(&b)?;
    ensure!(o.success(), "run exited {}: {}", o.code(), o.reason());
    crate::driver::runtime::report_in(&out)?;
    Ok(())
}

fn run_exit_code(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    s["process"]["args"] = json!(["/bin/probe", "exit", "7"]);
    let b = ctx.bundle(&s)?;
    let (o, _) = ctx.run(&b)?;
    ensure!(
        o.code() == 7,
        "run exited {}, the container exited 7",
        o.code()
    );
    Ok(())
}

fn run_leaves_stopped(ctx: &Ctx) -> Result<()> {
    // `run` without --detach deletes the container when it exits
    let b = ctx.bundle(&ctx.spec(&[]))?;
    let (o, _) = ctx.run(&b)?;
    ensure!(o.success(), "run exited {}", o.code());
    let st = ctx.exec(&["state", &b.id])?;
    ensure!(
        !st.success(),
        "the container still exists after run returned: {}",
        st.stdout.trim()
    );
    ctx.no_cgroup_left(&b)
}

fn delete_force_running(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&ctx.spec(&["--wait"]))?;
    let c = ctx.create(&b)?;
    c.start()?;
    c.wait_report()?;
    let pid = c.pid()?;
    ctx.exec(&["delete", "--force", &b.id])?.check()?;
    ensure!(
        !ctx.exec(&["state", &b.id])?.success(),
        "state works after delete --force"
    );
    ctx.poll("the process to go", || {
        let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        Ok((st.is_empty() || st.contains(") Z ")).then_some(()))
    })?;
    ctx.no_cgroup_left(&b)
}

fn delete_force_created(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&ctx.spec(&["--wait"]))?;
    let _c = ctx.create(&b)?;
    ctx.exec(&["delete", "--force", &b.id])?.check()?;
    ensure!(
        !ctx.exec(&["state", &b.id])?.success(),
        "state works after delete --force"
    );
    ctx.no_cgroup_left(&b)
}

fn list_shows_container(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&ctx.spec(&["--wait"]))?;
    let _c = ctx.create(&b)?;
    let o = ctx.exec(&["list"])?.check()?;
    ensure!(
        o.stdout
            .lines()
            .any(|l| l.split_whitespace().next() == Some(b.id.as_str())),
        "list output lacks {}: {}",
        b.id,
        o.stdout
    );
    Ok(())
}

fn list_json(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&ctx.spec(&["--wait"]))?;
    let _c = ctx.create(&b)?;
    let o = ctx.exec(&["list", "--format", "json"])?.check()?;
    let v: Value =
        serde_json::from_str(&o.stdout).with_context(|| format!("list json: {:?}", o.stdout))?;
    let found = v.as_array().is_some_and(|a| {
        a.iter()
            .any(|c| c["id"] == b.id.as_str() && c["status"] == "created")
    });
    ensure!(found, "list --format json lacks {} as created: {v}", b.id);
    Ok(())
}

fn ps_json_lists_init(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&ctx.spec(&["--wait"]))?;
    let c = ctx.create(&b)?;
    c.start()?;
    c.wait_report()?;
    let pid = c.pid()?;
    let o = ctx.exec(&["ps", "--format", "json", &b.id])?.check()?;
    let v: Value =
        serde_json::from_str(&o.stdout).with_context(|| format!("ps json: {:?}", o.stdout))?;
    ensure!(
        v.as_array()
            .is_some_and(|a| a.iter().any(|p| p.as_i64() == Some(pid as i64))),
        "ps lacks pid {pid}: {v}"
    );
    Ok(())
}

fn started<'c>(
    ctx: &'c Ctx,
) -> Result<(
    crate::driver::runtime::Container<'c>,
    crate::driver::bundle::Bundle,
)> {
    let b = ctx.bundle(&ctx.spec(&["--wait"]))?;
    let c = ctx.create(&b)?;
    c.start()?;
    c.wait_report()?;
    Ok((c, b))
}

fn exec_runs_in_container(ctx: &Ctx) -> Result<()> {
    let (c, b) = started(ctx)?;
    let o = ctx
        .exec(&["exec", &b.id, "/bin/probe", "report"])?
        .check()?;
    let r = crate::driver::runtime::report_in(&o.stdout)?;
    let want = pid_ns(c.pid()?, "pid")?;
    ensure!(
        ns_of(&r, "pid")? == want,
        "exec ran outside the container's pid namespace"
    );
    Ok(())
}

fn exec_exit_code(ctx: &Ctx) -> Result<()> {
    let (_c, b) = started(ctx)?;
    let o = ctx.exec(&["exec", &b.id, "/bin/probe", "exit", "5"])?;
    ensure!(
        o.code() == 5,
        "exec exited {}, the process exited 5",
        o.code()
    );
    Ok(())
}

fn exec_process_json(ctx: &Ctx) -> Result<()> {
    let (_c, b) = started(ctx)?;
    let p = ctx.dir.join("process.json");
    let proc_json = json!({
        "terminal": false, "user": {"uid": 1000, "gid": 1000}, "cwd": "/tmp",
        "args": ["/bin/probe", "report"], "env": [spec::PATH_ENV, "EXEC_VAR=1"]
    });
    std::fs::write(&p, serde_json::to_vec(&proc_json)?)?;
    let o = ctx
        .exec(&["exec", "--process", &p.to_string_lossy(), &b.id])?
        .check()?;
    let r = crate::driver::runtime::report_in(&o.stdout)?;
    ensure!(
        r.uids.first() == Some(&1000),
        "exec --process uid {:?}",
        r.uids
    );
    ensure!(
        r.cwd == Some(Ok("/tmp".into())),
        "exec --process cwd {:?}",
        r.cwd
    );
    ensure!(
        r.env.iter().any(|e| e == "EXEC_VAR=1"),
        "exec --process env {:?}",
        r.env
    );
    Ok(())
}

fn pause_resume(ctx: &Ctx) -> Result<()> {
    let (c, b) = started(ctx)?;
    ctx.exec(&["pause", &b.id])?.check()?;
    c.wait_status("paused")?;
    ctx.exec(&["resume", &b.id])?.check()?;
    c.wait_status("running")?;
    Ok(())
}

fn kill_all(ctx: &Ctx) -> Result<()> {
    let (c, b) = started(ctx)?;
    ctx.exec(&["kill", "--all", &b.id, "KILL"])?.check()?;
    c.wait_status("stopped")?;
    Ok(())
}

fn version(ctx: &Ctx) -> Result<()> {
    let o = ctx
        .exec_cmd(
            {
                let mut c = std::process::Command::new(&ctx.runtime);
                c.arg("--version");
                c
            },
            "--version",
        )?
        .check()?;
    ensure!(
        o.stdout
            .lines()
            .any(|l| l.starts_with("spec:") || l.contains("spec")),
        "--version does not name the spec version: {:?}",
        o.stdout
    );
    Ok(())
}

fn state_after_host_kill(ctx: &Ctx) -> Result<()> {
    // containerd kills through the runtime, but a process can die by other means: state must
    // notice.
    let (c, _b) = started(ctx)?;
    let pid = c.pid()?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    c.wait_status("stopped")?;
    Ok(())
}
