//! # rnats-engine
//!
//! The sans-IO core of rnats, a NATS server written in Rust. This crate holds everything
//! that does not touch a socket, a runtime or a clock: the wire parser and encoder, subject
//! validation and the sublist, options and config-file parsing, authentication and
//! permissions, and the server and connection state machines.
//!
//! It performs no I/O, spawns no threads and never reads the clock: time comes in as a
//! [`time::Instant`] argument. Frontends (tokio, smol, WebSocket, wasm) feed it bytes and
//! drain the bytes it wants written. See [`server`] for the driving contract.
#![cfg_attr(not(feature = "std"), no_std)]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod auth;
pub mod cli;
pub mod client;
pub mod config;
pub mod error;
pub mod log;
pub mod monitor;
mod nkey;
pub mod options;
pub mod proto;
mod rand;
pub mod server;
pub mod subject;
pub mod sublist;
pub mod sync;
pub mod time;
pub mod websocket;

mod prelude;
