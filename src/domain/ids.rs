//! Newtype ids, so a company id cannot be passed where a user id belongs.

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A new, time-ordered id (UUIDv7).
            pub fn generate() -> Self {
                Self(uuid::Uuid::now_v7().to_string())
            }

            /// Parses an id given from outside (a CLI argument, a URL).
            pub fn parse(input: &str) -> crate::error::Result<Self> {
                uuid::Uuid::parse_str(input.trim())
                    .map(|id| Self(id.to_string()))
                    .map_err(|_| crate::error::Error::InvalidRequest(format!(
                        "`{}` is not a valid {} (expected a UUID)", input.trim(), stringify!($name)
                    )))
            }

            /// Wraps an id read back from the database.
            pub(crate) fn from_stored(id: String) -> Self {
                Self(id)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

uuid_id!(
    /// Identifies a company (an "environment").
    CompanyId
);
uuid_id!(
    /// Identifies a user; also the stable opaque `sub` of their tokens.
    UserId
);
uuid_id!(
    /// Identifies a message in the outbox.
    MessageId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_only_uuids() {
        let id = CompanyId::generate();
        assert_eq!(CompanyId::parse(id.as_str()).unwrap(), id);
        assert!(CompanyId::parse("acme").is_err());
        assert!(UserId::parse("").is_err());
    }
}
