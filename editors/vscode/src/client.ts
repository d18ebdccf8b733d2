// The connection to jitd: finding its socket as the `jit` CLI does, NDJSON framing with the
// protocol's line cap, calls matched to answers by id, event subscriptions, and reconnecting
// (with the subscriptions made again) when jitd restarts. No VS Code API here: the Node tests
// drive this module against a real jitd.

import { EventEmitter } from "node:events";
import * as net from "node:net";
import * as path from "node:path";

import { MAX_MESSAGE_BYTES, Methods, MethodName, JitEvent, SYSTEM_SOCKET, SubscribeParams } from "./api";

/** jitd refused or failed a call: `code` is stable (api.ErrorCode), `message` is for people. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly method: string,
  ) {
    super(message);
    this.name = "RpcError";
  }
}

/** jitd cannot be reached: not running, permission denied on its socket, or gone mid-call. */
export class UnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnavailableError";
  }
}

/** jitd said something this client cannot read, or a line broke the protocol's limits. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

/** The environment variables socket discovery reads. */
export interface SocketEnv {
  JIT_SOCKET?: string;
  XDG_RUNTIME_DIR?: string;
  XDG_STATE_HOME?: string;
  HOME?: string;
}

/**
 * The sockets to try, in order, as `jit` finds them (docs/cli.md, Finding jitd): the
 * `jit.socketPath` setting alone when it is set, else `JIT_SOCKET` alone, else the user-mode
 * socket when its file exists, then the system socket.
 */
export function socketCandidates(
  setting: string | undefined,
  env: SocketEnv,
  exists: (p: string) => boolean,
): string[] {
  const nonempty = (v: string | undefined) => (v !== undefined && v.trim() !== "" ? v.trim() : undefined);
  const explicit = nonempty(setting);
  if (explicit !== undefined) {
    const home = nonempty(env.HOME);
    return [explicit.startsWith("~/") && home !== undefined ? path.join(home, explicit.slice(2)) : explicit];
  }
  const fromEnv = nonempty(env.JIT_SOCKET);
  if (fromEnv !== undefined) {
    return [fromEnv];
  }
  const paths: string[] = [];
  const dir = userSocketDir(env);
  if (dir !== undefined && exists(path.join(dir, "jitd.sock"))) {
    paths.push(path.join(dir, "jitd.sock"));
  }
  paths.push(SYSTEM_SOCKET);
  return paths;
}

/** Where a user-mode jitd puts its socket: `$XDG_RUNTIME_DIR/jit`, else its state dir. */
export function userSocketDir(env: SocketEnv): string | undefined {
  const nonempty = (v: string | undefined) => (v !== undefined && v !== "" ? v : undefined);
  const run = nonempty(env.XDG_RUNTIME_DIR);
  if (run !== undefined) {
    return path.join(run, "jit");
  }
  const state = nonempty(env.XDG_STATE_HOME);
  if (state !== undefined) {
    return path.join(state, "jit");
  }
  const home = nonempty(env.HOME);
  return home === undefined ? undefined : path.join(home, ".local/state/jit");
}

/**
 * Splits a byte stream into lines of at most `max` bytes (newline not counted). A line that
 * grows past the cap without a newline is an error: the stream cannot be trusted after it.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;

  constructor(private readonly max: number = MAX_MESSAGE_BYTES) {}

  /** The complete lines in `chunk` (with what came before it), without their newlines. */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl === -1) {
        break;
      }
      const piece = chunk.subarray(start, nl);
      this.check(this.size + piece.length);
      this.parts.push(piece);
      lines.push(Buffer.concat(this.parts).toString("utf8"));
      this.parts = [];
      this.size = 0;
      start = nl + 1;
    }
    const rest = chunk.subarray(start);
    if (rest.length > 0) {
      this.check(this.size + rest.length);
      // Copy: the caller's buffer may be reused.
      this.parts.push(Buffer.from(rest));
      this.size += rest.length;
    }
    return lines;
  }

  private check(size: number): void {
    if (size > this.max) {
      throw new ProtocolError(`jitd sent a line longer than ${this.max} bytes`);
    }
  }
}

/** How to reach jitd. */
export interface ClientOptions {
  /** The sockets to try, in order; a function is asked again at every (re)connect. */
  socketPaths: string[] | (() => string[]);
  /** Connect again after the connection is lost (or when `start` finds nobody), forever. */
  reconnect?: boolean;
  /** The first wait before connecting again, doubled up to `maxRetryMs`. Default 250 ms. */
  minRetryMs?: number;
  /** The longest wait between attempts. Default 10 s. */
  maxRetryMs?: number;
  /** How long a call may wait for its answer. Default 30 s. */
  callTimeoutMs?: number;
  /** The longest line sent or read. Default `MAX_MESSAGE_BYTES` (jitd's own limit). */
  maxLineBytes?: number;
}

/** One event subscription; it survives reconnects (made again on the new connection). */
export interface Subscription {
  /** Its number on the current connection (changes when it is made again). */
  readonly id: number;
  /** Ends it; nothing more reaches its handler. */
  unsubscribe(): Promise<void>;
}

interface Pending {
  id: number;
  method: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

interface Sub {
  id: number;
  params: SubscribeParams;
  handler: (event: JitEvent) => void;
  active: boolean;
}

/**
 * A connection to jitd. Events (`on`): `connected` (the socket path), `disconnected` (the
 * error), `reconnected` (after a lost connection came back and the subscriptions were made
 * again: events in between are lost, so read the state again), `unreachable` (a connect
 * attempt found nobody; with reconnect on, another follows), `problem` (a subscription that
 * could not be made again, or an answer no call waited for). None of them is `error`, so an
 * unheard one never throws.
 */
export class JitClient extends EventEmitter {
  private socket: net.Socket | undefined;
  private connectedPath: string | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly subs: Sub[] = [];
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs: number;
  private everConnected = false;
  private readonly opts: Required<Omit<ClientOptions, "socketPaths">> & Pick<ClientOptions, "socketPaths">;

  constructor(options: ClientOptions) {
    super();
    this.opts = {
      socketPaths: options.socketPaths,
      reconnect: options.reconnect ?? false,
      minRetryMs: options.minRetryMs ?? 250,
      maxRetryMs: options.maxRetryMs ?? 10_000,
      callTimeoutMs: options.callTimeoutMs ?? 30_000,
      maxLineBytes: options.maxLineBytes ?? MAX_MESSAGE_BYTES,
    };
    this.retryMs = this.opts.minRetryMs;
  }

  /** Connects now, once, to the first socket that answers; rejects when none does. */
  async open(): Promise<void> {
    if (this.closed) {
      throw new UnavailableError("this jit client was closed");
    }
    if (this.socket !== undefined) {
      return;
    }
    const paths = typeof this.opts.socketPaths === "function" ? this.opts.socketPaths() : this.opts.socketPaths;
    const { socket, path: where } = await connectFirst(paths);
    this.attach(socket, where);
  }

  /** Connects in the background, now and whenever the connection is lost, until `close`. */
  start(): void {
    this.opts.reconnect = true;
    if (this.socket === undefined && this.retryTimer === undefined) {
      this.attempt();
    }
  }

  /** True while a connection is up. */
  get connected(): boolean {
    return this.socket !== undefined;
  }

  /** The socket this client is connected to. */
  get socketPath(): string | undefined {
    return this.connectedPath;
  }

  /** Drops the connection (with reconnect on, a new one is made from the socket paths now). */
  reset(): void {
    if (this.socket !== undefined) {
      this.socket.destroy();
    } else if (this.opts.reconnect && !this.closed) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.retryMs = this.opts.minRetryMs;
      this.attempt();
    }
  }

  /** Closes the connection for good; pending calls fail. */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    for (const s of this.subs) {
      s.active = false;
    }
    this.subs.length = 0;
    this.socket?.destroy();
  }

  /** Calls a method this extension knows, with typed parameters and result. */
  call<M extends MethodName>(method: M, params: Methods[M]["params"]): Promise<Methods[M]["result"]> {
    return this.callRaw(method, params) as Promise<Methods[M]["result"]>;
  }

  /** Calls any method with any parameters (jitd's answer decides; for tests and new methods). */
  callRaw(method: string, params: unknown): Promise<unknown> {
    const socket = this.socket;
    if (socket === undefined) {
      return Promise.reject(new UnavailableError(`not connected to jitd (${method})`));
    }
    const id = this.nextId++;
    const line = JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n";
    const bytes = Buffer.byteLength(line) - 1;
    if (bytes > this.opts.maxLineBytes) {
      return Promise.reject(
        new RangeError(
          `${method} would be a ${bytes}-byte message; jitd takes at most ${this.opts.maxLineBytes} bytes per line`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new UnavailableError(`jitd did not answer ${method} within ${this.opts.callTimeoutMs / 1000}s`));
        // Answers come in order: a connection with a lost answer cannot be trusted.
        socket.destroy();
      }, this.opts.callTimeoutMs);
      this.pending.set(id, { id, method, resolve, reject, timer });
      socket.write(line);
    });
  }

  /** Subscribes to events (all the caller may see, or one request's); kept across reconnects. */
  async subscribe(params: SubscribeParams, handler: (event: JitEvent) => void): Promise<Subscription> {
    const answer = await this.call("events.subscribe", params);
    const sub: Sub = { id: answer.subscription, params, handler, active: true };
    this.subs.push(sub);
    return {
      get id() {
        return sub.id;
      },
      unsubscribe: async () => {
        if (!sub.active) {
          return;
        }
        sub.active = false;
        this.subs.splice(this.subs.indexOf(sub), 1);
        if (this.socket !== undefined) {
          await this.call("events.unsubscribe", { subscription: sub.id });
        }
      },
    };
  }

  private attempt(): void {
    this.retryTimer = undefined;
    if (this.closed) {
      return;
    }
    this.open().catch((e: Error) => {
      if (this.closed) {
        return;
      }
      this.emit("unreachable", e);
      this.retryTimer = setTimeout(() => this.attempt(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, this.opts.maxRetryMs);
    });
  }

  private attach(socket: net.Socket, where: string): void {
    this.socket = socket;
    this.connectedPath = where;
    this.retryMs = this.opts.minRetryMs;
    const splitter = new LineSplitter(this.opts.maxLineBytes);
    let failure: Error | undefined;
    socket.on("data", (chunk: Buffer) => {
      try {
        for (const line of splitter.push(chunk)) {
          this.onLine(line);
        }
      } catch (e) {
        failure = e instanceof Error ? e : new ProtocolError(String(e));
        socket.destroy();
      }
    });
    socket.on("error", (e) => {
      failure ??= e;
    });
    socket.on("close", () => this.detach(socket, failure));
    const reconnected = this.everConnected;
    this.everConnected = true;
    this.emit("connected", where);
    if (reconnected) {
      void this.resubscribe();
    }
  }

  private detach(socket: net.Socket, failure: Error | undefined): void {
    if (this.socket !== socket) {
      return;
    }
    this.socket = undefined;
    const why = failure?.message ?? "jitd closed the connection";
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(
        failure instanceof ProtocolError
          ? failure
          : new UnavailableError(`connection to jitd lost during ${p.method}: ${why}`),
      );
    }
    this.pending.clear();
    this.emit("disconnected", failure ?? new UnavailableError(why));
    if (this.opts.reconnect && !this.closed) {
      this.retryTimer = setTimeout(() => this.attempt(), this.retryMs);
    }
  }

  private async resubscribe(): Promise<void> {
    for (const sub of [...this.subs]) {
      try {
        const answer = await this.call("events.subscribe", sub.params);
        sub.id = answer.subscription;
      } catch (e) {
        sub.active = false;
        this.subs.splice(this.subs.indexOf(sub), 1);
        this.emit("problem", new Error(`could not subscribe again after reconnecting: ${(e as Error).message}`));
      }
    }
    if (this.socket !== undefined) {
      this.emit("reconnected");
    }
  }

  private onLine(line: string): void {
    if (line.trim() === "") {
      return;
    }
    let msg: { id?: unknown; method?: unknown; params?: unknown; result?: unknown; error?: unknown };
    try {
      msg = JSON.parse(line);
    } catch {
      throw new ProtocolError(`jitd sent a line that is not JSON: ${line.slice(0, 200)}`);
    }
    if (msg === null || typeof msg !== "object" || Array.isArray(msg)) {
      throw new ProtocolError(`jitd sent a line that is not a JSON-RPC object: ${line.slice(0, 200)}`);
    }
    if (!("id" in msg)) {
      if (msg.method === "events.event") {
        this.onEvent(msg.params);
      }
      return;
    }
    // Calls are answered in order: an answer with a null id (a line jitd could not read)
    // belongs to the oldest call still waiting.
    const p = msg.id === null ? this.pending.values().next().value : this.pending.get(msg.id as number);
    if (p === undefined) {
      this.emit("problem", new ProtocolError(`jitd sent an answer no call was waiting for: ${line.slice(0, 200)}`));
      return;
    }
    this.pending.delete(p.id);
    clearTimeout(p.timer);
    const err = msg.error as { code?: unknown; message?: unknown } | undefined;
    if (err !== undefined) {
      const code = typeof err.code === "number" ? err.code : -32603;
      const message = typeof err.message === "string" ? err.message : JSON.stringify(err);
      p.reject(new RpcError(code, message, p.method));
    } else if ("result" in msg) {
      p.resolve(msg.result);
    } else {
      p.reject(new ProtocolError(`jitd's answer to ${p.method} has neither result nor error`));
    }
  }

  private onEvent(params: unknown): void {
    const p = params as { subscription?: unknown; result?: JitEvent } | undefined;
    if (p === undefined || typeof p.subscription !== "number" || p.result === undefined) {
      return;
    }
    const sub = this.subs.find((s) => s.active && s.id === p.subscription);
    sub?.handler(p.result);
  }
}

/** Connects to the first path that answers (a missing or stale socket file is skipped). */
async function connectFirst(paths: string[]): Promise<{ socket: net.Socket; path: string }> {
  for (const p of paths) {
    try {
      const socket = await connectOne(p);
      return { socket, path: p };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ECONNREFUSED") {
        continue;
      }
      if (code === "EACCES" || code === "EPERM") {
        throw new UnavailableError(`permission denied on ${p}: its mode and group keep you out`);
      }
      throw new UnavailableError(`cannot reach jitd at ${p}: ${(e as Error).message}`);
    }
  }
  throw new UnavailableError(
    `jitd is not running (tried ${paths.join(", ")}): start it with \`systemctl start jitd\` or \`jitd --user\``,
  );
}

function connectOne(p: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ path: p });
    const onError = (e: Error) => {
      socket.destroy();
      reject(e);
    };
    socket.once("error", onError);
    socket.once("connect", () => {
      socket.off("error", onError);
      resolve(socket);
    });
  });
}
