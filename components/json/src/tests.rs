extern crate std;
use alloc::string::{String, ToString};
use alloc::vec;

use crate::{parse, quote, Value};

#[test]
fn round_trips_documents() {
    let text = r#"{"a":[1,-2.5,3e10,true,false,null],"b":{"c":"d\"e\\f\n\u0001"},"":""}"#;
    let v = parse(text).unwrap();
    assert_eq!(v.to_json(), text);
    assert_eq!(v.to_string(), text);
    assert_eq!(parse(&v.to_json()).unwrap(), v);
}

#[test]
fn reads_members_and_numbers() {
    let v = parse(r#" {"n": 42, "f": 0.5, "neg": -7, "s": "x", "arr": [1]} "#).unwrap();
    assert_eq!(v.get("n").and_then(Value::as_u64), Some(42));
    assert_eq!(v.get("neg").and_then(Value::as_i64), Some(-7));
    assert_eq!(v.get("neg").and_then(Value::as_u64), None);
    assert_eq!(v.get("f").and_then(Value::as_f64), Some(0.5));
    assert_eq!(v.get("s").and_then(Value::as_str), Some("x"));
    assert_eq!(
        v.get("arr").and_then(Value::as_array).map(|a| a.len()),
        Some(1)
    );
    assert!(v.get("missing").is_none());
    assert!(Value::Null.get("x").is_none());
}

#[test]
fn decodes_unicode_escapes() {
    let v = parse(r#""\u00e9\ud83d\ude00\ud800x""#).unwrap();
    assert_eq!(v.as_str(), Some("é😀\u{FFFD}x"));
    assert_eq!(parse("\"héllo\"").unwrap().as_str(), Some("héllo"));
}

#[test]
fn rejects_malformed_input_with_position() {
    for bad in [
        "",
        "{",
        "[1,]",
        "{\"a\" 1}",
        "01x",
        "1.",
        "-",
        "\"abc",
        "\"\\x\"",
        "tru",
        "[1] 2",
        "{\"a\":}",
        "\"\u{1}\"",
        "1e",
        "{1:2}",
    ] {
        let e = parse(bad).unwrap_err();
        assert!(e.pos <= bad.len(), "{bad:?} -> {e}");
        assert!(e.to_string().starts_with("invalid JSON at byte"));
    }
}

#[test]
fn refuses_deep_nesting_without_overflow() {
    let deep: String = "[".repeat(100_000);
    assert_eq!(parse(&deep).unwrap_err().msg, "nested too deeply");
    let ok = "[".repeat(100) + &"]".repeat(100);
    assert!(parse(&ok).is_ok());
}

#[test]
fn builds_values() {
    let mut o = Value::object();
    o.set("b", 1u32);
    o.set("a", "x");
    o.set("b", vec![Value::from(true), Value::Null]);
    o.set("f", 1.5f64);
    o.set("i", -3i64);
    o.set("whole", 2.0f64);
    o.set("nan", f64::NAN);
    assert_eq!(
        o.to_json(),
        r#"{"b":[true,null],"a":"x","f":1.5,"i":-3,"whole":2,"nan":null}"#
    );
    let mut a = Value::array();
    a.push("q");
    assert_eq!(a.to_json(), r#"["q"]"#);
    assert_eq!(quote("tab\there"), r#""tab\there""#);
    assert_eq!(Value::from(u64::MAX).to_json(), "18446744073709551615");
    assert_eq!(Value::from(i64::MIN).to_json(), "-9223372036854775808");
}
