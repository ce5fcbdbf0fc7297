#!/usr/bin/env python3
"""Checks a kuayu proof bundle offline, written from docs/BUNDLE.md and docs/SIGNATURES.md.

    python3 kuayu_bundle.py bundle.json --roots SC=<base64> --roots CQ=<base64>
    python3 kuayu_bundle.py bundle.json --roots path/to/dev-pki

Nothing but the file and the parties' root keys: agreement signatures and hash, every
envelope's seal, the order, every receipt (signature, issuer, the envelope and digest it
names), the attachment list, the audit entries' hashes and links, and the exporting
gateway's signature over the whole. Prints `MISMATCH <part> <id>: <what>` for each thing
that does not check out and exits 1 if there is any; 0 if the bundle verifies.
"""
import argparse
import datetime
import json
import os
import sys

from kuayu_client import jcs, verify
from kuayu_client.verify import Untrusted

FORMAT = "kuayu-bundle/1"
GENESIS = "0" * 64


class Report:
    def __init__(self):
        self.passed, self.mismatches = [], []

    def fail(self, part, ident, what):
        self.mismatches.append((part, str(ident), what))

    def ok(self, line):
        self.passed.append(line)


def roots_from(args):
    roots = {}
    for arg in args:
        if os.path.isdir(arg):
            for region in sorted(os.listdir(arg)):
                path = os.path.join(arg, region, "root-key.pub")
                if os.path.isfile(path):
                    roots[region] = open(path).read().strip()
            continue
        for one in filter(None, arg.split(",")):
            region, _, value = one.partition("=")
            roots[region] = open(value).read().strip() if os.path.isfile(value) else value
    return roots


def no_duplicates(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise ValueError("the key %r appears twice in one object" % k)
        seen[k] = v
    return seen


def check_agreements(r, bundle, roots):
    usable = {}
    for i, a in enumerate(bundle.get("agreements") or []):
        stated = a.get("sha256") or "#%d" % i
        try:
            digest = verify.check_agreement(a["document"], roots)
        except (Untrusted, KeyError, TypeError) as e:
            r.fail("agreement", stated, str(e))
            continue
        if digest != stated:
            r.fail("agreement", stated, "its terms hash to %s, not to the sha256 the bundle gives" % digest)
            continue
        usable[digest] = verify.message_keys(a["document"])
        r.ok("agreement %s: every party's signature verifies with its root key" % digest)
    return usable


def check_envelopes(r, bundle, agreements):
    checked, sealed = [], 0
    envelopes = bundle.get("envelopes") or []
    for i, e in enumerate(envelopes):
        if not isinstance(e, dict) or "id" not in e:
            r.fail("envelope", "#%d" % i, "not an envelope")
            continue
        if any(c["id"] == e["id"] for c, _ in checked):
            r.fail("envelope", e["id"], "listed twice")
            continue
        # What the seal covers, whether or not it verifies: receipts are compared with it.
        checked.append((e, verify.envelope_sha256(e)))
        try:
            keys = agreements.get(e["agreement"]["sha256"])
            if keys is None:
                r.fail("envelope", e["id"], "the seal cannot be checked: it names agreement %s, "
                       "which the bundle does not hold verified" % e["agreement"]["sha256"])
                continue
            verify.check_envelope(e, keys)
            sealed += 1
        except (Untrusted, KeyError, TypeError) as err:
            r.fail("envelope", e["id"], "%s: its content differs from what was sealed" % err)
    if sealed == len(envelopes):
        r.ok("%d envelope(s): each seal verifies with its sender's messageKey" % sealed)
    return checked


def check_order(r, checked, request_id, purged):
    before = len(r.mismatches)
    if not checked and purged:
        return  # a purge takes every envelope of a request at once
    if not checked:
        r.fail("order", request_id, "the bundle holds no envelope")
        return
    first = checked[0][0]
    if first.get("id") != request_id or "inReplyTo" in first or not first.get("kind", "").endswith(".request"):
        r.fail("order", first.get("id"), "the first envelope must be the request %s itself" % request_id)
    for (a, _), (b, _) in zip(checked, checked[1:]):
        if b.get("inReplyTo") != request_id:
            r.fail("order", b.get("id"), "inReplyTo is %r, not the request %s" % (b.get("inReplyTo"), request_id))
        if verify_time(b["createdAt"]) < verify_time(a["createdAt"]):
            r.fail("order", b.get("id"), "created before the envelope listed ahead of it (%s)" % a.get("id"))
    if len(r.mismatches) == before:
        r.ok("order: the request, then %d update(s) replying to it, in createdAt order" % (len(checked) - 1))


def verify_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def purged_envelopes(r, bundle):
    """The envelopes purged after the agreement's retention: message id -> kept digest."""
    purged = {}
    for i, p in enumerate(bundle.get("purged") or []):
        if isinstance(p.get("messageId"), str) and isinstance(p.get("envelopeSha256"), str):
            purged[p["messageId"]] = p["envelopeSha256"]
        else:
            r.fail("envelope", "purged #%d" % i, "a purged envelope needs a messageId and an envelopeSha256")
    if purged:
        r.ok("%d envelope(s) purged after the agreement's retention: only their digests are kept, which their receipts are checked against" % len(purged))
    return purged


def purged_receipt(rc, kept, agreements):
    """A receipt of a purged envelope: names the kept digest, and its issuer's messageKey in
    some verified agreement of the bundle verifies it."""
    if rc.get("envelopeSha256") != kept:
        return "envelopeSha256 is %s, but the purged envelope's kept digest is %s" % (rc.get("envelopeSha256"), kept)
    for keys in agreements.values():
        if rc.get("issuer") in keys:
            try:
                verify.check_receipt(rc, keys)
                return None
            except (Untrusted, KeyError):
                continue
    return "the signature does not verify with any messageKey %s has in the bundle's agreements" % rc.get("issuer")


def check_receipts(r, bundle, checked, agreements, purged):
    by_id = {e["id"]: (e, d) for e, d in checked}
    receipts = bundle.get("receipts") or []
    good = 0
    for i, rc in enumerate(receipts):
        ident = "#%d (%s of %s)" % (i, rc.get("hop"), rc.get("messageId"))
        if rc.get("messageId") in purged:
            why = purged_receipt(rc, purged[rc["messageId"]], agreements)
            if why is None:
                good += 1
            else:
                r.fail("receipt", ident, why)
            continue
        if rc.get("messageId") not in by_id:
            r.fail("receipt", ident, "names a message that is not among the bundle's envelopes")
            continue
        e, digest = by_id[rc["messageId"]]
        if rc.get("envelopeSha256") != digest:
            r.fail("receipt", ident, "envelopeSha256 is %s, but the envelope hashes to %s" % (rc.get("envelopeSha256"), digest))
            continue
        issuer = e["sender"]["region"] if rc.get("hop") == "submission" else e["recipient"]["region"]
        if rc.get("issuer") != issuer:
            r.fail("receipt", ident, "issued by %s, but this hop's receipt is %s's" % (rc.get("issuer"), issuer))
            continue
        if rc.get("hop") == "retrieval" and rc.get("court") != e["recipient"]["court"]:
            r.fail("receipt", ident, "a retrieval by %r, not by the recipient court" % rc.get("court"))
            continue
        keys = agreements.get(e["agreement"]["sha256"])
        if keys is None:
            r.fail("receipt", ident, "cannot be checked: its envelope's agreement is not verified")
            continue
        try:
            verify.check_receipt(rc, keys)
            good += 1
        except (Untrusted, KeyError) as err:
            r.fail("receipt", ident, str(err))
    if good == len(receipts):
        r.ok("%d receipt(s): each signed by its hop's issuer, naming an envelope of the bundle with its digest" % good)


def check_attachments(r, bundle, checked):
    expected = {(e["id"], a["docId"], a["sha256"], a["bytes"]) for e, _ in checked for a in e.get("attachments", [])}
    listed = {(a.get("messageId"), a.get("docId"), a.get("sha256"), a.get("bytes")) for a in bundle.get("attachments") or []}
    for k in sorted(listed - expected, key=str):
        r.fail("attachment", k[2], "listed for %s, which no envelope of the bundle lists so" % k[0])
    for k in sorted(expected - listed, key=str):
        r.fail("attachment", k[2], "envelope %s lists it, the bundle's list does not" % k[0])
    if listed == expected:
        r.ok("%d attachment digest(s), as the envelopes list them" % len(expected))
    return {k[2] for k in expected}


def check_audit(r, bundle, subjects):
    audit = bundle.get("audit") or {}
    if audit.get("region") != bundle.get("exportedBy"):
        r.fail("audit", "region", "the entries are %r's, the bundle was exported by %r" % (audit.get("region"), bundle.get("exportedBy")))
    before, prev, links = len(r.mismatches), None, 0
    for e in audit.get("entries") or []:
        body = {k: e.get(k) for k in ("seq", "at", "actor", "action", "subject", "detail", "prevHash")}
        digest = verify.sha256_hex(jcs.canonical(body))
        if digest != e.get("hash"):
            r.fail("audit", e.get("seq"), "its fields hash to %s, not to its hash %s: the entry was changed" % (digest, e.get("hash")))
        if e.get("subject") not in subjects:
            r.fail("audit", e.get("seq"), "its subject is not the request, a message or an attachment of the bundle")
        if e.get("seq") == 1 and e.get("prevHash") != GENESIS:
            r.fail("audit", 1, "the first entry of a log must follow the genesis hash")
        if prev is not None:
            if e["seq"] <= prev["seq"]:
                r.fail("audit", e["seq"], "out of order after entry %s" % prev["seq"])
            elif e["seq"] == prev["seq"] + 1:
                if e.get("prevHash") == prev.get("hash"):
                    links += 1
                else:
                    r.fail("audit", e["seq"], "prevHash is not the hash of entry %s" % prev["seq"])
        prev = e
    head = audit.get("head") or {}
    if prev is not None and isinstance(head.get("seq"), int):
        if head["seq"] < prev["seq"]:
            r.fail("audit", "head", "the head is before the last entry included")
        elif head["seq"] == prev["seq"] and head.get("hash") != prev.get("hash"):
            r.fail("audit", "head", "the head's hash differs from that entry's")
    if len(r.mismatches) == before:
        r.ok("%d audit entr(ies): each hash recomputes, %d link(s) between consecutive entries hold" % (len(audit.get("entries") or []), links))


def check_signature(r, bundle, checked, agreements):
    exporter = bundle.get("exportedBy")
    request = next((e for e, _ in checked if e.get("id") == bundle.get("requestId")), None)
    keys = agreements.get(request["agreement"]["sha256"]) if request else None
    keys = keys or next(iter(agreements.values()), None)
    if not keys or exporter not in keys:
        r.fail("bundle", exporter, "the exporting gateway is no party of a verified agreement of the bundle")
        return
    try:
        verify.check(keys[exporter], bundle.get("signature") or "", jcs.canonical(verify.without(bundle, "signature")),
                     "the exporter's signature over the bundle")
        r.ok("bundle signed by the %s gateway (its messageKey) over everything else" % exporter)
    except Untrusted as err:
        r.fail("bundle", exporter, "%s: some byte of it changed after export" % err)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file")
    parser.add_argument("--roots", action="append", required=True,
                        help="REGION=<base64 or file>, comma-separated, or a dev PKI folder")
    args = parser.parse_args()
    roots = roots_from(args.roots)
    r = Report()
    try:
        with open(args.file, "rb") as f:
            bundle = json.loads(f.read().decode("utf-8"), object_pairs_hook=no_duplicates)
    except ValueError as e:
        r.fail("bundle", "-", "not JSON (or a key twice): %s" % e)
        bundle = None
    if bundle is not None:
        if bundle.get("format") != FORMAT:
            r.fail("bundle", "format", "format is %r, this script reads %s" % (bundle.get("format"), FORMAT))
        agreements = check_agreements(r, bundle, roots)
        checked = check_envelopes(r, bundle, agreements)
        purged = purged_envelopes(r, bundle)
        check_order(r, checked, bundle.get("requestId"), purged)
        check_receipts(r, bundle, checked, agreements, purged)
        digests = check_attachments(r, bundle, checked)
        subjects = {e.get("id") for e, _ in checked} | {bundle.get("requestId")} | digests | set(purged)
        check_audit(r, bundle, subjects)
        check_signature(r, bundle, checked, agreements)
    print("%s:" % args.file)
    for line in r.passed:
        print("ok        " + line)
    for part, ident, what in r.mismatches:
        print("MISMATCH  %s %s: %s" % (part, ident, what))
    if r.mismatches:
        print("%d mismatch(es): the bundle does not verify" % len(r.mismatches))
        return 1
    print("the bundle verifies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
