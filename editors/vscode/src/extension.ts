// The VS Code side: a status bar item counting down to the nearest expiry, a tree of active
// grants and pending approvals, the commands (request, connect in the integrated terminal,
// extend, revoke, cancel, approve, reject), and notices for events (a warning on `expiring`).
// It talks to jitd only through `client.ts`; what it shows is computed in `model.ts`.

import * as fs from "node:fs";
import * as vscode from "vscode";

import { ErrorCode, JitEvent, PROTOCOL_VERSION, Request } from "./api";
import { JitClient, RpcError, socketCandidates } from "./client";
import { describeAccess, parseDuration, span, statusLabel } from "./format";
import {
  Choice,
  Notice,
  TreeNode,
  buildTree,
  catalogChoices,
  createParams,
  eventNotice,
  literalResources,
  matchesPattern,
  statusBar,
} from "./model";

/** Everything the extension holds while it is active. */
class Jit implements vscode.TreeDataProvider<TreeNode> {
  private readonly client: JitClient;
  private mine: Request[] = [];
  private review: Request[] = [];
  private me: string | undefined;
  private problem: string | undefined = "connecting to jitd…";
  private subscribed = false;
  private refreshTimer: NodeJS.Timeout | undefined;
  private readonly changed = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly bar: vscode.StatusBarItem;
  private warnedVersion = false;

  constructor(private readonly context: vscode.ExtensionContext) {
    this.bar = vscode.window.createStatusBarItem("jit.status", vscode.StatusBarAlignment.Left, 50);
    this.bar.name = "jit";
    this.bar.command = "workbench.view.extension.jit";
    this.bar.show();
    this.client = new JitClient({
      socketPaths: () =>
        socketCandidates(
          vscode.workspace.getConfiguration("jit").get<string>("socketPath"),
          process.env,
          (p) => fs.existsSync(p),
        ),
      reconnect: true,
    });
    this.client.on("connected", () => void this.onConnected());
    this.client.on("reconnected", () => this.scheduleRefresh(0));
    this.client.on("disconnected", (e: Error) => this.setProblem(e.message));
    this.client.on("unreachable", (e: Error) => this.setProblem(e.message));
    this.client.on("problem", (e: Error) => console.warn(`jit: ${e.message}`));
    // The countdown ticks every second; the tree's "expires in" every 30 s.
    let ticks = 0;
    const tick = setInterval(() => {
      this.render(++ticks % 30 === 0);
    }, 1000);
    context.subscriptions.push(
      this.bar,
      this.changed,
      { dispose: () => clearInterval(tick) },
      { dispose: () => clearTimeout(this.refreshTimer) },
      { dispose: () => this.client.close() },
      vscode.window.registerTreeDataProvider("jit.requests", this),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration("jit.socketPath")) {
          this.client.reset();
        }
      }),
    );
    this.render(true);
    this.client.start();
  }

  private async onConnected(): Promise<void> {
    this.problem = undefined;
    try {
      const status = await this.client.call("daemon.status", {});
      this.me = status.caller.user;
      if (status.protocol_version !== PROTOCOL_VERSION && !this.warnedVersion) {
        this.warnedVersion = true;
        void vscode.window.showWarningMessage(
          `jitd speaks protocol ${status.protocol_version}, this extension ${PROTOCOL_VERSION}: some views or commands may fail; update the one that is older`,
        );
      }
      // The client makes subscriptions again after a reconnect: subscribe once.
      if (!this.subscribed) {
        await this.client.subscribe({}, (e) => this.onEvent(e));
        this.subscribed = true;
      }
    } catch (e) {
      this.setProblem(message(e));
      return;
    }
    await this.refresh();
  }

  private onEvent(event: JitEvent): void {
    this.scheduleRefresh(100);
    const notice = eventNotice(event, this.me);
    if (notice !== undefined) {
      void this.show(notice);
    }
  }

  private async show(notice: Notice): Promise<void> {
    const shower =
      notice.severity === "error"
        ? vscode.window.showErrorMessage
        : notice.severity === "warning"
          ? vscode.window.showWarningMessage
          : vscode.window.showInformationMessage;
    const picked = await shower(notice.message, ...notice.actions);
    const command: Record<string, string> = {
      Connect: "jit.connect",
      Extend: "jit.extend",
      Approve: "jit.approve",
      Reject: "jit.reject",
      Show: "workbench.view.extension.jit",
    };
    if (picked !== undefined) {
      await vscode.commands.executeCommand(command[picked], picked === "Show" ? undefined : notice.requestId);
    }
  }

  private scheduleRefresh(delayMs: number): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => void this.refresh(), delayMs);
  }

  /** Reads the caller's open requests and the ones waiting for them, then redraws. */
  async refresh(): Promise<void> {
    if (!this.client.connected) {
      this.render(true);
      return;
    }
    try {
      const [mine, review] = await Promise.all([
        this.client.call("request.list", { scope: "mine" }),
        this.client.call("request.list", { scope: "review" }),
      ]);
      this.mine = mine;
      this.review = review;
      this.problem = undefined;
    } catch (e) {
      this.setProblem(message(e));
      return;
    }
    this.render(true);
  }

  private setProblem(text: string): void {
    this.problem = text;
    this.render(true);
  }

  private render(tree: boolean): void {
    if (this.problem !== undefined && !this.client.connected) {
      this.bar.text = "$(key) jit $(debug-disconnect)";
      this.bar.tooltip = `jit: ${this.problem}`;
      this.bar.backgroundColor = undefined;
    } else {
      const view = statusBar(this.mine, this.review, Date.now());
      this.bar.text = view.text;
      this.bar.tooltip = view.tooltip;
      this.bar.backgroundColor = view.warning ? new vscode.ThemeColor("statusBarItem.warningBackground") : undefined;
    }
    if (tree) {
      this.changed.fire(undefined);
    }
  }

  // TreeDataProvider

  getChildren(node?: TreeNode): TreeNode[] {
    if (node !== undefined) {
      return node.children ?? [];
    }
    if (!this.client.connected && this.problem !== undefined) {
      return [{ id: "problem", label: "jitd is not reachable", description: this.problem, icon: "debug-disconnect" }];
    }
    return buildTree(this.mine, this.review, Date.now());
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    const item = new vscode.TreeItem(
      node.label,
      node.children !== undefined ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None,
    );
    item.id = node.id;
    item.description = node.description;
    item.tooltip = node.tooltip;
    item.contextValue = node.contextValue;
    if (node.icon !== undefined) {
      item.iconPath = new vscode.ThemeIcon(node.icon);
    }
    return item;
  }

  // Commands

  register(): void {
    const add = (name: string, run: (arg?: unknown) => Promise<void>) =>
      this.context.subscriptions.push(
        vscode.commands.registerCommand(name, async (arg?: unknown) => {
          try {
            await run(arg);
          } catch (e) {
            void vscode.window.showErrorMessage(`jit: ${message(e)}`);
          }
          this.scheduleRefresh(0);
        }),
      );
    add("jit.refresh", () => this.refresh());
    add("jit.request", () => this.request());
    add("jit.connect", (arg) => this.connect(arg));
    add("jit.extend", (arg) => this.extend(arg));
    add("jit.revoke", (arg) => this.revoke(arg));
    add("jit.cancel", (arg) => this.cancel(arg));
    add("jit.approve", (arg) => this.decide(arg, "approve"));
    add("jit.reject", (arg) => this.decide(arg, "reject"));
  }

  private async request(): Promise<void> {
    const catalog = await this.client.call("catalog.list", {});
    const choices = catalogChoices(catalog);
    if (choices.length === 0) {
      void vscode.window.showInformationMessage("No access flow lets you request anything (`jit catalog` says the same).");
      return;
    }
    const choice = await vscode.window.showQuickPick<Choice & vscode.QuickPickItem>(choices, {
      title: "Request access",
      placeHolder: "What do you need?",
      matchOnDescription: true,
      matchOnDetail: true,
    });
    if (choice === undefined) {
      return;
    }
    const t = choice.target;
    const input: { resources?: string[]; permissions?: string[]; durationSecs?: number; justification?: string } = {};
    if (t.kind === "resource") {
      const literal = literalResources(t.resources);
      if (literal.length === t.resources.length) {
        const picked = await vscode.window.showQuickPick(literal, {
          title: `${t.integration}/${t.resourceType}: resources`,
          canPickMany: true,
        });
        if (picked === undefined || picked.length === 0) {
          return;
        }
        input.resources = picked;
      } else {
        const typed = await vscode.window.showInputBox({
          title: `${t.integration}/${t.resourceType}: resources`,
          prompt: `One or more, separated by spaces or commas; the flow allows ${t.resources.join(", ")}`,
          validateInput: (v) => {
            const names = splitNames(v);
            const bad = names.filter((n) => !matchesPattern(n, t.resources));
            return names.length === 0
              ? "name at least one resource"
              : bad.length > 0
                ? `not allowed by flow ${t.flow.flow}: ${bad.join(", ")}`
                : undefined;
          },
        });
        if (typed === undefined) {
          return;
        }
        input.resources = splitNames(typed);
      }
      if (t.permissions.length === 1) {
        input.permissions = t.permissions;
      } else {
        const picked = await vscode.window.showQuickPick(t.permissions, { title: "Permissions", canPickMany: true });
        if (picked === undefined || picked.length === 0) {
          return;
        }
        input.permissions = picked;
      }
    }
    const duration = await vscode.window.showInputBox({
      title: "For how long?",
      prompt: `Empty: ${span(t.flow.default_duration_secs)} (the flow's default); at most ${span(t.flow.max_duration_secs)}`,
      placeHolder: span(t.flow.default_duration_secs).replace(" ", ""),
      validateInput: (v) => (v.trim() === "" ? undefined : durationProblem(v)),
    });
    if (duration === undefined) {
      return;
    }
    if (duration.trim() !== "") {
      input.durationSecs = parseDuration(duration);
    }
    const why = await vscode.window.showInputBox({
      title: "Why?",
      prompt: t.flow.justification_required
        ? `Required${t.flow.justification_pattern !== undefined ? `, matching ${t.flow.justification_pattern}` : ""}`
        : "Optional: shown to the approvers and kept in the audit log",
      validateInput: (v) => (t.flow.justification_required && v.trim() === "" ? "this flow needs a justification" : undefined),
    });
    if (why === undefined) {
      return;
    }
    input.justification = why;
    const made = await this.client.call("request.create", createParams(t, input));
    const status =
      made.status === "pending"
        ? `Pending — waiting for ${made.approval.approvers.join(", ")}`
        : made.status === "scheduled"
          ? "Scheduled"
          : "Approved — being granted";
    void vscode.window.showInformationMessage(`Request ${made.id} ${status}: ${describeAccess(made)}`);
  }

  private async connect(arg: unknown): Promise<void> {
    const r = await this.pick(arg, this.mine.filter((q) => q.status === "granted" && q.sessions.some((s) => s.connect.length > 0)), "Connect to");
    if (r === undefined) {
      return;
    }
    const sessions = r.sessions.filter((s) => s.connect.length > 0);
    if (r.status !== "granted" || sessions.length === 0) {
      void vscode.window.showInformationMessage(
        r.status !== "granted"
          ? `Request ${r.id} is ${statusLabel(r.status)}: connect works only while it is granted`
          : `Request ${r.id} offers no way to connect${r.dry_run ? " (dry-run: nothing was provisioned)" : ""}`,
      );
      return;
    }
    // `jit connect` needs the session named when the request has several.
    let session: string | undefined;
    if (sessions.length > 1) {
      session = await vscode.window.showQuickPick(
        sessions.map((s) => s.integration),
        { title: `Request ${r.id}: which session?` },
      );
      if (session === undefined) {
        return;
      }
    } else if (r.sessions.length > 1) {
      session = sessions[0].integration;
    }
    const cli = vscode.workspace.getConfiguration("jit").get<string>("cliPath") || "jit";
    const args = ["connect", String(r.id), ...(session !== undefined ? ["--session", session] : [])];
    // `jit connect` fetches the secret itself and hands it to the client program: it never
    // passes through the extension. The same socket as ours, so the same jitd answers.
    const socket = this.client.socketPath;
    const terminal = vscode.window.createTerminal({
      name: `jit ${r.id}${session !== undefined ? ` ${session}` : ""}`,
      shellPath: cli,
      shellArgs: args,
      env: socket !== undefined ? { JIT_SOCKET: socket } : undefined,
      iconPath: new vscode.ThemeIcon("key"),
    });
    terminal.show();
  }

  private async extend(arg: unknown): Promise<void> {
    const r = await this.pick(arg, this.mine.filter((q) => q.status === "granted"), "Extend");
    if (r === undefined) {
      return;
    }
    const typed = await vscode.window.showInputBox({
      title: `Extend request ${r.id}`,
      prompt: `How much longer? (${describeAccess(r)})`,
      placeHolder: "30m",
      validateInput: durationProblem,
    });
    if (typed === undefined) {
      return;
    }
    const reason = await vscode.window.showInputBox({ title: "Why? (optional)" });
    if (reason === undefined) {
      return;
    }
    const done = await this.client.call("grant.extend", {
      id: r.id,
      duration_secs: parseDuration(typed),
      ...(reason.trim() !== "" ? { reason: reason.trim() } : {}),
    });
    const left = done.expires_at !== undefined ? span((Date.parse(done.expires_at) - Date.now()) / 1000) : "?";
    void vscode.window.showInformationMessage(
      done.pending_extension !== undefined
        ? `Extension of +${span(done.pending_extension.added_secs)} waits for approval by ${done.approval.approvers.join(", ")}; request ${done.id} expires in ${left}`
        : `Request ${done.id} now expires in ${left}`,
    );
  }

  private async revoke(arg: unknown): Promise<void> {
    const r = await this.pick(arg, this.mine.filter((q) => q.status === "granted"), "Revoke");
    if (r === undefined) {
      return;
    }
    const sure = await vscode.window.showWarningMessage(
      `Revoke request ${r.id} (${describeAccess(r)})? The access ends now, open sessions included.`,
      { modal: true },
      "Revoke",
    );
    if (sure !== "Revoke") {
      return;
    }
    const done = await this.client.call("grant.revoke", { id: r.id, reason: "revoked from VS Code" });
    void vscode.window.showInformationMessage(`Request ${done.id} ${statusLabel(done.status)}`);
  }

  private async cancel(arg: unknown): Promise<void> {
    const r = await this.pick(arg, this.mine.filter((q) => q.status === "pending" || q.status === "scheduled"), "Cancel");
    if (r === undefined) {
      return;
    }
    const done = await this.client.call("request.cancel", { id: r.id });
    void vscode.window.showInformationMessage(`Request ${done.id} ${statusLabel(done.status)}`);
  }

  private async decide(arg: unknown, how: "approve" | "reject"): Promise<void> {
    const candidates = this.review.filter((q) => q.status === "pending" || q.pending_extension !== undefined);
    const r = await this.pick(arg, candidates, how === "approve" ? "Approve" : "Reject");
    if (r === undefined) {
      return;
    }
    const reason = await vscode.window.showInputBox({
      title: `${how === "approve" ? "Approve" : "Reject"} request ${r.id} by ${r.requester}`,
      prompt: `${describeAccess(r)}${r.justification !== undefined ? ` — ${r.justification}` : ""}. Reason (optional):`,
    });
    if (reason === undefined) {
      return;
    }
    const params = { id: r.id, ...(reason.trim() !== "" ? { reason: reason.trim() } : {}) };
    const done = await this.client.call(how === "approve" ? "request.approve" : "request.reject", params);
    void vscode.window.showInformationMessage(`Request ${done.id}: ${statusLabel(done.status)}`);
  }

  /**
   * The request a command acts on: the tree row or notice it came from, else one picked from
   * `candidates`.
   */
  private async pick(arg: unknown, candidates: Request[], title: string): Promise<Request | undefined> {
    const id =
      typeof arg === "number" ? arg : typeof arg === "object" && arg !== null ? (arg as TreeNode).requestId : undefined;
    if (id !== undefined) {
      const known = [...this.mine, ...this.review].find((q) => q.id === id);
      return known ?? (await this.client.call("request.get", { id }));
    }
    if (candidates.length === 0) {
      void vscode.window.showInformationMessage(`jit: nothing to ${title.toLowerCase()}`);
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(
      candidates.map((q) => ({
        label: `${q.id} ${describeAccess(q)}`,
        description: `${statusLabel(q.status)}${q.requester !== this.me ? ` · ${q.requester}` : ""}`,
        request: q,
      })),
      { title },
    );
    return picked?.request;
  }
}

function splitNames(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function durationProblem(text: string): string | undefined {
  try {
    parseDuration(text);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** An error as a person should read it: jitd's own words for its refusals. */
function message(e: unknown): string {
  if (e instanceof RpcError && e.code === ErrorCode.MethodNotFound) {
    return `${e.message} (is jitd older than this extension?)`;
  }
  return e instanceof Error ? e.message : String(e);
}

/** Called by VS Code when the extension starts (`onStartupFinished`). */
export function activate(context: vscode.ExtensionContext): void {
  new Jit(context).register();
}

/** Everything is disposed through `context.subscriptions`. */
export function deactivate(): void {}
