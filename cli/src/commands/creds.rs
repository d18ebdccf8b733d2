//! `jit creds`: show a granted request's credentials, once (`credentials.reveal`).
//!
//! The only command that prints secrets.

use jit_api::methods::{CredentialsReveal, IdParams};
use jit_api::{Credentials, SecretKind};

use super::{Ctx, Outcome};
use crate::format::Paint;
use crate::output::Out;

/// Show the credentials of a granted request, once.
///
/// Prints, for each session, the user and password, where to connect, and how. jitd erases
/// the secret as it hands it out: copy it somewhere safe now. A second call fails with
/// `already_revealed`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The request's number
    #[arg(value_name = "ID")]
    pub id: u64,
}

/// Runs `jit creds`.
pub async fn run(ctx: &mut Ctx, args: Args) -> anyhow::Result<Outcome> {
    let creds = ctx
        .client
        .call::<CredentialsReveal>(&IdParams { id: args.id })
        .await?;
    if ctx.out.json {
        ctx.out.json(&creds)?;
    } else {
        ctx.out.print(&render(&creds, &ctx.out))?;
    }
    Ok(Outcome::Done)
}

/// The credentials, with the warning that they are shown once.
pub fn render(creds: &Credentials, out: &Out) -> String {
    let s = out.style;
    let mut text = String::new();
    if creds.sessions.is_empty() {
        text.push_str(&format!(
            "Request {} has no credentials to show: its access needs no secret (dry-run, or \
             access tied to your Unix user)\n",
            creds.id
        ));
        return text;
    }
    text.push_str(&format!("Credentials for request {}", creds.id));
    if let Some(t) = creds.expires_at {
        text.push_str(&format!(" — access expires {}", out.clock.both(t)));
    }
    text.push('\n');
    text.push_str(&s.paint(
        Paint::Yellow,
        "warning: shown once; jitd has erased them now. Copy them somewhere safe.",
    ));
    text.push('\n');
    for c in &creds.sessions {
        text.push('\n');
        text.push_str(&s.paint(Paint::Bold, &c.integration));
        text.push('\n');
        let mut field = |key: &str, value: &str| {
            text.push_str(&format!("  {key:<14}{value}\n"));
        };
        field("user", &c.user);
        // A key is many lines: it goes below, each file after it, ready to be saved.
        match c.secret_kind {
            SecretKind::Password => field("password", &c.secret),
            SecretKind::Token => field("token", &c.secret),
            SecretKind::PrivateKey => field("private key", "below; save it with mode 0600"),
        }
        for f in &c.files {
            field("file", &format!("{} (below)", f.name));
        }
        if let Some(host) = &c.host {
            field("host", host);
        }
        if let Some(port) = c.port {
            field("port", &port.to_string());
        }
        if !c.resources.is_empty() {
            field("resources", &c.resources.join(", "));
        }
        if !c.instructions.is_empty() {
            field("instructions", &c.instructions);
        }
        if let Some(example) = &c.example {
            field("example", example);
        }
        if c.secret_kind == SecretKind::PrivateKey {
            text.push_str(&format!("\n  private key:\n{}", block(&c.secret)));
        }
        for f in &c.files {
            text.push_str(&format!("\n  {}:\n{}", f.name, block(&f.contents)));
        }
    }
    text
}

/// A multi-line value as is (it is copied into a file), ending with a newline.
fn block(text: &str) -> String {
    let mut out = text.trim_end_matches('\n').to_owned();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::shared::tests::out;
    use jit_api::SessionCredentials;
    use time::macros::datetime;

    fn creds() -> Credentials {
        Credentials {
            id: 42,
            sessions: vec![SessionCredentials {
                integration: "pg-main".into(),
                user: "jit_alice_42".into(),
                secret: "s3cret-Xy".into(),
                host: Some("db.internal".into()),
                port: Some(5432),
                resources: vec!["orders".into()],
                instructions: "log in with psql; the password expires with the access".into(),
                example: Some("psql -h db.internal -p 5432 -U jit_alice_42 orders".into()),
                secret_kind: SecretKind::Password,
                files: vec![],
            }],
            expires_at: Some(datetime!(2025-11-23 14:05:00 UTC)),
        }
    }

    #[test]
    fn credentials_come_with_the_shown_once_warning() {
        let text = render(&creds(), &out());
        assert_eq!(
            text,
            "Credentials for request 42 — access expires in 30m (15:05)\n\
             warning: shown once; jitd has erased them now. Copy them somewhere safe.\n\
             \n\
             pg-main\n  \
             user          jit_alice_42\n  \
             password      s3cret-Xy\n  \
             host          db.internal\n  \
             port          5432\n  \
             resources     orders\n  \
             instructions  log in with psql; the password expires with the access\n  \
             example       psql -h db.internal -p 5432 -U jit_alice_42 orders\n"
        );
    }

    #[test]
    fn a_private_key_and_its_certificate_come_as_blocks_to_save() {
        let mut c = creds();
        let s = &mut c.sessions[0];
        s.secret =
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\n"
                .into();
        s.secret_kind = SecretKind::PrivateKey;
        s.files = vec![jit_api::SessionFile {
            name: "k-cert.pub".into(),
            contents: "ssh-ed25519-cert-v01@openssh.com AAAA jit".into(),
        }];
        let text = render(&c, &out());
        assert!(!text.contains("  password "), "{text}");
        assert!(
            text.contains("  private key   below; save it with mode 0600\n"),
            "{text}"
        );
        assert!(
            text.contains("  file          k-cert.pub (below)\n"),
            "{text}"
        );
        assert!(
            text.ends_with(
                "\n  private key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\n\n  k-cert.pub:\nssh-ed25519-cert-v01@openssh.com AAAA jit\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn no_sessions_no_secret() {
        let mut c = creds();
        c.sessions.clear();
        assert!(render(&c, &out()).contains("no credentials to show"));
    }
}
