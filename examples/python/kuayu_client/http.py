"""The court API over HTTPS with a client certificate (docs/API.md, "Connecting")."""
import http.client
import json
import ssl
import urllib.parse
import uuid


class Problem(Exception):
    """An RFC 9457 refusal: `code` is stable, `detail` says what to fix."""

    def __init__(self, status: int, body: dict):
        self.status, self.body = status, body
        self.code = body.get("code") if isinstance(body, dict) else None
        super().__init__("%s %s: %s" % (status, self.code, body.get("detail") if isinstance(body, dict) else body))


class CourtApi:
    """One court's (or print centre's) client of its own gateway's court API."""

    def __init__(self, base_url: str, ca_file: str, cert_file: str, key_file: str, timeout: float = 30):
        url = urllib.parse.urlsplit(base_url)
        self.host, self.port = url.hostname, url.port or 443
        self.context = ssl.create_default_context(cafile=ca_file)
        self.context.load_cert_chain(cert_file, key_file)
        self.timeout = timeout

    def call(self, method: str, path: str, body=None, headers=None, raw: bytes = None):
        """Returns (status, parsed JSON or text). Refusals raise Problem."""
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=self.timeout)
        try:
            headers = dict(headers or {})
            data = None
            if raw is not None:
                data = raw
                headers["Content-Type"] = "application/octet-stream"
            elif body is not None:
                data = json.dumps(body, ensure_ascii=False).encode("utf-8")
                headers["Content-Type"] = "application/json"
            if method == "POST":
                # Every POST carries an Idempotency-Key (docs/API.md): a retry is safe.
                headers.setdefault("Idempotency-Key", str(uuid.uuid4()))
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8")
            kind = response.getheader("Content-Type", "")
            parsed = json.loads(text) if "json" in kind and text else text
            if response.status >= 400:
                raise Problem(response.status, parsed if isinstance(parsed, dict) else {"detail": parsed})
            return response.status, parsed
        finally:
            conn.close()

    def get(self, path: str):
        return self.call("GET", path)[1]

    def post(self, path: str, body: dict, key: str = None):
        return self.call("POST", path, body, {"Idempotency-Key": key} if key else None)

    def put_bytes(self, path: str, data: bytes):
        return self.call("PUT", path, raw=data)
