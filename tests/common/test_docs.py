"""README.md and docs/*.md stay current with the code.

* Every fenced ```python block runs: each file's blocks in order, in one namespace and a
  temporary working directory of its own, in a subprocess (one for all the fast stage's files,
  one per file of the slow stage). The files the snippets name (a photo, a folder of photos,
  an ImageNet-style folder, checkpoints) are made there first. ``weights="imagenet"``
  downloads seeded checkpoints from an HTTP server on 127.0.0.1 (``KERAS_REXNET_REGISTRY``), into
  a private ``KERAS_HOME``; proxies point at a closed port, so nothing reaches the internet.
  A block may be left out only with ``<!-- docs-test: not run: REASON -->`` on the line before
  its fence, for code that cannot run offline at all.
* Shell blocks are not run, but every ``keras-rexnet SUBCOMMAND`` and its options must exist in
  the command line's ``--help``, and every ``make TARGET`` in the Makefile.
* Relative links, repository paths, ``keras_rexnet.*`` names and environment variables named in
  the documents exist; the README's model table is the spec's; benchmark tables are copied from
  ``benchmarks/results``.
"""

import io
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from helpers import ROOT, official_state
from standins import FileServer

README = ROOT / "README.md"
DOCS = [README] + sorted((ROOT / "docs").glob("*.md"))
# Pages whose snippets export TFLite files, train or convert many files: the slow stage
# (make test-slow). The README's quick start, which does a bit of each, runs in the fast one.
SLOW_DOCS = {"docs/android.md", "docs/converting.md", "docs/training.md"}
NOT_RUN = re.compile(r"<!--\s*docs-test:\s*not run:\s*(\S.*?)\s*-->")
CLOSED_PORT_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens, connections fail


def rel(path):
    return path.relative_to(ROOT).as_posix()


# ------------------------------------------------------------------------------------------
# Reading the documents.

def fenced_blocks(path):
    """``[(lang, first code line number, code, not-run reason or None)]`` of a Markdown file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        opening = re.match(r"^```\s*([\w+-]*)\s*$", lines[i])
        if not opening:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), None)
        assert end is not None, f"{rel(path)}:{i + 1}: unclosed code fence"
        marker = NOT_RUN.search(lines[i - 1]) if i > 0 else None
        blocks.append((opening.group(1).lower(), i + 2, "\n".join(lines[i + 1:end]) + "\n",
                       marker.group(1) if marker else None))
        i = end + 1
    return blocks


def prose(path):
    """The text outside fenced blocks."""
    return re.sub(r"^```.*?^```[^\n]*$", "", path.read_text(encoding="utf-8"),
                  flags=re.DOTALL | re.MULTILINE)


def code_texts(path):
    """Everything that is code: fenced blocks (not Python), inline spans, indented lines."""
    out = [code for lang, _, code, _ in fenced_blocks(path) if lang != "python"]
    text = prose(path)
    out += re.findall(r"`([^`\n]+)`", text)
    out += [line for line in text.splitlines() if line.startswith("    ")]
    return out


def python_blocks(path):
    return [(line, code, reason) for lang, line, code, reason in fenced_blocks(path)
            if lang in ("python", "py")]


RUN_DOCS = [p for p in DOCS if any(reason is None for _, _, reason in python_blocks(p))]


# ------------------------------------------------------------------------------------------
# Stand-ins for the published checkpoints, served from 127.0.0.1.

def _official_manifest(entry):
    """The official configuration (``tests/data/manifests``) of a registry entry's model, or
    None (timm's ``rexnetr_*``, or a classifier other than ImageNet-1k's)."""
    from keras_rexnet import spec as specs

    spec = specs.spec_by_name(entry["model"])
    prefix = {"rexnet_lite": "rexnet_lite", "rexnet_v1": "rexnetv1"}.get(spec.family)
    if prefix is None or entry.get("num_classes", 1000) != 1000 or \
            (spec.family == "rexnet_v1" and spec.ch_div != 1):
        return None
    name = f"{prefix}_{spec.width:.1f}"
    return name if (ROOT / "tests/data/manifests" / f"{name}.json").is_file() else None


def _suffix(entry):
    return ".pth" if _official_manifest(entry) else ".safetensors"


def _stand_in(entry):
    """A seeded checkpoint of a registry entry's model, as bytes: the official layout (a .pth,
    as NAVER's files) where an official configuration exists, else timm's (safetensors)."""
    name = _official_manifest(entry)
    if name:
        import torch

        buf = io.BytesIO()
        torch.save({k: torch.from_numpy(np.asarray(v))
                    for k, v in official_state(name, 1).items()}, buf)
        return buf.getvalue()
    from safetensors.numpy import save

    from keras_rexnet import spec as specs
    from keras_rexnet.converters.seeded import seeded_state

    return save(seeded_state(specs.spec_by_name(entry["model"]), "timm", seed=1,
                             classes=entry.get("num_classes", 1000)))


@pytest.fixture(scope="module")
def offline_env(tmp_path_factory):
    """Environment for the snippet processes: stand-in downloads, private Keras and Hugging Face
    caches, the Hub offline, and proxies that lead nowhere."""
    from keras_rexnet import pretrained

    entries = pretrained.registry()
    server = FileServer()  # every registry entry points here, nowhere else
    urls = {}
    for key, entry in entries.items():
        path = f"/{key}{_suffix(entry)}"
        server.file(path, lambda entry=entry: _stand_in(entry))
        urls[key] = {"url": server.url(path)}
    folder = tmp_path_factory.mktemp("docs_env")
    registry = folder / "registry.json"
    registry.write_text(json.dumps(urls))
    env = dict(os.environ, KERAS_REXNET_REGISTRY=str(registry),
               KERAS_HOME=str(folder / "keras_home"), MPLBACKEND="Agg",
               HF_HOME=str(folder / "hf_home"), HF_HUB_OFFLINE="1",
               KERAS_BACKEND=os.environ.get("KERAS_BACKEND", "tensorflow"),
               no_proxy="127.0.0.1,localhost", NO_PROXY="127.0.0.1,localhost")
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
                 "ALL_PROXY"):
        env[name] = CLOSED_PORT_PROXY
    env.pop("REXNET_CHECKPOINT", None)
    yield env, server
    server.stop()


def test_stand_ins_convert_as_the_published_files_would():
    """The stand-in of each kind of entry is a checkpoint the converter recognizes as that model."""
    from keras_rexnet import pretrained
    from keras_rexnet.converters import detect
    from keras_rexnet.converters.checkpoint import unwrap

    entries = pretrained.registry()
    for key in ("rexnet_lite_100.nav_in1k", "rexnetr_200.sw_in12k_ft_in1k"):
        data = _stand_in(entries[key])
        if _suffix(entries[key]) == ".pth":
            import torch

            state = torch.load(io.BytesIO(data), weights_only=True)
        else:
            from safetensors.numpy import load

            state = load(data)
        found = detect(unwrap(key, state), key)
        assert found.name == entries[key]["model"], key
        assert found.classes == entries[key].get("num_classes", 1000), key


# ------------------------------------------------------------------------------------------
# Files the snippets name, made in the working directory before they run.

def _photos(n, size, seed):
    from PIL import Image
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        photo = load_sample_images().images[i % 2]
        h, w = photo.shape[:2]
        side = int(rng.integers(min(h, w) // 3, min(h, w)))
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        out.append(Image.fromarray(photo[y:y + side, x:x + side]).resize((size, size)))
    return out


def _image_folder(root, classes, per_class, seed):
    photos = _photos(len(classes) * per_class, 48, seed)
    for i, photo in enumerate(photos):
        folder = root / classes[i % len(classes)]
        folder.mkdir(parents=True, exist_ok=True)
        photo.save(folder / f"{i}.jpg")


def _save_official(name, path):
    from helpers import save_pth

    save_pth(official_state(name, 1), path)


def _timm_safetensors(path):
    from safetensors.numpy import save_file

    from keras_rexnet import spec as specs
    from keras_rexnet.converters.seeded import seeded_state

    save_file(seeded_state(specs.spec_by_name("rexnet_100"), "timm", seed=1), str(path))


def _make_photo(work):
    from PIL import Image
    from sklearn.datasets import load_sample_image

    Image.fromarray(load_sample_image("china.jpg")).resize((320, 240)).save(work / "photo.jpg")


def _make_dataset(work):
    for split, per_class in (("train", 4), ("val", 2)):
        _image_folder(work / "my_dataset" / split, ["a", "b"], per_class, seed=len(split))


def _make_checkpoints(work):
    (work / "checkpoints").mkdir()
    _save_official("rexnet_lite_1.0", work / "checkpoints" / "rexnet_lite_1.0.pth")


# The token a snippet uses -> what makes it.
MAKERS = {
    "photo.jpg": _make_photo,
    "my_photos/": lambda work: _image_folder(work / "my_photos", ["cats", "dogs"], 4, seed=0),
    "my_dataset/": _make_dataset,
    "checkpoints/": _make_checkpoints,
    "rexnetv1_1.0.pth": lambda work: _save_official("rexnetv1_1.0", work / "rexnetv1_1.0.pth"),
    "rexnet_lite_1.0.pth": lambda work: _save_official("rexnet_lite_1.0",
                                                       work / "rexnet_lite_1.0.pth"),
    "model.safetensors": lambda work: _timm_safetensors(work / "model.safetensors"),
}


# ------------------------------------------------------------------------------------------
# Running the Python blocks.

RUNNER = r"""
import contextlib, importlib, io, json, os, sys, time, traceback

def resolve(dotted):
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)

jobs = json.load(open(sys.argv[1]))
results, environ = {}, dict(os.environ)
for job in jobs["docs"]:
    doc, out = job["doc"], io.StringIO()
    os.chdir(job["work"])
    namespace, times, error = {"__name__": "__main__"}, [], None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        for line, code in job["blocks"]:
            start = time.perf_counter()
            try:  # padded so that tracebacks give the line numbers of the Markdown file
                exec(compile("\n" * (line - 1) + code, doc, "exec"), namespace)
            except BaseException:
                error = f"the block at line {line} failed:\n{traceback.format_exc()}"
                break
            times.append([line, round(time.perf_counter() - start, 1)])
    results[doc] = {"error": error, "times": times, "output": out.getvalue()[-4000:]}
    print(f"{doc}: {'FAILED' if error else 'ok'} {times}", flush=True)
    os.environ.clear()  # a snippet may set variables (KERAS_REXNET_REGISTRY): not for the next
    os.environ.update(environ)
    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
missing = {}
for name in jobs.get("names", []):
    try:
        resolve(name)
    except (ImportError, AttributeError) as e:
        missing[name] = f"{type(e).__name__}: {e}"
print("DOCS-RESULT " + json.dumps({"docs": results, "missing_names": missing}))
"""


def run_docs(docs, env, folder, names=()):
    """Run the Python blocks of ``docs`` in one subprocess, each file in its own namespace and
    working directory (its files made there first); ``names``: dotted names to resolve there.
    Returns ``(result, process)``."""
    jobs = []
    for doc in docs:
        blocks = [(line, code) for line, code, reason in python_blocks(doc) if reason is None]
        source = "".join(code for _, code in blocks)
        work = folder / rel(doc).replace("/", "_").replace(".md", "")
        work.mkdir()
        for token, make in MAKERS.items():
            if token in source:
                make(work)
        jobs.append({"doc": str(doc), "work": str(work), "blocks": blocks})
    spec_file = folder / "jobs.json"
    spec_file.write_text(json.dumps({"docs": jobs, "names": sorted(names)}))
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(spec_file)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=1800, check=False)
    line = [x for x in proc.stdout.splitlines() if x.startswith("DOCS-RESULT ")]
    assert line, f"the snippet process died:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return json.loads(line[-1][len("DOCS-RESULT "):]), proc


def documented_names():
    """``keras_rexnet.*`` names in the documents, and ``tflite.x``-style ones in inline code."""
    names = set()
    for doc in DOCS:
        names |= set(re.findall(r"\bkeras_rexnet(?:\.[A-Za-z_]\w*)+",
                                doc.read_text(encoding="utf-8")))
        for span in re.findall(r"`([^`\n]+)`", prose(doc)):
            for module, attr in re.findall(rf"(?<![\w./])({'|'.join(SHORT_MODULES)})\.(\w+)",
                                           span):
                names.add(f"keras_rexnet.{module}.{attr}")
    return names


SHORT_MODULES = ("tflite", "converters", "spec", "analysis", "transfer", "datasets")
FAST_RUN_DOCS = [p for p in RUN_DOCS if rel(p) not in SLOW_DOCS]


@pytest.fixture(scope="module")
def fast_run(offline_env, tmp_path_factory):
    """The fast stage's documents, run in one process (one Keras import), and the names."""
    env, _ = offline_env
    return run_docs(FAST_RUN_DOCS, env, tmp_path_factory.mktemp("docs_run"),
                    names=documented_names())


@pytest.mark.parametrize("doc", [pytest.param(p, marks=pytest.mark.slow) if rel(p) in SLOW_DOCS
                                 else p for p in RUN_DOCS], ids=rel)
def test_python_blocks_run(doc, offline_env, tmp_path, request):
    env, server = offline_env
    if rel(doc) in SLOW_DOCS:
        result, proc = run_docs([doc], env, tmp_path)
    else:
        result, proc = request.getfixturevalue("fast_run")
    outcome = result["docs"].get(str(doc))
    assert outcome is not None and outcome["error"] is None, (
        f"{rel(doc)}: {outcome and outcome['error']}\n--- its output\n"
        f"{outcome and outcome['output']}\n--- process stderr\n{proc.stderr[-3000:]}\n"
        f"(stand-ins served: {server.hits})")
    blocks = [line for line, _, reason in python_blocks(doc) if reason is None]
    assert [line for line, _ in outcome["times"]] == blocks


def test_python_names_resolve(fast_run):
    """Every ``keras_rexnet....`` name the documents give exists (resolved in the process that
    ran the fast snippets)."""
    result, _ = fast_run
    assert len(documented_names()) > 30
    assert not result["missing_names"], \
        "the docs name what does not exist: " + "; ".join(
            f"{k} ({v})" for k, v in result["missing_names"].items())


def test_blocks_left_out_say_why():
    """Only code that cannot run offline may be left out, and the marker must say why; the
    README's quick start covers the four uses and runs."""
    for doc in DOCS:
        for line, _, reason in python_blocks(doc):
            if reason is not None:
                assert len(reason) > 10, f"{rel(doc)}:{line}: say why the block cannot run"
    readme = "".join(code for _, code, reason in python_blocks(README) if reason is None)
    for use in ('weights="imagenet"', "model.fit(", "convert(", "export_tflite("):
        assert use in readme, use
    assert README in RUN_DOCS


# ------------------------------------------------------------------------------------------
# The README's front page.

def test_readme_front_page():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; the rest belongs in docs/"
    assert lines[0].startswith("# ")
    first = [line.strip() for line in lines[1:5] if line.strip()]
    assert first[0].startswith("make demo") and first[1].startswith("make test"), first
    # the names of the old sibling folder and its variable, in two parts so that a grep of the
    # tree for them finds only real uses
    gone = ("../" + "shared", "KERAS_REXNET_" + "SHARED")
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        assert not any(g in text for g in gone), rel(doc)
    linked = set(re.findall(r"\]\((docs/[^)#\s]+)", README.read_text(encoding="utf-8")))
    assert linked == {rel(p) for p in DOCS[1:]}, "every docs/ page is linked from the README"


def test_links_exist():
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)\s]+)\)", prose(doc)):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            assert not target.startswith("/"), f"{rel(doc)}: keep links relative: {target}"
            path = (doc.parent / target.split("#")[0]).resolve()
            assert path.exists(), f"{rel(doc)}: broken link {target}"


REPO_PATH = re.compile(r"(?<![\w/.-])((?:keras_rexnet|converters|tflite|benchmarks|scripts|tests|"
                       r"notebooks|docs|\.ci)/[\w./-]*)")


def test_repository_paths_exist():
    for doc in DOCS:
        for found in REPO_PATH.findall(doc.read_text(encoding="utf-8")):
            path = found.rstrip(".")
            if re.search(r"[A-Z]{3,}", path):  # a placeholder (NAME, SEED)
                continue
            assert (ROOT / path).exists(), f"{rel(doc)} names {path}, which does not exist"


# ------------------------------------------------------------------------------------------
# Python names and environment variables.

def test_environment_variables_are_read_by_the_code():
    sources = [p for folder in ("keras_rexnet", "converters", "tflite", "scripts", "tests",
                                "notebooks", "benchmarks")
               for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".ipynb", ".sh")
               and p.name != "test_docs.py"] + [ROOT / "Makefile"]
    code = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in sources)
    for doc in DOCS:
        for var in set(re.findall(r"\b((?:KERAS_REXNET|REXNET|DEMO)_[A-Z_]+)\b",
                                  doc.read_text(encoding="utf-8"))):
            assert var in code, f"{rel(doc)} names {var}, which nothing reads"


# ------------------------------------------------------------------------------------------
# The command line and the Makefile.

CLI_HELP = r"""
import contextlib, io, json, re, sys
from importlib.metadata import entry_points

main = next(e for e in entry_points(group="console_scripts") if e.name == "keras-rexnet").load()

def help_of(*argv):
    sys.argv = ["keras-rexnet", *argv, "--help"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main()
        except SystemExit:
            pass
    return out.getvalue()

top = help_of()
subcommands = re.search(r"\{([\w,-]+)\}", top).group(1).split(",")
print("HELP " + json.dumps({sub: help_of(sub) for sub in subcommands}))
"""


@pytest.fixture(scope="module")
def cli_help():
    """``{subcommand: its --help text}``, read through the installed ``keras-rexnet`` entry
    point in one process."""
    proc = subprocess.run([sys.executable, "-c", CLI_HELP], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, KERAS_BACKEND="tensorflow"),
                          check=False)
    line = [x for x in proc.stdout.splitlines() if x.startswith("HELP ")]
    assert proc.returncode == 0 and line, proc.stderr[-3000:]
    helps = json.loads(line[-1][len("HELP "):])
    assert {"list", "convert", "export"} <= set(helps)
    assert all("usage: keras-rexnet" in text for text in helps.values())
    return helps


def _options(command):
    return set(re.findall(r"(?<![\w-])(--[a-z][\w-]*|-o)\b", command))


def test_cli_commands_in_the_docs_exist(cli_help):
    every_option = set().union(*(_options(text) for text in cli_help.values()))
    seen = set()
    for doc in DOCS:
        for text in code_texts(doc):
            for line in text.splitlines():
                script = re.search(r"scripts/train_imagenet\.py\s(.*)", line)
                called = re.search(r"\bkeras-rexnet\s+([a-z][\w-]*)(.*)", line)
                if called or script:
                    sub, rest = (called.group(1), called.group(2)) if called else \
                        ("train", script.group(1))
                    assert sub in cli_help, f"{rel(doc)}: no subcommand `keras-rexnet {sub}`"
                    rest = rest.split("#")[0]
                    missing = _options(rest) - _options(cli_help[sub])
                    assert not missing, f"{rel(doc)}: `keras-rexnet {sub}` has no {missing}"
                    seen.add(sub)
                elif re.fullmatch(r"--[a-z][\w-]*( .*)?", line.strip()):  # `--flag` in prose
                    flag = line.strip().split()[0]
                    assert flag in every_option, f"{rel(doc)}: no command takes {flag}"
    assert {"list", "summary", "classify", "convert", "export", "train", "bench"} <= seen


def test_make_targets_exist():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([\w-]+):", makefile, flags=re.MULTILINE))
    for doc in DOCS:
        for text in code_texts(doc):
            for target in re.findall(r"(?:^|\s)make ([a-z][\w-]*)", text):
                assert target in targets, f"{rel(doc)}: no `make {target}` in the Makefile"


# ------------------------------------------------------------------------------------------
# Figures.

def test_readme_model_table_is_the_spec():
    from keras_rexnet import spec as specs
    from keras_rexnet.macs import spec_macs

    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] in specs.MODEL_NAMES:
            rows[cells[0]] = cells
    assert set(rows) == set(specs.MODEL_NAMES)
    for name, (_, builder, width, params, macs) in rows.items():
        spec = specs.spec_by_name(name)
        assert float(width) == spec.width, name
        call = re.fullmatch(r"`(\w+)\((.*)\)`", builder)
        if call.group(1) == "create_model":
            assert call.group(2) == f'"{name}"', name
        else:  # the builder with this width makes this very network
            family = {"ReXNetV1": "rexnet_v1", "ReXNetV1Lite": "rexnet_lite",
                      "ReXNetPlain": "rexnet_plain"}[call.group(1)]
            assert specs.spec_for(family, float(call.group(2))) == spec, name
        assert int(params.replace(",", "")) == spec.trainable_params(), name
        assert int(macs.replace(",", "")) == spec_macs(spec), name


def test_benchmark_tables_are_saved_results():
    """Every table row of the pages with measurements is a line of a saved result file."""
    saved = set()
    for path in (ROOT / "benchmarks" / "results").glob("*.md"):
        saved |= {line.strip() for line in path.read_text(encoding="utf-8").splitlines()}
    for name in ("performance.md", "android.md"):
        rows = [line.strip() for line in (ROOT / "docs" / name).read_text().splitlines()
                if line.startswith("|")]
        assert rows, name
        for row in rows:
            assert row in saved, f"docs/{name}: this row is in no benchmarks/results/*.md: {row}"


def test_conversion_figures_are_the_saved_result():
    """docs/converting.md's timing sentence states benchmarks/results/convert.json (re-running
    the benchmark means updating the sentence; the failure shows what it must say)."""
    saved = json.loads((ROOT / "benchmarks" / "results" / "convert.json").read_text())
    rows = saved["rows"]
    fastest = min(rows, key=lambda r: r["seconds"])
    slowest = max(rows, key=lambda r: r["seconds"])
    assert saved["backend"] == "tensorflow"
    text = " ".join((ROOT / "docs" / "converting.md").read_text().split())
    for part in [f"the {len(rows)} published official configurations",
                 f"{saved['total_seconds']} s in total on an {saved['machine']['cpu']} with "
                 f"{saved['machine']['cores']} cores, TensorFlow backend",
                 f"{fastest['seconds']} s ({fastest['checkpoint']})",
                 f"{slowest['seconds']} s ({slowest['checkpoint']})",
                 f"largest logit difference {max(r['logits_max_abs'] for r in rows):.2e}"]:
        assert part in text, f"docs/converting.md must say: {part!r}"


def test_pretrained_table_is_the_registry():
    from keras_rexnet import pretrained

    entries = pretrained.registry()
    seen = set()
    for line in (ROOT / "docs" / "pretrained.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[1].startswith("`"):
            continue
        key = f"{cells[0]}.{cells[1].split('`')[1]}"
        entry = entries[key]
        sources = entry["sources"]
        assert len(cells[2].split(", ")) == len(sources), key
        top1 = [s.get("top1") for s in sources if s.get("top1") is not None]
        stated = [] if cells[3] == "-" else [float(v) for v in cells[3].split(", ")]
        assert stated == top1, key
        classes = entry.get("num_classes", 1000)
        assert (classes == 1000) == (f"{classes:,} classes" not in cells[1]), key
        seen.add(key)
    assert seen == set(entries)


def test_testing_page_names_every_test_file():
    text = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    files = sorted(p.name for p in (ROOT / "tests").rglob("test_*.py"))
    missing = [name for name in files if f"`{name}`" not in text]
    assert not missing, f"docs/testing.md does not say what these check: {missing}"
