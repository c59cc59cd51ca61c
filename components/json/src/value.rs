use alloc::string::String;
use alloc::vec::Vec;

/// A JSON number, kept as its source text (always valid JSON number syntax).
#[derive(Clone, Debug, PartialEq)]
pub struct Number(pub(crate) String);

impl Number {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn as_u64(&self) -> Option<u64> {
        parse_u64(&self.0)
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self.0.strip_prefix('-') {
            Some(digits) => 0i64.checked_sub_unsigned(parse_u64(digits)?),
            None => i64::try_from(parse_u64(&self.0)?).ok(),
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        self.0.parse().ok()
    }
}

/// The value of a text of decimal digits (nothing else, not even a sign), if
/// it fits. By hand rather than with `str::parse`, whose integer parsing
/// costs twice the code in every component; a JSON number is a whole number
/// exactly when it is digits after an optional `-`.
pub fn parse_u64(digits: &str) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for b in digits.bytes() {
        let d = (b as char).to_digit(10)?;
        n = n.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(n)
}

/// An object: keys in insertion order, which keeps serialized output stable
/// and readable (providers and tests see fields in the order they were built).
///
/// Repeated keys: `set` replaces the value of a key in place, and a parsed
/// object is as if built by `set` in text order, so `{"a":1,"b":2,"a":3}`
/// reads as `{"a":3,"b":2}`: one entry per key, at the place of its first
/// occurrence, with the value of its last (the last value wins, as in
/// `serde_json` and JavaScript). Only pairs pushed by hand into `.0` can
/// repeat a key; `get` then finds the first.
///
/// `get` and `set` search linearly, which suits the few keys objects built
/// in code have; parsing merges repeated keys once per object, in O(n log n).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Map(pub Vec<(String, Value)>);

impl Map {
    /// Makes keys unique the way repeated `set` calls would (see the type's
    /// documentation). The entry indices are sorted by (key, index), so each
    /// key's occurrences form a run in text order: the first takes the last
    /// one's value and the others are dropped.
    pub(crate) fn merge_repeated_keys(&mut self) {
        const GONE: usize = 1 << (usize::BITS - 1);
        let e = &mut self.0;
        let n = e.len();
        let mut idx = Vec::with_capacity(n);
        for i in 0..n {
            idx.push(i);
        }
        heapsort(&mut idx, &|a, b| {
            e[a].0.cmp(&e[b].0).then(a.cmp(&b)).is_lt()
        });
        let mut gone = false;
        let mut it = idx.iter_mut();
        let Some(&mut mut head) = it.next() else {
            return;
        };
        for slot in it {
            let i = *slot;
            if e[head].0 == e[i].0 {
                // Keys are equal, so this swaps values: the run's first
                // entry takes the later value, the later entry goes.
                e.swap(head, i);
                *slot |= GONE;
                gone = true;
            } else {
                head = i;
            }
        }
        if gone {
            // Back in entry order, the marks kept.
            heapsort(&mut idx, &|a, b| a & !GONE < b & !GONE);
            let mut kept = 0;
            for (i, &m) in idx.iter().enumerate() {
                if m & GONE == 0 {
                    e.swap(kept, i);
                    kept += 1;
                }
            }
            e.truncate(kept);
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn set(&mut self, key: &str, value: Value) {
        match self.get_mut(key) {
            Some(slot) => *slot = value,
            None => self.0.push((String::from(key), value)),
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let at = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(at).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// In-place heapsort: O(n log n) at worst, no allocation, and far less code
/// than the standard library's sorts (this crate ships in every component).
fn heapsort(v: &mut [usize], less: &dyn Fn(usize, usize) -> bool) {
    // Both phases in one loop (as the standard library's own heapsort):
    // first `i` in len + len/2 .. len builds the heap, then each `i` below
    // len moves the top to `i` and sifts the rest.
    let len = v.len();
    for i in (0..len + len / 2).rev() {
        let (mut node, end) = if i >= len {
            (i - len, len)
        } else {
            v.swap(0, i);
            (0, i)
        };
        loop {
            let mut child = 2 * node + 1;
            if child >= end {
                break;
            }
            if child + 1 < end && less(v[child], v[child + 1]) {
                child += 1;
            }
            if !less(v[node], v[child]) {
                break;
            }
            v.swap(node, child);
            node = child;
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Num(Number),
    Str(String),
    Arr(Vec<Value>),
    Obj(Map),
}

impl Value {
    pub fn object() -> Value {
        Value::Obj(Map::default())
    }

    pub fn array() -> Value {
        Value::Arr(Vec::new())
    }

    /// Builds an object from pairs, in order.
    pub fn from_pairs<I, K>(pairs: I) -> Value
    where
        I: IntoIterator<Item = (K, Value)>,
        K: Into<String>,
    {
        Value::Obj(Map(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect()))
    }

    /// The member `key` of an object; `None` for a missing key or a non-object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Obj(m) => m.get(key),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        match self {
            Value::Obj(m) => m.get_mut(key),
            _ => None,
        }
    }

    /// Inserts or replaces `key`; does nothing on a non-object.
    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        if let Value::Obj(m) = self {
            m.set(key, value.into());
        }
    }

    /// Appends to an array; does nothing on a non-array.
    pub fn push(&mut self, value: impl Into<Value>) {
        if let Value::Arr(a) = self {
            a.push(value.into());
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Num(n) => n.as_u64(),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Num(n) => n.as_i64(),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Num(n) => n.as_f64(),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Arr(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Arr(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Obj(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Obj(m) => Some(m),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Short name of the JSON type, for error messages ("expected string, got number").
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Num(_) => "number",
            Value::Str(_) => "string",
            Value::Arr(_) => "array",
            Value::Obj(_) => "object",
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(String::from(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<&String> for Value {
    fn from(s: &String) -> Self {
        Value::Str(s.clone())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<Vec<Value>> for Value {
    fn from(a: Vec<Value>) -> Self {
        Value::Arr(a)
    }
}

impl From<Map> for Value {
    fn from(m: Map) -> Self {
        Value::Obj(m)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Self {
        o.map_or(Value::Null, Into::into)
    }
}

macro_rules! from_int {
    ($text:path: $($t:ty as $wide:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Self {
                Value::Num(Number($text(n as $wide)))
            }
        }
    )*};
}
from_int!(crate::write::uint_text: u8 as u64, u16 as u64, u32 as u64, u64 as u64, usize as u64);
from_int!(crate::write::int_text: i8 as i64, i16 as i64, i32 as i64, i64 as i64, isize as i64);

impl From<f64> for Value {
    /// Non-finite floats have no JSON form and become `null`.
    fn from(n: f64) -> Self {
        if !n.is_finite() {
            return Value::Null;
        }
        // `n as i64` saturates, so the round trip holds only for whole numbers in range.
        if n.abs() < 9.0e15 && (n as i64) as f64 == n {
            return Value::from(n as i64);
        }
        Value::Num(Number(alloc::format!("{n}")))
    }
}

impl From<f32> for Value {
    fn from(n: f32) -> Self {
        if !n.is_finite() {
            return Value::Null;
        }
        if n.abs() < 1.0e7 && (n as i64) as f32 == n {
            return Value::from(n as i64);
        }
        Value::Num(Number(alloc::format!("{n}")))
    }
}
