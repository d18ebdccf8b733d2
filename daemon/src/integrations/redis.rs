//! The `redis` kind: one ACL user per session on a Redis server (7 or later), allowed the
//! request's key patterns with the commands of its permissions.
//!
//! Grant: one atomic `ACL SETUSER <name> reset on #<sha256 of the password> #<mark>
//! resetchannels ~<pattern>… -@all +@read …`. Patterns that were given different
//! permissions (a bundle with several entries) go in one selector each (`(~p -@all …)`),
//! so every pattern gets exactly its own commands.
//!
//! Revoke: `ACL DELUSER`, which de-authenticates and closes the user's connections at once
//! (`ACL SETUSER … off` would leave them working).
//!
//! Redis ACL users carry no comment, so jit marks the users it makes with a second password
//! hash, the *mark*: 32 bytes spelling `jitd:<instance id>` padded with zeros, written as
//! hex. It is no SHA-256 of any known password (finding one is a preimage attack on
//! SHA-256), so it lets nobody in; it is set in the same command that creates the user, so
//! a user never exists without it; it lives outside the keyspace, so eviction, `FLUSHALL`
//! or a granted user's `DEL` cannot lose it; and it names this store's instance, so two
//! daemons sharing a server never touch each other's users. Only users with the configured
//! prefix *and* this mark are ever changed or deleted.
//!
//! The server receives only SHA-256 hashes of passwords (`#…`), never the passwords. The
//! admin connection is a small RESP2 client over TCP (ACL administration needs a handful of
//! commands and plain replies), with a timeout on every step; Redis error replies are
//! passed on with every hash jit sent removed.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use jit_api::{ConnectKind, RequestId};
use jit_config::RedisSettings;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use super::{
    AccessDetails, ConnectTarget, GrantSpec, Integration, IntegrationError, Issued, RevokeSpec,
    SecretSource, SessionSecret, SessionView, fill_template,
};

/// How long connecting (TCP and `AUTH`) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one command may take, from sending it to its whole reply.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest key pattern accepted.
const MAX_PATTERN_BYTES: usize = 1024;
/// Keyless write commands that ignore key patterns and would erase or swap every key: the
/// `write` permission takes them away again (a command set may give them back).
const KEYLESS_WRITES: [&str; 3] = ["-flushall", "-flushdb", "-swapdb"];

/// A Redis server.
pub struct Redis {
    name: String,
    addr: Addr,
    user_prefix: String,
    /// The mark as a 64-digit hex password hash.
    mark: String,
    tag: String,
    client_host: String,
    client_port: u16,
    command_sets: Vec<(String, Vec<String>)>,
    conn: Mutex<Option<Conn>>,
}

/// Where and how the admin connects.
#[derive(Clone)]
struct Addr {
    host: String,
    port: u16,
    user: Option<String>,
    password: Option<String>,
    db: u32,
}

impl std::fmt::Debug for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Addr")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("db", &self.db)
            .finish()
    }
}

/// Parses `redis://[USER[:PASSWORD]@]HOST[:PORT][/DB]` (the config has checked its form).
/// Errors never repeat the URL, which may hold a password.
fn parse_url(url: &str) -> Result<Addr, &'static str> {
    let url = url.trim();
    let rest = match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("redis") => rest,
        _ => return Err("is not a redis:// URL"),
    };
    if rest.contains(['?', '#']) {
        return Err("has a query or fragment");
    }
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((info, hp)) => (Some(info), hp),
        None => (None, authority),
    };
    let (user, password) = match userinfo {
        Some(info) => match info.split_once(':') {
            Some((u, p)) => (Some(u), Some(p)),
            None => (Some(info), None),
        },
        None => (None, None),
    };
    let user = user
        .map(percent_decode)
        .transpose()?
        .filter(|u| !u.is_empty());
    let password = password.map(percent_decode).transpose()?;
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or("has an unclosed [")?;
        match after {
            "" => (host, None),
            p => (host, Some(p.strip_prefix(':').ok_or("has junk after ]")?)),
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err("names no host");
    }
    let port = match port {
        None => 6379,
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return Err("has a port that is not a number from 1 to 65535"),
        },
    };
    let db = if path.is_empty() {
        0
    } else {
        path.parse::<u32>()
            .map_err(|_| "has a DB that is not a number")?
    };
    Ok(Addr {
        host: host.to_owned(),
        port,
        user,
        password,
        db,
    })
}

fn percent_decode(s: &str) -> Result<String, &'static str> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("has a \"%\" that is not followed by two hex digits")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "has percent escapes that are not UTF-8")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of a password, as `ACL SETUSER` takes it after `#`.
fn password_hash(secret: &SessionSecret) -> String {
    hex(&Sha256::digest(secret.0.as_bytes()))
}

/// The mark of users made by the jitd with instance id `marker`: `jitd:<marker>` in 32
/// bytes (cut, or padded with zeros), as hex. Never the hash of anything: see the module doc.
fn mark_hash(marker: &str) -> String {
    let mut bytes = [0u8; 32];
    for (b, m) in bytes
        .iter_mut()
        .zip(b"jitd:".iter().chain(marker.as_bytes()))
    {
        *b = *m;
    }
    hex(&bytes)
}

/// Why a key pattern cannot be given to Redis, if it cannot. Rules are separated by spaces
/// in `ACL LIST` and the ACL file, and selectors are split like a command line (quotes
/// group words), so neither white space nor quotes may appear.
fn pattern_problem(p: &str) -> Option<&'static str> {
    if p.is_empty() {
        Some("is empty")
    } else if p.len() > MAX_PATTERN_BYTES {
        Some("is longer than 1024 bytes")
    } else if p.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("contains white space or control characters")
    } else if p.contains(['"', '\'']) {
        Some("contains a quote")
    } else {
        None
    }
}

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<Reply>),
}

impl Reply {
    fn text(&self) -> Option<String> {
        match self {
            Reply::Status(s) => Some(s.clone()),
            Reply::Bulk(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
}

/// The longest reply line (status, error, lengths) accepted.
const MAX_LINE: u64 = 64 * 1024;
/// The largest bulk string accepted.
const MAX_BULK: usize = 256 * 1024 * 1024;
/// The most elements of one array accepted.
const MAX_ARRAY: usize = 16 * 1024 * 1024;
/// The deepest nesting of arrays accepted (`ACL GETUSER` uses three levels).
const MAX_DEPTH: usize = 8;

fn proto(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// Reads one reply.
fn read_reply<'a, R: tokio::io::AsyncBufRead + Unpin + Send>(
    r: &'a mut R,
    depth: usize,
) -> std::pin::Pin<Box<dyn Future<Output = std::io::Result<Reply>> + Send + 'a>> {
    Box::pin(async move {
        let mut line = Vec::new();
        (&mut *r)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .await?;
        if line.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        let Some(body) = line.strip_suffix(b"\r\n") else {
            return Err(proto("a reply line is too long or not ended by CRLF"));
        };
        let (kind, rest) = body
            .split_first()
            .ok_or_else(|| proto("an empty reply line"))?;
        let rest = String::from_utf8_lossy(rest).into_owned();
        let number = || {
            rest.parse::<i64>()
                .map_err(|_| proto("a length or integer that is not a number"))
        };
        match kind {
            b'+' => Ok(Reply::Status(rest)),
            b'-' => Ok(Reply::Error(rest)),
            b':' => Ok(Reply::Int(number()?)),
            b'$' => {
                let n = number()?;
                if n < 0 {
                    return Ok(Reply::Nil);
                }
                let n = usize::try_from(n).map_err(|_| proto("a bulk length out of range"))?;
                if n > MAX_BULK {
                    return Err(proto("a bulk string larger than 256 MiB"));
                }
                let mut buf = vec![0u8; n + 2];
                r.read_exact(&mut buf).await?;
                if !buf.ends_with(b"\r\n") {
                    return Err(proto("a bulk string not ended by CRLF"));
                }
                buf.truncate(n);
                Ok(Reply::Bulk(buf))
            }
            b'*' => {
                let n = number()?;
                if n < 0 {
                    return Ok(Reply::Nil);
                }
                let n = usize::try_from(n).map_err(|_| proto("an array length out of range"))?;
                if n > MAX_ARRAY {
                    return Err(proto("an array too long"));
                }
                if depth >= MAX_DEPTH {
                    return Err(proto("arrays nested too deep"));
                }
                let mut items = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    items.push(read_reply(r, depth + 1).await?);
                }
                Ok(Reply::Array(items))
            }
            _ => Err(proto(
                "a reply of an unknown type (is this a Redis server?)",
            )),
        }
    })
}

fn encode(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// An admin connection.
struct Conn {
    stream: BufReader<TcpStream>,
}

impl Conn {
    async fn send(&mut self, args: &[&str]) -> std::io::Result<Reply> {
        let bytes = encode(args);
        self.stream.get_mut().write_all(&bytes).await?;
        self.stream.get_mut().flush().await?;
        read_reply(&mut self.stream, 0).await
    }
}

/// Why a command did not give a reply.
enum CallError {
    /// Redis answered with an error: the command changed nothing.
    Refused(String),
    /// No answer (cannot connect, connection lost, timeout): whether it ran is unknown.
    Unknown(String),
}

impl Redis {
    /// Prepares the integration; the connection is made when first needed.
    pub fn new(
        name: &str,
        settings: &RedisSettings,
        marker: &str,
    ) -> Result<Redis, IntegrationError> {
        let addr = parse_url(settings.url.expose()).map_err(|why| {
            IntegrationError::new(format!(
                "integration {name}: the admin url {why} (fix: redis://[USER[:PASSWORD]@]HOST[:PORT][/DB])"
            ))
        })?;
        let command_sets = settings
            .command_sets
            .iter()
            .map(|(n, rules)| {
                (
                    n.clone(),
                    rules.split_whitespace().map(str::to_owned).collect(),
                )
            })
            .collect();
        Ok(Redis {
            name: name.to_owned(),
            user_prefix: settings.user_prefix.clone(),
            mark: mark_hash(marker),
            tag: marker.chars().take(4).collect(),
            client_host: settings
                .client_host
                .clone()
                .unwrap_or_else(|| addr.host.clone()),
            client_port: settings.client_port.unwrap_or(addr.port),
            command_sets,
            addr,
            conn: Mutex::new(None),
        })
    }

    fn where_(&self) -> String {
        if self.addr.host.contains(':') {
            format!("{} ([{}]:{})", self.name, self.addr.host, self.addr.port)
        } else {
            format!("{} ({}:{})", self.name, self.addr.host, self.addr.port)
        }
    }

    /// `text` with every hash jit sends replaced, so a Redis error that quotes a rule never
    /// carries one.
    fn scrub(&self, text: &str, hashes: &[&str]) -> String {
        let mut t = text.to_owned();
        for h in hashes {
            t = t.replace(h, "<hash>");
        }
        t.replace(&self.mark, "<mark>")
    }

    async fn open(&self) -> Result<Conn, CallError> {
        let a = &self.addr;
        let connect = async {
            let tcp = TcpStream::connect((a.host.as_str(), a.port))
                .await
                .map_err(|e| {
                    CallError::Unknown(format!(
                        "cannot connect: {e} (is Redis running there, and is the admin url right?)"
                    ))
                })?;
            let _ = tcp.set_nodelay(true);
            let mut conn = Conn {
                stream: BufReader::new(tcp),
            };
            let auth = match (&a.user, &a.password) {
                (Some(u), Some(p)) => Some(vec!["AUTH", u.as_str(), p.as_str()]),
                // A user without a password: a `nopass` user takes any password.
                (Some(u), None) => Some(vec!["AUTH", u.as_str(), ""]),
                (None, Some(p)) => Some(vec!["AUTH", p.as_str()]),
                (None, None) => None,
            };
            if let Some(args) = auth {
                match conn.send(&args).await {
                    Ok(Reply::Error(e)) => {
                        return Err(CallError::Refused(format!(
                            "cannot log in with the admin url's user and password: {e}"
                        )));
                    }
                    Ok(_) => {}
                    Err(e) => return Err(CallError::Unknown(format!("cannot log in: {e}"))),
                }
            }
            Ok(conn)
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(r) => r,
            Err(_) => Err(CallError::Unknown(format!(
                "cannot connect: no answer within {CONNECT_TIMEOUT:?}"
            ))),
        }
    }

    /// Sends one command on the admin connection, connecting when needed; a cached
    /// connection that turns out dead is replaced once (every command jit sends may be
    /// repeated safely).
    async fn call(&self, args: &[&str]) -> Result<Reply, CallError> {
        let mut slot = self.conn.lock().await;
        let mut retried = false;
        loop {
            let fresh = slot.is_none();
            let mut conn = match slot.take() {
                Some(c) => c,
                None => self.open().await?,
            };
            match tokio::time::timeout(COMMAND_TIMEOUT, conn.send(args)).await {
                Ok(Ok(Reply::Error(e))) => {
                    *slot = Some(conn);
                    return Err(CallError::Refused(e));
                }
                Ok(Ok(reply)) => {
                    *slot = Some(conn);
                    return Ok(reply);
                }
                Ok(Err(e)) if !fresh && !retried => {
                    tracing::debug!(integration = %self.name, error = %e, "admin connection lost; reconnecting");
                    retried = true;
                }
                Ok(Err(e)) => return Err(CallError::Unknown(format!("connection failed: {e}"))),
                Err(_) => {
                    return Err(CallError::Unknown(format!(
                        "no answer within {COMMAND_TIMEOUT:?}"
                    )));
                }
            }
        }
    }

    /// Runs a command; `what` says what it was for.
    async fn run(&self, what: &str, args: &[&str]) -> Result<Reply, IntegrationError> {
        self.run_scrubbed(what, args, &[]).await
    }

    async fn run_scrubbed(
        &self,
        what: &str,
        args: &[&str],
        hashes: &[&str],
    ) -> Result<Reply, IntegrationError> {
        self.call(args)
            .await
            .map_err(|e| self.error(what, e, hashes))
    }

    fn error(&self, what: &str, e: CallError, hashes: &[&str]) -> IntegrationError {
        match e {
            CallError::Refused(m) => {
                let m = self.scrub(&m, hashes);
                let hint = if m.starts_with("NOPERM") {
                    " (the admin user needs the ACL and CLIENT commands: +acl +client|kill, or +@admin)"
                } else {
                    ""
                };
                IntegrationError::new(format!("{}: {what}: {m}{hint}", self.where_())).untouched()
            }
            CallError::Unknown(m) => {
                IntegrationError::new(format!("{}: {what}: {m}", self.where_()))
            }
        }
    }

    /// Whether `user` exists and, if so, whether it carries this jitd's mark.
    async fn lookup(&self, user: &str) -> Result<Option<bool>, IntegrationError> {
        let reply = self
            .run("look up ACL user", &["ACL", "GETUSER", user])
            .await?;
        let fields = match reply {
            Reply::Nil => return Ok(None),
            Reply::Array(fields) => fields,
            other => {
                return Err(IntegrationError::new(format!(
                    "{}: look up ACL user: unexpected reply {other:?}",
                    self.where_()
                )));
            }
        };
        let passwords = fields
            .chunks(2)
            .find(|kv| kv.first().and_then(Reply::text).as_deref() == Some("passwords"))
            .and_then(|kv| kv.get(1));
        let marked = match passwords {
            Some(Reply::Array(list)) => list
                .iter()
                .any(|p| p.text().as_deref() == Some(self.mark.as_str())),
            _ => false,
        };
        Ok(Some(marked))
    }

    /// Fails unless `user` exists and carries this jitd's mark.
    async fn ours(&self, user: &str) -> Result<(), IntegrationError> {
        match self.lookup(user).await? {
            Some(true) => Ok(()),
            Some(false) => Err(IntegrationError::new(format!(
                "{}: ACL user {user} was not made by this jitd (it lacks its mark)",
                self.where_()
            ))),
            None => Err(IntegrationError::new(format!(
                "{}: ACL user {user} does not exist",
                self.where_()
            ))),
        }
    }

    /// The command rules of one set of permissions (`-@all` first).
    fn command_rules(&self, perms: &[String]) -> Vec<String> {
        let mut rules = vec!["-@all".to_owned()];
        if perms.iter().any(|p| p == "read" || p == "write") {
            rules.push("+@read".to_owned());
        }
        if perms.iter().any(|p| p == "write") {
            rules.push("+@write".to_owned());
            rules.extend(KEYLESS_WRITES.iter().map(|r| (*r).to_owned()));
        }
        for (name, set) in &self.command_sets {
            if perms.contains(name) {
                rules.extend(set.iter().cloned());
            }
        }
        rules
    }

    /// The ACL rules for a grant's entries: key patterns and commands, with one selector per
    /// extra set of permissions. Errors say what is wrong with a pattern or permission.
    fn acl_rules(&self, spec: &GrantSpec) -> Result<Vec<String>, IntegrationError> {
        let order: Vec<&str> = ["read", "write"]
            .into_iter()
            .chain(self.command_sets.iter().map(|(n, _)| n.as_str()))
            .collect();
        // Each pattern gets every permission any entry asks for on it.
        let mut per_pattern: BTreeMap<&str, Vec<bool>> = BTreeMap::new();
        for e in &spec.entries {
            if e.resource_type != "keys" {
                return Err(IntegrationError::new(format!(
                    "{}: resource type \"{}\" does not exist here; it is \"keys\"",
                    self.name, e.resource_type
                )));
            }
            for p in &e.permissions {
                if !order.contains(&p.as_str()) {
                    return Err(IntegrationError::new(format!(
                        "{}: permission \"{p}\" does not exist; it is one of {}",
                        self.name,
                        order.join(", ")
                    )));
                }
            }
            for pattern in &e.resources {
                if let Some(why) = pattern_problem(pattern) {
                    return Err(IntegrationError::new(format!(
                        "{}: key pattern {pattern:?} {why}: write a Redis key pattern like \"orders:*\", without spaces or quotes",
                        self.name
                    )));
                }
                let have = per_pattern
                    .entry(pattern.as_str())
                    .or_insert_with(|| vec![false; order.len()]);
                for (i, name) in order.iter().enumerate() {
                    have[i] |= e.permissions.iter().any(|p| p == name);
                }
                // `write` includes `read`: the same rules whether or not read was asked too.
                if have[1] {
                    have[0] = false;
                }
            }
        }
        // Patterns with the same permissions share their rules.
        let mut groups: BTreeMap<Vec<bool>, Vec<&str>> = BTreeMap::new();
        for (pattern, have) in per_pattern {
            groups.entry(have).or_default().push(pattern);
        }
        let groups: Vec<(Vec<String>, Vec<String>)> = groups
            .into_iter()
            .map(|(have, patterns)| {
                let perms = order
                    .iter()
                    .zip(have)
                    .filter(|(_, h)| *h)
                    .map(|(n, _)| (*n).to_owned())
                    .collect();
                let keys = patterns.into_iter().map(|p| format!("~{p}")).collect();
                (perms, keys)
            })
            .collect();
        let mut rules = Vec::new();
        match groups.as_slice() {
            [] => {
                return Err(IntegrationError::new(format!(
                    "{}: the request names no key pattern",
                    self.name
                )));
            }
            [(perms, keys)] => {
                rules.extend(keys.iter().cloned());
                rules.extend(self.command_rules(perms));
            }
            several => {
                // The root allows nothing; each selector its patterns with their commands.
                for (perms, keys) in several {
                    let mut sel = keys.clone();
                    sel.extend(self.command_rules(perms));
                    rules.push(format!("({})", sel.join(" ")));
                }
            }
        }
        Ok(rules)
    }

    fn url_host(&self) -> String {
        if self.client_host.contains(':') && !self.client_host.starts_with('[') {
            format!("[{}]", self.client_host)
        } else {
            self.client_host.clone()
        }
    }
}

#[async_trait]
impl Integration for Redis {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn principal_for(&self, requester: &str, request: RequestId) -> Option<String> {
        // As for postgres: <prefix><user>_<request>_<instance tag>.
        Some(format!(
            "{}{}_{}_{}",
            self.user_prefix,
            super::name_part(requester),
            request,
            self.tag
        ))
    }

    fn secret_source(&self) -> SecretSource {
        SecretSource::Generated
    }

    async fn grant(&self, spec: &GrantSpec) -> Result<Issued, IntegrationError> {
        let user = spec
            .principal
            .as_deref()
            .ok_or_else(|| IntegrationError::new("no ACL user name").untouched())?;
        let secret = spec
            .secret
            .as_ref()
            .ok_or_else(|| IntegrationError::new("no password").untouched())?;
        let rules = self.acl_rules(spec).map_err(IntegrationError::untouched)?;
        // A user made by this jitd (a grant redone after a crash) is rewritten whole by
        // `reset`; one it did not make is never taken over.
        if self
            .lookup(user)
            .await
            .map_err(IntegrationError::untouched)?
            == Some(false)
        {
            return Err(IntegrationError::new(format!(
                "{}: ACL user {user} already exists and was not made by this jitd; refusing to take it over",
                self.where_()
            ))
            .untouched());
        }
        let pw = password_hash(secret);
        let pw_rule = format!("#{pw}");
        let mark_rule = format!("#{}", self.mark);
        let mut args: Vec<&str> = vec![
            "ACL",
            "SETUSER",
            user,
            "reset",
            "on",
            &pw_rule,
            &mark_rule,
            "resetchannels",
        ];
        args.extend(rules.iter().map(String::as_str));
        // ACL SETUSER is atomic (Redis 7): when Redis refuses it, nothing was made.
        self.run_scrubbed("create ACL user", &args, &[&pw])
            .await
            .map(|_| Issued::default())
    }

    async fn revoke(&self, spec: &RevokeSpec) -> Result<(), IntegrationError> {
        let Some(user) = spec.principal.as_deref() else {
            return Ok(());
        };
        match self.lookup(user).await? {
            None => return Ok(()),
            Some(false) => {
                // Someone changed the user's passwords since jit made it: jit cannot prove it
                // is its own, so it neither deletes it nor says the access is gone.
                return Err(IntegrationError::new(format!(
                    "{}: ACL user {user} no longer carries this jitd's mark (its passwords were changed); \
                     not deleting it: check it by hand and ACL DELUSER it",
                    self.where_()
                )));
            }
            Some(true) => {}
        }
        // DELUSER de-authenticates and closes every connection of the user.
        self.run("delete ACL user", &["ACL", "DELUSER", user])
            .await?;
        match self.lookup(user).await? {
            None => Ok(()),
            Some(_) => Err(IntegrationError::new(format!(
                "{}: ACL user {user} still exists after ACL DELUSER",
                self.where_()
            ))),
        }
    }

    async fn reset(
        &self,
        principal: &str,
        secret: Option<&SessionSecret>,
        end_sessions: bool,
    ) -> Result<Issued, IntegrationError> {
        let secret = secret.ok_or_else(|| IntegrationError::new("no new password"))?;
        self.ours(principal).await?;
        let pw = password_hash(secret);
        let pw_rule = format!("#{pw}");
        let mark_rule = format!("#{}", self.mark);
        self.run_scrubbed(
            "set new password",
            &[
                "ACL",
                "SETUSER",
                principal,
                "resetpass",
                &pw_rule,
                &mark_rule,
            ],
            &[&pw],
        )
        .await?;
        if end_sessions {
            self.run(
                "end sessions",
                &["CLIENT", "KILL", "USER", principal, "SKIPME", "yes"],
            )
            .await?;
        }
        Ok(Issued::default())
    }

    fn connect_kinds(&self, session: &SessionView<'_>) -> Vec<ConnectKind> {
        let browser_url = session.browser_url.is_some();
        let mut k = vec![ConnectKind::Terminal, ConnectKind::App];
        if browser_url {
            k.push(ConnectKind::Browser);
        }
        k
    }

    fn connect(&self, kind: ConnectKind, session: &SessionView<'_>) -> Option<ConnectTarget> {
        let principal = session.principal;
        let secret = session.secret;
        let browser_url = session.browser_url;
        match kind {
            // The password goes in REDISCLI_AUTH: `-a` would put it on the command line.
            ConnectKind::Terminal => Some(ConnectTarget {
                argv: vec![
                    "redis-cli".into(),
                    "-h".into(),
                    self.client_host.clone(),
                    "-p".into(),
                    self.client_port.to_string(),
                    "--user".into(),
                    principal.to_owned(),
                ],
                env: secret
                    .map(|s| vec![("REDISCLI_AUTH".to_owned(), s.0.clone())])
                    .unwrap_or_default(),
                url: None,
                files: Vec::new(),
            }),
            // User names are [a-z0-9_]: nothing to encode.
            ConnectKind::App => Some(ConnectTarget {
                url: Some(format!(
                    "redis://{principal}@{}:{}",
                    self.url_host(),
                    self.client_port
                )),
                ..ConnectTarget::default()
            }),
            ConnectKind::Browser => browser_url.map(|t| ConnectTarget {
                url: Some(fill_template(
                    t,
                    &self.client_host,
                    self.client_port,
                    principal,
                    &self.addr.db.to_string(),
                )),
                ..ConnectTarget::default()
            }),
        }
    }

    async fn probe(&self) -> Option<Result<(), IntegrationError>> {
        Some(
            self.call(&["PING"])
                .await
                .map(drop)
                .map_err(|e| self.error("PING", e, &[])),
        )
    }

    async fn preflight(&self) -> Vec<String> {
        let cannot = |what: &str, e: CallError| {
            vec![format!(
                "cannot check the admin user's permissions: {}",
                self.error(what, e, &[]).message
            )]
        };
        let me = match self.call(&["ACL", "WHOAMI"]).await {
            Ok(r) => r.text().unwrap_or_default(),
            Err(e) => return cannot("ACL WHOAMI", e),
        };
        let checks: [&[&str]; 5] = [
            &["ACL", "SETUSER", "jit_preflight"],
            &["ACL", "DELUSER", "jit_preflight"],
            &["ACL", "GETUSER", "jit_preflight"],
            &["ACL", "LIST"],
            &["CLIENT", "KILL", "USER", "jit_preflight"],
        ];
        let mut denied = Vec::new();
        for cmd in checks {
            let mut args = vec!["ACL", "DRYRUN", me.as_str()];
            args.extend_from_slice(cmd);
            match self.call(&args).await {
                Ok(Reply::Status(s)) if s == "OK" => {}
                // A bulk string saying why the command would be refused.
                Ok(_) => denied.push(cmd[..2].join(" ")),
                Err(CallError::Refused(e))
                    if e.to_ascii_lowercase().contains("unknown subcommand") =>
                {
                    return vec![format!(
                        "{}: the server has no ACL DRYRUN: Redis 7 or later is needed (selectors, atomic ACL SETUSER)",
                        self.where_()
                    )];
                }
                Err(e) => return cannot("ACL DRYRUN", e),
            }
        }
        if denied.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "{}: the admin user {me} may not run {}: grants, revokes and resets will fail until it may \
                 (give it +acl +client|kill, or +@admin)",
                self.where_(),
                denied.join(", ")
            )]
        }
    }

    async fn list_principals(&self) -> Result<Vec<String>, IntegrationError> {
        let reply = self.run("list ACL users", &["ACL", "LIST"]).await?;
        let Reply::Array(lines) = reply else {
            return Err(IntegrationError::new(format!(
                "{}: list ACL users: unexpected reply",
                self.where_()
            )));
        };
        let mark_rule = format!("#{}", self.mark);
        // Each line is `user <name> <rule> <rule> …`; user names hold no spaces.
        Ok(lines
            .iter()
            .filter_map(Reply::text)
            .filter_map(|line| {
                let mut words = line.split(' ');
                let name = match (words.next(), words.next()) {
                    (Some("user"), Some(name)) => name.to_owned(),
                    _ => return None,
                };
                (name.starts_with(&self.user_prefix) && words.any(|w| w == mark_rule))
                    .then_some(name)
            })
            .collect())
    }

    fn access_details(&self, session: &SessionView<'_>) -> AccessDetails {
        let principal = session.principal;
        let resources = session.resources;
        AccessDetails {
            host: Some(self.client_host.clone()),
            port: Some(self.client_port),
            instructions: format!(
                "log in to Redis at {}:{} as ACL user {principal} with the password above (AUTH {principal} <password>); keys: {}",
                self.url_host(),
                self.client_port,
                resources.join(" ")
            ),
            example: Some(format!(
                "redis-cli -h {} -p {} --user {principal} --askpass",
                self.client_host, self.client_port
            )),
            ..AccessDetails::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrations::GrantEntry;

    fn redis(sets: &[(&str, &str)]) -> Redis {
        let settings = RedisSettings {
            url: jit_config::Secret::new("redis://127.0.0.1:6379".to_owned()),
            user_prefix: "jit_".into(),
            client_host: None,
            client_port: None,
            command_sets: sets
                .iter()
                .map(|(n, r)| ((*n).to_owned(), (*r).to_owned()))
                .collect(),
        };
        Redis::new("cache", &settings, "0123456789abcdef").expect("builds")
    }

    fn spec(entries: &[(&[&str], &[&str])]) -> GrantSpec {
        GrantSpec {
            request: 7,
            requester: "alice".into(),
            principal: Some("jit_alice_7_0123".into()),
            entries: entries
                .iter()
                .map(|(res, perms)| GrantEntry {
                    resource_type: "keys".into(),
                    resources: res.iter().map(|s| (*s).to_owned()).collect(),
                    permissions: perms.iter().map(|s| (*s).to_owned()).collect(),
                })
                .collect(),
            secret: Some(SessionSecret("pw".into())),
            valid_until: std::time::SystemTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn urls() {
        let a = parse_url("redis://admin:s%40cret@10.0.0.1:6380/2").expect("parses");
        assert_eq!(
            (
                a.host.as_str(),
                a.port,
                a.user.as_deref(),
                a.password.as_deref(),
                a.db
            ),
            ("10.0.0.1", 6380, Some("admin"), Some("s@cret"), 2)
        );
        let a = parse_url("redis://:pw@[::1]").expect("parses");
        assert_eq!(
            (a.host.as_str(), a.port, a.user, a.password.as_deref()),
            ("::1", 6379, None, Some("pw"))
        );
        let a = parse_url("REDIS://localhost/").expect("parses");
        assert_eq!((a.host.as_str(), a.port, a.db), ("localhost", 6379, 0));
        for bad in [
            "http://h",
            "redis://",
            "redis://h:0",
            "redis://h/x",
            "redis://:%zz@h",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
        let e = parse_url("redis://:hunter2@h:99999").expect_err("bad port");
        assert!(!e.contains("hunter2"));
        assert!(!format!("{:?}", parse_url("redis://:hunter2@h").expect("ok")).contains("hunter2"));
    }

    #[test]
    fn the_mark_spells_the_instance_and_is_a_valid_hash() {
        let m = mark_hash("0123456789abcdef");
        assert_eq!(m.len(), 64);
        assert!(m.starts_with("6a6974643a30313233"), "{m}");
        assert!(m.ends_with("000000"), "{m}");
        assert_eq!(mark_hash("x".repeat(100).as_str()).len(), 64);
        assert_ne!(
            m,
            password_hash(&SessionSecret("jitd:0123456789abcdef".into()))
        );
        assert_eq!(
            password_hash(&SessionSecret("pw".into())),
            "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"
        );
    }

    #[test]
    fn one_set_of_permissions_goes_in_the_root() {
        let r = redis(&[("ops", "+ping +info")]);
        assert_eq!(
            r.acl_rules(&spec(&[(&["orders:*", "carts:*"], &["read"])]))
                .expect("ok"),
            ["~carts:*", "~orders:*", "-@all", "+@read"]
        );
        assert_eq!(
            r.acl_rules(&spec(&[(&["orders:*"], &["write", "ops"])]))
                .expect("ok"),
            [
                "~orders:*",
                "-@all",
                "+@read",
                "+@write",
                "-flushall",
                "-flushdb",
                "-swapdb",
                "+ping",
                "+info"
            ]
        );
    }

    #[test]
    fn different_permissions_get_one_selector_each() {
        let r = redis(&[("ops", "+ping")]);
        let rules = r
            .acl_rules(&spec(&[
                (&["orders:*", "carts:*"], &["read"]),
                (&["carts:*", "cache:*"], &["write"]),
                (&["stats:*"], &["ops"]),
            ]))
            .expect("ok");
        assert_eq!(
            rules,
            [
                "(~stats:* -@all +ping)",
                "(~cache:* ~carts:* -@all +@read +@write -flushall -flushdb -swapdb)",
                "(~orders:* -@all +@read)",
            ]
        );
    }

    #[test]
    fn bad_patterns_and_permissions_are_refused() {
        let r = redis(&[]);
        for bad in ["", "a b", "a\tb", "x\"y", "it's", "a\u{7}"] {
            let e = r.acl_rules(&spec(&[(&[bad], &["read"])])).expect_err(bad);
            assert!(e.message.contains("key pattern"), "{}", e.message);
        }
        let e = r
            .acl_rules(&spec(&[(&["a:*"], &["admin"])]))
            .expect_err("perm");
        assert!(e.message.contains("read, write"), "{}", e.message);
    }

    #[test]
    fn names_and_connect() {
        let r = redis(&[]);
        assert_eq!(
            r.principal_for("Bob.Smith", 42).as_deref(),
            Some("jit_bob_smith_42_0123")
        );
        let secret = SessionSecret("s3cret".into());
        let t = r
            .connect(
                ConnectKind::Terminal,
                &SessionView {
                    principal: "jit_a_1_0123",
                    secret: Some(&secret),
                    ..SessionView::default()
                },
            )
            .expect("terminal");
        assert!(!t.argv.iter().any(|a| a.contains("s3cret")));
        assert_eq!(t.env, [("REDISCLI_AUTH".to_owned(), "s3cret".to_owned())]);
        let app = r
            .connect(
                ConnectKind::App,
                &SessionView {
                    principal: "jit_a_1_0123",
                    secret: Some(&secret),
                    ..SessionView::default()
                },
            )
            .expect("app");
        assert_eq!(
            app.url.as_deref(),
            Some("redis://jit_a_1_0123@127.0.0.1:6379")
        );
    }

    #[tokio::test]
    async fn replies_parse() {
        let wire: &[u8] = b"*3\r\n+OK\r\n:-4\r\n*2\r\n$3\r\nab\n\r\n$-1\r\n-ERR no\r\n";
        let mut r = BufReader::new(wire);
        assert_eq!(
            read_reply(&mut r, 0).await.expect("array"),
            Reply::Array(vec![
                Reply::Status("OK".into()),
                Reply::Int(-4),
                Reply::Array(vec![Reply::Bulk(b"ab\n".to_vec()), Reply::Nil]),
            ])
        );
        assert_eq!(
            read_reply(&mut r, 0).await.expect("err"),
            Reply::Error("ERR no".into())
        );
        assert!(read_reply(&mut r, 0).await.is_err(), "end of stream");
        for bad in [
            &b"$5\r\nab\r\n"[..],
            b"*1\r\n",
            b"?x\r\n",
            b"+OK\n",
            b"$99999999999\r\n",
        ] {
            assert!(
                read_reply(&mut BufReader::new(bad), 0).await.is_err(),
                "{bad:?}"
            );
        }
        let deep = b"*1\r\n".repeat(20);
        assert!(read_reply(&mut BufReader::new(&deep[..]), 0).await.is_err());
    }

    #[test]
    fn commands_encode() {
        assert_eq!(
            encode(&["ACL", "GETUSER", "a b"]),
            b"*3\r\n$3\r\nACL\r\n$7\r\nGETUSER\r\n$3\r\na b\r\n"
        );
    }
}
