//! Interface contracts: a small JSON-schema subset, written compactly in scenarios.
//!
//! A contract is an object shape. In TOML each key is a field name, `?` at its end marks it
//! optional, and the value is a type (`"string"`, `"integer"`, `"number"`, `"boolean"`, `"any"`,
//! a type followed by `[]` for an array of it) or an inline table for a nested object:
//!
//! ```toml
//! request = { sku = "string", qty = "integer", "note?" = "string", tags = "string[]" }
//! ```
//!
//! Every response may instead be an application error `{"error": "<code>"}` (guest ABI).

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value as Json;

/// The type of one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "type", content = "of")]
pub enum FieldType {
    String,
    Integer,
    Number,
    Boolean,
    Any,
    Array(Box<FieldType>),
    Object(Shape),
}

/// An object shape: named fields, each required or optional. Extra fields are allowed (a
/// newer callee may add fields without breaking older callers).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Shape {
    pub fields: BTreeMap<String, Field>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    pub ty: FieldType,
    pub required: bool,
}

impl FieldType {
    /// Parses a scalar or array type name (`"string"`, `"integer[]"`, ...).
    #[must_use]
    pub fn parse_name(name: &str) -> Option<FieldType> {
        if let Some(inner) = name.strip_suffix("[]") {
            return FieldType::parse_name(inner).map(|t| FieldType::Array(Box::new(t)));
        }
        Some(match name {
            "string" => FieldType::String,
            "integer" => FieldType::Integer,
            "number" => FieldType::Number,
            "boolean" => FieldType::Boolean,
            "any" => FieldType::Any,
            _ => return None,
        })
    }

    pub const NAMES: &'static [&'static str] = &["string", "integer", "number", "boolean", "any"];

    /// Whether every value of type `other` is also one of `self` — a field written against
    /// `other` still fits when it becomes `self`: `number` admits `integer`, `any` admits
    /// everything, arrays item by item. An object admits another when each of its required
    /// fields is required there with a type it admits, and each of its optional fields, where
    /// the other declares it, has a type it admits (a field only the other declares is an
    /// extra field, which shapes allow; one only `self` declares optionally may be absent).
    #[must_use]
    pub fn admits(&self, other: &FieldType) -> bool {
        match (self, other) {
            (FieldType::Any, _) | (FieldType::Number, FieldType::Integer) => true,
            (FieldType::Array(a), FieldType::Array(b)) => a.admits(b),
            (FieldType::Object(a), FieldType::Object(b)) => a.admits(b),
            (a, b) => a == b,
        }
    }

    fn accepts(&self, value: &Json, path: Path<'_>, problems: &mut Vec<String>) {
        let ok = match (self, value) {
            (FieldType::Any, _) => true,
            (FieldType::String, Json::String(_)) | (FieldType::Boolean, Json::Bool(_)) => true,
            (FieldType::Integer, Json::Number(n)) => n.is_i64() || n.is_u64(),
            (FieldType::Number, Json::Number(_)) => true,
            (FieldType::Array(inner), Json::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    inner.accepts(item, Path::Index(&path, i), problems);
                }
                true
            }
            (FieldType::Object(shape), Json::Object(_)) => {
                shape.check_at(value, path, problems);
                true
            }
            _ => false,
        };
        if !ok {
            problems.push(format!("`{path}` should be {self}, found {}", json_kind(value)));
        }
    }
}

/// Where a checked value sits, written out only when it breaks the shape (a conforming
/// response builds no text): `a.b[2].c`, a field's name alone at the top.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Field(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Field(parent, name) => {
                // A dot only after a parent that wrote something (a field named "" writes
                // nothing, and its fields follow without a dot, as they always did).
                let parent = parent.to_string();
                if parent.is_empty() { f.write_str(name) } else { write!(f, "{parent}.{name}") }
            }
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(n) if n.is_f64() => "a number",
        Json::Number(_) => "an integer",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldType::String => f.write_str("string"),
            FieldType::Integer => f.write_str("integer"),
            FieldType::Number => f.write_str("number"),
            FieldType::Boolean => f.write_str("boolean"),
            FieldType::Any => f.write_str("any"),
            FieldType::Array(inner) => write!(f, "{inner}[]"),
            FieldType::Object(_) => f.write_str("object"),
        }
    }
}

impl Shape {
    /// Every way `value` breaks this shape (empty when it conforms). An application error
    /// `{"error": "..."}` conforms to every response shape; callers decide whether to allow it.
    #[must_use]
    pub fn check(&self, value: &Json) -> Vec<String> {
        let mut problems = Vec::new();
        if value.is_object() {
            self.check_at(value, Path::Root, &mut problems);
        } else {
            problems.push(format!("expected a JSON object, found {}", json_kind(value)));
        }
        problems
    }

    fn check_at(&self, value: &Json, path: Path<'_>, problems: &mut Vec<String>) {
        let Json::Object(map) = value else { return };
        for (name, field) in &self.fields {
            let at = Path::Field(&path, name);
            match map.get(name) {
                None | Some(Json::Null) if field.required => {
                    problems.push(format!("missing required field `{at}`"));
                }
                None | Some(Json::Null) => {}
                Some(v) => field.ty.accepts(v, at, problems),
            }
        }
    }

    /// Whether every object `other` accepts, this shape accepts too ([`FieldType::admits`]).
    #[must_use]
    pub fn admits(&self, other: &Shape) -> bool {
        self.fields.iter().all(|(name, mine)| match other.fields.get(name) {
            Some(theirs) => (!mine.required || theirs.required) && mine.ty.admits(&theirs.ty),
            None => !mine.required,
        })
    }

    /// The names of the required fields.
    pub fn required(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().filter(|(_, f)| f.required).map(|(n, _)| n.as_str())
    }
}

/// Whether a JSON response is an application error per the guest ABI.
#[must_use]
pub fn is_application_error(value: &Json) -> bool {
    application_error(value).is_some()
}

/// The code of an application error (`{"error": "<code>"}`), if the response is one.
#[must_use]
pub fn application_error(value: &Json) -> Option<&str> {
    value.get("error").and_then(Json::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> Shape {
        let mut fields = BTreeMap::new();
        fields.insert("sku".into(), Field { ty: FieldType::String, required: true });
        fields.insert("qty".into(), Field { ty: FieldType::Integer, required: true });
        fields.insert(
            "tags".into(),
            Field { ty: FieldType::Array(Box::new(FieldType::String)), required: false },
        );
        Shape { fields }
    }

    #[test]
    fn conforming_values_pass_and_extra_fields_are_allowed() {
        let v = serde_json::json!({"sku": "a", "qty": 2, "tags": ["x"], "extra": 1});
        assert!(shape().check(&v).is_empty());
    }

    #[test]
    fn every_violation_is_reported() {
        let v = serde_json::json!({"qty": 1.5, "tags": [1]});
        let problems = shape().check(&v);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("missing required field `sku`")));
        assert!(problems.iter().any(|p| p.contains("`qty` should be integer")));
        assert!(problems.iter().any(|p| p.contains("`tags[0]` should be string")));
        assert_eq!(shape().check(&serde_json::json!([1])).len(), 1);
    }

    /// The path in a problem names the field as the checker always wrote it: dots between
    /// fields, `[i]` for items, a field's name alone at the top (also below a field named "").
    #[test]
    fn problems_name_nested_paths() {
        let field = |ty, required| Field { ty, required };
        let ints = FieldType::Array(Box::new(FieldType::Integer));
        let inner = Shape { fields: BTreeMap::from([("b".into(), field(ints, true))]) };
        let rows = FieldType::Array(Box::new(FieldType::Object(inner.clone())));
        let nameless =
            Shape { fields: BTreeMap::from([("c".into(), field(FieldType::String, true))]) };
        let shape = Shape {
            fields: BTreeMap::from([
                ("a".into(), field(FieldType::Object(inner), true)),
                ("rows".into(), field(rows, true)),
                (String::new(), field(FieldType::Object(nameless), true)),
            ]),
        };
        let v = serde_json::json!({"a": {"b": [1, "x"]}, "rows": [{"b": []}, {}], "": {"c": 1}});
        assert_eq!(
            shape.check(&v),
            [
                "`c` should be string, found an integer",
                "`a.b[1]` should be integer, found a string",
                "missing required field `rows[1].b`",
            ]
        );
        let v = serde_json::json!({"a": 1, "rows": [[]]});
        assert_eq!(
            shape.check(&v),
            [
                "missing required field ``",
                "`a` should be object, found an integer",
                "`rows[0]` should be object, found an array",
            ]
        );
    }

    /// `admits` is "every value of the other is one of mine": what a caller may still send
    /// (the new request type admits the old) or rely on (the old response type admits the new).
    #[test]
    fn admits_is_value_inclusion() {
        let t = |n: &str| FieldType::parse_name(n).expect("type");
        assert!(t("number").admits(&t("integer")));
        assert!(!t("integer").admits(&t("number")));
        assert!(!t("integer").admits(&t("string")) && !t("string").admits(&t("integer")));
        assert!(t("any").admits(&t("string[]")) && !t("string").admits(&t("any")));
        assert!(t("number[][]").admits(&t("integer[][]")) && !t("integer[]").admits(&t("integer")));
        assert!(t("boolean").admits(&t("boolean")));
        let obj = |fields: &[(&str, FieldType, bool)]| {
            FieldType::Object(Shape {
                fields: fields
                    .iter()
                    .map(|(n, ty, required)| {
                        ((*n).to_owned(), Field { ty: ty.clone(), required: *required })
                    })
                    .collect(),
            })
        };
        let old = obj(&[("cents", t("integer"), true), ("note", t("string"), false)]);
        // Extra fields, an optional field made required or left undeclared: still fits.
        assert!(old.admits(&obj(&[("cents", t("integer"), true), ("extra", t("any"), true)])));
        assert!(old.admits(&obj(&[("cents", t("integer"), true), ("note", t("string"), true)])));
        // A required field gone or made optional, a type changed (optional ones too): not.
        assert!(!old.admits(&obj(&[("note", t("string"), false)])));
        assert!(!old.admits(&obj(&[("cents", t("integer"), false)])));
        assert!(!old.admits(&obj(&[("cents", t("string"), true)])));
        assert!(!old.admits(&obj(&[("cents", t("integer"), true), ("note", t("integer"), false)])));
        assert!(!old.admits(&t("integer")) && !t("integer").admits(&old));
    }

    #[test]
    fn type_names_parse() {
        assert_eq!(
            FieldType::parse_name("integer[][]"),
            Some(FieldType::Array(Box::new(FieldType::Array(Box::new(FieldType::Integer)))))
        );
        assert_eq!(FieldType::parse_name("str"), None);
        assert!(is_application_error(&serde_json::json!({"error": "x"})));
    }
}
