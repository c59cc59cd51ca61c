use super::*;
use crate::embed::parse_f32;
use crate::error::{char_count, find, join, num, prefix_chars};
use crate::time::iso8601;

#[test]
fn parse_f32_matches_core_within_f32_precision() {
    for s in [
        "0",
        "-0",
        "1",
        "-1.5",
        "0.0123456789",
        "-0.0021937",
        "3.4e-5",
        "1E3",
        "-2.5e+2",
        "123456789012345678901234",
        "0.000000000000000000000000000000000000001",
        "1e-50",
    ] {
        let want: f32 = s.parse().unwrap();
        let got = parse_f32(s).unwrap_or_else(|| panic!("{s}"));
        assert!(
            (got - want).abs() <= want.abs() * 1e-6,
            "{s}: {got} vs {want}"
        );
    }
    for bad in ["", "-", "1e", "1.2.3", "abc", "1e400", "--1", "1 "] {
        assert_eq!(parse_f32(bad), None, "{bad}");
    }
}

#[test]
fn sort_by_name_sorts() {
    let mut v: Vec<DirEntry> = ["b", "a", "é", "B", "aa", "", "z", "a"]
        .iter()
        .map(|n| DirEntry {
            name: n.to_string(),
            kind: Kind::File,
        })
        .collect();
    sort_by_name(&mut v);
    let names: Vec<_> = v.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["", "B", "a", "a", "aa", "b", "z", "é"]);
    sort_by_name(&mut []);
}

#[test]
fn text_helpers() {
    assert_eq!(find(b"abcabc", b"ca", 0), Some(2));
    assert_eq!(find(b"abcabc", b"abc", 1), Some(3));
    assert_eq!(find(b"ab", b"abc", 0), None);
    assert_eq!(find(b"ab", b"", 2), Some(2));
    assert_eq!(prefix_chars("héllo", 2), "hé");
    assert_eq!(prefix_chars("hé", 5), "hé");
    assert_eq!(char_count("héllo"), 5);
    assert_eq!(join(&["a".into(), "b".into()], ", "), "a, b");
    assert_eq!(num(0), "0");
    assert_eq!(num(u64::MAX), "18446744073709551615");
    assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
    assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(iso8601(1_700_000_000), "2023-11-14T22:13:20Z");
}
