//! Logging in runc's shapes: logrus text (`time="..." level=error msg="..."`) or, with
//! `--log-format json`, one JSON object per line (`{"level":"error","msg":"...","time":"..."}`),
//! to `--log FILE` (appended) or stderr. containerd reads the last `"level":"error"` line.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;

use libcontainer::state::rfc3339;

use crate::cli::LogFormat;

enum Sink {
    Stderr,
    File(std::fs::File),
}

pub struct Logger {
    sink: Mutex<Sink>,
    format: LogFormat,
    level: log::LevelFilter,
}

impl Logger {
    /// The fd the logger writes to when it is a file (kept open in the container's init so
    /// that its logs reach the same file).
    pub fn file_fd(&self) -> Option<RawFd> {
        match &*self.sink.lock().ok()? {
            Sink::File(f) => Some(f.as_raw_fd()),
            Sink::Stderr => None,
        }
    }

    pub fn to_file(&self) -> bool {
        self.file_fd().is_some()
    }

    /// Format one line.
    pub fn line(format: LogFormat, level: log::Level, msg: &str) -> String {
        let lvl = match level {
            log::Level::Error => "error",
            log::Level::Warn => "warning",
            log::Level::Info => "info",
            log::Level::Debug => "debug",
            log::Level::Trace => "trace",
        };
        let time = rfc3339(std::time::SystemTime::now());
        match format {
            LogFormat::Json => {
                let v = serde_json::json!({"level": lvl, "msg": msg, "time": time});
                format!("{v}\n")
            }
            LogFormat::Text => format!("time=\"{time}\" level={lvl} msg={}\n", quote(msg)),
        }
    }

    pub fn write(&self, level: log::Level, msg: &str) {
        let line = Self::line(self.format, level, msg);
        if let Ok(mut sink) = self.sink.lock() {
            let _ = match &mut *sink {
                Sink::Stderr => std::io::stderr().write_all(line.as_bytes()),
                Sink::File(f) => f.write_all(line.as_bytes()),
            };
        }
    }
}

/// logrus quotes a text value when it has characters outside [A-Za-z0-9-._/@^+].
fn quote(msg: &str) -> String {
    let plain = !msg.is_empty()
        && msg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._/@^+".contains(c));
    if plain {
        msg.to_string()
    } else {
        serde_json::to_string(msg).unwrap_or_else(|_| format!("{msg:?}"))
    }
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            self.write(record.level(), &record.args().to_string());
        }
    }
    fn flush(&self) {}
}

/// Install the global logger. Returns a reference for direct use (error lines).
pub fn init(
    path: Option<&Path>,
    format: LogFormat,
    debug: bool,
) -> std::io::Result<&'static Logger> {
    let sink = match path {
        None => Sink::Stderr,
        Some(p) => Sink::File(
            OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o644)
                .custom_flags(libc::O_CLOEXEC)
                .open(p)?,
        ),
    };
    let level = if debug {
        log::LevelFilter::Debug
    } else {
        log::LevelFilter::Info
    };
    let logger: &'static Logger = Box::leak(Box::new(Logger {
        sink: Mutex::new(sink),
        format,
        level,
    }));
    let _ = log::set_logger(logger);
    log::set_max_level(level);
    Ok(logger)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_is_logrus_shaped() {
        let l = Logger::line(LogFormat::Json, log::Level::Error, "container not running");
        let v: serde_json::Value = serde_json::from_str(l.trim_end()).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "container not running");
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
        assert!(l.ends_with('\n'));
    }

    #[test]
    fn text_line_quotes_like_logrus() {
        let l = Logger::line(LogFormat::Text, log::Level::Warn, "two words");
        assert!(l.contains("level=warning msg=\"two words\""), "{l}");
        let l = Logger::line(LogFormat::Text, log::Level::Error, "plain");
        assert!(l.ends_with("level=error msg=plain\n"), "{l}");
    }
}
