//! Runs the selected tests and prints one line per test, then exactly
//! `N passed, M failed, K skipped`.

use super::bundle::prepare_template;
use super::cgroups;
use super::expected::Expected;
use super::host::{CgroupMode, Host};
use super::registry::Test;
use super::requirements::unmet;
use super::Ctx;
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

pub struct Options {
    pub runtime: PathBuf,
    pub probe: PathBuf,
    pub busybox: PathBuf,
    pub expected: Expected,
    pub tests: Vec<&'static Test>,
    pub jobs: usize,
    pub timeout: Duration,
    pub work_dir: PathBuf,
    pub keep: bool,
    pub spec_dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail(String),
    Skip(String),
}

/// Whether an ELF file asks for a dynamic loader (has PT_INTERP).
pub fn is_dynamic_elf(bytes: &[u8]) -> Result<bool> {
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 {
        bail!("not a 64-bit ELF file");
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into()?) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    for i in 0..phnum {
        let o = phoff + i * phentsize;
        if o + 4 > bytes.len() {
            bail!("truncated program headers");
        }
        if u32::from_le_bytes(bytes[o..o + 4].try_into()?) == 3 {
            return Ok(true);
        }
    }
    Ok(false)
}

fn check_static(p: &Path, what: &str, hint: &str) -> Result<()> {
    let bytes = std::fs::read(p).with_context(|| format!("reading the {what} {}", p.display()))?;
    if is_dynamic_elf(&bytes).with_context(|| format!("{}", p.display()))? {
        bail!("the {what} {} is dynamically linked; {hint}", p.display());
    }
    Ok(())
}

/// One line, at most 1000 characters.
fn one_line(s: &str) -> String {
    let l = s
        .split('\n')
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ");
    if l.chars().count() > 1000 {
        format!("{}...", l.chars().take(1000).collect::<String>())
    } else {
        l
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

/// Runs everything; returns whether the run is clean (no unexpected failure, no unexpected pass).
pub fn run(opts: Options) -> Result<bool> {
    check_static(
        &opts.probe,
        "probe",
        "build it with `make probe` (cargo rustc --bin probe -- -C target-feature=+crt-static)",
    )?;
    check_static(&opts.busybox, "busybox", "install busybox-static")?;
    let mut host = Host::gather(&opts.busybox);
    let run_tag = format!("runtime-tests-{}", std::process::id());
    host.scan_v1_child_files(&format!("{run_tag}-scan"));
    let v2_host = host.cgroup_mode == CgroupMode::V2;
    std::fs::create_dir_all(&opts.work_dir)?;
    let work = opts.work_dir.join(&run_tag);
    std::fs::create_dir_all(&work)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&opts.work_dir, std::fs::Permissions::from_mode(0o755)).ok();
        std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o755))?;
    }
    let template = prepare_template(&work, &opts.busybox, &opts.probe)?;
    let cgroup_base = format!("/{run_tag}");

    let n = opts.tests.len();
    let results: Mutex<Vec<Option<Status>>> = Mutex::new(vec![None; n]);
    let next = AtomicUsize::new(0);
    let printed = Mutex::new(0usize);
    let stats = Mutex::new((0usize, 0usize, 0usize, 0usize, Vec::<String>::new()));
    let prev_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));

    let print_ready = || {
        let mut p = printed.lock().unwrap_or_else(|e| e.into_inner());
        let res = results.lock().unwrap_or_else(|e| e.into_inner());
        let mut st = stats.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = std::io::stdout().lock();
        while *p < n {
            let Some(s) = &res[*p] else { break };
            let t = opts.tests[*p];
            let exp = opts.expected.reason(t.id, v2_host);
            let line = match (s, exp) {
                (Status::Pass, None) => {
                    st.0 += 1;
                    format!("ok {}", t.id)
                }
                (Status::Pass, Some(why)) => {
                    st.0 += 1;
                    st.4.push(t.id.to_string());
                    format!(
                        "ok {} (unexpectedly passed: listed as expected failure: {why})",
                        t.id
                    )
                }
                (Status::Fail(m), None) => {
                    st.1 += 1;
                    format!("FAIL {}: {}", t.id, one_line(m))
                }
                (Status::Fail(m), Some(why)) => {
                    st.1 += 1;
                    st.3 += 1;
                    format!("FAIL {}: {} (expected: {why})", t.id, one_line(m))
                }
                (Status::Skip(r), _) => {
                    st.2 += 1;
                    format!("skip {}: {}", t.id, one_line(r))
                }
            };
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
            *p += 1;
        }
    };

    let worker = || loop {
        let i = next.fetch_add(1, Ordering::SeqCst);
        if i >= n {
            break;
        }
        let t = opts.tests[i];
        let status = match unmet(t.requires, &host) {
            Some(reason) => Status::Skip(reason),
            None => {
                let dir = work.join(format!("{:03}-{}", i, t.id));
                let prefix = format!("rt{}-{}", i, t.id.replace(['.', '_'], "-"));
                match Ctx::new(
                    &host,
                    &opts.runtime,
                    dir.clone(),
                    prefix,
                    cgroup_base.clone(),
                    opts.timeout,
                    &template,
                    &opts.spec_dir,
                ) {
                    Err(e) => Status::Fail(format!("setting up: {e:#}")),
                    Ok(ctx) => {
                        let r = std::panic::catch_unwind(AssertUnwindSafe(|| (t.run)(&ctx)));
                        drop(ctx);
                        if !opts.keep {
                            let _ = std::fs::remove_dir_all(&dir);
                        }
                        match r {
                            Ok(Ok(())) => Status::Pass,
                            Ok(Err(e)) => Status::Fail(format!("{e:#}")),
                            Err(p) => Status::Fail(format!("panicked: {}", panic_message(p))),
                        }
                    }
                }
            }
        };
        results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(status);
        print_ready();
    };
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.max(1) {
            s.spawn(worker);
        }
    });
    std::panic::set_hook(prev_hook);

    for d in cgroups::dirs_for_path(&host, &cgroup_base) {
        cgroups::remove_tree(&d);
    }
    if !opts.keep {
        let _ = std::fs::remove_dir_all(&work);
    }
    let (passed, failed, skipped, expected_failed, unexpected_pass) =
        stats.into_inner().unwrap_or_else(|e| e.into_inner());
    let ran: std::collections::BTreeSet<&str> = opts.tests.iter().map(|t| t.id).collect();
    let all_ids: std::collections::BTreeSet<&str> =
        super::registry::all().iter().map(|t| t.id).collect();
    let unknown: Vec<&String> = opts
        .expected
        .entries
        .keys()
        .filter(|k| !all_ids.contains(k.as_str()))
        .collect();
    let mut out = std::io::stdout().lock();
    for id in &unexpected_pass {
        writeln!(
            out,
            "unexpectedly passed: {id} (remove it from the expected file)"
        )?;
    }
    for id in &unknown {
        writeln!(out, "expected file names an unknown test: {id}")?;
    }
    if expected_failed > 0 {
        if let Some(p) = &opts.expected.path {
            writeln!(
                out,
                "({expected_failed} of the {failed} failures are expected, see {})",
                p.display()
            )?;
        }
    }
    let _ = ran;
    writeln!(out, "{passed} passed, {failed} failed, {skipped} skipped")?;
    Ok(failed == expected_failed && unexpected_pass.is_empty() && unknown.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_static_from_dynamic() {
        let exe = std::fs::read("/bin/sh").unwrap_or_default();
        if !exe.is_empty() {
            // Debian's /bin/sh is dynamic
            assert!(is_dynamic_elf(&exe).unwrap());
        }
        assert!(is_dynamic_elf(b"not elf").is_err());
    }

    #[test]
    fn one_line_joins() {
        assert_eq!(one_line("a\nb\n\nc"), "a | b | c");
    }
}
