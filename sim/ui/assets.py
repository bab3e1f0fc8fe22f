"""The dashboard's browser assets, for machines that cannot reach Solara's CDN.

A Solara page loads its front end (the Vuetify app, RequireJS, Font Awesome) through the Solara server's proxy,
which fetches each file from the jsDelivr CDN on first use and caches it (``solara.server.settings.assets.
proxy_cache_dir``). Those files are npm packages at exact versions, named in Solara's page template. Where the
CDN is out of reach but the npm registry is not (a closed classroom network with a package mirror, this
project's CI), ``ensure_assets`` puts the same packages into that cache with ``npm pack``, so the proxy serves
them without going out. ``prepare_assets`` decides: nothing when the cache holds everything, nothing when the
CDN answers (a short request for one missing package: the proxy will fetch from it), npm only when it does not.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
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


#: Seconds to wait for the CDN before deciding it is out of reach.
CDN_TIMEOUT = 5.0


def cdn_url() -> str:
    """The CDN Solara's proxy fetches from (``https://cdn.jsdelivr.net/npm/`` unless configured)."""
    import solara.settings

    return str(solara.settings.assets.cdn)


def cdn_reachable(spec: str, timeout: float = CDN_TIMEOUT) -> bool:
    """Whether the CDN serves one file of package ``spec`` (its ``package.json``) within ``timeout`` seconds."""
    request = urllib.request.Request(f"{cdn_url()}{spec}/package.json", method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return 200 <= int(response.status) < 400
    except (OSError, ValueError):  # URLError, HTTPError and timeouts are OSErrors
        return False


def prepare_assets(timeout: float = CDN_TIMEOUT) -> tuple[str, list[str]]:
    """Make sure the dashboard's page can load its front end: returns where it will come from (``cache``,
    ``cdn`` or ``npm``) and the problems met (only with ``npm``: packages npm could not fetch)."""
    missing = missing_packages()
    if not missing:
        return "cache", []
    if cdn_reachable(missing[0], timeout):
        return "cdn", []
    return "npm", ensure_assets()
