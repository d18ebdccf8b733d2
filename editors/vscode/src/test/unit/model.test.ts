// Unit tests of model.ts on requests shaped like docs/api.md's examples: the tree, the
// status bar's countdown, catalog choices and the parameters they make, and event notices.
// The daemon tests (test/daemon) check the same functions on a real jitd's answers.

import * as assert from "node:assert/strict";
import { test } from "node:test";

import { CatalogEntry, JitEvent, Request } from "../../api";
import { buildTree, catalogChoices, createParams, eventNotice, matchesPattern, nearestExpiry, statusBar } from "../../model";

const NOW = Date.parse("2026-11-23T22:00:00Z");

function request(over: Partial<Request>): Request {
  return {
    id: 1,
    requester: "alice",
    flow: "pg-read",
    entries: [{ integration: "pg-main", resource_type: "database", resources: ["orders"], permissions: ["read"] }],
    status: "granted",
    duration_secs: 3600,
    created_at: "2026-11-23T21:00:00Z",
    approval: { mode: "auto", approvers: [], required: 0, approvals: [] },
    sessions: [
      {
        integration: "pg-main",
        kind: "postgres",
        resources: ["orders"],
        credentials: "unrevealed",
        rotated: false,
        connect: ["terminal", "app"],
        message: "Production replica: keep queries light.",
        dry_run: false,
      },
    ],
    dry_run: false,
    break_glass: false,
    extensions: [],
    ...over,
  };
}

const at = (secsFromNow: number) => new Date(NOW + secsFromNow * 1000).toISOString();

test("the nearest expiry is the granted request that ends first", () => {
  const a = request({ id: 1, expires_at: at(3000) });
  const b = request({ id: 2, expires_at: at(545) });
  const pending = request({ id: 3, status: "pending", expires_at: undefined });
  const revoking = request({ id: 4, status: "revoking", expires_at: at(10) });
  assert.deepEqual(nearestExpiry([a, b, pending, revoking], NOW), { request: b, secs: 545 });
  assert.equal(nearestExpiry([pending], NOW), undefined);
});

test("the status bar counts down to the nearest expiry and warns in its last 10 minutes", () => {
  const idle = statusBar([], [], NOW);
  assert.deepEqual(idle, { text: "$(key) jit", tooltip: "No active grants", warning: false });

  const far = statusBar([request({ expires_at: at(3000) })], [], NOW);
  assert.equal(far.text, "$(key) 50:00");
  assert.equal(far.warning, false);
  assert.match(far.tooltip, /^Request 1 \(pg-main\/database orders \(read\)\) expires in 50m \(\d\d:\d\d\)$/);

  const near = statusBar(
    [request({ id: 1, expires_at: at(3000) }), request({ id: 2, expires_at: at(545) }), request({ id: 3, status: "pending" })],
    [request({ id: 9, requester: "bob", status: "pending" }), request({ id: 10, requester: "dave", break_glass: true })],
    NOW,
  );
  assert.equal(near.text, "$(key) 9:05 +1 $(bell) 1");
  assert.equal(near.warning, true);
  assert.match(near.tooltip, /Request 2 .* expires in 9m/);
  assert.match(near.tooltip, /2 active grants/);
  assert.match(near.tooltip, /1 of your requests waits for approval/);
  assert.match(near.tooltip, /1 request waits for your approval/);
});

test("the tree groups active grants, own requests waiting, and what waits for the caller", () => {
  const tree = buildTree(
    [
      request({ id: 1, expires_at: at(3000) }),
      request({ id: 2, expires_at: at(600), pending_extension: { by: "alice", at: at(-1), added_secs: 1800, approvals: [] } }),
      request({ id: 3, status: "pending", sessions: [], approval: { mode: "manual", approvers: ["carol", "%dba"], required: 1, approvals: [] } }),
      request({ id: 4, status: "revoking", revoking: { attempts: 2, error: "server down", next_retry_at: at(4), outcome: "revoked" } }),
      request({ id: 5, status: "expired" }),
    ],
    [
      request({ id: 7, requester: "bob", status: "pending", justification: "INC-1" }),
      request({ id: 8, requester: "bob", pending_extension: { by: "bob", at: at(-1), added_secs: 600, approvals: [] } }),
      request({ id: 9, requester: "dave", break_glass: true }),
    ],
    NOW,
  );
  assert.deepEqual(
    tree.map((g) => [g.label, g.children?.map((c) => [c.label, c.description, c.contextValue])]),
    [
      [
        "Active grants",
        [
          ["2 pg-main/database orders (read)", "expires in 10m, +30m waits for approval", "connect revoke"],
          ["1 pg-main/database orders (read)", "expires in 50m", "connect extend revoke"],
          ["4 pg-main/database orders (read)", "revoking (retrying: server down)", ""],
        ],
      ],
      ["Your requests", [["3 pg-main/database orders (read)", "Pending: carol, %dba", "cancel"]]],
      [
        "Waiting for you",
        [
          ["7 pg-main/database orders (read)", "bob asks: INC-1", "approve reject"],
          ["8 pg-main/database orders (read)", "bob asks +10m", "approve reject"],
          ["9 pg-main/database orders (read)", "break-glass by dave: review it", ""],
        ],
      ],
    ],
  );
  assert.match(tree[0].children?.[1].tooltip ?? "", /pg-main: Production replica: keep queries light\./);
  // Unique ids: a request may be both the caller's own and one to review (an admin's own).
  const ids = tree.flatMap((g) => [g.id, ...(g.children ?? []).map((c) => c.id)]);
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual(buildTree([], [], NOW), []);
});

const CATALOG: CatalogEntry[] = [
  {
    flow: "pg-read",
    integration: "pg-main",
    kind: "postgres",
    bundles: [],
    max_extensions: 2,
    break_glass: false,
    resource_types: [{ name: "database", permissions: ["read"] }],
    resources: ["*"],
    approval: "auto",
    approvers: [],
    approvals_required: 0,
    default_duration_secs: 3600,
    max_duration_secs: 14400,
    justification_required: true,
    justification_pattern: "^INC-[0-9]+",
    dry_run: false,
  },
  {
    flow: "oncall",
    integration: "",
    kind: "",
    bundles: [
      {
        name: "oncall",
        entries: [{ integration: "pg-main", resource_type: "database", resources: ["orders"], permissions: ["read"] }],
      },
    ],
    max_extensions: 1,
    break_glass: false,
    resource_types: [],
    resources: [],
    approval: "manual",
    approvers: ["carol", "%dba"],
    approvals_required: 1,
    default_duration_secs: 14400,
    max_duration_secs: 28800,
    justification_required: false,
    dry_run: false,
  },
];

test("catalog choices name what can be requested, and make request.create's parameters", () => {
  const choices = catalogChoices(CATALOG);
  assert.deepEqual(
    choices.map((c) => [c.label, c.description, c.detail]),
    [
      ["pg-main/database", "flow pg-read", "read on * · approved at once · 1h by default, at most 4h"],
      ["bundle oncall", "flow oncall", "pg-main/database orders (read) · approved by carol, %dba · 4h by default, at most 8h"],
    ],
  );
  assert.deepEqual(
    createParams(choices[0].target, {
      resources: [" orders ", "", "billing"],
      permissions: ["read"],
      durationSecs: 1800,
      justification: " INC-4312 ",
    }),
    {
      integration: "pg-main",
      resource_type: "database",
      resources: ["orders", "billing"],
      permissions: ["read"],
      duration_secs: 1800,
      justification: "INC-4312",
    },
  );
  assert.deepEqual(createParams(choices[1].target, {}), { bundle: "oncall" });
  assert.throws(() => createParams(choices[0].target, { resources: ["orders"], permissions: ["read"] }), /flow pg-read needs a justification matching \^INC-\[0-9\]\+/);
  assert.throws(() => createParams(choices[0].target, { resources: [" "], permissions: ["read"], justification: "INC-1" }), /name at least one resource of pg-main\/database/);
  assert.throws(() => createParams(choices[0].target, { resources: ["x"], permissions: [], justification: "INC-1" }), /choose at least one permission \(read\)/);
});

test("resource patterns match as the flow's globs", () => {
  assert.equal(matchesPattern("orders_2026", ["orders", "orders_*"]), true);
  assert.equal(matchesPattern("orders", ["orders", "orders_*"]), true);
  assert.equal(matchesPattern("billing", ["orders", "orders_*"]), false);
  assert.equal(matchesPattern("a.b", ["a.b"]), true);
  assert.equal(matchesPattern("axb", ["a.b"]), false);
  assert.equal(matchesPattern("anything", ["*"]), true);
});

function event(over: Partial<JitEvent>): JitEvent {
  return { kind: "granted", at: at(0), next: [], ...over };
}

test("notices: a warning before expiry, approvals asked of me, my own grants; nothing for others' routine", () => {
  const mine = request({ id: 2, expires_at: at(600) });
  const expiring = eventNotice(event({ kind: "expiring", request: mine, expires_in_secs: 600, next: ["jit extend 2 --for DURATION"] }), "alice");
  assert.deepEqual(expiring, {
    severity: "warning",
    message: "Access ends in 10m: request 2 (pg-main/database orders (read))",
    requestId: 2,
    actions: ["Extend"],
  });
  assert.deepEqual(eventNotice(event({ kind: "expiring", request: mine, expires_in_secs: 60 }), "alice")?.actions, []);
  assert.equal(eventNotice(event({ kind: "expiring", request: mine, expires_in_secs: 60 }), "carol"), undefined);

  const granted = eventNotice(event({ kind: "granted", request: mine, next: ["jit connect 2", "jit creds 2"] }), "alice");
  assert.equal(granted?.message, "Access granted: request 2 (pg-main/database orders (read)). Message from your admin about pg-main: Production replica: keep queries light.");
  assert.deepEqual(granted?.actions, ["Connect"]);
  assert.equal(eventNotice(event({ kind: "granted", request: mine }), "carol"), undefined);

  const asked = request({ id: 7, requester: "bob", status: "pending" });
  assert.deepEqual(eventNotice(event({ kind: "approval_needed", request: asked, reason: "INC-1", next: ["jit approve 7", "jit reject 7"] }), "carol"), {
    severity: "info",
    message: "bob asks for request 7 (pg-main/database orders (read)) — INC-1",
    requestId: 7,
    actions: ["Approve", "Reject"],
  });
  const ext = request({ id: 8, requester: "bob", pending_extension: { by: "bob", at: at(0), added_secs: 1800, approvals: [] } });
  assert.match(eventNotice(event({ kind: "approval_needed", request: ext, next: ["jit approve 8", "jit reject 8"] }), "carol")?.message ?? "", /^bob asks for \+30m on request 8/);
  const glass = eventNotice(event({ kind: "approval_needed", request: request({ id: 5, requester: "dave", break_glass: true }), next: ["jit show 5"] }), "carol");
  assert.equal(glass?.severity, "warning");
  assert.match(glass?.message ?? "", /^Break-glass: dave was granted request 5/);
  assert.deepEqual(glass?.actions, ["Show"]);

  const rejected = request({ id: 3, status: "rejected", end_reason: "rejected by carol: use the replica" });
  assert.equal(eventNotice(event({ kind: "rejected", request: rejected }), "alice")?.message, "Rejected: request 3 (pg-main/database orders (read)) — rejected by carol: use the replica");
  assert.equal(eventNotice(event({ kind: "revoke_failed", request: mine, error: "server down" }), "alice")?.severity, "error");
  assert.equal(eventNotice(event({ kind: "created", request: mine }), "alice"), undefined);
  assert.equal(eventNotice(event({ kind: "lagged", missed: 3 }), "alice"), undefined);
});
