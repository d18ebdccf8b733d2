// The client against a real jitd, as the approver (a member of the group `demo-write` names).
// Run by tests/tests/e2e/vscode.rs before the requester's tests: it subscribes, says so
// (`approver-ready`), is asked to approve the requester's requests, approves one, and is
// refused what only the requester may do.

import * as assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { ErrorCode } from "../../api";
import { JitClient, RpcError } from "../../client";
import { buildTree, eventNotice, statusBar } from "../../model";
import { EventLog, connect, env, signal } from "./support";

let client: JitClient;
const log = new EventLog();
let me = "";
let askId = 0;

before(async () => {
  client = await connect();
  me = (await client.call("daemon.status", {})).caller.user;
  await client.subscribe({}, log.push);
  signal("approver-ready");
});

after(() => client?.close());

async function refused(call: Promise<unknown>, code: number, message: RegExp): Promise<void> {
  await assert.rejects(call, (e: Error) => {
    assert.ok(e instanceof RpcError, `not jitd's error: ${e}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

test("approval_needed comes for each request waiting for me, instead of created", { timeout: 120_000 }, async () => {
  const requester = env("JIT_TEST_REQUESTER");
  const justified = (why: string) => (e: { kind: string; request?: { justification?: string } }) =>
    e.kind === "approval_needed" && e.request?.justification === why;
  const self = await log.waitUntil(justified("self check"), "approval_needed for the self check", 90_000);
  const ask = await log.waitUntil(justified("approve me"), "approval_needed for approve me", 90_000);
  askId = ask.request?.id ?? 0;
  assert.equal(ask.request?.requester, requester);
  assert.equal(ask.actor, requester);
  assert.deepEqual(ask.next, [`jit approve ${askId}`, `jit reject ${askId}`]);
  assert.deepEqual(eventNotice(ask, me), {
    severity: "info",
    message: `${requester} asks for request ${askId} (demo/database orders_2026 (write)) — approve me`,
    requestId: askId,
    actions: ["Approve", "Reject"],
  });
  // The requester withdrew the first one (after failing to approve it themselves).
  await log.waitFor("canceled", self.request?.id ?? 0);
  assert.deepEqual(log.kindsOf(self.request?.id ?? 0), ["approval_needed", "canceled"]);
  // Approvers hear of nothing else: the requester's automatic grants are not theirs to see.
  const others = log.events.filter((e) => e.request?.id !== self.request?.id && e.request?.id !== askId);
  assert.deepEqual(others, []);
});

test("the review list fills the tree's 'Waiting for you' and the status bar's bell", async () => {
  const review = await client.call("request.list", { scope: "review" });
  assert.deepEqual(review.map((r) => r.id), [askId]);
  const tree = buildTree([], review, Date.now());
  assert.deepEqual(
    tree.map((g) => [g.label, g.children?.map((c) => [c.description, c.contextValue])]),
    [["Waiting for you", [[`${env("JIT_TEST_REQUESTER")} asks: approve me`, "approve reject"]]]],
  );
  assert.equal(statusBar([], review, Date.now()).text, "$(bell) 1");
});

test("the approver approves; the grant follows; revoking or extending it is not theirs", async () => {
  const approved = await client.call("request.approve", { id: askId, reason: "ok from VS Code" });
  assert.ok(["granting", "granted"].includes(approved.status), approved.status);
  assert.deepEqual(approved.approval.approvals.map((a) => a.by), [me]);
  const granted = await log.waitFor("granted", askId);
  // Not the approver's own grant: no notice.
  assert.equal(eventNotice(granted, me), undefined);
  await refused(client.call("request.approve", { id: askId }), ErrorCode.InvalidState, /./);
  await refused(client.call("grant.revoke", { id: askId }), ErrorCode.Forbidden, /./);
  await refused(client.call("grant.extend", { id: askId, duration_secs: 60 }), ErrorCode.Forbidden, /only .* can extend/);
});
