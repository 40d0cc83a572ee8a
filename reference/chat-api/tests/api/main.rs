//! The chat-api over real HTTP. `consumer`: wiremock stands in for the
//! auth-api, to pin down what the chat-api asks of it and how it takes each
//! failure. `end_to_end`: the real reference auth-api in-process, and both
//! stores (SQLite, and a real MongoDB-protocol server).

mod helpers;

mod consumer;
mod end_to_end;
