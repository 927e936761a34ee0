#!/usr/bin/env bash
# Regenerates the man pages in docs/man from the command line's own help (swift-argument-parser's
# generate-manual plugin): one page per subcommand. Run after changing any help text, and commit the pages.
#   Scripts/man.sh          then: man -l docs/man/vfiotrace.1
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf docs/man && mkdir -p docs/man
swift package --allow-writing-to-package-directory generate-manual --multi-page --date "$(date +%Y-%m-%d)" \
    --output-directory "$PWD/docs/man" >/dev/null
ls docs/man
