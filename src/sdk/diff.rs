//! What an SDK upgrade changes (placeholder while the trial lands).
