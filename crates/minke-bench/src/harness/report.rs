//! Results: rows of samples per runtime, their summaries and ratios, the batch results; the
//! table printed to stdout and the JSON saved for tracking. Formatting is pure.

use std::fmt::Write as _;

use minke_bench::stats::{self, Summary};
use serde::Serialize;

use super::runtime::{Runtime, Unavailable};

/// Unit of a row's samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Milliseconds.
    Ms,
    /// A count.
    Count,
    /// Mebibytes.
    Mib,
}

impl Unit {
    fn format(self, value: f64) -> String {
        match self {
            Unit::Ms if value < 10.0 => format!("{value:.2} ms"),
            Unit::Ms => format!("{value:.1} ms"),
            Unit::Count => format!("{value:.0}"),
            Unit::Mib => format!("{value:.2} MiB"),
        }
    }
}

/// One runtime's samples in a row.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Cell {
    /// Runtime name.
    pub runtime: String,
    /// Samples, in the order measured.
    pub samples: Vec<f64>,
    /// Order statistics of the samples.
    pub summary: Option<Summary>,
    /// median / crun's median (crun as configured, possibly through a wrapper).
    pub x_crun: Option<f64>,
    /// median / crun-ns's median (crun itself, without a wrapper).
    pub x_crun_ns: Option<f64>,
    /// median / the floor's median.
    pub x_floor: Option<f64>,
    /// Why the runtime stopped being measured in this row (first failure).
    pub error: Option<String>,
}

/// A row of the table.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// Stable id for tracking (JSON).
    pub id: String,
    /// What the row measures, for the table.
    pub title: String,
    /// Unit.
    pub unit: Unit,
    /// One cell per runtime that ran, in table order.
    pub cells: Vec<Cell>,
}

impl Row {
    /// An empty row for `runtimes`.
    pub fn new(id: &str, title: &str, unit: Unit, runtimes: &[Runtime]) -> Row {
        Row {
            id: id.to_string(),
            title: title.to_string(),
            unit,
            cells: runtimes
                .iter()
                .map(|r| Cell {
                    runtime: r.name.clone(),
                    ..Cell::default()
                })
                .collect(),
        }
    }

    /// The cell of `runtime`.
    pub fn cell(&mut self, runtime: &str) -> &mut Cell {
        self.cells
            .iter_mut()
            .find(|c| c.runtime == runtime)
            .expect("a cell per runtime")
    }

    /// Computes summaries and ratios from the samples.
    pub fn finish(&mut self) {
        for c in &mut self.cells {
            c.summary = stats::summarize(&c.samples);
        }
        let median_of = |name: &str, cells: &[Cell]| {
            cells
                .iter()
                .find(|c| c.runtime == name)
                .and_then(|c| c.summary)
                .map(|s| s.median)
        };
        let crun = median_of("crun", &self.cells);
        let crun_ns = median_of("crun-ns", &self.cells);
        let floor = median_of("floor", &self.cells);
        for c in &mut self.cells {
            let m = c.summary.map(|s| s.median);
            c.x_crun = m.zip(crun).and_then(|(m, r)| stats::ratio(m, r));
            c.x_crun_ns = m.zip(crun_ns).and_then(|(m, r)| stats::ratio(m, r));
            c.x_floor = m.zip(floor).and_then(|(m, r)| stats::ratio(m, r));
        }
    }
}

/// One batch of N containers of one runtime.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Batch {
    /// Runtime name.
    pub runtime: String,
    /// Containers.
    pub n: usize,
    /// create + start of each container, in order, ms.
    pub create_start_ms: Vec<f64>,
    /// Sum of create + start of each container, ms.
    pub create_start_total_ms: f64,
    /// Median create + start of the first 10, ms.
    pub first10_median_ms: Option<f64>,
    /// Median create + start of the last 10, ms.
    pub last10_median_ms: Option<f64>,
    /// last10 / first10.
    pub growth: Option<f64>,
    /// `list` with all N running, ms (median of 3).
    pub list_ms: Option<f64>,
    /// Sum of kill + wait + delete of each container, ms.
    pub delete_total_ms: f64,
    /// First failure, if any.
    pub error: Option<String>,
}

impl Batch {
    /// Fills the derived fields from `create_start_ms`.
    pub fn finish(&mut self) {
        let s = &self.create_start_ms;
        self.create_start_total_ms = s.iter().sum();
        let k = s.len().min(10);
        self.first10_median_ms = stats::median(&s[..k]);
        self.last10_median_ms = stats::median(&s[s.len() - k..]);
        self.growth = self
            .last10_median_ms
            .zip(self.first10_median_ms)
            .and_then(|(l, f)| stats::ratio(l, f));
    }
}

/// The host, as measured.
#[derive(Clone, Debug, Serialize)]
pub struct Host {
    /// `uname -r`.
    pub kernel: String,
    /// CPUs available.
    pub cpus: usize,
    /// v1, hybrid or v2.
    pub cgroups: String,
    /// /proc/loadavg before the run.
    pub load_before: String,
    /// /proc/loadavg after the run.
    pub load_after: String,
}

/// Settings of the run.
#[derive(Clone, Debug, Serialize)]
pub struct Settings {
    /// Measured rounds per row.
    pub rounds: usize,
    /// Unrecorded rounds per group.
    pub warmup: usize,
    /// Seed of the shuffles.
    pub seed: u64,
    /// Exit detection.
    pub wait: super::cli::WaitMode,
    /// Pause of the isolated rows, ms.
    pub pause_ms: u64,
    /// Batch size.
    pub batch: usize,
    /// Groups run.
    pub groups: Vec<super::cli::Group>,
}

/// Everything a run produced.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Format version of this JSON.
    pub schema: u32,
    /// Unix time at the start.
    pub started_unix: u64,
    /// Seconds the run took.
    pub duration_s: f64,
    /// Host.
    pub host: Host,
    /// Settings.
    pub settings: Settings,
    /// Runtimes that ran.
    pub runtimes: Vec<Runtime>,
    /// Runtimes asked for that could not run.
    pub unavailable: Vec<Unavailable>,
    /// Rows.
    pub rows: Vec<Row>,
    /// Batches.
    pub batches: Vec<Batch>,
    /// Whether the run was interrupted (then rows hold what was measured so far).
    pub interrupted: bool,
}

fn ratio_text(r: Option<f64>) -> String {
    r.map_or_else(|| "-".to_string(), |r| format!("{r:.2}"))
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Merges failures with the same runtime and message (one failure ends a runtime's
/// measurements in every row of its group): (rows joined, runtime, message), in order.
fn group_errors(errors: &[(String, String, String)]) -> Vec<(String, String, String)> {
    let mut out: Vec<(Vec<String>, String, String)> = Vec::new();
    for (row, runtime, message) in errors {
        match out
            .iter_mut()
            .find(|(_, r, m)| r == runtime && m == message)
        {
            Some((rows, _, _)) => rows.push(row.clone()),
            None => out.push((vec![row.clone()], runtime.clone(), message.clone())),
        }
    }
    out.into_iter()
        .map(|(rows, r, m)| (rows.join(", "), r, m))
        .collect()
}

/// The table printed at the end of a run.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let s = &report.settings;
    let h = &report.host;
    let _ = writeln!(
        out,
        "minke-bench: {} rounds (+{} warm-up) per row, runtimes interleaved in a shuffled order every round (seed {}), exit seen by {:?}",
        s.rounds, s.warmup, s.seed, s.wait
    );
    let _ = writeln!(
        out,
        "host: Linux {}, {} CPUs, cgroups {}, load {} before / {} after",
        h.kernel, h.cpus, h.cgroups, h.load_before, h.load_after
    );
    for r in &report.runtimes {
        let _ = writeln!(
            out,
            "  {:<11} {} ({}, {})",
            r.name,
            r.version,
            r.program.display(),
            mib(r.binary_bytes)
        );
        if let Some(note) = &r.note {
            let _ = writeln!(out, "              {note}");
        }
    }
    for u in &report.unavailable {
        let _ = writeln!(out, "  {:<11} NOT RUN: {}", u.name, u.reason);
    }
    if report.interrupted {
        let _ = writeln!(
            out,
            "INTERRUPTED: the rows hold what was measured before the interrupt"
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<40} {:<11} {:>10} {:>10} {:>10} {:>7} {:>7} {:>7}",
        "row", "rt", "median", "p10", "p90", "x crun", "x c-ns", "x floor"
    );
    let mut errors = Vec::new();
    for row in &report.rows {
        for (i, c) in row.cells.iter().enumerate() {
            let title = if i == 0 { row.title.as_str() } else { "" };
            match c.summary {
                Some(sum) => {
                    let flag = if c.error.is_some() { " (!)" } else { "" };
                    let _ = writeln!(
                        out,
                        "{:<40} {:<11} {:>10} {:>10} {:>10} {:>7} {:>7} {:>7}{flag}",
                        title,
                        c.runtime,
                        row.unit.format(sum.median),
                        row.unit.format(sum.p10),
                        row.unit.format(sum.p90),
                        ratio_text(c.x_crun),
                        ratio_text(c.x_crun_ns),
                        ratio_text(c.x_floor),
                    );
                }
                None => {
                    let _ = writeln!(out, "{:<40} {:<11} {:>10}", title, c.runtime, "failed (!)");
                }
            }
            if let Some(e) = &c.error {
                errors.push((row.title.trim().to_string(), c.runtime.clone(), e.clone()));
            }
        }
    }
    if !report.runtimes.is_empty() {
        let crun = report
            .runtimes
            .iter()
            .find(|r| r.name == "crun")
            .map(|r| r.binary_bytes as f64);
        let crun_ns = report
            .runtimes
            .iter()
            .find(|r| r.name == "crun-ns")
            .map(|r| r.binary_bytes as f64);
        let floor = report
            .runtimes
            .iter()
            .find(|r| r.name == "floor")
            .map(|r| r.binary_bytes as f64);
        for (i, r) in report.runtimes.iter().enumerate() {
            let b = r.binary_bytes as f64;
            let _ = writeln!(
                out,
                "{:<40} {:<11} {:>10} {:>10} {:>10} {:>7} {:>7} {:>7}",
                if i == 0 { "binary size" } else { "" },
                r.name,
                mib(r.binary_bytes),
                "",
                "",
                ratio_text(crun.and_then(|c| stats::ratio(b, c))),
                ratio_text(crun_ns.and_then(|c| stats::ratio(b, c))),
                ratio_text(floor.and_then(|f| stats::ratio(b, f))),
            );
        }
    }
    if !report.batches.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<11} {:>4} {:>13} {:>11} {:>11} {:>7} {:>11} {:>13}",
            "batch",
            "n",
            "create+start",
            "first 10",
            "last 10",
            "growth",
            "list (n)",
            "kill+delete"
        );
        for b in &report.batches {
            let opt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| Unit::Ms.format(v));
            if let Some(e) = &b.error {
                errors.push(("batch".to_string(), b.runtime.clone(), e.clone()));
            }
            if b.create_start_ms.is_empty() {
                let _ = writeln!(out, "{:<11} {:>4} {:>13}", b.runtime, 0, "failed (!)");
                continue;
            }
            let _ = writeln!(
                out,
                "{:<11} {:>4} {:>13} {:>11} {:>11} {:>7} {:>11} {:>13}",
                b.runtime,
                b.create_start_ms.len(),
                Unit::Ms.format(b.create_start_total_ms),
                opt(b.first10_median_ms),
                opt(b.last10_median_ms),
                ratio_text(b.growth),
                opt(b.list_ms),
                Unit::Ms.format(b.delete_total_ms),
            );
        }
    }
    if !errors.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "(!) failures (a runtime is not measured further in those rows):"
        );
        for (rows, runtime, message) in group_errors(&errors) {
            let _ = writeln!(out, "  {runtime} in {rows}: {message}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn rt(name: &str, bytes: u64) -> Runtime {
        Runtime {
            name: name.into(),
            program: PathBuf::from(format!("/usr/bin/{name}")),
            binary: PathBuf::from(format!("/usr/bin/{name}")),
            root: PathBuf::from("/r"),
            version: format!("{name} 1"),
            binary_bytes: bytes,
            note: None,
            global_args: Vec::new(),
            mount_ns: None,
        }
    }

    #[test]
    fn errors_of_one_group_are_merged() {
        let e = |row: &str, rt: &str, m: &str| (row.to_string(), rt.to_string(), m.to_string());
        let merged = group_errors(&[
            e("a", "minke", "x"),
            e("b", "minke", "x"),
            e("b", "runc", "y"),
        ]);
        assert_eq!(merged, vec![e("a, b", "minke", "x"), e("b", "runc", "y")]);
    }

    #[test]
    fn ratios_use_medians() {
        let rts = [rt("runc", 1), rt("crun", 1), rt("floor", 1)];
        let mut row = Row::new("lifecycle", "lifecycle", Unit::Ms, &rts);
        row.cell("runc").samples = vec![40.0, 42.0, 38.0];
        row.cell("crun").samples = vec![20.0, 21.0, 19.0];
        row.cell("floor").samples = vec![5.0, 5.0, 5.0];
        row.finish();
        let runc = &row.cells[0];
        assert_eq!(runc.summary.unwrap().median, 40.0);
        assert_eq!(runc.x_crun, Some(2.0));
        assert_eq!(runc.x_floor, Some(8.0));
        assert_eq!(row.cells[1].x_crun, Some(1.0));
    }

    #[test]
    fn no_crun_no_ratio() {
        let rts = [rt("runc", 1), rt("floor", 1)];
        let mut row = Row::new("x", "x", Unit::Count, &rts);
        row.cell("runc").samples = vec![3.0];
        row.finish();
        assert_eq!(row.cells[0].x_crun, None);
        assert_eq!(row.cells[0].x_floor, None);
    }

    #[test]
    fn batch_growth_compares_last_and_first_ten() {
        let mut b = Batch {
            runtime: "runc".into(),
            n: 30,
            ..Batch::default()
        };
        b.create_start_ms = (0..30)
            .map(|i| {
                if i < 10 {
                    10.0
                } else if i < 20 {
                    12.0
                } else {
                    15.0
                }
            })
            .collect();
        b.finish();
        assert_eq!(b.first10_median_ms, Some(10.0));
        assert_eq!(b.last10_median_ms, Some(15.0));
        assert_eq!(b.growth, Some(1.5));
        assert_eq!(b.create_start_total_ms, 370.0);
    }

    #[test]
    fn table_shows_everything() {
        let rts = vec![
            rt("runc", 8 << 20),
            rt("crun", 1 << 20),
            rt("floor", 1 << 20),
        ];
        let mut row = Row::new("lifecycle", "lifecycle", Unit::Ms, &rts);
        row.cell("runc").samples = vec![40.0];
        row.cell("crun").samples = vec![20.0];
        row.cell("floor").error = Some("boom".into());
        row.finish();
        let mut batch = Batch {
            runtime: "crun".into(),
            n: 2,
            create_start_ms: vec![1.0, 2.0],
            ..Batch::default()
        };
        batch.finish();
        let report = Report {
            schema: 1,
            started_unix: 0,
            duration_s: 1.0,
            host: Host {
                kernel: "6.1".into(),
                cpus: 2,
                cgroups: "hybrid".into(),
                load_before: "0.1".into(),
                load_after: "0.2".into(),
            },
            settings: Settings {
                rounds: 3,
                warmup: 1,
                seed: 7,
                wait: super::super::cli::WaitMode::Pidfd,
                pause_ms: 50,
                batch: 2,
                groups: vec![],
            },
            runtimes: rts,
            unavailable: vec![Unavailable {
                name: "minke".into(),
                reason: "no minke binary".into(),
            }],
            rows: vec![row],
            batches: vec![batch],
            interrupted: false,
        };
        let text = render(&report);
        assert!(
            text.contains("minke       NOT RUN: no minke binary"),
            "{text}"
        );
        assert!(text.contains("40.0 ms") && text.contains("2.00"), "{text}");
        assert!(
            text.contains("failed (!)") && text.contains("floor in lifecycle: boom"),
            "{text}"
        );
        assert!(
            text.contains("binary size") && text.contains("8.00 MiB"),
            "{text}"
        );
        assert!(
            text.contains("create+start") && text.contains("3.00 ms"),
            "{text}"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["rows"][0]["cells"][0]["x_crun"], 2.0);
    }
}
