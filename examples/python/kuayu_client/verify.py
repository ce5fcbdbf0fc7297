"""Checking kuayu's signatures and digests, as docs/SIGNATURES.md describes them.

Every check works on the JSON as received (a dict parsed from the wire), never on a
value rebuilt from our own types.
"""
import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .jcs import canonical


class Untrusted(Exception):
    """A signature or digest that does not check out."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def public_key(b64: str) -> Ed25519PublicKey:
    raw = base64.b64decode(b64, validate=True)
    if len(raw) != 32:
        raise Untrusted("an Ed25519 public key has 32 bytes, not %d" % len(raw))
    return Ed25519PublicKey.from_public_bytes(raw)


def check(key_b64: str, signature_b64: str, data: bytes, what: str) -> None:
    try:
        public_key(key_b64).verify(base64.b64decode(signature_b64, validate=True), data)
    except (InvalidSignature, ValueError) as e:
        raise Untrusted("%s: the signature does not verify (%s)" % (what, e or "invalid")) from None


def without(doc: dict, member: str) -> dict:
    return {k: v for k, v in doc.items() if k != member}


# --- agreements -------------------------------------------------------------------

def agreement_hash(document: dict) -> str:
    """SHA-256 of JCS(terms), the terms exactly as the document has them."""
    return sha256_hex(canonical(document["terms"]))


def check_agreement(document: dict, roots: dict) -> str:
    """Every party signed JCS(terms) with the root key we hold for it; returns the hash."""
    bytes_ = canonical(document["terms"])
    parties = [p["region"] for p in document["terms"]["parties"]]
    signed = {s["region"]: s["signature"] for s in document.get("signatures", [])}
    for region in parties:
        if region not in signed:
            raise Untrusted("agreement: %s has not signed" % region)
        if region not in roots:
            raise Untrusted("agreement: we hold no root key for %s" % region)
        check(roots[region], signed[region], bytes_, "agreement signature of %s" % region)
    return sha256_hex(bytes_)


def message_keys(document: dict) -> dict:
    """region -> the gateway message key the agreement gives it."""
    return {p["region"]: p["messageKey"] for p in document["terms"]["parties"]}


# --- envelopes and receipts -------------------------------------------------------

def envelope_sha256(envelope: dict) -> str:
    """SHA-256 of JCS(envelope without its signature): what the seal signs."""
    return sha256_hex(canonical(without(envelope, "signature")))


def check_envelope(envelope: dict, keys: dict) -> str:
    """The sending gateway's seal; returns the envelope's digest."""
    seal = envelope.get("signature") or {}
    region = envelope["sender"]["region"]
    if seal.get("region") != region:
        raise Untrusted("envelope %s: sealed by %r, sent by %s" % (envelope["id"], seal.get("region"), region))
    data = canonical(without(envelope, "signature"))
    check(keys[region], seal["value"], data, "seal of envelope %s" % envelope["id"])
    return sha256_hex(data)


def check_receipt(receipt: dict, keys: dict, hop: str = None, message_id: str = None,
                  digest: str = None) -> dict:
    """A receipt's signature by its issuer, over JCS(receipt without signature), and that it
    names what we expect."""
    what = "%s receipt for %s" % (receipt.get("hop"), receipt.get("messageId"))
    if hop and receipt["hop"] != hop:
        raise Untrusted("%s: expected a %s receipt" % (what, hop))
    if message_id and receipt["messageId"] != message_id:
        raise Untrusted("%s: names another message than %s" % (what, message_id))
    if digest and receipt["envelopeSha256"] != digest:
        raise Untrusted("%s: envelopeSha256 %s, but the envelope hashes to %s"
                        % (what, receipt["envelopeSha256"], digest))
    issuer = receipt["issuer"]
    if issuer not in keys:
        raise Untrusted("%s: issued by %s, which is no party" % (what, issuer))
    check(keys[issuer], receipt["signature"], canonical(without(receipt, "signature")), what)
    return receipt
