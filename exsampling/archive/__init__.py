"""A show as one zip file: ``export_show`` writes a library into it, ``import_show`` restores it elsewhere byte for
byte, ``open_show`` reads a zip or a library folder for the report and the replay.

The zip's layout and manifest are a contract (docs/shows.md). An export is a pure function of the library, the
config and the model: exporting the same show twice gives the same bytes (fixed entry times, sorted JSON), so a
show exported, imported and exported again is the same file. It keeps the show, never its secrets or its machine
(:data:`~exsampling.show_state.EXPORTED_SETTINGS`). Import trusts nothing in the zip: names, types, sizes,
compression ratios and every file's SHA-256 are checked before anything is written, and the library appears under
its final name only once it is complete.

Modules: ``layout`` (the zip's names, limits, ``ArchiveError``), ``export``, ``checks`` (reading a zip without
trusting it), ``restore`` (the import), ``opened`` (a kept show opened for reading), ``command`` (``exsampling
export`` / ``exsampling import``).
"""
from .command import register, show_config
from .export import Exported, export_show
from .layout import ArchiveError, Limits
from .opened import OpenedShow, ShowInfo, open_show
from .restore import import_show

__all__ = ["ArchiveError", "Exported", "Limits", "OpenedShow", "ShowInfo", "export_show", "import_show", "open_show",
           "register", "show_config"]
