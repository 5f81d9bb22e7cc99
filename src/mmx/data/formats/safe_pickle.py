"""A restricted unpickler: numpy arrays, numpy scalars, lists, dicts, tuples, strings and numbers.

A pickle is a program: ``pickle.load`` runs whatever callables it names. Feature releases such as
MovieNet's ``features.pkl`` only need numpy's own reconstructors, so those are the only globals
this unpickler resolves; any other one (``os.system``, ``torch._utils._rebuild_tensor``, a class of
the writer's code) stops the load with ``InputError`` naming the file and the global.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from mmx.errors import InputError

ALLOWED = {  # (module, name) a numpy array or scalar pickles through, numpy 1.x and 2.x spellings
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),  # protocol 2 writes bytes as encode(str, "latin1")
    ("collections", "OrderedDict"),
}
NUMPY_1 = {"numpy.core.multiarray": "numpy._core.multiarray", "numpy.core.numeric": "numpy._core.numeric"}


class RefusedGlobal(pickle.UnpicklingError):
    pass


class SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        module = NUMPY_1.get(module, module)
        if (module, name) not in ALLOWED:
            raise RefusedGlobal(f"{module}.{name}")
        try:
            return super().find_class(module, name)
        except ModuleNotFoundError:  # numpy 1.x has numpy.core where 2.x has numpy._core
            return super().find_class(module.replace("numpy._core", "numpy.core"), name)


def load(path: str | Path) -> Any:
    """The object pickled in ``path``, refusing anything but numpy arrays and plain containers."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return SafeUnpickler(f).load()
    except RefusedGlobal as e:
        raise InputError(f"{path} asks to run {e} while loading; mmx reads only pickles of numpy arrays, lists, "
                         "dicts and numbers (a pickle is code). Convert it with the tool that wrote it, or "
                         "re-save it with plain numpy arrays") from None
    except (OSError, EOFError, pickle.UnpicklingError, ValueError) as e:
        raise InputError(f"{path} is not a readable pickle ({type(e).__name__}: {e})") from None
