"""The dashboard's browser assets, for machines that cannot reach Solara's CDN.

A Solara page loads its front end (the Vuetify app, RequireJS, Font Awesome) through the Solara server's proxy,
which fetches each file from the jsDelivr CDN on first use and caches it (``solara.server.settings.assets.
proxy_cache_dir``). Those files are npm packages at exact versions, named in Solara's page template. Where the
CDN is out of reach but the npm registry is not (a closed classroom network with a package mirror, this
project's CI), ``ensure_assets`` puts the same packages into that cache with ``npm pack``, so the proxy serves
them without going out. Where nothing is missing it does nothing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

#: An exact-version npm package in Solara's page template, e.g. ``{{cdn}}/requirejs@2.3.6/require.js``.
_SPEC = re.compile(r"\{\{\s*cdn\s*\}\}/((?:@[\w.-]+/)?[\w.-]+@\d+\.\d+\.\d+)/")


def _template_specs() -> list[str]:
    import solara.server

    template = Path(solara.server.__file__).parent / "templates" / "solara.html.j2"
    return sorted(set(_SPEC.findall(template.read_text(encoding="utf-8"))))


def needed_packages() -> list[str]:
    """The npm packages (``name@version``) a Solara page of this installation loads from the CDN."""
    import ipyvue
    from solara.server.settings import assets

    vue3 = int(ipyvue.__version__.split(".")[0]) >= 3
    unused_app = "solara-vuetify-app@" if vue3 else "solara-vuetify3-app@"
    specs = [s for s in _template_specs() if unused_app not in s]
    fontawesome = re.match(r"/?((?:@[\w.-]+/)?[\w.-]+@\d+\.\d+\.\d+)/", assets.fontawesome_path)
    if assets.fontawesome_enabled and fontawesome is not None:
        specs.append(fontawesome.group(1))
    return sorted(set(specs))


def cache_dir() -> Path:
    """Where Solara's proxy keeps (and first looks for) CDN files."""
    from solara.server.settings import assets

    return Path(assets.proxy_cache_dir)


def missing_packages(cache: Path | None = None) -> list[str]:
    """The needed packages not yet in the proxy cache."""
    cache = cache_dir() if cache is None else cache
    return [spec for spec in needed_packages() if not (cache / spec).is_dir()]


def fetch(spec: str, cache: Path) -> None:
    """Put one npm package into the cache as ``<cache>/<name>@<version>/`` (its tarball's ``package/``).

    The tarball is unpacked with tarfile's ``data`` filter (no links out, no absolute paths, no devices) into a
    temporary folder beside the target, which is then renamed into place, so a failure leaves nothing half-made."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as work:
        result = subprocess.run(
            [npm, "pack", spec, "--silent", "--pack-destination", work],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"npm pack {spec} failed: {result.stderr.strip()[-500:]}")
        [tarball] = Path(work).glob("*.tgz")
        unpacked = Path(work) / "unpacked"
        with tarfile.open(tarball) as archive:
            archive.extractall(unpacked, filter="data")
        target = cache / spec
        target.parent.mkdir(parents=True, exist_ok=True)
        (unpacked / "package").rename(target)


def ensure_assets() -> list[str]:
    """Fetch the missing packages with npm; returns the problems (empty when everything is in place)."""
    cache = cache_dir()
    problems = []
    for spec in missing_packages(cache):
        try:
            fetch(spec, cache)
        except (OSError, RuntimeError, subprocess.SubprocessError, tarfile.TarError, ValueError) as exc:
            problems.append(f"{spec}: {exc}")
    return problems
