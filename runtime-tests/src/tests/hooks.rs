//! config.md: hooks — each kind's timing, namespace, state on stdin, order, env/args, timeout,
//! and failure semantics (runtime.md lifecycle steps 3-13).

use super::*;
use crate::driver::registry::Test;
use crate::driver::requirements::Requirement::*;
use crate::test;
use std::path::Path;

#[cfg(test)]
const KINDS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

pub const TESTS: &[Test] = &[
    test!("hooks.prestart_runs_on_create", [Root], |c| runs_on(
        c,
        "prestart",
        Phase::Create
    )),
    test!("hooks.create_runtime_runs_on_create", [Root], |c| runs_on(
        c,
        "createRuntime",
        Phase::Create
    )),
    test!(
        "hooks.create_container_runs_on_create",
        [Root],
        |c| runs_on(c, "createContainer", Phase::Create)
    ),
    test!("hooks.start_container_runs_on_start", [Root], |c| runs_on(
        c,
        "startContainer",
        Phase::Start
    )),
    test!("hooks.poststart_runs_on_start", [Root], |c| runs_on(
        c,
        "poststart",
        Phase::Start
    )),
    test!("hooks.poststop_runs_on_delete", [Root], |c| runs_on(
        c,
        "poststop",
        Phase::Delete
    )),
    test!("hooks.order_of_create_hooks", [Root], order_of_create_hooks),
    test!(
        "hooks.start_container_before_program",
        [Root],
        start_container_before_program
    ),
    test!("hooks.listed_order_kept", [Root], listed_order_kept),
    test!("hooks.state_prestart", [Root], |c| state_of(
        c, "prestart", "creating"
    )),
    test!("hooks.state_create_runtime", [Root], |c| state_of(
        c,
        "createRuntime",
        "creating"
    )),
    test!("hooks.state_create_container", [Root], |c| state_of(
        c,
        "createContainer",
        "creating"
    )),
    test!("hooks.state_start_container", [Root], |c| state_of(
        c,
        "startContainer",
        "created"
    )),
    test!("hooks.state_poststart", [Root], |c| state_of(
        c,
        "poststart",
        "running"
    )),
    test!("hooks.state_poststop", [Root], |c| state_of(
        c, "poststop", "stopped"
    )),
    test!("hooks.state_annotations", [Root], state_annotations),
    test!("hooks.namespace_prestart", [Root], |c| namespace_of(
        c, "prestart", false
    )),
    test!("hooks.namespace_create_runtime", [Root], |c| namespace_of(
        c,
        "createRuntime",
        false
    )),
    test!(
        "hooks.namespace_create_container",
        [Root],
        |c| namespace_of(c, "createContainer", true)
    ),
    test!("hooks.namespace_start_container", [Root], |c| namespace_of(
        c,
        "startContainer",
        true
    )),
    test!("hooks.namespace_poststart", [Root], |c| namespace_of(
        c,
        "poststart",
        false
    )),
    test!("hooks.namespace_poststop", [Root], |c| namespace_of(
        c, "poststop", false
    )),
    test!("hooks.env_and_args", [Root], env_and_args),
    test!("hooks.timeout_fails_create", [Root], timeout_fails_create),
    test!("hooks.fail_prestart_fails_create", [Root], |c| fail_create(
        c, "prestart"
    )),
    test!("hooks.fail_create_runtime_fails_create", [Root], |c| {
        fail_create(c, "createRuntime")
    }),
    test!("hooks.fail_create_container_fails_create", [Root], |c| {
        fail_create(c, "createContainer")
    }),
    test!(
        "hooks.fail_start_container_fails_start",
        [Root],
        fail_start_container
    ),
    test!("hooks.fail_poststart_fails_start", [Root], fail_poststart),
    test!("hooks.fail_poststop_ignored", [Root], fail_poststop_ignored),
    test!(
        "hooks.poststop_after_failed_create",
        [Root],
        poststop_after_failed_create
    ),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Create,
    Start,
    Delete,
}

/// Where a hook of this kind writes: startContainer runs in the container (sees /out); the
/// others see the host path.
fn out_dir(kind: &str, host: &Path) -> String {
    if kind == "startContainer" {
        "/out".to_string()
    } else {
        host.to_string_lossy().into_owned()
    }
}

/// A hook that records its stdin (the state), its namespaces and its order, then runs `tail`.
fn hook(kind: &str, name: &str, host: &Path, tail: &str) -> Value {
    let d = out_dir(kind, host);
    let script = format!(
        "B=/bin/busybox; $B cat > {d}/{name}.state; echo {name} >> {d}/order; \
         $B readlink /proc/self/ns/net > {d}/{name}.net; $B readlink /proc/self/ns/mnt > {d}/{name}.mnt; {tail}"
    );
    json!({"path": "/bin/busybox", "args": ["busybox", "sh", "-c", script]})
}

/// A config with one recording hook per kind in `kinds` (named after the kind) and /out bound.
fn with_hooks(ctx: &Ctx, kinds: &[&str], probe_args: &[&str]) -> Result<(Value, PathBuf)> {
    let mut s = ctx.spec(probe_args);
    let out = bind_out(ctx, &mut s, "/out")?;
    for k in kinds {
        spec::push(&mut s, &format!("/hooks/{k}"), hook(k, k, &out, ""));
    }
    Ok((s, out))
}

fn exists(out: &Path, name: &str) -> bool {
    out.join(format!("{name}.state")).exists()
}

fn runs_on(ctx: &Ctx, kind: &str, phase: Phase) -> Result<()> {
    let (s, out) = with_hooks(ctx, &[kind], &[])?;
    let b = ctx.bundle(&s)?;
    let mut c = ctx.create(&b)?;
    ensure!(
        exists(&out, kind) == (phase == Phase::Create),
        "{kind}: ran={} after create",
        exists(&out, kind)
    );
    c.start()?;
    match (kind, phase) {
        // startContainer runs in the container before the program: `start` may return first
        ("startContainer", _) => {
            ctx.poll(&format!("{kind} to run"), || {
                Ok(exists(&out, kind).then_some(()))
            })?;
        }
        // poststart MUST run before `start` returns
        (_, Phase::Start) => ensure!(exists(&out, kind), "{kind} had not run when start returned"),
        (_, Phase::Create) => {}
        (_, Phase::Delete) => ensure!(!exists(&out, kind), "{kind} ran before delete"),
    }
    c.wait_status("stopped")?;
    if phase == Phase::Delete {
        ensure!(!exists(&out, kind), "{kind} ran before delete");
    }
    c.delete()?;
    ensure!(exists(&out, kind), "{kind} never ran");
    Ok(())
}

fn order_lines(out: &Path) -> Vec<String> {
    std::fs::read_to_string(out.join("order"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
        .collect()
}

fn order_of_create_hooks(ctx: &Ctx) -> Result<()> {
    let (s, out) = with_hooks(
        ctx,
        &["createContainer", "createRuntime", "prestart"],
        &["--wait"],
    )?;
    let b = ctx.bundle(&s)?;
    let _c = ctx.create(&b)?;
    let got = order_lines(&out);
    ensure!(
        got == ["prestart", "createRuntime", "createContainer"],
        "hooks ran in the order {got:?}"
    );
    Ok(())
}

fn start_container_before_program(ctx: &Ctx) -> Result<()> {
    let (s, out) = with_hooks(ctx, &["startContainer"], &["--marker", "/out/order"])?;
    let b = ctx.bundle(&s)?;
    let c = ctx.create(&b)?;
    c.start()?;
    c.wait_report()?;
    let got = order_lines(&out);
    ensure!(got == ["startContainer", "started"], "order {got:?}");
    Ok(())
}

fn listed_order_kept(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&["--wait"]);
    let out = bind_out(ctx, &mut s, "/out")?;
    for n in ["first", "second", "third"] {
        spec::push(
            &mut s,
            "/hooks/createRuntime",
            hook("createRuntime", n, &out, ""),
        );
    }
    let b = ctx.bundle(&s)?;
    let _c = ctx.create(&b)?;
    let got = order_lines(&out);
    ensure!(
        got == ["first", "second", "third"],
        "hooks ran in the order {got:?}"
    );
    Ok(())
}

/// Runs the whole lifecycle with a recording hook of `kind`; returns the container's pid.
fn full_cycle(ctx: &Ctx, s: &Value) -> Result<(i32, crate::driver::bundle::Bundle)> {
    let b = ctx.bundle(s)?;
    let mut c = ctx.create(&b)?;
    let pid = c.pid()?;
    c.start()?;
    c.wait_status("stopped")?;
    c.delete()?;
    Ok((pid, b))
}

fn state_of(ctx: &Ctx, kind: &str, status: &str) -> Result<()> {
    let (s, out) = with_hooks(ctx, &[kind], &[])?;
    let (_, b) = full_cycle(ctx, &s)?;
    let text = read_host(&out.join(format!("{kind}.state")))?;
    let st: Value = serde_json::from_str(&text)
        .with_context(|| format!("{kind} stdin is not JSON: {text:?}"))?;
    ensure!(st["id"] == b.id.as_str(), "{kind}: id {}", st["id"]);
    ensure!(
        st["status"] == status,
        "{kind}: status {}, want {status}",
        st["status"]
    );
    ensure!(st["ociVersion"].is_string(), "{kind}: no ociVersion");
    let bundle = st["bundle"].as_str().unwrap_or_default();
    ensure!(
        std::fs::canonicalize(bundle).ok() == std::fs::canonicalize(&b.dir).ok(),
        "{kind}: bundle {bundle:?}"
    );
    if status != "stopped" {
        ensure!(
            st["pid"].as_i64().is_some_and(|p| p > 0),
            "{kind}: pid {}",
            st["pid"]
        );
    }
    Ok(())
}

fn state_annotations(ctx: &Ctx) -> Result<()> {
    let (mut s, out) = with_hooks(ctx, &["createRuntime"], &[])?;
    s["annotations"] = json!({"org.example.hook": "seen"});
    full_cycle(ctx, &s)?;
    let st: Value = serde_json::from_str(&read_host(&out.join("createRuntime.state"))?)?;
    ensure!(
        st["annotations"]["org.example.hook"] == "seen",
        "annotations {}",
        st["annotations"]
    );
    Ok(())
}

fn namespace_of(ctx: &Ctx, kind: &str, container: bool) -> Result<()> {
    let (s, out) = with_hooks(ctx, &[kind], &["--wait"])?;
    let b = ctx.bundle(&s)?;
    let mut c = ctx.create(&b)?;
    let cnet = pid_ns(c.pid()?, "net")?;
    c.start()?;
    c.wait_report()?;
    c.kill("KILL")?.check()?;
    c.wait_status("stopped")?;
    c.delete()?;
    let net = read_host(&out.join(format!("{kind}.net")))?
        .trim()
        .to_string();
    let host = host_ns(ctx, "net")?;
    if container {
        ensure!(
            net == cnet,
            "{kind} ran in network namespace {net}, the container's is {cnet}"
        );
    } else {
        ensure!(
            net == host,
            "{kind} ran in network namespace {net}, the runtime's is {host}"
        );
    }
    Ok(())
}

fn env_and_args(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    let out = ctx.scratch("hookout")?;
    let o = out.to_string_lossy();
    spec::push(
        &mut s,
        "/hooks/createRuntime",
        json!({
            "path": "/bin/busybox",
            "args": ["sh", "-c", format!("/bin/busybox env > {o}/env; echo \"$0 $1\" > {o}/args"), "first", "second"],
            "env": ["HOOK_VAR=hook value"]
        }),
    );
    full_cycle(ctx, &s)?;
    let env = read_host(&out.join("env"))?;
    ensure!(
        env.lines().any(|l| l == "HOOK_VAR=hook value"),
        "hook environment: {env:?}"
    );
    ensure!(
        !env.lines().any(|l| l.starts_with("TERM=")),
        "the hook inherited the container's env: {env:?}"
    );
    let args = read_host(&out.join("args"))?;
    ensure!(args.trim() == "first second", "hook args: {args:?}");
    Ok(())
}

fn timeout_fails_create(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    spec::push(
        &mut s,
        "/hooks/createRuntime",
        json!({
            "path": "/bin/busybox", "args": ["busybox", "sleep", "20"], "timeout": 1
        }),
    );
    expect_create_fails(ctx, &s)
}

fn failing(kind: &str, host: &Path) -> Value {
    hook(kind, kind, host, "exit 3")
}

fn fail_create(ctx: &Ctx, kind: &str) -> Result<()> {
    let mut s = ctx.spec(&[]);
    let out = bind_out(ctx, &mut s, "/out")?;
    spec::push(&mut s, &format!("/hooks/{kind}"), failing(kind, &out));
    expect_create_fails(ctx, &s)?;
    ensure!(exists(&out, kind), "the failing {kind} hook never ran");
    Ok(())
}

fn fail_start_container(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&["--marker", "/out/marker", "--wait"]);
    let out = bind_out(ctx, &mut s, "/out")?;
    spec::push(
        &mut s,
        "/hooks/startContainer",
        failing("startContainer", &out),
    );
    let b = ctx.bundle(&s)?;
    let c = ctx.create(&b)?;
    let o = c.try_start()?;
    ensure!(
        !o.success(),
        "start succeeded although startContainer failed"
    );
    ensure!(
        !out.join("marker").exists(),
        "the program ran although startContainer failed"
    );
    let st = c
        .state()
        .map(|v| v["status"].as_str().unwrap_or("").to_string())
        .unwrap_or_else(|_| "gone".into());
    ensure!(
        st == "stopped" || st == "gone",
        "after the failed start the container is {st:?}"
    );
    Ok(())
}

fn fail_poststart(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&["--wait"]);
    let out = bind_out(ctx, &mut s, "/out")?;
    spec::push(&mut s, "/hooks/poststart", failing("poststart", &out));
    let b = ctx.bundle(&s)?;
    let c = ctx.create(&b)?;
    let o = c.try_start()?;
    ensure!(!o.success(), "start succeeded although poststart failed");
    let mut st = String::new();
    ctx.poll("the container to stop", || {
        st = c
            .state()
            .map(|v| v["status"].as_str().unwrap_or("").to_string())
            .unwrap_or_else(|_| "gone".into());
        Ok((st == "stopped" || st == "gone").then_some(()))
    })
    .with_context(|| format!("after the failed poststart the container is {st:?}"))?;
    Ok(())
}

fn fail_poststop_ignored(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    let out = bind_out(ctx, &mut s, "/out")?;
    spec::push(
        &mut s,
        "/hooks/poststop",
        hook("poststop", "first", &out, "exit 3"),
    );
    spec::push(
        &mut s,
        "/hooks/poststop",
        hook("poststop", "second", &out, ""),
    );
    let b = ctx.bundle(&s)?;
    let mut c = ctx.create(&b)?;
    c.start()?;
    c.wait_status("stopped")?;
    let o = c.try_delete()?;
    ensure!(
        o.success(),
        "delete failed because a poststop hook failed: {}",
        o.reason()
    );
    ensure!(
        exists(&out, "second"),
        "the poststop hook after the failing one did not run"
    );
    Ok(())
}

fn poststop_after_failed_create(ctx: &Ctx) -> Result<()> {
    // runtime.md: a failing createRuntime hook stops the container and continues the
    // lifecycle at step 12; step 13 invokes the poststop hooks.
    let mut s = ctx.spec(&[]);
    let out = bind_out(ctx, &mut s, "/out")?;
    spec::push(
        &mut s,
        "/hooks/createRuntime",
        failing("createRuntime", &out),
    );
    spec::push(
        &mut s,
        "/hooks/poststop",
        hook("poststop", "poststop", &out, ""),
    );
    expect_create_fails(ctx, &s)?;
    ensure!(
        exists(&out, "poststop"),
        "poststop did not run after the failed create"
    );
    Ok(())
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn every_kind_has_a_test() {
        for k in KINDS {
            let snake: String = k
                .chars()
                .flat_map(|c| {
                    if c.is_ascii_uppercase() {
                        vec!['_', c.to_ascii_lowercase()]
                    } else {
                        vec![c]
                    }
                })
                .collect();
            assert!(
                TESTS.iter().any(|t| t.id == format!("hooks.state_{snake}")),
                "{k}"
            );
            assert!(
                TESTS
                    .iter()
                    .any(|t| t.id == format!("hooks.namespace_{snake}")),
                "{k}"
            );
        }
    }
}
