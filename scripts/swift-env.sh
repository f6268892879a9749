# Sourced by the scripts: puts a Swift 6 toolchain on PATH. Under sudo, PATH is sudo's secure_path, which
# rarely holds the toolchain: look where toolchains are installed, then on the invoking user's login PATH.
if ! command -v swift >/dev/null 2>&1; then
  for dir in /opt/swift/usr/bin /usr/share/swift/usr/bin /usr/local/swift/usr/bin "${HOME:-/root}/.local/share/swiftly/bin"; do
    if [ -x "$dir/swift" ]; then PATH="$dir:$PATH"; break; fi
  done
fi
if ! command -v swift >/dev/null 2>&1 && [ -n "${SUDO_USER:-}" ]; then
  found=$(su - "$SUDO_USER" -c 'command -v swift' 2>/dev/null || true)
  [ -n "$found" ] && PATH="$(dirname "$found"):$PATH"
fi
export PATH
command -v swift >/dev/null 2>&1 || { echo "swift is not installed or not on PATH (a Swift 6 toolchain is needed: https://swift.org/install)" >&2; exit 1; }
