//! Running the clients' commands: every command has a timeout, its output is captured, and the
//! command line, status and output go to the transcript.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// How often a running command is looked at.
const POLL: Duration = Duration::from_millis(20);
/// How long output pipes may stay open after the command exited (a daemon it started may keep
/// them; its output is not waited for).
const DRAIN_GRACE: Duration = Duration::from_secs(2);
/// How much of a stream the transcript keeps.
const TRANSCRIPT_LIMIT: usize = 8192;

/// What a finished command left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The exit code, or `None` when a signal ended it.
    pub code: Option<i32>,
    /// The signal that ended it, if any.
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    fn from_status(status: ExitStatus, stdout: String, stderr: String) -> Self {
        use std::os::unix::process::ExitStatusExt;
        Output {
            code: status.code(),
            signal: status.signal(),
            stdout,
            stderr,
        }
    }

    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// "exit status 3" or "killed by signal 9".
    pub fn status_text(&self) -> String {
        match (self.code, self.signal) {
            (Some(c), _) => format!("exit status {c}"),
            (None, Some(s)) => format!("killed by signal {s}"),
            (None, None) => "no exit status".to_string(),
        }
    }

    /// The status and the last line of stderr (or stdout) that mentions an error, else the last
    /// non-empty one, for a one-line reason.
    pub fn brief(&self) -> String {
        let last = error_line(&self.stderr)
            .or_else(|| last_line(&self.stderr))
            .or_else(|| error_line(&self.stdout))
            .or_else(|| last_line(&self.stdout));
        match last {
            Some(line) => format!("{}: {}", self.status_text(), line),
            None => self.status_text(),
        }
    }
}

fn error_line(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .rev()
        .find(|l| l.to_ascii_lowercase().contains("error"))
}

fn last_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).rev().find(|l| !l.is_empty())
}

/// A command line as the transcript and the reasons show it.
pub fn display(program: &str, args: &[String]) -> String {
    let mut s = quote(program);
    for a in args {
        s.push(' ');
        s.push_str(&quote(a));
    }
    s
}

/// Shell-style quoting, only where needed.
pub fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:=,@%+-".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Runs commands and keeps the transcript.
pub struct Runner {
    transcript: Mutex<File>,
    /// The timeout of a command that names none.
    pub timeout: Duration,
}

impl Runner {
    pub fn new(transcript: &Path, timeout: Duration) -> Result<Self> {
        let file = File::create(transcript)
            .with_context(|| format!("creating the transcript {}", transcript.display()))?;
        Ok(Runner {
            transcript: Mutex::new(file),
            timeout,
        })
    }

    /// Appends a free-form note to the transcript.
    pub fn note(&self, text: &str) {
        let mut f = self.transcript.lock().unwrap_or_else(|e| e.into_inner());
        // The transcript is a diagnostic aid: a failed write must not fail a scenario.
        let _ = writeln!(f, "{text}");
    }

    /// Runs `program args` with the default timeout and returns what it left, whatever its status.
    pub fn run(&self, program: &str, args: &[String]) -> Result<Output> {
        self.run_with(program, args, self.timeout)
    }

    /// Runs `program args`, failing unless it exits 0.
    pub fn check(&self, program: &str, args: &[String]) -> Result<Output> {
        let out = self.run(program, args)?;
        if !out.success() {
            bail!("`{}` failed: {}", display(program, args), out.brief());
        }
        Ok(out)
    }

    /// Runs `program args` with a timeout: when it runs out the command is killed (by its pid)
    /// and an error returned.
    pub fn run_with(&self, program: &str, args: &[String], timeout: Duration) -> Result<Output> {
        let line = display(program, args);
        let started = Instant::now();
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting `{line}`"))?;
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        let status = wait_timeout(&mut child, timeout);
        let stdout = stdout.collect();
        let stderr = stderr.collect();
        let elapsed = started.elapsed();
        let status = match status {
            Some(s) => s,
            None => {
                self.note(&format!(
                    "$ {line}\n  TIMED OUT after {:.1}s\n{}{}",
                    timeout.as_secs_f64(),
                    indent("stdout", &stdout),
                    indent("stderr", &stderr)
                ));
                bail!("`{line}` timed out after {}s", timeout.as_secs());
            }
        };
        let out = Output::from_status(status, stdout, stderr);
        self.note(&format!(
            "$ {line}\n  -> {} in {:.2}s\n{}{}",
            out.status_text(),
            elapsed.as_secs_f64(),
            indent("stdout", &out.stdout),
            indent("stderr", &out.stderr)
        ));
        Ok(out)
    }
}

/// The transcript's view of one stream: indented, cut to a few KiB.
fn indent(name: &str, text: &str) -> String {
    if text.is_empty() {
        return String::new();
    }
    let mut cut = text;
    let mut suffix = "";
    if text.len() > TRANSCRIPT_LIMIT {
        let mut end = TRANSCRIPT_LIMIT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        cut = &text[..end];
        suffix = "\n    [cut]";
    }
    let mut s = format!("  {name}:\n");
    for l in cut.lines() {
        let _ = writeln!(s, "    {l}");
    }
    if !suffix.is_empty() {
        s.push_str(suffix.trim_start_matches('\n'));
        s.push('\n');
    }
    s
}

/// Waits for `child` at most `timeout`; on timeout kills it (it is our own child) and returns
/// `None`.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(_) => return None,
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(POLL);
    }
}

/// A pipe being read to its end on a thread.
pub struct Drain {
    buf: Arc<Mutex<Vec<u8>>>,
    done: Option<mpsc::Receiver<()>>,
}

/// Starts reading `pipe` on a thread.
pub fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> Drain {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let Some(mut pipe) = pipe else {
        return Drain { buf, done: None };
    };
    let (tx, rx) = mpsc::channel();
    let sink = Arc::clone(&buf);
    thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        loop {
            match pipe.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => sink
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(&chunk[..n]),
            }
        }
        let _ = tx.send(());
    });
    Drain {
        buf,
        done: Some(rx),
    }
}

impl Drain {
    /// What was read, once the writer closed the pipe or the grace period ran out (a process
    /// that outlives the command may hold the pipe; what it writes later is not waited for,
    /// what was written before is kept).
    pub fn collect(self) -> String {
        if let Some(done) = self.done {
            let _ = done.recv_timeout(DRAIN_GRACE);
        }
        let bytes = self.buf.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Polls `f` every 50 ms until it returns `Some` or `timeout` runs out.
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Turns a list of `&str` into the owned arguments [`Runner`] takes.
pub fn args<S: AsRef<str>>(list: &[S]) -> Vec<String> {
    list.iter().map(|s| s.as_ref().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_leaves_plain_words_alone() {
        assert_eq!(quote("--pid-file"), "--pid-file");
        assert_eq!(quote("/run/x/y.pid"), "/run/x/y.pid");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn brief_prefers_the_last_stderr_line() {
        let out = Output {
            code: Some(1),
            signal: None,
            stdout: "out\n".into(),
            stderr: "first\nsecond\n\n".into(),
        };
        assert_eq!(out.brief(), "exit status 1: second");
        let clap = Output {
            code: Some(2),
            signal: None,
            stdout: String::new(),
            stderr: "error: unrecognized subcommand 'exec'\n\nUsage: x\n\nFor more information, try '--help'.\n".into(),
        };
        assert_eq!(
            clap.brief(),
            "exit status 2: error: unrecognized subcommand 'exec'"
        );
        let quiet = Output {
            code: None,
            signal: Some(9),
            stdout: String::new(),
            stderr: String::new(),
        };
        assert_eq!(quiet.brief(), "killed by signal 9");
    }

    #[test]
    fn runner_captures_status_and_streams_and_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let runner = Runner::new(&dir.path().join("t.log"), Duration::from_secs(10)).unwrap();
        let out = runner
            .run("sh", &args(&["-c", "echo out; echo err >&2; exit 3"]))
            .unwrap();
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
        let err = runner
            .run_with("sleep", &args(&["30"]), Duration::from_millis(200))
            .unwrap_err();
        assert!(err.to_string().contains("timed out"), "{err}");
        // Output written before the command exits is kept even when a process it left behind
        // holds the pipe open.
        let out = runner
            .run("sh", &args(&["-c", "echo early; sleep 3 & exit 0"]))
            .unwrap();
        assert_eq!(out.stdout, "early\n");
        let transcript = std::fs::read_to_string(dir.path().join("t.log")).unwrap();
        assert!(transcript.contains("$ sh -c 'echo out; echo err >&2; exit 3'"));
        assert!(transcript.contains("exit status 3"));
        assert!(transcript.contains("TIMED OUT"));
    }

    #[test]
    fn poll_returns_the_first_value_or_none() {
        let mut n = 0;
        assert_eq!(
            poll(Duration::from_secs(5), || {
                n += 1;
                (n == 3).then_some(n)
            }),
            Some(3)
        );
        assert_eq!(poll(Duration::from_millis(100), || None::<()>), None);
    }
}
