"""The cassette file: vcrpy's YAML format (version 1), made for people to read and edit.

A cassette is one test's traffic: `interactions` (each a request and its response, as vcrpy
writes them) and `metadata` (the test's node id and the webhook deliveries the receiver got while
it ran). Three departures from vcrpy's defaults keep the files small and readable:

- A JSON body is written indented, as a YAML block (`body: {style: compact, json: |- …}`), when,
  and only when, parsing it and dumping it again in `style` gives back the exact bytes the
  server sent; anything else stays a string (`body: {string: …}`). Editing `amount_captured` is
  then editing one line, and a replay still sees the server's bytes. (One block, rather than the
  JSON as YAML structure: loading YAML costs per node, and replays load every cassette.)
- Keys keep their order (vcrpy sorts them), so a file reads in the order things happened.
- Headers that only the HTTP stack sets (Host, Accept, User-Agent, Content-Length, Server…) are
  dropped. A request body over `ELIDE_OVER` bytes, and any path segment, query or form value
  over `VALUE_LIMIT` characters (Schemathesis generates such), is kept as its length and
  SHA-256: `~elided-<length>-<sha256 prefix>~`; a replay compares its own by the same digest.
"""

from __future__ import annotations

import gc
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import yaml

__all__ = [
    "ELIDE_OVER",
    "TRANSPORT_HEADERS",
    "YamlSerializer",
    "after_load",
    "before_save",
    "body_digest",
    "cassette_name",
    "elided",
    "elided_uri",
    "elided_value",
    "pack_body",
    "unpack_body",
]

ELIDE_OVER = 64 * 1024
VALUE_LIMIT = 1024
TRANSPORT_HEADERS = frozenset(
    {"host", "accept", "accept-encoding", "connection", "user-agent", "content-length", "server", "transfer-encoding"}
)
_ELIDED = re.compile(r"^<elided: (\d+) bytes, sha256 ([0-9a-f]{64})>$")
ELIDED_VALUE = re.compile(r"~elided-\d+-[0-9a-f]{24}~")
_STYLES: Mapping[str, Callable[[Any], str]] = {
    "compact": lambda o: json.dumps(o, separators=(",", ":")),
    "compact-utf8": lambda o: json.dumps(o, separators=(",", ":"), ensure_ascii=False),
    "pretty": lambda o: json.dumps(o, indent=2),
    "pretty-utf8": lambda o: json.dumps(o, indent=2, ensure_ascii=False),
}
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Multi-line strings (indented JSON) as literal blocks, everything else as PyYAML would."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _string)


class YamlSerializer:
    """vcrpy's serializer interface (`serialize`, `deserialize`), keys kept in order."""

    @staticmethod
    def serialize(cassette_dict: Mapping[str, Any]) -> str:
        return yaml.dump(dict(cassette_dict), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)

    @staticmethod
    def deserialize(cassette_string: str) -> Any:
        # Loading makes many small objects, each of which may start a collection of the whole
        # heap, large in a suite run; none of them can be garbage in a cycle.
        enabled = gc.isenabled()
        gc.disable()
        try:
            return yaml.load(cassette_string, Loader=_Loader)  # noqa: S506 - a safe loader
        finally:
            if enabled:
                gc.enable()


def elided(body: bytes) -> str:
    return f"<elided: {len(body)} bytes, sha256 {hashlib.sha256(body).hexdigest()}>"


def elided_value(value: str) -> str:
    """A path segment, query or form value as kept: itself, or its length and digest when long."""
    if len(value) <= VALUE_LIMIT:
        return value
    return f"~elided-{len(value)}-{hashlib.sha256(value.encode('utf-8', 'surrogateescape')).hexdigest()[:24]}~"


def _elided_pairs(text: str) -> str:
    return "&".join(
        "=".join(elided_value(piece) for piece in part.split("=", 1)) if len(part) > VALUE_LIMIT else part
        for part in text.split("&")
    )


def elided_uri(uri: str) -> str:
    if len(uri) <= VALUE_LIMIT:
        return uri
    base, question, query = uri.partition("?")
    head, sep, path = base.partition("://")
    host, slash, rest = path.partition("/")
    segments = "/".join(elided_value(segment) for segment in rest.split("/"))
    return f"{head}{sep}{host}{slash}{segments}{question}{_elided_pairs(query)}"


def body_digest(body: bytes) -> str | None:
    """The digest a body is compared by: its own when long, the recorded one when elided."""
    if len(body) > ELIDE_OVER:
        return hashlib.sha256(body).hexdigest()
    match = _ELIDED.match(body.decode("latin-1")) if len(body) < 200 else None
    return match.group(2) if match else None


def pack_body(data: bytes | str | None) -> dict[str, Any]:
    """A response (or delivery) body as the file holds it."""
    if data is None:
        return {"string": ""}
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        return {"string": data}
    if text[:1] in ("{", "["):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if parsed is not None:
            for style, dump in _STYLES.items():
                if dump(parsed) == text:
                    return {"style": style, "json": json.dumps(parsed, indent=2, ensure_ascii=False)}
    return {"string": text}


def unpack_body(body: Mapping[str, Any]) -> bytes:
    if "json" in body:
        return _STYLES[str(body.get("style", "compact"))](json.loads(body["json"])).encode("utf-8")
    value = body.get("string")
    if value is None:
        return b""
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def before_save(request: Any, response: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """vcrpy's before_save_interaction hook: the file's shape, from what vcrpy holds."""
    body = request.body
    form = "x-www-form-urlencoded" in str(request.headers.get("Content-Type", "")).lower()
    if isinstance(body, bytes) and len(body) > ELIDE_OVER:
        request.body = elided(body)
    elif isinstance(body, bytes) and form and len(body) > VALUE_LIMIT:
        text = body.decode("latin-1")
        request.body = _elided_pairs(text).encode("latin-1")
    request.uri = elided_uri(str(request.uri))
    request.headers = {k: v for k, v in request.headers.items() if k.lower() not in TRANSPORT_HEADERS}
    string = response.get("body", {}).get("string")
    response["body"] = pack_body(string)
    response["headers"] = {k: v for k, v in response.get("headers", {}).items() if k.lower() not in TRANSPORT_HEADERS}
    return request, response


def after_load(request: Any, response: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """vcrpy's after_load_interaction hook: bodies back to the bytes the server sent."""
    body = response.get("body")
    if isinstance(body, Mapping) and "json" in body:
        response["body"] = {"string": unpack_body(body)}
    return request, response


_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-\[\]]+")


def cassette_name(nodeid: str, taken: Iterable[str] = ()) -> str:
    """A relative file name for a test's cassette: `<module>/<test>.yaml`, readable and unique."""
    module, _, name = nodeid.partition("::")
    stem = module.rsplit("/", 1)[-1].removesuffix(".py")
    clean = _UNSAFE.sub("_", name.replace("::", ".")).strip("_")[:100] or "test"
    path = f"{stem}/{clean}.yaml"
    if path in set(taken) or clean != name.replace("::", "."):
        path = f"{stem}/{clean}-{hashlib.sha256(nodeid.encode()).hexdigest()[:8]}.yaml"
    return path
