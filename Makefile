# pop3d — build, test, demo, bench, install, package. Everything installs itself from package-lock.json.
BUN      := node_modules/.bin/bun
TSC      := node_modules/.bin/tsc
SOURCES  := $(shell find src -name '*.ts') package.json
BINARY   := dist/pop3d
MANPAGE  := dist/pop3d.8

# The package version follows package.json; the commit and Bun release are recorded in the binary
# (`pop3d --version`). Recursively expanded, so they are read when a recipe needs them.
VERSION      = $(shell sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' package.json | head -n 1)
COMMIT       = $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD -- src package.json 2>/dev/null || echo -modified)
BUN_RELEASE  = $(shell $(BUN) --version)
# The syslog facility when imapd.conf sets none (src/config/build-defaults.ts): MAIL, as Debian
# builds Cyrus, unless a package build says otherwise (make SYSLOG_FACILITY=LOCAL6).
SYSLOG_FACILITY ?=

# `make install`: the binary where Cyrus's master(8) looks for it, the man page and the examples.
PREFIX        ?= /usr/local
DESTDIR       ?=
CYRUS_LIBEXEC ?= /usr/lib/cyrus/bin
MANDIR        ?= $(PREFIX)/share/man
DOCDIR        ?= $(PREFIX)/share/doc/pop3d
EXAMPLES      := $(wildcard packaging/examples/*)
SYSTEMD_UNITS := $(wildcard examples/systemd/*)
DOCS          := $(wildcard docs/*.md)

DEB_ARCH := amd64
DEB_ROOT := dist/deb-root
DEB       = dist/pop3d_$(VERSION)_$(DEB_ARCH).deb

.PHONY: all build man test unit e2e typecheck demo bench fuzz install deb clean FORCE

all: build man

# Compared by content, not by time: a fresh checkout's files are newer than a node_modules shared
# with other checkouts, and `npm ci` would empty it under them. For the same reason a symlinked
# node_modules is never installed through: npm ci empties the directory the link points to and
# replaces the link, so every checkout sharing it (a test run's `make deb` included) loses bun mid-run.
node_modules/.installed: package.json package-lock.json
	@if cmp -s package-lock.json $@; then touch $@; \
	elif [ -L node_modules ]; then \
	  echo "node_modules is a symlink to a shared install that does not match package-lock.json: run npm ci where it lives, not here" >&2; exit 1; \
	else npm ci --no-audit --no-fund && cp package-lock.json $@; fi

build: $(BINARY)

# Rewritten only when the facts change, so the binary is rebuilt after a commit but not on every make.
dist/build-info: FORCE node_modules/.installed
	@mkdir -p dist
	@printf '%s %s %s %s\n' '$(VERSION)' '$(BUN_RELEASE)' '$(COMMIT)' '$(SYSLOG_FACILITY)' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

# --bytecode: start-up needs no parsing. --splitting: every require()d module (launch modes,
# --check-config, the mbox/Cyrus stores, Murder) is its own chunk, loaded only by a process that
# runs it. --smol: JSC's smaller heap; a process forked for one session keeps ~0.3 MB less
# (~0.5 MB logged in). Its price is one collection during start-up (the greeting 1.5-2 ms later
# by the process's own clock), which master's fork-to-greeting figures do not show above their spread.
$(BINARY): node_modules/.installed $(SOURCES) dist/build-info
	@mkdir -p dist
	$(BUN) build --compile --minify --bytecode --format=esm --splitting --compile-exec-argv=--smol \
	  --define 'BUILD_VERSION="$(VERSION)"' --define 'BUILD_BUN_VERSION="$(BUN_RELEASE)"' \
	  --define 'BUILD_COMMIT="$(COMMIT)"' $(if $(SYSLOG_FACILITY),--define 'POP3D_SYSLOG_FACILITY="$(SYSLOG_FACILITY)"') \
	  --no-compile-autoload-dotenv --no-compile-autoload-bunfig src/main.ts --outfile $(BINARY)

# pop3d(8): man/pop3d.8.in with its CONFIGURATION section generated from the option table that
# `pop3d --help-config` prints.
man: $(MANPAGE)

$(MANPAGE): node_modules/.installed man/pop3d.8.in scripts/gen-man.ts $(SOURCES)
	@mkdir -p dist
	$(BUN) run scripts/gen-man.ts man/pop3d.8.in '$(VERSION)' > $@.tmp
	@mv $@.tmp $@

# Runs every test (unit and end-to-end against the compiled binary); the last line is
# "N passed, M failed" for CI.
test: build man
	@./test/run-tests.sh $(BUN)

unit: node_modules/.installed
	$(BUN) test test/unit

typecheck: node_modules/.installed
	$(TSC) --noEmit -p .

# The long fuzz run (make test runs a short one): FUZZ_ARGS="--lines N --seed S" to change it
fuzz: node_modules/.installed
	$(BUN) run test/fuzz/run.ts $(FUZZ_ARGS)

demo: build
	@./scripts/demo.sh

# BENCH_ARGS=--quick for a smoke check of the same steps (see bench/RESULTS.md)
bench: build
	$(BUN) run bench/run.ts $(BENCH_ARGS)

install: build man
	install -d '$(DESTDIR)$(CYRUS_LIBEXEC)' '$(DESTDIR)$(MANDIR)/man8' '$(DESTDIR)$(DOCDIR)/examples/systemd'
	install -m 0755 $(BINARY) '$(DESTDIR)$(CYRUS_LIBEXEC)/pop3d'
	install -m 0644 $(MANPAGE) '$(DESTDIR)$(MANDIR)/man8/pop3d.8'
	install -m 0644 $(EXAMPLES) '$(DESTDIR)$(DOCDIR)/examples/'
	install -m 0644 $(SYSTEMD_UNITS) '$(DESTDIR)$(DOCDIR)/examples/systemd/'
	install -m 0644 $(DOCS) '$(DESTDIR)$(DOCDIR)/'

# dist/pop3d_<version>_amd64.deb, built with dpkg-deb alone (see packaging/debian/ and docs/install.md).
# gzip rather than xz: a quarter of the time for a quarter more bytes.
deb: build man
	@$(MAKE) --no-print-directory $(DEB)

$(DEB): $(BINARY) $(MANPAGE) $(EXAMPLES) $(SYSTEMD_UNITS) $(DOCS) $(wildcard packaging/debian/*)
	rm -rf $(DEB_ROOT)
	$(MAKE) --no-print-directory install DESTDIR=$(DEB_ROOT) PREFIX=/usr CYRUS_LIBEXEC=/usr/lib/cyrus/bin
	gzip -9n $(DEB_ROOT)/usr/share/man/man8/pop3d.8
	install -m 0644 packaging/debian/copyright $(DEB_ROOT)/usr/share/doc/pop3d/copyright
	install -d -m 0755 $(DEB_ROOT)/DEBIAN
	install -m 0755 packaging/debian/preinst packaging/debian/postrm $(DEB_ROOT)/DEBIAN/
	sed -e 's/@VERSION@/$(VERSION)/' -e 's/@ARCH@/$(DEB_ARCH)/' \
	  -e "s/@SIZE@/$$(du -sk --exclude=DEBIAN $(DEB_ROOT) | cut -f1)/" \
	  packaging/debian/control.in > $(DEB_ROOT)/DEBIAN/control
	dpkg-deb --root-owner-group -Zgzip --build $(DEB_ROOT) $@

clean:
	rm -rf dist demo
