//! The pairing core end to end in tokio's paused time: a hub on the in-memory store and a
//! scripted provider, every transition of a session's life checked in virtual seconds.

mod fleet;
mod flow;
mod limits;
mod signed_in;
