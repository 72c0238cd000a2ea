use anyhow::{Context, Result};
use libcontainer::exec::{ExecOutcome, ExecRequest, ProcessFlags};
use libcontainer::Runtime;

use crate::cli::ExecArgs;
use crate::Ctx;

pub fn run(ctx: &Ctx, a: &ExecArgs) -> Result<i32> {
    let req = ExecRequest {
        id: a.id.clone(),
        process_file: a.process.as_deref().map(super::absolute),
        flags: ProcessFlags {
            args: a.command.clone(),
            cwd: a.cwd.clone(),
            env: a.env.clone(),
            tty: a.tty,
            user: a.user.clone(),
            additional_gids: a.additional_gids.clone(),
            caps: a.cap.clone(),
            no_new_privs: a.no_new_privs,
            apparmor: a.apparmor.clone(),
            process_label: a.process_label.clone(),
        },
        console_socket: a.console_socket.as_deref().map(super::absolute),
        detach: a.detach,
        pid_file: a.pid_file.as_deref().map(super::absolute),
        preserve_fds: a.preserve_fds,
        cgroup: a.cgroup.clone(),
        ignore_paused: a.ignore_paused,
    };
    match Runtime::new(&ctx.root).exec(&req).context("exec failed")? {
        ExecOutcome::Detached { .. } => Ok(0),
        ExecOutcome::Exited { status, .. } => Ok(status),
    }
}
