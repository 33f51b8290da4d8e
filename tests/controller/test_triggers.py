"""Early-tick requests as the loop takes them: waits end for a request or a stop, and a pass
asked for survives a tick that crashed."""

from __future__ import annotations

import threading

from reconciler.controller.triggers import Ticket, Triggers


def waiting(triggers: Triggers, stop: threading.Event) -> threading.Thread:
    """A thread waiting an hour on ``triggers``."""
    thread = threading.Thread(
        target=triggers.wait, args=(3600.0,), kwargs={"stop": stop}, daemon=True
    )
    thread.start()
    return thread


def test_a_request_ends_the_wait() -> None:
    triggers, stop = Triggers(), threading.Event()
    thread = waiting(triggers, stop)

    triggers.request_fetch()
    thread.join(timeout=30)

    assert not thread.is_alive()


def test_a_stop_set_directly_ends_the_wait() -> None:
    """A signal handler sets the stop event without waking the triggers."""
    triggers, stop = Triggers(), threading.Event()
    thread = waiting(triggers, stop)

    stop.set()
    thread.join(timeout=30)

    assert not thread.is_alive()


def test_a_pass_asked_for_is_made_by_the_next_tick_when_a_tick_crashed() -> None:
    triggers = Triggers()
    triggers.request_pass()
    crashed = triggers.begin_tick()

    triggers.renew(crashed)

    assert triggers.begin_tick().force


def test_a_ticket_reads_back_from_its_text() -> None:
    ticket = Triggers().request_pass()

    assert Ticket.parse(str(ticket)) == ticket
    assert Ticket.parse("../../etc") is None
