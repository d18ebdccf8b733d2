#!/usr/bin/env python3
"""jit `exec` example: temporary read or write access to files and directories, with POSIX
ACLs (setfacl).

Resource type `path`; a resource is an absolute path strictly inside the directory given with
--root; permissions `read` (files r--, directories r-x) and `write` (files rw-, directories
rwx). The ACL entry names the requester's own Unix account, so there is nothing to log in
with: the requester just reads or writes the file.

    [[integrations]]
    name = "shares"
    kind = "exec"
    command = "/usr/local/lib/jit/exec-setfacl.py"
    args = ["--root", "/srv/share", "--state", "/var/lib/jit-setfacl"]
    resource_types = { path = ["read", "write"] }

It speaks jit's exec contract (docs/integrations.md#exec): one JSON request on standard input
(`action`: grant, revoke, extend or list), one JSON reply on standard output, messages on
standard error, exit status 0 for success. Its grant returns instructions (which paths, which
rights, until when) and no credentials; `reset` is not needed, having no secret.

What it keeps: one record per grant in the --state directory (`<principal>.json`, written
before any ACL changes, removed after the last one), so that
  - revoke, which jit sends with the principal only, knows what to undo, even after a crash;
  - two grants of the same file to the same user are counted: ending one keeps the other's;
  - it never removes an ACL entry it did not make (a grant is refused when the user already
    has an entry on the file that no record explains);
  - `list` can name the grants of one jitd (`instance`), for orphan removal.

Revoke removes the user's entry (or lowers it to what other grants still give), then ends the
user's processes that hold the file open (an open file stays readable after its ACL changes).

ACLs have no clock of their own: if jitd is down at expiry, access stays until it is back.
As a backstop, run `exec-setfacl.py --root R --state S --expire-overdue` from a timer or cron
every few minutes: it revokes every grant whose end has passed.

Paths are opened without following symbolic links and changed through /proc/self/fd, so a
user who can write inside --root cannot swap a file for a link to /etc/shadow between the
check and the change.
"""

import argparse
import fcntl
import json
import os
import pwd
import re
import signal
import stat
import subprocess
import sys
import time

CONTRACT_VERSION = 1
PRINCIPAL = re.compile(r"^jit_[a-z0-9_]{1,124}$")
PERMISSIONS = ("read", "write")


class Refused(Exception):
    """An error the user sees (jit puts standard error into the request's error)."""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, help="grantable paths are inside this directory")
    parser.add_argument("--state", default="/var/lib/jit-setfacl", help="where grants are recorded")
    parser.add_argument(
        "--expire-overdue",
        action="store_true",
        help="revoke every recorded grant whose end has passed (a backstop for when jitd is down)",
    )
    args = parser.parse_args()
    try:
        root = args.root.rstrip("/") or "/"
        if not os.path.isabs(root) or os.path.realpath(root) != root or not os.path.isdir(root):
            raise Refused(f"--root {args.root}: must be an existing directory, absolute, without symbolic links")
        if not os.path.isabs(args.state):
            raise Refused(f"--state {args.state}: must be an absolute path")
        store = Store(args.state)
        if args.expire_overdue:
            expire_overdue(store, root)
            return 0
        request = read_request()
        action = request.get("action")
        handlers = {"grant": grant, "revoke": revoke, "extend": extend, "list": list_grants}
        if action not in handlers:
            raise Refused(f"unknown action {action!r}: this script handles grant, revoke, extend and list")
        reply = handlers[action](store, root, request)
        json.dump(reply, sys.stdout)
        sys.stdout.write("\n")
        return 0
    except Refused as e:
        print(e, file=sys.stderr)
        return 1
    except OSError as e:
        print(f"{e.filename or ''}: {e.strerror}" if e.filename else str(e), file=sys.stderr)
        return 1


def read_request():
    try:
        request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise Refused(f"standard input is not a JSON request: {e}")
    if not isinstance(request, dict):
        raise Refused("standard input is not a JSON object")
    if request.get("version") != CONTRACT_VERSION:
        raise Refused(f"contract version {request.get('version')!r} is not supported (this script speaks {CONTRACT_VERSION})")
    return request


def principal_of(request):
    p = request.get("principal")
    if not isinstance(p, str) or not PRINCIPAL.match(p):
        raise Refused(f"principal {p!r} is not a jit principal name")
    return p


def check_jitd_alive():
    """A run whose jitd was killed must not act late: the restarted jitd redoes the action,
    and this run finishing after it (say, a grant after the revoke) would undo its work."""
    pid = os.environ.get("JIT_PID")
    if not pid:
        return
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        raise Refused(f"jitd (pid {pid}) that started this run is gone: not acting; a restarted jitd redoes it")
    except PermissionError:
        pass


# ---------------------------------------------------------------------------------------------
# The record of grants


class Store:
    """Records in one directory, changed under an exclusive lock."""

    def __init__(self, path):
        self.path = path
        os.makedirs(path, mode=0o700, exist_ok=True)
        self.lock_fd = None

    def lock(self):
        self.lock_fd = os.open(os.path.join(self.path, ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.lock_fd, fcntl.LOCK_EX)

    def load_all(self):
        records = {}
        for name in sorted(os.listdir(self.path)):
            if not name.endswith(".json"):
                continue
            principal = name[: -len(".json")]
            try:
                with open(os.path.join(self.path, name), "rb") as f:
                    records[principal] = json.loads(f.read().decode("utf-8"))
            except (OSError, ValueError) as e:
                # Never skip a record: it may be the only trace of a live ACL entry.
                raise Refused(f"record {os.path.join(self.path, name)} cannot be read ({e}): fix or remove it by hand")
        return records

    def write(self, principal, record):
        final = os.path.join(self.path, principal + ".json")
        tmp = final + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(json.dumps(record, sort_keys=True).encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, final)
        self.sync_dir()

    def remove(self, principal):
        try:
            os.unlink(os.path.join(self.path, principal + ".json"))
        except FileNotFoundError:
            pass
        self.sync_dir()

    def sync_dir(self):
        fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ---------------------------------------------------------------------------------------------
# Paths and ACLs


class Path:
    """A path opened without following symbolic links (O_PATH), changed through
    /proc/self/fd/N: what is checked is what is changed."""

    def __init__(self, path, root):
        if not isinstance(path, str) or not os.path.isabs(path):
            raise Refused(f"{path!r} is not an absolute path")
        if os.path.normpath(path) != path or path.startswith("//"):
            raise Refused(f"{path}: write it without '.', '..', '//' or a trailing '/'")
        inside = root.rstrip("/") + "/"
        if not path.startswith(inside):
            raise Refused(f"{path} is not inside {root}: only paths under it can be granted")
        self.path = path
        self.fd = None
        try:
            self.fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            raise Refused(f"{path} does not exist")
        except OSError as e:
            raise Refused(f"{path}: {e.strerror}")
        st = os.fstat(self.fd)
        real = os.readlink(f"/proc/self/fd/{self.fd}")
        if stat.S_ISLNK(st.st_mode) or real != path:
            self.close()
            raise Refused(f"{path} is or goes through a symbolic link: ask for the real path")
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            self.close()
            raise Refused(f"{path} is neither a regular file nor a directory")
        self.is_dir = stat.S_ISDIR(st.st_mode)

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _run(self, tool, *args):
        r = subprocess.run(
            [tool, *args, f"/proc/self/fd/{self.fd}"],
            pass_fds=(self.fd,),
            capture_output=True,
            text=True,
        )
        if r.returncode != 0:
            raise Refused(f"{tool} on {self.path} failed: {r.stderr.strip()}")
        return r.stdout

    def entry(self, uid):
        """The user's own ACL entry (`rw-`), or None."""
        for line in self._run("getfacl", "--numeric", "--omit-header").splitlines():
            parts = line.split()[0].split(":") if line.strip() else []
            if len(parts) == 3 and parts[0] == "user" and parts[1] == str(uid):
                return parts[2]
        return None

    def set(self, uid, permissions):
        """Sets the user's entry to what `permissions` give, or removes it when empty."""
        if not permissions:
            if self.entry(uid) is not None:
                self._run("setfacl", "-x", f"u:{uid}")
            return
        write = "write" in permissions
        mode = ("rwx" if write else "r-x") if self.is_dir else ("rw-" if write else "r--")
        self._run("setfacl", "-m", f"u:{uid}:{mode}")


def given(records, uid, path):
    """The permissions `records` give user `uid` on `path`."""
    out = set()
    for r in records.values():
        if r.get("uid") == uid:
            out.update(r.get("paths", {}).get(path, []))
    return out


def end_sessions(uid, paths):
    """Ends the user's processes that hold one of `paths` (or a file under one) open."""
    def holds(pid):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                target = target.removesuffix(" (deleted)")
                if any(target == p or target.startswith(p.rstrip("/") + "/") for p in paths):
                    return True
        except OSError:
            pass
        return False

    def owner(pid):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("Uid:"):
                        return {int(x) for x in line.split()[1:]}
        except OSError:
            pass
        return set()

    pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]
    victims = [p for p in pids if uid in owner(p) and holds(p)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in victims:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 2
        while victims and time.monotonic() < deadline:
            victims = [p for p in victims if os.path.exists(f"/proc/{p}") and state_of(p) != "Z"]
            time.sleep(0.02)
    if victims:
        raise Refused(f"cannot end processes {victims} of uid {uid} that hold the files open")


def state_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "gone"


# ---------------------------------------------------------------------------------------------
# Actions


def grant(store, root, request):
    principal = principal_of(request)
    user = request.get("requester")
    try:
        uid = pwd.getpwnam(user).pw_uid
    except (KeyError, TypeError):
        raise Refused(f"there is no local user {user!r} to give the ACL entry to")
    wanted = {}
    for e in request.get("entries", []):
        if e.get("resource_type") != "path":
            raise Refused(f"resource type {e.get('resource_type')!r} is not handled: this script grants `path`")
        perms = e.get("permissions", [])
        unknown = [p for p in perms if p not in PERMISSIONS]
        if unknown or not perms:
            raise Refused(f"permissions {unknown or perms!r} are not handled: use read or write")
        for path in e.get("resources", []):
            wanted.setdefault(path, set()).update(perms)
    if not wanted:
        raise Refused("the request names no path")

    store.lock()
    check_jitd_alive()
    records = store.load_all()
    own = records.get(principal)
    opened = {}
    try:
        for path in wanted:
            p = opened[path] = Path(path, root)
            explained = given(records, uid, path)
            if p.entry(uid) is not None and not explained:
                raise Refused(
                    f"{path} already has an ACL entry for {user} that jit did not make: "
                    f"jit will not take it over (remove it with setfacl -x u:{user} {path}, or leave it)"
                )
        paths = {path: sorted(perms) for path, perms in wanted.items()}
        if own:
            # A grant redone after a crash: keep every path the first attempt may have touched.
            for path, perms in own.get("paths", {}).items():
                paths[path] = sorted(set(paths.get(path, [])) | set(perms))
        records[principal] = {
            "instance": request.get("instance"),
            "request": request.get("request"),
            "requester": user,
            "uid": uid,
            "paths": paths,
            "valid_until": request.get("valid_until"),
            "valid_until_unix": request.get("valid_until_unix"),
        }
        # The record first: a crash from here on leaves something revoke can undo.
        store.write(principal, records[principal])
        for path, p in opened.items():
            p.set(uid, given(records, uid, path))
    finally:
        for p in opened.values():
            p.close()
    # No credentials: the access is the user's own account. The instructions say what it is
    # (`jit show` shows them).
    granted = "; ".join(f"{'/'.join(perms)} on {path}" for path, perms in sorted(wanted.items()))
    return {
        "instructions": (
            f"{user} has {granted} until {request.get('valid_until')}: open them as yourself. "
            "When the access ends, programs of yours that still hold them open are ended."
        )
    }


def remove_grant(store, root, records, principal):
    """Undoes one recorded grant (`records` holds every record, this one included)."""
    own = records.pop(principal)
    uid = own["uid"]
    to_end = []
    for path, perms in own.get("paths", {}).items():
        try:
            p = Path(path, root)
        except Refused as e:
            if not os.path.lexists(path):
                continue  # gone, and its ACL with it
            raise Refused(f"{e}; its ACL entry for uid {uid} may remain: check it by hand")
        try:
            left = given(records, uid, path)
            p.set(uid, left)
        finally:
            p.close()
        if not set(perms) <= left:
            to_end.append(path)
    if to_end:
        end_sessions(uid, to_end)
    # The record last: until here, a crash leaves it for the retry.
    store.remove(principal)


def revoke(store, root, request):
    principal = principal_of(request)
    store.lock()
    check_jitd_alive()
    records = store.load_all()
    if principal in records:
        remove_grant(store, root, records, principal)
    return {}


def extend(store, root, request):
    principal = principal_of(request)
    store.lock()
    check_jitd_alive()
    records = store.load_all()
    if principal not in records:
        raise Refused(f"there is no grant {principal} to extend")
    record = records[principal]
    record["valid_until"] = request.get("valid_until")
    record["valid_until_unix"] = request.get("valid_until_unix")
    store.write(principal, record)
    return {}


def list_grants(store, root, request):
    store.lock()
    records = store.load_all()
    mine = [p for p, r in records.items() if r.get("instance") == request.get("instance")]
    return {"principals": mine}


def expire_overdue(store, root):
    store.lock()
    now = time.time()
    records = store.load_all()
    for principal in list(records):
        end = records[principal].get("valid_until_unix")
        if isinstance(end, (int, float)) and end <= now:
            shown = records[principal].get("valid_until") or end
            remove_grant(store, root, records, principal)
            print(f"revoked {principal}: it ended at {shown}")


if __name__ == "__main__":
    sys.exit(main())
