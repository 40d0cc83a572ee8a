//! The harness's own tests: it passes the reference, and it catches the
//! seed's bug and five other plausible ones, each re-created by a layer
//! around a reference service, so that no check passes vacuously.

mod breaks;
mod faults;
mod fronts;
mod helpers;

mod alone;
mod catches;
mod causes;
mod clauses;
mod cleanup;
mod cli;
mod connections;
mod coverage;
mod dependencies;
mod deployment;
mod gating;
mod html;
mod library;
mod long_run;
mod observation;
mod reference;
mod snapshots;
mod templates;
mod tls;
mod variant;
