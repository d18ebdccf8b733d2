//! End-to-end tests: the real `jitd` and `jit` binaries, the real socket, real Unix users,
//! real PostgreSQL and `psql`, a real sshd and `ssh`, a real Neovim running the editor plugin,
//! real Chromium clicking through the portal.
//! Build the binaries first (`scripts/test` does).

mod access;
mod audit;
mod authz;
mod authz_matrix;
mod bad_input;
mod clock;
mod crash;
mod crash_campaign;
mod events;
mod exec;
mod exec_credentials;
mod journald;
mod list_pages;
mod load;
mod mariadb;
mod notify;
mod nvim;
mod operate;
mod outage;
mod pg_burst;
mod portal;
mod prompt;
mod redis;
mod saved;
mod ssh;
mod story;
mod sudo;
mod unix_group;
mod upgrade;
mod vscode;
mod wizard;

use jit_tests::users::Group;

/// A config with a PostgreSQL integration (`pg-main`, roles `<prefix>…`) and a dry-run one
/// (`demo`), and the spine's flows: `pg-read` (auto, for `dev`), `pg-write` (manual, `dba`
/// approves), `demo-two` (two approvals), `demo-ttl` (pending for 2 s at most).
pub fn config(prefix: &str, pg_url: &str, dev: &Group, dba: &Group) -> String {
    format!(
        r#"
[daemon]
admins = ["root"]
pending_ttl = "2h"

[[integrations]]
name = "pg-main"
kind = "postgres"
url = "{pg_url}"
role_prefix = "{prefix}"
message = "Production replica: keep queries light."

[[integrations]]
name = "demo"
kind = "dry-run"
resource_types = {{ database = ["read", "write"] }}

[[flows]]
name = "pg-read"
requesters = ["%{dev}", "root"]
integration = "pg-main"
resource_types = ["database"]
resources = ["*"]
permissions = ["read"]
approval = "auto"
default_duration = "1h"
max_duration = "4h"
justification = "required"

[[flows]]
name = "pg-write"
requesters = ["%{dev}"]
integration = "pg-main"
permissions = ["write"]
approvers = ["%{dba}"]
approvals_required = 1
max_duration = "1h"

[[flows]]
name = "demo-two"
requesters = ["%{dev}", "root"]
integration = "demo"
permissions = ["write"]
approvers = ["%{dba}"]
approvals_required = 2
max_duration = "1h"

[[flows]]
name = "demo-ttl"
requesters = ["%{dev}", "root"]
integration = "demo"
permissions = ["read"]
approvers = ["%{dba}"]
max_duration = "1h"
pending_ttl = "2s"
"#,
        dev = dev.name,
        dba = dba.name,
    )
}

/// A role prefix unique to one test.
pub fn prefix() -> String {
    format!("jt{}_", jit_tests::unique())
}
