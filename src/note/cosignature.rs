//! Witness cosignatures: timestamped Ed25519 signatures of type `0x04`
//! (C2SP tlog-cosignature).

use super::*;

/// Returns the message signed by a cosignature/v1: `cosignature/v1\n`,
/// `time <timestamp>\n`, then the checkpoint text (tlog-cosignature,
/// "Ed25519 signed message").
pub fn cosignature_message(checkpoint_text: &str, timestamp: u64) -> String {
    format!("{COSIGNATURE_HEADER}time {timestamp}\n{checkpoint_text}")
}

/// Cosigns a checkpoint with a cosigner (`0x04`) key at `timestamp` (seconds
/// since the epoch) and returns the note signature.
///
/// The signature bytes after the key id are the `timestamped_signature`
/// structure of tlog-cosignature: the timestamp as a big-endian `u64`
/// followed by the 64-byte Ed25519 signature of [`cosignature_message`]. It
/// fails if the signer is not a cosigner, if `timestamp` exceeds 2^63 - 1 or
/// if `checkpoint_text` is not a valid checkpoint.
pub fn cosign(
    signer: &NoteSigner,
    checkpoint_text: &str,
    timestamp: u64,
) -> Result<NoteSignature, NoteError> {
    if signer.alg != ALG_COSIGNATURE_V1 {
        return Err(NoteError::WrongKeyType("cosigning needs a cosigner key"));
    }
    if timestamp > i64::MAX as u64 {
        return Err(NoteError::MalformedCosignature("timestamp above 2^63-1"));
    }
    Checkpoint::parse(checkpoint_text)?;
    let msg = cosignature_message(checkpoint_text, timestamp);
    let mut sig = Vec::with_capacity(8 + 64);
    sig.extend_from_slice(&timestamp.to_be_bytes());
    sig.extend_from_slice(&signer.key.sign_message(msg.as_bytes())?.to_bytes());
    Ok(NoteSignature {
        name: signer.name.clone(),
        key_id: signer.key_id,
        sig,
    })
}

/// Returns the timestamp of a cosignature without verifying it. It fails
/// unless the signature bytes are exactly 72 bytes with a timestamp of at
/// most 2^63 - 1.
pub fn cosignature_timestamp(sig: &NoteSignature) -> Result<u64, NoteError> {
    let bad = NoteError::MalformedCosignature;
    let (ts, rest) = sig.sig.split_first_chunk::<8>().ok_or(bad("too short"))?;
    if rest.len() != 64 {
        return Err(bad("signature is not 64 bytes"));
    }
    let ts = u64::from_be_bytes(*ts);
    if ts > i64::MAX as u64 {
        return Err(bad("timestamp above 2^63-1"));
    }
    Ok(ts)
}

/// Verifies a cosignature/v1 by `vk` on `checkpoint_text` and returns its
/// timestamp.
///
/// It fails with [`NoteError::WrongKeyType`] unless `vk` is a `0x04` key,
/// [`NoteError::InvalidSignature`] if the signature's name or key id is not
/// `vk`'s or the Ed25519 signature does not verify (strictly),
/// [`NoteError::MalformedCosignature`] if the signature bytes are malformed,
/// and [`NoteError::MalformedCheckpoint`] if the text is not a checkpoint.
pub fn verify_cosignature(
    vk: &VerifierKey,
    checkpoint_text: &str,
    sig: &NoteSignature,
) -> Result<u64, NoteError> {
    if vk.alg != ALG_COSIGNATURE_V1 {
        return Err(NoteError::WrongKeyType("not a cosigner key"));
    }
    if sig.name != vk.name || sig.key_id != vk.key_id {
        return Err(NoteError::InvalidSignature(vk.label()));
    }
    let ts = cosignature_timestamp(sig)?;
    Checkpoint::parse(checkpoint_text)?;
    let msg = cosignature_message(checkpoint_text, ts);
    match sig.sig.get(8..) {
        Some(ed) if vk.verify_ed25519(msg.as_bytes(), ed) => Ok(ts),
        _ => Err(NoteError::InvalidSignature(vk.label())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::note::test_vectors::*;
    use ed25519_dalek::SigningKey;

    #[test]
    fn cosignature_spec_example() {
        // tlog-cosignature.md: a log signature and a witness cosignature. The
        // spec publishes neither public key, so only the structure is checked.
        let note = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\
                    — example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\
                    — witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";
        let n = Note::parse(note.as_bytes()).unwrap();
        let w = &n.sigs[1];
        assert_eq!(w.name, "witness.example.com/w1");
        assert_eq!(w.key_id, [0x8d, 0x66, 0xcf, 0x3f]);
        assert_eq!(cosignature_timestamp(w).unwrap(), 1679315147);
        // The spec's example signed message.
        assert_eq!(
            cosignature_message(&n.text, 1679315147),
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
        assert!(cosignature_timestamp(&n.sigs[0]).is_err());
    }

    #[test]
    fn cosign_fixed_vector_and_verify() {
        // A fixed-seed vector (Ed25519 is deterministic), also cross-checked
        // against an independent Go implementation in tests/interop_go.rs.
        let key = SigningKey::from_bytes(&[7; 32]);
        let w = NoteSigner::new_cosigner("witness.example/w1", key.clone()).unwrap();
        let vk = w.verifier_key();
        assert_eq!(vk.alg(), ALG_COSIGNATURE_V1);
        assert_eq!(
            vk.key_id(),
            key_id("witness.example/w1", 0x04, key.verifying_key().as_bytes())
        );
        assert_ne!(
            vk.key_id(),
            VerifierKey::ed25519("witness.example/w1", &key.verifying_key())
                .unwrap()
                .key_id()
        );
        let cp = "example.com/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let sig = cosign(&w, cp, 1_700_000_000).unwrap();
        assert_eq!(sig.sig.len(), 72);
        assert_eq!(&sig.sig[..8], &1_700_000_000u64.to_be_bytes());
        assert_eq!(verify_cosignature(&vk, cp, &sig), Ok(1_700_000_000));
        assert_eq!(VerifierKey::parse(&vk.to_string()).unwrap(), vk);

        // Tampering with the timestamp, signature or text is detected.
        let mut t = sig.clone();
        t.sig[7] ^= 1;
        assert!(verify_cosignature(&vk, cp, &t).is_err());
        let mut t = sig.clone();
        t.sig[20] ^= 1;
        assert!(verify_cosignature(&vk, cp, &t).is_err());
        assert!(verify_cosignature(&vk, &cp.replace("\n3\n", "\n4\n"), &sig).is_err());
        let mut t = sig.clone();
        t.sig.push(0);
        assert!(verify_cosignature(&vk, cp, &t).is_err());

        // Wrong key types and inputs.
        let log = NoteSigner::new("example.com/log", key).unwrap();
        assert!(cosign(&log, cp, 1).is_err());
        assert!(w.sign(cp).is_err());
        assert!(sign_note(cp, &[&w]).is_err());
        assert!(cosign(&w, cp, 1 << 63).is_err());
        assert!(cosign(&w, "not a checkpoint\n", 1).is_err());
        assert!(verify_cosignature(&log.verifier_key(), cp, &sig).is_err());

        // Through open_note: log signature plus cosignature.
        let mut n = Note::parse(sign_note(cp, &[&log]).unwrap().as_bytes()).unwrap();
        n.add_signature(sig.clone());
        let (_, v) = open_note(n.format().as_bytes(), &[log.verifier_key(), vk.clone()]).unwrap();
        assert_eq!(v[1].timestamp, Some(1_700_000_000));
        assert_eq!(v[1].alg, ALG_COSIGNATURE_V1);
        let (_, v) = open_note(n.format().as_bytes(), std::slice::from_ref(&vk)).unwrap();
        assert_eq!(v.len(), 1);
        n.sigs[1].sig[30] ^= 1;
        assert!(matches!(
            open_note(n.format().as_bytes(), &[vk]),
            Err(NoteError::InvalidSignature(_))
        ));
    }
}
