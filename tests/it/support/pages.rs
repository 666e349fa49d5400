//! A plain HTTP client that uses the hosted pages as a browser would: keeps
//! cookies, submits forms with their anti-forgery token, follows Portti's own
//! redirects and stops at the one back to the application.

use reqwest::StatusCode;
use reqwest::header::LOCATION;

pub struct PageClient {
    http: reqwest::Client,
    pub base: String,
}

/// Where a step landed.
#[derive(Debug)]
pub enum Landing {
    /// A page of Portti's.
    Page { path: String, status: StatusCode, body: String },
    /// A redirect out of Portti (to the application).
    Left(String),
}

impl Landing {
    pub fn page(self) -> (String, StatusCode, String) {
        match self {
            Landing::Page { path, status, body } => (path, status, body),
            Landing::Left(url) => panic!("expected a page, left for {url}"),
        }
    }

    pub fn left(self) -> String {
        match self {
            Landing::Left(url) => url,
            Landing::Page { path, status, body } => panic!("expected to leave, got {status} {path}: {body}"),
        }
    }
}

impl PageClient {
    pub fn new(base: &str) -> Self {
        Self::with_headers(base, reqwest::header::HeaderMap::new())
    }

    /// A browser whose every request carries `headers` (as a proxy in front
    /// of Portti adds `X-Forwarded-For`).
    pub fn with_headers(base: &str, headers: reqwest::header::HeaderMap) -> Self {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .unwrap();
        Self { http, base: base.to_owned() }
    }

    /// GETs a URL (absolute, or a path of Portti's) and follows Portti's redirects.
    pub async fn open(&self, url: &str) -> Landing {
        let url = if url.starts_with('/') { format!("{}{url}", self.base) } else { url.to_owned() };
        let response = self.http.get(&url).send().await.unwrap();
        self.land(response).await
    }

    /// Submits the form of `page` whose action ends with `action`, with its
    /// hidden fields (the anti-forgery token among them) and these fields.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Landing {
        let response = self.form(page, action, fields).send().await.unwrap();
        self.land(response).await
    }

    /// The request [`submit`](Self::submit) sends, for a test that must
    /// see it fail (the server killed under it).
    pub fn form(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let target = form_action(page, action);
        // A field given here is what a script or the person filled in: it
        // replaces a hidden one of the same name.
        let mut form = hidden_fields(page, &target);
        form.retain(|(name, _)| !fields.iter().any(|(given, _)| given == name));
        form.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self.http.post(format!("{}{target}", self.base)).form(&form)
    }

    /// POSTs a form without a page (for forged requests).
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Landing {
        let response = self.http.post(format!("{}{path}", self.base)).form(fields).send().await.unwrap();
        self.land(response).await
    }

    async fn land(&self, mut response: reqwest::Response) -> Landing {
        loop {
            let status = response.status();
            if status.is_redirection() {
                let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
                let url = if location.starts_with('/') { format!("{}{location}", self.base) } else { location };
                if !url.starts_with(&self.base) {
                    return Landing::Left(url);
                }
                response = self.http.get(&url).send().await.unwrap();
                continue;
            }
            let path = response.url().path().to_owned();
            let body = response.text().await.unwrap();
            return Landing::Page { path, status, body };
        }
    }
}

/// The action of the form whose action ends with `suffix`.
pub fn form_action(page: &str, suffix: &str) -> String {
    page.split("action=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .find(|action| action.ends_with(suffix))
        .unwrap_or_else(|| panic!("no form posting to …{suffix} in:\n{page}"))
}

/// The hidden inputs of the form posting to `action`.
fn hidden_fields(page: &str, action: &str) -> Vec<(String, String)> {
    let start = page.find(&format!("action=\"{action}\"")).unwrap();
    let form = &page[start..page[start..].find("</form>").map_or(page.len(), |end| start + end)];
    form.split("<input type=\"hidden\" ")
        .skip(1)
        .filter_map(|input| {
            let attr = |name: &str| {
                let marker = format!("{name}=\"");
                input.find(&marker).map(|i| unescape(input[i + marker.len()..].split('"').next().unwrap_or("")))
            };
            Some((attr("name")?, attr("value")?))
        })
        .collect()
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The text of the element with this id.
pub fn element_text(page: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\">");
    let start = page.find(&marker).unwrap_or_else(|| panic!("no #{id} in:\n{page}")) + marker.len();
    page[start..].split('<').next().unwrap().to_owned()
}

/// A query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url).unwrap().query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}
