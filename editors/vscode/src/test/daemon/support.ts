// What the daemon tests share: the environment tests/tests/e2e/vscode.rs sets (they fail,
// never skip, without it), files that tell the Rust side where a test is, and an event log
// to wait on with a bound.

import * as fs from "node:fs";
import * as path from "node:path";

import { JitEvent } from "../../api";
import { JitClient } from "../../client";

/** A variable the Rust test sets; missing means the test was run the wrong way. */
export function env(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === "") {
    throw new Error(
      `${name} is not set: these tests drive a real jitd and are run by ` +
        "`cargo nextest run -p jit-tests --test e2e vscode` (after scripts/test built them)",
    );
  }
  return v;
}

/** A client on the daemon under test, reconnecting fast (the test restarts jitd once). */
export async function connect(): Promise<JitClient> {
  const client = new JitClient({
    socketPaths: [env("JIT_SOCKET")],
    reconnect: true,
    minRetryMs: 50,
    maxRetryMs: 500,
    callTimeoutMs: 20_000,
  });
  await client.open();
  return client;
}

/** Writes a marker file the Rust test waits for (`approver-ready`, `restart-jitd`). */
export function signal(name: string): void {
  fs.writeFileSync(path.join(env("JIT_TEST_DIR"), name), `${process.pid}\n`);
}

/** Resolves with `emitter`'s next `event`, or rejects after `ms` naming it. */
export function once<T>(emitter: NodeJS.EventEmitter, event: string, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, on);
      reject(new Error(`no ${event} within ${ms} ms`));
    }, ms);
    const on = (v: T) => {
      clearTimeout(timer);
      resolve(v);
    };
    emitter.once(event, on);
  });
}

/** Every event a subscription delivered, in order, with bounded waits for the next ones. */
export class EventLog {
  readonly events: JitEvent[] = [];
  private waiters: { pred: (e: JitEvent) => boolean; resolve: (e: JitEvent) => void }[] = [];

  /** The handler to give `subscribe`. */
  readonly push = (e: JitEvent): void => {
    this.events.push(e);
    this.waiters = this.waiters.filter((w) => {
      if (w.pred(e)) {
        w.resolve(e);
        return false;
      }
      return true;
    });
  };

  /** The first event (already here or still to come) of `kind` about request `id`. */
  waitFor(kind: string, id: number, ms = 15_000): Promise<JitEvent> {
    return this.waitUntil((e) => e.kind === kind && e.request?.id === id, `${kind} of request ${id}`, ms);
  }

  /** The first event matching `pred`, or a rejection naming `what` after `ms`. */
  waitUntil(pred: (e: JitEvent) => boolean, what: string, ms = 15_000): Promise<JitEvent> {
    const seen = this.events.find(pred);
    if (seen !== undefined) {
      return Promise.resolve(seen);
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        pred,
        resolve: (e: JitEvent) => {
          clearTimeout(timer);
          resolve(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const kinds = this.events.map((e) => `${e.kind}:${e.request?.id ?? "-"}`).join(" ");
        reject(new Error(`no ${what} within ${ms} ms; events so far: ${kinds}`));
      }, ms);
      this.waiters.push(waiter);
    });
  }

  /** The kinds of the events about request `id`, in order. */
  kindsOf(id: number): string[] {
    return this.events.filter((e) => e.request?.id === id).map((e) => e.kind);
  }
}
