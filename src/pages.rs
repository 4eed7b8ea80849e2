//! Screens. The TV has one page whose content follows its status.

pub mod tv;
