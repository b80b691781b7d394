"""Local stand-ins for the internet, on 127.0.0.1, for the pretrained-weights tests.

- :class:`FileServer`: plain HTTP files (a mirror; truncated bodies; HTML pages);
- :class:`HubStandIn`: the Hugging Face Hub's ``/{repo}/resolve/{revision}/{file}`` as
  ``huggingface_hub`` uses it (``HEAD``/``GET`` with ``X-Repo-Commit``, ``ETag``,
  ``X-Linked-Etag``, ``X-Linked-Size``, ``Content-Length``, ``Range``; the Hub's
  ``X-Error-Code`` on 404s). ``huggingface_hub`` reads ``HF_ENDPOINT`` when it is imported, so
  code using it runs in a subprocess whose environment has :meth:`HubStandIn.env`;
- :class:`DriveStandIn`: Google Drive behind an HTTPS proxy. gdown 6.5 always requests
  ``https://drive.google.com/uc?id=ID`` for a Drive file (``gdown.download(id=...)``, or a
  ``url=`` on drive.google.com/docs.google.com; any other host is a plain download without
  Drive's pages), through ``requests``, which takes ``HTTPS_PROXY`` and
  ``REQUESTS_CA_BUNDLE`` from the environment at each request. So the stand-in is a
  ``CONNECT`` proxy that answers the tunnel itself with TLS (a throw-away certificate for
  drive.google.com and drive.usercontent.google.com, made with ``openssl``), and serves Drive's
  flow: ``/uc`` redirects to drive.usercontent.google.com, which answers with the "can't scan
  for viruses" form, whose submission gets the file.
"""

import collections
import hashlib
import http.server
import os
import secrets
import shutil
import ssl
import subprocess
import threading
import time
import urllib.parse


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class _Server:
    """A threaded HTTP server on 127.0.0.1 with a handler class, stopped by :meth:`stop`."""

    def __init__(self, handler):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        self.port = self.httpd.server_address[1]
        self.hits = collections.Counter()
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={
            "poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.stopped = False

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        if not self.stopped:
            self.stopped = True
            self.httpd.shutdown()
            self.httpd.server_close()


class _Quiet(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def owner(self):
        return self.server.owner

    def log_message(self, *args):
        pass

    def send_body(self, status, body, headers=(), head=False, send=None):
        """``send``: bytes actually written (less than ``body``: a dropped connection)."""
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body if send is None else send)
            self.wfile.flush()
        if send is not None:
            self.close_connection = True


# ------------------------------------------------------------------------------------------

class FileServer(_Server):
    """Plain files by path: ``file(path, data, seconds=..., length=...)``."""

    def __init__(self):
        class Handler(_Quiet):
            def do_GET(self):
                path = urllib.parse.urlsplit(self.path).path
                self.owner.hits[path] += 1
                route = self.owner.routes.get(path)
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                route(self)

        self.routes = {}
        super().__init__(Handler)

    def file(self, path, data, ctype="application/octet-stream", seconds=0.0, length=None):
        """Serve ``data``; ``seconds``: spread over that long; ``length``: announce another
        Content-Length (larger: the body ends early, as a dropped connection)."""

        def send(h):
            h.send_response(200)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(data) if length is None else length))
            h.end_headers()
            pieces = 20 if seconds else 1
            step = max(1, -(-len(data) // pieces))
            for i in range(0, len(data), step):
                h.wfile.write(data[i:i + step])
                h.wfile.flush()
                if seconds:
                    time.sleep(seconds / pieces)
            h.close_connection = True

        self.routes[path] = send

    def truncated(self, path, data):
        self.file(path, data[: len(data) // 2], length=len(data))

    def html(self, path, body):
        self.file(path, body.encode(), ctype="text/html; charset=utf-8")


# ------------------------------------------------------------------------------------------

def _git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubStandIn(_Server):
    """Repositories ``{repo_id: {filename: bytes}}`` served as the Hub serves them.

    ``hits[("GET", "/org/name/resolve/main/file")]`` counts requests; ``unexpected`` lists
    requests for anything else. Per file: ``announce`` (a sha256 to announce instead of the
    real one: a lying or corrupting server), ``truncate_once`` (the first GET ends half-way;
    the client resumes with a ``Range`` request).
    """

    def __init__(self):
        class Handler(_Quiet):
            def do_HEAD(self):
                self.owner.answer(self, head=True)

            def do_GET(self):
                self.owner.answer(self, head=False)

        self.repos = {}
        self.options = {}
        self.unexpected = []
        super().__init__(Handler)

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def add(self, repo_id, files, **options):
        """Add (or extend) a repository; ``options`` apply to each file given here."""
        self.repos.setdefault(repo_id, {}).update(files)
        for name in files:
            self.options[(repo_id, name)] = dict(options)

    def add_folder(self, repo_id, folder):
        files = {}
        for root, _, names in os.walk(folder):
            for n in names:
                path = os.path.join(root, n)
                with open(path, "rb") as f:
                    files[os.path.relpath(path, folder).replace(os.sep, "/")] = f.read()
        self.add(repo_id, files)

    @staticmethod
    def commit(repo_id):
        return hashlib.sha1(repo_id.encode()).hexdigest()

    def env(self, hf_home):
        return {"HF_ENDPOINT": self.endpoint, "HF_HOME": str(hf_home),
                "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_XET": "1"}

    def answer(self, h, head):
        path = urllib.parse.urlsplit(h.path).path
        self.hits[(h.command, path)] += 1
        parts = path.lstrip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            self.unexpected.append(f"{h.command} {h.path}")
            h.send_body(404, b"", head=head)
            return
        repo_id = "/".join(parts[:2])
        revision, filename = urllib.parse.unquote(parts[3]), "/".join(parts[4:])
        files = self.repos.get(repo_id)
        if files is None:
            h.send_body(404, b"Repository not found", [("X-Error-Code", "RepoNotFound")], head)
            return
        commit = self.commit(repo_id)
        if revision not in ("main", commit):
            h.send_body(404, b"Revision not found", [("X-Error-Code", "RevisionNotFound")],
                        head)
            return
        if filename not in files:
            h.send_body(404, b"Entry not found", [("X-Error-Code", "EntryNotFound"),
                                                   ("X-Repo-Commit", commit)], head)
            return
        data = files[filename]
        options = self.options.get((repo_id, filename), {})
        lfs = not filename.endswith((".json", ".md", ".txt"))
        headers = [("X-Repo-Commit", commit), ("Accept-Ranges", "bytes"),
                   ("Content-Type", "application/octet-stream")]
        if lfs:
            announced = options.get("announce") or sha256(data)
            headers += [("ETag", f'"{announced}"'), ("X-Linked-Etag", f'"{announced}"'),
                        ("X-Linked-Size", str(len(data)))]
        else:
            headers.append(("ETag", f'"{_git_blob_sha1(data)}"'))
        start = 0
        ranged = h.headers.get("Range", "")
        if ranged.startswith("bytes=") and not head:
            start = int(ranged[len("bytes="):].partition("-")[0] or 0)
        if start:
            body = data[start:]
            headers.append(("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}"))
            h.send_body(206, body, headers)
            return
        if not head and options.get("truncate_once"):
            options["truncate_once"] = False
            h.send_body(200, data, headers, send=data[: len(data) // 2])
            return
        h.send_body(200, data, headers, head=head)


# ------------------------------------------------------------------------------------------

DRIVE_HOSTS = ("drive.google.com", "drive.usercontent.google.com")
QUOTA_PAGE = ("<!DOCTYPE html><html><head><title>Google Drive - Quota exceeded</title></head>"
              "<body><div class=\"uc-main\"><p class=\"uc-error-caption\">Sorry, you can't view or "
              "download this file at this time.</p>\n<p class=\"uc-error-subcaption\">Too many "
              "users have viewed or downloaded this file recently. Please try accessing the file "
              "again later. If the file you are trying to access is particularly large or is "
              "shared with many people, it may take up to 24 hours to be able to view or download "
              "the file.</p></div></body></html>")


def make_certificate(folder):
    """``(cert.pem, key.pem)``: a throw-away self-signed certificate for Drive's hosts."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the Drive stand-in needs the openssl command")
    cert, key = os.path.join(folder, "drive-cert.pem"), os.path.join(folder, "drive-key.pem")
    san = ",".join(f"DNS:{h}" for h in DRIVE_HOSTS)
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", f"/CN={DRIVE_HOSTS[0]}", "-addext",
                    f"subjectAltName={san}"], check=True, capture_output=True)
    return cert, key


class DriveStandIn(_Server):
    """Google Drive files ``{file_id: (filename, bytes)}`` behind an HTTPS ``CONNECT`` proxy.

    Use it with :meth:`env` in the environment (in-process with monkeypatch, or a
    subprocess's). ``hits[("file", id)]`` counts files served, ``hits[("page", id)]`` the
    confirmation pages; ``pages[id]`` replaces a file by an HTML page (Drive's quota page).
    """

    def __init__(self, folder):
        self.cert, key = make_certificate(folder)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        self.files, self.pages, self.refused = {}, {}, []
        self.seconds = 0.0

        class Drive(_Quiet):
            def do_GET(self):
                self.owner.answer(self)

        class Proxy(_Quiet):
            def do_CONNECT(self):
                host = self.path.rpartition(":")[0]
                if host not in DRIVE_HOSTS:
                    self.server.owner.refused.append(self.path)
                    self.send_error(403, "Forbidden")
                    return
                self.send_response(200, "Connection established")
                self.end_headers()
                try:
                    tls = context.wrap_socket(self.connection, server_side=True)
                except (ssl.SSLError, OSError):
                    self.close_connection = True
                    return
                Drive(tls, self.client_address, self.server)  # serves the tunnel until closed
                self.close_connection = True

        super().__init__(Proxy)

    def env(self):
        proxy = f"http://127.0.0.1:{self.port}"
        return {"HTTPS_PROXY": proxy, "https_proxy": proxy, "REQUESTS_CA_BUNDLE": self.cert,
                "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}

    def answer(self, h):
        host = h.headers.get("Host", "").partition(":")[0]
        parts = urllib.parse.urlsplit(h.path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        file_id = query.get("id")
        if host == "drive.google.com" and parts.path == "/uc":
            if file_id not in self.files and file_id not in self.pages:
                h.send_body(404, b"<html><title>Not Found</title></html>",
                            [("Content-Type", "text/html; charset=utf-8")])
                return
            location = ("https://drive.usercontent.google.com/download?"
                        + urllib.parse.urlencode({"id": file_id, "export": "download"}))
            h.send_body(303, b"", [("Location", location)])
            return
        if host != "drive.usercontent.google.com" or parts.path != "/download":
            h.send_body(404, b"", [("Content-Type", "text/html")])
            return
        if file_id in self.pages:
            self.hits[("page", file_id)] += 1
            h.send_body(200, self.pages[file_id].encode(),
                        [("Content-Type", "text/html; charset=utf-8")])
            return
        if query.get("confirm") != "t" or query.get("uuid") is None:
            self.hits[("page", file_id)] += 1
            uuid = secrets.token_hex(8)
            form = (
                "<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title>"
                "</head><body><p>Google Drive can't scan this file for viruses.</p>"
                '<form id="download-form" action="https://drive.usercontent.google.com/download"'
                ' method="get"><input type="submit" id="uc-download-link" value="Download '
                f'anyway"/><input type="hidden" name="id" value="{file_id}">'
                '<input type="hidden" name="export" value="download">'
                '<input type="hidden" name="confirm" value="t">'
                f'<input type="hidden" name="uuid" value="{uuid}"></form></body></html>')
            h.send_body(200, form.encode(), [("Content-Type", "text/html; charset=utf-8")])
            return
        filename, data = self.files[file_id]
        self.hits[("file", file_id)] += 1
        h.send_response(200)
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Disposition", f'attachment; filename="{filename}"')
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        pieces = 20 if self.seconds else 1
        step = max(1, -(-len(data) // pieces))
        for i in range(0, len(data), step):
            h.wfile.write(data[i:i + step])
            if self.seconds:
                time.sleep(self.seconds / pieces)
        h.wfile.flush()
