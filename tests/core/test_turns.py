"""core.single_flight.Turns: one caller per key does the work, the others wait for it."""

from __future__ import annotations

import asyncio

from medianest.core.single_flight import Turns, wait_for_turn


async def test_one_caller_per_key_has_the_turn_and_the_others_wait_until_it_is_done() -> None:
    turns = Turns()
    assert turns.take("a") is None  # the first caller's turn
    assert turns.take("b") is None  # another key is another turn
    waiting = turns.take("a")
    assert waiting is not None and turns.current("a") is waiting
    waiter = asyncio.create_task(wait_for_turn(waiting, 5))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    turns.done("a")
    await asyncio.wait_for(waiter, 1)
    assert turns.current("a") is None and turns.take("a") is None  # free again


async def test_a_turn_never_done_holds_the_others_no_longer_than_their_wait() -> None:
    turns = Turns()
    turns.take("k")
    waiting = turns.take("k")
    assert waiting is not None
    await asyncio.wait_for(wait_for_turn(waiting, 0.05), 1)  # returns: the caller goes on
    assert not waiting.is_set()
