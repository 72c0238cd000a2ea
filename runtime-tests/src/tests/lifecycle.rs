//! runtime.md: state, lifecycle and operations (create, start, state, kill, delete).

use super::*;
use crate::driver::registry::Test;
use crate::driver::requirements::Requirement::*;
use crate::test;

pub const TESTS: &[Test] = &[
    test!(
        "lifecycle.create_status_created",
        [Root],
        create_status_created
    ),
    test!(
        "lifecycle.create_does_not_run_program",
        [Root],
        create_does_not_run_program
    ),
    test!("lifecycle.create_pid_alive", [Root], create_pid_alive),
    test!(
        "lifecycle.start_status_running",
        [Root],
        start_status_running
    ),
    test!("lifecycle.start_runs_program", [Root], start_runs_program),
    test!("lifecycle.exit_status_stopped", [Root], exit_status_stopped),
    test!("lifecycle.state_fields", [Root], state_fields),
    test!(
        "lifecycle.state_schema_each_status",
        [Root],
        state_schema_each_status
    ),
    test!(
        "lifecycle.state_bundle_absolute",
        [Root],
        state_bundle_absolute
    ),
    test!("lifecycle.state_annotations", [Root], state_annotations),
    test!(
        "lifecycle.state_pid_is_container_process",
        [Root],
        state_pid_is_container_process
    ),
    test!(
        "lifecycle.state_unknown_id_fails",
        [Root],
        state_unknown_id_fails
    ),
    test!(
        "lifecycle.create_duplicate_id_fails",
        [Root],
        create_duplicate_id_fails
    ),
    test!(
        "lifecycle.create_missing_bundle_fails",
        [Root],
        create_missing_bundle_fails
    ),
    test!(
        "lifecycle.create_invalid_id_fails",
        [Root],
        create_invalid_id_fails
    ),
    test!("lifecycle.start_running_fails", [Root], start_running_fails),
    test!("lifecycle.start_stopped_fails", [Root], start_stopped_fails),
    test!("lifecycle.start_unknown_fails", [Root], start_unknown_fails),
    test!(
        "lifecycle.start_without_process_fails",
        [Root],
        start_without_process_fails
    ),
    test!("lifecycle.kill_created", [Root], kill_created),
    test!("lifecycle.kill_sigterm", [Root], kill_sigterm),
    test!(
        "lifecycle.kill_sigusr1_full_name",
        [Root],
        kill_sigusr1_full_name
    ),
    test!("lifecycle.kill_signal_number", [Root], kill_signal_number),
    test!("lifecycle.kill_short_name", [Root], kill_short_name),
    test!("lifecycle.kill_sigkill", [Root], kill_sigkill),
    test!("lifecycle.kill_stopped_fails", [Root], kill_stopped_fails),
    test!("lifecycle.kill_unknown_fails", [Root], kill_unknown_fails),
    test!(
        "lifecycle.delete_running_fails",
        [Root],
        delete_running_fails
    ),
    test!(
        "lifecycle.delete_created_fails",
        [Root],
        delete_created_fails
    ),
    test!("lifecycle.delete_stopped", [Root], delete_stopped),
    test!(
        "lifecycle.delete_removes_cgroups",
        [Root],
        delete_removes_cgroups
    ),
    test!(
        "lifecycle.delete_unknown_fails",
        [Root],
        delete_unknown_fails
    ),
    test!("lifecycle.pid_file", [Root], pid_file),
    test!(
        "lifecycle.config_change_after_create_ignored",
        [Root],
        config_change_after_create_ignored
    ),
    test!(
        "lifecycle.two_containers_coexist",
        [Root],
        two_containers_coexist
    ),
];

fn waiting(ctx: &Ctx) -> Value {
    ctx.spec(&["--wait"])
}

fn create_status_created(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&waiting(ctx))?;
    let c = ctx.create(&b)?;
    let st = c.status()?;
    ensure!(st == "created", "status after create is {st:?}");
    Ok(())
}

fn create_does_not_run_program(ctx: &Ctx) -> Result<()> {
    let mut s = waiting(ctx);
    let out = bind_out(ctx, &mut s, "/out")?;
    spec::probe_args(&mut s, &["--marker", "/out/marker", "--wait"]);
    let b = ctx.bundle(&s)?;
    let c = ctx.create(&b)?;
    c.wait_status("created")?;
    ensure!(!out.join("marker").exists(), "the program ran before start");
    ensure!(
        c.stdout().is_empty(),
        "the program wrote output before start: {}",
        c.stdout()
    );
    c.start()?;
    ctx.poll("the program's marker", || {
        Ok(out.join("marker").exists().then_some(()))
    })?;
    Ok(())
}

fn create_pid_alive(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&waiting(ctx))?;
    let c = ctx.create(&b)?;
    let pid = c.pid()?;
    ensure!(pid > 0, "pid {pid}");
    ensure!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} does not exist"
    );
    Ok(())
}

fn start_status_running(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&waiting(ctx))?;
    let c = ctx.create(&b)?;
    c.start()?;
    c.wait_report()?;
    let st = c.status()?;
    ensure!(st == "running", "status after start is {st:?}");
    Ok(())
}

fn start_runs_program(ctx: &Ctx) -> Result<()> {
    let s = ctx.spec(&["--file", "/etc/passwd"]);
    let r = report(ctx, &s)?;
    ensure!(r.args[..2] == ["/bin/probe", "report"], "args {:?}", r.args);
    Ok(())
}

fn exit_status_stopped(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&ctx.spec(&[]))?;
    let c = ctx.create(&b)?;
    c.start()?;
    c.wait_status("stopped")?;
    Ok(())
}

fn validate_state(ctx: &Ctx, st: &Value) -> Result<()> {
    let errs = features::validate(ctx, "state-schema.json", st)?;
    ensure!(
        errs.is_empty(),
        "state does not match state-schema.json: {}",
        errs.join("; ")
    );
    Ok(())
}

fn state_fields(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&waiting(ctx))?;
    let c = ctx.create(&b)?;
    let s = c.state()?;
    ensure!(
        s["ociVersion"].as_str().is_some_and(|v| !v.is_empty()),
        "ociVersion: {}",
        s["ociVersion"]
    );
    ensure!(s["id"] == b.id.as_str(), "id: {}", s["id"]);
    ensure!(s["status"] == "created", "status: {}", s["status"]);
    ensure!(
        s["pid"].as_i64().is_some_and(|p| p > 0),
        "pid: {}",
        s["pid"]
    );
    ensure!(s["bundle"].is_string(), "bundle: {}", s["bundle"]);
    Ok(())
}

fn state_schema_each_status(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&ctx.spec(&[]))?;
    let c = ctx.create(&b)?;
    validate_state(ctx, &c.state()?).context("created")?;
    c.start()?;
    c.wait_status("stopped")?;
    validate_state(ctx, &c.state()?).context("stopped")?;
    let b2 = ctx.bundle(&waiting(ctx))?;
    let c2 = ctx.create(&b2)?;
    c2.start()?;
    c2.wait_report()?;
    validate_state(ctx, &c2.state()?).context("running")?;
    Ok(())
}

fn state_bundle_absolute(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&waiting(ctx))?;
    let c = ctx.create(&b)?;
    let s = c.state()?;
    let got = s["bundle"].as_str().unwrap_or_default();
    ensure!(got.starts_with('/'), "bundle {got:?} is not absolute");
    let same = std::fs::canonicalize(got).ok() == std::fs::canonicalize(&b.dir).ok();
    ensure!(same, "bundle {got:?} is not {}", b.dir.display());
    Ok(())
}

fn state_annotations(ctx: &Ctx) -> Result<()> {
    let mut s = waiting(ctx);
    s["annotations"] = json!({"org.example.key": "value", "com.example.empty": ""});
    let b = ctx.bundle(&s)?;
    let c = ctx.create(&b)?;
    let st = c.state()?;
    ensure!(
        st["annotations"] == s["annotations"],
        "annotations: {}",
        st["annotations"]
    );
    Ok(())
}

fn state_pid_is_container_process(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&waiting(ctx))?;
    let c = ctx.create(&b)?;
    c.start()?;
    c.wait_report()?;
    let pid = c.pid()?;
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).context("reading the pid's cmdline")?;
    let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
    ensure!(
        cmd.starts_with("/bin/probe report"),
        "pid {pid} runs {cmd:?}, not the probe"
    );
    Ok(())
}

fn state_unknown_id_fails(ctx: &Ctx) -> Result<()> {
    let o = ctx.exec(&["state", "no-such-container"])?;
    ensure!(
        !o.success(),
        "state of an unknown id succeeded: {}",
        o.stdout
    );
    Ok(())
}

fn create_duplicate_id_fails(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&waiting(ctx))?;
    let c = ctx.create(&b)?;
    let b2 = ctx.bundle(&waiting(ctx))?;
    let dup = crate::driver::bundle::Bundle {
        id: b.id.clone(),
        ..b2
    };
    let mut other = ctx.exec(&["create", "--bundle", &dup.dir.to_string_lossy(), &dup.id])?;
    ensure!(
        !other.success(),
        "a second create with the same id succeeded"
    );
    other.stdout.clear();
    let st = c.status()?;
    ensure!(st == "created", "the first container is now {st:?}");
    let pid = c.pid()?;
    ensure!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the first container's process is gone"
    );
    Ok(())
}

fn create_missing_bundle_fails(ctx: &Ctx) -> Result<()> {
    let missing = ctx.dir.join("no-such-bundle");
    let o = ctx.exec(&[
        "create",
        "--bundle",
        &missing.to_string_lossy(),
        "rt-missing-bundle",
    ])?;
    ensure!(!o.success(), "create with a missing bundle succeeded");
    let st = ctx.exec(&["state", "rt-missing-bundle"])?;
    ensure!(!st.success(), "a container exists after the failed create");
    Ok(())
}

fn create_invalid_id_fails(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&waiting(ctx))?;
    let bad = crate::driver::bundle::Bundle {
        id: "../escape".to_string(),
        ..b
    };
    let (c, o) = ctx.try_create(&bad)?;
    ensure!(!o.success(), "create accepted the id \"../escape\"");
    drop(c);
    ensure!(
        !ctx.dir.join("escape").exists(),
        "state was written outside --root"
    );
    Ok(())
}

fn start_running_fails(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&waiting(ctx))?;
    let c = ctx.create(&b)?;
    c.start()?;
    c.wait_report()?;
    let o = c.try_start()?;
    ensure!(!o.success(), "start of a running container succeeded");
    let st = c.status()?;
    ensure!(st == "running", "status is now {st:?}");
    ensure!(
        c.stdout().matches(crate::report::REPORT_PREFIX).count() == 1,
        "the program ran twice"
    );
    Ok(())
}

fn start_stopped_fails(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&ctx.spec(&[]))?;
    let c = ctx.create(&b)?;
    c.start()?;
    c.wait_status("stopped")?;
    let o = c.try_start()?;
    ensure!(!o.success(), "start of a stopped container succeeded");
    let st = c.status()?;
    ensure!(st == "stopped", "status is now {st:?}");
    Ok(())
}

fn start_unknown_fails(ctx: &Ctx) -> Result<()> {
    let o = ctx.exec(&["start", "no-such-container"])?;
    ensure!(!o.success(), "start of an unknown id succeeded");
    Ok(())
}

fn start_without_process_fails(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    spec::remove(&mut s, "/process");
    refused_by_create_or_start(ctx, &s, "a config without `process`")
}

fn kill_created(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&waiting(ctx))?;
    let c = ctx.create(&b)?;
    c.kill("KILL")?.check()?;
    c.wait_status("stopped")?;
    ensure!(c.stdout().is_empty(), "the program ran: {}", c.stdout());
    Ok(())
}

fn kill_with(ctx: &Ctx, sig: &str, want: i32) -> Result<()> {
    let b = ctx.bundle(&waiting(ctx))?;
    let c = ctx.create(&b)?;
    c.start()?;
    c.wait_report()?;
    c.kill(sig)?.check()?;
    let got = c.wait_signal_line()?;
    ensure!(
        got == want,
        "the process received signal {got}, want {want}"
    );
    c.wait_status("stopped")?;
    Ok(())
}

fn kill_sigterm(ctx: &Ctx) -> Result<()> {
    kill_with(ctx, "TERM", libc::SIGTERM)
}

fn kill_sigusr1_full_name(ctx: &Ctx) -> Result<()> {
    kill_with(ctx, "SIGUSR1", libc::SIGUSR1)
}

fn kill_signal_number(ctx: &Ctx) -> Result<()> {
    kill_with(ctx, "12", libc::SIGUSR2)
}

fn kill_short_name(ctx: &Ctx) -> Result<()> {
    kill_with(ctx, "HUP", libc::SIGHUP)
}

fn kill_sigkill(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&waiting(ctx))?;
    let c = ctx.create(&b)?;
    c.start()?;
    c.wait_report()?;
    let pid = c.pid()?;
    c.kill("KILL")?.check()?;
    c.wait_status("stopped")?;
    ctx.poll("the process to disappear", || {
        let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // gone, or a zombie waiting for its reaper
        Ok((st.is_empty() || st.contains(") Z ")).then_some(()))
    })?;
    Ok(())
}

fn kill_stopped_fails(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&ctx.spec(&[]))?;
    let c = ctx.create(&b)?;
    c.start()?;
    c.wait_status("stopped")?;
    let o = c.kill("TERM")?;
    ensure!(!o.success(), "kill of a stopped container succeeded");
    let st = c.status()?;
    ensure!(st == "stopped", "status is now {st:?}");
    Ok(())
}

fn kill_unknown_fails(ctx: &Ctx) -> Result<()> {
    let o = ctx.exec(&["kill", "no-such-container", "KILL"])?;
    ensure!(!o.success(), "kill of an unknown id succeeded");
    Ok(())
}

fn delete_running_fails(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&waiting(ctx))?;
    let mut c = ctx.create(&b)?;
    c.start()?;
    c.wait_report()?;
    let o = c.try_delete()?;
    ensure!(!o.success(), "delete of a running container succeeded");
    let st = c.status()?;
    ensure!(st == "running", "status is now {st:?}");
    Ok(())
}

fn delete_created_fails(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&waiting(ctx))?;
    let mut c = ctx.create(&b)?;
    let o = c.try_delete()?;
    ensure!(
        !o.success(),
        "delete of a created (not stopped) container succeeded"
    );
    let st = c.status()?;
    ensure!(st == "created", "status is now {st:?}");
    Ok(())
}

fn delete_stopped(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&ctx.spec(&[]))?;
    let mut c = ctx.create(&b)?;
    c.start()?;
    c.wait_status("stopped")?;
    c.delete()?;
    let o = ctx.exec(&["state", &b.id])?;
    ensure!(
        !o.success(),
        "state still works after delete: {}",
        o.stdout.trim()
    );
    Ok(())
}

fn delete_removes_cgroups(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&ctx.spec(&[]))?;
    let mut c = ctx.create(&b)?;
    let pid = c.pid()?;
    let dirs = crate::driver::cgroups::CgroupDirs::of_pid(ctx.host, pid)?;
    let mut made: Vec<PathBuf> = dirs.v1.values().cloned().collect();
    made.extend(dirs.v2.clone());
    made.retain(|d| d.to_string_lossy().contains(&b.id));
    ensure!(
        !made.is_empty(),
        "the container is in no cgroup named after its cgroupsPath"
    );
    c.start()?;
    c.wait_status("stopped")?;
    c.delete()?;
    let left: Vec<&PathBuf> = made.iter().filter(|d| d.exists()).collect();
    ensure!(left.is_empty(), "cgroups left after delete: {left:?}");
    Ok(())
}

fn delete_unknown_fails(ctx: &Ctx) -> Result<()> {
    let o = ctx.exec(&["delete", "no-such-container"])?;
    ensure!(!o.success(), "delete of an unknown id succeeded");
    Ok(())
}

fn pid_file(ctx: &Ctx) -> Result<()> {
    let b = ctx.bundle(&waiting(ctx))?;
    let c = ctx.create(&b)?;
    let text = read_host(&c.pid_file)?;
    let from_file: i32 = text
        .trim()
        .parse()
        .with_context(|| format!("pid file holds {text:?}"))?;
    ensure!(
        from_file == c.pid()?,
        "pid file says {from_file}, state says {}",
        c.pid()?
    );
    Ok(())
}

fn config_change_after_create_ignored(ctx: &Ctx) -> Result<()> {
    let s = waiting(ctx);
    let b = ctx.bundle(&s)?;
    let c = ctx.create(&b)?;
    let mut changed = s.clone();
    spec::set(
        &mut changed,
        "/process/args",
        json!(["/bin/probe", "exit", "3"]),
    );
    spec::set(&mut changed, "/hostname", json!("changed"));
    let mut on_disk: Value = serde_json::from_slice(&std::fs::read(b.config_path())?)?;
    spec::merge(&mut on_disk, &changed);
    b.write_config(&on_disk)?;
    c.start()?;
    let r = c.wait_report()?;
    ensure!(
        r.hostname == "probe",
        "hostname {:?}: the changed config.json was used",
        r.hostname
    );
    Ok(())
}

fn two_containers_coexist(ctx: &Ctx) -> Result<()> {
    let b1 = ctx.bundle(&waiting(ctx))?;
    let b2 = ctx.bundle(&waiting(ctx))?;
    let c1 = ctx.create(&b1)?;
    let c2 = ctx.create(&b2)?;
    c1.start()?;
    c2.start()?;
    c1.wait_report()?;
    c2.wait_report()?;
    ensure!(
        c1.pid()? != c2.pid()?,
        "both containers report the same pid"
    );
    ensure!(
        c1.status()? == "running" && c2.status()? == "running",
        "not both running"
    );
    Ok(())
}
