//! Table definitions and meta keys: the stored layout, versioned by `SCHEMA_VERSION`.

use redb::TableDefinition;

/// Counters and the schema version.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Text metadata: the instance id and the audit chain's head hash.
pub const META_TEXT: TableDefinition<&str, &str> = TableDefinition::new("meta_text");
/// Every request by id (JSON `RequestRecord`).
pub const REQUESTS: TableDefinition<u64, &[u8]> = TableDefinition::new("requests");
/// Every request by requester: `(user, id) → ()`.
pub const BY_REQUESTER: TableDefinition<(&str, u64), ()> = TableDefinition::new("by_requester");
/// Open requests by requester: `(user, id) → ()` (schema 2). A user's open requests are
/// found without reading their history.
pub const OPEN_BY_REQUESTER: TableDefinition<(&str, u64), ()> =
    TableDefinition::new("open_by_requester");
/// Open requests approvers may have to review — pending, an extension waiting, or
/// break-glass: `id → ()` (schema 2). The review list reads only these.
pub const REVIEW: TableDefinition<u64, ()> = TableDefinition::new("review");
/// Open requests: `id → status index`. Restart reads only this, never the history.
pub const OPEN: TableDefinition<u64, u8> = TableDefinition::new("open");
/// Saved requests: `(user, name) → JSON SavedRecord`.
pub const SAVED: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("saved");
/// The deadline index: `(deadline ms, id) → kind`.
pub const DEADLINES: TableDefinition<(u64, u64), u8> = TableDefinition::new("deadlines");
/// The audit log: `seq → JSON AuditEntry`.
pub const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
/// Secrets not yet revealed: `(id, integration) → sealed bytes`.
pub const SECRETS: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("secrets");

/// Notifications not yet delivered: `(channel, seq) → JSON OutboxRecord`. Per channel in the
/// order they were written; `seq` is unique across channels.
pub const OUTBOX: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("outbox");
/// Notifications that failed on their own and wait for their next attempt (schema 3):
/// `(channel, seq) → (next attempt ms, failed attempts)`. Kept apart from the row so that
/// rescheduling one never needs to read (decode) it.
pub const OUTBOX_RETRY: TableDefinition<(&str, u64), (u64, u32)> =
    TableDefinition::new("outbox_retry");
/// The same notifications by next attempt (schema 3): `(channel, next attempt ms, seq) → ()`.
pub const OUTBOX_DUE: TableDefinition<(&str, u64, u64), ()> = TableDefinition::new("outbox_due");

/// `META` key: schema version.
pub const KEY_SCHEMA: &str = "schema_version";
/// `META` key: next request id.
pub const KEY_NEXT_ID: &str = "next_request_id";
/// `META` key: next audit sequence number.
pub const KEY_NEXT_SEQ: &str = "next_audit_seq";
/// `META` key: next outbox sequence number.
pub const KEY_NEXT_OUTBOX: &str = "next_outbox_seq";
/// `META` key prefix: how many rows a channel has in the outbox (`outbox_len:<channel>`).
pub const KEY_OUTBOX_LEN: &str = "outbox_len:";
/// `META_TEXT` key: instance id.
pub const KEY_INSTANCE: &str = "instance_id";
/// `META_TEXT` key: hash of the last audit entry.
pub const KEY_AUDIT_HEAD: &str = "audit_head";
/// The `prev_hash` of the first audit entry.
pub const ZERO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
