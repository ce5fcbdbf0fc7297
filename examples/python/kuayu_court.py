#!/usr/bin/env python3
"""A court system's client of kuayu, written from docs/API.md and docs/SIGNATURES.md alone.

    python3 kuayu_court.py sign-agreement --config run.json --out amended.json
    python3 kuayu_court.py journey --config run.json --expect-agreement amended.json

sign-agreement: fetch the agreement in force, check every party's signature and its hash
with our own RFC 8785 and Ed25519 code, and sign an amendment (version + 1) whose times are
written in China's offset (+08:00), as a party other than kuayu would: over the RFC 8785
form of the terms exactly as written. The gateways' operators then load it.

journey: check that amendment is in force at both gateways, then as the requesting court
upload a document and submit a service request (retrying once with the same
Idempotency-Key), as the executing court pull the inbox and answer (accepted, an SMS
attempt, the certificate of service), and as the requesting court follow it to
`completed`; every seal, receipt and digest on the way is checked. Exit 0 only if all of
it held. See README.md for the configuration file.
"""
import argparse
import base64
import datetime
import json
import os
import re
import sys
import time

from cryptography.hazmat.primitives import serialization

from kuayu_client import jcs, verify
from kuayu_client.http import CourtApi, Problem

CHINA = datetime.timezone(datetime.timedelta(hours=8))
TIME_MEMBERS = {"validFrom", "validUntil", "effectiveFrom", "from", "until"}
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def say(*parts):
    print(*parts, flush=True)


class Run:
    def __init__(self, config_path: str):
        with open(config_path, encoding="utf-8") as f:
            self.config = json.load(f)
        self.roots = {r: c["rootPublic"] for r, c in self.config["regions"].items()}

    def court(self, code: str) -> CourtApi:
        court = self.config["courts"][code]
        region = self.config["regions"][code[:2]]
        return CourtApi(region["courtApi"], region["ca"], court["cert"], court["key"])

    def in_force(self, code: str) -> list:
        """GET /v1/agreements at `code`'s gateway, each checked: signatures, hash."""
        listings = self.court(code).get("/v1/agreements")
        for a in listings:
            digest = verify.check_agreement(a["document"], self.roots)
            if digest != a["sha256"]:
                raise verify.Untrusted("agreement %s v%s: the gateway says hash %s, the terms hash to %s"
                                       % (a["id"], a["version"], a["sha256"], digest))
        return listings


def eight(value: str) -> str:
    """The same instant written with +08:00."""
    t = datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(CHINA)
    return t.isoformat(timespec="milliseconds" if t.microsecond else "seconds")


def rewrite_times(v):
    if isinstance(v, dict):
        return {k: (eight(x) if k in TIME_MEMBERS and isinstance(x, str) and RFC3339.match(x)
                    else rewrite_times(x)) for k, x in v.items()}
    if isinstance(v, list):
        return [rewrite_times(x) for x in v]
    return v


def sign_agreement(run: Run, out: str) -> None:
    requesting = run.config["requesting"]
    current = max(run.in_force(requesting), key=lambda a: a["version"])
    say("in force: %s v%d, hash %s: every party's signature checks" % (current["id"], current["version"], current["sha256"]))
    terms = rewrite_times(current["document"]["terms"])
    terms["version"] = current["version"] + 1
    terms["title"] = terms["title"] + " (amendment signed by the Python reference client)"
    data = jcs.canonical(terms)
    signatures = []
    for region, c in sorted(run.config["regions"].items()):
        with open(c["rootKey"], "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
        signatures.append({"region": region, "signature": base64.b64encode(key.sign(data)).decode("ascii")})
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"terms": terms, "signatures": signatures}, f, ensure_ascii=False, indent=2)
        f.write("\n")
    say("signed %s v%d with times in +08:00 (validFrom %s), hash %s -> %s"
        % (terms["id"], terms["version"], terms["validFrom"], verify.sha256_hex(data), out))


def until(what: str, check, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError("waited %ss for %s" % (timeout, what))
        time.sleep(0.1)


def journey(run: Run, expect: str) -> None:
    requesting, executing = run.config["requesting"], run.config["executing"]
    with open(expect, encoding="utf-8") as f:
        ours = json.load(f)
    our_hash = verify.check_agreement(ours, run.roots)
    agreement = None
    for code in (requesting, executing):
        listings = run.in_force(code)
        mine = [a for a in listings if a["sha256"] == our_hash]
        if not mine:
            raise verify.Untrusted("the agreement we signed (%s) is not in force at %s's gateway" % (our_hash, code))
        agreement = mine[0]["document"]
        say("%s's gateway: our +08:00 amendment v%d is in force, hash %s" % (code, mine[0]["version"], our_hash))
    keys = verify.message_keys(agreement)
    sc, cq = run.court(requesting), run.court(executing)
    checked = {"seals": 0, "receipts": 0}

    def receipt(r, **want):
        verify.check_receipt(r, keys, **want)
        checked["receipts"] += 1

    def seal(envelope):
        checked["seals"] += 1
        digest = verify.check_envelope(envelope, keys)
        if envelope["agreement"]["sha256"] != our_hash:
            raise verify.Untrusted("envelope %s travels under %s, not our agreement" % (envelope["id"], envelope["agreement"]["sha256"]))
        return digest

    # 1. A document, uploaded by its SHA-256.
    document = "传票（2027年1月12日开庭）：请于2027年1月12日9时到庭。\n".encode("utf-8")
    digest = verify.sha256_hex(document)
    _, stored = sc.put_bytes("/v1/attachments/" + digest, document)
    assert stored == {"sha256": digest, "bytes": len(document)}, stored

    # 2. The request, and the same POST again with the same Idempotency-Key.
    with open(run.config["fixture"], encoding="utf-8") as f:
        payload = json.load(f)
    payload["documents"] = [{"docId": "summons-py", "docType": "summons", "title": "传票",
                             "sha256": digest, "pages": 1}]
    addressee = payload["addressees"][0]["name"]
    submission = {"kind": "service.request", "recipientCourt": executing, "payload": payload,
                  "attachments": [{"docId": "summons-py", "title": "传票", "docType": "summons",
                                   "sha256": digest, "bytes": len(document), "mediaType": "text/plain", "pages": 1}]}
    key = "py-%d" % time.time_ns()
    status, accepted = sc.post("/v1/requests", submission, key)
    assert status == 202, status
    receipt(accepted["receipt"], hop="submission", message_id=accepted["messageId"], digest=accepted["envelopeSha256"])
    request_id = accepted["requestId"]
    _, again = sc.post("/v1/requests", submission, key)
    assert again == accepted, "the same Idempotency-Key gets the first answer"
    say("submitted %s: 202, submission receipt checks, a retry with the same key got the same answer" % request_id)

    # 3. The executing court's inbox: the request, sealed by the requesting gateway.
    # A long poll (wait=10): with nothing after the cursor, the gateway answers as soon as
    # a message lands, or after 10 s with an empty page.
    inbox = {"after": 0}

    def arrived():
        page = cq.get("/v1/inbox?after=%d&limit=50&wait=10" % inbox["after"])
        inbox["after"] = page["nextCursor"]
        return next((e for e in page["items"] if e["requestId"] == request_id), None)

    entry = until("the request in %s's inbox" % executing, arrived)
    if seal(entry["envelope"]) != accepted["envelopeSha256"]:
        raise verify.Untrusted("the envelope the executing court got is not the one submitted")
    receipt(entry["receipt"], hop="retrieval", message_id=request_id, digest=accepted["envelopeSha256"])
    say("%s pulled it from its inbox: seal, envelopeSha256 and retrieval receipt check" % executing)

    # 4. Its answers.
    updates = [
        {"kind": "service.status", "payload": {"status": "accepted", "at": "2026-11-25T16:30:00+08:00"}},
        {"kind": "service.attempt", "payload": {"addresseeName": addressee, "channel": "sms", "address": "13908312456",
                                                "addressConfirmed": True, "outcome": "read", "at": "2026-11-25T16:41:00+08:00",
                                                "sender": "12368", "sentAt": "2026-11-25T16:40:02+08:00",
                                                "deliveredAt": "2026-11-25T16:40:05+08:00", "readAt": "2026-11-25T16:41:00+08:00"}},
        {"kind": "service.result", "payload": {"addresseeName": addressee, "status": "served", "servedAt": "2026-11-25T16:40:05+08:00",
                                               "method": "sms", "effect": "served", "documentsServed": ["summons-py"],
                                               "channelEvidence": {"sender": "12368", "receiver": "13908312456",
                                                                   "sentAt": "2026-11-25T16:40:02+08:00", "deliveredAt": "2026-11-25T16:40:05+08:00"}}},
    ]
    for u in updates:
        status, answer = cq.post("/v1/requests/%s/updates" % request_id, u)
        assert status == 202 and answer["requestId"] == request_id, answer
        receipt(answer["receipt"], hop="submission", message_id=answer["messageId"], digest=answer["envelopeSha256"])
    try:
        cq.post("/v1/requests/%s/updates" % request_id, updates[2])
        raise AssertionError("a second certificate for the same addressee was accepted")
    except Problem as p:
        assert p.status == 409 and p.code == "illegal_transition", p
    say("%s answered: accepted, an SMS read, the certificate; a second certificate is refused (409 illegal_transition)" % executing)

    # 5. The requesting court follows it to the end and checks everything it holds.
    view = until("the request completed at %s" % requesting,
                 lambda: (lambda v: v if v["state"] == "completed" else None)(sc.get("/v1/requests/" + request_id)))
    digests = {}
    for m in view["messages"]:
        d = seal(m["envelope"])
        if d != m["envelopeSha256"]:
            raise verify.Untrusted("message %s: the gateway says %s, it hashes to %s" % (m["id"], m["envelopeSha256"], d))
        digests[m["id"]] = d
    for r in view["receipts"]:
        receipt(r, message_id=r["messageId"], digest=digests.get(r["messageId"]))
    hops = sorted({(r["issuer"], r["hop"]) for r in view["receipts"]})
    assert ("CQ", "relay") in hops and ("SC", "submission") in hops, hops
    assert [a["state"] for a in view["addressees"]] == ["served"], view["addressees"]
    assert view["deadlines"] and all(d["status"] != "overdue" for d in view["deadlines"])
    cursor, page = 0, {"items": [None]}
    while page["items"]:
        page = sc.get("/v1/inbox?after=%d&limit=50" % cursor)
        for e in page["items"]:
            if e.get("envelope"):
                d = seal(e["envelope"])
                if e.get("receipt"):
                    receipt(e["receipt"], hop="retrieval", message_id=e["messageId"], digest=d)
        cursor = page["nextCursor"]
    say("%s: %s completed, %d messages; receipts from %s"
        % (requesting, request_id, len(view["messages"]), ", ".join("%s %s" % h for h in hops)))
    say("checked %d seals and %d receipts with our own RFC 8785 and Ed25519: all verify" % (checked["seals"], checked["receipts"]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["sign-agreement", "journey", "selftest"])
    parser.add_argument("--config", help="the run's JSON configuration (README.md)")
    parser.add_argument("--out", help="sign-agreement: where to write the signed amendment")
    parser.add_argument("--expect-agreement", help="journey: the amendment that must be in force")
    args = parser.parse_args()
    jcs.selftest()
    if args.command == "selftest":
        say("RFC 8785 examples: ok")
        return 0
    run = Run(args.config)
    try:
        if args.command == "sign-agreement":
            sign_agreement(run, args.out)
        else:
            journey(run, args.expect_agreement)
    except (verify.Untrusted, Problem, AssertionError, TimeoutError, OSError, KeyError) as e:
        print("FAILED: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
