//! What every page shares: its texts in the person's language, and the
//! language switch that sets the `lang` cookie.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header::{AcceptLanguage, Header, Preference};
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Deserialize;

use super::browser::see_other;
use crate::i18n::{Lang, Texts};

/// The cookie the language switch sets.
pub const LANG_COOKIE: &str = "lang";

/// The language of a request: `ui_locales` (the application's, from its
/// authorization request), then the `lang` cookie, then `Accept-Language`.
pub fn lang_of(req: &HttpRequest, ui_locales: Option<&str>) -> Lang {
    let cookie = req.cookie(LANG_COOKIE);
    let ranked: Vec<String> = AcceptLanguage::parse(req)
        .map(|header| header.ranked())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|preference| match preference {
            Preference::Specific(tag) => Some(tag.to_string()),
            Preference::Any => None,
        })
        .collect();
    Lang::negotiate(ui_locales, cookie.as_ref().map(Cookie::value), ranked.iter().map(String::as_str))
}

/// The texts a page template shows, and where the language switch returns.
#[derive(Debug, Clone)]
pub struct PageTexts {
    pub texts: Texts,
    /// This page's path and query, for the language switch to come back to;
    /// `None` where the page has no switch.
    here: Option<String>,
    /// The announcement in force, on the pages that show it (the sign-in's).
    announcement: Option<String>,
}

/// One entry of the language switch.
pub struct LanguageLink {
    pub code: &'static str,
    pub name: &'static str,
    pub href: String,
    pub current: bool,
}

impl PageTexts {
    /// The texts for a request, in its language. Where the application chose
    /// the language (`ui_locales`), it outranks the switch, so none is shown.
    pub fn for_request(req: &HttpRequest, ui_locales: Option<&str>) -> Self {
        let chosen_by_application = ui_locales.and_then(Lang::from_ui_locales).is_some();
        let here = (!chosen_by_application)
            .then(|| req.uri().path_and_query().map(|pq| pq.as_str().to_owned()).unwrap_or_else(|| "/".to_owned()));
        Self { texts: Texts::new(lang_of(req, ui_locales)), here, announcement: None }
    }

    /// The same texts without the language switch: for a page shown once (new
    /// recovery codes), which the switch could not show again.
    pub fn without_switch(mut self) -> Self {
        self.here = None;
        self
    }

    /// The same texts with the announcement in force, if there is one.
    pub fn with_announcement(mut self, announcement: Option<String>) -> Self {
        self.announcement = announcement;
        self
    }

    /// The announcement the page shows.
    pub fn announcement(&self) -> Option<&str> {
        self.announcement.as_deref()
    }

    pub fn lang(&self) -> Lang {
        self.texts.lang
    }

    /// `<html lang>`.
    pub fn code(&self) -> &'static str {
        self.texts.code()
    }

    pub fn get(&self, key: &str) -> &'static str {
        self.texts.get(key)
    }

    /// A text with one placeholder filled.
    /// What an application asks, as a consent or approval page lists it: the
    /// text of each scope Portti knows.
    pub fn scope_texts(&self, scopes: &[String]) -> Vec<String> {
        scopes
            .iter()
            .filter(|scope| crate::domain::discovery::SCOPES.contains(&scope.as_str()))
            .map(|scope| self.get(&format!("scope.{scope}")).to_owned())
            .collect()
    }

    pub fn fill1(&self, key: &str, name: &str, value: impl std::fmt::Display) -> String {
        self.texts.fill(key, &[(name, value.to_string())])
    }

    /// The language switch: each language, linking to `/language/{code}`
    /// with this page to return to.
    pub fn switch_links(&self) -> Vec<LanguageLink> {
        let Some(here) = &self.here else { return Vec::new() };
        let back: String = url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
        Lang::ALL
            .into_iter()
            .map(|lang| LanguageLink {
                code: lang.code(),
                name: lang.own_name(),
                href: format!("/language/{}?return={back}", lang.code()),
                current: lang == self.texts.lang,
            })
            .collect()
    }
}

#[derive(Deserialize)]
pub struct SwitchQuery {
    #[serde(rename = "return")]
    back: Option<String>,
}

/// Only a path on this site: no scheme, no host, nothing a browser would
/// read as another host (`//`, `/\`, or either behind a tab or newline,
/// which browsers strip from URLs).
fn local_path(candidate: Option<&str>) -> &str {
    match candidate {
        Some(path)
            if path.starts_with('/')
                && !path.chars().any(|c| c.is_control() || c == '\\')
                && !path[1..].starts_with('/') =>
        {
            path
        }
        _ => "/",
    }
}

/// Sets the `lang` cookie and goes back to the page the switch was on.
#[get("/language/{lang}")]
pub async fn switch(
    lang: web::Path<String>,
    query: web::Query<SwitchQuery>,
    state: web::Data<crate::AppState>,
) -> HttpResponse {
    let back = local_path(query.back.as_deref()).to_owned();
    let mut response = see_other(&back).finish();
    if let Some(lang) = Lang::from_tag(&lang) {
        let https = state.settings.is_https();
        let cookie = Cookie::build(LANG_COOKIE, lang.code())
            .path("/")
            .http_only(true)
            .secure(https)
            .same_site(SameSite::Lax)
            .max_age(CookieDuration::days(365))
            .finish();
        let _ = response.add_cookie(&cookie);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switch_returns_only_to_this_site() {
        assert_eq!(local_path(Some("/signin/abc?x=1")), "/signin/abc?x=1");
        assert_eq!(local_path(Some("https://evil.example/")), "/");
        assert_eq!(local_path(Some("//evil.example/")), "/");
        assert_eq!(local_path(Some("/\\evil.example/")), "/");
        assert_eq!(local_path(Some("/\t/evil.example")), "/");
        assert_eq!(local_path(Some("/\n/evil.example")), "/");
        assert_eq!(local_path(Some("/a\\b")), "/");
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn the_language_comes_from_ui_locales_then_the_cookie_then_the_browser() {
        let req = actix_web::test::TestRequest::default()
            .insert_header(("Accept-Language", "de-DE, sv;q=0.8, en;q=0.5"))
            .to_http_request();
        assert_eq!(lang_of(&req, None), Lang::Sv);
        assert_eq!(lang_of(&req, Some("fi")), Lang::Fi);
        let with_cookie = actix_web::test::TestRequest::default()
            .cookie(Cookie::new(LANG_COOKIE, "fi"))
            .insert_header(("Accept-Language", "sv"))
            .to_http_request();
        assert_eq!(lang_of(&with_cookie, None), Lang::Fi);
        assert_eq!(lang_of(&actix_web::test::TestRequest::default().to_http_request(), None), Lang::En);
    }
}
