"""Parsing of pushed bodies and decrypted messages: untrusted JSON and XML.

Both become a tree of dicts: a JSON object as parsed (strict: no duplicated
keys, no NaN), an <xml> document as {element: text or {child: ...}}. Limits:
64 KiB, nesting depth 16, no duplicated keys or elements (two OutTradeNo
would let two readers see two orders). XML goes through expat with every
DTD refused, so no entity can be declared (no entity expansion, no external
reference); only the five predefined entities and character references are
read.
"""

from __future__ import annotations

import enum
import json
import re
from typing import Any
from xml.parsers import expat

MAX_BYTES = 64 * 1024
MAX_DEPTH = 16
XML_ROOT = "xml"


class Format(enum.Enum):
    JSON = "json"
    XML = "xml"


class Malformed(Exception):
    """The bytes are not a JSON object or <xml> document within the limits."""


def parse_message(data: bytes) -> tuple[Format, dict[str, Any]]:
    """The format and tree of a body or decrypted message."""
    if len(data) > MAX_BYTES:
        raise Malformed("too large")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("not UTF-8") from None
    start = text.lstrip()[:1]
    if start == "{":
        return Format.JSON, parse_json(text)
    if start == "<":
        return Format.XML, parse_xml(data)
    raise Malformed("neither a JSON object nor an XML document")


def _too_deep(text: str, value: Any) -> bool:
    """Whether a parsed JSON value nests deeper than MAX_DEPTH (level by
    level, no recursion; skipped when the text has too few brackets)."""
    if text.count("{") + text.count("[") <= MAX_DEPTH:
        return False
    depth, level = 0, [value]
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            return True
        level = [child for item in level for child in (item.values() if isinstance(item, dict) else item)
                 if isinstance(child, (dict, list))]
    return False


_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_lone_surrogate(text: str, value: Any) -> bool:
    """Whether a parsed JSON value holds a string with an unpaired surrogate
    (from a "\\ud800" escape): such a string is not text, and cannot be
    hashed, stored or returned. Only looked for when the text has such an
    escape."""
    if not _ESCAPED_SURROGATE.search(text):
        return False
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            todo.extend(item)
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
    return False


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise Malformed("duplicated key")
    return obj


def _no_constant(name: str) -> Any:
    raise Malformed(f"{name} is not JSON")


def parse_json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text, object_pairs_hook=_unique_object, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # json's own recursion guard stops a deep document early
        raise Malformed("not valid JSON") from None
    if not isinstance(value, dict):
        raise Malformed("not a JSON object")
    if _too_deep(text, value):
        raise Malformed("nested too deeply")
    if _has_lone_surrogate(text, value):
        raise Malformed("a string is not valid Unicode")
    return value


class _Refused(Exception):
    pass


def _refuse(*_args: Any) -> Any:
    raise _Refused


def parse_xml(data: bytes) -> dict[str, Any]:
    parser = expat.ParserCreate(encoding="UTF-8")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    parser.NotationDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    parser.buffer_text = True
    stack: list[tuple[str, dict[str, Any], list[str]]] = []
    result: list[tuple[str, Any]] = []

    def start(name: str, _attrs: Any) -> None:
        if len(stack) >= MAX_DEPTH:
            raise _Refused
        stack.append((name, {}, []))

    def end(_name: str) -> None:
        name, children, text = stack.pop()
        if children:
            if "".join(text).strip():
                raise _Refused  # mixed content
            value: Any = children
        else:
            value = "".join(text)
        if not stack:
            result.append((name, value))
            return
        siblings = stack[-1][1]
        if name in siblings:
            raise _Refused
        siblings[name] = value

    def chars(text: str) -> None:
        if stack:
            stack[-1][2].append(text)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(data, True)
    except (_Refused, expat.ExpatError, RecursionError, ValueError):
        raise Malformed("not a safe XML document") from None
    if len(result) != 1 or result[0][0] != XML_ROOT:
        raise Malformed("the root element must be <xml>")
    root = result[0][1]
    return root if isinstance(root, dict) else {}
