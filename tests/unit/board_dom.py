"""A board as a browser holds it, for tests: the live region's elements, changed by the
server's messages the way htmx 4 and its WebSocket extension apply them (out-of-band swaps
by id: `true` replaces, `delete` removes, `beforeend:#list` appends a template's rows, every
target found before any swap) and board.js completes them (its sequence numbers, a gap asks
for a snapshot, a list marked data-keyed is put back in the order of its rows' data-key).

Compared as data with the same region of a fresh page: what a person sees, minus what
board.js rewrites on its own (the waiting minutes, the age of a GPS fix) and the server's clock
stamp."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


@dataclass(eq=False)
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)
    parent: Element | None = None

    def elements(self) -> list[Element]:
        return [c for c in self.children if isinstance(c, Element)]

    def walk(self) -> list[Element]:
        """This element and its descendants, in document order."""
        found = [self]
        for child in self.elements():
            found.extend(child.walk())
        return found

    def find(self, element_id: str) -> Element | None:
        return next((e for e in self.walk() if e.attrs.get("id") == element_id), None)

    def text(self) -> str:
        return " ".join(
            (c if isinstance(c, str) else c.text()).strip() for c in self.children
        ).strip()


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#fragment", {})
        self.open = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs}, parent=self.open)
        self.open.children.append(element)
        if tag not in VOID:
            self.open = element

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open.children.append(Element(tag, {k: v or "" for k, v in attrs}, parent=self.open))

    def handle_endtag(self, tag: str) -> None:
        assert self.open.tag == tag, f"</{tag}> closes <{self.open.tag}>"
        assert self.open.parent is not None
        self.open = self.open.parent

    def handle_data(self, data: str) -> None:
        self.open.children.append(data)


def parse(html: str) -> Element:
    parser = _Parser()
    parser.feed(html)
    parser.close()
    assert parser.open is parser.root, f"<{parser.open.tag}> left open"
    return parser.root


def _adopt(parent: Element, nodes: list[Element | str], before: int | None = None) -> None:
    for node in nodes:
        if isinstance(node, Element):
            node.parent = parent
    at = len(parent.children) if before is None else before
    parent.children[at:at] = nodes


def _remove(element: Element) -> int:
    assert element.parent is not None
    at = element.parent.children.index(element)
    del element.parent.children[at]
    return at


def _sort_keyed(element: Element) -> None:
    """board.js: a data-keyed list in the order of its rows' data-key, compared as
    JavaScript compares strings (UTF-16 code units)."""
    if "data-keyed" not in element.attrs:
        return
    rows = sorted(element.elements(), key=lambda e: e.attrs.get("data-key", "").encode("utf-16-be"))
    element.children = [c for c in element.children if isinstance(c, str)] + list(rows)


class Board:
    """One board tab: its live region and its sequence, fed the socket's messages."""

    def __init__(self, page_live: str) -> None:
        root = parse(page_live)
        live = root.find("live")
        assert live is not None
        self.root = root
        self.seq = int(live.attrs["data-seq"])
        self.awaiting_snapshot = False
        self.chimes = 0

    def receive(self, raw: str) -> None:
        data: dict[str, Any] = json.loads(raw)
        if data.get("status") or data.get("family"):
            return
        if data.get("snapshot"):
            self.awaiting_snapshot = False
            self.seq = data["seq"]
            self._swap(data["content"])
            return
        if self.awaiting_snapshot or data["seq"] <= self.seq:
            return
        if data.get("from", data["seq"]) > self.seq + 1:
            self.awaiting_snapshot = True  # board.js asks the server for a snapshot
            return
        self.seq = data["seq"]
        if data.get("chime"):
            self.chimes += 1
        self._swap(data["content"])

    def button_answer(self, live_html: str) -> None:
        """A button's answer replaces the live region (hx-target="#live", outerHTML);
        board.js asks for a snapshot when the answer is older than what it showed."""
        answer = parse(live_html).find("live")
        old = self.root.find("live")
        assert answer is not None and old is not None and old.parent is not None
        answered = int(answer.attrs.pop("data-seq"))
        parent = old.parent
        _adopt(parent, [answer], _remove(old))
        if answered < self.seq:
            self.awaiting_snapshot = True

    def _swap(self, content: str) -> None:
        fragment = parse(content)
        tasks: list[tuple[str, Element, Element]] = []
        # Every out-of-band element leaves the fragment, whether its target is there or not
        # (the undo offers go to #undos, outside the live region this model holds).
        out_of_band: list[Element] = []
        for element in fragment.walk()[1:]:
            value = element.attrs.pop("hx-swap-oob", None)
            if value is None:
                continue
            out_of_band.append(element)
            # "true" (outerHTML), "delete", or "style:#selector"
            style, _, selector = value.partition(":")
            if style in ("true", ""):
                style = "outerHTML"
            target_id = selector.removeprefix("#") if selector else element.attrs.get("id", "")
            target = self.root.find(target_id)
            if target is not None:  # htmx skips a swap whose target is not there
                tasks.append((style, element, target))
        for element in out_of_band:
            if element.parent is not None and element in element.parent.children:
                _remove(element)
        leftover = fragment.text()
        assert leftover == "", f"content outside any out-of-band swap: {leftover!r}"
        for style, element, target in tasks:
            if style == "delete":
                if target.parent is not None and target in target.parent.children:
                    _remove(target)
            elif style == "outerHTML":
                if target.parent is not None and target in target.parent.children:
                    _adopt(target.parent, [element], _remove(target))
            elif style == "beforeend":
                _adopt(target, list(element.children))
                _sort_keyed(target)
            else:
                raise AssertionError(f"unexpected swap style {style}")

    def shown(self) -> Any:
        live = self.root.find("live")
        assert live is not None
        return [_shape(e) for e in live.elements()]


def _shape(element: Element) -> Any:
    """An element as data: what a person sees and what the page's scripts act on."""
    attrs = {k: v for k, v in element.attrs.items() if k not in ("data-now", "data-seq")}
    if element.tag == "time" and "data-since" in attrs:
        return ["time", attrs]  # board.js rewrites the minutes from data-since
    if "data-fix-at" in attrs:
        # board.js rewrites a GPS fix's age, and « signal perdu » once data-lost-at passed.
        return [element.tag, {k: v for k, v in attrs.items() if k != "class"}]
    children: list[Any] = []
    for child in element.children:
        if isinstance(child, Element):
            children.append(_shape(child))
        elif child.strip():
            children.append(" ".join(child.split()))
    return [element.tag, attrs, children]


def shown_by_page(page_live: str) -> Any:
    """The same region of a fresh page (the board's `_live.html`)."""
    live = parse(page_live).find("live")
    assert live is not None
    return [_shape(e) for e in live.elements()]
