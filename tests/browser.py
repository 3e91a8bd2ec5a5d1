"""Render HTML pages in headless Chromium and check that they work: images shown, no errors.

The page is copied (beside it, under a hidden temporary name) with a small script injected
at the top of its ``<head>``. The script records uncaught exceptions, unhandled promise
rejections, failed resource loads and ``console.error`` calls from the very start; after the
``load`` event (and ``settle_ms`` more) it optionally runs a caller's JavaScript (e.g. clicks
through a report), then collects every ``<img>`` (loaded? decoded size? shown on screen?) and
writes the result, base64-encoded JSON, into an element that ``chromium --dump-dom`` prints.
Chromium's own log (``--enable-logging=stderr``) is scanned too, for errors the script could
not see.

No Python package beyond the standard library is needed; Pillow is used by
:func:`png_is_blank` where installed.

Usage::

    browser = find_chromium(install=True)      # None where it cannot be had
    result = check_page(browser, "report.html", js_check=snakemake_report_js())
    assert result.ok, result.summary()
"""

import base64
import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import apt_helpers

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: Flags for a quiet, self-contained headless run (root needs --no-sandbox).
BASE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--hide-scrollbars",
    "--allow-file-access-from-files",
    "--enable-logging=stderr",
    "--v=0",
)

MARKER = "__browser_check__"

_PROBE = r"""
<script>
(function () {
  var errors = [];
  window.__browserErrors = errors;
  function text(x) { try { return String(x && x.stack || x); } catch (e) { return "?"; } }
  window.addEventListener("error", function (ev) {
    var t = ev.target;
    if (t && t !== window && (t.src || t.href)) {
      errors.push("resource failed to load: <" + t.tagName.toLowerCase() + "> " +
                  String(t.src || t.href).slice(0, 200));
    } else {
      errors.push("Uncaught " + (ev.error ? text(ev.error) : ev.message) +
                  " (" + ev.filename + ":" + ev.lineno + ")");
    }
  }, true);
  window.addEventListener("unhandledrejection", function (ev) {
    errors.push("Unhandled promise rejection: " + text(ev.reason));
  });
  var origError = console.error;
  console.error = function () {
    errors.push("console.error: " + Array.prototype.map.call(arguments, text).join(" "));
    return origError.apply(console, arguments);
  };
  function images() {
    return Array.prototype.map.call(document.images, function (img) {
      var r = img.getBoundingClientRect();
      var style = window.getComputedStyle(img);
      return {
        src: String(img.currentSrc || img.src).slice(0, 120),
        complete: img.complete,
        naturalWidth: img.naturalWidth,
        naturalHeight: img.naturalHeight,
        width: r.width,
        height: r.height,
        visible: r.width > 0 && r.height > 0 && style.visibility !== "hidden" &&
                 style.display !== "none"
      };
    });
  }
  function finish(custom) {
    var out = {errors: errors, images: images(), custom: custom,
               title: document.title, text_length: (document.body || {}).innerText ?
               document.body.innerText.length : 0};
    var el = document.createElement("pre");
    el.id = "__MARKER__";
    el.style.display = "none";
    var json = JSON.stringify(out);
    el.textContent = btoa(unescape(encodeURIComponent(json)));
    (document.body || document.documentElement).appendChild(el);
  }
  window.addEventListener("load", function () {
    setTimeout(function () {
      var custom = null;
      try {
        custom = (function () { __CUSTOM__ })();
      } catch (e) {
        errors.push("check script failed: " + text(e));
      }
      Promise.resolve(custom).then(function (value) {
        // let images that the check script revealed load and lay out
        setTimeout(function () { finish(value === undefined ? null : value); }, __SETTLE__);
      }, function (e) {
        errors.push("check script failed: " + text(e));
        finish(null);
      });
    }, __SETTLE__);
  });
})();
</script>
"""

#: ``js_check`` for a Snakemake (>= 8) HTML report: decodes every embedded image result, then
#: opens each one through the report's own menus (Results -> category -> subcategory -> eye
#: button) and records which were shown. Its ``custom`` result: ``expected`` (image results),
#: ``decoded`` / ``undecodable`` (names), ``shown`` (names seen on screen), ``missing``
#: (expected but never shown), ``steps`` (clicks that found nothing).
SNAKEMAKE_REPORT_JS = r"""
var results = window.results || {};
var categories = window.categories || {};
var step = __STEP__;
function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
function link(text) {
  return Array.prototype.filter.call(document.querySelectorAll("a, button"), function (e) {
    return e.textContent.trim() === text;
  })[0];
}
var failedSteps = [];
function click(text, optional) {
  var el = link(text);
  if (el) { el.click(); } else if (!optional) { failedSteps.push(text); }
  return sleep(step);
}
var images = Object.keys(results).filter(function (k) {
  return String(results[k].mime_type || "").indexOf("image/") === 0 && results[k].data_uri;
});
var byUri = {};
images.forEach(function (k) { byUri[results[k].data_uri] = k; });
var decoded = [], undecodable = [], shown = {};
function decode(name) {
  return new Promise(function (resolve) {
    var im = new Image();
    im.onload = function () {
      (im.naturalWidth > 0 ? decoded : undecodable).push(name); resolve();
    };
    im.onerror = function () { undecodable.push(name); resolve(); };
    im.src = results[name].data_uri;
  });
}
function record() {
  Array.prototype.forEach.call(document.images, function (img) {
    var r = img.getBoundingClientRect();
    var name = byUri[img.getAttribute("src")] || byUri[img.src];
    if (name && img.naturalWidth > 0 && r.width > 0 && r.height > 0) { shown[name] = true; }
  });
}
function open(cat, sub) {
  return click("Results", true).then(function () { return click(cat); }).then(function () {
    return click(sub, Object.keys(categories[cat]).length === 1);
  });
}
function eyes() { return document.querySelectorAll("table a[iconname='eye']"); }
var groups = [];
Object.keys(categories).forEach(function (cat) {
  Object.keys(categories[cat]).forEach(function (sub) {
    var names = categories[cat][sub].filter(function (n) { return images.indexOf(n) >= 0; });
    if (names.length) { groups.push([cat, sub]); }
  });
});
var chain = Promise.all(images.map(decode)).then(function () { return sleep(step); });
groups.forEach(function (g) {
  chain = chain.then(function () { return open(g[0], g[1]); }).then(function () {
    var n = eyes().length;
    var inner = Promise.resolve();
    for (var i = 0; i < n; i++) {
      (function (i) {
        inner = inner.then(function () { return open(g[0], g[1]); }).then(function () {
          var e = eyes()[i];
          if (e) { e.click(); } else { failedSteps.push(g.join(" / ") + " eye " + i); }
          return sleep(step);
        }).then(record);
      })(i);
    }
    return inner;
  });
});
return chain.then(function () {
  return {
    expected: images, decoded: decoded, undecodable: undecodable,
    shown: Object.keys(shown),
    missing: images.filter(function (k) { return !shown[k]; }),
    steps: failedSteps
  };
});
"""


def snakemake_report_js(step_ms=300):
    """:data:`SNAKEMAKE_REPORT_JS` with ``step_ms`` of (virtual) time after every click."""
    return SNAKEMAKE_REPORT_JS.replace("__STEP__", str(int(step_ms)))


#: Chromium log lines that report a page error (its own console or uncaught exceptions).
_LOG_ERROR = re.compile(r"(Uncaught|:ERROR:CONSOLE|CONSOLE\(\d+\)\].*\b(Error|error)\b)")


@dataclass
class PageResult:
    """What a headless render of a page found."""

    images: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    log_errors: list = field(default_factory=list)
    custom: object = None
    title: str = ""
    text_length: int = 0
    returncode: int = 0
    stderr: str = ""

    @property
    def broken_images(self):
        """Images that did not load or decode (``naturalWidth`` 0)."""
        return [i for i in self.images if not i["complete"] or i["naturalWidth"] == 0]

    @property
    def shown_images(self):
        """Images that loaded and take up space on the page."""
        return [i for i in self.images if i["naturalWidth"] > 0 and i["visible"]]

    @property
    def ok(self):
        """No errors and no broken image."""
        return not (self.errors or self.log_errors or self.broken_images)

    def summary(self):
        return json.dumps(
            {
                "title": self.title,
                "images": len(self.images),
                "shown": len(self.shown_images),
                "broken": self.broken_images[:5],
                "errors": self.errors[:10],
                "log_errors": self.log_errors[:10],
                "custom": self.custom,
            },
            indent=1,
            default=str,
        )


def find_chromium(install=False, timeout=900):
    """Path of a Chromium/Chrome binary; with ``install``, apt-get installs Debian's chromium.

    Returns None where none is found and it cannot be installed (not root, no apt-get, no
    network, ...); the reason is in :data:`LAST_INSTALL_ERROR`.
    """
    global LAST_INSTALL_ERROR
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    if not install:
        LAST_INSTALL_ERROR = "no chromium binary on PATH"
        return None
    if os.name != "posix" or os.geteuid() != 0 or not shutil.which("apt-get"):
        LAST_INSTALL_ERROR = "chromium missing; apt-get install needs root and apt-get"
        return None
    try:
        result = apt_helpers.install("chromium", timeout=timeout)
    except subprocess.TimeoutExpired:
        LAST_INSTALL_ERROR = f"apt-get install chromium took more than {timeout} s"
        return None
    if result.returncode != 0:
        LAST_INSTALL_ERROR = "apt-get install chromium failed: " + result.stderr[-500:]
        return None
    return shutil.which("chromium")


LAST_INSTALL_ERROR = ""


def instrument(page, out, js_check="", settle_ms=500):
    """Write a copy of ``page`` with the probe script injected to ``out``; return ``out``.

    Put ``out`` in the page's folder so that relative links still resolve (a ``<base>``
    element would also redirect in-page ``#`` links, which single-page reports use).
    """
    page = Path(page).resolve()
    text = page.read_text(encoding="utf-8", errors="replace")
    probe = (
        _PROBE.replace("__MARKER__", MARKER)
        .replace("__SETTLE__", str(int(settle_ms)))
        .replace("__CUSTOM__", js_check or "return null;")
    )
    head = re.search(r"<head\b[^>]*>", text, flags=re.IGNORECASE)
    if head:
        text = text[: head.end()] + probe + text[head.end() :]
    else:
        doctype = re.match(r"\s*<!doctype[^>]*>", text, flags=re.IGNORECASE)
        cut = doctype.end() if doctype else 0
        text = text[:cut] + "<head>" + probe + "</head>" + text[cut:]
    out = Path(out)
    out.write_text(text, encoding="utf-8")
    return out


def _instrumented_copy(page, tmp, js_check, settle_ms):
    """Instrumented copy beside ``page`` (hidden name), else in ``tmp``."""
    page = Path(page).resolve()
    fd, name = tempfile.mkstemp(prefix=".browser-check-", suffix=".html", dir=page.parent)
    os.close(fd)
    try:
        return instrument(page, name, js_check, settle_ms)
    except OSError:
        Path(name).unlink(missing_ok=True)
        return instrument(page, Path(tmp) / page.name, js_check, settle_ms)


def _run(browser, args, timeout, profile):
    cmd = [browser, *BASE_FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def check_page(
    browser,
    page,
    js_check="",
    settle_ms=500,
    budget_ms=15000,
    window_size=(1280, 1024),
    timeout=120,
):
    """Render ``page`` headless and report its images and errors.

    Parameters
    ----------
    browser : path-like
        Chromium binary (:func:`find_chromium`).
    page : path-like
        HTML file.
    js_check : str
        Body of a JavaScript function run after the page has loaded and settled, e.g. to
        click through tabs; its return value (or what its Promise resolves to) is reported
        as ``custom``. Images are collected after it.
    settle_ms : int
        Wait after ``load`` and after the check script [ms of virtual time].
    budget_ms : int
        Virtual time budget of the page (``--virtual-time-budget``) [ms].
    window_size : (int, int)
        Viewport in CSS pixels.
    timeout : float
        Wall-clock limit of the browser [s].

    Returns
    -------
    PageResult
    """
    with tempfile.TemporaryDirectory(prefix="browser-check-") as tmp:
        try:
            copy = _instrumented_copy(page, tmp, js_check, settle_ms)
        except OSError:  # page folder not writable
            copy = instrument(page, Path(tmp) / Path(page).name, js_check, settle_ms)
        args = [
            f"--window-size={window_size[0]},{window_size[1]}",
            f"--virtual-time-budget={int(budget_ms)}",
            "--run-all-compositor-stages-before-draw",
            "--dump-dom",
            copy.as_uri(),
        ]
        try:
            proc = _run(browser, args, timeout, Path(tmp) / "profile")
        finally:
            if copy.parent != Path(tmp):
                copy.unlink(missing_ok=True)
    result = PageResult(returncode=proc.returncode, stderr=proc.stderr)
    result.log_errors = [
        line.strip() for line in proc.stderr.splitlines() if _LOG_ERROR.search(line)
    ]
    match = re.search(rf'<pre id="{MARKER}"[^>]*>([A-Za-z0-9+/=\s]*)</pre>', proc.stdout)
    if match is None:
        result.errors.append(
            f"no result from the page (exit {proc.returncode}); did it load? "
            f"stderr: {proc.stderr[-1000:]}"
        )
        return result
    data = json.loads(base64.b64decode(html.unescape(match.group(1))).decode("utf-8"))
    result.images = data["images"]
    result.errors = data["errors"]
    result.custom = data["custom"]
    result.title = data["title"]
    result.text_length = data["text_length"]
    return result


def screenshot(browser, page, png, window_size=(1280, 1024), budget_ms=5000, timeout=120):
    """Write a PNG screenshot of ``page`` to ``png``; return the path."""
    png = Path(png).resolve()
    with tempfile.TemporaryDirectory(prefix="browser-shot-") as tmp:
        args = [
            f"--window-size={window_size[0]},{window_size[1]}",
            f"--virtual-time-budget={int(budget_ms)}",
            f"--screenshot={png}",
            Path(page).resolve().as_uri(),
        ]
        proc = _run(browser, args, timeout, Path(tmp) / "profile")
    if not png.exists():
        raise RuntimeError(f"no screenshot (exit {proc.returncode}): {proc.stderr[-1000:]}")
    return png


def png_is_blank(png):
    """Whether a PNG holds a single colour (a page that rendered nothing)."""
    from PIL import Image

    with Image.open(png) as im:
        lo, hi = zip(*im.convert("RGB").getextrema(), strict=True)
    return lo == hi
