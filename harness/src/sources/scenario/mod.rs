//! The scenario format: the contract as data. A model and its parser, no
//! I/O beyond reading the files; `scenarios/README.md` documents the format.

mod model;
mod parse;
mod template;

pub use model::{
    Auth, Body, ChallengeExpect, Check, Expect, JsonAssert, JsonOp, JsonType, JwtAssert, JwtPart,
    Level, May, Observe, Request, Scenario, Service, Step, Walk, Window,
};
pub use parse::{ANSWER_PREFIX, ScenarioError, bundled, bundled_snapshot, load, load_dir, parse};
pub use template::{Vars, render, render_value};
