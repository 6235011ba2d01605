# berth: the two commands a fresh machine needs.
#   make demo   installs dependencies, builds, runs a real compose stack
#   make check  installs dependencies, builds, runs every test
# Debian packages are installed with apt-get only when missing.

BUILD       ?= build
ASAN_BUILD  ?= build-asan
JOBS        ?= $(shell nproc)
CMAKE_FLAGS ?=

# Build dependencies, then what the tests and examples run.
DEB_BUILD := build-essential cmake pkg-config clang clang-format \
	libyaml-dev libjansson-dev libuv1-dev libnl-3-dev libnl-route-3-dev libnl-nf-3-dev \
	libnftables-dev libnftnl-dev libmnl-dev libarchive-dev libcurl4-openssl-dev libssl-dev \
	libseccomp-dev libcmocka-dev
DEB_TEST := busybox-static crun docker-registry skopeo openssl nftables iproute2 util-linux \
	procps curl python3 libclang-rt-14-dev zsh

.PHONY: all deps build build-asan check unit integration demo nmt fuzz bench format format-check clean

all: build

deps:
	@missing=$$(for p in $(DEB_BUILD) $(DEB_TEST); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "Installing:" $$missing; \
		if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD) -DBERTH_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# Unit tests run under AddressSanitizer and UBSan with leak detection.
build-asan: deps
	CC=clang cmake -S . -B $(ASAN_BUILD) -DBERTH_WERROR=ON -DCMAKE_BUILD_TYPE=Debug \
		-DBERTH_SANITIZE=address,undefined $(CMAKE_FLAGS) >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

unit: build-asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest -L unit --output-on-failure -j $(JOBS)

integration: build
	cd $(BUILD) && ctest -L 'integration|e2e' --output-on-failure -j $(JOBS)

check: deps format-check unit integration
	@echo "make check: all tests passed"

demo: build
	./examples/demo.sh $(BUILD)/cli/berth

# Opt-in, never part of check: the nginx + mysql + tomcat stack end to end.
# Uses the images present, else pulls the official ones, else (or with
# NMT_OFFLINE=1) builds them from Debian's packages (needs Debian's archive).
nmt: build
	./examples/nmt/run.sh $(BUILD)/cli/berth

fuzz: deps
	CC=clang cmake -S . -B build-fuzz -DBERTH_FUZZ=ON -DBERTH_SANITIZE=address,undefined \
		-DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build build-fuzz -j $(JOBS)
	./tests/fuzz/run.sh build-fuzz

bench: build
	./bench/run.sh $(BUILD)/cli/berth

format:
	git ls-files -co --exclude-standard '*.c' '*.h' | xargs -r clang-format -i

format-check:
	git ls-files -co --exclude-standard '*.c' '*.h' | xargs -r clang-format --dry-run -Werror

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
