//! Server-side apply of a phase's objects: ordering now; the applier, readiness and prune come with `tacos deploy`.

pub mod order;
