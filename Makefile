# Trellis: build, run and test. `make help` lists the targets.

GO        ?= go
# A count, not a duration: Go 1.26's fuzz coordinator can fail a target with a bare "context
# deadline exceeded" when a -fuzztime duration ends (go.dev/issue/75804, fixed in Go 1.27).
FUZZTIME  ?= 2500x
BIN       := bin/trellis
ACTOR_DIR := build/actors
PAR_DIR   := build/providers
# Capability providers: cmd/provider-NAME, archived for these platforms by `make pars`.
PROVIDERS := httpserver keyvalue messaging $(if $(wildcard cmd/provider-applier/*.go),applier)
PAR_PLATFORMS := linux/amd64 linux/arm64
CAPID_httpserver := wasmcloud:httpserver
CAPID_keyvalue   := wasmcloud:keyvalue
CAPID_messaging  := wasmcloud:messaging
CAPID_applier    := cosmonic:kubernetes_applier
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
	@echo "make images          build the container images without Docker and push them to \$$REGISTRY ($(REGISTRY))"
	@echo "make push-providers  push the provider archives to \$$REGISTRY/providers/NAME:\$$TAG"
	@echo "make push-actors     push the signed example actors to \$$REGISTRY/actors/NAME:\$$TAG"
	@echo "make helm            helm lint the chart and package it into build/charts/"
	@echo "make e2e             the Kubernetes walkthrough on \$$KUBECONFIG, or on a throwaway local cluster (docs/kubernetes.md)"

build:
	$(GO) build -o $(BIN) ./cmd/trellis

# The echo demo needs only the httpserver provider, and only for this machine: `make pars` builds
# every provider for every platform.
HOST_PLATFORM = $(shell $(GO) env GOOS)/$(shell $(GO) env GOARCH)
run: actors
	@$(MAKE) --no-print-directory pars PROVIDERS=httpserver PAR_PLATFORMS=$(HOST_PLATFORM)
	$(BIN) up --demo build

# The Kubernetes walkthrough (make e2e: root, a throwaway local cluster) is part of the tests in CI
# (CI=true) or with E2E=1; elsewhere make test says it left it out.
E2E ?= $(if $(filter true,$(CI)),1,0)

# The integration package runs real NATS clusters, provider processes and traces under -race: more
# than go test's default 10 minutes on two cores.
test:
	$(GO) test -race -count=1 -timeout 30m ./...
	@$(MAKE) --no-print-directory fuzz
	@if [ "$(E2E)" = 1 ]; then $(MAKE) --no-print-directory e2e; \
	else echo "make test: the Kubernetes walkthrough (make e2e) was not run: E2E=1 runs it (root, or KUBECONFIG and REGISTRY)"; fi

# Every Fuzz target of every package, briefly: `make fuzz FUZZTIME=200000x` for longer runs.
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

# The applier's benchmark needs a kube-apiserver: hack/kube-apiserver.sh builds it once (minutes)
# into ~/.cache/trellis/cluster and prints its path at once afterwards.
bench:
	@kas=$${TRELLIS_KUBE_APISERVER:-$$(bash hack/kube-apiserver.sh)} && \
	TRELLIS_KUBE_APISERVER="$$kas" $(GO) test -run '^$$' -bench . -benchmem ./...

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
		capid=$$(case $$p in httpserver) echo $(CAPID_httpserver);; keyvalue) echo $(CAPID_keyvalue);; messaging) echo $(CAPID_messaging);; applier) echo $(CAPID_applier);; esac); \
		$(BIN) par create --name $$p --capid $$capid --vendor Trellis $$bins -d $(PAR_DIR)/$$p.par.gz; \
	done

clean:
	rm -rf bin build

# ---- Kubernetes: images, registry pushes, the Helm chart and the end-to-end walkthrough
# (docs/kubernetes.md). REGISTRY is where images, provider archives and actors go; INSECURE=1 pushes
# over plain HTTP (the default for 127.0.0.1 and localhost). helm and crane are built from the Go
# module proxy into ~/.cache/trellis/tools by hack/tools.sh unless HELM / CRANE name them.
REGISTRY ?= 127.0.0.1:5000
TAG      ?= $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$$/\1/p' charts/trellis/Chart.yaml)
INSECURE ?= $(if $(filter 127.0.0.1:% localhost:% 127.0.0.1 localhost,$(REGISTRY)),1)
REG_PUSH_FLAGS = $(if $(filter-out 0,$(INSECURE)),--insecure)

.PHONY: images push-providers push-actors helm e2e

images:
	REGISTRY=$(REGISTRY) TAG=$(TAG) INSECURE=$(INSECURE) CRANE=$(CRANE) hack/images.sh

push-providers: pars
	@set -e; for p in $(PROVIDERS); do \
		$(BIN) reg push $(REG_PUSH_FLAGS) $(REGISTRY)/providers/$$p:$(TAG) $(PAR_DIR)/$$p.par.gz; \
	done

push-actors: actors
	@set -e; for a in $(ACTORS); do \
		$(BIN) reg push $(REG_PUSH_FLAGS) $(REGISTRY)/actors/$$a:$(TAG) $(ACTOR_DIR)/$${a}_s.wasm; \
	done

helm:
	@set -e; helm=$${HELM:-$$(hack/tools.sh helm)}; \
	$$helm lint --strict charts/trellis; \
	$$helm lint --strict charts/trellis -f test/chart/testdata/applier-external-nats.values.yaml; \
	$$helm lint --strict charts/trellis -f test/chart/testdata/apps.values.yaml; \
	$$helm lint --strict charts/trellis -f test/chart/testdata/security.values.yaml; \
	mkdir -p build/charts; $$helm package charts/trellis -d build/charts

# With KUBECONFIG set: the walkthrough on that cluster, with images and artifacts pushed to
# REGISTRY (which its nodes and pods must reach). Without: a throwaway single-node cluster on this
# machine (hack/cluster, root, no Docker), torn down afterwards (KEEP_CLUSTER=1 keeps it).
e2e:
	REGISTRY=$(if $(filter command line environment,$(origin REGISTRY)),$(REGISTRY)) TAG=$(TAG) test/e2e/run.sh
