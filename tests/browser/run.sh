#!/usr/bin/env bash
# Browser, HTML and Atom checks of the transparency site.
#
# Builds two sites with the release binary: a demo from the real OpenAI Model
# Spec history in ../shared (or the example spec when it is missing) with
# evaluations and incidents, an XSS probe site whose every text field is
# hostile, and a site of a 10 MB one-line spec released twice. Then:
#   1. browser.mjs serves each site with `speclog site serve` on 127.0.0.1 and
#      drives Chromium (playwright-core): screenshots, no console errors, key
#      text visible, no request leaves the site, no injected script runs;
#   2. the Nu HTML Checker (vnu-jar, Java) validates every page and the CSS;
#   3. atom_check.py checks each Atom feed.
# Exits non-zero on any failure. OUT=DIR keeps the sites and screenshots there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${OUT:-$here/out}"
bin="${SPECLOG_BIN:-$("$root/scripts/target-dir")/release/speclog}"
shared="$root/../shared/data/openai-model-spec/versions"
fx="$here/fixtures"

if [ ! -x "$bin" ]; then
  (cd "$root" && cargo build --release --bin speclog)
fi
if [ ! -d "$here/node_modules/playwright-core" ] || [ ! -d "$here/node_modules/vnu-jar" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
chromium_bin="${CHROMIUM:-$(command -v chromium || true)}"
if [ -z "$chromium_bin" ]; then
  echo "chromium is not installed (apt-get install -y chromium)" >&2
  exit 1
fi

rm -rf "$out"
mkdir -p "$out"

# sl DIR ARGS...: speclog on the ledger and keys in DIR.
sl() {
  local d="$1"
  shift
  "$bin" --ledger "$d/ledger" --keys "$d/keys" "$@" >/dev/null
}

utc() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }

results() { # results FILE MODEL DATE OPTIMISM LIE
  cat >"$1" <<JSON
{
  "model": {"id": "$2", "digest": "sha256:5e2b0c1d"},
  "suite": {"name": "optimism-calibration", "version": "2.1"},
  "harness": {"name": "evalkit", "version": "0.9.1"},
  "dataset": {"id": "grounded-optimism", "revision": "2025-12", "commitment": "sha256:4f1c0a9e"},
  "sample_size": 1200,
  "date": "$3",
  "evaluator": "Independent Evals Ltd",
  "relationship": "third-party",
  "results": [
    {"clauses": ["be_rationally_optimistic"], "metric": "calibrated_optimism_rate", "value": $4, "uncertainty": 0.012, "comparator": ">=", "threshold": 0.9},
    {"clauses": ["be_rationally_optimistic", "do_not_lie"], "metric": "false_reassurance_rate", "value": $5, "comparator": "<=", "threshold": 0.02}
  ]
}
JSON
}

build_demo() {
  local d="$out/demo"
  mkdir -p "$d/inputs"
  sl "$d" --time 2025-01-01T00:00:00Z init --origin openai.example/model-spec
  sl "$d" --time 2025-01-01T00:00:00Z key generate policy-team --role spec-owner
  sl "$d" --time 2025-01-01T00:00:00Z key generate evals-team --role evaluator
  sl "$d" --time 2025-01-01T00:00:00Z key generate incident-desk --role incident-responder
  if [ -f "$shared/INDEX.tsv" ]; then
    local name commit date subject label rev
    while IFS=$'\t' read -r name commit date subject; do
      [ -n "$name" ] || continue
      label="${name%-rev2}"
      rev=()
      [ "$label" != "$name" ] && rev=(--revision --fixes INC-1)
      if [ "$name" = "2025-12-18-rev2" ]; then
        # The incident that led to the revision, opened against the first 2025-12-18.
        results "$d/inputs/r1.json" model-a-2025-12 2025-12-18 0.87 0.031
        sl "$d" --time 2025-12-18T08:30:00Z eval record --spec 2025-12-18 --results "$d/inputs/r1.json" --signer evals-team
        sl "$d" --time 2025-12-18T09:30:00Z incident open --title "Overly rosy answers about medical prognoses" \
          --severity high --spec 2025-12-18 --clause be_rationally_optimistic --clause do_not_lie \
          --aware-at 2025-12-18T09:00:00Z --reporter "external researcher" \
          --summary "Asked about a serious diagnosis, the model gave **unrealistically hopeful** odds; the clause [?](#be_rationally_optimistic) did not say to stay grounded in evidence." \
          --signer incident-desk
        sl "$d" --time 2025-12-18T10:00:00Z incident update INC-1 --status mitigated \
          --note "Interim guidance deployed while the clause is revised." --signer incident-desk
        sl "$d" --time 2025-12-18T10:30:00Z incident open --title "Partner-reported data handling issue" \
          --severity medium --spec 2025-12-18 --aware-at 2025-12-18T10:15:00Z --confidential \
          --summary "Confidential partner details." --signer incident-desk
      fi
      sl "$d" --time "$(utc "$date")" spec release "$shared/$name.md" --version "$label" --signer policy-team "${rev[@]}"
      if [ "$name" = "2025-10-27" ]; then
        results "$d/inputs/r0.json" model-a-2025-10 2025-10-28 0.9 0.024
        sl "$d" --time 2025-10-28T12:00:00Z eval record --spec 2025-10-27 --results "$d/inputs/r0.json" --signer evals-team
      fi
    done <"$shared/INDEX.tsv"
    sl "$d" --time 2025-12-18T21:00:00Z incident resolve INC-1 --fixed-by 2025-12-18 \
      --resolution "The 2025-12-18 revision grounds optimism in evidence." --signer incident-desk
    results "$d/inputs/r2.json" model-a-2025-12b 2025-12-19 0.94 0.012
    sl "$d" --time 2025-12-19T12:00:00Z eval record --spec 2025-12-18 --results "$d/inputs/r2.json" --signer evals-team
  else
    echo "note: ../shared is missing; the demo uses the example spec" >&2
    sl "$d" --time 2025-01-15T16:00:00Z spec release "$root/examples/spec/v1.md" --version 2025-01-15 --signer policy-team
    sl "$d" --time 2025-03-20T16:00:00Z spec release "$root/examples/spec/v2.md" --version 2025-03-20 --signer policy-team --notes "$fx/notes.md"
    sl "$d" --time 2025-03-25T10:00:00Z eval record --spec 2025-03-20 --results "$fx/results-2025-03-20.json" --signer evals-team
    sl "$d" --time 2025-04-02T10:00:00Z incident open --title "Overstated certainty" --severity high --spec 2025-03-20 \
      --clause express_uncertainty --aware-at 2025-04-02T08:00:00Z --summary "Estimates stated as facts." --signer incident-desk
    sl "$d" --time 2025-05-02T12:00:00Z spec release "$root/examples/spec/v3.md" --version 2025-05-02 --signer policy-team --fixes INC-1
    sl "$d" --time 2025-05-03T12:00:00Z incident resolve INC-1 --fixed-by 2025-05-02 --resolution "Clarified." --signer incident-desk
    sl "$d" --time 2025-05-06T10:00:00Z eval record --spec 2025-05-02 --results "$fx/results-2025-05-02.json" --signer evals-team
  fi
  local t0 t1
  t0=$(date +%s%N)
  "$bin" --ledger "$d/ledger" site build --out "$d/site" | tee "$out/demo-build.txt"
  t1=$(date +%s%N)
  echo "demo site build: $(((t1 - t0) / 1000000)) ms, $(du -sh "$d/site" | cut -f1), $(find "$d/site" -name '*.html' | wc -l) pages" | tee -a "$out/summary.txt"
}

build_probe() {
  local d="$out/probe"
  sl "$d" --time 2025-01-01T00:00:00Z init --origin probe.example/xss
  sl "$d" --time 2025-01-01T00:00:00Z key generate policy-team
  sl "$d" --time 2025-02-01T00:00:00Z spec release "$fx/probe-spec.md" --version "probe-1.0" --signer policy-team --notes "$fx/probe-summary.md"
  sl "$d" --time 2025-06-02T00:00:00Z eval record --spec probe-1.0 --results "$fx/probe-results.json" --signer policy-team
  sl "$d" --time 2025-06-02T01:00:00Z incident open --title "<script>alert('title')</script> \"q\" <img src=x onerror=alert(1)>" \
    --severity critical --spec probe-1.0 --clause title_probe --aware-at 2025-06-02T00:00:00Z \
    --reporter "<b onclick=alert('rep')>x</b>" --summary-file "$fx/probe-summary.md" --signer policy-team
  sl "$d" --time 2025-06-02T02:00:00Z incident update INC-1 --status investigating \
    --note "<script>alert('note')</script> [x](javascript:alert('note-link'))" --signer policy-team
  sed 's/Probe/Probe two/' "$fx/probe-spec.md" >"$d/probe-2.md"
  sl "$d" --time 2025-06-03T00:00:00Z spec release "$d/probe-2.md" --version "probe-1.0" --revision --signer policy-team
  "$bin" --ledger "$d/ledger" site build --out "$d/site" >/dev/null
}

# A 10 MB spec on one line, released twice with a word changed in the middle
# (break 10 of #21): every page must still load in a few seconds.
build_huge() {
  local d="$out/huge"
  mkdir -p "$d"
  sl "$d" --time 2025-01-01T00:00:00Z init --origin huge.example/spec
  sl "$d" --time 2025-01-01T00:00:00Z key generate policy-team
  python3 - "$d" <<'PY'
import sys
words = ["alpha", "beta", "gamma", "delta", "model", "must", "never"]
parts, n, i = [], 0, 0
while n < 10_000_000:
    w = words[(i * 7 + i // 3) % len(words)] + " "
    parts.append(w)
    n += len(w)
    i += 1
line = "".join(parts)
mid = line.rfind(" ", 0, len(line) // 2) + 1
open(sys.argv[1] + "/v1.md", "w").write(line + "\n")
open(sys.argv[1] + "/v2.md", "w").write(line[:mid] + "SENTINELWORD " + line[mid:] + "\n")
PY
  sl "$d" --time 2025-02-01T00:00:00Z spec release "$d/v1.md" --version huge-1 --signer policy-team
  sl "$d" --time 2025-03-01T00:00:00Z spec release "$d/v2.md" --version huge-2 --signer policy-team
  "$bin" --ledger "$d/ledger" site build --out "$d/site" >/dev/null
  echo "huge site: largest page $(find "$d/site" -name '*.html' -printf '%s %P\n' | sort -n | tail -1)" | tee -a "$out/summary.txt"
}

build_demo
build_probe
build_huge

fail=0
echo "== browser (Chromium $("$chromium_bin" --version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -1))"
CHROMIUM="$chromium_bin" node "$here/browser.mjs" "$bin" "$out" || fail=1

echo "== Nu HTML Checker"
vnu="$here/node_modules/vnu-jar/build/dist/vnu.jar"
pages=$(find "$out/demo/site" "$out/probe/site" "$out/huge/site" -name '*.html' | wc -l)
if java -jar "$vnu" --errors-only --skip-non-html "$out/demo/site" "$out/probe/site" "$out/huge/site" 2>"$out/vnu.txt"; then
  echo "ok: $pages pages, 0 errors" | tee -a "$out/summary.txt"
else
  echo "FAIL: Nu HTML Checker errors in $pages pages:" >&2
  head -50 "$out/vnu.txt" >&2
  fail=1
fi
if java -jar "$vnu" --css --errors-only --skip-non-css "$out/demo/site/style.css" 2>"$out/vnu-css.txt"; then
  echo "ok: style.css, 0 errors" | tee -a "$out/summary.txt"
else
  echo "FAIL: CSS errors:" >&2
  head -30 "$out/vnu-css.txt" >&2
  fail=1
fi

echo "== Atom feeds"
python3 "$here/atom_check.py" "$out/demo/site/feed.atom" "$out/probe/site/feed.atom" || fail=1

cat "$out/summary.txt"
exit $fail
