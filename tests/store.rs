//! The storage conformance suite: the contract of `speclog::ledger::Store`,
//! written against the trait only, so every backend runs the same checks.
//! SQLite is the only backend today; a new one (PostgreSQL, issue #22) adds a
//! [`Backend`] and one `suite!` line.
//!
//! Real files, real signatures: entries are signed Ed25519 entries, hashes
//! are RFC 6962 tree hashes recomputed here, checkpoints are C2SP signed notes.

use std::path::Path;

use ed25519_dalek::SigningKey;
use speclog::ledger::entry::{UnsignedEntry, entry_hash};
use speclog::ledger::{Batch, Head, NewEntry, OpenOptions, SqliteStore, Store, StoreError};
use speclog::note;
use speclog::tlog::{self, Hash};

const ORIGIN: &str = "example.org/store-suite";

/// A way to make stores: a new one in `dir`, and more handles on the same one.
trait Backend {
    fn create(&self, dir: &Path) -> Box<dyn Store>;
    fn open(&self, dir: &Path) -> Box<dyn Store>;
}

struct Sqlite;

impl Backend for Sqlite {
    fn create(&self, dir: &Path) -> Box<dyn Store> {
        let opts = OpenOptions {
            write: true,
            ..OpenOptions::default()
        };
        Box::new(SqliteStore::create(&dir.join("ledger.sqlite"), opts).unwrap())
    }
    fn open(&self, dir: &Path) -> Box<dyn Store> {
        let opts = OpenOptions {
            write: true,
            ..OpenOptions::default()
        };
        Box::new(SqliteStore::open(&dir.join("ledger.sqlite"), opts).unwrap())
    }
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

/// Signs the checkpoint of `size` with root `root` as a C2SP signed note.
fn sign_cp(size: u64, root: &Hash) -> Result<String, String> {
    let cp = note::Checkpoint {
        origin: ORIGIN.into(),
        size,
        root: *root,
        extensions: Vec::new(),
    };
    let ns = note::NoteSigner::new(ORIGIN, key()).map_err(|e| e.to_string())?;
    note::sign_note(&cp.to_text(), &[&ns]).map_err(|e| e.to_string())
}

/// `n` signed entries that extend `head`, each chained to the one before.
fn entries(head: &Head, n: u64, tag: &str) -> Vec<NewEntry> {
    let k = key();
    let mut prev = head.hash;
    (head.size..head.size + n)
        .map(|seq| {
            let payload = format!("{{\"tag\":\"{tag}\",\"n\":{seq}}}");
            let bytes = UnsignedEntry {
                seq,
                time: "2026-12-03T00:00:00Z",
                kind: "test.note",
                prev,
                signer: "admin",
                signer_key: k.verifying_key().to_bytes(),
                payload: payload.as_bytes(),
            }
            .sign(&k)
            .unwrap();
            prev = entry_hash(&bytes);
            NewEntry {
                hash: prev,
                bytes,
                kind: "test.note".into(),
                subject: format!("{tag}-{seq}"),
            }
        })
        .collect()
}

fn batch(head: &Head, n: u64, tag: &str) -> Batch {
    Batch {
        entries: entries(head, n, tag),
        ..Batch::default()
    }
}

/// Everything a reader sees, to show that a refused append changed nothing.
fn snapshot(s: &dyn Store) -> (Head, u64, u64, Option<(u64, String)>, u64) {
    let r = s.reader();
    (
        r.head().unwrap(),
        r.count_entries().unwrap(),
        r.count_tree_rows().unwrap(),
        r.latest_checkpoint().unwrap(),
        r.count_cosignatures().unwrap(),
    )
}

fn empty_store_has_the_empty_head(b: &dyn Backend) {
    let dir = tempfile::tempdir().unwrap();
    let s = b.create(dir.path());
    let r = s.reader();
    assert_eq!(r.head().unwrap(), Head::EMPTY);
    assert_eq!(r.entry(0).unwrap(), None);
    assert_eq!(r.latest_checkpoint().unwrap(), None);
    assert_eq!(tlog::tree_hash(0, &r).unwrap(), tlog::EMPTY_ROOT);
}

fn append_stores_entries_hashes_blobs_and_a_checkpoint(b: &dyn Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = b.create(dir.path());
    let blob = b"the spec text".to_vec();
    let digest = speclog::base::sha256(&blob);
    let mut first = batch(&Head::EMPTY, 3, "a");
    first.blobs.push((digest, blob.clone()));
    first.private.push(("secret".into(), b"hidden".to_vec()));
    let leaves: Vec<Hash> = first.entries.iter().map(|e| e.hash).collect();
    let bytes: Vec<Vec<u8>> = first.entries.iter().map(|e| e.bytes.clone()).collect();
    let (head, note_text) = s.append(&Head::EMPTY, first, &sign_cp).unwrap();
    assert_eq!(head.size, 3);
    assert_eq!(head.hash, leaves[2]);
    // The root is RFC 6962's over the leaf hashes, recomputed here.
    let root = tlog::node_hash(&tlog::node_hash(&leaves[0], &leaves[1]), &leaves[2]);
    assert_eq!(head.root, root);
    let r = s.reader();
    assert_eq!(r.head().unwrap(), head);
    for (i, b) in bytes.iter().enumerate() {
        assert_eq!(r.entry(i as u64).unwrap().as_ref(), Some(b));
    }
    assert_eq!(tlog::tree_hash(3, &r).unwrap(), root);
    assert_eq!(r.blob(&digest).unwrap(), Some(blob.clone()));
    assert_eq!(r.blob_size(&digest).unwrap(), Some(blob.len() as u64));
    assert_eq!(r.private("secret").unwrap(), Some(b"hidden".to_vec()));
    assert_eq!(r.latest_checkpoint().unwrap(), Some((3, note_text.clone())));
    assert_eq!(r.checkpoint_at(3).unwrap(), Some(note_text));
    assert_eq!(r.entries_of_kind("test.").unwrap().len(), 3);
    assert_eq!(r.entries_about("test.note", "a-1").unwrap()[0].seq, 1);
    let mut seen = Vec::new();
    r.for_each_entry::<StoreError>(0, 3, |row| {
        seen.push(row.seq);
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, [0, 1, 2]);
    drop(r);
    // Cosignatures are stored once.
    assert!(s.add_cosignature(3, "— w1 AAAA\n").unwrap());
    assert!(!s.add_cosignature(3, "— w1 AAAA\n").unwrap());
    assert_eq!(s.reader().cosignatures(3).unwrap(), ["— w1 AAAA\n"]);
    // A second append extends the first, and its tree is consistent with it.
    let (head2, _) = s.append(&head, batch(&head, 2, "b"), &sign_cp).unwrap();
    assert_eq!(head2.size, 5);
    let r = s.reader();
    let proof = tlog::prove_consistency(5, 3, &r).unwrap();
    tlog::verify_consistency(&proof, 5, &head2.root, 3, &head.root).unwrap();
}

/// Two handles on one store: both read the head, one appends, and the
/// other's append against the head it read is refused and writes nothing.
fn compare_and_swap_refuses_a_stale_head(b: &dyn Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut a = b.create(dir.path());
    let (h1, _) = a
        .append(&Head::EMPTY, batch(&Head::EMPTY, 1, "init"), &sign_cp)
        .unwrap();
    let mut other = b.open(dir.path());
    let seen_by_a = a.reader().head().unwrap();
    let seen_by_b = other.reader().head().unwrap();
    assert_eq!(seen_by_a, h1);
    assert_eq!(seen_by_b, h1);
    let (h2, _) = a
        .append(&seen_by_a, batch(&seen_by_a, 1, "a"), &sign_cp)
        .unwrap();
    let before = snapshot(&*other);
    assert_eq!(before.0, h2, "the other handle sees the committed append");
    let e = other
        .append(&seen_by_b, batch(&seen_by_b, 1, "b"), &sign_cp)
        .unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::HeadMoved {
                expected: 1,
                found: 2
            }
        ),
        "{e:?}"
    );
    assert_eq!(snapshot(&*other), before, "a refused append writes nothing");
    assert_eq!(snapshot(&*a), before);
    // Same size, another chain: also a moved head.
    let forged = Head {
        hash: [9u8; 32],
        ..h2
    };
    let e = other
        .append(&forged, batch(&h2, 1, "b"), &sign_cp)
        .unwrap_err();
    assert!(matches!(e, StoreError::HeadMoved { .. }), "{e:?}");
    assert_eq!(snapshot(&*other), before);
    // Re-reading the head and rebuilding the batch succeeds.
    let fresh = other.reader().head().unwrap();
    let (h3, _) = other
        .append(&fresh, batch(&fresh, 1, "b"), &sign_cp)
        .unwrap();
    assert_eq!(h3.size, 3);
    assert_eq!(a.reader().head().unwrap(), h3);
}

/// Entries that do not extend the head (a gap, or a broken chain) and a
/// checkpoint that cannot be signed are refused, and nothing is written.
fn append_refuses_what_does_not_extend_the_head(b: &dyn Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = b.create(dir.path());
    let (h1, _) = s
        .append(&Head::EMPTY, batch(&Head::EMPTY, 2, "x"), &sign_cp)
        .unwrap();
    let before = snapshot(&*s);
    // Numbered from 0 again.
    let e = s
        .append(&h1, batch(&Head::EMPTY, 1, "y"), &sign_cp)
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict), "{e:?}");
    assert_eq!(snapshot(&*s), before);
    // The right number, chained to another entry.
    let wrong = Head {
        hash: [1u8; 32],
        ..h1
    };
    let e = s.append(&h1, batch(&wrong, 1, "y"), &sign_cp).unwrap_err();
    assert!(matches!(e, StoreError::Conflict), "{e:?}");
    assert_eq!(snapshot(&*s), before);
    // Bytes whose leaf hash is not the one given.
    let mut bad = batch(&h1, 1, "y");
    bad.entries[0].hash = [2u8; 32];
    let e = s.append(&h1, bad, &sign_cp).unwrap_err();
    assert!(matches!(e, StoreError::Corrupt(_)), "{e:?}");
    assert_eq!(snapshot(&*s), before);
    // The signer fails: no entry without its checkpoint.
    let e = s
        .append(&h1, batch(&h1, 1, "y"), &|_, _| Err("no key".into()))
        .unwrap_err();
    assert!(matches!(e, StoreError::Checkpoint(_)), "{e:?}");
    assert_eq!(snapshot(&*s), before);
}

/// Crossing a full tile (256 entries) signs a checkpoint at the boundary too,
/// so every entry of a full tile has a checkpoint that never changes.
fn append_signs_each_full_tile_boundary(b: &dyn Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = b.create(dir.path());
    let (h, _) = s
        .append(&Head::EMPTY, batch(&Head::EMPTY, 300, "t"), &sign_cp)
        .unwrap();
    assert_eq!(h.size, 300);
    let r = s.reader();
    assert_eq!(r.checkpoint_sizes_after(0).unwrap(), [256, 300]);
    assert_eq!(r.first_checkpoint_covering(10).unwrap(), Some(256));
    assert_eq!(r.first_checkpoint_covering(256).unwrap(), Some(300));
}

macro_rules! suite {
    ($module:ident: $backend:ident, $($case:ident),* $(,)?) => {
        mod $module {
            $(
                #[test]
                fn $case() {
                    super::$case(&super::$backend);
                }
            )*
        }
    };
}

suite!(
    sqlite: Sqlite,
    empty_store_has_the_empty_head,
    append_stores_entries_hashes_blobs_and_a_checkpoint,
    compare_and_swap_refuses_a_stale_head,
    append_refuses_what_does_not_extend_the_head,
    append_signs_each_full_tile_boundary,
);
