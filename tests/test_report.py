"""The show's report: a static page from a kept show, checked as text and looked at in headless Chromium."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import SR, tone

from exsampling.archive import export_show
from exsampling.config import load
from exsampling.library import Library
from exsampling.records import Location, Sample
from exsampling.report import write_report

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def report(made_show, tmp_path_factory) -> Path:
    """``exsampling report`` of the made show's zip, as a performer runs it."""
    folder = tmp_path_factory.mktemp("report")
    zipped = export_show(Library(made_show.library), load(made_show.config), folder / "tonight.zip").path
    result = subprocess.run([sys.executable, "-m", "exsampling.cli", "report", zipped, "--out", folder / "report.html"],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    return folder / "report.html"


def test_the_report_tells_the_whole_show(report, made_show):
    page = report.read_text()
    library = Library(made_show.library)
    samples = library.samples()
    assert "<h1>tonight</h1>" in page and "6 recordings · 7 samples · 3 named participants" in page
    assert page.count("<tr id='s") == len(samples) == 7
    for sample in samples:
        name = Path(sample.path).name
        assert f"src='report_files/samples/{name}'" in page
        assert (report.parent / "report_files" / "samples" / name).read_bytes() == Path(sample.path).read_bytes()
        assert f"href='#s{sample.id}'" in page  # its dot on the timeline opens it
    [relabel] = library.events(kinds=["relabelled"])
    assert f"{relabel.data['from']} → <b>{relabel.data['to']}</b>" in page
    assert page.count("class='marker'") == sum(r.location is not None for r in library.recordings()) == 5
    for name in ("Aiko", "Ben", "Chloé", "<i>anonymous</i>"):
        assert f"<td>{name}" in page
    assert "model at export: <b>tones-noise-barks</b>" in page and "mapping at export: 41 classes" in page
    assert "report_files/photos/" in page
    assert "http:" not in page and "https:" not in page and "<script" not in page  # offline-safe, nothing runs


def test_what_participants_typed_is_escaped(tmp_path):
    library = Library(tmp_path / "lib")
    evil = "<img src=x onerror=alert(1)>"
    rec = library.add_recording(b"RIFF", "wav", participant=evil, location=Location(1.0, 2.0, 3.0))
    library.add_sample(Sample(id=0, recording_id=rec.id, path="", start_s=0, duration_s=0.5, label="Bark",
                              instrument="Bass"), tone(220, 0.5), SR)
    page = write_report(library, tmp_path / "r.html").read_text()
    assert evil not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<h1>show</h1>" in page and "1 of 1 recordings located" in page


def test_a_library_folder_without_audio_or_places_still_reports(tmp_path):
    library = Library(tmp_path / "lib")
    rec = library.add_recording(b"RIFF", "wav")
    sample = library.add_sample(Sample(id=0, recording_id=rec.id, path="", start_s=0, duration_s=0.5),
                                np.zeros(100, dtype=np.float32), SR)
    Path(sample.path).unlink()
    result = subprocess.run([sys.executable, "-m", "exsampling.cli", "report", tmp_path / "lib", "--out",
                             tmp_path / "r.html"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "r.html").read_text()
    assert "No recording had a location." in page and "audio not kept" in page and "<h1>lib</h1>" in page


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make system-deps)")
def test_the_report_in_a_browser_plays_offline(report, tmp_path):
    """Screenshot to a temporary folder, or to ``EXSAMPLING_SCREENSHOTS`` (docs/images for the documentation)."""
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("EXSAMPLING_SCREENSHOTS") or tmp_path)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport={"width": 1040, "height": 900})
        requests, problems = [], []
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(report.as_uri())
        page.screenshot(path=str(shots / "report.png"), full_page=True)
        assert page.locator("svg.timeline circle").count() == 7 and page.locator("svg.map circle.marker").count() == 5
        duration = page.evaluate("""async () => {
            const audio = document.querySelector('audio');
            audio.preload = 'auto';
            audio.load();
            await new Promise(done => { audio.onloadedmetadata = done; audio.onerror = done; });
            return audio.error ? -audio.error.code : audio.duration; }""")
        assert duration == pytest.approx(5.0, abs=0.01)
        photo = page.evaluate("document.querySelector('img.photo').naturalWidth")
        page.locator("svg.map a").first.click()
        assert re.search(r"#s\d+$", page.url)
        browser.close()
    assert photo == 8
    assert requests and all(url.startswith("file://") for url in requests), requests
    assert problems == []
    assert (shots / "report.png").stat().st_size > 20_000
