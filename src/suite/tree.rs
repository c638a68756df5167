//! The files the loader reads, wherever they are: the cases embedded in the
//! binary (in memory) and a user's directory (on disk), laid over one
//! another by relative path. Both kinds go through [`Tree::read`], so a
//! shipped file and a user's file meet the same limits, and nothing is
//! copied anywhere first.
//!
//! A case directory may come from a pull request, so the disk side trusts
//! nothing in it. Listing it reads names and file types only, never
//! contents, and goes no deeper than the layout does
//! (`<vendor>/<service>/<Action>/<file>`). Only regular files inside the
//! root are read: a symlink is followed only when it resolves to a regular
//! file inside the root (a link to `/proc/self/environ` or to any file
//! outside is refused unread, and its target is never named); a FIFO, a
//! device or a socket is refused before it is opened. A file is opened
//! without following a link and without blocking, its kind and size are
//! checked on the open file, and it is read to at most [`MAX_FILE_BYTES`].
//! Its text must be UTF-8 without control characters (YAML allows none but
//! tab and line breaks), so a diagnostic can quote a line of it safely.

use crate::diag::{Diagnostic, Pos};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

/// The largest file the loader reads (1 MiB; the largest `api.yaml` today is
/// 17 KB). Larger files are refused with a diagnostic, unread.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// How deep the layout goes: `<vendor>/<service>/<Action>/<file>`.
const DEPTH: usize = 4;

/// An embedded tree: relative path (with `/`) and contents.
pub type Files<'a> = &'a [(&'a str, &'a [u8])];

/// Case files by relative path, each knowing where it comes from and how
/// messages name it.
#[derive(Debug, Default)]
pub struct Tree<'a> {
    /// How messages name the root.
    root: PathBuf,
    /// Each directory's entries by name (the root is the empty path).
    dirs: BTreeMap<PathBuf, BTreeMap<OsString, Node<'a>>>,
    /// Problems found while listing (a directory that cannot be read).
    problems: Vec<Diagnostic>,
}

/// One entry of a directory.
#[derive(Debug, Clone)]
pub struct Node<'a> {
    /// The path messages show: the user's own path (the link, not its
    /// target), or `cases/...` for a shipped file.
    pub shown: PathBuf,
    body: Body<'a>,
}

#[derive(Debug, Clone)]
enum Body<'a> {
    Dir,
    Memory(&'a [u8]),
    /// A regular file, or a symlink's target inside the root.
    Disk(PathBuf),
    /// Listed, never to be read: why, and what to do.
    Refused(String, &'static str),
}

impl<'a> Tree<'a> {
    /// The embedded files, named `shown/<path>` in messages. Paths that are
    /// not plain relative ones, hidden files and files deeper than the
    /// layout are left out, as on disk.
    pub fn memory(shown: &Path, files: Files<'a>) -> Tree<'a> {
        let mut tree = Tree { root: shown.to_path_buf(), ..Tree::default() };
        tree.dirs.insert(PathBuf::new(), BTreeMap::new());
        for (rel, bytes) in files {
            let rel = Path::new(rel);
            if listed(rel) {
                tree.insert(rel, Body::Memory(bytes));
            }
        }
        tree
    }

    /// The directory `root` on disk, named `shown/<path>` in messages; only
    /// names and file types are read here. An error when `root` is not a
    /// readable directory.
    pub fn disk(root: &Path, shown: &Path) -> Result<Tree<'static>, Diagnostic> {
        let refuse = |e: String| {
            Diagnostic::new(shown, Pos::default(), format!("cannot read the cases directory: {e}"))
                .hint("--cases (or APICONFORM_CASES) must name a directory")
        };
        let real = std::fs::canonicalize(root).map_err(|e| refuse(e.to_string()))?;
        let top = std::fs::read_dir(&real).map_err(|e| refuse(e.to_string()))?;
        let mut tree = Tree { root: shown.to_path_buf(), ..Tree::default() };
        tree.dirs.insert(PathBuf::new(), BTreeMap::new());
        let mut pending = vec![(PathBuf::new(), top)];
        while let Some((rel, listing)) = pending.pop() {
            for entry in listing {
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) => {
                        tree.problem(&rel, format!("cannot read directory: {e}"));
                        break;
                    }
                };
                let child = rel.join(entry.file_name());
                if !listed(&child) {
                    continue;
                }
                let body = kind_of(&real, &entry.path(), entry.file_type().ok());
                if matches!(body, Body::Dir) && child.components().count() < DEPTH {
                    match std::fs::read_dir(entry.path()) {
                        Ok(l) => pending.push((child.clone(), l)),
                        Err(e) => tree.problem(&child, format!("cannot read directory: {e}")),
                    }
                }
                tree.insert(&child, body);
            }
        }
        Ok(tree)
    }

    /// This tree with `top` laid over it: a file of `top` replaces the file
    /// at the same path, new ones add; `top` names the root.
    pub fn overlay(mut self, top: Tree<'a>) -> Tree<'a> {
        for (dir, entries) in top.dirs {
            self.dirs.entry(dir).or_default().extend(entries);
        }
        self.problems.extend(top.problems);
        self.root = top.root;
        self
    }

    /// How messages name the root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Problems found while listing.
    pub fn problems(&self) -> &[Diagnostic] {
        &self.problems
    }

    /// The entries of directory `dir` (relative), by name.
    pub fn entries<'t>(&'t self, dir: &'t Path) -> impl Iterator<Item = (PathBuf, &'t Node<'a>)> + 't {
        self.dirs.get(dir).into_iter().flatten().map(move |(name, node)| (dir.join(name), node))
    }

    /// Every file's relative path (directories and refused entries left out).
    pub fn files(&self) -> impl Iterator<Item = PathBuf> + '_ {
        self.dirs.iter().flat_map(|(dir, entries)| {
            entries
                .iter()
                .filter(|(_, n)| matches!(n.body, Body::Memory(_) | Body::Disk(_)))
                .map(|(name, _)| dir.join(name))
        })
    }

    /// How messages name `rel`, whether or not it exists.
    pub fn shown(&self, rel: &Path) -> PathBuf {
        match (rel.parent(), rel.file_name()) {
            (Some(dir), Some(name)) => match self.dirs.get(dir).and_then(|d| d.get(name)) {
                Some(node) => node.shown.clone(),
                None => self.shown(dir).join(name),
            },
            _ => self.root.clone(),
        }
    }

    /// The text of file `rel`, read once through every check; a diagnostic
    /// naming the file when it cannot be read or is not text.
    pub fn read(&self, rel: &Path) -> Result<String, Diagnostic> {
        let shown = self.shown(rel);
        let err = |msg: String| Diagnostic::new(&shown, Pos::default(), msg);
        let node = rel.parent().zip(rel.file_name()).and_then(|(d, n)| self.dirs.get(d)?.get(n));
        let bytes = match node.map(|n| &n.body) {
            None => return Err(err("cannot read file: it does not exist".into())),
            Some(Body::Dir) => return Err(err("cannot read file: it is a directory".into())),
            Some(Body::Refused(why, hint)) => return Err(err(why.clone()).hint(*hint)),
            Some(Body::Memory(bytes)) => {
                check_size(bytes.len() as u64).map_err(|m| err(m).hint(SPLIT))?;
                bytes.to_vec()
            }
            Some(Body::Disk(path)) => read_disk(path).map_err(|(m, hint)| err(m).hint(hint))?,
        };
        text(&shown, bytes)
    }

    fn insert(&mut self, rel: &Path, body: Body<'a>) {
        let (Some(dir), Some(name)) = (rel.parent(), rel.file_name()) else { return };
        if !self.dirs.contains_key(dir) {
            self.insert(dir, Body::Dir);
        }
        if matches!(body, Body::Dir) {
            self.dirs.entry(rel.to_path_buf()).or_default();
        }
        let shown = self.root.join(rel);
        self.dirs.entry(dir.to_path_buf()).or_default().insert(name.to_os_string(), Node { shown, body });
    }

    fn problem(&mut self, rel: &Path, msg: String) {
        let shown = self.root.join(rel);
        self.problems.push(Diagnostic::new(&shown, Pos::default(), msg));
    }
}

impl Node<'_> {
    pub fn is_dir(&self) -> bool {
        matches!(self.body, Body::Dir)
    }

    /// Whether the entry was refused while listing (a symlink out of the
    /// root, a FIFO): reading it gives the reason.
    pub fn is_refused(&self) -> bool {
        matches!(self.body, Body::Refused(..))
    }
}

/// Whether a relative path belongs in the tree: plain parts only, none
/// hidden (`.schema/` of `apiconform init`, editors' files), within the
/// layout's depth.
fn listed(rel: &Path) -> bool {
    let parts: Vec<Component> = rel.components().collect();
    !parts.is_empty()
        && parts.len() <= DEPTH
        && parts.iter().all(|c| matches!(c, Component::Normal(n) if !n.to_string_lossy().starts_with('.')))
}

const SPLIT: &str = "split it; a case file tests one condition";
const REGULAR: &str = "replace it with a plain file inside the case directory, or remove it";

/// What a directory entry is, from its type (no contents read). A symlink
/// is resolved, and kept only when it leads to a regular file inside `real`.
fn kind_of(real: &Path, path: &Path, ty: Option<std::fs::FileType>) -> Body<'static> {
    let Some(ty) = ty else { return Body::Refused("cannot read file: its type is unknown".into(), REGULAR) };
    if ty.is_dir() {
        return Body::Dir;
    }
    if ty.is_file() {
        return Body::Disk(path.to_path_buf());
    }
    if !ty.is_symlink() {
        return Body::Refused(format!("not a regular file ({}); only regular files are read", kind_name(&ty)), REGULAR);
    }
    let target = match std::fs::canonicalize(path) {
        Ok(t) => t,
        Err(e) => return Body::Refused(format!("cannot read file: a symlink that does not resolve ({e})"), REGULAR),
    };
    if !target.starts_with(real) {
        return Body::Refused(
            "a symlink to a file outside the case directory; only files inside it are read".into(),
            "copy the file into the case directory",
        );
    }
    match std::fs::metadata(&target) {
        Ok(m) if m.is_file() => Body::Disk(target),
        Ok(m) => {
            Body::Refused(format!("a symlink to {}; only regular files are read", kind_name(&m.file_type())), REGULAR)
        }
        Err(e) => Body::Refused(format!("cannot read file: {e}"), REGULAR),
    }
}

fn kind_name(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

fn check_size(n: u64) -> Result<(), String> {
    match n > MAX_FILE_BYTES {
        true => Err(format!("the file is {n} bytes; the limit is {MAX_FILE_BYTES} (1 MiB)")),
        false => Ok(()),
    }
}

/// Reads a file listed on disk: opened without following a symlink and
/// without blocking (a FIFO put there since the listing), then its kind
/// and size are checked on the open file, and at most the limit is read.
fn read_disk(path: &Path) -> Result<Vec<u8>, (String, &'static str)> {
    use std::io::Read;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW | libc::O_NONBLOCK);
    let cannot = |e: std::io::Error| (format!("cannot read file: {e}"), REGULAR);
    let file = options.open(path).map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    if !meta.is_file() {
        let kind = kind_name(&meta.file_type());
        return Err((format!("not a regular file ({kind}); only regular files are read"), REGULAR));
    }
    check_size(meta.len()).map_err(|m| (m, SPLIT))?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(cannot)?;
    check_size(bytes.len() as u64).map_err(|m| (m, SPLIT))?;
    Ok(bytes)
}

/// The bytes as text: UTF-8, with no control character but tab, line feed
/// and carriage return. The diagnostic names the position of the first bad
/// byte and quotes nothing.
fn text(file: &Path, bytes: Vec<u8>) -> Result<String, Diagnostic> {
    let s = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let valid = std::str::from_utf8(&bytes[..at]).unwrap_or_default();
            let msg = format!("the file is not UTF-8: byte 0x{:02X} cannot start a character here", bytes[at]);
            return Err(Diagnostic::new(file, position(valid, at), msg).hint("save the file as UTF-8"));
        }
    };
    match s.char_indices().find(|(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        None => Ok(s),
        Some((at, c)) => Err(Diagnostic::new(
            file,
            position(&s, at),
            format!("the file holds the control character U+{:04X}", c as u32),
        )
        .hint("write it as an escape inside double quotes (\"\\e\", \"\\x01\") or remove it")),
    }
}

/// The 1-based line and column of byte `at` of `text`, a line ending at
/// `\n`, `\r\n` or a lone `\r` (as YAML counts them).
pub fn position(text: &str, at: usize) -> Pos {
    let before = &text.as_bytes()[..at];
    let lines = memchr::memchr_iter(b'\n', before).count()
        + memchr::memchr_iter(b'\r', before).filter(|&i| before.get(i + 1) != Some(&b'\n')).count();
    let start = memchr::memrchr2(b'\n', b'\r', before).map_or(0, |i| i + 1);
    let col = text[start..at].chars().count() + 1;
    let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Pos::new(clamp(lines + 1), clamp(col))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_within_the_layout_are_listed() {
        assert!(listed(Path::new("aliyun/ecs/X/x.yaml")));
        for p in ["../x.yaml", "/etc/passwd", "a/.hidden.yaml", ".schema/case.json", "a/b/c/d/e.yaml", ""] {
            assert!(!listed(Path::new(p)), "{p}");
        }
    }

    #[test]
    fn a_layer_replaces_files_and_keeps_the_others() {
        let low = Tree::memory(Path::new("cases"), &[("v/s/A/a.yaml", b"low"), ("v/s/A/b.yaml", b"low")]);
        let top = Tree::memory(Path::new("mine"), &[("v/s/A/a.yaml", b"top"), ("v/s/B/c.yaml", b"top")]);
        let t = low.overlay(top);
        assert_eq!(t.read(Path::new("v/s/A/a.yaml")).unwrap(), "top");
        assert_eq!(t.read(Path::new("v/s/A/b.yaml")).unwrap(), "low");
        assert_eq!(t.shown(Path::new("v/s/A/a.yaml")), Path::new("mine/v/s/A/a.yaml"));
        assert_eq!(t.shown(Path::new("v/s/A/b.yaml")), Path::new("cases/v/s/A/b.yaml"));
        assert_eq!(t.shown(Path::new("v/s/A/none.yaml")), Path::new("mine/v/s/A/none.yaml"));
        let names: Vec<PathBuf> = t.entries(Path::new("v/s")).map(|(p, _)| p).collect();
        assert_eq!(names, [Path::new("v/s/A"), Path::new("v/s/B")]);
        assert_eq!(t.files().count(), 3);
    }

    #[test]
    fn positions_count_every_kind_of_line_end() {
        let t = "a\r\nb\rc\nd";
        assert_eq!(position(t, t.find('d').unwrap()), Pos::new(4, 1));
        assert_eq!(position(t, t.find('c').unwrap()), Pos::new(3, 1));
        assert_eq!(position("é x", "é x".find('x').unwrap()), Pos::new(1, 3));
    }

    #[test]
    fn control_characters_are_refused_and_not_quoted() {
        let d = text(Path::new("x.yaml"), b"name: a\ncondition: \x1b]0;title\x07\n".to_vec()).unwrap_err();
        assert_eq!((d.pos.line, d.pos.column, d.source_line.as_deref()), (2, 12, None));
        assert!(d.message.contains("U+001B"), "{d}");
        let d = text(Path::new("x.yaml"), b"a: \xff\xfe secret\n".to_vec()).unwrap_err();
        assert_eq!((d.pos.line, d.pos.column, d.source_line.as_deref()), (1, 4, None));
        assert!(text(Path::new("x.yaml"), b"a:\tb\r\n".to_vec()).is_ok());
    }
}
