"""The chat page in a real headless Chromium: ask, watch the answer stream in, open its sources."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import ElementClickInterceptedException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

import app
from assistant.embed.embeddings import LocalEmbeddings
from assistant.types import NOT_FOUND_ZH
from tests.conftest import REPO
from tests.serving import serving_shipped_corpus

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Screenshots land here for people to look at; the folder is git-ignored.
OUTPUT = REPO / "test-output"
WAIT_SECONDS = 60

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()),
        reason=f"needs {CHROMIUM} and {CHROMEDRIVER} (Debian's chromium and chromium-driver; `make browser`)",
    ),
]


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory, embeddings: LocalEmbeddings) -> Iterator[str]:
    """The shipped corpus indexed in a temp folder and the app serving it on a free port."""
    with serving_shipped_corpus(tmp_path_factory.mktemp("browser"), embeddings) as (url, _):
        yield url


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    yield from _chromium(tmp_path, "en-GB")


@pytest.fixture
def chinese_browser(tmp_path: Path) -> Iterator[WebDriver]:
    yield from _chromium(tmp_path, "zh-CN")


def _chromium(tmp_path: Path, language: str) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.add_argument(f"--lang={language}")
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    for flag in (
        "--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --disable-background-networking "
        "--disable-component-update --disable-sync --no-first-run --window-size=1280,1000"
    ).split():
        options.add_argument(flag)
    # A fresh profile: no state from earlier runs or other users of this machine.
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.binary_location = str(CHROMIUM)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def test_ask_in_the_browser_and_open_the_sources(url: str, browser: WebDriver) -> None:
    # Streaming re-renders the messages, so elements are found afresh each time and a stale one is retried.
    wait = WebDriverWait(browser, WAIT_SECONDS, ignored_exceptions=(StaleElementReferenceException,))

    def chat_text() -> str:
        return browser.find_element(By.CSS_SELECTOR, "[role='log']").text

    def click(xpath: str) -> bool:
        browser.find_element(By.XPATH, xpath).click()
        return True

    browser.get(url)
    # The page is drawn by JavaScript: wait for it rather than reading the bare HTML shell.
    box = wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, "textarea[data-testid='textbox']")))
    wait.until(ready.title_is(app.TITLE))
    assert app.DESCRIPTION in browser.find_element(By.TAG_NAME, "body").text
    assert app.EXAMPLES[0] in chat_text(), "example questions are offered while the chat is empty"
    box.send_keys("When did T Levels launch?")
    box.send_keys(Keys.ENTER)

    wait.until(lambda _: "September 2020" in chat_text())
    # The sources come with the last streamed update, collapsed under the answer.
    sources = "//*[contains(@class,'thought-group')]//*[@role='button'][contains(., 'Sources (')]"
    wait.until(ready.element_to_be_clickable((By.XPATH, sources)))
    assert "t-levels-guide-for-partners.html" not in chat_text(), "sources start collapsed"
    # Clicking a citation opens the sources at that one, outlined, its quoted sentences in bold.
    citation = "//*[@role='log']//a[@href='#source-1']"
    wait.until(ready.element_to_be_clickable((By.XPATH, citation)))
    wait.until(lambda _: click(citation))
    wait.until(lambda _: "t-levels-guide-for-partners.html" in chat_text())
    focused = wait.until(lambda _: browser.find_elements(By.CSS_SELECTOR, "[role='log'] .source-focus"))
    assert focused[0].text.startswith("[1] ") and len(browser.window_handles) == 1
    OUTPUT.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(OUTPUT / "browser-citation.png"))
    shown = chat_text()
    assert "launched in September 2020" in shown.split("t-levels-guide-for-partners.html", 1)[1]
    # The passage shows in bold the sentence the answer quoted from it.
    marked = "//*[@role='log']//strong[contains(., 'launched in September 2020')]"
    assert browser.find_elements(By.XPATH, marked), "the quoted sentence is highlighted in its passage"
    assert "&#" not in shown and "&amp;" not in shown, "document text is shown, not its escapes"

    OUTPUT.mkdir(exist_ok=True)
    shot = OUTPUT / "browser-chat.png"
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000

    wait.until(lambda _: click("//button[normalize-space()='Clear chat']"))
    wait.until(lambda _: "September 2020" not in chat_text())
    # The examples come back with the empty chat, and clicking one asks it.
    example = f"//button[contains(., '{app.EXAMPLES[1]}')]"
    wait.until(ready.element_to_be_clickable((By.XPATH, example)))
    wait.until(lambda _: click(example))
    wait.until(lambda _: "large UK employers" in chat_text())


def test_add_preview_and_remove_a_document_in_the_browser(url: str, browser: WebDriver, tmp_path: Path) -> None:
    # A toast (e.g. "choose a file" while the upload is still on its way) can lie over a button for a moment.
    wait = WebDriverWait(
        browser, WAIT_SECONDS, ignored_exceptions=(StaleElementReferenceException, ElementClickInterceptedException)
    )
    note = tmp_path / "rail-apprenticeship-note.md"
    note.write_text(
        "# Rail apprenticeship note\n\nThe Tianjin–Sheffield rail apprenticeship\n"
        "enrolled 40 apprentices in May 2031.\n",
        encoding="utf-8",
    )

    def page_text() -> str:
        return browser.find_element(By.TAG_NAME, "body").text

    def click(xpath: str) -> bool:
        browser.find_element(By.XPATH, xpath).click()
        return True

    def result_text() -> str:
        return browser.find_element(By.XPATH, "//label[.//span[normalize-space()='Result']]//textarea").get_attribute(
            "value"
        )

    def shot(name: str) -> None:
        OUTPUT.mkdir(exist_ok=True)
        assert browser.save_screenshot(str(OUTPUT / name))

    browser.get(url)
    wait.until(ready.title_is(app.TITLE))
    wait.until(lambda _: click("//button[@role='tab'][normalize-space()='Documents']"))
    wait.until(lambda _: "documents indexed from" in page_text())
    browser.find_element(By.CSS_SELECTOR, "#document-upload input[type='file']").send_keys(str(note))
    # Clicked until the upload has reached the server (until then Gradio says to choose a file).
    wait.until(lambda _: click("//button[normalize-space()='Add to documents folder']")
               and "saved: rail-apprenticeship-note.md" in result_text())
    wait.until(lambda _: click("//button[normalize-space()='Re-index']"))
    try:
        wait.until(lambda _: "added 1, updated 0, deleted 0" in result_text())
    finally:
        shot("browser-documents-added.png")
    shot("browser-documents-added.png")

    chooser = browser.find_element(By.CSS_SELECTOR, "#document-choice input")
    chooser.click()
    chooser.send_keys("rail-apprenticeship")
    wait.until(lambda _: click("//li[@role='option'][contains(., 'rail-apprenticeship-note.md')]"))
    wait.until(lambda _: click("//button[normalize-space()='Preview']"))
    wait.until(lambda _: "chunk 1" in page_text())
    # The preview shows the text as indexed: the wrapped lines of the paragraph joined into one.
    assert "The Tianjin–Sheffield rail apprenticeship enrolled 40 apprentices in May 2031." in page_text()
    browser.execute_script("document.getElementById('document-preview').scrollIntoView()")
    shot("browser-documents-preview.png")

    wait.until(lambda _: click("//button[normalize-space()='Remove…']"))
    wait.until(lambda _: "Remove rail-apprenticeship-note.md?" in page_text())
    shot("browser-documents-confirm-remove.png")
    wait.until(lambda _: click("//button[normalize-space()='Yes, remove it']"))
    wait.until(lambda _: "added 0, updated 0, deleted 1" in result_text())
    shot("browser-documents-removed.png")


def test_the_page_speaks_the_browsers_language(url: str, chinese_browser: WebDriver) -> None:
    """A browser set to Chinese gets the page's words in Chinese, and a Chinese question it cannot
    answer is declined in Chinese."""
    wait = WebDriverWait(chinese_browser, WAIT_SECONDS, ignored_exceptions=(StaleElementReferenceException,))
    chinese_browser.get(url)
    box = wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, "textarea[data-testid='textbox']")))
    wait.until(lambda _: "中英职业教育合作问答助手" in chinese_browser.find_element(By.TAG_NAME, "body").text)
    body = chinese_browser.find_element(By.TAG_NAME, "body").text
    assert "问答" in body and "文档" in body and "清空对话" in body
    box.send_keys("法国的首都是哪里？")
    box.send_keys(Keys.ENTER)
    wait.until(lambda _: NOT_FOUND_ZH in chinese_browser.find_element(By.CSS_SELECTOR, "[role='log']").text)
    OUTPUT.mkdir(exist_ok=True)
    assert chinese_browser.save_screenshot(str(OUTPUT / "browser-chinese.png"))
