//! Package names and versions, checked against each ecosystem's own
//! grammar before anything reaches pip or npm.
//!
//! Why: `sdk diff --package P --to V` hands user text to an installer.
//! pip reads `x @ https://…` as "install from this URL" and `-e…` as an
//! option; npm reads `github:user/repo`, a path or a tarball URL as a
//! package. Only a registry name and an exact version (or `latest`) are
//! ever installed: PEP 508 names and PEP 440 versions for Python, npm
//! package names and semver for Node. The installers are also given `--`
//! before the value, so nothing can be read as an option.

use super::Language;
use regex::Regex;
use std::sync::OnceLock;

fn pep508_name() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(?i)^([a-z0-9]|[a-z0-9][a-z0-9._-]*[a-z0-9])$").expect("valid regex"))
}

/// PEP 440, Appendix B (the canonical public and local version pattern).
fn pep440_version() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(concat!(
            r"(?i)^v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*",
            r"(?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_.]?[0-9]*)?",
            r"(?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?",
            r"(?:[-_.]?dev[-_.]?[0-9]*)?",
            r"(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?$"
        ))
        .expect("valid regex")
    })
}

/// npm's package-name rule (validate-npm-package-name, for new packages).
fn npm_name() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^(?:@[a-z0-9-*~][a-z0-9-*._~]*/)?[a-z0-9-~][a-z0-9-._~]*$").expect("valid regex"))
}

/// semver 2.0.0 (the pattern semver.org gives).
fn semver() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(concat!(
            r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)",
            r"(?:-((?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*))?",
            r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
        ))
        .expect("valid regex")
    })
}

/// Why `value` may never reach an installer, whatever the grammar says.
fn dangerous(value: &str) -> Option<&'static str> {
    if value.starts_with('-') {
        return Some("it starts with `-` and would be read as an option");
    }
    if value.contains("://") || value.contains('@') && !value.starts_with('@') || value.contains(':') {
        return Some("a URL, a path or a VCS reference is never installed; name a registry package");
    }
    if value.contains('/') && !value.starts_with('@') || value.contains('\\') {
        return Some("a path is never installed; name a registry package");
    }
    None
}

/// Checks a package name for `language`'s registry.
pub fn package(language: Language, name: &str) -> Result<(), String> {
    if let Some(why) = dangerous(name) {
        return Err(format!("`{name}` is not a package name: {why}"));
    }
    let ok = match language {
        Language::Python => pep508_name().is_match(name),
        Language::Node => name.len() <= 214 && npm_name().is_match(name),
    };
    match (ok, language) {
        (true, _) => Ok(()),
        (false, Language::Python) => Err(format!(
            "`{name}` is not a PyPI package name (PEP 508: letters, digits, `.`, `_` and `-`, starting and ending with a letter or digit)"
        )),
        (false, Language::Node) => Err(format!(
            "`{name}` is not an npm package name (lowercase letters, digits, `-`, `.`, `_`, `~`, optionally `@scope/`; at most 214 characters)"
        )),
    }
}

/// Checks a version (or `latest`) for `language`'s registry: an exact
/// PEP 440 version for Python, an exact semver for Node. A label of a set
/// pinned under `sdk/upgrades/` (`7.3.0+tea-openapi-0.3.16`) is a valid
/// PEP 440 local version.
pub fn version(language: Language, v: &str) -> Result<(), String> {
    if v == "latest" {
        return Ok(());
    }
    if let Some(why) = dangerous(v) {
        return Err(format!("`{v}` is not a version: {why}"));
    }
    match language {
        Language::Python if pep440_version().is_match(v) => Ok(()),
        Language::Python => Err(format!("`{v}` is not a version (PEP 440, e.g. `7.11.8`, `2.0.0rc1`) or `latest`")),
        Language::Node if semver().is_match(v) => Ok(()),
        Language::Node => Err(format!("`{v}` is not an exact version (semver, e.g. `1.8.0`) or `latest`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Language::{Node, Python};

    #[test]
    fn registry_names_pass() {
        for n in ["alibabacloud-tea-openapi", "alibabacloud_ecs20140526", "six", "A.b-c_d", "x"] {
            assert_eq!(package(Python, n), Ok(()), "{n}");
        }
        for n in ["@alicloud/pop-core", "httpx", "kitx", "@volcengine/openapi", "lodash.merge"] {
            assert_eq!(package(Node, n), Ok(()), "{n}");
        }
    }

    #[test]
    fn urls_options_and_paths_are_refused() {
        for n in [
            "x @ https://example.com/x.whl",
            "-e.",
            "--index-url=http://evil",
            "git+https://github.com/a/b",
            "./local",
            "/tmp/x.whl",
            "x[extra]",
            "x==1.0",
            "-",
            "",
        ] {
            assert!(package(Python, n).is_err(), "{n}");
        }
        for n in [
            "github:user/repo",
            "user/repo",
            "https://registry.example/x.tgz",
            "file:../x",
            "-g",
            "X",
            "@scope/X",
            ".hidden",
            "pop-core@1.0.0",
        ] {
            assert!(package(Node, n).is_err(), "{n}");
        }
    }

    #[test]
    fn versions_follow_each_grammar() {
        for v in ["7.11.8", "2.0.0rc1", "1.0.post2", "1!2.0", "0.3.16", "7.3.0+tea-openapi-0.3.16", "latest"] {
            assert_eq!(version(Python, v), Ok(()), "{v}");
        }
        for v in ["1.8.0", "1.0.0-beta.2", "1.7.10", "latest"] {
            assert_eq!(version(Node, v), Ok(()), "{v}");
        }
        for v in ["-e", "--pre", ">=1.0", "1.0; os_name=='nt'", "https://x/y", "1.0 ", "", "*"] {
            assert!(version(Python, v).is_err(), "{v}");
        }
        for v in ["^1.0.0", "1.x", "1.0", "latest-1", "npm:x@1", "01.0.0", "-1.0.0"] {
            assert!(version(Node, v).is_err(), "{v}");
        }
    }
}
