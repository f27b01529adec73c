//! Error type shared by the codec, the extension parsers and the
//! connection state machine.

use std::fmt;

/// Why a stream, a message or a connection was rejected.
///
/// Every malformed input maps to one of these kinds; nothing in this crate
/// panics on input from the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The handshake did not start with `\x13BitTorrent protocol`.
    BadProtocolString,
    /// The peer's handshake named an info-hash we did not offer or do not serve.
    InfoHashMismatch,
    /// The peer's handshake carried our own peer id (we connected to ourselves).
    SelfConnection,
    /// A length prefix larger than the configured maximum message length.
    MessageTooLarge { len: u32, max: u32 },
    /// A message whose payload length is wrong for its id.
    BadMessageLength { id: u8, len: u32 },
    /// A message id this crate does not know (when unknown ids are an error).
    UnknownMessage { id: u8 },
    /// A message that belongs to an extension that was not negotiated in the
    /// handshake (e.g. a BEP 6 message without the fast bit).
    NotNegotiated { id: u8 },
    /// A message received before the handshake finished, or after close.
    UnexpectedMessage(&'static str),
    /// A bitfield of the wrong length, or with spare bits set.
    BadBitfield,
    /// A BEP 52 `hashes` message that is not a valid reply: a malformed
    /// request header, or a number of hashes other than the requested run
    /// plus its proof.
    InvalidHashes,
    /// A `have`, `suggest`, `allowed fast` or request naming a piece out of range.
    PieceOutOfRange { piece: u32 },
    /// A request whose offset/length fall outside the piece or exceed the limit.
    BadRequest,
    /// A malformed extension message (bencode or semantic error).
    BadExtension(String),
    /// The peer sent more outstanding requests than it was allowed.
    TooManyRequests,
    /// The connection was idle for longer than the inactivity timeout.
    Timeout(&'static str),
    /// The local side asked for something the peer did not negotiate.
    NotSupported(&'static str),
    /// An MSE/PE (stream encryption) handshake failure.
    Encryption(&'static str),
    /// The connection was closed locally.
    Closed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadProtocolString => f.write_str("invalid protocol string in handshake"),
            Error::InfoHashMismatch => f.write_str("info-hash in handshake does not match"),
            Error::SelfConnection => f.write_str("connected to ourselves"),
            Error::MessageTooLarge { len, max } => {
                write!(f, "message length {len} exceeds the limit of {max}")
            }
            Error::BadMessageLength { id, len } => {
                write!(f, "invalid length {len} for message id {id}")
            }
            Error::UnknownMessage { id } => write!(f, "unknown message id {id}"),
            Error::NotNegotiated { id } => {
                write!(
                    f,
                    "message id {id} belongs to an extension that was not negotiated"
                )
            }
            Error::UnexpectedMessage(what) => write!(f, "unexpected message: {what}"),
            Error::BadBitfield => f.write_str("invalid bitfield"),
            Error::InvalidHashes => f.write_str("invalid hashes"),
            Error::PieceOutOfRange { piece } => write!(f, "piece index {piece} out of range"),
            Error::BadRequest => f.write_str("invalid block request"),
            Error::BadExtension(why) => write!(f, "invalid extension message: {why}"),
            Error::TooManyRequests => f.write_str("too many outstanding requests from peer"),
            Error::Timeout(what) => write!(f, "timed out: {what}"),
            Error::NotSupported(what) => write!(f, "not supported by peer: {what}"),
            Error::Encryption(what) => write!(f, "encryption handshake failed: {what}"),
            Error::Closed => f.write_str("connection closed"),
        }
    }
}

impl std::error::Error for Error {}
