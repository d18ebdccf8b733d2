//! The `mariadb` kind: one user account per session on a MariaDB server (10.4 or later),
//! with a generated password, privileges on the requested databases, and a mark naming this
//! daemon's instance so that orphan removal only ever touches accounts this store made.
//!
//! Grant: `CREATE USER 'u'@'h' IDENTIFIED BY PASSWORD '<hash>' ACCOUNT LOCK`, then the mark,
//! then per database `GRANT <privileges> ON db.* TO 'u'@'h'` (`read` = `SELECT`, `write` =
//! `SELECT, INSERT, UPDATE, DELETE`, plus the admin's `privileges`), then `ACCOUNT UNLOCK`.
//! The account exists locked until it is marked and granted, so a crash part-way leaves
//! nothing anyone can log in with.
//!
//! The mark: MariaDB 10.11 has no account comments (`CREATE USER … COMMENT` and `ATTRIBUTE`
//! are MySQL 8 syntax and fail here). The account's row in `mysql.global_priv` holds its
//! settings as a JSON object, and the server keeps keys it does not know across `ALTER USER`,
//! `GRANT` and `FLUSH PRIVILEGES`; jitd adds `"jitd": "<instance id>"` with
//! `JSON_SET` right after `CREATE USER`. The server's in-memory privileges do not read the key,
//! so no `FLUSH PRIVILEGES` is needed.
//!
//! Revoke: `ACCOUNT LOCK` (no new connections), `KILL CONNECTION USER` and a check of the
//! process list until none of the user's connections is left (`DROP USER` alone leaves open
//! sessions working), then `DROP USER IF EXISTS` (it also removes the user's privileges).
//!
//! MariaDB has no `VALID UNTIL`: if jitd is down at the grant's end, access lasts until
//! jitd starts again and revokes it (the overdue revoke runs first at start).
//!
//! The password reaches the server only as its `mysql_native_password` hash
//! (`IDENTIFIED BY PASSWORD '*…'`), so the server's logs never see it. Identifiers are quoted
//! with backticks and literals escaped (DDL takes no bind parameters); the admin connection
//! pins `sql_mode` so the escaping means what it says.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use jit_api::{ConnectKind, RequestId};
use jit_config::MariadbSettings;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder};
use sha1::{Digest, Sha1};
use tokio::sync::Mutex;

use super::{
    AccessDetails, ConnectTarget, GrantSpec, Integration, IntegrationError, Issued, RevokeSpec,
    SecretSource, SessionSecret, SessionView, fill_template,
};

/// How long one step of statements may take before it is abandoned.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting (and checking the server's version) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a killed connection may take to leave the process list.
const KILL_TIMEOUT: Duration = Duration::from_secs(5);
/// The session settings of the admin connection: no `NO_BACKSLASH_ESCAPES` or `ANSI_QUOTES`
/// (literal escaping relies on both being off), and `NO_AUTO_CREATE_USER` so a `GRANT` to an
/// account that vanished fails instead of creating one without a password.
const SQL_MODE: &str =
    "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION'";
/// Databases jit never grants on: the server's own (password hashes, settings).
const SYSTEM_DATABASES: [&str; 4] = ["mysql", "information_schema", "performance_schema", "sys"];
/// How long the admin connection may sit idle before it is pinged before use.
const IDLE_CHECK: Duration = Duration::from_millis(100);
/// How long a ping may take before the connection is replaced.
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// MariaDB's error for `KILL` of a connection that has already gone.
const ER_NO_SUCH_THREAD: u16 = 1094;

/// One account row: its host part, this daemon's mark (if any), whether it is locked, and its
/// global privilege bits.
#[derive(Debug)]
struct Account {
    host: String,
    mark: Option<String>,
    locked: bool,
    global_access: u64,
}

/// A `mysql.global_priv` row as read: host, mark, `account_locked`, `access`.
type AccountRow = (String, Option<String>, Option<String>, Option<String>);

/// A MariaDB server.
pub struct Mariadb {
    name: String,
    admin: Opts,
    user_prefix: String,
    user_host: String,
    marker: String,
    tag: String,
    client_host: String,
    client_port: u16,
    privileges: Vec<(String, String)>,
    /// The admin connection and when it was last used.
    conn: Mutex<Option<(Conn, Instant)>>,
}

impl Mariadb {
    /// Prepares the integration; the connection is made when first needed.
    pub fn new(
        name: &str,
        settings: &MariadbSettings,
        marker: &str,
    ) -> Result<Mariadb, IntegrationError> {
        let opts = Opts::from_url(settings.url.expose()).map_err(|_| {
            // The parse error may quote the URL, which may hold a password: say only where.
            IntegrationError::new(format!(
                "integration {name}: the admin url is not a valid MariaDB connection URL (fix: mysql://USER[:PASSWORD]@HOST[:PORT][/DATABASE], percent-encoding @ / : ? # % in the password)"
            ))
        })?;
        let host = opts
            .ip_or_hostname()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = opts.tcp_port();
        // Connect where the URL says, over TCP: the driver would otherwise switch a loopback
        // connection to the server's Unix socket, where the admin is a different account.
        let admin: Opts = OptsBuilder::from_opts(opts)
            .prefer_socket(false)
            .init(vec![SQL_MODE])
            .stmt_cache_size(0)
            .into();
        Ok(Mariadb {
            name: name.to_owned(),
            admin,
            user_prefix: settings.user_prefix.clone(),
            user_host: settings.user_host.clone(),
            marker: marker.to_owned(),
            tag: marker.chars().take(4).collect(),
            client_host: settings.client_host.clone().unwrap_or(host),
            client_port: settings.client_port.unwrap_or(port),
            privileges: settings.privileges.clone(),
            conn: Mutex::new(None),
        })
    }

    fn where_(&self) -> String {
        format!("{} ({}:{})", self.name, self.client_host, self.client_port)
    }

    /// An error for `what`, from the driver's error. `secret_hash` is removed from server
    /// messages (a parse error quotes the statement near the fault).
    fn err(
        &self,
        what: &str,
        e: &mysql_async::Error,
        secret_hash: Option<&str>,
    ) -> IntegrationError {
        IntegrationError::new(match e {
            mysql_async::Error::Server(s) => {
                let mut msg = s.message.clone();
                if let Some(h) = secret_hash {
                    if let Some(at) = msg.find(" near '") {
                        msg.truncate(at);
                    }
                    msg = msg.replace(h, "<redacted>");
                }
                format!(
                    "{}: {what}: {msg} [error {}, SQLSTATE {}]",
                    self.where_(),
                    s.code,
                    s.state
                )
            }
            other => format!("{}: {what}: {other}", self.where_()),
        })
    }

    /// Runs `f` on the admin connection, connecting (again) when there is none.
    async fn with_conn<T>(
        &self,
        what: &str,
        secret_hash: Option<&str>,
        f: impl AsyncFnOnce(&mut Conn) -> Result<T, mysql_async::Error>,
    ) -> Result<T, IntegrationError> {
        let mut guard = self.conn.lock().await;
        // The server closes idle connections (`wait_timeout`) and a dead one is only seen when
        // used: after a pause, ping first, so a statement is never sent into a dead socket.
        if let Some((conn, used)) = guard.as_mut()
            && used.elapsed() > IDLE_CHECK
            && !matches!(
                tokio::time::timeout(PING_TIMEOUT, conn.ping()).await,
                Ok(Ok(()))
            )
        {
            *guard = None;
        }
        if guard.is_none() {
            let conn = match tokio::time::timeout(CONNECT_TIMEOUT, self.open()).await {
                Ok(r) => r?,
                Err(_) => {
                    return Err(IntegrationError::new(format!(
                        "{}: cannot connect: timed out after {CONNECT_TIMEOUT:?} (is the server up, and the url's host and port right?)",
                        self.where_()
                    )));
                }
            };
            *guard = Some((conn, Instant::now()));
        }
        let Some((conn, used)) = guard.as_mut() else {
            return Err(IntegrationError::new("no connection"));
        };
        *used = Instant::now();
        match tokio::time::timeout(STATEMENT_TIMEOUT, f(conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                // A server's refusal leaves the connection usable; anything else may not.
                if !matches!(e, mysql_async::Error::Server(_)) {
                    *guard = None;
                }
                Err(self.err(what, &e, secret_hash))
            }
            Err(_) => {
                *guard = None;
                Err(IntegrationError::new(format!(
                    "{}: {what}: timed out after {STATEMENT_TIMEOUT:?}",
                    self.where_()
                )))
            }
        }
    }

    /// A new admin connection to a server this kind supports.
    async fn open(&self) -> Result<Conn, IntegrationError> {
        let mut conn = Conn::new(self.admin.clone()).await.map_err(|e| {
            let hint = match e {
                mysql_async::Error::Server(_) => {
                    "cannot connect (check the admin url's user and password)"
                }
                _ => "cannot connect (is MariaDB running there, and are the url's host and port right?)",
            };
            self.err(hint, &e, None)
        })?;
        let version: Option<String> = conn
            .query_first("SELECT VERSION()")
            .await
            .map_err(|e| self.err("cannot read the server version", &e, None))?;
        let version = version.unwrap_or_default();
        if !supported_version(&version) {
            return Err(IntegrationError::new(format!(
                "{}: the server is {version}; the mariadb kind needs MariaDB 10.4 or later (it marks the accounts it makes in mysql.global_priv, which MySQL does not have)",
                self.where_()
            )));
        }
        Ok(conn)
    }

    /// Every account called `user`, on any host.
    async fn accounts(&self, user: &str) -> Result<Vec<Account>, IntegrationError> {
        let user = user.to_owned();
        let rows: Vec<AccountRow> = self
            .with_conn("look up the user", None, async move |c| {
                c.exec(
                    "SELECT Host, JSON_VALUE(Priv, '$.jitd'), JSON_VALUE(Priv, '$.account_locked'), \
                     JSON_VALUE(Priv, '$.access') FROM mysql.global_priv WHERE User = ?",
                    (user,),
                )
                .await
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|(host, mark, locked, access)| Account {
                host,
                mark,
                locked: matches!(locked.as_deref(), Some("1" | "true")),
                global_access: access.and_then(|a| a.parse().ok()).unwrap_or(u64::MAX),
            })
            .collect())
    }

    fn is_ours(&self, a: &Account) -> bool {
        a.mark.as_deref() == Some(self.marker.as_str())
    }

    /// True for the remains of a grant stopped between `CREATE USER … ACCOUNT LOCK` and
    /// marking it: no mark at all, locked, and not a single privilege anywhere. Only the
    /// request's own grant and revoke take such an account as theirs (its name carries the
    /// request id and this store's tag); orphan removal never does.
    async fn half_made(&self, user: &str, a: &Account) -> Result<bool, IntegrationError> {
        if a.mark.is_some() || !a.locked || a.global_access != 0 {
            return Ok(false);
        }
        let (u, h) = (user.to_owned(), a.host.clone());
        let n: Option<u64> = self
            .with_conn("look up the user's privileges", None, async move |c| {
                c.exec_first(
                    "SELECT (SELECT COUNT(*) FROM mysql.db WHERE User = ? AND Host = ?) \
                     + (SELECT COUNT(*) FROM mysql.tables_priv WHERE User = ? AND Host = ?) \
                     + (SELECT COUNT(*) FROM mysql.columns_priv WHERE User = ? AND Host = ?) \
                     + (SELECT COUNT(*) FROM mysql.procs_priv WHERE User = ? AND Host = ?) \
                     + (SELECT COUNT(*) FROM mysql.roles_mapping WHERE User = ? AND Host = ?)",
                    (
                        u.clone(),
                        h.clone(),
                        u.clone(),
                        h.clone(),
                        u.clone(),
                        h.clone(),
                        u.clone(),
                        h.clone(),
                        u,
                        h,
                    ),
                )
                .await
            })
            .await?;
        Ok(n == Some(0))
    }

    /// Puts this daemon's mark on the account `user`@`host`.
    async fn mark(&self, user: &str, host: &str) -> Result<(), IntegrationError> {
        let (u, h, m) = (user.to_owned(), host.to_owned(), self.marker.clone());
        self.with_conn("mark the user as jitd's", None, async move |c| {
            c.exec_drop(
                "UPDATE mysql.global_priv SET Priv = JSON_SET(Priv, '$.jitd', ?) \
                 WHERE User = ? AND Host = ?",
                (m, u, h),
            )
            .await
        })
        .await
    }

    async fn run(&self, what: &str, sql: String) -> Result<(), IntegrationError> {
        self.with_conn(what, None, async move |c| c.query_drop(sql).await)
            .await
    }

    /// Runs a statement that carries a password hash; errors never show it.
    async fn run_secret(
        &self,
        what: &str,
        sql: String,
        hash: &str,
    ) -> Result<(), IntegrationError> {
        self.with_conn(what, Some(hash), async move |c| c.query_drop(sql).await)
            .await
    }

    async fn database_exists(&self, db: &str) -> Result<bool, IntegrationError> {
        let db = db.to_owned();
        let row: Option<String> = self
            .with_conn("look up the database", None, async move |c| {
                c.exec_first(
                    "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
                    (db,),
                )
                .await
            })
            .await?;
        Ok(row.is_some())
    }

    /// Ends every connection of `user` and waits until the process list has none left.
    async fn end_sessions(&self, user: &str) -> Result<(), IntegrationError> {
        let kill_all = format!("KILL CONNECTION USER {}@'%'", lit(user));
        self.run("end the user's connections", kill_all).await?;
        let start = tokio::time::Instant::now();
        loop {
            let u = user.to_owned();
            let ids: Vec<u64> = self
                .with_conn("list the user's connections", None, async move |c| {
                    c.exec(
                        "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?",
                        (u,),
                    )
                    .await
                })
                .await?;
            if ids.is_empty() {
                return Ok(());
            }
            if start.elapsed() > KILL_TIMEOUT {
                return Err(IntegrationError::new(format!(
                    "{}: {} connection(s) of {user} are still open {KILL_TIMEOUT:?} after KILL; \
                     the admin user needs CONNECTION ADMIN (or SUPER) to end them",
                    self.where_(),
                    ids.len()
                )));
            }
            for id in ids {
                let r = self
                    .with_conn("end a connection", None, async move |c| {
                        match c.query_drop(format!("KILL CONNECTION {id}")).await {
                            Err(mysql_async::Error::Server(s)) if s.code == ER_NO_SUCH_THREAD => {
                                Ok(())
                            }
                            other => other,
                        }
                    })
                    .await;
                r?;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The privileges to give on each database, the strongest each asks for merged; errors
    /// (nothing changed yet) for what this kind does not know.
    fn plan(&self, spec: &GrantSpec) -> Result<Vec<(String, Vec<String>)>, IntegrationError> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for e in &spec.entries {
            if e.resource_type != "database" {
                return Err(IntegrationError::new(format!(
                    "{}: unknown resource type {:?} (this kind has only \"database\")",
                    self.name, e.resource_type
                ))
                .untouched());
            }
            let mut privs: Vec<String> = Vec::new();
            for p in &e.permissions {
                let list = match p.as_str() {
                    "read" => "SELECT",
                    "write" => "SELECT, INSERT, UPDATE, DELETE",
                    other => self
                        .privileges
                        .iter()
                        .find(|(n, _)| n == other)
                        .map(|(_, l)| l.as_str())
                        .ok_or_else(|| {
                            IntegrationError::new(format!(
                                "{}: unknown permission {other:?} (read, write, or one of the integration's privileges)",
                                self.name
                            ))
                            .untouched()
                        })?,
                };
                for one in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    if !privs.iter().any(|x| x == one) {
                        privs.push(one.to_owned());
                    }
                }
            }
            for db in &e.resources {
                match out.iter_mut().find(|(d, _)| d == db) {
                    Some((_, have)) => {
                        for p in &privs {
                            if !have.contains(p) {
                                have.push(p.clone());
                            }
                        }
                    }
                    None => out.push((db.clone(), privs.clone())),
                }
            }
        }
        Ok(out)
    }
}

/// True for MariaDB 10.4 or later (`mysql.global_priv` exists since 10.4).
fn supported_version(version: &str) -> bool {
    if !version.contains("MariaDB") {
        return false;
    }
    // Old servers put a `5.5.5-` in front of the real version for old clients.
    let mut parts = version
        .trim_start_matches("5.5.5-")
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse::<u32>().ok());
    match (parts.next(), parts.next()) {
        (Some(major), Some(minor)) => (major, minor) >= (10, 4),
        _ => false,
    }
}

/// A string literal: `\` and `'` escaped (the admin connection's `sql_mode` has no
/// `NO_BACKSLASH_ESCAPES`), NUL and line breaks too.
fn lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("''"),
            '\0' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\x1a' => out.push_str("\\Z"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// An account name, `'user'@'host'`.
fn account(user: &str, host: &str) -> String {
    format!("{}@{}", lit(user), lit(host))
}

/// A database name as a `GRANT … ON <db>.*` target: backtick-quoted, with the grant
/// wildcards `_` and `%` (and the escape `\`) escaped so it names exactly this database.
fn grant_db(db: &str) -> String {
    let mut out = String::from("`");
    for c in db.chars() {
        match c {
            '`' => out.push_str("``"),
            '\\' => out.push_str("\\\\"),
            '_' => out.push_str("\\_"),
            '%' => out.push_str("\\%"),
            c => out.push(c),
        }
    }
    out.push('`');
    out
}

/// The `mysql_native_password` hash of a password: `*` and the upper-case hex of
/// SHA1(SHA1(password)).
fn native_hash(password: &str) -> String {
    let inner = Sha1::digest(password.as_bytes());
    let outer = Sha1::digest(inner);
    let mut out = String::with_capacity(41);
    out.push('*');
    for b in outer {
        out.push_str(&format!("{b:02X}"));
    }
    out
}

#[async_trait]
impl Integration for Mariadb {
    fn kind(&self) -> &'static str {
        "mariadb"
    }

    fn principal_for(&self, requester: &str, request: RequestId) -> Option<String> {
        // <prefix><user>_<request>_<instance tag>, at most 12 + 32 + 1 + 20 + 1 + 4 = 70
        // characters (MariaDB allows 80, MySQL 32).
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
            .ok_or_else(|| IntegrationError::new("no user name").untouched())?;
        let secret = spec
            .secret
            .as_ref()
            .ok_or_else(|| IntegrationError::new("no password").untouched())?;
        let dbs = self.plan(spec)?;
        // Up to the account's creation nothing is changed: errors say so, so a rollback
        // leaves this session alone.
        for (db, _) in &dbs {
            if SYSTEM_DATABASES.iter().any(|s| s.eq_ignore_ascii_case(db)) {
                return Err(IntegrationError::new(format!(
                    "{}: {db} is one of the server's own databases; jit does not grant on it",
                    self.name
                ))
                .untouched());
            }
            if !self
                .database_exists(db)
                .await
                .map_err(IntegrationError::untouched)?
            {
                return Err(IntegrationError::new(format!(
                    "{}: database \"{db}\" does not exist",
                    self.name
                ))
                .untouched());
            }
        }
        let hash = native_hash(&secret.0);
        let acct = account(user, &self.user_host);
        let existing = self
            .accounts(user)
            .await
            .map_err(IntegrationError::untouched)?;
        let mut here = None;
        for a in existing {
            let ours = self.is_ours(&a)
                || self
                    .half_made(user, &a)
                    .await
                    .map_err(IntegrationError::untouched)?;
            if !ours {
                return Err(IntegrationError::new(format!(
                    "{}: user {user}@{} already exists and was not made by this jitd; refusing to take it over",
                    self.name, a.host
                ))
                .untouched());
            }
            if a.host == self.user_host {
                here = Some(a);
            }
        }
        match here {
            None => {
                // Created locked: until it is marked and granted, nobody can log in with it.
                let created = self
                    .run_secret(
                        "create the user",
                        format!(
                            "CREATE USER {acct} IDENTIFIED BY PASSWORD {} ACCOUNT LOCK",
                            lit(&hash)
                        ),
                        &hash,
                    )
                    .await;
                if let Err(e) = created {
                    // Nothing changed only if the account is not there (a lost connection
                    // may hide a CREATE that ran): then a rollback has nothing to remove.
                    return Err(match self.accounts(user).await {
                        Ok(a) if a.is_empty() => e.untouched(),
                        _ => e,
                    });
                }
                self.mark(user, &self.user_host).await?;
            }
            Some(a) => {
                // A grant redone after a stop: finish what the first one began.
                if a.mark.is_none() {
                    self.mark(user, &self.user_host).await?;
                }
                self.run_secret(
                    "set the password",
                    format!("ALTER USER {acct} IDENTIFIED BY PASSWORD {}", lit(&hash)),
                    &hash,
                )
                .await?;
            }
        }
        for (db, privs) in &dbs {
            self.run(
                &format!("grant {} on {db}", privs.join(", ")),
                format!("GRANT {} ON {}.* TO {acct}", privs.join(", "), grant_db(db)),
            )
            .await?;
        }
        self.run(
            "unlock the user",
            format!("ALTER USER {acct} ACCOUNT UNLOCK"),
        )
        .await?;
        Ok(Issued::default())
    }

    async fn revoke(&self, spec: &RevokeSpec) -> Result<(), IntegrationError> {
        let Some(user) = spec.principal.as_deref() else {
            return Ok(());
        };
        let mut mine = Vec::new();
        for a in self.accounts(user).await? {
            let ours =
                self.is_ours(&a) || (spec.request.is_some() && self.half_made(user, &a).await?);
            if !ours {
                // An account with this session's name no longer carries jit's mark: someone
                // changed it. jit must not drop what it cannot prove it made, and must not
                // say the access is gone: stay revoking, loudly, until an admin looks.
                return Err(IntegrationError::new(format!(
                    "{}: user {user}@{} does not carry this jitd's mark (\"jitd\" in its mysql.global_priv row); \
                     not dropping it: check it by hand and DROP USER it or restore the mark",
                    self.name, a.host
                )));
            }
            mine.push(a.host);
        }
        // Lock first, so that no new connection lands between the kill and the drop.
        for host in &mine {
            self.run(
                "lock the user",
                format!("ALTER USER IF EXISTS {} ACCOUNT LOCK", account(user, host)),
            )
            .await?;
        }
        // Sessions of this name end even when the account is already gone (dropped by hand
        // while they were open): DROP USER never closed them.
        self.end_sessions(user).await?;
        for host in &mine {
            self.run(
                "drop the user",
                format!("DROP USER IF EXISTS {}", account(user, host)),
            )
            .await?;
        }
        Ok(())
    }

    async fn reset(
        &self,
        principal: &str,
        secret: Option<&SessionSecret>,
        end_sessions: bool,
    ) -> Result<Issued, IntegrationError> {
        let secret = secret.ok_or_else(|| IntegrationError::new("no new password"))?;
        let accounts = self.accounts(principal).await?;
        if accounts.is_empty() {
            return Err(IntegrationError::new(format!(
                "{}: user {principal} does not exist",
                self.name
            )));
        }
        if let Some(a) = accounts.iter().find(|a| !self.is_ours(a)) {
            return Err(IntegrationError::new(format!(
                "{}: user {principal}@{} was not made by this jitd",
                self.name, a.host
            )));
        }
        let hash = native_hash(&secret.0);
        for a in &accounts {
            self.run_secret(
                "set the new password",
                format!(
                    "ALTER USER {} IDENTIFIED BY PASSWORD {}",
                    account(principal, &a.host),
                    lit(&hash)
                ),
                &hash,
            )
            .await?;
        }
        if end_sessions {
            self.end_sessions(principal).await?;
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
        let resources = session.resources;
        let browser_url = session.browser_url;
        let db = resources.first().map_or("", String::as_str);
        match kind {
            // Every value as `--name=value`: a database called `-e…` stays a value, never an
            // option. The password goes in MYSQL_PWD, never on the command line.
            ConnectKind::Terminal => {
                let mut argv = vec![
                    "mysql".to_owned(),
                    format!("--host={}", self.client_host),
                    format!("--port={}", self.client_port),
                    format!("--user={principal}"),
                ];
                if !db.is_empty() {
                    argv.push(format!("--database={db}"));
                }
                let env = secret
                    .map(|s| vec![("MYSQL_PWD".to_owned(), s.0.clone())])
                    .unwrap_or_default();
                Some(ConnectTarget {
                    argv,
                    env,
                    url: None,
                    files: Vec::new(),
                })
            }
            ConnectKind::App => Some(ConnectTarget {
                url: Some(fill_template(
                    "mysql://{user}@{host}:{port}/{database}",
                    &self.client_host,
                    self.client_port,
                    principal,
                    db,
                )),
                ..ConnectTarget::default()
            }),
            ConnectKind::Browser => browser_url.map(|t| ConnectTarget {
                url: Some(fill_template(
                    t,
                    &self.client_host,
                    self.client_port,
                    principal,
                    db,
                )),
                ..ConnectTarget::default()
            }),
        }
    }

    async fn probe(&self) -> Option<Result<(), IntegrationError>> {
        Some(
            self.with_conn("probe", None, async |c| c.ping().await)
                .await,
        )
    }

    async fn preflight(&self) -> Vec<String> {
        let checks = self
            .with_conn("check the admin user's privileges", None, async |c| {
                let read = c
                    .query_drop("SELECT 1 FROM mysql.global_priv LIMIT 0")
                    .await
                    .is_ok();
                let write = c
                    .query_drop("UPDATE mysql.global_priv SET Priv = Priv WHERE 1 = 0")
                    .await
                    .is_ok();
                let privs: Vec<String> = c
                    .query(
                        "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = \
                         CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', \
                         SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')",
                    )
                    .await?;
                let anonymous: Option<u64> = c
                    .query_first("SELECT COUNT(*) FROM mysql.global_priv WHERE User = ''")
                    .await
                    .unwrap_or(Some(0));
                Ok((read, write, privs, anonymous.unwrap_or(0)))
            })
            .await;
        match checks {
            Ok((read, write, privs, anonymous)) => {
                let mut w = Vec::new();
                if !read || !write {
                    w.push(format!(
                        "{}: the admin user cannot read and update mysql.global_priv (where jitd marks its users): \
                         every grant and revoke will fail until it can (GRANT SELECT, UPDATE ON mysql.global_priv)",
                        self.name
                    ));
                }
                let has = |p: &str| privs.iter().any(|x| x == p);
                if !has("CREATE USER") {
                    w.push(format!(
                        "{}: the admin user lacks CREATE USER (unless a role gives it): every grant will fail",
                        self.name
                    ));
                }
                if !has("CONNECTION ADMIN") && !has("SUPER") {
                    w.push(format!(
                        "{}: the admin user lacks CONNECTION ADMIN (or SUPER), unless a role gives it: \
                         revokes cannot end other users' connections and will fail until it has",
                        self.name
                    ));
                }
                if anonymous > 0 {
                    w.push(format!(
                        "{}: the server has anonymous accounts (User = ''); they can shadow jit's users \
                         for logins from matching hosts: DROP USER them",
                        self.name
                    ));
                }
                w
            }
            Err(e) => vec![format!(
                "{}: cannot check the admin user's privileges: {e}",
                self.name
            )],
        }
    }

    async fn list_principals(&self) -> Result<Vec<String>, IntegrationError> {
        let marker = self.marker.clone();
        let prefix = self.user_prefix.clone();
        self.with_conn("list users", None, async move |c| {
            // Not LIKE: `_` in the prefix is a LIKE wildcard.
            c.exec(
                "SELECT DISTINCT User FROM mysql.global_priv WHERE JSON_VALUE(Priv, '$.jitd') = ? \
                 AND LEFT(User, CHAR_LENGTH(?)) = ?",
                (marker, prefix.clone(), prefix),
            )
            .await
        })
        .await
    }

    fn access_details(&self, session: &SessionView<'_>) -> AccessDetails {
        let principal = session.principal;
        let resources = session.resources;
        let db = resources.first().map_or("", String::as_str);
        AccessDetails {
            host: Some(self.client_host.clone()),
            port: Some(self.client_port),
            instructions: format!(
                "log in to MariaDB at {}:{} as {principal} with the password above, database {}",
                self.client_host,
                self.client_port,
                resources.join(", ")
            ),
            example: Some(format!(
                "mysql --host={} --port={} --user={principal} --database={db} --password",
                self.client_host, self.client_port
            )),
            ..AccessDetails::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_safe() {
        assert_eq!(crate::integrations::name_part("Bob.Smith-2"), "bob_smith_2");
        assert_eq!(crate::integrations::name_part("x'; DROP"), "x___drop");
    }

    #[test]
    fn literals_escape_quotes_and_backslashes() {
        assert_eq!(lit("a'b\\c"), "'a''b\\\\c'");
        assert_eq!(lit("x\0y\nz"), "'x\\0y\\nz'");
        assert_eq!(account("u", "%"), "'u'@'%'");
    }

    #[test]
    fn grant_targets_name_exactly_one_database() {
        assert_eq!(grant_db("my_db"), "`my\\_db`");
        assert_eq!(grant_db("a%b`c\\"), "`a\\%b``c\\\\`");
    }

    #[test]
    fn native_hash_matches_the_server() {
        // SELECT PASSWORD('Secr3tPass') on MariaDB 10.11.
        assert_eq!(
            native_hash("Secr3tPass"),
            "*D90FF1F75DB95706EF13781552197DC288ED3B31"
        );
    }

    #[test]
    fn only_mariadb_10_4_and_later() {
        assert!(supported_version("10.11.19-MariaDB-0+deb12u1"));
        assert!(supported_version("11.4.2-MariaDB"));
        assert!(supported_version("5.5.5-10.4.1-MariaDB"));
        assert!(!supported_version("10.3.39-MariaDB"));
        assert!(!supported_version("8.0.36"));
    }
}
