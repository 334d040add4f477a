"""A loopback HTTP file server with byte-range requests that counts the bytes it serves.

Serves the files of one folder at ``/files/<name>`` on 127.0.0.1 (an ephemeral port), answering
``Range: bytes=a-b`` with 206 and the slice, and redirects ``/api/assets/<name>/download/`` to
``/files/<name>`` (302) as the DANDI archive's API redirects an asset to its S3 object. Every
body byte written is counted (``served_bytes``), per request too (``log``), so tests can measure
what a lazy reader fetched. ``latency_s`` delays every answer and ``bytes_per_s`` paces every body,
to stand in for a real network's round trip and bandwidth.
"""

from __future__ import annotations

import http.server
import re
import threading
import time
from pathlib import Path

_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else headers and body wait on delayed ACKs (40 ms each)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _send_body(self, body: bytes) -> None:
        if self.server.bytes_per_s:
            time.sleep(len(body) / self.server.bytes_per_s)
        self.wfile.write(body)
        with self.server.lock:
            self.server.served_bytes += len(body)
            self.server.log.append((self.path, len(body)))

    def _target(self) -> Path | None:
        path = self.path.split("?", 1)[0]
        if not path.startswith("/files/"):
            return None
        target = self.server.root / path[len("/files/") :]
        return target if target.is_file() else None

    def do_HEAD(self) -> None:  # noqa: N802 - the http.server API
        self._answer(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(head=False)

    def _answer(self, head: bool) -> None:
        with self.server.lock:
            self.server.n_requests += 1
        if self.server.latency_s:
            time.sleep(self.server.latency_s)
        asset = re.match(r"/api/assets/([^/]+)/download/?$", self.path)
        if asset:
            self.send_response(302)
            self.send_header("Location", f"/files/{asset.group(1)}?signature=x")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        target = self._target()
        if target is None:
            self.send_error(404, "not found")
            return
        size = target.stat().st_size
        match = _RANGE.match(self.headers.get("Range", ""))
        if match:
            start = int(match.group(1))
            stop = min(int(match.group(2)) if match.group(2) else size - 1, size - 1)
            if start >= size or stop < start:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with open(target, "rb") as fh:
                fh.seek(start)
                body = fh.read(stop + 1 - start)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{stop}/{size}")
        else:
            body = target.read_bytes()
            self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/x-hdf5")
        self.send_header("Content-Disposition", f'attachment; filename="{target.name}"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self._send_body(body)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, latency_s: float = 0.0, bytes_per_s: float | None = None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = Path(root)
        self.latency_s = latency_s
        self.bytes_per_s = bytes_per_s
        self.lock = threading.Lock()
        self.served_bytes = 0
        self.n_requests = 0
        self.log: list[tuple[str, int]] = []


class RangeServer:
    """Serve ``root`` on 127.0.0.1 in a background thread; use as a context manager.

    Attributes
    ----------
    url : str
        ``http://127.0.0.1:<port>``.
    served_bytes : int
        Body bytes written since the last :meth:`reset`.
    n_requests : int
        Requests answered since the last :meth:`reset`.
    """

    def __init__(
        self, root: Path, latency_s: float = 0.0, bytes_per_s: float | None = None
    ) -> None:
        self._server = _Server(root, latency_s, bytes_per_s)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> RangeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def file_url(self, name: str) -> str:
        return f"{self.url}/files/{name}"

    def asset_url(self, name: str) -> str:
        return f"{self.url}/api/assets/{name}/download/"

    @property
    def served_bytes(self) -> int:
        return self._server.served_bytes

    @property
    def n_requests(self) -> int:
        return self._server.n_requests

    def reset(self) -> None:
        with self._server.lock:
            self._server.served_bytes = 0
            self._server.n_requests = 0
            self._server.log.clear()
