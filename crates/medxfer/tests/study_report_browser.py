"""Opens a `medxfer study report` HTML file in headless Chromium (selenium + chromedriver).

Usage: study_report_browser.py REPORT.html

Checks what a reviewer would see: every <img> decoded (naturalWidth > 0), every inline <svg>
laid out with a non-empty box, and no request left the page (the file is self-contained).
Prints one JSON line: the visible text of each results row by cell, the counts of images and
plots, and the resources the browser loaded; exits non-zero with a message otherwise.
"""

import json
import pathlib
import shutil
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def browser():
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium")
    service = Service(executable_path=shutil.which("chromedriver"))
    return webdriver.Chrome(options=options, service=service)


def main(report):
    driver = browser()
    try:
        driver.get(pathlib.Path(report).resolve().as_uri())
        broken_images = driver.execute_script(
            "return Array.from(document.images)"
            ".filter(i => !(i.complete && i.naturalWidth > 0)).length")
        images = driver.execute_script("return document.images.length")
        svgs = driver.find_elements(By.TAG_NAME, "svg")
        empty_svgs = [s for s in svgs if s.size["width"] == 0 or s.size["height"] == 0]
        # Anything fetched besides the page itself (a script, stylesheet, font or picture).
        fetched = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)")
        rows = {}
        for row in driver.find_elements(By.CSS_SELECTOR, "tr[data-cell]"):
            rows[row.get_attribute("data-cell")] = row.text
        seen = {"rows": rows, "images": images, "svgs": len(svgs), "fetched": fetched}
        print(json.dumps(seen))
        if broken_images or empty_svgs or fetched or not rows:
            sys.exit(f"broken images {broken_images}, empty plots {len(empty_svgs)}, "
                     f"fetched {fetched}, rows {len(rows)}")
    finally:
        driver.quit()


if __name__ == "__main__":
    main(sys.argv[1])
