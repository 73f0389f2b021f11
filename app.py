"""The Gradio chat UI: a thin layer over Assistant (answers), sync (re-index) and intake (uploads).

Run ``python app.py``; ASSISTANT_HOST, ASSISTANT_PORT and ASSISTANT_AUTH (user:password) set where
and how it listens (see assistant.config). ``build_app()`` and ``launch()`` let tests start it on a free port.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import logging
import re
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.answering.chain import Assistant, declined, default_assistant
from assistant.config import Settings
from assistant.errors import AssistantError, DocumentExistsError, IndexStateError
from assistant.text import without_reference_marks
from assistant.types import Answer

log = logging.getLogger("assistant.app")

TITLE = "China–UK vocational education assistant"
DESCRIPTION = (
    "Answers questions about China–UK vocational education cooperation from its documents, citing them."
)
EXAMPLES = [
    "When did T Levels launch?",
    "What is the UK apprenticeship levy?",
    "Which award did the UK receive at the 2021 China International Education Annual Conference?",
    "What is a Luban Workshop?",
    "英国在2021年中国国际教育年会上获得了什么称号？",
]
# Chat requests answered at once; the rest wait in Gradio's queue. Answering is CPU-bound on the one
# shared model: on 2 cores, benchmarks/load.py measured the same throughput for 1 to 8 (~5 answers/s).
CHAT_CONCURRENCY = 4
# A merged passage can be several chunks long; the collapsed source shows this much of it.
SNIPPET_CHARS = 1200
DOCUMENT_COLUMNS = ["file", "title", "language", "date", "summary", "chunks"]
# Every ASCII character that Markdown (or the chat's $$ formulas) can give a meaning to; & < > become entities.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|~=:$\"'])")
_SHOWN_CITATION = re.compile(r"\\\[(\d{1,3})\\\]")
_LINKED_CITATION = re.compile(r"\[\\\[(\d{1,3})\\\]\]\(#source-\d{1,3}\)")
# The bold around the words that answer the question (a document's own asterisks are escaped).
_BOLD_MARK = re.compile(r"(?<!\\)\*\*")
_ESCAPED_PUNCTUATION = re.compile(r"\\" + _MARKDOWN_PUNCTUATION.pattern)
# Clicking a citation opens the answer's sources, scrolls to that source and outlines it (its
# quoted sentences are already in bold). In the page's head: Gradio runs no script in messages.
CITATION_SCRIPT = """
<script>
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest('a[href^="#source-"]');
  if (!link) return;
  event.preventDefault();
  event.stopPropagation();
  const number = link.getAttribute("href").slice("#source-".length);
  const groups = [...document.querySelectorAll(".thought-group")].filter(
    (group) => link.compareDocumentPosition(group) & Node.DOCUMENT_POSITION_FOLLOWING
      && group.textContent.includes("Sources ("));
  if (!groups.length) return;
  const group = groups[0];
  const focus = () => {
    const heading = [...group.querySelectorAll("strong")].find(
      (strong) => strong.textContent.startsWith("[" + number + "]"));
    if (!heading) return false;
    group.querySelectorAll(".source-focus").forEach((element) => element.classList.remove("source-focus"));
    let block = heading.closest("p");
    block.classList.add("source-focus");
    for (let next = block.nextElementSibling; next && next.tagName === "BLOCKQUOTE"; next = next.nextElementSibling) {
      next.classList.add("source-focus");
    }
    block.scrollIntoView({block: "center"});
    return true;
  };
  if (!focus()) {
    group.querySelector("[role='button']").click();
    let tries = 0;
    const retry = setInterval(() => { if (focus() || ++tries > 40) clearInterval(retry); }, 50);
  }
}, true);
</script>
"""
CITATION_CSS = ".source-focus { outline: 2px solid #f59e0b; outline-offset: 2px; border-radius: 4px; }"
# Sign-in: the delay after the first failed attempt, doubling with each further one up to the maximum.
FIRST_LOGIN_DELAY = 0.5
MAX_LOGIN_DELAY = 30.0
# What a user sees for a failure we did not expect; the details go to the log, not the page.
UNEXPECTED = "Something went wrong on the server; the details are in its log."


# --- turning chat messages into the core's (question, answer) pairs, and answers into messages ---


def message_text(content: Any) -> str:  # Gradio message content comes in several shapes
    """The text of a Chatbot message's content (a string, or a list of parts); files are ignored."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return content.get("text", "") if content.get("type", "text") == "text" else ""
    if isinstance(content, list | tuple):
        return "\n".join(t for t in (message_text(part) for part in content) if t)
    return ""


def history_pairs(messages: list[dict] | None) -> list[tuple[str, str]]:
    """Earlier turns as (question, answer) text pairs, without the collapsed sources messages."""
    pairs: list[tuple[str, str]] = []
    question: str | None = None
    for message in messages or []:
        # Sources are shown to the reader, not part of what the assistant said.
        if (message.get("metadata") or {}).get("title"):
            continue
        text = message_text(message.get("content")).strip()
        if message.get("role") == "user":
            question = text
        elif message.get("role") == "assistant" and question is not None:
            pairs.append((question, as_written(text)))
            question = None
    return pairs


def as_written(shown: str) -> str:
    """An answer's text as the assistant wrote it, from the Markdown it was shown as (``inert``
    and linked citations undone), so a follow-up is condensed from words, not escapes."""
    plain = _BOLD_MARK.sub("", _LINKED_CITATION.sub(r"[\1]", shown))
    return html.unescape(_ESCAPED_PUNCTUATION.sub(r"\1", plain))


def inert(text: str) -> str:
    """Document text made safe to show as Markdown: it reads as the same characters, and no tag,
    image, link, list or formula in it is ever rendered (an answer quotes documents word for word)."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", html.escape(text, quote=False))


def sources_markdown(answer: Answer) -> str:
    """Each numbered source: title, file, page, and the passage the answer was drawn from."""
    parts = []
    for source in answer.sources:
        snippet = source.snippet if len(source.snippet) <= SNIPPET_CHARS else source.snippet[:SNIPPET_CHARS] + " …"
        lines = [without_reference_marks(line) for line in snippet.splitlines() if line.strip()]
        quoted = "\n".join(f"> {_marked(line, source.sentences)}" for line in lines)
        heading = f"**[{source.number}] {inert(source.title or source.path)}**  \n{inert(source.path)}{source.pages}"
        parts.append(f"{heading}\n\n{quoted}")
    return "\n\n".join(parts)


def _marked(line: str, used: tuple[str, ...]) -> str:
    """A line of a passage, shown inert, with the sentences the answer quoted from it in bold."""
    spans = sorted(
        (at, at + len(sentence)) for sentence in used if sentence and (at := line.find(sentence)) >= 0
    )
    out, done = [], 0
    for start, end in spans:
        if start < done:  # overlapping quotes: the first one is marked
            continue
        out += [inert(line[done:start]), f"**{inert(line[start:end])}**"]
        done = end
    return "".join([*out, inert(line[done:])])


def _with_phrase_marked(answer: Answer) -> str:
    """The answer, inert, with the words that answer the question in bold."""
    if not answer.phrase or answer.phrase not in answer.text:
        return inert(answer.text)
    before, _, after = answer.text.partition(answer.phrase)
    return f"{inert(before)}**{inert(answer.phrase)}**{inert(after)}"


def _linked_citations(shown: str) -> str:
    """An answer's citations (inert: ``\\[2\\]``) as links that open that source (see CITATION_SCRIPT)."""
    return _SHOWN_CITATION.sub(r"[\\[\1\\]](#source-\1)", shown)


def _draft(text: str) -> dict:
    """A language model's text as it streams: collapsed and marked pending until the check has run."""
    return {
        "role": "assistant",
        "content": inert(text),
        "metadata": {"title": "The model is writing; its answer is checked next", "status": "pending"},
    }


def answer_messages(answer: Answer) -> list[dict]:
    """The final chat messages: the answer, then its sources collapsed under it."""
    if not answer.found:
        return [{"role": "assistant", "content": declined(answer.query)}]
    messages = [
        {"role": "assistant", "content": _linked_citations(_with_phrase_marked(answer))},
        {
            "role": "assistant",
            "content": sources_markdown(answer),
            # A titled message is drawn as an accordion; status "done" starts it closed.
            "metadata": {"title": f"Sources ({len(answer.sources)})", "status": "done"},
        },
    ]
    if answer.model_text and answer.grounding != "passed":
        # What the model wrote, for those who want it: collapsed, with what the check found.
        messages.append({
            "role": "assistant",
            "content": f"{inert(answer.model_text)}\n\n*{inert(answer.grounding or '')}*",
            "metadata": {"title": "The model's answer (not shown as the answer)", "status": "done"},
        })
    return messages


def answer_json(answer: Answer) -> dict:
    """Answer.as_dict() with each source's ``path`` named ``file``.

    gradio_client takes any dict with a string "path" for a file to download, and would fail on it.
    """
    data = answer.as_dict()
    data["sources"] = [{("file" if k == "path" else k): v for k, v in s.items()} for s in data["sources"]]
    return data


class AssistantUI:
    """The UI's callbacks over one lazily created Assistant; core errors become gr.Error."""

    def __init__(self, settings: Settings | None = None, assistant: Assistant | None = None) -> None:
        self.settings = settings or (assistant.settings if assistant else Settings())
        self._assistant = assistant
        # With the environment's settings the UI shares the process-wide default Assistant, the one
        # assistant.answer() uses, so the model and index load once per process.
        self._shared = assistant is None and self.settings == Settings()
        self._lock = threading.Lock()

    def assistant(self) -> Assistant:
        """The Assistant, created on first use so the page is up before the model has loaded."""
        with self._lock:
            if self._assistant is None:
                self._assistant = default_assistant() if self._shared else Assistant(self.settings)
            return self._assistant

    def preload(self) -> None:
        """Create the Assistant now; a failure is logged and shown again when someone asks."""
        try:
            assistant = self.assistant()
            # The word lists load on first use (jieba's, the dictionary's for questions across
            # languages): a second or two, paid here rather than by the first question.
            for probe in ("apprenticeship", "学徒"):
                assistant.retriever.search(probe)
        except Exception as exc:  # a background warm-up must not kill the server
            log.warning("could not load the assistant yet: %s", exc)

    def readiness(self) -> str:
        """Waits until the index and question encoder are loaded (the page shows it loading meanwhile);
        then nothing, or why the assistant cannot answer yet."""
        try:
            self.assistant()
        except AssistantError as exc:
            return f"The assistant cannot answer yet: {inert(str(exc))}"
        return ""

    def chat(self, message: str, history: list[dict]) -> Iterator[str | list[dict]]:
        """Stream the answer to ``message``; the last update adds its collapsed sources."""
        with _user_errors("chat"):
            assistant = self.assistant()
            # A language model's text is only a draft until it has been checked against its passages.
            drafting = assistant.engine.name != "extractive"
            shown = ""
            for item in assistant.stream({"question": message, "history": history_pairs(history)}):
                if isinstance(item, Answer):
                    yield answer_messages(item)
                    continue
                shown += item
                yield [_draft(shown)] if drafting else _linked_citations(inert(shown))

    def ask(self, question: str, history: list[list[str]] | None = None) -> dict:
        """Answer a question from the documents: {text, found, query, sources: [{number, file, title, page,
        snippet, score}]}. ``history`` is earlier [question, answer] pairs, for follow-up questions."""
        with _user_errors("ask"):
            return answer_json(self.assistant().invoke({"question": question, "history": history}))

    def documents(self) -> tuple[list[list], str]:
        """The indexed documents as table rows, and a line saying how many (or why there are none)."""
        try:
            indexed = self.assistant().retriever.index.documents()
            rows = [[d.source, d.title, d.language or "", d.date or "", d.summary or "", d.chunks] for d in indexed]
        except IndexStateError as exc:
            return [], f"No index yet: {exc}. Add documents and press Re-index."
        except AssistantError as exc:
            return [], str(exc)
        return rows, f"{len(rows)} documents indexed from `{self.settings.docs_dir}`."

    def document_names(self) -> gr.Dropdown:
        """The documents to choose from for a preview or removal."""
        rows, _ = self.documents()
        return gr.Dropdown(choices=[row[0] for row in rows], value=None)

    def preview(self, source: str | None) -> str:
        """The document's text as the index holds it, chunk by chunk (neighbours overlap a little)."""
        if not source:
            raise gr.Error("Choose a document to preview.")
        with _user_errors("preview"):
            chunks = self.assistant().retriever.index.chunks_of(source)
        if not chunks:
            raise gr.Error(f"{source} is not in the index; press Re-index if you just added it.")
        parts = [f"**{inert(source)}**: {len(chunks)} chunk{'s' if len(chunks) != 1 else ''}, as the index holds them"]
        for number, chunk in enumerate(chunks, start=1):
            lines = "  \n".join(inert(line) for line in chunk.splitlines() if line.strip())
            parts.append(f"---\n\n*chunk {number}*\n\n{lines}")
        return "\n\n".join(parts)

    def confirm_removal(self, source: str | None) -> tuple[dict, str]:
        """The first step of removing: show what will go and the button that does it."""
        if not source:
            raise gr.Error("Choose a document to remove.")
        return gr.update(visible=True), f"Remove {source}? Its file and its chunks will be deleted."

    def remove(self, source: str | None, progress: gr.Progress = gr.Progress()) -> tuple:  # noqa: B008
        """Delete the document's file and chunks (under the index's lock), then show the summary line."""
        from assistant.store.sync import sync

        if not source:
            raise gr.Error("Choose a document to remove.")
        progress(0, desc=f"Removing {source}")
        with _user_errors("remove"):
            report = sync(self.settings, remove=[source])
        rows, note = self.documents()
        lines = [report.summary(), *(f"failed: {name}: {reason}" for name, reason in report.failed)]
        return "\n".join(lines), rows, note, gr.Dropdown(choices=[row[0] for row in rows], value=None), \
            gr.update(visible=False), ""

    def rate(self, history: list[dict], liked: gr.LikeData) -> None:
        """Keep a reader's thumbs up or down with the question, answer and sources as they were shown."""
        from assistant.store.feedback import record_feedback

        at = liked.index if isinstance(liked.index, int) else liked.index[0]
        if not history or not 0 <= at < len(history):
            raise gr.Error("That answer is no longer in the conversation.")
        question = next(
            (message_text(m.get("content")) for m in reversed(history[:at]) if m.get("role") == "user"), ""
        )
        sources = next(
            (message_text(m.get("content")) for m in history[at + 1 :]
             if m.get("role") == "assistant" and (m.get("metadata") or {}).get("title")),
            "",
        )
        with _user_errors("feedback"):
            record_feedback(self.settings, "up" if liked.liked is True else "down", question,
                            message_text(history[at].get("content")), sources)

    def upload(self, files: list[str] | None, replace: bool) -> str:
        """Copy uploaded files into the documents folder under safe names; refusals are listed."""
        from assistant.ingest.intake import accept_file

        saved, refused = [], []
        for file in files or []:
            # Gradio keeps the browser's file name (minus any path) as the upload's own name.
            path = Path(file)
            try:
                target = accept_file(
                    path, self.settings.docs_dir, name=path.name, replace=replace,
                    max_bytes=self.settings.max_file_bytes,
                )
            except DocumentExistsError as exc:
                refused.append(f"refused: {exc}; tick “Replace existing files” to overwrite it")
                continue
            except AssistantError as exc:
                refused.append(f"refused: {exc}")
                continue
            finally:
                _forget_upload(path)
            renamed = f" (from {path.name})" if target.name != path.name else ""
            saved.append(f"saved: {target.name}{renamed}")
        if not saved and refused:
            raise gr.Error("\n".join(refused))
        if not saved:
            raise gr.Error("Choose one or more files to upload first.")
        for line in refused:
            gr.Warning(line)
        return "\n".join([*saved, *refused, "Press Re-index to make the new documents searchable."])

    def reindex(self, progress: gr.Progress = gr.Progress()) -> tuple[str, list[list], str]:  # noqa: B008 - Gradio's idiom
        """Sync the index with the documents folder, showing progress; ends with the summary line."""
        from assistant.store.sync import sync

        def on_chunks(done: int, total: int) -> None:
            progress((done, total), desc="Embedding chunks", unit="chunks")

        progress(0, desc="Reading documents")
        with _user_errors("re-index"):
            # The same embedding model as the Assistant's: load_embeddings keeps one per process.
            report = sync(self.settings, on_chunks=on_chunks)
        lines = [report.summary(), *(f"failed: {name}: {reason}" for name, reason in report.failed)]
        rows, note = self.documents()
        return "\n".join(lines), rows, note


class LoginGuard:
    """ASSISTANT_AUTH's one user and password, checked with a growing delay after failed attempts.

    Attempts are checked one at a time; after each failure the next attempt (from anyone: Gradio
    does not say who is asking) waits twice as long, up to MAX_LOGIN_DELAY seconds, so guessing runs
    at a few tries a minute. A success resets the delay. On the internet, put a proxy with its own
    rate limits in front (README "Security").
    """

    def __init__(self, user: str, password: str, *, first_delay: float = FIRST_LOGIN_DELAY) -> None:
        self._user, self._password = user.encode(), password.encode()
        self._first_delay = first_delay
        self._failures = 0
        self._lock: asyncio.Lock | None = None

    def delay(self) -> float:
        """Seconds the next attempt waits before it is checked."""
        return 0.0 if not self._failures else min(self._first_delay * 2 ** (self._failures - 1), MAX_LOGIN_DELAY)

    async def check(self, username: str, password: str) -> bool:
        self._lock = self._lock or asyncio.Lock()  # made on the server's event loop
        async with self._lock:
            await asyncio.sleep(self.delay())
            # Both compared whatever the first gives, in constant time: timing tells nothing.
            user_ok = hmac.compare_digest(username.encode(), self._user)
            password_ok = hmac.compare_digest(password.encode(), self._password)
            if user_ok and password_ok:
                self._failures = 0
                return True
            self._failures += 1
            log.warning("failed sign-in for %r (%d in a row)", username[:64], self._failures)
            return False


@contextlib.contextmanager
def _user_errors(action: str) -> Iterator[None]:
    """Core errors reach the user as gr.Error with their message; anything else is logged, not shown."""
    try:
        yield
    except gr.Error:
        raise
    except AssistantError as exc:
        log.info("%s refused: %s", action, exc)
        raise gr.Error(str(exc)) from None
    except Exception:
        log.exception("%s failed", action)
        raise gr.Error(UNEXPECTED) from None


def build_app(
    settings: Settings | None = None, assistant: Assistant | None = None, *, preload: bool = False
) -> gr.Blocks:
    """The whole UI: a Chat tab, a Documents tab, and the /ask API endpoint.

    ``preload`` starts loading the model and index in the background, so the first question does
    not wait for it; otherwise that happens on first use.
    """
    ui = AssistantUI(settings, assistant)
    if preload:
        threading.Thread(target=ui.preload, name="preload-assistant", daemon=True).start()
    # Gradio's cache of uploads and generated files: cleared hourly of anything over an hour old.
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        text = translations(ui.settings)
        gr.Markdown(text("heading"))
        # Shown while the index loads in the background (a question asked meanwhile waits for it).
        loading = gr.Markdown("Loading the document index …", elem_id="loading-note")
        with gr.Tab(text("chat_tab")):
            chatbot = gr.Chatbot(
                label=text("conversation"),
                height=520,
                placeholder=text("placeholder"),
                buttons=["copy"],
                feedback_options=("Like", "Dislike"),
            )
            chat = gr.ChatInterface(
                ui.chat,
                chatbot=chatbot,
                examples=EXAMPLES,
                api_name="chat",
                concurrency_limit=CHAT_CONCURRENCY,
                fill_height=False,
                analytics_enabled=False,
            )
            # Ratings are kept in the index folder with what was shown (`assistant feedback`).
            chatbot.like(ui.rate, [chatbot], None, api_visibility="private", queue=False)
            clear = gr.Button(text("clear"), variant="secondary", size="sm")
            # Both the shown conversation and the history the next question is condensed with.
            clear.click(lambda: ([], []), None, [chat.chatbot, chat.chatbot_state], queue=False,
                        api_visibility="private")
        with gr.Tab(text("documents_tab")):
            note = gr.Markdown()
            table = gr.Dataframe(
                headers=DOCUMENT_COLUMNS, datatype=["str", "str", "str", "str", "str", "number"], interactive=False,
                label=text("indexed"), wrap=True, column_widths=["18%", "26%", "6%", "8%", "36%", "6%"],
                max_height=360,
            )
            with gr.Row():
                chosen = gr.Dropdown(label=text("document"), choices=[], value=None, scale=3, elem_id="document-choice")
                preview_button = gr.Button(text("preview"), scale=1)
                remove_button = gr.Button(text("remove"), variant="stop", scale=1)
            with gr.Row(visible=False) as confirm_row:
                confirm_note = gr.Markdown()
                confirm_button = gr.Button(text("confirm_remove"), variant="stop")
                cancel_button = gr.Button(text("cancel"))
            with gr.Row():
                files = gr.File(
                    label=text("add_documents"),
                    file_count="multiple", type="filepath", elem_id="document-upload",
                )
                with gr.Column():
                    replace = gr.Checkbox(label=text("replace"), value=False)
                    upload = gr.Button(text("upload"))
                    reindex = gr.Button(text("reindex"), variant="primary")
                    result = gr.Textbox(label=text("result"), lines=4, interactive=False)
            preview = gr.Markdown(label=text("preview"), elem_id="document-preview")
            upload.click(ui.upload, [files, replace], [result], api_name="upload", concurrency_limit=1)
            # One sync at a time per index: the core's writer lock would refuse a second anyway.
            reindex.click(ui.reindex, None, [result, table, note], api_name="reindex", concurrency_limit=1).then(
                ui.document_names, None, [chosen], api_visibility="private"
            )
            preview_button.click(ui.preview, [chosen], [preview], api_name="preview")
            remove_button.click(ui.confirm_removal, [chosen], [confirm_row, confirm_note], api_visibility="private")
            cancel_button.click(lambda: gr.update(visible=False), None, [confirm_row], api_visibility="private")
            confirm_button.click(
                ui.remove, [chosen], [result, table, note, chosen, confirm_row, preview], api_name="remove",
                concurrency_limit=1,
            )
        app.load(ui.readiness, None, [loading], api_visibility="private")
        app.load(ui.documents, None, [table, note], api_name="documents", queue=False)
        app.load(ui.document_names, None, [chosen], api_visibility="private", queue=False)
        gr.api(ui.ask, api_name="ask", concurrency_limit=CHAT_CONCURRENCY)
    return app


def translations(settings: Settings) -> gr.I18n:
    """The page's own words in English and Chinese: Gradio shows those of the browser's language,
    and its settings panel (at the page's foot) switches."""
    supported = ", ".join(_supported_suffixes())
    mb = f"{settings.max_file_mb:g}"
    return gr.I18n(
        en={
            "heading": f"# {TITLE}\n{DESCRIPTION}", "chat_tab": "Chat", "conversation": "Conversation",
            "placeholder": "Ask about China–UK vocational education cooperation, or pick an example.",
            "clear": "Clear chat", "documents_tab": "Documents", "indexed": "Indexed documents",
            "document": "Document", "preview": "Preview", "remove": "Remove…", "confirm_remove": "Yes, remove it",
            "cancel": "Cancel", "add_documents": f"Add documents ({supported}; up to {mb} MB each)",
            "replace": "Replace existing files of the same name", "upload": "Add to documents folder",
            "reindex": "Re-index", "result": "Result",
        },
        zh={
            "heading": "# 中英职业教育合作问答助手\n根据文档回答有关中英职业教育合作的问题，并注明出处。",
            "chat_tab": "问答", "conversation": "对话",
            "placeholder": "请提出有关中英职业教育合作的问题，或选择一个示例。",
            "clear": "清空对话", "documents_tab": "文档", "indexed": "已索引的文档", "document": "文档",
            "preview": "预览", "remove": "删除…", "confirm_remove": "确认删除", "cancel": "取消",
            "add_documents": f"添加文档（{supported}；每个不超过 {mb} MB）",
            "replace": "替换同名的现有文件", "upload": "添加到文档文件夹", "reindex": "重新索引", "result": "结果",
        },
    )


def _supported_suffixes() -> tuple[str, ...]:
    from assistant.ingest.loaders import SUPPORTED_SUFFIXES

    return SUPPORTED_SUFFIXES


def launch(
    app: gr.Blocks,
    settings: Settings | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    auth: tuple[str, str] | LoginGuard | None = None,
    prevent_thread_lock: bool = False,
) -> str:
    """Serve ``app`` (host, port and auth default to ASSISTANT_HOST / _PORT / _AUTH); returns its local URL."""
    settings = settings or Settings()
    app.queue(default_concurrency_limit=CHAT_CONCURRENCY)
    _, url, _ = app.launch(
        server_name=host or settings.host,
        server_port=port or settings.port,
        auth=_guarded(auth or settings.credentials),
        auth_message="Sign in to ask about China–UK vocational education cooperation.",
        # Oversized uploads are refused by the server before they reach the documents folder.
        max_file_size=settings.max_file_bytes,
        prevent_thread_lock=prevent_thread_lock,
        head=CITATION_SCRIPT,
        i18n=translations(settings),
        css=CITATION_CSS,
        show_error=False,
        quiet=prevent_thread_lock,
    )
    return url


def _forget_upload(path: Path) -> None:
    """Delete Gradio's cached copy of an upload once it is in the documents folder or refused
    (Gradio keeps every upload otherwise); a file from anywhere else is never touched."""
    from gradio.utils import get_upload_folder

    if path.resolve().is_relative_to(Path(get_upload_folder()).resolve()):
        path.unlink(missing_ok=True)


def _guarded(auth: tuple[str, str] | LoginGuard | None) -> Callable[[str, str], Awaitable[bool]] | None:
    """Gradio's ``auth``: a coroutine function, which Gradio awaits (an object with an async
    ``__call__`` would not be awaited, and its coroutine would count as a yes)."""
    guard = LoginGuard(*auth) if isinstance(auth, tuple) else auth
    return guard.check if guard is not None else None


def main() -> None:
    """Start the UI, building the index first if there is none."""
    from assistant.cli import run_sync
    from assistant.store.index import index_exists

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Gradio checks its own server over HTTP; one log line per such request is noise.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        settings = Settings()
        if not index_exists(settings):
            print(f"No index at {settings.index_dir}: building it from {settings.docs_dir} ...")
            run_sync(settings, echo=print)
        launch(build_app(settings, preload=True), settings)
    except AssistantError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
