"""What `pip install .` ships: the recorder page, the notebook and the bundled model, found through
importlib.resources once installed (tools/check_install.py installs for real in CI)."""
import fnmatch
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from exsampling import resources

ROOT = Path(__file__).resolve().parent.parent


def test_a_checkout_finds_its_own_folders():
    assert resources.CHECKOUT == ROOT
    assert resources.recorder_dir() == ROOT / "recorder" and (resources.recorder_dir() / "index.html").is_file()
    assert resources.notebook() == ROOT / "console.ipynb"
    assert resources.default_model() == ROOT / "models" / "default.keras"


def test_the_build_maps_every_shipped_file_into_the_package():
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert tool["package-dir"] == {"exsampling.recorder": "recorder", "exsampling.models": "models",
                                   "exsampling.notebook": "."}
    assert set(tool["package-dir"]) <= set(tool["packages"])
    subpackages = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "exsampling").rglob("__init__.py")}
    assert subpackages <= set(tool["packages"]), subpackages - set(tool["packages"])  # else a wheel leaves it out
    data = tool["package-data"]
    served = [p.name for p in (ROOT / "recorder").iterdir() if p.is_file()]
    assert served and all(any(fnmatch.fnmatch(name, pattern) for pattern in data["exsampling.recorder"])
                          for name in served), served
    # model, sidecar, card, and the stage runtime with its record and head (exsampling/runtime.py, adapt.py)
    assert {"default.keras", "default.json", "README.md", "default.int8.tflite", "default.runtime.json",
            "default.head.npz"} <= set(data["exsampling.models"])
    # every file the model card links to ships beside it, and the third-party weights' attribution ships too
    card = (ROOT / "models" / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\((?!https?:|\.\./|#)([^)\s]+)\)", card))
    assert linked and linked <= set(data["exsampling.models"]), linked - set(data["exsampling.models"])
    licences = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"].get("license-files")
    assert licences is None or "NOTICE" in licences  # None: setuptools' default (LICEN[CS]E*, NOTICE*, …)
    assert (ROOT / "NOTICE").is_file()
    assert data["exsampling.notebook"] == ["console.ipynb"]


def test_an_installed_package_finds_its_files_through_importlib_resources(tmp_path):
    site = tmp_path / "site-packages"  # laid out as the wheel lays it out
    shutil.copytree(ROOT / "exsampling", site / "exsampling", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "recorder", site / "exsampling" / "recorder")
    (site / "exsampling" / "models").mkdir()
    for name in ("default.keras", "default.json"):
        shutil.copy(ROOT / "models" / name, site / "exsampling" / "models" / name)
    (site / "exsampling" / "notebook").mkdir()
    shutil.copy(ROOT / "console.ipynb", site / "exsampling" / "notebook")
    code = ("from exsampling import resources as r; from exsampling.config import load; "
            "print(r.CHECKOUT, r.recorder_dir(), r.notebook(), r.default_model(), load(None).classifier.model, "
            "sep='\\n')")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}).stdout.split("\n")
    package = site / "exsampling"
    assert out[:5] == ["None", str(package / "recorder"), str(package / "notebook" / "console.ipynb"),
                       str(package / "models" / "default.keras"), str(package / "models" / "default.keras")]
