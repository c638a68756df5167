//! apiconform: a conformance harness for cloud vendor APIs.
//!
//! One pipeline: **discover** the case files under `cases/` ([`suite`]),
//! **build** one trial per case and target ([`runner`]), **run** each trial
//! by sending real, signed HTTP requests ([`protocol`]) to a target (the
//! in-process [`emulator`], the wiremock [`mock`], or the live cloud), and
//! compare the normalized response with the case's expectation.
//!
//! Known limits are listed in `ARCHITECTURE.md`.

pub mod case;
pub mod clock;
pub mod contract;
pub mod coverage;
pub mod diag;
pub mod emulator;
pub mod explore;
pub mod html;
pub mod live;
pub mod mock;
pub mod model;
pub mod normalize;
pub mod parity;
pub mod protocol;
pub mod recording;
pub mod report;
pub mod results;
pub mod runner;
pub mod scaffold;
pub mod sdk;
pub mod shipped;
pub mod signing;
pub mod suite;
pub mod template;
pub mod term;
pub mod vendor;
pub mod window;
pub mod world;
pub mod yaml;
