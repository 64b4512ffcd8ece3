"""Debian's Chromium, headless, as the UI tests drive it through Playwright (no browser download).

The background-networking flags keep it from reaching for hosts this machine cannot resolve.
"""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
