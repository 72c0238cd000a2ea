//! The lane's output: one line per (client, runtime, scenario), a summary line, and the exit
//! status (1 when minke fails a scenario that the reference passes, 2 for any other failure).

use std::time::Duration;

use crate::client::{ClientKind, RuntimeKind};
use crate::scenario::Scenario;

/// One scenario's result.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub client: ClientKind,
    pub runtime: RuntimeKind,
    pub scenario: Scenario,
    pub result: Result<(), String>,
    pub elapsed: Duration,
}

impl Outcome {
    /// `containerd  minke  exec          FAIL: reason` (reason on one line).
    pub fn line(&self) -> String {
        let verdict = match &self.result {
            Ok(()) => "ok".to_string(),
            Err(reason) => format!("FAIL: {}", one_line(reason)),
        };
        format!(
            "{:<10} {:<5} {:<12} {:>5.1}s  {}",
            self.client.to_string(),
            self.runtime.to_string(),
            self.scenario.to_string(),
            self.elapsed.as_secs_f64(),
            verdict
        )
    }
}

/// Newlines and runs of spaces folded, so a reason stays on its line.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The lane's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub passed: usize,
    pub failed: usize,
    /// (client, scenario) that fail on minke and pass on the reference.
    pub minke_only: Vec<(ClientKind, Scenario)>,
    /// Failures that are not minke-only: the reference's, or minke's where the reference did
    /// not run or failed too.
    pub other_failures: usize,
    /// Problems of the lane itself (setup, cleanup, leftovers).
    pub lane_problems: Vec<String>,
}

impl Verdict {
    pub fn of(outcomes: &[Outcome], lane_problems: Vec<String>) -> Verdict {
        let passed = outcomes.iter().filter(|o| o.result.is_ok()).count();
        let failed = outcomes.len() - passed;
        let mut minke_only = Vec::new();
        for o in outcomes
            .iter()
            .filter(|o| o.runtime == RuntimeKind::Minke && o.result.is_err())
        {
            let reference_passed = outcomes.iter().any(|r| {
                r.runtime == RuntimeKind::Runc
                    && r.client == o.client
                    && r.scenario == o.scenario
                    && r.result.is_ok()
            });
            if reference_passed {
                minke_only.push((o.client, o.scenario));
            }
        }
        Verdict {
            passed,
            failed,
            other_failures: failed - minke_only.len(),
            minke_only,
            lane_problems,
        }
    }

    /// 0: all passed and nothing was left behind; 1: minke fails something runc passes;
    /// 2: anything else failed.
    pub fn exit_code(&self) -> i32 {
        if !self.minke_only.is_empty() {
            1
        } else if self.failed > 0 || !self.lane_problems.is_empty() {
            2
        } else {
            0
        }
    }

    /// The summary lines; the last is the plain "client-lane: N passed, M failed".
    pub fn summary(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if !self.minke_only.is_empty() {
            let list: Vec<String> = self
                .minke_only
                .iter()
                .map(|(c, s)| format!("{c}/{s}"))
                .collect();
            lines.push(format!(
                "minke fails where runc passes ({}): {}",
                list.len(),
                list.join(" ")
            ));
        }
        if self.other_failures > 0 {
            lines.push(format!(
                "failures not attributable to minke alone (the reference failed too, or did not run): {}",
                self.other_failures
            ));
        }
        for p in &self.lane_problems {
            lines.push(format!("lane problem: {}", one_line(p)));
        }
        lines.push(format!(
            "client-lane: {} passed, {} failed",
            self.passed, self.failed
        ));
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(client: ClientKind, runtime: RuntimeKind, scenario: Scenario, ok: bool) -> Outcome {
        Outcome {
            client,
            runtime,
            scenario,
            result: if ok {
                Ok(())
            } else {
                Err("bad\nthing  here".into())
            },
            elapsed: Duration::from_millis(1500),
        }
    }

    use ClientKind::*;
    use RuntimeKind::*;

    #[test]
    fn a_minke_failure_that_runc_passes_exits_1() {
        let v = Verdict::of(
            &[
                o(Containerd, Runc, Scenario::Exec, true),
                o(Containerd, Minke, Scenario::Exec, false),
                o(Podman, Runc, Scenario::Exec, true),
                o(Podman, Minke, Scenario::Exec, true),
            ],
            vec![],
        );
        assert_eq!(v.minke_only, [(Containerd, Scenario::Exec)]);
        assert_eq!((v.passed, v.failed, v.other_failures), (3, 1, 0));
        assert_eq!(v.exit_code(), 1);
        assert_eq!(
            v.summary().last().unwrap(),
            "client-lane: 3 passed, 1 failed"
        );
    }

    #[test]
    fn a_failure_on_both_runtimes_is_not_minkes_alone_but_still_fails() {
        let v = Verdict::of(
            &[
                o(Podman, Runc, Scenario::Tty, false),
                o(Podman, Minke, Scenario::Tty, false),
            ],
            vec![],
        );
        assert!(v.minke_only.is_empty());
        assert_eq!(v.other_failures, 2);
        assert_eq!(v.exit_code(), 2);
    }

    #[test]
    fn leftovers_fail_a_clean_run() {
        let ok = [o(Podman, Minke, Scenario::OneShot, true)];
        assert_eq!(Verdict::of(&ok, vec![]).exit_code(), 0);
        let v = Verdict::of(&ok, vec!["cgroup left".into()]);
        assert_eq!(v.exit_code(), 2);
        assert!(v.summary().iter().any(|l| l == "lane problem: cgroup left"));
    }

    #[test]
    fn a_line_keeps_the_reason_on_one_line() {
        let line = o(Containerd, Minke, Scenario::PauseResume, false).line();
        assert!(line.starts_with("containerd minke pause-resume"), "{line}");
        assert!(line.ends_with("FAIL: bad thing here"), "{line}");
        assert!(!line.contains('\n'));
    }
}
