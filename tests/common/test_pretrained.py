"""weights="imagenet": registry, download, verification, conversion, cache (issues 4 and 16).

Nothing here reaches the internet: downloads come from servers on 127.0.0.1 started by these
tests (``tests/standins.py``): a plain HTTP mirror named through ``KERAS_REXNET_REGISTRY``, and
Google Drive behind a local HTTPS proxy. They serve seeded checkpoints whose official outputs
are stored in ``tests/data/vectors``. The Hugging Face Hub sources, which need a subprocess
(``HF_ENDPOINT`` is read when huggingface_hub is imported), are in ``test_hub.py``.
"""

import collections
import hashlib
import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

import keras_rexnet
from helpers import VECTORS, official_state, save_pth, seeded_state
from keras_rexnet import pretrained
from keras_rexnet import spec as specs
from keras_rexnet.converters.layouts import LAYOUTS
from keras_rexnet.converters.seeded import save_checkpoint
from keras_rexnet.pretrained import PretrainedError, pretrained_cfg
from standins import QUOTA_PAGE, DriveStandIn, FileServer

LITE_VECTORS = VECTORS / "rexnet_lite_1.0_s1_224x224.npz"
DRIVE_ID = "1d9G4pLwZwkoDR2TRPCQlxiWiuC7R-Oqf"  # the packaged rexnet_lite_100 source


# ------------------------------------------------------------------------------------------
# Seeded checkpoints, as the published files would be.

@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """``{"lite": bytes, "other": bytes}``: the seeded official ReXNet-lite 1.0 .pth behind the
    official vectors (as NAVER's Drive files), and a valid checkpoint of another model
    (rexnet_100 in timm's layout, safetensors)."""
    folder = tmp_path_factory.mktemp("published")
    save_pth(official_state("rexnet_lite_1.0", 1), folder / "rexnet_lite_1.0.pth")
    save_checkpoint(seeded_state(specs.spec_by_name("rexnet_100"), "timm", 1),
                    folder / "other.safetensors")
    return {"lite": (folder / "rexnet_lite_1.0.pth").read_bytes(),
            "other": (folder / "other.safetensors").read_bytes()}


def sha256(data):
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def server():
    s = FileServer()
    yield s
    s.stop()


@pytest.fixture
def drive(tmp_path, monkeypatch):
    """Google Drive behind a local HTTPS proxy, for this process (requests reads the proxy
    and certificate variables at each request)."""
    d = DriveStandIn(str(tmp_path))
    for name, value in d.env().items():
        monkeypatch.setenv(name, value)
    yield d
    d.stop()


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
    """Files in ``folder``, but for the lock files that filelock keeps in ``.locks``."""
    return sorted(p.relative_to(folder).as_posix() for p in pathlib.Path(folder).rglob("*")
                  if p.is_file() and p.parent.name != ".locks")


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


def result_of(proc):
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert line, proc.stdout[-2000:]
    return json.loads(line[-1][len("RESULT "):])


def subprocess_env(keras_home, registry):
    """A child's environment: our cache and registry, Keras' numpy backend (the quickest to
    start; downloading and caching do not depend on the backend)."""
    return dict(os.environ, KERAS_HOME=str(keras_home), KERAS_REXNET_REGISTRY=str(registry),
                KERAS_BACKEND="numpy")


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


def test_source_addresses(home):
    """Which client each registry address goes to; unusable addresses are refused when the
    registry is read."""
    _, _, write = home
    write({})
    kind = pretrained._kind
    for key, entry in pretrained.registry().items():
        for source in entry["sources"]:
            url = source["url"]
            want = ("hub" if url.startswith("https://huggingface.co/") else
                    "drive" if url.startswith("https://drive.google.com/") else "http")
            assert kind(url) == want, (key, url)
    assert kind("hf://timm/rexnet_150.nav_in1k/model.safetensors") == "hub"
    assert kind("https://mirror.example/x.pth") == "http"
    assert kind("file:///data/x.pth") == "local" and kind("/data/x.pth") == "local"
    for url, match in [("hf://timm/model.safetensors", "hf://ORG/NAME"),
                       ("https://huggingface.co/timm/rexnet_150.nav_in1k", "resolve/REVISION"),
                       ("ftp://mirror.example/x.pth", "unsupported address"),
                       ("relative/x.pth", "unsupported address")]:
        write({"rexnet_100": {"url": url}})
        with pytest.raises(PretrainedError, match=match):
            pretrained_cfg("rexnet_100")


# ------------------------------------------------------------------------------------------
# Download, convert, cache: the acceptance checks (the Hub's and Drive's in test_hub.py).

def test_first_call_downloads_converts_then_later_calls_read_the_cache(server, home,
                                                                      checkpoints):
    """A plain HTTPS mirror (gdown's downloader), sha256 pinned: downloaded once, converted,
    cached; later calls read only the cache, the server gone."""
    keras_home, _, write = home
    data = checkpoints["lite"]
    server.file("/mirror/rexnet_lite_1.0.pth", data)
    url = server.url("/mirror/rexnet_lite_1.0.pth")
    write({"rexnet_lite_100": {"url": url, "sha256": sha256(data)}})
    model = logits_model("rexnet_lite_100")
    assert max_diff(model, LITE_VECTORS) <= 1e-4
    assert server.hits["/mirror/rexnet_lite_1.0.pth"] == 1
    files = cache_files(keras_home)
    sources = [f for f in files if not f.endswith(".weights.h5")]
    converted = [f for f in files if f.endswith(".weights.h5")]
    assert len(sources) == 1 and len(converted) == 1, files  # no temporary files
    cache = keras_home / "models" / "keras_rexnet"
    assert sha256((cache / sources[0]).read_bytes()) == sha256(data)
    assert sha256(data)[:16] in converted[0]
    assert f"c{pretrained.CONVERTER_VERSION}-k{keras_rexnet.__version__}" in converted[0]
    assert pretrained.cached_source("rexnet_lite_100") == cache / sources[0]

    server.stop()
    stamps = {f: (cache / f).stat().st_mtime_ns for f in files}
    # From the cache: a non-224 input_shape warns, as keras.applications.
    with pytest.warns(UserWarning, match="224x224"):
        keras_rexnet.create_model("rexnet_lite_100", weights="imagenet", input_shape=(160, 160, 3))
    body = keras_rexnet.ReXNetV1Lite(1.0, weights="imagenet", include_top=False, pooling="avg",
                                     include_preprocessing=False)
    assert max_diff(body, LITE_VECTORS, "pooled") <= 1e-4
    assert "predictions" not in {layer.name for layer in body.layers}
    assert cache_files(keras_home) == files
    assert {f: (cache / f).stat().st_mtime_ns for f in files} == stamps


def _failing(case, server, drive, checkpoints, write):
    """Set up one broken source for rexnet_lite_100; returns (URL, expected message part)."""
    data = checkpoints["lite"]
    if case == "wrong_sha256":
        server.file("/lite.pth", data)
        write({"rexnet_lite_100": {"url": server.url("/lite.pth"), "sha256": "0" * 64}})
        return server.url("/lite.pth"), f"sha256 mismatch: the registry pins {'0' * 64}"
    if case == "wrong_size":
        server.file("/lite.pth", data)
        write({"rexnet_lite_100": {"url": server.url("/lite.pth"), "size": len(data) + 1}})
        return server.url("/lite.pth"), "size mismatch"
    if case == "truncated":
        server.truncated("/lite.pth", data)
        write({"rexnet_lite_100": {"url": server.url("/lite.pth")}})
        return server.url("/lite.pth"), "truncated download (Download is incomplete"
    if case == "404":
        write({"rexnet_lite_100": {"url": server.url("/missing.pth")}})
        return server.url("/missing.pth"), "HTTP error 404 Not Found"
    if case == "refused":
        url = refused_url()
        write({"rexnet_lite_100": {"url": url}})
        return url, "cannot connect (Connection refused)"
    if case == "drive_quota":  # Drive's page instead of the file: gdown cannot get it
        drive.pages[DRIVE_ID] = QUOTA_PAGE
        url = f"https://drive.google.com/uc?export=download&id={DRIVE_ID}"
        return url, "Google Drive refuses the download for now (download quota exceeded"
    if case == "drive_missing":
        url = "https://drive.google.com/file/d/1AbCdEfGhIjKlMnOpQrStUvWxYz012345/view"
        write({"rexnet_lite_100": {"url": url, "filename": "rexnet_lite_1.0.pth"}})
        return url, "Google Drive did not give the file"
    if case == "not_a_checkpoint":
        server.file("/lite.pth", b"PK\x03\x04 this is not a checkpoint" * 100)
        write({"rexnet_lite_100": {"url": server.url("/lite.pth")}})
        return server.url("/lite.pth"), "the file does not convert"
    if case == "wrong_model":  # a valid checkpoint of another model
        server.file("/lite.pth", checkpoints["other"])
        write({"rexnet_lite_100": {"url": server.url("/lite.pth"),
                                   "filename": "x.safetensors"}})
        return server.url("/lite.pth"), "the file does not convert"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["wrong_sha256", "wrong_size", "truncated", "404", "refused",
                                  "drive_quota", "drive_missing", "not_a_checkpoint",
                                  "wrong_model"])
def test_failures_raise_one_clear_error_and_leave_nothing(case, server, drive, home,
                                                         checkpoints):
    keras_home, _, write = home
    write({})  # drive_quota uses the packaged registry's own Drive address
    url, cause = _failing(case, server, drive, checkpoints, write)
    with pytest.raises(PretrainedError) as info:
        keras_rexnet.ReXNetV1Lite(1.0, weights="imagenet")
    e = info.value
    message = str(e)
    assert isinstance(e, ValueError) and "\n" not in message
    assert f"{url}: {cause}" in message, message
    cache = keras_home / "models" / "keras_rexnet"
    assert e.manual_path and pathlib.Path(e.manual_path).parent == cache
    assert e.manual_path in message and "weights='/path/to/checkpoint'" in message
    assert cache_files(keras_home) == []


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
    assert cache_files(keras_home) == []
    pathlib.Path(info.value.manual_path).write_bytes(data)
    model = logits_model("rexnet_lite_100")
    assert max_diff(model, LITE_VECTORS) <= 1e-4


@pytest.fixture
def local_source(home, checkpoints, tmp_path):
    local = tmp_path / "mine" / "rexnet lite.pth"
    local.parent.mkdir()
    local.write_bytes(checkpoints["lite"])
    return local


def test_local_sources_are_never_moved_or_removed(home, checkpoints, local_source, tmp_path):
    """``file://`` addresses and absolute paths are checked where they are, and stay there
    even when they fail a check."""
    keras_home, _, write = home
    write({"rexnet_lite_100": {"url": local_source.as_uri(), "sha256": "0" * 64},
           "rexnet_lite_130": {"url": str(tmp_path / "missing.pth")}})
    with pytest.raises(PretrainedError, match="sha256 mismatch"):
        pretrained.fetch_weights("rexnet_lite_100", verbose=False)
    with pytest.raises(PretrainedError, match="missing.pth: no such file"):
        pretrained.fetch_weights("rexnet_lite_130", verbose=False)
    assert local_source.read_bytes() == checkpoints["lite"] and cache_files(keras_home) == []


@pytest.mark.slow
def test_local_sources_are_converted_where_they_are(home, checkpoints, local_source):
    keras_home, _, write = home
    local = local_source
    write({"rexnet_lite_100": {"url": local.as_uri()}})
    path = pretrained.fetch_weights("rexnet_lite_100", verbose=False)
    assert pretrained.fetch_weights("rexnet_lite_100", verbose=False) == path
    assert cache_files(keras_home) == [path.name]  # no copy
    assert pretrained.cached_source("rexnet_lite_100") == local
    assert local.read_bytes() == checkpoints["lite"]


@pytest.mark.slow
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


@pytest.mark.slow  # four processes, 30 s: the cache lock under contention, in the slow stage
def test_two_processes_race_for_the_same_model(server, home, checkpoints, tmp_path):
    keras_home, registry, write = home
    data = checkpoints["lite"]
    server.file("/lite.pth", data, seconds=1.5)  # a slow download: the other process arrives
    write({"rexnet_lite_100": {"url": server.url("/lite.pth")}})
    env = subprocess_env(keras_home, registry)
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
    assert server.hits["/lite.pth"] == 1  # the second process waited and used the cache
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
    proc = subprocess.Popen([sys.executable, "-c", KILLED],
                            env=subprocess_env(keras_home, registry), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    cache = keras_home / "models" / "keras_rexnet"
    deadline = time.time() + 120
    while time.time() < deadline and not any(
            p.stat().st_size > 0 for p in cache.glob(".*.tmp")) and proc.poll() is None:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    left = cache_files(keras_home)
    assert any(f.endswith(".tmp") for f in left), left  # it was killed mid-download
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
