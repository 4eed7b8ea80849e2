//! Building blocks of the TV screen, one public component per file.

pub mod claims_table;
pub mod continue_to_app;
pub mod countdown;
pub mod home;
pub mod pairing_panel;
pub mod post_form;
pub mod qr_code;
pub mod signed_in_panel;
pub mod status_line;
pub mod user_code;
