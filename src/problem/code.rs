//! The stable machine codes of refusals ([`Code`]): each one's HTTP status, title and
//! when a gateway answers with it (the API reference's table is made from these).

use std::fmt;

/// The stable machine code of a refusal, with the HTTP status it travels with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// 400: the request is not well-formed (JSON, fields, identifiers).
    BadRequest,
    /// 401: no acceptable client identity.
    Unauthenticated,
    /// 403: the authenticated identity is not the one the message claims.
    IdentityMismatch,
    /// 400: the envelope signature does not verify.
    BadSignature,
    /// 400: a JSON object has the same key twice; `pointer` names the second one.
    DuplicateKey,
    /// 400: a POST without the `Idempotency-Key` header every court and print-centre POST
    /// must carry.
    IdempotencyKeyMissing,
    /// 408: the request (headers, body) did not arrive within the listener's deadline.
    RequestTimeout,
    /// 422: the message's `createdAt` is further ahead of this gateway's clock than the
    /// allowed skew, or a signed notice's time is outside it.
    ClockSkew,
    /// 422: no active agreement by that id (or none joins the two regions).
    UnknownAgreement,
    /// 409: the envelope's agreement hash differs from this gateway's copy.
    AgreementMismatch,
    /// 403: the agreement does not permit this kind in this direction.
    KindNotPermitted,
    /// 403: a policy of the agreement denies this message; `policies` names them.
    PolicyDenied,
    /// 409: the agreement the message travels under was revoked.
    AgreementRevoked,
    /// 409: the agreement version the envelope (or notice) names is not in force here yet:
    /// newer than any loaded, scheduled, or awaiting signatures. The sender retries after
    /// `retryAfter` (the state of this gateway, not a fault of it: never a 5xx).
    AgreementPending,
    /// 409: the update is not a legal next step of the request; `allowed` lists those that are.
    IllegalTransition,
    /// 422: a freeze longer than the agreement allows for the asset's type.
    FreezePeriodExceeded,
    /// 422: a freeze result reports the wrong queue position for an asset (轮候).
    QueuePositionMismatch,
    /// 429: over the agreement's rate for this court and kind; see `Retry-After`.
    RateLimited,
    /// 422: the payload does not satisfy the pinned schema; `errors` lists each failing field.
    SchemaViolation,
    /// 413: the payload, attachment count or attachment size is over the agreement's limit.
    PayloadTooLarge,
    /// 422: the message expired before it arrived.
    Expired,
    /// 422: the recipient court is not known to the receiving gateway.
    UnknownRecipient,
    /// 422: the uploaded bytes do not hash to the SHA-256 they were sent under; nothing kept.
    HashMismatch,
    /// 422: a listed attachment is not stored at this gateway (upload it first); retryable
    /// between gateways, since the sender transfers it and tries again.
    AttachmentMissing,
    /// 404: no such resource, or not visible to this caller.
    NotFound,
    /// 410: the message's envelope was purged after the agreement's retention; its digest
    /// and receipts are kept, its content is gone.
    PayloadPurged,
    /// 405: the method is not allowed on this path.
    MethodNotAllowed,
    /// 409: the request conflicts with what is stored (reused idempotency key, finished request).
    Conflict,
    /// 409: a signed notice that was already taken (a revocation notice is taken once).
    Replayed,
    /// 413: an upload would take its sender over its quota of stored bytes not yet listed
    /// in any message; nothing was kept.
    QuotaExceeded,
    /// 503: free disk space is below the gateway's watermark: uploads and ordinary work
    /// wait (`Retry-After`); reads and preservation go on.
    InsufficientStorage,
    /// 500: something failed inside the gateway; the detail is in its log.
    Internal,
    /// 503: the gateway cannot take work right now; retry later.
    Unavailable,
}

impl Code {
    /// Every code, for documentation and tests.
    pub const ALL: &'static [Code] = &[
        Code::BadRequest,
        Code::Unauthenticated,
        Code::IdentityMismatch,
        Code::BadSignature,
        Code::DuplicateKey,
        Code::RequestTimeout,
        Code::ClockSkew,
        Code::UnknownAgreement,
        Code::AgreementMismatch,
        Code::KindNotPermitted,
        Code::PolicyDenied,
        Code::AgreementRevoked,
        Code::AgreementPending,
        Code::IllegalTransition,
        Code::FreezePeriodExceeded,
        Code::QueuePositionMismatch,
        Code::RateLimited,
        Code::SchemaViolation,
        Code::PayloadTooLarge,
        Code::Expired,
        Code::UnknownRecipient,
        Code::HashMismatch,
        Code::AttachmentMissing,
        Code::NotFound,
        Code::PayloadPurged,
        Code::MethodNotAllowed,
        Code::Conflict,
        Code::IdempotencyKeyMissing,
        Code::Replayed,
        Code::QuotaExceeded,
        Code::InsufficientStorage,
        Code::Internal,
        Code::Unavailable,
    ];

    /// The stable text form, e.g. `schema_violation`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BadRequest => "bad_request",
            Code::Unauthenticated => "unauthenticated",
            Code::IdentityMismatch => "identity_mismatch",
            Code::BadSignature => "bad_signature",
            Code::DuplicateKey => "duplicate_key",
            Code::IdempotencyKeyMissing => "idempotency_key_missing",
            Code::RequestTimeout => "request_timeout",
            Code::ClockSkew => "clock_skew",
            Code::UnknownAgreement => "unknown_agreement",
            Code::AgreementMismatch => "agreement_mismatch",
            Code::KindNotPermitted => "kind_not_permitted",
            Code::PolicyDenied => "policy_denied",
            Code::AgreementRevoked => "agreement_revoked",
            Code::AgreementPending => "agreement_pending",
            Code::IllegalTransition => "illegal_transition",
            Code::FreezePeriodExceeded => "freeze_period_exceeded",
            Code::QueuePositionMismatch => "queue_position_mismatch",
            Code::RateLimited => "rate_limited",
            Code::SchemaViolation => "schema_violation",
            Code::PayloadTooLarge => "payload_too_large",
            Code::Expired => "expired",
            Code::UnknownRecipient => "unknown_recipient",
            Code::HashMismatch => "hash_mismatch",
            Code::AttachmentMissing => "attachment_missing",
            Code::NotFound => "not_found",
            Code::PayloadPurged => "payload_purged",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::Conflict => "conflict",
            Code::Replayed => "replayed",
            Code::QuotaExceeded => "quota_exceeded",
            Code::InsufficientStorage => "insufficient_storage",
            Code::Internal => "internal",
            Code::Unavailable => "unavailable",
        }
    }

    /// The HTTP status.
    pub fn status(self) -> u16 {
        match self {
            Code::BadRequest
            | Code::BadSignature
            | Code::DuplicateKey
            | Code::IdempotencyKeyMissing => 400,
            Code::RequestTimeout => 408,
            Code::Unauthenticated => 401,
            Code::IdentityMismatch | Code::KindNotPermitted | Code::PolicyDenied => 403,
            Code::NotFound => 404,
            Code::MethodNotAllowed => 405,
            Code::AgreementMismatch
            | Code::AgreementRevoked
            | Code::AgreementPending
            | Code::IllegalTransition
            | Code::Conflict
            | Code::Replayed => 409,
            Code::PayloadTooLarge | Code::QuotaExceeded => 413,
            Code::RateLimited => 429,
            Code::UnknownAgreement
            | Code::SchemaViolation
            | Code::Expired
            | Code::ClockSkew
            | Code::UnknownRecipient
            | Code::FreezePeriodExceeded
            | Code::QueuePositionMismatch
            | Code::HashMismatch
            | Code::AttachmentMissing => 422,
            Code::PayloadPurged => 410,
            Code::Internal => 500,
            Code::Unavailable | Code::InsufficientStorage => 503,
        }
    }

    /// A short, fixed summary (the RFC 9457 `title`).
    pub fn title(self) -> &'static str {
        match self {
            Code::BadRequest => "Malformed request",
            Code::Unauthenticated => "No acceptable client identity",
            Code::IdentityMismatch => "Identity does not match the message",
            Code::BadSignature => "Signature does not verify",
            Code::DuplicateKey => "Duplicate key in a JSON object",
            Code::IdempotencyKeyMissing => "Idempotency-Key missing",
            Code::RequestTimeout => "Request not received in time",
            Code::ClockSkew => "Time outside the allowed clock skew",
            Code::UnknownAgreement => "No such active agreement",
            Code::AgreementMismatch => "Agreement copies differ",
            Code::KindNotPermitted => "Kind not permitted in this direction",
            Code::PolicyDenied => "Denied by the agreement's policy",
            Code::AgreementRevoked => "Agreement revoked",
            Code::AgreementPending => "Agreement version not in force here yet",
            Code::IllegalTransition => "Not a legal next step",
            Code::FreezePeriodExceeded => "Freeze longer than the law allows",
            Code::QueuePositionMismatch => "Wrong queue position for a frozen asset",
            Code::RateLimited => "Over the agreement's rate",
            Code::SchemaViolation => "Payload violates its schema",
            Code::PayloadTooLarge => "Over the agreement's limits",
            Code::Expired => "Message expired",
            Code::UnknownRecipient => "Unknown recipient court",
            Code::HashMismatch => "Bytes do not match their hash",
            Code::AttachmentMissing => "Attachment not stored here",
            Code::NotFound => "Not found",
            Code::PayloadPurged => "Payload purged",
            Code::MethodNotAllowed => "Method not allowed",
            Code::Conflict => "Conflict",
            Code::Replayed => "Already taken",
            Code::QuotaExceeded => "Over the upload quota",
            Code::InsufficientStorage => "Disk space low",
            Code::Internal => "Internal error",
            Code::Unavailable => "Temporarily unavailable",
        }
    }
}

impl Code {
    /// When a gateway answers with it, in words (the API reference's table).
    pub fn when(self) -> &'static str {
        match self {
            Code::BadRequest => {
                "malformed JSON, fields or identifiers; an update kind posted as a request; an update naming an addressee the service request does not name"
            }
            Code::Unauthenticated => "no acceptable client certificate identity",
            Code::IdentityMismatch => {
                "the TLS identity is not the party the envelope claims, or a print centre calls a court route"
            }
            Code::BadSignature => {
                "the envelope (or revocation notice) signature does not verify, or is missing"
            }
            Code::UnknownAgreement => {
                "no active agreement by that id, or none joins the two regions"
            }
            Code::AgreementMismatch => {
                "the envelope's agreement hash differs from the receiver's copy of that version"
            }
            Code::KindNotPermitted => "the agreement does not permit this kind in this direction",
            Code::PolicyDenied => {
                "a Cedar policy of the agreement denies it; `policies` names them"
            }
            Code::AgreementRevoked => "the agreement it travels under was revoked",
            Code::AgreementPending => {
                "the agreement version the envelope names is not in force at the receiver yet (newer than any it loaded, scheduled, or awaiting signatures); the sender retries after `retryAfter`"
            }
            Code::IllegalTransition => {
                "the update is not a legal next step of the request's (or the addressee's) lifecycle; `allowed` lists the events that are"
            }
            Code::FreezePeriodExceeded => {
                "a freeze result freezes an asset beyond the agreement's maximum for its type"
            }
            Code::QueuePositionMismatch => {
                "a freeze result reports an asset `first` that an earlier freeze still holds, or the wrong rank: it queues behind (轮候)"
            }
            Code::RateLimited => {
                "over the agreement's rate for this court and kind; `Retry-After` and `retryAfter` say when to try again"
            }
            Code::SchemaViolation => {
                "the payload fails its pinned schema, or the schema version is not accepted now; `errors` lists `pointer`, `keyword`, `message` per failing field"
            }
            Code::PayloadTooLarge => {
                "over the agreement's payload, attachment count or attachment size limit, or the body limit"
            }
            Code::Expired => "the message expired before it arrived",
            Code::DuplicateKey => {
                "a JSON object in the body has the same key twice; `pointer` names the second one"
            }
            Code::RequestTimeout => {
                "the request body did not arrive within the listener's deadline; nothing was kept"
            }
            Code::ClockSkew => {
                "a time the sender wrote is outside what the receiver allows: `createdAt` ahead of its clock by more than the skew, `expiresAt` beyond `createdAt` plus the agreement's message lifetime, a notice's `at` outside the skew"
            }
            Code::Replayed => "a signed notice already taken (a revocation notice is taken once)",
            Code::QuotaExceeded => {
                "an upload would take the court (or peer) over its quota of uploads no message lists yet; nothing was kept"
            }
            Code::InsufficientStorage => {
                "the gateway's free disk is under its watermark: uploads and ordinary work wait (`Retry-After`); preservation and reads go on"
            }
            Code::UnknownRecipient => "the receiving gateway serves no such court",
            Code::HashMismatch => {
                "an uploaded attachment's bytes do not hash to the SHA-256 it was sent under; nothing was kept"
            }
            Code::AttachmentMissing => {
                "a listed attachment is not stored at this gateway (or not with that size): upload it first; between gateways the sender retries"
            }
            Code::NotFound => {
                "no such path, or no such request, print job or attachment for this caller"
            }
            Code::PayloadPurged => {
                "the message's envelope was purged after the agreement's retention (`kuayu purge`): its digest, receipts and history are kept, its content is gone"
            }
            Code::MethodNotAllowed => "the path exists, the method does not",
            Code::Conflict => {
                "an idempotency key reused for another request; the same message id with other content; a request already finished; another step changed the request (or print job) after this one was checked: read it again"
            }
            Code::IdempotencyKeyMissing => {
                "a court or print-centre POST without an `Idempotency-Key` header: send a fresh key per piece of work, and the same key on a retry"
            }
            Code::Internal => {
                "something failed inside the gateway (its log says what); retry later"
            }
            Code::Unavailable => "the gateway cannot take the work now; retry later (`retryAfter`)",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
