//! Server-side apply of a phase's objects: ordering, the applier (discovery, conflicts, dry run, prune), readiness rules and waiting.

pub mod applier;
pub mod applyset;
pub mod diff;
pub mod drift;
pub mod hooks;
pub mod live;
pub mod order;
pub mod readiness;
pub mod wait;

pub use applier::{Applied, Applier, ApplyError, ApplyOptions, FIELD_MANAGER, Mode, Outcome};
