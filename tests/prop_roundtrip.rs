//! Property tests: every format speclog writes parses back to what was written,
//! and formats again to the same bytes. Entries, signed notes, checkpoints,
//! inclusion and consistency proof files, entry bundles and tile paths.
//! (The fuzz targets in fuzz/ check the other direction: whatever parses,
//! formats back to the input.)

use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use speclog::ledger::entry::{Entry, UnsignedEntry};
use speclog::note::{self, Checkpoint, Note, NoteSigner};
use speclog::tlog::{ConsistencyProofFile, InclusionProofFile, Tile, encode_bundle, parse_bundle};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// An entry time, `YYYY-MM-DDTHH:MM:SSZ`, from seconds since the epoch.
fn time() -> impl Strategy<Value = String> {
    (0i64..253_402_300_799).prop_map(|s| {
        jiff::Timestamp::from_second(s)
            .unwrap()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    })
}

/// A JSON object payload with arbitrary keys and values (strings, numbers, nesting).
fn payload() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        any::<String>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<bool>().prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
    ];
    let value = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    });
    prop::collection::btree_map(any::<String>(), value, 0..6).prop_map(|m| {
        serde_json::to_vec(&serde_json::Value::Object(m.into_iter().collect())).unwrap()
    })
}

/// A line without control characters (what notes and checkpoints allow), non-empty.
fn line() -> impl Strategy<Value = String> {
    "[^\\p{Cc}]{1,40}"
}

/// A signed-note key name: no whitespace, '+' or control characters.
fn key_name() -> impl Strategy<Value = String> {
    "[^\\s+\\p{Cc}]{1,30}"
}

fn signer(name: &str, seed: u8) -> NoteSigner {
    NoteSigner::new(name, SigningKey::from_bytes(&[seed; 32])).unwrap()
}

fn checkpoint() -> impl Strategy<Value = Checkpoint> {
    (
        line(),
        any::<u64>(),
        any::<[u8; 32]>(),
        prop::collection::vec(line(), 0..3),
    )
        .prop_map(|(origin, size, root, extensions)| Checkpoint {
            origin,
            size,
            root,
            extensions,
        })
}

/// A signed checkpoint note, signed by 1-3 keys.
fn signed_checkpoint() -> impl Strategy<Value = String> {
    (checkpoint(), prop::collection::vec(key_name(), 1..4)).prop_map(|(cp, names)| {
        let signers: Vec<NoteSigner> = names
            .iter()
            .enumerate()
            .map(|(i, n)| signer(n, i as u8 + 1))
            .collect();
        note::sign_checkpoint(&cp, &signers.iter().collect::<Vec<_>>()).unwrap()
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn entry_round_trips(
        seq in any::<u64>(),
        time in time(),
        kind in "[a-z][a-z0-9.-]{0,63}",
        prev in any::<[u8; 32]>(),
        name in "[A-Za-z0-9][A-Za-z0-9._-]{0,63}",
        seed in any::<[u8; 32]>(),
        payload in payload(),
    ) {
        let key = SigningKey::from_bytes(&seed);
        let u = UnsignedEntry {
            seq,
            time: &time,
            kind: &kind,
            prev,
            signer: &name,
            signer_key: key.verifying_key().to_bytes(),
            payload: &payload,
        };
        let bytes = u.sign(&key).unwrap();
        let e = Entry::decode(&bytes).unwrap();
        prop_assert_eq!(e.seq, seq);
        prop_assert_eq!(&e.time, &time);
        prop_assert_eq!(&e.kind, &kind);
        prop_assert_eq!(e.prev, prev);
        prop_assert_eq!(&e.signer, &name);
        prop_assert_eq!(&e.payload, &payload);
        prop_assert_eq!(e.encode(), bytes.clone());
        prop_assert!(e.verify_signature().is_ok());
        // One flipped bit anywhere: refused by decoding or by the signature.
        let i = (seq as usize) % bytes.len();
        let mut bad = bytes;
        bad[i] ^= 1 << (seed[0] % 8);
        prop_assert!(Entry::decode(&bad).and_then(|e| e.verify_signature()).is_err());
    }

    #[test]
    fn checkpoint_round_trips(cp in checkpoint()) {
        let text = cp.to_text();
        let back = Checkpoint::parse(&text).unwrap();
        prop_assert_eq!(&back, &cp);
        prop_assert_eq!(back.to_text(), text);
    }

    #[test]
    fn signed_checkpoint_opens_and_round_trips(cp in checkpoint(), name in key_name(), seed in 1u8..) {
        let s = signer(&name, seed);
        let signed = note::sign_checkpoint(&cp, &[&s]).unwrap();
        let n = Note::parse(signed.as_bytes()).unwrap();
        prop_assert_eq!(n.format(), signed.clone());
        let (back, _, sigs) =
            note::open_checkpoint(signed.as_bytes(), &cp.origin, &[s.verifier_key()]).unwrap();
        prop_assert_eq!(&back, &cp);
        prop_assert_eq!(sigs.len(), 1);
        // Another key of the same name is not this key.
        let other = signer(&name, seed.wrapping_add(1).max(1));
        if other.verifier_key() != s.verifier_key() {
            prop_assert!(note::open_checkpoint(signed.as_bytes(), &back.origin, &[other.verifier_key()]).is_err());
        }
    }

    #[test]
    fn note_with_several_signatures_round_trips(
        lines in prop::collection::vec("[^\\p{Cc}]{0,40}", 1..5),
        names in prop::collection::vec(key_name(), 1..5),
    ) {
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let signers: Vec<NoteSigner> =
            names.iter().enumerate().map(|(i, n)| signer(n, i as u8 + 1)).collect();
        let signed = note::sign_note(&text, &signers.iter().collect::<Vec<_>>()).unwrap();
        let n = Note::parse(signed.as_bytes()).unwrap();
        prop_assert_eq!(&n.text, &text);
        prop_assert_eq!(n.format(), signed.clone());
        let keys: Vec<_> = signers.iter().map(|s| s.verifier_key()).collect();
        prop_assert!(note::open_note(signed.as_bytes(), &keys).is_ok());
    }

    #[test]
    fn inclusion_proof_file_round_trips(
        index in any::<u64>(),
        extra in prop::option::of(prop::collection::vec(any::<u8>(), 0..300)),
        hashes in prop::collection::vec(any::<[u8; 32]>(), 0..=64),
        checkpoint_text in signed_checkpoint(),
    ) {
        let p = InclusionProofFile { index, extra, hashes, checkpoint_text };
        let text = p.format();
        let back = InclusionProofFile::parse(text.as_bytes()).unwrap();
        prop_assert_eq!(back.format(), text.clone());
        prop_assert_eq!(&back, &p);
        // Cut anywhere before the checkpoint: refused. (The checkpoint is
        // checked when it is opened: fewer signature lines still parse here.)
        let cut = (index as usize) % (text.len() - back.checkpoint_text.len());
        prop_assert!(InclusionProofFile::parse(&text.as_bytes()[..cut]).is_err());
    }

    #[test]
    fn consistency_proof_file_round_trips(
        old_size in any::<u64>(),
        hashes in prop::collection::vec(any::<[u8; 32]>(), 0..=63),
        checkpoint_text in signed_checkpoint(),
    ) {
        let p = ConsistencyProofFile { old_size, hashes, checkpoint_text };
        let text = p.format();
        let back = ConsistencyProofFile::parse(text.as_bytes()).unwrap();
        prop_assert_eq!(back.format(), text.clone());
        prop_assert_eq!(&back, &p);
        let cut = (old_size as usize) % (text.len() - back.checkpoint_text.len());
        prop_assert!(ConsistencyProofFile::parse(&text.as_bytes()[..cut]).is_err());
    }

    #[test]
    fn bundle_round_trips(
        entries in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..600), 1..=256),
    ) {
        let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
        let b = encode_bundle(&refs).unwrap();
        let back = parse_bundle(&b).unwrap();
        prop_assert_eq!(&back, &refs);
        prop_assert_eq!(encode_bundle(&back).unwrap(), b.clone());
        // A bundle cut inside its last entry is refused.
        prop_assert!(parse_bundle(&b[..b.len() - 1]).is_err());
    }

    #[test]
    fn tile_path_round_trips(
        level in 0u8..=63,
        index in any::<u64>(),
        width in 1u16..=256,
        data in any::<bool>(),
    ) {
        let t = if data {
            Tile::entry_bundle(index, width).unwrap()
        } else {
            Tile::new(level, index, width).unwrap()
        };
        let p = t.path();
        prop_assert_eq!(Tile::parse_path(&p).unwrap(), t);
    }
}
