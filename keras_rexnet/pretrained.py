"""ImageNet weights (``weights="imagenet"``): download, verify, convert once, cache.

Nobody hosts converted Keras files: the original PyTorch checkpoint (timm's Hugging Face
files, NAVER's Google Drive files) is downloaded, checked against what the registry
knows about it (sha256, the sha256 prefix in timm's legacy file names, size, the server's
announced hash), converted with :mod:`keras_rexnet.converters` -- which verifies the
Keras model against PyTorch layer by layer -- and cached as a ``.weights.h5``.

Cache layout, in ``$KERAS_HOME/models/keras_rexnet`` (``~/.keras`` by default)::

    rexnet_100.nav_in1k-1a2b3c4d.safetensors          the source, as downloaded
    rexnet_100.nav_in1k-<sha256[:16]>-c1-k0.1.0.weights.h5   converted (full model, 1000 classes)

The converted file is keyed by the source's sha256, :data:`CONVERTER_VERSION` and the
package version, so a second call reads only the cache (no network) and a new converter
converts again from the cached source. Every file is written under a unique temporary
name and renamed into place only when complete and verified; one process at a time fills
the cache for a model (``fcntl.flock`` on a lock file), so concurrent processes end with
one valid file and wait for each other instead of downloading twice.

The registry is ``keras_rexnet/data/pretrained.json``; ``KERAS_REXNET_REGISTRY`` names a
JSON file of the same schema that overrides or extends it, e.g.
``{"rexnet_100": {"url": "https://mirror.example/rexnet_100.safetensors", "sha256": "..."}}``.
"""

import contextlib
import copy
import functools
import hashlib
import html
import html.parser
import http.client
import http.cookiejar
import json
import os
import pathlib
import posixpath
import re
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request

from keras_rexnet import spec as specs
from keras_rexnet.errors import CheckpointError

try:  # POSIX; elsewhere the atomic renames alone keep the cache correct
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

CONVERTER_VERSION = 1  # bump when the conversion changes: cached .weights.h5 are redone
REGISTRY_ENV = "KERAS_REXNET_REGISTRY"
DOWNLOAD_TIMEOUT = 60  # seconds without data before a download is abandoned
CHUNK = 1 << 20
USER_AGENT = "keras-rexnet (+https://github.com/clovaai/rexnet)"
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".safetensors")
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
# The cache.

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
    url = source["url"]
    name = source.get("filename") or posixpath.basename(urllib.parse.urlsplit(url).path)
    suffix = pathlib.PurePosixPath(name).suffix.lower()
    if suffix not in CHECKPOINT_SUFFIXES:
        suffix = ".pth"
    return cache / f"{key}-{hashlib.sha256(url.encode()).hexdigest()[:8]}{suffix}"


def _converted_path(cache, key, sha):
    from keras_rexnet import __version__

    return cache / f"{key}-{sha[:16]}-c{CONVERTER_VERSION}-k{__version__}.weights.h5"


def _tmp_name(path, suffix):
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{suffix}")


def _sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def _locked(path):
    """Exclusive lock on ``path`` between processes; the lock file is removed afterwards.

    A waiter may have opened a lock file that the holder then removed: after locking it
    checks that the path still names the file it holds, and starts over otherwise.
    """
    if fcntl is None:  # pragma: no cover
        yield
        return
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            held = os.fstat(fd)
            try:
                now = os.stat(path)
            except FileNotFoundError:
                now = None
        except BaseException:
            os.close(fd)
            raise
        if now is not None and (now.st_ino, now.st_dev) == (held.st_ino, held.st_dev):
            break
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)


# --------------------------------------------------------------------------------------
# Downloading.
#
# Our own urllib code rather than keras.utils.get_file, which falls short here:
# - get_file writes straight to its final name and, without a known hash (the case for
#   most of these files), trusts whatever a killed process left there; we stream into a
#   unique temporary name and rename only after every check passed;
# - urlretrieve has no timeout (a stalled server hangs forever) and raises a bare
#   Exception; we need one clear error per cause (HTTP status, refused, truncated, hash);
# - Google Drive answers large files with an HTML "can't scan for viruses" page whose
#   form must be submitted (confirm token, uuid) to get the file;
# - the sha256 is computed while downloading, and Hugging Face's redirect announces the
#   file's sha256 (X-Linked-Etag) and size, which we check when the registry has none.
# The progress bar is Keras' own Progbar, as get_file shows.

class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects and remembers what they announce (Hugging Face's LFS hash)."""

    def __init__(self):
        super().__init__()
        self.announced = {}

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        etag = (headers.get("X-Linked-Etag") or "").strip()
        etag = etag.removeprefix("W/").strip('"').lower()
        if _SHA256.fullmatch(etag):
            self.announced["sha256"] = etag
        size = headers.get("X-Linked-Size")
        if size and size.strip().isdigit():
            self.announced["size"] = int(size)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class _Forms(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms = []
        self.links = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"id": attrs.get("id"), "action": attrs.get("action"),
                               "inputs": {}})
        elif tag == "input" and self.forms and attrs.get("name"):
            self.forms[-1]["inputs"][attrs["name"]] = attrs.get("value") or ""
        elif tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


def _confirm_url(url, page, jar):
    """The URL that a Google Drive confirmation page leads to, or None."""
    parser = _Forms()
    parser.feed(page)
    forms = [f for f in parser.forms if f["id"] == "download-form"] or \
            [f for f in parser.forms if "confirm" in f["inputs"]]
    if forms:  # drive.usercontent.google.com: submit the form (id, export, confirm, uuid)
        action = urllib.parse.urljoin(url, forms[0]["action"] or url)
        return action.split("?")[0] + "?" + urllib.parse.urlencode(forms[0]["inputs"])
    for cookie in jar:  # the older flow: a download_warning cookie holds the token
        if cookie.name.startswith("download_warning"):
            parts = urllib.parse.urlsplit(url)
            query = dict(urllib.parse.parse_qsl(parts.query))
            query["confirm"] = cookie.value
            return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
    for href in parser.links:  # ... or a link carrying confirm=
        href = html.unescape(href)
        if "confirm=" in href and "export=download" in href:
            return urllib.parse.urljoin(url, href)
    return None


def _html_problem(page):
    parser = _Forms()
    parser.feed(page)
    title = " ".join(parser.title.split()) or "untitled"
    text = page.lower()
    if "quota" in text or "too many users" in text:
        return ("Google Drive refuses the download for now (download quota exceeded: too many "
                "users downloaded the file recently); try again later or download it by hand")
    if "sign in" in text or "accounts.google.com" in text:
        return "the server asks to sign in (the file is not shared publicly)"
    return f"the server sent an HTML page ({title!r}) instead of the checkpoint"


def _open(url):
    """Open ``url`` (following Google Drive's confirmation); ``(response, announced)``."""
    jar = http.cookiejar.CookieJar()
    redirects = _Redirects()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), redirects)
    for _ in range(4):
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        response = opener.open(request, timeout=DOWNLOAD_TIMEOUT)
        if response.headers.get_content_type() != "text/html":
            return response, redirects.announced
        try:
            page = response.read(2 << 20).decode("utf-8", "replace")
        finally:
            response.close()
        following = _confirm_url(response.geturl(), page, jar)
        if following is None:
            raise _SourceFailed(_html_problem(page))
        url = following
    raise _SourceFailed("the server kept answering with confirmation pages")


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
    if announced.get("size") is not None and size != announced["size"]:
        return (f"truncated or wrong file: {size:,} bytes, the server announced "
                f"{announced['size']:,}")
    if announced.get("sha256") and sha != announced["sha256"]:
        return (f"sha256 mismatch: the server announced {announced['sha256']}, the file has "
                f"{sha}")
    return None


def _progbar(total, verbose):
    if not verbose:
        return lambda n: None
    import keras

    bar = keras.utils.Progbar(total)
    return bar.update


def _download(source, dest, verbose=True):
    """Download ``source`` to ``dest`` via a temporary file; returns the sha256."""
    url = source["url"]
    tmp = _tmp_name(dest, ".part")
    received, total = 0, None
    try:
        if verbose:
            print(f"Downloading data from {url}")
        response, announced = _open(url)
        with response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            update = _progbar(total, verbose)
            digest = hashlib.sha256()
            with open(tmp, "wb") as f:
                while True:
                    chunk = response.read(CHUNK)
                    if not chunk:
                        break
                    f.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    update(received)
                f.flush()
                os.fsync(f.fileno())
        if total is not None and received != total:
            raise _SourceFailed(f"truncated download: the connection closed after "
                                f"{received:,} of {total:,} bytes")
        sha = digest.hexdigest()
        problem = _check_file(source, sha, received, announced)
        if problem:
            raise _SourceFailed(problem)
        os.replace(tmp, dest)
        return sha
    except http.client.IncompleteRead as e:
        got = received + len(e.partial or b"")
        raise _SourceFailed(f"truncated download: the connection closed after {got:,}"
                            + (f" of {total:,} bytes" if total else " bytes")) from None
    except urllib.error.HTTPError as e:
        raise _SourceFailed(f"HTTP error {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, TimeoutError):
            raise _SourceFailed(f"no answer within {DOWNLOAD_TIMEOUT} s (timed out)") from None
        if isinstance(reason, OSError) and reason.strerror:
            reason = reason.strerror
        raise _SourceFailed(f"cannot connect ({reason})") from None
    except TimeoutError:
        raise _SourceFailed(f"no data for {DOWNLOAD_TIMEOUT} s (timed out after "
                            f"{received:,} bytes)") from None
    except (http.client.HTTPException, ConnectionError) as e:
        raise _SourceFailed(f"the connection failed after {received:,} bytes "
                            f"({type(e).__name__}: {e})") from None
    except OSError as e:
        raise _SourceFailed(f"download failed ({e})") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


# --------------------------------------------------------------------------------------
# Converting and filling the cache.

def _convert(key, entry, source, src, out, verbose=True):
    """Convert ``src`` into ``out`` (verified against PyTorch) via a temporary name."""
    tmp = _tmp_name(out, ".weights.h5")
    if verbose:
        print(f"Converting {src.name} to Keras, verifying it against PyTorch layer by layer")
    try:
        try:
            # Verification runs the PyTorch model (timm's own for the timm layout, which
            # the converter imports when it needs it).
            import torch  # noqa: F401

            from keras_rexnet.converters.cli import convert

            size = tuple(entry.get("input_size") or (224, 224))[-2:]
            result = convert(src, tmp, model_name=entry["model"], verify=True, input_size=size)
        except ImportError as e:
            raise PretrainedError(
                f"converting {key} verifies it against PyTorch, which needs torch and timm "
                f"({e}): pip install 'keras-rexnet[convert]'. The downloaded checkpoint stays "
                f"at {src}; or convert it elsewhere (keras-rexnet convert) and pass "
                "weights='/path/to/file.weights.h5'.", url=source["url"], manual_path=src) \
                from None
        classes = result.report.logits.shape[-1]
        if classes != entry.get("num_classes", 1000):
            raise _SourceFailed(f"the checkpoint has {classes} classes, the registry says "
                                f"{entry.get('num_classes', 1000)}")
        layout = source.get("layout")
        if layout and result.layout != layout:
            raise _SourceFailed(f"the checkpoint has the {result.layout} layout, the registry "
                                f"says {layout}")
        os.replace(tmp, out)
        if verbose:
            result.output = str(out)
            print(result.summary())
    except CheckpointError as e:  # e.path is our cache file, removed: give the problem only
        raise _SourceFailed(f"the file does not convert: {e.problem}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _cached(cache, key, source):
    """The converted file of ``source`` if the cache already holds it (no lock needed:
    files only ever appear complete)."""
    src = _source_path(cache, key, source)
    if source.get("sha256"):
        out = _converted_path(cache, key, source["sha256"])
        return out if out.is_file() else None
    if not src.is_file():
        return None
    try:
        out = _converted_path(cache, key, _sha256_file(src))
    except FileNotFoundError:  # removed meanwhile by a process that found it broken
        return None
    return out if out.is_file() else None


def _fill(cache, key, entry, source, verbose=True):
    """Make sure the cache holds ``source`` converted; returns its path. Caller locks."""
    src = _source_path(cache, key, source)
    # Downloads and conversions of this key only run under its lock, which we hold: any
    # temporary file of theirs still here was left by a killed process.
    for pattern in (f".{src.name}.*.part", f".{key}-*.weights.h5", f"..{key}-*.weights.h5"):
        for stale in cache.glob(pattern):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
    sha = None
    if src.is_file():
        sha = _sha256_file(src)
        problem = _check_file(source, sha, src.stat().st_size, {})
        if problem:
            if verbose:
                print(f"Removing {src}: {problem}", file=sys.stderr)
            src.unlink()
            sha = None
    if sha is None:
        sha = _download(source, src, verbose=verbose)
    out = _converted_path(cache, key, sha)
    if out.is_file():
        return out
    try:
        _convert(key, entry, source, src, out, verbose=verbose)
    except _SourceFailed:
        with contextlib.suppress(FileNotFoundError):
            src.unlink()  # it is not a usable checkpoint: nothing stays in the cache
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
    key, entry = _resolve(name)
    sources = entry.get("sources") or []
    cache = cache_dir()
    if not sources:
        raise PretrainedError(f"the registry has no source URL for {key}")
    if _stale is None:
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
    with _locked(cache / f".{key}.lock"):
        if _stale is not None:
            with contextlib.suppress(FileNotFoundError):
                pathlib.Path(_stale).unlink()
        for source in sources:
            found = _cached(cache, key, source)  # another process may have filled it
            if found is not None:
                return found
            try:
                return _fill(cache, key, entry, source, verbose=verbose)
            except _SourceFailed as e:
                errors.append((source["url"], str(e)))
                if verbose and len(sources) > 1:
                    print(f"{source['url']}: {e}", file=sys.stderr)
    raise _failure(key, entry, cache, errors)


def cached_source(name):
    """Path of the original (PyTorch) checkpoint of ``name`` in the cache, or None.

    :func:`fetch_weights` keeps the downloaded file beside the converted one; this finds it
    (the demo converts it again to show the per-layer report).
    """
    key, entry = _resolve(name)
    cache = cache_dir()
    for source in entry.get("sources") or []:
        path = _source_path(cache, key, source)
        if path.is_file():
            return path
    return None


# --------------------------------------------------------------------------------------
# Loading into a model.

def _copy_weights(model, spec, entry, path, include_top):
    """Load the full converted model from ``path`` into a twin and copy every layer the
    user's model has (all but the classifier when ``include_top=False``)."""
    import keras

    from keras_rexnet.model import build_from_spec

    twin = build_from_spec(spec, weights=None, include_top=True,
                           classes=entry.get("num_classes", 1000), model_name=entry["model"],
                           kernel_initializer="zeros")
    twin.load_weights(path)  # raises on a broken cache file; the caller converts again
    skip = (keras.layers.Normalization, keras.layers.Rescaling)  # constants, not learned
    names = {layer.name for layer in twin.layers}
    for layer in model.layers:
        if not layer.weights or isinstance(layer, skip):
            continue
        if layer.name not in names:
            raise PretrainedError(f"the pretrained {entry['model']} has no layer "
                                  f"{layer.name!r} for the model {model.name!r}")
        values = twin.get_layer(layer.name).get_weights()
        if [v.shape for v in values] != [tuple(w.shape) for w in layer.weights]:
            raise PretrainedError(
                f"layer {layer.name!r}: the pretrained {entry['model']} has shapes "
                f"{[v.shape for v in values]}, the model has "
                f"{[tuple(w.shape) for w in layer.weights]}")
        layer.set_weights(values)
    del twin


def load_imagenet(model, spec, model_name, include_top=True):
    """``weights="imagenet"``: fill ``model`` (built from ``spec``) with the pretrained
    weights of ``model_name``, downloading and converting them once."""
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
    try:
        _copy_weights(model, spec, entry, path, include_top)
    except PretrainedError:
        raise
    except (ValueError, OSError, KeyError) as e:  # a damaged cache file: convert again
        print(f"The cached {path.name} does not load ({type(e).__name__}: {e}); converting "
              "again", file=sys.stderr)
        path = fetch_weights(key, _stale=path)
        _copy_weights(model, spec, entry, path, include_top)
    return "imagenet"
