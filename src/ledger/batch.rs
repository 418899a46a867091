//! Ed25519 batch verification for signatures that share a few keys.
//!
//! It checks the same equation as `ed25519_dalek::verify_batch`:
//!
//! ```text
//! [-Σ zᵢ·sᵢ]·B + Σ zᵢ·Rᵢ + Σ (zᵢ·hᵢ)·Aᵢ = 0,   hᵢ = SHA-512(Rᵢ ‖ Aᵢ ‖ Mᵢ) mod ℓ
//! ```
//!
//! with 128-bit coefficients zᵢ derived by hashing the whole batch (as dalek's
//! transcript does, so a signer cannot choose signatures that cancel out), but
//! it adds up the coefficients of each distinct key first: Σ (zᵢ·hᵢ)·A over the
//! signatures of key A is (Σ zᵢ·hᵢ)·A. A ledger's entries come from a handful
//! of keys, so the multiscalar multiplication has about n + 1 points instead of
//! 2n + 1, which makes verification about a third cheaper per signature. (The
//! same grouping is what ed25519-zebra's batch verifier does.)
//!
//! Like dalek's, it rejects a signature whose `s` is not canonical or whose `R`
//! does not decompress, and it is all or nothing: on failure the caller looks
//! for the bad signature one by one.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha512};

/// One signature to check: the message in parts (hashed in order, never copied).
pub struct Item<'a> {
    pub msg: &'a [&'a [u8]],
    pub sig: &'a Signature,
    pub key: &'a VerifyingKey,
}

const DOMAIN: &[u8] = b"speclog/ed25519-batch/v1\n";

/// True if every signature of the batch verifies (see the module docs).
pub fn verify(items: &[Item<'_>]) -> bool {
    if items.is_empty() {
        return true;
    }
    let mut seed = Sha512::new();
    seed.update(DOMAIN);
    seed.update((items.len() as u64).to_le_bytes());
    let mut hrams = Vec::with_capacity(items.len());
    let mut ss = Vec::with_capacity(items.len());
    let mut rs = Vec::with_capacity(items.len());
    for it in items {
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(*it.sig.s_bytes()))
        else {
            return false;
        };
        let Some(r) = CompressedEdwardsY(*it.sig.r_bytes()).decompress() else {
            return false;
        };
        let mut h = Sha512::new();
        h.update(it.sig.r_bytes());
        h.update(it.key.as_bytes());
        for part in it.msg {
            h.update(part);
        }
        let hram: [u8; 64] = h.finalize().into();
        seed.update(hram);
        seed.update(it.sig.s_bytes());
        hrams.push(Scalar::from_bytes_mod_order_wide(&hram));
        ss.push(s);
        rs.push(r);
    }
    let seed: [u8; 64] = seed.finalize().into();
    // Four 128-bit coefficients per hash of (seed, block number).
    let mut zs = Vec::with_capacity(items.len());
    for block in 0..items.len().div_ceil(4) {
        let mut h = Sha512::new();
        h.update(seed);
        h.update((block as u64).to_le_bytes());
        let out: [u8; 64] = h.finalize().into();
        for z in out.chunks_exact(16) {
            let mut b = [0u8; 32];
            b[..16].copy_from_slice(z);
            zs.push(Scalar::from_bytes_mod_order(b));
        }
    }
    zs.truncate(items.len());
    let mut b_coeff = Scalar::ZERO;
    // Distinct keys and the sum of zᵢ·hᵢ over their signatures.
    let mut keys: Vec<(&VerifyingKey, Scalar)> = Vec::new();
    for (i, it) in items.iter().enumerate() {
        b_coeff += zs[i] * ss[i];
        let zh = zs[i] * hrams[i];
        match keys
            .iter_mut()
            .find(|(k, _)| k.as_bytes() == it.key.as_bytes())
        {
            Some((_, c)) => *c += zh,
            None => keys.push((it.key, zh)),
        }
    }
    let scalars = std::iter::once(-b_coeff)
        .chain(zs.iter().copied())
        .chain(keys.iter().map(|(_, c)| *c));
    let points = std::iter::once(ED25519_BASEPOINT_POINT)
        .chain(rs)
        .chain(keys.iter().map(|(k, _)| k.to_edwards()));
    EdwardsPoint::vartime_multiscalar_mul(scalars, points).is_identity()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn batch(n: usize, keys: usize) -> (Vec<Vec<u8>>, Vec<Signature>, Vec<VerifyingKey>) {
        let sks: Vec<SigningKey> = (0..keys)
            .map(|k| SigningKey::from_bytes(&[k as u8 + 1; 32]))
            .collect();
        let mut msgs = Vec::new();
        let mut sigs = Vec::new();
        let mut vks = Vec::new();
        for i in 0..n {
            let sk = &sks[i % keys];
            let m = format!("message {i}").into_bytes();
            sigs.push(sk.sign(&m));
            vks.push(sk.verifying_key());
            msgs.push(m);
        }
        (msgs, sigs, vks)
    }

    fn check(msgs: &[Vec<u8>], sigs: &[Signature], vks: &[VerifyingKey]) -> bool {
        let parts: Vec<[&[u8]; 1]> = msgs.iter().map(|m| [m.as_slice()]).collect();
        let items: Vec<Item> = (0..msgs.len())
            .map(|i| Item {
                msg: &parts[i],
                sig: &sigs[i],
                key: &vks[i],
            })
            .collect();
        verify(&items)
    }

    #[test]
    fn agrees_with_dalek_on_good_and_bad_batches() {
        for (n, k) in [(1, 1), (5, 1), (64, 3), (200, 2)] {
            let (msgs, mut sigs, vks) = batch(n, k);
            let refs: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
            assert!(ed25519_dalek::verify_batch(&refs, &sigs, &vks).is_ok());
            assert!(check(&msgs, &sigs, &vks), "{n} {k}");
            // A message split in parts hashes the same as whole.
            let parts: Vec<[&[u8]; 2]> = msgs.iter().map(|m| [&m[..3], &m[3..]]).collect();
            let items: Vec<Item> = (0..n)
                .map(|i| Item {
                    msg: &parts[i],
                    sig: &sigs[i],
                    key: &vks[i],
                })
                .collect();
            assert!(verify(&items));
            // Any flipped bit of any signature, message or key fails the batch.
            let i = n / 2;
            let mut bad = sigs[i].to_bytes();
            bad[40] ^= 1;
            let good = sigs[i];
            sigs[i] = Signature::from_bytes(&bad);
            assert!(!check(&msgs, &sigs, &vks));
            sigs[i] = good;
            let mut m2 = msgs.clone();
            m2[i].push(b'!');
            assert!(!check(&m2, &sigs, &vks));
            let mut v2 = vks.clone();
            v2[i] = SigningKey::from_bytes(&[99; 32]).verifying_key();
            assert!(!check(&msgs, &sigs, &v2));
        }
    }

    #[test]
    fn rejects_non_canonical_s_and_bad_r() {
        let (msgs, mut sigs, vks) = batch(3, 1);
        let mut b = sigs[1].to_bytes();
        // s + l is the same scalar mod l but not canonical.
        let l: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for k in 0..32 {
            let v = b[32 + k] as u16 + l[k] as u16 + carry;
            b[32 + k] = v as u8;
            carry = v >> 8;
        }
        sigs[1] = Signature::from_bytes(&b);
        assert!(!check(&msgs, &sigs, &vks));
        let (msgs, mut sigs, vks) = batch(3, 1);
        let mut b = sigs[2].to_bytes();
        b[..32].copy_from_slice(&[0xff; 32]);
        sigs[2] = Signature::from_bytes(&b);
        assert!(!check(&msgs, &sigs, &vks));
    }
}
