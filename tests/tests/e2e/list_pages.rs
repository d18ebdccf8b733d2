//! `request.list` pages: `before` walks a long history newest first, page by page, for every
//! scope, and the CLI says how to read the next page when one comes back full.

use jit_api::methods::{ListParams, RequestList, Scope};
use jit_tests::Daemon;
use jit_tests::users::{Group, User};

fn config(dev: &Group) -> String {
    format!(
        r#"
[daemon]
admins = ["root"]

[[integrations]]
name = "demo"
kind = "dry-run"
resource_types = {{ database = ["read"] }}

[[flows]]
name = "demo-read"
requesters = ["%{dev}"]
integration = "demo"
permissions = ["read"]
max_duration = "2h"
"#,
        dev = dev.name,
    )
}

/// Every page of a listing, `limit` at a time, as ids.
fn pages(d: &Daemon, user: Option<&User>, params: &ListParams, limit: u32) -> Vec<Vec<u64>> {
    let mut out = Vec::new();
    let mut before = None;
    loop {
        let p = ListParams {
            limit: Some(limit),
            before,
            ..params.clone()
        };
        let page: Vec<u64> = match user {
            Some(u) => d.connect_as(u).call::<RequestList>(&p),
            None => d.call::<RequestList>(&p),
        }
        .expect("list")
        .iter()
        .map(|r| r.id)
        .collect();
        if page.is_empty() {
            return out;
        }
        before = page.last().copied();
        out.push(page);
    }
}

/// The ids in a `jit ls` table's first column.
fn ids_in(table: &str) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

#[test]
fn before_pages_through_requests_newest_first() {
    let dev = Group::create("dev");
    let alice = User::create("a", &[&dev]);
    let bob = User::create("b", &[&dev]);
    let d = Daemon::start(&config(&dev));
    let create = |u: &User| {
        d.jit_json(
            Some(u),
            &[
                "request",
                "demo/database",
                "orders",
                "--perm",
                "read",
                "--for",
                "1h",
            ],
        )["id"]
            .as_u64()
            .expect("id")
    };
    // alice: 1..=5 (3 and 5 revoked), bob: 6, 7 (7 revoked).
    let ids: Vec<u64> = (0..5).map(|_| create(&alice)).collect();
    let b: Vec<u64> = (0..2).map(|_| create(&bob)).collect();
    for id in [ids[2], ids[4], b[1]] {
        let out = d.jit(None, &["admin", "revoke", &id.to_string()]);
        assert!(out.status.success(), "{out:?}");
    }

    let open = ListParams::default();
    assert_eq!(
        pages(&d, Some(&alice), &open, 2),
        vec![vec![ids[3], ids[1]], vec![ids[0]]],
        "alice's open requests, two at a time"
    );
    let all_mine = ListParams {
        closed: true,
        ..ListParams::default()
    };
    assert_eq!(
        pages(&d, Some(&alice), &all_mine, 1),
        vec![vec![ids[4]], vec![ids[2]]],
        "alice's history, one at a time"
    );
    let everyone_closed = ListParams {
        closed: true,
        scope: Scope::All,
        ..ListParams::default()
    };
    assert_eq!(
        pages(&d, None, &everyone_closed, 2),
        vec![vec![b[1], ids[4]], vec![ids[2]]],
        "every closed request (admin), two at a time"
    );
    let everyone_open = ListParams {
        scope: Scope::All,
        ..ListParams::default()
    };
    assert_eq!(
        pages(&d, None, &everyone_open, 2),
        vec![vec![b[0], ids[3]], vec![ids[1], ids[0]]],
        "every open request (admin), two at a time"
    );

    // The CLI: a full page ends with how to read the next one; the last page does not.
    let out = d.jit(Some(&alice), &["ls", "--limit", "2"]);
    assert!(out.status.success(), "{out:?}");
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(
        note.contains(&format!("older ones: add --before {}", ids[1])),
        "{note}"
    );
    let out = d.jit(
        Some(&alice),
        &["ls", "--limit", "2", "--before", &ids[1].to_string()],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(ids_in(&String::from_utf8_lossy(&out.stdout)), vec![ids[0]]);
    assert!(out.stderr.is_empty(), "the last page has no note: {out:?}");
    let out = d.jit(
        None,
        &[
            "admin",
            "ls",
            "--closed",
            "--limit",
            "1",
            "--before",
            &ids[4].to_string(),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(ids_in(&String::from_utf8_lossy(&out.stdout)), vec![ids[2]]);
}
