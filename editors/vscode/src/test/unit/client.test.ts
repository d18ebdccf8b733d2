// Unit tests of client.ts that need no daemon: socket discovery as the CLI does it, the line
// cap, and connecting when nothing listens. Everything else the client does is tested against
// a real jitd (test/daemon, run by tests/tests/e2e/vscode.rs).

import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";

import { JitClient, LineSplitter, ProtocolError, UnavailableError, socketCandidates, userSocketDir } from "../../client";

test("the setting, then JIT_SOCKET, is the only socket tried", () => {
  const env = { JIT_SOCKET: "/tmp/env.sock", XDG_RUNTIME_DIR: "/run/user/7", HOME: "/home/a" };
  assert.deepEqual(socketCandidates("/tmp/set.sock", env, () => true), ["/tmp/set.sock"]);
  assert.deepEqual(socketCandidates("~/jit.sock", env, () => true), ["/home/a/jit.sock"]);
  assert.deepEqual(socketCandidates("  ", env, () => true), ["/tmp/env.sock"]);
  assert.deepEqual(socketCandidates(undefined, env, () => true), ["/tmp/env.sock"]);
});

test("without either, the user socket comes first when it exists, then the system one", () => {
  const env = { XDG_RUNTIME_DIR: "/run/user/7", HOME: "/home/a" };
  assert.deepEqual(socketCandidates("", env, (p) => p === "/run/user/7/jit/jitd.sock"), [
    "/run/user/7/jit/jitd.sock",
    "/run/jit/jitd.sock",
  ]);
  assert.deepEqual(socketCandidates("", env, () => false), ["/run/jit/jitd.sock"]);
  assert.deepEqual(socketCandidates("", {}, () => true), ["/run/jit/jitd.sock"]);
});

test("the user socket's directory follows the daemon's rules", () => {
  assert.equal(userSocketDir({ XDG_RUNTIME_DIR: "/run/user/7", HOME: "/h" }), "/run/user/7/jit");
  assert.equal(userSocketDir({ XDG_RUNTIME_DIR: "", XDG_STATE_HOME: "/s", HOME: "/h" }), "/s/jit");
  assert.equal(userSocketDir({ HOME: "/h" }), "/h/.local/state/jit");
  assert.equal(userSocketDir({}), undefined);
});

test("lines are split across chunks and capped", () => {
  const s = new LineSplitter(10);
  assert.deepEqual(s.push(Buffer.from("ab")), []);
  assert.deepEqual(s.push(Buffer.from("c\nde\n\nf")), ["abc", "de", ""]);
  assert.deepEqual(s.push(Buffer.from("gh\n")), ["fgh"]);
  // Multi-byte characters split between chunks come out whole.
  const e = Buffer.from("é\n");
  assert.deepEqual(s.push(e.subarray(0, 1)), []);
  assert.deepEqual(s.push(e.subarray(1)), ["é"]);
  // Exactly the cap is fine; one byte more is not, with or without its newline yet.
  assert.deepEqual(s.push(Buffer.from("0123456789\n")), ["0123456789"]);
  assert.throws(() => new LineSplitter(10).push(Buffer.from("01234567890\n")), ProtocolError);
  const slow = new LineSplitter(10);
  slow.push(Buffer.from("0123456"));
  assert.throws(() => slow.push(Buffer.from("7890")), /jitd sent a line longer than 10 bytes/);
});

test("a missing socket and a stale file are skipped; nothing answering says so", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "jit-vscode-"));
  try {
    const stale = path.join(dir, "stale.sock");
    fs.writeFileSync(stale, "");
    const missing = path.join(dir, "missing.sock");
    const client = new JitClient({ socketPaths: [stale, missing] });
    await assert.rejects(client.open(), (e: Error) => {
      assert.ok(e instanceof UnavailableError);
      assert.equal(
        e.message,
        `jitd is not running (tried ${stale}, ${missing}): start it with \`systemctl start jitd\` or \`jitd --user\``,
      );
      return true;
    });
    await assert.rejects(client.call("daemon.status", {}), /not connected to jitd \(daemon.status\)/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
