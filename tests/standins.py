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
- :class:`World`: a Hub and a Drive stand-in serving the packaged registry's two imagenet
  sources (rexnet_150 on the Hub, rexnet_lite_100 on Drive), private caches, and client
  processes (any interpreter, e.g. another venv's; any Keras backend) that build models.
"""

import collections
import hashlib
import http.server
import json
import os
import pathlib
import secrets
import shutil
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

import numpy as np


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
        """Serve ``data`` (bytes, or a function that makes them, called once at the first
        request); ``seconds``: spread over that long; ``length``: announce another
        Content-Length (larger: the body ends early, as a dropped connection)."""
        if callable(data):
            made, lock, make = [], threading.Lock(), data

            def data_now():
                with lock:
                    if not made:
                        made.append(make())
                return made[0]
        else:
            def data_now():
                return data

        def send(h):
            data = data_now()
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


# ------------------------------------------------------------------------------------------
# The packaged registry's two imagenet sources served by the stand-ins, and a client process.

LITE_DRIVE_ID = "1d9G4pLwZwkoDR2TRPCQlxiWiuC7R-Oqf"  # the packaged rexnet_lite_100 source
LITE_DRIVE_URL = f"https://drive.google.com/uc?export=download&id={LITE_DRIVE_ID}"
V150_REPO = "timm/rexnet_150.nav_in1k"  # the packaged rexnet_150's first source
V150_URL = f"https://huggingface.co/{V150_REPO}/resolve/main/model.safetensors"
V150_GET = ("GET", f"/{V150_REPO}/resolve/main/model.safetensors")
TIMM_CONFIG = json.dumps({"architecture": "rexnet_150", "num_classes": 1000,
                          "num_features": 1920}).encode()

# Builds each step's model (create_model, or a builder with "builder"/"width") and saves what
# the step asks: "logits" (its outputs on the official vectors' input) and/or "weights" (every
# weight, by layer); a ValueError is reported with its type, message and manual_path.
# "_process": which of WATCHED the process had imported at the end, which of INSTALLED it could
# import, where keras_rexnet came from and the Keras backend.
CLIENT = r"""
import importlib.util, json, sys
import numpy as np
import keras_rexnet
WATCHED = ("torch", "tensorflow", "timm", "jax", "keras_rexnet.converters.oracle")
INSTALLED = ("torch", "torchvision", "tensorflow", "timm", "jax")
plan = json.loads(sys.argv[1])
result = {}
for step in plan["steps"]:
    kwargs = dict(include_preprocessing=False, classifier_activation=None, **step.get("kwargs", {}))
    try:
        if "builder" in step:
            model = getattr(keras_rexnet, step["builder"])(step["width"], **kwargs)
        else:
            model = keras_rexnet.create_model(step["model"], **kwargs)
    except ValueError as e:
        result[step["id"]] = {"type": type(e).__name__, "message": str(e),
                              "manual_path": getattr(e, "manual_path", None)}
        continue
    out = {}
    if "logits" in step.get("save", ()):
        out["logits"] = np.asarray(model.predict(np.load(plan["input"]), verbose=0))
    if "weights" in step.get("save", ("weights",)):
        for layer in model.layers:
            for i, w in enumerate(layer.get_weights()):
                out[f"{layer.name}/{i}"] = w
    np.savez(f"{plan['out']}/{step['id']}.npz", **out)
    result[step["id"]] = None
loaded = [m for m in WATCHED if m in sys.modules]  # before anything below imports more
print(f"torch in sys.modules: {'torch' in sys.modules}")
result["_process"] = {
    "loaded": loaded,
    "installed": [m for m in INSTALLED if importlib.util.find_spec(m) is not None],
    "files": {m: getattr(sys.modules.get(m), "__file__", None)
              for m in ("keras_rexnet", "keras_rexnet.converters")},
    "backend": sys.modules["keras"].backend.backend() if "keras" in sys.modules else None,
    "executable": sys.executable}
print("RESULT " + json.dumps(result))
"""


class World:
    """The stand-ins serving the packaged registry's rexnet_150 (Hub) and rexnet_lite_100
    (Drive) sources, a private KERAS_HOME and Hugging Face cache, and client processes run by
    ``python`` (default: this interpreter) on Keras' ``backend``.

    ``published``: ``{"v150": timm's safetensors, "lite": NAVER's .pth, "input": .npy}`` (the
    ``published`` fixture of tests/common/conftest.py).
    """

    def __init__(self, tmp_path, published, python=None, backend="numpy"):
        self.tmp, self.published = tmp_path, published
        self.python, self.backend = python or sys.executable, backend
        self.hub = HubStandIn()
        self.drive = DriveStandIn(str(tmp_path))
        self.keras_home = tmp_path / "keras_home"
        self.hf_home = tmp_path / "hf_home"
        self.hub.add(V150_REPO, {"model.safetensors": published["v150"].read_bytes(),
                                 "config.json": TIMM_CONFIG})
        self.drive.files[LITE_DRIVE_ID] = ("rexnet_lite_1.0.pth", published["lite"].read_bytes())
        self.runs = 0

    @property
    def cache(self):
        return self.keras_home / "models" / "keras_rexnet"

    def env(self, **extra):
        """This process's environment without Hugging Face, registry, proxy or Python path
        settings, with the stand-ins' and the private caches'."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("HF_", "HUGGING", "KERAS_REXNET", "PYTHON")) and
               k.lower() not in ("https_proxy", "http_proxy", "all_proxy", "no_proxy")}
        env.update(self.hub.env(self.hf_home), **self.drive.env(), KERAS_HOME=str(self.keras_home),
                   KERAS_BACKEND=self.backend, TF_CPP_MIN_LOG_LEVEL="3", PYTHONNOUSERSITE="1")
        env.update(extra)
        return env

    def run(self, steps, **env):
        """Build each step's model in one new process; ``{id: outputs or error dict}``, and
        ``"_process"``, ``"stdout"``, ``"stderr"``. The client is a script in ``tmp_path``, run
        there (so nothing is imported from the current folder)."""
        self.runs += 1
        out = self.tmp / f"run{self.runs}"
        out.mkdir()
        client = self.tmp / "client.py"
        if not client.exists():
            client.write_text(CLIENT)
        plan = {"input": str(self.published["input"]), "out": str(out), "steps": steps}
        proc = subprocess.run([self.python, str(client), json.dumps(plan)], env=self.env(**env),
                              cwd=self.tmp, capture_output=True, text=True, timeout=900,
                              check=False)
        assert proc.returncode == 0, proc.stderr[-4000:]
        line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        assert line, proc.stdout[-3000:] + proc.stderr[-3000:]
        results = json.loads(line[-1][len("RESULT "):])
        for key, value in results.items():
            if value is None:
                with np.load(out / f"{key}.npz") as saved:
                    results[key] = dict(saved)
        results["stdout"], results["stderr"] = proc.stdout, proc.stderr
        return results

    def stop(self):
        self.hub.stop()
        self.drive.stop()


def files_under(folder):
    """Files in ``folder``, but for the lock files that filelock keeps in ``.locks``."""
    folder = pathlib.Path(folder)
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() and p.parent.name != ".locks") if folder.is_dir() else []


def hub_cached_files(hf_home):
    """Files the Hugging Face cache holds (blobs and snapshot entries; not refs or locks)."""
    return [f for f in files_under(pathlib.Path(hf_home) / "hub")
            if "/blobs/" in f or "/snapshots/" in f]


def max_diff(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max())


def same_weights(got, want):
    """``got``'s weights (a model's, by layer) are exactly ``want``'s (a model with the same
    layers or more); returns how many arrays were compared."""
    weights = {k: v for k, v in got.items() if k != "logits"}
    assert weights and set(weights) <= set(want), sorted(set(weights) - set(want))[:5]
    for key, value in weights.items():
        np.testing.assert_array_equal(value, want[key], err_msg=key)
    return len(weights)
