"""Read a PyTorch checkpoint (``torch.save``'s zip format) into numpy arrays, without PyTorch.

A ``.pth`` file of this format is a zip holding ``<name>/data.pkl`` (a pickle whose tensors refer to
storages by key) and ``<name>/data/<key>`` (each storage's raw little-endian bytes). Unpickling with a
``persistent_load`` that returns the storage's bytes as a flat numpy array, and a ``find_class`` that
turns ``torch._utils._rebuild_tensor_v2`` into a strided view of it, yields the same nested
dicts/tuples/lists with numpy arrays where the tensors were.

Only what a state dict needs is allowed through the unpickler (collections.OrderedDict, numpy scalars
and the tensor rebuild functions); anything else raises :class:`CheckpointError`, so a hostile file cannot run code.
"""
from __future__ import annotations

import collections
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np

#: Storage classes → numpy dtypes (torch's legacy typed storages, as pickled by torch.save).
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": None, "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class CheckpointError(ValueError):
    """The file is not a torch zip checkpoint this reader understands."""


def _rebuild_tensor(storage: np.ndarray, offset: int, size: tuple, stride: tuple, *_ignored) -> np.ndarray:
    """torch._utils._rebuild_tensor_v2: a (copied) strided view of ``storage``, in elements."""
    if not size:
        return storage[offset].copy()
    item = storage.itemsize
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                           strides=tuple(s * item for s in stride), writeable=False)
    return np.array(view)


def _rebuild_parameter(data: np.ndarray, requires_grad: bool = False, *_ignored) -> np.ndarray:
    return data


def _numpy_scalar(dtype: np.dtype, data: bytes | None = None):
    return np.frombuffer(data, dtype=dtype)[0].item() if data is not None else dtype.type()


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    if encoding not in ("latin1", "latin-1"):
        raise CheckpointError(f"unexpected bytes encoding {encoding!r}")
    return text.encode("latin1")


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__(file)
        self.archive = archive
        self.prefix = prefix
        self.storages: dict[str, np.ndarray] = {}

    def find_class(self, module: str, name: str):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "scalar":
            return _numpy_scalar  # numbers saved from numpy (e.g. class counts beside the weights)
        if module == "_codecs" and name == "encode":
            return _latin1_bytes  # how protocol 2 writes bytes
        if module == "numpy" and name == "dtype":
            return np.dtype
        if module == "torch" and name in STORAGE_DTYPES:
            return name  # a marker; persistent_load turns it into a dtype
        raise CheckpointError(f"the checkpoint refers to {module}.{name}, which this reader does not load")

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel)
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise CheckpointError(f"unexpected persistent id {pid!r}")
        kind, key = pid[1], str(pid[2])
        dtype = STORAGE_DTYPES.get(kind) if isinstance(kind, str) else None
        if dtype is None:
            raise CheckpointError(f"unsupported storage type {kind!r}")
        if key not in self.storages:
            try:
                raw = self.archive.read(f"{self.prefix}/data/{key}")
            except KeyError as exc:
                raise CheckpointError(f"storage {key} is missing from the checkpoint") from exc
            self.storages[key] = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"))
        return self.storages[key]


def load(path: str | Path):
    """The object a ``torch.save`` zip checkpoint holds, with every tensor as a numpy array.

    Raises CheckpointError for a file that is not such a checkpoint (or refers to other classes).
    """
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise CheckpointError(f"{path} is not a zip checkpoint (torch.save with the default zip format)") from exc
    with archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise CheckpointError(f"{path} holds {len(pickles)} data.pkl files; expected one")
        prefix = pickles[0].split("/")[0]
        with archive.open(pickles[0]) as f:
            return _Unpickler(f, archive, prefix).load()


def _marker(module: str, name: str) -> type:
    """A stand-in class that pickles as the global ``module.name`` (a torch class or function)."""
    return type(name, (), {"torch_global": (module, name)})


class _TorchPickler(pickle._Pickler):  # the pure-Python pickler: its save_global can be overridden
    def save_global(self, obj, name=None):
        if hasattr(obj, "torch_global"):
            module, name = obj.torch_global
            self.write(pickle.GLOBAL + f"{module}\n{name}\n".encode())  # type: ignore[attr-defined]
            self.memoize(obj)  # type: ignore[attr-defined]
            return
        super().save_global(obj, name)  # type: ignore[misc]


def save(obj, path: str | Path, name: str = "archive") -> None:
    """Write ``obj`` (dicts, tuples, lists, numbers, strings, numpy arrays) in torch.save's zip format.

    The inverse of :func:`load` for what it supports, so tests can make a small checkpoint without
    PyTorch. Each array becomes a contiguous storage rebuilt by ``torch._utils._rebuild_tensor_v2``.
    """
    kinds = {np.dtype(v): k for k, v in STORAGE_DTYPES.items() if v is not None}
    rebuild = _marker("torch._utils", "_rebuild_tensor_v2")
    storage_classes: dict[str, type] = {}
    storages: list[bytes] = []

    class Pickler(_TorchPickler):
        def persistent_id(self, o):
            return o if isinstance(o, tuple) and len(o) == 5 and o[0] == "storage" else None

        def reducer_override(self, o):
            if not isinstance(o, np.ndarray):
                return NotImplemented
            a = np.ascontiguousarray(o)
            if a.dtype not in kinds:
                raise TypeError(f"cannot save arrays of dtype {a.dtype}")
            kind = kinds[a.dtype]
            cls = storage_classes.setdefault(kind, _marker("torch", kind))
            key = str(len(storages))
            storages.append(a.astype(a.dtype.newbyteorder("<")).tobytes())
            strides = tuple(s // a.itemsize for s in a.strides)
            return rebuild, (("storage", cls, key, "cpu", a.size), 0, a.shape, strides, False,
                             collections.OrderedDict())

    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(obj)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{name}/data.pkl", buf.getvalue())
        for key, raw in enumerate(storages):
            z.writestr(f"{name}/data/{key}", raw)
        z.writestr(f"{name}/version", "3\n")
