# The README's two commands live here: `make demo` and `make test`.
# Both install what they need from Debian first (run as root).

BUILD ?= build
PYTHON ?= /usr/bin/python3
# to build krunc and its man page, and run the demo container
BUILD_PACKAGES = gcc make pkg-config meson ninja-build libjansson-dev libseccomp-dev libsystemd-dev \
	go-md2man busybox-static
# and for the tests: the clang build, pytest, the engines that drive krunc
TEST_PACKAGES = $(BUILD_PACKAGES) clang python3 python3-pytest iproute2 util-linux procps \
	podman conmon containerd python3-grpcio dbus-daemon

.PHONY: all deps deps-test build demo test unit integration clean install

all: build

define apt_install
	@if [ "$$(id -u)" != 0 ]; then echo "make $@: run as root (it calls apt-get)"; exit 1; fi
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(1) >/dev/null
endef

deps:
	$(call apt_install,$(BUILD_PACKAGES))

deps-test:
	$(call apt_install,$(TEST_PACKAGES))

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Build, make a busybox bundle and run a real container in it.
demo: deps build
	sh scripts/demo.sh $(BUILD)/krunc

unit: build
	meson test -C $(BUILD) --print-errorlogs

integration: build
	KRUNC=$(abspath $(BUILD))/krunc KRUNC_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -ra tests/integration

# Also builds with clang, so both compilers stay warning-free, and a dynamic
# krunc (-Dstatic=false: it dlopens libkrun itself), on which the krun executor's
# tests and the lifecycle tests run before the whole suite runs on the default build.
test: deps-test build
	test -f $(BUILD)-clang/build.ninja || CC=clang meson setup $(BUILD)-clang >/dev/null
	ninja -C $(BUILD)-clang >/dev/null
	test -f $(BUILD)-dynamic/build.ninja || meson setup -Dstatic=false $(BUILD)-dynamic >/dev/null
	ninja -C $(BUILD)-dynamic >/dev/null
	meson test -C $(BUILD) --print-errorlogs
	KRUNC=$(abspath $(BUILD)-dynamic)/krunc KRUNC_BUILD=$(abspath $(BUILD)-dynamic) $(PYTHON) -m pytest -q -ra \
		tests/integration/test_krun.py tests/integration/test_lifecycle.py
	KRUNC=$(abspath $(BUILD))/krunc KRUNC_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -ra tests/integration

install: build
	meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD)-clang $(BUILD)-dynamic
