//! A driver process: one long-lived Python or Node program per flavour
//! that speaks JSON lines (never one process per call: an SDK's import
//! alone costs hundreds of milliseconds).
//!
//! [`Pool`] hands a driver to one trial at a time; trials running in
//! parallel get a process each, and a driver that stops answering is
//! dropped and replaced by the next trial.

use super::env::Env;
use super::{Flavour, Language};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;

/// What the driver reported for one call.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Reply {
    pub outcome: String,
    pub reason: Option<String>,
    pub status: Option<u16>,
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
    pub body: Value,
    pub exception: Option<Exception>,
    pub dropped: Vec<String>,
}

/// The exception an SDK raised.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Exception {
    pub class: String,
    pub bases: Vec<String>,
    pub retry_after: Option<Value>,
    pub attributes: Vec<String>,
}

/// One call: everything the driver needs, nothing it must guess.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Request<'a> {
    pub id: u64,
    pub action: &'a str,
    pub version: &'a str,
    pub service: &'a str,
    pub endpoint: &'a str,
    pub region: &'a str,
    pub credentials: Value,
    pub auth: &'a str,
    pub params: Vec<Value>,
}

pub struct Driver {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    log: PathBuf,
    /// The installed versions of the SDK's key packages (the hello line).
    pub packages: BTreeMap<String, String>,
}

impl Driver {
    /// Starts the driver of `f` in `env` and reads its hello line.
    pub fn start(sdk: &Path, f: &Flavour, env: &Env) -> Result<Driver, String> {
        let script = sdk.join("drivers").join(f.driver);
        let mut cmd = match env.language {
            Language::Python => Command::new(env.dir.join("bin").join("python")),
            Language::Node => {
                let mut c = Command::new("node");
                c.env("NODE_PATH", env.dir.join("node_modules"));
                c
            }
        };
        let log = env.dir.join(format!("driver-{}.log", f.name));
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let mut child = cmd
            .arg(&script)
            .args(f.args)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| format!("cannot start the {} driver {}: {e}", f.name, script.display()))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("the driver has no pipes".into());
        };
        let mut d = Driver { child, stdin, stdout: BufReader::new(stdout), log, packages: BTreeMap::new() };
        let hello = d.read_line()?;
        #[derive(Deserialize)]
        struct Hello {
            hello: HelloBody,
        }
        #[derive(Deserialize)]
        struct HelloBody {
            #[serde(default)]
            packages: BTreeMap<String, Option<String>>,
        }
        let h: Hello = serde_json::from_str(&hello)
            .map_err(|e| format!("the {} driver's first line is not a hello ({e}): {hello}", f.name))?;
        d.packages = h.hello.packages.into_iter().map(|(k, v)| (k, v.unwrap_or_else(|| "-".into()))).collect();
        Ok(d)
    }

    fn read_line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        match self.stdout.read_line(&mut line) {
            Ok(0) => Err(format!("the driver exited; its log ({}) ends:\n{}", self.log.display(), self.log_tail())),
            Ok(_) => Ok(line),
            Err(e) => Err(format!("reading from the driver: {e}")),
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(12)..].join("\n")
    }

    /// Sends one call and waits for its reply.
    pub fn call(&mut self, req: &Request) -> Result<Reply, String> {
        let mut line = serde_json::to_string(req).map_err(|e| e.to_string())?;
        line.push('\n');
        self.stdin
            .write_all(line.as_bytes())
            .and_then(|_| self.stdin.flush())
            .map_err(|e| format!("writing to the driver: {e}; its log ends:\n{}", self.log_tail()))?;
        let answer = self.read_line()?;
        serde_json::from_str(&answer).map_err(|e| format!("the driver's reply is not JSON ({e}): {answer}"))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Idle drivers of one flavour in one environment.
pub struct Pool {
    sdk: PathBuf,
    flavour: &'static Flavour,
    pub env: Env,
    idle: Mutex<Vec<Driver>>,
}

impl Pool {
    pub fn new(sdk: &Path, flavour: &'static Flavour, env: Env) -> Pool {
        Pool { sdk: sdk.to_path_buf(), flavour, env, idle: Mutex::new(Vec::new()) }
    }

    pub fn flavour(&self) -> &'static Flavour {
        self.flavour
    }

    /// An idle driver, or a new one.
    pub fn take(&self) -> Result<Driver, String> {
        if let Some(d) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(d);
        }
        Driver::start(&self.sdk, self.flavour, &self.env)
    }

    /// Gives a driver back for the next trial.
    pub fn give(&self, d: Driver) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(d);
    }

    /// The package versions the driver reports (starts one if needed).
    pub fn packages(&self) -> Result<BTreeMap<String, String>, String> {
        let d = self.take()?;
        let p = d.packages.clone();
        self.give(d);
        Ok(p)
    }
}
