"""A small Hugging Face Hub-compatible HTTP server for end-to-end tests (standard library only).

The real ``huggingface_hub`` / ``transformers`` / ``datasets`` clients talk to it over HTTP on 127.0.0.1,
exactly as they talk to https://huggingface.co: nothing on the client side is mocked.

What is modelled
----------------
* Repositories of type model, dataset and space, each with git-like history: every commit gets a 40-hex
  sha, a parent, a title/message and a full tree; branches (``main`` and any created one), tags and PR
  refs (``refs/pr/N``). ``create_repo`` makes an initial commit holding the Hub's default
  ``.gitattributes``.
* Regular files are stored as git blobs (oid = git blob sha1 of the content); LFS files as
  sha256-addressed objects with a git-lfs pointer (the tree entry's oid is the git sha1 of the pointer,
  as on the Hub).
* Upload: ``preupload`` decides regular vs LFS like the Hub (``filter=lfs`` patterns of the target
  revision's ``.gitattributes``, files of 10 MiB or more, binary samples); LFS objects go through the
  git-lfs batch API and a PUT to a one-time upload URL (size and sha256 are verified); the NDJSON
  ``commit`` endpoint accepts ``file``, ``lfsFile`` (the object must have been uploaded), ``deletedFile``
  and ``deletedFolder`` operations, ``parentCommit`` (412 when stale) and ``create_pr``.
* Download: ``/{repo}/resolve/{rev}/{path}`` (and ``/datasets/...``, ``/spaces/...``) with
  ``X-Repo-Commit``, a quoted ``ETag`` (git blob sha1), ``Content-Length``, ``Accept-Ranges`` and single
  ``Range`` requests (206/416). LFS files answer ``302`` with ``X-Linked-Etag`` (quoted sha256) and
  ``X-Linked-Size`` to a signed "CDN" URL on ``localhost:<port>`` -- a different origin, so the client
  drops the ``Authorization`` header and does not follow the redirect on ``HEAD``, as with the real CDN.
  Errors carry ``X-Error-Code`` (``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``) and
  ``X-Error-Message``.
* API: whoami-v2, repos/create (409 + ``url`` when it exists), repos/delete, model/dataset/space info
  (also per revision, with ``sha``, ``siblings``, ``lastModified``...), tree (recursive, expand, cursor
  pagination through a ``Link`` header), paths-info, refs, commits, branch/tag creation and deletion,
  settings, validate-yaml, agent-harnesses.

Fault injection (for robustness tests): :meth:`HubServer.fail_next_download` cuts the connection in the
middle of a file body, :meth:`HubServer.fail_next_request` answers an HTTP error status,
:meth:`HubServer.tamper` corrupts the stored bytes of a file while the Hub metadata (oid, sha256, size)
keeps describing the original.

Xet storage is deliberately not implemented: clients must run with ``HF_HUB_DISABLE_XET=1``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import os
import posixpath
import re
import secrets
import shutil
import socket
import tempfile
import threading
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

__all__ = ["HubServer", "git_blob_sha1", "lfs_pointer", "DEFAULT_GITATTRIBUTES", "LFS_SIZE_THRESHOLD"]

REPO_TYPE_PLURALS = {"models": "model", "datasets": "dataset", "spaces": "space"}
URL_PREFIXES = {"model": "", "dataset": "datasets/", "space": "spaces/"}
LFS_SIZE_THRESHOLD = 10 * 1024 * 1024  # files this big are always LFS; regular files must stay below it
_CHUNK = 64 * 1024
_COMMIT_RE = re.compile(r"[0-9a-f]{40}")
_SHORT_COMMIT_RE = re.compile(r"[0-9a-f]{7,40}")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")

_LFS_PATTERNS = (
    "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gz", "*.h5", "*.joblib", "*.lfs.*",
    "*.mlmodel", "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot", "*.parquet", "*.pb",
    "*.pickle", "*.pkl", "*.pt", "*.pth", "*.rar", "*.safetensors", "saved_model/**/*", "*.tar.*", "*.tar",
    "*.tflite", "*.tgz", "*.wasm", "*.xz", "*.zip", "*.zst", "*tfevents*",
    "*.mp3", "*.wav", "*.flac", "*.ogg", "*.jpg", "*.jpeg", "*.png", "*.webp", "*.gif", "*.mp4",
)  # fmt: skip
DEFAULT_GITATTRIBUTES = "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in _LFS_PATTERNS)


# ----------------------------------------------------------------------------------------------------
# Hashing helpers


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob holding ``data`` (what the Hub reports as a regular file's oid/ETag)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The git-lfs pointer file committed in place of an LFS object."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def _iso(date: datetime) -> str:
    return date.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{date.microsecond // 1000:03d}Z"


def _now() -> datetime:
    return datetime.now(timezone.utc)


# ----------------------------------------------------------------------------------------------------
# git-style path patterns (.gitattributes / .gitignore)


def _compile_git_pattern(pattern: str, *, directory_contents: bool) -> re.Pattern[str]:
    """Translate a git path pattern to a regex matched (``fullmatch``) against a repo-relative path.

    A pattern without a slash matches at any depth; ``**`` crosses directories. With
    ``directory_contents`` (for .gitignore), a pattern naming a directory also matches everything below.
    """
    dir_only = pattern.endswith("/")
    pat = pattern.rstrip("/")
    anchored = "/" in pat
    pat = pat.lstrip("/")
    out: list[str] = []
    i = 0
    while i < len(pat):
        if pat.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pat.startswith("**", i):
            out.append(".*")
            i += 2
        elif pat[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pat[i] == "?":
            out.append("[^/]")
            i += 1
        elif pat[i] == "[" and (end := pat.find("]", i + 2)) != -1:
            inner = pat[i + 1 : end]
            if inner.startswith("!"):
                inner = "^" + inner[1:]
            out.append("[" + inner.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(pat[i]))
            i += 1
    body = "".join(out)
    if not anchored:
        body = "(?:.*/)?" + body
    if directory_contents:
        body += "/.*" if dir_only else "(?:/.*)?"
    return re.compile(body)


def _lfs_patterns(gitattributes: str) -> list[re.Pattern[str]]:
    patterns = []
    for line in gitattributes.splitlines():
        parts = line.split()
        if len(parts) >= 2 and not parts[0].startswith("#") and "filter=lfs" in parts[1:]:
            patterns.append(_compile_git_pattern(parts[0], directory_contents=False))
    return patterns


def _is_ignored(path: str, gitignore: str) -> bool:
    ignored = False
    for raw in gitignore.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        if negate:
            line = line[1:]
        if _compile_git_pattern(line, directory_contents=True).fullmatch(path):
            ignored = not negate
    return ignored


# ----------------------------------------------------------------------------------------------------
# State


@dataclass
class _Entry:
    """A file in a commit's tree."""

    size: int  # size of the real content (for LFS files: of the object, not the pointer)
    blob_oid: str  # git blob sha1 of what git stores: the content, or the LFS pointer
    sha256: str | None = None  # LFS object id, None for regular files
    pointer_size: int | None = None
    last_commit: str = ""

    @property
    def is_lfs(self) -> bool:
        return self.sha256 is not None

    @property
    def storage_key(self) -> str:
        return self.sha256 or self.blob_oid


@dataclass
class _Commit:
    sha: str
    parent: str | None
    title: str
    message: str
    author: str
    date: datetime
    tree: dict[str, _Entry]


@dataclass
class _Repo:
    repo_type: str
    repo_id: str
    private: bool
    created_at: datetime
    commits: dict[str, _Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    prs: dict[int, str] = field(default_factory=dict)
    gated: bool | str = False

    @property
    def namespace(self) -> str:
        return self.repo_id.split("/")[0]

    @property
    def web_path(self) -> str:
        return URL_PREFIXES[self.repo_type] + self.repo_id


@dataclass
class _Fault:
    path: str
    repo_id: str | None
    kind: str  # "cut" | "status"
    after_bytes: int = 0
    status: int = 500
    methods: tuple[str, ...] = ("GET",)
    remaining: int = 1

    def matches(self, repo_id: str, path: str, method: str) -> bool:
        return (
            self.remaining > 0
            and self.path == path
            and (self.repo_id is None or self.repo_id == repo_id)
            and method in self.methods
        )


class _HttpError(Exception):
    def __init__(
        self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


def _repo_not_found(repo_type: str, repo_id: str) -> _HttpError:
    return _HttpError(404, f"Repository Not Found: {repo_type} {repo_id}", "RepoNotFound")


# ----------------------------------------------------------------------------------------------------
# Server


class HubServer:
    """A Hub-compatible server on 127.0.0.1, running in a background thread.

    Usage::

        with HubServer() as hub:          # or: hub = HubServer(); url = hub.start(); ...; hub.stop()
            os.environ["HF_ENDPOINT"] = hub.endpoint
            ...

    Args:
        storage_dir: where blobs and LFS objects are kept (default: a fresh temporary directory, removed
            on stop).
        user / token: the single account; write operations need ``Authorization: Bearer <token>``.
        orgs: organisations the user belongs to (may create repos there too).
        cdn_redirect: serve LFS files through a 302 to ``localhost:<port>`` (another origin) like the
            Hub's CDN; when False, ``/resolve`` serves them directly (still with ``X-Linked-*`` headers).
        page_size: entries per page of the tree/commits listings (the Hub uses 1000, and 50 with ``expand``).
    """

    def __init__(
        self,
        storage_dir: str | os.PathLike[str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        user: str = "tester",
        token: str = "hf_mpmTestToken0123456789abcdefghij",
        orgs: Iterable[str] = ("mpm-hf",),
        cdn_redirect: bool = True,
        page_size: int = 1000,
    ) -> None:
        self.host = host
        self.port = port
        self.user = user
        self.token = token
        self.orgs = tuple(orgs)
        self.cdn_redirect = cdn_redirect
        self.page_size = page_size
        self._own_storage = storage_dir is None
        self._storage_arg = Path(storage_dir) if storage_dir is not None else None
        self.storage_dir: Path | None = None
        self._lock = threading.RLock()
        self._repos: dict[tuple[str, str], _Repo] = {}
        self._faults: list[_Fault] = []
        self._tampered: dict[tuple[str, str, str], Path] = {}
        self._upload_tickets: dict[str, tuple[str, int]] = {}
        self._requests: list[dict[str, Any]] = []
        self._errors: list[str] = []
        self._connections: set[socket.socket] = set()
        self._commit_counter = 0
        self._secret = secrets.token_hex(16)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._cdn_host = "localhost" if _resolves_to_loopback("localhost") else host

    # -- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> str:
        """Start serving in a background thread; returns the endpoint URL (``http://127.0.0.1:<port>``)."""
        if self._httpd is not None:
            return self.endpoint
        if self._storage_arg is None:
            self.storage_dir = Path(tempfile.mkdtemp(prefix="hub-server-"))
        else:
            self.storage_dir = self._storage_arg
            self.storage_dir.mkdir(parents=True, exist_ok=True)
        for sub in ("objects", "lfs", "tampered", "tmp"):
            (self.storage_dir / sub).mkdir(exist_ok=True)
        handler = type("_BoundHandler", (_Handler,), {"hub": self})
        httpd = _ThreadingServer((self.host, self.port), handler)
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(target=httpd.serve_forever, name="hub-server", daemon=True)
        self._thread.start()
        return self.endpoint

    def stop(self) -> None:
        """Stop the server, close open keep-alive connections and remove the temporary storage."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            conns = list(self._connections)
            self._connections.clear()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._own_storage and self.storage_dir is not None:
            shutil.rmtree(self.storage_dir, ignore_errors=True)

    def __enter__(self) -> HubServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- test helpers ---------------------------------------------------------------------------------------

    def fail_next_download(
        self, path: str, *, after_bytes: int = 0, times: int = 1, repo_id: str | None = None
    ) -> None:
        """Cut the connection after ``after_bytes`` body bytes on the next ``times`` GETs of file ``path``.

        The response announces the full ``Content-Length`` and then the socket is closed, as a network failure
        would. Applies to ``/resolve`` and to the CDN URL of LFS files; queued faults are consumed in order.
        """
        with self._lock:
            self._faults.append(_Fault(path, repo_id, "cut", after_bytes=after_bytes, remaining=times))

    def fail_next_request(
        self,
        path: str,
        *,
        status: int = 500,
        times: int = 1,
        repo_id: str | None = None,
        methods: Iterable[str] = ("GET",),
    ) -> None:
        """Answer HTTP ``status`` to the next ``times`` download requests (``methods``) of file ``path``."""
        with self._lock:
            self._faults.append(
                _Fault(path, repo_id, "status", status=status, methods=tuple(methods), remaining=times)
            )

    def tamper(
        self,
        repo_id: str,
        path: str,
        data: bytes | None = None,
        *,
        repo_type: str = "model",
        revision: str = "main",
    ) -> bytes:
        """Corrupt the stored bytes of ``path`` (as of ``revision``) in that repo; returns the served bytes.

        The Hub metadata (oid/ETag, LFS sha256 and size) keeps describing the original content. Without
        ``data``, one byte is flipped (same size). Applies to every revision sharing that blob, in this
        repo only.
        """
        with self._lock:
            repo = self._repo_or_raise(repo_type, repo_id)
            entry = repo.commits[self._resolve_revision(repo, revision)].tree.get(path)
            if entry is None:
                raise KeyError(f"{path} not found in {repo_type} {repo_id}@{revision}")
            if data is None:
                original = bytearray(self._content_path(repo, entry).read_bytes())
                if not original:
                    raise ValueError("cannot flip a byte of an empty file: pass data")
                original[len(original) // 2] ^= 0xFF
                data = bytes(original)
            assert self.storage_dir is not None
            target = self.storage_dir / "tampered" / f"{secrets.token_hex(8)}-{entry.storage_key}"
            target.write_bytes(data)
            self._tampered[(repo_type, repo_id, entry.storage_key)] = target
            return data

    def clear_faults(self, *, tampering: bool = True) -> None:
        """Drop pending injected failures (and, by default, undo :meth:`tamper`)."""
        with self._lock:
            self._faults.clear()
            if tampering:
                self._tampered.clear()

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Log of served requests: dicts with method, path, status, range, authorization (bool), host."""
        with self._lock:
            return list(self._requests)

    def take_errors(self) -> list[str]:
        """Tracebacks of unexpected exceptions raised while serving (server bugs), emptying the list."""
        with self._lock:
            errors, self._errors = self._errors, []
            return errors

    def clear_request_log(self) -> None:
        with self._lock:
            self._requests.clear()

    def reset(self) -> None:
        """Forget every repository and injected failure (stored objects stay on disk, content-addressed)."""
        with self._lock:
            self._repos.clear()
            self.clear_faults()
            self._upload_tickets.clear()
            self._requests.clear()

    # Server-side seeding, without going through HTTP (e.g. to publish fixture weights quickly).

    def create_repo(
        self, repo_id: str, *, repo_type: str = "model", private: bool = False, exist_ok: bool = False
    ) -> str:
        """Create a repository (with the initial ``.gitattributes`` commit); returns its URL."""
        with self._lock:
            key = (repo_type, repo_id)
            if key in self._repos:
                if not exist_ok:
                    raise ValueError(f"{repo_type} {repo_id} already exists")
            else:
                self._new_repo(repo_type, repo_id, private=private)
            return f"{self.endpoint}/{URL_PREFIXES[repo_type]}{repo_id}"

    def commit_files(
        self,
        repo_id: str,
        files: dict[str, bytes],
        *,
        repo_type: str = "model",
        branch: str = "main",
        message: str = "Upload files",
        delete: Iterable[str] = (),
    ) -> str:
        """Commit ``files`` (path -> bytes) on ``branch``; LFS/regular is decided as for a client upload."""
        with self._lock:
            repo = self._repo_or_raise(repo_type, repo_id)
            head = repo.branches.get(branch)
            if head is None:
                raise KeyError(f"no branch {branch!r} in {repo_type} {repo_id}")
            ops: list[tuple[str, str, Any]] = []
            tree = repo.commits[head].tree
            for path, data in files.items():
                if self._upload_mode(repo, tree, path, len(data), data[:512]) == "lfs":
                    sha = hashlib.sha256(data).hexdigest()
                    self._store_lfs_bytes(sha, data)
                    ops.append(("lfs", path, (sha, len(data))))
                else:
                    ops.append(("file", path, data))
            ops.extend(("delete", p, None) for p in delete)
            return self._commit(repo, branch, ops, title=message, message="", author=self.user)

    def head(self, repo_id: str, *, repo_type: str = "model", revision: str = "main") -> str:
        """Commit sha that ``revision`` points to."""
        with self._lock:
            repo = self._repo_or_raise(repo_type, repo_id)
            return self._resolve_revision(repo, revision)

    def read_file(
        self, repo_id: str, path: str, *, repo_type: str = "model", revision: str = "main"
    ) -> bytes:
        """Bytes the server would serve for ``path`` at ``revision`` (tampering included)."""
        with self._lock:
            repo = self._repo_or_raise(repo_type, repo_id)
            entry = repo.commits[self._resolve_revision(repo, revision)].tree[path]
            return self._content_path(repo, entry).read_bytes()

    def file_info(
        self, repo_id: str, path: str, *, repo_type: str = "model", revision: str = "main"
    ) -> dict[str, Any]:
        """Metadata the Hub holds for ``path``: size, oid, lfs sha256 (or None), last commit."""
        with self._lock:
            repo = self._repo_or_raise(repo_type, repo_id)
            e = repo.commits[self._resolve_revision(repo, revision)].tree[path]
            return {"size": e.size, "oid": e.blob_oid, "sha256": e.sha256, "last_commit": e.last_commit}

    # -- state (all called with self._lock held) -----------------------------------------------------------

    def _repo_or_raise(self, repo_type: str, repo_id: str) -> _Repo:
        repo = self._repos.get((repo_type, repo_id))
        if repo is None:
            raise KeyError(f"no {repo_type} repo {repo_id}")
        return repo

    def _new_repo(self, repo_type: str, repo_id: str, *, private: bool) -> _Repo:
        repo = _Repo(repo_type=repo_type, repo_id=repo_id, private=private, created_at=_now())
        self._repos[(repo_type, repo_id)] = repo
        repo.branches["main"] = ""
        self._commit(
            repo, "main", [("file", ".gitattributes", DEFAULT_GITATTRIBUTES.encode())],
            title="initial commit", message="", author=self.user,
        )  # fmt: skip
        return repo

    def _resolve_revision(self, repo: _Repo, revision: str) -> str:
        rev = revision
        for prefix, table in (("refs/heads/", repo.branches), ("refs/tags/", repo.tags)):
            if rev.startswith(prefix) and rev[len(prefix) :] in table:
                return table[rev[len(prefix) :]]
        if rev in repo.branches:
            return repo.branches[rev]
        if rev in repo.tags:
            return repo.tags[rev]
        m = re.fullmatch(r"refs/pr/(\d+)", rev)
        if m and int(m.group(1)) in repo.prs:
            return repo.prs[int(m.group(1))]
        if rev in repo.commits:
            return rev
        if _SHORT_COMMIT_RE.fullmatch(rev):
            matches = [sha for sha in repo.commits if sha.startswith(rev)]
            if len(matches) == 1:
                return matches[0]
        raise _HttpError(404, f"Invalid rev id: {rev}", "RevisionNotFound")

    def _content_path(self, repo: _Repo, entry: _Entry) -> Path:
        tampered = self._tampered.get((repo.repo_type, repo.repo_id, entry.storage_key))
        if tampered is not None:
            return tampered
        assert self.storage_dir is not None
        if entry.is_lfs:
            return self.storage_dir / "lfs" / entry.storage_key
        return self.storage_dir / "objects" / entry.storage_key

    def _atomic_write(self, target: Path, data: bytes) -> None:
        if target.exists():
            return
        assert self.storage_dir is not None
        fd, tmp = tempfile.mkstemp(dir=self.storage_dir / "tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)

    def _store_blob(self, data: bytes) -> _Entry:
        oid = git_blob_sha1(data)
        assert self.storage_dir is not None
        self._atomic_write(self.storage_dir / "objects" / oid, data)
        return _Entry(size=len(data), blob_oid=oid)

    def _store_lfs_bytes(self, sha256: str, data: bytes) -> None:
        assert self.storage_dir is not None
        self._atomic_write(self.storage_dir / "lfs" / sha256, data)

    def _lfs_object_size(self, sha256: str) -> int | None:
        assert self.storage_dir is not None
        path = self.storage_dir / "lfs" / sha256
        return path.stat().st_size if path.is_file() else None

    def _lfs_entry(self, sha256: str, size: int) -> _Entry:
        pointer = lfs_pointer(sha256, size)
        return _Entry(size=size, blob_oid=git_blob_sha1(pointer), sha256=sha256, pointer_size=len(pointer))

    def _text_file(self, repo: _Repo, tree: dict[str, _Entry], path: str) -> str:
        entry = tree.get(path)
        if entry is None or entry.is_lfs:
            return ""
        return self._content_path(repo, entry).read_bytes().decode("utf-8", errors="replace")

    def _upload_mode(self, repo: _Repo, tree: dict[str, _Entry], path: str, size: int, sample: bytes) -> str:
        if size >= LFS_SIZE_THRESHOLD or b"\0" in sample:
            return "lfs"
        gitattributes = self._text_file(repo, tree, ".gitattributes")
        name = path.strip("/")
        if any(p.fullmatch(name) for p in _lfs_patterns(gitattributes)):
            return "lfs"
        return "regular"

    def _commit(
        self,
        repo: _Repo,
        branch: str,
        ops: list[tuple[str, str, Any]],
        *,
        title: str,
        message: str,
        author: str,
        parent_commit: str | None = None,
        pr_num: int | None = None,
    ) -> str:
        """Apply ``ops`` ((kind, path, payload) with kind in file/lfs/delete/delete_folder) on a branch."""
        head = repo.prs[pr_num] if pr_num is not None else repo.branches[branch]
        if parent_commit is not None and not (len(parent_commit) >= 5 and head.startswith(parent_commit)):
            raise _HttpError(412, "A commit has happened since. Please refresh and try again.")
        tree = dict(repo.commits[head].tree) if head else {}
        touched: set[str] = set()
        for kind, path, payload in ops:
            if kind == "file":
                tree[path] = self._store_blob(payload)
                touched.add(path)
            elif kind == "lfs":
                sha, size = payload
                tree[path] = self._lfs_entry(sha, size)
                touched.add(path)
            elif kind == "delete":
                if path not in tree:
                    raise _HttpError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
                del tree[path]
            elif kind == "delete_folder":
                prefix = path.strip("/") + "/"
                doomed = [p for p in tree if p.startswith(prefix)]
                if not doomed:
                    raise _HttpError(404, f"A folder with this name doesn't exist: {path}", "EntryNotFound")
                for p in doomed:
                    del tree[p]
            else:  # pragma: no cover - internal misuse
                raise ValueError(kind)
        self._commit_counter += 1
        date = _now()
        listing = "\n".join(f"{p} {e.blob_oid}" for p, e in sorted(tree.items()))
        seed = f"{repo.repo_type}/{repo.repo_id}\n{head}\n{listing}\n{title}\n{message}\n{date}"
        seed += f"\n{self._commit_counter}"
        sha = hashlib.sha1(seed.encode()).hexdigest()
        old_tree = repo.commits[head].tree if head else {}
        new_tree: dict[str, _Entry] = {}
        for p, e in tree.items():
            previous = old_tree.get(p)
            if p in touched and (previous is None or previous.blob_oid != e.blob_oid):
                e = _Entry(e.size, e.blob_oid, e.sha256, e.pointer_size, last_commit=sha)
            elif previous is not None:
                e = previous
            new_tree[p] = e
        repo.commits[sha] = _Commit(sha, head or None, title, message, author, date, new_tree)
        if pr_num is not None:
            repo.prs[pr_num] = sha
        else:
            repo.branches[branch] = sha
        return sha

    def _take_fault(
        self, repo_id: str, path: str, method: str, kinds: tuple[str, ...] = ("cut", "status")
    ) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.kind in kinds and fault.matches(repo_id, path, method):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _cdn_signature(self, repo_type: str, repo_id: str, sha256: str) -> str:
        return hashlib.sha256(f"{self._secret}:{repo_type}:{repo_id}:{sha256}".encode()).hexdigest()[:32]

    def _cdn_url(self, repo: _Repo, path: str, entry: _Entry) -> str:
        assert entry.sha256 is not None
        query = urlencode(
            {"path": path, "sig": self._cdn_signature(repo.repo_type, repo.repo_id, entry.sha256)}
        )
        return f"http://{self._cdn_host}:{self.port}/__cdn__/{repo.repo_type}s/{repo.repo_id}/{entry.sha256}?{query}"


class _ThreadingServer(ThreadingHTTPServer):
    daemon_threads = True  # handler threads never block interpreter exit
    request_queue_size = 128  # clients open many parallel connections (snapshot_download uses 8 threads)


def _resolves_to_loopback(hostname: str) -> bool:
    try:
        infos = socket.getaddrinfo(hostname, None, socket.AF_INET)
    except OSError:
        return False
    return any(info[4][0] == "127.0.0.1" for info in infos)


# ----------------------------------------------------------------------------------------------------
# HTTP layer


def _parse_range(header: str, total: int) -> tuple[int, int] | None | str:
    """``(start, end)`` inclusive, ``None`` when the header is to be ignored, ``"unsatisfiable"`` for 416."""
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if not m or (not m.group(1) and not m.group(2)):
        return None  # malformed or multi-range: serve the whole body (allowed by RFC 9110)
    if m.group(1):
        start = int(m.group(1))
        end = int(m.group(2)) if m.group(2) else total - 1
        if start >= total or end < start:
            return "unsatisfiable"
        return start, min(end, total - 1)
    suffix = int(m.group(2))
    if suffix == 0 or total == 0:
        return "unsatisfiable"
    return max(total - suffix, 0), total - 1


def _is_true(value: Any) -> bool:
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value).strip().lower() in ("1", "true", "yes", "on")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MiniHub/1.0"
    timeout = 60  # idle keep-alive connections are dropped after this many seconds
    hub: HubServer  # set on the per-server subclass

    # -- plumbing -------------------------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        with self.hub._lock:
            self.hub._connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.hub._lock:
                self.hub._connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        pass

    def send_response(self, code: int, message: str | None = None) -> None:
        self._status = code
        super().send_response(code, message)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        self._status = 0
        self._headers_sent = False
        self._body_consumed = False
        self._cached_body: bytes | None = None
        url = urlsplit(self.path)
        self._query = parse_qs(url.query, keep_blank_values=True)
        try:
            self._route(method, url.path)
        except _HttpError as err:
            self._send_error(err)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as err:  # a server bug: answer 500 rather than hang, and keep the traceback
            with self.hub._lock:
                self.hub._errors.append(f"{method} {self.path}\n{traceback.format_exc()}")
            self._send_error(_HttpError(500, f"hub server error: {type(err).__name__}: {err}"))
        finally:
            if not self.close_connection and not self._body_consumed:
                try:
                    for _ in self._iter_body():
                        pass
                except Exception:
                    self.close_connection = True
            with self.hub._lock:
                self.hub._requests.append(
                    {
                        "method": method,
                        "path": self.path,
                        "status": self._status,
                        "range": self.headers.get("Range"),
                        "authorization": self.headers.get("Authorization") is not None,
                        "host": self.headers.get("Host"),
                    }
                )

    def _iter_body(self) -> Iterator[bytes]:
        self._body_consumed = True
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionError("truncated chunked body")
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return
                remaining = size
                while remaining:
                    data = self.rfile.read(min(remaining, _CHUNK))
                    if not data:
                        raise ConnectionError("truncated chunked body")
                    remaining -= len(data)
                    yield data
                self.rfile.readline()
        else:
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining:
                data = self.rfile.read(min(remaining, _CHUNK))
                if not data:
                    raise ConnectionError("truncated body")
                remaining -= len(data)
                yield data

    def _body(self) -> bytes:
        if self._cached_body is None:
            self._cached_body = b"".join(self._iter_body())
        return self._cached_body

    def _json_body(self) -> Any:
        body = self._body()
        if not body:
            return {}
        try:
            return json.loads(body)
        except ValueError as err:
            raise _HttpError(400, f"Invalid JSON body: {err}") from err

    def _form_or_json(self) -> dict[str, Any]:
        ctype = self.headers.get("Content-Type", "")
        if "application/x-www-form-urlencoded" in ctype:
            return {k: v for k, v in parse_qs(self._body().decode(), keep_blank_values=True).items()}
        data = self._json_body()
        if not isinstance(data, dict):
            raise _HttpError(400, "Expected a JSON object")
        return data

    @property
    def _base_url(self) -> str:
        return f"http://{self.headers.get('Host') or f'{self.hub.host}:{self.hub.port}'}"

    def _send(
        self,
        status: int,
        body: bytes = b"",
        *,
        content_type: str = "application/json; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self._headers_sent = True
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _send_json(self, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers=headers)

    def _send_error(self, err: _HttpError) -> None:
        if self._headers_sent:  # too late for a clean error: make the client notice
            self.close_connection = True
            return
        headers = dict(err.headers)
        safe_message = " ".join(err.message.split()).encode("latin-1", "replace").decode("latin-1")
        headers["X-Error-Message"] = safe_message[:1000]
        if err.code:
            headers["X-Error-Code"] = err.code
        self._send_json({"error": err.message}, err.status, headers)

    # -- auth -----------------------------------------------------------------------------------------------

    def _user(self) -> str | None:
        auth = self.headers.get("Authorization")
        if auth is None:
            return None
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "basic":  # git-lfs style "user:token"
            try:
                value = base64.b64decode(value).decode().partition(":")[2]
            except ValueError:
                value = ""
        if value.strip() != self.hub.token:
            raise _HttpError(401, "Invalid credentials in Authorization header")
        return self.hub.user

    def _can_write(self, user: str | None, namespace: str) -> bool:
        return user is not None and (namespace == user or namespace in self.hub.orgs)

    def _require_user(self) -> str:
        user = self._user()
        if user is None:
            raise _HttpError(401, "Invalid username or password.")
        return user

    def _repo(self, repo_type: str, repo_id: str, *, write: bool = False) -> _Repo:
        """Look a repo up (lock held by caller), enforcing visibility and write permission."""
        user = self._user()
        repo = self.hub._repos.get((repo_type, repo_id))
        if repo is None or (repo.private and not self._can_write(user, repo.namespace)):
            raise _repo_not_found(repo_type, repo_id)
        if write:
            if user is None:
                raise _HttpError(401, "Invalid username or password.")
            if not self._can_write(user, repo.namespace):
                raise _HttpError(403, f"You don't have the rights to write to {repo_type} {repo_id}")
        return repo

    # -- routing --------------------------------------------------------------------------------------------

    def _route(self, method: str, raw_path: str) -> None:
        segs = [unquote(s) for s in raw_path.split("/")[1:]]
        if segs and segs[-1] == "" and len(segs) > 1:
            segs = segs[:-1]
        if not segs or segs == [""]:
            raise _HttpError(404, "Not Found")
        if segs[0] == "api":
            return self._route_api(method, segs[1:])
        if segs[0] == "__lfs__" and len(segs) == 3 and segs[1] == "upload" and method == "PUT":
            return self._lfs_upload(segs[2])
        if segs[0] == "__cdn__" and len(segs) == 5 and method in ("GET", "HEAD"):
            return self._cdn(REPO_TYPE_PLURALS.get(segs[1], ""), f"{segs[2]}/{segs[3]}", segs[4])
        repo_type = "model"
        if segs[0] in ("datasets", "spaces"):
            repo_type = REPO_TYPE_PLURALS[segs[0]]
            segs = segs[1:]
        if len(segs) >= 2 and segs[1].endswith(".git"):
            repo_id = f"{segs[0]}/{segs[1][: -len('.git')]}"
            rest = segs[2:]
            if rest == ["info", "lfs", "objects", "batch"] and method == "POST":
                return self._lfs_batch(repo_type, repo_id)
            if rest == ["info", "lfs", "objects", "verify"] and method == "POST":
                return self._lfs_verify(repo_type, repo_id)
        if len(segs) >= 5 and segs[2] == "resolve" and method in ("GET", "HEAD"):
            return self._resolve(repo_type, f"{segs[0]}/{segs[1]}", segs[3], "/".join(segs[4:]))
        raise _HttpError(404, "Not Found")

    def _route_api(self, method: str, segs: list[str]) -> None:
        if segs == ["whoami-v2"] and method == "GET":
            return self._whoami()
        if segs == ["agent-harnesses"] and method == "GET":
            return self._send_json({"standardEnvVars": [], "harnesses": {}})
        if segs == ["validate-yaml"] and method == "POST":
            self._json_body()
            return self._send_json({"errors": [], "warnings": []})
        if segs == ["repos", "create"] and method == "POST":
            return self._create_repo()
        if segs == ["repos", "delete"] and method == "DELETE":
            return self._delete_repo()
        if len(segs) >= 3 and segs[0] in REPO_TYPE_PLURALS:
            repo_type = REPO_TYPE_PLURALS[segs[0]]
            repo_id = f"{segs[1]}/{segs[2]}"
            rest = segs[3:]
            action = rest[0] if rest else ""
            if not rest and method == "GET":
                return self._info(repo_type, repo_id, None)
            if action == "revision" and len(rest) == 2 and method == "GET":
                return self._info(repo_type, repo_id, rest[1])
            if action == "tree" and len(rest) >= 2 and method == "GET":
                return self._tree(repo_type, repo_id, rest[1], "/".join(rest[2:]))
            if action == "paths-info" and len(rest) == 2 and method == "POST":
                return self._paths_info(repo_type, repo_id, rest[1])
            if action == "preupload" and len(rest) == 2 and method == "POST":
                return self._preupload(repo_type, repo_id, rest[1])
            if action == "commit" and len(rest) == 2 and method == "POST":
                return self._commit(repo_type, repo_id, rest[1])
            if action == "refs" and len(rest) == 1 and method == "GET":
                return self._refs(repo_type, repo_id)
            if action == "commits" and len(rest) == 2 and method == "GET":
                return self._commits(repo_type, repo_id, rest[1])
            if action == "branch" and len(rest) == 2 and method in ("POST", "DELETE"):
                return self._branch(method, repo_type, repo_id, rest[1])
            if action == "tag" and len(rest) == 2 and method in ("POST", "DELETE"):
                return self._tag(method, repo_type, repo_id, rest[1])
            if action == "settings" and len(rest) == 1 and method == "PUT":
                return self._settings(repo_type, repo_id)
            if action == "resolve" and len(rest) >= 3 and method in ("GET", "HEAD"):
                return self._resolve(repo_type, repo_id, rest[1], "/".join(rest[2:]))
        raise _HttpError(404, "Not Found")

    # -- account / repos ------------------------------------------------------------------------------------

    def _whoami(self) -> None:
        user = self._require_user()
        self._send_json(
            {
                "type": "user",
                "id": hashlib.sha1(user.encode()).hexdigest()[:24],
                "name": user,
                "fullname": user.title(),
                "email": f"{user}@example.invalid",
                "emailVerified": True,
                "isPro": False,
                "canPay": False,
                "orgs": [
                    {"type": "org", "name": org, "fullname": org, "roleInOrg": "admin"}
                    for org in self.hub.orgs
                ],
                "auth": {"type": "access_token", "accessToken": {"displayName": "tests", "role": "write"}},
            }
        )

    def _create_repo(self) -> None:
        user = self._require_user()
        payload = self._json_body()
        name = payload.get("name") or ""
        namespace = payload.get("organization") or user
        repo_type = payload.get("type") or "model"
        if repo_type not in URL_PREFIXES:
            raise _HttpError(400, f"Invalid repo type: {repo_type}")
        if not _NAME_RE.fullmatch(name) or not _NAME_RE.fullmatch(namespace) or "--" in name or ".." in name:
            raise _HttpError(400, f"Invalid repo name: {namespace}/{name}")
        if not self._can_write(user, namespace):
            raise _HttpError(
                403, f"You don't have the rights to create a repo under the namespace {namespace}"
            )
        private = payload.get("private")
        if payload.get("visibility") is not None:
            private = payload["visibility"] != "public"
        repo_id = f"{namespace}/{name}"
        url = f"{self._base_url}/{URL_PREFIXES[repo_type]}{repo_id}"
        with self.hub._lock:
            exists = (repo_type, repo_id) in self.hub._repos
            if not exists:
                self.hub._new_repo(repo_type, repo_id, private=bool(private))
        if exists:  # the Hub answers 409 with the repo url; `exist_ok=True` clients rely on it
            message = f"You already created this {repo_type} repo"
            self._send_json({"error": message, "url": url}, 409, {"X-Error-Message": message})
            return
        self._send_json({"url": url, "name": repo_id, "id": repo_id})

    def _delete_repo(self) -> None:
        user = self._require_user()
        payload = self._json_body()
        repo_type = payload.get("type") or "model"
        repo_id = f"{payload.get('organization') or user}/{payload.get('name')}"
        with self.hub._lock:
            self._repo(repo_type, repo_id, write=True)
            del self.hub._repos[(repo_type, repo_id)]
        self._send_json({})

    def _settings(self, repo_type: str, repo_id: str) -> None:
        payload = self._json_body()
        with self.hub._lock:
            repo = self._repo(repo_type, repo_id, write=True)
            if "private" in payload:
                repo.private = bool(payload["private"])
            if payload.get("visibility") is not None:
                repo.private = payload["visibility"] != "public"
            if "gated" in payload:
                repo.gated = payload["gated"]
        self._send_json({})

    # -- read API -------------------------------------------------------------------------------------------

    def _commit_json(self, commit: _Commit) -> dict[str, Any]:
        return {"id": commit.sha, "title": commit.title, "date": _iso(commit.date)}

    def _file_json(self, repo: _Repo, path: str, entry: _Entry, expand: bool) -> dict[str, Any]:
        item: dict[str, Any] = {"type": "file", "oid": entry.blob_oid, "size": entry.size, "path": path}
        if entry.is_lfs:
            item["lfs"] = {"oid": entry.sha256, "size": entry.size, "pointerSize": entry.pointer_size}
        if expand:
            item["lastCommit"] = self._commit_json(repo.commits[entry.last_commit])
            item["securityFileStatus"] = {
                "status": "safe",
                "avScan": {"virusFound": False, "virusNames": None},
                "pickleImportScan": None,
            }
        return item

    def _dir_json(self, repo: _Repo, tree: dict[str, _Entry], path: str, expand: bool) -> dict[str, Any]:
        below = sorted((p, e) for p, e in tree.items() if p.startswith(path + "/"))
        oid = hashlib.sha1("\n".join(f"{p} {e.blob_oid}" for p, e in below).encode()).hexdigest()
        item: dict[str, Any] = {"type": "directory", "oid": oid, "size": 0, "path": path}
        if expand:
            latest = max((repo.commits[e.last_commit] for _, e in below), key=lambda c: c.date)
            item["lastCommit"] = self._commit_json(latest)
        return item

    def _info(self, repo_type: str, repo_id: str, revision: str | None) -> None:
        with self.hub._lock:
            repo = self._repo(repo_type, repo_id)
            sha = self.hub._resolve_revision(repo, revision or "main")
            commit = repo.commits[sha]
            blobs = _is_true(self._query.get("blobs", ["false"]))
            siblings = []
            for path, entry in sorted(commit.tree.items()):
                sibling: dict[str, Any] = {"rfilename": path}
                if blobs:
                    sibling.update(size=entry.size, blobId=entry.blob_oid)
                    if entry.is_lfs:
                        sibling["lfs"] = {
                            "size": entry.size, "sha256": entry.sha256, "pointerSize": entry.pointer_size,
                        }  # fmt: skip
                siblings.append(sibling)
            info: dict[str, Any] = {
                "_id": hashlib.sha1(f"{repo_type}/{repo_id}".encode()).hexdigest()[:24],
                "id": repo_id,
                "author": repo.namespace,
                "sha": sha,
                "lastModified": _iso(commit.date),
                "createdAt": _iso(repo.created_at),
                "private": repo.private,
                "gated": repo.gated,
                "disabled": False,
                "downloads": 0,
                "likes": 0,
                "tags": [],
                "siblings": siblings,
                "usedStorage": sum(e.size for e in commit.tree.values()),
            }
            if repo_type == "model":
                info["modelId"] = repo_id
            if repo_type == "space":
                info["sdk"] = "static"
        self._send_json(info)

    def _paginate(self, items: list[dict[str, Any]], page_size: int) -> None:
        try:
            cursor = int(self._query.get("cursor", ["0"])[-1] or 0)
            limit = int(self._query.get("limit", [str(page_size)])[-1] or page_size)
        except ValueError as err:
            raise _HttpError(400, "Invalid cursor or limit") from err
        limit = max(1, min(limit, page_size))
        page = items[cursor : cursor + limit]
        headers = {}
        if cursor + limit < len(items):
            query = {k: v[-1] for k, v in self._query.items()}
            query["cursor"] = str(cursor + limit)
            next_url = f"{self._base_url}{urlsplit(self.path).path}?{urlencode(query)}"
            headers["Link"] = f'<{next_url}>; rel="next"'
        self._send_json(page, headers=headers)

    def _tree(self, repo_type: str, repo_id: str, revision: str, path: str) -> None:
        recursive = _is_true(self._query.get("recursive", ["false"]))
        expand = _is_true(self._query.get("expand", ["false"]))
        prefix = path.strip("/")
        with self.hub._lock:
            repo = self._repo(repo_type, repo_id)
            sha = self.hub._resolve_revision(repo, revision)
            tree = repo.commits[sha].tree
            if prefix and not any(p.startswith(prefix + "/") for p in tree):
                raise _HttpError(
                    404, f"Entry not found: {prefix}", "EntryNotFound", headers={"X-Repo-Commit": sha}
                )
            files: list[str] = []
            dirs: set[str] = set()
            for p in tree:
                if prefix and not p.startswith(prefix + "/"):
                    continue
                parts = (p[len(prefix) + 1 :] if prefix else p).split("/")
                base = f"{prefix}/" if prefix else ""
                if recursive:
                    files.append(p)
                    dirs.update(base + "/".join(parts[:k]) for k in range(1, len(parts)))
                elif len(parts) == 1:
                    files.append(p)
                else:
                    dirs.add(base + parts[0])
            items = [self._dir_json(repo, tree, d, expand) for d in sorted(dirs)]
            items += [self._file_json(repo, p, tree[p], expand) for p in sorted(files)]
            items.sort(key=lambda item: item["path"])
        self._paginate(items, max(1, self.hub.page_size // 20) if expand else self.hub.page_size)

    def _paths_info(self, repo_type: str, repo_id: str, revision: str) -> None:
        payload = self._form_or_json()
        paths = payload.get("paths", [])
        paths = [paths] if isinstance(paths, str) else list(paths)
        expand = _is_true(payload.get("expand", False))
        with self.hub._lock:
            repo = self._repo(repo_type, repo_id)
            sha = self.hub._resolve_revision(repo, revision)
            tree = repo.commits[sha].tree
            out = []
            for raw in paths:
                p = str(raw).strip("/")
                if p in tree:
                    out.append(self._file_json(repo, p, tree[p], expand))
                elif p and any(q.startswith(p + "/") for q in tree):
                    out.append(self._dir_json(repo, tree, p, expand))
        self._send_json(out)

    def _refs(self, repo_type: str, repo_id: str) -> None:
        with self.hub._lock:
            repo = self._repo(repo_type, repo_id)
            data = {
                "branches": [
                    {"name": b, "ref": f"refs/heads/{b}", "targetCommit": s}
                    for b, s in sorted(repo.branches.items())
                ],
                "converts": [],
                "tags": [
                    {"name": t, "ref": f"refs/tags/{t}", "targetCommit": s}
                    for t, s in sorted(repo.tags.items())
                ],
                "pullRequests": [
                    {"name": f"refs/pr/{n}", "ref": f"refs/pr/{n}", "targetCommit": s}
                    for n, s in sorted(repo.prs.items())
                ],
            }
        self._send_json(data)

    def _commits(self, repo_type: str, repo_id: str, revision: str) -> None:
        with self.hub._lock:
            repo = self._repo(repo_type, repo_id)
            sha: str | None = self.hub._resolve_revision(repo, revision)
            items = []
            while sha:
                c = repo.commits[sha]
                items.append(
                    {
                        "id": c.sha,
                        "title": c.title,
                        "message": c.message,
                        "authors": [{"user": c.author, "avatar": None}],
                        "date": _iso(c.date),
                        "formatted": {"title": c.title, "message": c.message},
                    }
                )
                sha = c.parent
        self._paginate(items, self.hub.page_size)

    def _branch(self, method: str, repo_type: str, repo_id: str, branch: str) -> None:
        payload = self._json_body() if method == "POST" else {}
        with self.hub._lock:
            repo = self._repo(repo_type, repo_id, write=True)
            if method == "DELETE":
                if branch not in repo.branches or branch == "main":
                    raise _HttpError(404 if branch != "main" else 403, f"Cannot delete branch {branch}")
                del repo.branches[branch]
            else:
                if branch in repo.branches:
                    raise _HttpError(409, f"Reference already exists: refs/heads/{branch}")
                start = payload.get("startingPoint") or "main"
                repo.branches[branch] = self.hub._resolve_revision(repo, start)
        self._send_json({})

    def _tag(self, method: str, repo_type: str, repo_id: str, name: str) -> None:
        payload = self._json_body() if method == "POST" else {}
        with self.hub._lock:
            repo = self._repo(repo_type, repo_id, write=True)
            if method == "DELETE":
                if name not in repo.tags:
                    raise _HttpError(404, f"Tag {name} not found", "RevisionNotFound")
                del repo.tags[name]
            else:
                tag = payload.get("tag") or ""
                if not tag:
                    raise _HttpError(400, "Missing tag name")
                if tag in repo.tags:
                    raise _HttpError(409, f"Tag {tag} already exists")
                repo.tags[tag] = self.hub._resolve_revision(repo, name)
        self._send_json({})

    # -- upload ---------------------------------------------------------------------------------------------

    def _writable_branch(self, repo: _Repo, revision: str) -> tuple[str, int | None]:
        rev = revision
        if rev.startswith("refs/heads/"):
            rev = rev[len("refs/heads/") :]
        if rev in repo.branches:
            return rev, None
        m = re.fullmatch(r"refs/pr/(\d+)", rev)
        if m and int(m.group(1)) in repo.prs:
            return rev, int(m.group(1))
        self.hub._resolve_revision(repo, rev)  # 404 RevisionNotFound when unknown
        raise _HttpError(400, f"Invalid rev id: {rev} is not a branch")

    def _preupload(self, repo_type: str, repo_id: str, revision: str) -> None:
        payload = self._json_body()
        with self.hub._lock:
            repo = self._repo(repo_type, repo_id, write=True)
            sha = self.hub._resolve_revision(repo, revision)
            tree = repo.commits[sha].tree
            gitignore = payload.get("gitIgnore")
            if gitignore is None:
                gitignore = self.hub._text_file(repo, tree, ".gitignore")
            files = []
            for item in payload.get("files", []):
                path = str(item.get("path", ""))
                try:
                    sample = base64.b64decode(item.get("sample") or "")
                    size = int(item.get("size", 0))
                except (ValueError, TypeError) as err:
                    raise _HttpError(400, f"Invalid preupload entry for {path}") from err
                mode = self.hub._upload_mode(repo, tree, path, size, sample)
                info: dict[str, Any] = {
                    "path": path,
                    "uploadMode": mode,
                    "shouldIgnore": _is_ignored(path, gitignore),
                }
                existing = tree.get(path)
                if existing is not None:
                    info["oid"] = existing.sha256 if existing.is_lfs else existing.blob_oid
                files.append(info)
        self._send_json({"files": files, "commitOid": sha})

    def _lfs_batch(self, repo_type: str, repo_id: str) -> None:
        payload = self._json_body()
        operation = payload.get("operation")
        if operation not in ("upload", "download"):
            raise _HttpError(422, f"Invalid operation: {operation}")
        with self.hub._lock:
            repo = self._repo(repo_type, repo_id, write=operation == "upload")
            objects = []
            for obj in payload.get("objects", []):
                oid, size = obj.get("oid"), obj.get("size")
                if (
                    not isinstance(oid, str)
                    or not _SHA256_RE.fullmatch(oid)
                    or not isinstance(size, int)
                    or size < 0
                ):
                    objects.append(
                        {
                            "oid": str(oid),
                            "size": size if isinstance(size, int) else 0,
                            "error": {"code": 422, "message": "Invalid oid or size"},
                        }
                    )
                    continue
                stored = self.hub._lfs_object_size(oid)
                item: dict[str, Any] = {"oid": oid, "size": size, "authenticated": True}
                if operation == "upload":
                    if stored != size:
                        ticket = secrets.token_urlsafe(24)
                        self.hub._upload_tickets[ticket] = (oid, size)
                        item["actions"] = {
                            "upload": {
                                "href": f"{self._base_url}/__lfs__/upload/{ticket}",
                                "expires_in": 3600,
                            },
                            "verify": {
                                "href": f"{self._base_url}/{repo.web_path}.git/info/lfs/objects/verify",
                                "header": {},
                            },
                        }
                elif stored is None:
                    item["error"] = {"code": 404, "message": "Object does not exist"}
                else:
                    entry = self.hub._lfs_entry(oid, stored)
                    item["actions"] = {
                        "download": {"href": self.hub._cdn_url(repo, "", entry), "expires_in": 3600}
                    }
                objects.append(item)
        self._send(
            200,
            json.dumps({"transfer": "basic", "objects": objects, "hash_algo": "sha256"}).encode(),
            content_type="application/vnd.git-lfs+json",
        )

    def _lfs_upload(self, ticket: str) -> None:
        with self.hub._lock:
            expected = self.hub._upload_tickets.get(ticket)
        if expected is None:
            raise _HttpError(403, "Invalid or expired upload URL")
        oid, size = expected
        assert self.hub.storage_dir is not None
        fd, tmp = tempfile.mkstemp(dir=self.hub.storage_dir / "tmp")
        digest = hashlib.sha256()
        received = 0
        try:
            with os.fdopen(fd, "wb") as f:
                for chunk in self._iter_body():
                    digest.update(chunk)
                    received += len(chunk)
                    f.write(chunk)
            if received != size:
                raise _HttpError(400, f"Size mismatch: expected {size} bytes, received {received}")
            if digest.hexdigest() != oid:
                raise _HttpError(400, f"Checksum mismatch: expected sha256 {oid}, got {digest.hexdigest()}")
            target = self.hub.storage_dir / "lfs" / oid
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        with self.hub._lock:
            self.hub._upload_tickets.pop(ticket, None)
        self._send(200, b"", content_type="text/plain", headers={"ETag": f'"{oid}"'})

    def _lfs_verify(self, repo_type: str, repo_id: str) -> None:
        payload = self._json_body()
        with self.hub._lock:
            self._repo(repo_type, repo_id, write=True)
            stored = self.hub._lfs_object_size(str(payload.get("oid")))
        if stored is None or stored != payload.get("size"):
            raise _HttpError(404, f"Object {payload.get('oid')} not found or size mismatch")
        self._send_json({"message": "ok"})

    def _commit(self, repo_type: str, repo_id: str, revision: str) -> None:
        body = self._body()
        lines = [line for line in body.splitlines() if line.strip()]
        try:
            items = [json.loads(line) for line in lines]
        except ValueError as err:
            raise _HttpError(400, f"Invalid NDJSON commit payload: {err}") from err
        if not items or items[0].get("key") != "header":
            raise _HttpError(400, "The first line of a commit payload must be its header")
        header = items[0].get("value") or {}
        title = str(header.get("summary") or "").strip()
        if not title:
            raise _HttpError(400, "Commit summary is required")
        ops: list[tuple[str, str, Any]] = []
        with self.hub._lock:
            repo = self._repo(repo_type, repo_id, write=True)
            branch, pr_num = self._writable_branch(repo, revision)
            for item in items[1:]:
                key, value = item.get("key"), item.get("value") or {}
                path = _validate_repo_path(str(value.get("path", "")), folder=key == "deletedFolder")
                if key == "file":
                    if value.get("encoding", "base64") != "base64":
                        data = str(value.get("content", "")).encode()
                    else:
                        try:
                            data = base64.b64decode(value.get("content") or "", validate=True)
                        except ValueError as err:
                            raise _HttpError(400, f"Invalid base64 content for {path}") from err
                    if len(data) >= LFS_SIZE_THRESHOLD or b"\0" in data[:8000]:
                        raise _HttpError(
                            400, f"Your push was rejected: {path} is binary or too large, upload it with LFS"
                        )
                    ops.append(("file", path, data))
                elif key == "lfsFile":
                    oid = str(value.get("oid", ""))
                    if value.get("algo", "sha256") != "sha256" or not _SHA256_RE.fullmatch(oid):
                        raise _HttpError(400, f"Invalid LFS oid for {path}")
                    stored = self.hub._lfs_object_size(oid)
                    if stored is None:
                        raise _HttpError(
                            422,
                            f"Your push was rejected: the LFS pointer {path} points to a missing object",
                        )
                    if value.get("size") is not None and int(value["size"]) != stored:
                        raise _HttpError(422, f"LFS object size mismatch for {path}")
                    ops.append(("lfs", path, (oid, stored)))
                elif key == "deletedFile":
                    ops.append(("delete", path, None))
                elif key == "deletedFolder":
                    ops.append(("delete_folder", path, None))
                else:
                    raise _HttpError(400, f"Unknown commit operation: {key}")
            if _is_true(self._query.get("create_pr", ["0"])):
                pr_num = max(repo.prs, default=0) + 1
                repo.prs[pr_num] = self.hub._resolve_revision(repo, branch)
            sha = self.hub._commit(
                repo,
                branch,
                ops,
                title=title,
                message=str(header.get("description") or ""),
                author=self.hub.user,
                parent_commit=header.get("parentCommit"),
                pr_num=pr_num,
            )
        pr_url = f"{self._base_url}/{repo.web_path}/discussions/{pr_num}" if pr_num is not None else None
        self._send_json(
            {
                "success": True,
                "commitOid": sha,
                "commitUrl": f"{self._base_url}/{repo.web_path}/commit/{sha}",
                "hookOutput": "",
                "pullRequestUrl": pr_url,
            }
        )

    # -- download -------------------------------------------------------------------------------------------

    def _resolve(self, repo_type: str, repo_id: str, revision: str, path: str) -> None:
        with self.hub._lock:
            repo = self._repo(repo_type, repo_id)
            sha = self.hub._resolve_revision(repo, revision)
            entry = repo.commits[sha].tree.get(path)
            if entry is None:
                raise _HttpError(
                    404, f"Entry not found: {path}", "EntryNotFound", headers={"X-Repo-Commit": sha}
                )
            headers = {"X-Repo-Commit": sha, "ETag": f'"{entry.blob_oid}"', "Accept-Ranges": "bytes"}
            if entry.is_lfs:
                headers["X-Linked-Etag"] = f'"{entry.sha256}"'
                headers["X-Linked-Size"] = str(entry.size)
                if self.hub.cdn_redirect:
                    headers["Location"] = self.hub._cdn_url(repo, path, entry)
                    status_fault = self.hub._take_fault(repo_id, path, self.command, kinds=("status",))
                    if status_fault is not None:
                        raise _HttpError(status_fault.status, "Injected failure")
                    self._send(302, b"", content_type="text/plain; charset=utf-8", headers=headers)
                    return
                headers["ETag"] = f'"{entry.sha256}"'
            content = self.hub._content_path(repo, entry)
        self._serve_content(repo_id, path, content, headers)

    def _cdn(self, repo_type: str, repo_id: str, sha256: str) -> None:
        path = self._query.get("path", [""])[-1]
        sig = self._query.get("sig", [""])[-1]
        if not repo_type or sig != self.hub._cdn_signature(repo_type, repo_id, sha256):
            raise _HttpError(403, "Request signature does not match")
        with self.hub._lock:
            repo = self.hub._repos.get((repo_type, repo_id))
            size = self.hub._lfs_object_size(sha256)
            if repo is None or size is None:
                raise _HttpError(404, "NoSuchKey")
            content = self.hub._content_path(repo, self.hub._lfs_entry(sha256, size))
        name = posixpath.basename(path) or sha256
        headers = {
            "ETag": f'"{sha256}"',
            "Accept-Ranges": "bytes",
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}; filename=\"{quote(name)}\";",
        }
        self._serve_content(repo_id, path, content, headers)

    def _serve_content(self, repo_id: str, path: str, content: Path, headers: dict[str, str]) -> None:
        total = content.stat().st_size
        status, start, length = 200, 0, total
        range_header = self.headers.get("Range")
        if range_header:
            parsed = _parse_range(range_header, total)
            if parsed == "unsatisfiable":
                raise _HttpError(
                    416, "Requested range not satisfiable", headers={"Content-Range": f"bytes */{total}"}
                )
            if isinstance(parsed, tuple):
                start, end = parsed
                status, length = 206, end - start + 1
                headers["Content-Range"] = f"bytes {start}-{end}/{total}"
        fault = self.hub._take_fault(repo_id, path, self.command)
        if fault is not None and fault.kind == "status":
            raise _HttpError(fault.status, "Injected failure")
        ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self._headers_sent = True
        if self.command == "HEAD":
            return
        to_send = length if fault is None else min(fault.after_bytes, length)
        with open(content, "rb") as f:
            f.seek(start)
            while to_send > 0:
                chunk = f.read(min(_CHUNK, to_send))
                if not chunk:
                    break
                self.wfile.write(chunk)
                to_send -= len(chunk)
        if fault is not None:  # simulate a network failure: announced length not delivered
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _validate_repo_path(path: str, *, folder: bool = False) -> str:
    clean = path.strip("/") if folder else path
    parts = clean.split("/")
    if (
        not clean
        or clean.startswith("/")
        or any(p in ("", ".", "..") for p in parts)
        or parts[0] == ".git"
        or "\0" in clean
    ):
        raise _HttpError(400, f"Invalid path in repo: {path!r}")
    return clean
