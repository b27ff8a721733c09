"""Render an HTML report to PNG with headless Chromium (a check that it opens and reads well).

    python -m synthmphn.report.screenshot RUN/report.html report.png [--width 1200 --height 2000]

Needs a `chromium` (or `chromium-browser`, `google-chrome`) binary; on Debian: `apt-get install -y chromium`.
The browser runs with a throw-away profile, no network services and no sandbox (for containers).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    """The first Chromium-family binary on PATH, or None."""
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


@dataclass
class Screenshot:
    """The PNG written and the page's console messages (JavaScript errors and the like; none expected)."""

    path: Path
    console: list[str]


def render_png(
    html_path: Path, png_path: Path, width: int = 1200, height: int = 2000, timeout: float = 120
) -> Screenshot:
    """Screenshots `html_path` into `png_path`; raises RuntimeError with Chromium's output on failure."""
    browser = find_browser()
    if browser is None:
        raise RuntimeError(
            f"no Chromium found (looked for {', '.join(BROWSERS)}); apt-get install -y chromium"
        )
    html_path, png_path = Path(html_path).resolve(), Path(png_path).resolve()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    png_path.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="synthmphn-chromium-") as profile:
        command = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--hide-scrollbars", "--enable-logging=stderr", "--v=0", f"--user-data-dir={profile}",
            f"--screenshot={png_path}", f"--window-size={width},{height}", html_path.as_uri(),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0 or not png_path.is_file():
        raise RuntimeError(
            f"chromium could not render {html_path} (exit {done.returncode}):\n{done.stderr[-2000:]}"
        )
    return Screenshot(png_path, [line for line in done.stderr.splitlines() if ":CONSOLE" in line])


def main() -> None:  # pragma: no cover - thin command line
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=2000)
    args = parser.parse_args()
    shot = render_png(args.html, args.png, args.width, args.height)
    print(shot.path)
    for line in shot.console:
        print(f"console: {line}")


if __name__ == "__main__":  # pragma: no cover
    main()
