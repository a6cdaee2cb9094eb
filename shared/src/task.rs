//! Tasks: the stored resource, the create request, and the title rule both ends enforce.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::Timestamp;

/// Identifier the store assigns to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = i64))]
#[serde(transparent)]
pub struct TaskId(pub i64);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A task as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Task {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: TaskId,
    pub title: String,
    pub done: bool,
    /// When the server stored the task (RFC 3339, UTC).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// Starts at 1 and grows by one with every change; the basis for ETags and `If-Match`.
    pub version: i64,
    /// The username of who created it (none for tasks from before accounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// The username of who changed it last (none for tasks from before accounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
}

/// A task title that satisfies the rule: trimmed, not empty, at most
/// [`TaskTitle::MAX_CHARS`] characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaskTitle(String);

/// Why a title was refused. The `Display` text is written for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TitleError {
    Empty,
    TooLong { chars: usize },
    ControlCharacter,
}

impl fmt::Display for TitleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "Enter a title: it cannot be empty or only spaces."),
            Self::TooLong { chars } => write!(
                f,
                "Shorten the title to at most {} characters (it has {chars}).",
                TaskTitle::MAX_CHARS
            ),
            Self::ControlCharacter => write!(
                f,
                "Remove the control characters (such as tabs or line breaks) from the title."
            ),
        }
    }
}

impl std::error::Error for TitleError {}

impl TaskTitle {
    /// Longest title accepted, counted in Unicode scalar values after trimming.
    pub const MAX_CHARS: usize = 200;

    /// Trims `raw` and checks it against the title rule.
    pub fn parse(raw: &str) -> Result<Self, TitleError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(TitleError::Empty);
        }
        let chars = trimmed.chars().count();
        if chars > Self::MAX_CHARS {
            return Err(TitleError::TooLong { chars });
        }
        if trimmed.chars().any(char::is_control) {
            return Err(TitleError::ControlCharacter);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl AsRef<str> for TaskTitle {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The body of `POST /api/tasks` as it arrives, before the title rule runs.
///
/// Two shapes are accepted: `{"title": "..."}` and a bare JSON string `"..."` (what the original
/// article's client sends). Unknown fields are refused so that a typo such as `"titel"` is reported
/// rather than silently producing a missing-title error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreateTask {
    pub title: String,
}

/// The schema of both accepted shapes: `{"title": "..."}` or a bare string.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for CreateTask {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        let title = || {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(crate::TEXT_PATTERN))
                .max_length(Some(TaskTitle::MAX_CHARS))
                .description(Some(format!(
                    "Trimmed; 1 to {} characters, no control characters.",
                    TaskTitle::MAX_CHARS
                )))
        };
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .property("title", title())
                    .required("title")
                    .additional_properties(Some(
                        utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
                    )),
            )
            .item(title())
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for CreateTask {}

impl<'de> Deserialize<'de> for CreateTask {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CreateTaskVisitor)
    }
}

struct CreateTaskVisitor;

impl<'de> Visitor<'de> for CreateTaskVisitor {
    type Value = CreateTask;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(r#"an object like {"title": "Buy milk"} or a string like "Buy milk""#)
    }

    fn visit_str<E: de::Error>(self, title: &str) -> Result<CreateTask, E> {
        Ok(CreateTask {
            title: title.to_owned(),
        })
    }

    fn visit_string<E: de::Error>(self, title: String) -> Result<CreateTask, E> {
        Ok(CreateTask { title })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CreateTask, A::Error> {
        let mut title: Option<String> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "title" if title.is_some() => return Err(de::Error::duplicate_field("title")),
                "title" => title = Some(map.next_value()?),
                other => return Err(de::Error::unknown_field(other, &["title"])),
            }
        }
        let title = title.ok_or_else(|| de::Error::missing_field("title"))?;
        Ok(CreateTask { title })
    }
}

/// A create request that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    pub title: TaskTitle,
}

impl TryFrom<CreateTask> for NewTask {
    type Error = TitleError;

    fn try_from(raw: CreateTask) -> Result<Self, Self::Error> {
        Ok(Self {
            title: TaskTitle::parse(&raw.title)?,
        })
    }
}

/// The body of `PATCH /api/boards/{board}/tasks/{id}`: the fields to change, each optional, at
/// least one of them given (not `null`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateTask {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done: Option<bool>,
}

/// The schema says exactly what the server takes: `title` (a title) and `done`, each possibly
/// `null`, nothing else, and at least one of them not `null`.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for UpdateTask {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            AdditionalProperties, AllOfBuilder, AnyOfBuilder, ObjectBuilder, SchemaType, Type,
        };
        let title = |types: SchemaType| {
            ObjectBuilder::new()
                .schema_type(types)
                .pattern(Some(crate::TEXT_PATTERN))
                .max_length(Some(TaskTitle::MAX_CHARS))
        };
        let fields = ObjectBuilder::new()
            .property(
                "title",
                title(SchemaType::from_iter([Type::String, Type::Null])),
            )
            .property(
                "done",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::Boolean, Type::Null])),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        let given = |name: &str, schema: ObjectBuilder| {
            ObjectBuilder::new().property(name, schema).required(name)
        };
        let at_least_one = AnyOfBuilder::new()
            .item(given("title", title(SchemaType::new(Type::String))))
            .item(given(
                "done",
                ObjectBuilder::new().schema_type(Type::Boolean),
            ));
        AllOfBuilder::new().item(fields).item(at_least_one).into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for UpdateTask {}

/// An update that passed validation: at least one field, and a valid title if one is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPatch {
    pub title: Option<TaskTitle>,
    pub done: Option<bool>,
}

/// Why an update was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchError {
    /// Neither `title` nor `done` was given.
    Empty,
    Title(TitleError),
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("Send `title`, `done` or both: there is nothing to change."),
            Self::Title(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for PatchError {}

impl TryFrom<UpdateTask> for TaskPatch {
    type Error = PatchError;

    fn try_from(raw: UpdateTask) -> Result<Self, PatchError> {
        if raw.title.is_none() && raw.done.is_none() {
            return Err(PatchError::Empty);
        }
        let title = raw
            .title
            .as_deref()
            .map(TaskTitle::parse)
            .transpose()
            .map_err(PatchError::Title)?;
        Ok(Self {
            title,
            done: raw.done,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_is_trimmed() {
        let title = TaskTitle::parse("  buy milk \n").unwrap();
        assert_eq!(title.as_str(), "buy milk");
    }

    #[test]
    fn an_empty_or_blank_title_is_rejected() {
        for raw in ["", " ", "\t\n  "] {
            assert_eq!(TaskTitle::parse(raw), Err(TitleError::Empty), "{raw:?}");
        }
    }

    #[test]
    fn a_title_of_exactly_the_limit_is_accepted_and_one_more_is_rejected() {
        let at_limit = "é".repeat(TaskTitle::MAX_CHARS);
        assert!(TaskTitle::parse(&at_limit).is_ok());
        let over = "é".repeat(TaskTitle::MAX_CHARS + 1);
        assert_eq!(
            TaskTitle::parse(&over),
            Err(TitleError::TooLong {
                chars: TaskTitle::MAX_CHARS + 1
            })
        );
    }

    #[test]
    fn the_limit_is_counted_after_trimming() {
        let padded = format!("   {}   ", "a".repeat(TaskTitle::MAX_CHARS));
        assert!(TaskTitle::parse(&padded).is_ok());
    }

    #[test]
    fn a_title_with_control_characters_inside_is_rejected() {
        for raw in ["a\tb", "line\nbreak", "bell\u{7}", "del\u{7f}"] {
            assert_eq!(
                TaskTitle::parse(raw),
                Err(TitleError::ControlCharacter),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn the_create_body_accepts_an_object_and_a_bare_string() {
        let object: CreateTask = serde_json::from_str(r#"{"title":"a"}"#).unwrap();
        let bare: CreateTask = serde_json::from_str(r#""a""#).unwrap();
        assert_eq!(object, bare);
    }

    #[test]
    fn the_create_body_rejects_other_shapes_with_a_useful_message() {
        let cases = [
            (r#"{"title": 5}"#, "invalid type"),
            (r#"{}"#, "missing field `title`"),
            (r#"{"titel": "a"}"#, "unknown field `titel`"),
            (r#"{"title": "a", "title": "b"}"#, "duplicate field `title`"),
            ("42", "expected an object like"),
            ("[\"a\"]", "expected an object like"),
            ("null", "expected an object like"),
        ];
        for (body, expected) in cases {
            let err = serde_json::from_str::<CreateTask>(body).unwrap_err();
            assert!(
                err.to_string().contains(expected),
                "{body}: got {err}, wanted {expected}"
            );
        }
    }

    #[test]
    fn an_update_needs_at_least_one_field_and_a_valid_title() {
        assert_eq!(
            TaskPatch::try_from(UpdateTask::default()),
            Err(PatchError::Empty)
        );
        let blank = UpdateTask {
            title: Some("  ".into()),
            done: None,
        };
        assert_eq!(
            TaskPatch::try_from(blank),
            Err(PatchError::Title(TitleError::Empty))
        );
        let done_only = UpdateTask {
            title: None,
            done: Some(true),
        };
        assert_eq!(
            TaskPatch::try_from(done_only),
            Ok(TaskPatch {
                title: None,
                done: Some(true)
            })
        );
    }

    #[test]
    fn an_update_with_an_unknown_field_is_refused() {
        let err = serde_json::from_str::<UpdateTask>(r#"{"don": true}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `don`"), "{err}");
    }

    #[test]
    fn a_task_round_trips_through_json_with_an_rfc3339_timestamp() {
        let task = Task {
            id: TaskId(7),
            title: "t".into(),
            done: false,
            created_at: serde_json::from_str(r#""2023-11-14T22:13:20.123Z""#).unwrap(),
            version: 1,
            created_by: Some("ada".into()),
            updated_by: None,
        };
        let json = serde_json::to_value(&task).unwrap();
        assert_eq!(json["created_at"], "2023-11-14T22:13:20.123Z");
        assert_eq!(serde_json::from_value::<Task>(json).unwrap(), task);
    }
}
