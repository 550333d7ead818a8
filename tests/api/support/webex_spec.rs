//! Checks JSON request bodies we send to Webex against Cisco's OpenAPI 3.0 specs
//! (vendored in `tests/webex-spec/`, CC BY 4.0, see the README there).
//!
//! Besides the spec's own rules, top-level properties the spec does not define are rejected.
//! OpenAPI-only keywords (`nullable`, `example`, `x-*`) are ignored by the draft-4 validator.

#![allow(dead_code)]

use std::sync::LazyLock;

use serde_json::{Value, json};

const SPEC_FILES: [&str; 2] = ["webex-messaging.json", "webex-meeting.json"];

/// Both specs, parsed once. `BOTPER_WEBEX_SPEC_DIR` overrides the directory.
static SPECS: LazyLock<Vec<(&'static str, Value)>> = LazyLock::new(|| {
    let dir = std::env::var("BOTPER_WEBEX_SPEC_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/tests/webex-spec").to_owned());
    SPEC_FILES
        .iter()
        .map(|name| {
            let path = format!("{dir}/{name}");
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read Webex spec {path}: {e}"));
            let doc = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("Webex spec {path} is not JSON: {e}"));
            (*name, doc)
        })
        .collect()
});

/// Validates `body` against the `application/json` request schema of `method path`, where `path`
/// is the OpenAPI path template exactly as in the spec (e.g. `/webhooks/{webhookId}`).
pub fn check_request(method: &str, path: &str, body: &Value) -> Result<(), Vec<String>> {
    let method = method.to_ascii_lowercase();
    let found = SPECS.iter().find(|(_, doc)| {
        doc.get("paths")
            .and_then(|p| p.get(path))
            .and_then(|p| p.get(&method))
            .is_some()
    });
    match found {
        Some((name, doc)) => check_in(doc, &method, path, body)
            .map_err(|errs| errs.into_iter().map(|e| format!("{name}: {e}")).collect()),
        None => Err(vec![format!(
            "unknown operation: {} {path} is in neither {SPEC_FILES:?}",
            method.to_ascii_uppercase()
        )]),
    }
}

/// Follows local `$ref`s (`#/...`) inside `doc` until a non-reference object is reached.
fn resolve<'a>(doc: &'a Value, mut node: &'a Value) -> Result<&'a Value, String> {
    for _ in 0..32 {
        let Some(r) = node.get("$ref").and_then(Value::as_str) else {
            return Ok(node);
        };
        let pointer = r
            .strip_prefix('#')
            .ok_or_else(|| format!("non-local $ref {r}"))?;
        node = doc
            .pointer(pointer)
            .ok_or_else(|| format!("dangling $ref {r}"))?;
    }
    Err("$ref chain too long".to_owned())
}

fn check_in(doc: &Value, method: &str, path: &str, body: &Value) -> Result<(), Vec<String>> {
    let op = format!("{} {path}", method.to_ascii_uppercase());
    let request_body = resolve(doc, &doc["paths"][path][method]["requestBody"])
        .map_err(|e| vec![format!("{op}: requestBody: {e}")])?;
    let Some(schema) = request_body.pointer("/content/application~1json/schema") else {
        return Err(vec![format!(
            "{op}: the spec defines no application/json request body"
        )]);
    };
    // The operation's schema with the spec's `components` beside it, so that
    // `#/components/schemas/X` resolves inside this same document and nothing is fetched.
    let wrapped = json!({ "allOf": [schema], "components": doc["components"] });
    let validator = jsonschema::draft4::options()
        .offline()
        .build(&wrapped)
        .map_err(|e| {
            vec![format!(
                "{op}: the spec's request schema does not compile: {e}"
            )]
        })?;
    let mut problems: Vec<String> = validator
        .iter_errors(body)
        .map(|e| {
            let at = e.instance_path().to_string();
            format!(
                "{op}: {}: {e}",
                if at.is_empty() { "/" } else { at.as_str() }
            )
        })
        .collect();
    problems.extend(
        undocumented_keys(doc, schema, body)
            .map_err(|e| vec![format!("{op}: {e}")])?
            .into_iter()
            .map(|key| format!("{op}: /{key}: property `{key}` is not defined by the spec")),
    );
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Top-level keys of `body` that no `properties` of the (resolved) schema, or of its
/// `allOf`/`anyOf`/`oneOf` branches, documents. Maps (`additionalProperties` set) allow any key.
fn undocumented_keys(doc: &Value, schema: &Value, body: &Value) -> Result<Vec<String>, String> {
    let Some(fields) = body.as_object() else {
        return Ok(Vec::new());
    };
    let root = resolve(doc, schema)?;
    let mut parts = vec![root];
    for key in ["allOf", "anyOf", "oneOf"] {
        for branch in root
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            parts.push(resolve(doc, branch)?);
        }
    }
    if parts.iter().any(|s| {
        s.get("additionalProperties")
            .is_some_and(|a| a != &json!(false))
    }) {
        return Ok(Vec::new());
    }
    let documented = |k: &str| {
        parts
            .iter()
            .any(|s| s.get("properties").and_then(|p| p.get(k)).is_some())
    };
    Ok(fields.keys().filter(|k| !documented(k)).cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fails(method: &str, path: &str, body: Value) -> String {
        check_request(method, path, &body)
            .expect_err("body should be rejected")
            .join("\n")
    }

    #[test]
    fn messages() {
        check_request(
            "POST",
            "/messages",
            &json!({"roomId": "r", "markdown": "hi"}),
        )
        .unwrap();
        let e = fails(
            "POST",
            "/messages",
            json!({"roomId": "r", "markdown": "hi", "bogus": 1}),
        );
        assert!(e.contains("bogus"), "{e}");
        let e = fails("POST", "/messages", json!({"roomId": 5, "markdown": "hi"}));
        assert!(e.contains("/roomId") && e.contains("string"), "{e}");
    }

    #[test]
    fn meetings() {
        let mut body = json!({"title": "T", "start": "2026-12-01T10:00:00Z",
            "end": "2026-12-01T10:30:00Z", "timezone": "UTC", "integrationTags": ["botper"]});
        check_request("POST", "/meetings", &body).unwrap();
        body.as_object_mut().unwrap().remove("start");
        let e = fails("POST", "/meetings", body);
        assert!(e.contains("start") && e.contains("required"), "{e}");
    }

    #[test]
    fn webhooks() {
        let mut body = json!({"name": "n", "targetUrl": "https://x.test/h", "resource": "messages",
            "event": "created", "secret": "s"});
        check_request("post", "/webhooks", &body).unwrap();
        body.as_object_mut().unwrap().remove("targetUrl");
        let e = fails("post", "/webhooks", body);
        assert!(e.contains("targetUrl") && e.contains("required"), "{e}");
        let update = json!({"name": "n", "targetUrl": "https://x.test/h", "secret": "s",
            "status": "active"});
        check_request("PUT", "/webhooks/{webhookId}", &update).unwrap();
    }

    #[test]
    fn unknown_operation_is_an_error() {
        let e = fails("POST", "/no/such/path", json!({}));
        assert!(e.contains("unknown operation"), "{e}");
    }

    #[test]
    fn openapi_keywords_are_tolerated_and_broken_schemas_reported() {
        let doc = json!({
            "paths": {"/x": {"post": {"requestBody": {"$ref": "#/components/requestBodies/X"}},
                             "put": {"requestBody": {"content": {"application/json": {
                                 "schema": {"type": "string", "pattern": "("}}}}}}},
            "components": {
                "requestBodies": {"X": {"content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/X"}}}}},
                "schemas": {"X": {"type": "object", "required": ["a"], "x-vendor": {"y": 1},
                    "example": {"a": "z"},
                    "properties": {"a": {"type": "string", "nullable": true, "example": "z"}}}}}
        });
        check_in(&doc, "post", "/x", &json!({"a": "b"})).unwrap();
        let e = check_in(&doc, "post", "/x", &json!({"a": 1, "c": 2}))
            .unwrap_err()
            .join("\n");
        assert!(e.contains("/a") && e.contains("/c"), "{e}");
        let e = check_in(&doc, "put", "/x", &json!("s"))
            .unwrap_err()
            .join("\n");
        assert!(e.contains("does not compile"), "{e}");
    }
}
