"""The board: joins its installation's group and relays whatever the group carries."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer


def group_name(installation: int) -> str:
    return f"inst-{installation}"


class BoardConsumer(AsyncWebsocketConsumer):
    group: str = ""

    async def connect(self) -> None:
        self.group = group_name(int(self.scope["url_route"]["kwargs"]["installation"]))
        # Join before accepting so the client never sees an open socket that could still
        # miss an announcement.
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def board_message(self, event: dict[str, Any]) -> None:
        # The text was serialised once by the view; every board gets the same string.
        await self.send(text_data=event["text"])
