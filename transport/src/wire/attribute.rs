//! A ticket attribute's value ([`AttributeValue`]): a string, a number or a list of strings.
//!
//! The one wire type with two shapes. In JSON (the HTTP API) a value is what it looks like:
//! `"pc"`, `42`, `["de", "fr"]`, so a client writes `{"platform": "pc", "level": 42}`. In
//! bincode (QUIC frames), which cannot read a value whose kind it is not told, it is a plain
//! externally tagged enum (`Text`, `Number`, `List`). Which shape is chosen by the format
//! (`is_human_readable`: true for JSON, false for bincode), so the rest of the wire keeps its
//! plain derives.

use core::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

/// A ticket attribute's value. The queue declares each attribute's type (`text`, `number`
/// or `list`); JSON gives it as a string, a number or an array of strings.
#[derive(Clone, Debug, PartialEq)]
pub enum AttributeValue {
    /// A string (a `text` attribute).
    Text(String),
    /// A finite number (a `number` attribute).
    Number(f64),
    /// A list of strings (a `list` attribute).
    List(Vec<String>),
}

/// The binary shape: a plain enum.
#[derive(Serialize, Deserialize)]
enum Tagged {
    Text(String),
    Number(f64),
    List(Vec<String>),
}

impl Serialize for AttributeValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            match self {
                Self::Text(text) => serializer.serialize_str(text),
                Self::Number(number) => serializer.serialize_f64(*number),
                Self::List(items) => items.serialize(serializer),
            }
        } else {
            let tagged = match self {
                Self::Text(text) => Tagged::Text(text.clone()),
                Self::Number(number) => Tagged::Number(*number),
                Self::List(items) => Tagged::List(items.clone()),
            };
            tagged.serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for AttributeValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            deserializer.deserialize_any(JsonValue)
        } else {
            Ok(match Tagged::deserialize(deserializer)? {
                Tagged::Text(text) => Self::Text(text),
                Tagged::Number(number) => Self::Number(number),
                Tagged::List(items) => Self::List(items),
            })
        }
    }
}

/// Reads the JSON shape: a string, a number, or an array of strings.
struct JsonValue;

impl<'de> Visitor<'de> for JsonValue {
    type Value = AttributeValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, a number or an array of strings")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<AttributeValue, E> {
        Ok(AttributeValue::Text(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<AttributeValue, E> {
        Ok(AttributeValue::Text(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<AttributeValue, E> {
        Ok(AttributeValue::Number(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<AttributeValue, E> {
        Ok(AttributeValue::Number(value as f64))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<AttributeValue, E> {
        Ok(AttributeValue::Number(value as f64))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AttributeValue, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element::<String>()? {
            items.push(item);
        }
        Ok(AttributeValue::List(items))
    }
}

#[cfg(feature = "schema")]
impl utoipa::PartialSchema for AttributeValue {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("a `text` attribute")),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Number)
                    .description(Some("a `number` attribute (finite)")),
            )
            .item(
                ArrayBuilder::new()
                    .items(ObjectBuilder::new().schema_type(Type::String))
                    .description(Some("a `list` attribute")),
            )
            .description(Some(
                "A ticket attribute's value: a string, a number or an array of strings, as the queue declares the attribute (`text`, `number`, `list`)",
            ))
            .examples([
                serde_json::json!("pc"),
                serde_json::json!(42),
                serde_json::json!(["de", "fr"]),
            ])
            .into()
    }
}

#[cfg(feature = "schema")]
impl utoipa::ToSchema for AttributeValue {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_the_value_itself_and_binary_is_tagged() {
        let values = [
            (AttributeValue::Text("pc".into()), "\"pc\""),
            (AttributeValue::Number(42.0), "42.0"),
            (AttributeValue::Number(0.5), "0.5"),
            (
                AttributeValue::List(vec!["de".into(), "fr".into()]),
                "[\"de\",\"fr\"]",
            ),
        ];
        for (value, json) in values {
            assert_eq!(serde_json::to_string(&value).unwrap(), json);
            assert_eq!(serde_json::from_str::<AttributeValue>(json).unwrap(), value);
            let mut bytes = Vec::new();
            matchwright_codec::encode_into(&value, &mut bytes);
            let (back, used) = matchwright_codec::decode_prefix::<AttributeValue>(&bytes).unwrap();
            assert_eq!((back, used), (value, bytes.len()));
        }
        assert_eq!(
            serde_json::from_str::<AttributeValue>("7").unwrap(),
            AttributeValue::Number(7.0)
        );
        for bad in ["true", "null", "{}", "[1]", "[[\"a\"]]"] {
            let error = serde_json::from_str::<AttributeValue>(bad).unwrap_err();
            assert!(
                error.to_string().contains("string") || error.to_string().contains("invalid"),
                "{bad}: {error}"
            );
        }
    }
}
