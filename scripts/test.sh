#!/usr/bin/env bash
# Entry point of `npm test`: system programs first, then vitest (args passed through).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bash "$here/ensure-system-deps.sh"
cd "$here/.."
exec npx vitest run "$@"
