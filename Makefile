# ExSampling: `make console` installs and starts the console; `make test` installs what the tests need, checks the
# code (ruff, mypy, the import layers of pyproject.toml, requirements.txt) and runs every test; `make test-fast` runs
# the tests that need no browser, Pure Data, training or TensorFlow in a second process (under a minute); `make lint`
# only checks the code;
# `make check-install` installs with `pip install .` into a clean venv and starts the commands from elsewhere (CI).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the tests drive as real peers: the browser, liblo's oscdump, Pure Data, a QR decoder,
# a synthesiser with General MIDI SoundFonts for rendering real instrument notes (TimGM6mb is a source the
# shipped model never heard), openssl, which makes the upload server's self-signed certificate, ffmpeg, which makes
# the files phones' own recorders save, and the recorder's two other engines: WebKitGTK (Safari's engine; its
# WebDriver, under Xvfb with Mesa's software GL and the GStreamer plugins WebKit recommends, as tested) and Firefox
# ESR (with a PulseAudio null sink as its audio output).
TEST_DEBS := chromium liblo-tools puredata-core zbar-tools fluidsynth fluid-soundfont-gm timgm6mb-soundfont openssl \
	ffmpeg webkit2gtk-driver xvfb libgl1-mesa-dri gstreamer1.0-gl gstreamer1.0-libav gstreamer1.0-plugins-bad \
	firefox-esr pulseaudio

# Tests left out of `make test-fast` (see the markers in pyproject.toml).
FAST := -m "not browser and not puredata and not training and not slow"

.PHONY: install console serve lint test test-fast check-install requirements system-deps bench clean

# requirements.txt pins the tested versions (tools/requirements.py writes it from pyproject.toml)
$(BIN)/exsampling: pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.txt -e '.[test]'
	touch $@

install: $(BIN)/exsampling

console: install
	@$(BIN)/exsampling console

serve: install
	@$(BIN)/exsampling serve

system-deps:
	@missing=$$(for p in $(TEST_DEBS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

lint: install
	$(BIN)/ruff check exsampling tests bench tools maxpatch
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache --no-logo
	$(BIN)/python tools/requirements.py --check

requirements: install
	$(BIN)/python tools/requirements.py

test: install system-deps lint
	$(BIN)/pytest -q

# one worker per core (pytest-xdist): each pays for its own TensorFlow import, and still the loop halves
test-fast: install
	$(BIN)/pytest -q -n auto $(FAST)

check-install: install
	$(BIN)/python tools/check_install.py

bench: install
	$(BIN)/python bench/latency.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
