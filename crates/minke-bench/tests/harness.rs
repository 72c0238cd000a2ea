//! Root integration tests of the harness: a short real run over every runtime this host has,
//! the missing-minke report, and the bundle against `runc spec`. They check that measurements
//! happen and clean up; they never assert a time.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use minke_bench::bundle;
use serde_json::Value;

const BENCH: &str = env!("CARGO_BIN_EXE_minke-bench");
const FLOOR: &str = env!("CARGO_BIN_EXE_minke-floor");

fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the harness creates containers: run these tests as root"
    );
}

fn bench(tmp: &Path, extra: &[&str]) -> (Output, Value) {
    let json = tmp.join("out.json");
    let out = Command::new(BENCH)
        .args(["--floor", FLOOR, "--json"])
        .arg(&json)
        .arg("--workdir")
        .arg(tmp.join("work"))
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        !tmp.join("work").exists(),
        "the scratch directory was not removed"
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    (out, report)
}

/// Ids the run used start with `mb<pid>-`; none may be left in any cgroup hierarchy.
fn assert_no_leftover_cgroups(stderr: &str) {
    let scratch = stderr
        .split("scratch ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap();
    let pid = scratch.rsplit('.').next().unwrap();
    let prefix = format!("mb{pid}-");
    let mut stack = vec![std::path::PathBuf::from("/sys/fs/cgroup")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                let name = entry.file_name().to_string_lossy().into_owned();
                assert!(!name.starts_with(&prefix), "{} left behind", path.display());
                if path.components().count() < 9 {
                    stack.push(path);
                }
            }
        }
    }
}

#[test]
fn a_short_run_measures_every_available_runtime() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let (out, report) = bench(
        tmp.path(),
        &[
            "--rounds",
            "2",
            "--warmup",
            "0",
            "--batch",
            "3",
            "--runtimes",
            "runc,crun,crun-ns,floor,floor-procs",
            "--rows",
            "overhead,lifecycle,run,seccomp,exec,batch",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ran: Vec<&str> = report["runtimes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(ran.contains(&"floor"), "{report}");
    for row in report["rows"].as_array().unwrap() {
        for cell in row["cells"].as_array().unwrap() {
            assert!(
                cell["error"].is_null(),
                "{} / {}: {}",
                row["id"],
                cell["runtime"],
                cell["error"]
            );
            assert_eq!(
                cell["samples"].as_array().unwrap().len(),
                2,
                "{} / {}",
                row["id"],
                cell["runtime"]
            );
        }
    }
    let ids: Vec<&str> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for id in [
        "overhead",
        "lifecycle",
        "cpu",
        "faults",
        "rss_create",
        "run",
        "run_seccomp",
        "exec",
        "state",
        "list",
    ] {
        assert!(ids.contains(&id), "row {id} missing: {ids:?}");
    }
    let batches = report["batches"].as_array().unwrap();
    assert_eq!(batches.len(), ran.len());
    for b in batches {
        assert!(b["error"].is_null(), "{b}");
        assert_eq!(b["create_start_ms"].as_array().unwrap().len(), 3);
    }
    assert!(
        stdout.contains("lifecycle (create+start+wait+delete)"),
        "{stdout}"
    );
    assert!(stdout.contains("binary size"), "{stdout}");
    assert_no_leftover_cgroups(&stderr);
}

#[test]
fn a_missing_minke_is_reported_not_fatal() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("m.json");
    let out = Command::new(BENCH)
        .args([
            "--floor",
            FLOOR,
            "--rounds",
            "1",
            "--warmup",
            "0",
            "--runtimes",
            "floor,minke",
            "--rows",
            "run",
        ])
        .arg("--json")
        .arg(&json)
        .env("MINKE", tmp.path().join("no-minke-here"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("minke       NOT RUN:"), "{stdout}");
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["unavailable"][0]["name"], "minke");
    let cells = report["rows"][0]["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 1);
    assert_eq!(cells[0]["runtime"], "floor");
}

#[test]
fn the_bundle_config_is_what_runc_spec_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new("runc")
        .arg("spec")
        .current_dir(tmp.path())
        .output()
        .expect("runc must be installed");
    assert!(out.status.success(), "{out:?}");
    let written: Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(written, bundle::runc_spec_config());
}
