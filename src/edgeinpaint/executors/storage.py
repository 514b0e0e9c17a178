"""Files and objects by URI: local paths and anything a pyarrow filesystem understands (``s3://``, ``gs://``...).

Every read, listing and write of the Ray executor goes through here, so object storage and local
folders behave the same: a missing object is an error naming its URI, and an output appears whole
or not at all.

Credentials and endpoints come the way pyarrow takes them (Apache Arrow, "Filesystem Interface"):
the usual ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_REGION`` / ``AWS_ENDPOINT_URL``
environment variables, or URI options such as ``s3://bucket/prefix?endpoint_override=host:port&scheme=http``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

from edgeinpaint.core.atomic import temp_path, write_bytes
from edgeinpaint.core.errors import InputError
from edgeinpaint.core.jobs import is_uri

if TYPE_CHECKING:
    import pyarrow.fs as pafs

#: Schemes whose URI netloc is the bucket, i.e. part of the filesystem path, not of the filesystem.
_BUCKET_SCHEMES = frozenset({"s3", "gs", "gcs"})


#: One filesystem per (scheme, netloc outside the path, URI options) per process: building an
#: S3FileSystem resolves credentials, which is too slow to repeat per object.
_FILESYSTEMS: dict[tuple[str, str, str], pafs.FileSystem] = {}


def _filesystem(key: tuple[str, str, str], uri: str) -> pafs.FileSystem:
    """The filesystem for ``key``, built from the first ``uri`` that needs it."""
    found = _FILESYSTEMS.get(key)
    if found is None:
        import pyarrow.fs as pafs

        try:
            found = _FILESYSTEMS[key] = pafs.FileSystem.from_uri(uri)[0]
        except (ValueError, OSError) as exc:
            raise InputError(f"{uri}: not a storage location pyarrow can open ({exc})") from None
    return found


@dataclass(frozen=True)
class Place:
    """A file, folder or prefix: its filesystem and the path on it.

    Attributes:
        uri: as the user or the plan wrote it (messages and reports show this).
        fs: the pyarrow filesystem. path: the path on ``fs`` (``bucket/key`` for S3, absolute locally).
    """

    uri: str
    fs: pafs.FileSystem
    path: str

    @property
    def local(self) -> bool:
        return self.fs.type_name == "local"

    def child(self, relative: str | PurePath) -> str:
        """The URI of ``relative`` (posix) under this folder, in the same form as :attr:`uri` (options kept).

        ``relative`` is a name from a listing, never a URI: in a URI it is percent-encoded (a ``?``, ``&``,
        ``#``, space or parenthesis in an object key stays part of the key, and ``.``/``..`` segments stay
        names), so :func:`place` gives back exactly this key on the same store, with the root's options only.
        """
        if not is_uri(self.uri):
            return f"{self.uri.rstrip('/')}/{relative}"
        base, mark, options = self.uri.partition("?")
        key = "/".join(_quote_segment(segment) for segment in PurePosixPath(relative).parts)
        return f"{base.rstrip('/')}/{key}{mark}{options}"


def _quote_segment(segment: str) -> str:
    """One key segment percent-encoded; ``.`` and ``..`` too (they are names here, not path steps)."""
    if segment in (".", ".."):
        return segment.replace(".", "%2E")
    return quote(segment, safe="")


def _object_path(raw: str) -> str:
    """A URI's path on its store: ``.``/``..`` steps the user typed resolved (``s3://b/x/../in`` is ``b/in``),
    then percent-decoding (keys that :meth:`Place.child` encoded come back exactly)."""
    if not raw:
        return raw
    lead = "/" if raw.startswith("/") else ""
    steps: list[str] = []
    for segment in raw.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if steps:
                steps.pop()
            continue
        steps.append(unquote(segment))
    return lead + "/".join(steps)


def place(uri: str | Path) -> Place:
    """Resolve a URI or local path (local paths made absolute, symlinks kept).

    Raises:
        InputError: a scheme pyarrow cannot open, or options it rejects.
    """
    text = str(uri)
    if not is_uri(text) or text.startswith("file://"):
        import pyarrow.fs as pafs

        raw = text[len("file://") :] if text.startswith("file://") else text
        local = Path(unquote(raw) if text.startswith("file://") else raw).absolute()
        return Place(text, pafs.LocalFileSystem(), str(local))
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    in_path = scheme in _BUCKET_SCHEMES
    fs = _filesystem((scheme, "" if in_path else parts.netloc, parts.query), text)
    path = _object_path(f"{parts.netloc}{parts.path}" if in_path else parts.path)
    return Place(text, fs, path.rstrip("/") or path)


def file_type(where: Place) -> str:
    """``"file"``, ``"dir"`` or ``"missing"`` (an S3 prefix with objects under it is a ``dir``).

    Raises:
        InputError: the store could not be asked (credentials, endpoint down).
    """
    import pyarrow.fs as pafs

    try:
        info = where.fs.get_file_info(where.path)
    except OSError as exc:
        raise InputError(f"{where.uri}: cannot reach the storage ({exc})") from None
    if info.type == pafs.FileType.File:
        return "file"
    if info.type == pafs.FileType.Directory:
        return "dir"
    return "missing"


def list_files(root: Place) -> list[str]:
    """Every file under folder ``root``, recursively, as sorted posix paths relative to it.

    Raises:
        InputError: the listing failed.
    """
    import pyarrow.fs as pafs

    try:
        infos = root.fs.get_file_info(pafs.FileSelector(root.path, recursive=True))
    except OSError as exc:
        raise InputError(f"{root.uri}: cannot list ({exc})") from None
    base = PurePosixPath(root.path)
    return sorted(str(PurePosixPath(i.path).relative_to(base)) for i in infos if i.type == pafs.FileType.File)


def read_bytes(uri: str) -> bytes:
    """The whole file or object.

    Raises:
        InputError: missing, unreadable, or the store failed; the message names ``uri``.
    """
    where = place(uri)
    try:
        with where.fs.open_input_stream(where.path) as stream:
            return bytes(stream.read())
    except FileNotFoundError:
        raise InputError(f"{uri}: file not found") from None
    except OSError as exc:
        raise InputError(f"{uri}: cannot read ({exc})") from None


def exists(uri: str) -> bool:
    """True when ``uri`` names an existing file or object."""
    return file_type(place(uri)) == "file"


def write_atomic(uri: str, data: bytes, tag: str | None = None) -> None:
    """Write ``data`` so that ``uri`` appears whole or not at all.

    Locally: core/atomic.py (temp beside the target, fsync, rename). On object stores: the bytes go
    to a hidden temp key beside the target (``.eip-<tag>-<n>.tmp``, never listed as an input), which
    is then moved: S3's move is a server-side copy, and an object exists only once its copy has
    completed (AWS S3 user guide, "Amazon S3 data consistency model"), then the temp is deleted.
    A writer killed in between leaves only a hidden temp key.

    Raises:
        OSError: the write failed (the message names ``uri``); nothing is left at ``uri``.
    """
    where = place(uri)
    if where.local:
        write_bytes(Path(where.path), data, tag)
        return
    tmp = str(temp_path(Path(where.path), tag))
    try:
        with where.fs.open_output_stream(tmp) as stream:
            stream.write(data)
        where.fs.move(tmp, where.path)
    except OSError as exc:
        # never written, or the store is down: the hidden temp is all that can remain
        with contextlib.suppress(OSError):
            where.fs.delete_file(tmp)
        raise OSError(exc.errno or 5, f"{uri}: cannot write ({exc})") from None
