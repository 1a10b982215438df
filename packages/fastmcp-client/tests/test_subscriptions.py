"""Subscriptions as async iterators: subscriptions/listen (modern) and
resources/subscribe (legacy); other notifications go to the notification handler."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.lowlevel
from client_support import FakeServer, sent

from fastmcp_client import Client, IncomingNotification
from fastmcp_core import ConnectionClosed
from fastmcp_protocol import (
    META_SUBSCRIPTION_ID,
    ResourceUpdatedNotification,
    SubscriptionFilter,
    ToolListChangedNotification,
)

ERAS = ["modern", "legacy"]


def uri_of(note: IncomingNotification) -> str:
    assert isinstance(note, ResourceUpdatedNotification)
    return note.params.uri


@pytest.mark.parametrize("era", ERAS)
async def test_resource_updates_arrive_on_the_iterator(era: str) -> None:
    fake = FakeServer(era=era)  # type: ignore[arg-type]
    async with Client(fake) as client:
        async with client.subscribe(resources=["mem://a"], tools_list=True) as updates:
            assert updates.acknowledged == SubscriptionFilter(
                tools_list_changed=True, resource_subscriptions=["mem://a"]
            )
            await fake.resource_updated("mem://a")
            await fake.resource_updated("mem://other")  # not subscribed: not delivered
            await fake.tools_changed()
            await fake.resource_updated("mem://a")
            got = [await updates.__anext__() for _ in range(3)]
        assert uri_of(got[0]) == "mem://a"
        assert isinstance(got[1], ToolListChangedNotification)
        assert uri_of(got[2]) == "mem://a"
        await trio.sleep(0.01)
    if era == "legacy":
        assert sent(fake, "resources/subscribe") == [{"uri": "mem://a"}]
        assert sent(fake, "resources/unsubscribe") == [{"uri": "mem://a"}]
        assert fake.subscribed == set()
    else:
        listen = sent(fake, "subscriptions/listen")[0]
        assert listen["notifications"] == {
            "toolsListChanged": True,
            "resourceSubscriptions": ["mem://a"],
        }
        assert listen["_meta"]["io.modelcontextprotocol/protocolVersion"] == "2026-07-28"
        assert fake.cancelled == ["subscriptions/listen"]  # leaving the block cancelled it


async def test_concurrent_subscriptions_are_kept_apart_by_their_ids() -> None:
    fake = FakeServer(era="modern")
    async with (
        Client(fake) as client,
        client.subscribe(resources=["mem://a"]) as first,
        client.subscribe(resources=["mem://b"]) as second,
    ):
        assert first.subscription_id != second.subscription_id
        await fake.resource_updated("mem://b")
        await fake.resource_updated("mem://a")
        assert uri_of(await first.__anext__()) == "mem://a"
        assert uri_of(await second.__anext__()) == "mem://b"


async def test_a_graceful_end_by_the_server_ends_the_iteration() -> None:
    fake = FakeServer(era="modern")
    async with Client(fake) as client, client.subscribe(resources=["mem://a"]) as updates:
        await fake.resource_updated("mem://a")
        for listener in fake.listeners.values():
            listener.ended.set()
        received = [note async for note in updates]
    assert [uri_of(note) for note in received] == ["mem://a"]


async def test_a_server_cancel_ends_the_subscription() -> None:
    fake = FakeServer(era="modern")
    async with Client(fake) as client, client.subscribe(tools_list=True) as updates:
        assert fake.session is not None
        await fake.session.notify(
            "notifications/cancelled", {"requestId": updates.subscription_id, "reason": "bye"}
        )
        assert [note async for note in updates] == []


async def test_a_closed_connection_fails_the_iteration() -> None:
    fake = FakeServer(era="modern")
    async with Client(fake) as client, client.subscribe(tools_list=True) as updates:
        assert fake.session is not None
        await fake.session.aclose()
        with pytest.raises(ConnectionClosed, match="in-process server stopped"):
            await updates.__anext__()


async def test_untagged_notifications_go_to_the_notification_handler() -> None:
    seen: list[Any] = []

    async def on_note(note: IncomingNotification) -> None:
        seen.append(note)

    fake = FakeServer(era="legacy")
    async with Client(fake, notification_handler=on_note) as client:
        await fake.tools_changed()
        await client.ping()  # the notification was read before the ping's answer
    assert [type(note) for note in seen] == [ToolListChangedNotification]


async def test_modern_tagged_notifications_stay_with_their_subscription() -> None:
    seen: list[Any] = []

    async def on_note(note: IncomingNotification) -> None:
        seen.append(note)

    fake = FakeServer(era="modern")
    async with (
        Client(fake, notification_handler=on_note) as client,
        client.subscribe(tools_list=True) as updates,
    ):
        await fake.tools_changed()
        note = await updates.__anext__()
    assert isinstance(note, ToolListChangedNotification)
    assert note.params.meta == {META_SUBSCRIPTION_ID: updates.subscription_id}
    assert seen == []


async def test_subscribing_needs_a_connection() -> None:
    with pytest.raises(ConnectionClosed, match="not connected"):
        Client(FakeServer()).subscribe(tools_list=True)


async def test_a_full_buffer_is_one_warning_not_one_per_dropped_notification(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from fastmcp_client._subscriptions import Subscription

    subscription = Subscription(SubscriptionFilter(tools_list_changed=True), buffer=2)
    for _ in range(500):
        subscription.deliver(ToolListChangedNotification())
    (line,) = caplog.records
    assert line.getMessage() == (
        "subscription None: its buffer is full (the iterator is not keeping up); "
        "dropped a ToolListChangedNotification"
    )
