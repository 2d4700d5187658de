//! wstate: a sans-IO WebSocket protocol state machine.
#![no_std]
#![forbid(unsafe_code)]
extern crate alloc;

pub mod close;
mod config;
mod connection;
pub mod error;
mod event;
pub mod frame;
pub mod handshake;
mod http;
pub mod mask;
pub mod utf8;

pub use close::{CloseCode, CloseFrame};
pub use config::Config;
pub use connection::{Connection, ConnectionState, Entropy, Role};
pub use error::{Error, HandshakeError, ProtocolError, SendError};
pub use event::{Event, Message};
pub use handshake::{Accept, Accepted, ClientRequest, Request};
