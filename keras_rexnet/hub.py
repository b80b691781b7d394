"""Hugging Face Hub: ``weights="hf://ORG/REPO"``, the Hub sources of the registry, and
:func:`save_pretrained`.

Every download goes through ``huggingface_hub.hf_hub_download``, so ``HF_ENDPOINT``, ``HF_HOME``,
``HF_HUB_CACHE``, ``HF_HUB_OFFLINE`` and ``HF_TOKEN`` work as everywhere else, and the cache is
the one timm and transformers use: a file already downloaded by timm is not downloaded again.

Names understood (``REPO`` is ``ORG/NAME``, ``@REV`` a branch, tag or commit, ``main`` when left
out; ``FILE`` may sit in a folder)::

    hf://REPO[@REV]                      a repository: model.weights.h5 (with config.json),
                                         else model.safetensors, else pytorch_model.bin
    hf://REPO[@REV]/FILE                 one file of it
    https://huggingface.co/REPO/resolve/REV/FILE   the same file as a web address (also /blob/)

A repository made by :func:`save_pretrained` (``model.weights.h5`` and a ``config.json`` naming
the architecture) uploads as it is, e.g. ``huggingface_hub.upload_folder(repo_id=...,
folder_path=...)``.
"""

import dataclasses
import json
import os
import pathlib
import re
import urllib.parse

from keras_rexnet import spec as specs
from keras_rexnet.errors import CheckpointError
from keras_rexnet.files import KERAS_WEIGHTS_SUFFIX

SCHEME = "hf://"
HUB_HOSTS = ("huggingface.co", "www.huggingface.co", "hf.co")
WEIGHTS_NAME = "model.weights.h5"
CONFIG_NAME = "config.json"
# What ``hf://REPO`` loads, in this order: ours, then the usual PyTorch files (timm's first).
REPO_FILES = (WEIGHTS_NAME, "model.safetensors", "pytorch_model.bin")
LIBRARY_NAME = "keras-rexnet"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_PART = re.compile(r"[\w.-]+")


@dataclasses.dataclass(frozen=True)
class HubFile:
    """A repository (``filename`` None) or one file of it."""

    repo_id: str
    filename: str = None
    revision: str = None

    def __str__(self):
        rev = f"@{self.revision}" if self.revision else ""
        return f"{SCHEME}{self.repo_id}{rev}" + (f"/{self.filename}" if self.filename else "")

    def with_file(self, filename):
        return dataclasses.replace(self, filename=filename)


def is_hub_url(url):
    """True for ``hf://...`` and ``https://huggingface.co/...`` (checked by :func:`parse`)."""
    if not isinstance(url, str):
        return False
    if url.startswith(SCHEME):
        return True
    parts = urllib.parse.urlsplit(url)
    return parts.scheme in ("http", "https") and (parts.hostname or "") in HUB_HOSTS


def parse(url):
    """The :class:`HubFile` a Hub name or web address points at; ``ValueError`` (one line) for a
    malformed one. See the module docstring for the forms."""
    if url.startswith(SCHEME):
        body = url[len(SCHEME):]
        parts = body.split("/")
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise ValueError(f"{url}: expected hf://ORG/NAME[@REVISION][/FILE]")
        org, name, rest = parts[0], parts[1], parts[2:]
        name, _, revision = name.partition("@")
        revision = revision or None
    else:
        path = [urllib.parse.unquote(p) for p in urllib.parse.urlsplit(url).path.split("/") if p]
        if len(path) < 5 or path[2] not in ("resolve", "blob"):
            raise ValueError(f"{url}: a Hugging Face address must be "
                             "https://huggingface.co/ORG/NAME/resolve/REVISION/FILE")
        org, name, revision, rest = path[0], path[1], path[3], path[4:]
    if not (_PART.fullmatch(org) and _PART.fullmatch(name)):
        raise ValueError(f"{url}: {org}/{name} is not a repository name (ORG/NAME)")
    if any(p in ("", ".", "..") for p in rest):
        raise ValueError(f"{url}: the file path {'/'.join(rest)!r} has an empty or relative part")
    return HubFile(f"{org}/{name}", "/".join(rest) or None, revision)


class HubError(Exception):
    """A Hub file that cannot be had; ``cause`` is one line, ``missing`` True when the file
    (not the repository) does not exist, or is not cached while offline."""

    def __init__(self, cause, missing=False):
        super().__init__(cause)
        self.cause = cause
        self.missing = missing


def _first_line(e):
    text = " ".join(str(e).split())
    return text[:300] or type(e).__name__


def _cause(e, ref):
    """One line for what ``hf_hub_download`` raised; ``(cause, missing)``."""
    from huggingface_hub import constants
    from huggingface_hub import errors as hub_errors

    if isinstance(e, hub_errors.GatedRepoError):
        return (f"the repository {ref.repo_id} is gated: accept its terms on the Hub and set "
                "HF_TOKEN"), False
    if isinstance(e, hub_errors.RepositoryNotFoundError):
        return (f"no repository {ref.repo_id} at {constants.ENDPOINT} (or it is private: set "
                "HF_TOKEN)"), False
    if isinstance(e, hub_errors.RevisionNotFoundError):
        return f"no revision {ref.revision!r} in {ref.repo_id}", False
    if isinstance(e, hub_errors.EntryNotFoundError) and \
            not isinstance(e, hub_errors.LocalEntryNotFoundError):
        return f"no file {ref.filename} in {ref.repo_id}", True
    if isinstance(e, hub_errors.LocalEntryNotFoundError):
        if constants.HF_HUB_OFFLINE:
            return (f"not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and HF_HUB_OFFLINE "
                    "is set"), True
        why = _first_line(e.__cause__) if e.__cause__ is not None else _first_line(e)
        return (f"cannot reach {constants.ENDPOINT} ({why}) and the file is not in the Hugging "
                f"Face cache"), True
    if isinstance(e, hub_errors.HfHubHTTPError) and getattr(e, "response", None) is not None:
        return f"HTTP error {e.response.status_code} from {constants.ENDPOINT}", False
    text = _first_line(e)
    if "Consistency check failed" in text:
        return f"truncated download ({text})", False
    return f"download failed ({type(e).__name__}: {text})", False


def download(ref, local_files_only=False):
    """``hf_hub_download`` of one file: its path in the Hugging Face cache. Raises
    :class:`HubError`."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as e:  # pragma: no cover - a dependency
        raise HubError(f"downloading from the Hugging Face Hub needs huggingface_hub ({e}): "
                       "pip install huggingface_hub") from None
    from keras_rexnet import __version__

    try:
        return pathlib.Path(hf_hub_download(
            ref.repo_id, ref.filename, revision=ref.revision, library_name=LIBRARY_NAME,
            library_version=__version__, local_files_only=local_files_only))
    except Exception as e:  # noqa: BLE001 - the Hub client's, its HTTP library's and OS errors
        cause, missing = _cause(e, ref)
        raise HubError(cause, missing) from None


def cached(ref):
    """The path of ``ref`` in the Hugging Face cache, or None (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover
        return None
    found = try_to_load_from_cache(ref.repo_id, ref.filename, revision=ref.revision)
    return pathlib.Path(found) if isinstance(found, str) else None


def announced_sha256(path):
    """The sha256 the Hub announced for a cached file (its blob is named by the ETag, which is
    the sha256 for LFS files), or None."""
    path = pathlib.Path(path)
    if not path.is_symlink():
        return None
    name = pathlib.Path(os.path.realpath(path)).name
    return name if _SHA256.fullmatch(name) else None


def forget(path):
    """Remove a file from the Hugging Face cache (its snapshot entry and its blob), so that
    the next ``hf_hub_download`` downloads it again. Quietly does what it may (a read-only
    cache stays as it is)."""
    path = pathlib.Path(path)
    blob = pathlib.Path(os.path.realpath(path)) if path.is_symlink() else None
    for p in (path, blob):
        if p is not None:
            try:
                p.unlink()
            except OSError:
                pass


# --------------------------------------------------------------------------------------
# weights="hf://..."

def _config(ref, weights):
    """The ``config.json`` beside a ``.weights.h5`` (None when the repository has none)."""
    folder = _folder_of(ref.filename)
    try:
        path = download(ref.with_file(f"{folder}{CONFIG_NAME}"))
    except HubError as e:
        if e.missing:
            return None
        raise _unavailable(weights, e.cause) from None
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except (OSError, ValueError) as e:
        raise CheckpointError(weights, f"its {CONFIG_NAME} is not valid JSON ({e})") from None
    if not isinstance(config, dict):
        raise CheckpointError(weights, f"its {CONFIG_NAME} is not a JSON object")
    return config


def _folder_of(filename):
    head, sep, _ = filename.rpartition("/")
    return head + sep


def _unavailable(weights, cause):
    from keras_rexnet.pretrained import PretrainedError

    return PretrainedError(f"{weights}: {cause}", url=weights)


def _resolve_file(ref, weights):
    """``(ref, path)`` of the weights file ``weights`` names, downloaded."""
    if ref.filename:
        try:
            return ref, download(ref)
        except HubError as e:
            raise _unavailable(weights, e.cause) from None
    causes = []
    for name in REPO_FILES:
        try:
            return ref.with_file(name), download(ref.with_file(name))
        except HubError as e:
            if not e.missing:
                raise _unavailable(weights, e.cause) from None
            causes.append(e.cause)
    raise _unavailable(weights, f"the repository has none of {', '.join(REPO_FILES)} "
                                f"({causes[-1]})")


def _spec_of_config(config, weights):
    ours = config.get("keras_rexnet")
    if not isinstance(ours, dict):
        raise CheckpointError(weights, f"its {CONFIG_NAME} was not written by "
                                       "keras_rexnet.save_pretrained (no 'keras_rexnet' entry)")
    family = ours.get("family")
    if family in ("rexnet_v1", "rexnet_lite", "rexnet_plain"):
        try:
            return specs.spec_for(family, float(ours["width"]), int(ours.get("ch_div", 1)))
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(weights, f"its {CONFIG_NAME} has a bad architecture "
                                           f"({type(e).__name__}: {e})") from None
    return None  # a custom spec: the layer shapes are checked while loading


def load_into(model, spec, weights, include_top=True, model_name=None):
    """``weights="hf://..."``: load a Keras ``.weights.h5`` (with its ``config.json``) or a
    safetensors/PyTorch checkpoint from a Hugging Face repository into ``model``."""
    try:
        ref = parse(weights)
    except ValueError as e:
        raise _unavailable(weights, str(e).partition(": ")[2]) from None
    ref, path = _resolve_file(ref, weights)
    config = _config(ref, weights) if ref.filename.lower().endswith(KERAS_WEIGHTS_SUFFIX) else None
    if config is None:  # a checkpoint, or a bare .weights.h5 that must fit the model as it is
        from keras_rexnet import weights as weights_lib

        try:
            return weights_lib.load_into(model, spec, path, include_top=include_top,
                                         model_name=model_name)
        except CheckpointError as e:  # name the Hub file, not its place in the cache
            raise CheckpointError(str(ref), e.problem) from None
    saved = _spec_of_config(config, weights)
    arch = config.get("architecture", "?")
    if saved is not None and saved != spec:
        raise CheckpointError(weights, f"holds {arch} (width {saved.width:g}, {saved.family}), "
                                       f"not {model_name or model.name} (width {spec.width:g}, "
                                       f"{spec.family})")
    ours = config["keras_rexnet"]
    saved_top = bool(ours.get("include_top", True))
    classes = int(config.get("num_classes") or 0)
    if include_top and not saved_top:
        raise CheckpointError(weights, "was saved without its classifier (include_top=False): "
                                       "build the model with include_top=False")
    if include_top and classes != model.get_layer("predictions").units:
        raise CheckpointError(weights, f"has {classes} classes ({CONFIG_NAME}), the model "
                                       f"{model.get_layer('predictions').units}: pass "
                                       f"classes={classes}, or include_top=False")
    from keras_rexnet.weights import load_saved_model_weights

    try:
        load_saved_model_weights(model, spec, path, include_top=saved_top,
                                 classes=classes or 1000, label=weights,
                                 include_preprocessing=bool(ours.get("include_preprocessing",
                                                                     True)),
                                 channels=int(ours.get("in_chans", 3)))
    except CheckpointError:
        raise
    except (ValueError, OSError, KeyError) as e:  # Keras' errors for a file that does not fit
        raise CheckpointError(weights, f"{ref.filename} does not load "
                                       f"({type(e).__name__}: {_first_line(e)})") from None
    return "hf"


# --------------------------------------------------------------------------------------
# save_pretrained

def _weighted_shapes(model):
    import keras

    skip = (keras.layers.Normalization, keras.layers.Rescaling)
    return [(layer.name, [tuple(w.shape) for w in layer.weights]) for layer in model.layers
            if layer.weights and not isinstance(layer, skip)]


def _parameters(model):
    """The parameters PyTorch would count (BatchNormalization: its scale and offset)."""
    import math

    import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Normalization, keras.layers.Rescaling)):
            continue
        weights = layer.weights
        if isinstance(layer, keras.layers.BatchNormalization):
            weights = [w for w in (layer.gamma, layer.beta) if w is not None]
        total += sum(math.prod(w.shape) for w in weights)
    return total


def _input_layout(model):
    """``(height, width, channels)`` of the model's input, whatever its data format."""
    from keras_rexnet.model import model_data_format

    shape = tuple(model.input_shape[1:])
    if model_data_format(model) == "channels_first":
        shape = shape[1:] + shape[:1]
    return shape


def _structure(model):
    names = {layer.name for layer in model.layers}
    top = "predictions" in names
    return {"include_top": top,
            "classes": model.get_layer("predictions").units if top else 0,
            "include_preprocessing": "normalization" in names,
            "channels": _input_layout(model)[2]}


def _twin_shapes(spec, structure):
    from keras_rexnet.model import build_from_spec

    twin = build_from_spec(spec, weights=None, include_top=structure["include_top"],
                           classes=structure["classes"] or 1000,
                           include_preprocessing=structure["include_preprocessing"],
                           input_shape=(None, None, structure["channels"]),
                           data_format="channels_last", kernel_initializer="zeros")
    return _weighted_shapes(twin)


def _architecture(model, model_name, spec):
    """``(name, spec)`` of a model built by this package: from ``model_name``/``spec``, else
    from the model's name, else found among the named models by the layer shapes."""
    structure = _structure(model)
    shapes = _weighted_shapes(model)
    if spec is not None:
        candidates = [(model_name or specs.default_name(spec), spec)]
    else:
        name = (model_name or model.name).partition(".")[0]
        if name in specs.MODEL_NAMES:
            candidates = [(name, specs.spec_by_name(name))]
        elif model_name is not None:
            raise ValueError(f"unknown model {model_name!r}; known models: "
                             f"{', '.join(specs.MODEL_NAMES)} (or pass spec=)")
        else:  # renamed: the named models with as many parameters, then their layers
            count = _parameters(model)
            candidates = [(n, specs.spec_by_name(n)) for n in specs.MODEL_NAMES]
            candidates = [(n, s) for n, s in candidates if s.trainable_params(
                structure["classes"] or 1000, structure["include_top"]) == count]
    for name, candidate in candidates:
        if _twin_shapes(candidate, structure) == shapes:
            return name, candidate
    if len(candidates) == 1:
        raise ValueError(f"the model {model.name!r} is not a {candidates[0][0]}: its layers differ "
                         "from that architecture's (pass model_name= or spec=)")
    raise ValueError(f"cannot tell which ReXNet the model {model.name!r} is; pass model_name= "
                     "(e.g. 'rexnet_150') or spec=")


def save_pretrained(model, folder, model_name=None, spec=None):
    """Write ``model`` as a Hugging Face model repository folder: ``model.weights.h5`` and a
    ``config.json`` naming its architecture (timm-style ``architecture``, ``num_classes``,
    ``num_features``, ``pretrained_cfg``, and a ``keras_rexnet`` entry: family, width,
    classifier, preprocessing, versions). Upload the folder with
    ``huggingface_hub.upload_folder(repo_id="ORG/NAME", folder_path=folder)``; then
    ``keras_rexnet.create_model(name, weights="hf://ORG/NAME")`` (or any builder) loads it,
    with or without its classifier.

    ``model``: a model from this package's builders. Its architecture comes from
    ``model_name`` (``"rexnet_150"``), ``spec`` (a :class:`keras_rexnet.spec.NetSpec`), or
    the model's own name, and is checked against the model's layers. Returns the folder.
    """
    import keras

    from keras_rexnet import __version__
    from keras_rexnet.files import atomic_path, atomic_write

    name, spec = _architecture(model, model_name, spec)
    structure = _structure(model)
    predictions = model.get_layer("predictions") if structure["include_top"] else None
    activation = getattr(getattr(predictions, "activation", None), "__name__", None)
    cfg = {"input_size": [3, 224, 224], "mean": list(specs.IMAGENET_MEAN),
           "std": list(specs.IMAGENET_STD)}
    try:  # the preprocessing of the published weights, when the name has some
        from keras_rexnet.pretrained import pretrained_cfg

        tagged = model_name or (model.name if model.name.partition(".")[0] == name else name)
        known = pretrained_cfg(tagged)
        cfg.update({"input_size": [3, *known["input_size"]], "crop_pct": known["crop_pct"],
                    "crop_mode": known["crop_mode"], "interpolation": known["interpolation"],
                    "mean": list(known["mean"]), "std": list(known["std"])})
    except ValueError:
        pass
    height, width, channels = _input_layout(model)
    cfg["input_size"][0] = channels
    if height and width:  # a model built for one size
        cfg["input_size"] = [channels, height, width]
    config = {
        "architecture": name,
        "num_classes": structure["classes"],
        "num_features": spec.num_features,
        "pretrained_cfg": cfg,
        "keras_rexnet": {
            "weights": WEIGHTS_NAME,
            "family": spec.family,
            "width": spec.width,
            "ch_div": spec.ch_div,
            "include_top": structure["include_top"],
            "include_preprocessing": structure["include_preprocessing"],
            "classifier_activation": activation,
            "input_shape": list(_input_layout(model)),  # (height, width, channels)
            "in_chans": channels,
            "version": __version__,
            "keras_version": keras.__version__,
        },
    }
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / WEIGHTS_NAME, KERAS_WEIGHTS_SUFFIX) as tmp:
        model.save_weights(tmp)
    atomic_write(folder / CONFIG_NAME, (json.dumps(config, indent=2) + "\n").encode())
    return folder
