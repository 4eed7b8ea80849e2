//! Browser-only effects behind `use_*` hooks: the push stream, the clock, key handling. On
//! the server they do nothing.

pub mod use_activity;
pub mod use_countdown;
pub mod use_dpad_focus;
pub mod use_status_stream;
