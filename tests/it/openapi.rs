//! The API reference is generated from the code (utoipa): the committed
//! `docs/openapi.json` (court API) and `docs/openapi-federation.json` must be exactly what
//! this build generates, so the reference cannot drift from the routes and wire types.
//! `KUAYU_WRITE_OPENAPI=1 cargo test --test it openapi` rewrites them.

use kuayu::http::openapi;

fn committed(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs")
        .join(name)
}

fn same_as_committed(name: &str, doc: &serde_json::Value) {
    let generated = openapi::text(doc);
    let path = committed(name);
    if std::env::var_os("KUAYU_WRITE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/{name} is not what this build generates; regenerate it with \
         KUAYU_WRITE_OPENAPI=1 cargo test --test it openapi, and review the diff"
    );
}

#[test]
fn the_committed_openapi_documents_are_what_the_code_generates() {
    same_as_committed("openapi.json", &openapi::court());
    same_as_committed("openapi-federation.json", &openapi::federation());
}

#[test]
fn every_operation_names_the_problems_it_can_answer_with() {
    let docs = [openapi::court(), openapi::federation()];
    let mut operations = Vec::new();
    for doc in &docs {
        for (path, item) in doc["paths"].as_object().unwrap() {
            let methods = ["get", "put", "post", "head", "delete", "patch"];
            for (method, op) in item.as_object().unwrap() {
                if !methods.contains(&method.as_str()) {
                    continue;
                }
                operations.push((method.clone(), path.clone()));
                let responses = op["responses"].as_object().unwrap();
                assert!(
                    responses.contains_key("500"),
                    "{method} {path} documents its problem answers"
                );
                assert!(
                    responses.keys().any(|s| s.starts_with('2')),
                    "{method} {path} documents its success"
                );
            }
        }
    }
    for (method, path, _) in openapi::PROBLEMS {
        assert!(
            operations.contains(&((*method).to_owned(), (*path).to_owned())),
            "PROBLEMS names {method} {path}, which no document has"
        );
    }
    assert_eq!(operations.len(), openapi::PROBLEMS.len(), "{operations:?}");
}

/// docs/API.md's table of problem codes is the code's own (and `KUAYU_WRITE_OPENAPI=1`
/// rewrites it with the documents).
#[test]
fn the_reference_lists_every_problem_code_as_the_code_has_it() {
    use kuayu::problem::Code;
    let mut table = String::from("| code | status | when |\n|---|---|---|\n");
    for c in Code::ALL {
        table.push_str(&format!("| `{c}` | {} | {} |\n", c.status(), c.when()));
    }
    let path = committed("API.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let (start, end) = (
        "<!-- problem-codes:start -->\n",
        "<!-- problem-codes:end -->",
    );
    let (before, rest) = text
        .split_once(start)
        .expect("API.md marks its problem table");
    let (_, after) = rest.split_once(end).expect("API.md ends its problem table");
    let wanted = format!("{before}{start}{table}{end}{after}");
    if std::env::var_os("KUAYU_WRITE_OPENAPI").is_some() {
        std::fs::write(&path, &wanted).unwrap();
    }
    assert!(
        std::fs::read_to_string(&path).unwrap() == wanted,
        "docs/API.md's problem codes differ from the code's; regenerate with \
         KUAYU_WRITE_OPENAPI=1 cargo test --test it openapi"
    );
}

/// Each gateway serves its documents: the court API's on the court listener, the
/// federation API's on the federation listener, to any certificate their handshakes take.
#[tokio::test]
async fn the_gateways_serve_the_documents_on_their_listeners() {
    let t = crate::support::TestFed::start().await;
    for who in ["SC0104", "SC01-PC1"] {
        let (status, doc) = t.raw(who).get("/openapi.json").await;
        assert_eq!(status, 200, "{who}");
        assert_eq!(doc, openapi::court(), "{who}");
    }
    let peer = t.as_gateway("CQ", "SC");
    let url = format!(
        "https://{}/federation/openapi.json",
        t.fed.gateway("SC").federation_addr
    );
    let answer = peer.get(url).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let doc: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(doc, openapi::federation());
    // Not the other way round: each listener serves its own API.
    let (status, _) = t.raw("SC0104").get("/federation/openapi.json").await;
    assert_eq!(status, 404);
    t.shutdown().await;
}
