//! Keeps the worked examples in docs/FORMAT.md true: they are regenerated here from
//! fixed keys and compared with the document. `UPDATE_DOCS=1` prints them instead.

use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};
use speclog::ledger::entry::{Entry, UnsignedEntry, entry_hash, signed_message};

fn example_key() -> SigningKey {
    // The example key's seed is SHA-256("speclog example key").
    SigningKey::from_bytes(&Sha256::digest(b"speclog example key").into())
}

fn hexs(b: &[u8]) -> String {
    hex::encode(b)
}

/// The worked example of an entry encoding, field by field.
fn entry_example() -> String {
    let k = example_key();
    let payload = br#"{"label":"v1","content":{"sha256":"2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae","size":3,"media_type":"text/markdown; charset=utf-8"}}"#;
    let prev: [u8; 32] = Sha256::digest(b"previous entry").into();
    let u = UnsignedEntry {
        seq: 2,
        time: "2025-09-12T17:17:28Z",
        kind: "spec.release",
        prev,
        signer: "policy-team",
        signer_key: k.verifying_key().to_bytes(),
        payload,
    };
    let bytes = u.sign(&k).unwrap();
    let e = Entry::decode(&bytes).unwrap();
    e.verify_signature().unwrap();
    let mut s = String::new();
    let mut line = |hex: String, what: &str| s.push_str(&format!("{what}\n    {hex}\n"));
    line("01".into(), "version (u8)");
    line(hexs(&2u64.to_be_bytes()), "seq (u64 BE) = 2");
    line(
        format!("14 {}", hexs(e.time.as_bytes())),
        "time (u8 length 20, ASCII) = 2025-09-12T17:17:28Z",
    );
    line(
        format!("0c {}", hexs(e.kind.as_bytes())),
        "kind (u8 length 12, ASCII) = spec.release",
    );
    line(
        hexs(&e.prev),
        "prev (32 bytes) = SHA-256(\"previous entry\") in this example",
    );
    line(
        format!("0b {}", hexs(e.signer.as_bytes())),
        "signer (u8 length 11, ASCII) = policy-team",
    );
    line(
        hexs(&e.signer_key),
        "signer_key (32 bytes, Ed25519 public key)",
    );
    line(
        format!(
            "{} {}",
            hexs(&(payload.len() as u32).to_be_bytes()),
            hexs(payload)
        ),
        &format!("payload (u32 BE length {}, UTF-8 JSON)", payload.len()),
    );
    line(
        hexs(&e.signature),
        "signature (64 bytes) = Ed25519(key, \"speclog/entry/v1\\n\" || all bytes above)",
    );
    s.push_str(&format!(
        "\nencoded entry: {} bytes\nleaf hash = SHA-256(0x00 || entry) = {}\nsigned message = 73706563 6c6f672f 656e7472 792f7631 0a || entry[..{}]  ({} bytes)\n",
        bytes.len(),
        hexs(&entry_hash(&bytes)),
        bytes.len() - 64,
        signed_message(Entry::signed_message(&bytes)).len()
    ));
    s
}

#[test]
fn worked_examples_match_format_md() {
    let doc_path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/FORMAT.md");
    let doc = std::fs::read_to_string(doc_path).unwrap();
    let ex = entry_example();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        println!("{ex}");
        return;
    }
    let k = example_key();
    assert!(
        doc.contains(&hexs(&k.to_bytes())),
        "example seed missing from FORMAT.md"
    );
    for l in ex.lines().filter(|l| !l.trim().is_empty()) {
        assert!(doc.contains(l.trim()), "FORMAT.md lacks example line: {l}");
    }
}

/// The inclusion proof example of section 7 verifies: the leaf hash of its
/// `extra` at its index, with its proof hashes, gives the checkpoint's root.
#[test]
fn inclusion_proof_example_verifies() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/FORMAT.md")).unwrap();
    let at = doc.find("Example (the tree above, index 1").unwrap();
    let block = &doc[at..];
    let start = block.find("```\n").unwrap() + 4;
    let end = start + block[start..].find("```").unwrap();
    let p = speclog::tlog::InclusionProofFile::parse(&block.as_bytes()[start..end]).unwrap();
    let note = speclog::note::Note::parse(p.checkpoint_text.as_bytes()).unwrap();
    let cp = speclog::note::Checkpoint::parse(&note.text).unwrap();
    let leaf = speclog::tlog::leaf_hash(&p.extra.unwrap());
    speclog::tlog::verify_inclusion(&p.hashes, cp.size, &cp.root, p.index, &leaf).unwrap();
}

/// Section 2.4's worked example of clause ids is what the code derives (the
/// second manifest assigned against the first), and the numbers the rules
/// name are the code's.
#[test]
fn clause_manifest_example_and_rules_match_format_md() {
    use speclog::governance::clauses::LEAF_MAX;
    use speclog::governance::ids::{self, Previous};
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/FORMAT.md")).unwrap();
    let a = "Be brief.\n\n# Safety\n\nRefuse harm.\n";
    let b = "Greet the user.\n\nBe brief.\n\n# Safety rules\n\nRefuse harm.\n";
    let ma = ids::derive(a, None).unwrap();
    let prev = Previous {
        text: a,
        manifest: &ma,
    };
    let mb = ids::derive(b, Some(prev)).unwrap();
    for (t, m) in [(a, &ma), (b, &mb)] {
        let line = String::from_utf8(m.encode()).unwrap();
        assert!(
            doc.contains(&line),
            "FORMAT.md lacks the manifest of {t:?}: {line}"
        );
        let shown = format!("`{}`", t.replace('\n', "\\n"));
        assert!(doc.contains(&shown), "FORMAT.md lacks the text {shown}");
    }
    assert!(doc.contains(&format!("{{\"format\":{},", ids::FORMAT)));
    let thousands = |n: usize| {
        let s = n.to_string();
        let (h, t) = s.split_at(s.len() - 3);
        format!("{h},{t}")
    };
    for (what, want) in [
        (
            "LEAF_MAX",
            format!("than {} bytes (`LEAF_MAX`)", thousands(LEAF_MAX)),
        ),
        (
            "SIMILAR_IN_PLACE",
            format!(
                "similarity at\n   least {}/{}",
                ids::SIMILAR_IN_PLACE.0,
                ids::SIMILAR_IN_PLACE.1
            ),
        ),
        (
            "SIMILAR_MOVED",
            format!(
                "best first at least {}/{}",
                ids::SIMILAR_MOVED.0,
                ids::SIMILAR_MOVED.1
            ),
        ),
        (
            "MAX_MOVED_PAIRS",
            format!("than {} (new, old) pairs", thousands(ids::MAX_MOVED_PAIRS)),
        ),
    ] {
        assert!(
            doc.contains(&want),
            "FORMAT.md does not say {want:?} ({what})"
        );
    }
}
