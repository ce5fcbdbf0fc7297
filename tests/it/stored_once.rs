//! What the store keeps once (ARCHITECTURE, "Nothing is stored twice"): each row that
//! leaves a repeated part to another row reads back what was written, value for value,
//! and rows written whole before (by an earlier kuayu) read as they say. On both engines.

use kuayu::ids::MessageId;
use kuayu::store::sql::SqlStore;
use kuayu::store::{Idempotency, Store};
use serde_json::json;
use sqlx::{Connection as _, Row as _};

use crate::store::{connect, location, outbound};

async fn rows_kept_once_read_back_as_written_and_whole_rows_still_read(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let Some(location) = location(engine, dir.path()).await else {
        return;
    };
    let id = MessageId::new();
    let mut m = outbound(id);
    let answer = json!({
        "requestId": id.to_string(), "messageId": id.to_string(), "state": "submitted",
        "envelopeSha256": m.sealed.digest.to_string(), "receipt": m.receipt, "traceId": m.trace_id,
    });
    m.idempotency = Some(Idempotency {
        owner: "SC0104".into(),
        key: "case-1-service".into(),
        request_hash: kuayu::ids::Sha256::digest(b"body"),
        status: 202,
        body: answer.clone(),
    });
    let receipt = m.receipt.clone();
    let store = SqlStore::open_location(&location).await.unwrap();
    store.commit_outbound(m).await.unwrap();
    let view = store.request_view(&id).await.unwrap().unwrap();
    let read = |store: SqlStore| async move {
        let kept = store.idempotent_answer("SC0104", "case-1-service").await;
        let view = store.request_view(&id).await.unwrap().unwrap();
        let audit = store.audit_entries(0, 100).await.unwrap();
        store.close().await;
        (kept.unwrap().unwrap().body, view, audit)
    };
    let audit = store.audit_entries(0, 100).await.unwrap();
    let (kept, _, _) = read(store).await;
    assert_eq!(kept, answer, "the answer kept is the answer given");
    assert_eq!(
        view.receipts,
        vec![receipt.clone()],
        "the receipt kept is the one signed"
    );
    assert_eq!(view.history[0].message_id, Some(id));
    assert_eq!(
        view.history[0].trace_id.as_deref(),
        Some(crate::store::TRACE)
    );

    let mut conn = connect(&location).await;
    let one = |sql: &'static str| sqlx::query(sql).bind(id.to_string());
    // What the rows hold: the repeated parts are not there.
    let row = one("SELECT body, answered FROM idempotency WHERE answered = $1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        row.try_get::<String, _>("body").unwrap(),
        r#"{"state":"submitted"}"#
    );
    let body: String = one("SELECT body FROM receipts WHERE message_id = $1")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .try_get("body")
        .unwrap();
    for field in ["hop", "messageId", "issuer", "envelopeSha256"] {
        assert!(!body.contains(field), "{field} in {body}");
    }
    let row = one("SELECT message_id, trace_id FROM history WHERE request_id = $1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        row.try_get::<Option<String>, _>("message_id")
            .unwrap()
            .as_deref(),
        Some("")
    );
    assert_eq!(
        row.try_get::<Option<String>, _>("trace_id")
            .unwrap()
            .as_deref(),
        Some("")
    );

    // The same rows as an earlier kuayu wrote them, whole.
    let receipt_json = serde_json::to_string(&receipt).unwrap();
    let answer_text = answer.to_string();
    let prev = audit.last().unwrap().prev_hash.clone();
    let seq = audit.last().unwrap().seq;
    if engine == "sqlite" {
        sqlx::query("DROP TRIGGER audit_no_update")
            .execute(&mut conn)
            .await
            .unwrap();
    } else {
        sqlx::query("ALTER TABLE audit DISABLE TRIGGER USER")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    for (sql, text) in [
        (
            "UPDATE idempotency SET body = $2, answered = NULL, elided = 0 WHERE answered = $1",
            &answer_text,
        ),
        (
            "UPDATE receipts SET body = $2 WHERE message_id = $1",
            &receipt_json,
        ),
        (
            "UPDATE history SET message_id = $1, trace_id = $2 WHERE request_id = $1",
            &crate::store::TRACE.to_owned(),
        ),
    ] {
        sqlx::query(sql)
            .bind(id.to_string())
            .bind(text)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE audit SET prev_hash = $1 WHERE seq = $2")
        .bind(&prev)
        .bind(seq)
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let store = SqlStore::open_location(&location).await.unwrap();
    let (kept, again, audit_again) = read(store).await;
    assert_eq!(kept, answer);
    assert_eq!(again.receipts, view.receipts);
    assert_eq!(again.history[0].message_id, view.history[0].message_id);
    assert_eq!(again.history[0].trace_id, view.history[0].trace_id);
    assert_eq!(audit_again, audit, "the audit chain reads the same");
    assert!(kuayu::audit::verify_chain(&audit_again).is_ok());
}

#[tokio::test]
async fn rows_kept_once_read_back_as_written_on_sqlite() {
    rows_kept_once_read_back_as_written_and_whole_rows_still_read("sqlite").await;
}

#[tokio::test]
async fn rows_kept_once_read_back_as_written_on_postgres() {
    rows_kept_once_read_back_as_written_and_whole_rows_still_read("postgres").await;
}
