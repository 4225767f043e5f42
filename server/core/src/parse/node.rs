//! A YAML/JSON value tree that keeps the byte span of every node, read with
//! serde-saphyr. It feeds schema validation (as a `serde_json::Value`), maps a
//! schema error's instance path back to source text, and builds the model.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::text::{ColumnUnit, LineCol, LineIndex, Span};

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: NodeValue,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A YAML syntax error with its position (1-based line and column in
/// characters, as the parser reports them), if the parser gave one.
#[derive(Clone, Debug)]
pub struct YamlError {
    pub line_col: Option<(u64, u64)>,
    pub message: String,
}

impl YamlError {
    /// Byte offset of the error in `text`.
    pub fn offset(&self, text: &str) -> Option<usize> {
        let (line, col) = self.line_col?;
        let index = LineIndex::new(text);
        let pos = LineCol {
            line: line.saturating_sub(1) as u32,
            col: col.saturating_sub(1) as u32,
        };
        Some(index.offset(text, pos, ColumnUnit::Char))
    }
}

/// Nesting allowed in a YAML/JSON PRD. The deepest real path is about 6
/// (`requirements[0].acceptance_criteria[0].text`); the bound keeps recursion
/// far inside a 2 MiB thread stack even in debug builds.
pub const MAX_DEPTH: usize = 12;

/// Parse YAML (or JSON, a subset serde-saphyr reads) into a node tree.
/// Nesting depth is bounded by `MAX_DEPTH`, alias expansion by serde-saphyr's default budget.
pub fn parse_yaml(text: &str) -> Result<Node, YamlError> {
    if text.trim().is_empty() {
        return Ok(Node {
            value: NodeValue::Null,
            span: Span::empty(0),
        });
    }
    if let Some(offset) = too_deep_flow(text, MAX_DEPTH).or_else(|| too_deep_block(text, MAX_DEPTH))
    {
        let before = &text[..offset];
        let line = before.matches('\n').count() as u64 + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u64 + 1;
        let message = format!(
            "nesting deeper than {MAX_DEPTH} levels; a PRD never needs this, so flatten the document"
        );
        return Err(YamlError {
            line_col: Some((line, col)),
            message,
        });
    }
    let options = serde_saphyr::options! { budget: serde_saphyr::budget! { max_depth: MAX_DEPTH } };
    serde_saphyr::from_str_with_options::<Node>(text, options).map_err(|err| {
        let line_col = err
            .location()
            .map(|loc| (loc.line(), loc.column()))
            .filter(|(line, _)| *line > 0);
        YamlError {
            line_col,
            message: strip_position(&first_line(&err.to_string())),
        }
    })
}

/// The offset of the first `[` or `{` nested deeper than `max`, outside quotes
/// and comments. A linear pre-scan: serde-saphyr's parser recurses on flow
/// collections before its depth budget applies, so very deep input must be
/// refused before it gets there.
fn too_deep_flow(text: &str, max: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut previous = b'\n';
    let mut comment = false;
    let mut escaped = false;
    for (i, &b) in text.as_bytes().iter().enumerate() {
        if comment {
            comment = b != b'\n';
        } else if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if b == b'\\' && q == b'"' {
                escaped = true;
            } else if b == q {
                quote = None;
            }
        } else {
            match b {
                b'"' | b'\'' => quote = Some(b),
                b'#' if previous.is_ascii_whitespace() => comment = true,
                b'[' | b'{' => {
                    depth += 1;
                    if depth > max {
                        return Some(i);
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        previous = b;
    }
    None
}

/// The offset of the first line nested deeper than `max` block levels, judged
/// by indentation (each leading `- ` is a level too). Block scalar bodies
/// (`|`, `>`) are skipped. The YAML parser recurses per block level before
/// serde-saphyr's budget applies, so this runs first.
fn too_deep_block(text: &str, max: usize) -> Option<usize> {
    let mut indents: Vec<usize> = Vec::new();
    let mut scalar_body: Option<usize> = None;
    let mut offset = 0;
    for raw in text.split_inclusive('\n') {
        let line_start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let content = line.trim_start_matches(' ');
        let indent = line.len() - content.len();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if let Some(body) = scalar_body {
            if indent > body {
                continue;
            }
            scalar_body = None;
        }
        while indents.last().is_some_and(|&top| top > indent) {
            indents.pop();
        }
        if indents.last() != Some(&indent) {
            indents.push(indent);
        }
        let mut rest = content;
        let mut dashes = 0;
        while let Some(after) = rest.strip_prefix("- ") {
            dashes += 1;
            rest = after.trim_start_matches(' ');
        }
        if indents.len() + dashes > max {
            return Some(line_start + indent);
        }
        let tail = line.split(" #").next().unwrap_or(line).trim_end();
        if tail.ends_with(['|', '>'])
            || tail
                .rsplit(' ')
                .next()
                .is_some_and(|t| t.starts_with(['|', '>']) && t.len() <= 3)
        {
            scalar_body = Some(indent);
        }
    }
    None
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or(message).trim().to_string()
}

/// serde-saphyr prefixes messages with "error: line L column C: "; the caller
/// reports the position itself.
fn strip_position(message: &str) -> String {
    let rest = message.strip_prefix("error: ").unwrap_or(message);
    match rest.strip_prefix("line ").and_then(|r| r.split_once(": ")) {
        Some((_, tail)) => tail.to_string(),
        None => rest.to_string(),
    }
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            NodeValue::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A scalar rendered as text (numbers and booleans too), for tolerant reads.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            NodeValue::Str(s) => Some(s.clone()),
            NodeValue::Int(i) => Some(i.to_string()),
            NodeValue::Float(f) => Some(f.to_string()),
            NodeValue::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub fn items(&self) -> &[Node] {
        match &self.value {
            NodeValue::Seq(items) => items,
            _ => &[],
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(b) => Value::Bool(*b),
            NodeValue::Int(i) => Value::from(*i),
            NodeValue::Float(f) => {
                serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
            }
            NodeValue::Str(s) => Value::String(s.clone()),
            NodeValue::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.scalar_text().unwrap_or_default(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// The span that best shows a JSON-pointer-like path: the node itself, or
    /// its key when the node has no width (containers), or the deepest
    /// ancestor found when the path does not exist (a missing key).
    pub fn locate<'a>(&self, path: impl IntoIterator<Item = &'a str>) -> Span {
        let mut node = self;
        let mut anchor = self.span;
        for segment in path {
            let next = match &node.value {
                NodeValue::Map(entries) => entries
                    .iter()
                    .find(|(k, _)| k.scalar_text().as_deref() == Some(segment))
                    .map(|(k, v)| (v, k.span)),
                NodeValue::Seq(items) => segment
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| items.get(i))
                    .map(|v| (v, v.span)),
                _ => None,
            };
            let Some((child, key_span)) = next else { break };
            node = child;
            anchor = if child.span.start == child.span.end {
                key_span
            } else {
                child.span
            };
        }
        anchor
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<NodeValue>::deserialize(deserializer)?;
        let span = spanned.referenced.span();
        let start = span.byte_offset().unwrap_or(0) as usize;
        let len = span.byte_len().unwrap_or(0) as usize;
        Ok(Node {
            value: spanned.value,
            span: Span::new(start, start + len),
        })
    }
}

impl<'de> Deserialize<'de> for NodeValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = NodeValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }
    fn visit_none<E>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<NodeValue, D::Error> {
        NodeValue::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<NodeValue, E> {
        Ok(NodeValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<NodeValue, E> {
        Ok(NodeValue::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<NodeValue, E> {
        Ok(i64::try_from(v).map_or(NodeValue::Float(v as f64), NodeValue::Int))
    }
    fn visit_i128<E>(self, v: i128) -> Result<NodeValue, E> {
        Ok(i64::try_from(v).map_or(NodeValue::Float(v as f64), NodeValue::Int))
    }
    fn visit_u128<E>(self, v: u128) -> Result<NodeValue, E> {
        Ok(i64::try_from(v).map_or(NodeValue::Float(v as f64), NodeValue::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<NodeValue, E> {
        Ok(NodeValue::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<NodeValue, E> {
        Ok(NodeValue::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<NodeValue, E> {
        Ok(NodeValue::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<NodeValue, E> {
        Ok(NodeValue::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(NodeValue::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(NodeValue::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_point_at_scalars() {
        let text = "title: Loans\nrequirements:\n  - id: REQ-1\n    tags: [a, \"b\"]\n";
        let node = parse_yaml(text).unwrap();
        let title = node.get("title").unwrap();
        assert_eq!(title.span.slice(text), "Loans");
        assert_eq!(
            node.locate(["requirements", "0", "id"]).slice(text),
            "REQ-1"
        );
        let b = node.locate(["requirements", "0", "tags", "1"]);
        assert_eq!(b.slice(text).trim_matches('"'), "b");
        // A missing key points at the deepest node that exists.
        assert!(node.locate(["requirements", "0", "nope"]).start >= text.find("- id").unwrap());
    }

    #[test]
    fn json_parses_with_spans() {
        let text = "{\n  \"title\": \"Loans\",\n  \"n\": [1, 2.5, null, true]\n}";
        let node = parse_yaml(text).unwrap();
        assert_eq!(
            node.get("title")
                .unwrap()
                .span
                .slice(text)
                .trim_matches('"'),
            "Loans"
        );
        assert_eq!(node.to_json()["n"][1], serde_json::json!(2.5));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let text = "a: [1, 2\nb: c\n";
        let err = parse_yaml(text).unwrap_err();
        assert_eq!(
            err.offset(text),
            Some(text.find("b:").unwrap() + 1),
            "{err:?}"
        );
        assert!(!err.message.starts_with("error"), "{}", err.message);
    }

    #[test]
    fn deep_flow_nesting_is_refused_with_its_position() {
        let text = format!("a: {}", "{\"b\": ".repeat(30));
        let err = parse_yaml(&text).unwrap_err();
        assert_eq!(err.line_col, Some((1, 3 + 6 * MAX_DEPTH as u64 + 1)));
        assert!(too_deep_flow("t: \"[[[[[[[[\" # [[[[[[\n", 3).is_none());
        let deep: String = (0..20)
            .map(|i| format!("{}- a:\n", "  ".repeat(i)))
            .collect();
        // Line i has i + 1 indentation levels plus its dash: line 11 is the first past 12.
        let line_11: usize = deep.lines().take(11).map(|l| l.len() + 1).sum();
        assert_eq!(too_deep_block(&deep, MAX_DEPTH), Some(line_11 + 22));
        let scalar = "a: |\n    x\n        y\n            z\nb: 1\n";
        assert!(too_deep_block(scalar, 2).is_none());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(parse_yaml(&text).is_err());
    }
}
