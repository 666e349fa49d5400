//! The message catalogue: every text a page, an email or an SMS shows, keyed
//! by name, in English, Finnish and Swedish (`locales/{en,fi,sv}.toml`).
//!
//! A text may hold `{name}` placeholders, filled with [`Texts::fill`]. A key
//! missing in one language falls back to English at run time, and the tests
//! below fail for it, so no page ships half-translated.

use std::collections::HashMap;
use std::sync::LazyLock;

/// A language Portti speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    En,
    Fi,
    Sv,
}

impl Lang {
    /// Every language, in the order the language switch lists them.
    pub const ALL: [Lang; 3] = [Lang::Fi, Lang::Sv, Lang::En];

    /// The BCP 47 code, as `<html lang>` and the `lang` cookie carry it.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fi => "fi",
            Lang::Sv => "sv",
        }
    }

    /// The language's own name, for the language switch.
    pub fn own_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Fi => "Suomi",
            Lang::Sv => "Svenska",
        }
    }

    /// The language of a tag such as `fi`, `fi-FI`, `sv-FI` or `EN-gb`.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "fi" => Some(Lang::Fi),
            "sv" => Some(Lang::Sv),
            _ => None,
        }
    }

    /// The first language Portti speaks in a space-separated list of tags
    /// (OpenID Connect's `ui_locales`).
    pub fn from_ui_locales(ui_locales: &str) -> Option<Lang> {
        ui_locales.split_whitespace().find_map(Lang::from_tag)
    }

    /// Chooses the language: `ui_locales` of the application's request, then
    /// the `lang` cookie of the language switch, then the browser's
    /// preferences (best first), then English.
    pub fn negotiate<'a>(
        ui_locales: Option<&str>,
        cookie: Option<&str>,
        preferences: impl IntoIterator<Item = &'a str>,
    ) -> Lang {
        ui_locales
            .and_then(Lang::from_ui_locales)
            .or_else(|| cookie.and_then(Lang::from_tag))
            .or_else(|| preferences.into_iter().find_map(Lang::from_tag))
            .unwrap_or_default()
    }
}

/// A moment as texts show it, the same in every language: `2026-12-01 16:00 UTC`.
pub fn date_time(seconds: crate::clock::UnixSeconds) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|moment| moment.format(FORMAT).ok())
        .unwrap_or_default()
}

type Table = HashMap<String, String>;

/// The catalogues, parsed once.
static CATALOGUES: LazyLock<HashMap<Lang, Table>> = LazyLock::new(|| {
    [
        (Lang::En, include_str!("../locales/en.toml")),
        (Lang::Fi, include_str!("../locales/fi.toml")),
        (Lang::Sv, include_str!("../locales/sv.toml")),
    ]
    .into_iter()
    .map(|(lang, source)| (lang, parse(source).unwrap_or_default()))
    .collect()
});

/// Flattens a catalogue's sections into `section.key` names.
fn parse(source: &str) -> Result<Table, toml::de::Error> {
    fn flatten(prefix: &str, value: toml::Value, into: &mut Table) {
        match value {
            toml::Value::Table(table) => {
                for (key, value) in table {
                    let name = if prefix.is_empty() { key } else { format!("{prefix}.{key}") };
                    flatten(&name, value, into);
                }
            }
            toml::Value::String(text) => {
                into.insert(prefix.to_owned(), text);
            }
            other => {
                into.insert(prefix.to_owned(), other.to_string());
            }
        }
    }
    let mut table = Table::new();
    flatten("", toml::from_str::<toml::Value>(source)?, &mut table);
    Ok(table)
}

fn lookup(lang: Lang, key: &str) -> Option<&'static str> {
    CATALOGUES.get(&lang).and_then(|table| table.get(key)).map(String::as_str)
}

/// The texts of one language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Texts {
    pub lang: Lang,
}

impl Texts {
    pub fn new(lang: Lang) -> Self {
        Self { lang }
    }

    /// English, for what is always English (the invitation email) and for
    /// answers with no person's language to go by.
    pub fn english() -> Self {
        Self { lang: Lang::En }
    }

    /// The text of `key`; English when this language lacks it, and nothing
    /// (logged as an error) when English does too. The tests keep both from
    /// happening.
    pub fn get(&self, key: &str) -> &'static str {
        lookup(self.lang, key).or_else(|| lookup(Lang::En, key)).unwrap_or_else(|| {
            tracing::error!(key, "missing text in the message catalogue");
            ""
        })
    }

    /// The text of `key` with its `{name}` placeholders filled.
    pub fn fill(&self, key: &str, arguments: &[(&str, String)]) -> String {
        let mut text = self.get(key).to_owned();
        for (name, value) in arguments {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }

    /// The `<html lang>` code.
    pub fn code(&self) -> &'static str {
        self.lang.code()
    }

    /// The person-facing text of a refusal.
    pub fn refusal(&self, refusal: &crate::domain::refusal::Refusal) -> String {
        self.fill(&format!("refusal.{}", refusal.key()), &refusal.arguments())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::domain::refusal::Refusal;

    fn catalogue(lang: Lang) -> Table {
        let source = match lang {
            Lang::En => include_str!("../locales/en.toml"),
            Lang::Fi => include_str!("../locales/fi.toml"),
            Lang::Sv => include_str!("../locales/sv.toml"),
        };
        parse(source).unwrap_or_else(|e| panic!("locales/{}.toml does not parse: {e}", lang.code()))
    }

    fn placeholders(text: &str) -> BTreeSet<String> {
        text.split('{').skip(1).filter_map(|rest| rest.split_once('}')).map(|(name, _)| name.to_owned()).collect()
    }

    #[test]
    fn every_language_has_every_key_with_the_same_placeholders() {
        let english = catalogue(Lang::En);
        assert!(english.len() > 100, "the English catalogue looks truncated");
        for lang in [Lang::Fi, Lang::Sv] {
            let other = catalogue(lang);
            let missing: Vec<&String> = english.keys().filter(|key| !other.contains_key(*key)).collect();
            assert!(missing.is_empty(), "locales/{}.toml lacks {missing:?}", lang.code());
            let extra: Vec<&String> = other.keys().filter(|key| !english.contains_key(*key)).collect();
            assert!(extra.is_empty(), "locales/{}.toml has keys English lacks: {extra:?}", lang.code());
            for (key, text) in &english {
                let translated = &other[key];
                assert!(!translated.trim().is_empty(), "{key} is empty in {}", lang.code());
                assert_eq!(placeholders(text), placeholders(translated), "{key} in {}", lang.code());
            }
        }
    }

    #[test]
    fn every_refusal_has_a_text() {
        let english = catalogue(Lang::En);
        for refusal in Refusal::examples() {
            let key = format!("refusal.{}", refusal.key());
            let text = english.get(&key).unwrap_or_else(|| panic!("no text for {key}"));
            let expected: BTreeSet<String> = refusal.arguments().iter().map(|(name, _)| (*name).to_owned()).collect();
            assert_eq!(placeholders(text), expected, "{key}");
        }
    }

    /// Every `t.get("…")`, `t.fill("…"` and `text("…")` in the templates and the
    /// code names a key that exists: a typo fails here, not on a page.
    #[test]
    fn every_key_used_exists() {
        let english = catalogue(Lang::En);
        let sections: BTreeSet<&str> = english.keys().filter_map(|key| key.split_once('.')).map(|(s, _)| s).collect();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in ["templates", "src"] {
            collect(&root.join(dir), &mut files);
        }
        let mut unknown = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            // Every string literal that looks like a key of one of the
            // catalogue's sections is one: `"message.what_password"` passed on
            // as a value is checked as well as `t.get("sign_in.title")`.
            for literal in text.split('"').skip(1).step_by(2) {
                let looks_like_key = literal.split_once('.').is_some_and(|(section, rest)| {
                    sections.contains(section)
                        && !rest.is_empty()
                        && !rest.ends_with("html")
                        && literal.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
                });
                if looks_like_key && !english.contains_key(literal) {
                    unknown.push(format!("{}: {literal}", file.display()));
                }
            }
        }
        assert!(unknown.is_empty(), "keys used but not in locales/en.toml: {unknown:?}");
    }

    fn collect(dir: &Path, into: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                collect(&path, into);
            } else if path.extension().is_some_and(|e| e == "html" || e == "rs")
                && !path.ends_with("i18n.rs")
                // Config keys (`sign_in.trusted_proxies`) look like catalogue keys but are not.
                && !path.to_string_lossy().contains("/config")
            {
                into.push(path);
            }
        }
    }

    #[test]
    fn every_scope_has_a_description() {
        let english = catalogue(Lang::En);
        for scope in crate::domain::discovery::SCOPES {
            assert!(english.contains_key(&format!("scope.{scope}")), "no text for the scope {scope}");
        }
    }

    #[test]
    fn languages_are_chosen_in_order() {
        assert_eq!(Lang::negotiate(Some("sv fi"), Some("fi"), ["en"]), Lang::Sv, "ui_locales first");
        assert_eq!(Lang::negotiate(Some("de"), Some("fi"), ["sv"]), Lang::Fi, "then the cookie");
        assert_eq!(Lang::negotiate(None, None, ["de-DE", "sv-FI", "fi"]), Lang::Sv, "then the browser");
        assert_eq!(Lang::negotiate(None, Some("xx"), ["de"]), Lang::En, "then English");
    }

    #[test]
    fn moments_read_alike_in_every_language() {
        assert_eq!(date_time(1_796_140_800), "2026-12-01 16:00 UTC");
    }

    #[test]
    fn placeholders_are_filled() {
        let texts = Texts::new(Lang::Fi);
        let text = texts.refusal(&Refusal::PasswordTooShort { min: 10 });
        assert!(text.contains("10"), "{text}");
        assert!(!text.contains('{'), "{text}");
    }
}
