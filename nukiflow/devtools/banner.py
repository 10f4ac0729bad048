"""Internal: what ``nukiflow dev`` prints once everything runs: where each part listens, the
fake cloud's token and locks, and what to type next."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from nukiflow.settings import Settings


@dataclass(frozen=True)
class DevBanner:
    """The facts the banner shows, as plain values."""

    temporal_address: str
    namespace: str
    task_queue: str
    ui_url: str | None
    nuki_url: str
    nuki_token: str
    fake_cloud: bool
    locks: tuple[int, ...]
    codec_endpoint: str | None
    state_dir: Path | None
    # The webhook receiver's URL (None: none runs) and the features the fake cloud was
    # registered for (None: not registered, a real Nuki API).
    webhook_url: str | None = None
    webhook_features: tuple[str, ...] | None = None


def print_dev_banner(console: Console, banner: DevBanner) -> None:
    console.print("[bold green]nukiflow dev is ready[/] (Ctrl-C stops everything)")
    console.print(
        f"  Temporal   [bold]{banner.temporal_address}[/]  namespace {banner.namespace}, "
        f"task queue {banner.task_queue}"
    )
    if banner.ui_url:
        console.print(f"  Web UI     [link={banner.ui_url}]{banner.ui_url}[/link]")
    if banner.fake_cloud:
        console.print(
            f"  Nuki API   {banner.nuki_url}  token {banner.nuki_token}  [dim](the fake Nuki "
            "cloud; it starts empty each time)[/]"
        )
        locks = ", ".join(str(lock) for lock in banner.locks) or "none"
        console.print(f"  Locks      {locks}")
    else:
        console.print(
            f"  Nuki API   {banner.nuki_url}  token ****** [dim](the real Nuki Web API)[/]"
        )
    if banner.codec_endpoint is not None:
        console.print(f"  Codec      {banner.codec_endpoint}  [dim](lets the UI decrypt)[/]")
    state_dir = banner.state_dir
    if state_dir is not None:
        console.print(f"  State      {state_dir}  [dim](temporal.db, temporal.log, codec-keys)[/]")
    exports = []
    if banner.temporal_address != Settings.model_fields["temporal_address"].default:
        exports.append(f"NUKIFLOW_TEMPORAL_ADDRESS={banner.temporal_address}")
    if state_dir is not None and state_dir != Settings.model_fields["state_dir"].default.resolve():
        exports.append(f"NUKIFLOW_STATE_DIR={state_dir}")
    if banner.ui_url:
        # The links the command line prints (``dev`` also records it in the state directory).
        exports.append(f"NUKIFLOW_UI_URL={banner.ui_url}")
    if exports:
        console.print(f"  In another terminal first: [bold]export {' '.join(exports)}[/]")
    if banner.locks:
        lock = banner.locks[0]
        console.print(
            f"  Try:       nukiflow auth create {lock} --name guest --code 535353"
            f"   ·   nukiflow unlock {lock}   ·   nukiflow status"
        )
    if banner.webhook_url is None:
        return
    if banner.webhook_features is not None:
        note = f"registered with the fake cloud: {', '.join(banner.webhook_features)}"
    else:
        note = "verifies with NUKIFLOW_WEBHOOK_SECRETS; register your public https URL"
    console.print(f"  Webhooks   {banner.webhook_url}  [dim]({note})[/]")
