//! One function per command: options → one library call → exit status.

pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod kill;
pub mod list;
pub mod pause;
pub mod ps;
pub mod resume;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;

use libcontainer::CreateOptions;

use crate::cli::CreateArgs;

/// The create options from `create`/`run` flags; `LISTEN_FDS` (socket activation) adds to the
/// preserved fds as runc does.
pub fn create_options(a: &CreateArgs) -> CreateOptions {
    let listen_fds = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0);
    // Socket activation: the fds after stdio are passed on, and the process is told, as runc does.
    let extra_env = if listen_fds > 0 {
        vec![
            format!("LISTEN_FDS={listen_fds}"),
            "LISTEN_PID=1".to_string(),
        ]
    } else {
        vec![]
    };
    CreateOptions {
        extra_env,
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds + listen_fds,
        console_socket: a.console_socket.clone(),
        pid_file: a.pid_file.as_ref().map(|p| absolute(p)),
    }
}

fn absolute(p: &std::path::Path) -> std::path::PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}
