//! JSON bodies for the probes: a minimal valid base, one property of a
//! wrong type at a time, and bodies generated from the seed.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};

use super::Context;
use super::operations::{BodyKind, Operation};

/// A body that meets the schema's required properties, as a base to break
/// one property at a time. It is never sent as it is.
pub(super) fn minimal_body(schema: &Value) -> Value {
    let mut body = serde_json::Map::new();
    for name in schema["required"].as_array().into_iter().flatten() {
        let Some(name) = name.as_str() else { continue };
        let property = &schema["properties"][name];
        body.insert(name.to_owned(), example(property));
    }
    Value::Object(body)
}

fn example(property: &Value) -> Value {
    match (main_type(property), property["format"].as_str()) {
        (Some("string"), Some("uuid")) => json!(uuid::Uuid::new_v4().to_string()),
        (Some("string"), _) => json!("conformance fuzz"),
        (Some("integer" | "number"), _) => json!(1),
        (Some("boolean"), _) => json!(true),
        (Some("array"), _) => json!([]),
        _ => json!({}),
    }
}

/// The valid base with one property replaced by each value of a wrong type.
pub(super) fn wrong_types(op: &Operation, valid: &Value) -> Vec<(String, Value)> {
    let Some(BodyKind::Json(schema)) = &op.body else {
        return Vec::new();
    };
    let mut all = Vec::new();
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        let wrong: Vec<Value> = match main_type(property) {
            Some("string") => vec![json!(123), json!(true), json!(["x"]), json!({ "x": 1 })],
            Some("integer" | "number") => vec![json!("1"), json!([1]), json!(true)],
            Some("array") => vec![json!("x"), json!({ "x": 1 }), json!(1), json!([1, [2]])],
            Some("boolean") => vec![json!("true"), json!(1)],
            _ => vec![json!("x")],
        };
        for value in wrong {
            let mut body = valid.clone();
            body[name.as_str()] = value.clone();
            all.push((format!("{name} = {value}"), body));
        }
    }
    all
}

/// A property's type: `type`, or the first of a list other than `null`
/// (`["string", "null"]` is a string that may be null; none of the wrong
/// values below is null).
fn main_type(property: &Value) -> Option<&str> {
    match &property["type"] {
        Value::String(t) => Some(t),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null"),
        _ => None,
    }
}

/// Bodies generated from the seed: objects with the schema's property
/// names and any JSON values, and any JSON at all.
pub(super) fn generated_bodies(context: &Context, op: &Operation) -> Vec<Value> {
    let Some(BodyKind::Json(schema)) = &op.body else {
        return Vec::new();
    };
    let names: Vec<String> = schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,40}".prop_map(Value::from),
        ".{0,8}".prop_map(Value::from),
    ];
    let value = leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    let keyed = proptest::collection::vec(
        (proptest::sample::select(names.clone()), value.clone()),
        0..4,
    )
    .prop_map(|pairs| Value::Object(pairs.into_iter().collect()));
    let strategy = if names.is_empty() {
        value.boxed()
    } else {
        prop_oneof![3 => keyed, 1 => value].boxed()
    };
    let mut seed = [0_u8; 32];
    seed[..8].copy_from_slice(&context.seed.to_le_bytes());
    // A different stream per operation, the same for the same seed.
    let salt = op
        .slug()
        .bytes()
        .fold(0_u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    seed[8..16].copy_from_slice(&salt.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: context.cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
    );
    (0..context.cases)
        .filter_map(|_| {
            strategy
                .new_tree(&mut runner)
                .ok()
                .map(|tree| tree.current())
        })
        .collect()
}
