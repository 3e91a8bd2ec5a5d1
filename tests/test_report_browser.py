"""The HTML report in a real browser: images display and the page logs no errors.

Needs Chromium: Debian's ``chromium`` is installed with apt-get where it is missing (root
only). Where it cannot be had the tests are skipped, except with ``CI=true``, where they fail.
"""

import base64
import os
import re
import struct
import zlib

import browser
import pytest

CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def chromium():
    path = browser.find_chromium(install=True)
    if path is None:
        reason = f"no Chromium: {browser.LAST_INSTALL_ERROR}"
        if CI:
            pytest.fail(reason + " (CI=true: browser tests must run)")
        pytest.skip(reason)
    return path


def png_bytes(width=4, height=3, rgb=(200, 30, 30)):
    """A small solid-colour RGB PNG, made with the standard library."""
    row = b"\x00" + bytes(rgb) * width

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def data_uri(data=None):
    return "data:image/png;base64," + base64.b64encode(data or png_bytes()).decode()


def page(tmp_path, body, name="page.html"):
    path = tmp_path / name
    path.write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>test</title></head>"
        f"<body>{body}</body></html>"
    )
    return path


def test_image_page_ok(chromium, tmp_path):
    path = page(tmp_path, f"<h1>Figure</h1><img src='{data_uri()}' width='80'>")
    result = browser.check_page(chromium, path)
    assert result.ok, result.summary()
    assert result.title == "test"
    assert len(result.shown_images) == 1
    assert result.images[0]["naturalWidth"] == 4
    assert result.images[0]["width"] == 80
    assert not list(tmp_path.glob(".browser-check-*"))  # the instrumented copy is gone


def test_js_error_detected(chromium, tmp_path):
    path = page(tmp_path, f"<img src='{data_uri()}'><script>notDefined();</script>")
    result = browser.check_page(chromium, path)
    assert not result.ok
    assert any("ReferenceError" in e and "notDefined" in e for e in result.errors)
    assert any("Uncaught" in line for line in result.log_errors), result.stderr[-2000:]


def test_console_error_and_broken_images_detected(chromium, tmp_path):
    body = (
        f"<img src='{data_uri(b'not a png')}'><img src='missing.png'>"
        "<script>console.error('something failed');"
        "Promise.reject(new Error('async failure'));</script>"
    )
    result = browser.check_page(chromium, page(tmp_path, body))
    assert not result.ok
    assert len(result.broken_images) == 2
    text = "\n".join(result.errors)
    assert "console.error: something failed" in text
    assert "async failure" in text
    assert "missing.png" in text


def test_check_script_result_and_errors(chromium, tmp_path):
    path = page(tmp_path, "<p id='x'>hello</p>")
    result = browser.check_page(chromium, path, js_check="return document.title + '!';")
    assert result.ok and result.custom == "test!"
    broken = browser.check_page(chromium, path, js_check="throw new Error('bad check');")
    assert any("bad check" in e for e in broken.errors)


def test_screenshot_not_blank(chromium, tmp_path):
    big = data_uri(png_bytes(200, 200, (10, 120, 220)))
    shot = browser.screenshot(chromium, page(tmp_path, f"<img src='{big}'>"), tmp_path / "a.png")
    assert not browser.png_is_blank(shot)
    empty = browser.screenshot(chromium, page(tmp_path, "", "empty.html"), tmp_path / "b.png")
    assert browser.png_is_blank(empty)


def test_report_images_display(chromium, report_html):
    """Every image of the report decodes and is shown when opened from the report's menus."""
    result = browser.check_page(
        chromium, report_html, js_check=browser.snakemake_report_js(), budget_ms=300000
    )
    assert result.ok, result.summary()
    custom = result.custom
    assert custom["expected"], "the report holds no image results"
    assert not custom["undecodable"], result.summary()
    assert sorted(custom["decoded"]) == sorted(custom["expected"])
    assert not custom["missing"], result.summary()


def test_report_broken_image_detected(chromium, report_html, tmp_path):
    """A report whose first PNG is corrupted fails the check (the check can fail)."""
    text = report_html.read_text(encoding="utf-8")
    corrupt, n = re.subn(
        r"(data:image/png;[^\"',]*base64,)[A-Za-z0-9+/=]{100}",
        r"\1AAAAAAAAAAAAAAAA",
        text,
        count=1,
    )
    assert n == 1, "no PNG in the report"
    path = tmp_path / "report.html"
    path.write_text(corrupt, encoding="utf-8")
    result = browser.check_page(
        chromium, path, js_check=browser.snakemake_report_js(), budget_ms=300000
    )
    assert len(result.custom["undecodable"]) == 1, result.summary()
    assert result.custom["missing"], result.summary()
