"""RFC 8785 JSON Canonicalization Scheme, written from the RFC (docs/SIGNATURES.md).

canonical(value) -> bytes: object members sorted by their names as UTF-16 code units,
no white space, strings with the minimal escapes, numbers as ECMAScript writes them.
"""
import math

_SHORT = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _string(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch in _SHORT:
            out.append(_SHORT[ch])
        elif ord(ch) < 0x20:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _number(x) -> str:
    """ECMAScript Number.prototype.toString of the IEEE 754 double x."""
    if isinstance(x, int) and abs(x) < 2**53:
        return str(x)
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        raise ValueError("NaN and infinities have no JSON form")
    if x == 0:
        return "0"
    if x < 0:
        return "-" + _number(-x)
    # repr gives the shortest digits that round-trip, as ECMAScript's algorithm does.
    mantissa, _, exponent = repr(x).partition("e")
    whole, _, fraction = mantissa.partition(".")
    all_digits = whole + fraction
    digits = all_digits.lstrip("0")
    leading = len(all_digits) - len(digits)
    n = len(whole) + (int(exponent) if exponent else 0) - leading
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    e = n - 1
    head = digits[0] + ("." + digits[1:] if k > 1 else "")
    return head + "e" + ("+" if e >= 0 else "-") + str(abs(e))


def _write(v, out: list) -> None:
    if v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, (int, float)):
        out.append(_number(v))
    elif isinstance(v, str):
        out.append(_string(v))
    elif isinstance(v, (list, tuple)):
        out.append("[")
        for i, item in enumerate(v):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    elif isinstance(v, dict):
        out.append("{")
        for i, key in enumerate(sorted(v, key=lambda k: k.encode("utf-16-be"))):
            if i:
                out.append(",")
            out.append(_string(key))
            out.append(":")
            _write(v[key], out)
        out.append("}")
    else:
        raise TypeError("not JSON: %r" % (v,))


def canonical(value) -> bytes:
    out: list = []
    _write(value, out)
    return "".join(out).encode("utf-8")


def selftest() -> None:
    """The RFC 8785 examples (sections 3.2.2, 3.2.3): fail loudly if we got them wrong."""
    import json

    doc = json.loads(
        '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],'
        '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        '"literals":[null,true,false]}'
    )
    want = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    got = canonical(doc).decode("utf-8")
    assert got == want, "RFC 8785 example: got %s" % got
    order = json.loads(
        '{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh",'
        '"1":"One","\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control",'
        '"\\u00f6":"Latin Small Letter O With Diaeresis"}'
    )
    keys = [k for k in json.loads(canonical(order).decode("utf-8"))]
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001F600", "\ufb33"], keys
    for x, s in [(0.0, "0"), (-0.0, "0"), (1e21, "1e+21"), (1e20, "100000000000000000000"),
                 (1e-7, "1e-7"), (1e-6, "0.000001"), (123456789012345680000.0, "123456789012345680000"),
                 (5e-324, "5e-324"), (-1.5, "-1.5"), (2**60, "1152921504606847000")]:
        assert _number(x) == s, (x, _number(x), s)
