"""weights="imagenet" through huggingface_hub and gdown, weights="hf://...", save_pretrained.

Nothing here reaches the internet. The packaged registry's own addresses are used: its Hugging
Face sources go to a local stand-in of the Hub (``HF_ENDPOINT``; huggingface_hub reads it when
imported, so the loading runs in subprocesses), its Google Drive sources to a stand-in of
Drive behind a local HTTPS proxy (``HTTPS_PROXY``, ``REQUESTS_CA_BUNDLE``; see
``tests/standins.py``). The subprocesses use Keras' numpy backend: downloading, caching and
converting do not depend on the backend, and it starts in a third of TensorFlow's time.
"""

import json
import pathlib
import shutil

import pytest

from standins import (LITE_DRIVE_ID, LITE_DRIVE_URL, V150_GET, V150_REPO, V150_URL,
                      files_under, hub_cached_files, max_diff, same_weights, sha256)

# The fixtures `published` (the checkpoints as published) and `world` (the stand-ins serving
# them, private caches, client processes) are in tests/common/conftest.py.


def test_hub_names():
    from keras_rexnet.hub import HubFile, parse

    assert parse("hf://timm/rexnet_150.nav_in1k") == HubFile("timm/rexnet_150.nav_in1k")
    assert parse("hf://me/r@v1.0/sub/model.weights.h5") == \
        HubFile("me/r", "sub/model.weights.h5", "v1.0")
    assert parse(V150_URL) == HubFile(V150_REPO, "model.safetensors", "main")
    assert parse("https://hf.co/me/r/blob/refs%2Fpr%2F1/a.bin?download=true") == \
        HubFile("me/r", "a.bin", "refs/pr/1")
    assert str(HubFile("me/r", "a.bin", "v2")) == "hf://me/r@v2/a.bin"
    for bad in ("hf://timm", "hf://timm/", "hf://a b/c", "hf://me/r/../x.bin",
                "https://huggingface.co/timm/rexnet_150.nav_in1k",
                "https://huggingface.co/timm/x/commits/main/a.bin"):
        with pytest.raises(ValueError):
            parse(bad)


IMAGENET = [
    {"id": "v150", "model": "rexnet_150", "kwargs": {"weights": "imagenet"}},
    {"id": "lite", "model": "rexnet_lite_100", "kwargs": {"weights": "imagenet"},
     "save": ["logits", "weights"]},
]
LITE_BODY = {"id": "lite_body", "builder": "ReXNetV1Lite", "width": 1.0,
             "kwargs": {"weights": "imagenet", "include_top": False, "pooling": "avg"}}


def v150_ref(published, save=("weights",)):
    """ReXNetV1 1.5 built directly from the published checkpoint file."""
    return {"id": "v150_ref", "model": "rexnet_150", "kwargs": {"weights": str(published["v150"])},
            "save": list(save)}


def check_first_download(world, published, first):
    """The imagenet models of a first run: the reference weights and logits, one download per
    file, the files cached as they should be. Returns (our cache's files, converted ones)."""
    # ReXNetV1 1.5: every weight, and so the logits, as in the model built directly from the
    # checkpoint file.
    assert same_weights(first["v150"], first["v150_ref"]) > 300
    if "logits" in first["v150_ref"]:
        assert max_diff(first["v150"]["logits"], first["v150_ref"]["logits"]) <= 1e-5
    # ReXNetV1-lite 1.0: the official code's outputs for this seeded checkpoint.
    assert max_diff(first["lite"]["logits"], published["logits"]) <= 1e-4
    assert world.hub.hits[V150_GET] == 1 and world.drive.hits[("file", LITE_DRIVE_ID)] == 1
    assert world.hub.unexpected == [] and world.drive.refused == []
    assert f"Downloading data from {V150_URL}" in first["stdout"]
    assert f"Downloading data from {LITE_DRIVE_URL}" in first["stdout"]
    files = files_under(world.cache)
    converted = [f for f in files if f.endswith(".weights.h5")]
    assert len(converted) == 2 and len(files) == 3, files  # + the Drive file; no temporaries
    source = next(f for f in files if f.endswith(".pth"))
    lite_sha = sha256(published["lite"].read_bytes())
    assert sha256((world.cache / source).read_bytes()) == lite_sha
    assert any(f.startswith("rexnet_lite_100.nav_in1k-") and lite_sha[:16] in f
               for f in converted), converted
    hub_files = hub_cached_files(world.hf_home)  # the Hub file stays in the Hugging Face cache
    assert any(f.endswith(f"/snapshots/{world.hub.commit(V150_REPO)}/model.safetensors")
               for f in hub_files), hub_files
    return files, converted, source


def test_imagenet_from_the_hub_and_drive_then_offline_from_the_cache(world, published):
    """The packaged registry's Hub (timm layout, safetensors) and Drive (official .pth)
    sources give the reference weights and outputs; with the servers stopped and
    HF_HUB_OFFLINE=1, the models (with or without the classifier) load from the converted
    files alone, the sources deleted."""
    steps = [dict(IMAGENET[0], save=["logits", "weights"]), IMAGENET[1],
             v150_ref(published, save=["logits", "weights"])]
    first = world.run(steps)
    _, converted, source = check_first_download(world, published, first)
    world.stop()

    shutil.rmtree(world.hf_home / "hub")
    (world.cache / source).unlink()
    cached = world.run(IMAGENET + [LITE_BODY], HF_HUB_OFFLINE="1")
    assert same_weights(cached["v150"], first["v150"]) == len(first["v150"]) - 1
    assert same_weights(cached["lite"], first["lite"]) == len(first["lite"]) - 1
    assert same_weights(cached["lite_body"], first["lite"]) < len(first["lite"]) - 1  # no top
    assert "Downloading" not in cached["stdout"] and "Converting" not in cached["stdout"]
    assert files_under(world.cache) == converted


@pytest.mark.slow
def test_imagenet_offline_from_the_cached_sources_alone(world, published):
    """Servers stopped, HF_HUB_OFFLINE=1, converted files deleted: the Hub file (in the
    Hugging Face cache) and the Drive file (in ours) are converted again."""
    first = world.run(IMAGENET + [v150_ref(published)])
    files, converted, _ = check_first_download(world, published, first)
    world.stop()
    for f in converted:
        (world.cache / f).unlink()
    again = world.run(IMAGENET, HF_HUB_OFFLINE="1")
    assert same_weights(again["v150"], first["v150"]) == len(first["v150"])
    assert max_diff(again["lite"]["logits"], first["lite"]["logits"]) == 0
    assert "Downloading" not in again["stdout"] and "Converting" in again["stdout"]
    assert files_under(world.cache) == files


def test_a_wrong_sha256_is_refused_and_leaves_nothing_in_either_cache(world, published):
    """A pinned sha256 that the Hub or Drive file does not have, and a Hub that announces
    another sha256 than it serves: one error line naming the source, the cause and where a
    file downloaded by hand can go; nothing in our cache nor in the Hugging Face cache, so the
    retry downloads again."""
    data = published["v150"].read_bytes()
    world.hub.add("timm/rexnet_200.nav_in1k", {"model.safetensors": data}, announce="2" * 64)
    registry = world.tmp / "registry.json"
    registry.write_text(json.dumps({
        "rexnet_150": {"url": V150_URL, "sha256": "0" * 64},
        "rexnet_lite_100": {"url": LITE_DRIVE_URL, "filename": "rexnet_lite_1.0.pth",
                            "sha256": "1" * 64},
        "rexnet_200": {"url": "hf://timm/rexnet_200.nav_in1k/model.safetensors"},
    }))
    steps = [{"id": f"{name}_{attempt}", "model": name, "kwargs": {"weights": "imagenet"}}
             for attempt in (1, 2) for name in ("rexnet_150", "rexnet_lite_100", "rexnet_200")]
    out = world.run(steps, KERAS_REXNET_REGISTRY=str(registry))
    expected = {"rexnet_150": (V150_URL, "the registry pins " + "0" * 64),
                "rexnet_lite_100": (LITE_DRIVE_URL, "the registry pins " + "1" * 64),
                "rexnet_200": ("hf://timm/rexnet_200.nav_in1k/model.safetensors",
                               "the server announced " + "2" * 64)}
    for step in steps:
        error = out[step["id"]]
        assert isinstance(error, dict), step
        url, cause = expected[step["model"]]
        message = error["message"]
        assert error["type"] == "PretrainedError" and "\n" not in message
        assert f"{url}: sha256 mismatch: {cause}" in message, message
        assert error["manual_path"] and error["manual_path"] in message
        assert pathlib.Path(error["manual_path"]).parent == world.cache
    assert "removed from the Hugging Face cache" in out["rexnet_150_1"]["message"]
    # Downloaded twice each: the first attempt kept nothing the second could use.
    assert world.hub.hits[V150_GET] == 2
    assert world.hub.hits[("GET", "/timm/rexnet_200.nav_in1k/resolve/main/model.safetensors")] \
        == 2
    assert world.drive.hits[("file", LITE_DRIVE_ID)] == 2
    assert files_under(world.cache) == []
    assert hub_cached_files(world.hf_home) == []


def model_weights(model):
    return {f"{layer.name}/{i}": w for layer in model.layers
            for i, w in enumerate(layer.get_weights())}


@pytest.fixture(scope="module")
def saved_repos(published, tmp_path_factory):
    """Two folders written by save_pretrained (ReXNet-lite 1.0 with and without its
    classifier), and the saved model's weights."""
    import keras_rexnet

    folder = tmp_path_factory.mktemp("repos")
    model = keras_rexnet.ReXNetV1Lite(1.0, weights=str(published["lite"]))
    keras_rexnet.save_pretrained(model, folder / "full")
    body = keras_rexnet.ReXNetV1Lite(1.0, weights=str(published["lite"]), include_top=False,
                                     name="renamed")  # the architecture is found by its layers
    keras_rexnet.save_pretrained(body, folder / "body")
    with pytest.raises(ValueError, match="not a rexnet_150"):
        keras_rexnet.save_pretrained(model, folder / "wrong", model_name="rexnet_150")
    return {"full": folder / "full", "body": folder / "body", "weights": model_weights(model)}


def test_save_pretrained_writes_a_hub_repository_folder(saved_repos):
    full = saved_repos["full"]
    assert sorted(p.name for p in full.iterdir()) == ["config.json", "model.weights.h5"]
    config = json.loads((full / "config.json").read_text())
    assert config["architecture"] == "rexnet_lite_100" and config["num_classes"] == 1000
    assert config["num_features"] == 1280
    assert config["pretrained_cfg"]["crop_pct"] == 0.875
    ours = config["keras_rexnet"]
    assert (ours["family"], ours["width"], ours["ch_div"]) == ("rexnet_lite", 1.0, 8)
    assert ours["include_top"] is True and ours["include_preprocessing"] is True
    body = json.loads((saved_repos["body"] / "config.json").read_text())
    assert body["architecture"] == "rexnet_lite_100" and body["num_classes"] == 0
    assert body["keras_rexnet"]["include_top"] is False
    assert not list(full.parent.glob("wrong/*"))  # refused before writing anything


def test_hf_weights_round_trip_with_save_pretrained(world, published, saved_repos):
    """Served by the Hub stand-in, a save_pretrained folder loads with weights="hf://ORG/REPO"
    on create_model and the builders, with or without the classifier, as timm's safetensors
    repositories do; mistakes are one clear error."""
    world.hub.add_folder("someone/rexnet-lite-keras", saved_repos["full"])
    world.hub.add_folder("someone/rexnet-lite-body", saved_repos["body"])
    lite = {"model": "rexnet_lite_100"}
    commit = world.hub.commit(V150_REPO)
    steps = [
        {"id": "full", **lite, "kwargs": {"weights": "hf://someone/rexnet-lite-keras"},
         "save": ["logits", "weights"]},
        {"id": "pooled", "builder": "ReXNetV1Lite", "width": 1.0,
         "kwargs": {"weights": "hf://someone/rexnet-lite-keras", "include_top": False,
                    "pooling": "avg"}},
        {"id": "body", **lite, "kwargs": {"weights": "hf://someone/rexnet-lite-body",
                                          "include_top": False}},
        {"id": "body_top", **lite, "kwargs": {"weights": "hf://someone/rexnet-lite-body"}},
        {"id": "classes", **lite, "kwargs": {"weights": "hf://someone/rexnet-lite-keras",
                                             "classes": 10}},
        {"id": "other_model", "model": "rexnet_100",
         "kwargs": {"weights": "hf://someone/rexnet-lite-keras"}},
        {"id": "no_repo", **lite, "kwargs": {"weights": "hf://someone/nothing-here"}},
        {"id": "no_file", **lite, "kwargs": {"weights": "hf://someone/rexnet-lite-body/x.pth"}},
        {"id": "timm", "model": "rexnet_150", "kwargs": {"weights": f"hf://{V150_REPO}"}},
        {"id": "timm_file", "builder": "ReXNetV1", "width": 1.5,
         "kwargs": {"weights": f"hf://{V150_REPO}@{commit}/model.safetensors"}},
        v150_ref(published),
    ]
    out = world.run(steps)
    assert max_diff(out["full"]["logits"], published["logits"]) <= 1e-4
    for key in ("full", "pooled", "body"):
        assert same_weights(out[key], saved_repos["weights"]) > 100, key
    errors = {
        "body_top": "hf://someone/rexnet-lite-body: was saved without its classifier",
        "classes": "has 1000 classes (config.json), the model 10: pass classes=1000",
        "other_model": "holds rexnet_lite_100 (width 1, rexnet_lite), not rexnet_100",
        "no_repo": "hf://someone/nothing-here: no repository someone/nothing-here at http",
        "no_file": "hf://someone/rexnet-lite-body/x.pth: no file x.pth in someone/rexnet-lite",
    }
    for key, part in errors.items():
        assert isinstance(out[key], dict) and part in out[key]["message"], (key, out[key])
        assert "\n" not in out[key]["message"]
    assert out["no_repo"]["type"] == "PretrainedError"
    assert same_weights(out["timm"], out["v150_ref"]) == len(out["v150_ref"])
    assert same_weights(out["timm_file"], out["v150_ref"]) == len(out["v150_ref"])
    assert world.hub.hits[V150_GET] == 1  # the second load found it in the Hugging Face cache
    assert world.hub.unexpected == []
    assert files_under(world.cache) == []  # hf:// weights use only the Hugging Face cache


@pytest.mark.slow
def test_hub_files_are_shared_with_timm_and_load_offline(world, published, saved_repos):
    """A Hub file already in the Hugging Face cache (as timm leaves it) is not downloaded
    again for weights="imagenet"; a repository with only pytorch_model.bin loads; a download
    cut half-way resumes with a Range request; offline, hf:// loads from the cache."""
    from huggingface_hub import constants  # noqa: F401 - only to fail early when missing

    world.hub.add_folder("someone/rexnet-lite-keras", saved_repos["full"])
    world.hub.add("someone/lite-bin", {"pytorch_model.bin": published["lite"].read_bytes()},
                  truncate_once=True)
    steps = [
        {"id": "timm", "model": "rexnet_150", "kwargs": {"weights": f"hf://{V150_REPO}"}},
        {"id": "v150", "model": "rexnet_150", "kwargs": {"weights": "imagenet"}},
        {"id": "bin", "model": "rexnet_lite_100", "kwargs": {"weights": "hf://someone/lite-bin"}},
        {"id": "lite_ref", "model": "rexnet_lite_100",
         "kwargs": {"weights": str(published["lite"])}},
        {"id": "full", "model": "rexnet_lite_100",
         "kwargs": {"weights": "hf://someone/rexnet-lite-keras"}},
    ]
    out = world.run(steps)
    assert world.hub.hits[V150_GET] == 1  # timm's download served weights="imagenet" too
    assert "Downloading" not in out["stdout"]
    assert same_weights(out["v150"], out["timm"]) == len(out["timm"])
    assert same_weights(out["bin"], out["lite_ref"]) == len(out["lite_ref"])
    assert world.hub.hits[("GET", "/someone/lite-bin/resolve/main/pytorch_model.bin")] == 2
    world.stop()
    offline = world.run(steps, HF_HUB_OFFLINE="1")
    for key in ("timm", "v150", "bin", "full"):
        assert same_weights(offline[key], out[key]) == len(out[key]), key
