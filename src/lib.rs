//! sockchat: a TCP chat whose network engine, terminal mode and window share one message model.
//!
//! The engine ([`engine`]) never touches the GUI and the GUI never touches a socket: everything between
//! them is a [`model::Event`] or an [`engine::Command`] on a channel.

pub mod access;
pub mod addr;
pub mod calls;
pub mod cli;
pub mod codec;
pub mod engine;
#[cfg(feature = "gui")]
pub mod gui;
pub mod headless;
pub mod log;
pub mod model;
pub mod protocol;
pub mod servers;
pub mod trust;
