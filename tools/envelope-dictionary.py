#!/usr/bin/env python3
"""Writes src/store/sql/envelope.dict, the preset DEFLATE dictionary of stored envelopes
(format 2 of src/store/sql/packed.rs), from the JSON Schemas under schemas/.

The dictionary is the vocabulary every envelope shares, and none of any envelope's own
values: each property name the schemas define (as `"name":`), each string an `enum` or
`const` allows (as `"value"`), then the envelope's frame (its fields in the order kuayu
writes them, values left empty). Later bytes are cheaper to refer to, so the frame,
which every envelope starts with, comes last.

Format 2 envelopes can only be read with the exact bytes they were written with: the
file is written once and pinned by its SHA-256 in packed.rs. Running this again after
the schemas change gives other bytes; they belong to a new format number, never to 2.
Usage: python3 tools/envelope-dictionary.py > src/store/sql/envelope.dict
"""
import glob
import json
import sys

names, values = set(), set()


def walk(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                names.update(value)
            if key == "enum" and isinstance(value, list):
                values.update(v for v in value if isinstance(v, str))
            if key == "const" and isinstance(value, str):
                values.add(value)
            walk(value)
    elif isinstance(node, list):
        for item in node:
            walk(item)


for path in sorted(glob.glob("schemas/*/v*/schema.json")):
    with open(path, encoding="utf-8") as f:
        walk(json.load(f))

frame = (
    '{"id":"","kind":"service.request","schema":{"id":"service-request","version":},'
    '"agreement":{"id":"","version":1,"sha256":""},"sender":{"region":"","court":""},'
    '"recipient":{"region":"","court":""},"createdAt":"2026-","expiresAt":"2026-",'
    '"priority":"normal","payload":{'
    '},"signature":{"region":"","value":""}}'
)
text = "".join(f'"{n}":' for n in sorted(names)) + "".join(f'"{v}"' for v in sorted(values)) + frame
sys.stdout.buffer.write(text.encode("utf-8"))
