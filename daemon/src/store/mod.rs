//! The store: one redb file holding requests, their indexes, the deadline index, secrets
//! not yet revealed, the hash-chained audit log, and the outbox of notifications not yet
//! delivered.
//!
//! Invariant: this is the only module that imports redb. Everything else sees typed
//! records ([`model`]) and the two transaction types here.
//!
//! Writes go through one writer thread that commits with `Durability::Immediate`. Jobs
//! that arrive while a commit is in flight are run together in the next transaction (group
//! commit), so throughput is not capped at one fsync per request. A job's result reaches
//! its caller only after its transaction is durable. A job that returns an error must not
//! have written anything (validate first, then write); a storage error aborts the whole
//! batch and every job in it gets the error.

pub mod model;
mod tables;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use jit_api::{RequestId, Status};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use model::{AuditEntry, DeadlineKind, Millis, OutboxRecord, RequestRecord, SavedRecord};
use tables::*;

/// Writer threads still running (their ids), for [`wait_for_writers`].
static RUNNING_WRITERS: std::sync::Mutex<usize> = std::sync::Mutex::new(0);

/// Waits (up to `timeout`) until every store's writer thread has finished and closed its file.
/// A writer finishes once every handle of its store is dropped.
pub fn wait_for_writers(timeout: std::time::Duration) {
    let start = std::time::Instant::now();
    while *RUNNING_WRITERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        > 0
    {
        if start.elapsed() > timeout {
            tracing::warn!("the store did not close in time; the next start will check it");
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// The schema version this build writes. Opening a store with a newer version is refused;
/// an older one is migrated when opened (see `migrate`).
///
/// 1. The first layout.
/// 2. Adds the `open_by_requester` and `review` indexes, filled from the open requests.
/// 3. Adds `outbox_retry` and `outbox_due`: when each notification that failed on its own is
///    tried next. Empty at first (every row is due). Outbox rows may carry a delivery id
///    (`OutboxRecord::delivery`); rows written before have none and keep `<instance>-<seq>`.
pub const SCHEMA_VERSION: u64 = 3;

/// redb's page cache. Its default (1 GiB) would let the daemon's memory grow with the store;
/// the hot set (open requests, the deadline index, the newest history) is far smaller.
const CACHE_BYTES: usize = 16 << 20;

/// The most jobs committed in one transaction.
const MAX_BATCH: usize = 1024;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("cannot open store {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: redb::DatabaseError,
    },
    /// The store was written by a newer jitd.
    #[error(
        "store {path} has schema version {found}, newer than this jitd understands ({SCHEMA_VERSION}): use a newer jitd"
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u64,
    },
    /// A read or write failed.
    #[error("store {op} failed: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// Why.
        source: redb::Error,
    },
    /// A stored record could not be decoded.
    #[error("store record {what} is corrupt: {source}")]
    Corrupt {
        /// Which record.
        what: String,
        /// Why.
        source: serde_json::Error,
    },
    /// The writer thread is gone (the daemon is shutting down).
    #[error("the store is closed")]
    Closed,
}

/// Takes the next number of the counter `key` in the meta table (1 for the first) and moves
/// the counter on; `ops` name the read and the write in errors.
fn take_next(
    meta: &mut redb::Table<'_, &str, u64>,
    key: &str,
    ops: (&'static str, &'static str),
) -> Result<u64, StoreError> {
    let next = meta.get(key).map_err(io(ops.0))?.map_or(1, |v| v.value());
    meta.insert(key, next + 1).map_err(io(ops.1))?;
    Ok(next)
}

fn io<E: Into<redb::Error>>(op: &'static str) -> impl FnOnce(E) -> StoreError {
    move |e| StoreError::Io {
        op,
        source: e.into(),
    }
}

type Deliver = Box<dyn FnOnce(Result<(), Arc<StoreError>>) + Send>;
/// A job runs against the batch's transaction, or is told there is none (`None`: the
/// transaction could not begin) and reports that failure without running.
type Job = Box<dyn for<'a, 't> FnOnce(Option<&'a mut WriteTx<'t>>) -> Deliver + Send>;

/// The store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    jobs: std_mpsc::Sender<Job>,
    instance_id: Arc<str>,
    writer: Arc<std::sync::Mutex<Option<std::thread::JoinHandle<()>>>>,
    /// Jobs handed to the writer so far, for tests that need to know one is queued.
    #[cfg(test)]
    sent: Arc<std::sync::atomic::AtomicUsize>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("instance_id", &self.instance_id)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the store at `path` and starts its writer thread.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
            })?;
        let instance_id = init_schema(&db, path)?;
        let db = Arc::new(db);
        let (tx, rx) = std_mpsc::channel::<Job>();
        let writer_db = db.clone();
        let writer = std::thread::Builder::new()
            .name("jitd-store-writer".into())
            .spawn(move || {
                *RUNNING_WRITERS
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
                writer_loop(&writer_db, &rx);
                drop(writer_db);
                *RUNNING_WRITERS
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) -= 1;
            })
            .map_err(|e| StoreError::Io {
                op: "start writer thread",
                source: redb::Error::Io(e),
            })?;
        Ok(Store {
            db,
            jobs: tx,
            instance_id: instance_id.into(),
            writer: Arc::new(std::sync::Mutex::new(Some(writer))),
            #[cfg(test)]
            sent: Arc::default(),
        })
    }

    /// How many jobs were handed to the writer so far: a test that holds the writer up can
    /// wait until the jobs it expects are queued behind it.
    #[cfg(test)]
    pub(crate) fn jobs_sent(&self) -> usize {
        self.sent.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Closes the store and waits until the file is released (its lock with it), for tools
    /// that open it and hand it to a daemon afterwards. Other clones must be gone already.
    pub fn close(self) {
        let Store {
            db, jobs, writer, ..
        } = self;
        drop(jobs);
        drop(db);
        let handle = writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    /// A random id made when the store was created; integrations mark what they make with it.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// Runs `f` in a write transaction and returns its result once the transaction is durable.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut WriteTx) -> Result<T, E> + Send + 'static,
    {
        self.write_then(move |wtx| f(wtx).map(|t| (t, ())), |(), _| {})
            .await
    }

    /// Like [`Store::write`]; when `f` succeeds it also returns a value `N` that `settled`
    /// gets with `true` once the transaction is durable — or with `false` when the batch it
    /// ran in could not be committed, so that nothing it wrote exists (a refused job gets no
    /// call). `settled` runs on the writer thread, in commit order, before the result is
    /// delivered and before the next batch, so what it passes on is in the order the store
    /// changed, and what it undoes is undone before any later job runs. Keep it short: the
    /// next batch waits for it.
    pub async fn write_then<T, N, E, F, C>(&self, f: F, settled: C) -> Result<T, E>
    where
        T: Send + 'static,
        N: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut WriteTx) -> Result<(T, N), E> + Send + 'static,
        C: FnOnce(N, bool) + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |wtx: Option<&mut WriteTx>| {
            let out = match wtx {
                Some(wtx) => f(wtx),
                None => Err(E::from(StoreError::Closed)),
            };
            Box::new(move |durable: Result<(), Arc<StoreError>>| {
                let result = match (durable, out) {
                    (Ok(()), Ok((t, n))) => {
                        settled(n, true);
                        Ok(t)
                    }
                    (Ok(()), Err(e)) => Err(e),
                    (Err(e), Ok((_, n))) => {
                        settled(n, false);
                        Err(E::from(shared_error(&e)))
                    }
                    (Err(e), Err(_)) => Err(E::from(shared_error(&e))),
                };
                let _ = tx.send(result);
            })
        });
        self.jobs
            .send(job)
            .map_err(|_| E::from(StoreError::Closed))?;
        #[cfg(test)]
        self.sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        rx.await.map_err(|_| E::from(StoreError::Closed))?
    }

    /// Runs `f` on a consistent snapshot.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&ReadTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let txn = self.db.begin_read().map_err(io("begin read"))?;
        f(&ReadTx { txn })
    }
}

/// Copies a batch-wide error for each job of the batch.
fn shared_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Closed => StoreError::Closed,
        other => StoreError::Io {
            op: "commit",
            source: redb::Error::Io(std::io::Error::other(other.to_string())),
        },
    }
}

/// Writes `version` as the schema version of the store at `path` (closed), as a jitd of
/// that version would leave it: for tests of what an older jitd does with a newer store.
#[doc(hidden)]
pub fn set_schema_version_for_tests(path: &Path, version: u64) -> Result<(), StoreError> {
    let db = Database::open(path).map_err(|source| StoreError::Open {
        path: path.to_owned(),
        source,
    })?;
    let txn = db.begin_write().map_err(io("begin write"))?;
    txn.open_table(META)
        .map_err(io("open meta"))?
        .insert(KEY_SCHEMA, version)
        .map_err(io("write schema version"))?;
    txn.commit().map_err(io("commit schema"))?;
    Ok(())
}

/// Overwrites the oldest outbox row of `channel` in the store at `path` (closed) with bytes
/// that do not decode, as a damaged file or a row from an unknown jitd would leave it, and
/// returns its sequence number: for tests of what jitd does with a row it cannot read.
#[doc(hidden)]
pub fn corrupt_outbox_row_for_tests(path: &Path, channel: &str) -> Result<Option<u64>, StoreError> {
    let db = Database::open(path).map_err(|source| StoreError::Open {
        path: path.to_owned(),
        source,
    })?;
    let txn = db.begin_write().map_err(io("begin write"))?;
    let seq = {
        let mut t = txn.open_table(OUTBOX).map_err(io("open outbox"))?;
        let first = t
            .range((channel, 0)..=(channel, u64::MAX))
            .map_err(io("read outbox"))?
            .next()
            .transpose()
            .map_err(io("read outbox"))?
            .map(|(k, _)| k.value().1);
        if let Some(seq) = first {
            t.insert((channel, seq), b"{\"kind\": 7, not json".as_slice())
                .map_err(io("write outbox"))?;
        }
        first
    };
    txn.commit().map_err(io("commit"))?;
    Ok(seq)
}

fn init_schema(db: &Database, path: &Path) -> Result<String, StoreError> {
    let txn = db.begin_write().map_err(io("begin write"))?;
    let instance_id;
    {
        let mut meta = txn.open_table(META).map_err(io("open meta"))?;
        let version = meta
            .get(KEY_SCHEMA)
            .map_err(io("read schema version"))?
            .map(|v| v.value());
        match version {
            Some(found) if found > SCHEMA_VERSION => {
                return Err(StoreError::TooNew {
                    path: path.to_owned(),
                    found,
                });
            }
            Some(found) if found < SCHEMA_VERSION => {
                migrate(&txn, found)?;
                meta.insert(KEY_SCHEMA, SCHEMA_VERSION)
                    .map_err(io("write schema version"))?;
                tracing::info!(
                    store = %path.display(),
                    from = found,
                    to = SCHEMA_VERSION,
                    "store schema migrated"
                );
            }
            Some(_) => {}
            None => {
                meta.insert(KEY_SCHEMA, SCHEMA_VERSION)
                    .map_err(io("write schema version"))?;
                meta.insert(KEY_NEXT_ID, 1).map_err(io("write next id"))?;
                meta.insert(KEY_NEXT_SEQ, 1).map_err(io("write next seq"))?;
            }
        }
        let mut text = txn.open_table(META_TEXT).map_err(io("open meta"))?;
        let existing = text
            .get(KEY_INSTANCE)
            .map_err(io("read instance id"))?
            .map(|v| v.value().to_owned());
        instance_id = match existing {
            Some(id) => id,
            None => {
                let id = format!("{:016x}", rand::random::<u64>());
                text.insert(KEY_INSTANCE, id.as_str())
                    .map_err(io("write instance id"))?;
                text.insert(KEY_AUDIT_HEAD, ZERO_HASH)
                    .map_err(io("write audit head"))?;
                id
            }
        };
        // Create every table so readers never meet a missing one.
        txn.open_table(REQUESTS).map_err(io("open requests"))?;
        txn.open_table(BY_REQUESTER)
            .map_err(io("open by_requester"))?;
        txn.open_table(OPEN).map_err(io("open open"))?;
        txn.open_table(OPEN_BY_REQUESTER)
            .map_err(io("open open_by_requester"))?;
        txn.open_table(REVIEW).map_err(io("open review"))?;
        txn.open_table(SAVED).map_err(io("open saved"))?;
        txn.open_table(DEADLINES).map_err(io("open deadlines"))?;
        txn.open_table(AUDIT).map_err(io("open audit"))?;
        txn.open_table(SECRETS).map_err(io("open secrets"))?;
        // Added after schema version 1 without a bump: an older jitd never opens it (it would
        // leave the notifications waiting, and the next newer jitd sends them).
        txn.open_table(OUTBOX).map_err(io("open outbox"))?;
        txn.open_table(OUTBOX_RETRY)
            .map_err(io("open outbox_retry"))?;
        txn.open_table(OUTBOX_DUE).map_err(io("open outbox_due"))?;
    }
    txn.commit().map_err(io("commit schema"))?;
    Ok(instance_id)
}

/// Brings a store written with schema `from` up to [`SCHEMA_VERSION`], in the transaction
/// that records the new version (all or nothing).
fn migrate(txn: &redb::WriteTransaction, from: u64) -> Result<(), StoreError> {
    if from < 2 {
        // The indexes of open requests: filled from the open table, which restart already
        // reads in full, so this costs what one restart does.
        let open = txn.open_table(OPEN).map_err(io("open open"))?;
        let reqs = txn.open_table(REQUESTS).map_err(io("open requests"))?;
        let mut by_user = txn
            .open_table(OPEN_BY_REQUESTER)
            .map_err(io("open open_by_requester"))?;
        let mut review = txn.open_table(REVIEW).map_err(io("open review"))?;
        for e in open.iter().map_err(io("read open"))? {
            let id = e.map_err(io("read open"))?.0.value();
            let Some(v) = reqs.get(id).map_err(io("read request"))? else {
                continue;
            };
            let rec: RequestRecord = decode(|| format!("request {id}"), v.value())?;
            by_user
                .insert((rec.requester.as_str(), id), ())
                .map_err(io("write open_by_requester"))?;
            if needs_review(&rec) {
                review.insert(id, ()).map_err(io("write review"))?;
            }
        }
    }
    // 2 → 3: the outbox's retry tables start empty (every waiting row is due now), and are
    // created with the others when the store opens.
    Ok(())
}

/// Whether approvers may have to look at an open request: it waits for them (or its
/// extension does), or it is break-glass (reviewed after the fact).
fn needs_review(r: &RequestRecord) -> bool {
    r.status.is_open()
        && (r.status == Status::Pending || r.pending_extension.is_some() || r.break_glass)
}

fn writer_loop(db: &Database, jobs: &std_mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut txn = match db.begin_write() {
            Ok(txn) => txn,
            Err(e) => {
                let err = Arc::new(io("begin write")(e));
                tracing::error!(error = %err, "store write failed");
                for job in batch {
                    job(None)(Err(err.clone()));
                }
                continue;
            }
        };
        // redb's default, said out loud: nothing is acknowledged before it is on disk.
        if let Err(e) = txn.set_durability(redb::Durability::Immediate) {
            let err = Arc::new(StoreError::Io {
                op: "set durability",
                source: redb::Error::Io(std::io::Error::other(e.to_string())),
            });
            for job in batch {
                job(None)(Err(err.clone()));
            }
            continue;
        }
        let mut wtx = WriteTx {
            tables: Tables::new(&txn),
            poisoned: None,
        };
        let delivers: Vec<Deliver> = batch.into_iter().map(|job| job(Some(&mut wtx))).collect();
        let poisoned = wtx.poisoned.take();
        // The batch's tables close here, before the commit, which needs them closed.
        drop(wtx);
        let result = match poisoned {
            Some(e) => {
                let _ = txn.abort();
                Err(Arc::new(e))
            }
            None => txn.commit().map_err(|e| Arc::new(io("commit")(e))),
        };
        if let Err(e) = &result {
            tracing::error!(error = %e, "store commit failed; the batch was not applied");
        }
        for d in delivers {
            d(result.clone());
        }
    }
}

/// What [`ReadTx::verify_audit`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheck {
    /// Records checked and found good, from the first.
    pub checked: u64,
    /// The hash of the last good record.
    pub head: String,
    /// The first bad record's sequence number, and what is wrong with it.
    pub first_bad: Option<(u64, String)>,
}

/// A write transaction, as seen by the jobs of one batch.
///
/// Tables are opened once per batch, on first use, and closed together before the commit:
/// opening and closing a redb table costs a lookup and a write-back in the table tree, and a
/// create touches five tables several times.
pub struct WriteTx<'t> {
    tables: Tables<'t>,
    poisoned: Option<StoreError>,
}

/// Declares the tables a batch can open, each with an accessor that opens it on first use.
macro_rules! batch_tables {
    ($($name:ident: $def:ident, $k:ty, $v:ty;)*) => {
        /// The tables a batch has opened so far.
        struct Tables<'t> {
            txn: &'t redb::WriteTransaction,
            $($name: Option<redb::Table<'t, $k, $v>>,)*
        }

        impl<'t> Tables<'t> {
            fn new(txn: &'t redb::WriteTransaction) -> Tables<'t> {
                Tables { txn, $($name: None,)* }
            }

            $(
                fn $name(&mut self) -> Result<&mut redb::Table<'t, $k, $v>, StoreError> {
                    if self.$name.is_none() {
                        let table = self
                            .txn
                            .open_table($def)
                            .map_err(io(concat!("open ", stringify!($name))))?;
                        self.$name = Some(table);
                    }
                    // Just filled when it was empty.
                    self.$name.as_mut().ok_or(StoreError::Closed)
                }
            )*
        }
    };
}

batch_tables! {
    meta: META, &'static str, u64;
    meta_text: META_TEXT, &'static str, &'static str;
    requests: REQUESTS, u64, &'static [u8];
    by_requester: BY_REQUESTER, (&'static str, u64), ();
    open: OPEN, u64, u8;
    open_by_requester: OPEN_BY_REQUESTER, (&'static str, u64), ();
    review: REVIEW, u64, ();
    deadlines: DEADLINES, (u64, u64), u8;
    audit: AUDIT, u64, &'static [u8];
    secrets: SECRETS, (u64, &'static str), &'static [u8];
    saved: SAVED, (&'static str, &'static str), &'static [u8];
    outbox: OUTBOX, (&'static str, u64), &'static [u8];
    outbox_retry: OUTBOX_RETRY, (&'static str, u64), (u64, u32);
    outbox_due: OUTBOX_DUE, (&'static str, u64, u64), ();
}

/// An outbox row as the store holds it: its record, or why it cannot be read (a damaged row,
/// or one a newer jitd wrote). Removing or rescheduling a row never needs to read it, so a
/// row that cannot be read fails nothing but itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxRow {
    /// The row, decoded.
    Record(Box<OutboxRecord>),
    /// Why it could not be decoded (holds no part of the row beyond serde's message).
    Unreadable(String),
}

impl OutboxRow {
    fn decode(bytes: &[u8]) -> OutboxRow {
        match serde_json::from_slice::<OutboxRecord>(bytes) {
            Ok(r) => OutboxRow::Record(Box::new(r)),
            Err(e) => OutboxRow::Unreadable(format!(
                "it cannot be read (a damaged row, or one written by a newer jitd): {e}"
            )),
        }
    }

    /// The record, if it could be read.
    pub fn record(&self) -> Option<&OutboxRecord> {
        match self {
            OutboxRow::Record(r) => Some(r),
            OutboxRow::Unreadable(_) => None,
        }
    }
}

/// One page of a channel's outbox for the notifier ([`ReadTx::outbox_page`]): only keys and
/// retry times, never a decoded row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxPage {
    /// Rows whose retry time has come: `(seq, failed attempts)`, earliest first.
    pub due: Vec<(u64, u32)>,
    /// Rows after the cursor not waiting for a retry, oldest first.
    pub fresh: Vec<u64>,
    /// Where the next page's fresh rows start (after this sequence number).
    pub cursor: u64,
    /// When the earliest row waiting for a retry and not in `due` is due, if any.
    pub next_due: Option<Millis>,
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Records are plain data (strings, numbers, enums): serializing them cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

fn decode<T: serde::de::DeserializeOwned>(
    what: impl FnOnce() -> String,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Corrupt {
        what: what(),
        source,
    })
}

/// The hex SHA-256 of an audit entry (with its own `hash` field empty) chained to `prev`.
pub fn audit_hash(entry: &AuditEntry) -> String {
    if entry.hash.is_empty() {
        return unhashed_audit_hash(entry);
    }
    let mut unhashed = entry.clone();
    unhashed.hash = String::new();
    unhashed_audit_hash(&unhashed)
}

/// [`audit_hash`] of an entry whose `hash` is still empty (no copy needed).
fn unhashed_audit_hash(entry: &AuditEntry) -> String {
    let mut h = Sha256::new();
    h.update(entry.prev_hash.as_bytes());
    h.update(encode(entry));
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

impl WriteTx<'_> {
    fn track<T>(&mut self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(e) = &r
            && self.poisoned.is_none()
        {
            self.poisoned = Some(StoreError::Io {
                op: "write",
                source: redb::Error::Io(std::io::Error::other(e.to_string())),
            });
        }
        r
    }

    /// Takes the next request number.
    pub fn next_request_id(&mut self) -> Result<RequestId, StoreError> {
        let r = (|| {
            take_next(
                self.tables.meta()?,
                KEY_NEXT_ID,
                ("read next id", "write next id"),
            )
        })();
        self.track(r)
    }

    /// Reads one request.
    pub fn request(&mut self, id: RequestId) -> Result<Option<RequestRecord>, StoreError> {
        let r = (|| {
            let table = self.tables.requests()?;
            let got = table.get(id).map_err(io("read request"))?;
            got.map(|v| decode(|| format!("request {id}"), v.value()))
                .transpose()
        })();
        self.track(r)
    }

    /// Every open request, as this transaction sees them (the jobs before it in its batch
    /// included).
    pub fn open_requests(&mut self) -> Result<Vec<RequestRecord>, StoreError> {
        let r = (|| {
            let ids = {
                let open = self.tables.open()?;
                let mut ids = Vec::new();
                for e in open.iter().map_err(io("read open"))? {
                    ids.push(e.map_err(io("read open"))?.0.value());
                }
                ids
            };
            let table = self.tables.requests()?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(v) = table.get(id).map_err(io("read request"))? {
                    out.push(decode(|| format!("request {id}"), v.value())?);
                }
            }
            Ok(out)
        })();
        self.track(r)
    }

    /// Makes this transaction's batch fail to commit, as a storage error would: for tests of
    /// what a write does when its commit fails.
    #[cfg(test)]
    pub(crate) fn fail_batch(&mut self) {
        self.poisoned = Some(StoreError::Closed);
    }

    /// Writes a request and keeps every index in step with it. `old` is the record as it
    /// was read in this transaction (`None` for a new request).
    pub fn put_request(
        &mut self,
        new: &RequestRecord,
        old: Option<&RequestRecord>,
    ) -> Result<(), StoreError> {
        let r = (|| {
            let id = new.id;
            self.tables
                .requests()?
                .insert(id, encode(new).as_slice())
                .map_err(io("write request"))?;
            if old.is_none() {
                self.tables
                    .by_requester()?
                    .insert((new.requester.as_str(), id), ())
                    .map_err(io("write by_requester"))?;
            }
            let open = self.tables.open()?;
            if new.status.is_open() {
                let flag = if new.resetting.is_some() {
                    RESETTING_FLAG
                } else {
                    0
                };
                open.insert(id, status_code(new.status) | flag)
                    .map_err(io("write open"))?;
            } else if old.is_some_and(|o| o.status.is_open()) {
                open.remove(id).map_err(io("remove open"))?;
            }
            let was_open = old.is_some_and(|o| o.status.is_open());
            if new.status.is_open() != was_open {
                let by_user = self.tables.open_by_requester()?;
                if was_open {
                    by_user
                        .remove((new.requester.as_str(), id))
                        .map_err(io("remove open_by_requester"))?;
                } else {
                    by_user
                        .insert((new.requester.as_str(), id), ())
                        .map_err(io("write open_by_requester"))?;
                }
            }
            let was_review = old.is_some_and(needs_review);
            if needs_review(new) != was_review {
                let review = self.tables.review()?;
                if was_review {
                    review.remove(id).map_err(io("remove review"))?;
                } else {
                    review.insert(id, ()).map_err(io("write review"))?;
                }
            }
            let old_deadline = old.and_then(|o| o.deadline);
            if old_deadline != new.deadline {
                let deadlines = self.tables.deadlines()?;
                if let Some(d) = old_deadline {
                    deadlines
                        .remove((d.at, id))
                        .map_err(io("remove deadline"))?;
                }
                if let Some(d) = new.deadline {
                    deadlines
                        .insert((d.at, id), d.kind.code())
                        .map_err(io("write deadline"))?;
                }
            }
            Ok(())
        })();
        self.track(r)
    }

    /// Appends an audit entry, filling in its sequence number and hashes.
    pub fn append_audit(&mut self, mut entry: AuditEntry) -> Result<u64, StoreError> {
        let r = (|| {
            let seq = take_next(
                self.tables.meta()?,
                KEY_NEXT_SEQ,
                ("read next seq", "write next seq"),
            )?;
            let text = self.tables.meta_text()?;
            let prev = text
                .get(KEY_AUDIT_HEAD)
                .map_err(io("read audit head"))?
                .map_or_else(|| ZERO_HASH.to_owned(), |v| v.value().to_owned());
            entry.seq = seq;
            entry.prev_hash = prev;
            entry.hash = String::new();
            entry.hash = unhashed_audit_hash(&entry);
            text.insert(KEY_AUDIT_HEAD, entry.hash.as_str())
                .map_err(io("write audit head"))?;
            self.tables
                .audit()?
                .insert(seq, encode(&entry).as_slice())
                .map_err(io("write audit"))?;
            Ok(seq)
        })();
        self.track(r)
    }

    /// Stores a session's secret until it is revealed.
    pub fn put_secret(
        &mut self,
        id: RequestId,
        integration: &str,
        sealed: &[u8],
    ) -> Result<(), StoreError> {
        let r = (|| {
            self.tables
                .secrets()?
                .insert((id, integration), sealed)
                .map_err(io("write secret"))?;
            Ok(())
        })();
        self.track(r)
    }

    /// Removes and returns a session's secret.
    pub fn take_secret(
        &mut self,
        id: RequestId,
        integration: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let r = (|| {
            let t = self.tables.secrets()?;
            let v = t
                .remove((id, integration))
                .map_err(io("remove secret"))?
                .map(|v| v.value().to_vec());
            Ok(v)
        })();
        self.track(r)
    }

    /// Reads a session's secret without removing it.
    pub fn secret(
        &mut self,
        id: RequestId,
        integration: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let r = (|| {
            let t = self.tables.secrets()?;
            let v = t
                .get((id, integration))
                .map_err(io("read secret"))?
                .map(|v| v.value().to_vec());
            Ok(v)
        })();
        self.track(r)
    }

    /// Removes every secret of a request.
    pub fn delete_secrets(&mut self, id: RequestId) -> Result<(), StoreError> {
        let r = (|| {
            let t = self.tables.secrets()?;
            let keys: Vec<String> = t
                .range((id, "")..)
                .map_err(io("read secrets"))?
                .map_while(|e| e.ok())
                .take_while(|(k, _)| k.value().0 == id)
                .map(|(k, _)| k.value().1.to_owned())
                .collect();
            for k in keys {
                t.remove((id, k.as_str())).map_err(io("remove secret"))?;
            }
            Ok(())
        })();
        self.track(r)
    }

    /// Adds a notification for `channel` to the outbox and returns its sequence number. When
    /// the channel then holds more than `max_pending`, its oldest row is removed and returned
    /// with its number (the caller records that it was dropped); one that cannot be read is
    /// removed all the same.
    pub fn push_outbox(
        &mut self,
        channel: &str,
        rec: &OutboxRecord,
        max_pending: u64,
    ) -> Result<(u64, Option<(u64, OutboxRow)>), StoreError> {
        let r = (|| {
            let seq = take_next(
                self.tables.meta()?,
                KEY_NEXT_OUTBOX,
                ("read next outbox seq", "write next outbox seq"),
            )?;
            let meta = self.tables.meta()?;
            let len_key = format!("{KEY_OUTBOX_LEN}{channel}");
            let len = meta
                .get(len_key.as_str())
                .map_err(io("read outbox length"))?
                .map_or(0, |v| v.value());
            let outbox = self.tables.outbox()?;
            outbox
                .insert((channel, seq), encode(rec).as_slice())
                .map_err(io("write outbox"))?;
            let mut dropped = None;
            let mut len = len + 1;
            if len > max_pending {
                let first = outbox
                    .range((channel, 0)..=(channel, u64::MAX))
                    .map_err(io("read outbox"))?
                    .next()
                    .transpose()
                    .map_err(io("read outbox"))?
                    .map(|(k, v)| (k.value().1, v.value().to_vec()));
                if let Some((old, bytes)) = first {
                    outbox.remove((channel, old)).map_err(io("remove outbox"))?;
                    len -= 1;
                    dropped = Some((old, OutboxRow::decode(&bytes)));
                }
            }
            self.tables
                .meta()?
                .insert(len_key.as_str(), len)
                .map_err(io("write outbox length"))?;
            if let Some((old, _)) = &dropped {
                self.forget_retry(channel, *old)?;
            }
            Ok((seq, dropped))
        })();
        self.track(r)
    }

    /// Adds `recipients` to the `done` list of a notification of the outbox; returns the row
    /// as it is now, if it is there. A row that cannot be read is left as it is (and said so).
    pub fn outbox_done(
        &mut self,
        channel: &str,
        seq: u64,
        recipients: &[String],
    ) -> Result<Option<OutboxRow>, StoreError> {
        let r = (|| {
            let outbox = self.tables.outbox()?;
            let got = outbox
                .get((channel, seq))
                .map_err(io("read outbox"))?
                .map(|v| v.value().to_vec());
            let Some(bytes) = got else {
                return Ok(None);
            };
            let OutboxRow::Record(mut row) = OutboxRow::decode(&bytes) else {
                return Ok(Some(OutboxRow::decode(&bytes)));
            };
            for r in recipients {
                if !row.done.contains(r) {
                    row.done.push(r.clone());
                }
            }
            outbox
                .insert((channel, seq), encode(&*row).as_slice())
                .map_err(io("write outbox"))?;
            Ok(Some(OutboxRow::Record(row)))
        })();
        self.track(r)
    }

    /// Sets when a notification that failed on its own is tried next (`at`), and how many of
    /// its attempts failed; `false` when it is no longer in the outbox. The row itself is not
    /// read: a row that cannot be decoded is rescheduled like any other.
    pub fn outbox_retry(
        &mut self,
        channel: &str,
        seq: u64,
        at: Millis,
        failures: u32,
    ) -> Result<bool, StoreError> {
        let r = (|| {
            let there = self
                .tables
                .outbox()?
                .get((channel, seq))
                .map_err(io("read outbox"))?
                .is_some();
            if !there {
                return Ok(false);
            }
            self.forget_retry(channel, seq)?;
            self.tables
                .outbox_retry()?
                .insert((channel, seq), (at, failures))
                .map_err(io("write outbox_retry"))?;
            self.tables
                .outbox_due()?
                .insert((channel, at, seq), ())
                .map_err(io("write outbox_due"))?;
            Ok(true)
        })();
        self.track(r)
    }

    /// Removes a notification's retry time, if it has one.
    fn forget_retry(&mut self, channel: &str, seq: u64) -> Result<(), StoreError> {
        let old = self
            .tables
            .outbox_retry()?
            .remove((channel, seq))
            .map_err(io("remove outbox_retry"))?
            .map(|v| v.value().0);
        if let Some(at) = old {
            self.tables
                .outbox_due()?
                .remove((channel, at, seq))
                .map_err(io("remove outbox_due"))?;
        }
        Ok(())
    }

    /// Removes a notification from the outbox (delivered, or given up) by its key, with its
    /// retry time; returns it if it was there, decoded if it can be (a row that cannot be is
    /// removed all the same).
    pub fn remove_outbox(
        &mut self,
        channel: &str,
        seq: u64,
    ) -> Result<Option<OutboxRow>, StoreError> {
        let r = (|| {
            let removed = self
                .tables
                .outbox()?
                .remove((channel, seq))
                .map_err(io("remove outbox"))?
                .map(|v| v.value().to_vec());
            let Some(bytes) = removed else {
                return Ok(None);
            };
            let meta = self.tables.meta()?;
            let len_key = format!("{KEY_OUTBOX_LEN}{channel}");
            let len = meta
                .get(len_key.as_str())
                .map_err(io("read outbox length"))?
                .map_or(0, |v| v.value());
            meta.insert(len_key.as_str(), len.saturating_sub(1))
                .map_err(io("write outbox length"))?;
            self.forget_retry(channel, seq)?;
            Ok(Some(OutboxRow::decode(&bytes)))
        })();
        self.track(r)
    }

    /// Removes one entry of the deadline index.
    pub fn remove_deadline(&mut self, at: Millis, id: RequestId) -> Result<(), StoreError> {
        let r = (|| {
            self.tables
                .deadlines()?
                .remove((at, id))
                .map_err(io("remove deadline"))?;
            Ok(())
        })();
        self.track(r)
    }

    /// Saves `rec` as `user`'s `name` (replacing one of that name). Refused with `false`
    /// when the user already has `max` others.
    pub fn put_saved(
        &mut self,
        user: &str,
        name: &str,
        rec: &SavedRecord,
        max: usize,
    ) -> Result<bool, StoreError> {
        let r = (|| {
            let t = self.tables.saved()?;
            let exists = t.get((user, name)).map_err(io("read saved"))?.is_some();
            if !exists {
                let mut n = 0;
                for e in t.range((user, "")..).map_err(io("read saved"))? {
                    if e.map_err(io("read saved"))?.0.value().0 != user {
                        break;
                    }
                    n += 1;
                }
                if n >= max {
                    return Ok(false);
                }
            }
            t.insert((user, name), encode(rec).as_slice())
                .map_err(io("write saved"))?;
            Ok(true)
        })();
        self.track(r)
    }

    /// Forgets `user`'s saved request `name`; `false` when there was none.
    pub fn delete_saved(&mut self, user: &str, name: &str) -> Result<bool, StoreError> {
        let r = (|| {
            Ok(self
                .tables
                .saved()?
                .remove((user, name))
                .map_err(io("remove saved"))?
                .is_some())
        })();
        self.track(r)
    }

    /// Deadlines at or before `now`, earliest first, at most `limit`.
    pub fn due(
        &mut self,
        now: Millis,
        limit: usize,
    ) -> Result<Vec<(Millis, RequestId, DeadlineKind)>, StoreError> {
        let r = (|| {
            let t = self.tables.deadlines()?;
            due_in(t, now, limit)
        })();
        self.track(r)
    }
}

fn due_in(
    t: &impl ReadableTable<(u64, u64), u8>,
    now: Millis,
    limit: usize,
) -> Result<Vec<(Millis, RequestId, DeadlineKind)>, StoreError> {
    let mut out = Vec::new();
    for entry in t
        .range((0, 0)..=(now, u64::MAX))
        .map_err(io("read deadlines"))?
    {
        let (k, v) = entry.map_err(io("read deadline"))?;
        let (at, id) = k.value();
        if let Some(kind) = DeadlineKind::from_code(v.value()) {
            out.push((at, id, kind));
        }
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

/// Set in the open table's value while a request's credentials reset is in flight.
const RESETTING_FLAG: u8 = 0x80;

/// The stored byte for an open status. Explicit, so reordering the API's enum cannot change
/// what a stored byte means.
fn status_code(s: Status) -> u8 {
    match s {
        Status::Pending => 1,
        Status::Scheduled => 2,
        Status::Granting => 3,
        Status::Granted => 4,
        Status::Revoking => 5,
        Status::Expired => 6,
        Status::Revoked => 7,
        Status::Rejected => 8,
        Status::Failed => 9,
        Status::Canceled => 10,
    }
}

/// The status for a stored byte.
fn status_from_code(code: u8) -> Option<Status> {
    Status::ALL.into_iter().find(|s| status_code(*s) == code)
}

/// A read-only snapshot.
pub struct ReadTx {
    txn: redb::ReadTransaction,
}

impl ReadTx {
    /// One request.
    pub fn request(&self, id: RequestId) -> Result<Option<RequestRecord>, StoreError> {
        let table = self.txn.open_table(REQUESTS).map_err(io("open requests"))?;
        let got = table.get(id).map_err(io("read request"))?;
        got.map(|v| decode(|| format!("request {id}"), v.value()))
            .transpose()
    }

    /// A session's sealed secret, if it has not been revealed.
    pub fn secret(&self, id: RequestId, integration: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let t = self.txn.open_table(SECRETS).map_err(io("open secrets"))?;
        let v = t
            .get((id, integration))
            .map_err(io("read secret"))?
            .map(|v| v.value().to_vec());
        Ok(v)
    }

    /// The ids of every open request, with their status and whether a credentials reset is
    /// in flight.
    pub fn open_ids(&self) -> Result<Vec<(RequestId, Status, bool)>, StoreError> {
        let t = self.txn.open_table(OPEN).map_err(io("open open"))?;
        let mut out = Vec::with_capacity(t.len().map_err(io("count open"))? as usize);
        for e in t.iter().map_err(io("read open"))? {
            let (k, v) = e.map_err(io("read open"))?;
            let code = v.value() & !RESETTING_FLAG;
            let status = status_from_code(code).ok_or_else(|| StoreError::Corrupt {
                what: format!("open request {} (status byte {code})", k.value()),
                source: serde_json::Error::io(std::io::Error::other("unknown status")),
            })?;
            out.push((k.value(), status, v.value() & RESETTING_FLAG != 0));
        }
        Ok(out)
    }

    /// A user's requests with an id below `before`, newest first, that pass `keep`, at most
    /// `limit`.
    pub fn by_requester(
        &self,
        user: &str,
        before: RequestId,
        limit: usize,
        keep: impl FnMut(&RequestRecord) -> bool,
    ) -> Result<Vec<RequestRecord>, StoreError> {
        self.newest_of(BY_REQUESTER, user, before, limit, keep)
    }

    /// The requests a `(user, id)` index holds for `user` with an id below `before`, newest
    /// first, that pass `keep`, at most `limit`.
    fn newest_of(
        &self,
        index: TableDefinition<(&str, u64), ()>,
        user: &str,
        before: RequestId,
        limit: usize,
        mut keep: impl FnMut(&RequestRecord) -> bool,
    ) -> Result<Vec<RequestRecord>, StoreError> {
        let idx = self.txn.open_table(index).map_err(io("open index"))?;
        let reqs = self.txn.open_table(REQUESTS).map_err(io("open requests"))?;
        let mut out = Vec::new();
        for e in idx
            .range((user, 0)..(user, before))
            .map_err(io("read index"))?
            .rev()
        {
            let id = e.map_err(io("read index"))?.0.value().1;
            if let Some(v) = reqs.get(id).map_err(io("read request"))? {
                let rec: RequestRecord = decode(|| format!("request {id}"), v.value())?;
                if keep(&rec) {
                    out.push(rec);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
        }
        Ok(out)
    }

    /// A user's saved requests, by name.
    pub fn saved_of(&self, user: &str) -> Result<Vec<(String, SavedRecord)>, StoreError> {
        let t = self.txn.open_table(SAVED).map_err(io("open saved"))?;
        let mut out = Vec::new();
        for e in t.range((user, "")..).map_err(io("read saved"))? {
            let (k, v) = e.map_err(io("read saved"))?;
            let (u, name) = k.value();
            if u != user {
                break;
            }
            out.push((
                name.to_owned(),
                decode(|| format!("saved request {name} of {user}"), v.value())?,
            ));
        }
        Ok(out)
    }

    /// A user's open requests with an id below `before`, newest first, that pass `keep`, at
    /// most `limit` (the index of open requests: the user's history is not read).
    pub fn open_of(
        &self,
        user: &str,
        before: RequestId,
        limit: usize,
        keep: impl FnMut(&RequestRecord) -> bool,
    ) -> Result<Vec<RequestRecord>, StoreError> {
        self.newest_of(OPEN_BY_REQUESTER, user, before, limit, keep)
    }

    /// Open requests approvers may have to review (pending, an extension waiting,
    /// break-glass), newest first.
    pub fn review_candidates(&self) -> Result<Vec<RequestRecord>, StoreError> {
        let idx = self.txn.open_table(REVIEW).map_err(io("open review"))?;
        let reqs = self.txn.open_table(REQUESTS).map_err(io("open requests"))?;
        let mut out = Vec::new();
        for e in idx.iter().map_err(io("read review"))?.rev() {
            let id = e.map_err(io("read review"))?.0.value();
            if let Some(v) = reqs.get(id).map_err(io("read request"))? {
                out.push(decode(|| format!("request {id}"), v.value())?);
            }
        }
        Ok(out)
    }

    /// All requests with an id below `before`, newest first, that pass `keep`, at most
    /// `limit`.
    pub fn all_requests(
        &self,
        before: RequestId,
        limit: usize,
        mut keep: impl FnMut(&RequestRecord) -> bool,
    ) -> Result<Vec<RequestRecord>, StoreError> {
        let reqs = self.txn.open_table(REQUESTS).map_err(io("open requests"))?;
        let mut out = Vec::new();
        for e in reqs.range(..before).map_err(io("read requests"))?.rev() {
            let (k, v) = e.map_err(io("read request"))?;
            let id = k.value();
            let rec: RequestRecord = decode(|| format!("request {id}"), v.value())?;
            if keep(&rec) {
                out.push(rec);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// The earliest deadline in the index.
    pub fn earliest_deadline(&self) -> Result<Option<Millis>, StoreError> {
        let t = self
            .txn
            .open_table(DEADLINES)
            .map_err(io("open deadlines"))?;
        let first = t.first().map_err(io("read deadlines"))?;
        Ok(first.map(|(k, _)| k.value().0))
    }

    /// Deadlines at or before `now`, earliest first, at most `limit`.
    pub fn due(
        &self,
        now: Millis,
        limit: usize,
    ) -> Result<Vec<(Millis, RequestId, DeadlineKind)>, StoreError> {
        let t = self
            .txn
            .open_table(DEADLINES)
            .map_err(io("open deadlines"))?;
        due_in(&t, now, limit)
    }

    /// The channels that have notifications in the outbox, by name. Reads one key per
    /// channel, however many rows each holds.
    pub fn outbox_channels(&self) -> Result<Vec<String>, StoreError> {
        let t = self.txn.open_table(OUTBOX).map_err(io("open outbox"))?;
        let mut out: Vec<String> = Vec::new();
        loop {
            // No row has seq u64::MAX, so this starts at the next channel's first row.
            let next = match out.last() {
                Some(last) => t.range((last.as_str(), u64::MAX)..),
                None => t.range::<(&str, u64)>(..),
            }
            .map_err(io("read outbox"))?
            .next()
            .transpose()
            .map_err(io("read outbox"))?
            .map(|(k, _)| k.value().0.to_owned());
            match next {
                Some(c) if out.last() != Some(&c) => out.push(c),
                _ => return Ok(out),
            }
        }
    }

    /// Up to `limit` notifications of `channel` to try now: first those waiting for a retry
    /// whose time (`<= now`) has come, then rows after `after` that wait for no retry, oldest
    /// first. Reads keys and retry times only, so a row that cannot be decoded is listed like
    /// any other.
    pub fn outbox_page(
        &self,
        channel: &str,
        after: u64,
        now: Millis,
        limit: usize,
    ) -> Result<OutboxPage, StoreError> {
        let retry = self
            .txn
            .open_table(OUTBOX_RETRY)
            .map_err(io("open outbox_retry"))?;
        let due = self
            .txn
            .open_table(OUTBOX_DUE)
            .map_err(io("open outbox_due"))?;
        let mut page = OutboxPage {
            cursor: after,
            ..OutboxPage::default()
        };
        for e in due
            .range((channel, 0, 0)..=(channel, u64::MAX, u64::MAX))
            .map_err(io("read outbox_due"))?
        {
            let (at, seq) = {
                let (k, _) = e.map_err(io("read outbox_due"))?;
                let (_, at, seq) = k.value();
                (at, seq)
            };
            if at > now || page.due.len() >= limit {
                page.next_due = Some(at);
                break;
            }
            let failures = retry
                .get((channel, seq))
                .map_err(io("read outbox_retry"))?
                .map_or(0, |v| v.value().1);
            page.due.push((seq, failures));
        }
        let room = limit.saturating_sub(page.due.len());
        if room == 0 || after == u64::MAX {
            return Ok(page);
        }
        let outbox = self.txn.open_table(OUTBOX).map_err(io("open outbox"))?;
        for e in outbox
            .range((channel, after + 1)..=(channel, u64::MAX))
            .map_err(io("read outbox"))?
        {
            let seq = e.map_err(io("read outbox"))?.0.value().1;
            page.cursor = seq;
            // Rows waiting for a retry come through `due`, when their time comes.
            if retry
                .get((channel, seq))
                .map_err(io("read outbox_retry"))?
                .is_none()
            {
                page.fresh.push(seq);
                if page.fresh.len() >= room {
                    break;
                }
            }
        }
        Ok(page)
    }

    /// One notification of the outbox, decoded if it can be.
    pub fn outbox(&self, channel: &str, seq: u64) -> Result<Option<OutboxRow>, StoreError> {
        let t = self.txn.open_table(OUTBOX).map_err(io("open outbox"))?;
        let got = t.get((channel, seq)).map_err(io("read outbox"))?;
        Ok(got.map(|v| OutboxRow::decode(v.value())))
    }

    /// How many notifications wait for `channel`.
    pub fn outbox_len(&self, channel: &str) -> Result<u64, StoreError> {
        let t = self.txn.open_table(META).map_err(io("open meta"))?;
        let key = format!("{KEY_OUTBOX_LEN}{channel}");
        Ok(t.get(key.as_str())
            .map_err(io("read outbox length"))?
            .map_or(0, |v| v.value()))
    }

    /// Walks the audit log's hash chain from the first record to the head the store keeps,
    /// and reports the first record that is missing, edited or out of order.
    pub fn verify_audit(&self) -> Result<AuditCheck, StoreError> {
        let t = self.txn.open_table(AUDIT).map_err(io("open audit"))?;
        let mut prev = ZERO_HASH.to_owned();
        let mut checked = 0;
        let mut expected = 1;
        for e in t.iter().map_err(io("read audit"))? {
            let (k, v) = e.map_err(io("read audit entry"))?;
            let seq = k.value();
            let found = |at: u64, problem: String| AuditCheck {
                checked,
                head: prev.clone(),
                first_bad: Some((at, problem)),
            };
            if seq != expected {
                return Ok(found(
                    expected,
                    format!(
                        "record {expected} is missing: the log jumps from record {} to {seq}",
                        expected - 1
                    ),
                ));
            }
            let out = |problem: &str| found(seq, format!("record {seq} {problem}"));
            let Ok(entry) = serde_json::from_slice::<AuditEntry>(v.value()) else {
                return Ok(out("cannot be read: its bytes were changed"));
            };
            if entry.seq != seq {
                return Ok(out(&format!(
                    "says it is record {}: it was moved",
                    entry.seq
                )));
            }
            if entry.prev_hash != prev {
                return Ok(out(&format!(
                    "does not follow record {}: a record before it was edited, removed or replaced",
                    seq - 1
                )));
            }
            if audit_hash(&entry) != entry.hash {
                return Ok(out("was edited: its contents do not match its hash"));
            }
            prev = entry.hash;
            checked += 1;
            expected += 1;
        }
        let next = self
            .txn
            .open_table(META)
            .map_err(io("open meta"))?
            .get(KEY_NEXT_SEQ)
            .map_err(io("read next seq"))?
            .map_or(1, |v| v.value());
        let head = self
            .txn
            .open_table(META_TEXT)
            .map_err(io("open meta"))?
            .get(KEY_AUDIT_HEAD)
            .map_err(io("read audit head"))?
            .map_or_else(|| ZERO_HASH.to_owned(), |v| v.value().to_owned());
        let missing_tail = next != expected || head != prev;
        Ok(AuditCheck {
            checked,
            first_bad: missing_tail.then(|| {
                (
                    expected,
                    if next > expected {
                        format!(
                            "record {expected} is missing: the log ends at {} but {} records were written",
                            expected - 1,
                            next - 1
                        )
                    } else {
                        format!(
                            "the log's last record does not match the head the store keeps: records after {} were removed or replaced",
                            expected - 1
                        )
                    },
                )
            }),
            head: prev,
        })
    }

    /// Audit entries with `seq > after`, oldest first, passing `keep`, at most `limit`.
    pub fn audit(
        &self,
        after: u64,
        limit: usize,
        mut keep: impl FnMut(&AuditEntry) -> bool,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let t = self.txn.open_table(AUDIT).map_err(io("open audit"))?;
        let mut out = Vec::new();
        for e in t
            .range(after.saturating_add(1)..)
            .map_err(io("read audit"))?
        {
            let (k, v) = e.map_err(io("read audit"))?;
            let seq = k.value();
            let entry: AuditEntry = decode(|| format!("audit entry {seq}"), v.value())?;
            if keep(&entry) {
                out.push(entry);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::model::*;
    use super::*;
    use jit_api::{ApprovalMode, Status};

    fn record(id: RequestId, status: Status, deadline: Option<Deadline>) -> RequestRecord {
        RequestRecord {
            id,
            requester: "alice".into(),
            requester_uid: 1000,
            flow: "f".into(),
            bundle: None,
            entries: vec![EntryRecord {
                integration: "demo".into(),
                resource_type: "database".into(),
                resources: vec!["x".into()],
                permissions: vec!["read".into()],
            }],
            justification: None,
            status,
            duration_secs: 60,
            created_at: 1,
            start_at: None,
            pending_until: None,
            granted_at: None,
            expires_at: None,
            ended_at: None,
            end_reason: None,
            error: None,
            approval: ApprovalRecord {
                mode: ApprovalMode::Auto,
                approvers: Vec::new(),
                required: 0,
                approvals: Vec::new(),
                rejection: None,
            },
            repeats: None,
            sessions: Vec::new(),
            revoking: None,
            deadline,
            dry_run: true,
            break_glass: false,
            extensions: Vec::new(),
            pending_extension: None,
            resetting: None,
            next_rotation: None,
            next_warning: None,
        }
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("t.redb")).unwrap();
        (dir, s)
    }

    #[tokio::test]
    async fn indexes_follow_the_record() {
        let (_d, s) = store();
        let d1 = Deadline {
            at: 100,
            kind: DeadlineKind::Expire,
        };
        let granted = record(1, Status::Granted, Some(d1));
        let g = granted.clone();
        s.write(move |w| w.put_request(&g, None)).await.unwrap();
        s.read(|r| {
            assert_eq!(r.open_ids()?, vec![(1, Status::Granted, false)]);
            assert_eq!(r.earliest_deadline()?, Some(100));
            assert_eq!(r.due(100, 10)?, vec![(100, 1, DeadlineKind::Expire)]);
            assert_eq!(r.by_requester("alice", u64::MAX, 10, |_| true)?.len(), 1);
            assert_eq!(r.open_of("alice", u64::MAX, 10, |_| true)?.len(), 1);
            assert!(r.open_of("bob", u64::MAX, 10, |_| true)?.is_empty());
            assert!(
                r.review_candidates()?.is_empty(),
                "granted, not break-glass"
            );
            Ok(())
        })
        .unwrap();
        let mut closed = granted.clone();
        closed.status = Status::Expired;
        closed.deadline = None;
        s.write(move |w| w.put_request(&closed, Some(&granted)))
            .await
            .unwrap();
        s.read(|r| {
            assert!(r.open_ids()?.is_empty());
            assert_eq!(r.earliest_deadline()?, None);
            assert_eq!(
                r.by_requester("alice", u64::MAX, 10, |_| true)?[0].status,
                Status::Expired
            );
            assert!(r.open_of("alice", u64::MAX, 10, |_| true)?.is_empty());
            Ok(())
        })
        .unwrap();
        // Pending: under review until decided.
        let pending = record(2, Status::Pending, None);
        let p = pending.clone();
        s.write(move |w| w.put_request(&p, None)).await.unwrap();
        assert_eq!(s.read(|r| r.review_candidates()).unwrap().len(), 1);
        let mut rejected = pending.clone();
        rejected.status = Status::Rejected;
        s.write(move |w| w.put_request(&rejected, Some(&pending)))
            .await
            .unwrap();
        assert!(s.read(|r| r.review_candidates()).unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_schema_1_store_gets_its_open_indexes_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.redb");
        {
            let s = Store::open(&path).unwrap();
            for (id, status) in [
                (1, Status::Granted),
                (2, Status::Pending),
                (3, Status::Expired),
            ] {
                let r = record(id, status, None);
                s.write(move |w| w.put_request(&r, None)).await.unwrap();
            }
            s.close();
        }
        // As schema 1 left it: no such indexes.
        {
            let db = Database::open(&path).unwrap();
            let txn = db.begin_write().unwrap();
            txn.delete_table(OPEN_BY_REQUESTER).unwrap();
            txn.delete_table(REVIEW).unwrap();
            txn.open_table(META).unwrap().insert(KEY_SCHEMA, 1).unwrap();
            txn.commit().unwrap();
        }
        let s = Store::open(&path).unwrap();
        s.read(|r| {
            let open: Vec<_> = r
                .open_of("alice", u64::MAX, 10, |_| true)?
                .iter()
                .map(|r| r.id)
                .collect();
            assert_eq!(open, vec![2, 1]);
            let review: Vec<_> = r.review_candidates()?.iter().map(|r| r.id).collect();
            assert_eq!(review, vec![2]);
            Ok(())
        })
        .unwrap();
        let version =
            s.db.begin_read()
                .unwrap()
                .open_table(META)
                .unwrap()
                .get(KEY_SCHEMA)
                .unwrap()
                .map(|v| v.value());
        assert_eq!(version, Some(SCHEMA_VERSION));
    }

    #[tokio::test]
    async fn a_refused_job_does_not_spoil_its_batch() {
        let (_d, s) = store();
        let a = s.write(|w| {
            let r = record(w.next_request_id()?, Status::Pending, None);
            w.put_request(&r, None).map(|()| r.id)
        });
        let b = s.write(|_w| Err::<(), _>(StoreError::Closed));
        let (a, b) = tokio::join!(a, b);
        let id = a.unwrap();
        assert!(b.is_err());
        assert!(s.read(|r| r.request(id)).unwrap().is_some());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn committed_hooks_run_in_commit_order_and_only_after_a_commit() {
        let (_d, s) = store();
        let (tx, rx) = std::sync::mpsc::channel();
        // Concurrent jobs share batches; each hook must still see the store in order: the
        // ids its job took come in increasing order.
        let jobs: Vec<_> = (0..50)
            .map(|_| {
                let tx = tx.clone();
                let s = s.clone();
                tokio::spawn(async move {
                    s.write_then(
                        move |w| {
                            let r = record(w.next_request_id()?, Status::Pending, None);
                            w.put_request(&r, None)?;
                            Ok::<_, StoreError>(((), r.id))
                        },
                        move |id, durable| {
                            assert!(durable);
                            let _ = tx.send(id);
                        },
                    )
                    .await
                })
            })
            .collect();
        let refused = s.write_then(
            |_w| Err::<((), u64), _>(StoreError::Closed),
            |_: u64, _| panic!("a refused job has no commit hook"),
        );
        assert!(refused.await.is_err());
        for j in jobs {
            j.await.unwrap().unwrap();
        }
        drop(tx);
        let ids: Vec<u64> = rx.iter().collect();
        assert_eq!(ids, (1..=50).collect::<Vec<_>>());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_whose_batch_is_not_committed_is_told_so_and_left_nothing() {
        let (_d, s) = store();
        let queued = |n: usize| {
            let s = s.clone();
            async move {
                let start = std::time::Instant::now();
                while s.jobs_sent() < n {
                    assert!(start.elapsed() < std::time::Duration::from_secs(10));
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                }
            }
        };
        // Hold the writer, so that the next two jobs share a batch. Wait until the hold job
        // runs, not only until it is sent: sent is not taken, and a batch that took all
        // three would fail the hold job too.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (running, runs) = std::sync::mpsc::channel::<()>();
        let hold = s.clone();
        let hold = tokio::spawn(async move {
            hold.write(move |_| {
                let _ = running.send(());
                let _ = held.recv();
                Ok::<_, StoreError>(())
            })
            .await
        });
        let start = std::time::Instant::now();
        while runs.try_recv().is_err() {
            assert!(start.elapsed() < std::time::Duration::from_secs(10));
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        let (told, settled) = std::sync::mpsc::channel();
        let w = s.clone();
        let written = tokio::spawn(async move {
            w.write_then(
                |w| {
                    let r = record(w.next_request_id()?, Status::Pending, None);
                    w.put_request(&r, None)?;
                    Ok::<_, StoreError>(((), r.id))
                },
                move |id, durable| {
                    let _ = told.send((id, durable));
                },
            )
            .await
        });
        queued(2).await;
        let f = s.clone();
        let failing = tokio::spawn(async move {
            f.write(|w| {
                w.fail_batch();
                Ok::<_, StoreError>(())
            })
            .await
        });
        queued(3).await;
        release.send(()).unwrap();
        hold.await.unwrap().unwrap();
        assert!(written.await.unwrap().is_err());
        assert!(failing.await.unwrap().is_err());
        assert_eq!(settled.recv().unwrap(), (1, false));
        assert!(s.read(|r| r.request(1)).unwrap().is_none());
    }

    #[tokio::test]
    async fn the_audit_log_is_a_hash_chain() {
        let (_d, s) = store();
        for i in 0..3 {
            s.write(move |w| {
                w.append_audit(AuditEntry {
                    seq: 0,
                    at: i,
                    actor: "alice".into(),
                    action: "request.created".into(),
                    request: Some(i),
                    status: None,
                    reason: None,
                    details: None,
                    prev_hash: String::new(),
                    hash: String::new(),
                })
            })
            .await
            .unwrap();
        }
        let all = s.read(|r| r.audit(0, 10, |_| true)).unwrap();
        assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(all[0].prev_hash, tables::ZERO_HASH);
        for w in all.windows(2) {
            assert_eq!(w[1].prev_hash, w[0].hash);
        }
        for e in &all {
            assert_eq!(e.hash, audit_hash(e));
        }
        let intact = s.read(|r| r.verify_audit()).unwrap();
        assert_eq!(intact.first_bad, None);
        assert_eq!(
            (intact.checked, intact.head.as_str()),
            (3, all[2].hash.as_str())
        );
        // The last record removed, with nothing after it: only the head the store keeps can
        // tell.
        s.write(|w| {
            w.tables.audit()?.remove(3).map_err(io("remove"))?;
            Ok::<_, StoreError>(())
        })
        .await
        .unwrap();
        let cut = s.read(|r| r.verify_audit()).unwrap();
        assert_eq!(cut.checked, 2);
        let (seq, problem) = cut.first_bad.unwrap();
        assert_eq!(seq, 3);
        assert!(problem.contains("record 3 is missing"), "{problem}");
    }

    fn outbox_row(id: RequestId) -> OutboxRecord {
        OutboxRecord {
            kind: "granted".into(),
            action: "grant.granted".into(),
            actor: "jitd".into(),
            at: 1,
            reason: None,
            details: None,
            request: record(id, Status::Granted, None),
            done: Vec::new(),
            delivery: Some(format!("d{id}")),
        }
    }

    /// The request ids of the rows `(seq, row)` (an unreadable one as 0).
    fn ids(rows: &[(u64, OutboxRow)]) -> Vec<(u64, RequestId)> {
        rows.iter()
            .map(|(seq, r)| (*seq, r.record().map_or(0, |r| r.request.id)))
            .collect()
    }

    #[tokio::test]
    async fn the_outbox_keeps_order_and_counts_and_drops_the_oldest_past_its_bound() {
        let (_d, s) = store();
        let mut dropped = Vec::new();
        for id in 1..=3 {
            let (a, b) = (outbox_row(id), outbox_row(id));
            let out = s
                .write(move |w| {
                    let x = w.push_outbox("slack", &a, 2)?;
                    let y = w.push_outbox("mail", &b, 10)?;
                    Ok::<_, StoreError>((x, y))
                })
                .await
                .unwrap();
            assert!(out.1.1.is_none());
            dropped.extend(out.0.1);
        }
        // Sequence numbers are shared; slack lost its oldest (seq 1, request 1).
        assert_eq!(ids(&dropped), vec![(1, 1)]);
        s.read(|r| {
            assert_eq!(r.outbox_len("slack")?, 2);
            assert_eq!(r.outbox_len("mail")?, 3);
            assert_eq!(r.outbox_channels()?, ["mail", "slack"]);
            assert_eq!(r.outbox_page("mail", 0, 0, 10)?.fresh, [2, 4, 6]);
            assert_eq!(r.outbox_page("slack", 0, 0, 10)?.fresh, [3, 5]);
            assert_eq!(
                r.outbox("slack", 3)?
                    .and_then(|o| o.record().map(|o| o.request.id)),
                Some(2)
            );
            Ok(())
        })
        .unwrap();
        let gone = s
            .write(|w| {
                let a = w.remove_outbox("slack", 3)?;
                let b = w.remove_outbox("slack", 3)?;
                Ok::<_, StoreError>((a.is_some(), b.is_some()))
            })
            .await
            .unwrap();
        assert_eq!(gone, (true, false), "removing twice is harmless");
        assert_eq!(s.read(|r| r.outbox_len("slack")).unwrap(), 1);
    }

    /// Writes `bytes` as outbox row `(channel, seq)`, as a damaged file would hold it.
    async fn put_raw(s: &Store, channel: &'static str, seq: u64, bytes: &'static [u8]) {
        s.write(move |w| {
            w.tables
                .outbox()?
                .insert((channel, seq), bytes)
                .map_err(io("write outbox"))?;
            Ok::<_, StoreError>(())
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn a_row_that_cannot_be_read_fails_nothing_but_itself() {
        let (_d, s) = store();
        for id in 1..=4 {
            let a = outbox_row(id);
            s.write(move |w| w.push_outbox("c", &a, 4)).await.unwrap();
        }
        // Rows 1 and 2 are damaged (or from a newer jitd).
        put_raw(&s, "c", 1, b"{not json").await;
        put_raw(&s, "c", 2, br#"{"kind": 7}"#).await;
        assert!(matches!(
            s.read(|r| r.outbox("c", 1)).unwrap(),
            Some(OutboxRow::Unreadable(why)) if why.contains("cannot be read")
        ));
        // Listing and rescheduling never decode a row.
        let page = s.read(|r| r.outbox_page("c", 0, 0, 10)).unwrap();
        assert_eq!(page.fresh, [1, 2, 3, 4]);
        // One transaction: a progress record and a removal of damaged rows, a retry time for
        // one, the removal of a good one, and one more row pushing the (damaged) oldest out.
        // None of it fails, and all of it is written.
        let five = outbox_row(5);
        let out = s
            .write(move |w| {
                let done = w.outbox_done("c", 2, &["a@example.com".to_owned()])?;
                let retried = w.outbox_retry("c", 2, 50, 1)?;
                let good = w.remove_outbox("c", 3)?;
                let pushed = w.push_outbox("c", &five, 2)?;
                Ok::<_, StoreError>((done, retried, good, pushed))
            })
            .await
            .expect("the batch commits");
        assert!(matches!(out.0, Some(OutboxRow::Unreadable(_))));
        assert!(out.1);
        assert_eq!(
            out.2.and_then(|r| r.record().map(|r| r.request.id)),
            Some(3)
        );
        let (seq, pushed_out) = out.3;
        assert_eq!(seq, 5);
        assert_eq!(ids(&pushed_out.into_iter().collect::<Vec<_>>()), [(1, 0)]);
        // The damaged row still waiting is removed by its key, its retry time with it.
        let removed = s.write(|w| w.remove_outbox("c", 2)).await.expect("removed");
        assert!(matches!(removed, Some(OutboxRow::Unreadable(_))));
        s.read(|r| {
            assert_eq!(r.outbox_len("c")?, 2);
            let page = r.outbox_page("c", 0, 100, 10)?;
            assert_eq!(
                (page.due, page.fresh, page.next_due),
                (vec![], vec![4, 5], None)
            );
            Ok(())
        })
        .unwrap();
    }

    #[tokio::test]
    async fn retry_times_are_kept_with_the_row_and_pages_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.redb");
        {
            let s = Store::open(&path).unwrap();
            for id in 1..=6 {
                let a = outbox_row(id);
                s.write(move |w| w.push_outbox("c", &a, 100)).await.unwrap();
            }
            let other = outbox_row(7);
            s.write(move |w| w.push_outbox("d", &other, 100))
                .await
                .unwrap();
            // Rows 2 and 4 failed on their own: 2 is tried next at 200, 4 at 100.
            s.write(|w| {
                assert!(w.outbox_retry("c", 2, 150, 1)?);
                assert!(w.outbox_retry("c", 2, 200, 2)?);
                assert!(w.outbox_retry("c", 4, 100, 1)?);
                assert!(!w.outbox_retry("c", 99, 100, 1)?, "no such row");
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
            s.close();
        }
        // Durable: after a restart, rows waiting for their retry are not fresh, and each
        // comes when its time does.
        let s = Store::open(&path).unwrap();
        s.read(|r| {
            let page = r.outbox_page("c", 0, 50, 10)?;
            assert_eq!(page.due, []);
            assert_eq!(page.fresh, [1, 3, 5, 6]);
            assert_eq!((page.cursor, page.next_due), (6, Some(100)));
            let page = r.outbox_page("c", 6, 100, 10)?;
            assert_eq!(
                (page.due, page.fresh, page.next_due),
                (vec![(4, 1)], vec![], Some(200))
            );
            let page = r.outbox_page("c", 6, 500, 10)?;
            assert_eq!(page.due, [(4, 1), (2, 2)]);
            // At most `limit`, the due first; the cursor says where the next page starts.
            let page = r.outbox_page("c", 0, 500, 3)?;
            assert_eq!(
                (page.due.len(), page.fresh.clone(), page.cursor),
                (2, vec![1], 1)
            );
            let page = r.outbox_page("c", 0, 0, 2)?;
            assert_eq!((page.fresh, page.cursor), (vec![1, 3], 3));
            let page = r.outbox_page("c", 3, 0, 2)?;
            assert_eq!((page.fresh, page.cursor), (vec![5, 6], 6));
            Ok(())
        })
        .unwrap();
        // Delivered or given up, a row takes its retry time with it.
        s.write(|w| w.remove_outbox("c", 2)).await.unwrap();
        s.read(|r| {
            let page = r.outbox_page("c", 6, 500, 10)?;
            assert_eq!((page.due, page.next_due), (vec![(4, 1)], None));
            Ok(())
        })
        .unwrap();
    }

    /// A row written before delivery ids were stored reads with none (its id stays
    /// `<instance>-<seq>`); a new row keeps its id in this exact form.
    #[test]
    fn an_outbox_row_without_a_delivery_id_still_reads() {
        let mut row = outbox_row(1);
        row.delivery = None;
        let old = serde_json::to_string(&row).unwrap();
        assert!(!old.contains("delivery"), "{old}");
        let back: OutboxRecord = serde_json::from_str(&old).unwrap();
        assert_eq!(back.delivery, None);
        row.delivery = Some("0123456789abcdef0123456789abcdef".into());
        let new = serde_json::to_string(&row).unwrap();
        assert!(
            new.ends_with(r#","delivery":"0123456789abcdef0123456789abcdef"}"#),
            "{new}"
        );
    }

    #[test]
    fn status_codes_round_trip_and_never_collide_with_the_reset_flag() {
        for s in Status::ALL {
            let c = status_code(s);
            assert_eq!(status_from_code(c), Some(s));
            assert_eq!(c & RESETTING_FLAG, 0);
        }
    }

    /// A session stored before material existed reads as having none; one with material
    /// keeps it in this exact form (the stored format is JSON: changing it needs a migration).
    #[test]
    fn session_material_is_optional_and_keeps_its_form() {
        let old = r#"{"integration":"pg","kind":"postgres","principal":"jit_a_1","credentials":"unrevealed"}"#;
        let s: SessionRecord = serde_json::from_str(old).expect("an old session");
        assert_eq!(s.material, None);
        assert_eq!(
            serde_json::to_string(&s).expect("json"),
            format!("{}{}", &old[..old.len() - 1], r#","rotated":false}"#)
        );
        let with = SessionRecord {
            material: Some(MaterialRecord {
                user: Some("deploy".into()),
                secret_kind: Some(jit_api::SecretKind::PrivateKey),
                files: vec![(
                    "k-cert.pub".into(),
                    "ssh-ed25519-cert-v01@openssh.com AAAA".into(),
                )],
                terminal: Some(TerminalRecord {
                    argv: vec!["psql".into()],
                    env: vec![("PGPASSWORD".into(), "{secret}".into())],
                }),
                ..MaterialRecord::default()
            }),
            ..s
        };
        let text = serde_json::to_string(&with).expect("json");
        assert!(
            text.ends_with(r#""rotated":false,"material":{"user":"deploy","secret_kind":"private_key","files":[["k-cert.pub","ssh-ed25519-cert-v01@openssh.com AAAA"]],"terminal":{"argv":["psql"],"env":[["PGPASSWORD","{secret}"]]}}}"#),
            "{text}"
        );
        let back: SessionRecord = serde_json::from_str(&text).expect("reads back");
        assert_eq!(back, with);
    }
}
