//! The admin connection URLs of the server kinds, checked without ever being put in a message:
//! every problem is a fixed phrase.

/// How one kind's admin URL is written, and how to check it.
pub(super) struct UrlForm {
    /// What is wrong with a URL, if anything, in words that do not repeat it.
    pub problem: fn(&str) -> Option<&'static str>,
    /// The fix: how to write it.
    pub fix: &'static str,
}

/// `postgres://…` or libpq `key=value` pairs.
pub(super) const POSTGRES: UrlForm = UrlForm {
    problem: postgres,
    fix: "write it as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (or key=value pairs)",
};

/// `mysql://USER[:PASSWORD]@HOST[:PORT][/DATABASE]`.
pub(super) const MARIADB: UrlForm = UrlForm {
    problem: mariadb,
    fix: "write it as mysql://USER[:PASSWORD]@HOST[:PORT][/DATABASE], with special characters in the password percent-encoded (@ as %40, / as %2F)",
};

/// `redis://[USER[:PASSWORD]@]HOST[:PORT][/DB]`.
pub(super) const REDIS: UrlForm = UrlForm {
    problem: redis,
    fix: "write it as redis://[USER[:PASSWORD]@]HOST[:PORT][/DB], with special characters in the password percent-encoded (@ as %40, / as %2F)",
};

/// What is wrong with a PostgreSQL connection string, if anything.
fn postgres(url: &str) -> Option<&'static str> {
    let url = url.trim();
    if url.is_empty() {
        return Some("is empty");
    }
    if url.contains('\n') {
        return Some("holds more than one line");
    }
    match url.split_once("://") {
        Some(("postgres" | "postgresql", rest)) if !rest.is_empty() => None,
        Some(_) => Some("is not a postgres:// URL"),
        // tokio-postgres also takes `host=… user=…` pairs.
        None if url.contains('=') => None,
        None => Some("is neither a postgres:// URL nor key=value pairs"),
    }
}

/// What is wrong with a MariaDB admin URL, if anything: the user is required, the database
/// optional.
fn mariadb(url: &str) -> Option<&'static str> {
    let parts = match split(url, "mysql") {
        Ok(parts) => parts,
        Err(why) => return Some(why),
    };
    if parts.user.is_none_or(str::is_empty) {
        return Some("names no user (mysql://USER@HOST)");
    }
    if parts.path.contains('/') {
        return Some("has a \"/\" in its database name");
    }
    None
}

/// What is wrong with a Redis admin URL, if anything: the user and password are optional (a
/// password alone, `redis://:PASSWORD@HOST`, logs in as the default user), the DB is a number.
fn redis(url: &str) -> Option<&'static str> {
    let parts = match split(url, "redis") {
        Ok(parts) => parts,
        Err(why) => return Some(why),
    };
    if parts.user == Some("") && parts.password.is_none() {
        return Some("has an empty user before \"@\"");
    }
    if !parts.path.is_empty() && parts.path.parse::<u32>().is_err() {
        return Some("has a DB that is not a number (redis://HOST:6379/0)");
    }
    None
}

/// The parts of `scheme://[USER[:PASSWORD]@]HOST[:PORT][/PATH]` that the forms check further.
struct Parts<'a> {
    user: Option<&'a str>,
    password: Option<&'a str>,
    /// After the first `/` of the rest, or empty.
    path: &'a str,
}

/// Splits `url` (trimmed) into its parts, checking the scheme, the host and the port.
fn split<'a>(url: &'a str, scheme: &str) -> Result<Parts<'a>, &'static str> {
    let url = url.trim();
    if url.is_empty() {
        return Err("is empty");
    }
    if url.contains('\n') {
        return Err("holds more than one line");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains white space or control characters");
    }
    let rest = match url.split_once("://") {
        Some((s, rest)) if s.eq_ignore_ascii_case(scheme) => rest,
        _ if scheme == "mysql" => return Err("is not a mysql:// URL"),
        _ => return Err("is not a redis:// URL"),
    };
    if rest.contains(['?', '#']) {
        return Err(
            "has a \"?\" or \"#\" (a query or fragment, which jit does not take; in a password, write them as %3F and %23)",
        );
    }
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => (Some(userinfo), host_port),
        None => (None, authority),
    };
    let (user, password) = match userinfo {
        Some(info) => match info.split_once(':') {
            Some((user, password)) => (Some(user), Some(password)),
            None => (Some(info), None),
        },
        None => (None, None),
    };
    if [user, password, Some(path)]
        .into_iter()
        .flatten()
        .any(|part| !percent_escapes_ok(part))
    {
        return Err("has a \"%\" that is not followed by two hex digits");
    }
    let (host, port) = host_and_port(host_port)?;
    if host.is_empty() {
        return Err("names no host");
    }
    if let Some(port) = port {
        match port.parse::<u16>() {
            Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => {}
            _ => return Err("has a port that is not a number from 1 to 65535"),
        }
    }
    Ok(Parts {
        user,
        password,
        path,
    })
}

/// `HOST[:PORT]` or `[IPV6][:PORT]`.
fn host_and_port(text: &str) -> Result<(&str, Option<&str>), &'static str> {
    if let Some(inner) = text.strip_prefix('[') {
        let Some((address, after)) = inner.split_once(']') else {
            return Err("has a \"[\" that opens an IPv6 address but no \"]\" that closes it");
        };
        if address.is_empty()
            || !address
                .chars()
                .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '.' | '%'))
        {
            return Err("has an IPv6 address that is not one");
        }
        return match after {
            "" => Ok((address, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((address, Some(port))),
                None => Err("has something other than \":PORT\" after its IPv6 address"),
            },
        };
    }
    let (host, port) = match text.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (text, None),
    };
    if port.is_some_and(|p| p.contains(':')) {
        return Err("has an IPv6 address without brackets (write [::1]:PORT)");
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err("has a host name with characters not allowed in one");
    }
    Ok((host, port))
}

/// Whether every `%` in `text` starts a `%XX` escape.
fn percent_escapes_ok(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let escape = bytes.get(i + 1..i + 3);
            if !escape.is_some_and(|e| e.iter().all(u8::is_ascii_hexdigit)) {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls() {
        assert_eq!(postgres("postgres://u:p@h:5432/db"), None);
        assert_eq!(postgres(" postgresql://h/db\n"), None);
        assert_eq!(postgres("host=/run/postgresql user=postgres"), None);
        assert!(postgres("").is_some());
        assert!(postgres("mysql://u:p@h/db").is_some());
        assert!(postgres("postgres://").is_some());
        assert!(postgres("localhost").is_some());
        assert!(postgres("postgres://a\npostgres://b").is_some());
    }

    #[test]
    fn mariadb_urls() {
        for good in [
            "mysql://root@127.0.0.1",
            "mysql://root:s3cret@127.0.0.1:3306",
            "mysql://root:s3cret@127.0.0.1:3306/",
            "mysql://jit_admin:p%40ss%2Fword@db.internal:3306/mysql",
            "MYSQL://root@localhost/app",
            "mysql://root@[::1]:3306/app",
            "mysql://root@[::1]",
            " mysql://root@db-1.example.com\n",
            "mysql://root:pa:ss@db",
        ] {
            assert_eq!(mariadb(good), None, "{good:?}");
        }
        let cases = [
            ("", "is empty"),
            ("postgres://root@h/db", "is not a mysql:// URL"),
            ("mariadb://root@h", "is not a mysql:// URL"),
            ("root@localhost:3306", "is not a mysql:// URL"),
            ("mysql://localhost:3306", "names no user"),
            ("mysql://:pw@localhost", "names no user"),
            ("mysql://root@", "names no host"),
            ("mysql://root@:3306", "names no host"),
            ("mysql://root@h:0", "port"),
            ("mysql://root@h:65536", "port"),
            ("mysql://root@h:33o6", "port"),
            ("mysql://root@h:", "port"),
            ("mysql://root@h:+33", "port"),
            ("mysql://root@::1:3306", "without brackets"),
            ("mysql://root@[::1", "IPv6"),
            ("mysql://root@[zz]:1", "IPv6"),
            ("mysql://root@[::1]x", "after its IPv6"),
            ("mysql://root@h/a/b", "database name"),
            ("mysql://root@h/db?ssl=true", "query"),
            ("mysql://root:pa#ss@h", "query"),
            ("mysql://root:p%zz@h", "hex digits"),
            ("mysql://root:p%2@h", "hex digits"),
            ("mysql://root@h,h2", "host name"),
            ("mysql://root:pa ss@h", "white space"),
            ("mysql://root@a\nmysql://root@b", "more than one line"),
        ];
        for (bad, why) in cases {
            let found = mariadb(bad);
            assert!(found.is_some_and(|f| f.contains(why)), "{bad:?}: {found:?}");
        }
    }

    #[test]
    fn redis_urls() {
        for good in [
            "redis://127.0.0.1",
            "redis://127.0.0.1:6379",
            "redis://127.0.0.1:6379/0",
            "redis://127.0.0.1:6379/",
            "redis://admin:s3cret@127.0.0.1:6379/2",
            "redis://:s3cret@127.0.0.1",
            "redis://admin@localhost",
            "redis://[::1]:6379",
        ] {
            assert_eq!(redis(good), None, "{good:?}");
        }
        let cases = [
            ("", "is empty"),
            ("rediss://h", "is not a redis:// URL"),
            ("mysql://root@h", "is not a redis:// URL"),
            ("127.0.0.1:6379", "is not a redis:// URL"),
            ("redis://", "names no host"),
            ("redis://@h", "empty user"),
            ("redis://h:99999", "port"),
            ("redis://h/zero", "not a number"),
            ("redis://h/-1", "not a number"),
            ("redis://h/0?protocol=resp3", "query"),
        ];
        for (bad, why) in cases {
            let found = redis(bad);
            assert!(found.is_some_and(|f| f.contains(why)), "{bad:?}: {found:?}");
        }
    }

    #[test]
    fn problems_never_repeat_the_url() {
        let secret = "hunter2";
        for url in [
            format!("mysql://root:{secret}@h:0"),
            format!("mysql://{secret}"),
            format!("redis://:{secret}@h/{secret}"),
            format!("redis://:{secret}@"),
        ] {
            let why = mariadb(&url).or(redis(&url)).expect("a problem");
            assert!(!why.contains(secret), "{why}");
        }
    }
}
