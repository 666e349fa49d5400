//! Sending the browser back to the application: a code, or an error, added to
//! its registered redirect URI with `state` and `iss` (RFC 9207).

use super::authorization::AuthorizationRequest;

/// The redirect that hands the application its authorization code.
pub fn code_redirect(issuer: &str, request: &AuthorizationRequest, code: &str) -> String {
    let mut pairs = vec![("code", code)];
    if let Some(client_state) = &request.state {
        pairs.push(("state", client_state));
    }
    pairs.push(("iss", issuer));
    with_query(&request.redirect_uri, &pairs)
}

/// The redirect that tells the application what went wrong.
pub fn error_redirect(
    issuer: &str,
    redirect_uri: &str,
    error: &str,
    description: &str,
    client_state: Option<&str>,
) -> String {
    let mut pairs = vec![("error", error), ("error_description", description)];
    if let Some(client_state) = client_state {
        pairs.push(("state", client_state));
    }
    pairs.push(("iss", issuer));
    with_query(redirect_uri, &pairs)
}

/// Appends query parameters to a (registered, hence valid) redirect URI.
fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(pairs);
            url.to_string()
        }
        Err(_) => uri.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_appended_to_registered_uris() {
        assert_eq!(with_query("https://a.example/cb", &[("code", "x y")]), "https://a.example/cb?code=x+y");
        assert_eq!(
            with_query("https://a.example/cb?tenant=1", &[("code", "c")]),
            "https://a.example/cb?tenant=1&code=c"
        );
    }
}
