"""tinysweep.download against a real HTTP server on 127.0.0.1 (Range support, broken links)."""
import hashlib
import http.server
import io
import os
import socket
import tarfile
import threading
import zipfile

import pytest

from tinysweep.download import (ChecksumMismatch, DatasetMissing, DownloadError, UnsafeArchive,
                                extract, fetch)

PAYLOAD = os.urandom(200_000)
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


class Server:
    """Serves `files` (path → bytes); honours Range unless `ignore_range`; can cut a body short."""

    def __init__(self):
        self.files, self.requests, self.cut_after, self.ignore_range = {}, [], None, False
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                start, rng = 0, self.headers.get("Range")
                if rng and not server.ignore_range:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut_after is not None:        # drop the connection mid-body
                    body, server.cut_after = body[:server.cut_after], None
                    self.close_connection = True
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    s.files["/data.bin"] = PAYLOAD
    yield s
    s.close()


def test_fresh_download_is_verified_and_renamed(server, tmp_path):
    dest = fetch(server.url + "/data.bin", tmp_path / "d" / "data.bin", DIGEST, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "d" / "data.bin.part").exists()
    assert server.requests == [("/data.bin", None)]


def test_existing_file_is_checked_without_network(tmp_path):
    (tmp_path / "data.bin").write_bytes(PAYLOAD)
    assert fetch("http://127.0.0.1:9/none", tmp_path / "data.bin", DIGEST).read_bytes() == PAYLOAD


def test_partial_file_is_resumed_with_a_range_request(server, tmp_path):
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD[:12345])
    dest = fetch(server.url + "/data.bin", tmp_path / "data.bin", DIGEST, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert server.requests == [("/data.bin", "bytes=12345-")]


def test_interrupted_download_keeps_the_part_and_resumes(server, tmp_path):
    server.cut_after = 50_000
    with pytest.raises(DownloadError, match="interrupted.*run again to resume"):
        fetch(server.url + "/data.bin", tmp_path / "data.bin", DIGEST, progress=False)
    assert (tmp_path / "data.bin.part").stat().st_size == 50_000
    assert fetch(server.url + "/data.bin", tmp_path / "data.bin", DIGEST,
                 progress=False).read_bytes() == PAYLOAD
    assert server.requests[-1] == ("/data.bin", "bytes=50000-")


def test_complete_part_answered_416_is_finished(server, tmp_path):
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD)
    assert fetch(server.url + "/data.bin", tmp_path / "data.bin", DIGEST,
                 progress=False).read_bytes() == PAYLOAD


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    server.ignore_range = True
    (tmp_path / "data.bin.part").write_bytes(b"garbage that must not survive")
    assert fetch(server.url + "/data.bin", tmp_path / "data.bin", DIGEST,
                 progress=False).read_bytes() == PAYLOAD


def test_checksum_mismatch_deletes_and_names_both_digests(server, tmp_path):
    wrong = "0" * 64
    with pytest.raises(ChecksumMismatch) as e:
        fetch(server.url + "/data.bin", tmp_path / "data.bin", wrong, progress=False)
    assert wrong in str(e.value) and DIGEST in str(e.value)
    assert not list(tmp_path.iterdir())


def test_wrong_local_copy_is_deleted(tmp_path):
    (tmp_path / "data.bin").write_bytes(b"not it")
    with pytest.raises(ChecksumMismatch, match=DIGEST):
        fetch("http://127.0.0.1:9/none", tmp_path / "data.bin", DIGEST)
    assert not (tmp_path / "data.bin").exists()


def test_no_network_says_where_to_put_the_file(tmp_path):
    with socket.socket() as s:                 # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DatasetMissing) as e:
        fetch(f"http://127.0.0.1:{port}/sc.tar.gz", tmp_path / "sc.tar.gz", DIGEST,
              name="Speech Commands v2", progress=False)
    msg = str(e.value)
    assert msg.startswith("dataset Speech Commands v2 is not present; connect to the network "
                          f"or put sc.tar.gz at {tmp_path / 'sc.tar.gz'}")
    assert "\n" not in msg


def test_http_error_and_bad_digest(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch(server.url + "/missing", tmp_path / "x", DIGEST, progress=False)
    with pytest.raises(ValueError, match="sha256"):
        fetch(server.url + "/data.bin", tmp_path / "x", "abc")


# ------------------------------------------------------------------ extraction
def _tar(path, members):
    """members: (TarInfo kwargs, data or None)."""
    with tarfile.open(path, "w:gz") as tar:
        for kw, data in members:
            info = tarfile.TarInfo(kw.pop("name"))
            for k, v in kw.items():
                setattr(info, k, v)
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def test_tar_and_zip_extract(tmp_path):
    _tar(tmp_path / "a.tar.gz", [({"name": "top/a.txt"}, b"A"),
                                 ({"name": "top/sub/b.txt"}, b"B"),
                                 ({"name": "top/link", "type": tarfile.SYMTYPE,
                                   "linkname": "sub/b.txt"}, None)])
    out = extract(tmp_path / "a.tar.gz", tmp_path / "out", progress=False)
    assert (out / "top/a.txt").read_bytes() == b"A" and (out / "top/link").read_bytes() == b"B"
    with zipfile.ZipFile(tmp_path / "z.zip", "w") as zf:
        zf.writestr("d/c.txt", "C")
    assert (extract(tmp_path / "z.zip", tmp_path / "zout") / "d/c.txt").read_text() == "C"


@pytest.mark.parametrize("member, why", [
    ({"name": "../evil.txt"}, "escapes"),
    ({"name": "ok/../../evil.txt"}, "escapes"),
    ({"name": "/tmp/evil.txt"}, "absolute"),
    ({"name": "link", "type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}, "link pointing outside"),
    ({"name": "d/link", "type": tarfile.SYMTYPE, "linkname": "../../x"}, "link pointing outside"),
    ({"name": "hard", "type": tarfile.LNKTYPE, "linkname": "../x"}, "link pointing outside"),
    ({"name": "dev", "type": tarfile.CHRTYPE}, "device"),
])
def test_tar_refuses_members_escaping_the_target(tmp_path, member, why):
    name = member["name"]
    data = b"x" if member.get("type", tarfile.REGTYPE) == tarfile.REGTYPE else None
    archive = _tar(tmp_path / "bad.tar.gz", [({"name": "fine.txt"}, b"ok"), (member, data)])
    with pytest.raises(UnsafeArchive, match=why) as e:
        extract(archive, tmp_path / "out" / "target", progress=False)
    assert repr(name) in str(e.value)
    assert not (tmp_path / "out" / "target").exists()          # nothing half-extracted
    assert not (tmp_path / "out" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()
    assert not [p for p in (tmp_path / "out").iterdir()]       # temporary folder cleaned


def test_zip_refuses_traversal(tmp_path):
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as zf:
        zf.writestr("fine.txt", "ok")
        zf.writestr("../evil.txt", "x")
    with pytest.raises(UnsafeArchive, match=r"'\.\./evil\.txt' escapes"):
        extract(tmp_path / "bad.zip", tmp_path / "out", progress=False)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out").exists()


def test_not_an_archive(tmp_path):
    (tmp_path / "x.bin").write_bytes(b"hello")
    with pytest.raises(DownloadError, match="neither a tar nor a zip"):
        extract(tmp_path / "x.bin", tmp_path / "out")
