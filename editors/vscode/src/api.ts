// The part of jitd's protocol (docs/api.md, protocol 1) that this extension uses: wire types,
// the methods it calls with their parameters and results, and the error codes. Fields follow
// docs/api.md exactly; optional ones are absent rather than null, and unknown ones are ignored.

/** The protocol version this extension was written against (`daemon.status` reports jitd's). */
export const PROTOCOL_VERSION = 1;

/** The longest line jitd reads or writes, newline not counted (`MAX_MESSAGE_BYTES`). */
export const MAX_MESSAGE_BYTES = 1 << 20;

/** The socket of a system-wide jitd. */
export const SYSTEM_SOCKET = "/run/jit/jitd.sock";

/** jit's own error codes and the JSON-RPC ones jitd uses (docs/api.md, Errors). */
export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  NotFound: 1001,
  Forbidden: 1002,
  NoFlow: 1003,
  InvalidState: 1004,
  UnknownName: 1005,
  InvalidInput: 1006,
  AlreadyRevealed: 1007,
  TooLarge: 1008,
  Unavailable: 1009,
} as const;

/** A request's status; an unknown word is to be treated as open. */
export type Status =
  | "pending"
  | "scheduled"
  | "granting"
  | "granted"
  | "revoking"
  | "expired"
  | "revoked"
  | "rejected"
  | "failed"
  | "canceled";

const CLOSED: ReadonlySet<string> = new Set(["expired", "revoked", "rejected", "failed", "canceled"]);

/** Open unless it is one of the closed statuses (an unknown status counts as open). */
export function isOpen(status: string): boolean {
  return !CLOSED.has(status);
}

export interface Entry {
  integration: string;
  resource_type: string;
  resources: string[];
  permissions: string[];
}

export interface Decision {
  by: string;
  at: string;
  reason?: string;
}

export interface Approval {
  mode: "auto" | "manual";
  approvers: string[];
  required: number;
  approvals: Decision[];
  rejection?: Decision;
}

export interface Extension {
  by: string;
  at: string;
  added_secs: number;
  reason?: string;
  approvals: Decision[];
}

export type ConnectKind = "terminal" | "browser" | "app";

export interface Session {
  integration: string;
  kind: string;
  principal?: string;
  resources: string[];
  credentials: "none" | "unrevealed" | "revealed";
  rotated: boolean;
  connect: ConnectKind[];
  message?: string;
  dry_run: boolean;
  instructions?: string;
}

export interface Revoking {
  error?: string;
  attempts: number;
  next_retry_at: string;
  outcome: Status;
}

export interface Request {
  id: number;
  requester: string;
  flow: string;
  bundle?: string;
  entries: Entry[];
  justification?: string;
  status: Status;
  duration_secs: number;
  created_at: string;
  start_at?: string;
  pending_until?: string;
  granted_at?: string;
  expires_at?: string;
  ended_at?: string;
  end_reason?: string;
  error?: string;
  approval: Approval;
  repeats?: number;
  sessions: Session[];
  revoking?: Revoking;
  dry_run: boolean;
  break_glass: boolean;
  extensions: Extension[];
  pending_extension?: Extension;
}

export interface ResourceTypeEntry {
  name: string;
  permissions: string[];
}

export interface BundleEntry {
  name: string;
  message?: string;
  entries: Entry[];
}

export interface CatalogEntry {
  flow: string;
  integration: string;
  kind: string;
  bundles: BundleEntry[];
  max_extensions: number;
  break_glass: boolean;
  resource_types: ResourceTypeEntry[];
  resources: string[];
  approval: "auto" | "manual";
  approvers: string[];
  approvals_required: number;
  default_duration_secs: number;
  max_duration_secs: number;
  justification_required: boolean;
  justification_pattern?: string;
  message?: string;
  dry_run: boolean;
}

export interface Caller {
  user: string;
  uid: number;
  groups: string[];
  admin: boolean;
}

export interface Counts {
  pending: number;
  granted: number;
  revoking: number;
  open: number;
}

export interface DaemonStatus {
  protocol_version: number;
  version: string;
  mode: "system" | "user";
  started_at: string;
  caller: Caller;
  counts: Counts;
  revoking: Request[];
  integrations: { name: string; kind: string; dry_run: boolean }[];
}

/** What an `events.event` notification carries; a kind not listed here is to be ignored. */
export type EventKind =
  | "created"
  | "approval_needed"
  | "approval_added"
  | "approved"
  | "rejected"
  | "canceled"
  | "started"
  | "granted"
  | "revoking"
  | "revoke_failed"
  | "expired"
  | "revoked"
  | "failed"
  | "expiring"
  | "extension_requested"
  | "extended"
  | "extension_rejected"
  | "credentials_rotated"
  | "credentials_reset"
  | "credentials_reset_failed"
  | "lagged";

export interface JitEvent {
  kind: EventKind;
  at: string;
  request?: Request;
  actor?: string;
  reason?: string;
  error?: string;
  expires_in_secs?: number;
  next: string[];
  missed?: number;
}

export interface CreateParams {
  integration?: string;
  resource_type?: string;
  resources?: string[];
  permissions?: string[];
  bundle?: string;
  start_at?: string;
  duration_secs?: number;
  justification?: string;
}

export interface ListParams {
  closed?: boolean;
  scope?: "mine" | "review" | "all";
  resource_type?: string;
  limit?: number;
}

export interface IdParams {
  id: number;
}

export interface ReasonParams {
  id: number;
  reason?: string;
}

export interface ExtendParams {
  id: number;
  duration_secs: number;
  reason?: string;
}

export interface SubscribeParams {
  request?: number;
}

/** Every method this extension calls: its parameters and its result. */
export interface Methods {
  "daemon.status": { params: Record<string, never>; result: DaemonStatus };
  "catalog.list": { params: Record<string, never>; result: CatalogEntry[] };
  "request.create": { params: CreateParams; result: Request };
  "request.list": { params: ListParams; result: Request[] };
  "request.get": { params: IdParams; result: Request };
  "request.approve": { params: ReasonParams; result: Request };
  "request.reject": { params: ReasonParams; result: Request };
  "request.cancel": { params: ReasonParams; result: Request };
  "grant.revoke": { params: ReasonParams; result: Request };
  "grant.extend": { params: ExtendParams; result: Request };
  "events.subscribe": { params: SubscribeParams; result: { subscription: number } };
  "events.unsubscribe": { params: { subscription: number }; result: Record<string, never> };
}

export type MethodName = keyof Methods;
