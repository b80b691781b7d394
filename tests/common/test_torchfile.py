"""keras_rexnet.converters.torchfile: torch.save files read with NumPy alone.

Every file is compared with what ``torch.load(weights_only=True)`` returns for it: the same keys in
the same order, the same container types, and every tensor as an array of the same shape, dtype
(float32 for float16/bfloat16) and bits. Hostile files are refused without running their payload;
corrupt and truncated files give one-line CheckpointErrors.
"""

import collections
import io
import os
import pickle
import random
import subprocess
import sys
import tarfile
import zipfile

import numpy as np
import pytest
import torch

from helpers import official_state, seeded_state
from keras_rexnet import CheckpointError
from keras_rexnet import spec as specs
from keras_rexnet.converters import torchfile

FORMATS = ("zip", "legacy")
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
CORRUPT = r"corrupt, truncated or not a PyTorch checkpoint"


def save(obj, path, fmt):
    torch.save(obj, str(path), _use_new_zipfile_serialization=(fmt == "zip"))
    return path


def as_torch(arrays, dtype=torch.float32, prefix=""):
    """A state dict as ``Module.state_dict()`` gives it; floating tensors cast to ``dtype``."""
    return collections.OrderedDict(
        (prefix + k, torch.from_numpy(v).to(dtype) if v.dtype.kind == "f" else torch.from_numpy(v))
        for k, v in arrays.items())


def assert_same(ours, theirs, where="file"):
    """``ours`` (torchfile.load) holds what ``theirs`` (torch.load) holds, value for value."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, np.ndarray), f"{where}: {type(ours).__name__}"
        expected = theirs.detach().resolve_conj().resolve_neg()
        if expected.dtype in (torch.float16, torch.bfloat16):
            expected = expected.float()
        expected = expected.numpy()
        assert (ours.dtype, ours.shape) == (expected.dtype, expected.shape), where
        assert ours.tobytes() == expected.tobytes(), f"{where}: values differ"  # bit for bit
        assert ours.flags.writeable and ours.flags.c_contiguous, where
    elif isinstance(theirs, torch.Size):
        assert type(ours) is tuple and ours == tuple(theirs), where
    elif isinstance(theirs, torch.dtype):
        assert isinstance(ours, torchfile.TorchDType) and repr(ours) == str(theirs), where
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs), f"{where}: {type(ours).__name__}"
        assert list(ours) == list(theirs), f"{where}: keys or their order differ"
        for key in theirs:
            assert_same(ours[key], theirs[key], f"{where}[{key!r}]")
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{where}[{i}]")
    else:
        assert type(ours) is type(theirs) and ours == theirs, where


def check(path):
    """Load ``path`` both ways and compare; returns our result."""
    ours = torchfile.load(path)
    assert_same(ours, torch.load(str(path), map_location="cpu", weights_only=True))
    return ours


@pytest.fixture(scope="module")
def states():
    return {"official_lite": official_state("rexnet_lite_1.0"),  # num_batches_tracked included
            "timm": seeded_state(specs.spec_by_name("rexnet_100"), "timm", seed=3)}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A zip checkpoint whose storage 0 holds six float32 values, for hand-written pickles."""
    return save({"a": torch.arange(6.0)}, tmp_path_factory.mktemp("tiny") / "tiny.pth", "zip")


@pytest.fixture(scope="module")
def written(tmp_path_factory, states):
    """The official lite 1.0 state dict written once in each format."""
    folder = tmp_path_factory.mktemp("written")
    return {fmt: save(as_torch(states["official_lite"]), folder / f"lite_{fmt}.pth", fmt)
            for fmt in FORMATS}


# -- what torch.load returns -----------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["official_lite", "timm"])
def test_state_dict_matches_torch_load(tmp_path, states, layout, dtype, fmt):
    path = save(as_torch(states[layout], DTYPES[dtype]), tmp_path / "model.pth", fmt)
    ours = check(path)
    assert list(ours) == list(states[layout])
    assert all(ours[k].dtype == (np.float32 if v.dtype.kind == "f" else v.dtype)
               for k, v in states[layout].items())
    if layout == "official_lite":
        tracked = ours["features.1.num_batches_tracked"]  # a 0-d int64 tensor
        assert tracked.dtype == np.int64 and tracked.shape == ()
    if dtype == "fp32":  # nothing lost on the way
        for key, value in states[layout].items():
            np.testing.assert_array_equal(ours[key], value)


@pytest.mark.parametrize("fmt", FORMATS)
def test_wrapped_checkpoint(tmp_path, states, fmt):
    lite = states["official_lite"]
    small = {k: lite[k] for k in list(lite)[:6]}
    checkpoint = {
        "epoch": 7, "arch": "rexnet_lite_1.0", "best_acc1": 77.93, "flags": [True, None, 2 ** 70],
        "state_dict": as_torch(lite, prefix="module."),
        "model_ema": as_torch(small, torch.bfloat16),
        "optimizer": {"param_groups": [{"lr": 0.1, "betas": (0.9, 0.999)}], "state": {}},
        "amp_dtype": torch.float16, "input_size": torch.Size([3, 224, 224]),
        "tags": {"imagenet", "ema"}, "digest": b"\x00\xffrexnet",
    }
    ours = check(save(checkpoint, tmp_path / "checkpoint.pth", fmt))
    assert type(ours) is dict and type(ours["state_dict"]) is collections.OrderedDict
    assert repr(ours["amp_dtype"]) == "torch.float16" and ours["input_size"] == (3, 224, 224)


@pytest.mark.parametrize("fmt", FORMATS)
def test_views_shared_storages_and_dtypes(tmp_path, fmt):
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    param = torch.nn.Parameter(torch.linspace(-1, 1, 6).reshape(2, 3))
    with_state = torch.nn.Parameter(torch.ones(3))
    with_state.tag = "decay"  # pickled through _rebuild_parameter_with_state
    bf16 = torch.tensor([[1e-40, -3.0, 65280.0], [0.1, -0.0, 7.0]], dtype=torch.bfloat16)
    obj = {
        "transposed": base.t(),  # non-contiguous, and shares base's storage
        "base": base, "row": base[2], "column": base[:, 3], "strided": base[::2, 1::3],
        "expanded": torch.arange(3.0)[:, None].expand(3, 5),  # stride 0
        "scalar": torch.tensor(2.5), "count": torch.tensor(7), "empty": torch.zeros(0, 3),
        "empty_view": base[:, 6:], "half_t": torch.arange(6.0).half().reshape(2, 3).t(),
        "bf16": bf16, "bf16_view": bf16.t()[1:], "bf16_scalar": bf16[0, 1],
        "param": param, "param_with_state": with_state,
        "bool": torch.tensor([True, False, True]),
        "int8": torch.tensor([-128, 127], dtype=torch.int8),
        "uint8": torch.tensor([0, 255], dtype=torch.uint8),
        "int16": torch.tensor([-32768, 5], dtype=torch.int16),
        "int32": torch.tensor([[-(2 ** 31), 3]], dtype=torch.int32),
        "int64": torch.tensor([2 ** 62, -1]), "float64": torch.tensor([1 / 3], dtype=torch.float64),
        "uint16": torch.tensor([0, 7, 65535], dtype=torch.uint16),  # _rebuild_tensor_v3, untyped
        "complex64": torch.tensor([1 + 2j, -3j]), "conj": torch.tensor([1 + 2j, -3j]).conj(),
        "neg": torch._neg_view(torch.tensor([1.0, -2.0])),
    }
    if fmt == "legacy":  # torch's legacy loader cannot read back the untyped storage it wrote
        del obj["uint16"]
    path = save(obj, tmp_path / "views.pth", fmt)
    loaded = torch.load(str(path), weights_only=True)
    assert loaded["transposed"].untyped_storage().data_ptr() == \
        loaded["base"].untyped_storage().data_ptr()  # the file does share one storage
    ours = check(path)
    ours["base"][0, 0] = -99.0  # our arrays are copies: no aliasing between entries
    assert ours["transposed"][0, 0] == 0.0 and ours["row"][0] == 12.0


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("protocol", [4, 5])
def test_newer_pickle_protocols(tmp_path, fmt, protocol):
    """torch.save(..., pickle_protocol=4 or 5): framed pickles, STACK_GLOBAL, real bytes.
    torch's restricted unpickler stops at the FRAME opcode, so the reference is the full one
    (this file was written here)."""
    obj = {"w": torch.arange(6.0).reshape(2, 3).t(), "n": torch.tensor(3),
           "h": torch.ones(2, dtype=torch.bfloat16), "raw": b"\x00\x01", "tags": {"a"}}
    path = tmp_path / "proto.pth"
    torch.save(obj, str(path), pickle_protocol=protocol,
               _use_new_zipfile_serialization=(fmt == "zip"))
    assert_same(torchfile.load(path), torch.load(str(path), weights_only=False))


def test_big_endian_and_compressed_archive(tmp_path):
    """A ``byteorder`` of ``big`` (storages swapped) in a deflated archive reads the same."""
    obj = {"w": torch.randn(3, 4), "n": torch.tensor(5), "h": torch.randn(3).half(),
           "b": torch.randn(2, 2).bfloat16(), "u8": torch.arange(4, dtype=torch.uint8)}
    itemsize = {"0": 4, "1": 8, "2": 2, "3": 2, "4": 1}  # storage keys in order of first use
    little = save(obj, tmp_path / "little.pth", "zip")
    big = tmp_path / "big.pth"
    with zipfile.ZipFile(little) as src, zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data, record = src.read(info), info.filename.split("/", 1)[1]
            if record == "byteorder":
                data = b"big"
            elif record.startswith("data/"):
                data = np.frombuffer(data, f"<u{itemsize[record[5:]]}").byteswap().tobytes()
            dst.writestr(info.filename, data)
    assert_same(check(big), obj)


# -- hand-written pickles ----------------------------------------------------------------------


def frag(obj):
    """The opcodes that push ``obj`` (a plain value), for hand-written pickles."""
    return pickle.dumps(obj, protocol=2)[2:-1]  # without PROTO and STOP


def glob(name):
    module, _, attr = name.rpartition(".")
    return f"c{module}\n{attr}\n".encode()


def call(name, *args):
    return glob(name) + b"(" + b"".join(args) + b"tR"


def storage_id(key, numel, legacy=False):
    fields = [frag("storage"), glob("torch.FloatStorage"), frag(key), frag("cpu"), frag(numel)]
    return b"(" + b"".join(fields + [frag(None)] * legacy) + b"tQ"


def tensor_pickle(pid, size, stride):
    return b"\x80\x02" + call("torch._utils._rebuild_tensor_v2", pid, frag(0), frag(size),
                              frag(stride), frag(False), call("collections.OrderedDict")) + b"."


def legacy_stream(numel, count, data):
    """A legacy torch.save stream of one float32 tensor, written by hand."""
    return (pickle.dumps(torchfile.MAGIC_NUMBER, 2) + pickle.dumps(torchfile.PROTOCOL_VERSION, 2)
            + pickle.dumps({"little_endian": True}, 2)
            + tensor_pickle(storage_id("k", numel, legacy=True), (1,), (1,))
            + pickle.dumps(["k"], 2) + count.to_bytes(8, "little") + data)


def with_pickle(source, path, data):
    """A copy of the zip checkpoint ``source`` whose data.pkl is ``data``."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, data if info.filename.endswith("/data.pkl") else src.read(info))
    return path


def test_hand_written_files_are_well_formed(tmp_path, tiny):
    """The helpers above write files that torch itself loads, so the variants below differ
    from a valid file only where each test says."""
    path = tmp_path / "one.pth"
    with_pickle(tiny, path, tensor_pickle(storage_id("0", 6), (2, 3), (1, 2)))
    expected = torch.load(str(path), weights_only=True)
    assert expected.shape == (2, 3)
    assert_same(torchfile.load(path), expected)
    path.write_bytes(legacy_stream(1, 1, np.float32(1.5).tobytes()))
    assert torch.load(str(path), weights_only=True).tolist() == [1.5]
    check(path)


# -- hostile files ---------------------------------------------------------------------------


class Payload:
    """Pickles as a call of ``fn(*args)``: what a hostile checkpoint does."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def payloads(marker):
    """The name each payload's pickle asks for -> an object whose unpickling creates ``marker``."""
    return {"posix.system": Payload(os.system, f"touch {marker}"),
            "builtins.eval": Payload(eval, f"open({str(marker)!r}, 'w').close()"),
            "subprocess.Popen": Payload(subprocess.Popen, ["touch", str(marker)])}


def gadgets(marker):
    """Hand-written pickles reaching for code through other opcodes -> the name refused."""
    touch = f"touch {marker}"
    return {
        # protocol 4: STACK_GLOBAL
        "os.system": b"\x80\x04" + frag("os") + frag("system") + b"\x93" + frag(touch)
                     + b"\x85R.",
        # protocol 0: INST "instantiates" subprocess.check_call(["touch", marker])
        "subprocess.check_call": b"((" + f"S'touch'\nS'{marker}'\n".encode()
                                 + b"lisubprocess\ncheck_call\n.",
        # a __reduce__ gadget: getattr(__import__("os"), "system")("touch ...")
        "builtins.getattr": b"\x80\x02" + glob("__builtin__.getattr") + b"("
                            + call("__builtin__.__import__", frag("os")) + frag("system")
                            + b"tR" + frag((touch,)) + b"R.",
    }


def test_payloads_are_live(tmp_path):
    """Unpickled by plain pickle, every payload below does create its marker."""
    marker = tmp_path / "ran"
    for name, data in [*((n, pickle.dumps(p, protocol=2)) for n, p in payloads(marker).items()),
                       *gadgets(marker).items()]:
        result = pickle.loads(data)
        if isinstance(result, subprocess.Popen):
            result.wait()
        assert marker.exists(), name
        marker.unlink()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", ["posix.system", "builtins.eval", "subprocess.Popen"])
def test_hostile_pickle_refused_and_not_run(tmp_path, name, fmt):
    marker = tmp_path / "pwned"
    obj = {"features.0.weight": torch.zeros(2), "payload": payloads(marker)[name]}
    path = save(obj, tmp_path / "evil.pth", fmt)
    with pytest.raises(CheckpointError, match=rf"evil.pth: refused: its pickle asks for {name}, "
                                              rf".*nothing was executed"):
        torchfile.load(path)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["os.system", "subprocess.check_call", "builtins.getattr"])
def test_hand_written_gadgets_refused(tmp_path, written, name):
    marker = tmp_path / "pwned"
    path = with_pickle(written["zip"], tmp_path / "gadget.pth", gadgets(marker)[name])
    with pytest.raises(CheckpointError, match=rf"refused: its pickle asks for {name}, "):
        torchfile.load(path)
    assert not marker.exists()


def test_legacy_leading_pickles_are_restricted_too(tmp_path, written):
    """The legacy format's magic-number pickle goes through the same allow-list."""
    marker = tmp_path / "pwned"
    path = tmp_path / "evil_magic.pth"
    full = written["legacy"].read_bytes()
    magic = pickle.dumps(torchfile.MAGIC_NUMBER, protocol=2)
    assert full.startswith(magic)
    path.write_bytes(pickle.dumps(payloads(marker)["posix.system"], protocol=2)
                     + full[len(magic):])
    with pytest.raises(CheckpointError, match="refused: its pickle asks for posix.system"):
        torchfile.load(path)
    assert not marker.exists()


def test_pickle_cannot_alter_the_reader(tmp_path, written, states):
    """BUILD on an allowed global (to replace a rebuild function's defaults, say) is refused,
    and the next file loads as before."""
    for target, state in [("torch._utils._rebuild_tensor_v2", {"__defaults__": (None,)}),
                          ("torch._utils._rebuild_tensor_v2", (None, {"fn": None})),
                          ("collections.OrderedDict", {"fn": None}),
                          ("torch.FloatStorage", {"dtype": None}),
                          ("torch.float32", {"itemsize": 8})]:
        crafted = b"\x80\x02" + glob(target) + frag(state) + b"b."
        path = with_pickle(written["zip"], tmp_path / "build.pth", crafted)
        with pytest.raises(CheckpointError, match=rf"{CORRUPT} \(the pickle tries to modify "
                                                  rf"{target}\)"):
            torchfile.load(path)
    ours = torchfile.load(written["zip"])
    np.testing.assert_array_equal(ours["features.0.weight"],
                                  states["official_lite"]["features.0.weight"])


def test_whole_model_refused(tmp_path):
    path = tmp_path / "model.pth"
    torch.save(torch.nn.Conv2d(1, 1, 1), path)
    with pytest.raises(CheckpointError, match=r"asks for torch.nn.modules.conv.Conv2d, .*"
                                              r"save its state_dict\(\)"):
        torchfile.load(path)


def test_crafted_sizes_do_not_exhaust_memory(tmp_path, tiny):
    """A stride-0 view of astronomical size, or a storage claiming more bytes than the file
    has, is refused before anything is allocated; the same files with honest sizes load."""
    path = tmp_path / "crafted.pth"
    with_pickle(tiny, path, tensor_pickle(storage_id("0", 6), (4,), (0,)))
    assert_same(torchfile.load(path), torch.load(str(path), weights_only=True))
    with_pickle(tiny, path, tensor_pickle(storage_id("0", 6), (2 ** 40,), (0,)))
    with pytest.raises(CheckpointError, match=r"a tensor would need 4398046511104 bytes, far"):
        torchfile.load(path)
    path.write_bytes(legacy_stream(2 ** 40, 2 ** 40, np.float32(1.5).tobytes()))
    with pytest.raises(CheckpointError, match=rf"{CORRUPT} \(storage k is cut short\)"):
        torchfile.load(path)


# -- corrupt and truncated files -------------------------------------------------------------


def rewrite(source, path, change):
    """A copy of a zip checkpoint with ``change(record, data)`` applied (None drops it)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = change(info.filename.split("/", 1)[1], src.read(info))
            if data is not None:
                dst.writestr(info, data)
    return path


SIZE_2_3, SIZE_3_3 = frag((2, 3)), frag((3, 3))


@pytest.mark.parametrize("case,message", [
    ("missing_storage", r"record data/1 is missing"),
    ("short_storage", r"record data/1 holds 4 bytes, the pickle declares 8"),
    ("bad_pickle", r"UnpicklingError"),
    ("cut_pickle", r"(EOFError|UnpicklingError)"),
    ("no_pickle", r"without data.pkl"),
    ("byteorder", r"unknown byte order b'middle'"),
    ("torchscript", r"TorchScript archive"),
    ("out_of_bounds", r"reaches past the end of storage 0 \(element 8 of 6\)"),
])
def test_corrupt_archives(tmp_path, case, message):
    source = save({"a": torch.ones(2, 3), "b": torch.zeros(2)}, tmp_path / "ok.pth", "zip")
    with zipfile.ZipFile(source) as archive:
        assert archive.read("ok/data.pkl").count(SIZE_2_3[:-2]) == 1  # tensor a's size
    tamper = {
        "missing_storage": lambda r, d: None if r == "data/1" else d,
        "short_storage": lambda r, d: d[:4] if r == "data/1" else d,
        "bad_pickle": lambda r, d: b"\x80\x02\xff\xfe" if r == "data.pkl" else d,
        "cut_pickle": lambda r, d: d[:40] if r == "data.pkl" else d,
        "no_pickle": lambda r, d: None if r == "data.pkl" else d,
        "byteorder": lambda r, d: b"middle" if r == "byteorder" else d,
        "torchscript": lambda r, d: d,
        "out_of_bounds": lambda r, d: d.replace(SIZE_2_3[:-2], SIZE_3_3[:-2])
        if r == "data.pkl" else d,  # size (2, 3) -> (3, 3) over a storage of 6 elements
    }[case]
    path = rewrite(source, tmp_path / "bad.pth", tamper)
    if case == "torchscript":
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr("ok/constants.pkl", b"")
    with pytest.raises(CheckpointError, match=rf"bad.pth: {CORRUPT} \(.*{message}"):
        torchfile.load(path)


def test_corrupt_legacy_stream(tmp_path):
    one = np.float32(1.5).tobytes()
    cases = {
        "magic": (b"\x80\x02K\x01."
                  + legacy_stream(1, 1, one)[len(pickle.dumps(torchfile.MAGIC_NUMBER, 2)):],
                  r"no torch.save magic number"),
        "count": (legacy_stream(1, 2, one), r"storage k holds 2 elements, the pickle declares 1"),
        "short": (legacy_stream(1, 1, one[:3]), r"storage k is cut short"),
        "text": (b"hello, I am not a checkpoint\n", r"UnpicklingError"),
        "empty": (b"", r"an empty file"),
        "cut_line": (legacy_stream(1, 1, one)[:-60].split(b"_rebuild")[0] + b"_rebuild",
                     r"UnpicklingError: pickle data was truncated"),
    }
    for name, (data, message) in cases.items():
        path = tmp_path / f"{name}.pth"
        path.write_bytes(data)
        with pytest.raises(CheckpointError, match=rf"{name}.pth: {CORRUPT} \(.*{message}"):
            torchfile.load(path)


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated(tmp_path, written, fmt):
    full = written[fmt].read_bytes()
    for cut in (1, 60, 1000, len(full) // 3, len(full) // 2, len(full) - 30, len(full) - 1):
        path = tmp_path / f"cut{cut}.pth"
        path.write_bytes(full[:cut])
        with pytest.raises(CheckpointError, match=rf"cut{cut}.pth: {CORRUPT} \("):
            torchfile.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match=r"nothing.pth: cannot be read \(No such file"):
        torchfile.load(tmp_path / "nothing.pth")


def test_old_tar_format(tmp_path):
    path = tmp_path / "old.pth"
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as archive:
        archive.addfile(tarfile.TarInfo("storages"), io.BytesIO(b""))
    with pytest.raises(CheckpointError, match=r"old.pth: is in PyTorch's tar format from before"):
        torchfile.load(path)


def test_crafted_memo_index_needs_no_memory(tmp_path, tiny):
    """``LONG_BINPUT 2**31-1`` makes the C unpickler allocate a 16 GB memo; the reader's
    pure-Python unpickler keeps a dict. Run under a 2 GB address-space limit."""
    path = with_pickle(tiny, tmp_path / "memo.pth", b"\x80\x02}r\xff\xff\xff\x7f.")
    code = f"""
import resource
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from keras_rexnet.converters import torchfile
print(torchfile.load({str(path)!r}))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert (proc.returncode, proc.stdout.strip()) == (0, "{}"), proc.stderr


# -- no torch on the way ---------------------------------------------------------------------


def test_reads_without_torch(tmp_path, written, states):
    """In a process where ``import torch`` fails, .pth files of both formats still read (through
    the package's read_state_dict and detect) and nothing named torch* is imported."""
    out = tmp_path / "read.npz"
    code = f"""
import sys
sys.modules["torch"] = None  # import torch raises ImportError from here on
import numpy as np
from keras_rexnet.converters import detect, read_state_dict
zipped = read_state_dict({str(written["zip"])!r})
legacy = read_state_dict({str(written["legacy"])!r})
assert list(zipped) == list(legacy)
assert all(np.array_equal(zipped[k], legacy[k]) for k in zipped)
found = detect({str(written["legacy"])!r})
np.savez({str(out)!r}, **zipped)
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "torch" and sys.modules[m])
print(found.name, found.layout, loaded)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["rexnet_lite_100", "official_lite", "[]"]
    expected = {k: v for k, v in states["official_lite"].items()
                if not k.endswith("num_batches_tracked")}
    with np.load(out) as read:
        assert list(read) == list(expected)
        for key, value in expected.items():
            np.testing.assert_array_equal(read[key], value)


# -- breadth (slow) --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_cut_and_flipped_byte(tmp_path, fmt):
    """A small checkpoint cut at every byte always gives a CheckpointError; with a random byte
    changed it loads or gives a one-line CheckpointError, never another exception."""
    obj = {"w": torch.arange(6.0).reshape(2, 3).t(), "n": torch.tensor(3),
           "h": torch.ones(2, dtype=torch.bfloat16), "meta": {"epoch": 1, "tags": ["a"]}}
    full = save(obj, tmp_path / "small.pth", fmt).read_bytes()
    path = tmp_path / "bad.pth"
    for cut in range(len(full)):
        path.write_bytes(full[:cut])
        with pytest.raises(CheckpointError, match=CORRUPT):
            torchfile.load(path)
    rng = random.Random(0)
    for _ in range(1500):
        data = bytearray(full)
        data[rng.randrange(len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))
        try:
            torchfile.load(path)
        except CheckpointError as e:
            assert "\n" not in str(e)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", ["rexnet_150", "rexnetr_200"])
def test_larger_timm_models(tmp_path, name, fmt):
    state = seeded_state(specs.spec_by_name(name), "timm", seed=5)
    for dtype in DTYPES.values():
        check(save(as_torch(state, dtype), tmp_path / "model.pth", fmt))
