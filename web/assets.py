"""The built page (web/static/) held in memory, and the build that makes it.

Files are read once at start and looked up by exact URL path in a dict, so no request can
name a file outside the build (no path joins, no traversal). Each asset carries its
gzip form and an ETag; everything is small enough that memory is the simplest cache."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from web.page_html import with_pack

WEB_DIR: Final = Path(__file__).resolve().parent
FRONTEND_DIR: Final = WEB_DIR / "frontend"
STATIC_DIR: Final = WEB_DIR / "static"
BUILD_STAMP: Final = ".build-stamp"

CONTENT_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".ttf": "font/ttf",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
}
_COMPRESSIBLE: Final = (".html", ".js", ".css", ".json", ".svg", ".txt", ".map")


class AssetsMissing(RuntimeError):
    """The page has not been built; the message says how to build it."""


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    content_type: str
    etag: str


@dataclass(frozen=True, slots=True)
class StaticAssets:
    files: dict[str, Asset]

    @classmethod
    def load(
        cls, directory: Path = STATIC_DIR, pack: Mapping[str, Any] | None = None
    ) -> StaticAssets:
        """The build in ``directory``; ``pack`` (web.metadata.page_pack) is written into
        index.html for the page to read before its first snapshot."""
        index = directory / "index.html"
        if not index.is_file():
            raise AssetsMissing(
                f"the wall page is not built ({index} is missing); run "
                f"`cd {FRONTEND_DIR} && npm ci && npm run build`"
            )
        files: dict[str, Asset] = {}
        root = directory.resolve()
        for path in sorted(directory.rglob("*")):
            suffix = path.suffix.lower()
            if not path.is_file() or path.name.startswith(".") or suffix not in CONTENT_TYPES:
                continue
            if not path.resolve().is_relative_to(root):
                continue  # a symlink out of the build must not publish what it points at
            body = path.read_bytes()
            if pack is not None and path.name == "index.html":
                body = with_pack(body, pack)
            packed = gzip.compress(body, 9, mtime=0) if suffix in _COMPRESSIBLE else None
            if packed is not None and len(packed) >= len(body):
                packed = None
            etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
            url = "/" + path.relative_to(directory).as_posix()
            files[url] = Asset(body, packed, CONTENT_TYPES[suffix], etag)
        files["/"] = files["/index.html"]
        return cls(files)

    def get(self, path: str) -> Asset | None:
        return self.files.get(path)

    @property
    def build_id(self) -> str:
        """Changes whenever any served file does: a page that sees a new one reloads."""
        digest = hashlib.sha256()
        for url in sorted(self.files):
            digest.update(url.encode() + self.files[url].etag.encode())
        return digest.hexdigest()[:16]


def _sources(frontend: Path) -> list[Path]:
    found = [frontend / n for n in ("package.json", "package-lock.json", "build.mjs", "maps.mjs")]
    # The build matches each map to its pack's region codes.
    found += sorted((frontend.parent.parent / "pulseboard" / "packs").glob("*.toml"))
    found += [p for p in (frontend / "src").rglob("*") if p.is_file()]
    return found


def build_is_current(frontend: Path = FRONTEND_DIR, static: Path = STATIC_DIR) -> bool:
    stamp = static / BUILD_STAMP
    if not stamp.is_file():
        return False
    built = stamp.stat().st_mtime
    return all(p.stat().st_mtime <= built for p in _sources(frontend))


def build_frontend(frontend: Path = FRONTEND_DIR, *, force: bool = False) -> bool:
    """Install the locked npm packages if needed and build into web/static/.

    Returns False if the build was already current. Needs node and npm; the npm packages
    come from the registry once (``npm ci``), after which building works offline."""
    if not force and build_is_current(frontend):
        return False
    npm = shutil.which("npm")
    if npm is None:
        raise AssetsMissing("building the wall page needs node and npm (apt-get install npm)")
    env = {**os.environ, "NO_UPDATE_NOTIFIER": "1"}
    lock = frontend / "package-lock.json"
    installed = frontend / "node_modules" / ".package-lock.json"
    if not installed.is_file() or installed.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=frontend, env=env, check=True)
    subprocess.run([npm, "run", "build", "--silent"], cwd=frontend, env=env, check=True)
    return True


if __name__ == "__main__":
    import sys

    rebuilt = build_frontend(force="--force" in sys.argv[1:])
    print("wall page built into web/static/" if rebuilt else "wall page is up to date")
