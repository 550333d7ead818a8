//! The real `botper` binary as a child process, with its log collected line by line.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn botper() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_botper"));
    c.env_clear().env("RUST_LOG", "info");
    c
}

/// A running binary whose stderr lines are collected in the background.
pub struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Proc {
    pub fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Waits for a log line containing `needle`; returns it.
    pub fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        while Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                self.seen.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
        }
        panic!(
            "no log line with {needle:?}; saw:\n{}",
            self.seen.join("\n")
        );
    }

    pub fn addr(&mut self) -> String {
        let line = self.wait_for("Botper listening on http://");
        let start = line.find("http://").unwrap();
        line[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .trim_end_matches('\u{1b}')
            .to_owned()
    }

    pub fn terminate(&mut self) -> (i32, Duration) {
        let started = Instant::now();
        signal(self.child.id(), "TERM");
        let status = self.child.wait().unwrap();
        (status.code().unwrap_or(-1), started.elapsed())
    }

    pub fn all_output(&mut self) -> String {
        while let Ok(l) = self.lines.try_recv() {
            self.seen.push(l);
        }
        self.seen.join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn signal(pid: u32, signal: &str) {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown, no cleanup.
    pub fn kill_hard(&mut self) {
        signal(self.child.id(), "KILL");
        let _ = self.child.wait();
    }
}
