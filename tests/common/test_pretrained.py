"""weights="imagenet": registry, download, verification, conversion, cache (issue 4).

Nothing here reaches the internet: every download comes from an HTTP server on 127.0.0.1
started by these tests, through ``KERAS_REXNET_REGISTRY``, and serves seeded checkpoints
whose official outputs are stored in ``tests/data/vectors``.
"""

import collections
import hashlib
import http.server
import json
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

import numpy as np
import pytest

import keras_rexnet
from helpers import VECTORS, official_state, save_pth
from keras_rexnet import pretrained
from keras_rexnet import spec as specs
from keras_rexnet.converters.layouts import LAYOUTS, table
from keras_rexnet.pretrained import PretrainedError, pretrained_cfg

V1_VECTORS = VECTORS / "rexnetv1_1.0_s1_224x224.npz"
LITE_VECTORS = VECTORS / "rexnet_lite_1.0_s1_224x224.npz"
DRIVE_ID = "1d9G4pLwZwkoDR2TRPCQlxiWiuC7R-Oqf"
HF_PATH = "/timm/rexnet_100.nav_in1k/resolve/main/model.safetensors"


# ------------------------------------------------------------------------------------------
# Seeded checkpoints, as the published files would be.

@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """``{"v1_timm": bytes, "lite": bytes}``: the seeded rexnetv1_1.0 checkpoint behind the
    official vectors, re-keyed to timm's layout and saved as safetensors (as timm's Hugging
    Face files are), and the seeded official ReXNet-lite 1.0 .pth (as NAVER's Drive files)."""
    from safetensors.numpy import save_file

    folder = tmp_path_factory.mktemp("published")
    spec = specs.spec_by_name("rexnet_100")
    state = official_state("rexnetv1_1.0", 1)
    timm_state = {}
    for src, dst in zip(table(spec, "official_v1"), table(spec, "timm")):
        assert src.layer == dst.layer
        for (skey, _), (dkey, dshape) in zip(src.tensors(), dst.tensors()):
            timm_state[dkey] = np.ascontiguousarray(
                np.asarray(state[skey], np.float32).reshape(dshape))
    assert len(timm_state) == sum(1 for k in state if not k.endswith("num_batches_tracked"))
    save_file(timm_state, str(folder / "model.safetensors"))
    save_pth(official_state("rexnet_lite_1.0", 1), folder / "rexnet_lite_1.0.pth")
    return {"v1_timm": (folder / "model.safetensors").read_bytes(),
            "lite": (folder / "rexnet_lite_1.0.pth").read_bytes()}


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------------------------
# A local HTTP server imitating Hugging Face (redirect announcing the LFS sha256) and
# Google Drive (an HTML confirmation form in front of the file).

class Server:
    def __init__(self):
        self.routes = {}
        self.hits = collections.Counter()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                parts = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parts.query))
                server.hits[parts.path] += 1
                route = server.routes.get(parts.path)
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                route(self, query)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # routes ---------------------------------------------------------------------------
    def file(self, path, data, ctype="application/octet-stream", seconds=0.0, length=None):
        """Serve ``data``; ``seconds``: spread over that long; ``length``: announce another
        Content-Length (larger: the body ends early, as a dropped connection)."""

        def send(h, query):
            h.send_response(200)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(data) if length is None else length))
            h.end_headers()
            pieces = 20 if seconds else 1
            step = -(-len(data) // pieces)
            for i in range(0, len(data), step):
                h.wfile.write(data[i:i + step])
                h.wfile.flush()
                if seconds:
                    time.sleep(seconds / pieces)
            h.close_connection = True

        self.routes[path] = send

    def truncated(self, path, data):
        self.file(path, data[: len(data) // 2], length=len(data))

    def huggingface(self, path, data, announced_sha=None):
        """``path`` redirects to a CDN path, announcing the sha256 and size as HF does."""
        cdn = f"/cdn/{sha256(data)}"
        self.file(cdn, data)

        def redirect(h, query):
            h.send_response(302)
            h.send_header("Location", cdn)
            h.send_header("X-Linked-Etag", f'"{announced_sha or sha256(data)}"')
            h.send_header("X-Linked-Size", str(len(data)))
            h.send_header("Content-Length", "0")
            h.end_headers()

        self.routes[path] = redirect

    def drive(self, file_id, data, seconds=0.0):
        """``/uc?export=download&id=...`` answers with Drive's "can't scan for viruses" form;
        only its submission (all hidden inputs) gets the file."""
        uuid = "6b3e0c2a-seeded"

        def page(h, query):
            if query.get("id") != file_id or query.get("export") != "download":
                h.send_error(404)
                return
            body = (f'<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning'
                    f'</title></head><body><p>Google Drive can\'t scan this file for viruses.'
                    f'</p><form id="download-form" action="{self.url("/download")}" '
                    f'method="get"><input type="submit" value="Download anyway"/>'
                    f'<input type="hidden" name="id" value="{file_id}">'
                    f'<input type="hidden" name="export" value="download">'
                    f'<input type="hidden" name="confirm" value="t">'
                    f'<input type="hidden" name="uuid" value="{uuid}"></form></body></html>')
            body = body.encode()
            h.send_response(200)
            h.send_header("Content-Type", "text/html; charset=utf-8")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)

        self.file("/blob", data, seconds=seconds)
        blob = self.routes.pop("/blob")

        def download(h, query):
            wanted = {"id": file_id, "export": "download", "confirm": "t", "uuid": uuid}
            if query != wanted:
                h.send_error(403, "Forbidden")
                return
            blob(h, query)

        self.routes["/uc"] = page
        self.routes["/download"] = download

    def html(self, path, body):
        self.file(path, body.encode(), ctype="text/html; charset=utf-8")


@pytest.fixture
def server():
    s = Server()
    yield s
    s.stop()


def refused_url():
    """A URL on 127.0.0.1 where nothing listens."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/rexnet_lite_1.0.pth"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A private KERAS_HOME and registry override file for one test."""
    keras_home = tmp_path / "keras_home"
    keras_home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    registry = tmp_path / "registry.json"
    monkeypatch.setenv("KERAS_REXNET_REGISTRY", str(registry))

    def write(entries):
        registry.write_text(json.dumps(entries))

    return keras_home, registry, write


def files_under(folder):
    return sorted(p.relative_to(folder).as_posix() for p in pathlib.Path(folder).rglob("*")
                  if p.is_file())


def cache_files(keras_home):
    return files_under(pathlib.Path(keras_home) / "models" / "keras_rexnet") \
        if (pathlib.Path(keras_home) / "models" / "keras_rexnet").is_dir() else []


def logits_model(name, **kwargs):
    return keras_rexnet.create_model(name, weights="imagenet", include_preprocessing=False,
                                     classifier_activation=None, **kwargs)


def max_diff(model, vectors, key="logits"):
    v = np.load(vectors)
    out = model.predict(v["input_nchw"].transpose(0, 2, 3, 1), verbose=0)
    return float(np.abs(np.asarray(out) - v[key]).max())


# A second process: loads from the cache only (the server is gone), with and without the top.
SECOND_PROCESS = r"""
import json, sys
import numpy as np
import keras_rexnet
name, vectors = sys.argv[1], sys.argv[2]
v = np.load(vectors)
x = v["input_nchw"].transpose(0, 2, 3, 1)
full = keras_rexnet.create_model(name, weights="imagenet", include_preprocessing=False,
                                 classifier_activation=None)
top = float(np.abs(full.predict(x, verbose=0) - v["logits"]).max())
body = keras_rexnet.create_model(name, weights="imagenet", include_preprocessing=False,
                                 include_top=False, pooling="avg")
pooled = float(np.abs(body.predict(x, verbose=0) - v["pooled"]).max())
print("RESULT " + json.dumps({"logits": top, "pooled": pooled,
                              "layers": len(body.layers), "full_layers": len(full.layers)}))
"""


def run_python(code, *args, env=None, timeout=600):
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], env=full_env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def result_of(proc):
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert line, proc.stdout[-2000:]
    return json.loads(line[-1][len("RESULT "):])


# ------------------------------------------------------------------------------------------
# The registry and pretrained_cfg.

def test_registry_has_every_timm_rexnet_weight_with_timms_cfg():
    """Every pretrained rexnet*/rexnetr* tag of the installed timm is in the registry, with
    timm's Hugging Face file and timm's preprocessing config."""
    import timm

    tagged = [n for n in timm.list_pretrained("rexnet*")]
    assert len(tagged) >= 9
    entries = pretrained.registry()
    for name in tagged:
        cfg = timm.models.get_pretrained_cfg(name).to_dict()
        if not cfg.get("hf_hub_id"):
            continue
        hub_id = cfg["hf_hub_id"]
        if hub_id.endswith("/"):  # timm's shorthand: "timm/" + the tagged name
            hub_id += name
        assert name in entries, name
        ours = pretrained_cfg(name)
        url = f"https://huggingface.co/{hub_id}/resolve/main/model.safetensors"
        assert ours["urls"][0] == url
        assert ours["sources"][0]["layout"] == "timm"
        assert ours["num_classes"] == cfg["num_classes"]
        assert ours["input_size"] == tuple(cfg["input_size"][1:])
        assert ours.get("test_input_size") == (tuple(cfg["test_input_size"][1:])
                                               if "test_input_size" in cfg else None)
        assert ours["crop_pct"] == cfg["crop_pct"]
        assert ours.get("test_crop_pct") == cfg.get("test_crop_pct")
        assert ours["interpolation"] == cfg["interpolation"]
        assert ours["crop_mode"] == cfg["crop_mode"]
        np.testing.assert_allclose(ours["mean"], cfg["mean"])
        np.testing.assert_allclose(ours["std"], cfg["std"])
        assert ours["license"] == cfg["license"]
        assert ours["model"] == name.partition(".")[0]  # tests/common/test_spec.py: same net


def test_registry_entries_are_well_formed():
    entries = pretrained.registry()
    defaults = collections.Counter(e["model"] for e in entries.values() if e.get("default"))
    assert max(defaults.values()) == 1  # one default per model
    assert set(defaults) == {f"rexnet_{w}" for w in ("100", "130", "150", "200", "300")} | \
        {f"rexnet_lite_{w}" for w in ("100", "130", "150", "200")} | {"rexnetr_200", "rexnetr_300"}
    drive = 0
    for key, e in entries.items():
        assert e["model"] in keras_rexnet.list_models()
        assert key.partition(".")[0] == e["model"]
        assert e["sources"], key
        for s in e["sources"]:
            assert s["url"].startswith("https://"), s
            assert s["layout"] in LAYOUTS
            assert s["sha256"] is None or len(s["sha256"]) == 64
            assert s.get("sha256_prefix") is None or len(s["sha256_prefix"]) == 8
            family = specs.MODEL_NAMES[e["model"]][0]
            assert family == {"timm": "rexnet_v1", "official_v1": "rexnet_v1",
                              "official_lite": "rexnet_lite"}[s["layout"]]
            if "drive.google.com" in s["url"]:
                drive += 1
                assert s["filename"].endswith(".pth")
                assert s["url"].startswith("https://drive.google.com/uc?export=download&id=")
    assert drive == 9  # the official ReXNetV1 1.0/1.3/1.5/2.0/3.0 and lite 1.0/1.3/1.5/2.0


def test_pretrained_cfg():
    cfg = pretrained_cfg("rexnet_150")
    assert cfg["name"] == "rexnet_150.nav_in1k" and cfg["model"] == "rexnet_150"
    assert cfg["input_size"] == (224, 224) and cfg["crop_pct"] == 0.875
    assert cfg["mean"] == specs.IMAGENET_MEAN and cfg["std"] == specs.IMAGENET_STD
    assert len(cfg["urls"]) == 3 and "huggingface.co" in cfg["urls"][0]
    assert "drive.google.com" in cfg["urls"][1]
    assert cfg["top1"][:2] == [80.308, 80.3]
    lite = pretrained_cfg("rexnet_lite_200")
    assert lite["urls"][0].startswith("https://drive.google.com/") and lite["top1"] == [80.2]
    r = pretrained_cfg("rexnetr_300")
    assert r["name"] == "rexnetr_300.sw_in12k_ft_in1k" and r["test_input_size"] == (288, 288)
    assert pretrained_cfg("rexnetr_300.sw_in12k")["num_classes"] == 11821
    cfg["mean"] = None  # a copy: the registry is not changed
    assert pretrained_cfg("rexnet_150")["mean"] == specs.IMAGENET_MEAN
    for name in ("rexnet_090", "rexnetr_100", "rexnet_plain_100"):
        with pytest.raises(PretrainedError, match="no pretrained weights are published"):
            pretrained_cfg(name)
    with pytest.raises(ValueError, match="rexnetr_200.sw_in12k"):
        pretrained_cfg("rexnetr_200.in22k")
    with pytest.raises(ValueError, match="unknown model"):
        pretrained_cfg("resnet50")


def test_registry_override(home):
    _, registry, write = home
    write({"_comment": "a mirror", "rexnet_100": {"url": "https://mirror.example/r100.safetensors",
                                                  "sha256": "AB" * 32},
           "rexnet_090": {"url": "https://mirror.example/r090.pth", "crop_pct": 0.9}})
    cfg = pretrained_cfg("rexnet_100")
    assert cfg["urls"] == ["https://mirror.example/r100.safetensors"]
    assert cfg["sha256"] == ["ab" * 32]
    assert cfg["crop_pct"] == 0.875  # the rest of the packaged entry stays
    extra = pretrained_cfg("rexnet_090")
    assert extra["urls"] == ["https://mirror.example/r090.pth"] and extra["crop_pct"] == 0.9
    assert extra["num_classes"] == 1000
    for bad, match in [({"rexnet_100": {"url": "x", "sha256": "123"}}, "64 hex"),
                       ({"rexnet_100": "https://x"}, "expected an object"),
                       ({"resnet_50": {"url": "https://x"}}, "unknown model"),
                       ({"rexnet_100": {"sha256": "ab" * 32}}, "need the 'url'")]:
        write(bad)
        with pytest.raises(PretrainedError, match=match):
            pretrained_cfg("rexnet_100")
    registry.write_text("{not json")
    with pytest.raises(PretrainedError, match="not valid JSON"):
        pretrained_cfg("rexnet_100")


def test_no_weights_for_unpublished_configurations():
    with pytest.raises(ValueError, match="no pretrained weights are published for rexnet_090"):
        keras_rexnet.ReXNetV1(0.9, weights="imagenet")
    with pytest.raises(ValueError, match="classes"):
        keras_rexnet.create_model("rexnet_100", weights="imagenet", classes=10)


# ------------------------------------------------------------------------------------------
# Download, convert, cache: the acceptance checks.

@pytest.mark.parametrize("flow", ["huggingface", "drive"])
def test_first_call_downloads_converts_then_second_process_reads_cache(
        flow, server, home, checkpoints):
    keras_home, registry, write = home
    if flow == "huggingface":  # timm layout, safetensors, no pinned hash: HF's redirect's
        name, vectors, data = "rexnet_100", V1_VECTORS, checkpoints["v1_timm"]
        server.huggingface(HF_PATH, data)
        write({name: {"url": server.url(HF_PATH)}})
        served = f"/cdn/{sha256(data)}"
    else:  # official layout .pth behind Drive's confirmation form, sha256 pinned
        name, vectors, data = "rexnet_lite_100", LITE_VECTORS, checkpoints["lite"]
        server.drive(DRIVE_ID, data)
        write({name: {"url": server.url(f"/uc?export=download&id={DRIVE_ID}"),
                      "filename": "rexnet_lite_1.0.pth", "sha256": sha256(data)}})
        served = "/download"

    model = logits_model(name)
    assert max_diff(model, vectors) <= 1e-4
    assert server.hits[served] == 1
    files = cache_files(keras_home)
    sources = [f for f in files if not f.endswith(".weights.h5")]
    converted = [f for f in files if f.endswith(".weights.h5")]
    assert len(sources) == 1 and len(converted) == 1, files  # no temporary or lock files
    assert hashlib.sha256((keras_home / "models/keras_rexnet" / sources[0]).read_bytes()) \
        .hexdigest() == sha256(data)
    assert sha256(data)[:16] in converted[0]
    assert f"c{pretrained.CONVERTER_VERSION}-k{keras_rexnet.__version__}" in converted[0]

    # From the cache, in this process: a non-224 input_shape warns, as keras.applications.
    with pytest.warns(UserWarning, match="224x224"):
        keras_rexnet.create_model(name, weights="imagenet", input_shape=(160, 160, 3))
    assert server.hits[served] == 1

    server.stop()
    stamps = {f: (keras_home / "models/keras_rexnet" / f).stat().st_mtime_ns for f in files}
    proc = run_python(SECOND_PROCESS, name, vectors,
                      env={"KERAS_HOME": str(keras_home), "KERAS_REXNET_REGISTRY": str(registry)})
    out = result_of(proc)
    assert out["logits"] <= 1e-4 and out["pooled"] <= 1e-4
    assert out["layers"] < out["full_layers"]  # include_top=False really has no classifier
    assert "Downloading" not in proc.stdout and "Converting" not in proc.stdout
    assert cache_files(keras_home) == files
    assert {f: (keras_home / "models/keras_rexnet" / f).stat().st_mtime_ns for f in files} \
        == stamps


def _failing(case, server, checkpoints, write):
    """Set up one broken source for rexnet_lite_100; returns (URL, expected message part)."""
    data = checkpoints["lite"]
    if case == "wrong_sha256":
        server.file("/lite.pth", data)
        write({"rexnet_lite_100": {"url": server.url("/lite.pth"), "sha256": "0" * 64}})
        return server.url("/lite.pth"), "sha256 mismatch"
    if case == "truncated":
        server.truncated("/lite.pth", data)
        write({"rexnet_lite_100": {"url": server.url("/lite.pth")}})
        return server.url("/lite.pth"), "truncated download"
    if case == "404":
        write({"rexnet_lite_100": {"url": server.url("/missing.pth")}})
        return server.url("/missing.pth"), "HTTP error 404"
    if case == "refused":
        url = refused_url()
        write({"rexnet_lite_100": {"url": url}})
        return url, "cannot connect (Connection refused)"
    if case == "announced_sha256":  # Hugging Face announces another hash than it serves
        server.huggingface("/hf/model.safetensors", data, announced_sha="1" * 64)
        write({"rexnet_lite_100": {"url": server.url("/hf/model.safetensors")}})
        return server.url("/hf/model.safetensors"), "the server announced"
    if case == "quota_page":
        server.html("/uc", "<html><head><title>Google Drive - Quota exceeded</title></head>"
                           "<body>Too many users have viewed or downloaded this file recently."
                           "</body></html>")
        write({"rexnet_lite_100": {"url": server.url("/uc?export=download&id=x")}})
        return server.url("/uc?export=download&id=x"), "quota exceeded"
    if case == "not_a_checkpoint":
        server.file("/lite.pth", b"PK\x03\x04 this is not a checkpoint" * 100)
        write({"rexnet_lite_100": {"url": server.url("/lite.pth")}})
        return server.url("/lite.pth"), "does not convert"
    if case == "wrong_model":  # a valid checkpoint of another model
        server.file("/lite.pth", checkpoints["v1_timm"])
        write({"rexnet_lite_100": {"url": server.url("/lite.pth"),
                                   "filename": "x.safetensors"}})
        return server.url("/lite.pth"), "does not convert"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["wrong_sha256", "truncated", "404", "refused",
                                  "announced_sha256", "quota_page", "not_a_checkpoint",
                                  "wrong_model"])
def test_failures_raise_one_clear_error_and_leave_nothing(case, server, home, checkpoints):
    keras_home, _, write = home
    url, cause = _failing(case, server, checkpoints, write)
    with pytest.raises(PretrainedError) as info:
        keras_rexnet.ReXNetV1Lite(1.0, weights="imagenet")
    e = info.value
    message = str(e)
    assert isinstance(e, ValueError) and "\n" not in message
    assert url in message and cause in message, message
    cache = keras_home / "models" / "keras_rexnet"
    assert e.manual_path and pathlib.Path(e.manual_path).parent == cache
    assert e.manual_path in message and "weights='/path/to/checkpoint'" in message
    assert files_under(keras_home) == []


def test_a_manually_downloaded_file_goes_where_the_error_says(home, checkpoints):
    """After a failed download, the file put where the message says is checked, converted
    and used with no network."""
    keras_home, _, write = home
    data = checkpoints["lite"]
    write({"rexnet_lite_100": {"url": refused_url(), "sha256": sha256(data)}})
    with pytest.raises(PretrainedError) as info:
        keras_rexnet.ReXNetV1Lite(1.0, weights="imagenet")
    pathlib.Path(info.value.manual_path).write_bytes(data[:-10])  # a damaged copy: refused
    with pytest.raises(PretrainedError, match="cannot connect"):
        keras_rexnet.ReXNetV1Lite(1.0, weights="imagenet")
    assert files_under(keras_home) == []
    pathlib.Path(info.value.manual_path).write_bytes(data)
    model = logits_model("rexnet_lite_100")
    assert max_diff(model, LITE_VECTORS) <= 1e-4


def test_damaged_cache_file_is_converted_again(server, home, checkpoints):
    keras_home, _, write = home
    data = checkpoints["lite"]
    server.file("/lite.pth", data)
    write({"rexnet_lite_100": {"url": server.url("/lite.pth"), "sha256": sha256(data)}})
    path = pretrained.fetch_weights("rexnet_lite_100", verbose=False)
    assert path.name.endswith(".weights.h5") and server.hits["/lite.pth"] == 1
    assert pretrained.fetch_weights("rexnet_lite_100", verbose=False) == path  # cached
    path.write_bytes(path.read_bytes()[:1000])
    server.stop()  # the cached source suffices
    model = logits_model("rexnet_lite_100")
    assert max_diff(model, LITE_VECTORS) <= 1e-4
    assert len(cache_files(keras_home)) == 2


RACER = r"""
import json, pathlib, sys, time
import numpy as np
import keras_rexnet
me, other, vectors = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
me.touch()
deadline = time.time() + 300
while not other.exists() and time.time() < deadline:  # start fetching together
    time.sleep(0.01)
model = keras_rexnet.create_model("rexnet_lite_100", weights="imagenet",
                                  include_preprocessing=False, classifier_activation=None)
v = np.load(vectors)
out = model.predict(v["input_nchw"].transpose(0, 2, 3, 1), verbose=0)
print("RESULT " + json.dumps({"logits": float(np.abs(out - v["logits"]).max())}))
"""


def test_two_processes_race_for_the_same_model(server, home, checkpoints, tmp_path):
    keras_home, registry, write = home
    data = checkpoints["lite"]
    server.drive(DRIVE_ID, data, seconds=1.5)  # a slow download: the other process arrives
    write({"rexnet_lite_100": {"url": server.url(f"/uc?export=download&id={DRIVE_ID}"),
                               "filename": "rexnet_lite_1.0.pth"}})
    env = dict(os.environ, KERAS_HOME=str(keras_home), KERAS_REXNET_REGISTRY=str(registry))
    a, b = tmp_path / "a.ready", tmp_path / "b.ready"
    procs = [subprocess.Popen([sys.executable, "-c", RACER, str(me), str(other),
                               str(LITE_VECTORS)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for me, other in ((a, b), (b, a))]
    results = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=600)
        results.append(result_of(subprocess.CompletedProcess(p.args, p.returncode, stdout,
                                                             stderr)))
    assert all(r["logits"] <= 1e-4 for r in results)
    files = cache_files(keras_home)
    assert len(files) == 2 and sum(f.endswith(".weights.h5") for f in files) == 1, files
    assert server.hits["/download"] == 1  # the second process waited and used the cache
    source = next(f for f in files if f.endswith(".pth"))
    assert sha256((keras_home / "models/keras_rexnet" / source).read_bytes()) == sha256(data)


KILLED = r"""
from keras_rexnet import pretrained
pretrained.fetch_weights("rexnet_lite_100")
"""


def test_a_killed_download_leaves_nothing_usable_and_the_next_call_recovers(
        server, home, checkpoints):
    """SIGKILL in the middle of a download: only a hidden temporary file remains (never
    a file under the final name), and the next call removes it and fills the cache."""
    keras_home, registry, write = home
    data = checkpoints["lite"]
    server.file("/lite.pth", data, seconds=30.0)
    write({"rexnet_lite_100": {"url": server.url("/lite.pth")}})
    env = dict(os.environ, KERAS_HOME=str(keras_home), KERAS_REXNET_REGISTRY=str(registry))
    proc = subprocess.Popen([sys.executable, "-c", KILLED], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    cache = keras_home / "models" / "keras_rexnet"
    deadline = time.time() + 120
    while time.time() < deadline and not any(
            p.stat().st_size > 0 for p in cache.glob("*.part")) and proc.poll() is None:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    left = cache_files(keras_home)
    assert any(f.endswith(".part") for f in left), left  # it was killed mid-download
    assert all(f.startswith(".") for f in left), left  # nothing under a final name
    server.file("/lite.pth", data)
    model = logits_model("rexnet_lite_100")
    assert max_diff(model, LITE_VECTORS) <= 1e-4
    files = cache_files(keras_home)
    assert len(files) == 2 and not any(f.startswith(".") for f in files), files


def test_classes_of_the_entry_must_match_the_model(home):
    _, _, write = home
    write({"rexnet_lite_100": {"url": refused_url(), "num_classes": 10}})
    with pytest.raises(PretrainedError, match="has 10 classes"):
        keras_rexnet.ReXNetV1Lite(1.0, weights="imagenet")


def test_tagged_entries_with_other_classes(server, home, tmp_path):
    """An entry with another classifier (as rexnetr_*.sw_in12k, 11821 classes): the full
    model through fetch_weights + weights=path, the backbone through its tagged name."""
    from helpers import seeded_state

    from keras_rexnet.model import build_from_spec

    _, _, write = home
    spec = specs.spec_by_name("rexnet_lite_100")
    pth = save_pth(seeded_state(spec, "official_lite", 3, classes=10), tmp_path / "ten.pth")
    server.file("/ten.pth", pth.read_bytes())
    write({"rexnet_lite_100.ten": {"url": server.url("/ten.pth"), "num_classes": 10}})
    assert pretrained_cfg("rexnet_lite_100")["name"] == "rexnet_lite_100.nav_in1k"
    assert pretrained_cfg("rexnet_lite_100.ten")["num_classes"] == 10
    path = pretrained.fetch_weights("rexnet_lite_100.ten", verbose=False)
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 72, 3)).astype("float32")
    want = keras_rexnet.ReXNetV1Lite(1.0, weights=str(pth), classes=10).predict(x, verbose=0)
    got = keras_rexnet.ReXNetV1Lite(1.0, weights=str(path), classes=10).predict(x, verbose=0)
    assert np.abs(got - want).max() <= 1e-5
    kwargs = dict(include_top=False, pooling="avg")
    want = keras_rexnet.ReXNetV1Lite(1.0, weights=str(pth), **kwargs).predict(x, verbose=0)
    body = build_from_spec(spec, weights="imagenet", model_name="rexnet_lite_100.ten", **kwargs)
    assert np.abs(body.predict(x, verbose=0) - want).max() <= 1e-5
    assert server.hits["/ten.pth"] == 1
