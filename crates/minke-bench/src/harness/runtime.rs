//! The runtimes under test: where their binaries are, their private state roots, versions.

use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use anyhow::{bail, Result};
use serde::Serialize;

/// A runtime that can be run.
#[derive(Clone, Debug, Serialize)]
pub struct Runtime {
    /// Short name: runc, crun, floor, minke.
    pub name: String,
    /// What is executed (for crun, possibly its wrapper).
    pub program: PathBuf,
    /// The runtime's own binary, whose size is reported.
    pub binary: PathBuf,
    /// Private `--root` state directory.
    pub root: PathBuf,
    /// First line of `--version`.
    pub version: String,
    /// Size of `binary` in bytes.
    pub binary_bytes: u64,
    /// Anything the reader must know (e.g. a wrapper's cost is included).
    pub note: Option<String>,
    /// Global options given before `--root` (e.g. the floor's `--cgroup-join=parent`).
    pub global_args: Vec<String>,
    /// Mount namespace the runtime's commands are started in (crun-ns on a hybrid host).
    #[serde(skip)]
    pub mount_ns: Option<Arc<OwnedFd>>,
}

/// A runtime that was asked for but cannot run.
#[derive(Clone, Debug, Serialize)]
pub struct Unavailable {
    /// Short name.
    pub name: String,
    /// Why.
    pub reason: String,
}

impl Runtime {
    /// A command running this runtime with `--root ROOT` and `args`; stdin is /dev/null.
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(&self.program);
        minke_bench::sys::spawn_in(&mut cmd, self.mount_ns.clone());
        cmd.args(&self.global_args)
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null());
        cmd
    }
}

/// Known runtime names, in table order.
pub const KNOWN: &[&str] = &["runc", "crun", "crun-ns", "floor", "floor-procs", "minke"];

/// The note of `floor-procs`.
pub const FLOOR_PROCS_NOTE: &str =
    "the floor with --cgroup-join=parent: the parent writes the init's \
pid to each v1 cgroup.procs, as runc and crun do, instead of the init writing 0 to each v1 tasks";

/// Where each runtime is looked for.
#[derive(Clone, Debug)]
pub struct Paths {
    /// runc.
    pub runc: PathBuf,
    /// crun or its wrapper, if one was found.
    pub crun: Option<PathBuf>,
    /// The crun binary.
    pub crun_binary: PathBuf,
    /// The mount namespace crun-ns runs in (on a hybrid host: the cgroup2 mount hidden), and
    /// what to say about it.
    pub crun_ns: (Option<Arc<OwnedFd>>, String),
    /// The floor.
    pub floor: PathBuf,
    /// minke, and whether it was given explicitly.
    pub minke: PathBuf,
    /// minke was given with --minke or MINKE.
    pub minke_explicit: bool,
}

/// The crun wrapper or binary to use when none is given: the first that exists of the shared
/// tools beside the workspace, the shared tools on the dev machines, Debian's crun.
pub fn default_crun(workspace: &Path) -> Option<PathBuf> {
    [
        workspace.join("../shared/tools/crun-v1"),
        PathBuf::from("/work/shared/tools/crun-v1"),
        PathBuf::from("/usr/bin/crun"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

fn first_line_of_version(program: &Path) -> String {
    let out = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string(),
        Err(_) => String::new(),
    }
}

/// Sorts `names` into runtimes ready to run (in [`KNOWN`] order) and unavailable ones;
/// `state_base` gets one private root per runtime. Unknown or repeated names are errors.
pub fn resolve(
    names: &[String],
    paths: &Paths,
    state_base: &Path,
) -> Result<(Vec<Runtime>, Vec<Unavailable>)> {
    for (i, name) in names.iter().enumerate() {
        if !KNOWN.contains(&name.as_str()) {
            bail!(
                "--runtimes: unknown runtime {name:?} (known: {})",
                KNOWN.join(", ")
            );
        }
        if names[..i].contains(name) {
            bail!("--runtimes: {name} given twice");
        }
    }
    let mut ready = Vec::new();
    let mut missing = Vec::new();
    for name in KNOWN.iter().filter(|k| names.iter().any(|n| n == *k)) {
        let (program, binary, note) = match *name {
            "runc" => (Some(paths.runc.clone()), paths.runc.clone(), None),
            "crun" => {
                let note = paths
                    .crun
                    .as_ref()
                    .filter(|p| p.file_name() != Some(OsStr::new("crun")))
                    .map(|p| {
                        format!(
                            "run through {} (its exec of unshare and sh is included)",
                            p.display()
                        )
                    });
                (paths.crun.clone(), paths.crun_binary.clone(), note)
            }
            "crun-ns" => (
                Some(paths.crun_binary.clone()),
                paths.crun_binary.clone(),
                Some(paths.crun_ns.1.clone()),
            ),
            "floor" => (Some(paths.floor.clone()), paths.floor.clone(), None),
            "floor-procs" => (
                Some(paths.floor.clone()),
                paths.floor.clone(),
                Some(FLOOR_PROCS_NOTE.to_string()),
            ),
            _ => (Some(paths.minke.clone()), paths.minke.clone(), None),
        };
        let Some(program) = program.clone().filter(|p| p.is_file()) else {
            let reason = match *name {
                "minke" if !paths.minke_explicit => {
                    format!(
                        "no minke binary at {} (build it or set MINKE=path)",
                        paths.minke.display()
                    )
                }
                "crun" => "no crun found (give --crun)".to_string(),
                _ => format!("{} not found", program.unwrap_or_default().display()),
            };
            missing.push(Unavailable {
                name: name.to_string(),
                reason,
            });
            continue;
        };
        let binary_bytes = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);
        ready.push(Runtime {
            name: name.to_string(),
            version: first_line_of_version(&program),
            program,
            binary,
            root: state_base.join(name),
            binary_bytes,
            note,
            global_args: if *name == "floor-procs" {
                vec!["--cgroup-join=parent".to_string()]
            } else {
                Vec::new()
            },
            mount_ns: if *name == "crun-ns" {
                paths.crun_ns.0.clone()
            } else {
                None
            },
        });
    }
    Ok((ready, missing))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(tmp: &Path) -> Paths {
        Paths {
            runc: PathBuf::from("/bin/true"),
            crun: None,
            crun_binary: PathBuf::from("/usr/bin/crun"),
            crun_ns: (None, "crun itself".to_string()),
            floor: PathBuf::from("/bin/true"),
            minke: tmp.join("minke"),
            minke_explicit: false,
        }
    }

    #[test]
    fn missing_minke_is_reported_not_fatal() {
        let tmp = tempfile::tempdir().unwrap();
        let names: Vec<String> = ["minke", "floor", "runc", "crun", "floor-procs"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (ready, missing) = resolve(&names, &paths(tmp.path()), Path::new("/state")).unwrap();
        let ready_names: Vec<_> = ready.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(ready_names, ["runc", "floor", "floor-procs"]);
        let cmd = ready[2].command(["state", "c1"]);
        let args: Vec<_> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args[0], "--cgroup-join=parent");
        assert_eq!(ready[0].root, Path::new("/state/runc"));
        assert!(ready[0].binary_bytes > 0);
        let missing_names: Vec<_> = missing.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(missing_names, ["crun", "minke"]);
        assert!(
            missing[1].reason.contains("MINKE=path"),
            "{}",
            missing[1].reason
        );
    }

    #[test]
    fn unknown_and_repeated_names_are_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let p = paths(tmp.path());
        assert!(resolve(&["youki".to_string()], &p, tmp.path()).is_err());
        assert!(resolve(&["runc".to_string(), "runc".to_string()], &p, tmp.path()).is_err());
    }

    #[test]
    fn a_wrapper_gets_a_note() {
        let tmp = tempfile::tempdir().unwrap();
        let mut p = paths(tmp.path());
        p.crun = Some(PathBuf::from("/bin/true"));
        let (ready, _) = resolve(&["crun".to_string()], &p, tmp.path()).unwrap();
        assert!(ready[0].note.as_deref().unwrap().contains("/bin/true"));
    }

    #[test]
    fn commands_start_with_the_private_root() {
        let tmp = tempfile::tempdir().unwrap();
        let (ready, _) =
            resolve(&["runc".to_string()], &paths(tmp.path()), Path::new("/s")).unwrap();
        let cmd = ready[0].command(["state", "c1"]);
        let args: Vec<_> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args, ["--root", "/s/runc", "state", "c1"]);
    }
}
