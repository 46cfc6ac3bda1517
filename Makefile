# Trellis: build, run and test. `make help` lists the targets.

GO        ?= go
FUZZTIME  ?= 5s
BIN       := bin/trellis
ACTOR_DIR := build/actors
PAR_DIR   := build/providers
# Capability providers: cmd/provider-NAME, archived for these platforms by `make pars`.
PROVIDERS := httpserver keyvalue messaging
PAR_PLATFORMS := linux/amd64 linux/arm64
CAPID_httpserver := wasmcloud:httpserver
CAPID_keyvalue   := wasmcloud:keyvalue
CAPID_messaging  := wasmcloud:messaging
# The example actors; kvcounter joins when it exists.
ACTORS    := echo pinger ponger $(if $(wildcard actor/examples/kvcounter/*.go),kvcounter)

# Claims each example actor is signed with.
SIGN_echo      := --cap wasmcloud:httpserver
SIGN_pinger    := --cap wasmcloud:httpserver
SIGN_ponger    := --call-alias wasmcloud/ponger
SIGN_kvcounter := --cap wasmcloud:httpserver --cap wasmcloud:keyvalue

.PHONY: help build run test fuzz check bench actors pars clean

help:
	@echo "make run     start a lattice on this machine (embedded NATS + host + dashboard) with the echo demo on :8080"
	@echo "make test    run every test with -race, then each fuzz target for $(FUZZTIME)"
	@echo "make build   build $(BIN)"
	@echo "make actors  build and sign the example actors into $(ACTOR_DIR)/"
	@echo "make pars    build the providers for $(PAR_PLATFORMS) into archives in $(PAR_DIR)/"
	@echo "make check   gofmt, go vet, go mod tidy must leave no diff"
	@echo "make bench   run the benchmarks"
	@echo "make clean   remove bin/ and build/"

build:
	$(GO) build -o $(BIN) ./cmd/trellis

run: actors pars
	$(BIN) up --demo build

test:
	$(GO) test -race -count=1 ./...
	@$(MAKE) --no-print-directory fuzz

# Every Fuzz target of every package, briefly: `make fuzz FUZZTIME=1m` for longer runs.
fuzz:
	@set -e; \
	for file in $$(grep -rl --include='*_test.go' --exclude-dir=.git --exclude-dir=testdata '^func Fuzz' . | sort); do \
		dir=$$(dirname "$$file"); \
		for fn in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$$file"); do \
			echo "fuzz $$dir $$fn for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) "$$dir"; \
		done; \
	done

check:
	@out=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

actors: build
	@mkdir -p $(ACTOR_DIR)
	@set -e; for a in $(ACTORS); do \
		echo "build $(ACTOR_DIR)/$$a.wasm"; \
		GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -o $(ACTOR_DIR)/$$a.wasm ./actor/examples/$$a; \
	done
	$(BIN) claims sign $(ACTOR_DIR)/echo.wasm --name echo $(SIGN_echo)
	$(BIN) claims sign $(ACTOR_DIR)/pinger.wasm --name pinger $(SIGN_pinger)
	$(BIN) claims sign $(ACTOR_DIR)/ponger.wasm --name ponger $(SIGN_ponger)
	$(if $(filter kvcounter,$(ACTORS)),$(BIN) claims sign $(ACTOR_DIR)/kvcounter.wasm --name kvcounter $(SIGN_kvcounter))

pars: build
	@mkdir -p $(PAR_DIR) build/bin
	@set -e; for p in $(PROVIDERS); do \
		bins=""; \
		for plat in $(PAR_PLATFORMS); do \
			os=$${plat%/*}; arch=$${plat#*/}; \
			case $$arch in amd64) target=x86_64-$$os;; arm64) target=aarch64-$$os;; *) target=$$arch-$$os;; esac; \
			echo "build build/bin/provider-$$p-$$os-$$arch"; \
			CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags='-s -w' -o build/bin/provider-$$p-$$os-$$arch ./cmd/provider-$$p; \
			bins="$$bins --binary $$target=build/bin/provider-$$p-$$os-$$arch"; \
		done; \
		capid=$$(case $$p in httpserver) echo $(CAPID_httpserver);; keyvalue) echo $(CAPID_keyvalue);; messaging) echo $(CAPID_messaging);; esac); \
		$(BIN) par create --name $$p --capid $$capid --vendor Trellis $$bins -d $(PAR_DIR)/$$p.par.gz; \
	done

clean:
	rm -rf bin build
