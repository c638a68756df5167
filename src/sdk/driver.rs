//! A driver process: one long-lived Python or Node program per flavour
//! that speaks JSON lines (never one process per call: an SDK's import
//! alone costs hundreds of milliseconds).
//!
//! A driver that does not start (the SDK does not import, the interpreter
//! exits), crashes or stops answering is never a result about the SDK's
//! behaviour: it is an environment error, with the driver's own last lines
//! as the cause. Every read has a deadline, so a hung driver costs a bounded
//! time (`APICONFORM_SDK_CALL_TIMEOUT`, seconds, default 60).
//!
//! [`Pool`] hands a driver to one trial at a time; trials running in
//! parallel get a process each, and a driver that failed is dropped.

use super::env::Env;
use super::{Flavour, Language};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// Where one copy of a package is, and its version.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Copy {
    pub version: Option<String>,
    pub path: String,
}

/// What a driver process loaded of one package (`{"probe": NAME}`): the
/// copy the environment installed, and every copy the SDK's imports loaded.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq)]
#[serde(default)]
pub struct Probe {
    pub package: String,
    pub installed: Option<Copy>,
    pub loaded: Vec<Copy>,
}

fn seconds(var: &str, default: u64) -> Duration {
    Duration::from_secs(std::env::var(var).ok().and_then(|v| v.parse().ok()).filter(|s| *s > 0).unwrap_or(default))
}

pub struct Driver {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    /// The last lines the driver wrote to stderr (tracebacks, SDK logs).
    stderr: Arc<Mutex<VecDeque<String>>>,
    timeout: Duration,
    /// The installed versions of the SDK's key packages (the hello line).
    pub packages: BTreeMap<String, String>,
}

const STDERR_LINES: usize = 40;

impl Driver {
    /// Starts the driver of `f` in `env` and reads its hello line.
    pub fn start(drivers: &Path, f: &Flavour, env: &Env) -> Result<Driver, String> {
        let script = drivers.join(&f.driver);
        let mut cmd = match env.language {
            Language::Python => Command::new(env.dir.join("bin").join("python")),
            Language::Node => {
                let mut c = Command::new("node");
                c.env("NODE_PATH", env.dir.join("node_modules"));
                c
            }
        };
        let mut child = cmd
            .arg(&script)
            .args(&f.args)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the {} driver {}: {e}", f.name, script.display()))?;
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err("the driver has no pipes".into());
        };
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let tail: Arc<Mutex<VecDeque<String>>> = Arc::default();
        let keep = tail.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut t = keep.lock().unwrap_or_else(|e| e.into_inner());
                if t.len() == STDERR_LINES {
                    t.pop_front();
                }
                t.push_back(line);
            }
        });
        let timeout = seconds("APICONFORM_SDK_CALL_TIMEOUT", 60);
        let mut d = Driver { child, stdin, lines, stderr: tail, timeout, packages: BTreeMap::new() };
        let hello = d.read_line("start").map_err(|e| format!("the {} driver did not start: {e}", f.name))?;
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

    fn read_line(&mut self, what: &str) -> Result<String, String> {
        match self.lines.recv_timeout(self.timeout) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                Err(format!("no answer to {what} within {} s (killed){}", self.timeout.as_secs(), self.stderr_tail()))
            }
            Err(RecvTimeoutError::Disconnected) => {
                // Let the stderr reader drain what the process wrote last.
                let status = self.child.wait().map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                std::thread::sleep(Duration::from_millis(50));
                Err(format!("the driver exited ({status}){}", self.stderr_tail()))
            }
        }
    }

    /// `; its stderr ends:` and the driver's last lines, when it wrote any.
    fn stderr_tail(&self) -> String {
        let t = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        if t.is_empty() {
            return String::new();
        }
        let lines: Vec<&str> = t.iter().map(String::as_str).collect();
        format!("; its stderr ends:\n{}", lines[lines.len().saturating_sub(15)..].join("\n"))
    }

    fn send(&mut self, line: String, what: &str) -> Result<String, String> {
        let mut line = line;
        line.push('\n');
        if let Err(e) = self.stdin.write_all(line.as_bytes()).and_then(|_| self.stdin.flush()) {
            return Err(format!("writing to the driver: {e}{}", self.stderr_tail()));
        }
        self.read_line(what)
    }

    /// Sends one call and waits for its reply.
    pub fn call(&mut self, req: &Request) -> Result<Reply, String> {
        let line = serde_json::to_string(req).map_err(|e| e.to_string())?;
        let answer = self.send(line, &format!("a {} call", req.action))?;
        serde_json::from_str(&answer).map_err(|e| format!("the driver's reply is not JSON ({e}): {answer}"))
    }

    /// What this process loaded of `package`.
    pub fn probe(&mut self, package: &str) -> Result<Probe, String> {
        let answer = self.send(serde_json::json!({ "probe": package }).to_string(), "a probe")?;
        #[derive(Deserialize)]
        struct Answer {
            probe: Probe,
        }
        serde_json::from_str::<Answer>(&answer)
            .map(|a| a.probe)
            .map_err(|e| format!("the driver's probe answer is not one ({e}): {answer}"))
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
    drivers: PathBuf,
    flavour: Flavour,
    pub env: Env,
    idle: Mutex<Vec<Driver>>,
}

impl Pool {
    /// `drivers` is where the driver files are ([`super::bundle::Bundle::drivers_dir`]).
    pub fn new(drivers: &Path, flavour: &Flavour, env: Env) -> Pool {
        Pool { drivers: drivers.to_path_buf(), flavour: flavour.clone(), env, idle: Mutex::new(Vec::new()) }
    }

    pub fn flavour(&self) -> &Flavour {
        &self.flavour
    }

    /// An idle driver, or a new one.
    pub fn take(&self) -> Result<Driver, String> {
        if let Some(d) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(d);
        }
        Driver::start(&self.drivers, &self.flavour, &self.env)
    }

    /// Gives a driver back for the next trial.
    pub fn give(&self, d: Driver) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(d);
    }

    /// The package versions the driver reports (starts one if needed): also
    /// the proof that the SDK imports in this environment.
    pub fn packages(&self) -> Result<BTreeMap<String, String>, String> {
        let d = self.take()?;
        let p = d.packages.clone();
        self.give(d);
        Ok(p)
    }

    /// What the idle drivers (the processes that ran the trials) loaded of
    /// `package`: every copy any of them loaded.
    pub fn probe(&self, package: &str) -> Result<Probe, String> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.is_empty() {
            idle.push(Driver::start(&self.drivers, &self.flavour, &self.env)?);
        }
        let mut all = Probe { package: package.to_string(), ..Default::default() };
        for d in idle.iter_mut() {
            let p = d.probe(package)?;
            all.installed = all.installed.or(p.installed);
            all.loaded.extend(p.loaded);
        }
        all.loaded.sort();
        all.loaded.dedup();
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdk::{Language, WireShape};

    /// A Python "environment" (the interpreter running the tests) and a
    /// driver script that misbehaves as told.
    fn setup(name: &str, script: &str) -> (PathBuf, Flavour, Env) {
        let root = std::env::temp_dir().join(format!("apiconform-driver-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("env/bin")).unwrap();
        std::fs::create_dir_all(root.join("drivers")).unwrap();
        let python = std::env::var("APICONFORM_PYTHON").unwrap_or_else(|_| "python3".into());
        let found = std::process::Command::new("sh").args(["-c", &format!("command -v {python}")]).output().unwrap();
        let path = String::from_utf8_lossy(&found.stdout).trim().to_string();
        std::os::unix::fs::symlink(path, root.join("env/bin/python")).unwrap();
        std::fs::write(root.join("drivers/d.py"), script).unwrap();
        let wire = WireShape { signature: "acs3".into(), method: "POST".into(), params_in: "query".into() };
        let f = Flavour {
            name: "test".into(),
            vendor: "aliyun".into(),
            sdk: "test".into(),
            language: Language::Python,
            driver: "d.py".into(),
            args: vec![],
            package: "six".into(),
            wire,
        };
        let env = Env::at(&root.join("env"), Language::Python);
        (root, f, env)
    }

    const HELLO: &str = "import sys, json, time\nprint(json.dumps({'hello': {'packages': {}}}), flush=True)\n";

    fn call() -> Request<'static> {
        let credentials = serde_json::json!({});
        Request {
            id: 1,
            action: "A",
            version: "v",
            service: "s",
            endpoint: "e",
            region: "r",
            credentials,
            auth: "valid",
            params: vec![],
        }
    }

    #[test]
    fn a_driver_that_cannot_import_its_sdk_fails_to_start_with_its_own_lines() {
        let (root, f, env) =
            setup("import", "import sys\nsys.stderr.write('ImportError: cannot import name X\\n')\nsys.exit(3)\n");
        let e = Driver::start(&root.join("drivers"), &f, &env).err().expect("no driver");
        assert!(e.contains("did not start") && e.contains("exit status: 3"), "{e}");
        assert!(e.contains("ImportError: cannot import name X"), "{e}");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_driver_that_crashes_or_hangs_on_a_call_is_an_error_in_bounded_time() {
        let crash = format!("{HELLO}sys.stdin.readline()\nsys.stderr.write('RuntimeError: died\\n')\nsys.exit(1)\n");
        let (root, f, env) = setup("crash", &crash);
        let mut d = Driver::start(&root.join("drivers"), &f, &env).expect("it starts");
        let e = d.call(&call()).expect_err("no reply");
        assert!(e.contains("exited") && e.contains("RuntimeError: died"), "{e}");
        let _ = std::fs::remove_dir_all(&root);

        let (root, f, env) = setup("hang", &format!("{HELLO}sys.stdin.readline()\ntime.sleep(60)\n"));
        let mut d = Driver::start(&root.join("drivers"), &f, &env).expect("it starts");
        d.timeout = Duration::from_millis(300);
        // The script sleeps a minute: only the deadline ends the wait.
        let e = d.call(&call()).expect_err("no reply");
        assert!(e.contains("no answer") && e.contains("killed"), "{e}");
        let _ = std::fs::remove_dir_all(&root);
    }
}
