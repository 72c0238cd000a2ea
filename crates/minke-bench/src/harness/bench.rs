//! The driver: groups of rows measured in interleaved rounds, the runtimes' order shuffled every
//! round; the batch; what each row means.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Result};
use minke_bench::bundle::Variant;
use minke_bench::rng::SplitMix64;
use minke_bench::stats;
use minke_bench::sys;

use super::cli::{Group, WaitMode};
use super::measure::measure;
use super::ops::{Ctx, Started};
use super::report::{Batch, Cell, Row, Unit};
use super::runtime::Runtime;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The benchmark in progress.
pub struct Bench {
    /// Runtimes that run, in table order.
    pub runtimes: Vec<Runtime>,
    /// Operations and their cleanup.
    pub ctx: Ctx,
    rng: SplitMix64,
    rounds: usize,
    warmup: usize,
    pause: Duration,
    batch: usize,
    batch_repeats: usize,
    bundles: BTreeMap<Variant, PathBuf>,
    /// Rows measured so far.
    pub rows: Vec<Row>,
    /// Batches measured so far.
    pub batches: Vec<Batch>,
}

/// Settings of a [`Bench`].
pub struct Plan {
    /// Seed of the shuffles.
    pub seed: u64,
    /// Measured rounds.
    pub rounds: usize,
    /// Warm-up rounds.
    pub warmup: usize,
    /// Pause of the isolated rows.
    pub pause: Duration,
    /// Batch size.
    pub batch: usize,
    /// Batches per runtime.
    pub batch_repeats: usize,
    /// Bundle directories.
    pub bundles: BTreeMap<Variant, PathBuf>,
}

impl Bench {
    /// A benchmark of `runtimes`.
    pub fn new(runtimes: Vec<Runtime>, ctx: Ctx, plan: Plan) -> Bench {
        Bench {
            runtimes,
            ctx,
            rng: SplitMix64::new(plan.seed),
            rounds: plan.rounds,
            warmup: plan.warmup,
            pause: plan.pause,
            batch: plan.batch,
            batch_repeats: plan.batch_repeats,
            bundles: plan.bundles,
            rows: Vec::new(),
            batches: Vec::new(),
        }
    }

    fn bundle(&self, v: Variant) -> PathBuf {
        self.bundles[&v].clone()
    }

    fn add_rows(&mut self, specs: &[(&str, &str, Unit)]) -> Vec<usize> {
        let first = self.rows.len();
        for (id, title, unit) in specs {
            self.rows.push(Row::new(id, title, *unit, &self.runtimes));
        }
        (first..self.rows.len()).collect()
    }

    fn fail(&mut self, rows: &[usize], runtime: &str, message: String) {
        for &r in rows {
            self.rows[r].cell(runtime).error = Some(message.clone());
        }
    }

    /// Runs `warmup + rounds` rounds; in each, every runtime not failed yet measures once, in a
    /// freshly shuffled order. `measure` returns one value per row of `rows`. A runtime's first
    /// error is recorded in its cells and ends its measurements in these rows; with
    /// `cleanup_on_failure` its containers are then removed.
    fn interleave<F>(
        &mut self,
        rows: &[usize],
        pause: Option<Duration>,
        cleanup_on_failure: bool,
        mut measure: F,
    ) -> Result<()>
    where
        F: FnMut(&mut Ctx, &Runtime) -> Result<Vec<f64>>,
    {
        let n = self.runtimes.len();
        let mut failed = vec![false; n];
        for round in 0..self.warmup + self.rounds {
            let mut order: Vec<usize> = (0..n).collect();
            self.rng.shuffle(&mut order);
            for i in order {
                if failed[i] || self.cell_failed(rows, i) {
                    continue;
                }
                if sys::interrupted() {
                    bail!("interrupted");
                }
                if let Some(p) = pause {
                    std::thread::sleep(p);
                }
                let rt = self.runtimes[i].clone();
                match measure(&mut self.ctx, &rt) {
                    Ok(values) => {
                        if round >= self.warmup {
                            for (&r, v) in rows.iter().zip(values) {
                                self.rows[r].cell(&rt.name).samples.push(v);
                            }
                        }
                    }
                    Err(e) => {
                        if sys::interrupted() {
                            return Err(e);
                        }
                        failed[i] = true;
                        let phase = if round < self.warmup {
                            "warm-up round"
                        } else {
                            "round"
                        };
                        let number = if round < self.warmup {
                            round + 1
                        } else {
                            round - self.warmup + 1
                        };
                        self.fail(rows, &rt.name, format!("{phase} {number}: {e:#}"));
                        if cleanup_on_failure {
                            for p in self.ctx.cleanup_runtime(&rt.name) {
                                eprintln!("minke-bench: cleanup: {p}");
                            }
                        }
                    }
                }
            }
        }
        self.ctx.reap_orphans();
        Ok(())
    }

    fn cell_failed(&self, rows: &[usize], runtime: usize) -> bool {
        let name = &self.runtimes[runtime].name;
        rows.first().is_some_and(|&r| {
            self.rows[r]
                .cells
                .iter()
                .any(|c| &c.runtime == name && c.error.is_some())
        })
    }

    /// Runs one group of rows.
    pub fn group(&mut self, group: Group, wait: WaitMode) -> Result<()> {
        match group {
            Group::Lifecycle => self.lifecycle(wait),
            Group::Isolated => {
                let title = format!(
                    "lifecycle, isolated ({} ms pause before)",
                    self.pause.as_millis()
                );
                let rows = self.add_rows(&[("lifecycle_isolated", &title, Unit::Ms)]);
                let bundle = self.bundle(Variant::Base);
                let pause = Some(self.pause);
                self.interleave(&rows, pause, true, |ctx, rt| {
                    Ok(vec![ms(ctx.lifecycle(rt, &bundle)?.total)])
                })
            }
            Group::Run => {
                let rows = self.add_rows(&[("run", "run /bin/true", Unit::Ms)]);
                let bundle = self.bundle(Variant::Base);
                self.interleave(&rows, None, true, |ctx, rt| {
                    Ok(vec![ms(ctx.run(rt, &bundle)?.wall)])
                })
            }
            Group::Limits | Group::Seccomp => {
                let (variant, name) = if group == Group::Limits {
                    (Variant::Limits, "limits")
                } else {
                    (Variant::Seccomp, "seccomp")
                };
                let l_title = format!("lifecycle + {name}");
                let r_title = format!("run + {name}");
                let rows = self.add_rows(&[
                    (&format!("lifecycle_{name}"), &l_title, Unit::Ms),
                    (&format!("run_{name}"), &r_title, Unit::Ms),
                ]);
                let bundle = self.bundle(variant);
                self.interleave(&rows, None, true, |ctx, rt| {
                    let l = ctx.lifecycle(rt, &bundle)?;
                    let r = ctx.run(rt, &bundle)?;
                    Ok(vec![ms(l.total), ms(r.wall)])
                })
            }
            Group::Exec => self.exec_state(),
            Group::Batch => self.batches(),
            Group::Overhead => self.overhead(),
        }
    }

    /// Spawning /bin/true (the harness's own cost in every command) and, when crun runs through
    /// a wrapper, the wrapper around /bin/true (`CRUN=/bin/true`), interleaved.
    fn overhead(&mut self) -> Result<()> {
        let wrapper = self
            .runtimes
            .iter()
            .find(|r| r.name == "crun" && r.note.is_some())
            .map(|r| r.program.clone());
        let mut cells = vec![Cell {
            runtime: "true".into(),
            ..Cell::default()
        }];
        if wrapper.is_some() {
            cells.push(Cell {
                runtime: "crun-w".into(),
                ..Cell::default()
            });
        }
        let mut row = Row {
            id: "overhead".into(),
            title: "spawn+reap: /bin/true; crun's wrapper".into(),
            unit: Unit::Ms,
            cells,
        };
        for round in 0..self.warmup + self.rounds {
            let mut order: Vec<usize> = (0..row.cells.len()).collect();
            self.rng.shuffle(&mut order);
            for i in order {
                if sys::interrupted() {
                    bail!("interrupted");
                }
                let mut cmd = match (i, &wrapper) {
                    (1, Some(w)) => {
                        let mut c = Command::new(w);
                        c.env("CRUN", "/bin/true");
                        c
                    }
                    _ => Command::new("/bin/true"),
                };
                // Spawned the way every runtime command is (fork + hook + exec).
                sys::spawn_in(&mut cmd, None);
                let m = measure(&mut self.ctx.io, cmd, self.ctx.timeout)?;
                if round >= self.warmup {
                    row.cells[i].samples.push(ms(m.wall));
                }
            }
        }
        self.rows.push(row);
        Ok(())
    }

    fn lifecycle(&mut self, wait: WaitMode) -> Result<()> {
        let mut specs = vec![
            (
                "lifecycle",
                "lifecycle (create+start+wait+delete)",
                Unit::Ms,
            ),
            ("lifecycle_create", "  create", Unit::Ms),
            ("lifecycle_start", "  start", Unit::Ms),
            ("lifecycle_wait", "  wait for exit (after start)", Unit::Ms),
            ("lifecycle_delete", "  delete", Unit::Ms),
            ("cpu", "CPU per lifecycle (user+sys, incl. init)", Unit::Ms),
            ("faults", "page faults per lifecycle", Unit::Count),
            ("rss_create", "peak RSS of create (ru_maxrss)", Unit::Mib),
            (
                "rss_init",
                "peak RSS of the init (until/after exec)",
                Unit::Mib,
            ),
        ];
        if wait == WaitMode::State {
            specs.push(("state_polls", "state calls to see the exit", Unit::Count));
        }
        let rows = self.add_rows(&specs);
        let bundle = self.bundle(Variant::Base);
        self.interleave(&rows, None, true, |ctx, rt| {
            let l = ctx.lifecycle(rt, &bundle)?;
            Ok(vec![
                ms(l.total),
                ms(l.create),
                ms(l.start),
                ms(l.wait),
                ms(l.delete),
                ms(l.cpu),
                l.faults as f64,
                mib(l.create_rss_kib),
                mib(l.init_rss_kib),
                f64::from(l.state_polls),
            ])
        })
    }

    fn exec_state(&mut self) -> Result<()> {
        let rows = self.add_rows(&[
            ("exec", "exec /bin/true (running container)", Unit::Ms),
            ("state", "state (running container)", Unit::Ms),
            ("list", "list (1 running container)", Unit::Ms),
        ]);
        let bundle = self.bundle(Variant::Long);
        let mut running = BTreeMap::new();
        for rt in self.runtimes.clone() {
            match self.ctx.create_start(&rt, &bundle) {
                Ok((started, _, _)) => {
                    running.insert(rt.name.clone(), started);
                }
                Err(e) => {
                    self.fail(&rows, &rt.name, format!("starting the container: {e:#}"));
                    for p in self.ctx.cleanup_runtime(&rt.name) {
                        eprintln!("minke-bench: cleanup: {p}");
                    }
                }
            }
        }
        let ids: BTreeMap<String, String> = running
            .iter()
            .map(|(k, v)| (k.clone(), v.id.clone()))
            .collect();
        // One pass per row, so that a runtime without `exec` is still measured in the others;
        // a failure leaves the running container alone (it is stopped below).
        let mut result = self.interleave(&rows[..1], None, false, |ctx, rt| {
            Ok(vec![ms(ctx.exec_true(rt, &ids[&rt.name])?.wall)])
        });
        if result.is_ok() {
            result = self.interleave(&rows[1..2], None, false, |ctx, rt| {
                Ok(vec![ms(ctx.state(rt, &ids[&rt.name])?.wall)])
            });
        }
        if result.is_ok() {
            result = self.interleave(&rows[2..], None, false, |ctx, rt| {
                Ok(vec![ms(ctx.list(rt, &ids[&rt.name])?.wall)])
            });
        }
        for rt in self.runtimes.clone() {
            if let Some(started) = running.remove(&rt.name) {
                if let Err(e) = self.ctx.stop(&rt, started) {
                    self.fail(&rows, &rt.name, format!("stopping the container: {e:#}"));
                    for p in self.ctx.cleanup_runtime(&rt.name) {
                        eprintln!("minke-bench: cleanup: {p}");
                    }
                }
            }
        }
        result
    }

    /// `batch` containers per runtime, created and started one after another, then `list`
    /// with all of them running, then stopped (kill, wait, delete) in creation order. The
    /// runtimes are interleaved: in step k every runtime starts (or stops) its k-th container,
    /// in an order shuffled at every step. Totals are sums of the per-container times.
    fn batches(&mut self) -> Result<()> {
        let bundle = self.bundle(Variant::Long);
        let n = self.runtimes.len();
        for _ in 0..self.batch_repeats {
            let mut batches: Vec<Batch> = self
                .runtimes
                .iter()
                .map(|rt| Batch {
                    runtime: rt.name.clone(),
                    n: self.batch,
                    ..Batch::default()
                })
                .collect();
            let mut started: Vec<Vec<Started>> = (0..n).map(|_| Vec::new()).collect();
            for k in 0..self.batch {
                for i in self.shuffled(n) {
                    if batches[i].error.is_some() {
                        continue;
                    }
                    if sys::interrupted() {
                        bail!("interrupted");
                    }
                    let rt = self.runtimes[i].clone();
                    match self.ctx.create_start(&rt, &bundle) {
                        Ok((s, _, _)) => {
                            batches[i].create_start_ms.push(ms(s.elapsed));
                            started[i].push(s);
                        }
                        Err(e) => batches[i].error = Some(format!("container {}: {e:#}", k + 1)),
                    }
                }
            }
            let mut lists: Vec<Vec<f64>> = vec![Vec::new(); n];
            for _ in 0..3 {
                for i in self.shuffled(n) {
                    let Some(last) = started[i].last() else {
                        continue;
                    };
                    if batches[i].error.is_some() {
                        continue;
                    }
                    let (rt, id) = (self.runtimes[i].clone(), last.id.clone());
                    match self.ctx.list(&rt, &id) {
                        Ok(m) => lists[i].push(ms(m.wall)),
                        Err(e) => batches[i].error = Some(format!("list: {e:#}")),
                    }
                }
            }
            let mut queues: Vec<std::vec::IntoIter<Started>> =
                started.into_iter().map(Vec::into_iter).collect();
            let mut stop_failed = vec![false; n];
            loop {
                let mut any = false;
                for i in self.shuffled(n) {
                    let Some(s) = queues[i].next() else { continue };
                    any = true;
                    if stop_failed[i] {
                        continue; // left to the cleanup below
                    }
                    if sys::interrupted() {
                        bail!("interrupted");
                    }
                    let rt = self.runtimes[i].clone();
                    match self.ctx.stop(&rt, s) {
                        Ok(d) => batches[i].delete_total_ms += ms(d),
                        Err(e) => {
                            stop_failed[i] = true;
                            batches[i].error.get_or_insert(format!("stopping: {e:#}"));
                        }
                    }
                }
                if !any {
                    break;
                }
            }
            for (i, mut b) in batches.into_iter().enumerate() {
                if b.error.is_some() {
                    for p in self.ctx.cleanup_runtime(&self.runtimes[i].name) {
                        eprintln!("minke-bench: cleanup: {p}");
                    }
                }
                b.list_ms = stats::median(&lists[i]);
                b.finish();
                self.batches.push(b);
            }
            self.ctx.reap_orphans();
        }
        Ok(())
    }

    fn shuffled(&mut self, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        self.rng.shuffle(&mut order);
        order
    }

    /// Computes the rows' summaries and ratios.
    pub fn finish(&mut self) {
        for row in &mut self.rows {
            row.finish();
        }
    }
}
