"""A reference court client for kuayu, written from docs/API.md and docs/SIGNATURES.md.

Standard library (TLS with ssl, HTTP with http.client, SHA-256 with hashlib) plus the
`cryptography` package for Ed25519. RFC 8785 canonical JSON is our own (jcs.py).
"""
