# fastpkt: every target does its own set-up on a fresh Debian 12 machine (run as root).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
# flex and bison: building the pinned libpcap for wheels (make wheel, tests/test_wheel.py).
# dnsmasq-base (the binary, no system service) and bind9-dnsutils (dig): the DNS lab test.
APT_PACKAGES := libpcap-dev libssl-dev pkg-config gcc make tcpdump iproute2 iptables ethtool openssl \
                tshark zlib1g-dev libzstd-dev liblzma-dev libbz2-dev libpcre2-dev flex bison \
                dnsmasq-base bind9-dnsutils faketime
# Release pins (libpcap and OpenSSL for wheels): one file, read by make, sh and cibuildwheel.
include packaging/versions.env
FUZZ_SECONDS ?= 60
SAMPLE := examples/data/sample.pcap
# UBSan findings abort (by default they are printed and the run goes on, counted as clean).
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE -Icsrc
DISSECT_SRC := $(wildcard csrc/dissect/*.c)
SOURCE_SRC  := $(wildcard csrc/source/*.c)
FLOW_SRC    := $(wildcard csrc/flow/*.c)
WRITE_SRC   := $(wildcard csrc/write/*.c)

.PHONY: all demo test sanitize fuzz bench build sysdeps venv clean sdist wheel docs

all: build

# System packages: only those missing are installed (needs root, as on CI).
sysdeps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if ! $(PYTHON) -c 'import venv, ensurepip' >/dev/null 2>&1; then missing="$$missing python3-venv"; fi; \
	if ! $(PYTHON) -c 'import sysconfig,os,sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then missing="$$missing python3-dev"; fi; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "run as root (or: sudo apt-get install$$missing)"; exit 1; fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(VENV)/.ok: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel
	$(PIP) install -q -e '.[test]'
	touch $@

venv: sysdeps $(VENV)/.ok

# Rebuild the extension in place (fast path after C edits).
build: venv
	FASTPKT_WERROR=1 $(PY) setup.py -q build_ext --inplace

demo: build
	$(VENV)/bin/fastpkt summary $(SAMPLE)
	@echo; mkdir -p build; $(VENV)/bin/fastpkt report $(SAMPLE) --png build/top_ports.png
	@echo; $(VENV)/bin/fastpkt streams $(SAMPLE) --http
	@echo; $(VENV)/bin/fastpkt sni $(SAMPLE) --ja

test: build
	$(PY) -m pytest -q tests

# ASan+UBSan build of the extension, then the whole suite under it (--capture=sys so
# sanitizer reports, written to fd 2 by C code, reach the terminal).
sanitize: venv
	FASTPKT_SANITIZE=address,undefined $(PY) setup.py -q build_ext --inplace --force
	LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:handle_sigbus=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  $(PY) -m pytest -q -p no:cacheprovider --capture=sys tests; rc=$$?; \
	$(PY) setup.py -q build_ext --inplace --force; exit $$rc

# libFuzzer harnesses over the Python-free core, FUZZ_SECONDS each.
fuzz: sysdeps
	@command -v clang >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev
	mkdir -p csrc/fuzz/build
	clang $(FUZZ_CFLAGS) csrc/fuzz/fuzz_dissect.c $(DISSECT_SRC) -lcrypto -o csrc/fuzz/build/fuzz_dissect
	clang $(FUZZ_CFLAGS) csrc/fuzz/fuzz_source.c $(SOURCE_SRC) -lpcap -lz -lzstd -llzma -lbz2 \
	  -o csrc/fuzz/build/fuzz_source
	clang $(FUZZ_CFLAGS) csrc/fuzz/fuzz_flow.c $(FLOW_SRC) $(DISSECT_SRC) csrc/stream/tcp_reassembly.c \
	  csrc/stream/hello_tracker.c -lm -lcrypto -o csrc/fuzz/build/fuzz_flow
	clang $(FUZZ_CFLAGS) csrc/fuzz/fuzz_dns.c $(FLOW_SRC) $(DISSECT_SRC) csrc/stream/tcp_reassembly.c \
	  csrc/stream/dns_tracker.c -lm -lcrypto -o csrc/fuzz/build/fuzz_dns
	clang $(FUZZ_CFLAGS) csrc/fuzz/fuzz_tls_hello.c $(DISSECT_SRC) -lcrypto -o csrc/fuzz/build/fuzz_tls_hello
	clang $(FUZZ_CFLAGS) csrc/fuzz/fuzz_stream.c csrc/stream/tcp_reassembly.c -o csrc/fuzz/build/fuzz_stream
	clang $(FUZZ_CFLAGS) csrc/fuzz/fuzz_http.c csrc/stream/http_stream.c $(DISSECT_SRC) -lcrypto -o csrc/fuzz/build/fuzz_http
	clang $(FUZZ_CFLAGS) csrc/fuzz/fuzz_quic.c $(DISSECT_SRC) -lcrypto -o csrc/fuzz/build/fuzz_quic
	clang $(FUZZ_CFLAGS) csrc/fuzz/fuzz_write.c $(WRITE_SRC) $(SOURCE_SRC) -lpcap -lz -lzstd -llzma -lbz2 \
	  -o csrc/fuzz/build/fuzz_write
	clang $(FUZZ_CFLAGS) csrc/fuzz/fuzz_probe.c csrc/probe/match.c $(DISSECT_SRC) -lcrypto -o csrc/fuzz/build/fuzz_probe
	clang $(FUZZ_CFLAGS) csrc/fuzz/fuzz_filter.c $(wildcard csrc/filter/*.c) $(DISSECT_SRC) -lpcre2-8 -lcrypto \
	  -o csrc/fuzz/build/fuzz_filter
	clang $(FUZZ_CFLAGS) csrc/fuzz/fuzz_stats.c csrc/stats/stats.c $(wildcard csrc/filter/*.c) $(DISSECT_SRC) \
	  -lpcre2-8 -lcrypto -o csrc/fuzz/build/fuzz_stats
	mkdir -p csrc/fuzz/build/corpus_source csrc/fuzz/build/corpus_dissect csrc/fuzz/build/corpus_flow \
	  csrc/fuzz/build/corpus_stream csrc/fuzz/build/corpus_http csrc/fuzz/build/corpus_quic \
	  csrc/fuzz/build/corpus_tls_hello csrc/fuzz/build/corpus_write
	cp tests/data/*.pcap* csrc/fuzz/build/corpus_source/ 2>/dev/null || true
	for f in tests/data/*.pcap*; do b=csrc/fuzz/build/corpus_source/$$(basename $$f); \
	  gzip -c $$f > $$b.gz; xz -c $$f > $$b.xz; bzip2 -c $$f > $$b.bz2; \
	  ! command -v zstd >/dev/null || zstd -qc $$f > $$b.zst; done
	csrc/fuzz/build/fuzz_source -max_total_time=$(FUZZ_SECONDS) -max_len=65536 csrc/fuzz/build/corpus_source
	csrc/fuzz/build/fuzz_dissect -max_total_time=$(FUZZ_SECONDS) -max_len=4096 csrc/fuzz/build/corpus_dissect
	csrc/fuzz/build/fuzz_flow -max_total_time=$(FUZZ_SECONDS) -max_len=16384 csrc/fuzz/build/corpus_flow
	mkdir -p csrc/fuzz/build/corpus_dns
	csrc/fuzz/build/fuzz_dns -max_total_time=$(FUZZ_SECONDS) -max_len=4096 csrc/fuzz/build/corpus_dns
	csrc/fuzz/build/fuzz_stream -max_total_time=$(FUZZ_SECONDS) -max_len=4096 csrc/fuzz/build/corpus_stream
	csrc/fuzz/build/fuzz_http -max_total_time=$(FUZZ_SECONDS) -max_len=16384 csrc/fuzz/build/corpus_http
	csrc/fuzz/build/fuzz_quic -max_total_time=$(FUZZ_SECONDS) -max_len=8192 csrc/fuzz/build/corpus_quic
	csrc/fuzz/build/fuzz_tls_hello -max_total_time=$(FUZZ_SECONDS) -max_len=8192 csrc/fuzz/build/corpus_tls_hello
	mkdir -p csrc/fuzz/build/corpus_probe
	csrc/fuzz/build/fuzz_probe -max_total_time=$(FUZZ_SECONDS) -max_len=4096 csrc/fuzz/build/corpus_probe
	csrc/fuzz/build/fuzz_write -max_total_time=$(FUZZ_SECONDS) -max_len=4096 csrc/fuzz/build/corpus_write
	mkdir -p csrc/fuzz/build/corpus_filter
	printf 'tcp.port in {80, 443..8080} && !(ip.addr == 10.0.0.0/8)' > csrc/fuzz/build/corpus_filter/seed1
	printf 'frame[-4:] == 00:01 or dns.qry.name matches "x$$" || eth.src[0:3] contains 00' \
	  > csrc/fuzz/build/corpus_filter/seed2
	printf 'tcp.dstport >= 4 * {tcp.srcport + 3} - -frame.len %% 7 & 0xff && abs(ip.ttl - 128) < 10' \
	  > csrc/fuzz/build/corpus_filter/seed3
	printf 'max(tcp.port, 80) != min(frame.len / 0, frame.cap_len) or string(ip.src#1) matches "^10"' \
	  > csrc/fuzz/build/corpus_filter/seed4
	csrc/fuzz/build/fuzz_filter -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	  -dict=csrc/fuzz/fuzz_filter.dict csrc/fuzz/build/corpus_filter
	mkdir -p csrc/fuzz/build/corpus_stats
	csrc/fuzz/build/fuzz_stats -max_total_time=$(FUZZ_SECONDS) -max_len=16384 csrc/fuzz/build/corpus_stats

# Results also go to benchmarks/out/results.jsonl, which make docs turns into the performance page.
BENCH_JSON := benchmarks/out/results.jsonl
bench: build
	mkdir -p benchmarks/out && rm -f $(BENCH_JSON)
	$(PY) benchmarks/bench_read.py --json $(BENCH_JSON)
	$(PY) benchmarks/bench_flows.py --json $(BENCH_JSON)
	$(PY) benchmarks/bench_streams.py --json $(BENCH_JSON)
	$(PY) benchmarks/bench_tls.py --json $(BENCH_JSON)

# The documentation site in build/site (mkdocs.yml; warnings are errors, internal links checked).
docs: venv
	$(PY) -m mkdocs build --strict

# The source distribution alone.
sdist: venv
	$(PY) -m build --sdist --no-isolation --outdir dist

# The sdist and a self-contained manylinux wheel (static libpcap $(LIBPCAP_VERSION), the other
# libraries vendored by auditwheel) in dist/: see packaging/build_wheel.sh.
wheel: venv
	packaging/build_wheel.sh dist $(PY)

clean:
	rm -rf build dist *.egg-info fastpkt/*.so csrc/fuzz/build
