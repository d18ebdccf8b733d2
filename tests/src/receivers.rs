//! Real receivers for notifications, started by a test on loopback ports: an HTTP server
//! ([`HttpSink`]) that records every request and answers as the test says — OK, an error,
//! never (a hung receiver), or not at all (down), for all requests or those whose body holds
//! a given text — and an SMTP server ([`SmtpSink`], Python's
//! aiosmtpd from Debian's `python3-aiosmtpd`) that saves every message it accepts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::wait_until;

/// One request the HTTP receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// `POST`.
    pub method: String,
    /// The path and query.
    pub path: String,
    /// Header names in lower case, with their values.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
}

impl Received {
    /// The value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// How the HTTP receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 200 OK.
    Ok,
    /// This status (records the request all the same).
    Status(u16),
    /// Reads the request, records it, and never answers (until the sink is dropped).
    Hang,
}

struct Shared {
    answer: Mutex<Answer>,
    /// `(needle, answer)`: a request whose body contains `needle` gets `answer`.
    rules: Mutex<Vec<(Vec<u8>, Answer)>>,
    got: Mutex<Vec<Received>>,
    stop: AtomicBool,
}

/// An HTTP server on a loopback port that records requests.
pub struct HttpSink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// Set while the listener runs; cleared by [`HttpSink::down`].
    up: Option<Arc<AtomicBool>>,
}

impl HttpSink {
    /// Starts answering 200 on a free loopback port.
    pub fn start() -> HttpSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("local addr");
        let mut sink = HttpSink {
            addr,
            shared: Arc::new(Shared {
                answer: Mutex::new(Answer::Ok),
                rules: Mutex::new(Vec::new()),
                got: Mutex::new(Vec::new()),
                stop: AtomicBool::new(false),
            }),
            up: None,
        };
        sink.serve(listener);
        sink
    }

    fn serve(&mut self, listener: TcpListener) {
        listener.set_nonblocking(true).expect("nonblocking");
        let up = Arc::new(AtomicBool::new(true));
        self.up = Some(up.clone());
        let shared = self.shared.clone();
        std::thread::spawn(move || {
            while up.load(Ordering::SeqCst) && !shared.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let shared = shared.clone();
                        std::thread::spawn(move || handle(stream, &shared));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => return,
                }
            }
            // Dropping the listener closes the port: connections are refused from now on.
        });
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers from now on with `answer`.
    pub fn answer(&self, answer: Answer) {
        *self.shared.answer.lock().expect("lock") = answer;
    }

    /// Answers a request whose body contains `needle` with `answer` from now on (the first
    /// such rule wins), whatever [`HttpSink::answer`] says for the others.
    pub fn answer_when(&self, needle: &str, answer: Answer) {
        assert!(!needle.is_empty(), "an empty needle matches everything");
        self.shared
            .rules
            .lock()
            .expect("lock")
            .push((needle.as_bytes().to_vec(), answer));
    }

    /// Forgets every [`HttpSink::answer_when`] rule.
    pub fn clear_rules(&self) {
        self.shared.rules.lock().expect("lock").clear();
    }

    /// Stops listening: connections are refused until [`HttpSink::up`].
    pub fn down(&mut self) {
        if let Some(up) = self.up.take() {
            up.store(false, Ordering::SeqCst);
        }
        // Wait until the port refuses.
        wait_until(Duration::from_secs(5), "the receiver to go down", || {
            TcpStream::connect(self.addr).is_err().then_some(())
        });
    }

    /// Listens again on the same port.
    pub fn up(&mut self) {
        let listener = wait_until(Duration::from_secs(5), "the port to be free again", || {
            TcpListener::bind(self.addr).ok()
        });
        self.serve(listener);
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.got.lock().expect("lock").clone()
    }

    /// Waits until `n` requests to `path` arrived, and returns them.
    pub fn wait_for(&self, path: &str, n: usize, timeout: Duration) -> Vec<Received> {
        wait_until(timeout, &format!("{n} requests to {path}"), || {
            let got: Vec<Received> = self
                .received()
                .into_iter()
                .filter(|r| r.path == path)
                .collect();
            (got.len() >= n).then_some(got)
        })
    }
}

impl Drop for HttpSink {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(up) = self.up.take() {
            up.store(false, Ordering::SeqCst);
        }
    }
}

fn handle(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let ruled = shared
            .rules
            .lock()
            .expect("lock")
            .iter()
            .find(|(needle, _)| body.windows(needle.len()).any(|w| w == needle.as_slice()))
            .map(|(_, a)| *a);
        shared.got.lock().expect("lock").push(Received {
            method,
            path,
            headers,
            body,
        });
        let answer = ruled.unwrap_or_else(|| *shared.answer.lock().expect("lock"));
        let status = match answer {
            Answer::Ok => 200,
            Answer::Status(s) => s,
            Answer::Hang => {
                // Hold the connection, answering nothing, until the sink goes away.
                while !shared.stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                return;
            }
        };
        let reply = format!(
            "HTTP/1.1 {status} X\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok"
        );
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// One message the SMTP server accepted.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Mail {
    /// The envelope sender.
    pub mail_from: String,
    /// The envelope recipients.
    pub rcpt_to: Vec<String>,
    /// The login used (`AUTH`), if any.
    pub login: Option<String>,
    /// Headers, decoded.
    pub headers: Vec<(String, String)>,
    /// The text body, decoded.
    pub body: String,
    /// Whether the session had switched to TLS (STARTTLS) when the message came.
    pub tls: bool,
}

impl Mail {
    /// The value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An SMTP server (aiosmtpd) on a loopback port that saves each message as JSON, and takes
/// `AUTH` with one user and password (without TLS, or with STARTTLS required, as started).
/// It refuses senders and recipients as [`SmtpSink::refuse`] says.
pub struct SmtpSink {
    /// Its port.
    pub port: u16,
    dir: tempfile::TempDir,
    rules: tempfile::TempDir,
    child: Child,
}

const SMTP_SERVER: &str = r#"
import asyncio, email, email.policy, json, os, sys
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

out, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
cert, key, rules_path = sys.argv[5], sys.argv[6], sys.argv[7]

def rules():
    try:
        with open(rules_path) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}

def auth(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == password
    return AuthResult(success=ok, auth_data=data if ok else None)

class Save:
    n = 0
    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        refuse = rules().get("mail")
        if refuse:
            return refuse
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refuse = rules().get("rcpt", {}).get(address)
        if refuse:
            return refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        Save.n += 1
        rec = {
            "mail_from": envelope.mail_from,
            "rcpt_to": list(envelope.rcpt_tos),
            "login": session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None,
            "headers": [[k, str(v)] for k, v in msg.items()],
            "body": body.get_content() if body is not None else "",
            "tls": session.ssl is not None,
        }
        tmp = os.path.join(out, ".%d.tmp" % Save.n)
        with open(tmp, "w") as f:
            json.dump(rec, f)
        os.rename(tmp, os.path.join(out, "%06d.json" % Save.n))
        return "250 OK"

tls = {}
if cert:
    import ssl
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    tls = {"tls_context": ctx, "require_starttls": True}
c = Controller(Save(), hostname="127.0.0.1", port=port, authenticator=auth, auth_require_tls=False, **tls)
c.start()
print("ready", flush=True)
try:
    sys.stdin.read()
finally:
    c.stop()
"#;

impl SmtpSink {
    /// Starts aiosmtpd on a free loopback port, taking `AUTH` as `user`/`password`.
    pub fn start(user: &str, password: &str) -> SmtpSink {
        SmtpSink::start_with(user, password, None)
    }

    /// Like [`SmtpSink::start`], and with `tls` (a PEM certificate and key file) it offers
    /// STARTTLS and requires it before anything else.
    pub fn start_with(
        user: &str,
        password: &str,
        tls: Option<(&std::path::Path, &std::path::Path)>,
    ) -> SmtpSink {
        let dir = tempfile::tempdir().expect("temp dir");
        let rules = tempfile::tempdir().expect("temp dir");
        let (cert, key) = tls.map_or((String::new(), String::new()), |(c, k)| {
            (c.display().to_string(), k.display().to_string())
        });
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        // Debian's python3 (with python3-aiosmtpd), not whatever python3 is first on PATH.
        let mut child = Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(SMTP_SERVER)
            .arg(dir.path())
            .arg(port.to_string())
            .arg(user)
            .arg(password)
            .arg(cert)
            .arg(key)
            .arg(rules.path().join("rules.json"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start /usr/bin/python3 (install python3-aiosmtpd: scripts/test does)");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("aiosmtpd's first line");
        assert_eq!(
            first.trim(),
            "ready",
            "aiosmtpd did not start (is python3-aiosmtpd installed?)"
        );
        SmtpSink {
            port,
            dir,
            rules,
            child,
        }
    }

    /// From now on, answers `RCPT TO` of each `(address, reply)` in `rcpt` with that reply
    /// (`"550 5.1.1 no such user"`), and `MAIL FROM` with `mail` if given; the rest is taken.
    pub fn refuse(&self, rcpt: &[(&str, &str)], mail: Option<&str>) {
        let rcpt: serde_json::Map<String, serde_json::Value> = rcpt
            .iter()
            .map(|(a, r)| ((*a).to_owned(), serde_json::Value::from(*r)))
            .collect();
        let rules = serde_json::json!({"rcpt": rcpt, "mail": mail});
        let tmp = self.rules.path().join("rules.tmp");
        std::fs::write(&tmp, rules.to_string()).expect("write rules");
        std::fs::rename(&tmp, self.rules.path().join("rules.json")).expect("rename rules");
    }

    /// Every message so far, in arrival order.
    pub fn mails(&self) -> Vec<Mail> {
        let mut names: Vec<_> = std::fs::read_dir(self.dir.path())
            .expect("read dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p).expect("read mail");
                serde_json::from_str(&text).expect("mail JSON")
            })
            .collect()
    }

    /// Waits until `n` messages arrived, and returns them.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Mail> {
        wait_until(timeout, &format!("{n} emails"), || {
            let m = self.mails();
            (m.len() >= n).then_some(m)
        })
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
