//! config-linux.md: seccomp — default action, errnoRet/defaultErrnoRet, every action, argument
//! operators, architectures, flags, the notify listener, invalid values.

use super::syscalls::X86_64_SYSCALLS;
use super::*;
use crate::driver::registry::Test;
use crate::driver::requirements::Requirement::*;
use crate::test;

const EBADFD: i32 = 77;

pub const TESTS: &[Test] = &[
    test!("seccomp.mode_filter", [Root, Seccomp], mode_filter),
    test!("seccomp.absent_mode_disabled", [Root], absent_mode_disabled),
    test!(
        "seccomp.errno_default_eperm",
        [Root, Seccomp],
        errno_default_eperm
    ),
    test!(
        "seccomp.errno_ret_custom",
        [Root, Seccomp],
        errno_ret_custom
    ),
    test!(
        "seccomp.default_errno_ret",
        [Root, Seccomp, Arch("x86_64")],
        default_errno_ret
    ),
    test!(
        "seccomp.default_errno_eperm",
        [Root, Seccomp, Arch("x86_64")],
        default_errno_eperm
    ),
    test!(
        "seccomp.unlisted_syscall_allowed",
        [Root, Seccomp],
        unlisted_syscall_allowed
    ),
    test!("seccomp.multiple_names", [Root, Seccomp], multiple_names),
    test!("seccomp.action_kill", [Root, Seccomp], |c| killed_by(
        c,
        "SCMP_ACT_KILL"
    )),
    test!("seccomp.action_kill_process", [Root, Seccomp], |c| {
        killed_by(c, "SCMP_ACT_KILL_PROCESS")
    }),
    test!(
        "seccomp.action_kill_thread",
        [Root, Seccomp],
        |c| killed_by(c, "SCMP_ACT_KILL_THREAD")
    ),
    test!("seccomp.action_trap", [Root, Seccomp], |c| killed_by(
        c,
        "SCMP_ACT_TRAP"
    )),
    test!("seccomp.action_log", [Root, Seccomp], action_log),
    test!(
        "seccomp.action_trace_without_tracer",
        [Root, Seccomp],
        action_trace
    ),
    test!(
        "seccomp.action_notify_listener",
        [Root, Seccomp],
        action_notify
    ),
    test!("seccomp.arg_eq", [Root, Seccomp], |c| arg_op(
        c,
        "SCMP_CMP_EQ",
        4242,
        None,
        4242,
        4243
    )),
    test!("seccomp.arg_ne", [Root, Seccomp], |c| arg_op(
        c,
        "SCMP_CMP_NE",
        4242,
        None,
        4243,
        4242
    )),
    test!("seccomp.arg_lt", [Root, Seccomp], |c| arg_op(
        c,
        "SCMP_CMP_LT",
        100,
        None,
        50,
        150
    )),
    test!("seccomp.arg_le", [Root, Seccomp], |c| arg_op(
        c,
        "SCMP_CMP_LE",
        100,
        None,
        100,
        101
    )),
    test!("seccomp.arg_gt", [Root, Seccomp], |c| arg_op(
        c,
        "SCMP_CMP_GT",
        100,
        None,
        150,
        100
    )),
    test!("seccomp.arg_ge", [Root, Seccomp], |c| arg_op(
        c,
        "SCMP_CMP_GE",
        100,
        None,
        100,
        99
    )),
    test!("seccomp.arg_masked_eq", [Root, Seccomp], |c| arg_op(
        c,
        "SCMP_CMP_MASKED_EQ",
        0xff,
        Some(0x42),
        0x142,
        0x143
    )),
    test!("seccomp.args_combined", [Root, Seccomp], args_combined),
    test!(
        "seccomp.architectures",
        [Root, Seccomp, Arch("x86_64")],
        architectures
    ),
    test!("seccomp.flag_log", [Root, Seccomp], |c| flag(
        c,
        "SECCOMP_FILTER_FLAG_LOG"
    )),
    test!("seccomp.flag_spec_allow", [Root, Seccomp], |c| flag(
        c,
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW"
    )),
    test!("seccomp.flag_tsync", [Root, Seccomp], |c| flag(
        c,
        "SECCOMP_FILTER_FLAG_TSYNC"
    )),
    test!(
        "seccomp.unknown_action_fails",
        [Root, Seccomp],
        unknown_action_fails
    ),
    test!(
        "seccomp.unknown_default_action_fails",
        [Root, Seccomp],
        unknown_default_action_fails
    ),
    test!(
        "seccomp.unknown_arch_fails",
        [Root, Seccomp],
        unknown_arch_fails
    ),
    test!(
        "seccomp.unknown_operator_fails",
        [Root, Seccomp],
        unknown_operator_fails
    ),
    test!(
        "seccomp.errno_ret_on_allow_fails",
        [Root, Seccomp],
        errno_ret_on_allow_fails
    ),
];

fn rule(names: &[&str], action: &str) -> Value {
    json!({"names": names, "action": action})
}

fn with_seccomp(ctx: &Ctx, probe: &[&str], default: &str, rules: Vec<Value>) -> Value {
    let mut s = ctx.spec(probe);
    s["linux"]["seccomp"] = json!({"defaultAction": default, "syscalls": rules});
    s
}

fn mode_filter(ctx: &Ctx) -> Result<()> {
    let s = with_seccomp(
        ctx,
        &[],
        "SCMP_ACT_ALLOW",
        vec![rule(&["sysinfo"], "SCMP_ACT_ERRNO")],
    );
    let r = report(ctx, &s)?;
    ensure!(
        r.seccomp == Some(2),
        "Seccomp mode {:?}, want 2 (filter)",
        r.seccomp
    );
    Ok(())
}

fn absent_mode_disabled(ctx: &Ctx) -> Result<()> {
    let mut s = ctx.spec(&[]);
    spec::remove(&mut s, "/linux/seccomp");
    let r = report(ctx, &s)?;
    ensure!(
        r.seccomp == Some(0),
        "Seccomp mode {:?} without a seccomp config",
        r.seccomp
    );
    Ok(())
}

fn errno_default_eperm(ctx: &Ctx) -> Result<()> {
    let s = with_seccomp(
        ctx,
        &["--try", "sysinfo"],
        "SCMP_ACT_ALLOW",
        vec![rule(&["sysinfo"], "SCMP_ACT_ERRNO")],
    );
    let r = report(ctx, &s)?;
    expect_errno(&r, "sysinfo", libc::EPERM)
}

fn errno_ret_custom(ctx: &Ctx) -> Result<()> {
    let mut r0 = rule(&["sysinfo"], "SCMP_ACT_ERRNO");
    r0["errnoRet"] = json!(EBADFD);
    let s = with_seccomp(ctx, &["--try", "sysinfo"], "SCMP_ACT_ALLOW", vec![r0]);
    let r = report(ctx, &s)?;
    expect_errno(&r, "sysinfo", EBADFD)
}

/// Default ERRNO, with every x86_64 syscall but `sysinfo` allowed.
fn default_errno(ctx: &Ctx, ret: Option<i32>) -> Value {
    let allowed: Vec<&str> = X86_64_SYSCALLS
        .iter()
        .copied()
        .filter(|n| *n != "sysinfo")
        .collect();
    let mut s = with_seccomp(
        ctx,
        &["--try", "sysinfo", "--try", "getppid"],
        "SCMP_ACT_ERRNO",
        vec![rule(&allowed, "SCMP_ACT_ALLOW")],
    );
    if let Some(e) = ret {
        s["linux"]["seccomp"]["defaultErrnoRet"] = json!(e);
    }
    s["linux"]["seccomp"]["architectures"] = json!(["SCMP_ARCH_X86_64"]);
    s
}

fn default_errno_ret(ctx: &Ctx) -> Result<()> {
    let r = report(ctx, &default_errno(ctx, Some(EBADFD)))?;
    expect_errno(&r, "sysinfo", EBADFD)?;
    expect_ok(&r, "getppid")
}

fn default_errno_eperm(ctx: &Ctx) -> Result<()> {
    let r = report(ctx, &default_errno(ctx, None))?;
    expect_errno(&r, "sysinfo", libc::EPERM)?;
    expect_ok(&r, "getppid")
}

fn unlisted_syscall_allowed(ctx: &Ctx) -> Result<()> {
    let s = with_seccomp(
        ctx,
        &["--try", "getppid"],
        "SCMP_ACT_ALLOW",
        vec![rule(&["sysinfo"], "SCMP_ACT_ERRNO")],
    );
    let r = report(ctx, &s)?;
    expect_ok(&r, "getppid")
}

fn multiple_names(ctx: &Ctx) -> Result<()> {
    let s = with_seccomp(
        ctx,
        &["--try", "sysinfo", "--try", "getppid"],
        "SCMP_ACT_ALLOW",
        vec![rule(&["sysinfo", "getppid"], "SCMP_ACT_ERRNO")],
    );
    let r = report(ctx, &s)?;
    expect_errno(&r, "sysinfo", libc::EPERM)?;
    expect_errno(&r, "getppid", libc::EPERM)
}

fn killed_by(ctx: &Ctx, action: &str) -> Result<()> {
    let mut s = with_seccomp(ctx, &[], "SCMP_ACT_ALLOW", vec![rule(&["sysinfo"], action)]);
    let out = bind_out(ctx, &mut s, "/out")?;
    spec::probe_args(&mut s, &["--marker", "/out/marker", "--try", "sysinfo"]);
    let b = ctx.bundle(&s)?;
    let c = ctx.create(&b)?;
    c.start()?;
    c.wait_status("stopped")?;
    ensure!(out.join("marker").exists(), "the probe never started");
    ensure!(
        !c.stdout().contains(crate::report::REPORT_PREFIX),
        "{action}: the process survived the syscall"
    );
    Ok(())
}

fn action_log(ctx: &Ctx) -> Result<()> {
    let s = with_seccomp(
        ctx,
        &["--try", "sysinfo"],
        "SCMP_ACT_ALLOW",
        vec![rule(&["sysinfo"], "SCMP_ACT_LOG")],
    );
    let r = report(ctx, &s)?;
    expect_ok(&r, "sysinfo")
}

fn action_trace(ctx: &Ctx) -> Result<()> {
    let s = with_seccomp(
        ctx,
        &["--try", "sysinfo"],
        "SCMP_ACT_ALLOW",
        vec![rule(&["sysinfo"], "SCMP_ACT_TRACE")],
    );
    let r = report(ctx, &s)?;
    expect_errno(&r, "sysinfo", libc::ENOSYS)
}

fn action_notify(ctx: &Ctx) -> Result<()> {
    let listener = ctx.dir.join("agent.sock");
    let mut s = with_seccomp(
        ctx,
        &["--try", "sysinfo"],
        "SCMP_ACT_ALLOW",
        vec![rule(&["sysinfo"], "SCMP_ACT_NOTIFY")],
    );
    s["linux"]["seccomp"]["listenerPath"] = json!(listener);
    s["linux"]["seccomp"]["listenerMetadata"] = json!("probe-metadata");
    let b = ctx.bundle(&s)?;
    let agent = ctx.seccomp_agent(&listener)?;
    let c = ctx.create(&b)?;
    c.start()?;
    // The agent closes the notify descriptor at once, so the notified syscall fails (ENOSYS).
    let (data, nfds) = agent
        .join()
        .map_err(|_| anyhow!("the agent thread panicked"))??;
    let msg: Value = serde_json::from_slice(&data).with_context(|| {
        format!(
            "the listener got no JSON: {:?}",
            String::from_utf8_lossy(&data)
        )
    })?;
    ensure!(msg["fds"] == json!(["seccompFd"]), "fds {}", msg["fds"]);
    ensure!(nfds == 1, "{nfds} descriptors sent, want 1");
    ensure!(
        msg["metadata"] == "probe-metadata",
        "metadata {}",
        msg["metadata"]
    );
    ensure!(
        msg["pid"].as_i64().is_some_and(|p| p > 0),
        "pid {}",
        msg["pid"]
    );
    ensure!(
        msg["state"]["id"] == b.id.as_str(),
        "state.id {}",
        msg["state"]["id"]
    );
    ensure!(msg["ociVersion"].is_string(), "no ociVersion");
    let r = c.wait_report()?;
    expect_errno(&r, "sysinfo", libc::ENOSYS)
}

fn arg_op(
    ctx: &Ctx,
    op: &str,
    value: u64,
    value_two: Option<u64>,
    hit: u64,
    miss: u64,
) -> Result<()> {
    let mut arg = json!({"index": 1, "value": value, "op": op});
    if let Some(v2) = value_two {
        arg["valueTwo"] = json!(v2);
    }
    let mut r0 = rule(&["getpriority"], "SCMP_ACT_ERRNO");
    r0["errnoRet"] = json!(EBADFD);
    r0["args"] = json!([arg]);
    let (h, m) = (
        format!("getpriority:0:{hit}"),
        format!("getpriority:0:{miss}"),
    );
    let s = with_seccomp(ctx, &["--try", &h, "--try", &m], "SCMP_ACT_ALLOW", vec![r0]);
    let r = report(ctx, &s)?;
    expect_errno(&r, &h, EBADFD)?;
    let t = tried(&r, &m)?;
    ensure!(
        t.errno != EBADFD,
        "{op}: getpriority(0, {miss}) was filtered too"
    );
    Ok(())
}

fn args_combined(ctx: &Ctx) -> Result<()> {
    let mut r0 = rule(&["getpriority"], "SCMP_ACT_ERRNO");
    r0["errnoRet"] = json!(EBADFD);
    r0["args"] = json!([
        {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
        {"index": 1, "value": 4242, "op": "SCMP_CMP_EQ"}
    ]);
    let s = with_seccomp(
        ctx,
        &["--try", "getpriority:0:4242", "--try", "getpriority:1:4242"],
        "SCMP_ACT_ALLOW",
        vec![r0],
    );
    let r = report(ctx, &s)?;
    expect_errno(&r, "getpriority:0:4242", EBADFD)?;
    ensure!(
        tried(&r, "getpriority:1:4242")?.errno != EBADFD,
        "both conditions must hold, but one sufficed"
    );
    Ok(())
}

fn architectures(ctx: &Ctx) -> Result<()> {
    let mut s = with_seccomp(
        ctx,
        &["--try", "sysinfo"],
        "SCMP_ACT_ALLOW",
        vec![rule(&["sysinfo"], "SCMP_ACT_ERRNO")],
    );
    s["linux"]["seccomp"]["architectures"] =
        json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
    let r = report(ctx, &s)?;
    expect_errno(&r, "sysinfo", libc::EPERM)
}

fn flag(ctx: &Ctx, f: &str) -> Result<()> {
    let mut s = with_seccomp(
        ctx,
        &["--try", "sysinfo"],
        "SCMP_ACT_ALLOW",
        vec![rule(&["sysinfo"], "SCMP_ACT_ERRNO")],
    );
    s["linux"]["seccomp"]["flags"] = json!([f]);
    let r = report(ctx, &s)?;
    expect_errno(&r, "sysinfo", libc::EPERM)
}

fn unknown_action_fails(ctx: &Ctx) -> Result<()> {
    let s = with_seccomp(
        ctx,
        &[],
        "SCMP_ACT_ALLOW",
        vec![rule(&["sysinfo"], "SCMP_ACT_NOT_AN_ACTION")],
    );
    expect_create_fails(ctx, &s)
}

fn unknown_default_action_fails(ctx: &Ctx) -> Result<()> {
    let s = with_seccomp(ctx, &[], "SCMP_ACT_NOT_AN_ACTION", vec![]);
    expect_create_fails(ctx, &s)
}

fn unknown_arch_fails(ctx: &Ctx) -> Result<()> {
    let mut s = with_seccomp(
        ctx,
        &[],
        "SCMP_ACT_ALLOW",
        vec![rule(&["sysinfo"], "SCMP_ACT_ERRNO")],
    );
    s["linux"]["seccomp"]["architectures"] = json!(["SCMP_ARCH_NOT_AN_ARCH"]);
    expect_create_fails(ctx, &s)
}

fn unknown_operator_fails(ctx: &Ctx) -> Result<()> {
    let mut r0 = rule(&["getpriority"], "SCMP_ACT_ERRNO");
    r0["args"] = json!([{"index": 0, "value": 1, "op": "SCMP_CMP_NOT_AN_OP"}]);
    let s = with_seccomp(ctx, &[], "SCMP_ACT_ALLOW", vec![r0]);
    expect_create_fails(ctx, &s)
}

fn errno_ret_on_allow_fails(ctx: &Ctx) -> Result<()> {
    // config-linux.md: "When the action doesn't support an errno, the runtime MUST print and
    // error and fail."
    let mut r0 = rule(&["sysinfo"], "SCMP_ACT_ALLOW");
    r0["errnoRet"] = json!(5);
    let s = with_seccomp(ctx, &[], "SCMP_ACT_ALLOW", vec![r0]);
    expect_create_fails(ctx, &s)
}
