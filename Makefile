# Setup and everyday commands. `make test` and `make run` install missing Debian packages first.
APT_PACKAGES := pkg-config libsecp256k1-dev libzstd-dev zlib1g-dev libsqlite3-dev libpcre2-dev zstd gzip python3 python3-venv time systemd
SWIFT ?= swift
ARGS ?= run

.PHONY: deps build release run test lint bench bench-live fuzz clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product labeler

run: release
	.build/release/labeler $(ARGS)

test: deps
	SWIFT=$(SWIFT) bash scripts/lint.sh
	$(SWIFT) build --build-tests
	bash scripts/smoke.sh
	bash scripts/check-unit.sh
	$(SWIFT) test --skip-build
	bash scripts/dashboard-test.sh
	bash scripts/python-interop.sh
	bash scripts/report-client.sh

# swift-format with .swift-format over Sources, Tests and Benchmarks; fails on any finding.
# scripts/format.sh formats them in place.
lint:
	SWIFT=$(SWIFT) bash scripts/lint.sh

bench: deps
	bash scripts/bench-decode.sh

bench-live: deps
	bash scripts/bench-live.sh

fuzz: deps
	bash Fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf .build .build-*
