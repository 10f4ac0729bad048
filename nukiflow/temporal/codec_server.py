"""Internal: the codec server: lets the Temporal UI and CLI show nukiflow's encrypted payloads.

It speaks Temporal's codec server protocol: ``POST …/decode`` and ``POST …/encode`` take a
``Payloads`` message as protobuf JSON and answer the same; only the last path segment counts,
so the endpoint may be mounted under any prefix (``http://host:8081/{namespace}`` works too).

Who may decrypt:

- With a token (``NUKIFLOW_CODEC_SERVER_TOKEN``), every ``/encode`` and ``/decode`` needs
  ``Authorization: Bearer <token>`` (401 otherwise, compared in constant time). The
  ``temporal`` CLI sends it with ``--codec-auth "Bearer <token>"``. The Temporal UI cannot send
  a fixed token (it only forwards its users' own OIDC token, ``passAccessToken``): put a proxy
  that authenticates UI users and adds the header in front, or use the next mode.
- Without a token the server refuses to listen anywhere but loopback, and then answers only
  requests addressed to a loopback host name (no DNS rebinding). That is the setting of
  ``nukiflow dev``: the dev UI cannot send a token, and whoever can reach a loopback port can
  read the dev key file anyway.
- ``NUKIFLOW_CODEC_SERVER_ANONYMOUS=true`` serves without a token beyond loopback, for a server
  that only allowed users can reach (behind an authenticating proxy, on a private network, a
  port published on the host's loopback). An explicit choice, printed at start.
- Browsers may call it only from the configured origins (CORS; the Temporal UI's origin). The
  endpoints take ``application/json`` only, so every cross-origin browser call is preflighted
  and other origins are turned away before anything is decrypted.

The server never logs payloads or the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
from collections.abc import Sequence
from types import TracebackType

from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payloads

from nukiflow.settings import Settings
from nukiflow.temporal.asgi import EmbeddedServer
from nukiflow.temporal.codec import CodecConfigError, CodecError, EncryptionCodec, Keyring

log = logging.getLogger("nukiflow.temporal.codec_server")

DEFAULT_PORT = 8081
# The UI decodes a page of events at a time; a payload is at most 2 MB in Temporal.
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
_ALLOWED_HEADERS = ["Authorization", "Content-Type", "X-Namespace"]


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _unauthorized(error: str, description: str) -> Response:
    return JSONResponse(
        {"error": error, "message": description},
        status_code=401,
        headers={"WWW-Authenticate": f'Bearer realm="nukiflow-codec", error="{error}"'},
    )


def _bearer_token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def create_app(
    keys: Keyring,
    *,
    cors_origins: Sequence[str] = (),
    token: str | None = None,
    allowed_hosts: Sequence[str] | None = LOOPBACK_HOSTS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> Starlette:
    """The codec server as an ASGI app (serve it with any ASGI server).

    ``token=None`` means no bearer check. ``allowed_hosts`` are the ``Host`` names answered
    (``None``: any); by default loopback names only, which is right for a token-less server
    (:class:`CodecServer` chooses it that way).
    """
    # Unencrypted payloads are shown as they are (the UI asks for whatever it displays).
    codec = EncryptionCodec(keys, allow_plaintext=True)
    expected = token.encode("utf-8") if token else None

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def endpoint(request: Request) -> Response:
        if expected is not None:
            given = _bearer_token(request)
            if given is None:
                return _unauthorized("invalid_request", "send Authorization: Bearer <token>")
            if not hmac.compare_digest(given.encode("utf-8"), expected):
                return _unauthorized("invalid_token", "the codec server token is not valid")
        operation = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        if operation not in ("encode", "decode"):
            return PlainTextResponse("use POST …/encode or …/decode", status_code=404)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return PlainTextResponse("send Payloads as application/json", status_code=415)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body_bytes:
                return PlainTextResponse("request too large", status_code=413)
        payloads = Payloads()
        try:
            # Newer UIs and CLIs may send fields this protobuf does not know: ignore them.
            json_format.Parse(bytes(body), payloads, ignore_unknown_fields=True)
        except (json_format.ParseError, UnicodeDecodeError):
            return PlainTextResponse("the body is not Payloads protobuf JSON", status_code=400)
        try:
            if operation == "decode":
                result = codec.decrypt(payloads.payloads)
            else:
                result = codec.encrypt(payloads.payloads)
        except CodecError as exc:
            # Messages name key ids only; see nukiflow.temporal.codec.
            log.warning("%s failed: %s", operation, exc)
            return PlainTextResponse(str(exc), status_code=400)
        log.debug(
            "%s %d payloads (namespace %s)",
            operation,
            len(result),
            request.headers.get("x-namespace", "?"),
        )
        return Response(
            json_format.MessageToJson(Payloads(payloads=result)),
            media_type="application/json",
        )

    middleware = [
        Middleware(
            CORSMiddleware,
            allow_origins=[origin.rstrip("/") for origin in cors_origins],
            allow_methods=["POST"],
            allow_headers=_ALLOWED_HEADERS,
            allow_credentials=True,
            allow_private_network=True,
            max_age=600,
        )
    ]
    if allowed_hosts is not None:
        middleware.insert(0, Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    return Starlette(
        routes=[
            Route("/healthz", health, methods=["GET"]),
            Route("/{path:path}", endpoint, methods=["POST"]),
        ],
        middleware=middleware,
    )


def _check_exposure(host: str, token: str | None, anonymous: bool) -> None:
    if token is None and not anonymous and not is_loopback(host):
        raise CodecConfigError(
            f"the codec server would decrypt for anyone who reaches {host}: set "
            "NUKIFLOW_CODEC_SERVER_TOKEN (or _FILE), listen on 127.0.0.1 only, or, if only "
            "allowed users can reach it, set NUKIFLOW_CODEC_SERVER_ANONYMOUS=true"
        )


class CodecServer:
    """The codec server inside the caller's event loop: ``async with CodecServer(...) as s``.

    ``port=0`` picks a free port; :attr:`endpoint` is then what to give the Temporal UI
    (``temporal server start-dev --ui-codec-endpoint``) or CLI (``--codec-endpoint``).
    Without ``token`` it listens on loopback only, unless ``anonymous`` says that the network
    in front of it lets only allowed users through (see the module docstring).
    """

    def __init__(
        self,
        keys: Keyring,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        cors_origins: Sequence[str] = (),
        token: str | None = None,
        anonymous: bool = False,
    ) -> None:
        _check_exposure(host, token, anonymous)
        self.host = host
        self.port = port
        self.keys = keys
        self.token = token
        self.anonymous = anonymous and token is None
        loopback_only = token is None and not anonymous
        self.app = create_app(
            keys,
            cors_origins=cors_origins,
            token=token,
            allowed_hosts=LOOPBACK_HOSTS if loopback_only else None,
        )
        self._server = EmbeddedServer(self.app, host, port, name="nukiflow-codec-server")

    @property
    def endpoint(self) -> str:
        return self._server.base_url

    async def start(self) -> None:
        """Returns once the server listens; ``port`` then holds the real port."""
        await self._server.start()
        self.port = self._server.port

    async def stop(self) -> None:
        await self._server.stop()

    async def __aenter__(self) -> CodecServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


def server_from_settings(
    settings: Settings, *, host: str | None = None, port: int | None = None
) -> CodecServer:
    """A :class:`CodecServer` as ``NUKIFLOW_CODEC_*`` describe it (raises if misconfigured)."""
    return CodecServer(
        settings.keyring(),
        host=settings.codec_server_host if host is None else host,
        port=settings.codec_server_port if port is None else port,
        cors_origins=settings.cors_origins,
        token=settings.codec_token(),
        anonymous=settings.codec_server_anonymous,
    )


def describe_auth(server: CodecServer) -> str:
    if server.token:
        return "bearer token required"
    if server.anonymous:
        return "none (NUKIFLOW_CODEC_SERVER_ANONYMOUS: whoever reaches it can decrypt)"
    return "none, loopback only (set NUKIFLOW_CODEC_SERVER_TOKEN to require a token)"


async def _serve_forever(server: CodecServer) -> None:
    async with server:
        keys = server.keys
        print(f"nukiflow codec server on {server.endpoint}", flush=True)
        print(f"keys: {', '.join(keys.key_ids)} (current: {keys.current.key_id})", flush=True)
        print(f"auth: {describe_auth(server)}", flush=True)
        await asyncio.Event().wait()  # until cancelled by Ctrl+C


def run_server(server: CodecServer) -> None:
    """Serve ``server`` until Ctrl+C."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(server))


def serve(
    host: str,
    port: int,
    keys: Keyring,
    cors_origins: Sequence[str] = (),
    token: str | None = None,
    *,
    anonymous: bool = False,
) -> None:
    """Serve until interrupted (``nukiflow codec-server``). Raises CodecConfigError first if a
    token-less server would listen beyond loopback without ``anonymous``."""
    run_server(
        CodecServer(
            keys, host=host, port=port, cors_origins=cors_origins, token=token, anonymous=anonymous
        )
    )


def serve_from_settings(
    settings: Settings, *, host: str | None = None, port: int | None = None
) -> None:
    """``nukiflow codec-server``: serve as the settings say until interrupted."""
    run_server(server_from_settings(settings, host=host, port=port))
