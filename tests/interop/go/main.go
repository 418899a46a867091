// Command interop answers line-based requests with golang.org/x/mod/sumdb
// {tlog,note} so that speclog's Rust tlog and note modules can be checked
// against Go's reference implementation (see tests/interop_go.rs).
//
// Build (Debian packages golang-go and golang-golang-x-mod-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o interop main.go
//
// Each request is one line of space-separated fields on stdin; each response
// is exactly one line on stdout, starting with "err " on failure. Hashes and
// tile data are lowercase hex, lists are comma-separated ("-" when empty),
// and free text is standard base64.
//
//	tree N SEED             build a tree whose leaf i has data "SEED/i"; "ok"
//	roots                   tree hashes for sizes 1..N
//	incl SIZE INDEX         tlog.ProveRecord
//	cons NEW OLD            tlog.ProveTree
//	checkincl SIZE INDEX ROOT LEAF PROOF   tlog.CheckRecord: "ok" or "err ..."
//	checkcons NEW NEWROOT OLD OLDROOT PROOF tlog.CheckTree: "ok" or "err ..."
//	tile L N W              tlog.ReadTileData for Tile{H: 8, L, N, W}
//	tilepath L N W          Tile{H: 8, L, N, W}.Path() (L = -1 for data)
//	newtiles OLD NEW        tlog.NewTiles(8, OLD, NEW) as L/N/W items
//	sign NAME SEEDHEX TEXT  note.Sign with an Ed25519 key from the seed: "VKEY NOTE"
//	open VKEY NOTE          note.Open: "ok NAME KEYHASH TEXT"
//	cosign NAME SEEDHEX TIMESTAMP CHECKPOINT  cosignature/v1: "VKEY SIGBASE64"
//	quit
package main

import (
	"bufio"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type storage []tlog.Hash

func (s storage) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(s)) {
			return nil, fmt.Errorf("no hash at index %d", x)
		}
		out[i] = s[x]
	}
	return out, nil
}

var (
	stored storage
	size   int64
)

func hashList(hs []tlog.Hash) string {
	if len(hs) == 0 {
		return "-"
	}
	parts := make([]string, len(hs))
	for i, h := range hs {
		parts[i] = hex.EncodeToString(h[:])
	}
	return strings.Join(parts, ",")
}

func parseHash(s string) (tlog.Hash, error) {
	var h tlog.Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("bad hash %q", s)
	}
	copy(h[:], b)
	return h, nil
}

func parseHashList(s string) ([]tlog.Hash, error) {
	if s == "-" {
		return nil, nil
	}
	var out []tlog.Hash
	for _, p := range strings.Split(s, ",") {
		h, err := parseHash(p)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

func ints(fields []string) ([]int64, error) {
	out := make([]int64, len(fields))
	for i, f := range fields {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// keyFromSeed returns an Ed25519 private key and the verifier key string for
// name with signature type alg (0x01 plain, 0x04 cosignature/v1).
func keyFromSeed(name, seedHex string, alg byte) (ed25519.PrivateKey, string, uint32, error) {
	seed, err := hex.DecodeString(seedHex)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, "", 0, fmt.Errorf("bad seed")
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := append([]byte{alg}, priv.Public().(ed25519.PublicKey)...)
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write(pub)
	id := binary.BigEndian.Uint32(h.Sum(nil))
	vkey := fmt.Sprintf("%s+%08x+%s", name, id, base64.StdEncoding.EncodeToString(pub))
	return priv, vkey, id, nil
}

func handle(f []string) (string, error) {
	if len(f) == 0 {
		return "", fmt.Errorf("empty request")
	}
	args := f[1:]
	switch f[0] {
	case "tree":
		if len(args) != 2 {
			return "", fmt.Errorf("usage: tree N SEED")
		}
		n, err := strconv.ParseInt(args[0], 10, 64)
		if err != nil {
			return "", err
		}
		stored, size = nil, 0
		for i := int64(0); i < n; i++ {
			hs, err := tlog.StoredHashes(i, []byte(fmt.Sprintf("%s/%d", args[1], i)), stored)
			if err != nil {
				return "", err
			}
			stored = append(stored, hs...)
		}
		size = n
		return "ok", nil
	case "roots":
		var roots []tlog.Hash
		for s := int64(1); s <= size; s++ {
			h, err := tlog.TreeHash(s, stored)
			if err != nil {
				return "", err
			}
			roots = append(roots, h)
		}
		return hashList(roots), nil
	case "incl", "cons":
		n, err := ints(args)
		if err != nil || len(n) != 2 {
			return "", fmt.Errorf("usage: %s A B", f[0])
		}
		var p []tlog.Hash
		if f[0] == "incl" {
			p, err = tlog.ProveRecord(n[0], n[1], stored)
		} else {
			p, err = tlog.ProveTree(n[0], n[1], stored)
		}
		if err != nil {
			return "", err
		}
		return hashList(p), nil
	case "checkincl":
		if len(args) != 5 {
			return "", fmt.Errorf("usage: checkincl SIZE INDEX ROOT LEAF PROOF")
		}
		n, err := ints(args[:2])
		if err != nil {
			return "", err
		}
		root, err1 := parseHash(args[2])
		leaf, err2 := parseHash(args[3])
		p, err3 := parseHashList(args[4])
		if err1 != nil || err2 != nil || err3 != nil {
			return "", fmt.Errorf("bad hash")
		}
		if err := tlog.CheckRecord(p, n[0], root, n[1], leaf); err != nil {
			return "", err
		}
		return "ok", nil
	case "checkcons":
		if len(args) != 5 {
			return "", fmt.Errorf("usage: checkcons NEW NEWROOT OLD OLDROOT PROOF")
		}
		n, err := ints([]string{args[0], args[2]})
		if err != nil {
			return "", err
		}
		newRoot, err1 := parseHash(args[1])
		oldRoot, err2 := parseHash(args[3])
		p, err3 := parseHashList(args[4])
		if err1 != nil || err2 != nil || err3 != nil {
			return "", fmt.Errorf("bad hash")
		}
		if err := tlog.CheckTree(p, n[0], newRoot, n[1], oldRoot); err != nil {
			return "", err
		}
		return "ok", nil
	case "tile", "tilepath":
		n, err := ints(args)
		if err != nil || len(n) != 3 {
			return "", fmt.Errorf("usage: %s L N W", f[0])
		}
		t := tlog.Tile{H: 8, L: int(n[0]), N: n[1], W: int(n[2])}
		if f[0] == "tilepath" {
			return t.Path(), nil
		}
		data, err := tlog.ReadTileData(t, stored)
		if err != nil {
			return "", err
		}
		return hex.EncodeToString(data), nil
	case "newtiles":
		n, err := ints(args)
		if err != nil || len(n) != 2 {
			return "", fmt.Errorf("usage: newtiles OLD NEW")
		}
		var parts []string
		for _, t := range tlog.NewTiles(8, n[0], n[1]) {
			parts = append(parts, fmt.Sprintf("%d/%d/%d", t.L, t.N, t.W))
		}
		if len(parts) == 0 {
			return "-", nil
		}
		return strings.Join(parts, ","), nil
	case "sign":
		if len(args) != 3 {
			return "", fmt.Errorf("usage: sign NAME SEEDHEX TEXT")
		}
		priv, vkey, id, err := keyFromSeed(args[0], args[1], 1)
		if err != nil {
			return "", err
		}
		skey := fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", args[0], id,
			base64.StdEncoding.EncodeToString(append([]byte{1}, priv.Seed()...)))
		signer, err := note.NewSigner(skey)
		if err != nil {
			return "", err
		}
		text, err := base64.StdEncoding.DecodeString(args[2])
		if err != nil {
			return "", err
		}
		msg, err := note.Sign(&note.Note{Text: string(text)}, signer)
		if err != nil {
			return "", err
		}
		return vkey + " " + base64.StdEncoding.EncodeToString(msg), nil
	case "open":
		if len(args) != 2 {
			return "", fmt.Errorf("usage: open VKEY NOTE")
		}
		v, err := note.NewVerifier(args[0])
		if err != nil {
			return "", err
		}
		msg, err := base64.StdEncoding.DecodeString(args[1])
		if err != nil {
			return "", err
		}
		n, err := note.Open(msg, note.VerifierList(v))
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("ok %s %08x %s", n.Sigs[0].Name, n.Sigs[0].Hash,
			base64.StdEncoding.EncodeToString([]byte(n.Text))), nil
	case "cosign":
		if len(args) != 4 {
			return "", fmt.Errorf("usage: cosign NAME SEEDHEX TIMESTAMP CHECKPOINT")
		}
		priv, vkey, id, err := keyFromSeed(args[0], args[1], 4)
		if err != nil {
			return "", err
		}
		ts, err := strconv.ParseUint(args[2], 10, 63)
		if err != nil {
			return "", err
		}
		text, err := base64.StdEncoding.DecodeString(args[3])
		if err != nil {
			return "", err
		}
		// c2sp.org/tlog-cosignature: sign "cosignature/v1\ntime T\n" || text;
		// the note signature is key id || u64 timestamp || Ed25519 signature.
		m := append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", ts)), text...)
		sig := make([]byte, 12, 12+ed25519.SignatureSize)
		binary.BigEndian.PutUint32(sig, id)
		binary.BigEndian.PutUint64(sig[4:], ts)
		sig = append(sig, ed25519.Sign(priv, m)...)
		return vkey + " " + base64.StdEncoding.EncodeToString(sig), nil
	}
	return "", fmt.Errorf("unknown request %q", f[0])
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<26)
	out := bufio.NewWriter(os.Stdout)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 1 && f[0] == "quit" {
			break
		}
		resp, err := handle(f)
		if err != nil {
			resp = "err " + strings.ReplaceAll(err.Error(), "\n", " ")
		}
		fmt.Fprintln(out, resp)
		out.Flush()
	}
}
