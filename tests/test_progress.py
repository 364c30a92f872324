"""edgec.progress: plain lines off a terminal, a live rich display on one, nothing when quiet."""
import io
import re

from edgec.progress import Progress


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_plain_lines_off_a_terminal():
    s = io.StringIO()
    with Progress(stream=s) as p:
        p("reading [model]")
        p("quantizing")
    assert s.getvalue() == "edgec: reading [model]\nedgec: quantizing\n"


def test_quiet_prints_nothing():
    for s in (io.StringIO(), _Tty()):
        with Progress(quiet=True, stream=s) as p:
            p("reading")
        assert s.getvalue() == ""


def test_terminal_keeps_each_finished_step_with_its_seconds():
    s = _Tty()
    with Progress(stream=s) as p:
        p("reading [model]")  # rich markup in a message is shown as text
        p("quantizing")
    text = s.getvalue()
    assert "\x1b[" in text  # a live display: terminal control sequences
    plain = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", text)
    for step in ("reading [model]", "quantizing"):
        assert re.search(rf"edgec: {re.escape(step)} \(\d+\.\d s\)\n", plain), plain


def test_a_counter_is_a_bar_line_per_call_off_a_terminal_and_nothing_when_quiet():
    s = io.StringIO()
    with Progress(stream=s) as p:
        bar = p.counter("verify", 400)
        bar(100)
        bar(400)
    assert s.getvalue() == ("edgec: verify [######..................] 100/400 (25%)\n"
                            "edgec: verify [########################] 400/400 (100%)\n")
    q = io.StringIO()
    with Progress(quiet=True, stream=q) as p:
        p.counter("verify", 4)(2)
    assert q.getvalue() == ""
