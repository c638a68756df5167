//! Discovery and checking: `cases/` on disk to a [`Suite`] the runner trusts.
//!
//! Layout: `cases/<vendor>/common-errors.yaml`, and per API
//! `cases/<vendor>/<service>/<Action>/{api.yaml, world.yaml, *.yaml}`.
//! Every problem found is collected as a [`Diagnostic`](crate::diag::Diagnostic)
//! with a position, so `apiconform lint` can report them all at once.
//! Nothing here panics on user input, and nothing the user wrote is ignored:
//! unknown fields, duplicate case names, unknown parameters, missing
//! fixtures and undocumented codes are all errors.
//!
//! Four parts: [`model`] (the checked types ten modules read), [`tree`]
//! (where the files are, and reading them safely), `loader` (the layout)
//! and `lint` (every rule a case must pass).

mod lint;
mod loader;
pub mod model;
pub mod tree;

pub use model::{Api, Case, CaseStep, CheckedExpect, Location, Suite};
pub use tree::{Tree, MAX_FILE_BYTES};
