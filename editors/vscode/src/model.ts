// What the extension shows, computed from jitd's answers without VS Code: the tree of active
// grants, own requests waiting and approvals waiting for the caller; the status bar's
// countdown to the nearest expiry; the quick-pick choices made from `catalog.list`; the
// parameters of `request.create`; and the notice an event deserves. Pure, tested on its own
// and on a real daemon's answers.

import { CatalogEntry, CreateParams, JitEvent, Request, isOpen } from "./api";
import { clockTime, countdown, describeAccess, shortList, span, statusLabel } from "./format";

/** Seconds left before `expires_at`, or undefined when the request has no end yet. */
export function secsLeft(r: Request, nowMs: number): number | undefined {
  if (r.expires_at === undefined) {
    return undefined;
  }
  const end = Date.parse(r.expires_at);
  return Number.isNaN(end) ? undefined : Math.max(0, (end - nowMs) / 1000);
}

/** The granted request that ends first, and how long it has. */
export function nearestExpiry(requests: Request[], nowMs: number): { request: Request; secs: number } | undefined {
  let best: { request: Request; secs: number } | undefined;
  for (const r of requests) {
    if (r.status !== "granted") {
      continue;
    }
    const secs = secsLeft(r, nowMs);
    if (secs !== undefined && (best === undefined || secs < best.secs)) {
      best = { request: r, secs };
    }
  }
  return best;
}

/** The status bar item: its text (with a codicon), tooltip, and whether it should warn. */
export interface StatusBarView {
  text: string;
  tooltip: string;
  /** The nearest expiry is within the warning window. */
  warning: boolean;
}

/** Below this many seconds left, the status bar turns to a warning. */
export const WARN_SECS = 600;

/** The status bar for the caller's own requests and the approvals waiting for them. */
export function statusBar(mine: Request[], review: Request[], nowMs: number): StatusBarView {
  const granted = mine.filter((r) => r.status === "granted");
  const toApprove = review.filter(canDecide).length;
  const near = nearestExpiry(mine, nowMs);
  const parts: string[] = [];
  const tips: string[] = [];
  if (near !== undefined) {
    parts.push(`$(key) ${countdown(near.secs)}`);
    const end = new Date(Date.parse(near.request.expires_at as string));
    tips.push(
      `Request ${near.request.id} (${describeAccess(near.request)}) expires in ${span(near.secs)} (${clockTime(end, new Date(nowMs))})`,
    );
    if (granted.length > 1) {
      parts.push(`+${granted.length - 1}`);
      tips.push(`${granted.length} active grants`);
    }
  }
  const waiting = mine.filter((r) => r.status === "pending").length;
  if (waiting > 0) {
    tips.push(`${waiting} of your requests ${waiting === 1 ? "waits" : "wait"} for approval`);
  }
  if (toApprove > 0) {
    parts.push(`$(bell) ${toApprove}`);
    tips.push(`${toApprove} ${toApprove === 1 ? "request waits" : "requests wait"} for your approval`);
  }
  if (parts.length === 0) {
    parts.push("$(key) jit");
    tips.push("No active grants");
  }
  return { text: parts.join(" "), tooltip: tips.join("\n"), warning: near !== undefined && near.secs <= WARN_SECS };
}

/** A review entry the caller can approve or reject (not a break-glass notice). */
function canDecide(r: Request): boolean {
  return r.status === "pending" || (r.status === "granted" && r.pending_extension !== undefined);
}

/** One row of the tree. */
export interface TreeNode {
  /** Unique in the tree. */
  id: string;
  label: string;
  description?: string;
  tooltip?: string;
  /** A codicon name. */
  icon?: string;
  /** The request a row stands for. */
  requestId?: number;
  /** Space-separated actions the row offers (`connect extend revoke`), for menus. */
  contextValue?: string;
  children?: TreeNode[];
}

/**
 * The tree: "Active grants" (granted, being granted or revoked), "Your requests" (pending or
 * scheduled), "Waiting for you" (requests and extensions to approve, break-glass notices).
 * Groups without rows are left out.
 */
export function buildTree(mine: Request[], review: Request[], nowMs: number): TreeNode[] {
  const active = mine.filter((r) => ["granting", "granted", "revoking"].includes(r.status));
  const waiting = mine.filter((r) => isOpen(r.status) && !active.includes(r));
  const groups: TreeNode[] = [];
  if (active.length > 0) {
    const rows = [...active].sort((a, b) => (secsLeft(a, nowMs) ?? Infinity) - (secsLeft(b, nowMs) ?? Infinity));
    groups.push({ id: "active", label: "Active grants", icon: "key", children: rows.map((r) => grantRow(r, nowMs)) });
  }
  if (waiting.length > 0) {
    groups.push({ id: "mine", label: "Your requests", icon: "clock", children: waiting.map((r) => waitingRow(r, nowMs)) });
  }
  if (review.length > 0) {
    groups.push({ id: "review", label: "Waiting for you", icon: "bell", children: review.map((r) => reviewRow(r, nowMs)) });
  }
  return groups;
}

function grantRow(r: Request, nowMs: number): TreeNode {
  const actions: string[] = [];
  let description: string;
  if (r.status === "granted") {
    if (r.sessions.some((s) => s.connect.length > 0)) {
      actions.push("connect");
    }
    if (r.pending_extension === undefined) {
      actions.push("extend");
    }
    actions.push("revoke");
    const left = secsLeft(r, nowMs);
    description = left === undefined ? "granted" : `expires in ${span(left)}`;
    if (r.pending_extension !== undefined) {
      description += `, +${span(r.pending_extension.added_secs)} waits for approval`;
    }
  } else if (r.status === "revoking") {
    description = r.revoking?.error !== undefined ? `revoking (retrying: ${r.revoking.error})` : "revoking";
  } else {
    description = "being granted";
  }
  const notes = r.sessions.filter((s) => s.message !== undefined).map((s) => `${s.integration}: ${s.message}`);
  return {
    id: `request-${r.id}`,
    label: `${r.id} ${describeAccess(r)}`,
    description: r.dry_run ? `${description} (dry-run)` : description,
    tooltip: [`Request ${r.id}: ${statusLabel(r.status)}`, ...detailLines(r, nowMs), ...notes].join("\n"),
    icon: r.status === "granted" ? "unlock" : "sync",
    requestId: r.id,
    contextValue: actions.join(" "),
  };
}

function waitingRow(r: Request, nowMs: number): TreeNode {
  let description = statusLabel(r.status);
  if (r.status === "pending") {
    const who = r.approval.approvers.join(", ");
    description = who === "" ? "Pending" : `Pending: ${who}`;
  } else if (r.status === "scheduled" && r.start_at !== undefined) {
    description = `Scheduled: starts in ${span((Date.parse(r.start_at) - nowMs) / 1000)}`;
  }
  return {
    id: `request-${r.id}`,
    label: `${r.id} ${describeAccess(r)}`,
    description,
    tooltip: [`Request ${r.id}: ${statusLabel(r.status)}`, ...detailLines(r, nowMs)].join("\n"),
    icon: r.status === "scheduled" ? "calendar" : "watch",
    requestId: r.id,
    contextValue: "cancel",
  };
}

function reviewRow(r: Request, nowMs: number): TreeNode {
  let description: string;
  let actions = "approve reject";
  if (r.status === "pending") {
    description = `${r.requester} asks${r.justification !== undefined ? `: ${r.justification}` : ""}`;
  } else if (r.status === "granted" && r.pending_extension !== undefined) {
    description = `${r.requester} asks +${span(r.pending_extension.added_secs)}`;
  } else {
    description = `break-glass by ${r.requester}: review it`;
    actions = "";
  }
  return {
    id: `review-${r.id}`,
    label: `${r.id} ${describeAccess(r)}`,
    description,
    tooltip: [`Request ${r.id} by ${r.requester}: ${statusLabel(r.status)}`, ...detailLines(r, nowMs)].join("\n"),
    icon: actions === "" ? "warning" : "question",
    requestId: r.id,
    contextValue: actions,
  };
}

function detailLines(r: Request, nowMs: number): string[] {
  const lines = [`flow ${r.flow}`];
  if (r.justification !== undefined) {
    lines.push(`why: ${r.justification}`);
  }
  if (r.approval.approvals.length > 0) {
    lines.push(`approved by ${r.approval.approvals.map((a) => a.by).join(", ")}`);
  }
  if (r.pending_until !== undefined && r.status === "pending") {
    lines.push(`times out in ${span((Date.parse(r.pending_until) - nowMs) / 1000)}`);
  }
  return lines;
}

/** What one quick-pick choice of "Request access" asks for. */
export type Target =
  | {
      kind: "resource";
      flow: CatalogEntry;
      integration: string;
      resourceType: string;
      permissions: string[];
      /** The flow's resource patterns (`*`, `orders`, `orders_*`). */
      resources: string[];
    }
  | { kind: "bundle"; flow: CatalogEntry; bundle: string };

/** A quick-pick item for a target. */
export interface Choice {
  label: string;
  description: string;
  detail: string;
  target: Target;
}

/** One choice per (flow, resource type) and per (flow, bundle), in the catalog's order. */
export function catalogChoices(catalog: CatalogEntry[]): Choice[] {
  const out: Choice[] = [];
  for (const flow of catalog) {
    const how = approvalText(flow);
    for (const b of flow.bundles) {
      out.push({
        label: `bundle ${b.name}`,
        description: `flow ${flow.flow}`,
        detail: [describeAccess({ entries: b.entries }), how].join(" · "),
        target: { kind: "bundle", flow, bundle: b.name },
      });
    }
    for (const rt of flow.resource_types) {
      out.push({
        label: `${flow.integration}/${rt.name}`,
        description: `flow ${flow.flow}${flow.dry_run ? " (dry-run)" : ""}`,
        detail: [`${rt.permissions.join(", ")} on ${shortList(flow.resources, 5)}`, how].join(" · "),
        target: {
          kind: "resource",
          flow,
          integration: flow.integration,
          resourceType: rt.name,
          permissions: rt.permissions,
          resources: flow.resources,
        },
      });
    }
  }
  return out;
}

function approvalText(flow: CatalogEntry): string {
  const who = flow.break_glass
    ? `break-glass (tells ${flow.approvers.join(", ")})`
    : flow.approval === "auto"
      ? "approved at once"
      : `approved by ${flow.approvers.join(", ")}`;
  return `${who} · ${span(flow.default_duration_secs)} by default, at most ${span(flow.max_duration_secs)}`;
}

/** True when `name` matches one of the flow's resource patterns (`*` stands for anything). */
export function matchesPattern(name: string, patterns: string[]): boolean {
  return patterns.some((p) => {
    const re = new RegExp(`^${p.split("*").map(escapeRegExp).join(".*")}$`);
    return re.test(name);
  });
}

/** The patterns that name one resource each (no `*`): what a quick pick can offer. */
export function literalResources(patterns: string[]): string[] {
  return patterns.filter((p) => !p.includes("*"));
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** What the user chose and typed for a target. */
export interface CreateInput {
  resources?: string[];
  permissions?: string[];
  durationSecs?: number;
  justification?: string;
}

/**
 * The parameters of `request.create` for a target. Throws when something the flow needs is
 * missing (jitd checks everything again and has the last word).
 */
export function createParams(target: Target, input: CreateInput): CreateParams {
  const params: CreateParams = {};
  if (target.kind === "bundle") {
    params.bundle = target.bundle;
  } else {
    const resources = (input.resources ?? []).map((r) => r.trim()).filter((r) => r !== "");
    if (resources.length === 0) {
      throw new Error(`name at least one resource of ${target.integration}/${target.resourceType}`);
    }
    const permissions = input.permissions ?? [];
    if (permissions.length === 0) {
      throw new Error(`choose at least one permission (${target.permissions.join(", ")})`);
    }
    Object.assign(params, {
      integration: target.integration,
      resource_type: target.resourceType,
      resources,
      permissions,
    });
  }
  if (input.durationSecs !== undefined) {
    params.duration_secs = input.durationSecs;
  }
  const why = input.justification?.trim();
  if (why !== undefined && why !== "") {
    params.justification = why;
  } else if (target.flow.justification_required) {
    throw new Error(
      `flow ${target.flow.flow} needs a justification${
        target.flow.justification_pattern !== undefined ? ` matching ${target.flow.justification_pattern}` : ""
      }`,
    );
  }
  return params;
}

/** The commands a notice can offer. */
export type NoticeAction = "Connect" | "Extend" | "Approve" | "Reject" | "Show";

/** A message to show for an event, or undefined when the event deserves none. */
export interface Notice {
  severity: "info" | "warning" | "error";
  message: string;
  requestId: number;
  actions: NoticeAction[];
}

/**
 * The notice for an event as `me` sees it: warnings before expiry, approvals asked of me,
 * and what happened to my own requests. Events about others' requests (an approver also
 * hears of the grant it approved) and routine ones make none; every event still refreshes
 * the tree.
 */
export function eventNotice(event: JitEvent, me: string | undefined): Notice | undefined {
  const r = event.request;
  if (r === undefined) {
    return undefined;
  }
  const what = `request ${r.id} (${describeAccess(r)})`;
  const mine = me !== undefined && r.requester === me;
  const suggests = (cmd: string) => event.next.some((n) => n.startsWith(`jit ${cmd} `));
  switch (event.kind) {
    case "approval_needed": {
      if (r.break_glass) {
        return {
          severity: "warning",
          message: `Break-glass: ${r.requester} was granted ${what} without approval${
            event.reason !== undefined ? ` — ${event.reason}` : ""
          }`,
          requestId: r.id,
          actions: ["Show"],
        };
      }
      const ext = r.pending_extension;
      const asks = ext !== undefined && r.status === "granted" ? `+${span(ext.added_secs)} on ${what}` : what;
      return {
        severity: "info",
        message: `${r.requester} asks for ${asks}${event.reason !== undefined ? ` — ${event.reason}` : ""}`,
        requestId: r.id,
        actions: suggests("approve") ? ["Approve", "Reject"] : ["Show"],
      };
    }
    case "expiring":
      if (!mine) {
        return undefined;
      }
      return {
        severity: "warning",
        message: `Access ends in ${span(event.expires_in_secs ?? secsLeft(r, Date.parse(event.at)) ?? 0)}: ${what}`,
        requestId: r.id,
        actions: suggests("extend") ? ["Extend"] : [],
      };
    case "granted": {
      if (!mine) {
        return undefined;
      }
      const notes = r.sessions.filter((s) => s.message !== undefined).map((s) => ` Message from your admin about ${s.integration}: ${s.message}`);
      return {
        severity: "info",
        message: `Access granted: ${what}${r.dry_run ? " (dry-run: nothing was provisioned)" : ""}.${notes.join("")}`,
        requestId: r.id,
        actions: suggests("connect") ? ["Connect"] : [],
      };
    }
    case "rejected":
    case "extension_rejected":
    case "failed":
    case "revoke_failed":
    case "credentials_rotated": {
      if (!mine) {
        return undefined;
      }
      const detail = event.error ?? r.end_reason ?? event.reason;
      const head: Record<string, string> = {
        rejected: "Rejected",
        extension_rejected: "Extension refused",
        failed: "Could not grant",
        revoke_failed: "Revoke failed, retrying",
        credentials_rotated: "Credentials rotated",
      };
      return {
        severity: event.kind === "failed" || event.kind === "revoke_failed" ? "error" : "warning",
        message: `${head[event.kind]}: ${what}${detail !== undefined ? ` — ${detail}` : ""}`,
        requestId: r.id,
        actions: [],
      };
    }
    case "expired":
      return mine ? { severity: "info", message: `Access ended: ${what} expired`, requestId: r.id, actions: [] } : undefined;
    default:
      return undefined;
  }
}
