"""The official BytePlus Python SDK (byteplus-python-sdk-v2, module byteplussdkarkruntime) against
the edge, unchanged: only the base URL and the token differ from calling BytePlus itself.

Driven by tests/it/sdk.rs, which starts the edge on a real redis-server and fake-ark and passes
BASE_URL, TOKEN, OTHER_TOKEN (a second tenant) and FAKE_ARK (its control API, to finish a task).
Every step asserts; the last line printed is a JSON summary the Rust test checks too.
"""

import json
import os
import sys
import urllib.request

from byteplussdkarkruntime import Ark
from byteplussdkarkruntime._exceptions import ArkNotFoundError

BASE = os.environ["BASE_URL"] + "/volcark/api/v3"
FAST = "dreamina-seedance-2-0-fast"
PROMPT = [{"type": "text", "text": "A paper boat on calm water"}]


def finish(task_id, tokens, resolution):
    """Moves a task to succeeded on fake-ark, as the real service would after rendering."""
    body = json.dumps({"status": "succeeded", "tokens": tokens, "resolution": resolution}).encode()
    req = urllib.request.Request(
        f"{os.environ['FAKE_ARK']}/_control/tasks/{task_id}",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 200, resp.status


def main():
    # max_retries=0: a retry would hide a first answer that was wrong.
    client = Ark(base_url=BASE, api_key=os.environ["TOKEN"], max_retries=0)
    other = Ark(base_url=BASE, api_key=os.environ["OTHER_TOKEN"], max_retries=0)
    tasks = client.content_generation.tasks

    # Create with only the required fields: the SDK sends every other field as null.
    plain = tasks.create(model=FAST, content=PROMPT)
    assert plain.id.startswith("cgt-"), plain
    # Create with the optional fields customers use most.
    rich = tasks.create(
        model="dreamina-seedance-2-0",
        content=PROMPT,
        generate_audio=False,
        seed=42,
        watermark=True,
        return_last_frame=True,
        duration=5,
        ratio="16:9",
        resolution="720p",
    )
    theirs = other.content_generation.tasks.create(model=FAST, content=PROMPT)

    got = tasks.get(task_id=plain.id)
    assert (got.id, got.model, got.status) == (plain.id, FAST, "queued"), got

    page = tasks.list(page_size=200)
    assert page.total == 2 and len(page.items) == 2, page
    assert [t.id for t in page.items] == [rich.id, plain.id], "newest first"
    assert tasks.list(status="queued").total == 2
    assert tasks.list(status="succeeded").total == 0
    by_ids = tasks.list(task_ids=[plain.id, rich.id, theirs.id])
    assert sorted(t.id for t in by_ids.items) == sorted([plain.id, rich.id]), "another tenant's id is absent"
    assert tasks.list(task_ids=plain.id).total == 1
    fast = tasks.list(model=FAST)
    assert [t.id for t in fast.items] == [plain.id], fast
    assert tasks.list(service_tier="default").total == 2

    finish(rich.id, 108900, "720p")
    done = tasks.get(task_id=rich.id)
    assert done.status == "succeeded", done
    assert done.usage.completion_tokens == 108900, done.usage
    assert done.model == "dreamina-seedance-2-0", done.model
    assert tasks.list(status="succeeded").total == 1

    # Delete a queued task: cancelled, still visible; delete again: gone.
    tasks.delete(task_id=plain.id)
    cancelled = tasks.get(task_id=plain.id)
    assert cancelled.status == "cancelled", cancelled
    assert [t.id for t in tasks.list(status="cancelled").items] == [plain.id]
    tasks.delete(task_id=plain.id)
    try:
        tasks.get(task_id=plain.id)
        raise AssertionError("a deleted task is still visible")
    except ArkNotFoundError as e:
        assert e.status_code == 404

    # Another tenant's task is not found, with the SDK's own exception.
    try:
        tasks.get(task_id=theirs.id)
        raise AssertionError("another tenant's task is visible")
    except ArkNotFoundError:
        pass

    print(json.dumps({"ok": True, "succeeded": rich.id, "cancelled": plain.id, "tokens": done.usage.completion_tokens}))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the Rust test shows this line
        print(f"FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        raise
