"""The terminal's progress bar: one line redrawn in place, other log lines never garbled."""

from __future__ import annotations

import io
import logging

from tasks.progress import PROGRESS, TerminalBar, attach_terminal_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _logger(stream: io.StringIO) -> tuple[logging.Logger, logging.Handler]:
    logger = logging.getLogger(f"packshot-test-{id(stream)}")
    logger.propagate = False
    handler = logging.StreamHandler(stream)
    handler.addFilter(TerminalBar(stream))
    logger.handlers = [handler]
    logger.setLevel(logging.INFO)
    return logger, handler


def test_progress_lines_redraw_one_line_and_end_with_a_newline() -> None:
    terminal = _Terminal()
    logger, _ = _logger(terminal)
    for done in (1, 2):
        logger.info(f"{done}/3 images", extra={PROGRESS: True, "final": False})
    logger.info("Quality checks", extra={})
    logger.info("3/3 images", extra={PROGRESS: True, "final": True})
    text = terminal.getvalue()
    assert text == (
        "\r\x1b[2K1/3 images\r\x1b[2K2/3 images"  # in place: no newline between updates
        "\r\x1b[2KQuality checks\n"  # the bar is cleared before an ordinary line prints
        "\r\x1b[2K3/3 images\n"
    )


def test_only_handlers_on_a_terminal_get_the_bar() -> None:
    root = logging.getLogger()
    terminal, pipe = logging.StreamHandler(_Terminal()), logging.StreamHandler(io.StringIO())
    root.addHandler(terminal)
    root.addHandler(pipe)
    try:
        assert attach_terminal_bar()
        assert attach_terminal_bar()  # twice: still one filter
        assert [type(f) for f in terminal.filters] == [TerminalBar]
        assert pipe.filters == []
    finally:
        root.removeHandler(terminal)
        root.removeHandler(pipe)
