//! The page, embedded in the binary (no download at run time): `assets/index.html`,
//! `app.js`, `app.css` and the icon, and the small page that explains a refusal.

const INDEX: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");
const ICON: &str = include_str!("../assets/icon.svg");

/// The page, with its CSRF token (which the script sends back with every change).
pub fn index(csrf: &str) -> String {
    INDEX.replace("{{CSRF}}", &escape(csrf))
}

/// An asset by name: its media type and contents.
pub fn asset(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "app.js" => Some(("text/javascript; charset=utf-8", APP_JS)),
        "app.css" => Some(("text/css; charset=utf-8", APP_CSS)),
        "icon.svg" => Some(("image/svg+xml", ICON)),
        _ => None,
    }
}

/// Text made safe inside HTML text and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page saying why the portal refused, and what to do.
pub fn refusal_page(title: &str, message: &str) -> String {
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width, initial-scale=1\">\
         <title>jit portal: {t}</title><link rel=stylesheet href=/assets/app.css>\
         <link rel=icon href=/assets/icon.svg></head>\
         <body class=refusal><main class=refusal-box><h1>{t}</h1><p>{m}</p></main></body></html>\n",
        t = escape(title),
        m = escape(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_token_is_in_the_page() {
        let page = index("abc123");
        assert!(page.contains("content=\"abc123\""), "{page}");
        assert!(!page.contains("{{CSRF}}"));
    }

    #[test]
    fn refusals_escape_their_text() {
        let page = refusal_page("<b>", "a \"quote\" & more");
        assert!(page.contains("&lt;b&gt;") && page.contains("&quot;quote&quot; &amp; more"));
    }

    #[test]
    fn assets_are_known_by_name_only() {
        assert!(asset("app.js").is_some());
        assert!(asset("../Cargo.toml").is_none());
    }
}
