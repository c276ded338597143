"""The files that ship beside the code: the participants' recorder page, the console notebook, the bundled model.

The repository keeps them at its top level (``recorder/``, ``console.ipynb``, ``models/``). Running from a
checkout (tests, ``pip install -e .``, ``PYTHONPATH``) they are found there; ``pip install .`` builds them into
the package (``exsampling.recorder``, ``exsampling.notebook``, ``exsampling.models``: the mapping is in
pyproject.toml) and they are found with :mod:`importlib.resources`.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent

#: The repository this code runs from, or None when it is installed (site-packages holds no pyproject.toml).
CHECKOUT: Path | None = _ROOT if (_ROOT / "pyproject.toml").is_file() and (_ROOT / "recorder").is_dir() else None


def _shipped(package: str, folder: str, name: str) -> Path:
    """The file ``name`` of the repository's ``folder``: there in a checkout, else in the package built from it."""
    if CHECKOUT is not None:
        return CHECKOUT / folder / name
    # the packages are folders without __init__.py: joinpath gives the file's real path in site-packages
    return Path(str(resources.files(package).joinpath(name)))


def recorder_dir() -> Path:
    """The folder of the recorder's and the map's static files (``index.html``, ``recorder.js``, …)."""
    return _shipped("exsampling.recorder", "recorder", "index.html").parent


def notebook() -> Path:
    """``console.ipynb``, the performer's console that Voilà serves."""
    return _shipped("exsampling.notebook", ".", "console.ipynb")


def default_model() -> Path:
    """The bundled model ``default.keras`` (its ``default.json`` sidecar and card ``README.md`` lie beside it)."""
    return _shipped("exsampling.models", "models", "default.keras")
