//! The runtime as the clients see it: a small shell script that appends its caller and argv to a
//! log, one line per call, then execs the real runtime with the same argv (so fds, environment
//! and pid are the runtime's own). The logs are how docs/integration.md knows the exact command
//! lines containerd's shim and podman/conmon issue.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};

/// The wrapper script for `real`, logging to `log`.
pub fn script(real: &Path, log: &Path) -> String {
    // One printf per call: the line is written with a single write(2) on an O_APPEND file, so
    // lines of concurrent calls (a shim's exec and kill) do not interleave.
    format!(
        r#"#!/bin/sh
# minke client lane: log the caller and argv, then exec the real runtime.
caller=unknown
read -r caller 2>/dev/null < /proc/$PPID/comm
line="$caller	"
for a in "$@"; do
  case $a in
    ''|*[!A-Za-z0-9_./:=,@%+-]*) a="'$(printf '%s' "$a" | sed "s/'/'\\\\''/g")'" ;;
  esac
  line="$line $a"
done
printf '%s\n' "$line" >> {log}
exec {real} "$@"
"#,
        log = sh_quote(&log.to_string_lossy()),
        real = sh_quote(&real.to_string_lossy()),
    )
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Writes the wrapper at `path` (mode 0755).
pub fn install(path: &Path, real: &Path, log: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(path, script(real, log))
        .with_context(|| format!("writing the wrapper {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// One logged call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The caller's command name (`containerd-shim`, `conmon`, `podman`).
    pub caller: String,
    /// The arguments, as logged (shell-quoted where needed).
    pub args: Vec<String>,
}

impl Call {
    /// The runtime subcommand: the first argument that is neither a global flag nor its value.
    pub fn subcommand(&self) -> Option<&str> {
        let mut it = self.args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--root" | "--log" | "--log-format" | "--criu" | "--rootless" => {
                    it.next();
                }
                s if s.starts_with('-') => {}
                s => return Some(s),
            }
        }
        None
    }
}

impl Call {
    /// The value of a global flag given as `--flag value` or `--flag=value`.
    pub fn flag(&self, name: &str) -> Option<&str> {
        let eq = format!("{name}=");
        let mut it = self.args.iter();
        while let Some(a) = it.next() {
            if a == name {
                return it.next().map(String::as_str);
            }
            if let Some(v) = a.strip_prefix(&eq) {
                return Some(v);
            }
        }
        None
    }

    /// The container id of a `create`: its last argument.
    pub fn created_id(&self) -> Option<&str> {
        (self.subcommand() == Some("create"))
            .then(|| self.args.last().map(String::as_str))
            .flatten()
    }
}

/// Parses a wrapper log.
pub fn parse_log(text: &str) -> Vec<Call> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (caller, rest) = l.split_once('\t').unwrap_or(("unknown", l));
            Call {
                caller: caller.to_string(),
                args: split_quoted(rest.trim()),
            }
        })
        .collect()
}

/// Splits a line of words quoted as [`script`] quotes them.
fn split_quoted(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    cur.push(q);
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn the_wrapper_logs_caller_and_argv_then_execs_the_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("argv.log");
        let wrapper = dir.path().join("bin/fake-runtime");
        install(&wrapper, Path::new("/bin/echo"), &log).unwrap();
        let out = Command::new(&wrapper)
            .args(["--root", "/run/x", "create", "--bundle", "/b c", "it's", ""])
            .output()
            .unwrap();
        assert!(out.status.success());
        // The real runtime got the argv unchanged.
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "--root /run/x create --bundle /b c it's \n"
        );
        let calls = parse_log(&fs::read_to_string(&log).unwrap());
        assert_eq!(calls.len(), 1);
        assert_eq!(
            calls[0].args,
            ["--root", "/run/x", "create", "--bundle", "/b c", "it's", ""]
        );
        assert_eq!(calls[0].subcommand(), Some("create"));
        // The caller is this test binary's command name.
        assert!(!calls[0].caller.is_empty());
    }

    #[test]
    fn subcommand_skips_global_flags_and_their_values() {
        let call = |args: &[&str]| Call {
            caller: "x".into(),
            args: args.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(
            call(&[
                "--root",
                "/r",
                "--log",
                "/l.json",
                "--log-format",
                "json",
                "kill",
                "id",
                "9"
            ])
            .subcommand(),
            Some("kill")
        );
        assert_eq!(
            call(&["--systemd-cgroup", "delete", "--force", "x"]).subcommand(),
            Some("delete")
        );
        assert_eq!(call(&["--version"]).subcommand(), None);
    }

    #[test]
    fn create_calls_name_their_root_and_id() {
        let calls = parse_log(
            "containerd-shim\t --root /run/containerd/runc/ns --log /b/log.json --log-format json create --bundle /b --pid-file /b/init.pid c1\n\
             conmon\t --log-format=json --log /x create --bundle /b --pid-file /p abc\n\
             podman\t start abc\n",
        );
        assert_eq!(calls[0].created_id(), Some("c1"));
        assert_eq!(calls[0].flag("--root"), Some("/run/containerd/runc/ns"));
        assert_eq!(calls[1].created_id(), Some("abc"));
        assert_eq!(calls[1].flag("--root"), None);
        assert_eq!(calls[1].flag("--log-format"), Some("json"));
        assert_eq!(calls[2].created_id(), None);
    }

    #[test]
    fn split_quoted_undoes_the_wrappers_quoting() {
        assert_eq!(
            split_quoted(r"a 'b c' 'it'\''s' '' d"),
            ["a", "b c", "it's", "", "d"]
        );
    }
}
