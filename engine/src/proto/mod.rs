//! The NATS wire protocol: a resumable zero-copy parser for both directions and encoders
//! for every op.

pub mod encode;
pub mod parser;

pub use parser::{
    ClientOp, ClientParser, OpKind, ParseError, ParserLimits, ServerOp, ServerParser,
};

#[cfg(test)]
mod tests;
