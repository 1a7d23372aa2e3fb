//! The NATS wire protocol: a resumable zero-copy parser for both directions and encoders
//! for every op.

pub mod encode;
pub mod parser;
mod ranges;

pub use parser::{
    ClientOp, ClientParser, OpKind, ParseError, ParserLimits, ServerOp, ServerParser,
};
pub use ranges::{parse_decimal_u64, range_in, MsgRanges};

#[cfg(test)]
mod tests;
