# The two commands a newcomer needs: `make demo` and `make test`. Each installs what is missing.
SHELL := /bin/bash
VENV := .venv
APT_PACKAGES := libcurl4-openssl-dev libssl-dev libsqlite3-dev pkg-config python3-venv
PYTHON_PACKAGES := moto[server]==5.2.5 cfn-lint
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: test demo build deps venv lint bench faults clean

## deps: the Debian packages the build links against (libcurl, libcrypto, libsqlite3).
deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

## venv: a Python virtual environment with the AWS emulator (moto) and cfn-lint.
venv: $(VENV)/.ready
$(VENV)/.ready: Makefile
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check '$(word 1,$(PYTHON_PACKAGES))' '$(word 2,$(PYTHON_PACKAGES))'
	touch $@

build: deps
	swift build

lint: venv
	$(VENV)/bin/cfn-lint infra/sagemaker-callback.template.json

# Tests whose contract is a few seconds long (a 3 s HeartbeatSeconds, 3 s leases) or that run
# several service processes at once (the replica tests): they run alone after the parallel run,
# because on two cores the dozens of emulators that run starts at once can stall any process for
# seconds.
TIMED_TESTS := LifecycleWorkflowTests/heartbeats|ReplicaTests

## test: every test (unit, integration against moto, crash), and cfn-lint on infra/.
# Three runs, so that no test's clock runs while two cores start dozens of emulators: the unit
# targets (a few emulators at most), then the integration tests (each starts its own emulator;
# at most INTEGRATION_WIDTH at once), then the timed tests alone, one at a time.
INTEGRATION_WIDTH := 6
MOTO_ENV = MOTO_SERVER="$(abspath $(VENV))/bin/moto_server"
test: deps venv lint
	swift build --build-tests
	set -o pipefail; $(MOTO_ENV) swift test --skip-build --skip IntegrationTests 2>&1 | tee .build/test.log
	set -o pipefail; $(MOTO_ENV) swift test --skip-build --filter IntegrationTests --skip '$(TIMED_TESTS)' \
	  --experimental-maximum-parallelization-width $(INTEGRATION_WIDTH) 2>&1 | tee -a .build/test.log
	set -o pipefail; $(MOTO_ENV) swift test --skip-build --no-parallel --filter '$(TIMED_TESTS)' 2>&1 | tee -a .build/test.log
	@# One plain closing line, whatever the runners printed before it: the three runs, added up.
	@passed=$$(sed -n 's/.*Test run with \([0-9]*\) tests\{0,1\} .* passed .*/\1/p' .build/test.log | awk '{ n += $$1 } END { print n + 0 }'); \
	  runs=$$(grep -c 'Test run with [0-9]* tests\{0,1\} .* passed' .build/test.log); \
	  echo "tests: $${passed} passed, 0 failed"; [ "$$runs" -eq 3 ] && [ "$$passed" -gt 0 ]

## demo: the service end to end on a local AWS emulator.
demo: deps venv build
	MOTO_SERVER="$(abspath $(VENV))/bin/moto_server" .build/debug/sagemaker-callback-demo

## bench: replay throughput into a fresh database and serve's resident memory (release build),
## then what the DynamoDB backend costs per job (BENCH_JOBS jobs on moto, units by AWS's rules),
## then serve at line rate against the in-process fake of SQS and Step Functions (one line per
## workload; BENCH_SCALE=0.1 for a quick run, BENCH_WORKLOADS=a,b to pick).
bench: deps venv
	swift build -c release --product sagemaker-callback
	swift build -c release --product sagemaker-callback-bench
	swift build -c release --product sagemaker-callback-loadbench
	MOTO_SERVER="$(abspath $(VENV))/bin/moto_server" $(VENV)/bin/python Tests/bench/bench.py
	MOTO_SERVER="$(abspath $(VENV))/bin/moto_server" .build/release/sagemaker-callback-bench
	SAGEMAKER_CALLBACK_BINARY="$${SAGEMAKER_CALLBACK_BINARY:-.build/release/sagemaker-callback}" .build/release/sagemaker-callback-loadbench

## faults: serve (release build) against the fake with AWS faults injected, one line per scenario
## (each mode at 5 % and 20 % on SQS and Step Functions, then all at once at 5 %: completed,
## lost, second outcomes, repeats, left in queues, CPU per callback, wall time), then the kill
## loops (serve SIGKILLed inside deliveries, commits and at random, restarted on its database).
## FAULTS_JOBS=1000 for a quick run, FAULTS_SCENARIOS=500,all to pick, FAULTS_KILLS=0 to skip loops,
## FAULTS_PARALLEL=1 for one scenario at a time (default 3). About 5 minutes; exits 1 if a line fails.
faults: deps
	swift build -c release --product sagemaker-callback
	swift build -c release --product sagemaker-callback-faults
	SAGEMAKER_CALLBACK_BINARY="$${SAGEMAKER_CALLBACK_BINARY:-.build/release/sagemaker-callback}" .build/release/sagemaker-callback-faults

clean:
	rm -rf .build $(VENV)
