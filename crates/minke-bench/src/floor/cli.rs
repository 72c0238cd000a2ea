//! The floor's command line: the subset of runc's that the harness drives, parsed by hand
//! (pure) to keep the floor's start-up minimal. Unknown flags are errors.

use std::path::PathBuf;

use nix::sys::signal::Signal;

use super::cgroups::Join;
use thiserror::Error;

/// Errors of command-line parsing.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CliError {
    /// No command given.
    #[error("no command given (create, start, state, kill, delete, run, exec, list)")]
    NoCommand,
    /// An unknown command.
    #[error("unknown command {0:?}")]
    UnknownCommand(String),
    /// An unknown or misplaced flag.
    #[error("unknown flag {flag:?} for {command}")]
    UnknownFlag {
        /// The command.
        command: &'static str,
        /// The flag.
        flag: String,
    },
    /// A flag without its value.
    #[error("{0} needs a value")]
    MissingValue(String),
    /// A required flag or argument is missing.
    #[error("{command}: missing {what}")]
    Missing {
        /// The command.
        command: &'static str,
        /// What is missing.
        what: &'static str,
    },
    /// Too many positional arguments.
    #[error("{command}: unexpected argument {arg:?}")]
    Extra {
        /// The command.
        command: &'static str,
        /// The argument.
        arg: String,
    },
    /// A flag value that is not one of the allowed ones.
    #[error("{flag}: unknown value {value:?}")]
    BadValue {
        /// The flag.
        flag: &'static str,
        /// The value.
        value: String,
    },
    /// A signal name or number that is not known.
    #[error("unknown signal {0:?}")]
    Signal(String),
}

/// A parsed command.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// `create --bundle B [--pid-file P] ID`
    Create {
        /// Bundle directory.
        bundle: PathBuf,
        /// Where to write the init's pid.
        pid_file: Option<PathBuf>,
        /// Container id.
        id: String,
    },
    /// `start ID`
    Start {
        /// Container id.
        id: String,
    },
    /// `state ID`
    State {
        /// Container id.
        id: String,
    },
    /// `kill ID [SIGNAL]` (default SIGTERM)
    Kill {
        /// Container id.
        id: String,
        /// The signal.
        signal: Signal,
    },
    /// `delete [--force] ID`
    Delete {
        /// Container id.
        id: String,
        /// Kill it first if it runs.
        force: bool,
    },
    /// `run --bundle B [--pid-file P] ID`: create, start, wait, delete; exits with the
    /// container's status.
    Run {
        /// Bundle directory.
        bundle: PathBuf,
        /// Where to write the init's pid.
        pid_file: Option<PathBuf>,
        /// Container id.
        id: String,
    },
    /// `exec [--pid-file P] ID ARGS...`: runs ARGS in the container and exits with its status.
    Exec {
        /// Container id.
        id: String,
        /// Where to write the process's pid.
        pid_file: Option<PathBuf>,
        /// The command.
        args: Vec<String>,
    },
    /// `list`
    List,
    /// `--version`
    Version,
}

/// The whole command line.
#[derive(Debug, PartialEq, Eq)]
pub struct Cli {
    /// `--root` (default `/run/minke-floor`).
    pub root: PathBuf,
    /// `--cgroup-join=self|parent` (default self): how processes get into their v1 cgroups.
    pub join: Join,
    /// The command.
    pub command: Command,
}

/// The state root when `--root` is not given.
pub const DEFAULT_ROOT: &str = "/run/minke-floor";

/// Parses a signal given as `KILL`, `SIGKILL` or `9`.
pub fn parse_signal(text: &str) -> Result<Signal, CliError> {
    if let Ok(n) = text.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| CliError::Signal(text.to_string()));
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse().map_err(|_| CliError::Signal(text.to_string()))
}

/// Takes the value of `--flag VALUE` or `--flag=VALUE` if `arg` is that flag.
fn flag_value(
    arg: &str,
    names: &[&str],
    rest: &mut std::slice::Iter<'_, String>,
) -> Result<Option<String>, CliError> {
    for name in names {
        if arg == *name {
            return rest
                .next()
                .cloned()
                .map(Some)
                .ok_or_else(|| CliError::MissingValue(name.to_string()));
        }
        if let Some(value) = arg.strip_prefix(name).and_then(|v| v.strip_prefix('=')) {
            return Ok(Some(value.to_string()));
        }
    }
    Ok(None)
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Cli, CliError> {
    let mut it = args.iter();
    let mut root = PathBuf::from(DEFAULT_ROOT);
    let mut join = Join::SelfTasks;
    let command_name = loop {
        let arg = it.next().ok_or(CliError::NoCommand)?;
        if let Some(value) = flag_value(arg, &["--root"], &mut it)? {
            root = PathBuf::from(value);
        } else if let Some(value) = flag_value(arg, &["--cgroup-join"], &mut it)? {
            join = match value.as_str() {
                "self" => Join::SelfTasks,
                "parent" => Join::ParentProcs,
                _ => {
                    return Err(CliError::BadValue {
                        flag: "--cgroup-join",
                        value,
                    })
                }
            };
        } else if arg == "--version" || arg == "-v" {
            return Ok(Cli {
                root,
                join,
                command: Command::Version,
            });
        } else if arg.starts_with('-') {
            return Err(CliError::UnknownFlag {
                command: "minke-floor",
                flag: arg.clone(),
            });
        } else {
            break arg.as_str();
        }
    };
    let command = match command_name {
        "create" | "run" => {
            let name: &'static str = if command_name == "create" {
                "create"
            } else {
                "run"
            };
            let mut bundle = None;
            let mut pid_file = None;
            let mut id = None;
            while let Some(arg) = it.next() {
                if let Some(v) = flag_value(arg, &["--bundle", "-b"], &mut it)? {
                    bundle = Some(PathBuf::from(v));
                } else if let Some(v) = flag_value(arg, &["--pid-file"], &mut it)? {
                    pid_file = Some(PathBuf::from(v));
                } else if arg.starts_with('-') {
                    return Err(CliError::UnknownFlag {
                        command: name,
                        flag: arg.clone(),
                    });
                } else if id.is_none() {
                    id = Some(arg.clone());
                } else {
                    return Err(CliError::Extra {
                        command: name,
                        arg: arg.clone(),
                    });
                }
            }
            let id = id.ok_or(CliError::Missing {
                command: name,
                what: "container id",
            })?;
            // runc's default bundle is the current directory.
            let bundle = bundle.unwrap_or_else(|| PathBuf::from("."));
            if name == "create" {
                Command::Create {
                    bundle,
                    pid_file,
                    id,
                }
            } else {
                Command::Run {
                    bundle,
                    pid_file,
                    id,
                }
            }
        }
        "start" | "state" => {
            let name: &'static str = if command_name == "start" {
                "start"
            } else {
                "state"
            };
            let id = single_id(name, &mut it)?;
            if name == "start" {
                Command::Start { id }
            } else {
                Command::State { id }
            }
        }
        "kill" => {
            let id = it
                .next()
                .ok_or(CliError::Missing {
                    command: "kill",
                    what: "container id",
                })?
                .clone();
            if id.starts_with('-') {
                return Err(CliError::UnknownFlag {
                    command: "kill",
                    flag: id,
                });
            }
            let signal = match it.next() {
                Some(s) => parse_signal(s)?,
                None => Signal::SIGTERM,
            };
            if let Some(extra) = it.next() {
                return Err(CliError::Extra {
                    command: "kill",
                    arg: extra.clone(),
                });
            }
            Command::Kill { id, signal }
        }
        "delete" => {
            let mut force = false;
            let mut id = None;
            for arg in it.by_ref() {
                match arg.as_str() {
                    "--force" | "-f" => force = true,
                    a if a.starts_with('-') => {
                        return Err(CliError::UnknownFlag {
                            command: "delete",
                            flag: arg.clone(),
                        })
                    }
                    _ if id.is_none() => id = Some(arg.clone()),
                    _ => {
                        return Err(CliError::Extra {
                            command: "delete",
                            arg: arg.clone(),
                        })
                    }
                }
            }
            Command::Delete {
                id: id.ok_or(CliError::Missing {
                    command: "delete",
                    what: "container id",
                })?,
                force,
            }
        }
        "exec" => {
            let mut pid_file = None;
            let id = loop {
                let arg = it.next().ok_or(CliError::Missing {
                    command: "exec",
                    what: "container id",
                })?;
                if let Some(v) = flag_value(arg, &["--pid-file"], &mut it)? {
                    pid_file = Some(PathBuf::from(v));
                } else if arg.starts_with('-') {
                    return Err(CliError::UnknownFlag {
                        command: "exec",
                        flag: arg.clone(),
                    });
                } else {
                    break arg.clone();
                }
            };
            let args: Vec<String> = it.by_ref().cloned().collect();
            if args.is_empty() {
                return Err(CliError::Missing {
                    command: "exec",
                    what: "command",
                });
            }
            Command::Exec { id, pid_file, args }
        }
        "list" => {
            if let Some(arg) = it.next() {
                return Err(CliError::Extra {
                    command: "list",
                    arg: arg.clone(),
                });
            }
            Command::List
        }
        other => return Err(CliError::UnknownCommand(other.to_string())),
    };
    Ok(Cli {
        root,
        join,
        command,
    })
}

fn single_id(
    command: &'static str,
    it: &mut std::slice::Iter<'_, String>,
) -> Result<String, CliError> {
    let id = it.next().ok_or(CliError::Missing {
        command,
        what: "container id",
    })?;
    if id.starts_with('-') {
        return Err(CliError::UnknownFlag {
            command,
            flag: id.clone(),
        });
    }
    if let Some(extra) = it.next() {
        return Err(CliError::Extra {
            command,
            arg: extra.clone(),
        });
    }
    Ok(id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Cli, CliError> {
        let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        parse(&args)
    }

    #[test]
    fn containerd_style_create() {
        let cli = p("--root /r create --bundle /b --pid-file /p c1").unwrap();
        assert_eq!(cli.root, PathBuf::from("/r"));
        assert_eq!(
            cli.command,
            Command::Create {
                bundle: "/b".into(),
                pid_file: Some("/p".into()),
                id: "c1".into()
            }
        );
        let cli = p("--root=/r create --bundle=/b c1").unwrap();
        assert_eq!(
            cli.command,
            Command::Create {
                bundle: "/b".into(),
                pid_file: None,
                id: "c1".into()
            }
        );
    }

    #[test]
    fn other_commands() {
        assert_eq!(
            p("start c1").unwrap().command,
            Command::Start { id: "c1".into() }
        );
        assert_eq!(p("state c1").unwrap().root, PathBuf::from(DEFAULT_ROOT));
        assert_eq!(
            p("kill c1 KILL").unwrap().command,
            Command::Kill {
                id: "c1".into(),
                signal: Signal::SIGKILL
            }
        );
        assert_eq!(
            p("kill c1").unwrap().command,
            Command::Kill {
                id: "c1".into(),
                signal: Signal::SIGTERM
            }
        );
        assert_eq!(
            p("delete -f c1").unwrap().command,
            Command::Delete {
                id: "c1".into(),
                force: true
            }
        );
        assert_eq!(
            p("delete c1").unwrap().command,
            Command::Delete {
                id: "c1".into(),
                force: false
            }
        );
        assert_eq!(
            p("exec c1 /bin/sh -c true").unwrap().command,
            Command::Exec {
                id: "c1".into(),
                pid_file: None,
                args: vec!["/bin/sh".into(), "-c".into(), "true".into()]
            }
        );
        assert_eq!(
            p("exec --pid-file /p c1 /bin/true").unwrap().command,
            Command::Exec {
                id: "c1".into(),
                pid_file: Some("/p".into()),
                args: vec!["/bin/true".into()]
            }
        );
        assert_eq!(
            p("run -b /b c2").unwrap().command,
            Command::Run {
                bundle: "/b".into(),
                pid_file: None,
                id: "c2".into()
            }
        );
        assert_eq!(p("list").unwrap().command, Command::List);
        assert_eq!(p("--version").unwrap().command, Command::Version);
    }

    #[test]
    fn errors() {
        assert_eq!(p(""), Err(CliError::NoCommand));
        assert_eq!(p("frob"), Err(CliError::UnknownCommand("frob".into())));
        assert_eq!(
            p("--debug state c1"),
            Err(CliError::UnknownFlag {
                command: "minke-floor",
                flag: "--debug".into()
            })
        );
        assert_eq!(
            p("create --console-socket /s c1"),
            Err(CliError::UnknownFlag {
                command: "create",
                flag: "--console-socket".into()
            })
        );
        assert_eq!(
            p("create --bundle"),
            Err(CliError::MissingValue("--bundle".into()))
        );
        assert_eq!(
            p("create --bundle /b"),
            Err(CliError::Missing {
                command: "create",
                what: "container id"
            })
        );
        assert_eq!(
            p("start a b"),
            Err(CliError::Extra {
                command: "start",
                arg: "b".into()
            })
        );
        assert_eq!(
            p("exec c1"),
            Err(CliError::Missing {
                command: "exec",
                what: "command"
            })
        );
        assert_eq!(
            p("exec -t c1 sh"),
            Err(CliError::UnknownFlag {
                command: "exec",
                flag: "-t".into()
            })
        );
        assert_eq!(p("kill c1 FROB"), Err(CliError::Signal("FROB".into())));
    }

    #[test]
    fn cgroup_join() {
        assert_eq!(p("state c1").unwrap().join, Join::SelfTasks);
        assert_eq!(
            p("--cgroup-join=parent state c1").unwrap().join,
            Join::ParentProcs
        );
        assert_eq!(
            p("--cgroup-join self --root /r state c1").unwrap().join,
            Join::SelfTasks
        );
        assert_eq!(
            p("--cgroup-join=other state c1"),
            Err(CliError::BadValue {
                flag: "--cgroup-join",
                value: "other".into()
            })
        );
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("9"), Ok(Signal::SIGKILL));
        assert_eq!(parse_signal("sigterm"), Ok(Signal::SIGTERM));
        assert_eq!(parse_signal("HUP"), Ok(Signal::SIGHUP));
        assert!(parse_signal("999").is_err());
    }
}
