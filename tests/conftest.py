"""Suite-wide setup. A shell without job control starts background commands with SIGINT
ignored, and an ignored signal stays ignored in every process they start: the tests that
send Ctrl-C to a build (tests/test_robustness.py) would then see it finish. Give SIGINT
its default handler here, so the builds the tests start get the default disposition
whatever started the suite."""
import signal

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
