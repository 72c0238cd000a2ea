//! minke: the command-line runtime. Thin: each command maps its flags to one library call and
//! the outcome to an exit status; errors go to the log (runc's formats) and stderr.

mod cli;
mod commands;
mod logging;
mod signals;

use std::path::PathBuf;

use clap::Parser;

use cli::{Cli, Command};

/// What every command needs from the global flags.
pub struct Ctx {
    pub root: PathBuf,
    pub logger: &'static logging::Logger,
}

impl Ctx {
    /// Fds the container init keeps until exec (the log file, so its logs reach it).
    pub fn keep_fds(&self) -> Vec<std::os::fd::RawFd> {
        self.logger.file_fd().into_iter().collect()
    }
}

fn version() -> String {
    format!(
        "minke version {}\ncommit: {}\nspec: {}\nlibseccomp: {}\n",
        env!("CARGO_PKG_VERSION"),
        env!("MINKE_COMMIT"),
        libcontainer::state::OCI_VERSION,
        libcontainer::seccomp::libseccomp_version(),
    )
}

/// `--log` and `--log-format` as given on a command line clap refused, so that the usage error
/// still reaches the log (containerd reads errors only from there).
fn log_flags_of(args: &[String]) -> (Option<PathBuf>, cli::LogFormat) {
    let mut log = None;
    let mut format = cli::LogFormat::Text;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (a.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next().cloned());
        match flag {
            "--log" => log = value().map(PathBuf::from),
            "--log-format" if value().as_deref() == Some("json") => {
                format = cli::LogFormat::Json;
            }
            _ => {}
        }
    }
    (log, format)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                std::process::exit(0);
            }
            // A usage error: stderr as clap words it, the log as runc would, exit status 1.
            let _ = e.print();
            let (log, format) = log_flags_of(&args);
            if let Some(path) = log {
                if let Ok(l) = logging::init(Some(&path), format, false) {
                    let first = e.to_string();
                    let msg = first.lines().next().unwrap_or("invalid command line");
                    l.write(log::Level::Error, msg.trim_start_matches("error: "));
                }
            }
            std::process::exit(1);
        }
    };
    if cli.version {
        print!("{}", version());
        std::process::exit(0);
    }
    let logger = match logging::init(cli.log.as_deref(), cli.log_format, cli.debug) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("opening log file: {e}");
            std::process::exit(1);
        }
    };
    let code = match dispatch(&cli, logger) {
        Ok(code) => code,
        Err(e) => {
            let msg = format!("{e:#}");
            logger.write(log::Level::Error, &msg);
            if logger.to_file() {
                eprintln!("{msg}");
            }
            // runc exits 255 when exec fails, whatever the reason (the process's own status
            // is returned when it ran).
            match cli.command {
                Some(Command::Exec(_)) => 255,
                _ => 1,
            }
        }
    };
    std::process::exit(code);
}

fn dispatch(cli: &Cli, logger: &'static logging::Logger) -> anyhow::Result<i32> {
    let Some(command) = &cli.command else {
        anyhow::bail!("no command given (see --help)");
    };
    if cli.systemd_cgroup {
        anyhow::bail!("--systemd-cgroup: the systemd cgroup driver is not supported yet (use the default cgroupfs driver)");
    }
    match cli.rootless.as_str() {
        "true" => anyhow::bail!("--rootless: rootless containers are not supported yet"),
        "false" | "auto" => {}
        other => anyhow::bail!("--rootless: invalid value {other:?} (want true, false or auto)"),
    }
    if !matches!(command, Command::Spec(_) | Command::Features) && !nix::unistd::geteuid().is_root()
    {
        anyhow::bail!("minke must be run as root (rootless containers are not supported yet)");
    }
    let root = if cli.root.is_absolute() {
        cli.root.clone()
    } else {
        std::env::current_dir()?.join(&cli.root)
    };
    // Commands that put a process into a container run from a read-only view of this binary,
    // so that the container cannot overwrite it through /proc/<pid>/exe (CVE-2019-5736).
    // Only when the container could reach it: otherwise the runtime being non-dumpable already
    // keeps /proc/<pid>/exe out of reach (see `selfexe::needed_for`).
    let bundle = match command {
        Command::Create(a) => Some(&a.bundle),
        Command::Run(a) => Some(&a.create.bundle),
        _ => None,
    };
    let protect = match command {
        Command::Exec(a) => {
            libcontainer::state::validate_id(&a.id).is_ok()
                && libcontainer::selfexe::needed_for_exec(&root.join(&a.id), &a.cap)
        }
        _ => bundle.is_some_and(|b| libcontainer::selfexe::needed_for_bundle(b)),
    };
    if protect {
        libcontainer::selfexe::ensure_protected(std::path::Path::new(
            libcontainer::selfexe::DEFAULT_EMPTY_LOWER,
        ))?;
    }
    let ctx = Ctx { root, logger };
    match command {
        Command::Create(a) => commands::create::run(&ctx, a),
        Command::Start(a) => commands::start::run(&ctx, a),
        Command::Run(a) => commands::run::run(&ctx, a),
        Command::State(a) => commands::state::run(&ctx, a),
        Command::Kill(a) => commands::kill::run(&ctx, a),
        Command::Delete(a) => commands::delete::run(&ctx, a),
        Command::List(a) => commands::list::run(&ctx, a),
        Command::Spec(a) => commands::spec::run(a),
        Command::Update(a) => commands::update::run(&ctx, a),
        Command::Pause(a) => commands::pause::run(&ctx, a),
        Command::Resume(a) => commands::resume::run(&ctx, a),
        Command::Ps(a) => commands::ps::run(&ctx, a),
        Command::Events(a) => commands::events::run(&ctx, a),
        Command::Exec(a) => commands::exec::run(&ctx, a),
        Command::Features => commands::features::run(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_flags_are_found_on_a_refused_command_line() {
        let args: Vec<String> = [
            "minke",
            "--root",
            "/r",
            "--log",
            "/l.json",
            "--log-format=json",
            "bogus",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (log, format) = log_flags_of(&args);
        assert_eq!(log, Some(PathBuf::from("/l.json")));
        assert_eq!(format, cli::LogFormat::Json);
        let (log, format) = log_flags_of(&["minke".to_string(), "bogus".to_string()]);
        assert_eq!((log, format), (None, cli::LogFormat::Text));
    }
}
