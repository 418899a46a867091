#!/usr/bin/env python3
"""Checks Atom 1.0 feeds (RFC 4287): well-formed XML and the required elements.

Usage: atom_check.py FEED...  Exits 1 if any feed fails.
"""
import re
import sys
import xml.etree.ElementTree as ET

A = "{http://www.w3.org/2005/Atom}"
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
IRI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$")


def check(path):
    errors = []
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        return [f"not well-formed XML: {e}"]
    if root.tag != A + "feed":
        return [f"root element is {root.tag}, not atom:feed"]

    def one(el, name, where):
        found = el.findall(A + name)
        if len(found) != 1:
            errors.append(f"{where}: {len(found)} atom:{name} elements, want exactly 1")
            return None
        return found[0]

    for name in ("id", "title", "updated"):
        one(root, name, "feed")
    fid = root.find(A + "id")
    if fid is not None and not IRI.match(fid.text or ""):
        errors.append(f"feed id {fid.text!r} is not an IRI")
    up = root.find(A + "updated")
    if up is not None and not DATE.match(up.text or ""):
        errors.append(f"feed updated {up.text!r} is not an RFC 3339 date")
    feed_author = root.find(A + "author") is not None
    if not any(l.get("rel") == "self" for l in root.findall(A + "link")):
        errors.append("feed has no rel=self link")
    ids = set()
    entries = root.findall(A + "entry")
    for i, e in enumerate(entries):
        where = f"entry {i}"
        for name in ("id", "title", "updated"):
            one(e, name, where)
        eid = e.find(A + "id")
        if eid is not None:
            if not IRI.match(eid.text or ""):
                errors.append(f"{where}: id {eid.text!r} is not an IRI")
            if eid.text in ids:
                errors.append(f"{where}: duplicate id {eid.text}")
            ids.add(eid.text)
        for name in ("updated", "published"):
            d = e.find(A + name)
            if d is not None and not DATE.match(d.text or ""):
                errors.append(f"{where}: {name} {d.text!r} is not an RFC 3339 date")
        author = e.find(A + "author")
        if author is None and not feed_author:
            errors.append(f"{where}: no author")
        if author is not None and author.find(A + "name") is None:
            errors.append(f"{where}: author without name")
        alternate = [l for l in e.findall(A + "link") if l.get("rel", "alternate") == "alternate"]
        if e.find(A + "content") is None and not alternate:
            errors.append(f"{where}: neither content nor an alternate link")
        for t in ("summary", "content", "title"):
            x = e.find(A + t)
            if x is not None and x.get("type", "text") not in ("text", "html", "xhtml"):
                errors.append(f"{where}: {t} type {x.get('type')!r}")
    if not entries:
        errors.append("feed has no entries")
    return errors


def main():
    bad = 0
    for path in sys.argv[1:]:
        errs = check(path)
        if errs:
            bad += 1
            print(f"FAIL {path}:", file=sys.stderr)
            for e in errs[:20]:
                print(f"  {e}", file=sys.stderr)
        else:
            n = len(ET.parse(path).getroot().findall(A + "entry"))
            print(f"ok: {path}: Atom 1.0, {n} entries")
    print(f"{len(sys.argv) - 1 - bad} passed, {bad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
