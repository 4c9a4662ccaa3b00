"""HTTP side: the announce endpoint that fans out through the channel layer, and a probe."""

from __future__ import annotations

import json
import time

from channels.layers import get_channel_layer
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from peer.consumers import group_name


@csrf_exempt
@require_POST
async def announce(request: HttpRequest, installation: int) -> HttpResponse:
    body = json.loads(request.body)
    # Stamped before the fan-out: latency is measured from the "commit" to receipt.
    at = time.time()
    seq, chime, content = body["seq"], body.get("chime", True), body["content"]
    message = json.dumps(
        {"seq": seq, "at": at, "chime": chime, "content": content}, ensure_ascii=False
    )
    layer = get_channel_layer()
    assert layer is not None  # CHANNEL_LAYERS is always configured in peer.settings
    await layer.group_send(group_name(installation), {"type": "board.message", "text": message})
    return JsonResponse({"ok": True})


async def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")
