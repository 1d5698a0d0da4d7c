# Hearth: build, test and run.
#   make deps      install the Debian packages below that are missing (as root, or with sudo)
#   make build     GUI binary bin/hearth (cgo, Fyne)
#   make headless  bin/hearth-headless without cgo or Fyne
#   make run       GUI packages, build, then ./bin/hearth $(ARGS)
#   make test      deps, go vet, go test (fuzz seed corpora run as ordinary tests), headless build check
#   make bench     go test benchmarks: BENCH=regexp PKGS=./server/... BENCHTIME=2s COUNT=1
#   make fmt       go fmt
#   make install   bin/hearth (GUI) to $(PREFIX)/bin, its desktop entry and icon (PREFIX=/usr/local, DESTDIR)
#   make install-headless  bin/hearth-headless to $(PREFIX)/bin/hearth, the systemd unit and its user
#   make uninstall remove what either install put there
#   make pi        bin/hearth-linux-arm64: the headless build for a Raspberry Pi (GOARCH=arm64)
#   make screenshots  render every tab over a real server with clients signed in, into
#                  assets/screenshots (the README shows them), and accept the golden markup

# Debian packages: the Fyne (cgo, X11) build, GUI tests under Xvfb, and the real
# XMPP peers the interop tests drive (see server/xmpptest/interop/README.md).
GUI_PACKAGES  := gcc pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev \
                 libxinerama-dev libxi-dev libxxf86vm-dev
TEST_PACKAGES := xvfb xauth imagemagick xdotool prosody lua-unbound python3-slixmpp python3-aiohttp python3-nbxmpp go-sendxmpp ejabberd coturn \
                 iproute2 avahi-daemon avahi-utils dbus libpurple-dev \
                 systemd desktop-file-utils $(NODE_PACKAGES)
# Node and npm for xmpp.js, from Debian unless an npm is there already (a
# Node from NodeSource carries its own npm, and conflicts with Debian's).
NODE_PACKAGES := $(if $(shell command -v npm 2>/dev/null),,nodejs npm)
DEBIAN_PACKAGES := $(GUI_PACKAGES) $(TEST_PACKAGES)

GO           ?= go
TEST_TIMEOUT ?= 20m
BENCH        ?= .
BENCHTIME    ?= 1s
COUNT        ?= 1
PKGS         ?= ./...
ARGS         ?=

# The version people read (internal/buildinfo): the commit and its date from
# git, stamped by the linker, since this tree builds with -buildvcs=false.
GIT_COMMIT   := $(shell git rev-parse HEAD 2>/dev/null)
GIT_DATE     := $(shell git log -1 --format=%cd --date=format:%Y-%m-%d 2>/dev/null)
GIT_MODIFIED := $(shell test -n "$$(git status --porcelain --untracked-files=no 2>/dev/null)" && echo true || echo false)
BUILDINFO    := hearth/internal/buildinfo
LDFLAGS      ?= -X $(BUILDINFO).commit=$(GIT_COMMIT) -X $(BUILDINFO).date=$(GIT_DATE) -X $(BUILDINFO).modified=$(GIT_MODIFIED)

.PHONY: all deps deps-gui build headless run test bench fmt screenshots
all: build

# install-debs: install the missing packages of $(1). apt-get update runs only
# when something is missing. Services of newly installed daemons (prosody,
# ejabberd, coturn) are kept from starting with a temporary policy-rc.d when there is
# none: the tests start their own instances on loopback.
define install-debs
	@set -e; \
	if ! command -v dpkg-query >/dev/null 2>&1; then \
		echo "deps: no dpkg-query (not Debian); install yourself: $(strip $(1))"; exit 0; fi; \
	missing=""; \
	for p in $(1); do \
		case "$$(dpkg-query -W -f='$${Status}' $$p 2>/dev/null)" in \
		*" ok installed") ;; \
		*) missing="$$missing $$p" ;; \
		esac; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: Debian packages present"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null 2>&1 && { [ -t 0 ] || sudo -n true 2>/dev/null; }; then sudo="sudo"; \
	else echo "deps: missing:$$missing; run 'make deps' as root or install them"; exit 0; fi; \
	echo "deps: installing$$missing"; \
	policy=""; \
	if [ ! -e /usr/sbin/policy-rc.d ]; then \
		policy=/usr/sbin/policy-rc.d; \
		printf '#!/bin/sh\nexit 101\n' | $$sudo tee $$policy >/dev/null; $$sudo chmod 755 $$policy; \
		trap '$$sudo rm -f $$policy' EXIT; \
	fi; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing
endef

deps:
	$(call install-debs,$(DEBIAN_PACKAGES))
	@# xmpp.js, pinned by its lock file, for the SASL2 / FAST interop test.
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --prefix server/xmpptest/interop/xmppjs; \
	else echo "deps: no npm; the xmpp.js interop test will skip"; fi
	@# StanzaJS, pinned by its lock file, for the BOSH and WebSocket interop test.
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --prefix server/xmpptest/interop/stanzajs; \
	else echo "deps: no npm; the StanzaJS interop test will skip"; fi

deps-gui:
	$(call install-debs,$(GUI_PACKAGES))

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/hearth .

headless:
	CGO_ENABLED=0 $(GO) build -tags nogui -ldflags '$(LDFLAGS)' -o bin/hearth-headless .

run: deps-gui build
	./bin/hearth $(ARGS)

# RACE_PKGS: the packages whose tests drive the concurrent parts (sessions,
# writers, federation links, router, admin socket, decoder pools, group commit, offline
# delivery) under the race detector.
RACE_PKGS ?= ./server/ ./server/admin/ ./server/internal/c2s/ ./server/internal/s2s/ ./server/internal/router/ ./server/internal/stream/ ./server/internal/mod/blocking/ ./server/internal/mod/offline/ ./storage/ ./certs/ ./server/internal/console/

# One cgo configuration for vet, test and build so they share the build cache.
test: deps
	$(GO) vet ./...
	$(GO) test -timeout $(TEST_TIMEOUT) ./...
	$(GO) test -race -timeout $(TEST_TIMEOUT) $(RACE_PKGS)
	CGO_ENABLED=0 $(GO) build -tags nogui -o /dev/null .

bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME) -count $(COUNT) $(PKGS)

fmt:
	$(GO) fmt ./...

# The test driver renders without a display or cgo; gui/testdata/markup is
# what make test compares the layout with.
screenshots:
	$(GO) test -count=1 -run '^TestScreenshots$$' ./gui/ -update

# bench-compare: Hearth, Prosody and ejabberd under the same `hearth bench` runs,
# one after another on loopback; prints a Markdown table (as root; ~4 minutes).
# SERVERS="hearth prosody ejabberd", IDLE_CONNS=10000, BASE_PORT=25200 override.
.PHONY: bench-compare
bench-compare:
	GO=$(GO) ./internal/bench/compare.sh

# Installing. PREFIX and DESTDIR as usual; the binary becomes $(PREFIX)/bin/hearth.
# The install targets build the binary only when it is missing, so that
# `make build && sudo make install` does not need Go as root. HEADLESS_BIN
# names another headless binary (a cross-build copied from another machine).
PREFIX       ?= /usr/local
DESTDIR      ?=
BINDIR       := $(PREFIX)/bin
DATADIR      := $(PREFIX)/share
# systemd reads units and sysusers.d files under /usr/local/lib too.
UNITDIR      ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR  ?= $(PREFIX)/lib/sysusers.d
GUI_BIN      ?= bin/hearth
HEADLESS_BIN ?= bin/hearth-headless
INSTALL      ?= install
# SYSTEM_SETUP=yes (the default when DESTDIR is empty) creates the user
# "hearth" and reloads systemd after install-headless; packagers leave it off.
SYSTEM_SETUP ?= $(if $(DESTDIR),no,yes)
PI_ARCH      ?= arm64

.PHONY: install install-headless uninstall pi
install:
	@test -x $(GUI_BIN) || $(MAKE) build
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/applications $(DESTDIR)$(DATADIR)/icons/hicolor/512x512/apps
	$(INSTALL) -m 0755 $(GUI_BIN) $(DESTDIR)$(BINDIR)/hearth
	$(INSTALL) -m 0644 dist/hearth.desktop $(DESTDIR)$(DATADIR)/applications/hearth.desktop
	$(INSTALL) -m 0644 assets/icon.png $(DESTDIR)$(DATADIR)/icons/hicolor/512x512/apps/hearth.png
	@if [ -z "$(DESTDIR)" ] && command -v update-desktop-database >/dev/null 2>&1; then \
		update-desktop-database -q $(DATADIR)/applications || true; fi

install-headless:
	@test -x $(HEADLESS_BIN) || $(MAKE) headless
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	$(INSTALL) -m 0755 $(HEADLESS_BIN) $(DESTDIR)$(BINDIR)/hearth
	sed 's|@BINDIR@|$(BINDIR)|g' dist/hearth.service.in > $(DESTDIR)$(UNITDIR)/hearth.service.tmp
	chmod 0644 $(DESTDIR)$(UNITDIR)/hearth.service.tmp
	mv $(DESTDIR)$(UNITDIR)/hearth.service.tmp $(DESTDIR)$(UNITDIR)/hearth.service
	$(INSTALL) -m 0644 dist/hearth.sysusers $(DESTDIR)$(SYSUSERSDIR)/hearth.conf
ifeq ($(SYSTEM_SETUP),yes)
	systemd-sysusers $(SYSUSERSDIR)/hearth.conf
	systemctl daemon-reload
	@echo "install-headless: start it now and at every boot with: systemctl enable --now hearth"
endif

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/hearth $(DESTDIR)$(DATADIR)/applications/hearth.desktop \
		$(DESTDIR)$(DATADIR)/icons/hicolor/512x512/apps/hearth.png \
		$(DESTDIR)$(UNITDIR)/hearth.service $(DESTDIR)$(SYSUSERSDIR)/hearth.conf
	@echo "uninstall: the data in /var/lib/hearth and the user hearth stay; remove them yourself if you mean to"

pi:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(PI_ARCH) $(GO) build -tags nogui -ldflags '$(LDFLAGS)' -o bin/hearth-linux-$(PI_ARCH) .
