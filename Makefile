# pop3d — build, test, demo, bench. Everything installs itself from package-lock.json.
BUN      := node_modules/.bin/bun
TSC      := node_modules/.bin/tsc
SOURCES  := $(shell find src -name '*.ts')
BINARY   := dist/pop3d

.PHONY: all build test unit e2e typecheck demo bench clean

all: build

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

build: $(BINARY)

$(BINARY): node_modules/.installed $(SOURCES)
	@mkdir -p dist
	$(BUN) build --compile --minify --bytecode --format=esm \
	  --no-compile-autoload-dotenv --no-compile-autoload-bunfig src/main.ts --outfile $(BINARY)

# Runs every test (unit and end-to-end against the compiled binary); the last line is
# "N passed, M failed" for CI.
test: build
	@./test/run-tests.sh $(BUN)

unit: node_modules/.installed
	$(BUN) test test/unit

typecheck: node_modules/.installed
	$(TSC) --noEmit -p .

demo: build
	@./scripts/demo.sh

bench: build
	$(BUN) run bench/run.ts

clean:
	rm -rf dist demo
