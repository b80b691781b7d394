"""ImageNet weights (``weights="imagenet"``): download, verify, convert once, cache.

Nobody hosts converted Keras files: the original PyTorch checkpoint (timm's Hugging Face
files, NAVER's Google Drive files) is downloaded, checked against what the registry knows
about it (sha256, the sha256 prefix in timm's legacy file names, size, the sha256 the Hub
announces), converted with :mod:`keras_rexnet.converters` -- which verifies the Keras model
layer by layer -- and cached as a ``.weights.h5``.

Downloads go through maintained clients, by the source's address:

- ``hf://ORG/NAME/FILE`` and ``https://huggingface.co/ORG/NAME/resolve/REV/FILE``:
  ``huggingface_hub.hf_hub_download`` (:mod:`keras_rexnet.hub`). It honours ``HF_ENDPOINT``,
  ``HF_HOME``, ``HF_HUB_OFFLINE`` and ``HF_TOKEN`` and keeps the file in the Hugging Face cache
  that timm shares: weights timm already downloaded are not downloaded again;
- ``https://drive.google.com/...``: ``gdown`` (Google Drive's confirmation pages included);
- other ``http(s)://`` addresses: ``gdown`` too (its plain downloader);
- ``file://`` addresses and absolute paths: used where they are, never changed.

Cache layout, in ``$KERAS_HOME/models/keras_rexnet`` (``~/.keras`` by default)::

    rexnet_lite_100.nav_in1k-1a2b3c4d.pth                 a downloaded source (not Hub files)
    rexnet_lite_100.nav_in1k-1a2b3c4d-<sha256[:16]>-c1-k0.1.0.weights.h5   converted

(``1a2b3c4d``: the start of the sha256 of the source's address). The converted file is keyed
by the address, the source's sha256, :data:`CONVERTER_VERSION` and the package version: a second
call only finds it (no network, no hashing), and a new converter converts again from the
cached source. Files are written under unique temporary names and renamed into place only when
complete and checked (:func:`keras_rexnet.files.atomic_path`); one process at a time fills the
cache for a model (``filelock.FileLock`` on ``.locks/KEY.lock``), so concurrent processes end
with one valid file and wait for each other instead of downloading twice. A Hub file that
fails a check is removed from the Hugging Face cache too, so the next call downloads it again.

The registry is ``keras_rexnet/data/pretrained.json``; ``KERAS_REXNET_REGISTRY`` names a
JSON file of the same schema that overrides or extends it, e.g.
``{"rexnet_100": {"url": "https://mirror.example/rexnet_100.safetensors", "sha256": "..."}}``
(``url``: ``http(s)://``, ``hf://ORG/NAME/FILE``, ``file://`` or an absolute path).
"""

import contextlib
import copy
import functools
import glob
import hashlib
import json
import os
import pathlib
import posixpath
import re
import sys
import urllib.parse
import urllib.request

from keras_rexnet import hub
from keras_rexnet import spec as specs
from keras_rexnet.errors import CheckpointError
from keras_rexnet.files import CHECKPOINT_SUFFIXES, atomic_path

CONVERTER_VERSION = 1  # bump when the conversion changes: cached .weights.h5 are redone
REGISTRY_ENV = "KERAS_REXNET_REGISTRY"
DOWNLOAD_TIMEOUT = 60  # seconds without data before a download is abandoned
CHUNK = 1 << 20
DRIVE_HOSTS = ("drive.google.com", "docs.google.com", "drive.usercontent.google.com")
_REGISTRY_FILE = pathlib.Path(__file__).parent / "data" / "pretrained.json"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CFG_DEFAULTS = {"num_classes": 1000, "input_size": [224, 224], "crop_pct": 0.875,
                 "crop_mode": "center", "interpolation": "bicubic",
                 "mean": list(specs.IMAGENET_MEAN), "std": list(specs.IMAGENET_STD)}


class PretrainedError(CheckpointError):
    """Pretrained weights that cannot be had: unknown name, failed download, hash
    mismatch, failed conversion. A ``ValueError``; the message names the URL(s), what
    went wrong, and where a manually downloaded file can go."""

    def __init__(self, message, url=None, manual_path=None):
        self.url = url
        self.manual_path = str(manual_path) if manual_path is not None else None
        super().__init__(None, message)


class _SourceFailed(Exception):
    """One source failed (download, check or conversion); the next one is tried."""


# --------------------------------------------------------------------------------------
# The registry.

@functools.lru_cache(maxsize=1)
def _packaged():
    with open(_REGISTRY_FILE, encoding="utf-8") as f:
        return json.load(f)["models"]


def _check_source(where, source):
    if not isinstance(source, dict) or not isinstance(source.get("url"), str) \
            or not source["url"]:
        raise PretrainedError(f"{where}: each source needs a 'url' string, got {source!r}")
    sha = source.get("sha256")
    if sha is not None:
        if not isinstance(sha, str) or not _SHA256.fullmatch(sha.lower()):
            raise PretrainedError(f"{where}: 'sha256' must be 64 hex digits or null, got {sha!r}")
        source["sha256"] = sha.lower()
    prefix = source.get("sha256_prefix")
    if prefix is not None and not (isinstance(prefix, str) and
                                   re.fullmatch(r"[0-9a-fA-F]{1,64}", prefix)):
        raise PretrainedError(f"{where}: 'sha256_prefix' must be hex digits, got {prefix!r}")
    size = source.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise PretrainedError(f"{where}: 'size' must be a positive integer or null, got {size!r}")
    try:
        _kind(source["url"])
    except ValueError as e:
        raise PretrainedError(f"{where}: {e}") from None
    return source


def _override_sources(where, over):
    if "sources" in over:
        sources = over.pop("sources")
    elif "urls" in over:
        urls = over.pop("urls")
        if not isinstance(urls, list):
            raise PretrainedError(f"{where}: 'urls' must be a list")
        sources = [u if isinstance(u, dict) else {"url": u} for u in urls]
    else:
        sources = [{"url": over.pop("url")}]
        for field in ("sha256", "size", "filename", "layout", "sha256_prefix"):
            if field in over:
                sources[0][field] = over.pop(field)
    if not isinstance(sources, list):
        raise PretrainedError(f"{where}: 'sources' must be a list")
    out = []
    for s in sources:
        s = dict(s) if isinstance(s, dict) else s
        s = _check_source(where, s)
        s.setdefault("sha256", None)
        s.setdefault("origin", f"{REGISTRY_ENV}")
        out.append(s)
    return out


def _defaults(entries):
    return {e["model"]: key for key, e in entries.items() if e.get("default")}


def _apply_override(entries, path):
    try:
        with open(path, encoding="utf-8") as f:
            user = json.load(f)
    except OSError as e:
        raise PretrainedError(f"{REGISTRY_ENV}={path}: cannot read it ({e.strerror or e})") \
            from None
    except ValueError as e:
        raise PretrainedError(f"{REGISTRY_ENV}={path}: not valid JSON ({e})") from None
    if isinstance(user, dict) and isinstance(user.get("models"), dict):
        user = user["models"]  # the packaged file's own schema works too
    if not isinstance(user, dict):
        raise PretrainedError(f"{REGISTRY_ENV}={path}: expected a JSON object "
                              '{"model_name": {"url": ..., "sha256": ...}}')
    for key, over in user.items():
        if key.startswith("_"):
            continue  # comments
        where = f"{REGISTRY_ENV}={path}, entry {key!r}"
        if not isinstance(over, dict):
            raise PretrainedError(f"{where}: expected an object, got {over!r}")
        over = copy.deepcopy(over)
        target = key if key in entries else _defaults(entries).get(key)
        if target is None:
            base = over.get("model") or key.partition(".")[0]
            if base not in specs.MODEL_NAMES:
                raise PretrainedError(f"{where}: unknown model {base!r}; known models: "
                                      f"{', '.join(specs.MODEL_NAMES)}")
            has_default = base in _defaults(entries)
            entries[key] = dict(copy.deepcopy(_CFG_DEFAULTS), model=base, sources=[],
                                default=not has_default)
            target = key
        entry = entries[target]
        if {"url", "urls", "sources"} & set(over):
            entry["sources"] = _override_sources(where, over)
        elif "sha256" in over or "size" in over:
            raise PretrainedError(f"{where}: 'sha256'/'size' need the 'url' they belong to")
        over.pop("model", None)
        entry.update(over)


def registry():
    """Every known pretrained entry, ``{"model.tag": entry}``, with ``KERAS_REXNET_REGISTRY``
    applied. Returns a copy."""
    entries = copy.deepcopy(_packaged())
    path = os.environ.get(REGISTRY_ENV)
    if path:
        _apply_override(entries, path)
    for key, entry in entries.items():
        for i, source in enumerate(entry.get("sources", [])):
            _check_source(f"registry entry {key!r} source {i}", source)
    return entries


def _resolve(name):
    """``(key, entry)`` for a model name (its default tag) or a ``model.tag`` key."""
    if not isinstance(name, str):
        raise PretrainedError(f"a model name must be a string, got {name!r}")
    entries = registry()
    if name in entries:
        return name, entries[name]
    defaults = _defaults(entries)
    if name in defaults:
        return defaults[name], entries[defaults[name]]
    base = name.partition(".")[0]
    available = sorted(defaults)
    tags = sorted(k for k, e in entries.items() if e["model"] == base)
    if tags:
        raise PretrainedError(f"no pretrained weights {name!r}; {base} has: {', '.join(tags)}")
    known = base in specs.MODEL_NAMES or re.fullmatch(r"rexnet\w*", base)
    if known:
        raise PretrainedError(
            f"no pretrained weights are published for {name}; weights='imagenet' works for "
            f"{', '.join(available)}. Use weights=None, weights='/path/to/checkpoint', or add "
            f"an entry to the JSON file named by {REGISTRY_ENV}.")
    raise PretrainedError(f"unknown model {name!r}; models with pretrained weights: "
                     f"{', '.join(available)}")


def pretrained_cfg(name):
    """The pretrained configuration of ``name`` (``"rexnet_150"`` or a tagged
    ``"rexnetr_200.sw_in12k"``), as timm's ``pretrained_cfg`` has it.

    Returns a dict: ``name`` (``model.tag``), ``model``, ``tag``, ``num_classes``,
    ``input_size`` and ``test_input_size`` (height, width), ``crop_pct``,
    ``test_crop_pct``, ``crop_mode``, ``interpolation``, ``mean``, ``std`` (RGB in [0, 1]),
    ``license``, ``urls``, ``sha256`` (per URL; None where not known), ``top1`` (ImageNet-1k
    top-1 % per URL, from its source) and ``sources`` (the registry's records).
    Raises ``ValueError`` for names without published weights.
    """
    key, entry = _resolve(name)
    cfg = {"name": key, "model": entry["model"], "tag": key.partition(".")[2] or None}
    for field in ("num_classes", "input_size", "test_input_size", "crop_pct", "test_crop_pct",
                  "crop_mode", "interpolation", "mean", "std", "license", "note"):
        value = entry.get(field, _CFG_DEFAULTS.get(field))
        if value is not None:
            cfg[field] = tuple(value) if isinstance(value, list) else value
    sources = entry.get("sources", [])
    cfg["urls"] = [s["url"] for s in sources]
    cfg["sha256"] = [s.get("sha256") for s in sources]
    cfg["top1"] = [s.get("top1") for s in sources]
    cfg["sources"] = sources
    return cfg


# --------------------------------------------------------------------------------------
# Sources: what kind of address, and where its files go.

def _kind(url):
    """``"hub"``, ``"drive"``, ``"http"`` or ``"local"``; ``ValueError`` for other addresses."""
    if hub.is_hub_url(url):
        if hub.parse(url).filename is None:  # raises ValueError for a malformed one
            raise ValueError(f"{url}: a source is one file: hf://ORG/NAME[@REVISION]/FILE")
        return "hub"
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in ("http", "https"):
        return "drive" if (parts.hostname or "") in DRIVE_HOSTS else "http"
    if parts.scheme == "file" or os.path.isabs(url):
        return "local"
    raise ValueError(f"unsupported address {url!r}: expected http(s)://, hf://ORG/NAME/FILE, "
                     "file:// or an absolute path")


def _local_path(url):
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        return pathlib.Path(urllib.request.url2pathname(parts.path))
    return pathlib.Path(url)


def _url_tag(source):
    return hashlib.sha256(source["url"].encode()).hexdigest()[:8]


def cache_dir():
    """``$KERAS_HOME/models/keras_rexnet`` (``KERAS_HOME`` read at call time, as Keras
    falls back: ``~/.keras``, or ``/tmp/.keras`` when the home folder is not writable)."""
    home = os.environ.get("KERAS_HOME")
    if not home:
        base = os.path.expanduser("~")
        if not os.access(base, os.W_OK):
            base = "/tmp"
        home = os.path.join(base, ".keras")
    return pathlib.Path(home) / "models" / "keras_rexnet"


def _source_path(cache, key, source):
    """Where a downloaded source is kept -- and where a file downloaded by hand can go."""
    url = source["url"]
    name = source.get("filename") or posixpath.basename(urllib.parse.urlsplit(url).path)
    suffix = pathlib.PurePosixPath(name).suffix.lower()
    if suffix not in CHECKPOINT_SUFFIXES:
        suffix = ".pth"
    return cache / f"{key}-{_url_tag(source)}{suffix}"


def _converted_tail():
    from keras_rexnet import __version__

    return f"c{CONVERTER_VERSION}-k{__version__}.weights.h5"


def _converted_path(cache, key, source, sha):
    return cache / f"{key}-{_url_tag(source)}-{sha[:16]}-{_converted_tail()}"


def _cached(cache, key, source):
    """The converted file of ``source`` if the cache holds it (no lock, no network: files
    only ever appear complete). With a pinned sha256, a conversion of the same file from
    another address counts too."""
    k = glob.escape(key)
    if source.get("sha256"):
        pattern = f"{k}-*-{source['sha256'][:16]}-{_converted_tail()}"
    else:
        pattern = f"{k}-{_url_tag(source)}-*-{_converted_tail()}"
    found = []
    for path in cache.glob(pattern):
        with contextlib.suppress(FileNotFoundError):
            found.append((path.stat().st_mtime_ns, path))
    return max(found)[1] if found else None


def _sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_file(source, sha, size, announced):
    """What is wrong with a downloaded (or found) file, or None."""
    expected = source.get("sha256")
    if expected and sha != expected:
        return f"sha256 mismatch: the registry pins {expected}, the file ({size:,} bytes) has {sha}"
    prefix = (source.get("sha256_prefix") or "").lower()
    if prefix and not sha.startswith(prefix):
        return (f"sha256 mismatch: the file's sha256 {sha} does not start with {prefix} "
                "(the hash in its published file name)")
    if source.get("size") and size != source["size"]:
        return f"size mismatch: {size:,} bytes, the registry says {source['size']:,}"
    if announced.get("sha256") and sha != announced["sha256"]:
        return (f"sha256 mismatch: the server announced {announced['sha256']}, the file has "
                f"{sha}")
    return None


# --------------------------------------------------------------------------------------
# Getting a source's file.

def _one_line(e):
    return " ".join(str(e).split()) or type(e).__name__


def _connection_problem(e):
    """The root of a ``requests`` connection error (``Connection refused``), else its text."""
    found = re.findall(r"\[Errno -?\d+\] ([^'\")\]]+)", str(e))
    return found[-1].strip() if found else _one_line(e)[:200]


def _drive_problem(e):
    text = _one_line(e)
    if "too many users" in text.lower() or "quota" in text.lower():
        return ("Google Drive refuses the download for now (download quota exceeded: too many "
                "users downloaded the file recently); try again later or download it by hand")
    text = text.removeprefix("Failed to retrieve file url: ")
    return f"Google Drive did not give the file ({text[:300]})"


def _download(source, dest, verbose=True):
    """Download a Google Drive or plain HTTP(S) ``source`` to ``dest`` with gdown (written
    under a temporary name, renamed once complete and checked); returns the sha256."""
    import gdown
    import requests

    url = source["url"]
    file_id = gdown.parse_url.parse_url(url)[0] if _kind(url) == "drive" else None
    digest = hashlib.sha256()
    if verbose:
        print(f"Downloading data from {url}")
    try:
        with atomic_path(dest) as tmp:
            with open(tmp, "wb") as f:
                gdown.download(**({"id": file_id} if file_id else {"url": url}), output=f,
                               quiet=not verbose, use_cookies=False, timeout=DOWNLOAD_TIMEOUT,
                               hasher=digest, log_messages={"start": "", "output": ""})
                f.flush()
                os.fsync(f.fileno())
            sha, size = digest.hexdigest(), os.path.getsize(tmp)
            problem = _check_file(source, sha, size, {})
            if problem:
                raise _SourceFailed(problem)
        return sha
    except gdown.exceptions.FileURLRetrievalError as e:
        raise _SourceFailed(_drive_problem(e)) from None
    except gdown.exceptions.DownloadError as e:
        text = _one_line(e).partition(". The received bytes")[0].rstrip(".")
        what = "truncated download" if "incomplete" in text else "download failed"
        raise _SourceFailed(f"{what} ({text})") from None
    except requests.exceptions.HTTPError as e:
        r = e.response
        raise _SourceFailed(f"HTTP error {r.status_code} {r.reason}" if r is not None
                            else f"HTTP error ({_one_line(e)})") from None
    except requests.exceptions.Timeout:
        raise _SourceFailed(f"no data for {DOWNLOAD_TIMEOUT} s (timed out)") from None
    except requests.exceptions.ConnectionError as e:
        raise _SourceFailed(f"cannot connect ({_connection_problem(e)})") from None
    except requests.exceptions.RequestException as e:
        raise _SourceFailed(f"download failed ({type(e).__name__}: {_one_line(e)[:300]})") \
            from None
    except OSError as e:
        raise _SourceFailed(f"download failed ({e})") from None


def _from_hub(source, verbose=True):
    """The Hub file of ``source`` in the Hugging Face cache, checked; ``(path, sha)``. A file
    that fails a check is removed from that cache (the next call downloads it again)."""
    ref = hub.parse(source["url"])
    if verbose and hub.cached(ref) is None:
        print(f"Downloading data from {source['url']} (huggingface_hub)")
    try:
        path = hub.download(ref)
    except hub.HubError as e:
        raise _SourceFailed(e.cause) from None
    sha = _sha256_file(path)
    problem = _check_file(source, sha, os.path.getsize(path),
                          {"sha256": hub.announced_sha256(path)})
    if problem:
        hub.forget(path)
        raise _SourceFailed(f"{problem} (removed from the Hugging Face cache)")
    return path, sha


def _from_local(source):
    path = _local_path(source["url"])
    if not path.is_file():
        raise _SourceFailed("no such file")
    sha = _sha256_file(path)
    problem = _check_file(source, sha, path.stat().st_size, {})
    if problem:
        raise _SourceFailed(problem)
    return path, sha


# --------------------------------------------------------------------------------------
# Converting and filling the cache.

def _convert(key, entry, source, src, out, verbose=True):
    """Convert ``src`` into ``out`` (verified layer by layer) via a temporary name."""
    if verbose:
        print(f"Converting {src.name} to Keras, verifying it layer by layer")
    try:
        with atomic_path(out, ".weights.h5") as tmp:
            try:
                from keras_rexnet.converters.cli import convert

                size = tuple(entry.get("input_size") or (224, 224))[-2:]
                result = convert(src, tmp, model_name=entry["model"], verify=True,
                                 input_size=size)
            except ImportError as e:
                raise PretrainedError(
                    f"converting {key} needs {e.name or 'a missing package'} ({e}), one of "
                    "keras-rexnet's own dependencies: reinstall keras-rexnet. The checkpoint is at {src}; or convert it "
                    "elsewhere (keras-rexnet convert) and pass "
                    "weights='/path/to/file.weights.h5'.", url=source["url"], manual_path=src) \
                    from None
            classes = result.report.logits.shape[-1]
            if classes != entry.get("num_classes", 1000):
                raise _SourceFailed(f"the checkpoint has {classes} classes, the registry says "
                                    f"{entry.get('num_classes', 1000)}")
            layout = source.get("layout")
            if layout and result.layout != layout:
                raise _SourceFailed(f"the checkpoint has the {result.layout} layout, the "
                                    f"registry says {layout}")
    except CheckpointError as e:  # e.path is our temporary file, removed: give the problem
        if isinstance(e, PretrainedError):
            raise
        raise _SourceFailed(f"the file does not convert: {e.problem}") from None
    if verbose:
        result.output = str(out)
        print(result.summary())


def _remove_stale(cache, key, src):
    """Temporary files of ``key`` left by a killed process. Only called under ``key``'s lock,
    which every writer of these files holds."""
    k = glob.escape(key)
    for pattern in (f".{glob.escape(src.name)}.*", f".{k}-*.weights.h5", f"..{k}-*.weights.h5"):
        for stale in cache.glob(pattern):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()


def _fill(cache, key, entry, source, verbose=True):
    """Make sure the cache holds ``source`` converted; returns its path. Caller locks."""
    src = _source_path(cache, key, source)
    _remove_stale(cache, key, src)
    path, ours = None, False
    if src.is_file():  # downloaded earlier, or put there by hand
        sha = _sha256_file(src)
        problem = _check_file(source, sha, src.stat().st_size, {})
        if problem:
            if verbose:
                print(f"Removing {src}: {problem}", file=sys.stderr)
            src.unlink()
        else:
            path, ours = src, True
    if path is None:
        kind = _kind(source["url"])
        if kind == "hub":
            path, sha = _from_hub(source, verbose=verbose)
        elif kind == "local":
            path, sha = _from_local(source)
        else:
            sha = _download(source, src, verbose=verbose)
            path, ours = src, True
    out = _converted_path(cache, key, source, sha)
    if out.is_file():
        return out
    try:
        _convert(key, entry, source, path, out, verbose=verbose)
    except _SourceFailed:
        if ours:  # not a usable checkpoint: nothing stays in our cache
            with contextlib.suppress(FileNotFoundError):
                src.unlink()
        raise
    return out


def _failure(key, entry, cache, errors):
    sources = entry.get("sources", [])
    manual = _source_path(cache, key, sources[0]) if sources else None
    what = "; ".join(f"{url}: {problem}" for url, problem in errors)
    page = next((s.get("page") for s in sources if s.get("page")), None)
    hint = (f" Nothing was saved. To use a file you downloaded yourself, put it at {manual} "
            f"(it is checked and converted on the next call)")
    if page:
        hint += f"; the official file is linked from {page}"
    hint += ", or pass weights='/path/to/checkpoint' (.pth/.safetensors/.weights.h5) instead."
    return PretrainedError(f"could not get the pretrained weights {key}: {what}.{hint}",
                           url=errors[0][0] if errors else None, manual_path=manual)


def fetch_weights(name, verbose=True, _stale=None):
    """Path of the cached, converted ``.weights.h5`` of ``name`` (full model with its
    classifier), downloading and converting it first if needed.

    ``name``: a model name (its default weights) or ``"model.tag"``. For tags whose
    classes are not ImageNet-1k (``rexnetr_200.sw_in12k``: 11821) build the model with
    ``classes=pretrained_cfg(name)["num_classes"]`` and ``weights=fetch_weights(name)``.
    Raises :class:`PretrainedError` (a ``ValueError``).
    """
    import filelock

    key, entry = _resolve(name)
    sources = entry.get("sources") or []
    cache = cache_dir()
    if not sources:
        raise PretrainedError(f"the registry has no source URL for {key}")
    if _stale is None and cache.is_dir():
        for source in sources:
            found = _cached(cache, key, source)
            if found is not None:
                return found
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PretrainedError(f"cannot create the cache folder {cache} ({e}); set KERAS_HOME "
                              "to a writable folder") from None
    errors = []
    locks = cache / ".locks"  # filelock keeps a lock's file (removing it would race)
    locks.mkdir(exist_ok=True)
    with filelock.FileLock(locks / f"{key}.lock"):
        if _stale is not None:
            with contextlib.suppress(FileNotFoundError):
                pathlib.Path(_stale).unlink()
        for source in sources:
            found = _cached(cache, key, source)  # another process may have filled it
            if found is not None:
                return found
        for source in sources:
            try:
                return _fill(cache, key, entry, source, verbose=verbose)
            except _SourceFailed as e:
                errors.append((source["url"], str(e)))
                if verbose and len(sources) > 1:
                    print(f"{source['url']}: {e}", file=sys.stderr)
    raise _failure(key, entry, cache, errors)


def cached_source(name):
    """Path of the original (PyTorch) checkpoint of ``name`` if it is cached, or None (no
    network): a file downloaded into our cache, a Hub file in the Hugging Face cache, or a
    local source. :func:`fetch_weights` keeps it beside the converted one (the demo converts
    it again to show the per-layer report)."""
    key, entry = _resolve(name)
    cache = cache_dir()
    for source in entry.get("sources") or []:
        path = _source_path(cache, key, source)
        if path.is_file():
            return path
        kind = _kind(source["url"])
        if kind == "hub":
            path = hub.cached(hub.parse(source["url"]))
        elif kind == "local":
            path = _local_path(source["url"])
        if path is not None and path.is_file():
            return path
    return None


# --------------------------------------------------------------------------------------
# Loading into a model.

def load_imagenet(model, spec, model_name, include_top=True):
    """``weights="imagenet"``: fill ``model`` (built from ``spec``) with the pretrained
    weights of ``model_name``, downloading and converting them once."""
    from keras_rexnet.weights import load_saved_model_weights

    key, entry = _resolve(model_name)
    want = specs.spec_by_name(entry["model"])
    if want != spec:
        raise PretrainedError(f"the pretrained {key} is a {entry['model']} (width "
                              f"{want.width:g}), not this model (width {spec.width:g})")
    classes = entry.get("num_classes", 1000)
    if include_top and model.get_layer("predictions").units != classes:
        raise PretrainedError(
            f"{key} has {classes} classes, the model {model.get_layer('predictions').units}: "
            f"build it with classes={classes} and weights=fetch_weights({key!r}), or "
            "include_top=False")
    path = fetch_weights(key)

    def copy(path):  # the converted file holds the full model: its twin gives every layer
        load_saved_model_weights(model, spec, path, include_top=True, classes=classes,
                                 label=f"the pretrained {key} ({path})")

    try:
        copy(path)
    except CheckpointError:
        raise
    except (ValueError, OSError, KeyError) as e:  # a damaged cache file: convert again
        print(f"The cached {path.name} does not load ({type(e).__name__}: {e}); converting "
              "again", file=sys.stderr)
        path = fetch_weights(key, _stale=path)
        copy(path)
    return "imagenet"
