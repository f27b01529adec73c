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

/// Every layer of a file's tree from layer `level` up to the root: `nodes`
/// are layer `level`'s known hashes, padded with [`pad_hash`]`(level)` to
/// `width` (a power of two). `result[0]` is the padded layer `level`, the
/// last entry holds the root alone. Used to answer BEP 52 hash requests
/// from a piece layer.
pub fn tree_layers(nodes: &[Sha256Hash], width: usize, level: u32) -> Vec<Vec<Sha256Hash>> {
    let width = width.max(nodes.len()).max(1).next_power_of_two();
    let mut pad = pad_hash(level);
    let mut cur: Vec<Sha256Hash> = nodes.to_vec();
    cur.resize(width, pad);
    let mut layers = Vec::new();
    while cur.len() > 1 {
        let next: Vec<Sha256Hash> = cur
            .chunks_exact(2)
            .map(|p| hash_pair(&p[0], &p[1]))
            .collect();
        pad = hash_pair(&pad, &pad);
        layers.push(std::mem::replace(&mut cur, next));
    }
    layers.push(cur);
    layers
}

/// The reply to a BEP 52 hash request, from `layers` built by
/// [`tree_layers`] starting at tree layer `first_level`: `length` hashes of
/// layer `base` from `index`, then the uncle hashes that prove the run up
/// to `proof_layers` layers above `base` (bottom up). `None` when the
/// request asks for hashes below `first_level` or outside the tree.
pub fn hashes_for_request(
    layers: &[Vec<Sha256Hash>],
    first_level: u32,
    base: u32,
    index: u32,
    length: u32,
    proof_layers: u32,
) -> Option<Vec<Sha256Hash>> {
    if !length.is_power_of_two() {
        return None;
    }
    let rel = base.checked_sub(first_level)? as usize;
    let layer = layers.get(rel)?;
    let start = index as usize;
    let run = layer.get(start..start.checked_add(length as usize)?)?;
    let run_layers = length.trailing_zeros();
    let uncles = (proof_layers.saturating_add(1)).saturating_sub(run_layers) as usize;
    let mut out = Vec::with_capacity(run.len() + uncles);
    out.extend_from_slice(run);
    let mut node = (index >> run_layers) as usize;
    for j in 0..uncles {
        let l = layers.get(rel + run_layers as usize + j)?;
        // the root has no sibling: a proof must stop below it
        if l.len() < 2 {
            return None;
        }
        out.push(*l.get(node ^ 1)?);
        node >>= 1;
    }
    Some(out)
}

/// Checks a BEP 52 `hashes` reply against a file's root: the `run` of
/// hashes of layer `base` starting at `index` (its length a power of two),
/// with `uncles` proving it (bottom up), must hash up to `root`, which
/// lies `tree_height` layers above the blocks. Only a proof that reaches
/// the root is accepted: the root is all that is known of the tree.
pub fn verify_hash_run(
    root: &Sha256Hash,
    tree_height: u32,
    base: u32,
    index: u32,
    run: &[Sha256Hash],
    uncles: &[Sha256Hash],
) -> bool {
    if run.is_empty() || !run.len().is_power_of_two() {
        return false;
    }
    let run_layers = run.len().trailing_zeros();
    let reached = u64::from(base) + u64::from(run_layers) + uncles.len() as u64;
    if reached != u64::from(tree_height) || !(index as usize).is_multiple_of(run.len()) {
        return false;
    }
    let mut h = merkle_root(run, run.len(), base);
    let mut node = index >> run_layers;
    for u in uncles {
        h = if node & 1 == 0 {
            hash_pair(&h, u)
        } else {
            hash_pair(u, &h)
        };
        node >>= 1;
    }
    h == *root
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

    fn leaves(n: usize) -> Vec<Sha256Hash> {
        (0..n)
            .map(|i| Sha256Hash::digest(&(i as u64).to_le_bytes()))
            .collect()
    }

    #[test]
    fn layers_match_merkle_root() {
        let l = leaves(5);
        let layers = tree_layers(&l, 8, 0);
        assert_eq!(layers.len(), 4);
        assert_eq!(layers[0].len(), 8);
        assert_eq!(layers[3], vec![merkle_root(&l, 8, 0)]);
        // a piece layer (level 2) padded with level-2 pad hashes
        let layers = tree_layers(&l[..3], 4, 2);
        assert_eq!(layers[0][3], pad_hash(2));
        assert_eq!(layers[2][0], merkle_root(&l[..3], 4, 2));
    }

    #[test]
    fn served_runs_verify_against_the_root() {
        // 37 pieces (level 3) in a tree of 64 piece-layer nodes: 6 layers
        // above the piece layer, 9 above the blocks.
        let pieces = leaves(37);
        let layers = tree_layers(&pieces, 64, 3);
        let root = layers.last().unwrap()[0];
        let height = 9;
        for (index, length) in [(0u32, 64u32), (0, 32), (32, 32), (16, 16), (36, 4), (62, 2)] {
            let run_layers = length.trailing_zeros();
            let proof_layers = height - 3 - 1; // prove up to the root
            let got = hashes_for_request(&layers, 3, 3, index, length, proof_layers).unwrap();
            let uncles = (proof_layers + 1 - run_layers) as usize;
            assert_eq!(got.len(), length as usize + uncles);
            let (run, proof) = got.split_at(length as usize);
            assert_eq!(run[0], layers[0][index as usize]);
            assert!(
                verify_hash_run(&root, height, 3, index, run, proof),
                "{index} {length}"
            );
            // tampering with any hash breaks it
            for k in 0..got.len() {
                let mut bad = got.clone();
                bad[k].0[0] ^= 1;
                let (r, p) = bad.split_at(length as usize);
                assert!(
                    !verify_hash_run(&root, height, 3, index, r, p),
                    "{index} {length} {k}"
                );
            }
            // so does the wrong position (outside the all-padding tail,
            // where every position holds the same hashes), or a proof
            // that stops short
            if index > 0 && index < 37 {
                assert!(!verify_hash_run(
                    &root,
                    height,
                    3,
                    index - length,
                    run,
                    proof
                ));
            }
            assert!(
                !verify_hash_run(
                    &root,
                    height,
                    3,
                    index,
                    run,
                    &proof[..proof.len().saturating_sub(1)]
                ) || proof.is_empty()
            );
        }
        // a proof that stops below the root is served but not accepted
        let short = hashes_for_request(&layers, 3, 3, 0, 4, 2).unwrap();
        assert_eq!(short.len(), 5);
        assert!(!verify_hash_run(
            &root,
            height,
            3,
            0,
            &short[..4],
            &short[4..]
        ));
        // a higher base layer is served from the same layers
        let up = hashes_for_request(&layers, 3, 5, 0, 16, 3).unwrap();
        assert_eq!(up.len(), 16);
        assert!(verify_hash_run(&root, height, 5, 0, &up, &[]));
    }

    #[test]
    fn impossible_requests_are_refused() {
        let layers = tree_layers(&leaves(6), 8, 2);
        assert_eq!(
            hashes_for_request(&layers, 2, 0, 0, 2, 0),
            None,
            "below the piece layer"
        );
        assert_eq!(
            hashes_for_request(&layers, 2, 2, 8, 2, 0),
            None,
            "past the layer"
        );
        assert_eq!(hashes_for_request(&layers, 2, 2, 0, 3, 0), None);
        assert_eq!(
            hashes_for_request(&layers, 2, 2, 0, 2, 3),
            None,
            "proof past the root"
        );
        assert_eq!(hashes_for_request(&layers, 2, 9, 0, 2, 0), None);
        assert_eq!(
            hashes_for_request(&layers, 2, 2, u32::MAX, 2, u32::MAX),
            None
        );
        let root = layers.last().unwrap()[0];
        assert!(!verify_hash_run(&root, 5, 2, 0, &[], &[]));
        assert!(!verify_hash_run(&root, 5, 2, 0, &leaves(3), &[]));
        assert!(!verify_hash_run(
            &root,
            u32::MAX,
            u32::MAX,
            0,
            &leaves(2),
            &[]
        ));
    }
}
