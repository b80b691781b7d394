"""Reading PyTorch checkpoint files with NumPy and the standard library alone.

:func:`load` returns what ``torch.load(path, weights_only=True)`` returns for a checkpoint (the
dicts, ordered dicts, lists ... the pickle holds), with every tensor a NumPy array of the same
shape and values: float16 and bfloat16 tensors come back as float32 arrays, other dtypes as their
NumPy equivalents (an int64 ``num_batches_tracked`` stays int64). torch is never imported.

Both file formats of ``torch.save`` are read:

* the zip archive (the default since torch 1.6): ``ARCHIVE/data.pkl`` is the pickle and each
  storage a record ``ARCHIVE/data/KEY`` of raw bytes, little-endian unless ``ARCHIVE/byteorder``
  says ``big`` (the folder name ``ARCHIVE`` varies);
* the legacy stream (``_use_new_zipfile_serialization=False``, the default before 1.6): a pickle
  of the magic number, one of the protocol version, one of the system info, the object pickle,
  the pickled list of storage keys, then each storage as an 8-byte little-endian element count
  followed by its little-endian bytes.

The legacy tar format of torch < 0.4 is not read (``torch.load`` refuses it with
``weights_only=True`` too).

Where ``torch.load`` gives torch objects, :func:`load` gives plain ones: tensors and parameters
load as independent, C-contiguous arrays (views and tensors sharing a storage are copied out),
``torch.Size`` as a tuple, a dtype as a :class:`TorchDType` marker.

Nothing from the file is run. The pickles go through :class:`_Unpickler` (the standard library's
pure-Python unpickler), whose ``find_class`` resolves only the names a tensor checkpoint needs
(``collections.OrderedDict``, torch's tensor and parameter rebuild functions, the storage types,
dtypes, ``torch.Size``, and ``set`` and ``_codecs.encode`` for plain values) to this module's
own functions and frozen markers, never importing the module a name gives; any other name
refuses the file. Sizes the file claims are checked against its real size before anything is
allocated. Every failure, whether the file is hostile, corrupt or truncated, is a one-line
:class:`CheckpointError`.
"""

import _compat_pickle
import collections
import io
import mmap
import os
import pathlib
import pickle
import zipfile

import numpy as np

from keras_rexnet.errors import CheckpointError

__all__ = ["MAGIC_NUMBER", "PROTOCOL_VERSION", "TorchDType", "load"]

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # torch/serialization.py
PROTOCOL_VERSION = 1001
CORRUPT = "corrupt, truncated or not a PyTorch checkpoint"

# Bytes a file may make the reader hold: storages, and tensors copied out of them (wider for
# float16, larger than their storage for stride-0 views). A crafted small file must not be able
# to exhaust memory, so the total is bounded by a generous multiple of the file's size.
_BUDGET_PER_FILE_BYTE = 64
_BUDGET_EXTRA = 64 << 20


class _Corrupt(Exception):
    """A malformed file; :func:`load` turns it into a :class:`CheckpointError`."""


class _Refused(Exception):
    """The pickle asks for a name outside the allow-list."""

    def __init__(self, what):
        super().__init__(what)
        self.what = what


class _Frozen:
    """Objects the pickle can reach (markers, our functions, storages) cannot be changed by it:
    BUILD (``__setstate__``) and attribute writes raise, so one file cannot alter the next load."""

    __slots__ = ()

    def _init(self, **fields):
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise _Corrupt(f"the pickle tries to set an attribute of {self!r}")

    def __delattr__(self, name):
        raise _Corrupt(f"the pickle tries to delete an attribute of {self!r}")

    def __setstate__(self, state):
        raise _Corrupt(f"the pickle tries to modify {self!r}")


class TorchDType(_Frozen):
    """A torch dtype named by the pickle (``torch.float16`` ...); loads as this marker."""

    __slots__ = ("name", "code", "itemsize")

    def __init__(self, name, code):
        self._init(name=name, code=code, itemsize=np.dtype(code).itemsize)

    def __repr__(self):
        return f"torch.{self.name}"

    def __eq__(self, other):
        return isinstance(other, TorchDType) and other.name == self.name

    def __hash__(self):
        return hash(("torch", self.name))

    def __reduce__(self):  # copy and pickle by name (the markers themselves are frozen)
        return _dtype_named, (self.name,)

    @property
    def numpy(self):
        """The dtype of the arrays that tensors of this dtype load as."""
        if self.name in ("float16", "bfloat16"):
            return np.dtype(np.float32)
        return np.dtype(self.code)


# torch dtype -> NumPy type code of its storage elements (bfloat16: the raw 16 bits).
_DTYPES = {name: TorchDType(name, code) for name, code in [
    ("float32", "f4"), ("float64", "f8"), ("float16", "f2"), ("bfloat16", "u2"),
    ("int64", "i8"), ("int32", "i4"), ("int16", "i2"), ("int8", "i1"), ("uint8", "u1"),
    ("bool", "b1"), ("complex64", "c8"), ("complex128", "c16"),
    ("uint16", "u2"), ("uint32", "u4"), ("uint64", "u8")]}


def _dtype_named(name):
    return _DTYPES[name]


# The legacy typed storage classes (how both formats name a tensor's storage) -> dtype.
_STORAGE_DTYPES = {
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
    "BoolStorage": "bool", "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
}


class _StorageType(_Frozen):
    """``torch.FloatStorage`` ... as named in a persistent id; ``untyped`` for
    ``torch.storage.UntypedStorage`` (bytes, whose tensors carry their own dtype)."""

    __slots__ = ("name", "dtype", "untyped")

    def __init__(self, name, dtype, untyped=False):
        self._init(name=name, dtype=dtype, untyped=untyped)

    def __repr__(self):
        return self.name


class _Storage(_Frozen):
    """A storage's bytes (``None`` while the legacy reader's first pass only learns sizes)."""

    __slots__ = ("key", "dtype", "nbytes", "data", "order")

    def __init__(self, key, dtype, nbytes, data, order):
        self._init(key=key, dtype=dtype, nbytes=nbytes, data=data, order=order)

    def __repr__(self):
        return f"<storage {self.key!r}: {self.nbytes} bytes of {self.dtype!r}>"


class _Global(_Frozen):
    """An allowed pickle global that may be called: one of this module's functions."""

    __slots__ = ("name", "fn")

    def __init__(self, name, fn):
        self._init(name=name, fn=fn)

    def __repr__(self):
        return self.name

    def __call__(self, *args):
        try:
            return self.fn(*args)
        except TypeError as e:  # wrong number or kind of arguments
            raise _Corrupt(f"bad arguments to {self.name} ({e})") from None


def _ordered_dict(*args):
    if len(args) > 1:
        raise _Corrupt("bad arguments to collections.OrderedDict")
    return collections.OrderedDict(*args)


def _set(items=()):
    return set(items)


def _encode(text, encoding="utf-8"):
    """``_codecs.encode(text, "latin1")``: how protocol-2 pickles write ``bytes``."""
    if type(text) is not str or encoding not in ("latin1", "latin-1"):
        raise _Corrupt("bad arguments to _codecs.encode")
    return text.encode("latin-1")


def _size(dims=()):
    return tuple(_ints(dims, "torch.Size"))


def _ints(values, what):
    if not isinstance(values, (tuple, list)) or any(type(v) is not int or v < 0 for v in values):
        raise _Corrupt(f"a tensor with a bad {what} {_short(values)}")
    return list(values)


def _short(obj, limit=80):
    text = repr(obj) if isinstance(obj, (int, str, bytes, tuple, list)) else type(obj).__name__
    return text if len(text) <= limit else text[:limit] + "..."


def _printable(text, limit=120):
    text = repr(text)[1:-1]  # control characters and newlines escaped: one line
    return text if len(text) <= limit else text[:limit] + "..."


class _Unpickler(pickle._Unpickler):
    """Resolves globals through the reader's allow-list; storages through the reader.

    The pure-Python unpickler of the standard library, not its C twin: with a crafted memo
    index (``LONG_BINPUT 2**32``) the C one grows its memo array to that size and can exhaust
    memory, where this one keeps its memo in a dict. A checkpoint's pickle is small (only
    structure; the tensors' bytes are elsewhere), so the speed is not missed.
    """

    class _Opcodes(dict):
        def __missing__(self, code):
            raise pickle.UnpicklingError(f"invalid load key, {bytes([code])!r}")

    dispatch = _Opcodes(pickle._Unpickler.dispatch)

    def __init__(self, file, reader):
        super().__init__(file, encoding="utf-8")
        self._reader = reader
        readline = file.readline

        def whole_line():  # a text opcode's argument cut by the end of the data is an error
            line = readline()
            if not line.endswith(b"\n"):
                raise pickle.UnpicklingError("pickle data was truncated")
            return line

        self._file_readline = whole_line

    def find_class(self, module, name):
        if (module, name) in _compat_pickle.NAME_MAPPING:  # Python 2 names (protocol 2)
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        found = self._reader.globals.get(f"{module}.{name}")
        if found is None:
            raise _Refused(_printable(f"{module}.{name}"))
        return found

    def persistent_load(self, pid):
        return self._reader.persistent_load(pid)


class _Reader:
    """One :func:`load`: the allow-list bound to this file's storages, and the byte budget."""

    def __init__(self, size):
        self.size = size
        self.budget = _BUDGET_PER_FILE_BYTE * size + _BUDGET_EXTRA
        self.storages = {}  # key -> _Storage
        self.views = {}  # legacy storage views: key -> _Storage
        self.storage = self._no_storage  # the format's persistent-id storage reader
        self.first_pass = False  # the legacy reader's first pass: storages have no bytes yet
        self.zip = self.archive = None
        self.order = "<"
        self.globals = self._allowed()

    def _allowed(self):
        g = {}

        def add(name, fn):
            g[name] = _Global(name, fn)

        add("collections.OrderedDict", _ordered_dict)
        add("builtins.set", _set)
        add("_codecs.encode", _encode)
        add("torch.Size", _size)
        add("torch._utils._rebuild_tensor", self._rebuild_tensor)
        add("torch._utils._rebuild_tensor_v2", self._rebuild_tensor_v2)
        add("torch._utils._rebuild_tensor_v3", self._rebuild_tensor_v3)
        add("torch._utils._rebuild_parameter", self._rebuild_parameter)
        add("torch._utils._rebuild_parameter_with_state", self._rebuild_parameter_with_state)
        for cls, dtype in _STORAGE_DTYPES.items():
            for module in ("torch", "torch.cuda"):
                g[f"{module}.{cls}"] = _StorageType(f"torch.{cls}", _DTYPES[dtype])
        for name in ("torch.storage.UntypedStorage", "torch.UntypedStorage"):
            g[name] = _StorageType("torch.UntypedStorage", _DTYPES["uint8"], untyped=True)
        for name, dtype in _DTYPES.items():
            g[f"torch.{name}"] = dtype
        return g

    # -- bookkeeping ------------------------------------------------------------------------

    def spend(self, nbytes, what):
        if nbytes > self.budget:
            raise _Corrupt(f"{what} would need {nbytes} bytes, far more than a file of "
                           f"{self.size} bytes can hold")
        self.budget -= nbytes

    def unpickle(self, file):
        return _Unpickler(file, self).load()

    # -- persistent ids: ('storage', storage_type, key, location, numel[, view_metadata]) ----

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or not pid:
            raise _Corrupt(f"a persistent id that is a {type(pid).__name__}")
        typename = pid[0].decode("ascii") if isinstance(pid[0], bytes) else pid[0]
        if typename == "module":
            raise _Corrupt("a whole pickled model (torch.save(model)), not a state dict")
        if typename != "storage":
            raise _Corrupt(f"an unknown persistent id {_short(typename)}")
        return self.storage(pid[1:])

    def _no_storage(self, data):
        raise _Corrupt("a storage outside the object pickle")

    @staticmethod
    def _check_storage(storage_type, key, numel):
        if not isinstance(storage_type, _StorageType):
            raise _Corrupt(f"a storage of type {_short(storage_type)}")
        if type(key) is not str:
            raise _Corrupt(f"a storage key {_short(key)}")
        if type(numel) is not int or numel < 0:
            raise _Corrupt(f"storage {key} with a bad size {_short(numel)}")

    def _zip_storage(self, data):
        if len(data) != 4:
            raise _Corrupt(f"a storage id of {len(data) + 1} fields (the zip format has 5)")
        storage_type, key, _location, numel = data
        self._check_storage(storage_type, key, numel)
        if key in self.storages:  # a storage shared by several tensors: the first type wins
            return self.storages[key]
        dtype = storage_type.dtype
        nbytes = numel * dtype.itemsize
        data = self.read_record(f"data/{key}", nbytes)
        # like torch: bytes of an untyped storage are not swapped (they have no element size)
        order = "=" if storage_type.untyped else self.order
        storage = self.storages[key] = _Storage(key, dtype, nbytes, data, order)
        return storage

    def _legacy_storage(self, data):
        if len(data) != 5:
            raise _Corrupt(f"a storage id of {len(data) + 1} fields (the legacy format has 6)")
        storage_type, key, _location, numel, view = data
        self._check_storage(storage_type, key, numel)
        dtype = storage_type.dtype
        if key not in self.storages:
            if not self.first_pass:
                raise _Corrupt(f"storage {key} has no data")
            self.storages[key] = _Storage(key, dtype, numel * dtype.itemsize, None, "<")
        root = self.storages[key]
        if view is None:
            return root
        if (not isinstance(view, tuple) or len(view) != 3 or type(view[0]) is not str
                or any(type(v) is not int or v < 0 for v in view[1:])):
            raise _Corrupt(f"storage {key} with a bad view {_short(view)}")
        view_key, offset, count = view
        if view_key not in self.views:
            start, stop = offset * dtype.itemsize, (offset + count) * dtype.itemsize
            if stop > root.nbytes:
                raise _Corrupt(f"storage view {view_key} reaches past the end of storage {key}")
            data = None if root.data is None else root.data[start:stop]
            self.views[view_key] = _Storage(view_key, dtype, stop - start, data, "<")
        return self.views[view_key]

    # -- tensors -----------------------------------------------------------------------------

    def _tensor(self, storage, offset, size, stride, dtype=None, metadata=None):
        if not isinstance(storage, _Storage):
            raise _Corrupt(f"a tensor whose storage is a {type(storage).__name__}")
        if storage.data is None:  # the legacy reader's first pass
            return None
        size, stride = _ints(size, "size"), _ints(stride, "stride")
        if len(size) != len(stride) or type(offset) is not int or offset < 0:
            raise _Corrupt(f"a tensor with size {_short(size)}, stride {_short(stride)}, "
                           f"offset {_short(offset)}")
        dtype = storage.dtype if dtype is None else dtype
        if not isinstance(dtype, TorchDType):
            raise _Corrupt(f"a tensor whose dtype is a {type(dtype).__name__}")
        numel = 1
        for n in size:
            numel *= n
        out = dtype.numpy
        self.spend(numel * out.itemsize, "a tensor")
        if numel == 0:
            array = np.zeros(size, out)
        else:
            count = storage.nbytes // dtype.itemsize
            last = offset + sum((n - 1) * s for n, s in zip(size, stride))
            if last >= count:
                raise _Corrupt(f"a tensor reaches past the end of storage {storage.key} (element "
                               f"{last} of {count})")
            elements = np.frombuffer(storage.data, np.dtype(storage.order + dtype.code), count)
            view = np.lib.stride_tricks.as_strided(
                elements[offset:], shape=size, strides=[s * dtype.itemsize for s in stride],
                writeable=False)
            if dtype.name == "bfloat16":  # the upper half of a float32
                array = view.astype(np.uint32, order="C")
                array <<= 16
                array = array.view(np.float32)
            else:  # a copy: its own memory, C-contiguous, native byte order
                array = np.array(view, dtype=out, order="C")
        if metadata:  # the conj / neg bits of a lazily conjugated or negated view
            if not isinstance(metadata, dict):
                raise _Corrupt(f"a tensor with metadata {_short(metadata)}")
            if metadata.get("neg"):
                np.negative(array, out=array)
            if metadata.get("conj"):
                np.conjugate(array, out=array)
        return array

    def _rebuild_tensor(self, storage, storage_offset, size, stride):
        return self._tensor(storage, storage_offset, size, stride)

    def _rebuild_tensor_v2(self, storage, storage_offset, size, stride, requires_grad,
                           backward_hooks, metadata=None):
        return self._tensor(storage, storage_offset, size, stride, metadata=metadata)

    def _rebuild_tensor_v3(self, storage, storage_offset, size, stride, requires_grad,
                           backward_hooks, dtype, metadata=None):
        if not isinstance(dtype, TorchDType):
            raise _Corrupt(f"a tensor whose dtype is a {type(dtype).__name__}")
        return self._tensor(storage, storage_offset, size, stride, dtype, metadata)

    def _rebuild_parameter(self, data, requires_grad, backward_hooks):
        if self.first_pass:
            return None
        if not isinstance(data, np.ndarray):
            raise _Corrupt(f"a parameter whose data is a {type(data).__name__}")
        return data

    def _rebuild_parameter_with_state(self, data, requires_grad, backward_hooks, state):
        return self._rebuild_parameter(data, requires_grad, backward_hooks)

    # -- the two formats ---------------------------------------------------------------------

    def read_record(self, name, nbytes=None):
        """A record ``ARCHIVE/name`` of the zip archive; ``nbytes`` its expected size."""
        try:
            info = self.zip.getinfo(f"{self.archive}/{name}")
        except KeyError:
            raise _Corrupt(f"record {name} is missing") from None
        if nbytes is not None and info.file_size != nbytes:
            raise _Corrupt(f"record {name} holds {info.file_size} bytes, the pickle declares "
                           f"{nbytes}")
        self.spend(info.file_size, f"record {name}")
        data = self.zip.read(info)
        if len(data) != info.file_size:  # pragma: no cover - zipfile checks it
            raise _Corrupt(f"record {name} is cut short")
        return data

    def load_zip(self, file):
        with zipfile.ZipFile(file) as archive:
            names = archive.namelist()
            if not names or "/" not in names[0]:
                raise _Corrupt("a zip archive whose records are not in a folder")
            self.zip, self.archive = archive, names[0].split("/", 1)[0]
            records = {n[len(self.archive) + 1:] for n in names if n.startswith(self.archive + "/")}
            if "constants.pkl" in records:
                raise _Corrupt("a TorchScript archive (torch.jit.save), not a torch.save file")
            if "data.pkl" not in records:
                raise _Corrupt("a zip archive without data.pkl, not written by torch.save")
            if "byteorder" in records:
                mark = self.read_record("byteorder")
                if mark not in (b"little", b"big"):
                    raise _Corrupt(f"unknown byte order {_short(mark[:16])}")
                self.order = "<" if mark == b"little" else ">"
            pickled = self.read_record("data.pkl")
            self.storage = self._zip_storage
            return self.unpickle(io.BytesIO(pickled))

    def load_legacy(self, file):
        magic = self.unpickle(file)
        if type(magic) is not int or magic != MAGIC_NUMBER:
            raise _Corrupt("no torch.save magic number")
        version = self.unpickle(file)
        if version != PROTOCOL_VERSION:
            raise _Corrupt(f"unknown protocol version {_short(version)}")
        self.unpickle(file)  # sys_info: byte order and type sizes of the writer; data are LE
        start = file.tell()
        # First pass: the storages' keys, dtypes and sizes (their bytes follow the pickle).
        self.storage, self.first_pass = self._legacy_storage, True
        self.unpickle(file)
        declared, self.storages, self.views = self.storages, {}, {}
        self.storage = self._no_storage
        keys = self.unpickle(file)
        if not isinstance(keys, list) or any(type(k) is not str for k in keys):
            raise _Corrupt("a bad list of storage keys")
        for key in keys:
            if key not in declared:
                raise _Corrupt(f"storage {key} is listed but no tensor uses it")
            if key in self.storages:
                raise _Corrupt(f"storage {key} is listed twice")
            dtype, nbytes = declared[key].dtype, declared[key].nbytes
            head = file.read(8)
            count = int.from_bytes(head, "little", signed=True) if len(head) == 8 else None
            if count is None or nbytes > self.size - file.tell():
                raise _Corrupt(f"storage {key} is cut short")
            if count * dtype.itemsize != nbytes:
                raise _Corrupt(f"storage {key} holds {count} elements, the pickle declares "
                               f"{nbytes // dtype.itemsize}")
            self.spend(nbytes, f"storage {key}")
            data = file.read(nbytes)
            if len(data) != nbytes:
                raise _Corrupt(f"storage {key} is cut short")
            self.storages[key] = _Storage(key, dtype, nbytes, data, "<")
        missing = [key for key in declared if key not in self.storages]
        if missing:
            raise _Corrupt(f"storage {missing[0]} has no data")
        # Second pass: the same pickle, now with every storage's bytes.
        self.storage, self.first_pass = self._legacy_storage, False
        file.seek(start)
        return self.unpickle(file)


def _is_tar(file):
    file.seek(257)
    found = file.read(5) == b"ustar"
    file.seek(0)
    return found


def load(path):
    """The object a ``torch.save`` file holds, tensors as NumPy arrays; see the module docstring.

    Raises :class:`CheckpointError` (one line naming the file) for a missing, unreadable,
    corrupt, truncated or hostile file; nothing from the file is ever run."""
    path = pathlib.Path(path)
    try:
        file = open(path, "rb")
    except OSError as e:
        raise CheckpointError(path, f"cannot be read ({e.strerror or e})") from None
    with file:
        try:
            size = os.fstat(file.fileno()).st_size
            reader = _Reader(size)
            if file.read(4) == b"PK\x03\x04":
                file.seek(0)
                return reader.load_zip(file)
            if _is_tar(file):
                raise CheckpointError(path, "is in PyTorch's tar format from before torch 0.4, "
                                            "which is not read; re-save it with a newer torch")
            if size == 0:
                raise _Corrupt("an empty file")
            try:  # reads never allocate more than the file has, whatever sizes it claims
                stream = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):  # a file system without mmap
                stream = io.BytesIO(file.read())
            with stream:
                return reader.load_legacy(stream)
        except CheckpointError:
            raise
        except _Refused as e:
            hint = ("; a whole model saved with torch.save(model)? save its state_dict()"
                    if e.what.startswith("torch.nn.") else "")
            raise CheckpointError(
                path, f"refused: its pickle asks for {e.what}, which a plain tensor checkpoint "
                      f"never needs (it could run code); nothing was executed{hint}") from None
        except _Corrupt as e:
            detail = str(e)
        except zipfile.BadZipFile as e:
            detail = f"bad zip archive: {e}"
        except Exception as e:  # pickle, zlib, numpy ... on a malformed file
            text = str(e).strip().splitlines()
            detail = f"{type(e).__name__}: {text[0]}" if text else type(e).__name__
        raise CheckpointError(path, f"{CORRUPT} ({_printable(detail, 300)})")
