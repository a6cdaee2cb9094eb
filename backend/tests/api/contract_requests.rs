//! The document says exactly what the server accepts: a request it calls valid is never refused
//! with 400, and one it calls invalid is. The cases are those a schema-driven fuzzer found
//! refused although documented as valid, and their neighbours on the other side of each rule.

use reqwest::Method;
use serde_json::{Value, json};

use crate::contract::DOCUMENT;
use crate::helpers::{TestApp, spawn_app};

/// One request, and the document's template for its path.
struct Case {
    method: Method,
    template: &'static str,
    path: String,
    query: Vec<(&'static str, String)>,
    headers: Vec<(&'static str, String)>,
    body: Option<Value>,
}

impl Case {
    fn new(method: Method, template: &'static str, path: String) -> Self {
        Self {
            method,
            template,
            path,
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
        }
    }

    fn query(mut self, name: &'static str, value: &str) -> Self {
        self.query.push((name, value.to_owned()));
        self
    }

    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// What the document says about this request: `Err` with the rule it breaks.
    fn documented(&self) -> Result<(), String> {
        let operation = &DOCUMENT["paths"][self.template][self.method.as_str().to_lowercase()];
        assert!(
            operation.is_object(),
            "{} {} is not documented",
            self.method,
            self.template
        );
        let parameters = operation["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let find = |place: &str, name: &str| {
            parameters
                .iter()
                .find(|p| {
                    p["in"] == place
                        && p["name"]
                            .as_str()
                            .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
                .unwrap_or_else(|| panic!("no {place} parameter {name}"))
                .clone()
        };
        let given = self
            .query
            .iter()
            .map(|(name, value)| (find("query", name), value))
            .chain(
                self.headers
                    .iter()
                    .map(|(name, value)| (find("header", name), value)),
            );
        for (parameter, value) in given {
            let schema = &parameter["schema"];
            let typed = match schema["type"].as_str() {
                Some("boolean") => value
                    .parse::<bool>()
                    .map(Value::from)
                    .map_err(|e| e.to_string())?,
                Some("integer") => value
                    .parse::<i64>()
                    .map(Value::from)
                    .map_err(|e| e.to_string())?,
                _ => Value::from(value.as_str()),
            };
            valid(schema, &typed).map_err(|e| format!("{}: {e}", parameter["name"]))?;
        }
        if let Some(body) = &self.body {
            valid(
                &operation["requestBody"]["content"]["application/json"]["schema"],
                body,
            )?;
        }
        Ok(())
    }

    async fn send(&self, app: &TestApp) -> u16 {
        let mut request = app
            .owner_client
            .request(self.method.clone(), app.url(&self.path))
            .query(&self.query);
        for (name, value) in &self.headers {
            request = request.header(*name, value);
        }
        if let Some(body) = &self.body {
            request = request.json(body);
        }
        request.send().await.unwrap().status().as_u16()
    }
}

fn valid(schema: &Value, value: &Value) -> Result<(), String> {
    let mut schema = schema.clone();
    schema["components"] = DOCUMENT["components"].clone();
    let validator = jsonschema::validator_for(&schema).map_err(|e| format!("bad schema: {e}"))?;
    validator.validate(value).map_err(|e| e.to_string())
}

#[tokio::test]
async fn every_request_the_document_allows_is_taken_and_every_one_it_forbids_is_refused() {
    let app = spawn_app().await;
    let task = app.create_task("target").await;
    let tasks = app.tasks_path();
    let one = app.task_path(task.id);
    const LIST: &str = "/api/boards/{board}/tasks";
    const ONE: &str = "/api/boards/{board}/tasks/{id}";
    let long_key = "k".repeat(256);
    let cases = [
        Case::new(Method::GET, LIST, tasks.clone()).query("cursor", ""),
        Case::new(Method::GET, LIST, tasks.clone()).query("cursor", "c1.0"),
        Case::new(Method::GET, LIST, tasks.clone()).query("cursor", "abc"),
        Case::new(Method::GET, LIST, tasks.clone()).query("cursor", "c1.fffffffffffffffff"),
        Case::new(Method::DELETE, LIST, tasks.clone()).query("done", "false"),
        Case::new(Method::DELETE, LIST, tasks.clone()).query("done", "true"),
        Case::new(Method::PATCH, ONE, one.clone())
            .header("if-match", "")
            .body(json!({ "done": true })),
        Case::new(Method::PATCH, ONE, one.clone())
            .header("if-match", " , ")
            .body(json!({ "done": true })),
        Case::new(Method::PATCH, ONE, one.clone())
            .header("if-match", "\"v99\"")
            .body(json!({ "done": true })),
        Case::new(Method::PATCH, ONE, one.clone()).body(json!({ "title": null, "done": null })),
        Case::new(Method::PATCH, ONE, one.clone()).body(json!({})),
        Case::new(Method::PATCH, ONE, one.clone()).body(json!({ "title": null, "done": false })),
        Case::new(Method::PATCH, ONE, one.clone()).body(json!({ "title": "  " })),
        Case::new(Method::POST, LIST, tasks.clone())
            .header("idempotency-key", &long_key)
            .body(json!({ "title": "a" })),
        Case::new(Method::POST, LIST, tasks.clone())
            .header("idempotency-key", "key with spaces")
            .body(json!({ "title": "b" })),
        Case::new(Method::POST, LIST, tasks.clone()).body(json!({ "title": "\t" })),
        Case::new(Method::POST, LIST, tasks.clone()).body(json!("a bare title")),
        Case::new(Method::GET, "/api/clock", "/api/clock".into()).query("lab", "a=b"),
        Case::new(Method::GET, "/api/clock", "/api/clock".into()).query("lab", "run_1"),
        Case::new(Method::POST, "/api/boards", "/api/boards".into()).body(json!({ "name": "   " })),
        Case::new(Method::POST, "/api/boards", "/api/boards".into())
            .body(json!({ "name": " Home " })),
        Case::new(Method::POST, "/api/tokens", "/api/tokens".into())
            .body(json!({ "name": "a\nb" })),
    ];
    let mut mismatches = Vec::new();
    for case in &cases {
        let documented = case.documented();
        let status = case.send(&app).await;
        let refused = status == 400;
        if documented.is_ok() == refused {
            mismatches.push(format!(
                "{} {} {:?} {:?} {:?}: the document says {documented:?}, the server answered {status}",
                case.method, case.path, case.query, case.headers, case.body
            ));
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}
