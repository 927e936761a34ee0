#!/usr/bin/env bash
# Regenerates the Swift code of the Perfetto trace schema subset that `report --perfetto-trace` writes
# (Sources/TraceReports/Formats/PerfettoTrace/vfiotrace_perfetto.pb.swift) from vfiotrace_perfetto.proto beside it.
#   Scripts/perfetto-proto-regen.sh          rewrite the committed .pb.swift
#   Scripts/perfetto-proto-regen.sh --check  fail (exit 1) when the committed file is not what the .proto gives
# Needs protoc (Debian: protobuf-compiler) and protoc-gen-swift of the swift-protobuf version Package.swift
# resolves to: built here from SwiftPM's own checkout of it into .build/protoc-gen-swift (about a minute the
# first time on 2 cores; SwiftPM's build-tool plugin is not used, it is far slower), or PROTOC_GEN_SWIFT=path.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { echo "perfetto-proto-regen: protoc not found (apt-get install protobuf-compiler)" >&2; exit 2; }
dir=Sources/TraceReports/Formats/PerfettoTrace
out=$dir/vfiotrace_perfetto.pb.swift
plugin=${PROTOC_GEN_SWIFT:-}
if [ -z "$plugin" ]; then
    swift package resolve >/dev/null
    checkout=.build/checkouts/swift-protobuf
    [ -d "$checkout" ] || { echo "perfetto-proto-regen: no $checkout after swift package resolve" >&2; exit 2; }
    swift build --package-path "$checkout" --scratch-path .build/protoc-gen-swift --product protoc-gen-swift >&2
    plugin=$(swift build --package-path "$checkout" --scratch-path .build/protoc-gen-swift --show-bin-path)/protoc-gen-swift
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Run from the .proto's folder: the generated header names the source by its bare file name.
(cd "$dir" && protoc --plugin=protoc-gen-swift="$plugin" --swift_opt=Visibility=Package \
    --swift_opt=UseAccessLevelOnImports=true --swift_out="$work" vfiotrace_perfetto.proto)
if [ "${1:-}" = --check ]; then
    if ! cmp -s "$work/vfiotrace_perfetto.pb.swift" "$out"; then
        echo "perfetto-proto-regen: $out is not what $dir/vfiotrace_perfetto.proto generates; run Scripts/perfetto-proto-regen.sh and commit it" >&2
        diff "$out" "$work/vfiotrace_perfetto.pb.swift" | head -20 >&2 || true
        exit 1
    fi
    echo "perfetto-proto-regen: $out is current"
else
    cp "$work/vfiotrace_perfetto.pb.swift" "$out"
    echo "perfetto-proto-regen: wrote $out ($(wc -c < "$out") bytes)"
fi
