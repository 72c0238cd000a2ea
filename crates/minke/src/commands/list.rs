use std::io::Write;

use anyhow::Result;
use libcontainer::Runtime;

use crate::cli::{ListArgs, ListFormat};
use crate::Ctx;

pub fn run(ctx: &Ctx, a: &ListArgs) -> Result<i32> {
    let list = Runtime::new(&ctx.root).list()?;
    let mut out = std::io::stdout().lock();
    if a.quiet {
        for s in &list {
            writeln!(out, "{}", s.id)?;
        }
        return Ok(0);
    }
    match a.format {
        ListFormat::Json => {
            if list.is_empty() {
                writeln!(out, "null")?;
            } else {
                writeln!(out, "{}", serde_json::to_string(&list)?)?;
            }
        }
        ListFormat::Table => {
            let mut rows = vec![[
                "ID".to_string(),
                "PID".into(),
                "STATUS".into(),
                "BUNDLE".into(),
                "CREATED".into(),
                "OWNER".into(),
            ]];
            for s in &list {
                rows.push([
                    s.id.clone(),
                    s.pid.to_string(),
                    s.status.to_string(),
                    s.bundle.display().to_string(),
                    s.created.clone(),
                    s.owner.clone(),
                ]);
            }
            // Columns as Go's tabwriter with minwidth 12 and padding 3 lays them out.
            let mut widths = [0usize; 6];
            for r in &rows {
                for (i, c) in r.iter().enumerate() {
                    widths[i] = widths[i].max(c.len() + 3).max(12);
                }
            }
            for r in &rows {
                let mut line = String::new();
                for (i, c) in r.iter().enumerate() {
                    if i + 1 == r.len() {
                        line.push_str(c);
                    } else {
                        line.push_str(&format!("{c:<w$}", w = widths[i]));
                    }
                }
                writeln!(out, "{line}")?;
            }
        }
    }
    Ok(0)
}
