//! `ps`: the container's pids as JSON (what containerd reads), or the host's `ps` output
//! (default `-ef`) cut down to the header and the container's processes, as runc does.

use std::io::Write;
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};
use libcontainer::Runtime;

use crate::cli::{ListFormat, PsArgs};
use crate::Ctx;

pub fn run(ctx: &Ctx, a: &PsArgs) -> Result<i32> {
    let pids = Runtime::new(&ctx.root).pids(&a.id)?;
    let mut out = std::io::stdout().lock();
    if a.format == ListFormat::Json {
        if !a.ps_args.is_empty() {
            bail!("ps options are for the table format only");
        }
        // runc encodes an empty list as null.
        if pids.is_empty() {
            writeln!(out, "null")?;
        } else {
            writeln!(out, "{}", serde_json::to_string(&pids)?)?;
        }
        return Ok(0);
    }
    let args: Vec<&str> = if a.ps_args.is_empty() {
        vec!["-ef"]
    } else {
        a.ps_args.iter().map(String::as_str).collect()
    };
    let output = Command::new("ps")
        .args(&args)
        .output()
        .context("running ps")?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    if !output.status.success() {
        bail!(
            "ps {}: {}: {}",
            args.join(" "),
            output.status,
            text.trim_end()
        );
    }
    for line in filter(&text, &pids)? {
        writeln!(out, "{line}")?;
    }
    Ok(0)
}

/// The header of `ps` output and the lines whose PID column is one of `pids` (pure).
fn filter<'a>(text: &'a str, pids: &[i32]) -> Result<Vec<&'a str>> {
    let mut lines = text.split('\n');
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|t| t == "PID")
        .ok_or_else(|| anyhow!("couldn't find PID field in ps output"))?;
    let mut keep = vec![header];
    for line in lines.filter(|l| !l.is_empty()) {
        let field = line.split_whitespace().nth(col).unwrap_or_default();
        let pid: i32 = field
            .parse()
            .with_context(|| format!("unable to parse pid {field:?} in {line:?}"))?;
        if pids.contains(&pid) {
            keep.push(line);
        }
    }
    Ok(keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EF: &str = "UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 00:10 ?        00:00:01 /sbin/init
root       26177       1  0 00:45 ?        00:00:00 sleep 600
root       26180   26177  0 00:45 ?        00:00:00 sh -c x
";

    #[test]
    fn keeps_the_header_and_the_containers_lines() {
        assert_eq!(
            filter(EF, &[26177, 26180]).unwrap(),
            vec![
                "UID          PID    PPID  C STIME TTY          TIME CMD",
                "root       26177       1  0 00:45 ?        00:00:00 sleep 600",
                "root       26180   26177  0 00:45 ?        00:00:00 sh -c x",
            ]
        );
        assert_eq!(filter(EF, &[]).unwrap().len(), 1);
        // PID in another column (ps -o comm,pid).
        assert_eq!(
            filter("COMMAND PID\nsleep 7\nsh 8\n", &[8]).unwrap(),
            vec!["COMMAND PID", "sh 8"]
        );
    }

    #[test]
    fn errors_like_runc() {
        assert_eq!(
            filter("UID CMD\nroot x\n", &[1]).unwrap_err().to_string(),
            "couldn't find PID field in ps output"
        );
        assert!(filter("PID CMD\nabc x\n", &[1])
            .unwrap_err()
            .to_string()
            .starts_with("unable to parse pid"));
    }
}
