//! A `sockchat` process for the terminal-mode tests: its stdout lines arrive on a channel so every wait
//! is bounded, and a test that fails half-way does not leave it running.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use serde_json::Value;

use super::WAIT;

pub const BIN: &str = env!("CARGO_BIN_EXE_sockchat");

pub struct Proc {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    pub lines: Receiver<String>,
}

impl Proc {
    pub fn spawn(args: &[&str]) -> Proc {
        Self::spawn_cmd(Command::new(BIN).args(args))
    }

    /// With its own config directory (certificates, known servers, settings): tests never share the
    /// user's.
    pub fn sockchat(config_dir: &Path, args: &[&str]) -> Proc {
        Self::spawn_cmd(Command::new(BIN).env("SOCKCHAT_CONFIG_DIR", config_dir).args(args))
    }

    pub fn spawn_cmd(cmd: &mut Command) -> Proc {
        let child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sockchat");
        Self::spawn_child(child)
    }

    /// Any program started with its stdout piped (and its stdin, to type into it).
    pub fn spawn_child(mut child: Child) -> Proc {
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = crossbeam_channel::unbounded();
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Proc { child, stdin, lines }
    }

    pub fn line(&self) -> String {
        self.lines.recv_timeout(WAIT).expect("a line of output in time")
    }

    pub fn json(&self) -> Value {
        let l = self.line();
        serde_json::from_str(&l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}"))
    }

    /// Next JSON event of this kind, skipping others.
    pub fn event(&self, kind: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            let v = self.json();
            if v["event"] == kind {
                return v;
            }
        }
        panic!("no {kind} event in time");
    }

    /// The next line containing `text`.
    pub fn line_with(&self, text: &str) -> String {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            let l = self.line();
            if l.contains(text) {
                return l;
            }
        }
        panic!("no line with {text:?} in time");
    }

    pub fn type_line(&mut self, s: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin
            .write_all(s.as_bytes())
            .and_then(|_| stdin.write_all(b"\n"))
            .and_then(|_| stdin.flush())
            .expect("type");
    }

    pub fn interrupt(&self) {
        let ok = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status().expect("kill");
        assert!(ok.success());
    }

    /// [`finish`](Self::finish), and every line the process wrote on stdout that was not read yet.
    pub fn finish_with_stdout(self) -> (i32, String, Vec<String>) {
        let lines = self.lines.clone();
        let (code, err) = self.finish();
        // The process has exited: its stdout reader ends at end of file, closing the channel.
        let deadline = Instant::now() + WAIT;
        let mut out = Vec::new();
        while let Ok(l) = lines.recv_deadline(deadline) {
            out.push(l);
        }
        (code, err, out)
    }

    /// Closes its input, waits for exit (bounded) and returns the code and stderr.
    pub fn finish(mut self) -> (i32, String) {
        drop(self.stdin.take());
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                let mut err = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                return (status.code().unwrap_or(-1), err);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("sockchat did not exit in time");
            }
            // Polling a child's exit has no channel to wait on; a short pause keeps this loop cheap.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A test that fails half-way must not leave its server running after the test binary ends.
impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
