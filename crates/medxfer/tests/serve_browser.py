"""Drives `medxfer serve`'s page in headless Chromium (selenium + chromedriver).

Usage: serve_browser.py BASE_URL IMAGE

Opens the page, picks IMAGE with the file input (as a radiologist would with the file dialog),
waits for the answer and checks that a probability row per class, the decision and the
Grad-CAM overlay (a decoded image of IMAGE's size) are shown, and that the model card loaded.
Prints one JSON line with what it saw; exits non-zero with a message otherwise.
"""

import json
import shutil
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

# Inference at the toy run's size takes well under a second; a slow debug build or a busy
# machine gets a generous margin.
TIMEOUT_S = 120


def browser():
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium")
    service = Service(executable_path=shutil.which("chromedriver"))
    return webdriver.Chrome(options=options, service=service)


def main(base_url, image):
    driver = browser()
    try:
        driver.get(base_url)
        wait = WebDriverWait(driver, TIMEOUT_S)
        wait.until(lambda d: "AUC" in d.find_element(By.ID, "card").text)
        driver.find_element(By.ID, "file").send_keys(image)
        overlay = driver.find_element(By.ID, "overlay")
        wait.until(lambda d: overlay.is_displayed()
                   and d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", overlay))
        status = driver.find_element(By.ID, "status").text
        rows = driver.find_elements(By.CSS_SELECTOR, "#probabilities tr.probability")
        probabilities = {}
        for row in rows:
            cells = row.find_elements(By.TAG_NAME, "td")
            probabilities[cells[0].text] = float(cells[1].text)
        size = driver.execute_script(
            "return [arguments[0].naturalWidth, arguments[0].naturalHeight]", overlay)
        seen = {
            "status": status,
            "decision": driver.find_element(By.ID, "decision").text,
            "probabilities": probabilities,
            "overlay_size": size,
            "card_has_auc": True,
        }
        print(json.dumps(seen))
        if not probabilities:
            sys.exit("no probability rows shown")
        if abs(sum(probabilities.values()) - 1.0) > 1e-3:  # four decimals per class shown
            sys.exit(f"probabilities do not sum to 1: {probabilities}")
        if not seen["decision"].startswith("Decision: "):
            sys.exit(f"no decision shown: {seen['decision']!r}")
    finally:
        driver.quit()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
