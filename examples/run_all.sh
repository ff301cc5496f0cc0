#!/usr/bin/env bash
# Run every example on a capture (default: the bundled sample) and fail on the first error.
# (The live sniffers take --iface IFACE instead of --pcap; tests/test_live_netns.py runs them live.)
# (The sending examples - send_syn, syn_demo, udp_sender, arp_scan, ping_sweep, traceroute, rtt,
# syn_port_scanner - need a network you own: tests/test_probe_netns.py runs them in a namespace lab.)
#   examples/run_all.sh [FILE.pcap]
# Uses $PYTHON, else .venv/bin/python when present, else python3. Output files go to a temp dir.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PCAP="$(realpath "${1:-$HERE/data/sample.pcap}")"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$HERE/../.venv/bin/python" ]; then PYTHON="$HERE/../.venv/bin/python"; else PYTHON=python3; fi
fi
OUT="$(mktemp -d /tmp/fastpkt-examples.XXXXXX)"
trap 'rm -rf "$OUT"' EXIT
export TMPDIR="$OUT"  # examples that default to a temp dir (reconstruct_streams) write here
cd "$OUT"
failed=0
for script in packet_anatomy packet_sniffer dns_monitor read_pcap_summary dns_analyzer tcp_session_tracker handshake_tracker \
              arp_monitor http_requests tls_sni flow_report_simple flow_report chart_top_destinations \
              verify_checksums checksum_lesson craft_packets signature_matcher port_scan_detector timed_capture_to_pcap \
              reconstruct_streams find_http; do
    echo "=== $script"
    if ! "$PYTHON" "$HERE/$script.py" --pcap "$PCAP" > "$OUT/$script.log" 2>&1; then
        cat "$OUT/$script.log"
        echo "FAILED: $script" >&2
        failed=1
        continue
    fi
    head -n 12 "$OUT/$script.log"
done
"$PYTHON" "$HERE/chart_top_destinations.py" --pcap "$PCAP" --csv "$OUT/flow_summary.csv" --out "$OUT/top2.png" >/dev/null
exit $failed
