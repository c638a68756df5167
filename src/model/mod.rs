//! The emulator's model: each tenant's state ([`state::State`]), its
//! idempotency records ([`tokens`]) and the vocabulary the business rules
//! speak ([`rules`]). It sits below both the vendor wings, whose rules are
//! written against it, and the emulator, which serves requests over it; it
//! imports neither, so that what it needs from a vendor's descriptor (the ID
//! format, how key pairs are named, the throttling code) is handed in by the
//! caller.

pub mod rules;
pub mod state;
pub mod tokens;
