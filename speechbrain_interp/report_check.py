"""Headless-Chromium check of a report: does the page load, do its audio files play, a screenshot.

:func:`check_report_in_chromium` is what ``speechbrain-interp check-report`` and
``demo --check`` run; it lived in :mod:`speechbrain_interp.report`, which still re-exports it.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["find_chromium", "check_report_in_chromium"]


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable, or None (Debian: ``apt-get install chromium``).

    Example
    -------
    >>> path = find_chromium()
    >>> path is None or Path(path).exists()
    True
    """
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _chromium(args, timeout):
    binary = find_chromium()
    if binary is None:
        raise FileNotFoundError("no chromium found; on Debian/Ubuntu: apt-get install -y chromium")
    profile = tempfile.mkdtemp(prefix="sbi-chromium-")
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--mute-audio", "--autoplay-policy=no-user-gesture-required",
           "--allow-file-access-from-files", f"--user-data-dir={profile}", *args]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def check_report_in_chromium(report, screenshot=None, timeout: float = 120.0,
                             window: str = "1400,1800") -> dict:
    """Open a report in headless Chromium: does it load, do its audio files play, screenshot it.

    Arguments
    ---------
    report : str or Path
        The HTML file.
    screenshot : str or Path, optional
        PNG to write (default: next to the report, ``report.png``).
    timeout : float
        Seconds per Chromium run.
    window : str
        Window size ``"width,height"`` for the screenshot.

    Returns
    -------
    dict
        ``{"loaded": bool, "audio_total": n, "audio_ok": n, "audio_failed": n,
        "audio_sources": [...], "missing_files": [...], "selftest": {...}, "screenshot": Path}``;
        ``selftest`` is what the page recorded when it drove itself: ``sort-ok`` (``"yes"`` when
        sorting the overview by probability ordered it), ``playhead`` (its position after
        seeking the first clip to half its length), ``switch`` and ``switch-time`` (the source
        and position after switching to the interpretation), ``played`` (it started playing). On
        the timeline page of long recordings: ``open`` (the segment it clicked), ``start`` and
        ``seek`` (the segment's start and where the player went), ``shown`` and ``image``.

    Raises
    ------
    FileNotFoundError
        No Chromium is installed.

    Example
    -------
    >>> check_report_in_chromium("explanations/report.html")["audio_ok"]  # doctest: +SKIP
    6
    """

    report = Path(report).resolve()
    screenshot = Path(screenshot) if screenshot else report.with_suffix(".png")
    url = report.as_uri()
    # "#selftest" makes the page sort its overview, seek a clip and switch its source by itself,
    # and record the outcome in <div id="selftest"> (see speechbrain_interp.report_page)
    dom = _chromium(["--virtual-time-budget=15000", "--dump-dom", url + "#selftest"], timeout)
    text = dom.stdout
    probe = re.search(r'<div id="selftest"[^>]*>', text)
    selftest = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', probe.group(0))) if probe else {}
    status = re.search(r'<div id="audio-status"[^>]*>', text)
    attrs = dict(re.findall(r'data-([a-z]+)="([^"]*)"', status.group(0))) if status else {}
    sources = re.findall(r'<audio[^>]*\ssrc="([^"]+)"', text)
    missing = [s for s in sources if not (report.parent / html.unescape(s)).is_file()]
    shot = _chromium([f"--screenshot={screenshot.resolve()}", f"--window-size={window}",
                      "--virtual-time-budget=5000", url], timeout)
    return {
        "loaded": "</html>" in text and ("clip-row" in text or 'class="strip"' in text),
        "audio_total": int(attrs.get("total", -1)),
        "audio_ok": int(attrs.get("ok", -1)),
        "audio_failed": int(attrs.get("failed", -1)),
        "audio_done": attrs.get("done") == "yes",
        "audio_sources": sources,
        "missing_files": missing,
        "selftest": selftest,
        "screenshot": screenshot if screenshot.is_file() else None,
        "stderr": (dom.stderr + shot.stderr)[-2000:],
    }
