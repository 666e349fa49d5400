//! What a browser's `User-Agent` says of it, in words a person recognises
//! ("Chrome", "Windows"): shown on the phone that approves a QR sign-in, so
//! the person sees which computer asks. A user agent is whatever the asker
//! sent; these words are a hint, never a check.

/// The browser and the operating system a user agent names; `None` for
/// what it does not make plain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrowserSummary {
    pub browser: Option<&'static str>,
    pub os: Option<&'static str>,
}

/// Reads a user agent. The order matters: Edge and Opera also say
/// "Chrome", Chrome also says "Safari", Android also says "Linux".
pub fn summarise(user_agent: &str) -> BrowserSummary {
    let has = |token: &str| user_agent.contains(token);
    let browser = if has("Edg/") || has("EdgA/") || has("EdgiOS/") {
        Some("Edge")
    } else if has("OPR/") || has("Opera") {
        Some("Opera")
    } else if has("Firefox/") || has("FxiOS/") {
        Some("Firefox")
    } else if has("SamsungBrowser/") {
        Some("Samsung Internet")
    } else if has("Chrome/") || has("Chromium/") || has("CriOS/") {
        Some("Chrome")
    } else if has("Safari/") && has("Version/") {
        Some("Safari")
    } else {
        None
    };
    let os = if has("Windows") {
        Some("Windows")
    } else if has("iPhone") || has("iPad") || has("iPod") {
        Some("iOS")
    } else if has("Mac OS X") || has("Macintosh") {
        Some("macOS")
    } else if has("Android") {
        Some("Android")
    } else if has("CrOS") {
        Some("ChromeOS")
    } else if has("Linux") || has("X11") {
        Some("Linux")
    } else {
        None
    };
    BrowserSummary { browser, os }
}

/// The longest user agent kept: enough for any real browser's.
pub const MAX_KEPT_LENGTH: usize = 512;

/// A user agent as stored: cut to [`MAX_KEPT_LENGTH`] bytes on a character
/// boundary, without control characters.
pub fn kept(user_agent: &str) -> String {
    let mut kept: String = user_agent.chars().filter(|c| !c.is_control()).collect();
    if kept.len() > MAX_KEPT_LENGTH {
        let mut end = MAX_KEPT_LENGTH;
        while !kept.is_char_boundary(end) {
            end -= 1;
        }
        kept.truncate(end);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(ua: &str) -> (Option<&'static str>, Option<&'static str>) {
        let s = summarise(ua);
        (s.browser, s.os)
    }

    #[test]
    fn real_browsers_are_named_with_their_system() {
        let chrome_windows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        assert_eq!(summary(chrome_windows), (Some("Chrome"), Some("Windows")));
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";
        assert_eq!(summary(edge), (Some("Edge"), Some("Windows")));
        let safari_mac = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15";
        assert_eq!(summary(safari_mac), (Some("Safari"), Some("macOS")));
        let firefox_linux = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(summary(firefox_linux), (Some("Firefox"), Some("Linux")));
        let chrome_android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";
        assert_eq!(summary(chrome_android), (Some("Chrome"), Some("Android")));
        let safari_iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
        assert_eq!(summary(safari_iphone), (Some("Safari"), Some("iOS")));
        let headless = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36";
        assert_eq!(summary(headless), (Some("Chrome"), Some("Linux")));
    }

    #[test]
    fn anything_else_names_nothing_and_what_is_kept_is_bounded() {
        assert_eq!(summary(""), (None, None));
        assert_eq!(summary("curl/8.5.0"), (None, None));
        assert_eq!(kept(&"ä".repeat(400)).len(), MAX_KEPT_LENGTH);
        assert_eq!(kept("a\u{0}b\nc"), "abc");
    }
}
