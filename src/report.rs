//! Running a selection of trials in parallel, and the one place that turns
//! their results into reports: the summary table, JUnit XML and a Markdown
//! summary for a CI job page.
//!
//! Everything here is built from trial results whose messages and
//! transcripts the normalizer already redacted: no report can carry an
//! access key, secret, token or signature.

pub use crate::runner::TrialResult;
use crate::runner::{Harness, Skips, Target, Verdict};
use crate::suite::{Api, Case, Suite};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Which trials to run.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Substrings of `vendor::service::Action::case`; empty means all.
    pub filters: Vec<String>,
    /// `(k, n)`: the k-th of n shards (1-based). Cases are dealt round-robin
    /// in suite order, so the shards are disjoint and their union is the set.
    pub shard: Option<(usize, usize)>,
}

impl Selection {
    /// Parses `K/N`.
    pub fn parse_shard(s: &str) -> Result<(usize, usize), String> {
        let (k, n) = s.split_once('/').ok_or_else(|| format!("`{s}`: write the shard as K/N, e.g. 2/4"))?;
        let (k, n): (usize, usize) = (
            k.parse().map_err(|_| format!("`{k}` is not a number"))?,
            n.parse().map_err(|_| format!("`{n}` is not a number"))?,
        );
        if n == 0 || k == 0 || k > n {
            return Err(format!("shard {k}/{n}: K must be between 1 and N"));
        }
        Ok((k, n))
    }

    /// The selected cases, in suite order.
    pub fn cases<'a>(&self, suite: &'a Suite) -> Vec<(&'a Api, &'a Case)> {
        let all = suite.apis.iter().flat_map(|a| a.cases.iter().map(move |c| (a, c)));
        let matching = all.filter(|(a, c)| {
            let name = format!("{}::{}", a.path(), c.name);
            self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
        });
        matching.enumerate().filter(|(i, _)| self.shard.is_none_or(|(k, n)| i % n == k - 1)).map(|(_, x)| x).collect()
    }
}

/// Runs every selected case on every target, in parallel; `progress` sees
/// each result as it lands. Results come back in suite order.
pub fn run(
    suite: &Suite,
    harness: &Harness,
    targets: &[Target],
    sel: &Selection,
    progress: &(dyn Fn(&TrialResult, usize, usize) + Sync),
) -> Vec<TrialResult> {
    let cases = sel.cases(suite);
    let work: Vec<(usize, Target)> = (0..cases.len()).flat_map(|i| targets.iter().map(move |t| (i, *t))).collect();
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(2, 8);
    let job = |w: usize| {
        let (i, target) = work[w];
        let (api, case) = cases[i];
        harness.execute(api, case, target, Skips::Honour)
    };
    parallel(work.len(), workers, &job, progress)
}

/// Runs jobs `0..n` on `workers` threads (trials wait on sockets and
/// processes more than on a core); `progress` sees each result as it lands,
/// with how many are done. Results come back in job order.
pub fn parallel<T: Send>(
    n: usize,
    workers: usize,
    job: &(dyn Fn(usize) -> T + Sync),
    progress: &(dyn Fn(&T, usize, usize) + Sync),
) -> Vec<T> {
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<(usize, T)>> = Mutex::new(Vec::with_capacity(n));
    std::thread::scope(|s| {
        for _ in 0..workers.clamp(1, n.max(1)) {
            s.spawn(|| loop {
                let w = {
                    let mut next = next.lock().unwrap_or_else(|e| e.into_inner());
                    let w = *next;
                    *next += 1;
                    w
                };
                if w >= n {
                    break;
                }
                let r = job(w);
                let mut all = results.lock().unwrap_or_else(|e| e.into_inner());
                all.push((w, r));
                progress(&all.last().expect("just pushed").1, all.len(), n);
            });
        }
    });
    let mut all = results.into_inner().unwrap_or_else(|e| e.into_inner());
    all.sort_by_key(|(w, _)| *w);
    all.into_iter().map(|(_, r)| r).collect()
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// Passed, failed and skipped per API, and in total.
pub fn counts(results: &[TrialResult]) -> (BTreeMap<String, Counts>, Counts) {
    let mut per: BTreeMap<String, Counts> = BTreeMap::new();
    let mut total = Counts::default();
    for r in results {
        let c = per.entry(r.api.clone()).or_default();
        for c in [c, &mut total] {
            match r.verdict {
                Verdict::Pass => c.passed += 1,
                Verdict::Fail => c.failed += 1,
                Verdict::Skip => c.skipped += 1,
            }
        }
    }
    (per, total)
}

/// The table `apiconform run` prints.
pub fn table(results: &[TrialResult]) -> String {
    let (per, total) = counts(results);
    let per: Vec<(std::borrow::Cow<str>, &Counts)> = per.iter().map(|(api, c)| (crate::term::clean(api), c)).collect();
    let width = per.iter().map(|(api, _)| api.len()).max().unwrap_or(3).max(5);
    let mut s = String::new();
    let _ = writeln!(s, "{:<width$}  {:>6}  {:>6}  {:>7}", "API", "passed", "failed", "skipped");
    for (api, c) in &per {
        let _ = writeln!(s, "{api:<width$}  {:>6}  {:>6}  {:>7}", c.passed, c.failed, c.skipped);
    }
    let _ = writeln!(s, "{:<width$}  {:>6}  {:>6}  {:>7}", "total", total.passed, total.failed, total.skipped);
    s
}

/// JUnit XML: one test suite per API, one test case per trial.
pub fn junit(results: &[TrialResult]) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("apiconform");
    let mut suites: BTreeMap<String, TestSuite> = BTreeMap::new();
    for r in results {
        let status = match r.verdict {
            Verdict::Pass => TestCaseStatus::success(),
            Verdict::Skip => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(r.detail.join("; "));
                s
            }
            Verdict::Fail => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(r.detail.first().cloned().unwrap_or_default());
                s.set_description(format!("{}\n\n{}", r.detail.join("\n"), r.transcript));
                s
            }
        };
        let mut tc = TestCase::new(format!("{}::{}", r.case, r.target.name()), status);
        tc.set_classname(r.api.clone());
        tc.set_time(r.duration);
        if !r.retries.is_empty() {
            tc.set_system_out(format!("retries:\n{}", r.retries.join("\n")));
        }
        suites.entry(r.api.clone()).or_insert_with(|| TestSuite::new(r.api.clone())).add_test_case(tc);
    }
    report.add_test_suites(suites.into_values());
    report.to_string().unwrap_or_default()
}

/// A Markdown summary for a CI job page.
pub fn markdown(results: &[TrialResult], title: &str) -> String {
    let (per, total) = counts(results);
    let mut s = format!("## {title}\n\n| API | passed | failed | skipped |\n|---|---:|---:|---:|\n");
    for (api, c) in &per {
        let _ = writeln!(s, "| `{api}` | {} | {} | {} |", c.passed, c.failed, c.skipped);
    }
    let _ = writeln!(s, "| **total** | **{}** | **{}** | **{}** |", total.passed, total.failed, total.skipped);
    let failed: Vec<&TrialResult> = results.iter().filter(|r| r.verdict == Verdict::Fail).collect();
    if !failed.is_empty() {
        let _ = writeln!(s, "\n### Failures\n");
        for r in failed {
            let _ = writeln!(s, "- `{}`: {}", r.name(), r.detail.join("; ").replace('\n', " "));
        }
    }
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for r in results.iter().filter(|r| r.verdict == Verdict::Skip) {
        *reasons.entry(r.detail.first().map(String::as_str).unwrap_or("")).or_default() += 1;
    }
    if !reasons.is_empty() {
        let _ = writeln!(s, "\n### Skipped\n");
        for (reason, n) in reasons {
            let _ = writeln!(s, "- {n} × {reason}");
        }
    }
    let retries: usize = results.iter().map(|r| r.retries.len()).sum();
    if retries > 0 {
        let _ = writeln!(s, "\n{retries} retried request(s); see the JUnit output.");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_disjoint_and_their_union_is_the_whole_set() {
        let suite = Suite::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cases")).unwrap();
        let name = |(a, c): (&Api, &Case)| format!("{}::{}", a.path(), c.name);
        let all: Vec<String> = Selection::default().cases(&suite).into_iter().map(name).collect();
        for n in [1, 2, 3, 7] {
            let mut union: Vec<String> = Vec::new();
            for k in 1..=n {
                let shard = Selection { shard: Some((k, n)), ..Default::default() }.cases(&suite);
                union.extend(shard.into_iter().map(name));
            }
            let total = union.len();
            union.sort();
            union.dedup();
            assert_eq!(total, union.len(), "{n} shards overlap");
            let mut expected = all.clone();
            expected.sort();
            assert_eq!(union, expected, "{n} shards miss cases");
        }
    }

    #[test]
    fn shards_parse_and_refuse_nonsense() {
        assert_eq!(Selection::parse_shard("2/4"), Ok((2, 4)));
        assert!(Selection::parse_shard("0/4").is_err());
        assert!(Selection::parse_shard("5/4").is_err());
        assert!(Selection::parse_shard("x").is_err());
    }
}
