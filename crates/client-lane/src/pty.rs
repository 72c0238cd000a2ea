//! Running a client on a terminal: `ctr run -t` and `podman run -it` want their stdin to be a
//! terminal, so the client gets the slave side of a fresh pty as its controlling terminal (through
//! util-linux `setsid --ctty`) and the lane plays the user on the master side.

use std::fs::File;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::pty::{openpty, Winsize};

use crate::cmd::{display, wait_timeout, Runner};

/// The terminal size the lane gives its pty, checked inside the container.
pub const ROWS: u16 = 33;
pub const COLS: u16 = 101;

/// A client running on a pty.
pub struct PtyRun {
    line: String,
    child: Child,
    master: File,
    screen: Arc<Mutex<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
}

impl PtyRun {
    /// Starts `program args` as the leader of a new session whose controlling terminal is the
    /// slave of a new pty of [`ROWS`]×[`COLS`].
    pub fn spawn(runner: &Runner, program: &str, args: &[String]) -> Result<Self> {
        let line = display(program, args);
        runner.note(&format!("$ {line}    (on a {ROWS}x{COLS} pty)"));
        let size = Winsize {
            ws_row: ROWS,
            ws_col: COLS,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = openpty(Some(&size), None).context("openpty")?;
        let slave = File::from(pty.slave);
        let child = Command::new("setsid")
            .arg("--ctty")
            .arg("--wait")
            .arg(program)
            .args(args)
            .stdin(Stdio::from(slave.try_clone()?))
            .stdout(Stdio::from(slave.try_clone()?))
            .stderr(Stdio::from(slave))
            .spawn()
            .with_context(|| format!("starting `{line}` on a pty"))?;
        // The parent's copies of the slave are closed now (moved into the Command and dropped),
        // so the master reads EIO once the client and everything it started let go.
        let master = File::from(pty.master);
        let mut reading = master.try_clone()?;
        let screen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&screen);
        let reader = thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match reading.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend_from_slice(&buf[..n]),
                }
            }
        });
        Ok(PtyRun {
            line,
            child,
            master,
            screen,
            reader: Some(reader),
        })
    }

    /// Everything the terminal showed so far, carriage returns removed.
    pub fn screen(&self) -> String {
        let bytes = self.screen.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&bytes).replace('\r', "")
    }

    /// Waits until the terminal shows `needle`; fails at once if the client exits first.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.screen().contains(needle) {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the reader take what the client printed last.
                thread::sleep(Duration::from_millis(100));
                if self.screen().contains(needle) {
                    return Ok(());
                }
                bail!(
                    "`{}` exited ({status}) before {needle:?} showed on the terminal: {:?}",
                    self.line,
                    tail(&self.screen())
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
        bail!(
            "`{}`: {needle:?} did not show on the terminal within {}s (it showed {:?})",
            self.line,
            timeout.as_secs(),
            tail(&self.screen())
        )
    }

    /// Types `text` (a user's Enter is "\r").
    pub fn type_text(&mut self, text: &str) -> Result<()> {
        self.master
            .write_all(text.as_bytes())
            .with_context(|| format!("typing into `{}`", self.line))
    }

    /// Waits for the client to exit; returns its exit code and the whole screen.
    pub fn finish(mut self, runner: &Runner, timeout: Duration) -> Result<(i32, String)> {
        let status = wait_timeout(&mut self.child, timeout);
        if let Some(reader) = self.reader.take() {
            // The master reads EIO once every slave is closed; a process the client left behind
            // could hold one, so do not wait for the reader beyond a grace period.
            let deadline = Instant::now() + Duration::from_secs(2);
            while !reader.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(20));
            }
        }
        let screen = self.screen();
        runner.note(&format!(
            "  -> {} terminal:\n{}",
            status.map_or("timed out".to_string(), |s| s.to_string()),
            screen
                .lines()
                .map(|l| format!("    {l}\n"))
                .collect::<String>()
        ));
        let Some(status) = status else {
            bail!(
                "`{}` did not exit within {}s (terminal: {:?})",
                self.line,
                timeout.as_secs(),
                tail(&screen)
            );
        };
        let Some(code) = status.code() else {
            bail!("`{}` was killed by a signal: {status}", self.line);
        };
        Ok((code, screen))
    }
}

impl Drop for PtyRun {
    fn drop(&mut self) {
        // Only when `finish` was not reached: the client is our own child.
        if self.reader.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The last few hundred characters of a screen, for an error message.
fn tail(screen: &str) -> String {
    let chars: Vec<char> = screen.chars().collect();
    let start = chars.len().saturating_sub(300);
    chars[start..].iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_on_the_pty_sees_a_terminal_of_the_given_size_and_reads_what_is_typed() {
        let dir = tempfile::tempdir().unwrap();
        let runner = Runner::new(&dir.path().join("t.log"), Duration::from_secs(10)).unwrap();
        let script =
            "[ -t 0 ] && echo IS-A-TTY; stty size; echo READY; read l; echo \"got:$l\"; exit 4";
        let mut run = PtyRun::spawn(&runner, "sh", &["-c".into(), script.into()]).unwrap();
        run.wait_for("READY", Duration::from_secs(10)).unwrap();
        run.type_text("hello\r").unwrap();
        let (code, screen) = run.finish(&runner, Duration::from_secs(10)).unwrap();
        assert_eq!(code, 4);
        assert!(screen.contains("IS-A-TTY"), "{screen}");
        assert!(screen.contains(&format!("{ROWS} {COLS}")), "{screen}");
        assert!(screen.contains("got:hello"), "{screen}");
    }

    #[test]
    fn wait_for_names_what_did_not_show() {
        let dir = tempfile::tempdir().unwrap();
        let runner = Runner::new(&dir.path().join("t.log"), Duration::from_secs(10)).unwrap();
        let mut run =
            PtyRun::spawn(&runner, "sh", &["-c".into(), "echo nope; sleep 5".into()]).unwrap();
        let err = run
            .wait_for("never", Duration::from_millis(300))
            .unwrap_err();
        assert!(err.to_string().contains("\"never\" did not show"), "{err}");
        let mut quick =
            PtyRun::spawn(&runner, "sh", &["-c".into(), "echo bye; exit 2".into()]).unwrap();
        let err = quick
            .wait_for("never", Duration::from_secs(30))
            .unwrap_err();
        assert!(err.to_string().contains("exited (exit status: 2)"), "{err}");
        assert!(err.to_string().contains("bye"), "{err}");
    }
}
