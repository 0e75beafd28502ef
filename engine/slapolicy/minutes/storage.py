"""Minutes named by a URL: the filesystem that reads them, in the planning process and on every worker.

``--minutes`` (and ``minutes=``) takes a local path or a URL: ``s3://bucket/prefix/``,
``gs://bucket/prefix/``, ``hdfs://namenode:8020/path``, ``file:///abs/path/``. pyarrow's own filesystems
read ``file``, ``s3``, ``gs``/``gcs``, ``hdfs`` and ``viewfs``, with their options in the URL's query
(``s3://bucket/prefix/?region=eu-west-1&endpoint_override=host:9000&scheme=http``) and credentials from the
environment, as the cloud SDKs read them. Any other scheme goes through fsspec, when fsspec and the library
for that scheme are installed. A part of the minutes carries its file's URL, never a local path: each worker
opens it itself, so the workers need the credentials, not the client's files.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import quote

from ..errors import InputError, shell_word

# Two letters at least: C:\ is a Windows path, not a URL. A file URL may also be written with one slash (RFC 8089's
# `file:/abs/path`, as Hadoop, Spark and Java's File.toURI write it): taken for a relative path, it was `no such
# file or directory` for a directory that was there.
_URL = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]+://|file:/)", re.IGNORECASE)
_DENIED = ("access denied", "access_denied", "accessdenied", "forbidden", "permission denied", "invalidaccesskeyid",
           "signaturedoesnotmatch", "expiredtoken", "unauthorized", "credentials")
_MISSING = ("nosuchbucket", "no_such_bucket", "nosuchkey", "no such file", "not found", "does not exist")


def is_url(source) -> bool:
    """Whether ``source`` names minutes by a URL (``scheme://...``, or ``file:/...``) rather than a local path."""
    return isinstance(source, str) and bool(_URL.match(source))


def relative_file_url(source) -> str:
    """What a missing ``file:data/m.csv`` is told after "no such file or directory" (a file URL written with a
    relative path, which RFC 8089 has not: its path is absolute): to give the path alone; "" for anything else. Such a
    source is taken for a local file of that name: it was "no such file", and nothing of why."""
    if not isinstance(source, str) or is_url(source) or source[:5].lower() != "file:" or len(source) == 5:
        return ""
    return ("; a file URL names an absolute path (file:/abs/path, file:///abs/path): for a path from this directory, "
            f"give it alone: {shell_word(source[5:])}")


def scheme_of(url: str) -> str:
    """A URL's scheme, in lower case: schemes are read whatever their case (RFC 3986 §3.1)."""
    return url.split(":", 1)[0].lower()


def as_read(url: str) -> str:
    """The URL as pyarrow and fsspec are given it: its scheme in lower case (they knew `FILE://` or `S3://` as no
    scheme at all), and a file URL's host `localhost`, which names this machine (RFC 8089), left out (pyarrow refused
    it). Messages and records keep the URL as written."""
    scheme, rest = scheme_of(url), url.split(":", 1)[1]
    if scheme == "file" and rest[:len("//localhost/")].lower() == "//localhost/":
        rest = "//" + rest[len("//localhost"):]
    return f"{scheme}:{rest}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def failure(url: str, exc: BaseException) -> InputError:
    """An error of a filesystem as one line that says which kind it is: permission, missing, or other."""
    text = _first_line(exc)
    low = text.lower()
    if isinstance(exc, PermissionError) or any(word in low for word in _DENIED):
        return InputError(f"{url}: permission denied ({text}); check the credentials this process and the "
                          "workers read (for S3: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)")
    if isinstance(exc, FileNotFoundError) or any(word in low for word in _MISSING):
        return InputError(f"{url}: no such file, directory or object ({text})")
    return InputError(f"{url}: cannot be read: {text}")


@lru_cache(maxsize=256)
def filesystem(url: str):
    """(pyarrow filesystem, path inside it) of a URL, made once per process and URL."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs
    import pyarrow.fs as pafs  # heavy (0.2 s): loaded by the commands that read inputs

    scheme = scheme_of(url)
    try:
        return pafs.FileSystem.from_uri(as_read(url))
    except pa.ArrowNotImplementedError as exc:  # a pyarrow built without that filesystem
        raise InputError(f"{url}: this pyarrow cannot read {scheme}:// URLs ({_first_line(exc)}); "
                         "pip install pyarrow from PyPI, whose wheels read s3://, gs:// and hdfs://") from None
    except ImportError:  # pyarrow handed the scheme to fsspec, which lacks its library: said below
        pass
    except (OSError, ValueError) as exc:
        text = str(exc).lower()
        if "unrecognized filesystem type" not in text and "protocol not known" not in text:
            if isinstance(exc, pa.ArrowInvalid):
                raise InputError(f"{url}: not a URL pyarrow can read: {_first_line(exc)}") from None
            raise failure(url, exc) from None
    return _through_fsspec(url, scheme)


def _through_fsspec(url: str, scheme: str):
    import pyarrow.fs as pafs  # heavy (0.2 s): loaded by the commands that read inputs

    try:
        import fsspec  # optional: only a URL scheme pyarrow cannot open needs fsspec and its filesystem
    except ImportError:
        raise InputError(f"{url}: {scheme}:// URLs are read through fsspec: pip install fsspec "
                         f"(and its library for {scheme}://)") from None
    try:
        fs, path = fsspec.core.url_to_fs(as_read(url))
    except ValueError as exc:
        if "protocol not known" in str(exc).lower():
            raise InputError(f"{url}: unknown URL scheme {scheme}:// (pyarrow reads file, s3, gs, hdfs; fsspec "
                             "reads the schemes its installed libraries register)") from None
        raise InputError(f"{url}: {_first_line(exc)}") from None
    except ImportError as exc:
        from fsspec.registry import known_implementations  # optional: only a URL scheme pyarrow cannot open needs fsspec and its filesystem

        hint = known_implementations.get(scheme, {}).get("err", "") or str(exc)
        library = re.search(r"install (?:the )?['\"`]?([A-Za-z0-9_.\-\[\]]+)", hint, re.IGNORECASE)
        needed = f"pip install {library.group(1)}" if library else hint
        raise InputError(f"{url}: reading {scheme}:// URLs needs a library that is not installed: {needed}") from None
    except OSError as exc:
        raise failure(url, exc) from None
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path


@dataclass(frozen=True)
class Store:
    """A URL given as the minutes, with the filesystem and path it names."""

    url: str
    fs: object
    root: str  # the path inside the filesystem
    _sizes: dict | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, url: str) -> "Store":
        fs, path = filesystem(url)
        return cls(url, fs, path.rstrip("/") or path)

    def info(self, path: str | None = None):
        """The FileInfo of the root (or of ``path``); a missing one is refused."""
        import pyarrow.fs as pafs  # heavy (0.2 s): loaded by the commands that read inputs

        try:
            found = self.fs.get_file_info(self.root if path is None else path)
        except (OSError, ValueError) as exc:
            raise failure(self.url if path is None else self.url_of(path), exc) from None
        if found.type == pafs.FileType.NotFound:
            raise InputError(f"{self.url if path is None else self.url_of(path)}: no such file, directory or object")
        return found

    def sizes(self) -> dict:
        """{path: bytes} of every file under the root, from one listing (an object store's LIST, paged), not
        a request per file."""
        import pyarrow.fs as pafs  # heavy (0.2 s): loaded by the commands that read inputs

        if self._sizes is None:
            try:
                found = self.fs.get_file_info(pafs.FileSelector(self.root, recursive=True))
            except (OSError, ValueError) as exc:
                raise failure(self.url, exc) from None
            object.__setattr__(self, "_sizes", {f.path: f.size for f in found if f.type == pafs.FileType.File})
        return self._sizes

    def url_of(self, path: str) -> str:
        """The URL of a path under the root: the root's URL (its options kept) with the rest of the path added."""
        rest = path[len(self.root):].strip("/") if path.startswith(self.root) else path.strip("/")
        if not rest:
            return self.url
        base, mark, query = self.url.partition("?")
        return f"{base.rstrip('/')}/{quote(rest, safe='/=:@+,')}{mark}{query}"


def open_input(url: str, random_access: bool = False):
    """A part's file, opened by its URL (on whichever process reads it)."""
    fs, path = filesystem(url)
    try:
        return fs.open_input_file(path) if random_access else fs.open_input_stream(path)
    except (OSError, ValueError) as exc:
        raise failure(url, exc) from None


def listing_digest(url: str) -> str:
    """sha256 over the files under a URL: each one's path, size and modification time (what the ledger keeps
    of minutes named by URL: reading a whole object store to hash its bytes is what the parts avoid)."""
    import pyarrow.fs as pafs  # heavy (0.2 s): loaded by the commands that read inputs

    store = Store.of(url)
    root = store.info()
    try:
        files = [root] if root.type == pafs.FileType.File else sorted(
            (f for f in store.fs.get_file_info(pafs.FileSelector(store.root, recursive=True))
             if f.type == pafs.FileType.File), key=lambda f: f.path)
    except (OSError, ValueError) as exc:
        raise failure(url, exc) from None
    listing = "".join(f"{f.path[len(store.root):].lstrip('/')}\t{f.size}\t{f.mtime_ns}\n" for f in files)
    return hashlib.sha256(listing.encode()).hexdigest()
