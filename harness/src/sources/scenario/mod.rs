//! The scenario format: the contract as data. A model and its parser, no
//! I/O beyond reading the files; `scenarios/README.md` documents the format.

mod expectation;
mod load;
mod model;
mod parse;
mod raw;
mod template;

pub use load::{bundled, bundled_snapshot, load, load_dir};
pub use model::{
    Auth, Body, ChallengeExpect, Check, Expect, JsonAssert, JsonOp, JsonType, JwtAssert, JwtPart,
    Level, May, Observe, Request, Scenario, Service, Step, Walk, Window,
};
pub use parse::{ANSWER_PREFIX, ScenarioError, parse};
pub use template::{Vars, render, render_value};
