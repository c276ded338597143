"""Draw the ExSampling devices from their .maxpat JSON into docs/images/maxpatch-device.png.

A rendering of the patch files, not a screenshot of Max: boxes at their saved positions (pixels), presentation
view on top (what Live shows in the device strip), the track device's patching view below.

Usage: ``python maxpatch/draw_device.py [OUT.png]``.
"""
from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE.parent / "docs" / "images" / "maxpatch-device.png"
DEVICE_HEIGHT = 169.0   # px: the height of Live's device strip
FILL = {"jweb": "#cfd8c8", "live.menu": "#f2c14e", "live.numbox": "#f2c14e", "button": "#f2c14e",
        "message": "#dddddd", "comment": "none", "newobj": "#f4f4f4"}


def boxes(path: Path) -> list[dict]:
    return [entry["box"] for entry in json.loads(path.read_text(encoding="utf-8"))["patcher"]["boxes"]]


def label(box: dict) -> str:
    if box["maxclass"] == "jweb":
        return "jweb: map of where the sample\nwas recorded (/map?sample=<id>)"
    if box["maxclass"] == "live.menu":
        return box["saved_attribute_attributes"]["valueof"]["parameter_enum"][0] + " ▾"
    if box["maxclass"] == "live.numbox":
        return str(int(box["saved_attribute_attributes"]["valueof"]["parameter_initial"][0]))
    if box["maxclass"] == "message" and not box.get("text"):
        return {"label": "Flute", "who": "Aiko"}.get(box["id"], "")
    return box.get("text", "")


def draw_presentation(ax, path: Path, title: str) -> None:
    shown = [b for b in boxes(path) if b.get("presentation")]
    width = max(b["presentation_rect"][0] + b["presentation_rect"][2] for b in shown) + 8
    ax.add_patch(Rectangle((0, 0), width, DEVICE_HEIGHT, facecolor="#b9b9b9", edgecolor="#555555"))
    for b in shown:
        x, y, w, h = b["presentation_rect"]
        face = FILL.get(b["maxclass"], "#f4f4f4")
        if b["maxclass"] == "button":
            ax.add_patch(plt.Circle((x + w / 2, y + h / 2), w / 2, facecolor=face, edgecolor="#333333"))
        elif face != "none":
            ax.add_patch(Rectangle((x, y), w, h, facecolor=face, edgecolor="#333333", linewidth=0.8))
        ax.text(x + 4, y + h / 2, label(b), va="center", fontsize=7, family="DejaVu Sans")
    ax.set_xlim(-4, width + 4)
    ax.set_ylim(DEVICE_HEIGHT + 4, -16)
    ax.set_title(title, fontsize=9, loc="left")
    ax.set_aspect("equal")
    ax.axis("off")


def draw_patching(ax, path: Path, title: str) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))["patcher"]
    by_id = {b["box"]["id"]: b["box"] for b in doc["boxes"]}

    def port(box: dict, index: int, count: int, bottom: bool) -> tuple[float, float]:
        x, y, w, h = box["patching_rect"]
        step = (w - 8) / max(count - 1, 1)
        return x + 4 + index * step, y + (h if bottom else 0)

    for line in doc["lines"]:
        (src, outlet), (dst, inlet) = line["patchline"]["source"], line["patchline"]["destination"]
        a = port(by_id[src], outlet, by_id[src]["numoutlets"], bottom=True)
        b = port(by_id[dst], inlet, by_id[dst]["numinlets"], bottom=False)
        signal = by_id[src].get("outlettype", [""])[outlet] == "signal"
        ax.plot([a[0], b[0]], [a[1], b[1]], color="#6b8e23" if signal else "#444444", linewidth=0.6)
    for box in by_id.values():
        x, y, w, h = box["patching_rect"]
        face = FILL.get(box["maxclass"], "#f4f4f4")
        if face != "none":
            ax.add_patch(Rectangle((x, y), w, h, facecolor=face, edgecolor="#333333", linewidth=0.5))
        if box["maxclass"] == "comment":
            # Max wraps comments to their box; 5.5 px per character at this scale.
            ax.text(x + 3, y + 2, textwrap.fill(label(box), max(8, int(w / 5.5))), va="top", fontsize=4.5,
                    color="#666666")
        else:
            ax.text(x + 3, y + min(h, 22) / 2, label(box), va="center", fontsize=4.5)
    xmax = max(b["patching_rect"][0] + b["patching_rect"][2] for b in by_id.values())
    ymax = max(b["patching_rect"][1] + b["patching_rect"][3] for b in by_id.values())
    ax.set_xlim(0, xmax + 10)
    ax.set_ylim(ymax + 10, 0)
    ax.set_title(title, fontsize=9, loc="left")
    ax.set_aspect("equal")
    ax.axis("off")


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else DEFAULT_OUT
    fig = plt.figure(figsize=(12, 9.5), dpi=130)
    grid = fig.add_gridspec(2, 2, height_ratios=[1, 2.6], width_ratios=[1, 2.6])
    draw_presentation(fig.add_subplot(grid[0, 0]), HERE / "exsampling-hub.maxpat", "exsampling-hub.amxd (Live view)")
    draw_presentation(fig.add_subplot(grid[0, 1]), HERE / "exsampling-track.maxpat",
                      "exsampling-track.amxd (Live view)")
    draw_patching(fig.add_subplot(grid[1, :]), HERE / "exsampling-track.maxpat",
                  "exsampling-track.maxpat (patching view; green cords carry audio)")
    fig.suptitle("Rendering of the .maxpat files (maxpatch/draw_device.py), not a screenshot of Max", fontsize=10)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight")
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
