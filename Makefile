# The two commands a newcomer needs: `make demo` and `make test`. Each installs what is missing.
SHELL := /bin/bash
VENV := .venv
APT_PACKAGES := libcurl4-openssl-dev libssl-dev libsqlite3-dev pkg-config python3-venv openssl curl
PYTHON_PACKAGES := moto[server]==5.2.5 cfn-lint prometheus_client==0.26.0
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: test demo build deps venv lint bench faults fuzz fuzz-build clean

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
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $(foreach package,$(PYTHON_PACKAGES),'$(package)')
	touch $@

build: deps
	swift build

lint: venv
	$(VENV)/bin/cfn-lint infra/sagemaker-callback.template.json

# Tests whose contract is a few seconds long (a 3 s HeartbeatSeconds, 3 s leases) or that run
# several service processes at once (the replica tests, the DynamoDB kill loop: its kills must land
# inside a delivery and a commit, which a loaded machine makes rare): they run alone after the parallel run,
# where on two cores a busy moment can stall any process for seconds.
TIMED_TESTS := LifecycleWorkflowTests/heartbeats|ReplicaTests|FaultTests/dynamoKillLoop

## test: the imports and the layout checked, every test (unit, integration against moto, crash),
## cfn-lint on infra/, and every log the tests wrote scanned for secrets.
# Three runs: the unit targets, then the integration tests (at most INTEGRATION_WIDTH at once),
# then the timed tests alone, one at a time. Each run starts one moto server that its tests share
# (each test has queues, state machines, an event bus and tables of its own); only tests that
# switch on request authentication start one of their own.
# Every serve the tests run writes its log under TEST_LOGS; after the runs, scan-logs.py fails on
# any line above debug there (and any log line the runners printed) that holds a whole task token,
# a credential or a message body, naming FILE:LINE. Its self-check first: a planted leak is caught.
INTEGRATION_WIDTH := 6
TEST_LOGS := .build/test-logs
MOTO_ENV = MOTO_SERVER="$(abspath $(VENV))/bin/moto_server" SAGEMAKER_CALLBACK_TEST_LOGS="$(abspath $(TEST_LOGS))"
test: deps venv lint
	python3 scripts/check-imports.py
	swift format lint --strict --recursive Sources Tests Package.swift
	python3 scripts/scan-logs.py --self-check
	swift build --build-tests
	rm -rf $(TEST_LOGS)
	set -o pipefail; $(MOTO_ENV) swift test --skip-build --skip IntegrationTests 2>&1 | tee .build/test.log
	set -o pipefail; $(MOTO_ENV) swift test --skip-build --filter IntegrationTests --skip '$(TIMED_TESTS)' \
	  --experimental-maximum-parallelization-width $(INTEGRATION_WIDTH) 2>&1 | tee -a .build/test.log
	set -o pipefail; $(MOTO_ENV) swift test --skip-build --no-parallel --filter '$(TIMED_TESTS)' 2>&1 | tee -a .build/test.log
	python3 scripts/scan-logs.py $(TEST_LOGS) --runner-output .build/test.log
	@# One plain closing line, whatever the runners printed before it: the three runs, added up.
	@passed=$$(sed -n 's/.*Test run with \([0-9]*\) tests\{0,1\} .* passed .*/\1/p' .build/test.log | awk '{ n += $$1 } END { print n + 0 }'); \
	  runs=$$(grep -c 'Test run with [0-9]* tests\{0,1\} .* passed' .build/test.log); \
	  echo "tests: $${passed} passed, 0 failed"; [ "$$runs" -eq 3 ] && [ "$$passed" -gt 0 ]

## fuzz: every parser of untrusted input under libFuzzer with AddressSanitizer, FUZZ_SECONDS each
## (default 20), from the seeds in events/, Tests/FuzzTests/Seeds/ and the SigV4 vectors. The
## build has its own scratch path, so it never rebuilds the normal one. Any input that crashes,
## leaks or hangs a target is copied to Tests/FuzzTests/Regressions/<target>/, where
## FuzzRegressionTests replays it on every `make test`, and the run fails.
FUZZ_SECONDS ?= 20
FUZZ_TARGETS := json event registration query-xml aws-error credential-file credential-process sigv4
FUZZ_SCRATCH := .build-fuzz
# lld: gold fails (an internal error) linking libFuzzer's driver into a SwiftPM executable.
FUZZ_FLAGS := -c release --scratch-path $(FUZZ_SCRATCH) -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING \
  -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld
fuzz-build: deps
	swift build $(FUZZ_FLAGS) --product sagemaker-callback-fuzz
fuzz: fuzz-build
	@binary=$$(swift build $(FUZZ_FLAGS) --show-bin-path)/sagemaker-callback-fuzz; found=0; \
	for target in $(FUZZ_TARGETS); do \
	  corpus=$(FUZZ_SCRATCH)/corpus/$$target; artifacts=$(FUZZ_SCRATCH)/artifacts/$$target; \
	  case $$target in json|event) seeds=events;; sigv4) seeds=Tests/SigV4Tests/Fixtures/aws-sig-v4-test-suite;; \
	    *) seeds=Tests/FuzzTests/Seeds/$$target;; esac; \
	  mkdir -p $$corpus $$artifacts; kept=0; \
	  FUZZ_TARGET=$$target $$binary $$corpus $$seeds -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -artifact_prefix=$$artifacts/ -print_final_stats=1 > $(FUZZ_SCRATCH)/$$target.log 2>&1; status=$$?; \
	  runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_SCRATCH)/$$target.log); \
	  echo "fuzz $$target: $${runs:-0} runs in $(FUZZ_SECONDS) s, exit $$status"; \
	  for artifact in $$artifacts/*; do \
	    [ -f "$$artifact" ] || continue; found=1; kept=1; \
	    mkdir -p Tests/FuzzTests/Regressions/$$target; cp "$$artifact" Tests/FuzzTests/Regressions/$$target/; \
	    echo "  kept $$(basename $$artifact) in Tests/FuzzTests/Regressions/$$target/ (log: $(FUZZ_SCRATCH)/$$target.log)"; \
	    rm "$$artifact"; \
	  done; \
	  if [ $$status -ne 0 ] && [ $$kept -eq 0 ]; then found=1; tail -20 $(FUZZ_SCRATCH)/$$target.log; fi; \
	done; \
	[ $$found -eq 0 ] || { echo "fuzz: inputs kept above; fix them, then commit them with the fix"; exit 1; }

## demo: the service end to end on a local AWS emulator.
demo: deps venv build
	MOTO_SERVER="$(abspath $(VENV))/bin/moto_server" .build/debug/sagemaker-callback-demo

## bench: replay throughput into a fresh database and serve's resident memory (release build),
## then what the DynamoDB backend costs per job (BENCH_JOBS jobs on moto, units by AWS's rules),
## then serve at line rate against the in-process fake of SQS and Step Functions (one line per
## workload; BENCH_SCALE=0.1 for a quick run, BENCH_WORKLOADS=a,b to pick), then what the metrics
## and a JSON log line add to one callback.
# serve as the image ships it (infra/Dockerfile: --static-swift-stdlib, which takes ~2.4 MB off its
# resident memory), in a scratch path of its own so that the other release products keep theirs.
SHIPPED := .build/shipped/release/sagemaker-callback
bench: deps venv
	swift build -c release --static-swift-stdlib --scratch-path .build/shipped --product sagemaker-callback
	swift build -c release --product sagemaker-callback-bench
	swift build -c release --product sagemaker-callback-loadbench
	swift build -c release --product sagemaker-callback-opsbench
	SAGEMAKER_CALLBACK_BINARY="$${SAGEMAKER_CALLBACK_BINARY:-$(SHIPPED)}" MOTO_SERVER="$(abspath $(VENV))/bin/moto_server" $(VENV)/bin/python Tests/bench/bench.py
	MOTO_SERVER="$(abspath $(VENV))/bin/moto_server" .build/release/sagemaker-callback-bench
	SAGEMAKER_CALLBACK_BINARY="$${SAGEMAKER_CALLBACK_BINARY:-$(SHIPPED)}" .build/release/sagemaker-callback-loadbench
	.build/release/sagemaker-callback-opsbench 2>/dev/null
	python3 Tests/bench/wal_pages.py

## faults: serve (release build) against the fake with AWS faults injected, one line per scenario
## (each mode at 5 % and 20 % on SQS and Step Functions, a few ReceiveMessage stalls past the
## receive timeout, then all at once at 5 %: completed, lost, second outcomes, repeats, left in
## queues, CPU per callback, wall time), then the kill loops (serve SIGKILLed inside deliveries,
## commits and at random, restarted on its store: SQLite, and 3 replicas on one DynamoDB table on
## moto, each with and without faults). FAULTS_JOBS=1000 for a quick run, FAULTS_SCENARIOS=500,all
## to pick, FAULTS_KILLS=0 to skip loops, FAULTS_DYNAMO_JOBS (default 200; 0 skips DynamoDB),
## FAULTS_REPLICAS (default 3), FAULTS_PARALLEL=1 for one scenario at a time (default 3).
## About 9 minutes; exits 1 if a line fails.
faults: deps venv
	swift build -c release --product sagemaker-callback
	swift build -c release --product sagemaker-callback-faults
	SAGEMAKER_CALLBACK_BINARY="$${SAGEMAKER_CALLBACK_BINARY:-.build/release/sagemaker-callback}" MOTO_SERVER="$${MOTO_SERVER:-$(VENV)/bin/moto_server}" .build/release/sagemaker-callback-faults

clean:
	rm -rf .build $(VENV)
