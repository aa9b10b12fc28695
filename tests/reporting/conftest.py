"""A real headless browser (Debian's chromium) that loads a report and says what it rendered."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

# Appended to a copy of the page (the report itself has no script): after every image loaded, the
# decoded size of each and how many coloured pixels it has are written into the DOM, which
# --dump-dom then prints.
PROBE = """<script>window.addEventListener("load", () => {
  const coloured = image => {  // pixels of a colour (the bars), not black, white or grey (axes, text)
    const canvas = document.createElement("canvas");
    canvas.width = image.naturalWidth; canvas.height = image.naturalHeight;
    const context = canvas.getContext("2d"); context.drawImage(image, 0, 0);
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let count = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (Math.max(data[i], data[i + 1], data[i + 2]) - Math.min(data[i], data[i + 1], data[i + 2]) > 40) count++;
    }
    return count;
  };
  const sizes = [...document.images].map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight, coloured(i)]);
  const out = document.createElement("pre"); out.id = "probe-images"; out.textContent = JSON.stringify(sizes);
  document.body.appendChild(out);
});</script>"""


def chromium_command() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (CI must apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return found


def _chromium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium_command(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-extensions", "--disable-dev-shm-usage", *args],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def browser(tmp_path: Path) -> Callable[[Path], tuple[str, list]]:
    """``browser(page)``: the DOM chromium built from ``page``; [alt, complete, width, height, coloured] per image."""
    def load(page: Path) -> tuple[str, list]:
        probed = tmp_path / f"probed-{page.name}"
        probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
        done = _chromium("--virtual-time-budget=10000", "--dump-dom", probed.as_uri())
        match = re.search(r'<pre id="probe-images">(.*?)</pre>', done.stdout, re.S)
        assert match, f"the page did not finish loading in chromium: {done.stderr[-2000:]}"
        return done.stdout, json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    return load


@pytest.fixture
def screenshot() -> Callable[[Path, Path, str], Path]:
    """``screenshot(page, png, "1200,2400")``: chromium's screenshot of ``page``."""
    def take(page: Path, png: Path, size: str = "1200,2400") -> Path:
        done = _chromium(f"--window-size={size}", "--hide-scrollbars", f"--screenshot={png}", page.as_uri())
        assert png.is_file(), done.stderr[-2000:]
        return png
    return take
