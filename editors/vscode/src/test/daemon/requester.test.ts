// The client against a real jitd, as the requester (a real Unix user: jitd knows who calls
// from the socket's peer credentials). Run by tests/tests/e2e/vscode.rs, which starts jitd
// (dry-run integration `demo`, flows `demo-read`: automatic, `INC-…` justification, at most
// 1h, one extension; `demo-write`: approved by the approver's group), starts the approver's
// tests first (test/daemon/approver.test.ts), and restarts jitd when asked to.

import * as assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { ErrorCode, MAX_MESSAGE_BYTES, PROTOCOL_VERSION, Request } from "../../api";
import { JitClient, RpcError, UnavailableError } from "../../client";
import { Target, buildTree, catalogChoices, createParams, eventNotice, statusBar } from "../../model";
import { EventLog, connect, env, once, signal } from "./support";

let client: JitClient;
const log = new EventLog();
let me = "";
let read: Target;
let write: Target;

before(async () => {
  client = await connect();
  await client.subscribe({}, log.push);
});

after(() => client?.close());

/** Expects `call` to be refused by jitd with `code` and a message matching `message`. */
async function refused(call: Promise<unknown>, code: number, message: RegExp): Promise<RpcError> {
  try {
    const v = await call;
    assert.fail(`expected error ${code}, got ${JSON.stringify(v)}`);
  } catch (e) {
    assert.ok(e instanceof RpcError, `not jitd's error: ${e}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return e;
  }
}

async function create(target: Target, resources: string[], durationSecs: number | undefined, justification: string): Promise<Request> {
  const perms = target.kind === "resource" ? target.permissions : [];
  return client.call("request.create", createParams(target, { resources, permissions: perms, durationSecs, justification }));
}

async function mine(): Promise<Request[]> {
  return client.call("request.list", { scope: "mine" });
}

test("daemon.status names the caller from the socket's peer credentials", async () => {
  const status = await client.call("daemon.status", {});
  assert.equal(status.protocol_version, PROTOCOL_VERSION);
  assert.equal(status.caller.user, env("JIT_TEST_USER"));
  assert.equal(status.caller.admin, false);
  me = status.caller.user;
});

test("catalog.list makes the quick-pick choices", async () => {
  const catalog = await client.call("catalog.list", {});
  assert.deepEqual(
    catalog.map((f) => [f.flow, f.approval, f.max_extensions, f.justification_required]),
    [
      ["demo-read", "auto", 1, true],
      ["demo-write", "manual", 0, false],
    ],
  );
  const choices = catalogChoices(catalog);
  assert.deepEqual(
    choices.map((c) => [c.label, c.description, c.detail]),
    [
      ["demo/database", "flow demo-read (dry-run)", "read on * · approved at once · 1h by default, at most 1h"],
      ["demo/database", "flow demo-write (dry-run)", `write on orders, orders_* · approved by %${env("JIT_TEST_DBA")} · 1h by default, at most 1h`],
    ],
  );
  [read, write] = choices.map((c) => c.target);
});

test("nothing is open at first: an empty tree and an idle status bar", async () => {
  const open = await mine();
  assert.deepEqual(open, []);
  assert.deepEqual(buildTree(open, [], Date.now()), []);
  assert.equal(statusBar(open, [], Date.now()).text, "$(key) jit");
});

test("a short grant is granted, counted down, warned about before its end, and expires", async () => {
  const made = await create(read, ["logs"], 3, "INC-1 short");
  assert.ok(["granting", "granted"].includes(made.status), made.status);
  const granted = await log.waitFor("granted", made.id);
  assert.equal(
    eventNotice(granted, me)?.message,
    `Access granted: request ${made.id} (demo/database logs (read)) (dry-run: nothing was provisioned). Message from your admin about demo: Sandbox: nothing here is real.`,
  );
  const bar = statusBar(await mine(), [], Date.now());
  assert.match(bar.text, /^\$\(key\) 0:0[0-3]$/);
  assert.equal(bar.warning, true);
  const expiring = await log.waitFor("expiring", made.id);
  assert.ok((expiring.expires_in_secs ?? 99) <= 2, JSON.stringify(expiring));
  const warning = eventNotice(expiring, me);
  assert.equal(warning?.severity, "warning");
  assert.match(warning?.message ?? "", new RegExp(`^Access ends in [0-2]s: request ${made.id} \\(demo/database logs \\(read\\)\\)$`));
  assert.deepEqual(warning?.actions, ["Extend"]);
  await log.waitFor("expired", made.id);
  assert.deepEqual(log.kindsOf(made.id), ["created", "granted", "expiring", "revoking", "expired"]);
});

test("extend moves the end by what was asked, once as the flow allows; revoke ends the grant", async () => {
  const made = await create(read, ["orders"], 3600, "INC-2 long");
  const granted = await log.waitFor("granted", made.id);
  const end = Date.parse(granted.request?.expires_at ?? "");
  const [group] = buildTree(await mine(), [], Date.now());
  assert.equal(group.label, "Active grants");
  assert.deepEqual(
    group.children?.map((c) => [c.label, c.description, c.contextValue]),
    [[`${made.id} demo/database orders (read)`, "expires in 1h (dry-run)", "extend revoke"]],
  );

  const extended = await client.call("grant.extend", { id: made.id, duration_secs: 600, reason: "more time" });
  assert.equal(Date.parse(extended.expires_at ?? "") - end, 600_000);
  assert.equal(extended.extensions.length, 1);
  const event = await log.waitFor("extended", made.id);
  assert.equal(event.request?.expires_at, extended.expires_at);
  await refused(client.call("grant.extend", { id: made.id, duration_secs: 60 }), ErrorCode.InvalidInput, /already extended 1 times/);

  const revoked = await client.call("grant.revoke", { id: made.id, reason: "done from VS Code" });
  assert.ok(["revoking", "revoked"].includes(revoked.status), revoked.status);
  await log.waitFor("revoked", made.id);
  assert.ok(!(await mine()).some((r) => r.id === made.id));
  const closed = await client.call("request.list", { scope: "mine", closed: true });
  const gone = closed.find((r) => r.id === made.id);
  assert.equal(gone?.status, "revoked");
  assert.equal(gone?.end_reason, `revoked by ${me}: done from VS Code`);
});

test("a pending request waits in the tree; approving it yourself is refused; cancel withdraws it", async () => {
  const made = await create(write, ["orders"], undefined, "self check");
  assert.equal(made.status, "pending");
  const open = await mine();
  const tree = buildTree(open, [], Date.now());
  assert.deepEqual(
    tree.map((g) => [g.label, g.children?.map((c) => [c.label, c.description, c.contextValue])]),
    [["Your requests", [[`${made.id} demo/database orders (write)`, `Pending: %${env("JIT_TEST_DBA")}`, "cancel"]]]],
  );
  assert.match(statusBar(open, [], Date.now()).tooltip, /1 of your requests waits for approval/);
  await refused(client.call("request.approve", { id: made.id }), ErrorCode.Forbidden, /you cannot approve your own request/);
  const canceled = await client.call("request.cancel", { id: made.id, reason: "only a check" });
  assert.equal(canceled.status, "canceled");
  await log.waitFor("canceled", made.id);
});

test("the approver's approval arrives as events: approved, then granted", { timeout: 90_000 }, async () => {
  const made = await create(write, ["orders_2026"], 600, "approve me");
  assert.equal(made.status, "pending");
  const approver = env("JIT_TEST_APPROVER");
  const approved = await log.waitFor("approved", made.id, 60_000);
  assert.equal(approved.actor, approver);
  const granted = await log.waitFor("granted", made.id);
  assert.deepEqual(
    granted.request?.approval.approvals.map((a) => [a.by, a.reason]),
    [[approver, "ok from VS Code"]],
  );
  assert.match(eventNotice(granted, me)?.message ?? "", /^Access granted: request \d+ \(demo\/database orders_2026 \(write\)\)/);
});

test("bad input is answered with jitd's error, and the connection stays usable", async () => {
  await refused(
    client.call("request.create", { integration: "nope", resource_type: "database", resources: ["x"], permissions: ["read"] }),
    ErrorCode.UnknownName,
    /nope.*demo/s,
  );
  await refused(create(read, ["orders"], 7200, "INC-4 long"), ErrorCode.InvalidInput, /at most 1h/);
  await refused(create(read, ["orders"], 60, "no ticket"), ErrorCode.InvalidInput, /INC-\[0-9\]\+/);
  await refused(create(read, ["orders"], 60, `INC-5 ${"x".repeat(5000)}`), ErrorCode.InvalidInput, /4096/);
  await refused(client.call("request.get", { id: 999999 }), ErrorCode.NotFound, /no request 999999 that you can see/);
  await refused(client.callRaw("request.get", { id: 1, verbose: true }), ErrorCode.InvalidParams, /unknown field `verbose`/);
  await refused(client.callRaw("request.get", [1]), ErrorCode.InvalidParams, /./);
  await refused(client.callRaw("request.fetch", {}), ErrorCode.MethodNotFound, /unknown method "request.fetch"/);
  assert.throws(() => createParams(read, { resources: ["x"], permissions: ["read"] }), /flow demo-read needs a justification/);

  // Over the line cap: this client refuses to send it; one with a larger cap sends it and
  // jitd answers 1008 with a null id, which belongs to the oldest call waiting.
  const huge = { justification: "x".repeat(MAX_MESSAGE_BYTES) };
  await assert.rejects(client.callRaw("request.create", huge), /jitd takes at most 1048576 bytes per line/);
  const loose = new JitClient({ socketPaths: [env("JIT_SOCKET")], maxLineBytes: 4 * MAX_MESSAGE_BYTES });
  await loose.open();
  try {
    await refused(loose.callRaw("request.create", huge), ErrorCode.TooLarge, /message too large: the limit is 1048576 bytes per line/);
    assert.equal((await loose.call("daemon.status", {})).caller.user, me);
  } finally {
    loose.close();
  }
  assert.equal((await client.call("daemon.status", {})).caller.user, me);
});

test("when jitd restarts, the client connects again and its subscription goes on", { timeout: 60_000 }, async () => {
  const down = once<Error>(client, "disconnected", 30_000);
  const back = once<void>(client, "reconnected", 30_000);
  signal("restart-jitd");
  await down;
  await assert.rejects(client.call("daemon.status", {}), (e: Error) => e instanceof UnavailableError && /not connected to jitd/.test(e.message));
  await back;
  assert.equal(client.connected, true);
  const made = await create(read, ["after-restart"], 60, "INC-6 after restart");
  await log.waitFor("granted", made.id);
});
