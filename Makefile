# cometplay — the two commands of the README are `make run` and `make test`.
GO       ?= go
ADDR     ?= 127.0.0.1:8080
FUZZTIME ?= 10s
# Long fuzzing (make fuzz): per target.
LONGFUZZ ?= 10m

.PHONY: run cluster test unit test-under-load types fuzz-short fuzz bench lint fmt-check vet deps test-deps browser-deps clean

## run: start the tictactoe server and print the URL to open.
run:
	$(GO) run ./examples/tictactoe -addr $(ADDR) $(ARGS)

## cluster: three nodes of the server on one machine, their NATS embedded, behind a per-request round-robin balancer; prints the address to open (docs/CLUSTER.md).
cluster:
	GO=$(GO) ./scripts/cluster.sh $(ARGS)

## test: everything CI runs: formatting, vet, the type check of the browser library's declarations, the race-enabled suite (browser tests included), the allocation tests (without -race) and a short run of every fuzz target.
test: deps fmt-check vet types unit fuzz-short

## types: static/js/*.d.ts checked against the JavaScript with TypeScript (pinned in tools/ts; installs nodejs and npm when missing).
types:
	./scripts/typecheck.sh

unit:
	$(GO) test -race -shuffle=on -count=1 -timeout 30m ./...
	# The allocation tests, which the race detector's own allocations rule out above.
	$(GO) test -count=1 -run 'Alloc' ./...

## test-under-load: the race-enabled suite (as in test) with every CPU kept busy by four busy loops: tests must not assert wall-clock bounds that a loaded machine breaks.
test-under-load:
	GO=$(GO) ./scripts/test-under-load.sh

fuzz-short:
	FUZZTIME=$(FUZZTIME) GO=$(GO) ./scripts/fuzz.sh

## fuzz: long fuzzing runs (LONGFUZZ per target); new corpus entries land in testdata/fuzz/.
fuzz:
	FUZZTIME=$(LONGFUZZ) GO=$(GO) ./scripts/fuzz.sh

## bench: load generator and same-run baselines; writes bench/RESULTS.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./httpcodec/ ./engine/... ./comet/ ./internal/history/
	$(GO) run ./bench all -out bench/RESULTS.md

lint: fmt-check vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@2025.1.1 ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

## deps: Go modules, and the Debian packages the tests drive (chromium for the browser tests, haproxy for the bench's balancer test) when missing.
deps: test-deps
	$(GO) mod download

test-deps:
	@./scripts/test-deps.sh

browser-deps: test-deps

clean:
	rm -rf test-output bin tools/ts/impl

## hardening: the long forms of the hardening tests (faults, bad input and abuse at the scale docs/SECURITY.md gives), without -race so that resident memory is measured exactly, then HARDENING_FUZZTIME of differential fuzzing. "make test" runs their short forms.
HARDENING_FUZZTIME ?= 10m
.PHONY: hardening
hardening:
	COMETPLAY_HARDENING=long $(GO) test -count=1 -timeout 60m -run 'Hardening' ./engine/ ./comet/ ./games/ ./examples/tictactoe/
	# The caps of issue 17 that rooms, lobby and the engine test at unit size: waiting rooms, lobby floods, chat, shutdown, keepalive, subscribe and parameter limits.
	$(GO) test -count=1 -run 'TestWaitingRoomCaps|TestShutdownEndsGamesWithoutAWinner|TestCreateCaps|TestListCostIndependentOfRooms|TestListRate|TestAddressShareOfTheQueue|TestChatInvisible|TestKeepAlive|TestSubscribeLimits|TestReadParamsCap' ./rooms/ ./lobby/ ./engine/ ./comet/
	$(GO) test -run '^$$' -fuzz '^FuzzDifferential$$' -fuzztime $(HARDENING_FUZZTIME) ./httpcodec/
