//! Where the cases come from, so that an installed binary works in any
//! directory: the `cases/` tree shipped inside the binary, a user's own
//! case directory laid over it (new files add, a file at the same relative
//! path replaces the shipped one), or the user's directory alone.
//!
//! The binary embeds the files (`include_dir!` in `main.rs`, so only the
//! binary recompiles when a case changes) and hands them here as
//! `(relative path, bytes)`; they are read from memory, the user's files
//! from disk, both through the same checks ([`Tree`]). Messages name a
//! user's file by its path and a shipped one as `cases/...`.

use crate::diag::Diagnostics;
use crate::suite::{Suite, Tree};
use std::path::Path;

pub use crate::suite::tree::Files;

/// How shipped files are named in messages: the repository's layout.
pub const SHIPPED_ROOT: &str = "cases";

/// Which cases to load.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// The shipped cases only.
    Shipped,
    /// The user's directory over the shipped cases.
    Overlay(&'a Path),
    /// The user's directory alone (`--no-shipped`).
    Only(&'a Path),
}

/// Loads the suite from `source`; `shipped` is the shipped tree
/// ([`embedded`], or the source tree of a debug build).
pub fn load(shipped: Tree, source: Source) -> Result<Suite, Diagnostics> {
    let tree = match source {
        Source::Shipped => shipped,
        Source::Overlay(dir) => shipped.overlay(user(dir)?),
        Source::Only(dir) => user(dir)?,
    };
    Suite::load_tree(&tree)
}

/// The embedded files as the shipped tree, named `cases/...`.
pub fn embedded(files: Files) -> Tree {
    Tree::memory(Path::new(SHIPPED_ROOT), files)
}

/// The shipped tree read from a directory on disk (a debug build beside
/// its source tree), named `cases/...` all the same.
pub fn on_disk(dir: &Path) -> Result<Tree<'static>, Diagnostics> {
    Tree::disk(dir, Path::new(SHIPPED_ROOT)).map_err(|d| Diagnostics(vec![d]))
}

fn user(dir: &Path) -> Result<Tree<'static>, Diagnostics> {
    Tree::disk(dir, dir).map_err(|d| Diagnostics(vec![d]))
}

/// Whether `dir` lists other case files than `embedded`: a file added or
/// removed since the binary was built (`include_dir!` sees edits to the
/// files it embedded, not new ones, on stable Rust). Names only; nothing
/// is read.
pub fn listing_differs(embedded: Files, dir: &Path) -> bool {
    let Ok(on_disk) = Tree::disk(dir, dir) else { return false };
    let built = Tree::memory(Path::new(SHIPPED_ROOT), embedded);
    on_disk.files().ne(built.files())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_makes_the_listing_differ() {
        let dir = std::env::temp_dir().join(format!("apiconform-listing-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("a")).unwrap();
        std::fs::write(dir.join("a/x.yaml"), "x").unwrap();
        assert!(!listing_differs(&[("a/x.yaml", b"old")], &dir), "contents do not matter");
        std::fs::write(dir.join("a/y.yaml"), "y").unwrap();
        assert!(listing_differs(&[("a/x.yaml", b"x")], &dir));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_user_directory_is_a_diagnostic() {
        let e = load(embedded(&[]), Source::Overlay(Path::new("/nonexistent/apiconform"))).unwrap_err();
        assert!(e.0[0].message.contains("cannot read the cases directory"), "{e}");
    }
}
