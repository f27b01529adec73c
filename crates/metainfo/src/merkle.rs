//! BEP 52 merkle tree helpers: SHA-256 trees over 16 KiB blocks, padded
//! to a power of two with the hashes of all-zero subtrees.

use lt_core::Sha256Hash;
use sha2::{Digest, Sha256};

/// Hash of two child nodes.
pub fn hash_pair(a: &Sha256Hash, b: &Sha256Hash) -> Sha256Hash {
    let mut h = Sha256::new();
    h.update(a.0);
    h.update(b.0);
    Sha256Hash(h.finalize().into())
}

/// The hash of a padding node `levels` above the leaf layer (the leaves of
/// padding are all-zero hashes).
pub fn pad_hash(levels: u32) -> Sha256Hash {
    let mut h = Sha256Hash::zero();
    for _ in 0..levels {
        h = hash_pair(&h, &h);
    }
    h
}

/// Computes the root of a tree whose layer `level` (0 = blocks) holds
/// `leaves`, padded to `num_leaves` (a power of two >= leaves.len()).
pub fn merkle_root(leaves: &[Sha256Hash], num_leaves: usize, level: u32) -> Sha256Hash {
    if leaves.is_empty() {
        return Sha256Hash::zero();
    }
    let mut layer: Vec<Sha256Hash> = leaves.to_vec();
    let mut pad = pad_hash(level);
    let mut width = num_leaves.max(1);
    while width > 1 {
        if layer.len() % 2 == 1 {
            layer.push(pad);
        }
        layer = layer
            .chunks_exact(2)
            .map(|p| hash_pair(&p[0], &p[1]))
            .collect();
        pad = hash_pair(&pad, &pad);
        width /= 2;
    }
    layer.first().copied().unwrap_or_default()
}

/// Root of a file's tree given its piece layer (`pieces` hashes of
/// `piece_length`-byte pieces) and the number of 16 KiB blocks it has.
pub fn root_from_piece_layer(
    pieces: &[Sha256Hash],
    piece_length: i64,
    num_blocks: i64,
) -> Sha256Hash {
    let blocks_per_piece = (piece_length / crate::file_storage::BLOCK_SIZE).max(1);
    let piece_level = blocks_per_piece.trailing_zeros();
    let leafs = crate::file_storage::merkle_num_leafs(num_blocks);
    let piece_leafs = (leafs / blocks_per_piece).max(1) as usize;
    merkle_root(pieces, piece_leafs, piece_level)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_of_two_leaves() {
        let a = Sha256Hash::digest(b"a");
        let b = Sha256Hash::digest(b"b");
        assert_eq!(merkle_root(&[a, b], 2, 0), hash_pair(&a, &b));
        let z = Sha256Hash::zero();
        assert_eq!(merkle_root(&[a], 2, 0), hash_pair(&a, &z));
        assert_eq!(merkle_root(&[a], 1, 0), a);
        let p1 = pad_hash(1);
        assert_eq!(merkle_root(&[a], 2, 1), hash_pair(&a, &p1));
    }
}
