//! W3C trace context (`traceparent`, <https://www.w3.org/TR/trace-context/>) as kuayu
//! carries it: one trace id per request, from the court's `traceparent` (or a new one),
//! across both gateways and back with every update.
//!
//! The trace id travels in the `traceparent` header of each HTTP hop (court to gateway,
//! gateway to gateway, the 202 back to the court), never inside the signed envelope: what
//! a signature covers does not change, and the trace id is unauthenticated metadata for
//! operators, never used to decide anything. Each hop sends its own span id.

/// The header's name.
pub const HEADER: &str = "traceparent";

/// The trace id of a W3C `traceparent` value (`00-<32 hex>-<16 hex>-<2 hex>`, lower-case,
/// the trace id not all zero), if it is one; anything else is ignored (a new trace is
/// started instead, the call is never refused for it).
pub fn parse(traceparent: Option<&str>) -> Option<String> {
    let mut parts = traceparent?.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let valid = lower_hex(version, 2)
        && version != "ff"
        // Version 00 has exactly four fields; later versions may add more.
        && (version != "00" || parts.next().is_none())
        && is_trace_id(trace)
        && lower_hex(parent, 16)
        && parent.bytes().any(|b| b != b'0')
        && lower_hex(flags, 2);
    valid.then(|| trace.to_owned())
}

/// Whether `s` is `n` lower-case hex digits.
fn lower_hex(s: &str, n: usize) -> bool {
    s.len() == n
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// The trace id of the `traceparent` header in `headers`, if there is a valid one.
pub fn from_headers(headers: &http::HeaderMap) -> Option<String> {
    parse(headers.get(HEADER).and_then(|v| v.to_str().ok()))
}

/// Whether `id` is a trace id as [`parse`] yields them (32 lower-case hex, not all zero).
pub fn is_trace_id(id: &str) -> bool {
    lower_hex(id, 32) && id.bytes().any(|b| b != b'0')
}

/// A new random trace id.
pub fn new_trace_id() -> String {
    random_hex::<16>()
}

/// A `traceparent` value continuing trace `trace_id` with a new span id (this hop's),
/// sampled.
pub fn traceparent(trace_id: &str) -> String {
    format!("00-{trace_id}-{}-01", random_hex::<8>())
}

fn random_hex<const N: usize>() -> String {
    // From the thread-local generator (seeded from the operating system's source), not
    // a system call for each id: a message takes several.
    let mut bytes = [0_u8; N];
    rand::fill(&mut bytes[..]);
    if bytes.iter().all(|b| *b == 0) {
        bytes[N - 1] = 1; // all zero is invalid in the trace context
    }
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_yields_its_trace_id_and_anything_else_nothing() {
        assert_eq!(
            parse(Some(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            ))
            .as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-王建国-00f067aa0ba902b7-01",
        ] {
            assert_eq!(parse(Some(bad)), None, "{bad}");
        }
        assert_eq!(parse(None), None);
    }

    #[test]
    fn a_trace_id_is_32_lower_case_hex_not_all_zero() {
        assert!(is_trace_id("4bf92f3577b34da6a3ce929d0e0e4736"));
        for bad in [
            "",
            "4bf92f3577b34da6a3ce929d0e0e473",
            "4bf92f3577b34da6a3ce929d0e0e47366",
            "4BF92F3577B34DA6A3CE929D0E0E4736",
            "00000000000000000000000000000000",
            "4bf92f3577b34da6-3ce929d0e0e4736",
            "4bf92f3577b34da6a3ce929d0e0e473g",
        ] {
            assert!(!is_trace_id(bad), "{bad}");
        }
    }

    #[test]
    fn a_new_trace_continues_under_its_id_with_a_fresh_span_each_hop() {
        let id = new_trace_id();
        assert!(is_trace_id(&id), "{id}");
        assert_ne!(id, new_trace_id());
        let (a, b) = (traceparent(&id), traceparent(&id));
        assert_eq!(parse(Some(&a)), Some(id.clone()));
        assert_eq!(parse(Some(&b)), Some(id));
        assert_ne!(a, b, "each hop has its own span id");
    }
}
