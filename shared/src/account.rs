//! Accounts, sessions, access tokens, boards and their members: the bodies of the account routes
//! and the rules both ends enforce (usernames, passwords, names, roles).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// Identifier the store assigns to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = i64))]
#[serde(transparent)]
pub struct UserId(pub i64);

/// Identifier the store assigns to a board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = i64))]
#[serde(transparent)]
pub struct BoardId(pub i64);

/// Identifier of a personal access token (not the secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = i64))]
#[serde(transparent)]
pub struct TokenId(pub i64);

macro_rules! display_inner {
    ($($id:ty),*) => {$(
        impl fmt::Display for $id {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}
display_inner!(UserId, BoardId, TokenId);

/// Why a field of an account request was refused; the `Display` text is written for the person who
/// typed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldRule {
    UsernameLength { chars: usize },
    UsernameCharacters,
    PasswordLength { chars: usize },
    NameEmpty,
    NameTooLong { chars: usize, max: usize },
    NameControlCharacter,
}

impl fmt::Display for FieldRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UsernameLength { chars } => write!(
                f,
                "Choose a username of {} to {} characters (this one has {chars}).",
                Username::MIN_CHARS,
                Username::MAX_CHARS
            ),
            Self::UsernameCharacters => write!(
                f,
                "Use only letters a-z, digits, '.', '_' and '-' in the username, starting with a letter or digit."
            ),
            Self::PasswordLength { chars } => write!(
                f,
                "Choose a password of {} to {} characters (this one has {chars}).",
                Password::MIN_CHARS,
                Password::MAX_CHARS
            ),
            Self::NameEmpty => write!(f, "Enter a name: it cannot be empty or only spaces."),
            Self::NameTooLong { chars, max } => {
                write!(
                    f,
                    "Shorten the name to at most {max} characters (it has {chars})."
                )
            }
            Self::NameControlCharacter => write!(
                f,
                "Remove the control characters (such as tabs or line breaks) from the name."
            ),
        }
    }
}

impl std::error::Error for FieldRule {}

/// A username: 3 to 32 of `a-z 0-9 . _ -`, starting with a letter or digit. Letters are folded to
/// lower case, so `Ada` and `ada` are the same account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub const MIN_CHARS: usize = 3;
    pub const MAX_CHARS: usize = 32;
    /// The rule as a regular expression over the folded name (the OpenAPI `pattern`).
    pub const PATTERN: &'static str = "^[A-Za-z0-9][A-Za-z0-9._-]{2,31}$";

    pub fn parse(raw: &str) -> Result<Self, FieldRule> {
        let chars = raw.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&chars) {
            return Err(FieldRule::UsernameLength { chars });
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if !raw.chars().all(allowed) || !raw.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(FieldRule::UsernameCharacters);
        }
        Ok(Self(raw.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password: 8 to 256 characters, anything else is the person's choice. Its `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, FieldRule> {
        let chars = raw.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&chars) {
            return Err(FieldRule::PasswordLength { chars });
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

/// A board's or a token's name: trimmed, not empty, at most [`Name::MAX_CHARS`] characters, no
/// control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name(String);

impl Name {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, FieldRule> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(FieldRule::NameEmpty);
        }
        let chars = trimmed.chars().count();
        if chars > Self::MAX_CHARS {
            return Err(FieldRule::NameTooLong {
                chars,
                max: Self::MAX_CHARS,
            });
        }
        if trimmed.chars().any(char::is_control) {
            return Err(FieldRule::NameControlCharacter);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a member may do on a board. Each role includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads the board and follows it live.
    Viewer,
    /// Also creates, changes and deletes tasks.
    Editor,
    /// Also renames and deletes the board and manages its members.
    Owner,
}

impl Role {
    /// The name stored in the database and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Editor => "editor",
            Self::Owner => "owner",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Viewer, Self::Editor, Self::Owner]
            .into_iter()
            .find(|role| role.as_str() == raw)
    }

    /// Whether a member with this role may do what `needed` allows.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

/// The body of sign-up (`POST /api/accounts`) and sign-in (`POST /api/session`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{2,31}$")
    )]
    pub username: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 256))]
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// An account as the API shows it (never with its password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Account {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: UserId,
    pub username: String,
}

/// A board as one of its members sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Board {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: BoardId,
    pub name: String,
    /// The role of the account asking.
    pub role: Role,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
}

/// The body of `POST /api/boards` and `PATCH /api/boards/{board}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BoardFields {
    /// Trimmed; 1 to 100 characters, no control characters.
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 100,
            pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
        )
    )]
    pub name: String,
}

/// A member of a board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub user_id: UserId,
    pub username: String,
    pub role: Role,
}

/// The body of `POST /api/boards/{board}/members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{2,31}$")
    )]
    pub username: String,
    pub role: Role,
}

/// The body of `PATCH /api/boards/{board}/members/{user}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MemberRole {
    pub role: Role,
}

/// A personal access token as listed (the secret is shown once, when it is made).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenInfo {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: TokenId,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_used_at: Option<Timestamp>,
}

/// The body of `POST /api/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TokenFields {
    /// What the token is for ("laptop", "backup script"); trimmed, 1 to 100 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 100,
            pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$"
        )
    )]
    pub name: String,
}

/// A token just made: the only time its secret is shown. Send it as `Authorization: Bearer`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuedToken {
    pub token: TokenInfo,
    pub secret: String,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_username_is_folded_to_lower_case() {
        assert_eq!(Username::parse("Ada.L").unwrap().as_str(), "ada.l");
    }

    #[test]
    fn usernames_outside_the_rule_are_refused_with_the_reason() {
        let cases = [
            ("ab", FieldRule::UsernameLength { chars: 2 }),
            (&"a".repeat(33), FieldRule::UsernameLength { chars: 33 }),
            ("ada lovelace", FieldRule::UsernameCharacters),
            ("-ada", FieldRule::UsernameCharacters),
            ("adä", FieldRule::UsernameCharacters),
        ];
        for (raw, expected) in cases {
            assert_eq!(Username::parse(raw), Err(expected), "{raw:?}");
        }
    }

    #[test]
    fn a_password_needs_eight_characters_and_its_debug_hides_it() {
        assert_eq!(
            Password::parse("seven77"),
            Err(FieldRule::PasswordLength { chars: 7 })
        );
        let password = Password::parse("correct horse").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(Name::parse("  Home  ").unwrap().as_str(), "Home");
        assert_eq!(Name::parse("   "), Err(FieldRule::NameEmpty));
        assert_eq!(
            Name::parse(&"x".repeat(101)),
            Err(FieldRule::NameTooLong {
                chars: 101,
                max: 100
            })
        );
        assert_eq!(Name::parse("a\tb"), Err(FieldRule::NameControlCharacter));
    }

    #[test]
    fn each_role_allows_what_the_roles_below_it_allow() {
        assert!(Role::Owner.allows(Role::Editor));
        assert!(Role::Editor.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Editor));
        assert!(!Role::Editor.allows(Role::Owner));
        for role in [Role::Viewer, Role::Editor, Role::Owner] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
    }
}
