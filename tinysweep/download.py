"""Fetch real data sets: pinned URL + sha256, resumable, verified, safely extracted.

`fetch` downloads into ``<dest>.part`` (resuming it with an HTTP Range request when it exists),
checks the sha256 and only then renames it to ``dest``; a wrong checksum deletes the file.
`extract` unpacks tar (any compression) and zip archives, refusing any member that would land
outside the target folder (absolute paths, '..', links pointing out, devices).
"""
import http.client
import lzma
import os
import re
import socket
import stat
import sys
import tarfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from tinysweep.io import atomic_dir, sha256_file

CHUNK = 1 << 16


class DownloadError(OSError):
    """A download or extraction that failed; the message says what to do."""


class DatasetMissing(DownloadError):
    """No network and no local copy."""


class ChecksumMismatch(DownloadError):
    pass


class UnsafeArchive(DownloadError):
    pass


def _check_sha256(sha256: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F]{64}", sha256 or ""):
        raise ValueError(f"not a sha256 digest (64 hex digits): {sha256!r}")
    return sha256.lower()


def _verify(path: Path, url: str, expected: str, name: str) -> None:
    """Delete `path` and raise unless its sha256 is `expected` (`name`: the file's final name)."""
    actual = sha256_file(path)
    if actual != expected:
        path.unlink()
        raise ChecksumMismatch(f"checksum mismatch for {name} from {url}: expected sha256 "
                               f"{expected}, got {actual}; the file was deleted")


def fetch(url: str, dest, sha256: str, *, name: str | None = None, progress: bool = True,
          timeout: float = 30.0) -> Path:
    """Make sure `dest` holds the file at `url` with digest `sha256`; return its path.

    An existing `dest` is verified without any network access."""
    dest = Path(dest)
    expected = _check_sha256(sha256)
    name = name or dest.name
    if dest.exists():
        _verify(dest, url, expected, dest.name)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:          # the .part already holds the whole file
            os.replace(part, dest)
            _verify(dest, url, expected, dest.name)
            return dest
        raise DownloadError(f"download of {url} failed: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise DatasetMissing(f"dataset {name} is not present; connect to the network or put "
                             f"{dest.name} at {dest} (download failed: {reason})") from None
    with response:
        if have and response.status == 206:
            content_range = response.headers.get("Content-Range", "")
            if not content_range.startswith(f"bytes {have}-"):
                raise DownloadError(f"download of {url} failed: asked for bytes {have}- and got "
                                    f"Content-Range {content_range!r}")
            mode = "ab"
        else:                                # server ignored the Range: start over
            have, mode = 0, "wb"
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        done = have
        bar = tqdm(total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                   desc=name, file=sys.stderr, disable=not progress, leave=False)
        try:
            with open(part, mode) as f, bar:
                while block := response.read(CHUNK):
                    f.write(block)
                    done += len(block)
                    bar.update(len(block))
        except (http.client.HTTPException, socket.timeout, ConnectionError) as e:
            raise DownloadError(f"download of {url} interrupted at {done} bytes ({e}); "
                                f"run again to resume from {part}") from None
    if total is not None and done < total:
        raise DownloadError(f"download of {url} interrupted at {done} of {total} bytes; "
                            f"run again to resume from {part}")
    _verify(part, url, expected, dest.name)
    os.replace(part, dest)
    return dest


def _unsafe(archive: Path, member: str, why: str) -> UnsafeArchive:
    return UnsafeArchive(f"refusing to extract {archive.name}: member {member!r} {why}")


def _inside(root: str, path: str) -> bool:
    return os.path.commonpath([root, os.path.realpath(path)]) == root


def _check_name(archive: Path, root: str, name: str) -> str:
    """The destination of member `name`, or UnsafeArchive."""
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise _unsafe(archive, name, "has an absolute path")
    dest = os.path.join(root, name)
    if ".." in PurePosixPath(name.replace("\\", "/")).parts or not _inside(root, dest):
        raise _unsafe(archive, name, "escapes the target folder")
    return dest


def _check_tar_member(archive: Path, root: str, m: tarfile.TarInfo) -> None:
    dest = _check_name(archive, root, m.name)
    if m.issym():
        target = os.path.join(os.path.dirname(dest), m.linkname)
        if os.path.isabs(m.linkname) or not _inside(root, target):
            raise _unsafe(archive, m.name, f"is a link pointing outside the target ({m.linkname})")
    elif m.islnk():
        if os.path.isabs(m.linkname) or not _inside(root, os.path.join(root, m.linkname)):
            raise _unsafe(archive, m.name, f"is a link pointing outside the target ({m.linkname})")
    elif not (m.isfile() or m.isdir()):
        raise _unsafe(archive, m.name, "is a device or pipe")


def _extract_tar(archive: Path, root: str, progress: bool) -> None:
    size = archive.stat().st_size
    with open(archive, "rb") as raw, tarfile.open(fileobj=raw, mode="r:*") as tar, \
            tqdm(total=size, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
                 desc=f"extract {archive.name}", disable=not progress, leave=False) as bar:
        for member in tar:                  # one pass: a 2 GB .tar.gz is decompressed once
            _check_tar_member(archive, root, member)
            tar.extract(member, root, filter="data")
            bar.update(raw.tell() - bar.n)


def _extract_zip(archive: Path, root: str, progress: bool) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        for info in infos:
            _check_name(archive, root, info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise _unsafe(archive, info.filename, "is a link (not supported in zip archives)")
        for info in tqdm(infos, desc=f"extract {archive.name}", file=sys.stderr,
                         disable=not progress, leave=False):
            zf.extract(info, root)


def extract(archive, target, progress: bool = True) -> Path:
    """Unpack a tar or zip archive into `target` (replaced only if extraction succeeds)."""
    archive, target = Path(archive), Path(target)
    # a truncated or corrupt .tar.gz/.tar.xz fails already while its type is probed
    damaged = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError)
    try:
        if tarfile.is_tarfile(archive):
            unpack = _extract_tar
        elif zipfile.is_zipfile(archive):
            unpack = _extract_zip
        else:
            raise DownloadError(f"{archive} is neither a tar nor a zip archive, or is cut short: "
                                f"check the url and sha256 that name it in params.yaml")
        with atomic_dir(target) as tmp:
            unpack(archive, os.path.realpath(tmp), progress)
    except damaged as e:
        raise DownloadError(f"{archive} is damaged ({e}): delete it and run again to download "
                            f"it afresh, or check the sha256 pinned for it") from None
    return target
