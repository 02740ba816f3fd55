# make setup: system packages (apt), real VST3 plug-ins, a venv with rackhost.
# make run:   set up, render the demo session, then open the rack on it (when there is a display).
# make test:  set up, then run every test.
# make mutants: mutation testing of the core modules (slow; not part of make test).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

APT_PACKAGES := zam-plugins libsndfile1 libportaudio2 jackd2 libasound2-plugins \
	espeak-ng build-essential xz-utils \
	xvfb xauth libgl1-mesa-dri libglx-mesa0 libgl1 x11-utils xdotool fonts-dejavu-core

.PHONY: setup system-packages plugins venv run test bench mutants clean

setup: system-packages plugins venv

system-packages:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		echo "jackd2 jackd/tweak_rt_limits boolean false" | $$SUDO debconf-set-selections; \
		$$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $$missing; \
	fi

plugins:
	@scripts/build-dpf-plugins.sh "$(CURDIR)/build/vst3"
	@scripts/build-keyed-vst3.sh "$(CURDIR)/build/vst3-keyed"

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

# Renders the demo session; with a display, then opens it in the rack window.
run: setup
	$(VENV)/bin/rackhost demo
	@if [ -n "$$DISPLAY" ]; then $(VENV)/bin/rackhost gui demo-output/demo-session.json; \
	else echo "no display here: on a desktop, 'make run' opens the rack on demo-output/demo-session.json"; fi

# The keyed-insert tests host plug-ins through minihost, which carries a JUCE of its own: they run in a
# pytest process of their own. A bundle hosted by both JUCE copies in one process breaks: when one
# releases it, the other's next load of it segfaults (the crash a full run once had; rackhost never
# keys a slot through its own bundle, see rackhost/chain/sidechain.py, and the tests that host one
# bundle twice do it in a child process). The demo is among them: its music bus is keyed from the voice.
MINIHOST_TESTS := tests/test_sidechain_keys.py tests/test_sidechain_routing.py tests/test_sidechain_live.py \
	tests/test_demo.py tests/test_gui_keys.py tests/test_gain_reduction_keyed.py tests/test_sidechain_track_keys.py

# First what only computes, on every core, with the soak, the windows that only render and the Ray tests beside it
# (--dist loadgroup keeps windows, and Ray clusters, one at a time); then what keeps time (JACK takes, engine
# processes, real clicks in a window), alone (tests/conftest.py marks those "serial").
test: setup
	$(PY) -m pytest -q -n auto --dist loadgroup -m "not serial" --durations=10 $(addprefix --ignore=,$(MINIHOST_TESTS)) $(DROP_DPF_WARNINGS)
	$(PY) -m pytest -q -m serial --durations=20 $(addprefix --ignore=,$(MINIHOST_TESTS)) $(DROP_DPF_WARNINGS)
	$(PY) -m pytest -q $(MINIHOST_TESTS) $(DROP_DPF_WARNINGS)

# The DISTRHO (DPF) plug-ins print "DPF warning: asked to delete component while ..." when freed: hundreds of lines
# as each test process (and xdist worker) ends, outside pytest's capture, burying the summaries. Only those lines
# leave stderr.
DROP_DPF_WARNINGS := 2> >(grep --line-buffered -v -F 'DPF warning: asked to delete component while' >&2)

bench: setup
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) bench/offline.py

# Which modules and tests: [tool.mutmut] in pyproject.toml. The score is the
# share of mutants killed among those some test runs.
mutants: setup
	$(PY) -m pip install -q -e '.[mutants]'
	rm -rf mutants
	$(VENV)/bin/mutmut run || true
	@$(VENV)/bin/mutmut results --all true > build/mutants.txt 2>&1 || true
	@$(PY) scripts/mutants_score.py build/mutants.txt

clean:
	rm -rf $(VENV) build demo-output mutants .pytest_cache
