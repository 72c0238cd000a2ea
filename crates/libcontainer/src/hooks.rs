//! Running lifecycle hooks (config.md "POSIX-platform Hooks"): the hook's `path` executed with
//! `args` (argv, including argv[0]) and exactly `env` as its environment, the container state
//! JSON on stdin, killed when `timeout` seconds pass.

use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::unistd::Pid;
use oci_spec::runtime::{Hook, Hooks};

use crate::sys;

/// The hook kinds, in lifecycle order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl HookKind {
    pub fn name(self) -> &'static str {
        match self {
            HookKind::Prestart => "prestart",
            HookKind::CreateRuntime => "createRuntime",
            HookKind::CreateContainer => "createContainer",
            HookKind::StartContainer => "startContainer",
            HookKind::Poststart => "poststart",
            HookKind::Poststop => "poststop",
        }
    }

    /// The hooks of this kind in the config.
    pub fn of(self, hooks: Option<&Hooks>) -> &[Hook] {
        let Some(h) = hooks else { return &[] };
        let list = match self {
            HookKind::Prestart => h.prestart(),
            HookKind::CreateRuntime => h.create_runtime(),
            HookKind::CreateContainer => h.create_container(),
            HookKind::StartContainer => h.start_container(),
            HookKind::Poststart => h.poststart(),
            HookKind::Poststop => h.poststop(),
        };
        list.as_deref().unwrap_or(&[])
    }
}

/// A hook that failed.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{kind} hook #{index} ({path}): cannot run it")]
    Spawn {
        kind: &'static str,
        index: usize,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{kind} hook #{index} ({path}) exited with status {status}{stderr}")]
    Failed {
        kind: &'static str,
        index: usize,
        path: String,
        status: String,
        stderr: String,
    },
    #[error("{kind} hook #{index} ({path}) timed out after {secs}s")]
    Timeout {
        kind: &'static str,
        index: usize,
        path: String,
        secs: i64,
    },
}

/// Run every hook of `kind` in order with `state` (JSON) on stdin; stop at the first failure.
pub fn run_all(kind: HookKind, hooks: Option<&Hooks>, state: &[u8]) -> Result<(), HookError> {
    for (index, hook) in kind.of(hooks).iter().enumerate() {
        run_one(kind, index, hook, state)?;
    }
    Ok(())
}

/// Run every hook of `kind`, reporting each failure to `warn` and carrying on (poststop).
pub fn run_all_warn(
    kind: HookKind,
    hooks: Option<&Hooks>,
    state: &[u8],
    warn: impl Fn(&HookError),
) {
    for (index, hook) in kind.of(hooks).iter().enumerate() {
        if let Err(e) = run_one(kind, index, hook, state) {
            warn(&e);
        }
    }
}

fn run_one(kind: HookKind, index: usize, hook: &Hook, state: &[u8]) -> Result<(), HookError> {
    let path = hook.path().display().to_string();
    let mut cmd = Command::new(hook.path());
    let args = hook.args().as_deref().unwrap_or(&[]);
    if let Some((argv0, rest)) = args.split_first() {
        cmd.arg0(argv0).args(rest);
    }
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| HookError::Spawn {
        kind: kind.name(),
        index,
        path: path.clone(),
        source,
    })?;
    // The state is small (well under a pipe's capacity); a hook that exits without reading it
    // gives EPIPE, which is not an error of ours.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(state);
    }
    let pid = Pid::from_raw(child.id() as i32);
    let timeout = hook.timeout().filter(|t| *t > 0);
    if let Some(secs) = timeout {
        if !wait_exit(pid, Duration::from_secs(secs as u64)) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(HookError::Timeout {
                kind: kind.name(),
                index,
                path,
                secs,
            });
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|source| HookError::Spawn {
            kind: kind.name(),
            index,
            path: path.clone(),
            source,
        })?;
    if out.status.success() {
        return Ok(());
    }
    let status = match (out.status.code(), out.status.signal()) {
        (Some(c), _) => c.to_string(),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => "unknown".into(),
    };
    let text = String::from_utf8_lossy(&out.stderr).trim().to_string();
    Err(HookError::Failed {
        kind: kind.name(),
        index,
        path,
        status,
        stderr: if text.is_empty() {
            String::new()
        } else {
            format!(", stderr: {text}")
        },
    })
}

/// Wait (without reaping) until `pid` exits or `limit` passes; true when it exited.
fn wait_exit(pid: Pid, limit: Duration) -> bool {
    match sys::pidfd_open(pid) {
        Ok(pidfd) => crate::proc::wait_pidfd(&pidfd, limit),
        Err(_) => true, // already gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(json: serde_json::Value) -> Hook {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn state_on_stdin_args_and_env() {
        let dir = std::env::temp_dir().join(format!("minke-hook-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out");
        let h = hook(serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("cat > {0}; echo \" $0 $FOO\" >> {0}", out.display()), "argzero"],
            "env": ["FOO=bar"]
        }));
        run_one(HookKind::Poststop, 0, &h, b"{\"id\":\"x\"}").unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{\"id\":\"x\"} argzero bar\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failure_and_timeout() {
        let h = hook(
            serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", "echo boom >&2; exit 3"]}),
        );
        let e = run_one(HookKind::Prestart, 1, &h, b"{}")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "prestart hook #1 (/bin/sh) exited with status 3, stderr: boom"
        );
        let h = hook(
            serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", "exec sleep 30"], "timeout": 1}),
        );
        let e = run_one(HookKind::Poststart, 0, &h, b"{}").unwrap_err();
        assert!(matches!(e, HookError::Timeout { secs: 1, .. }), "{e}");
        let h = hook(serde_json::json!({"path": "/nonexistent/hook"}));
        assert!(matches!(
            run_one(HookKind::Poststart, 0, &h, b"{}").unwrap_err(),
            HookError::Spawn { .. }
        ));
    }
}
