//! docs/api.md stays true to this crate: one `### name` section per method of
//! [`jit_api::methods::ALL`], in that order and no others; every error code and status; the
//! protocol version; every event kind; and examples (calls, answers and event notifications)
//! that the parameter, result and event types accept as they are.

use std::path::PathBuf;

use jit_api::methods::{
    AdminOrphans, AdminReload, AdminStatus, AuditList, AuditVerify, CatalogList, CredentialsReset,
    CredentialsReveal, DaemonMetrics, DaemonStatusMethod, EVENT_NOTIFICATION, EventsSubscribe,
    EventsUnsubscribe, GrantExtend, GrantRevoke, RequestAgain, RequestApprove, RequestCancel,
    RequestCreate, RequestGet, RequestList, RequestReject, RequestWait, SavedDelete, SavedList,
    SavedSave, SessionConnect, SessionRegister,
};
use jit_api::{ErrorCode, EventKind, EventNotification, Method, PROTOCOL_VERSION, Status, methods};
use serde_json::Value;

/// The JSON-RPC 2.0 reserved codes jitd uses, with the names the docs give them.
const RESERVED: [(i32, &str); 5] = [
    (-32700, "parse_error"),
    (-32600, "invalid_request"),
    (-32601, "method_not_found"),
    (-32602, "invalid_params"),
    (-32603, "internal_error"),
];

fn doc_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/api.md")
}

/// docs/api.md as (line number, line) pairs, with whether each line is inside a code fence.
fn doc_lines() -> Vec<(usize, bool, String)> {
    let path = doc_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut fenced = false;
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let fence = line.trim_start().starts_with("```");
            if fence {
                fenced = !fenced;
            }
            (i + 1, fenced || fence, line.to_owned())
        })
        .collect()
}

/// Whether a heading's text looks like a method name (`request.create`).
fn is_method_name(s: &str) -> bool {
    s.contains('.')
        && !s.starts_with('.')
        && !s.ends_with('.')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
}

/// A `### name` section whose name looks like a method.
struct Section {
    name: String,
    line: usize,
    /// The lines up to the next heading of level 1 to 3.
    body: Vec<(usize, bool, String)>,
}

fn method_sections() -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    let mut current: Option<Section> = None;
    for (n, fenced, line) in doc_lines() {
        let heading_level = if fenced {
            0
        } else {
            line.chars().take_while(|c| *c == '#').count()
        };
        let is_heading = (1..=3).contains(&heading_level) && line[heading_level..].starts_with(' ');
        if is_heading {
            sections.extend(current.take());
            let name = line[heading_level..].trim().trim_matches('`').to_owned();
            if heading_level == 3 && is_method_name(&name) {
                current = Some(Section {
                    name,
                    line: n,
                    body: Vec::new(),
                });
            }
            continue;
        }
        if let Some(s) = current.as_mut() {
            s.body.push((n, fenced, line));
        }
    }
    sections.extend(current);
    sections
}

/// The cells of a Markdown table row, trimmed, without the outer pipes.
fn cells(line: &str) -> Option<Vec<String>> {
    let line = line.trim();
    let inner = line.strip_prefix('|')?.strip_suffix('|')?;
    Some(inner.split('|').map(|c| c.trim().to_owned()).collect())
}

#[test]
fn every_method_has_exactly_one_section() {
    let sections = method_sections();
    let mut problems = Vec::new();
    for name in methods::ALL {
        let lines: Vec<usize> = sections
            .iter()
            .filter(|s| s.name == *name)
            .map(|s| s.line)
            .collect();
        match lines.len() {
            1 => {}
            0 => problems.push(format!(
                "no `### {name}` section: add one (what it does, who may call it, parameters, \
                 result, errors, an example) under \"## Methods\""
            )),
            _ => problems.push(format!(
                "`### {name}` appears {} times (lines {lines:?}): keep one and remove the others",
                lines.len()
            )),
        }
    }
    assert!(
        problems.is_empty(),
        "docs/api.md and jit_api::methods::ALL disagree:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn every_method_section_is_a_method() {
    let extra: Vec<String> = method_sections()
        .into_iter()
        .filter(|s| !methods::ALL.contains(&s.name.as_str()))
        .map(|s| {
            format!(
                "line {}: `### {}` is not in jit_api::methods::ALL: remove the section (or \
                 rename it to the method's real name), or add the method to api/src/methods.rs",
                s.line, s.name
            )
        })
        .collect();
    assert!(
        extra.is_empty(),
        "docs/api.md documents methods that do not exist:\n  {}",
        extra.join("\n  ")
    );
}

#[test]
fn method_sections_follow_the_order_of_all() {
    let mut found: Vec<String> = Vec::new();
    for s in method_sections() {
        if methods::ALL.contains(&s.name.as_str()) && !found.contains(&s.name) {
            found.push(s.name);
        }
    }
    let expected: Vec<&str> = methods::ALL
        .iter()
        .copied()
        .filter(|m| found.iter().any(|f| f == m))
        .collect();
    if let Some(i) = (0..expected.len()).find(|&i| found[i] != expected[i]) {
        let hint = if i == 0 {
            format!("move `### {}` to the start of the methods", expected[0])
        } else {
            format!(
                "move `### {}` right after `### {}`",
                expected[i],
                expected[i - 1]
            )
        };
        panic!(
            "the method sections of docs/api.md are not in the order of \
             jit_api::methods::ALL: {hint}\n  expected: {}\n  found:    {}",
            expected.join(", "),
            found.join(", ")
        );
    }
}

#[test]
fn every_error_code_is_documented() {
    let lines = doc_lines();
    let rows: Vec<(usize, Vec<String>)> = lines
        .iter()
        .filter(|(_, fenced, _)| !fenced)
        .filter_map(|(n, _, l)| cells(l).map(|c| (*n, c)))
        .filter(|(_, c)| c.len() >= 3 && c[0].parse::<i32>().is_ok())
        .collect();
    let known: Vec<(i32, &str)> = ErrorCode::ALL
        .iter()
        .map(|c| (c.code(), c.name()))
        .chain(RESERVED)
        .collect();
    let mut problems = Vec::new();
    for (code, name) in &known {
        if !rows
            .iter()
            .any(|(_, c)| c[0] == code.to_string() && c[1] == *name)
        {
            problems.push(format!(
                "no row `| {code} | {name} | when it happens |` in the tables of \"## Errors\": add one"
            ));
        }
    }
    for (n, c) in &rows {
        let code: i32 = c[0].parse().unwrap_or_default();
        match known.iter().find(|(k, _)| *k == code) {
            None => problems.push(format!(
                "line {n}: error code {code} is not one of jit's (api/src/error.rs) or the \
                 JSON-RPC codes jitd uses: remove the row, or add the code to ErrorCode"
            )),
            Some((_, name)) if c[1] != *name => problems.push(format!(
                "line {n}: error code {code} is named `{}` here but `{name}` in the code: \
                 write `{name}`",
                c[1]
            )),
            Some(_) => {}
        }
    }
    assert!(
        problems.is_empty(),
        "docs/api.md and the error codes disagree:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn every_status_is_documented_as_open_or_closed() {
    let lines = doc_lines();
    let rows: Vec<(usize, Vec<String>)> = lines
        .iter()
        .filter(|(_, fenced, _)| !fenced)
        .filter_map(|(n, _, l)| cells(l).map(|c| (*n, c)))
        .filter(|(_, c)| c.len() >= 3 && (c[1] == "open" || c[1] == "closed"))
        .collect();
    let mut problems = Vec::new();
    for status in Status::ALL {
        let word = format!("`{}`", status.as_str());
        let want = if status.is_open() { "open" } else { "closed" };
        match rows.iter().find(|(_, c)| c[0] == word) {
            None => problems.push(format!(
                "no row `| {word} | {want} | meaning |` in the table of \"## Statuses\": add one"
            )),
            Some((n, c)) if c[1] != want => problems.push(format!(
                "line {n}: {word} is marked {} but Status::is_open says {want}: write {want}",
                c[1]
            )),
            Some(_) => {}
        }
    }
    for (n, c) in &rows {
        if !Status::ALL
            .iter()
            .any(|s| c[0] == format!("`{}`", s.as_str()))
        {
            problems.push(format!(
                "line {n}: {} is not a status of jit_api::Status: remove the row, or add the \
                 status to api/src/types.rs",
                c[0]
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "docs/api.md and jit_api::Status disagree:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_protocol_version_is_stated() {
    let want = format!("Protocol version: {PROTOCOL_VERSION}");
    let stated: Vec<(usize, String)> = doc_lines()
        .into_iter()
        .filter(|(_, fenced, l)| {
            !fenced && l.trim().trim_matches('*').starts_with("Protocol version:")
        })
        .map(|(n, _, l)| (n, l.trim().trim_matches('*').trim().to_owned()))
        .collect();
    assert!(
        stated.iter().any(|(_, l)| *l == want),
        "docs/api.md must state the protocol version on a line of its own, `{want}` \
         (PROTOCOL_VERSION in api/src/lib.rs); found: {stated:?}"
    );
    let wrong: Vec<&(usize, String)> = stated.iter().filter(|(_, l)| *l != want).collect();
    assert!(
        wrong.is_empty(),
        "docs/api.md states another protocol version than `{want}`: fix or remove {wrong:?}"
    );
}

/// Checks one example exchange of method `M`: the call's params are `M::Params`, and a result
/// is an `M::Output` that serializes back to exactly what the doc shows.
fn check_exchange<M: Method>(call: &Value, answer: &Value) -> Result<(), String> {
    if call.get("jsonrpc") != Some(&Value::from("2.0")) {
        return Err("the call lacks \"jsonrpc\":\"2.0\"".into());
    }
    if call.get("method") != Some(&Value::from(M::NAME)) {
        return Err(format!(
            "the call's method is {}, not {}",
            call.get("method").unwrap_or(&Value::Null),
            M::NAME
        ));
    }
    let Some(id) = call.get("id") else {
        return Err("the call has no id (a notification gets no answer)".into());
    };
    let params = call
        .get("params")
        .cloned()
        .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
    serde_json::from_value::<M::Params>(params)
        .map_err(|e| format!("the params do not fit {}'s parameters: {e}", M::NAME))?;
    if answer.get("id") != Some(id) {
        return Err(format!(
            "the answer's id {} does not match the call's id {id}",
            answer.get("id").unwrap_or(&Value::Null)
        ));
    }
    if let Some(err) = answer.get("error") {
        let code = err
            .get("code")
            .and_then(Value::as_i64)
            .and_then(|c| i32::try_from(c).ok())
            .ok_or("the error has no integer code")?;
        if ErrorCode::from_code(code).is_none() && !RESERVED.iter().any(|(c, _)| *c == code) {
            return Err(format!("error code {code} is not a code jitd sends"));
        }
        if !err.get("message").is_some_and(Value::is_string) {
            return Err("the error has no message".into());
        }
        return Ok(());
    }
    let Some(result) = answer.get("result") else {
        return Err("the answer has neither result nor error".into());
    };
    let parsed = serde_json::from_value::<M::Output>(result.clone())
        .map_err(|e| format!("the result is not a valid {} result: {e}", M::NAME))?;
    let again = serde_json::to_value(&parsed).map_err(|e| e.to_string())?;
    let mut diffs = Vec::new();
    diff("result", result, &again, &mut diffs);
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the result is not what jitd would send: {}",
            diffs.join("; ")
        ))
    }
}

/// Where `shown` (the doc) and `sent` (what the types serialize) differ, as fixes to make.
fn diff(path: &str, shown: &Value, sent: &Value, out: &mut Vec<String>) {
    match (shown, sent) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    Some(w) => diff(&format!("{path}.{k}"), v, w, out),
                    None => out.push(format!(
                        "remove {path}.{k}: the type has no such field (or leaves it out when empty)"
                    )),
                }
            }
            for k in b.keys().filter(|k| !a.contains_key(*k)) {
                out.push(format!("add {path}.{k}: it is always sent"));
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                diff(&format!("{path}[{i}]"), v, w, out);
            }
        }
        _ if shown != sent => out.push(format!("{path} is {shown} but would be sent as {sent}")),
        _ => {}
    }
}

/// Checks one event notification: its method, and an event that serializes back to exactly
/// what the doc shows.
fn check_notification(line: &Value) -> Result<(), String> {
    if line.get("jsonrpc") != Some(&Value::from("2.0")) {
        return Err("the notification lacks \"jsonrpc\":\"2.0\"".into());
    }
    if line.get("method") != Some(&Value::from(EVENT_NOTIFICATION)) {
        return Err(format!(
            "a notification's method is {EVENT_NOTIFICATION}, not {}",
            line.get("method").unwrap_or(&Value::Null)
        ));
    }
    let params = line.get("params").cloned().unwrap_or(Value::Null);
    let parsed = serde_json::from_value::<EventNotification>(params.clone())
        .map_err(|e| format!("the notification's params are not an event: {e}"))?;
    let again = serde_json::to_value(&parsed).map_err(|e| e.to_string())?;
    let mut diffs = Vec::new();
    diff("params", &params, &again, &mut diffs);
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the event is not what jitd would send: {}",
            diffs.join("; ")
        ))
    }
}

#[test]
fn every_event_kind_is_documented() {
    // The rows of the table under `### EventKind`.
    let mut inside = false;
    let mut rows: Vec<(usize, String)> = Vec::new();
    for (n, fenced, line) in doc_lines() {
        if fenced {
            continue;
        }
        if line.starts_with('#') {
            inside = line.trim_start_matches('#').trim() == "EventKind";
            continue;
        }
        if inside
            && let Some(c) = cells(&line)
            && c[0].starts_with('`')
        {
            rows.push((n, c[0].trim_matches('`').to_owned()));
        }
    }
    let mut problems = Vec::new();
    for kind in EventKind::ALL {
        if !rows.iter().any(|(_, k)| k == kind.as_str()) {
            problems.push(format!(
                "no row `| `{kind}` | who gets it | meaning |` under \"### EventKind\": add one"
            ));
        }
    }
    for (n, k) in &rows {
        if !EventKind::ALL.iter().any(|e| e.as_str() == k) {
            problems.push(format!(
                "line {n}: `{k}` is not an event kind of jit_api::EventKind: remove the row, \
                 or add the kind to api/src/types.rs"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "docs/api.md and jit_api::EventKind disagree:\n  {}",
        problems.join("\n  ")
    );
}

/// Dispatches to [`check_exchange`] for the method named `name`.
fn check_named(name: &str, call: &Value, answer: &Value) -> Result<(), String> {
    macro_rules! dispatch {
        ($($m:ty),* $(,)?) => {
            $(
                if name == <$m as Method>::NAME {
                    return check_exchange::<$m>(call, answer);
                }
            )*
        };
    }
    dispatch!(
        DaemonStatusMethod,
        CatalogList,
        RequestCreate,
        RequestList,
        RequestGet,
        RequestWait,
        RequestApprove,
        RequestReject,
        RequestCancel,
        RequestAgain,
        GrantRevoke,
        GrantExtend,
        CredentialsReveal,
        CredentialsReset,
        SessionConnect,
        SessionRegister,
        AuditList,
        AuditVerify,
        EventsSubscribe,
        EventsUnsubscribe,
        DaemonMetrics,
        AdminReload,
        AdminStatus,
        AdminOrphans,
        SavedSave,
        SavedList,
        SavedDelete,
    );
    if methods::ALL.contains(&name) {
        Err(format!(
            "api/tests/docs.rs cannot check examples of {name}: add its type to `dispatch!` \
             in check_named"
        ))
    } else {
        Err(format!(
            "the example calls \"{name}\", which is not in jit_api::methods::ALL: fix the call"
        ))
    }
}

#[test]
fn method_examples_fit_the_types() {
    let mut problems = Vec::new();
    for s in method_sections() {
        if !methods::ALL.contains(&s.name.as_str()) {
            continue;
        }
        let mut call: Option<(usize, Value)> = None;
        let mut results = 0;
        for (n, fenced, line) in &s.body {
            if !fenced {
                continue;
            }
            let (arrow, json) = if let Some(j) = line.strip_prefix("→ ") {
                ('→', j)
            } else if let Some(j) = line.strip_prefix("← ") {
                ('←', j)
            } else {
                continue;
            };
            let value: Value = match serde_json::from_str(json) {
                Ok(v) => v,
                Err(e) => {
                    problems.push(format!("line {n} ({}): not one JSON object: {e}", s.name));
                    continue;
                }
            };
            if arrow == '→' {
                call = Some((*n, value));
                continue;
            }
            // A notification pushed by a subscription answers no call.
            if value.get("method").is_some() && value.get("id").is_none() {
                if let Err(e) = check_notification(&value) {
                    problems.push(format!("line {n} ({}): {e}", s.name));
                }
                continue;
            }
            let Some((_, sent)) = call.take() else {
                problems.push(format!(
                    "line {n} ({}): an answer (←) without a call (→) before it",
                    s.name
                ));
                continue;
            };
            // A section may show a follow-up call of another method (revoke, then wait);
            // each exchange is checked against the method it calls.
            let method = sent
                .get("method")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let own = method == s.name;
            if own && value.get("result").is_some() {
                results += 1;
            }
            if let Some(code) = value.pointer("/error/code").and_then(Value::as_i64) {
                let listed = s
                    .body
                    .iter()
                    .any(|(_, f, l)| !f && l.contains(&code.to_string()));
                if own && !listed && code > 0 {
                    problems.push(format!(
                        "line {n} ({}): the example returns error {code}, which the section's \
                         errors do not list: add it",
                        s.name
                    ));
                }
            }
            if let Err(e) = check_named(method, &sent, &value) {
                problems.push(format!("line {n} ({}): {e}", s.name));
            }
        }
        if let Some((n, _)) = call {
            problems.push(format!(
                "line {n} ({}): a call (→) without its answer (←) on a later line",
                s.name
            ));
        }
        if results == 0 {
            problems.push(format!(
                "line {} ({}): no example of a successful call of {}: add a ```text block \
                 with a `→ {{call}}` line and its `← {{\"result\":…}}` line",
                s.line, s.name, s.name
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "examples in docs/api.md do not fit the types of jit-api:\n  {}",
        problems.join("\n  ")
    );
}
