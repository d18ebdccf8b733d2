//! The `postgres` kind: one login role per session, with a generated password and
//! `VALID UNTIL` set to the grant's end, so logins stop at expiry even if jitd is down.
//!
//! Grant: `CREATE ROLE … LOGIN PASSWORD <SCRAM verifier> VALID UNTIL …`, marked with a
//! comment naming this daemon's instance, then per database `GRANT CONNECT` and, in every
//! non-system schema, `USAGE` plus `SELECT` (read) or `SELECT, INSERT, UPDATE, DELETE`
//! (write) on all tables and sequences that exist at grant time.
//!
//! Revoke: `NOLOGIN` (no new sessions), `pg_terminate_backend` for the role's backends
//! (`DROP ROLE` alone leaves open sessions working), `DROP OWNED` in each database the role
//! was granted on (it also revokes its privileges there), then `DROP ROLE`.
//!
//! The password reaches the server only as a SCRAM-SHA-256 verifier, so server-side
//! statement logging never sees it. Identifiers and literals are quoted with the client
//! library's escaping (DDL takes no bind parameters).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use jit_api::{ConnectKind, RequestId};
use jit_config::PostgresSettings;
use postgres_protocol::escape::{escape_identifier as ident, escape_literal as lit};
use tokio::sync::Mutex;
use tokio_postgres::config::Host;
use tokio_postgres::{Client, NoTls};

use super::{
    AccessDetails, ConnectTarget, GrantSpec, Integration, IntegrationError, Issued, Material,
    RevokeSpec, SecretSource, SessionSecret, SessionView, fill_template,
};

/// How long one statement batch may take before the attempt is abandoned.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// SQLSTATEs worth retrying: concurrent DDL on the same catalog rows, and deadlocks.
const RETRYABLE: [&str; 2] = ["XX000", "40P01"];

/// A PostgreSQL server.
pub struct Postgres {
    name: String,
    admin: tokio_postgres::Config,
    maintenance_db: String,
    role_prefix: String,
    marker: String,
    tag: String,
    client_host: String,
    client_port: u16,
    clients: Mutex<HashMap<String, Client>>,
}

impl Postgres {
    /// Prepares the integration; connections are made when first needed.
    pub fn new(
        name: &str,
        settings: &PostgresSettings,
        marker: &str,
    ) -> Result<Postgres, IntegrationError> {
        let mut admin: tokio_postgres::Config = settings.url.expose().parse().map_err(|_| {
            // The parse error may quote the URL, which may hold a password: say only where.
            IntegrationError::new(format!(
                "integration {name}: the admin url is not a valid PostgreSQL connection string (fix: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE, port 1-65535)"
            ))
        })?;
        admin.connect_timeout(Duration::from_secs(5));
        admin.application_name("jitd");
        let maintenance_db = admin.get_dbname().unwrap_or("postgres").to_owned();
        let host = match admin.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            _ => "localhost".to_owned(),
        };
        let port = admin.get_ports().first().copied().unwrap_or(5432);
        Ok(Postgres {
            name: name.to_owned(),
            admin,
            maintenance_db,
            role_prefix: settings.role_prefix.clone(),
            marker: format!("managed by jitd {marker}"),
            tag: marker.chars().take(4).collect(),
            client_host: settings.client_host.clone().unwrap_or(host),
            client_port: settings.client_port.unwrap_or(port),
            clients: Mutex::new(HashMap::new()),
        })
    }

    fn err(&self, what: &str, e: &tokio_postgres::Error) -> IntegrationError {
        let detail = e
            .as_db_error()
            .map_or_else(|| e.to_string(), |db| db.message().to_owned());
        IntegrationError::new(match e.as_db_error() {
            Some(db) => format!(
                "{} ({}): {what}: {detail} [SQLSTATE {}]",
                self.name,
                self.client_host_port(),
                db.code().code()
            ),
            None => format!(
                "{} ({}): {what}: {detail}",
                self.name,
                self.client_host_port()
            ),
        })
    }

    fn client_host_port(&self) -> String {
        format!("{}:{}", self.client_host, self.client_port)
    }

    /// Runs `f` with an admin connection to `db`, reconnecting once if the cached one died.
    async fn with_db<T>(
        &self,
        db: &str,
        what: &str,
        sql: impl AsyncFnOnce(&Client) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, IntegrationError> {
        let mut clients = self.clients.lock().await;
        if clients.get(db).is_none_or(Client::is_closed) {
            let mut cfg = self.admin.clone();
            cfg.dbname(db);
            let (client, conn) = cfg
                .connect(NoTls)
                .await
                .map_err(|e| self.err(&format!("cannot connect to database {db}"), &e))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            clients.insert(db.to_owned(), client);
        }
        let Some(client) = clients.get(db) else {
            return Err(IntegrationError::new("no connection"));
        };
        match tokio::time::timeout(STATEMENT_TIMEOUT, sql(client)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                if client.is_closed() {
                    clients.remove(db);
                }
                Err(self.err(what, &e))
            }
            Err(_) => {
                clients.remove(db);
                Err(IntegrationError::new(format!(
                    "{}: {what}: timed out after {STATEMENT_TIMEOUT:?}",
                    self.name
                )))
            }
        }
    }

    /// Runs a batch of statements on `db`, retrying concurrent-DDL failures.
    async fn batch(&self, db: &str, what: &str, sql: &str) -> Result<(), IntegrationError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let r = self
                .with_db(db, what, async |c| c.batch_execute(sql).await)
                .await;
            match r {
                Err(e) if attempt < 5 && RETRYABLE.iter().any(|code| e.message.contains(code)) => {
                    tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
                }
                other => return other,
            }
        }
    }

    async fn role_comment(&self, role: &str) -> Result<Option<Option<String>>, IntegrationError> {
        let role = role.to_owned();
        self.with_db(&self.maintenance_db, "look up role", async move |c| {
            let row = c
                .query_opt(
                    "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1",
                    &[&role],
                )
                .await?;
            Ok(row.map(|r| r.get::<_, Option<String>>(0)))
        })
        .await
    }

    /// Fails unless `role` exists and was made by this jitd.
    async fn ours(&self, role: &str) -> Result<(), IntegrationError> {
        match self.role_comment(role).await? {
            Some(c) if c.as_deref() == Some(self.marker.as_str()) => Ok(()),
            Some(_) => Err(IntegrationError::new(format!(
                "{}: role {role} was not made by this jitd",
                self.name
            ))),
            None => Err(IntegrationError::new(format!(
                "{}: role {role} does not exist",
                self.name
            ))),
        }
    }

    async fn database_exists(&self, db: &str) -> Result<bool, IntegrationError> {
        let db = db.to_owned();
        self.with_db(&self.maintenance_db, "look up database", async move |c| {
            let row = c
                .query_opt(
                    "SELECT 1 FROM pg_database WHERE datname = $1 AND datallowconn AND NOT datistemplate",
                    &[&db],
                )
                .await?;
            Ok(row.is_some())
        })
        .await
    }
}

impl Postgres {
    /// [`Integration::revoke`] for many roles in a handful of statements — each of the
    /// steps once for all of them, not once per role: look up their marks, disable their
    /// logins (one transaction), end their sessions, `DROP OWNED BY` them in each database
    /// they had, `DROP ROLE` them. Roles already gone succeed; a role whose mark changed
    /// fails alone, as in `revoke`. An error means the batch as a whole failed (some steps
    /// may have run; each is idempotent) and the caller goes one by one.
    async fn revoke_batch(
        &self,
        specs: &[RevokeSpec],
    ) -> Result<Vec<Result<(), IntegrationError>>, IntegrationError> {
        let names: Vec<String> = specs.iter().filter_map(|s| s.principal.clone()).collect();
        let marks: HashMap<String, Option<String>> = self
            .with_db(&self.maintenance_db, "look up roles", async |c| {
                let rows = c
                    .query(
                        "SELECT rolname, shobj_description(oid, 'pg_authid') FROM pg_roles \
                         WHERE rolname = ANY($1)",
                        &[&names],
                    )
                    .await?;
                Ok(rows
                    .iter()
                    .map(|r| (r.get::<_, String>(0), r.get::<_, Option<String>>(1)))
                    .collect())
            })
            .await?;
        let mut out: Vec<Result<(), IntegrationError>> = Vec::with_capacity(specs.len());
        let mut roles: Vec<String> = Vec::new();
        let mut dbs: Vec<String> = Vec::new();
        for spec in specs {
            let Some(role) = &spec.principal else {
                out.push(Ok(()));
                continue;
            };
            match marks.get(role) {
                None => out.push(Ok(())),
                Some(mark) if mark.as_deref() != Some(self.marker.as_str()) => {
                    out.push(Err(IntegrationError::new(format!(
                        "{}: role {role} no longer carries this jitd's mark (its comment was \
                         changed); not dropping it: check it by hand and DROP it or restore its comment",
                        self.name
                    ))));
                }
                Some(_) => {
                    out.push(Ok(()));
                    if !roles.contains(role) {
                        roles.push(role.clone());
                    }
                    for db in &spec.resources {
                        if !dbs.contains(db) {
                            dbs.push(db.clone());
                        }
                    }
                }
            }
        }
        if roles.is_empty() {
            return Ok(out);
        }
        let list = roles
            .iter()
            .map(|r| ident(r))
            .collect::<Vec<_>>()
            .join(", ");
        let nologin: String = roles
            .iter()
            .map(|r| format!("ALTER ROLE {} NOLOGIN;", ident(r)))
            .collect();
        // A multi-statement simple query is one implicit transaction: one commit.
        self.batch(&self.maintenance_db, "disable logins", &nologin)
            .await?;
        let granted_on: Vec<String> = self
            .with_db(&self.maintenance_db, "end sessions", async |c| {
                c.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ANY($1)",
                    &[&roles],
                )
                .await?;
                let rows = c
                    .query(
                        "SELECT DISTINCT d.datname FROM pg_database d, pg_roles r \
                         WHERE r.rolname = ANY($1) AND d.datallowconn AND NOT d.datistemplate \
                         AND EXISTS (SELECT 1 FROM aclexplode(d.datacl) a WHERE a.grantee = r.oid)",
                        &[&roles],
                    )
                    .await?;
                Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
            })
            .await?;
        for d in granted_on {
            if !dbs.contains(&d) {
                dbs.push(d);
            }
        }
        let existing: Vec<String> = self
            .with_db(&self.maintenance_db, "look up databases", async |c| {
                let rows = c
                    .query(
                        "SELECT datname FROM pg_database \
                         WHERE datname = ANY($1) AND datallowconn AND NOT datistemplate",
                        &[&dbs],
                    )
                    .await?;
                Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
            })
            .await?;
        for db in &existing {
            self.batch(db, "drop owned", &format!("DROP OWNED BY {list}"))
                .await?;
        }
        self.batch(
            &self.maintenance_db,
            "drop roles",
            &format!("DROP ROLE IF EXISTS {list}"),
        )
        .await?;
        Ok(out)
    }
}

fn valid_until_literal(t: SystemTime) -> String {
    let odt = time::OffsetDateTime::from(t);
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]+00");
    lit(&odt.format(&fmt).unwrap_or_else(|_| "infinity".into()))
}

#[async_trait]
impl Integration for Postgres {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn principal_for(&self, requester: &str, request: RequestId) -> Option<String> {
        // <prefix><user>_<request>_<instance tag>: recognisably jit's, the user's and the
        // request's; the tag keeps two stores (a fresh state dir, or two hosts sharing one
        // server) from ever picking the same name.
        Some(format!(
            "{}{}_{}_{}",
            self.role_prefix,
            super::name_part(requester),
            request,
            self.tag
        ))
    }

    fn secret_source(&self) -> SecretSource {
        SecretSource::Generated
    }

    async fn grant(&self, spec: &GrantSpec) -> Result<Issued, IntegrationError> {
        let role = spec
            .principal
            .as_deref()
            .ok_or_else(|| IntegrationError::new("no role name"))?;
        let secret = spec
            .secret
            .as_ref()
            .ok_or_else(|| IntegrationError::new("no password"))?;
        // Each database gets the strongest permission any entry asks for on it.
        let mut dbs: Vec<(String, bool)> = Vec::new();
        for e in &spec.entries {
            let write = e.permissions.iter().any(|p| p == "write");
            for db in &e.resources {
                match dbs.iter_mut().find(|(d, _)| d == db) {
                    Some((_, w)) => *w |= write,
                    None => dbs.push((db.clone(), write)),
                }
            }
        }
        // Up to the role's creation nothing is changed: errors say so, so a rollback leaves
        // this session alone.
        for (db, _) in &dbs {
            if !self
                .database_exists(db)
                .await
                .map_err(IntegrationError::untouched)?
            {
                return Err(IntegrationError::new(format!(
                    "{}: database \"{db}\" does not exist (or does not allow connections)",
                    self.name
                ))
                .untouched());
            }
        }
        let verifier = postgres_protocol::password::scram_sha_256(secret.0.as_bytes());
        let until = valid_until_literal(spec.valid_until);
        let q = ident(role);
        let existing = self
            .role_comment(role)
            .await
            .map_err(IntegrationError::untouched)?;
        let new_role = existing.is_none();
        let sql = match existing {
            Some(comment) if comment.as_deref() != Some(self.marker.as_str()) => {
                return Err(IntegrationError::new(format!(
                    "{}: role {role} already exists and was not made by this jitd; refusing to take it over",
                    self.name
                ))
                .untouched());
            }
            Some(_) => format!(
                "ALTER ROLE {q} WITH LOGIN PASSWORD {} VALID UNTIL {until}",
                lit(&verifier)
            ),
            None => format!(
                "BEGIN; CREATE ROLE {q} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD {} VALID UNTIL {until}; \
                 COMMENT ON ROLE {q} IS {}; COMMIT",
                lit(&verifier),
                lit(&self.marker)
            ),
        };
        // CREATE ROLE and its comment are one transaction: if it fails, no role exists.
        self.batch(&self.maintenance_db, "create role", &sql)
            .await
            .map_err(|e| if new_role { e.untouched() } else { e })?;
        for (db, write) in &dbs {
            self.batch(
                &self.maintenance_db,
                "grant connect",
                &format!("GRANT CONNECT ON DATABASE {} TO {q}", ident(db)),
            )
            .await?;
            let schemas: Vec<String> = self
                .with_db(db, "list schemas", async |c| {
                    let rows = c
                        .query(
                            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'",
                            &[],
                        )
                        .await?;
                    Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
                })
                .await?;
            let mut sql = String::from("BEGIN;");
            for s in &schemas {
                let s = ident(s);
                sql.push_str(&format!(
                    "GRANT USAGE ON SCHEMA {s} TO {q}; GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {q}; \
                     GRANT SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {q};"
                ));
                if *write {
                    sql.push_str(&format!(
                        "GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {q}; \
                         GRANT USAGE, UPDATE ON ALL SEQUENCES IN SCHEMA {s} TO {q};"
                    ));
                }
            }
            sql.push_str("COMMIT");
            self.batch(db, "grant privileges", &sql).await?;
        }
        Ok(Issued::default())
    }

    async fn reset(
        &self,
        principal: &str,
        secret: Option<&SessionSecret>,
        end_sessions: bool,
    ) -> Result<Issued, IntegrationError> {
        let secret = secret.ok_or_else(|| IntegrationError::new("no new password"))?;
        self.ours(principal).await?;
        let verifier = postgres_protocol::password::scram_sha_256(secret.0.as_bytes());
        // The password only: VALID UNTIL belongs to the deadline (extend moves it).
        let sql = format!(
            "ALTER ROLE {} WITH PASSWORD {}",
            ident(principal),
            lit(&verifier)
        );
        self.batch(&self.maintenance_db, "set new password", &sql)
            .await?;
        if end_sessions {
            let role = principal.to_owned();
            self.with_db(&self.maintenance_db, "end sessions", async move |c| {
                c.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1",
                    &[&role],
                )
                .await
            })
            .await?;
        }
        Ok(Issued::default())
    }

    async fn extend(
        &self,
        principal: &str,
        valid_until: SystemTime,
    ) -> Result<Option<Material>, IntegrationError> {
        self.ours(principal).await?;
        let sql = format!(
            "ALTER ROLE {} VALID UNTIL {}",
            ident(principal),
            valid_until_literal(valid_until)
        );
        self.batch(&self.maintenance_db, "move VALID UNTIL", &sql)
            .await?;
        Ok(None)
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
        let db = resources.first().map_or("postgres", String::as_str);
        match kind {
            // Everything goes to libpq through its environment, not a connection string: a
            // database name is data, and in a conninfo string `x hostaddr=…` would redirect
            // psql — with the password — elsewhere.
            ConnectKind::Terminal => {
                let mut env = vec![
                    ("PGHOST".to_owned(), self.client_host.clone()),
                    ("PGPORT".to_owned(), self.client_port.to_string()),
                    ("PGUSER".to_owned(), principal.to_owned()),
                    ("PGDATABASE".to_owned(), db.to_owned()),
                ];
                if let Some(s) = secret {
                    env.push(("PGPASSWORD".to_owned(), s.0.clone()));
                }
                Some(ConnectTarget {
                    argv: vec!["psql".into()],
                    env,
                    url: None,
                    files: Vec::new(),
                })
            }
            ConnectKind::App => Some(ConnectTarget {
                url: Some(fill_template(
                    "postgres://{user}@{host}:{port}/{database}",
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

    async fn revoke(&self, spec: &RevokeSpec) -> Result<(), IntegrationError> {
        let Some(role) = spec.principal.clone() else {
            return Ok(());
        };
        match self.role_comment(&role).await? {
            None => return Ok(()),
            Some(comment) if comment.as_deref() != Some(self.marker.as_str()) => {
                // A role this session provisioned no longer carries jit's mark: someone
                // changed it. jit must not drop what it cannot prove it made, and must not
                // say the access is gone: stay revoking, loudly, until an admin looks.
                return Err(IntegrationError::new(format!(
                    "{}: role {role} no longer carries this jitd's mark (its comment was changed); \
                     not dropping it: check it by hand and DROP it or restore its comment",
                    self.name
                )));
            }
            Some(_) => {}
        }
        let q = ident(&role);
        self.batch(
            &self.maintenance_db,
            "disable login",
            &format!("ALTER ROLE {q} NOLOGIN"),
        )
        .await?;
        let r2 = role.clone();
        let dbs: Vec<String> = self
            .with_db(&self.maintenance_db, "end sessions", async move |c| {
                c.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1",
                    &[&r2],
                )
                .await?;
                let rows = c
                    .query(
                        "SELECT d.datname FROM pg_database d, pg_roles r \
                         WHERE r.rolname = $1 AND d.datallowconn \
                         AND EXISTS (SELECT 1 FROM aclexplode(d.datacl) a WHERE a.grantee = r.oid)",
                        &[&r2],
                    )
                    .await?;
                Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
            })
            .await?;
        let mut all: Vec<String> = spec.resources.clone();
        for d in dbs {
            if !all.contains(&d) {
                all.push(d);
            }
        }
        for db in &all {
            if !self.database_exists(db).await? {
                continue;
            }
            self.batch(db, "drop owned", &format!("DROP OWNED BY {q}"))
                .await?;
        }
        self.batch(
            &self.maintenance_db,
            "drop role",
            &format!("DROP ROLE IF EXISTS {q}"),
        )
        .await?;
        Ok(())
    }

    async fn revoke_many(&self, specs: &[RevokeSpec]) -> Vec<Result<(), IntegrationError>> {
        if specs.len() < 2 {
            let mut out = Vec::new();
            for spec in specs {
                out.push(self.revoke(spec).await);
            }
            return out;
        }
        match self.revoke_batch(specs).await {
            Ok(out) => out,
            Err(e) => {
                // One of them (or the server) failed the batch: go one by one, so each
                // gets its own outcome and one bad role holds up no other.
                tracing::warn!(integration = %self.name, roles = specs.len(), error = %e.message, "batched revoke failed; revoking one by one");
                let mut out = Vec::with_capacity(specs.len());
                for spec in specs {
                    out.push(self.revoke(spec).await);
                }
                out
            }
        }
    }

    async fn probe(&self) -> Option<Result<(), IntegrationError>> {
        let db = self.maintenance_db.clone();
        Some(
            self.with_db(&db, "probe", async |c| {
                c.simple_query("SELECT 1").await.map(drop)
            })
            .await,
        )
    }

    async fn preflight(&self) -> Vec<String> {
        let r = self
            .with_db(&self.maintenance_db, "check privileges", async |c| {
                let row = c
                    .query_one(
                        "SELECT rolsuper, rolcreaterole, pg_has_role(current_user, 'pg_signal_backend', 'MEMBER') \
                         FROM pg_roles WHERE rolname = current_user",
                        &[],
                    )
                    .await?;
                Ok((row.get::<_, bool>(0), row.get::<_, bool>(1), row.get::<_, bool>(2)))
            })
            .await;
        match r {
            Ok((true, _, _)) => Vec::new(),
            Ok((false, createrole, signal)) => {
                let mut w = Vec::new();
                if !createrole {
                    w.push(format!(
                        "{}: the admin role lacks CREATEROLE: every grant will fail",
                        self.name
                    ));
                }
                if !signal {
                    w.push(format!(
                        "{}: the admin role is not a superuser nor a member of pg_signal_backend: \
                         revokes cannot end live sessions and will fail until it is",
                        self.name
                    ));
                }
                w
            }
            Err(e) => vec![format!(
                "{}: cannot check the admin role's privileges: {e}",
                self.name
            )],
        }
    }

    async fn list_principals(&self) -> Result<Vec<String>, IntegrationError> {
        let marker = self.marker.clone();
        let prefix = self.role_prefix.clone();
        self.with_db(&self.maintenance_db, "list roles", async move |c| {
            let rows = c
                .query(
                    "SELECT rolname FROM pg_roles WHERE shobj_description(oid, 'pg_authid') = $1 \
                     AND starts_with(rolname, $2) AND NOT rolsuper",
                    &[&marker, &prefix],
                )
                .await?;
            Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
        })
        .await
    }

    fn access_details(&self, session: &SessionView<'_>) -> AccessDetails {
        let principal = session.principal;
        let resources = session.resources;
        let db = resources.first().map_or("postgres", String::as_str);
        AccessDetails {
            host: Some(self.client_host.clone()),
            port: Some(self.client_port),
            instructions: format!(
                "log in to PostgreSQL at {}:{} as {principal} with the password above, database {}",
                self.client_host,
                self.client_port,
                resources.join(", ")
            ),
            example: Some(format!(
                "psql \"host={} port={} user={principal} dbname={db}\"",
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
    fn role_names_are_safe_identifiers() {
        assert_eq!(crate::integrations::name_part("alice"), "alice");
        assert_eq!(crate::integrations::name_part("Bob.Smith-2"), "bob_smith_2");
        assert_eq!(crate::integrations::name_part("x\"; DROP"), "x___drop");
    }

    #[test]
    fn valid_until_is_a_quoted_utc_timestamp() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(valid_until_literal(t), "'2027-01-15 08:00:00+00'");
    }
}
