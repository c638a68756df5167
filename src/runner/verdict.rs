//! The verdict: pure functions from an expectation and a normalized
//! response to failure lines, and the live retry policy.
//!
//! Why apart: these are the harness's judgement. They take values and give
//! values (no I/O, no target), so the SDK target and the fidelity tests
//! judge exactly as the runner does.

use crate::contract::message_matches;
use crate::protocol::Normalized;
use crate::suite::{Api, CaseStep, CheckedExpect};
use crate::template::Bindings;
use serde_json::Value;
use std::fmt::Write;

/// A dotted path into a body; numeric parts index arrays (`Disks.Disk.0.Status`).
pub(crate) fn lookup<'a>(body: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(body, |v, k| match (v, k.parse::<usize>()) {
        (Value::Array(a), Ok(i)) => a.get(i),
        _ => v.get(k),
    })
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Compares a response with an expectation; appends readable failures.
/// The last of them gets one more line naming where the expectation is
/// written (`file:line:column`), as a loading error would.
pub fn check(step: &str, e: &CheckedExpect, n: &Normalized, b: &Bindings, failures: &mut Vec<String>) {
    let before = failures.len();
    check_status(step, e, n, failures);
    check_body(step, e, n, b, failures);
    if let (Some(at), true) = (&e.at, failures.len() > before) {
        if let Some(last) = failures.last_mut() {
            let _ = write!(last, "\n{:>w$}the expectation is at {at}", "", w = step.len() + 2);
        }
    }
}

fn check_status(step: &str, e: &CheckedExpect, n: &Normalized, failures: &mut Vec<String>) {
    let got = format!(
        "got HTTP {} code {} message {:?}",
        n.status,
        n.code.as_deref().unwrap_or("(none)"),
        n.message.as_deref().unwrap_or("")
    );
    if n.status != e.status || n.code != e.code {
        failures.push(format!(
            "{step}: expected HTTP {} code {}\n{:>w$}{got}",
            e.status,
            e.code.as_deref().unwrap_or("(none: a success)"),
            "",
            w = step.len() + 2
        ));
    }
    let msg = n.message.as_deref().unwrap_or("");
    if let Some(m) = &e.message {
        if msg != m {
            failures.push(format!(
                "{step}: expected message {m:?}\n{:>width$}got message {msg:?}",
                "",
                width = step.len() + 2
            ));
        }
    } else if e.code.is_some()
        && e.code == n.code
        && !e.documented.is_empty()
        && !e.documented.iter().any(|d| message_matches(&d.message, msg))
    {
        let docs: Vec<&str> = e.documented.iter().map(|d| d.message.as_str()).collect();
        failures.push(format!("{step}: message {msg:?} is not the documented {docs:?}"));
    }
    if let Some(c) = &e.message_contains {
        if !msg.contains(c.as_str()) {
            failures.push(format!("{step}: expected the message to contain {c:?}, {got}"));
        }
    }
}

fn check_body(step: &str, e: &CheckedExpect, n: &Normalized, b: &Bindings, failures: &mut Vec<String>) {
    for (path, c) in &e.body {
        let v = lookup(&n.body, path);
        let txt = v.map(text_of);
        if let Some(want) = c.exists {
            if v.is_some() != want {
                failures.push(format!(
                    "{step}: body.{path}: expected {}, body is {}",
                    if want { "present" } else { "absent" },
                    n.body
                ));
            }
        }
        if let Some(eq) = &c.equals {
            let want = b.resolve(eq);
            if txt.as_deref() != Some(want.as_str()) {
                failures.push(format!("{step}: body.{path}: expected {want:?}, got {txt:?}"));
            }
        }
        if let Some(ne) = &c.not_equals {
            let other = b.resolve(ne);
            if txt.as_deref() == Some(other.as_str()) {
                failures.push(format!("{step}: body.{path}: expected a value other than {other:?}"));
            }
        }
        if let Some(re) = &c.matches {
            let ok = crate::case::body_regex(re).is_ok_and(|r| txt.as_deref().is_some_and(|t| r.is_match(t)));
            if !ok {
                failures.push(format!("{step}: body.{path}: {txt:?} does not match /{re}/"));
            }
        }
    }
}

/// Saves the step's `save:` values for later steps.
pub fn save(step: &CaseStep, n: &Normalized, b: &mut Bindings, failures: &mut Vec<String>) {
    for (var, path) in &step.save {
        match lookup(&n.body, path) {
            Some(v) => {
                b.saved.insert(var.clone(), text_of(v));
            }
            None => failures.push(format!("{}: cannot save `{var}`: the response has no `{path}`", step.name)),
        }
    }
}

/// With DryRun, an expected success becomes the API's documented DryRun
/// answer; an expected error stays (the checks run before DryRun answers).
pub(crate) fn dry_run_expectation(api: &Api, e: &CheckedExpect) -> CheckedExpect {
    if e.status >= 300 {
        return e.clone();
    }
    let documented: Vec<_> = api.contract.errors_for("DryRunOperation").cloned().collect();
    match documented.first() {
        Some(d) => CheckedExpect {
            status: d.status,
            code: Some(d.code.clone()),
            message: None,
            message_contains: None,
            assumed: e.assumed.clone(),
            body: Default::default(),
            documented: documented.clone(),
            at: e.at.clone(),
        },
        None => e.clone(),
    }
}

/// A call that creates a resource without a ClientToken: if it reached the
/// cloud, running it again would leave a second, untracked resource.
pub(crate) fn creates_twice(action: &str, params: &[(String, String)]) -> bool {
    action.starts_with("Create") && !params.iter().any(|(k, _)| k == "ClientToken")
}

/// Throttling is retried (live only): the call was refused, not run. A 5xx
/// is retried unless running the call twice could do something twice: a
/// call that creates a resource (`Create*`) without a ClientToken would
/// leave a second, untracked one. Nothing else is retried.
pub(crate) fn retryable(n: &Normalized, action: &str, params: &[(String, String)]) -> bool {
    if n.status == 429 || n.code.as_deref().is_some_and(crate::vendor::is_throttling) {
        return true;
    }
    n.status >= 500 && !creates_twice(action, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_safe_calls_are_retried() {
        let answer = |status: u16, code: &str| Normalized {
            status,
            code: Some(code.to_string()),
            message: None,
            request_id: None,
            body: Value::Null,
        };
        let token = vec![("ClientToken".to_string(), "t".to_string())];
        assert!(retryable(&answer(400, "Throttling.User"), "CreateSnapshot", &[]));
        assert!(retryable(&answer(400, "ThrottlingException"), "ModifyInstanceImage", &[]));
        assert!(retryable(&answer(503, "ServiceUnavailable"), "ResetDisk", &[]));
        assert!(retryable(&answer(503, "ServiceUnavailable"), "CreateSnapshot", &token));
        assert!(!retryable(&answer(503, "ServiceUnavailable"), "CreateSnapshot", &[]));
        assert!(!retryable(&answer(403, "IncorrectInstanceStatus"), "ReplaceSystemDisk", &token));
    }
}
