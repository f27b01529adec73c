//! The peer wire messages (BEP 3, BEP 6, BEP 10, BEP 52) and an
//! incremental, bounded decoder over a receive buffer.
//!
//! # Zero-copy receive
//!
//! [`MessageDecoder::decode`] works on a [`BytesMut`] receive buffer. A
//! decoded message's variable-size parts (a `piece` block, a bitfield, an
//! extended payload) are [`Bytes`] views split off that buffer: no copy is
//! made. A block can therefore be written to disk straight from the bytes
//! the socket read landed in — the only copy is the write itself (two if
//! MSE/RC4 is in use, which decrypts in place before decoding).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use lt_core::Sha256Hash;

use crate::Error;

/// Message ids.
pub mod id {
    pub const CHOKE: u8 = 0;
    pub const UNCHOKE: u8 = 1;
    pub const INTERESTED: u8 = 2;
    pub const NOT_INTERESTED: u8 = 3;
    pub const HAVE: u8 = 4;
    pub const BITFIELD: u8 = 5;
    pub const REQUEST: u8 = 6;
    pub const PIECE: u8 = 7;
    pub const CANCEL: u8 = 8;
    pub const PORT: u8 = 9;
    pub const SUGGEST: u8 = 13;
    pub const HAVE_ALL: u8 = 14;
    pub const HAVE_NONE: u8 = 15;
    pub const REJECT: u8 = 16;
    pub const ALLOWED_FAST: u8 = 17;
    pub const EXTENDED: u8 = 20;
    pub const HASH_REQUEST: u8 = 21;
    pub const HASHES: u8 = 22;
    pub const HASH_REJECT: u8 = 23;
}

/// Default maximum message length (the length prefix), in bytes:
/// large enough for a 16 KiB block plus header and for the bitfield of a
/// torrent with 8 million pieces, small enough to bound memory per peer.
pub const DEFAULT_MAX_MESSAGE_LEN: u32 = 1024 * 1024;

/// A block of a piece: `(piece, offset, length)`, as carried by `request`,
/// `cancel` and `reject`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockRequest {
    pub piece: u32,
    pub offset: u32,
    pub length: u32,
}

impl BlockRequest {
    pub fn new(piece: u32, offset: u32, length: u32) -> Self {
        BlockRequest {
            piece,
            offset,
            length,
        }
    }
}

/// The header shared by BEP 52 `hash request`, `hashes` and `hash reject`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HashRequest {
    /// Root of the file's merkle tree.
    pub pieces_root: Sha256Hash,
    /// Layer of the requested hashes (0 = leaf blocks).
    pub base_layer: u32,
    /// Offset of the first hash in that layer.
    pub index: u32,
    /// Number of hashes requested.
    pub length: u32,
    /// Number of uncle-hash layers wanted for the proof.
    pub proof_layers: u32,
}

impl HashRequest {
    /// Largest `length` accepted by [`HashRequest::validate`] (as libtorrent).
    pub const MAX_LENGTH: u32 = 8192;

    /// Highest layer a request may name (`base_layer`, `proof_layers`): a
    /// file of at most 2^63 bytes has 2^49 blocks, so its tree is 49
    /// layers tall.
    pub const MAX_LAYER: u32 = 63;

    /// The checks that need no knowledge of the file: `length` a power of
    /// two of at most [`MAX_LENGTH`](Self::MAX_LENGTH), `index` a multiple
    /// of `length`, and layers a tree can have. BEP 52 asks for a length of
    /// at least 2, but libtorrent itself may ask for one hash (the tail of a
    /// file whose last 512-piece run holds a single piece), so 1 is allowed.
    pub fn validate(&self) -> bool {
        self.length >= 1
            && self.length <= Self::MAX_LENGTH
            && self.length.is_power_of_two()
            && self.index.is_multiple_of(self.length)
            && self.base_layer <= Self::MAX_LAYER
            && self.proof_layers <= Self::MAX_LAYER
    }

    /// [`validate`](Self::validate) plus the checks against the file the
    /// request names, which has `file_num_blocks` 16 KiB blocks (libtorrent's
    /// rules): the base layer lies below the root, the hashes lie within
    /// it, and the proof stops below the root.
    pub fn validate_for_file(&self, file_num_blocks: u64) -> bool {
        if !self.validate() || file_num_blocks == 0 {
            return false;
        }
        let Some(leaves) = file_num_blocks.checked_next_power_of_two() else {
            return false;
        };
        let num_layers = leaves.trailing_zeros();
        if self.base_layer >= num_layers {
            return false;
        }
        let layer_size = leaves >> self.base_layer;
        u64::from(self.index) + u64::from(self.length) <= layer_size
            && self.proof_layers < num_layers - self.base_layer
    }

    /// Number of uncle hashes a `hashes` reply to this request carries
    /// after its `length` base-layer hashes: one for every layer from the
    /// root of the requested run up to `proof_layers` above the base layer.
    pub fn num_proof_hashes(&self) -> u32 {
        let run_layers = self.length.max(1).trailing_zeros();
        (self.proof_layers.min(Self::MAX_LAYER) + 1).saturating_sub(run_layers)
    }

    /// Number of hashes a `hashes` reply to this request carries.
    pub fn reply_len(&self) -> u64 {
        u64::from(self.length) + u64::from(self.num_proof_hashes())
    }

    fn write(&self, out: &mut BytesMut) {
        out.put_slice(&self.pieces_root.0);
        out.put_u32(self.base_layer);
        out.put_u32(self.index);
        out.put_u32(self.length);
        out.put_u32(self.proof_layers);
    }

    fn read(b: &[u8]) -> Option<HashRequest> {
        if b.len() < 48 {
            return None;
        }
        let u = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut root = [0u8; 32];
        root.copy_from_slice(&b[..32]);
        Some(HashRequest {
            pieces_root: Sha256Hash(root),
            base_layer: u(32),
            index: u(36),
            length: u(40),
            proof_layers: u(44),
        })
    }
}

/// One peer wire message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    KeepAlive,
    Choke,
    Unchoke,
    Interested,
    NotInterested,
    Have(u32),
    /// The raw bitfield bytes; validate with [`crate::Bitfield::from_wire`].
    Bitfield(Bytes),
    Request(BlockRequest),
    /// A block of data; `data` is a view of the receive buffer.
    Piece {
        piece: u32,
        offset: u32,
        data: Bytes,
    },
    Cancel(BlockRequest),
    /// BEP 5: the peer's DHT port.
    Port(u16),
    /// BEP 6.
    Suggest(u32),
    HaveAll,
    HaveNone,
    Reject(BlockRequest),
    AllowedFast(u32),
    /// BEP 10: extended message `id` (0 is the extension handshake).
    Extended {
        id: u8,
        payload: Bytes,
    },
    /// BEP 52.
    HashRequest(HashRequest),
    /// BEP 52: `hashes` holds a whole number of 32-byte hashes.
    Hashes {
        request: HashRequest,
        hashes: Bytes,
    },
    HashReject(HashRequest),
    /// A message id this crate does not know, with its payload.
    Unknown {
        id: u8,
        payload: Bytes,
    },
}

impl Message {
    /// The message id, `None` for keep-alive.
    pub fn id(&self) -> Option<u8> {
        Some(match self {
            Message::KeepAlive => return None,
            Message::Choke => id::CHOKE,
            Message::Unchoke => id::UNCHOKE,
            Message::Interested => id::INTERESTED,
            Message::NotInterested => id::NOT_INTERESTED,
            Message::Have(_) => id::HAVE,
            Message::Bitfield(_) => id::BITFIELD,
            Message::Request(_) => id::REQUEST,
            Message::Piece { .. } => id::PIECE,
            Message::Cancel(_) => id::CANCEL,
            Message::Port(_) => id::PORT,
            Message::Suggest(_) => id::SUGGEST,
            Message::HaveAll => id::HAVE_ALL,
            Message::HaveNone => id::HAVE_NONE,
            Message::Reject(_) => id::REJECT,
            Message::AllowedFast(_) => id::ALLOWED_FAST,
            Message::Extended { .. } => id::EXTENDED,
            Message::HashRequest(_) => id::HASH_REQUEST,
            Message::Hashes { .. } => id::HASHES,
            Message::HashReject(_) => id::HASH_REJECT,
            Message::Unknown { id, .. } => *id,
        })
    }

    /// Length of the payload after the 4-byte length prefix (id included).
    pub fn wire_len(&self) -> usize {
        match self {
            Message::KeepAlive => 0,
            Message::Choke
            | Message::Unchoke
            | Message::Interested
            | Message::NotInterested
            | Message::HaveAll
            | Message::HaveNone => 1,
            Message::Have(_) | Message::Suggest(_) | Message::AllowedFast(_) => 5,
            Message::Bitfield(b) => 1 + b.len(),
            Message::Request(_) | Message::Cancel(_) | Message::Reject(_) => 13,
            Message::Piece { data, .. } => 9 + data.len(),
            Message::Port(_) => 3,
            Message::Extended { payload, .. } => 2 + payload.len(),
            Message::HashRequest(_) | Message::HashReject(_) => 49,
            Message::Hashes { hashes, .. } => 49 + hashes.len(),
            Message::Unknown { payload, .. } => 1 + payload.len(),
        }
    }

    /// Appends the wire form (length prefix included) to `out`.
    ///
    /// For a `piece` this copies the block; to send a block without copying
    /// it, write [`piece_header`] and then the block's bytes.
    pub fn encode(&self, out: &mut BytesMut) {
        let len = self.wire_len();
        out.reserve(4 + len);
        out.put_u32(len as u32);
        let Some(mid) = self.id() else { return };
        out.put_u8(mid);
        match self {
            Message::Have(i) | Message::Suggest(i) | Message::AllowedFast(i) => out.put_u32(*i),
            Message::Bitfield(b) => out.put_slice(b),
            Message::Request(r) | Message::Cancel(r) | Message::Reject(r) => {
                out.put_u32(r.piece);
                out.put_u32(r.offset);
                out.put_u32(r.length);
            }
            Message::Piece {
                piece,
                offset,
                data,
            } => {
                out.put_u32(*piece);
                out.put_u32(*offset);
                out.put_slice(data);
            }
            Message::Port(p) => out.put_u16(*p),
            Message::Extended { id, payload } => {
                out.put_u8(*id);
                out.put_slice(payload);
            }
            Message::HashRequest(h) | Message::HashReject(h) => h.write(out),
            Message::Hashes { request, hashes } => {
                request.write(out);
                out.put_slice(hashes);
            }
            Message::Unknown { payload, .. } => out.put_slice(payload),
            _ => {}
        }
    }

    /// The wire form in a new buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut b = BytesMut::new();
        self.encode(&mut b);
        b.freeze()
    }

    /// Parses one message payload (the bytes after the length prefix, id
    /// first). `body` must be the whole payload; an empty body is keep-alive.
    pub fn parse(mut body: Bytes) -> Result<Message, Error> {
        let len = body.len() as u32;
        if body.is_empty() {
            return Ok(Message::KeepAlive);
        }
        let mid = body.get_u8();
        let bad = || Error::BadMessageLength { id: mid, len };
        let exact = |n: u32| if len == n { Ok(()) } else { Err(bad()) };
        let block = |b: &mut Bytes| BlockRequest {
            piece: b.get_u32(),
            offset: b.get_u32(),
            length: b.get_u32(),
        };
        Ok(match mid {
            id::CHOKE => exact(1).map(|_| Message::Choke)?,
            id::UNCHOKE => exact(1).map(|_| Message::Unchoke)?,
            id::INTERESTED => exact(1).map(|_| Message::Interested)?,
            id::NOT_INTERESTED => exact(1).map(|_| Message::NotInterested)?,
            id::HAVE_ALL => exact(1).map(|_| Message::HaveAll)?,
            id::HAVE_NONE => exact(1).map(|_| Message::HaveNone)?,
            id::HAVE => {
                exact(5)?;
                Message::Have(body.get_u32())
            }
            id::SUGGEST => {
                exact(5)?;
                Message::Suggest(body.get_u32())
            }
            id::ALLOWED_FAST => {
                exact(5)?;
                Message::AllowedFast(body.get_u32())
            }
            id::BITFIELD => Message::Bitfield(body),
            id::REQUEST => {
                exact(13)?;
                Message::Request(block(&mut body))
            }
            id::CANCEL => {
                exact(13)?;
                Message::Cancel(block(&mut body))
            }
            id::REJECT => {
                exact(13)?;
                Message::Reject(block(&mut body))
            }
            id::PIECE => {
                if len < 9 {
                    return Err(bad());
                }
                let piece = body.get_u32();
                let offset = body.get_u32();
                Message::Piece {
                    piece,
                    offset,
                    data: body,
                }
            }
            id::PORT => {
                exact(3)?;
                Message::Port(body.get_u16())
            }
            id::EXTENDED => {
                if len < 2 {
                    return Err(bad());
                }
                let id = body.get_u8();
                Message::Extended { id, payload: body }
            }
            id::HASH_REQUEST | id::HASH_REJECT => {
                exact(49)?;
                let h = HashRequest::read(&body).ok_or_else(bad)?;
                if mid == id::HASH_REQUEST {
                    Message::HashRequest(h)
                } else {
                    Message::HashReject(h)
                }
            }
            id::HASHES => {
                if len < 49 || !(len - 49).is_multiple_of(32) {
                    return Err(bad());
                }
                let request = HashRequest::read(&body).ok_or_else(bad)?;
                body.advance(48);
                Message::Hashes {
                    request,
                    hashes: body,
                }
            }
            other => Message::Unknown {
                id: other,
                payload: body,
            },
        })
    }
}

/// The 13-byte header of a `piece` message carrying `len` bytes of block.
/// Send it followed by the block itself to avoid copying the block.
pub fn piece_header(piece: u32, offset: u32, len: u32) -> [u8; 13] {
    let mut h = [0u8; 13];
    h[..4].copy_from_slice(&(9 + len).to_be_bytes());
    h[4] = id::PIECE;
    h[5..9].copy_from_slice(&piece.to_be_bytes());
    h[9..13].copy_from_slice(&offset.to_be_bytes());
    h
}

/// Incremental decoder of length-prefixed messages.
///
/// It never allocates more than `max_len` on behalf of a length prefix: a
/// prefix above the limit is an error as soon as its 4 bytes are in.
#[derive(Clone, Copy, Debug)]
pub struct MessageDecoder {
    max_len: u32,
}

impl Default for MessageDecoder {
    fn default() -> Self {
        MessageDecoder {
            max_len: DEFAULT_MAX_MESSAGE_LEN,
        }
    }
}

impl MessageDecoder {
    /// A decoder that rejects length prefixes above `max_len`.
    pub fn new(max_len: u32) -> Self {
        MessageDecoder { max_len }
    }

    pub fn max_len(&self) -> u32 {
        self.max_len
    }

    /// Length of the next message (prefix included) if its prefix is in
    /// `buf`, so the caller can size its next read. Errors on an oversized
    /// prefix.
    pub fn next_len(&self, buf: &[u8]) -> Result<Option<usize>, Error> {
        let Some(p) = buf.get(..4) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
        if len > self.max_len {
            return Err(Error::MessageTooLarge {
                len,
                max: self.max_len,
            });
        }
        Ok(Some(4 + len as usize))
    }

    /// Takes the next complete message off the front of `buf`, or returns
    /// `Ok(None)` when it is not complete yet (and nothing is consumed).
    /// Also returns the number of bytes the message took on the wire.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<(Message, usize)>, Error> {
        let Some(total) = self.next_len(buf)? else {
            return Ok(None);
        };
        if buf.len() < total {
            // The prefix is within the limit, so reserving for it is bounded.
            buf.reserve(total - buf.len());
            return Ok(None);
        }
        buf.advance(4);
        let body = buf.split_to(total - 4).freeze();
        Message::parse(body).map(|m| Some((m, total)))
    }
}

impl MessageDecoder {
    /// Like [`decode`](Self::decode), on a [`Bytes`] chunk: a complete
    /// message is split off the front of `buf` without copying; an
    /// incomplete one is left in place (`Ok(None)`).
    pub fn decode_bytes(&self, buf: &mut Bytes) -> Result<Option<(Message, usize)>, Error> {
        let Some(total) = self.next_len(buf)? else {
            return Ok(None);
        };
        if buf.len() < total {
            return Ok(None);
        }
        let mut frame = buf.split_to(total);
        frame.advance(4);
        Message::parse(frame).map(|m| Some((m, total)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_messages() -> Vec<Message> {
        let br = BlockRequest::new(3, 16384, 16384);
        let hr = HashRequest {
            pieces_root: Sha256Hash([7; 32]),
            base_layer: 0,
            index: 512,
            length: 512,
            proof_layers: 3,
        };
        vec![
            Message::KeepAlive,
            Message::Choke,
            Message::Unchoke,
            Message::Interested,
            Message::NotInterested,
            Message::Have(0xdead_beef),
            Message::Bitfield(Bytes::from_static(&[0xff, 0x80])),
            Message::Request(br),
            Message::Piece {
                piece: 1,
                offset: 2,
                data: Bytes::from_static(b"hello"),
            },
            Message::Piece {
                piece: 1,
                offset: 2,
                data: Bytes::new(),
            },
            Message::Cancel(br),
            Message::Port(6881),
            Message::Suggest(9),
            Message::HaveAll,
            Message::HaveNone,
            Message::Reject(br),
            Message::AllowedFast(4),
            Message::Extended {
                id: 0,
                payload: Bytes::from_static(b"de"),
            },
            Message::Extended {
                id: 3,
                payload: Bytes::new(),
            },
            Message::HashRequest(hr),
            Message::Hashes {
                request: hr,
                hashes: Bytes::from(vec![1u8; 64]),
            },
            Message::Hashes {
                request: hr,
                hashes: Bytes::new(),
            },
            Message::HashReject(hr),
            Message::Unknown {
                id: 99,
                payload: Bytes::from_static(b"xyz"),
            },
        ]
    }

    #[test]
    fn round_trip_every_message() {
        let dec = MessageDecoder::default();
        for m in all_messages() {
            let wire = m.to_bytes();
            assert_eq!(wire.len(), 4 + m.wire_len());
            let mut buf = BytesMut::from(&wire[..]);
            let (got, n) = dec.decode(&mut buf).unwrap().unwrap();
            assert_eq!(got, m);
            assert_eq!(n, wire.len());
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn known_encodings() {
        assert_eq!(&Message::KeepAlive.to_bytes()[..], &[0, 0, 0, 0]);
        assert_eq!(&Message::Interested.to_bytes()[..], &[0, 0, 0, 1, 2]);
        assert_eq!(
            &Message::Have(258).to_bytes()[..],
            &[0, 0, 0, 5, 4, 0, 0, 1, 2]
        );
        assert_eq!(
            &Message::Request(BlockRequest::new(1, 2, 3)).to_bytes()[..],
            &[0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]
        );
        assert_eq!(
            &Message::Port(0x1ae1).to_bytes()[..],
            &[0, 0, 0, 3, 9, 0x1a, 0xe1]
        );
        let p = Message::Piece {
            piece: 5,
            offset: 6,
            data: Bytes::from_static(b"abc"),
        }
        .to_bytes();
        assert_eq!(&p[..13], &piece_header(5, 6, 3));
        assert_eq!(&p[13..], b"abc");
    }

    #[test]
    fn byte_by_byte_stream() {
        let dec = MessageDecoder::default();
        let mut stream = BytesMut::new();
        for m in all_messages() {
            m.encode(&mut stream);
        }
        let mut buf = BytesMut::new();
        let mut out = vec![];
        for b in stream.iter() {
            buf.put_u8(*b);
            while let Some((m, _)) = dec.decode(&mut buf).unwrap() {
                out.push(m);
            }
        }
        assert_eq!(out, all_messages());
    }

    #[test]
    fn piece_block_is_a_view_of_the_receive_buffer() {
        let dec = MessageDecoder::default();
        let mut buf = BytesMut::new();
        Message::Piece {
            piece: 0,
            offset: 0,
            data: Bytes::from(vec![9u8; 1000]),
        }
        .encode(&mut buf);
        let base = buf.as_ptr() as usize;
        let (m, _) = dec.decode(&mut buf).unwrap().unwrap();
        let Message::Piece { data, .. } = m else {
            panic!("not a piece")
        };
        // The block starts 13 bytes into the buffer it was received in.
        assert_eq!(data.as_ptr() as usize, base + 13);
    }

    #[test]
    fn wrong_lengths_are_errors() {
        let dec = MessageDecoder::default();
        let cases: &[(&[u8], u8, u32)] = &[
            (&[0, 0, 0, 2, 0, 0], 0, 2),
            (&[0, 0, 0, 2, 1, 0], 1, 2),
            (&[0, 0, 0, 4, 4, 0, 0, 0], 4, 4),
            (&[0, 0, 0, 6, 4, 0, 0, 0, 0, 0], 4, 6),
            (&[0, 0, 0, 12, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 6, 12),
            (&[0, 0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0], 7, 8),
            (&[0, 0, 0, 2, 9, 0], 9, 2),
            (&[0, 0, 0, 2, 14, 0], 14, 2),
            (&[0, 0, 0, 1, 20], 20, 1),
            (&[0, 0, 0, 2, 21, 0], 21, 2),
        ];
        for (wire, id, len) in cases {
            let mut buf = BytesMut::from(*wire);
            assert_eq!(
                dec.decode(&mut buf),
                Err(Error::BadMessageLength { id: *id, len: *len }),
                "{wire:?}"
            );
        }
        // hashes: header plus a partial hash
        let hr = HashRequest {
            pieces_root: Sha256Hash([0; 32]),
            base_layer: 0,
            index: 0,
            length: 2,
            proof_layers: 0,
        };
        let mut b = BytesMut::new();
        Message::Unknown {
            id: id::HASHES,
            payload: Bytes::new(),
        }
        .encode(&mut b);
        let mut payload = BytesMut::new();
        hr.write(&mut payload);
        payload.put_slice(&[0; 31]);
        let mut buf = BytesMut::new();
        Message::Unknown {
            id: id::HASHES,
            payload: payload.freeze(),
        }
        .encode(&mut buf);
        assert_eq!(
            dec.decode(&mut buf),
            Err(Error::BadMessageLength {
                id: id::HASHES,
                len: 80
            })
        );
    }

    #[test]
    fn oversized_prefix_rejected_without_allocating() {
        let dec = MessageDecoder::new(1 << 16);
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff, 7][..]);
        assert_eq!(
            dec.decode(&mut buf),
            Err(Error::MessageTooLarge {
                len: u32::MAX,
                max: 1 << 16
            })
        );
        assert!(buf.capacity() < 1 << 16);
        let mut buf = BytesMut::from(&[0, 1, 0, 1][..]);
        assert!(matches!(
            dec.decode(&mut buf),
            Err(Error::MessageTooLarge { .. })
        ));
        let mut buf = BytesMut::from(&[0, 1, 0, 0][..]);
        assert_eq!(dec.decode(&mut buf), Ok(None));
    }

    #[test]
    fn hash_request_validation() {
        let mut h = HashRequest {
            pieces_root: Sha256Hash([0; 32]),
            base_layer: 0,
            index: 8,
            length: 4,
            proof_layers: 0,
        };
        assert!(h.validate());
        h.length = 3;
        assert!(!h.validate());
        h.length = 1;
        assert!(h.validate(), "libtorrent asks for single hashes");
        h.length = 0;
        assert!(!h.validate());
        h.length = 16;
        assert!(!h.validate(), "index not a multiple of length");
        h.length = 16384;
        h.index = 0;
        assert!(!h.validate());
        h.length = 8192;
        assert!(h.validate());
        h.proof_layers = 64;
        assert!(!h.validate());
        h.proof_layers = 0;
        h.base_layer = u32::MAX;
        assert!(!h.validate());
    }

    fn hr(base_layer: u32, index: u32, length: u32, proof_layers: u32) -> HashRequest {
        HashRequest {
            pieces_root: Sha256Hash([3; 32]),
            base_layer,
            index,
            length,
            proof_layers,
        }
    }

    #[test]
    fn hash_request_against_the_file() {
        // 12 blocks: 16 leaves, 4 layers above them.
        assert!(hr(0, 0, 16, 3).validate_for_file(12));
        assert!(hr(0, 8, 8, 3).validate_for_file(12));
        assert!(!hr(0, 8, 16, 3).validate_for_file(12), "past the layer");
        assert!(
            !hr(0, 16, 16, 0).validate_for_file(12),
            "index past the layer"
        );
        assert!(
            !hr(0, 0, 16, 4).validate_for_file(12),
            "proof reaches the root"
        );
        // the piece layer of 4-block pieces: 4 nodes, 2 layers above
        assert!(hr(2, 0, 4, 1).validate_for_file(12));
        assert!(hr(2, 2, 2, 1).validate_for_file(12));
        assert!(!hr(2, 0, 4, 2).validate_for_file(12));
        assert!(!hr(4, 0, 1, 0).validate_for_file(12), "the root layer");
        assert!(!hr(40, 0, 2, 0).validate_for_file(12));
        assert!(!hr(0, 0, 2, 0).validate_for_file(0), "empty file");
        assert!(
            !hr(0, 0, 2, 0).validate_for_file(1),
            "one block: only a root"
        );
        assert!(!hr(0, 0, 3, 0).validate_for_file(12), "not a power of two");
        // huge files do not overflow
        assert!(hr(0, 0, 8192, 40).validate_for_file(u64::MAX / 2));
        assert!(!hr(0, 0, 2, 0).validate_for_file(u64::MAX));
    }

    #[test]
    fn proof_hash_counts() {
        // a run of 4 hashes has its own 2 layers; proof_layers counts from
        // the base, so 1 needs no uncle and 2 needs the run root's sibling
        assert_eq!(hr(0, 0, 4, 1).num_proof_hashes(), 0);
        assert_eq!(hr(0, 0, 4, 0).num_proof_hashes(), 0);
        assert_eq!(hr(0, 0, 4, 2).num_proof_hashes(), 1);
        assert_eq!(hr(0, 0, 4, 5).num_proof_hashes(), 4);
        assert_eq!(hr(0, 0, 512, 8).num_proof_hashes(), 0);
        assert_eq!(hr(0, 0, 512, 12).num_proof_hashes(), 4);
        assert_eq!(hr(0, 0, 1, 0).num_proof_hashes(), 1);
        assert_eq!(hr(0, 0, 4, 5).reply_len(), 8);
        assert_eq!(hr(0, 0, 2, u32::MAX).num_proof_hashes(), 63);
    }
}
